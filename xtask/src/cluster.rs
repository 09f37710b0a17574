//! `cargo xtask cluster`: a local cluster from the `Procfile`, as etcd's goreman
//! setup. Builds `cairn` in release, starts every line with `cairn` on PATH and
//! each output line prefixed by its name, and stops them all when one exits or
//! on Ctrl-C (which the terminal delivers to the members too).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use anyhow::{Context, Result, bail};

use crate::{cargo, root, run, target_dir};

/// One `name: command` line of a Procfile.
#[derive(Debug, PartialEq, Eq)]
pub struct Process {
    /// The name before the colon.
    pub name: String,
    /// The shell command after it.
    pub command: String,
}

/// Parses a Procfile: `name: command` lines; blank lines and `#` comments skipped.
pub fn parse_procfile(text: &str) -> Result<Vec<Process>> {
    let mut processes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, command) = line.split_once(':').with_context(|| format!("Procfile line {}: no `name:`", n + 1))?;
        processes.push(Process { name: name.trim().to_string(), command: command.trim().to_string() });
    }
    if processes.is_empty() {
        bail!("the Procfile names no process");
    }
    Ok(processes)
}

struct Running {
    name: String,
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the cluster until a member exits or the user interrupts.
pub fn cluster() -> Result<()> {
    run("build cairn (release)", cargo(&["build", "--release", "-p", "cairn-server", "--bin", "cairn"]))?;
    let procfile = root().join("Procfile");
    let text = std::fs::read_to_string(&procfile).with_context(|| format!("cannot read {}", procfile.display()))?;
    let processes = parse_procfile(&text)?;
    std::fs::create_dir_all(root().join(".cluster"))?;
    let bin_dir = target_dir().join("release");
    let path = match std::env::var_os("PATH") {
        Some(path) => {
            let mut dirs = vec![bin_dir];
            dirs.extend(std::env::split_paths(&path));
            std::env::join_paths(dirs)?
        }
        None => bin_dir.into_os_string(),
    };
    let (lines_tx, lines_rx) = mpsc::channel::<(String, Option<String>)>();
    let mut running = Vec::new();
    let width = processes.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for process in processes {
        let mut child = Command::new("sh")
            .args(["-c", &format!("exec {}", process.command)])
            .current_dir(root())
            .env("PATH", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", process.name))?;
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (tx, name) = (lines_tx.clone(), process.name.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send((name.clone(), Some(line)));
                }
                let _ = tx.send((name, None));
            });
        }
        eprintln!("{:width$} | started (pid {})", process.name, child.id());
        running.push(Running { name: process.name, child });
    }
    drop(lines_tx);
    // Each member has two output streams; the cluster stops when one member ends.
    while let Ok((name, line)) = lines_rx.recv() {
        match line {
            Some(line) => println!("{name:width$} | {line}"),
            None => {
                if let Some(member) = running.iter_mut().find(|r| r.name == name)
                    && let Ok(Some(status)) = member.child.try_wait()
                {
                    eprintln!("{name:width$} | exited ({status}); stopping the cluster");
                    break;
                }
            }
        }
    }
    drop(running);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_procfile() {
        let text = std::fs::read_to_string(root().join("Procfile")).expect("the repo's Procfile");
        let processes = parse_procfile(&text).expect("valid");
        let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["infra1", "infra2", "infra3"]);
        assert!(processes[1].command.contains("http://127.0.0.1:12379"));
        assert!(parse_procfile("# nothing\n").is_err());
    }
}

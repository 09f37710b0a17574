//! A progress bar on stderr, redrawn in place with `\r` while a phase runs
//! (etcd's `pb` bar). Drawn only when stderr is a terminal, so logs and
//! `cargo xtask bench-compare` captures stay clean.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const WIDTH: usize = 40;
const REDRAW: Duration = Duration::from_millis(200);

/// Counts finished requests and draws them against an expected total.
#[derive(Debug, Clone)]
pub struct Progress {
    done: Arc<AtomicU64>,
    total: u64,
}

/// Stops drawing when dropped, after drawing the final state.
pub struct Drawing {
    progress: Progress,
    task: Option<tokio::task::JoinHandle<()>>,
    started: Instant,
}

impl Progress {
    /// A bar for `total` steps, drawn until the returned guard is dropped.
    pub fn start(total: u64) -> (Progress, Drawing) {
        let progress = Progress { done: Arc::new(AtomicU64::new(0)), total };
        let started = Instant::now();
        let task = std::io::stderr().is_terminal().then(|| {
            let progress = progress.clone();
            tokio::spawn(async move {
                loop {
                    progress.draw(started.elapsed());
                    tokio::time::sleep(REDRAW).await;
                }
            })
        });
        (progress.clone(), Drawing { progress, task, started })
    }

    /// One more step done.
    pub fn tick(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` more steps done.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn draw(&self, elapsed: Duration) {
        eprint!("\r{}", line(self.done.load(Ordering::Relaxed), self.total, elapsed));
        let _ = std::io::stderr().flush();
    }
}

impl Drop for Drawing {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            self.progress.draw(self.started.elapsed());
            eprintln!();
        }
    }
}

/// ` 512 / 1000 [====================>                   ]  51.20% 3s`
fn line(done: u64, total: u64, elapsed: Duration) -> String {
    let done = done.min(total);
    let fraction = if total == 0 { 1.0 } else { done as f64 / total as f64 };
    let filled = (fraction * WIDTH as f64) as usize;
    let bar = match filled {
        0 => " ".repeat(WIDTH),
        n if n >= WIDTH => "=".repeat(WIDTH),
        n => format!("{}>{}", "=".repeat(n - 1), " ".repeat(WIDTH - n)),
    };
    format!(" {done} / {total} [{bar}] {:6.2}% {}s", fraction * 100.0, elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shapes() {
        let half = line(50, 100, Duration::from_secs(3));
        assert_eq!(half, format!(" 50 / 100 [{}>{}]  50.00% 3s", "=".repeat(19), " ".repeat(20)));
        assert!(line(0, 100, Duration::ZERO).contains(&format!("[{}]", " ".repeat(WIDTH))));
        assert!(line(200, 100, Duration::ZERO).starts_with(" 100 / 100 ["));
        assert!(line(0, 0, Duration::ZERO).contains("100.00%"));
    }
}

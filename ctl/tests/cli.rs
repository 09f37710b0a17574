//! cairnctl's command line without a server: argument errors come before any connection, with
//! etcdctl's messages and exit codes. (Everything that talks to a server is compared with the
//! real etcdctl in the workspace's `tests/` crate.)

use std::process::{Command, Output, Stdio};

fn cairnctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairnctl"))
        .args(args)
        .env_remove("ETCDCTL_API")
        .env_remove("ETCDCTL_ENDPOINTS")
        .env_remove("CAIRNCTL_ENDPOINTS")
        .stdin(Stdio::null())
        .output()
        .expect("run cairnctl")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn arguments_are_checked_before_connecting() {
    // A closed port: any attempt to connect would wait for the command timeout instead.
    let out = cairnctl(&["--endpoints=127.0.0.1:1", "get"]);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert_eq!(stderr(&out), "Error: get command needs one argument as key and an optional argument as range_end\n");

    let out = cairnctl(&["--endpoints=127.0.0.1:1", "put", "k", "v", "--lease=zz"]);
    assert_eq!(out.status.code(), Some(128));
    assert_eq!(
        stderr(&out),
        "Error: bad lease ID (strconv.ParseInt: parsing \"zz\": invalid syntax), expecting ID in Hex\n"
    );
}

#[test]
fn an_unknown_output_format_is_refused() {
    let out = cairnctl(&["--endpoints=127.0.0.1:1", "-w", "yaml", "get", "foo"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(stderr(&out), "Error: unsupported output format\n");
}

#[test]
fn an_unknown_flag_fails_as_cobra_words_it() {
    let out = cairnctl(&["get", "foo", "--bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "Error: unknown flag: --bogus\n");
}

#[test]
fn an_unreachable_endpoint_times_out_like_etcdctl() {
    let out = cairnctl(&["--endpoints=127.0.0.1:1", "--command-timeout=300ms", "get", "foo"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.ends_with("Error: context deadline exceeded\n"), "{text}");
    assert!(text.contains("\"msg\":\"retrying of unary invoker failed\""), "{text}");
}

#[test]
fn an_unsupported_api_version_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_cairnctl"))
        .arg("get")
        .env("ETCDCTL_API", "4")
        .stdin(Stdio::null())
        .output()
        .expect("run cairnctl");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "unsupported API version 4\n");
}

#[test]
fn cairnctl_variables_stand_in_for_etcdctls() {
    let out = Command::new(env!("CARGO_BIN_EXE_cairnctl"))
        .args(["get", "foo"])
        .env_remove("ETCDCTL_WRITE_OUT")
        .env("CAIRNCTL_WRITE_OUT", "yaml")
        .stdin(Stdio::null())
        .output()
        .expect("run cairnctl");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(stderr(&out), "Error: unsupported output format\n");
}

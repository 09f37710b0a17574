//! etcdctl's v2 mode (`ETCDCTL_API=2`) (not built yet).

/// Runs a v2 command line; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    eprintln!("v2 commands are not implemented yet ({args:?})");
    1
}

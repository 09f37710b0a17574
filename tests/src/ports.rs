//! Picking free TCP ports on 127.0.0.1.

use std::net::TcpListener;

/// Returns `n` distinct ports that were free on 127.0.0.1 a moment ago.
///
/// All listeners are held until every port is read, so the ports are distinct; they are released
/// before returning, so another process may take one first: callers retry the whole start when a
/// server reports a bind conflict.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to pick a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local address of a bound listener").port()).collect()
}

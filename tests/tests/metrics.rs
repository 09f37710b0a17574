//! `/metrics` on the client port: valid Prometheus text (checked by `cairn_tests::prom`), with
//! etcd's main metric names and types (compared with a real etcd 3.4's page), and counters that
//! move when requests are served.

use cairn_tests::{Kind, Server, etcdctl, prom};

fn metrics(server: &Server) -> prom::Page {
    let out = std::process::Command::new("curl")
        .args(["-s", "-S", "--max-time", "10", &format!("http://{}/metrics", server.endpoint())])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);
    prom::parse(&text)
        .unwrap_or_else(|e| panic!("{:?} /metrics is not valid Prometheus text: {e}\n{text}", server.kind()))
}

/// The metric families dashboards and alerts made for etcd use, with etcd's types (a single
/// member has no `etcd_network_peer_round_trip_time_seconds`: see the cluster test).
const FAMILIES: &[(&str, &str)] = &[
    ("etcd_server_has_leader", "gauge"),
    ("etcd_server_is_leader", "gauge"),
    ("etcd_server_leader_changes_seen_total", "counter"),
    ("etcd_server_proposals_committed_total", "gauge"),
    ("etcd_server_proposals_applied_total", "gauge"),
    ("etcd_server_proposals_pending", "gauge"),
    ("etcd_server_proposals_failed_total", "counter"),
    ("etcd_disk_wal_fsync_duration_seconds", "histogram"),
    ("etcd_disk_backend_commit_duration_seconds", "histogram"),
    ("etcd_mvcc_db_total_size_in_bytes", "gauge"),
    ("grpc_server_started_total", "counter"),
    ("grpc_server_handled_total", "counter"),
];

#[test]
fn metrics_are_valid_and_named_as_etcds() {
    let (etcd, cairn) = std::thread::scope(|s| {
        let etcd = s.spawn(|| Server::start(Kind::Etcd));
        let cairn = s.spawn(|| Server::start(Kind::Cairn));
        (etcd.join().expect("etcd starts"), cairn.join().expect("cairn starts"))
    });
    for server in [&etcd, &cairn] {
        let put = etcdctl(&server.endpoint(), &["put", "warm", "up"], None);
        assert!(put.success(), "{put:?}");
        let page = metrics(server);
        for (name, kind) in FAMILIES {
            assert_eq!(page.types.get(*name).map(String::as_str), Some(*kind), "{:?}: type of {name}", server.kind());
        }
        assert_eq!(page.sum("etcd_server_has_leader", &[]), 1.0, "{:?}", server.kind());
        let vars = std::process::Command::new("curl")
            .args(["-s", "-S", "--max-time", "10", &format!("http://{}/debug/vars", server.endpoint())])
            .output()
            .expect("run curl");
        let vars: serde_json::Value = serde_json::from_slice(&vars.stdout).expect("/debug/vars is JSON");
        assert!(vars["cmdline"].is_array(), "{:?}: {vars}", server.kind());
        assert_eq!(vars["raft.status"]["raftState"], "StateLeader", "{:?}: {vars}", server.kind());
    }
}

#[test]
fn counters_move_when_requests_are_served() {
    let server = Server::start(Kind::Cairn);
    let before = metrics(&server);
    for i in 0..5 {
        let put = etcdctl(&server.endpoint(), &["put", &format!("k{i}"), "v"], None);
        assert!(put.success(), "{put:?}");
    }
    let get = etcdctl(&server.endpoint(), &["get", "nothing-here", "--rev", "1000"], None);
    assert!(!get.success(), "a future revision is an error: {get:?}");
    let after = metrics(&server);
    let moved = |name: &str, labels: &[(&str, &str)]| after.sum(name, labels) - before.sum(name, labels);
    let put = [("grpc_service", "etcdserverpb.KV"), ("grpc_method", "Put")];
    assert_eq!(moved("grpc_server_started_total", &put), 5.0);
    assert_eq!(moved("grpc_server_handled_total", &[put[0], put[1], ("grpc_code", "OK")]), 5.0);
    let range = [("grpc_method", "Range"), ("grpc_code", "OutOfRange")];
    assert_eq!(moved("grpc_server_handled_total", &range), 1.0, "the failed range is counted with its code");
    assert!(moved("etcd_server_proposals_committed_total", &[]) >= 5.0);
    assert!(moved("etcd_server_proposals_applied_total", &[]) >= 5.0);
    assert!(moved("etcd_disk_wal_fsync_duration_seconds_count", &[]) >= 1.0);
    assert!(moved("etcd_disk_backend_commit_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(after.sum("etcd_server_proposals_pending", &[]), 0.0);
    assert!(after.sum("etcd_mvcc_db_total_size_in_bytes", &[]) > 0.0);
}

/// In a cluster each member probes its peers: the round-trip histogram has a series per peer.
#[test]
fn peer_round_trips_are_measured_in_a_cluster() {
    let mut cluster = cairn_tests::Cluster::start(Kind::Cairn, 3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = metrics(cluster.member(0));
        let peers: std::collections::BTreeSet<String> = page
            .samples
            .iter()
            .filter(|s| s.name == "etcd_network_peer_round_trip_time_seconds_count" && s.value > 0.0)
            .filter_map(|s| s.labels.get("To").cloned())
            .collect();
        if peers.len() == 2 {
            assert_eq!(page.types["etcd_network_peer_round_trip_time_seconds"], "histogram");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "peers probed so far: {peers:?}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

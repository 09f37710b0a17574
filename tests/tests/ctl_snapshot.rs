//! cairnctl's `snapshot`: `save` prints and logs what etcdctl 3.4 does (after normalization),
//! against cairn and against etcd, with etcdctl's argument checks; `status` and `restore` read
//! cairn's snapshot format offline (etcdctl reads only etcd's bolt files), so they are checked by
//! their results: the status of a saved snapshot, and members started on restored data
//! directories that serve the snapshot's data with their new membership.

use std::path::Path;
use std::time::Duration;

use cairn_tests::restore::{RestoredMember, RestoredSpec};
use cairn_tests::{Differ, Etcdctl, Kind, Output, Server, cairnctl_bin, free_ports};

fn save(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "a", "1"]);
    d.run(&["put", "b", "2"]);
    d.run(&["del", "a"]);
    d.run(&["snapshot", "save", "snap.db"]).expect_etcd("Snapshot saved at snap.db");
    d.run(&["snapshot", "save", "snap.db", "-w", "json"]).expect_etcd("Snapshot saved at snap.db");
    d.run(&["snapshot", "save", "--command-timeout=10s", "snap2.db"]).expect_etcd("Snapshot saved at snap2.db");
    d.run(&["snapshot", "save"]).expect_etcd("snapshot save expects one argument");
    d.run(&["snapshot", "save", "a.db", "b.db"]).expect_etcd("snapshot save expects one argument");
    d.run(&["snapshot", "save", "/nonexistent/x.db"]).expect_etcd("could not open /nonexistent/x.db.part");
    d.run(&["--endpoints=$ENDPOINT,$ENDPOINT", "snapshot", "save", "x.db"]).expect_etcd("not multiple");
    d.run(&["snapshot", "status"]).expect_etcd("snapshot status requires exactly one argument");
    d.run(&["snapshot", "status", "nope.db"]).expect_etcd("stat nope.db: no such file or directory");
    d.run(&["snapshot", "restore"]).expect_etcd("snapshot restore requires exactly one argument");
    d.run(&["snapshot", "restore", "snap.db", "--name", "x"]).expect_etcd("couldn't find local name \"x\"");
    d.run(&["snapshot", "restore", "snap.db", "--initial-advertise-peer-urls=foo"]).expect_etcd("URL scheme must be");
    d.run(&["snapshot", "restore", "snap.db", "--initial-advertise-peer-urls=http://127.0.0.1:9"])
        .expect_etcd("missing from --initial-advertise-peer-urls");
    d.run(&["snapshot", "restore", "snap.db", "--data-dir", "."]).expect_etcd("data-dir \".\" exists");
    d.finish();
}

#[test]
fn save_against_cairn() {
    save(Kind::Cairn);
}

#[test]
fn save_against_etcd() {
    save(Kind::Etcd);
}

fn cairnctl(endpoint: &str, cwd: &Path, args: &[&str]) -> Output {
    Etcdctl::new(endpoint).program(cairnctl_bin()).cwd(cwd).run(args)
}

fn etcdctl(endpoint: &str, args: &[&str]) -> Output {
    Etcdctl::new(endpoint).run(args)
}

#[track_caller]
fn ok(out: Output) -> Output {
    assert!(out.success(), "failed: {}{}", out.stdout, out.stderr);
    out
}

/// The `"kvs":[...]` of a `get -w json`, the part a restored member must serve unchanged.
fn kvs(json: &str) -> String {
    let at = json.find("\"kvs\"").unwrap_or_else(|| panic!("no kvs in {json}"));
    json[at..].to_owned()
}

/// A cairn member with some history (puts, a delete, a user), and a snapshot of it saved by
/// cairnctl into `dir`; returns the member, the snapshot path and what `get --from-key` served.
fn saved_snapshot(dir: &Path) -> (Server, String, String) {
    let server = Server::start(Kind::Cairn);
    let ep = server.endpoint();
    for (k, v) in [("a", "1"), ("b", "2"), ("c/1", "3"), ("a", "4")] {
        ok(etcdctl(&ep, &["put", k, v]));
    }
    ok(etcdctl(&ep, &["del", "b"]));
    ok(etcdctl(&ep, &["user", "add", "alice:pw"]));
    let before = ok(etcdctl(&ep, &["get", "", "--from-key", "-w", "json"])).stdout;
    let saved = ok(cairnctl(&ep, dir, &["snapshot", "save", "snap.db"]));
    assert_eq!(saved.stdout, "Snapshot saved at snap.db\n");
    assert!(saved.stderr.contains("\"msg\":\"saved\""), "{}", saved.stderr);
    (server, dir.join("snap.db").to_string_lossy().into_owned(), before)
}

#[test]
fn status_reports_the_snapshots_revision_and_detects_damage() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (server, snap, _) = saved_snapshot(dir.path());
    let ep = server.endpoint();
    let json = ok(cairnctl(&ep, dir.path(), &["snapshot", "status", &snap, "-w", "json"])).stdout;
    let value: serde_json::Value = serde_json::from_str(&json).expect("status -w json is JSON");
    // Four puts and a delete after revision 1.
    assert_eq!(value["revision"], 6, "{json}");
    assert!(value["totalKey"].as_u64().is_some_and(|n| n >= 5), "{json}");
    let (hash, size) = (value["hash"].as_u64().expect("a hash"), value["totalSize"].as_u64().expect("a size"));
    let simple = ok(cairnctl(&ep, dir.path(), &["snapshot", "status", &snap])).stdout;
    let fields: Vec<&str> = simple.trim_end().split(", ").collect();
    assert_eq!(fields.len(), 4, "{simple}");
    assert_eq!((fields[0], fields[1]), (format!("{hash:x}").as_str(), "6"), "{simple}");
    let table = ok(cairnctl(&ep, dir.path(), &["snapshot", "status", &snap, "-w", "table"])).stdout;
    assert!(table.contains("| TOTAL SIZE |") && table.contains(&format!("{hash:x}")), "{table}");
    let fields = ok(cairnctl(&ep, dir.path(), &["snapshot", "status", &snap, "-w", "fields"])).stdout;
    assert!(fields.starts_with(&format!("\"Hash\" : {hash}\n\"Revision\" : 6\n")), "{fields}");
    assert!(fields.ends_with(&format!("\"Size\" : {size}\n")), "{fields}");
    let pb = cairnctl(&ep, dir.path(), &["snapshot", "status", &snap, "-w", "protobuf"]);
    assert_eq!((pb.status, pb.stderr.as_str()), (Some(4), "Error: protobuf not supported as output format\n"));

    // A flipped byte: restore refuses the digest, status the stream's own checksum.
    let mut bytes = std::fs::read(&snap).expect("read the snapshot");
    bytes[20] ^= 0xff;
    std::fs::write(dir.path().join("bad.db"), &bytes).expect("write a damaged copy");
    let status = cairnctl(&ep, dir.path(), &["snapshot", "status", "bad.db"]);
    assert_eq!(status.status, Some(1), "{}", status.stderr);
    let restore = cairnctl(&ep, dir.path(), &["snapshot", "restore", "bad.db", "--data-dir", "r"]);
    assert!(restore.stderr.contains("Error: expected sha256 ["), "{}", restore.stderr);
    assert!(!dir.path().join("r").exists());
    // Without its digest, restore needs --skip-hash-check.
    std::fs::write(dir.path().join("nohash.db"), &std::fs::read(&snap).expect("read")[..bytes.len() - 32])
        .expect("write");
    let restore = cairnctl(&ep, dir.path(), &["snapshot", "restore", "nohash.db", "--data-dir", "r"]);
    assert!(restore.stderr.contains("Error: snapshot missing hash but --skip-hash-check=false"), "{}", restore.stderr);
    ok(cairnctl(&ep, dir.path(), &["snapshot", "restore", "nohash.db", "--data-dir", "r", "--skip-hash-check"]));
    assert!(dir.path().join("r/member/db").is_dir() && dir.path().join("r/member/raft").is_dir());
}

#[test]
fn a_member_restored_from_a_snapshot_serves_its_data_as_a_new_cluster() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (server, snap, before) = saved_snapshot(dir.path());
    let ports = free_ports(2);
    let spec = RestoredSpec { name: "restored".to_owned(), client_port: ports[0], peer_port: ports[1] };
    let cluster = format!("restored={}", spec.peer_url());
    let data_dir = dir.path().join("restored.data");
    let args = [
        "snapshot",
        "restore",
        &snap,
        "--data-dir",
        &data_dir.to_string_lossy(),
        "--name",
        "restored",
        "--initial-cluster",
        &cluster,
        "--initial-advertise-peer-urls",
        &spec.peer_url(),
        "--initial-cluster-token",
        "restored-token",
    ]
    .map(str::to_owned);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ok(cairnctl(&server.endpoint(), dir.path(), &args));
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("\"msg\":\"restored snapshot\""), "{}", out.stderr);
    let again = cairnctl(&server.endpoint(), dir.path(), &args);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    drop(server);

    let mut member = RestoredMember::spawn(Kind::Cairn, &data_dir, &spec, &cluster, "restored-token");
    member.wait_healthy(Duration::from_secs(20));
    let ep = member.endpoint();
    let after = ok(etcdctl(&ep, &["get", "", "--from-key", "-w", "json"])).stdout;
    assert_eq!(kvs(&after), kvs(&before));
    assert!(after.contains("\"revision\":6,"), "{after}");
    let members = ok(etcdctl(&ep, &["member", "list"])).stdout;
    let line = format!("started, restored, {}, http://{ep}, false", spec.peer_url());
    assert!(members.lines().count() == 1 && members.contains(&line), "{members}");
    assert_eq!(ok(etcdctl(&ep, &["user", "list"])).stdout, "alice\n");
    ok(etcdctl(&ep, &["put", "d", "5"]));
    let get = ok(etcdctl(&ep, &["get", "d", "-w", "json"])).stdout;
    assert!(get.contains("\"mod_revision\":7"), "{get}");
}

#[test]
fn three_members_restored_from_one_snapshot_form_a_cluster() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (server, snap, before) = saved_snapshot(dir.path());
    let specs: Vec<RestoredSpec> = free_ports(6)
        .chunks(2)
        .enumerate()
        .map(|(i, p)| RestoredSpec { name: format!("m{i}"), client_port: p[0], peer_port: p[1] })
        .collect();
    let cluster: Vec<String> = specs.iter().map(|s| format!("{}={}", s.name, s.peer_url())).collect();
    let cluster = cluster.join(",");
    for spec in &specs {
        let data_dir = dir.path().join(&spec.name).to_string_lossy().into_owned();
        let peer = spec.peer_url();
        let args = [
            "snapshot",
            "restore",
            &snap,
            "--data-dir",
            &data_dir,
            "--name",
            &spec.name,
            "--initial-cluster",
            &cluster,
            "--initial-advertise-peer-urls",
            &peer,
        ];
        let out = ok(cairnctl(&server.endpoint(), dir.path(), &args));
        assert_eq!(out.stderr.matches("\"msg\":\"added member\"").count(), 3, "{}", out.stderr);
    }
    drop(server);
    let mut members: Vec<RestoredMember> = specs
        .iter()
        .map(|s| RestoredMember::spawn(Kind::Cairn, &dir.path().join(&s.name), s, &cluster, "etcd-cluster"))
        .collect();
    for member in &mut members {
        member.wait_healthy(Duration::from_secs(30));
    }
    ok(etcdctl(&members[0].endpoint(), &["put", "e", "6"]));
    for member in &members {
        // The snapshot's history is there, and what was written after the restore.
        let at_snapshot = ok(etcdctl(&member.endpoint(), &["get", "", "--from-key", "--rev=6", "-w", "json"])).stdout;
        assert_eq!(kvs(&at_snapshot), kvs(&before));
        let now = ok(etcdctl(&member.endpoint(), &["get", "e"])).stdout;
        assert_eq!(now, "e\n6\n");
        let list = ok(etcdctl(&member.endpoint(), &["member", "list"])).stdout;
        assert_eq!(list.lines().count(), 3, "{list}");
    }
}

//! A 3-member cairn cluster with peer mTLS and client TLS (certificates from a test CA made with
//! the `openssl` tool): etcdctl with `--cacert/--cert/--key` works against every member; a client
//! without a certificate, one with a certificate of another CA, and plain text to the https
//! listener are refused; a member whose certificate is not from the cluster's CA cannot join.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_tests::{cairn_bin, etcdctl_bin, free_ports};

/// Runs `openssl` with `args` in `dir`, panicking with its output if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA (`<name>.crt/.key`).
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
}

/// A certificate for 127.0.0.1 and localhost, for servers and clients, signed by `ca`.
fn leaf(dir: &Path, name: &str, ca: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    std::fs::write(
        dir.join(format!("{name}.ext")),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .expect("write the extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

/// A cairn process, killed by its pid when dropped.
struct Member {
    child: Child,
    client_url: String,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Spec {
    name: String,
    client: u16,
    peer: u16,
}

fn start(dir: &Path, spec: &Spec, cluster: &str, state: &str, cert: &str, ca: &str) -> Member {
    let client_url = format!("https://127.0.0.1:{}", spec.client);
    let peer_url = format!("https://127.0.0.1:{}", spec.peer);
    let path = |file: String| dir.join(file).to_string_lossy().into_owned();
    let log = std::fs::File::create(dir.join(format!("{}.log", spec.name))).expect("create a log file");
    let child = Command::new(cairn_bin())
        .args(["--name", &spec.name, "--data-dir", &path(format!("{}.data", spec.name))])
        .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", cluster, "--initial-cluster-state", state, "--initial-cluster-token", "tls"])
        .args(["--cert-file", &path(format!("{cert}.crt")), "--key-file", &path(format!("{cert}.key"))])
        .args(["--trusted-ca-file", &path(format!("{ca}.crt")), "--client-cert-auth"])
        .args(["--peer-cert-file", &path(format!("{cert}.crt")), "--peer-key-file", &path(format!("{cert}.key"))])
        .args(["--peer-trusted-ca-file", &path(format!("{ca}.crt")), "--peer-client-cert-auth"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log file"))
        .stderr(log)
        .spawn()
        .expect("start cairn");
    Member { child, client_url }
}

/// Runs etcdctl against `endpoint` with `tls` flags.
fn etcdctl(endpoint: &str, tls: &[String], args: &[&str]) -> std::process::Output {
    Command::new(etcdctl_bin())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .args(["--dial-timeout=2s", "--command-timeout=5s"])
        .args(tls)
        .args(args)
        .output()
        .expect("run etcdctl")
}

/// etcdctl against `endpoint` with `tls` flags; (success, stdout + stderr).
fn ctl(endpoint: &str, tls: &[String], args: &[&str]) -> (bool, String) {
    let out = etcdctl(endpoint, tls, args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn tls_flags(dir: &Path, ca: &str, cert: Option<&str>) -> Vec<String> {
    let path = |file: String| dir.join(file).to_string_lossy().into_owned();
    let mut flags = vec![format!("--cacert={}", path(format!("{ca}.crt")))];
    if let Some(cert) = cert {
        flags.push(format!("--cert={}", path(format!("{cert}.crt"))));
        flags.push(format!("--key={}", path(format!("{cert}.key"))));
    }
    flags
}

fn log_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

#[test]
fn a_cluster_with_peer_mtls_and_client_tls() {
    let tmp = tempfile::Builder::new().prefix("cairn-tls-").tempdir().expect("a temp dir");
    let dir = tmp.path().to_path_buf();
    ca(&dir, "ca");
    ca(&dir, "rogue-ca");
    leaf(&dir, "member", "ca", "member");
    leaf(&dir, "client", "ca", "client");
    leaf(&dir, "rogue", "rogue-ca", "member");

    let ports = free_ports(8);
    let specs: Vec<Spec> =
        (0..3).map(|i| Spec { name: format!("m{i}"), client: ports[2 * i], peer: ports[2 * i + 1] }).collect();
    let cluster: Vec<String> = specs.iter().map(|s| format!("{}=https://127.0.0.1:{}", s.name, s.peer)).collect();
    let cluster = cluster.join(",");
    let members: Vec<Member> = specs.iter().map(|s| start(&dir, s, &cluster, "new", "member", "ca")).collect();
    let good = tls_flags(&dir, "ca", Some("client"));

    // Every member becomes healthy over TLS.
    let deadline = Instant::now() + Duration::from_secs(40);
    for (member, spec) in members.iter().zip(&specs) {
        loop {
            let (ok, out) = ctl(&member.client_url, &good, &["endpoint", "health"]);
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "{} not healthy: {out}\n{}", spec.name, log_of(&dir, &spec.name));
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let (ok, out) = ctl(&members[0].client_url, &good, &["put", "k", "over tls"]);
    assert!(ok, "put: {out}");
    let (ok, out) = ctl(&members[2].client_url, &good, &["get", "k", "--print-value-only"]);
    assert!(ok && out.contains("over tls"), "get through another member: {out}");

    // No client certificate, a certificate of another CA, plain text: refused.
    let (ok, out) = ctl(&members[1].client_url, &tls_flags(&dir, "ca", None), &["get", "k"]);
    assert!(!ok, "a client without a certificate read: {out}");
    let (ok, out) = ctl(&members[1].client_url, &tls_flags(&dir, "ca", Some("rogue")), &["get", "k"]);
    assert!(!ok, "a client with another CA's certificate read: {out}");
    let plain = members[1].client_url.replace("https://", "http://");
    let (ok, out) = ctl(&plain, &[], &["get", "k"]);
    assert!(!ok, "plain text to the https listener read: {out}");
    let curl = Command::new("curl")
        .args(["-s", "-S", "--max-time", "5", &format!("{plain}/version")])
        .output()
        .expect("run curl");
    assert!(
        !curl.status.success() && !String::from_utf8_lossy(&curl.stdout).contains("etcdserver"),
        "plain HTTP was answered: {curl:?}"
    );
    // The peer port serves members with the cluster CA's certificates only.
    let peer_version = |cert: &str| {
        let path = |file: String| dir.join(file).to_string_lossy().into_owned();
        Command::new("curl")
            .args(["-s", "-S", "--max-time", "5", "--cacert", &path("ca.crt".into())])
            .args(["--cert", &path(format!("{cert}.crt")), "--key", &path(format!("{cert}.key"))])
            .arg(format!("https://127.0.0.1:{}/version", specs[0].peer))
            .output()
            .expect("run curl")
    };
    let member_cert = peer_version("member");
    assert!(String::from_utf8_lossy(&member_cert.stdout).contains("etcdserver"), "a member's read: {member_cert:?}");
    let rogue_cert = peer_version("rogue");
    assert!(!rogue_cert.status.success(), "the peer port served another CA's certificate: {rogue_cert:?}");

    // A member with a certificate of another CA is added, but cannot join.
    let rogue = Spec { name: "rogue".into(), client: ports[6], peer: ports[7] };
    let rogue_peer = format!("https://127.0.0.1:{}", rogue.peer);
    let (ok, out) =
        ctl(&members[0].client_url, &good, &["member", "add", "rogue", &format!("--peer-urls={rogue_peer}")]);
    assert!(ok, "member add: {out}");
    let joined = format!("{cluster},rogue={rogue_peer}");
    let rogue_member = start(&dir, &rogue, &joined, "existing", "rogue", "rogue-ca");
    std::thread::sleep(Duration::from_secs(6));
    let (ok, out) = ctl(&rogue_member.client_url, &tls_flags(&dir, "rogue-ca", Some("rogue")), &["get", "k"]);
    assert!(!ok && !out.contains("over tls"), "the rogue member serves the cluster's data: {out}");
    let (ok, out) = ctl(&members[0].client_url, &good, &["member", "list"]);
    assert!(ok && out.contains("unstarted"), "the rogue member never started: {out}");
    let (ok, out) = ctl(&members[0].client_url, &good, &["put", "k2", "still fine"]);
    assert!(ok, "the cluster still takes writes: {out}");
    drop(rogue_member);
    drop(members);
}

/// `--auto-tls`: a self-signed certificate is made under the data dir; clients that skip
/// verification connect.
#[test]
fn auto_tls_serves_a_self_signed_certificate() {
    let tmp = tempfile::Builder::new().prefix("cairn-autotls-").tempdir().expect("a temp dir");
    let ports = free_ports(2);
    let client_url = format!("https://127.0.0.1:{}", ports[0]);
    let peer_url = format!("http://127.0.0.1:{}", ports[1]);
    let data: PathBuf = tmp.path().join("data");
    let log = std::fs::File::create(tmp.path().join("log")).expect("log");
    let child = Command::new(cairn_bin())
        .args(["--data-dir", &data.to_string_lossy(), "--auto-tls"])
        .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("default={peer_url}")])
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("start cairn");
    let _member = Member { child, client_url: client_url.clone() };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // (etcdctl 3.4 speaks plain text unless told otherwise when no certificate flag is given.)
        let flags = ["--insecure-skip-tls-verify".into(), "--insecure-transport=false".into()];
        let (ok, out) = ctl(&client_url, &flags, &["put", "a", "b"]);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "auto TLS: {out}");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(data.join("fixtures/client/cert.pem").exists(), "the certificate is kept in the data dir");
    let (ok, _) = ctl(&client_url, &["--insecure-transport=false".into()], &["get", "a"]);
    assert!(!ok, "a verifying client refuses the self-signed certificate");
}

/// The subject of the certificate `endpoint` (`127.0.0.1:port`) serves, as openssl prints it.
fn served_subject(endpoint: &str) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", endpoint])
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.starts_with("subject=")).unwrap_or_default().to_owned()
}

/// A renewed certificate (the files replaced) is served without a restart.
#[test]
fn certificates_are_reloaded_when_their_files_change() {
    let tmp = tempfile::Builder::new().prefix("cairn-reload-").tempdir().expect("a temp dir");
    let dir = tmp.path().to_path_buf();
    ca(&dir, "ca");
    leaf(&dir, "first", "ca", "first");
    leaf(&dir, "second", "ca", "second");
    std::fs::copy(dir.join("first.crt"), dir.join("server.crt")).expect("copy");
    std::fs::copy(dir.join("first.key"), dir.join("server.key")).expect("copy");
    let ports = free_ports(2);
    let client_url = format!("https://127.0.0.1:{}", ports[0]);
    let peer_url = format!("http://127.0.0.1:{}", ports[1]);
    let log = std::fs::File::create(dir.join("log")).expect("log");
    let child = Command::new(cairn_bin())
        .args(["--data-dir", &dir.join("data").to_string_lossy()])
        .args(["--cert-file", &dir.join("server.crt").to_string_lossy()])
        .args(["--key-file", &dir.join("server.key").to_string_lossy()])
        .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("default={peer_url}")])
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("start cairn");
    let _member = Member { child, client_url };
    let endpoint = format!("127.0.0.1:{}", ports[0]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !served_subject(&endpoint).contains("first") {
        assert!(Instant::now() < deadline, "the first certificate is never served");
        std::thread::sleep(Duration::from_millis(300));
    }
    std::fs::copy(dir.join("second.key"), dir.join("server.key")).expect("copy");
    std::fs::copy(dir.join("second.crt"), dir.join("server.crt")).expect("copy");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let subject = served_subject(&endpoint);
        if subject.contains("second") {
            break;
        }
        assert!(Instant::now() < deadline, "the renewed certificate is not served: {subject}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A single member of `program` (cairn or etcd) with client TLS and `--client-cert-auth`, plain
/// peer URL.
fn start_cert_auth(program: &Path, dir: &Path, name: &str, ports: &[u16]) -> Member {
    let client_url = format!("https://127.0.0.1:{}", ports[0]);
    let peer_url = format!("http://127.0.0.1:{}", ports[1]);
    let path = |file: &str| dir.join(file).to_string_lossy().into_owned();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("create a log file");
    let child = Command::new(program)
        .args(["--name", name, "--data-dir", &path(&format!("{name}.data"))])
        .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("{name}={peer_url}")])
        .args(["--cert-file", &path("member.crt"), "--key-file", &path("member.key")])
        .args(["--trusted-ca-file", &path("ca.crt"), "--client-cert-auth"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log file"))
        .stderr(log)
        .spawn()
        .expect("start the member");
    Member { child, client_url }
}

/// What a user sees of an etcdctl run: success, stdout, and the final `Error:` line (without
/// the client's zap warnings, whose timestamps and targets differ).
fn seen(endpoint: &str, tls: &[String], args: &[&str]) -> (bool, String, String) {
    let out = etcdctl(endpoint, tls, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = stderr.lines().filter(|l| l.starts_with("Error:")).collect::<Vec<_>>().join("\n");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), error)
}

/// With `--client-cert-auth`, a client certificate's common name is its user when no
/// `--user` is given: the same etcdctl steps give the same results on etcd 3.4 and cairn.
#[test]
fn a_client_certificates_common_name_is_its_user() {
    let tmp = tempfile::Builder::new().prefix("cairn-tls-cn-").tempdir().expect("a temp dir");
    let dir = tmp.path().to_path_buf();
    ca(&dir, "ca");
    leaf(&dir, "member", "ca", "member");
    for user in ["root", "alice", "mallory"] {
        leaf(&dir, user, "ca", user);
    }
    let ports = free_ports(4);
    let members = [
        start_cert_auth(&cairn_tests::etcd_bin(), &dir, "etcd", &ports[..2]),
        start_cert_auth(&cairn_bin(), &dir, "cairn", &ports[2..]),
    ];
    let as_user = |user: &str| tls_flags(&dir, "ca", Some(user));
    let deadline = Instant::now() + Duration::from_secs(30);
    for member in &members {
        while !ctl(&member.client_url, &as_user("root"), &["endpoint", "health"]).0 {
            assert!(Instant::now() < deadline, "{} not healthy", member.client_url);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // (certificate's user, etcdctl args, what etcd's stdout or error line shows).
    let steps: &[(&str, &[&str], &str)] = &[
        ("root", &["user", "add", "root:rootpw"], "User root created"),
        ("root", &["user", "grant-role", "root", "root"], "Role root is granted to user root"),
        ("root", &["user", "add", "alice:alicepw"], "User alice created"),
        ("root", &["role", "add", "reader"], "Role reader created"),
        ("root", &["role", "grant-permission", "reader", "read", "foo"], "Role reader updated"),
        ("root", &["user", "grant-role", "alice", "reader"], "Role reader is granted to user alice"),
        ("root", &["put", "foo", "bar"], "OK"),
        ("root", &["auth", "enable"], "Authentication Enabled"),
        // The certificate's user, with no password.
        ("alice", &["get", "foo"], "bar"),
        ("alice", &["put", "foo", "x"], "permission denied"),
        ("alice", &["user", "list"], "permission denied"),
        ("root", &["put", "foo", "by root"], "OK"),
        ("root", &["user", "list"], "alice"),
        // A certificate of a user that does not exist.
        ("mallory", &["get", "foo"], "Error"),
        // A password given explicitly wins over the certificate.
        ("alice", &["--user", "root:rootpw", "put", "foo", "by root's password"], "OK"),
        ("mallory", &["--user", "alice:alicepw", "get", "foo", "--print-value-only"], "by root's password"),
        ("alice", &["--user", "alice:wrong", "get", "foo"], "authentication failed"),
        ("root", &["auth", "disable"], "Authentication Disabled"),
        ("mallory", &["put", "foo", "open again"], "OK"),
    ];
    let mut differences = Vec::new();
    for (user, args, shows) in steps {
        let [etcd, cairn] = [&members[0], &members[1]].map(|m| seen(&m.client_url, &as_user(user), args));
        assert!(etcd.1.contains(shows) || etcd.2.contains(shows), "as {user}: etcd's etcdctl {args:?}: {etcd:?}");
        if etcd != cairn {
            differences.push(format!("as {user}: etcdctl {args:?}\n  etcd:  {etcd:?}\n  cairn: {cairn:?}"));
        }
    }
    assert!(differences.is_empty(), "{} steps differ:\n{}", differences.len(), differences.join("\n"));
    drop(members);
}

//! Proves that cairn's `.proto` files are wire-identical to etcd 3.4's.
//!
//! etcd's own files come from the Debian package `golang-etcd-server-dev`
//! (`cargo xtask test` installs it). They import gogoproto and the
//! grpc-gateway annotations, which change generated Go code but never the
//! wire, so those imports and every custom option are stripped before
//! parsing. Then every package, message, field, enum, service and method of
//! etcd's files is compared with cairn's descriptors.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use cairn_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, compare, request_op,
};
use protox::file::{File, FileResolver};
use protox::prost::Message;
use protox::prost_reflect::prost_types::{
    DescriptorProto, EnumDescriptorProto, FileDescriptorProto, FileDescriptorSet, field_descriptor_proto,
};

/// Where Debian installs etcd's Go sources; overridable for other layouts.
const ETCD_SRC_DEFAULT: &str = "/usr/share/gocode/src/go.etcd.io/etcd";
const ETCD_SRC_ENV: &str = "CAIRN_ETCD_SRC";

/// etcd's files, relative to the etcd source root. They import each other as
/// `etcd/<path>`, so they are served under that name.
const ETCD_FILES: [&str; 5] = [
    "etcdserver/etcdserverpb/rpc.proto",
    "mvcc/mvccpb/kv.proto",
    "auth/authpb/auth.proto",
    "etcdserver/api/v3lock/v3lockpb/v3lock.proto",
    "etcdserver/api/v3election/v3electionpb/v3election.proto",
];

const PACKAGES: [&str; 5] = ["etcdserverpb", "mvccpb", "authpb", "v3lockpb", "v3electionpb"];

#[test]
fn descriptors_match_etcd_3_4() {
    let etcd = etcd_descriptors();
    let ours = FileDescriptorSet::decode(cairn_proto::FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes");

    let etcd_facts = wire_facts(&etcd, &PACKAGES);
    let our_facts = wire_facts(&ours, &PACKAGES);
    for package in PACKAGES {
        assert!(
            etcd_facts.contains_key(&format!("package {package}")),
            "etcd's files lack package {package}: wrong Debian package version?"
        );
    }

    let mut diffs = Vec::new();
    for (key, want) in &etcd_facts {
        match our_facts.get(key) {
            None => diffs.push(format!("missing in cairn: {key} ({want})")),
            Some(got) if got != want => diffs.push(format!("differs: {key}\n    etcd:  {want}\n    cairn: {got}")),
            Some(_) => {}
        }
    }
    for (key, got) in &our_facts {
        if !etcd_facts.contains_key(key) {
            diffs.push(format!("not in etcd: {key} ({got})"));
        }
    }
    assert!(diffs.is_empty(), "{} wire differences from etcd 3.4:\n{}", diffs.len(), diffs.join("\n"));
    // Guard against comparing two empty sets.
    assert!(etcd_facts.len() > 400, "only {} facts extracted from etcd's files", etcd_facts.len());
}

#[test]
fn generated_servers_serve_etcd_grpc_paths() {
    let ours = FileDescriptorSet::decode(cairn_proto::FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes");
    let paths: BTreeSet<String> = ours
        .file
        .iter()
        .flat_map(|file| {
            let package = file.package().to_owned();
            file.service.iter().flat_map(move |service| {
                let prefix = format!("/{package}.{}/", service.name());
                service.method.iter().map(move |method| format!("{prefix}{}", method.name()))
            })
        })
        .collect();
    for path in [
        "/etcdserverpb.KV/Range",
        "/etcdserverpb.KV/Put",
        "/etcdserverpb.KV/DeleteRange",
        "/etcdserverpb.KV/Txn",
        "/etcdserverpb.KV/Compact",
        "/etcdserverpb.Watch/Watch",
        "/etcdserverpb.Lease/LeaseGrant",
        "/etcdserverpb.Lease/LeaseKeepAlive",
        "/etcdserverpb.Cluster/MemberAdd",
        "/etcdserverpb.Maintenance/Snapshot",
        "/etcdserverpb.Auth/Authenticate",
        "/v3lockpb.Lock/Lock",
        "/v3electionpb.Election/Observe",
    ] {
        assert!(paths.contains(path), "{path} missing from the descriptor set");
    }

    // Every method path (of cairn's own packages too) is routed by the generated server code.
    let packages: BTreeSet<&str> = ours.file.iter().map(|file| file.package()).collect();
    let generated: String = packages.iter().map(|package| generated_source(package)).collect();
    let unrouted: Vec<&String> = paths.iter().filter(|path| !generated.contains(&format!("\"{path}\" =>"))).collect();
    assert!(unrouted.is_empty(), "no server route for {unrouted:?}");

    assert_eq!(
        tonic_service_names(),
        [
            "etcdserverpb.KV",
            "etcdserverpb.Watch",
            "etcdserverpb.Lease",
            "etcdserverpb.Cluster",
            "etcdserverpb.Maintenance",
            "etcdserverpb.Auth",
            "v3lockpb.Lock",
            "v3electionpb.Election",
        ]
    );
}

/// The service names tonic routes on (`NamedService::NAME`) of every
/// generated server; `()` stands in for an implementation.
fn tonic_service_names() -> [&'static str; 8] {
    use cairn_proto::{etcdserverpb as e, v3electionpb as el, v3lockpb as l};
    use tonic::server::NamedService;
    [
        <e::kv_server::KvServer<()> as NamedService>::NAME,
        <e::watch_server::WatchServer<()> as NamedService>::NAME,
        <e::lease_server::LeaseServer<()> as NamedService>::NAME,
        <e::cluster_server::ClusterServer<()> as NamedService>::NAME,
        <e::maintenance_server::MaintenanceServer<()> as NamedService>::NAME,
        <e::auth_server::AuthServer<()> as NamedService>::NAME,
        <l::lock_server::LockServer<()> as NamedService>::NAME,
        <el::election_server::ElectionServer<()> as NamedService>::NAME,
    ]
}

fn generated_source(package: &str) -> String {
    let path = Path::new(env!("OUT_DIR")).join(format!("{package}.rs"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn txn_with_nested_ops_round_trips() {
    let txn = TxnRequest {
        compare: vec![
            Compare {
                result: compare::CompareResult::Equal as i32,
                target: compare::CompareTarget::Value as i32,
                key: b"config".to_vec(),
                target_union: Some(compare::TargetUnion::Value(b"v1".to_vec())),
                range_end: Vec::new(),
            },
            Compare {
                result: compare::CompareResult::Greater as i32,
                target: compare::CompareTarget::Mod as i32,
                key: b"a".to_vec(),
                target_union: Some(compare::TargetUnion::ModRevision(7)),
                range_end: b"b".to_vec(),
            },
        ],
        success: vec![
            op(request_op::Request::RequestPut(PutRequest {
                key: b"config".to_vec(),
                value: b"v2".to_vec(),
                lease: 0x1234,
                prev_kv: true,
                ..Default::default()
            })),
            op(request_op::Request::RequestTxn(TxnRequest {
                compare: Vec::new(),
                success: vec![op(request_op::Request::RequestRange(RangeRequest {
                    key: b"a".to_vec(),
                    range_end: b"\0".to_vec(),
                    limit: 10,
                    ..Default::default()
                }))],
                failure: Vec::new(),
            })),
        ],
        failure: vec![op(request_op::Request::RequestDeleteRange(DeleteRangeRequest {
            key: b"config".to_vec(),
            range_end: Vec::new(),
            prev_kv: true,
        }))],
    };
    let bytes = txn.encode_to_vec();
    assert_eq!(TxnRequest::decode(bytes.as_slice()), Ok(txn));
}

#[test]
fn range_request_has_etcd_field_numbers_on_the_wire() {
    let range = RangeRequest { key: b"a".to_vec(), limit: 1, count_only: true, ..Default::default() };
    // key = field 1 (bytes), limit = field 3 (varint), count_only = field 9 (varint).
    assert_eq!(range.encode_to_vec(), [0x0a, 0x01, b'a', 0x18, 0x01, 0x48, 0x01]);
}

fn op(request: request_op::Request) -> RequestOp {
    RequestOp { request: Some(request) }
}

// ---------------------------------------------------------------- etcd's descriptors

/// Parses etcd's files after stripping what does not affect the wire.
fn etcd_descriptors() -> FileDescriptorSet {
    let root = std::env::var_os(ETCD_SRC_ENV).map_or_else(|| PathBuf::from(ETCD_SRC_DEFAULT), PathBuf::from);
    let mut sources = HashMap::new();
    for file in ETCD_FILES {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read etcd 3.4's {} ({e}): install the Debian package golang-etcd-server-dev \
                 (`cargo xtask test` installs it) or point {ETCD_SRC_ENV} at an etcd 3.4 source tree",
                path.display()
            )
        });
        sources.insert(format!("etcd/{file}"), strip_non_wire(&text));
    }
    let names: Vec<String> = ETCD_FILES.iter().map(|file| format!("etcd/{file}")).collect();
    let mut compiler = protox::Compiler::with_file_resolver(InMemoryFiles(sources));
    compiler.include_imports(true);
    compiler.open_files(&names).unwrap_or_else(|e| panic!("parsing stripped etcd files: {e:?}"));
    compiler.file_descriptor_set()
}

struct InMemoryFiles(HashMap<String, String>);

impl FileResolver for InMemoryFiles {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// Removes comments, gogoproto / google.api imports, every custom
/// `option (...) = ...;` statement (including multi-line `{ ... }` values)
/// and custom field options `[(...) = ...]`. None of these changes the wire.
fn strip_non_wire(source: &str) -> String {
    let without_comments: String = source.lines().map(|line| format!("{}\n", strip_comment(line))).collect();
    let without_imports: String = without_comments
        .lines()
        .filter(|line| {
            let line = line.trim();
            !(line.starts_with("import \"gogoproto/") || line.starts_with("import \"google/"))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    strip_field_options(&strip_custom_options(&without_imports))
}

/// Cuts a `//` comment, ignoring `//` inside string literals.
fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Removes `option (name) = value;` where value may be a nested `{ ... }`.
fn strip_custom_options(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = find_custom_option(rest) {
        out.push_str(&rest[..start]);
        let mut depth = 0usize;
        let mut end = rest.len();
        for (i, c) in rest[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                ';' if depth == 0 => {
                    end = start + i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Byte offset of the next `option (` statement (a custom option).
fn find_custom_option(source: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = source[from..].find("option") {
        let at = from + found;
        let before_ok = source[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric() && c != '_');
        if before_ok && source[at + "option".len()..].trim_start().starts_with('(') {
            return Some(at);
        }
        from = at + "option".len();
    }
    None
}

/// Removes field option lists that hold a custom option, e.g.
/// `[(gogoproto.nullable) = false]`.
fn strip_field_options(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find('[') {
        let Some(len) = rest[start..].find(']') else { break };
        let inside = &rest[start + 1..start + len];
        out.push_str(&rest[..start]);
        if !inside.trim_start().starts_with('(') {
            out.push_str(&rest[start..=start + len]);
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------- comparison

/// Flattens the wire-relevant content of `packages` into `key -> description`.
fn wire_facts(set: &FileDescriptorSet, packages: &[&str]) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    for file in set.file.iter().filter(|file| packages.contains(&file.package())) {
        add_file(file, &mut facts);
    }
    facts
}

fn add_file(file: &FileDescriptorProto, facts: &mut BTreeMap<String, String>) {
    let package = file.package();
    facts.insert(format!("package {package}"), format!("syntax={}", file.syntax()));
    let scope = format!(".{package}");
    for message in &file.message_type {
        add_message(&scope, message, facts);
    }
    for enumeration in &file.enum_type {
        add_enum(&scope, enumeration, facts);
    }
    for service in &file.service {
        let name = format!("{scope}.{}", service.name());
        facts.insert(format!("service {name}"), String::new());
        for method in &service.method {
            facts.insert(
                format!("method {name}.{}", method.name()),
                format!(
                    "input={} output={} client_streaming={} server_streaming={}",
                    method.input_type(),
                    method.output_type(),
                    method.client_streaming(),
                    method.server_streaming()
                ),
            );
        }
    }
}

fn add_message(scope: &str, message: &DescriptorProto, facts: &mut BTreeMap<String, String>) {
    let name = format!("{scope}.{}", message.name());
    let oneofs: Vec<&str> = message.oneof_decl.iter().map(|oneof| oneof.name()).collect();
    facts.insert(
        format!("message {name}"),
        format!(
            "oneofs={oneofs:?} reserved_ranges={:?} reserved_names={:?} extension_ranges={:?}",
            message.reserved_range, message.reserved_name, message.extension_range
        ),
    );
    for field in &message.field {
        let oneof = field
            .oneof_index
            .map(|i| usize::try_from(i).ok().and_then(|i| oneofs.get(i).copied()).unwrap_or("<bad index>"));
        facts.insert(
            format!("field {name}.{}", field.name()),
            format!(
                "number={} type={:?} type_name={:?} label={:?} oneof={oneof:?} proto3_optional={} json_name={:?} \
                 default={:?} options={:?}",
                field.number(),
                field.r#type(),
                field.type_name(),
                field.label.map(|_| field.label()).unwrap_or(field_descriptor_proto::Label::Optional),
                field.proto3_optional(),
                field.json_name(),
                field.default_value,
                field.options,
            ),
        );
    }
    for nested in &message.nested_type {
        add_message(&name, nested, facts);
    }
    for enumeration in &message.enum_type {
        add_enum(&name, enumeration, facts);
    }
}

fn add_enum(scope: &str, enumeration: &EnumDescriptorProto, facts: &mut BTreeMap<String, String>) {
    let name = format!("{scope}.{}", enumeration.name());
    facts.insert(format!("enum {name}"), format!("options={:?}", enumeration.options));
    for value in &enumeration.value {
        facts.insert(format!("enum value {name}.{}", value.name()), format!("number={}", value.number()));
    }
}

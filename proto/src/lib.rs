//! etcd's v3 wire protocol for cairn: prost messages and tonic clients and
//! servers generated from the `.proto` files in `proto/proto/`.
//!
//! The files are cairn's own, written to be wire-identical to etcd 3.4's
//! (same packages, services, methods, messages, field names and numbers), so
//! the gRPC paths are etcd's, e.g. `/etcdserverpb.KV/Range`, and `etcdctl`,
//! Go `clientv3` and the `etcd-client` crate talk to a cairn server built on
//! these types. `tests/wire_compat.rs` checks this against etcd's own files.
//!
//! This crate is only the schema: no server logic, no error mapping to
//! `tonic::Status`, no client conveniences (see `cairn-server` and
//! `cairn-client`). The generated servers are traits to implement, e.g.
//! [`etcdserverpb::kv_server::Kv`], wrapped by
//! [`etcdserverpb::kv_server::KvServer`]; the clients are e.g.
//! [`etcdserverpb::kv_client::KvClient`].
//!
//! # Example
//!
//! ```
//! use cairn_proto::etcdserverpb::PutRequest;
//! use prost::Message;
//!
//! let put = PutRequest { key: b"greeting".to_vec(), value: b"hello".to_vec(), ..Default::default() };
//! let bytes = put.encode_to_vec();
//! assert_eq!(PutRequest::decode(bytes.as_slice()), Ok(put));
//! ```
//!
//! # Adding a package
//!
//! `build.rs` compiles every `.proto` file found under `proto/proto/`, so a
//! new file needs no build change. A new protobuf *package* (e.g. `cairnpb`
//! from `proto/proto/cairn/*.proto`) also needs its module here: one
//! `proto_package!` line below. Package names must be a single identifier
//! (no dots), because generated code refers to other packages as
//! `super::<package>`, i.e. as sibling modules of the crate root.

/// Declares `pub mod $package` holding the code generated for protobuf
/// package `$package`.
macro_rules! proto_package {
    ($(#[$attr:meta])* $package:ident) => {
        $(#[$attr])*
        // `allow`, not `expect`: this is generated code, and which lints
        // fire depends on the .proto files (messages without comments have
        // no docs) and on the prost/tonic version, not on code we write.
        #[allow(missing_docs, clippy::all)]
        pub mod $package {
            include!(concat!(env!("OUT_DIR"), "/", stringify!($package), ".rs"));
        }
    };
}

proto_package!(
    /// etcd's client API (`etcdserverpb`): the KV, Watch, Lease, Cluster,
    /// Maintenance and Auth services and their messages.
    etcdserverpb
);
proto_package!(
    /// etcd's storage types (`mvccpb`): `KeyValue` and watch `Event`.
    mvccpb
);
proto_package!(
    /// etcd's auth records (`authpb`): users, roles, permissions.
    authpb
);
proto_package!(
    /// etcd's lock service (`v3lockpb`).
    v3lockpb
);
proto_package!(
    /// etcd's election service (`v3electionpb`).
    v3electionpb
);
proto_package!(
    /// cairn's own messages (`cairnpb`): the requests members propose through
    /// raft and the member records.
    cairnpb
);
proto_package!(
    /// cairn's peer protocol (`raftpeerpb`): the `RaftPeer` service that
    /// carries raft-rs messages (in raft's own encoding) and chunked
    /// snapshots between members.
    raftpeerpb
);

/// The encoded `google.protobuf.FileDescriptorSet` of every `.proto` file in
/// this crate (with imports and source info), for gRPC reflection and for
/// checking the schema in tests.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cairn_descriptor.bin"));

//! Compiles every `.proto` file under `proto/` into Rust (prost messages, tonic
//! clients and servers) and writes the encoded `FileDescriptorSet`.
//!
//! The directory is walked, so a new file (say `proto/cairn/peer.proto`) is
//! picked up without touching this script. Parsing is done by `protox`, in
//! pure Rust: no `protoc` on the build machine.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

/// Name of the descriptor file in `OUT_DIR`, included by `src/lib.rs`.
const DESCRIPTOR_FILE: &str = "cairn_descriptor.bin";

fn main() -> Result<(), Box<dyn Error>> {
    let proto_root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    // Cargo scans a directory recursively for changes, so added, removed and
    // edited files all trigger a rebuild.
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut files = Vec::new();
    collect_protos(&proto_root, &proto_root, &mut files)?;
    // A stable order keeps the descriptor set (and so the build) reproducible.
    files.sort();
    if files.is_empty() {
        return Err(format!("no .proto files under {}", proto_root.display()).into());
    }

    let mut compiler = protox::Compiler::new([&proto_root])?;
    // Source info carries the .proto comments into the generated docs.
    compiler.include_source_info(true);
    compiler.include_imports(true);
    compiler.open_files(&files)?;

    fs::write(out_dir.join(DESCRIPTOR_FILE), compiler.encode_file_descriptor_set())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(true)
        .out_dir(&out_dir)
        .compile_fds(compiler.file_descriptor_set())?;

    // serde impls (protobuf JSON, as etcd's grpc-gateway speaks it) for the
    // client API's messages: `<package>.serde.rs`, included by `src/lib.rs`.
    // Proto field names (grpc-gateway's `OrigName`), zero values omitted
    // (`EmitDefaults: false`), unknown fields ignored (jsonpb's default there).
    pbjson_build::Builder::new()
        .register_descriptors(&compiler.encode_file_descriptor_set())?
        .out_dir(&out_dir)
        .preserve_proto_field_names()
        .ignore_unknown_fields()
        .build(&[".etcdserverpb", ".mvccpb", ".authpb", ".v3lockpb", ".v3electionpb"])?;
    Ok(())
}

/// Appends the path (relative to `root`) of every `.proto` file below `dir`.
fn collect_protos(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(root, &path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

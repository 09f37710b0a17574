//! Building a new member's data directory from a snapshot, offline, as cairn lays it out:
//!
//! ```text
//! <data-dir>/member/db     the backend (LMDB, cairn's default engine)
//! <data-dir>/member/raft   the raft log (cairn-wal: wal/ segments, snap/ snapshots)
//! ```
//!
//! The backend is the snapshot's, less the old cluster: its members, its removed members, its
//! identity (`member_id`, `cluster_id`), the consistent index of its log, and the v2 store
//! (which etcd's snapshots do not hold either). In their place go the new members and this
//! member's identity. The raft log starts as a new cluster's does (what `cairn-raft` writes
//! when it bootstraps one): a snapshot at index 1, term 1, whose configuration is the new
//! members as voters, and a hard state committing it. A `cairn` started on the directory then
//! finds its identity recorded and its log begun, so it neither bootstraps nor joins: it
//! elects a leader among the restored members and serves the snapshot's data.
//!
//! What this mirrors of `cairn-server` (`run.rs`, `members.rs`, `ids.rs`, `apply/mod.rs`) is
//! named below; `tests/tests/ctl_snapshot.rs` boots a member from a restored directory.

use std::path::{Path, PathBuf};

use cairn_proto::cairnpb::Member;
use cairn_storage::{Backend, Options, Order, ReadView, WriteBatch};
use cairn_storage_lmdb::LmdbBackend;
use cairn_wal::{Wal, WalOptions};
use prost::Message;
use raft::eraftpb::{ConfState, HardState, Snapshot};
use sha1::{Digest, Sha1};

use super::file::SnapshotFile;

/// The backend's directory under `member/` (server `run.rs`).
pub const BACKEND_DIR: &str = "db";
/// The raft log's directory under `member/` (server `run.rs`).
pub const RAFT_DIR: &str = "raft";
/// Members: id (big-endian) -> `cairnpb.Member` (server `members.rs`).
const MEMBERS_BUCKET: &str = "members";
/// Removed member ids (server `members.rs`).
const REMOVED_BUCKET: &str = "members_removed";
/// The v2 store's nodes (server `state.rs`).
const V2_BUCKET: &str = "v2";
/// The data of a raft snapshot whose state is in the backend (server `apply/mod.rs`).
const SNAPSHOT_MARKER: &[u8] = b"cairn: state in the backend\n";
/// Keys of the `meta` bucket that belong to the old cluster's member and log.
const MEMBER_ID: &[u8] = b"member_id";
const CLUSTER_ID: &[u8] = b"cluster_id";
const CONSISTENT_INDEX: &[u8] = b"consistent_index";

/// A member of the new cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its peer URLs.
    pub peer_urls: Vec<String>,
}

/// The cluster a restored member starts.
#[derive(Debug, Clone)]
pub struct NewCluster {
    /// Every member, in `--initial-cluster` order.
    pub members: Vec<NewMember>,
    /// The cluster id.
    pub cluster_id: u64,
    /// This member's id.
    pub member_id: u64,
}

impl NewCluster {
    /// The cluster `--initial-cluster` names, with `token`, as a new cluster's members derive
    /// their ids (etcd's derivation, server `ids.rs`), seen from member `name`.
    pub fn new(members: &[(String, Vec<String>)], token: &str, name: &str) -> NewCluster {
        let members: Vec<NewMember> = members
            .iter()
            .map(|(n, urls)| NewMember { id: member_id(urls, token), name: n.clone(), peer_urls: urls.clone() })
            .collect();
        let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
        let member_id = members.iter().find(|m| m.name == name).map_or(0, |m| m.id);
        NewCluster { cluster_id: cluster_id(&ids), member_id, members }
    }
}

/// A member's id: the first 8 bytes (big-endian) of SHA-1 over its sorted peer URLs joined and
/// the cluster token.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls: Vec<&str> = peer_urls.iter().map(String::as_str).collect();
    urls.sort_unstable();
    let mut hasher = Sha1::new();
    hasher.update(urls.concat().as_bytes());
    hasher.update(token.as_bytes());
    first_u64(&hasher.finalize())
}

/// The cluster's id: SHA-1 over the sorted member ids, each big-endian.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut hasher = Sha1::new();
    for id in ids {
        hasher.update(id.to_be_bytes());
    }
    first_u64(&hasher.finalize())
}

fn first_u64(hash: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(bytes)
}

/// Builds `data_dir` (which must not exist) from `snapshot` for `cluster`. The directory is
/// built beside it under a temporary name and renamed into place only when complete.
pub fn restore(snapshot: &mut SnapshotFile, data_dir: &Path, cluster: &NewCluster) -> Result<(), String> {
    let tmp = sibling(data_dir, ".restore-tmp")?;
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| format!("cannot remove {}: {e}", tmp.display()))?;
    }
    let built = build(snapshot, &tmp, cluster);
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, data_dir)
        .map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), data_dir.display()))?;
    if let Some(parent) = data_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn sibling(dir: &Path, suffix: &str) -> Result<PathBuf, String> {
    let name = dir.file_name().ok_or_else(|| format!("data-dir {:?} has no file name", dir.display()))?;
    let mut tmp = name.to_os_string();
    tmp.push(suffix);
    Ok(dir.with_file_name(tmp))
}

fn build(snapshot: &mut SnapshotFile, root: &Path, cluster: &NewCluster) -> Result<(), String> {
    let member = root.join("member");
    std::fs::create_dir_all(&member).map_err(|e| format!("cannot create {}: {e}", member.display()))?;
    let mut stream = snapshot.stream()?;
    let (backend, _) =
        cairn_storage::snapshot::import::<LmdbBackend>(&member.join(BACKEND_DIR), &Options::relaxed(), &mut stream)
            .map_err(|e| e.to_string())?;
    rewrite_membership(&backend, cluster).map_err(|e| e.to_string())?;
    backend.sync().map_err(|e| e.to_string())?;
    drop(backend);
    start_log(&member.join(RAFT_DIR), cluster).map_err(|e| e.to_string())
}

/// Replaces the old cluster's members, identity and log position with the new cluster's.
fn rewrite_membership(backend: &LmdbBackend, cluster: &NewCluster) -> cairn_storage::Result<()> {
    let mut batch = WriteBatch::new();
    {
        let view = backend.view()?;
        for bucket in [MEMBERS_BUCKET, REMOVED_BUCKET, V2_BUCKET] {
            let mut keys = Vec::new();
            view.scan(bucket, &[], None, Order::Forward, &mut |k, _| {
                keys.push(k.to_vec());
                true
            })?;
            for key in keys {
                batch.delete(bucket, key)?;
            }
        }
    }
    let meta = cairn_mvcc::buckets::META;
    batch.delete(meta, CONSISTENT_INDEX.to_vec())?;
    batch.put(meta, MEMBER_ID.to_vec(), cluster.member_id.to_be_bytes().to_vec())?;
    batch.put(meta, CLUSTER_ID.to_vec(), cluster.cluster_id.to_be_bytes().to_vec())?;
    for m in &cluster.members {
        // Client URLs come when each member publishes them through raft, as in a new cluster.
        let record = Member {
            id: m.id,
            name: m.name.clone(),
            peer_urls: m.peer_urls.clone(),
            client_urls: Vec::new(),
            is_learner: false,
        };
        batch.put(MEMBERS_BUCKET, m.id.to_be_bytes().to_vec(), record.encode_to_vec())?;
    }
    backend.commit(batch)
}

/// Begins the raft log as `cairn-raft` bootstraps a new cluster's: a snapshot at index 1, term 1,
/// of the state in the backend, whose voters are the members; then a hard state committing it.
fn start_log(dir: &Path, cluster: &NewCluster) -> cairn_wal::Result<()> {
    let (mut wal, _) = Wal::open(dir, WalOptions::default())?;
    let mut voters: Vec<u64> = cluster.members.iter().map(|m| m.id).collect();
    voters.sort_unstable();
    voters.dedup();
    let mut snapshot = Snapshot { data: SNAPSHOT_MARKER.to_vec().into(), ..Default::default() };
    let meta = snapshot.mut_metadata();
    (meta.index, meta.term) = (1, 1);
    meta.set_conf_state(ConfState::from((voters, Vec::new())));
    wal.save_snapshot(&snapshot)?;
    wal.save(Some(&HardState { term: 1, commit: 1, ..Default::default() }), &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_etcds() {
        // etcd 3.4 with all defaults: member 8e9e05c52164694d in cluster cdf818194e3a8c32.
        let cluster = NewCluster::new(
            &[("default".to_owned(), vec!["http://localhost:2380".to_owned()])],
            "etcd-cluster",
            "default",
        );
        assert_eq!(format!("{:x}", cluster.member_id), "8e9e05c52164694d");
        assert_eq!(format!("{:x}", cluster.cluster_id), "cdf818194e3a8c32");
    }
}

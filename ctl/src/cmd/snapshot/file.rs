//! Reading a snapshot file as `snapshot save` writes it from cairn: cairn's backend stream
//! (`cairn_storage::snapshot`), zeros up to a multiple of 512 bytes, and the SHA-256 of all of
//! that (etcd's trailer, which etcdctl checks for).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use cairn_storage::snapshot::{self, Record, Summary};
use sha2::{Digest, Sha256};

use super::go_io_error;

/// The length of the SHA-256 trailer.
pub const SHA_LEN: u64 = 32;

/// etcd's test for a trailing SHA-256: 512 is the smallest disk sector, so a padded file plus
/// the digest leaves this remainder.
pub fn has_checksum(len: u64) -> bool {
    len % 512 == SHA_LEN
}

/// An opened snapshot file: where cairn's stream ends inside it.
pub struct SnapshotFile {
    file: File,
    path: std::path::PathBuf,
    /// The file's length.
    len: u64,
    /// The stream's length (without padding and digest), once known.
    stream_len: Option<u64>,
    /// Whether the file ends with a SHA-256 digest.
    pub hashed: bool,
}

impl SnapshotFile {
    /// Opens `path` and finds the end of its stream (errors worded as Go's `os` ones).
    pub fn open(path: &Path) -> Result<SnapshotFile, String> {
        let file = File::open(path).map_err(|e| go_io_error("open", path, &e))?;
        let len = file.metadata().map_err(|e| go_io_error("stat", path, &e))?.len();
        let hashed = has_checksum(len);
        Ok(SnapshotFile { file, path: path.to_path_buf(), len, stream_len: None, hashed })
    }

    /// The stream's length, found on first use.
    fn stream_len(&mut self) -> Result<u64, String> {
        if let Some(len) = self.stream_len {
            return Ok(len);
        }
        let limit = if self.hashed { self.len - SHA_LEN } else { self.len };
        self.file.rewind().map_err(|e| e.to_string())?;
        let len = stream_len(&mut self.file, limit).map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.stream_len = Some(len);
        Ok(len)
    }

    /// Checks the file's SHA-256 trailer against its contents (`snapshot restore`).
    pub fn verify_checksum(&mut self) -> Result<(), String> {
        let len = self.len;
        self.file.seek(SeekFrom::Start(len - SHA_LEN)).map_err(|e| e.to_string())?;
        let mut stored = [0u8; SHA_LEN as usize];
        self.file.read_exact(&mut stored).map_err(|e| e.to_string())?;
        self.file.rewind().map_err(|e| e.to_string())?;
        let mut hasher = Sha256::new();
        let mut body = BufReader::new(&mut self.file).take(len - SHA_LEN);
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            let n = body.read(&mut buffer).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        let computed = hasher.finalize();
        if computed.as_slice() != stored {
            return Err(format!("expected sha256 {}, got {}", go_bytes(&stored), go_bytes(&computed)));
        }
        Ok(())
    }

    /// Reads and checks the whole stream, handing each record to `sink`.
    pub fn read(&mut self, sink: &mut dyn FnMut(Record) -> cairn_storage::Result<()>) -> Result<Summary, String> {
        let stream_len = self.stream_len()?;
        self.file.rewind().map_err(|e| e.to_string())?;
        let mut input = BufReader::new(&mut self.file).take(stream_len);
        snapshot::read(&mut input, sink).map_err(|e| e.to_string())
    }

    /// A reader of the stream alone (for an import).
    pub fn stream(&mut self) -> Result<impl Read + '_, String> {
        let stream_len = self.stream_len()?;
        self.file.rewind().map_err(|e| e.to_string())?;
        Ok(BufReader::new(&mut self.file).take(stream_len))
    }
}

/// Go's `%v` of a byte slice: `[1 2 3]`.
fn go_bytes(bytes: &[u8]) -> String {
    format!("[{}]", bytes.iter().map(u8::to_string).collect::<Vec<_>>().join(" "))
}

/// Walks the records of a stream (seeking over keys and values) to the end of its trailer, so
/// that the padding after it is not taken for data.
fn stream_len(file: &mut File, limit: u64) -> Result<u64, String> {
    let mut input = BufReader::new(file);
    let mut position = 0u64;
    let read = |input: &mut BufReader<&mut File>, buf: &mut [u8], position: &mut u64| -> Result<(), String> {
        if *position + buf.len() as u64 > limit {
            return Err(format!("not a cairn snapshot (truncated at byte {position})"));
        }
        input.read_exact(buf).map_err(|e| e.to_string())?;
        *position += buf.len() as u64;
        Ok(())
    };
    let mut header = [0u8; 12];
    read(&mut input, &mut header, &mut position)?;
    if &header[..8] != b"CAIRNSNP" {
        return Err("not a cairn snapshot (bad magic)".to_owned());
    }
    let skip = |input: &mut BufReader<&mut File>, len: u64, position: &mut u64| -> Result<(), String> {
        if *position + len > limit {
            return Err(format!("not a cairn snapshot (truncated at byte {position})"));
        }
        input.seek_relative(len as i64).map_err(|e| e.to_string())?;
        *position += len;
        Ok(())
    };
    loop {
        let mut tag = [0u8; 1];
        read(&mut input, &mut tag, &mut position)?;
        match tag[0] {
            0 => {
                // Record counts and the CRC32C.
                skip(&mut input, 8 + 8 + 4, &mut position)?;
                return Ok(position);
            }
            1 => {
                let mut len = [0u8; 2];
                read(&mut input, &mut len, &mut position)?;
                skip(&mut input, u64::from(u16::from_be_bytes(len)), &mut position)?;
            }
            2 => {
                for _ in 0..2 {
                    let mut len = [0u8; 4];
                    read(&mut input, &mut len, &mut position)?;
                    skip(&mut input, u64::from(u32::from_be_bytes(len)), &mut position)?;
                }
            }
            other => {
                return Err(format!("not a cairn snapshot (unknown record tag {other:#04x} at byte {})", position - 1));
            }
        }
    }
}

/// What `snapshot status` reports, computed as etcd computes it over its bolt file: a CRC-32C
/// over every bucket name, key and value in order, the main revision of the last key of the
/// `key` bucket, the number of pairs, and the size (here the stream's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The CRC-32C (Castagnoli).
    pub hash: u32,
    /// The store's last revision.
    pub revision: i64,
    /// Pairs in all buckets.
    pub total_key: u64,
    /// Bytes of the stream.
    pub total_size: u64,
}

impl SnapshotFile {
    /// The file's status.
    pub fn status(&mut self) -> Result<Status, String> {
        let mut hash = 0u32;
        let mut revision = 0i64;
        let mut total_key = 0u64;
        let mut in_key_bucket = false;
        let summary = self.read(&mut |record| {
            match record {
                Record::Bucket(name) => {
                    hash = crc32c::crc32c_append(hash, name.as_bytes());
                    in_key_bucket = name == cairn_mvcc::buckets::KEY;
                }
                Record::Pair(key, value) => {
                    hash = crc32c::crc32c_append(hash, &key);
                    hash = crc32c::crc32c_append(hash, &value);
                    if in_key_bucket && let Some((at, _)) = cairn_mvcc::Revision::decode(&key) {
                        revision = at.main;
                    }
                    total_key += 1;
                }
            }
            Ok(())
        })?;
        Ok(Status { hash, revision, total_key, total_size: summary.bytes })
    }
}

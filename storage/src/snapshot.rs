//! cairn's engine-neutral snapshot format: a whole store as one checksummed stream.
//!
//! ```text
//! header   "CAIRNSNP" version:u32
//! bucket   0x01 len:u16 name            (starts a bucket; names ascend)
//! pair     0x02 len:u32 key len:u32 value (keys ascend within the bucket)
//! end      0x00 buckets:u64 pairs:u64 crc32c:u32 (over every byte before it)
//! ```
//!
//! Integers are big-endian. Lengths are checked against the key and value limits
//! before anything is allocated, order is checked as records arrive, and nothing may
//! follow the checksum, so a truncated, corrupted, reordered or padded stream is
//! refused with [`Error::CorruptSnapshot`].

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::batch::validate_bucket;
use crate::{Backend, Error, MAX_KEY_LEN, MAX_VALUE_LEN, Options, Order, ReadView, Result, WriteBatch};

const MAGIC: &[u8; 8] = b"CAIRNSNP";
const VERSION: u32 = 1;
const TAG_END: u8 = 0;
const TAG_BUCKET: u8 = 1;
const TAG_PAIR: u8 = 2;
/// Import commits its work in batches of about this many bytes.
const IMPORT_BATCH_BYTES: usize = 16 << 20;
/// A key or value buffer starts at most this large and grows as its bytes arrive.
const READ_CHUNK: usize = 64 << 10;

/// What a snapshot held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Buckets in the snapshot.
    pub buckets: u64,
    /// Key-value pairs in the snapshot.
    pub pairs: u64,
    /// Length of the whole stream in bytes.
    pub bytes: u64,
    /// The CRC32C the stream ends with.
    pub checksum: u32,
}

struct CrcWriter<'a> {
    inner: &'a mut dyn Write,
    crc: u32,
    bytes: u64,
}

impl CrcWriter<'_> {
    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.write_all(data)?;
        self.crc = crc32c::crc32c_append(self.crc, data);
        self.bytes += data.len() as u64;
        Ok(())
    }
}

/// Writes everything `view` holds to `out`.
pub fn write(view: &dyn ReadView, out: &mut dyn Write) -> Result<Summary> {
    let mut w = CrcWriter { inner: out, crc: 0, bytes: 0 };
    w.put(MAGIC)?;
    w.put(&VERSION.to_be_bytes())?;
    let (mut buckets, mut pairs) = (0u64, 0u64);
    for name in view.buckets()? {
        buckets += 1;
        let len = u16::try_from(name.len()).map_err(|_| Error::InvalidBucket(name.clone()))?;
        w.put(&[TAG_BUCKET])?;
        w.put(&len.to_be_bytes())?;
        w.put(name.as_bytes())?;
        let mut failed = None;
        view.scan(&name, &[], None, Order::Forward, &mut |k, v| {
            let res = (|| {
                w.put(&[TAG_PAIR])?;
                w.put(&(k.len() as u32).to_be_bytes())?;
                w.put(k)?;
                w.put(&(v.len() as u32).to_be_bytes())?;
                w.put(v)
            })();
            pairs += 1;
            match res {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
    }
    w.put(&[TAG_END])?;
    w.put(&buckets.to_be_bytes())?;
    w.put(&pairs.to_be_bytes())?;
    let checksum = w.crc;
    w.inner.write_all(&checksum.to_be_bytes())?;
    w.inner.flush()?;
    Ok(Summary { buckets, pairs, bytes: w.bytes + 4, checksum })
}

struct CrcReader<'a> {
    inner: &'a mut dyn Read,
    crc: u32,
    bytes: u64,
}

fn corrupt(what: impl Into<String>) -> Error {
    Error::CorruptSnapshot(what.into())
}

impl CrcReader<'_> {
    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => corrupt(format!("truncated in {what} at byte {}", self.bytes)),
            _ => Error::Io(e),
        })?;
        self.crc = crc32c::crc32c_append(self.crc, buf);
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    /// Reads `len` bytes into a buffer that grows as they arrive: a length field
    /// (up to [`MAX_VALUE_LEN`]) never makes a short stream allocate more than it
    /// holds.
    fn bytes(&mut self, len: usize, what: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(len.min(READ_CHUNK));
        let wanted = len as u64;
        let got = (&mut *self.inner).take(wanted).read_to_end(&mut buf)?;
        if got as u64 != wanted {
            return Err(corrupt(format!("truncated in {what} at byte {}", self.bytes + got as u64)));
        }
        self.crc = crc32c::crc32c_append(self.crc, &buf);
        self.bytes += wanted;
        Ok(buf)
    }
}

/// One record of a snapshot, as [`read`] hands it out.
#[derive(Debug)]
pub enum Record {
    /// The pairs that follow belong to this bucket.
    Bucket(String),
    /// A pair of the current bucket.
    Pair(Vec<u8>, Vec<u8>),
}

/// Reads and checks a whole snapshot, handing each record to `sink` as it comes.
///
/// Records are handed out before the checksum at the end is known: a caller must
/// not make them visible until `read` has returned `Ok`.
pub fn read(input: &mut dyn Read, sink: &mut dyn FnMut(Record) -> Result<()>) -> Result<Summary> {
    let mut r = CrcReader { inner: input, crc: 0, bytes: 0 };
    if &r.array::<8>("header")? != MAGIC {
        return Err(corrupt("not a cairn snapshot (bad magic)"));
    }
    let version = u32::from_be_bytes(r.array("header")?);
    if version != VERSION {
        return Err(corrupt(format!("unsupported snapshot version {version}")));
    }
    let (mut buckets, mut pairs) = (0u64, 0u64);
    let mut bucket: Option<String> = None;
    let mut last_key: Option<Vec<u8>> = None;
    loop {
        let [tag] = r.array::<1>("record tag")?;
        match tag {
            TAG_BUCKET => {
                let len = u16::from_be_bytes(r.array("bucket name length")?) as usize;
                if len == 0 || len > 64 {
                    return Err(corrupt(format!("bucket name length {len} out of range")));
                }
                let name =
                    String::from_utf8(r.bytes(len, "bucket name")?).map_err(|_| corrupt("bucket name is not UTF-8"))?;
                validate_bucket(&name).map_err(|e| corrupt(e.to_string()))?;
                if bucket.as_ref().is_some_and(|prev| *prev >= name) {
                    return Err(corrupt(format!("bucket {name:?} out of order")));
                }
                bucket = Some(name.clone());
                last_key = None;
                buckets += 1;
                sink(Record::Bucket(name))?;
            }
            TAG_PAIR => {
                if bucket.is_none() {
                    return Err(corrupt("pair before any bucket"));
                }
                let klen = u32::from_be_bytes(r.array("key length")?) as usize;
                if klen == 0 || klen > MAX_KEY_LEN {
                    return Err(corrupt(format!("key length {klen} out of range")));
                }
                let key = r.bytes(klen, "key")?;
                let vlen = u32::from_be_bytes(r.array("value length")?) as usize;
                if vlen > MAX_VALUE_LEN {
                    return Err(corrupt(format!("value length {vlen} out of range")));
                }
                let value = r.bytes(vlen, "value")?;
                if last_key.as_ref().is_some_and(|prev| *prev >= key) {
                    return Err(corrupt("keys out of order"));
                }
                last_key = Some(key.clone());
                pairs += 1;
                sink(Record::Pair(key, value))?;
            }
            TAG_END => {
                let want_buckets = u64::from_be_bytes(r.array("trailer")?);
                let want_pairs = u64::from_be_bytes(r.array("trailer")?);
                let computed = r.crc;
                let mut crc = [0u8; 4];
                r.inner.read_exact(&mut crc).map_err(|_| corrupt("truncated in checksum"))?;
                let stored = u32::from_be_bytes(crc);
                if stored != computed {
                    return Err(corrupt(format!(
                        "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                    )));
                }
                if (want_buckets, want_pairs) != (buckets, pairs) {
                    return Err(corrupt("record counts do not match the trailer"));
                }
                let mut extra = [0u8; 1];
                if r.inner.read(&mut extra)? != 0 {
                    return Err(corrupt("data after the checksum"));
                }
                return Ok(Summary { buckets, pairs, bytes: r.bytes + 4, checksum: stored });
            }
            other => return Err(corrupt(format!("unknown record tag {other:#04x} at byte {}", r.bytes - 1))),
        }
    }
}

fn sibling(dir: &Path, suffix: &str) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .ok_or_else(|| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, "import target has no file name")))?;
    let mut tmp = name.to_os_string();
    tmp.push(suffix);
    Ok(dir.with_file_name(tmp))
}

/// Builds a store of engine `B` in `dir` from a snapshot; see [`Backend::import`].
pub fn import<B: Backend>(dir: &Path, options: &Options, input: &mut dyn Read) -> Result<(B, Summary)> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(Error::TargetNotEmpty(dir.to_path_buf()));
    }
    let tmp = sibling(dir, ".import-tmp")?;
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    let built = build::<B>(&tmp, input);
    let summary = match built {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if dir.exists() {
        std::fs::remove_dir(dir)?;
    }
    std::fs::rename(&tmp, dir)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok((B::open(dir, options)?, summary))
}

fn build<B: Backend>(tmp: &Path, input: &mut dyn Read) -> Result<Summary> {
    let store = B::open(tmp, &Options { durability: crate::Durability::Relaxed, ..Options::default() })?;
    let mut batch = WriteBatch::new();
    let mut bucket = String::new();
    let summary = read(input, &mut |record| {
        match record {
            Record::Bucket(name) => bucket = name,
            Record::Pair(key, value) => batch.put(bucket.clone(), key, value)?,
        }
        if batch.payload_bytes() >= IMPORT_BATCH_BYTES {
            store.commit(std::mem::take(&mut batch))?;
        }
        Ok(())
    })?;
    store.commit(batch)?;
    store.sync()?;
    drop(store);
    Ok(summary)
}

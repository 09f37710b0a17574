//! The body of the `snapshot_import` fuzz target, shared with the stable test
//! `storage/tests/fuzz_snapshot_import.rs`, so that CI checks the same property
//! without nightly.
//!
//! For any bytes, [`check`] asserts that `cairn_storage::snapshot::read`:
//! - does not panic;
//! - never has more than [`alloc_bound`] bytes allocated (a length field can never
//!   make it allocate beyond what the input holds: a snapshot comes from a peer);
//! - accepts only the canonical encoding of the records it hands out, so what it
//!   accepts re-encodes to the same bytes, and its summary describes them;
//!
//! and that `MemBackend::import` accepts what `read` accepts, and holds
//! exactly those pairs afterwards (its export is their canonical encoding, empty
//! buckets aside).
//!
//! It reads the input as it is, and also with its last four bytes replaced by the
//! checksum of the rest, so that the reader's record parsing sees arbitrary bytes
//! rather than mostly checksum failures.
//!
//! The binary that includes this file must install [`CountingAlloc`] as its global
//! allocator; [`check`] fails otherwise.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_storage::snapshot::{self, Record};
use cairn_storage::{Backend, MemBackend, Options};

/// Bytes reading may hold allocated per byte of input: a record's key and value
/// are read into buffers that grow with the bytes that actually arrive (at most
/// doubling), never with a length field.
pub const ALLOC_PER_INPUT_BYTE: usize = 4;
/// Bytes reading may allocate whatever the input (error messages, first buffers).
pub const ALLOC_SLACK: usize = 64 << 10;

const MAGIC: &[u8; 8] = b"CAIRNSNP";
const VERSION: u32 = 1;

/// The most bytes reading `input_len` bytes may hold allocated at any moment.
pub fn alloc_bound(input_len: usize) -> usize {
    input_len.saturating_mul(ALLOC_PER_INPUT_BYTE).saturating_add(ALLOC_SLACK)
}

/// Checks reading and importing `data` as it is and with a correct checksum.
pub fn check(data: &[u8]) {
    static METERED: Once = Once::new();
    METERED.call_once(|| {
        let (_, peak) = measure(|| Vec::<u8>::with_capacity(64));
        assert!(peak >= 64, "CountingAlloc is not the global allocator: allocations are not measured");
    });
    check_bytes(data);
    if let Some(sealed) = seal(data) {
        check_bytes(&sealed);
    }
}

/// `data` with its last four bytes replaced by the CRC32C of the bytes before them
/// (a whole snapshot stays as it is); `None` when it is shorter than that.
pub fn seal(data: &[u8]) -> Option<Vec<u8>> {
    let body = data.len().checked_sub(4).map(|at| &data[..at])?;
    let mut out = body.to_vec();
    out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
    Some(out)
}

/// The canonical encoding of `records` (as `snapshot::write` would write them).
pub fn encode(records: &[Record]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&VERSION.to_be_bytes());
    let (mut buckets, mut pairs) = (0u64, 0u64);
    for record in records {
        match record {
            Record::Bucket(name) => {
                buckets += 1;
                out.push(1);
                out.extend_from_slice(&u16::try_from(name.len()).expect("a short bucket name").to_be_bytes());
                out.extend_from_slice(name.as_bytes());
            }
            Record::Pair(key, value) => {
                pairs += 1;
                out.push(2);
                out.extend_from_slice(&u32::try_from(key.len()).expect("a short key").to_be_bytes());
                out.extend_from_slice(key);
                out.extend_from_slice(&u32::try_from(value.len()).expect("a short value").to_be_bytes());
                out.extend_from_slice(value);
            }
        }
    }
    out.push(0);
    out.extend_from_slice(&buckets.to_be_bytes());
    out.extend_from_slice(&pairs.to_be_bytes());
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn check_bytes(bytes: &[u8]) {
    // Reading alone, records dropped as they come: what the reader itself holds.
    let (read, peak) = measure(|| snapshot::read(&mut &bytes[..], &mut |_| Ok(())));
    let bound = alloc_bound(bytes.len());
    assert!(peak <= bound, "reading {} bytes held {peak} bytes allocated, over the bound of {bound}", bytes.len());
    let mut records = Vec::new();
    let again = snapshot::read(&mut &bytes[..], &mut |record| {
        records.push(record);
        Ok(())
    });
    assert_eq!(read.is_ok(), again.is_ok(), "reading the same bytes twice disagreed");
    // Import reads with `read` too, so it refuses whatever `read` refuses; it is run
    // (with its directory work) only on what `read` accepts.
    let Ok(summary) = read else { return };
    let imported = import(bytes);
    let encoded = encode(&records);
    assert!(
        encoded == bytes,
        "the snapshot read is not the canonical encoding of its records:\n  read    {bytes:02x?}\n  encoded {encoded:02x?}"
    );
    let buckets = records.iter().filter(|r| matches!(r, Record::Bucket(_))).count() as u64;
    let pairs = records.len() as u64 - buckets;
    assert_eq!((summary.buckets, summary.pairs, summary.bytes), (buckets, pairs, bytes.len() as u64));
    let (imported_summary, exported) = match imported {
        Ok(imported) => imported,
        Err(e) => panic!("read accepted the snapshot but import refused it: {e}"),
    };
    assert_eq!(imported_summary, summary, "import and read summed up the same snapshot differently");
    // A store holds no empty bucket: the export lists only buckets with pairs.
    let mut kept = Vec::new();
    let mut pending = None;
    for record in records {
        match record {
            Record::Bucket(name) => pending = Some(name),
            Record::Pair(key, value) => {
                if let Some(name) = pending.take() {
                    kept.push(Record::Bucket(name));
                }
                kept.push(Record::Pair(key, value));
            }
        }
    }
    let expected = encode(&kept);
    assert!(exported == expected, "the imported store exports other pairs than the snapshot held");
}

/// Imports `bytes` into a fresh `MemBackend` and exports it again.
fn import(bytes: &[u8]) -> Result<(snapshot::Summary, Vec<u8>), cairn_storage::Error> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let base = std::env::temp_dir().join(format!("cairn-fuzz-snapshot-import-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&base).expect("create a directory to import into");
    let dir: PathBuf = base.join("store");
    let result = MemBackend::import(&dir, &Options::default(), &mut &bytes[..]).and_then(|(store, summary)| {
        let mut out = Vec::new();
        store.export(&mut out)?;
        Ok((summary, out))
    });
    let _ = std::fs::remove_dir_all(&base);
    result
}

/// A global allocator that counts, per thread, the bytes allocated while [`measure`] runs.
pub struct CountingAlloc;

struct Meter {
    on: Cell<bool>,
    live: Cell<isize>,
    peak: Cell<isize>,
}

thread_local! {
    // Constant-initialized and without a destructor: using it never allocates.
    static METER: Meter = const { Meter { on: Cell::new(false), live: Cell::new(0), peak: Cell::new(0) } };
}

fn note(delta: isize) {
    let _ = METER.try_with(|m| {
        if m.on.get() {
            let live = m.live.get() + delta;
            m.live.set(live);
            m.peak.set(m.peak.get().max(live));
        }
    });
}

/// Runs `f` and returns its result with the most bytes it held allocated at once
/// (what it returns included), on this thread.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    METER.with(|m| {
        m.live.set(0);
        m.peak.set(0);
        m.on.set(true);
    });
    let result = f();
    let peak = METER.with(|m| {
        m.on.set(false);
        m.peak.get()
    });
    (result, usize::try_from(peak).unwrap_or(0))
}

fn size(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// SAFETY: every call is passed on to `System` unchanged; only sizes are counted.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note(size(layout.size()));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note(size(layout.size()));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        note(-size(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            note(size(new_size) - size(layout.size()));
        }
        new
    }
}

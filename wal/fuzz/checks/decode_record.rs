//! The body of the `decode_record` fuzz target, shared with the stable test
//! `wal/tests/fuzz_decode_record.rs`, so that CI checks the same property without
//! nightly.
//!
//! For any bytes, [`check`] asserts that `cairn_wal::decode_record`:
//! - does not panic;
//! - never has more than [`alloc_bound`] bytes allocated (a length field can never
//!   make it allocate beyond what the input holds);
//! - re-encodes whatever it decodes to the same frame bytes (padding aside), so a
//!   record has exactly one encoding.
//!
//! It decodes the input as it is, and also as the body (type byte and payload) of a
//! frame with a correct length and checksum, so that the payload decoders see
//! arbitrary bytes rather than mostly checksum failures.
//!
//! The binary that includes this file must install [`CountingAlloc`] as its global
//! allocator; [`check`] fails otherwise.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Once;

use cairn_wal::{DEFAULT_MAX_RECORD_SIZE, FRAME_HEADER_LEN, decode_record, encode_record};

/// Bytes decoding may hold allocated per byte of input. Every 4 bytes of an entries
/// payload may be one more entry, which is a `raft::eraftpb::Entry` of about 100
/// bytes in memory, and 2 bytes of a protobuf message may be an unknown field that
/// takes a hash map slot: the bound is linear in the input, never in a length field.
pub const ALLOC_PER_INPUT_BYTE: usize = 64;
/// Bytes decoding may allocate whatever the input (error messages and the like).
pub const ALLOC_SLACK: usize = 16 << 10;

/// The most bytes decoding `input_len` bytes may hold allocated at any moment.
pub fn alloc_bound(input_len: usize) -> usize {
    input_len.saturating_mul(ALLOC_PER_INPUT_BYTE).saturating_add(ALLOC_SLACK)
}

/// Checks the decoder on `data` as it is and as the body of a well-framed record.
pub fn check(data: &[u8]) {
    static METERED: Once = Once::new();
    METERED.call_once(|| {
        let (_, peak) = measure(|| Vec::<u8>::with_capacity(64));
        assert!(peak >= 64, "CountingAlloc is not the global allocator: allocations are not measured");
    });
    check_bytes(data);
    check_bytes(&frame(data));
}

/// Frames `body` (a type byte and a payload) with its length and a correct checksum.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len), body);
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn check_bytes(bytes: &[u8]) {
    let (decoded, peak) = measure(|| decode_record(bytes));
    let bound = alloc_bound(bytes.len());
    assert!(peak <= bound, "decoding {} bytes held {peak} bytes allocated, over the bound of {bound}", bytes.len());
    let (record, used) = match decoded {
        Ok(Some(decoded)) => decoded,
        Ok(None) => {
            let zero_len = bytes.first_chunk::<4>().map_or(bytes.iter().all(|&b| b == 0), |len| *len == [0; 4]);
            assert!(zero_len, "the end of the data reported for bytes that do not start with a zero length");
            return;
        }
        Err(_) => return,
    };
    let len_field = bytes.first_chunk::<4>().map(|len| u32::from_le_bytes(*len));
    let frame_end = FRAME_HEADER_LEN + len_field.expect("a decoded record has a length field") as usize;
    let padded_end = frame_end.next_multiple_of(8);
    assert!(
        frame_end <= used && used <= padded_end.min(bytes.len()),
        "{used} bytes used for a frame of {frame_end} bytes in {} bytes",
        bytes.len()
    );
    let mut encoded = Vec::new();
    if let Err(e) = encode_record(&record, DEFAULT_MAX_RECORD_SIZE, &mut encoded) {
        panic!("{record:?} was decoded but does not encode: {e}");
    }
    assert!(
        encoded.len() == padded_end && encoded[..frame_end] == bytes[..frame_end],
        "{record:?} re-encodes to other bytes:\n  decoded {:02x?}\n  encoded {:02x?}",
        &bytes[..frame_end],
        &encoded[..encoded.len().min(frame_end)],
    );
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

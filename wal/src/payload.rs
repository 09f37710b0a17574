//! Payloads of the record types: what follows the type byte of a frame.
//!
//! - header: `b"cairnwal"`, version `u32`, seq `u64`, first index `u64`;
//! - entries: count `u32`, then per entry its protobuf length `u32` and bytes, then
//!   `0u8`, or `1u8` and the hard state's protobuf length `u32` and bytes;
//! - hard state, snapshot: the protobuf `HardState`, `SnapshotMetadata`.
//!
//! Integers are little-endian. Every length is checked against the bytes left
//! before it is used, so what the decoder allocates is bounded by a small multiple
//! of the payload's own size (an entry in memory is larger than its 4-byte length
//! prefix), never by a length field.
//!
//! A record has exactly one encoding: protobuf messages are accepted only in the
//! canonical form the encoder writes (fields in order, default values omitted, no
//! unknown fields, minimal varints), so whatever decodes re-encodes to the same
//! bytes. Anything else that passes the checksum was not written by this WAL.

use bytes::Bytes;
use protobuf::{CodedInputStream, Message};
use raft::eraftpb::{Entry, HardState, SnapshotMetadata};

use crate::error::Result;
use crate::record::{Record, RecordError, SegmentHeader, kind};

const HEADER_MAGIC: &[u8; 8] = b"cairnwal";
const FORMAT_VERSION: u32 = 1;

pub(crate) fn encode_header(out: &mut Vec<u8>, header: &SegmentHeader) {
    out.extend_from_slice(HEADER_MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&header.seq.to_le_bytes());
    out.extend_from_slice(&header.first_index.to_le_bytes());
}

/// Appends an entries payload. On error `out` may hold a partial payload; the caller
/// truncates it.
pub(crate) fn encode_entries(out: &mut Vec<u8>, entries: &[Entry], hard_state: Option<&HardState>) -> Result<()> {
    // The count is bounded by the record size, which is bounded by u32.
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for entry in entries {
        encode_prefixed(out, entry)?;
    }
    match hard_state {
        None => out.push(0),
        Some(hs) => {
            out.push(1);
            encode_prefixed(out, hs)?;
        }
    }
    Ok(())
}

/// Bytes [`encode_entries`] adds for one entry.
pub(crate) fn entry_size(entry: &Entry) -> u64 {
    4 + u64::from(entry.compute_size())
}

/// Bytes [`encode_entries`] adds besides the entries themselves.
pub(crate) fn entries_overhead(hard_state: Option<&HardState>) -> u64 {
    4 + 1 + hard_state.map_or(0, |hs| 4 + u64::from(hs.compute_size()))
}

fn encode_prefixed(out: &mut Vec<u8>, message: &impl Message) -> Result<()> {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    message.write_to_vec(out)?;
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Decodes the payload of a record of type `kind`.
pub(crate) fn decode(kind: u8, payload: &[u8]) -> Result<Record, RecordError> {
    match kind {
        kind::HEADER => decode_header(payload),
        kind::ENTRIES => decode_entries(payload),
        kind::HARD_STATE => Ok(Record::HardState(parse("hard state", payload, &mut Vec::new())?)),
        kind::SNAPSHOT => Ok(Record::Snapshot(parse::<SnapshotMetadata>("snapshot", payload, &mut Vec::new())?)),
        other => Err(RecordError::UnknownType(other)),
    }
}

fn decode_header(payload: &[u8]) -> Result<Record, RecordError> {
    let mut r = Reader { buf: payload, kind: "header" };
    if r.take(8)? != HEADER_MAGIC {
        return Err(r.malformed("bad magic"));
    }
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(r.malformed(&format!("unsupported format version {version}")));
    }
    let header = SegmentHeader { seq: r.u64()?, first_index: r.u64()? };
    r.finish()?;
    Ok(Record::Header(header))
}

fn decode_entries(payload: &[u8]) -> Result<Record, RecordError> {
    let mut r = Reader { buf: payload, kind: "entries" };
    let count = r.u32()? as usize;
    // Each entry takes at least its 4 length bytes: a larger count is a lie.
    if count > r.buf.len() / 4 {
        return Err(r.malformed(&format!("{count} entries cannot fit in {} bytes", r.buf.len())));
    }
    let mut entries = Vec::with_capacity(count);
    let mut scratch = Vec::new();
    for _ in 0..count {
        let len = r.u32()? as usize;
        entries.push(parse::<Entry>("entries", r.take(len)?, &mut scratch)?);
    }
    let hard_state = match r.take(1)?[0] {
        0 => None,
        1 => {
            let len = r.u32()? as usize;
            Some(parse("entries", r.take(len)?, &mut scratch)?)
        }
        flag => return Err(r.malformed(&format!("bad hard state flag {flag}"))),
    };
    r.finish()?;
    Ok(Record::Entries { entries, hard_state })
}

/// Parses `bytes` as an `M` if they are its canonical encoding: the message is
/// encoded again into `scratch` (reused, so a batch of entries allocates it once) and
/// must come out the same.
///
/// protobuf parses from a `Bytes` copy, under a limit of its length: it then checks
/// every length field against the bytes left before allocating (from a plain slice it
/// reserves whatever a `bytes` field's length says, up to 10 MB, and only then finds
/// the bytes missing), and the `Bytes` fields of an entry share the copy.
fn parse<M: Message>(kind: &'static str, bytes: &[u8], scratch: &mut Vec<u8>) -> Result<M, RecordError> {
    let malformed = |reason: String| RecordError::Malformed { kind, reason };
    let owned = Bytes::copy_from_slice(bytes);
    let mut input = CodedInputStream::from_carllerche_bytes(&owned);
    let message = input
        .push_limit(bytes.len() as u64)
        .and_then(|_| M::parse_from(&mut input))
        .map_err(|e| malformed(e.to_string()))?;
    scratch.clear();
    let canonical = message.compute_size() as usize == bytes.len()
        && message.write_to_vec(scratch).is_ok()
        && scratch.as_slice() == bytes;
    if !canonical {
        return Err(malformed(
            "protobuf not in canonical form (unknown, repeated or reordered fields, default values, overlong varints)"
                .into(),
        ));
    }
    Ok(message)
}

/// Bounds-checked reading of a payload.
struct Reader<'a> {
    buf: &'a [u8],
    kind: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if n > self.buf.len() {
            return Err(self.malformed(&format!("needs {n} bytes, {} left", self.buf.len())));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn finish(&self) -> Result<(), RecordError> {
        if self.buf.is_empty() { Ok(()) } else { Err(self.malformed(&format!("{} trailing bytes", self.buf.len()))) }
    }

    fn malformed(&self, reason: &str) -> RecordError {
        RecordError::Malformed { kind: self.kind, reason: reason.to_string() }
    }
}

//! Records and their CRC32C framing: the unit the log is written and read in.
//!
//! A frame is `[len: u32 LE][crc: u32 LE][type: u8][payload]`, then zero padding to
//! a multiple of 8 bytes. `len` counts the type byte and the payload, so it is never
//! 0 for a real record: a zero length marks the end of written data (segments are
//! zero-filled up front). `crc` is CRC32C over the 4 length bytes, the type byte and
//! the payload. Frames start 8-aligned, so a length field never straddles a disk
//! sector and a torn write leaves it either whole or zero.

use protobuf::Message;
use raft::eraftpb::{Entry, HardState, SnapshotMetadata};

use crate::error::{Error, Result};
use crate::options::DEFAULT_MAX_RECORD_SIZE;
use crate::payload;

/// Bytes before a record's type byte: the length and the checksum.
pub const FRAME_HEADER_LEN: usize = 8;

/// One unit of the log.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// The first record of every segment.
    Header(SegmentHeader),
    /// The entries of one save (one raft `Ready`) and the hard state saved with them,
    /// in one record so that both land or neither does.
    Entries {
        /// Consecutive entries; a first index at or below the log's last index
        /// replaces the log from there on.
        entries: Vec<Entry>,
        /// The hard state of the same `Ready`, if it changed.
        hard_state: Option<HardState>,
    },
    /// A hard state saved on its own, or carried into a new segment's preamble.
    HardState(HardState),
    /// A snapshot with this metadata was written to the snapshot directory.
    Snapshot(SnapshotMetadata),
}

/// What the first record of a segment says about it (the file name says the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The segment's sequence number: 0 for the first segment ever, then +1 each.
    pub seq: u64,
    /// The log's last index + 1 when the segment was created.
    pub first_index: u64,
}

/// Why bytes do not decode as a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The frame claims more bytes than there are.
    #[error("record truncated: needs {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the frame needs.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The length field exceeds the limit (checked before anything is allocated).
    #[error("record length {len} exceeds the limit of {max}")]
    TooLarge {
        /// The length field.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The checksum does not match the bytes.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// The stored checksum.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// The checksum matches but the type byte is unknown (written by a newer version?).
    #[error("unknown record type {0}")]
    UnknownType(u8),
    /// The checksum matches but the payload does not parse.
    #[error("malformed {kind} payload: {reason}")]
    Malformed {
        /// The record type.
        kind: &'static str,
        /// What does not parse.
        reason: String,
    },
}

impl RecordError {
    /// Whether an interrupted write can leave bytes that fail this way. A frame with a
    /// matching checksum was written whole, so a bad type or payload never can.
    pub fn may_be_torn(&self) -> bool {
        matches!(self, RecordError::Truncated { .. } | RecordError::TooLarge { .. } | RecordError::Checksum { .. })
    }
}

/// Record type bytes.
pub(crate) mod kind {
    pub const HEADER: u8 = 1;
    pub const ENTRIES: u8 = 2;
    pub const HARD_STATE: u8 = 3;
    pub const SNAPSHOT: u8 = 4;

    pub fn is_known(kind: u8) -> bool {
        (HEADER..=SNAPSHOT).contains(&kind)
    }
}

/// Decodes the record at the start of `buf` with the default length limit.
///
/// Returns `Ok(None)` at the end of written data (a zero length field, or fewer
/// than 4 bytes that are all zero), otherwise the record and the bytes it occupies
/// including padding. Never panics and never allocates more than `buf` holds.
pub fn decode_record(buf: &[u8]) -> Result<Option<(Record, usize)>, RecordError> {
    decode_record_with_limit(buf, DEFAULT_MAX_RECORD_SIZE)
}

/// [`decode_record`] with a limit on the length field.
pub fn decode_record_with_limit(buf: &[u8], max_len: u32) -> Result<Option<(Record, usize)>, RecordError> {
    match check_frame(buf, max_len)? {
        None => Ok(None),
        Some(frame) => Ok(Some((payload::decode(frame.kind, frame.payload)?, frame.consumed))),
    }
}

/// Appends `record` as one frame to `out`.
pub fn encode_record(record: &Record, max_len: u32, out: &mut Vec<u8>) -> Result<()> {
    let start = match record {
        Record::Header(header) => {
            let start = begin_frame(out, kind::HEADER);
            payload::encode_header(out, header);
            start
        }
        Record::Entries { entries, hard_state } => {
            let start = begin_frame(out, kind::ENTRIES);
            payload::encode_entries(out, entries, hard_state.as_ref()).inspect_err(|_| out.truncate(start))?;
            start
        }
        Record::HardState(hs) => encode_message(out, kind::HARD_STATE, hs)?,
        Record::Snapshot(meta) => encode_message(out, kind::SNAPSHOT, meta)?,
    };
    finish_frame(out, start, max_len)
}

fn encode_message(out: &mut Vec<u8>, kind: u8, message: &impl Message) -> Result<usize> {
    let start = begin_frame(out, kind);
    message.write_to_vec(out).inspect_err(|_| out.truncate(start))?;
    Ok(start)
}

/// Starts a frame of type `kind` at the end of `out`; returns where it starts.
pub(crate) fn begin_frame(out: &mut Vec<u8>, kind: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    out.push(kind);
    start
}

/// Fills in the length and checksum of the frame begun at `start` and pads it. A
/// frame over `max_len` is removed from `out` and reported as [`Error::TooLarge`].
pub(crate) fn finish_frame(out: &mut Vec<u8>, start: usize, max_len: u32) -> Result<()> {
    let len = out.len() - start - FRAME_HEADER_LEN;
    let len32 = match u32::try_from(len) {
        Ok(len32) if len32 <= max_len => len32,
        _ => {
            out.truncate(start);
            return Err(Error::TooLarge { len: len as u64, max: u64::from(max_len) });
        }
    };
    out[start..start + 4].copy_from_slice(&len32.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len32.to_le_bytes()), &out[start + FRAME_HEADER_LEN..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    out.resize(start + aligned(FRAME_HEADER_LEN + len), 0);
    Ok(())
}

/// `n` rounded up to the frame alignment (8).
pub(crate) fn aligned(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// A frame whose length and checksum are good.
pub(crate) struct Frame<'a> {
    pub kind: u8,
    pub payload: &'a [u8],
    /// Bytes the frame occupies, padding included (cut short at the end of `buf`).
    pub consumed: usize,
}

/// Checks the frame at the start of `buf` without looking into its payload.
pub(crate) fn check_frame(buf: &[u8], max_len: u32) -> Result<Option<Frame<'_>>, RecordError> {
    let Some(len_bytes) = buf.first_chunk::<4>() else {
        return if buf.iter().all(|&b| b == 0) {
            Ok(None)
        } else {
            Err(RecordError::Truncated { needed: FRAME_HEADER_LEN as u64, available: buf.len() as u64 })
        };
    };
    let len = u32::from_le_bytes(*len_bytes);
    if len == 0 {
        return Ok(None);
    }
    if len > max_len {
        return Err(RecordError::TooLarge { len: u64::from(len), max: u64::from(max_len) });
    }
    let end = FRAME_HEADER_LEN + len as usize;
    let (Some(body), Some(stored)) = (buf.get(FRAME_HEADER_LEN..end), buf.get(4..8)) else {
        return Err(RecordError::Truncated { needed: end as u64, available: buf.len() as u64 });
    };
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let computed = crc32c::crc32c_append(crc32c::crc32c(len_bytes), body);
    if stored != computed {
        return Err(RecordError::Checksum { stored, computed });
    }
    Ok(Some(Frame { kind: body[0], payload: &body[1..], consumed: aligned(end).min(buf.len()) }))
}

/// Whether a whole, checksummed frame of a known type starts at `buf[0]`. Cheap for
/// zeros and noise: the checksum is only computed when the header looks plausible.
pub(crate) fn is_intact_frame(buf: &[u8], max_len: u32) -> bool {
    let Some(len_bytes) = buf.first_chunk::<4>() else { return false };
    let len = u32::from_le_bytes(*len_bytes);
    if len == 0 || len > max_len || buf.len() < FRAME_HEADER_LEN + len as usize {
        return false;
    }
    kind::is_known(buf[FRAME_HEADER_LEN]) && check_frame(buf, max_len).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry { index, term, data: data.to_vec().into(), ..Default::default() }
    }

    fn round_trip(record: Record) {
        let mut buf = Vec::new();
        encode_record(&record, DEFAULT_MAX_RECORD_SIZE, &mut buf).expect("encode record");
        assert_eq!(buf.len() % 8, 0);
        let (decoded, used) = decode_record(&buf).expect("decode record").expect("a record");
        assert_eq!(decoded, record);
        assert_eq!(used, buf.len());
        assert!(is_intact_frame(&buf, DEFAULT_MAX_RECORD_SIZE));
    }

    #[test]
    fn every_record_type_round_trips() {
        round_trip(Record::Header(SegmentHeader { seq: 7, first_index: 42 }));
        round_trip(Record::Entries { entries: vec![entry(1, 1, b"a"), entry(2, 1, b"")], hard_state: None });
        let hs = HardState { term: 3, vote: 2, commit: 1, ..Default::default() };
        round_trip(Record::Entries { entries: vec![entry(5, 3, &[9; 300])], hard_state: Some(hs.clone()) });
        round_trip(Record::HardState(HardState::default()));
        round_trip(Record::HardState(hs));
        let mut meta = SnapshotMetadata { index: 10, term: 2, ..Default::default() };
        meta.mut_conf_state().voters = vec![1, 2, 3];
        round_trip(Record::Snapshot(meta));
    }

    #[test]
    fn zeros_and_empty_input_are_the_end() {
        assert_eq!(decode_record(&[]).expect("decode record"), None);
        assert_eq!(decode_record(&[0; 3]).expect("decode record"), None);
        assert_eq!(decode_record(&[0; 64]).expect("decode record"), None);
        assert!(matches!(decode_record(&[0, 1]), Err(RecordError::Truncated { .. })));
    }

    #[test]
    fn huge_length_is_rejected_before_allocating() {
        let mut buf = vec![0xff, 0xff, 0xff, 0xfe];
        buf.extend_from_slice(&[0; 60]);
        assert_eq!(
            decode_record(&buf),
            Err(RecordError::TooLarge { len: 0xfeff_ffff, max: u64::from(DEFAULT_MAX_RECORD_SIZE) })
        );
        assert!(matches!(decode_record_with_limit(&buf[..8], u32::MAX), Err(RecordError::Truncated { .. })));
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let mut buf = Vec::new();
        encode_record(&Record::HardState(HardState { term: 1, ..Default::default() }), 1024, &mut buf)
            .expect("encode record");
        for i in 4..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            match decode_record(&bad) {
                Err(RecordError::Checksum { .. }) => {}
                // A flip in the padding changes nothing.
                Ok(Some(_)) if i >= FRAME_HEADER_LEN + 3 => {}
                other => panic!("byte {i}: {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_record_is_refused_on_encode() {
        let record = Record::Entries { entries: vec![entry(1, 1, &[0; 200])], hard_state: None };
        let mut buf = vec![1, 2, 3];
        let err = encode_record(&record, 100, &mut buf).expect_err("an error");
        assert!(matches!(err, Error::TooLarge { max: 100, .. }), "{err}");
        assert_eq!(buf, [1, 2, 3]);
    }
}

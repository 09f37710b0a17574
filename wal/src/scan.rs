//! Reading one segment's bytes into records and telling a torn tail from corruption.
//!
//! Pure: it sees a byte slice, never a file. The rule, for the LAST segment only:
//! the first position that is not a whole record (a zero length, a short frame, a
//! length over the limit, a checksum mismatch) ends the log. If nonzero bytes follow
//! it, they are the remains of the one save that was in flight at the crash — unless
//! an intact frame can be found among them at any 8-aligned offset, which an
//! interrupted write cannot produce (every save is one record written after the
//! previous one was fsynced), so that is corruption. In an older segment everything
//! was fsynced before the next segment was created, so any damage is corruption.

use crate::record::{FRAME_HEADER_LEN, Record, check_frame, is_intact_frame};

/// The records of a segment and where its written data ends.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Each record with its byte offset.
    pub records: Vec<(usize, Record)>,
    /// End of the last whole record: where the next record goes.
    pub end: usize,
    /// End of the nonzero bytes of a torn tail, or `end` when there is none. The
    /// bytes in `end..garbage_end` must be zeroed before appending.
    pub garbage_end: usize,
}

/// Where and why a segment cannot be trusted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanError {
    /// Byte offset of the bad record.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

/// Decodes `buf`, the whole contents of a segment.
pub(crate) fn scan_segment(buf: &[u8], is_last: bool, max_len: u32) -> Result<Scan, ScanError> {
    let mut records = Vec::new();
    let mut pos = 0;
    let stop_reason = loop {
        match check_frame(&buf[pos..], max_len) {
            Ok(Some(frame)) => match crate::payload::decode(frame.kind, frame.payload) {
                Ok(record) => {
                    records.push((pos, record));
                    pos += frame.consumed;
                }
                // A checksummed frame was written whole: a bad payload is never torn.
                Err(e) => return Err(ScanError { offset: pos, reason: e.to_string() }),
            },
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    let garbage_end = last_nonzero(buf, pos);
    if garbage_end == pos {
        return Ok(Scan { records, end: pos, garbage_end });
    }
    let reason = stop_reason.unwrap_or_else(|| "nonzero bytes after the end of the log".to_string());
    if !is_last {
        return Err(ScanError { offset: pos, reason: format!("{reason} (in a segment that is not the last)") });
    }
    if let Some(next) = find_intact_frame(buf, pos + FRAME_HEADER_LEN, garbage_end, max_len) {
        return Err(ScanError {
            offset: pos,
            reason: format!("{reason}, yet an intact record follows at offset {next}"),
        });
    }
    Ok(Scan { records, end: pos, garbage_end })
}

/// The offset just past the last nonzero byte of `buf[from..]`, or `from`.
fn last_nonzero(buf: &[u8], from: usize) -> usize {
    const BLOCK: usize = 4096;
    let tail = &buf[from..];
    let mut end = tail.len();
    // Most of a young segment is zeros: skip them a block at a time (an OR-fold
    // vectorizes; a short-circuiting search does not).
    while end >= BLOCK && tail[end - BLOCK..end].iter().fold(0, |acc, &b| acc | b) == 0 {
        end -= BLOCK;
    }
    tail[..end].iter().rposition(|&b| b != 0).map_or(from, |i| from + i + 1)
}

/// The first 8-aligned offset in `from..until` where an intact frame starts.
fn find_intact_frame(buf: &[u8], from: usize, until: usize, max_len: u32) -> Option<usize> {
    (from..until).step_by(8).find(|&at| is_intact_frame(&buf[at..], max_len))
}

#[cfg(test)]
mod tests {
    use raft::eraftpb::HardState;

    use super::*;
    use crate::record::encode_record;

    const MAX: u32 = 1 << 20;

    fn hs(term: u64) -> Record {
        Record::HardState(HardState { term, ..Default::default() })
    }

    fn segment(records: &[Record], size: usize) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut ends = Vec::new();
        for r in records {
            encode_record(r, MAX, &mut buf).expect("encode record");
            ends.push(buf.len());
        }
        buf.resize(size, 0);
        (buf, ends)
    }

    #[test]
    fn clean_segment_reads_every_record() {
        let (buf, ends) = segment(&[hs(1), hs(2), hs(3)], 256);
        let scan = scan_segment(&buf, false, MAX).expect("scan segment");
        assert_eq!(scan.records.len(), 3);
        assert_eq!((scan.end, scan.garbage_end), (ends[2], ends[2]));
    }

    #[test]
    fn torn_last_record_is_cut_only_in_the_last_segment() {
        let (mut buf, ends) = segment(&[hs(1), hs(2), hs(3)], 256);
        buf[ends[2] - 4] ^= 0xff; // inside the padding: harmless
        buf[ends[1] + 9] ^= 0xff; // inside the last record's payload
        let scan = scan_segment(&buf, true, MAX).expect("scan segment");
        assert_eq!(scan.records.len(), 2);
        assert_eq!(scan.end, ends[1]);
        assert!(scan.garbage_end > ends[1]);
        let err = scan_segment(&buf, false, MAX).expect_err("an error");
        assert_eq!(err.offset, ends[1]);
    }

    #[test]
    fn damage_followed_by_an_intact_record_is_corruption() {
        let (mut buf, ends) = segment(&[hs(1), hs(2), hs(3)], 256);
        buf[ends[0] + 9] ^= 0xff;
        let err = scan_segment(&buf, true, MAX).expect_err("an error");
        assert_eq!(err.offset, ends[0]);
        assert!(err.reason.contains("intact record follows"), "{}", err.reason);
        // A zeroed length in the middle is no excuse either.
        let (mut buf, ends) = segment(&[hs(1), hs(2), hs(3)], 256);
        buf[ends[0]..ends[0] + 4].fill(0);
        assert_eq!(scan_segment(&buf, true, MAX).expect_err("an error").offset, ends[0]);
    }

    #[test]
    fn last_nonzero_finds_the_end_of_the_garbage() {
        let mut buf = vec![0u8; 3 * 4096 + 100];
        assert_eq!(last_nonzero(&buf, 0), 0);
        assert_eq!(last_nonzero(&buf, 50), 50);
        for at in [0, 1, 4095, 4096, 8191, 3 * 4096 + 99] {
            buf[at] = 1;
            assert_eq!(last_nonzero(&buf, 0), at + 1);
            assert_eq!(last_nonzero(&buf, at + 1), at + 1);
        }
    }

    #[test]
    fn huge_length_field_is_an_error_not_an_allocation() {
        let (mut buf, ends) = segment(&[hs(1), hs(2), hs(3)], 256);
        buf[ends[0]..ends[0] + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = scan_segment(&buf, true, MAX).expect_err("an error");
        assert!(err.reason.contains("exceeds the limit"), "{}", err.reason);
    }
}

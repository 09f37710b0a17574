//! The record decoder on arbitrary bytes: the logic of the fuzz target.

mod common;

use cairn_wal::{FRAME_HEADER_LEN, RecordError, decode_record, encode_record};
use common::arb::arb_record;
use proptest::prelude::*;

const MAX: u32 = 1 << 20;

/// Frames `body` (a type byte and a payload) with a correct length and checksum, so
/// the payload decoders see arbitrary bytes instead of stopping at the checksum.
fn frame(body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_le_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len), body);
    let mut out = len.to_vec();
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(body);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(Some((_, used))) = decode_record(&bytes) {
            prop_assert!(used > FRAME_HEADER_LEN && used <= bytes.len());
        }
    }

    #[test]
    fn arbitrary_payloads_behind_a_good_checksum_never_panic(
        kind in 0u8..6,
        payload in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut body = vec![kind];
        body.extend_from_slice(&payload);
        match decode_record(&frame(&body)) {
            Ok(Some(_)) | Err(RecordError::Malformed { .. } | RecordError::UnknownType(_)) => {}
            other => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn mutated_payloads_behind_a_good_checksum_never_panic(
        record in arb_record(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let mut buf = Vec::new();
        encode_record(&record, MAX, &mut buf).expect("encode record");
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let mut body = buf[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len].to_vec();
        let i = at.index(body.len());
        body[i] = value;
        let _ = decode_record(&frame(&body));
    }

    #[test]
    fn records_round_trip(records in prop::collection::vec(arb_record(), 1..6)) {
        let mut buf = Vec::new();
        for record in &records {
            encode_record(record, MAX, &mut buf).expect("encode record");
        }
        buf.extend_from_slice(&[0; 16]);
        let mut at = 0;
        for record in &records {
            let (decoded, used) = decode_record(&buf[at..]).expect("decode record").expect("a record");
            prop_assert_eq!(&decoded, record);
            prop_assert_eq!(used % 8, 0);
            at += used;
        }
        prop_assert_eq!(decode_record(&buf[at..]).expect("decode record"), None);
    }

    #[test]
    fn any_length_field_is_bounded(len in any::<u32>(), tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = len.to_le_bytes().to_vec();
        buf.extend_from_slice(&tail);
        match decode_record(&buf) {
            Ok(None) => prop_assert_eq!(len, 0),
            Ok(Some((_, used))) => prop_assert!(used <= buf.len()),
            Err(RecordError::TooLarge { len: l, .. }) => prop_assert!(l > u64::from(cairn_wal::DEFAULT_MAX_RECORD_SIZE)),
            Err(_) => {}
        }
    }
}

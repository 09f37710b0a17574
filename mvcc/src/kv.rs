//! The stored form of a key's version, as etcd's `mvccpb.KeyValue`.

use bytes::Bytes;

use crate::{Error, Result};

/// One version of a key, with etcd's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyValue {
    /// The key.
    pub key: Bytes,
    /// The main revision of the put that created the key's current generation.
    pub create_revision: i64,
    /// The main revision of the put (or delete) that made this version.
    pub mod_revision: i64,
    /// Puts since the key was created, from 1; 0 for a deletion.
    pub version: i64,
    /// The value.
    pub value: Bytes,
    /// The lease attached to the key, 0 for none.
    pub lease: i64,
}

const FORMAT: u8 = 1;
const HEADER: usize = 1 + 8 * 4 + 4;

impl KeyValue {
    /// Encodes for the `key` bucket: a format byte, the four numbers and the key
    /// length big-endian, then key and value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.key.len() + self.value.len());
        out.push(FORMAT);
        for n in [self.create_revision, self.mod_revision, self.version, self.lease] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&(self.key.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.value);
        out
    }

    /// Decodes what [`KeyValue::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = || Error::Corrupt(format!("bad key-value record of {} bytes", bytes.len()));
        if bytes.len() < HEADER || bytes[0] != FORMAT {
            return Err(corrupt());
        }
        let num = |i: usize| {
            let at = 1 + i * 8;
            bytes[at..at + 8].try_into().map(i64::from_be_bytes).map_err(|_| corrupt())
        };
        let key_len = u32::from_be_bytes(bytes[33..37].try_into().map_err(|_| corrupt())?) as usize;
        if HEADER + key_len > bytes.len() {
            return Err(corrupt());
        }
        Ok(KeyValue {
            create_revision: num(0)?,
            mod_revision: num(1)?,
            version: num(2)?,
            lease: num(3)?,
            key: Bytes::copy_from_slice(&bytes[HEADER..HEADER + key_len]),
            value: Bytes::copy_from_slice(&bytes[HEADER + key_len..]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let kv = KeyValue {
            key: Bytes::from_static(b"foo"),
            create_revision: 2,
            mod_revision: 9,
            version: 4,
            value: Bytes::from_static(b"\x00bar\xff"),
            lease: 0x7fff_0000_1234,
        };
        let bytes = kv.encode();
        assert_eq!(KeyValue::decode(&bytes).ok(), Some(kv));
        assert!(KeyValue::decode(&bytes[..10]).is_err());
        let mut bad = bytes.clone();
        bad[36] = 200;
        assert!(KeyValue::decode(&bad).is_err());
        assert!(KeyValue::decode(&[]).is_err());
    }
}

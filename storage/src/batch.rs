//! The atomic write batch: puts and deletes over several buckets.

use std::borrow::Cow;

use crate::{Error, MAX_KEY_LEN, MAX_VALUE_LEN, Result};

/// One change in a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` to `value` in `bucket`, creating the bucket if needed.
    Put {
        /// The bucket.
        bucket: Cow<'static, str>,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key` from `bucket`; removing a missing key is not an error.
    Delete {
        /// The bucket.
        bucket: Cow<'static, str>,
        /// The key.
        key: Vec<u8>,
    },
}

/// Changes to apply together with [`crate::Backend::commit`]: all or nothing.
///
/// A batch is a plain buffer: building one touches no engine and holds no lock, and
/// dropping it without committing leaves the store untouched. Operations are applied
/// in the order they were added, so a later put or delete of the same key wins.
/// Every key, value and bucket name is checked when it is added, so a commit never
/// fails half-way on bad input.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
    bytes: usize,
}

/// Checks a bucket name: 1..=64 bytes of ASCII letters, digits or '_'.
pub fn validate_bucket(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok { Ok(()) } else { Err(Error::InvalidBucket(name.to_owned())) }
}

pub(crate) fn validate_key(key: &[u8]) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidKey { len: key.len() });
    }
    Ok(())
}

pub(crate) fn validate_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::ValueTooLarge { len: value.len() });
    }
    Ok(())
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put of `key` = `value` in `bucket`.
    pub fn put(
        &mut self,
        bucket: impl Into<Cow<'static, str>>,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Result<()> {
        let (bucket, key, value) = (bucket.into(), key.into(), value.into());
        validate_bucket(&bucket)?;
        validate_key(&key)?;
        validate_value(&value)?;
        self.bytes += key.len() + value.len();
        self.ops.push(BatchOp::Put { bucket, key, value });
        Ok(())
    }

    /// Adds a delete of `key` in `bucket`.
    pub fn delete(&mut self, bucket: impl Into<Cow<'static, str>>, key: impl Into<Vec<u8>>) -> Result<()> {
        let (bucket, key) = (bucket.into(), key.into());
        validate_bucket(&bucket)?;
        validate_key(&key)?;
        self.bytes += key.len();
        self.ops.push(BatchOp::Delete { bucket, key });
        Ok(())
    }

    /// The operations, in the order they were added.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// Takes the operations out, in the order they were added.
    pub fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }

    /// How many operations the batch holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The bytes of keys and values the batch holds.
    pub fn payload_bytes(&self) -> usize {
        self.bytes
    }
}

impl BatchOp {
    /// The bucket the operation changes.
    pub fn bucket(&self) -> &str {
        match self {
            BatchOp::Put { bucket, .. } | BatchOp::Delete { bucket, .. } => bucket,
        }
    }

    /// The key the operation changes.
    pub fn key(&self) -> &[u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key, .. } => key,
        }
    }
}

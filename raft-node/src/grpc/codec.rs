//! The wire form of raft messages: raft-rs's own protobuf encoding inside
//! `raftpeerpb` messages, and snapshots cut into chunks and put together again.
//! Pure: no I/O.

use bytes::{Bytes, BytesMut};
use cairn_proto::raftpeerpb::SnapshotChunk;
use protobuf::Message as _;
use raft::eraftpb::{Message, MessageType};

use super::error::SnapshotError;

/// Encodes `message` as raft-rs does (rust-protobuf 2).
pub(super) fn encode(message: &Message) -> Result<Vec<u8>, protobuf::ProtobufError> {
    message.write_to_bytes()
}

/// Decodes a message encoded by [`encode`].
pub(super) fn decode(bytes: &[u8]) -> Result<Message, protobuf::ProtobufError> {
    Message::parse_from_bytes(bytes)
}

/// The chunks of snapshot message `message`: the first carries the message
/// without its snapshot's data, and the data's size; each carries up to
/// `chunk_bytes` of data. Data is copied into a chunk only when it is taken.
pub(super) fn snapshot_chunks(
    from: u64,
    cluster_id: u64,
    mut message: Message,
    chunk_bytes: usize,
) -> Result<SnapshotChunks, protobuf::ProtobufError> {
    let data = message.mut_snapshot().take_data();
    let header = encode(&message)?;
    Ok(SnapshotChunks { header: Some((from, cluster_id, header)), data, chunk_bytes: chunk_bytes.max(1) })
}

/// An iterator over a snapshot's chunks (see [`snapshot_chunks`]).
pub(super) struct SnapshotChunks {
    header: Option<(u64, u64, Vec<u8>)>,
    data: Bytes,
    chunk_bytes: usize,
}

impl Iterator for SnapshotChunks {
    type Item = SnapshotChunk;

    fn next(&mut self) -> Option<SnapshotChunk> {
        let header = self.header.take();
        if header.is_none() && self.data.is_empty() {
            return None;
        }
        let data = self.data.split_to(self.chunk_bytes.min(self.data.len())).to_vec();
        Some(match header {
            Some((from, cluster_id, message)) => {
                let total_size = (self.data.len() + data.len()) as u64;
                SnapshotChunk { from, cluster_id, message, total_size, data }
            }
            None => SnapshotChunk { data, ..Default::default() },
        })
    }
}

/// Puts a snapshot message together from its chunks, checking them as they come.
#[derive(Debug)]
pub(super) struct SnapshotAssembler {
    message: Message,
    total: u64,
    data: BytesMut,
    chunks: u64,
}

impl SnapshotAssembler {
    /// Starts from the first chunk, refusing a snapshot of another cluster than
    /// `cluster_id` or larger than `max_bytes`.
    pub fn new(first: SnapshotChunk, cluster_id: u64, max_bytes: u64) -> Result<Self, SnapshotError> {
        if first.message.is_empty() {
            return Err(SnapshotError::NoHeader);
        }
        if first.cluster_id != cluster_id {
            return Err(SnapshotError::WrongCluster { ours: cluster_id, theirs: first.cluster_id });
        }
        let message = decode(&first.message).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
        if message.get_msg_type() != MessageType::MsgSnapshot {
            return Err(SnapshotError::NotSnapshot(format!("{:?}", message.get_msg_type())));
        }
        if first.total_size > max_bytes {
            return Err(SnapshotError::TooLarge { size: first.total_size, max: max_bytes });
        }
        let capacity = usize::try_from(first.total_size)
            .map_err(|_| SnapshotError::TooLarge { size: first.total_size, max: usize::MAX as u64 })?;
        let mut assembler = SnapshotAssembler { message, total: first.total_size, data: BytesMut::new(), chunks: 0 };
        assembler.data.reserve(capacity);
        assembler.push(first.data)?;
        Ok(assembler)
    }

    /// Adds the data of the next chunk.
    pub fn push(&mut self, data: Vec<u8>) -> Result<(), SnapshotError> {
        if self.data.len() as u64 + data.len() as u64 > self.total {
            return Err(SnapshotError::Overrun { total: self.total });
        }
        self.data.extend_from_slice(&data);
        self.chunks += 1;
        Ok(())
    }

    /// Chunks taken so far (the first included).
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// The complete message, if all the announced data came.
    pub fn finish(mut self) -> Result<Message, SnapshotError> {
        let got = self.data.len() as u64;
        if got != self.total {
            return Err(SnapshotError::Short { got, total: self.total });
        }
        self.message.mut_snapshot().set_data(self.data.freeze());
        Ok(self.message)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn snapshot_message(data: Vec<u8>) -> Message {
        let mut message = Message { from: 1, to: 2, term: 7, ..Default::default() };
        message.set_msg_type(MessageType::MsgSnapshot);
        let snapshot = message.mut_snapshot();
        snapshot.set_data(data.into());
        snapshot.mut_metadata().index = 42;
        snapshot.mut_metadata().term = 6;
        message
    }

    fn reassemble(chunks: Vec<SnapshotChunk>, cluster_id: u64) -> Result<Message, SnapshotError> {
        let mut chunks = chunks.into_iter();
        let mut assembler = SnapshotAssembler::new(chunks.next().ok_or(SnapshotError::Empty)?, cluster_id, 1 << 20)?;
        for chunk in chunks {
            assembler.push(chunk.data)?;
        }
        assembler.finish()
    }

    #[test]
    fn messages_round_trip_in_rafts_encoding() {
        let mut message = Message { from: 3, to: 1, term: 9, index: 5, commit: 4, ..Default::default() };
        message.set_msg_type(MessageType::MsgAppend);
        message.mut_entries().push(raft::eraftpb::Entry {
            index: 6,
            term: 9,
            data: b"x".to_vec().into(),
            ..Default::default()
        });
        let bytes = encode(&message).expect("encode");
        assert_eq!(bytes, message.write_to_bytes().expect("raft-rs's own encoding"));
        assert_eq!(decode(&bytes).expect("decode"), message);
    }

    #[test]
    fn a_snapshot_is_cut_into_chunks_and_put_together() {
        let data: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let message = snapshot_message(data.clone());
        let chunks: Vec<SnapshotChunk> = snapshot_chunks(1, 77, message.clone(), 300).expect("chunks").collect();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.data.len()).collect();
        assert_eq!(sizes, [300, 300, 300, 100]);
        assert_eq!((chunks[0].from, chunks[0].cluster_id, chunks[0].total_size), (1, 77, 1000));
        assert!(chunks[1..].iter().all(|c| c.message.is_empty() && c.total_size == 0));
        let header = decode(&chunks[0].message).expect("header");
        assert!(header.get_snapshot().get_data().is_empty(), "the header carries no data");
        assert_eq!(reassemble(chunks, 77).expect("reassembled"), message);
    }

    #[test]
    fn an_empty_snapshot_is_one_chunk() {
        let message = snapshot_message(Vec::new());
        let chunks: Vec<SnapshotChunk> = snapshot_chunks(1, 5, message.clone(), 300).expect("chunks").collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(reassemble(chunks, 5).expect("reassembled"), message);
    }

    #[test]
    fn bad_streams_are_refused() {
        let message = snapshot_message(vec![7; 100]);
        let chunks = || -> Vec<SnapshotChunk> { snapshot_chunks(1, 5, message.clone(), 30).expect("chunks").collect() };
        assert_eq!(reassemble(chunks(), 6).expect_err("refused"), SnapshotError::WrongCluster { ours: 6, theirs: 5 });

        let mut short = chunks();
        short.pop();
        assert_eq!(reassemble(short, 5).expect_err("refused"), SnapshotError::Short { got: 90, total: 100 });

        let mut long = chunks();
        long.push(SnapshotChunk { data: vec![1], ..Default::default() });
        assert_eq!(reassemble(long, 5).expect_err("refused"), SnapshotError::Overrun { total: 100 });

        let mut headless = chunks();
        headless.remove(0);
        assert_eq!(reassemble(headless, 5).expect_err("refused"), SnapshotError::NoHeader);

        let mut append = Message::default();
        append.set_msg_type(MessageType::MsgAppend);
        let not_snapshot =
            SnapshotChunk { message: encode(&append).expect("encode"), cluster_id: 5, ..Default::default() };
        assert!(matches!(reassemble(vec![not_snapshot], 5), Err(SnapshotError::NotSnapshot(_))));

        let huge = SnapshotAssembler::new(SnapshotChunk { total_size: 2 << 20, ..chunks()[0].clone() }, 5, 1 << 20);
        assert!(matches!(huge, Err(SnapshotError::TooLarge { .. })));
    }

    proptest! {
        #[test]
        fn any_snapshot_survives_any_chunk_size(len in 0usize..5000, chunk in 1usize..700) {
            let data: Vec<u8> = (0..len).map(|k| (k * 31 % 251) as u8).collect();
            let message = snapshot_message(data);
            let chunks: Vec<SnapshotChunk> = snapshot_chunks(2, 9, message.clone(), chunk).expect("chunks").collect();
            prop_assert_eq!(chunks.len(), len.div_ceil(chunk).max(1));
            prop_assert!(chunks.iter().all(|c| c.data.len() <= chunk));
            prop_assert_eq!(reassemble(chunks, 9).expect("reassembled"), message);
        }
    }
}

//! Zero-filling the next segment in the background, so that rotation is a rename.
//!
//! Writing 64 MiB of zeros and fsyncing them takes a while; doing it when a save
//! finds the segment full would stall that save. Like etcd's file pipeline, one
//! thread prepares the next file as soon as the previous one is taken.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::error::{IoContext, Result};
use crate::fsutil;
use crate::segment::tmp_path;

/// A zero-filled, fsynced file under a temporary name.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub path: PathBuf,
    pub file: File,
}

/// At most one segment being prepared.
#[derive(Debug, Default)]
pub(crate) struct Preparer {
    pending: Option<(u64, PathBuf, JoinHandle<io::Result<File>>)>,
}

impl Preparer {
    /// Starts preparing the segment with sequence `seq` in `dir`.
    pub fn start(&mut self, dir: &Path, seq: u64, size: u64) {
        self.wait();
        let path = tmp_path(dir, seq);
        let target = path.clone();
        let handle = std::thread::spawn(move || fsutil::create_zeroed(&target, size));
        self.pending = Some((seq, path, handle));
    }

    /// The prepared file for `seq`, waiting for it if needed; `None` if nothing was
    /// prepared for `seq`. A failed preparation is an error.
    pub fn take(&mut self, seq: u64) -> Result<Option<Prepared>> {
        let Some((pending_seq, path, handle)) = self.pending.take() else { return Ok(None) };
        let file = join(handle).at(&path)?;
        if pending_seq != seq {
            return Ok(None);
        }
        Ok(Some(Prepared { path, file }))
    }

    /// Waits for a preparation in flight; its file stays behind as a temporary file.
    pub fn wait(&mut self) {
        if let Some((_, _, handle)) = self.pending.take() {
            // Nobody wants the file any more; a leftover temporary file is removed at open.
            let _ = join(handle);
        }
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        self.wait();
    }
}

fn join(handle: JoinHandle<io::Result<File>>) -> io::Result<File> {
    handle.join().unwrap_or_else(|_| Err(io::Error::other("the segment preparing thread panicked")))
}

//! The record of which engine owns a data directory.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// The file, inside a backend's directory, naming the engine that made it.
pub const ENGINE_FILE: &str = "ENGINE";

/// Creates `dir` if needed and records `engine` in it, or checks that `dir` was made
/// by `engine`. Every engine calls this first in [`crate::Backend::open`].
pub fn claim_dir(dir: &Path, engine: &'static str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let marker = dir.join(ENGINE_FILE);
    match std::fs::read_to_string(&marker) {
        Ok(found) => {
            let found = found.trim();
            if found != engine {
                return Err(Error::EngineMismatch {
                    path: dir.to_path_buf(),
                    found: found.to_owned(),
                    expected: engine,
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = dir.join(".ENGINE.tmp");
            let mut file = std::fs::File::create(&tmp)?;
            writeln!(file, "{engine}")?;
            file.sync_all()?;
            std::fs::rename(&tmp, &marker)?;
            std::fs::File::open(dir)?.sync_all()?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

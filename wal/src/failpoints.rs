//! The WAL's failpoint (feature `failpoints`): `walBeforeFsync`, between a save's
//! write and its `fdatasync`, where a crash loses exactly what the WAL has not
//! promised yet. Its `return` actions:
//!
//! - `return(lose)`: every byte written since the last fsync is put back as it was
//!   on disk then (zeros, in a preallocated segment), and the process aborts: a
//!   power loss, which the page cache does not survive.
//! - `return(tear)`: as `lose`, but a random subset of those bytes' 4 KiB pages is
//!   kept, as a writeback interrupted by the power loss may leave them: the next
//!   open must repair the torn tail.
//! - `return` with anything else: the save fails with an I/O error (the WAL is then
//!   unusable until reopened, like after a real write error).
//!
//! gofail's quoted form (`return("lose")`) is understood too.

use std::io;

use crate::error::{IoContext, Result};
use crate::segment::ActiveSegment;

/// What `walBeforeFsync` does with its `return` argument.
pub(crate) fn before_fsync(active: &mut ActiveSegment, arg: Option<String>) -> Result<()> {
    let arg = arg.unwrap_or_default();
    let mode = arg.trim().trim_matches('"');
    let path = active.id.path.clone();
    let dropped = match mode {
        "lose" => active.lose_unsynced(|| false),
        "tear" => {
            let mut rng = seed();
            active.lose_unsynced(move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng & 1 == 0
            })
        }
        _ => return Err(io::Error::other(format!("failpoint walBeforeFsync: {arg}"))).at(&path),
    };
    match dropped {
        Ok(dropped) => eprintln!(
            "failpoint walBeforeFsync({mode}): dropped {dropped} unsynced bytes of {}; aborting as a power loss would",
            path.display()
        ),
        Err(e) => eprintln!("failpoint walBeforeFsync({mode}): could not drop the unsynced bytes: {e}; aborting"),
    }
    std::process::abort()
}

/// A nonzero seed for the pages `tear` keeps.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (u64::from(nanos) << 32 | u64::from(std::process::id())) | 1
}

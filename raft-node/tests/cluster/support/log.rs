//! A logger for debugging a test: raft-rs's and the node's records on stderr when
//! `CAIRN_TEST_LOG` is set, nowhere otherwise.

use std::fmt::{self, Write as _};

use slog::{Drain, KV, OwnedKVList, Record};

/// The logger test nodes use.
pub fn logger() -> slog::Logger {
    if std::env::var_os("CAIRN_TEST_LOG").is_some() {
        slog::Logger::root(Stderr.fuse(), slog::o!())
    } else {
        slog::Logger::root(slog::Discard, slog::o!())
    }
}

struct Stderr;

impl Drain for Stderr {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut line = format!("{} {}", record.level().as_short_str(), record.msg());
        let mut kv = Line(&mut line);
        let _ = record.kv().serialize(record, &mut kv);
        let _ = values.serialize(record, &mut kv);
        eprintln!("{line}");
        Ok(())
    }
}

struct Line<'a>(&'a mut String);

impl slog::Serializer for Line<'_> {
    fn emit_arguments(&mut self, key: slog::Key, value: &fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

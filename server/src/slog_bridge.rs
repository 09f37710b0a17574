//! raft-rs and cairn-raft log through `slog`; this drain hands their records to
//! `tracing`, so the member has one log.

use std::fmt::Write as _;

/// A `slog` drain that emits each record as a `tracing` event.
pub struct TracingDrain;

/// Collects a record's key-values as ` key=value`.
struct Collect(String);

impl slog::Serializer for Collect {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

impl slog::Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &slog::Record<'_>, values: &slog::OwnedKVList) -> Result<(), slog::Never> {
        let mut kv = Collect(String::new());
        let _ = slog::KV::serialize(&record.kv(), record, &mut kv);
        let _ = slog::KV::serialize(values, record, &mut kv);
        let message = record.msg();
        let module = record.module();
        match record.level() {
            slog::Level::Critical | slog::Level::Error => {
                tracing::error!(target: "raft", "{message}{} ({module})", kv.0)
            }
            slog::Level::Warning => tracing::warn!(target: "raft", "{message}{} ({module})", kv.0),
            slog::Level::Info => tracing::info!(target: "raft", "{message}{} ({module})", kv.0),
            slog::Level::Debug => tracing::debug!(target: "raft", "{message}{} ({module})", kv.0),
            slog::Level::Trace => tracing::trace!(target: "raft", "{message}{} ({module})", kv.0),
        }
        Ok(())
    }
}

/// A logger for raft that writes to `tracing`.
pub fn logger() -> slog::Logger {
    slog::Logger::root(slog::Fuse(TracingDrain), slog::o!())
}

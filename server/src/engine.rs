//! The storage engines compiled in (cargo features), and picking one by name.

/// The names of the engines compiled into this binary, the default first.
pub const COMPILED: &[&str] = &[
    #[cfg(feature = "lmdb")]
    "lmdb",
    #[cfg(feature = "sled")]
    "sled",
    #[cfg(feature = "rocks")]
    "rocks",
    #[cfg(feature = "fjall")]
    "fjall",
];

/// Resolves `--backend` (or the default) to a compiled engine's name.
pub fn choose(name: Option<&str>) -> anyhow::Result<&'static str> {
    match name {
        None => COMPILED.first().copied().ok_or_else(|| anyhow::anyhow!("no storage engine compiled in")),
        Some(name) => COMPILED.iter().copied().find(|e| *e == name).ok_or_else(|| {
            anyhow::anyhow!(
                "storage engine {name:?} is not compiled into this binary (compiled: {}); rebuild with --features {name}",
                COMPILED.join(", ")
            )
        }),
    }
}

/// Calls `$run::<Backend>($args)` for the engine named `$name`.
#[macro_export]
macro_rules! with_engine {
    ($name:expr, $run:ident ( $($arg:expr),* )) => {
        match $name {
            #[cfg(feature = "lmdb")]
            "lmdb" => $run::<cairn_storage_lmdb::LmdbBackend>($($arg),*).await,
            #[cfg(feature = "sled")]
            "sled" => $run::<cairn_storage_sled::SledBackend>($($arg),*).await,
            #[cfg(feature = "rocks")]
            "rocks" => $run::<cairn_storage_rocks::RocksBackend>($($arg),*).await,
            #[cfg(feature = "fjall")]
            "fjall" => $run::<cairn_storage_fjall::FjallBackend>($($arg),*).await,
            other => Err(anyhow::anyhow!("storage engine {other:?} is not compiled in")),
        }
    };
}

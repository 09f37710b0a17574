//! What one `Wal::save` (one write and one `fdatasync`) costs on this disk, by batch
//! size, next to the same fsync on a file that grows with every write.
//!
//! `cargo run --release -p cairn-wal --example save_latency -- [DIR]` (default: the
//! system temp directory, which must be on the disk you care about, not tmpfs).

use std::error::Error;
use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

use cairn_wal::{Wal, WalOptions};
use raft::eraftpb::{Entry, HardState};

const ENTRY_BYTES: usize = 256;

fn main() -> Result<(), Box<dyn Error>> {
    let base = std::env::args().nth(1).map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base)?;
    println!("{:>6} {:>9} {:>9} {:>9} {:>10}", "batch", "mean", "p50", "p99", "entries/s");
    for batch in [1u64, 10, 100, 1000] {
        let (mut wal, _) = Wal::open(dir.path().join(format!("batch-{batch}")), WalOptions::default())?;
        let rounds = (4000 / batch).clamp(100, 1000);
        let mut times = Vec::new();
        let mut next = 1;
        for round in 0..rounds {
            let entries: Vec<Entry> = (next..next + batch)
                .map(|index| Entry { index, term: 1, data: vec![7; ENTRY_BYTES].into(), ..Default::default() })
                .collect();
            let hs = HardState { term: 1, vote: 1, commit: next, ..Default::default() };
            let start = Instant::now();
            wal.save(Some(&hs), &entries)?;
            if round >= 10 {
                times.push(start.elapsed());
            }
            next += batch;
        }
        report(&batch.to_string(), &mut times, batch);
    }

    // The same 256-byte append and fdatasync, on a file that grows each time.
    let mut file = File::create(dir.path().join("growing"))?;
    let mut times = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        file.write_all(&[7; ENTRY_BYTES])?;
        file.sync_data()?;
        times.push(start.elapsed());
    }
    report("grow-1", &mut times, 1);

    // Recovery reads, checks and replays every segment.
    let start = Instant::now();
    let (_, recovered) = Wal::open(dir.path().join("batch-1000"), WalOptions::default())?;
    println!("reopen: {} entries in {:.1?}", recovered.entries.len(), start.elapsed());
    Ok(())
}

fn report(label: &str, times: &mut [Duration], batch: u64) {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let rate = batch as f64 / mean.as_secs_f64();
    println!("{label:>6} {:>9.3?} {:>9.3?} {:>9.3?} {rate:>10.0}", mean, p(0.5), p(0.99));
}

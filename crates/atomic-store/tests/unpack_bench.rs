//! Unpack throughput, for comparing with `tar -xf` of the same layer. Ignored by default:
//!
//! ```sh
//! ATOMIC_UNPACK_BENCH_TAR=/tmp/layer.tar ATOMIC_UNPACK_BENCH_RUNS=3 \
//!   cargo test --release -p atomic-store --test unpack_bench -- --ignored --nocapture
//! ```
//!
//! It reads the blob the way the store does (`BufReader` → `decompress` → `unpack`), into a
//! fresh directory next to the tar each run, and prints each run's time and the median.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use atomic_store::unpack::{UnpackOptions, decompress, unpack};

#[test]
#[ignore = "benchmark: needs ATOMIC_UNPACK_BENCH_TAR"]
fn unpack_bench() {
    let Some(tar) = std::env::var_os("ATOMIC_UNPACK_BENCH_TAR").map(PathBuf::from) else {
        eprintln!("set ATOMIC_UNPACK_BENCH_TAR to a layer tar");
        return;
    };
    let runs: usize = std::env::var("ATOMIC_UNPACK_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let parent = tar.parent().expect("tar has a parent directory");
    let mut times = Vec::new();
    for run in 0..runs {
        let dest = tempfile::tempdir_in(parent).unwrap();
        let start = Instant::now();
        let file = File::open(&tar).unwrap();
        let reader = decompress(BufReader::with_capacity(256 * 1024, file)).unwrap();
        let stats = unpack(reader, dest.path(), &UnpackOptions::for_current_user()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "run {run}: {secs:.3}s, {} entries, {:.1} MB, {:.0} MB/s",
            stats.entries,
            stats.bytes as f64 / 1e6,
            stats.bytes as f64 / 1e6 / secs
        );
        times.push(secs);
        drop(dest);
    }
    times.sort_by(f64::total_cmp);
    eprintln!("median: {:.3}s", times[times.len() / 2]);
}

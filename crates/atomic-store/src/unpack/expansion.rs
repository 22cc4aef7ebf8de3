//! A bound on how much a compressed layer may expand.
//!
//! A 4 MB gzip stream expands to a 4 GiB file (gzip's ratio tops out near 1032:1; zstd's has
//! no such ceiling), and the diff_id that would expose a bogus layer is only known at the end
//! of the stream, after the disk has filled. So the uncompressed bytes are counted against the
//! compressed bytes read so far: past [`FLOOR`] of output, more than `ratio` times the input
//! is refused. Real layers compress 2–10×; a layer of zero-filled files can go far beyond, so
//! the ratio is a setting (`layer_expansion_ratio` in atomic.conf, 0 for no limit), set once
//! by the binary for the process, like the registry timeouts.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default ratio of uncompressed to compressed bytes.
pub const DEFAULT_RATIO: u64 = 250;

/// Output below this is never refused, whatever the ratio: small layers of zeros are common.
pub const FLOOR: u64 = 64 << 20;

/// `u64::MAX`: not set (the default applies); 0: no limit.
static RATIO: AtomicU64 = AtomicU64::new(u64::MAX);

/// Set the expansion limit of this process (`None`: the default; `Some(0)`: none).
pub fn set_ratio(ratio: Option<u64>) {
    RATIO.store(ratio.unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// The ratio in force; 0 means no limit.
pub fn ratio() -> u64 {
    match RATIO.load(Ordering::Relaxed) {
        u64::MAX => DEFAULT_RATIO,
        r => r,
    }
}

/// Counts the compressed bytes read through it.
pub struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> Counting<R> {
    pub fn new(inner: R) -> (Self, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        (
            Counting {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The uncompressed stream, refused once it outgrows its compressed input by the ratio.
pub struct Limited<R> {
    inner: R,
    compressed: Arc<AtomicU64>,
    out: u64,
    ratio: u64,
}

impl<R> Limited<R> {
    pub fn new(inner: R, compressed: Arc<AtomicU64>) -> Self {
        Limited {
            inner,
            compressed,
            out: 0,
            ratio: ratio(),
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.ratio > 0 && self.out > FLOOR {
            let input = self.compressed.load(Ordering::Relaxed).max(1);
            if self.out > input.saturating_mul(self.ratio) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the layer expands more than {}-fold ({} bytes from {input} compressed); \
                         refused as a decompression bomb (the limit is layer_expansion_ratio in \
                         atomic.conf; 0 turns it off)",
                        self.ratio, self.out
                    ),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip_of_zeros(len: usize) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; len]).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_bomb_is_cut_off_and_a_normal_stream_passes() {
        let bomb = gzip_of_zeros(200 << 20);
        let (counting, count) = Counting::new(&bomb[..]);
        let mut limited = Limited::new(flate2::read::GzDecoder::new(counting), count);
        limited.ratio = 250;
        let err = io::copy(&mut limited, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("decompression bomb"), "{err}");
        assert!(limited.out < 100 << 20, "stopped early: {}", limited.out);

        let small = gzip_of_zeros(1 << 20);
        let (counting, count) = Counting::new(&small[..]);
        let mut limited = Limited::new(flate2::read::GzDecoder::new(counting), count);
        assert_eq!(io::copy(&mut limited, &mut io::sink()).unwrap(), 1 << 20);
    }
}

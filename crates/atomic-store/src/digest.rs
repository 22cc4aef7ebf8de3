//! sha256 digests: parsing the `sha256:<hex>` form and hashing while streaming.
//!
//! Only sha256 is accepted: it is what every registry and archive atomic reads uses, and a
//! digest string from an untrusted manifest becomes a file name in the store, so it must be
//! exactly 64 lowercase hex digits and nothing else.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A validated sha256 digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a sha256 digest (expected sha256:<64 hex digits>)")]
pub struct BadDigest(pub String);

impl Digest {
    /// The 64 hex digits, without the algorithm: the blob's file name in the store.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    pub fn from_hex(hex: &str) -> Result<Digest, BadDigest> {
        let valid = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(Digest {
                hex: hex.to_string(),
            })
        } else {
            Err(BadDigest(hex.to_string()))
        }
    }

    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }
}

impl FromStr for Digest {
    type Err = BadDigest;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("sha256:") {
            Some(hex) => Digest::from_hex(hex).map_err(|_| BadDigest(s.to_string())),
            None => Err(BadDigest(s.to_string())),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = BadDigest;
    fn try_from(d: &oci_spec::image::Digest) -> Result<Self, Self::Error> {
        d.as_ref().parse()
    }
}

impl From<&Digest> for oci_spec::image::Digest {
    fn from(d: &Digest) -> Self {
        // A validated sha256 digest always parses.
        d.to_string().parse().expect("sha256 digest")
    }
}

/// A running sha256 with a byte count.
#[derive(Default, Clone)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Digest {
        Digest {
            hex: hex::encode(self.sha.finalize()),
        }
    }
}

/// Hashes every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::default(),
        }
    }

    /// Read the rest of the stream (a tar reader stops at the end-of-archive blocks, but the
    /// digest covers every byte), then return the digest and length.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let len = self.hasher.len();
        Ok((self.hasher.finish(), len))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Hashes every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::default(),
        }
    }

    pub fn written(&self) -> u64 {
        self.hasher.len()
    }

    pub fn finish(self) -> (W, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_sha256_hex() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(good.parse::<Digest>().unwrap().to_string(), good);
        for bad in [
            "sha256:".to_string(),
            format!("sha512:{}", "a".repeat(64)),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}/../x", "a".repeat(58)),
            format!("sha256:{}", "a".repeat(65)),
            "a".repeat(64),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn hashes_empty_input() {
        assert_eq!(
            Digest::of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let (d, n) = HashingReader::new(&b"abc"[..]).finish().unwrap();
        assert_eq!((d, n), (Digest::of(b"abc"), 3));
    }
}

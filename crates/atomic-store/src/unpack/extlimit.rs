//! A bound on tar extension headers, applied to the stream before the tar crate sees it.
//!
//! The tar crate reads a PAX (`x`, `g`) or GNU long-name (`L`, `K`) header whole into memory
//! before handing over the entry it describes: one gzip-compressed layer of 1 MB declaring a
//! header of gigabytes took 1.58 GB in pull and in verify. Go's archive/tar (what Docker and
//! Podman use) refuses such headers over 1 MiB; so does this reader, which walks the stream
//! header by header (the size field says where the next one starts) and fails with a clear
//! error as soon as it meets an extension header over [`MAX_EXTENSION`].

use std::io::{self, Read};

/// The largest PAX or GNU extension header accepted (archive/tar's `maxSpecialFileSize`).
pub const MAX_EXTENSION: u64 = 1 << 20;

const BLOCK: usize = 512;

/// Passes a tar stream through unchanged, checking each header.
pub struct ExtensionLimit<R> {
    inner: R,
    /// Bytes of the current entry's data (padded to a block) still to pass before a header.
    data_left: u64,
    header: [u8; BLOCK],
    /// Bytes of `header` read from `inner` so far, and given out so far.
    filled: usize,
    given: usize,
    /// After a GNU sparse header flagged "extended": the blocks that follow are sparse maps,
    /// not headers, until one is not flagged; then `pending_data` of entry data.
    in_sparse_maps: bool,
    pending_data: u64,
}

impl<R: Read> ExtensionLimit<R> {
    pub fn new(inner: R) -> Self {
        ExtensionLimit {
            inner,
            data_left: 0,
            header: [0; BLOCK],
            filled: 0,
            given: 0,
            in_sparse_maps: false,
            pending_data: 0,
        }
    }

    /// Read the next header block whole (or what there is of it before the end) and check it.
    fn next_header(&mut self) -> io::Result<()> {
        self.filled = 0;
        self.given = 0;
        while self.filled < BLOCK {
            let n = self.inner.read(&mut self.header[self.filled..])?;
            if n == 0 {
                return Ok(()); // the end, or a truncated header the tar crate reports
            }
            self.filled += n;
        }
        if self.in_sparse_maps {
            self.in_sparse_maps = self.header[504] != 0;
            if !self.in_sparse_maps {
                self.data_left = self.pending_data;
            }
            return Ok(());
        }
        let size = entry_size(&self.header);
        let kind = self.header[156];
        if matches!(kind, b'x' | b'g' | b'L' | b'K') && size > MAX_EXTENSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the layer has a tar extension header ('{}') of {size} bytes; more than \
                     {MAX_EXTENSION} is refused (a real one holds a long name or a few \
                     attributes)",
                    kind as char
                ),
            ));
        }
        // A base-256 size can be near u64::MAX (found by the unpack fuzz target): saturate,
        // and the rest of the stream is passed through as that entry's data.
        let data = size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64);
        if kind == b'S' && self.header[482] != 0 {
            self.in_sparse_maps = true;
            self.pending_data = data;
        } else {
            self.data_left = data;
        }
        Ok(())
    }
}

/// The size field of a header: octal text, or base-256 when its high bit is set. An
/// unreadable one counts as 0 (the tar crate then reports the header).
fn entry_size(header: &[u8; BLOCK]) -> u64 {
    let field = &header[124..136];
    if field[0] & 0x80 != 0 {
        return field[1..].iter().fold(0u64, |acc, b| {
            acc.saturating_mul(256).saturating_add(u64::from(*b))
        });
    }
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    u64::from_str_radix(text.trim(), 8).unwrap_or(0)
}

impl<R: Read> Read for ExtensionLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.given < self.filled {
            let n = (self.filled - self.given).min(buf.len());
            buf[..n].copy_from_slice(&self.header[self.given..self.given + n]);
            self.given += n;
            return Ok(n);
        }
        if self.data_left > 0 {
            let want = buf
                .len()
                .min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
            let n = self.inner.read(&mut buf[..want])?;
            self.data_left -= n as u64;
            return Ok(n);
        }
        self.next_header()?;
        if self.filled == 0 {
            return Ok(0);
        }
        self.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with_pax(value_len: usize) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        let value = vec![b'a'; value_len];
        builder
            .append_pax_extensions([("comment", &value[..])])
            .unwrap();
        builder.append_data(&mut header, "f", &b"abc"[..]).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn passes_a_tar_through_unchanged() {
        let tar = tar_with_pax(100);
        let mut out = Vec::new();
        ExtensionLimit::new(&tar[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, tar);
        // Through small reads too.
        let mut reader = ExtensionLimit::new(&tar[..]);
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, tar);
    }

    #[test]
    fn a_huge_base256_size_does_not_overflow() {
        let input =
            include_bytes!("../../tests/fuzz-regressions/unpack-extlimit-size-overflow.tar");
        let mut out = Vec::new();
        ExtensionLimit::new(&input[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(&out[..], &input[..]);
    }

    #[test]
    fn refuses_a_huge_pax_header() {
        let tar = tar_with_pax(2 << 20);
        let err = ExtensionLimit::new(&tar[..])
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("extension header"), "{err}");
    }
}

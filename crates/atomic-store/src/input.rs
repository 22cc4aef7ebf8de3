//! Opening files that input names (a layout's `index.json` and blobs, an archive, a
//! configuration file) without trusting what they are.
//!
//! `open()` of a FIFO blocks until a writer appears, so a FIFO named `index.json` or
//! `ATOMIC_CONF` hung atomic before any file-type check could run. Here the file is opened
//! with `O_NONBLOCK` (which makes opening a FIFO return at once and changes nothing for a
//! regular file), its type checked on the open descriptor with fstat, and anything but a
//! regular file refused by name: a FIFO, a device (`/dev/zero` never ends), a socket, a
//! directory. Reading whole files is capped, so a huge one is refused before it fills memory.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Open `path` for reading if it is a regular file; any other kind of file is an
/// `InvalidInput` error naming it. A missing file stays `NotFound`, so callers can treat it
/// as absent.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is {what}, not a regular file", path.display()),
    ))
}

/// Read a regular file whole, refusing one larger than `limit` bytes (checked on its size and
/// again while reading, in case it grows).
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Err(too_large(path, limit));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(bytes)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_regular(path, limit)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

fn too_large(path: &Path, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is larger than {limit} bytes, more than a file of its kind can need",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("index.json");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let err = open_regular(&fifo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("is a FIFO"), "{err}");
        let err = read_regular(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(err.to_string().contains("is a device"), "{err}");
        assert_eq!(
            open_regular(&dir.path().join("gone")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn reading_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap(), b"12345");
        assert!(
            read_regular(&file, 4)
                .unwrap_err()
                .to_string()
                .contains("larger than 4")
        );
    }
}

//! AUFS/OCI whiteouts in a layer tar, converted to the form overlayfs reads from a lower
//! directory (the store mounts unpacked layers as overlay lowers):
//!
//! - `dir/.wh.NAME` ("NAME was deleted") becomes a character device 0:0 at `dir/NAME`;
//! - `dir/.wh..wh..opq` ("dir replaces, not merges with, the lower dir") becomes the xattr
//!   `trusted.overlay.opaque=y` on `dir`.
//!
//! This is what moby's overlay2 and containers/storage do on import. Other `.wh..wh.*` names
//! are AUFS bookkeeping (hardlink directories) that docker also skips.

use std::os::fd::BorrowedFd;

use rustix::fs::{FileType, Mode, XattrFlags};
use rustix::io::Errno;

use super::UnpackError;
use super::meta::{Meta, chown_at};
use super::tree::Tree;

const PREFIX: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";
const AUFS_META: &[u8] = b".wh..wh.";

/// What an entry's (normalised, non-empty) path means for whiteouts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// An ordinary entry.
    Plain,
    /// `.wh..wh..opq`: its parent directory is opaque.
    Opaque,
    /// `.wh.NAME`: NAME, in the same directory, is deleted.
    Whiteout(&'a [u8]),
    /// AUFS metadata (`.wh..wh.plnk/…`, `.wh..wh.aufs`): skipped.
    AufsMeta,
}

/// Classify an entry. `Err(())` for a whiteout that names nothing usable: `.wh.` (empty),
/// `.wh..` and `.wh...` — turning those into devices would replace the directory itself or its
/// parent's entry, i.e. act outside the directory the whiteout lives in.
pub(crate) fn classify<'a>(comps: &[&'a [u8]]) -> Result<Kind<'a>, ()> {
    let Some((last, parents)) = comps.split_last() else {
        return Ok(Kind::Plain);
    };
    if *last == OPAQUE {
        return Ok(Kind::Opaque);
    }
    if last.starts_with(AUFS_META) || parents.iter().any(|c| c.starts_with(AUFS_META)) {
        return Ok(Kind::AufsMeta);
    }
    match last.strip_prefix(PREFIX) {
        None => Ok(Kind::Plain),
        Some(b"" | b"." | b"..") => Err(()),
        Some(name) if name.contains(&b'/') || name.contains(&0) => Err(()),
        Some(name) => Ok(Kind::Whiteout(name)),
    }
}

/// Create the overlay whiteout for `name` in `dir` (whose path is `full` minus the last
/// component), replacing whatever this layer put there before.
pub(crate) fn whiteout(
    tree: &mut Tree,
    dir: BorrowedFd<'_>,
    name: &[u8],
    full: &[&[u8]],
    meta: &Meta,
    same_owner: bool,
    path: &str,
) -> Result<(), UnpackError> {
    let res = tree.create(dir, name, full, || {
        rustix::fs::mknodat(dir, name, FileType::CharacterDevice, Mode::empty(), 0)
            .map_err(Into::into)
    });
    match res {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(Errno::PERM.raw_os_error()) => {
            return Err(UnpackError::WhiteoutNeedsRoot {
                path: path.to_string(),
                cause: e,
            });
        }
        Err(e) => return Err(UnpackError::io("creating whiteout", path, e)),
    }
    if same_owner {
        chown_at(dir, name, meta).map_err(|e| UnpackError::io("chown", path, e.into()))?;
    }
    Ok(())
}

/// Mark `dir` opaque.
pub(crate) fn opaque(dir: BorrowedFd<'_>, path: &str) -> Result<(), UnpackError> {
    match rustix::fs::fsetxattr(dir, "trusted.overlay.opaque", b"y", XattrFlags::empty()) {
        Ok(()) => Ok(()),
        Err(e @ (Errno::PERM | Errno::NOTSUP)) => Err(UnpackError::WhiteoutNeedsRoot {
            path: path.to_string(),
            cause: e.into(),
        }),
        Err(e) => Err(UnpackError::io("marking directory opaque", path, e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let table: &[(&[&str], Result<Kind<'_>, ()>)] = &[
            (&["a"], Ok(Kind::Plain)),
            (&["a", "b"], Ok(Kind::Plain)),
            (&["a.wh.b"], Ok(Kind::Plain)),
            (&[".wh"], Ok(Kind::Plain)),
            (&[".wh.a"], Ok(Kind::Whiteout(b"a"))),
            (&["d", ".wh.file"], Ok(Kind::Whiteout(b"file"))),
            (&["d", ".wh..hidden"], Ok(Kind::Whiteout(b".hidden"))),
            (&["d", ".wh...."], Ok(Kind::Whiteout(b"..."))),
            (&[".wh..wh..opq"], Ok(Kind::Opaque)),
            (&["d", "e", ".wh..wh..opq"], Ok(Kind::Opaque)),
            (&[".wh..wh.plnk"], Ok(Kind::AufsMeta)),
            (&[".wh..wh.plnk", "123.456"], Ok(Kind::AufsMeta)),
            (&["d", ".wh..wh.aufs"], Ok(Kind::AufsMeta)),
            (&["d", ".wh."], Err(())),
            (&[".wh.."], Err(())),
            (&["d", ".wh..."], Err(())),
        ];
        for (comps, want) in table {
            let comps: Vec<&[u8]> = comps.iter().map(|s| s.as_bytes()).collect();
            assert_eq!(&classify(&comps), want, "{comps:?}");
        }
    }
}

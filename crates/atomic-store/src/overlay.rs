//! How an unpacked layer marks what it hides from the layers below it, in the form overlayfs
//! reads from a lower directory (and `unpack` writes): a character device 0:0 is a whiteout
//! that hides its name in every layer below; a directory with the xattr
//! `trusted.overlay.opaque=y` hides what lower layers hold beneath it. Docker's overlay2 and
//! containers/storage's overlay write the same form, so these tests serve every engine's layers
//! for the readers that apply overlayfs's rules by hand (`atomic diff`'s tree, `atomic help`).

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// The xattr that makes a directory opaque (value `y`).
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// overlayfs's whiteout: a character device with device number 0:0.
pub fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// A directory that hides the lower layers' contents beneath it.
pub fn is_opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

/// A lookup error that means "not in this layer": the path is missing, or (ENOTDIR) this layer
/// has a file where the path needs a directory.
pub fn is_absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20)
}

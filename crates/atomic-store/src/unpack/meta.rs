//! An entry's metadata (owner, mode, mtime, xattrs) read from its header and PAX records, and
//! applied to what was created — always through an fd or with `AT_SYMLINK_NOFOLLOW`.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, Gid, Timespec, Uid, XattrFlags};
use rustix::io::Errno;

use super::UnpackError;
use super::path::shown;

const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including setuid/setgid/sticky (`& 0o7777`).
    pub mode: u32,
    pub mtime: Timespec,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    /// Read the header fields and the PAX records of `entry` (the tar crate has already folded
    /// PAX `uid`/`gid`/`size` into the header; `mtime` and xattrs are ours to read).
    pub fn read<R: Read>(entry: &mut tar::Entry<'_, R>, path: &str) -> Result<Meta, UnpackError> {
        let bad = |reason: String| UnpackError::BadHeader {
            path: path.to_string(),
            reason,
        };
        let h = entry.header();
        let old = h.as_old();
        let id = |field: &[u8], v: io::Result<u64>, what: &str| -> Result<u32, UnpackError> {
            let v = or_zero(field, v).map_err(|e| bad(format!("unreadable {what}: {e}")))?;
            // u32::MAX is chown's "leave unchanged" and no real id.
            match u32::try_from(v) {
                Ok(v) if v != u32::MAX => Ok(v),
                _ => Err(bad(format!("{what} {v} is out of range"))),
            }
        };
        let uid = id(&old.uid, h.uid(), "uid")?;
        let gid = id(&old.gid, h.gid(), "gid")?;
        let mode = or_zero(&old.mode, h.mode().map(u64::from))
            .map_err(|e| bad(format!("unreadable mode: {e}")))? as u32
            & 0o7777;
        let secs =
            or_zero(&old.mtime, h.mtime()).map_err(|e| bad(format!("unreadable mtime: {e}")))?;
        let mut mtime = Timespec {
            tv_sec: i64::try_from(secs).unwrap_or(i64::MAX),
            tv_nsec: 0,
        };
        let mut xattrs = Vec::new();
        if let Some(exts) = entry
            .pax_extensions()
            .map_err(|e| bad(format!("unreadable PAX records: {e}")))?
        {
            for ext in exts {
                let ext = ext.map_err(|e| bad(format!("malformed PAX record: {e}")))?;
                let key = ext.key_bytes();
                if key == b"mtime" {
                    mtime = parse_pax_time(ext.value_bytes()).ok_or_else(|| {
                        bad(format!("bad PAX mtime '{}'", shown(ext.value_bytes())))
                    })?;
                } else if let Some(name) = key.strip_prefix(XATTR_PREFIX) {
                    xattrs.push((name.to_vec(), ext.value_bytes().to_vec()));
                }
            }
        }
        Ok(Meta {
            uid,
            gid,
            mode,
            mtime,
            xattrs,
        })
    }

    pub fn uid(&self) -> Uid {
        Uid::from_raw(self.uid)
    }

    pub fn gid(&self) -> Gid {
        Gid::from_raw(self.gid)
    }
}

/// An all-NUL/space numeric field reads as 0, as Go's archive/tar (which wrote most layers)
/// reads it; the tar crate calls it an error.
pub(crate) fn or_zero(field: &[u8], parsed: io::Result<u64>) -> io::Result<u64> {
    if field.iter().all(|&b| b == 0 || b == b' ') {
        return Ok(0);
    }
    parsed
}

/// A device's major and minor numbers; empty fields read as 0 (see [`or_zero`]).
pub(crate) fn device_number(h: &tar::Header) -> io::Result<(u32, u32)> {
    let (maj, min) = match (h.as_gnu(), h.as_ustar()) {
        (Some(g), _) => (g.dev_major, g.dev_minor),
        (None, Some(u)) => (u.dev_major, u.dev_minor),
        (None, None) => return Ok((0, 0)),
    };
    let field = |raw: &[u8], parsed: io::Result<Option<u32>>| -> io::Result<u32> {
        let v = or_zero(raw, parsed.map(|v| u64::from(v.unwrap_or(0))))?;
        u32::try_from(v).map_err(|_| io::Error::other("out of range"))
    };
    Ok((
        field(&maj, h.device_major())?,
        field(&min, h.device_minor())?,
    ))
}

/// A PAX time: decimal seconds with an optional fraction, possibly negative ("-1.5").
pub(crate) fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    for (i, d) in frac.bytes().take(9).enumerate() {
        nanos += i64::from(d - b'0') * 10i64.pow(8 - i as u32);
    }
    Some(if !neg {
        Timespec {
            tv_sec: secs,
            tv_nsec: nanos,
        }
    } else if nanos == 0 {
        Timespec {
            tv_sec: -secs,
            tv_nsec: 0,
        }
    } else {
        Timespec {
            tv_sec: -secs - 1,
            tv_nsec: 1_000_000_000 - nanos,
        }
    })
}

/// Where to set xattrs: an open fd (files, directories), or a name in a directory for things
/// we do not open (symlinks, devices, fifos).
pub(crate) enum Target<'a> {
    Fd(BorrowedFd<'a>),
    At(BorrowedFd<'a>, &'a [u8]),
}

/// Whether an xattr from a layer may be written at all. overlayfs reads `trusted.overlay.*`
/// (and `user.overlay.*` on userxattr mounts) from its lower directories: `redirect`,
/// `metacopy`, `origin`… would let a layer steer lookups into other layers' files. The only
/// one a layer legitimately carries is `opaque`, which we also derive from `.wh..wh..opq`.
fn allowed(name: &[u8]) -> bool {
    for prefix in [&b"trusted.overlay."[..], b"user.overlay."] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest == b"opaque";
        }
    }
    true
}

/// Set the entry's xattrs. When not root, `security.*`/`trusted.*` ones that the kernel refuses
/// (EPERM, ENOTSUP) are skipped with a warning, like `tar --xattrs` as a user; as root every
/// failure is an error, so a layer never silently loses a file capability.
pub(crate) fn set_xattrs(
    target: Target<'_>,
    meta: &Meta,
    root: bool,
    path: &str,
) -> Result<(), UnpackError> {
    for (name, value) in &meta.xattrs {
        if !allowed(name) {
            tracing::warn!(entry = path, xattr = %shown(name), "ignoring an overlayfs xattr in a layer");
            continue;
        }
        let name_os = OsStr::from_bytes(name);
        let res = match target {
            Target::Fd(fd) => rustix::fs::fsetxattr(fd, name_os, value, XattrFlags::empty()),
            // lsetxattr does not follow the last component; /proc/self/fd/N (our directory)
            // is resolved by the kernel to the very directory we walked to.
            Target::At(dir, file) => {
                let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
                p.extend_from_slice(file);
                rustix::fs::lsetxattr(OsStr::from_bytes(&p), name_os, value, XattrFlags::empty())
            }
        };
        match res {
            Ok(()) => {}
            Err(Errno::PERM | Errno::NOTSUP)
                if !root && (name.starts_with(b"security.") || name.starts_with(b"trusted.")) =>
            {
                tracing::warn!(entry = path, xattr = %shown(name), "not root: skipping a privileged xattr");
            }
            Err(e) => {
                return Err(UnpackError::Xattr {
                    path: path.to_string(),
                    name: shown(name),
                    cause: e.into(),
                });
            }
        }
    }
    Ok(())
}

/// chown a name in `dir` without following it (symlinks, devices, fifos, whiteouts).
pub(crate) fn chown_at(dir: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> rustix::io::Result<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(meta.uid()),
        Some(meta.gid()),
        AtFlags::SYMLINK_NOFOLLOW,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        let table: &[(&str, Option<(i64, i64)>)] = &[
            ("0", Some((0, 0))),
            ("1700000000", Some((1_700_000_000, 0))),
            ("1700000000.5", Some((1_700_000_000, 500_000_000))),
            ("1.123456789123", Some((1, 123_456_789))),
            ("1.", Some((1, 0))),
            ("-1.5", Some((-2, 500_000_000))),
            ("-3", Some((-3, 0))),
            ("", None),
            (".5", None),
            ("1e9", None),
            ("1.-5", None),
            ("99999999999999999999999", None),
        ];
        for (v, want) in table {
            let got = parse_pax_time(v.as_bytes()).map(|t| (t.tv_sec, t.tv_nsec));
            assert_eq!(got, *want, "{v:?}");
        }
    }

    #[test]
    fn overlay_xattrs_are_filtered() {
        let table: &[(&str, bool)] = &[
            ("user.foo", true),
            ("security.capability", true),
            ("trusted.overlay.opaque", true),
            ("trusted.overlay.redirect", false),
            ("trusted.overlay.metacopy", false),
            ("trusted.overlay.overlay.opaque", false),
            ("user.overlay.origin", false),
            ("user.overlay.opaque", true),
            ("trusted.other", true),
        ];
        for (name, want) in table {
            assert_eq!(allowed(name.as_bytes()), *want, "{name}");
        }
    }
}

//! Normalising the path of a layer entry (or a hardlink's target) into components.
//!
//! This is pure logic: no file system access. The unpacker then walks the components one at a
//! time from the layer's root directory fd, so a path that normalises here cannot name anything
//! outside the layer *lexically*; `tree.rs` makes sure it cannot escape through a symlink either.
//!
//! Rules, following ostree-ext's `normalize_validate_path` and what docker does with layer tars:
//! - a leading `/` is dropped: `/etc/passwd` in a layer means the image's `/etc/passwd`, i.e.
//!   `<layer>/etc/passwd` (moby's CVE-2014-6407 fix treats absolute names the same way);
//! - empty components (`a//b`, a trailing `/`) and `.` are dropped;
//! - `..` anywhere is refused, naming the entry, rather than resolved: resolving it lexically is
//!   where tar breakouts (moby CVE-2014-6407/6408, tar-rs #129/#238) have come from, and no
//!   well-formed layer needs it;
//! - NUL bytes, components over 255 bytes (NAME_MAX) and paths over 4096 bytes (PATH_MAX) are
//!   refused with a clear error instead of an obscure ENAMETOOLONG from the kernel later.

use std::fmt;

/// Longest file name the kernel accepts (NAME_MAX).
pub const NAME_MAX: usize = 255;
/// Longest path accepted, in bytes (PATH_MAX).
pub const PATH_MAX: usize = 4096;

/// Why an entry's name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Nothing is left after dropping `/` and `.`: the name is empty or is the layer root.
    Empty,
    /// The name contains a NUL byte, which no file name can hold.
    Nul,
    /// The name has a `..` component: it would escape the layer root.
    ParentDir,
    /// One component is longer than NAME_MAX.
    ComponentTooLong { len: usize },
    /// The whole name is longer than PATH_MAX.
    TooLong { len: usize },
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Empty => write!(f, "the name is empty (or names the layer root)"),
            PathError::Nul => write!(f, "the name contains a NUL byte"),
            PathError::ParentDir => write!(f, "the name has a '..' component"),
            PathError::ComponentTooLong { len } => {
                write!(
                    f,
                    "a component is {len} bytes long; at most {NAME_MAX} are allowed"
                )
            }
            PathError::TooLong { len } => {
                write!(
                    f,
                    "the name is {len} bytes long; at most {PATH_MAX} are allowed"
                )
            }
        }
    }
}

impl std::error::Error for PathError {}

/// Split an entry name into its normal components. An empty result (for `/`, `.`, `./` …) is
/// returned as `Ok(vec![])`; callers that need a file name turn it into [`PathError::Empty`].
pub fn normalize(raw: &[u8]) -> Result<Vec<&[u8]>, PathError> {
    if raw.contains(&0) {
        return Err(PathError::Nul);
    }
    if raw.len() > PATH_MAX {
        return Err(PathError::TooLong { len: raw.len() });
    }
    let mut out = Vec::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err(PathError::ParentDir),
            c if c.len() > NAME_MAX => return Err(PathError::ComponentTooLong { len: c.len() }),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Like [`normalize`], but the name must name something other than the root.
pub fn normalize_nonempty(raw: &[u8]) -> Result<Vec<&[u8]>, PathError> {
    let comps = normalize(raw)?;
    if comps.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(comps)
}

/// A name for error messages: lossy UTF-8 with control characters escaped (a hostile name must
/// not write to the terminal), shortened when absurdly long (a hostile entry can be kilobytes
/// long and the message should still fit on a screen).
pub fn shown(raw: &[u8]) -> String {
    shown_up_to(raw, 200)
}

/// Like [`shown`], but whole however long (for reports that must name the exact file).
pub fn escaped(raw: &[u8]) -> String {
    shown_up_to(raw, usize::MAX)
}

fn shown_up_to(raw: &[u8], max: usize) -> String {
    const MAX: usize = 200;
    let s = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(s.len().min(MAX + 32));
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push_str(&format!("… ({} bytes)", raw.len()));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Join components for messages and map keys.
pub fn join(comps: &[&[u8]]) -> String {
    shown(&comps.join(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str, want: &[&str]) {
        let got = normalize(raw.as_bytes()).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        let want: Vec<&[u8]> = want.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(got, want, "normalising {raw:?}");
    }

    #[test]
    fn normalises() {
        let table: &[(&str, &[&str])] = &[
            ("a", &["a"]),
            ("a/b/c", &["a", "b", "c"]),
            ("/abs/path", &["abs", "path"]),
            ("///abs", &["abs"]),
            ("./a", &["a"]),
            ("././a/./b/.", &["a", "b"]),
            ("a//b", &["a", "b"]),
            ("dir/", &["dir"]),
            ("./", &[]),
            (".", &[]),
            ("/", &[]),
            ("", &[]),
            ("...", &["..."]),
            ("..a", &["..a"]),
            ("a..", &["a.."]),
            (".wh..wh..opq", &[".wh..wh..opq"]),
            ("a\\..\\b", &["a\\..\\b"]),
            ("ünïcödé/🦀", &["ünïcödé", "🦀"]),
        ];
        for (raw, want) in table {
            ok(raw, want);
        }
    }

    #[test]
    fn refuses() {
        let long_comp = "x".repeat(256);
        let long_path = "d/".repeat(2049);
        let max_comp = "y".repeat(255);
        let table: Vec<(&[u8], PathError)> = vec![
            (b"..", PathError::ParentDir),
            (b"../escape", PathError::ParentDir),
            (b"a/../../escape", PathError::ParentDir),
            (b"a/..", PathError::ParentDir),
            (b"/../etc", PathError::ParentDir),
            (b"./..//x", PathError::ParentDir),
            (b"a\0b", PathError::Nul),
            (
                long_comp.as_bytes(),
                PathError::ComponentTooLong { len: 256 },
            ),
            (long_path.as_bytes(), PathError::TooLong { len: 4098 }),
        ];
        for (raw, want) in table {
            assert_eq!(normalize(raw), Err(want), "normalising {:?}", shown(raw));
        }
        assert_eq!(normalize(max_comp.as_bytes()).unwrap().len(), 1);
        for root in ["", "/", ".", "./", "//./"] {
            assert_eq!(normalize_nonempty(root.as_bytes()), Err(PathError::Empty));
        }
    }

    #[test]
    fn shows_long_names_shortened() {
        let raw = vec![b'a'; 5000];
        let s = shown(&raw);
        assert!(s.len() < 300, "{s}");
        assert!(s.ends_with("(5000 bytes)"));
        assert_eq!(shown(b"a/b"), "a/b");
        assert_eq!(shown(b"a\0b\x1b[2J\n"), "a\\u{0}b\\u{1b}[2J\\n");
        assert_eq!(shown(&[b'x'; 200]), "x".repeat(200));
        assert_eq!(join(&[b"a", b"b"]), "a/b");
    }
}

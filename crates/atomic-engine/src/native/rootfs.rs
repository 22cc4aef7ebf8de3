//! Reading one file of an image from its unpacked layers, without mounting them: overlayfs's
//! rules applied by hand, so `atomic help` needs no mount (and leaves none behind).
//!
//! Layers are searched top-down. In a layer, a character device 0:0 is a whiteout: it hides the
//! path in every layer below. A directory with the xattr `trusted.overlay.opaque=y` hides what
//! lower layers have beneath it, and any non-directory hides lower directories of the same path.
//! Symlinks are resolved in the image's own view — an absolute target starts at the image's
//! root, `..` stops there — and never on the host, so an image cannot make atomic read a host
//! file through a link.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::PathBuf;

use atomic_store::overlay::{is_absent, is_opaque, is_whiteout};

/// As Linux's own limit on symlinks followed in one lookup: more is a loop.
const MAX_SYMLINKS: usize = 40;

/// The regular file at `path` in the merged view of `layers` (top layer first), if there is one.
pub fn read_file(layers: &[PathBuf], path: &str) -> io::Result<Option<Vec<u8>>> {
    Ok(match locate(layers, path)? {
        Some(real) => Some(fs::read(real)?),
        None => None,
    })
}

/// The file on disk that provides the regular file `path` of the merged view.
fn locate(layers: &[PathBuf], path: &str) -> io::Result<Option<PathBuf>> {
    let mut todo: VecDeque<String> = components(path).collect();
    let mut rel: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            rel.pop();
            continue;
        }
        rel.push(part);
        let Some((real, meta)) = top_entry(layers, &rel)? else {
            return Ok(None);
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(io::Error::other(format!(
                    "more than {MAX_SYMLINKS} symlinks resolving {path}: a loop"
                )));
            }
            let target = fs::read_link(&real)?;
            let target = target.to_string_lossy();
            rel.pop();
            if target.starts_with('/') {
                rel.clear();
            }
            for part in components(&target).collect::<Vec<_>>().into_iter().rev() {
                todo.push_front(part);
            }
        } else if kind.is_dir() {
            if todo.is_empty() {
                return Ok(None);
            }
        } else if kind.is_file() && todo.is_empty() {
            return Ok(Some(real));
        } else {
            // A file in the middle of a path, or a device, socket or fifo.
            return Ok(None);
        }
    }
    Ok(None)
}

/// `a/./b//c/..` → `a`, `b`, `c`, `..`: the parts a lookup walks, `.` and empty ones dropped.
fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
}

/// The topmost visible entry for `rel`, whose every proper prefix is a directory in the merged
/// view (the caller resolved them): its path on disk and metadata (not following symlinks).
pub(super) fn top_entry(
    layers: &[PathBuf],
    rel: &[String],
) -> io::Result<Option<(PathBuf, fs::Metadata)>> {
    let mut visible: Vec<&PathBuf> = layers.iter().collect();
    for depth in 1..=rel.len() {
        let sub: PathBuf = rel[..depth].iter().collect();
        let last = depth == rel.len();
        let mut next = Vec::new();
        for layer in visible {
            let real = layer.join(&sub);
            let meta = match fs::symlink_metadata(&real) {
                Ok(m) => m,
                Err(e) if is_absent(&e) => continue,
                Err(e) => return Err(e),
            };
            if is_whiteout(&meta) {
                break;
            }
            if last {
                return Ok(Some((real, meta)));
            }
            if !meta.is_dir() {
                break;
            }
            next.push(layer);
            if is_opaque(&real) {
                break;
            }
        }
        if last || next.is_empty() {
            return Ok(None);
        }
        visible = next;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use atomic_store::overlay::OPAQUE_XATTR;
    use std::path::Path;

    struct Layers {
        _dir: tempfile::TempDir,
        /// Top first, as `read_file` takes them.
        dirs: Vec<PathBuf>,
    }

    /// `n` empty layer directories.
    fn layers(n: usize) -> Layers {
        let dir = tempfile::tempdir().unwrap();
        let mut dirs: Vec<PathBuf> = (0..n).map(|i| dir.path().join(format!("l{i}"))).collect();
        for d in &dirs {
            fs::create_dir(d).unwrap();
        }
        dirs.reverse();
        Layers { _dir: dir, dirs }
    }

    fn write(layer: &Path, path: &str, data: &str) {
        let p = layer.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    use atomic_testsupport::whiteout;

    fn read(l: &Layers, path: &str) -> Option<String> {
        read_file(&l.dirs, path)
            .unwrap()
            .map(|d| String::from_utf8(d).unwrap())
    }

    #[test]
    fn upper_layer_wins_and_lower_shows_through() {
        let l = layers(2);
        let (top, base) = (&l.dirs[0], &l.dirs[1]);
        write(base, "etc/a", "base a");
        write(base, "etc/b", "base b");
        write(top, "etc/a", "top a");
        assert_eq!(read(&l, "/etc/a").as_deref(), Some("top a"));
        assert_eq!(read(&l, "/etc/b").as_deref(), Some("base b"));
        assert_eq!(read(&l, "etc/./b").as_deref(), Some("base b"));
        assert_eq!(read(&l, "/etc/missing"), None);
        assert_eq!(read(&l, "/etc"), None, "a directory is not a file");
        assert_eq!(read(&l, "/etc/a/x"), None);
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_lower_layers() {
        let l = layers(2);
        let (top, base) = (&l.dirs[0], &l.dirs[1]);
        write(base, "help.1", "old help");
        write(base, "d/inner", "hidden");
        write(base, "o/gone", "hidden by opaque");
        write(base, "o/kept-name", "hidden too");
        if !whiteout(top, "help.1") || !whiteout(top, "d") {
            eprintln!("SKIP: mknod is not permitted here");
            return;
        }
        assert_eq!(read(&l, "/help.1"), None);
        assert_eq!(read(&l, "/d/inner"), None);
        write(top, "o/kept-name", "top");
        if xattr::set(top.join("o"), OPAQUE_XATTR, b"y").is_err() {
            eprintln!("SKIP: trusted xattrs are not permitted here");
            return;
        }
        assert_eq!(read(&l, "/o/gone"), None);
        assert_eq!(read(&l, "/o/kept-name").as_deref(), Some("top"));
    }

    #[test]
    fn symlinks_resolve_inside_the_image_only() {
        let l = layers(2);
        let (top, base) = (&l.dirs[0], &l.dirs[1]);
        write(base, "usr/share/doc/help.1", "real help");
        std::os::unix::fs::symlink("usr/share/doc/help.1", top.join("help.1")).unwrap();
        assert_eq!(read(&l, "/help.1").as_deref(), Some("real help"));
        // An absolute link, and `..` past the root, both stay in the image.
        fs::create_dir_all(top.join("x")).unwrap();
        std::os::unix::fs::symlink("/usr/share/doc/help.1", top.join("x/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../etc/hostname", top.join("x/up")).unwrap();
        assert_eq!(read(&l, "/x/abs").as_deref(), Some("real help"));
        assert_eq!(
            read(&l, "/x/up"),
            None,
            "the host's /etc/hostname must not be read"
        );
        // A directory reached through a link.
        std::os::unix::fs::symlink("/usr/share", top.join("share")).unwrap();
        assert_eq!(read(&l, "/share/doc/help.1").as_deref(), Some("real help"));
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink("loop2", top.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", top.join("loop2")).unwrap();
        assert!(read_file(&l.dirs, "/loop1").is_err());
    }

    #[test]
    fn an_upper_file_hides_a_lower_directory() {
        let l = layers(2);
        let (top, base) = (&l.dirs[0], &l.dirs[1]);
        write(base, "d/inner", "lower");
        write(top, "d", "now a file");
        assert_eq!(read(&l, "/d/inner"), None);
        assert_eq!(read(&l, "/d").as_deref(), Some("now a file"));
    }
}

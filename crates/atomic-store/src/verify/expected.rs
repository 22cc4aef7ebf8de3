//! What a layer's tar says should be on disk once it is unpacked: one [`Expect`] per path,
//! keyed by the path's normalised bytes (no leading `/`), and the directories a
//! `.wh..wh..opq` marks opaque.
//!
//! Entry names go through the unpacker's own normalisation (`unpack::path`), so both agree on
//! what a name means; keys are bytes, not text, so a name that is not UTF-8 is compared as the
//! very name the unpacker created.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

use crate::digest::{Digest, Hasher};
use crate::unpack;
use crate::unpack::meta::{device_number, or_zero};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";

#[derive(Debug, Default)]
pub(super) struct Expected {
    pub entries: BTreeMap<Vec<u8>, Expect>,
    pub opaque: BTreeSet<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub(super) enum Expect {
    File { mode: u32, size: u64, sha: Digest },
    Dir { mode: u32 },
    Symlink { target: Vec<u8> },
    Hardlink { target: Vec<u8> },
    Char { mode: u32, major: u32, minor: u32 },
    Block { mode: u32, major: u32, minor: u32 },
    Fifo { mode: u32 },
    Whiteout,
}

impl Expect {
    pub fn kind(&self) -> &'static str {
        match self {
            Expect::File { .. } | Expect::Hardlink { .. } => "file",
            Expect::Dir { .. } => "directory",
            Expect::Symlink { .. } => "symlink",
            Expect::Char { .. } => "character device",
            Expect::Block { .. } => "block device",
            Expect::Fifo { .. } => "fifo",
            Expect::Whiteout => "whiteout",
        }
    }

    /// Only root can make device nodes and whiteouts: without root the unpacker skips them,
    /// so their absence is no change.
    pub fn needs_root(&self) -> bool {
        matches!(
            self,
            Expect::Char { .. } | Expect::Block { .. } | Expect::Whiteout
        )
    }
}

impl Expected {
    /// A later entry replaces an earlier one at the same path, and everything beneath it
    /// unless both are directories — as the unpacker does.
    fn insert(&mut self, path: Vec<u8>, expect: Expect) {
        let both_dirs = matches!(
            (self.entries.get(&path), &expect),
            (Some(Expect::Dir { .. }), Expect::Dir { .. })
        );
        if !both_dirs {
            let mut prefix = path.clone();
            prefix.push(b'/');
            let below: Vec<Vec<u8>> = self
                .entries
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.clone())
                .collect();
            if let Some(old) = self.entries.remove(&path) {
                self.unlink(&path, old);
            }
            for k in below {
                if let Some(old) = self.entries.remove(&k) {
                    self.unlink(&k, old);
                }
            }
            self.opaque.retain(|k| !k.starts_with(&prefix));
            if !matches!(expect, Expect::Dir { .. }) {
                self.opaque.remove(&path);
            }
        }
        self.entries.insert(path, expect);
    }
}

/// The normalised name, components joined by `/`; `None` for a name the unpacker refuses or
/// the layer root itself.
impl Expected {
    /// `path` (which was `old`) leaves the tree: hardlinks made to it keep the file it was (on
    /// disk they keep its inode, which no longer has that name).
    fn unlink(&mut self, path: &[u8], old: Expect) {
        for e in self.entries.values_mut() {
            if matches!(e, Expect::Hardlink { target } if target == path) {
                *e = old.clone();
            }
        }
    }
}

fn normalized(raw: &[u8]) -> Option<Vec<u8>> {
    let comps = unpack::path::normalize(raw).ok()?;
    if comps.is_empty() {
        return None;
    }
    Some(comps.join(&b'/'))
}

/// `(parent, name)` of a normalised path; the parent is empty at the top.
fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn sibling(parent: &[u8], name: &[u8]) -> Vec<u8> {
    if parent.is_empty() {
        return name.to_vec();
    }
    [parent, b"/", name].concat()
}

/// Read an uncompressed layer tar to its end into what it expects on disk.
pub(super) fn read_layer(tar: impl Read) -> io::Result<Expected> {
    let mut expected = Expected::default();
    let mut archive = tar::Archive::new(unpack::extlimit::ExtensionLimit::new(tar));
    for entry in archive.entries()? {
        let mut entry = entry?;
        // Names the unpacker refuses never reach the disk; the layer would not exist.
        let Some(path) = normalized(&entry.path_bytes()) else {
            continue;
        };
        let (parent, name) = split_parent(&path);
        if name == OPAQUE_MARKER {
            if !parent.is_empty() {
                expected.opaque.insert(parent.to_vec());
            }
            continue;
        }
        if path
            .split(|&b| b == b'/')
            .any(|c| c.starts_with(AUFS_META_PREFIX))
        {
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if !matches!(hidden, b"" | b"." | b"..") {
                expected.insert(sibling(parent, hidden), Expect::Whiteout);
            }
            continue;
        }
        let raw_dir = entry.path_bytes().ends_with(b"/");
        if let Some(expect) = expect_of(&mut entry, raw_dir)? {
            expected.insert(path, expect);
        }
    }
    Ok(expected)
}

/// What one (non-whiteout) entry should have become; `None` for entries the unpacker does not
/// write.
fn expect_of<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    trailing_slash: bool,
) -> io::Result<Option<Expect>> {
    // The unpacker's own readers of these fields, so that both read a header alike (empty
    // numeric fields are 0, as Go's archive/tar reads them).
    let header = entry.header();
    let mode = or_zero(&header.as_old().mode, header.mode().map(u64::from))? as u32 & 0o7777;
    let (major, minor) = device_number(header).unwrap_or((0, 0));
    Ok(Some(match header.entry_type() {
        // Pre-POSIX tars mark directories as regular files with a trailing slash (the
        // unpacker makes them directories too).
        tar::EntryType::Regular if trailing_slash => Expect::Dir { mode },
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            let mut hasher = Hasher::default();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = entry.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            Expect::File {
                mode,
                size: hasher.len(),
                sha: hasher.finish(),
            }
        }
        tar::EntryType::Directory => Expect::Dir { mode },
        tar::EntryType::Symlink => Expect::Symlink {
            target: entry
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default(),
        },
        tar::EntryType::Link => Expect::Hardlink {
            target: entry
                .link_name_bytes()
                .and_then(|l| normalized(&l))
                .unwrap_or_default(),
        },
        tar::EntryType::Char => Expect::Char { mode, major, minor },
        tar::EntryType::Block => Expect::Block { mode, major, minor },
        tar::EntryType::Fifo => Expect::Fifo { mode },
        // PAX and GNU extension headers are folded into the next entry by the tar crate;
        // anything else the unpacker does not write either.
        _ => return Ok(None),
    }))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// path, type, data, mode, link target
    pub type Entry<'a> = (&'a str, tar::EntryType, &'a [u8], u32, Option<&'a str>);

    pub fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data, mode, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(*mode);
            h.set_size(data.len() as u64);
            if let Some(link) = link {
                h.set_link_name(link).unwrap();
            }
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    pub fn expected(tar: &[u8]) -> Expected {
        read_layer(tar).unwrap()
    }

    #[test]
    fn whiteouts_map_to_their_overlay_form() {
        let tar = tar_of(&[
            ("etc/.wh.shadow", tar::EntryType::Regular, b"", 0o644, None),
            (
                "opt/.wh..wh..opq",
                tar::EntryType::Regular,
                b"",
                0o644,
                None,
            ),
            (".wh.top", tar::EntryType::Regular, b"", 0o644, None),
        ]);
        let e = expected(&tar);
        assert!(matches!(
            e.entries.get(&b"etc/shadow"[..]),
            Some(Expect::Whiteout)
        ));
        assert!(matches!(e.entries.get(&b"top"[..]), Some(Expect::Whiteout)));
        assert!(!e.entries.contains_key(&b"etc/.wh.shadow"[..]));
        assert!(e.opaque.contains(&b"opt"[..]));
    }

    #[test]
    fn a_later_entry_replaces_an_earlier_tree() {
        let tar = tar_of(&[
            ("a", tar::EntryType::Directory, b"", 0o755, None),
            ("a/b", tar::EntryType::Regular, b"x", 0o644, None),
            ("a", tar::EntryType::Regular, b"now a file", 0o644, None),
        ]);
        let e = expected(&tar);
        assert_eq!(e.entries.len(), 1);
        assert!(matches!(
            e.entries[&b"a"[..]],
            Expect::File { size: 10, .. }
        ));
    }

    #[test]
    fn names_are_bytes() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(0);
        h.as_gnu_mut().unwrap().name[..3].copy_from_slice(b"x\xffy");
        h.set_cksum();
        b.append(&h, &b""[..]).unwrap();
        let e = expected(&b.into_inner().unwrap());
        assert!(e.entries.contains_key(&b"x\xffy"[..]), "{e:?}");
    }
}

//! Round trips: a random tree (directories, files with random content and modes, symlinks,
//! hardlinks, long names) is written with `tar::Builder`, optionally compressed with gzip or
//! zstd, read back through `decompress` + `unpack`, and the unpacked tree compared with the
//! spec: contents, modes, owners, symlink targets, hardlink inodes, mtimes, and nothing extra.
//! Plus whiteouts/opaque directories, PAX xattrs and times, and reading to the end marker.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use atomic_store::unpack::{UnpackOptions, UnpackStats, decompress, unpack};
use proptest::prelude::*;
use tar::{Builder, EntryType, Header};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[derive(Debug, Clone)]
enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    /// Hardlink to another (file) path of the spec.
    Hardlink(String),
}

#[derive(Debug, Clone)]
struct Item {
    node: Node,
    mode: u32,
    mtime: u64,
    uid: u64,
    gid: u64,
}

/// What the layer should contain, by path ("a/b").
type Spec = BTreeMap<String, Item>;

const NAMES: &[&str] = &[
    "a", "b", "dir", "f.txt", ".hidden", "sp ace", "ünï", "..x", "\\",
];
const FILE_MODES: &[u32] = &[0o644, 0o755, 0o600, 0o444, 0o000, 0o4755, 0o2711, 0o1644];
const DIR_MODES: &[u32] = &[0o755, 0o700, 0o555, 0o1777, 0o2755];

/// One generated entry, before it is made consistent with the others.
#[derive(Debug, Clone)]
struct Raw {
    comps: Vec<String>,
    kind: u8,
    data: Vec<u8>,
    mode_idx: usize,
    mtime: u64,
    owner: u64,
    target: String,
    pick: usize,
}

/// `n` pseudo-random bytes (xorshift), so big files do not compress to nothing.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn raw_entry() -> impl Strategy<Value = Raw> {
    let comp = prop_oneof![
        8 => proptest::sample::select(NAMES).prop_map(str::to_string),
        1 => Just("l".repeat(150)),
    ];
    (
        proptest::collection::vec(comp, 1..4),
        0u8..10,
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..600),
            // Big files, cheaply: proptest generating 300 KB byte by byte is slow.
            1 => (100_000usize..300_000, any::<u64>()).prop_map(|(n, seed)| noise(n, seed)),
        ],
        0usize..8,
        0u64..8_000_000_000,
        0u64..4,
        "(\\.\\./|/|[a-z]{1,3}/){0,4}[a-z]{1,8}",
        any::<usize>(),
    )
        .prop_map(
            |(comps, kind, data, mode_idx, mtime, owner, target, pick)| Raw {
                comps,
                kind,
                data,
                mode_idx,
                mtime,
                owner,
                target,
                pick,
            },
        )
}

/// Make a consistent spec: first entry at a path wins, nothing under a non-directory, every
/// parent listed as a directory, hardlinks only to files already in the spec.
fn build_spec(raws: Vec<Raw>) -> Spec {
    let mut spec = Spec::new();
    for r in raws {
        let path = r.comps.join("/");
        if path.len() > 1000 || spec.contains_key(&path) {
            continue;
        }
        let parents: Vec<String> = (1..r.comps.len()).map(|i| r.comps[..i].join("/")).collect();
        if parents
            .iter()
            .any(|p| spec.get(p).is_some_and(|it| !matches!(it.node, Node::Dir)))
        {
            continue;
        }
        let node = match r.kind {
            0..=2 => Node::Dir,
            3..=6 => Node::File(r.data),
            7 => Node::Symlink(r.target),
            _ => {
                let files: Vec<&String> = spec
                    .iter()
                    .filter(|(_, it)| matches!(it.node, Node::File(_)))
                    .map(|(p, _)| p)
                    .collect();
                if files.is_empty() {
                    continue;
                }
                Node::Hardlink(files[r.pick % files.len()].clone())
            }
        };
        let is_dir = matches!(node, Node::Dir);
        let prefix = format!("{path}/");
        if !is_dir && spec.keys().any(|k| k.starts_with(&prefix)) {
            continue;
        }
        for p in parents {
            spec.entry(p).or_insert(Item {
                node: Node::Dir,
                mode: 0o755,
                mtime: r.mtime / 2,
                uid: 0,
                gid: 0,
            });
        }
        let mode = if is_dir {
            DIR_MODES[r.mode_idx % DIR_MODES.len()]
        } else {
            FILE_MODES[r.mode_idx]
        };
        spec.insert(
            path,
            Item {
                node,
                mode,
                mtime: r.mtime,
                uid: r.owner * 1000,
                gid: r.owner * 100,
            },
        );
    }
    spec
}

fn header(kind: EntryType, it: &Item) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(it.mode);
    h.set_mtime(it.mtime);
    h.set_uid(it.uid);
    h.set_gid(it.gid);
    h.set_size(0);
    h
}

/// Directories and files in path order (parents first), hardlinks last (after their targets).
fn write_tar(spec: &Spec) -> Vec<u8> {
    let mut b = Builder::new(Vec::new());
    for (path, it) in spec {
        match &it.node {
            Node::Dir => {
                let mut h = header(EntryType::Directory, it);
                b.append_data(&mut h, format!("{path}/"), io::empty())
                    .unwrap();
            }
            Node::File(data) => {
                let mut h = header(EntryType::Regular, it);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, &data[..]).unwrap();
            }
            Node::Symlink(target) => {
                // Literal: the tar crate's `append_link` would normalise "a//b" to "a/b".
                let mut h = header(EntryType::Symlink, it);
                h.set_link_name_literal(target).unwrap();
                b.append_data(&mut h, path, io::empty()).unwrap();
            }
            Node::Hardlink(_) => {}
        }
    }
    for (path, it) in spec {
        if let Node::Hardlink(target) = &it.node {
            let mut h = header(EntryType::Link, it);
            b.append_link(&mut h, path, target).unwrap();
        }
    }
    b.into_inner().unwrap()
}

/// Every path under `root`, relative, without following symlinks.
fn listing(root: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for ent in fs::read_dir(dir).unwrap() {
            let p = ent.unwrap().path();
            out.insert(p.strip_prefix(root).unwrap().to_str().unwrap().to_string());
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                walk(&p, root, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn check(spec: &Spec, root: &Path) -> Result<(), String> {
    let want: BTreeSet<String> = spec.keys().cloned().collect();
    let got = listing(root);
    if want != got {
        return Err(format!(
            "paths differ: missing {:?}, extra {:?}",
            want.difference(&got).collect::<Vec<_>>(),
            got.difference(&want).collect::<Vec<_>>()
        ));
    }
    let root_user = is_root();
    for (path, it) in spec {
        let p = root.join(path);
        let md = fs::symlink_metadata(&p).map_err(|e| format!("{path}: {e}"))?;
        let ctx = |what: &str| format!("{path}: {what} differs");
        // A hardlink shares its target's inode and so its metadata.
        let meta_of = match &it.node {
            Node::Hardlink(t) => &spec[t],
            _ => it,
        };
        match &it.node {
            Node::Dir => prop_assert_is(md.is_dir(), ctx("type"))?,
            Node::File(data) => {
                prop_assert_is(md.is_file(), ctx("type"))?;
                prop_assert_is(&fs::read(&p).unwrap() == data, ctx("content"))?;
            }
            Node::Symlink(target) => {
                prop_assert_is(md.is_symlink(), ctx("type"))?;
                prop_assert_is(
                    fs::read_link(&p).unwrap().to_str() == Some(target),
                    ctx("target"),
                )?;
            }
            Node::Hardlink(target) => {
                let t = fs::symlink_metadata(root.join(target)).unwrap();
                prop_assert_is(md.ino() == t.ino() && md.is_file(), ctx("hardlink inode"))?;
            }
        }
        if !md.is_symlink() {
            let mut want_mode = meta_of.mode;
            if !root_user {
                // The kernel drops setgid for a group the user is not in.
                want_mode &= !0o2000;
            }
            let got_mode = md.mode() & 0o7777;
            if got_mode != want_mode {
                return Err(format!("{path}: mode {got_mode:o}, want {want_mode:o}"));
            }
        }
        if md.mtime() as u64 != meta_of.mtime || md.mtime_nsec() != 0 {
            return Err(format!(
                "{path}: mtime {}, want {}",
                md.mtime(),
                meta_of.mtime
            ));
        }
        if root_user && (u64::from(md.uid()) != meta_of.uid || u64::from(md.gid()) != meta_of.gid) {
            return Err(format!("{path}: owner {}:{}", md.uid(), md.gid()));
        }
    }
    Ok(())
}

fn prop_assert_is(cond: bool, msg: String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg) }
}

fn compress(tar: &[u8], how: u8) -> Vec<u8> {
    match how {
        0 => tar.to_vec(),
        1 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(tar).unwrap();
            e.finish().unwrap()
        }
        _ => zstd::encode_all(tar, 1).unwrap(),
    }
}

fn unpack_bytes(blob: &[u8], dest: &Path) -> UnpackStats {
    let tar = decompress(BufReader::new(blob)).unwrap();
    unpack(tar, dest, &UnpackOptions::for_current_user()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_trees_round_trip(raws in proptest::collection::vec(raw_entry(), 0..40), how in 0u8..3) {
        let spec = build_spec(raws);
        let tar = write_tar(&spec);
        let blob = compress(&tar, how);
        let tmp = tempfile::tempdir().unwrap();
        let stats = unpack_bytes(&blob, tmp.path());
        prop_assert_eq!(stats.entries, spec.len() as u64);
        let bytes: u64 = spec.values().map(|it| match &it.node { Node::File(d) => d.len() as u64, _ => 0 }).sum();
        prop_assert_eq!(stats.bytes, bytes);
        if let Err(e) = check(&spec, tmp.path()) {
            prop_assert!(false, "{}\nspec: {:#?}", e, spec.keys().collect::<Vec<_>>());
        }
    }
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len += 1;
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

fn append_pax(b: &mut Builder<Vec<u8>>, records: &[(&str, &[u8])]) {
    let data: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::XHeader);
    h.set_path("PaxHeaders/x").unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, &data[..]).unwrap();
}

fn simple(b: &mut Builder<Vec<u8>>, kind: EntryType, path: &str, data: &[u8], mode: u32) {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(1_000_000);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, path, data).unwrap();
}

#[test]
fn whiteouts_and_opaque_dirs_become_overlay_form() {
    let mut b = Builder::new(Vec::new());
    simple(&mut b, EntryType::Directory, "d/", b"", 0o755);
    simple(&mut b, EntryType::Regular, "d/keep", b"k", 0o644);
    simple(&mut b, EntryType::Regular, "d/.wh.gone", b"", 0o644);
    simple(&mut b, EntryType::Regular, "d/.wh..wh..opq", b"", 0o644);
    simple(&mut b, EntryType::Regular, ".wh.top", b"", 0o644);
    // A whiteout replaces an earlier entry of the same layer (docker does the same).
    simple(&mut b, EntryType::Regular, "e/f", b"f", 0o644);
    simple(&mut b, EntryType::Regular, "e/.wh.f", b"", 0o644);
    // A whiteout replaces a whole earlier directory.
    simple(&mut b, EntryType::Directory, "e/sub/", b"", 0o755);
    simple(&mut b, EntryType::Regular, "e/sub/x", b"x", 0o644);
    simple(&mut b, EntryType::Regular, "e/.wh.sub", b"", 0o644);
    // An opaque marker in a directory the layer does not list creates it.
    simple(&mut b, EntryType::Regular, "o/p/.wh..wh..opq", b"", 0o644);
    // AUFS hardlink bookkeeping is skipped.
    simple(&mut b, EntryType::Regular, ".wh..wh.plnk/1.2", b"", 0o644);
    let tar = b.into_inner().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let res = unpack(&tar[..], tmp.path(), &UnpackOptions::for_current_user());
    if !is_root() {
        let e = res.unwrap_err();
        assert!(e.to_string().contains("whiteouts need root"), "{e}");
        return;
    }
    res.unwrap();
    let r = tmp.path();
    for wh in ["d/gone", "top", "e/f", "e/sub"] {
        let md = fs::symlink_metadata(r.join(wh)).unwrap();
        assert!(md.file_type().is_char_device(), "{wh} is not a char device");
        assert_eq!(md.rdev(), 0, "{wh}");
    }
    for opq in ["d", "o/p"] {
        assert_eq!(
            xattr::get(r.join(opq), "trusted.overlay.opaque")
                .unwrap()
                .as_deref(),
            Some(&b"y"[..]),
            "{opq}"
        );
    }
    assert_eq!(
        xattr::get(r.join("e"), "trusted.overlay.opaque").unwrap(),
        None
    );
    assert_eq!(fs::read(r.join("d/keep")).unwrap(), b"k");
    let all = listing(r);
    assert!(all.iter().all(|p| !p.contains(".wh.")), "{all:?}");
    assert_eq!(
        all,
        [
            "d", "d/gone", "d/keep", "e", "e/f", "e/sub", "o", "o/p", "top"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
}

#[test]
fn pax_xattrs_times_and_repeated_directories() {
    let mut b = Builder::new(Vec::new());
    append_pax(
        &mut b,
        &[
            ("SCHILY.xattr.user.test", b"hello\0bin"),
            ("mtime", b"1700000000.25"),
        ],
    );
    simple(&mut b, EntryType::Regular, "f", b"data", 0o640);
    append_pax(&mut b, &[("SCHILY.xattr.user.dirattr", b"d")]);
    simple(&mut b, EntryType::Directory, "d/", b"", 0o700);
    simple(&mut b, EntryType::Regular, "d/child", b"c", 0o644);
    // The same directory again: kept (child survives), metadata from the last entry.
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Directory);
    h.set_mode(0o751);
    h.set_mtime(12345);
    h.set_size(0);
    b.append_data(&mut h, "d/", io::empty()).unwrap();
    // The layer root's own entry.
    simple(&mut b, EntryType::Directory, "./", b"", 0o711);
    let tar = b.into_inner().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    unpack(&tar[..], tmp.path(), &UnpackOptions::for_current_user()).unwrap();
    let r = tmp.path();
    assert_eq!(
        xattr::get(r.join("f"), "user.test").unwrap().as_deref(),
        Some(&b"hello\0bin"[..])
    );
    assert_eq!(
        xattr::get(r.join("d"), "user.dirattr").unwrap().as_deref(),
        Some(&b"d"[..])
    );
    let f = fs::metadata(r.join("f")).unwrap();
    assert_eq!((f.mtime(), f.mtime_nsec()), (1_700_000_000, 250_000_000));
    assert_eq!(f.mode() & 0o7777, 0o640);
    let d = fs::metadata(r.join("d")).unwrap();
    assert_eq!((d.mode() & 0o7777, d.mtime()), (0o751, 12345));
    assert_eq!(fs::read(r.join("d/child")).unwrap(), b"c");
    let root = fs::metadata(r).unwrap();
    assert_eq!((root.mode() & 0o7777, root.mtime()), (0o711, 1_000_000));
}

/// Counts what is read, to see where unpack stopped.
struct Counting<R> {
    inner: R,
    read: usize,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        Ok(n)
    }
}

#[test]
fn reads_to_the_end_marker() {
    let mut b = Builder::new(Vec::new());
    simple(&mut b, EntryType::Regular, "f", &[7u8; 1000], 0o644);
    let mut tar = b.into_inner().unwrap();
    let end = tar.len() - 1024;
    tar.extend_from_slice(b"trailing bytes the caller drains and hashes");
    let tmp = tempfile::tempdir().unwrap();
    let mut r = Counting {
        inner: &tar[..],
        read: 0,
    };
    let stats = unpack(&mut r, tmp.path(), &UnpackOptions::for_current_user()).unwrap();
    assert_eq!(
        stats,
        UnpackStats {
            entries: 1,
            bytes: 1000
        }
    );
    assert!(
        r.read >= end + 512,
        "stopped at {} before the end marker at {end}",
        r.read
    );
}

#[test]
fn empty_stream_is_an_empty_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let stats = unpack(&b""[..], tmp.path(), &UnpackOptions::for_current_user()).unwrap();
    assert_eq!(stats, UnpackStats::default());
    assert!(listing(tmp.path()).is_empty());
}

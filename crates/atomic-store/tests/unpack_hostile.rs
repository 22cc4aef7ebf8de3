//! Hostile layers: each is built here from raw tar headers (the tar crate's `set_path` refuses
//! `..`, which is exactly what we need to write), unpacked into `tmp/root/layer` next to a
//! sentinel `tmp/outside`, and checked for the expected refusal or confinement — and for
//! nothing created or changed outside the layer directory.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use atomic_store::unpack::{UnpackError, UnpackOptions, unpack};
use tar::{EntryType, Header};

const MTIME: u64 = 1_600_000_000;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A tar written header by header, names set as raw bytes.
struct Layer {
    out: Vec<u8>,
}

impl Layer {
    fn new() -> Layer {
        Layer { out: Vec::new() }
    }

    fn header(name: &[u8], kind: EntryType, size: u64, mode: u32) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        let field = &mut h.as_old_mut().name;
        let n = name.len().min(100);
        field[..n].copy_from_slice(&name[..n]);
        h
    }

    fn push(&mut self, mut h: Header, data: &[u8]) {
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }

    /// GNU long name ('L') or long link ('K') record for the next entry.
    fn gnu_long(&mut self, kind: EntryType, value: &[u8]) {
        let mut data = value.to_vec();
        data.push(0);
        let h = Layer::header(b"././@LongLink", kind, data.len() as u64, 0o644);
        self.push(h, &data);
    }

    /// A PAX extended header ('x') for the next entry.
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (k, v) in records {
            data.extend(pax_record(k.as_bytes(), v));
        }
        let h = Layer::header(
            b"PaxHeaders/x",
            EntryType::XHeader,
            data.len() as u64,
            0o644,
        );
        self.push(h, &data);
        self
    }

    fn entry(
        &mut self,
        name: &[u8],
        kind: EntryType,
        data: &[u8],
        mode: u32,
        link: Option<&[u8]>,
    ) -> &mut Self {
        if name.len() > 100 {
            self.gnu_long(EntryType::GNULongName, name);
        }
        let mut h = Layer::header(name, kind, data.len() as u64, mode);
        if let Some(link) = link {
            if link.len() > 100 {
                self.gnu_long(EntryType::GNULongLink, link);
            } else {
                h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
            }
        }
        self.push(h, data);
        self
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(name.as_bytes(), EntryType::Regular, data, 0o644, None)
    }

    fn file_mode(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        self.entry(name.as_bytes(), EntryType::Regular, data, mode, None)
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.entry(name.as_bytes(), EntryType::Directory, b"", mode, None)
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(
            name.as_bytes(),
            EntryType::Symlink,
            b"",
            0o777,
            Some(target.as_bytes()),
        )
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(
            name.as_bytes(),
            EntryType::Link,
            b"",
            0o644,
            Some(target.as_bytes()),
        )
    }

    fn device(&mut self, name: &str, kind: EntryType, major: u32, minor: u32) -> &mut Self {
        let mut h = Layer::header(name.as_bytes(), kind, 0, 0o660);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.push(h, b"");
        self
    }

    /// A header that declares `declared` bytes followed by only `data`, and the stream ends.
    fn truncated(&mut self, name: &str, declared: u64, data: &[u8]) -> Vec<u8> {
        let mut h = Layer::header(name.as_bytes(), EntryType::Regular, declared, 0o644);
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        std::mem::take(&mut self.out)
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }
}

fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    // "LEN key=value\n" where LEN counts itself.
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len += 1;
    }
    let mut rec = format!("{len} ").into_bytes();
    rec.extend_from_slice(key);
    rec.push(b'=');
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

/// Everything under `tmp` except the layer directory, described by type, mode, owner, size,
/// mtime, content or target, and xattrs — never following a symlink.
fn snapshot(tmp: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, tmp: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for ent in fs::read_dir(dir).unwrap() {
            let p = ent.unwrap().path();
            if p == skip {
                continue;
            }
            out.insert(p.strip_prefix(tmp).unwrap().to_path_buf(), describe(&p));
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                walk(&p, tmp, skip, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    out.insert(PathBuf::from("."), describe(tmp));
    walk(tmp, tmp, &tmp.join("root/layer"), &mut out);
    out
}

fn describe(p: &Path) -> String {
    let md = fs::symlink_metadata(p).unwrap();
    let ft = md.file_type();
    let content = if ft.is_file() {
        format!("{:?}", fs::read(p).unwrap())
    } else if ft.is_symlink() {
        format!("-> {:?}", fs::read_link(p).unwrap())
    } else {
        String::new()
    };
    let xattrs: Vec<_> = xattr::list(p).map(|l| l.collect()).unwrap_or_default();
    format!(
        "{ft:?} mode={:o} uid={} gid={} size={} mtime={}.{} {content} xattrs={xattrs:?}",
        md.mode(),
        md.uid(),
        md.gid(),
        md.len(),
        md.mtime(),
        md.mtime_nsec()
    )
}

/// What a case must do.
enum Expect {
    /// Refused, with an error whose message contains this text.
    Refused(&'static str),
    /// Unpacked; the check gets the layer directory and the temp dir.
    Confined(fn(&Path, &Path)),
}

struct Case {
    name: &'static str,
    /// Builds the layer; gets the temp dir (for absolute symlinks into `tmp/outside`).
    build: fn(&Path) -> Vec<u8>,
    expect: Expect,
}

fn out(tmp: &Path, rest: &str) -> String {
    format!("{}/outside{rest}", tmp.display())
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "dotdot escape",
            build: |_| Layer::new().file("../escape", b"x").finish(),
            expect: Expect::Refused("layer entry '../escape' escapes the layer root"),
        },
        Case {
            name: "absolute path is confined",
            build: |_| Layer::new().file("/abs/path", b"abs").finish(),
            expect: Expect::Confined(|layer, _| {
                assert_eq!(fs::read(layer.join("abs/path")).unwrap(), b"abs");
                assert!(!Path::new("/abs").exists());
            }),
        },
        Case {
            name: "dotdot in the middle",
            build: |_| Layer::new().file("a/../../escape", b"x").finish(),
            expect: Expect::Refused("escapes the layer root"),
        },
        Case {
            name: "PAX path with dotdot",
            build: |_| {
                Layer::new()
                    .pax(&[("path", b"../pax-escape")])
                    .file("innocent", b"x")
                    .finish()
            },
            expect: Expect::Refused("layer entry '../pax-escape' escapes the layer root"),
        },
        Case {
            name: "PAX path with NUL",
            build: |_| {
                Layer::new()
                    .pax(&[("path", b"a\0b")])
                    .file("innocent", b"x")
                    .finish()
            },
            expect: Expect::Refused("contains a NUL byte"),
        },
        Case {
            name: "write through symlink to /",
            build: |_| {
                Layer::new()
                    .symlink("link", "/")
                    .file("link/escape", b"x")
                    .finish()
            },
            expect: Expect::Refused("goes through 'link', which is a symlink"),
        },
        Case {
            name: "write through symlink to ../..",
            build: |_| {
                Layer::new()
                    .symlink("link", "../..")
                    .file("link/escape", b"x")
                    .finish()
            },
            expect: Expect::Refused("goes through 'link', which is a symlink"),
        },
        Case {
            name: "write through absolute symlink into outside",
            build: |t| {
                Layer::new()
                    .symlink("d", &out(t, ""))
                    .file("d/x", b"x")
                    .finish()
            },
            expect: Expect::Refused("which is a symlink"),
        },
        Case {
            name: "symlink chain",
            build: |_| {
                Layer::new()
                    .symlink("a", "b")
                    .symlink("b", "../outside")
                    .file("a/x", b"x")
                    .finish()
            },
            expect: Expect::Refused("goes through 'a', which is a symlink"),
        },
        Case {
            name: "deep write through symlinked dir",
            build: |t| {
                Layer::new()
                    .dir("d", 0o755)
                    .symlink("d/s", &out(t, "/dir"))
                    .file("d/s/sub/f", b"x")
                    .finish()
            },
            expect: Expect::Refused("goes through 'd/s', which is a symlink"),
        },
        Case {
            name: "hardlink to ../../outside/file",
            build: |_| Layer::new().hardlink("h", "../../outside/file").finish(),
            expect: Expect::Refused("hardlink 'h' points outside the layer ('../../outside/file')"),
        },
        Case {
            name: "hardlink to /etc/passwd",
            build: |_| Layer::new().hardlink("h", "/etc/passwd").finish(),
            expect: Expect::Refused(
                "hardlink 'h' points to '/etc/passwd', which is not earlier in this layer",
            ),
        },
        Case {
            name: "hardlink through a symlinked dir",
            build: |t| {
                Layer::new()
                    .symlink("d", &out(t, ""))
                    .hardlink("h", "d/file")
                    .finish()
            },
            expect: Expect::Refused("which goes through 'd', a symlink"),
        },
        Case {
            name: "hardlink to a directory",
            build: |_| Layer::new().dir("d", 0o755).hardlink("h", "d").finish(),
            expect: Expect::Refused("which is a directory"),
        },
        Case {
            name: "hardlink with a long dotdot target",
            build: |_| {
                Layer::new()
                    .hardlink("h", &format!("{}../../x", "a/".repeat(60)))
                    .finish()
            },
            expect: Expect::Refused("points outside the layer"),
        },
        Case {
            name: "hardlink to a symlink, then a file over it",
            build: |t| {
                Layer::new()
                    .symlink("s", &out(t, "/file"))
                    .hardlink("h", "s")
                    .file("h", b"pwned")
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                assert_eq!(fs::read(layer.join("h")).unwrap(), b"pwned");
                assert!(fs::symlink_metadata(layer.join("s")).unwrap().is_symlink());
            }),
        },
        Case {
            name: "hardlink to a symlink links the symlink itself",
            build: |t| {
                Layer::new()
                    .symlink("s", &out(t, "/file"))
                    .hardlink("h", "s")
                    .finish()
            },
            expect: Expect::Confined(|layer, tmp| {
                let s = fs::symlink_metadata(layer.join("s")).unwrap();
                let h = fs::symlink_metadata(layer.join("h")).unwrap();
                assert!(h.is_symlink());
                assert_eq!(s.ino(), h.ino());
                assert_eq!(
                    fs::read_link(layer.join("h")).unwrap(),
                    tmp.join("outside/file")
                );
            }),
        },
        Case {
            name: "whiteout of '..'",
            build: |_| Layer::new().file(".wh...", b"").finish(),
            expect: Expect::Refused("whiteout '.wh...' does not name a file"),
        },
        Case {
            name: "whiteout of '.'",
            build: |_| Layer::new().file(".wh..", b"").finish(),
            expect: Expect::Refused("whiteout '.wh..' does not name a file"),
        },
        Case {
            name: "empty whiteout",
            build: |_| Layer::new().file("dir/.wh.", b"").finish(),
            expect: Expect::Refused("whiteout 'dir/.wh.' does not name a file"),
        },
        Case {
            name: "whiteout through a symlink",
            build: |t| {
                Layer::new()
                    .symlink("d", &out(t, ""))
                    .file("d/.wh.file", b"")
                    .finish()
            },
            expect: Expect::Refused("goes through 'd', which is a symlink"),
        },
        Case {
            name: "opaque marker through a symlink",
            build: |t| {
                Layer::new()
                    .symlink("d", &out(t, "/dir"))
                    .file("d/.wh..wh..opq", b"")
                    .finish()
            },
            expect: Expect::Refused("goes through 'd', which is a symlink"),
        },
        Case {
            name: "whiteout replaces a symlink to outside",
            build: |t| {
                Layer::new()
                    .symlink("x", &out(t, "/file"))
                    .file(".wh.x", b"")
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                let md = fs::symlink_metadata(layer.join("x")).unwrap();
                assert!(md.file_type().is_char_device());
                assert_eq!(md.rdev(), 0);
            }),
        },
        Case {
            name: "300-byte component",
            build: |_| {
                Layer::new()
                    .file(&format!("d/{}", "n".repeat(300)), b"x")
                    .finish()
            },
            expect: Expect::Refused("a component is 300 bytes long; at most 255"),
        },
        Case {
            name: "5000-byte path",
            build: |_| Layer::new().file(&"p123456789/".repeat(455), b"x").finish(),
            expect: Expect::Refused("the name is 5005 bytes long; at most 4096"),
        },
        Case {
            name: "3900-byte symlink target is stored (it is never followed)",
            build: |_| Layer::new().symlink("s", &"../".repeat(1300)).finish(),
            expect: Expect::Confined(|layer, _| {
                assert_eq!(
                    fs::read_link(layer.join("s")).unwrap().as_os_str().len(),
                    3900
                );
            }),
        },
        Case {
            name: "truncated file data",
            build: |_| {
                Layer::new()
                    .file("ok", b"fine")
                    .truncated("short", 4096, b"only this")
            },
            expect: Expect::Refused(
                "layer entry 'short' is truncated: its header says 4096 bytes, the archive holds 9",
            ),
        },
        Case {
            name: "truncated header",
            build: |_| {
                let mut v = Layer::new().file("ok", b"fine").finish();
                v.truncate(1024 + 100);
                v
            },
            expect: Expect::Refused("reading the layer tar (after entry 'ok')"),
        },
        Case {
            name: "directory replaces a symlink to outside",
            build: |t| {
                Layer::new()
                    .symlink("d", &out(t, "/dir"))
                    .dir("d", 0o700)
                    .file("d/f", b"inside")
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                let md = fs::symlink_metadata(layer.join("d")).unwrap();
                assert!(md.is_dir());
                assert_eq!(md.mode() & 0o7777, 0o700);
                assert_eq!(fs::read(layer.join("d/f")).unwrap(), b"inside");
            }),
        },
        Case {
            name: "file replaces a symlink to outside",
            build: |t| {
                Layer::new()
                    .symlink("f", &out(t, "/file"))
                    .file("f", b"new")
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                let md = fs::symlink_metadata(layer.join("f")).unwrap();
                assert!(md.is_file());
                assert_eq!(fs::read(layer.join("f")).unwrap(), b"new");
            }),
        },
        Case {
            name: "symlink replaces a directory tree",
            build: |t| {
                Layer::new()
                    .dir("d", 0o755)
                    .file("d/f", b"x")
                    .symlink("d", &out(t, ""))
                    .finish()
            },
            expect: Expect::Confined(|layer, tmp| {
                assert_eq!(fs::read_link(layer.join("d")).unwrap(), tmp.join("outside"));
            }),
        },
        Case {
            name: "block device",
            build: |_| {
                Layer::new()
                    .device("dev/sda", EntryType::Block, 8, 0)
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                let p = layer.join("dev/sda");
                if !is_root() {
                    assert!(!p.exists(), "devices are skipped when not root");
                    return;
                }
                let md = fs::symlink_metadata(p).unwrap();
                assert!(md.file_type().is_block_device());
                assert_eq!(md.rdev(), rustix::fs::makedev(8, 0));
                assert_eq!(md.mode() & 0o7777, 0o660);
            }),
        },
        Case {
            name: "device replaces a symlink to outside",
            build: |t| {
                Layer::new()
                    .symlink("null", &out(t, "/file"))
                    .device("null", EntryType::Char, 1, 3)
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                if is_root() {
                    assert!(
                        fs::symlink_metadata(layer.join("null"))
                            .unwrap()
                            .file_type()
                            .is_char_device()
                    );
                }
            }),
        },
        Case {
            name: "fifo and device with empty number fields (as Go writes fifos)",
            build: |_| {
                Layer::new()
                    .entry(b"fifo", EntryType::Fifo, b"", 0o640, None)
                    .entry(b"chr", EntryType::Char, b"", 0o600, None)
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                let md = fs::symlink_metadata(layer.join("fifo")).unwrap();
                assert!(md.file_type().is_fifo());
                assert_eq!(md.mode() & 0o7777, 0o640);
                if is_root() {
                    let md = fs::symlink_metadata(layer.join("chr")).unwrap();
                    assert!(md.file_type().is_char_device());
                    assert_eq!(md.rdev(), 0);
                }
            }),
        },
        Case {
            name: "setuid, setgid and sticky modes are kept",
            build: |_| {
                Layer::new()
                    .file_mode("suid", b"#!", 0o4755)
                    .file_mode("sgid", b"#!", 0o2755)
                    .dir("tmp", 0o1777)
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                let mode = |n: &str| fs::symlink_metadata(layer.join(n)).unwrap().mode() & 0o7777;
                assert_eq!(mode("suid"), 0o4755);
                assert_eq!(mode("tmp"), 0o1777);
                if is_root() {
                    assert_eq!(mode("sgid"), 0o2755);
                }
            }),
        },
        Case {
            name: "overlay xattrs other than opaque are dropped",
            build: |_| {
                Layer::new()
                    .pax(&[("SCHILY.xattr.trusted.overlay.redirect", b"/etc")])
                    .dir("d", 0o755)
                    .finish()
            },
            expect: Expect::Confined(|layer, _| {
                assert_eq!(
                    xattr::get(layer.join("d"), "trusted.overlay.redirect").unwrap(),
                    None
                );
            }),
        },
        Case {
            name: "a regular file named '.'",
            build: |_| Layer::new().file(".", b"").finish(),
            expect: Expect::Refused("has an invalid name: the name is empty"),
        },
        Case {
            name: "a file under a file",
            build: |_| Layer::new().file("f", b"").file("f/g", b"").finish(),
            expect: Expect::Refused("goes through 'f', which is not a directory"),
        },
    ]
}

#[test]
fn hostile_layers_are_refused_or_confined() {
    let passwd_before = describe(Path::new("/etc/passwd"));
    let mut failures = Vec::new();
    for case in cases() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        fs::create_dir_all(t.join("root/layer")).unwrap();
        fs::create_dir_all(t.join("outside/dir")).unwrap();
        fs::write(t.join("outside/file"), b"sentinel").unwrap();
        let tar = (case.build)(t);
        let before = snapshot(t);
        let opts = UnpackOptions::for_current_user();
        let result = unpack(&tar[..], &t.join("root/layer"), &opts);
        let after = snapshot(t);
        match &result {
            Ok(stats) => eprintln!("{}: ok {stats:?}", case.name),
            Err(e) => eprintln!("{}: refused: {e}", case.name),
        }
        if before != after {
            failures.push(format!(
                "{}: changed things outside the layer:\nbefore {before:#?}\nafter {after:#?}",
                case.name
            ));
        }
        match (&case.expect, result) {
            (Expect::Refused(want), Err(e)) => {
                if !e.to_string().contains(want) {
                    failures.push(format!(
                        "{}: error {e:?} ('{e}') does not say '{want}'",
                        case.name
                    ));
                }
            }
            (Expect::Refused(want), Ok(stats)) => {
                failures.push(format!(
                    "{}: unpacked ({stats:?}), expected refusal '{want}'",
                    case.name
                ));
            }
            (Expect::Confined(check), Ok(_)) => {
                let layer = t.join("root/layer");
                if let Err(p) = std::panic::catch_unwind(|| check(&layer, t)) {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{}: check failed: {msg}", case.name));
                }
            }
            (Expect::Confined(_), Err(e)) => failures.push(format!("{}: refused: {e}", case.name)),
        }
    }
    assert_eq!(describe(Path::new("/etc/passwd")), passwd_before);
    for p in ["/escape", "/abs", "/pax-escape"] {
        assert!(!Path::new(p).exists(), "{p} was created");
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The error for an escape is the typed variant, so callers can tell it from an I/O failure.
#[test]
fn escape_error_is_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = Layer::new().file("../x", b"").finish();
    let err = unpack(&tar[..], tmp.path(), &UnpackOptions { same_owner: false }).unwrap_err();
    assert!(
        matches!(err, UnpackError::Escape { ref path } if path == "../x"),
        "{err:?}"
    );
    let tar = Layer::new().hardlink("a", "../../etc/passwd").finish();
    let err = unpack(&tar[..], tmp.path(), &UnpackOptions { same_owner: false }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "hardlink 'a' points outside the layer ('../../etc/passwd')"
    );
}

/// Whiteouts need root; as a user the error says so instead of failing obscurely.
#[test]
fn whiteouts_as_root_or_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = Layer::new()
        .dir("d", 0o755)
        .file("d/.wh.gone", b"")
        .finish();
    let res = unpack(&tar[..], tmp.path(), &UnpackOptions::for_current_user());
    if is_root() {
        res.unwrap();
        let md = fs::symlink_metadata(tmp.path().join("d/gone")).unwrap();
        assert!(md.file_type().is_char_device() && md.rdev() == 0);
    } else if let Err(e) = res {
        assert!(e.to_string().contains("whiteouts need root"), "{e}");
    }
}

/// Peak resident memory of this process so far (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Finding 6 (PAX bomb): the tar crate buffers a PAX header whole, so a layer declaring a
/// header of hundreds of MB (a few hundred KB once gzipped) took that much memory. Headers over
/// 1 MiB are refused before they are read; memory stays flat.
#[test]
fn pax_bomb_is_refused_in_bounded_memory() {
    use std::io::Read;
    let declared: u64 = 400 << 20;
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::XHeader);
    header.set_size(declared);
    header.set_mode(0o644);
    header.set_path("PaxHeaders/bomb").unwrap();
    header.set_cksum();
    let stream = header
        .as_bytes()
        .chain(std::io::repeat(b'a').take(declared));
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer");
    fs::create_dir(&layer).unwrap();
    let before = peak_rss_kib();
    let err = unpack(stream, &layer, &UnpackOptions::for_current_user()).unwrap_err();
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(format!("{err:#}").contains("extension header"), "{err:#}");
    assert!(grown < 64 << 10, "peak RSS grew by {grown} KiB");
}

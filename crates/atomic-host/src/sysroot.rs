//! `atomic host status` on the libostree backend, read straight from the sysroot's files —
//! no libostree, no helper program.
//!
//! Why: status is the one host verb run often (by people, prompts, monitoring), and through
//! the helper it cost two program starts plus libostree's ~24 ms of library loading — slower
//! than `ostree admin status` itself. What libostree reads for it is small and documented by
//! its source (ostree-sysroot.c, `sysroot_load_from_bootloader_configs`), and this module
//! follows it step by step:
//!
//! 1. `boot/loader` is a symlink to `loader.0` or `loader.1`: the boot version.
//! 2. Each `boot/loader.N/entries/ostree-*.conf` names one deployment with its `options` line's
//!    `ostree=/ostree/boot.N/OSNAME/BOOTCSUM/SERIAL`, a symlink to
//!    `ostree/deploy/OSNAME/deploy/CHECKSUM.SERIAL`.
//! 3. The entries' `version` fields order them, highest first (libostree writes N for the
//!    first of N deployments, down to 1).
//! 4. On the running system only (`/run/ostree-booted` exists and SYSROOT is `/`), the booted
//!    deployment is the one whose directory has the root's device and inode — or the ones
//!    `ostree-prepare-root` recorded in `/run/ostree-booted` when it mounted something over
//!    the root (composefs).
//! 5. `CHECKSUM.SERIAL.origin`, a key file, gives the refspec, `unlocked=hotfix` and
//!    `[libostree-transient] pinned`; `/run/ostree/deployment-state/CHECKSUM.SERIAL/` holds
//!    the other unlock states (an absolute path: libostree looks there for any sysroot).
//! 6. The commit object `ostree/repo/objects/XX/REST.commit` gives version and timestamp.
//!
//! Whatever this reader is not certain of — a staged deployment (its state is a libostree
//! serialisation in /run), a commit missing from the repo (libostree then looks in parent
//! repos), a damaged file, a version order it would have to guess — is an error, and the
//! caller asks libostree through the helper instead. So this path is never wrong, only
//! sometimes not taken.

use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use fn_error_context::context;

use crate::gvariant;
use crate::keyfile::KeyFile;
use crate::{Deployment, HostStatus};

/// Where the running system's state lives: `/` and `/run`, except in tests.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub root: PathBuf,
    pub run: PathBuf,
}

impl Host {
    pub(crate) fn running() -> Host {
        Host {
            root: PathBuf::from("/"),
            run: PathBuf::from("/run"),
        }
    }
}

/// libostree's limit on the size of a metadata object; a larger "commit" is not one.
const MAX_COMMIT_SIZE: u64 = 10 * 1024 * 1024;

/// The deployments of `sysroot`, in boot order, as libostree would list them.
#[context("Reading the OSTree sysroot {} without libostree", sysroot.display())]
pub(crate) fn read(sysroot: &Path, host: &Host) -> Result<HostStatus> {
    check_repo(sysroot)?;
    let booted_root = booted_root(sysroot, host)?;
    if booted_root.is_some() && exists(&host.run.join("ostree/staged-deployment"))? {
        bail!("a deployment is staged; its state is libostree's to read");
    }
    let bootversion = bootversion(sysroot)?;
    let mut entries = boot_entries(sysroot, bootversion)?;
    // Highest version first. Versions are what libostree writes (decimal, no leading zero),
    // so their order is numeric; equal ones would leave the order to GLib's sort.
    entries.sort_by_key(|e| std::cmp::Reverse(e.version));
    if entries.windows(2).any(|w| w[0].version == w[1].version) {
        bail!("two boot entries have the same version");
    }
    let mut booted_found = false;
    let mut deployments = Vec::with_capacity(entries.len());
    for entry in &entries {
        let (d, devino) = deployment(sysroot, host, &entry.bootlink)?;
        let booted = !booted_found && booted_root == Some(devino);
        booted_found |= booted;
        deployments.push(Deployment { booted, ..d });
    }
    if booted_root.is_some() && !booted_found {
        bail!("the running system's sysroot has no boot entry for the booted deployment");
    }
    Ok(HostStatus { deployments })
}

fn exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(anyhow!("{}: {e}", path.display())),
    }
}

/// libostree opens the repo before anything else and fails on a repo it cannot use; the
/// parts of that check that are cheap: the config is a repo of format 1, on the device of
/// `ostree/` (libostree's hardlinks need that).
fn check_repo(sysroot: &Path) -> Result<()> {
    let config = sysroot.join("ostree/repo/config");
    let text = fs::read_to_string(&config).with_context(|| format!("{}", config.display()))?;
    let config = KeyFile::parse(&text).context("the repo config")?;
    ensure!(
        config.string("core", "repo_version")? == Some("1"),
        "the repo config does not say repo_version=1"
    );
    let dev = |p: &str| fs::metadata(sysroot.join(p)).map(|m| m.dev());
    ensure!(
        dev("ostree")? == dev("ostree/repo")?,
        "ostree/ and ostree/repo are on different devices"
    );
    Ok(())
}

/// The device and inode the booted deployment's directory has, when `sysroot` is the
/// running system's; `None` when it is not (then no deployment is booted).
fn booted_root(sysroot: &Path, host: &Host) -> Result<Option<(u64, u64)>> {
    let marker = host.run.join("ostree-booted");
    let state = match fs::read(&marker) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!("{}: {e}", marker.display()),
    };
    let root = fs::metadata(&host.root)?;
    let this = fs::metadata(sysroot)?;
    if (root.dev(), root.ino()) != (this.dev(), this.ino()) {
        return Ok(None);
    }
    // An empty file (older ostree-prepare-root) is an empty dictionary.
    match gvariant::lookup(&state, "backing-root-device-inode")
        .with_context(|| format!("{}", marker.display()))?
    {
        None => Ok(Some((root.dev(), root.ino()))),
        Some(("(tt)", data)) => Ok(Some(gvariant::u64_pair(data)?)),
        Some((other, _)) => bail!("backing-root-device-inode has type '{other}'"),
    }
}

fn bootversion(sysroot: &Path) -> Result<u8> {
    let link = sysroot.join("boot/loader");
    let version = match fs::read_link(&link) {
        Err(e) if e.kind() == ErrorKind::NotFound && !exists(&link)? => 0,
        Err(e) => bail!("{}: {e}", link.display()),
        Ok(target) => match target.as_os_str().as_bytes() {
            b"loader.0" => 0,
            b"loader.1" => 1,
            _ => bail!("boot/loader points to {}", target.display()),
        },
    };
    // libostree also refuses a subbootversion link that ends in neither .0 nor .1.
    let sub = sysroot.join(format!("ostree/boot.{version}"));
    if let Ok(target) = fs::read_link(&sub) {
        let target = target.as_os_str().as_bytes();
        ensure!(
            target.ends_with(b".0") || target.ends_with(b".1"),
            "ostree/boot.{version} points neither to .0 nor to .1"
        );
    } else {
        ensure!(!exists(&sub)?, "ostree/boot.{version} is not a symlink");
    }
    Ok(version)
}

/// One boot entry: its `version` and its `ostree=` target.
#[derive(Debug)]
struct BootEntry {
    version: u64,
    bootlink: String,
}

fn boot_entries(sysroot: &Path, bootversion: u8) -> Result<Vec<BootEntry>> {
    let dir = sysroot.join(format!("boot/loader.{bootversion}/entries"));
    let listing = match fs::read_dir(&dir) {
        Ok(listing) => listing,
        // libostree: no boot directory or no entries, no deployments.
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("{}: {e}", dir.display()),
    };
    let mut entries = Vec::new();
    for item in listing {
        let item = item?;
        let name = item.file_name();
        let name = name.as_bytes();
        if !(name.starts_with(b"ostree-") && name.ends_with(b".conf")) {
            continue;
        }
        let path = item.path();
        // Followed, as libostree follows a symlinked entry.
        if !fs::metadata(&path)?.is_file() {
            continue;
        }
        let text = fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        entries.push(parse_entry(&text).with_context(|| format!("{}", path.display()))?);
    }
    Ok(entries)
}

/// A Boot Loader Specification entry as libostree parses it: lines that start with a letter
/// are `KEY VALUE` (split at the first space or tab, the last of a key winning).
fn parse_entry(text: &str) -> Result<BootEntry> {
    let mut version = None;
    let mut options = None;
    for line in text.split('\n') {
        if !line.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let Some((key, value)) = line.split_once([' ', '\t']) else {
            continue;
        };
        match key {
            "version" => version = Some(value),
            "options" => options = Some(value),
            _ => {}
        }
    }
    let version = version.context("no 'version' line")?;
    let number: u64 = version
        .parse()
        .ok()
        .filter(|n: &u64| n.to_string() == version)
        .with_context(|| format!("version '{version}' is not a plain decimal number"))?;
    let bootlink = options
        .and_then(|o| o.split(' ').find_map(|opt| opt.strip_prefix("ostree=")))
        .context("no ostree= kernel argument")?;
    Ok(BootEntry {
        version: number,
        bootlink: bootlink.to_string(),
    })
}

/// The stateroot (OS name) of an `ostree=/ostree/boot.N/OSNAME/BOOTCSUM/SERIAL` argument.
fn bootlink_osname(bootlink: &str) -> Result<&str> {
    let parts: Vec<&str> = bootlink.split('/').collect();
    match parts[..] {
        ["", "ostree", "boot.0" | "boot.1", osname, bootcsum, serial]
            if !osname.is_empty()
                && !bootcsum.is_empty()
                && !serial.is_empty()
                && serial.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(osname)
        }
        _ => bail!("invalid ostree= argument '{bootlink}'"),
    }
}

fn is_checksum(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The deployment an `ostree=` argument names, not yet marked booted, with its directory's
/// device and inode.
fn deployment(sysroot: &Path, host: &Host, bootlink: &str) -> Result<(Deployment, (u64, u64))> {
    let osname = bootlink_osname(bootlink)?;
    let link = sysroot.join(bootlink.trim_start_matches('/'));
    let target = fs::read_link(&link).with_context(|| format!("{}", link.display()))?;
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} points to {}", link.display(), target.display()))?;
    let (checksum, serial) = name
        .split_once('.')
        .filter(|(c, s)| is_checksum(c) && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .with_context(|| format!("deployment name '{name}' is not CHECKSUM.SERIAL"))?;
    let serial: i32 = serial.parse().context("deployment serial")?;
    let dir = fs::metadata(&link).with_context(|| format!("{}", link.display()))?;
    ensure!(dir.is_dir(), "{} is not a directory", link.display());

    let origin_path = sysroot.join(format!(
        "ostree/deploy/{osname}/deploy/{checksum}.{serial}.origin"
    ));
    let origin = match fs::read_to_string(&origin_path) {
        Ok(text) => Some(KeyFile::parse(&text).with_context(|| origin_path.display().to_string())?),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => bail!("{}: {e}", origin_path.display()),
    };
    let (origin_refspec, pinned, hotfix) = match &origin {
        None => (None, false, false),
        // rpm-ostree writes `baserefspec` when it layers packages; libostree's readers take
        // `refspec` first, as the helper does.
        Some(o) => (
            match o.string("origin", "refspec")? {
                Some(r) => Some(r.to_string()),
                None => o.string("origin", "baserefspec")?.map(str::to_string),
            },
            o.boolean("libostree-transient", "pinned")?.unwrap_or(false),
            o.string("origin", "unlocked")? == Some("hotfix"),
        ),
    };
    let state = host
        .run
        .join(format!("ostree/deployment-state/{checksum}.{serial}"));
    let unlocked = if exists(&state.join("unlocked-development"))? {
        "development"
    } else if exists(&state.join("unlocked-transient"))? {
        "transient"
    } else if hotfix {
        "hotfix"
    } else {
        "none"
    };
    let commit = read_commit(sysroot, checksum)?;
    let deployment = Deployment {
        osname: osname.to_string(),
        checksum: checksum.to_string(),
        version: commit.version,
        origin_refspec,
        booted: false,
        staged: false,
        pinned,
        unlocked: unlocked.to_string(),
        serial,
        timestamp: Some(commit.timestamp),
    };
    Ok((deployment, (dir.dev(), dir.ino())))
}

fn read_commit(sysroot: &Path, checksum: &str) -> Result<gvariant::CommitInfo> {
    let path = sysroot.join(format!(
        "ostree/repo/objects/{}/{}.commit",
        &checksum[..2],
        &checksum[2..]
    ));
    let mut bytes = Vec::new();
    fs::File::open(&path)
        .and_then(|f| f.take(MAX_COMMIT_SIZE + 1).read_to_end(&mut bytes))
        .with_context(|| format!("commit {checksum} is not in the sysroot repo"))?;
    ensure!(
        bytes.len() as u64 <= MAX_COMMIT_SIZE,
        "commit {checksum} is larger than libostree allows"
    );
    gvariant::read_commit(&bytes).with_context(|| format!("commit {checksum}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gvariant::tests::write;
    use std::os::unix::fs::symlink;

    /// A sysroot laid out as libostree lays one out, with deployment `i` of `versions` having
    /// commit checksum `ci…`, its boot entry version `versions[i]`; and an empty /run.
    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new(versions: &[u64]) -> Fixture {
            let f = Fixture {
                dir: tempfile::tempdir().unwrap(),
            };
            let s = f.sysroot();
            for dir in [
                "ostree/repo/objects",
                "boot/loader.1/entries",
                "ostree/boot.1.0/testos",
            ] {
                fs::create_dir_all(s.join(dir)).unwrap();
            }
            fs::create_dir_all(f.host(false).run).unwrap();
            fs::write(
                s.join("ostree/repo/config"),
                "[core]\nrepo_version=1\nmode=bare\n",
            )
            .unwrap();
            symlink("loader.1", s.join("boot/loader")).unwrap();
            symlink("boot.1.0", s.join("ostree/boot.1")).unwrap();
            for (i, version) in versions.iter().enumerate() {
                let csum = Fixture::checksum(i);
                fs::create_dir_all(s.join(format!("ostree/deploy/testos/deploy/{csum}.0")))
                    .unwrap();
                let bootcsum = format!("b{i}");
                fs::create_dir(s.join(format!("ostree/boot.1.0/testos/{bootcsum}"))).unwrap();
                symlink(
                    format!("../../../deploy/testos/deploy/{csum}.0"),
                    s.join(format!("ostree/boot.1.0/testos/{bootcsum}/0")),
                )
                .unwrap();
                fs::write(
                    s.join(format!("boot/loader.1/entries/ostree-{i}-testos.conf")),
                    format!("title t\nversion {version}\noptions rw ostree=/ostree/boot.1/testos/{bootcsum}/0\n"),
                )
                .unwrap();
                f.write_origin(i, "[origin]\nrefspec=testos/stable\n");
                let objects = s.join(format!("ostree/repo/objects/{}", &csum[..2]));
                fs::create_dir_all(&objects).unwrap();
                let meta = [("version", "s", write::string(&format!("{i}.0")))];
                fs::write(
                    objects.join(format!("{}.commit", &csum[2..])),
                    write::commit(&meta, 1_600_000_000 + i as u64),
                )
                .unwrap();
            }
            f
        }

        fn checksum(i: usize) -> String {
            format!("c{i}").repeat(32)
        }

        fn sysroot(&self) -> PathBuf {
            self.dir.path().join("sysroot")
        }

        fn deploy_dir(&self, i: usize) -> PathBuf {
            let csum = Fixture::checksum(i);
            self.sysroot()
                .join(format!("ostree/deploy/testos/deploy/{csum}.0"))
        }

        fn write_origin(&self, i: usize, text: &str) {
            let mut path = self.deploy_dir(i).into_os_string();
            path.push(".origin");
            fs::write(path, text).unwrap();
        }

        /// Not the running system; or, `booted`, the running system as ostree-prepare-root
        /// leaves it: /run/ostree-booted there and `/` the sysroot.
        fn host(&self, booted: bool) -> Host {
            Host {
                root: if booted {
                    self.sysroot()
                } else {
                    PathBuf::from("/")
                },
                run: self.dir.path().join("run"),
            }
        }

        /// Boot deployment `i` (or nothing that exists): the root is the sysroot, and
        /// /run/ostree-booted records deployment `i`'s directory as the backing root.
        fn boot(&self, i: Option<usize>) {
            let (dev, ino) = match i {
                Some(i) => {
                    let m = fs::metadata(self.deploy_dir(i)).unwrap();
                    (m.dev(), m.ino())
                }
                None => (1, 1),
            };
            let mut pair = dev.to_ne_bytes().to_vec();
            pair.extend(ino.to_ne_bytes());
            let state = write::vardict(&[("backing-root-device-inode", "(tt)", pair)]);
            fs::write(self.host(true).run.join("ostree-booted"), state).unwrap();
        }

        fn read(&self, booted: bool) -> Result<HostStatus> {
            read(&self.sysroot(), &self.host(booted))
        }
    }

    #[test]
    fn deployments_come_in_boot_entry_version_order() {
        // Entry versions 2, 10, 1: numeric order, not text order, puts 10 first.
        let f = Fixture::new(&[2, 10, 1]);
        let status = f.read(false).unwrap();
        let order: Vec<_> = status
            .deployments
            .iter()
            .map(|d| d.checksum.clone())
            .collect();
        assert_eq!(order, [1, 0, 2].map(Fixture::checksum));
        let first = &status.deployments[0];
        assert_eq!(first.version.as_deref(), Some("1.0"));
        assert_eq!(first.timestamp, Some(1_600_000_001));
        assert_eq!(first.origin_refspec.as_deref(), Some("testos/stable"));
        assert_eq!((first.osname.as_str(), first.serial), ("testos", 0));
        assert!(
            status
                .deployments
                .iter()
                .all(|d| !d.booted && !d.staged && !d.pinned)
        );
        assert!(status.deployments.iter().all(|d| d.unlocked == "none"));
    }

    #[test]
    fn origin_gives_refspec_pin_and_hotfix_and_run_the_other_unlock_states() {
        let f = Fixture::new(&[3, 2, 1]);
        f.write_origin(
            0,
            "[origin]\nbaserefspec=fedora/x\nunlocked=hotfix\n[libostree-transient]\npinned=true\n",
        );
        f.write_origin(1, "[origin]\nrefspec=a\nunlocked=hotfix\n");
        let state = f.host(false).run.join(format!(
            "ostree/deployment-state/{}.0",
            Fixture::checksum(1)
        ));
        fs::create_dir_all(&state).unwrap();
        fs::write(state.join("unlocked-development"), "").unwrap();
        let mut origin = f.deploy_dir(2).into_os_string();
        origin.push(".origin");
        fs::remove_file(origin).unwrap();
        let d = f.read(false).unwrap().deployments;
        assert_eq!(d[0].origin_refspec.as_deref(), Some("fedora/x"));
        assert!(d[0].pinned);
        assert_eq!(d[0].unlocked, "hotfix");
        // The state in /run wins over the origin's hotfix.
        assert_eq!(d[1].unlocked, "development");
        assert_eq!(d[2].origin_refspec, None);
        assert!(!d[2].pinned);
    }

    #[test]
    fn the_booted_deployment_is_found_by_device_and_inode() {
        let f = Fixture::new(&[2, 1]);
        f.boot(Some(1));
        let d = f.read(true).unwrap().deployments;
        assert_eq!((d[0].booted, d[1].booted), (false, true));
        // The same sysroot seen from elsewhere: nothing is booted.
        assert!(f.read(false).unwrap().deployments.iter().all(|d| !d.booted));
    }

    #[test]
    fn what_only_libostree_can_answer_is_an_error() {
        let f = Fixture::new(&[2, 1]);
        // Booted, but no deployment is the booted one: libostree reports an error of its own.
        f.boot(None);
        assert!(f.read(true).is_err());
        // A staged deployment on the running system.
        f.boot(Some(0));
        let staged = f.host(true).run.join("ostree/staged-deployment");
        fs::create_dir_all(staged.parent().unwrap()).unwrap();
        fs::write(&staged, "").unwrap();
        assert!(f.read(true).is_err());
        fs::remove_file(&staged).unwrap();
        assert!(f.read(true).is_ok());

        type Damage = fn(&Fixture);
        let cases: [(&str, Damage); 5] = [
            ("commit missing from the repo", |f| {
                let csum = Fixture::checksum(0);
                let path = format!("ostree/repo/objects/{}/{}.commit", &csum[..2], &csum[2..]);
                fs::remove_file(f.sysroot().join(path)).unwrap();
            }),
            ("truncated commit", |f| {
                let csum = Fixture::checksum(1);
                let path = f.sysroot().join(format!(
                    "ostree/repo/objects/{}/{}.commit",
                    &csum[..2],
                    &csum[2..]
                ));
                let bytes = fs::read(&path).unwrap();
                fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
            }),
            ("same entry version twice", |f| {
                let e = f
                    .sysroot()
                    .join("boot/loader.1/entries/ostree-1-testos.conf");
                let text = fs::read_to_string(&e)
                    .unwrap()
                    .replace("version 1", "version 2");
                fs::write(e, text).unwrap();
            }),
            ("boot/loader pointing elsewhere", |f| {
                fs::remove_file(f.sysroot().join("boot/loader")).unwrap();
                symlink("loader.7", f.sysroot().join("boot/loader")).unwrap();
            }),
            ("origin GLib would unescape", |f| {
                f.write_origin(0, "[origin]\nrefspec=a\\sb\n")
            }),
        ];
        for (what, damage) in cases {
            let f = Fixture::new(&[2, 1]);
            damage(&f);
            assert!(f.read(false).is_err(), "{what}");
        }
    }

    #[test]
    fn no_boot_entries_is_no_deployments() {
        let f = Fixture::new(&[]);
        assert_eq!(f.read(false).unwrap(), HostStatus::default());
    }

    #[test]
    fn entries_are_parsed_as_libostree_parses_them() {
        let entry = parse_entry(
            "title testos 3.0 (ostree:0)\nversion 3\noptions root=x ostree=/ostree/boot.1/testos/\
             abc/0 rw\nlinux /vmlinuz\n",
        )
        .unwrap();
        assert_eq!(entry.version, 3);
        assert_eq!(entry.bootlink, "/ostree/boot.1/testos/abc/0");
        // The last of a key wins, as in libostree's hash table.
        let entry = parse_entry("version 1\nversion\t2\noptions ostree=/ostree/boot.0/a/b/1\n");
        assert_eq!(entry.unwrap().version, 2);
    }

    #[test]
    fn entries_libostree_might_order_otherwise_are_errors() {
        for (what, text) in [
            ("no version", "options ostree=/ostree/boot.0/a/b/0\n"),
            (
                "leading zero",
                "version 03\noptions ostree=/ostree/boot.0/a/b/0\n",
            ),
            (
                "not a number",
                "version 3a\noptions ostree=/ostree/boot.0/a/b/0\n",
            ),
            (
                "two spaces",
                "version  3\noptions ostree=/ostree/boot.0/a/b/0\n",
            ),
            (
                "carriage return",
                "version 3\r\noptions ostree=/ostree/boot.0/a/b/0\n",
            ),
            ("no ostree=", "version 3\noptions root=/dev/sda\n"),
            ("", ""),
        ] {
            assert!(parse_entry(text).is_err(), "{what}");
        }
    }

    proptest::proptest! {
        /// Whatever an entry or an origin file holds, the readers answer or err, never panic.
        #[test]
        fn arbitrary_entries_and_key_files_never_panic(
            text in r"((version|options|title|\[origin\]|\[libostree-transient\]|refspec|pinned|#)[ \t=]?[-0-9a-z/=. \t\\\[\]]{0,30}\r?\n?){0,8}",
        ) {
            if let Ok(entry) = parse_entry(&text) {
                let _ = bootlink_osname(&entry.bootlink);
            }
            if let Ok(file) = KeyFile::parse(&text) {
                let _ = file.string("origin", "refspec");
                let _ = file.boolean("libostree-transient", "pinned");
            }
        }
    }

    #[test]
    fn bootlinks_are_checked() {
        assert_eq!(
            bootlink_osname("/ostree/boot.1/fedora/abc/0").unwrap(),
            "fedora"
        );
        for bad in [
            "/ostree/boot.2/fedora/abc/0",
            "/ostree/boot.1/fedora/abc/x",
            "/ostree/boot.1/fedora/abc",
            "/ostree/boot.1//abc/0",
            "ostree/boot.1/fedora/abc/0",
            "/ostree/boot.1/fedora/abc/0/",
        ] {
            assert!(bootlink_osname(bad).is_err(), "{bad}");
        }
    }
}

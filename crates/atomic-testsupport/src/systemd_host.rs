//! A booted systemd for end-to-end tests of system containers.
//!
//! systemd is not PID 1 on the test machines, so [`SystemdHost`] boots one as PID 1 of a
//! privileged Podman container made from `localhost/atomic-systemd-host:latest` (a debootstrap'ed
//! Debian 12 with systemd and dbus; `scripts/setup.sh` builds it). A test bind-mounts what it
//! needs (the atomic binary under test, runc, a directory of test data), drives the host with
//! [`SystemdHost::exec`] and reads back the journal and file trees. The container is removed
//! when the value is dropped.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::engines::{podman_command, run, run_with_timeout};

/// The image `scripts/setup.sh` builds.
const SYSTEMD_HOST_IMAGE: &str = "localhost/atomic-systemd-host:latest";

/// How long systemd may take to reach `running`: ~3 s on an idle machine, but the test
/// machines have two cores shared with parallel builds and tests.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

/// A host path bind-mounted into the systemd host.
#[derive(Debug, Clone)]
pub struct Bind {
    pub host: PathBuf,
    /// Absolute path inside the systemd host.
    pub guest: String,
    pub read_only: bool,
}

impl Bind {
    pub fn read_only(host: impl Into<PathBuf>, guest: impl Into<String>) -> Bind {
        Bind {
            host: host.into(),
            guest: guest.into(),
            read_only: true,
        }
    }

    pub fn read_write(host: impl Into<PathBuf>, guest: impl Into<String>) -> Bind {
        Bind {
            host: host.into(),
            guest: guest.into(),
            read_only: false,
        }
    }

    fn volume_arg(&self) -> String {
        let suffix = if self.read_only { ":ro" } else { "" };
        format!("{}:{}{suffix}", self.host.display(), self.guest)
    }
}

/// What a path in a file tree is, with what tells two versions of it apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file: its size and the sha256 of its contents.
    File {
        size: u64,
        sha256: String,
    },
    /// A directory; its size is left out, since it depends on the filesystem's bookkeeping
    /// and not on what the directory holds.
    Dir,
    Symlink {
        target: String,
    },
    /// Anything else, by `find -printf %y`'s letter (`p` fifo, `s` socket, `c`/`b` devices).
    Other(char),
}

/// One path of a file tree, as [`SystemdHost::files_under`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub kind: FileKind,
    /// Permission bits (`find -printf %m`), e.g. `0o644`.
    pub mode: u32,
}

/// A systemd booted in a Podman container; removed (with everything in it) on drop.
#[derive(Debug)]
pub struct SystemdHost {
    name: String,
}

/// Whether the `podman` program can be run at all: the only reason a systemd host test may
/// skip. Once Podman is there, a host that fails to boot is a test failure, not a skip.
fn podman_installed() -> bool {
    Command::new("podman")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl SystemdHost {
    /// Boots a host for a test, or returns None after printing why the test is skipped: only
    /// when Podman is not installed, and never under `ATOMIC_TEST_REQUIRE_ENGINES=1`
    /// (scripts/test.sh), where that is a failure, so CI cannot pass by skipping. Panics
    /// with the boot error otherwise.
    pub fn boot_for_test(binds: &[Bind]) -> Option<SystemdHost> {
        if !podman_installed() {
            let reason = "podman is not installed (scripts/setup.sh installs it)";
            if std::env::var("ATOMIC_TEST_REQUIRE_ENGINES").as_deref() == Ok("1") {
                panic!("{reason}, and ATOMIC_TEST_REQUIRE_ENGINES=1 requires it");
            }
            eprintln!("SKIP: systemd host test: {reason}");
            return None;
        }
        match SystemdHost::boot(binds) {
            Ok(host) => Some(host),
            Err(e) => panic!("{e:#}"),
        }
    }

    /// [`SystemdHost::boot_for_test`] with Podman's default network instead of none: for a
    /// test that installs Debian packages in the host with apt (from Debian's archive, the
    /// only network the test machines reach).
    pub fn boot_for_test_with_network(binds: &[Bind]) -> Option<SystemdHost> {
        if !podman_installed() {
            return SystemdHost::boot_for_test(binds);
        }
        match SystemdHost::boot_on(binds, true) {
            Ok(host) => Some(host),
            Err(e) => panic!("{e:#}"),
        }
    }

    /// Starts a container from `localhost/atomic-systemd-host:latest` with `binds` and waits until systemd
    /// says the system is `running` or `degraded` (a unit of the image failing is no reason
    /// to give up on the host; tests check their own units).
    pub fn boot(binds: &[Bind]) -> Result<SystemdHost> {
        SystemdHost::boot_on(binds, false)
    }

    fn boot_on(binds: &[Bind], network: bool) -> Result<SystemdHost> {
        let exists = podman_command()
            .args(["image", "exists", SYSTEMD_HOST_IMAGE])
            .stdin(Stdio::null())
            .status()
            .context("running podman image exists")?;
        if !exists.success() {
            bail!("Podman has no image {SYSTEMD_HOST_IMAGE}; run scripts/setup.sh to build it");
        }
        let name = unique_name();
        let mut cmd = podman_command();
        // --privileged: systemd mounts cgroups and runc creates namespaces inside.
        // --systemd=always: Podman prepares /run, /tmp and the cgroup tree for an init.
        // --network=none unless asked: most tests need no network, and it spares the host's
        // firewall.
        cmd.args(["run", "-d", "--privileged", "--systemd=always"])
            .args((!network).then_some("--network=none"))
            .args(["--label", "org.atomic.test=systemd-host", "--name", &name]);
        for bind in binds {
            cmd.arg("-v").arg(bind.volume_arg());
        }
        cmd.args([SYSTEMD_HOST_IMAGE, "/sbin/init"]);
        run(cmd).with_context(|| format!("starting the systemd host {name}"))?;
        // From here on, Drop removes the container whatever happens.
        let host = SystemdHost { name };
        host.wait_until_booted()?;
        Ok(host)
    }

    fn wait_until_booted(&self) -> Result<()> {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        let mut last = String::from("(no answer)");
        while Instant::now() < deadline {
            let mut cmd = podman_command();
            cmd.args(["exec", &self.name, "systemctl", "is-system-running"]);
            // is-system-running exits non-zero for every state but `running`, so the word
            // it prints is what counts.
            if let Some((_, out)) = run_with_timeout(cmd, Duration::from_secs(10)) {
                last = out.trim().to_string();
                if last == "running" || last == "degraded" {
                    return Ok(());
                }
            }
            if !self.container_running() {
                bail!(
                    "the systemd host {} exited while booting; its output:\n{}",
                    self.name,
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let jobs = self
            .exec_ok(&["systemctl", "list-jobs", "--no-pager"])
            .unwrap_or_else(|e| format!("{e:#}"));
        bail!(
            "the systemd host {} did not finish booting within {}s (last state: {last}); \
             pending jobs:\n{jobs}\nits output:\n{}",
            self.name,
            BOOT_TIMEOUT.as_secs(),
            self.logs()
        )
    }

    fn container_running(&self) -> bool {
        let mut cmd = podman_command();
        cmd.args(["container", "inspect", "--format", "{{.State.Running}}"])
            .arg(&self.name);
        matches!(run_with_timeout(cmd, Duration::from_secs(10)),
                 Some((true, out)) if out.trim() == "true")
    }

    /// The container's console output (systemd's boot messages), for error messages.
    fn logs(&self) -> String {
        let output = podman_command()
            .args(["logs", "--tail", "100", &self.name])
            .stdin(Stdio::null())
            .output();
        match output {
            Ok(o) => format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => format!("(podman logs failed: {e})"),
        }
    }

    /// Runs `argv` in the host (as root, through `podman exec`; no shell).
    pub fn exec(&self, argv: &[&str]) -> Result<Output> {
        podman_command()
            .arg("exec")
            .arg(&self.name)
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running podman exec {} {argv:?}", self.name))
    }

    /// Runs `argv` in the host and returns its stdout; an error, with argv and the tail of
    /// stderr, when it fails.
    pub fn exec_ok(&self, argv: &[&str]) -> Result<String> {
        let mut cmd = podman_command();
        cmd.arg("exec").arg(&self.name).args(argv);
        run(cmd)
    }

    /// What `unit` wrote to the journal (messages only, as `journalctl -o cat`).
    pub fn journal(&self, unit: &str) -> Result<String> {
        self.exec_ok(&["journalctl", "--no-pager", "-o", "cat", "-u", unit])
    }

    /// Waits until `unit`'s journal holds `needle` and returns the journal. journald stores a
    /// line a little after the service printed it, so a single read right after `systemctl
    /// start` can miss it.
    pub fn wait_for_journal(&self, unit: &str, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let journal = self.journal(unit)?;
            if journal.contains(needle) {
                return Ok(journal);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{needle:?} did not appear in the journal of {unit} within {}s; it has:\n{journal}",
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every path under `path` (itself included) with its type, permission bits and contents
    /// (size and sha256 of files, targets of symlinks): compare two listings to check that an
    /// operation and its undo leave a tree as it was. Modification times and directory sizes
    /// are left out on purpose: an undo cannot restore them and nobody relies on them.
    pub fn files_under(&self, path: &str) -> Result<BTreeMap<String, FileEntry>> {
        // NUL-separated, because names may hold newlines; no shell, so no name is ever
        // parsed as shell syntax.
        let listing = self
            .exec_ok(&["find", path, "-printf", "%y\\0%m\\0%s\\0%p\\0%l\\0"])
            .with_context(|| format!("listing {path} in the systemd host"))?;
        let sums = self
            .exec_ok(&[
                "find",
                path,
                "-type",
                "f",
                "-exec",
                "sha256sum",
                "-z",
                "--",
                "{}",
                "+",
            ])
            .with_context(|| format!("hashing the files under {path} in the systemd host"))?;
        parse_tree(&listing, &sums)
    }
}

impl Drop for SystemdHost {
    fn drop(&mut self) {
        // -t 0: no graceful shutdown, the test is over and nothing in the host is kept.
        let _ = podman_command()
            .args(["rm", "-f", "-t", "0", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A container name no other test, process or earlier run uses at the same time.
fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "atomic-systemd-host-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Joins `find -printf '%y\0%m\0%s\0%p\0%l\0'` output with `sha256sum -z` output.
fn parse_tree(listing: &str, sums: &str) -> Result<BTreeMap<String, FileEntry>> {
    let mut hashes = BTreeMap::new();
    for record in sums.split('\0').filter(|r| !r.is_empty()) {
        // sha256sum -z prints `HEX  PATH` and leaves the name unescaped.
        let (hex, path) = record
            .split_once("  ")
            .with_context(|| format!("unexpected sha256sum output {record:?}"))?;
        hashes.insert(path.to_string(), hex.to_string());
    }
    let fields: Vec<&str> = listing.split('\0').collect();
    // Five fields per entry, each ended by a NUL, so the split leaves one empty string last.
    if fields.len() % 5 != 1 {
        bail!(
            "unexpected find output ({} fields): {listing:?}",
            fields.len()
        );
    }
    let mut tree = BTreeMap::new();
    for entry in fields.chunks_exact(5) {
        let [kind, mode, size, path, target] = entry else {
            unreachable!("chunks of five")
        };
        let mode =
            u32::from_str_radix(mode, 8).with_context(|| format!("bad mode {mode:?} of {path}"))?;
        let kind = match *kind {
            "f" => FileKind::File {
                size: size
                    .parse()
                    .with_context(|| format!("bad size {size:?} of {path}"))?,
                sha256: hashes
                    .get(*path)
                    .with_context(|| format!("no checksum for {path}"))?
                    .clone(),
            },
            "d" => FileKind::Dir,
            "l" => FileKind::Symlink {
                target: target.to_string(),
            },
            other => FileKind::Other(other.chars().next().unwrap_or('?')),
        };
        tree.insert(path.to_string(), FileEntry { kind, mode });
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tree_joins_listing_and_checksums() {
        let listing = "d\x00755\x004096\x00/etc/s\x00\x00\
                       f\x00644\x003\x00/etc/s/a b\nc\x00\x00\
                       l\x00777\x005\x00/etc/s/l\x00/dev/null\x00\
                       p\x00600\x000\x00/etc/s/fifo\x00\x00";
        let sums = format!("{}  /etc/s/a b\nc\x00", "ab".repeat(32));
        let tree = parse_tree(listing, &sums).unwrap();
        assert_eq!(tree["/etc/s"].kind, FileKind::Dir);
        assert_eq!(
            tree["/etc/s/a b\nc"],
            FileEntry {
                kind: FileKind::File {
                    size: 3,
                    sha256: "ab".repeat(32)
                },
                mode: 0o644
            }
        );
        assert_eq!(
            tree["/etc/s/l"].kind,
            FileKind::Symlink {
                target: "/dev/null".into()
            }
        );
        assert_eq!(tree["/etc/s/fifo"].kind, FileKind::Other('p'));
        assert_eq!(tree.len(), 4);
    }

    #[test]
    fn parse_tree_refuses_truncated_output() {
        assert!(parse_tree("d\x00755\x00", "").is_err());
        // A file without a checksum means the two listings disagree.
        assert!(parse_tree("f\x00644\x001\x00/x\x00\x00", "").is_err());
    }

    #[test]
    fn names_are_unique_within_a_process() {
        assert_ne!(unique_name(), unique_name());
    }
}

//! The OSTree sysroots the `atomic host` tests run on, built in temp dirs with the `ostree` CLI
//! (the recipe in ENVIRONMENT.md): nothing is booted, but every deployment is real.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::Command as AtomicCommand;

/// Is the `ostree` CLI here? When it is not, the test is skipped with a reason — unless
/// `ATOMIC_TEST_REQUIRE_ENGINES=1` (set by scripts/test.sh), so CI cannot pass by skipping.
pub fn ostree_usable() -> bool {
    let ok = Command::new("ostree")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("ATOMIC_TEST_REQUIRE_ENGINES").as_deref() == Ok("1") {
            panic!("ostree is required (ATOMIC_TEST_REQUIRE_ENGINES=1) but not installed");
        }
        eprintln!("SKIP: the ostree CLI is not installed (apt-get install ostree)");
    }
    ok
}

/// Run a command, panic with its stderr on failure, return its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command starts");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temp OSTree sysroot with OS `testos` and branch `testos/stable`.
pub struct Sysroot {
    pub dir: tempfile::TempDir,
    /// Commits made so far: each gets a timestamp an hour after the previous one, so "older"
    /// is well defined even for commits made within one second.
    commits: Cell<u64>,
}

impl Sysroot {
    pub fn new() -> Sysroot {
        let dir = tempfile::tempdir().expect("temp dir");
        let sysroot = Sysroot {
            dir,
            commits: Cell::new(0),
        };
        std::fs::create_dir(sysroot.root()).unwrap();
        run(Command::new("ostree")
            .args(["admin", "init-fs"])
            .arg(sysroot.root()));
        run(sysroot.admin().args(["os-init", "testos"]));
        sysroot
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("sysroot")
    }

    pub fn admin(&self) -> Command {
        let mut cmd = Command::new("ostree");
        cmd.arg("admin")
            .arg(format!("--sysroot={}", self.root().display()));
        cmd
    }

    /// Commit a minimal bootable tree to `testos/stable` with this version.
    pub fn commit(&self, version: &str) {
        self.commit_in(&self.repo(), "testos/stable", version);
    }

    /// Commit a minimal bootable tree with this version to `branch` of `repo` (the sysroot's
    /// or an upstream one); returns its checksum.
    pub fn commit_in(&self, repo: &Path, branch: &str, version: &str) -> String {
        let n = self.commits.get() + 1;
        self.commits.set(n);
        let tree = self.dir.path().join(format!("tree-{n}"));
        let modules = tree.join("usr/lib/modules/5.0.0");
        std::fs::create_dir_all(&modules).unwrap();
        std::fs::create_dir_all(tree.join("usr/etc")).unwrap();
        let os_release = format!("ID=testos\nPRETTY_NAME=\"Test OS {version}\"\n");
        std::fs::write(tree.join("usr/etc/os-release"), &os_release).unwrap();
        std::fs::write(tree.join("usr/lib/os-release"), &os_release).unwrap();
        std::fs::write(modules.join("vmlinuz"), format!("kernel {version}")).unwrap();
        std::fs::write(
            modules.join("initramfs.img"),
            format!("initramfs {version}"),
        )
        .unwrap();
        run(Command::new("ostree")
            .arg(format!("--repo={}", repo.display()))
            .args(["commit", "-b", branch, "-s", version])
            .arg(format!("--timestamp=@{}", 1_600_000_000 + n * 3600))
            .arg(format!("--tree=dir={}", tree.display()))
            .arg(format!("--add-metadata-string=version={version}")))
        .trim()
        .to_string()
    }

    /// `ostree --repo=REPO ARGS…`
    pub fn ostree_repo(&self, repo: &Path) -> Command {
        let mut cmd = Command::new("ostree");
        cmd.arg(format!("--repo={}", repo.display()));
        cmd
    }

    /// An archive repo `upstream` next to the sysroot, configured in the sysroot repo as the
    /// remote `origin` by a file:// URL.
    pub fn upstream(&self) -> PathBuf {
        let upstream = self.dir.path().join("upstream");
        if !upstream.exists() {
            run(self.ostree_repo(&upstream).args(["init", "--mode=archive"]));
            run(self
                .ostree_repo(&self.repo())
                .args(["remote", "add", "--no-gpg-verify", "origin"])
                .arg(format!("file://{}", upstream.display())));
        }
        upstream
    }

    /// Everything a failed change must leave as it was: what `ostree admin status` says (or
    /// how it fails), the deployment directories, their origin files, and the boot entries.
    pub fn snapshot(&self) -> String {
        let status = self.admin().arg("status").output().unwrap();
        let mut out = format!(
            "{:?}\n{}{}",
            status.status.code(),
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        );
        let deploy = self.root().join("ostree/deploy/testos/deploy");
        let mut names: Vec<_> = std::fs::read_dir(&deploy)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            out.push_str(&name);
            if name.ends_with(".origin") {
                out.push_str(&std::fs::read_to_string(deploy.join(&name)).unwrap());
            }
            out.push('\n');
        }
        for link in ["boot/loader", "ostree/boot.0", "ostree/boot.1"] {
            let target = std::fs::read_link(self.root().join(link));
            out.push_str(&format!("{link} -> {target:?}\n"));
        }
        let entries = self.root().join("boot/loader/entries");
        let mut entries: Vec<_> = std::fs::read_dir(entries)
            .map(|d| {
                d.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        out.push_str(&entries.join("\n"));
        out
    }

    pub fn repo(&self) -> PathBuf {
        self.root().join("ostree/repo")
    }

    pub fn rev_parse(&self, rev: &str) -> String {
        run(Command::new("ostree")
            .arg(format!("--repo={}", self.repo().display()))
            .args(["rev-parse", rev]))
        .trim()
        .to_string()
    }
}

impl Drop for Sysroot {
    /// libostree makes each deployment immutable (chattr +i), which TempDir cannot remove.
    fn drop(&mut self) {
        let _ = Command::new("chattr")
            .args(["-R", "-i"])
            .arg(self.dir.path())
            // chattr complains about every symlink it meets; the flags that matter still go.
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Two deployments: 2.0 (the default, from `admin upgrade`) above 1.0.
pub fn two_deployments() -> (Sysroot, String, String) {
    let sysroot = Sysroot::new();
    sysroot.commit("1.0");
    let v1 = sysroot.rev_parse("testos/stable");
    run(sysroot
        .admin()
        .args(["deploy", "--os=testos", "testos/stable"]));
    sysroot.commit("2.0");
    let v2 = sysroot.rev_parse("testos/stable");
    run(sysroot.admin().args(["upgrade", "--os=testos"]));
    (sysroot, v1, v2)
}

pub fn atomic() -> AtomicCommand {
    AtomicCommand::cargo_bin("atomic").expect("atomic binary")
}

/// `atomic host status --json` of `sysroot`, which must succeed.
pub fn status_json(sysroot: &Sysroot) -> serde_json::Value {
    let out = atomic()
        .args(["host", "status", "--json", "--sysroot"])
        .arg(sysroot.root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The deployments' checksums in boot order, as `atomic host status --json` lists them.
pub fn checksums(sysroot: &Sysroot) -> Vec<String> {
    status_json(sysroot)["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["checksum"].as_str().unwrap().to_string())
        .collect()
}

/// The directory of the first deployment of `checksum` (`CSUM.SERIAL`).
pub fn deploy_dir(sysroot: &Sysroot, checksum: &str) -> PathBuf {
    let dir = sysroot.root().join("ostree/deploy/testos/deploy");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{checksum}."))
        })
        .unwrap_or_else(|| panic!("no deployment of {checksum} in {}", dir.display()))
}

/// What libostree itself says of `sysroot`: the helper `atomic-ostree`, asked directly.
pub fn libostree_status(sysroot: &Sysroot) -> atomic_host::HostStatus {
    let request = serde_json::json!({"op": "status", "sysroot": sysroot.root()});
    let out = AtomicCommand::cargo_bin("atomic-ostree")
        .expect("atomic-ostree is built (cargo build -p atomic-ostree)")
        .arg(request.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    serde_json::from_value(answer["ok"].take()).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// A copy of atomic alone in a temp dir, to be run with a PATH that has no `atomic-ostree`
/// either: whatever it does, it does without the libostree helper.
pub struct LoneAtomic {
    dir: tempfile::TempDir,
}

impl LoneAtomic {
    pub fn new() -> LoneAtomic {
        let dir = tempfile::tempdir().unwrap();
        let real = AtomicCommand::cargo_bin("atomic").unwrap();
        let real = std::path::PathBuf::from(real.get_program());
        std::fs::copy(&real, dir.path().join("atomic")).unwrap();
        LoneAtomic { dir }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.dir.path().join("atomic"));
        cmd.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        cmd
    }
}

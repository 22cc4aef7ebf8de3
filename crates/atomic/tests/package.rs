//! The Debian package (`scripts/package.sh`), installed with dpkg into a booted Debian 12
//! (atomic-testsupport's `SystemdHost`): what an administrator checks after `dpkg -i` —
//! the version, the man pages, shell completion, a first `atomic run --display` — then an
//! upgrade to a package with a higher revision, and a purge that leaves nothing behind.
//!
//! scripts/test.sh builds the two packages first and names them in `$ATOMIC_TEST_DEB` and
//! `$ATOMIC_TEST_DEB_UPGRADE`; without them these tests skip (and fail under
//! `ATOMIC_TEST_REQUIRE_ENGINES=1`, as scripts/test.sh sets it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use atomic_testsupport::{Bind, ImageSpec, SystemdHost, write_oci_layout};

/// The two packages: the one to install and one of the same build with a higher revision.
struct Debs {
    first: PathBuf,
    upgrade: PathBuf,
}

fn debs() -> Option<Debs> {
    let path = |var: &str| std::env::var_os(var).map(PathBuf::from);
    match (path("ATOMIC_TEST_DEB"), path("ATOMIC_TEST_DEB_UPGRADE")) {
        (Some(first), Some(upgrade)) => {
            assert!(
                first.is_file(),
                "ATOMIC_TEST_DEB: no file {}",
                first.display()
            );
            assert!(
                upgrade.is_file(),
                "ATOMIC_TEST_DEB_UPGRADE: no file {}",
                upgrade.display()
            );
            Some(Debs { first, upgrade })
        }
        _ => {
            let reason = "ATOMIC_TEST_DEB and ATOMIC_TEST_DEB_UPGRADE are not set \
                          (scripts/test.sh builds the packages with scripts/package.sh)";
            if std::env::var("ATOMIC_TEST_REQUIRE_ENGINES").as_deref() == Ok("1") {
                panic!("{reason}, and ATOMIC_TEST_REQUIRE_ENGINES=1 requires them");
            }
            eprintln!("SKIP: package test: {reason}");
            None
        }
    }
}

/// `dpkg-deb ARGS DEB` on this machine.
fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("running dpkg-deb");
    assert!(out.status.success(), "dpkg-deb {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The control file's relations name what each feature needs, and only the shared libraries
/// and runc are hard requirements; the package holds every file an administrator looks for.
#[test]
fn package_declares_its_dependencies_and_files() {
    let Some(debs) = debs() else { return };
    let field = |name: &str| {
        dpkg_deb(&["--field"], &debs.first)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
    };
    let depends = field("Depends").expect("a Depends field");
    let depends: Vec<&str> = depends.split(", ").collect();
    for needed in ["runc", "libc6", "libostree-1-1"] {
        assert!(
            depends.iter().any(|d| d.split(' ').next() == Some(needed)),
            "Depends lacks {needed}: {depends:?}"
        );
    }
    for optional in [
        "podman",
        "docker.io",
        "skopeo",
        "ostree",
        "netavark",
        "aardvark-dns",
    ] {
        assert!(
            !depends
                .iter()
                .any(|d| d.split(' ').next() == Some(optional)),
            "{optional} must not be a hard dependency: {depends:?}"
        );
    }
    let optional = format!(
        "{}, {}",
        field("Recommends").unwrap_or_default(),
        field("Suggests").unwrap_or_default()
    );
    for name in [
        "podman",
        "docker.io",
        "skopeo",
        "ostree",
        "netavark",
        "aardvark-dns",
    ] {
        assert!(
            optional.contains(name),
            "{name} is neither recommended nor suggested: {optional}"
        );
    }

    let contents = dpkg_deb(&["--contents"], &debs.first);
    for path in [
        "./usr/bin/atomic",
        "./usr/libexec/atomic/atomic-ostree",
        "./usr/share/man/man1/atomic.1.gz",
        "./usr/share/man/man1/atomic-run.1.gz",
        "./usr/share/man/man1/atomic-install.1.gz",
        "./usr/share/man/man1/atomic-images-list.1.gz",
        "./usr/share/man/man1/atomic-info.1.gz",
        "./usr/share/bash-completion/completions/atomic",
        "./usr/share/zsh/vendor-completions/_atomic",
        "./usr/share/fish/vendor_completions.d/atomic.fish",
        "./etc/atomic.conf",
        "./usr/share/doc/atomic/copyright",
        "./usr/share/doc/atomic/changelog.Debian.gz",
    ] {
        assert!(
            contents.lines().any(|l| l.ends_with(&format!(" {path}"))),
            "{path} is not in the package:\n{contents}"
        );
    }
    let out = Command::new("dpkg-deb")
        .arg("--info")
        .arg(&debs.first)
        .arg("conffiles")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/etc/atomic.conf"
    );
}

/// lintian, Debian's package checker, finds no error. (The upgrade package differs only in
/// its version, and lintian takes ~25 s a package.)
#[test]
fn lintian_reports_no_errors() {
    let Some(debs) = debs() else { return };
    let out = Command::new("lintian")
        .args(["--fail-on", "error", "--tag-display-limit", "0"])
        .arg(&debs.first)
        .output()
        .expect("running lintian (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "lintian {}:\n{}{}",
        debs.first.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A systemd host with the packages at /debs and a test image at /data.
struct Host {
    host: SystemdHost,
    _data: tempfile::TempDir,
}

impl Host {
    fn exec(&self, argv: &[&str]) -> (bool, String, String) {
        let out = self.host.exec(argv).unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, argv: &[&str]) -> String {
        let (ok, stdout, stderr) = self.exec(argv);
        assert!(ok, "{argv:?} failed:\nstdout: {stdout}\nstderr: {stderr}");
        stdout
    }

    fn sh(&self, script: &str) -> String {
        self.ok(&["bash", "-c", script])
    }

    /// apt-get, as in a script: no questions, no Recommends (they would bring an engine).
    fn apt_get(&self, args: &[&str]) -> String {
        let mut argv = vec![
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "-q",
            "-y",
            "--no-install-recommends",
            // Wait for dpkg's lock rather than fail, should a timer's job hold it.
            "-o",
            "DPkg::Lock::Timeout=120",
        ];
        argv.extend_from_slice(args);
        self.ok(&argv)
    }

    /// Every path of the host's file tree, but for what the system rewrites by itself (dpkg's
    /// and apt's databases and caches, man-db's index, logs) and the test's own mounts.
    fn paths(&self) -> BTreeSet<String> {
        let mut argv = vec!["find", "/", "-xdev", "("];
        let skipped = [
            "/var/lib/dpkg",
            "/var/lib/apt",
            "/var/lib/systemd",
            "/var/backups",
            "/var/cache",
            "/var/log",
            "/tmp",
            "/var/tmp",
            "/debs",
            "/data",
        ];
        for (i, path) in skipped.iter().enumerate() {
            if i > 0 {
                argv.push("-o");
            }
            argv.extend(["-path", path]);
        }
        argv.extend([")", "-prune", "-o", "-print0"]);
        let listing = self.ok(&argv);
        listing
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect()
    }
}

const IMAGE: &str = "i21-pkg";
/// The original's atomic-test-1 RUN label, which uses every variable.
const RUN_LABEL: &str = "/usr/bin/docker run -t --user ${SUDO_UID}:${SUDO_GID} ${OPT1} \
                         -v /var/log/${NAME}:/var/log -v /var/lib/${NAME}:/var/lib $OPT2 \
                         --name ${NAME} ${IMAGE} echo I am the run label.";

fn boot(debs: &Debs) -> Option<Host> {
    let data = tempfile::tempdir().unwrap();
    let image = ImageSpec::new(IMAGE).label("RUN", RUN_LABEL);
    write_oci_layout(&image, &data.path().join(IMAGE)).unwrap();
    let pkgs = data.path().join("debs");
    std::fs::create_dir(&pkgs).unwrap();
    std::fs::copy(&debs.first, pkgs.join("first.deb")).unwrap();
    std::fs::copy(&debs.upgrade, pkgs.join("upgrade.deb")).unwrap();
    let binds = [
        Bind::read_only(&pkgs, "/debs"),
        Bind::read_only(data.path(), "/data"),
    ];
    // A network, for apt to fetch the package's dependencies from Debian's archive.
    let host = SystemdHost::boot_for_test_with_network(&binds)?;
    Some(Host { host, _data: data })
}

/// Install on a clean Debian 12, use, upgrade and purge, in the order an administrator would.
#[test]
fn package_installs_works_upgrades_and_purges_cleanly() {
    let Some(debs) = debs() else { return };
    let Some(host) = boot(&debs) else { return };
    // The daily jobs that take dpkg's lock or write where the tree is compared (apt's
    // updates, dpkg's backups, man-db's index) stay out of the way; they are no part of this.
    host.sh(
        "systemctl stop apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
         man-db.timer apt-daily.service apt-daily-upgrade.service 2>/dev/null; true",
    );

    // What an administrator's host has to read man pages and complete commands; the image
    // is a minimal Debian without them.
    host.apt_get(&["update"]);
    host.apt_get(&["install", "man-db", "bash-completion"]);

    // dpkg -i on a host without runc and libostree fails on the dependencies; apt-get -f
    // install fetches them and finishes the installation.
    let (ok, _, err) = host.exec(&["dpkg", "-i", "/debs/first.deb"]);
    assert!(!ok && err.contains("dependency problems"), "{err}");
    host.apt_get(&["-f", "install"]);
    host.ok(&["dpkg", "--audit"]);
    let status = host.ok(&["dpkg-query", "-W", "-f", "${Status}", "atomic"]);
    assert_eq!(status, "install ok installed");
    for binary in ["/usr/bin/atomic", "/usr/libexec/atomic/atomic-ostree"] {
        let libs = host.ok(&["ldd", binary]);
        assert!(!libs.contains("not found"), "{binary}: {libs}");
    }

    // The version and the commit it was built from, as the binary under test says them.
    let version = host.ok(&["atomic", "--version"]);
    let here = Command::new(env!("CARGO_BIN_EXE_atomic"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(version, String::from_utf8_lossy(&here.stdout));
    assert!(
        version.starts_with(&format!("atomic {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );

    // man finds the verbs' pages on its own search path, and renders them.
    assert_eq!(
        host.ok(&["man", "-w", "atomic-run"]).trim(),
        "/usr/share/man/man1/atomic-run.1.gz"
    );
    let page = host.sh("MANWIDTH=200 man -P cat atomic-run 2>/dev/null");
    assert!(page.contains("--display"), "{page}");

    // bash completion: the loader bash-completion runs on a first TAB finds the script in
    // its standard directory; then `atomic ima<TAB>` completes to `images`.
    let completion = host.sh("source /usr/share/bash-completion/bash_completion
         complete -p atomic >/dev/null 2>&1 && { echo 'loaded before the first TAB'; exit 1; }
         _completion_loader atomic
         spec=$(complete -p atomic) || exit 1
         echo \"$spec\"
         fn=$(sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p' <<<\"$spec\")
         COMP_WORDS=(atomic ima) COMP_CWORD=1 COMP_LINE='atomic ima' COMP_POINT=10
         \"$fn\" atomic ima atomic
         printf 'reply:%s\\n' \"${COMPREPLY[@]}\"");
    assert!(completion.contains(" atomic\n"), "{completion}");
    let replies: Vec<&str> = completion
        .lines()
        .filter_map(|l| l.strip_prefix("reply:"))
        .map(str::trim)
        .collect();
    assert_eq!(replies, ["images"], "{completion}");

    // A first use: pull an image into a store of the test's own, show its RUN label.
    let store = "ATOMIC_STORE_ROOT=/tmp/i21-store";
    let source = format!("oci:/data/{IMAGE}:latest");
    host.ok(&["env", store, "atomic", "pull", "-q", &source]);
    let display = host.ok(&["env", store, "atomic", "run", "--display", IMAGE]);
    assert_eq!(
        display,
        format!(
            "docker run -t --user 0:0 -v /var/log/{IMAGE}:/var/log -v /var/lib/{IMAGE}:/var/lib \
             --name {IMAGE} {IMAGE} echo I am the run label.\n"
        )
    );

    // The libostree helper is found where the package put it: the error comes from it (there
    // is no sysroot there), not from atomic missing it.
    let (ok, _, err) = host.exec(&["atomic", "host", "rollback", "--sysroot", "/nonexistent"]);
    assert!(!ok);
    assert!(!err.contains("needs 'atomic-ostree'"), "{err}");

    // The default configuration is there, commented, and /etc/atomic.d/ for scanners.
    let conf = host.ok(&["cat", "/etc/atomic.conf"]);
    assert!(conf.contains("#default_storage:"), "{conf}");
    host.ok(&["test", "-d", "/etc/atomic.d"]);

    // The administrator edits the configuration and adds a scanner; an upgrade keeps both.
    host.sh("echo '# i21: edited by the administrator' >>/etc/atomic.conf");
    host.sh("echo 'type: scanner' >/etc/atomic.d/i21-scanner");
    let (ok, out, err) = host.exec(&["dpkg", "-i", "/debs/upgrade.deb"]);
    assert!(ok, "upgrade failed:\n{out}{err}");
    let upgraded = host.ok(&["dpkg-query", "-W", "-f", "${Version} ${Status}", "atomic"]);
    assert!(upgraded.ends_with("-2 install ok installed"), "{upgraded}");
    assert!(
        host.ok(&["cat", "/etc/atomic.conf"])
            .contains("# i21: edited")
    );
    host.ok(&["test", "-f", "/etc/atomic.d/i21-scanner"]);
    assert_eq!(host.ok(&["atomic", "--version"]), version);

    // Purge: none of the package's files is left; the scanner the administrator added stays.
    let files = host.ok(&["dpkg-query", "-L", "atomic"]);
    host.ok(&["dpkg", "--purge", "atomic"]);
    let status = host
        .exec(&["dpkg-query", "-W", "-f", "${Status}", "atomic"])
        .1;
    assert!(
        status.is_empty() || status.contains("not-installed"),
        "{status}"
    );
    let after = host.paths();
    let owned_by_others = |path: &str| host.exec(&["dpkg-query", "-S", path]).0;
    for path in files.lines().filter(|p| p.starts_with('/') && *p != "/.") {
        assert!(
            !after.contains(path) || owned_by_others(path),
            "{path} survived the purge"
        );
    }
    host.ok(&["test", "-f", "/etc/atomic.d/i21-scanner"]);

    // Once the administrator's file is gone, a second install and purge (dependencies now in
    // place: dpkg alone) leave the host's tree exactly as it was.
    host.ok(&["rm", "-r", "/etc/atomic.d"]);
    let before = host.paths();
    host.ok(&["dpkg", "-i", "/debs/first.deb"]);
    host.ok(&["test", "-d", "/etc/atomic.d"]);
    host.ok(&["dpkg", "--purge", "atomic"]);
    let after = host.paths();
    let added: Vec<&String> = after.difference(&before).collect();
    let removed: Vec<&String> = before.difference(&after).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "install and purge changed the tree: added {added:?}, removed {removed:?}"
    );
}

//! `atomic host` on hosts managed by rpm-ostree or bootc, which cannot be installed here: fake
//! `rpm-ostree` and `bootc` programs on PATH print recorded outputs (the fixtures of
//! `crates/atomic-host/fixtures`) and write down the argv they were run with, so these tests
//! check the backend choice, the argv, the pass-through of `--` arguments and exit codes, and
//! the status JSON, through the real binary.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../atomic-host/fixtures");

/// A PATH with fake tools: each records its argv (one argument a line, then `--end--`) in
/// `log`, prints `$FAKE_<TOOL>_STATUS` for `status` and exits with `$FAKE_EXIT` (default 0).
struct FakeHost {
    dir: tempfile::TempDir,
}

impl FakeHost {
    fn new(tools: &[&str]) -> FakeHost {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for tool in tools {
            let var = format!("FAKE_{}_STATUS", tool.replace('-', "_").to_uppercase());
            let script = format!(
                "#!/bin/sh\n\
                 {{ echo {tool}; printf '%s\\n' \"$@\"; echo --end--; }} >> \"$FAKE_LOG\"\n\
                 if [ \"$1\" = status ] && [ -n \"${var}\" ]; then cat \"${var}\"; fi\n\
                 exit \"${{FAKE_EXIT:-0}}\"\n"
            );
            let path = bin.join(tool);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        FakeHost { dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("argv.log")
    }

    /// `atomic ARGS…` on this fake host, with `bootc status` printing `bootc_status`.
    fn atomic(&self, bootc_status: &str, args: &[&str]) -> Command {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        let mut cmd = Command::cargo_bin("atomic").unwrap();
        cmd.args(args)
            .env("PATH", path)
            .env("FAKE_LOG", self.log())
            .env("FAKE_BOOTC_STATUS", fixture(bootc_status))
            .env("FAKE_RPM_OSTREE_STATUS", fixture("rpm-ostree-status.json"));
        cmd
    }

    /// The argv of every tool run so far, each as `tool arg arg…` (arguments kept whole), and
    /// forget them.
    fn ran(&self) -> Vec<Vec<String>> {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        std::fs::remove_file(self.log()).ok();
        log.split("--end--\n")
            .filter(|s| !s.is_empty())
            .map(|s| s.lines().map(String::from).collect())
            .collect()
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

const BOOTC_STATUS: [&str; 4] = ["bootc", "status", "--format=json", "--format-version=1"];

#[test]
fn rpm_ostree_host_runs_rpm_ostree() {
    let host = FakeHost::new(&["rpm-ostree"]);
    let recorded = std::fs::read_to_string(fixture("rpm-ostree-status.json")).unwrap();
    host.atomic("", &["host", "status", "--json"])
        .assert()
        .success()
        .stdout(recorded);
    assert_eq!(host.ran(), [argv(&["rpm-ostree", "status", "--json"])]);

    // -b with --json: narrowed here (rpm-ostree ignores --booted with --json, #2829).
    let out = host
        .atomic("", &["host", "status", "-b", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(doc["deployments"][0]["booted"], true);
    host.ran();

    let table: [(&[&str], &[&str]); 8] = [
        (
            &[
                "host",
                "upgrade",
                "--os",
                "fedora",
                "--allow-downgrade",
                "-r",
            ],
            &[
                "rpm-ostree",
                "upgrade",
                "--reboot",
                "--allow-downgrade",
                "--os=fedora",
            ],
        ),
        (
            &[
                "host-upgrade",
                "--check",
                "--",
                "--bypass-driver",
                "two words",
            ],
            &[
                "rpm-ostree",
                "upgrade",
                "--check",
                "--bypass-driver",
                "two words",
            ],
        ),
        (
            &["host-rollback", "-r"],
            &["rpm-ostree", "rollback", "--reboot"],
        ),
        (
            &[
                "host",
                "deploy",
                "41.20241027.3.0",
                "--preview",
                "--os",
                "fedora-coreos",
            ],
            &[
                "rpm-ostree",
                "deploy",
                "--preview",
                "--os=fedora-coreos",
                "41.20241027.3.0",
            ],
        ),
        (
            &[
                "host",
                "rebase",
                "fedora:fedora/x86_64/coreos/next",
                "--",
                "--experimental",
            ],
            &[
                "rpm-ostree",
                "rebase",
                "fedora:fedora/x86_64/coreos/next",
                "--experimental",
            ],
        ),
        (
            &["host", "unlock", "--hotfix"],
            &["rpm-ostree", "usroverlay", "--hotfix"],
        ),
        (
            &["host", "install", "vim-enhanced", "htop", "-r"],
            &["rpm-ostree", "install", "--reboot", "vim-enhanced", "htop"],
        ),
        (
            &["host", "uninstall", "htop"],
            &["rpm-ostree", "uninstall", "htop"],
        ),
    ];
    for (args, expected) in table {
        host.atomic("", args).assert().success();
        assert_eq!(host.ran(), [argv(expected)], "{args:?}");
    }

    // rpm-ostree's exit code is atomic's: 77 from upgrade --check means nothing new.
    host.atomic("", &["host", "upgrade", "--check"])
        .env("FAKE_EXIT", "77")
        .assert()
        .code(77);
}

#[test]
fn bootc_host_runs_bootc_and_passes_its_json_through() {
    let host = FakeHost::new(&["bootc", "rpm-ostree"]);
    let booted = "bootc-status-booted.json";
    let recorded = std::fs::read_to_string(fixture(booted)).unwrap();
    host.atomic(booted, &["host", "status", "--json"])
        .assert()
        .success()
        .stdout(recorded);
    assert_eq!(host.ran(), [argv(&BOOTC_STATUS), argv(&BOOTC_STATUS)]);

    let table: [(&[&str], &[&str]); 4] = [
        (
            &["host", "upgrade", "-r", "--", "--quiet"],
            &["bootc", "upgrade", "--apply", "--quiet"],
        ),
        (
            &["host", "upgrade", "--check"],
            &["bootc", "upgrade", "--check"],
        ),
        (&["host", "rollback"], &["bootc", "rollback"]),
        (
            &["host", "rebase", "quay.io/fedora/fedora-bootc:42", "-r"],
            &[
                "bootc",
                "switch",
                "--apply",
                "quay.io/fedora/fedora-bootc:42",
            ],
        ),
    ];
    for (args, expected) in table {
        host.atomic(booted, args).assert().success();
        assert_eq!(
            host.ran(),
            [argv(&BOOTC_STATUS), argv(expected)],
            "{args:?}"
        );
    }

    host.atomic(booted, &["host", "install", "htop"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "'atomic host install' needs rpm-ostree; this host is managed by bootc",
        ));
    host.atomic(booted, &["host", "deploy", "41.1"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "'atomic host deploy' is not supported by the bootc backend",
        ));
    host.ran();

    // --backend overrides the choice, and then nobody is asked.
    host.atomic(
        booted,
        &["host", "install", "htop", "--backend", "rpm-ostree"],
    )
    .assert()
    .success();
    assert_eq!(host.ran(), [argv(&["rpm-ostree", "install", "htop"])]);
}

#[test]
fn bootc_installed_but_not_booted_from_an_image_falls_to_rpm_ostree() {
    let host = FakeHost::new(&["bootc", "rpm-ostree"]);
    for status in [
        "bootc-status-not-booted.json",
        "bootc-status-incompatible.json",
    ] {
        host.atomic(status, &["host", "rollback"])
            .assert()
            .success();
        assert_eq!(
            host.ran(),
            [argv(&BOOTC_STATUS), argv(&["rpm-ostree", "rollback"])],
            "{status}"
        );
    }
}

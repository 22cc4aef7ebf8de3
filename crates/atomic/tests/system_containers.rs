//! Tier (b) of the system-container tests: atomic itself, in a systemd booted inside a
//! container (see atomic-testsupport's `systemd_host`), with the real systemctl, journal and
//! runc. Install → start → the container's output in the journal → update to a new image →
//! rollback → uninstall, which must leave the host's file tree as it was.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use atomic_testsupport::{Bind, FileEntry, SystemdHost};
use atomic_testsupport::{ImageSpec, LayerSpec, write_oci_layout};

/// A service that prints `greeting` and runs until SIGTERM, on which it ends cleanly (a shell
/// as PID 1 of its namespace has no default action for it).
fn greeter(name: &str, greeting: &str) -> ImageSpec {
    ImageSpec::new(name)
        .env(format!("GREETING={greeting}"))
        .cmd([
            "/bin/sh",
            "-c",
            "trap 'exit 0' TERM; echo \"$GREETING\"; sleep 1000 & wait",
        ])
}

/// Version `tag` of the service `svc`, which says which version it is.
fn service(tag: &str) -> ImageSpec {
    greeter("svc", &format!("hello from {tag}")).tag(tag)
}

/// A service with its own templates, manifest and host files.
fn templated() -> ImageSpec {
    ImageSpec::new("templated")
        .cmd([
            "/bin/sh",
            "-c",
            "trap 'exit 0' TERM; echo \"port=$PORT\"; sleep 1000 & wait",
        ])
        .layer(
            LayerSpec::new()
                .file(
                    "/exports/service.template",
                    "[Unit]\nDescription=$NAME on port $PORT\n\n[Service]\nType=forking\n\
                     ExecStart=$EXEC_START\nExecStopPost=$EXEC_STOPPOST\nPIDFile=$PIDFILE\n\
                     WorkingDirectory=$DESTDIR\nTimeoutStopSec=10\n\n[Install]\n\
                     WantedBy=multi-user.target\n",
                    0o644,
                )
                .file(
                    "/exports/manifest.json",
                    r#"{"defaultValues": {"PORT": "8080"},
                        "installedFilesTemplate": ["/etc/templated/port.conf"]}"#,
                    0o644,
                )
                .file(
                    "/exports/tmpfiles.template",
                    "d $RUN_DIRECTORY/$NAME 0755 - - -\n",
                    0o644,
                )
                .file(
                    "/exports/hostfs/etc/templated/port.conf",
                    "port=$PORT\n",
                    0o644,
                ),
        )
}

struct Host {
    host: SystemdHost,
    /// Mounted at /data: OCI layouts, rewritten by tests to publish new image versions.
    data: tempfile::TempDir,
}

fn runc() -> String {
    ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("runc is installed (scripts/setup.sh)")
        .to_string()
}

/// A booted host with atomic and runc, and `images` as OCI layouts under /data.
fn boot(images: &[ImageSpec]) -> Option<Host> {
    let data = tempfile::tempdir().unwrap();
    for spec in images {
        write_oci_layout(spec, &data.path().join(&spec.name)).unwrap();
    }
    let binds = [
        Bind::read_only(env!("CARGO_BIN_EXE_atomic"), "/usr/local/bin/atomic"),
        Bind::read_only(runc(), "/usr/sbin/runc"),
        Bind::read_only(data.path(), "/data"),
    ];
    let host = SystemdHost::boot_for_test(&binds)?;
    let host = Host { host, data };
    for spec in images {
        host.ok(&[
            "atomic",
            "pull",
            "-q",
            &format!("oci:/data/{}:{}", spec.name, spec.tag),
        ]);
    }
    Some(host)
}

impl Host {
    fn ok(&self, argv: &[&str]) -> String {
        let out = self.host.exec(argv).unwrap();
        assert!(
            out.status.success(),
            "{argv:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Publish `spec` (a new version under the same name and tag) and pull it.
    fn publish(&self, spec: &ImageSpec) {
        write_oci_layout(spec, &self.data.path().join(&spec.name)).unwrap();
        self.ok(&[
            "atomic",
            "pull",
            "-q",
            &format!("oci:/data/{}:{}", spec.name, spec.tag),
        ]);
    }

    /// `systemd-analyze verify` accepts the unit: it exits 0 even for unknown keys and bad
    /// values, which it only warns about, so its stderr must be empty too.
    fn verify_unit(&self, path: &str) {
        let out = self
            .host
            .exec(&["systemd-analyze", "verify", path])
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "verify {path}: {stderr}"
        );
    }

    fn journal_has(&self, unit: &str, needle: &str) -> String {
        self.host
            .wait_for_journal(unit, needle, Duration::from_secs(30))
            .unwrap()
    }

    fn is_active(&self, unit: &str) -> String {
        let out = self.host.exec(&["systemctl", "is-active", unit]).unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn link(&self, name: &str) -> String {
        self.ok(&["readlink", &format!("/var/lib/containers/atomic/{name}")])
            .trim()
            .to_string()
    }

    /// The host's /etc and the deployments: what an install adds and an uninstall removes.
    fn tree(&self) -> BTreeMap<String, FileEntry> {
        let mut tree = self.host.files_under("/etc").unwrap();
        let store = self.host.files_under("/var/lib/containers/atomic").unwrap();
        // The store's own content (images pulled before) is not the install's business.
        tree.extend(store.into_iter().filter(|(path, _)| {
            let rel = path.trim_start_matches("/var/lib/containers/atomic/");
            !atomic_system::layout::STORE_ENTRIES
                .iter()
                .any(|own| rel.starts_with(own))
        }));
        tree
    }
}

/// The two trees are the same; else the paths that differ, and how.
fn assert_same(before: &BTreeMap<String, FileEntry>, after: &BTreeMap<String, FileEntry>) {
    let paths: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let diff: Vec<String> = paths
        .into_iter()
        .filter(|p| before.get(*p) != after.get(*p))
        .map(|p| format!("{p}: {:?} -> {:?}", before.get(p), after.get(p)))
        .collect();
    assert!(
        diff.is_empty(),
        "the host's files changed:\n{}",
        diff.join("\n")
    );
}

#[test]
fn install_start_update_rollback_uninstall_under_systemd() {
    let Some(host) = boot(&[service("v1"), service("v2")]) else {
        return;
    };
    let before = host.tree();

    let out = host.ok(&[
        "atomic",
        "install",
        "--system",
        "--name",
        "svc",
        "localhost/svc:v1",
    ]);
    for step in [
        "Extracting to /var/lib/containers/atomic/svc.0",
        "systemctl daemon-reload",
        "systemd-tmpfiles --create /etc/tmpfiles.d/svc.conf",
        "systemctl enable svc",
    ] {
        assert!(out.contains(step), "install printed {out}");
    }
    // Enabled, not started, as the original.
    assert_eq!(host.is_active("svc"), "inactive");
    host.verify_unit("/etc/systemd/system/svc.service");

    host.ok(&["atomic", "run", "svc"]);
    host.journal_has("svc", "hello from v1");
    assert_eq!(host.is_active("svc"), "active");
    let listed = host.ok(&["atomic", "containers", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let svc = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "svc")
        .unwrap_or_else(|| panic!("svc listed: {listed}"));
    assert_eq!(svc["backend"], "system");
    assert_eq!(svc["state"], "running");
    // A command runs in the running container.
    assert_eq!(
        host.ok(&["atomic", "run", "svc", "sh", "-c", "echo $GREETING"]),
        "hello from v1\n"
    );

    let uuid = |slot: &str| {
        let info = host.ok(&["cat", &format!("/var/lib/containers/atomic/{slot}/info")]);
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        info["values"]["UUID"].as_str().unwrap().to_string()
    };
    let uuid_v1 = uuid("svc.0");
    let out = host.ok(&["atomic", "containers", "update", "svc"]);
    assert!(out.contains("Latest version already installed."), "{out}");

    host.ok(&[
        "atomic",
        "containers",
        "update",
        "--rebase",
        "localhost/svc:v2",
        "svc",
    ]);
    assert_eq!(host.link("svc"), "/var/lib/containers/atomic/svc.1");
    host.journal_has("svc", "hello from v2");
    assert_eq!(host.is_active("svc"), "active", "restarted: it was running");
    assert_eq!(uuid("svc.1"), uuid_v1, "the UUID survives updates");

    let out = host.ok(&["atomic", "containers", "rollback", "svc"]);
    assert!(
        out.contains("Rolling back container svc to the checkout at"),
        "{out}"
    );
    assert_eq!(host.link("svc"), "/var/lib/containers/atomic/svc.0");
    assert_eq!(
        host.ok(&["atomic", "run", "svc", "sh", "-c", "echo $GREETING"]),
        "hello from v1\n"
    );

    host.ok(&["atomic", "stop", "svc"]);
    assert_eq!(host.is_active("svc"), "inactive");
    // Stopped: a command runs in a one-off container of the same deployment.
    assert_eq!(
        host.ok(&["atomic", "run", "svc", "sh", "-c", "echo $GREETING"]),
        "hello from v1\n"
    );

    host.ok(&["atomic", "uninstall", "svc"]);
    assert_eq!(host.ok(&["runc", "list", "-q"]), "");
    assert_same(&before, &host.tree());
}

#[test]
fn templates_manifest_and_host_files_under_systemd() {
    let Some(host) = boot(&[templated()]) else {
        return;
    };
    let before = host.tree();
    host.ok(&[
        "atomic",
        "install",
        "--system",
        "--start",
        "--set",
        "PORT=9090",
        "localhost/templated",
    ]);
    host.verify_unit("/etc/systemd/system/templated.service");
    let unit = host.ok(&["systemctl", "show", "-p", "Description", "templated"]);
    assert_eq!(unit.trim(), "Description=templated on port 9090");
    // The tmpfiles template made its directory; the host file is rendered.
    host.ok(&["test", "-d", "/run/templated"]);
    assert_eq!(host.ok(&["cat", "/etc/templated/port.conf"]), "port=9090\n");
    assert_eq!(host.is_active("templated"), "active", "--start starts it");

    // A host file the user edited is kept by uninstall, and said so.
    host.ok(&["sh", "-c", "echo edited > /etc/templated/port.conf"]);
    let out = host
        .host
        .exec(&["atomic", "uninstall", "templated"])
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Will not delete /etc/templated/port.conf as it was manually modified."),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    host.ok(&["rm", "-r", "/etc/templated"]);
    assert_same(&before, &host.tree());
}

/// `atomic install --system localhost/svc:v1` with a `systemctl` first on PATH that sends
/// `signal` to atomic when asked to enable — when the unit, link and deployment are written and
/// systemd reloaded, the worst moment — and otherwise does what it is asked.
fn install_with_faulty_systemctl(host: &Host, signal: &str) -> std::process::Output {
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = enable ] && kill -{signal} $PPID\nexec /usr/bin/systemctl \"$@\"\n"
    );
    host.ok(&[
        "sh",
        "-c",
        "mkdir -p /opt/fault && printf '%s' \"$0\" > /opt/fault/systemctl && chmod +x /opt/fault/systemctl",
        &script,
    ]);
    let path = "PATH=/opt/fault:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    host.host
        .exec(&[
            "env",
            path,
            "atomic",
            "install",
            "--system",
            "localhost/svc:v1",
        ])
        .unwrap()
}

#[test]
fn an_interrupted_install_undoes_itself() {
    let Some(host) = boot(&[service("v1")]) else {
        return;
    };
    let before = host.tree();
    let out = install_with_faulty_systemctl(&host, "INT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("interrupted by a signal"), "{stderr}");
    // Undone before atomic exited: nothing left, not even a record for a later atomic.
    assert_same(&before, &host.tree());
    assert!(
        !host
            .host
            .exec(&["systemctl", "cat", "svc"])
            .unwrap()
            .status
            .success()
    );
}

#[test]
fn a_killed_install_is_undone_and_can_be_run_again() {
    let Some(host) = boot(&[service("v1")]) else {
        return;
    };
    let before = host.tree();
    let killed = install_with_faulty_systemctl(&host, "KILL");
    assert!(!killed.status.success(), "atomic was killed");
    host.ok(&["test", "-e", "/etc/systemd/system/svc.service"]);

    // The next atomic undoes it, then does what it was asked.
    let out = host.host.exec(&["atomic", "uninstall", "svc"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("undoing an interrupted install"),
        "{stderr}"
    );
    assert_same(&before, &host.tree());
    host.ok(&[
        "atomic",
        "install",
        "--system",
        "--name",
        "svc",
        "localhost/svc:v1",
    ]);
    host.ok(&["atomic", "uninstall", "svc"]);
    assert_same(&before, &host.tree());
}

#[test]
fn update_all_rolls_back_a_service_that_fails_and_updates_the_others() {
    let Some(host) = boot(&[greeter("good", "good one"), greeter("flaky", "flaky one")]) else {
        return;
    };
    for name in ["good", "flaky"] {
        host.ok(&[
            "atomic",
            "install",
            "--system",
            "--start",
            &format!("localhost/{name}"),
        ]);
        host.journal_has(name, &format!("{name} one"));
    }
    host.publish(&greeter("good", "good two"));
    // The new flaky cannot run at all: its command does not exist.
    host.publish(&ImageSpec::new("flaky").cmd(["/no/such/program"]));

    let out = host
        .host
        .exec(&["atomic", "containers", "update", "--all"])
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "one update failed: {stdout}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row in {stdout}"))
            .to_string()
    };
    assert!(row("good").ends_with("Updated now"), "{stdout}");
    assert!(row("flaky").ends_with("Failed"), "{stdout}");
    host.journal_has("good", "good two");
    // flaky is back on its first deployment, running again.
    assert_eq!(host.link("flaky"), "/var/lib/containers/atomic/flaky.0");
    assert_eq!(host.is_active("flaky"), "active");
    assert_eq!(
        host.ok(&["atomic", "run", "flaky", "sh", "-c", "echo $GREETING"]),
        "flaky one\n"
    );
}

#[test]
fn a_run_once_image_runs_and_keeps_nothing() {
    // The original's test image (atomic-test-runonce): a config.json template that says hello.
    let template = r#"{"ociVersion": "1.0.2",
        "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/",
                    "args": ["/bin/sh", "-c", "echo HI $RECEIVER from $NAME"],
                    "env": ["PATH=/bin"]},
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}]}}"#;
    let once = ImageSpec::new("runonce")
        .label("atomic.run", "once")
        .layer(LayerSpec::new().file("/exports/config.json.template", template, 0o644));
    let Some(host) = boot(&[once]) else {
        return;
    };
    let before = host.tree();
    let out = host.ok(&[
        "atomic",
        "install",
        "--system",
        "--name=Saturn",
        "--set",
        "RECEIVER=Pluto",
        "localhost/runonce",
    ]);
    assert!(out.contains("HI Pluto from Saturn"), "{out}");
    assert_same(&before, &host.tree());
}

#[test]
fn a_user_installs_a_container_for_its_own_systemd() {
    let Some(host) = boot(&[service("v1")]) else {
        return;
    };
    host.ok(&["useradd", "-m", "alice"]);
    // alice pulls the image herself, from /data: the temp dir is the test's, mode 0700.
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(host.data.path())
        .status()
        .unwrap();
    assert!(status.success());
    // A lingering user has a manager of its own (user@UID.service) without logging in.
    host.ok(&["loginctl", "enable-linger", "alice"]);
    let alice = |cmd: &str| {
        host.ok(&[
            "su",
            "-",
            "alice",
            "-c",
            &format!("export XDG_RUNTIME_DIR=/run/user/$(id -u); {cmd}"),
        ])
    };
    let until = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !check() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    until("alice's user manager", &|| {
        host.host
            .exec(&["systemctl", "is-active", "user@1000.service"])
            .is_ok_and(|o| o.status.success())
    });

    let out = alice("atomic install --user --name u1 oci:/data/svc:v1");
    assert!(out.contains("systemctl --user enable u1"), "{out}");
    alice("test -f ~/.config/systemd/user/u1.service");
    alice("atomic run u1");
    until("the container's greeting in alice's journal", &|| {
        alice("journalctl --user -u u1 --no-pager").contains("hello from v1")
    });
    // The container's process belongs to alice on the host (root inside its user namespace).
    let owners = host.ok(&[
        "sh",
        "-c",
        "for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline 2>/dev/null | grep -q '^sleep 1000' \
         && stat -c %U $p; done; true",
    ]);
    assert_eq!(owners.trim(), "alice");
    let listed = alice("atomic containers list --json");
    assert!(
        listed.contains("\"u1\"") && listed.contains("\"running\""),
        "{listed}"
    );

    alice("atomic uninstall u1");
    alice("test ! -e ~/.config/systemd/user/u1.service");
    alice(
        "test ! -e ~/.local/share/containers/atomic/u1 && test ! -e ~/.local/share/containers/atomic/u1.0",
    );
}

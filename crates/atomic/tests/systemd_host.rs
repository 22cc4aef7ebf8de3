//! End-to-end tier for system containers: a real systemd, booted in a Podman container
//! ([`SystemdHost`]), runs a runc bundle from a unit file. This test proves the harness and
//! pins the unit shape atomic writes; atomic's own `install --system` tests join it here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use atomic_testsupport::{Bind, SystemdHost};
use serde_json::{Value, json};

/// Where the test's data directory appears inside the systemd host.
const DATA: &str = "/atomic-test";
/// The runc the tests use, bind-mounted at the same path: the image has none of its own.
const RUNC: &str = "/usr/sbin/runc";

/// The binds every systemd host test needs: the atomic binary under test, runc, and `data`.
fn binds(data: &Path) -> Vec<Bind> {
    vec![
        Bind::read_only(env!("CARGO_BIN_EXE_atomic"), "/usr/local/bin/atomic"),
        Bind::read_only(RUNC, RUNC),
        Bind::read_write(data, DATA),
    ]
}

/// Writes a runc bundle of busybox under `dir` that runs `script` with `sh -c`.
fn write_busybox_bundle(dir: &Path, name: &str, script: &str) -> PathBuf {
    let bundle = dir.join("bundle");
    let bin = bundle.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copying /bin/busybox");
    for applet in ["sh", "sleep"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let out = std::process::Command::new(RUNC)
        .arg("spec")
        .arg("--bundle")
        .arg(&bundle)
        .output()
        .expect("running runc spec");
    assert!(out.status.success(), "runc spec: {out:?}");
    let path = bundle.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["sh", "-c", script]);
    // The systemd host runs nested in a container, where mounting a cgroup filesystem into
    // the bundle fails (ENVIRONMENT.md, "OCI runtime directly").
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup");
    // With --systemd-cgroup runc only takes `slice:prefix:name` (a path like `/atomic/NAME`
    // is refused); this one makes the container the transient unit atomic-NAME.scope.
    config["linux"]["cgroupsPath"] = json!(format!("system.slice:atomic:{name}"));
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    bundle
}

/// The unit shape the research for system containers settled on (see the report of branch
/// systemd-harness): runc in the foreground, so the container's output is the service's and
/// `journalctl -u NAME` shows it; `--systemd-cgroup`, so the container is a scope systemd
/// knows; and `delete -f` after every stop, because when the container ignores SIGTERM
/// systemd's final SIGKILL reaches only runc, and the container would outlive its service.
fn unit_text(name: &str, bundle: &str) -> String {
    format!(
        "[Unit]\n\
         Description=atomic system container {name}\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={RUNC} --systemd-cgroup run --bundle {bundle} {name}\n\
         ExecStop={RUNC} --systemd-cgroup kill {name}\n\
         ExecStopPost={RUNC} --systemd-cgroup delete -f {name}\n\
         TimeoutStopSec=10\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

fn ok(host: &SystemdHost, argv: &[&str]) -> String {
    host.exec_ok(argv).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn runc_bundle_runs_under_systemd_and_leaves_nothing_behind() {
    let name = "hello-busybox";
    let unit = format!("{name}.service");
    let data = tempfile::tempdir().unwrap();
    // The trap makes the container stop on SIGTERM: as PID 1 of its namespace, sh would
    // otherwise ignore it and every stop would wait for the timeout.
    write_busybox_bundle(
        data.path(),
        name,
        "trap 'echo bye from busybox; exit 0' TERM; echo hello from busybox; sleep 1000 & wait",
    );
    std::fs::write(
        data.path().join(&unit),
        unit_text(name, &format!("/var/lib/containers/atomic/{name}")),
    )
    .unwrap();

    let Some(host) = SystemdHost::boot_for_test(&binds(data.path())) else {
        return;
    };
    // The binary under test runs in the host: what atomic's own tests there will need.
    assert!(ok(&host, &["atomic", "--version"]).contains("atomic"));

    let before = host.files_under("/etc/systemd").unwrap();
    ok(&host, &["mkdir", "-p", "/var/lib/containers/atomic"]);
    ok(
        &host,
        &[
            "cp",
            "-a",
            &format!("{DATA}/bundle"),
            &format!("/var/lib/containers/atomic/{name}"),
        ],
    );
    let unit_path = format!("/etc/systemd/system/{unit}");
    ok(&host, &["cp", &format!("{DATA}/{unit}"), &unit_path]);

    // verify exits 0 on unknown keys and bad values and only warns, so its stderr must be
    // empty too.
    let verify = host
        .exec(&["systemd-analyze", "verify", &unit_path])
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {verify:?}"
    );

    ok(&host, &["systemctl", "daemon-reload"]);
    ok(&host, &["systemctl", "start", &unit]);
    host.wait_for_journal(&unit, "hello from busybox", Duration::from_secs(20))
        .unwrap();
    assert_eq!(
        ok(&host, &["runc", "list", "-q"]).trim(),
        name,
        "the container runs under runc"
    );

    ok(&host, &["systemctl", "stop", &unit]);
    // Stopped by SIGTERM within the timeout, not killed: the trap ran and the unit did not
    // fail.
    let journal = host
        .wait_for_journal(&unit, "bye from busybox", Duration::from_secs(20))
        .unwrap();
    let result = ok(&host, &["systemctl", "show", "-P", "Result", &unit]);
    assert_eq!(result.trim(), "success", "journal:\n{journal}");
    assert_eq!(
        ok(&host, &["runc", "list", "-q"]),
        "",
        "runc still lists it"
    );
    let scope = host
        .exec(&["systemctl", "is-active", &format!("atomic-{name}.scope")])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&scope.stdout).trim(), "inactive");

    ok(&host, &["rm", &unit_path]);
    ok(&host, &["systemctl", "daemon-reload"]);
    assert_eq!(host.files_under("/etc/systemd").unwrap(), before);
}

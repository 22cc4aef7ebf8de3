//! The spec [`atomic_runtime::spec::build`] makes is accepted by the real runc on this host.
//!
//! Needs root, `runc` on PATH and `/bin/busybox` (Debian's busybox-static). Without them the
//! tests skip with a reason, unless `ATOMIC_TEST_REQUIRE_ENGINES=1`: then they fail, so a CI
//! machine that should have the engines cannot pass by skipping.

use atomic_runtime::dockercli::{DockerCommand, parse};
use atomic_runtime::host::SystemHost;
use atomic_runtime::spec::{ContainerFiles, SpecInput, build};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BUSYBOX: &str = "/bin/busybox";

/// `None` when the test can run, else why not.
fn missing_engine() -> Option<String> {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("runc").is_file()));
    if !on_path {
        return Some("runc is not on PATH".into());
    }
    if !rustix::process::geteuid().is_root() {
        return Some("not running as root".into());
    }
    if !Path::new(BUSYBOX).is_file() {
        return Some(format!(
            "{BUSYBOX} is missing (apt-get install busybox-static)"
        ));
    }
    None
}

/// Skip (print why) or, under ATOMIC_TEST_REQUIRE_ENGINES=1, fail.
fn ready(test: &str) -> bool {
    match missing_engine() {
        None => true,
        Some(reason) if std::env::var("ATOMIC_TEST_REQUIRE_ENGINES").as_deref() == Ok("1") => {
            panic!("{test}: {reason}, and ATOMIC_TEST_REQUIRE_ENGINES=1")
        }
        Some(reason) => {
            eprintln!("skipping {test}: {reason}");
            false
        }
    }
}

/// A bundle directory with a busybox root filesystem.
fn bundle(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "etc", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "true", "cat", "id", "ls", "grep", "touch", "echo"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
    rootfs
}

/// Build the spec for `docker run ARGS` with the real host, run it with runc, return
/// (exit status, stdout, stderr).
fn run(name: &str, args: &[&str]) -> (i32, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = bundle(tmp.path());
    let mut argv = vec!["docker".to_string(), "run".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let DockerCommand::Run(request) = parse(&argv).unwrap() else {
        panic!("not a run command: {argv:?}")
    };
    let image = oci_spec::image::ConfigBuilder::default()
        .cmd(vec!["sh".to_string()])
        .build()
        .unwrap();
    let read = |p: &str| std::fs::read(rootfs.join(p.trim_start_matches('/'))).ok();
    let input = SpecInput {
        request: &request,
        image: Some(&image),
        rootfs: &rootfs,
        hostname: name,
        files: ContainerFiles::default(),
        read_image_file: &read,
        extra_env: &[],
    };
    let spec = build(&input, &SystemHost).unwrap();
    spec.save(tmp.path().join("config.json")).unwrap();
    let id = format!("atomic-test-{name}-{}", std::process::id());
    let out = Command::new("runc")
        .arg("--root")
        .arg(tmp.path().join("state"))
        .args(["run", "--bundle"])
        .arg(tmp.path())
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn default_request_runs_as_root() {
    if !ready("default_request_runs_as_root") {
        return;
    }
    let (code, out, err) = run("default", &["img", "id"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("uid=0(root)"), "{out}");
    // Unprivileged with the host's network: sysfs (read-only) still mounts.
    let (code, out, err) = run("hostnet", &["--net=host", "img", "ls", "/sys/class/net"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("lo"), "{out}");
}

#[test]
fn super_privileged_request_sees_the_host() {
    if !ready("super_privileged_request_sees_the_host") {
        return;
    }
    // `docker run --privileged` fails on this host ("unable to apply caps"): the bounding set
    // lacks CAP_SYS_RESOURCE. The spec clamps to it, so this works.
    let (code, out, err) = run(
        "spc",
        &[
            "--privileged",
            "--net=host",
            "--pid=host",
            "--ipc=host",
            "-v",
            "/:/host",
            "img",
            "sh",
            "-c",
            "cat /host/etc/os-release && grep CapEff /proc/self/status && ls /proc/1/",
        ],
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("ID="), "{out}");
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    assert!(out.contains(&format!("CapEff:\t{bounding}")), "{out}");
}

#[test]
fn unprivileged_user_on_a_read_only_root() {
    if !ready("unprivileged_user_on_a_read_only_root") {
        return;
    }
    let (code, out, err) = run(
        "ro",
        &[
            "-u",
            "1000:1000",
            "--read-only",
            "img",
            "sh",
            "-c",
            "id; touch /x || echo cannot-write",
        ],
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("uid=1000 gid=1000"), "{out}");
    assert!(out.contains("cannot-write"), "{out}");
}

/// Regression: with `--privileged` the host's `/dev` is bind-mounted, and runc created the
/// target of the `/dev/init` bind there, leaving an empty `/dev/init` on the host.
#[test]
fn privileged_init_leaves_the_host_dev_alone() {
    if !ready("privileged_init_leaves_the_host_dev_alone") {
        return;
    }
    if Path::new("/dev/init").exists() {
        eprintln!("skipping privileged_init_leaves_the_host_dev_alone: the host has a /dev/init");
        return;
    }
    let (code, out, err) = run(
        "init",
        &["--privileged", "--init", "img", "sh", "-c", "echo pid=$$"],
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    // The init (tini/catatonit) is PID 1, so the shell is not.
    assert!(out.contains("pid=") && !out.contains("pid=1\n"), "{out}");
    assert!(
        !Path::new("/dev/init").exists(),
        "the container left /dev/init on the host"
    );
}

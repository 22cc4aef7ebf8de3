//! The images against the real tools: Podman, Docker, umoci, skopeo and a loopback registry.
//! Each test skips, saying why, when its tool is not usable on this machine, so `cargo test`
//! still passes on a developer's laptop; scripts/test.sh installs everything so that in CI
//! nothing is skipped.

use std::process::{Command, Stdio};

use atomic_testsupport::{
    ImageSpec, Registry, docker_available, docker_command, load_into_docker, load_into_podman,
    podman_available, podman_command, podman_image_name, write_oci_layout,
};

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn stdout_of(mut cmd: Command) -> String {
    let output = cmd.stdin(Stdio::null()).output().expect("starting command");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn echo_image(name: &str) -> ImageSpec {
    ImageSpec::new(name)
        .label("RUN", "docker run --rm IMAGE /bin/echo hi")
        .cmd(["/bin/sh"])
}

#[test]
fn podman_runs_a_loaded_image() {
    if !podman_available() {
        eprintln!("skipped: podman is not usable here (see scripts/setup.sh)");
        return;
    }
    let spec = echo_image("atomic-testsupport-podman");
    load_into_podman(&spec).unwrap();
    // The second load finds the image and does nothing.
    load_into_podman(&spec).unwrap();
    let mut cmd = podman_command();
    cmd.args(["run", "--rm", &podman_image_name(&spec), "/bin/echo", "hi"]);
    assert_eq!(stdout_of(cmd), "hi\n");

    let mut cmd = podman_command();
    cmd.args(["run", "--rm", &podman_image_name(&spec), "id", "-un"]);
    assert_eq!(stdout_of(cmd), "root\n", "/etc/passwd names uid 0");
}

#[test]
fn podman_loads_concurrently() {
    if !podman_available() {
        eprintln!("skipped: podman is not usable here (see scripts/setup.sh)");
        return;
    }
    let spec = echo_image("atomic-testsupport-concurrent").label("case", "concurrent");
    std::thread::scope(|s| {
        let loads: Vec<_> = (0..3)
            .map(|_| s.spawn(|| load_into_podman(&spec)))
            .collect();
        for load in loads {
            load.join().unwrap().unwrap();
        }
    });
}

#[test]
fn docker_runs_a_loaded_image() {
    if !docker_available() {
        eprintln!("skipped: no Docker daemon answers here (see scripts/setup.sh)");
        return;
    }
    let spec = echo_image("atomic-testsupport-docker");
    load_into_docker(&spec).unwrap();
    load_into_docker(&spec).unwrap();
    let mut cmd = docker_command();
    cmd.args(["run", "--rm", &spec.reference(), "/bin/echo", "hi"]);
    assert_eq!(stdout_of(cmd), "hi\n");

    let mut cmd = docker_command();
    cmd.args([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &spec.reference(),
    ]);
    assert!(stdout_of(cmd).contains("docker run --rm IMAGE /bin/echo hi"));
}

#[test]
fn oci_layout_is_accepted_by_umoci_and_skopeo() {
    let spec = echo_image("atomic-testsupport-oci").tag("v1");
    let dir = tempfile::tempdir().unwrap();
    let image = write_oci_layout(&spec, dir.path()).unwrap();

    if have("umoci") {
        let mut cmd = Command::new("umoci");
        cmd.args(["stat", "--json", "--image"])
            .arg(format!("{}:v1", dir.path().display()));
        let stat = stdout_of(cmd);
        assert!(
            stat.contains("atomic-testsupport"),
            "history missing: {stat}"
        );
    } else {
        eprintln!("skipped umoci check: umoci is not installed");
    }
    if have("skopeo") {
        let mut cmd = Command::new("skopeo");
        cmd.args(["inspect", "--config"])
            .arg(format!("oci:{}:v1", dir.path().display()));
        let config: serde_json::Value = serde_json::from_str(&stdout_of(cmd)).unwrap();
        assert_eq!(
            config["config"]["Labels"]["RUN"],
            "docker run --rm IMAGE /bin/echo hi"
        );
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
        let _ = image;
    } else {
        eprintln!("skipped skopeo check: skopeo is not installed");
    }
}

#[test]
fn registry_push_then_inspect() {
    if !have("skopeo") || !have("docker-registry") {
        eprintln!("skipped: skopeo or docker-registry is not installed");
        return;
    }
    let registry = Registry::ensure().unwrap();
    let spec = echo_image("atomic-testsupport-push").label("case", "push");
    let pushed = registry.push(&spec, "atomic-testsupport/push:v1").unwrap();
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!(
            "docker://{}",
            registry.reference("atomic-testsupport/push:v1")
        ));
    assert_eq!(stdout_of(cmd).trim(), pushed.manifest_digest);
}

//! Errors a user meets: they say what failed and what to do, and exit 1 (2 for usage; 125 in
//! the verbs that otherwise exit with a label command's code).

mod common;

use common::{Kind, World, images, stderr};

fn missing_image_says_how_to_pull(kind: Kind) {
    let world = World::new();
    for verb in [
        &["info"][..],
        &["run", "--display"],
        &["install", "--display"],
        &["version"],
        &["help"],
    ] {
        let out = world
            .on(kind, verb, &["atomic-test-no-such-image"])
            .output()
            .unwrap();
        // run, install and help pass a label command's exit code through: their own failures
        // are 125.
        let code = if matches!(verb[0], "info" | "version") {
            1
        } else {
            125
        };
        assert_eq!(out.status.code(), Some(code), "{verb:?}");
        let err = stderr(&out);
        assert!(
            err.contains("image 'atomic-test-no-such-image' not found")
                && err.contains(&format!(
                    "atomic pull --storage {} atomic-test-no-such-image",
                    kind.as_str()
                )),
            "{verb:?}: {err}"
        );
    }
}

fn missing_container_is_named(kind: Kind) {
    let world = World::new();
    let out = world
        .on(kind, &["stop"], &["atomic-test-no-such-container"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("container 'atomic-test-no-such-container' not found"),
        "{}",
        stderr(&out)
    );
}

fn install_gate_is_bypassed_with_ignore(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    let out = world
        .on(kind, &["run", "--display"], &["atomic-test-1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "--display skips nothing but running: {}",
        stderr(&out)
    );
    let out = world
        .on(kind, &["run"], &["-n", "gate", "atomic-test-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Re-run with --ignore"),
        "{}",
        stderr(&out)
    );
    // -i, before or after the verb.
    for args in [&["-i", "run", "--display"][..], &["run", "-i", "--display"]] {
        let out = world
            .on(kind, args, &["-n", "gate", "atomic-test-1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
}

on_every_engine!(
    missing_image_says_how_to_pull,
    missing_container_is_named,
    install_gate_is_bypassed_with_ignore
);

#[test]
fn docker_daemon_missing_is_explained() {
    let world = World::new();
    let out = world
        .atomic()
        .args(["info", "--storage", "docker", "busybox"])
        .env("DOCKER_HOST", "unix:///tmp/atomic-test-no-docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "cannot connect to the Docker daemon at unix:///tmp/atomic-test-no-docker.sock"
        ),
        "{err}"
    );
}

#[test]
fn unknown_storage_is_a_clear_error() {
    let world = World::new();
    let out = world
        .atomic()
        .args(["info", "--storage", "lxc", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("'lxc' is not a valid storage"),
        "{}",
        stderr(&out)
    );
    let out = world
        .atomic()
        .args(["info", "x"])
        .env("ATOMIC_STORAGE", "lxc")
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("'lxc' is not a valid storage"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let world = World::new();
    for args in [
        &[][..],
        &["run"],
        &["bogus-verb"],
        &["run", "--display", "--quiet", "x"],
    ] {
        let out = world.atomic().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn malformed_atomic_conf_is_reported() {
    let world = World::new();
    std::fs::write(world.conf(), "default_storage: [oops\n").unwrap();
    let out = world.atomic().args(["info", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("atomic.conf"), "{}", stderr(&out));
}

#[test]
fn atomic_conf_default_storage_is_used() {
    let _alone = common::podman_alone();
    if !Kind::Podman.usable() {
        return;
    }
    images::plain(Kind::Podman);
    let world = World::new();
    std::fs::write(world.conf(), "default_storage: podman\n").unwrap();
    let out = world
        .atomic()
        .args([
            "run",
            "--display",
            "-n",
            "conf",
            "atomic-test-plain",
            "true",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        common::stdout(&out),
        "podman run -i --name conf atomic-test-plain true\n"
    );
}

#[test]
fn default_docker_program_comes_from_atomic_conf() {
    if !Kind::Docker.usable() {
        return;
    }
    images::plain(Kind::Docker);
    let world = World::new();
    std::fs::write(
        world.conf(),
        "default_storage: docker\ndefault_docker: /usr/bin/docker-latest\n",
    )
    .unwrap();
    let out = world
        .atomic()
        .args([
            "run",
            "--display",
            "-n",
            "conf",
            "atomic-test-plain",
            "true",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        common::stdout(&out),
        "/usr/bin/docker-latest run -i --name conf atomic-test-plain true\n"
    );
}

#[test]
fn an_image_in_two_engines_needs_storage() {
    let _alone = common::podman_alone();
    if !(Kind::Docker.usable() && Kind::Podman.usable()) {
        return;
    }
    images::plain(Kind::Docker);
    images::plain(Kind::Podman);
    let world = World::new();
    let out = world
        .atomic()
        .args(["info", "atomic-test-plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("docker and podman") && err.contains("--storage"),
        "{err}"
    );
    // With ATOMIC_STORAGE set, the same command works.
    let out = world
        .atomic()
        .args(["info", "atomic-test-plain"])
        .env("ATOMIC_STORAGE", "podman")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_image_in_one_engine_is_found_without_storage() {
    let _alone = common::podman_alone();
    if !(Kind::Docker.usable() && Kind::Podman.usable()) {
        return;
    }
    let spec =
        atomic_testsupport::ImageSpec::new("atomic-test-podman-only").label("Only", "podman");
    Kind::Podman.load(&spec);
    let world = World::new();
    let out = world
        .atomic()
        .args(["info", "atomic-test-podman-only"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(common::stdout(&out).contains("Only: podman"));
}

#[test]
fn completions_and_man_pages_are_generated() {
    let world = World::new();
    let out = world
        .atomic()
        .args(["completion", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(common::stdout(&out).contains("_atomic()"));
    let dir = world.path().join("man");
    let out = world
        .atomic()
        .args(["generate-man"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // atomic 1.x's top-level verbs, hidden from the list, keep their pages too.
    let info = std::fs::read_to_string(dir.join("atomic-info.1")).unwrap();
    assert!(info.contains(".TH atomic-info"), "{info}");
    let page = std::fs::read_to_string(dir.join("atomic-run.1")).unwrap();
    assert!(
        page.contains("spc") && page.contains(".TH atomic-run"),
        "{page}"
    );
}

#[test]
fn listing_output_survives_a_closed_pipe() {
    // `atomic completion bash | head -1` must end quietly, not panic on EPIPE.
    let world = World::new();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"))
        .args(["completion", "bash"])
        .env("ATOMIC_CONF", world.conf())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

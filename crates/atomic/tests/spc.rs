//! `atomic run --spc` for real: a super-privileged container sees the host's processes and root.

mod common;

use common::{Containers, Kind, World, images, stderr, stdout};

#[test]
fn spc_on_podman_sees_host_pids_and_root() {
    let _alone = common::podman_alone();
    let kind = Kind::Podman;
    if !kind.usable() {
        return;
    }
    images::plain(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("spc");
    // A marker only the host has, and our own PID, which only a host-PID container can see.
    let marker = world.path().join("host-marker");
    std::fs::write(&marker, "on the host").unwrap();
    let pid = std::process::id();
    let script = format!(
        "cat /host{} && test -d /proc/{pid} && echo pid-visible && echo host=$HOST name=$NAME",
        marker.display()
    );
    let out = world
        .on(
            kind,
            &["run"],
            &[
                "--spc",
                "-n",
                &name,
                "atomic-test-plain",
                "/bin/sh",
                "-c",
                &script,
            ],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("on the host"), "{text}");
    assert!(text.contains("pid-visible"), "{text}");
    assert!(text.contains(&format!("host=/host name={name}")), "{text}");
    assert!(
        stderr(&out).contains("privileged security switches"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn spc_quiet_prints_no_summary() {
    let _alone = common::podman_alone();
    let kind = Kind::Podman;
    if !kind.usable() {
        return;
    }
    images::plain(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("spcq");
    let out = world
        .on(
            kind,
            &["run", "-q"],
            &["--spc", "-n", &name, "atomic-test-plain", "true"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "");
}

/// Docker's --privileged cannot work on this machine (the bounding set lacks CAP_SYS_RESOURCE;
/// ENVIRONMENT.md), so Docker's SPC is checked with --display (display.rs) and run for real only
/// where docker can start a privileged container.
#[test]
fn spc_on_docker_where_privileged_works() {
    let kind = Kind::Docker;
    if !kind.usable() {
        return;
    }
    images::plain(kind);
    let probe = kind
        .cli()
        .args(["run", "--rm", "--privileged", "atomic-test-plain", "true"])
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!(
            "SKIP: docker cannot run --privileged containers here: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
        return;
    }
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("spcd");
    let out = world
        .on(
            kind,
            &["run", "-q"],
            &[
                "--spc",
                "-n",
                &name,
                "atomic-test-plain",
                "/bin/sh",
                "-c",
                "test -d /host/proc && echo ok",
            ],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok\n");
}

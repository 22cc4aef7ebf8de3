//! `atomic push` against registries of the test's own (docker-registry with its access log),
//! checked with skopeo: the pushed manifest has the local digest, a second push sends no blob,
//! Podman images go through `podman push`, and signing requests are refused before anything is
//! sent.

mod common;

use std::process::Command;

use atomic_testsupport::{
    ImageSpec, PrivateRegistry, PrivateRegistryConfig, load_into_podman, podman_image_name,
};
use common::{Kind, World, stderr};

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo").args(args).output().unwrap()
}

/// The manifest digest skopeo sees for `name` on a plain-HTTP registry.
fn remote_digest(name: &str) -> String {
    let out = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--format",
        "{{.Digest}}",
        &format!("docker://{name}"),
    ]);
    assert!(
        out.status.success(),
        "skopeo inspect {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `spec` pushed to `source` as `repo_tag` and pulled into the native store of a new world;
/// returns the world and the image's name.
fn pulled_into_native(
    source: &PrivateRegistry,
    spec: &ImageSpec,
    repo_tag: &str,
) -> (World, String) {
    source.push(spec, repo_tag, &[]).unwrap();
    let name = format!("{}/{repo_tag}", source.addr());
    let world = World::new();
    let out = world
        .atomic()
        .args(["pull", "--storage", "native", "--tls-verify=false", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (world, name)
}

/// Uploads of blobs the registry's access log shows (`POST …/blobs/uploads/`).
fn uploads(reg: &PrivateRegistry) -> usize {
    reg.count_requests("POST", "/blobs/uploads/")
}

#[test]
fn native_push_is_digest_identical_and_sends_no_blob_twice() {
    let source = PrivateRegistry::start(&PrivateRegistryConfig::default()).unwrap();
    let dest = PrivateRegistry::start(&PrivateRegistryConfig::default()).unwrap();
    // An image with two layers, pulled into the native store of this test's world.
    let spec = ImageSpec::new("i15b-push").label("pushed", "yes");
    let (world, original) = pulled_into_native(&source, &spec, "i15b-push:v1");
    let local_digest = remote_digest(&original);

    let target = format!("{}/i15b-pushed:v2", dest.addr());
    let push = || {
        world
            .atomic()
            .args([
                "push",
                "--storage",
                "native",
                "--tls-verify=false",
                &original,
                &target,
            ])
            .output()
            .unwrap()
    };
    let out = push();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(remote_digest(&target), local_digest);
    let first = uploads(&dest);
    assert!(
        first >= 2,
        "config and layer uploads expected:\n{}",
        dest.log_text()
    );

    // Again: every blob is there (HEAD says so), nothing is uploaded.
    let heads = dest.count_requests("HEAD", "/blobs/");
    let out = push();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        uploads(&dest),
        first,
        "a blob was sent again:\n{}",
        dest.log_text()
    );
    assert!(dest.count_requests("HEAD", "/blobs/") > heads);
    assert!(stderr(&out).contains("0 blobs sent"), "{}", stderr(&out));

    // What was pushed is a whole image: skopeo copies it back out.
    let back = tempfile::tempdir().unwrap();
    let out = skopeo(&[
        "--insecure-policy",
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &format!("docker://{target}"),
        &format!("oci:{}:back", back.path().display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sign_by_is_refused_before_anything_is_sent() {
    let source = PrivateRegistry::start(&PrivateRegistryConfig::default()).unwrap();
    let (world, original) =
        pulled_into_native(&source, &ImageSpec::new("i15b-sign"), "i15b-sign:v1");
    let before = uploads(&source);
    for flag in [
        ["--sign-by", "ABCDEF"],
        ["--sign-by-sigstore-private-key", "/nonexistent.key"],
    ] {
        let target = format!("{}/i15b-signed:v1", source.addr());
        let out = world
            .atomic()
            .args(["push", "--storage", "native", "--tls-verify=false"])
            .args(flag)
            .args([&original, &target])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("nothing was pushed"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(uploads(&source), before);
    assert_eq!(
        source.count_requests("PUT", "/manifests/"),
        1,
        "only skopeo's manifest"
    );
}

#[test]
fn podman_push_round_trip() {
    if !Kind::Podman.usable() {
        return;
    }
    let _alone = common::podman_alone();
    let dest = PrivateRegistry::start(&PrivateRegistryConfig::default()).unwrap();
    let spec = ImageSpec::new("i15b-podman-push").label("engine", "podman");
    load_into_podman(&spec).unwrap();
    let image = podman_image_name(&spec);
    let target = format!("{}/i15b-podman-pushed:v1", dest.addr());
    let world = World::new();
    let out = world
        .atomic()
        .args([
            "push",
            "--storage",
            "podman",
            "--tls-verify=false",
            &image,
            &target,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The registry's image has podman's image (its config) inside.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]);
    assert!(raw.status.success());
    let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let id = Kind::Podman.output(&["image", "inspect", "--format", "{{.Id}}", &image]);
    assert_eq!(
        manifest["config"]["digest"],
        format!("sha256:{}", id.trim())
    );
}

#[test]
fn docker_push_round_trip() {
    if !Kind::Docker.usable() {
        return;
    }
    let dest = PrivateRegistry::start(&PrivateRegistryConfig::default()).unwrap();
    let spec = ImageSpec::new("i15b-docker-push").label("engine", "docker");
    atomic_testsupport::load_into_docker(&spec).unwrap();
    let target = format!("{}/i15b-docker-pushed:v1", dest.addr());
    let world = World::new();
    // The daemon has its own TLS settings: atomic's flag is refused, not ignored.
    let out = world
        .atomic()
        .args([
            "push",
            "--storage",
            "docker",
            "--tls-verify=false",
            &spec.reference(),
            &target,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--tls-verify"), "{}", stderr(&out));
    // Docker reaches loopback registries over plain http by itself.
    let out = world
        .atomic()
        .args(["push", "--storage", "docker", &spec.reference(), &target])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]);
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let id = Kind::Docker.output(&["image", "inspect", "--format", "{{.Id}}", &spec.reference()]);
    assert_eq!(manifest["config"]["digest"], id.trim());
    Kind::Docker.remove_image(&target);
}

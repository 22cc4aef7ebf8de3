//! `mount`/`unmount` and `images verify` on the native store, and layer sharing between
//! images. Mounting needs root: those tests skip with a reason
//! otherwise.

mod common;

use std::path::{Path, PathBuf};

use atomic_testsupport::{ImageSpec, LayerSpec};
use common::native::{is_root, layer_dirs, layer_with, ok, pull_oci, run};
use common::{World, stderr, stdout};

/// A base layer with `/etc/motd` and `/etc/gone`, and a second layer that adds `/added` and
/// deletes `/etc/gone` (a whiteout).
fn two_layers(name: &str) -> ImageSpec {
    ImageSpec::new(name)
        .file("/etc/motd", b"hello from the base\n".to_vec(), 0o644)
        .file("/etc/gone", b"deleted above\n".to_vec(), 0o644)
        .layer(
            LayerSpec::new()
                .file("/added", b"from layer two\n".to_vec(), 0o755)
                .delete("/etc/gone"),
        )
}

/// Unmounts on drop, so a failed assertion leaves no mount behind.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn mounted(path: &Path) -> bool {
    let canonical = path.canonicalize().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(canonical.to_str().unwrap()))
}

#[test]
fn mount_shows_the_image_read_only_with_deletions_hidden() {
    if !is_root() {
        eprintln!("SKIP: mounting needs root");
        return;
    }
    let world = World::new();
    let image = pull_oci(&world, &two_layers("atomic-nt-mount"));
    let dir = world.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    ok(&world, &["mount", &image.name, dir.to_str().unwrap()]);
    let guard = Mounted(dir.clone());
    assert!(mounted(&dir));

    assert_eq!(
        std::fs::read_to_string(dir.join("etc/motd")).unwrap(),
        "hello from the base\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("added")).unwrap(),
        "from layer two\n"
    );
    assert!(dir.join("bin/busybox").exists());
    assert!(
        !dir.join("etc/gone").exists(),
        "a file deleted in an upper layer must be hidden"
    );
    let err = std::fs::write(dir.join("etc/motd"), "changed").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(30), "EROFS expected, got {err}");
    let err = std::fs::write(dir.join("new-file"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(30), "EROFS expected, got {err}");

    // A mounted image's layers survive its deletion and a prune: the mount must not change.
    ok(
        &world,
        &["images", "delete", "-y", "--storage", "native", &image.name],
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/motd")).unwrap(),
        "hello from the base\n"
    );

    ok(&world, &["unmount", dir.to_str().unwrap()]);
    assert!(!mounted(&dir));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "the mount point is empty again"
    );
    drop(guard);
    // Unmounted, the layers of the deleted image are collected by the next prune.
    ok(&world, &["images", "prune", "--storage", "native"]);
    assert!(layer_dirs(&world).is_empty());
}

#[test]
fn a_one_layer_image_mounts_too() {
    if !is_root() {
        eprintln!("SKIP: mounting needs root");
        return;
    }
    let world = World::new();
    let image = pull_oci(
        &world,
        &ImageSpec::new("atomic-nt-mount1").file("/etc/motd", b"one\n".to_vec(), 0o644),
    );
    let dir = world.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    ok(
        &world,
        &[
            "mount",
            "--storage",
            "native",
            &image.name,
            dir.to_str().unwrap(),
        ],
    );
    let _guard = Mounted(dir.clone());
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/motd")).unwrap(),
        "one\n"
    );
    let err = std::fs::write(dir.join("x"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(30), "EROFS expected, got {err}");
    // `umount` is the original's alias.
    ok(&world, &["umount", dir.to_str().unwrap()]);
    assert!(!mounted(&dir));
}

#[test]
fn mount_and_unmount_refuse_what_they_cannot_do() {
    let world = World::new();
    let image = pull_oci(&world, &ImageSpec::new("atomic-nt-refuse"));
    let busy = world.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("file"), "x").unwrap();
    let empty = world.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (busy, empty) = (busy.to_str().unwrap(), empty.to_str().unwrap());
    let cases: [(&[&str], &str); 6] = [
        (
            &["mount", &image.name, busy],
            "The destination path is not empty",
        ),
        (
            &["mount", "-o", "rw", &image.name, empty],
            "does not support writeable mounts",
        ),
        (&["mount", "--live", &image.name, empty], "is an image"),
        (
            &["mount", "--storage", "docker", &image.name, empty],
            "not found in storage 'docker'",
        ),
        (
            &["mount", "atomic-nt-missing", empty],
            "'atomic-nt-missing' not found in",
        ),
        (&["unmount", empty], "is not an image mounted by atomic"),
    ];
    for (args, message) in cases {
        let out = run(&world, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    // A mount that is not atomic's is not touched either.
    let out = run(&world, &["unmount", "/proc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not an image mounted by atomic"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn verify_passes_on_a_fresh_image_and_names_modified_files() {
    let world = World::new();
    let image = pull_oci(&world, &two_layers("atomic-nt-verify"));
    let out = ok(&world, &["images", "verify", &image.name]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("{} (image ID {})", image.name, image.short_id())
    );
    assert_eq!(
        lines.iter().filter(|l| l.ends_with("  OK")).count(),
        6,
        "{out}"
    );
    assert!(out.contains("layer 2/2"), "{out}");
    // The hidden top-level form.
    ok(&world, &["verify", &image.name]);

    let base = layer_with(&world, "etc/motd");
    std::fs::write(base.join("etc/motd"), "hello from the bose\n").unwrap();
    std::fs::write(base.join("etc/planted"), "x").unwrap();
    let out = run(&world, &["images", "verify", &image.name]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("layer 1/2") && text.contains("MODIFIED (2 change(s))"),
        "{text}"
    );
    assert!(text.contains("/etc/motd: content changed"), "{text}");
    assert!(text.contains("/etc/planted: added"), "{text}");
    assert!(
        stderr(&out).contains("does not match what was pulled"),
        "{}",
        stderr(&out)
    );

    // The whiteout of the second layer is checked too.
    let top = layer_with(&world, "added");
    if is_root() {
        std::fs::remove_file(top.join("etc/gone")).unwrap();
        let text = stdout(&run(&world, &["images", "verify", &image.name]));
        assert!(text.contains("/etc/gone: missing"), "{text}");
    }
}

#[test]
fn verify_reports_missing_blobs_and_layers() {
    let world = World::new();
    let image = pull_oci(&world, &two_layers("atomic-nt-blobs"));
    let blobs = world.store_root().join("blobs/sha256");
    let layout = world.path().join("layouts/atomic-nt-blobs");
    // The layer blobs are the layout's gzip blobs: find the top one through the manifest.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_hex = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blobs.join(&manifest_hex)).unwrap()).unwrap();
    let top_blob = manifest["layers"][1]["digest"].as_str().unwrap()[7..].to_string();

    std::fs::remove_file(blobs.join(&top_blob)).unwrap();
    let out = run(&world, &["images", "verify", &image.name]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("layer blob  sha256:{}  MISSING", &top_blob[..12])),
        "{text}"
    );
    assert!(text.contains("UNVERIFIED: its blob is missing"), "{text}");

    let base = layer_with(&world, "etc/motd");
    std::fs::remove_dir_all(&base).unwrap();
    let text = stdout(&run(&world, &["images", "verify", &image.name]));
    assert!(text.contains("MISSING (its directory is gone)"), "{text}");

    // Even without its manifest the image is found by name, and the loss reported.
    std::fs::remove_file(blobs.join(&manifest_hex)).unwrap();
    let out = run(&world, &["images", "verify", &image.name]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "manifest    sha256:{}  MISSING",
            &manifest_hex[..12]
        )),
        "{text}"
    );
}

#[test]
fn verify_all_and_its_refusals() {
    let world = World::new();
    let out = run(&world, &["images", "verify", "--all"]);
    assert!(stderr(&out).contains("is empty"), "{}", stderr(&out));
    pull_oci(&world, &ImageSpec::new("atomic-nt-va"));
    pull_oci(&world, &ImageSpec::new("atomic-nt-vb").label("B", "b"));
    let out = ok(&world, &["images", "verify", "--all"]);
    assert!(
        out.contains("localhost/atomic-nt-va:latest")
            && out.contains("localhost/atomic-nt-vb:latest"),
        "{out}"
    );
    // Docker's images are checked against their registry; one it lacks is not found.
    let out = run(
        &world,
        &["images", "verify", "--storage", "docker", "atomic-nt-none"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not found in storage 'docker'"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &world,
        &["images", "verify", "--all", "--storage", "docker"],
    );
    assert!(
        stderr(&out).contains("--all verifies the native store"),
        "{}",
        stderr(&out)
    );
    let out = run(&world, &["images", "verify", "atomic-nt-none"]);
    assert!(
        stderr(&out).contains("not found in storage 'native'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_second_image_sharing_the_base_layer_adds_only_its_own() {
    let world = World::new();
    let base = ImageSpec::new("atomic-nt-base").file("/etc/motd", b"shared\n".to_vec(), 0o644);
    pull_oci(&world, &base);
    assert_eq!(layer_dirs(&world).len(), 1);
    // Same base layer (same files), one more layer on top, different name and labels.
    let derived = ImageSpec {
        name: "atomic-nt-derived".to_string(),
        ..base.clone()
    }
    .label("Derived", "yes")
    .layer(LayerSpec::new().file("/app", b"app\n".to_vec(), 0o755));
    let image = pull_oci(&world, &derived);
    assert_eq!(
        layer_dirs(&world).len(),
        2,
        "only the new top layer is stored"
    );
    ok(&world, &["images", "verify", &image.name]);
    // Deleting the base image keeps the layer the derived one still needs.
    ok(
        &world,
        &[
            "images",
            "delete",
            "-y",
            "--storage",
            "native",
            "atomic-nt-base",
        ],
    );
    assert_eq!(layer_dirs(&world).len(), 2);
    ok(&world, &["images", "verify", &image.name]);
}

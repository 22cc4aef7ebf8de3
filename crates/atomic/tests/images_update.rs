//! `atomic images update` and `images verify` against a registry on 127.0.0.1, on Docker,
//! Podman and native: a newer version is pulled and reported, an image that exists only here is
//! kept, `-f` removes the containers of the old version, `--all` takes registry names only.

mod common;

use atomic_testsupport::{ImageSpec, Registry};
use common::{Containers, Kind, World, images, stderr, stdout};

fn version(v: &str) -> ImageSpec {
    ImageSpec::new("x")
        .label("Version", v)
        .cmd(["/bin/sleep", "300"])
}

/// Images removed from the engine at the end, by name or ID.
struct Cleanup(Kind, Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for image in &self.1 {
            self.0.remove_image(image);
        }
    }
}

/// A repository of this test's own in the registry, holding version 1: the registry, the
/// repository's `NAME:TAG` in it, and the full reference.
fn pushed(kind: Kind) -> (Registry, String, String, Cleanup) {
    let registry = Registry::ensure().expect("registry on 127.0.0.1:5000");
    let repo_tag = format!(
        "{}:latest",
        common::unique(&format!("i19-update-{}", kind.as_str()))
    );
    registry.push(&version("1"), &repo_tag).expect("push");
    let reference = registry.reference(&repo_tag);
    let cleanup = Cleanup(kind, vec![reference.clone()]);
    (registry, repo_tag, reference, cleanup)
}

fn image_id(kind: Kind, world: &World, reference: &str) -> String {
    let out = world
        .on(kind, &["info", "--json"], &[reference])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["id"].as_str().unwrap_or_default().to_string()
}

fn verify_args(kind: Kind) -> &'static [&'static str] {
    match kind {
        // The native store checks its files too; --remote adds the registry.
        Kind::Native => &["images", "verify", "--remote"],
        _ => &["images", "verify"],
    }
}

fn update_pulls_newer_versions_and_says_so(kind: Kind) {
    let (registry, repo_tag, reference, mut cleanup) = pushed(kind);
    let world = World::new();
    let out = world.on(kind, &["pull"], &[&reference]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Left without a name by the update: removed by ID.
    cleanup.1.push(image_id(kind, &world, &reference));

    let out = world
        .on(kind, verify_args(kind), &[&reference])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("up to date"), "{}", stdout(&out));
    let out = world
        .on(kind, &["images", "update"], &[&reference])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with(&reference) && l.ends_with("Up to date")),
        "{}",
        stdout(&out)
    );

    let mut containers = Containers::new(kind);
    let old = containers.name("i19-update-old");
    kind.output(&["create", "--name", &old, &reference]);
    registry.push(&version("2"), &repo_tag).expect("push v2");

    let out = world
        .on(kind, verify_args(kind), &[&reference])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("newer version available"),
        "{}",
        stdout(&out)
    );

    let out = world
        .on(kind, &["images", "update", "-f"], &[&reference])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&reference) && l.ends_with("Updated")),
        "{text}"
    );
    assert!(text.contains(&format!("Removed container {old}")), "{text}");
    assert!(!kind.container_exists(&old));
    let out = world.on(kind, &["info"], &[&reference]).output().unwrap();
    assert!(stdout(&out).contains("Version: 2"), "{}", stdout(&out));
}

/// Regression guard: the original force-deleted an image it could not find in a registry.
fn a_local_only_image_is_kept(kind: Kind) {
    images::plain(kind);
    Registry::ensure().expect("registry");
    let world = World::new();
    let out = world
        .on(kind, &["images", "update"], &["atomic-test-plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).lines().any(|l| l.ends_with("Could not pull")),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("the local image is kept"),
        "{}",
        stderr(&out)
    );
    assert!(kind.image_exists("atomic-test-plain"));
}

on_every_engine!(
    update_pulls_newer_versions_and_says_so,
    a_local_only_image_is_kept
);

/// `--all` on a store of the test's own: the registry image is checked, the local one skipped.
#[test]
fn update_all_takes_images_with_a_registry_name() {
    if !Kind::Native.usable() {
        return;
    }
    let (registry, repo_tag, reference, _cleanup) = pushed(Kind::Native);
    let world = World::new();
    let pull = |source: &str| {
        let out = world
            .atomic()
            .args(["pull", "--storage", "native", source])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    pull(&reference);
    let layouts = tempfile::tempdir().unwrap();
    let local = ImageSpec::new("i19-local-only");
    let dir = layouts.path().join("i19-local-only");
    atomic_testsupport::write_oci_layout(&local, &dir).unwrap();
    pull(&format!("oci:{}:latest", dir.display()));
    registry.push(&version("2"), &repo_tag).expect("push v2");

    let out = world
        .atomic()
        .args(["update", "--all", "--storage", "ostree"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "SUMMARY")
        .skip(2)
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(
        rows[0].starts_with(&reference) && rows[0].ends_with("Updated"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("i19-local-only:latest not fully qualified: skipping"),
        "{}",
        stderr(&out)
    );
}

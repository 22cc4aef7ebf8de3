//! Faults on the native store, through the binary: pulls killed at many points, pulls of the
//! same image at once, and a prune racing a pull. After each, the store must verify and the
//! next pull must succeed, with one copy of everything.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atomic_testsupport::{ImageSpec, LayerSpec, Registry};
use common::{World, stderr, stdout};

/// A 5-layer image with incompressible data (~12 MB of layers), so that a pull takes long
/// enough for kills to land at different stages: downloading, unpacking, committing.
fn big_image(registry: &Registry, what: &str) -> String {
    let mut spec = ImageSpec::new("faults").label("Faults", "yes");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for layer in 0..4 {
        let mut data = vec![0u8; 3 << 20];
        for b in data.iter_mut() {
            // xorshift: random enough that gzip cannot shrink it, no dependency needed.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        spec = spec.layer(
            LayerSpec::new()
                .file(format!("/data/layer{layer}.bin"), data, 0o644)
                .file(
                    format!("/data/layer{layer}.txt"),
                    "text\n".repeat(50_000),
                    0o644,
                ),
        );
    }
    let repo = common::unique(&format!("atomic-faults-{what}"));
    registry.push(&spec, &format!("{repo}:v1")).expect("push");
    registry.reference(&format!("{repo}:v1"))
}

fn atomic(root: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("atomic"));
    cmd.env("ATOMIC_STORE_ROOT", root)
        .env_remove("ATOMIC_STORAGE")
        .stdin(Stdio::null());
    cmd
}

fn pull(root: &Path, reference: &str) -> Child {
    atomic(root)
        .args([
            "pull",
            "--storage",
            "native",
            "--tls-verify=false",
            "-q",
            reference,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn atomic pull")
}

/// `images verify` passes, the image is listed once, and no temporary data is left over.
fn assert_store_sound(world: &World, root: &Path, reference: &str) {
    let out = world
        .atomic()
        .env("ATOMIC_STORE_ROOT", root)
        .args(["images", "verify", "--storage", "native", reference])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = world
        .atomic()
        .env("ATOMIC_STORE_ROOT", root)
        .args(["images", "list", "--storage", "native", "-q", "--no-trunc"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    let layers = std::fs::read_dir(root.join("layers"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(layers, 5, "one directory per layer");
    let tmp: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "tmp/ not cleaned: {tmp:?}");
}

#[test]
fn killed_pulls_never_corrupt_the_store() {
    let registry = Registry::ensure().expect("registry on 127.0.0.1:5000");
    let reference = big_image(&registry, "kill");
    let world = World::new();

    // How long a whole pull takes, to spread the kills over it.
    let timing_root = world.path().join("timing");
    let started = Instant::now();
    let out = pull(&timing_root, &reference).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let full = started.elapsed();

    let root = world.path().join("store");
    let kills = 10u32;
    for i in 0..kills {
        // Kill points from 5% to 95% of a full pull, in a shuffled order, so later kills
        // land on a store that earlier ones left half-filled.
        let at = full.mul_f64(0.05 + 0.9 * f64::from((i * 7) % kills) / f64::from(kills));
        let mut child = pull(&root, &reference);
        std::thread::sleep(at);
        let _ = child.kill(); // SIGKILL; the pull may already have finished
        child.wait().unwrap();
    }
    let out = pull(&root, &reference).wait_with_output().unwrap();
    assert!(out.status.success(), "pull after kills: {}", stderr(&out));
    assert_store_sound(&world, &root, &reference);
}

#[test]
fn concurrent_pulls_of_one_image_store_one_copy() {
    let registry = Registry::ensure().expect("registry on 127.0.0.1:5000");
    let reference = big_image(&registry, "concurrent");
    let world = World::new();
    let root = world.path().join("store");
    let children: Vec<Child> = (0..3).map(|_| pull(&root, &reference)).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_store_sound(&world, &root, &reference);
}

#[test]
fn prune_during_a_pull_takes_nothing_the_pull_needs() {
    let registry = Registry::ensure().expect("registry on 127.0.0.1:5000");
    let reference = big_image(&registry, "prune");
    let world = World::new();
    let root = world.path().join("store");
    let mut puller = pull(&root, &reference);
    let deadline = Instant::now() + Duration::from_secs(60);
    while puller.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "pull did not finish");
        let out = world
            .atomic()
            .env("ATOMIC_STORE_ROOT", &root)
            .args(["images", "prune", "--storage", "native"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = puller.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_store_sound(&world, &root, &reference);
}

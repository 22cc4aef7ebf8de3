//! Pulling through the engine, explicitly and when `run`/`install` find the image missing, from
//! a registry on 127.0.0.1 started by the test support.

mod common;

use atomic_testsupport::{ImageSpec, Registry};
use common::{Kind, World, stderr, stdout};

/// A repository no engine has yet: unique per test and engine.
fn fresh_image(kind: Kind, what: &str, spec: ImageSpec) -> (String, impl Drop) {
    let registry = Registry::ensure().expect("registry on 127.0.0.1:5000");
    let repo = common::unique(&format!("atomic-{what}-{}", kind.as_str()));
    let reference = registry.reference(&format!("{repo}:v1"));
    registry.push(&spec, &format!("{repo}:v1")).expect("push");
    struct Cleanup(Kind, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            self.0.remove_image(&self.1);
        }
    }
    (reference.clone(), Cleanup(kind, reference))
}

fn pull_puts_the_image_in_the_engine(kind: Kind) {
    let (reference, _cleanup) =
        fresh_image(kind, "pull", ImageSpec::new("x").label("Pulled", "yes"));
    let world = World::new();
    assert!(!kind.image_exists(&reference));
    let out = world.on(kind, &["pull"], &[&reference]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(kind.image_exists(&reference));
    let out = world.on(kind, &["info"], &[&reference]).output().unwrap();
    assert!(
        stdout(&out).contains("Pulled: yes"),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
}

fn run_pulls_a_missing_image(kind: Kind) {
    let spec =
        ImageSpec::new("x").label("RUN", "docker run --rm IMAGE /bin/echo pulled and ran NAME");
    let (reference, _cleanup) = fresh_image(kind, "runpull", spec);
    let world = World::new();
    let out = world.on(kind, &["run"], &[&reference]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("Need to pull {reference}")),
        "{}",
        stderr(&out)
    );
    let name = atomic_label_default_name(&reference);
    assert!(
        stdout(&out).contains(&format!("pulled and ran {name}")),
        "{}",
        stdout(&out)
    );
}

fn install_pulls_a_missing_image(kind: Kind) {
    let spec = ImageSpec::new("x").label("INSTALL", "docker run --rm IMAGE /bin/echo installed");
    let (reference, _cleanup) = fresh_image(kind, "installpull", spec);
    let world = World::new();
    let out = world
        .on(kind, &["install"], &[&reference])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("installed"), "{}", stdout(&out));
    let record = std::fs::read_to_string(world.install_json()).unwrap();
    assert!(record.contains(&reference), "{record}");
}

fn pulling_what_does_not_exist_fails_clearly(kind: Kind) {
    Registry::ensure().expect("registry");
    let world = World::new();
    let out = world
        .on(kind, &["pull"], &["127.0.0.1:5000/atomic-no-such-repo:v1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("atomic-no-such-repo"),
        "{}",
        stderr(&out)
    );
}

/// The default NAME: the last path component without its tag.
fn atomic_label_default_name(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap();
    last.split(':').next().unwrap().to_string()
}

on_both_engines!(
    pull_puts_the_image_in_the_engine,
    run_pulls_a_missing_image,
    install_pulls_a_missing_image,
    pulling_what_does_not_exist_fails_clearly,
);

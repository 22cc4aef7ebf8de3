//! Helpers for tests of the native store: images written as OCI layouts by the test support
//! and pulled into the world's own store, and looks at the store's directories.

use std::path::PathBuf;
use std::process::Output;

use atomic_testsupport::{ImageSpec, write_oci_layout};

use super::{World, stderr, stdout};

/// An image in the world's native store.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The name the store gave it: `localhost/<layout dir>:<tag>`.
    pub name: String,
    /// The full image ID (64 hex digits).
    pub id: String,
    /// `oci:DIR:TAG`, to pull it again.
    pub source: String,
}

impl Stored {
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

/// Write `spec` as an OCI layout named after the image (so the store calls it
/// `localhost/NAME:TAG`) and pull it into the world's store.
pub fn pull_oci(world: &World, spec: &ImageSpec) -> Stored {
    let dir = world.path().join("layouts").join(&spec.name);
    let image = write_oci_layout(spec, &dir).expect("writing an OCI layout");
    let source = format!("oci:{}:{}", dir.display(), spec.tag);
    let out = run(world, &["pull", "-q", &source]);
    assert!(out.status.success(), "pull {source}: {}", stderr(&out));
    Stored {
        name: format!("localhost/{}:{}", spec.name, spec.tag),
        id: image.id.hex().to_string(),
        source,
    }
}

/// `atomic ARGS…` in the world, with a fixed time zone so CREATED reads the same everywhere.
pub fn run(world: &World, args: &[&str]) -> Output {
    world
        .atomic()
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("atomic runs")
}

/// Like [`run`], asserting success; returns stdout.
pub fn ok(world: &World, args: &[&str]) -> String {
    succeeded(args, run(world, args))
}

/// The stdout of `atomic ARGS…`, which must have succeeded.
pub fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "atomic {args:?} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// The unpacked layer directories in the store (`ROOT/layers/<hex>/`).
pub fn layer_dirs(world: &World) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(world.store_root().join("layers")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The layer directory that holds `path` (relative, e.g. `etc/motd`).
pub fn layer_with(world: &World, path: &str) -> PathBuf {
    layer_dirs(world)
        .into_iter()
        .find(|d| d.join(path).symlink_metadata().is_ok())
        .unwrap_or_else(|| panic!("no layer holds {path}"))
}

/// Whether this process runs as root (mounts and whiteouts need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A docker command line carried out by the native engine (atomic's hidden verb for it).
pub fn docker(world: &World, args: &[&str]) -> Output {
    let mut all = vec!["native-docker", "docker"];
    all.extend(args);
    run(world, &all)
}

/// [`docker`], which must succeed; its stdout.
pub fn docker_ok(world: &World, args: &[&str]) -> String {
    let out = docker(world, args);
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

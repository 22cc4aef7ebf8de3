//! Shared support for the black-box tests: the images (built from busybox-static, loaded into the
//! real engines), an `atomic` command with an isolated environment, and per-engine test
//! generation.
//!
//! Every test passes `--storage` because the test images exist in both engines (one test checks
//! that leaving it out is refused as ambiguous).

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod images;
pub mod native;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use atomic_testsupport as support;

/// The engines the label suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Docker,
    Podman,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Docker => "docker",
            Kind::Podman => "podman",
        }
    }

    /// The engine's own CLI, for setting up and checking state behind atomic's back.
    pub fn cli(self) -> Command {
        match self {
            Kind::Docker => Command::new("docker"),
            Kind::Podman => support::podman_command(),
        }
    }

    /// Is the engine usable? When it is not, the test is skipped with a reason — unless
    /// `ATOMIC_TEST_REQUIRE_ENGINES=1` (set by scripts/test.sh), where a missing engine is a
    /// failure, so CI cannot pass by skipping everything.
    pub fn usable(self) -> bool {
        let ok = match self {
            Kind::Docker => support::docker_available(),
            Kind::Podman => support::podman_available(),
        };
        if !ok {
            if std::env::var("ATOMIC_TEST_REQUIRE_ENGINES").as_deref() == Ok("1") {
                panic!(
                    "{} is required (ATOMIC_TEST_REQUIRE_ENGINES=1) but not usable",
                    self.as_str()
                );
            }
            eprintln!("SKIP: {} is not usable on this machine", self.as_str());
        }
        ok
    }

    /// Make sure the engine has this image.
    pub fn load(self, spec: &support::ImageSpec) {
        match self {
            Kind::Docker => support::load_into_docker(spec),
            Kind::Podman => support::load_into_podman(spec),
        }
        .unwrap_or_else(|e| panic!("loading {} into {}: {e:#}", spec.name, self.as_str()));
    }

    /// Run the engine's CLI and return its stdout (panics on failure).
    pub fn output(self, args: &[&str]) -> String {
        let out = self.cli().args(args).output().expect("engine CLI runs");
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}",
            self.as_str(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Does a container of this name exist?
    pub fn container_exists(self, name: &str) -> bool {
        self.cli()
            .args(["container", "inspect", name])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// The state word of a container (`running`, `exited`, …).
    pub fn container_state(self, name: &str) -> String {
        self.output(&[
            "container",
            "inspect",
            "--format",
            "{{.State.Status}}",
            name,
        ])
        .trim()
        .to_string()
    }

    /// Remove an image if it exists.
    pub fn remove_image(self, name: &str) {
        let _ = self.cli().args(["rmi", "-f", name]).output();
    }

    /// Does the engine hold this image?
    pub fn image_exists(self, name: &str) -> bool {
        self.cli()
            .args(["image", "inspect", name])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Remove a container if it exists.
    pub fn remove_container(self, name: &str) {
        let _ = self.cli().args(["rm", "-f", name]).output();
    }
}

/// Removes its containers when dropped, so a failed test leaves nothing behind.
pub struct Containers {
    kind: Kind,
    names: Vec<String>,
}

impl Containers {
    pub fn new(kind: Kind) -> Self {
        Containers {
            kind,
            names: Vec::new(),
        }
    }

    /// A fresh, unique, valid container name to clean up later.
    pub fn name(&mut self, prefix: &str) -> String {
        let name = unique(prefix);
        self.names.push(name.clone());
        name
    }

    /// Take care of a name chosen elsewhere.
    pub fn adopt(&mut self, name: &str) {
        self.names.push(name.to_string());
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.names {
            self.kind.remove_container(name);
        }
    }
}

/// A name unique to this process and call.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// An isolated world for one test: its own install.json, an empty atomic.conf, a working
/// directory of its own, and its own native image store (`store/`, created by the first pull
/// into it).
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        World {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn install_json(&self) -> PathBuf {
        self.path().join("install.json")
    }

    pub fn conf(&self) -> PathBuf {
        self.path().join("atomic.conf")
    }

    /// The root of this world's native store (`ATOMIC_STORE_ROOT`).
    pub fn store_root(&self) -> PathBuf {
        self.path().join("store")
    }

    /// `atomic` with this world's environment.
    pub fn atomic(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("atomic").expect("atomic binary");
        cmd.current_dir(self.path())
            .env("ATOMIC_CONF", self.conf())
            .env("ATOMIC_INSTALL_JSON", self.install_json())
            .env("ATOMIC_STORE_ROOT", self.store_root())
            .env("CONTAINERS_CONF", support::containers_conf())
            .env("CONTAINERS_REGISTRIES_CONF", support::registries_conf())
            .env_remove("ATOMIC_STORAGE")
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID");
        cmd
    }

    /// `atomic VERB --storage ENGINE ARGS…`
    pub fn on(&self, kind: Kind, verb: &[&str], args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.atomic();
        cmd.args(verb).args(["--storage", kind.as_str()]).args(args);
        cmd
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// stdout of a finished assert_cmd run, as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Generate `mod docker` and `mod podman`, each with one `#[test]` per listed function
/// `fn NAME(kind: Kind)`, skipped (with a reason) when the engine is not usable.
#[macro_export]
macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        mod docker {
            $(
                #[test]
                fn $test() {
                    if $crate::common::Kind::Docker.usable() {
                        super::$test($crate::common::Kind::Docker);
                    }
                }
            )*
        }
        mod podman {
            $(
                #[test]
                fn $test() {
                    if $crate::common::Kind::Podman.usable() {
                        super::$test($crate::common::Kind::Podman);
                    }
                }
            )*
        }
    };
}

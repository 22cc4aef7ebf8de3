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
    /// atomic's own engine (image store + runc), with one store shared by the suite's tests
    /// ([`native_suite_root`]), as Docker's and Podman's storage is.
    Native,
}

/// The native store the label suite's tests share (a test's own [`World`] store is for tests
/// of the store itself).
pub fn native_suite_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("native-suite-store")
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Docker => "docker",
            Kind::Podman => "podman",
            Kind::Native => "native",
        }
    }

    /// The program atomic shows in label commands: the engine's CLI, or `docker` on the native
    /// engine (labels are written in docker's terms, and atomic reads them itself).
    pub fn program(self) -> &'static str {
        match self {
            Kind::Docker | Kind::Native => "docker",
            Kind::Podman => "podman",
        }
    }

    /// The engine's own CLI, for setting up and checking state behind atomic's back.
    pub fn cli(self) -> Command {
        match self {
            Kind::Docker => Command::new("docker"),
            Kind::Podman => support::podman_command(),
            // The docker command line as the native engine carries it out for labels.
            Kind::Native => {
                let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("atomic"));
                cmd.env("ATOMIC_STORE_ROOT", native_suite_root())
                    .env("ATOMIC_CONF", "/nonexistent/atomic.conf")
                    .args(["native-docker", "docker"]);
                cmd
            }
        }
    }

    /// Is the engine usable? When it is not, the test is skipped with a reason — unless
    /// `ATOMIC_TEST_REQUIRE_ENGINES=1` (set by scripts/test.sh), where a missing engine is a
    /// failure, so CI cannot pass by skipping everything.
    pub fn usable(self) -> bool {
        let ok = match self {
            Kind::Docker => support::docker_available(),
            Kind::Podman => support::podman_available(),
            Kind::Native => runc_available(),
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
            Kind::Native => load_into_native(spec),
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
        let _ = match self {
            Kind::Native => native_atomic(&["images", "delete", "-f", "-y", name]).output(),
            _ => self.cli().args(["rmi", "-f", name]).output(),
        };
    }

    /// Does the engine hold this image?
    pub fn image_exists(self, name: &str) -> bool {
        let mut cmd = match self {
            Kind::Native => native_atomic(&["info", name]),
            _ => {
                let mut cmd = self.cli();
                cmd.args(["image", "inspect", name]);
                cmd
            }
        };
        cmd.output().map(|o| o.status.success()).unwrap_or(false)
    }

    /// Remove a container if it exists.
    pub fn remove_container(self, name: &str) {
        let _ = self.cli().args(["rm", "-f", name]).output();
    }
}

/// `atomic ARGS… --storage native` on the suite's shared native store.
fn native_atomic(args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("atomic"));
    cmd.env("ATOMIC_STORE_ROOT", native_suite_root())
        .env("ATOMIC_CONF", "/nonexistent/atomic.conf")
        .args(args)
        .args(["--storage", "native"]);
    cmd
}

/// runc is what the native engine needs (and root, for its mounts).
fn runc_available() -> bool {
    rustix::process::geteuid().is_root()
        && Command::new("runc")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Pull `spec` into the shared native store as `localhost/NAME:TAG`, once per test process.
fn load_into_native(spec: &support::ImageSpec) -> anyhow::Result<()> {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static LOADED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let key = format!("{}:{}", spec.name, spec.tag);
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if loaded.get_or_insert_with(HashSet::new).contains(&key) {
        return Ok(());
    }
    let layouts = tempfile::tempdir()?;
    let dir = layouts.path().join(&spec.name);
    support::write_oci_layout(spec, &dir)?;
    let source = format!("oci:{}:{}", dir.display(), spec.tag);
    let out = native_atomic(&["pull", "-q", &source]).output()?;
    anyhow::ensure!(
        out.status.success(),
        "atomic pull {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    loaded.as_mut().expect("initialised above").insert(key);
    Ok(())
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

/// An isolated world for one test: its own install.json, an atomic.conf that gives its
/// default network a subnet of its own, a working directory of its own, and its own native
/// image store (`store/`, created by the first pull into it).
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let world = World {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        // Tests run at once, each with a store of its own; two stores' default networks on one
        // subnet would overlap (atomic refuses that). Each world has its own /24 in 10.100/12
        // (apart from the default 10.90/16 and native_network's 10.96.N/24); a test that
        // writes its own atomic.conf chooses for itself.
        static WORLDS: AtomicUsize = AtomicUsize::new(0);
        let n = (std::process::id() as usize * 61 + WORLDS.fetch_add(1, Ordering::SeqCst)) % 4096;
        std::fs::write(
            world.conf(),
            format!(
                "default_network_subnet: 10.{}.{}.0/24\n",
                100 + n / 256,
                n % 256
            ),
        )
        .expect("writing the world's atomic.conf");
        world
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

    /// `atomic VERB --storage ENGINE ARGS…` (native: on the suite's shared store)
    pub fn on(&self, kind: Kind, verb: &[&str], args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.atomic();
        if kind == Kind::Native {
            cmd.env("ATOMIC_STORE_ROOT", native_suite_root());
        }
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

/// Held by every test that uses podman, so a test binary's podman tests take turns. Podman
/// 4.3 (Debian 12) loses updates to its image store when several podman processes write it at
/// once: of ten `podman tag` run in parallel, five tags survive, and an image just pulled can
/// vanish while another test removes its own. CI failed on that ("not found in storage
/// 'podman'" right after a successful pull); atomic cannot mend podman's store from outside.
pub fn podman_alone() -> std::sync::MutexGuard<'static, ()> {
    static PODMAN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    PODMAN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Generate `mod docker`, `mod podman` and `mod native`, each with one `#[test]` per listed
/// function `fn NAME(kind: Kind)`, skipped (with a reason) when the engine is not usable.
#[macro_export]
macro_rules! on_every_engine {
    ($($test:ident),* $(,)?) => {
        $crate::on_both_engines!($($test),*);
        mod native {
            $(
                #[test]
                fn $test() {
                    if $crate::common::Kind::Native.usable() {
                        super::$test($crate::common::Kind::Native);
                    }
                }
            )*
        }
    };
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
                    let _alone = $crate::common::podman_alone();
                    if $crate::common::Kind::Podman.usable() {
                        super::$test($crate::common::Kind::Podman);
                    }
                }
            )*
        }
    };
}

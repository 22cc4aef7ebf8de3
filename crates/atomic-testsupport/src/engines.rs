//! Docker and Podman: finding out whether they work here, and loading test images into them.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{ImageId, ImageSpec, image_id, write_docker_archive};

/// The repository root, found from this crate's manifest dir (crates/atomic-testsupport).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repo's `scripts/containers.conf`: Podman settings this kind of machine needs (runc
/// instead of crun, no default ulimits above the hard limits).
pub fn containers_conf() -> PathBuf {
    repo_root().join("scripts/containers.conf")
}

/// The repo's `scripts/registries.conf`: the loopback registry is insecure, and no search
/// registries, so a short name never sends a pull to the internet.
pub fn registries_conf() -> PathBuf {
    repo_root().join("scripts/registries.conf")
}

/// `podman`, with `CONTAINERS_CONF` and `CONTAINERS_REGISTRIES_CONF` pointing at the repo's
/// files unless the caller's environment already sets them (scripts/env.sh does).
pub fn podman_command() -> Command {
    let mut cmd = Command::new("podman");
    for (var, path) in [
        ("CONTAINERS_CONF", containers_conf()),
        ("CONTAINERS_REGISTRIES_CONF", registries_conf()),
    ] {
        if std::env::var_os(var).is_none() && path.exists() {
            cmd.env(var, path);
        }
    }
    cmd
}

/// `docker` (the client first on PATH; it negotiates the API version with the daemon).
pub fn docker_command() -> Command {
    Command::new("docker")
}

/// Runs `cmd` with stdin closed, returns (success, stdout) or None when it could not be
/// started or did not finish within `timeout` (then it is killed). Output goes to a temp file
/// rather than a pipe so polling cannot deadlock on a full pipe.
pub(crate) fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Option<(bool, String)> {
    let out = tempfile::tempfile().ok()?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().ok()?)
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut out = out;
    let mut stdout = String::new();
    use std::io::{Read, Seek};
    out.rewind().ok()?;
    out.read_to_string(&mut stdout).ok()?;
    Some((status.success(), stdout))
}

/// Whether a Docker daemon answers `docker version` within a few seconds. Checked once per
/// process: tests ask often, and the answer does not change during a test run.
pub fn docker_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let mut cmd = docker_command();
        cmd.args(["version", "--format", "{{.Server.Version}}"]);
        matches!(run_with_timeout(cmd, Duration::from_secs(5)),
                 Some((true, out)) if !out.trim().is_empty())
    })
}

/// Whether Podman is installed and `podman info` works with the repo's settings. The first call
/// can take a while: Podman sets up its storage then.
pub fn podman_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let mut cmd = podman_command();
        cmd.args(["info", "--format", "{{.Host.OCIRuntime.Name}}"]);
        matches!(
            run_with_timeout(cmd, Duration::from_secs(60)),
            Some((true, _))
        )
    })
}

/// Runs `cmd` to completion; on failure the error carries its argv and the tail of its stderr,
/// which is where engines say what went wrong.
pub(crate) fn run(mut cmd: Command) -> Result<String> {
    let argv = format!("{cmd:?}");
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {argv}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{argv} failed ({}): {}", output.status, tail.join("\n"));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The ID an engine has under `reference`, or None when it has no such image.
fn engine_image_id(mut cmd: Command, reference: &str) -> Option<ImageId> {
    cmd.args(["image", "inspect", "--format", "{{.Id}}", reference])
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let output = cmd.output().ok()?;
    if !output.status.success() {
        return None;
    }
    ImageId::parse(&String::from_utf8_lossy(&output.stdout))
}

/// The name Podman gives an image loaded from a `docker save` archive: a name without a
/// registry part gets `localhost/`, as `podman load` does.
pub fn podman_image_name(spec: &ImageSpec) -> String {
    let first = spec.name.split('/').next().unwrap_or_default();
    let has_registry = spec.name.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        spec.reference()
    } else {
        format!("localhost/{}", spec.reference())
    }
}

/// Unless the engine already has the image, writes the archive to a fresh temp dir (unique per call, so concurrent loads do not share a
/// file) and runs `load`, then checks the engine now has the expected ID under `reference`.
fn load(spec: &ImageSpec, engine: &str, reference: &str, command: fn() -> Command) -> Result<()> {
    let id = image_id(spec)?;
    if engine_image_id(command(), reference).as_ref() == Some(&id) {
        return Ok(());
    }
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let archive = tmp.path().join("image.tar");
    write_docker_archive(spec, &archive)?;
    let mut cmd = command();
    cmd.arg("load").arg("-i").arg(&archive);
    run(cmd).with_context(|| format!("loading {} into {engine}", spec.reference()))?;
    match engine_image_id(command(), reference) {
        Some(found) if found == id => Ok(()),
        found => bail!(
            "after loading, {engine} has {reference} as {found:?}, expected {id} \
             (is another test loading a different image under the same name?)"
        ),
    }
}

/// Loads `spec` into Docker as `name:tag`; does nothing when Docker already has this exact
/// image under that name. Safe to call from parallel tests and processes.
pub fn load_into_docker(spec: &ImageSpec) -> Result<()> {
    load(spec, "docker", &spec.reference(), docker_command)
}

/// Loads `spec` into Podman (as [`podman_image_name`]); does nothing when Podman already has
/// this exact image under that name. Safe to call from parallel tests and processes.
pub fn load_into_podman(spec: &ImageSpec) -> Result<()> {
    load(spec, "podman", &podman_image_name(spec), podman_command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_names_get_localhost_only_without_registry() {
        let name = |n: &str| podman_image_name(&ImageSpec::new(n));
        assert_eq!(name("atomic-test-1"), "localhost/atomic-test-1:latest");
        assert_eq!(name("team/app"), "localhost/team/app:latest");
        assert_eq!(name("localhost/x"), "localhost/x:latest");
        assert_eq!(name("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
        assert_eq!(name("quay.io/a/b"), "quay.io/a/b:latest");
    }

    #[test]
    fn repo_files_exist() {
        assert!(
            containers_conf().exists(),
            "{}",
            containers_conf().display()
        );
        assert!(
            registries_conf().exists(),
            "{}",
            registries_conf().display()
        );
    }

    #[test]
    fn timeout_kills_slow_commands() {
        let mut cmd = Command::new("sleep");
        cmd.arg("10");
        let start = Instant::now();
        assert_eq!(run_with_timeout(cmd, Duration::from_millis(200)), None);
        assert!(start.elapsed() < Duration::from_secs(5));
        let mut cmd = Command::new("echo");
        cmd.arg("hi");
        assert_eq!(
            run_with_timeout(cmd, Duration::from_secs(5)),
            Some((true, "hi\n".into()))
        );
    }
}

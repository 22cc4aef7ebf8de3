//! Test support for atomic: container images built without a network, engines made ready, and
//! a booted systemd to test system containers against ([`SystemdHost`]).
//!
//! The test machine has no internet, so test images cannot be pulled. Instead they are built
//! here from busybox-static (`/bin/busybox`, a static binary that runs in any root) plus the
//! labels, command and files a test needs, written as a `docker save` archive or an OCI image
//! layout, and loaded into Docker, Podman or a loopback registry.
//!
//! Everything about an image is deterministic (fixed mtimes, sorted entries, owner 0:0), so the
//! same [`ImageSpec`] always gives the same image ID. That lets [`load_into_docker`] and
//! [`load_into_podman`] skip work when the engine already holds the image, which keeps tests
//! that run in parallel processes cheap and idempotent.
//!
//! ```no_run
//! use atomic_testsupport::{ImageSpec, load_into_podman};
//! let spec = ImageSpec::new("atomic-test-1")
//!     .label("RUN", "docker run --rm IMAGE /bin/echo hi")
//!     .cmd(["/bin/sh"]);
//! load_into_podman(&spec)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

// Test support may fail loudly, but says why: expect, not unwrap.
#![warn(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt;

mod engines;
mod image;
mod private_registry;
mod registry;
mod rootfs;
mod systemd_host;

pub use engines::{
    containers_conf, docker_available, docker_command, load_into_docker, load_into_podman,
    podman_available, podman_command, podman_image_name, registries_conf,
};
pub use image::{OciImage, image_id, write_docker_archive, write_oci_layout};
pub use private_registry::{
    PrivateRegistry, PrivateRegistryConfig, TestCerts, free_port, htpasswd,
};
pub use registry::{Registry, push_image, skopeo_copy};
pub use rootfs::{BUSYBOX_APPLETS, added_layer_tar, layer_tar, whiteout};
pub use systemd_host::{Bind, FileEntry, FileKind, SystemdHost};

/// The `PATH` every test image gets unless the spec sets its own.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An extra file to put into an image's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Absolute path inside the image, e.g. `/help.1`.
    pub path: String,
    /// The file's contents.
    pub data: Vec<u8>,
    /// Permission bits, e.g. `0o644`.
    pub mode: u32,
}

impl FileSpec {
    pub fn new(path: impl Into<String>, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        FileSpec {
            path: path.into(),
            data: data.into(),
            mode,
        }
    }
}

/// Every member of a tar file, by name: for tests that check what an archive holds.
pub fn tar_members(path: &std::path::Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    use std::io::Read;
    let mut archive = tar::Archive::new(std::fs::File::open(path)?);
    let mut out = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        out.insert(name, data);
    }
    Ok(out)
}

/// What a test image holds: its name, config and extra files. The root filesystem always has
/// busybox and a minimal `/etc` (see [`layer_tar`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Repository, e.g. `atomic-test-1` or `localhost/x`.
    pub name: String,
    /// Tag; `latest` unless set.
    pub tag: String,
    pub labels: BTreeMap<String, String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` entries; empty means just [`DEFAULT_PATH`].
    pub env: Vec<String>,
    pub files: Vec<FileSpec>,
    /// Layers on top of the base layer, in order.
    pub layers: Vec<LayerSpec>,
    /// The config's `ExposedPorts` keys (`80/tcp`); none unless set.
    pub exposed_ports: Vec<String>,
}

/// A layer added on top of an image's base layer: files to add or replace, and paths to
/// delete (written as `.wh.` whiteout entries, as image builders do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerSpec {
    pub files: Vec<FileSpec>,
    /// Absolute paths this layer deletes.
    pub deleted: Vec<String>,
}

impl LayerSpec {
    pub fn new() -> Self {
        LayerSpec::default()
    }

    pub fn file(mut self, path: impl Into<String>, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.files.push(FileSpec::new(path, data, mode));
        self
    }

    pub fn delete(mut self, path: impl Into<String>) -> Self {
        self.deleted.push(path.into());
        self
    }
}

impl ImageSpec {
    /// A spec with no labels, no command (like `FROM scratch`), and tag `latest`.
    pub fn new(name: impl Into<String>) -> Self {
        ImageSpec {
            name: name.into(),
            tag: "latest".to_string(),
            labels: BTreeMap::new(),
            cmd: None,
            entrypoint: None,
            env: Vec::new(),
            files: Vec::new(),
            layers: Vec::new(),
            exposed_ports: Vec::new(),
        }
    }

    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = tag.into();
        self
    }

    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn cmd<I, S>(mut self, cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cmd = Some(cmd.into_iter().map(Into::into).collect());
        self
    }

    pub fn entrypoint<I, S>(mut self, entrypoint: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entrypoint = Some(entrypoint.into_iter().map(Into::into).collect());
        self
    }

    /// Adds one `KEY=VALUE` environment entry.
    pub fn env(mut self, entry: impl Into<String>) -> Self {
        self.env.push(entry.into());
        self
    }

    /// Adds a file at `path` (absolute, inside the image); a later file at the same path wins.
    pub fn file(mut self, path: impl Into<String>, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.files.push(FileSpec::new(path, data, mode));
        self
    }

    /// Adds an `ExposedPorts` entry (`80/tcp`), as a Dockerfile's `EXPOSE`.
    pub fn expose(mut self, port: impl Into<String>) -> Self {
        self.exposed_ports.push(port.into());
        self
    }

    /// Adds a layer on top of the base layer (and of the layers added before).
    pub fn layer(mut self, layer: LayerSpec) -> Self {
        self.layers.push(layer);
        self
    }

    /// `name:tag`, the reference `docker load` tags the image with.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// The config's `Env`: the spec's entries, with the default `PATH` first unless the spec
    /// sets `PATH` itself (an image without `PATH` cannot find `/bin/sh` by name).
    pub(crate) fn effective_env(&self) -> Vec<String> {
        let mut env = Vec::with_capacity(self.env.len() + 1);
        if !self.env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(DEFAULT_PATH.to_string());
        }
        env.extend(self.env.iter().cloned());
        env
    }
}

/// An image ID: the sha256 of the image's config JSON, as Docker and Podman compute it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageId(String);

impl ImageId {
    /// From 64 hex digits, with or without the `sha256:` prefix (Docker prints the prefix,
    /// Podman does not).
    pub fn parse(s: &str) -> Option<ImageId> {
        let hex = s.trim().strip_prefix("sha256:").unwrap_or(s.trim());
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| ImageId(hex.to_ascii_lowercase()))
    }

    pub(crate) fn of(bytes: &[u8]) -> ImageId {
        ImageId(sha256_hex(bytes))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// `sha256:<hex>`.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.0)
    }

    /// The 12-digit short form engines print in listings.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_fields() {
        let spec = ImageSpec::new("x")
            .tag("v1")
            .label("RUN", "docker run IMAGE")
            .cmd(["/bin/sh"])
            .entrypoint(["/bin/busybox"])
            .env("A=1")
            .file("/help.1", b"hi".to_vec(), 0o644);
        assert_eq!(spec.reference(), "x:v1");
        assert_eq!(spec.labels["RUN"], "docker run IMAGE");
        assert_eq!(spec.cmd, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(spec.effective_env(), vec![DEFAULT_PATH, "A=1"]);
        assert_eq!(spec.files[0].mode, 0o644);
    }

    #[test]
    fn own_path_replaces_default_path() {
        let spec = ImageSpec::new("x").env("PATH=/bin");
        assert_eq!(spec.effective_env(), vec!["PATH=/bin"]);
    }

    #[test]
    fn image_id_parse_accepts_both_engine_forms() {
        let hex = "a".repeat(64);
        let docker = ImageId::parse(&format!("sha256:{hex}\n")).unwrap();
        let podman = ImageId::parse(&hex).unwrap();
        assert_eq!(docker, podman);
        assert_eq!(docker.digest(), format!("sha256:{hex}"));
        assert_eq!(docker.short(), "aaaaaaaaaaaa");
        assert!(ImageId::parse("sha256:xyz").is_none());
        assert!(ImageId::parse("").is_none());
    }
}

//! Reading a checkout's `/exports`: the files an image author ships for its system container
//! (config.json or its template, service.template, tmpfiles.template, manifest.json, hostfs/).
//!
//! The checkout is the image's content, so every read goes through a capability handle on the
//! rootfs (cap-std): a symlink in the image that points outside it (`exports/config.json ->
//! /etc/shadow`) is refused instead of followed onto the host.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use anyhow::{Context, Result, bail};
use cap_std::fs::Dir;
use serde::Deserialize;

/// The image's `/exports`, when it has one.
pub struct Exports {
    dir: Option<Dir>,
}

/// `exports/manifest.json`.
/// `useLinks` is read and ignored: host files are always copied (see `hostfs.rs`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default, deserialize_with = "string_values")]
    pub default_values: BTreeMap<String, String>,
    #[serde(default)]
    pub installed_files_template: Vec<String>,
    #[serde(default)]
    pub rename_files: BTreeMap<String, String>,
    #[serde(default)]
    pub no_container_service: bool,
}

/// `defaultValues` as strings: image authors write numbers and booleans as JSON would.
fn string_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            serde_json::Value::Number(n) => Ok((k, n.to_string())),
            serde_json::Value::Bool(b) => Ok((k, b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "defaultValues.{k} must be a string, not {other}"
            ))),
        })
        .collect()
}

impl Exports {
    /// Open `rootfs/exports`; an image without one has none (and gets atomic's defaults).
    pub fn open(rootfs: &Path) -> Result<Exports> {
        let root = Dir::open_ambient_dir(rootfs, cap_std::ambient_authority())
            .with_context(|| format!("opening {}", rootfs.display()))?;
        let dir = match root.open_dir("exports") {
            Ok(dir) => Some(dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).context("opening the image's /exports"),
        };
        Ok(Exports { dir })
    }

    pub fn exists(&self) -> bool {
        self.dir.is_some()
    }

    /// The text of `exports/NAME`, if the image has it.
    pub fn read(&self, name: &str) -> Result<Option<String>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        match dir.read_to_string(name) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading /exports/{name} of the image")),
        }
    }

    pub fn manifest(&self) -> Result<Manifest> {
        match self.read("manifest.json")? {
            None => Ok(Manifest::default()),
            Some(text) => match serde_json::from_str(&text) {
                Ok(m) => Ok(m),
                Err(e) => bail!("Invalid manifest.json file in image: {e}."),
            },
        }
    }

    /// `exports/hostfs`, the files to copy onto the host.
    pub fn hostfs(&self) -> Result<Option<Dir>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        match dir.open_dir("hostfs") {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).context("opening the image's /exports/hostfs"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_exports_and_refuses_links_out_of_the_image() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        fs::create_dir_all(rootfs.join("exports")).unwrap();
        fs::write(tmp.path().join("secret"), "host secret").unwrap();
        fs::write(rootfs.join("exports/service.template"), "[Unit]").unwrap();
        std::os::unix::fs::symlink(
            tmp.path().join("secret"),
            rootfs.join("exports/config.json"),
        )
        .unwrap();
        std::os::unix::fs::symlink("../../secret", rootfs.join("exports/tmpfiles.template"))
            .unwrap();
        let exports = Exports::open(&rootfs).unwrap();
        assert_eq!(
            exports.read("service.template").unwrap().as_deref(),
            Some("[Unit]")
        );
        assert_eq!(exports.read("missing").unwrap(), None);
        for name in ["config.json", "tmpfiles.template"] {
            let err = exports.read(name).unwrap_err();
            assert!(!format!("{err:#}").contains("host secret"), "{err:#}");
        }
    }

    #[test]
    fn manifest_keys_and_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path();
        fs::create_dir_all(rootfs.join("exports")).unwrap();
        let exports = Exports::open(rootfs).unwrap();
        assert_eq!(exports.manifest().unwrap(), Manifest::default());
        fs::write(
            rootfs.join("exports/manifest.json"),
            r#"{"defaultValues": {"PORT": 2379, "DEBUG": false, "PEER": "x"},
                "noContainerService": true, "useLinks": false,
                "renameFiles": {"/etc/a": "/etc/$NAME"}}"#,
        )
        .unwrap();
        let m = exports.manifest().unwrap();
        assert_eq!(m.default_values["PORT"], "2379");
        assert_eq!(m.default_values["DEBUG"], "false");
        assert!(m.no_container_service);
        assert_eq!(m.rename_files["/etc/a"], "/etc/$NAME");
        fs::write(rootfs.join("exports/manifest.json"), "{not json").unwrap();
        let err = exports.manifest().unwrap_err().to_string();
        assert!(
            err.starts_with("Invalid manifest.json file in image:"),
            "{err}"
        );
    }
}

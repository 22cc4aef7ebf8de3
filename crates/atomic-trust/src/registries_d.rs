//! registries.d (containers-registries.d(5)): where the signatures of docker images are kept.
//!
//! Every `*.yaml` in the directory is read and merged (a scope defined twice is an error, as in
//! containers/image). Per scope: `lookaside` (or the older name `sigstore`) to read signatures,
//! `lookaside-staging` (`sigstore-staging`) to write them, `use-sigstore-attachments`. The
//! directory is `--registries.d` when given, else `$HOME/.config/containers/registries.d` if it
//! exists, else `/etc/containers/registries.d`. With no configured location, signatures are
//! read from and written to `file:///var/lib/containers/sigstore` (root) or
//! `~/.local/share/containers/sigstore`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::reference::DockerRef;

/// The system directory.
pub const SYSTEM_DIR: &str = "/etc/containers/registries.d";

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Namespace {
    #[serde(default)]
    pub lookaside: Option<String>,
    #[serde(default, rename = "lookaside-staging")]
    pub lookaside_staging: Option<String>,
    #[serde(default)]
    pub sigstore: Option<String>,
    #[serde(default, rename = "sigstore-staging")]
    pub sigstore_staging: Option<String>,
    #[serde(default, rename = "use-sigstore-attachments")]
    pub use_sigstore_attachments: Option<bool>,
}

impl Namespace {
    fn top_level(&self, write: bool) -> Option<&str> {
        fn pick(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        let staging = if write {
            pick(&self.lookaside_staging).or(pick(&self.sigstore_staging))
        } else {
            None
        };
        staging.or(pick(&self.lookaside)).or(pick(&self.sigstore))
    }
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default, rename = "default-docker")]
    default_docker: Option<Namespace>,
    #[serde(default)]
    docker: Option<BTreeMap<String, Namespace>>,
}

/// The merged configuration of a registries.d directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesD {
    pub default_docker: Option<Namespace>,
    pub docker: BTreeMap<String, Namespace>,
}

impl RegistriesD {
    /// Merge files given as (name, text), in directory order.
    pub fn parse(files: &[(String, String)]) -> Result<RegistriesD, String> {
        let mut merged = RegistriesD::default();
        let mut default_from: Option<&str> = None;
        let mut ns_from: BTreeMap<String, &str> = BTreeMap::new();
        for (name, text) in files {
            let file: File = if text.trim().is_empty() {
                File::default()
            } else {
                serde_norway::from_str(text).map_err(|e| format!("parsing {name}: {e}"))?
            };
            if let Some(d) = file.default_docker {
                if let Some(prev) = default_from {
                    return Err(format!(
                        "\"default-docker\" is defined both in {prev} and {name}"
                    ));
                }
                merged.default_docker = Some(d);
                default_from = Some(name);
            }
            for (scope, ns) in file.docker.unwrap_or_default() {
                if let Some(prev) = ns_from.get(&scope) {
                    return Err(format!(
                        "\"docker\" namespace {scope} is defined both in {prev} and {name}"
                    ));
                }
                ns_from.insert(scope.clone(), name);
                merged.docker.insert(scope, ns);
            }
        }
        Ok(merged)
    }

    /// Read and merge the `*.yaml` files of `dir`; a missing directory is an empty configuration.
    pub fn load_dir(dir: &Path) -> Result<RegistriesD, String> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("reading {}: {e}", dir.display())),
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        names.sort();
        let mut files = Vec::new();
        for path in names {
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push((path.display().to_string(), text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("reading {}: {e}", path.display())),
            }
        }
        Self::parse(&files)
    }

    /// The namespaces that apply to `r`, most specific first, then default-docker.
    fn candidates<'a>(&'a self, r: &DockerRef) -> impl Iterator<Item = &'a Namespace> + 'a {
        let mut keys = vec![r.policy_identity()];
        keys.extend(r.policy_namespaces());
        let specific: Vec<&Namespace> = keys.iter().filter_map(|k| self.docker.get(k)).collect();
        specific.into_iter().chain(self.default_docker.iter())
    }

    /// The configured signature storage URL for `r` (None: the built-in default applies).
    pub fn lookaside_top(&self, r: &DockerRef, write: bool) -> Option<String> {
        self.candidates(r)
            .find_map(|ns| ns.top_level(write))
            .map(str::to_string)
    }

    /// Whether sigstore attachments are read and written for `r`.
    pub fn use_sigstore_attachments(&self, r: &DockerRef) -> bool {
        self.candidates(r)
            .find_map(|ns| ns.use_sigstore_attachments)
            .unwrap_or(false)
    }
}

/// The directory to read: the explicit one, the user's if it exists, or the system's.
pub fn config_dir(explicit: Option<&Path>, home: Option<&Path>) -> PathBuf {
    if let Some(d) = explicit {
        return d.to_path_buf();
    }
    if let Some(h) = home {
        let user = h.join(".config/containers/registries.d");
        if user.exists() {
            return user;
        }
    }
    PathBuf::from(SYSTEM_DIR)
}

/// The built-in signature storage when none is configured.
pub fn builtin_lookaside(is_root: bool, home: Option<&Path>) -> String {
    match (is_root, home) {
        (false, Some(h)) => format!(
            "file://{}",
            h.join(".local/share/containers/sigstore").display()
        ),
        _ => "file:///var/lib/containers/sigstore".to_string(),
    }
}

/// `TOP/PATH@ALGO=HEX/signature-N` (N from 1), where PATH is the repository path without the
/// registry, as containers/image lays signatures out.
pub fn signature_url(top: &str, r: &DockerRef, manifest_digest: &str, index: usize) -> String {
    let (algo, hex) = manifest_digest
        .split_once(':')
        .unwrap_or(("sha256", manifest_digest));
    format!(
        "{}/{}@{algo}={hex}/signature-{}",
        top.trim_end_matches('/'),
        r.path,
        index + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(files: &[(&str, &str)]) -> Result<RegistriesD, String> {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        RegistriesD::parse(&files)
    }

    #[test]
    fn most_specific_namespace_then_default() {
        let c = conf(&[
            (
                "a.yaml",
                "default-docker:\n  lookaside: file:///d\n  lookaside-staging: file:///ds\n",
            ),
            (
                "b.yaml",
                "docker:\n  r.io/ns:\n    sigstore: https://sigs.example/s\n    use-sigstore-attachments: true\n  r.io/ns/app:\n    lookaside-staging: file:///stage\n",
            ),
        ])
        .unwrap();
        let app = DockerRef::parse("r.io/ns/app:1").unwrap();
        let other = DockerRef::parse("r.io/ns/other:1").unwrap();
        let elsewhere = DockerRef::parse("q.io/x:1").unwrap();
        assert_eq!(
            c.lookaside_top(&app, true).as_deref(),
            Some("file:///stage")
        );
        // Reading: app's entry has no lookaside, so the namespace's `sigstore` is used.
        assert_eq!(
            c.lookaside_top(&app, false).as_deref(),
            Some("https://sigs.example/s")
        );
        assert_eq!(
            c.lookaside_top(&other, false).as_deref(),
            Some("https://sigs.example/s")
        );
        assert_eq!(
            c.lookaside_top(&elsewhere, true).as_deref(),
            Some("file:///ds")
        );
        assert!(c.use_sigstore_attachments(&app));
        assert!(!c.use_sigstore_attachments(&elsewhere));
        let d = format!("sha256:{}", "b".repeat(64));
        assert_eq!(
            signature_url("file:///d/", &app, &d, 0),
            format!("file:///d/ns/app@sha256={}/signature-1", "b".repeat(64))
        );
    }

    #[test]
    fn duplicates_are_errors() {
        assert!(
            conf(&[
                ("a.yaml", "docker:\n  r.io:\n    lookaside: file:///a\n"),
                ("b.yaml", "docker:\n  r.io:\n    lookaside: file:///b\n"),
            ])
            .is_err()
        );
        assert!(conf(&[("a.yaml", "docker: [1")]).is_err());
    }
}

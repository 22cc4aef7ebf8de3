//! What atomic keeps about each deployed application, so that `stop`, `uninstall` and
//! `app list` never depend on the image or directory it came from:
//!
//! ```text
//! ROOT/<id>/state.json       where it came from, provider, engine, namespace, and every
//!                            container or object this app created, in start order
//! ROOT/<id>/answers.conf.gen every resolved value (mode 0600: passwords are among them)
//! ROOT/<id>/app/             the application as unpacked (Nulecule, artifacts, external/)
//! ```
//! ROOT is `$ATOMIC_APP_ROOT`, else `$ATOMIC_VAR_LIB/apps`, else `/var/lib/atomic/apps`.
//! state.json is replaced by rename, so a killed atomic leaves the previous record whole.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const STATE: &str = "state.json";
pub const VALUES: &str = "answers.conf.gen";
pub const APP_DIR: &str = "app";

/// The label atomic puts on every container of an application (its id).
pub const APP_LABEL: &str = "io.projectatomic.nulecule.app";

/// The root of every application's state.
pub fn root() -> PathBuf {
    if let Some(p) = std::env::var_os("ATOMIC_APP_ROOT") {
        return PathBuf::from(p);
    }
    std::env::var_os("ATOMIC_VAR_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/atomic"))
        .join("apps")
}

/// A deployed application.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub id: String,
    pub name: Option<String>,
    /// The image or directory it was run from, as given.
    pub source: String,
    /// `docker`, `podman`, `native`, `kubernetes` or `openshift`.
    pub provider: String,
    pub namespace: String,
    #[serde(default)]
    pub kubeconfig: Option<String>,
    #[serde(default)]
    pub context: Option<String>,
    /// Containers in start order.
    #[serde(default)]
    pub containers: Vec<Started>,
    /// Kubernetes objects in creation order.
    #[serde(default)]
    pub objects: Vec<Object>,
    /// Images the components use (pulled or found).
    #[serde(default)]
    pub images: Vec<String>,
    /// `running`, `stopped` or `failed`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Started {
    pub component: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Object {
    pub component: String,
    pub kind: String,
    pub name: String,
}

impl State {
    pub fn dir(&self) -> PathBuf {
        root().join(&self.id)
    }

    /// Write state.json (temporary file, then rename).
    pub fn save(&self) -> Result<()> {
        let dir = self.dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let text = serde_json::to_string_pretty(self)?;
        write_private(&dir.join(STATE), text.as_bytes())
    }

    pub fn load(dir: &Path) -> Result<State> {
        let path = dir.join(STATE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
    }
}

/// Write `data` to `path` with mode 0600, by a temporary file renamed into place.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Every deployed application.
pub fn all() -> Result<Vec<State>> {
    let root = root();
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", root.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let dir = entry?.path();
        if dir.join(STATE).is_file() {
            match State::load(&dir) {
                Ok(s) => out.push(s),
                Err(e) => eprintln!("warning: {e:#}"),
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The deployed application `name` names: its id, or the image or directory it was run from.
pub fn find(name: &str) -> Result<Option<State>> {
    let canonical = std::fs::canonicalize(name)
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let mut found: Vec<State> = all()?
        .into_iter()
        .filter(|s| s.id == name || s.source == name || Some(&s.source) == canonical.as_ref())
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => {
            let ids: Vec<&str> = found.iter().map(|s| s.id.as_str()).collect();
            bail!(
                "'{name}' was run as several applications ({}): name one by its id",
                ids.join(", ")
            )
        }
    }
}

//! The `info` file of a deployment (`C/NAME.N/info`): what was installed, from which image,
//! with which values — everything update, rollback, uninstall and listings need later. JSON,
//! with the original's key names so its tools and habits still read it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Info {
    /// The image as the user named it.
    pub image: String,
    /// The image ID (config digest hex).
    pub revision: String,
    /// The manifest digest the deployment was checked out from (pinned in the store).
    pub manifest_digest: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// Every template value, UUID included (kept across updates).
    pub values: BTreeMap<String, String>,
    pub has_container_service: bool,
    /// Host files copied from `/exports/hostfs`, and their sha256 when copied.
    pub installed_files: Vec<String>,
    pub installed_files_checksum: BTreeMap<String, String>,
    pub installed_files_template: Vec<String>,
    pub rename_installed_files: BTreeMap<String, String>,
    /// `--rootfs`: a rootfs outside the checkout.
    pub remote: Option<String>,
    pub runtime: String,
    /// Values given with `--set` (so an update knows which ones the user chose).
    #[serde(default)]
    pub set_values: BTreeMap<String, String>,
}

impl Info {
    pub fn read(deployment: &Path) -> Result<Info> {
        let path = deployment.join("info");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is corrupt", path.display()))
    }

    pub fn write(&self, deployment: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        crate::fsutil::write_atomic(&deployment.join("info"), text.as_bytes())
    }
}

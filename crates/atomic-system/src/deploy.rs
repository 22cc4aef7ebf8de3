//! One deployment: an image checked out into a slot `C/NAME.N`, with its config.json, the
//! rendered unit and tmpfiles snippet (copies kept in the slot, so rollback can restore them)
//! and the `info` file. Nothing here touches systemd or the host's /etc: `ops.rs` does, so a
//! failed deployment is just a directory to remove.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use atomic_store::{Store, StoredImage};

use crate::checkout::checkout;
use crate::exports::Exports;
use crate::info::Info;
use crate::layout::Layout;
use crate::render::{self, RuntimeFeatures, check_config, start_mode};
use crate::values::{self, Values};

/// An image of the store, resolved for a system container.
pub struct Image {
    /// As the user named it.
    pub name: String,
    pub stored: StoredImage,
    /// Its layer directories, bottom first.
    pub layers: Vec<PathBuf>,
}

impl Image {
    pub fn resolve(store: &Store, query: &str) -> Result<Option<Image>> {
        let Some(stored) = store.resolve(query)? else {
            return Ok(None);
        };
        let layers = stored.layer_dirs(store)?;
        Ok(Some(Image {
            name: query.to_string(),
            stored,
            layers,
        }))
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        self.stored.labels()
    }
}

/// Everything a deployment is made with.
pub struct Deployment<'a> {
    pub name: &'a str,
    pub image: &'a Image,
    /// `--set` values (for an update: the earlier ones with the new ones applied).
    pub set: &'a Values,
    pub uuid: String,
    pub runtime: &'a str,
    pub features: RuntimeFeatures,
    pub atomic: &'a str,
    pub layout: &'a Layout,
    /// `--rootfs`: run this directory (kept elsewhere, e.g. an NFS share) instead of a
    /// checkout of the image; the image still provides /exports when the directory has none.
    pub remote: Option<&'a Path>,
}

/// What a deployment produced, for the host side of the install.
pub struct Deployed {
    pub info: Info,
    /// Whether the image has `/exports` (else everything is atomic's default).
    pub exports_found: bool,
    /// The rendered unit and tmpfiles snippet (also kept in the slot).
    pub unit: Option<String>,
    pub tmpfiles: String,
}

/// The unit copy kept in a slot.
pub fn unit_copy(slot: &Path, name: &str) -> PathBuf {
    slot.join(format!("{name}.service"))
}

/// The tmpfiles copy kept in a slot.
pub fn tmpfiles_copy(slot: &Path, name: &str) -> PathBuf {
    slot.join(format!("tmpfiles-{name}.conf"))
}

/// Check `d.image` out into `slot` (which must not exist) and render its files there.
pub fn deploy(d: &Deployment, slot: &Path) -> Result<Deployed> {
    std::fs::create_dir(slot).with_context(|| format!("creating {}", slot.display()))?;
    let rootfs = slot.join("rootfs");
    let remote = d.remote.map(remote_rootfs).transpose()?;
    match &remote {
        Some(remote) => std::os::unix::fs::symlink(remote, &rootfs)?,
        None => checkout(&d.image.layers, &rootfs)?,
    }
    let exports = Exports::open(&rootfs)?;
    let manifest = exports.manifest()?;

    let image_id = d.image.stored.id().to_string();
    let mut values = values::compute(&values::Inputs {
        name: d.name,
        image: &d.image.name,
        image_id: &image_id,
        destdir: slot,
        runtime: d.runtime,
        atomic: d.atomic,
        layout: d.layout,
        set: d.set,
        defaults: &manifest.default_values,
        uuid: d.uuid.clone(),
    });
    let unit_template = match exports.read("service.template")? {
        Some(t) => t,
        None => render::DEFAULT_UNIT_TEMPLATE.to_string(),
    };
    let mode = start_mode(
        d.runtime,
        d.name,
        &values["PIDFILE"],
        &unit_template,
        d.features,
        d.layout.user.is_some(),
    )?;
    values::set_exec(&mut values, &mode.exec);

    let image_config = d.image.stored.config.config().clone();
    let mut config = render::config_json(&exports, &values, image_config.as_ref(), &rootfs)?;
    if let Some(remote) = &remote {
        config = render::with_root(&config, remote)?;
    }
    if render::systemd_cgroup(d.features, d.layout.user.is_some()) {
        config = render::with_cgroups_path(&config, d.name)?;
    }
    if let Some(user) = &d.layout.user {
        config = crate::userns::configure(&config, user)?;
    }
    let missing = check_config(&config, remote.is_some())?;
    crate::fsutil::write_atomic(&slot.join("config.json"), config.as_bytes())?;

    let tmpfiles = render::tmpfiles(&exports, &values, &missing)?;
    let unit = if manifest.no_container_service {
        None
    } else {
        Some(render::render(&unit_template, "service.template", &values)?)
    };
    if let Some(unit) = &unit {
        crate::fsutil::write_atomic(&unit_copy(slot, d.name), unit.as_bytes())?;
        crate::fsutil::write_atomic(&tmpfiles_copy(slot, d.name), tmpfiles.as_bytes())?;
    }

    let info = Info {
        image: d.image.name.clone(),
        revision: image_id,
        manifest_digest: d.image.stored.manifest_digest.to_string(),
        created: now(),
        values,
        has_container_service: unit.is_some(),
        installed_files: Vec::new(),
        installed_files_checksum: BTreeMap::new(),
        installed_files_template: manifest.installed_files_template.clone(),
        rename_installed_files: manifest.rename_files.clone(),
        remote: remote.map(|r| r.display().to_string()),
        runtime: d.runtime.to_string(),
        set_values: d.set.clone(),
    };
    info.write(slot)?;
    Ok(Deployed {
        info,
        exports_found: exports.exists(),
        unit,
        tmpfiles,
    })
}

/// The root filesystem inside a `--rootfs` directory: its `rootfs/` when it has one, else the
/// directory itself when it looks like a root (has `usr/`).
fn remote_rootfs(path: &Path) -> Result<PathBuf> {
    let path = path
        .canonicalize()
        .with_context(|| format!("--rootfs {}", path.display()))?;
    if path.join("rootfs").is_dir() {
        Ok(path.join("rootfs"))
    } else if path.join("usr").is_dir() {
        Ok(path)
    } else {
        anyhow::bail!(
            "--rootfs was specified but {} does not contain a rootfs (neither rootfs/ nor usr/)",
            path.display()
        )
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

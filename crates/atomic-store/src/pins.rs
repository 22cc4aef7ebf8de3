//! Pins: images kept for something other than a name — a container created from them.
//!
//! `ROOT/pins/<owner>` holds the manifest digest its owner (a container ID) needs. Garbage
//! collection treats pinned manifests as roots, so deleting or re-tagging an image never pulls
//! the layers from under a container that still uses them; they go when the container does.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::digest::Digest;
use crate::store::Store;

impl Store {
    fn pins_dir(&self) -> PathBuf {
        self.root().join("pins")
    }

    /// Keep `manifest` (and all it references) while `owner` exists. Taken under the writer
    /// lock, so a collection running meanwhile cannot miss it.
    pub fn pin(&self, owner: &str, manifest: &Digest) -> Result<()> {
        check_owner(owner)?;
        let _writer = self.writer_lock()?;
        let dir = self.pins_dir();
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!(".{owner}.{}", std::process::id()));
        fs::write(&tmp, manifest.to_string())?;
        fs::rename(&tmp, dir.join(owner)).with_context(|| format!("pinning {manifest}"))
    }

    /// Drop `owner`'s pin (no error when there is none). What it kept is collected by the next
    /// prune or delete.
    pub fn unpin(&self, owner: &str) -> Result<()> {
        check_owner(owner)?;
        match fs::remove_file(self.pins_dir().join(owner)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing the pin of {owner}"))
            }
            _ => Ok(()),
        }
    }

    /// Every pin: (owner, manifest digest). A pin file that does not hold a digest is an error:
    /// collecting garbage without knowing what it protects could delete a container's layers.
    pub fn pins(&self) -> Result<Vec<(String, Digest)>> {
        let entries = match fs::read_dir(self.pins_dir()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).context("reading the pins of the store"),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry?;
            let owner = entry.file_name().to_string_lossy().into_owned();
            if owner.starts_with('.') {
                continue;
            }
            let text = fs::read_to_string(entry.path())?;
            let digest: Digest = text
                .trim()
                .parse()
                .with_context(|| format!("pin {} is damaged", entry.path().display()))?;
            out.push((owner, digest));
        }
        Ok(out)
    }
}

fn check_owner(owner: &str) -> Result<()> {
    if owner.is_empty()
        || !owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        bail!("'{owner}' cannot own a pin (letters, digits and '-' only)");
    }
    Ok(())
}

//! What `atomic mount` mounted where, so that `atomic unmount DIR` undoes exactly that: unmount
//! DIR, then give back to the engine what atomic took from it (Podman counts its image and
//! container mounts), and refuse a directory atomic did not mount.
//!
//! `$ATOMIC_MOUNTS_JSON`, else `/run/atomic/mounts.json`: under /run because a mount does not
//! outlive a boot, and neither should its record. Changed under the same lock-and-rename
//! discipline as install.json.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use atomic_engine::mount::Release;

use crate::installdb::lock_beside;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountRecord {
    /// Canonical path of the mount point.
    pub mountpoint: PathBuf,
    /// docker, podman or native.
    pub engine: String,
    /// `image` or `container`.
    pub object: String,
    /// The image's or container's ID.
    pub id: String,
    /// As the user named it.
    pub name: String,
    pub live: bool,
    #[serde(default)]
    pub release: Option<Release>,
}

pub struct MountDb {
    path: PathBuf,
}

impl MountDb {
    pub fn open() -> MountDb {
        let path = std::env::var_os("ATOMIC_MOUNTS_JSON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/run/atomic/mounts.json"));
        MountDb { path }
    }

    /// The record of a mount at `mountpoint` (canonical), if atomic made one.
    pub fn get(&self, mountpoint: &Path) -> Result<Option<MountRecord>> {
        Ok(self
            .read()?
            .into_iter()
            .find(|r| r.mountpoint == mountpoint))
    }

    pub fn add(&self, record: MountRecord) -> Result<()> {
        self.update(|records| {
            records.retain(|r| r.mountpoint != record.mountpoint);
            records.push(record);
        })
    }

    pub fn remove(&self, mountpoint: &Path) -> Result<()> {
        self.update(|records| records.retain(|r| r.mountpoint != mountpoint))
    }

    fn read(&self) -> Result<Vec<MountRecord>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) if text.trim().is_empty() => Ok(Vec::new()),
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a valid record of atomic's mounts; fix or remove it",
                    self.path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    fn update(&self, change: impl FnOnce(&mut Vec<MountRecord>)) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let _lock = lock_beside(&self.path)?;
        let mut records = self.read()?;
        change(&mut records);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        serde_json::to_writer_pretty(&mut tmp, &records)?;
        tmp.persist(&self.path)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_added_found_and_removed_by_mount_point() {
        let dir = tempfile::tempdir().unwrap();
        let db = MountDb {
            path: dir.path().join("run/mounts.json"),
        };
        let record = |at: &str| MountRecord {
            mountpoint: PathBuf::from(at),
            engine: "podman".into(),
            object: "image".into(),
            id: "abc".into(),
            name: "busybox".into(),
            live: false,
            release: Some(Release::PodmanImage("abc".into())),
        };
        assert_eq!(db.get(Path::new("/a")).unwrap(), None);
        db.add(record("/a")).unwrap();
        db.add(record("/b")).unwrap();
        db.add(record("/a")).unwrap();
        assert_eq!(db.read().unwrap().len(), 2, "one record per mount point");
        assert_eq!(db.get(Path::new("/a")).unwrap(), Some(record("/a")));
        db.remove(Path::new("/a")).unwrap();
        assert_eq!(db.get(Path::new("/a")).unwrap(), None);
        assert!(db.get(Path::new("/b")).unwrap().is_some());
    }
}

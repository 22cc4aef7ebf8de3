//! Files an image ships for the host itself, in `/exports/hostfs/`: copied to
//! the host on install, each recorded with its sha256, and removed on uninstall unless the
//! user changed it since.
//!
//! Files are always copied, never hard-linked to the store as the original could
//! (`useLinks`): a host file is there to be edited, and an edit through a hard link would
//! change the image store's content and every other checkout of it.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use sha2::{Digest, Sha256};

use crate::template::substitute;
use crate::values::Values;

/// What an install put on the host.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Host paths, in the order they were created (directories included, so they can go too).
    pub files: Vec<String>,
    /// sha256 of each regular file (of the target, for a symlink).
    pub checksums: BTreeMap<String, String>,
}

pub struct Copy<'a> {
    pub host_root: &'a Path,
    pub values: &'a Values,
    /// Host paths whose content is a template.
    pub templates: &'a [String],
    /// Host path prefix -> new prefix (may use `$VARS`).
    pub renames: &'a BTreeMap<String, String>,
    pub quiet: bool,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Copy<'_> {
    /// The host path for the image path `rel` (relative to hostfs).
    fn destination(&self, rel: &Path) -> Result<String> {
        let mut host = format!("/{}", rel.display());
        for (from, to) in self.renames {
            if host == *from || host.starts_with(&format!("{}/", from.trim_end_matches('/'))) {
                let to = substitute(to, "manifest.json renameFiles", |n| {
                    self.values.get(n).cloned()
                })?;
                host = format!("{to}{}", &host[from.len()..]);
                break;
            }
        }
        Ok(host)
    }

    fn on_host(&self, host: &str) -> PathBuf {
        self.host_root.join(host.trim_start_matches('/'))
    }

    /// Copy every entry of `hostfs` to the host; `record` is called with each created path
    /// before it is created (so an interrupted install knows what to take back).
    pub fn run(
        &self,
        hostfs: &Dir,
        record: &mut dyn FnMut(&Path) -> Result<()>,
    ) -> Result<Installed> {
        let mut installed = Installed::default();
        self.walk(hostfs, Path::new(""), &mut installed, record)?;
        Ok(installed)
    }

    fn walk(
        &self,
        dir: &Dir,
        rel: &Path,
        installed: &mut Installed,
        record: &mut dyn FnMut(&Path) -> Result<()>,
    ) -> Result<()> {
        let mut entries: Vec<_> = dir.entries()?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let rel = rel.join(&name);
            let host = self.destination(&rel)?;
            let target = self.on_host(&host);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if !target.exists() {
                    record(&target)?;
                    std::fs::create_dir_all(&target)
                        .with_context(|| format!("creating {}", target.display()))?;
                    installed.files.push(host.clone());
                }
                let sub = dir.open_dir(&name)?;
                self.walk(&sub, &rel, installed, record)?;
                continue;
            }
            if std::fs::symlink_metadata(&target).is_ok() {
                if !self.quiet {
                    eprintln!("File {host} already exists");
                }
                continue;
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            record(&target)?;
            if kind.is_symlink() {
                let link = dir.read_link_contents(&name)?;
                std::os::unix::fs::symlink(&link, &target)
                    .with_context(|| format!("creating {}", target.display()))?;
                let text = link.as_os_str().as_encoded_bytes();
                installed.checksums.insert(host.clone(), sha256_hex(text));
            } else if kind.is_file() {
                let checksum = self.copy_file(dir, &name, &host, &target)?;
                installed.checksums.insert(host.clone(), checksum);
            } else {
                // Devices, fifos and sockets have no place in a host file tree shipped by an
                // image.
                continue;
            }
            installed.files.push(host);
        }
        Ok(())
    }

    fn copy_file(
        &self,
        dir: &Dir,
        name: &std::ffi::OsStr,
        host: &str,
        target: &Path,
    ) -> Result<String> {
        let mode = {
            use cap_std::fs::PermissionsExt;
            dir.metadata(name)?.permissions().mode() & 0o7777
        };
        let mut bytes = dir.read(name)?;
        if self.templates.iter().any(|t| t == host) {
            let text = String::from_utf8(bytes)
                .with_context(|| format!("the template {host} is not UTF-8 text"))?;
            bytes = substitute(&text, host, |n| self.values.get(n).cloned())?.into_bytes();
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .mode(mode)
            .open(target)
            .with_context(|| format!("creating {}", target.display()))?;
        file.write_all(&bytes)?;
        Ok(sha256_hex(&bytes))
    }
}

/// Remove what an install put on the host, newest first. A file whose content changed since is
/// kept, with a message; a directory is removed only when empty.
pub fn remove(
    host_root: &Path,
    files: &[String],
    checksums: &BTreeMap<String, String>,
    quiet: bool,
) -> Result<()> {
    for host in files.iter().rev() {
        let path = host_root.join(host.trim_start_matches('/'));
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            // Not empty: something else lives there now.
            let _ = std::fs::remove_dir(&path);
            continue;
        }
        let now = if meta.file_type().is_symlink() {
            std::fs::read_link(&path)
                .map(|l| sha256_hex(l.as_os_str().as_encoded_bytes()))
                .ok()
        } else {
            std::fs::read(&path).map(|b| sha256_hex(&b)).ok()
        };
        if now.as_ref() != checksums.get(host) {
            if !quiet {
                eprintln!("Will not delete {host} as it was manually modified.");
            }
            continue;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

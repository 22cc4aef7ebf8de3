//! Where a system container's pieces live on the host. Every path is a field, so tests (and
//! `--user`) put them anywhere; [`Layout::system`] and [`Layout::user`] give the real ones,
//! laid out as the original atomic laid them out.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The host locations atomic writes to for system containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `C`: deployments `C/NAME.0`, `C/NAME.1` and the symlink `C/NAME`. The image store's
    /// root, so checkouts can hard-link the store's files.
    pub checkouts: PathBuf,
    /// systemd units (`/etc/systemd/system`, `~/.config/systemd/user`).
    pub units: PathBuf,
    /// tmpfiles.d snippets (`/etc/tmpfiles.d`).
    pub tmpfiles: PathBuf,
    /// Where `/exports/hostfs` is copied to (`/`).
    pub host_root: PathBuf,
    /// `systemctl --user` and a user-namespaced container.
    pub user: Option<UserIds>,
    /// `$RUN_DIRECTORY`, `$CONF_DIRECTORY`, `$STATE_DIRECTORY`.
    pub run_directory: PathBuf,
    pub conf_directory: PathBuf,
    pub state_directory: PathBuf,
}

/// The invoking user of a `--user` install, and the ranges it may map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIds {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
}

impl Layout {
    /// A root install: the store at `store_root`, units in /etc.
    pub fn system(store_root: &Path) -> Layout {
        Layout {
            checkouts: store_root.to_path_buf(),
            units: PathBuf::from("/etc/systemd/system"),
            tmpfiles: PathBuf::from("/etc/tmpfiles.d"),
            host_root: PathBuf::from("/"),
            user: None,
            run_directory: PathBuf::from("/run"),
            conf_directory: PathBuf::from("/etc"),
            state_directory: PathBuf::from("/var/lib"),
        }
    }

    /// A `--user` install for the invoking (non-root) user, in XDG locations; the user's own
    /// image store is `store_root`, else `$XDG_DATA_HOME/containers/atomic`.
    pub fn user(store_root: Option<&Path>) -> Result<Layout> {
        let uid = rustix::process::getuid().as_raw();
        if uid == 0 {
            bail!("--user installs a container for a non-root user; as root, use --system");
        }
        let home = PathBuf::from(std::env::var_os("HOME").context("--user needs $HOME")?);
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".local/share"));
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        let run = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")));
        let name = std::env::var("USER").unwrap_or_else(|_| uid.to_string());
        Ok(Layout {
            checkouts: store_root.map_or_else(|| data.join("containers/atomic"), Path::to_path_buf),
            units: config.join("systemd/user"),
            tmpfiles: data.join("containers/tmpfiles"),
            host_root: PathBuf::from("/"),
            user: Some(UserIds {
                uid,
                gid: rustix::process::getgid().as_raw(),
                name,
            }),
            run_directory: run,
            conf_directory: config,
            // The original's value, kept for templates written for it.
            state_directory: home.join(".data"),
        })
    }

    /// `C/NAME`: the symlink to the active deployment.
    pub fn link(&self, name: &str) -> PathBuf {
        self.checkouts.join(name)
    }

    /// `C/NAME.N`.
    pub fn slot(&self, name: &str, index: u8) -> PathBuf {
        self.checkouts.join(format!("{name}.{index}"))
    }

    pub fn unit(&self, name: &str) -> PathBuf {
        self.units.join(format!("{name}.service"))
    }

    pub fn tmpfiles_conf(&self, name: &str) -> PathBuf {
        self.tmpfiles.join(format!("{name}.conf"))
    }

    /// Records of operations in progress (see `pending.rs`) and per-name locks.
    pub fn state_dir(&self) -> PathBuf {
        self.checkouts.join("system")
    }
}

/// Names of the image store's own entries in `C` (and `system`, atomic's records of system
/// containers), which no container may take.
pub const STORE_ENTRIES: &[&str] = &[
    "blobs",
    "layers",
    "init",
    "tmp",
    "containers",
    "pins",
    "runc",
    "system",
    "index.json",
    "oci-layout",
];

/// A system container's name: a systemd unit name and a directory name at once, so
/// `[A-Za-z0-9][A-Za-z0-9_.-]*`, not ending in `.0`/`.1` (the slots' names) and not one of the
/// store's own directories.
pub fn check_name(name: &str) -> Result<()> {
    if !is_name_valid(name) {
        bail!(
            "invalid system container name '{name}': use letters, digits, '_', '.' and '-', \
             starting with a letter or digit"
        );
    }
    if is_name_reserved(name) {
        bail!("invalid system container name '{name}': it is reserved for atomic's own files");
    }
    Ok(())
}

/// Whether `name` could be a system container's, as [`check_name`] decides, without making an
/// error: `atomic run IMAGE` asks this of every image name, and an error captures a backtrace
/// when `RUST_BACKTRACE` is set (about a millisecond).
pub fn is_name(name: &str) -> bool {
    is_name_valid(name) && !is_name_reserved(name)
}

fn is_name_valid(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.len() <= 200
}

fn is_name_reserved(name: &str) -> bool {
    name.ends_with(".0") || name.ends_with(".1") || STORE_ENTRIES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["etcd", "flannel-1", "a.b_c", "X9"] {
            check_name(good).unwrap();
            assert!(is_name(good), "{good}");
        }
        for bad in [
            "", "-x", ".hidden", "a/b", "..", "a b", "etcd.0", "etcd.1", "layers", "a$b", "é",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
            assert!(!is_name(bad), "{bad}");
        }
    }
}

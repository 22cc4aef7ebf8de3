//! Is there surely no Podman container by a name? Podman keeps its containers in libpod's
//! database (`<graphroot>/libpod/bolt_state.db`, a BoltDB file), not in containers/storage:
//! a container made with `--rootfs` has no record in `containers.json` at all. Parsing BoltDB is
//! not needed to prove an absence: BoltDB stores keys and values uncompressed, so a container
//! whose name or ID starts with the bytes asked for has those bytes in the file. Bytes not in the
//! file mean no such container; bytes found (even in a freed page) only mean "ask podman".
//!
//! The database is read under a shared `flock`, as BoltDB's own read-only opens take it; if a
//! podman process holds it (BoltDB's writers take it exclusively), the answer is a doubt rather
//! than a wait. A containers.conf that moves the database (`static_dir`) is a doubt too.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::storage::{Sure, doubt};

/// Could libpod have a container called (or with an ID starting with) `name`? `Ok(false)` is
/// certain; `Ok(true)` means podman must be asked.
pub fn may_have_container(graphroot: &Path, name: &str) -> Sure<bool> {
    if name.is_empty() {
        return Ok(true);
    }
    if let Some(file) = conf_moving_the_database() {
        return doubt(format!("{} sets static_dir", file.display()));
    }
    let db = graphroot.join("libpod/bolt_state.db");
    let mut file = match std::fs::File::open(&db) {
        Ok(f) => f,
        Err(e) => return doubt(format!("cannot open {}: {e}", db.display())),
    };
    if let Err(e) = file.try_lock_shared() {
        return doubt(format!("{} is busy: {e}", db.display()));
    }
    let mut bytes = Vec::new();
    if let Err(e) = file.read_to_end(&mut bytes) {
        return doubt(format!("cannot read {}: {e}", db.display()));
    }
    Ok(contains(&bytes, name.as_bytes()))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first containers.conf (any podman reads, or the deprecated libpod.conf) that sets
/// `static_dir`, if one does.
fn conf_moving_the_database() -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = [
        "/usr/share/containers/containers.conf",
        "/etc/containers/containers.conf",
        "/etc/containers/libpod.conf",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    for dir in [
        "/usr/share/containers/containers.conf.d",
        "/etc/containers/containers.conf.d",
    ] {
        files.extend(conf_dir(Path::new(dir)));
    }
    if let Some(path) = std::env::var_os("CONTAINERS_CONF") {
        files.push(PathBuf::from(path));
    }
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(home) = config_home {
        files.push(home.join("containers/containers.conf"));
        files.extend(conf_dir(&home.join("containers/containers.conf.d")));
    }
    files
        .into_iter()
        .find(|f| std::fs::read_to_string(f).is_ok_and(|text| sets_static_dir(&text)))
}

fn conf_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn sets_static_dir(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .any(|l| !l.starts_with('#') && l.contains("static_dir"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_uncommented_static_dir_counts() {
        assert!(!sets_static_dir(
            "# static_dir = \"/x\"\n[engine]\nruntime = \"runc\"\n"
        ));
        assert!(sets_static_dir("[engine]\n  static_dir = \"/x\"\n"));
    }

    #[test]
    fn absence_is_decided_on_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("libpod")).unwrap();
        let mut db = vec![0u8; 4096];
        db.extend_from_slice(b"\x00web-1\x00a31c648b7ddcee65");
        std::fs::write(dir.path().join("libpod/bolt_state.db"), db).unwrap();
        if conf_moving_the_database().is_some() {
            return; // this machine moves the database; the answer is a doubt by design
        }
        assert_eq!(may_have_container(dir.path(), "web-1"), Ok(true));
        assert_eq!(may_have_container(dir.path(), "a31c6"), Ok(true));
        assert_eq!(may_have_container(dir.path(), "web-2"), Ok(false));
        assert!(may_have_container(&dir.path().join("none"), "web-2").is_err());
    }
}

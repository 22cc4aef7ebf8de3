//! `install.json`: which images `atomic install` installed, under which container names.
//!
//! The format is the original's, so existing files keep working:
//! `{ "<image>": [ {"id": "<image id>", "container_name": "<NAME>", "install_date": "…"} ] }`
//! (the older one-object-per-image form is converted on read). Every change holds an exclusive
//! lock on `<path>.lock` and is written to a temporary file that is then renamed over the old
//! one, so two atomics at once, or one killed half-way, never leave a torn file.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub id: String,
    pub container_name: String,
    pub install_date: String,
    /// Fields written by other tools (the original's RPM data) are kept as they were.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

type Records = BTreeMap<String, Vec<Entry>>;

pub struct InstallDb {
    path: PathBuf,
}

/// How long to wait for another atomic to finish with the file, as the original did.
const LOCK_WAIT: Duration = Duration::from_secs(10);

impl InstallDb {
    /// `$ATOMIC_INSTALL_JSON`, else `$ATOMIC_VAR_LIB/install.json`, else
    /// `/var/lib/atomic/install.json`.
    pub fn open() -> InstallDb {
        let path = std::env::var_os("ATOMIC_INSTALL_JSON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("ATOMIC_VAR_LIB")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/var/lib/atomic"))
                    .join("install.json")
            });
        InstallDb { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Is the image recorded, by the name the user gave or by its ID?
    pub fn is_installed(&self, image: &str, id: &str) -> Result<bool> {
        let records = self.read()?;
        Ok(records
            .iter()
            .any(|(key, entries)| same_image(key, image) || entries.iter().any(|e| e.id == id)))
    }

    /// Record a successful install (replacing an entry with the same name and ID).
    pub fn record(&self, image: &str, id: &str, container_name: &str) -> Result<()> {
        self.update(|records| {
            let entries = records.entry(image.to_string()).or_default();
            entries.retain(|e| !(e.id == id && e.container_name == container_name));
            entries.push(Entry {
                id: id.to_string(),
                container_name: container_name.to_string(),
                install_date: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
                other: BTreeMap::new(),
            });
        })
        .map(drop)
    }

    /// Forget the install of `container_name` (any, if `None`) of this image; returns whether an
    /// entry was there.
    pub fn remove(&self, image: &str, id: &str, container_name: Option<&str>) -> Result<bool> {
        self.update(|records| {
            let mut removed = false;
            for (key, entries) in records.iter_mut() {
                let before = entries.len();
                entries.retain(|e| {
                    let image_matches = same_image(key, image) || e.id == id;
                    let name_matches = container_name.is_none_or(|n| n == e.container_name);
                    !(image_matches && name_matches)
                });
                removed |= entries.len() != before;
            }
            records.retain(|_, entries| !entries.is_empty());
            removed
        })
    }

    fn read(&self) -> Result<Records> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => parse(&text).with_context(|| {
                format!(
                    "{} is not a valid install record; fix or move it away",
                    self.path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Records::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Read, change and write back under the lock.
    fn update<T>(&self, change: impl FnOnce(&mut Records) -> T) -> Result<T> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let _lock = self.lock()?;
        let mut records = self.read()?;
        let result = change(&mut records);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        serde_json::to_writer_pretty(&mut tmp, &records)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(result)
    }

    fn lock(&self) -> Result<File> {
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => bail!(
                    "another atomic has held {} for {}s; try again when it is done",
                    lock_path.display(),
                    LOCK_WAIT.as_secs()
                ),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", lock_path.display()));
                }
            }
        }
    }
}

fn parse(text: &str) -> Result<Records> {
    if text.trim().is_empty() {
        return Ok(Records::new());
    }
    let raw: BTreeMap<String, serde_json::Value> = serde_json::from_str(text)?;
    raw.into_iter()
        .map(|(key, value)| {
            // The legacy format kept one object per image instead of a list.
            let entries = match value {
                serde_json::Value::Array(_) => serde_json::from_value(value)?,
                other => vec![serde_json::from_value(other)?],
            };
            Ok((key, entries))
        })
        .collect()
}

/// `foo` and `foo:latest` name the same image.
fn same_image(key: &str, image: &str) -> bool {
    let norm = |s: &str| {
        let last = s.rsplit('/').next().unwrap_or(s);
        if last.contains(':') || last.contains('@') {
            s.to_string()
        } else {
            format!("{s}:latest")
        }
    };
    norm(key) == norm(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, InstallDb) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/install.json");
        (dir, InstallDb { path })
    }

    #[test]
    fn record_lookup_remove_round_trip() {
        let (_dir, db) = db();
        assert!(!db.is_installed("img", "id1").unwrap());
        db.record("img", "id1", "c1").unwrap();
        assert!(db.is_installed("img", "other").unwrap());
        assert!(db.is_installed("img:latest", "other").unwrap());
        assert!(db.is_installed("renamed", "id1").unwrap());
        db.record("img", "id1", "c1").unwrap();
        let text = std::fs::read_to_string(db.path()).unwrap();
        assert_eq!(
            text.matches("\"c1\"").count(),
            1,
            "re-recording replaces: {text}"
        );
        assert!(db.remove("img", "id1", Some("c1")).unwrap());
        assert!(!db.remove("img", "id1", Some("c1")).unwrap());
        assert!(!db.is_installed("img", "id1").unwrap());
    }

    #[test]
    fn legacy_and_empty_files_are_read() {
        let (_dir, db) = db();
        std::fs::create_dir_all(db.path().parent().unwrap()).unwrap();
        std::fs::write(db.path(), "").unwrap();
        assert!(!db.is_installed("x", "y").unwrap());
        std::fs::write(
            db.path(),
            r#"{"old": {"id": "abc", "container_name": "old", "install_date": "2017-01-01 00:00:00", "system_package_nvra": "p-1"}}"#,
        )
        .unwrap();
        assert!(db.is_installed("old", "zzz").unwrap());
        db.record("new", "def", "new").unwrap();
        let text = std::fs::read_to_string(db.path()).unwrap();
        assert!(
            text.contains("system_package_nvra"),
            "other fields kept: {text}"
        );
    }

    #[test]
    fn a_corrupt_file_is_an_error_and_is_left_alone() {
        let (_dir, db) = db();
        std::fs::create_dir_all(db.path().parent().unwrap()).unwrap();
        std::fs::write(db.path(), "{not json").unwrap();
        let e = db.record("img", "id", "n").unwrap_err();
        assert!(
            format!("{e:#}").contains("not a valid install record"),
            "{e:#}"
        );
        assert_eq!(std::fs::read_to_string(db.path()).unwrap(), "{not json");
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let (_dir, db) = db();
        let path = db.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let db = InstallDb { path };
                    db.record(&format!("img{i}"), &format!("id{i}"), "n")
                        .unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for i in 0..8 {
            assert!(db.is_installed(&format!("img{i}"), "-").unwrap());
        }
    }
}

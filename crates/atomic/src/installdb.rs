//! `install.json`: which images `atomic install` installed, under which container names.
//!
//! The format is the original's, so existing files keep working:
//! `{ "<image>": [ {"id": "<image id>", "container_name": "<NAME>", "install_date": "…"} ] }`
//! (the older one-object-per-image form is converted on read). Every field of a record is
//! optional, because atomic 1.x and its test harness wrote records with other fields (e.g.
//! `{"img": {"install_id": "…"}}`): the image is found by its key, as the original did, and
//! fields atomic does not know are written back unchanged.
//!
//! A file that is not JSON at all is reported as a warning naming it and left as it is: it
//! must not stop a `run` of an image it does not record, nor lose what a user might repair.
//! Every change holds an exclusive lock on `<path>.lock` and is written to a temporary file that
//! is then renamed over the old one, so two atomics at once, or one killed half-way, never leave
//! a torn file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

/// The file as read: image key → one record object (the legacy form) or a list of them. Kept as
/// JSON values so that whatever else a record holds is written back unchanged.
type Records = Map<String, Value>;

pub struct InstallDb {
    path: PathBuf,
}

/// How long to wait for another atomic to finish with the file, as the original did.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What reading the file gave.
enum Loaded {
    Records(Records),
    /// Not JSON, or not an object of records: why, for the warning.
    Malformed(anyhow::Error),
}

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

    /// Is the image recorded, by the name the user gave or by its ID? A malformed file records
    /// nothing (after a warning).
    pub fn is_installed(&self, image: &str, id: &str) -> Result<bool> {
        let records = match self.read()? {
            Loaded::Records(records) => records,
            Loaded::Malformed(why) => {
                self.warn_malformed(&why);
                return Ok(false);
            }
        };
        Ok(records.iter().any(|(key, value)| {
            same_image(key, image)
                || same_id(key, id)
                || entries(value).iter().any(|e| has_id(e, id))
        }))
    }

    /// Record a successful install (replacing an entry with the same name and ID).
    pub fn record(&self, image: &str, id: &str, container_name: &str) -> Result<()> {
        self.update(|records| {
            let mut list = match records.remove(image) {
                Some(Value::Array(list)) => list,
                Some(other) => vec![other],
                None => Vec::new(),
            };
            list.retain(|e| !(has_id(e, id) && field(e, "container_name") == Some(container_name)));
            list.push(json!({
                "id": id,
                "container_name": container_name,
                "install_date": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
            }));
            records.insert(image.to_string(), Value::Array(list));
        })
    }

    /// Forget the install of `container_name` (any, if `None`) of this image; returns whether an
    /// entry was there. A record that names no container is one of any name.
    pub fn remove(&self, image: &str, id: &str, container_name: Option<&str>) -> Result<bool> {
        self.update(|records| {
            let mut removed = false;
            let keys: Vec<String> = records.keys().cloned().collect();
            for key in keys {
                let key_matches = same_image(&key, image) || same_id(&key, id);
                let Some(value) = records.get_mut(&key) else {
                    continue;
                };
                let goes = |e: &Value| {
                    let image_matches = key_matches || has_id(e, id);
                    let name_matches = match field(e, "container_name") {
                        Some(recorded) => container_name.is_none_or(|n| n == recorded),
                        None => true,
                    };
                    image_matches && name_matches
                };
                match value {
                    Value::Array(list) => {
                        let before = list.len();
                        list.retain(|e| !goes(e));
                        removed |= list.len() != before;
                        if list.is_empty() {
                            records.remove(&key);
                        }
                    }
                    single if goes(single) => {
                        removed = true;
                        records.remove(&key);
                    }
                    _ => {}
                }
            }
            removed
        })
    }

    fn read(&self) -> Result<Loaded> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(match parse(&text) {
                Ok(records) => Loaded::Records(records),
                Err(why) => Loaded::Malformed(why),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Loaded::Records(Records::new()))
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Once per run: the same file is often read twice (uninstall checks, then removes).
    fn warn_malformed(&self, why: &anyhow::Error) {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            eprintln!(
                "warning: {} is not a valid install record ({why:#}); atomic ignores it and \
                 leaves it unchanged: fix or move it away",
                self.path.display()
            );
        });
    }

    /// Read, change and write back under the lock. A malformed file is left as it is (with a
    /// warning) and the change is not made.
    fn update<T: Default>(&self, change: impl FnOnce(&mut Records) -> T) -> Result<T> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let _lock = lock_beside(&self.path)?;
        let mut records = match self.read()? {
            Loaded::Records(records) => records,
            Loaded::Malformed(why) => {
                self.warn_malformed(&why);
                return Ok(T::default());
            }
        };
        let result = change(&mut records);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        serde_json::to_writer_pretty(&mut tmp, &records)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(result)
    }
}

/// An exclusive lock on `<path>.lock`, waited for as the original did; held while the returned
/// file is open.
pub(crate) fn lock_beside(path: &Path) -> Result<File> {
    let mut lock_path = path.to_path_buf().into_os_string();
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

/// An empty file is no records; anything else must be a JSON object keyed by image.
fn parse(text: &str) -> Result<Records> {
    if text.trim().is_empty() {
        return Ok(Records::new());
    }
    match serde_json::from_str(text)? {
        Value::Object(records) => Ok(records),
        other => bail!("expected an object keyed by image, found {}", kind(&other)),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The records under one key: a list, or the legacy single record.
fn entries(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(list) => list.iter().collect(),
        single => vec![single],
    }
}

/// A record's string field, if it has one.
fn field<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry.get(name).and_then(Value::as_str)
}

/// Does this record name the image with this ID? A record without an ID names none.
fn has_id(entry: &Value, id: &str) -> bool {
    field(entry, "id").is_some_and(|recorded| same_id(recorded, id))
}

/// Image IDs compare with or without their `sha256:` prefix; an empty one matches nothing.
fn same_id(a: &str, b: &str) -> bool {
    let bare = |s: &str| s.strip_prefix("sha256:").unwrap_or(s).to_string();
    !a.is_empty() && !b.is_empty() && bare(a) == bare(b)
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

    fn write(db: &InstallDb, text: &str) {
        std::fs::create_dir_all(db.path().parent().unwrap()).unwrap();
        std::fs::write(db.path(), text).unwrap();
    }

    /// Regression: atomic refused every run and install on a host whose install.json held what
    /// the original's test harness writes ("missing field 'id'").
    #[test]
    fn records_of_the_original_with_other_fields_are_read_and_kept() {
        let (_dir, db) = db();
        write(
            &db,
            r#"{"atomic-test-1": {"install_id": "42"}, "odd": [{"id": 5, "x": [1]}]}"#,
        );
        assert!(db.is_installed("atomic-test-1", "sha256:feed").unwrap());
        assert!(db.is_installed("atomic-test-1:latest", "").unwrap());
        assert!(!db.is_installed("atomic-test-2", "sha256:feed").unwrap());
        assert!(
            !db.is_installed("other", "").unwrap(),
            "no ID matches an empty one"
        );
        db.record("atomic-test-2", "sha256:beef", "t2").unwrap();
        let text = std::fs::read_to_string(db.path()).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["atomic-test-1"], json!({"install_id": "42"}), "{text}");
        assert_eq!(v["odd"], json!([{"id": 5, "x": [1]}]), "{text}");
        assert_eq!(v["atomic-test-2"][0]["container_name"], "t2", "{text}");
        assert!(
            db.is_installed("renamed", "beef").unwrap(),
            "IDs match without sha256:"
        );
        // A record naming no container is one of any name.
        assert!(
            db.remove("atomic-test-1", "sha256:feed", Some("c"))
                .unwrap()
        );
        assert!(!db.is_installed("atomic-test-1", "").unwrap());
        assert!(db.is_installed("odd", "").unwrap());
    }

    #[test]
    fn a_malformed_file_is_ignored_with_a_warning_and_left_alone() {
        let (_dir, db) = db();
        for text in ["{not json", "[1, 2]", "\"img\""] {
            write(&db, text);
            assert!(!db.is_installed("img", "id").unwrap(), "{text}");
            db.record("img", "id", "n").unwrap();
            assert!(!db.remove("img", "id", None).unwrap(), "{text}");
            assert_eq!(std::fs::read_to_string(db.path()).unwrap(), text);
        }
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

//! Container records: what atomic knows about each container of the built-in engine.
//!
//! ```text
//! STORE/containers/
//! ├── names.lock            held while a container is created or removed (names are unique)
//! └── <id>/                 one directory per container: also its OCI bundle
//!     ├── container.json    the record (below), replaced by rename
//!     ├── config.json       the OCI runtime config
//!     ├── lock              held while the container is started, stopped or removed
//!     ├── rootfs/ upper/ work/   the overlay (see `rootfs.rs`)
//!     ├── hosts hostname resolv.conf   bind-mounted into the container
//!     ├── netns             its network namespace, kept while its network is up
//!     └── container-json.log   a detached container's output (json-file log driver)
//! ```
//!
//! The record says what atomic last did; the runtime says what is true now. A record can say
//! "running" after the atomic that ran the container was killed: [`Record::status`] asks the
//! runtime's answer before believing it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use atomic_store::lock::{Lock, Mode};

const RECORD: &str = "container.json";

/// A container as atomic recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// The image's ID (its config digest, hex), as `images list` shows it.
    pub image_id: String,
    /// The manifest the container was created from: pinned in the store while it exists.
    pub manifest_digest: String,
    /// RFC 3339.
    pub created: String,
    /// The process the container runs (entrypoint and command).
    pub command: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The image's layer directories, bottom first: what the root filesystem is made of.
    pub layers: Vec<PathBuf>,
    pub tty: bool,
    pub interactive: bool,
    /// `--rm`: removed when its process ends.
    pub auto_remove: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    #[serde(default)]
    pub restart: Restart,
    /// The OCI runtime program (runc by default).
    pub runtime: String,
    /// Where a detached run's output goes (`--log-driver`, `--log-opt tag=`); a record made
    /// before log drivers existed reads as json-file.
    #[serde(default)]
    pub log: crate::logs::LogConfig,
    pub state: Lifecycle,
    /// Its networks (address, published ports); None without one (`--network none|host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::network::Attachment>,
}

/// What atomic last did with the container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Lifecycle {
    Created,
    Running {
        started: String,
        /// Supervised by a detached `atomic` process (else by the `atomic` in the foreground).
        detached: bool,
    },
    Exited {
        /// None when the process that waited for it was killed first.
        code: Option<i32>,
        finished: String,
    },
}

/// A restart policy (`--restart`), carried out by the supervisor of a detached container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub enum Restart {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure {
        /// 0: no limit.
        max_retries: u32,
    },
}

impl Restart {
    /// Whether a process that ended with `code` starts again, after `restarts` restarts, unless
    /// the user stopped it.
    pub fn again(self, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            Restart::No => false,
            Restart::Always | Restart::UnlessStopped => true,
            Restart::OnFailure { max_retries } => {
                code != 0 && (max_retries == 0 || restarts < max_retries)
            }
        }
    }
}

/// The state a user sees, after asking the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
        }
    }
}

impl Record {
    /// The truth about this container, given the runtime's status word for it (`runc state`),
    /// None when the runtime does not know it: such a process has exited, whatever the record
    /// says.
    pub fn status(&self, runtime: Option<&str>) -> Status {
        match runtime {
            Some("running") => Status::Running,
            Some("paused") => Status::Paused,
            Some("created") | Some("creating") => Status::Created,
            Some(_) => Status::Exited,
            None => match self.state {
                Lifecycle::Created => Status::Created,
                _ => Status::Exited,
            },
        }
    }

    /// The exit code, when it is known.
    pub fn exit_code(&self) -> Option<i32> {
        match self.state {
            Lifecycle::Exited { code, .. } => code,
            _ => None,
        }
    }
}

/// The directory of container records.
#[derive(Debug, Clone)]
pub struct Containers {
    root: PathBuf,
}

impl Containers {
    /// `root` is `STORE/containers`; nothing is created until a container is.
    pub fn new(root: &Path) -> Containers {
        Containers {
            root: root.to_path_buf(),
        }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Hold while creating or removing containers: names stay unique.
    pub fn names_lock(&self) -> Result<Lock> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        Lock::acquire(
            &self.root.join("names.lock"),
            Mode::Exclusive,
            "another atomic creating or removing a container",
        )
    }

    /// Hold while changing one container's state (start, stop, remove).
    pub fn lock(&self, id: &str) -> Result<Lock> {
        Lock::acquire(
            &self.dir(id).join("lock"),
            Mode::Exclusive,
            "another atomic acting on this container",
        )
    }

    /// Create the directory and record of a new container. The caller holds [`Self::names_lock`].
    pub fn create(&self, record: &Record) -> Result<PathBuf> {
        if let Some(other) = self.find_by_name(&record.name)? {
            bail!(
                "the container name \"{}\" is already in use by container \"{}\". You have to \
                 remove (or rename) that container to be able to reuse that name",
                record.name,
                other.id
            );
        }
        let dir = self.dir(&record.id);
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.save(record)?;
        Ok(dir)
    }

    /// Replace the record (by rename: a reader sees the old one or the new one).
    pub fn save(&self, record: &Record) -> Result<()> {
        let dir = self.dir(&record.id);
        let tmp = dir.join(format!(".{RECORD}.{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(record)?;
        fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, dir.join(RECORD))
            .with_context(|| format!("saving the record of container {}", record.name))
    }

    pub fn load(&self, id: &str) -> Result<Record> {
        let path = self.dir(id).join(RECORD);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a container record", path.display()))
    }

    /// Every container; a damaged record is skipped with a warning (one bad directory must not
    /// hide the others).
    pub fn list(&self) -> Result<Vec<Record>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.root.display())),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_id(&name) {
                continue;
            }
            // A directory without a record is a create that was interrupted before it wrote
            // one; the next `containers delete --all` or prune does not see it, so skip it.
            if !entry.path().join(RECORD).exists() {
                continue;
            }
            match self.load(&name) {
                Ok(record) => out.push(record),
                Err(e) => tracing::warn!("skipping container {name}: {e:#}"),
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    fn find_by_name(&self, name: &str) -> Result<Option<Record>> {
        Ok(self.list()?.into_iter().find(|r| r.name == name))
    }

    /// A container by name, full ID or unique ID prefix (as docker resolves them).
    pub fn find(&self, query: &str) -> Result<Option<Record>> {
        let all = self.list()?;
        if let Some(r) = all.iter().find(|r| r.name == query || r.id == query) {
            return Ok(Some(r.clone()));
        }
        if query.is_empty() || !query.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut hits = all.into_iter().filter(|r| r.id.starts_with(query));
        let first = hits.next();
        if hits.next().is_some() {
            bail!("container ID prefix '{query}' is ambiguous; give more of the ID");
        }
        Ok(first)
    }

    /// Remove a container's directory, unmounting first whatever is mounted inside it
    /// (deepest first, lazily): deleting through a mount would delete what the mount shows.
    /// Nothing is deleted unless every unmount succeeded.
    pub fn remove_dir(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        for mount in crate::rootfs::mounts_under(&dir)? {
            rustix::mount::unmount(&mount, rustix::mount::UnmountFlags::DETACH).with_context(
                || {
                    format!(
                        "unmounting {}; not removing the container directory",
                        mount.display()
                    )
                },
            )?;
        }
        // Moved aside first: a process that still writes by the container's path (the
        // supervisor of a container just killed, saving its exit) then fails to find it,
        // instead of adding an entry while the tree is being deleted ("Directory not empty").
        // The new name is not an ID, so listings skip it.
        let aside = self.root.join(format!(".removing-{id}"));
        remove_tree(&aside)?;
        match fs::rename(&dir, &aside) {
            Ok(()) => remove_tree(&aside),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("moving {} aside", dir.display())),
        }
    }
}

/// Delete a directory tree; one already gone is fine.
fn remove_tree(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}

/// The 12-character form of an ID that docker prints; a shorter or odd one (from a file
/// edited by hand) is shown whole rather than cut inside a character.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A new container ID: 32 random bytes in hex, as docker's.
pub fn new_id() -> Result<String> {
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(hex::encode(bytes))
}

fn is_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A created container's record, for the tests of this crate.
    pub(crate) fn record(name: &str) -> Record {
        Record {
            id: new_id().unwrap(),
            name: name.into(),
            image: "busybox".into(),
            image_id: "ab".repeat(32),
            manifest_digest: format!("sha256:{}", "cd".repeat(32)),
            created: now(),
            command: vec!["sh".into()],
            labels: BTreeMap::new(),
            layers: vec![],
            tty: false,
            interactive: false,
            auto_remove: false,
            stop_signal: None,
            stop_timeout: None,
            restart: Restart::No,
            runtime: "runc".into(),
            log: Default::default(),
            state: Lifecycle::Created,
            network: None,
        }
    }

    #[test]
    fn names_are_unique_and_lookups_take_names_ids_and_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::new(dir.path());
        let a = record("a");
        c.create(&a).unwrap();
        let err = c.create(&record("a")).unwrap_err().to_string();
        assert!(err.contains("already in use"), "{err}");
        assert_eq!(c.find("a").unwrap().unwrap().id, a.id);
        assert_eq!(c.find(&a.id).unwrap().unwrap().name, "a");
        assert_eq!(c.find(&a.id[..8]).unwrap().unwrap().name, "a");
        assert!(c.find("other").unwrap().is_none());
        // A hex name that is no one's name is an ID prefix: none here starts with it.
        let not_a_prefix = if a.id.starts_with('b') { "c" } else { "b" };
        assert!(c.find(not_a_prefix).unwrap().is_none());
        assert!(c.find("../etc").unwrap().is_none());
    }

    #[test]
    fn a_damaged_record_does_not_hide_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::new(dir.path());
        c.create(&record("good")).unwrap();
        let bad = record("bad");
        c.create(&bad).unwrap();
        fs::write(c.dir(&bad.id).join(RECORD), "{not json").unwrap();
        let names: Vec<String> = c.list().unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["good"]);
    }

    #[test]
    fn a_removal_is_not_undone_by_a_process_still_writing_there() {
        // As the supervisor of a container just killed does: it saves the exit by the
        // container's path while another atomic deletes the directory.
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::new(dir.path());
        let r = record("busy");
        let path = c.create(&r).unwrap();
        for i in 0..2000 {
            fs::write(path.join(format!("old-{i}")), b"x").unwrap();
        }
        let first = path.join("new-0");
        let writer = std::thread::spawn(move || {
            let mut written = 0;
            while fs::write(path.join(format!("new-{written}")), b"x").is_ok() {
                written += 1;
            }
        });
        while !first.exists() {
            std::thread::yield_now();
        }
        c.remove_dir(&r.id).unwrap();
        writer.join().unwrap();
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn the_runtime_is_believed_over_the_record() {
        let mut r = record("x");
        r.state = Lifecycle::Running {
            started: now(),
            detached: false,
        };
        // The atomic that ran it was killed and the process ended: the runtime forgot it.
        assert_eq!(r.status(None), Status::Exited);
        assert_eq!(r.status(Some("running")), Status::Running);
        assert_eq!(r.status(Some("stopped")), Status::Exited);
        assert_eq!(record("y").status(None), Status::Created);
    }

    #[test]
    fn restart_policies() {
        use Restart::*;
        let cases = [
            (No, 1, 0, false, false),
            (Always, 0, 5, false, true),
            (Always, 1, 0, true, false),
            (UnlessStopped, 0, 0, false, true),
            (OnFailure { max_retries: 0 }, 0, 0, false, false),
            (OnFailure { max_retries: 0 }, 3, 100, false, true),
            (OnFailure { max_retries: 2 }, 3, 1, false, true),
            (OnFailure { max_retries: 2 }, 3, 2, false, false),
        ];
        for (policy, code, restarts, stopped, want) in cases {
            assert_eq!(
                policy.again(code, restarts, stopped),
                want,
                "{policy:?} code {code} after {restarts}"
            );
        }
    }
}

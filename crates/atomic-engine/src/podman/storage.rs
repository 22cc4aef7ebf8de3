//! A read-only reader of Podman's image store (containers/storage), so that lookups, listings
//! and label reads cost no `podman` process (~40 ms of Go start-up and locking each).
//!
//! # What it reads, and why that is safe
//!
//! * **Where the store is**: `storage.conf` exactly as containers/storage finds it —
//!   `$CONTAINERS_STORAGE_CONF` if set; else, for root, `/etc/containers/storage.conf` or else
//!   `/usr/share/containers/storage.conf`; for other users `~/.config/containers/storage.conf`
//!   first. Keys used: `[storage] driver, graphroot, runroot, rootless_storage_path`. With no
//!   file, the compiled-in defaults (`/var/lib/containers/storage`, `/run/containers/storage`;
//!   rootless `~/.local/share/containers/storage`, `$XDG_RUNTIME_DIR/containers`).
//! * **Only the overlay driver** (named, or found as the only driver directory in graphroot, as
//!   containers/storage picks a driver when none is named) and only a store with no additional
//!   image stores, no `STORAGE_DRIVER`/`STORAGE_OPTS` override and none of the newer layouts
//!   (`imagestore`, `transient_store`). Anything else is a [`Doubt`].
//! * **`overlay-images/images.json`** (IDs, names, digest, top layer, big-data names, sizes and
//!   digests, created), **`overlay-layers/layers.json`** (parent, diff digest and size, flags),
//!   **`overlay-containers/containers.json`** (IDs, names, image IDs). Each record is parsed
//!   with the complete field list of containers/storage 1.43 (Podman 4.3) and unknown fields
//!   refused: a newer file version is a doubt, never a misreading.
//! * **Big data** (an image's manifest and config): `overlay-images/<id>/<name>`, where `<name>`
//!   is the key itself when it is only `[a-z0-9.]`, else `=` + standard base64 of the key
//!   (containers/storage `makeBigDataBaseName`). The config is the manifest's `config.digest`
//!   key, and its bytes are checked against that digest.
//! * **Layer files**: `overlay/<layer>/diff`, whiteouts and opaque directories as overlayfs
//!   writes them — the same format as the native store's layers.
//!
//! containers/storage never rewrites these JSON files in place: it writes a temporary file and
//! renames it over the old one, so a read sees a whole old or a whole new file. Across files it
//! relies on its lock files, and so does this reader: it holds a POSIX read lock (`fcntl
//! F_SETLKW F_RDLCK` on the whole file, as containers/storage's `RLock`) on `layers.lock`,
//! `images.lock` and `containers.lock`, taken in that order — the order its writers take
//! them, so a reader and a writer cannot deadlock — for as long as a [`Snapshot`] lives.
//!
//! The reader never writes, creates or repairs anything; when it is not sure of an answer it
//! says so ([`Doubt`]) and the caller asks the `podman` command instead.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Why the reader will not answer: the caller falls back to the `podman` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doubt(pub String);

impl fmt::Display for Doubt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Doubt {}

/// `Err(Doubt)` from anything that can be formatted.
pub(crate) fn doubt<T>(why: impl fmt::Display) -> Result<T, Doubt> {
    Err(Doubt(why.to_string()))
}

pub type Sure<T> = Result<T, Doubt>;

/// The drivers containers/storage may find in a graphroot when storage.conf names none.
const DRIVER_DIRS: [&str; 7] = [
    "aufs",
    "btrfs",
    "devicemapper",
    "overlay",
    "vfs",
    "zfs",
    "windowsfilter",
];

/// Where Podman's store is, from storage.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    pub graphroot: PathBuf,
    pub runroot: PathBuf,
    /// Running as a user other than root: files from a rootless store (no layer reads).
    pub rootless: bool,
}

/// What the reader needs of storage.conf.
#[derive(Debug, Default, Deserialize)]
struct StorageConf {
    #[serde(default)]
    storage: StorageSection,
}

#[derive(Debug, Default, Deserialize)]
struct StorageSection {
    driver: Option<String>,
    graphroot: Option<String>,
    runroot: Option<String>,
    rootless_storage_path: Option<String>,
    imagestore: Option<String>,
    #[serde(default)]
    transient_store: bool,
    #[serde(default)]
    options: StorageOptions,
}

#[derive(Debug, Default, Deserialize)]
struct StorageOptions {
    #[serde(default)]
    additionalimagestores: Vec<String>,
    #[serde(default)]
    overlay: OverlayOptions,
}

#[derive(Debug, Default, Deserialize)]
struct OverlayOptions {
    #[serde(default)]
    additionalimagestores: Vec<String>,
}

/// The environment the store's location depends on, gathered once so that finding the store is
/// a pure function (and tested as one).
#[derive(Debug, Clone, Default)]
pub struct StoreEnv {
    pub euid_is_root: bool,
    pub storage_conf: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `STORAGE_DRIVER` or `STORAGE_OPTS` is set: containers/storage lets them override the file.
    pub overridden: bool,
}

impl StoreEnv {
    pub fn from_process() -> StoreEnv {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        StoreEnv {
            euid_is_root: rustix::process::geteuid().is_root(),
            storage_conf: var("CONTAINERS_STORAGE_CONF"),
            home: var("HOME"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            xdg_data_home: var("XDG_DATA_HOME"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            overridden: var("STORAGE_DRIVER").is_some() || var("STORAGE_OPTS").is_some(),
        }
    }

    /// The storage.conf containers/storage reads, if any exists.
    fn conf_file(&self) -> Option<PathBuf> {
        if let Some(path) = &self.storage_conf {
            return Some(path.clone());
        }
        let mut candidates = Vec::new();
        if !self.euid_is_root
            && let Some(dir) = self.config_home()
        {
            candidates.push(dir.join("containers/storage.conf"));
        }
        candidates.push(PathBuf::from("/etc/containers/storage.conf"));
        candidates.push(PathBuf::from("/usr/share/containers/storage.conf"));
        candidates.into_iter().find(|p| p.is_file())
    }

    fn config_home(&self) -> Option<PathBuf> {
        self.xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))
    }
}

/// Find the store: storage.conf's answer, or a doubt when the store is one this reader does not
/// read. (Reading the file is I/O; what it means is decided in [`locate_from`].)
pub fn locate(env: &StoreEnv) -> Sure<StoreLocation> {
    let conf = match env.conf_file() {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => Some((path, text)),
            // $CONTAINERS_STORAGE_CONF naming a missing file is an error for podman.
            Err(e) => return doubt(format!("cannot read {}: {e}", path.display())),
        },
        None => None,
    };
    let location = locate_from(env, conf.as_ref().map(|(p, t)| (p.as_path(), t.as_str())))?;
    let driver_dirs: Vec<&str> = DRIVER_DIRS
        .iter()
        .copied()
        .filter(|d| location.0.graphroot.join(d).is_dir())
        .collect();
    match location.1 {
        Some(driver) if driver == "overlay" || driver == "overlay2" => {}
        Some(other) => return doubt(format!("storage driver '{other}' is not overlay")),
        // No driver named: containers/storage keeps using the one whose directory exists.
        None if driver_dirs == ["overlay"] => {}
        None => {
            return doubt(format!(
                "storage.conf names no driver and {} holds driver directories {driver_dirs:?}",
                location.0.graphroot.display()
            ));
        }
    }
    Ok(location.0)
}

/// storage.conf's text (if there is a file) → where the store is and the driver it names.
pub(crate) fn locate_from(
    env: &StoreEnv,
    conf: Option<(&Path, &str)>,
) -> Sure<(StoreLocation, Option<String>)> {
    if env.overridden {
        return doubt("STORAGE_DRIVER or STORAGE_OPTS overrides storage.conf");
    }
    let parsed: StorageConf = match conf {
        Some((path, text)) => match toml::from_str(text) {
            Ok(c) => c,
            Err(e) => return doubt(format!("cannot parse {}: {e}", path.display())),
        },
        None => StorageConf::default(),
    };
    let s = parsed.storage;
    if s.imagestore.is_some() || s.transient_store {
        return doubt(
            "storage.conf uses imagestore or transient_store, which this reader does not read",
        );
    }
    if !s.options.additionalimagestores.is_empty()
        || !s.options.overlay.additionalimagestores.is_empty()
    {
        return doubt("storage.conf names additional image stores");
    }
    let (graphroot, runroot) = if env.euid_is_root {
        (
            s.graphroot
                .unwrap_or_else(|| "/var/lib/containers/storage".into()),
            s.runroot
                .unwrap_or_else(|| "/run/containers/storage".into()),
        )
    } else {
        // The file's own paths apply when the file is the user's, not the system's.
        let own_file = conf.is_some_and(|(path, _)| {
            env.storage_conf.as_deref() == Some(path)
                || env.config_home().is_some_and(|home| path.starts_with(home))
        });
        rootless_roots(env, own_file, &s)?
    };
    for path in [&graphroot, &runroot] {
        if path.contains('$') || !path.starts_with('/') {
            return doubt(format!("store path '{path}' needs expanding"));
        }
    }
    let driver = s.driver.filter(|d| !d.is_empty());
    Ok((
        StoreLocation {
            graphroot: PathBuf::from(graphroot),
            runroot: PathBuf::from(runroot),
            rootless: !env.euid_is_root,
        },
        driver,
    ))
}

/// A user's store: the file's paths only when the file is the user's own
/// (`$CONTAINERS_STORAGE_CONF`); the system file's graphroot is root's, so a user gets
/// `rootless_storage_path` or `~/.local/share/containers/storage`.
fn rootless_roots(env: &StoreEnv, own_file: bool, s: &StorageSection) -> Sure<(String, String)> {
    let data_home = env
        .xdg_data_home
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".local/share")));
    let default_graph = data_home.map(|d| d.join("containers/storage").display().to_string());
    let graphroot = match (own_file, &s.graphroot, &s.rootless_storage_path) {
        (true, Some(g), _) => Some(g.clone()),
        (_, _, Some(r)) => Some(r.clone()),
        _ => default_graph,
    };
    let runroot = match (own_file, &s.runroot) {
        (true, Some(r)) => Some(r.clone()),
        _ => env
            .xdg_runtime_dir
            .as_ref()
            .map(|d| d.join("containers").display().to_string()),
    };
    match (graphroot, runroot) {
        (Some(g), Some(r)) => Ok((g, r)),
        _ => doubt("no HOME or XDG_RUNTIME_DIR to find the rootless store"),
    }
}

/// A read lock on one of containers/storage's lock files, released when dropped (closing the
/// file releases this process's POSIX locks on it).
struct ReadLock {
    _file: File,
}

impl ReadLock {
    fn take(path: &Path) -> Sure<ReadLock> {
        // Read-only: a reader never creates a lock file (a missing one means a store podman has
        // not set up, which podman itself should answer for).
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return doubt(format!("cannot open {}: {e}", path.display())),
        };
        // A POSIX (fcntl) lock, not std's `File::lock` (flock): containers/storage locks its
        // files with fcntl, and the two kinds of lock do not see each other on Linux.
        match rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::LockShared) {
            Ok(()) => Ok(ReadLock { _file: file }),
            Err(e) => doubt(format!("cannot read-lock {}: {e}", path.display())),
        }
    }
}

/// An image record of `images.json` (containers/storage 1.43's `Image`, every field).
// Every field is declared, used or not, so that a field this reader does not know is noticed.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredImage {
    pub id: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default, rename = "names-history")]
    pub names_history: Vec<String>,
    #[serde(default)]
    pub layer: String,
    #[serde(default, rename = "mapped-layers")]
    pub mapped_layers: Vec<String>,
    #[serde(default)]
    pub metadata: String,
    #[serde(default, rename = "big-data-names")]
    pub big_data_names: Vec<String>,
    #[serde(default, rename = "big-data-sizes")]
    pub big_data_sizes: HashMap<String, i64>,
    #[serde(default, rename = "big-data-digests")]
    pub big_data_digests: HashMap<String, String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub flags: HashMap<String, serde_json::Value>,
}

/// A layer record of `layers.json` (containers/storage 1.43's `Layer`, every field).
// Every field is declared, used or not, so that a field this reader does not know is noticed.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredLayer {
    pub id: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub metadata: String,
    #[serde(default)]
    pub mountlabel: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default, rename = "compressed-diff-digest")]
    pub compressed_diff_digest: String,
    #[serde(default, rename = "compressed-size")]
    pub compressed_size: i64,
    #[serde(default, rename = "diff-digest")]
    pub diff_digest: String,
    #[serde(default, rename = "diff-size")]
    pub diff_size: i64,
    #[serde(default)]
    pub compression: i64,
    #[serde(default)]
    pub uidset: Vec<u32>,
    #[serde(default)]
    pub gidset: Vec<u32>,
    #[serde(default)]
    pub flags: HashMap<String, serde_json::Value>,
    #[serde(default)]
    pub uidmap: Vec<serde_json::Value>,
    #[serde(default)]
    pub gidmap: Vec<serde_json::Value>,
    #[serde(default, rename = "big-data-names")]
    pub big_data_names: Vec<String>,
}

impl StoredLayer {
    /// containers/storage marks a layer `incomplete` until its contents are in place.
    pub fn incomplete(&self) -> bool {
        matches!(
            self.flags.get("incomplete"),
            Some(serde_json::Value::Bool(true))
        )
    }
}

/// A container record of `containers.json` (containers/storage 1.43's `Container`).
// Every field is declared, used or not, so that a field this reader does not know is noticed.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredContainer {
    pub id: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub layer: String,
    #[serde(default)]
    pub metadata: String,
    #[serde(default, rename = "big-data-names")]
    pub big_data_names: Vec<String>,
    #[serde(default, rename = "big-data-sizes")]
    pub big_data_sizes: HashMap<String, i64>,
    #[serde(default, rename = "big-data-digests")]
    pub big_data_digests: HashMap<String, String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub uidmap: Vec<serde_json::Value>,
    #[serde(default)]
    pub gidmap: Vec<serde_json::Value>,
    #[serde(default)]
    pub flags: HashMap<String, serde_json::Value>,
}

/// Which of the store's three files a snapshot needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parts {
    pub images: bool,
    pub layers: bool,
    pub containers: bool,
}

/// The store's records as of one moment, with the read locks that keep them true while the
/// snapshot lives (layer files are read under them too).
pub struct Snapshot {
    pub location: StoreLocation,
    pub images: Vec<StoredImage>,
    pub layers: HashMap<String, StoredLayer>,
    pub containers: Vec<StoredContainer>,
    _locks: Vec<ReadLock>,
}

impl Snapshot {
    /// Lock and read the parts asked for, in containers/storage's lock order.
    pub fn read(location: &StoreLocation, parts: Parts) -> Sure<Snapshot> {
        let root = &location.graphroot;
        let mut locks = Vec::new();
        let mut layers = HashMap::new();
        let mut images = Vec::new();
        let mut containers = Vec::new();
        if parts.layers {
            locks.push(ReadLock::take(&root.join("overlay-layers/layers.lock"))?);
            let list: Vec<StoredLayer> = read_records(&root.join("overlay-layers/layers.json"))?;
            for layer in list {
                if let Some(dup) = layers.insert(layer.id.clone(), layer) {
                    return doubt(format!("layer {} is recorded twice", dup.id));
                }
            }
        }
        if parts.images {
            locks.push(ReadLock::take(&root.join("overlay-images/images.lock"))?);
            images = read_records(&root.join("overlay-images/images.json"))?;
            check_image_names(&images)?;
        }
        if parts.containers {
            locks.push(ReadLock::take(
                &root.join("overlay-containers/containers.lock"),
            )?);
            containers = read_records(&root.join("overlay-containers/containers.json"))?;
        }
        Ok(Snapshot {
            location: location.clone(),
            images,
            layers,
            containers,
            _locks: locks,
        })
    }

    /// An image's big-data item (manifest, config…), read under the images lock.
    pub fn big_data(&self, image: &StoredImage, key: &str) -> Sure<Vec<u8>> {
        if !image.big_data_names.iter().any(|n| n == key) {
            return doubt(format!("image {} has no big-data item '{key}'", image.id));
        }
        let path = self
            .location
            .graphroot
            .join("overlay-images")
            .join(checked_id(&image.id)?)
            .join(big_data_file_name(key));
        std::fs::read(&path).or_else(|e| doubt(format!("cannot read {}: {e}", path.display())))
    }

    /// The image's layers from the top down; every one must be recorded and complete.
    pub fn layer_chain(&self, image: &StoredImage) -> Sure<Vec<&StoredLayer>> {
        if image.layer.is_empty() {
            return doubt(format!(
                "image {} has no top layer (a manifest list?)",
                image.id
            ));
        }
        if !image.mapped_layers.is_empty() {
            return doubt(format!("image {} has ID-mapped layers", image.id));
        }
        let mut chain = Vec::new();
        let mut next = image.layer.as_str();
        while !next.is_empty() {
            let Some(layer) = self.layers.get(next) else {
                return doubt(format!(
                    "layer {next} of image {} is not recorded",
                    image.id
                ));
            };
            if layer.incomplete() {
                return doubt(format!("layer {next} is incomplete"));
            }
            if chain.len() > self.layers.len() {
                return doubt(format!("the layers of image {} form a loop", image.id));
            }
            chain.push(layer);
            next = &layer.parent;
        }
        Ok(chain)
    }

    /// The directory holding a layer's files (overlay's `diff`).
    pub fn layer_dir(&self, layer: &StoredLayer) -> Sure<PathBuf> {
        Ok(self
            .location
            .graphroot
            .join("overlay")
            .join(checked_id(&layer.id)?)
            .join("diff"))
    }
}

/// containers/storage's `makeBigDataBaseName`: a key of only `[a-z0-9.]` is its own file name;
/// any other is `=` followed by the standard (padded) base64 of the key.
pub fn big_data_file_name(key: &str) -> String {
    use base64::Engine as _;
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b == b'.' || b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        key.to_string()
    } else if key.is_empty() {
        String::new()
    } else {
        format!("={}", base64::engine::general_purpose::STANDARD.encode(key))
    }
}

/// An ID used as a path component must be one: 64 hex digits.
fn checked_id(id: &str) -> Sure<&str> {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        doubt(format!("'{id}' is not an ID of the store"))
    }
}

/// A JSON list of records; a missing file is an empty list (containers/storage's reading), a
/// file that does not parse (or has fields this reader does not know) is a doubt.
fn read_records<T: DeserializeOwned>(path: &Path) -> Sure<Vec<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return doubt(format!("cannot read {}: {e}", path.display())),
    };
    parse_records(&bytes).map_err(|e| Doubt(format!("{}: {e}", path.display())))
}

pub(crate) fn parse_records<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("not a file this reader knows: {e}"))
}

/// containers/storage resolves two images claiming one name by moving the name on its next
/// write; until then the file is not one to answer from.
fn check_image_names(images: &[StoredImage]) -> Sure<()> {
    let mut seen = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for image in images {
        if !ids.insert(image.id.as_str()) {
            return doubt(format!("image {} is recorded twice", image.id));
        }
        for name in &image.names {
            if !seen.insert(name.as_str()) {
                return doubt(format!("two images claim the name {name}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_data_names_are_encoded_as_containers_storage_does() {
        // File names seen in a real store (podman 4.3).
        assert_eq!(big_data_file_name("manifest"), "manifest");
        assert_eq!(
            big_data_file_name(
                "sha256:297ddfb0d12f57709a25c1748c9272ebfdd91964032827f204507559220fc3ff"
            ),
            "=c2hhMjU2OjI5N2RkZmIwZDEyZjU3NzA5YTI1YzE3NDhjOTI3MmViZmRkOTE5NjQwMzI4MjdmMjA0NTA3NTU5MjIwZmMzZmY="
        );
        assert_eq!(
            big_data_file_name(
                "signature-6b9b97f43e730fb4aae607021bbbb78b052d62a5659cd8e4df83f655d23b56c2"
            ),
            "=c2lnbmF0dXJlLTZiOWI5N2Y0M2U3MzBmYjRhYWU2MDcwMjFiYmJiNzhiMDUyZDYyYTU2NTljZDhlNGRmODNmNjU1ZDIzYjU2YzI="
        );
        // Upper case, '-' and ':' are outside [a-z0-9.].
        assert_eq!(big_data_file_name("a.b9"), "a.b9");
        assert_eq!(big_data_file_name("A"), "=QQ==");
    }

    fn root_env() -> StoreEnv {
        StoreEnv {
            euid_is_root: true,
            ..StoreEnv::default()
        }
    }

    #[test]
    fn storage_conf_decides_the_store() {
        let (loc, driver) = locate_from(&root_env(), None).unwrap();
        assert_eq!(loc.graphroot, Path::new("/var/lib/containers/storage"));
        assert_eq!(loc.runroot, Path::new("/run/containers/storage"));
        assert_eq!(driver, None);

        let conf = "[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/g\"\nrunroot = \"/run/r\"\n\
                    [storage.options.overlay]\nmountopt = \"nodev\"\n";
        let (loc, driver) = locate_from(&root_env(), Some((Path::new("s.conf"), conf))).unwrap();
        assert_eq!(loc.graphroot, Path::new("/srv/g"));
        assert_eq!(driver.as_deref(), Some("overlay"));

        // A user with only the system file gets a store of their own.
        let user = StoreEnv {
            home: Some("/home/u".into()),
            xdg_runtime_dir: Some("/run/user/1000".into()),
            ..StoreEnv::default()
        };
        let (loc, _) = locate_from(&user, Some((Path::new("s.conf"), conf))).unwrap();
        assert_eq!(
            loc.graphroot,
            Path::new("/home/u/.local/share/containers/storage")
        );
        assert_eq!(loc.runroot, Path::new("/run/user/1000/containers"));
        assert!(loc.rootless);
    }

    #[test]
    fn stores_the_reader_does_not_know_are_doubts() {
        for conf in [
            "[storage]\nimagestore = \"/x\"\n",
            "[storage]\ntransient_store = true\n",
            "[storage.options]\nadditionalimagestores = [\"/ro\"]\n",
            "[storage]\ngraphroot = \"$HOME/x\"\n",
            "not toml [",
        ] {
            assert!(
                locate_from(&root_env(), Some((Path::new("s.conf"), conf))).is_err(),
                "{conf}"
            );
        }
        let overridden = StoreEnv {
            overridden: true,
            ..root_env()
        };
        assert!(locate_from(&overridden, None).is_err());
    }

    #[test]
    fn records_with_unknown_fields_are_doubts() {
        let known = br#"[{"id":"a","names":["x"],"layer":"l","created":"2024-01-01T00:00:00Z"}]"#;
        assert_eq!(parse_records::<StoredImage>(known).unwrap().len(), 1);
        let newer = br#"[{"id":"a","some-future-field":1}]"#;
        assert!(parse_records::<StoredImage>(newer).is_err());
        assert!(parse_records::<StoredImage>(b"[{\"id\":").is_err());
        assert!(parse_records::<StoredImage>(b"").unwrap().is_empty());
    }

    #[test]
    fn a_name_claimed_twice_is_a_doubt() {
        let images: Vec<StoredImage> = parse_records(
            br#"[{"id":"a","names":["localhost/x:latest"]},{"id":"b","names":["localhost/x:latest"]}]"#,
        )
        .unwrap();
        assert!(check_image_names(&images).is_err());
    }
}

//! Regression tests of the native store's recovery from damage (findings 7 and 8 of the
//! hardening review; the others are in `hardening.rs`), through the real binary: a 2040-deep
//! path verified, damaged index entries reported, deleted and pruned, `images verify
//! --repair`, and a full disk (a small tmpfs store).

mod common;

use std::path::PathBuf;
use std::process::Command;

use atomic_testsupport::{ImageSpec, LayerSpec};
use common::native::{ok, pull_oci, run};
use common::{World, stderr, stdout};

/// The unpacked layer directory that holds `inner` (a path inside the image).
fn layer_holding(world: &World, inner: &str) -> PathBuf {
    common::native::layer_dirs(world)
        .into_iter()
        .find(|d| d.join(inner).exists())
        .unwrap_or_else(|| panic!("no layer holds {inner}"))
}

/// Finding 7 (damaged entry): an index entry whose manifest blob is missing made every
/// `images delete` and gc fail. Now it is reported, other images are deleted as usual, and
/// `images prune` removes the entry.
#[test]
fn damaged_index_entry_is_reported_and_pruned() {
    let world = World::new();
    let damaged = pull_oci(&world, &ImageSpec::new("i13-damaged"));
    let other = pull_oci(&world, &ImageSpec::new("i13-other").label("x", "y"));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.store_root().join("index.json")).unwrap())
            .unwrap();
    let digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"] == damaged.name.as_str())
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(
        world
            .store_root()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap();

    let out = run(
        &world,
        &["images", "delete", "-y", "--storage", "native", &other.name],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("is damaged"), "{}", stderr(&out));

    let out = run(&world, &["images", "prune", "--storage", "native"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Removed damaged entry"),
        "{}",
        stderr(&out)
    );
    let index = std::fs::read_to_string(world.store_root().join("index.json")).unwrap();
    assert!(!index.contains(&digest), "{index}");
    let out = run(&world, &["images", "list", "--storage", "native"]);
    assert!(
        out.status.success() && stderr(&out).is_empty(),
        "{}",
        stderr(&out)
    );
}

/// Finding 7 (deep paths): `images verify` failed with ENAMETOOLONG on a 2040-deep file that
/// pull, run and mount handle (its path is longer than PATH_MAX once the store root is in
/// front of it). verify walks with directory fds now: the intact image verifies, and a change
/// to the deep file is reported.
#[test]
fn deep_path_is_verified() {
    const DEPTH: usize = 2040;
    let world = World::new();
    let deep = format!("/{}f", "d/".repeat(DEPTH));
    let spec = ImageSpec::new("i13-deep").layer(LayerSpec::new().file(deep, "deep\n", 0o644));
    let img = pull_oci(&world, &spec);
    ok(
        &world,
        &["images", "verify", "--storage", "native", &img.name],
    );

    // Change the deep file the only way a path string cannot: through the directory opened
    // so far (/proc/self/fd/N), 500 levels at a time.
    let layer = common::native::layer_dirs(&world)
        .into_iter()
        .find(|d| d.join("d").is_dir())
        .expect("the deep layer");
    let mut dir = std::fs::File::open(&layer).unwrap();
    for _ in 0..DEPTH / 500 {
        dir = std::fs::File::open(fd_path(&dir, &"d/".repeat(500))).unwrap();
    }
    let rest = format!("{}f", "d/".repeat(DEPTH % 500));
    std::fs::write(fd_path(&dir, &rest), "DEEP\n").unwrap();

    let out = run(
        &world,
        &["images", "verify", "--storage", "native", &img.name],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("MODIFIED (1 change(s))"), "{shown}");
    assert!(shown.contains("/d/d/f: content changed"), "{shown}");
    assert!(!stderr(&out).contains("too long"), "{}", stderr(&out));
}

/// `rel` below an open directory, as a path the kernel resolves from that directory.
fn fd_path(dir: &std::fs::File, rel: &str) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}/{rel}", dir.as_raw_fd()))
}

/// The index entry named `name`'s manifest digest (hex) and the blob file of its last layer.
fn manifest_and_top_blob(world: &World, name: &str) -> (String, PathBuf) {
    let blobs = world.store_root().join("blobs/sha256");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.store_root().join("index.json")).unwrap())
            .unwrap();
    let digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blobs.join(&digest)).unwrap()).unwrap();
    let top = manifest["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    (digest, blobs.join(top))
}

fn index_text(world: &World) -> String {
    std::fs::read_to_string(world.store_root().join("index.json")).unwrap()
}

/// Finding 7 (damaged entry, by name): an entry whose manifest blob is missing is reported by
/// `images verify NAME`, and `images delete NAME` finds it by its name and removes it (no
/// lookup of images can: there is no image to load).
#[test]
fn damaged_index_entry_is_verified_and_deleted_by_name() {
    let world = World::new();
    let damaged = pull_oci(&world, &ImageSpec::new("i13-damaged-name"));
    let (manifest, _) = manifest_and_top_blob(&world, &damaged.name);
    std::fs::remove_file(world.store_root().join("blobs/sha256").join(&manifest)).unwrap();

    let out = run(&world, &["images", "verify", &damaged.name]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("manifest    sha256:{}  MISSING", &manifest[..12])),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("--repair"), "{}", stderr(&out));
    // --all names it too (from the index: its blobs cannot be loaded).
    let out = run(&world, &["images", "verify", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{}\n  manifest", damaged.name)),
        "{}",
        stdout(&out)
    );

    let out = run(&world, &["images", "delete", "-y", &damaged.name]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{} (damaged)", damaged.name)),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!("Untagged: {}", damaged.name)),
        "{}",
        stdout(&out)
    );
    assert!(
        !index_text(&world).contains(&manifest),
        "{}",
        index_text(&world)
    );
    let out = run(&world, &["images", "delete", "-y", &damaged.name]);
    assert!(!out.status.success(), "a second delete finds nothing");
}

/// Finding 7 (`images verify --repair`): each kind of damage gets its repair, and nothing
/// intact is touched. A modified layer and a removed layer directory are unpacked again from
/// their blobs; an entry whose manifest is gone, or whose missing layer has no blob left, is
/// dropped (and said so); a corrupt layer blob is removed; an intact image stays as it was.
#[test]
fn verify_repair_restores_what_it_can_and_drops_the_rest() {
    let world = World::new();
    let spec = |name: &str, file: &str| {
        ImageSpec::new(name).layer(LayerSpec::new().file(format!("/{file}"), file, 0o644))
    };
    let fixable = pull_oci(&world, &spec("i13-rep-fixable", "fixable"));
    let gone = pull_oci(&world, &spec("i13-rep-gone", "gone"));
    let lost = pull_oci(&world, &spec("i13-rep-lost", "lost"));
    let badblob = pull_oci(&world, &spec("i13-rep-badblob", "badblob"));
    let intact = pull_oci(&world, &spec("i13-rep-intact", "intact"));
    let intact_layer = layer_holding(&world, "intact");

    // fixable: a file changed, and a file added.
    let fixable_layer = layer_holding(&world, "fixable");
    std::fs::write(fixable_layer.join("fixable"), "changed").unwrap();
    std::fs::write(fixable_layer.join("added"), "x").unwrap();
    // gone: its manifest is missing.
    let (gone_manifest, _) = manifest_and_top_blob(&world, &gone.name);
    std::fs::remove_file(world.store_root().join("blobs/sha256").join(&gone_manifest)).unwrap();
    // lost: its layer directory and its blob removed: nothing to restore from.
    let (lost_manifest, lost_blob) = manifest_and_top_blob(&world, &lost.name);
    std::fs::remove_dir_all(layer_holding(&world, "lost")).unwrap();
    std::fs::remove_file(&lost_blob).unwrap();
    // badblob: its layer blob is corrupt; the directory stays.
    let (_, bad_blob) = manifest_and_top_blob(&world, &badblob.name);
    std::fs::write(&bad_blob, "not the layer").unwrap();

    let out = run(&world, &["images", "verify", "--repair", &fixable.name]);
    let shown = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}{}", stderr(&out));
    assert!(shown.contains("MODIFIED (2 change(s))"), "{shown}");
    assert!(shown.contains("unpacked again from its blob"), "{shown}");
    assert!(shown.contains("repaired    OK"), "{shown}");
    assert_eq!(
        std::fs::read_to_string(layer_holding(&world, "fixable").join("fixable")).unwrap(),
        "fixable"
    );
    // A removed layer directory comes back too.
    std::fs::remove_dir_all(layer_holding(&world, "fixable")).unwrap();
    let out = run(&world, &["images", "verify", "--repair", &fixable.name]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    ok(&world, &["images", "verify", &fixable.name]);

    for (img, manifest, why) in [
        (&gone, &gone_manifest, "is missing"),
        (&lost, &lost_manifest, "and its blob"),
    ] {
        let out = run(&world, &["images", "verify", "--repair", &img.name]);
        let shown = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{shown}{}", stderr(&out));
        assert!(shown.contains("removed the damaged entry"), "{shown}");
        assert!(shown.contains(why), "{shown}");
        assert!(stderr(&out).contains("pull it again"), "{}", stderr(&out));
        assert!(!index_text(&world).contains(manifest.as_str()));
    }

    let out = run(&world, &["images", "verify", "--repair", &badblob.name]);
    let shown = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}{}", stderr(&out));
    assert!(shown.contains("removed corrupt blob"), "{shown}");
    assert!(!bad_blob.exists());
    assert!(layer_holding(&world, "badblob").join("badblob").is_file());
    assert!(index_text(&world).contains(&badblob.name));

    ok(&world, &["images", "verify", &intact.name]);
    assert_eq!(layer_holding(&world, "intact"), intact_layer);
    let listed = ok(&world, &["images", "list", "--storage", "native"]);
    assert!(listed.contains("i13-rep-intact"), "{listed}");
}

/// A tmpfs mounted for a test, unmounted when dropped (also when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs at {}", path.display());
        Tmpfs(path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Bytes that do not compress (so a layer is as big as its file).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Finding 8 (ENOSPC): a full disk's cause was printed twice ("No space left on device (os
/// error 28): No space left on device (os error 28)"). On a small tmpfs store, whether the
/// blob copy or the unpack runs out of space, the cause is said once, and no image is stored.
#[test]
fn enospc_cause_is_printed_once() {
    let world = World::new();
    let spec =
        ImageSpec::new("i13-enospc").layer(LayerSpec::new().file("/big", noise(3_000_000), 0o644));
    let dir = world.path().join("layouts/i13-enospc");
    atomic_testsupport::write_oci_layout(&spec, &dir).unwrap();
    let source = format!("oci:{}:latest", dir.display());
    // 2 MiB: the big layer's blob does not fit; 6 MiB: the blobs do, the unpacked layers do
    // not. Which step meets the full disk first also depends on the size of the base layer (the
    // host's busybox), so either is accepted: the finding is the cause said twice.
    for size in ["2m", "6m"] {
        let fs = Tmpfs::mount(world.path().join(format!("small-{size}")), size);
        let root = fs.0.join("store");
        let out = world
            .atomic()
            .env("ATOMIC_STORE_ROOT", &root)
            .args(["pull", "-q", &source])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(
            ["copying blob", "writing blob", "unpacking layer"]
                .iter()
                .any(|step| err.contains(step)),
            "{size}: {err}"
        );
        assert_eq!(
            err.matches("No space left on device").count(),
            1,
            "{size}: {err}"
        );
        let listed = world
            .atomic()
            .env("ATOMIC_STORE_ROOT", &root)
            .args(["images", "list", "--storage", "native", "-q"])
            .output()
            .unwrap();
        assert!(stdout(&listed).trim().is_empty(), "{}", stdout(&listed));
    }
}

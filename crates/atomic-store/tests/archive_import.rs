//! Imports from OCI layouts, OCI archives, `docker save` archives and the Docker engine, on
//! real files written by atomic-testsupport (and a real Docker when there is one).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use atomic_store::{Digest, PullOptions, Pulled, Source, Store, pull};
use atomic_testsupport::{
    ImageSpec, LayerSpec, docker_available, image_id, load_into_docker, write_docker_archive,
    write_oci_layout,
};

fn quiet() -> PullOptions {
    PullOptions {
        quiet: true,
        ..PullOptions::default()
    }
}

async fn import(store: &Store, source: &str) -> anyhow::Result<Pulled> {
    pull::pull(store, &Source::parse(source)?, &quiet()).await
}

fn spec(name: &str) -> ImageSpec {
    ImageSpec::new(name)
        .label("RUN", "docker run --rm IMAGE /bin/echo hi")
        .cmd(["/bin/sh"])
        .file("/help.1", b"help\n".to_vec(), 0o644)
}

/// A tempdir with a store at `store/`.
struct World {
    tmp: tempfile::TempDir,
    store: Store,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("store")).unwrap();
        World { tmp, store }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn blobs(&self) -> Vec<String> {
        list(&self.store.root().join("blobs/sha256"))
    }

    /// Unpacked layer directories (not the `.size` files beside them).
    fn layer_dirs(&self) -> usize {
        fs::read_dir(self.store.root().join("layers"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_dir())
            .count()
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .store
            .images()
            .unwrap()
            .into_iter()
            .flat_map(|i| i.names)
            .collect();
        names.sort();
        names
    }
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The image is stored whole: names, labels, every layer unpacked with busybox in the base.
fn assert_stored(w: &World, pulled: &Pulled, spec: &ImageSpec) {
    let images = w.store.images().unwrap();
    let img = images
        .iter()
        .find(|i| i.names.contains(&pulled.name))
        .unwrap_or_else(|| panic!("{} not listed: {images:?}", pulled.name));
    assert_eq!(img.id(), image_id(spec).unwrap().hex());
    let want: BTreeMap<String, String> = spec.labels.clone();
    assert_eq!(img.labels(), want);
    let dirs = img.layer_dirs(&w.store).unwrap();
    assert_eq!(dirs.len(), 1 + spec.layers.len());
    for dir in &dirs {
        assert!(dir.is_dir(), "{} missing", dir.display());
    }
    assert!(dirs[0].join("bin/busybox").is_file());
    assert_eq!(fs::read(dirs[0].join("help.1")).unwrap(), b"help\n");
    assert!(img.size.unwrap() > 0);
}

fn tar_dir(dir: &Path, out: &Path, prefix: &str) {
    let mut builder = tar::Builder::new(fs::File::create(out).unwrap());
    builder.append_dir_all(prefix, dir).unwrap();
    builder.finish().unwrap();
}

fn append(builder: &mut tar::Builder<fs::File>, name: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, data).unwrap();
}

/// Every member of a tar, by name.
fn members(path: &Path) -> BTreeMap<String, Vec<u8>> {
    atomic_testsupport::tar_members(path).unwrap()
}

/// The whole error chain, as the CLI prints it (and in the test log, to read them).
fn err_text(r: anyhow::Result<Pulled>) -> String {
    let text = format!("{:#}", r.expect_err("import should fail"));
    eprintln!("expected error: {text}");
    text
}

// ---- oci: ----

#[tokio::test]
async fn oci_dir_imports_named_after_dir_and_tag() {
    let w = World::new();
    let spec = spec("atomic-test-oci").tag("v1");
    let layout = w.path("layout");
    let written = write_oci_layout(&spec, &layout).unwrap();
    let pulled = import(&w.store, &format!("oci:{}", layout.display()))
        .await
        .unwrap();
    assert!(pulled.changed);
    assert_eq!(pulled.name, "localhost/layout:v1");
    assert_eq!(
        pulled.image.manifest_digest.to_string(),
        written.manifest_digest
    );
    assert_stored(&w, &pulled, &spec);
    assert_eq!(w.names(), ["localhost/layout:v1"]);
}

#[tokio::test]
async fn oci_tag_selects_and_several_refs_need_one() {
    let w = World::new();
    let layout = w.path("multi");
    let v1 = spec("x").tag("v1");
    let v2 = spec("x").tag("v2").label("X", "two");
    write_oci_layout(&v1, &layout).unwrap();
    write_oci_layout(&v2, &layout).unwrap();

    let err = err_text(import(&w.store, &format!("oci:{}", layout.display())).await);
    assert!(
        err.contains("several images") && err.contains("v1") && err.contains("v2"),
        "{err}"
    );

    let err = err_text(import(&w.store, &format!("oci:{}:v3", layout.display())).await);
    assert!(
        err.contains("no image named 'v3'") && err.contains("v1") && err.contains("v2"),
        "{err}"
    );
    assert!(w.names().is_empty());

    let pulled = import(&w.store, &format!("oci:{}:v2", layout.display()))
        .await
        .unwrap();
    assert_eq!(pulled.name, "localhost/multi:v2");
    assert_eq!(pulled.image.labels()["X"], "two");
    assert_stored(&w, &pulled, &v2);
}

#[tokio::test]
async fn oci_full_ref_names_are_used_qualified() {
    let w = World::new();
    let layout = w.path("named");
    // The helper writes the tag as the ref name; a full name there is what buildah and
    // skopeo write for `oci:DIR:NAME`.
    write_oci_layout(&spec("x").tag("placeholder"), &layout).unwrap();
    let index_path = layout.join("index.json");
    let text = fs::read_to_string(&index_path).unwrap();
    fs::write(
        &index_path,
        text.replace("\"placeholder\"", "\"quay.io/team/app:2.0\""),
    )
    .unwrap();
    let pulled = import(
        &w.store,
        &format!("oci:{}:quay.io/team/app:2.0", layout.display()),
    )
    .await
    .unwrap();
    assert_eq!(pulled.name, "quay.io/team/app:2.0");
}

#[tokio::test]
async fn oci_index_resolves_to_the_host_platform() {
    let w = World::new();
    let layout = w.path("multiarch");
    let spec = spec("x").tag("latest");
    let written = write_oci_layout(&spec, &layout).unwrap();
    let manifest = fs::read(
        layout
            .join("blobs/sha256")
            .join(written.manifest_digest.strip_prefix("sha256:").unwrap()),
    )
    .unwrap();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let other = if arch == "s390x" { "arm64" } else { "s390x" };
    let bogus = format!("sha256:{}", "0".repeat(64));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": bogus,
             "size": 10, "platform": {"os": "linux", "architecture": other}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": written.manifest_digest, "size": manifest.len(),
             "platform": {"os": "linux", "architecture": arch}},
        ],
    });
    let index = serde_json::to_vec(&index).unwrap();
    let digest = Digest::of(&index);
    fs::write(layout.join("blobs/sha256").join(digest.hex()), &index).unwrap();
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest.to_string(),
        "size": index.len(), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();

    let pulled = import(&w.store, &format!("oci:{}", layout.display()))
        .await
        .unwrap();
    assert_eq!(
        pulled.image.manifest_digest.to_string(),
        written.manifest_digest
    );
    assert_stored(&w, &pulled, &spec);
}

// ---- oci-archive: ----

#[tokio::test]
async fn oci_archive_imports_and_ignores_hostile_members() {
    let w = World::new();
    let spec = spec("x").tag("v7");
    let layout = w.path("layout");
    write_oci_layout(&spec, &layout).unwrap();
    let archive = w.path("My App.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive).unwrap());
    raw_append(&mut builder, "./", b"", tar::EntryType::Directory);
    for name in ["oci-layout", "index.json"] {
        let data = fs::read(layout.join(name)).unwrap();
        raw_append(
            &mut builder,
            &format!("./{name}"),
            &data,
            tar::EntryType::Regular,
        );
    }
    for hex in list(&layout.join("blobs/sha256")) {
        let data = fs::read(layout.join("blobs/sha256").join(&hex)).unwrap();
        raw_append(
            &mut builder,
            &format!("blobs/sha256/{hex}"),
            &data,
            tar::EntryType::Regular,
        );
    }
    // Members an extractor must not follow: skipped, and nothing lands outside.
    raw_append(&mut builder, "../evil", b"x", tar::EntryType::Regular);
    raw_append(
        &mut builder,
        "blobs/sha256/../../evil2",
        b"x",
        tar::EntryType::Regular,
    );
    raw_append(&mut builder, "/tmp/evil3", b"x", tar::EntryType::Regular);
    raw_append(
        &mut builder,
        "blobs/sha512/abc",
        b"x",
        tar::EntryType::Regular,
    );
    builder.finish().unwrap();

    let pulled = import(&w.store, &format!("oci-archive:{}", archive.display()))
        .await
        .unwrap();
    assert_eq!(pulled.name, "localhost/my-app:v7");
    assert_stored(&w, &pulled, &spec);
    assert!(!w.tmp.path().join("evil").exists());
    assert!(!w.store.root().join("evil").exists());
    assert!(!w.store.root().join("evil2").exists());
    assert!(!Path::new("/tmp/evil3").exists());
    assert!(
        list(&w.store.root().join("tmp")).is_empty(),
        "temp space left behind"
    );
}

/// Append a member under a name `tar::Builder` would refuse (`..`, absolute): what a hostile
/// archive holds.
fn raw_append(builder: &mut tar::Builder<fs::File>, name: &str, data: &[u8], kind: tar::EntryType) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(kind);
    let raw = name.as_bytes();
    header.as_old_mut().name[..raw.len()].copy_from_slice(raw);
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

#[tokio::test]
async fn oci_archive_refuses_a_link_in_place_of_the_index() {
    let w = World::new();
    let archive = w.path("link.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive).unwrap());
    append(
        &mut builder,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    builder
        .append_link(&mut header, "index.json", "/etc/passwd")
        .unwrap();
    builder.finish().unwrap();
    let err = err_text(import(&w.store, &format!("oci-archive:{}", archive.display())).await);
    assert!(err.contains("not a regular file"), "{err}");
}

// ---- docker-archive: ----

#[tokio::test]
async fn docker_archive_keeps_the_docker_image_id() {
    let w = World::new();
    let spec = spec("atomic-test-da").tag("t1");
    let archive = w.path("img.tar");
    let id = write_docker_archive(&spec, &archive).unwrap();
    let pulled = import(&w.store, &format!("docker-archive:{}", archive.display()))
        .await
        .unwrap();
    assert_eq!(pulled.name, "docker.io/library/atomic-test-da:t1");
    assert_eq!(pulled.image.id(), id.hex());
    assert_stored(&w, &pulled, &spec);
    // The layer blob is the uncompressed tar: its digest is the diff_id.
    let img = &w.store.images().unwrap()[0];
    assert_eq!(
        img.manifest.layers()[0].digest().to_string(),
        img.diff_ids().unwrap()[0].to_string()
    );
}

#[tokio::test]
async fn dockertar_is_docker_archive() {
    let w = World::new();
    let spec = spec("atomic-test-dt");
    let archive = w.path("img.tar");
    let id = write_docker_archive(&spec, &archive).unwrap();
    let pulled = import(&w.store, &format!("dockertar:{}", archive.display()))
        .await
        .unwrap();
    assert_eq!(pulled.name, "docker.io/library/atomic-test-dt:latest");
    assert_eq!(pulled.image.id(), id.hex());
}

/// docker 25+ writes OCI-style member paths, and layers may be compressed; a duplicate layer
/// may be a symlink to another member.
#[tokio::test]
async fn docker_archive_with_blob_paths_gzip_and_links() {
    let w = World::new();
    let spec = spec("atomic-test-new").tag("v2");
    let old = w.path("old.tar");
    let id = write_docker_archive(&spec, &old).unwrap();
    let m = members(&old);
    let manifest: serde_json::Value = serde_json::from_slice(&m["manifest.json"]).unwrap();
    let layer = &m[manifest[0]["Layers"][0].as_str().unwrap()];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(layer).unwrap();
    let gz = gz.finish().unwrap();
    let gz_name = format!("blobs/sha256/{}", Digest::of(&gz).hex());
    let config_name = format!("blobs/sha256/{}", id.hex());
    let link_name = "blobs/sha256/alias";
    let new_manifest = serde_json::json!([{
        "Config": config_name, "RepoTags": ["atomic-test-new:v2"], "Layers": [link_name],
    }]);
    let archive = w.path("new.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive).unwrap());
    append(
        &mut builder,
        "manifest.json",
        &serde_json::to_vec(&new_manifest).unwrap(),
    );
    append(
        &mut builder,
        &config_name,
        &m[&format!("{}.json", id.hex())],
    );
    append(&mut builder, &gz_name, &gz);
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    let target = gz_name.rsplit('/').next().unwrap();
    builder.append_link(&mut header, link_name, target).unwrap();
    builder.finish().unwrap();

    let pulled = import(&w.store, &format!("docker-archive:{}", archive.display()))
        .await
        .unwrap();
    assert_eq!(pulled.image.id(), id.hex());
    assert_stored(&w, &pulled, &spec);
}

#[tokio::test]
async fn docker_archive_imports_every_image() {
    let w = World::new();
    let (a, b) = (spec("atomic-test-a"), spec("atomic-test-b").label("B", "1"));
    let (pa, pb) = (w.path("a.tar"), w.path("b.tar"));
    write_docker_archive(&a, &pa).unwrap();
    write_docker_archive(&b, &pb).unwrap();
    let (ma, mb) = (members(&pa), members(&pb));
    let mut manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&ma["manifest.json"]).unwrap();
    let second: Vec<serde_json::Value> = serde_json::from_slice(&mb["manifest.json"]).unwrap();
    manifest.extend(second);
    let archive = w.path("both.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive).unwrap());
    let mut all = ma.clone();
    all.extend(mb);
    all.insert(
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    );
    for (name, data) in &all {
        if !name.ends_with('/') {
            append(&mut builder, name, data);
        }
    }
    builder.finish().unwrap();
    let pulled = import(&w.store, &format!("docker-archive:{}", archive.display()))
        .await
        .unwrap();
    assert_eq!(pulled.name, "docker.io/library/atomic-test-a:latest");
    assert_eq!(
        w.names(),
        [
            "docker.io/library/atomic-test-a:latest",
            "docker.io/library/atomic-test-b:latest"
        ]
    );
    // Same files, different labels: one base layer serves both.
    assert_eq!(w.layer_dirs(), 1);
}

#[tokio::test]
async fn docker_archive_refuses_paths_outside_it() {
    let w = World::new();
    let archive = w.path("evil.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive).unwrap());
    let manifest = serde_json::json!([{
        "Config": "c.json", "RepoTags": ["evil:latest"], "Layers": ["../outside/layer.tar"],
    }]);
    append(
        &mut builder,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    builder.finish().unwrap();
    let err = err_text(import(&w.store, &format!("docker-archive:{}", archive.display())).await);
    assert!(
        err.contains("../outside/layer.tar") && err.contains("not a path inside"),
        "{err}"
    );
    assert!(w.names().is_empty());
}

#[tokio::test]
async fn docker_archive_without_tags_is_named_after_the_file() {
    let w = World::new();
    let spec = spec("x");
    let old = w.path("old.tar");
    write_docker_archive(&spec, &old).unwrap();
    let m = members(&old);
    let mut manifest: serde_json::Value = serde_json::from_slice(&m["manifest.json"]).unwrap();
    manifest[0]["RepoTags"] = serde_json::Value::Null;
    let archive = w.path("Saved_Image.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive).unwrap());
    for (name, data) in &m {
        if name == "manifest.json" {
            append(&mut builder, name, &serde_json::to_vec(&manifest).unwrap());
        } else if !name.ends_with('/') {
            append(&mut builder, name, data);
        }
    }
    builder.finish().unwrap();
    let pulled = import(&w.store, &format!("docker-archive:{}", archive.display()))
        .await
        .unwrap();
    assert_eq!(pulled.name, "localhost/saved_image:latest");
}

// ---- docker-daemon: ----

#[tokio::test]
async fn docker_daemon_exports_and_imports() {
    if !docker_available() {
        if std::env::var("ATOMIC_TEST_REQUIRE_ENGINES").as_deref() == Ok("1") {
            panic!("docker is not available and ATOMIC_TEST_REQUIRE_ENGINES=1");
        }
        eprintln!("skipped: docker is not available");
        return;
    }
    let w = World::new();
    let spec = spec("atomic-test-archive-daemon").tag("d1");
    load_into_docker(&spec).unwrap();
    let pulled = import(&w.store, &format!("docker-daemon:{}", spec.reference()))
        .await
        .unwrap();
    assert_eq!(
        pulled.name,
        "docker.io/library/atomic-test-archive-daemon:d1"
    );
    assert_stored(&w, &pulled, &spec);
    let again = import(&w.store, &format!("docker-daemon:{}", spec.reference()))
        .await
        .unwrap();
    assert!(!again.changed);

    let err = err_text(import(&w.store, "docker-daemon:atomic-test-no-such-image:x").await);
    assert!(err.contains("Docker has no image"), "{err}");
}

/// Runs in a child process of this test binary, with DOCKER_HOST pointing nowhere: changing
/// the environment of the running test process would race with the other tests.
#[tokio::test]
async fn docker_daemon_not_running_is_explained() {
    const SOCKET: &str = "unix:///tmp/atomic-test-no-docker.sock";
    if std::env::var_os("ATOMIC_TEST_CHILD").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "docker_daemon_not_running_is_explained",
                "--nocapture",
            ])
            .env("ATOMIC_TEST_CHILD", "1")
            .env("DOCKER_HOST", SOCKET)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("1 passed"), "{text}");
        return;
    }
    let w = World::new();
    let err = err_text(import(&w.store, "docker-daemon:busybox").await);
    assert!(
        err.contains(&format!("cannot connect to the Docker daemon at {SOCKET}"))
            && err.contains("is dockerd running?"),
        "{err}"
    );
}

// ---- idempotence, sharing, corruption, errors ----

#[tokio::test]
async fn importing_twice_changes_nothing() {
    let w = World::new();
    let spec = spec("atomic-test-twice");
    let layout = w.path("layout");
    write_oci_layout(&spec, &layout).unwrap();
    let archive = w.path("img.tar");
    write_docker_archive(&spec, &archive).unwrap();
    for source in [
        format!("oci:{}", layout.display()),
        format!("docker-archive:{}", archive.display()),
    ] {
        let first = import(&w.store, &source).await.unwrap();
        assert!(first.changed, "{source}");
        let blobs = w.blobs();
        let again = import(&w.store, &source).await.unwrap();
        assert!(!again.changed, "{source}");
        assert_eq!(again.name, first.name);
        assert_eq!(again.image.manifest_digest, first.image.manifest_digest);
        assert_eq!(w.blobs(), blobs, "{source}: new blobs on the second import");
    }
    // Both formats unpack the same base layer (same diff_id) once.
    assert_eq!(w.layer_dirs(), 1);
}

#[tokio::test]
async fn images_sharing_a_base_layer_store_it_once() {
    let w = World::new();
    let base = spec("atomic-test-base");
    let derived = spec("atomic-test-derived")
        .label("X", "y")
        .layer(LayerSpec::new().file("/etc/derived", b"1".to_vec(), 0o644));
    let (la, lb) = (w.path("a"), w.path("b"));
    write_oci_layout(&base, &la).unwrap();
    write_oci_layout(&derived, &lb).unwrap();
    import(&w.store, &format!("oci:{}", la.display()))
        .await
        .unwrap();
    let pulled = import(&w.store, &format!("oci:{}", lb.display()))
        .await
        .unwrap();
    assert_stored(&w, &pulled, &derived);
    assert_eq!(w.layer_dirs(), 2);
    assert_eq!(w.names(), ["localhost/a:latest", "localhost/b:latest"]);
}

#[tokio::test]
async fn a_tampered_blob_is_refused_and_not_stored() {
    let w = World::new();
    let spec = spec("atomic-test-bad");
    let layout = w.path("layout");
    let written = write_oci_layout(&spec, &layout).unwrap();
    let hex = written.manifest_digest.strip_prefix("sha256:").unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let layer_hex = layer.strip_prefix("sha256:").unwrap();
    let path = layout.join("blobs/sha256").join(layer_hex);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    let err = err_text(import(&w.store, &format!("oci:{}", layout.display())).await);
    assert!(
        err.contains(&layer) && err.contains("failed verification"),
        "{err}"
    );
    assert!(w.names().is_empty());
    assert!(w.store.images().unwrap().is_empty());
    assert!(!w.blobs().contains(&layer_hex.to_string()));
    assert!(!w.blobs().contains(&hex.to_string()), "manifest stored");
}

#[tokio::test]
async fn missing_sources_are_clear_errors() {
    let w = World::new();
    let cases = [
        (
            "docker-archive:/nonexistent/img.tar",
            "/nonexistent/img.tar",
        ),
        (
            "oci-archive:/nonexistent/img.tar",
            "/nonexistent/img.tar does not exist",
        ),
        (
            "oci:/nonexistent/layout",
            "/nonexistent/layout does not exist",
        ),
    ];
    for (source, want) in cases {
        let err = err_text(import(&w.store, source).await);
        assert!(err.contains(want), "{source}: {err}");
    }
    let not_layout = w.path("empty");
    fs::create_dir(&not_layout).unwrap();
    let err = err_text(import(&w.store, &format!("oci:{}", not_layout.display())).await);
    assert!(err.contains("not an OCI image layout"), "{err}");
    let not_docker = w.path("layout.tar");
    let layout = w.path("layout");
    write_oci_layout(&spec("x"), &layout).unwrap();
    tar_dir(&layout, &not_docker, ".");
    let err = err_text(
        import(
            &w.store,
            &format!("docker-archive:{}", not_docker.display()),
        )
        .await,
    );
    assert!(err.contains("no manifest.json"), "{err}");
}

// ---- other tools read the store ----

#[tokio::test]
async fn skopeo_reads_the_store() {
    if std::process::Command::new("skopeo")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: skopeo is not installed");
        return;
    }
    let w = World::new();
    let spec = spec("atomic-test-skopeo").label("K", "v");
    let archive = w.path("img.tar");
    write_docker_archive(&spec, &archive).unwrap();
    let pulled = import(&w.store, &format!("docker-archive:{}", archive.display()))
        .await
        .unwrap();
    let out = std::process::Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:{}", w.store.root().display(), pulled.name))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "skopeo failed: {stderr}");
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["Labels"]["K"], "v");
    assert_eq!(info["Digest"], pulled.image.manifest_digest.to_string());
}

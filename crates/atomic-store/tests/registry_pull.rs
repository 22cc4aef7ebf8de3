//! Pulls from the real registry on 127.0.0.1:5000 (docker-registry, started by the test
//! support when none runs). Each test pushes its own images under a unique repository and
//! pulls into its own store in a temporary directory.
//!
//! Images are written here as OCI layouts (so a test can choose each layer's compression, lie
//! about a diff_id, or make a multi-platform index) and pushed with skopeo.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use atomic_store::pull::registry;
use atomic_store::{Digest, PullOptions, Pulled, Source, Store};
use atomic_testsupport::{ImageSpec, LayerSpec, Registry, added_layer_tar, layer_tar};
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Images

#[derive(Clone, Copy, Debug)]
enum Comp {
    Gzip,
    Zstd,
    Plain,
}

/// One image to write: uncompressed layer tars with their compression, and config labels.
struct Img {
    layers: Vec<(Vec<u8>, Comp)>,
    labels: serde_json::Value,
    /// Put a wrong diff_id for the last layer in the config.
    lie_about_diff_id: bool,
    /// Added to the size the manifest gives for the last layer (negative: it understates).
    size_lie: i64,
}

impl Img {
    /// busybox as the base layer, plus `extra` layers.
    fn busybox(label: &str, extra: Vec<(LayerSpec, Comp)>) -> Img {
        let mut layers = vec![(layer_tar(&ImageSpec::new("base")).unwrap(), Comp::Gzip)];
        for (spec, comp) in extra {
            layers.push((added_layer_tar(&spec).unwrap(), comp));
        }
        Img {
            layers,
            labels: json!({"test": label, "RUN": "docker run IMAGE /bin/true"}),
            lie_about_diff_id: false,
            size_lie: 0,
        }
    }
}

struct Written {
    digest: String,
    size: u64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn write_blob(dir: &Path, bytes: &[u8]) -> Written {
    let hex = sha256_hex(bytes);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(&hex), bytes).unwrap();
    Written {
        digest: format!("sha256:{hex}"),
        size: bytes.len() as u64,
    }
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Write `img`'s blobs and manifest into the layout at `dir`; returns the manifest.
fn write_image(dir: &Path, img: &Img, arch: &str) -> Written {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (tar, comp) in &img.layers {
        diff_ids.push(format!("sha256:{}", sha256_hex(tar)));
        let (bytes, media) = match comp {
            Comp::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(tar).unwrap();
                (
                    gz.finish().unwrap(),
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                )
            }
            Comp::Zstd => (
                zstd::encode_all(&tar[..], 3).unwrap(),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
            Comp::Plain => (tar.clone(), "application/vnd.oci.image.layer.v1.tar"),
        };
        let w = write_blob(dir, &bytes);
        descs.push(json!({"mediaType": media, "digest": w.digest, "size": w.size}));
    }
    if img.size_lie != 0
        && let Some(last) = descs.last_mut()
    {
        last["size"] = json!(last["size"].as_i64().unwrap() + img.size_lie);
    }
    if img.lie_about_diff_id {
        *diff_ids.last_mut().unwrap() = format!("sha256:{}", "0".repeat(64));
    }
    let config = json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Labels": img.labels, "Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = write_blob(dir, &serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config.digest, "size": config.size},
        "layers": descs,
    });
    write_blob(dir, &serde_json::to_vec(&manifest).unwrap())
}

fn write_layout_index(dir: &Path, media: &str, top: &Written) {
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": media, "digest": top.digest, "size": top.size,
        "annotations": {"org.opencontainers.image.ref.name": "t"},
    }]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn skopeo_push(layout: &Path, dest: &str, extra: &[&str]) -> Result<()> {
    atomic_testsupport::skopeo_copy(&format!("oci:{}:t", layout.display()), dest, extra)
}

/// One HTTP/1.1 request to the loopback registry; returns the status code and the response
/// head. Images are pushed this way rather than with skopeo where the exact bytes matter:
/// skopeo compresses an uncompressed layer on the way to a registry.
fn http(
    reg: &Registry,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, String)> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(reg.addr())?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        reg.addr(),
        body.len()
    )?;
    s.write_all(body)?;
    let mut response = Vec::new();
    s.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).to_string();
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("{method} {path}: no HTTP status in {head:?}"))?;
    Ok((code, head))
}

/// Upload every blob of the layout at `dir` to `repo` (an upload session, then one PUT).
fn push_blobs(reg: &Registry, dir: &Path, repo: &str) {
    for e in std::fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let hex = e.file_name().to_string_lossy().to_string();
        let data = std::fs::read(e.path()).unwrap();
        let (code, head) = http(
            reg,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            "text/plain",
            b"",
        )
        .unwrap();
        assert_eq!(code, 202, "starting an upload to {repo}: {head}");
        let location = head
            .lines()
            .find_map(|l| l.strip_prefix("Location: "))
            .expect("an upload location");
        // The location is absolute (http://127.0.0.1:5000/v2/…?_state=…).
        let path = location.split_once(reg.addr()).map_or(location, |(_, p)| p);
        let sep = if path.contains('?') { '&' } else { '?' };
        let put = format!("{path}{sep}digest=sha256:{hex}");
        let (code, head) = http(reg, "PUT", &put, "application/octet-stream", &data).unwrap();
        assert_eq!(code, 201, "uploading blob {hex} to {repo}: {head}");
    }
}

fn put_manifest(reg: &Registry, dir: &Path, repo: &str, reference: &str, m: &Written, media: &str) {
    let hex = m.digest.strip_prefix("sha256:").unwrap();
    let data = std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap();
    let (code, head) = http(
        reg,
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        media,
        &data,
    )
    .unwrap();
    assert_eq!(code, 201, "putting manifest {reference} of {repo}: {head}");
}

/// Push `img` as `repo:tag` exactly as written; returns the manifest digest.
fn push(reg: &Registry, img: &Img, repo_tag: &str) -> String {
    let (repo, tag) = repo_tag.split_once(':').unwrap_or((repo_tag, "latest"));
    let dir = tempfile::tempdir().unwrap();
    let m = write_image(dir.path(), img, host_arch());
    push_blobs(reg, dir.path(), repo);
    put_manifest(
        reg,
        dir.path(),
        repo,
        tag,
        &m,
        "application/vnd.oci.image.manifest.v1+json",
    );
    m.digest
}

/// A repository name no other test (or earlier run) uses.
fn unique_repo(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("atomic-test/regpull-{test}-{}-{nanos}", std::process::id())
}

/// Deterministic incompressible bytes (xorshift), so big layers cost no compression time to
/// speak of and do not shrink.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------
// Pulling

fn insecure() -> PullOptions {
    PullOptions {
        quiet: true,
        tls_verify: Some(false),
        // No machine registries.conf can change what these tests see.
        registries_conf: Some(PathBuf::from("/nonexistent/registries.conf")),
        ..PullOptions::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn pull(store: &Store, name: &str, opts: &PullOptions) -> Result<Pulled> {
    runtime().block_on(atomic_store::pull::pull(
        store,
        &Source::Registry(name.to_string()),
        opts,
    ))
}

fn new_store(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("store")).unwrap()
}

/// Every path under the store's blobs/, layers/ and tmp/ (not the layers' contents).
fn inventory(store: &Store) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for sub in ["blobs/sha256", "layers", "tmp"] {
        for e in std::fs::read_dir(store.root().join(sub)).unwrap() {
            out.insert(format!(
                "{sub}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out
}

fn count(store: &Store, sub: &str, pred: impl Fn(&str) -> bool) -> usize {
    std::fs::read_dir(store.root().join(sub))
        .unwrap()
        .filter(|e| pred(&e.as_ref().unwrap().file_name().to_string_lossy()))
        .count()
}

fn tmp_is_empty(store: &Store) -> bool {
    count(store, "tmp", |_| true) == 0
}

fn err_text(r: Result<Pulled>) -> String {
    format!("{:#}", r.expect_err("the pull should fail"))
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn pull_by_tag_stores_image_and_layers() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("tag");
    let img = Img::busybox(
        "by-tag",
        vec![(
            LayerSpec::new().file("/etc/motd", "hello\n", 0o644),
            Comp::Gzip,
        )],
    );
    let digest = push(&reg, &img, &format!("{repo}:v1"));
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);

    let pulled = pull(&store, &reg.reference(&format!("{repo}:v1")), &insecure()).unwrap();
    assert!(pulled.changed);
    assert_eq!(pulled.name, format!("127.0.0.1:5000/{repo}:v1"));
    assert_eq!(pulled.image.manifest_digest.to_string(), digest);

    let images = store.images().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].names, std::slice::from_ref(&pulled.name));
    assert_eq!(images[0].labels()["test"], "by-tag");
    assert!(
        images[0].size.unwrap() > 1_000_000,
        "size is the sum of the layers"
    );
    let dirs = images[0].layer_dirs(&store).unwrap();
    assert_eq!(dirs.len(), 2);
    assert!(dirs[0].join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_to_string(dirs[1].join("etc/motd")).unwrap(),
        "hello\n"
    );
    assert!(tmp_is_empty(&store));
}

#[test]
fn pull_again_is_up_to_date_and_writes_nothing() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("again");
    push(&reg, &Img::busybox("again", vec![]), &repo);
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let name = reg.reference(&repo);

    assert!(pull(&store, &name, &insecure()).unwrap().changed);
    let before = inventory(&store);
    let index_before = std::fs::read(store.root().join("index.json")).unwrap();
    let again = pull(&store, &name, &insecure()).unwrap();
    assert!(!again.changed);
    assert_eq!(again.name, format!("127.0.0.1:5000/{repo}:latest"));
    assert_eq!(inventory(&store), before);
    assert_eq!(
        std::fs::read(store.root().join("index.json")).unwrap(),
        index_before
    );
}

#[test]
fn pull_by_digest_names_the_digest() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("digest");
    let digest = push(&reg, &Img::busybox("digest", vec![]), &repo);
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);

    let name = format!("127.0.0.1:5000/{repo}@{digest}");
    let pulled = pull(&store, &name, &insecure()).unwrap();
    assert_eq!(pulled.name, name);
    assert_eq!(pulled.image.manifest_digest.to_string(), digest);
    assert!(store.resolve(&name).unwrap().is_some());

    // A digest the registry does not have is "manifest unknown", naming the image.
    let missing = format!("127.0.0.1:5000/{repo}@sha256:{}", "e".repeat(64));
    let err = err_text(pull(&store, &missing, &insecure()));
    assert!(
        err.contains("manifest unknown") && err.contains(&repo),
        "{err}"
    );
}

#[test]
fn short_name_resolves_through_registries_conf() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("short");
    push(&reg, &Img::busybox("short", vec![]), &format!("{repo}:s1"));
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let conf = dir.path().join("registries.conf");
    // A first search registry where nothing listens: resolution goes on to the next one.
    std::fs::write(
        &conf,
        r#"
        unqualified-search-registries = ["127.0.0.1:9", "127.0.0.1:5000"]
        [[registry]]
        location = "127.0.0.1:5000"
        insecure = true
        [[registry]]
        location = "127.0.0.1:9"
        insecure = true
        "#,
    )
    .unwrap();
    // TLS verification is left to registries.conf, which marks the registry insecure.
    let opts = PullOptions {
        quiet: true,
        registries_conf: Some(conf),
        ..PullOptions::default()
    };
    let pulled = pull(&store, &format!("{repo}:s1"), &opts).unwrap();
    assert_eq!(pulled.name, format!("127.0.0.1:5000/{repo}:s1"));
    assert!(store.resolve(&format!("{repo}:s1")).unwrap().is_some());

    // Not on any search registry: the error lists what was tried.
    let err = err_text(pull(&store, &format!("{repo}-missing:s1"), &opts));
    assert!(
        err.contains("127.0.0.1:9") && err.contains("manifest unknown"),
        "{err}"
    );
}

#[test]
fn tls_is_verified_by_default() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("tls");
    push(&reg, &Img::busybox("tls", vec![]), &repo);
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let conf = dir.path().join("registries.conf");
    std::fs::write(&conf, "unqualified-search-registries = []\n").unwrap();
    let opts = PullOptions {
        quiet: true,
        registries_conf: Some(conf),
        ..PullOptions::default()
    };
    let err = err_text(pull(&store, &reg.reference(&repo), &opts));
    assert!(
        err.contains("--tls-verify=false") && err.contains(&repo),
        "{err}"
    );
    assert!(store.images().unwrap().is_empty());

    // --tls-verify=true wins over an insecure entry in registries.conf.
    let conf2 = dir.path().join("insecure.conf");
    std::fs::write(
        &conf2,
        "[[registry]]\nlocation = \"127.0.0.1:5000\"\ninsecure = true\n",
    )
    .unwrap();
    let forced = PullOptions {
        quiet: true,
        tls_verify: Some(true),
        registries_conf: Some(conf2),
        ..PullOptions::default()
    };
    assert!(pull(&store, &reg.reference(&repo), &forced).is_err());
}

#[test]
fn missing_tag_or_repository_is_manifest_unknown() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("missing");
    push(
        &reg,
        &Img::busybox("missing", vec![]),
        &format!("{repo}:present"),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    for name in [format!("{repo}:absent"), format!("{repo}-nope:latest")] {
        let err = err_text(pull(&store, &reg.reference(&name), &insecure()));
        assert!(err.contains("manifest unknown"), "{err}");
        assert!(
            err.contains(&format!("127.0.0.1:5000/{name}")) || err.contains(&repo),
            "{err}"
        );
    }
    assert!(tmp_is_empty(&store));
}

#[test]
fn mixed_compression_and_whiteouts() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("mixed");
    let img = Img::busybox(
        "mixed",
        vec![
            (
                LayerSpec::new().file("/data/zstd.txt", "zstd layer\n".repeat(1000), 0o644),
                Comp::Zstd,
            ),
            (
                LayerSpec::new().file("/data/plain.bin", noise(100_000, 7), 0o600),
                Comp::Plain,
            ),
            (LayerSpec::new().delete("/etc/group"), Comp::Gzip),
        ],
    );
    push(&reg, &img, &repo);
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let pulled = pull(&store, &reg.reference(&repo), &insecure()).unwrap();

    let media: Vec<String> = pulled
        .image
        .manifest
        .layers()
        .iter()
        .map(|l| l.media_type().to_string())
        .collect();
    assert!(
        media[1].ends_with("tar+zstd"),
        "skopeo kept the zstd layer: {media:?}"
    );
    assert!(
        media[2].ends_with(".tar"),
        "skopeo kept the plain layer: {media:?}"
    );
    let dirs = pulled.image.layer_dirs(&store).unwrap();
    assert_eq!(
        std::fs::read_to_string(dirs[1].join("data/zstd.txt"))
            .unwrap()
            .len(),
        11_000
    );
    assert_eq!(
        std::fs::read(dirs[2].join("data/plain.bin")).unwrap(),
        noise(100_000, 7)
    );
    // The AUFS whiteout became an overlayfs one (a 0:0 character device) or, unprivileged,
    // whatever the unpacker documents; either way the whiteout name itself is gone.
    assert!(!dirs[3].join("etc/.wh.group").exists());
    assert!(std::fs::symlink_metadata(dirs[3].join("etc/group")).is_ok());
}

#[test]
fn index_resolves_to_the_host_platform() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("index");
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let other_arch = if host_arch() == "s390x" {
        "amd64"
    } else {
        "s390x"
    };
    let other = write_image(&layout, &Img::busybox("other-arch", vec![]), other_arch);
    let host = write_image(&layout, &Img::busybox("host-arch", vec![]), host_arch());
    let entry = |w: &Written, arch: &str| {
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": w.digest,
               "size": w.size, "platform": {"os": "linux", "architecture": arch}})
    };
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [entry(&other, other_arch), entry(&host, host_arch())]});
    let index = write_blob(&layout, &serde_json::to_vec(&index).unwrap());
    push_blobs(&reg, &layout, &repo);
    let oci_manifest = "application/vnd.oci.image.manifest.v1+json";
    put_manifest(&reg, &layout, &repo, &other.digest, &other, oci_manifest);
    put_manifest(&reg, &layout, &repo, &host.digest, &host, oci_manifest);
    put_manifest(
        &reg,
        &layout,
        &repo,
        "latest",
        &index,
        "application/vnd.oci.image.index.v1+json",
    );

    let store = new_store(&dir);
    let pulled = pull(&store, &reg.reference(&repo), &insecure()).unwrap();
    assert_eq!(pulled.image.manifest_digest.to_string(), host.digest);
    assert_eq!(pulled.image.labels()["test"], "host-arch");
    // Pulled again by the index's digest: the same platform manifest.
    let by_index = format!("127.0.0.1:5000/{repo}@{}", index.digest);
    let again = pull(&store, &by_index, &insecure()).unwrap();
    assert_eq!(again.image.manifest_digest.to_string(), host.digest);
}

#[test]
fn docker_schema2_manifest_is_stored_as_is() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("v2s2");
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let m = write_image(&layout, &Img::busybox("v2s2", vec![]), host_arch());
    write_layout_index(&layout, "application/vnd.oci.image.manifest.v1+json", &m);
    skopeo_push(&layout, &reg.reference(&repo), &["--format", "v2s2"]).unwrap();

    let store = new_store(&dir);
    let pulled = pull(&store, &reg.reference(&repo), &insecure()).unwrap();
    let bytes = store.read_blob(&pulled.image.manifest_digest).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{text}"
    );
    assert_eq!(store.images().unwrap()[0].labels()["test"], "v2s2");
    assert!(
        pulled.image.layer_dirs(&store).unwrap()[0]
            .join("bin/busybox")
            .is_file()
    );
}

#[test]
fn second_image_adds_only_its_own_layers() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("shared");
    let base = Img::busybox("a", vec![]);
    let derived = Img::busybox(
        "b",
        vec![(LayerSpec::new().file("/b", "b", 0o644), Comp::Gzip)],
    );
    push(&reg, &base, &format!("{repo}:a"));
    push(&reg, &derived, &format!("{repo}:b"));
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    pull(&store, &reg.reference(&format!("{repo}:a")), &insecure()).unwrap();
    let before = inventory(&store);
    pull(&store, &reg.reference(&format!("{repo}:b")), &insecure()).unwrap();
    let added: Vec<String> = inventory(&store).difference(&before).cloned().collect();
    // manifest + config + one layer blob; one layer dir and its size file.
    assert_eq!(
        added.iter().filter(|p| p.starts_with("blobs/")).count(),
        3,
        "{added:?}"
    );
    assert_eq!(
        added.iter().filter(|p| p.starts_with("layers/")).count(),
        2,
        "{added:?}"
    );
}

#[test]
fn a_layer_whose_diff_id_lies_is_refused() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("liar");
    let mut img = Img::busybox(
        "liar",
        vec![(LayerSpec::new().file("/x", "x", 0o644), Comp::Gzip)],
    );
    img.lie_about_diff_id = true;
    push(&reg, &img, &repo);
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let err = err_text(pull(&store, &reg.reference(&repo), &insecure()));
    assert!(err.contains("tampered") && err.contains(&repo), "{err}");
    assert!(store.images().unwrap().is_empty());
    // Nothing under the claimed diff_id nor under the layer's real one; the honest base layer
    // may have landed before the failure stopped the pull.
    let claimed = format!("sha256:{}", "0".repeat(64))
        .parse::<Digest>()
        .unwrap();
    let real = format!("sha256:{}", sha256_hex(&img.layers[1].0))
        .parse::<Digest>()
        .unwrap();
    assert!(!store.has_layer(&claimed) && !store.has_layer(&real));
    assert!(count(&store, "layers", |n| !n.ends_with(".size")) <= 1);
    assert!(tmp_is_empty(&store));
}

/// Finding 7 (sizes): a layer size that overstates was accepted, and so was any size when the
/// blob was already stored. Both are refused, and so is a size that understates.
#[test]
fn a_layer_size_that_lies_is_refused() {
    let reg = Registry::ensure().unwrap();
    let layer = || vec![(LayerSpec::new().file("/sized", "sized", 0o644), Comp::Gzip)];
    let honest = Img::busybox("sized", layer());
    let mut liar = Img::busybox("sized", layer());
    liar.size_lie = 10;
    liar.labels = json!({"test": "sized-liar"});
    let liar_repo = unique_repo("size-liar");
    push(&reg, &liar, &liar_repo);

    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let err = err_text(pull(&store, &reg.reference(&liar_repo), &insecure()));
    assert!(err.contains("but the manifest lists"), "{err}");
    assert!(store.images().unwrap().is_empty());

    let mut under = Img::busybox("sized", layer());
    under.size_lie = -10;
    under.labels = json!({"test": "sized-under"});
    let under_repo = unique_repo("size-under");
    push(&reg, &under, &under_repo);
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = new_store(&fresh_dir);
    let err = err_text(pull(&fresh, &reg.reference(&under_repo), &insecure()));
    assert!(err.contains("sent more than the"), "{err}");
    assert!(fresh.images().unwrap().is_empty());

    // The same blob stored by an honest image first: the lie is still caught.
    let honest_repo = unique_repo("size-honest");
    push(&reg, &honest, &honest_repo);
    pull(&store, &reg.reference(&honest_repo), &insecure()).unwrap();
    let err = err_text(pull(&store, &reg.reference(&liar_repo), &insecure()));
    assert!(err.contains("but the blob has"), "{err}");
}

#[test]
fn concurrent_pulls_store_one_copy() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("concurrent");
    let img = Img::busybox(
        "concurrent",
        vec![
            (
                LayerSpec::new().file("/n1", noise(2_000_000, 1), 0o644),
                Comp::Plain,
            ),
            (
                LayerSpec::new().file("/n2", noise(2_000_000, 2), 0o644),
                Comp::Zstd,
            ),
        ],
    );
    push(&reg, &img, &repo);
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let name = reg.reference(&repo);
    let results: Vec<Result<Pulled>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| pull(&store, &name, &insecure())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        r.unwrap();
    }
    let images = store.images().unwrap();
    assert_eq!(images.len(), 1, "one image, named once");
    assert_eq!(images[0].names.len(), 1);
    // manifest, config, 3 layer blobs; 3 layer dirs + 3 size files.
    assert_eq!(count(&store, "blobs/sha256", |_| true), 5);
    assert_eq!(count(&store, "layers", |_| true), 6);
    assert!(tmp_is_empty(&store));
}

/// An image big enough that a pull is still running after its first layer lands.
fn big_image() -> Img {
    let mut layers = vec![(LayerSpec::new().file("/small", "s", 0o644), Comp::Gzip)];
    for i in 0..4 {
        layers.push((
            LayerSpec::new().file(format!("/big{i}"), noise(12_000_000, i + 10), 0o644),
            Comp::Plain,
        ));
    }
    let mut img = Img::busybox("big", layers);
    img.layers.remove(0); // no busybox: the small layer comes first
    img
}

/// Wait until the store holds at least `n` unpacked layers.
fn wait_for_layers(store: &Store, n: usize, deadline: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if count(store, "layers", |n| !n.ends_with(".size")) >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

#[test]
fn cancelled_pull_leaves_a_store_the_next_pull_completes() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("cancel");
    push(&reg, &big_image(), &repo);
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let name = reg.reference(&repo);

    // The pull runs on its own thread and runtime; the main thread cancels it by dropping its
    // future (as a ^C handler or a timeout would) once the first layer has landed.
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let puller = {
        let (store, name) = (store.clone(), name.clone());
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let source = Source::Registry(name);
                let opts = insecure();
                tokio::select! {
                    r = atomic_store::pull::pull(&store, &source, &opts) => Some(r.map(|_| ())),
                    _ = cancelled => None,
                }
            })
            // Dropping the runtime here waits for the unpacking threads, which stop at the
            // closed channel and remove their temporary files.
        })
    };
    assert!(wait_for_layers(&store, 1, Duration::from_secs(60)));
    let _ = cancel.send(());
    let outcome = puller.join().unwrap();
    if outcome.is_none() {
        eprintln!("the pull was cancelled mid-way");
    }
    assert!(tmp_is_empty(&store), "{:?}", inventory(&store));

    let pulled = pull(&store, &name, &insecure()).unwrap();
    assert_eq!(pulled.image.layer_dirs(&store).unwrap().len(), 5);
    assert!(tmp_is_empty(&store));
}

/// Run by `killed_pull_…` in a child process (the test binary itself) which it SIGKILLs.
#[test]
#[ignore = "run as a child of killed_pull_leaves_a_store_the_next_pull_completes"]
fn child_pull() {
    let (Ok(root), Ok(name)) = (
        std::env::var("REGPULL_CHILD_STORE"),
        std::env::var("REGPULL_CHILD_NAME"),
    ) else {
        return;
    };
    let store = Store::open(Path::new(&root)).unwrap();
    pull(&store, &name, &insecure()).unwrap();
}

#[test]
fn killed_pull_leaves_a_store_the_next_pull_completes() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("kill");
    push(&reg, &big_image(), &repo);
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir);
    let name = reg.reference(&repo);

    for round in 1..=2 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_pull", "--ignored", "--quiet"])
            .env("REGPULL_CHILD_STORE", store.root())
            .env("REGPULL_CHILD_NAME", &name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Each round lets one more layer land before the kill (or the pull finish).
        wait_for_layers(&store, round, Duration::from_secs(60));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    eprintln!(
        "after the kills: {} entries in tmp/, {} images",
        count(&store, "tmp", |_| true),
        store.images().unwrap().len()
    );
    // Whatever the kills left in tmp/ is cleared by the next pull, which completes.
    let pulled = pull(&store, &name, &insecure()).unwrap();
    assert_eq!(pulled.image.layer_dirs(&store).unwrap().len(), 5);
    for d in pulled.image.layer_dirs(&store).unwrap() {
        assert!(d.is_dir());
    }
    assert!(tmp_is_empty(&store), "{:?}", inventory(&store));
}

#[test]
fn inspect_and_remote_digest_read_without_pulling() {
    let reg = Registry::ensure().unwrap();
    let repo = unique_repo("inspect");
    let digest = push(&reg, &Img::busybox("inspect", vec![]), &repo);
    let rt = runtime();
    let remote = rt
        .block_on(registry::inspect(&reg.reference(&repo), &insecure()))
        .unwrap();
    assert_eq!(remote.name, format!("127.0.0.1:5000/{repo}:latest"));
    assert_eq!(remote.manifest_digest.to_string(), digest);
    assert_eq!(remote.layers.len(), 1);
    let labels = remote
        .config
        .config()
        .as_ref()
        .unwrap()
        .labels()
        .clone()
        .unwrap();
    assert_eq!(labels["test"], "inspect");

    let (name, d) = rt
        .block_on(registry::remote_manifest_digest(
            &reg.reference(&repo),
            &insecure(),
        ))
        .unwrap();
    assert_eq!(name, remote.name);
    assert_eq!(d, digest.parse::<Digest>().unwrap());

    // --src-creds to a registry that asks for none: sent only if challenged, so it works.
    let with_creds = PullOptions {
        credentials: Some(("user".into(), "secret".into())),
        ..insecure()
    };
    let again = rt
        .block_on(registry::inspect(&reg.reference(&repo), &with_creds))
        .unwrap();
    assert_eq!(again.manifest_digest, remote.manifest_digest);

    let err = rt
        .block_on(registry::inspect(
            &reg.reference(&format!("{repo}:nope")),
            &insecure(),
        ))
        .unwrap_err();
    assert!(format!("{err:#}").contains("manifest unknown"), "{err:#}");
}

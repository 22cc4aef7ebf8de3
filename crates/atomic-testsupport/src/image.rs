//! Image config and the two on-disk image formats: `docker save` archives and OCI layouts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;

use crate::rootfs::{added_layer_tar, flat_tar, layer_tar};
use crate::{ImageId, ImageSpec, sha256_hex};

/// The `created` date of every test image; a fixed date keeps the config, and so the ID, stable.
const CREATED: &str = "2000-01-01T00:00:00Z";

const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The image config. Structs rather than `json!` so the field order, and therefore the image
/// ID, cannot change with serde_json's `preserve_order` feature being unified in by another
/// crate of the workspace.
#[derive(Serialize)]
struct Config<'a> {
    architecture: &'static str,
    config: RunConfig<'a>,
    created: &'static str,
    history: Vec<History>,
    os: &'static str,
    rootfs: RootFs,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig<'a> {
    env: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<&'a [String]>,
    /// Left out when empty, so images without it keep their IDs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    exposed_ports: BTreeMap<&'a str, BTreeMap<(), ()>>,
    labels: &'a BTreeMap<String, String>,
    working_dir: &'static str,
}

#[derive(Serialize)]
struct History {
    created: &'static str,
    created_by: &'static str,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

/// Docker and OCI name architectures after Go's GOARCH, not Rust's target names.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// An uncompressed layer and its hex sha256 (the diff ID).
struct Layer {
    tar: Vec<u8>,
    hex: String,
}

/// An image in memory: the uncompressed layers, base first, and the config that names them.
struct Built {
    layers: Vec<Layer>,
    config: Vec<u8>,
    id: ImageId,
}

fn build(spec: &ImageSpec) -> Result<Built> {
    let base =
        layer_tar(spec).with_context(|| format!("building the layer of {}", spec.reference()))?;
    let mut tars = vec![base];
    for (i, added) in spec.layers.iter().enumerate() {
        tars.push(
            added_layer_tar(added)
                .with_context(|| format!("building layer {} of {}", i + 2, spec.reference()))?,
        );
    }
    let layers: Vec<Layer> = tars
        .into_iter()
        .map(|tar| Layer {
            hex: sha256_hex(&tar),
            tar,
        })
        .collect();
    let config = Config {
        architecture: host_architecture(),
        config: RunConfig {
            env: spec.effective_env(),
            cmd: spec.cmd.as_deref(),
            entrypoint: spec.entrypoint.as_deref(),
            exposed_ports: spec
                .exposed_ports
                .iter()
                .map(|p| (p.as_str(), BTreeMap::new()))
                .collect(),
            labels: &spec.labels,
            working_dir: "/",
        },
        created: CREATED,
        history: layers
            .iter()
            .map(|_| History {
                created: CREATED,
                created_by: "atomic-testsupport (busybox-static)",
            })
            .collect(),
        os: "linux",
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| format!("sha256:{}", l.hex)).collect(),
        },
    };
    let config = serde_json::to_vec(&config)?;
    let id = ImageId::of(&config);
    Ok(Built { layers, config, id })
}

/// The ID `spec` gets (the digest of its config), without writing the image anywhere.
pub fn image_id(spec: &ImageSpec) -> Result<ImageId> {
    Ok(build(spec)?.id)
}

/// Writes `data` to `path` through a unique temporary file in the same directory and a rename,
/// so a concurrent reader (another test process) sees the old file or the whole new one.
fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(data)?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes `spec` as a `docker save` archive that `docker load -i` and `podman load -i` accept:
/// `manifest.json`, the config as `<id>.json`, the layer as `<diff-id>/layer.tar`
/// (uncompressed), and the legacy `repositories` file. Returns the image ID.
pub fn write_docker_archive(spec: &ImageSpec, out: &Path) -> Result<ImageId> {
    let built = build(spec)?;
    let config_name = format!("{}.json", built.id.hex());
    let layer_dirs: Vec<String> = built.layers.iter().map(|l| format!("{}/", l.hex)).collect();
    let layer_names: Vec<String> = built
        .layers
        .iter()
        .map(|l| format!("{}/layer.tar", l.hex))
        .collect();
    let top = &built.layers[built.layers.len() - 1].hex;
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name,
        "RepoTags": [spec.reference()],
        "Layers": layer_names,
    }]))?;
    let repositories = serde_json::to_vec(&json!({
        spec.name.clone(): { spec.tag.clone(): top },
    }))?;
    let mut entries = vec![(config_name.as_str(), built.config.as_slice())];
    for ((dir, name), layer) in layer_dirs.iter().zip(&layer_names).zip(&built.layers) {
        entries.push((dir.as_str(), &[][..]));
        entries.push((name.as_str(), layer.tar.as_slice()));
    }
    entries.push(("manifest.json", manifest.as_slice()));
    entries.push(("repositories", repositories.as_slice()));
    let archive = flat_tar(entries)?;
    write_atomically(out, &archive)
        .with_context(|| format!("writing docker archive of {}", spec.reference()))?;
    Ok(built.id)
}

/// What [`write_oci_layout`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciImage {
    /// The image ID (digest of the config).
    pub id: ImageId,
    /// `sha256:<hex>` of the manifest: what a registry reports after a push.
    pub manifest_digest: String,
    /// The tag it was written under (`org.opencontainers.image.ref.name`).
    pub tag: String,
}

fn write_blob(dir: &Path, data: &[u8]) -> Result<(String, u64)> {
    let hex = sha256_hex(data);
    let path = dir.join("blobs/sha256").join(&hex);
    // Content-addressed: an existing blob of this name already has these bytes.
    if !path.exists() {
        write_atomically(&path, data)?;
    }
    Ok((format!("sha256:{hex}"), data.len() as u64))
}

/// Writes `spec` into the OCI image layout at `dir` under the ref name `spec.tag`, for
/// `skopeo copy oci:DIR:TAG …` or `umoci`. The layer is gzip-compressed, as registries expect.
/// An existing layout is extended: other tags stay, this tag is replaced. One writer per
/// directory at a time (index.json is rewritten whole).
pub fn write_oci_layout(spec: &ImageSpec, dir: &Path) -> Result<OciImage> {
    write_oci_layout_inner(spec, dir).with_context(|| {
        format!(
            "writing OCI layout of {} to {}",
            spec.reference(),
            dir.display()
        )
    })
}

fn write_oci_layout_inner(spec: &ImageSpec, dir: &Path) -> Result<OciImage> {
    let built = build(spec)?;
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    write_atomically(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;

    let mut layers = Vec::new();
    for layer in &built.layers {
        // Header mtime 0 and a fixed level keep the compressed blob, and its digest, stable.
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), flate2::Compression::default());
        gz.write_all(&layer.tar)?;
        let (digest, size) = write_blob(dir, &gz.finish()?)?;
        layers.push(json!({"mediaType": MEDIA_LAYER_GZIP, "digest": digest, "size": size}));
    }
    let (config_digest, config_size) = write_blob(dir, &built.config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
        "layers": layers,
    }))?;
    let (manifest_digest, manifest_size) = write_blob(dir, &manifest)?;

    let index_path = dir.join("index.json");
    let mut manifests: Vec<serde_json::Value> = match std::fs::read(&index_path) {
        Ok(bytes) => {
            let index: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing {}", index_path.display()))?;
            index["manifests"].as_array().cloned().unwrap_or_default()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", index_path.display())),
    };
    manifests.retain(|m| m["annotations"][REF_NAME].as_str() != Some(spec.tag.as_str()));
    manifests.push(json!({
        "mediaType": MEDIA_MANIFEST,
        "digest": manifest_digest,
        "size": manifest_size,
        "annotations": {REF_NAME: spec.tag},
    }));
    let index = json!({"schemaVersion": 2, "manifests": manifests});
    write_atomically(&index_path, &serde_json::to_vec(&index)?)?;
    Ok(OciImage {
        id: built.id,
        manifest_digest,
        tag: spec.tag.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn archive_entries(path: &Path) -> BTreeMap<String, Vec<u8>> {
        crate::tar_members(path).unwrap()
    }

    fn spec() -> ImageSpec {
        ImageSpec::new("atomic-test-unit")
            .tag("v1")
            .label("RUN", "docker run --rm IMAGE /bin/echo hi")
            .cmd(["/bin/sh"])
    }

    #[test]
    fn docker_archive_has_expected_entries() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("img.tar");
        let id = write_docker_archive(&spec(), &out).unwrap();
        let entries = archive_entries(&out);

        let manifest: serde_json::Value =
            serde_json::from_slice(&entries["manifest.json"]).unwrap();
        let config_name = format!("{}.json", id.hex());
        assert_eq!(manifest[0]["Config"], config_name.as_str());
        assert_eq!(manifest[0]["RepoTags"], json!(["atomic-test-unit:v1"]));
        let layer_name = manifest[0]["Layers"][0].as_str().unwrap();
        assert!(layer_name.ends_with("/layer.tar"));
        assert!(entries.contains_key("repositories"));

        let config_bytes = &entries[&config_name];
        assert_eq!(
            sha256_hex(config_bytes),
            id.hex(),
            "ID is the config's digest"
        );
        let config: serde_json::Value = serde_json::from_slice(config_bytes).unwrap();
        assert_eq!(config["os"], "linux");
        assert_eq!(config["architecture"], host_architecture());
        assert_eq!(
            config["config"]["Labels"]["RUN"],
            "docker run --rm IMAGE /bin/echo hi"
        );
        assert_eq!(config["config"]["Cmd"], json!(["/bin/sh"]));
        assert_eq!(config["config"]["WorkingDir"], "/");
        assert!(config["config"].get("Entrypoint").is_none());
        let diff_id = format!("sha256:{}", sha256_hex(&entries[layer_name]));
        assert_eq!(config["rootfs"]["diff_ids"], json!([diff_id]));
    }

    #[test]
    fn same_spec_gives_same_id_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
        let id_a = write_docker_archive(&spec(), &a).unwrap();
        let id_b = write_docker_archive(&spec(), &b).unwrap();
        assert_eq!(id_a, id_b);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let other = write_docker_archive(&spec().label("X", "y"), &b).unwrap();
        assert_ne!(id_a, other, "a different label must give a different ID");
    }

    #[test]
    fn oci_layout_is_consistent_and_keeps_other_tags() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = write_oci_layout(&spec(), dir.path()).unwrap();
        let v2 = write_oci_layout(&spec().tag("v2").label("X", "y"), dir.path()).unwrap();
        let again = write_oci_layout(&spec(), dir.path()).unwrap();
        assert_eq!(v1, again);
        assert_ne!(v1.id, v2.id);

        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
        let refs: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["annotations"][REF_NAME].as_str().unwrap())
            .collect();
        assert_eq!(refs, ["v2", "v1"]);

        // Every digest named in the manifest points to a blob with that digest.
        let blob = |digest: &str| {
            let hex = digest.strip_prefix("sha256:").unwrap();
            let data = std::fs::read(dir.path().join("blobs/sha256").join(hex)).unwrap();
            assert_eq!(sha256_hex(&data), hex);
            data
        };
        let manifest: serde_json::Value =
            serde_json::from_slice(&blob(&v1.manifest_digest)).unwrap();
        assert_eq!(
            blob(manifest["config"]["digest"].as_str().unwrap()).len() as u64,
            manifest["config"]["size"]
        );
        let gz = blob(manifest["layers"][0]["digest"].as_str().unwrap());
        let mut layer = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut layer)
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&blob(&v1.id.digest())).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{}", sha256_hex(&layer))
        );
    }

    #[test]
    fn architecture_uses_go_names() {
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host_architecture(), "amd64");
        }
        if cfg!(target_arch = "aarch64") {
            assert_eq!(host_architecture(), "arm64");
        }
    }
}

//! Manifests as registries serve them: which kinds atomic accepts, telling an image manifest
//! from an index, and choosing the host's platform from an index. Pure functions of the bytes.

use anyhow::{Result, bail};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::Deserialize;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The `Accept` list of a manifest request: Docker schema 1 is left out on purpose (it has no
/// config and no verifiable layer digests), so registries that can convert send schema 2.
pub const ACCEPT: &[&str] = &[OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST];

/// A parsed manifest response.
#[derive(Debug)]
pub enum Parsed {
    Image(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

/// Just enough of any manifest to know what it is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
}

/// Parse manifest bytes as an image manifest or an index. Docker schema 2 manifests and
/// manifest lists have the same shape as their OCI counterparts and parse as them.
pub fn parse(bytes: &[u8]) -> Result<Parsed> {
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| anyhow::anyhow!("the manifest is not valid JSON: {e}"))?;
    if probe.schema_version == Some(1) {
        bail!(
            "the manifest is Docker schema 1, which atomic does not support (it cannot be \
             verified); push the image again with a current tool"
        );
    }
    let is_index = match probe.media_type.as_deref() {
        Some(OCI_INDEX | DOCKER_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        // The mediaType field is optional in OCI; an index is the one with `manifests`.
        None => probe.manifests.is_some(),
        Some(other) => bail!("the manifest has media type {other}, which is not a container image"),
    };
    Ok(if is_index {
        Parsed::Index(Box::new(ImageIndex::from_reader(bytes)?))
    } else {
        Parsed::Image(Box::new(ImageManifest::from_reader(bytes)?))
    })
}

/// Docker and OCI name architectures after Go's GOARCH, not Rust's.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The index entry for linux on this machine's architecture (the variant is not compared: a
/// v7 and a v8 arm image both run on the boards atomic targets, and images rarely carry both).
pub fn host_entry(index: &ImageIndex) -> Result<&Descriptor> {
    let arch = host_architecture();
    let found = index.manifests().iter().find(|d| {
        d.platform()
            .as_ref()
            .is_some_and(|p| p.os().to_string() == "linux" && p.architecture().to_string() == arch)
    });
    match found {
        Some(d) => Ok(d),
        None => {
            let available: Vec<String> = index
                .manifests()
                .iter()
                .filter_map(|d| d.platform().as_ref())
                .map(|p| format!("{}/{}", p.os(), p.architecture()))
                .collect();
            bail!(
                "the image has no variant for linux/{arch} (it has: {})",
                if available.is_empty() {
                    "none with a platform".to_string()
                } else {
                    available.join(", ")
                }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#;
    const LAYER: &str = r#"{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":3,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#;

    #[test]
    fn docker_schema2_parses_as_an_image_manifest() {
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{CONFIG},"layers":[{LAYER}]}}"#
        );
        let Parsed::Image(m) = parse(text.as_bytes()).unwrap() else {
            panic!("not an image manifest")
        };
        assert_eq!(m.layers().len(), 1);
        assert_eq!(
            m.layers()[0].media_type().to_string(),
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
    }

    #[test]
    fn picks_the_host_platform_from_an_index() {
        let entry = |arch: &str, digit: char| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","size":1,"digest":"sha256:{}","platform":{{"os":"linux","architecture":"{arch}"}}}}"#,
                digit.to_string().repeat(64)
            )
        };
        let other = if host_architecture() == "s390x" {
            "amd64"
        } else {
            "s390x"
        };
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{},{}]}}"#,
            entry(other, 'a'),
            entry(host_architecture(), 'b')
        );
        let Parsed::Index(index) = parse(text.as_bytes()).unwrap() else {
            panic!("not an index")
        };
        assert!(
            host_entry(&index)
                .unwrap()
                .digest()
                .to_string()
                .ends_with("bbbb")
        );

        let only_other = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entry(other, 'a')
        );
        let Parsed::Index(index) = parse(only_other.as_bytes()).unwrap() else {
            panic!("an index without mediaType is still an index")
        };
        let err = host_entry(&index).unwrap_err().to_string();
        assert!(err.contains(&format!("linux/{other}")), "{err}");
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        assert!(parse(br#"{"schemaVersion":1,"fsLayers":[]}"#).is_err());
        assert!(
            parse(br#"{"schemaVersion":2,"mediaType":"application/vnd.example+json"}"#).is_err()
        );
        assert!(parse(b"<html>").is_err());
    }
}

//! What Podman would answer about images, worked out from a [`Snapshot`] of its store: which
//! image a name means, `podman image inspect`'s fields and `podman images`' list. Each rule
//! follows the Podman 4.3 code that produces the answer (libimage and containers/storage); a
//! case the rules do not cover is a [`Doubt`], never a guess.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::storage::{Snapshot, StoredImage, Sure, doubt};
use crate::{ImageInfo, ImageSummary};

/// Transports `podman image inspect` would take a name for (`docker://x`, `oci:dir`…).
const TRANSPORTS: [&str; 9] = [
    "containers-storage",
    "docker",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "dir",
    "sif",
    "tarball",
];

/// A name as Podman resolves it locally.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Query {
    /// A full image ID (64 hex digits, `sha256:` allowed in front).
    Id(String),
    /// `domain/path:tag`: the name the image must carry.
    Qualified(String),
    /// A name without a domain; Podman tries `localhost/NAME` first.
    Short(String),
}

/// Classify a name, or doubt it (digests, ID prefixes, transports, odd spellings: the CLI
/// knows the rules for those).
fn parse_query(name: &str) -> Sure<Query> {
    if let Some((transport, _)) = name.split_once(':')
        && TRANSPORTS.contains(&transport)
        && !name[transport.len() + 1..].starts_with(|c: char| c.is_ascii_digit())
    {
        return doubt(format!("'{name}' names a transport"));
    }
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Ok(Query::Id(hex.to_string()));
    }
    if name.starts_with("sha256:") || name.contains('@') {
        return doubt(format!("'{name}' is a digest reference"));
    }
    let (path, tag) = split_tag(name);
    if let Some(tag) = tag
        && !valid_tag(tag)
    {
        return doubt(format!("'{name}' has a tag this reader does not check"));
    }
    let tag = tag.unwrap_or("latest");
    let (domain, rest) = match path.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, path),
    };
    if !rest.split('/').all(valid_component) || domain.is_some_and(|d| !valid_domain(d)) {
        return doubt(format!("'{name}' is not a name this reader resolves"));
    }
    Ok(match domain {
        // docker.io's official images live under library/.
        Some("docker.io") if !rest.contains('/') => {
            Query::Qualified(format!("docker.io/library/{rest}:{tag}"))
        }
        Some("index.docker.io") => return doubt("index.docker.io is normalised by the CLI"),
        Some(domain) => Query::Qualified(format!("{domain}/{rest}:{tag}")),
        None => Query::Short(format!("{rest}:{tag}")),
    })
}

/// `repo:tag` → (`repo`, `tag`); a `:` before the last `/` is a port, not a tag.
fn split_tag(name: &str) -> (&str, Option<&str>) {
    let last = name.rfind('/').map_or(0, |i| i + 1);
    match name[last..].rfind(':') {
        Some(i) => (&name[..last + i], Some(&name[last + i + 1..])),
        None => (name, None),
    }
}

fn valid_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// A path component: lower-case letters and digits, separated by `.`, `_`, `__` or dashes.
fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    alnum(first)
        && alnum(last)
        && bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        && !c.contains("..")
        && !c.contains("___")
        && !c.contains("._")
        && !c.contains("_.")
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    !host.is_empty()
        && host.split('.').all(|p| {
            !p.is_empty()
                && !p.starts_with('-')
                && !p.ends_with('-')
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The parts of an image's config atomic uses (OCI and Docker configs share these names).
#[derive(Deserialize)]
struct ImageConfig {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    config: Option<RunConfig>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
}

/// What libimage compares to tell a parent image from a child: layers and history.
#[derive(Deserialize)]
struct Lineage {
    #[serde(default)]
    rootfs: RootFs,
    #[serde(default)]
    history: Vec<History>,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize, PartialEq)]
struct History {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    empty_layer: bool,
}

impl Lineage {
    /// libimage `areParentAndChild`: the child uses all of the parent's layers, and its history
    /// is the parent's plus one entry (times compared as instants).
    fn is_parent_of(&self, child: &Lineage) -> Sure<bool> {
        let (p, c) = (&self.rootfs.diff_ids, &child.rootfs.diff_ids);
        if p.len() > c.len() || p[..] != c[..p.len()] {
            return Ok(false);
        }
        if self.history.len() + 1 != child.history.len() {
            return Ok(false);
        }
        for (a, b) in self.history.iter().zip(&child.history) {
            let same_time = match (&a.created, &b.created) {
                (None, None) => true,
                (Some(x), Some(y)) => instant(x)? == instant(y)?,
                _ => false,
            };
            if !same_time
                || a.created_by != b.created_by
                || a.author != b.author
                || a.comment != b.comment
                || a.empty_layer != b.empty_layer
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn instant(text: &str) -> Sure<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .or_else(|e| doubt(format!("time '{text}': {e}")))
}

/// The architecture names of Go (and so of image configs) for the machine atomic runs on.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

impl Snapshot {
    /// The image `name` means to Podman, or a doubt (including "not here": it may be in a
    /// store this reader does not know, or under a search registry's prefix).
    pub fn resolve(&self, name: &str) -> Sure<&StoredImage> {
        let by_name = |full: &str| {
            self.images
                .iter()
                .find(|i| i.names.iter().any(|n| n == full))
        };
        let found = match parse_query(name)? {
            Query::Id(id) => self.images.iter().find(|i| i.id == id),
            Query::Qualified(full) => by_name(&full),
            // localhost/ is the first candidate for a short name, before any alias or search
            // registry (containers/image shortnames.ResolveLocally).
            Query::Short(short) => by_name(&format!("localhost/{short}")),
        };
        match found {
            Some(image) => Ok(image),
            None => doubt(format!("no image '{name}' in the store the reader knows")),
        }
    }

    /// `podman image inspect`'s answer for a stored image.
    pub fn image_info(&self, image: &StoredImage) -> Sure<ImageInfo> {
        let config = self.config(image)?;
        if config.os != "linux" || config.architecture != host_architecture() {
            return doubt(format!(
                "image {} is for {}/{}: the CLI decides about other platforms",
                image.id, config.os, config.architecture
            ));
        }
        let run = config.config.unwrap_or_default();
        let created = match &config.created {
            Some(text) => Some(go_time(text)?),
            None => None,
        };
        Ok(ImageInfo {
            id: image.id.clone(),
            repo_tags: repo_tags(image)?,
            repo_digests: repo_digests(image),
            labels: run.labels.unwrap_or_default(),
            cmd: run.cmd.unwrap_or_default(),
            entrypoint: run.entrypoint.unwrap_or_default(),
            env: run.env.unwrap_or_default(),
            created,
            size: Some(self.image_size(image)?),
        })
    }

    fn config(&self, image: &StoredImage) -> Sure<ImageConfig> {
        let (_, bytes) = self.config_bytes(image)?;
        serde_json::from_slice(&bytes)
            .or_else(|e| doubt(format!("config of image {}: {e}", image.id)))
    }

    /// The image's config, found through its manifest and checked against its digest.
    fn config_bytes(&self, image: &StoredImage) -> Sure<(String, Vec<u8>)> {
        let manifest: serde_json::Value =
            serde_json::from_slice(&self.big_data(image, "manifest")?)
                .or_else(|e| doubt(format!("manifest of image {}: {e}", image.id)))?;
        if manifest.get("schemaVersion").and_then(|v| v.as_i64()) != Some(2)
            || manifest.get("manifests").is_some()
        {
            return doubt(format!("image {} has no schema 2 image manifest", image.id));
        }
        let Some(digest) = manifest.pointer("/config/digest").and_then(|d| d.as_str()) else {
            return doubt(format!("manifest of image {} names no config", image.id));
        };
        let Some(want) = digest.strip_prefix("sha256:") else {
            return doubt(format!("config digest {digest} is not sha256"));
        };
        let bytes = self.big_data(image, digest)?;
        if hex::encode(Sha256::digest(&bytes)) != want {
            return doubt(format!(
                "config of image {} does not match {digest}",
                image.id
            ));
        }
        Ok((digest.to_string(), bytes))
    }

    /// containers/storage's `ImageSize`: the uncompressed size of every layer of the image plus
    /// the sizes of its big-data items.
    pub fn image_size(&self, image: &StoredImage) -> Sure<u64> {
        let mut size: i64 = 0;
        for layer in self.layer_chain(image)? {
            // The recorded size is only trusted with a digest beside it; without one
            // containers/storage measures the layer, and so must the CLI.
            if layer.diff_digest.is_empty() || layer.diff_size < 0 {
                return doubt(format!("layer {} has no recorded size", layer.id));
            }
            size += layer.diff_size;
        }
        size += image.big_data_sizes.values().sum::<i64>();
        u64::try_from(size).or_else(|_| doubt(format!("image {} has a negative size", image.id)))
    }

    /// `podman images --format json` (with `--all`: also intermediate images), one entry per
    /// image.
    pub fn summaries(&self, all: bool) -> Sure<Vec<ImageSummary>> {
        let mut out = Vec::with_capacity(self.images.len());
        for image in &self.images {
            // Without names an image is dangling if nothing is built on it, and intermediate
            // (listed only with --all) otherwise.
            let intermediate = image.names.is_empty() && self.has_children(image)?;
            if intermediate && !all {
                continue;
            }
            out.push(ImageSummary {
                id: image.id.clone(),
                repo_tags: image.names.clone(),
                created: match &image.created {
                    Some(t) => Some(unix_seconds(t)?),
                    None => None,
                },
                size: Some(self.image_size(image)?),
                dangling: image.names.is_empty() && !intermediate,
            });
        }
        Ok(out)
    }

    /// libimage's "children" (containers/common 0.50, Podman 4.3): images whose top layer is
    /// this image's top layer or sits directly on it, whose configs say they were built on it —
    /// its diff IDs first, and its history plus one entry.
    fn has_children(&self, image: &StoredImage) -> Sure<bool> {
        let top = image.layer.as_str();
        if top.is_empty() {
            return doubt(format!("image {} has no top layer", image.id));
        }
        let mut parent = None;
        for other in &self.images {
            if other.id == image.id {
                continue;
            }
            let on_top = other.layer == top
                || self
                    .layers
                    .get(&other.layer)
                    .is_some_and(|l| l.parent == top);
            if !on_top {
                continue;
            }
            if parent.is_none() {
                parent = Some(self.lineage(image)?);
            }
            if let Some(parent) = &parent
                && parent.is_parent_of(&self.lineage(other)?)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn lineage(&self, image: &StoredImage) -> Sure<Lineage> {
        let (_, bytes) = self.config_bytes(image)?;
        serde_json::from_slice(&bytes)
            .or_else(|e| doubt(format!("history of image {}: {e}", image.id)))
    }

    /// The IDs of the images the store's containers were made from.
    pub fn used_image_ids(&self) -> HashSet<String> {
        self.containers
            .iter()
            .filter(|c| !c.image.is_empty())
            .map(|c| c.image.clone())
            .collect()
    }

    /// Does a container of the store go by `name` (its name, ID or an ID prefix)?
    pub fn has_container(&self, name: &str) -> bool {
        self.containers
            .iter()
            .any(|c| c.names.iter().any(|n| n == name) || c.id.starts_with(name))
    }

    /// The first of `paths` that is a regular file in the image, read from its layers.
    pub fn read_first_file(
        &self,
        image: &StoredImage,
        paths: &[&str],
    ) -> Sure<Option<(String, Vec<u8>)>> {
        if self.location.rootless {
            return doubt("a rootless store may keep whiteouts in another form");
        }
        let mut dirs = Vec::new();
        for layer in self.layer_chain(image)? {
            let dir = self.layer_dir(layer)?;
            if !dir.is_dir() {
                return doubt(format!("{} is missing", dir.display()));
            }
            dirs.push(dir);
        }
        for path in paths {
            match crate::native::rootfs::read_file(&dirs, path) {
                Ok(Some(data)) => return Ok(Some((path.to_string(), data))),
                Ok(None) => {}
                Err(e) => return doubt(format!("reading {path} from image {}: {e}", image.id)),
            }
        }
        Ok(None)
    }
}

/// `RepoTags`: the names that carry a tag (libimage `NamedTaggedRepoTags`).
fn repo_tags(image: &StoredImage) -> Sure<Vec<String>> {
    let mut tags = Vec::new();
    for name in &image.names {
        if name.contains('@') {
            continue;
        }
        match split_tag(name) {
            (_, Some(_)) => tags.push(name.clone()),
            (_, None) => return doubt(format!("image {} has a name without a tag", image.id)),
        }
    }
    Ok(tags)
}

/// `RepoDigests`: every name's repository with every digest of the image, sorted (libimage
/// `RepoDigests`). The digests are the image's own and those of its `manifest*` big data
/// (containers/storage `recomputeDigests`).
fn repo_digests(image: &StoredImage) -> Vec<String> {
    let mut digests: Vec<&str> = Vec::new();
    if !image.digest.is_empty() {
        digests.push(&image.digest);
    }
    for (key, digest) in &image.big_data_digests {
        if key.starts_with("manifest") && !digests.contains(&digest.as_str()) {
            digests.push(digest);
        }
    }
    let mut out: Vec<String> = Vec::new();
    for name in &image.names {
        let repo = match name.split_once('@') {
            Some((repo, _)) => repo,
            None => split_tag(name).0,
        };
        for digest in &digests {
            let canonical = format!("{repo}@{digest}");
            if !out.contains(&canonical) {
                out.push(canonical);
            }
        }
    }
    out.sort();
    out
}

/// An RFC 3339 time as Go prints it in JSON (RFC 3339 with nanoseconds, trailing zeros of the
/// fraction dropped, `Z` for UTC).
pub(crate) fn go_time(text: &str) -> Sure<String> {
    let t = chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|e| doubt(format!("time '{text}': {e}")))?;
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    let offset = t.offset().local_minus_utc();
    if offset == 0 {
        out.push('Z');
    } else {
        out.push_str(&t.format("%:z").to_string());
    }
    Ok(out)
}

/// Seconds since the epoch, as Go's `Time.Unix`.
fn unix_seconds(text: &str) -> Sure<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .or_else(|e| doubt(format!("time '{text}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_as_podman_resolves_them_or_are_doubted() {
        let id = "297ddfb0d12f57709a25c1748c9272ebfdd91964032827f204507559220fc3ff";
        for (name, want) in [
            (id.to_string(), Query::Id(id.into())),
            (format!("sha256:{id}"), Query::Id(id.into())),
            ("busybox".into(), Query::Short("busybox:latest".into())),
            ("i20-x:v1".into(), Query::Short("i20-x:v1".into())),
            ("library/x".into(), Query::Short("library/x:latest".into())),
            (
                "docker.io/busybox".into(),
                Query::Qualified("docker.io/library/busybox:latest".into()),
            ),
            (
                "localhost/x".into(),
                Query::Qualified("localhost/x:latest".into()),
            ),
            (
                "127.0.0.1:5000/a/b:2".into(),
                Query::Qualified("127.0.0.1:5000/a/b:2".into()),
            ),
            (
                "localhost:5000/x".into(),
                Query::Qualified("localhost:5000/x:latest".into()),
            ),
        ] {
            assert_eq!(parse_query(&name), Ok(want), "{name}");
        }
        // An ID prefix is a short name first (localhost/297ddfb0d12f:latest); not found there,
        // it is a doubt (tests/podman_storage.rs checks that).
        assert_eq!(
            parse_query("297ddfb0d12f"),
            Ok(Query::Short("297ddfb0d12f:latest".into()))
        );
        for name in [
            "sha256:297ddf",
            "x@sha256:297ddfb0d12f57709a25c1748c9272ebfdd91964032827f204507559220fc3ff",
            "docker://busybox",
            "containers-storage:x",
            "Upper",
            "a//b",
            "x:",
            "x:-bad",
            "-x",
            "",
        ] {
            assert!(parse_query(name).is_err(), "{name}");
        }
    }

    fn lineage(diffs: &[&str], history: &[&str]) -> Lineage {
        serde_json::from_value(serde_json::json!({
            "rootfs": {"type": "layers", "diff_ids": diffs},
            "history": history.iter().map(|h| serde_json::json!({
                "created": "2024-01-01T00:00:00Z", "created_by": h
            })).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn a_child_is_its_parent_plus_one_step() {
        let parent = lineage(&["sha256:a"], &["ADD a"]);
        assert!(
            parent
                .is_parent_of(&lineage(&["sha256:a", "sha256:b"], &["ADD a", "ADD b"]))
                .unwrap()
        );
        // A label change: the same layers, one more (empty) history entry.
        assert!(
            parent
                .is_parent_of(&lineage(&["sha256:a"], &["ADD a", "LABEL x"]))
                .unwrap()
        );
        // A sibling built from the same base, or the same image again, is not a child.
        assert!(
            !parent
                .is_parent_of(&lineage(&["sha256:a"], &["ADD a"]))
                .unwrap()
        );
        assert!(
            !parent
                .is_parent_of(&lineage(&["sha256:c", "sha256:b"], &["ADD c", "ADD b"]))
                .unwrap()
        );
        assert!(
            !parent
                .is_parent_of(&lineage(&["sha256:a", "sha256:b"], &["ADD z", "ADD b"]))
                .unwrap()
        );
    }

    #[test]
    fn times_are_printed_as_go_prints_them() {
        for (input, want) in [
            ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05.120000000Z", "2024-01-02T03:04:05.12Z"),
            (
                "2024-01-02T03:04:05.000000001+00:00",
                "2024-01-02T03:04:05.000000001Z",
            ),
            ("2024-01-02T03:04:05+02:00", "2024-01-02T03:04:05+02:00"),
        ] {
            assert_eq!(go_time(input).unwrap(), want, "{input}");
        }
        assert!(go_time("yesterday").is_err());
    }

    #[test]
    fn repo_tags_and_digests_follow_libimage() {
        let image: StoredImage = serde_json::from_value(serde_json::json!({
            "id": "a",
            "digest": "sha256:1111",
            "names": ["localhost/x:latest", "127.0.0.1:5000/y:2", "127.0.0.1:5000/y@sha256:2222"],
            "big-data-digests": {"manifest": "sha256:1111", "manifest-sha256:2222": "sha256:2222",
                                 "sha256:cfg": "sha256:cfg"}
        }))
        .unwrap();
        assert_eq!(
            repo_tags(&image).unwrap(),
            vec!["localhost/x:latest", "127.0.0.1:5000/y:2"]
        );
        assert_eq!(
            repo_digests(&image),
            vec![
                "127.0.0.1:5000/y@sha256:1111",
                "127.0.0.1:5000/y@sha256:2222",
                "localhost/x@sha256:1111",
                "localhost/x@sha256:2222",
            ]
        );
    }
}

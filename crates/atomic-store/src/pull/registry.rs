//! Pulls from registries over the OCI distribution API (oci-client).
//!
//! A pull, in order:
//! 1. The name is parsed; a short name (`busybox`, `team/app:1`) is tried on each of
//!    registries.conf's `unqualified-search-registries` in turn (`config.rs`).
//! 2. The registry is reached over verified https, or, when `--tls-verify=false` or the
//!    registry is `insecure` in registries.conf, over https without verification and then
//!    plain http; credentials come from `--src-creds` or the auth files (`auth.rs`), and
//!    oci-client fetches a bearer token when the registry asks for one (`remote.rs`).
//! 3. The manifest is fetched (an index is resolved to linux on this machine's architecture)
//!    and hashed. If the store already has that manifest under the name, with all its layers,
//!    the pull stops there, and the caller says it is up to date.
//! 4. The config is fetched and verified, the layers fetched and unpacked in parallel
//!    (`layers.rs`), and only then the manifest stored and the name pointed at it.
//!
//! Everything is written under temporary names and renamed once verified (`store.rs`), so a
//! pull that fails or is killed at any point leaves the store as it was plus garbage in `tmp/`
//! that the next writer removes.

pub mod attachments;
pub mod auth;
mod capped;
pub mod config;
mod layers;
pub mod manifest;
mod remote;
pub mod timeout;

use anyhow::{Context, Result};
use oci_spec::image::ImageConfiguration;

use self::config::RegistriesConf;
use self::layers::LayerJob;
use self::remote::{Fetched, Remote};
use super::progress::Progress;
use super::{PullOptions, Pulled};
use crate::digest::Digest;
use crate::reference::ImageName;
use crate::store::Store;

/// An image on a registry, inspected without pulling it (`atomic info --remote`).
#[derive(Debug, Clone)]
pub struct RemoteImage {
    /// The fully qualified name the short name resolved to.
    pub name: String,
    /// The digest of the image manifest (for an index, the entry for this machine's platform).
    pub manifest_digest: Digest,
    /// The digest of its config: the image ID an engine gives it once pulled.
    pub config_digest: Digest,
    pub config: ImageConfiguration,
    /// The layer blobs and their compressed sizes, base first.
    pub layers: Vec<(Digest, u64)>,
}

/// Pull `name` from its registry into `store`. The caller holds the store's writer lock.
pub async fn pull(store: &Store, name: &str, opts: &PullOptions) -> Result<Pulled> {
    let progress = Progress::new(opts.quiet);
    let (remote, fetched) = resolve(name, opts, &progress).await?;
    let ref_name = remote.name.to_string();
    // The signature policy decides before anything is stored.
    let attachments = attachments::RegistryAttachments {
        name: &remote.name,
        opts,
    };
    let image = super::policy::registry_image(&ref_name, &fetched.bytes)?;
    super::policy::check(opts, &image, Some(&attachments)).await?;

    if let Some(image) = super::current(store, &ref_name, &fetched.digest)? {
        // The caller reports it ("Image … is up to date.").
        return Ok(Pulled {
            name: ref_name,
            image,
            changed: false,
        });
    }

    let config = fetch_config(&remote, store, &fetched).await?;
    let pairs = super::check_image(&fetched.manifest, &config)
        .with_context(|| format!("checking the image {ref_name}"))?;
    let jobs = fetched
        .manifest
        .layers()
        .iter()
        .zip(pairs)
        .map(|(desc, (blob, diff_id))| LayerJob {
            blob,
            size: desc.size(),
            diff_id,
        })
        .collect();
    let size = layers::fetch_all(&remote, store, jobs, &progress).await?;

    let stored = store
        .put_blob(&fetched.bytes)
        .with_context(|| format!("storing the manifest of {ref_name}"))?;
    debug_assert_eq!(stored, fetched.digest);
    let image = super::record(
        store,
        &ref_name,
        &fetched.digest,
        fetched.bytes.len() as u64,
        size,
    )?;
    Ok(Pulled {
        name: ref_name,
        image,
        changed: true,
    })
}

/// Fetch what `atomic info --remote` shows: the manifest and config of `name`, nothing else.
pub async fn inspect(name: &str, opts: &PullOptions) -> Result<RemoteImage> {
    let progress = Progress::new(opts.quiet);
    let (remote, fetched) = resolve(name, opts, &progress).await?;
    let config_desc = fetched.manifest.config();
    let digest = Digest::try_from(config_desc.digest())?;
    let bytes = remote.small_blob(&digest, config_desc.size()).await?;
    let config = ImageConfiguration::from_reader(&bytes[..])
        .with_context(|| format!("the config of {} is not an image config", remote.name))?;
    let layers = fetched
        .manifest
        .layers()
        .iter()
        .map(|l| Ok((Digest::try_from(l.digest())?, l.size())))
        .collect::<Result<_>>()?;
    Ok(RemoteImage {
        name: remote.name.to_string(),
        manifest_digest: fetched.digest,
        config_digest: digest,
        config,
        layers,
    })
}

/// The fully qualified name `name` resolves to and the digest of its manifest on the registry
/// (for an index, of this platform's entry: what a pull would store). For `images verify`
/// against a registry.
pub async fn remote_manifest_digest(name: &str, opts: &PullOptions) -> Result<(String, Digest)> {
    let progress = Progress::new(opts.quiet);
    let (remote, fetched) = resolve(name, opts, &progress).await?;
    Ok((remote.name.to_string(), fetched.digest))
}

/// Parse `name`, connect to its registry (trying the search registries for a short name) and
/// fetch its manifest.
async fn resolve(name: &str, opts: &PullOptions, progress: &Progress) -> Result<(Remote, Fetched)> {
    let parsed = ImageName::parse(name)?;
    let conf = RegistriesConf::load(opts.registries_conf.as_deref())?;
    if parsed.registry.is_some() {
        let remote = Remote::connect(parsed.qualified(), &conf, opts).await?;
        let fetched = remote.manifest().await?;
        return Ok((remote, fetched));
    }
    let registries = conf
        .search_registries()
        .with_context(|| format!("resolving the short name '{name}'"))?;
    let mut failures = Vec::new();
    for registry in &registries {
        let candidate = parsed.on_registry(registry).qualified();
        let attempt = async {
            let remote = Remote::connect(candidate.clone(), &conf, opts).await?;
            let fetched = remote.manifest().await?;
            anyhow::Ok((remote, fetched))
        };
        match attempt.await {
            Ok(found) => {
                progress.message(&format!("Resolved short name '{name}' to {candidate}"));
                return Ok(found);
            }
            Err(e) => {
                tracing::debug!("{candidate}: {e:#}");
                failures.push(format!("  {candidate}: {e:#}"));
            }
        }
    }
    anyhow::bail!(
        "short name '{name}' was not found on any search registry ({}):\n{}",
        conf.describe_sources(),
        failures.join("\n")
    )
}

/// Fetch, verify and store the config blob (kept in the store even when the image turns out
/// to be unpullable: it is small, and `images prune` removes it).
async fn fetch_config(
    remote: &Remote,
    store: &Store,
    fetched: &Fetched,
) -> Result<ImageConfiguration> {
    let desc = fetched.manifest.config();
    let digest = Digest::try_from(desc.digest())?;
    let bytes = if store.has_blob(&digest) {
        store.read_blob(&digest)?
    } else {
        let bytes = remote.small_blob(&digest, desc.size()).await?;
        store.put_blob(&bytes)?;
        bytes
    };
    ImageConfiguration::from_reader(&bytes[..]).with_context(|| {
        format!(
            "the config {digest} of {} is not an image config",
            remote.name
        )
    })
}

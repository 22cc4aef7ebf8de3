//! Pulls from registries over the OCI distribution API (oci-client).
//!
//! A pull, in order:
//! 1. The name is parsed; a short name (`busybox`, `team/app:1`) resolves through an alias or
//!    registries.conf's `unqualified-search-registries` and `short-name-mode`
//!    (`shortname.rs`); each candidate's registry entry may rewrite it and put mirrors first
//!    (`sources.rs`, `config.rs`).
//! 2. The registry is reached over https verified against the system's CAs and its certs.d
//!    (`tls.rs`), or, when `--tls-verify=false` or the registry is `insecure` in
//!    registries.conf, over https without verification and then plain http; credentials come
//!    from `--src-creds` or the auth files (`auth.rs`), and a bearer token is fetched when the
//!    registry asks for one (`token.rs`, `remote.rs`).
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
pub(crate) mod remote;
pub mod shortname;
pub mod sources;
pub mod timeout;
pub mod tls;
pub mod token;

use anyhow::{Context, Result};
use oci_spec::image::ImageConfiguration;

use self::config::RegistriesConf;
use self::layers::LayerJob;
use self::remote::{Fetched, Remote};
use self::token::Access;
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
    let (logical, remote, fetched) = resolve(name, opts, &progress).await?;
    // The name asked for, not a mirror's or a rewritten location's: what podman stores too,
    // and what the signature policy is asked about (signatures are fetched where the manifest
    // came from).
    let ref_name = logical.to_string();
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
    let (logical, remote, fetched) = resolve(name, opts, &progress).await?;
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
        name: logical.to_string(),
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
    let (logical, _remote, fetched) = resolve(name, opts, &progress).await?;
    Ok((logical.to_string(), fetched.digest))
}

/// Parse `name`, resolve a short name, connect to the first of its sources that has it and
/// fetch its manifest. Returns the qualified name asked for beside the connection.
async fn resolve(
    name: &str,
    opts: &PullOptions,
    progress: &Progress,
) -> Result<(ImageName, Remote, Fetched)> {
    let parsed = ImageName::parse(name)?;
    let conf = RegistriesConf::load(opts.registries_conf.as_deref())?;
    if parsed.registry.is_some() {
        let qualified = parsed.qualified();
        let (remote, fetched) = from_sources(&conf, &qualified, opts, progress).await?;
        return Ok((qualified, remote, fetched));
    }
    let alias_file = opts
        .short_name_aliases
        .clone()
        .or_else(shortname::default_alias_file);
    let terminal = !opts.quiet && shortname::on_terminal();
    let resolution = shortname::resolve(
        &conf,
        &parsed,
        alias_file.as_deref(),
        terminal,
        &mut shortname::prompt,
    )?;
    let mut failures = Vec::new();
    for candidate in &resolution.candidates {
        match from_sources(&conf, candidate, opts, progress).await {
            Ok((remote, fetched)) => {
                progress.message(&format!(
                    "Resolved short name '{name}' to {candidate} ({})",
                    resolution.origin
                ));
                if let (Some((short, repo)), Some(file)) = (&resolution.record, &alias_file)
                    && let Err(e) = shortname::record(file, short, repo)
                {
                    progress.message(&format!("warning: recording the alias {short}: {e:#}"));
                }
                return Ok((candidate.clone(), remote, fetched));
            }
            Err(e) => {
                tracing::debug!("{candidate}: {e:#}");
                failures.push(format!("  {candidate}: {e:#}"));
            }
        }
    }
    anyhow::bail!(
        "short name '{name}' was not found on any of its candidates ({}):\n{}",
        resolution.origin,
        failures.join("\n")
    )
}

/// Connect to the first source of `name` (its mirrors, then its location) that serves its
/// manifest.
async fn from_sources(
    conf: &RegistriesConf,
    name: &ImageName,
    opts: &PullOptions,
    progress: &Progress,
) -> Result<(Remote, Fetched)> {
    let sources = conf.pull_sources(name)?;
    let helpers = conf.credential_helpers();
    let mut failures = Vec::new();
    for source in &sources {
        let attempt = async {
            let remote = Remote::connect_source(source, &helpers, opts, Access::Pull).await?;
            let fetched = remote.manifest().await?;
            anyhow::Ok((remote, fetched))
        };
        match attempt.await {
            Ok(found) => {
                if source.mirror {
                    progress.message(&format!("Pulling {name} from the mirror {}", source.name));
                }
                return Ok(found);
            }
            // The only source: its own error is the clearest.
            Err(e) if sources.len() == 1 => return Err(e),
            Err(e) => {
                tracing::debug!("{}: {e:#}", source.name);
                failures.push(format!("  {}: {e:#}", source.name));
            }
        }
    }
    anyhow::bail!(
        "{name} could not be pulled from its mirrors nor its registry ({}):\n{}",
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

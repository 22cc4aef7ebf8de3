//! The signature policy check every pull makes before it stores anything: the host's
//! containers-policy.json(5) (`--signature-policy`, else `~/.config/containers/policy.json`,
//! else `/etc/containers/policy.json`) decides, with the signatures registries.d points at.
//! The decision itself is atomic-trust's; this module finds the files and fetches signatures
//! (lookaside storage over `file://` and `http(s)://`, sigstore attachments through the
//! registry client).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use atomic_trust::cosign::SigstoreSignature;
use atomic_trust::registries_d::{self, RegistriesD};
use atomic_trust::{DockerRef, HostFiles, Image, Policy, Signatures};

use super::{PullOptions, Source};
use crate::digest::Digest;

/// The largest signature read (containers/image's limit).
const MAX_SIGNATURE: u64 = 4 << 20;
/// Lookaside storage is read from signature-1 up to the first missing one, at most this many.
const MAX_SIGNATURES: usize = 128;

/// The process-wide `--signature-policy` and `--registries.d` (global flags of the binary),
/// used when a pull's options name none.
static DEFAULTS: OnceLock<(Option<PathBuf>, Option<PathBuf>)> = OnceLock::new();

/// Set the global `--signature-policy` and `--registries.d` once, at start-up.
pub fn set_defaults(signature_policy: Option<PathBuf>, registries_d: Option<PathBuf>) {
    let _ = DEFAULTS.set((signature_policy, registries_d));
}

/// Where sigstore attachments come from: the registry the image is pulled from.
pub trait Attachments: Sync {
    /// The sigstore signatures in the attachment image tagged `tag` (`sha256-HEX.sig`); none
    /// when there is no such tag.
    fn sigstore<'a>(
        &'a self,
        tag: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<SigstoreSignature>>> + Send + 'a>>;
}

/// The policy file given explicitly (the pull's options, else the global
/// `--signature-policy`), for engines that look the default up themselves (Podman).
pub fn explicit_policy(opts: &PullOptions) -> Option<PathBuf> {
    opts.signature_policy
        .clone()
        .or_else(|| DEFAULTS.get().and_then(|d| d.0.clone()))
}

/// The policy file that applies, if any.
pub fn policy_file(opts: &PullOptions) -> Option<PathBuf> {
    let explicit = explicit_policy(opts);
    atomic_trust::policy_path(explicit.as_deref(), atomic_trust::home_dir().as_deref())
}

/// The registries.d directory that applies.
pub fn registries_d_dir(opts: &PullOptions) -> PathBuf {
    let explicit = opts
        .registries_d
        .clone()
        .or_else(|| DEFAULTS.get().and_then(|d| d.1.clone()));
    registries_d::config_dir(explicit.as_deref(), atomic_trust::home_dir().as_deref())
}

/// Read and parse the policy; None (with a note, unless quiet) when there is no policy file.
pub fn load(opts: &PullOptions) -> Result<Option<(PathBuf, Policy)>> {
    let Some(path) = policy_file(opts) else {
        if !opts.quiet {
            eprintln!(
                "note: no signature policy ({} or ~/.config/containers/policy.json) exists; \
                 pulling without checking signatures",
                atomic_trust::SYSTEM_POLICY
            );
        }
        return Ok(None);
    };
    let bytes = crate::input::read_regular(&path, MAX_SIGNATURE)
        .with_context(|| format!("reading the signature policy {}", path.display()))?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("the signature policy {} is not UTF-8", path.display()))?;
    let policy = Policy::parse(&text)
        .with_context(|| format!("reading the signature policy {}", path.display()))?;
    Ok(Some((path, policy)))
}

/// The policy view of a registry image: its reference (tag `latest` added) and manifest.
pub fn registry_image(name: &str, manifest: &[u8]) -> Result<Image> {
    let r = DockerRef::parse(name)?.with_default_tag();
    Ok(Image {
        transport: "docker".into(),
        description: format!("docker://{r}"),
        identity: r.policy_identity(),
        namespaces: r.policy_namespaces(),
        docker_ref: Some(r),
        manifest: manifest.to_vec(),
    })
}

/// The policy view of an image from another transport. None of them carries signatures; the
/// scope is what containers/image uses: the resolved directory or file for `oci` and
/// `oci-archive`, only `""` for `docker-archive`, the reference for `docker-daemon:NAME:TAG`.
pub fn local_image(source: &Source) -> Result<Image> {
    let path_scopes = |transport: &str, path: &Path| -> Result<Image> {
        // A path that does not resolve fails the import right after, with a clearer message.
        let resolved = path
            .canonicalize()
            .or_else(|_| std::path::absolute(path))
            .with_context(|| format!("resolving {}", path.display()))?;
        let identity = resolved.display().to_string();
        let mut namespaces = Vec::new();
        let mut p = identity.clone();
        while let Some(i) = p.rfind('/') {
            if p == "/" {
                break;
            }
            namespaces.push(p.clone());
            p.truncate(i);
        }
        Ok(Image {
            transport: transport.into(),
            description: format!("{transport}:{identity}"),
            identity,
            namespaces,
            docker_ref: None,
            manifest: Vec::new(),
        })
    };
    match source {
        Source::Oci { dir, .. } => path_scopes("oci", dir),
        Source::OciArchive { file, .. } => path_scopes("oci-archive", file),
        Source::DockerArchive { file } => Ok(Image {
            transport: "docker-archive".into(),
            description: format!("docker-archive:{}", file.display()),
            identity: String::new(),
            namespaces: Vec::new(),
            docker_ref: None,
            manifest: Vec::new(),
        }),
        Source::DockerDaemon { name } => {
            let by_id = name.len() >= 12
                && name
                    .strip_prefix("sha256:")
                    .unwrap_or(name)
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit());
            let r = if by_id {
                None
            } else {
                Some(DockerRef::parse(name)?.with_default_tag())
            };
            Ok(Image {
                transport: "docker-daemon".into(),
                description: format!("docker-daemon:{name}"),
                identity: r
                    .as_ref()
                    .map(DockerRef::policy_identity)
                    .unwrap_or_default(),
                namespaces: r
                    .as_ref()
                    .map(DockerRef::policy_namespaces)
                    .unwrap_or_default(),
                docker_ref: r,
                manifest: Vec::new(),
            })
        }
        Source::Registry(name) => bail!("'{name}' is a registry image"),
    }
}

/// What `atomic images verify` says about an image's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureState {
    /// No policy file: nothing is checked.
    NoPolicy,
    /// Accepted: the scope and the requirements that accepted it.
    Accepted(String),
    /// Refused, and why.
    Rejected(String),
}

/// The image `name` (from a registry) with `manifest` judged against the policy now, with the
/// signatures lookaside storage and (through `attachments`) the registry hold.
pub async fn signature_state(
    opts: &PullOptions,
    name: &str,
    manifest: &[u8],
    attachments: Option<&dyn Attachments>,
) -> Result<SignatureState> {
    let quiet = PullOptions {
        quiet: true,
        ..opts.clone()
    };
    let Some((_, policy)) = load(&quiet)? else {
        return Ok(SignatureState::NoPolicy);
    };
    let image = registry_image(name, manifest)?;
    let sigs = signatures(opts, &policy, &image, attachments).await?;
    Ok(match policy.evaluate(&image, &sigs, &HostFiles) {
        Ok(a) => SignatureState::Accepted(format!("{} ({})", a.scope, a.requirements.join(", "))),
        Err(r) => SignatureState::Rejected(format!(
            "{} requires {}: {}",
            r.scope, r.requirement, r.reason
        )),
    })
}

/// Decide whether `image` may be pulled; an error names the policy file, the scope and the
/// requirement that refused it.
pub async fn check(
    opts: &PullOptions,
    image: &Image,
    attachments: Option<&dyn Attachments>,
) -> Result<()> {
    let Some((path, policy)) = load(opts)? else {
        return Ok(());
    };
    let sigs = signatures(opts, &policy, image, attachments).await?;
    match policy.evaluate(image, &sigs, &HostFiles) {
        Ok(accepted) => {
            tracing::debug!(
                "{} accepted by {} of {}",
                image.description,
                accepted.scope,
                path.display()
            );
            Ok(())
        }
        Err(refusal) => Err(anyhow::Error::new(refusal)
            .context(format!("checking the signature policy {}", path.display()))),
    }
}

/// The signatures the policy's requirements for `image` look at (for a multi-platform image,
/// those of the platform's manifest the pull stores, as containers/image 5.23 — skopeo 1.9,
/// podman 4.3 — checks the instance it copies; a signature of the index alone is not one of
/// the image's) (none are fetched for a
/// scope that needs none).
pub async fn signatures(
    opts: &PullOptions,
    policy: &Policy,
    image: &Image,
    attachments: Option<&dyn Attachments>,
) -> Result<Signatures> {
    let needs = policy.needs(image);
    let mut sigs = Signatures::default();
    let Some(r) = image
        .docker_ref
        .as_ref()
        .filter(|_| image.transport == "docker")
    else {
        return Ok(sigs);
    };
    if !needs.simple && !needs.sigstore {
        return Ok(sigs);
    }
    let dir = registries_d_dir(opts);
    let conf = RegistriesD::load_dir(&dir)
        .map_err(anyhow::Error::msg)
        .with_context(|| {
            format!(
                "reading the signature storage configuration {}",
                dir.display()
            )
        })?;
    let digest = Digest::of(&image.manifest).to_string();
    if needs.simple {
        let top = conf.lookaside_top(r, false).unwrap_or_else(|| {
            registries_d::builtin_lookaside(
                rustix::process::geteuid().is_root(),
                atomic_trust::home_dir().as_deref(),
            )
        });
        sigs.simple = lookaside(&top, r, &digest).await?;
    }
    if needs.sigstore
        && conf.use_sigstore_attachments(r)
        && let Some(source) = attachments
    {
        let tag = atomic_trust::cosign::attachment_tag(&digest);
        sigs.sigstore = source
            .sigstore(&tag)
            .await
            .with_context(|| format!("fetching the sigstore signatures of {r} ({tag})"))?;
    }
    Ok(sigs)
}

/// Read `signature-1`, `signature-2`, … from lookaside storage until one is missing.
pub async fn lookaside(top: &str, r: &DockerRef, digest: &str) -> Result<Vec<Vec<u8>>> {
    let client = if top.starts_with("http://") || top.starts_with("https://") {
        Some(
            reqwest::Client::builder()
                .connect_timeout(super::registry::timeout::CONNECT_TIMEOUT)
                .read_timeout(super::registry::timeout::read_timeout())
                .build()
                .context("setting up an HTTP client for signature storage")?,
        )
    } else if !top.starts_with("file://") {
        bail!("signature storage {top} is neither a file:// nor an http(s):// URL");
    } else {
        None
    };
    let mut found = Vec::new();
    for index in 0..MAX_SIGNATURES {
        let url = registries_d::signature_url(top, r, digest, index);
        let sig = match &client {
            None => read_file_signature(&url)?,
            Some(c) => read_http_signature(c, &url).await?,
        };
        match sig {
            Some(bytes) => found.push(bytes),
            None => break,
        }
    }
    Ok(found)
}

fn read_file_signature(url: &str) -> Result<Option<Vec<u8>>> {
    let path = Path::new(url.trim_start_matches("file://"));
    match crate::input::read_regular(path, MAX_SIGNATURE) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the signature {}", path.display())),
    }
}

async fn read_http_signature(client: &reqwest::Client, url: &str) -> Result<Option<Vec<u8>>> {
    let mut response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("fetching the signature {url}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        bail!("fetching the signature {url}: the server answered {status}");
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("fetching the signature {url}"))?
    {
        if (bytes.len() + chunk.len()) as u64 > MAX_SIGNATURE {
            bail!("the signature {url} is larger than {MAX_SIGNATURE} bytes; refusing it");
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_scopes_are_containers_images() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("layout");
        std::fs::create_dir(&dir).unwrap();
        let img = local_image(&Source::Oci {
            dir: dir.clone(),
            tag: Some("v1".into()),
        })
        .unwrap();
        let resolved = dir.canonicalize().unwrap().display().to_string();
        assert_eq!(img.identity, resolved);
        assert_eq!(img.namespaces[0], resolved);
        assert!(img.namespaces.iter().all(|n| n != "/" && !n.is_empty()));
        let img = local_image(&Source::DockerDaemon {
            name: "busybox".into(),
        })
        .unwrap();
        assert_eq!(img.identity, "docker.io/library/busybox:latest");
        let img = local_image(&Source::DockerArchive {
            file: "/x.tar".into(),
        })
        .unwrap();
        assert_eq!(img.identity, "");
    }
}

//! Signing images on a registry (`atomic sign`, and `atomic push --sign-by` after a push):
//! simple signing signatures written to lookaside storage (registries.d's `lookaside-staging`,
//! or `--signature-path`), as `skopeo copy --sign-by` writes them, and sigstore signatures
//! pushed as the `sha256-<hex>.sig` attachment cosign and containers/image read.
//!
//! What is signed is the image's top-level manifest digest on the registry with the reference
//! it was pushed as, so `podman pull` and `skopeo copy` of that reference accept it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use atomic_trust::cosign;
use atomic_trust::gpg::{Gpg, GpgProgram};
use atomic_trust::registries_d::{self, RegistriesD};
use atomic_trust::{DockerRef, simple};

use crate::digest::Digest;
use crate::pull::PullOptions;
use crate::pull::registry::config::RegistriesConf;
use crate::pull::registry::remote::Remote;
use crate::pull::registry::sources::PullSource;
use crate::pull::registry::token::Access;
use crate::push::OCI_MANIFEST;
use crate::reference::ImageName;

/// How to sign.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// GPG key (fingerprint, key ID or user ID) for a simple signing signature.
    pub sign_by: Option<String>,
    /// GNUPGHOME for gpg.
    pub gnupghome: Option<PathBuf>,
    /// Write simple signatures under this directory instead of registries.d's
    /// lookaside-staging.
    pub signature_path: Option<PathBuf>,
    /// An unencrypted P-256 private key (PEM) for a sigstore signature.
    pub sigstore_private_key: Option<PathBuf>,
    /// registries.d to read (as for pulls).
    pub registries_d: Option<PathBuf>,
    /// Registry access: `tls_verify`, `credentials`.
    pub registry: PullOptions,
}

/// What one signing produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// A simple signature written to this file.
    Simple(PathBuf),
    /// A sigstore attachment pushed as this reference.
    Sigstore(String),
}

/// The library call for `atomic push --sign-by`: sign the manifest just pushed as `name`
/// (fully qualified, with a tag) whose digest on the registry is `manifest_digest`.
pub async fn sign_pushed(
    name: &str,
    manifest_digest: &Digest,
    opts: &SignOptions,
) -> Result<Vec<Signed>> {
    if opts.sign_by.is_none() && opts.sigstore_private_key.is_none() {
        bail!("nothing to sign with: pass --sign-by KEYID or --sign-by-sigstore-private-key PATH");
    }
    let r = DockerRef::parse(name)?.with_default_tag();
    let digest = manifest_digest.to_string();
    let mut done = Vec::new();
    if let Some(key) = &opts.sign_by {
        let gpg = GpgProgram {
            gnupghome: opts.gnupghome.clone(),
        };
        done.push(Signed::Simple(sign_simple(&gpg, key, &r, &digest, opts)?));
    }
    if let Some(key) = &opts.sigstore_private_key {
        done.push(Signed::Sigstore(
            sign_sigstore(key, &r, &digest, opts).await?,
        ));
    }
    Ok(done)
}

/// `atomic sign NAME`: sign the manifest the registry has for `name` now.
pub async fn sign_remote(name: &str, opts: &SignOptions) -> Result<(String, Vec<Signed>)> {
    let r = DockerRef::parse(name)?.with_default_tag();
    let qualified = r.to_string();
    let remote = connect(&r, &opts.registry, Access::Pull).await?;
    let wanted = r.digest.clone().or_else(|| r.tag.clone());
    let wanted = wanted.unwrap_or_else(|| crate::reference::DEFAULT_TAG.to_string());
    // The top-level manifest's digest (an index's own, for a multi-platform image).
    let (_, digest) = remote.manifest_raw(&wanted).await?;
    let signed = sign_pushed(&qualified, &digest, opts).await?;
    Ok((qualified, signed))
}

/// Write a simple signature for `r` at `digest` into lookaside storage; returns its path.
fn sign_simple(
    gpg: &dyn Gpg,
    key: &str,
    r: &DockerRef,
    digest: &str,
    opts: &SignOptions,
) -> Result<PathBuf> {
    let top = match &opts.signature_path {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("the signature path {} does not exist", dir.display());
            }
            format!("file://{}", std::path::absolute(dir)?.display())
        }
        None => staging_url(r, opts)?,
    };
    let Some(base) = top.strip_prefix("file://") else {
        bail!(
            "writing signatures to {top} is not supported: lookaside-staging must be a file:// URL"
        );
    };
    let payload = simple::make_payload(
        &r.to_string(),
        digest,
        &format!("atomic {}", env!("CARGO_PKG_VERSION")),
    );
    let signature = gpg
        .sign(&payload, key)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("signing {r} with key {key}"))?;
    // The first free signature-N, as skopeo and the original number them.
    let first = registries_d::signature_url(&format!("file://{base}"), r, digest, 0);
    let dir = Path::new(first.trim_start_matches("file://"))
        .parent()
        .map(Path::to_path_buf)
        .context("no signature directory")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut index = 1;
    loop {
        let path = dir.join(format!("signature-{index}"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(&signature)
                    .with_context(|| format!("writing {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => index += 1,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
}

/// Where signatures of `r` are written: registries.d's lookaside-staging (or lookaside), else
/// the built-in default.
fn staging_url(r: &DockerRef, opts: &SignOptions) -> Result<String> {
    let pull = PullOptions {
        registries_d: opts.registries_d.clone(),
        ..opts.registry.clone()
    };
    let dir = crate::pull::policy::registries_d_dir(&pull);
    let conf = RegistriesD::load_dir(&dir)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("reading {}", dir.display()))?;
    Ok(conf.lookaside_top(r, true).unwrap_or_else(|| {
        registries_d::builtin_lookaside(
            rustix::process::geteuid().is_root(),
            atomic_trust::home_dir().as_deref(),
        )
    }))
}

/// Push a cosign signature of `r` at `digest` as the `sha256-<hex>.sig` attachment (replacing
/// an earlier attachment of the same image); returns the attachment's reference.
async fn sign_sigstore(
    key: &Path,
    r: &DockerRef,
    digest: &str,
    opts: &SignOptions,
) -> Result<String> {
    let pem = std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let payload = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": r.to_string()},
            "image": {"docker-manifest-digest": digest},
            "type": simple::COSIGN_TYPE,
        },
        "optional": null,
    })
    .to_string()
    .into_bytes();
    let signature = cosign::sign(&payload, &pem)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("signing with {}", key.display()))?;
    let tag = cosign::attachment_tag(digest);
    let target = DockerRef {
        tag: Some(tag),
        digest: None,
        ..r.clone()
    };
    let remote = connect(&target, &opts.registry, Access::Push).await?;
    let config = br#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let mut layer_digests = Vec::new();
    for blob in [&config[..], &payload[..]] {
        let d = crate::push::upload_bytes(&remote, blob)
            .await
            .with_context(|| format!("pushing a blob of the signature to {target}"))?;
        layer_digests.push((d.to_string(), blob.len()));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": layer_digests[0].1,
            "digest": layer_digests[0].0,
        },
        "layers": [{
            "mediaType": cosign::PAYLOAD_MEDIA_TYPE,
            "size": layer_digests[1].1,
            "digest": layer_digests[1].0,
            "annotations": {cosign::SIGNATURE_ANNOTATION: signature},
        }],
    })
    .to_string()
    .into_bytes();
    crate::push::put_manifest(
        &remote,
        &remote.name,
        &manifest,
        OCI_MANIFEST,
        &Digest::of(&manifest),
    )
    .await
    .with_context(|| format!("pushing the signature manifest {target}"))?;
    Ok(target.to_string())
}

/// The registry client a pull and a push use, for `r`: registries.conf's `insecure` and
/// credential helpers, certs.d, the auth files, `--tls-verify`, `--cert-dir`.
async fn connect(r: &DockerRef, opts: &PullOptions, access: Access) -> Result<Remote> {
    let name = ImageName::parse(&r.to_string())?.qualified();
    let conf = RegistriesConf::load(opts.registries_conf.as_deref())?;
    let source = PullSource {
        insecure: conf.insecure(&name.repo_path()),
        name,
        mirror: false,
    };
    Remote::connect_source(&source, &conf.credential_helpers(), opts, access).await
}

//! `atomic push`: an image of the native store to a registry, as `skopeo copy` and the
//! original's push do it.
//!
//! The manifest is sent byte for byte as stored, so the image on the registry has the same
//! digest as the local one. Before each blob (config, layers) a HEAD asks whether the registry
//! has it already; only missing blobs are uploaded (POST to open an upload, one streamed PUT
//! with the digest). The destination's registry is reached as a pull reaches it (certs.d,
//! `--tls-verify`, registries.conf `insecure` and `blocked`, credentials from `--creds` or the
//! auth files, a push-scoped token). Signing requests are checked before anything is sent
//! (`sign.rs`).

pub mod sign;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use tokio::io::AsyncReadExt;

use crate::digest::Digest;
use crate::pull::PullOptions;
use crate::pull::progress::Progress;
use crate::pull::registry::config::RegistriesConf;
use crate::pull::registry::remote::{Remote, explain, refusal};
use crate::pull::registry::sources::PullSource;
use crate::pull::registry::token::Access;
use crate::reference::ImageName;
use crate::store::Store;

pub use sign::SignRequest;

/// Blobs uploaded at once.
const PARALLEL: usize = 3;
/// Bytes read from a blob file per chunk of the request body.
const CHUNK: usize = 256 * 1024;
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Options for a push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// No progress and no messages.
    pub quiet: bool,
    /// `--tls-verify`: `None` follows registries.conf.
    pub tls_verify: Option<bool>,
    /// `--dest-creds USER[:PASS]`, split.
    pub credentials: Option<(String, String)>,
    /// `--authfile`.
    pub authfile: Option<std::path::PathBuf>,
    /// `--cert-dir`.
    pub cert_dir: Option<std::path::PathBuf>,
    /// registries.conf to read (tests point this elsewhere).
    pub registries_conf: Option<std::path::PathBuf>,
    /// `--sign-by`, `--sign-by-sigstore-private-key`.
    pub sign: SignRequest,
    /// `--anonymous`: no credentials at all.
    pub anonymous: bool,
    /// `--remove-signatures`: the native store keeps no signatures to copy, so this changes
    /// nothing here; podman is told.
    pub remove_signatures: bool,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The fully qualified destination.
    pub destination: String,
    /// The manifest digest, the same on the registry as in the store.
    pub digest: Digest,
    /// Blobs sent, and blobs the registry had already.
    pub uploaded: usize,
    pub skipped: usize,
}

/// Push the stored image `image` to `destination` (default: the image's own name).
pub async fn push(
    store: &Store,
    image: &str,
    destination: Option<&str>,
    opts: &PushOptions,
) -> Result<Pushed> {
    let signer = sign::prepare(&opts.sign, &registry_options(opts))?;
    // Shared with pulls: a prune cannot remove the blobs being sent.
    let _lock = store.writer_lock()?;
    let img = store.resolve(image)?.ok_or_else(|| {
        anyhow!(
            "image '{image}' not found in storage 'native'; list images with 'atomic images list'"
        )
    })?;
    let dest = destination_name(image, destination, &img.names)?;
    let conf = RegistriesConf::load(opts.registries_conf.as_deref())?;
    if conf.blocked(&dest.repo_path()) {
        bail!(
            "pushing to {dest} is blocked: {} lists it as blocked",
            conf.describe_sources()
        );
    }
    let source = PullSource {
        insecure: conf.insecure(&dest.repo_path()),
        name: dest.clone(),
        mirror: false,
    };
    let connect = registry_options(opts);
    let remote =
        Remote::connect_source(&source, &conf.credential_helpers(), &connect, Access::Push).await?;

    let manifest = store.read_blob(&img.manifest_digest)?;
    let mut blobs = vec![(img.config_digest.clone(), img.manifest.config().size())];
    for layer in img.manifest.layers() {
        let digest = Digest::try_from(layer.digest())?;
        if !blobs.iter().any(|(d, _)| d == &digest) {
            blobs.push((digest, layer.size()));
        }
    }
    let progress = Progress::new(opts.quiet);
    let sent: Vec<bool> = stream::iter(blobs)
        .map(|(digest, size)| {
            let (remote, progress) = (&remote, &progress);
            async move {
                upload_blob(remote, store, &digest, size, progress)
                    .await
                    .with_context(|| format!("pushing blob {digest} to {}", remote.name))
            }
        })
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;

    let media_type = img
        .manifest
        .media_type()
        .as_ref()
        .map_or_else(|| OCI_MANIFEST.to_string(), |m| m.to_string());
    put_manifest(&remote, &dest, &manifest, &media_type, &img.manifest_digest).await?;
    progress.message(&format!(
        "Writing manifest {} to {dest}",
        img.manifest_digest
    ));
    if let Some(signer) = signer {
        for signed in signer.sign(&dest, &img.manifest_digest).await? {
            if !opts.quiet {
                match signed {
                    crate::sign::Signed::Simple(path) => {
                        eprintln!("Signature written to {}", path.display())
                    }
                    crate::sign::Signed::Sigstore(tag) => eprintln!("Signature pushed as {tag}"),
                }
            }
        }
    }
    let uploaded = sent.iter().filter(|s| **s).count();
    Ok(Pushed {
        destination: dest.to_string(),
        digest: img.manifest_digest.clone(),
        uploaded,
        skipped: sent.len() - uploaded,
    })
}

/// How a push reaches the registry, in the terms of the registry client (shared with pulls).
fn registry_options(opts: &PushOptions) -> PullOptions {
    PullOptions {
        quiet: opts.quiet,
        tls_verify: opts.tls_verify,
        credentials: opts.credentials.clone(),
        registries_conf: opts.registries_conf.clone(),
        cert_dir: opts.cert_dir.clone(),
        authfile: opts.authfile.clone(),
        anonymous: opts.anonymous,
        ..PullOptions::default()
    }
}

/// The qualified destination: `destination` (with or without `docker://`), else the image's
/// name as asked for, else its first name.
fn destination_name(image: &str, destination: Option<&str>, names: &[String]) -> Result<ImageName> {
    let wanted = match destination {
        Some(d) => d.strip_prefix("docker://").unwrap_or(d).to_string(),
        None => {
            let asked = ImageName::parse(image)
                .ok()
                .map(|n| n.qualified().to_string());
            match asked
                .filter(|a| names.contains(a))
                .or_else(|| names.first().cloned())
            {
                Some(name) => name,
                None => bail!("image '{image}' has no name to push it under; give a DESTINATION"),
            }
        }
    };
    let name = ImageName::parse(&wanted)?;
    if name.registry.is_none() {
        bail!(
            "the destination '{wanted}' names no registry; give REGISTRY/REPOSITORY[:TAG] \
             (for example 127.0.0.1:5000/{wanted})"
        );
    }
    Ok(name.qualified())
}

/// HEAD the blob; upload it unless the registry has it. True when it was sent.
async fn upload_blob(
    remote: &Remote,
    store: &Store,
    digest: &Digest,
    size: u64,
    progress: &Progress,
) -> Result<bool> {
    let bar = progress.layer(digest, size);
    if has_blob(remote, digest).await? {
        bar.exists();
        return Ok(false);
    }
    let path = store.blob_path(digest);
    let file = tokio::fs::File::open(&path)
        .await
        .with_context(|| format!("opening blob {digest} of the store"))?;
    let on_disk = file.metadata().await?.len();
    if on_disk != size {
        bail!("the store's blob {digest} has {on_disk} bytes, but the manifest lists {size}");
    }
    bar.uploading();
    let count = std::sync::Arc::new(bar.counter());
    let body = stream::try_unfold(file, move |mut file| {
        let count = count.clone();
        async move {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.truncate(n);
            count(n as u64);
            Ok(Some((Bytes::from(buf), file)))
        }
    });
    send_blob(remote, digest, size, reqwest::Body::wrap_stream(body)).await?;
    bar.done();
    Ok(true)
}

/// Upload a small blob held in memory (a signature's config and payload) unless the registry
/// has it; returns its digest.
pub(crate) async fn upload_bytes(remote: &Remote, bytes: &[u8]) -> Result<Digest> {
    let digest = Digest::of(bytes);
    if !has_blob(remote, &digest).await? {
        send_blob(remote, &digest, bytes.len() as u64, bytes.to_vec().into()).await?;
    }
    Ok(digest)
}

/// Whether the registry has the blob already (HEAD).
async fn has_blob(remote: &Remote, digest: &Digest) -> Result<bool> {
    let url = format!(
        "{}/v2/{}/blobs/{digest}",
        remote.base(),
        remote.name.repository
    );
    let head = remote
        .authorization()
        .await?
        .apply(remote.session.http.head(&url))
        .send()
        .await;
    let head = head.map_err(|e| explain(e.into(), &remote.name, false))?;
    match head.status() {
        s if s.is_success() => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        s => Err(explain(refusal(s, "", url), &remote.name, false)),
    }
}

/// Send `body` (`size` bytes of blob `digest`) through an upload session: POST opens it, the
/// registry says where the bytes go, a PUT with the digest completes it.
async fn send_blob(remote: &Remote, digest: &Digest, size: u64, body: reqwest::Body) -> Result<()> {
    let base = remote.base();
    let repo = &remote.name.repository;
    let session = &remote.session;
    let start = format!("{base}/v2/{repo}/blobs/uploads/");
    let answer = remote
        .authorization()
        .await?
        .apply(session.http.post(&start))
        .send()
        .await;
    let answer = answer.map_err(|e| explain(e.into(), &remote.name, false))?;
    if answer.status() != StatusCode::ACCEPTED {
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        return Err(explain(refusal(status, &body, start), &remote.name, false));
    }
    let location = answer
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| {
            anyhow!("the registry opened an upload without saying where (no Location)")
        })?;
    let base_url = Url::parse(&base)?;
    let mut target = base_url
        .join(location)
        .context("the upload Location is not a URL")?;
    target
        .query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    // An upload elsewhere (object storage) gets no registry credentials.
    let same_host = target.host_str() == base_url.host_str() && target.port() == base_url.port();
    let mut request = session
        .http
        .put(target.clone())
        .header(CONTENT_LENGTH, size)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(body);
    if same_host {
        request = remote.authorization().await?.apply(request);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| explain(e.into(), &remote.name, false))?;
    if !answer.status().is_success() {
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        return Err(explain(
            refusal(status, &body, target.to_string()),
            &remote.name,
            false,
        ));
    }
    Ok(())
}

/// PUT the manifest bytes under the destination's tag (or digest) and check the digest the
/// registry computed.
pub(crate) async fn put_manifest(
    remote: &Remote,
    dest: &ImageName,
    bytes: &[u8],
    media_type: &str,
    digest: &Digest,
) -> Result<()> {
    let reference = match (&dest.digest, &dest.tag) {
        (Some(d), _) if d != digest => {
            bail!("the destination {dest} pins another digest than the image's ({digest})")
        }
        (Some(d), _) => d.to_string(),
        (None, Some(tag)) => tag.clone(),
        (None, None) => crate::reference::DEFAULT_TAG.to_string(),
    };
    let url = format!(
        "{}/v2/{}/manifests/{reference}",
        remote.base(),
        dest.repository
    );
    let session = &remote.session;
    let answer = remote
        .authorization()
        .await?
        .apply(session.http.put(&url))
        .header(CONTENT_TYPE, media_type)
        .body(bytes.to_vec())
        .send()
        .await
        .map_err(|e| explain(e.into(), &remote.name, false))?;
    if !answer.status().is_success() {
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        return Err(explain(refusal(status, &body, url), &remote.name, false))
            .context(format!("writing the manifest of {dest}"));
    }
    let said = answer
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(said) = said
        && said != digest.to_string()
    {
        bail!("the registry stored the manifest of {dest} as {said}, not {digest}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let names = vec![
            "127.0.0.1:5000/a/b:1".to_string(),
            "localhost/x:latest".to_string(),
        ];
        let d = |image, dest| destination_name(image, dest, &names).map(|n| n.to_string());
        assert_eq!(d("localhost/x", None).unwrap(), "localhost/x:latest");
        assert_eq!(d("sha256:abc", None).unwrap(), "127.0.0.1:5000/a/b:1");
        assert_eq!(
            d("x", Some("docker://reg.io/y")).unwrap(),
            "reg.io/y:latest"
        );
        let err = d("x", Some("justaname")).unwrap_err().to_string();
        assert!(err.contains("names no registry"), "{err}");
        assert!(destination_name("x", None, &[]).is_err());
    }
}

//! Sigstore attachments for the signature policy check (`pull/policy.rs`): the image tagged
//! `sha256-<hex>.sig` beside the pulled one, read with the same registry client, settings and
//! credentials as the pull.

use std::future::Future;
use std::pin::Pin;

use anyhow::Result;
use atomic_trust::cosign::{PAYLOAD_MEDIA_TYPE, SIGNATURE_ANNOTATION, SigstoreSignature};
use oci_client::errors::{OciDistributionError, OciErrorCode};

use super::config::RegistriesConf;
use super::remote::Remote;
use super::sources::PullSource;
use super::token::Access;
use crate::digest::Digest;
use crate::pull::PullOptions;
use crate::pull::policy::Attachments;
use crate::reference::ImageName;

/// The attachments of one image on its registry.
pub struct RegistryAttachments<'a> {
    pub name: &'a ImageName,
    pub opts: &'a PullOptions,
}

impl Attachments for RegistryAttachments<'_> {
    fn sigstore<'a>(
        &'a self,
        tag: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<SigstoreSignature>>> + Send + 'a>> {
        Box::pin(async move {
            let name = ImageName {
                tag: Some(tag.to_string()),
                digest: None,
                ..self.name.clone()
            };
            let conf = RegistriesConf::load(self.opts.registries_conf.as_deref())?;
            // The attachment lives beside the manifest, where it was fetched from (a mirror
            // or a rewritten location included): `name` is already that place.
            let source = PullSource {
                insecure: conf.insecure(&name.repo_path()),
                name,
                mirror: false,
            };
            let remote = Remote::connect_source(
                &source,
                &conf.credential_helpers(),
                self.opts,
                Access::Pull,
            )
            .await?;
            let fetched = match remote.manifest().await {
                Ok(f) => f,
                Err(e) if not_found(&e) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut sigs = Vec::new();
            for layer in fetched.manifest.layers() {
                if layer.media_type().to_string() != PAYLOAD_MEDIA_TYPE {
                    continue;
                }
                let Some(signature) = layer
                    .annotations()
                    .as_ref()
                    .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                else {
                    continue;
                };
                let digest = Digest::try_from(layer.digest())?;
                let payload = remote.small_blob(&digest, layer.size()).await?;
                sigs.push(SigstoreSignature {
                    payload,
                    signature: signature.clone(),
                });
            }
            Ok(sigs)
        })
    }
}

/// The registry said it has no such tag (no attachment: no signatures).
fn not_found(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<OciDistributionError>() {
        Some(OciDistributionError::RegistryError { envelope, .. }) => {
            envelope.errors.iter().any(|c| {
                matches!(
                    c.code,
                    OciErrorCode::ManifestUnknown | OciErrorCode::NotFound
                )
            })
        }
        Some(OciDistributionError::ServerError { code: 404, .. }) => true,
        _ => false,
    }
}

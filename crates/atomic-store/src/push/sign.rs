//! Signing on the way out (`atomic push --sign-by`, `--sign-by-sigstore-private-key`).
//!
//! The signatures are made by the same code as `atomic sign` (`crate::sign`): a simple
//! signing signature written where registries.d's `lookaside-staging` says (GPG), or a
//! `sha256-<digest>.sig` attachment pushed beside the image (sigstore). The key is checked
//! by [`prepare`] *before* anything is pushed, so a push asked to sign with a key atomic
//! cannot use fails without leaving an unsigned image behind.

use std::path::PathBuf;

use anyhow::{Context, Result};
use atomic_trust::gpg::{Gpg, GpgProgram};

use crate::digest::Digest;
use crate::pull::PullOptions;
use crate::reference::ImageName;
use crate::sign::{SignOptions, Signed, sign_pushed};

/// What a push was asked to sign with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignRequest {
    /// `--sign-by KEYID`: a GPG key (fingerprint, ID or user ID).
    pub sign_by: Option<String>,
    /// `--sign-by-sigstore-private-key PATH`: a cosign-format private key.
    pub sigstore_private_key: Option<PathBuf>,
    /// `-g/--gnupghome DIR`: the GPG home for `--sign-by` (default `$GNUPGHOME`).
    pub gnupghome: Option<PathBuf>,
}

impl SignRequest {
    pub fn is_empty(&self) -> bool {
        self.sign_by.is_none() && self.sigstore_private_key.is_none()
    }
}

/// A signer whose key was found; signs once the manifest is pushed.
#[derive(Debug)]
pub struct Signer {
    opts: SignOptions,
}

/// Check the signing request before the push starts: the GPG key is in the keyring, the
/// sigstore key is a P-256 private key atomic can sign with. `None`: nothing to sign.
/// `registry` is how the push reaches the registry (a sigstore attachment goes there too).
pub fn prepare(request: &SignRequest, registry: &PullOptions) -> Result<Option<Signer>> {
    if request.is_empty() {
        return Ok(None);
    }
    if let Some(key) = &request.sign_by {
        let gpg = GpgProgram {
            gnupghome: request.gnupghome.clone(),
        };
        // A trial signature, not a key lookup: a keyring can hold the public key alone (an
        // imported key one trusts), and only signing proves the secret key is usable.
        gpg.sign(b"{}", key)
            .map_err(anyhow::Error::msg)
            .with_context(|| {
                format!("--sign-by {key}: the key is not usable; nothing was pushed")
            })?;
    }
    if let Some(path) = &request.sigstore_private_key {
        let pem = std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading the sigstore private key {}; nothing was pushed",
                path.display()
            )
        })?;
        atomic_trust::cosign::sign(b"{}", &pem)
            .map_err(anyhow::Error::msg)
            .with_context(|| {
                format!(
                    "--sign-by-sigstore-private-key {}: not a key atomic can sign with; nothing \
                     was pushed",
                    path.display()
                )
            })?;
    }
    Ok(Some(Signer {
        opts: SignOptions {
            sign_by: request.sign_by.clone(),
            gnupghome: request.gnupghome.clone(),
            signature_path: None,
            sigstore_private_key: request.sigstore_private_key.clone(),
            registries_d: None,
            registry: registry.clone(),
        },
    }))
}

impl Signer {
    /// Sign `manifest_digest`, just pushed as `reference`; returns what was written.
    pub async fn sign(
        &self,
        reference: &ImageName,
        manifest_digest: &Digest,
    ) -> Result<Vec<Signed>> {
        sign_pushed(&reference.to_string(), manifest_digest, &self.opts)
            .await
            .with_context(|| format!("signing {reference} (it was pushed unsigned)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_sign_is_fine_and_an_unusable_key_is_refused_clearly() {
        let registry = PullOptions::default();
        assert!(
            prepare(&SignRequest::default(), &registry)
                .unwrap()
                .is_none()
        );
        let dir = tempfile::tempdir().unwrap();
        let sigstore = SignRequest {
            sigstore_private_key: Some(dir.path().join("missing.key")),
            ..SignRequest::default()
        };
        let err = format!("{:#}", prepare(&sigstore, &registry).unwrap_err());
        assert!(err.contains("missing.key"), "{err}");
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "not a key").unwrap();
        let sigstore = SignRequest {
            sigstore_private_key: Some(bad),
            ..SignRequest::default()
        };
        let err = format!("{:#}", prepare(&sigstore, &registry).unwrap_err());
        assert!(err.contains("nothing was pushed"), "{err}");
    }
}

//! Signing on the way out (`atomic push --sign-by`, `--sign-by-sigstore-private-key`).
//!
//! INTEGRATION POINT: the signing functions live with the trust code (policy.json,
//! registries.d, `atomic sign`). Until they are wired in here, [`prepare`] refuses any signing
//! request *before* anything is pushed, so a push that was asked to sign never leaves an
//! unsigned image behind and never pretends to have signed. To wire it: make [`prepare`]
//! check the key (GPG fingerprint in the keyring, or the sigstore private key file) and
//! return a [`Signer`]; make [`Signer::sign`] write a simple-signing signature of
//! `manifest_digest` for `reference` where registries.d's lookaside-staging says (GPG), or
//! push a `sha256-<digest>.sig` attachment (sigstore).

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::digest::Digest;
use crate::reference::ImageName;

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
    _request: SignRequest,
}

/// Check the signing request before the push starts. `None`: nothing to sign.
pub fn prepare(request: &SignRequest) -> Result<Option<Signer>> {
    if request.is_empty() {
        return Ok(None);
    }
    let flag = if request.sign_by.is_some() {
        "--sign-by"
    } else {
        "--sign-by-sigstore-private-key"
    };
    bail!(
        "{flag}: signing while pushing is not available in this build of atomic; nothing was \
         pushed. Push without it and sign with skopeo (`skopeo copy --sign-by KEYID …`)"
    )
}

impl Signer {
    /// Sign `manifest_digest`, just pushed as `reference`.
    pub async fn sign(&self, reference: &ImageName, manifest_digest: &Digest) -> Result<()> {
        bail!("signing {reference}@{manifest_digest}: no signing function is wired in")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_sign_is_fine_and_a_key_is_refused_clearly() {
        assert!(prepare(&SignRequest::default()).unwrap().is_none());
        let gpg = SignRequest {
            sign_by: Some("ABCD".into()),
            ..SignRequest::default()
        };
        let err = prepare(&gpg).unwrap_err().to_string();
        assert!(
            err.contains("--sign-by") && err.contains("nothing was pushed"),
            "{err}"
        );
        let sigstore = SignRequest {
            sigstore_private_key: Some("/k".into()),
            ..SignRequest::default()
        };
        let err = prepare(&sigstore).unwrap_err().to_string();
        assert!(err.contains("--sign-by-sigstore-private-key"), "{err}");
    }
}

//! Sigstore signatures in cosign's format: the payload is a JSON document like simple
//! signing's (type "cosign container image signature"), kept as a layer of media type
//! [`PAYLOAD_MEDIA_TYPE`] in an image tagged `sha256-<hex>.sig` beside the signed image, and its
//! ECDSA P-256 / SHA-256 signature is the base64 DER in the layer's [`SIGNATURE_ANNOTATION`].

use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};

pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// One sigstore signature as found in an attachment: the payload bytes and the annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreSignature {
    pub payload: Vec<u8>,
    /// Base64 of the DER signature, as in the annotation.
    pub signature: String,
}

/// The attachment tag of a manifest digest `sha256:HEX`: `sha256-HEX.sig`.
pub fn attachment_tag(manifest_digest: &str) -> String {
    format!("{}.sig", manifest_digest.replacen(':', "-", 1))
}

/// Public keys from PEM text (one or several `PUBLIC KEY` blocks).
pub fn parse_public_keys(pem: &[u8]) -> Result<Vec<VerifyingKey>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the public key file is not PEM text")?;
    let keys: Vec<VerifyingKey> = pem_blocks(text, "PUBLIC KEY")
        .iter()
        .map(|block| {
            VerifyingKey::from_public_key_pem(block)
                .map_err(|e| format!("not an ECDSA P-256 public key: {e}"))
        })
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err("no PEM \"PUBLIC KEY\" block found".to_string());
    }
    Ok(keys)
}

fn pem_blocks(text: &str, label: &str) -> Vec<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let Some(stop) = rest[start..].find(&end) else {
            break;
        };
        let stop = start + stop + end.len();
        out.push(format!("{}\n", &rest[start..stop]));
        rest = &rest[stop..];
    }
    out
}

/// Whether `sig` verifies over its payload with one of `keys`.
pub fn verify(sig: &SigstoreSignature, keys: &[VerifyingKey]) -> Result<(), String> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(sig.signature.trim())
        .map_err(|e| format!("the signature annotation is not base64: {e}"))?;
    let signature =
        Signature::from_der(&der).map_err(|e| format!("the signature is not ECDSA DER: {e}"))?;
    if keys
        .iter()
        .any(|k| k.verify(&sig.payload, &signature).is_ok())
    {
        Ok(())
    } else {
        Err("cryptographic signature verification failed (wrong key or tampered)".to_string())
    }
}

/// Sign a payload with an unencrypted PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) P-256
/// key, as `openssl genpkey`/`ecparam` write them; returns the base64 DER signature.
pub fn sign(payload: &[u8], private_key_pem: &str) -> Result<String, String> {
    let key = if private_key_pem.contains("BEGIN EC PRIVATE KEY") {
        use p256::elliptic_curve::SecretKey;
        SecretKey::<p256::NistP256>::from_sec1_pem(private_key_pem)
            .map(SigningKey::from)
            .map_err(|e| format!("not an EC P-256 private key: {e}"))?
    } else if private_key_pem.contains("BEGIN PRIVATE KEY") {
        SigningKey::from_pkcs8_pem(private_key_pem)
            .map_err(|e| format!("not a PKCS#8 P-256 private key: {e}"))?
    } else {
        return Err(
            "the private key is not an unencrypted P-256 PEM key (cosign's encrypted keys are \
             not supported; export one with `openssl ec`)"
                .to_string(),
        );
    };
    let sig: Signature = key.sign(payload);
    Ok(base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    fn keypair(seed: u8) -> (String, String) {
        let key = SigningKey::from_slice(&[seed; 32]).unwrap();
        let private = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (private, public)
    }

    #[test]
    fn signs_and_verifies_and_refuses_others() {
        let (private, public) = keypair(7);
        let (_, other) = keypair(9);
        let payload = b"{\"critical\":{}}".to_vec();
        let signature = sign(&payload, &private).unwrap();
        let sig = SigstoreSignature {
            payload: payload.clone(),
            signature: signature.clone(),
        };
        let keys = parse_public_keys(public.as_bytes()).unwrap();
        verify(&sig, &keys).unwrap();
        let wrong = parse_public_keys(other.as_bytes()).unwrap();
        assert!(verify(&sig, &wrong).is_err());
        let tampered = SigstoreSignature {
            payload: b"{\"critical\":{ }}".to_vec(),
            signature,
        };
        assert!(verify(&tampered, &keys).is_err());
        assert_eq!(attachment_tag("sha256:abcd"), "sha256-abcd.sig".to_string());
        assert!(parse_public_keys(b"junk").is_err());
    }
}

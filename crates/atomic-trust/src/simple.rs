//! Simple signing ("atomic container signature"): an OpenPGP signed message whose literal data
//! is a JSON document naming the image's reference and manifest digest — what
//! `skopeo copy --sign-by`, `podman push --sign-by` and `atomic sign` write.
//!
//! Verification is done in process with rpgp; gpg is never run to check a signature (a
//! signature could otherwise be judged by whatever keyring and gpg.conf the host has).

use pgp::composed::{Deserializable, Message, SignedPublicKey};
use pgp::types::KeyDetails;
use serde_json::{Map, Value};

/// The `critical.type` of a simple signing payload.
pub const SIMPLE_SIGNING_TYPE: &str = "atomic container signature";
/// The `critical.type` of a cosign (sigstore) payload.
pub const COSIGN_TYPE: &str = "cosign container image signature";

/// The largest signed payload read from a signature (a real one is a few hundred bytes).
pub const MAX_PAYLOAD: u64 = 1 << 20;

/// What a verified signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub docker_reference: String,
    pub manifest_digest: String,
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is not a valid OpenPGP signed message: {0}")]
    Malformed(String),
    #[error("signature by key {0} is not accepted")]
    UnknownKey(String),
    #[error("the signature does not verify with any trusted key (invalid or tampered)")]
    Invalid,
    #[error("invalid signature payload: {0}")]
    Payload(String),
    #[error("{0}")]
    Key(String),
}

/// The public keys of a keyring file (binary or ASCII-armored, one or several keys), as
/// `gpg --export [--armor]` writes it.
pub fn parse_keyring(bytes: &[u8]) -> Result<Vec<SignedPublicKey>, SignatureError> {
    let parsed: Vec<_> = if is_armored(bytes) {
        let (keys, _) = SignedPublicKey::from_armor_many(bytes)
            .map_err(|e| SignatureError::Key(format!("reading an armored keyring: {e}")))?;
        keys.collect()
    } else {
        SignedPublicKey::from_bytes_many(bytes)
            .map_err(|e| SignatureError::Key(format!("reading a keyring: {e}")))?
            .collect()
    };
    let keys = parsed
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SignatureError::Key(format!("reading a keyring: {e}")))?;
    Ok(keys)
}

fn is_armored(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    bytes[start..].starts_with(b"-----BEGIN PGP")
}

/// The fingerprint as gpg prints it (40 upper-case hex digits for a v4 key).
pub fn fingerprint(key: &SignedPublicKey) -> String {
    format!("{:X}", key.fingerprint())
}

/// The identities of a key as `trust show` lists them: the e-mail in `<…>` of each user ID, or
/// the whole user ID when it has none.
pub fn user_ids(key: &SignedPublicKey) -> Vec<String> {
    key.details
        .users
        .iter()
        .filter_map(|u| u.id.as_str().map(str::to_string))
        .map(|uid| match (uid.rfind('<'), uid.rfind('>')) {
            (Some(a), Some(b)) if a < b => uid[a + 1..b].to_string(),
            _ => uid,
        })
        .collect()
}

/// Verify an OpenPGP signed message with `keys` and return the signed bytes and the primary key
/// fingerprint that made the signature. Only primary keys are accepted signers, as
/// containers/image with gpgme accepts them.
pub fn verify_message(
    signature: &[u8],
    keys: &[SignedPublicKey],
) -> Result<(Vec<u8>, String), SignatureError> {
    let malformed = |e: &dyn std::fmt::Display| SignatureError::Malformed(e.to_string());
    let message = if is_armored(signature) {
        Message::from_armor(signature).map(|(m, _)| m)
    } else {
        Message::from_bytes(signature)
    }
    .map_err(|e| malformed(&e))?;
    let mut message = message.decompress().map_err(|e| malformed(&e))?;
    if !message.is_one_pass_signed() && !matches!(message, Message::Signed { .. }) {
        return Err(SignatureError::Malformed(
            "the message is not signed".into(),
        ));
    }
    // A compressed message can inflate without bound: read at most what a payload may be.
    let mut data = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut message, MAX_PAYLOAD + 1),
        &mut data,
    )
    .map_err(|e| malformed(&e))?;
    if data.len() as u64 > MAX_PAYLOAD {
        return Err(SignatureError::Malformed(format!(
            "the signed payload is larger than {MAX_PAYLOAD} bytes"
        )));
    }
    for key in keys {
        if message.verify(key).is_ok() {
            return Ok((data, fingerprint(key)));
        }
    }
    // Say whose signature it was when no trusted key made it.
    let issuer = match &message {
        Message::Signed { reader, .. } => reader.signature(0).and_then(|s| {
            s.issuer_fingerprint()
                .first()
                .map(|f| format!("{f:X}"))
                .or_else(|| {
                    s.issuer_key_id()
                        .first()
                        .map(|k| hex::encode_upper(k.as_ref()))
                })
        }),
        _ => None,
    };
    let known_issuer = issuer.as_ref().is_some_and(|i| {
        keys.iter().any(|k| {
            let fpr = fingerprint(k);
            fpr == *i || fpr.ends_with(i.as_str())
        })
    });
    match issuer {
        Some(i) if !known_issuer => Err(SignatureError::UnknownKey(i)),
        _ => Err(SignatureError::Invalid),
    }
}

/// Parse a simple-signing or cosign payload, as strictly as containers/image: `critical` with
/// exactly `type`, `image.docker-manifest-digest` and `identity.docker-reference`; `optional`
/// free-form.
pub fn parse_payload(bytes: &[u8], expected_type: &str) -> Result<Payload, SignatureError> {
    let bad = |m: &str| SignatureError::Payload(m.to_string());
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(&format!("not JSON: {e}")))?;
    let top = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
    if let Some(k) = top.keys().find(|k| *k != "critical" && *k != "optional") {
        return Err(bad(&format!("unknown key \"{k}\"")));
    }
    let critical = top
        .get("critical")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("\"critical\" is missing"))?;
    exact_keys(critical, &["type", "image", "identity"], "critical")?;
    let kind = critical
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != expected_type {
        return Err(bad(&format!("unrecognized signature type \"{kind}\"")));
    }
    let field = |section: &str, key: &str| -> Result<String, SignatureError> {
        let obj = critical
            .get(section)
            .and_then(Value::as_object)
            .ok_or_else(|| bad(&format!("critical.{section} is not an object")))?;
        exact_keys(obj, &[key], &format!("critical.{section}"))?;
        obj.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("critical.{section}.{key} is not a string")))
    };
    Ok(Payload {
        manifest_digest: field("image", "docker-manifest-digest")?,
        docker_reference: field("identity", "docker-reference")?,
    })
}

fn exact_keys(obj: &Map<String, Value>, keys: &[&str], what: &str) -> Result<(), SignatureError> {
    if obj.len() != keys.len() || !keys.iter().all(|k| obj.contains_key(*k)) {
        return Err(SignatureError::Payload(format!(
            "{what} must have exactly the keys {}",
            keys.join(", ")
        )));
    }
    Ok(())
}

/// The payload `atomic sign` signs, in the form skopeo writes.
pub fn make_payload(docker_reference: &str, manifest_digest: &str, creator: &str) -> Vec<u8> {
    let v = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": {"creator": creator},
    });
    v.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_strict() {
        let d = format!("sha256:{}", "1".repeat(64));
        let good = make_payload("r.io/a:1", &d, "atomic");
        let p = parse_payload(&good, SIMPLE_SIGNING_TYPE).unwrap();
        assert_eq!(p.docker_reference, "r.io/a:1");
        assert_eq!(p.manifest_digest, d);
        assert!(parse_payload(&good, COSIGN_TYPE).is_err());
        let extra = br#"{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"x"},"identity":{"docker-reference":"r"},"more":1},"optional":{}}"#;
        assert!(parse_payload(extra, SIMPLE_SIGNING_TYPE).is_err());
        assert!(parse_payload(b"[]", SIMPLE_SIGNING_TYPE).is_err());
        assert!(parse_payload(b"{\"critical\":{}}", SIMPLE_SIGNING_TYPE).is_err());
    }

    #[test]
    fn garbage_is_not_a_signature() {
        assert!(matches!(
            verify_message(b"not a signature", &[]),
            Err(SignatureError::Malformed(_))
        ));
        assert!(parse_keyring(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nnope").is_err());
    }
}

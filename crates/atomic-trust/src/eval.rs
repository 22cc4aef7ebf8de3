//! Evaluating a policy for one image, as containers/image's `IsRunningImageAllowed`: the
//! requirements of the most specific scope all have to accept the image; `signedBy` accepts it
//! when one simple-signing signature is by a trusted key, for the image's manifest digest, with
//! an identity its `signedIdentity` allows; `sigstoreSigned` likewise with sigstore signatures.
//!
//! Pure logic: the signatures are handed in, and key files are read through [`KeyFiles`].

use std::path::Path;

use sha2::Digest as _;

use crate::cosign::{self, SigstoreSignature};
use crate::policy::{IdentityRule, KeySource, Policy, Requirement, Scope};
use crate::reference::DockerRef;
use crate::simple::{self, COSIGN_TYPE, Payload, SIMPLE_SIGNING_TYPE};

/// The image a decision is about.
#[derive(Debug, Clone)]
pub struct Image {
    /// The policy transport: `docker`, `oci`, `oci-archive`, `docker-archive`, `docker-daemon`.
    pub transport: String,
    /// How to name it in messages (`docker://r.io/a:1`).
    pub description: String,
    /// The policy identity and namespaces (most specific first) for scope lookup.
    pub identity: String,
    pub namespaces: Vec<String>,
    /// The image's Docker reference, if its transport has one (tagged or digested).
    pub docker_ref: Option<DockerRef>,
    /// The top-level manifest, exactly as fetched: what signatures sign.
    pub manifest: Vec<u8>,
}

/// The signatures found for an image.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    /// Simple-signing signatures (OpenPGP messages), from lookaside storage.
    pub simple: Vec<Vec<u8>>,
    /// Sigstore signatures, from registry attachments.
    pub sigstore: Vec<SigstoreSignature>,
}

/// Reading key files named by the policy (a seam for tests).
pub trait KeyFiles {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// Key files from the filesystem.
pub struct HostFiles;

impl KeyFiles for HostFiles {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        // A keyring is small; a policy naming a device or a huge file is refused.
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() || meta.len() > 16 << 20 {
            return Err(std::io::Error::other(
                "not a regular file of at most 16 MiB",
            ));
        }
        std::fs::read(path)
    }
}

/// Which kinds of signatures the requirements for an image look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub simple: bool,
    pub sigstore: bool,
}

/// An accepted image: which scope applied and what it required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub scope: Scope,
    pub requirements: Vec<&'static str>,
}

/// A refusal names the scope and the requirement that refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{image} is rejected by the signature policy: {scope} requires {requirement}: {reason}")]
pub struct Refusal {
    pub image: String,
    pub scope: Scope,
    pub requirement: &'static str,
    pub reason: String,
}

impl Policy {
    /// The scope and requirements that apply to `image`.
    pub fn requirements_for_image(&self, image: &Image) -> (Scope, &[Requirement]) {
        self.requirements_for(&image.transport, &image.identity, &image.namespaces)
    }

    /// What signatures evaluating `image` will look at, so the caller fetches only those.
    pub fn needs(&self, image: &Image) -> Needs {
        let (_, reqs) = self.requirements_for_image(image);
        let mut needs = Needs::default();
        for r in reqs {
            match r {
                Requirement::SignedBy { .. } => needs.simple = true,
                Requirement::SigstoreSigned { .. } => needs.sigstore = true,
                _ => {}
            }
        }
        needs
    }

    /// Decide whether `image` may be used.
    pub fn evaluate(
        &self,
        image: &Image,
        sigs: &Signatures,
        files: &dyn KeyFiles,
    ) -> Result<Accepted, Refusal> {
        let (scope, reqs) = self.requirements_for_image(image);
        for req in reqs {
            if let Err(reason) = allows(req, image, sigs, files) {
                return Err(Refusal {
                    image: image.description.clone(),
                    scope,
                    requirement: req.type_name(),
                    reason,
                });
            }
        }
        Ok(Accepted {
            scope,
            requirements: reqs.iter().map(Requirement::type_name).collect(),
        })
    }
}

fn allows(
    req: &Requirement,
    image: &Image,
    sigs: &Signatures,
    files: &dyn KeyFiles,
) -> Result<(), String> {
    match req {
        Requirement::InsecureAcceptAnything => Ok(()),
        Requirement::Reject => Err("the policy rejects this image".to_string()),
        Requirement::SignedBy {
            key_type,
            keys,
            identity,
        } => {
            if key_type != "GPGKeys" {
                return Err(format!(
                    "keyType \"{key_type}\" is not supported (only GPGKeys)"
                ));
            }
            let keyring = load_keys(keys, files).and_then(|bytes| {
                let mut all = Vec::new();
                for b in bytes {
                    all.extend(simple::parse_keyring(&b).map_err(|e| e.to_string())?);
                }
                Ok(all)
            })?;
            if keyring.is_empty() {
                return Err("no public keys imported".to_string());
            }
            any_accepted(sigs.simple.iter().map(|sig| {
                let (data, _fpr) =
                    simple::verify_message(sig, &keyring).map_err(|e| e.to_string())?;
                let payload =
                    simple::parse_payload(&data, SIMPLE_SIGNING_TYPE).map_err(|e| e.to_string())?;
                check_payload(&payload, image, identity)
            }))
        }
        Requirement::SigstoreSigned {
            keys,
            unsupported,
            identity,
        } => {
            if !unsupported.is_empty() {
                return Err(format!(
                    "sigstoreSigned with {} is not supported by atomic (only keyPath, keyPaths \
                     and keyData public keys)",
                    unsupported.join(", ")
                ));
            }
            let Some(keys) = keys else {
                return Err("sigstoreSigned names no key".to_string());
            };
            let mut public = Vec::new();
            for bytes in load_keys(keys, files)? {
                public.extend(cosign::parse_public_keys(&bytes)?);
            }
            any_accepted(sigs.sigstore.iter().map(|sig| {
                cosign::verify(sig, &public)?;
                let payload =
                    simple::parse_payload(&sig.payload, COSIGN_TYPE).map_err(|e| e.to_string())?;
                check_payload(&payload, image, identity)
            }))
        }
    }
}

/// One accepted signature is enough; otherwise say why each was refused.
fn any_accepted(results: impl Iterator<Item = Result<(), String>>) -> Result<(), String> {
    let mut reasons = Vec::new();
    for r in results {
        match r {
            Ok(()) => return Ok(()),
            Err(e) => reasons.push(e),
        }
    }
    match reasons.len() {
        0 => Err("a signature was required, but no signature exists".to_string()),
        1 => Err(reasons.remove(0)),
        _ => Err(format!(
            "none of the signatures were accepted, reasons: {}",
            reasons.join("; ")
        )),
    }
}

fn load_keys(keys: &KeySource, files: &dyn KeyFiles) -> Result<Vec<Vec<u8>>, String> {
    let read = |p: &Path| {
        files
            .read(p)
            .map_err(|e| format!("reading the key file {}: {e}", p.display()))
    };
    match keys {
        KeySource::Data(d) => Ok(vec![d.clone()]),
        KeySource::Path(p) => Ok(vec![read(p)?]),
        KeySource::Paths(ps) => ps.iter().map(|p| read(p)).collect(),
    }
}

fn check_payload(payload: &Payload, image: &Image, rule: &IdentityRule) -> Result<(), String> {
    if !manifest_matches(&image.manifest, &payload.manifest_digest) {
        return Err(format!(
            "signature for digest {} does not match",
            payload.manifest_digest
        ));
    }
    if !identity_matches(rule, image.docker_ref.as_ref(), &payload.docker_reference) {
        return Err(format!(
            "signature for identity \"{}\" is not accepted",
            payload.docker_reference
        ));
    }
    Ok(())
}

/// Whether `digest` (`ALGO:HEX`) is the digest of `manifest`.
pub fn manifest_matches(manifest: &[u8], digest: &str) -> bool {
    let computed = match digest.split_once(':') {
        Some(("sha256", _)) => hex::encode(sha2::Sha256::digest(manifest)),
        Some(("sha512", _)) => hex::encode(sha2::Sha512::digest(manifest)),
        _ => return false,
    };
    digest.split_once(':').is_some_and(|(_, h)| h == computed)
}

/// containers/image's `matchesDockerReference` for each `signedIdentity` rule. `intended` is
/// the image's reference (None for transports without one: nothing matches then).
pub fn identity_matches(rule: &IdentityRule, intended: Option<&DockerRef>, signed: &str) -> bool {
    let Ok(signature) = DockerRef::parse(signed) else {
        return false;
    };
    let exact = |a: &DockerRef, b: &DockerRef| {
        !a.is_name_only() && !b.is_name_only() && a.to_string() == b.to_string()
    };
    match rule {
        IdentityRule::ExactReference(r) => {
            DockerRef::parse(r).is_ok_and(|want| exact(&want, &signature))
        }
        IdentityRule::ExactRepository(r) => {
            DockerRef::parse(r).is_ok_and(|want| want.name() == signature.name())
        }
        _ => {
            let Some(intended) = intended else {
                return false;
            };
            match rule {
                IdentityRule::MatchExact => exact(intended, &signature),
                IdentityRule::MatchRepository => intended.name() == signature.name(),
                IdentityRule::MatchRepoDigestOrExact => repo_digest_or_exact(intended, &signature),
                IdentityRule::RemapIdentity {
                    prefix,
                    signed_prefix,
                } => match remap(intended, prefix, signed_prefix) {
                    Some(remapped) => repo_digest_or_exact(&remapped, &signature),
                    None => false,
                },
                IdentityRule::ExactReference(_) | IdentityRule::ExactRepository(_) => false,
            }
        }
    }
}

fn repo_digest_or_exact(intended: &DockerRef, signature: &DockerRef) -> bool {
    if signature.is_name_only() {
        return false;
    }
    if intended.tag.is_some() {
        signature.to_string() == intended.to_string()
    } else if intended.digest.is_some() {
        signature.name() == intended.name()
    } else {
        false
    }
}

/// `remapIdentity`: if the image's repository is `prefix` or under it, replace that prefix
/// with `signed_prefix` (once, in the full reference); an unmatched one stays as it is.
fn remap(intended: &DockerRef, prefix: &str, signed_prefix: &str) -> Option<DockerRef> {
    let name = intended.name();
    let matches = name == prefix
        || (name.len() > prefix.len()
            && name.starts_with(prefix)
            && name.as_bytes()[prefix.len()] == b'/');
    if !matches {
        return Some(intended.clone());
    }
    let rewritten = intended.to_string().replacen(prefix, signed_prefix, 1);
    DockerRef::parse(&rewritten).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> DockerRef {
        DockerRef::parse(s).unwrap()
    }

    #[test]
    fn identity_rules_as_containers_image() {
        let d = format!("sha256:{}", "a".repeat(64));
        let tagged = r("r.io/ns/app:v1");
        let digested = r(&format!("r.io/ns/app@{d}"));
        use IdentityRule::*;
        let cases: &[(IdentityRule, &DockerRef, &str, bool)] = &[
            (MatchRepoDigestOrExact, &tagged, "r.io/ns/app:v1", true),
            (MatchRepoDigestOrExact, &tagged, "r.io/ns/app:v2", false),
            (MatchRepoDigestOrExact, &digested, "r.io/ns/app:any", true),
            (
                MatchRepoDigestOrExact,
                &digested,
                "r.io/ns/other:any",
                false,
            ),
            (MatchRepoDigestOrExact, &tagged, "r.io/ns/app", false),
            (MatchExact, &digested, "r.io/ns/app:v1", false),
            (MatchExact, &tagged, "r.io/ns/app:v1", true),
            (MatchRepository, &tagged, "r.io/ns/app:v9", true),
            (MatchRepository, &tagged, "r.io/ns/app2:v1", false),
            (ExactReference("q.io/x:1".into()), &tagged, "q.io/x:1", true),
            (
                ExactReference("q.io/x:1".into()),
                &tagged,
                "r.io/ns/app:v1",
                false,
            ),
            (ExactRepository("q.io/x".into()), &tagged, "q.io/x:7", true),
            (
                RemapIdentity {
                    prefix: "r.io/ns".into(),
                    signed_prefix: "s.io/team".into(),
                },
                &tagged,
                "s.io/team/app:v1",
                true,
            ),
            (
                RemapIdentity {
                    prefix: "r.io/n".into(),
                    signed_prefix: "s.io/team".into(),
                },
                &tagged,
                "s.io/team/s/app:v1",
                false,
            ),
            (
                RemapIdentity {
                    prefix: "other.io".into(),
                    signed_prefix: "s.io".into(),
                },
                &tagged,
                "r.io/ns/app:v1",
                true,
            ),
        ];
        for (rule, intended, signed, want) in cases {
            assert_eq!(
                identity_matches(rule, Some(intended), signed),
                *want,
                "{rule:?} {intended} {signed}"
            );
        }
        assert!(!identity_matches(&MatchRepository, None, "r.io/a:1"));
    }

    #[test]
    fn reject_and_missing_signatures_name_scope_and_requirement() {
        let p = Policy::parse(
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"r.io/ns":[
                {"type":"signedBy","keyType":"GPGKeys","keyData":"bm90IGEga2V5"}]}}}"#,
        )
        .unwrap();
        let image = |name: &str| {
            let d = r(name);
            Image {
                transport: "docker".into(),
                description: format!("docker://{d}"),
                identity: d.policy_identity(),
                namespaces: d.policy_namespaces(),
                docker_ref: Some(d),
                manifest: b"{}".to_vec(),
            }
        };
        let e = p
            .evaluate(&image("q.io/a:1"), &Signatures::default(), &HostFiles)
            .unwrap_err();
        assert_eq!(e.requirement, "reject");
        assert_eq!(e.scope, Scope::Default);
        let e = p
            .evaluate(&image("r.io/ns/a:1"), &Signatures::default(), &HostFiles)
            .unwrap_err();
        assert_eq!(e.requirement, "signedBy");
        assert!(
            e.to_string()
                .contains("scope \"r.io/ns\" of transport docker"),
            "{e}"
        );
        assert!(p.needs(&image("r.io/ns/a:1")).simple);
    }

    #[test]
    fn digest_match() {
        let m = b"manifest";
        let d = format!("sha256:{}", hex::encode(sha2::Sha256::digest(m)));
        assert!(manifest_matches(m, &d));
        assert!(!manifest_matches(b"other", &d));
        assert!(!manifest_matches(m, "md5:00"));
    }
}

//! The policy model of containers-policy.json(5) and its parser.
//!
//! Parsing is as strict as containers/image's: an unknown key, a missing `default`, a
//! requirement of an unknown type, a `signedBy` with not exactly one of `keyPath`, `keyPaths`,
//! `keyData`, or a scope that is not in its transport's canonical form is an error, so atomic
//! never runs with a looser reading of a policy than Podman and skopeo would. (Editing with
//! `atomic trust` works on the JSON text instead, so that it keeps what it does not know.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::reference::DockerRef;

/// A parsed policy.json.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub default: Vec<Requirement>,
    /// transport → scope → requirements.
    pub transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

/// One policy requirement; all the requirements of a scope must accept an image.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    InsecureAcceptAnything,
    Reject,
    SignedBy {
        /// Only `GPGKeys` can be evaluated (as in containers/image).
        key_type: String,
        keys: KeySource,
        identity: IdentityRule,
    },
    SigstoreSigned {
        /// `None` when the requirement names Fulcio or Rekor, which atomic does not verify.
        keys: Option<KeySource>,
        /// What makes it unsupported (`fulcio`, `rekorPublicKeyPath`, …).
        unsupported: Vec<String>,
        identity: IdentityRule,
    },
}

impl Requirement {
    /// The `type` value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Requirement::InsecureAcceptAnything => "insecureAcceptAnything",
            Requirement::Reject => "reject",
            Requirement::SignedBy { .. } => "signedBy",
            Requirement::SigstoreSigned { .. } => "sigstoreSigned",
        }
    }
}

/// Where the trusted keys are.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    Path(PathBuf),
    Paths(Vec<PathBuf>),
    /// Decoded `keyData` (the file's contents).
    Data(Vec<u8>),
}

/// `signedIdentity`: how the identity in a signature must relate to the image's reference.
#[derive(Debug, Clone, PartialEq)]
pub enum IdentityRule {
    MatchRepoDigestOrExact,
    MatchExact,
    MatchRepository,
    ExactReference(String),
    ExactRepository(String),
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

/// The transports atomic pulls from, by their policy names.
pub const TRANSPORTS: &[&str] = &[
    "docker",
    "oci",
    "oci-archive",
    "docker-archive",
    "docker-daemon",
];

#[derive(Debug, thiserror::Error)]
#[error("invalid policy: {0}")]
pub struct PolicyError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

impl Policy {
    /// Parse policy.json text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| PolicyError(format!("not JSON: {e}")))?;
        let obj = object(&value, "the policy")?;
        only_keys(obj, &["default", "transports"], "the policy")?;
        let default = match obj.get("default") {
            Some(v) => requirements(v, "default")?,
            None => return err("\"default\" is missing"),
        };
        let mut transports = BTreeMap::new();
        if let Some(t) = obj.get("transports").filter(|v| !v.is_null()) {
            for (transport, scopes) in object(t, "\"transports\"")? {
                let mut parsed = BTreeMap::new();
                for (scope, reqs) in object(scopes, &format!("transport {transport}"))? {
                    validate_scope(transport, scope)?;
                    let what = format!("scope \"{scope}\" of transport {transport}");
                    parsed.insert(scope.clone(), requirements(reqs, &what)?);
                }
                transports.insert(transport.clone(), parsed);
            }
        }
        Ok(Policy {
            default,
            transports,
        })
    }

    /// The requirements for an image of `transport` with policy `identity` and `namespaces`
    /// (most specific first), and the scope they came from, as containers/image picks them: the
    /// identity, then each namespace, then the transport's `""`, then `default`.
    pub fn requirements_for(
        &self,
        transport: &str,
        identity: &str,
        namespaces: &[String],
    ) -> (Scope, &[Requirement]) {
        if let Some(scopes) = self.transports.get(transport) {
            let found = std::iter::once(identity)
                .chain(namespaces.iter().map(String::as_str))
                .chain(std::iter::once(""))
                .find_map(|s| scopes.get_key_value(s));
            if let Some((scope, reqs)) = found {
                return (
                    Scope::Transport {
                        transport: transport.to_string(),
                        scope: scope.clone(),
                    },
                    reqs,
                );
            }
        }
        (Scope::Default, &self.default)
    }
}

/// Which part of the policy applied to an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Default,
    Transport { transport: String, scope: String },
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Default => write!(f, "the \"default\" policy"),
            Scope::Transport { transport, scope } if scope.is_empty() => {
                write!(f, "the \"\" scope of transport {transport}")
            }
            Scope::Transport { transport, scope } => {
                write!(f, "scope \"{scope}\" of transport {transport}")
            }
        }
    }
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, PolicyError> {
    v.as_object()
        .ok_or_else(|| PolicyError(format!("{what} is not a JSON object")))
}

fn only_keys(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), PolicyError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => err(format!("unknown key \"{k}\" in {what}")),
        None => Ok(()),
    }
}

fn string<'a>(obj: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str, PolicyError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => err(format!("\"{key}\" of {what} is not a string")),
        None => err(format!("\"{key}\" is missing in {what}")),
    }
}

fn requirements(v: &Value, what: &str) -> Result<Vec<Requirement>, PolicyError> {
    let list = v
        .as_array()
        .ok_or_else(|| PolicyError(format!("{what} is not a list of requirements")))?;
    if list.is_empty() {
        return err(format!("{what} has an empty list of requirements"));
    }
    list.iter()
        .map(|r| requirement(r).map_err(|e| PolicyError(format!("{what}: {}", e.0))))
        .collect()
}

fn requirement(v: &Value) -> Result<Requirement, PolicyError> {
    let obj = object(v, "a requirement")?;
    let kind = string(obj, "type", "a requirement")?;
    match kind {
        "insecureAcceptAnything" => {
            only_keys(obj, &["type"], kind)?;
            Ok(Requirement::InsecureAcceptAnything)
        }
        "reject" => {
            only_keys(obj, &["type"], kind)?;
            Ok(Requirement::Reject)
        }
        "signedBy" => signed_by(obj),
        "sigstoreSigned" => sigstore_signed(obj),
        other => err(format!("unknown requirement type \"{other}\"")),
    }
}

fn signed_by(obj: &Map<String, Value>) -> Result<Requirement, PolicyError> {
    let what = "signedBy";
    only_keys(
        obj,
        &[
            "type",
            "keyType",
            "keyPath",
            "keyPaths",
            "keyData",
            "signedIdentity",
        ],
        what,
    )?;
    let key_type = string(obj, "keyType", what)?;
    if ![
        "GPGKeys",
        "signedByGPGKeys",
        "X509Certificates",
        "signedByX509CAs",
    ]
    .contains(&key_type)
    {
        return err(format!("unknown keyType \"{key_type}\" in signedBy"));
    }
    let keys = key_source(obj, "keyPath", "keyPaths", "keyData", what)?
        .ok_or_else(|| PolicyError("signedBy needs one of keyPath, keyPaths and keyData".into()))?;
    Ok(Requirement::SignedBy {
        key_type: key_type.to_string(),
        keys,
        identity: identity_of(obj)?,
    })
}

fn sigstore_signed(obj: &Map<String, Value>) -> Result<Requirement, PolicyError> {
    let what = "sigstoreSigned";
    let unsupported_keys = [
        "keyDatas",
        "fulcio",
        "pki",
        "rekorPublicKeyPath",
        "rekorPublicKeyPaths",
        "rekorPublicKeyData",
        "rekorPublicKeyDatas",
    ];
    let mut allowed = vec!["type", "keyPath", "keyPaths", "keyData", "signedIdentity"];
    allowed.extend(unsupported_keys);
    only_keys(obj, &allowed, what)?;
    let keys = key_source(obj, "keyPath", "keyPaths", "keyData", what)?;
    let unsupported: Vec<String> = unsupported_keys
        .iter()
        .filter(|k| obj.contains_key(**k))
        .map(|k| k.to_string())
        .collect();
    if keys.is_none() && unsupported.is_empty() {
        return err("sigstoreSigned needs one of keyPath, keyPaths, keyData or fulcio");
    }
    Ok(Requirement::SigstoreSigned {
        keys,
        unsupported,
        identity: identity_of(obj)?,
    })
}

/// Exactly one of the three, or none.
fn key_source(
    obj: &Map<String, Value>,
    path: &str,
    paths: &str,
    data: &str,
    what: &str,
) -> Result<Option<KeySource>, PolicyError> {
    let present: Vec<&str> = [path, paths, data]
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .collect();
    if present.len() > 1 {
        return err(format!(
            "{what} must have exactly one of {path}, {paths} and {data}, not {}",
            present.join(" and ")
        ));
    }
    if obj.contains_key(path) {
        return Ok(Some(KeySource::Path(string(obj, path, what)?.into())));
    }
    if let Some(v) = obj.get(paths) {
        let list = v
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| PolicyError(format!("{paths} of {what} is not a list of paths")))?;
        let paths = list
            .iter()
            .map(|p| {
                p.as_str()
                    .map(PathBuf::from)
                    .ok_or_else(|| PolicyError(format!("{paths} of {what} holds a non-string")))
            })
            .collect::<Result<_, _>>()?;
        return Ok(Some(KeySource::Paths(paths)));
    }
    if obj.contains_key(data) {
        let encoded = string(obj, data, what)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| PolicyError(format!("{data} of {what} is not base64: {e}")))?;
        return Ok(Some(KeySource::Data(bytes)));
    }
    Ok(None)
}

fn identity_of(obj: &Map<String, Value>) -> Result<IdentityRule, PolicyError> {
    let Some(v) = obj.get("signedIdentity") else {
        return Ok(IdentityRule::MatchRepoDigestOrExact);
    };
    let o = object(v, "signedIdentity")?;
    let kind = string(o, "type", "signedIdentity")?;
    let simple = |rule| {
        only_keys(o, &["type"], kind)?;
        Ok(rule)
    };
    match kind {
        "matchRepoDigestOrExact" => simple(IdentityRule::MatchRepoDigestOrExact),
        "matchExact" => simple(IdentityRule::MatchExact),
        "matchRepository" => simple(IdentityRule::MatchRepository),
        "exactReference" => {
            only_keys(o, &["type", "dockerReference"], kind)?;
            let r = string(o, "dockerReference", kind)?;
            match DockerRef::parse(r) {
                Ok(parsed) if !parsed.is_name_only() => {
                    Ok(IdentityRule::ExactReference(r.to_string()))
                }
                _ => err(format!(
                    "dockerReference \"{r}\" is not a reference with a tag or digest"
                )),
            }
        }
        "exactRepository" => {
            only_keys(o, &["type", "dockerRepository"], kind)?;
            let r = string(o, "dockerRepository", kind)?;
            DockerRef::parse(r).map_err(|e| PolicyError(e.to_string()))?;
            Ok(IdentityRule::ExactRepository(r.to_string()))
        }
        "remapIdentity" => {
            only_keys(o, &["type", "prefix", "signedPrefix"], kind)?;
            let prefix = string(o, "prefix", kind)?;
            let signed_prefix = string(o, "signedPrefix", kind)?;
            for p in [prefix, signed_prefix] {
                validate_prefix(p)?;
            }
            Ok(IdentityRule::RemapIdentity {
                prefix: prefix.to_string(),
                signed_prefix: signed_prefix.to_string(),
            })
        }
        other => err(format!("unknown signedIdentity type \"{other}\"")),
    }
}

/// A remapIdentity prefix is a host[:port], a namespace or a repository, fully spelled out.
fn validate_prefix(p: &str) -> Result<(), PolicyError> {
    let ok = if p.contains('/') {
        DockerRef::parse(p).is_ok_and(|r| r.is_name_only() && r.name() == p)
    } else {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b))
    };
    if ok {
        Ok(())
    } else {
        err(format!(
            "remapIdentity prefix \"{p}\" is not a host, namespace or repository"
        ))
    }
}

/// A scope must be in its transport's canonical form, or containers/image refuses the policy.
fn validate_scope(transport: &str, scope: &str) -> Result<(), PolicyError> {
    if scope.is_empty() {
        return Ok(());
    }
    // containers/image accepts any docker scope (one that is not canonical simply never
    // matches), refuses every scope but "" for docker-archive, digests for docker-daemon, and
    // non-canonical paths for the OCI transports.
    let ok = match transport {
        "docker-archive" => false,
        "docker-daemon" => !scope.starts_with("sha256:") || scope.contains('/'),
        "oci" | "oci-archive" | "dir" => {
            // An absolute path in clean form (no `.`/`..` components, no trailing '/').
            let path = scope.split(':').next().unwrap_or(scope);
            path.starts_with('/')
                && (path == "/"
                    || (!path.ends_with('/')
                        && path[1..]
                            .split('/')
                            .all(|c| !c.is_empty() && c != "." && c != "..")))
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        err(format!(
            "scope \"{scope}\" is not valid for transport {transport} (docker-archive has only \
             the \"\" scope; oci and oci-archive scopes are absolute paths in clean form)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_requirement() {
        let p = Policy::parse(
            r#"{"default":[{"type":"reject"}],
              "transports":{"docker":{
                "a.io/x":[{"type":"insecureAcceptAnything"}],
                "b.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k.gpg",
                         "signedIdentity":{"type":"remapIdentity","prefix":"b.io","signedPrefix":"c.io/m"}}],
                "*.d.io":[{"type":"signedBy","keyType":"GPGKeys","keyData":"aGk="}],
                "e.io":[{"type":"sigstoreSigned","keyPath":"/c.pub","signedIdentity":{"type":"matchRepository"}}],
                "f.io":[{"type":"sigstoreSigned","fulcio":{}}]
              },
              "oci":{"/srv/img":[{"type":"reject"}]}}}"#,
        )
        .unwrap();
        assert_eq!(p.default, [Requirement::Reject]);
        let docker = &p.transports["docker"];
        assert_eq!(
            docker["*.d.io"][0],
            Requirement::SignedBy {
                key_type: "GPGKeys".into(),
                keys: KeySource::Data(b"hi".to_vec()),
                identity: IdentityRule::MatchRepoDigestOrExact,
            }
        );
        assert!(matches!(
            &docker["f.io"][0],
            Requirement::SigstoreSigned { keys: None, unsupported, .. } if unsupported == &["fulcio"]
        ));
    }

    #[test]
    fn refuses_what_containers_image_refuses() {
        for bad in [
            r#"{}"#,
            r#"{"default":[]}"#,
            r#"{"default":[{"type":"accept"}]}"#,
            r#"{"default":[{"type":"reject"}],"extra":1}"#,
            r#"{"default":[{"type":"reject","x":1}]}"#,
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys"}]}"#,
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","keyData":"aGk="}]}"#,
            r#"{"default":[{"type":"signedBy","keyType":"nope","keyPath":"/a"}]}"#,
            r#"{"default":[{"type":"reject"}],"transports":{"docker-archive":{"/a":[{"type":"reject"}]}}}"#,
            r#"{"default":[{"type":"reject"}],"transports":{"oci":{"rel/dir":[{"type":"reject"}]}}}"#,
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn most_specific_scope_wins() {
        let p = Policy::parse(
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{
                "":[{"type":"insecureAcceptAnything"}],
                "r.io/ns":[{"type":"reject"}],
                "r.io/ns/app:v1":[{"type":"insecureAcceptAnything"}]}}}"#,
        )
        .unwrap();
        let lookup = |name: &str| {
            let r = DockerRef::parse(name).unwrap();
            let (scope, _) =
                p.requirements_for("docker", &r.policy_identity(), &r.policy_namespaces());
            scope
        };
        let scope = |s: &str| Scope::Transport {
            transport: "docker".into(),
            scope: s.into(),
        };
        assert_eq!(lookup("r.io/ns/app:v1"), scope("r.io/ns/app:v1"));
        assert_eq!(lookup("r.io/ns/app:v2"), scope("r.io/ns"));
        assert_eq!(lookup("q.io/x:1"), scope(""));
        let (s, _) = p.requirements_for("oci", "/x", &[]);
        assert_eq!(s, Scope::Default);
    }
}

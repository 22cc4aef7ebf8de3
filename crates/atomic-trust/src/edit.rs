//! `atomic trust add|delete|default|show` as edits of policy.json and registries.d texts.
//!
//! The files are edited as JSON and YAML values, not through the strict policy model, so keys
//! and entries atomic does not know (other transports, newer requirement fields) are kept.

use serde::Serialize;
use serde_json::{Value, json};

use crate::policy::{KeySource, Policy, Requirement};
use crate::registries_d::RegistriesD;

/// The policy `atomic trust` starts from when there is no file, as the original did: accept
/// anything, and anything from the local Docker engine.
pub fn default_policy() -> Value {
    json!({
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}}
    })
}

/// Set the requirements of `scope` in `transport`; returns whether an entry was replaced.
pub fn add(policy: &mut Value, transport: &str, scope: &str, reqs: Value) -> Result<bool, String> {
    let obj = policy
        .as_object_mut()
        .ok_or("the policy is not a JSON object")?;
    let transports = obj.entry("transports").or_insert_with(|| json!({}));
    if transports.is_null() {
        *transports = json!({});
    }
    let scopes = transports
        .as_object_mut()
        .ok_or("\"transports\" is not an object")?
        .entry(transport)
        .or_insert_with(|| json!({}));
    let scopes = scopes
        .as_object_mut()
        .ok_or_else(|| format!("transport {transport} is not an object"))?;
    Ok(scopes.insert(scope.to_string(), reqs).is_some())
}

/// Remove `scope` from `transport`; an error when it is not there.
pub fn delete(policy: &mut Value, transport: &str, scope: &str) -> Result<(), String> {
    let removed = policy
        .get_mut("transports")
        .and_then(|t| t.get_mut(transport))
        .and_then(Value::as_object_mut)
        .and_then(|scopes| scopes.remove(scope));
    match removed {
        Some(_) => Ok(()),
        None => Err(format!(
            "could not find a trust policy defined for {transport}:{scope}"
        )),
    }
}

/// `trust default accept|reject`: the default becomes that one requirement.
pub fn set_default(policy: &mut Value, kind: &str) -> Result<(), String> {
    let obj = policy
        .as_object_mut()
        .ok_or("the policy is not a JSON object")?;
    obj.insert("default".into(), json!([{ "type": kind }]));
    Ok(())
}

/// JSON as Podman writes policy.json: four-space indentation, a final newline.
pub fn to_text(value: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serializing a Value into a Vec cannot fail.
    let _ = value.serialize(&mut ser);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push('\n');
    text
}

/// Set `lookaside` (and optionally `use-sigstore-attachments`) for `scope` in a registries.d
/// file's YAML text (None: a new file), keeping the rest.
pub fn set_lookaside(
    yaml: Option<&str>,
    scope: &str,
    lookaside: Option<&str>,
    attachments: bool,
) -> Result<String, String> {
    use serde_norway::{Mapping, Value as Y};
    let mut doc: Y = match yaml {
        Some(t) if !t.trim().is_empty() => {
            serde_norway::from_str(t).map_err(|e| format!("not valid YAML: {e}"))?
        }
        _ => Y::Mapping(Mapping::new()),
    };
    let root = doc
        .as_mapping_mut()
        .ok_or("the file is not a YAML mapping")?;
    let docker = root
        .entry(Y::from("docker"))
        .or_insert_with(|| Y::Mapping(Mapping::new()));
    if docker.is_null() {
        *docker = Y::Mapping(Mapping::new());
    }
    let docker = docker
        .as_mapping_mut()
        .ok_or("\"docker\" is not a mapping")?;
    let entry = docker
        .entry(Y::from(scope))
        .or_insert_with(|| Y::Mapping(Mapping::new()));
    if entry.is_null() {
        *entry = Y::Mapping(Mapping::new());
    }
    let entry = entry
        .as_mapping_mut()
        .ok_or_else(|| format!("the entry for {scope} is not a mapping"))?;
    if let Some(url) = lookaside {
        // One name for the location: the older `sigstore` would shadow nothing but confuse.
        entry.remove(Y::from("sigstore"));
        entry.insert(Y::from("lookaside"), Y::from(url));
    }
    if attachments {
        entry.insert(Y::from("use-sigstore-attachments"), Y::from(true));
    }
    serde_norway::to_string(&doc).map_err(|e| e.to_string())
}

/// Remove `scope` from a registries.d file's text. Returns the new text, or None when the
/// file holds nothing else any more (it can be removed); Err when the scope is not there.
pub fn remove_scope(yaml: &str, scope: &str) -> Result<Option<String>, String> {
    use serde_norway::Value as Y;
    let mut doc: Y = serde_norway::from_str(yaml).map_err(|e| format!("not valid YAML: {e}"))?;
    let root = doc
        .as_mapping_mut()
        .ok_or("the file is not a YAML mapping")?;
    let docker = root
        .get_mut(Y::from("docker"))
        .and_then(Y::as_mapping_mut)
        .ok_or_else(|| format!("no entry for {scope}"))?;
    if docker.remove(Y::from(scope)).is_none() {
        return Err(format!("no entry for {scope}"));
    }
    if docker.is_empty() {
        root.remove(Y::from("docker"));
    }
    if root.is_empty() {
        return Ok(None);
    }
    serde_norway::to_string(&doc)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The registries.d file `atomic trust add --sigstore` writes for `scope`, as the original:
/// the scope with `/` replaced by `-`, `.yaml`.
pub fn registries_d_file_name(scope: &str) -> String {
    format!("{}.yaml", scope.replace('/', "-"))
}

/// One line of `atomic trust show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `TRANSPORT:SCOPE`-free display name: the scope, or `* (default)`.
    pub name: String,
    pub transport: String,
    /// accept, reject, signed, sigstoreSigned.
    #[serde(rename = "type")]
    pub kind: String,
    /// The key identities (user IDs of GPG keys, or key files).
    pub keys: Vec<String>,
    /// Where signatures are read from (registries.d), if configured.
    pub sigstore: Option<String>,
}

/// The rows of `trust show`: the default, then the scopes of every transport, sorted.
/// `identities` names a requirement's keys (user IDs); it does the file reading.
pub fn rows(
    text: &str,
    regd: &RegistriesD,
    identities: &dyn Fn(&KeySource) -> Vec<String>,
) -> Result<Vec<Row>, String> {
    let policy = Policy::parse(text).map_err(|e| e.to_string())?;
    let row = |name: String, transport: &str, reqs: &[Requirement], sigstore| {
        let kind = match reqs.first() {
            Some(Requirement::InsecureAcceptAnything) => "accept",
            Some(Requirement::Reject) => "reject",
            Some(Requirement::SignedBy { .. }) => "signed",
            Some(Requirement::SigstoreSigned { .. }) => "sigstoreSigned",
            None => "",
        };
        let keys = reqs
            .iter()
            .flat_map(|r| match r {
                Requirement::SignedBy { keys, .. } => identities(keys),
                Requirement::SigstoreSigned { keys: Some(k), .. } => identities(k),
                _ => Vec::new(),
            })
            .collect();
        Row {
            name,
            transport: transport.to_string(),
            kind: kind.to_string(),
            keys,
            sigstore,
        }
    };
    let mut rows = vec![row("* (default)".into(), "all", &policy.default, None)];
    for (transport, scopes) in &policy.transports {
        for (scope, reqs) in scopes {
            let sigstore = (transport == "docker")
                .then(|| {
                    regd.docker
                        .get(scope)
                        .and_then(|ns| ns.lookaside.clone().or(ns.sigstore.clone()))
                })
                .flatten();
            let name = if scope.is_empty() {
                format!("* ({transport})")
            } else {
                scope.clone()
            };
            rows.push(row(name, transport, reqs, sigstore));
        }
    }
    rows[1..].sort_by(|a, b| (&a.transport, &a.name).cmp(&(&b.transport, &b.name)));
    Ok(rows)
}

/// The original's table: scope, type, identities, sigstore.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let line = format!(
            "{:<35} {:<6} {:<29} {}",
            r.name,
            r.kind,
            r.keys.join(","),
            r.sigstore.as_deref().unwrap_or("")
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_delete_default_keep_unknown_keys() {
        let mut p: Value = serde_json::from_str(
            r#"{"default":[{"type":"insecureAcceptAnything"}],
                "transports":{"atomic":{"x":[{"type":"reject"}]},"docker":{}},"future":{"k":1}}"#,
        )
        .unwrap();
        assert!(!add(&mut p, "docker", "r.io/ns", json!([{"type":"reject"}])).unwrap());
        assert!(
            add(
                &mut p,
                "docker",
                "r.io/ns",
                json!([{"type":"insecureAcceptAnything"}])
            )
            .unwrap()
        );
        set_default(&mut p, "reject").unwrap();
        assert_eq!(p["future"]["k"], 1);
        assert_eq!(p["transports"]["atomic"]["x"][0]["type"], "reject");
        assert_eq!(p["default"][0]["type"], "reject");
        delete(&mut p, "docker", "r.io/ns").unwrap();
        assert!(delete(&mut p, "docker", "r.io/ns").is_err());
        assert!(to_text(&p).starts_with("{\n    \""));
    }

    #[test]
    fn registries_d_edits_keep_other_entries() {
        let text =
            "default-docker:\n  lookaside: file:///x\ndocker:\n  a.io:\n    lookaside: https://a\n";
        let out = set_lookaside(Some(text), "b.io/ns", Some("https://b"), true).unwrap();
        let parsed = RegistriesD::parse(&[("f".into(), out.clone())]).unwrap();
        assert_eq!(
            parsed.docker["b.io/ns"].lookaside.as_deref(),
            Some("https://b")
        );
        assert_eq!(
            parsed.docker["b.io/ns"].use_sigstore_attachments,
            Some(true)
        );
        assert_eq!(
            parsed.docker["a.io"].lookaside.as_deref(),
            Some("https://a")
        );
        assert!(parsed.default_docker.is_some());
        let out = remove_scope(&out, "b.io/ns").unwrap().unwrap();
        assert!(!out.contains("b.io"));
        let only = set_lookaside(None, "c.io", Some("file:///c"), false).unwrap();
        assert_eq!(remove_scope(&only, "c.io").unwrap(), None);
        assert!(remove_scope(&only, "d.io").is_err());
        assert_eq!(registries_d_file_name("r.io/a/b"), "r.io-a-b.yaml");
    }

    #[test]
    fn show_rows() {
        let text = r#"{"default":[{"type":"reject"}],"transports":{"docker":{
            "r.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}],
            "a.io":[{"type":"insecureAcceptAnything"}]}}}"#;
        let regd = RegistriesD::parse(&[(
            "f".into(),
            "docker:\n  r.io:\n    sigstore: https://s\n".into(),
        )])
        .unwrap();
        let rows = rows(text, &regd, &|_| vec!["me@x".to_string()]).unwrap();
        assert_eq!(rows[0].kind, "reject");
        assert_eq!(rows[1].name, "a.io");
        assert_eq!(rows[2].kind, "signed");
        assert_eq!(rows[2].keys, ["me@x"]);
        assert_eq!(rows[2].sigstore.as_deref(), Some("https://s"));
        assert!(table(&rows).contains("r.io"));
    }
}

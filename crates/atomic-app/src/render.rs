//! Artifacts made concrete with the resolved values.
//!
//! - **docker**: one `docker run …` command line. It is split into words first (shell quoting
//!   honoured, backslash-newline joined), then each word is substituted on its own, so a value
//!   is always one argv word whatever it holds (Atomic App substituted the text and split it on
//!   blanks: a value with a space became two words, and a value could add options). A value that
//!   would have been split, or that makes a word read as an option, is reported.
//! - **kubernetes/openshift**: objects in YAML or JSON. Substitution is on the text, as Atomic
//!   App did (so `"hostPort": $hostport` works), and the result must have the same shape as the
//!   artifact with every placeholder standing for a plain string, and each whole-value
//!   placeholder the YAML type its default gives: a value that would add keys, items or
//!   documents, or turn `80` into `"abc"` or a string into `true`, is an error.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;

use crate::resolve::Value;
use crate::subst::{self, Use};

/// A component's docker command.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerRun {
    pub argv: Vec<String>,
    /// The container's name: the artifact's own `--name`, else the one atomic added.
    pub name: String,
    /// atomic added `--name` (the artifact had none).
    pub named_by_atomic: bool,
    /// Things worth saying: values that Atomic App would have split.
    pub notes: Vec<String>,
}

fn lookup_in(ctx: &BTreeMap<String, Value>, masked: bool) -> impl Fn(&str) -> Option<String> + '_ {
    move |name: &str| ctx.get(name).map(|v| v.shown(masked).to_string())
}

/// Render a docker artifact's text. `default_name` is used when it names no container.
pub fn docker_run(
    text: &str,
    ctx: &BTreeMap<String, Value>,
    default_name: &str,
    masked: bool,
) -> Result<DockerRun> {
    let words = atomic_label::split(text)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("the docker artifact is not a valid command line")?;
    let lookup = lookup_in(ctx, masked);
    let mut argv = Vec::new();
    let mut notes = Vec::new();
    for word in &words {
        let (out, uses) = subst::substitute(word, &lookup);
        let whole = uses.len() == 1 && whole_placeholder(word);
        for Use { name, value } in &uses {
            if value
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\'')
            {
                notes.push(format!(
                    "the value of ${name} holds blanks or quotes: it stays inside one word"
                ));
            }
        }
        if whole && out.is_empty() {
            // An empty value that was the whole word leaves no word, as in a shell.
            continue;
        }
        if whole && out.starts_with('-') && !argv.is_empty() {
            bail!(
                "the value of ${} ('{out}') would be read as an option of the command; refusing \
                 it",
                uses[0].name
            );
        }
        argv.push(out);
    }
    let program_ok = argv
        .first()
        .is_some_and(|p| matches!(p.rsplit('/').next(), Some("docker" | "podman")));
    let sub = atomic_label::subcommand(&argv);
    let Some(sub) = sub.filter(|&i| program_ok && matches!(argv[i].as_str(), "run" | "create"))
    else {
        bail!(
            "a docker artifact must be one 'docker run …' command, not '{}'",
            atomic_label::join(&argv)
        );
    };
    let parsed = atomic_label::parse_run(&argv[sub + 1..]);
    let given = parsed
        .options
        .iter()
        .rev()
        .find(|o| o.flag == "--name")
        .and_then(|o| o.value.clone());
    let (name, named_by_atomic) = match given {
        Some(name) => (name, false),
        None => {
            argv.splice(
                sub + 1..sub + 1,
                ["--name".to_string(), default_name.to_string()],
            );
            (default_name.to_string(), true)
        }
    };
    atomic_label::validate_name(&name)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("the container name of the docker artifact")?;
    notes.dedup();
    Ok(DockerRun {
        argv,
        name,
        named_by_atomic,
        notes,
    })
}

/// `$x` or `${x}` and nothing else.
fn whole_placeholder(word: &str) -> bool {
    let Some(rest) = word.strip_prefix('$') else {
        return false;
    };
    let name = rest
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(rest);
    crate::model::valid_param_name(name)
}

/// Render a kubernetes/openshift artifact: its objects, with `metadata.namespace` forced to
/// `namespace`.
pub fn objects(
    text: &str,
    ctx: &BTreeMap<String, Value>,
    namespace: &str,
    masked: bool,
) -> Result<Vec<Json>> {
    let lookup = lookup_in(ctx, masked);
    let (real, uses) = subst::substitute(text, &lookup);
    let mut markers: BTreeMap<String, String> = BTreeMap::new();
    let marker_of = |name: &str| {
        ctx.get(name)
            .map(|_| format!("atomicparam{}", hex_id(name)))
    };
    let (shape, _) = subst::substitute(text, &marker_of);
    for u in &uses {
        markers.insert(format!("atomicparam{}", hex_id(&u.name)), u.name.clone());
    }
    let shape_docs = documents(&shape).context("the artifact is not valid YAML or JSON")?;
    let real_docs = documents(&real).map_err(|e| {
        let names: Vec<String> = markers.values().map(|n| format!("${n}")).collect();
        e.context(format!(
            "the values of {} break the artifact's YAML/JSON (quote the placeholders in the \
             artifact, or change the values)",
            names.join(", ")
        ))
    })?;
    if shape_docs.len() != real_docs.len() {
        bail!("a value adds or removes YAML documents in the artifact");
    }
    // What each placeholder gives with its param's default: the type a value must keep.
    let with_defaults = |name: &str| {
        let v = ctx.get(name)?;
        Some(match &v.default {
            Some(d) => d.to_string(),
            None => format!("atomicparam{}", hex_id(name)),
        })
    };
    let expected = documents(&subst::substitute(text, &with_defaults).0)
        .ok()
        .filter(|d| d.len() == shape_docs.len());
    for (i, (shape, real)) in shape_docs.iter().zip(&real_docs).enumerate() {
        let check = Check {
            markers: &markers,
            ctx,
        };
        check.same_shape(shape, real, expected.as_ref().map(|e| &e[i]), "")?;
    }
    let mut out = Vec::new();
    for mut doc in real_docs {
        if doc.is_null() {
            continue;
        }
        check_object(&doc)?;
        if let Some(meta) = doc.get_mut("metadata").and_then(Json::as_object_mut) {
            meta.insert("namespace".into(), Json::String(namespace.to_string()));
        }
        out.push(doc);
    }
    Ok(out)
}

fn hex_id(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn documents(text: &str) -> Result<Vec<Json>> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        out.push(Json::deserialize(doc)?);
    }
    Ok(out)
}

fn check_object(doc: &Json) -> Result<()> {
    let has = |k: &str| {
        doc.get(k)
            .and_then(Json::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    let named = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Json::as_str)
        .is_some();
    if !has("apiVersion") || !has("kind") || !named {
        bail!("every object needs apiVersion, kind and metadata.name");
    }
    Ok(())
}

/// The YAML type name of a scalar written alone.
fn type_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

struct Check<'a> {
    markers: &'a BTreeMap<String, String>,
    ctx: &'a BTreeMap<String, Value>,
}

impl Check<'_> {
    fn has_marker(&self, s: &str) -> bool {
        self.markers.keys().any(|m| s.contains(m.as_str()))
    }

    /// `shape`: the artifact with placeholders as markers; `real`: with the values;
    /// `expected`: with the defaults (where a param has one).
    fn same_shape(
        &self,
        shape: &Json,
        real: &Json,
        expected: Option<&Json>,
        path: &str,
    ) -> Result<()> {
        let at = if path.is_empty() { "the top" } else { path };
        match (shape, real) {
            (Json::String(s), _) if self.markers.contains_key(s.as_str()) => {
                let name = &self.markers[s.as_str()];
                if real.is_array() || real.is_object() {
                    bail!("the value of ${name} turns {at} into {}", type_of(real));
                }
                let typed_default = expected.filter(|e| e.as_str() != Some(s.as_str()));
                if let (Some(want), Some(value)) = (typed_default, self.ctx.get(name))
                    && type_of(want) != type_of(real)
                {
                    bail!(
                        "the value of ${name} ('{}') makes {at} {} where its default makes it {} \
                         (quote the placeholder in the artifact if a string is meant)",
                        value.shown(true),
                        type_of(real),
                        type_of(want)
                    );
                }
                Ok(())
            }
            (Json::String(s), other) if self.has_marker(s) => {
                if !other.is_string() {
                    bail!("a value turns {at} into {}", type_of(other));
                }
                Ok(())
            }
            (Json::Array(a), Json::Array(b)) => {
                if a.len() != b.len() {
                    bail!("a value adds or removes items of {at}");
                }
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    let e = expected.and_then(|e| e.get(i));
                    self.same_shape(x, y, e, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            (Json::Object(a), Json::Object(b)) => {
                if a.len() != b.len() {
                    bail!("a value adds or removes keys of {at}");
                }
                if a.keys().any(|k| self.has_marker(k)) {
                    return Ok(());
                }
                for (k, x) in a {
                    let Some(y) = b.get(k) else {
                        bail!("a value removes key {k} of {at}");
                    };
                    let sub = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.same_shape(x, y, expected.and_then(|e| e.get(k)), &sub)?;
                }
                Ok(())
            }
            (x, y) if type_of(x) == type_of(y) => Ok(()),
            (_, y) => bail!("a value turns {at} into {}", type_of(y)),
        }
    }
}

/// Is this object kind one whose pods must be scaled to zero before it is deleted?
pub fn scaled_before_delete(kind: &str) -> bool {
    matches!(
        kind,
        "ReplicationController" | "Deployment" | "ReplicaSet" | "StatefulSet" | "DeploymentConfig"
    )
}

/// A PersistentVolumeClaim for a persistentVolume requirement.
pub fn claim(name: &str, access_mode: &str, size_gb: u64, namespace: &str) -> Result<Json> {
    let mode = crate::model::kube_access_mode(access_mode)?;
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "accessModes": [mode],
            "resources": {"requests": {"storage": format!("{size_gb}Gi")}},
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scalar;

    fn ctx(pairs: &[(&str, &str, Option<Scalar>)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v, d)| {
                let value = Value {
                    text: v.to_string(),
                    hidden: *k == "secret",
                    default: d.clone(),
                };
                (k.to_string(), value)
            })
            .collect()
    }

    #[test]
    fn hostile_values_stay_one_word() {
        let hostile = "a b'\"$(touch /tmp/x)`id`\nc; rm -rf /";
        let c = ctx(&[("pass", hostile, None), ("image", "busybox", None)]);
        let run = docker_run(
            "docker run -d -e PASS=$pass \\\n  $image sh -c 'echo $pass'",
            &c,
            "app_db_1",
            false,
        )
        .unwrap();
        let pass = format!("PASS={hostile}");
        let echo = format!("echo {hostile}");
        let want = [
            "docker", "run", "--name", "app_db_1", "-d", "-e", &pass, "busybox", "sh", "-c", &echo,
        ];
        assert_eq!(run.argv, want);
        assert!(run.named_by_atomic);
        assert!(
            !run.notes.is_empty(),
            "Atomic App would have split it: said"
        );
    }

    #[test]
    fn a_value_cannot_become_an_option() {
        let c = ctx(&[("image", "--privileged", None)]);
        let e = docker_run("docker run -d $image", &c, "n", false).unwrap_err();
        assert!(e.to_string().contains("option"), "{e}");
    }

    #[test]
    fn the_artifacts_own_name_is_kept_and_must_be_valid() {
        let c = ctx(&[("image", "busybox", None)]);
        let run = docker_run("docker run -d --name=db $image", &c, "n", false).unwrap();
        assert_eq!((run.name.as_str(), run.named_by_atomic), ("db", false));
        assert!(!run.argv.contains(&"n".to_string()));
        assert!(docker_run("docker run --name 'a b' x", &c, "n", false).is_err());
        assert!(docker_run("echo run x", &c, "n", false).is_err());
        assert!(docker_run("docker ps", &c, "n", false).is_err());
    }

    #[test]
    fn hidden_values_are_masked_when_asked() {
        let c = ctx(&[("secret", "hunter2", None)]);
        let run = docker_run("docker run -e P=$secret x", &c, "n", true).unwrap();
        assert!(run.argv.contains(&"P=******".to_string()));
    }

    #[test]
    fn a_value_that_changes_a_type_or_the_shape_is_refused() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostPort: $port\n  \
                    image: $image\n";
        let port = Some(Scalar::Int(80));
        let ok = ctx(&[("port", "8080", port.clone()), ("image", "x", None)]);
        let objs = objects(text, &ok, "ns", false).unwrap();
        assert_eq!(objs[0]["spec"]["hostPort"], 8080);
        assert_eq!(objs[0]["metadata"]["namespace"], "ns");
        let word = ctx(&[("port", "abc", port.clone()), ("image", "x", None)]);
        let e = objects(text, &word, "ns", false).unwrap_err().to_string();
        assert!(e.contains("$port") && e.contains("a number"), "{e}");
        let yes = ctx(&[("port", "80", port.clone()), ("image", "yes: no", None)]);
        assert!(objects(text, &yes, "ns", false).is_err());
        let inject = ctx(&[
            ("port", "80", port),
            ("image", "x\n  privileged: true", None),
        ]);
        let e = objects(text, &inject, "ns", false).unwrap_err().to_string();
        assert!(e.contains("adds"), "{e}");
    }

    #[test]
    fn json_with_an_unquoted_placeholder_renders() {
        let text = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                       "spec": {"ports": [{"port": 80, "nodePort": $np}]}}"#;
        let c = ctx(&[("np", "30001", Some(Scalar::Int(30000)))]);
        let objs = objects(text, &c, "default", false).unwrap();
        assert_eq!(objs[0]["spec"]["ports"][0]["nodePort"], 30001);
    }
}

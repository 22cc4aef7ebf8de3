//! The Nulecule 0.0.2 file: metadata, params, graph, artifacts, requirements.
//!
//! One file called `Nulecule` at the application's root, YAML or JSON (JSON is read as YAML,
//! as Atomic App did). Real files differ from the specification, and all of them are accepted:
//! defaults of any scalar type (`80`, `true`), a param without `description` (or with the
//! nulecule-library's `descriptoin`), `constraints` written as a map with `allowed_patterns`
//! (gitlab), unknown keys anywhere (Atomic App crashed on an unknown top-level key).

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The name of the file that makes a directory an application.
pub const FILE: &str = "Nulecule";
/// Where an application image keeps its Nulecule and artifacts.
pub const IMAGE_DIR: &str = "/application-entity";
/// The label that marks an application image.
pub const SPECVERSION_LABEL: &str = "io.projectatomic.nulecule.specversion";

/// A parsed Nulecule file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Nulecule {
    pub specversion: Scalar,
    pub id: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub params: Vec<Param>,
    pub graph: Vec<GraphItem>,
    #[serde(default)]
    pub requirements: Vec<BTreeMap<String, serde_json::Value>>,
}

/// `metadata`: the known keys, and whatever else an author wrote (`location`…).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Metadata {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub appversion: Option<Scalar>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub license: Option<serde_json::Value>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// A scalar as YAML gives it: the specification says strings, real files use numbers and
/// booleans. Kept as typed, written as text when substituted.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

/// A parameter of the application (global) or of one component.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Param {
    pub name: String,
    #[serde(default, alias = "descriptoin")]
    pub description: Option<String>,
    #[serde(default)]
    pub default: Option<Scalar>,
    #[serde(default, deserialize_with = "constraints")]
    pub constraints: Vec<Constraint>,
    /// Masked in prompts (not echoed) and in what atomic prints.
    #[serde(default)]
    pub hidden: bool,
}

/// A value must match `allowed_pattern` entirely.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Constraint {
    #[serde(alias = "allowed_patterns")]
    pub allowed_pattern: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// The specification's list of constraints, or one written as a map (gitlab's shape).
fn constraints<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Constraint>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        List(Vec<Constraint>),
        One(Constraint),
        Nothing(()),
    }
    Ok(match Shape::deserialize(d)? {
        Shape::List(list) => list,
        Shape::One(one) => vec![one],
        Shape::Nothing(()) => Vec::new(),
    })
}

/// One component of the graph: another application (`source: docker://IMAGE`), or params and
/// artifacts per provider.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct GraphItem {
    pub name: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub params: Vec<Param>,
    #[serde(default)]
    pub artifacts: BTreeMap<String, Vec<ArtifactEntry>>,
}

/// An entry of a provider's artifact list.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ArtifactEntry {
    /// `file://path` (relative to the application unless it starts with `/`), a file or a
    /// directory; other URL schemes are refused when the artifact is read.
    Url(String),
    /// `{inherit: [provider…]}`: that provider's list of the same component.
    Inherit { inherit: Vec<String> },
    /// `{source: URL, path, type, branch, tag}`: a repository (never implemented by Atomic App).
    Repo {
        source: String,
        #[serde(default)]
        path: Option<String>,
    },
    /// Atomic App's experimental `{resource, params}`: refused with a message.
    Resource {
        resource: String,
        #[serde(default)]
        params: serde_json::Value,
    },
}

/// A requirement the application states.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Requirement {
    /// A persistent volume: a PersistentVolumeClaim on Kubernetes, a named volume elsewhere.
    PersistentVolume {
        name: String,
        access_mode: String,
        /// Gigabytes, as the specification says.
        size: u64,
    },
    /// A requirement this version does not know: warned about, never fatal.
    Unknown(String),
}

impl Nulecule {
    /// Parse a Nulecule file (YAML or JSON).
    pub fn parse(text: &str) -> Result<Nulecule> {
        let nulecule: Nulecule =
            serde_norway::from_str(text).context("the Nulecule file is not valid")?;
        nulecule.check()?;
        Ok(nulecule)
    }

    fn check(&self) -> Result<()> {
        if self.id.trim().is_empty() {
            bail!("the Nulecule file has an empty 'id'");
        }
        if self.graph.is_empty() {
            bail!("the Nulecule file of '{}' has an empty graph", self.id);
        }
        let mut seen = std::collections::BTreeSet::new();
        for item in &self.graph {
            if !valid_section_name(&item.name) {
                bail!(
                    "graph item '{}' of '{}': a name is letters, digits, '.', '_' and '-'",
                    item.name,
                    self.id
                );
            }
            if !seen.insert(&item.name) {
                bail!("graph item '{}' appears twice in '{}'", item.name, self.id);
            }
            if item.source.is_none() && item.artifacts.is_empty() {
                bail!(
                    "graph item '{}' of '{}' has neither a source nor artifacts",
                    item.name,
                    self.id
                );
            }
            for param in &item.params {
                check_param(param, &item.name)?;
            }
        }
        for param in &self.params {
            check_param(param, "general")?;
        }
        Ok(())
    }

    /// The requirements, read from their map form (`- persistentVolume: {…}`).
    pub fn requirements(&self) -> Result<Vec<Requirement>> {
        let mut out = Vec::new();
        for entry in &self.requirements {
            for (kind, value) in entry {
                out.push(match kind.as_str() {
                    "persistentVolume" => persistent_volume(value).with_context(|| {
                        format!("requirement persistentVolume of '{}'", self.id)
                    })?,
                    other => Requirement::Unknown(other.to_string()),
                });
            }
        }
        Ok(out)
    }

    /// The providers any component has artifacts for.
    pub fn providers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for item in &self.graph {
            for provider in item.artifacts.keys() {
                if !out.contains(provider) {
                    out.push(provider.clone());
                }
            }
        }
        out
    }

    /// The global param called `name`.
    pub fn global(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

fn check_param(param: &Param, section: &str) -> Result<()> {
    if !valid_param_name(&param.name) {
        bail!(
            "param '{}' of '{section}': a name is a letter or '_' then letters, digits, '_' \
             (it is written $name in artifacts)",
            param.name
        );
    }
    for c in &param.constraints {
        regex::Regex::new(&c.allowed_pattern).with_context(|| {
            format!(
                "param '{}' of '{section}': allowed_pattern '{}' is not a valid regular expression",
                param.name, c.allowed_pattern
            )
        })?;
    }
    Ok(())
}

fn persistent_volume(value: &serde_json::Value) -> Result<Requirement> {
    let field = |key: &str| value.get(key).filter(|v| !v.is_null());
    let name = field("name")
        .and_then(|v| v.as_str())
        .context("'name' is missing")?
        .to_string();
    let access_mode = field("accessMode")
        .or_else(|| field("accessModes"))
        .map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "ReadWrite".to_string());
    let size = match field("size") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .context("'size' must be a whole number of gigabytes")?;
    Ok(Requirement::PersistentVolume {
        name,
        access_mode,
        size,
    })
}

/// Graph item names become answers sections and container names.
pub fn valid_section_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// What `$name` can refer to: `[_A-Za-z][_A-Za-z0-9]*`.
pub fn valid_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The kubernetes access mode of a persistentVolume's `accessMode` (the specification's
/// `ReadWrite`/`ReadOnly`, or the Kubernetes names Atomic App demanded).
pub fn kube_access_mode(mode: &str) -> Result<&'static str> {
    Ok(match mode {
        "ReadWrite" | "ReadWriteOnce" => "ReadWriteOnce",
        "ReadOnly" | "ReadOnlyMany" => "ReadOnlyMany",
        "ReadWriteMany" => "ReadWriteMany",
        other => bail!(
            "accessMode '{other}' is none of ReadWrite, ReadOnly, ReadWriteOnce, ReadOnlyMany, \
             ReadWriteMany"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_indented_with_tabs_parses() {
        let text = "{\n\t\"specversion\": \"0.0.2\",\n\t\"id\": \"x\",\n\t\"graph\": [\n\t\t{\"name\": \"a\", \"source\": \"docker://y\"}\n\t]\n}\n";
        let n = Nulecule::parse(text).unwrap();
        assert_eq!(n.id, "x");
    }

    #[test]
    fn scalars_keep_their_type_and_print_plainly() {
        let text = "specversion: 0.0.2\nid: x\nmetadata: {appversion: 1.0, location: here}\n\
                    params:\n- {name: a, default: 80}\n- {name: b, default: true}\n\
                    - {name: c, default: 1.5}\n- {name: d, default: text, descriptoin: typo}\n\
                    graph:\n- {name: g, source: docker://y}\nunknown_key: kept quiet\n";
        let n = Nulecule::parse(text).unwrap();
        let shown: Vec<String> = n
            .params
            .iter()
            .map(|p| p.default.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(shown, ["80", "true", "1.5", "text"]);
        assert_eq!(n.params[3].description.as_deref(), Some("typo"));
        assert_eq!(n.metadata.other["location"], "here");
    }

    #[test]
    fn requirements_read_both_spellings() {
        let text = "specversion: 0.0.2\nid: x\ngraph:\n- {name: g, source: docker://y}\n\
                    requirements:\n- persistentVolume: {name: v, accessModes: ReadOnly, size: 4}\n\
                    - somethingElse: {}\n";
        let n = Nulecule::parse(text).unwrap();
        let r = n.requirements().unwrap();
        assert_eq!(
            r[0],
            Requirement::PersistentVolume {
                name: "v".into(),
                access_mode: "ReadOnly".into(),
                size: 4
            }
        );
        assert_eq!(r[1], Requirement::Unknown("somethingElse".into()));
        assert_eq!(kube_access_mode("ReadOnly").unwrap(), "ReadOnlyMany");
        assert!(kube_access_mode("Sometimes").is_err());
    }
}

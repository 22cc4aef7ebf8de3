//! The template variables an image's `/exports` asks for, for `atomic info`:
//! which have a value (from `manifest.json` or computed by atomic) and which must be given
//! with `--set`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use crate::exports::Manifest;
use crate::template::variables;
use crate::values::{FORCED, OVERRIDABLE};

/// The files whose variables a user may have to set.
const TEMPLATES: &[&str] = &[
    "config.json.template",
    "service.template",
    "tmpfiles.template",
];

/// What the original printed for a value atomic computes at install time.
pub const SET_BY_OS: &str = "{SET_BY_OS}";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct TemplateVariables {
    /// Variables with a value: the image's default, or [`SET_BY_OS`].
    pub with_default: BTreeMap<String, String>,
    /// Variables nothing gives a value: `--set` must.
    pub required: BTreeSet<String>,
}

/// The variables of the image whose `/exports/NAME` files `read` returns; `None` when the
/// image has no templates (it is no system container image).
pub fn template_variables(
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Option<TemplateVariables>> {
    let mut found = BTreeSet::new();
    let mut any = false;
    for name in TEMPLATES {
        if let Some(bytes) = read(&format!("/exports/{name}")) {
            any = true;
            found.extend(variables(&String::from_utf8_lossy(&bytes), name)?);
        }
    }
    if !any {
        return Ok(None);
    }
    let manifest: Manifest = match read("/exports/manifest.json") {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("Invalid manifest.json file in image: {e}."))?,
        None => Manifest::default(),
    };
    let mut out = TemplateVariables::default();
    for var in found.into_iter().filter(|v| !FORCED.contains(&v.as_str())) {
        if let Some(default) = manifest.default_values.get(&var) {
            out.with_default.insert(var, default.clone());
        } else if OVERRIDABLE.contains(&var.as_str()) {
            out.with_default.insert(var, SET_BY_OS.to_string());
        } else {
            out.required.insert(var);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_variables_by_who_gives_their_value() {
        let read = |path: &str| -> Option<Vec<u8>> {
            match path {
                "/exports/service.template" => Some(
                    b"ExecStart=$EXEC_START --port $PORT --peer ${PEER}\nPIDFile=$PIDFILE".to_vec(),
                ),
                "/exports/tmpfiles.template" => Some(b"d $STATE_DIRECTORY/$NAME - - - -".to_vec()),
                "/exports/manifest.json" => {
                    Some(br#"{"defaultValues": {"PORT": "2379"}}"#.to_vec())
                }
                _ => None,
            }
        };
        let vars = template_variables(&read).unwrap().unwrap();
        assert_eq!(
            vars.with_default,
            [
                ("PIDFILE".to_string(), SET_BY_OS.to_string()),
                ("PORT".to_string(), "2379".to_string()),
                ("STATE_DIRECTORY".to_string(), SET_BY_OS.to_string()),
            ]
            .into()
        );
        assert_eq!(vars.required, ["PEER".to_string()].into());
        assert_eq!(template_variables(&|_: &str| None).unwrap(), None);
    }
}

//! `--format` of `docker inspect` and `docker network inspect`: the part of Go templates that
//! scripts use most, field paths (`{{.State.Status}}`). Anything else is refused by name with a
//! pointer to a real engine, never printed wrong.

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

/// Fill each `{{.A.B}}` of `format` from `value`: strings as they are, a missing field as Go's
/// `<no value>`, anything else as JSON.
pub fn render(format: &str, value: &Value) -> Result<String> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("--format '{format}': '{{{{' without '}}}}'"))?;
        match field(format, value, after[..end].trim())? {
            Value::String(s) => out.push_str(s),
            Value::Null => out.push_str("<no value>"),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value at `path` (`.State.Status`) in `value`; Null when a step is missing.
fn field<'v>(format: &str, value: &'v Value, path: &str) -> Result<&'v Value> {
    let unsupported = || {
        anyhow!(
            "--format '{format}': only field paths like {{{{.State.Status}}}} are supported by \
             the built-in engine; use --storage docker or --storage podman"
        )
    };
    let fields = path.strip_prefix('.').ok_or_else(unsupported)?;
    let mut field = value;
    for name in fields.split('.') {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(unsupported());
        }
        field = &field[name];
    }
    Ok(field)
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn templates_take_field_paths_only() {
        let v = serde_json::json!({"Id": "abc", "State": {"Status": "running", "Running": true}});
        assert_eq!(render("{{.Id}}", &v).unwrap(), "abc");
        assert_eq!(
            render("{{ .State.Status }}/{{.State.Running}}", &v).unwrap(),
            "running/true"
        );
        assert_eq!(render("{{.Nope}}", &v).unwrap(), "<no value>");
        assert!(render("{{json .State}}", &v).is_err());
        assert!(render("{{.Id", &v).is_err());
    }
}

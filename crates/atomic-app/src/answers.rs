//! Answers: values for params, by section. `answers.conf` is INI as Atomic App wrote it with
//! Python's configobj (`key = value`, `#` comments, also after an unquoted value, values in
//! `"…"`, `'…'` or `"""…"""`, `none`/`null` meaning "no value"); JSON and YAML files of the
//! same shape (`{"general": {"provider": "docker"}, "db": {…}}`) are read too.
//!
//! No INI crate reads configobj's rules (inline comments, its quoting, `None` as no value), and
//! a file Atomic App wrote must read back as it meant it: the parser is the ~40 lines below.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

/// The section of values every component sees (provider, namespace, global params).
pub const GENERAL: &str = "general";

/// Values by section, then param. `None`: written as `None`/`null`, i.e. no value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    pub sections: BTreeMap<String, BTreeMap<String, Option<String>>>,
}

impl Answers {
    /// A value given in `section` (a `None` value counts as not given).
    pub fn get(&self, section: &str, name: &str) -> Option<&str> {
        self.sections.get(section)?.get(name)?.as_deref()
    }

    pub fn set(&mut self, section: &str, name: &str, value: Option<String>) {
        self.sections
            .entry(section.to_string())
            .or_default()
            .insert(name.to_string(), value);
    }

    /// Read a file's text: JSON or YAML when it looks like a map (`{` or `key:` first), else INI.
    pub fn parse(text: &str) -> Result<Answers> {
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        match first {
            Some(l) if l.starts_with('[') => parse_ini(text),
            None => Ok(Answers::default()),
            Some(_) => parse_map(text),
        }
    }

    /// `--set [SECTION:]PARAM=VALUE`; without a section, `[general]`. A section of a nested
    /// component is `ITEM:CHILD`, so the param is what follows the last `:`.
    pub fn add_set(&mut self, spec: &str) -> Result<()> {
        let Some((key, value)) = spec.split_once('=') else {
            bail!("--set '{spec}': expected [SECTION:]PARAM=VALUE");
        };
        let (section, name) = match key.rsplit_once(':') {
            Some((section, name)) => (section, name),
            None => (GENERAL, key),
        };
        if name.is_empty() || section.is_empty() {
            bail!("--set '{spec}': expected [SECTION:]PARAM=VALUE");
        }
        self.set(section, name, Some(value.to_string()));
        Ok(())
    }

    /// Write as INI, sections in the order given first, then the rest; `None` as `None`.
    pub fn to_ini(&self, order: &[String]) -> String {
        let mut names: Vec<&String> = order
            .iter()
            .filter(|s| self.sections.contains_key(*s))
            .collect();
        names.extend(self.sections.keys().filter(|s| !order.contains(s)));
        let mut out = String::new();
        for name in names {
            out.push_str(&format!("[{name}]\n"));
            for (key, value) in &self.sections[name] {
                match value {
                    Some(v) => out.push_str(&format!("{key} = {}\n", quote_ini(v))),
                    None => out.push_str(&format!("{key} = None\n")),
                }
            }
            out.push('\n');
        }
        out
    }
}

fn parse_map(text: &str) -> Result<Answers> {
    let value: BTreeMap<String, BTreeMap<String, serde_json::Value>> = serde_norway::from_str(text)
        .context("answers: not INI, and not a JSON/YAML map of sections")?;
    let mut answers = Answers::default();
    for (section, params) in value {
        for (name, v) in params {
            let v = match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Some(v.to_string()),
                other => bail!("answers: [{section}] {name} is not a scalar: {other}"),
            };
            answers.set(&section, &name, v);
        }
    }
    Ok(answers)
}

fn parse_ini(text: &str) -> Result<Answers> {
    let mut answers = Answers::default();
    let mut section: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = || format!("answers line {}: '{}'", n + 1, raw);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split('#').next().unwrap_or_default().trim();
            let name = name
                .strip_suffix(']')
                .with_context(|| format!("{}: a section is [NAME]", at()))?;
            section = Some(name.trim().to_string());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("{}: expected KEY = VALUE", at());
        };
        let Some(section) = &section else {
            bail!("{}: a value before any [section]", at());
        };
        let value = ini_value(value.trim()).with_context(at)?;
        answers.set(section, key.trim(), value);
    }
    Ok(answers)
}

/// configobj's value: quoted (the quotes removed), else up to a `#` comment; `None`/`null` (any
/// case, unquoted) is no value.
fn ini_value(v: &str) -> Result<Option<String>> {
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        if let Some(inner) = v.strip_prefix(quote) {
            let end = inner
                .find(quote)
                .with_context(|| format!("unclosed {quote}"))?;
            let after = inner[end + quote.len()..].trim();
            if !after.is_empty() && !after.starts_with('#') {
                bail!("text after the closing {quote}");
            }
            return Ok(Some(inner[..end].to_string()));
        }
    }
    let v = v.split('#').next().unwrap_or_default().trim();
    if v.eq_ignore_ascii_case("none") || v.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    Ok(Some(v.to_string()))
}

/// Quote a value so [`ini_value`] reads it back unchanged.
fn quote_ini(v: &str) -> String {
    let plain = !v.is_empty()
        && v.trim() == v
        && !v.contains(['#', '"', '\'', '\n'])
        && !v.eq_ignore_ascii_case("none")
        && !v.eq_ignore_ascii_case("null");
    if plain {
        return v.to_string();
    }
    for quote in ["\"", "'", "\"\"\"", "'''"] {
        if !v.contains(quote) {
            return format!("{quote}{v}{quote}");
        }
    }
    format!("\"{}\"", v.replace('"', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_answers_as_atomic_app_wrote_them() {
        let text = "\
[general]
namespace = default
provider = kubernetes
# provider = docker

[postgresql]
image=swordphilic/postgresql:latest
DB_PASS = pa ss  # inline comment
DB_NAME = None
quoted = \"a # b\"
empty =
";
        let a = Answers::parse(text).unwrap();
        assert_eq!(a.get("general", "provider"), Some("kubernetes"));
        assert_eq!(
            a.get("postgresql", "image"),
            Some("swordphilic/postgresql:latest")
        );
        assert_eq!(a.get("postgresql", "DB_PASS"), Some("pa ss"));
        assert_eq!(a.get("postgresql", "DB_NAME"), None);
        assert_eq!(a.get("postgresql", "quoted"), Some("a # b"));
        assert_eq!(a.get("postgresql", "empty"), Some(""));
    }

    #[test]
    fn json_and_yaml_answers() {
        let a = Answers::parse(
            r#"{"general": {"provider": "docker"}, "db": {"port": 5432, "x": null}}"#,
        )
        .unwrap();
        assert_eq!(a.get("general", "provider"), Some("docker"));
        assert_eq!(a.get("db", "port"), Some("5432"));
        assert_eq!(a.get("db", "x"), None);
        let y = Answers::parse("general:\n  namespace: prod\nweb:\n  debug: true\n").unwrap();
        assert_eq!(y.get("web", "debug"), Some("true"));
    }

    #[test]
    fn ini_round_trips_awkward_values() {
        let mut a = Answers::default();
        for (i, v) in [
            "plain",
            " padded ",
            "a#b",
            "say \"hi\"",
            "it's",
            "none",
            "",
            "both ' and \" in",
        ]
        .iter()
        .enumerate()
        {
            a.set("s", &format!("k{i}"), Some(v.to_string()));
        }
        a.set("s", "missing", None);
        let back = Answers::parse(&a.to_ini(&[])).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn set_takes_an_optional_section() {
        let mut a = Answers::default();
        a.add_set("db_user=me").unwrap();
        a.add_set("web:port=8080").unwrap();
        a.add_set("wordpress:mariadb:db_pass=x=y").unwrap();
        assert_eq!(a.get(GENERAL, "db_user"), Some("me"));
        assert_eq!(a.get("web", "port"), Some("8080"));
        assert_eq!(a.get("wordpress:mariadb", "db_pass"), Some("x=y"));
        assert!(a.add_set("novalue").is_err());
        assert!(a.add_set(":x=1").is_err());
    }

    #[test]
    fn bad_ini_is_an_error_with_its_line() {
        let e = Answers::parse("[general]\nno equals here\n").unwrap_err();
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
        assert!(Answers::parse("[general]\nx = \"open\n").is_err());
    }
}

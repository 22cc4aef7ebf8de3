//! `atomic scan`'s plugin protocol, as the original defined it.
//!
//! - A scanner is declared by a YAML file in `/etc/atomic.d/` (`$ATOMIC_CONFD`) with
//!   `type: scanner`, `scanner_name`, `image_name`, `default_scan`, optional `custom_args` (extra
//!   `docker run` arguments) and `scans: [{name, args, description}]`.
//! - The scanner image runs with each target's root filesystem read-only at `/scanin/<id>` and
//!   writes, for each, a file named `json` (usually `/scanout/<id>/json`) holding `Scanner`,
//!   `Time`, `Successful` ("true"/"false"), `UUID` (`/scanin/<id>`), `Scan Type`, and findings
//!   in `Vulnerabilities: [{Title, Severity, Description, Custom}]` or `Results: [{Custom}]`.
//! - `scan_summary.json` records, per ID, whether the latest scan found vulnerabilities: what
//!   `images list` and `containers list` mark. Entries of deleted objects are pruned.
//!
//! Parsing and rendering only; running the scanner is the binary's business.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One scanner plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Scanner {
    pub scanner_name: String,
    pub image_name: String,
    #[serde(default)]
    pub default_scan: Option<String>,
    #[serde(default)]
    pub custom_args: Vec<String>,
    #[serde(default)]
    pub scans: Vec<ScanType>,
    /// Where it was declared.
    #[serde(skip)]
    pub file: PathBuf,
}

/// One kind of scan a scanner offers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScanType {
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// Scanners read from a directory, and what was wrong with the files that were skipped.
#[derive(Debug, Default)]
pub struct Plugins {
    pub scanners: Vec<Scanner>,
    pub warnings: Vec<String>,
}

/// Parse one plugin file: `Ok(None)` when it declares something other than a scanner.
pub fn parse_plugin(text: &str) -> Result<Option<Scanner>> {
    let doc: serde_norway::Value = serde_norway::from_str(text).context("not valid YAML")?;
    if doc.get("type").and_then(|t| t.as_str()) != Some("scanner") {
        return Ok(None);
    }
    let scanner: Scanner =
        serde_norway::from_value(doc).context("not a valid scanner definition")?;
    Ok(Some(scanner))
}

/// Every scanner declared by a regular file in `dir` (a missing directory declares none). A
/// file that cannot be read or parsed is a warning, as in the original ("Unable to load
/// scannerfile …  Continuing..."), so one bad plugin does not disable the others.
pub fn load_dir(dir: &Path) -> Result<Plugins> {
    let mut plugins = Plugins::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(plugins),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let parsed = std::fs::read_to_string(&path)
            .context("unreadable")
            .and_then(|text| parse_plugin(&text));
        match parsed {
            Ok(Some(mut scanner)) => {
                scanner.file = path;
                plugins.scanners.push(scanner);
            }
            Ok(None) => {}
            Err(e) => plugins.warnings.push(format!(
                "Unable to load scannerfile {}: {e:#}.  Continuing...",
                path.display()
            )),
        }
    }
    Ok(plugins)
}

/// The scanner to use: `--scanner`, else the only one declared, else atomic.conf's
/// `default_scanner`.
pub fn choose<'a>(
    scanners: &'a [Scanner],
    requested: Option<&str>,
    default: Option<&str>,
    confd: &Path,
) -> Result<&'a Scanner> {
    if scanners.is_empty() {
        bail!(
            "No scanners are configured for your system (no scanner definitions in {})",
            confd.display()
        );
    }
    let name = match (requested, default) {
        (Some(name), _) => name,
        (None, _) if scanners.len() == 1 => &scanners[0].scanner_name,
        (None, Some(name)) => name,
        (None, None) => bail!(
            "You must specify a scanner (--scanner) or set a default in /etc/atomic.conf \
             (default_scanner)"
        ),
    };
    scanners
        .iter()
        .find(|s| s.scanner_name == name)
        .with_context(|| {
            let names: Vec<&str> = scanners.iter().map(|s| s.scanner_name.as_str()).collect();
            format!(
                "Unknown scanner '{name}'; the configured scanners are: {}",
                names.join(", ")
            )
        })
}

/// The scan type to run: `--scan_type`, else the scanner's `default_scan`.
pub fn scan_type<'a>(scanner: &'a Scanner, requested: Option<&str>) -> Result<&'a ScanType> {
    let name = match requested.or(scanner.default_scan.as_deref()) {
        Some(name) => name,
        None => bail!(
            "No scan type was given and there is no default scan type defined for '{}'",
            scanner.scanner_name
        ),
    };
    scanner
        .scans
        .iter()
        .find(|t| t.name == name)
        .with_context(|| {
            format!(
                "Unable to find the scan type '{name}' for '{}'.",
                scanner.scanner_name
            )
        })
}

/// `atomic scan --list`: every scanner and scan type, defaults starred.
pub fn list_text(scanners: &[Scanner], default: Option<&str>) -> String {
    if scanners.is_empty() {
        return "There are no scanners configured for this system.\n".to_string();
    }
    let mut out = String::new();
    for scanner in scanners {
        let star = |yes: bool| if yes { "* " } else { "" };
        let _ = writeln!(
            out,
            "Scanner: {} {}",
            scanner.scanner_name,
            star(default == Some(scanner.scanner_name.as_str()))
        );
        let _ = writeln!(out, "  Image Name: {}", scanner.image_name);
        for t in &scanner.scans {
            let _ = writeln!(
                out,
                "     Scan type: {} {}",
                t.name,
                star(scanner.default_scan.as_deref() == Some(t.name.as_str()))
            );
            let _ = writeln!(out, "     Description: {}\n", t.description);
        }
    }
    out.push_str("\n* denotes defaults\n");
    out
}

/// One result file of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanResult {
    /// The target's ID: the base name of `UUID`, else the name of the directory holding it.
    pub id: String,
    pub file: PathBuf,
    pub doc: Value,
}

impl ScanResult {
    /// `Successful` is a string in the protocol ("true"); a JSON boolean is taken too.
    pub fn successful(&self) -> bool {
        match self.doc.get("Successful") {
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            Some(Value::Bool(b)) => *b,
            _ => false,
        }
    }

    pub fn vulnerabilities(&self) -> &[Value] {
        self.doc
            .get("Vulnerabilities")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// Vulnerable: a successful scan that reported at least one vulnerability.
    pub fn vulnerable(&self) -> bool {
        self.successful() && !self.vulnerabilities().is_empty()
    }

    fn text_field(&self, key: &str) -> String {
        match self.doc.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }
}

/// Every file named `json` under `dir` (the protocol's name for a result), sorted by path.
pub fn find_results(dir: &Path) -> Result<Vec<ScanResult>> {
    let mut files = Vec::new();
    collect_json_files(dir, &mut files)?;
    files.sort();
    let mut results = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let doc: Value = serde_json::from_str(&text)
            .with_context(|| format!("scan result {} is not valid JSON", file.display()))?;
        let uuid = doc.get("UUID").and_then(Value::as_str).unwrap_or("");
        let id = uuid
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| {
                file.parent()
                    .and_then(Path::file_name)
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        results.push(ScanResult { id, file, doc });
    }
    Ok(results)
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_json_files(&entry.path(), out)?;
        } else if kind.is_file() && entry.file_name() == "json" {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// The report of one target, as the original printed it: a heading `NAME (DETAIL)`, then the
/// issues, the results, "passed", or "not supported".
pub fn result_text(result: &ScanResult, name: &str, detail: &str) -> String {
    let mut out = format!("\n{name} ({detail})\n\n");
    if !result.successful() {
        let _ = writeln!(out, "     {name} is not supported for this scan.");
        return out;
    }
    if let Some(custom) = result.doc.get("Custom") {
        custom_text(custom, 3, &mut out);
    }
    let results = result
        .doc
        .get("Results")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if !result.vulnerabilities().is_empty() {
        out.push_str("The following issues were found:\n\n");
        for v in result.vulnerabilities() {
            if let Some(title) = v.get("Title") {
                let _ = writeln!(out, "     {}", plain(title));
            }
            if let Some(severity) = v.get("Severity") {
                let _ = writeln!(out, "     Severity: {}", plain(severity));
            }
            if let Some(custom) = v.get("Custom") {
                custom_text(custom, 7, &mut out);
            }
            out.push('\n');
        }
    } else if !results.is_empty() {
        out.push_str("The following results were found:\n\n");
        for r in results {
            if let Some(custom) = r.get("Custom") {
                custom_text(custom, 7, &mut out);
            }
        }
        out.push('\n');
    } else {
        let _ = writeln!(out, "{name} passed the scan");
    }
    out
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A `Custom` tree, indented two more spaces per level, as the original printed it.
fn custom_text(value: &Value, indent: usize, out: &mut String) {
    let space = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(_) | Value::Array(_) => {
                        let _ = writeln!(out, "{space}{k}:");
                        custom_text(v, indent + 2, out);
                    }
                    other => {
                        let _ = writeln!(out, "{space}{k}: {}", plain(other));
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => custom_text(item, indent + 2, out),
                    other => {
                        let _ = writeln!(out, "{space}{}", plain(other));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{space}{}", plain(other));
        }
    }
}

/// One entry of `scan_summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryEntry {
    #[serde(rename = "UUID")]
    pub uuid: String,
    #[serde(rename = "Scanner")]
    pub scanner: String,
    #[serde(rename = "Time")]
    pub time: String,
    #[serde(rename = "Scan Type")]
    pub scan_type: String,
    #[serde(rename = "Vulnerable")]
    pub vulnerable: bool,
    pub json_file: String,
}

/// The summary: ID → the latest scan's entry.
pub type Summary = BTreeMap<String, SummaryEntry>;

/// Parse `scan_summary.json`; an empty file is an empty summary.
pub fn parse_summary(text: &str) -> Result<Summary> {
    if text.trim().is_empty() {
        return Ok(Summary::new());
    }
    serde_json::from_str(text).context("not a valid scan summary")
}

/// Record this scan's results in the summary (each ID's entry replaced by the newest).
pub fn update_summary(
    summary: &mut Summary,
    results: &[ScanResult],
    scanner: &str,
    scan_type: &str,
) {
    for r in results {
        let time = r.text_field("Time");
        summary.insert(
            r.id.clone(),
            SummaryEntry {
                uuid: r.id.clone(),
                scanner: scanner.to_string(),
                time,
                scan_type: scan_type.to_string(),
                vulnerable: r.vulnerable(),
                json_file: r.file.to_string_lossy().into_owned(),
            },
        );
    }
}

/// Forget the entries of images and containers that no longer exist (`existing`: every ID the
/// engines hold). Entries of `--rootfs` directories, whose IDs are paths rather than the 64 hex
/// digits of an image or container, are kept.
pub fn prune_summary(summary: &mut Summary, existing: &std::collections::HashSet<String>) {
    summary.retain(|id, _| !is_object_id(id) || existing.contains(id));
}

fn is_object_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLUGIN: &str = "\
type: scanner
scanner_name: example
image_name: example/scanner:latest
default_scan: cve
custom_args: ['-v', '/etc/pki:/etc/pki:ro']
scans:
  - name: cve
    args: ['scan', '--cve']
    description: Checks for CVEs
  - name: list
    args: ['scan', '--list']
    description: Lists packages
";

    #[test]
    fn plugin_files() {
        let s = parse_plugin(PLUGIN).unwrap().unwrap();
        assert_eq!(s.scanner_name, "example");
        assert_eq!(s.image_name, "example/scanner:latest");
        assert_eq!(s.custom_args, ["-v", "/etc/pki:/etc/pki:ro"]);
        assert_eq!(s.scans[1].args, ["scan", "--list"]);
        assert_eq!(parse_plugin("type: other\nname: x\n").unwrap(), None);
        assert!(parse_plugin("type: scanner\n").is_err(), "no scanner_name");
        assert!(parse_plugin("{{{").is_err());
    }

    #[test]
    fn load_dir_warns_and_continues() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), PLUGIN).unwrap();
        std::fs::write(dir.path().join("b"), ": : bad [").unwrap();
        std::fs::write(dir.path().join("c"), "type: other\n").unwrap();
        let p = load_dir(dir.path()).unwrap();
        assert_eq!(p.scanners.len(), 1);
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("Unable to load scannerfile"),
            "{:?}",
            p.warnings
        );
        assert!(
            load_dir(&dir.path().join("none"))
                .unwrap()
                .scanners
                .is_empty()
        );
    }

    #[test]
    fn choosing_scanner_and_type() {
        let one = parse_plugin(PLUGIN).unwrap().unwrap();
        let two = Scanner {
            scanner_name: "other".into(),
            ..one.clone()
        };
        let both = [one.clone(), two];
        let d = Path::new("/etc/atomic.d");
        let pick = |list: &[Scanner], req: Option<&str>, def: Option<&str>| {
            choose(list, req, def, d)
                .map(|s| s.scanner_name.clone())
                .map_err(|e| e.to_string())
        };
        assert_eq!(pick(&both, Some("other"), None).unwrap(), "other");
        assert_eq!(pick(&both[..1], None, None).unwrap(), "example");
        assert_eq!(pick(&both, None, Some("other")).unwrap(), "other");
        assert!(pick(&both, None, None).unwrap_err().contains("--scanner"));
        assert!(
            pick(&both, Some("nope"), None)
                .unwrap_err()
                .contains("Unknown scanner 'nope'")
        );
        assert!(
            pick(&[], None, None)
                .unwrap_err()
                .contains("No scanners are configured")
        );
        assert_eq!(scan_type(&one, None).unwrap().name, "cve");
        assert_eq!(
            scan_type(&one, Some("list")).unwrap().args,
            ["scan", "--list"]
        );
        assert!(scan_type(&one, Some("x")).is_err());
    }

    #[test]
    fn list_marks_defaults() {
        let one = parse_plugin(PLUGIN).unwrap().unwrap();
        let text = list_text(&[one], Some("example"));
        assert_eq!(
            text,
            "Scanner: example * \n  Image Name: example/scanner:latest\n     Scan type: cve * \n     \
             Description: Checks for CVEs\n\n     Scan type: list \n     Description: Lists \
             packages\n\n\n* denotes defaults\n"
        );
    }

    fn result(doc: Value) -> ScanResult {
        ScanResult {
            id: "abc".into(),
            file: "/out/abc/json".into(),
            doc,
        }
    }

    #[test]
    fn result_texts() {
        let vulnerable = result(json!({
            "Successful": "true",
            "Vulnerabilities": [{"Title": "CVE-1", "Severity": "High", "Custom": {"pkg": "x"}}]
        }));
        assert_eq!(
            result_text(&vulnerable, "img", "abc"),
            "\nimg (abc)\n\nThe following issues were found:\n\n     CVE-1\n     Severity: High\n       \
             pkg: x\n\n"
        );
        assert!(vulnerable.vulnerable());
        let clean = result(json!({"Successful": "true", "Vulnerabilities": []}));
        assert!(result_text(&clean, "img", "abc").ends_with("img passed the scan\n"));
        assert!(!clean.vulnerable());
        let failed = result(json!({"Successful": "false"}));
        assert!(
            result_text(&failed, "img", "abc").contains("     img is not supported for this scan.")
        );
        assert!(!failed.vulnerable());
        let listed = result(json!({"Successful": true, "Results": [{"Custom": ["a", "b"]}]}));
        let text = result_text(&listed, "img", "abc");
        assert!(
            text.contains("The following results were found:\n\n       a\n       b\n"),
            "{text:?}"
        );
    }

    #[test]
    fn results_found_anywhere_and_summarised() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("deadbeef");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join("json"),
            r#"{"UUID": "/scanin/cafe", "Successful": "true", "Time": "t",
                "Vulnerabilities": [{"Title": "x"}]}"#,
        )
        .unwrap();
        std::fs::write(sub.join("other.json"), "not read").unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(nested.join("json"), r#"{"Successful": "true"}"#).unwrap();
        let results = find_results(dir.path()).unwrap();
        let ids: Vec<&str> = results.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b", "cafe"]);
        let mut summary = parse_summary("").unwrap();
        update_summary(&mut summary, &results, "example", "cve");
        assert!(summary["cafe"].vulnerable);
        assert!(!summary["b"].vulnerable);
        let text = serde_json::to_string(&summary).unwrap();
        assert_eq!(parse_summary(&text).unwrap(), summary);
        assert!(text.contains("\"Scan Type\":\"cve\""), "{text}");
        let gone = "f".repeat(64);
        let kept = "e".repeat(64);
        for id in [&gone, &kept, &"_srv_tree".to_string()] {
            summary.insert(
                id.clone(),
                SummaryEntry {
                    uuid: id.clone(),
                    ..summary["cafe"].clone()
                },
            );
        }
        prune_summary(&mut summary, &[kept.clone()].into_iter().collect());
        let left: Vec<&str> = summary.keys().map(String::as_str).collect();
        assert_eq!(left, ["_srv_tree", "b", "cafe", kept.as_str()]);
        std::fs::write(nested.join("json"), "{").unwrap();
        assert!(find_results(dir.path()).is_err());
    }
}

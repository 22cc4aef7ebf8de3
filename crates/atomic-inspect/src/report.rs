//! `atomic diff`'s output: the original tool's text (5-space indented paths, the two-column
//! package table of width max(30, longest entry)) and its JSON (`{A: {unique_files, release,
//! all_rpms, unique_rpms, common_rpms}, B: {…}, files_differ: [{path, reasons}]}`), with its
//! bug fixed: each side's `unique_files` is its own list.

use serde_json::{Map, Value, json};

use crate::compare::FileDiff;
use crate::packages::{Database, PackageDiff};

/// What one side's package database gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageSide {
    pub database: Option<Database>,
    pub release: String,
    /// Why the packages could not be read (no database, rpm not installed…).
    pub note: Option<String>,
}

/// The packages part of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageReport {
    pub left: PackageSide,
    pub right: PackageSide,
    pub diff: PackageDiff,
    pub names_only: bool,
}

impl PackageReport {
    /// "RPMs" as the original said when both sides are rpm-based, else "packages".
    fn noun(&self) -> &'static str {
        match (self.left.database, self.right.database) {
            (Some(Database::Rpm), Some(Database::Rpm)) => "RPMs",
            _ => "packages",
        }
    }
}

/// A whole diff, ready to print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub left: String,
    pub right: String,
    pub files: Option<FileDiff>,
    pub packages: Option<PackageReport>,
    /// What only each side's inspect output holds (`-m`).
    pub metadata: Option<(Value, Value)>,
}

impl Report {
    /// The text the original printed; `verbose` lists every package, not only differing ones.
    pub fn text(&self, verbose: bool) -> String {
        let mut out = String::new();
        if let Some(files) = &self.files {
            self.files_text(files, &mut out);
            // The original ended the file part with an empty write_out("\n").
            out.push_str("\n\n");
        }
        if let Some(packages) = &self.packages {
            self.packages_text(packages, verbose, &mut out);
        }
        if let Some((left, right)) = &self.metadata {
            self.metadata_text(left, right, &mut out);
        }
        out
    }

    /// The original printed this only with `--json`, as text (its output logic was inverted);
    /// here it is the text form, and `--json` carries it as `unique_metadata`.
    fn metadata_text(&self, left: &Value, right: &Value, out: &mut String) {
        use crate::metadata::is_empty;
        if is_empty(left) && is_empty(right) {
            out.push_str(&format!(
                "\n{} and {} have no differences in their metadata\n",
                self.left, self.right
            ));
            return;
        }
        for (name, value) in [(&self.left, left), (&self.right, right)] {
            let text = serde_json::to_string_pretty(value).unwrap_or_default();
            out.push_str(&format!("\nMetadata only in {name}:\n{text}\n"));
        }
    }

    fn files_text(&self, files: &FileDiff, out: &mut String) {
        let (left, right) = (&self.left, &self.right);
        if files.is_empty() {
            out.push_str(&format!(
                "\nThere are no file differences between {left} and {right}\n"
            ));
        }
        for (name, list) in [(left, &files.only_left), (right, &files.only_right)] {
            if !list.is_empty() {
                out.push_str(&format!("\nFiles only in {name}:\n"));
                for path in list {
                    out.push_str(&format!("     {path}\n"));
                }
            }
        }
        if !files.changed.is_empty() {
            out.push_str("\nCommon files that are different: (reason)\n");
            for changed in &files.changed {
                out.push_str(&format!(
                    "     {} ({})\n",
                    changed.path,
                    changed.reasons.join(" ")
                ));
            }
        }
    }

    fn packages_text(&self, p: &PackageReport, verbose: bool, out: &mut String) {
        let notes: Vec<&String> = [&p.left.note, &p.right.note]
            .into_iter()
            .flatten()
            .collect();
        if !notes.is_empty() {
            for note in notes {
                out.push_str(&format!("\n{note}\n"));
            }
            return;
        }
        let noun = p.noun();
        if !p.diff.has_diff() && !verbose {
            if p.names_only {
                out.push_str(&format!(
                    "\n{} and {} has the same {noun}.  Versions may differ.  Remove \
                     --names-only to see if there are version differences.\n",
                    self.left, self.right
                ));
            } else {
                out.push_str(&format!(
                    "\n{} and {} have no different {noun}\n",
                    self.left, self.right
                ));
            }
            return;
        }
        let mut all: Vec<&String> = p.diff.left_all.iter().chain(&p.diff.right_all).collect();
        all.sort();
        all.dedup();
        let width = all
            .iter()
            .map(|e| e.chars().count())
            .max()
            .unwrap_or(0)
            .max(30);
        let row = |a: &str, b: &str| format!("{a:width$} | {b:width$}\n");
        let rule = "-".repeat(width);
        out.push('\n');
        out.push_str(&row(&self.left, &self.right));
        out.push_str(&row(&rule, &rule));
        let step = width - 2;
        let (r1, r2) = (
            chunks(&p.left.release, step),
            chunks(&p.right.release, step),
        );
        for i in 0..r1.len().max(r2.len()) {
            out.push_str(&row(
                r1.get(i).map_or("", String::as_str),
                r2.get(i).map_or("", String::as_str),
            ));
        }
        out.push_str(&row(&rule, &rule));
        let in_left: std::collections::BTreeSet<&String> = p.diff.left_all.iter().collect();
        let in_right: std::collections::BTreeSet<&String> = p.diff.right_all.iter().collect();
        for entry in all {
            match (in_left.contains(entry), in_right.contains(entry)) {
                (true, true) if verbose => out.push_str(&row(entry, entry)),
                (true, false) => out.push_str(&row(entry, "")),
                (false, true) => out.push_str(&row("", entry)),
                _ => {}
            }
        }
    }

    /// The JSON the original printed with `--json`.
    pub fn json(&self) -> Value {
        let mut left = Map::new();
        let mut right = Map::new();
        let mut top = Map::new();
        if let Some(files) = &self.files {
            left.insert("unique_files".into(), json!(files.only_left));
            right.insert("unique_files".into(), json!(files.only_right));
            top.insert("files_differ".into(), json!(files.changed));
        }
        if let Some(p) = &self.packages {
            for (side, info, all, only) in [
                (&mut left, &p.left, &p.diff.left_all, &p.diff.left_only),
                (&mut right, &p.right, &p.diff.right_all, &p.diff.right_only),
            ] {
                side.insert("release".into(), json!(info.release));
                side.insert("all_rpms".into(), json!(all));
                side.insert("unique_rpms".into(), json!(only));
                side.insert("common_rpms".into(), json!(p.diff.common));
                side.insert(
                    "package_db".into(),
                    json!(info.database.map(Database::as_str)),
                );
                if let Some(note) = &info.note {
                    side.insert("package_note".into(), json!(note));
                }
            }
        }
        if let Some((a, b)) = &self.metadata {
            left.insert("unique_metadata".into(), a.clone());
            right.insert("unique_metadata".into(), b.clone());
        }
        top.insert(self.left.clone(), Value::Object(left));
        top.insert(self.right.clone(), Value::Object(right));
        Value::Object(top)
    }
}

/// The release line cut into pieces that fit a column, as the original wrapped it.
fn chunks(text: &str, step: usize) -> Vec<String> {
    let chars: Vec<char> = text.trim().chars().collect();
    chars
        .chunks(step.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Changed;
    use crate::packages::Packages;

    fn files() -> FileDiff {
        FileDiff {
            only_left: vec!["etc/gone".into()],
            only_right: vec!["etc/new".into(), "var/tmp/date.txt".into()],
            changed: vec![Changed {
                path: "etc/motd".into(),
                reasons: vec!["sha256digest".into(), "size".into()],
            }],
        }
    }

    #[test]
    fn file_text_has_the_original_shape() {
        let r = Report {
            left: "img".into(),
            right: "ctr".into(),
            files: Some(files()),
            packages: None,
            metadata: None,
        };
        assert_eq!(
            r.text(false),
            "\nFiles only in img:\n     etc/gone\n\nFiles only in ctr:\n     etc/new\n     \
             var/tmp/date.txt\n\nCommon files that are different: (reason)\n     etc/motd \
             (sha256digest size)\n\n\n"
        );
        let same = Report {
            files: Some(FileDiff::default()),
            ..r
        };
        assert_eq!(
            same.text(false),
            "\nThere are no file differences between img and ctr\n\n\n"
        );
    }

    fn packages(left: &[(&str, &str)], right: &[(&str, &str)], names_only: bool) -> PackageReport {
        let pk = |v: &[(&str, &str)]| -> Packages {
            v.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        PackageReport {
            left: PackageSide {
                database: Some(Database::Dpkg),
                release: "Debian GNU/Linux 12 (bookworm)".into(),
                note: None,
            },
            right: PackageSide {
                database: Some(Database::Dpkg),
                release: "Debian GNU/Linux 12 (bookworm)".into(),
                note: None,
            },
            diff: PackageDiff::new(&pk(left), &pk(right), names_only),
            names_only,
        }
    }

    #[test]
    fn package_table_has_two_columns_of_at_least_30() {
        let r = Report {
            left: "a".into(),
            right: "b".into(),
            files: None,
            packages: Some(packages(
                &[("vim", "9.0"), ("bash", "5")],
                &[("bash", "5")],
                false,
            )),
            metadata: None,
        };
        let text = r.text(false);
        let lines: Vec<&str> = text.lines().collect();
        let pad = |s: &str| format!("{s:30}");
        assert_eq!(lines[0], "");
        assert_eq!(lines[1], format!("{} | {}", pad("a"), pad("b")));
        assert_eq!(lines[2], format!("{} | {}", "-".repeat(30), "-".repeat(30)));
        assert_eq!(
            lines[3],
            format!(
                "{} | {}",
                pad("Debian GNU/Linux 12 (bookwor"),
                pad("Debian GNU/Linux 12 (bookwor")
            )
        );
        assert_eq!(lines[4], format!("{} | {}", pad("m)"), pad("m)")));
        assert_eq!(lines[6], format!("{} | {}", pad("vim-9.0"), pad("")));
        assert_eq!(lines.len(), 7, "bash is common and left out: {text}");
        assert!(
            r.text(true)
                .contains(&format!("{} | {}", pad("bash-5"), pad("bash-5")))
        );
    }

    #[test]
    fn no_package_difference_messages() {
        let same = Report {
            left: "a".into(),
            right: "b".into(),
            files: None,
            packages: Some(packages(&[("x", "1")], &[("x", "1")], false)),
            metadata: None,
        };
        assert_eq!(same.text(false), "\na and b have no different packages\n");
        let names = Report {
            packages: Some(packages(&[("x", "1")], &[("x", "2")], true)),
            ..same
        };
        assert!(
            names
                .text(false)
                .contains("has the same packages.  Versions may differ.")
        );
    }

    #[test]
    fn json_keeps_each_sides_own_unique_files() {
        let r = Report {
            left: "img".into(),
            right: "ctr".into(),
            files: Some(files()),
            packages: Some(packages(&[("x", "1")], &[("x", "2")], false)),
            metadata: Some((json!({"Id": "1"}), json!({}))),
        };
        let j = r.json();
        assert_eq!(j["img"]["unique_metadata"], json!({"Id": "1"}));
        assert_eq!(j["ctr"]["unique_metadata"], json!({}));
        let text = Report {
            files: None,
            packages: None,
            ..r.clone()
        }
        .text(false);
        assert_eq!(
            text,
            "\nMetadata only in img:\n{\n  \"Id\": \"1\"\n}\n\nMetadata only in ctr:\n{}\n"
        );
        let same = Report {
            files: None,
            packages: None,
            metadata: Some((json!({}), json!({}))),
            ..r.clone()
        };
        assert_eq!(
            same.text(false),
            "\nimg and ctr have no differences in their metadata\n"
        );
        assert_eq!(j["img"]["unique_files"], json!(["etc/gone"]));
        assert_eq!(
            j["ctr"]["unique_files"],
            json!(["etc/new", "var/tmp/date.txt"])
        );
        assert_eq!(
            j["files_differ"],
            json!([{"path": "etc/motd", "reasons": ["sha256digest", "size"]}])
        );
        assert_eq!(j["img"]["unique_rpms"], json!(["x-1"]));
        assert_eq!(j["ctr"]["unique_rpms"], json!(["x-2"]));
        assert_eq!(j["ctr"]["package_db"], json!("dpkg"));
    }
}

//! Two manifests compared: paths only on the left, only on the right, and common paths that
//! differ, each with the keywords that differ (the names gomtree gave them, which the original
//! `atomic diff -k` took).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::tree::{Entry, Manifest};

/// One property a file is compared by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Keyword {
    Type,
    Mode,
    Uid,
    Gid,
    Size,
    Sha256Digest,
    Link,
    Nlink,
    Time,
}

impl Keyword {
    /// Every keyword, in the order reasons are listed.
    pub const ALL: [Keyword; 9] = [
        Keyword::Type,
        Keyword::Mode,
        Keyword::Uid,
        Keyword::Gid,
        Keyword::Size,
        Keyword::Sha256Digest,
        Keyword::Link,
        Keyword::Nlink,
        Keyword::Time,
    ];

    /// What is compared without `-k`: what a file *is*. Modification times and link counts are
    /// left out: two builds of the same content stamp different times, and link counts depend
    /// on how a layer was unpacked, so they would mark every file of a rebuilt image as changed.
    pub const DEFAULT: [Keyword; 7] = [
        Keyword::Type,
        Keyword::Mode,
        Keyword::Uid,
        Keyword::Gid,
        Keyword::Size,
        Keyword::Sha256Digest,
        Keyword::Link,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Type => "type",
            Keyword::Mode => "mode",
            Keyword::Uid => "uid",
            Keyword::Gid => "gid",
            Keyword::Size => "size",
            Keyword::Sha256Digest => "sha256digest",
            Keyword::Link => "link",
            Keyword::Nlink => "nlink",
            Keyword::Time => "time",
        }
    }

    /// Do the two entries differ in this property?
    fn differs(self, a: &Entry, b: &Entry) -> bool {
        match self {
            Keyword::Type => a.kind != b.kind || a.rdev != b.rdev,
            Keyword::Mode => a.mode != b.mode,
            Keyword::Uid => a.uid != b.uid,
            Keyword::Gid => a.gid != b.gid,
            Keyword::Size => a.size != b.size,
            Keyword::Sha256Digest => a.sha256 != b.sha256,
            Keyword::Link => a.link != b.link,
            Keyword::Nlink => a.nlink != b.nlink,
            Keyword::Time => a.mtime != b.mtime,
        }
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Keyword {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Keyword::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Keyword::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "'{s}' is not a diff keyword; choose all or any of {}",
                    names.join(", ")
                )
            })
    }
}

/// The keywords `-k` asked for (`all`, names, or comma-separated names); none means the default.
pub fn parse_keywords(given: &[String]) -> Result<Vec<Keyword>, String> {
    if given.is_empty() {
        return Ok(Keyword::DEFAULT.to_vec());
    }
    let mut out: Vec<Keyword> = Vec::new();
    for word in given.iter().flat_map(|g| g.split(',')).map(str::trim) {
        if word.is_empty() {
            continue;
        }
        if word == "all" {
            return Ok(Keyword::ALL.to_vec());
        }
        let k: Keyword = word.parse()?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out.sort();
    Ok(out)
}

/// A common path that differs, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub path: String,
    pub reasons: Vec<String>,
}

/// What differs between two roots' files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    pub only_left: Vec<String>,
    pub only_right: Vec<String>,
    pub changed: Vec<Changed>,
}

impl FileDiff {
    pub fn is_empty(&self) -> bool {
        self.only_left.is_empty() && self.only_right.is_empty() && self.changed.is_empty()
    }
}

/// Compare `left` with `right` by `keywords`.
pub fn compare(left: &Manifest, right: &Manifest, keywords: &[Keyword]) -> FileDiff {
    let mut diff = FileDiff::default();
    for (path, a) in left {
        match right.get(path) {
            None => diff.only_left.push(path.clone()),
            Some(b) => {
                // By name, as gomtree listed them.
                let mut reasons: Vec<String> = keywords
                    .iter()
                    .filter(|k| k.differs(a, b))
                    .map(|k| k.as_str().to_string())
                    .collect();
                reasons.sort();
                if !reasons.is_empty() {
                    diff.changed.push(Changed {
                        path: path.clone(),
                        reasons,
                    });
                }
            }
        }
    }
    diff.only_right = right
        .keys()
        .filter(|p| !left.contains_key(*p))
        .cloned()
        .collect();
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Kind;

    fn file(content: &str, mode: u32) -> Entry {
        Entry {
            kind: Some(Kind::File),
            mode,
            size: content.len() as u64,
            sha256: Some(format!("h({content})")),
            nlink: 1,
            ..Default::default()
        }
    }

    fn link(target: &str) -> Entry {
        Entry {
            kind: Some(Kind::Symlink),
            mode: 0o777,
            size: target.len() as u64,
            link: Some(target.into()),
            nlink: 1,
            ..Default::default()
        }
    }

    fn manifest(entries: &[(&str, Entry)]) -> Manifest {
        entries
            .iter()
            .map(|(p, e)| (p.to_string(), e.clone()))
            .collect()
    }

    #[test]
    fn classifies_paths_by_side_and_reason() {
        let cases: Vec<(&str, Entry, Entry, Vec<&str>)> = vec![
            ("same", file("a", 0o644), file("a", 0o644), vec![]),
            (
                "content",
                file("ab", 0o644),
                file("cd", 0o644),
                vec!["sha256digest"],
            ),
            (
                "grown",
                file("a", 0o644),
                file("abc", 0o644),
                vec!["sha256digest", "size"],
            ),
            ("chmod", file("a", 0o644), file("a", 0o755), vec!["mode"]),
            ("relink", link("x"), link("y"), vec!["link"]),
            (
                "retyped",
                file("x", 0o777),
                link("x"),
                vec!["link", "sha256digest", "type"],
            ),
            (
                "chown",
                file("a", 0o644),
                Entry {
                    uid: 1000,
                    ..file("a", 0o644)
                },
                vec!["uid"],
            ),
            (
                "touched",
                file("a", 0o644),
                Entry {
                    mtime: 5,
                    ..file("a", 0o644)
                },
                vec![],
            ),
        ];
        for (name, a, b, want) in cases {
            let left = manifest(&[("/f", a)]);
            let right = manifest(&[("/f", b)]);
            let diff = compare(&left, &right, &Keyword::DEFAULT);
            let got: Vec<&str> = diff
                .changed
                .first()
                .map(|c| c.reasons.iter().map(String::as_str).collect())
                .unwrap_or_default();
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn paths_on_one_side_only() {
        let left = manifest(&[("/a", file("1", 0o644)), ("/both", file("1", 0o644))]);
        let right = manifest(&[("/b", file("1", 0o644)), ("/both", file("1", 0o644))]);
        let diff = compare(&left, &right, &Keyword::DEFAULT);
        assert_eq!(diff.only_left, ["/a"]);
        assert_eq!(diff.only_right, ["/b"]);
        assert!(diff.changed.is_empty());
        assert!(!diff.is_empty());
        assert!(compare(&left, &left, &Keyword::DEFAULT).is_empty());
    }

    #[test]
    fn keywords_select_what_counts() {
        let left = manifest(&[("/f", file("a", 0o644))]);
        let right = manifest(&[(
            "/f",
            Entry {
                mtime: 9,
                ..file("b", 0o600)
            },
        )]);
        let only_mode = compare(&left, &right, &[Keyword::Mode]);
        assert_eq!(only_mode.changed[0].reasons, ["mode"]);
        let all = compare(&left, &right, &Keyword::ALL);
        assert_eq!(all.changed[0].reasons, ["mode", "sha256digest", "time"]);
    }

    #[test]
    fn keyword_parsing() {
        type Case = (Vec<&'static str>, Result<Vec<Keyword>, ()>);
        let cases: Vec<Case> = vec![
            (vec![], Ok(Keyword::DEFAULT.to_vec())),
            (vec!["all"], Ok(Keyword::ALL.to_vec())),
            (vec!["size", "mode"], Ok(vec![Keyword::Mode, Keyword::Size])),
            (vec!["time,uid"], Ok(vec![Keyword::Uid, Keyword::Time])),
            (vec!["mode", "mode"], Ok(vec![Keyword::Mode])),
            (vec!["colour"], Err(())),
        ];
        for (given, want) in cases {
            let given: Vec<String> = given.into_iter().map(String::from).collect();
            let got = parse_keywords(&given).map_err(|_| ());
            assert_eq!(got, want, "{given:?}");
        }
        let err = parse_keywords(&["colour".into()]).unwrap_err();
        assert!(err.contains("sha256digest"), "{err}");
    }
}

//! Installed packages of a root, from its package database, and their differences.
//!
//! dpkg's database is a text file (`var/lib/dpkg/status`) read here directly. rpm's is a
//! Berkeley DB, NDB or SQLite file that only rpm reads reliably, so the caller runs
//! `rpm --dbpath DIR -qa --qf` [`RPM_QUERY_FORMAT`] and hands the output to [`parse_rpm_query`].

use std::collections::BTreeMap;

use serde::Serialize;

/// Which package database a root has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Database {
    Dpkg,
    Rpm,
}

impl Database {
    pub fn as_str(self) -> &'static str {
        match self {
            Database::Dpkg => "dpkg",
            Database::Rpm => "rpm",
        }
    }
}

/// dpkg's status file, relative to the root.
pub const DPKG_STATUS: &str = "var/lib/dpkg/status";

/// Where rpm keeps its database, newest layout first (Fedora 36+ moved it under /usr).
pub const RPM_DB_DIRS: [&str; 2] = ["usr/lib/sysimage/rpm", "var/lib/rpm"];

/// The files of an rpm database, whichever backend wrote it (SQLite's write-ahead log too: it
/// may hold transactions not yet folded into the main file).
pub const RPM_DB_FILES: [&str; 7] = [
    "rpmdb.sqlite",
    "rpmdb.sqlite-wal",
    "Packages.db",
    "Packages",
    "Name",
    "Basenames",
    "Providename",
];

/// One line per package: name, epoch (0 when none), version, release, tab-separated.
pub const RPM_QUERY_FORMAT: &str = "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\n";

/// Installed packages: name → version as the original printed it (rpm: `epoch-version-release`,
/// dpkg: the package's version, epoch included as dpkg writes it).
pub type Packages = BTreeMap<String, String>;

/// The installed packages of a dpkg status file. A stanza counts when its `Status` ends in
/// `installed` (not `config-files`, `half-installed`, …); `Architecture` is added to the name
/// only for a second architecture of the same package (`libc6:i386`).
pub fn parse_dpkg_status(text: &str) -> Packages {
    let mut out = Packages::new();
    let mut firsts: BTreeMap<String, String> = BTreeMap::new();
    for stanza in text.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut status = None;
        let mut arch = None;
        for line in stanza.lines() {
            // Continuation lines (descriptions, conffiles) start with a space.
            if line.starts_with([' ', '\t']) {
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                let value = value.trim();
                match key {
                    "Package" => name = Some(value),
                    "Version" => version = Some(value),
                    "Status" => status = Some(value),
                    "Architecture" => arch = Some(value),
                    _ => {}
                }
            }
        }
        let (Some(name), Some(status)) = (name, status) else {
            continue;
        };
        if status.split_whitespace().last() != Some("installed") {
            continue;
        }
        let version = version.unwrap_or("").to_string();
        let arch = arch.unwrap_or("").to_string();
        let key = match firsts.get(name) {
            Some(first_arch) if *first_arch != arch => format!("{name}:{arch}"),
            _ => {
                firsts.insert(name.to_string(), arch);
                name.to_string()
            }
        };
        out.insert(key, version);
    }
    out
}

/// The packages of `rpm -qa --qf RPM_QUERY_FORMAT` output (gpg-pubkey entries, rpm's imported
/// keys, are not packages and are skipped, as the original did).
pub fn parse_rpm_query(output: &str) -> Packages {
    let mut out = Packages::new();
    for line in output.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, epoch, version, release] = fields[..] else {
            continue;
        };
        if name.is_empty() || name == "gpg-pubkey" {
            continue;
        }
        out.insert(name.to_string(), format!("{epoch}-{version}-{release}"));
    }
    out
}

/// A package as the original listed it: `name-version`, or just the name with `--names-only`.
pub fn entries(packages: &Packages, names_only: bool) -> Vec<String> {
    packages
        .iter()
        .map(|(name, version)| {
            if names_only || version.is_empty() {
                name.clone()
            } else {
                format!("{name}-{version}")
            }
        })
        .collect()
}

/// The two sides' package entries compared as sets (a version change is one entry gone on the
/// left and one new on the right, as the original's table shows it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PackageDiff {
    pub left_all: Vec<String>,
    pub right_all: Vec<String>,
    pub left_only: Vec<String>,
    pub right_only: Vec<String>,
    pub common: Vec<String>,
}

impl PackageDiff {
    pub fn new(left: &Packages, right: &Packages, names_only: bool) -> PackageDiff {
        let left_all = entries(left, names_only);
        let right_all = entries(right, names_only);
        let in_right: std::collections::BTreeSet<&String> = right_all.iter().collect();
        let in_left: std::collections::BTreeSet<&String> = left_all.iter().collect();
        let left_only = left_all
            .iter()
            .filter(|e| !in_right.contains(e))
            .cloned()
            .collect();
        let right_only = right_all
            .iter()
            .filter(|e| !in_left.contains(e))
            .cloned()
            .collect();
        let common = left_all
            .iter()
            .filter(|e| in_right.contains(e))
            .cloned()
            .collect();
        PackageDiff {
            left_all,
            right_all,
            left_only,
            right_only,
            common,
        }
    }

    pub fn has_diff(&self) -> bool {
        !self.left_only.is_empty() || !self.right_only.is_empty()
    }
}

/// The release a root says it is: `PRETTY_NAME` of os-release, else the first line of
/// redhat-release or debian_version (`files` gives each file's content, if any, by path).
pub fn release(read: impl Fn(&str) -> Option<String>) -> String {
    for path in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(text) = read(path)
            && let Some(name) = os_release_name(&text)
        {
            return name;
        }
    }
    for path in ["etc/redhat-release", "etc/debian_version"] {
        if let Some(text) = read(path) {
            let line = text.lines().next().unwrap_or("").trim();
            if !line.is_empty() {
                return line.to_string();
            }
        }
    }
    String::new()
}

fn os_release_name(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        (!value.is_empty()).then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "\
Package: base-files
Status: install ok installed
Priority: required
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy.
 .
 Continued: not a field

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u4

Package: epochal
Status: hold ok installed
Version: 1:2.0-1
";

    #[test]
    fn dpkg_status_lists_installed_packages() {
        let p = parse_dpkg_status(STATUS);
        let got: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("base-files", "12.4+deb12u5"),
                ("epochal", "1:2.0-1"),
                ("libc6", "2.36-9+deb12u4"),
                ("libc6:i386", "2.36-9+deb12u4"),
            ]
        );
        assert!(parse_dpkg_status("").is_empty());
        assert!(parse_dpkg_status("garbage\n\n\nPackage\n").is_empty());
    }

    #[test]
    fn rpm_query_output() {
        let out = "bash\t0\t5.1.8\t6.el9\ngpg-pubkey\t0\tfd431d51\t4ae0493b\nbroken line\n\
                   vim-minimal\t2\t8.2.2637\t20.el9\n";
        let p = parse_rpm_query(out);
        assert_eq!(
            entries(&p, false),
            ["bash-0-5.1.8-6.el9", "vim-minimal-2-8.2.2637-20.el9"]
        );
        assert_eq!(entries(&p, true), ["bash", "vim-minimal"]);
    }

    #[test]
    fn package_differences_by_entry() {
        let pk = |v: &[(&str, &str)]| -> Packages {
            v.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        type Case = (
            &'static str,
            Packages,
            Packages,
            bool,
            Vec<&'static str>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "same",
                pk(&[("a", "1")]),
                pk(&[("a", "1")]),
                false,
                vec![],
                vec![],
            ),
            (
                "upgraded",
                pk(&[("a", "1"), ("b", "1")]),
                pk(&[("a", "2"), ("b", "1")]),
                false,
                vec!["a-1"],
                vec!["a-2"],
            ),
            (
                "upgraded, names only",
                pk(&[("a", "1")]),
                pk(&[("a", "2")]),
                true,
                vec![],
                vec![],
            ),
            (
                "removed and added",
                pk(&[("gone", "1"), ("kept", "1")]),
                pk(&[("kept", "1"), ("new", "3")]),
                true,
                vec!["gone"],
                vec!["new"],
            ),
        ];
        for (name, left, right, names_only, want_left, want_right) in cases {
            let d = PackageDiff::new(&left, &right, names_only);
            assert_eq!(d.left_only, want_left, "{name}");
            assert_eq!(d.right_only, want_right, "{name}");
            assert_eq!(
                d.has_diff(),
                !want_left.is_empty() || !want_right.is_empty()
            );
        }
    }

    #[test]
    fn release_prefers_os_release() {
        let files = |map: Vec<(&'static str, &'static str)>| {
            move |p: &str| {
                map.iter()
                    .find(|(k, _)| *k == p)
                    .map(|(_, v)| v.to_string())
            }
        };
        let cases: Vec<(Vec<(&'static str, &'static str)>, &str)> = vec![
            (
                vec![(
                    "etc/os-release",
                    "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
                )],
                "Debian GNU/Linux 12 (bookworm)",
            ),
            (
                vec![("usr/lib/os-release", "PRETTY_NAME='Fedora'\n")],
                "Fedora",
            ),
            (
                vec![(
                    "etc/redhat-release",
                    "Red Hat Enterprise Linux Server release 7.2 (Maipo)\n",
                )],
                "Red Hat Enterprise Linux Server release 7.2 (Maipo)",
            ),
            (vec![("etc/debian_version", "12.4\n")], "12.4"),
            (vec![], ""),
        ];
        for (map, want) in cases {
            assert_eq!(release(files(map)), want);
        }
    }
}

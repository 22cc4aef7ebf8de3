//! The two output forms of `atomic host status`: rpm-ostree's text layout and JSON with
//! rpm-ostree's key names. Pure functions of a [`HostStatus`], so they are tested from fixtures.

use serde::Serialize;

use crate::{Commit, Deployment, HostStatus};

/// One deployment in the JSON form. The keys and their meaning are rpm-ostree's (`rpm-ostree
/// status --json`), so scripts written for it read ours; the set is documented as stable in
/// the README — add keys, never rename or drop one.
#[derive(Serialize)]
struct JsonDeployment<'a> {
    id: String,
    osname: &'a str,
    checksum: &'a str,
    version: Option<&'a str>,
    origin: Option<&'a str>,
    booted: bool,
    staged: bool,
    pinned: bool,
    unlocked: &'a str,
    serial: i32,
    timestamp: Option<u64>,
}

#[derive(Serialize)]
struct JsonStatus<'a> {
    deployments: Vec<JsonDeployment<'a>>,
}

/// `{"deployments":[…]}`, pretty-printed like rpm-ostree's.
/// The keys of each deployment in [`to_json`]'s output (the README's stable schema).
#[cfg(test)]
pub(crate) const DEPLOYMENT_KEYS: &[&str] = &[
    "id",
    "osname",
    "checksum",
    "version",
    "origin",
    "booted",
    "staged",
    "pinned",
    "unlocked",
    "serial",
    "timestamp",
];

pub fn to_json(status: &HostStatus) -> String {
    let doc = JsonStatus {
        deployments: status
            .deployments
            .iter()
            .map(|d| JsonDeployment {
                id: d.id(),
                osname: &d.osname,
                checksum: &d.checksum,
                version: d.version.as_deref(),
                origin: d.origin_refspec.as_deref(),
                booted: d.booted,
                staged: d.staged,
                pinned: d.pinned,
                unlocked: &d.unlocked,
                serial: d.serial,
                timestamp: d.timestamp,
            })
            .collect(),
    };
    // Serialising plain strings, numbers and booleans cannot fail.
    serde_json::to_string_pretty(&doc).expect("status serialises")
}

/// The width of the right-aligned key column, as rpm-ostree lines its keys up on the colon.
const KEY_WIDTH: usize = 12;

/// rpm-ostree's text layout: `State: idle`, `Deployments:`, then each deployment as
/// `● OSNAME:REFSPEC` (`●` marks the booted one) with its details indented below.
pub fn to_text(status: &HostStatus) -> String {
    // libostree has no transactions of its own: a change holds the sysroot lock for its whole
    // duration, so whoever can read the sysroot sees it idle.
    let mut out = String::from("State: idle\nDeployments:\n");
    for d in &status.deployments {
        out.push_str(&deployment_text(d));
    }
    out
}

fn deployment_text(d: &Deployment) -> String {
    let mark = if d.booted { "●" } else { " " };
    // Without an origin there is nothing to follow; rpm-ostree then names the commit instead.
    let target = d.origin_refspec.as_deref().unwrap_or(&d.checksum);
    let mut out = format!("{mark} {}:{target}\n", d.osname);
    let mut field = |key: &str, value: &str| {
        out.push_str(&format!("{key:>KEY_WIDTH$}: {value}\n"));
    };
    if let Some(version) = &d.version {
        match d.timestamp.and_then(format_timestamp) {
            Some(time) => field("Version", &format!("{version} ({time})")),
            None => field("Version", version),
        }
    }
    field("Commit", &d.checksum);
    if d.staged {
        field("Staged", "yes");
    }
    if d.pinned {
        field("Pinned", "yes");
    }
    if d.unlocked != "none" {
        field("Unlocked", &d.unlocked);
    }
    out
}

/// `VERSION (CHECKSUM, TIME)`, for the messages of upgrade, deploy and rebase.
pub fn describe_commit(c: &Commit) -> String {
    let time = format_timestamp(c.timestamp).unwrap_or_else(|| c.timestamp.to_string());
    let version = c.version.as_deref().unwrap_or("(no version)");
    format!("{version} ({}, {time})", c.checksum)
}

/// UTC, to the second, as rpm-ostree prints it: `2020-02-04T17:02:48Z`.
fn format_timestamp(secs: u64) -> Option<String> {
    let secs = i64::try_from(secs).ok()?;
    let time = chrono::DateTime::from_timestamp(secs, 0)?;
    Some(time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> HostStatus {
        HostStatus {
            deployments: vec![
                Deployment {
                    osname: "testos".into(),
                    checksum: "b".repeat(64),
                    version: Some("2.0".into()),
                    origin_refspec: Some("testos/stable".into()),
                    booted: false,
                    staged: false,
                    pinned: false,
                    unlocked: "none".into(),
                    serial: 0,
                    timestamp: Some(1_580_835_768),
                },
                Deployment {
                    osname: "testos".into(),
                    checksum: "a".repeat(64),
                    version: None,
                    origin_refspec: None,
                    booted: true,
                    staged: false,
                    pinned: true,
                    unlocked: "development".into(),
                    serial: 1,
                    timestamp: None,
                },
            ],
        }
    }

    #[test]
    fn text_matches_rpm_ostree_layout() {
        let expected = format!(
            "State: idle\n\
             Deployments:\n  \
             testos:testos/stable\n     \
             Version: 2.0 (2020-02-04T17:02:48Z)\n      \
             Commit: {b}\n\
             ● testos:{a}\n      \
             Commit: {a}\n      \
             Pinned: yes\n    \
             Unlocked: development\n",
            a = "a".repeat(64),
            b = "b".repeat(64),
        );
        assert_eq!(to_text(&fixture()), expected);
    }

    #[test]
    fn json_uses_rpm_ostree_keys() {
        let doc: serde_json::Value = serde_json::from_str(&to_json(&fixture())).unwrap();
        let first = &doc["deployments"][0];
        let keys: Vec<&str> = first
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = DEPLOYMENT_KEYS.to_vec();
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(first["id"], format!("testos-{}.0", "b".repeat(64)));
        assert_eq!(first["version"], "2.0");
        assert_eq!(first["origin"], "testos/stable");
        assert_eq!(first["timestamp"], 1_580_835_768);
        let second = &doc["deployments"][1];
        assert_eq!(second["version"], serde_json::Value::Null);
        assert_eq!(second["booted"], true);
        assert_eq!(second["unlocked"], "development");
    }

    #[test]
    fn commits_are_described_with_version_and_time() {
        let mut c = Commit {
            checksum: "c".repeat(64),
            version: Some("2.0".into()),
            timestamp: 1_580_835_768,
        };
        let csum = "c".repeat(64);
        assert_eq!(
            describe_commit(&c),
            format!("2.0 ({csum}, 2020-02-04T17:02:48Z)")
        );
        c.version = None;
        assert_eq!(
            describe_commit(&c),
            format!("(no version) ({csum}, 2020-02-04T17:02:48Z)")
        );
    }

    #[test]
    fn empty_host_has_no_deployment_lines() {
        assert_eq!(
            to_text(&HostStatus::default()),
            "State: idle\nDeployments:\n"
        );
    }
}

//! The rpm-ostree backend: the argv of each verb (the table of atomic 1.x's `Atomic/host.py`,
//! with its `--os` crash fixed), and `rpm-ostree status --json`, passed through.

use anyhow::{Context, Result, bail};

use crate::request::Request;

/// The rpm-ostree command line for a request (the arguments after `--` are appended by the
/// caller). rpm-ostree reboots by itself with `--reboot`, and only after a successful change.
pub(crate) fn argv(request: &Request) -> Result<Vec<String>> {
    let mut argv = vec!["rpm-ostree".to_string()];
    let mut flag = |on: bool, name: &str| {
        if on {
            argv.push(name.to_string());
        }
    };
    match request {
        Request::Status { json, booted } => {
            flag(true, "status");
            flag(*booted, "--booted");
            flag(*json, "--json");
        }
        Request::Upgrade {
            os,
            check,
            allow_downgrade,
            reboot,
        } => {
            flag(true, "upgrade");
            flag(*reboot, "--reboot");
            flag(*check, "--check");
            flag(*allow_downgrade, "--allow-downgrade");
            push_os(&mut argv, os);
        }
        Request::Rollback { reboot } => {
            flag(true, "rollback");
            flag(*reboot, "--reboot");
        }
        Request::Deploy {
            revision,
            os,
            preview,
            reboot,
        } => {
            flag(true, "deploy");
            flag(*reboot, "--reboot");
            flag(*preview, "--preview");
            push_os(&mut argv, os);
            argv.push(revision.clone());
        }
        Request::Rebase {
            refspec,
            os,
            reboot,
        } => {
            flag(true, "rebase");
            flag(*reboot, "--reboot");
            push_os(&mut argv, os);
            argv.push(refspec.clone());
        }
        // rpm-ostree's name for `ostree admin unlock`, which it wraps.
        Request::Unlock { hotfix } => {
            flag(true, "usroverlay");
            flag(*hotfix, "--hotfix");
        }
        Request::Install { packages, reboot } | Request::Uninstall { packages, reboot } => {
            let verb = if matches!(request, Request::Install { .. }) {
                "install"
            } else {
                "uninstall"
            };
            flag(true, verb);
            flag(*reboot, "--reboot");
            argv.extend(packages.iter().cloned());
        }
    }
    Ok(argv)
}

/// `--os=NAME` as one argument: atomic 1.x built it with `"--os=" % os` and crashed.
fn push_os(argv: &mut Vec<String>, os: &Option<String>) {
    if let Some(os) = os {
        argv.push(format!("--os={os}"));
    }
}

/// What `atomic host status --json` prints from `rpm-ostree status --json`: rpm-ostree's own
/// document (our schema's keys are a subset of its keys), checked to be one. With
/// `booted_only`, the deployments are narrowed to the booted one here, because rpm-ostree
/// ignores `--booted` together with `--json` (coreos/rpm-ostree#2829).
pub(crate) fn status_json(stdout: &str, booted_only: bool) -> Result<String> {
    let mut doc: serde_json::Value =
        serde_json::from_str(stdout).context("rpm-ostree status --json printed no JSON")?;
    let Some(deployments) = doc.get_mut("deployments").and_then(|d| d.as_array_mut()) else {
        bail!("rpm-ostree status --json printed no 'deployments' list");
    };
    for d in deployments.iter() {
        if !d.get("checksum").is_some_and(|c| c.is_string())
            || !d.get("booted").is_some_and(|b| b.is_boolean())
        {
            bail!("rpm-ostree status --json printed a deployment without 'checksum' or 'booted'");
        }
    }
    if !booted_only {
        return Ok(stdout.trim_end().to_string());
    }
    deployments.retain(|d| d["booted"] == serde_json::Value::Bool(true));
    Ok(serde_json::to_string_pretty(&doc)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = include_str!("../fixtures/rpm-ostree-status.json");

    #[test]
    fn argv_per_verb() {
        let table = [
            (
                Request::Status {
                    json: true,
                    booted: true,
                },
                "rpm-ostree status --booted --json",
            ),
            (
                Request::Upgrade {
                    os: Some("fedora".into()),
                    check: true,
                    allow_downgrade: true,
                    reboot: true,
                },
                "rpm-ostree upgrade --reboot --check --allow-downgrade --os=fedora",
            ),
            (Request::Rollback { reboot: false }, "rpm-ostree rollback"),
            (
                Request::Deploy {
                    revision: "41.20250101.0".into(),
                    os: None,
                    preview: true,
                    reboot: false,
                },
                "rpm-ostree deploy --preview 41.20250101.0",
            ),
            (
                Request::Rebase {
                    refspec: "fedora:fedora/x86_64/coreos/next".into(),
                    os: Some("fedora".into()),
                    reboot: true,
                },
                "rpm-ostree rebase --reboot --os=fedora fedora:fedora/x86_64/coreos/next",
            ),
            (
                Request::Unlock { hotfix: true },
                "rpm-ostree usroverlay --hotfix",
            ),
            (
                Request::Install {
                    packages: vec!["vim-enhanced".into(), "htop".into()],
                    reboot: true,
                },
                "rpm-ostree install --reboot vim-enhanced htop",
            ),
            (
                Request::Uninstall {
                    packages: vec!["htop".into()],
                    reboot: false,
                },
                "rpm-ostree uninstall htop",
            ),
        ];
        for (request, expected) in table {
            assert_eq!(argv(&request).unwrap().join(" "), expected);
        }
    }

    #[test]
    fn recorded_status_passes_through_unchanged() {
        assert_eq!(status_json(STATUS, false).unwrap(), STATUS.trim_end());
    }

    #[test]
    fn booted_only_keeps_the_booted_deployment_with_all_its_keys() {
        let all: serde_json::Value = serde_json::from_str(STATUS).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&status_json(STATUS, true).unwrap()).unwrap();
        let deployments = doc["deployments"].as_array().unwrap();
        assert_eq!(deployments.len(), 1);
        assert_eq!(deployments[0], all["deployments"][1]);
        assert_eq!(deployments[0]["booted"], true);
        // Everything but the list is rpm-ostree's, untouched.
        assert_eq!(doc["update-driver"], all["update-driver"]);
        assert_eq!(doc["transaction"], all["transaction"]);
    }

    #[test]
    fn recorded_status_has_every_key_of_our_schema() {
        let doc: serde_json::Value = serde_json::from_str(STATUS).unwrap();
        for d in doc["deployments"].as_array().unwrap() {
            for key in crate::render::DEPLOYMENT_KEYS {
                assert!(d.get(key).is_some(), "{key} missing in {d}");
            }
        }
    }

    #[test]
    fn malformed_status_is_an_error() {
        for bad in [
            "",
            "State: idle",
            "{}",
            r#"{"deployments": {}}"#,
            r#"{"deployments": [{"checksum": "a"}]}"#,
        ] {
            assert!(status_json(bad, false).is_err(), "{bad}");
        }
    }
}

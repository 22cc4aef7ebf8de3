//! The bootc backend: the argv of each verb, and bootc's `BootcHost` JSON (API
//! `org.containers.bootc/v1`, `bootc status --format=json --format-version=1`), read only as far
//! as deciding whether bootc manages this host and whether its output is what we expect.

use anyhow::{Result, bail};
use serde::Deserialize;

use crate::request::{Request, needs_rpm_ostree};

/// The parts of a `BootcHost` atomic reads; the rest passes through untouched.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Host {
    api_version: String,
    kind: String,
    #[serde(default)]
    status: Option<HostStatus>,
}

#[derive(Debug, Deserialize)]
struct HostStatus {
    #[serde(default)]
    booted: Option<BootEntry>,
}

#[derive(Debug, Deserialize)]
struct BootEntry {
    /// The container image it was deployed from; `null` for a deployment bootc did not make
    /// (an rpm-ostree or plain ostree commit), which bootc cannot upgrade.
    #[serde(default)]
    image: Option<serde_json::Value>,
    /// Layered packages or other local state bootc does not understand: bootc's man page
    /// (bootc-status.8) says to use rpm-ostree then.
    #[serde(default)]
    incompatible: bool,
}

impl Host {
    /// bootc's documented test ("check if `status.booted` is not null"), narrowed to what bootc
    /// can change: a booted image deployment without incompatible local changes.
    pub(crate) fn manageable(&self) -> bool {
        self.status
            .as_ref()
            .and_then(|s| s.booted.as_ref())
            .is_some_and(|b| b.image.is_some() && !b.incompatible)
    }
}

/// Parse `bootc status` JSON; anything that is not a `BootcHost` of the
/// `org.containers.bootc/*` API is an error.
pub(crate) fn parse_host(json: &str) -> Result<Host> {
    let host: Host = serde_json::from_str(json)?;
    if host.kind != "BootcHost" || !host.api_version.starts_with("org.containers.bootc/") {
        bail!(
            "bootc printed a '{}' of API '{}', not a BootcHost of org.containers.bootc",
            host.kind,
            host.api_version
        );
    }
    Ok(host)
}

fn unsupported(what: &str, instead: &str) -> anyhow::Error {
    anyhow::anyhow!("{what} is not supported by the bootc backend; {instead}")
}

/// bootc's stable way to ask (`bootc status --format=json --format-version=1`).
pub(crate) fn status_argv() -> Vec<String> {
    ["bootc", "status", "--format=json", "--format-version=1"]
        .map(String::from)
        .to_vec()
}

/// The bootc command line for a request (the arguments after `--` are appended by the caller).
/// bootc reboots by itself with `--apply`, and only after the change succeeded.
pub(crate) fn argv(request: &Request) -> Result<Vec<String>> {
    let mut argv: Vec<String> = Vec::new();
    let mut push = |s: &str| argv.push(s.to_string());
    match request {
        Request::Status { json, booted } => {
            if *json {
                status_argv().iter().for_each(|a| push(a));
            } else {
                ["bootc", "status", "--format=humanreadable"]
                    .iter()
                    .for_each(|a| push(a));
            }
            if *booted {
                push("--booted");
            }
        }
        Request::Upgrade {
            os,
            check,
            allow_downgrade: _,
            reboot,
        } => {
            // bootc applies whatever image the tag names, older or not: --allow-downgrade asks
            // for what it does anyway.
            if os.is_some() {
                return Err(unsupported(
                    "--os",
                    "bootc manages only the booted stateroot",
                ));
            }
            push("bootc");
            push("upgrade");
            if *check {
                push("--check");
            }
            if *reboot {
                push("--apply");
            }
        }
        Request::Rollback { reboot } => {
            push("bootc");
            push("rollback");
            if *reboot {
                push("--apply");
            }
        }
        Request::Rebase {
            refspec,
            os,
            reboot,
        } => {
            if os.is_some() {
                return Err(unsupported(
                    "--os",
                    "bootc manages only the booted stateroot",
                ));
            }
            push("bootc");
            push("switch");
            if *reboot {
                push("--apply");
            }
            push(refspec);
        }
        Request::Deploy { .. } => {
            return Err(unsupported(
                "'atomic host deploy'",
                "name the image by tag or digest with 'atomic host rebase IMAGE' (bootc switch)",
            ));
        }
        Request::Unlock { .. } | Request::Install { .. } | Request::Uninstall { .. } => {
            return Err(needs_rpm_ostree(request, "bootc"));
        }
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOTED: &str = include_str!("../fixtures/bootc-status-booted.json");
    const NOT_BOOTED: &str = include_str!("../fixtures/bootc-status-not-booted.json");
    const INCOMPATIBLE: &str = include_str!("../fixtures/bootc-status-incompatible.json");

    #[test]
    fn recorded_statuses_are_read_as_bootc_documents_them() {
        for (fixture, manageable) in [(BOOTED, true), (NOT_BOOTED, false), (INCOMPATIBLE, false)] {
            let host = parse_host(fixture).unwrap();
            assert_eq!(host.manageable(), manageable, "{fixture}");
        }
    }

    #[test]
    fn other_documents_are_refused() {
        let err = parse_host(r#"{"apiVersion":"v1","kind":"Pod"}"#).unwrap_err();
        assert!(err.to_string().contains("not a BootcHost"), "{err}");
        assert!(parse_host("apiVersion: org.containers.bootc/v1\n").is_err());
        assert!(parse_host("").is_err());
    }

    fn argv_of(request: Request) -> Result<String> {
        argv(&request).map(|a| a.join(" "))
    }

    #[test]
    fn argv_per_verb() {
        let table = [
            (
                Request::Status {
                    json: true,
                    booted: false,
                },
                "bootc status --format=json --format-version=1",
            ),
            (
                Request::Status {
                    json: false,
                    booted: true,
                },
                "bootc status --format=humanreadable --booted",
            ),
            (
                Request::Upgrade {
                    os: None,
                    check: true,
                    allow_downgrade: true,
                    reboot: false,
                },
                "bootc upgrade --check",
            ),
            (
                Request::Upgrade {
                    os: None,
                    check: false,
                    allow_downgrade: false,
                    reboot: true,
                },
                "bootc upgrade --apply",
            ),
            (Request::Rollback { reboot: true }, "bootc rollback --apply"),
            (
                Request::Rebase {
                    refspec: "quay.io/example/os:42".into(),
                    os: None,
                    reboot: false,
                },
                "bootc switch quay.io/example/os:42",
            ),
        ];
        for (request, expected) in table {
            assert_eq!(argv_of(request).unwrap(), expected);
        }
    }

    #[test]
    fn what_bootc_cannot_do_is_an_error_naming_bootc() {
        let table = [
            (
                Request::Deploy {
                    revision: "42.1".into(),
                    os: None,
                    preview: false,
                    reboot: false,
                },
                "'atomic host deploy' is not supported by the bootc backend",
            ),
            (
                Request::Upgrade {
                    os: Some("fedora".into()),
                    check: false,
                    allow_downgrade: false,
                    reboot: false,
                },
                "--os is not supported by the bootc backend",
            ),
            (
                Request::Unlock { hotfix: true },
                "'atomic host unlock' needs rpm-ostree; this host is managed by bootc",
            ),
            (
                Request::Install {
                    packages: vec!["vim".into()],
                    reboot: false,
                },
                "'atomic host install' needs rpm-ostree; this host is managed by bootc",
            ),
        ];
        for (request, expected) in table {
            let err = argv_of(request).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}

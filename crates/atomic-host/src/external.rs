//! Running a verb through bootc or rpm-ostree: the argv their modules build, the arguments after
//! `--` appended untouched, run through a [`Runner`]. They talk to the user themselves; only
//! `status --json` is captured, to be checked (and for rpm-ostree `-b`, narrowed).

use std::io::Write;

use anyhow::{Result, bail};

use crate::backend::{Backend, Runner};
use crate::request::{Request, needs_rpm_ostree};
use crate::{bootc, rpmostree};

/// Run `request` through `backend` (bootc or rpm-ostree) with `extra` appended; returns the
/// exit code to leave with, the tool's own (77 from `upgrade --check` included). The verbs only
/// rpm-ostree has are refused here for the ostree backend too.
pub fn run(
    runner: &dyn Runner,
    backend: Backend,
    request: &Request,
    extra: &[String],
    out: &mut dyn Write,
) -> Result<i32> {
    let mut argv = match backend {
        Backend::Bootc => bootc::argv(request)?,
        Backend::RpmOstree => rpmostree::argv(request)?,
        Backend::Ostree => match request {
            Request::Unlock { .. } | Request::Install { .. } | Request::Uninstall { .. } => {
                return Err(needs_rpm_ostree(request, "ostree (libostree directly)"));
            }
            _ => bail!("the ostree backend runs in-process, not through a program"),
        },
    };
    argv.extend(extra.iter().cloned());
    let Request::Status { json: true, booted } = request else {
        return runner.interactive(&argv);
    };
    let captured = runner.capture(&argv)?;
    if captured.code != 0 {
        bail!(
            "'{}' failed (exit {}): {}",
            argv.join(" "),
            captured.code,
            stderr_tail(&captured.stderr)
        );
    }
    let doc = match backend {
        Backend::Bootc => {
            // bootc's document is the answer, as it printed it: a BootcHost, checked to be one.
            bootc::parse_host(&captured.stdout)?;
            captured.stdout.trim_end().to_string()
        }
        _ => rpmostree::status_json(&captured.stdout, *booted)?,
    };
    writeln!(out, "{doc}")?;
    Ok(0)
}

/// The last lines of a failed command's stderr: enough to say why, short enough to read.
fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join("\n");
    if tail.is_empty() {
        "no error message".to_string()
    } else {
        tail
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;
    use std::path::Path;

    use super::*;
    use crate::backend::{Captured, choose};

    /// A host with recorded tool outputs: the programs on its PATH, what `capture` returns for
    /// each program, and every argv it was asked to run.
    #[derive(Default)]
    pub(crate) struct Recorded {
        pub on_path: Vec<&'static str>,
        pub outputs: Vec<(&'static str, Captured)>,
        pub exit: i32,
        pub ran: RefCell<Vec<String>>,
    }

    impl Runner for Recorded {
        fn find(&self, program: &str) -> bool {
            self.on_path.contains(&program)
        }
        fn capture(&self, argv: &[String]) -> Result<Captured> {
            self.ran.borrow_mut().push(argv.join(" "));
            Ok(self
                .outputs
                .iter()
                .find(|(program, _)| *program == argv[0])
                .map(|(_, c)| c.clone())
                .unwrap_or_else(|| panic!("no recorded output for {argv:?}")))
        }
        fn interactive(&self, argv: &[String]) -> Result<i32> {
            self.ran.borrow_mut().push(argv.join(" "));
            Ok(self.exit)
        }
    }

    pub(crate) fn ok(stdout: &str) -> Captured {
        Captured {
            code: 0,
            stdout: stdout.to_string(),
            stderr: String::new(),
        }
    }

    const BOOTC_BOOTED: &str = include_str!("../fixtures/bootc-status-booted.json");
    const BOOTC_NOT_BOOTED: &str = include_str!("../fixtures/bootc-status-not-booted.json");
    const BOOTC_INCOMPATIBLE: &str = include_str!("../fixtures/bootc-status-incompatible.json");
    const RPM_OSTREE: &str = include_str!("../fixtures/rpm-ostree-status.json");

    fn root() -> &'static Path {
        Path::new("/")
    }

    #[test]
    fn backends_are_chosen_in_order() {
        let bootc_host = |json: &'static str| Recorded {
            on_path: vec!["bootc", "rpm-ostree"],
            outputs: vec![("bootc", ok(json))],
            ..Recorded::default()
        };
        let host = bootc_host(BOOTC_BOOTED);
        assert_eq!(choose(&host, None, root()).unwrap(), Backend::Bootc);
        assert_eq!(
            host.ran.borrow().as_slice(),
            ["bootc status --format=json --format-version=1"]
        );
        // bootc installed but not booted from an image, or with layered packages: rpm-ostree.
        for json in [BOOTC_NOT_BOOTED, BOOTC_INCOMPATIBLE] {
            assert_eq!(
                choose(&bootc_host(json), None, root()).unwrap(),
                Backend::RpmOstree
            );
        }
        // bootc failing (not root, say) is not a bootc host either.
        let failing = Recorded {
            on_path: vec!["bootc"],
            outputs: vec![(
                "bootc",
                Captured {
                    code: 1,
                    stdout: String::new(),
                    stderr: "error: This command requires root privileges".into(),
                },
            )],
            ..Recorded::default()
        };
        assert_eq!(choose(&failing, None, root()).unwrap(), Backend::Ostree);
        let rpm_ostree_only = Recorded {
            on_path: vec!["rpm-ostree"],
            ..Recorded::default()
        };
        assert_eq!(
            choose(&rpm_ostree_only, None, root()).unwrap(),
            Backend::RpmOstree
        );
        assert!(rpm_ostree_only.ran.borrow().is_empty());
        assert_eq!(
            choose(&Recorded::default(), None, root()).unwrap(),
            Backend::Ostree
        );
    }

    #[test]
    fn backend_flag_wins_and_is_checked() {
        let host = Recorded {
            on_path: vec!["bootc", "rpm-ostree"],
            outputs: vec![("bootc", ok(BOOTC_BOOTED))],
            ..Recorded::default()
        };
        for backend in [Backend::RpmOstree, Backend::Ostree, Backend::Bootc] {
            assert_eq!(choose(&host, Some(backend), root()).unwrap(), backend);
        }
        assert!(
            host.ran.borrow().is_empty(),
            "an explicit choice asks nobody"
        );
        let err = choose(&Recorded::default(), Some(Backend::RpmOstree), root()).unwrap_err();
        assert!(
            err.to_string()
                .contains("--backend rpm-ostree was asked for, but rpm-ostree is not installed"),
            "{err}"
        );
    }

    #[test]
    fn another_sysroot_means_libostree() {
        let host = Recorded {
            on_path: vec!["bootc", "rpm-ostree"],
            outputs: vec![("bootc", ok(BOOTC_BOOTED))],
            ..Recorded::default()
        };
        let elsewhere = Path::new("/mnt/sysroot");
        assert_eq!(choose(&host, None, elsewhere).unwrap(), Backend::Ostree);
        let err = choose(&host, Some(Backend::Bootc), elsewhere).unwrap_err();
        assert!(
            err.to_string()
                .contains("the bootc backend manages only the running system"),
            "{err}"
        );
    }

    #[test]
    fn bootc_status_json_is_passed_through() {
        let host = Recorded {
            outputs: vec![("bootc", ok(BOOTC_BOOTED))],
            ..Recorded::default()
        };
        let mut out = Vec::new();
        let request = Request::Status {
            json: true,
            booted: false,
        };
        let code = run(&host, Backend::Bootc, &request, &[], &mut out).unwrap();
        assert_eq!(code, 0);
        assert_eq!(String::from_utf8(out).unwrap(), BOOTC_BOOTED);
    }

    #[test]
    fn rpm_ostree_status_json_booted_only() {
        let host = Recorded {
            outputs: vec![("rpm-ostree", ok(RPM_OSTREE))],
            ..Recorded::default()
        };
        let mut out = Vec::new();
        let request = Request::Status {
            json: true,
            booted: true,
        };
        run(&host, Backend::RpmOstree, &request, &[], &mut out).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["deployments"].as_array().unwrap().len(), 1);
        assert_eq!(
            host.ran.borrow().as_slice(),
            ["rpm-ostree status --booted --json"]
        );
    }

    #[test]
    fn arguments_after_double_dash_pass_through_untouched() {
        let host = Recorded {
            exit: 77,
            ..Recorded::default()
        };
        let extra = ["--bypass-driver", "--foo=a b", "--"].map(String::from);
        let request = Request::Upgrade {
            os: Some("fedora".into()),
            check: true,
            allow_downgrade: false,
            reboot: false,
        };
        let code = run(&host, Backend::RpmOstree, &request, &extra, &mut Vec::new()).unwrap();
        assert_eq!(code, 77, "rpm-ostree's exit code is ours");
        let ran = host.ran.borrow();
        assert_eq!(
            ran.as_slice(),
            ["rpm-ostree upgrade --check --os=fedora --bypass-driver --foo=a b --"]
        );
    }

    #[test]
    fn a_failed_status_says_what_failed() {
        let host = Recorded {
            outputs: vec![(
                "rpm-ostree",
                Captured {
                    code: 1,
                    stdout: String::new(),
                    stderr: "error: Couldn't start daemon: Error setting up sysroot\n".into(),
                },
            )],
            ..Recorded::default()
        };
        let request = Request::Status {
            json: true,
            booted: false,
        };
        let err = run(&host, Backend::RpmOstree, &request, &[], &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'rpm-ostree status --json' failed (exit 1): error: Couldn't start daemon: Error \
             setting up sysroot"
        );
    }

    #[test]
    fn rpm_ostree_only_verbs_elsewhere_name_the_backend() {
        let host = Recorded::default();
        let request = Request::Uninstall {
            packages: vec!["htop".into()],
            reboot: false,
        };
        let err = run(&host, Backend::Ostree, &request, &[], &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'atomic host uninstall' needs rpm-ostree; this host is managed by ostree (libostree \
             directly)"
        );
        let unlock = Request::Unlock { hotfix: false };
        let err = run(&host, Backend::Ostree, &unlock, &[], &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("'ostree admin unlock'"), "{err}");
        assert!(host.ran.borrow().is_empty());
    }

    #[test]
    fn reboot_asks_systemd() {
        let host = Recorded::default();
        crate::backend::reboot(&host).unwrap();
        assert_eq!(host.ran.borrow().as_slice(), ["systemctl reboot"]);
        let failing = Recorded {
            exit: 1,
            ..Recorded::default()
        };
        assert!(crate::backend::reboot(&failing).is_err());
    }
}

//! A verb of `atomic host` as every backend understands it, and the refusal of the verbs only
//! rpm-ostree has. Its own module so the backends' argv builders (`bootc.rs`, `rpmostree.rs`)
//! and the dispatcher (`external.rs`) depend on it without depending on each other.

use anyhow::anyhow;

/// A verb of `atomic host` and its options, as every backend understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status {
        json: bool,
        booted: bool,
    },
    Upgrade {
        os: Option<String>,
        check: bool,
        allow_downgrade: bool,
        reboot: bool,
    },
    Rollback {
        reboot: bool,
    },
    Deploy {
        revision: String,
        os: Option<String>,
        preview: bool,
        reboot: bool,
    },
    Rebase {
        refspec: String,
        os: Option<String>,
        reboot: bool,
    },
    Unlock {
        hotfix: bool,
    },
    Install {
        packages: Vec<String>,
        reboot: bool,
    },
    Uninstall {
        packages: Vec<String>,
        reboot: bool,
    },
}

impl Request {
    /// The verb as `atomic host` spells it.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Status { .. } => "status",
            Request::Upgrade { .. } => "upgrade",
            Request::Rollback { .. } => "rollback",
            Request::Deploy { .. } => "deploy",
            Request::Rebase { .. } => "rebase",
            Request::Unlock { .. } => "unlock",
            Request::Install { .. } => "install",
            Request::Uninstall { .. } => "uninstall",
        }
    }
}

/// The error for a verb only rpm-ostree has, on a host managed by `backend`.
pub(crate) fn needs_rpm_ostree(request: &Request, backend: &str) -> anyhow::Error {
    let hint = match request {
        Request::Unlock { .. } if backend == "bootc" => "; bootc's own is 'bootc usr-overlay'",
        Request::Unlock { .. } => "; libostree's own is 'ostree admin unlock'",
        _ => "",
    };
    anyhow!(
        "'atomic host {}' needs rpm-ostree; this host is managed by {backend}{hint}",
        request.verb()
    )
}

//! The workload read from a source (a `docker run` line, a container's record, a system
//! container's `config.json`), before it becomes objects of a kind: one container, the pod
//! settings around it, and the hints that choose the kind.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext};

/// One container's workload, typed as Kubernetes types from the start.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// The container's name as its source gives it (`--name`, NAME, the system container's
    /// name); [`crate::names`] makes it valid when the objects are built.
    pub name: String,
    /// `name`, `image`, command, env, ports, mounts, security context…
    pub container: Container,
    /// Everything of the pod but its containers: host namespaces, volumes, DNS, hostname…
    pub pod: PodSpec,
    /// `-l`/`--label` and `--annotation`.
    pub annotations: BTreeMap<String, String>,
    pub hints: Hints,
}

impl Draft {
    /// The container's security context, created on first use.
    pub fn security(&mut self) -> &mut SecurityContext {
        self.container
            .security_context
            .get_or_insert_with(Default::default)
    }

    /// Whether the host's `/` is mounted (a sign of a per-node agent).
    pub fn mounts_host_root(&self) -> bool {
        self.pod.volumes.iter().flatten().any(|v| {
            v.host_path
                .as_ref()
                .is_some_and(|h| h.path.trim_end_matches('/').is_empty())
        })
    }
}

/// What chooses the kind (`--kind auto`) and the restart policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// `-d`: a service that keeps running.
    pub detach: bool,
    /// `--rm`: run once and be gone.
    pub remove: bool,
    /// `-i`/`-t`: someone types at it.
    pub interactive: bool,
    /// `--restart` as written, when it was.
    pub restart: Option<Restart>,
    /// From `--spc` or a system container: a per-node agent by construction.
    pub node_agent: bool,
}

/// docker's `--restart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    UnlessStopped,
    OnFailure(Option<i32>),
}

/// An option of the source with no Kubernetes equivalent (or only a partial one): shown on
/// stderr, an error under `--strict`, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The option as written (`--ulimit nofile=10`), or the source's field.
    pub option: String,
    pub reason: String,
}

impl Warning {
    pub fn new(option: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            option: option.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.option, self.reason)
    }
}

/// What a host path is, for a hostPath volume's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Directory,
    File,
    Socket,
    CharDevice,
    BlockDevice,
}

impl PathKind {
    /// The hostPath `type` that requires this kind on the node.
    pub fn host_path_type(self) -> &'static str {
        match self {
            Self::Directory => "Directory",
            Self::File => "File",
            Self::Socket => "Socket",
            Self::CharDevice => "CharDevice",
            Self::BlockDevice => "BlockDevice",
        }
    }
}

/// What the mapping asks of the machine it runs on: the kind of a bind's source, an
/// `--env-file`'s text, the value of a bare `-e KEY`. Tests give a fixed one.
pub trait Host {
    fn path_kind(&self, path: &str) -> Option<PathKind>;
    fn read_file(&self, path: &str) -> std::io::Result<String>;
    fn env(&self, key: &str) -> Option<String>;
}

/// This machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalHost;

impl Host for LocalHost {
    fn path_kind(&self, path: &str) -> Option<PathKind> {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::metadata(path).ok()?.file_type();
        Some(if kind.is_dir() {
            PathKind::Directory
        } else if kind.is_socket() {
            PathKind::Socket
        } else if kind.is_char_device() {
            PathKind::CharDevice
        } else if kind.is_block_device() {
            PathKind::BlockDevice
        } else {
            PathKind::File
        })
    }

    fn read_file(&self, path: &str) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

/// Kubernetes expands `$(VAR)` in a container's command, args and env values; docker does
/// not, so a literal `$(` is written `$$(` to reach the container unchanged.
pub fn escape_expansion(s: &str) -> String {
    s.replace("$(", "$$(")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_is_escaped() {
        assert_eq!(
            escape_expansion("echo $(date) $HOME"),
            "echo $$(date) $HOME"
        );
        assert_eq!(escape_expansion("plain"), "plain");
    }
}

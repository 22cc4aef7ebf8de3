//! Labels, containers and system containers as Kubernetes objects.
//!
//! An image's RUN label already says how it must run; this crate says the same thing to
//! Kubernetes, so the image runs on a fleet through the engine fleets already use. Sources:
//!
//! - [`flags`]: a `docker run` argv (a RUN label, or `--spc`'s defaults) flag by flag, with
//!   `mounts` and `ports`;
//! - [`inspect`]: a container's recorded configuration (docker's or podman's inspect JSON);
//! - [`oci`]: a system container's deployed OCI `config.json`.
//!
//! Each gives a [`Draft`] (one container typed with `k8s-openapi`, the pod around it, hints);
//! [`objects`] makes a Pod, Deployment, DaemonSet or Job of it (and a Service), [`names`]
//! makes names DNS-1123-valid, [`privilege`] says what the objects grant on a node and
//! [`stream`] writes them as YAML or JSON. Every option without a Kubernetes equivalent is a
//! [`Warning`]; nothing is dropped silently.

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

pub mod draft;
pub mod flags;
pub mod inspect;
mod mounts;
pub mod names;
pub mod objects;
pub mod oci;
mod ports;
pub mod privilege;
pub mod stream;

pub use draft::{Draft, Host, LocalHost, PathKind, Warning};
pub use objects::{Built, Kind, Object, Options, build};

/// What can make a source unmappable.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error(
        "'{0}' is not a docker or podman run command; only those can become Kubernetes objects"
    )]
    NotRun(String),
    #[error("the run command names no image")]
    NoImage,
    #[error("{flag}: {reason}")]
    Invalid { flag: String, reason: String },
    #[error("{what} is not valid: {reason}")]
    Record { what: String, reason: String },
}

impl KubeError {
    pub(crate) fn invalid(opt: &atomic_label::RunOpt, reason: impl Into<String>) -> Self {
        Self::Invalid {
            flag: opt.written.clone(),
            reason: reason.into(),
        }
    }
}

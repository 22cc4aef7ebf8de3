//! The built-in engine's containers, from a `docker run` command line to a supervised process.
//!
//! - [`dockercli`]: a docker/podman command line as typed data; unsupported flags are errors;
//!   [`dockercli::execute`] carries one out, through an engine seam;
//! - [`spec`]: the OCI `config.json` for a [`dockercli::RunRequest`] and an image config;
//! - [`caps`], [`user`], [`seccomp`]: the pieces of the spec that follow docker's rules;
//! - [`network`]: bridge networks, published ports and container DNS through netavark;
//! - [`host`]: what the spec depends on about the host (bounding set, rlimits, devices,
//!   seccomp profile, init binary), as a trait so the logic is tested without root;
//! - [`state`]: the record of each container; [`rootfs`]: its overlay over the store's layers;
//! - [`runc`]: the OCI runtime's command line; [`container`]: run, stop, remove, exec;
//!   [`supervise`]: the supervisor of a detached container; [`signals`]: waiting like a shell;
//! - [`logs`]: log drivers (json-file, journald, none) and `docker logs`.

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

pub mod caps;
pub mod container;
pub mod dockercli;
pub mod host;
pub mod logs;
pub mod network;
pub mod rootfs;
pub mod runc;
pub mod seccomp;
pub mod signals;
pub mod spec;
pub mod state;
pub mod supervise;
pub mod user;

pub use container::Runner;
pub use runc::{ExecOptions, Runtime};
pub use state::{Containers, Lifecycle, Record, Restart, Status};

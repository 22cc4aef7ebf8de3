//! The built-in engine's runtime side: from a `docker run` command line to an OCI runtime
//! configuration that runc accepts on this host.
//!
//! - [`dockercli`]: a docker/podman command line as typed data; unsupported flags are errors;
//! - [`spec`]: the OCI `config.json` for a [`dockercli::RunRequest`] and an image config;
//! - [`caps`], [`user`], [`seccomp`]: the pieces of the spec that follow docker's rules;
//! - [`host`]: what the spec depends on about the host (bounding set, rlimits, devices,
//!   seccomp profile, init binary), as a trait so the logic is tested without root.

pub mod caps;
pub mod dockercli;
pub mod host;
pub mod seccomp;
pub mod spec;
pub mod user;

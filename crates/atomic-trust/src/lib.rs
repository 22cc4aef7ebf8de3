//! Image trust for atomic: the host's containers-policy.json(5), registries.d, and the two
//! signature formats the containers tools use — simple signing (OpenPGP, verified with rpgp)
//! and sigstore attachments (cosign's ECDSA P-256 format).
//!
//! - `policy.rs`: the policy model and its strict parser; scope lookup.
//! - `reference.rs`: Docker references normalised as containers/image does; policy identities
//!   and namespaces.
//! - `eval.rs`: deciding for one image (requirements, signedIdentity rules).
//! - `simple.rs`, `cosign.rs`: the signature formats.
//! - `registries_d.rs`: where signatures are read from and written to.
//! - `edit.rs`: `atomic trust add|delete|default|show` on the policy and registries.d texts.
//!
//! Everything here is pure logic over bytes; the pull path (atomic-store) does the I/O.

pub mod cosign;
pub mod edit;
pub mod eval;
pub mod gpg;
pub mod policy;
pub mod reference;
pub mod registries_d;
pub mod simple;

use std::path::{Path, PathBuf};

pub use eval::{Accepted, HostFiles, Image, KeyFiles, Needs, Refusal, Signatures};
pub use policy::{Policy, Requirement, Scope};
pub use reference::DockerRef;
pub use registries_d::RegistriesD;

/// The system policy file.
pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";

/// The policy file to use: `explicit` (`--signature-policy`), else
/// `$HOME/.config/containers/policy.json` if it exists, else `/etc/containers/policy.json` if
/// it exists. None when there is no policy file at all.
pub fn policy_path(explicit: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let user = home.map(|h| h.join(".config/containers/policy.json"));
    user.into_iter()
        .chain(std::iter::once(PathBuf::from(SYSTEM_POLICY)))
        .find(|p| p.exists())
}

/// `$HOME`, if set.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

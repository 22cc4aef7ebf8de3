//! System containers: an image checked out into a deployment on the host and
//! run by systemd through an OCI runtime, with two deployment slots for update and rollback.
//!
//! ```text
//! C/                        the image store's root (/var/lib/containers/atomic)
//! ├── NAME -> C/NAME.0      the active deployment
//! ├── NAME.0/               rootfs/ (hard links into the store), config.json, info,
//! │                         NAME.service and tmpfiles-NAME.conf (copies, for rollback)
//! ├── NAME.1/               the other slot, after an update
//! └── system/               NAME.lock, NAME.pending (an operation in progress)
//! /etc/systemd/system/NAME.service, /etc/tmpfiles.d/NAME.conf, files from /exports/hostfs
//! ```
//!
//! - `template`, `escape`: the two text formats, pure and tested on their own.
//! - `values`, `render`, `userns`: what goes into the files; `exports`: the image's side.
//! - `checkout`, `deploy`: building a deployment in a slot.
//! - `ops` (install, uninstall, undo), `update` (update, rollback), `run`, `list`: the verbs,
//!   through the [`systemd::Systemd`] seam.
//! - `pending`: crash safety; `variables`: what an image's templates ask for (`atomic info`).

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

pub mod checkout;
pub mod deploy;
pub mod escape;
pub mod exports;
mod fsutil;
pub mod hostfs;
pub mod info;
mod interrupt;
pub mod layout;
pub mod list;
pub mod ops;
mod pending;
pub mod render;
pub mod run;
pub mod systemd;
pub mod template;
pub mod update;
mod userns;
pub mod values;
pub mod variables;

pub use deploy::Image;
pub use layout::Layout;
pub use ops::Context;

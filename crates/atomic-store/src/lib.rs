//! atomic's built-in image store.
//!
//! An OCI image layout on disk (skopeo and umoci read it) plus each layer unpacked once, by
//! atomic's own confined unpacker, for use as an overlayfs lower directory. See `store.rs` for
//! the layout and its crash-safety rules, `lock.rs` for concurrency, `pull/` for how content
//! arrives and `unpack/` for how untrusted layers are written to disk.

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

pub mod access;
pub mod digest;
pub mod docker_client;
pub mod gc;
pub mod image;
pub mod input;
pub mod lock;
pub mod mount;
pub mod overlay;
mod pins;
pub mod pull;
pub mod push;
pub mod reference;
pub mod sign;
pub mod store;
pub mod unpack;
pub mod verify;

pub use digest::Digest;
pub use image::StoredImage;
pub use pull::{PullOptions, Pulled, Source};
pub use push::{PushOptions, Pushed};
pub use reference::ImageName;
pub use store::Store;

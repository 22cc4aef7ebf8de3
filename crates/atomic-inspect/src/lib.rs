//! Looking into the root filesystems of images and containers without running them.
//!
//! - [`tree`]: a manifest of every file of a root (type, mode, owner, size, content hash, link
//!   target), read straight from overlay layer directories (top first, overlayfs's whiteout and
//!   opaque-directory rules applied by hand) — no mount needed.
//! - [`compare`]: two manifests compared by the chosen keywords (pure).
//! - [`packages`]: installed packages from a root's dpkg status file or from rpm's query output,
//!   and their differences (pure parsers).
//! - [`report`]: `atomic diff`'s text and JSON, in the original tool's shapes.
//! - [`scanner`]: the scanner plugin protocol of `atomic scan`: plugin definitions, result files,
//!   the summary that marks images vulnerable.
//! - [`metadata`]: two inspect documents with what they share removed (`diff -m`).

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

pub mod compare;
pub mod metadata;
pub mod packages;
pub mod report;
pub mod scanner;
pub mod tree;

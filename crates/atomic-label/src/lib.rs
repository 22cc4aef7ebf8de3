//! The label protocol of `atomic`, as pure logic with no I/O.
//!
//! An image author writes in labels (`RUN`, `INSTALL`, `UNINSTALL`, `STOP`, …) how the image
//! must be run. The original Python tool turned such a label into a command by splitting,
//! joining, substituting and splitting again, which mangled quoting, ate `${VAR:-default}` and
//! let a value with spaces add arguments. This crate does it once and as data:
//!
//! - [`lookup`]: find a label in a fixed case order (`RUN`, `run`, `Run`, …);
//! - [`words`]: POSIX shell-word splitting (no shell is ever run);
//! - [`command`]: parse a label into a [`Template`] and build the final argv, substituting
//!   `NAME`, `IMAGE`, `$VAR`, `${VAR:-default}` per word, never re-splitting a value;
//! - [`name`]: validate `NAME` and derive a default one from an image reference;
//! - [`mod@quote`]: shell-quote an argv for display, so it can be pasted back;
//! - [`runflags`]: read a `docker run`/`podman run` command line as data;
//! - [`privilege`]: say which host access such a command line grants, before it runs.

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

pub mod command;
pub mod error;
pub mod lookup;
pub mod name;
pub mod privilege;
pub mod quote;
pub mod runflags;
pub mod words;

pub use command::{Template, Vars, build, expand_one, parse};
pub use error::{LabelError, Position};
pub use lookup::{case_variants, find};
pub use name::{default_name, validate_name};
pub use privilege::{Grant, analyze};
pub use quote::{join, quote};
pub use runflags::{RunArgs, RunOpt, parse_run, subcommand};
pub use words::split;

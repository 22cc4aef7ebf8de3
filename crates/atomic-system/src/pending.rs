//! Crash safety for install, update, rollback and uninstall (issue: "a failure at any step …
//! leaves the host as it was"). Before an operation changes the host it writes a record,
//! `C/system/NAME.pending`, and adds to it each path *before* creating that path. A failed
//! operation undoes itself from the record at once; one killed mid-way (SIGKILL, power loss)
//! is undone by the next atomic that takes the name's lock (`recover` in `ops.rs`).
//!
//! Undo means: back to the state before the command. The exception is uninstall, whose intent
//! is to remove: an interrupted uninstall is finished, not reverted (a half-removed service
//! could not be restored faithfully anyway — its unit is gone).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;
use crate::interrupt::Guard;
use crate::layout::Layout;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Install,
    Update,
    Rollback,
    Uninstall,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Install => "install",
            Operation::Update => "update",
            Operation::Rollback => "rollback",
            Operation::Uninstall => "uninstall",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub operation: Operation,
    /// Paths this operation created, oldest first; undo removes them newest first.
    pub created: Vec<PathBuf>,
    /// The deployment `C/NAME` pointed to before (update and rollback), whose unit, tmpfiles
    /// and host files undo puts back.
    pub previous: Option<PathBuf>,
    /// Whether the service was active before, so undo can start it again.
    pub was_active: bool,
}

/// An operation in progress on one container.
pub struct Pending {
    path: PathBuf,
    pub record: Record,
    /// Signals are noted, not fatal, while the operation runs (see `interrupt.rs`).
    interrupts: Guard,
}

fn record_path(layout: &Layout, name: &str) -> PathBuf {
    layout.state_dir().join(format!("{name}.pending"))
}

impl Pending {
    pub fn begin(
        layout: &Layout,
        name: &str,
        operation: Operation,
        previous: Option<PathBuf>,
        was_active: bool,
    ) -> Result<Pending> {
        let pending = Pending {
            path: record_path(layout, name),
            record: Record {
                operation,
                created: Vec::new(),
                previous,
                was_active,
            },
            interrupts: Guard::new()?,
        };
        pending.save()?;
        Ok(pending)
    }

    fn save(&self) -> Result<()> {
        write_atomic(&self.path, &serde_json::to_vec_pretty(&self.record)?)
            .context("recording the operation in progress")
    }

    /// Record that `path` is about to be created; an error instead when a signal came to stop
    /// the operation.
    pub fn creating(&mut self, path: &Path) -> Result<()> {
        self.interrupted()?;
        self.record.created.push(path.to_path_buf());
        self.save()
    }

    /// An error when a signal came since the operation began.
    pub fn interrupted(&self) -> Result<()> {
        self.interrupts.check()
    }

    /// The operation is complete: nothing to undo any more.
    pub fn finish(self) -> Result<()> {
        std::fs::remove_file(&self.path)
            .with_context(|| format!("removing {}", self.path.display()))
    }

    /// The record an interrupted operation left, if any.
    pub fn find(layout: &Layout, name: &str) -> Result<Option<Pending>> {
        let path = record_path(layout, name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let record = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is corrupt: remove it, then check {} by hand",
                path.display(),
                name
            )
        })?;
        Ok(Some(Pending {
            path,
            record,
            interrupts: Guard::new()?,
        }))
    }
}

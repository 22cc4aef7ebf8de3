//! Advisory locks (flock, through std's `File::lock`) on files in the store root.
//!
//! Two locks, for two kinds of sharing:
//! - `gc.lock`: held *shared* by every writer that adds content (a pull, an import) for its whole
//!   run, and *exclusive* by garbage collection (`images prune`, `images delete`). So a prune
//!   never deletes a blob or layer that a running pull has written but not yet referenced, and
//!   pulls never wait for each other.
//! - `index.lock`: held exclusive around each read-modify-write of `index.json`.
//!
//! flock locks belong to the open file and vanish when the process dies, so a SIGKILLed atomic
//! never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::path::Path;

use anyhow::{Context, Result};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

impl Lock {
    /// Take the lock on `path`, creating the file if needed. When it is busy, say so once on
    /// stderr (`waiting` names what holds it) and wait.
    pub fn acquire(path: &Path, mode: Mode, waiting: &str) -> Result<Lock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        let taken = match mode {
            Mode::Shared => file.try_lock_shared(),
            Mode::Exclusive => file.try_lock(),
        };
        match taken {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                eprintln!("waiting for {waiting} to finish (lock {})", path.display());
                match mode {
                    Mode::Shared => file.lock_shared(),
                    Mode::Exclusive => file.lock(),
                }
                .with_context(|| format!("locking {}", path.display()))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        Ok(Lock { _file: file })
    }
}

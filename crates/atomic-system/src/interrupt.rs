//! Ctrl-C (SIGINT), SIGTERM and SIGHUP during an operation that changes the host: instead of
//! dying half-way, atomic notes the signal, stops at the next step, undoes what it did and then
//! reports it. (SIGKILL cannot be caught; the record in `pending.rs` covers it.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result, bail};
use signal_hook::SigId;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// While alive, the signals above only set a flag.
pub struct Guard {
    flag: Arc<AtomicBool>,
    ids: Vec<SigId>,
}

impl Guard {
    pub fn new() -> Result<Guard> {
        let flag = Arc::new(AtomicBool::new(false));
        let ids = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .map(|signal| signal_hook::flag::register(signal, Arc::clone(&flag)))
            .collect::<Result<Vec<_>, _>>()
            .context("installing the interrupt handler")?;
        Ok(Guard { flag, ids })
    }

    /// An error once a signal arrived.
    pub fn check(&self) -> Result<()> {
        if self.flag.load(Ordering::SeqCst) {
            bail!("interrupted by a signal");
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

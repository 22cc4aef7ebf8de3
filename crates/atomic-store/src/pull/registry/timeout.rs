//! How long a registry may stay silent.
//!
//! A connect timeout alone lets a registry that stops sending after its headers, or in the
//! middle of a body, hold `pull`, `info --remote` and `images verify --remote` forever (and a
//! pull's share of `gc.lock` blocks `images prune` meanwhile). So every read from a registry
//! has an idle timeout: no byte for this long and the request fails, saying so. The setting is
//! `registry_read_timeout` (seconds) in atomic.conf; the binary sets it once at start, for
//! every pull path of the process, rather than threading it through each caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The default idle timeout: long enough for a registry that is only slow, short enough that
/// a dead one is reported within a minute.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections that cannot be made within this time fail.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

static READ_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);

/// Set the idle timeout of registry reads for this process (`None`: the default).
pub fn set_read_timeout(timeout: Option<Duration>) {
    let ms = timeout.map_or(0, |t| {
        u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)
    });
    READ_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// The idle timeout of registry reads.
pub fn read_timeout() -> Duration {
    match READ_TIMEOUT_MS.load(Ordering::Relaxed) {
        0 => DEFAULT_READ_TIMEOUT,
        ms => Duration::from_millis(ms),
    }
}

/// Is a timeout anywhere in this error's chain (oci-client wraps its HTTP client's errors,
/// and stream errors in `io::Error`)?
pub fn is_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<reqwest::Error>()
            && r.is_timeout()
        {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// What a user reads when the registry went silent.
pub fn stalled(registry: &str, what: &str) -> String {
    format!(
        "{registry} stopped sending while {what}: no data for {} s; the registry or the \
         network is stalled (the limit is registry_read_timeout in atomic.conf)",
        read_timeout().as_secs_f64()
    )
}

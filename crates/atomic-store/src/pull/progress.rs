//! What a pull shows while it runs.
//!
//! - On a terminal: one indicatif bar per layer on stderr (bytes downloaded, then "unpacking",
//!   then "done"), and messages printed above the bars so they do not tear them.
//! - On a pipe (stderr is not a terminal): no progress at all, as DESIGN.md asks ("nothing on
//!   a pipe"): a log file or CI output gains nothing from per-layer lines. Messages that say
//!   what happened (which registry a short name resolved to, "is up to date", which the CLI prints) are still
//!   printed, since a script's log wants them.
//! - Quiet (`-q`): nothing, not even messages.
//!
//! stdout is never written: it belongs to the CLI (`atomic pull` prints the image ID there).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::digest::Digest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Messages,
    Quiet,
}

/// The progress display of one pull. Cheap to clone; clones draw into the same display.
#[derive(Debug, Clone)]
pub struct Progress {
    multi: MultiProgress,
    mode: Mode,
}

impl Progress {
    /// Bars when stderr is a terminal, messages only on a pipe, nothing when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Messages
        };
        Progress::with_mode(mode)
    }

    /// No output at all (for callers that show their own progress, and for tests).
    pub fn hidden() -> Progress {
        Progress::with_mode(Mode::Quiet)
    }

    fn with_mode(mode: Mode) -> Progress {
        let target = match mode {
            // indicatif redraws at most this often; more is wasted work on a fast pull.
            Mode::Bars => ProgressDrawTarget::stderr_with_hz(10),
            Mode::Messages | Mode::Quiet => ProgressDrawTarget::hidden(),
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
            mode,
        }
    }

    /// A line on stderr (above the bars on a terminal); nothing when quiet.
    pub fn message(&self, msg: &str) {
        match self.mode {
            Mode::Bars => {
                // A failed write to the terminal is not worth failing a pull for.
                let _ = self.multi.println(msg);
            }
            Mode::Messages => {
                let _ = writeln!(std::io::stderr().lock(), "{msg}");
            }
            Mode::Quiet => {}
        }
    }

    /// A bar for one layer blob of `total` bytes (compressed, as the manifest gives it).
    pub fn layer(&self, digest: &Digest, total: u64) -> LayerBar {
        let bar = match self.mode {
            Mode::Bars => {
                let bar = self.multi.add(ProgressBar::new(total));
                bar.set_style(bar_style());
                bar.set_prefix(short(digest));
                bar.set_message("downloading");
                // A bar whose layer waits for a download slot still shows it is alive.
                bar.enable_steady_tick(Duration::from_millis(200));
                Some(bar)
            }
            Mode::Messages | Mode::Quiet => None,
        };
        LayerBar { bar }
    }
}

/// The progress of one layer.
#[derive(Debug)]
pub struct LayerBar {
    bar: Option<ProgressBar>,
}

impl LayerBar {
    /// `n` more bytes of the blob arrived.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// The blob is being sent (a push), not fetched.
    pub fn uploading(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message("uploading");
        }
    }

    /// A handle that counts bytes into this bar from elsewhere (a request body's stream).
    pub fn counter(&self) -> impl Fn(u64) + Send + Sync + 'static {
        let bar = self.bar.clone();
        move |n| {
            if let Some(bar) = &bar {
                bar.inc(n);
            }
        }
    }

    /// The download is complete; the layer is still being unpacked.
    pub fn unpacking(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message("unpacking");
        }
    }

    /// The layer is stored.
    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            if let Some(len) = bar.length() {
                bar.set_position(len);
            }
            bar.finish_with_message("done");
        }
    }

    /// The layer was already in the store: nothing was fetched.
    pub fn exists(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message("already exists");
        }
    }
}

impl Drop for LayerBar {
    /// A layer that failed or was cancelled leaves its bar where it stopped.
    fn drop(&mut self) {
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.abandon();
        }
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "Copying blob {prefix} {bar:30} {binary_bytes:>10}/{binary_total_bytes:<10} {msg}",
    )
    .expect("a valid progress template")
}

/// `sha256:` and the first 12 hex digits, as podman shows blobs.
fn short(digest: &Digest) -> String {
    format!("sha256:{}", &digest.hex()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_and_hidden_draw_nothing() {
        for p in [Progress::new(true), Progress::hidden()] {
            assert_eq!(p.mode, Mode::Quiet);
            let bar = p.layer(&Digest::of(b"x"), 10);
            bar.inc(5);
            bar.unpacking();
            bar.done();
            assert!(bar.bar.is_none());
        }
    }

    #[test]
    fn short_digest_is_twelve_digits() {
        let d = Digest::of(b"");
        assert_eq!(short(&d), "sha256:e3b0c44298fc");
    }
}

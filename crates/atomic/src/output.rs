//! Writing to stdout the way a Unix tool should: `atomic … | head` ends quietly when the reader
//! goes away instead of panicking on a broken pipe.
//!
//! A failed write is an error like any other, returned to `main`, so destructors still run on
//! the way out (a temporary file such as Podman's authfile is removed); `main` alone turns
//! [`StdoutClosed`] into a quiet exit 0 and any other write error into a failure.

use std::io::Write;

use anyhow::{Context, Result};

/// The reader of stdout went away (`atomic images list | head`): not a failure of atomic.
#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout was closed by its reader")
    }
}

impl std::error::Error for StdoutClosed {}

/// Write one line to stdout.
pub fn line(text: &str) -> Result<()> {
    text_out(&format!("{text}\n"))
}

/// Write text as is to stdout.
pub fn text_out(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        result => result.context("writing to stdout"),
    }
}

/// Stdout as a writer, for code that prints through `std::io::Write` (the docker executor of
/// the native engine): a write to a closed pipe fails with [`StdoutClosed`] inside the I/O
/// error, which `main` recognizes as [`line()`]'s.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout().write(buf).map_err(closed)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush().map_err(closed)
    }
}

fn closed(e: std::io::Error) -> std::io::Error {
    match e.kind() {
        std::io::ErrorKind::BrokenPipe => std::io::Error::new(e.kind(), StdoutClosed),
        _ => e,
    }
}

/// Whether an error only says that stdout's reader went away.
pub fn is_stdout_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<StdoutClosed>()
            || cause
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_stdout_is_a_quiet_end() {
        let broken = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let from_stdout = anyhow::Error::from(closed(broken())).context("writing to stdout");
        assert!(is_stdout_closed(&from_stdout));
        assert!(is_stdout_closed(&anyhow::Error::from(StdoutClosed)));
        // A pipe to a child or a socket that broke is a failure like any other.
        let elsewhere = anyhow::Error::from(broken()).context("writing to podman's stdin");
        assert!(!is_stdout_closed(&elsewhere));
        let other = anyhow::Error::from(closed(std::io::Error::other("disk full")));
        assert!(!is_stdout_closed(&other));
    }
}

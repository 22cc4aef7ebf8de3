//! Waiting for a child that stands for the user's command, the way a shell would.

use std::process::ExitStatus;

use anyhow::Result;

/// Wait for `child`, passing SIGTERM and SIGHUP sent to atomic on to it. SIGINT and SIGQUIT
/// from the terminal already reach it (it is in atomic's process group), so atomic only
/// ignores them instead of dying and leaving the child behind.
pub async fn wait_forwarding(child: &mut tokio::process::Child) -> Result<ExitStatus> {
    use rustix::process::{Pid, Signal, kill_process};
    use tokio::signal::unix::{SignalKind, signal};

    let pid = child.id().and_then(|id| Pid::from_raw(id as i32));
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let forward = |sig: Signal| {
        if let Some(pid) = pid {
            let _ = kill_process(pid, sig);
        }
    };
    loop {
        tokio::select! {
            status = child.wait() => return Ok(status?),
            _ = term.recv() => forward(Signal::TERM),
            _ = hup.recv() => forward(Signal::HUP),
            _ = int.recv() => {}
            _ = quit.recv() => {}
        }
    }
}

/// A shell's exit code for a status: the code, or 128+N for a signal N (one rule for every
/// program atomic runs).
pub use atomic_exec::exit_code;

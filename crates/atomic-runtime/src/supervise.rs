//! The supervisor of a detached container (see `container.rs`): the body of the hidden
//! `atomic` verb that [`Runner::start_detached`] starts.
//!
//! Protocol with the starting atomic: on success the supervisor prints `started` on stdout and
//! closes stdout and stderr; on failure it prints the error on stderr and exits non-zero.
//!
//! The container's stdout and stderr are pipes to the supervisor, which copies each line into
//! the container's log driver (`logs::pump`) until the container's end of the pipes closes.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rustix::process::{Pid, WaitOptions, getpid, set_child_subreaper, setsid, waitpid};

use crate::container::{Runner, STOPPED_MARKER};
use crate::logs::pump::{self, Copier};
use crate::runc::Stdio3;
use crate::state::{Lifecycle, Record, now};

/// The runtime's own log (JSON lines), read back to explain a failed create.
const RUNTIME_LOG: &str = "runtime.log";

/// The hidden `atomic` verb whose body is [`supervise`]; the binary declares it with
/// [`verb_args`]' options (`--store-root`, `--runtime`) and the container's ID.
pub const VERB: &str = "supervise-container";

/// The arguments that start the supervisor of a container of the store at `store_root`, run by
/// `runtime`: the verb and its options; [`Runner::start_detached`] adds the container's ID.
pub fn verb_args(store_root: &Path, runtime: &str) -> Vec<String> {
    vec![
        VERB.to_string(),
        "--store-root".to_string(),
        store_root.to_string_lossy().into_owned(),
        "--runtime".to_string(),
        runtime.to_string(),
    ]
}

/// Supervise container `id` until its process ends for good.
pub fn supervise(runner: &Runner, id: &str) -> Result<()> {
    // A session of our own: no terminal, no signals meant for the atomic that started us.
    let _ = setsid();
    // The container's process is started by `runc create`, which exits: made the subreaper,
    // we inherit the process and can wait for it, and learn its exit code.
    set_child_subreaper(Some(getpid())).context("becoming the child subreaper")?;

    let mut record = runner.containers.load(id)?;
    let _ = std::fs::remove_file(runner.containers.dir(id).join(STOPPED_MARKER));
    let mut restarts = 0;
    let mut reported = false;
    loop {
        let (pid, copier) = match start_once(runner, &mut record) {
            Ok(started) => started,
            Err(e) if !reported => return Err(e),
            Err(e) => {
                tracing::warn!("restarting {}: {e:#}", record.name);
                (None, Copier::default())
            }
        };
        if !reported {
            report_started()?;
            reported = true;
        }
        let code = pid.map(wait_for);
        reap_orphans();
        // The last lines are in the log before the exit is recorded: whoever sees the
        // container exited can read all it wrote.
        copier.finish(LOG_DRAIN);
        // Under the container's lock, so a removal (which holds it) never sees us writing.
        // The container may have been removed meanwhile (`containers delete -f`): then
        // neither its lock nor its record opens.
        let Ok(lock) = runner.containers.lock(id) else {
            return Ok(());
        };
        let Ok(mut current) = runner.containers.load(id) else {
            return Ok(());
        };
        runner.runtime_for(&current).delete(id, true).ok();
        // Down between restarts too: each start sets it up again, with the same address and
        // host ports (both are in the record).
        if let Err(e) = runner.network_down(&current) {
            tracing::warn!("taking down the network of {}: {e:#}", current.name);
        }
        current.state = Lifecycle::Exited {
            code,
            finished: now(),
        };
        runner.containers.save(&current)?;
        drop(lock);
        record = current;
        let stopped = runner.containers.dir(id).join(STOPPED_MARKER).exists();
        if pid.is_some() && record.restart.again(code.unwrap_or(1), restarts, stopped) {
            restarts += 1;
            // Docker's back-off: 100 ms, doubling, at most a minute.
            let delay =
                Duration::from_millis(100u64 << restarts.min(10)).min(Duration::from_secs(60));
            std::thread::sleep(delay);
            continue;
        }
        break;
    }
    if record.auto_remove {
        runner.remove(&record, true)
    } else {
        let _lock = runner.containers.lock(id)?;
        runner.rootfs(&record).unmount()
    }
}

/// How long the supervisor waits for the copy of a finished container's output to end.
const LOG_DRAIN: Duration = Duration::from_secs(2);

/// Create and start the container once; returns the host PID of its process and the copier of
/// its output.
fn start_once(runner: &Runner, record: &mut Record) -> Result<(Option<Pid>, Copier)> {
    let dir = runner.containers.dir(&record.id);
    let _lock = runner.containers.lock(&record.id)?;
    let outputs = pump::open(&dir, record)
        .with_context(|| format!("setting up the logs of {}", record.name))?;
    runner.rootfs(record).mount()?;
    if let Err(e) = runner.network_up(record) {
        runner.rootfs(record).unmount().ok();
        return Err(e);
    }
    let pid_file = dir.join("pid");
    // The runtime gets the write ends and, once `create` returns, our copies of them are
    // closed: the pipes end when the container's processes are gone.
    let stdio = Stdio3 {
        stdin: Stdio::null(),
        stdout: outputs.stdout,
        stderr: outputs.stderr,
    };
    let runtime_log = dir.join(RUNTIME_LOG);
    let _ = std::fs::remove_file(&runtime_log);
    let runtime = runner.runtime_for(record);
    let created = runtime.create(&dir, &record.id, &pid_file, &runtime_log, stdio);
    if let Err(e) = created {
        runtime.delete(&record.id, true).ok();
        runner.network_down(record).ok();
        runner.rootfs(record).unmount().ok();
        return Err(match last_runtime_error(&runtime_log) {
            Some(why) => anyhow!("{why}"),
            None => e,
        });
    }
    let pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .and_then(Pid::from_raw);
    if let Err(e) = runtime.start(&record.id) {
        runtime.delete(&record.id, true).ok();
        runner.network_down(record).ok();
        runner.rootfs(record).unmount().ok();
        return Err(e);
    }
    record.state = Lifecycle::Running {
        started: now(),
        detached: true,
    };
    runner.containers.save(record)?;
    Ok((pid, outputs.copier))
}

/// Tell the starting atomic it worked, then let go of its pipes (it reads until they close).
fn report_started() -> Result<()> {
    let mut out = std::io::stdout();
    out.write_all(b"started\n")?;
    out.flush()?;
    let null = File::options().read(true).write(true).open("/dev/null")?;
    rustix::stdio::dup2_stdout(&null)?;
    rustix::stdio::dup2_stderr(&null)?;
    Ok(())
}

/// The exit code of `pid`, a shell's way: 128+N for a signal N.
fn wait_for(pid: Pid) -> i32 {
    loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return code;
                }
                if let Some(signal) = status.terminating_signal() {
                    return 128 + signal;
                }
            }
            Err(rustix::io::Errno::INTR) => continue,
            // Not our child after all (the runtime kept it): nothing to learn.
            _ => return 1,
        }
    }
}

/// Processes the container left behind were reparented to us: reap them.
fn reap_orphans() {
    while let Ok(Some(_)) = waitpid(None, WaitOptions::NOHANG) {}
}

/// The last error the runtime logged (runc writes JSON lines with `level` and `msg`).
fn last_runtime_error(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().rev().find_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        (value["level"] == "error").then(|| value["msg"].as_str().map(str::to_owned))?
    })
}

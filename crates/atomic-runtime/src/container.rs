//! Running, stopping and removing containers of the built-in engine.
//!
//! A container is a directory (see `state.rs`) holding its record and its OCI bundle. Two ways
//! to run one:
//! - **foreground**: `runc run` is atomic's child; it keeps the terminal and passes signals on,
//!   and its exit code is the container's. atomic records the result and cleans up.
//! - **detached**: a supervisor — atomic itself, re-executed, in a session of its own — creates
//!   and starts the container, becomes the parent of its process (child subreaper), records its
//!   exit code, applies the restart policy and removes an `--rm` container. It is what conmon is
//!   to Podman, without a daemon.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use atomic_exec::{Sink, Task};
use atomic_store::Store;

use crate::rootfs::Rootfs;
use crate::runc::{ExecOptions, OciRuntime, Runtime};
use crate::signals::{exit_code, wait_forwarding};
use crate::state::{Containers, Lifecycle, Record, Status, now};

/// Marker a user's stop leaves in the container directory: the restart policy must not start
/// the process again.
pub(crate) const STOPPED_MARKER: &str = "stopped-by-user";
/// Stdout and stderr of a detached container, as atomic wrote them before log drivers (one
/// plain file): still read by `docker logs` for such a container.
pub const LOG: &str = "container.log";
/// How long `stop` waits for the stop signal before SIGKILL (docker's default).
pub const DEFAULT_STOP_TIMEOUT: u32 = 10;
/// How long `stop` waits for a detached container's supervisor to save its exit code.
const SUPERVISOR_GRACE: Duration = Duration::from_secs(5);

/// The built-in engine's containers: their records, their runtime and the image store that
/// keeps their layers.
#[derive(Debug, Clone)]
pub struct Runner {
    pub containers: Containers,
    /// The networks of the store (bridge networks, addresses, published ports).
    pub networks: crate::network::Networks,
    pub runtime: Runtime,
    pub store: Store,
    /// Tests: the runtime of every container instead of its own (see [`OciRuntime`]).
    fake_runtime: Option<Arc<dyn OciRuntime>>,
}

impl Runner {
    /// Containers of `store`; new ones are run by `runtime_program` (a name on PATH or a path).
    pub fn new(store: Store, runtime_program: &str) -> Runner {
        let root = store.root();
        Runner {
            containers: Containers::new(&root.join("containers")),
            networks: crate::network::Networks::new(root),
            runtime: Runtime::new(runtime_program, &root.join("runc")),
            store,
            fake_runtime: None,
        }
    }

    /// The runtime that stop, remove, finish and status talk to for `record`.
    fn oci(&self, record: &Record) -> Arc<dyn OciRuntime> {
        match &self.fake_runtime {
            Some(fake) => fake.clone(),
            None => Arc::new(self.runtime_for(record)),
        }
    }

    /// The runtime a container was created with (`--runtime`), under this store's state
    /// directory: a container keeps its runtime whatever the default becomes.
    pub fn runtime_for(&self, record: &Record) -> Runtime {
        Runtime::new(&record.runtime, &self.runtime.root)
    }

    pub fn rootfs(&self, record: &Record) -> Rootfs {
        Rootfs::in_dir(
            &self.containers.dir(&record.id),
            record.layers.clone(),
            record.auto_remove,
        )
    }

    /// The true status of one container.
    pub fn status(&self, record: &Record) -> Result<Status> {
        let state = self.oci(record).state(&record.id)?;
        Ok(record.status(state.as_ref().map(|s| s.status.as_str())))
    }

    /// Run a created container in the foreground and return its exit code. With `--rm` the
    /// container is gone afterwards, whatever happened.
    pub async fn run_foreground(&self, record: &mut Record) -> Result<i32> {
        let result = self.run_foreground_inner(record).await;
        let finished = self.finish(record, result.as_ref().ok().copied());
        match (result, finished) {
            (Ok(code), Ok(())) => Ok(code),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
        }
    }

    async fn run_foreground_inner(&self, record: &mut Record) -> Result<i32> {
        let dir = self.containers.dir(&record.id);
        {
            let _lock = self.containers.lock(&record.id)?;
            self.rootfs(record).mount()?;
            self.network_up(record)?;
            let _ = std::fs::remove_file(dir.join(STOPPED_MARKER));
            record.state = Lifecycle::Running {
                started: now(),
                detached: false,
            };
            self.containers.save(record)?;
        }
        let runtime = self.runtime_for(record);
        let mut cmd = tokio::process::Command::from(runtime.run_command(&dir, &record.id));
        if !record.interactive {
            cmd.stdin(Stdio::null());
        }
        let mut child = cmd.spawn().map_err(|e| runtime.spawn_error(e))?;
        let status = wait_forwarding(&mut child).await?;
        Ok(exit_code(status))
    }

    /// After the process ended (or failed to start): record the exit, unmount, and remove an
    /// `--rm` container.
    fn finish(&self, record: &mut Record, code: Option<i32>) -> Result<()> {
        let _lock = self.containers.lock(&record.id)?;
        // The runtime forgets a finished `run` itself; a failed start may leave it behind.
        let runtime = self.oci(record);
        if runtime.knows(&record.id) {
            runtime.delete(&record.id, true)?;
        }
        if record.auto_remove {
            self.network_release(record)?;
            // Unmounts the root filesystem with everything else under the directory: the
            // mount table is read once.
            return self.remove_files(record);
        }
        self.network_down(record)?;
        self.rootfs(record).unmount()?;
        if code.is_some() || !matches!(record.state, Lifecycle::Created) {
            record.state = Lifecycle::Exited {
                code,
                finished: now(),
            };
            self.containers.save(record)?;
        }
        Ok(())
    }

    /// Start a container in the background under a supervisor (`exe supervise-args… ID`) and
    /// return once its process runs; an error the start met is returned here.
    pub fn start_detached(&self, record: &Record, exe: &Path, args: &[String]) -> Result<()> {
        // The supervisor stays behind with the container: its pipes are read until it closes
        // them ("started", or an error), not until it exits, so the Task's command is spawned
        // here rather than run.
        let task = Task::new("starting the container's supervisor", exe)
            .args(args)
            .arg(&record.id)
            .stdout(Sink::Capture)
            .stderr(Sink::Capture);
        let child = task.command().spawn().map_err(|e| task.spawn_error(e))?;
        let out = read_until_closed(child).context("waiting for the supervisor")?;
        if out.stdout.starts_with(b"started") {
            return Ok(());
        }
        let why = String::from_utf8_lossy(&out.stderr);
        bail!(
            "container {} did not start: {}",
            record.name,
            why.trim().trim_start_matches("error: ")
        )
    }

    /// Stop a running container: its stop signal, then SIGKILL after the timeout. Returns
    /// false when it was not running.
    pub fn stop(
        &self,
        record: &Record,
        timeout: Option<u32>,
        signal: Option<&str>,
    ) -> Result<bool> {
        if self.status(record)? != Status::Running {
            return Ok(false);
        }
        let dir = self.containers.dir(&record.id);
        std::fs::write(dir.join(STOPPED_MARKER), b"")
            .with_context(|| format!("marking container {} as stopped", record.name))?;
        let signal = signal
            .or(record.stop_signal.as_deref())
            .unwrap_or("SIGTERM");
        let timeout = timeout
            .or(record.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        let runtime = self.oci(record);
        if let Err(e) = runtime.kill(&record.id, signal, false) {
            tracing::debug!("stop signal: {e:#}");
        }
        if !self.wait_not_running(record, Duration::from_secs(timeout.into()))? {
            runtime.kill(&record.id, "SIGKILL", true)?;
            if !self.wait_not_running(record, Duration::from_secs(10))? {
                bail!("container {} did not stop after SIGKILL", record.name);
            }
        }
        self.wait_exit_recorded(record, SUPERVISOR_GRACE)?;
        Ok(true)
    }

    /// A detached container's exit code is saved by its supervisor a moment after the process
    /// ends (runc already says "stopped" then): wait for it, so that what `stop` returns to is
    /// the recorded exit, not "exited with no code". A supervisor that was killed never saves
    /// it, so the wait is bounded.
    fn wait_exit_recorded(&self, record: &Record, limit: Duration) -> Result<()> {
        if !matches!(record.state, Lifecycle::Running { detached: true, .. }) {
            return Ok(());
        }
        let start = Instant::now();
        while start.elapsed() < limit {
            match self.containers.load(&record.id) {
                Ok(current) if matches!(current.state, Lifecycle::Running { .. }) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return Ok(()),
            }
        }
        tracing::debug!(
            "no supervisor recorded the exit of {} within {limit:?}",
            record.name
        );
        Ok(())
    }

    fn wait_not_running(&self, record: &Record, limit: Duration) -> Result<bool> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            if self.status(record)? != Status::Running {
                return Ok(true);
            }
            if start.elapsed() >= limit {
                return Ok(false);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Remove a container: refused while it runs unless `force`, which kills it first.
    pub fn remove(&self, record: &Record, force: bool) -> Result<()> {
        if self.status(record)? == Status::Running {
            if !force {
                bail!(
                    "you cannot remove a running container {}; stop it first or force the \
                     removal (-f)",
                    record.name
                );
            }
            let dir = self.containers.dir(&record.id);
            let _ = std::fs::write(dir.join(STOPPED_MARKER), b"");
            self.oci(record).kill(&record.id, "SIGKILL", true).ok();
            self.wait_not_running(record, Duration::from_secs(10))?;
            // Its supervisor now takes the network down and records the exit, under the
            // container's lock: wait for that rather than for the lock.
            self.wait_exit_recorded(record, SUPERVISOR_GRACE)?;
        }
        let _names = self.containers.names_lock()?;
        let _lock = self.containers.lock(&record.id)?;
        self.oci(record).delete(&record.id, true)?;
        self.network_release(record)?;
        self.remove_files(record)
    }

    /// Unmount everything under the container's directory, delete it and unpin its image.
    fn remove_files(&self, record: &Record) -> Result<()> {
        self.containers.remove_dir(&record.id)?;
        self.store.unpin(&record.id)
    }

    /// The command that runs `args` inside a running container.
    pub fn exec_command(
        &self,
        record: &Record,
        opts: &ExecOptions,
        args: &[String],
    ) -> Result<std::process::Command> {
        if self.status(record)? != Status::Running {
            bail!(
                "container {} is not running; start it first ('atomic run {}')",
                record.name,
                record.name
            );
        }
        Ok(self
            .runtime_for(record)
            .exec_command(&record.id, opts, args))
    }
}

struct Captured {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// What the supervisor says on its stdout and stderr, read until it closes both: it does once
/// the container runs (and lives on, reparented to init, never waited for), or it exits on a
/// failure. `wait_with_output` would wait for it to exit.
fn read_until_closed(mut child: std::process::Child) -> std::io::Result<Captured> {
    use std::io::Read;
    let mut stderr_pipe = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(pipe) = stderr_pipe.as_mut() {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    });
    let mut stdout = Vec::new();
    if let Some(mut pipe) = child.stdout.take() {
        pipe.read_to_end(&mut stdout)?;
    }
    let stderr = reader.join().unwrap_or_default();
    // Reap it if it already exited (a failed start); otherwise leave it running.
    let _ = child.try_wait();
    Ok(Captured { stdout, stderr })
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;

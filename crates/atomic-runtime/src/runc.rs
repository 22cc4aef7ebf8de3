//! The OCI runtime's command line (runc, or crun and others that speak it).
//!
//! Every container of one store lives under the runtime's own state directory (`--root`), so
//! atomic's containers never mix with Docker's or Podman's, and `list` answers for atomic alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, anyhow};
use atomic_exec::Task;
use serde::Deserialize;

/// One OCI runtime and its state directory.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub program: PathBuf,
    pub root: PathBuf,
}

/// One container as `runc list` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeState {
    pub id: String,
    #[serde(default)]
    pub pid: i32,
    pub status: String,
}

/// What `exec` runs in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub tty: bool,
    pub detach: bool,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub cwd: Option<String>,
    pub privileged: bool,
}

impl Runtime {
    /// `program` is a name looked up on PATH or a path; `root` its state directory.
    pub fn new(program: &str, root: &Path) -> Runtime {
        Runtime {
            program: PathBuf::from(program),
            root: root.to_path_buf(),
        }
    }

    /// The program's name, for messages and `containers list`'s RUNTIME column.
    pub fn name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// `PROGRAM --root ROOT ARGS…`, on atomic's stdin (a foreground run or exec reads the
    /// terminal) unless the caller says otherwise.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.task(args)
            .stdin(atomic_exec::StdinPolicy::Inherit)
            .command()
    }

    /// `PROGRAM --root ROOT ARGS…` as a task: its errors name the runtime, the command line
    /// and the tail of what the runtime said.
    fn task<I, S>(&self, args: I) -> Task
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Task::new("OCI runtime", &self.program)
            .arg("--root")
            .arg(&self.root)
            .args(args)
    }

    /// The foreground run: creates, starts, waits and deletes in one process that keeps the
    /// terminal and passes signals on. The caller spawns it and waits.
    pub fn run_command(&self, bundle: &Path, id: &str) -> Command {
        let mut cmd = self.command(["run", "--bundle"]);
        cmd.arg(bundle).arg(id);
        cmd
    }

    /// Create the container (its process waits for `start`), giving it our stdio: the
    /// runtime's own messages go there too, so they are also logged as JSON to `log`.
    pub fn create(
        &self,
        bundle: &Path,
        id: &str,
        pid_file: &Path,
        log: &Path,
        stdio: Stdio3,
    ) -> Result<()> {
        let task = Task::new("OCI runtime", &self.program)
            .arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(log)
            .args(["--log-format", "json", "create", "--bundle"])
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id);
        let status = task
            .command()
            .stdin(stdio.stdin)
            .stdout(stdio.stdout)
            .stderr(stdio.stderr)
            .status()
            .map_err(|e| self.spawn_error(e))?;
        if !status.success() {
            // Its stderr went to the container's; the JSON log has it too.
            return Err(task.failure(status, b"").into());
        }
        Ok(())
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.checked(&["start", id]).map(drop)
    }

    /// Send a signal to the container's process (`all`: to every process in it).
    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<()> {
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, signal]);
        self.checked(&args).map(drop)
    }

    /// Forget a stopped container (`force`: kill it first if it runs). A container the
    /// runtime does not know is no error.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        let out = self.output(&args)?;
        if out.status.success() || mentions_missing(&out) {
            return Ok(());
        }
        Err(self.failure(&args, &out))
    }

    /// Whether the runtime may still hold state for `id`. runc and crun keep one directory per
    /// container under `--root`; checking for it spares a `delete` process (~20 ms) after
    /// every foreground run, which the runtime already cleaned up.
    pub fn knows(&self, id: &str) -> bool {
        self.root.join(id).exists()
    }

    /// Every container the runtime knows, by ID, with its status word.
    pub fn list(&self) -> Result<HashMap<String, RuntimeState>> {
        if !self.root.exists() {
            return Ok(HashMap::new());
        }
        let out = self.checked(&["list", "--format", "json"])?;
        // runc prints `null` for an empty list.
        let states: Option<Vec<RuntimeState>> = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("reading the output of {} list", self.name()))?;
        Ok(states
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect())
    }

    /// The state of one container; None when the runtime does not know it.
    pub fn state(&self, id: &str) -> Result<Option<RuntimeState>> {
        let args = ["state", id];
        let out = self.output(&args)?;
        if out.status.success() {
            let state = serde_json::from_slice(&out.stdout)
                .with_context(|| format!("reading the output of {} state", self.name()))?;
            return Ok(Some(state));
        }
        if mentions_missing(&out) {
            return Ok(None);
        }
        Err(self.failure(&args, &out))
    }

    /// The command that runs `args` in a running container.
    pub fn exec_command(&self, id: &str, opts: &ExecOptions, args: &[String]) -> Command {
        let mut cmd = self.command(["exec"]);
        if opts.tty {
            cmd.arg("--tty");
        }
        if opts.detach {
            cmd.arg("--detach");
        }
        for env in &opts.env {
            cmd.arg("--env").arg(env);
        }
        if let Some(user) = &opts.user {
            cmd.arg("--user").arg(user);
        }
        if let Some(cwd) = &opts.cwd {
            cmd.arg("--cwd").arg(cwd);
        }
        if opts.privileged {
            // Every capability the container's bounding set allows.
            cmd.arg("--cap").arg("ALL");
        }
        cmd.arg(id).args(args);
        cmd
    }

    fn output(&self, args: &[&str]) -> Result<Output> {
        self.task(args).output().map_err(|e| self.exec_error(e))
    }

    fn checked(&self, args: &[&str]) -> Result<Output> {
        self.task(args).run().map_err(|e| self.exec_error(e))
    }

    /// The failed command and the tail of what it said, so the error can be acted on.
    fn failure(&self, args: &[&str], out: &Output) -> anyhow::Error {
        self.task(args).failure(out.status, &out.stderr).into()
    }

    /// A missing runtime is told with what to do about it.
    fn exec_error(&self, e: atomic_exec::Error) -> anyhow::Error {
        if e.is_not_found() {
            self.not_installed()
        } else {
            e.into()
        }
    }

    fn not_installed(&self) -> anyhow::Error {
        anyhow!(
            "the OCI runtime '{}' is not installed; install runc, or choose another with \
             --runtime or atomic.conf 'runtime'",
            self.name()
        )
    }

    pub fn spawn_error(&self, e: std::io::Error) -> anyhow::Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            self.not_installed()
        } else {
            anyhow!("cannot run '{}': {e}", self.name())
        }
    }
}

/// What the container logic asks of an OCI runtime. [`Runtime`] is the real one (runc, crun);
/// tests put a recording fake here, so that stop, remove and finish are tested without runc or
/// root (as youki's `Syscall` trait and its `TestHelperSyscall`).
pub trait OciRuntime: std::fmt::Debug + Send + Sync {
    /// Create the container from its bundle; its process waits for [`OciRuntime::start`].
    fn create(
        &self,
        bundle: &Path,
        id: &str,
        pid_file: &Path,
        log: &Path,
        stdio: Stdio3,
    ) -> Result<()>;
    fn start(&self, id: &str) -> Result<()>;
    /// Send a signal to the container's process (`all`: to every process in it).
    fn kill(&self, id: &str, signal: &str, all: bool) -> Result<()>;
    /// Forget a stopped container (`force`: kill it first); an unknown one is no error.
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// The runtime's state of one container; None when it does not know it.
    fn state(&self, id: &str) -> Result<Option<RuntimeState>>;
    /// Whether the runtime may still hold state for the container.
    fn knows(&self, id: &str) -> bool;
}

impl OciRuntime for Runtime {
    fn create(
        &self,
        bundle: &Path,
        id: &str,
        pid_file: &Path,
        log: &Path,
        stdio: Stdio3,
    ) -> Result<()> {
        Runtime::create(self, bundle, id, pid_file, log, stdio)
    }

    fn start(&self, id: &str) -> Result<()> {
        Runtime::start(self, id)
    }

    fn kill(&self, id: &str, signal: &str, all: bool) -> Result<()> {
        Runtime::kill(self, id, signal, all)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        Runtime::delete(self, id, force)
    }

    fn state(&self, id: &str) -> Result<Option<RuntimeState>> {
        Runtime::state(self, id)
    }

    fn knows(&self, id: &str) -> bool {
        Runtime::knows(self, id)
    }
}

/// The three standard streams for a created container.
pub struct Stdio3 {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

fn mentions_missing(out: &Output) -> bool {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr.contains("does not exist") || stderr.contains("not found")
}

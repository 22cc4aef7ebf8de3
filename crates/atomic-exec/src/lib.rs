//! Running external programs, the one way every atomic crate does it (as bootc's `Task`).
//!
//! A [`Task`] is an argv plus what a person needs when it fails: a description of what was
//! being done, the command line, how it ended and the last lines it wrote on stderr. Its stdin
//! is `/dev/null` unless asked otherwise, so a program that wants to ask a question fails
//! instead of hanging on a terminal nobody watches. With [`Task::verbose`] the command line is
//! printed before it runs (`atomic install --system` shows every `systemctl` it calls).
//!
//! A task may be given bytes for its stdin ([`Task::input`]): they are written while its output
//! is read, so neither side can fill a pipe and wait for the other. Under tokio (feature
//! `tokio`), [`Task::output_async`] runs the same task as a tokio child.
//!
//! The exit-code rule ([`exit_code`]) and the PATH lookup ([`find_program`]) live here too, so
//! that a signal, a missing program or a non-executable file mean the same everywhere.

// An unwrap on data from outside is a panic a user meets (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

/// How many of the last stderr lines an error carries: enough for the program's own message,
/// not a page of progress output.
const STDERR_TAIL_LINES: usize = 5;

/// A failure to run a program, or a program that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program is not installed (not a file, not on PATH).
    #[error("{what}: '{program}' is not installed (not found on PATH)")]
    NotFound { what: String, program: String },
    /// The program exists but could not be started.
    #[error("{what}: cannot run '{program}': {source}")]
    Spawn {
        what: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// Feeding the program its input, or collecting its output, failed.
    #[error("{what}: talking to '{command_line}': {source}")]
    Io {
        what: String,
        command_line: String,
        #[source]
        source: std::io::Error,
    },
    /// The program ran and exited unsuccessfully.
    #[error("{what}: '{command_line}' failed ({how}){}", colon_prefixed(.stderr_tail))]
    Failed {
        what: String,
        command_line: String,
        /// "exit code N" or "killed by signal N".
        how: String,
        /// The exit code by [`exit_code`]'s rule.
        code: i32,
        /// The last lines of its stderr, trimmed.
        stderr_tail: String,
    },
}

fn colon_prefixed(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

impl Error {
    /// Whether the program is missing: callers that know what to install say so.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

/// What the child's stdin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StdinPolicy {
    /// `/dev/null` (the default): the program cannot wait for input.
    #[default]
    Null,
    /// atomic's own stdin: the program may talk to the user.
    Inherit,
}

/// Where the child's stdout or stderr goes, when the method's own default is not wanted.
///
/// Unset, [`Task::output`] and [`Task::run`] capture both streams and [`Task::status`] leaves
/// both to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Read by atomic (returned in the [`Output`]; stderr's tail goes into a failure).
    Capture,
    /// atomic's own: the user sees it as the program writes it.
    Inherit,
    /// Discarded.
    Null,
}

impl Sink {
    fn stdio(self) -> Stdio {
        match self {
            Sink::Capture => Stdio::piped(),
            Sink::Inherit => Stdio::inherit(),
            Sink::Null => Stdio::null(),
        }
    }
}

/// A program's input. Its Debug shows the size only: it may be a secret (a Kubernetes Secret
/// for kubectl, a payload to sign).
#[derive(Clone)]
struct Input(Vec<u8>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// One program to run: its argv, what running it is for, and how.
#[derive(Debug, Clone)]
pub struct Task {
    argv: Vec<OsString>,
    what: String,
    stdin: StdinPolicy,
    /// Bytes written to the child's stdin (then closed); overrides `stdin`.
    input: Option<Input>,
    stdout: Option<Sink>,
    stderr: Option<Sink>,
    verbose: bool,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
}

impl Task {
    /// A task running `program` (a path, or a name looked up on PATH when it runs); `what`
    /// says what it is for in errors ("enabling the unit", "podman image inspect").
    pub fn new(what: impl Into<String>, program: impl AsRef<OsStr>) -> Task {
        Task {
            argv: vec![program.as_ref().to_os_string()],
            what: what.into(),
            stdin: StdinPolicy::Null,
            input: None,
            stdout: None,
            stderr: None,
            verbose: false,
            env: Vec::new(),
            dir: None,
        }
    }

    /// A task from a whole argv (the first element is the program). None for an empty argv.
    pub fn from_argv<S: AsRef<OsStr>>(what: impl Into<String>, argv: &[S]) -> Option<Task> {
        let (program, args) = argv.split_first()?;
        Some(Task::new(what, program).args(args))
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Task {
        self.argv.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Task {
        self.argv
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Set one environment variable for the program (on top of atomic's environment).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Task {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Run the program in `dir` (an OCI bundle, for `runc run`).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Task {
        self.dir = Some(dir.into());
        self
    }

    pub fn stdin(mut self, policy: StdinPolicy) -> Task {
        self.stdin = policy;
        self
    }

    /// Give the program `data` on its stdin (closed after it): a payload to sign, objects for
    /// `kubectl apply -f -`. A program that exits before reading it all is not an error of its
    /// own: its exit status says what happened.
    pub fn input(mut self, data: impl Into<Vec<u8>>) -> Task {
        self.input = Some(Input(data.into()));
        self
    }

    /// Where the program's stdout goes (see [`Sink`] for the default).
    pub fn stdout(mut self, sink: Sink) -> Task {
        self.stdout = Some(sink);
        self
    }

    /// Where the program's stderr goes (see [`Sink`] for the default).
    pub fn stderr(mut self, sink: Sink) -> Task {
        self.stderr = Some(sink);
        self
    }

    /// Print the command line on stdout before running it.
    pub fn verbose(mut self, verbose: bool) -> Task {
        self.verbose = verbose;
        self
    }

    /// The command line as a person reads it (arguments joined by spaces).
    pub fn command_line(&self) -> String {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn program(&self) -> String {
        self.argv
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The [`Command`] for callers that need another arrangement (a child of tokio, a
    /// created container's streams, an `exec`); the argv, environment, directory, stdin policy
    /// and any [`Sink`] set are applied. With [`Task::input`], stdin is a pipe the caller
    /// feeds.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd.stdin(match (&self.input, self.stdin) {
            (Some(_), _) => Stdio::piped(),
            (None, StdinPolicy::Null) => Stdio::null(),
            (None, StdinPolicy::Inherit) => Stdio::inherit(),
        });
        if let Some(sink) = self.stdout {
            cmd.stdout(sink.stdio());
        }
        if let Some(sink) = self.stderr {
            cmd.stderr(sink.stdio());
        }
        cmd
    }

    /// The error for input that could not be written or output that could not be read.
    pub fn io_error(&self, source: std::io::Error) -> Error {
        Error::Io {
            what: self.what.clone(),
            command_line: self.command_line(),
            source,
        }
    }

    /// Spawn `cmd` (from [`Task::command`]), feed it the input in a thread while its output is
    /// read, and wait for it. Unset streams are captured when `capture` (else inherited).
    fn execute(&self, mut cmd: Command, capture: bool) -> Result<Output, Error> {
        self.announce();
        if capture {
            if self.stdout.is_none() {
                cmd.stdout(Stdio::piped());
            }
            if self.stderr.is_none() {
                cmd.stderr(Stdio::piped());
            }
        }
        let mut child = cmd.spawn().map_err(|e| self.spawn_error(e))?;
        let Some(pipe) = child.stdin.take() else {
            return child.wait_with_output().map_err(|e| self.io_error(e));
        };
        let (waited, fed) = std::thread::scope(|scope| {
            let writer = scope.spawn(|| feed(pipe, self.input.as_ref().map(|i| i.0.as_slice())));
            let waited = child.wait_with_output();
            // The writer cannot panic (write_all returns errors); a panic would be a bug of
            // ours, not a failure of the program, so it counts as fed.
            (waited, writer.join().unwrap_or(Ok(())))
        });
        let out = waited.map_err(|e| self.io_error(e))?;
        fed.map_err(|e| self.io_error(e))?;
        Ok(out)
    }

    fn announce(&self) {
        if self.verbose {
            use std::io::Write;
            // An echo nobody reads (stdout closed) is no reason to fail, nor to panic as
            // `println!` would: the command still runs.
            let _ = writeln!(std::io::stdout(), "{}", self.command_line());
        }
    }

    /// The error for a program that could not be started.
    pub fn spawn_error(&self, source: std::io::Error) -> Error {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound {
                what: self.what.clone(),
                program: self.program(),
            }
        } else {
            Error::Spawn {
                what: self.what.clone(),
                program: self.program(),
                source,
            }
        }
    }

    /// The error for a program that ran and ended with `status`, having said `stderr`.
    pub fn failure(&self, status: ExitStatus, stderr: &[u8]) -> Error {
        Error::Failed {
            what: self.what.clone(),
            command_line: self.command_line(),
            how: describe(status),
            code: exit_code(status),
            stderr_tail: stderr_tail(stderr),
        }
    }

    /// Run with stdout and stderr captured (unless a [`Sink`] says otherwise), whatever the
    /// exit status (the caller reads it).
    pub fn output(&self) -> Result<Output, Error> {
        self.execute(self.command(), true)
    }

    /// Run with stdout and stderr captured; an unsuccessful exit is an [`Error::Failed`]
    /// carrying the stderr tail.
    pub fn run(&self) -> Result<Output, Error> {
        let out = self.output()?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(self.failure(out.status, &out.stderr))
        }
    }

    /// As [`Task::output`], with `input` written to the program's stdin (then closed): a
    /// batch of commands (`iptables-restore`), a document to read. A program that exits
    /// without reading it all is judged by its exit status alone.
    pub fn output_with_input(&self, input: &[u8]) -> Result<Output, Error> {
        self.start_with_input(input.to_vec())?.output()
    }

    /// Start the program with `input` on its stdin and return at once: atomic does other work
    /// while it runs, then collects it with [`Started::output`] or [`Started::finish`].
    pub fn start_with_input(&self, input: Vec<u8>) -> Result<Started, Error> {
        use std::io::Write;
        self.announce();
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let stdin = child.stdin.take();
        // Written from a thread of its own: a program answering while it reads would
        // otherwise fill its output pipe and wait for us as we wait for it.
        let writer = std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                if let Some(mut stdin) = stdin {
                    // A broken pipe (it exited early) shows in its status.
                    let _ = stdin.write_all(&input);
                }
            });
        let writer = match writer {
            Ok(writer) => writer,
            Err(e) => {
                // Its stdin went with the closure: it sees the end of its input.
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.spawn_error(e));
            }
        };
        Ok(Started {
            task: self.clone(),
            child,
            writer,
        })
    }

    /// As [`Task::run`], with `input` on the program's stdin (see [`Task::output_with_input`]).
    pub fn run_with_input(&self, input: &[u8]) -> Result<Output, Error> {
        let out = self.output_with_input(input)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(self.failure(out.status, &out.stderr))
        }
    }

    /// Run on atomic's own stdout and stderr (the program talks to the user); returns its exit
    /// code by [`exit_code`]'s rule.
    pub fn status(&self) -> Result<i32, Error> {
        let out = self.execute(self.command(), false)?;
        Ok(exit_code(out.status))
    }

    /// [`Task::output`] as a tokio child: the same command, input fed while the output is
    /// read. The child is killed if the future is dropped (a caller's timeout).
    #[cfg(feature = "tokio")]
    pub async fn output_async(&self) -> Result<Output, Error> {
        use tokio::io::AsyncWriteExt;
        self.announce();
        let mut cmd = tokio::process::Command::from(self.command());
        if self.stdout.is_none() {
            cmd.stdout(Stdio::piped());
        }
        if self.stderr.is_none() {
            cmd.stderr(Stdio::piped());
        }
        let mut child = cmd
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let pipe = child.stdin.take();
        let feeding = async {
            match (pipe, self.input.as_ref().map(|i| i.0.as_slice())) {
                (Some(mut pipe), Some(data)) => ignore_broken_pipe(pipe.write_all(data).await),
                _ => Ok(()),
            }
        };
        let (fed, waited) = tokio::join!(feeding, child.wait_with_output());
        let out = waited.map_err(|e| self.io_error(e))?;
        fed.map_err(|e| self.io_error(e))?;
        Ok(out)
    }

    /// [`Task::run`] as a tokio child (see [`Task::output_async`]).
    #[cfg(feature = "tokio")]
    pub async fn run_async(&self) -> Result<Output, Error> {
        let out = self.output_async().await?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(self.failure(out.status, &out.stderr))
        }
    }
}

/// Write `data` to the child's stdin and close it.
fn feed(mut pipe: std::process::ChildStdin, data: Option<&[u8]>) -> std::io::Result<()> {
    use std::io::Write;
    ignore_broken_pipe(pipe.write_all(data.unwrap_or_default()))
}

/// A program may exit without reading all its input (a bad option, a missing key): its exit
/// status and stderr say why, so the closed pipe is not another error.
fn ignore_broken_pipe(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// A program running with its input, from [`Task::start_with_input`].
#[derive(Debug)]
pub struct Started {
    task: Task,
    child: std::process::Child,
    writer: std::thread::JoinHandle<()>,
}

impl Started {
    /// Wait for it; its output whatever the exit status (the caller reads it).
    pub fn output(self) -> Result<Output, Error> {
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| self.task.spawn_error(e))?;
        // The writer is done: the program's stdin was closed when it exited at the latest.
        let _ = self.writer.join();
        Ok(out)
    }

    /// Wait for it; an unsuccessful exit is an [`Error::Failed`] carrying the stderr tail.
    pub fn finish(self) -> Result<Output, Error> {
        let task = self.task.clone();
        let out = self.output()?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(task.failure(out.status, &out.stderr))
        }
    }
}

/// A child's exit code as a shell reports it: its code, or 128+N when signal N killed it.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        // Neither a code nor a signal (a stopped child, which `wait` does not report): a
        // failure all the same.
        (None, None) => 1,
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The last lines of a program's stderr, trimmed: its own error message, usually.
pub fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    lines[start..].join("\n").trim().to_string()
}

/// The executable `name` on PATH; a `name` with a slash is a path, checked as it is. An
/// executable is a regular file with an execute bit (what `execvp` would run).
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    find_in(name, std::env::split_paths(&path))
}

/// The executable `name` in the first of `dirs` that has one.
pub fn find_in(name: &str, dirs: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_what_the_command_and_the_stderr_tail() {
        let task = Task::new("testing", "/bin/sh").args([
            "-c",
            "for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 3",
        ]);
        let err = task.run().unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("testing: '/bin/sh -c for i in"), "{text}");
        assert!(
            text.contains("failed (exit code 3): line3\nline4"),
            "{text}"
        );
        assert!(!text.contains("line2"), "{text}");
        assert!(matches!(err, Error::Failed { code: 3, .. }));
    }

    #[test]
    fn input_reaches_stdin_whatever_its_size() {
        // Larger than a pipe's buffer, echoed back as it is read.
        let input = "line\n".repeat(100_000);
        let out = Task::new("testing", "cat")
            .run_with_input(input.as_bytes())
            .unwrap();
        assert_eq!(out.stdout.len(), input.len());
        let err = Task::new("testing", "/bin/sh")
            .args(["-c", "read x; echo \"bad: $x\" >&2; exit 2"])
            .run_with_input(b"this\n")
            .unwrap_err();
        assert!(
            err.to_string().ends_with("(exit code 2): bad: this"),
            "{err}"
        );
    }

    #[test]
    fn a_signal_is_128_plus_its_number() {
        let task = Task::new("testing", "/bin/sh").args(["-c", "kill -9 $$"]);
        let err = task.run().unwrap_err();
        assert!(matches!(err, Error::Failed { code: 137, .. }), "{err}");
        assert!(err.to_string().contains("killed by signal 9"), "{err}");
        assert_eq!(task.status().unwrap(), 137);
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let err = Task::new("testing", "atomic-no-such-program")
            .run()
            .unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(
            err.to_string(),
            "testing: 'atomic-no-such-program' is not installed (not found on PATH)"
        );
    }

    #[test]
    fn stdin_is_null_unless_inherited() {
        let out = Task::new("testing", "/bin/cat").run().unwrap();
        assert!(out.stdout.is_empty());
    }

    #[test]
    fn success_gives_the_output_and_env_reaches_the_program() {
        let out = Task::from_argv("testing", &["/bin/sh", "-c", "echo $I14_X; pwd"])
            .unwrap()
            .env("I14_X", "hello")
            .current_dir("/")
            .run()
            .unwrap();
        assert_eq!(out.stdout, b"hello\n/\n");
        assert!(Task::from_argv::<&str>("testing", &[]).is_none());
    }

    /// More than a pipe holds (64 KiB) each way: written while the output is read, or both
    /// sides would wait for ever.
    fn large_input() -> Vec<u8> {
        (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect()
    }

    #[test]
    fn input_is_fed_while_the_output_is_read() {
        let data = large_input();
        let out = Task::new("testing", "/bin/cat")
            .input(data.clone())
            .run()
            .unwrap();
        assert_eq!(out.stdout, data);
    }

    #[test]
    fn a_program_that_ignores_its_input_fails_on_its_own_terms() {
        let task = Task::new("testing", "/bin/sh")
            .args(["-c", "echo bad option >&2; exit 2"])
            .input(large_input());
        let err = task.run().unwrap_err();
        assert!(matches!(err, Error::Failed { code: 2, .. }), "{err}");
        assert!(
            err.to_string()
                .ends_with("failed (exit code 2): bad option"),
            "{err}"
        );
        assert_eq!(task.status().unwrap(), 2);
    }

    #[test]
    fn sinks_choose_where_output_goes() {
        let out = Task::new("testing", "/bin/sh")
            .args(["-c", "echo out; echo err >&2; exit 1"])
            .stdout(Sink::Null)
            .output()
            .unwrap();
        assert!(out.stdout.is_empty());
        assert_eq!(out.stderr, b"err\n");
        // stderr left to the user: the failure has no tail to quote, but says how it ended.
        let err = Task::new("testing", "/bin/sh")
            .args(["-c", "exit 4"])
            .stderr(Sink::Inherit)
            .run()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "testing: '/bin/sh -c exit 4' failed (exit code 4)"
        );
        // status() captures what it is told to, and returns the exit code.
        let code = Task::new("testing", "/bin/sh")
            .args(["-c", "echo hidden; exit 5"])
            .stdout(Sink::Capture)
            .status()
            .unwrap();
        assert_eq!(code, 5);
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn output_async_feeds_input_and_reports_like_run() {
        let data = large_input();
        let out = Task::new("testing", "/bin/cat")
            .input(data.clone())
            .run_async()
            .await
            .unwrap();
        assert_eq!(out.stdout, data);
        let task = Task::new("testing", "/bin/sh").args(["-c", "echo nope >&2; exit 3"]);
        let err = task.run_async().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            task.run().unwrap_err().to_string(),
            "the same failure, sync or async"
        );
        let missing = Task::new("testing", "atomic-no-such-program")
            .output_async()
            .await
            .unwrap_err();
        assert!(missing.is_not_found());
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn a_timed_out_async_task_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("echo $$ > {}; exec sleep 30", pidfile.display());
        let task = Task::new("testing", "/bin/sh").args(["-c", &script]);
        // Dropped (as a caller's timeout drops it) once the program has surely started.
        let mut running = Box::pin(task.output_async());
        let started = std::time::Instant::now();
        while !std::fs::read_to_string(&pidfile).is_ok_and(|p| p.ends_with('\n')) {
            tokio::select! {
                done = &mut running => panic!("sleep 30 finished: {done:?}"),
                _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
            }
            assert!(started.elapsed().as_secs() < 20, "the shell never started");
        }
        drop(running);
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
        // Killed on drop; reaped by tokio's orphan reaper, so it may linger as a zombie briefly.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
            // Gone (no stat), or dead and not yet reaped (state Z or X after the name).
            let alive = state
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']));
            if !alive {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running: {state}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    #[test]
    fn debug_does_not_show_the_input() {
        let task = Task::new("testing", "/bin/cat").input("s3cret");
        let shown = format!("{task:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("6 bytes"),
            "{shown}"
        );
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        assert_eq!(stderr_tail(b""), "");
        assert_eq!(stderr_tail(b"a\nb\n\n"), "a\nb");
        assert_eq!(stderr_tail(b"1\n2\n3\n4\n5\n6\n"), "2\n3\n4\n5\n6");
    }

    #[test]
    fn find_program_needs_an_executable_file() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert_eq!(find_in("plain", [dir.path().to_path_buf()]), None);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            find_in("plain", [dir.path().to_path_buf()]),
            Some(plain.clone())
        );
        assert_eq!(find_program(plain.to_str().unwrap()), Some(plain));
        assert_eq!(find_program("/nonexistent/i14"), None);
        assert!(find_program("sh").is_some());
    }
}

//! Running external programs, the one way every atomic crate does it (as bootc's `Task`).
//!
//! A [`Task`] is an argv plus what a person needs when it fails: a description of what was
//! being done, the command line, how it ended and the last lines it wrote on stderr. Its stdin
//! is `/dev/null` unless asked otherwise, so a program that wants to ask a question fails
//! instead of hanging on a terminal nobody watches. With [`Task::verbose`] the command line is
//! printed before it runs (`atomic install --system` shows every `systemctl` it calls).
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

/// One program to run: its argv, what running it is for, and how.
#[derive(Debug, Clone)]
pub struct Task {
    argv: Vec<OsString>,
    what: String,
    stdin: StdinPolicy,
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

    /// The [`Command`] for callers that need another stdio arrangement (a child of tokio, a
    /// created container's streams); the argv, environment and stdin policy are applied.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd.stdin(match self.stdin {
            StdinPolicy::Null => Stdio::null(),
            StdinPolicy::Inherit => Stdio::inherit(),
        });
        cmd
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

    /// Run with stdout and stderr captured, whatever the exit status (the caller reads it).
    pub fn output(&self) -> Result<Output, Error> {
        self.announce();
        self.command().output().map_err(|e| self.spawn_error(e))
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
        self.announce();
        let status = self.command().status().map_err(|e| self.spawn_error(e))?;
        Ok(exit_code(status))
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

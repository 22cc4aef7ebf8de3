//! The command a label asks for: built from the label, shown, checked for privileges, and run.
//!
//! Nothing here goes through a shell. The label is split once by `atomic-label`, values are
//! substituted per argv element, and the result is executed as an argv array, so neither a label,
//! a NAME, an option nor an argument can smuggle in a second command.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};

use atomic_engine::{Engine, EngineKind};
use atomic_exec::{StdinPolicy, Task};
use atomic_label as label;

use crate::config::Config;
use crate::output;

/// The values a label's variables take for one invocation.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub name: String,
    pub image: String,
    pub opts: [Option<String>; 3],
    pub run_opts: Option<String>,
    /// The host file RUN_OPTS was read from (RUN_OPTS_FILE), for the privilege summary.
    pub run_opts_file: Option<String>,
}

impl Values {
    pub fn new(name: &str, image: &str, opts: &OptArgs) -> Values {
        Values {
            name: name.to_string(),
            image: image.to_string(),
            opts: [opts.opt1.clone(), opts.opt2.clone(), opts.opt3.clone()],
            run_opts: None,
            run_opts_file: None,
        }
    }

    /// The variables atomic adds to the child's environment (and shows with `--display`).
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("NAME".to_string(), self.name.clone()),
            ("IMAGE".to_string(), self.image.clone()),
        ];
        for (i, value) in self.opts.iter().enumerate() {
            if let Some(value) = value {
                env.push((format!("OPT{}", i + 1), value.clone()));
            }
        }
        if let Some(run_opts) = &self.run_opts {
            env.push(("RUN_OPTS".to_string(), run_opts.clone()));
        }
        let (uid, gid) = sudo_ids();
        env.push(("PWD".to_string(), current_dir()));
        env.push(("SUDO_UID".to_string(), uid));
        env.push(("SUDO_GID".to_string(), gid));
        env
    }

    fn lookup(&self, extra: &BTreeMap<String, String>, var: &str) -> Option<String> {
        extra.get(var).cloned().or_else(|| std::env::var(var).ok())
    }

    /// Substitute the variables of one string (for RUN_OPTS_FILE's value).
    pub fn expand_one(&self, text: &str) -> Result<String> {
        let env: BTreeMap<String, String> = self.environment().into_iter().collect();
        let lookup = |var: &str| self.lookup(&env, var);
        Ok(label::expand_one(text, &self.vars(&lookup))?)
    }

    fn vars<'a>(&'a self, lookup: &'a dyn Fn(&str) -> Option<String>) -> label::Vars<'a> {
        label::Vars {
            name: &self.name,
            image: &self.image,
            opts: [
                self.opts[0].as_deref(),
                self.opts[1].as_deref(),
                self.opts[2].as_deref(),
            ],
            run_opts: self.run_opts.as_deref(),
            lookup,
        }
    }
}

/// The hidden `--opt1..3` flags every label verb takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OptArgs {
    #[arg(long, hide = true, value_name = "VALUE", allow_hyphen_values = true)]
    pub opt1: Option<String>,
    #[arg(long, hide = true, value_name = "VALUE", allow_hyphen_values = true)]
    pub opt2: Option<String>,
    #[arg(long, hide = true, value_name = "VALUE", allow_hyphen_values = true)]
    pub opt3: Option<String>,
}

/// A command ready to run: its argv and the variables atomic sets for it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The label's own program, when atomic runs another in its place (see [`Program`]).
    pub replaced: Option<String>,
    /// A host file whose content became part of the command (RUN_OPTS_FILE).
    pub run_opts_file: Option<String>,
}

impl Prepared {
    /// Build the command of a label: split, substitute, append the user's arguments verbatim,
    /// and point a `docker`/`podman` program at the selected engine.
    pub fn from_label(
        key: &str,
        text: &str,
        values: &Values,
        extra: &[String],
        program: &Program,
    ) -> Result<Prepared> {
        let env = values.environment();
        let env_map: BTreeMap<String, String> = env.iter().cloned().collect();
        let lookup = |var: &str| values.lookup(&env_map, var);
        // No command line can carry a NUL: `--display` printed it raw and exited 0, and a run
        // would fail in exec. Refuse it here, naming the label.
        if text.contains('\0') {
            bail!(
                "label {key} of image '{}' contains a NUL byte, which no command line can hold",
                values.image
            );
        }
        let template = label::parse(text)
            .with_context(|| format!("label {key} of image '{}' is malformed", values.image))?;
        let mut argv = label::build(&template, &values.vars(&lookup), extra)
            .with_context(|| format!("cannot build the command of label {key}"))?;
        let replaced = program.rewrite(&mut argv);
        Ok(Prepared {
            argv,
            env,
            replaced,
            run_opts_file: values.run_opts_file.clone(),
        })
    }

    /// A command atomic composes itself (default run, start, exec): argv given element by
    /// element, with the same environment as a label command.
    pub fn direct(argv: Vec<String>, values: &Values) -> Prepared {
        Prepared {
            argv,
            env: values.environment(),
            replaced: None,
            run_opts_file: None,
        }
    }

    /// Print the command line as the original did (stdout), unless quiet; then the privilege
    /// summary (stderr), unless quiet.
    pub fn announce(&self, quiet: bool) -> Result<()> {
        if quiet {
            return Ok(());
        }
        output::line(&label::join(&self.argv))?;
        self.note_replacement();
        self.warn_privileges();
        Ok(())
    }

    /// Said once, on stderr, so that what is shown is never silently not the label's text.
    fn note_replacement(&self) {
        static SAID: std::sync::Once = std::sync::Once::new();
        if let (Some(written), Some(program)) = (&self.replaced, self.argv.first()) {
            SAID.call_once(|| {
                eprintln!(
                    "# note: the label's program '{written}' is replaced by '{program}', the \
                     selected engine's"
                );
            });
        }
    }

    /// `--display`: the exact argv, shell-quoted so it can be pasted, on stdout; the variables
    /// atomic would set, and the privileges it would grant, on stderr.
    pub fn display(&self) -> Result<()> {
        output::line(&label::join(&self.argv))?;
        let vars: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", label::quote(v)))
            .collect();
        eprintln!("# environment: {}", vars.join(" "));
        self.note_replacement();
        self.warn_privileges();
        Ok(())
    }

    fn warn_privileges(&self) {
        // The file is on the host, outside the image: whoever can write it chooses options of
        // the container, so it is named whether or not the options grant anything.
        if let Some(path) = &self.run_opts_file {
            eprintln!(
                "\nINFO: RUN_OPTS_FILE {path}\n      a file on this host whose content became \
                 options of this command ($RUN_OPTS)"
            );
        }
        let grants = label::analyze(&self.argv);
        if grants.is_empty() {
            return;
        }
        let mut text = String::from("\nThis container uses privileged security switches:\n");
        for grant in &grants {
            text.push_str(&format!(
                "\nINFO: {}\n      {}\n",
                grant.switch, grant.access
            ));
        }
        text.push_str(
            "\nFor more information on these switches and their security implications, consult \
             the manpage for 'docker run'.\n",
        );
        eprint!("{text}");
    }

    /// The label's command: its argv and variables, on atomic's stdin (it may be interactive).
    fn task(&self) -> Task {
        let task = Task::new("running the label's command", &self.argv[0])
            .args(&self.argv[1..])
            .stdin(StdinPolicy::Inherit);
        self.env.iter().fold(task, |task, (k, v)| task.env(k, v))
    }

    /// Run the command and wait for it; returns its exit code (128+N for a signal N).
    ///
    /// While it runs, SIGTERM and SIGHUP sent to atomic are passed on to it; SIGINT and SIGQUIT
    /// from the terminal already reach it (same process group), so atomic only ignores them.
    /// That forwarding needs the child itself, so the Task's command is spawned here.
    pub async fn run(&self) -> Result<i32> {
        let task = self.task();
        let mut child = tokio::process::Command::from(task.command())
            .spawn()
            .map_err(|e| task.spawn_error(e))?;
        let status = atomic_runtime::signals::wait_forwarding(&mut child).await?;
        Ok(atomic_runtime::signals::exit_code(status))
    }

    /// Run the command for `engine`: on the native engine a `docker …`/`podman …` command line
    /// is carried out by atomic itself (there is no daemon to hand it to).
    pub async fn run_on(&self, engine: &Engine) -> Result<i32> {
        if let Engine::Native(native) = engine
            && is_engine_program(&self.argv[0])
        {
            let out = &mut crate::output::Stdout;
            return atomic_runtime::dockercli::execute::execute(&self.argv, &self.env, native, out)
                .await;
        }
        self.run().await
    }

    /// Replace atomic with the command: the terminal, signals and exit code are then the
    /// command's own, exactly as if the user had typed it.
    pub fn exec(&self) -> Result<std::convert::Infallible> {
        use std::os::unix::process::CommandExt;
        let _ = std::io::stdout().flush();
        let task = self.task();
        let e = task.command().exec();
        Err(task.spawn_error(e).into())
    }
}

/// The program that runs `docker …`-style commands for the selected engine.
///
/// On Docker a label's program runs as written, as the original ran it (`/usr/bin/docker run …`
/// stays that), except that a bare `docker` becomes atomic.conf's `default_docker` when set and
/// a `podman` label is pointed at Docker. On Podman and native, a `docker` program of any
/// spelling is replaced by the engine's own (native: `docker`, which atomic carries out itself).
#[derive(Debug, Clone)]
pub struct Program {
    pub path: String,
    /// Docker: keep a label's docker program as written.
    pub keep_written: bool,
}

impl Program {
    pub fn for_engine(engine: &Engine, config: &Config) -> Program {
        let cli = || {
            engine
                .cli()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| "docker".to_string())
        };
        let path = match engine.kind() {
            // The native engine has no CLI of its own: `--display` shows what its labels say
            // in Docker's terms, which is what they are written in.
            EngineKind::Docker | EngineKind::Native => {
                config.default_docker.clone().unwrap_or_else(cli)
            }
            EngineKind::Podman => cli(),
        };
        Program {
            path,
            keep_written: engine.kind() == EngineKind::Docker,
        }
    }

    /// Point a label written for `docker` (`docker`, `/usr/bin/docker`, any `…/docker`,
    /// `docker-latest`) or `podman` at the selected engine's program, as the type says; any
    /// other program (`printenv`, a script) runs as written. Returns the program replaced.
    pub fn rewrite(&self, argv: &mut [String]) -> Option<String> {
        let first = argv.first_mut()?;
        if !is_engine_program(first) || *first == self.path {
            return None;
        }
        // A program this host does not have would only fail: the engine's own runs instead
        // (and, as any replacement, is said).
        if self.keep_written && is_docker_program(first) && first != "docker" && host_has(first) {
            return None;
        }
        Some(std::mem::replace(first, self.path.clone()))
    }

    /// `[program, args…]` as owned strings.
    pub fn argv<I, S>(&self, args: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        std::iter::once(self.path.clone())
            .chain(args.into_iter().map(Into::into))
            .collect()
    }
}

/// A path the label wrote is kept when it is there (exec says so if it cannot run it); a name
/// must be an executable on PATH.
fn host_has(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).is_file();
    }
    atomic_exec::find_program(program).is_some()
}

pub fn is_engine_program(program: &str) -> bool {
    let base = program.rsplit('/').next().unwrap_or(program);
    matches!(base, "docker" | "docker-latest" | "podman")
}

fn is_docker_program(program: &str) -> bool {
    is_engine_program(program) && !program.ends_with("podman")
}

pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

fn current_dir() -> String {
    std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| std::env::var("PWD").unwrap_or_default())
}

/// SUDO_UID and SUDO_GID as the original computed them, with the GID fix its docs promised:
/// kept when set; otherwise the login UID (`/proc/self/loginuid`, when set) or the real UID, and
/// that user's primary group (from NSS: /etc/passwd, LDAP, systemd-userdb…), else the real GID.
fn sudo_ids() -> (String, String) {
    let uid = std::env::var("SUDO_UID").ok().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/self/loginuid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&u| u <= i32::MAX as u32)
            .unwrap_or_else(|| rustix::process::getuid().as_raw())
            .to_string()
    });
    let gid = std::env::var("SUDO_GID").ok().unwrap_or_else(|| {
        primary_gid(&uid).unwrap_or_else(|| rustix::process::getgid().as_raw().to_string())
    });
    (uid, gid)
}

fn primary_gid(uid: &str) -> Option<String> {
    let user = uzers::get_user_by_uid(uid.parse().ok()?)?;
    Some(user.primary_group_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_group_comes_from_the_host_user_database() {
        // root's primary group is 0 on every Linux; an unknown UID or a non-number has none.
        assert_eq!(primary_gid("0").as_deref(), Some("0"));
        assert_eq!(primary_gid("4294967290"), None);
        assert_eq!(primary_gid("root"), None);
    }

    #[test]
    fn engine_programs_are_recognised_by_basename() {
        for p in [
            "docker",
            "/usr/bin/docker",
            "/opt/x/docker",
            "podman",
            "docker-latest",
        ] {
            assert!(is_engine_program(p), "{p}");
        }
        for p in ["printenv", "/usr/bin/dockerd", "mydocker", "/bin/sh"] {
            assert!(!is_engine_program(p), "{p}");
        }
    }

    fn rewritten(program: &Program, argv: &[&str]) -> (Vec<String>, Option<String>) {
        let mut argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let replaced = program.rewrite(&mut argv);
        (argv, replaced)
    }

    #[test]
    fn podman_and_native_replace_the_program_and_say_which() {
        let program = Program {
            path: "podman".into(),
            keep_written: false,
        };
        let (argv, replaced) = rewritten(&program, &["/usr/bin/docker", "docker"]);
        assert_eq!(argv, ["podman", "docker"]);
        assert_eq!(replaced.as_deref(), Some("/usr/bin/docker"));
        assert_eq!(rewritten(&program, &["podman", "ps"]).1, None);
        assert_eq!(
            rewritten(&program, &["printenv"]),
            (vec!["printenv".to_string()], None)
        );
    }

    /// Regression: `--display` on Docker showed `/usr/bin/docker run …` as `docker run …`.
    #[test]
    fn docker_keeps_the_program_as_written() {
        let program = Program {
            path: "docker".into(),
            keep_written: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let installed = dir.path().join("docker");
        std::fs::write(&installed, "").unwrap();
        let installed = installed.to_str().unwrap();
        for written in [installed, "docker", "printenv"] {
            assert_eq!(rewritten(&program, &[written, "run"]).0[0], written);
        }
        // A program the host lacks would only fail: Docker's own runs, and that is said.
        let (argv, replaced) = rewritten(&program, &["/nonexistent/bin/docker", "run"]);
        assert_eq!(argv[0], "docker");
        assert_eq!(replaced.as_deref(), Some("/nonexistent/bin/docker"));
        assert_eq!(rewritten(&program, &["podman", "run"]).0[0], "docker");
        let latest = Program {
            path: "docker-latest".into(),
            keep_written: true,
        };
        let (argv, replaced) = rewritten(&latest, &["docker", "run"]);
        assert_eq!(
            (argv[0].as_str(), replaced.as_deref()),
            ("docker-latest", Some("docker"))
        );
        assert_eq!(
            rewritten(&latest, &["/usr/bin/docker"]).0[0],
            "/usr/bin/docker"
        );
    }
}

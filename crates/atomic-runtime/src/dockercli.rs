//! A `docker`/`podman` command line as data, for the built-in engine.
//!
//! Labels (`RUN`, `INSTALL`, …) are docker command lines. When atomic runs them itself (no
//! daemon), each flag must be either honoured or refused: a silently dropped `--memory` or
//! `-p` would run a container other than the one the image author described. So every flag
//! this module does not model is [`CliError::UnsupportedFlag`], with a hint to run the label
//! through a real engine (`--storage docker|podman`). Splitting options from the image and
//! command is [`atomic_label::parse_run`]'s job; this module gives the options their types.
//! `run`/`create` live in the `run` submodule; the other subcommands are here. Carrying a
//! command out on the built-in engine is [`execute`]'s job, one module per verb.

pub mod execute;
mod netflags;
mod network;
mod run;
mod volumes;

pub use netflags::{NetOptions, NetworkMode};
pub use network::NetworkCommand;
pub use run::{
    DeviceRequest, EnvEntry, RestartPolicy, RunRequest, SeccompOpt, SecurityOpts, Ulimit,
};
pub use volumes::{MountKind, MountRequest, Propagation, Relabel};

use atomic_label::{RunOpt, parse_run, subcommand};

/// One docker/podman command the built-in engine can carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerCommand {
    /// `run` or `create` (then [`RunRequest::create_only`] is set).
    Run(Box<RunRequest>),
    Start {
        attach: bool,
        interactive: bool,
        names: Vec<String>,
    },
    Stop {
        /// Seconds to wait before SIGKILL (`-t`/`--time`).
        time: Option<u32>,
        names: Vec<String>,
    },
    Rm {
        force: bool,
        volumes: bool,
        names: Vec<String>,
    },
    Exec(ExecRequest),
    Kill {
        signal: Option<String>,
        names: Vec<String>,
    },
    Logs(LogsArgs),
    Inspect {
        format: Option<String>,
        names: Vec<String>,
    },
    Pull {
        image: String,
    },
    /// `network create|rm|ls|inspect`.
    Network(NetworkCommand),
    /// `port NAME [PORT[/PROTO]]`.
    Port {
        name: String,
        port: Option<String>,
    },
}

/// `logs [-f] [-n|--tail N] [--since T] [--until T] [-t] NAME`, values as given (read by
/// `logs::show::LogsRequest::from_args`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogsArgs {
    pub follow: bool,
    /// `all` or a number.
    pub tail: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub timestamps: bool,
    pub name: String,
}

/// `exec [-i] [-t] [-d] [-e K=V] [-u U] [-w DIR] [--privileged] NAME CMD…`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecRequest {
    pub interactive: bool,
    pub tty: bool,
    pub detach: bool,
    pub privileged: bool,
    pub env: Vec<EnvEntry>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub name: String,
    pub command: Vec<String>,
}

/// Why a command line cannot be run by the built-in engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("no subcommand in '{0}'")]
    MissingSubcommand(String),
    #[error(
        "global option(s) {0} before the subcommand are not supported by the built-in engine; \
         run this command with --storage docker or --storage podman"
    )]
    GlobalOption(String),
    #[error(
        "subcommand '{0}' is not supported by the built-in engine; \
         run this command with --storage docker or --storage podman"
    )]
    UnsupportedSubcommand(String),
    #[error(
        "option '{flag}' is not supported by the built-in engine; \
         run this command with --storage docker or --storage podman"
    )]
    UnsupportedFlag { flag: String },
    #[error("option '{0}' needs a value")]
    MissingValue(String),
    #[error("invalid value in '{flag}': {reason}")]
    InvalidValue { flag: String, reason: String },
    #[error(
        "'{0}': named volumes are not supported by the built-in engine; give an absolute host \
         path (-v /host/dir:/dir), or use --storage docker or --storage podman"
    )]
    NamedVolume(String),
    #[error(
        "'{0}': anonymous volumes are not supported by the built-in engine; give a host path \
         (-v /host/dir:/dir), or use --storage docker or --storage podman"
    )]
    AnonymousVolume(String),
    #[error("'{0}' needs {1}")]
    MissingArgument(String, &'static str),
    #[error("unexpected argument '{arg}' after '{command}'")]
    ExtraArgument { command: String, arg: String },
}

impl CliError {
    pub(crate) fn invalid(opt: &RunOpt, reason: impl Into<String>) -> Self {
        CliError::InvalidValue {
            flag: opt.written.clone(),
            reason: reason.into(),
        }
    }
}

/// Read a docker/podman argv (`argv[0]` is the program) into a [`DockerCommand`].
pub fn parse(argv: &[String]) -> Result<DockerCommand, CliError> {
    let joined = || argv.join(" ");
    let index = subcommand(argv).ok_or_else(|| CliError::MissingSubcommand(joined()))?;
    if index > 1 {
        return Err(CliError::GlobalOption(argv[1..index].join(" ")));
    }
    let mut sub = argv[index].as_str();
    let mut rest = &argv[index + 1..];
    if sub == "container" {
        let (next, tail) = rest
            .split_first()
            .ok_or_else(|| CliError::MissingSubcommand(joined()))?;
        sub = next.as_str();
        rest = tail;
    }
    match sub {
        "run" | "create" => Ok(DockerCommand::Run(Box::new(run::parse(
            rest,
            sub == "create",
        )?))),
        "exec" => parse_exec(rest).map(DockerCommand::Exec),
        "network" => network::parse(rest).map(DockerCommand::Network),
        "port" => network::parse_port(rest),
        "start" | "stop" | "rm" | "kill" | "logs" | "inspect" | "pull" => parse_simple(sub, rest),
        other => Err(CliError::UnsupportedSubcommand(other.to_string())),
    }
}

/// Go's `strconv.ParseBool`, which docker uses for `--flag=value` on a boolean flag.
pub(crate) fn flag_bool(opt: &RunOpt) -> Result<bool, CliError> {
    match opt.value.as_deref() {
        None => Ok(true),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(_) => Err(CliError::invalid(opt, "expected true or false")),
    }
}

pub(crate) fn flag_value(opt: &RunOpt) -> Result<&str, CliError> {
    opt.value
        .as_deref()
        .ok_or_else(|| CliError::MissingValue(opt.written.clone()))
}

fn unsupported(opt: &RunOpt) -> CliError {
    CliError::UnsupportedFlag {
        flag: opt.written.clone(),
    }
}

fn parse_exec(words: &[String]) -> Result<ExecRequest, CliError> {
    let args = parse_run(words);
    let mut req = ExecRequest::default();
    for opt in &args.options {
        match opt.flag.as_str() {
            "--interactive" => req.interactive = flag_bool(opt)?,
            "--tty" => req.tty = flag_bool(opt)?,
            "--detach" => req.detach = flag_bool(opt)?,
            "--privileged" => req.privileged = flag_bool(opt)?,
            "--env" => req.env.push(EnvEntry::parse(flag_value(opt)?)),
            "--user" => req.user = Some(flag_value(opt)?.to_string()),
            "--workdir" => req.workdir = Some(flag_value(opt)?.to_string()),
            _ => return Err(unsupported(opt)),
        }
    }
    req.name = args
        .image
        .ok_or_else(|| CliError::MissingArgument("exec".into(), "a container name"))?;
    if args.command.is_empty() {
        return Err(CliError::MissingArgument("exec".into(), "a command"));
    }
    req.command = args.command;
    Ok(req)
}

/// The options of the small subcommands: (short, long, takes a value).
fn simple_options(sub: &str) -> &'static [(Option<char>, &'static str, bool)] {
    match sub {
        "start" => &[
            (Some('a'), "attach", false),
            (Some('i'), "interactive", false),
        ],
        "stop" => &[(Some('t'), "time", true), (None, "timeout", true)],
        "rm" => &[(Some('f'), "force", false), (Some('v'), "volumes", false)],
        "kill" => &[(Some('s'), "signal", true)],
        "logs" => &[
            (Some('f'), "follow", false),
            (Some('n'), "tail", true),
            (None, "since", true),
            (None, "until", true),
            (Some('t'), "timestamps", false),
        ],
        "inspect" => &[(Some('f'), "format", true)],
        _ => &[],
    }
}

/// Split options (pflag style: interspersed with positionals, grouped short booleans,
/// `--x=v`, `--`) from positional words for the small subcommands.
fn split_simple(sub: &str, words: &[String]) -> Result<(Vec<RunOpt>, Vec<String>), CliError> {
    split_with(simple_options(sub), words)
}

/// Options (short, long, takes a value) of a small subcommand.
pub(crate) type OptionTable = [(Option<char>, &'static str, bool)];

pub(crate) fn split_with(
    table: &OptionTable,
    words: &[String],
) -> Result<(Vec<RunOpt>, Vec<String>), CliError> {
    let (mut opts, mut positional) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if word == "--" {
            positional.extend_from_slice(&words[i..]);
            break;
        }
        let mut take = |long: &str, inline: Option<String>, written: String| {
            let entry = table.iter().find(|(_, l, _)| *l == long);
            let Some((_, long, takes)) = entry else {
                return Err(CliError::UnsupportedFlag { flag: written });
            };
            let (value, written) = match inline {
                Some(v) => (Some(v), written),
                None if *takes => {
                    let v = words
                        .get(i)
                        .ok_or_else(|| CliError::MissingValue(written.clone()))?;
                    i += 1;
                    (Some(v.clone()), format!("{written} {v}"))
                }
                None => (None, written),
            };
            opts.push(RunOpt {
                flag: format!("--{long}"),
                value,
                written,
            });
            Ok(())
        };
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            take(name, inline, word.clone())?;
        } else if word.len() > 1 && word.starts_with('-') {
            let body = &word[1..];
            for (pos, c) in body.char_indices() {
                let Some((_, long, takes)) = table.iter().find(|(s, _, _)| *s == Some(c)) else {
                    return Err(CliError::UnsupportedFlag {
                        flag: format!("-{c}"),
                    });
                };
                let rest = &body[pos + c.len_utf8()..];
                if *takes && !rest.is_empty() {
                    let v = rest.strip_prefix('=').unwrap_or(rest).to_string();
                    take(long, Some(v), word.clone())?;
                    break;
                }
                take(long, None, format!("-{c}"))?;
            }
        } else {
            positional.push(word.clone());
        }
    }
    Ok((opts, positional))
}

fn parse_simple(sub: &str, words: &[String]) -> Result<DockerCommand, CliError> {
    let (opts, mut names) = split_simple(sub, words)?;
    let need = |names: &[String], what| {
        if names.is_empty() {
            Err(CliError::MissingArgument(sub.to_string(), what))
        } else {
            Ok(())
        }
    };
    let single = |names: &mut Vec<String>, what| -> Result<String, CliError> {
        need(names, what)?;
        if names.len() > 1 {
            return Err(CliError::ExtraArgument {
                command: sub.to_string(),
                arg: names[1].clone(),
            });
        }
        Ok(names.remove(0))
    };
    let get = |long: &str| opts.iter().rev().find(|o| o.flag == long);
    let boolean = |long: &str| get(long).map_or(Ok(false), flag_bool);
    let string = |long: &str| -> Result<Option<String>, CliError> {
        get(long)
            .map(|o| flag_value(o).map(str::to_string))
            .transpose()
    };
    let number = |long: &str| -> Result<Option<u32>, CliError> {
        get(long)
            .map(|o| {
                let v = flag_value(o)?;
                v.parse()
                    .map_err(|_| CliError::invalid(o, format!("'{v}' is not a number of seconds")))
            })
            .transpose()
    };
    Ok(match sub {
        "start" => {
            need(&names, "a container name")?;
            DockerCommand::Start {
                attach: boolean("--attach")?,
                interactive: boolean("--interactive")?,
                names,
            }
        }
        "stop" => {
            need(&names, "a container name")?;
            let time = match number("--time")? {
                Some(t) => Some(t),
                None => number("--timeout")?,
            };
            DockerCommand::Stop { time, names }
        }
        "rm" => {
            need(&names, "a container name")?;
            DockerCommand::Rm {
                force: boolean("--force")?,
                volumes: boolean("--volumes")?,
                names,
            }
        }
        "kill" => {
            need(&names, "a container name")?;
            DockerCommand::Kill {
                signal: string("--signal")?,
                names,
            }
        }
        "logs" => DockerCommand::Logs(LogsArgs {
            follow: boolean("--follow")?,
            tail: string("--tail")?,
            since: string("--since")?,
            until: string("--until")?,
            timestamps: boolean("--timestamps")?,
            name: single(&mut names, "a container name")?,
        }),
        "inspect" => {
            need(&names, "a container or image name")?;
            DockerCommand::Inspect {
                format: string("--format")?,
                names,
            }
        }
        _ => DockerCommand::Pull {
            image: single(&mut names, "an image")?,
        },
    })
}

#[cfg(test)]
#[path = "dockercli_tests.rs"]
mod tests;

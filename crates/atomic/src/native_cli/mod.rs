//! Carrying out a label's `docker …` command line on the native engine, with no daemon.
//!
//! Labels are written for docker. On the native storage atomic reads the command line as data
//! (`atomic_runtime::dockercli`: every flag honoured or refused by name) and does what docker
//! would: create the container, run it in the foreground or under a supervisor, stop, remove,
//! exec, show logs.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};

use atomic_engine::NativeEngine;
use atomic_runtime::dockercli::{self, DockerCommand, EnvEntry, ExecRequest, LogsArgs, RunRequest};
use atomic_runtime::logs::show::{LogsRequest, Terminal};
use atomic_runtime::signals::{exit_code, wait_forwarding};
use atomic_runtime::{ExecOptions, Record, Runner, Status};

use crate::output;

pub(crate) mod network;
mod port;

/// The hidden verb that supervises a detached container (see `atomic_runtime::supervise`).
pub const SUPERVISE_VERB: &str = "supervise-container";

/// Carry out `argv` (a docker/podman command line); returns its exit code. `env` are the
/// variables atomic sets for the label (NAME, IMAGE…): a bare `-e NAME` reads them.
pub async fn execute(
    argv: &[String],
    env: &[(String, String)],
    native: &NativeEngine,
) -> Result<i32> {
    let command = dockercli::parse(argv).map_err(|e| anyhow!("{e}"))?;
    match command {
        DockerCommand::Run(request) => run(&request, env, native).await,
        DockerCommand::Start { attach, names, .. } => {
            for name in &names {
                let (runner, mut record) = require(native, name)?;
                if runner.status(&record)? == Status::Running {
                    output::line(name)?;
                    continue;
                }
                if attach {
                    return runner.run_foreground(&mut record).await;
                }
                start_detached(native, &runner, &record)?;
                output::line(name)?;
            }
            Ok(0)
        }
        DockerCommand::Stop { time, names } => {
            for name in &names {
                native.stop(name, time, None)?;
                output::line(name)?;
            }
            Ok(0)
        }
        DockerCommand::Rm { force, names, .. } => {
            for name in &names {
                native.remove_container(name, force)?;
                output::line(name)?;
            }
            Ok(0)
        }
        DockerCommand::Kill { signal, names } => {
            let signal = signal.unwrap_or_else(|| "SIGKILL".to_string());
            for name in &names {
                let (runner, record) = require(native, name)?;
                if runner.status(&record)? != Status::Running {
                    bail!("container {name} is not running");
                }
                runner
                    .runtime_for(&record)
                    .kill(&record.id, &signal, false)?;
                output::line(name)?;
            }
            Ok(0)
        }
        DockerCommand::Exec(request) => exec(&request, env, native).await,
        DockerCommand::Logs(args) => logs(native, &args),
        DockerCommand::Inspect { format, names } => inspect(native, &names, format.as_deref()),
        DockerCommand::Pull { image } => {
            pull(native, &image).await?;
            Ok(0)
        }
        DockerCommand::Network(command) => network::execute(native, &command),
        DockerCommand::Port { name, port } => port::execute(native, &name, port.as_deref()),
    }
}

async fn run(request: &RunRequest, env: &[(String, String)], native: &NativeEngine) -> Result<i32> {
    // One resolution decides the pull and makes the container: resolving the name again
    // costs a read of the index, manifest and config, and could find another image if the
    // name moved in between.
    let image = match native.resolve(&request.image)? {
        Some(found) => found,
        None => {
            eprintln!("Unable to find image '{}' locally", request.image);
            let pulled = pull(native, &request.image).await?;
            (native.store()?, pulled.image)
        }
    };
    let (runner, mut record) = native.create_container(request, image, env)?;
    if request.create_only {
        output::line(&record.id)?;
        return Ok(0);
    }
    if request.detach {
        start_detached(native, &runner, &record)?;
        output::line(&record.id)?;
        return Ok(0);
    }
    runner.run_foreground(&mut record).await
}

/// Start a container under a supervisor: `atomic supervise-container …`, this very binary.
fn start_detached(native: &NativeEngine, runner: &Runner, record: &Record) -> Result<()> {
    let exe = std::env::current_exe().context("finding atomic's own executable")?;
    let args = [
        SUPERVISE_VERB.to_string(),
        "--store-root".to_string(),
        native.root().to_string_lossy().into_owned(),
        "--runtime".to_string(),
        record.runtime.clone(),
    ];
    runner.start_detached(record, &exe, &args)
}

async fn exec(
    request: &ExecRequest,
    env: &[(String, String)],
    native: &NativeEngine,
) -> Result<i32> {
    let (runner, record) = require(native, &request.name)?;
    let lookup = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(key).ok())
    };
    let mut vars = Vec::new();
    for entry in &request.env {
        match entry {
            EnvEntry::Set(k, v) => vars.push(format!("{k}={v}")),
            EnvEntry::FromHost(k) => {
                if let Some(v) = lookup(k) {
                    vars.push(format!("{k}={v}"));
                }
            }
            EnvEntry::File(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading env file {}", path.display()))?;
                vars.extend(
                    atomic_runtime::spec::parse_env_file(&text, &lookup)
                        .into_iter()
                        .map(|(k, v)| format!("{k}={v}")),
                );
            }
        }
    }
    let opts = ExecOptions {
        tty: request.tty,
        detach: request.detach,
        env: vars,
        user: request.user.clone(),
        cwd: request.workdir.clone(),
        privileged: request.privileged,
    };
    let mut cmd =
        tokio::process::Command::from(runner.exec_command(&record, &opts, &request.command)?);
    if !request.interactive {
        cmd.stdin(std::process::Stdio::null());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| runner.runtime_for(&record).spawn_error(e))?;
    Ok(exit_code(wait_forwarding(&mut child).await?))
}

/// `docker logs`: what a detached container wrote, from its log driver (json-file, journald).
fn logs(native: &NativeEngine, args: &LogsArgs) -> Result<i32> {
    let request = &LogsRequest::from_args(args)?;
    let (runner, record) = require(native, &args.name)?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut term = Terminal {
        out: &mut out,
        err: &mut err,
    };
    match atomic_runtime::logs::show::show(&runner, &record, request, &mut term) {
        // `docker logs NAME | head` ends quietly when its reader goes away.
        Err(e) if is_broken_pipe(&e) => Ok(0),
        result => result.map(|()| 0),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `docker inspect`: the fields scripts read, in docker's shape; `--format` takes field paths
/// (`{{.State.Status}}`), the part of Go templates scripts use most.
fn inspect(native: &NativeEngine, names: &[String], format: Option<&str>) -> Result<i32> {
    let mut items = Vec::new();
    for name in names {
        let (runner, record) = require(native, name)?;
        let status = runner.status(&record)?;
        items.push(serde_json::json!({
            "Id": record.id,
            "Name": format!("/{}", record.name),
            "Created": record.created,
            "Image": format!("sha256:{}", record.image_id),
            "State": {
                "Status": status.as_str(),
                "Running": status == Status::Running,
                "ExitCode": record.exit_code().unwrap_or(0),
            },
            "Config": {
                "Image": record.image,
                "Cmd": record.command,
                "Labels": record.labels,
                "Tty": record.tty,
                "OpenStdin": record.interactive,
            },
            "HostConfig": {
                "AutoRemove": record.auto_remove,
                "Runtime": record.runtime,
                "LogConfig": record.log.inspect(),
                "PortBindings": port::bindings(&record),
            },
            "LogPath": record.log.log_path(&runner.containers.dir(&record.id)),
            "NetworkSettings": port::network_settings(&record),
        }));
    }
    match format {
        Some(format) => {
            for item in &items {
                output::line(&render_template(format, item)?)?;
            }
        }
        None => output::line(&serde_json::to_string_pretty(&items)?)?,
    }
    Ok(0)
}

/// Fill `{{.A.B}}` in `format` from `value`: strings as they are, anything else as JSON.
fn render_template(format: &str, value: &serde_json::Value) -> Result<String> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("--format '{format}': '{{{{' without '}}}}'"))?;
        let path = after[..end].trim();
        let unsupported = || {
            anyhow!(
                "--format '{format}': only field paths like {{{{.State.Status}}}} are supported \
                 by the built-in engine; use --storage docker or --storage podman"
            )
        };
        let fields = path.strip_prefix('.').ok_or_else(unsupported)?;
        let mut field = value;
        for name in fields.split('.') {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(unsupported());
            }
            field = &field[name];
        }
        match field {
            serde_json::Value::String(s) => out.push_str(s),
            serde_json::Value::Null => out.push_str("<no value>"),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

async fn pull(native: &NativeEngine, image: &str) -> Result<atomic_store::Pulled> {
    let source = atomic_store::Source::parse(image)?;
    Ok(native
        .pull(&source, &atomic_store::PullOptions::default())
        .await?)
}

fn require(native: &NativeEngine, name: &str) -> Result<(Runner, Record)> {
    Ok(native.require_container(name)?)
}

/// The hidden verb's arguments.
#[derive(clap::Args, Debug)]
pub struct SuperviseArgs {
    #[arg(long)]
    store_root: PathBuf,
    #[arg(long)]
    runtime: String,
    id: String,
}

/// The body of the hidden verb: supervise one detached container until it is done.
pub fn supervise(args: SuperviseArgs) -> Result<i32> {
    let store = atomic_store::Store::open(&args.store_root)?;
    let runner = Runner::new(store, &args.runtime);
    atomic_runtime::supervise::supervise(&runner, &args.id)?;
    Ok(0)
}

/// The hidden verb that carries out a docker command line on the native engine, as a label's
/// would be: for scripts and tests that set up containers the way a label does.
#[derive(clap::Args, Debug)]
pub struct NativeDockerArgs {
    /// The command line, program first (`docker run --rm IMAGE true`)
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    argv: Vec<String>,
}

pub async fn native_docker(args: NativeDockerArgs, config: &crate::config::Config) -> Result<i32> {
    let native = NativeEngine::with_settings(&config.engine_settings());
    execute(&args.argv, &[], &native).await
}

#[cfg(test)]
mod tests {
    use super::render_template;

    #[test]
    fn templates_take_field_paths_only() {
        let v = serde_json::json!({"Id": "abc", "State": {"Status": "running", "Running": true}});
        assert_eq!(render_template("{{.Id}}", &v).unwrap(), "abc");
        assert_eq!(
            render_template("{{ .State.Status }}/{{.State.Running}}", &v).unwrap(),
            "running/true"
        );
        assert_eq!(render_template("{{.Nope}}", &v).unwrap(), "<no value>");
        assert!(render_template("{{json .State}}", &v).is_err());
        assert!(render_template("{{.Id", &v).is_err());
    }
}

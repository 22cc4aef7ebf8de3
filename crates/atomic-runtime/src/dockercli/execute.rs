//! Carrying out a parsed `docker …` command line on the built-in engine, with no daemon: one
//! module per docker verb, as the parser beside it has one type per verb.
//!
//! Labels are written for docker. On the native storage atomic reads the command line as data
//! ([`parse`](super::parse): every flag honoured or refused by name) and does what docker would:
//! create the container, run it in the foreground or under a supervisor, stop, remove, exec,
//! show logs, inspect, pull, manage networks.
//!
//! The executor reaches the image store and the containers through [`Engine`] and
//! [`Container`]: the native engine (`atomic-engine`, which depends on this crate) implements
//! `Engine`; [`NativeContainer`] is a container of this crate's [`Runner`](crate::Runner). The
//! unit tests drive the executor with a recording fake instead, without root or runc.
//!
//! What a verb prints on stdout goes to the writer the caller passes (the binary's stdout); the
//! return value is the exit code docker would give, the container's own for `run`, `start -a`
//! and `exec`.

mod container;
mod exec;
mod inspect;
mod kill;
mod logs;
mod network;
mod port;
mod pull;
mod rm;
mod run;
mod start;
mod stop;
mod template;

use std::io::Write;

use anyhow::{Context, Result, anyhow};

use super::{DockerCommand, RunRequest};
use crate::ExecOptions;
use crate::logs::show::{LogsRequest, Terminal};
use crate::network::Networks;
use crate::state::{Record, Status};

pub use container::NativeContainer;
pub use network::execute as execute_network;

/// What the executor needs of an engine: its images and its containers. Futures need not be
/// `Send`: atomic runs one command at a time on a current-thread runtime.
#[allow(async_fn_in_trait)]
pub trait Engine {
    /// An image found or pulled, handed back to [`Engine::create`]: one resolution decides the
    /// pull and makes the container (resolving the name again could find another image if the
    /// name moved in between).
    type Image;
    type Container: Container;

    /// The image a name, ID or ID prefix designates, if the store has it.
    fn find_image(&self, name: &str) -> Result<Option<Self::Image>>;
    /// Pull `name` from its registry (or archive) into the store.
    async fn pull(&self, name: &str) -> Result<Self::Image>;
    /// Create the container `request` describes, not started. `env` are the variables atomic
    /// sets for a label: a bare `-e NAME` takes its value from them.
    fn create(
        &self,
        request: &RunRequest,
        image: Self::Image,
        env: &[(String, String)],
    ) -> Result<Self::Container>;
    /// The container a name, ID or ID prefix designates; an error naming it when none does.
    fn container(&self, name: &str) -> Result<Self::Container>;
    /// Stop a container: its stop signal, then SIGKILL after `timeout` seconds (else its own
    /// or docker's default).
    fn stop(&self, name: &str, timeout: Option<u32>) -> Result<()>;
    /// Remove a container; a running one only with `force` (it is killed first).
    fn remove(&self, name: &str, force: bool) -> Result<()>;
    /// The store's bridge networks.
    fn networks(&self) -> Networks;
}

/// One container of an [`Engine`], found or just created.
#[allow(async_fn_in_trait)]
pub trait Container {
    fn record(&self) -> &Record;
    /// Its true status (the runtime's word, not only the record's).
    fn status(&self) -> Result<Status>;
    /// Run it attached to atomic's terminal; its exit code.
    async fn run_foreground(&mut self) -> Result<i32>;
    /// Start it under a supervisor and return once its process runs.
    fn start_detached(&self) -> Result<()>;
    /// Send `signal` (a name like `SIGTERM` or a number) to its process.
    fn kill(&self, signal: &str) -> Result<()>;
    /// Run `command` inside it (it must be running); the command's exit code.
    /// Without `interactive` the command's stdin is /dev/null.
    async fn exec(&self, opts: &ExecOptions, command: &[String], interactive: bool) -> Result<i32>;
    /// Print what it wrote, from its log driver.
    fn show_logs(&self, request: &LogsRequest, term: &mut Terminal<'_>) -> Result<()>;
    /// docker's `LogPath`: the json-file log, or "" for a driver without a file.
    fn log_path(&self) -> String;
}

/// Carry out `argv` (a docker/podman command line, program first) on `engine`, printing on
/// `out`; returns the exit code. `env` are the variables atomic sets for the label (NAME,
/// IMAGE…): a bare `-e NAME` reads them.
pub async fn execute<E: Engine>(
    argv: &[String],
    env: &[(String, String)],
    engine: &E,
    out: &mut dyn Write,
) -> Result<i32> {
    let command = super::parse(argv).map_err(|e| anyhow!("{e}"))?;
    match command {
        DockerCommand::Run(request) => run::execute(engine, &request, env, out).await,
        DockerCommand::Start { attach, names, .. } => {
            start::execute(engine, &names, attach, out).await
        }
        DockerCommand::Stop { time, names } => stop::execute(engine, &names, time, out),
        DockerCommand::Rm { force, names, .. } => rm::execute(engine, &names, force, out),
        DockerCommand::Kill { signal, names } => {
            kill::execute(engine, &names, signal.as_deref(), out)
        }
        DockerCommand::Exec(request) => exec::execute(engine, &request, env).await,
        DockerCommand::Logs(args) => logs::execute(engine, &args, out),
        DockerCommand::Inspect { format, names } => {
            inspect::execute(engine, &names, format.as_deref(), out)
        }
        DockerCommand::Pull { image } => pull::execute(engine, &image).await,
        DockerCommand::Network(command) => network::execute(&engine.networks(), &command, out),
        DockerCommand::Port { name, port } => {
            port::execute(&engine.container(&name)?, port.as_deref(), out)
        }
    }
}

/// Write one line of a verb's output.
fn line(out: &mut dyn Write, text: &str) -> Result<()> {
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

#[cfg(test)]
mod tests;

//! A container of the built-in engine as the executor sees it: its [`Runner`] and [`Record`].

use anyhow::{Context, Result};

use super::Container;
use crate::logs::show::{LogsRequest, Terminal};
use crate::signals::{exit_code, wait_forwarding};
use crate::state::{Record, Status};
use crate::{ExecOptions, Runner, supervise};

/// A container found in, or just created by, the native engine.
pub struct NativeContainer {
    pub runner: Runner,
    pub record: Record,
}

impl Container for NativeContainer {
    fn record(&self) -> &Record {
        &self.record
    }

    fn status(&self) -> Result<Status> {
        self.runner.status(&self.record)
    }

    async fn run_foreground(&mut self) -> Result<i32> {
        self.runner.run_foreground(&mut self.record).await
    }

    /// The supervisor is atomic itself, this very binary, run as its hidden verb.
    fn start_detached(&self) -> Result<()> {
        let exe = std::env::current_exe().context("finding atomic's own executable")?;
        let args = supervise::verb_args(self.runner.store.root(), &self.record.runtime);
        self.runner.start_detached(&self.record, &exe, &args)
    }

    fn kill(&self, signal: &str) -> Result<()> {
        self.runner
            .runtime_for(&self.record)
            .kill(&self.record.id, signal, false)
    }

    async fn exec(&self, opts: &ExecOptions, command: &[String], interactive: bool) -> Result<i32> {
        let (runner, record) = (&self.runner, &self.record);
        let mut cmd = tokio::process::Command::from(runner.exec_command(record, opts, command)?);
        if !interactive {
            cmd.stdin(std::process::Stdio::null());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| runner.runtime_for(record).spawn_error(e))?;
        Ok(exit_code(wait_forwarding(&mut child).await?))
    }

    fn show_logs(&self, request: &LogsRequest, term: &mut Terminal<'_>) -> Result<()> {
        crate::logs::show::show(&self.runner, &self.record, request, term)
    }

    fn log_path(&self) -> String {
        let dir = self.runner.containers.dir(&self.record.id);
        self.record.log.log_path(&dir)
    }
}

//! The one seam through which atomic drives systemd: `systemctl` and `systemd-tmpfiles`.
//! [`SystemdCli`] runs them for real and prints each command that changes something before it
//! runs (as the original did); tests record the calls instead.

use anyhow::Result;
use atomic_exec::Task;

/// What systemd tells about a unit, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitState {
    Running,
    Failed,
    Inactive,
}

impl UnitState {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitState::Running => "running",
            UnitState::Failed => "failed",
            UnitState::Inactive => "inactive",
        }
    }
}

pub trait Systemd {
    /// `systemctl [--user] ARGS…`, printed first; an error carries systemctl's stderr.
    fn systemctl(&self, args: &[&str]) -> Result<()>;
    /// `systemd-tmpfiles [--user] ARGS…`, printed first.
    fn tmpfiles(&self, args: &[&str]) -> Result<()>;
    /// Is the unit active (running, or reloading)?
    fn is_active(&self, unit: &str) -> bool;
    /// The unit's state for listings.
    fn state(&self, unit: &str) -> UnitState;
    /// After a start: does the unit stay active for a moment? A `Type=simple` unit's start
    /// succeeds as soon as runc is forked, so a container that cannot run shows only as the
    /// unit failing (or restarting) right after.
    fn stays_active(&self, unit: &str) -> bool;
}

/// How long a started unit must stay active to count as started, and how often to look.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(1500);
const POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// The real systemctl and systemd-tmpfiles, for the system manager or the user's.
#[derive(Debug, Clone, Copy)]
pub struct SystemdCli {
    pub user: bool,
    /// Print nothing (`--quiet`).
    pub quiet: bool,
}

impl SystemdCli {
    fn argv<'a>(&self, program: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        let mut argv = vec![program];
        if self.user {
            argv.push("--user");
        }
        argv.extend_from_slice(args);
        argv
    }

    fn task(&self, program: &str, args: &[&str]) -> Task {
        Task::new("systemd", program).args(self.argv(program, args).split_off(1))
    }

    fn run_printed(&self, program: &str, args: &[&str]) -> Result<()> {
        self.task(program, args).verbose(!self.quiet).run()?;
        Ok(())
    }

    /// `systemctl is-active UNIT`'s word: active, activating, failed, inactive…
    fn active_state(&self, unit: &str) -> String {
        self.task("systemctl", &["is-active", unit])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }
}

impl Systemd for SystemdCli {
    fn systemctl(&self, args: &[&str]) -> Result<()> {
        self.run_printed("systemctl", args)
    }

    fn tmpfiles(&self, args: &[&str]) -> Result<()> {
        self.run_printed("systemd-tmpfiles", args)
    }

    fn is_active(&self, unit: &str) -> bool {
        self.state(unit) == UnitState::Running
    }

    fn stays_active(&self, unit: &str) -> bool {
        let deadline = std::time::Instant::now() + SETTLE;
        while std::time::Instant::now() < deadline {
            // "activating" here is systemd's auto-restart of a unit whose process died.
            if self.active_state(unit) != "active" {
                return false;
            }
            std::thread::sleep(POLL);
        }
        true
    }

    fn state(&self, unit: &str) -> UnitState {
        match self.active_state(unit).as_str() {
            "active" | "reloading" => UnitState::Running,
            "failed" => UnitState::Failed,
            _ => UnitState::Inactive,
        }
    }
}

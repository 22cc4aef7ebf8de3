//! Where a detached container's output goes, and how `docker logs` reads it back: Docker's log
//! drivers on the built-in engine.
//!
//! - `json-file` (the default, as Docker's): one JSON object per line in the container's
//!   directory, `{"log":"…\n","stream":"stdout","time":"RFC 3339"}` ([`jsonfile`]);
//! - `journald`: each line a journal entry with Docker's fields (`CONTAINER_NAME`,
//!   `CONTAINER_ID`, `SYSLOG_IDENTIFIER`, …), stdout at priority 6 and stderr at 3
//!   ([`journald`]), read back with `journalctl`;
//! - `none`: nothing is kept; `docker logs` says so.
//!
//! The supervisor (`supervise.rs`) gives the container pipes and copies what comes out of them,
//! line by line, into the driver ([`pump`]); the driver and the tag are fixed when the
//! container is created and kept in its record. Foreground containers keep the terminal.

pub mod journald;
pub mod jsonfile;
pub mod pump;
pub mod show;
pub mod since;
mod tag;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use tag::{TagInfo, Template};

/// A log driver of the built-in engine (`--log-driver`, atomic.conf `log_driver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    #[default]
    JsonFile,
    Journald,
    None,
}

impl LogDriver {
    pub fn as_str(self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::Journald => "journald",
            LogDriver::None => "none",
        }
    }
}

impl fmt::Display for LogDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogDriver {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json-file" => Ok(LogDriver::JsonFile),
            "journald" => Ok(LogDriver::Journald),
            "none" => Ok(LogDriver::None),
            other => Err(format!(
                "unknown log driver '{other}': the built-in engine has json-file, journald and \
                 none; use --storage docker or --storage podman for other drivers"
            )),
        }
    }
}

/// How one container logs, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// The rendered `--log-opt tag=…` (Docker's default is the short ID): the journal's
    /// `SYSLOG_IDENTIFIER` and `CONTAINER_TAG`.
    #[serde(default)]
    pub tag: String,
}

impl LogConfig {
    /// The log settings of a new container: `driver` (else json-file) and the tag `template`
    /// (else Docker's `{{.ID}}`) rendered for `info`.
    pub fn new(driver: Option<LogDriver>, template: Option<&Template>, info: &TagInfo) -> Self {
        let tag = match template {
            Some(t) => t.render(info),
            None => Template::default().render(info),
        };
        LogConfig {
            driver: driver.unwrap_or_default(),
            tag,
        }
    }

    /// Whether this driver can be used on this host now: journald's socket must answer, else a
    /// container would be made that cannot log (checked before it is created).
    pub fn check_available(&self) -> anyhow::Result<()> {
        match self.driver {
            LogDriver::Journald => journald::check_socket(std::path::Path::new(journald::SOCKET)),
            LogDriver::JsonFile | LogDriver::None => Ok(()),
        }
    }
}

/// One of the two output streams of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Docker's cut for long lines: a line longer than this is logged in pieces of this size, each
/// marked partial (journald's own line limit is larger, but Docker's readers expect this one).
pub const MAX_LINE: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_parse_by_docker_name_and_refuse_others() {
        for driver in [LogDriver::JsonFile, LogDriver::Journald, LogDriver::None] {
            assert_eq!(driver.as_str().parse::<LogDriver>(), Ok(driver));
        }
        let err = "syslog".parse::<LogDriver>().unwrap_err();
        assert!(
            err.contains("'syslog'") && err.contains("--storage docker"),
            "{err}"
        );
    }

    #[test]
    fn records_without_log_settings_read_as_json_file() {
        let config: LogConfig = serde_json::from_str(r#"{"driver":"journald"}"#).unwrap();
        assert_eq!(config.driver, LogDriver::Journald);
        assert_eq!(config.tag, "");
        assert_eq!(LogConfig::default().driver, LogDriver::JsonFile);
    }
}

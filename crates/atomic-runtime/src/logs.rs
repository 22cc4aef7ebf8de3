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

use std::collections::BTreeMap;
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

/// The `--log-opt KEY=VALUE`s the built-in engine takes, as read from a command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogOpts {
    /// `tag`: every driver but none.
    pub tag: Option<Template>,
    /// `max-size` (json-file): the size past which the file is rotated.
    pub max_size: Option<u64>,
    /// `max-file` (json-file, with max-size): how many files are kept, the current included.
    pub max_file: Option<u32>,
    /// `labels=K1,K2`: container labels logged with every line.
    pub labels: Vec<String>,
    /// `env=K1,K2`: container environment variables logged with every line.
    pub env: Vec<String>,
}

impl LogOpts {
    /// Take one `KEY=VALUE`; an error says what is wrong and what is accepted.
    pub fn set(&mut self, option: &str) -> Result<(), String> {
        let Some((key, value)) = option.split_once('=') else {
            return Err("expected KEY=VALUE".into());
        };
        match key {
            "tag" => self.tag = Some(Template::parse(value)?),
            "max-size" => {
                self.max_size = Some(size(value).ok_or_else(|| {
                    format!("max-size '{value}': expected a size such as 10m, 512k or 1g")
                })?)
            }
            "labels" => self.labels.extend(list(value)),
            "env" => self.env.extend(list(value)),
            "max-file" => match value.parse::<u32>() {
                Ok(n) if n >= 1 => self.max_file = Some(n),
                _ => {
                    return Err(format!(
                        "max-file '{value}': expected a whole number, 1 or more"
                    ));
                }
            },
            _ => {
                return Err(format!(
                    "log option '{key}' is not supported by the built-in engine (it takes \
                     tag, labels, env, max-size and max-file); use --storage docker or --storage \
                     podman"
                ));
            }
        }
        Ok(())
    }
}

/// `a,b,c` without empty items.
fn list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A size as Docker reads one (`RAMInBytes`): a number and an optional binary unit, `k`, `m`,
/// `g`, `t` or `p`, optionally followed by `b` or `ib`, in any case.
fn size(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let number_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let number: f64 = lower[..number_end].parse().ok()?;
    let unit = lower[number_end..].trim_start();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let bytes = number * scale as f64;
    (bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// How one container logs, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// The rendered `--log-opt tag=…` (Docker's default is the short ID): the journal's
    /// `SYSLOG_IDENTIFIER` and `CONTAINER_TAG`.
    #[serde(default)]
    pub tag: String,
    /// json-file: rotate past this many bytes (None: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// json-file: files kept when rotating, the current one included (Docker's default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file: Option<u32>,
    /// The labels and environment variables `labels=`/`env=` asked for, with their values:
    /// json-file's `attrs`, journald's extra fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

impl LogConfig {
    /// The log settings of a new container: `driver` (else json-file), the tag template (else
    /// Docker's `{{.ID}}`) rendered for `info`, and the options, checked against the driver as
    /// Docker checks them.
    pub fn new(driver: Option<LogDriver>, opts: &LogOpts, info: &TagInfo) -> Result<Self, String> {
        let driver = driver.unwrap_or_default();
        let tag = match &opts.tag {
            Some(t) => t.render(info),
            None => Template::default().render(info),
        };
        if driver == LogDriver::None && *opts != LogOpts::default() {
            return Err("the none log driver takes no --log-opt".into());
        }
        if driver != LogDriver::JsonFile && (opts.max_size.is_some() || opts.max_file.is_some()) {
            return Err(format!(
                "log options max-size and max-file are json-file's; the {driver} log driver \
                 does not take them"
            ));
        }
        if opts.max_file.is_some_and(|n| n > 1) && opts.max_size.is_none() {
            return Err("log option max-file needs max-size".into());
        }
        Ok(LogConfig {
            driver,
            tag,
            max_size: opts.max_size,
            max_file: opts.max_file,
            attrs: BTreeMap::new(),
        })
    }

    /// Keep the values of the labels and variables `opts` names (`labels=`, `env=`) that the
    /// container has: `labels` its labels, `env` its `KEY=VALUE` environment. Docker logs
    /// those it finds and ignores the others.
    pub fn add_attrs(&mut self, opts: &LogOpts, labels: &BTreeMap<String, String>, env: &[String]) {
        for key in &opts.labels {
            if let Some(value) = labels.get(key) {
                self.attrs.insert(key.clone(), value.clone());
            }
        }
        for key in &opts.env {
            let value = env
                .iter()
                .rev()
                .find_map(|kv| kv.strip_prefix(key.as_str())?.strip_prefix('='));
            if let Some(value) = value {
                self.attrs.insert(key.clone(), value.to_string());
            }
        }
    }

    /// `docker inspect`'s `HostConfig.LogConfig`: `{"Type": driver, "Config": {options}}`.
    pub fn inspect(&self) -> serde_json::Value {
        let mut config = serde_json::Map::new();
        if !self.tag.is_empty() && self.driver != LogDriver::None {
            config.insert("tag".into(), self.tag.clone().into());
        }
        if let Some(size) = self.max_size {
            config.insert("max-size".into(), size.to_string().into());
        }
        if let Some(n) = self.max_file {
            config.insert("max-file".into(), n.to_string().into());
        }
        serde_json::json!({"Type": self.driver.as_str(), "Config": config})
    }

    /// `docker inspect`'s `LogPath`: the json-file's path, else empty, as Docker has it.
    pub fn log_path(&self, container_dir: &std::path::Path) -> String {
        match self.driver {
            LogDriver::JsonFile => container_dir
                .join(jsonfile::FILE)
                .to_string_lossy()
                .into_owned(),
            LogDriver::Journald | LogDriver::None => String::new(),
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

    fn info() -> TagInfo {
        TagInfo {
            id: "0123456789abcdef".into(),
            name: "web".into(),
            image_name: "img".into(),
            image_id: "ff".into(),
        }
    }

    fn opts(options: &[&str]) -> Result<LogOpts, String> {
        let mut opts = LogOpts::default();
        for option in options {
            opts.set(option)?;
        }
        Ok(opts)
    }

    #[test]
    fn options_are_read_as_docker_reads_them() {
        let o = opts(&["max-size=10m", "max-file=3", "tag={{.Name}}"]).unwrap();
        assert_eq!(o.max_size, Some(10 << 20));
        assert_eq!(o.max_file, Some(3));
        for (text, bytes) in [
            ("1024", 1024),
            ("512k", 512 << 10),
            ("1.5KB", 1536),
            ("2MiB", 2 << 20),
            ("1g", 1 << 30),
            ("3 m", 3 << 20),
        ] {
            assert_eq!(size(text), Some(bytes), "{text}");
        }
        for bad in ["", "m", "10x", "-1", "0", "1.2.3m"] {
            assert_eq!(size(bad), None, "{bad}");
        }
        for (bad, needle) in [
            ("max-size=lots", "max-size 'lots'"),
            ("max-file=0", "max-file '0'"),
            ("env-regex=a", "log option 'env-regex'"),
            ("tag", "KEY=VALUE"),
        ] {
            let err = opts(&[bad]).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn options_are_checked_against_the_driver() {
        let ok = LogConfig::new(
            None,
            &opts(&["max-size=1k", "max-file=2"]).unwrap(),
            &info(),
        );
        assert_eq!(ok.unwrap().max_size, Some(1024));
        let cases = [
            (
                Some(LogDriver::Journald),
                &["max-size=1m"][..],
                "journald log driver",
            ),
            (Some(LogDriver::None), &["tag=x"][..], "takes no --log-opt"),
            (None, &["max-file=3"][..], "needs max-size"),
        ];
        for (driver, options, needle) in cases {
            let err = LogConfig::new(driver, &opts(options).unwrap(), &info()).unwrap_err();
            assert!(err.contains(needle), "{options:?}: {err}");
        }
        let journald = LogConfig::new(
            Some(LogDriver::Journald),
            &opts(&["tag=t"]).unwrap(),
            &info(),
        );
        assert_eq!(journald.unwrap().tag, "t");
        let default = LogConfig::new(None, &LogOpts::default(), &info()).unwrap();
        assert_eq!(
            (default.driver, default.tag.as_str()),
            (LogDriver::JsonFile, "0123456789ab")
        );
    }

    #[test]
    fn labels_and_env_options_keep_the_values_the_container_has() {
        let o = opts(&["labels=app, tier,missing", "env=MODE,NOPE"]).unwrap();
        assert_eq!(o.labels, ["app", "tier", "missing"]);
        let mut config = LogConfig::new(None, &o, &info()).unwrap();
        let labels = BTreeMap::from([
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "front".to_string()),
            ("other".to_string(), "x".to_string()),
        ]);
        let env = ["MODE=dev".to_string(), "MODE=prod".into(), "MODEL=x".into()];
        config.add_attrs(&o, &labels, &env);
        let want = BTreeMap::from([
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "front".to_string()),
            ("MODE".to_string(), "prod".to_string()),
        ]);
        assert_eq!(
            config.attrs, want,
            "the last MODE wins, MODEL is another variable"
        );
    }

    #[test]
    fn inspect_shows_dockers_log_config() {
        let config = LogConfig::new(
            None,
            &opts(&["max-size=1k", "max-file=2"]).unwrap(),
            &info(),
        )
        .unwrap();
        assert_eq!(
            config.inspect(),
            serde_json::json!({"Type": "json-file",
                "Config": {"tag": "0123456789ab", "max-size": "1024", "max-file": "2"}})
        );
        let dir = std::path::Path::new("/s/containers/x");
        assert_eq!(config.log_path(dir), "/s/containers/x/container-json.log");
        let none = LogConfig::new(Some(LogDriver::None), &LogOpts::default(), &info()).unwrap();
        assert_eq!(
            none.inspect(),
            serde_json::json!({"Type": "none", "Config": {}})
        );
        assert_eq!(none.log_path(dir), "");
    }

    #[test]
    fn records_without_log_settings_read_as_json_file() {
        let config: LogConfig = serde_json::from_str(r#"{"driver":"journald"}"#).unwrap();
        assert_eq!(config.driver, LogDriver::Journald);
        assert_eq!(config.tag, "");
        assert_eq!(LogConfig::default().driver, LogDriver::JsonFile);
    }
}

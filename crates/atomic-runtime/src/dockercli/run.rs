//! `docker run` / `docker create` options, typed.
//!
//! Each supported flag becomes a field of [`RunRequest`]; the value is validated here, so an
//! error names the flag as the user wrote it. Host-dependent parts (a bare `-e KEY` read from
//! the host's environment, `--env-file` contents, device numbers) are kept as entries and
//! resolved by [`crate::spec::build`] through its `Host`, so this stays pure.

use super::netflags::{self, NetOptions, NetworkMode};
use super::volumes::{MountKind, MountRequest, mount, tmpfs, volume};
use super::{CliError, flag_bool, flag_value, unsupported};
use crate::caps;
use crate::logs::{LogDriver, LogOpts};
use atomic_label::{RunOpt, parse_run};
use oci_spec::runtime::PosixRlimitType;
use std::path::{Path, PathBuf};

/// Everything `run`/`create` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunRequest {
    /// `create`: make the container but do not start it.
    pub create_only: bool,
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    /// `--rm`.
    pub remove: bool,
    pub name: Option<String>,
    pub privileged: bool,
    pub network: NetworkMode,
    /// Ports, DNS, hosts entries, fixed address: see `netflags`.
    pub net: NetOptions,
    pub pid_host: bool,
    pub ipc_host: bool,
    pub uts_host: bool,
    /// `-v`, `--mount` and `--tmpfs`, in command-line order.
    pub mounts: Vec<MountRequest>,
    /// `-e` and `--env-file`, in command-line order (later wins).
    pub env: Vec<EnvEntry>,
    /// Canonical names (`CAP_X` or `ALL`).
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security: SecurityOpts,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `--entrypoint`: `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    pub hostname: Option<String>,
    pub read_only: bool,
    pub devices: Vec<DeviceRequest>,
    /// `-l K=V` (a bare `-l K` has an empty value).
    pub labels: Vec<(String, String)>,
    pub stop_signal: Option<String>,
    /// Seconds between the stop signal and SIGKILL.
    pub stop_timeout: Option<u32>,
    pub ulimits: Vec<Ulimit>,
    /// `--init`: run an init process (tini, catatonit) as PID 1.
    pub init: bool,
    pub restart: RestartPolicy,
    /// `--log-driver`; None: atomic.conf's `log_driver`, else json-file.
    pub log_driver: Option<LogDriver>,
    /// `--log-opt`s, each checked; checked against the driver when the container is made
    /// (the default driver is known then).
    pub log_opts: LogOpts,
    pub image: String,
    pub command: Vec<String>,
}

impl RunRequest {
    /// The `-v` host directories that do not have to exist: docker creates a missing one
    /// before it starts the container (`--mount type=bind` instead requires it).
    pub fn sources_to_create(&self) -> impl Iterator<Item = &Path> {
        self.mounts.iter().filter_map(|m| match &m.kind {
            MountKind::Bind {
                source,
                create_source: true,
                ..
            } => Some(source.as_path()),
            _ => None,
        })
    }
}

/// One `-e`/`--env-file` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvEntry {
    Set(String, String),
    /// A bare `-e KEY`: the host's value when it has one, else nothing (docker's rule).
    FromHost(String),
    /// `--env-file PATH`, read when the spec is built.
    File(PathBuf),
}

impl EnvEntry {
    /// `KEY=VALUE` or a bare `KEY`.
    pub fn parse(s: &str) -> Self {
        match s.split_once('=') {
            Some((k, v)) => Self::Set(k.to_string(), v.to_string()),
            None => Self::FromHost(s.to_string()),
        }
    }
}

/// `--security-opt`s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityOpts {
    /// `label=disable`.
    pub label_disable: bool,
    pub label_user: Option<String>,
    pub label_role: Option<String>,
    pub label_type: Option<String>,
    pub label_level: Option<String>,
    pub seccomp: SeccompOpt,
    pub no_new_privileges: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeccompOpt {
    /// The host's profile (containers' or docker's `seccomp.json`), if it has one.
    #[default]
    Default,
    Unconfined,
    /// `seccomp=PATH`: a profile in docker's JSON format.
    Profile(PathBuf),
}

/// `--device HOST[:CONTAINER][:PERMS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub host: PathBuf,
    pub container: String,
    /// A subset of `rwm`.
    pub permissions: String,
}

/// `--ulimit NAME=SOFT[:HARD]`; `u64::MAX` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub kind: PosixRlimitType,
    pub soft: u64,
    pub hard: u64,
}

/// `--restart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure {
        max_retries: Option<u32>,
    },
}

/// Read the words after `run`/`create`.
pub(super) fn parse(words: &[String], create_only: bool) -> Result<RunRequest, CliError> {
    let args = parse_run(words);
    let mut req = RunRequest {
        create_only,
        ..RunRequest::default()
    };
    for opt in &args.options {
        if !netflags::apply(&mut req.network, &mut req.net, opt)? {
            apply(&mut req, opt)?;
        }
    }
    netflags::check(&req.network, &req.net)?;
    req.image = args
        .image
        .ok_or_else(|| CliError::MissingArgument("run".into(), "an image"))?;
    req.command = args.command;
    Ok(req)
}

fn apply(req: &mut RunRequest, opt: &RunOpt) -> Result<(), CliError> {
    let string = || flag_value(opt).map(str::to_string);
    match opt.flag.as_str() {
        "--detach" => req.detach = flag_bool(opt)?,
        "--interactive" => req.interactive = flag_bool(opt)?,
        "--tty" => req.tty = flag_bool(opt)?,
        "--rm" => req.remove = flag_bool(opt)?,
        "--privileged" => req.privileged = flag_bool(opt)?,
        "--read-only" => req.read_only = flag_bool(opt)?,
        "--init" => req.init = flag_bool(opt)?,
        "--name" => req.name = Some(string()?),
        "--pid" => req.pid_host = host_or_private(opt, &["private"])?,
        "--ipc" => req.ipc_host = host_or_private(opt, &["private", "shareable"])?,
        "--uts" => req.uts_host = host_or_private(opt, &["private"])?,
        "--userns" => {
            if !matches!(flag_value(opt)?, "host" | "") {
                return Err(unsupported(opt));
            }
        }
        "--volume" => req.mounts.push(volume(opt)?),
        "--mount" => req.mounts.push(mount(opt)?),
        "--tmpfs" => req.mounts.push(tmpfs(opt)?),
        "--env" => req.env.push(EnvEntry::parse(flag_value(opt)?)),
        "--env-file" => req
            .env
            .push(EnvEntry::File(PathBuf::from(flag_value(opt)?))),
        "--cap-add" | "--cap-drop" => {
            let mut names = Vec::new();
            for name in flag_value(opt)?.split(',') {
                names.push(
                    caps::canonical(name).map_err(|e| CliError::invalid(opt, e.to_string()))?,
                );
            }
            if opt.flag == "--cap-add" {
                req.cap_add.extend(names);
            } else {
                req.cap_drop.extend(names);
            }
        }
        "--security-opt" => security_opt(&mut req.security, opt)?,
        "--user" => req.user = Some(string()?),
        "--workdir" => {
            let dir = string()?;
            if !dir.starts_with('/') {
                return Err(CliError::invalid(
                    opt,
                    "the working directory must be absolute",
                ));
            }
            req.workdir = Some(dir);
        }
        "--entrypoint" => req.entrypoint = Some(string()?),
        "--hostname" => req.hostname = Some(string()?),
        "--device" => req.devices.push(device(opt)?),
        "--label" => {
            let v = flag_value(opt)?;
            let (k, v) = v.split_once('=').unwrap_or((v, ""));
            req.labels.push((k.to_string(), v.to_string()));
        }
        "--stop-signal" => req.stop_signal = Some(string()?),
        "--stop-timeout" => {
            let v = flag_value(opt)?;
            req.stop_timeout = Some(v.parse().map_err(|_| {
                CliError::invalid(opt, format!("'{v}' is not a number of seconds"))
            })?);
        }
        "--ulimit" => req.ulimits.push(ulimit(opt)?),
        "--restart" => req.restart = restart(opt)?,
        "--log-driver" => {
            req.log_driver = Some(
                flag_value(opt)?
                    .parse()
                    .map_err(|e: String| CliError::invalid(opt, e))?,
            )
        }
        "--log-opt" => req
            .log_opts
            .set(flag_value(opt)?)
            .map_err(|e| CliError::invalid(opt, e))?,
        _ => return Err(unsupported(opt)),
    }
    Ok(())
}

/// `host` → true; the default spellings → false; anything else is refused.
fn host_or_private(opt: &RunOpt, defaults: &[&str]) -> Result<bool, CliError> {
    match flag_value(opt)? {
        "host" => Ok(true),
        v if v.is_empty() || defaults.contains(&v) => Ok(false),
        _ => Err(unsupported(opt)),
    }
}

fn security_opt(sec: &mut SecurityOpts, opt: &RunOpt) -> Result<(), CliError> {
    let value = flag_value(opt)?;
    // docker accepts both `key=value` and the old `key:value`.
    let (key, val) = value
        .split_once('=')
        .or_else(|| value.split_once(':'))
        .unwrap_or((value, ""));
    match (key, val) {
        ("label", "disable") => sec.label_disable = true,
        ("label", v) => {
            let (part, label) = v.split_once(':').ok_or_else(|| {
                CliError::invalid(opt, "expected label=type:T (or user, role, level)")
            })?;
            let slot = match part {
                "user" => &mut sec.label_user,
                "role" => &mut sec.label_role,
                "type" => &mut sec.label_type,
                "level" => &mut sec.label_level,
                _ => {
                    return Err(CliError::invalid(
                        opt,
                        format!("unknown label part '{part}'"),
                    ));
                }
            };
            *slot = Some(label.to_string());
        }
        ("seccomp", "unconfined") => sec.seccomp = SeccompOpt::Unconfined,
        ("seccomp", path) if !path.is_empty() => {
            sec.seccomp = SeccompOpt::Profile(PathBuf::from(path))
        }
        ("no-new-privileges", "" | "true") => sec.no_new_privileges = true,
        ("no-new-privileges", "false") => sec.no_new_privileges = false,
        // This host has no AppArmor; unconfined is what it gets anyway.
        ("apparmor", "unconfined") => {}
        _ => return Err(unsupported(opt)),
    }
    Ok(())
}

fn device(opt: &RunOpt) -> Result<DeviceRequest, CliError> {
    let value = flag_value(opt)?;
    let is_perms = |s: &str| !s.is_empty() && s.chars().all(|c| "rwm".contains(c));
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if is_perms(p) => (*h, *c, *p),
        _ => {
            return Err(CliError::invalid(
                opt,
                "expected HOST[:CONTAINER][:PERMISSIONS]",
            ));
        }
    };
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(CliError::invalid(opt, "device paths must be absolute"));
    }
    Ok(DeviceRequest {
        host: PathBuf::from(host),
        container: container.to_string(),
        permissions: permissions.to_string(),
    })
}

fn ulimit(opt: &RunOpt) -> Result<Ulimit, CliError> {
    let value = flag_value(opt)?;
    let (name, limits) = value
        .split_once('=')
        .ok_or_else(|| CliError::invalid(opt, "expected NAME=SOFT[:HARD]"))?;
    let kind = match name {
        "core" => PosixRlimitType::RlimitCore,
        "cpu" => PosixRlimitType::RlimitCpu,
        "data" => PosixRlimitType::RlimitData,
        "fsize" => PosixRlimitType::RlimitFsize,
        "locks" => PosixRlimitType::RlimitLocks,
        "memlock" => PosixRlimitType::RlimitMemlock,
        "msgqueue" => PosixRlimitType::RlimitMsgqueue,
        "nice" => PosixRlimitType::RlimitNice,
        "nofile" => PosixRlimitType::RlimitNofile,
        "nproc" => PosixRlimitType::RlimitNproc,
        "rss" => PosixRlimitType::RlimitRss,
        "rtprio" => PosixRlimitType::RlimitRtprio,
        "rttime" => PosixRlimitType::RlimitRttime,
        "sigpending" => PosixRlimitType::RlimitSigpending,
        "stack" => PosixRlimitType::RlimitStack,
        "as" => PosixRlimitType::RlimitAs,
        _ => return Err(CliError::invalid(opt, format!("unknown ulimit '{name}'"))),
    };
    let number = |s: &str| match s {
        "-1" | "unlimited" => Ok(u64::MAX),
        _ => s
            .parse::<u64>()
            .map_err(|_| CliError::invalid(opt, format!("'{s}' is not a limit"))),
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (number(s)?, number(h)?),
        None => (number(limits)?, number(limits)?),
    };
    if soft > hard {
        return Err(CliError::invalid(
            opt,
            "the soft limit is above the hard limit",
        ));
    }
    Ok(Ulimit { kind, soft, hard })
}

fn restart(opt: &RunOpt) -> Result<RestartPolicy, CliError> {
    Ok(match flag_value(opt)? {
        "no" | "" => RestartPolicy::No,
        "always" => RestartPolicy::Always,
        "unless-stopped" => RestartPolicy::UnlessStopped,
        "on-failure" => RestartPolicy::OnFailure { max_retries: None },
        v => match v.strip_prefix("on-failure:").map(str::parse) {
            Some(Ok(n)) => RestartPolicy::OnFailure {
                max_retries: Some(n),
            },
            _ => {
                return Err(CliError::invalid(
                    opt,
                    "expected no, always, unless-stopped or on-failure[:N]",
                ));
            }
        },
    })
}

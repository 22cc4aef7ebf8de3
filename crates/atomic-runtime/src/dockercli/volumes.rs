//! `-v`, `--mount` and `--tmpfs`: docker's three spellings of a mount, read into one
//! [`MountRequest`]. Only host paths and tmpfs are supported: the built-in engine has no
//! volume store, so a named or anonymous volume is an error that says so, never a silently
//! empty directory.

use super::{CliError, flag_value};
use atomic_label::RunOpt;
use std::path::PathBuf;

/// A `-v`, `--mount` or `--tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    pub destination: String,
    pub readonly: bool,
    pub kind: MountKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    Bind {
        source: PathBuf,
        /// `-v` creates a missing source directory; `--mount` does not.
        create_source: bool,
        propagation: Option<Propagation>,
        /// `:z`/`:Z`: the driver may relabel the source for SELinux.
        relabel: Option<Relabel>,
    },
    Tmpfs {
        /// Mount options as given (`size=64m`, `mode=1777`, `noexec` …).
        options: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Shared,
    Rshared,
    Slave,
    Rslave,
    Private,
    Rprivate,
}

impl Propagation {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "shared" => Self::Shared,
            "rshared" => Self::Rshared,
            "slave" => Self::Slave,
            "rslave" => Self::Rslave,
            "private" => Self::Private,
            "rprivate" => Self::Rprivate,
            _ => return None,
        })
    }

    /// The OCI mount option.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Rshared => "rshared",
            Self::Slave => "slave",
            Self::Rslave => "rslave",
            Self::Private => "private",
            Self::Rprivate => "rprivate",
        }
    }
}

/// `:z` (shared label) or `:Z` (private label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relabel {
    Shared,
    Private,
}

fn absolute_destination(opt: &RunOpt, dst: &str) -> Result<String, CliError> {
    if dst.starts_with('/') {
        Ok(dst.to_string())
    } else {
        Err(CliError::invalid(
            opt,
            format!("the mount destination '{dst}' must be an absolute path"),
        ))
    }
}

/// `-v SRC:DST[:opts]`.
pub(super) fn volume(opt: &RunOpt) -> Result<MountRequest, CliError> {
    let value = flag_value(opt)?;
    let parts: Vec<&str> = value.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [_] => return Err(CliError::AnonymousVolume(opt.written.clone())),
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(CliError::invalid(opt, "expected SRC:DST[:OPTIONS]")),
    };
    if !src.starts_with('/') {
        return Err(CliError::NamedVolume(opt.written.clone()));
    }
    let destination = absolute_destination(opt, dst)?;
    let (mut readonly, mut propagation, mut relabel) = (false, None, None);
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "z" => relabel = Some(Relabel::Shared),
            "Z" => relabel = Some(Relabel::Private),
            // Only meaningful for named volumes, which are refused above.
            "nocopy" => {}
            p => {
                propagation = Some(Propagation::parse(p).ok_or_else(|| {
                    CliError::invalid(opt, format!("unknown volume option '{p}'"))
                })?)
            }
        }
    }
    Ok(MountRequest {
        destination,
        readonly,
        kind: MountKind::Bind {
            source: PathBuf::from(src),
            create_source: true,
            propagation,
            relabel,
        },
    })
}

/// `--mount type=bind|tmpfs,source=…,destination=…,…`.
pub(super) fn mount(opt: &RunOpt) -> Result<MountRequest, CliError> {
    let value = flag_value(opt)?;
    let (mut kind, mut source, mut destination) = (None, None, None);
    let (mut readonly, mut propagation, mut tmpfs_options) = (false, None, Vec::new());
    for field in value.split(',') {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let need = || val.ok_or_else(|| CliError::invalid(opt, format!("'{key}' needs a value")));
        match key {
            "type" => kind = Some(need()?),
            "source" | "src" => source = Some(need()?),
            "destination" | "dst" | "target" => destination = Some(need()?),
            "readonly" | "ro" => {
                readonly = match val {
                    None | Some("1" | "true") => true,
                    Some("0" | "false") => false,
                    Some(v) => {
                        return Err(CliError::invalid(
                            opt,
                            format!("readonly={v}: expected true or false"),
                        ));
                    }
                }
            }
            "bind-propagation" => {
                let v = need()?;
                propagation = Some(Propagation::parse(v).ok_or_else(|| {
                    CliError::invalid(opt, format!("unknown bind-propagation '{v}'"))
                })?);
            }
            "tmpfs-size" => tmpfs_options.push(format!("size={}", need()?)),
            "tmpfs-mode" => {
                let v = need()?;
                u32::from_str_radix(v, 8).map_err(|_| {
                    CliError::invalid(opt, format!("tmpfs-mode '{v}' is not octal"))
                })?;
                tmpfs_options.push(format!("mode={v}"));
            }
            _ => {
                return Err(CliError::invalid(
                    opt,
                    format!(
                        "mount option '{key}' is not supported by the built-in engine; use \
                         --storage docker or --storage podman"
                    ),
                ));
            }
        }
    }
    let dst = destination.ok_or_else(|| CliError::invalid(opt, "a destination is required"))?;
    let destination = absolute_destination(opt, dst)?;
    let kind = match kind.unwrap_or("volume") {
        "bind" => {
            let src =
                source.ok_or_else(|| CliError::invalid(opt, "a bind mount needs a source"))?;
            if !src.starts_with('/') {
                return Err(CliError::invalid(
                    opt,
                    "a bind source must be an absolute path",
                ));
            }
            MountKind::Bind {
                source: PathBuf::from(src),
                create_source: false,
                propagation,
                relabel: None,
            }
        }
        "tmpfs" => MountKind::Tmpfs {
            options: tmpfs_options,
        },
        "volume" => return Err(CliError::NamedVolume(opt.written.clone())),
        other => {
            return Err(CliError::invalid(
                opt,
                format!("mount type '{other}' is not supported (bind or tmpfs)"),
            ));
        }
    };
    Ok(MountRequest {
        destination,
        readonly,
        kind,
    })
}

/// `--tmpfs DST[:opts]`.
pub(super) fn tmpfs(opt: &RunOpt) -> Result<MountRequest, CliError> {
    let value = flag_value(opt)?;
    let (dst, opts) = value.split_once(':').unwrap_or((value, ""));
    let options: Vec<String> = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    Ok(MountRequest {
        destination: absolute_destination(opt, dst)?,
        readonly: options.iter().any(|o| o == "ro"),
        kind: MountKind::Tmpfs {
            options: options
                .into_iter()
                .filter(|o| o != "ro" && o != "rw")
                .collect(),
        },
    })
}

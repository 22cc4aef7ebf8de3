//! `docker network create|rm|ls|inspect` and `docker port`, as data.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{CliError, DockerCommand, OptionTable, flag_bool, flag_value, split_with};
use atomic_label::RunOpt;

/// One `docker network …` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkCommand {
    Create {
        name: String,
        subnet: Option<ipnet::Ipv4Net>,
        gateway: Option<Ipv4Addr>,
        internal: bool,
        labels: BTreeMap<String, String>,
    },
    Rm {
        names: Vec<String>,
    },
    Ls {
        quiet: bool,
    },
    Inspect {
        format: Option<String>,
        names: Vec<String>,
    },
}

const CREATE: &OptionTable = &[
    (Some('d'), "driver", true),
    (None, "subnet", true),
    (None, "gateway", true),
    (None, "internal", false),
    (None, "label", true),
];
const RM: &OptionTable = &[(Some('f'), "force", false)];
const LS: &OptionTable = &[(Some('q'), "quiet", false), (None, "no-trunc", false)];
const INSPECT: &OptionTable = &[(Some('f'), "format", true)];

fn invalid(opt: &RunOpt, reason: impl Into<String>) -> CliError {
    CliError::invalid(opt, reason)
}

/// Read the words after `network`.
pub(super) fn parse(words: &[String]) -> Result<NetworkCommand, CliError> {
    let (verb, rest) = words
        .split_first()
        .ok_or_else(|| CliError::MissingArgument("network".into(), "a subcommand"))?;
    let table = match verb.as_str() {
        "create" => CREATE,
        "rm" | "remove" => RM,
        "ls" | "list" => LS,
        "inspect" => INSPECT,
        other => return Err(CliError::UnsupportedSubcommand(format!("network {other}"))),
    };
    let (opts, mut names) = split_with(table, rest)?;
    let command = format!("network {verb}");
    let need = |names: &[String]| {
        if names.is_empty() {
            Err(CliError::MissingArgument(command.clone(), "a network name"))
        } else {
            Ok(())
        }
    };
    match verb.as_str() {
        "create" => {
            need(&names)?;
            if names.len() > 1 {
                return Err(CliError::ExtraArgument {
                    command,
                    arg: names[1].clone(),
                });
            }
            let mut cmd = NetworkCommand::Create {
                name: names.remove(0),
                subnet: None,
                gateway: None,
                internal: false,
                labels: BTreeMap::new(),
            };
            for opt in &opts {
                create_option(&mut cmd, opt)?;
            }
            Ok(cmd)
        }
        "rm" | "remove" => {
            need(&names)?;
            Ok(NetworkCommand::Rm { names })
        }
        "ls" | "list" => {
            let quiet = opts
                .iter()
                .filter(|o| o.flag == "--quiet")
                .map(flag_bool)
                .next_back()
                .transpose()?;
            Ok(NetworkCommand::Ls {
                quiet: quiet.unwrap_or(false),
            })
        }
        _ => {
            need(&names)?;
            let format = opts
                .iter()
                .rev()
                .find(|o| o.flag == "--format")
                .map(|o| flag_value(o).map(str::to_string))
                .transpose()?;
            Ok(NetworkCommand::Inspect { format, names })
        }
    }
}

fn create_option(cmd: &mut NetworkCommand, opt: &RunOpt) -> Result<(), CliError> {
    let NetworkCommand::Create {
        subnet,
        gateway,
        internal,
        labels,
        ..
    } = cmd
    else {
        return Ok(());
    };
    let v = || flag_value(opt);
    match opt.flag.as_str() {
        "--driver" if v()? != "bridge" => {
            return Err(invalid(
                opt,
                "the built-in engine makes bridge networks only; use --storage docker or \
                 --storage podman for other drivers",
            ));
        }
        "--subnet" => {
            let s = v()?;
            *subnet = Some(
                s.parse()
                    .map_err(|_| invalid(opt, format!("'{s}' is not an IPv4 subnet (CIDR)")))?,
            );
        }
        "--gateway" => {
            let s = v()?;
            *gateway = Some(
                s.parse()
                    .map_err(|_| invalid(opt, format!("'{s}' is not an IPv4 address")))?,
            );
        }
        "--internal" => *internal = flag_bool(opt)?,
        "--label" => {
            let s = v()?;
            let (k, val) = s.split_once('=').unwrap_or((s, ""));
            labels.insert(k.to_string(), val.to_string());
        }
        _ => {}
    }
    Ok(())
}

/// `port NAME [PORT[/PROTO]]`.
pub(super) fn parse_port(words: &[String]) -> Result<DockerCommand, CliError> {
    let (_, names) = split_with(&[], words)?;
    match names.as_slice() {
        [] => Err(CliError::MissingArgument("port".into(), "a container name")),
        [name] => Ok(DockerCommand::Port {
            name: name.clone(),
            port: None,
        }),
        [name, port] => Ok(DockerCommand::Port {
            name: name.clone(),
            port: Some(port.clone()),
        }),
        [_, _, extra, ..] => Err(CliError::ExtraArgument {
            command: "port".into(),
            arg: extra.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse as parse_docker;
    use super::*;

    fn network(s: &str) -> Result<NetworkCommand, CliError> {
        let argv: Vec<String> = format!("docker network {s}")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        match parse_docker(&argv)? {
            DockerCommand::Network(n) => Ok(n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn network_commands() {
        assert_eq!(
            network("create --subnet 10.97.0.0/24 --label a=b n1").unwrap(),
            NetworkCommand::Create {
                name: "n1".into(),
                subnet: Some("10.97.0.0/24".parse().unwrap()),
                gateway: None,
                internal: false,
                labels: BTreeMap::from([("a".into(), "b".into())]),
            }
        );
        assert_eq!(
            network("rm a b").unwrap(),
            NetworkCommand::Rm {
                names: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(
            network("ls -q").unwrap(),
            NetworkCommand::Ls { quiet: true }
        );
        assert!(matches!(
            network("create -d macvlan x"),
            Err(CliError::InvalidValue { .. })
        ));
        assert!(matches!(
            network("create --subnet nope x"),
            Err(CliError::InvalidValue { .. })
        ));
        assert!(matches!(
            network("connect a b"),
            Err(CliError::UnsupportedSubcommand(_))
        ));
        assert!(matches!(
            network("create"),
            Err(CliError::MissingArgument(..))
        ));
    }
}

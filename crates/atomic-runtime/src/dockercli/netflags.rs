//! The network options of `docker run`: `--network`, `-p`, `-P`, `--expose`, `--add-host`,
//! `--dns*`, `--ip`, `--mac-address`, `--network-alias`, `--link`, typed and checked here so an error
//! names the flag as the user wrote it. What they do is `crate::network`'s job.

use std::net::{IpAddr, Ipv4Addr};

use super::{CliError, flag_bool, flag_value};
use crate::network::ports::{self, ExposedPort, PortSpec};
use atomic_label::RunOpt;

/// `--network`/`--net`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// No flag, `bridge`, `default` or `private`: the default bridge network (`atomic0`), as
    /// docker's `bridge`.
    #[default]
    Bridge,
    /// A user network (`docker network create NAME`).
    Named(String),
    /// A namespace of its own with loopback only.
    None,
    Host,
    /// `container:NAME`: the network namespace of another (running) container.
    Container(String),
}

impl NetworkMode {
    /// Whether the container gets an interface on a bridge network (default or named).
    pub fn is_bridge(&self) -> bool {
        matches!(self, NetworkMode::Bridge | NetworkMode::Named(_))
    }
}

/// Everything else a container's network is made of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetOptions {
    /// `-p`, in command-line order.
    pub publish: Vec<PortSpec>,
    /// `-P`: publish the image's exposed ports (and `--expose`) on random host ports.
    pub publish_all: bool,
    /// `--expose`.
    pub expose: Vec<ExposedPort>,
    /// `--add-host NAME:IP` (IP may be `host-gateway`), in order.
    pub add_hosts: Vec<(String, String)>,
    pub dns: Vec<IpAddr>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--ip`: a fixed address on the network.
    pub ip: Option<Ipv4Addr>,
    /// `--mac-address`.
    pub mac: Option<String>,
    /// `--network-alias`: more names the network's DNS answers for this container.
    pub aliases: Vec<String>,
    /// `--link NAME[:ALIAS]`: (linked container's name or ID, alias), in order.
    pub links: Vec<(String, String)>,
}

/// Apply one network flag; `Ok(false)` when `opt` is not one of them.
pub(super) fn apply(
    network: &mut NetworkMode,
    net: &mut NetOptions,
    opt: &RunOpt,
) -> Result<bool, CliError> {
    let invalid = |reason: String| CliError::invalid(opt, reason);
    match opt.flag.as_str() {
        "--network" => *network = mode(flag_value(opt)?),
        "--publish" => net
            .publish
            .push(ports::parse_publish(flag_value(opt)?).map_err(invalid)?),
        "--publish-all" => net.publish_all = flag_bool(opt)?,
        "--expose" => net
            .expose
            .extend(ports::parse_expose(flag_value(opt)?).map_err(invalid)?),
        "--add-host" => {
            let v = flag_value(opt)?;
            // docker accepts NAME:IP and NAME=IP; an IPv6 address holds colons itself.
            let (name, ip) = v
                .split_once('=')
                .or_else(|| v.split_once(':'))
                .ok_or_else(|| invalid("expected NAME:IP".into()))?;
            if name.is_empty() || (ip != "host-gateway" && ip.parse::<IpAddr>().is_err()) {
                return Err(invalid(format!(
                    "'{v}': expected NAME:IP (or NAME:host-gateway)"
                )));
            }
            net.add_hosts.push((name.to_string(), ip.to_string()));
        }
        "--dns" => {
            let v = flag_value(opt)?;
            net.dns.push(
                v.parse()
                    .map_err(|_| invalid(format!("'{v}' is not an IP address")))?,
            );
        }
        "--dns-search" => net.dns_search.push(word(opt)?),
        "--dns-option" => net.dns_options.push(word(opt)?),
        "--ip" => {
            let v = flag_value(opt)?;
            net.ip = Some(
                v.parse()
                    .map_err(|_| invalid(format!("'{v}' is not an IPv4 address")))?,
            );
        }
        "--mac-address" => {
            let v = flag_value(opt)?;
            if !is_mac(v) {
                return Err(invalid(format!(
                    "'{v}' is not a MAC address (like 02:42:ac:11:00:02)"
                )));
            }
            net.mac = Some(v.to_ascii_lowercase());
        }
        "--network-alias" => net.aliases.push(word(opt)?),
        "--link" => net.links.push(link(opt)?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn mode(value: &str) -> NetworkMode {
    match value {
        "" | "bridge" | "default" | "private" => NetworkMode::Bridge,
        "none" => NetworkMode::None,
        "host" => NetworkMode::Host,
        v => match v.strip_prefix("container:") {
            Some(name) => NetworkMode::Container(name.to_string()),
            None => NetworkMode::Named(v.to_string()),
        },
    }
}

/// `--link NAME[:ALIAS]`; the alias is the name when not given. docker accepts the name with
/// a leading `/` (its internal form).
fn link(opt: &RunOpt) -> Result<(String, String), CliError> {
    let v = word(opt)?;
    let (name, alias) = v.split_once(':').unwrap_or((&v, ""));
    let name = name.strip_prefix('/').unwrap_or(name);
    let alias = if alias.is_empty() { name } else { alias };
    if name.is_empty() || alias.contains(':') {
        return Err(CliError::invalid(
            opt,
            format!("'{v}': expected NAME[:ALIAS]"),
        ));
    }
    Ok((name.to_string(), alias.to_string()))
}

/// A value that goes into a file line by line: no whitespace inside.
fn word(opt: &RunOpt) -> Result<String, CliError> {
    let v = flag_value(opt)?;
    if v.is_empty() || v.chars().any(char::is_whitespace) {
        return Err(CliError::invalid(opt, format!("'{v}' must be one word")));
    }
    Ok(v.to_string())
}

fn is_mac(v: &str) -> bool {
    let parts: Vec<&str> = v.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Combinations docker refuses, checked once every flag is read.
pub(super) fn check(network: &NetworkMode, net: &NetOptions) -> Result<(), CliError> {
    let conflict = |what: &str| {
        Err(CliError::InvalidValue {
            flag: "--network".into(),
            reason: format!("{what} cannot be used with this network mode"),
        })
    };
    let has_ports = !net.publish.is_empty() || net.publish_all;
    match network {
        NetworkMode::Host | NetworkMode::None | NetworkMode::Container(_) if has_ports => {
            conflict("published ports (-p, -P)")
        }
        NetworkMode::Container(_) if !net.add_hosts.is_empty() || !net.dns.is_empty() => {
            conflict("--add-host and --dns")
        }
        // A link is an /etc/hosts line for an address on the container's own bridge network.
        m if !m.is_bridge() && !net.links.is_empty() => conflict("--link"),
        NetworkMode::Bridge if !net.aliases.is_empty() => Err(CliError::InvalidValue {
            flag: "--network-alias".into(),
            reason: "network-scoped aliases are only supported for user-defined networks".into(),
        }),
        m if !m.is_bridge() && (net.ip.is_some() || net.mac.is_some()) => {
            conflict("--ip and --mac-address")
        }
        _ => Ok(()),
    }
}

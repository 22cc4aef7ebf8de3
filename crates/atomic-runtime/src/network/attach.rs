//! A container's place on its networks: planned when it is created (address, host ports),
//! brought up before its process starts and down after it ends, released when it is removed.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use anyhow::{Context, Result, bail};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::builtin::{self, Leg};
use super::config::{Network, NetworkOptions, PerNetworkOptions};
use super::etcfiles::{self, DnsSettings};
use super::netavark::Netavark;
use super::ports::{self, ExposedPort, PortMapping};
use super::store::{DEFAULT_NETWORK, Networks};
use super::{netns, probe};
use crate::container::Runner;
use crate::dockercli::{NetworkMode, RunRequest};
use crate::state::Record;

/// What a container has on its networks, kept in its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// What sets the container's networks up and takes them down (records made before the
    /// built-in driver existed were netavark's).
    #[serde(default)]
    pub driver: NetworkDriver,
}

/// What sets a container's bridge networks up: atomic itself, or Podman's netavark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkDriver {
    /// In-process (netlink and one iptables-restore each way), for networks without DNS;
    /// a container on a network with DNS goes through netavark all the same.
    Builtin,
    #[default]
    Netavark,
}

impl std::str::FromStr for NetworkDriver {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<NetworkDriver> {
        match s {
            "builtin" => Ok(NetworkDriver::Builtin),
            "netavark" => Ok(NetworkDriver::Netavark),
            other => bail!("unknown network driver '{other}' (builtin or netavark)"),
        }
    }
}

impl NetworkDriver {
    /// The driver of a new container on `network`: netavark where names are resolved
    /// (aardvark-dns, which netavark starts); else the driver of the network's other
    /// containers (`in_use`: a network's containers share one, as each driver removes the
    /// network's rules with its own last container); else the preferred one.
    pub fn choose(
        preferred: NetworkDriver,
        network: &Network,
        in_use: Option<NetworkDriver>,
    ) -> NetworkDriver {
        if network.dns_enabled {
            NetworkDriver::Netavark
        } else {
            in_use.unwrap_or(preferred)
        }
    }

    /// What the driver needs installed, or an error that says what to install.
    fn check_installed(self, networks: &Networks) -> Result<()> {
        match self {
            NetworkDriver::Netavark => Netavark::find(&networks.netavark_dir()).map(|_| ()),
            NetworkDriver::Builtin => match super::firewall::program("iptables-restore") {
                Some(_) => Ok(()),
                None => bail!(
                    "iptables-restore is not installed: the built-in engine's bridge networks \
                     need it; install the iptables package (apt-get install iptables), or run \
                     with --network none or --network host"
                ),
            },
        }
    }
}

/// The container on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    /// `--mac-address`, else what netavark chose at the last start.
    pub mac: Option<String>,
    /// Whether `mac` was asked for (kept across restarts) or only reported.
    #[serde(default)]
    pub fixed_mac: bool,
    /// More names aardvark-dns answers for this container (`--network-alias`, short ID).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub interface: String,
    /// The network resolves container names (its DNS server is the gateway).
    #[serde(default)]
    pub dns: bool,
}

/// Everything [`plan`] needs besides the request.
pub struct PlanInput<'a> {
    pub id: &'a str,
    pub request: &'a RunRequest,
    /// The image's `ExposedPorts` keys (`80/tcp`).
    pub image_exposed: &'a [String],
    /// The default network's subnet (atomic.conf `default_network_subnet`).
    pub default_subnet: Ipv4Net,
    /// Whether the container with this ID has its network up (its host ports are taken).
    pub live: &'a dyn Fn(&str) -> bool,
    /// atomic.conf `network_driver`.
    pub driver: NetworkDriver,
    /// The driver of the containers with an address on a network (by name), if any.
    pub driver_in_use: &'a dyn Fn(&str) -> Option<NetworkDriver>,
}

/// Decide a new container's network: its address (allocated now, under the networks' lock)
/// and host ports. None for `--network none|host|container:…`. An error leaves nothing
/// allocated.
pub fn plan(networks: &Networks, input: &PlanInput) -> Result<Option<Attachment>> {
    let req = input.request;
    let net = match &req.network {
        NetworkMode::Bridge => None,
        NetworkMode::Named(name) => Some(name.as_str()),
        _ => return Ok(None),
    };
    if !rustix::process::geteuid().is_root() {
        bail!(
            "a bridge network needs root: the built-in engine has no user-mode network (pasta \
             or slirp4netns) yet; run as root, or with --network none or --network host"
        );
    }
    let network = match net {
        None => networks.ensure_default(input.default_subnet)?,
        Some(name) => networks.require(name)?,
    };
    let driver =
        NetworkDriver::choose(input.driver, &network, (input.driver_in_use)(&network.name));
    driver.check_installed(networks)?;
    let mut exposed: Vec<ExposedPort> = req.net.expose.clone();
    for key in input.image_exposed {
        // A malformed key in an image is skipped: the image still runs.
        exposed.extend(ports::parse_expose(key).unwrap_or_default());
    }
    let mut free = |proto, ip, range| probe::free_port(proto, ip, range);
    let ports = ports::mappings(&req.net.publish, req.net.publish_all, &exposed, &mut free)
        .map_err(|e| anyhow::anyhow!("-p: {e}"))?;
    networks.check_free_ports(&ports, input.live)?;
    let subnet = network
        .subnet()
        .with_context(|| format!("network {} has no subnet", network.name))?;
    let ip = networks.allocate(&network, input.id, req.net.ip)?;
    let mut aliases = req.net.aliases.clone();
    if network.dns_enabled {
        aliases.push(input.id[..12].to_string());
    }
    Ok(Some(Attachment {
        endpoints: vec![Endpoint {
            network: network.name.clone(),
            ip,
            prefix_len: subnet.subnet.prefix_len(),
            gateway: subnet.gateway,
            mac: req.net.mac.clone(),
            fixed_mac: req.net.mac.is_some(),
            aliases,
            interface: "eth0".into(),
            dns: network.dns_enabled,
        }],
        ports,
        driver,
    }))
}

/// The container's `/etc/hosts` and `/etc/resolv.conf` texts; `links` are `--link`'s entries
/// (see [`super::links::hosts_entries`]).
pub fn etc_files(
    att: Option<&Attachment>,
    req: &RunRequest,
    links: &[(String, IpAddr)],
    hostname: &str,
    host_resolv_conf: &str,
) -> (String, String) {
    let first = att.and_then(|a| a.endpoints.first());
    let gateway = first.and_then(|e| e.gateway).map(IpAddr::V4);
    let extra: Vec<(String, IpAddr)> = links
        .iter()
        .cloned()
        .chain(req.net.add_hosts.iter().filter_map(|(name, ip)| {
            let ip = match ip.as_str() {
                // docker's special value: the host, as the container reaches it.
                "host-gateway" => gateway?,
                ip => ip.parse().ok()?,
            };
            Some((name.clone(), ip))
        }))
        .collect();
    let hosts = etcfiles::hosts(hostname, first.map(|e| IpAddr::V4(e.ip)), &extra);
    let dns = DnsSettings {
        servers: &req.net.dns,
        search: &req.net.dns_search,
        options: &req.net.dns_options,
        network_dns: first.filter(|e| e.dns).and(gateway),
    };
    (hosts, etcfiles::resolv_conf(host_resolv_conf, &dns))
}

/// `--add-host NAME:host-gateway` needs a network with a gateway.
pub fn check_add_hosts(att: Option<&Attachment>, req: &RunRequest) -> Result<()> {
    let has_gateway = att
        .and_then(|a| a.endpoints.first())
        .is_some_and(|e| e.gateway.is_some());
    if !has_gateway && req.net.add_hosts.iter().any(|(_, ip)| ip == "host-gateway") {
        bail!("--add-host NAME:host-gateway needs a bridge network");
    }
    Ok(())
}

impl Runner {
    fn netns_path(&self, id: &str) -> std::path::PathBuf {
        netns::path_in(&self.containers.dir(id))
    }

    fn network_options<'a>(
        &self,
        record: &'a Record,
        att: &'a Attachment,
        infos: &'a [Network],
    ) -> NetworkOptions<'a> {
        let mut networks = BTreeMap::new();
        for (e, info) in att.endpoints.iter().zip(infos) {
            networks.insert(
                info.name.as_str(),
                PerNetworkOptions {
                    static_ips: vec![e.ip.to_string()],
                    aliases: e.aliases.clone(),
                    interface_name: e.interface.clone(),
                    static_mac: e.mac.clone().filter(|_| e.fixed_mac),
                },
            );
        }
        NetworkOptions {
            container_id: &record.id,
            container_name: &record.name,
            port_mappings: (!att.ports.is_empty()).then_some(att.ports.as_slice()),
            networks,
            network_info: infos.iter().map(|n| (n.name.as_str(), n)).collect(),
            dns_servers: None,
        }
    }

    /// The endpoints' networks as netavark is told them, in endpoint order. netavark names
    /// its firewall chains after the network's name, and the host's firewall is shared by
    /// every store: each network is named after its ID there, so that the `atomic0` of
    /// another store (a test's) never shares, or tears down, this one's rules.
    fn network_infos(&self, att: &Attachment) -> Result<Vec<Network>> {
        att.endpoints
            .iter()
            .map(|e| {
                let mut net = self.networks.require(&e.network)?;
                net.name = netavark_name(&net);
                Ok(net)
            })
            .collect()
    }

    /// The endpoints' networks as atomic defines them, in endpoint order.
    fn networks_of(&self, att: &Attachment) -> Result<Vec<Network>> {
        att.endpoints
            .iter()
            .map(|e| self.networks.require(&e.network))
            .collect()
    }

    /// Bring the container's network up before its process starts: a namespace, its driver's
    /// setup in it, its host ports claimed. What a killed atomic left behind (the namespace,
    /// rules) is torn down first. On failure nothing of it is left.
    pub fn network_up(&self, record: &mut Record) -> Result<()> {
        let Some(att) = record.network.clone() else {
            return Ok(());
        };
        let path = self.netns_path(&record.id);
        if netns::exists(&path) {
            self.network_down(record)?;
        }
        if !att.ports.is_empty() {
            let live = |id: &str| netns::exists(&self.netns_path(id));
            self.networks
                .claim_ports(&record.id, &record.name, &att.ports, &live)?;
        }
        let macs = match att.driver {
            // It makes the namespace itself, while its firewall transaction runs.
            NetworkDriver::Builtin => self.builtin_setup(record, &att, &path),
            NetworkDriver::Netavark => {
                netns::create(&path).and_then(|()| self.netavark_setup(record, &att, &path))
            }
        };
        let macs = match macs {
            Ok(macs) => macs,
            Err(e) => {
                netns::remove(&path).ok();
                self.networks.release_ports(&record.id).ok();
                return Err(e);
            }
        };
        if let Some(net) = record.network.as_mut() {
            for (e, mac) in net.endpoints.iter_mut().zip(macs) {
                if let Some(mac) = mac.filter(|m| !m.is_empty()) {
                    e.mac = Some(mac);
                }
            }
        }
        Ok(())
    }

    /// The built-in driver's setup (it undoes itself on failure); each endpoint's MAC.
    fn builtin_setup(
        &self,
        record: &Record,
        att: &Attachment,
        path: &Path,
    ) -> Result<Vec<Option<String>>> {
        let networks = self.networks_of(att)?;
        let legs = legs(att, &networks);
        let _lock = builtin::lock(&self.networks.netavark_dir())?;
        let others = |network: &str| self.others_live(network, &record.id);
        let macs = builtin::setup(
            &record.id,
            att,
            &legs,
            path,
            &others,
            self.networks.is_host_store(),
        )?;
        Ok(macs.into_iter().map(Some).collect())
    }

    /// Whether a container other than `id` with an address on `network` has its network up.
    /// Unreadable allocations count as yes: the network's rules then stay rather than go from
    /// under a container.
    fn others_live(&self, network: &str, id: &str) -> bool {
        match self.networks.users(network) {
            Ok(users) => users
                .values()
                .any(|other| other != id && netns::exists(&self.netns_path(other))),
            Err(e) => {
                tracing::warn!("reading the allocations of network {network}: {e:#}");
                true
            }
        }
    }

    /// netavark's setup, followed by its teardown when it fails (it does not undo a half-done
    /// setup itself); each endpoint's MAC as netavark reports it.
    fn netavark_setup(
        &self,
        record: &Record,
        att: &Attachment,
        path: &Path,
    ) -> Result<Vec<Option<String>>> {
        let netavark = Netavark::find(&self.networks.netavark_dir())?;
        let infos = self.network_infos(att)?;
        let opts = self.network_options(record, att, &infos);
        let status = match netavark.setup(path, &opts) {
            Ok(status) => status,
            Err(e) => {
                if let Err(t) = netavark.teardown(path, &opts) {
                    tracing::debug!("teardown after a failed setup: {t:#}");
                }
                return Err(e);
            }
        };
        Ok(att
            .endpoints
            .iter()
            .zip(&infos)
            .map(|(e, info)| {
                status
                    .get(&info.name)
                    .and_then(|s| s.interfaces.get(&e.interface))
                    .map(|i| i.mac_address.clone())
            })
            .collect())
    }

    /// Take the container's network down after its process ended (or was killed with its
    /// atomic): its driver's teardown, the namespace, the claimed host ports. The address
    /// stays allocated until the container is removed.
    pub fn network_down(&self, record: &Record) -> Result<()> {
        let Some(att) = &record.network else {
            return Ok(());
        };
        let path = self.netns_path(&record.id);
        let mut result = Ok(());
        if netns::exists(&path) {
            result = match att.driver {
                NetworkDriver::Builtin => self.networks_of(att).and_then(|networks| {
                    let _lock = builtin::lock(&self.networks.netavark_dir())?;
                    let others = |network: &str| self.others_live(network, &record.id);
                    builtin::teardown(
                        &record.id,
                        att,
                        &legs(att, &networks),
                        &others,
                        self.networks.is_host_store(),
                    )
                }),
                NetworkDriver::Netavark => {
                    Netavark::find(&self.networks.netavark_dir()).and_then(|netavark| {
                        let infos = self.network_infos(att)?;
                        let opts = self.network_options(record, att, &infos);
                        netavark.teardown(&path, &opts)
                    })
                }
            };
        }
        netns::remove(&path)?;
        self.networks.release_ports(&record.id)?;
        result
    }

    /// A removed container's network: down, and its address given back.
    pub fn network_release(&self, record: &Record) -> Result<()> {
        let down = self.network_down(record);
        self.networks.release(&record.id)?;
        down
    }
}

/// Each endpoint beside its network.
fn legs<'a>(att: &'a Attachment, networks: &'a [Network]) -> Vec<Leg<'a>> {
    att.endpoints
        .iter()
        .zip(networks)
        .map(|(endpoint, network)| Leg { endpoint, network })
        .collect()
}

/// The name netavark knows a network by: its ID, so that networks of two stores (both called
/// `atomic0`) never share firewall chains.
pub fn netavark_name(net: &Network) -> String {
    format!("atomic-{}", &net.id[..net.id.len().min(12)])
}

/// The driver of `runner`'s containers with an address on `network`, if it has any (the first
/// whose record says).
pub fn driver_in_use(runner: &Runner, network: &str) -> Option<NetworkDriver> {
    let users = runner.networks.users(network).ok()?;
    users.values().find_map(|id| {
        let record = runner.containers.load(id).ok()?;
        record.network.map(|att| att.driver)
    })
}

/// Whether container `id` of `runner` has its network up.
pub fn is_live(runner: &Runner, id: &str) -> bool {
    netns::exists(&runner.netns_path(id))
}

/// The kept namespace of a container directory, for `--network container:NAME`.
pub fn netns_of(container_dir: &Path) -> Option<std::path::PathBuf> {
    let path = netns::path_in(container_dir);
    netns::exists(&path).then_some(path)
}

/// The name `atomic0` and docker's `bridge` are one network.
pub fn display_name(network: &str) -> &str {
    if network == DEFAULT_NETWORK {
        "bridge"
    } else {
        network
    }
}

#[cfg(test)]
#[path = "attach_tests.rs"]
mod tests;

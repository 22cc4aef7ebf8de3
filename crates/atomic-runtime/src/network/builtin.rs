//! The built-in bridge driver: a container on a bridge network without DNS (the default
//! `atomic0`, as Docker's default bridge) is set up in-process, links over netlink
//! ([`super::ifaces`]) and the firewall in one `iptables-restore` ([`super::firewall`]), in a
//! few milliseconds where netavark 1.4 takes a few hundred (it runs `iptables` three dozen
//! times). Networks with DNS go through netavark, which starts aardvark-dns.
//!
//! Setups and teardowns of a store are serialized with netavark's (one lock file): the first
//! container on a network makes its bridge and firewall chains, the last removes the chains
//! (and the bridge, but for the host's own store, whose bridges stay as Docker's `docker0`). Whether another container of the network is up is
//! the store's to say (its namespace file is there), not the bridge's: a veth pair outlives
//! its container's namespace file for a moment, while the kernel tears the namespace down.

use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};

use super::attach::{Attachment, Endpoint};
use super::config::Network;
use super::firewall::{self, ContainerRules, Expect, NetRules};
use super::ifaces::{self, Wiring};
use super::netns;
use super::ports::PortMapping;

/// One endpoint with its network's definition.
pub struct Leg<'a> {
    pub endpoint: &'a Endpoint,
    pub network: &'a Network,
}

impl Leg<'_> {
    fn bridge(&self) -> Result<&str> {
        self.network
            .network_interface
            .as_deref()
            .with_context(|| format!("network {} has no bridge name", self.network.name))
    }

    fn rules(&self) -> Result<NetRules<'_>> {
        let subnet = self
            .network
            .subnet()
            .with_context(|| format!("network {} has no subnet", self.network.name))?;
        Ok(NetRules {
            id: &self.network.id,
            subnet: subnet.subnet,
            bridge: self.bridge()?,
            internal: self.network.internal,
        })
    }

    fn wiring(&self, container_id: &str, index: usize, netns: &Path) -> Result<Wiring> {
        let e = self.endpoint;
        let gateway = e
            .gateway
            .with_context(|| format!("network {} has no gateway", self.network.name))?;
        let mac = match e.mac.as_deref().filter(|_| e.fixed_mac) {
            Some(text) => Some(ifaces::parse_mac(text).context("--mac-address")?),
            None => None,
        };
        Ok(Wiring {
            bridge: self.bridge()?.to_string(),
            gateway,
            prefix_len: e.prefix_len,
            host_veth: ifaces::host_veth_name(container_id, index),
            netns: netns.to_path_buf(),
            interface: e.interface.clone(),
            ip: e.ip,
            mac,
        })
    }
}

/// The published ports go to the first endpoint's address (the container's own, as docker
/// shows it).
fn ports_of(att: &Attachment, index: usize) -> &[PortMapping] {
    if index == 0 { &att.ports } else { &[] }
}

/// One setup or teardown at a time per store, netavark's included.
pub fn lock(config_dir: &Path) -> Result<File> {
    std::fs::create_dir_all(config_dir)
        .with_context(|| format!("creating {}", config_dir.display()))?;
    let path = config_dir.join("netavark.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(lock)
}

/// Write a sysctl when it is not already `value` (a write costs more than a read and may be
/// refused in a container where the value is right already).
fn sysctl(key: &str, value: &str) -> Result<()> {
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    let now = std::fs::read_to_string(&path).unwrap_or_default();
    if now.trim() == value {
        return Ok(());
    }
    std::fs::write(&path, value).with_context(|| format!("setting sysctl {key}={value}"))
}

/// Whether a host address reaches the container through the loopback interface too: the
/// bridge must then route 127.0.0.0/8 (`route_localnet`), as netavark sets it.
fn reaches_loopback(m: &PortMapping) -> bool {
    match m.host_ip.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => true,
    }
}

/// Set up the container's endpoints in a new namespace kept at `netns`; `others_live` says
/// whether another container on a network (by name) has its network up (its chains are
/// there). Returns each endpoint's MAC address. On failure the firewall rules made are
/// removed again (and the bridge made, unless `keep_bridges`: see [`teardown`]); the caller
/// removes the namespace, and the links go with it.
pub fn setup(
    container_id: &str,
    att: &Attachment,
    legs: &[Leg],
    netns: &Path,
    others_live: &dyn Fn(&str) -> bool,
    keep_bridges: bool,
) -> Result<Vec<String>> {
    let mut macs = Vec::new();
    for (index, leg) in legs.iter().enumerate() {
        match setup_one(container_id, att, leg, index, netns, others_live) {
            Ok(mac) => macs.push(mac),
            Err(e) => {
                if let Err(t) = teardown(container_id, att, legs, others_live, keep_bridges) {
                    tracing::debug!("teardown after a failed setup: {t:#}");
                }
                return Err(e);
            }
        }
    }
    Ok(macs)
}

fn setup_one(
    container_id: &str,
    att: &Attachment,
    leg: &Leg,
    index: usize,
    netns: &Path,
    others_live: &dyn Fn(&str) -> bool,
) -> Result<String> {
    let start = std::time::Instant::now();
    let rules = leg.rules()?;
    let ports = ports_of(att, index);
    let expect = if others_live(&leg.network.name) {
        Expect::Present
    } else {
        Expect::New
    };
    let container = ContainerRules {
        id: container_id,
        ip: leg.endpoint.ip,
        ports,
    };
    // The firewall's transaction runs while the links are made: neither waits for the other.
    let firewall = firewall::start_setup(&rules, expect, &container);
    let links = make_links(leg, &rules, ports, container_id, index, netns);
    let links_done = start.elapsed();
    let firewall = firewall
        .finish()
        .with_context(|| format!("setting up the firewall of network {}", leg.network.name));
    let mac = links?;
    firewall?;
    tracing::debug!(
        "network {} up in {:?} (namespace and links {links_done:?}; firewall {expect:?})",
        leg.network.name,
        start.elapsed()
    );
    Ok(mac)
}

/// The sysctls, the namespace (for the first endpoint) and the links.
fn make_links(
    leg: &Leg,
    rules: &NetRules,
    ports: &[PortMapping],
    container_id: &str,
    index: usize,
    netns_path: &Path,
) -> Result<String> {
    if !rules.internal {
        sysctl("net.ipv4.ip_forward", "1")?;
    }
    if index == 0 {
        let start = std::time::Instant::now();
        netns::create(netns_path)?;
        tracing::debug!("namespace made in {:?}", start.elapsed());
    }
    let mac = ifaces::up(&leg.wiring(container_id, index, netns_path)?)?;
    if ports.iter().any(reaches_loopback) {
        sysctl(
            &format!("net.ipv4.conf.{}.route_localnet", rules.bridge),
            "1",
        )?;
    }
    Ok(mac)
}

/// Remove the container's firewall rules, and a network's own with its last container (no
/// other is live on it: `others_live`). Its links go with its namespace. The bridge stays when
/// `keep_bridges` (the host's store: `atomic0` is there for the next container, as Docker's
/// `docker0`); another store's (a test's, a benchmark's) goes with its last container, so that
/// a store that is deleted leaves no bridge holding its subnet. Whatever is gone already is no
/// error; every endpoint is tried, the first failure is returned.
pub fn teardown(
    container_id: &str,
    att: &Attachment,
    legs: &[Leg],
    others_live: &dyn Fn(&str) -> bool,
    keep_bridges: bool,
) -> Result<()> {
    let mut first = None;
    for (index, leg) in legs.iter().enumerate() {
        let done = leg.rules().and_then(|rules| {
            let container = ContainerRules {
                id: container_id,
                ip: leg.endpoint.ip,
                ports: ports_of(att, index),
            };
            let last = !others_live(&leg.network.name);
            let start = std::time::Instant::now();
            firewall::teardown(&rules, last, &container).with_context(|| {
                format!(
                    "removing the firewall rules of network {}",
                    leg.network.name
                )
            })?;
            tracing::debug!(
                "network {} down (last: {last}): firewall {:?}",
                leg.network.name,
                start.elapsed()
            );
            if last && !keep_bridges {
                ifaces::remove_bridge(rules.bridge).with_context(|| {
                    format!("removing the bridge of network {}", leg.network.name)
                })?;
            }
            Ok(())
        });
        if let Err(e) = done {
            tracing::debug!("network teardown: {e:#}");
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

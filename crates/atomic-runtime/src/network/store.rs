//! atomic's networks and what is allocated on them, under the store root (never Podman's):
//!
//! ```text
//! STORE/networks/
//! ├── lock               held around every change below
//! ├── NAME.json          one network, as netavark reads it (see config.rs); the default
//! │                      network's bridge is `atomic0` (in the default store; elsewhere, and
//! │                      for user networks, `atomic<ID prefix>`)
//! ├── .allocations       addresses (network → address → container) and the host ports of
//! │                      containers whose network is up
//! └── netavark/          netavark's --config directory (aardvark-dns's files)
//! ```
//!
//! netavark leaves address management to its caller: atomic allocates each container's
//! address here, under the lock, so two atomics creating containers at once never get the
//! same one.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use atomic_store::lock::{Lock, Mode};

use super::config::{Network, Subnet};
use super::ports::PortMapping;

/// The default bridge network: where `docker run` without `--network` puts a container.
pub const DEFAULT_NETWORK: &str = "atomic0";
/// Its subnet unless atomic.conf `default_network_subnet` says otherwise (apart from
/// Docker's 172.17/16 and Podman's 10.88/16 and 10.89.x/24).
pub const DEFAULT_SUBNET: &str = "10.90.0.0/16";
/// Where `network create` without `--subnet` takes a /24 from.
const USER_SUBNETS: &str = "10.91.0.0/16";

/// The allocations file: a name no network can have (they cannot start with a dot).
const ALLOCATIONS: &str = ".allocations";

/// Names docker gives a meaning of their own (`--network NAME` would not reach a network).
const RESERVED: &[&str] = &["bridge", "host", "none", "default", "private"];

/// Addresses and live ports, persisted.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Allocations {
    /// network → address → container ID.
    #[serde(default)]
    addresses: BTreeMap<String, BTreeMap<Ipv4Addr, String>>,
    /// container ID → the host ports its running network holds.
    #[serde(default)]
    ports: BTreeMap<String, Vec<PortMapping>>,
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewNetwork {
    pub name: String,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub internal: bool,
    /// Labels of `docker network create --label`.
    pub labels: BTreeMap<String, String>,
}

/// The networks of one store.
#[derive(Debug, Clone)]
pub struct Networks {
    root: PathBuf,
    /// The host's own store (the default root): its default network's bridge is `atomic0`.
    host_store: bool,
}

impl Networks {
    /// The networks of the store at `store_root`; nothing is created until needed.
    pub fn new(store_root: &Path) -> Networks {
        Networks {
            root: store_root.join("networks"),
            host_store: store_root == Path::new(atomic_store::store::DEFAULT_ROOT),
        }
    }

    /// Whether these are the host's own store's networks (whose bridges stay when idle).
    pub fn is_host_store(&self) -> bool {
        self.host_store
    }

    /// netavark's `--config` directory.
    pub fn netavark_dir(&self) -> PathBuf {
        self.root.join("netavark")
    }

    fn lock(&self) -> Result<Lock> {
        fs::create_dir_all(self.netavark_dir())
            .with_context(|| format!("creating {}", self.root.display()))?;
        Lock::acquire(
            &self.root.join("lock"),
            Mode::Exclusive,
            "another atomic changing networks",
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.json"))
    }

    /// A network by name (`bridge` and `default` name the default network); None if absent.
    pub fn get(&self, name: &str) -> Result<Option<Network>> {
        let name = canonical(name);
        if check_name(name).is_err() {
            return Ok(None);
        }
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not a network definition", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// A network that must exist: the error says how to make it.
    pub fn require(&self, name: &str) -> Result<Network> {
        self.get(name)?.with_context(|| {
            format!(
                "network '{name}' not found; create it with 'atomic network create {name}' \
                 (or 'docker network create {name}' in a label)"
            )
        })
    }

    /// Every network, by name.
    pub fn list(&self) -> Result<Vec<Network>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.root.display())),
        };
        let mut out = Vec::new();
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some(net) = name.strip_suffix(".json")
                && !net.starts_with('.')
                && let Some(found) = self.get(net)?
            {
                out.push(found);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The default network, made on first use with `subnet`.
    pub fn ensure_default(&self, subnet: Ipv4Net) -> Result<Network> {
        if let Some(found) = self.get(DEFAULT_NETWORK)? {
            return Ok(found);
        }
        let _lock = self.lock()?;
        if let Some(found) = self.get(DEFAULT_NETWORK)? {
            return Ok(found);
        }
        // Docker's default bridge has no name resolution between containers.
        let net = self.define(DEFAULT_NETWORK, subnet, None, false, false, BTreeMap::new())?;
        self.save(&net)?;
        Ok(net)
    }

    /// `network create`: a bridge with its own subnet (given, or the next free /24) and DNS.
    pub fn create(&self, req: &NewNetwork) -> Result<Network> {
        check_name(&req.name)?;
        if RESERVED.contains(&req.name.as_str()) || req.name == DEFAULT_NETWORK {
            bail!(
                "network name '{}' is reserved; choose another name",
                req.name
            );
        }
        let _lock = self.lock()?;
        if self.get(&req.name)?.is_some() {
            bail!("network with name {} already exists", req.name);
        }
        let existing = self.list()?;
        let overlaps = |s: &Ipv4Net| {
            existing
                .iter()
                .filter_map(Network::subnet)
                .find(|o| o.subnet.contains(&s.network()) || s.contains(&o.subnet.network()))
                .map(|o| o.subnet)
        };
        let subnet = match req.subnet {
            Some(s) => {
                if let Some(other) = overlaps(&s) {
                    bail!("subnet {s} overlaps the subnet {other} of another atomic network");
                }
                s
            }
            None => free_subnet(&|s| overlaps(s).is_some())?,
        };
        let net = self.define(
            &req.name,
            subnet,
            req.gateway,
            req.internal,
            true,
            req.labels.clone(),
        )?;
        self.save(&net)?;
        Ok(net)
    }

    fn define(
        &self,
        name: &str,
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        internal: bool,
        dns: bool,
        labels: BTreeMap<String, String>,
    ) -> Result<Network> {
        let subnet = subnet.trunc();
        if subnet.prefix_len() > 30 {
            bail!("subnet {subnet} is too small: it needs room for a gateway and containers");
        }
        let gateway = match gateway {
            Some(g) if !subnet.contains(&g) => bail!("gateway {g} is not in subnet {subnet}"),
            Some(g) => g,
            None => first_host(subnet),
        };
        let id = crate::state::new_id()?;
        // Bridges are the host's: a user network's is named after its ID, not a counter, and
        // only the host's own store has `atomic0`, so that another store (a test's) never
        // lands on the same bridge.
        let interface = if name == DEFAULT_NETWORK && self.host_store {
            DEFAULT_NETWORK.to_string()
        } else {
            format!("atomic{}", &id[..8])
        };
        Ok(Network {
            name: name.to_string(),
            id,
            driver: "bridge".into(),
            network_interface: Some(interface),
            created: Some(crate::state::now()),
            subnets: vec![Subnet {
                subnet,
                gateway: Some(gateway),
            }],
            ipv6_enabled: false,
            internal,
            dns_enabled: dns,
            ipam_options: BTreeMap::from([("driver".into(), "host-local".into())]),
            options: labels
                .into_iter()
                .map(|(k, v)| (format!("label.{k}"), v))
                .collect(),
        })
    }

    fn save(&self, net: &Network) -> Result<()> {
        let path = self.path(&net.name);
        let tmp = self
            .root
            .join(format!(".{}.{}", net.name, std::process::id()));
        fs::write(&tmp, serde_json::to_vec_pretty(net)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("saving {}", path.display()))
    }

    /// `network rm`: refused while a container has an address on it.
    pub fn remove(&self, name: &str) -> Result<()> {
        let net = self.require(name)?;
        if net.name == DEFAULT_NETWORK {
            bail!(
                "{} is a pre-defined network and cannot be removed",
                net.name
            );
        }
        let _lock = self.lock()?;
        let alloc = self.load()?;
        if let Some(users) = alloc.addresses.get(&net.name)
            && let Some(id) = users.values().next()
        {
            bail!(
                "network {} is in use by container {}; remove the container first",
                net.name,
                &id[..id.len().min(12)]
            );
        }
        fs::remove_file(self.path(&net.name))
            .with_context(|| format!("removing network {}", net.name))
    }

    /// The containers with an address on `network`.
    pub fn users(&self, network: &str) -> Result<BTreeMap<Ipv4Addr, String>> {
        Ok(self.load()?.addresses.remove(network).unwrap_or_default())
    }

    fn load(&self) -> Result<Allocations> {
        let path = self.root.join(ALLOCATIONS);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is damaged", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Allocations::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn store(&self, alloc: &Allocations) -> Result<()> {
        let path = self.root.join(ALLOCATIONS);
        let tmp = self
            .root
            .join(format!("{ALLOCATIONS}.{}", std::process::id()));
        fs::write(&tmp, serde_json::to_vec_pretty(alloc)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("saving {}", path.display()))
    }

    /// An address on `net` for container `id`: `want` (`--ip`) if it is free, else the lowest
    /// free one.
    pub fn allocate(&self, net: &Network, id: &str, want: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
        let _lock = self.lock()?;
        let mut alloc = self.load()?;
        let used = alloc.addresses.entry(net.name.clone()).or_default();
        let ip = pick_address(net, used, want)?;
        used.insert(ip, id.to_string());
        self.store(&alloc)?;
        Ok(ip)
    }

    /// Forget everything held for container `id` (its addresses and ports).
    pub fn release(&self, id: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut alloc = self.load()?;
        let before = serde_json::to_vec(&alloc)?;
        for used in alloc.addresses.values_mut() {
            used.retain(|_, owner| owner != id);
        }
        alloc.addresses.retain(|_, used| !used.is_empty());
        alloc.ports.remove(id);
        if serde_json::to_vec(&alloc)? != before {
            self.store(&alloc)?;
        }
        Ok(())
    }

    /// Record that container `id` now holds `ports` on the host. Refused, naming the port,
    /// when another container whose network is up (`live`) holds one of them, or a program on
    /// the host listens there.
    pub fn claim_ports(
        &self,
        id: &str,
        name: &str,
        ports: &[PortMapping],
        live: &dyn Fn(&str) -> bool,
    ) -> Result<()> {
        let _lock = self.lock()?;
        let mut alloc = self.load()?;
        alloc.ports.retain(|owner, _| owner == id || live(owner));
        Self::check_ports(&alloc, id, ports)
            .with_context(|| format!("cannot start container {name}"))?;
        alloc.ports.insert(id.to_string(), ports.to_vec());
        self.store(&alloc)
    }

    /// The check of [`Self::claim_ports`] alone, before a container is created: a `run` whose
    /// port is taken then fails before anything exists.
    pub fn check_free_ports(
        &self,
        ports: &[PortMapping],
        live: &dyn Fn(&str) -> bool,
    ) -> Result<()> {
        let mut alloc = self.load()?;
        alloc.ports.retain(|owner, _| live(owner));
        Self::check_ports(&alloc, "", ports)
    }

    fn check_ports(alloc: &Allocations, id: &str, ports: &[PortMapping]) -> Result<()> {
        for (owner, held) in &alloc.ports {
            if owner == id {
                continue;
            }
            for m in ports {
                if let Some(h) = held.iter().find(|h| h.conflicts(m)) {
                    bail!(
                        "host port {} ({}) is already published by container {}",
                        overlap_port(m, h),
                        m.protocol.as_str(),
                        &owner[..owner.len().min(12)]
                    );
                }
            }
        }
        for m in ports {
            super::probe::check_free(m)?;
        }
        Ok(())
    }

    /// Container `id`'s network is down: its host ports are free again.
    pub fn release_ports(&self, id: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut alloc = self.load()?;
        if alloc.ports.remove(id).is_some() {
            self.store(&alloc)?;
        }
        Ok(())
    }
}

/// The first host port two mappings share.
fn overlap_port(a: &PortMapping, b: &PortMapping) -> u16 {
    let (ra, rb) = (a.host_range(), b.host_range());
    ra.start.max(rb.start)
}

/// `bridge` and `default` are docker's names for the default network.
fn canonical(name: &str) -> &str {
    match name {
        "bridge" | "default" => DEFAULT_NETWORK,
        n => n,
    }
}

/// docker's rule for network names.
pub fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        bail!("invalid network name '{name}': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    Ok(())
}

fn first_host(subnet: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

/// The next /24 of 10.91.0.0/16 that no network overlaps.
fn free_subnet(taken: &dyn Fn(&Ipv4Net) -> bool) -> Result<Ipv4Net> {
    let pool: Ipv4Net = USER_SUBNETS.parse().context("the user subnet pool")?;
    pool.subnets(24)
        .context("the user subnet pool")?
        .find(|s| !taken(s))
        .context("no free /24 left in 10.91.0.0/16; give --subnet")
}

/// Pure address choice: `want` when free and usable, else the lowest free host address.
fn pick_address(
    net: &Network,
    used: &BTreeMap<Ipv4Addr, String>,
    want: Option<Ipv4Addr>,
) -> Result<Ipv4Addr> {
    let subnet = net
        .subnet()
        .with_context(|| format!("network {} has no IPv4 subnet", net.name))?;
    let gateway = subnet.gateway;
    let usable = |ip: &Ipv4Addr| {
        subnet.subnet.contains(ip)
            && *ip != subnet.subnet.network()
            && *ip != subnet.subnet.broadcast()
            && Some(*ip) != gateway
    };
    if let Some(ip) = want {
        if !usable(&ip) {
            bail!(
                "--ip {ip}: not a container address of network {} ({})",
                net.name,
                subnet.subnet
            );
        }
        if let Some(owner) = used.get(&ip) {
            bail!(
                "--ip {ip}: the address is already in use by container {}",
                &owner[..owner.len().min(12)]
            );
        }
        return Ok(ip);
    }
    subnet
        .subnet
        .hosts()
        .find(|ip| usable(ip) && !used.contains_key(ip))
        .with_context(|| format!("no free address left on network {}", net.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let nets = Networks::new(dir.path());
        let net = nets
            .ensure_default("10.99.0.0/30".parse().unwrap())
            .unwrap();
        assert_eq!(net.gateway(), Some(Ipv4Addr::new(10, 99, 0, 1)));
        assert_eq!(
            nets.allocate(&net, "a", None).unwrap(),
            Ipv4Addr::new(10, 99, 0, 2)
        );
        let err = nets.allocate(&net, "b", None).unwrap_err().to_string();
        assert!(err.contains("no free address"), "{err}");
        nets.release("a").unwrap();
        assert_eq!(
            nets.allocate(&net, "b", Some(Ipv4Addr::new(10, 99, 0, 2)))
                .unwrap(),
            Ipv4Addr::new(10, 99, 0, 2)
        );
        let err = nets
            .allocate(&net, "c", Some(Ipv4Addr::new(10, 99, 0, 1)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a container address"), "{err}");
    }

    #[test]
    fn user_networks_get_their_own_subnets_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let nets = Networks::new(dir.path());
        let new = |name: &str| NewNetwork {
            name: name.into(),
            ..NewNetwork::default()
        };
        let a = nets.create(&new("a")).unwrap();
        let b = nets.create(&new("b")).unwrap();
        assert_eq!(a.subnet().unwrap().subnet.to_string(), "10.91.0.0/24");
        assert_eq!(b.subnet().unwrap().subnet.to_string(), "10.91.1.0/24");
        assert_eq!(a.network_interface, Some(format!("atomic{}", &a.id[..8])));
        assert_ne!(a.network_interface, b.network_interface);
        assert!(a.dns_enabled);
        for bad in ["a", "bridge", "-x", "a b"] {
            assert!(nets.create(&new(bad)).is_err(), "{bad}");
        }
        let overlap = NewNetwork {
            name: "c".into(),
            subnet: Some("10.91.0.128/25".parse().unwrap()),
            ..NewNetwork::default()
        };
        assert!(
            nets.create(&overlap)
                .unwrap_err()
                .to_string()
                .contains("overlaps")
        );
        nets.allocate(&a, "id1", None).unwrap();
        assert!(nets.remove("a").unwrap_err().to_string().contains("in use"));
        nets.release("id1").unwrap();
        nets.remove("a").unwrap();
        let names: Vec<String> = nets.list().unwrap().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["b"]);
        assert!(
            nets.require("a")
                .unwrap_err()
                .to_string()
                .contains("atomic network create a")
        );
    }
}

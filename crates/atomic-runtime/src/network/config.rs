//! What netavark reads and answers (its JSON), and atomic's network definitions, which are
//! netavark's `Network` objects as they are: one file per network, handed over unchanged.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::ports::PortMapping;

/// One network (netavark's `Network`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    pub driver: String,
    /// The bridge on the host (`atomic0`, `atomic1`, …).
    pub network_interface: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub ipv6_enabled: bool,
    /// No route out (no NAT), as `docker network create --internal`.
    #[serde(default)]
    pub internal: bool,
    /// Containers resolve each other's names through aardvark-dns.
    #[serde(default)]
    pub dns_enabled: bool,
    #[serde(default)]
    pub ipam_options: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Network {
    /// The first IPv4 subnet: where atomic allocates addresses.
    pub fn subnet(&self) -> Option<&Subnet> {
        self.subnets.first()
    }

    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.subnet().and_then(|s| s.gateway)
    }
}

/// A subnet and its gateway (the bridge's own address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: ipnet::Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
}

/// What netavark's `setup`/`teardown` read on stdin (its `NetworkOptions`).
#[derive(Debug, Clone, Serialize)]
pub struct NetworkOptions<'a> {
    pub container_id: &'a str,
    pub container_name: &'a str,
    pub port_mappings: Option<&'a [PortMapping]>,
    pub networks: BTreeMap<&'a str, PerNetworkOptions>,
    pub network_info: BTreeMap<&'a str, &'a Network>,
    pub dns_servers: Option<Vec<String>>,
}

/// The container's place on one network (netavark's `PerNetworkOptions`).
#[derive(Debug, Clone, Serialize)]
pub struct PerNetworkOptions {
    pub static_ips: Vec<String>,
    pub aliases: Vec<String>,
    pub interface_name: String,
    pub static_mac: Option<String>,
}

/// What `setup` answers, per network (netavark's `StatusBlock`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatusBlock {
    #[serde(default)]
    pub interfaces: BTreeMap<String, NetInterface>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NetInterface {
    #[serde(default)]
    pub mac_address: String,
}

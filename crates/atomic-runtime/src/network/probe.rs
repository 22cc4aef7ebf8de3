//! Host ports, asked of the kernel: is one free, and which one is.
//!
//! Published ports are firewall rules (netavark's DNAT), not sockets: nothing stops two
//! containers, or a container and a host program, from claiming the same port, and the later
//! rule would silently win or lose. A port that a host program listens on is found by binding
//! it for a moment; ports of other containers are in the allocations (store.rs).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use anyhow::{Result, bail};

use super::ports::{PortMapping, PortRange, Proto};

fn bind(proto: Proto, ip: IpAddr, port: u16) -> std::io::Result<u16> {
    let addr = SocketAddr::new(ip, port);
    match proto {
        Proto::Udp => UdpSocket::bind(addr).and_then(|s| s.local_addr()),
        // SCTP has no std socket; its ports are checked as TCP's, which is what a host
        // program publishing both would hold.
        Proto::Tcp | Proto::Sctp => TcpListener::bind(addr).and_then(|s| s.local_addr()),
    }
    .map(|a| a.port())
}

fn address(host_ip: &str) -> IpAddr {
    host_ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Fail, naming the port, when a host program holds one of the mapping's host ports.
pub fn check_free(m: &PortMapping) -> Result<()> {
    let ip = address(&m.host_ip);
    for port in m.host_range().start..=m.host_range().end {
        if let Err(e) = bind(m.protocol, ip, port) {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                bail!(
                    "host port {port} ({}) is already in use on {ip}; choose another with -p",
                    m.protocol.as_str()
                );
            }
            if e.kind() == std::io::ErrorKind::AddrNotAvailable {
                bail!("-p {}: {ip} is not an address of this host", m.short());
            }
            bail!("checking host port {port}: {e}");
        }
    }
    Ok(())
}

/// A free host port: the kernel's pick, or the first free one of `range`.
pub fn free_port(
    proto: Proto,
    ip: Option<IpAddr>,
    range: Option<PortRange>,
) -> Result<u16, String> {
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    match range {
        None => bind(proto, ip, 0).map_err(|e| format!("choosing a free host port: {e}")),
        Some(r) => (r.start..=r.end)
            .find(|p| bind(proto, ip, *p).is_ok())
            .ok_or_else(|| format!("no free host port in {r}")),
    }
}

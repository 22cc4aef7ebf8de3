//! Published ports: `-p [IP:][HOSTPORT:]CPORT[/tcp|udp|sctp]` (ranges included), `--expose`,
//! `-P`, and the `PortMapping` netavark takes.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The most ports one range may hold (docker has no limit; a typo like `1-65535` would
/// otherwise make 65,535 firewall rules).
const MAX_RANGE: u16 = 1024;

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }

    fn parse(s: &str) -> Result<Proto, String> {
        match s.to_ascii_lowercase().as_str() {
            "" | "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "sctp" => Ok(Proto::Sctp),
            _ => Err(format!("unknown protocol '{s}' (tcp, udp or sctp)")),
        }
    }
}

/// An inclusive range of ports; one port is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn len(self) -> u16 {
        self.end - self.start + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }

    pub fn contains(self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    fn overlaps(self, other: PortRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// `80` or `8000-8010`.
    fn parse(s: &str) -> Result<PortRange, String> {
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("'{p}' is not a port number (1-65535)"))
        };
        let (start, end) = match s.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(s)?, port(s)?),
        };
        if end < start {
            return Err(format!("port range '{s}' ends before it starts"));
        }
        if end - start >= MAX_RANGE {
            return Err(format!(
                "port range '{s}' holds more than {MAX_RANGE} ports"
            ));
        }
        Ok(PortRange { start, end })
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// One `-p` as written: the host side may be left for atomic to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<IpAddr>,
    /// None: a free port chosen when the container is created.
    pub host: Option<PortRange>,
    pub container: PortRange,
    pub proto: Proto,
}

/// One `--expose` (or an image's `ExposedPorts` entry) port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExposedPort {
    pub port: u16,
    pub proto: Proto,
}

/// Parse one `-p` value.
pub fn parse_publish(value: &str) -> Result<PortSpec, String> {
    let bad = |why: String| {
        format!("'{value}': {why}; expected [IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]")
    };
    let (addr, proto) = value.split_once('/').unwrap_or((value, ""));
    let proto = Proto::parse(proto).map_err(bad)?;
    // An IPv6 host address is written in brackets: `[::1]:80:80`.
    let (host_ip, rest) = match addr.strip_prefix('[') {
        Some(v6) => {
            let (ip, rest) = v6
                .split_once("]:")
                .ok_or_else(|| bad("unclosed '[' around an IPv6 address".into()))?;
            (Some(ip.to_string()), rest.to_string())
        }
        None => {
            let parts: Vec<&str> = addr.split(':').collect();
            match parts.as_slice() {
                [c] => (None, (*c).to_string()),
                [h, c] => (None, format!("{h}:{c}")),
                [ip, h, c] => (Some((*ip).to_string()), format!("{h}:{c}")),
                _ => return Err(bad("too many ':'".into())),
            }
        }
    };
    let host_ip = match host_ip.as_deref() {
        None | Some("") => None,
        Some(ip) => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| bad(format!("'{ip}' is not an IP address")))?,
        ),
    };
    let (host, container) = match rest.split_once(':') {
        Some(("", c)) => (None, c),
        Some((h, c)) => (Some(PortRange::parse(h).map_err(bad)?), c),
        None => (None, rest.as_str()),
    };
    let container = PortRange::parse(container).map_err(bad)?;
    if let Some(h) = host
        && h.len() != container.len()
        && container.len() != 1
    {
        return Err(bad(format!(
            "the host range {h} and the container range {container} differ in size"
        )));
    }
    Ok(PortSpec {
        host_ip,
        host,
        container,
        proto,
    })
}

/// Parse one `--expose` value (`80`, `8000-8010/udp`) or image `ExposedPorts` key (`80/tcp`).
pub fn parse_expose(value: &str) -> Result<Vec<ExposedPort>, String> {
    let (ports, proto) = value.split_once('/').unwrap_or((value, ""));
    let proto = Proto::parse(proto).map_err(|e| format!("'{value}': {e}"))?;
    let range = PortRange::parse(ports).map_err(|e| format!("'{value}': {e}"))?;
    Ok((range.start..=range.end)
        .map(|port| ExposedPort { port, proto })
        .collect())
}

/// One published port range as netavark takes it (its `PortMapping`), with the host side
/// decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Empty: every host address.
    pub host_ip: String,
    pub container_port: u16,
    pub host_port: u16,
    /// How many consecutive ports, from the two starts.
    pub range: u16,
    pub protocol: Proto,
}

impl PortMapping {
    pub fn host_range(&self) -> PortRange {
        PortRange {
            start: self.host_port,
            end: self.host_port + (self.range.max(1) - 1),
        }
    }

    /// Whether the two claim a host port in common (same protocol, overlapping addresses).
    pub fn conflicts(&self, other: &PortMapping) -> bool {
        self.protocol == other.protocol
            && (self.host_ip.is_empty()
                || other.host_ip.is_empty()
                || self.host_ip == other.host_ip)
            && self.host_range().overlaps(other.host_range())
    }

    /// `80/tcp -> 127.0.0.1:18080` lines, as `docker port` prints them (one per port).
    pub fn docker_port_lines(&self) -> Vec<String> {
        (0..self.range.max(1))
            .map(|i| {
                let ip = if self.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    &self.host_ip
                };
                format!(
                    "{}/{} -> {ip}:{}",
                    self.container_port + i,
                    self.protocol.as_str(),
                    self.host_port + i
                )
            })
            .collect()
    }

    /// `127.0.0.1:18080->80/tcp`, as `docker ps` shows it.
    pub fn short(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        let r = |start: u16| PortRange {
            start,
            end: start + (self.range.max(1) - 1),
        };
        format!(
            "{ip}:{}->{}/{}",
            r(self.host_port),
            r(self.container_port),
            self.protocol.as_str()
        )
    }
}

/// The ports a container publishes: `-p`s, then with `-P` every exposed port (image and
/// `--expose`) not published yet. `free_port` picks a host port for a spec without one
/// (`-p 80`, `-P`).
pub fn mappings(
    publish: &[PortSpec],
    publish_all: bool,
    exposed: &[ExposedPort],
    free_port: &mut dyn FnMut(Proto, Option<IpAddr>, Option<PortRange>) -> Result<u16, String>,
) -> Result<Vec<PortMapping>, String> {
    let mut out: Vec<PortMapping> = Vec::new();
    for spec in publish {
        let ip = spec.host_ip.map(|i| i.to_string()).unwrap_or_default();
        let fixed = spec.host.filter(|h| h.len() == spec.container.len());
        match fixed {
            Some(host) => out.push(PortMapping {
                host_ip: ip,
                container_port: spec.container.start,
                host_port: host.start,
                range: spec.container.len(),
                protocol: spec.proto,
            }),
            // No host port, or a host range for one container port: each container port gets
            // a free host port (from that range).
            None => {
                for port in spec.container.start..=spec.container.end {
                    let host = free_port(spec.proto, spec.host_ip, spec.host)?;
                    out.push(PortMapping {
                        host_ip: ip.clone(),
                        container_port: port,
                        host_port: host,
                        range: 1,
                        protocol: spec.proto,
                    });
                }
            }
        }
    }
    if publish_all {
        let mut exposed = exposed.to_vec();
        exposed.sort();
        exposed.dedup();
        for e in exposed {
            let published = out.iter().any(|m| {
                m.protocol == e.proto
                    && (m.container_port..m.container_port + m.range.max(1)).contains(&e.port)
            });
            if !published {
                out.push(PortMapping {
                    host_ip: String::new(),
                    container_port: e.port,
                    host_port: free_port(e.proto, None, None)?,
                    range: 1,
                    protocol: e.proto,
                });
            }
        }
    }
    for (i, a) in out.iter().enumerate() {
        if let Some(b) = out[..i].iter().find(|b| b.conflicts(a)) {
            return Err(format!(
                "host port {} is published twice ({} and {})",
                a.host_port,
                b.short(),
                a.short()
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> PortSpec {
        parse_publish(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn publish_forms() {
        let r = |start, end| PortRange { start, end };
        let s = spec("80");
        assert_eq!(
            (s.host_ip, s.host, s.container, s.proto),
            (None, None, r(80, 80), Proto::Tcp)
        );
        let s = spec("8080:80/udp");
        assert_eq!(
            (s.host, s.container, s.proto),
            (Some(r(8080, 8080)), r(80, 80), Proto::Udp)
        );
        let s = spec("127.0.0.1:18080:80");
        assert_eq!(s.host_ip, Some("127.0.0.1".parse().unwrap()));
        let s = spec("127.0.0.1::80");
        assert_eq!((s.host, s.container), (None, r(80, 80)));
        let s = spec("8000-8002:9000-9002/TCP");
        assert_eq!((s.host, s.container), (Some(r(8000, 8002)), r(9000, 9002)));
        let s = spec("[::1]:80:80");
        assert_eq!(s.host_ip, Some("::1".parse().unwrap()));
        assert_eq!(spec("8000-8010:80").host, Some(r(8000, 8010)));
    }

    #[test]
    fn bad_publish_values_say_why() {
        for (value, why) in [
            ("", "not a port number"),
            ("abc", "not a port number"),
            ("0", "not a port number"),
            ("70000", "not a port number"),
            ("80/icmp", "unknown protocol"),
            ("1.2.3:80:80", "not an IP address"),
            ("a:b:c:d", "too many"),
            ("8000-8002:80-81", "differ in size"),
            ("90-80", "ends before"),
            ("1-65535", "more than"),
            ("[::1:80:80", "unclosed"),
        ] {
            let err = parse_publish(value).expect_err(value);
            assert!(err.contains(why), "{value}: {err}");
            assert!(err.contains("expected [IP:]"), "{value}: {err}");
        }
    }

    #[test]
    fn mappings_pick_free_ports_and_publish_all_exposed_ones() {
        let mut next = 40000;
        let mut free = |_: Proto, _: Option<IpAddr>, range: Option<PortRange>| {
            next += 1;
            Ok(range.map_or(next, |r| r.start))
        };
        let publish = [
            spec("127.0.0.1:18080:80"),
            spec("53/udp"),
            spec("7000-7001:7000-7001"),
        ];
        let exposed = parse_expose("80/tcp")
            .unwrap()
            .into_iter()
            .chain(parse_expose("9000").unwrap())
            .collect::<Vec<_>>();
        let m = mappings(&publish, true, &exposed, &mut free).unwrap();
        let shorts: Vec<String> = m.iter().map(PortMapping::short).collect();
        assert_eq!(
            shorts,
            [
                "127.0.0.1:18080->80/tcp",
                "0.0.0.0:40001->53/udp",
                "0.0.0.0:7000-7001->7000-7001/tcp",
                "0.0.0.0:40002->9000/tcp",
            ]
        );
        assert_eq!(
            m[2].docker_port_lines(),
            ["7000/tcp -> 0.0.0.0:7000", "7001/tcp -> 0.0.0.0:7001"]
        );
        let twice = mappings(
            &[spec("8080:80"), spec("127.0.0.1:8080:81")],
            false,
            &[],
            &mut free,
        );
        assert!(twice.unwrap_err().contains("published twice"));
        // Same port, other protocol: no conflict.
        assert!(mappings(&[spec("53:53"), spec("53:53/udp")], false, &[], &mut free).is_ok());
    }
}

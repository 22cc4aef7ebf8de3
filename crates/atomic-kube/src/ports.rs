//! `-p` and `--expose` as container ports (and, with `--service`, a Service's ports).
//!
//! `-p [IP:][HOST:]CONTAINER[/PROTO]`, ranges `8000-8002:8000-8002` included: the container
//! port is a containerPort; a host port is its hostPort (the node's port, as docker binds the
//! host's), and an IP its hostIP.

use atomic_label::RunOpt;
use k8s_openapi::api::core::v1::ContainerPort;

use crate::KubeError;
use crate::flags::{State, value};

/// The most ports one range may expand to.
const MAX_RANGE: u32 = 1024;

fn protocol(opt: &RunOpt, p: &str) -> Result<String, KubeError> {
    match p.to_ascii_lowercase().as_str() {
        "" | "tcp" => Ok("TCP".into()),
        "udp" => Ok("UDP".into()),
        "sctp" => Ok("SCTP".into()),
        _ => Err(KubeError::invalid(opt, format!("unknown protocol '{p}'"))),
    }
}

/// `80` or `8000-8002`.
fn range(opt: &RunOpt, s: &str) -> Result<(u32, u32), KubeError> {
    let port = |p: &str| {
        p.parse::<u32>()
            .ok()
            .filter(|n| (1..=65535).contains(n))
            .ok_or_else(|| KubeError::invalid(opt, format!("'{p}' is not a port number")))
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(s)?, port(s)?),
    };
    if b < a || b - a >= MAX_RANGE {
        return Err(KubeError::invalid(opt, format!("bad port range '{s}'")));
    }
    Ok((a, b))
}

fn push(state: &mut State<'_>, port: ContainerPort) {
    let ports = state.draft.container.ports.get_or_insert_with(Vec::new);
    // The same port twice (`-p 80:80 --expose 80`) is one containerPort.
    if !ports.iter().any(|p| {
        p.container_port == port.container_port
            && p.protocol == port.protocol
            && p.host_port == port.host_port
    }) {
        ports.push(port);
    }
}

pub(crate) fn publish(state: &mut State<'_>, opt: &RunOpt) -> Result<(), KubeError> {
    let v = value(opt)?;
    let (addr, proto) = v.split_once('/').unwrap_or((v, ""));
    let protocol = protocol(opt, proto)?;
    // An IPv6 host IP is written in brackets: `[::1]:80:80`.
    let (ip, rest) = match addr.strip_prefix('[') {
        Some(r) => {
            let (ip, rest) = r
                .split_once("]:")
                .ok_or_else(|| KubeError::invalid(opt, "expected [IPv6]:HOST:CONTAINER"))?;
            (Some(ip), rest)
        }
        None => (None, addr),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (ip, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (None, [h, c]) => (None, Some(*h), *c),
        (None, [i, h, c]) => (Some(*i), Some(*h), *c),
        (Some(i), [h, c]) => (Some(i), Some(*h), *c),
        _ => {
            return Err(KubeError::invalid(
                opt,
                "expected [IP:][HOST:]CONTAINER[/PROTO]",
            ));
        }
    };
    let (c0, c1) = range(opt, container)?;
    let host = match host.filter(|h| !h.is_empty()) {
        Some(h) => Some(range(opt, h)?),
        None => None,
    };
    if let Some((h0, h1)) = host
        && h1 - h0 != c1 - c0
    {
        return Err(KubeError::invalid(
            opt,
            "the host and container ranges differ in length",
        ));
    }
    if host.is_none() && ip.is_some_and(|i| !i.is_empty()) {
        state.warnings.push(crate::Warning::new(
            opt.written.clone(),
            "a host IP without a host port binds nothing in Kubernetes; dropped the IP",
        ));
    }
    for n in 0..=(c1 - c0) {
        push(
            state,
            ContainerPort {
                container_port: (c0 + n) as i32,
                host_port: host.map(|(h0, _)| (h0 + n) as i32),
                host_ip: ip
                    .filter(|i| !i.is_empty() && host.is_some())
                    .map(str::to_string),
                protocol: Some(protocol.clone()),
                name: None,
            },
        );
    }
    Ok(())
}

pub(crate) fn expose(state: &mut State<'_>, opt: &RunOpt) -> Result<(), KubeError> {
    let v = value(opt)?;
    let (ports, proto) = v.split_once('/').unwrap_or((v, ""));
    let protocol = protocol(opt, proto)?;
    let (a, b) = range(opt, ports)?;
    for port in a..=b {
        push(
            state,
            ContainerPort {
                container_port: port as i32,
                protocol: Some(protocol.clone()),
                ..ContainerPort::default()
            },
        );
    }
    Ok(())
}

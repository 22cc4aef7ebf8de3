//! `docker port NAME [PORT[/PROTO]]`, and the network fields of `docker inspect`.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::{Container, line};
use crate::network::attach::display_name;
use crate::state::Record;

/// `80/tcp -> 0.0.0.0:8080` lines, or with a port, the host addresses it is published on.
pub(super) fn execute(
    container: &impl Container,
    port: Option<&str>,
    out: &mut dyn Write,
) -> Result<i32> {
    let record = container.record();
    let lines: Vec<String> = record
        .network
        .iter()
        .flat_map(|n| &n.ports)
        .flat_map(|m| m.docker_port_lines())
        .collect();
    let Some(port) = port else {
        for text in &lines {
            line(out, text)?;
        }
        return Ok(0);
    };
    let wanted = if port.contains('/') {
        port.to_string()
    } else {
        format!("{port}/tcp")
    };
    let hits: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split_once(" -> "))
        .filter(|(c, _)| *c == wanted)
        .map(|(_, h)| h)
        .collect();
    if hits.is_empty() {
        bail!("no public port '{wanted}' published for {}", record.name);
    }
    for h in hits {
        line(out, h)?;
    }
    Ok(0)
}

/// `HostConfig.PortBindings`: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`.
pub(super) fn bindings(record: &Record) -> Value {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in record.network.iter().flat_map(|n| &n.ports) {
        for i in 0..m.range.max(1) {
            out.entry(format!("{}/{}", m.container_port + i, m.protocol.as_str()))
                .or_default()
                .push(json!({"HostIp": m.host_ip, "HostPort": (m.host_port + i).to_string()}));
        }
    }
    json!(out)
}

/// `NetworkSettings`: ports and, per network, address, gateway, MAC and aliases, in docker's
/// shape (the default network is docker's `bridge`).
pub(super) fn network_settings(record: &Record) -> Value {
    let Some(net) = &record.network else {
        return json!({"Ports": {}, "Networks": {}, "IPAddress": "", "Gateway": ""});
    };
    let mut networks = serde_json::Map::new();
    for e in &net.endpoints {
        networks.insert(
            display_name(&e.network).to_string(),
            json!({
                "IPAddress": e.ip.to_string(),
                "IPPrefixLen": e.prefix_len,
                "Gateway": e.gateway.map(|g| g.to_string()).unwrap_or_default(),
                "MacAddress": e.mac.clone().unwrap_or_default(),
                "Aliases": e.aliases,
                "NetworkID": e.network,
            }),
        );
    }
    let first = net.endpoints.first();
    json!({
        "Ports": bindings(record),
        "Networks": networks,
        "IPAddress": first.map(|e| e.ip.to_string()).unwrap_or_default(),
        "IPPrefixLen": first.map_or(0, |e| e.prefix_len),
        "Gateway": first.and_then(|e| e.gateway).map(|g| g.to_string()).unwrap_or_default(),
        "MacAddress": first.and_then(|e| e.mac.clone()).unwrap_or_default(),
    })
}

//! `docker network create|rm|ls|inspect` on the native engine (a label's, or `atomic
//! network`'s).

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::{inspect, line};
use crate::dockercli::NetworkCommand;
use crate::network::attach::display_name;
use crate::network::{Network, Networks, NewNetwork};

/// Carry out `command` on `networks`, printing on `out` what docker prints; the exit code.
pub fn execute(networks: &Networks, command: &NetworkCommand, out: &mut dyn Write) -> Result<i32> {
    match command {
        NetworkCommand::Create {
            name,
            subnet,
            gateway,
            internal,
            labels,
        } => {
            let net = networks.create(&NewNetwork {
                name: name.clone(),
                subnet: *subnet,
                gateway: *gateway,
                internal: *internal,
                labels: labels.clone(),
            })?;
            line(out, &net.id)?;
        }
        NetworkCommand::Rm { names } => {
            for name in names {
                let bridge = networks.get(name)?.and_then(|n| n.network_interface);
                networks.remove(name)?;
                // netavark removes its bridges with their last container; the built-in driver's
                // stay until their network goes.
                if let Some(bridge) = bridge
                    && let Err(e) = crate::network::ifaces::remove_bridge(&bridge)
                {
                    tracing::warn!("removing the bridge {bridge} of network {name}: {e:#}");
                }
                line(out, name)?;
            }
        }
        NetworkCommand::Ls { quiet } => list(networks, *quiet, out)?,
        NetworkCommand::Inspect { format, names } => {
            let mut items = Vec::new();
            for name in names {
                items.push(describe(networks, &networks.require(name)?)?);
            }
            inspect::print(&items, format.as_deref(), out)?;
        }
    }
    Ok(0)
}

/// `network ls`: a table, or with `-q` the short IDs.
fn list(networks: &Networks, quiet: bool, out: &mut dyn Write) -> Result<()> {
    let all = networks.list()?;
    if quiet {
        for n in &all {
            line(out, crate::state::short_id(&n.id))?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|n| {
            vec![
                crate::state::short_id(&n.id).to_string(),
                display_name(&n.name).to_string(),
                n.driver.clone(),
                subnet(n),
            ]
        })
        .collect();
    print_table(&["NETWORK ID", "NAME", "DRIVER", "SUBNET"], &rows, out)
}

fn subnet(n: &Network) -> String {
    n.subnet().map(|s| s.subnet.to_string()).unwrap_or_default()
}

/// docker's shape of a network: name, ID, driver, IPAM config, containers on it.
fn describe(networks: &Networks, n: &Network) -> Result<serde_json::Value> {
    let users = networks.users(&n.name)?;
    let containers: serde_json::Map<String, serde_json::Value> = users
        .iter()
        .map(|(ip, id)| {
            (
                id.clone(),
                json!({"IPv4Address": format!("{ip}/{}", n.subnet().map_or(0, |s| s.subnet.prefix_len()))}),
            )
        })
        .collect();
    let labels: serde_json::Map<String, serde_json::Value> = n
        .options
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("label.").map(|k| (k.to_string(), json!(v))))
        .collect();
    Ok(json!({
        "Name": display_name(&n.name),
        "Id": n.id,
        "Created": n.created,
        "Driver": n.driver,
        "Internal": n.internal,
        "EnableIPv6": n.ipv6_enabled,
        "IPAM": {
            "Driver": "default",
            "Config": n.subnets.iter().map(|s| json!({
                "Subnet": s.subnet.to_string(),
                "Gateway": s.gateway.map(|g| g.to_string()).unwrap_or_default(),
            })).collect::<Vec<_>>(),
        },
        "Options": {"com.docker.network.bridge.name": n.network_interface},
        "Labels": labels,
        "Containers": containers,
        "DNSEnabled": n.dns_enabled,
    }))
}

/// Columns aligned for people, three spaces apart.
fn print_table(header: &[&str], rows: &[Vec<String>], out: &mut dyn Write) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut row_line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        line(out, text.join("   ").trim_end())
    };
    row_line(header.to_vec())?;
    for row in rows {
        row_line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

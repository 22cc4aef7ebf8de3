//! `docker network create|rm|ls|inspect` on the native engine (a label's, or `atomic network`'s).

use anyhow::Result;
use serde_json::json;

use atomic_engine::NativeEngine;
use atomic_runtime::dockercli::NetworkCommand;
use atomic_runtime::network::attach::display_name;
use atomic_runtime::network::{Network, Networks, NewNetwork};

use crate::output;

pub fn execute(native: &NativeEngine, command: &NetworkCommand) -> Result<i32> {
    let networks = Networks::new(native.root());
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
            output::line(&net.id)?;
        }
        NetworkCommand::Rm { names } => {
            for name in names {
                let bridge = networks.get(name)?.and_then(|n| n.network_interface);
                networks.remove(name)?;
                // netavark removes its bridges with their last container; the built-in driver's
                // stay until their network goes.
                if let Some(bridge) = bridge
                    && let Err(e) = atomic_runtime::network::ifaces::remove_bridge(&bridge)
                {
                    tracing::warn!("removing the bridge {bridge} of network {name}: {e:#}");
                }
                output::line(name)?;
            }
        }
        NetworkCommand::Ls { quiet } => {
            let all = networks.list()?;
            if *quiet {
                for n in &all {
                    output::line(&n.id[..12])?;
                }
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|n| {
                        vec![
                            n.id[..12].to_string(),
                            display_name(&n.name).to_string(),
                            n.driver.clone(),
                            subnet(n),
                        ]
                    })
                    .collect();
                print_table(&["NETWORK ID", "NAME", "DRIVER", "SUBNET"], &rows)?;
            }
        }
        NetworkCommand::Inspect { format, names } => {
            let mut items = Vec::new();
            for name in names {
                items.push(inspect(&networks, &networks.require(name)?)?);
            }
            match format {
                Some(f) => {
                    for item in &items {
                        output::line(&super::render_template(f, item)?)?;
                    }
                }
                None => output::line(&serde_json::to_string_pretty(&items)?)?,
            }
        }
    }
    Ok(0)
}

fn subnet(n: &Network) -> String {
    n.subnet().map(|s| s.subnet.to_string()).unwrap_or_default()
}

/// docker's shape of a network: name, ID, driver, IPAM config, containers on it.
fn inspect(networks: &Networks, n: &Network) -> Result<serde_json::Value> {
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

/// Columns aligned for people.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        output::line(text.join("   ").trim_end())
    };
    line(header.to_vec())?;
    for row in rows {
        line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

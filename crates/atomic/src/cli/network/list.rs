//! `atomic network list [--json] [-q]`.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use atomic_engine::NativeEngine;
use atomic_runtime::dockercli::NetworkCommand;
use atomic_runtime::dockercli::execute::execute_network;
use atomic_runtime::network::Networks;

use crate::output::{self, Stdout};

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON (name, id, driver, subnet, gateway, bridge, dns, internal)
    #[arg(long)]
    json: bool,
    /// Print network IDs only
    #[arg(short, long)]
    quiet: bool,
}

pub fn list(args: ListArgs, native: &NativeEngine) -> Result<i32> {
    if !args.json {
        let quiet = args.quiet;
        let networks = Networks::new(native.root());
        return execute_network(&networks, &NetworkCommand::Ls { quiet }, &mut Stdout);
    }
    let items: Vec<_> = Networks::new(native.root())
        .list()?
        .iter()
        .map(|n| {
            let subnet = n.subnet();
            json!({
                "name": n.name,
                "id": n.id,
                "driver": n.driver,
                "subnet": subnet.map(|s| s.subnet.to_string()),
                "gateway": n.gateway().map(|g| g.to_string()),
                "bridge": n.network_interface,
                "dns": n.dns_enabled,
                "internal": n.internal,
            })
        })
        .collect();
    output::line(&serde_json::to_string_pretty(&items)?)?;
    Ok(0)
}

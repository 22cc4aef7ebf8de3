//! `atomic network create [--subnet CIDR] [--gateway IP] [--internal] NAME`.

use std::net::Ipv4Addr;

use anyhow::Result;
use clap::Args;

use atomic_engine::NativeEngine;
use atomic_runtime::dockercli::NetworkCommand;
use atomic_runtime::dockercli::execute::execute_network;
use atomic_runtime::network::Networks;

use crate::output::Stdout;

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// IPv4 subnet in CIDR form (default: the next free /24 of 10.91.0.0/16)
    #[arg(long)]
    subnet: Option<ipnet::Ipv4Net>,
    /// The bridge's address (default: the subnet's first address)
    #[arg(long)]
    gateway: Option<Ipv4Addr>,
    /// No route out of the network (no NAT)
    #[arg(long)]
    internal: bool,
    /// The network's name
    name: String,
}

pub fn create(args: CreateArgs, native: &NativeEngine) -> Result<i32> {
    execute_network(
        &Networks::new(native.root()),
        &NetworkCommand::Create {
            name: args.name,
            subnet: args.subnet,
            gateway: args.gateway,
            internal: args.internal,
            labels: Default::default(),
        },
        &mut Stdout,
    )
}

//! `atomic network delete NAME…`: refused while a container is on the network.

use anyhow::Result;
use clap::Args;

use atomic_engine::NativeEngine;
use atomic_runtime::dockercli::NetworkCommand;
use atomic_runtime::dockercli::execute::execute_network;
use atomic_runtime::network::Networks;

use crate::output::Stdout;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The networks to delete
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn delete(args: DeleteArgs, native: &NativeEngine) -> Result<i32> {
    let command = NetworkCommand::Rm { names: args.names };
    execute_network(&Networks::new(native.root()), &command, &mut Stdout)
}

//! `atomic network delete NAME…`: refused while a container is on the network.

use anyhow::Result;
use clap::Args;

use atomic_engine::NativeEngine;
use atomic_runtime::dockercli::NetworkCommand;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The networks to delete
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn delete(args: DeleteArgs, native: &NativeEngine) -> Result<i32> {
    crate::native_cli::network::execute(native, &NetworkCommand::Rm { names: args.names })
}

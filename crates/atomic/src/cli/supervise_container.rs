//! `atomic supervise-container --store-root DIR --runtime RT ID` (hidden): the supervisor of a
//! detached native container, which atomic starts itself (`atomic_runtime::supervise`, whose
//! `verb_args` write this command line).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use atomic_runtime::Runner;

#[derive(Args, Debug)]
pub struct SuperviseArgs {
    #[arg(long)]
    store_root: PathBuf,
    #[arg(long)]
    runtime: String,
    id: String,
}

/// Supervise one detached container until it is done.
pub fn supervise(args: SuperviseArgs) -> Result<i32> {
    let store = atomic_store::Store::open(&args.store_root)?;
    let runner = Runner::new(store, &args.runtime);
    atomic_runtime::supervise::supervise(&runner, &args.id)?;
    Ok(0)
}

//! `atomic native-docker docker …` (hidden): a docker command line carried out on the native
//! engine, as a label's would be (`atomic_runtime::dockercli::execute`), for scripts and tests
//! that set up containers the way a label does. Its exit code is docker's, the container's own
//! for `run`, `start -a` and `exec`.

use anyhow::Result;
use clap::Args;

use atomic_engine::NativeEngine;
use atomic_runtime::dockercli::execute::execute;

use crate::config::Config;
use crate::output::Stdout;

#[derive(Args, Debug)]
pub struct NativeDockerArgs {
    /// The command line, program first (`docker run --rm IMAGE true`)
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    argv: Vec<String>,
}

pub async fn native_docker(args: NativeDockerArgs, config: &Config) -> Result<i32> {
    let native = NativeEngine::with_settings(&config.engine_settings());
    execute(&args.argv, &[], &native, &mut Stdout).await
}

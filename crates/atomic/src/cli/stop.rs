//! `atomic stop`: stop a container with its STOP label, else the engine's stop.

use anyhow::Result;
use clap::Args;

use atomic_engine::ContainerInfo;
use atomic_label as label;

use super::LabelArgs;
use crate::command::{Prepared, Program, Values};
use crate::config::Config;
use crate::storage::{self, Target};

#[derive(Args, Debug)]
pub struct StopArgs {
    #[command(flatten)]
    common: LabelArgs,
    /// The container, then arguments passed to the STOP command
    #[arg(
        value_name = "CONTAINER [ARG]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

pub async fn stop(args: StopArgs, config: &Config) -> Result<i32> {
    let (name, extra) = super::split_target(&args.args);
    let selection = args.common.selection(config)?;
    if super::system::installed(config, &selection, name) {
        let user = !super::system::is_root();
        super::system::with_context(config, user, args.common.quiet, |ctx| {
            atomic_system::run::stop(ctx, name)
        })?;
        return Ok(0);
    }
    let (display, quiet) = (args.common.display, args.common.quiet);
    if let Some(code) = crate::app::stop(name, &selection, display, quiet).await? {
        return Ok(code);
    }
    let target = storage::find(&selection, None, Some(name)).await?;
    let Some(container) = &target.container else {
        return Err(storage::container_not_found(name, &selection));
    };
    let program = Program::for_engine(&target.engine, config);
    // NAME is the container as the user gave it (a name or an ID), as the original kept it.
    let values = Values::new(name, &container.image_name, &args.common.opts);
    if args.common.display {
        stop_command(container, &program, &values, extra)?.display()?;
        return Ok(0);
    }
    stop_container(
        &target,
        container,
        &program,
        &values,
        extra,
        args.common.quiet,
    )
    .await
}

/// The STOP label's command (read from the container's labels), or the engine's own stop.
fn stop_command(
    container: &ContainerInfo,
    program: &Program,
    values: &Values,
    extra: &[String],
) -> Result<Prepared> {
    Ok(match label::find(&container.labels, "STOP") {
        Some((key, text)) => Prepared::from_label(key, text, values, extra, program)?,
        None => Prepared::direct(program.argv(["stop", values.name.as_str()]), values),
    })
}

/// Stop a container: the STOP label runs as a command; without one, the engine's API stops it.
pub async fn stop_container(
    target: &Target,
    container: &ContainerInfo,
    program: &Program,
    values: &Values,
    extra: &[String],
    quiet: bool,
) -> Result<i32> {
    let prepared = stop_command(container, program, values, extra)?;
    prepared.announce(quiet)?;
    if label::find(&container.labels, "STOP").is_some() {
        return prepared.run_on(&target.engine).await;
    }
    target.engine.stop(&container.id).await?;
    Ok(0)
}

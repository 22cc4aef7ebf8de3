//! `atomic install`: run an image's INSTALL label and record the install.

use anyhow::{Context, Result, bail};
use clap::Args;

use atomic_label as label;

use super::{GlobalArgs, LabelArgs};
use crate::command::{Prepared, Program, Values};
use crate::config::Config;
use crate::installdb::InstallDb;
use crate::storage;

#[derive(Args, Debug)]
pub struct InstallArgs {
    #[command(flatten)]
    common: LabelArgs,
    /// Name of the container the install creates or configures (default: the image's name)
    #[arg(short = 'n', long)]
    name: Option<String>,
    #[command(flatten)]
    system: super::system::SystemInstallArgs,
    /// The image, then arguments passed to the INSTALL command
    #[arg(
        value_name = "IMAGE [ARG]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

pub async fn install(args: InstallArgs, _global: &GlobalArgs, config: &Config) -> Result<i32> {
    let (image, extra) = super::split_target(&args.args);
    let name = super::container_name(args.name.as_deref(), image, false)?;
    let selection = args.common.selection(config)?;
    if args.system.system || args.system.user {
        return system_install(&args, config, &name, image, extra).await;
    }
    let target = storage::find(&selection, Some(image), Some(&name)).await?;

    // The original meant to refuse this but its check never fired.
    if let Some(container) = &target.container {
        bail!(
            "A container '{}' is already present; remove it with 'atomic uninstall --name {} \
             {image}' or install under another --name",
            container.name,
            container.name
        );
    }

    let info = match &target.image {
        Some(info) => info.clone(),
        None if args.common.display => {
            return Err(storage::image_not_found(image, &selection)
                .context("--display does not pull images"));
        }
        None => {
            if !args.common.quiet {
                eprintln!("Need to pull {image} into {}", target.engine.kind());
            }
            let opts = atomic_store::PullOptions {
                quiet: args.common.quiet,
                ..Default::default()
            };
            target.engine.pull(image, &opts).await?;
            target
                .engine
                .image(image)
                .await?
                .with_context(|| format!("image '{image}' is still missing after pulling it"))?
        }
    };

    if info.labels.get("atomic.type").map(String::as_str) == Some("system") {
        // The image says it is a system container: installing it any other way would run its
        // INSTALL label (if any) as a docker container, which is not what its author meant.
        return system_install(&args, config, &name, image, extra).await;
    }
    super::run::warn_case_variants(&info.labels, "INSTALL", args.common.quiet);
    let Some((key, text)) = label::find(&info.labels, "INSTALL") else {
        // Nothing to run: the image has been pulled, which is all an install without a label is.
        if !args.common.display && !args.common.quiet {
            eprintln!("{image} has no INSTALL label; nothing to run");
        }
        return Ok(0);
    };
    let program = Program::for_engine(&target.engine, config);
    let values = Values::new(&name, image, &args.common.opts);
    let prepared = Prepared::from_label(key, text, &values, extra, &program)?;
    if args.common.display {
        prepared.display()?;
        return Ok(0);
    }
    prepared.announce(args.common.quiet)?;
    let code = prepared.run_on(&target.engine).await?;
    if code == 0 {
        InstallDb::open()
            .record(image, &info.id, &name)
            .context("the INSTALL command succeeded but recording the install failed")?;
    }
    Ok(code)
}

async fn system_install(
    args: &InstallArgs,
    config: &Config,
    name: &str,
    image: &str,
    extra: &[String],
) -> Result<i32> {
    if !extra.is_empty() {
        bail!(
            "a system container takes no arguments after the image; give template values with \
             --set NAME=VALUE"
        );
    }
    super::system::install(
        config,
        &args.system,
        name,
        image,
        args.common.runtime.as_deref(),
        args.common.display,
        args.common.quiet,
    )
    .await
}

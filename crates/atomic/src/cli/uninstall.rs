//! `atomic uninstall`: stop and remove the image's container, then run its UNINSTALL label (or,
//! without one, remove the image).

use anyhow::{Context, Result, bail};
use clap::Args;

use atomic_engine::ContainerInfo;
use atomic_label as label;

use super::{GlobalArgs, LabelArgs};
use crate::command::{Prepared, Program, Values};
use crate::config::Config;
use crate::installdb::InstallDb;
use crate::storage::{self, Target};

#[derive(Args, Debug)]
pub struct UninstallArgs {
    #[command(flatten)]
    common: LabelArgs,
    /// Name of the installed container (default: the image's name)
    #[arg(short = 'n', long)]
    name: Option<String>,
    /// Remove every container of the image, running or not
    #[arg(short = 'f', long)]
    force: bool,
    /// Application: also remove its images that no other application or container uses
    #[arg(long)]
    images: bool,
    /// The image, then arguments passed to the UNINSTALL command
    #[arg(
        value_name = "IMAGE [ARG]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

pub async fn uninstall(args: UninstallArgs, global: &GlobalArgs, config: &Config) -> Result<i32> {
    let (image, extra) = super::split_target(&args.args);
    let selection = args.common.selection(config)?;
    if super::system::installed(config, &selection, image) {
        if args.name.is_some() {
            bail!("System containers do not support --name.  Please use atomic uninstall {image}");
        }
        let user = !super::system::is_root();
        super::system::with_context(config, user, args.common.quiet, |ctx| {
            atomic_system::ops::uninstall(ctx, image)
        })?;
        return Ok(0);
    }
    let (display, quiet) = (args.common.display, args.common.quiet);
    if let Some(code) =
        crate::app::uninstall(image, &selection, args.images, display, quiet).await?
    {
        return Ok(code);
    }
    let name = super::container_name(args.name.as_deref(), image, false)?;
    let target = storage::find(&selection, Some(image), Some(&name)).await?;
    let Some(info) = target.image.clone() else {
        return Err(storage::image_not_found(image, &selection));
    };
    let program = Program::for_engine(&target.engine, config);
    let values = Values::new(&name, image, &args.common.opts);

    let label = label::find(&info.labels, "UNINSTALL");
    let prepared = label
        .map(|(key, text)| Prepared::from_label(key, text, &values, extra, &program))
        .transpose()?;
    if args.common.display {
        if let Some(container) = &target.container {
            eprintln!(
                "# would stop and remove container '{}' first",
                container.name
            );
        }
        match &prepared {
            Some(p) => p.display()?,
            None => Prepared::direct(program.argv(["rmi", image]), &values).display()?,
        }
        return Ok(0);
    }

    // Every refusal comes before the first change, so a refused uninstall changes nothing.
    let db = InstallDb::open();
    if prepared.is_none() && !global.ignore && !db.is_installed(image, &info.id)? {
        bail!(
            "'{image}' is not recorded as installed in {}; re-run with -i to remove the image \
             anyway",
            db.path().display()
        );
    }
    let others = other_containers(&target, &info.id, &name, args.force).await?;

    if let Some(container) = &target.container {
        stop_and_remove(&target, container, &program, &values, args.common.quiet).await?;
    }
    for c in others {
        target
            .engine
            .remove_container(&c.id, true)
            .await
            .with_context(|| format!("removing container '{}'", c.name))?;
    }

    match prepared {
        Some(prepared) => {
            prepared.announce(args.common.quiet)?;
            let code = prepared.run_on(&target.engine).await?;
            if code == 0 {
                db.remove(image, &info.id, Some(&name))?;
            }
            Ok(code)
        }
        None => {
            db.remove(image, &info.id, None)?;
            if !args.common.quiet {
                crate::output::line(&label::join(&program.argv(["rmi", image])))?;
            }
            // By the name given: another tag of the same image keeps it.
            target
                .engine
                .remove_image(image, args.force)
                .await
                .with_context(|| format!("removing image '{image}'"))?;
            Ok(0)
        }
    }
}

/// Stop NAME (its STOP label honoured) if it runs, then remove it.
async fn stop_and_remove(
    target: &Target,
    container: &ContainerInfo,
    program: &Program,
    values: &Values,
    quiet: bool,
) -> Result<()> {
    if container.running {
        let code =
            super::stop::stop_container(target, container, program, values, &[], quiet).await?;
        if code != 0 {
            bail!(
                "stopping container '{}' failed (exit {code}); nothing was uninstalled",
                container.name
            );
        }
    }
    target
        .engine
        .remove_container(&container.id, true)
        .await
        .with_context(|| format!("removing container '{}'", container.name))
}

/// Containers other than NAME still using the image: with `--force` they are to be removed,
/// else it is an error that names them.
async fn other_containers(
    target: &Target,
    image_id: &str,
    name: &str,
    force: bool,
) -> Result<Vec<ContainerInfo>> {
    let users: Vec<ContainerInfo> = target
        .engine
        .containers_of_image(image_id)
        .await?
        .into_iter()
        .filter(|c| c.name != name)
        .collect();
    if !users.is_empty() && !force {
        let names: Vec<&str> = users.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "Containers `{}` are using this image, delete them first or use --force",
            names.join(", ")
        );
    }
    Ok(users)
}

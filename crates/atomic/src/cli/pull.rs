//! `atomic pull`: pull an image into an engine.

use anyhow::{Result, bail};
use clap::Args;

use atomic_engine::{Engine, EngineKind};

use super::StorageArg;
use crate::config::Config;

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Print nothing but errors
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The image to pull
    image: String,
}

pub async fn pull(args: PullArgs, config: &Config) -> Result<i32> {
    let selection = args.storage.selection(config)?;
    let engine = match selection.explicit {
        Some(kind) => Engine::connect(kind)?,
        None => default_engine().await?,
    };
    engine.pull(&args.image, args.quiet).await?;
    Ok(0)
}

/// Without a choice, pulls go to Docker when its daemon answers, else to Podman.
async fn default_engine() -> Result<Engine> {
    if let Ok(docker) = Engine::connect(EngineKind::Docker)
        && docker.available().await
    {
        return Ok(docker);
    }
    match Engine::connect(EngineKind::Podman) {
        Ok(podman) => Ok(podman),
        Err(_) => bail!("no container engine is available; install podman or start dockerd"),
    }
}

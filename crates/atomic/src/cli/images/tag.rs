//! `atomic images tag SOURCE TARGET`: another name for an image, on the engine that has it.

use anyhow::Result;
use clap::Args;

use atomic_engine::Engine;

use crate::cli::StorageArg;
use crate::config::Config;
use crate::output;
use crate::storage;

#[derive(Args, Debug)]
pub struct TagArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// The image (name or ID)
    source: String,
    /// The new name, NAME[:TAG]
    target: String,
}

pub async fn tag(args: TagArgs, config: &Config) -> Result<i32> {
    let selection = args.storage.selection(config)?;
    let target = storage::find(&selection, Some(&args.source), None).await?;
    if target.image.is_none() {
        return Err(storage::image_not_found(&args.source, &selection));
    }
    match &target.engine {
        // The store qualifies names (`x` is docker.io/library/x:latest); say which one it took.
        Engine::Native(native) => {
            let name = native.tag_image(&args.source, &args.target)?;
            output::line(&format!("Tagged {} as {name}", args.source))?;
        }
        engine => engine.tag_image(&args.source, &args.target).await?,
    }
    Ok(0)
}

//! `atomic images delete` and `atomic images prune`.
//!
//! delete: every target is found first (a typo fails before anything is removed), the list is
//! shown, and nothing happens without a yes (`-y` answers it); a no exits 2, as the original
//! did. On every engine, deleting one of an image's several names removes that name only;
//! deleting by ID removes the image. prune: dangling images, and on the native store every
//! blob and layer no image needs.

use anyhow::{Result, bail};
use clap::Args;

use atomic_engine::{Engine, EngineKind};

use crate::cli::{GlobalArgs, StorageArg};
use crate::config::Config;
use crate::output;
use crate::storage;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Remove images even when containers use them (docker, podman)
    #[arg(short = 'f', long)]
    force: bool,
    /// Delete every image of the storage given with --storage
    #[arg(short = 'a', long, conflicts_with = "images")]
    all: bool,
    /// Names or IDs of the images to delete
    #[arg(value_name = "IMAGE")]
    images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    #[command(flatten)]
    storage: StorageArg,
}

/// One removal to do: on which engine, what to pass it, and how to show it.
struct Planned {
    engine: usize,
    queries: Vec<String>,
    shown: String,
}

pub async fn delete(args: DeleteArgs, global: &GlobalArgs, config: &Config) -> Result<i32> {
    if !args.all && args.images.is_empty() {
        bail!("You must select --all or provide a list of images to delete.");
    }
    let selection = args.storage.selection(config)?;
    let mut engines: Vec<Engine> = Vec::new();
    let mut plan: Vec<Planned> = Vec::new();
    if args.all {
        let Some(kind) = selection.explicit else {
            bail!("--all needs --storage docker|podman|native: say which storage to empty");
        };
        let engine = selection.connect(kind)?;
        for image in engine.list_images(false).await? {
            let shown = image
                .repo_tags
                .first()
                .cloned()
                .unwrap_or_else(|| image.id[..12.min(image.id.len())].to_string());
            // Docker refuses to delete an image by ID while several names hold it; removing
            // each name removes the image with the last one. The native store deletes by ID.
            let queries = if kind == EngineKind::Native || image.repo_tags.is_empty() {
                vec![image.id]
            } else {
                image.repo_tags
            };
            plan.push(Planned {
                engine: 0,
                queries,
                shown,
            });
        }
        engines.push(engine);
        if plan.is_empty() {
            eprintln!("There are no {kind} images to delete.");
            return Ok(0);
        }
    } else {
        for image in &args.images {
            let target = storage::find(&selection, Some(image), None).await?;
            let (engine, shown) = match target.image {
                Some(_) => (target.engine, image.clone()),
                // An entry of the native store whose image cannot be loaded: no lookup finds
                // it, yet it must be removable by the name it has.
                None => match damaged_native(&selection, image)? {
                    Some(native) => (native, format!("{image} (damaged)")),
                    None => return Err(storage::image_not_found(image, &selection)),
                },
            };
            plan.push(Planned {
                engine: engines.len(),
                queries: vec![image.clone()],
                shown,
            });
            engines.push(engine);
        }
    }

    let width = plan.iter().map(|p| p.shown.len()).max().unwrap_or(0) + 2;
    let mut text = if global.assumeyes {
        "The following images will be deleted.\n\n".to_string()
    } else {
        "Do you wish to delete the following images?\n\n".to_string()
    };
    for p in &plan {
        let kind = engines[p.engine].kind();
        text.push_str(&format!("   {:width$} {kind}\n", p.shown));
    }
    output::text_out(&text)?;
    if !global.assumeyes && !super::confirm("\nConfirm")? {
        let names: Vec<&str> = plan.iter().map(|p| p.shown.as_str()).collect();
        eprintln!("User aborted delete operation for {}", names.join(", "));
        return Ok(2);
    }

    let mut failed = false;
    for p in &plan {
        let engine = &engines[p.engine];
        for query in &p.queries {
            match engine.remove_image(query, args.force).await {
                Ok(removals) => {
                    for r in removals {
                        output::line(&r.to_string())?;
                    }
                }
                Err(e) => {
                    eprintln!("error: deleting '{query}' from {}: {e}", engine.kind());
                    failed = true;
                }
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// The native engine, when `image` names a damaged entry of its store (and the storage chosen
/// allows native).
fn damaged_native(selection: &storage::Selection, image: &str) -> Result<Option<Engine>> {
    if selection.explicit.is_some_and(|k| k != EngineKind::Native) {
        return Ok(None);
    }
    let Some(native) = selection.native_if_present() else {
        return Ok(None);
    };
    Ok(native.is_damaged(image)?.then_some(Engine::Native(native)))
}

/// Prune every engine there is (or the one chosen), as the original ran every backend's prune.
/// Across engines (no `--storage`), the dangling images of each are listed first and nothing
/// is removed without a yes (`-y` answers it): a prune meant for one engine must not empty
/// another's by surprise. A named engine is pruned at once, as `podman image prune -f` is.
pub async fn prune(args: PruneArgs, global: &GlobalArgs, config: &Config) -> Result<i32> {
    let selection = args.storage.selection(config)?;
    let engines = super::engines(&selection)?;
    if selection.explicit.is_none() && !confirm_prune(&engines, global.assumeyes).await? {
        eprintln!("User aborted prune operation");
        return Ok(2);
    }
    let mut failed = false;
    for engine in engines {
        let kind = engine.kind();
        let report = match engine.prune_images().await {
            Ok(r) => r,
            Err(e) if selection.explicit.is_none() && !engine.available().await => {
                tracing::debug!("{kind} is not available, not pruned: {e}");
                continue;
            }
            Err(e) => {
                eprintln!("error: pruning {kind} images: {e}");
                failed = true;
                continue;
            }
        };
        let mut text = String::new();
        for id in &report.images {
            text.push_str(&format!("Removed dangling image {} ({kind})\n", short(id)));
        }
        if kind == EngineKind::Native {
            text.push_str(&format!(
                "native: removed {} dangling image(s), {} blob(s) ({}) and {} layer(s)\n",
                report.images.len(),
                report.blobs,
                super::list::size_text(Some(report.bytes.unwrap_or(0))),
                report.layers
            ));
        } else if let Some(bytes) = report.bytes.filter(|b| *b > 0) {
            text.push_str(&format!(
                "{kind}: reclaimed {}\n",
                super::list::size_text(Some(bytes))
            ));
        }
        output::text_out(&text)?;
    }
    Ok(if failed { 1 } else { 0 })
}

/// Show each engine's dangling images and ask; true to go on.
async fn confirm_prune(engines: &[Engine], assumeyes: bool) -> Result<bool> {
    let mut text = if assumeyes {
        "The following dangling images will be removed.\n\n".to_string()
    } else {
        "Do you wish to remove the following dangling images?\n\n".to_string()
    };
    for engine in engines {
        let kind = engine.kind();
        let dangling: Vec<String> = match engine.list_images(false).await {
            Ok(images) => images
                .into_iter()
                .filter(|i| i.dangling)
                .map(|i| short(&i.id).to_string())
                .collect(),
            Err(e) => {
                tracing::debug!("{kind}: cannot list images: {e}");
                continue;
            }
        };
        if dangling.is_empty() {
            text.push_str(&format!("   {kind}: none\n"));
        }
        for id in dangling {
            text.push_str(&format!("   {id}   {kind}\n"));
        }
    }
    if engines.iter().any(|e| e.kind() == EngineKind::Native) {
        text.push_str("   and on native, every blob and layer no image needs\n");
    }
    output::text_out(&text)?;
    Ok(assumeyes || super::confirm("\nConfirm")?)
}

fn short(id: &str) -> &str {
    atomic_runtime::state::short_id(id)
}

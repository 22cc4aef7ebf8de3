//! `images verify` of a Docker or Podman image: those engines keep their files to themselves,
//! so what atomic can tell is whether the registry the image came from now has another version
//! under the same name (its image ID, the config digest, differs from the local one).

use anyhow::Result;

use atomic_engine::EngineKind;
use atomic_store::PullOptions;

use crate::output;
use crate::storage::{self, Selection};

/// Does Docker or Podman hold an image of this name? (The native store was asked already.)
pub async fn holds(selection: &Selection, image: &str) -> bool {
    storage::holders(selection, image).await.is_ok_and(|found| {
        found
            .iter()
            .any(|t| t.image.is_some() && t.engine.kind() != EngineKind::Native)
    })
}

/// One report per engine that holds `image`; exit 1 when one is out of date or cannot be
/// checked.
pub async fn verify(selection: &Selection, image: &str, tls_verify: Option<bool>) -> Result<i32> {
    let targets: Vec<_> = storage::holders(selection, image)
        .await?
        .into_iter()
        .filter(|t| t.image.is_some() && t.engine.kind() != EngineKind::Native)
        .collect();
    if targets.is_empty() {
        return Err(storage::image_not_found(image, selection));
    }
    let opts = PullOptions {
        quiet: true,
        tls_verify,
        ..PullOptions::default()
    };
    let remote = atomic_store::pull::registry::inspect(image, &opts).await;
    let mut code = 0;
    for target in targets {
        let kind = target.engine.kind();
        let local = target.image.map(|i| i.id).unwrap_or_default();
        let short = |id: &str| id.chars().take(12).collect::<String>();
        let line = match &remote {
            Ok(remote) if remote.config_digest.hex() == local => {
                format!("  registry    sha256:{}  up to date", short(&local))
            }
            Ok(remote) => {
                code = 1;
                format!(
                    "  registry    sha256:{}  newer version available (update it with 'atomic \
                     images update --storage {kind} {image}')",
                    short(remote.config_digest.hex())
                )
            }
            Err(e) => {
                code = 1;
                format!("  registry    -  cannot ask the registry: {e:#}")
            }
        };
        output::line(&format!(
            "{image} (image ID {}) in {kind}\n{line}",
            short(&local)
        ))?;
    }
    Ok(code)
}

//! Getting an application onto disk: a local directory holding a `Nulecule` is copied; an
//! application image's `/application-entity` is read straight out of its layers (every engine
//! gives an image's root as overlay layer directories — Podman on another storage driver mounts
//! it, and that mount is always given back); its RUN label never runs. Nested applications
//! (`source: docker://IMAGE`) are pulled when missing and unpacked into `external/<item>/`,
//! recursively; an application that includes itself is refused.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use atomic_app::app::{external_dir, read_nulecule, source_image};
use atomic_app::model::{FILE, IMAGE_DIR, SPECVERSION_LABEL};
use atomic_engine::{Engine, ImageInfo};
use atomic_inspect::tree;
use atomic_store::overlay::{is_absent, is_opaque, is_whiteout};

/// The most an application may unpack to: Nulecules and artifacts are text files.
const MAX_APP_BYTES: u64 = 64 << 20;

/// A directory that holds a Nulecule is an application (`atomic run ./myapp`).
pub fn local_dir(arg: &str) -> Option<PathBuf> {
    let path = Path::new(arg);
    path.join(FILE).is_file().then(|| path.to_path_buf())
}

/// Is this image an application? Its label says so; an image without a RUN label, or whose
/// RUN label is Atomic App's (which cannot work here: it needs a privileged container driving
/// the host's docker), is looked into for `/application-entity/Nulecule`. An image with a RUN
/// label of its own costs nothing more.
pub async fn is_app_image(engine: &Engine, info: &ImageInfo) -> bool {
    if info.labels.contains_key(SPECVERSION_LABEL) {
        return true;
    }
    let run = atomic_label::find(&info.labels, "RUN").map(|(_, text)| text);
    if run.is_some_and(|r| !r.contains("atomicapp")) {
        return false;
    }
    let path = format!("{IMAGE_DIR}/{FILE}");
    // Podman's files are read from its store without a podman process; asking Podman for the
    // layers would cost two.
    if engine.kind() == atomic_engine::EngineKind::Podman {
        return engine
            .read_first_file(&info.id, &[&path])
            .await
            .is_ok_and(|f| f.is_some());
    }
    match engine.root_layers(&info.id).await {
        Ok(Some(root)) => {
            let found = tree::read_file(&root.layers, &path).is_ok_and(|f| f.is_some());
            if let Err(e) = engine.release_root(&root) {
                eprintln!("warning: {e}");
            }
            found
        }
        _ => false,
    }
}

/// Copy a local application directory (regular files and directories; links are not followed).
pub fn copy_dir(src: &Path, dest: &Path) -> Result<()> {
    let mut total = 0;
    copy_tree(src, dest, &mut total)
}

fn copy_tree(src: &Path, dest: &Path, total: &mut u64) -> Result<()> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    for entry in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dest.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &to, total)?;
        } else if kind.is_file() {
            *total += entry.metadata()?.len();
            if *total > MAX_APP_BYTES {
                bail!(
                    "the application in {} is over {MAX_APP_BYTES} bytes",
                    src.display()
                );
            }
            std::fs::copy(entry.path(), &to)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Unpack the application of `image` (which `engine` holds) into `dest`.
pub async fn extract(engine: &Engine, image: &str, dest: &Path) -> Result<()> {
    let root = engine
        .root_layers(image)
        .await?
        .with_context(|| format!("image '{image}' is not in {}", engine.kind()))?;
    let result = copy_entity(&root.layers, dest)
        .with_context(|| format!("reading {IMAGE_DIR} of image '{image}'"));
    engine.release_root(&root)?;
    result
}

/// The layers (top first) that contribute to `/application-entity`, overlay rules applied.
fn entity_layers(layers: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let name = IMAGE_DIR.trim_start_matches('/');
    let mut out = Vec::new();
    for layer in layers {
        let path = layer.join(name);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if is_absent(&e) => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if is_whiteout(&meta) || !meta.is_dir() {
            break;
        }
        out.push(path.clone());
        if is_opaque(&path) {
            break;
        }
    }
    if out.is_empty() {
        bail!("the image has no {IMAGE_DIR} directory: it is not a Nulecule application");
    }
    Ok(out)
}

fn copy_entity(layers: &[PathBuf], dest: &Path) -> Result<()> {
    let layers = entity_layers(layers)?;
    let manifest = tree::from_layers(&layers, tree::Options { hash: false })?;
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut total = 0;
    for (rel, entry) in &manifest {
        let to = dest.join(rel);
        match entry.kind {
            Some(tree::Kind::Dir) => std::fs::create_dir_all(&to)
                .with_context(|| format!("creating {}", to.display()))?,
            Some(tree::Kind::File) => {
                total += entry.size;
                if total > MAX_APP_BYTES {
                    bail!("the application is over {MAX_APP_BYTES} bytes");
                }
                let data = tree::read_file(&layers, rel)?
                    .with_context(|| format!("{rel} vanished while it was read"))?;
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&to, data).with_context(|| format!("writing {}", to.display()))?;
            }
            // Links, devices and the like are no part of an application.
            _ => {}
        }
    }
    if !dest.join(FILE).is_file() {
        bail!("{IMAGE_DIR}/{FILE} is missing");
    }
    Ok(())
}

/// Unpack every nested application of the application in `dir`, pulling images `engine`
/// lacks. `chain`: the images being unpacked, outermost first (cycles are refused).
pub async fn nested(dir: &Path, engine: &Engine, chain: &[String], quiet: bool) -> Result<()> {
    let nulecule = read_nulecule(dir)?;
    for item in &nulecule.graph {
        let Some(image) = source_image(item, chain)? else {
            continue;
        };
        let child = external_dir(dir, &item.name);
        if !child.join(FILE).is_file() {
            if engine.image(image).await?.is_none() {
                if !quiet {
                    eprintln!("Pulling {image} (application of '{}')", item.name);
                }
                let opts = atomic_store::PullOptions {
                    quiet: true,
                    ..Default::default()
                };
                engine
                    .pull(image, &opts)
                    .await
                    .with_context(|| format!("pulling the application of '{}'", item.name))?;
            }
            extract(engine, image, &child).await?;
        }
        let mut deeper = chain.to_vec();
        deeper.push(image.to_string());
        Box::pin(nested(&child, engine, &deeper, quiet)).await?;
    }
    Ok(())
}

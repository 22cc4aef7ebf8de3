//! `atomic mount IMAGE DIR` and `atomic unmount DIR`: an image of the native store, read-only,
//! at DIR — an overlay of its unpacked layers (`atomic_store::mount`), nothing copied, no
//! temporary container or image left behind. With `--storage podman`, Podman's own image mount,
//! bound read-only at DIR (`atomic_engine`'s podman/mount.rs).
//!
//! The original also mounted containers (`--live`, `--shared`) and Docker images through its
//! graph driver's internals; containers on the native storage come with its runtime, and Docker
//! images can be imported first (`atomic pull docker-daemon:IMAGE`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use atomic_engine::{EngineKind, NativeEngine, PodmanEngine};

use super::StorageArg;
use crate::config::Config;

#[derive(Args, Debug)]
pub struct MountArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Mount options: only `ro` (images are always mounted read-only)
    #[arg(short = 'o', long, default_value = "")]
    options: String,
    /// Mount a running container's own filesystem, writable (containers only)
    #[arg(long, conflicts_with = "shared")]
    live: bool,
    /// Use the SELinux context of /usr for the mount (containers only)
    #[arg(long)]
    shared: bool,
    /// The image (name or ID)
    image: String,
    /// An empty directory to mount it on
    mountpoint: PathBuf,
}

#[derive(Args, Debug)]
pub struct UnmountArgs {
    /// Where `atomic mount` mounted an image
    mountpoint: PathBuf,
}

pub async fn mount(args: MountArgs, config: &Config) -> Result<i32> {
    if args.live || args.shared {
        bail!(
            "--live and --shared mount containers, and containers on the native storage are not \
             supported yet; for a Docker or Podman container use 'podman mount' or 'docker cp'"
        );
    }
    for option in args.options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => {}
            "rw" => bail!("The OverlayFS backend does not support writeable mounts."),
            other => bail!(
                "mount option '{other}' is not supported; images are mounted read-only, with no \
                 other options"
            ),
        }
    }
    let selection = args.storage.selection(config)?;
    match selection.explicit {
        Some(EngineKind::Docker) => bail!(
            "atomic mount works on the native storage; copy the image there first with 'atomic \
             pull docker-daemon:{}'",
            args.image
        ),
        Some(EngineKind::Podman) => {
            let podman = PodmanEngine::find()?;
            require_empty(&args.mountpoint)?;
            podman.mount_image(&args.image, &args.mountpoint)?;
            return Ok(0);
        }
        _ => {}
    }
    let native = NativeEngine::new(&selection.settings.store_root);
    let (store, image) = native.require(&args.image)?;
    let target = &args.mountpoint;
    require_empty(target)?;
    atomic_store::mount::mount_image(&store, &image, target).map_err(|e| {
        let denied = e.chain().any(|c| {
            c.downcast_ref::<rustix::io::Errno>()
                .is_some_and(|e| *e == rustix::io::Errno::PERM || *e == rustix::io::Errno::ACCESS)
        });
        if denied {
            e.context(format!("mounting '{}' needs root", args.image))
        } else {
            e.context(format!("mounting '{}' at {}", args.image, target.display()))
        }
    })?;
    Ok(0)
}

/// An image is mounted on an empty directory.
fn require_empty(target: &std::path::Path) -> Result<()> {
    let mut entries = std::fs::read_dir(target)
        .with_context(|| format!("mount point {} is not a directory", target.display()))?;
    if entries.next().is_some() {
        bail!(
            "The destination path is not empty: {} (an image is mounted on an empty directory)",
            target.display()
        );
    }
    Ok(())
}

pub async fn unmount(args: UnmountArgs, config: &Config) -> Result<i32> {
    // A Podman image's mount is told by the mount table; anything else is the native store's.
    if let Ok(podman) = PodmanEngine::find()
        && podman.unmount_image(&args.mountpoint)?
    {
        return Ok(0);
    }
    let native = NativeEngine::new(&config.store_root());
    let Some(store) = native.existing()? else {
        bail!(
            "{} is not an image mounted by atomic (there is no native store at {})",
            args.mountpoint.display(),
            native.root().display()
        );
    };
    atomic_store::mount::unmount_image(&store, &args.mountpoint)?;
    Ok(0)
}

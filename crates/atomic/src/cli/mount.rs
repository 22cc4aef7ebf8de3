//! `atomic mount [-o OPTS] [--live] [--shared] IMAGE|CONTAINER DIR` and `atomic unmount DIR`,
//! on every engine (`atomic_engine::mount` says where each keeps the files).
//!
//! An image, or a container without `--live`, is mounted read-only: its layers stacked by
//! overlayfs with no upper directory, or the engine's merged root bound read-only. Nothing is
//! copied and no temporary image or container is made (the original committed a container to a
//! temporary image first). `--live` binds a running container's own root, writable. What was
//! mounted is recorded (`crate::mountdb`) so that `unmount` undoes exactly that.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use rustix::mount::MountFlags;

use atomic_engine::mount::{MountSource, Object};

use super::StorageArg;
use crate::config::Config;
use crate::mountdb::{MountDb, MountRecord};
use crate::storage::{self, Target};

#[derive(Args, Debug)]
pub struct MountArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Mount options, comma-separated: ro (the default), rw (with --live only), nosuid,
    /// nodev, noexec
    #[arg(short = 'o', long, default_value = "")]
    options: String,
    /// Mount a running container's own root filesystem, writable
    #[arg(long, conflicts_with = "shared")]
    live: bool,
    /// Label the files with the SELinux context of /usr, so that containers may share them
    #[arg(long)]
    shared: bool,
    /// The image or container (name or ID; a container of that name comes first)
    image: String,
    /// An empty directory to mount it on
    mountpoint: PathBuf,
}

#[derive(Args, Debug)]
pub struct UnmountArgs {
    /// Where `atomic mount` mounted an image or a container
    mountpoint: PathBuf,
}

/// `-o`, checked.
#[derive(Debug, PartialEq)]
struct Options {
    /// `rw` or `ro`, when given: a live mount is writable by default, any other read-only.
    writable: Option<bool>,
    flags: MountFlags,
}

impl Options {
    fn parse(text: &str) -> Result<Options> {
        let mut options = Options {
            writable: None,
            flags: MountFlags::empty(),
        };
        for option in text.split(',').filter(|o| !o.is_empty()) {
            match option {
                "ro" => options.writable = Some(false),
                "rw" => options.writable = Some(true),
                "nosuid" => options.flags |= MountFlags::NOSUID,
                "nodev" => options.flags |= MountFlags::NODEV,
                "noexec" => options.flags |= MountFlags::NOEXEC,
                other => bail!(
                    "mount option '{other}' is not supported; choose from ro, rw, nosuid, nodev, \
                     noexec"
                ),
            }
        }
        Ok(options)
    }
}

pub async fn mount(args: MountArgs, config: &Config) -> Result<i32> {
    let options = Options::parse(&args.options)?;
    if options.writable == Some(true) && !args.live {
        bail!(
            "The OverlayFS backend does not support writeable mounts. (Only a running \
             container's own root can be mounted writable, with --live.)"
        );
    }
    let mountpoint = empty_directory(&args.mountpoint)?;
    let selection = args.storage.selection(config)?;
    let target = the_one_holder(storage::holders(&selection, &args.image).await?, &args)?;
    let (object, object_kind, id) = what_to_mount(&target, &args)?;

    let (source, release) = target.engine.mount_source(object).await?;
    let mounted = mount_source(&source, &mountpoint, &options, args.live, args.shared);
    if let Err(e) = mounted {
        if let Some(release) = &release {
            let _ = target.engine.release(release);
        }
        return Err(explain_denied(e, &args.image, &mountpoint));
    }
    let recorded = MountDb::open().add(MountRecord {
        mountpoint: mountpoint.clone(),
        engine: target.engine.kind().to_string(),
        object: object_kind.to_string(),
        id,
        name: args.image.clone(),
        live: args.live,
        release: release.clone(),
    });
    // A mount that unmount would not know is undone rather than left behind.
    if let Err(e) = recorded {
        let _ = atomic_store::mount::unmount_dir(&mountpoint);
        if let Some(release) = &release {
            let _ = target.engine.release(release);
        }
        return Err(e.context(format!("recording the mount at {}", mountpoint.display())));
    }
    Ok(0)
}

/// The mount point, canonical: a directory, empty, and not a mount point already.
fn empty_directory(dir: &Path) -> Result<PathBuf> {
    // mount(2) follows a symlink at the mount point: `atomic mount IMG link` would cover
    // whatever the link points at. The original's mount did not follow it; neither does this.
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!(
            "mount point {} is a symbolic link; give the directory itself",
            dir.display()
        );
    }
    let canonical = dir
        .canonicalize()
        .with_context(|| format!("mount point {} does not exist", dir.display()))?;
    let mut entries = std::fs::read_dir(&canonical)
        .with_context(|| format!("mount point {} is not a directory", dir.display()))?;
    if atomic_runtime::rootfs::is_mount_point(&canonical)? {
        bail!(
            "{} is already a mount point; unmount it first ('atomic unmount {}')",
            dir.display(),
            dir.display()
        );
    }
    if entries.next().is_some() {
        bail!(
            "The destination path is not empty: {} (atomic mounts on an empty directory, so \
             that nothing in it is hidden)",
            dir.display()
        );
    }
    Ok(canonical)
}

/// Exactly one engine must hold the name: guessing between two could mount the wrong thing.
fn the_one_holder(mut holders: Vec<Target>, args: &MountArgs) -> Result<Target> {
    match holders.len() {
        0 => bail!(
            "image or container '{}' not found in {}",
            args.image,
            match &args.storage.storage {
                Some(storage) => format!("storage '{storage}'"),
                None => "docker, podman or the native storage".to_string(),
            }
        ),
        1 => Ok(holders.remove(0)),
        _ => {
            let engines: Vec<String> = holders
                .iter()
                .map(|t| t.engine.kind().to_string())
                .collect();
            bail!(
                "Found more than one Image with name {}; please specify with --storage ({}).",
                args.image,
                engines.join(" or ")
            )
        }
    }
}

/// A container of that name before an image of that name, as the original looked them up.
fn what_to_mount<'a>(
    target: &'a Target,
    args: &MountArgs,
) -> Result<(Object<'a>, &'static str, String)> {
    if let Some(container) = &target.container {
        if args.live && !container.running {
            bail!(
                "--live mounts a running container's own root, and '{}' is not running",
                args.image
            );
        }
        let object = Object::Container {
            id: &container.id,
            live: args.live,
        };
        return Ok((object, "container", container.id.clone()));
    }
    let Some(image) = &target.image else {
        bail!("no image or container '{}'", args.image);
    };
    if args.live {
        bail!(
            "--live mounts a running container's own root, and '{}' is an image; leave out \
             --live to mount it read-only",
            args.image
        );
    }
    Ok((Object::Image(&image.id), "image", image.id.clone()))
}

fn mount_source(
    source: &MountSource,
    mountpoint: &Path,
    options: &Options,
    live: bool,
    shared: bool,
) -> Result<()> {
    let context = if shared { usr_context() } else { None };
    match source {
        MountSource::Layers(layers) => {
            for layer in layers {
                if !layer.is_dir() {
                    bail!("layer directory {} is missing", layer.display());
                }
            }
            atomic_store::mount::mount_layers(layers, mountpoint, options.flags, context.as_deref())
        }
        MountSource::Merged(dir) => {
            let mut flags = options.flags;
            if !(live && options.writable.unwrap_or(true)) {
                flags |= MountFlags::RDONLY;
            }
            if !dir.is_dir() {
                bail!("the engine's root directory {} is missing", dir.display());
            }
            atomic_store::mount::bind(dir, mountpoint, flags)
        }
    }
}

/// The SELinux context of /usr (`--shared`), when SELinux labels files here.
fn usr_context() -> Option<String> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::getxattr("/usr", "security.selinux", &mut buf).ok()?;
    let context = String::from_utf8_lossy(&buf[..n])
        .trim_end_matches('\0')
        .to_string();
    (!context.is_empty()).then_some(context)
}

fn explain_denied(e: anyhow::Error, name: &str, mountpoint: &Path) -> anyhow::Error {
    let denied = e.chain().any(|c| {
        c.downcast_ref::<rustix::io::Errno>()
            .is_some_and(|e| *e == rustix::io::Errno::PERM || *e == rustix::io::Errno::ACCESS)
    });
    if denied {
        e.context(format!("mounting '{name}' needs root"))
    } else {
        e.context(format!("mounting '{name}' at {}", mountpoint.display()))
    }
}

pub async fn unmount(args: UnmountArgs, config: &Config) -> Result<i32> {
    let mountpoint = args
        .mountpoint
        .canonicalize()
        .with_context(|| format!("{} does not exist", args.mountpoint.display()))?;
    let db = MountDb::open();
    let Some(record) = db.get(&mountpoint)? else {
        return unmount_unrecorded(&args.mountpoint, config);
    };
    // Someone else may have unmounted it already: then only the engine's count and the record
    // are left to undo.
    if atomic_runtime::rootfs::is_mount_point(&mountpoint)? {
        atomic_store::mount::unmount_dir(&mountpoint)?;
    }
    // The directory is free now: forget it first, so that a failure to give the engine its
    // mount back is reported once, not in every later unmount.
    db.remove(&mountpoint)?;
    if let Some(release) = &record.release {
        let selection = storage::Selection::new(Some(&record.engine), config)?;
        selection
            .connect(record.engine.parse()?)?
            .release(release)
            .with_context(|| {
                format!(
                    "{} is unmounted, but {} still counts '{}' as mounted",
                    mountpoint.display(),
                    record.engine,
                    record.name
                )
            })?;
    }
    Ok(0)
}

/// A native image mounted before atomic recorded its mounts.
fn unmount_unrecorded(mountpoint: &Path, config: &Config) -> Result<i32> {
    let native = atomic_engine::NativeEngine::new(&config.store_root());
    let Some(store) = native.existing()? else {
        bail!("{} is not mounted by atomic", mountpoint.display());
    };
    atomic_store::mount::unmount_image(&store, mountpoint)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let o = Options::parse("ro,nosuid,nodev").unwrap();
        assert_eq!(o.writable, Some(false));
        assert_eq!(o.flags, MountFlags::NOSUID | MountFlags::NODEV);
        assert_eq!(Options::parse("rw").unwrap().writable, Some(true));
        assert_eq!(Options::parse("").unwrap().writable, None);
        let e = Options::parse("ro,remount").unwrap_err();
        assert!(e.to_string().contains("'remount' is not supported"), "{e}");
    }
}

//! The mounts of a container: docker's defaults, the host files atomic writes (`/etc/hosts`,
//! `/etc/hostname`, `/etc/resolv.conf`), then `-v`/`--mount`/`--tmpfs`, `--privileged`'s host
//! `/dev` and `--init`'s binary. A user mount replaces a default one at the same destination,
//! as in docker (`-v /dev/shm:/dev/shm` must not be hidden by the default shm).

use super::{SpecError, SpecInput};
use crate::dockercli::{MountKind, Propagation, RunRequest};
use crate::host::Host;
use oci_spec::runtime::Mount;
use std::path::PathBuf;

/// Where `--init` puts the init binary: docker's `/dev/init`, unless `/dev` (or something
/// above it) is a host directory. runc creates a bind mount's target file, and in a bind of the
/// host's `/dev` that file would be left on the host (seen with `--privileged --init`).
pub fn init_path(req: &RunRequest) -> &'static str {
    let host_dev = req.privileged
        || req.mounts.iter().any(|m| {
            matches!(m.kind, MountKind::Bind { .. })
                && "/dev/".starts_with(&format!("{}/", m.destination.trim_end_matches('/')))
        });
    if host_dev {
        "/.atomic-init"
    } else {
        "/dev/init"
    }
}

/// Host files bind-mounted over the image's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFiles {
    pub hosts: Option<PathBuf>,
    pub hostname: Option<PathBuf>,
    pub resolv_conf: Option<PathBuf>,
}

fn mount(destination: &str, typ: &str, source: impl Into<PathBuf>, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(destination));
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(source.into()));
    m.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

fn defaults(req: &RunRequest, host: &dyn Host) -> Vec<Mount> {
    let mut m = vec![mount(
        "/proc",
        "proc",
        "proc",
        &["nosuid", "noexec", "nodev"],
    )];
    if req.privileged {
        // The host's devices, as podman's --privileged gives them (runc then creates none).
        m.push(mount(
            "/dev",
            "bind",
            "/dev",
            &["rbind", "nosuid", "rprivate"],
        ));
    } else {
        m.push(mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ));
    }
    m.push(mount(
        "/dev/pts",
        "devpts",
        "devpts",
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ],
    ));
    m.push(mount(
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    ));
    m.push(mount(
        "/dev/mqueue",
        "mqueue",
        "mqueue",
        &["nosuid", "noexec", "nodev"],
    ));
    let sys_mode = if req.privileged { "rw" } else { "ro" };
    m.push(mount(
        "/sys",
        "sysfs",
        "sysfs",
        &["nosuid", "noexec", "nodev", sys_mode],
    ));
    if host.mount_cgroup() {
        m.push(mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", sys_mode],
        ));
    }
    m
}

/// All mounts of the container, in mount order.
pub(super) fn mounts(input: &SpecInput, host: &dyn Host) -> Result<Vec<Mount>, SpecError> {
    let req = input.request;
    let mut user = Vec::new();
    let files = &input.files;
    for (dst, src) in [
        ("/etc/hosts", &files.hosts),
        ("/etc/hostname", &files.hostname),
        ("/etc/resolv.conf", &files.resolv_conf),
    ] {
        if let Some(src) = src {
            user.push(mount(dst, "bind", src.clone(), &["rbind", "rprivate"]));
        }
    }
    for m in &req.mounts {
        let mut options: Vec<&str> = Vec::new();
        let built = match &m.kind {
            MountKind::Bind {
                source,
                propagation,
                ..
            } => {
                options.push("rbind");
                options.push(propagation.unwrap_or(Propagation::Rprivate).as_str());
                if m.readonly {
                    options.push("ro");
                }
                mount(&m.destination, "bind", source.clone(), &options)
            }
            MountKind::Tmpfs { options: given } => {
                options.extend(["noexec", "nosuid", "nodev"]);
                options.extend(given.iter().map(String::as_str));
                if m.readonly {
                    options.push("ro");
                }
                mount(&m.destination, "tmpfs", "tmpfs", &options)
            }
        };
        user.push(built);
    }
    if req.init {
        let init = host.init_binary().ok_or(SpecError::NoInit)?;
        user.push(mount(
            init_path(req),
            "bind",
            init,
            &["bind", "ro", "rprivate"],
        ));
    }
    let mut all: Vec<Mount> = defaults(req, host)
        .into_iter()
        .filter(|d| !user.iter().any(|u| u.destination() == d.destination()))
        .collect();
    all.extend(user);
    Ok(all)
}

/// A shared or slave bind needs the root's propagation to match, or it has no effect
/// (docker sets `rshared`/`rslave` the same way); otherwise runc's default.
pub(super) fn rootfs_propagation(req: &RunRequest) -> Option<String> {
    let props: Vec<Propagation> = req
        .mounts
        .iter()
        .filter_map(|m| match &m.kind {
            MountKind::Bind { propagation, .. } => *propagation,
            MountKind::Tmpfs { .. } => None,
        })
        .collect();
    if props
        .iter()
        .any(|p| matches!(p, Propagation::Shared | Propagation::Rshared))
    {
        Some("rshared".into())
    } else if props
        .iter()
        .any(|p| matches!(p, Propagation::Slave | Propagation::Rslave))
    {
        Some("rslave".into())
    } else {
        None
    }
}

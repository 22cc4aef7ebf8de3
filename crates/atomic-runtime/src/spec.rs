//! The OCI runtime configuration (`config.json`) for a [`RunRequest`], following docker's
//! defaults so a label written for docker behaves the same under the built-in engine.
//!
//! [`build`] is pure: everything it needs from the machine comes through [`Host`], and the
//! image's files through [`SpecInput::read_image_file`]. Where this host differs from docker's
//! assumptions the spec adapts instead of failing: capabilities are clamped to the bounding
//! set and rlimits to the current hard limits (so `--privileged` and the default
//! `nofile=1048576` work where `docker run --privileged` fails with "unable to apply caps").

mod mounts;

use crate::caps::{self, CapSet, UnknownCapability};
use crate::dockercli::{EnvEntry, NetworkMode, RunRequest, SeccompOpt};
use crate::host::Host;
use crate::seccomp::{self, SeccompError};
use crate::user::{self, UserError};
use oci_spec::OciSpecError;
use oci_spec::runtime::{
    LinuxCapabilities, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxNamespace,
    LinuxNamespaceType, LinuxResources, PosixRlimit, PosixRlimitBuilder, PosixRlimitType, Process,
    Root, Spec, User,
};
use std::io;
use std::path::{Path, PathBuf};

pub use mounts::ContainerFiles;

/// Docker's `PATH` when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Podman's default open-files limit (docker inherits the daemon's); clamped to the host's.
pub const DEFAULT_NOFILE: u64 = 1_048_576;

/// Paths hidden from a non-privileged container (moby `oci/defaults.go`).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths read-only in a non-privileged container.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What a container's spec is made from.
pub struct SpecInput<'a> {
    pub request: &'a RunRequest,
    /// The image's config: Env, Cmd, Entrypoint, WorkingDir, User.
    pub image: Option<&'a oci_spec::image::Config>,
    /// The container's root filesystem (the merged overlay directory).
    pub rootfs: &'a Path,
    /// The hostname when `--hostname` is absent (the caller passes the short id).
    pub hostname: &'a str,
    /// Host files bind-mounted at `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`.
    pub files: ContainerFiles,
    /// Reads a file of the image (`/etc/passwd`, `/etc/group`); `None` when absent.
    pub read_image_file: &'a dyn Fn(&str) -> Option<Vec<u8>>,
    /// Variables set last (the driver's own, e.g. `container=atomic`).
    pub extra_env: &'a [(String, String)],
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(
        "no command specified: the image has no Entrypoint or Cmd; give a command after the image name"
    )]
    NoCommand,
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Capability(#[from] UnknownCapability),
    #[error("reading env file {path}: {source}")]
    EnvFile { path: PathBuf, source: io::Error },
    #[error("reading seccomp profile {path}: {source}")]
    SeccompFile { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    #[error("--device {path}: {source}")]
    Device { path: PathBuf, source: io::Error },
    #[error("--init: no init binary on this host (install catatonit or tini-static)")]
    NoInit,
    #[error("building the OCI spec: {0}")]
    Oci(#[from] OciSpecError),
}

/// The OCI spec for `input`, on `host`.
pub fn build(input: &SpecInput, host: &dyn Host) -> Result<Spec, SpecError> {
    let req = input.request;
    let cap_set = caps::resolve(
        req.privileged,
        &req.cap_add,
        &req.cap_drop,
        host.bounding_set(),
    )?;

    let mut process = Process::default();
    let user = resolve_user(input)?;
    let hostname = req.hostname.as_deref().unwrap_or(input.hostname);
    process.set_terminal(Some(req.tty));
    process.set_args(Some(args(input, host)?));
    process.set_env(Some(env(input, host, &user.home, hostname)?));
    process.set_cwd(PathBuf::from(
        req.workdir
            .as_deref()
            .or(input.image.and_then(|c| c.working_dir().as_deref()))
            .filter(|d| !d.is_empty())
            .unwrap_or("/"),
    ));
    let mut oci_user = User::default();
    oci_user.set_uid(user.uid);
    oci_user.set_gid(user.gid);
    oci_user
        .set_additional_gids((!user.additional_gids.is_empty()).then_some(user.additional_gids));
    process.set_user(oci_user);
    process.set_capabilities(Some(capabilities(cap_set)));
    process.set_rlimits(Some(rlimits(req, host)?));
    process.set_no_new_privileges(Some(req.security.no_new_privileges));
    process.set_selinux_label(selinux_labels(req).map(|l| l.0));
    process.set_apparmor_profile(None);

    let mut root = Root::default();
    root.set_path(input.rootfs.to_path_buf());
    root.set_readonly(Some(req.read_only));

    let mut spec = Spec::default();
    spec.set_version("1.0.2".to_string());
    spec.set_root(Some(root));
    spec.set_process(Some(process));
    spec.set_hostname((!req.uts_host).then(|| hostname.to_string()));
    spec.set_annotations(None);
    spec.set_mounts(Some(mounts::mounts(input, host)?));
    spec.set_linux(Some(linux(input, host, cap_set)?));
    Ok(spec)
}

fn resolve_user(input: &SpecInput) -> Result<user::ResolvedUser, SpecError> {
    let spec = input
        .request
        .user
        .as_deref()
        .or(input.image.and_then(|c| c.user().as_deref()))
        .unwrap_or("");
    let read =
        |p: &str| (input.read_image_file)(p).map(|b| String::from_utf8_lossy(&b).into_owned());
    Ok(user::resolve(
        spec,
        read("/etc/passwd").as_deref(),
        read("/etc/group").as_deref(),
    )?)
}

/// Docker's rule: `--entrypoint` (even `""`) replaces the image's entrypoint and drops the
/// image's Cmd; the command after the image replaces Cmd.
fn args(input: &SpecInput, host: &dyn Host) -> Result<Vec<String>, SpecError> {
    let req = input.request;
    let image = input.image;
    let (entrypoint, cmd) = match &req.entrypoint {
        Some(e) => (
            if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            },
            req.command.clone(),
        ),
        None => (
            image
                .and_then(|c| c.entrypoint().clone())
                .unwrap_or_default(),
            if req.command.is_empty() {
                image.and_then(|c| c.cmd().clone()).unwrap_or_default()
            } else {
                req.command.clone()
            },
        ),
    };
    let mut args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    if req.init {
        host.init_binary().ok_or(SpecError::NoInit)?;
        args.splice(0..0, [mounts::init_path(req).to_string(), "--".to_string()]);
    }
    Ok(args)
}

fn set_var(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    }
}

/// `KEY=VALUE` lines, `#` comments, a bare `KEY` from the host (docker's env-file format).
pub fn parse_env_file(
    text: &str,
    host_env: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| match l.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => host_env(l.trim_end()).map(|v| (l.trim_end().to_string(), v)),
        })
        .collect()
}

fn env(
    input: &SpecInput,
    host: &dyn Host,
    home: &str,
    hostname: &str,
) -> Result<Vec<String>, SpecError> {
    let req = input.request;
    let mut env: Vec<(String, String)> = Vec::new();
    for var in input
        .image
        .and_then(|c| c.env().as_ref())
        .into_iter()
        .flatten()
    {
        let (k, v) = var.split_once('=').unwrap_or((var, ""));
        set_var(&mut env, k, v);
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        set_var(&mut env, "PATH", DEFAULT_PATH);
    }
    if !req.uts_host {
        set_var(&mut env, "HOSTNAME", hostname);
    }
    if req.tty {
        set_var(&mut env, "TERM", "xterm");
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        set_var(&mut env, "HOME", home);
    }
    for entry in &req.env {
        match entry {
            EnvEntry::Set(k, v) => set_var(&mut env, k, v),
            EnvEntry::FromHost(k) => {
                if let Some(v) = host.env(k) {
                    set_var(&mut env, k, &v);
                }
            }
            EnvEntry::File(path) => {
                let bytes = host.read_file(path).map_err(|source| SpecError::EnvFile {
                    path: path.clone(),
                    source,
                })?;
                let text = String::from_utf8_lossy(&bytes);
                for (k, v) in parse_env_file(&text, &|k| host.env(k)) {
                    set_var(&mut env, &k, &v);
                }
            }
        }
    }
    for (k, v) in input.extra_env {
        set_var(&mut env, k, v);
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

fn capabilities(set: CapSet) -> LinuxCapabilities {
    let oci = caps::to_oci(set);
    let mut c = LinuxCapabilities::default();
    c.set_bounding(Some(oci.clone()));
    c.set_effective(Some(oci.clone()));
    c.set_permitted(Some(oci));
    c.set_inheritable(None);
    c.set_ambient(None);
    c
}

/// `nofile=1048576` then the `--ulimit`s, each clamped to the current hard limit: without
/// CAP_SYS_RESOURCE a hard limit cannot be raised, and runc would fail with EPERM.
fn rlimits(req: &RunRequest, host: &dyn Host) -> Result<Vec<PosixRlimit>, SpecError> {
    let mut wanted = vec![(
        PosixRlimitType::RlimitNofile,
        DEFAULT_NOFILE,
        DEFAULT_NOFILE,
    )];
    for u in &req.ulimits {
        match wanted.iter_mut().find(|(k, _, _)| *k == u.kind) {
            Some(slot) => *slot = (u.kind, u.soft, u.hard),
            None => wanted.push((u.kind, u.soft, u.hard)),
        }
    }
    wanted
        .into_iter()
        .map(|(kind, soft, hard)| {
            let max = host.hard_limit(kind).unwrap_or(u64::MAX);
            PosixRlimitBuilder::default()
                .typ(kind)
                .soft(soft.min(max))
                .hard(hard.min(max))
                .build()
        })
        .collect::<Result<_, _>>()
        .map_err(SpecError::from)
}

/// The process and mount SELinux labels (`user:role:type:level`) from `label=` options, with
/// docker's defaults for the parts not given; `None` without any (or with `label=disable`).
fn selinux_labels(req: &RunRequest) -> Option<(String, String)> {
    let s = &req.security;
    let given = [&s.label_user, &s.label_role, &s.label_type, &s.label_level];
    if s.label_disable || given.iter().all(|p| p.is_none()) {
        return None;
    }
    let user = s.label_user.as_deref().unwrap_or("system_u");
    let level = s.label_level.as_deref().unwrap_or("s0");
    let role = s.label_role.as_deref().unwrap_or("system_r");
    let typ = s.label_type.as_deref().unwrap_or("container_t");
    Some((
        format!("{user}:{role}:{typ}:{level}"),
        format!("{user}:object_r:container_file_t:{level}"),
    ))
}

/// Make the container join the network namespace kept at `path` (its bridge network's, set up
/// by netavark before it starts) instead of a new one.
pub fn join_network_namespace(spec: &mut Spec, path: &Path) {
    let Some(linux) = spec.linux_mut() else {
        return;
    };
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    for ns in &mut namespaces {
        if ns.typ() == LinuxNamespaceType::Network {
            ns.set_path(Some(path.to_path_buf()));
        }
    }
    linux.set_namespaces(Some(namespaces));
}

fn namespace(typ: LinuxNamespaceType) -> LinuxNamespace {
    let mut ns = LinuxNamespace::default();
    ns.set_typ(typ);
    ns
}

fn device_rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(typ);
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// Docker's default device allow list (runc `AllowedDevices`): mknod of anything, and the
/// standard nodes.
fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    let mut rules = vec![
        device_rule(false, None, None, None, "rwm"),
        device_rule(true, Some(C), None, None, "m"),
        device_rule(true, Some(B), None, None, "m"),
    ];
    for (major, minor) in [
        (1, Some(3)),
        (1, Some(8)),
        (1, Some(7)),
        (5, Some(0)),
        (1, Some(5)),
        (1, Some(9)),
        (5, Some(1)),
        (136, None),
        (5, Some(2)),
        (10, Some(200)),
    ] {
        rules.push(device_rule(true, Some(C), Some(major), minor, "rwm"));
    }
    rules
}

fn linux(
    input: &SpecInput,
    host: &dyn Host,
    cap_set: CapSet,
) -> Result<oci_spec::runtime::Linux, SpecError> {
    let req = input.request;
    let mut namespaces = vec![namespace(LinuxNamespaceType::Mount)];
    for (host_ns, typ) in [
        (req.uts_host, LinuxNamespaceType::Uts),
        (req.ipc_host, LinuxNamespaceType::Ipc),
        (req.pid_host, LinuxNamespaceType::Pid),
        (
            req.network == NetworkMode::Host,
            LinuxNamespaceType::Network,
        ),
    ] {
        if !host_ns {
            namespaces.push(namespace(typ));
        }
    }

    let mut rules = if req.privileged {
        vec![device_rule(true, None, None, None, "rwm")]
    } else {
        default_device_rules()
    };
    let mut devices = Vec::new();
    for d in &req.devices {
        let info = host.device(&d.host).map_err(|source| SpecError::Device {
            path: d.host.clone(),
            source,
        })?;
        let typ = if info.block {
            LinuxDeviceType::B
        } else {
            LinuxDeviceType::C
        };
        let (major, minor) = (info.major as i64, info.minor as i64);
        let mut dev = LinuxDevice::default();
        dev.set_path(PathBuf::from(&d.container));
        dev.set_typ(typ);
        dev.set_major(major);
        dev.set_minor(minor);
        dev.set_file_mode(Some(info.mode));
        dev.set_uid(Some(info.uid));
        dev.set_gid(Some(info.gid));
        devices.push(dev);
        rules.push(device_rule(
            true,
            Some(typ),
            Some(major),
            Some(minor),
            &d.permissions,
        ));
    }
    let mut resources = LinuxResources::default();
    resources.set_devices(Some(rules));

    let seccomp = match (&req.security.seccomp, req.privileged) {
        (SeccompOpt::Unconfined, _) | (SeccompOpt::Default, true) => None,
        (SeccompOpt::Profile(path), _) => {
            Some(
                host.read_file(path)
                    .map_err(|source| SpecError::SeccompFile {
                        path: path.clone(),
                        source,
                    })?,
            )
        }
        (SeccompOpt::Default, false) => host.seccomp_profile(),
    };
    let target = seccomp::Target {
        caps: cap_set,
        arch: host_arch(),
        kernel: host.kernel_version(),
    };
    let seccomp = seccomp.map(|p| seccomp::convert(&p, &target)).transpose()?;

    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut linux = oci_spec::runtime::Linux::default();
    linux.set_namespaces(Some(namespaces));
    linux.set_devices((!devices.is_empty()).then_some(devices));
    linux.set_resources(Some(resources));
    linux.set_seccomp(seccomp);
    linux.set_rootfs_propagation(mounts::rootfs_propagation(req));
    linux.set_masked_paths((!req.privileged).then(|| strings(MASKED_PATHS)));
    linux.set_readonly_paths((!req.privileged).then(|| strings(READONLY_PATHS)));
    linux.set_mount_label(selinux_labels(req).map(|l| l.1));
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    linux.set_sysctl(None);
    Ok(linux)
}

fn host_arch() -> &'static str {
    std::env::consts::ARCH
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;

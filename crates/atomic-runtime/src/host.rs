//! What a container's spec depends on about the host, behind a trait ([`Host`]) so the spec
//! logic is tested with a fake host and without root (youki's pattern).
//!
//! These facts decide whether runc accepts the spec here: the capability bounding set (a
//! capability outside it fails with EPERM), the current hard rlimits (which cannot be raised
//! without CAP_SYS_RESOURCE), whether we are nested in another container (a cgroup mount then
//! fails), the seccomp profile and the init binary that the host packages.

use crate::caps::{self, CapSet};
use oci_spec::runtime::PosixRlimitType;
use rustix::process::Resource;
use std::io;
use std::path::{Path, PathBuf};

/// A character or block device on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `true` for a block device, `false` for a character device.
    pub block: bool,
    pub major: u64,
    pub minor: u64,
    /// Permission bits (`0o666`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The host, as the spec builder sees it.
pub trait Host {
    /// The capability bounding set of this process.
    fn bounding_set(&self) -> CapSet;
    /// The current hard limit of a resource; `None` is unlimited.
    fn hard_limit(&self, kind: PosixRlimitType) -> Option<u64>;
    /// A variable of the host environment (bare `-e KEY`, `KEY` lines of env files).
    fn env(&self, key: &str) -> Option<String>;
    /// Read a host file (`--env-file`, `--security-opt seccomp=PATH`).
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The device node at `path` (`--device`).
    fn device(&self, path: &Path) -> io::Result<DeviceInfo>;
    /// The default seccomp profile in docker's JSON format: the host's, else the built-in one.
    fn seccomp_profile(&self) -> Option<Vec<u8>>;
    /// A statically linked init (catatonit, tini) for `--init`.
    fn init_binary(&self) -> Option<PathBuf>;
    /// Whether `/sys/fs/cgroup` can be mounted: not when nested in another container.
    fn mount_cgroup(&self) -> bool;
    /// The running kernel's (major, minor), for `minKernel` seccomp rules.
    fn kernel_version(&self) -> Option<(u32, u32)>;
}

/// The machine this process runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemHost;

const SECCOMP_PROFILES: &[&str] = &[
    "/etc/containers/seccomp.json",
    "/usr/share/containers/seccomp.json",
];

/// Static inits first: the binary is bind-mounted into an arbitrary image, which may have no
/// libc (tini from Debian's `tini` package is dynamic; `tini-static`/`docker-init` are not).
const INIT_BINARIES: &[&str] = &[
    "/usr/libexec/podman/catatonit",
    "/usr/bin/catatonit",
    "/usr/bin/tini-static",
    "/usr/bin/docker-init",
    "/usr/libexec/docker/docker-init",
];

fn resource(kind: PosixRlimitType) -> Resource {
    match kind {
        PosixRlimitType::RlimitCpu => Resource::Cpu,
        PosixRlimitType::RlimitFsize => Resource::Fsize,
        PosixRlimitType::RlimitData => Resource::Data,
        PosixRlimitType::RlimitStack => Resource::Stack,
        PosixRlimitType::RlimitCore => Resource::Core,
        PosixRlimitType::RlimitRss => Resource::Rss,
        PosixRlimitType::RlimitNproc => Resource::Nproc,
        PosixRlimitType::RlimitNofile => Resource::Nofile,
        PosixRlimitType::RlimitMemlock => Resource::Memlock,
        PosixRlimitType::RlimitAs => Resource::As,
        PosixRlimitType::RlimitLocks => Resource::Locks,
        PosixRlimitType::RlimitSigpending => Resource::Sigpending,
        PosixRlimitType::RlimitMsgqueue => Resource::Msgqueue,
        PosixRlimitType::RlimitNice => Resource::Nice,
        PosixRlimitType::RlimitRtprio => Resource::Rtprio,
        PosixRlimitType::RlimitRttime => Resource::Rttime,
    }
}

/// `CapBnd:` of a `/proc/PID/status` text.
pub fn parse_cap_bnd(status: &str) -> Option<CapSet> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

impl Host for SystemHost {
    fn bounding_set(&self) -> CapSet {
        // Unreadable /proc: assume the full set and let runc report what fails.
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| parse_cap_bnd(&s))
            .unwrap_or(caps::ALL)
    }

    fn hard_limit(&self, kind: PosixRlimitType) -> Option<u64> {
        rustix::process::getrlimit(resource(kind)).maximum
    }

    fn env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn device(&self, path: &Path) -> io::Result<DeviceInfo> {
        use rustix::fs::FileType;
        let st = rustix::fs::stat(path)?;
        let block = match FileType::from_raw_mode(st.st_mode) {
            FileType::BlockDevice => true,
            FileType::CharacterDevice => false,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not a device", path.display()),
                ));
            }
        };
        Ok(DeviceInfo {
            block,
            major: u64::from(rustix::fs::major(st.st_rdev)),
            minor: u64::from(rustix::fs::minor(st.st_rdev)),
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
        })
    }

    fn seccomp_profile(&self) -> Option<Vec<u8>> {
        Some(crate::seccomp::default_profile(SECCOMP_PROFILES))
    }

    fn init_binary(&self) -> Option<PathBuf> {
        INIT_BINARIES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    }

    fn mount_cgroup(&self) -> bool {
        // runc cannot mount a cgroup filesystem when it runs nested in docker or podman.
        !Path::new("/.dockerenv").exists() && !Path::new("/run/.containerenv").exists()
    }

    fn kernel_version(&self) -> Option<(u32, u32)> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        let mut parts = release.trim().split(['.', '-']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_bnd_is_read_from_status() {
        let status = "Name:\tx\nCapPrm:\t0000000000000000\nCapBnd:\t000001fffeffffff\n";
        let set = parse_cap_bnd(status).unwrap();
        assert_eq!(set & caps::bit("SYS_RESOURCE").unwrap(), 0);
        assert_ne!(set & caps::bit("SYS_ADMIN").unwrap(), 0);
        assert_eq!(parse_cap_bnd("Name: x\n"), None);
    }

    #[test]
    fn system_host_answers() {
        let host = SystemHost;
        assert_ne!(host.bounding_set(), 0);
        let dev = host.device(Path::new("/dev/null")).unwrap();
        assert_eq!((dev.block, dev.major, dev.minor), (false, 1, 3));
        assert!(host.device(Path::new("/")).is_err());
        assert!(host.kernel_version().is_some());
    }
}

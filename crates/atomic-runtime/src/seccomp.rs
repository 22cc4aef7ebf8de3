//! A seccomp profile in docker's JSON format (moby `profiles/seccomp`, containers-common
//! `seccomp.json`) converted to the OCI form runc takes.
//!
//! The profile is conditional: a rule may apply only with some capabilities
//! (`includes.caps`), without them (`excludes.caps`), on some architectures or from some
//! kernel version. Docker resolves those conditions against the container's final capability
//! set and the host; so does [`convert`]. Without that, `--cap-add SYS_ADMIN` would still
//! get `EPERM` from `mount(2)` because the rule allowing it was dropped.

use crate::caps::{self, CapSet};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSyscall};
use serde::Deserialize;

/// Docker's default profile as Podman's containers-common ships it
/// (`/usr/share/containers/seccomp.json`, containers-common of Debian 12, Apache-2.0). A host
/// without one (a minimal install has no containers-common) still gets the same filter, not
/// none: before, native containers there ran with no seccomp at all, silently.
pub const EMBEDDED_PROFILE: &[u8] = include_bytes!("seccomp/default.json");

/// The default profile: the first of `host_paths` that can be read, else [`EMBEDDED_PROFILE`].
/// `--debug` says which.
pub fn default_profile(host_paths: &[&str]) -> Vec<u8> {
    for path in host_paths {
        if let Ok(bytes) = std::fs::read(path) {
            tracing::debug!("seccomp: the host's default profile {path}");
            return bytes;
        }
    }
    tracing::debug!(
        "seccomp: no profile on the host ({}); using atomic's built-in default profile",
        host_paths.join(", ")
    );
    EMBEDDED_PROFILE.to_vec()
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("invalid seccomp profile: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: LinuxSeccompAction,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    arch_map: Option<Vec<ArchEntry>>,
    /// The old flat form, used when there is no archMap.
    #[serde(default)]
    architectures: Option<Vec<Arch>>,
    #[serde(default)]
    syscalls: Option<Vec<Rule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchEntry {
    architecture: Arch,
    #[serde(default)]
    sub_architectures: Option<Vec<Arch>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    names: Option<Vec<String>>,
    /// The old single-name form.
    #[serde(default)]
    name: Option<String>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// The host a profile is resolved for.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The container's final capability set.
    pub caps: CapSet,
    /// Rust's `std::env::consts::ARCH` of the host (`x86_64`, `aarch64`, …).
    pub arch: &'static str,
    /// The host kernel's (major, minor); `None` keeps `minKernel` rules.
    pub kernel: Option<(u32, u32)>,
}

/// The names docker's profiles use for an architecture (Go's `GOARCH`, plus the
/// libseccomp short names some profiles use), and its libseccomp constant.
fn arch_names(arch: &str) -> (&'static [&'static str], Option<Arch>) {
    match arch {
        "x86_64" => (&["amd64", "x86_64"], Some(Arch::ScmpArchX86_64)),
        "x86" => (&["386", "x86"], Some(Arch::ScmpArchX86)),
        "aarch64" => (&["arm64", "aarch64"], Some(Arch::ScmpArchAarch64)),
        "arm" => (&["arm"], Some(Arch::ScmpArchArm)),
        "powerpc64" => (&["ppc64le", "ppc64"], Some(Arch::ScmpArchPpc64le)),
        "s390x" => (&["s390x"], Some(Arch::ScmpArchS390x)),
        "riscv64" => (&["riscv64"], Some(Arch::ScmpArchRiscv64)),
        "loongarch64" => (&["loong64", "loongarch64"], Some(Arch::ScmpArchLoongarch64)),
        _ => (&[], None),
    }
}

fn parse_kernel(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

impl Filter {
    /// Does `target` have everything this filter names? (`all`: every cap must be present;
    /// otherwise any one suffices — docker's excludes skip a rule if any cap is present.)
    fn matches(&self, target: &Target, all: bool) -> bool {
        let (names, _) = arch_names(target.arch);
        let has_cap = |c: &String| caps::bit(c).is_ok_and(|b| target.caps & b != 0);
        let caps = self.caps.as_deref().unwrap_or(&[]);
        let arches = self.arches.as_deref().unwrap_or(&[]);
        let kernel_ok = match (&self.min_kernel, target.kernel) {
            (Some(min), Some(have)) => parse_kernel(min).is_none_or(|min| have >= min),
            _ => true,
        };
        if all {
            caps.iter().all(has_cap)
                && (arches.is_empty() || arches.iter().any(|a| names.contains(&a.as_str())))
                && kernel_ok
        } else {
            caps.iter().any(has_cap) || arches.iter().any(|a| names.contains(&a.as_str()))
        }
    }
}

/// Convert a docker-format profile for `target`.
pub fn convert(profile: &[u8], target: &Target) -> Result<LinuxSeccomp, SeccompError> {
    let profile: Profile = serde_json::from_slice(profile)?;
    let (_, native) = arch_names(target.arch);
    // The x32 ABI is left out of the filter: runc compiles the filter once per architecture
    // (each one ~12 ms of every container start here), x32 is off by default in Debian's,
    // Fedora's and Ubuntu's kernels (`syscall.x32=`), almost nothing uses it, and its compat
    // syscalls have a record of kernel bugs (CVE-2014-0038). A filter without it kills an x32
    // process, which on such a kernel could not make a system call anyway.
    let architectures: Vec<Arch> = match (&profile.arch_map, native) {
        (Some(map), Some(native)) => map
            .iter()
            .filter(|e| e.architecture == native)
            .flat_map(|e| {
                std::iter::once(e.architecture).chain(e.sub_architectures.iter().flatten().copied())
            })
            .filter(|a| *a != Arch::ScmpArchX32)
            .collect(),
        _ => profile.architectures.unwrap_or_default(),
    };
    let syscalls: Vec<LinuxSyscall> = profile
        .syscalls
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            r.includes.as_ref().is_none_or(|f| f.matches(target, true))
                && !r
                    .excludes
                    .as_ref()
                    .is_some_and(|f| f.matches(target, false))
        })
        .map(|r| {
            let mut names = r.names.unwrap_or_default();
            names.extend(r.name);
            let mut call = LinuxSyscall::default();
            call.set_names(names);
            call.set_action(r.action);
            call.set_errno_ret(r.errno_ret);
            call.set_args(r.args.filter(|a| !a.is_empty()));
            call
        })
        .filter(|c| !c.names().is_empty())
        .collect();
    let mut out = LinuxSeccomp::default();
    out.set_default_action(profile.default_action);
    out.set_default_errno_ret(profile.default_errno_ret);
    out.set_architectures((!architectures.is_empty()).then_some(architectures));
    out.set_syscalls(Some(syscalls));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"{
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "defaultErrno": "ENOSYS",
      "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
      ],
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": "",
         "includes": {}, "excludes": {}},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
        {"names": ["breakpoint"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["newcall"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "9.1"}},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": null}
      ]
    }"#;

    fn rules(
        caps: CapSet,
        arch: &'static str,
    ) -> (LinuxSeccomp, Vec<(String, LinuxSeccompAction)>) {
        let target = Target {
            caps,
            arch,
            kernel: Some((6, 1)),
        };
        let got = convert(PROFILE.as_bytes(), &target).unwrap();
        let flat = got
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names().iter().map(move |n| (n.clone(), s.action())))
            .collect();
        (got, flat)
    }

    #[test]
    fn rules_are_filtered_by_capabilities_arch_and_kernel() {
        use LinuxSeccompAction::{ScmpActAllow as Allow, ScmpActErrno as Errno};
        let admin = caps::bit("SYS_ADMIN").unwrap();
        let (spec, plain) = rules(0, "x86_64");
        assert_eq!(spec.default_action(), Errno);
        assert_eq!(spec.default_errno_ret(), Some(38));
        assert_eq!(
            spec.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86][..])
        );
        let has = |v: &[(String, LinuxSeccompAction)], n: &str, a| {
            v.iter().any(|(x, y)| x == n && *y == a)
        };
        assert!(has(&plain, "read", Allow));
        assert!(has(&plain, "arch_prctl", Allow));
        assert!(!plain.iter().any(|(n, _)| n == "breakpoint"));
        assert!(has(&plain, "mount", Errno) && !has(&plain, "mount", Allow));
        assert!(!plain.iter().any(|(n, _)| n == "newcall"));
        assert!(has(&plain, "socket", Allow));

        let (_, with_admin) = rules(admin, "x86_64");
        assert!(has(&with_admin, "mount", Allow) && !has(&with_admin, "mount", Errno));

        let (spec, arm) = rules(0, "aarch64");
        assert!(has(&arm, "breakpoint", Allow) && !arm.iter().any(|(n, _)| n == "arch_prctl"));
        assert_eq!(spec.architectures().as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn args_survive_conversion() {
        let (spec, _) = rules(0, "x86_64");
        let personality = spec
            .syscalls()
            .iter()
            .flatten()
            .find(|s| s.names() == &["personality".to_string()])
            .unwrap();
        let args = personality.args().as_ref().unwrap();
        assert_eq!((args[0].index(), args[0].value()), (0, 8));
    }

    #[test]
    fn without_a_host_profile_the_embedded_one_is_used_and_converts() {
        let bytes = default_profile(&["/nonexistent/seccomp.json"]);
        assert_eq!(bytes, EMBEDDED_PROFILE);
        let target = Target {
            caps: caps::resolve(false, &[], &[], caps::ALL).unwrap(),
            arch: std::env::consts::ARCH,
            kernel: None,
        };
        let spec = convert(&bytes, &target).unwrap();
        assert_eq!(spec.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert!(spec.syscalls().as_ref().is_some_and(|s| s.len() > 10));
    }

    #[test]
    fn the_installed_profile_converts() {
        // containers-common's profile, when this machine has it.
        let Ok(bytes) = std::fs::read("/usr/share/containers/seccomp.json") else {
            return;
        };
        let target = Target {
            caps: caps::resolve(false, &[], &[], caps::ALL).unwrap(),
            arch: std::env::consts::ARCH,
            kernel: None,
        };
        let spec = convert(&bytes, &target).unwrap();
        assert!(spec.syscalls().as_ref().is_some_and(|s| s.len() > 10));
    }
}

//! Linux capabilities by name and number, and docker's rules for the set a container gets.
//!
//! Names are checked when the command line is read, so `--cap-add SYS_ADMINN` fails before
//! anything runs. The set is computed as a bit mask because the host's bounding set
//! (`CapBnd` in `/proc/self/status`) is one: the final set is clamped to it. That clamp is why
//! `--privileged` works on a host whose bounding set lacks a capability (here
//! `CAP_SYS_RESOURCE`), where `docker run --privileged` fails with "unable to apply caps".

use oci_spec::runtime::{Capabilities, Capability};
use std::str::FromStr;

/// Every capability the kernel knows, by number (`include/uapi/linux/capability.h`).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Docker's default set (moby `oci/caps/defaults.go`); podman's is the same minus a few.
pub const DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// A set of capabilities: bit N is capability number N.
pub type CapSet = u64;

/// Every known capability.
pub const ALL: CapSet = (1 << NAMES.len()) - 1;

/// A capability name that is neither `ALL` nor one the kernel defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability '{0}' (names look like CAP_SYS_ADMIN, SYS_ADMIN or ALL)")]
pub struct UnknownCapability(pub String);

/// The canonical spelling of a `--cap-add`/`--cap-drop` value: `ALL` or `CAP_NAME`, from any
/// case, with or without the `CAP_` prefix (docker accepts all of these).
pub fn canonical(name: &str) -> Result<String, UnknownCapability> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if NAMES.contains(&bare) {
        Ok(format!("CAP_{bare}"))
    } else {
        Err(UnknownCapability(name.to_string()))
    }
}

/// The bit of a capability name (`CAP_X` or `X`, any case).
pub fn bit(name: &str) -> Result<CapSet, UnknownCapability> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES
        .iter()
        .position(|n| *n == bare)
        .map(|i| 1 << i)
        .ok_or_else(|| UnknownCapability(name.to_string()))
}

fn set_of(names: &[String]) -> Result<CapSet, UnknownCapability> {
    names
        .iter()
        .filter(|n| !n.eq_ignore_ascii_case("ALL"))
        .try_fold(0, |acc, n| Ok(acc | bit(n)?))
}

/// Docker's rule (moby `TweakCapabilities`): `--privileged` gets every capability; otherwise
/// the default set, emptied by `--cap-drop ALL` or minus the dropped ones, then plus the added
/// ones (`--cap-add ALL`: every capability but the explicitly dropped). The result is clamped
/// to `bounding`: asking the kernel for a capability outside it fails with EPERM.
pub fn resolve(
    privileged: bool,
    add: &[String],
    drop: &[String],
    bounding: CapSet,
) -> Result<CapSet, UnknownCapability> {
    let has_all = |v: &[String]| v.iter().any(|n| n.eq_ignore_ascii_case("ALL"));
    let (adds, drops) = (set_of(add)?, set_of(drop)?);
    let set = if privileged {
        ALL
    } else {
        let mut set = DEFAULT.iter().try_fold(0, |acc, n| Ok(acc | bit(n)?))?;
        set = if has_all(drop) { 0 } else { set & !drops };
        if has_all(add) {
            ALL & !drops
        } else {
            set | adds
        }
    };
    Ok(set & bounding & ALL)
}

/// The names (`CAP_X`) in a set, in kernel order.
pub fn names(set: CapSet) -> Vec<String> {
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| set & (1 << i) != 0)
        .map(|(_, n)| format!("CAP_{n}"))
        .collect()
}

/// The set as oci-spec capabilities.
pub fn to_oci(set: CapSet) -> Capabilities {
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| set & (1 << i) != 0)
        .filter_map(|(_, n)| Capability::from_str(n).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn canonical_accepts_docker_spellings() {
        for (given, want) in [
            ("sys_admin", "CAP_SYS_ADMIN"),
            ("CAP_NET_ADMIN", "CAP_NET_ADMIN"),
            ("cap_chown", "CAP_CHOWN"),
            ("all", "ALL"),
        ] {
            assert_eq!(canonical(given).unwrap(), want);
        }
        assert!(canonical("SYS_ADMINN").is_err());
        assert!(canonical("").is_err());
    }

    #[test]
    fn every_name_maps_to_an_oci_capability() {
        assert_eq!(to_oci(ALL).len(), NAMES.len());
    }

    #[test]
    fn resolve_follows_docker_and_clamps_to_the_bounding_set() {
        let no_resource = ALL & !bit("SYS_RESOURCE").unwrap();
        let default = resolve(false, &[], &[], ALL).unwrap();
        assert_eq!(names(default).len(), 14);
        type Case<'a> = (
            bool,
            &'a [&'a str],
            &'a [&'a str],
            CapSet,
            &'a [&'a str],
            &'a [&'a str],
        );
        // (privileged, add, drop, bounding, must contain, must not contain)
        let cases: &[Case] = &[
            (
                true,
                &[],
                &[],
                no_resource,
                &["CAP_SYS_ADMIN"],
                &["CAP_SYS_RESOURCE"],
            ),
            (true, &[], &[], ALL, &["CAP_SYS_RESOURCE", "CAP_BPF"], &[]),
            (
                false,
                &["SYS_ADMIN"],
                &["NET_RAW"],
                ALL,
                &["CAP_SYS_ADMIN", "CAP_CHOWN"],
                &["CAP_NET_RAW"],
            ),
            (false, &[], &["ALL"], ALL, &[], &["CAP_CHOWN", "CAP_KILL"]),
            (
                false,
                &["CHOWN"],
                &["ALL"],
                ALL,
                &["CAP_CHOWN"],
                &["CAP_KILL"],
            ),
            (
                false,
                &["ALL"],
                &["MKNOD"],
                no_resource,
                &["CAP_SYS_ADMIN"],
                &["CAP_MKNOD", "CAP_SYS_RESOURCE"],
            ),
            (
                false,
                &["SYS_RESOURCE"],
                &[],
                no_resource,
                &["CAP_CHOWN"],
                &["CAP_SYS_RESOURCE"],
            ),
        ];
        for (privileged, add, drop, bounding, yes, no) in cases {
            let got = names(resolve(*privileged, &s(add), &s(drop), *bounding).unwrap());
            for cap in *yes {
                assert!(
                    got.iter().any(|g| g == cap),
                    "{cap} missing for {add:?}/{drop:?}"
                );
            }
            for cap in *no {
                assert!(
                    !got.iter().any(|g| g == cap),
                    "{cap} present for {add:?}/{drop:?}"
                );
            }
        }
        assert!(resolve(false, &s(&["NOPE"]), &[], ALL).is_err());
    }
}

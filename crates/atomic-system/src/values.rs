//! The values of a system container's template variables, with the original's precedence:
//! `--set` first, then what atomic computes, then the image's
//! `manifest.json` `defaultValues`, and last the forced values, which nothing overrides.

use std::collections::BTreeMap;
use std::path::Path;

use crate::layout::Layout;

pub type Values = BTreeMap<String, String>;

/// Variables atomic always sets itself; `--set` and `defaultValues` cannot change them.
pub const FORCED: &[&str] = &[
    "DESTDIR",
    "NAME",
    "EXEC_START",
    "EXEC_STOP",
    "EXEC_STARTPRE",
    "EXEC_STOPPOST",
    "HOST_UID",
    "HOST_GID",
    "IMAGE_NAME",
    "IMAGE_ID",
];

/// Variables atomic computes when `--set` does not give them.
pub const OVERRIDABLE: &[&str] = &[
    "RUN_DIRECTORY",
    "PIDFILE",
    "CONF_DIRECTORY",
    "STATE_DIRECTORY",
    "ALL_PROCESS_CAPABILITIES",
    "RUNTIME",
    "ATOMIC",
    "UUID",
];

/// The `Exec*=` command lines of the unit, already escaped for systemd.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecLines {
    pub start: String,
    pub stop: String,
    pub start_pre: String,
    pub stop_post: String,
}

/// What the values are computed from.
pub struct Inputs<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub image_id: &'a str,
    pub destdir: &'a Path,
    pub runtime: &'a str,
    pub atomic: &'a str,
    pub layout: &'a Layout,
    /// `--set K=V`.
    pub set: &'a Values,
    /// `manifest.json` `defaultValues`.
    pub defaults: &'a Values,
    /// A UUID kept from the previous deployment, else a new one.
    pub uuid: String,
}

/// The computed values, before the Exec lines (which depend on `PIDFILE`).
pub fn compute(inputs: &Inputs) -> Values {
    let mut values = inputs.set.clone();
    let layout = inputs.layout;
    let run_directory = values
        .get("RUN_DIRECTORY")
        .cloned()
        .unwrap_or_else(|| layout.run_directory.display().to_string());
    let computed = [
        ("RUN_DIRECTORY", run_directory.clone()),
        (
            "PIDFILE",
            format!("{run_directory}/container-{}.pid", inputs.name),
        ),
        (
            "CONF_DIRECTORY",
            layout.conf_directory.display().to_string(),
        ),
        (
            "STATE_DIRECTORY",
            layout.state_directory.display().to_string(),
        ),
        ("ALL_PROCESS_CAPABILITIES", all_capabilities()),
        ("RUNTIME", inputs.runtime.to_string()),
        ("ATOMIC", inputs.atomic.to_string()),
        ("UUID", inputs.uuid.clone()),
    ];
    for (key, value) in computed {
        values.entry(key.to_string()).or_insert(value);
    }
    for (key, value) in inputs.defaults {
        values.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let (uid, gid) = match &layout.user {
        Some(u) => (u.uid, u.gid),
        None => (0, 0),
    };
    let forced = [
        ("DESTDIR", inputs.destdir.display().to_string()),
        ("NAME", inputs.name.to_string()),
        ("HOST_UID", uid.to_string()),
        ("HOST_GID", gid.to_string()),
        ("IMAGE_NAME", inputs.image.to_string()),
        ("IMAGE_ID", inputs.image_id.to_string()),
    ];
    for (key, value) in forced {
        values.insert(key.to_string(), value);
    }
    values
}

/// Add the forced Exec lines.
pub fn set_exec(values: &mut Values, exec: &ExecLines) {
    for (key, value) in [
        ("EXEC_START", &exec.start),
        ("EXEC_STOP", &exec.stop),
        ("EXEC_STARTPRE", &exec.start_pre),
        ("EXEC_STOPPOST", &exec.stop_post),
    ] {
        values.insert(key.to_string(), value.clone());
    }
}

/// Every capability the kernel knows, in the form config.json templates paste into a JSON
/// array: `"CAP_CHOWN",\n"CAP_DAC_OVERRIDE",\n…` (the last without a comma).
fn all_capabilities() -> String {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    let names = atomic_runtime::caps::names(atomic_runtime::caps::ALL);
    let count = last.map_or(names.len(), |l| (l as usize + 1).min(names.len()));
    let quoted: Vec<String> = names[..count].iter().map(|n| format!("\"{n}\"")).collect();
    format!("{}\n", quoted.join(",\n"))
}

/// A new random UUID (version 4), from the kernel's generator.
pub fn new_uuid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| {
            // No procfs: a UUID from the clock and pid is still unique on this host.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let n = nanos ^ (u128::from(std::process::id()) << 64);
            let h = format!("{n:032x}");
            format!(
                "{}-{}-4{}-8{}-{}",
                &h[..8],
                &h[8..12],
                &h[13..16],
                &h[17..20],
                &h[20..32]
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::system(Path::new("/var/lib/containers/atomic"))
    }

    fn inputs<'a>(layout: &'a Layout, set: &'a Values, defaults: &'a Values) -> Inputs<'a> {
        Inputs {
            name: "etcd",
            image: "registry/etcd:3",
            image_id: "abc",
            destdir: Path::new("/var/lib/containers/atomic/etcd.0"),
            runtime: "/usr/sbin/runc",
            atomic: "/usr/bin/atomic",
            layout,
            set,
            defaults,
            uuid: "u-1".into(),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn precedence_set_then_computed_then_defaults_then_forced() {
        let layout = layout();
        let set = map(&[
            ("RUN_DIRECTORY", "/srv/run"),
            ("NAME", "evil"),
            ("PORT", "1"),
        ]);
        let defaults = map(&[("PORT", "2"), ("PEERS", "none"), ("UUID", "from-image")]);
        let values = compute(&inputs(&layout, &set, &defaults));
        assert_eq!(values["RUN_DIRECTORY"], "/srv/run");
        // PIDFILE follows an overridden RUN_DIRECTORY.
        assert_eq!(values["PIDFILE"], "/srv/run/container-etcd.pid");
        assert_eq!(values["PORT"], "1");
        assert_eq!(values["PEERS"], "none");
        // Computed values win over the image's defaults; forced ones over everything.
        assert_eq!(values["UUID"], "u-1");
        assert_eq!(values["NAME"], "etcd");
        assert_eq!(values["DESTDIR"], "/var/lib/containers/atomic/etcd.0");
        assert_eq!(values["CONF_DIRECTORY"], "/etc");
        assert_eq!(values["STATE_DIRECTORY"], "/var/lib");
        assert_eq!(values["HOST_UID"], "0");
    }

    #[test]
    fn capabilities_are_a_json_array_body() {
        let caps = all_capabilities();
        let json = format!("[{caps}]");
        let parsed: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0], "CAP_CHOWN");
        assert!(parsed.len() >= 38, "{parsed:?}");
    }

    #[test]
    fn uuids_are_fresh() {
        let a = new_uuid();
        assert_eq!(a.len(), 36);
        assert_ne!(a, new_uuid());
    }
}

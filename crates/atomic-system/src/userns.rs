//! The config.json of a `--user` container: a user namespace mapping the
//! invoking user to root in the container, plus the user's subordinate ranges, and nothing
//! that needs real root (network namespace setup, device cgroup rules, device nodes, sysfs).

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::layout::UserIds;

/// `/etc/subuid`-style lines: the first range of `user` (by name or uid), as (start, count).
fn subordinate(text: &str, user: &UserIds) -> Option<(u64, u64)> {
    text.lines().find_map(|line| {
        let mut parts = line.trim().split(':');
        let (who, start, count) = (parts.next()?, parts.next()?, parts.next()?);
        (who == user.name || who == user.uid.to_string())
            .then(|| Some((start.parse().ok()?, count.parse().ok()?)))
            .flatten()
    })
}

/// Is the container ID `id` mapped: 0 (the user), or inside the subordinate range at 1…?
fn mapped(id: u64, sub: Option<(u64, u64)>) -> bool {
    id == 0 || sub.is_some_and(|(_, count)| id <= count)
}

fn mappings(own: u32, sub: Option<(u64, u64)>) -> Value {
    let mut maps = vec![json!({"containerID": 0, "hostID": own, "size": 1})];
    if let Some((start, count)) = sub {
        maps.push(json!({"containerID": 1, "hostID": start, "size": count}));
    }
    Value::Array(maps)
}

/// Rewrite `config` for a user install. The subordinate ranges are mapped only when the
/// setuid mapping tools exist: an unprivileged runc can map more than the user's own ID only
/// through newuidmap/newgidmap (Debian's uidmap package), and fails without them ("mapping tool
/// not present").
pub fn configure(config: &str, user: &UserIds) -> Result<String> {
    let tools = ["/usr/bin/newuidmap", "/usr/bin/newgidmap"]
        .iter()
        .all(|t| std::path::Path::new(t).exists());
    let read = |path: &str| {
        if tools {
            std::fs::read_to_string(path).unwrap_or_default()
        } else {
            String::new()
        }
    };
    configure_with(config, user, &read("/etc/subuid"), &read("/etc/subgid"))
}

fn configure_with(config: &str, user: &UserIds, subuid: &str, subgid: &str) -> Result<String> {
    let mut value: Value = serde_json::from_str(config).context("config.json is not JSON")?;
    if value.as_object().is_some_and(|o| o.is_empty()) {
        return Ok(config.to_string());
    }
    let linux = &mut value["linux"];
    let mut namespaces: Vec<Value> = linux["namespaces"].as_array().cloned().unwrap_or_default();
    namespaces.retain(|ns| ns["type"] != "network" && ns["type"] != "user");
    namespaces.push(json!({"type": "user"}));
    linux["namespaces"] = Value::Array(namespaces);
    let (uids, gids) = (subordinate(subuid, user), subordinate(subgid, user));
    linux["uidMappings"] = mappings(user.uid, uids);
    linux["gidMappings"] = mappings(user.gid, gids);
    if let Some(resources) = linux["resources"].as_object_mut() {
        resources.remove("devices");
    }
    let mut mounts: Vec<Value> = value["mounts"].as_array().cloned().unwrap_or_default();
    {
        // A user namespace cannot mount a fresh sysfs unless it owns the network namespace,
        // and a user container shares the host's (it could not set one up): the host's /sys,
        // read-only, instead.
        mounts.retain(|m| {
            !m["destination"]
                .as_str()
                .is_some_and(|d| d.starts_with("/sys"))
        });
        mounts.push(
            json!({"destination": "/sys", "type": "bind", "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
        );
    }
    for m in &mut mounts {
        if let Some(options) = m["options"].as_array_mut() {
            // `gid=5` on /dev/pts names a group the namespace may not have (runc: "cannot
            // specify gid= mount options for unmapped gid in rootless containers").
            options.retain(|o| {
                let id = |prefix: &str| o.as_str()?.strip_prefix(prefix)?.parse::<u64>().ok();
                id("gid=").is_none_or(|g| mapped(g, gids))
                    && id("uid=").is_none_or(|u| mapped(u, uids))
            });
        }
        let under_dev = m["destination"]
            .as_str()
            .is_some_and(|d| d.starts_with("/dev"));
        if let (false, Some(options)) = (under_dev, m["options"].as_array_mut()) {
            for opt in ["nodev", "nosuid"] {
                if !options.iter().any(|o| o == opt) {
                    options.push(json!(opt));
                }
            }
        }
    }
    value["mounts"] = Value::Array(mounts);
    Ok(serde_json::to_string_pretty(&value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_user_and_its_ranges() {
        let user = UserIds {
            uid: 1000,
            gid: 1001,
            name: "alice".into(),
        };
        let config = r#"{"root": {"path": "rootfs", "readonly": true},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": []},
                       {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []},
                       {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": []}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}],
                      "resources": {"devices": [{"allow": false, "access": "rwm"}]}}}"#;
        let out: Value = serde_json::from_str(
            &configure_with(
                config,
                &user,
                "bob:1:2\nalice:100000:65536\n",
                "1000:200000:10\n",
            )
            .unwrap(),
        )
        .unwrap();
        let types: Vec<&str> = out["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["pid", "mount", "user"]);
        assert_eq!(
            out["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 1000, "size": 1},
                   {"containerID": 1, "hostID": 100000, "size": 65536}])
        );
        assert_eq!(out["linux"]["gidMappings"][1]["hostID"], 200000);
        assert!(out["linux"]["resources"].get("devices").is_none());
        let mounts = out["mounts"].as_array().unwrap();
        // /sys becomes a read-only bind of the host's.
        let sys = mounts.iter().find(|m| m["destination"] == "/sys").unwrap();
        assert_eq!(sys["type"], "bind");
        assert!(
            mounts[0]["options"]
                .as_array()
                .unwrap()
                .contains(&json!("nodev"))
        );
        let dev = mounts.iter().find(|m| m["destination"] == "/dev").unwrap();
        assert!(!dev["options"].as_array().unwrap().contains(&json!("nodev")));
    }

    #[test]
    fn without_ranges_unmapped_ids_leave_the_mount_options() {
        let user = UserIds {
            uid: 1000,
            gid: 1000,
            name: "alice".into(),
        };
        let config = r#"{"mounts": [{"destination": "/dev/pts", "type": "devpts",
            "source": "devpts", "options": ["newinstance", "gid=5", "mode=620"]}]}"#;
        let out: Value =
            serde_json::from_str(&configure_with(config, &user, "", "").unwrap()).unwrap();
        assert_eq!(
            out["mounts"][0]["options"],
            json!(["newinstance", "mode=620"])
        );
        let ranges = "alice:100000:65536\n";
        let out: Value =
            serde_json::from_str(&configure_with(config, &user, ranges, ranges).unwrap()).unwrap();
        assert!(
            out["mounts"][0]["options"]
                .as_array()
                .unwrap()
                .contains(&json!("gid=5"))
        );
    }
}

//! The config.json of a `--user` container (reference §3.7): a user namespace mapping the
//! invoking user to root in the container, plus the user's subordinate ranges, and nothing
//! that needs real root (network namespace setup, device cgroup rules, device nodes).

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

fn mappings(own: u32, sub: Option<(u64, u64)>) -> Value {
    let mut maps = vec![json!({"containerID": 0, "hostID": own, "size": 1})];
    if let Some((start, count)) = sub {
        maps.push(json!({"containerID": 1, "hostID": start, "size": count}));
    }
    Value::Array(maps)
}

/// Rewrite `config` for a user install.
pub fn configure(config: &str, user: &UserIds) -> Result<String> {
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let subgid = std::fs::read_to_string("/etc/subgid").unwrap_or_default();
    configure_with(config, user, &subuid, &subgid)
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
    let all_private = ["pid", "ipc", "uts", "mount"]
        .iter()
        .all(|t| namespaces.iter().any(|ns| ns["type"] == *t));
    linux["namespaces"] = Value::Array(namespaces);
    linux["uidMappings"] = mappings(user.uid, subordinate(subuid, user));
    linux["gidMappings"] = mappings(user.gid, subordinate(subgid, user));
    if let Some(resources) = linux["resources"].as_object_mut() {
        resources.remove("devices");
    }
    let mut mounts: Vec<Value> = value["mounts"].as_array().cloned().unwrap_or_default();
    if !all_private {
        // A user namespace cannot mount a fresh sysfs unless it owns the network namespace.
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
        // Not every namespace is private: /sys becomes a read-only bind of the host's.
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
}

//! The installed system containers, for `containers list`.

use anyhow::{Context as _, Result};

use crate::info::Info;
use crate::ops::Context;
use crate::systemd::UnitState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemContainer {
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub created: i64,
    /// running, failed, inactive (systemd's view), or "no service".
    pub state: String,
    pub runtime: String,
    /// The process's argv from config.json.
    pub command: Vec<String>,
}

impl SystemContainer {
    pub fn running(&self) -> bool {
        self.state == UnitState::Running.as_str()
    }
}

/// Every installed system container: each `C/NAME` symlink to `C/NAME.0` or `C/NAME.1` that
/// holds an info file.
pub fn list(ctx: &Context) -> Result<Vec<SystemContainer>> {
    let dir = &ctx.layout.checkouts;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_symlink() || !crate::layout::is_name(&name) {
            continue;
        }
        let Some(slot) = ctx.active(&name) else {
            continue;
        };
        // Another symlink in C is not ours.
        if ![0, 1].iter().any(|i| slot == ctx.layout.slot(&name, *i)) {
            continue;
        }
        let Ok(info) = Info::read(&slot) else {
            continue;
        };
        let state = if info.has_container_service {
            ctx.systemd.state(&name).as_str().to_string()
        } else {
            "no service".to_string()
        };
        out.push(SystemContainer {
            command: command(&slot),
            name,
            image: info.image,
            image_id: info.revision,
            created: info.created,
            state,
            runtime: info.runtime,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn command(slot: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(slot.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| serde_json::from_value(v["process"]["args"].clone()).ok())
        .unwrap_or_default()
}

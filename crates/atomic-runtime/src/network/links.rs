//! `--link NAME[:ALIAS]`, as docker does it on its default bridge: the linked container's
//! address under the alias (and its name and hostname) in the new container's `/etc/hosts`.
//! docker's legacy `ALIAS_PORT_…` environment variables are not set.

use std::net::IpAddr;

use anyhow::{Context, Result, bail};

use super::attach::{Attachment, display_name, is_live};
use crate::container::Runner;
use crate::dockercli::RunRequest;
use crate::state::Lifecycle;

/// The `/etc/hosts` entries (`ALIAS NAME HOSTNAME`, address) of `req`'s links, for a
/// container whose network is `att`. Each linked container must exist in this store, be
/// running and be on the new container's network.
pub fn hosts_entries(
    runner: &Runner,
    att: Option<&Attachment>,
    req: &RunRequest,
) -> Result<Vec<(String, IpAddr)>> {
    if req.net.links.is_empty() {
        return Ok(Vec::new());
    }
    let Some(own) = att.and_then(|a| a.endpoints.first()) else {
        bail!("--link needs a bridge network (not --network none, host or container:…)");
    };
    let mut entries = Vec::new();
    for (name, alias) in &req.net.links {
        let what = || format!("--link {name}:{alias}");
        let other = runner
            .containers
            .find(name)
            .with_context(what)?
            .with_context(|| format!("{}: no such container", what()))?;
        let running =
            matches!(other.state, Lifecycle::Running { .. }) && is_live(runner, &other.id);
        if !running {
            bail!(
                "{}: container {} is not running (start it first)",
                what(),
                other.name
            );
        }
        let endpoint = other
            .network
            .as_ref()
            .and_then(|a| a.endpoints.iter().find(|e| e.network == own.network))
            .with_context(|| {
                format!(
                    "{}: container {} is not on network {}",
                    what(),
                    other.name,
                    display_name(&own.network)
                )
            })?;
        let hostname = std::fs::read_to_string(runner.containers.dir(&other.id).join("hostname"))
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace))
            .unwrap_or_else(|| other.id[..12.min(other.id.len())].to_string());
        let mut names = vec![alias.clone()];
        for extra in [&other.name, &hostname] {
            if !names.contains(extra) {
                names.push(extra.clone());
            }
        }
        entries.push((names.join(" "), IpAddr::V4(endpoint.ip)));
    }
    Ok(entries)
}

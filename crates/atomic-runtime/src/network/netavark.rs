//! netavark, Podman's network tool, driven with atomic's own configuration directory: it
//! makes the bridge, the veth pair, the firewall rules (NAT, published ports) and starts
//! aardvark-dns for networks with DNS.
//!
//! `netavark [--config DIR] --aardvark-binary PATH setup|teardown NETNS` reads its options as
//! JSON on stdin; `setup` answers a JSON status per network, a failure is `{"error": "…"}`.
//! netavark does not undo a half-done setup, so a failed setup is followed by a teardown.
//! Calls are serialized per store (a lock file in the config directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use atomic_exec::Task;

use super::config::{NetworkOptions, StatusBlock};

/// Where distributions install Podman's helpers.
const HELPER_DIRS: &[&str] = &[
    "/usr/libexec/podman",
    "/usr/lib/podman",
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
];

/// The netavark and aardvark-dns of this host.
#[derive(Debug, Clone)]
pub struct Netavark {
    pub program: PathBuf,
    pub aardvark: PathBuf,
    /// atomic's `--config` directory (never Podman's /run/containers/networks).
    pub config: PathBuf,
}

fn find(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    HELPER_DIRS
        .iter()
        .map(PathBuf::from)
        .chain(on_path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Netavark {
    /// The installed netavark, or an error that says what to install.
    pub fn find(config: &Path) -> Result<Netavark> {
        let missing = |what: &str| {
            anyhow!(
                "{what} is not installed: the built-in engine's bridge networks need it; \
                 install the netavark and aardvark-dns packages (apt-get install netavark \
                 aardvark-dns), or run with --network none or --network host"
            )
        };
        Ok(Netavark {
            program: find("netavark").ok_or_else(|| missing("netavark"))?,
            aardvark: find("aardvark-dns").ok_or_else(|| missing("aardvark-dns"))?,
            config: config.to_path_buf(),
        })
    }

    /// Set up the container's networks in the namespace `netns`.
    pub fn setup(
        &self,
        netns: &Path,
        opts: &NetworkOptions,
    ) -> Result<BTreeMap<String, StatusBlock>> {
        let out = self.run("setup", netns, opts)?;
        serde_json::from_slice(&out).with_context(|| {
            format!(
                "netavark setup answered something else than its status: {}",
                String::from_utf8_lossy(&out).trim()
            )
        })
    }

    /// Remove what `setup` made (rules, veth, aardvark entries).
    pub fn teardown(&self, netns: &Path, opts: &NetworkOptions) -> Result<()> {
        self.run("teardown", netns, opts).map(|_| ())
    }

    fn run(&self, verb: &str, netns: &Path, opts: &NetworkOptions) -> Result<Vec<u8>> {
        // One netavark at a time per store, as Podman does: two teardowns of a network's last
        // containers at once each see the other's still there, and the network's own rules
        // (NAT) are left behind. The built-in driver takes the same lock. A short wait, not
        // worth a message.
        let _lock = super::builtin::lock(&self.config)?;
        let input = serde_json::to_vec(opts)?;
        let out = Task::new(format!("netavark {verb}"), &self.program)
            .arg("--config")
            .arg(&self.config)
            .arg("--aardvark-binary")
            .arg(&self.aardvark)
            .arg(verb)
            .arg(netns)
            .output_with_input(&input)?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        // The reason is a JSON object on stdout; anything else is shown as it is.
        let said = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| atomic_exec::stderr_tail(&out.stderr));
        bail!(
            "netavark {verb} for container {} failed ({}): {}",
            opts.container_name,
            out.status,
            said.trim()
        )
    }
}

//! netavark, Podman's network tool, driven with atomic's own configuration directory: it
//! makes the bridge, the veth pair, the firewall rules (NAT, published ports) and starts
//! aardvark-dns for networks with DNS.
//!
//! `netavark [--config DIR] --aardvark-binary PATH setup|teardown NETNS` reads its options as
//! JSON on stdin; `setup` answers a JSON status per network, a failure is `{"error": "…"}`.
//! netavark does not undo a half-done setup, so a failed setup is followed by a teardown.
//! Calls are serialized per store (a lock file in the config directory).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

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
        std::fs::create_dir_all(&self.config)
            .with_context(|| format!("creating {}", self.config.display()))?;
        // One netavark at a time per store, as Podman does: two teardowns of a network's last
        // containers at once each see the other's still there, and the network's own rules
        // (NAT) are left behind. A short wait, not worth a message.
        let lock_path = self.config.join("netavark.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let input = serde_json::to_vec(opts)?;
        let mut child = Command::new(&self.program)
            .arg("--config")
            .arg(&self.config)
            .arg("--aardvark-binary")
            .arg(&self.aardvark)
            .arg(verb)
            .arg(netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", self.program.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(&input)
                .with_context(|| format!("writing the options of netavark {verb}"))?;
        }
        let out = child
            .wait_with_output()
            .with_context(|| format!("waiting for netavark {verb}"))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        // The reason is a JSON object on stdout; anything else is shown as it is.
        let said = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            });
        bail!(
            "netavark {verb} for container {} failed ({}): {}",
            opts.container_name,
            out.status,
            said.trim()
        )
    }
}

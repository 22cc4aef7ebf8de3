//! A Docker registry on loopback, for tests of pull, push and remote inspection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{ImageSpec, OciImage, write_oci_layout};

/// Where the registry listens. Only loopback: tests must not reach or serve the network.
const ADDR: &str = "127.0.0.1:5000";

/// Where a registry started by tests keeps its config, blobs and log. scripts/setup.sh starts
/// its own under /var/lib/atomic-test; either one serves, whichever came first.
const STATE_DIR: &str = "/tmp/atomic-test-registry";

/// A registry that answers on 127.0.0.1:5000.
#[derive(Debug, Clone)]
pub struct Registry {
    addr: String,
}

/// Whether an HTTP GET of `/v2/` gets a registry's answer: 200, or 401 when it wants auth.
/// A plain request over TcpStream, so the test support needs no HTTP client.
fn answers(addr: &str) -> bool {
    let Ok(sockaddr) = addr.parse::<SocketAddr>() else {
        return false;
    };
    let timeout = Duration::from_secs(2);
    let Ok(mut stream) = TcpStream::connect_timeout(&sockaddr, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 32];
    let mut len = 0;
    while len < head.len() {
        match stream.read(&mut head[len..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    let status = String::from_utf8_lossy(&head[..len]);
    status.starts_with("HTTP/1.") && (status.contains(" 200") || status.contains(" 401"))
}

fn registry_config(storage: &Path) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {ADDR}\n",
        storage.display()
    )
}

/// Starts `docker-registry serve` in its own process group, detached from the test, so it
/// keeps serving later tests (and is not killed by a ^C meant for cargo).
fn start_registry() -> Result<()> {
    use std::os::unix::process::CommandExt;
    let state = Path::new(STATE_DIR);
    std::fs::create_dir_all(state.join("data")).with_context(|| format!("creating {STATE_DIR}"))?;
    let config = state.join("registry.yml");
    // Through a temp file and rename: two test processes may start a registry at once.
    let mut tmp = tempfile::NamedTempFile::new_in(state)?;
    tmp.write_all(registry_config(&state.join("data")).as_bytes())?;
    tmp.persist(&config)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.join("registry.log"))?;
    Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting docker-registry (install it with scripts/setup.sh)")?;
    Ok(())
}

impl Registry {
    /// Makes sure a registry answers on 127.0.0.1:5000, starting one when none does, and waits
    /// until it answers. If two processes start one at the same time, one of them fails to
    /// bind and exits; the other serves both.
    pub fn ensure() -> Result<Registry> {
        let registry = Registry {
            addr: ADDR.to_string(),
        };
        if answers(ADDR) {
            return Ok(registry);
        }
        start_registry()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if answers(ADDR) {
                return Ok(registry);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("the registry on {ADDR} did not answer within 30 s; see {STATE_DIR}/registry.log")
    }

    /// `127.0.0.1:5000`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `127.0.0.1:5000/REPO:TAG` for `repo_tag`, as engines name a pulled image.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{}", self.addr, with_tag(repo_tag))
    }

    /// Pushes `spec` to this registry as `repo_tag` (`repo` or `repo:tag`; `latest` by
    /// default), through an OCI layout and `skopeo copy`. The registry keeps the OCI manifest
    /// as written, so the returned manifest digest is what a pull sees.
    pub fn push(&self, spec: &ImageSpec, repo_tag: &str) -> Result<OciImage> {
        push_image(&self.addr, spec, repo_tag, &[])
    }
}

/// Push `spec` to the registry at `addr` as `repo_tag` (`latest` by default) through an OCI
/// layout and `skopeo copy` (TLS unverified), with `extra` options of `skopeo copy`
/// (`--dest-creds U:P`). The registry keeps the OCI manifest as written, so the returned
/// manifest digest is what a pull sees.
pub fn push_image(
    addr: &str,
    spec: &ImageSpec,
    repo_tag: &str,
    extra: &[&str],
) -> Result<OciImage> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let image = write_oci_layout(spec, tmp.path())?;
    let source = format!("oci:{}:{}", tmp.path().display(), image.tag);
    skopeo_copy(&source, &format!("{addr}/{}", with_tag(repo_tag)), extra)?;
    Ok(image)
}

/// `skopeo copy SOURCE docker://DEST` (an `oci:DIR:TAG` to `HOST/REPO:TAG`), TLS unverified,
/// with `extra` options of `skopeo copy`.
pub fn skopeo_copy(source: &str, dest: &str, extra: &[&str]) -> Result<()> {
    let dest = format!("docker://{dest}");
    let output = Command::new("skopeo")
        // The test images are made here: there is no signature to check, and no system
        // policy.json is needed.
        .args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
        ])
        .args(extra)
        .args([source, &dest])
        .stdin(Stdio::null())
        .output()
        .context("starting skopeo (install it with scripts/setup.sh)")?;
    if !output.status.success() {
        bail!(
            "skopeo copy {source} {dest} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// `repo` → `repo:latest`; `repo:tag` and `host:port/repo:tag` unchanged. A colon only counts
/// as a tag separator after the last `/`, since `host:port` has one too.
fn with_tag(repo_tag: &str) -> String {
    let last = repo_tag.rsplit('/').next().unwrap_or(repo_tag);
    if last.contains(':') {
        repo_tag.to_string()
    } else {
        format!("{repo_tag}:latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_default_to_latest() {
        assert_eq!(with_tag("a"), "a:latest");
        assert_eq!(with_tag("a:v1"), "a:v1");
        assert_eq!(with_tag("team/a"), "team/a:latest");
        assert_eq!(with_tag("team/a:v1"), "team/a:v1");
    }

    #[test]
    fn config_listens_on_loopback_only() {
        let config = registry_config(Path::new("/x/data"));
        assert!(config.contains("addr: 127.0.0.1:5000"));
        assert!(config.contains("rootdirectory: /x/data"));
    }

    #[test]
    fn nothing_listening_is_not_a_registry() {
        // Port 9 (discard) is closed on test machines; a refused connection must say no fast.
        assert!(!answers("127.0.0.1:9"));
        assert!(!answers("not an address"));
    }
}

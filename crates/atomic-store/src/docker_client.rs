//! Where the Docker daemon is and how to talk to it, decided the way the `docker` CLI decides,
//! so that atomic's own lookups and a label's `docker …` command reach the same daemon.
//!
//! The endpoint: `DOCKER_HOST`; else the context named by `DOCKER_CONTEXT` or by
//! `currentContext` in `$DOCKER_CONFIG/config.json` (`~/.docker` by default), read from
//! `contexts/meta/<sha256 of the name>/meta.json` with its TLS files under
//! `contexts/tls/<sha256>/docker/`; else `unix:///var/run/docker.sock`. `tcp://` speaks TLS
//! when `DOCKER_TLS_VERIFY` is set (files from `DOCKER_CERT_PATH`, default `~/.docker`) or the
//! context has TLS files, plain HTTP otherwise.
//!
//! The API version: bollard (0.21) sends its requests without a `/vX.Y` prefix, which every
//! daemon serves at its own current API version, so there is nothing to negotiate and no round
//! trip is spent on it; a daemon that has dropped old versions (docker 29 refuses below 1.44)
//! answers these requests too. Checked against Debian 12's docker 20.10 (API 1.41).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
#[cfg(feature = "docker-daemon")]
use bollard::{ClientVersion, Docker};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The daemon's address when nothing says otherwise.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// Seconds a request may take before bollard gives up on it.
#[cfg(feature = "docker-daemon")]
const TIMEOUT_SECS: u64 = 120;
/// What bollard is told; it does not put it in request paths (see the module header).
#[cfg(feature = "docker-daemon")]
const VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// How to reach the daemon: its address and, for `tcp://` with TLS, the certificate files.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `unix://PATH` or `tcp://HOST:PORT`, as the user or the context wrote it.
    pub host: String,
    /// The directory holding `ca.pem`, `cert.pem` and `key.pem` when TLS is used.
    pub tls: Option<PathBuf>,
}

/// What the endpoint decision reads from the environment: a seam, so the rules are unit-tested.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn home(&self) -> Option<PathBuf>;
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    fn exists(&self, path: &Path) -> bool;
}

/// The process's own environment and files.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

impl Endpoint {
    /// Decide the endpoint as the `docker` CLI would.
    pub fn resolve(env: &dyn Environment) -> Result<Endpoint> {
        let config_dir = env
            .var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| env.home().map(|h| h.join(".docker")));
        if let Some(host) = env.var("DOCKER_HOST") {
            let tls = match env.var("DOCKER_TLS_VERIFY") {
                Some(_) if host.starts_with("tcp://") => Some(
                    env.var("DOCKER_CERT_PATH")
                        .map(PathBuf::from)
                        .or_else(|| config_dir.clone())
                        .ok_or_else(|| {
                            anyhow!(
                                "DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is"
                            )
                        })?,
                ),
                _ => None,
            };
            return Ok(Endpoint { host, tls });
        }
        let context = match env.var("DOCKER_CONTEXT") {
            Some(name) => Some(name),
            None => config_dir
                .as_deref()
                .map(|dir| current_context(env, dir))
                .transpose()?
                .flatten(),
        };
        match (context, config_dir) {
            (Some(name), Some(dir)) if name != "default" => {
                let (host, tls) = context_endpoint(env, &dir, &name)?;
                Ok(Endpoint { host, tls })
            }
            _ => Ok(Endpoint {
                host: DEFAULT_HOST.to_string(),
                tls: None,
            }),
        }
    }

    /// A client for this endpoint; nothing is sent until a request needs it.
    #[cfg(feature = "docker-daemon")]
    pub fn client(&self) -> Result<Docker> {
        let version = &VERSION;
        let host = self.host.as_str();
        let made = if host.starts_with("unix://") {
            Docker::connect_with_unix(host, TIMEOUT_SECS, version)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            match &self.tls {
                Some(dir) => {
                    for file in ["ca.pem", "cert.pem", "key.pem"] {
                        let path = dir.join(file);
                        if !path.is_file() {
                            bail!(
                                "cannot connect to the Docker daemon at {host}: TLS is asked for \
                                 but {} does not exist",
                                path.display()
                            );
                        }
                    }
                    Docker::connect_with_ssl(
                        host,
                        &dir.join("key.pem"),
                        &dir.join("cert.pem"),
                        &dir.join("ca.pem"),
                        TIMEOUT_SECS,
                        version,
                    )
                }
                None => Docker::connect_with_http(host, TIMEOUT_SECS, version),
            }
        } else {
            bail!(
                "cannot connect to the Docker daemon at {host}: atomic speaks to unix:// and \
                 tcp:// addresses (ssh:// and others are not supported)"
            );
        };
        made.map_err(|e| anyhow!("cannot connect to the Docker daemon at {host}: {e}"))
    }
}

#[derive(Deserialize)]
struct CliConfig {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

/// `currentContext` of the CLI's config.json; none when the file does not exist.
fn current_context(env: &dyn Environment, dir: &Path) -> Result<Option<String>> {
    let path = dir.join("config.json");
    let bytes = match env.read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let config: CliConfig = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a Docker CLI configuration", path.display()))?;
    Ok(config.current_context.filter(|c| !c.is_empty()))
}

#[derive(Deserialize)]
struct ContextMeta {
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::BTreeMap<String, ContextEndpoint>,
}

#[derive(Deserialize)]
struct ContextEndpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// The docker endpoint of context `name`: its host and its TLS directory, if it has one.
fn context_endpoint(
    env: &dyn Environment,
    dir: &Path,
    name: &str,
) -> Result<(String, Option<PathBuf>)> {
    let key = hex::encode(Sha256::digest(name.as_bytes()));
    let path = dir.join("contexts/meta").join(&key).join("meta.json");
    let bytes = env.read(&path).with_context(|| {
        format!(
            "Docker context '{name}' is selected but {} cannot be read",
            path.display()
        )
    })?;
    let meta: ContextMeta = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a Docker context", path.display()))?;
    let endpoint = meta
        .endpoints
        .get("docker")
        .and_then(|e| e.host.clone().map(|host| (host, e.skip_tls_verify)));
    let Some((host, skip_verify)) = endpoint else {
        bail!("Docker context '{name}' has no docker endpoint host");
    };
    if skip_verify {
        bail!("Docker context '{name}' skips TLS verification, which atomic does not do");
    }
    let tls_dir = dir.join("contexts/tls").join(&key).join("docker");
    let tls = env.exists(&tls_dir.join("ca.pem")).then_some(tls_dir);
    Ok((host, tls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct FakeEnv {
        vars: BTreeMap<&'static str, &'static str>,
        files: BTreeMap<PathBuf, String>,
    }

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).map(|v| v.to_string())
        }
        fn home(&self) -> Option<PathBuf> {
            Some(PathBuf::from("/home/u"))
        }
        fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
            self.files
                .get(path)
                .map(|s| s.clone().into_bytes())
                .ok_or_else(|| std::io::ErrorKind::NotFound.into())
        }
        fn exists(&self, path: &Path) -> bool {
            self.files.contains_key(path)
        }
    }

    fn context_files(env: &mut FakeEnv, name: &str, host: &str, tls: bool) {
        let key = hex::encode(Sha256::digest(name.as_bytes()));
        let meta = format!(
            r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
        );
        let base = PathBuf::from("/home/u/.docker/contexts");
        env.files
            .insert(base.join("meta").join(&key).join("meta.json"), meta);
        if tls {
            env.files.insert(
                base.join("tls").join(&key).join("docker/ca.pem"),
                String::new(),
            );
        }
    }

    #[test]
    fn nothing_set_is_the_default_socket() {
        let e = Endpoint::resolve(&FakeEnv::default()).unwrap();
        assert_eq!(e.host, DEFAULT_HOST);
        assert_eq!(e.tls, None);
    }

    #[test]
    fn docker_host_wins_over_contexts_and_tls_follows_docker_tls_verify() {
        let mut env = FakeEnv::default();
        env.vars.insert("DOCKER_HOST", "tcp://127.0.0.1:2376");
        env.vars.insert("DOCKER_CONTEXT", "remote");
        context_files(&mut env, "remote", "unix:///elsewhere.sock", false);
        let e = Endpoint::resolve(&env).unwrap();
        assert_eq!(e.host, "tcp://127.0.0.1:2376");
        assert_eq!(e.tls, None);
        env.vars.insert("DOCKER_TLS_VERIFY", "1");
        env.vars.insert("DOCKER_CERT_PATH", "/certs");
        let e = Endpoint::resolve(&env).unwrap();
        assert_eq!(e.tls, Some(PathBuf::from("/certs")));
        env.vars.remove("DOCKER_CERT_PATH");
        let e = Endpoint::resolve(&env).unwrap();
        assert_eq!(e.tls, Some(PathBuf::from("/home/u/.docker")));
    }

    #[test]
    fn the_current_context_of_config_json_is_followed() {
        let mut env = FakeEnv::default();
        env.files.insert(
            PathBuf::from("/home/u/.docker/config.json"),
            r#"{"auths":{},"currentContext":"lab"}"#.into(),
        );
        context_files(&mut env, "lab", "tcp://127.0.0.1:2376", true);
        let e = Endpoint::resolve(&env).unwrap();
        assert_eq!(e.host, "tcp://127.0.0.1:2376");
        let key = hex::encode(Sha256::digest(b"lab"));
        assert_eq!(
            e.tls,
            Some(PathBuf::from(format!(
                "/home/u/.docker/contexts/tls/{key}/docker"
            )))
        );
        // DOCKER_CONTEXT=default goes back to the default socket.
        env.vars.insert("DOCKER_CONTEXT", "default");
        assert_eq!(Endpoint::resolve(&env).unwrap().host, DEFAULT_HOST);
    }

    #[test]
    fn a_missing_or_broken_context_is_an_error_that_names_it() {
        let mut env = FakeEnv::default();
        env.vars.insert("DOCKER_CONTEXT", "gone");
        let err = format!("{:#}", Endpoint::resolve(&env).unwrap_err());
        assert!(err.contains("context 'gone'"), "{err}");
        env.files.insert(
            PathBuf::from("/home/u/.docker/config.json"),
            "{not json".into(),
        );
        env.vars.remove("DOCKER_CONTEXT");
        let err = format!("{:#}", Endpoint::resolve(&env).unwrap_err());
        assert!(err.contains("config.json"), "{err}");
    }

    #[test]
    fn unknown_schemes_are_refused_clearly() {
        let e = Endpoint {
            host: "ssh://me@host".into(),
            tls: None,
        };
        let err = e.client().unwrap_err().to_string();
        assert!(err.contains("ssh://"), "{err}");
    }
}

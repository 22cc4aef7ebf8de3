//! `/etc/atomic.conf`: optional YAML settings.
//!
//! Unlike the original, a missing file is not an error (the original refused to start without
//! it). Keys are looked up lower-case first, then upper-case, and empty values count as unset,
//! as the original's `get_atomic_config_item` did.

use std::path::PathBuf;

use anyhow::{Context, Result};

use atomic_engine::{EngineKind, EngineSettings};

/// Every key atomic reads. The commented default file the Debian package installs
/// (`crates/atomic/debian/atomic.conf`) must explain each one: a test checks it.
pub const KEYS: [&str; 10] = [
    "default_storage",
    "default_docker",
    "checkout_path",
    "runtime",
    "default_scanner",
    "registry_read_timeout",
    "layer_expansion_ratio",
    "log_driver",
    "default_network_subnet",
    "network_driver",
];

/// The settings atomic reads; everything else in the file is ignored.
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// `default_storage`: the storage to use when none is given.
    pub default_storage: Option<String>,
    /// `default_docker`: the program that runs `docker …` label commands on the Docker engine.
    pub default_docker: Option<String>,
    /// `checkout_path`: the root of the native image store (the original kept its system
    /// containers' checkouts there).
    pub checkout_path: Option<String>,
    /// `runtime`: the OCI runtime of the native engine's containers (runc by default).
    pub runtime: Option<String>,
    /// `default_scanner`: the scanner `atomic scan` uses when several are configured.
    pub default_scanner: Option<String>,
    /// `registry_read_timeout`: seconds a registry may send nothing before a pull fails.
    pub registry_read_timeout: Option<std::time::Duration>,
    /// `layer_expansion_ratio`: how many times its compressed size a layer may expand to
    /// (0: no limit).
    pub layer_expansion_ratio: Option<u64>,
    /// `log_driver`: the log driver of native containers that name none (json-file,
    /// journald or none).
    pub log_driver: Option<String>,
    /// `default_network_subnet`: the subnet of the native engine's default bridge network.
    pub default_network_subnet: Option<String>,
    /// `network_driver`: what sets up the native engine's bridge networks (builtin or
    /// netavark).
    pub network_driver: Option<String>,
}

/// atomic.conf holds a few scalar settings (the packaged file is about 2 KB): a larger file is
/// refused unread.
const MAX_CONF_BYTES: u64 = 64 * 1024;

/// libyaml's scanner takes time quadratic in the nesting of flow collections: for every token
/// it looks at every open `[`/`{` level (1 MiB of `[` took over a minute, 64 KiB seven
/// seconds). atomic.conf needs none of them; a file with more than this many `[` and `{`
/// characters is refused before YAML sees it, which bounds that nesting.
const MAX_FLOW_OPENERS: usize = 256;

impl Config {
    /// Read `$ATOMIC_CONF` or `/etc/atomic.conf`.
    pub fn load() -> Result<Config> {
        let path = std::env::var_os("ATOMIC_CONF")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/atomic.conf"));
        // Through the store's reader of input-named files: a FIFO or device here must not
        // hang or fill memory before the first command runs.
        match atomic_store::input::read_regular_text(&path, MAX_CONF_BYTES) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config {
                path,
                ..Config::default()
            }),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn parse(text: &str, path: PathBuf) -> Result<Config> {
        let openers = text.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
        if openers > MAX_FLOW_OPENERS {
            anyhow::bail!(
                "{}: {openers} '[' and '{{' characters; atomic.conf holds only a few settings, \
                 and more than {MAX_FLOW_OPENERS} are not parsed",
                path.display()
            );
        }
        let doc: serde_norway::Value = if text.trim().is_empty() {
            serde_norway::Value::Null
        } else {
            serde_norway::from_str(text).with_context(|| format!("parsing {}", path.display()))?
        };
        let item = |key: &str| -> Result<Option<String>> {
            let value = doc
                .get(key)
                .or_else(|| doc.get(key.to_uppercase()))
                .cloned()
                .unwrap_or(serde_norway::Value::Null);
            match value {
                serde_norway::Value::Null => Ok(None),
                serde_norway::Value::String(s) if s.trim().is_empty() => Ok(None),
                serde_norway::Value::String(s) => Ok(Some(s.trim().to_string())),
                serde_norway::Value::Bool(false) => Ok(None),
                other => anyhow::bail!(
                    "{}: '{key}' must be a string, found {other:?}",
                    path.display()
                ),
            }
        };
        let [
            default_storage,
            default_docker,
            checkout_path,
            runtime,
            default_scanner,
            registry_read_timeout,
            layer_expansion_ratio,
            log_driver,
            default_network_subnet,
            network_driver,
        ] = KEYS;
        Ok(Config {
            default_storage: item(default_storage)?,
            default_docker: item(default_docker)?,
            checkout_path: item(checkout_path)?,
            runtime: item(runtime)?,
            default_scanner: item(default_scanner)?,
            registry_read_timeout: seconds(&doc, registry_read_timeout, &path)?,
            layer_expansion_ratio: whole_number(&doc, layer_expansion_ratio, &path)?,
            log_driver: item(log_driver)?,
            default_network_subnet: item(default_network_subnet)?,
            network_driver: item(network_driver)?,
            path,
        })
    }

    /// Where the native store lives: `$ATOMIC_STORE_ROOT`, else `checkout_path`, else
    /// `/var/lib/containers/atomic`.
    pub fn store_root(&self) -> PathBuf {
        match std::env::var_os("ATOMIC_STORE_ROOT") {
            Some(root) if !root.is_empty() => PathBuf::from(root),
            _ => self
                .checkout_path
                .as_ref()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(atomic_store::store::DEFAULT_ROOT)),
        }
    }

    /// What the engines need to know from the configuration.
    pub fn engine_settings(&self) -> EngineSettings {
        EngineSettings {
            store_root: self.store_root(),
            runtime: self
                .runtime
                .clone()
                .unwrap_or_else(|| atomic_engine::DEFAULT_RUNTIME.to_string()),
            log_driver: self.log_driver.clone(),
            default_network_subnet: self.default_network_subnet.clone(),
            network_driver: self.network_driver.clone(),
        }
    }

    /// The configured default storage, validated.
    pub fn storage(&self) -> Result<Option<EngineKind>> {
        self.default_storage
            .as_deref()
            .map(|s| {
                s.parse::<EngineKind>()
                    .with_context(|| format!("default_storage in {}", self.path.display()))
            })
            .transpose()
    }
}

/// A whole number, 0 or more (or a string holding one).
fn whole_number(
    doc: &serde_norway::Value,
    key: &str,
    path: &std::path::Path,
) -> Result<Option<u64>> {
    let value = match doc.get(key).or_else(|| doc.get(key.to_uppercase())) {
        None | Some(serde_norway::Value::Null) => return Ok(None),
        Some(serde_norway::Value::Number(n)) => n.as_u64(),
        Some(serde_norway::Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match value {
        Some(n) => Ok(Some(n)),
        None => anyhow::bail!(
            "{}: '{key}' must be a whole number (0 for no limit)",
            path.display()
        ),
    }
}

/// A positive number of seconds (integer or decimal, or a string holding one).
fn seconds(
    doc: &serde_norway::Value,
    key: &str,
    path: &std::path::Path,
) -> Result<Option<std::time::Duration>> {
    let value = match doc.get(key).or_else(|| doc.get(key.to_uppercase())) {
        None | Some(serde_norway::Value::Null) => return Ok(None),
        Some(serde_norway::Value::Number(n)) => n.as_f64(),
        Some(serde_norway::Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(serde_norway::Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match value {
        Some(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => {
            Ok(Some(std::time::Duration::from_secs_f64(secs)))
        }
        _ => anyhow::bail!(
            "{}: '{key}' must be a number of seconds between 0 and 86400",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, PathBuf::from("atomic.conf"))
    }

    #[test]
    fn keys_lower_then_upper_and_empty_is_unset() {
        let c = parse("default_storage: podman\nDEFAULT_DOCKER: docker-latest\n").unwrap();
        assert_eq!(c.default_storage.as_deref(), Some("podman"));
        assert_eq!(c.default_docker.as_deref(), Some("docker-latest"));
        let c = parse("default_storage: ''\n# comment only\n").unwrap();
        assert_eq!(c.default_storage, None);
        assert_eq!(parse("").unwrap().default_docker, None);
    }

    #[test]
    fn malformed_yaml_is_an_error_naming_the_file() {
        let e = parse("default_storage: [unclosed\n").unwrap_err();
        assert!(format!("{e:#}").contains("atomic.conf"), "{e:#}");
        let e = parse("default_storage: {a: 1}\n").unwrap_err();
        assert!(format!("{e:#}").contains("must be a string"), "{e:#}");
    }

    /// A 64 KiB run of `[` took seven seconds in libyaml's scanner; it is refused at once.
    #[test]
    fn deep_flow_nesting_is_refused_before_yaml_parses_it() {
        let started = std::time::Instant::now();
        let e = parse(&"[".repeat(60_000)).unwrap_err();
        assert!(format!("{e:#}").contains("more than 256"), "{e:#}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        parse(&format!("default_storage: native # {}\n", "[".repeat(200))).unwrap();
    }

    #[test]
    fn unknown_storage_is_rejected() {
        let c = parse("default_storage: lxc\n").unwrap();
        assert!(c.storage().is_err());
        let c = parse("default_storage: ostree\n").unwrap();
        assert_eq!(c.storage().unwrap(), Some(EngineKind::Native));
    }

    /// The file the package installs as /etc/atomic.conf changes nothing until edited, and
    /// shows every key commented out with its default.
    #[test]
    fn packaged_default_file_documents_every_key_and_sets_none() {
        let text = include_str!("../debian/atomic.conf");
        let c = parse(text).unwrap();
        assert_eq!(
            (
                c.default_storage,
                c.default_docker,
                c.checkout_path,
                c.runtime
            ),
            (None, None, None, None)
        );
        for key in KEYS {
            let line = format!("#{key}: ");
            assert!(text.contains(&line), "atomic.conf lacks a line {line:?}");
            // Uncommented, the example line must parse too.
            let example = text.lines().find(|l| l.starts_with(&line)).unwrap();
            parse(&example[1..]).unwrap();
        }
        // The examples that show a default show the real one.
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix('#').filter(|l| !l.starts_with(' ')))
            .map(|l| format!("{l}\n"))
            .collect();
        let c = parse(&uncommented).unwrap();
        assert_eq!(
            c.checkout_path.as_deref(),
            Some(atomic_store::store::DEFAULT_ROOT)
        );
        assert_eq!(c.runtime.as_deref(), Some(atomic_engine::DEFAULT_RUNTIME));
        assert_eq!(c.default_docker.as_deref(), Some("docker"));
    }

    #[test]
    fn registry_read_timeout_is_seconds() {
        let c = parse("registry_read_timeout: 2.5\n").unwrap();
        assert_eq!(
            c.registry_read_timeout,
            Some(std::time::Duration::from_millis(2500))
        );
        assert_eq!(parse("").unwrap().registry_read_timeout, None);
        for bad in ["-1", "0", "soon", "[1]"] {
            let e = parse(&format!("registry_read_timeout: {bad}\n")).unwrap_err();
            assert!(format!("{e:#}").contains("seconds"), "{bad}: {e:#}");
        }
    }

    #[test]
    fn checkout_path_is_the_store_root() {
        let c = parse("checkout_path: /srv/atomic\n").unwrap();
        assert_eq!(c.checkout_path.as_deref(), Some("/srv/atomic"));
    }
}

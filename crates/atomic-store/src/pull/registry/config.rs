//! `registries.conf` (containers-registries.conf(5)), the part a pull needs: where short names
//! are searched, which registries are insecure (plain HTTP or unverified TLS allowed) and which
//! are blocked.
//!
//! Both formats are read: v2 (`unqualified-search-registries = [...]`, `[[registry]]` tables
//! with `location`/`prefix`, `insecure`, `blocked`) and the older v1 (`[registries.search]`,
//! `[registries.insecure]`, `[registries.block]`, each with `registries = [...]`). Keys atomic
//! does not use (mirrors, aliases, short-name-mode) are ignored rather than refused, so a
//! machine's file written for podman never breaks a pull.
//!
//! Which file: `PullOptions::registries_conf`, else `$CONTAINERS_REGISTRIES_CONF` (as podman and
//! skopeo read it), else `/etc/containers/registries.conf` plus the drop-ins in
//! `/etc/containers/registries.conf.d/*.conf`, in name order, later ones overriding.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

const SYSTEM_CONF: &str = "/etc/containers/registries.conf";
const SYSTEM_DROP_INS: &str = "/etc/containers/registries.conf.d";
/// registries.conf and auth files are a few kilobytes; one over 1 MiB is refused unread.
pub const CONFIG_LIMIT: u64 = 1 << 20;

/// The registries configuration in effect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesConf {
    /// `None` when no file sets it: short names go to docker.io. `Some(empty)` when a file sets
    /// an empty list on purpose: short names are refused (the test machines do this so nothing
    /// ever reaches for the internet).
    search: Option<Vec<String>>,
    registries: Vec<Entry>,
    /// The files read, for messages.
    sources: Vec<PathBuf>,
}

/// One `[[registry]]` table (or a v1 list member).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// What the entry matches: `host[:port][/path]`, or `*.domain`.
    prefix: String,
    insecure: bool,
    blocked: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileV2 {
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    registry: Vec<RegistryTable>,
    registries: Option<FileV1>,
}

#[derive(Deserialize)]
struct RegistryTable {
    location: Option<String>,
    prefix: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
}

#[derive(Deserialize)]
struct FileV1 {
    search: Option<V1List>,
    insecure: Option<V1List>,
    block: Option<V1List>,
}

#[derive(Deserialize)]
struct V1List {
    #[serde(default)]
    registries: Vec<String>,
}

impl RegistriesConf {
    /// Read the configuration in effect (see the module docs for which files). A file that
    /// does not exist is no configuration; a file that does not parse is an error.
    pub fn load(explicit: Option<&Path>) -> Result<RegistriesConf> {
        let env = std::env::var_os("CONTAINERS_REGISTRIES_CONF").map(PathBuf::from);
        match explicit.map(Path::to_path_buf).or(env) {
            Some(path) => {
                let mut conf = RegistriesConf::default();
                conf.merge_file(&path)?;
                Ok(conf)
            }
            None => {
                let mut conf = RegistriesConf::default();
                conf.merge_file(Path::new(SYSTEM_CONF))?;
                let mut drop_ins: Vec<PathBuf> = std::fs::read_dir(SYSTEM_DROP_INS)
                    .map(|dir| {
                        dir.flatten()
                            .map(|e| e.path())
                            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                            .collect()
                    })
                    .unwrap_or_default();
                drop_ins.sort();
                for path in drop_ins {
                    conf.merge_file(&path)?;
                }
                Ok(conf)
            }
        }
    }

    fn merge_file(&mut self, path: &Path) -> Result<()> {
        let text = match crate::input::read_regular_text(path, CONFIG_LIMIT) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let parsed = RegistriesConf::parse(&text)
            .with_context(|| format!("{} is not a valid registries.conf", path.display()))?;
        self.merge(parsed);
        self.sources.push(path.to_path_buf());
        Ok(())
    }

    /// Later files override earlier ones: the search list as a whole, registry entries by
    /// prefix (containers-registries.conf.d(5)).
    fn merge(&mut self, later: RegistriesConf) {
        if later.search.is_some() {
            self.search = later.search;
        }
        for entry in later.registries {
            self.registries.retain(|e| e.prefix != entry.prefix);
            self.registries.push(entry);
        }
    }

    /// Parse one file's text.
    pub fn parse(text: &str) -> Result<RegistriesConf> {
        let file: FileV2 = toml::from_str(text)?;
        let mut conf = RegistriesConf {
            search: file.unqualified_search_registries,
            ..RegistriesConf::default()
        };
        for table in file.registry {
            let Some(prefix) = table.prefix.or(table.location) else {
                bail!("a [[registry]] table has neither 'location' nor 'prefix'");
            };
            conf.registries.push(Entry {
                prefix: normalise(&prefix),
                insecure: table.insecure,
                blocked: table.blocked,
            });
        }
        if let Some(v1) = file.registries {
            if conf.search.is_some() || !conf.registries.is_empty() {
                bail!("mixes the v1 [registries.*] tables with v2 keys");
            }
            conf.search = v1.search.map(|l| l.registries);
            let lists = [(v1.insecure, true, false), (v1.block, false, true)];
            for (list, insecure, blocked) in lists {
                for host in list.map(|l| l.registries).unwrap_or_default() {
                    let prefix = normalise(&host);
                    match conf.registries.iter_mut().find(|e| e.prefix == prefix) {
                        Some(e) => {
                            e.insecure |= insecure;
                            e.blocked |= blocked;
                        }
                        None => conf.registries.push(Entry {
                            prefix,
                            insecure,
                            blocked,
                        }),
                    }
                }
            }
        }
        Ok(conf)
    }

    /// The registries a short name is tried on, in order.
    pub fn search_registries(&self) -> Result<Vec<String>> {
        match &self.search {
            None => Ok(vec![crate::reference::DEFAULT_REGISTRY.to_string()]),
            Some(list) if list.is_empty() => bail!(
                "no unqualified-search-registries are configured in {}; use a fully qualified \
                 name (REGISTRY/REPOSITORY[:TAG])",
                self.describe_sources()
            ),
            Some(list) => Ok(list.clone()),
        }
    }

    /// Whether `repo_path` (`host[:port]/repository`) may be reached over plain HTTP or TLS
    /// without verification.
    pub fn insecure(&self, repo_path: &str) -> bool {
        self.entry(repo_path).is_some_and(|e| e.insecure)
    }

    /// Whether pulls from `repo_path` are forbidden.
    pub fn blocked(&self, repo_path: &str) -> bool {
        self.entry(repo_path).is_some_and(|e| e.blocked)
    }

    /// The files this configuration came from, for messages.
    pub fn describe_sources(&self) -> String {
        if self.sources.is_empty() {
            "registries.conf".to_string()
        } else {
            let names: Vec<String> = self
                .sources
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            names.join(", ")
        }
    }

    /// The most specific entry matching `repo_path`, as containers/image chooses it.
    fn entry(&self, repo_path: &str) -> Option<&Entry> {
        self.registries
            .iter()
            .filter(|e| matches(&e.prefix, repo_path))
            .max_by_key(|e| e.prefix.len())
    }
}

/// Prefixes are compared without a scheme or trailing slash; users write either.
fn normalise(prefix: &str) -> String {
    let p = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"))
        .unwrap_or(prefix);
    p.trim_end_matches('/').to_string()
}

/// `prefix` matches the path itself or anything below it at a `/` boundary (so `reg.io/a` does
/// not match `reg.io/ab`); `*.domain` matches any host under the domain.
fn matches(prefix: &str, repo_path: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = repo_path.split('/').next().unwrap_or(repo_path);
        let host = host.split(':').next().unwrap_or(host);
        return host.ends_with(&format!(".{domain}"));
    }
    repo_path == prefix
        || repo_path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v2() {
        let conf = RegistriesConf::parse(
            r#"
            unqualified-search-registries = ["127.0.0.1:5000", "quay.io"]
            short-name-mode = "enforcing"
            [[registry]]
            location = "127.0.0.1:5000"
            insecure = true
            [[registry]]
            prefix = "quay.io/evil"
            location = "quay.io/evil"
            blocked = true
            [[registry.mirror]]
            location = "mirror.example"
            "#,
        )
        .unwrap();
        assert_eq!(
            conf.search_registries().unwrap(),
            ["127.0.0.1:5000", "quay.io"]
        );
        assert!(conf.insecure("127.0.0.1:5000/x/y"));
        assert!(!conf.insecure("127.0.0.1:5001/x/y"));
        assert!(!conf.insecure("127.0.0.1:50000/x"));
        assert!(conf.blocked("quay.io/evil/img"));
        assert!(!conf.blocked("quay.io/evilcorp/img"));
        assert!(!conf.blocked("quay.io/good/img"));
    }

    #[test]
    fn reads_v1() {
        let conf = RegistriesConf::parse(
            r#"
            [registries.search]
            registries = ["reg.example"]
            [registries.insecure]
            registries = ["localhost:5000"]
            [registries.block]
            registries = ["bad.example"]
            "#,
        )
        .unwrap();
        assert_eq!(conf.search_registries().unwrap(), ["reg.example"]);
        assert!(conf.insecure("localhost:5000/a"));
        assert!(conf.blocked("bad.example/a"));
    }

    #[test]
    fn search_defaults_to_docker_hub_unless_emptied() {
        let none = RegistriesConf::parse("").unwrap();
        assert_eq!(none.search_registries().unwrap(), ["docker.io"]);
        let empty = RegistriesConf::parse("unqualified-search-registries = []").unwrap();
        let err = empty.search_registries().unwrap_err().to_string();
        assert!(err.contains("fully qualified"), "{err}");
    }

    #[test]
    fn most_specific_entry_wins() {
        let conf = RegistriesConf::parse(
            r#"
            [[registry]]
            location = "reg.io"
            insecure = true
            [[registry]]
            location = "reg.io/secure"
            insecure = false
            [[registry]]
            location = "*.internal.example"
            insecure = true
            "#,
        )
        .unwrap();
        assert!(conf.insecure("reg.io/a"));
        assert!(!conf.insecure("reg.io/secure/a"));
        assert!(conf.insecure("r1.internal.example:5000/a"));
        assert!(!conf.insecure("internal.example/a"));
    }

    #[test]
    fn later_files_override() {
        let mut conf = RegistriesConf::parse(
            "unqualified-search-registries = [\"a.io\"]\n[[registry]]\nlocation = \"a.io\"\ninsecure = true\n",
        )
        .unwrap();
        conf.merge(
            RegistriesConf::parse("[[registry]]\nlocation = \"a.io\"\ninsecure = false\n").unwrap(),
        );
        assert_eq!(conf.search_registries().unwrap(), ["a.io"]);
        assert!(!conf.insecure("a.io/x"));
    }

    #[test]
    fn refuses_malformed_files() {
        for bad in [
            "unqualified-search-registries = \"not a list\"",
            "[[registry]]\ninsecure = true",
            "unqualified-search-registries = []\n[registries.search]\nregistries = [\"a\"]",
            "this is not toml",
        ] {
            assert!(RegistriesConf::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

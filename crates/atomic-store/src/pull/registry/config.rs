//! `registries.conf` (containers-registries.conf(5)) as containers-image reads it: where short
//! names are searched and how (`short-name-mode`, `[aliases]`), and for each `[[registry]]`
//! prefix where its images really are (`location`), which mirrors to try first
//! (`[[registry.mirror]]`, `pull-from-mirror`), and whether it is `insecure` or `blocked`.
//! The older v1 format (`[registries.search]`, `[registries.insecure]`, `[registries.block]`)
//! is read too, and `credential-helpers` (where credentials are looked up). Unknown keys are
//! ignored rather than refused, so a machine's file written for podman never breaks a pull.
//!
//! Which files: `PullOptions::registries_conf`, else `$CONTAINERS_REGISTRIES_CONF` (as podman
//! and skopeo read it), else `~/.config/containers/registries.conf` when it exists (with the
//! drop-ins of `~/.config/containers/registries.conf.d` only), else
//! `/etc/containers/registries.conf` plus the drop-ins of `/etc/containers/registries.conf.d`
//! and then `~/.config/containers/registries.conf.d`, in name order, later ones overriding.
//! Pull sources (mirrors, rewrites) are in `sources.rs`, short names in `shortname.rs`.

use std::collections::BTreeMap;
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
    pub(super) registries: Vec<Entry>,
    /// `short-name-mode`; `None`: not set in any file (permissive, as containers-image).
    pub(super) short_name_mode: Option<ShortNameMode>,
    /// `credential-helpers`: where credentials are looked up, in order; `None`: the auth
    /// files only (`containers-auth.json`).
    pub(super) credential_helpers: Option<Vec<String>>,
    /// `[aliases]`: short name (no tag) → qualified repository, with the file it came from.
    pub(super) aliases: BTreeMap<String, (String, PathBuf)>,
    /// The files read, for messages.
    sources: Vec<PathBuf>,
}

/// How ambiguous short names are resolved (`short-name-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortNameMode {
    /// Ask on a terminal; without one, refuse.
    Enforcing,
    /// Ask on a terminal; without one, try every search registry in order.
    Permissive,
    /// Never ask: try every search registry in order.
    Disabled,
}

/// One `[[registry]]` table (or a v1 list member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// What the entry matches: `host[:port][/path]`, or `*.domain`.
    pub prefix: String,
    /// Where the matched images really are; `None` for a `*.domain` prefix (as named).
    pub location: Option<String>,
    pub insecure: bool,
    pub blocked: bool,
    /// `mirror-by-digest-only`: mirrors only for names pinned by digest.
    pub mirror_by_digest_only: bool,
    pub mirrors: Vec<Mirror>,
}

/// One `[[registry.mirror]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mirror {
    pub location: String,
    pub insecure: bool,
    pub pull_from: PullFromMirror,
}

/// `pull-from-mirror`: which names a mirror serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum PullFromMirror {
    All,
    DigestOnly,
    TagOnly,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileV2 {
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    registry: Vec<RegistryTable>,
    registries: Option<FileV1>,
    short_name_mode: Option<String>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    credential_helpers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RegistryTable {
    location: Option<String>,
    prefix: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    pull_from_mirror: Option<String>,
    #[serde(default)]
    mirror: Vec<MirrorTable>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MirrorTable {
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<PullFromMirror>,
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
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let mut conf = RegistriesConf::default();
        if let Some(path) = explicit.map(Path::to_path_buf).or(env) {
            conf.merge_file(&path)?;
            return Ok(conf);
        }
        let user_conf = home
            .as_ref()
            .map(|h| h.join(".config/containers/registries.conf"));
        let user_dir = home
            .as_ref()
            .map(|h| h.join(".config/containers/registries.conf.d"));
        let mut dirs = Vec::new();
        match user_conf.filter(|p| p.exists()) {
            // A per-user file replaces the system's file and drop-ins.
            Some(user) => conf.merge_file(&user)?,
            None => {
                conf.merge_file(Path::new(SYSTEM_CONF))?;
                dirs.push(PathBuf::from(SYSTEM_DROP_INS));
            }
        }
        dirs.extend(user_dir);
        for dir in dirs {
            let mut drop_ins: Vec<PathBuf> = std::fs::read_dir(&dir)
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
        }
        Ok(conf)
    }

    fn merge_file(&mut self, path: &Path) -> Result<()> {
        let text = match crate::input::read_regular_text(path, CONFIG_LIMIT) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut parsed = RegistriesConf::parse(&text)
            .with_context(|| format!("{} is not a valid registries.conf", path.display()))?;
        for (_, origin) in parsed.aliases.values_mut() {
            *origin = path.to_path_buf();
        }
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
        if later.credential_helpers.is_some() {
            self.credential_helpers = later.credential_helpers;
        }
        if later.short_name_mode.is_some() {
            self.short_name_mode = later.short_name_mode;
        }
        self.aliases.extend(later.aliases);
        for entry in later.registries {
            self.registries.retain(|e| e.prefix != entry.prefix);
            self.registries.push(entry);
        }
    }

    /// Parse one file's text.
    pub fn parse(text: &str) -> Result<RegistriesConf> {
        let file: FileV2 = toml::from_str(text)?;
        let short_name_mode = match file.short_name_mode.as_deref() {
            None | Some("") => None,
            Some("enforcing") => Some(ShortNameMode::Enforcing),
            Some("permissive") => Some(ShortNameMode::Permissive),
            Some("disabled") => Some(ShortNameMode::Disabled),
            Some(other) => {
                bail!("short-name-mode = \"{other}\" is not one of enforcing, permissive, disabled")
            }
        };
        let mut aliases = BTreeMap::new();
        for (short, target) in file.aliases {
            // An empty value removes an alias an earlier file set.
            if !target.is_empty() {
                check_alias(&short, &target)?;
            }
            aliases.insert(short, (target, PathBuf::new()));
        }
        let mut conf = RegistriesConf {
            search: file.unqualified_search_registries,
            credential_helpers: file.credential_helpers,
            short_name_mode,
            aliases,
            ..RegistriesConf::default()
        };
        for table in file.registry {
            conf.registries.push(entry(table)?);
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
                            location: Some(prefix.clone()),
                            prefix,
                            insecure,
                            blocked,
                            mirror_by_digest_only: false,
                            mirrors: Vec::new(),
                        }),
                    }
                }
            }
        }
        Ok(conf)
    }

    /// Where credentials are looked up, in order (`credential-helpers`): `containers-auth.json`
    /// stands for the auth files, anything else for a `docker-credential-NAME` helper.
    pub fn credential_helpers(&self) -> Vec<String> {
        match &self.credential_helpers {
            Some(list) if !list.is_empty() => list.clone(),
            _ => vec![super::auth::AUTH_FILES.to_string()],
        }
    }

    /// The short-name mode in effect.
    pub fn short_name_mode(&self) -> ShortNameMode {
        self.short_name_mode.unwrap_or(ShortNameMode::Permissive)
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
    pub(super) fn entry(&self, repo_path: &str) -> Option<&Entry> {
        self.registries
            .iter()
            .filter(|e| matches(&e.prefix, repo_path))
            .max_by_key(|e| e.prefix.len())
    }
}

/// One `[[registry]]` table, checked as containers-image checks it.
fn entry(table: RegistryTable) -> Result<Entry> {
    let location = table
        .location
        .map(|l| normalise(&l))
        .filter(|l| !l.is_empty());
    let prefix = match (table.prefix.map(|p| normalise(&p)), &location) {
        (Some(p), _) if p.starts_with("*.") => {
            if p.contains(['/', '@', ':']) {
                bail!("the wildcard prefix '{p}' must have the form *.example.com");
            }
            p
        }
        (Some(p), Some(_)) if !p.is_empty() => p,
        (Some(_) | None, Some(l)) => l.clone(),
        (Some(_), None) => {
            bail!("a [[registry]] table has a prefix that is not *.domain but no 'location'")
        }
        (None, None) => bail!("a [[registry]] table has neither 'location' nor 'prefix'"),
    };
    if table.pull_from_mirror.is_some() {
        bail!("pull-from-mirror is set on the registry '{prefix}'; it belongs on its mirrors");
    }
    let mut mirrors = Vec::new();
    for m in table.mirror {
        let Some(location) = m.location.map(|l| normalise(&l)).filter(|l| !l.is_empty()) else {
            bail!("a mirror of '{prefix}' has no location");
        };
        if table.mirror_by_digest_only && m.pull_from_mirror.is_some() {
            bail!(
                "'{prefix}' sets mirror-by-digest-only and its mirror {location} pull-from-mirror; \
                 use one or the other"
            );
        }
        mirrors.push(Mirror {
            location,
            insecure: m.insecure,
            pull_from: m.pull_from_mirror.unwrap_or(PullFromMirror::All),
        });
    }
    Ok(Entry {
        location: if prefix.starts_with("*.") {
            None
        } else {
            location
        },
        prefix,
        insecure: table.insecure,
        blocked: table.blocked,
        mirror_by_digest_only: table.mirror_by_digest_only,
        mirrors,
    })
}

/// An alias maps a short name to a fully qualified repository, without tag or digest.
fn check_alias(short: &str, target: &str) -> Result<()> {
    let name = crate::reference::ImageName::parse(target)
        .with_context(|| format!("the alias '{short}'"))?;
    if name.registry.is_none() || name.tag.is_some() || name.digest.is_some() {
        bail!(
            "the alias '{short}' = '{target}' must name a registry and repository, without a \
             tag or digest"
        );
    }
    Ok(())
}

/// Prefixes are compared without a scheme or trailing slash; users write either.
pub(super) fn normalise(prefix: &str) -> String {
    let p = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"))
        .unwrap_or(prefix);
    p.trim_end_matches('/').to_string()
}

/// `prefix` matches the path itself or anything below it at a `/` boundary (so `reg.io/a` does
/// not match `reg.io/ab`); `*.domain` matches any host under the domain.
pub(super) fn matches(prefix: &str, repo_path: &str) -> bool {
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
    fn credential_helpers_default_to_the_auth_files() {
        let none = RegistriesConf::parse("").unwrap();
        assert_eq!(none.credential_helpers(), ["containers-auth.json"]);
        let mut conf =
            RegistriesConf::parse("credential-helpers = [\"containers-auth.json\", \"pass\"]")
                .unwrap();
        assert_eq!(conf.credential_helpers(), ["containers-auth.json", "pass"]);
        conf.merge(RegistriesConf::parse("credential-helpers = [\"secretservice\"]").unwrap());
        assert_eq!(conf.credential_helpers(), ["secretservice"]);
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

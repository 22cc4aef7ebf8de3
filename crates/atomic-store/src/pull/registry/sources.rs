//! Where a fully qualified name is pulled from, as registries.conf says: the most specific
//! `[[registry]]` whose prefix matches it rewrites the name to its `location`, and its mirrors
//! come first, in order, each with its own `insecure`, filtered by `pull-from-mirror`
//! (`digest-only` mirrors only serve names pinned by digest, `tag-only` only tagged ones) or
//! the older `mirror-by-digest-only`. A `blocked` registry is refused before anything is
//! tried, mirrors included, as containers-image does.

use anyhow::{Result, bail};

use super::config::{Entry, PullFromMirror, RegistriesConf};
use crate::reference::ImageName;

/// One place to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSource {
    /// The name on that registry (rewritten by `location`).
    pub name: ImageName,
    /// Plain HTTP or unverified TLS allowed there (`--tls-verify` overrides).
    pub insecure: bool,
    /// A mirror, not the registry itself (for messages).
    pub mirror: bool,
}

impl RegistriesConf {
    /// The places to pull `name` (qualified) from, in order.
    pub fn pull_sources(&self, name: &ImageName) -> Result<Vec<PullSource>> {
        let repo_path = name.repo_path();
        let Some(entry) = self.entry(&repo_path) else {
            return Ok(vec![PullSource {
                name: name.clone(),
                insecure: false,
                mirror: false,
            }]);
        };
        if entry.blocked {
            bail!(
                "pulling {name} is blocked: {} marks '{}' as blocked",
                self.describe_sources(),
                entry.prefix
            );
        }
        let digested = name.digest.is_some();
        let mut sources = Vec::new();
        for mirror in &entry.mirrors {
            let wanted = if entry.mirror_by_digest_only {
                digested
            } else {
                match mirror.pull_from {
                    PullFromMirror::All => true,
                    PullFromMirror::DigestOnly => digested,
                    PullFromMirror::TagOnly => !digested,
                }
            };
            if wanted {
                sources.push(PullSource {
                    name: rewrite(name, entry, Some(&mirror.location))?,
                    insecure: mirror.insecure,
                    mirror: true,
                });
            }
        }
        sources.push(PullSource {
            name: rewrite(name, entry, entry.location.as_deref())?,
            insecure: entry.insecure,
            mirror: false,
        });
        Ok(sources)
    }
}

/// `location` + what follows the prefix in `name`; `name` itself without a location.
fn rewrite(name: &ImageName, entry: &Entry, location: Option<&str>) -> Result<ImageName> {
    let Some(location) = location else {
        return Ok(name.clone());
    };
    let full = name.to_string();
    let matched = if entry.prefix.starts_with("*.") {
        name.registry.as_deref().map_or(0, str::len)
    } else {
        entry.prefix.len()
    };
    let Some(rest) = full.get(matched..) else {
        bail!(
            "registries.conf's prefix '{}' does not fit {name}",
            entry.prefix
        );
    };
    let rewritten = format!("{location}{rest}");
    let parsed = ImageName::parse(&rewritten)?;
    if parsed.registry.is_none() {
        bail!("registries.conf rewrites {name} to '{rewritten}', which names no registry");
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(conf: &str, name: &str) -> Result<Vec<(String, bool, bool)>> {
        let conf = RegistriesConf::parse(conf)?;
        let name = ImageName::parse(name)?.qualified();
        Ok(conf
            .pull_sources(&name)?
            .into_iter()
            .map(|s| (s.name.to_string(), s.insecure, s.mirror))
            .collect())
    }

    const CONF: &str = r#"
        [[registry]]
        prefix = "example.com/foo"
        location = "internal.registry.mirror/bar"
        [[registry]]
        location = "reg.io"
        insecure = false
        [[registry.mirror]]
        location = "m1.io:5000"
        insecure = true
        [[registry.mirror]]
        location = "m2.io/cache"
        pull-from-mirror = "digest-only"
        [[registry.mirror]]
        location = "m3.io"
        pull-from-mirror = "tag-only"
        [[registry]]
        location = "reg.io/secret"
        blocked = true
        [[registry]]
        prefix = "*.corp.example"
        insecure = true
        [[registry.mirror]]
        location = "cache.corp.example"
        [[registry]]
        location = "old.io"
        mirror-by-digest-only = true
        [[registry.mirror]]
        location = "m4.io"
    "#;

    #[test]
    fn rewrites_prefixes_to_locations() {
        assert_eq!(
            sources(CONF, "example.com/foo/image:latest").unwrap(),
            [(
                "internal.registry.mirror/bar/image:latest".into(),
                false,
                false
            )]
        );
        // Prefixes match at component boundaries only.
        assert_eq!(
            sources(CONF, "example.com/foobar/image").unwrap(),
            [("example.com/foobar/image:latest".into(), false, false)]
        );
    }

    #[test]
    fn mirrors_first_by_pull_from_mirror() {
        assert_eq!(
            sources(CONF, "reg.io/a/b:1").unwrap(),
            [
                ("m1.io:5000/a/b:1".into(), true, true),
                ("m3.io/a/b:1".into(), false, true),
                ("reg.io/a/b:1".into(), false, false),
            ]
        );
        let digest = format!("reg.io/a/b@sha256:{}", "0".repeat(64));
        let got = sources(CONF, &digest).unwrap();
        let names: Vec<&str> = got.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names[0].starts_with("m1.io:5000/a/b@"));
        assert!(names[1].starts_with("m2.io/cache/a/b@"));
        assert!(names[2].starts_with("reg.io/a/b@"));
    }

    #[test]
    fn mirror_by_digest_only_keeps_tags_off_mirrors() {
        assert_eq!(sources(CONF, "old.io/x:1").unwrap().len(), 1);
        let digest = format!("old.io/x@sha256:{}", "1".repeat(64));
        assert_eq!(
            sources(CONF, &digest).unwrap()[0].0,
            format!("m4.io/x@sha256:{}", "1".repeat(64))
        );
    }

    #[test]
    fn wildcard_prefixes_keep_the_name() {
        assert_eq!(
            sources(CONF, "r1.corp.example/team/app:2").unwrap(),
            [
                ("cache.corp.example/team/app:2".into(), false, true),
                ("r1.corp.example/team/app:2".into(), true, false),
            ]
        );
    }

    #[test]
    fn blocked_registries_are_refused_mirrors_and_all() {
        let err = sources(CONF, "reg.io/secret/x").unwrap_err().to_string();
        assert!(
            err.contains("blocked") && err.contains("reg.io/secret"),
            "{err}"
        );
    }

    #[test]
    fn refuses_bad_tables() {
        for bad in [
            "[[registry]]\nprefix = \"reg.io\"\n",
            "[[registry]]\nprefix = \"*.a.io/x\"\n",
            "[[registry]]\nlocation = \"a.io\"\npull-from-mirror = \"all\"\n",
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\ninsecure = true\n",
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"sometimes\"\n",
            "[[registry]]\nlocation = \"a.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"all\"\n",
            "short-name-mode = \"strict\"",
            "[aliases]\nbusybox = \"busybox\"",
            "[aliases]\nbusybox = \"docker.io/library/busybox:latest\"",
        ] {
            assert!(RegistriesConf::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

//! Image names as users type them, normalised the way Docker and the containers tools do.
//!
//! `busybox` → `docker.io/library/busybox:latest`; `127.0.0.1:5000/x/y:1` keeps its registry
//! (a first component with a `.` or `:`, or `localhost`, is a registry); `name@sha256:…`
//! pins a digest. Names are validated before they are used as refs in the store.

use std::fmt;

use crate::digest::Digest;

pub const DEFAULT_REGISTRY: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageName {
    /// `None` for a short name (`busybox`, `foo/bar`) that still has to be resolved through the
    /// search registries.
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error)]
#[error("'{name}' is not a valid image name: {why}")]
pub struct BadName {
    pub name: String,
    pub why: &'static str,
}

impl ImageName {
    pub fn parse(name: &str) -> Result<ImageName, BadName> {
        let bad = |why| BadName {
            name: name.to_string(),
            why,
        };
        if name.is_empty() || name.len() > 1024 {
            return Err(bad("empty or longer than 1024 characters"));
        }
        let (rest, digest) = match name.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(
                    d.parse::<Digest>()
                        .map_err(|_| bad("the part after '@' is not a sha256 digest"))?,
                ),
            ),
            None => (name, None),
        };
        // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        if let Some(tag) = &tag
            && !valid_tag(tag)
        {
            return Err(bad(
                "a tag is 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
            ));
        }
        let (registry, repository) = match path.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !valid_registry(first) {
                    return Err(bad("the registry part holds characters a host name cannot"));
                }
                (Some(first.to_string()), rest.to_string())
            }
            _ => (None, path.to_string()),
        };
        if !repository.split('/').all(valid_path_component) {
            return Err(bad(
                "repository components are lowercase letters, digits and separators ('.', '_', '__', '-')",
            ));
        }
        Ok(ImageName {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The same name on a given registry, with Docker Hub's `library/` for one-component names.
    pub fn on_registry(&self, registry: &str) -> ImageName {
        let repository = if registry == DEFAULT_REGISTRY && !self.repository.contains('/') {
            format!("library/{}", self.repository)
        } else {
            self.repository.clone()
        };
        ImageName {
            registry: Some(registry.to_string()),
            repository,
            ..self.clone()
        }
    }

    /// Fully qualified: registry filled in (docker.io when short), tag `latest` when neither a
    /// tag nor a digest is given. This is the ref name kept in the store.
    pub fn qualified(&self) -> ImageName {
        let mut q = match &self.registry {
            Some(_) => self.clone(),
            None => self.on_registry(DEFAULT_REGISTRY),
        };
        if q.tag.is_none() && q.digest.is_none() {
            q.tag = Some(DEFAULT_TAG.to_string());
        }
        q
    }

    /// `registry/repository`, without tag or digest.
    pub fn repo_path(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.repository),
            None => self.repository.clone(),
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repo_path())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn valid_registry(host: &str) -> bool {
    !host.is_empty()
        && !host.contains("..")
        && !host.starts_with(['.', '-', ':'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// A repository path component: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn valid_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    alnum(first)
        && alnum(last)
        && bytes.iter().all(|b| alnum(b) || b"._-".contains(b))
        && !c.contains("..")
        && !c.contains("___")
        && !c.contains("._")
        && !c.contains("_.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("foo/bar:1.0", "docker.io/foo/bar:1.0"),
            ("127.0.0.1:5000/x/y", "127.0.0.1:5000/x/y:latest"),
            ("localhost/img:v2", "localhost/img:v2"),
            ("quay.io/a/b:c", "quay.io/a/b:c"),
        ];
        for (input, want) in cases {
            assert_eq!(
                ImageName::parse(input).unwrap().qualified().to_string(),
                want,
                "{input}"
            );
        }
        let pinned = format!("reg.io/x@sha256:{}", "b".repeat(64));
        let n = ImageName::parse(&pinned).unwrap();
        assert_eq!(n.qualified().to_string(), pinned);
        assert!(n.tag.is_none());
    }

    #[test]
    fn refuses_hostile_names() {
        for bad in [
            "",
            "../etc",
            "a/../b",
            "UPPER",
            "x:",
            "x:-tag",
            "x@sha256:abc",
            "a//b",
            "reg.io/",
            "a b",
            "x;rm -rf /",
            "reg$(id).io/x",
        ] {
            assert!(ImageName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

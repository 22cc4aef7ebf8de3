//! Docker references as containers/image's `reference.ParseNormalizedNamed` reads them, for
//! scope lookup and signature identities: `busybox` → `docker.io/library/busybox`, a first
//! component with `.` or `:` (or `localhost`) is the registry, `:TAG` and `@sha256:HEX`.

use std::fmt;

/// A normalised reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerRef {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a valid docker reference: {1}")]
pub struct BadRef(pub String, pub &'static str);

impl DockerRef {
    /// Parse and normalise (`ParseNormalizedNamed`).
    pub fn parse(s: &str) -> Result<DockerRef, BadRef> {
        let bad = |why| BadRef(s.to_string(), why);
        if s.is_empty() || s.len() > 1024 {
            return Err(bad("empty or too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| bad("the digest is not sha256:<64 hex digits>"))?;
                (r, Some(format!("sha256:{}", hex.to_ascii_lowercase())))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad("invalid tag"));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, p)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), p.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        if !valid_domain(&domain) {
            return Err(bad("invalid registry host"));
        }
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.is_empty() || !path.split('/').all(valid_component) {
            return Err(bad(
                "repository components are lowercase letters, digits and separators",
            ));
        }
        Ok(DockerRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// `domain/path`: containers/image's `Name()`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// With `:latest` added when the reference has neither tag nor digest (`TagNameOnly`).
    pub fn with_default_tag(mut self) -> DockerRef {
        if self.is_name_only() {
            self.tag = Some("latest".to_string());
        }
        self
    }

    /// The policy identity of this reference (`DockerReferenceIdentity`): `name:tag` or
    /// `name@digest`; a reference with both is used by its digest.
    pub fn policy_identity(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.name()),
            (None, Some(t)) => format!("{}:{t}", self.name()),
            (None, None) => self.name(),
        }
    }

    /// The scopes to look up after the identity, most specific first
    /// (`DockerReferenceNamespaces`): the repository, its parent namespaces, the registry, then
    /// `*.domain` wildcards of the host without its port.
    pub fn policy_namespaces(&self) -> Vec<String> {
        let mut res = Vec::new();
        let mut name = self.name();
        loop {
            res.push(name.clone());
            match name.rfind('/') {
                Some(i) => name.truncate(i),
                None => break,
            }
        }
        if let Some(i) = name.find(':') {
            name.truncate(i);
        }
        while let Some(i) = name.find('.') {
            name = name[i + 1..].to_string();
            res.push(format!("*.{name}"));
        }
        res
    }
}

impl fmt::Display for DockerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        && c.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_containers_image() {
        let r = DockerRef::parse("busybox").unwrap();
        assert_eq!(r.name(), "docker.io/library/busybox");
        assert!(r.is_name_only());
        let r = DockerRef::parse("127.0.0.1:5000/ns/app:v1").unwrap();
        assert_eq!(r.domain, "127.0.0.1:5000");
        assert_eq!(r.to_string(), "127.0.0.1:5000/ns/app:v1");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = DockerRef::parse(&format!("quay.io/a/b@{d}")).unwrap();
        assert_eq!(r.policy_identity(), format!("quay.io/a/b@{d}"));
        assert!(DockerRef::parse("UPPER/x").is_err());
        assert!(DockerRef::parse("a@sha256:12").is_err());
    }

    #[test]
    fn namespaces_most_specific_first() {
        let r = DockerRef::parse("reg.example.com:5000/a/b/c:1").unwrap();
        assert_eq!(
            r.policy_namespaces(),
            [
                "reg.example.com:5000/a/b/c",
                "reg.example.com:5000/a/b",
                "reg.example.com:5000/a",
                "reg.example.com:5000",
                "*.example.com",
                "*.com"
            ]
        );
        let r = DockerRef::parse("localhost/x").unwrap();
        assert_eq!(r.policy_namespaces(), ["localhost/x", "localhost"]);
    }
}

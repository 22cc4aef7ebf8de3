//! Kubernetes names from container names, mount paths and hostnames.
//!
//! A container name may hold `_`, `.` and capitals (`my_App.1`); Kubernetes wants names that are
//! DNS-1123 labels for containers, volumes and pods' hostnames, and DNS-1035 labels (starting
//! with a letter) for Services. One rule satisfies all of them: lower case, `[a-z0-9-]`,
//! starting with a letter, ending with a letter or digit, at most 63 characters.

/// The longest DNS-1123 label.
pub const MAX_LABEL: usize = 63;

/// Whether `s` is already a name every kind of object accepts.
pub fn is_valid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `s` made valid: lower-cased, every run of other characters turned into one `-`, leading
/// characters up to the first letter and trailing dashes removed, cut to 63 characters.
/// Empty (nothing usable left) gives `fallback`.
pub fn dns_label(s: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let start = out
        .find(|c: char| c.is_ascii_lowercase())
        .unwrap_or(out.len());
    let mut out = out[start..].to_string();
    out.truncate(MAX_LABEL);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

/// A volume name for a mount at `destination`, unique among `taken` (which it joins):
/// `/host` → `host`, `/etc/localtime` → `etc-localtime`, `/` → `root`, a second `/data` →
/// `data-2`.
pub fn volume_name(destination: &str, taken: &mut Vec<String>) -> String {
    let base = dns_label(destination, "root");
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        let suffix = format!("-{n}");
        let mut stem = base.clone();
        stem.truncate(MAX_LABEL - suffix.len());
        name = format!("{}{suffix}", stem.trim_end_matches('-'));
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// An image reference as a node resolves it: registry host, repository and tag spelled out
/// (`fedora` → `docker.io/library/fedora:latest`), since a cluster has no search list.
pub fn qualified(image: &str) -> String {
    let (first, rest) = image.split_once('/').unwrap_or(("", image));
    let has_registry = first.contains('.') || first.contains(':') || first == "localhost";
    let mut out = match (first, has_registry) {
        ("", _) => format!("docker.io/library/{rest}"),
        (_, true) => image.to_string(),
        (_, false) => format!("docker.io/{image}"),
    };
    let last = out.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && !out.contains('@') {
        out.push_str(":latest");
    }
    out
}

/// The fully qualified name of `image` as the engine knows it: among the engine's names for
/// the image (`repo_tags`), the one the short name resolved to (Podman's `localhost/x:latest`
/// for `x`), else [`qualified`].
pub fn image_reference(image: &str, repo_tags: &[String]) -> String {
    let want = qualified(image);
    if repo_tags.iter().any(|t| qualified(t) == want) {
        return want;
    }
    let short = |s: &str| {
        let q = qualified(s);
        q.split_once('/').map(|(_, r)| r.to_string()).unwrap_or(q)
    };
    let tail = |s: &str| {
        let s = short(s);
        s.strip_prefix("library/").map(str::to_string).unwrap_or(s)
    };
    repo_tags
        .iter()
        .find(|t| !image.contains('/') && tail(t) == tail(image))
        .map(|t| qualified(t))
        .unwrap_or(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_qualified() {
        let cases = [
            ("fedora", "docker.io/library/fedora:latest"),
            ("fedora:39", "docker.io/library/fedora:39"),
            ("user/app", "docker.io/user/app:latest"),
            ("quay.io/a/b:1", "quay.io/a/b:1"),
            ("localhost/x", "localhost/x:latest"),
            ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
            ("x@sha256:ab", "docker.io/library/x@sha256:ab"),
        ];
        for (input, want) in cases {
            assert_eq!(qualified(input), want, "{input}");
        }
        let podman = ["localhost/i18-x:latest".to_string()];
        assert_eq!(image_reference("i18-x", &podman), "localhost/i18-x:latest");
        let docker = ["i18-x:latest".to_string()];
        assert_eq!(
            image_reference("i18-x", &docker),
            "docker.io/library/i18-x:latest"
        );
        assert_eq!(
            image_reference("other", &podman),
            "docker.io/library/other:latest"
        );
    }

    #[test]
    fn names_become_dns_labels() {
        let cases = [
            ("web", "web"),
            ("My_App.1", "my-app-1"),
            ("_under__score_", "under-score"),
            ("123abc", "abc"),
            ("fedora-spc", "fedora-spc"),
            ("a/b:c", "a-b-c"),
            ("---", "x"),
            ("", "x"),
            ("Ünïcode", "n-code"),
        ];
        for (input, want) in cases {
            let got = dns_label(input, "x");
            assert_eq!(got, want, "{input:?}");
            assert!(is_valid(&got), "{got:?}");
        }
        let long = "a".repeat(70) + "-b";
        assert_eq!(dns_label(&long, "x"), "a".repeat(63));
        let dash_at_cut = "a".repeat(62) + "-bcd";
        assert_eq!(dns_label(&dash_at_cut, "x"), "a".repeat(62));
    }

    #[test]
    fn validity_matches_the_rule() {
        for ok in ["a", "web-1", "a1b"] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", "1a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn volume_names_are_unique() {
        let mut taken = Vec::new();
        assert_eq!(volume_name("/host", &mut taken), "host");
        assert_eq!(volume_name("/", &mut taken), "root");
        assert_eq!(volume_name("/etc/localtime", &mut taken), "etc-localtime");
        assert_eq!(volume_name("/host", &mut taken), "host-2");
        assert_eq!(volume_name("/host/", &mut taken), "host-3");
    }
}

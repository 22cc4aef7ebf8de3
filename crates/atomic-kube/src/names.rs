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

#[cfg(test)]
mod tests {
    use super::*;

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

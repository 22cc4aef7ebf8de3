//! The container NAME: its default, and the rule it must follow.
//!
//! NAME is substituted into labels (`-v /var/lib/${NAME}:/var/lib`, `--name ${NAME}`), so a
//! name with `/`, `..`, spaces or a leading `-` could reach paths or options the author never
//! meant. We hold it to Podman's container-name rule before it is used anywhere.

use crate::error::LabelError;

/// The longest name accepted (a DNS name's length, as container engines allow).
pub const MAX_NAME_LEN: usize = 253;

/// NAME must match `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (Podman's container name rule) and be at most
/// 253 characters.
pub fn validate_name(name: &str) -> Result<(), LabelError> {
    let invalid = |problem| {
        Err(LabelError::InvalidName {
            name: name.to_string(),
            problem,
        })
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return invalid("it is empty"),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return invalid("it must start with a letter or digit");
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return invalid("it contains a character other than letters, digits, '_', '.' and '-'");
    }
    if name.len() > MAX_NAME_LEN {
        return invalid("it is too long");
    }
    Ok(())
}

/// The default NAME for an image reference: the last `/` component without its `@digest` and
/// `:tag`; with `spc`, `-spc` appended. `docker.io/fedora:26` → `fedora`,
/// `localhost:5000/a/b:1` → `b`, `fedora@sha256:abc` → `fedora` (the original gave
/// `fedora@sha256`, an invalid name).
pub fn default_name(image: &str, spc: bool) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let no_digest = last.split('@').next().unwrap_or(last);
    let base = no_digest.split(':').next().unwrap_or(no_digest);
    if spc {
        format!("{base}-spc")
    } else {
        base.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_name_follows_podmans_rule() {
        let long_ok = "a".repeat(253);
        let too_long = "a".repeat(254);
        let cases: &[(&str, bool)] = &[
            ("fedora", true),
            ("fedora-spc", true),
            ("TEST6", true),
            ("a", true),
            ("0abc", true),
            ("a_b.c-d", true),
            (&long_ok, true),
            (&too_long, false),
            ("", false),
            ("-rm", false),
            ("_x", false),
            (".hidden", false),
            ("a b", false),
            ("a/b", false),
            ("..", false),
            ("x;rm -rf /", false),
            ("$(id)", false),
            ("`id`", false),
            ("a\nb", false),
            ("a:b", false),
            ("a@b", false),
            ("é", false),
            ("x --privileged", false),
        ];
        for (name, ok) in cases {
            assert_eq!(validate_name(name).is_ok(), *ok, "validating {name:?}");
        }
    }

    #[test]
    fn invalid_name_message_shows_name_rule_and_remedy() {
        let msg = validate_name("a b\n").unwrap_err().to_string();
        assert!(msg.contains(r#""a b\n""#), "{msg}");
        assert!(msg.contains("[a-zA-Z0-9][a-zA-Z0-9_.-]*"), "{msg}");
        assert!(msg.contains("--name"), "{msg}");
    }

    #[test]
    fn default_name_is_last_component_without_tag_or_digest() {
        let cases: &[(&str, bool, &str)] = &[
            ("fedora", false, "fedora"),
            ("docker.io/fedora:26", false, "fedora"),
            ("docker.io/fedora:26", true, "fedora-spc"),
            ("localhost:5000/a/b:1", false, "b"),
            ("localhost:5000/a/b", false, "b"),
            ("fedora@sha256:abc", false, "fedora"),
            ("quay.io/x/y:tag@sha256:abc", false, "y"),
            ("centos", true, "centos-spc"),
            ("atomic-test-1", false, "atomic-test-1"),
        ];
        for (image, spc, want) in cases {
            assert_eq!(default_name(image, *spc), *want, "{image:?} spc={spc}");
        }
    }
}

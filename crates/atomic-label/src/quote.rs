//! Shell quoting, for showing an argv so a user can read it and paste it.
//!
//! atomic prints every command before running it (and `--display` prints only that). Since
//! the argv is data and never goes through a shell, the printed line must quote each element
//! so that a POSIX shell would read back exactly the same argv; [`crate::words::split`] does
//! the same, which the round-trip tests check.

use std::borrow::Cow;

/// Quote one argument so a POSIX shell reads it back as exactly this string: unchanged if it
/// is non-empty and only has characters from `[A-Za-z0-9_@%+=:,./-]`; otherwise single-quoted
/// with `'` written as `'\''`. Empty gives `''`.
pub fn quote(arg: &str) -> Cow<'_, str> {
    if !arg.is_empty() && arg.chars().all(is_safe) {
        return Cow::Borrowed(arg);
    }
    let mut s = String::with_capacity(arg.len() + 2);
    s.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            s.push_str(r"'\''");
        } else {
            s.push(c);
        }
    }
    s.push('\'');
    Cow::Owned(s)
}

/// The argv quoted with [`quote`] and joined by single spaces.
pub fn join(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        let cases: &[(&str, &str)] = &[
            ("docker", "docker"),
            ("--name=foo", "--name=foo"),
            ("/var/log/x:/var/log", "/var/log/x:/var/log"),
            ("a@b%c+d,e", "a@b%c+d,e"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", r"'it'\''s'"),
            ("'", r"''\'''"),
            ("$HOME", "'$HOME'"),
            ("; rm -rf /", "'; rm -rf /'"),
            ("$(id)", "'$(id)'"),
            ("`id`", "'`id`'"),
            ("a\nb", "'a\nb'"),
            ("~", "'~'"),
            ("*", "'*'"),
            ("#x", "'#x'"),
            ("é", "'é'"),
            ("a\\b", "'a\\b'"),
        ];
        for (arg, want) in cases {
            assert_eq!(quote(arg), *want, "quoting {arg:?}");
        }
    }

    #[test]
    fn quote_borrows_when_unchanged() {
        assert!(matches!(quote("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn join_quotes_each_element() {
        let argv: Vec<String> = ["docker", "run", "-e", "A=b c", "", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(join(&argv), "docker run -e 'A=b c' '' x");
        assert_eq!(join(&[]), "");
    }
}

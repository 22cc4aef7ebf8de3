//! A strict reader of GLib key files — a deployment's origin file, a repo's config — for
//! `atomic host status`'s own reading of a sysroot.
//!
//! Strict like the GVariant reader: anything GLib might read otherwise than we do (escape
//! sequences, spaces around a value, a key twice, a line GLib would refuse) is an error, and
//! the caller lets libostree read the file instead.

use anyhow::{Result, bail, ensure};

/// The entries of a key file, in file order.
#[derive(Debug, Default)]
pub(crate) struct KeyFile {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    group: String,
    key: String,
    value: String,
}

/// GLib's key names allow more; these are all libostree and rpm-ostree write. A `[locale]`
/// suffix makes another key, which GLib allows too.
fn plain_key(key: &str) -> bool {
    let (name, locale) = match key.split_once('[') {
        Some((name, rest)) => (name, rest.strip_suffix(']')),
        None => (key, Some("")),
    };
    let word = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    };
    !name.is_empty() && word(name) && locale.is_some_and(word)
}

fn plain_group(group: &str) -> bool {
    !group.is_empty()
        && !group
            .chars()
            .any(|c| c.is_control() || c == '[' || c == ']')
}

impl KeyFile {
    pub(crate) fn parse(text: &str) -> Result<KeyFile> {
        let mut file = KeyFile::default();
        let mut group: Option<String> = None;
        for (n, line) in text.split('\n').enumerate() {
            let n = n + 1;
            // GLib skips leading whitespace, then a line is a comment, a group or a key.
            let line = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let Some(name) = name.strip_suffix(']').filter(|g| plain_group(g)) else {
                    bail!("line {n}: not a plain [group] header");
                };
                group = Some(name.to_string());
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                bail!("line {n}: neither a group, a key nor a comment");
            };
            let Some(group) = &group else {
                bail!("line {n}: a key before the first group");
            };
            ensure!(plain_key(key), "line {n}: not a plain key name");
            file.entries.push(Entry {
                group: group.clone(),
                key: key.to_string(),
                value: value.to_string(),
            });
        }
        Ok(file)
    }

    /// The string value of `key` in `group`; an error for a value GLib would unescape or trim,
    /// or a key given twice.
    pub(crate) fn string(&self, group: &str, key: &str) -> Result<Option<&str>> {
        let mut values = self
            .entries
            .iter()
            .filter(|e| e.group == group && e.key == key)
            .map(|e| e.value.as_str());
        let Some(value) = values.next() else {
            return Ok(None);
        };
        ensure!(values.next().is_none(), "[{group}] {key} is given twice");
        ensure!(
            !value.contains('\\') && !value.chars().any(char::is_control) && value.trim() == value,
            "[{group}] {key} has escapes, control characters or surrounding spaces"
        );
        Ok(Some(value))
    }

    /// A boolean as GLib reads one (`true`/`1`, `false`/`0`); absent is `None`.
    pub(crate) fn boolean(&self, group: &str, key: &str) -> Result<Option<bool>> {
        Ok(match self.string(group, key)? {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(other) => bail!("[{group}] {key} is '{other}', not a boolean"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_origin_file() {
        let file = KeyFile::parse(
            "# written by ostree\n[origin]\nrefspec=testos/stable\nunlocked=hotfix\n\n\
             [libostree-transient]\npinned=true\n",
        )
        .unwrap();
        assert_eq!(
            file.string("origin", "refspec").unwrap(),
            Some("testos/stable")
        );
        assert_eq!(file.string("origin", "unlocked").unwrap(), Some("hotfix"));
        assert_eq!(file.string("origin", "baserefspec").unwrap(), None);
        assert_eq!(
            file.boolean("libostree-transient", "pinned").unwrap(),
            Some(true)
        );
        assert_eq!(file.boolean("origin", "pinned").unwrap(), None);
    }

    #[test]
    fn what_glib_might_read_otherwise_is_an_error() {
        for (what, text) in [
            ("unclosed group", "[origin\nrefspec=a\n"),
            ("key before a group", "refspec=a\n[origin]\n"),
            ("line without =", "[origin]\nrefspec\n"),
            ("space in the key", "[origin]\nrefspec =a\n"),
            ("text after the group", "[origin] x\nrefspec=a\n"),
        ] {
            assert!(KeyFile::parse(text).is_err(), "{what}");
        }
        for (what, text) in [
            ("escape", "[origin]\nrefspec=a\\sb\n"),
            ("leading space", "[origin]\nrefspec= a\n"),
            ("carriage return", "[origin]\nrefspec=a\r\n"),
            ("twice", "[origin]\nrefspec=a\n[origin]\nrefspec=b\n"),
        ] {
            let file = KeyFile::parse(text).unwrap();
            assert!(file.string("origin", "refspec").is_err(), "{what}");
        }
        let file = KeyFile::parse("[libostree-transient]\npinned=yes\n").unwrap();
        assert!(file.boolean("libostree-transient", "pinned").is_err());
    }

    #[test]
    fn locale_keys_and_other_groups_are_other_keys() {
        let file = KeyFile::parse("[origin]\nrefspec[fr]=x\n[other]\nrefspec=y\n").unwrap();
        assert_eq!(file.string("origin", "refspec").unwrap(), None);
    }
}

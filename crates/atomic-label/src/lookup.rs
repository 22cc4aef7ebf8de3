//! Finding a label under the spellings image authors use.
//!
//! Authors write `RUN`, `run` or `Run`. The original tool tried the exact key, then lower
//! case, then Capitalized, then UPPER case, in that order. Podman takes the first
//! case-insensitive match in Go's random map order, so an image with both `run` (from a base
//! image) and `RUN` runs either one; we keep the fixed order and let the caller warn with
//! [`case_variants`].

use std::collections::BTreeMap;

/// Find a label: exact key, then lower-case, then Capitalized (`Run`), then UPPER, in that
/// order. Returns the key that matched and its value.
pub fn find<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> Option<(&'a str, &'a str)> {
    let lower = key.to_lowercase();
    let capitalized = capitalize(key);
    let upper = key.to_uppercase();
    [key, lower.as_str(), capitalized.as_str(), upper.as_str()]
        .into_iter()
        .find_map(|k| labels.get_key_value(k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// All distinct keys present that equal `key` case-insensitively, in sorted order.
pub fn case_variants<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> Vec<&'a str> {
    let lower = key.to_lowercase();
    labels
        .keys()
        .filter(|k| k.to_lowercase() == lower)
        .map(String::as_str)
        .collect()
}

/// Python's `str.capitalize`: first character upper case, the rest lower case.
fn capitalize(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(keys: &[&str]) -> BTreeMap<String, String> {
        keys.iter()
            .map(|k| (k.to_string(), format!("value of {k}")))
            .collect()
    }

    #[test]
    fn find_tries_exact_lower_capitalized_upper() {
        let cases: &[(&[&str], &str, Option<&str>)] = &[
            (&["RUN"], "RUN", Some("RUN")),
            (&["run"], "RUN", Some("run")),
            (&["Run"], "RUN", Some("Run")),
            (&["RUN"], "run", Some("RUN")),
            (&["run", "RUN"], "RUN", Some("RUN")),
            (&["run", "RUN"], "Run", Some("run")),
            (&["Run", "RUN"], "run", Some("Run")),
            (&["run", "Run", "RUN"], "rUn", Some("run")),
            (&["rUN"], "RUN", None),
            (&["RUN_OPTS_FILE"], "RUN", None),
            (&[], "RUN", None),
            (&["Name", "name"], "Name", Some("Name")),
            (&["NAME"], "Name", Some("NAME")),
            (&["help"], "HELP", Some("help")),
        ];
        for (keys, key, want) in cases {
            let l = labels(keys);
            let got = find(&l, key);
            assert_eq!(got.map(|(k, _)| k), *want, "find {key:?} in {keys:?}");
            if let Some((k, v)) = got {
                assert_eq!(v, format!("value of {k}"));
            }
        }
    }

    #[test]
    fn case_variants_lists_every_spelling() {
        let cases: &[(&[&str], &str, &[&str])] = &[
            (&["RUN"], "RUN", &["RUN"]),
            (&["run", "RUN", "INSTALL"], "RUN", &["RUN", "run"]),
            (&["rUN", "Run"], "run", &["Run", "rUN"]),
            (&["INSTALL"], "RUN", &[]),
        ];
        for (keys, key, want) in cases {
            assert_eq!(case_variants(&labels(keys), key), *want, "{keys:?} {key:?}");
        }
    }

    #[test]
    fn capitalize_matches_python() {
        for (input, want) in [("run", "Run"), ("RUN", "Run"), ("rUN", "Run"), ("", "")] {
            assert_eq!(capitalize(input), want);
        }
    }
}

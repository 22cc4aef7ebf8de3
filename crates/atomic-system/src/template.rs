//! The template language of `/exports/*.template` files: Python's `string.Template`, which the
//! original used and image authors wrote for — `$NAME` or `${NAME}`, `$$` for a literal `$`.
//!
//! A name is `[_A-Za-z][_A-Za-z0-9]*`. A `$` followed by anything else is an error, as in
//! Python (`ValueError: Invalid placeholder`), rather than being copied through: a template
//! that says `$1` or `$(` almost certainly meant something atomic cannot give it.

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The original's wording, which its tests (and users' scripts) grep for.
    #[error("The template file '{file}' still contains an unreplaced value for: '{name}'")]
    Unreplaced { file: String, name: String },
    #[error(
        "The template file '{file}' has an invalid placeholder at line {line}, column {column}: \
         write '$$' for a literal '$'"
    )]
    Invalid {
        file: String,
        line: usize,
        column: usize,
    },
}

/// One piece of a parsed template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name_char(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Split `text` into literal text and variable references; `file` names it in errors.
fn parse<'a>(text: &'a str, file: &str) -> Result<Vec<Piece<'a>>, TemplateError> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        pieces.push(Piece::Text(&text[start..i]));
        let rest = &bytes[i + 1..];
        let name_len = |s: &[u8]| {
            if s.first().copied().is_some_and(is_name_start) {
                s.iter().take_while(|b| is_name_char(**b)).count()
            } else {
                0
            }
        };
        if rest.first() == Some(&b'$') {
            pieces.push(Piece::Text("$"));
            i += 2;
        } else if rest.first() == Some(&b'{') {
            let n = name_len(&rest[1..]);
            if n == 0 || rest.get(1 + n) != Some(&b'}') {
                return Err(invalid(text, i, file));
            }
            pieces.push(Piece::Var(&text[i + 2..i + 2 + n]));
            i += 3 + n;
        } else {
            let n = name_len(rest);
            if n == 0 {
                return Err(invalid(text, i, file));
            }
            pieces.push(Piece::Var(&text[i + 1..i + 1 + n]));
            i += 1 + n;
        }
        start = i;
    }
    pieces.push(Piece::Text(&text[start..]));
    Ok(pieces)
}

fn invalid(text: &str, at: usize, file: &str) -> TemplateError {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    TemplateError::Invalid {
        file: file.to_string(),
        line,
        column,
    }
}

/// `text` with every variable replaced by `value(name)`; a name with no value is an error
/// (the first one, in order), as in the original.
pub fn substitute(
    text: &str,
    file: &str,
    value: impl Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    for piece in parse(text, file)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => match value(name) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(TemplateError::Unreplaced {
                        file: file.to_string(),
                        name: name.to_string(),
                    });
                }
            },
        }
    }
    Ok(out)
}

/// The variables `text` refers to (for `images info` and for knowing whether a unit template
/// uses `$PIDFILE`).
pub fn variables(text: &str, file: &str) -> Result<BTreeSet<String>, TemplateError> {
    Ok(parse(text, file)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(name) => Some(name.to_string()),
            Piece::Text(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(text: &str) -> Result<String, TemplateError> {
        substitute(text, "t", |name| match name {
            "NAME" => Some("etcd".into()),
            "A_1" => Some("x".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        })
    }

    #[test]
    fn substitutes_like_python_string_template() {
        let table = [
            ("plain", "plain"),
            ("$NAME", "etcd"),
            ("${NAME}", "etcd"),
            ("${NAME}d", "etcdd"),
            ("$NAME-1", "etcd-1"),
            ("$A_1.", "x."),
            ("$$NAME", "$NAME"),
            ("$$$NAME", "$etcd"),
            ("a$EMPTY-b", "a-b"),
            ("100%", "100%"),
            ("héllo $NAME ü", "héllo etcd ü"),
        ];
        for (input, want) in table {
            assert_eq!(sub(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn an_unknown_variable_is_the_originals_error() {
        let err = sub("ExecStart=$NAME $MISSING").unwrap_err();
        assert_eq!(
            err.to_string(),
            "The template file 't' still contains an unreplaced value for: 'MISSING'"
        );
    }

    #[test]
    fn an_invalid_placeholder_says_where() {
        for (input, line, column) in [
            ("$", 1, 1),
            ("a\nb $1", 2, 3),
            ("${NAME", 1, 1),
            ("${}", 1, 1),
            ("${1A}", 1, 1),
            ("x $ y", 1, 3),
        ] {
            assert_eq!(
                sub(input).unwrap_err(),
                TemplateError::Invalid {
                    file: "t".into(),
                    line,
                    column
                },
                "{input}"
            );
        }
    }

    #[test]
    fn lists_variables() {
        let vars = variables("$A ${B} $$C $A", "t").unwrap();
        assert_eq!(vars.into_iter().collect::<Vec<_>>(), ["A", "B"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_escapes_round_trip(s in ".*") {
            let _ = sub(&s);
            // Doubling every `$` makes any text a template that renders to itself.
            let escaped = s.replace('$', "$$");
            proptest::prop_assert_eq!(sub(&escaped).unwrap(), s);
        }
    }
}

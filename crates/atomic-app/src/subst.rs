//! `$name` and `${name}` in artifacts, as Atomic App substituted them (Python's
//! `string.Template.safe_substitute`): a name is `[_A-Za-z][_A-Za-z0-9]*`, `$$` is a `$`, an
//! unknown name or a lone `$` stays as written.

/// One substitution made: which name, and the text it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub name: String,
    pub value: String,
}

/// Substitute `text` with `lookup`; returns the text and every substitution made, in order.
pub fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Vec<Use>) {
    let mut out = String::with_capacity(text.len());
    let mut uses = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (name, consumed) = match after.strip_prefix('{') {
            Some(inner) => match inner.find('}') {
                Some(end) if is_name(&inner[..end]) => (&inner[..end], end + 2),
                _ => ("", 0),
            },
            None => {
                let len = name_len(after);
                (&after[..len], len)
            }
        };
        let found = if consumed > 0 { lookup(name) } else { None };
        match found {
            Some(value) => {
                out.push_str(&value);
                uses.push(Use {
                    name: name.to_string(),
                    value,
                });
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, uses)
}

/// The names `text` refers to (known or not), in order, each once.
pub fn names(text: &str) -> Vec<String> {
    let seen = std::cell::RefCell::new(Vec::<String>::new());
    let lookup = |name: &str| {
        let mut seen = seen.borrow_mut();
        if !seen.iter().any(|n| n == name) {
            seen.push(name.to_string());
        }
        Some(String::new())
    };
    substitute(text, &lookup);
    seen.into_inner()
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && name_len(s) == s.len()
}

/// The length of the name at the start of `s` (0: none).
fn name_len(s: &str) -> usize {
    let mut len = 0;
    for (i, c) in s.char_indices() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(text: &str) -> String {
        let lookup = |name: &str| match name {
            "image" => Some("centos/httpd".to_string()),
            "port" => Some("80".to_string()),
            "empty" => Some(String::new()),
            _ => None,
        };
        substitute(text, &lookup).0
    }

    #[test]
    fn substitutes_like_safe_substitute() {
        let table = [
            ("docker run $image", "docker run centos/httpd"),
            ("-p ${port}:80", "-p 80:80"),
            ("$port$port", "8080"),
            ("$$image", "$image"),
            ("$$$image", "$centos/httpd"),
            ("$unknown and ${unknown}", "$unknown and ${unknown}"),
            ("cost: 5$ or $", "cost: 5$ or $"),
            ("${image", "${image"),
            ("${ image }", "${ image }"),
            ("$1abc", "$1abc"),
            ("x${empty}y", "xy"),
            ("$image_tag", "$image_tag"),
            ("$image-tag", "centos/httpd-tag"),
            ("ünï $image ü", "ünï centos/httpd ü"),
        ];
        for (text, want) in table {
            assert_eq!(sub(text), want, "{text}");
        }
    }

    #[test]
    fn values_are_never_substituted_again() {
        let lookup = |name: &str| (name == "a").then(|| "$b ${b} $$".to_string());
        assert_eq!(substitute("$a", &lookup).0, "$b ${b} $$");
    }

    #[test]
    fn names_lists_each_reference_once() {
        assert_eq!(names("$a ${b} $a $$c $"), ["a", "b"]);
    }
}

//! From label text to the argv atomic runs: parse once, substitute per word, never re-split.
//!
//! The original tool split the label on whitespace, joined it, substituted variables into the
//! string, deleted every `$…` it did not know (eating `${FOO:-bar}"` with its closing quote),
//! collapsed whitespace inside quotes and split again; a NAME, IMAGE or argument with spaces
//! or quotes came out as several arguments. Podman's runlabel splits twice too. Here:
//!
//! 1. [`parse`] reads the label once into words ([`crate::words`]), or takes a JSON array of
//!    strings as the exact argv.
//! 2. [`build`] substitutes each word on its own. A substituted value is one element,
//!    whatever it contains, and is never expanded again. The exceptions are deliberate and
//!    documented: `$OPT1`-`$OPT3` and `$RUN_OPTS` standing alone are option lists and are
//!    split (their value only, with shell rules, no expansion); an unquoted variable standing
//!    alone that is empty vanishes, as it did in the original.
//! 3. The user's extra arguments are appended verbatim.

use crate::error::LabelError;
use crate::name::validate_name;
use crate::words::{Fallback, Lexer, Mode, Op, Part, Var, Word, is_split_var, split_in};

/// A parsed label, ready to be built into an argv with [`build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    words: Vec<Word>,
    exec_form: bool,
}

impl Template {
    /// Whether the label was written as a JSON array (exact argv).
    pub fn is_exec_form(&self) -> bool {
        self.exec_form
    }

    /// The program (first word) when it contains no variable, e.g. `docker` or
    /// `/usr/bin/docker`.
    pub fn program(&self) -> Option<String> {
        self.words.first().and_then(Word::literal)
    }

    /// The number of words in the label, before substitution.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Always false: [`parse`] refuses an empty label.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// The values a label can refer to.
pub struct Vars<'a> {
    pub name: &'a str,
    pub image: &'a str,
    /// OPT1..OPT3.
    pub opts: [Option<&'a str>; 3],
    /// The contents of the file named by RUN_OPTS_FILE.
    pub run_opts: Option<&'a str>,
    /// Every other variable: PWD, SUDO_UID, SUDO_GID and the caller's environment. None =
    /// unset.
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    fn get(&self, var: &str) -> Option<String> {
        match var {
            "NAME" => Some(self.name.to_string()),
            "IMAGE" => Some(self.image.to_string()),
            "OPT1" => self.opts[0].map(str::to_string),
            "OPT2" => self.opts[1].map(str::to_string),
            "OPT3" => self.opts[2].map(str::to_string),
            "RUN_OPTS" => self.run_opts.map(str::to_string),
            other => (self.lookup)(other),
        }
    }
}

/// Parse a label value into a template.
///
/// If the trimmed text starts with `[` and is a JSON array of strings, each element is one
/// exact word (no quote processing; `$VAR`, `NAME` and `IMAGE` are substituted as in an
/// unquoted word). Otherwise the text is split once with POSIX shell rules
/// ([`crate::words`]).
pub fn parse(text: &str) -> Result<Template, LabelError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(LabelError::Empty);
    }
    if trimmed.starts_with('[')
        && let Some(elements) = json_argv(trimmed)?
    {
        if elements.is_empty() {
            return Err(LabelError::Empty);
        }
        let mut words = Vec::with_capacity(elements.len());
        for (n, element) in elements.iter().enumerate() {
            let chars: Vec<char> = element.chars().collect();
            let origin = format!("element {} of the label's JSON array", n + 1);
            let lexer = Lexer {
                chars: &chars,
                origin: &origin,
            };
            words.extend(lexer.lex(0, chars.len(), Mode::JSON_ELEMENT)?);
        }
        return Ok(Template {
            words,
            exec_form: true,
        });
    }
    let chars: Vec<char> = text.chars().collect();
    let lexer = Lexer {
        chars: &chars,
        origin: "label text",
    };
    let words = lexer.lex(0, chars.len(), Mode::LABEL)?;
    if words.is_empty() {
        return Err(LabelError::Empty);
    }
    Ok(Template {
        words,
        exec_form: false,
    })
}

/// The elements of a JSON array of strings; `None` when the text does not look like JSON at
/// all (a command line may start with `[`, the test program); an error when it looks like
/// JSON but is not an array of strings.
fn json_argv(text: &str) -> Result<Option<Vec<String>>, LabelError> {
    let looks_like_json = {
        let after = text[1..].trim_start();
        after.starts_with('"') || after.starts_with(']')
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (n, item) in items.into_iter().enumerate() {
                match item {
                    serde_json::Value::String(s) => out.push(s),
                    other => {
                        return Err(LabelError::NotArgv {
                            detail: format!("element {} is {other}, not a string", n + 1),
                        });
                    }
                }
            }
            Ok(Some(out))
        }
        Ok(other) => Err(LabelError::NotArgv {
            detail: format!("it is {other}"),
        }),
        Err(e) if looks_like_json => Err(LabelError::NotArgv {
            detail: e.to_string(),
        }),
        Err(_) => Ok(None),
    }
}

/// Build the final argv: the template's words substituted, then `extra` appended verbatim as
/// separate elements (never substituted, never split).
///
/// Fails if `vars.name` is not a valid name ([`validate_name`]), if a `$OPTn`/`$RUN_OPTS`
/// value has unbalanced quotes, or if the label's words all expand to nothing.
pub fn build(t: &Template, vars: &Vars, extra: &[String]) -> Result<Vec<String>, LabelError> {
    validate_name(vars.name)?;
    let mut argv = Vec::with_capacity(t.words.len() + extra.len());
    for word in &t.words {
        build_word(word, vars, &mut argv)?;
    }
    if argv.is_empty() {
        return Err(LabelError::NothingToRun);
    }
    argv.extend(extra.iter().cloned());
    Ok(argv)
}

/// Substitute the variables of one string (the RUN_OPTS_FILE label's value, a path): `$VAR`,
/// `${VAR}`, `${VAR:-default}`, `${VAR-default}`; no quote processing, no splitting.
pub fn expand_one(text: &str, vars: &Vars) -> Result<String, LabelError> {
    validate_name(vars.name)?;
    let chars: Vec<char> = text.chars().collect();
    let lexer = Lexer {
        chars: &chars,
        origin: "label value",
    };
    let word = lexer
        .lex(0, chars.len(), Mode::ONE_STRING)?
        .pop()
        .unwrap_or_default();
    expand_string(&word, vars)
}

/// The value a reference resolves to: the variable's own value, or its default.
enum Resolved<'w> {
    Value(String),
    Fallback(&'w Fallback),
}

fn resolve<'w>(var: &'w Var, vars: &Vars) -> Resolved<'w> {
    let value = vars.get(&var.name);
    match &var.op {
        Op::Plain => Resolved::Value(value.unwrap_or_default()),
        Op::Default { if_empty, fallback } => match value {
            Some(v) if !(*if_empty && v.is_empty()) => Resolved::Value(v),
            _ => Resolved::Fallback(fallback),
        },
    }
}

/// The whole-word forms: `NAME`, `IMAGE`, `NAME=NAME`, `IMAGE=IMAGE`, `<prefix>=NAME`,
/// `<prefix>=IMAGE` (as Podman does). `NAMEFOO`, `FNAME` and `This is my NAME` stay.
fn whole_word(text: &str, vars: &Vars) -> Option<String> {
    match text {
        "NAME" => return Some(vars.name.to_string()),
        "IMAGE" => return Some(vars.image.to_string()),
        _ => {}
    }
    replace_suffix(text, vars)
}

fn replace_suffix(text: &str, vars: &Vars) -> Option<String> {
    if let Some(prefix) = text.strip_suffix("=NAME") {
        Some(format!("{prefix}={}", vars.name))
    } else {
        text.strip_suffix("=IMAGE")
            .map(|prefix| format!("{prefix}={}", vars.image))
    }
}

/// Substitute one word of the label into zero or more argv elements.
fn build_word(word: &Word, vars: &Vars, out: &mut Vec<String>) -> Result<(), LabelError> {
    if let Some(text) = word.literal() {
        out.push(whole_word(&text, vars).unwrap_or(text));
        return Ok(());
    }
    if let Some(var) = word.bare_var() {
        match resolve(var, vars) {
            Resolved::Value(value) if is_split_var(&var.name) => {
                let origin = format!("the value of {}", var.name);
                out.extend(split_in(&value, &origin)?);
            }
            Resolved::Value(value) => {
                if !value.is_empty() {
                    out.push(value);
                }
            }
            Resolved::Fallback(Fallback::Words(words)) => {
                for w in words {
                    build_word(w, vars, out)?;
                }
            }
            Resolved::Fallback(fallback) => {
                let value = expand_fallback(fallback, vars)?;
                if !value.is_empty() {
                    out.push(value);
                }
            }
        }
        return Ok(());
    }
    // A word mixing text and variables is exactly one element. Podman's `--name=NAME` form
    // still applies to its literal tail.
    let mut s = String::new();
    let last = word.parts.len() - 1;
    for (n, part) in word.parts.iter().enumerate() {
        match part {
            Part::Lit(text) if n == last => match replace_suffix(text, vars) {
                Some(replaced) => s.push_str(&replaced),
                None => s.push_str(text),
            },
            Part::Lit(text) => s.push_str(text),
            Part::Var(var) => s.push_str(&expand_var(var, vars)?),
        }
    }
    out.push(s);
    Ok(())
}

/// A word as one string: literal text plus values, nothing split or re-expanded.
fn expand_string(word: &Word, vars: &Vars) -> Result<String, LabelError> {
    let mut s = String::new();
    for part in &word.parts {
        match part {
            Part::Lit(text) => s.push_str(text),
            Part::Var(var) => s.push_str(&expand_var(var, vars)?),
        }
    }
    Ok(s)
}

fn expand_var(var: &Var, vars: &Vars) -> Result<String, LabelError> {
    match resolve(var, vars) {
        Resolved::Value(v) => Ok(v),
        Resolved::Fallback(fallback) => expand_fallback(fallback, vars),
    }
}

fn expand_fallback(fallback: &Fallback, vars: &Vars) -> Result<String, LabelError> {
    match fallback {
        Fallback::One(word) => expand_string(word, vars),
        Fallback::Words(words) => {
            let mut out = Vec::new();
            for w in words {
                build_word(w, vars, &mut out)?;
            }
            Ok(out.join(" "))
        }
        Fallback::Pending(..) => Ok(String::new()),
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;

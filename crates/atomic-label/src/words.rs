//! POSIX shell-word splitting, done once, without a shell.
//!
//! Labels are written like shell command lines, but atomic never hands them to a shell: that
//! is what keeps a label, a name or an argument from injecting a command. This module reads
//! the quoting a shell would (single quotes, double quotes, backslashes, line continuations)
//! and, for labels, records where `$VAR` references are and whether they were quoted, so that
//! [`crate::command`] can substitute each word on its own and never split a value again.
//!
//! Rules: blanks (space, tab, newline, and carriage return so CRLF files work) separate words;
//! `'…'` is literal; inside `"…"` a backslash escapes only `\ " $ ` and newline; outside quotes
//! a backslash escapes any character; backslash-newline is a line continuation; `#` is an
//! ordinary character (no comments).

use crate::error::{LabelError, Position};

/// Split `text` into words with POSIX shell rules. `$` is an ordinary character: nothing is
/// expanded. This is how the value of `$RUN_OPTS` or `$OPT1` is split.
///
/// ```
/// let words = atomic_label::split(r#"--hostname foo -e "A=b c""#).unwrap();
/// assert_eq!(words, ["--hostname", "foo", "-e", "A=b c"]);
/// ```
pub fn split(text: &str) -> Result<Vec<String>, LabelError> {
    split_in(text, "the text")
}

/// [`split`], naming the text in error messages (`origin`, e.g. "the value of RUN_OPTS").
pub fn split_in(text: &str, origin: &str) -> Result<Vec<String>, LabelError> {
    let chars: Vec<char> = text.chars().collect();
    let lexer = Lexer {
        chars: &chars,
        origin,
    };
    let words = lexer.lex(0, chars.len(), Mode::VALUE)?;
    Ok(words
        .into_iter()
        .map(|w| {
            w.parts
                .into_iter()
                .map(|p| match p {
                    Part::Lit(s) => s,
                    // Mode::VALUE does not expand, so there are no variables.
                    Part::Var(_) => String::new(),
                })
                .collect()
        })
        .collect())
}

/// How to read a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mode {
    /// Process quotes and backslashes (false for JSON array elements: they are exact).
    pub quotes: bool,
    /// Recognise `$VAR` and `${…}`.
    pub expand: bool,
    /// Blanks separate words (false: the whole text is one word).
    pub split: bool,
    /// Each word is a whole argv element (so `$OPT1` alone may split, an empty `$X` vanish).
    pub word_ctx: bool,
    /// The text sits inside double quotes (a `${X:-…}` default written in `"…"`).
    pub in_dquote: bool,
}

impl Mode {
    /// A label written as a command line.
    pub const LABEL: Mode = Mode {
        quotes: true,
        expand: true,
        split: true,
        word_ctx: true,
        in_dquote: false,
    };
    /// One element of a label written as a JSON array: exact text, only `$` is special.
    pub const JSON_ELEMENT: Mode = Mode {
        quotes: false,
        expand: true,
        split: false,
        word_ctx: true,
        in_dquote: false,
    };
    /// A value to split (RUN_OPTS, OPTn): quotes yes, expansion no.
    pub const VALUE: Mode = Mode {
        quotes: true,
        expand: false,
        split: true,
        word_ctx: false,
        in_dquote: false,
    };
    /// One string with `$` references and nothing else (RUN_OPTS_FILE's value).
    pub const ONE_STRING: Mode = Mode {
        quotes: false,
        expand: true,
        split: false,
        word_ctx: false,
        in_dquote: false,
    };
}

/// One word of a label: literal text and variable references, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Word {
    pub parts: Vec<Part>,
    /// Whether any quote or backslash appeared in the word (`''` is an empty word, and
    /// `""$X` is not a bare variable).
    pub quoted: bool,
}

impl Word {
    /// The text of a word without variables.
    pub fn literal(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(t) => s.push_str(t),
                Part::Var(_) => return None,
            }
        }
        Some(s)
    }

    /// The variable, if the word is exactly one unquoted `$VAR`/`${VAR…}`.
    pub fn bare_var(&self) -> Option<&Var> {
        match self.parts.as_slice() {
            [Part::Var(v)] if !self.quoted && !v.quoted => Some(v),
            _ => None,
        }
    }

    fn push_char(&mut self, c: char) {
        if let Some(Part::Lit(s)) = self.parts.last_mut() {
            s.push(c);
        } else {
            self.parts.push(Part::Lit(c.to_string()));
        }
    }

    fn push_str(&mut self, t: &str) {
        for c in t.chars() {
            self.push_char(c);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Lit(String),
    Var(Var),
}

/// A `$VAR` or `${VAR…}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    pub name: String,
    pub op: Op,
    /// Written inside double quotes.
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// `$VAR`, `${VAR}`.
    Plain,
    /// `${VAR:-default}` (`if_empty`) or `${VAR-default}`.
    Default { if_empty: bool, fallback: Fallback },
}

/// The default of a `${VAR:-default}`, read according to where the reference stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// Not read yet: the char range of the default text (only while lexing).
    Pending(usize, usize),
    /// `${OPT1:-a b}` alone as a word: the default is split like the label.
    Words(Vec<Word>),
    /// Anywhere else: one string.
    One(Box<Word>),
}

/// The variables whose value is split into several words when they stand alone.
pub(crate) fn is_split_var(name: &str) -> bool {
    matches!(name, "OPT1" | "OPT2" | "OPT3" | "RUN_OPTS")
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads a text (held as chars, so positions are exact) into words.
pub(crate) struct Lexer<'a> {
    pub chars: &'a [char],
    /// What the text is, for error messages: "label text", "the value of RUN_OPTS".
    pub origin: &'a str,
}

/// A word being read, and whether anything (even `''`) has started it.
#[derive(Default)]
struct Building {
    word: Word,
    started: bool,
}

impl Lexer<'_> {
    fn at(&self, index: usize) -> Position {
        Position::of(self.chars, index)
    }

    fn unterminated(&self, kind: &'static str, index: usize) -> LabelError {
        LabelError::UnterminatedQuote {
            kind,
            origin: self.origin.to_string(),
            at: self.at(index),
        }
    }

    /// Read `chars[start..end]` into words. Without `mode.split` the result is exactly one
    /// word (possibly empty).
    pub fn lex(&self, start: usize, end: usize, mode: Mode) -> Result<Vec<Word>, LabelError> {
        let mut words = Vec::new();
        let mut b = Building::default();
        let mut i = start;
        while i < end {
            let c = self.chars[i];
            if mode.split && is_blank(c) {
                if b.started {
                    words.push(self.finish(std::mem::take(&mut b).word, mode)?);
                }
                i += 1;
                continue;
            }
            if mode.quotes {
                match c {
                    '\'' if !mode.in_dquote => {
                        i = self.single(i, end, &mut b)?;
                        continue;
                    }
                    '"' => {
                        i = self.double(i, end, &mut b, mode)?;
                        continue;
                    }
                    '\\' => {
                        i = self.backslash(i, end, &mut b, mode.in_dquote)?;
                        continue;
                    }
                    _ => {}
                }
            }
            if c == '$' && mode.expand {
                let (var, next) = self.dollar(i, end, mode.in_dquote, mode)?;
                if let Some(var) = var {
                    b.word.parts.push(Part::Var(var));
                    b.started = true;
                    i = next;
                    continue;
                }
            }
            b.word.push_char(c);
            b.started = true;
            i += 1;
        }
        if b.started || !mode.split {
            words.push(self.finish(b.word, mode)?);
        }
        Ok(words)
    }

    /// `'…'` starting at `i`: everything up to the next `'` is literal.
    fn single(&self, i: usize, end: usize, b: &mut Building) -> Result<usize, LabelError> {
        let close = (i + 1..end)
            .find(|&j| self.chars[j] == '\'')
            .ok_or_else(|| self.unterminated("single", i))?;
        let text: String = self.chars[i + 1..close].iter().collect();
        b.word.push_str(&text);
        b.word.quoted = true;
        b.started = true;
        Ok(close + 1)
    }

    /// `"…"` starting at `i`.
    fn double(
        &self,
        i: usize,
        end: usize,
        b: &mut Building,
        mode: Mode,
    ) -> Result<usize, LabelError> {
        b.word.quoted = true;
        b.started = true;
        let mut j = i + 1;
        loop {
            if j >= end {
                return Err(self.unterminated("double", i));
            }
            match self.chars[j] {
                '"' => return Ok(j + 1),
                '\\' => {
                    let Some(&n) = self.chars[..end].get(j + 1) else {
                        return Err(self.unterminated("double", i));
                    };
                    match n {
                        '\n' => j += 2,
                        '\\' | '"' | '$' | '`' => {
                            b.word.push_char(n);
                            j += 2;
                        }
                        _ => {
                            b.word.push_char('\\');
                            j += 1;
                        }
                    }
                }
                '$' if mode.expand => {
                    let (var, next) = self.dollar(j, end, true, mode)?;
                    match var {
                        Some(var) => b.word.parts.push(Part::Var(var)),
                        None => b.word.push_char('$'),
                    }
                    j = next;
                }
                c => {
                    b.word.push_char(c);
                    j += 1;
                }
            }
        }
    }

    /// A backslash at `i` outside single quotes.
    fn backslash(
        &self,
        i: usize,
        end: usize,
        b: &mut Building,
        in_dquote: bool,
    ) -> Result<usize, LabelError> {
        let Some(&n) = self.chars[..end].get(i + 1) else {
            return Err(LabelError::TrailingBackslash {
                origin: self.origin.to_string(),
                at: self.at(i),
            });
        };
        if n == '\n' {
            // Line continuation: both characters vanish and the word goes on.
            return Ok(i + 2);
        }
        b.started = true;
        if in_dquote && !matches!(n, '\\' | '"' | '$' | '`') {
            b.word.push_char('\\');
            return Ok(i + 1);
        }
        b.word.push_char(n);
        b.word.quoted = true;
        Ok(i + 2)
    }

    /// A `$` at `i`: a variable reference and the index after it, or `None` (and `i + 1`)
    /// when the `$` is literal.
    fn dollar(
        &self,
        i: usize,
        end: usize,
        quoted: bool,
        mode: Mode,
    ) -> Result<(Option<Var>, usize), LabelError> {
        let chars = &self.chars[..end];
        match chars.get(i + 1) {
            Some(&c) if is_name_start(c) => {
                let stop = (i + 1..end)
                    .find(|&j| !is_name_char(chars[j]))
                    .unwrap_or(end);
                let name = chars[i + 1..stop].iter().collect();
                let var = Var {
                    name,
                    op: Op::Plain,
                    quoted,
                };
                Ok((Some(var), stop))
            }
            Some('{') => self.braced(i, end, quoted, mode).map(|(v, n)| (Some(v), n)),
            _ => Ok((None, i + 1)),
        }
    }

    /// `${…}` starting at `i` (the `$`).
    fn braced(
        &self,
        i: usize,
        end: usize,
        quoted: bool,
        mode: Mode,
    ) -> Result<(Var, usize), LabelError> {
        let chars = &self.chars[..end];
        let unterminated = || LabelError::UnterminatedBrace {
            origin: self.origin.to_string(),
            at: self.at(i),
        };
        let bad = |reason: &'static str| match self.find_close(i + 2, end, mode, quoted) {
            Some(close) => LabelError::BadReference {
                text: chars[i..=close].iter().collect(),
                reason,
                origin: self.origin.to_string(),
                at: self.at(i),
            },
            None => unterminated(),
        };
        let name_end = (i + 2..end)
            .find(|&j| !is_name_char(chars[j]))
            .ok_or_else(unterminated)?;
        let name: String = chars[i + 2..name_end].iter().collect();
        if name.is_empty() {
            return Err(bad(
                "the variable name is missing or starts with a bad character",
            ));
        }
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad("a variable name cannot start with a digit"));
        }
        let (if_empty, default_start) = match (chars[name_end], chars.get(name_end + 1)) {
            ('}', _) => {
                let var = Var {
                    name,
                    op: Op::Plain,
                    quoted,
                };
                return Ok((var, name_end + 1));
            }
            (':', Some('-')) => (true, name_end + 2),
            ('-', _) => (false, name_end + 1),
            _ => {
                return Err(bad(
                    "only the forms ${VAR}, ${VAR:-default} and ${VAR-default} are supported",
                ));
            }
        };
        let close = self
            .find_close(default_start, end, mode, quoted)
            .ok_or_else(unterminated)?;
        let op = Op::Default {
            if_empty,
            fallback: Fallback::Pending(default_start, close),
        };
        Ok((Var { name, op, quoted }, close + 1))
    }

    /// The `}` that closes a `${` whose content starts at `k`, skipping quoted text and
    /// nested `${…}`.
    fn find_close(&self, mut k: usize, end: usize, mode: Mode, quoted: bool) -> Option<usize> {
        let chars = &self.chars[..end];
        let mut depth = 0usize;
        while k < end {
            match chars[k] {
                '\\' if mode.quotes => k += 1,
                '\'' if mode.quotes && !quoted && !mode.in_dquote => {
                    k = (k + 1..end).find(|&j| chars[j] == '\'')?;
                }
                '"' if mode.quotes => {
                    let mut j = k + 1;
                    while chars.get(j)? != &'"' {
                        j += if chars[j] == '\\' { 2 } else { 1 };
                    }
                    k = j;
                }
                '$' if chars.get(k + 1) == Some(&'{') => {
                    depth += 1;
                    k += 1;
                }
                '}' if depth == 0 => return Some(k),
                '}' => depth -= 1,
                _ => {}
            }
            k += 1;
        }
        None
    }

    /// Complete a word: read the defaults of its `${VAR:-default}` references, now that it
    /// is known whether the reference stands alone.
    fn finish(&self, mut word: Word, mode: Mode) -> Result<Word, LabelError> {
        let alone = mode.word_ctx
            && word
                .bare_var()
                .is_some_and(|v| matches!(v.op, Op::Default { .. }));
        for part in &mut word.parts {
            let Part::Var(var) = part else { continue };
            let Op::Default { fallback, .. } = &mut var.op else {
                continue;
            };
            let Fallback::Pending(start, end) = *fallback else {
                continue;
            };
            *fallback = if alone && is_split_var(&var.name) {
                let sub = Mode {
                    split: true,
                    word_ctx: true,
                    in_dquote: false,
                    ..mode
                };
                Fallback::Words(self.lex(start, end, sub)?)
            } else {
                let sub = Mode {
                    split: false,
                    word_ctx: false,
                    in_dquote: var.quoted || mode.in_dquote,
                    ..mode
                };
                let one = self.lex(start, end, sub)?.pop().unwrap_or_default();
                Fallback::One(Box::new(one))
            };
        }
        Ok(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_like_a_posix_shell() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   \t\n ", &[]),
            ("a b  c", &["a", "b", "c"]),
            ("  lead trail  ", &["lead", "trail"]),
            ("'a b' c", &["a b", "c"]),
            (r#""a b" c"#, &["a b", "c"]),
            ("''", &[""]),
            (r#""""#, &[""]),
            ("a''b", &["ab"]),
            (r#"'it'\''s'"#, &["it's"]),
            (r#""a\"b""#, &[r#"a"b"#]),
            (r#""a\nb""#, &[r"a\nb"]),
            (r#""a\\b""#, &[r"a\b"]),
            (r#""\$x""#, &["$x"]),
            (r"a\ b", &["a b"]),
            (r"\'", &["'"]),
            ("a\\\nb", &["ab"]),
            ("a \\\n b", &["a", "b"]),
            ("'a\\b'", &[r"a\b"]),
            ("# not a comment", &["#", "not", "a", "comment"]),
            ("$HOME ${X}", &["$HOME", "${X}"]),
            ("a\r\nb", &["a", "b"]),
            ("\"multi\nline\"", &["multi\nline"]),
            (
                r#"--hostname foo -e "A=b c""#,
                &["--hostname", "foo", "-e", "A=b c"],
            ),
            ("héllo 'wörld'", &["héllo", "wörld"]),
        ];
        for (text, want) in cases {
            assert_eq!(split(text).unwrap(), s(want), "splitting {text:?}");
        }
    }

    #[test]
    fn split_errors_name_the_problem_and_place() {
        let cases: &[(&str, &str)] = &[
            (
                "abc 'def",
                "unterminated single quote in the text starting at column 5",
            ),
            (
                "echo \"abc",
                "unterminated double quote in the text starting at column 6",
            ),
            (
                "echo \"abc\\",
                "unterminated double quote in the text starting at column 6",
            ),
            ("abc\\", "trailing backslash in the text at column 4"),
            (
                "a\nb 'c",
                "unterminated single quote in the text starting at line 2, column 3",
            ),
        ];
        for (text, want) in cases {
            let err = split(text).unwrap_err().to_string();
            assert!(
                err.starts_with(want),
                "{text:?}: got {err:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn split_in_names_the_origin() {
        let err = split_in("-e \"x", "the value of RUN_OPTS").unwrap_err();
        assert!(
            err.to_string().contains("in the value of RUN_OPTS"),
            "{err}"
        );
    }
}

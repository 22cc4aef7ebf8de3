//! The one error type of the crate.
//!
//! Every message says what failed, on what text and where, and what to do about it: the
//! binary shows these to the user with only a line of context ("label RUN of image 'x' is
//! malformed") above them.

use std::fmt;

/// A place in a text: 1-based line and column, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of the character at `index` (0-based, in chars) of `chars`.
    pub(crate) fn of(chars: &[char], index: usize) -> Position {
        let before = &chars[..index.min(chars.len())];
        let line = 1 + before.iter().filter(|&&c| c == '\n').count();
        let column = 1 + before.iter().rev().take_while(|&&c| c != '\n').count();
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 1 {
            write!(f, "column {}", self.column)
        } else {
            write!(f, "line {}, column {}", self.line, self.column)
        }
    }
}

/// Everything that can go wrong while reading a label or building its command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// The label holds nothing but whitespace (or an empty JSON array).
    #[error(
        "label is empty: it holds no command to run; the image author must put a command in it"
    )]
    Empty,

    /// The words of the label all expanded to nothing.
    #[error(
        "label produced no command after substitution: every word was an unset or empty \
         variable; set the variables it uses (e.g. with --opt1) or fix the label"
    )]
    NothingToRun,

    /// A `'` or `"` without its closing partner.
    #[error(
        "unterminated {kind} quote in {origin} starting at {at}; add the closing {mark} or \
         escape the quote with a backslash",
        mark = if *kind == "single" { "'" } else { "\"" }
    )]
    UnterminatedQuote {
        kind: &'static str,
        origin: String,
        at: Position,
    },

    /// A backslash at the very end of the text, with nothing to escape.
    #[error(
        "trailing backslash in {origin} at {at}: there is nothing after it to escape; remove \
         it, or write \\\\ for a literal backslash"
    )]
    TrailingBackslash { origin: String, at: Position },

    /// `${` without its closing `}`.
    #[error("unterminated \"${{\" in {origin} starting at {at}; add the closing \"}}\"")]
    UnterminatedBrace { origin: String, at: Position },

    /// `${…}` whose content is not a supported reference.
    #[error(
        "invalid variable reference {text:?} in {origin} at {at}: {reason}; write $VAR, ${{VAR}}, \
         ${{VAR:-default}} or ${{VAR-default}}, where VAR is letters, digits and _ and does \
         not start with a digit (write \\$ for a literal dollar sign)"
    )]
    BadReference {
        text: String,
        reason: &'static str,
        origin: String,
        at: Position,
    },

    /// Text that starts like a JSON array but is not an array of strings.
    #[error(
        "label text starts with \"[\" but is not a JSON array of strings ({detail}); write it \
         as [\"/usr/bin/program\", \"arg\", …] or as a plain command line"
    )]
    NotArgv { detail: String },

    /// A NAME that docker and podman would reject, or that could escape a path.
    #[error(
        "invalid container name {name:?}: {problem}; a name must match \
         [a-zA-Z0-9][a-zA-Z0-9_.-]* and be at most 253 characters; choose another one with \
         --name"
    )]
    InvalidName { name: String, problem: &'static str },
}

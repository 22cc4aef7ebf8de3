//! Writing an argv into a systemd unit's `Exec*=` line so that systemd hands the program exactly
//! these arguments — the one place a name, a path or a `--set` value becomes unit-file text.
//!
//! systemd (systemd.service(5), "Command lines") splits the line into words with C-style
//! quoting and escapes, expands `%` specifiers everywhere and `$VAR`/`${VAR}` from the
//! environment, and treats a lone `;` as a command separator. So each argument is written
//! plain when it holds only harmless characters, else double-quoted with `\`, `"` and control
//! characters escaped; `%` is doubled and `$` written `$$` in both forms.

/// Characters that need no quoting in a systemd command line.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-+=:,./@".contains(c)
}

/// One argument as a word of an `Exec*=` line.
pub fn exec_arg(arg: &str) -> String {
    if arg == ";" {
        // A lone semicolon separates commands; "\;" is the documented literal.
        return "\\;".to_string();
    }
    if !arg.is_empty() && arg.chars().all(is_plain) {
        return arg.to_string();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A whole command line. The program must be an absolute path: systemd would otherwise look
/// it up itself, or read a leading `-`, `@`, `:`, `+` or `!` as a prefix.
pub fn exec_line(argv: &[String]) -> Result<String, ExecError> {
    let program = argv.first().ok_or(ExecError::Empty)?;
    if !program.starts_with('/') {
        return Err(ExecError::Relative(program.clone()));
    }
    Ok(argv
        .iter()
        .map(|a| exec_arg(a))
        .collect::<Vec<_>>()
        .join(" "))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("empty command line for a systemd unit")]
    Empty,
    #[error("the program '{0}' of a systemd unit must be an absolute path")]
    Relative(String),
}

/// systemd's own reading of one `Exec*=` line, for the round-trip test: enough of
/// `extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE)` plus specifier and variable
/// unescaping to check that what we write comes back as the argv we meant.
#[cfg(test)]
fn systemd_split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                ' ' if !quoted => break,
                '"' => quoted = !quoted,
                '\\' => match chars.next().unwrap() {
                    'n' => word.push('\n'),
                    't' => word.push('\t'),
                    'x' => {
                        let hex: String = [chars.next().unwrap(), chars.next().unwrap()]
                            .into_iter()
                            .collect();
                        word.push(char::from(u8::from_str_radix(&hex, 16).unwrap()));
                    }
                    other => word.push(other),
                },
                '%' | '$' => {
                    assert_eq!(chars.next(), Some(c), "unescaped {c} in {line}");
                    word.push(c);
                }
                c => word.push(c),
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_arguments_stay_plain() {
        let argv: Vec<String> = ["/usr/sbin/runc", "--systemd-cgroup", "run", "-d", "etcd.1"]
            .map(String::from)
            .into();
        assert_eq!(
            exec_line(&argv).unwrap(),
            "/usr/sbin/runc --systemd-cgroup run -d etcd.1"
        );
    }

    #[test]
    fn hostile_arguments_are_quoted() {
        let table = [
            ("", "\"\""),
            ("a b", "\"a b\""),
            ("100%", "\"100%%\""),
            ("$HOME", "\"$$HOME\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("two\nlines", "\"two\\nlines\""),
            (";", "\\;"),
            ("a;b", "\"a;b\""),
            ("'quoted'", "\"'quoted'\""),
        ];
        for (arg, want) in table {
            assert_eq!(exec_arg(arg), want, "{arg:?}");
        }
    }

    #[test]
    fn a_relative_program_is_refused() {
        assert_eq!(
            exec_line(&["runc".to_string()]),
            Err(ExecError::Relative("runc".into()))
        );
        assert_eq!(exec_line(&[]), Err(ExecError::Empty));
    }

    proptest::proptest! {
        #[test]
        fn systemd_reads_back_what_was_written(
            args in proptest::collection::vec("[^\\x00]*|;", 0..5)
        ) {
            let mut argv = vec!["/bin/prog".to_string()];
            argv.extend(args);
            let line = exec_line(&argv).unwrap();
            proptest::prop_assert_eq!(systemd_split(&line), argv);
        }
    }
}

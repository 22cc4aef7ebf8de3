//! Asking for missing values on the terminal; a hidden param's answer is not echoed.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};

use atomic_app::{Param, Prompter};

/// Asks on the terminal when stdin is one; otherwise never asks.
pub struct Terminal;

impl Prompter for Terminal {
    fn ask(&mut self, section: &str, param: &Param) -> Result<Option<String>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let about = param.description.as_deref().unwrap_or("no description");
        eprint!("ANSWER => {section} | {} ({about}): ", param.name);
        std::io::stderr().flush()?;
        let echo_off = param.hidden.then(|| EchoOff::new(&stdin)).transpose()?;
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        drop(echo_off);
        if param.hidden {
            eprintln!();
        }
        if read.context("reading an answer")? == 0 {
            bail!("no answer for {section}.{} (end of input)", param.name);
        }
        Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
    }
}

/// Terminal echo turned off until dropped.
struct EchoOff {
    saved: rustix::termios::Termios,
}

impl EchoOff {
    fn new(stdin: &std::io::Stdin) -> Result<EchoOff> {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let saved = tcgetattr(stdin).context("reading the terminal's settings")?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        tcsetattr(stdin, OptionalActions::Now, &quiet).context("turning echo off")?;
        Ok(EchoOff { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        use rustix::termios::{OptionalActions, tcsetattr};
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

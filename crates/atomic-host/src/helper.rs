//! The libostree backend runs in a helper program, `atomic-ostree` (crate `atomic-ostree`).
//!
//! Why a second program: libostree brings some sixty shared libraries (glib, gpgme, curl,
//! gnutls, ICU…) whose loading and constructors take ~24 ms before `main`, on every run of
//! any program that links them. Linked into `atomic`, that tax fell on every verb — twice what
//! atomic needs of its own to start a container. Only the host verbs pay it now.
//!
//! Protocol: atomic runs `atomic-ostree OPERATION-JSON`; the helper prints one JSON line on
//! stdout, `{"ok": ANSWER}` or `{"error": "what failed: why"}`, and exits 0 either way; any
//! other exit is the helper failing. (libostree prints progress on stdout itself — "Copying
//! /etc changes" — so the helper sends that to stderr, and only the answer to stdout.)
//!
//! The helper is looked up next to the running executable (where cargo puts both), then in
//! `../libexec/atomic/` from it (where the Debian package puts it: `/usr/bin/atomic` runs
//! `/usr/libexec/atomic/atomic-ostree`, a program for atomic and not a command for users),
//! then on PATH.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, anyhow};
use atomic_exec::Task;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The helper's name.
pub const HELPER: &str = "atomic-ostree";

/// One operation of the libostree backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Operation {
    Status {
        sysroot: PathBuf,
    },
    Rollback {
        sysroot: PathBuf,
    },
    Upgrade {
        sysroot: PathBuf,
        os: Option<String>,
        check: bool,
        allow_downgrade: bool,
    },
    Deploy {
        sysroot: PathBuf,
        os: Option<String>,
        revision: String,
        preview: bool,
    },
    Rebase {
        sysroot: PathBuf,
        os: Option<String>,
        refspec: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Answer<T> {
    Ok(T),
    Error(String),
}

/// Run `op` in the helper and return its answer (or its error, as the helper worded it).
pub(crate) fn call<T: DeserializeOwned>(op: &Operation) -> Result<T> {
    let program = locate();
    let request = serde_json::to_string(op)?;
    let task = Task::new("the libostree helper", &program).arg(&request);
    // Its own messages (progress of a pull) are the user's: only stdout is the answer.
    let out = task
        .command()
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| match task.spawn_error(e) {
            e if e.is_not_found() => anyhow!(
                "the libostree backend needs '{HELPER}', which is not installed next to atomic, \
                 in ../libexec/atomic/ from it, or on PATH"
            ),
            e => e.into(),
        })?;
    if !out.status.success() {
        return Err(task.failure(out.status, b"").into());
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let answer: Answer<T> = serde_json::from_str(line.trim())
        .with_context(|| format!("reading the answer of {}", program.display()))?;
    match answer {
        Answer::Ok(value) => Ok(value),
        Answer::Error(message) => Err(anyhow!(message)),
    }
}

/// The first of [`candidates`] that exists, else the helper's name, for a PATH lookup.
fn locate() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| candidates(&exe).into_iter().find(|path| path.is_file()))
        .unwrap_or_else(|| PathBuf::from(HELPER))
}

/// Where the helper of the executable `exe` may be: beside it, then in `../libexec/atomic/`.
fn candidates(exe: &Path) -> Vec<PathBuf> {
    let Some(dir) = exe.parent() else {
        return Vec::new();
    };
    let mut found = vec![dir.join(HELPER)];
    if let Some(prefix) = dir.parent() {
        found.push(prefix.join("libexec/atomic").join(HELPER));
    }
    found
}

/// The helper's side: decode the request, carry it out with `handle`, write the answer to
/// `out`. Returns the process's exit code.
pub fn serve(
    args: &[String],
    out: &mut dyn std::io::Write,
    handle: impl FnOnce(Operation) -> Result<serde_json::Value>,
) -> i32 {
    let [request] = args else {
        eprintln!("usage: {HELPER} OPERATION-JSON (run by atomic; see 'atomic host')");
        return 2;
    };
    let answer = match serde_json::from_str::<Operation>(request) {
        Ok(op) => match handle(op) {
            Ok(value) => Answer::Ok(value),
            Err(e) => Answer::Error(format!("{e:#}")),
        },
        Err(e) => {
            eprintln!("{HELPER}: not an operation: {e}");
            return 2;
        }
    };
    let written = serde_json::to_string(&answer)
        .map_err(|e| e.to_string())
        .and_then(|line| writeln!(out, "{line}").map_err(|e| e.to_string()));
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{HELPER}: cannot write the answer: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_is_sought_beside_atomic_then_in_libexec() {
        assert_eq!(
            candidates(Path::new("/usr/bin/atomic")),
            [
                PathBuf::from("/usr/bin/atomic-ostree"),
                PathBuf::from("/usr/libexec/atomic/atomic-ostree")
            ]
        );
        // At the root there is no parent to hold a libexec.
        assert_eq!(
            candidates(Path::new("/atomic")),
            [PathBuf::from("/atomic-ostree")]
        );
        assert_eq!(
            candidates(Path::new("/opt/atomic/bin/atomic"))[1],
            PathBuf::from("/opt/atomic/libexec/atomic/atomic-ostree")
        );
    }

    #[test]
    fn operations_round_trip_as_json() {
        let op = Operation::Deploy {
            sysroot: PathBuf::from("/sysroot"),
            os: Some("fedora".into()),
            revision: "version=1.0".into(),
            preview: true,
        };
        let text = serde_json::to_string(&op).unwrap();
        assert!(text.starts_with(r#"{"op":"deploy""#), "{text}");
        assert_eq!(serde_json::from_str::<Operation>(&text).unwrap(), op);
    }

    #[test]
    fn the_helper_answers_errors_in_words() {
        let request = serde_json::to_string(&Operation::Status {
            sysroot: PathBuf::from("/x"),
        })
        .unwrap();
        let mut out = Vec::new();
        assert_eq!(serve(&[request], &mut out, |_| Err(anyhow!("no luck"))), 0);
        assert_eq!(String::from_utf8(out).unwrap(), "{\"error\":\"no luck\"}\n");
        let mut out = Vec::new();
        let code = serve(&["not json".into()], &mut out, |_| {
            Ok(serde_json::Value::Null)
        });
        assert_eq!(code, 2);
        assert!(out.is_empty());
    }
}

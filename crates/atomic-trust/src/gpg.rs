//! Signing and key export through gpg (`atomic sign`, `atomic trust add -k KEYID`): the
//! user's secret keys live in gpg-agent, so making a signature is gpg's job. Checking one never
//! is (`simple.rs`). Behind a trait so callers are tested without a keyring.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// What atomic asks of gpg.
pub trait Gpg {
    /// An OpenPGP signed message (binary, as `skopeo copy --sign-by` makes) of `payload` by
    /// `key` (a fingerprint, key ID or user ID).
    fn sign(&self, payload: &[u8], key: &str) -> Result<Vec<u8>, String>;
    /// The public key `key`, ASCII-armored.
    fn export(&self, key: &str) -> Result<Vec<u8>, String>;
}

/// gpg on PATH, with an optional GNUPGHOME.
pub struct GpgProgram {
    pub gnupghome: Option<PathBuf>,
}

impl GpgProgram {
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let mut cmd = Command::new("gpg");
        cmd.args(["--batch", "--no-tty"]).args(args);
        if let Some(home) = &self.gnupghome {
            cmd.env("GNUPGHOME", home);
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let argv = format!("gpg {}", args.join(" "));
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run gpg (install gnupg): {e}"))?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data)
                .map_err(|e| format!("writing to '{argv}': {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for '{argv}': {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.trim_end().lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!(
                "'{argv}' failed ({}): {}",
                out.status,
                tail.join("; ")
            ));
        }
        Ok(out.stdout)
    }
}

impl Gpg for GpgProgram {
    fn sign(&self, payload: &[u8], key: &str) -> Result<Vec<u8>, String> {
        self.run(&["--local-user", key, "--sign"], Some(payload))
    }

    fn export(&self, key: &str) -> Result<Vec<u8>, String> {
        let out = self.run(&["--armor", "--export", "--", key], None)?;
        if out.is_empty() {
            return Err(format!("gpg has no public key '{key}'"));
        }
        Ok(out)
    }
}

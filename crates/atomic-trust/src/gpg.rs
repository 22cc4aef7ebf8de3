//! Signing and key export through gpg (`atomic sign`, `atomic trust add -k KEYID`): the
//! user's secret keys live in gpg-agent, so making a signature is gpg's job. Checking one never
//! is (`simple.rs`). Behind a trait so callers are tested without a keyring.

use std::path::PathBuf;

use atomic_exec::Task;

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
        let mut task = Task::new("gpg", "gpg")
            .args(["--batch", "--no-tty"])
            .args(args);
        if let Some(home) = &self.gnupghome {
            task = task.env("GNUPGHOME", home);
        }
        if let Some(data) = stdin {
            task = task.input(data);
        }
        match task.run() {
            Ok(out) => Ok(out.stdout),
            Err(e) if e.is_not_found() => Err(format!("{e}: install gnupg")),
            Err(e) => Err(e.to_string()),
        }
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

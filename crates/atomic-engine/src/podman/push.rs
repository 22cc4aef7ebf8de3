//! `atomic push --storage podman`: `podman push`, with atomic's flags passed on (podman signs
//! with `--sign-by` itself).

use std::process::{Command, Stdio};

use super::{PodmanEngine, authfile};
use crate::{EngineError, EngineKind, Result};

impl PodmanEngine {
    pub fn push(
        &self,
        image: &str,
        destination: Option<&str>,
        opts: &atomic_store::PushOptions,
    ) -> Result<()> {
        let action = format!("push {image}");
        let mut cmd = Command::new(&self.program);
        cmd.arg("push");
        if let Some(verify) = opts.tls_verify {
            cmd.arg(format!("--tls-verify={verify}"));
        }
        if let Some(dir) = &opts.cert_dir {
            cmd.arg("--cert-dir").arg(dir);
        }
        if opts.remove_signatures {
            cmd.arg("--remove-signatures");
        }
        if let Some(home) = &opts.sign.gnupghome {
            cmd.env("GNUPGHOME", home);
        }
        if let Some(key) = &opts.sign.sign_by {
            cmd.arg("--sign-by").arg(key);
        }
        if let Some(key) = &opts.sign.sigstore_private_key {
            cmd.arg("--sign-by-sigstore-private-key").arg(key);
        }
        // `--creds` would put the password in the process list; a 0600 auth file does not.
        let target = destination.unwrap_or(image);
        let _creds_file = match (&opts.credentials, &opts.authfile) {
            (Some((user, password)), _) => {
                let file = authfile(target.trim_start_matches("docker://"), user, password)
                    .map_err(|e| EngineError::failed(EngineKind::Podman, action.clone(), e))?;
                cmd.arg("--authfile").arg(file.path());
                Some(file)
            }
            (None, Some(path)) => {
                cmd.arg("--authfile").arg(path);
                None
            }
            (None, None) => None,
        };
        if opts.quiet {
            cmd.arg("--quiet");
        }
        cmd.arg(image);
        if let Some(dest) = destination {
            // podman takes a transport; a bare name is a registry.
            if dest.contains("://") {
                cmd.arg(dest);
            } else {
                cmd.arg(format!("docker://{dest}"));
            }
        }
        let status = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| EngineError::failed(EngineKind::Podman, action.clone(), e))?;
        if status.success() {
            Ok(())
        } else {
            Err(EngineError::failed(EngineKind::Podman, action, status))
        }
    }
}

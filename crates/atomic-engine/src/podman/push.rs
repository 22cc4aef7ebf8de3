//! `atomic push --storage podman`: `podman push`, with atomic's flags passed on (podman signs
//! with `--sign-by` itself).

use std::ffi::OsString;

use super::{PodmanEngine, authfile, registry_args};
use crate::{EngineError, EngineKind, Result};

impl PodmanEngine {
    pub fn push(
        &self,
        image: &str,
        destination: Option<&str>,
        opts: &atomic_store::PushOptions,
    ) -> Result<()> {
        let action = format!("push {image}");
        let mut args: Vec<OsString> = vec!["push".into()];
        args.extend(registry_args(opts.tls_verify, opts.cert_dir.as_deref()));
        if opts.remove_signatures {
            args.push("--remove-signatures".into());
        }
        if let Some(key) = &opts.sign.sign_by {
            args.extend(["--sign-by".into(), key.into()]);
        }
        if let Some(key) = &opts.sign.sigstore_private_key {
            args.extend(["--sign-by-sigstore-private-key".into(), key.into()]);
        }
        // `--creds` would put the password in the process list; a 0600 auth file does not.
        let target = destination.unwrap_or(image);
        let _creds_file = match (&opts.credentials, &opts.authfile) {
            (Some((user, password)), _) => {
                let file = authfile(target.trim_start_matches("docker://"), user, password)
                    .map_err(|e| EngineError::failed(EngineKind::Podman, action.clone(), e))?;
                args.extend(["--authfile".into(), file.path().into()]);
                Some(file)
            }
            (None, Some(path)) => {
                args.extend(["--authfile".into(), path.into()]);
                None
            }
            (None, None) => None,
        };
        if opts.quiet {
            args.push("--quiet".into());
        }
        args.push(image.into());
        if let Some(dest) = destination {
            // podman takes a transport; a bare name is a registry.
            if dest.contains("://") {
                args.push(dest.into());
            } else {
                args.push(format!("docker://{dest}").into());
            }
        }
        let mut task = self.task(&args);
        if let Some(home) = &opts.sign.gnupghome {
            task = task.env("GNUPGHOME", home);
        }
        self.transfer(&action, task)
    }
}

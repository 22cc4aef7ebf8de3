//! `atomic sign IMAGE…`: sign images on their registry — a simple signing signature (gpg key,
//! `--sign-by`) written where registries.d's lookaside-staging says (or `--signature-path`),
//! and/or a sigstore signature (`--sign-by-sigstore-private-key`) pushed as an attachment.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use atomic_store::sign::{self, SignOptions, Signed};

use super::GlobalArgs;

#[derive(Args, Debug)]
pub struct SignArgs {
    /// GPG key to sign with (fingerprint, key ID or e-mail)
    #[arg(long, value_name = "KEYID")]
    sign_by: Option<String>,
    /// Directory to write simple signatures under (default: registries.d lookaside-staging)
    #[arg(short = 'd', long, alias = "directory", value_name = "DIR")]
    signature_path: Option<PathBuf>,
    /// GNUPGHOME for gpg
    #[arg(short = 'g', long, value_name = "DIR")]
    gnupghome: Option<PathBuf>,
    /// Also push a sigstore signature made with this (unencrypted PEM, ECDSA P-256) key
    #[arg(long, value_name = "PATH")]
    sign_by_sigstore_private_key: Option<PathBuf>,
    #[command(flatten)]
    tls: super::TlsVerifyArg,
    /// Use the CA certificates (*.crt) and client certificate pairs (*.cert, *.key) in DIR
    /// instead of the registry's /etc/containers/certs.d/HOST[:PORT]
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// Credentials for the registry, USER[:PASSWORD]
    #[arg(long, value_name = "USER[:PASSWORD]")]
    creds: Option<String>,
    /// Images on a registry (REGISTRY/REPOSITORY[:TAG])
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

pub async fn sign(args: SignArgs, global: &GlobalArgs) -> Result<i32> {
    if args.sign_by.is_none() && args.sign_by_sigstore_private_key.is_none() {
        bail!(
            "no signing identity: pass --sign-by KEYID (a gpg key) or \
             --sign-by-sigstore-private-key PATH"
        );
    }
    let opts = SignOptions {
        sign_by: args.sign_by.clone(),
        gnupghome: args.gnupghome.clone(),
        signature_path: args.signature_path.clone(),
        sigstore_private_key: args.sign_by_sigstore_private_key.clone(),
        registries_d: global.registries_d.clone(),
        registry: atomic_store::PullOptions {
            tls_verify: args.tls.tls_verify,
            credentials: super::pull::credentials(args.creds.as_deref())?,
            cert_dir: args.cert_dir.clone(),
            ..Default::default()
        },
    };
    for image in &args.images {
        let (name, signed) = sign::sign_remote(image, &opts)
            .await
            .with_context(|| format!("signing {image}"))?;
        for s in signed {
            match s {
                Signed::Simple(path) => println!("Created: {}", path.display()),
                Signed::Sigstore(tag) => println!("Pushed: {tag} (sigstore signature of {name})"),
            }
        }
    }
    Ok(0)
}

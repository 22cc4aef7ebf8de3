//! `atomic push` (alias `upload`): an image to a registry. Native images are sent by atomic
//! itself (only the blobs the registry lacks; the manifest byte for byte, so digests match);
//! Docker and Podman images by their engine's own push.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use atomic_engine::EngineKind;
use atomic_store::PushOptions;
use atomic_store::push::SignRequest;

use super::StorageArg;
use crate::config::Config;

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    storage: StorageArg,
    #[command(flatten)]
    tls: super::TlsVerifyArg,
    /// Same as --tls-verify=false (the original's flag)
    #[arg(long, conflicts_with = "tls_verify")]
    insecure: bool,
    /// Credentials for the registry, USER[:PASSWORD]; the password is asked for on a terminal
    /// when left out
    #[arg(long, visible_alias = "creds", value_name = "USER[:PASSWORD]")]
    dest_creds: Option<String>,
    /// User name for the registry (the original's flag; with --password)
    #[arg(short = 'u', long, conflicts_with = "dest_creds")]
    username: Option<String>,
    /// Password for --username
    #[arg(short = 'p', long, requires = "username")]
    password: Option<String>,
    /// Send no credentials at all
    #[arg(long, conflicts_with_all = ["dest_creds", "username", "authfile"])]
    anonymous: bool,
    /// Read registry credentials from FILE only; default $REGISTRY_AUTH_FILE, else podman's
    /// and Docker's files
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
    /// Use the CA certificates (*.crt) and client certificate pairs (*.cert, *.key) in DIR
    /// instead of the registry's /etc/containers/certs.d/HOST[:PORT]
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// Sign the pushed image with this GPG key (simple signing)
    #[arg(long, value_name = "KEYID")]
    sign_by: Option<String>,
    /// Sign the pushed image with this sigstore (cosign) private key
    #[arg(long, value_name = "PATH")]
    sign_by_sigstore_private_key: Option<PathBuf>,
    /// GPG home directory for --sign-by
    #[arg(short = 'g', long, value_name = "DIR")]
    gnupghome: Option<PathBuf>,
    /// Do not copy signatures (atomic's native store keeps none to copy; passed on to podman)
    #[arg(long)]
    remove_signatures: bool,
    /// The original's Pulp upload (refused: removed)
    #[arg(long, hide = true)]
    pulp: bool,
    /// The original's Satellite upload (refused: removed)
    #[arg(long, hide = true)]
    satellite: bool,
    /// Accepted for compatibility with the original (docker or atomic)
    #[arg(short = 't', long = "type", hide = true)]
    image_type: Option<String>,
    /// Print nothing but errors
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The image to push (name or ID)
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Where to: REGISTRY/REPOSITORY[:TAG] or docker://…; default the image's own name
    #[arg(value_name = "DESTINATION")]
    destination: Option<String>,
}

pub async fn push(args: PushArgs, config: &Config) -> Result<i32> {
    let _ = &args.image_type;
    if args.pulp || args.satellite {
        bail!(
            "--pulp and --satellite uploads are not supported; push to a registry (Pulp 3 and \
             Satellite 6 serve the registry API)"
        );
    }
    let credentials = match (&args.dest_creds, &args.username) {
        (Some(creds), _) => super::pull::credentials(Some(creds))?,
        (None, Some(user)) => match &args.password {
            Some(pass) => Some((user.clone(), pass.clone())),
            None => super::pull::credentials(Some(user))?,
        },
        (None, None) => None,
    };
    let opts = PushOptions {
        quiet: args.quiet,
        tls_verify: if args.insecure {
            Some(false)
        } else {
            args.tls.tls_verify
        },
        credentials,
        anonymous: args.anonymous,
        authfile: args.authfile.clone(),
        remove_signatures: args.remove_signatures,
        cert_dir: args.cert_dir.clone(),
        sign: SignRequest {
            sign_by: args.sign_by.clone(),
            sigstore_private_key: args.sign_by_sigstore_private_key.clone(),
            gnupghome: args.gnupghome.clone(),
        },
        ..PushOptions::default()
    };
    let selection = args.storage.selection(config)?;
    let kind = selection.explicit.unwrap_or(EngineKind::Native);
    let engine = selection.connect(kind)?;
    engine
        .push(&args.image, args.destination.as_deref(), &opts)
        .await
        .with_context(|| format!("pushing {} ({})", args.image, engine.kind()))?;
    Ok(0)
}

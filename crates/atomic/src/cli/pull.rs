//! `atomic pull`: pull an image into an engine.
//!
//! SOURCE is a registry name (`busybox`, `docker://quay.io/x/y:1`) or, for the native storage
//! only, another transport: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE`
//! (the original's `dockertar:FILE` too) and `docker-daemon:NAME` (the original's `docker:NAME`
//! too). A transport other than a registry implies `--storage native`. Without any choice a
//! registry name goes to Docker when its daemon answers, else to Podman — as before the native
//! storage existed.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use clap::Args;

use atomic_engine::{Engine, EngineKind};
use atomic_store::{PullOptions, Source};

use super::StorageArg;
use crate::config::Config;
use crate::output;

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    storage: StorageArg,
    #[command(flatten)]
    tls: super::TlsVerifyArg,
    /// Credentials for the registry, USER[:PASSWORD]; the password is asked for on a terminal
    /// when left out
    #[arg(long, value_name = "USER[:PASSWORD]")]
    src_creds: Option<String>,
    /// Use the CA certificates (*.crt) and client certificate pairs (*.cert, *.key) in DIR
    /// instead of the registry's /etc/containers/certs.d/HOST[:PORT] (native storage)
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<std::path::PathBuf>,
    /// Read registry credentials from FILE only (as `podman login --authfile` wrote it);
    /// default $REGISTRY_AUTH_FILE, else podman's and Docker's files (native storage)
    #[arg(long, value_name = "FILE")]
    authfile: Option<std::path::PathBuf>,
    /// Accepted for compatibility with the original, which ignored it too
    #[arg(short = 't', long = "type", hide = true)]
    image_type: Option<String>,
    /// Print nothing but errors
    #[arg(short = 'q', long)]
    quiet: bool,
    /// What to pull: NAME, docker://NAME, oci:DIR[:TAG], oci-archive:FILE[:TAG],
    /// docker-archive:FILE, dockertar:FILE or docker-daemon:NAME (docker:NAME)
    #[arg(value_name = "SOURCE")]
    image: String,
}

pub async fn pull(args: PullArgs, config: &Config) -> Result<i32> {
    let _ = &args.image_type;
    let source = Source::parse(&args.image)?;
    let selection = args.storage.selection(config)?;
    let opts = PullOptions {
        quiet: args.quiet,
        tls_verify: args.tls.tls_verify,
        credentials: credentials(args.src_creds.as_deref())?,
        cert_dir: args.cert_dir.clone(),
        authfile: args.authfile.clone(),
        ..PullOptions::default()
    };
    // Without a choice, new images go to atomic's own store: it needs no daemon.
    let kind = match (&source, selection.explicit) {
        (Source::Registry(_), Some(kind)) => kind,
        // An archive, a layout or another engine's image can only be imported by atomic's own
        // store; a --storage given on the command line that says otherwise is a mistake worth
        // saying, a default_storage in atomic.conf is not.
        (_, Some(EngineKind::Docker | EngineKind::Podman)) if args.storage.storage.is_some() => {
            bail!(
                "'{}' can only be pulled into the native storage (docker and podman pull from \
                 registries); use --storage native",
                args.image
            )
        }
        (_, _) => EngineKind::Native,
    };
    let engine = selection.connect(kind)?;
    match (&engine, &source) {
        (Engine::Native(native), _) => {
            let pulled = native
                .pull(&source, &opts)
                .await
                .with_context(|| format!("pulling {} into the native storage", args.image))?;
            if !args.quiet {
                if pulled.changed {
                    output::line(&format!(
                        "Pulled {} (image ID {})",
                        pulled.name,
                        &pulled.image.id()[..12]
                    ))?;
                } else {
                    output::line(&format!("Image {} is up to date.", pulled.name))?;
                }
            }
        }
        (_, Source::Registry(name)) => engine.pull(name, &opts).await?,
        (_, _) => unreachable!("only the native storage imports other transports"),
    }
    Ok(0)
}

/// `--src-creds USER[:PASSWORD]`; an empty value counts as none, as in the original.
pub(crate) fn credentials(arg: Option<&str>) -> Result<Option<(String, String)>> {
    let Some(arg) = arg.filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    if let Some((user, password)) = arg.split_once(':') {
        return Ok(Some((user.to_string(), password.to_string())));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "--src-creds '{arg}' has no password and there is no terminal to ask for it; give USER:PASSWORD"
        );
    }
    Ok(Some((arg.to_string(), read_password()?)))
}

/// Ask for a password on the terminal with echo off.
fn read_password() -> Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    eprint!("Password: ");
    let _ = std::io::stderr().flush();
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).context("reading the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("turning terminal echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

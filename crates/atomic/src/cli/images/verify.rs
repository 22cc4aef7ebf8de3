//! `atomic images verify [IMAGE | --all]`: check the native store's copy of an image against
//! its digests (see `atomic_store::verify`) and, with `--remote`, its registry's current
//! manifest. A Docker or Podman image (which those engines keep to themselves) is checked
//! against its registry: "newer version available" when the registry's image ID differs.
//! Exit 1 when anything is wrong, so scripts can act on it.

use anyhow::{Result, bail};
use clap::Args;

use atomic_engine::{EngineKind, NativeEngine};
use atomic_store::verify::{self, BlobKind, BlobState, LayerState, Report};
use atomic_store::{Digest, ImageName, PullOptions, Store};

use crate::cli::StorageArg;
use crate::config::Config;
use crate::output;

mod engines;

/// Changed paths shown per layer unless `--verbose`.
const SHOWN_CHANGES: usize = 10;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Verify every image in the native store
    #[arg(short = 'a', long, conflicts_with = "image")]
    all: bool,
    /// Also ask the image's registry whether it has a newer version under the same name
    #[arg(long)]
    remote: bool,
    /// Skip the local checks (only with --remote)
    #[arg(long, requires = "remote")]
    no_validate: bool,
    #[command(flatten)]
    tls: crate::cli::TlsVerifyArg,
    /// Put right what is damaged: unpack damaged layers again from their blobs, remove
    /// corrupt layer blobs, drop entries that cannot be rebuilt (never anything intact)
    #[arg(long, conflicts_with = "no_validate")]
    repair: bool,
    /// List every changed path, not only the first ten of each layer
    #[arg(short = 'v', long)]
    verbose: bool,
    /// The image (name or ID)
    #[arg(required_unless_present = "all")]
    image: Option<String>,
}

pub async fn verify(args: VerifyArgs, config: &Config) -> Result<i32> {
    let selection = args.storage.selection(config)?;
    if let Some(kind @ (EngineKind::Docker | EngineKind::Podman)) = selection.explicit {
        let Some(image) = args.image.as_deref() else {
            bail!(
                "--all verifies the native store; name the {kind} images to check against their \
                 registries"
            );
        };
        return engines::verify(&selection, image, args.tls.tls_verify).await;
    }
    let native = NativeEngine::new(&selection.settings.store_root);
    let in_native = match (native.existing()?, args.image.as_deref()) {
        (Some(store), Some(query)) => verify::find(&store, query)?.is_some(),
        (Some(_), None) => true,
        (None, _) => false,
    };
    // Not in the native store: the Docker or Podman image of that name, if there is one.
    if !in_native
        && selection.explicit.is_none()
        && let Some(image) = args.image.as_deref()
        && engines::holds(&selection, image).await
    {
        return engines::verify(&selection, image, args.tls.tls_verify).await;
    }
    let Some(store) = native.existing()? else {
        bail!(
            "the native store at {} is empty; pull an image with 'atomic pull --storage native \
             IMAGE' first",
            native.root().display()
        );
    };
    let targets: Vec<(Vec<String>, Digest)> = if args.all {
        store
            .index()?
            .manifests()
            .iter()
            .filter_map(|e| Digest::try_from(e.digest()).ok())
            .fold(Vec::new(), |mut seen: Vec<Digest>, d| {
                if !seen.contains(&d) {
                    seen.push(d);
                }
                seen
            })
            .into_iter()
            .map(|d| Ok((names_of(&store, &d)?, d)))
            .collect::<Result<_>>()?
    } else {
        let query = args.image.as_deref().unwrap_or_default();
        match verify::find(&store, query)? {
            Some(found) => vec![found],
            None => bail!(
                "image '{query}' not found in storage 'native'; pull it with 'atomic pull \
                 --storage native {query}'"
            ),
        }
    };

    // The name to show and ask the registry about: the one the user typed when it is one of the
    // image's names, else the first from a registry (not `localhost/`, which archives get).
    let asked = args.image.as_deref().and_then(|q| ImageName::parse(q).ok());
    let spells = |n: &str| {
        asked.as_ref().is_some_and(|a| {
            let tag = a.tag.as_deref().unwrap_or("latest");
            n == a.qualified().to_string()
                || (a.registry.is_none() && n.ends_with(&format!("/{}:{tag}", a.repository)))
        })
    };
    let mut damaged = Vec::new();
    let mut rejected = Vec::new();
    for (names, manifest) in &targets {
        let name = names
            .iter()
            .find(|n| spells(n))
            .or_else(|| names.iter().find(|n| !n.starts_with("localhost/")))
            .or(names.first());
        let shown = name
            .cloned()
            .unwrap_or_else(|| format!("<none> ({manifest})"));
        let mut ok = true;
        let mut text = String::new();
        if !args.no_validate {
            let report = verify::verify(&store, manifest)?;
            text.push_str(&describe(&shown, &report, args.verbose));
            ok &= report.ok();
            if !report.ok() && args.repair {
                ok = repair(&store, &report, &mut text)?;
            }
        } else {
            text.push_str(&format!("{shown}\n"));
        }
        let (line, accepted) = signature(&store, name, manifest, args.tls.tls_verify).await;
        text.push_str(&line);
        if !accepted {
            rejected.push(shown.clone());
        }
        if args.remote {
            let (line, current) = remote(name, manifest, args.tls.tls_verify).await;
            text.push_str(&line);
            ok &= current;
        }
        output::text_out(&text)?;
        if !ok {
            damaged.push(shown);
        }
    }
    for name in &rejected {
        eprintln!(
            "error: {name} is not accepted by the signature policy (see 'atomic trust show')"
        );
    }
    if damaged.is_empty() {
        return Ok(if rejected.is_empty() { 0 } else { 1 });
    }
    for name in &damaged {
        if args.repair {
            eprintln!(
                "error: {name} could not be restored from the store alone (or is out of date); \
                 pull it again from where it came from"
            );
        } else {
            eprintln!(
                "error: {name} does not match what was pulled (or is out of date); 'atomic \
                 images verify --repair {name}' restores what the store can, else delete it \
                 ('atomic images delete --storage native -y {name}') and pull it again from \
                 where it came from"
            );
        }
    }
    Ok(1)
}

/// `--repair` one image (see `atomic_store::verify::repair`): what was done, then the image
/// verified again when it is still there. Whether it is now intact.
fn repair(store: &Store, report: &Report, text: &mut String) -> Result<bool> {
    let done = verify::repair::repair(store, report)?;
    for r in &done {
        text.push_str(&format!("  repair      {r}\n"));
    }
    if done
        .iter()
        .any(|r| matches!(r, verify::repair::Repair::Dropped { .. }))
    {
        return Ok(false);
    }
    let again = verify::verify(store, &report.manifest)?;
    let state = if again.ok() { "OK" } else { "still damaged" };
    text.push_str(&format!("  repaired    {state}\n"));
    Ok(again.ok())
}

/// From the index alone, so that a damaged image (whose blobs cannot be loaded) keeps its name
/// in the report.
fn names_of(store: &Store, manifest: &Digest) -> Result<Vec<String>> {
    verify::names_of(store, manifest)
}

fn short(d: &Digest) -> String {
    format!("sha256:{}", &d.hex()[..12])
}

/// The report as lines: one per blob and per layer, changes indented under their layer.
pub fn describe(shown: &str, report: &Report, verbose: bool) -> String {
    let id = report
        .blobs
        .iter()
        .find(|b| b.kind == BlobKind::Config)
        .map(|b| format!(" (image ID {})", &b.digest.hex()[..12]))
        .unwrap_or_default();
    let mut out = format!("{shown}{id}\n");
    for blob in &report.blobs {
        let state = match &blob.state {
            BlobState::Ok => "OK".to_string(),
            BlobState::Missing => "MISSING".to_string(),
            BlobState::Corrupt { actual } => format!("CORRUPT (its content hashes to {actual})"),
        };
        out.push_str(&format!(
            "  {:<11} {}  {state}\n",
            blob.kind.to_string(),
            short(&blob.digest)
        ));
    }
    let count = report.layers.len();
    for (i, layer) in report.layers.iter().enumerate() {
        let label = format!("layer {}/{count}", i + 1);
        let state = match &layer.state {
            LayerState::Ok => "OK".to_string(),
            LayerState::Missing => "MISSING (its directory is gone)".to_string(),
            LayerState::Modified(changes) => format!("MODIFIED ({} change(s))", changes.len()),
            LayerState::Unverified(why) => format!("UNVERIFIED: {why}"),
        };
        out.push_str(&format!(
            "  {label:<11} {}  {state}\n",
            short(&layer.diff_id)
        ));
        if let LayerState::Modified(changes) = &layer.state {
            let shown = if verbose {
                changes.len()
            } else {
                SHOWN_CHANGES
            };
            for change in changes.iter().take(shown) {
                out.push_str(&format!("      {change}\n"));
            }
            if changes.len() > shown {
                out.push_str(&format!(
                    "      … and {} more (-v lists them all)\n",
                    changes.len() - shown
                ));
            }
        }
    }
    out
}

/// The image's signature state against the policy now: a line, and whether it is accepted.
/// Images that did not come from a registry (`localhost/…`) were judged when imported.
async fn signature(
    store: &Store,
    name: Option<&String>,
    manifest: &Digest,
    tls_verify: Option<bool>,
) -> (String, bool) {
    let Some(name) = name.filter(|n| !n.starts_with("localhost/")) else {
        return (
            "  signature   -  not from a registry (the policy was applied at import)\n".into(),
            true,
        );
    };
    let opts = PullOptions {
        quiet: true,
        tls_verify,
        ..PullOptions::default()
    };
    let bytes = match store.read_blob(manifest) {
        Ok(b) => b,
        Err(e) => {
            return (
                format!("  signature   -  cannot read the manifest: {e:#}\n"),
                false,
            );
        }
    };
    let Ok(parsed) = ImageName::parse(name) else {
        return ("  signature   -  not a registry name\n".into(), true);
    };
    let attachments = atomic_store::pull::registry::attachments::RegistryAttachments {
        name: &parsed,
        opts: &opts,
    };
    use atomic_store::pull::policy::{self, SignatureState};
    match policy::signature_state(&opts, name, &bytes, Some(&attachments)).await {
        Ok(SignatureState::NoPolicy) => (
            "  signature   -  no signature policy (policy.json) on this host\n".into(),
            true,
        ),
        Ok(SignatureState::Accepted(how)) => {
            (format!("  signature   -  accepted by {how}\n"), true)
        }
        Ok(SignatureState::Rejected(why)) => (format!("  signature   -  REJECTED: {why}\n"), false),
        Err(e) => (format!("  signature   -  cannot check: {e:#}\n"), false),
    }
}

/// Ask the registry for the manifest it now serves under `name`: a line saying whether ours is
/// current, and whether it is.
async fn remote(name: Option<&String>, ours: &Digest, tls_verify: Option<bool>) -> (String, bool) {
    let Some(name) = name else {
        return (
            "  registry    -  an image without a name has no registry to ask\n".into(),
            true,
        );
    };
    if ImageName::parse(name).is_ok_and(|n| n.digest.is_some()) {
        return (
            "  registry    -  pinned by digest; it cannot change\n".into(),
            true,
        );
    }
    let opts = PullOptions {
        quiet: true,
        tls_verify,
        ..PullOptions::default()
    };
    match atomic_store::pull::registry::inspect(name, &opts).await {
        Ok(remote) if &remote.manifest_digest == ours => (
            format!(
                "  registry    {}  up to date\n",
                short(&remote.manifest_digest)
            ),
            true,
        ),
        Ok(remote) => (
            format!(
                "  registry    {}  newer version available (pull it with 'atomic pull --storage \
                 native {name}')\n",
                short(&remote.manifest_digest)
            ),
            false,
        ),
        Err(e) => (
            format!("  registry    -  cannot ask the registry: {e:#}\n"),
            false,
        ),
    }
}

//! `atomic info` and `atomic version`: what an image says about itself in its labels.
//! `info --remote` asks the image's registry instead, without pulling anything.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use atomic_engine::ImageInfo;
use atomic_store::PullOptions;

use super::StorageArg;
use crate::config::Config;
use crate::output;
use crate::storage;

#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
    /// Ask the image's registry, without pulling the image (--storage does not apply)
    #[arg(long)]
    remote: bool,
    #[command(flatten)]
    tls: super::TlsVerifyArg,
    /// The image
    image: String,
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    /// Accepted for compatibility; there are no layers to recurse into on these engines
    #[arg(short = 'r', long, hide = true)]
    recurse: bool,
    /// The image
    image: String,
}

async fn find_image(
    storage: &StorageArg,
    image: &str,
    config: &Config,
) -> Result<(String, ImageInfo)> {
    let selection = storage.selection(config)?;
    let target = storage::find(&selection, Some(image), None).await?;
    match target.image {
        Some(info) => Ok((target.engine.kind().to_string(), info)),
        None => Err(storage::image_not_found(image, &selection)),
    }
}

/// `Image Name: X` and the labels, sorted, as the original printed them.
pub async fn info(args: InfoArgs, config: &Config) -> Result<i32> {
    if args.remote {
        return remote_info(&args).await;
    }
    if super::app::is_local_or_deployed(&args.image)? {
        return super::app::info(&args.image, &args.storage, args.json, config).await;
    }
    let (storage, info) = find_image(&args.storage, &args.image, config).await?;
    if info
        .labels
        .contains_key(atomic_app::model::SPECVERSION_LABEL)
    {
        return super::app::info(&args.image, &args.storage, args.json, config).await;
    }
    let variables = if storage == "native" {
        template_variables(&args, config)?
    } else {
        None
    };
    if args.json {
        let mut doc = json!({
            "image": args.image,
            "id": info.id,
            "storage": storage,
            "repo_tags": info.repo_tags,
            "created": info.created,
            "labels": info.labels,
        });
        if let Some(vars) = &variables {
            doc["template_variables"] = json!({
                "with_default": vars.with_default,
                "required": vars.required,
            });
        }
        output::line(&serde_json::to_string_pretty(&doc)?)?;
        return Ok(0);
    }
    let mut text = format!("Image Name: {}\n", args.image);
    for (key, value) in &info.labels {
        text.push_str(&format!("{key}: {value}\n"));
    }
    if let Some(vars) = variables {
        // The original's headings, word for word.
        if !vars.with_default.is_empty() {
            text.push_str("\nTemplate variables with default value, but overridable with --set:\n");
            for (key, value) in &vars.with_default {
                text.push_str(&format!("{key}: {value}\n"));
            }
        }
        if !vars.required.is_empty() {
            text.push_str(
                "\nTemplate variables that has no default value, and must be set with --set:\n",
            );
            for key in &vars.required {
                text.push_str(&format!("{key}: {{DEF_VALUE}}\n"));
            }
        }
    }
    output::text_out(&text)?;
    Ok(0)
}

/// The template variables of a native image that is a system container image (it has
/// templates in /exports), read through its layers without a checkout.
fn template_variables(
    args: &InfoArgs,
    config: &Config,
) -> Result<Option<atomic_system::variables::TemplateVariables>> {
    let selection = args.storage.selection(config)?;
    let Some(native) = selection.native_if_present() else {
        return Ok(None);
    };
    let read = |path: &str| {
        native
            .read_first_file(&args.image, &[path])
            .ok()
            .flatten()
            .map(|(_, data)| data)
    };
    atomic_system::variables::template_variables(&read)
}

/// `info --remote`: the registry's manifest and config for the name, nothing stored.
async fn remote_info(args: &InfoArgs) -> Result<i32> {
    let opts = PullOptions {
        quiet: true,
        tls_verify: args.tls.tls_verify,
        ..PullOptions::default()
    };
    let remote = atomic_store::pull::registry::inspect(&args.image, &opts)
        .await
        .with_context(|| format!("inspecting '{}' on its registry", args.image))?;
    let labels: std::collections::BTreeMap<String, String> = remote
        .config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .map(|l| l.into_iter().collect())
        .unwrap_or_default();
    let total: u64 = remote.layers.iter().map(|(_, size)| size).sum();
    if args.json {
        let layers: Vec<_> = remote
            .layers
            .iter()
            .map(|(digest, size)| json!({"digest": digest.to_string(), "size": size}))
            .collect();
        let doc = json!({
            "image": args.image,
            "name": remote.name,
            "digest": remote.manifest_digest.to_string(),
            "created": remote.config.created(),
            "architecture": remote.config.architecture().to_string(),
            "os": remote.config.os().to_string(),
            "labels": labels,
            "layers": layers,
        });
        output::line(&serde_json::to_string_pretty(&doc)?)?;
        return Ok(0);
    }
    let mut text = format!("Image Name: {}\n", remote.name);
    text.push_str(&format!("Manifest Digest: {}\n", remote.manifest_digest));
    if let Some(created) = remote.config.created() {
        text.push_str(&format!("Created: {created}\n"));
    }
    text.push_str(&format!(
        "Layers: {}, {} compressed\n",
        remote.layers.len(),
        super::images::list::size_text(Some(total))
    ));
    for (digest, size) in &remote.layers {
        text.push_str(&format!(
            "    {digest}  {}\n",
            super::images::list::size_text(Some(*size))
        ));
    }
    text.push_str("Labels:\n");
    for (key, value) in &labels {
        text.push_str(&format!("{key}: {value}\n"));
    }
    output::text_out(&text)?;
    Ok(0)
}

/// The `Name`, `Version` and `Release` labels as one table row, with the image's other tags.
pub async fn version(args: VersionArgs, config: &Config) -> Result<i32> {
    let _ = args.recurse;
    let (_, info) = find_image(&args.storage, &args.image, config).await?;
    let name = info
        .labels
        .get("Name")
        .cloned()
        .or_else(|| info.repo_tags.first().cloned())
        .unwrap_or_else(|| args.image.clone());
    let version = long_version(&info);
    if args.json {
        let doc = json!([{
            "Name": name,
            "Version": version,
            "Id": info.id,
            "Tags": info.repo_tags,
        }]);
        output::line(&serde_json::to_string_pretty(&doc)?)?;
        return Ok(0);
    }
    let id = &info.id[..info.id.len().min(12)];
    let name_width = name.len().max(12) + 2;
    let version_width = version.len().max(9) + 2;
    let mut text = format!(
        "{:name_width$}{:version_width$}{}\n",
        "IMAGE NAME", "VERSION", "IMAGE ID"
    );
    text.push_str(&format!("{name:name_width$}{version:version_width$}{id}\n"));
    for tag in &info.repo_tags {
        text.push_str(&format!("  Tag: {tag}\n"));
    }
    output::text_out(&text)?;
    Ok(0)
}

/// `Version-Release`, or what there is of it, else the image ID (the original's fallback).
fn long_version(info: &ImageInfo) -> String {
    let get = |k: &str| atomic_label::find(&info.labels, k).map(|(_, v)| v.to_string());
    match (get("Version"), get("Release")) {
        (Some(v), Some(r)) => format!("{v}-{r}"),
        (Some(v), None) => v,
        _ => info.id.clone(),
    }
}

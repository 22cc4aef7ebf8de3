//! `atomic images update [-f] [--all] [IMAGE…]`: pull newer versions of images from their
//! registries, on every engine that holds them (or on `--storage`), and say which changed.
//!
//! An image that cannot be pulled — one that exists only locally, or whose registry does not
//! answer — is reported and left exactly as it is: the original force-deleted a local-only image
//! here, which lost work. `--all` takes every image whose name says which registry it is from
//! (`registry.example/x:1`); a short name (`busybox`, or an image built or loaded here) is
//! skipped, as the original skipped it. `-f` removes, once an image has changed, the containers
//! that still use its old version, so that the next `atomic run` starts the new one.

use anyhow::Result;
use clap::Args;

use std::sync::Arc;

use atomic_engine::Engine;
use atomic_store::PullOptions;

use crate::cli::{StorageArg, TlsVerifyArg};
use crate::config::Config;
use crate::output;
use crate::storage;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    storage: StorageArg,
    #[command(flatten)]
    tls: TlsVerifyArg,
    /// Once an image has changed, remove the containers that use its old version
    #[arg(short = 'f', long)]
    force: bool,
    /// Update every image whose name has a registry
    #[arg(short = 'a', long, conflicts_with = "images")]
    all: bool,
    /// The images to update (names as pulled)
    #[arg(required_unless_present = "all")]
    images: Vec<String>,
}

/// An engine, an image name on it, and the image's ID before the update.
type Job = (Arc<Engine>, String, String);

/// One image on one engine, checked.
struct Row {
    image: String,
    engine: &'static str,
    before: String,
    after: Option<String>,
    status: Status,
}

#[derive(PartialEq)]
enum Status {
    Updated,
    UpToDate,
    CouldNotPull,
}

impl Status {
    fn as_str(&self) -> &'static str {
        match self {
            Status::Updated => "Updated",
            Status::UpToDate => "Up to date",
            Status::CouldNotPull => "Could not pull",
        }
    }
}

pub async fn update(args: UpdateArgs, config: &Config) -> Result<i32> {
    let selection = args.storage.selection(config)?;
    let jobs = if args.all {
        every_qualified_image(super::engines(&selection)?).await?
    } else {
        named_images(&selection, &args.images).await?
    };
    let opts = PullOptions {
        quiet: true,
        tls_verify: args.tls.tls_verify,
        ..PullOptions::default()
    };
    let mut rows = Vec::new();
    for (engine, image, before) in &jobs {
        output::line(&format!("Checking image {image} ({})...", engine.kind()))?;
        let row = update_one(engine, image, before, &opts).await;
        if row.status == Status::Updated && args.force {
            remove_old_containers(engine, before).await?;
        }
        rows.push(row);
    }
    output::text_out(&summary(&rows))?;
    let failed = rows.iter().any(|r| r.status == Status::CouldNotPull);
    Ok(i32::from(failed && !args.all))
}

/// The engines that hold each name (the chosen one with `--storage`); a name none holds is an
/// error before anything is pulled.
async fn named_images(selection: &storage::Selection, names: &[String]) -> Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for name in names {
        let holders: Vec<_> = storage::holders(selection, name)
            .await?
            .into_iter()
            .filter(|t| t.image.is_some())
            .collect();
        if holders.is_empty() {
            return Err(storage::image_not_found(name, selection)
                .context("images update updates images that are here; pull new ones"));
        }
        for target in holders {
            let id = target.image.map(|i| i.id).unwrap_or_default();
            jobs.push((Arc::new(target.engine), name.clone(), id));
        }
    }
    Ok(jobs)
}

async fn every_qualified_image(engines: Vec<Engine>) -> Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for engine in engines.into_iter().map(Arc::new) {
        for image in engine.list_images(false).await? {
            for name in &image.repo_tags {
                if has_registry(name) {
                    jobs.push((engine.clone(), name.clone(), image.id.clone()));
                } else {
                    eprintln!("Image {name} not fully qualified: skipping");
                }
            }
        }
    }
    Ok(jobs)
}

/// `registry.example/x`, `127.0.0.1:5000/x`: a first component with a dot or a port names a
/// registry; `localhost/` is Podman's name for images that have none.
fn has_registry(name: &str) -> bool {
    match name.split_once('/') {
        Some((first, _)) => first != "localhost" && first.contains(['.', ':']),
        None => false,
    }
}

async fn update_one(engine: &Engine, image: &str, before: &str, opts: &PullOptions) -> Row {
    let mut row = Row {
        image: image.to_string(),
        engine: engine.kind().as_str(),
        before: before.to_string(),
        after: None,
        status: Status::CouldNotPull,
    };
    if let Err(e) = engine.pull(image, opts).await {
        eprintln!("warning: cannot pull {image}: {e:#}; the local image is kept as it is");
        return row;
    }
    match engine.image(image).await {
        Ok(Some(info)) => {
            row.status = if info.id == before {
                Status::UpToDate
            } else {
                Status::Updated
            };
            row.after = Some(info.id);
        }
        Ok(None) => eprintln!("warning: {image} is missing after pulling it"),
        Err(e) => eprintln!("warning: cannot look {image} up after pulling it: {e:#}"),
    }
    row
}

async fn remove_old_containers(engine: &Engine, old_id: &str) -> Result<()> {
    for container in engine.containers_of_image(old_id).await? {
        if container.image_id != old_id {
            continue;
        }
        engine.remove_container(&container.id, true).await?;
        output::line(&format!(
            "Removed container {} (it used the old image)",
            container.name
        ))?;
    }
    Ok(())
}

/// The original's SUMMARY table, with the engine beside each image.
fn summary(rows: &[Row]) -> String {
    let short = |id: &str| id.chars().take(12).collect::<String>();
    let mut out = format!(
        "\nSUMMARY\n{:<50} {:<8} {:<14} {:<14} {}\n",
        "Image", "Storage", "ID before", "ID after", "Status"
    );
    for row in rows {
        out.push_str(&format!(
            "{:<50} {:<8} {:<14} {:<14} {}\n",
            row.image,
            row.engine,
            short(&row.before),
            row.after
                .as_deref()
                .map(short)
                .unwrap_or_else(|| "-".into()),
            row.status.as_str()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_with_a_registry_are_updated_by_all() {
        for name in [
            "127.0.0.1:5000/x:v1",
            "quay.io/a/b:1",
            "docker.io/library/busybox:latest",
        ] {
            assert!(has_registry(name), "{name}");
        }
        for name in ["busybox:latest", "localhost/x:latest", "team/app:1", "x"] {
            assert!(!has_registry(name), "{name}");
        }
    }

    #[test]
    fn the_summary_has_a_row_per_image_and_engine() {
        let rows = [
            Row {
                image: "127.0.0.1:5000/a:v1".into(),
                engine: "docker",
                before: "a".repeat(64),
                after: Some("b".repeat(64)),
                status: Status::Updated,
            },
            Row {
                image: "local".into(),
                engine: "podman",
                before: "c".repeat(64),
                after: None,
                status: Status::CouldNotPull,
            },
        ];
        let text = summary(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "SUMMARY");
        assert!(
            lines[3].contains("aaaaaaaaaaaa   bbbbbbbbbbbb   Updated"),
            "{text}"
        );
        assert!(
            lines[4].ends_with("-              Could not pull"),
            "{text}"
        );
    }
}

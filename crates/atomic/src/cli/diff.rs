//! `atomic diff A B`: the files and installed packages that differ between two images or
//! containers, of any engine (each side may live in a different one).
//!
//! Both roots are read from their engines' layer directories (`atomic_engine::RootLayers`),
//! with overlayfs's rules applied by hand: nothing is mounted, no temporary container is made,
//! so there is nothing to clean up when something fails half-way. Packages come from each root's
//! dpkg status file, or from its rpm database through the host's `rpm --dbpath` (a note says so
//! when rpm is not installed).

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;

use atomic_inspect::compare::{self, Keyword};
use atomic_inspect::packages::{self, Database, PackageDiff, Packages};
use atomic_inspect::report::{PackageReport, PackageSide, Report};
use atomic_inspect::tree::{self, Manifest};

use super::StorageArg;
use crate::config::Config;
use crate::output;

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Print JSON: {A: {unique_files, release, all_rpms, unique_rpms, common_rpms}, B: {…},
    /// files_differ: [{path, reasons}]}
    #[arg(long, conflicts_with = "verbose")]
    json: bool,
    /// List every package, not only those that differ
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Compare installed packages (dpkg status, or the rpm database through rpm)
    #[arg(short = 'r', long = "rpms", visible_alias = "packages")]
    rpms: bool,
    /// Compare package names only, not their versions
    #[arg(long)]
    names_only: bool,
    /// Compare the engines' descriptions (inspect output): what only each side has
    #[arg(short = 'm', long)]
    metadata: bool,
    /// Do not compare files (then --rpms or --metadata is needed)
    #[arg(short = 'n', long)]
    no_files: bool,
    /// What makes a common file different: all, or any of type, mode, uid, gid, size,
    /// sha256digest, link, nlink, time (repeatable or comma-separated; default: all but nlink
    /// and time)
    #[arg(short = 'k', long = "keywords", value_name = "KEYWORD")]
    keywords: Vec<String>,
    /// The first image or container (name or ID)
    #[arg(value_name = "A")]
    left: String,
    /// The second image or container (name or ID)
    #[arg(value_name = "B")]
    right: String,
}

pub async fn diff(args: DiffArgs, config: &Config) -> Result<i32> {
    if args.no_files && !args.rpms && !args.metadata {
        bail!(
            "When repressing a file diff, you must choose to diff packages (--rpms) or metadata \
             (--metadata)"
        );
    }
    let keywords = compare::parse_keywords(&args.keywords).map_err(|e| anyhow!(e))?;
    let (left_name, right_name) = (&args.left, &args.right);
    let selection = args.storage.selection(config)?;
    let left = crate::rootfs::find(&selection, left_name).await?;
    let right = crate::rootfs::find(&selection, right_name).await?;
    let (left_layers, right_layers) = (&left.root.layers, &right.root.layers);

    let files = if args.no_files {
        None
    } else {
        let hash = keywords.contains(&Keyword::Sha256Digest);
        let options = tree::Options { hash };
        // The two walks are independent (and mostly hashing): one thread each.
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| manifest(left_layers, left_name, options));
            let b = manifest(right_layers, right_name, options);
            (a.join(), b)
        });
        let a = a.map_err(|_| anyhow!("reading '{left_name}' failed"))??;
        Some(compare::compare(&a, &b?, &keywords))
    };
    let packages = if args.rpms {
        let (ls, lp) = package_side(left_layers, left_name)?;
        let (rs, rp) = package_side(right_layers, right_name)?;
        Some(PackageReport {
            diff: PackageDiff::new(&lp, &rp, args.names_only),
            left: ls,
            right: rs,
            names_only: args.names_only,
        })
    } else {
        None
    };
    let metadata = if args.metadata {
        let a = describe(&left, left_name).await?;
        let b = describe(&right, right_name).await?;
        Some(atomic_inspect::metadata::unique(&a, &b))
    } else {
        None
    };
    let report = Report {
        left: left_name.clone(),
        right: right_name.clone(),
        files,
        packages,
        metadata,
    };
    if args.json {
        output::line(&serde_json::to_string_pretty(&report.json())?)?;
    } else {
        output::text_out(&report.text(args.verbose))?;
    }
    Ok(0)
}

/// The engine's inspect output of one side (by ID, so it is the object the files came from).
async fn describe(found: &crate::rootfs::Found, name: &str) -> Result<serde_json::Value> {
    found
        .engine
        .inspect_json(&found.root.id)
        .await?
        .with_context(|| format!("'{name}' disappeared while it was compared"))
}

fn manifest(layers: &[PathBuf], name: &str, options: tree::Options) -> Result<Manifest> {
    tree::from_layers(layers, options)
        .with_context(|| format!("reading the files of '{name}' (reading layers needs root)"))
}

/// One side's packages: its dpkg status, else its rpm database, else a note saying why not.
fn package_side(layers: &[PathBuf], name: &str) -> Result<(PackageSide, Packages)> {
    let read = |path: &str| -> Result<Option<Vec<u8>>> {
        tree::read_file(layers, path).with_context(|| format!("reading {path} of '{name}'"))
    };
    let release = packages::release(|path| {
        read(path)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    });
    let mut side = PackageSide {
        release,
        ..Default::default()
    };
    if let Some(status) = read(packages::DPKG_STATUS)? {
        side.database = Some(Database::Dpkg);
        let text = String::from_utf8_lossy(&status);
        return Ok((side, packages::parse_dpkg_status(&text)));
    }
    for dir in packages::RPM_DB_DIRS {
        let mut files = Vec::new();
        for file in packages::RPM_DB_FILES {
            if let Some(data) = read(&format!("{dir}/{file}"))? {
                files.push((file, data));
            }
        }
        if files.is_empty() {
            continue;
        }
        side.database = Some(Database::Rpm);
        return match query_rpm(&files)? {
            Some(found) => Ok((side, found)),
            None => {
                side.note = Some(format!(
                    "{name}: its packages are in an rpm database (/{dir}), and rpm is not \
                     installed on this host; install rpm to compare them"
                ));
                Ok((side, Packages::new()))
            }
        };
    }
    side.note = Some(format!(
        "{name} has no package database (no /{} and no rpm database)",
        packages::DPKG_STATUS
    ));
    Ok((side, Packages::new()))
}

/// The packages of an rpm database, copied from the layers into a directory of its own (its
/// files may come from different layers) and read by the host's rpm; `None` without rpm.
fn query_rpm(files: &[(&str, Vec<u8>)]) -> Result<Option<Packages>> {
    let dir = tempfile::tempdir().context("making a directory for the rpm database")?;
    for (file, data) in files {
        std::fs::write(dir.path().join(file), data)
            .with_context(|| format!("copying the rpm database file {file}"))?;
    }
    let out = atomic_exec::Task::new("reading the rpm database", "rpm")
        .arg("--dbpath")
        .arg(dir.path())
        .args(["-qa", "--qf", packages::RPM_QUERY_FORMAT])
        .run();
    let out = match out {
        Ok(out) => out,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(packages::parse_rpm_query(&String::from_utf8_lossy(
        &out.stdout,
    ))))
}

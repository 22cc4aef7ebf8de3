//! `atomic scan`: run a scanner plugin's image over images, containers or directories.
//!
//! Scanners are declared in `$ATOMIC_CONFD` (`/etc/atomic.d/`), the protocol is in
//! `atomic_inspect::scanner`. Each target's root filesystem is mounted read-only from its
//! engine's layer directories in a private temporary directory (unmounted and removed when the
//! scan ends, failed or not); the scanner image runs, through the engine that holds it, with
//! each target at `/scanin/<id>` (a `--rootfs` directory is bound there directly) and the
//! results directory at `/scanout`. Results stay under `$ATOMIC_VAR_LIB/<scanner>/<time>/`
//! (`/var/lib/atomic`), and `scan_summary.json` beside them feeds the `vulnerable` marks of
//! `images list` and `containers list`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use rustix::mount::MountFlags;
use serde_json::json;

use atomic_engine::{Engine, EngineKind};
use atomic_exec::{Sink, Task};
use atomic_inspect::scanner::{self, ScanResult, Scanner};

use super::StorageArg;
use crate::command::Program;
use crate::config::Config;
use crate::output;

#[derive(Args, Debug)]
pub struct ScanArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// The scanner to use (default: the only one configured, else atomic.conf's
    /// default_scanner)
    #[arg(long)]
    scanner: Option<String>,
    /// The scanner's type of scan (default: the scanner's default_scan)
    #[arg(long = "scan_type", visible_alias = "scan-type", value_name = "TYPE")]
    scan_type: Option<String>,
    /// List the configured scanners and their scan types, and exit
    #[arg(long)]
    list: bool,
    /// Scan a directory (repeatable) instead of images or containers
    #[arg(long, value_name = "DIR", conflicts_with_all = ["images", "containers", "all", "targets"])]
    rootfs: Vec<PathBuf>,
    /// Scan every image
    #[arg(long, conflicts_with_all = ["containers", "all", "targets"])]
    images: bool,
    /// Scan every container
    #[arg(long, conflicts_with_all = ["all", "targets"])]
    containers: bool,
    /// Scan every image and container
    #[arg(long, conflicts_with = "targets")]
    all: bool,
    /// Print each result's JSON instead of the summary
    #[arg(long, conflicts_with = "verbose")]
    json: bool,
    /// Show the scanner's own output
    #[arg(long)]
    verbose: bool,
    /// Extra arguments for the scanner: `k=v,k2` is passed as `--k v --k2`
    #[arg(
        long = "scanner_args",
        visible_alias = "scanner-args",
        value_name = "K=V,…"
    )]
    scanner_args: Option<String>,
    /// Images or containers (names or IDs)
    #[arg(value_name = "IMAGE|CONTAINER")]
    targets: Vec<String>,
}

/// What is scanned: its ID (the directory name under /scanin), what to call it, and where its
/// files are.
struct Target {
    id: String,
    name: String,
    /// Shown in the heading after the name: the ID, or the names of an image given by ID.
    detail: String,
    source: Source,
}

enum Source {
    /// An image's or container's root, held (and released when dropped) by its engine.
    Root(crate::rootfs::Found),
    Dir(PathBuf),
}

/// The first `n` characters of an ID, as the original shortened them.
fn short(id: &str, n: usize) -> String {
    id.chars().take(n).collect()
}

/// The directory that holds scanner plugin definitions.
fn confd() -> PathBuf {
    std::env::var_os("ATOMIC_CONFD")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/atomic.d"))
}

/// Where results and the summary are kept.
fn var_lib() -> PathBuf {
    std::env::var_os("ATOMIC_VAR_LIB")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/atomic"))
}

fn summary_path() -> PathBuf {
    var_lib().join("scan_summary.json")
}

/// IDs whose latest scan found vulnerabilities (for the lists); an unreadable summary marks
/// nothing, with a warning, rather than failing a listing.
pub fn vulnerable_ids() -> HashSet<String> {
    let path = summary_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashSet::new(),
        Err(e) => {
            eprintln!("warning: reading {}: {e}", path.display());
            return HashSet::new();
        }
    };
    match scanner::parse_summary(&text) {
        Ok(summary) => summary
            .into_values()
            .filter(|e| e.vulnerable)
            .map(|e| e.uuid)
            .collect(),
        Err(e) => {
            eprintln!("warning: {}: {e:#}", path.display());
            HashSet::new()
        }
    }
}

pub async fn scan(args: ScanArgs, config: &Config) -> Result<i32> {
    let dir = confd();
    let plugins = scanner::load_dir(&dir)?;
    for warning in &plugins.warnings {
        eprintln!("Error: {warning}");
    }
    if args.list {
        output::text_out(&scanner::list_text(
            &plugins.scanners,
            config.default_scanner.as_deref(),
        ))?;
        return Ok(0);
    }
    let chosen = scanner::choose(
        &plugins.scanners,
        args.scanner.as_deref(),
        config.default_scanner.as_deref(),
        &dir,
    )?;
    let scan_type = scanner::scan_type(chosen, args.scan_type.as_deref())?;
    let selection = args.storage.selection(config)?;
    let targets = targets(&args, &selection).await?;
    let engine = scanner_engine(&selection, chosen).await?;

    let time = chrono::Local::now()
        .format("%Y-%m-%d-%H-%M-%S-%6f")
        .to_string();
    let results_dir = std::path::absolute(var_lib().join(&chosen.scanner_name).join(&time))
        .context("resolving the results directory")?;
    std::fs::create_dir_all(&results_dir)
        .with_context(|| format!("creating the results directory {}", results_dir.display()))?;
    let mounts = Mounts::new()?;
    let mut binds = Vec::new();
    for target in &targets {
        let host = match &target.source {
            Source::Dir(dir) => dir.clone(),
            Source::Root(found) => mounts
                .mount(&target.id, &found.root.layers)
                .with_context(|| format!("mounting '{}' to scan it", target.name))?,
        };
        binds.push((host, target.id.clone()));
    }
    let program = Program::for_engine(&engine, config);
    let mut argv = scanner_argv(&program, chosen, scan_type, &binds, &results_dir);
    argv.extend(scanner_args(args.scanner_args.as_deref().unwrap_or("")));
    if !args.json {
        output::line(&atomic_label::join(&argv))?;
    }
    let status = run_scanner(&engine, &argv, args.verbose)?;
    drop(mounts);
    if status != 0 {
        bail!(
            "the scanner '{}' failed (exit status {status}); its files are in {}",
            chosen.scanner_name,
            results_dir.display()
        );
    }
    let results = scanner::find_results(&results_dir)?;
    report(&args, &targets, &results, &results_dir)?;
    write_environment(&results_dir, &targets, chosen, &scan_type.name)?;
    let existing = existing_ids(&selection).await;
    record_summary(&results, chosen, &scan_type.name, existing.as_ref())?;
    Ok(if results.iter().all(ScanResult::successful) {
        0
    } else {
        1
    })
}

/// The targets the user named, or every image and/or container, or the `--rootfs` directories.
async fn targets(args: &ScanArgs, selection: &crate::storage::Selection) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    if !args.rootfs.is_empty() {
        for dir in &args.rootfs {
            if !dir.is_dir() {
                bail!(
                    "The path {} does not exist (or is not a directory)",
                    dir.display()
                );
            }
            // An engine takes a relative `-v` source for a volume name: bind the absolute path.
            let absolute = dir
                .canonicalize()
                .with_context(|| format!("resolving {}", dir.display()))?;
            if absolute.to_string_lossy().contains(':') {
                bail!(
                    "{} cannot be scanned: a ':' in its path cannot be passed to the scanner's -v",
                    absolute.display()
                );
            }
            let shown = dir.display().to_string();
            out.push(Target {
                id: absolute.display().to_string().replace('/', "_"),
                name: shown.clone(),
                detail: shown,
                source: Source::Dir(absolute),
            });
        }
        return Ok(out);
    }
    if args.images || args.containers || args.all {
        for engine in super::images::engines(selection)? {
            if args.containers || args.all {
                for c in engine.list_containers().await? {
                    out.push(every(selection, engine.kind(), &c.id, &c.name).await?);
                }
            }
            if args.images || args.all {
                for i in engine.list_images(false).await? {
                    let names = if i.repo_tags.is_empty() {
                        short(&i.id, 12)
                    } else {
                        i.repo_tags.join(", ")
                    };
                    out.push(every(selection, engine.kind(), &i.id, &names).await?);
                }
            }
        }
        if out.is_empty() {
            bail!("There is nothing to scan: no images or containers were found");
        }
        return Ok(out);
    }
    if args.targets.is_empty() {
        bail!(
            "You must provide at least one container or image for atomic scan. See 'atomic \
             scan --help' for more information"
        );
    }
    for name in &args.targets {
        let found = crate::rootfs::find(selection, name).await?;
        // One root is scanned once, however many names it was given by.
        if out.iter().any(|t: &Target| t.id == found.root.id) {
            continue;
        }
        out.push(Target {
            detail: short(&found.root.id, 15),
            id: found.root.id.clone(),
            name: name.clone(),
            source: Source::Root(found),
        });
    }
    Ok(out)
}

/// A target of `--images`/`--containers`/`--all`: named by its ID, detailed by its names.
async fn every(
    selection: &crate::storage::Selection,
    kind: EngineKind,
    id: &str,
    names: &str,
) -> Result<Target> {
    // The root is held with an engine of its own, which releases it when the scan ends.
    let holder = selection.connect(kind)?;
    let root = holder
        .root_layers(id)
        .await?
        .with_context(|| format!("'{id}' disappeared while listing what to scan"))?;
    let found = crate::rootfs::Found::new(holder, root);
    Ok(Target {
        name: short(&found.root.id, 15),
        id: found.root.id.clone(),
        detail: names.to_string(),
        source: Source::Root(found),
    })
}

/// The engine that holds the scanner's image: the one `--storage` names if it has it, else the
/// only one that does.
async fn scanner_engine(selection: &crate::storage::Selection, chosen: &Scanner) -> Result<Engine> {
    let image = &chosen.image_name;
    let everywhere = crate::storage::Selection {
        explicit: None,
        settings: selection.settings.clone(),
    };
    let mut holders = Vec::new();
    for engine in super::images::engines(&everywhere)? {
        match engine.image(image).await {
            Ok(Some(_)) => holders.push(engine),
            Ok(None) => {}
            Err(e) => tracing::info!("{}: {e}", engine.kind()),
        }
    }
    if let Some(kind) = selection.explicit
        && let Some(i) = holders.iter().position(|e| e.kind() == kind)
    {
        return Ok(holders.swap_remove(i));
    }
    match holders.len() {
        0 => bail!(
            "the image '{image}' of scanner '{}' is not in any storage; pull it first with \
             'atomic pull {image}'",
            chosen.scanner_name
        ),
        1 => Ok(holders.remove(0)),
        _ => {
            let kinds: Vec<&str> = holders.iter().map(|e| e.kind().as_str()).collect();
            bail!(
                "the scanner image '{image}' is in more than one storage ({}); choose one \
                 with --storage {}",
                kinds.join(" and "),
                kinds.join("|")
            )
        }
    }
}

/// `docker run` for the scanner, in the engine's terms: host namespaces (a super-privileged
/// container's), every target read-only at `/scanin/<id>`, the results directory at `/scanout`.
/// No `--privileged`: the scanner only reads its inputs, and Docker cannot grant it on hosts
/// whose capability bounding set is reduced; a plugin's `custom_args` can still ask for it.
fn scanner_argv(
    program: &Program,
    chosen: &Scanner,
    scan_type: &scanner::ScanType,
    binds: &[(PathBuf, String)],
    results: &Path,
) -> Vec<String> {
    let mut argv = program.argv([
        "run",
        "--rm",
        "--net=host",
        "--pid=host",
        "--ipc=host",
        "--security-opt",
        "label=disable",
    ]);
    if Path::new("/etc/localtime").exists() {
        argv.extend(["-v".into(), "/etc/localtime:/etc/localtime:ro".into()]);
    }
    for (host, id) in binds {
        argv.extend(["-v".into(), format!("{}:/scanin/{id}:ro", host.display())]);
    }
    argv.extend(["-v".into(), format!("{}:/scanout:rw", results.display())]);
    argv.extend(chosen.custom_args.iter().cloned());
    argv.push(chosen.image_name.clone());
    argv.extend(scan_type.args.iter().cloned());
    argv
}

/// `--scanner_args k=v,k2` as the scanner's own options: `--k v --k2`.
fn scanner_args(given: &str) -> Vec<String> {
    let mut out = Vec::new();
    for item in given.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some((k, v)) => out.extend([format!("--{k}"), v.to_string()]),
            None => out.push(format!("--{item}")),
        }
    }
    out
}

/// Run the scanner and wait; its stdout is shown only with `--verbose`. The native engine's
/// docker command line is carried out by atomic itself (`atomic native-docker`), as a child
/// process so its output can be silenced like the others'.
fn run_scanner(engine: &Engine, argv: &[String], verbose: bool) -> Result<i32> {
    let engine_program = argv.first().map(String::as_str).unwrap_or_default();
    let what = format!("running the scanner with {engine_program}");
    let task = match engine.kind() {
        EngineKind::Native => {
            let exe = std::env::current_exe().context("finding atomic's own program")?;
            Task::new(what, exe).arg("native-docker").args(argv)
        }
        EngineKind::Docker | EngineKind::Podman => {
            Task::from_argv(what, argv).context("the scanner has no command line")?
        }
    };
    let stdout = if verbose { Sink::Inherit } else { Sink::Null };
    Ok(task.stdout(stdout).status()?)
}

fn report(args: &ScanArgs, targets: &[Target], results: &[ScanResult], dir: &Path) -> Result<()> {
    if args.json {
        let docs: Vec<&serde_json::Value> = results.iter().map(|r| &r.doc).collect();
        output::line(&serde_json::to_string_pretty(&docs)?)?;
        return Ok(());
    }
    let mut text = String::new();
    for r in results {
        let (name, detail) = match targets.iter().find(|t| t.id == r.id) {
            Some(t) => (t.name.as_str(), t.detail.as_str()),
            None => (r.id.as_str(), r.id.as_str()),
        };
        text.push_str(&scanner::result_text(r, name, detail));
    }
    for t in targets {
        if !results.iter().any(|r| r.id == t.id) {
            text.push_str(&format!(
                "\n{} ({})\n\n     the scanner wrote no result for it\n",
                t.name, t.detail
            ));
        }
    }
    text.push_str(&format!(
        "\nFiles associated with this scan are in {}.\n\n",
        dir.display()
    ));
    output::text_out(&text)?;
    Ok(())
}

/// `environment.json`: what was scanned, for whoever reads the results later.
fn write_environment(
    dir: &Path,
    targets: &[Target],
    chosen: &Scanner,
    scan_type: &str,
) -> Result<()> {
    let doc = json!({
        "scanner": chosen.scanner_name,
        "image_name": chosen.image_name,
        "scan_type": scan_type,
        "targets": targets.iter().map(|t| json!({
            "id": t.id, "name": t.name, "detail": t.detail,
        })).collect::<Vec<_>>(),
    });
    let path = dir.join("environment.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Every image and container ID of every engine; `None` if one could not answer (then nothing
/// is pruned: an engine that is down has not lost its images).
async fn existing_ids(selection: &crate::storage::Selection) -> Option<HashSet<String>> {
    let everywhere = crate::storage::Selection {
        explicit: None,
        settings: selection.settings.clone(),
    };
    let mut ids = HashSet::new();
    for engine in super::images::engines(&everywhere).ok()? {
        ids.extend(
            engine
                .list_images(true)
                .await
                .ok()?
                .into_iter()
                .map(|i| i.id),
        );
        ids.extend(
            engine
                .list_containers()
                .await
                .ok()?
                .into_iter()
                .map(|c| c.id),
        );
    }
    Some(ids)
}

/// Add this scan to `scan_summary.json` (written to a temporary file, then renamed over it),
/// forgetting objects that no longer exist.
fn record_summary(
    results: &[ScanResult],
    chosen: &Scanner,
    scan_type: &str,
    existing: Option<&HashSet<String>>,
) -> Result<()> {
    let path = summary_path();
    let mut summary = match std::fs::read_to_string(&path) {
        Ok(text) => scanner::parse_summary(&text).unwrap_or_else(|e| {
            eprintln!("warning: {}: {e:#}; starting a new one", path.display());
            Default::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    scanner::update_summary(&mut summary, results, &chosen.scanner_name, scan_type);
    if let Some(existing) = existing {
        scanner::prune_summary(&mut summary, existing);
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut tmp, serde_json::to_string_pretty(&summary)?.as_bytes())?;
    tmp.persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The targets' read-only mounts, in a temporary directory of their own: unmounted and
/// removed when dropped, so an error half-way leaves nothing mounted.
struct Mounts {
    dir: tempfile::TempDir,
    mounted: std::cell::RefCell<Vec<PathBuf>>,
}

impl Mounts {
    fn new() -> Result<Mounts> {
        let base = Path::new("/run");
        let builder = tempfile::Builder::new()
            .prefix("atomic-scan-")
            .tempdir_in(base);
        let dir = match builder {
            Ok(dir) => dir,
            Err(_) => tempfile::Builder::new()
                .prefix("atomic-scan-")
                .tempdir()
                .context("making a directory for the scan's mounts")?,
        };
        Ok(Mounts {
            dir,
            mounted: Default::default(),
        })
    }

    fn mount(&self, id: &str, layers: &[PathBuf]) -> Result<PathBuf> {
        let target = self.dir.path().join(id);
        std::fs::create_dir(&target).with_context(|| format!("creating {}", target.display()))?;
        atomic_store::mount::mount_layers(layers, &target, MountFlags::empty(), None)
            .context("mounting its layers read-only (this needs root)")?;
        self.mounted.borrow_mut().push(target.clone());
        Ok(target)
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for target in self.mounted.borrow().iter() {
            if let Err(e) = atomic_store::mount::unmount_detached(target) {
                eprintln!("warning: {e:#}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_args_become_options() {
        let cases: [(&str, &[&str]); 4] = [
            ("", &[]),
            ("profile=strict", &["--profile", "strict"]),
            ("a=1, fast ,b=x=y", &["--a", "1", "--fast", "--b", "x=y"]),
            (",,", &[]),
        ];
        for (given, want) in cases {
            assert_eq!(scanner_args(given), want, "{given:?}");
        }
    }
}

//! The command line's side of system containers (`atomic-system`): install --system/--user,
//! and recognising an installed system container's name in run, stop, uninstall and the
//! `containers` verbs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;

use atomic_engine::EngineKind;
use atomic_store::{PullOptions, Source};
use atomic_system::systemd::SystemdCli;
use atomic_system::{Context, Image, Layout};

use crate::config::Config;
use crate::storage::Selection;

/// The flags of `atomic install` for system containers.
#[derive(Args, Debug, Clone, Default)]
pub struct SystemInstallArgs {
    /// Install as a system container: checked out and run by systemd through the OCI runtime
    #[arg(long, conflicts_with = "user")]
    pub system: bool,
    /// Install as a system container of the invoking (non-root) user (systemctl --user)
    #[arg(long)]
    pub user: bool,
    /// Set a template variable of the system container (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Run this root filesystem instead of a checkout of the image (system containers)
    #[arg(long, value_name = "PATH")]
    pub rootfs: Option<PathBuf>,
    /// Start the service once it is installed and enabled (system containers)
    #[arg(long)]
    pub start: bool,
}

/// `--set K=V` pairs, in the original's words when one is malformed.
pub fn parse_set(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("Invalid value '{pair}'.  Expected form NAME=VALUE"),
        })
        .collect()
}

/// Where system containers live: the user's XDG places for `--user` (and any non-root run),
/// else the system's.
pub fn layout(config: &Config, user: bool) -> Result<Layout> {
    if user {
        let root = std::env::var_os("ATOMIC_STORE_ROOT").filter(|root| !root.is_empty());
        Layout::user(root.as_deref().map(Path::new))
    } else {
        Ok(Layout::system(&config.store_root()))
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The context for system-container operations of this user.
pub fn with_context<T>(
    config: &Config,
    user: bool,
    quiet: bool,
    f: impl FnOnce(&Context) -> Result<T>,
) -> Result<T> {
    with_layout(&layout(config, user)?, quiet, f)
}

/// The context for system-container operations in `layout`.
fn with_layout<T>(
    layout: &Layout,
    quiet: bool,
    f: impl FnOnce(&Context) -> Result<T>,
) -> Result<T> {
    let systemd = SystemdCli {
        user: layout.user.is_some(),
        quiet,
    };
    let atomic = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "atomic".to_string());
    let ctx = Context {
        layout,
        systemd: &systemd,
        atomic,
        quiet,
    };
    f(&ctx)
}

/// Is `name` an installed system container (of root, or of this user when not root), and does
/// the storage choice allow it (none, or native)?
pub fn installed(config: &Config, selection: &Selection, name: &str) -> bool {
    if matches!(selection.explicit, Some(kind) if kind != EngineKind::Native)
        || !atomic_system::layout::is_name(name)
    {
        return false;
    }
    layout(config, !is_root())
        .map(|l| std::fs::symlink_metadata(l.link(name)).is_ok_and(|m| m.file_type().is_symlink()))
        .unwrap_or(false)
}

/// An OCI runtime as an absolute path (units need one): a path as given, else found on PATH,
/// else in the system directories a user's PATH often lacks (Debian's runc is /usr/sbin/runc).
pub fn runtime_path(runtime: &str) -> Result<String> {
    if runtime.contains('/') {
        return Ok(runtime.to_string());
    }
    atomic_exec::find_program(runtime)
        .or_else(|| {
            atomic_exec::find_in(
                runtime,
                ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from),
            )
        })
        .map(|p| p.display().to_string())
        .with_context(|| {
            format!("Cannot install the container: the runtime {runtime} is not installed")
        })
}

/// The image from the native store, pulled first when it is missing.
pub async fn image(store_root: &Path, query: &str, quiet: bool) -> Result<Image> {
    let store = atomic_store::Store::open(store_root)?;
    if let Some(image) = Image::resolve(&store, query)? {
        return Ok(image);
    }
    if !quiet {
        eprintln!("Need to pull {query} into native");
    }
    let source = Source::parse(query)?;
    let opts = PullOptions {
        quiet,
        ..Default::default()
    };
    let pulled = atomic_store::pull::pull(&store, &source, &opts).await?;
    let layers = pulled.image.layer_dirs(&store)?;
    Ok(Image {
        name: query.to_string(),
        stored: pulled.image,
        layers,
    })
}

/// `atomic install --system|--user IMAGE` (or an image whose `atomic.type` is `system`).
pub async fn install(
    config: &Config,
    args: &SystemInstallArgs,
    name: &str,
    image_ref: &str,
    runtime: Option<&str>,
    display: bool,
    quiet: bool,
) -> Result<i32> {
    let user = args.user;
    if !user && !is_root() {
        bail!("Only root can use --system");
    }
    let set = parse_set(&args.set)?;
    let layout = layout(config, user)?;
    let image = image(&layout.checkouts, image_ref, quiet).await?;
    // The runtime: --runtime, else atomic.conf (ignored for --user, as the original), else runc.
    let runtime = match (runtime, &config.runtime, user) {
        (Some(r), _, _) => r.to_string(),
        (None, Some(r), false) => r.clone(),
        _ => atomic_engine::DEFAULT_RUNTIME.to_string(),
    };
    let runtime = runtime_path(&runtime)?;
    if image.labels().get("atomic.run").map(String::as_str) == Some("once") {
        return with_layout(&layout, quiet, |ctx| {
            atomic_system::run::run_once(ctx, name, &image, &set, &runtime)
        });
    }
    with_layout(&layout, quiet, |ctx| {
        let req = atomic_system::ops::InstallRequest {
            name,
            image: &image,
            set,
            runtime: &runtime,
            remote: args.rootfs.as_deref(),
            display,
            start: args.start,
        };
        atomic_system::ops::install(ctx, &req).map(|_| 0)
    })
}

/// `atomic containers update`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Update every system container; one that fails is rolled back and restarted
    #[arg(short = 'a', long, conflicts_with_all = ["name", "set", "rebase"])]
    pub all: bool,
    /// Change a template value (repeatable); the others keep their installed values
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Move the container to another image (pulled when missing)
    #[arg(long, value_name = "IMAGE")]
    pub rebase: Option<String>,
    /// Print only errors
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The system container
    #[arg(value_name = "CONTAINER", required_unless_present = "all")]
    pub name: Option<String>,
}

/// `atomic containers rollback`.
#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The system container
    #[arg(value_name = "CONTAINER")]
    pub name: String,
}

pub async fn update(args: UpdateArgs, config: &Config) -> Result<i32> {
    let user = !is_root();
    let layout = layout(config, user)?;
    let store_root = layout.checkouts.clone();
    let runtime = config
        .runtime
        .as_deref()
        .filter(|_| !user)
        .map(runtime_path)
        .transpose()?;
    if args.all {
        let store = atomic_store::Store::open(&store_root)?;
        let resolve = |query: &str| Image::resolve(&store, query);
        let rows = with_layout(&layout, args.quiet, |ctx| {
            atomic_system::update::update_all(ctx, &resolve, runtime.as_deref())
        })?;
        print_summary(&rows)?;
        let failed = rows
            .iter()
            .any(|r| r.status == atomic_system::update::Status::Failed);
        return Ok(if failed { 1 } else { 0 });
    }
    let name = args
        .name
        .as_deref()
        .expect("clap requires a name without --all");
    let set = parse_set(&args.set)?;
    let image = match &args.rebase {
        Some(rebase) => image(&store_root, rebase, args.quiet).await?,
        None => {
            let active = with_layout(&layout, true, |ctx| {
                ctx.active(name)
                    .with_context(|| format!("system container '{name}' is not installed"))
            })?;
            let info = atomic_system::info::Info::read(&active)?;
            let store = atomic_store::Store::open(&store_root)?;
            Image::resolve(&store, &info.image)?.with_context(|| {
                format!(
                    "the image '{}' of {name} is no longer in the store; pull it with 'atomic \
                     pull {}'",
                    info.image, info.image
                )
            })?
        }
    };
    with_layout(&layout, args.quiet, |ctx| {
        let req = atomic_system::update::UpdateRequest {
            name,
            set,
            image: &image,
            runtime: runtime.as_deref(),
        };
        atomic_system::update::update(ctx, &req)
    })?;
    Ok(0)
}

pub fn rollback(args: RollbackArgs, config: &Config) -> Result<i32> {
    with_context(config, !is_root(), false, |ctx| {
        atomic_system::update::rollback(ctx, &args.name)
    })?;
    Ok(0)
}

/// The original's SUMMARY table of `containers update --all`, coloured on a terminal.
fn print_summary(rows: &[atomic_system::update::Summary]) -> Result<()> {
    use atomic_system::update::Status;
    let colour = rustix::termios::isatty(std::io::stdout());
    let paint = |status: Status| {
        let text = status.as_str();
        if !colour {
            return text.to_string();
        }
        let code = match status {
            Status::UpdatedNow | Status::Updated => 32,
            Status::Unknown => 33,
            Status::Failed => 31,
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    };
    let mut text = String::from("\nSUMMARY\n\n");
    let mut line = |cells: [&str; 5]| {
        let row = format!(
            "{:15} {:32} {:32} {:32} {}",
            cells[0], cells[1], cells[2], cells[3], cells[4]
        );
        text.push_str(row.trim_end());
        text.push('\n');
    };
    line([
        "Container",
        "Image ID before update",
        "Image ID after update",
        "Latest image ID",
        "Status",
    ]);
    for r in rows {
        let short = |id: &str| id.chars().take(32).collect::<String>();
        line([
            &r.name,
            &short(&r.before),
            &short(&r.after),
            &short(&r.latest),
            &paint(r.status),
        ]);
    }
    crate::output::text_out(&text)
}

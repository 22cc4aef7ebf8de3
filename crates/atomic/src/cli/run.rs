//! `atomic run`: run a container the way its image's RUN label says.
//!
//! Order of business, as in the original: a container already called NAME is started or exec'd
//! into (the "tools container" model); otherwise the image is pulled if missing, the INSTALL gate
//! is checked, and the RUN label (or the default `docker run` line) is built and run.

use anyhow::{Context, Result, bail};
use clap::Args;

use atomic_engine::{ContainerInfo, EngineKind, ImageInfo};
use atomic_label as label;

use super::{GlobalArgs, LabelArgs};
use crate::command::{Prepared, Program, Values, stdin_is_tty};
use crate::config::Config;
use crate::installdb::InstallDb;
use crate::storage::{self, Target};

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    common: LabelArgs,
    /// Name of the container (default: the image's name, plus -spc with --spc)
    #[arg(short = 'n', long)]
    name: Option<String>,
    /// Replace an existing container of the same name
    #[arg(short = 'r', long)]
    replace: bool,
    /// Run as a super-privileged container (host PID, network and IPC; host / at /host)
    #[arg(long)]
    spc: bool,
    /// Run the container in the background (without a RUN label)
    #[arg(short = 'd', long)]
    detach: bool,
    #[command(flatten)]
    app: super::app::AppArgs,
    /// The image, then the command to run in the container and its arguments
    #[arg(
        value_name = "IMAGE [COMMAND]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

pub async fn run(args: RunArgs, global: &GlobalArgs, config: &Config) -> Result<i32> {
    let (image, command) = super::split_target(&args.args);
    let selection = args.common.selection(config)?;
    if !args.spc && super::system::installed(config, &selection, image) {
        return run_system(&args, config, image, command);
    }
    let app_options = args.app.options(args.common.display, args.common.quiet);
    if crate::app::source::local_dir(image).is_some() {
        return crate::app::run(image, None, &app_options, &selection, config).await;
    }
    let name = super::container_name(args.name.as_deref(), image, args.spc)?;
    let target = storage::find(&selection, Some(image), Some(&name)).await?;
    let program = Program::for_engine(&target.engine, config);
    let mut values = Values::new(&name, image, &args.common.opts);

    if let Some(container) = &target.container {
        if !args.replace {
            return existing_container(&args, container, &target, &program, &values).await;
        }
        if args.common.display {
            eprintln!("# --replace would remove the existing container '{name}' first");
        } else {
            target
                .engine
                .remove_container(&container.id, true)
                .await
                .with_context(|| format!("removing container '{name}' to replace it"))?;
        }
    }

    let image_info = image_or_pull(&args, image, &target, &selection).await?;
    // A Nulecule application: its components run, never the image's own RUN label.
    if target.container.is_none()
        && crate::app::source::is_app_image(&target.engine, &image_info).await
    {
        return crate::app::run(
            image,
            Some(&target.engine),
            &app_options,
            &selection,
            config,
        )
        .await;
    }
    let labels = &image_info.labels;
    if label::find(labels, "INSTALL").is_some()
        && !global.ignore
        && !InstallDb::open().is_installed(image, &image_info.id)?
    {
        // A preview shows the command anyway, and says what a real run would do.
        if args.common.display {
            eprintln!(
                "# note: '{image}' has an INSTALL label and is not installed: 'atomic run' \
                 refuses until 'atomic install {image}' (or --ignore)"
            );
        } else {
            bail!(
                "The image '{image}' appears to have not been installed and has an INSTALL label.  \
             You should install this image first.  Re-run with --ignore to bypass this error."
            );
        }
    }
    warn_case_variants(labels, "RUN", args.common.quiet);

    let prepared = match label::find(labels, "RUN") {
        Some((key, text)) => {
            if (args.spc || args.detach) && !args.common.quiet {
                eprintln!(
                    "note: --spc and --detach are ignored: the image's {key} label says how it runs"
                );
            }
            if let Some((path, text)) = read_run_opts(labels, &values)? {
                values.run_opts = Some(text);
                values.run_opts_file = Some(path);
            }
            Prepared::from_label(key, text, &values, command, &program)?
        }
        None => Prepared::direct(
            default_command(&program, &args, &name, image, command, &image_info),
            &values,
        ),
    };

    if args.common.display {
        prepared.display()?;
        return Ok(0);
    }
    if args.replace {
        remove_label_named_container(&target, &program, &prepared.argv, &name).await?;
    }
    prepared.announce(args.common.quiet)?;
    if target.engine.kind() == EngineKind::Native {
        return prepared.run_on(&target.engine).await;
    }
    match prepared.exec()? {}
}

/// The image, pulled first when the engine lacks it (never with `--display`, which changes
/// nothing).
async fn image_or_pull(
    args: &RunArgs,
    image: &str,
    target: &Target,
    selection: &storage::Selection,
) -> Result<ImageInfo> {
    if let Some(info) = &target.image {
        return Ok(info.clone());
    }
    if args.common.display {
        return Err(
            storage::image_not_found(image, selection).context("--display does not pull images")
        );
    }
    if !args.common.quiet {
        eprintln!("Need to pull {image} into {}", target.engine.kind());
    }
    let opts = atomic_store::PullOptions {
        quiet: args.common.quiet,
        ..Default::default()
    };
    target.engine.pull(image, &opts).await?;
    target
        .engine
        .image(image)
        .await?
        .with_context(|| format!("image '{image}' is still missing after pulling it"))
}

/// `RUN_OPTS_FILE`: a file whose contents become `$RUN_OPTS`. Its name may use variables but must
/// be absolute; a missing file is no error (the original's behaviour).
/// The largest RUN_OPTS_FILE read: options for one command line.
const RUN_OPTS_LIMIT: u64 = 64 << 10;

pub(super) fn read_run_opts(
    labels: &std::collections::BTreeMap<String, String>,
    values: &Values,
) -> Result<Option<(String, String)>> {
    let Some((_, text)) = label::find(labels, "RUN_OPTS_FILE") else {
        return Ok(None);
    };
    let path = values.expand_one(text)?;
    if !path.starts_with('/') {
        bail!("Will not read RUN_OPTS_FILE {path}: not absolute path");
    }
    // Only a regular file, and a small one: its content becomes container arguments, and
    // `/dev/zero` or a FIFO here must not hang atomic or fill its memory, even for --display.
    match atomic_store::input::read_regular_text(std::path::Path::new(&path), RUN_OPTS_LIMIT) {
        Ok(text) => Ok(Some((path, text.trim().to_string()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading RUN_OPTS_FILE {path}")),
    }
}

/// The original's argument lists for an image without a RUN label.
fn default_command(
    program: &Program,
    args: &RunArgs,
    name: &str,
    image: &str,
    command: &[String],
    info: &ImageInfo,
) -> Vec<String> {
    let mut argv = program.argv(["run"]);
    if stdin_is_tty() {
        argv.push("-t".into());
    }
    if args.detach {
        argv.push("-d".into());
    }
    argv.push("-i".into());
    if args.spc {
        argv.extend(spc_options(name, image));
    }
    argv.extend(["--name".to_string(), name.to_string(), image.to_string()]);
    if command.is_empty() {
        argv.extend(info.cmd.iter().cloned());
    } else {
        argv.extend(command.iter().cloned());
    }
    argv
}

/// The super-privileged container's options: host PID, network and IPC namespaces, the host's
/// root at /host and its /run, time zone and SELinux state shared.
pub(super) fn spc_options(name: &str, image: &str) -> Vec<String> {
    let mut options: Vec<String> = ["--privileged", "-v", "/:/host", "-v", "/run:/run"]
        .map(String::from)
        .to_vec();
    // Binding a source the host lacks fails the whole run on Podman (and makes Docker create a
    // directory in its place), so these two are shared only when the host has them.
    for (source, bind) in [
        ("/etc/localtime", "/etc/localtime:/etc/localtime"),
        ("/sys/fs/selinux", "/sys/fs/selinux:/sys/fs/selinux:ro"),
    ] {
        if std::path::Path::new(source).exists() {
            options.extend(["-v".to_string(), bind.to_string()]);
        }
    }
    options.extend(
        [
            "--net=host",
            "--ipc=host",
            "--pid=host",
            "-e",
            "HOST=/host",
            "-e",
            &format!("NAME={name}"),
            "-e",
            &format!("IMAGE={image}"),
            "-e",
            "SYSTEMD_IGNORE_CHROOT=1",
        ]
        .map(String::from),
    );
    options
}

/// A container called NAME exists: start it or exec into it, with the
/// original's bug fixed: a stopped, non-interactive container gets the user's command.
async fn existing_container(
    args: &RunArgs,
    container: &ContainerInfo,
    target: &Target,
    program: &Program,
    values: &Values,
) -> Result<i32> {
    let requested = target.image.as_ref();
    let engine = &target.engine;
    let (_, command) = super::split_target(&args.args);
    let name = &container.name;
    if let Some(image) = requested
        && image.id != container.image_id
    {
        let asked = &args.args[0];
        if image_names_match(asked, &container.image_name) {
            bail!(
                "container '{name}' was created from an older version of '{asked}'\n\
                 Run 'atomic run --replace {asked}' to recreate it from the current image"
            );
        }
        bail!(
            "container '{name}' already points to {}\n\
             Run 'atomic run {name}' to run the existing container.\n\
             Run 'atomic run --replace {asked}' to replace it",
            container.image_name
        );
    }

    let exec = |cmd: &[String]| {
        let mut argv = program.argv(["exec"]);
        if stdin_is_tty() {
            argv.push("-t".into());
        }
        argv.push("-i".into());
        argv.push(name.clone());
        argv.extend(cmd.iter().cloned());
        argv
    };
    let mut steps: Vec<Vec<String>> = Vec::new();
    if container.running {
        if container.interactive {
            let cmd = if command.is_empty() {
                &container.cmd
            } else {
                command
            };
            steps.push(exec(cmd));
        } else if command.is_empty() {
            if !args.common.display {
                crate::output::line("Container is running")?;
            }
            return Ok(0);
        } else {
            steps.push(exec(command));
        }
    } else if command.is_empty() {
        if container.interactive {
            steps.push(program.argv(["start", "-i", "-a", name]));
        } else {
            steps.push(program.argv(["start", name]));
        }
    } else {
        steps.push(program.argv(["start", name]));
        steps.push(exec(command));
    }

    let prepared: Vec<Prepared> = steps
        .into_iter()
        .map(|argv| Prepared::direct(argv, values))
        .collect();
    if args.common.display {
        for step in &prepared {
            step.display()?;
        }
        return Ok(0);
    }
    for step in &prepared {
        step.announce(args.common.quiet)?;
        let code = step.run_on(engine).await?;
        if code != 0 {
            if step.argv.get(1).map(String::as_str) == Some("exec") {
                eprintln!(
                    "Failed to execute the command inside the existing container. In some \
                     situations this can happen because the entry point command of the \
                     container only runs for a short time. You might want to try running the \
                     command with --replace."
                );
            }
            return Ok(code);
        }
    }
    Ok(0)
}

/// `foo`, `foo:latest`, `localhost/foo:latest` and `docker.io/library/foo` all name `foo`.
fn image_names_match(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s
            .trim_start_matches("docker.io/")
            .trim_start_matches("library/");
        let s = s.trim_start_matches("localhost/");
        let last = s.rsplit('/').next().unwrap_or(s);
        if last.contains(':') {
            s.to_string()
        } else {
            format!("{s}:latest")
        }
    };
    norm(a) == norm(b)
}

/// With `--replace`, a RUN label that names its container itself (`--name X` or `--name=X`,
/// X other than NAME) gets that container removed too, or the label could not create it again.
async fn remove_label_named_container(
    target: &Target,
    program: &Program,
    argv: &[String],
    name: &str,
) -> Result<()> {
    let Some(sub) = label::subcommand(argv) else {
        return Ok(());
    };
    if argv[0] != program.path || !matches!(argv[sub].as_str(), "run" | "create") {
        return Ok(());
    }
    let parsed = label::parse_run(&argv[sub + 1..]);
    for option in parsed.options {
        if option.flag == "--name"
            && let Some(other) = option.value
            && other != name
            && let Some(c) = target.engine.container(&other).await?
        {
            target
                .engine
                .remove_container(&c.id, true)
                .await
                .with_context(|| format!("removing container '{other}' to replace it"))?;
        }
    }
    Ok(())
}

/// Warn when an image carries the same label in several spellings (`run` and `RUN`): atomic
/// takes them in a fixed order, but the author probably meant only one.
pub fn warn_case_variants(
    labels: &std::collections::BTreeMap<String, String>,
    key: &str,
    quiet: bool,
) {
    let variants = label::case_variants(labels, key);
    if variants.len() > 1 && !quiet {
        let used = label::find(labels, key).map(|(k, _)| k).unwrap_or_default();
        eprintln!(
            "warning: the image has several {key} labels ({}); using '{used}'",
            variants.join(", ")
        );
    }
}

/// `atomic run NAME [CMD…]` of an installed system container: start its service, or run the
/// command in it.
fn run_system(args: &RunArgs, config: &Config, name: &str, command: &[String]) -> Result<i32> {
    if args.name.is_some() {
        bail!("--name is not supported by this backend (system container '{name}')");
    }
    let user = !super::system::is_root();
    super::system::with_context(config, user, args.common.quiet, |ctx| {
        if command.is_empty() {
            atomic_system::run::start(ctx, name).map(|()| 0)
        } else {
            atomic_system::run::exec(ctx, name, command, args.detach)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_match_across_spellings() {
        assert!(image_names_match("foo", "localhost/foo:latest"));
        assert!(image_names_match("docker.io/library/foo", "foo:latest"));
        assert!(!image_names_match("foo", "bar"));
        assert!(!image_names_match("foo:1", "foo:2"));
    }
}

//! `atomic kube generate|apply|delete|play`: images, containers and system containers as
//! Kubernetes objects, handed to kubectl, or played on this host.
//!
//! The mapping is `atomic-kube`'s; this verb finds the sources (an image's RUN label built as
//! `atomic run` builds it, or `--spc`'s defaults; a container's record; a system container's
//! config.json), reports what did not map, and does I/O: stdout or `-f`, kubectl, podman.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use atomic_engine::{EngineKind, ImageInfo};
use atomic_kube::{Draft, Kind, LocalHost, Object, Options, Warning};
use atomic_label as label;

use super::{Lazy, StorageArg};
use crate::command::{OptArgs, Prepared, Program, Values};
use crate::config::Config;
use crate::storage::{self, Selection, Target};

#[derive(Subcommand, Debug)]
pub enum KubeVerb {
    /// Write Kubernetes objects for images (their RUN label, or --spc), containers and system
    /// containers
    Generate(Lazy<GenerateArgs>),
    /// Generate the objects and hand them to 'kubectl apply -f -'
    Apply(Lazy<KubectlArgs>),
    /// Generate the objects and hand them to 'kubectl delete -f -'
    Delete(Lazy<KubectlArgs>),
    /// Run generated Pod and Deployment YAML on this host (Podman's 'kube play')
    Play(Lazy<PlayArgs>),
}

/// What to generate objects from, and how.
#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Object kind: auto (host namespaces or / mounted: DaemonSet; -d or --restart always:
    /// Deployment; --rm or --restart on-failure: Job; else Pod), Pod, Deployment, DaemonSet
    /// or Job
    #[arg(long, value_name = "KIND", default_value = "auto", value_parser = parse_kind)]
    kind: KindArg,
    /// Add a Service for the published ports (-p, --expose)
    #[arg(long)]
    service: bool,
    /// Namespace of the objects
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Replicas of a Deployment
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    replicas: Option<i32>,
    /// NAME for an image's label (default: the image's name, plus -spc with --spc)
    #[arg(short = 'n', long)]
    name: Option<String>,
    /// Use the super-privileged container defaults instead of the image's RUN label
    #[arg(long)]
    spc: bool,
    /// Fail when a flag has no Kubernetes equivalent, instead of warning
    #[arg(long)]
    strict: bool,
    /// Print no notes and no privilege summary (warnings still go to stderr)
    #[arg(short = 'q', long)]
    quiet: bool,
    /// A system container's template value, as 'install --set' takes it
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    #[command(flatten)]
    opts: OptArgs,
    /// Images, containers or system containers
    #[arg(value_name = "IMAGE|CONTAINER|SYSTEM-CONTAINER", required = true)]
    targets: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct KindArg(Option<Kind>);

fn parse_kind(s: &str) -> Result<KindArg, String> {
    if s.eq_ignore_ascii_case("auto") {
        Ok(KindArg(None))
    } else {
        s.parse().map(|k| KindArg(Some(k)))
    }
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum Format {
    #[default]
    Yaml,
    Json,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    output: Format,
    /// Write to FILE instead of stdout
    #[arg(short = 'f', long, value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct KubectlArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// kubectl's --kubeconfig
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// kubectl's --context
    #[arg(long, value_name = "CONTEXT")]
    context: Option<String>,
    /// kubectl's --dry-run: client, server or none
    #[arg(
        long,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "client",
        value_parser = ["client", "server", "none"]
    )]
    dry_run: Option<String>,
}

#[derive(Args, Debug)]
pub struct PlayArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Tear down what an earlier play of FILE started
    #[arg(long)]
    down: bool,
    /// A YAML stream from 'atomic kube generate' ('-' for stdin)
    #[arg(value_name = "FILE")]
    file: String,
}

pub async fn kube(verb: KubeVerb, config: &Config) -> Result<i32> {
    match verb {
        KubeVerb::Generate(Lazy(args)) => generate(args, config).await,
        KubeVerb::Apply(Lazy(args)) => kubectl("apply", args, config).await,
        KubeVerb::Delete(Lazy(args)) => kubectl("delete", args, config).await,
        KubeVerb::Play(Lazy(args)) => play(args, config),
    }
}

async fn generate(args: GenerateArgs, config: &Config) -> Result<i32> {
    let objects = objects(&args.source, config).await?;
    let text = match args.output {
        Format::Yaml => atomic_kube::stream::to_yaml(&objects)?,
        Format::Json => atomic_kube::stream::to_json(&objects)?,
    };
    match &args.file {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing the objects to {}", path.display()))?,
        None => crate::output::line(text.trim_end())?,
    }
    Ok(0)
}

/// `kubectl [--kubeconfig F] [--context C] VERB -f - [--dry-run=M]` with the objects on its
/// stdin; its stdout, stderr and exit code are the user's.
async fn kubectl(verb: &str, args: KubectlArgs, config: &Config) -> Result<i32> {
    // Asked first, so a missing kubectl is said before any generating or warning.
    let Some(kubectl) = atomic_exec::find_program("kubectl") else {
        bail!(
            "kubectl is not installed (no 'kubectl' on PATH): install it, or write the objects \
             with 'atomic kube generate' and apply them another way"
        );
    };
    let objects = objects(&args.source, config).await?;
    let text = atomic_kube::stream::to_yaml(&objects)?;
    let mut argv: Vec<String> = Vec::new();
    if let Some(kubeconfig) = &args.kubeconfig {
        argv.push(format!("--kubeconfig={}", kubeconfig.display()));
    }
    if let Some(context) = &args.context {
        argv.push(format!("--context={context}"));
    }
    argv.extend([verb.to_string(), "-f".into(), "-".into()]);
    if let Some(mode) = &args.dry_run {
        argv.push(format!("--dry-run={mode}"));
    }
    // kubectl may exit before reading everything (a bad kubeconfig): its own error and exit
    // code say why, so the Task does not make a broken pipe another error.
    Ok(atomic_exec::Task::new("kubectl", &kubectl)
        .args(&argv)
        .input(text)
        .status()?)
}

/// `podman kube play` of the stream, made playable on one host (DaemonSet and Job as Pods).
fn play(args: PlayArgs, config: &Config) -> Result<i32> {
    let selection = args.storage.selection(config)?;
    match selection.explicit {
        Some(EngineKind::Native) => bail!(
            "'kube play' is not supported on native yet: the native engine cannot share one \
             network namespace between a pod's containers; use --storage podman"
        ),
        Some(EngineKind::Docker) => {
            bail!("Docker has no 'kube play'; use --storage podman")
        }
        _ => {}
    }
    let engine = selection
        .connect(EngineKind::Podman)
        .context("'kube play' runs pods through Podman")?;
    let text = if args.file == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the objects from stdin")?
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file))?
    };
    let program = engine.cli().unwrap_or_else(|| PathBuf::from("podman"));
    let (stream, notes) = atomic_kube::stream::for_local_play(&text, expands_commands(&program))
        .with_context(|| format!("reading {}", args.file))?;
    for note in notes {
        eprintln!("note: {note}");
    }
    let mut file = tempfile::Builder::new()
        .prefix("atomic-kube-play-")
        .suffix(".yaml")
        .tempfile()
        .context("creating a temporary file for podman")?;
    file.write_all(stream.as_bytes())
        .context("writing the objects for podman")?;
    let mut argv = vec!["kube".to_string(), "play".to_string()];
    if args.down {
        argv.push("--down".into());
    }
    argv.push(file.path().display().to_string());
    Ok(atomic_exec::Task::new("podman kube play", &program)
        .args(&argv)
        .stdin(atomic_exec::StdinPolicy::Inherit)
        .status()?)
}

/// Whether this podman expands `$(VAR)` in command and args as Kubernetes does (4.7 on).
fn expands_commands(podman: &std::path::Path) -> bool {
    let version = atomic_exec::Task::new("asking podman its version", podman)
        .args(["version", "--format", "{{.Client.Version}}"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (4, 7)
}

/// The objects of every target, after the warnings, notes and privilege summary are told.
async fn objects(args: &SourceArgs, config: &Config) -> Result<Vec<Object>> {
    if let Some(ns) = &args.namespace
        && !atomic_kube::names::is_valid(ns)
    {
        bail!("'{ns}' is not a valid namespace (lower-case letters, digits and '-')");
    }
    if args.name.is_some() && args.targets.len() > 1 {
        bail!("--name names one object; give one target with it");
    }
    let selection = args.storage.selection(config)?;
    let options = Options {
        kind: args.kind.0,
        service: args.service,
        namespace: args.namespace.clone(),
        replicas: args.replicas,
    };
    let mut objects: Vec<Object> = Vec::new();
    let mut warnings: Vec<(String, Warning)> = Vec::new();
    for target in &args.targets {
        let (draft, found) = draft_for(target, args, &selection, config)
            .await
            .with_context(|| format!("generating Kubernetes objects for '{target}'"))?;
        let built = atomic_kube::build(draft, &options);
        warnings.extend(
            found
                .into_iter()
                .chain(built.warnings)
                .map(|w| (target.clone(), w)),
        );
        if !args.quiet {
            for note in &built.notes {
                eprintln!("note: {target}: {note}");
            }
        }
        for object in built.objects {
            if objects
                .iter()
                .any(|o| o.kind() == object.kind() && o.name() == object.name())
            {
                bail!(
                    "two objects would be the {} '{}'; generate them separately",
                    object.kind(),
                    object.name()
                );
            }
            objects.push(object);
        }
    }
    for (target, w) in &warnings {
        eprintln!("warning: {target}: {w}");
    }
    if args.strict && !warnings.is_empty() {
        bail!(
            "--strict: {} option(s) have no Kubernetes equivalent (see the warnings above)",
            warnings.len()
        );
    }
    if !args.quiet {
        eprint!(
            "{}",
            atomic_kube::privilege::summary(&atomic_kube::privilege::grants(&objects))
        );
    }
    Ok(objects)
}

/// One target as a draft: a system container, a container, or an image.
async fn draft_for(
    target: &str,
    args: &SourceArgs,
    selection: &Selection,
    config: &Config,
) -> Result<(Draft, Vec<Warning>)> {
    if !args.spc && super::system::installed(config, selection, target) {
        if args.name.is_some() {
            bail!("--name is for an image's label; system container '{target}' keeps its name");
        }
        return system_container(target, &args.set, config);
    }
    if !args.set.is_empty() {
        bail!("--set applies to system containers; '{target}' is not one");
    }
    let found = storage::find(selection, Some(target), (!args.spc).then_some(target)).await?;
    if let Some(container) = &found.container {
        let Some(record) = found.engine.inspect_container_json(target).await? else {
            bail!(
                "the native engine keeps no docker-style record of container '{target}'; \
                 generate the objects from its image ('{}') instead",
                container.image_name
            );
        };
        let image = found.engine.image(&container.image_id).await?;
        let defaults = image
            .map(|i| atomic_kube::inspect::ImageDefaults {
                env: i.env,
                labels: i.labels,
                cmd: i.cmd,
                entrypoint: i.entrypoint,
            })
            .unwrap_or_default();
        let (mut draft, warnings) =
            atomic_kube::inspect::from_record(&record, &defaults, &LocalHost)?;
        if let Some(image) = &mut draft.container.image {
            *image = atomic_kube::names::qualified(image);
        }
        return Ok((draft, warnings));
    }
    let Some(info) = &found.image else {
        return Err(storage::image_not_found(target, selection));
    };
    image_draft(target, info, &found, args, config)
}

/// An image: its RUN label as `atomic run` would build it, `--spc`'s defaults, or a plain run.
fn image_draft(
    image: &str,
    info: &ImageInfo,
    target: &Target,
    args: &SourceArgs,
    config: &Config,
) -> Result<(Draft, Vec<Warning>)> {
    let name = super::container_name(args.name.as_deref(), image, args.spc)?;
    let program = Program::for_engine(&target.engine, config);
    let mut values = Values::new(&name, image, &args.opts);
    let labels = &info.labels;
    super::run::warn_case_variants(labels, "RUN", args.quiet);
    let argv = match label::find(labels, "RUN") {
        Some((key, text)) if !args.spc => {
            if let Some((path, text)) = super::run::read_run_opts(labels, &values)? {
                values.run_opts = Some(text);
                values.run_opts_file = Some(path);
            }
            Prepared::from_label(key, text, &values, &[], &program)?.argv
        }
        _ => {
            let mut argv = program.argv(["run"]);
            if args.spc {
                argv.extend(super::run::spc_options(&name, image));
            }
            argv.extend(["--name".to_string(), name.clone(), image.to_string()]);
            argv
        }
    };
    let (mut draft, warnings) = atomic_kube::flags::from_argv(&argv, &LocalHost)?;
    if draft.name.is_empty() {
        draft.name = name;
    }
    draft.hints.node_agent |= args.spc;
    if let Some(reference) = &mut draft.container.image {
        *reference = if reference == image {
            atomic_kube::names::image_reference(image, &info.repo_tags)
        } else {
            atomic_kube::names::qualified(reference)
        };
    }
    Ok((draft, warnings))
}

/// A system container: its deployed config.json (re-rendered from the image's template with
/// `--set` values, when given) and the image it was installed from.
fn system_container(name: &str, set: &[String], config: &Config) -> Result<(Draft, Vec<Warning>)> {
    let layout = super::system::layout(config, !super::system::is_root())?;
    let slot = std::fs::read_link(layout.link(name))
        .with_context(|| format!("reading the deployment of system container '{name}'"))?;
    let slot = if slot.is_absolute() {
        slot
    } else {
        layout.checkouts.join(slot)
    };
    let info = atomic_system::info::Info::read(&slot)?;
    let mut config_json = std::fs::read_to_string(slot.join("config.json"))
        .with_context(|| format!("reading {}", slot.join("config.json").display()))?;
    let mut warnings = Vec::new();
    if !set.is_empty() {
        let exports = atomic_system::exports::Exports::open(&slot.join("rootfs"))?;
        match exports.read("config.json.template")? {
            Some(template) => {
                let mut values = info.values.clone();
                for pair in set {
                    let (k, v) = pair
                        .split_once('=')
                        .with_context(|| format!("--set {pair}: expected NAME=VALUE"))?;
                    if atomic_system::values::FORCED.contains(&k) {
                        bail!("--set {pair}: atomic sets {k} itself");
                    }
                    values.insert(k.to_string(), v.to_string());
                }
                config_json =
                    atomic_system::render::render(&template, "config.json.template", &values)?;
            }
            None => warnings.push(Warning::new(
                "--set",
                format!("system container '{name}' has no config.json.template; values unused"),
            )),
        }
    }
    let image = atomic_kube::names::qualified(&info.image);
    let (draft, mut more) = atomic_kube::oci::from_config(name, &image, &config_json, &LocalHost)?;
    warnings.append(&mut more);
    Ok((draft, warnings))
}

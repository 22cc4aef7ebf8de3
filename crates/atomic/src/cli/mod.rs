//! The command line: one module per verb, each with its clap arguments and one function.

// clap turns the doc comments of arguments into `--help` text, where `NAME[:TAG]` is the usual
// notation for an optional part; rustdoc would read `[:TAG]` as a link.
#![allow(rustdoc::broken_intra_doc_links)]

mod app;
mod containers;
mod diff;
mod docs;
mod help;
mod host;
pub(crate) mod images;
mod info;
mod install;
mod kube;
mod mount;
mod native_docker;
mod network;
mod pull;
mod push;
mod run;
pub(crate) mod scan;
mod sign;
mod stop;
mod supervise_container;
mod system;
mod top;
mod trust;
mod uninstall;

use anyhow::Result;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::Config;
use crate::storage::Selection;

#[derive(Parser, Debug)]
#[command(
    name = "atomic",
    // The commit comes from build.rs: `git rev-parse`, or $ATOMIC_GIT_COMMIT for a tarball.
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ATOMIC_GIT_COMMIT"), ")"),
    disable_version_flag = true,
    disable_help_subcommand = true,
    about = "Run, install and manage containers from the labels their images carry",
    long_about = "atomic reads an image's RUN, INSTALL, UNINSTALL, STOP and HELP labels, \
                  substitutes NAME, IMAGE, OPT1-3 and environment variables, and runs the \
                  command they describe — never through a shell — on Docker, Podman or its own \
                  engine (--storage native: an image store and runc, no daemon).",
    after_long_help = exit_status_help()
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Print the version and exit
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,
    /// Show debug output
    #[arg(long, global = true)]
    pub debug: bool,
    /// Answer yes to every question
    #[arg(short = 'y', long, global = true)]
    pub assumeyes: bool,
    /// Ignore the install-first requirement (run) or a missing install record (uninstall)
    #[arg(short = 'i', long, global = true)]
    pub ignore: bool,
    /// Signature policy (policy.json) for pulls into native storage, instead of
    /// ~/.config/containers/policy.json or /etc/containers/policy.json
    #[arg(long, global = true, value_name = "PATH")]
    pub signature_policy: Option<std::path::PathBuf>,
    /// registries.d directory saying where signatures are kept, instead of
    /// ~/.config/containers/registries.d or /etc/containers/registries.d
    #[arg(long = "registries.d", global = true, value_name = "DIR")]
    pub registries_d: Option<std::path::PathBuf>,
}

/// `--storage`, shared by every verb that takes an image or a container.
#[derive(Args, Debug, Clone, Default)]
pub struct StorageArg {
    /// Engine to use: docker, podman or native (atomic's own image store; `ostree` is
    /// accepted too). Default: $ATOMIC_STORAGE, atomic.conf default_storage, else wherever the
    /// image or container is found
    #[arg(long, env = "ATOMIC_STORAGE", value_name = "STORAGE")]
    pub storage: Option<String>,
}

impl StorageArg {
    pub fn selection(&self, config: &Config) -> Result<Selection> {
        Selection::new(self.storage.as_deref(), config)
    }
}

/// `--tls-verify[=BOOL]`, for the verbs that talk to a registry (pull, info --remote,
/// images verify --remote).
#[derive(Args, Debug, Clone, Default)]
pub struct TlsVerifyArg {
    /// Check the registry's TLS certificate (default: yes, unless registries.conf lists the
    /// registry as insecure)
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub tls_verify: Option<bool>,
}

/// The flags every label verb (run, install, uninstall, stop) takes.
#[derive(Args, Debug, Clone, Default)]
pub struct LabelArgs {
    #[command(flatten)]
    pub storage: StorageArg,
    /// Show the command that would run, and run nothing
    #[arg(long, conflicts_with = "quiet")]
    pub display: bool,
    /// Print nothing but the command's own output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub opts: crate::command::OptArgs,
    /// OCI runtime of native containers: a name on PATH or a path (default: atomic.conf
    /// runtime, else runc)
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
}

impl LabelArgs {
    /// The storage selection, with `--runtime` applied.
    pub fn selection(&self, config: &Config) -> Result<Selection> {
        let mut selection = self.storage.selection(config)?;
        if let Some(runtime) = &self.runtime {
            selection.settings.runtime = runtime.clone();
        }
        Ok(selection)
    }
}

/// NAME: as given with `-n`, else derived from the image; validated either way.
pub fn container_name(given: Option<&str>, image: &str, spc: bool) -> Result<String> {
    let name = match given {
        Some(name) => name.to_string(),
        None => atomic_label::default_name(image, spc),
    };
    atomic_label::validate_name(&name)?;
    Ok(name)
}

/// A verb's arguments, added to its command only when that verb is the one on the command line
/// (clap's `Command::defer`): building every verb's arguments first was much of what parsing
/// cost, ~0.2 ms of each `atomic run` (bench/run.sh). Help, completions and man pages build
/// them all as before.
#[derive(Debug)]
struct Lazy<T>(T);

impl<T: Args> Args for Lazy<T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(augment_keeping_about::<T, false>)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(augment_keeping_about::<T, true>)
    }
}

/// `T`'s arguments added late must not replace the verb's description: derive(Args) sets an
/// argument struct's doc comment as `about`, which the verb's own used to follow and override.
fn augment_keeping_about<T: Args, const UPDATE: bool>(cmd: clap::Command) -> clap::Command {
    let (about, long_about) = (cmd.get_about().cloned(), cmd.get_long_about().cloned());
    let cmd = if UPDATE {
        T::augment_args_for_update(cmd)
    } else {
        T::augment_args(cmd)
    };
    let cmd = match about {
        Some(about) => cmd.about(about),
        None => cmd,
    };
    match long_about {
        Some(long_about) => cmd.long_about(long_about),
        None => cmd.long_about(None),
    }
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for Lazy<T> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Lazy)
    }

    fn from_arg_matches_mut(matches: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Lazy)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }

    fn update_from_arg_matches_mut(
        &mut self,
        matches: &mut clap::ArgMatches,
    ) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Run a container as its image's RUN label says
    Run(Lazy<run::RunArgs>),
    /// Run an image's INSTALL label
    Install(Lazy<install::InstallArgs>),
    /// Run an image's UNINSTALL label, or remove it
    Uninstall(Lazy<uninstall::UninstallArgs>),
    /// Stop a container (its STOP label, else the engine's stop)
    Stop(Lazy<stop::StopArgs>),
    /// Pull an image into an engine (registries; archives and layouts into native)
    Pull(Lazy<pull::PullArgs>),
    /// Push an image to a registry (native: only the blobs it lacks; Docker, Podman: their push)
    #[command(alias = "upload")]
    Push(Lazy<push::PushArgs>),
    /// Mount an image or a container of any engine on a directory (read-only unless --live)
    Mount(Lazy<mount::MountArgs>),
    /// Unmount what 'atomic mount' mounted, and give back what it took from the engine
    #[command(alias = "umount")]
    Unmount(Lazy<mount::UnmountArgs>),
    /// Operate on images
    #[command(subcommand)]
    Images(ImagesVerb),
    /// Operate on containers
    #[command(subcommand)]
    Containers(ContainersVerb),
    /// Operate on the native engine's networks
    #[command(subcommand)]
    Network(network::NetworkVerb),
    /// Show the files and packages that differ between two images or containers (any engine)
    Diff(Lazy<diff::DiffArgs>),
    /// Scan images, containers or directories with a scanner plugin (/etc/atomic.d)
    Scan(Lazy<scan::ScanArgs>),
    /// Show the processes of running containers (every engine)
    Top(Lazy<top::TopArgs>),
    /// Manage the trust policy (policy.json, registries.d) native pulls, Podman and skopeo obey
    #[command(subcommand)]
    Trust(trust::TrustVerb),
    /// Sign images on their registry (simple signing with gpg, or sigstore)
    Sign(Lazy<sign::SignArgs>),
    /// Operate on the OSTree-based host (atomic 1.x's host-status, host-upgrade and
    /// host-rollback are accepted too)
    #[command(subcommand)]
    Host(HostVerb),
    /// Kubernetes objects from labels, containers and system containers
    #[command(subcommand)]
    Kube(kube::KubeVerb),
    /// Nulecule applications (meta images): list deployed ones, write answers files
    #[command(subcommand)]
    App(app::AppVerb),
    /// atomic 1.x's spelling of 'host status'
    #[command(name = "host-status", hide = true)]
    HostStatus(Lazy<host::StatusArgs>),
    /// atomic 1.x's spelling of 'host upgrade'
    #[command(name = "host-upgrade", hide = true)]
    HostUpgrade(Lazy<host::UpgradeArgs>),
    /// atomic 1.x's spelling of 'host rollback'
    #[command(name = "host-rollback", hide = true)]
    HostRollback(Lazy<host::RollbackArgs>),
    /// Show an image's labels
    Info(Lazy<info::InfoArgs>),
    /// Show an image's name, version and release
    Version(Lazy<info::VersionArgs>),
    /// Show an image's help
    Help(Lazy<help::HelpArgs>),
    /// Pull newer versions of images from their registries (same as 'images update')
    Update(Lazy<images::update::UpdateArgs>),
    /// Check an image against its digests (native) and its registry's newer versions
    Verify(Lazy<images::verify::VerifyArgs>),
    /// Print a shell completion script
    Completion(Lazy<docs::CompletionArgs>),
    /// Write man pages generated from this command line
    GenerateMan(Lazy<docs::ManArgs>),
    /// Carry out a docker command line on the native engine, as a label's would be
    #[command(hide = true)]
    NativeDocker(Lazy<native_docker::NativeDockerArgs>),
    /// Supervise a detached container of the native engine (started by atomic itself)
    #[command(hide = true, name = atomic_runtime::supervise::VERB)]
    SuperviseContainer(Lazy<supervise_container::SuperviseArgs>),
}

#[derive(Subcommand, Debug)]
enum ImagesVerb {
    /// List images of every engine (or of --storage)
    List(Lazy<images::list::ListArgs>),
    /// Delete images (after asking; -y answers yes)
    Delete(Lazy<images::delete::DeleteArgs>),
    /// Remove dangling images (native: and every blob and layer no image needs)
    Prune(Lazy<images::delete::PruneArgs>),
    /// Give an image another name
    Tag(Lazy<images::tag::TagArgs>),
    /// Pull newer versions of images from their registries (any engine); say which changed
    Update(Lazy<images::update::UpdateArgs>),
    /// Check a native image against its digests (and, with --remote, its registry); a Docker
    /// or Podman image against its registry
    Verify(Lazy<images::verify::VerifyArgs>),
    /// Show an image's labels
    Info(Lazy<info::InfoArgs>),
    /// Show an image's name, version and release
    Version(Lazy<info::VersionArgs>),
    /// Show an image's help (help.1, README.md or its HELP label)
    Help(Lazy<help::HelpArgs>),
}

#[derive(Subcommand, Debug)]
enum ContainersVerb {
    /// List containers of every engine (or of --storage); running ones unless -a
    List(Lazy<containers::ListArgs>),
    /// Delete containers (after asking; -y answers yes)
    Delete(Lazy<containers::DeleteArgs>),
    /// Update a system container to its image's newest version (or --rebase to another)
    Update(Lazy<system::UpdateArgs>),
    /// Switch a system container back to its previous deployment
    Rollback(Lazy<system::RollbackArgs>),
}

#[derive(Subcommand, Debug)]
enum HostVerb {
    /// Show the host's deployments in boot order, the booted one marked
    Status(Lazy<host::StatusArgs>),
    /// Make the previous deployment the default (the next boot's)
    Rollback(Lazy<host::RollbackArgs>),
    /// Deploy the newest commit of the default deployment's origin, /etc merged
    Upgrade(Lazy<host::UpgradeArgs>),
    /// Deploy a given commit or version of the origin's ref as the new default
    Deploy(Lazy<host::DeployArgs>),
    /// Switch the origin to another ref (or bootc image), pull it and deploy it
    Rebase(Lazy<host::RebaseArgs>),
    /// Make /usr writable through an overlay (rpm-ostree only)
    Unlock(Lazy<host::UnlockArgs>),
    /// Layer packages on the host (rpm-ostree only)
    Install(Lazy<host::PackagesArgs>),
    /// Remove layered packages (rpm-ostree only)
    Uninstall(Lazy<host::PackagesArgs>),
}

/// atomic's exit codes, for `--help` and the man page's EXIT STATUS section. `main` picks
/// them; [`Cli::passes_exit_code`] says which verbs pass a program's code through.
pub const EXIT_STATUS: [(&str, &str); 5] = [
    ("0", "Success."),
    (
        "1",
        "atomic failed (an image not found, a refusal, a check that found problems), in a verb \
         that runs no program of the user's.",
    ),
    ("2", "Usage error, or a question answered no."),
    (
        "125",
        "atomic itself failed in a verb whose exit code is otherwise a program's: run, install, \
         uninstall, stop, help (a label's command), kube apply|delete (kubectl), kube play \
         (podman).",
    ),
    (
        "other",
        "In those verbs: the exit code of the program they ran, 128+N when signal N killed it.",
    ),
];

fn exit_status_help() -> String {
    let mut text = String::from("Exit status:\n");
    for (code, meaning) in EXIT_STATUS {
        text.push_str(&format!("  {code:>5}  {meaning}\n"));
    }
    text
}

impl Cli {
    /// Whether the verb's exit code is, when atomic itself does not fail, the code of a program
    /// it ran: a label's command, kubectl, `podman kube play`, a docker command line carried out
    /// on native. `main` then reports atomic's own failures as 125 (Docker's and Podman's
    /// convention), so a script can tell them from the program exiting 1.
    pub fn passes_exit_code(&self) -> bool {
        use kube::KubeVerb;
        matches!(
            self.verb,
            Verb::Run(_)
                | Verb::Install(_)
                | Verb::Uninstall(_)
                | Verb::Stop(_)
                | Verb::Help(_)
                | Verb::Images(ImagesVerb::Help(_))
                | Verb::Kube(KubeVerb::Apply(_) | KubeVerb::Delete(_) | KubeVerb::Play(_))
                | Verb::NativeDocker(_)
        )
    }
}

/// Run a `host` verb (synchronous, no atomic.conf): `Ok(its result)`; any other verb is given
/// back for [`dispatch`].
pub fn dispatch_host(cli: Cli) -> Result<Result<i32>, Box<Cli>> {
    Ok(match cli.verb {
        Verb::Host(HostVerb::Status(Lazy(args))) | Verb::HostStatus(Lazy(args)) => {
            host::status(args)
        }
        Verb::Host(HostVerb::Rollback(Lazy(args))) | Verb::HostRollback(Lazy(args)) => {
            host::rollback(args)
        }
        Verb::Host(HostVerb::Upgrade(Lazy(args))) | Verb::HostUpgrade(Lazy(args)) => {
            host::upgrade(args)
        }
        Verb::Host(HostVerb::Deploy(Lazy(args))) => host::deploy(args),
        Verb::Host(HostVerb::Rebase(Lazy(args))) => host::rebase(args),
        Verb::Host(HostVerb::Unlock(Lazy(args))) => host::unlock(args),
        Verb::Host(HostVerb::Install(Lazy(args))) => host::install(args),
        Verb::Host(HostVerb::Uninstall(Lazy(args))) => host::uninstall(args),
        verb => {
            return Err(Box::new(Cli {
                global: cli.global,
                verb,
            }));
        }
    })
}

/// Run the chosen verb (not `host`: see [`dispatch_host`]); returns the exit code.
pub async fn dispatch(cli: Cli) -> Result<i32> {
    let config = Config::load()?;
    atomic_store::pull::registry::timeout::set_read_timeout(config.registry_read_timeout);
    atomic_store::unpack::expansion::set_ratio(config.layer_expansion_ratio);
    let global = &cli.global;
    atomic_store::pull::policy::set_defaults(
        global.signature_policy.clone(),
        global.registries_d.clone(),
    );
    match cli.verb {
        Verb::Run(Lazy(args)) => run::run(args, global, &config).await,
        Verb::Install(Lazy(args)) => install::install(args, global, &config).await,
        Verb::Uninstall(Lazy(args)) => uninstall::uninstall(args, global, &config).await,
        Verb::Stop(Lazy(args)) => stop::stop(args, &config).await,
        Verb::Pull(Lazy(args)) => pull::pull(args, &config).await,
        Verb::Push(Lazy(args)) => push::push(args, &config).await,
        Verb::Mount(Lazy(args)) => mount::mount(args, &config).await,
        Verb::Unmount(Lazy(args)) => mount::unmount(args, &config).await,
        Verb::Images(ImagesVerb::List(Lazy(args))) => images::list::list(args, &config).await,
        Verb::Images(ImagesVerb::Delete(Lazy(args))) => {
            images::delete::delete(args, global, &config).await
        }
        Verb::Images(ImagesVerb::Prune(Lazy(args))) => {
            images::delete::prune(args, global, &config).await
        }
        Verb::Images(ImagesVerb::Tag(Lazy(args))) => images::tag::tag(args, &config).await,
        Verb::Update(Lazy(args)) | Verb::Images(ImagesVerb::Update(Lazy(args))) => {
            images::update::update(args, &config).await
        }
        Verb::Verify(Lazy(args)) | Verb::Images(ImagesVerb::Verify(Lazy(args))) => {
            images::verify::verify(args, &config).await
        }
        Verb::Info(Lazy(args)) | Verb::Images(ImagesVerb::Info(Lazy(args))) => {
            info::info(args, &config).await
        }
        Verb::Version(Lazy(args)) | Verb::Images(ImagesVerb::Version(Lazy(args))) => {
            info::version(args, &config).await
        }
        Verb::Help(Lazy(args)) | Verb::Images(ImagesVerb::Help(Lazy(args))) => {
            help::help(args, &config).await
        }
        Verb::Containers(ContainersVerb::List(Lazy(args))) => containers::list(args, &config).await,
        Verb::Containers(ContainersVerb::Delete(Lazy(args))) => {
            containers::delete(args, global, &config).await
        }
        Verb::Containers(ContainersVerb::Update(Lazy(args))) => system::update(args, &config).await,
        Verb::Containers(ContainersVerb::Rollback(Lazy(args))) => system::rollback(args, &config),
        Verb::Diff(Lazy(args)) => diff::diff(args, &config).await,
        Verb::Scan(Lazy(args)) => scan::scan(args, &config).await,
        Verb::Top(Lazy(args)) => top::top(args, &config).await,
        Verb::Trust(verb) => trust::trust(verb, global),
        Verb::Sign(Lazy(args)) => sign::sign(args, global).await,
        Verb::Kube(verb) => kube::kube(verb, &config).await,
        Verb::Network(verb) => network::network(verb, &config),
        Verb::App(verb) => app::app(verb, &config).await,
        Verb::Host(_) | Verb::HostStatus(_) | Verb::HostUpgrade(_) | Verb::HostRollback(_) => {
            unreachable!("main runs the host verbs through dispatch_host")
        }
        Verb::Completion(Lazy(args)) => docs::completion(args),
        Verb::GenerateMan(Lazy(args)) => docs::man(args),
        Verb::SuperviseContainer(Lazy(args)) => supervise_container::supervise(args),
        Verb::NativeDocker(Lazy(args)) => native_docker::native_docker(args, &config).await,
    }
}

/// Split `IMAGE [ARG]…` taken with hyphen values allowed (so the arguments after the image may
/// look like flags): an unknown flag *before* the image must still be a usage error, not an
/// image called `--bogus`.
pub fn split_target(args: &[String]) -> (&str, &[String]) {
    let (first, rest) = args
        .split_first()
        .expect("clap requires at least one value");
    if first.starts_with('-') && first.len() > 1 {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::UnknownArgument,
                format!("unexpected argument '{first}' found"),
            )
            .exit();
    }
    (first, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

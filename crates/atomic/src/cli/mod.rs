//! The command line: one module per verb, each with its clap arguments and one function.

mod containers;
mod docs;
mod help;
mod host;
mod images;
mod info;
mod install;
mod mount;
mod pull;
mod run;
mod stop;
mod system;
mod top;
mod uninstall;

use anyhow::Result;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::Config;
use crate::storage::Selection;

#[derive(Parser, Debug)]
#[command(
    name = "atomic",
    version,
    disable_version_flag = true,
    disable_help_subcommand = true,
    about = "Run, install and manage containers from the labels their images carry",
    long_about = "atomic reads an image's RUN, INSTALL, UNINSTALL, STOP and HELP labels, \
                  substitutes NAME, IMAGE, OPT1-3 and environment variables, and runs the \
                  command they describe on Docker or Podman — never through a shell. Its own \
                  image store (--storage native) pulls, lists, mounts and verifies images \
                  with no daemon."
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

#[derive(Subcommand, Debug)]
enum Verb {
    /// Run a container as its image's RUN label says
    Run(run::RunArgs),
    /// Run an image's INSTALL label
    Install(install::InstallArgs),
    /// Run an image's UNINSTALL label, or remove it
    Uninstall(uninstall::UninstallArgs),
    /// Stop a container (its STOP label, else the engine's stop)
    Stop(stop::StopArgs),
    /// Pull an image into an engine (registries; archives and layouts into native)
    Pull(pull::PullArgs),
    /// Mount an image of the native storage read-only on a directory
    Mount(mount::MountArgs),
    /// Unmount what 'atomic mount' mounted
    #[command(alias = "umount")]
    Unmount(mount::UnmountArgs),
    /// Operate on images
    #[command(subcommand)]
    Images(ImagesVerb),
    /// Operate on containers
    #[command(subcommand)]
    Containers(ContainersVerb),
    /// Show the processes of running containers (every engine)
    Top(top::TopArgs),
    /// Operate on the OSTree-based host
    #[command(subcommand)]
    Host(HostVerb),
    /// atomic 1.x's spelling of 'host status'
    #[command(name = "host-status", hide = true)]
    HostStatus(host::StatusArgs),
    /// atomic 1.x's spelling of 'host upgrade'
    #[command(name = "host-upgrade", hide = true)]
    HostUpgrade(host::UpgradeArgs),
    /// atomic 1.x's spelling of 'host rollback'
    #[command(name = "host-rollback", hide = true)]
    HostRollback(host::RollbackArgs),
    /// Show an image's labels
    #[command(hide = true)]
    Info(info::InfoArgs),
    /// Show an image's name, version and release
    #[command(hide = true)]
    Version(info::VersionArgs),
    /// Show an image's help
    #[command(hide = true)]
    Help(help::HelpArgs),
    /// Check an image of the native storage against its digests
    #[command(hide = true)]
    Verify(images::verify::VerifyArgs),
    /// Print a shell completion script
    Completion(docs::CompletionArgs),
    /// Write man pages generated from this command line
    #[command(hide = true)]
    GenerateMan(docs::ManArgs),
    /// Carry out a docker command line on the native engine, as a label's would be
    #[command(hide = true)]
    NativeDocker(crate::native_cli::NativeDockerArgs),
    /// Supervise a detached container of the native engine (started by atomic itself)
    #[command(hide = true, name = crate::native_cli::SUPERVISE_VERB)]
    SuperviseContainer(crate::native_cli::SuperviseArgs),
}

#[derive(Subcommand, Debug)]
enum ImagesVerb {
    /// List images of every engine (or of --storage)
    List(images::list::ListArgs),
    /// Delete images (after asking; -y answers yes)
    Delete(images::delete::DeleteArgs),
    /// Remove dangling images (native: and every blob and layer no image needs)
    Prune(images::delete::PruneArgs),
    /// Give an image another name
    Tag(images::tag::TagArgs),
    /// Check an image of the native storage against its digests (and, with --remote, its
    /// registry)
    Verify(images::verify::VerifyArgs),
    /// Show an image's labels
    Info(info::InfoArgs),
    /// Show an image's name, version and release
    Version(info::VersionArgs),
    /// Show an image's help (help.1, README.md or its HELP label)
    Help(help::HelpArgs),
}

#[derive(Subcommand, Debug)]
enum ContainersVerb {
    /// List containers of every engine (or of --storage); running ones unless -a
    List(containers::ListArgs),
    /// Delete containers (after asking; -y answers yes)
    Delete(containers::DeleteArgs),
    /// Update a system container to its image's newest version (or --rebase to another)
    Update(system::UpdateArgs),
    /// Switch a system container back to its previous deployment
    Rollback(system::RollbackArgs),
}

#[derive(Subcommand, Debug)]
enum HostVerb {
    /// Show the host's deployments in boot order, the booted one marked
    Status(host::StatusArgs),
    /// Make the previous deployment the default (the next boot's)
    Rollback(host::RollbackArgs),
    /// Deploy the newest commit of the default deployment's origin, /etc merged
    Upgrade(host::UpgradeArgs),
    /// Deploy a given commit or version of the origin's ref as the new default
    Deploy(host::DeployArgs),
    /// Switch the origin to another ref (or bootc image), pull it and deploy it
    Rebase(host::RebaseArgs),
    /// Make /usr writable through an overlay (rpm-ostree only)
    Unlock(host::UnlockArgs),
    /// Layer packages on the host (rpm-ostree only)
    Install(host::PackagesArgs),
    /// Remove layered packages (rpm-ostree only)
    Uninstall(host::PackagesArgs),
}

/// Run a `host` verb (synchronous, no atomic.conf): `Ok(its result)`; any other verb is given
/// back for [`dispatch`].
pub fn dispatch_host(cli: Cli) -> Result<Result<i32>, Box<Cli>> {
    Ok(match cli.verb {
        Verb::Host(HostVerb::Status(args)) | Verb::HostStatus(args) => host::status(args),
        Verb::Host(HostVerb::Rollback(args)) | Verb::HostRollback(args) => host::rollback(args),
        Verb::Host(HostVerb::Upgrade(args)) | Verb::HostUpgrade(args) => host::upgrade(args),
        Verb::Host(HostVerb::Deploy(args)) => host::deploy(args),
        Verb::Host(HostVerb::Rebase(args)) => host::rebase(args),
        Verb::Host(HostVerb::Unlock(args)) => host::unlock(args),
        Verb::Host(HostVerb::Install(args)) => host::install(args),
        Verb::Host(HostVerb::Uninstall(args)) => host::uninstall(args),
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
    let global = &cli.global;
    match cli.verb {
        Verb::Run(args) => run::run(args, global, &config).await,
        Verb::Install(args) => install::install(args, global, &config).await,
        Verb::Uninstall(args) => uninstall::uninstall(args, global, &config).await,
        Verb::Stop(args) => stop::stop(args, &config).await,
        Verb::Pull(args) => pull::pull(args, &config).await,
        Verb::Mount(args) => mount::mount(args, &config).await,
        Verb::Unmount(args) => mount::unmount(args, &config).await,
        Verb::Images(ImagesVerb::List(args)) => images::list::list(args, &config).await,
        Verb::Images(ImagesVerb::Delete(args)) => {
            images::delete::delete(args, global, &config).await
        }
        Verb::Images(ImagesVerb::Prune(args)) => images::delete::prune(args, &config).await,
        Verb::Images(ImagesVerb::Tag(args)) => images::tag::tag(args, &config).await,
        Verb::Verify(args) | Verb::Images(ImagesVerb::Verify(args)) => {
            images::verify::verify(args, &config).await
        }
        Verb::Info(args) | Verb::Images(ImagesVerb::Info(args)) => info::info(args, &config).await,
        Verb::Version(args) | Verb::Images(ImagesVerb::Version(args)) => {
            info::version(args, &config).await
        }
        Verb::Help(args) | Verb::Images(ImagesVerb::Help(args)) => help::help(args, &config).await,
        Verb::Containers(ContainersVerb::List(args)) => containers::list(args, &config).await,
        Verb::Containers(ContainersVerb::Delete(args)) => {
            containers::delete(args, global, &config).await
        }
        Verb::Containers(ContainersVerb::Update(args)) => system::update(args, &config).await,
        Verb::Containers(ContainersVerb::Rollback(args)) => system::rollback(args, &config),
        Verb::Top(args) => top::top(args, &config).await,
        Verb::Host(_) | Verb::HostStatus(_) | Verb::HostUpgrade(_) | Verb::HostRollback(_) => {
            unreachable!("main runs the host verbs through dispatch_host")
        }
        Verb::Completion(args) => docs::completion(args),
        Verb::GenerateMan(args) => docs::man(args),
        Verb::SuperviseContainer(args) => crate::native_cli::supervise(args),
        Verb::NativeDocker(args) => crate::native_cli::native_docker(args, &config).await,
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

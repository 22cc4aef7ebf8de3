//! Creating a native container from a `docker run`/`create` command line: its directory and
//! record, the image pinned, the files it sees at /etc/hosts and friends, and its OCI config.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use atomic_runtime::dockercli::{NetworkMode, RestartPolicy, RunRequest};
use atomic_runtime::host::{DeviceInfo, Host, SystemHost};
use atomic_runtime::logs::{LogConfig, LogDriver, TagInfo};
use atomic_runtime::network::{self, NetworkDriver};
use atomic_runtime::rootfs::Rootfs;
use atomic_runtime::spec::{self, ContainerFiles, SpecInput};
use atomic_runtime::state::{Lifecycle, Record, Restart, new_id, now};
use atomic_runtime::{Runner, caps::CapSet};
use atomic_store::{Store, StoredImage};
use oci_spec::runtime::PosixRlimitType;

use super::{NativeEngine, native, rootfs};

impl NativeEngine {
    /// Create the container `request` describes (not started), of `image`: what the caller
    /// resolved `request.image` to (see [`NativeEngine::resolve`]). `env` are the variables
    /// atomic sets for a label command: a bare `-e NAME` takes its value from them, as it would
    /// from the environment of a `docker` process.
    /// The default network's subnet: atomic.conf `default_network_subnet`, checked.
    fn default_subnet(&self) -> crate::Result<ipnet::Ipv4Net> {
        let text = self
            .default_subnet
            .as_deref()
            .unwrap_or(atomic_runtime::network::DEFAULT_SUBNET);
        text.parse().map_err(|_| {
            native(anyhow::anyhow!(
                "atomic.conf default_network_subnet '{text}' is not an IPv4 subnet (like \
                 10.90.0.0/16)"
            ))
        })
    }

    /// The network driver: atomic.conf `network_driver`, checked; the built-in one by default.
    fn network_driver(&self) -> crate::Result<NetworkDriver> {
        match self.network_driver.as_deref() {
            None => Ok(NetworkDriver::Builtin),
            Some(text) => text
                .parse()
                .map_err(|e| native(anyhow::anyhow!("atomic.conf network_driver: {e}"))),
        }
    }

    pub fn create_container(
        &self,
        request: &RunRequest,
        image: (Store, StoredImage),
        env: &[(String, String)],
    ) -> crate::Result<(Runner, Record)> {
        // Checked before anything is made: without root, mounting the root filesystem (and a
        // bridge network) fails halfway with a bare EPERM.
        if !rustix::process::geteuid().is_root() {
            return Err(native(anyhow::anyhow!(
                "the built-in engine runs containers as root only (it has no user namespaces \
                 yet): run atomic as root, or use rootless Podman (`--storage podman`, with the \
                 podman and slirp4netns packages installed)"
            )));
        }
        let runner = self.runner_creating()?;
        let request = &self.resolve_log_driver(request).map_err(native)?;
        let networking = Networking {
            default_subnet: self.default_subnet()?,
            driver: self.network_driver()?,
        };
        let created = create(&runner, image, request, env, networking).map_err(native)?;
        Ok((runner, created))
    }
}

impl NativeEngine {
    /// `request` with atomic.conf's `log_driver` when it names none itself.
    fn resolve_log_driver(&self, request: &RunRequest) -> Result<RunRequest> {
        if let Some(driver @ (LogDriver::Journald | LogDriver::JsonFile)) = request.log_driver
            && !request.detach
            && !request.create_only
        {
            // Said rather than done silently: Docker would log a foreground run too.
            tracing::warn!(
                "--log-driver {driver}: the built-in engine logs detached containers (-d); this \
                 foreground run's output goes to the terminal only"
            );
        }
        let mut request = request.clone();
        if request.log_driver.is_none()
            && let Some(default) = &self.log_driver
        {
            let driver = default
                .parse::<LogDriver>()
                .map_err(|e| anyhow::anyhow!("log_driver in atomic.conf: {e}"))?;
            request.log_driver = Some(driver);
        }
        Ok(request)
    }
}

/// atomic.conf's network settings, checked.
struct Networking {
    default_subnet: ipnet::Ipv4Net,
    driver: NetworkDriver,
}

fn create(
    runner: &Runner,
    (store, image): (Store, StoredImage),
    request: &RunRequest,
    env: &[(String, String)],
    networking: Networking,
) -> Result<Record> {
    let id = new_id()?;
    let name = match &request.name {
        Some(name) => {
            check_name(name)?;
            name.clone()
        }
        None => format!("atomic-{}", &id[..12]),
    };
    let log = LogConfig::new(
        request.log_driver,
        &request.log_opts,
        &TagInfo {
            id: id.clone(),
            name: name.clone(),
            image_name: request.image.clone(),
            image_id: image.id().to_string(),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    // A driver that cannot log here (journald not running) stops the run before anything is
    // made.
    log.check_available()?;
    let config = image.config.config().clone();
    let mut record = Record {
        id: id.clone(),
        name,
        image: request.image.clone(),
        image_id: image.id().to_string(),
        manifest_digest: image.manifest_digest.to_string(),
        created: now(),
        command: Vec::new(),
        // As with docker, a container's labels are its image's, then its own `-l`s.
        labels: image
            .labels()
            .into_iter()
            .chain(request.labels.iter().cloned())
            .collect(),
        layers: image.layer_dirs(&store)?,
        tty: request.tty,
        interactive: request.interactive,
        auto_remove: request.remove,
        stop_signal: request
            .stop_signal
            .clone()
            .or_else(|| config.as_ref().and_then(|c| c.stop_signal().clone())),
        stop_timeout: request.stop_timeout,
        restart: restart(request.restart),
        runtime: runner.runtime.name(),
        log,
        state: Lifecycle::Created,
        network: None,
    };
    let exposed: Vec<String> = config
        .as_ref()
        .and_then(|c| c.exposed_ports().clone())
        .unwrap_or_default();
    let shared = shared_network(runner, request)?;
    // The address is allocated now (and the free host ports chosen): everything after this
    // gives it back on failure.
    record.network = network::attach::plan(
        &runner.networks,
        &network::attach::PlanInput {
            id: &id,
            request,
            image_exposed: &exposed,
            default_subnet: networking.default_subnet,
            live: &|other| network::attach::is_live(runner, other),
            driver: networking.driver,
            driver_in_use: &|net| network::attach::driver_in_use(runner, net),
        },
    )?;
    let made =
        network::links::hosts_entries(runner, record.network.as_ref(), request).and_then(|links| {
            finish_create(
                runner,
                &store,
                &image,
                record,
                request,
                config.as_ref(),
                env,
                (shared, &links),
            )
        });
    if made.is_err() {
        runner.networks.release(&id).ok();
    }
    made
}

/// For `--network container:NAME`: that container's kept network namespace, and the files
/// (/etc/hosts, /etc/resolv.conf) its processes see.
struct SharedNetwork {
    netns: PathBuf,
    hosts: String,
    resolv_conf: String,
}

fn shared_network(runner: &Runner, request: &RunRequest) -> Result<Option<SharedNetwork>> {
    let NetworkMode::Container(name) = &request.network else {
        return Ok(None);
    };
    let other = runner
        .containers
        .find(name)?
        .with_context(|| format!("--network container:{name}: no such container"))?;
    let dir = runner.containers.dir(&other.id);
    let netns = network::attach::netns_of(&dir).with_context(|| {
        format!(
            "--network container:{name}: that container has no network to share (it must be \
             running, on a bridge network)"
        )
    })?;
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    Ok(Some(SharedNetwork {
        netns,
        hosts: read("hosts"),
        resolv_conf: read("resolv.conf"),
    }))
}

#[allow(clippy::too_many_arguments)]
fn finish_create(
    runner: &Runner,
    store: &Store,
    image: &StoredImage,
    mut record: Record,
    request: &RunRequest,
    config: Option<&oci_spec::image::Config>,
    env: &[(String, String)],
    network: (Option<SharedNetwork>, &[(String, std::net::IpAddr)]),
) -> Result<Record> {
    let id = record.id.clone();
    // The bundle is made in memory first (its paths are known from the ID): the record is
    // then complete when it is first written, and written once; a container whose config
    // cannot be made leaves nothing behind.
    let bundle = Bundle::new(
        &runner.containers.dir(&id),
        &record,
        request,
        config,
        env,
        network,
    )?;
    record.command = bundle.command();
    let env = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.env().clone())
        .unwrap_or_default();
    record
        .log
        .add_attrs(&request.log_opts, &record.labels, &env);
    record.layers = with_init_layer(
        store,
        &runner.containers.dir(&id),
        &record.layers,
        &bundle.spec,
    );

    // The image is pinned before the record exists: a prune between the two could otherwise
    // take the layers of a container about to use them.
    store.pin(&id, &image.manifest_digest)?;
    let created = {
        let _names = runner.containers.names_lock()?;
        runner.containers.create(&record)
    };
    if let Err(e) = created.and_then(|_| bundle.write(request)) {
        // Nothing of a container that cannot run is kept.
        runner.containers.remove_dir(&id).ok();
        store.unpin(&id).ok();
        return Err(e);
    }
    Ok(record)
}

/// `layers` (bottom first) with the image's init layer on top (initlayer.rs): the mount points
/// of `spec` the image lacks, shared by its containers. Without one (nothing missing, no room in
/// overlayfs's options for another layer, or it could not be made) runc makes them in the
/// container's upper directory, as it always could.
fn with_init_layer(
    store: &Store,
    dir: &Path,
    layers: &[PathBuf],
    spec: &oci_spec::runtime::Spec,
) -> Vec<PathBuf> {
    let destinations: Vec<String> = spec
        .mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    match super::initlayer::ensure(&store.root().join("init"), layers, &destinations) {
        Ok(Some(init)) => {
            let with: Vec<PathBuf> = layers.iter().cloned().chain([init]).collect();
            if Rootfs::in_dir(dir, with.clone(), false).options().is_ok() {
                return with;
            }
        }
        Ok(None) => {}
        Err(e) => tracing::debug!("no init layer: {e:#}"),
    }
    layers.to_vec()
}

/// What goes into a container's directory besides its record: the files it sees at
/// /etc/hosts, /etc/hostname and /etc/resolv.conf, and its OCI config.
struct Bundle {
    files: ContainerFiles,
    hosts: String,
    hostname: String,
    resolv_conf: String,
    spec: oci_spec::runtime::Spec,
    config_path: PathBuf,
}

impl Bundle {
    /// The bundle of a container to be created in `dir` (nothing is written). `network`: the
    /// namespace shared by `--network container:…`, and `--link`'s `/etc/hosts` entries.
    fn new(
        dir: &Path,
        record: &Record,
        request: &RunRequest,
        image: Option<&oci_spec::image::Config>,
        env: &[(String, String)],
        (shared, links): (Option<SharedNetwork>, &[(String, std::net::IpAddr)]),
    ) -> Result<Bundle> {
        network::attach::check_add_hosts(record.network.as_ref(), request)?;
        let host_net = matches!(request.network, NetworkMode::Host);
        let hostname = match (&request.hostname, host_net) {
            (Some(h), _) => h.clone(),
            (None, true) => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "localhost".to_string()),
            (None, false) => atomic_runtime::state::short_id(&record.id).to_string(),
        };
        let files = ContainerFiles {
            hosts: Some(dir.join("hosts")),
            hostname: Some(dir.join("hostname")),
            resolv_conf: Some(dir.join("resolv.conf")),
        };
        let mut layers = record.layers.clone();
        layers.reverse();
        let read_image_file = |path: &str| rootfs::read_file(&layers, path).ok().flatten();
        let host = LabelHost { env };
        let input = SpecInput {
            request,
            image,
            rootfs: &dir.join("rootfs"),
            hostname: &hostname,
            files: files.clone(),
            read_image_file: &read_image_file,
            extra_env: &[],
        };
        let mut spec = spec::build(&input, &host)?;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let (hosts, resolv_conf) = if host_net {
            (
                std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
                host_resolv,
            )
        } else if let Some(shared) = &shared {
            spec::join_network_namespace(&mut spec, &shared.netns);
            (shared.hosts.clone(), shared.resolv_conf.clone())
        } else {
            if record.network.is_some() {
                spec::join_network_namespace(&mut spec, &network::netns::path_in(dir));
            }
            // Without a network there is no server to ask, but programs still read the file.
            network::attach::etc_files(
                record.network.as_ref(),
                request,
                links,
                &hostname,
                &host_resolv,
            )
        };
        Ok(Bundle {
            files,
            hosts,
            hostname: format!("{hostname}\n"),
            resolv_conf,
            spec,
            config_path: dir.join("config.json"),
        })
    }

    /// The process's argv.
    fn command(&self) -> Vec<String> {
        self.spec
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default()
    }

    /// Write the bundle into the container's directory (which exists), and create the missing
    /// sources of its `-v` volumes.
    fn write(&self, request: &RunRequest) -> Result<()> {
        let texts = [
            (&self.files.hosts, &self.hosts),
            (&self.files.hostname, &self.hostname),
            (&self.files.resolv_conf, &self.resolv_conf),
        ];
        for (path, text) in texts {
            if let Some(path) = path {
                std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        for source in request.sources_to_create() {
            // docker's -v creates a missing host directory (a file, a symlink — even a
            // dangling one — is used as it is); --mount does not.
            if std::fs::symlink_metadata(source).is_ok() {
                continue;
            }
            std::fs::create_dir_all(source)
                .with_context(|| format!("creating the volume source {}", source.display()))?;
        }
        self.spec
            .save(&self.config_path)
            .context("writing the container's config.json")
    }
}

/// docker's rule for container names.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        bail!("invalid container name '{name}': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    Ok(())
}

fn restart(policy: RestartPolicy) -> Restart {
    match policy {
        RestartPolicy::No => Restart::No,
        RestartPolicy::Always => Restart::Always,
        RestartPolicy::UnlessStopped => Restart::UnlessStopped,
        RestartPolicy::OnFailure { max_retries } => Restart::OnFailure {
            max_retries: max_retries.unwrap_or(0),
        },
    }
}

/// The real host, with the label's variables in front of the environment.
struct LabelHost<'a> {
    env: &'a [(String, String)],
}

impl Host for LabelHost<'_> {
    fn bounding_set(&self) -> CapSet {
        SystemHost.bounding_set()
    }
    fn hard_limit(&self, kind: PosixRlimitType) -> Option<u64> {
        SystemHost.hard_limit(kind)
    }
    fn env(&self, key: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| SystemHost.env(key))
    }
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        SystemHost.read_file(path)
    }
    fn device(&self, path: &Path) -> io::Result<DeviceInfo> {
        SystemHost.device(path)
    }
    fn seccomp_profile(&self) -> Option<Vec<u8>> {
        SystemHost.seccomp_profile()
    }
    fn init_binary(&self) -> Option<PathBuf> {
        SystemHost.init_binary()
    }
    fn mount_cgroup(&self) -> bool {
        SystemHost.mount_cgroup()
    }
    fn kernel_version(&self) -> Option<(u32, u32)> {
        SystemHost.kernel_version()
    }
}

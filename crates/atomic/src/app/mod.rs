//! Meta images: Nulecule applications run, stopped and removed by atomic itself — no Atomic
//! App container. The model and rendering are `atomic-app`'s; here are the I/O: unpacking
//! (`source`), asking (`prompt`), the providers (`containers` on an engine, `kube` with
//! kubectl) and what is kept per application (`state`).

pub mod containers;
pub mod kube;
pub mod prompt;
pub mod source;
pub mod state;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use atomic_app::{Answers, App, GENERAL, Sources, Values};
use atomic_engine::{Engine, EngineKind};

use crate::command::Program;
use crate::config::Config;
use crate::storage::Selection;
use state::State;

/// Where an application's components run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `docker` artifacts on an engine.
    Engine(EngineKind),
    Kube {
        openshift: bool,
    },
}

impl Provider {
    pub fn parse(name: &str) -> Result<Provider> {
        Ok(match name {
            "docker" => Provider::Engine(EngineKind::Docker),
            "podman" => Provider::Engine(EngineKind::Podman),
            "native" | "ostree" => Provider::Engine(EngineKind::Native),
            "kubernetes" => Provider::Kube { openshift: false },
            "openshift" => Provider::Kube { openshift: true },
            "marathon" => bail!(
                "provider 'marathon' is not supported; choose docker, podman, native, kubernetes \
                 or openshift"
            ),
            other => bail!(
                "'{other}' is not a provider; choose docker, podman, native, kubernetes or \
                 openshift"
            ),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::Engine(kind) => kind.as_str(),
            Provider::Kube { openshift: false } => "kubernetes",
            Provider::Kube { openshift: true } => "openshift",
        }
    }

    /// The artifact list a component is rendered from.
    pub fn artifacts_key(self) -> &'static str {
        match self {
            Provider::Engine(_) => "docker",
            Provider::Kube { openshift } => {
                if openshift {
                    "openshift"
                } else {
                    "kubernetes"
                }
            }
        }
    }
}

/// The user's options for an application.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub provider: Option<String>,
    pub namespace: Option<String>,
    pub answers: Option<PathBuf>,
    pub set: Vec<String>,
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
    pub create_namespace: bool,
    pub display: bool,
    pub quiet: bool,
}

/// An application unpacked in a directory (a temporary one until it is deployed).
pub struct Unpacked {
    pub app: App,
    /// The image or directory, as given.
    pub source: String,
    /// The engine that holds the application image (None: a local directory).
    pub image_engine: Option<EngineKind>,
    _tmp: tempfile::TempDir,
}

/// Unpack the application `source` names: a local directory, or an image `engine` holds.
pub async fn unpack(
    source: &str,
    engine: Option<&Engine>,
    fallback: &Engine,
    quiet: bool,
) -> Result<Unpacked> {
    let tmp = tempfile::Builder::new()
        .prefix("atomic-app-")
        .tempdir()
        .context("making a temporary directory for the application")?;
    let dir = tmp.path().join(state::APP_DIR);
    let chain = match (source::local_dir(source), engine) {
        (Some(local), _) => {
            source::copy_dir(&local, &dir)?;
            Vec::new()
        }
        (None, Some(engine)) => {
            source::extract(engine, source, &dir).await?;
            vec![source.to_string()]
        }
        (None, None) => bail!("'{source}' is neither a directory with a Nulecule nor an image"),
    };
    let nested_engine = engine.unwrap_or(fallback);
    source::nested(&dir, nested_engine, &chain, quiet).await?;
    let app = App::load(&dir)?;
    atomic_label::validate_name(app.id())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("the application's id '{}'", app.id()))?;
    let source = match source::local_dir(source) {
        Some(local) => std::fs::canonicalize(&local)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| source.to_string()),
        None => source.to_string(),
    };
    Ok(Unpacked {
        app,
        source,
        image_engine: engine.map(Engine::kind),
        _tmp: tmp,
    })
}

/// The answers file (`--answers`, else the application's own `answers.conf`) and `--set`.
fn answers(app: &App, opts: &Options) -> Result<(Answers, Answers)> {
    let file = match &opts.answers {
        Some(path) => read_answers(path)?,
        None => {
            let own = app.dir.join("answers.conf");
            if own.is_file() {
                read_answers(&own)?
            } else {
                Answers::default()
            }
        }
    };
    let mut set = Answers::default();
    for s in &opts.set {
        set.add_set(s)?;
    }
    if let Some(ns) = &opts.namespace {
        set.set(GENERAL, "namespace", Some(ns.clone()));
    }
    Ok((file, set))
}

fn read_answers(path: &Path) -> Result<Answers> {
    let text = atomic_app::app::read_text(path)?;
    Answers::parse(&text).with_context(|| format!("reading answers {}", path.display()))
}

/// `--provider`, else a provider given as a value, else `--storage`, else the engine that
/// holds the application image, else the application's own `provider` default, else native.
fn choose_provider(
    u: &Unpacked,
    opts: &Options,
    selection: &Selection,
    file: &Answers,
    set: &Answers,
) -> Result<Provider> {
    if let Some(p) = &opts.provider {
        return Provider::parse(p);
    }
    if let Some(p) = set
        .get(GENERAL, "provider")
        .or(file.get(GENERAL, "provider"))
    {
        return Provider::parse(p);
    }
    if let Some(kind) = selection.explicit.or(u.image_engine) {
        return Ok(Provider::Engine(kind));
    }
    if let Some(default) = u
        .app
        .nulecule
        .global("provider")
        .and_then(|p| p.default.as_ref())
    {
        return Provider::parse(&default.to_string());
    }
    Ok(Provider::Engine(EngineKind::Native))
}

/// `atomic run APP`.
pub async fn run(
    source_name: &str,
    image_engine: Option<&Engine>,
    opts: &Options,
    selection: &Selection,
    config: &Config,
) -> Result<i32> {
    let fallback_kind = selection.explicit.unwrap_or(EngineKind::Native);
    let fallback = selection.connect(fallback_kind)?;
    let u = unpack(source_name, image_engine, &fallback, opts.quiet).await?;
    let (file, mut set) = answers(&u.app, opts)?;
    let provider = choose_provider(&u, opts, selection, &file, &set)?;
    set.set(GENERAL, "provider", Some(provider.name().to_string()));
    let values = atomic_app::resolve::resolve(
        &u.app,
        &Sources {
            set: &set,
            file: &file,
        },
        &mut prompt::Terminal,
    )?;
    let namespace = values.general("namespace").unwrap_or("default").to_string();
    let mut state = State {
        id: u.app.id().to_string(),
        name: u.app.nulecule.metadata.name.clone(),
        source: u.source.clone(),
        provider: provider.name().to_string(),
        namespace,
        kubeconfig: opts.kubeconfig.clone(),
        context: opts.context.clone(),
        status: "running".into(),
        ..Default::default()
    };
    if !opts.display
        && let Some(previous) = state::find(&state.id)?
    {
        if previous.status == "running" {
            bail!(
                "application '{}' is running ({}): 'atomic stop {}' first",
                state.id,
                previous.provider,
                state.id
            );
        }
        state.containers = previous.containers;
    }
    match provider {
        Provider::Engine(kind) => {
            run_on_engine(&u, &values, kind, state, opts, selection, config).await
        }
        Provider::Kube { openshift } => run_on_kube(&u, &values, openshift, state, opts),
    }
}

async fn run_on_engine(
    u: &Unpacked,
    values: &Values,
    kind: EngineKind,
    mut state: State,
    opts: &Options,
    selection: &Selection,
    config: &Config,
) -> Result<i32> {
    let engine = selection.connect(kind)?;
    let program = Program::for_engine(&engine, config);
    let steps = containers::plan(&u.app, values, kind.as_str(), &program, opts.quiet)?;
    if opts.display {
        for step in &steps {
            crate::output::line(&format!("# component {}", step.component))?;
            crate::output::line(&atomic_label::join(&step.shown))?;
        }
        return Ok(0);
    }
    containers::clear_names(&engine, &steps, &state).await?;
    containers::volumes(&engine, &program, &u.app, opts.quiet)?;
    state.images = containers::pull_all(&engine, &steps, opts.quiet).await?;
    keep(&u.app, values, &state)?;
    let result = containers::start(&engine, &steps, &mut state, opts.quiet).await;
    finish(&mut state, result)?;
    Ok(0)
}

fn run_on_kube(
    u: &Unpacked,
    values: &Values,
    openshift: bool,
    mut state: State,
    opts: &Options,
) -> Result<i32> {
    let provider = Provider::Kube { openshift }.artifacts_key();
    let planned = kube::plan(&u.app, values, provider, &state.namespace)?;
    if opts.display {
        for p in &planned {
            crate::output::line(&format!("# component {}", p.component))?;
            crate::output::text_out(&serde_norway::to_string(&p.shown)?)?;
            crate::output::line("---")?;
        }
        return Ok(0);
    }
    let kubectl = kube::Kubectl::find(openshift, &state)?;
    keep(&u.app, values, &state)?;
    let result = kube::apply(
        &kubectl,
        &planned,
        &mut state,
        opts.create_namespace,
        opts.quiet,
    );
    finish(&mut state, result)?;
    Ok(0)
}

/// Record the application before anything starts: its files and its values (mode 0600).
fn keep(app: &App, values: &Values, state: &State) -> Result<()> {
    let dir = state.dir();
    let kept = dir.join(state::APP_DIR);
    if kept.exists() {
        std::fs::remove_dir_all(&kept).with_context(|| format!("removing {}", kept.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    source::copy_dir(&app.dir, &kept)?;
    let order = atomic_app::resolve::section_order(app);
    state::write_private(
        &dir.join(state::VALUES),
        values.to_answers().to_ini(&order).as_bytes(),
    )?;
    state.save()
}

/// Save the outcome; a failed first run leaves no record behind.
fn finish(state: &mut State, result: Result<()>) -> Result<()> {
    match result {
        Ok(()) => {
            state.status = "running".into();
            state.save()
        }
        Err(e) => {
            if let Err(cleanup) = std::fs::remove_dir_all(state.dir()) {
                eprintln!("warning: removing {}: {cleanup}", state.dir().display());
            }
            Err(e)
        }
    }
}

/// `atomic stop APP` when APP is a deployed application: `Ok(None)` otherwise.
pub async fn stop(
    name: &str,
    selection: &Selection,
    display: bool,
    quiet: bool,
) -> Result<Option<i32>> {
    let Some(mut state) = state::find(name)? else {
        return Ok(None);
    };
    if display {
        show_parts(&state, "stop")?;
        return Ok(Some(0));
    }
    match Provider::parse(&state.provider)? {
        Provider::Engine(kind) => {
            let engine = selection.connect(kind)?;
            containers::stop(&engine, &state, quiet).await?;
        }
        Provider::Kube { openshift } => {
            let kubectl = kube::Kubectl::find(openshift, &state)?;
            kube::delete(&kubectl, &state.objects, false);
            state.objects.retain(|o| o.kind == "PersistentVolumeClaim");
        }
    }
    state.status = "stopped".into();
    state.save()?;
    Ok(Some(0))
}

/// `atomic uninstall APP [--images]` when APP is a deployed application: `Ok(None)` otherwise.
pub async fn uninstall(
    name: &str,
    selection: &Selection,
    images: bool,
    display: bool,
    quiet: bool,
) -> Result<Option<i32>> {
    let Some(state) = state::find(name)? else {
        return Ok(None);
    };
    if display {
        show_parts(&state, "remove")?;
        return Ok(Some(0));
    }
    match Provider::parse(&state.provider)? {
        Provider::Engine(kind) => {
            let engine = selection.connect(kind)?;
            containers::stop(&engine, &state, true).await?;
            let names: Vec<String> = state
                .containers
                .iter()
                .rev()
                .map(|c| c.name.clone())
                .collect();
            for removed in containers::remove(&engine, &names).await {
                if !quiet {
                    crate::output::line(&removed)?;
                }
            }
            if images {
                remove_images(&engine, &state, quiet).await?;
            }
        }
        Provider::Kube { openshift } => {
            let kubectl = kube::Kubectl::find(openshift, &state)?;
            kube::delete(&kubectl, &state.objects, false);
        }
    }
    let dir = state.dir();
    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(Some(0))
}

/// The application's images that no other application and no container uses.
async fn remove_images(engine: &Engine, state: &State, quiet: bool) -> Result<()> {
    let others: Vec<String> = state::all()?
        .into_iter()
        .filter(|s| s.id != state.id)
        .flat_map(|s| s.images)
        .collect();
    for image in &state.images {
        if others.contains(image) {
            continue;
        }
        let Some(info) = engine.image(image).await? else {
            continue;
        };
        if !engine.containers_of_image(&info.id).await?.is_empty() {
            if !quiet {
                eprintln!("keeping image {image}: a container uses it");
            }
            continue;
        }
        engine
            .remove_image(image, false)
            .await
            .with_context(|| format!("removing image {image}"))?;
        if !quiet {
            crate::output::line(&format!("removed image {image}"))?;
        }
    }
    Ok(())
}

/// `--display` of stop and uninstall: what would be stopped or removed, in that order.
fn show_parts(state: &State, verb: &str) -> Result<()> {
    for c in state.containers.iter().rev() {
        crate::output::line(&format!("{verb} container {} ({})", c.name, c.component))?;
    }
    for o in state.objects.iter().rev() {
        crate::output::line(&format!("delete {}/{} ({})", o.kind, o.name, o.component))?;
    }
    Ok(())
}

//! The docker provider on any engine: each component's `docker run …` artifacts, rendered and
//! carried out by the selected engine exactly as a label's command is (Docker and Podman: their
//! CLI; native: atomic's own executor of docker command lines).

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};

use atomic_app::{App, Values, render};
use atomic_engine::{Engine, EngineKind};

use super::state::{APP_LABEL, Started, State};
use crate::command::{OptArgs, Prepared, Program};

/// One container to start.
#[derive(Debug, Clone)]
pub struct Step {
    pub component: String,
    pub argv: Vec<String>,
    /// The argv with hidden values masked, for what is printed.
    pub shown: Vec<String>,
    pub name: String,
    pub image: Option<String>,
}

/// Render every component's docker artifacts, in graph order, for `program`.
pub fn plan(
    app: &App,
    values: &Values,
    provider: &str,
    program: &Program,
    quiet: bool,
) -> Result<Vec<Step>> {
    let id = app.id();
    let mut steps = Vec::new();
    let mut names = BTreeSet::new();
    for c in app.components() {
        let ctx = values.context(&c.section, &c.app_section);
        let key = if c.item.artifacts.contains_key(provider) {
            provider
        } else {
            "docker"
        };
        let files = c.app.artifacts(c.item, key)?;
        for (i, file) in files.iter().enumerate() {
            let text = atomic_app::app::read_text(file)?;
            let default = format!("{id}_{}_{}", c.section.replace(':', "_"), i + 1);
            let shown_path = file.strip_prefix(&c.app.dir).unwrap_or(file);
            let what = || {
                format!(
                    "component '{}', artifact {}",
                    c.section,
                    shown_path.display()
                )
            };
            let run = render::docker_run(&text, &ctx, &default, false).with_context(what)?;
            let shown = render::docker_run(&text, &ctx, &default, true).with_context(what)?;
            for note in run.notes.iter().filter(|_| !quiet) {
                eprintln!("note: {}: {note}", what());
            }
            if !names.insert(run.name.clone()) {
                bail!(
                    "{}: two containers of the application are called '{}'",
                    what(),
                    run.name
                );
            }
            let mut argv = labelled(run.argv, id);
            let mut shown = labelled(shown.argv, id);
            program.rewrite(&mut argv);
            program.rewrite(&mut shown);
            let sub = atomic_label::subcommand(&argv).unwrap_or(1);
            let image = atomic_label::parse_run(&argv[sub + 1..]).image;
            steps.push(Step {
                component: c.section.clone(),
                argv,
                shown,
                name: run.name,
                image,
            });
        }
    }
    Ok(steps)
}

/// `--label io.projectatomic.nulecule.app=ID` after `run`: how `containers list` tells an
/// application's containers.
fn labelled(mut argv: Vec<String>, id: &str) -> Vec<String> {
    let sub = atomic_label::subcommand(&argv).unwrap_or(1);
    argv.splice(
        sub + 1..sub + 1,
        ["--label".to_string(), format!("{APP_LABEL}={id}")],
    );
    argv
}

/// Pull every image the steps use that the engine lacks, at once (Podman one at a time: 4.3
/// loses updates to its image store when several podman processes write it together).
pub async fn pull_all(engine: &Engine, steps: &[Step], quiet: bool) -> Result<Vec<String>> {
    let mut images: Vec<String> = Vec::new();
    for image in steps.iter().filter_map(|s| s.image.clone()) {
        if !images.contains(&image) {
            images.push(image);
        }
    }
    let mut missing = Vec::new();
    for image in &images {
        if engine.image(image).await?.is_none() {
            missing.push(image.clone());
        }
    }
    if missing.is_empty() {
        return Ok(images);
    }
    if !quiet {
        eprintln!("Pulling {} into {}", missing.join(", "), engine.kind());
    }
    let opts = atomic_store::PullOptions {
        quiet: true,
        ..Default::default()
    };
    let pull = |image: String| {
        let opts = &opts;
        async move {
            engine
                .pull(&image, opts)
                .await
                .with_context(|| format!("pulling {image}"))
        }
    };
    let started = std::time::Instant::now();
    let count = missing.len();
    if engine.kind() == EngineKind::Podman {
        for image in missing {
            pull(image).await?;
        }
    } else if let Engine::Native(native) = engine {
        // atomic runs on one thread, and a native pull spends most of its time hashing and
        // unpacking: each pull gets a thread (and a runtime) of its own to run at once.
        std::thread::scope(|scope| {
            let tasks: Vec<_> = missing
                .iter()
                .map(|image| {
                    let opts = &opts;
                    scope.spawn(move || pull_native(native, image, opts))
                })
                .collect();
            tasks.into_iter().try_for_each(|t| match t.join() {
                Ok(result) => result,
                Err(_) => bail!("a pull thread failed"),
            })
        })?;
    } else {
        let results = futures_util::future::join_all(missing.into_iter().map(pull)).await;
        for r in results {
            r?;
        }
    }
    if !quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!("Pulled {count} images in {secs:.3} s");
    }
    Ok(images)
}

fn pull_native(
    native: &atomic_engine::NativeEngine,
    image: &str,
    opts: &atomic_store::PullOptions,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a pull thread's runtime")?;
    let source = atomic_store::Source::parse(image)?;
    runtime
        .block_on(native.pull(&source, opts))
        .with_context(|| format!("pulling {image}"))?;
    Ok(())
}

/// Before anything starts: a container under one of the names must be this application's
/// (left by an earlier run; it is then removed), never someone else's.
pub async fn clear_names(engine: &Engine, steps: &[Step], state: &State) -> Result<()> {
    for step in steps {
        let Some(c) = engine.container(&step.name).await? else {
            continue;
        };
        let ours = c.labels.get(APP_LABEL) == Some(&state.id)
            || state.containers.iter().any(|s| s.name == step.name);
        if !ours {
            bail!(
                "a container called '{}' exists and is not part of application '{}': remove or \
                 rename it first",
                step.name,
                state.id
            );
        }
        if c.running {
            bail!(
                "container '{}' of application '{}' is running: 'atomic stop {}' first",
                step.name,
                state.id,
                state.id
            );
        }
        engine
            .remove_container(&c.id, true)
            .await
            .with_context(|| format!("removing the earlier run's container '{}'", step.name))?;
    }
    Ok(())
}

/// Start the steps in order. On a failure, what this run started is stopped and removed in
/// reverse, and the error names the component.
pub async fn start(engine: &Engine, steps: &[Step], state: &mut State, quiet: bool) -> Result<()> {
    state.containers.clear();
    for step in steps {
        if !quiet {
            eprintln!("Starting component '{}'", step.component);
            crate::output::line(&atomic_label::join(&step.shown))?;
        }
        let values = crate::command::Values::new(&step.name, &state.source, &OptArgs::default());
        let prepared = Prepared::direct(step.argv.clone(), &values);
        let outcome = prepared.run_on(engine).await;
        let failure = match outcome {
            Ok(0) => None,
            Ok(code) => Some(anyhow::anyhow!("its docker run exited with code {code}")),
            Err(e) => Some(e),
        };
        if let Some(e) = failure {
            // It may have been created before failing to start.
            let mut undo: Vec<String> = vec![step.name.clone()];
            undo.extend(state.containers.iter().rev().map(|s| s.name.clone()));
            let removed = remove(engine, &undo).await;
            state.containers.clear();
            state.status = "failed".into();
            return Err(e.context(format!(
                "component '{}' of application '{}' failed to start; removed what this run \
                 had started ({})",
                step.component,
                state.id,
                removed.join(", ")
            )));
        }
        state.containers.push(Started {
            component: step.component.clone(),
            name: step.name.clone(),
        });
        state.save()?;
    }
    Ok(())
}

/// Stop and remove `names` in the order given; returns the ones that existed.
pub async fn remove(engine: &Engine, names: &[String]) -> Vec<String> {
    let mut removed = Vec::new();
    for name in names {
        match engine.container(name).await {
            Ok(Some(c)) => match engine.remove_container(&c.id, true).await {
                Ok(()) => removed.push(name.clone()),
                Err(e) => eprintln!("warning: removing container '{name}': {e}"),
            },
            Ok(None) => {}
            Err(e) => eprintln!("warning: looking for container '{name}': {e}"),
        }
    }
    removed
}

/// Stop the application's containers in reverse start order.
pub async fn stop(engine: &Engine, state: &State, quiet: bool) -> Result<()> {
    for started in state.containers.iter().rev() {
        let Some(c) = engine.container(&started.name).await? else {
            if !quiet {
                eprintln!("container '{}' is gone", started.name);
            }
            continue;
        };
        if c.running {
            engine
                .stop(&c.id)
                .await
                .with_context(|| format!("stopping '{}' ({})", started.name, started.component))?;
        }
        if !quiet {
            crate::output::line(&started.name)?;
        }
    }
    Ok(())
}

/// persistentVolume requirements as named volumes of the engine (created when missing, kept by
/// stop and uninstall: they hold data). The native engine has no named volumes yet: said, and
/// skipped.
pub fn volumes(engine: &Engine, program: &Program, app: &App, quiet: bool) -> Result<()> {
    for (_, sub) in app.apps() {
        for req in sub.nulecule.requirements()? {
            let atomic_app::Requirement::PersistentVolume { name, .. } = req else {
                continue;
            };
            if engine.kind() == EngineKind::Native {
                eprintln!(
                    "warning: persistentVolume '{name}' of '{}': the native engine has no named \
                     volumes; skipped",
                    sub.id()
                );
                continue;
            }
            let volume = |verb: &str| {
                atomic_exec::Task::new("the engine", &program.path).args([
                    "volume",
                    verb,
                    name.as_str(),
                ])
            };
            let exists = volume("inspect").output().is_ok_and(|o| o.status.success());
            if exists {
                continue;
            }
            volume("create")
                .run()
                .with_context(|| format!("creating volume '{name}' for '{}'", sub.id()))?;
            if !quiet {
                eprintln!("Created volume {name}");
            }
        }
    }
    Ok(())
}

//! `atomic app list|genanswers`, the application flags of `atomic run`, and `atomic info` of an
//! application (Nulecule meta images; see `crate::app`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use atomic_app::{App, Scalar, Value, render};

use super::{Lazy, StorageArg};
use crate::app::{self, state};
use crate::config::Config;
use crate::output;

/// The flags of `atomic run` that apply to an application (a Nulecule meta image or directory).
#[derive(Args, Debug, Clone, Default)]
pub struct AppArgs {
    /// Application: where its components run: docker, podman, native, kubernetes or openshift
    /// (default: --storage, else the engine holding the application image)
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// Application: the namespace (kubernetes), also $namespace in artifacts
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Application: an answers file (answers.conf INI, JSON or YAML)
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Application: a value, [SECTION:]PARAM=VALUE (no section: [general]); repeatable
    #[arg(long = "set", value_name = "[SECTION:]PARAM=VALUE")]
    pub set: Vec<String>,
    /// Application on kubernetes: kubectl's --kubeconfig
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<String>,
    /// Application on kubernetes: kubectl's --context
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// Application on kubernetes: create the namespace when it does not exist
    #[arg(long)]
    pub create_namespace: bool,
}

impl AppArgs {
    pub fn options(&self, display: bool, quiet: bool) -> app::Options {
        app::Options {
            provider: self.provider.clone(),
            namespace: self.namespace.clone(),
            answers: self.answers.clone(),
            set: self.set.clone(),
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            create_namespace: self.create_namespace,
            display,
            quiet,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum AppVerb {
    /// List deployed applications
    List(Lazy<ListArgs>),
    /// Write an answers file for an application: every section and param, with its default
    Genanswers(Lazy<GenanswersArgs>),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct GenanswersArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Where to write (default ./answers.conf; - for stdout)
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace an existing file
    #[arg(short = 'f', long)]
    force: bool,
    /// The application: an image, or a directory holding a Nulecule
    app: String,
}

pub async fn app(verb: AppVerb, config: &Config) -> Result<i32> {
    match verb {
        AppVerb::List(Lazy(args)) => list(args),
        AppVerb::Genanswers(Lazy(args)) => genanswers(args, config).await,
    }
}

fn list(args: ListArgs) -> Result<i32> {
    let all = state::all()?;
    if args.json {
        output::line(&serde_json::to_string_pretty(&all)?)?;
        return Ok(0);
    }
    if all.is_empty() {
        return Ok(0);
    }
    let mut text = format!(
        "{:24} {:10} {:10} {:10} {}\n",
        "APPLICATION", "STATUS", "PROVIDER", "PARTS", "SOURCE"
    );
    for s in &all {
        let parts = s.containers.len() + s.objects.len();
        text.push_str(&format!(
            "{:24} {:10} {:10} {:<10} {}\n",
            s.id, s.status, s.provider, parts, s.source
        ));
    }
    output::text_out(&text)?;
    Ok(0)
}

/// Unpack the application `name` names: a directory, a deployed application's kept copy, or
/// an application image (pulled when missing).
async fn unpack_for_reading(
    name: &str,
    storage: &StorageArg,
    config: &Config,
) -> Result<app::Unpacked> {
    let selection = storage.selection(config)?;
    let fallback = selection.connect(
        selection
            .explicit
            .unwrap_or(atomic_engine::EngineKind::Native),
    )?;
    if app::source::local_dir(name).is_some() {
        return app::unpack(name, None, &fallback, true).await;
    }
    if let Some(s) = state::find(name)? {
        let kept = s.dir().join(state::APP_DIR);
        return app::unpack(&kept.to_string_lossy(), None, &fallback, true).await;
    }
    let target = crate::storage::find(&selection, Some(name), None).await?;
    let Some(info) = &target.image else {
        return Err(crate::storage::image_not_found(name, &selection));
    };
    if !app::source::is_app_image(&target.engine, info).await {
        bail!(
            "'{name}' is not a Nulecule application (no {} label, no /application-entity)",
            atomic_app::model::SPECVERSION_LABEL
        );
    }
    app::unpack(name, Some(&target.engine), &fallback, true).await
}

async fn genanswers(args: GenanswersArgs, config: &Config) -> Result<i32> {
    let u = unpack_for_reading(&args.app, &args.storage, config).await?;
    let template = atomic_app::resolve::template(&u.app);
    let text = template.to_ini(&atomic_app::resolve::section_order(&u.app));
    let path = args.output.unwrap_or_else(|| PathBuf::from("answers.conf"));
    if path.as_os_str() == "-" {
        output::text_out(&text)?;
        return Ok(0);
    }
    if path.exists() && !args.force {
        bail!(
            "{} exists; use --force to replace it, or -o FILE",
            path.display()
        );
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(0)
}

/// Is `name` a directory holding a Nulecule, or a deployed application?
pub fn is_local_or_deployed(name: &str) -> Result<bool> {
    Ok(app::source::local_dir(name).is_some() || state::find(name)?.is_some())
}

/// `atomic info APP` of an application: its graph, params, providers and images.
pub async fn info(name: &str, storage: &StorageArg, as_json: bool, config: &Config) -> Result<i32> {
    let u = unpack_for_reading(name, storage, config).await?;
    let deployed = state::find(&u.app.nulecule.id).ok().flatten();
    let doc = describe(&u.app, &u.source, deployed.as_ref());
    if as_json {
        output::line(&serde_json::to_string_pretty(&doc)?)?;
    } else {
        output::text_out(&text(&doc))?;
    }
    Ok(0)
}

/// The defaults a component sees, for showing its images before any value is given.
fn defaults(app: &App, section: &str, params: &[atomic_app::Param]) -> BTreeMap<String, Value> {
    let _ = section;
    app.nulecule
        .params
        .iter()
        .chain(params)
        .filter_map(|p| {
            let d = p.default.as_ref()?;
            Some((
                p.name.clone(),
                Value {
                    text: d.to_string(),
                    hidden: p.hidden,
                    default: Some(d.clone()),
                },
            ))
        })
        .collect()
}

fn describe(app: &App, source: &str, deployed: Option<&state::State>) -> serde_json::Value {
    let param = |p: &atomic_app::Param| {
        json!({
            "name": p.name,
            "description": p.description,
            "default": p.default.as_ref().map(|d| if p.hidden { Scalar::Str("******".into()) } else { d.clone() }),
            "required": p.default.is_none(),
            "hidden": p.hidden,
            "constraints": p.constraints.iter().map(|c| &c.allowed_pattern).collect::<Vec<_>>(),
        })
    };
    let components: Vec<serde_json::Value> = app
        .components()
        .iter()
        .map(|c| {
            let ctx = defaults(c.app, &c.section, &c.item.params);
            let images: Vec<String> = c
                .app
                .artifacts(c.item, "docker")
                .unwrap_or_default()
                .iter()
                .filter_map(|f| {
                    let text = atomic_app::app::read_text(f).ok()?;
                    let run = render::docker_run(&text, &ctx, "x", true).ok()?;
                    let sub = atomic_label::subcommand(&run.argv)?;
                    atomic_label::parse_run(&run.argv[sub + 1..]).image
                })
                .collect();
            json!({
                "section": c.section,
                "providers": c.item.artifacts.keys().collect::<Vec<_>>(),
                "images": images,
                "params": c.item.params.iter().map(param).collect::<Vec<_>>(),
            })
        })
        .collect();
    let m = &app.nulecule.metadata;
    json!({
        "id": app.id(),
        "name": m.name,
        "appversion": m.appversion,
        "description": m.description,
        "source": source,
        "providers": app.nulecule.providers(),
        "params": app.nulecule.params.iter().map(param).collect::<Vec<_>>(),
        "graph": components,
        "deployed": deployed,
    })
}

fn text(doc: &serde_json::Value) -> String {
    let s = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let list = |v: &serde_json::Value| {
        v.as_array()
            .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let mut out = format!("Application: {}\n", s(&doc["id"]));
    for (title, key) in [
        ("Name", "name"),
        ("Version", "appversion"),
        ("Description", "description"),
        ("Source", "source"),
    ] {
        if !doc[key].is_null() {
            out.push_str(&format!("{title}: {}\n", s(&doc[key])));
        }
    }
    out.push_str(&format!("Providers: {}\n", list(&doc["providers"])));
    if let Some(d) = doc["deployed"].as_object() {
        out.push_str(&format!(
            "Deployed: {} on {} (namespace {})\n",
            s(&d["status"]),
            s(&d["provider"]),
            s(&d["namespace"])
        ));
    }
    let params = |out: &mut String, ps: &serde_json::Value, indent: &str| {
        for p in ps.as_array().into_iter().flatten() {
            let value = if p["required"] == true {
                "(required)".to_string()
            } else {
                s(&p["default"])
            };
            let hidden = if p["hidden"] == true { " [hidden]" } else { "" };
            let about = s(&p["description"]);
            let about = if about.is_empty() {
                String::new()
            } else {
                format!("  # {about}")
            };
            out.push_str(&format!(
                "{indent}{} = {value}{hidden}{about}\n",
                s(&p["name"])
            ));
        }
    };
    out.push_str("Params [general]:\n");
    params(&mut out, &doc["params"], "  ");
    out.push_str("Components, in start order:\n");
    for (i, c) in doc["graph"].as_array().into_iter().flatten().enumerate() {
        out.push_str(&format!(
            "  {}. [{}] providers: {}\n",
            i + 1,
            s(&c["section"]),
            list(&c["providers"])
        ));
        let images = list(&c["images"]);
        if !images.is_empty() {
            out.push_str(&format!("     images: {images}\n"));
        }
        params(&mut out, &c["params"], "     ");
    }
    out
}

//! `atomic containers list` and `atomic containers delete`, across Docker, Podman and the
//! native engine, in the original's columns:
//!
//! ```text
//!    CONTAINER ID IMAGE                NAME       COMMAND    CREATED          STATE      BACKEND    RUNTIME
//!    3f2a7c9e1b04 docker.io/library/bu web        httpd -f   2026-12-02 17:04 running    native     runc
//! ```
//!
//! Only running containers are listed unless `-a`; nothing at all is printed when none is
//! shown (the original's behaviour), and `--json` prints `[]`.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;

use atomic_engine::{ContainerInfo, Engine, EngineKind};

use crate::cli::images::{confirm, engines};
use crate::cli::{GlobalArgs, StorageArg};
use crate::config::Config;
use crate::output;
use crate::storage::Selection;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Show stopped containers too
    #[arg(short = 'a', long)]
    all: bool,
    /// Show only containers whose KEY contains VALUE (container, image, command, created,
    /// state, runtime, backend); repeatable, all must match
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    filters: Vec<String>,
    /// Leave the heading out
    #[arg(short = 'n', long)]
    noheading: bool,
    /// Show whole values
    #[arg(long)]
    no_trunc: bool,
    /// Print container IDs only
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print JSON (keys: id, image_id, image_name, name, command, created, state, backend,
    /// runtime, vulnerable, running)
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Remove running containers too (they are killed first)
    #[arg(short = 'f', long)]
    force: bool,
    /// Delete every container (of --storage, or of every engine)
    #[arg(short = 'a', long, conflicts_with = "containers")]
    all: bool,
    /// Names or IDs of the containers to delete
    #[arg(value_name = "CONTAINER")]
    containers: Vec<String>,
}

/// A container and the engine it belongs to.
struct Row {
    info: ContainerInfo,
    backend: EngineKind,
    /// A system container (run by systemd; `atomic install --system`).
    system: bool,
}

impl Row {
    /// The BACKEND column: the engine, or `system` for a system container.
    fn backend_name(&self) -> &'static str {
        if self.system {
            "system"
        } else {
            self.backend.as_str()
        }
    }
}

/// Every engine's containers; an engine that cannot answer is reported and skipped, unless it
/// was asked for by name. Podman answers in a process of its own: it is started first, on a
/// blocking thread, and the other engines are asked meanwhile.
async fn gather(engines: &[Engine], explicit: bool) -> Result<Vec<Row>> {
    let mut podman = engines.iter().find_map(|e| match e {
        Engine::Podman(p) => {
            let p = p.clone();
            Some(tokio::task::spawn_blocking(move || p.list_containers()))
        }
        _ => None,
    });
    let mut rows = Vec::new();
    for engine in engines {
        let answer = match (engine, podman.take()) {
            (Engine::Podman(_), Some(task)) => match task.await {
                Ok(answer) => answer,
                Err(e) => bail!("podman container listing failed: {e}"),
            },
            (_, task) => {
                podman = task;
                engine.list_containers().await
            }
        };
        match answer {
            Ok(found) => rows.extend(found.into_iter().map(|info| Row {
                info,
                backend: engine.kind(),
                system: false,
            })),
            Err(e) if explicit => return Err(e.into()),
            Err(e) => eprintln!("warning: cannot list {} containers: {e}", engine.kind()),
        }
    }
    Ok(rows)
}

/// The system containers, when the storage choice includes native.
fn system_rows(config: &Config, selection: &Selection) -> Result<Vec<Row>> {
    if matches!(selection.explicit, Some(kind) if kind != EngineKind::Native) {
        return Ok(Vec::new());
    }
    let user = !super::system::is_root();
    let found = super::system::with_context(config, user, true, atomic_system::list::list)?;
    Ok(found
        .into_iter()
        .map(|c| Row {
            info: ContainerInfo {
                id: c.name.clone(),
                running: c.running(),
                name: c.name,
                image_id: c.image_id,
                image_name: c.image,
                labels: Default::default(),
                state: c.state,
                cmd: c.command,
                interactive: false,
                created: chrono::DateTime::from_timestamp(c.created, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                runtime: c.runtime.rsplit('/').next().unwrap_or_default().to_string(),
                pid: None,
                ports: Vec::new(),
            },
            backend: EngineKind::Native,
            system: true,
        })
        .collect())
}

pub async fn list(args: ListArgs, config: &Config) -> Result<i32> {
    let filters = parse_filters(&args.filters)?;
    let selection = args.storage.selection(config)?;
    let engines = engines(&selection)?;
    let mut rows = gather(&engines, selection.explicit.is_some()).await?;
    rows.extend(system_rows(config, &selection)?);
    rows.retain(|r| (args.all || r.info.running) && filters.iter().all(|f| f.matches(r)));
    let vulnerable = super::scan::vulnerable_ids();

    if args.quiet {
        let text: String = rows
            .iter()
            .map(|r| format!("{}\n", cut(&r.info.id, 12, args.no_trunc)))
            .collect();
        output::text_out(&text)?;
    } else if args.json {
        let items: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.info.id,
                    "image_id": r.info.image_id,
                    "image_name": r.info.image_name,
                    "name": r.info.name,
                    "command": r.info.cmd.join(" "),
                    "created": r.info.created,
                    "state": r.info.state,
                    "backend": r.backend_name(),
                    "runtime": r.info.runtime,
                    "vulnerable": vulnerable.contains(&r.info.id),
                    "running": r.info.running,
                    "ports": r.info.ports,
                    "app": app_of(r),
                })
            })
            .collect();
        output::line(&serde_json::to_string_pretty(&items)?)?;
    } else if !rows.is_empty() {
        output::text_out(&table(&rows, !args.noheading, args.no_trunc, &vulnerable))?;
    }
    Ok(0)
}

/// `vulnerable`: IDs the latest `atomic scan` found vulnerable, marked with a skull.
fn table(
    rows: &[Row],
    heading: bool,
    no_trunc: bool,
    vulnerable: &std::collections::HashSet<String>,
) -> String {
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.info.id.clone(),
                r.info.image_name.clone(),
                r.info.name.clone(),
                r.info.cmd.join(" "),
                created(&r.info.created),
                r.info.state.clone(),
                r.backend_name().to_string(),
                r.info.runtime.clone(),
            ]
        })
        .collect();
    let titles = [
        "CONTAINER ID",
        "IMAGE",
        "NAME",
        "COMMAND",
        "CREATED",
        "STATE",
        "BACKEND",
        "RUNTIME",
    ];
    // The original's widths; --no-trunc widens the first four to their longest value.
    let mut widths = [12, 20, 10, 10, 16, 10, 10, 10];
    if no_trunc {
        for (col, width) in widths.iter_mut().enumerate().take(4) {
            let longest = cells.iter().map(|c| c[col].chars().count()).max();
            *width = longest.unwrap_or(0).max(titles[col].len()).max(10);
        }
    }
    let line = |mark: &str, values: [&str; 8]| {
        let mut s = format!("{mark:2} ");
        for (value, width) in values.iter().zip(widths) {
            let value: String = value.chars().take(width).collect();
            s.push_str(&format!("{value:width$} "));
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    // Two columns come last, each only when some container has a value for it: the Nulecule
    // application a container belongs to and its published ports. A listing with neither
    // keeps the original's columns.
    let with_app = rows.iter().any(|r| app_of(r).is_some());
    let with_ports = rows.iter().any(|r| !r.info.ports.is_empty());
    let app_width = rows
        .iter()
        .filter_map(app_of)
        .map(|a| a.chars().count())
        .max()
        .unwrap_or(0)
        .max("APPLICATION".len());
    let full: usize = 3 + widths.iter().map(|w| w + 1).sum::<usize>();
    let extra = |mut text: String, app: &str, ports: &str| {
        if with_app || with_ports {
            text.truncate(text.trim_end().len());
            text = format!("{text:full$}");
            if with_app {
                text.push_str(&format!("{app:app_width$} "));
            }
            if with_ports {
                text.push_str(ports);
            }
            text.truncate(text.trim_end().len());
            text.push('\n');
        }
        text
    };
    let mut out = String::new();
    if heading {
        out.push_str(&extra(line("", titles), "APPLICATION", "PORTS"));
    }
    for (c, r) in cells.iter().zip(rows) {
        let mark = if vulnerable.contains(&r.info.id) {
            "\u{2620}"
        } else {
            ""
        };
        let text = line(mark, c.each_ref().map(String::as_str));
        let ports = r.info.ports.join(", ");
        out.push_str(&extra(text, app_of(r).unwrap_or_default(), &ports));
    }
    out
}

/// The Nulecule application a container belongs to (atomic labels the containers it starts).
fn app_of(row: &Row) -> Option<&str> {
    row.info
        .labels
        .get(crate::app::state::APP_LABEL)
        .map(String::as_str)
}

/// `2026-12-02T17:04:05Z` as `2026-12-02 17:04` (the original's 16 characters).
fn created(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.chars().take(16).collect())
}

fn cut(s: &str, width: usize, no_trunc: bool) -> &str {
    if no_trunc {
        s
    } else {
        &s[..width.min(s.len())]
    }
}

struct Filter {
    key: String,
    value: String,
}

impl Filter {
    fn matches(&self, row: &Row) -> bool {
        let field = match self.key.as_str() {
            "container" | "id" => row.info.id.clone(),
            "image" => row.info.image_name.clone(),
            "name" => row.info.name.clone(),
            "command" => row.info.cmd.join(" "),
            "created" => created(&row.info.created),
            "state" => row.info.state.clone(),
            "runtime" => row.info.runtime.clone(),
            // `ostree`, the original's name for its storage: native and system containers.
            "backend" if self.value == "ostree" => {
                return matches!(row.backend_name(), "native" | "system");
            }
            "backend" => row.backend_name().to_string(),
            _ => unreachable!("keys are checked when parsed"),
        };
        field.to_lowercase().contains(&self.value)
    }
}

fn parse_filters(given: &[String]) -> Result<Vec<Filter>> {
    const KEYS: &[&str] = &[
        "container",
        "id",
        "image",
        "name",
        "command",
        "created",
        "state",
        "runtime",
        "backend",
    ];
    given
        .iter()
        .map(|f| {
            let Some((key, value)) = f.split_once('=') else {
                bail!("filter '{f}' is not KEY=VALUE");
            };
            let key = key.to_lowercase();
            if !KEYS.contains(&key.as_str()) {
                bail!(
                    "'{key}' is not a filter of containers list; choose from {}",
                    KEYS.join(", ")
                );
            }
            Ok(Filter {
                key,
                value: value.to_lowercase(),
            })
        })
        .collect()
}

pub async fn delete(args: DeleteArgs, global: &GlobalArgs, config: &Config) -> Result<i32> {
    if !args.all && args.containers.is_empty() {
        bail!("You must select --all or provide a list of containers to delete.");
    }
    let selection = args.storage.selection(config)?;
    let engines = engines(&selection)?;
    let mut rows = gather(&engines, selection.explicit.is_some()).await?;
    rows.extend(system_rows(config, &selection)?);
    // Every target is found first: a typo fails before anything is removed.
    let mut chosen: Vec<&Row> = Vec::new();
    if args.all {
        chosen.extend(rows.iter());
    } else {
        for query in &args.containers {
            let hits: Vec<&Row> = rows
                .iter()
                .filter(|r| r.info.name == *query || r.info.id.starts_with(query.as_str()))
                .collect();
            match hits[..] {
                [] => bail!("container '{query}' not found"),
                [one] => chosen.push(one),
                _ => bail!(
                    "'{query}' names containers in more than one storage; choose one with \
                     --storage"
                ),
            }
        }
    }
    if chosen.is_empty() {
        eprintln!("There are no containers to delete.");
        return Ok(0);
    }
    let mut text = String::from(if global.assumeyes {
        "The following containers will be deleted.\n\n"
    } else {
        "Do you wish to delete the following containers?\n\n"
    });
    for r in &chosen {
        text.push_str(&format!(
            "   {:12} {:20} {:25} {:10}\n",
            cut(&r.info.id, 12, false),
            r.info.name,
            r.info.image_name,
            r.backend_name()
        ));
    }
    output::text_out(&text)?;
    if !global.assumeyes && !confirm("\nConfirm (y/N) ")? {
        output::line("User aborted delete operation for containers")?;
        return Ok(2);
    }
    let mut failed = false;
    for r in chosen {
        if r.system {
            let user = !super::system::is_root();
            let removed = super::system::with_context(config, user, false, |ctx| {
                atomic_system::ops::uninstall(ctx, &r.info.name)
            });
            if let Err(e) = removed {
                eprintln!("error: {e:#}");
                failed = true;
            }
            continue;
        }
        let engine = engines
            .iter()
            .find(|e| e.kind() == r.backend)
            .expect("rows come from these engines");
        if let Err(e) = engine.remove_container(&r.info.id, args.force).await {
            eprintln!("error: {e}");
            failed = true;
        }
    }
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, name: &str, running: bool) -> Row {
        Row {
            info: ContainerInfo {
                id: id.into(),
                name: name.into(),
                image_name: "docker.io/library/busybox:latest".into(),
                cmd: vec!["sleep".into(), "100".into()],
                created: "2026-12-02T17:04:05Z".into(),
                state: if running { "running" } else { "exited" }.into(),
                running,
                runtime: "runc".into(),
                ..Default::default()
            },
            backend: EngineKind::Native,
            system: false,
        }
    }

    #[test]
    fn the_table_has_the_original_columns_and_widths() {
        let text = table(
            &[row(&"a".repeat(64), "web", true)],
            true,
            false,
            &Default::default(),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("   CONTAINER ID IMAGE"), "{text}");
        assert!(lines[1].starts_with(&format!("   {} docker.io/library/bu web", "a".repeat(12))));
        assert!(lines[1].contains("sleep 100  "), "{text}");
        assert!(lines[1].ends_with("running    native     runc"), "{text}");
        let marked = table(
            &[row(&"a".repeat(64), "web", true)],
            false,
            false,
            &["a".repeat(64)].into_iter().collect(),
        );
        assert!(marked.starts_with("\u{2620}  aaaaaaaaaaaa "), "{marked}");
    }

    #[test]
    fn filters_are_case_insensitive_substrings_of_known_keys() {
        let f = parse_filters(&["STATE=RUN".into()]).unwrap();
        assert!(f[0].matches(&row("ab", "x", true)));
        assert!(!f[0].matches(&row("ab", "x", false)));
        assert!(parse_filters(&["colour=red".into()]).is_err());
        assert!(parse_filters(&["state".into()]).is_err());
    }
}

//! `atomic images list`: every image of every engine (or of `--storage`), one row per name, in
//! the original's columns:
//!
//! ```text
//!    REPOSITORY                  TAG      IMAGE ID       CREATED            VIRTUAL SIZE   TYPE
//! >  docker.io/library/busybox   latest   a416a98b71e2   2024-01-02 03:04   4.26 MB        native
//! *  <none>                      <none>   0f6ef1c2a05d   2024-01-01 00:00   4.26 MB        native
//! ```
//!
//! `>` marks an image some container uses, `*` a dangling one (no name left). Nothing at all is
//! printed when there are no images, as the original did.

use std::collections::HashSet;

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;

use atomic_engine::{Engine, EngineKind, ImageSummary};

use crate::cli::StorageArg;
use crate::config::Config;
use crate::output;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Show intermediate images too (Docker and Podman)
    #[arg(short = 'a', long)]
    all: bool,
    /// Show only images whose KEY contains VALUE (repo, tag, id, created, size, type;
    /// dangling=true|false); repeatable, all must match
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    filters: Vec<String>,
    /// Leave the heading out
    #[arg(short = 'n', long)]
    noheading: bool,
    /// Show whole IDs
    #[arg(long)]
    no_trunc: bool,
    /// Print image IDs only, once each
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print JSON (keys: repo, tag, id, created, virtual_size, is_dangling, used, vulnerable,
    /// type, backend)
    #[arg(long)]
    json: bool,
}

/// One line of the listing: an image under one of its names.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub id: String,
    pub created: Option<i64>,
    pub size: Option<u64>,
    pub dangling: bool,
    pub used: bool,
    /// The latest `atomic scan` of it found vulnerabilities.
    pub vulnerable: bool,
    pub backend: EngineKind,
}

pub async fn list(args: ListArgs, config: &Config) -> Result<i32> {
    let filters = parse_filters(&args.filters)?;
    let selection = args.storage.selection(config)?;
    let explicit = selection.explicit.is_some();
    let mut rows = Vec::new();
    for (kind, answer) in gather(super::engines(&selection)?, args.all).await {
        match answer {
            Ok(found) => rows.extend(found),
            // With --storage the listing is that engine's or nothing; otherwise one engine
            // being down should not hide the others' images.
            Err(e) if explicit => return Err(e.context(format!("listing {kind} images"))),
            Err(e) => eprintln!("warning: cannot list {kind} images: {e:#}"),
        }
    }
    let vulnerable = crate::cli::scan::vulnerable_ids();
    for row in &mut rows {
        row.vulnerable = vulnerable.contains(&row.id);
    }
    rows.retain(|row| filters.iter().all(|f| f.matches(row)));

    if args.quiet {
        let mut seen = HashSet::new();
        let mut text = String::new();
        for row in &rows {
            let id = shown_id(&row.id, args.no_trunc);
            if seen.insert(id.to_string()) {
                text.push_str(id);
                text.push('\n');
            }
        }
        output::text_out(&text)?;
    } else if args.json {
        output::line(&serde_json::to_string_pretty(&to_json(&rows))?)?;
    } else if !rows.is_empty() {
        output::text_out(&table(&rows, !args.noheading, args.no_trunc))?;
    }
    Ok(0)
}

/// Every engine's images and the IDs its containers use, asked concurrently: Podman answers in
/// processes of its own, on a blocking thread, while Docker's socket and the store are read.
async fn gather(engines: Vec<Engine>, all: bool) -> Vec<(EngineKind, Result<Vec<Row>>)> {
    let mut podman = None;
    let mut others = Vec::new();
    for engine in engines {
        match engine {
            Engine::Podman(p) => {
                podman = Some(tokio::task::spawn_blocking(move || {
                    let images = p.list_images(all)?;
                    let used = p.used_image_ids()?;
                    Ok::<_, atomic_engine::EngineError>((images, used))
                }));
            }
            other => others.push(other),
        }
    }
    let mut out = Vec::new();
    for engine in others {
        let kind = engine.kind();
        let answer = async {
            let images = engine.list_images(all).await?;
            let used = engine.used_image_ids().await?;
            Ok::<_, atomic_engine::EngineError>((images, used))
        }
        .await;
        out.push((
            kind,
            answer.map(|(i, u)| rows(kind, i, &u)).map_err(Into::into),
        ));
    }
    if let Some(task) = podman {
        let answer = match task.await {
            Ok(answer) => answer
                .map(|(i, u)| rows(EngineKind::Podman, i, &u))
                .map_err(Into::into),
            Err(e) => Err(anyhow::anyhow!("podman listing task failed: {e}")),
        };
        // Keep the usual order: docker, podman, native.
        let at = out
            .iter()
            .position(|(k, _)| *k == EngineKind::Native)
            .unwrap_or(out.len());
        out.insert(at, (EngineKind::Podman, answer));
    }
    out
}

/// One row per name (one `<none>` row for an image without), newest images first.
pub fn rows(kind: EngineKind, mut images: Vec<ImageSummary>, used: &HashSet<String>) -> Vec<Row> {
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    let mut out = Vec::new();
    for image in images {
        let base = Row {
            repo: None,
            tag: None,
            used: used.contains(&image.id),
            vulnerable: false,
            id: image.id,
            created: image.created,
            size: image.size,
            dangling: image.dangling,
            backend: kind,
        };
        if image.repo_tags.is_empty() {
            out.push(base);
            continue;
        }
        for name in &image.repo_tags {
            let (repo, tag) = split_name(name);
            out.push(Row {
                repo: Some(repo.to_string()),
                tag: tag.map(str::to_string),
                ..base.clone()
            });
        }
    }
    out
}

/// `registry/repo:tag` → (`registry/repo`, `tag`); a digest reference has no tag.
pub fn split_name(name: &str) -> (&str, Option<&str>) {
    if let Some((repo, _digest)) = name.split_once('@') {
        return (repo, None);
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    }
}

fn shown_id(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        &id[..id.len().min(12)]
    }
}

/// The original's CREATED: local time to the minute.
pub fn created_text(created: Option<i64>) -> String {
    use chrono::TimeZone;
    created
        .and_then(|t| chrono::Local.timestamp_opt(t, 0).single())
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The original's sizes: base-1000 units, up to two decimals as Python's `round(x, 2)` prints
/// them (`196.51 MB`, `4.2 MB`, `2.0 kB`… with the original's `KB`), `0B` for nothing.
pub fn size_text(size: Option<u64>) -> String {
    const UNITS: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let Some(size) = size else {
        return String::new();
    };
    if size == 0 {
        return "0B".to_string();
    }
    let mut unit = 0;
    let mut value = size as f64;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let mut text = format!("{value:.2}");
    while text.ends_with('0') && !text.ends_with(".0") {
        text.pop();
    }
    format!("{text} {}", UNITS[unit])
}

/// The original's line format `{0:2} {1:R} {2:T} {3:I} {4:18} {5:14} {6:10}`, where R and T are
/// the longest repository and tag plus two; trailing blanks trimmed.
pub fn table(rows: &[Row], heading: bool, no_trunc: bool) -> String {
    let none = "<none>";
    let repo_w = rows
        .iter()
        .map(|r| r.repo.as_deref().unwrap_or(none).len())
        .chain([10])
        .max()
        .unwrap_or(10)
        + 2;
    let tag_w = rows
        .iter()
        .map(|r| r.tag.as_deref().unwrap_or(none).len())
        .chain([3])
        .max()
        .unwrap_or(3)
        + 2;
    let id_w = if no_trunc { 65 } else { 14 };
    let line =
        |mark: &str, repo: &str, tag: &str, id: &str, created: &str, size: &str, kind: &str| {
            let text = format!(
                "{mark:2} {repo:repo_w$} {tag:tag_w$} {id:id_w$} {created:18} {size:14} {kind:10}"
            );
            format!("{}\n", text.trim_end())
        };
    let mut out = String::new();
    if heading {
        out.push_str(&line(
            " ",
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "VIRTUAL SIZE",
            "TYPE",
        ));
    }
    for row in rows {
        // The original's marks: `*` dangling or `>` used, then a skull if vulnerable.
        let mut mark = if row.dangling {
            "*"
        } else if row.used {
            ">"
        } else {
            ""
        }
        .to_string();
        if row.vulnerable {
            mark.push('\u{2620}');
        }
        if mark.is_empty() {
            mark.push(' ');
        }
        let mark = mark.as_str();
        out.push_str(&line(
            mark,
            row.repo.as_deref().unwrap_or(none),
            row.tag.as_deref().unwrap_or(none),
            shown_id(&row.id, no_trunc),
            &created_text(row.created),
            &size_text(row.size),
            row.backend.as_str(),
        ));
    }
    out
}

/// The `--json` document: stable keys, documented in the README. Unlike the original, images
/// without a name are included (with null repo and tag) rather than silently left out.
pub fn to_json(rows: &[Row]) -> serde_json::Value {
    rows.iter()
        .map(|r| {
            json!({
                "repo": r.repo,
                "tag": r.tag,
                "id": r.id,
                "created": r.created,
                "virtual_size": r.size,
                "is_dangling": r.dangling,
                "used": r.used,
                "vulnerable": r.vulnerable,
                "type": "image",
                "backend": r.backend.as_str(),
            })
        })
        .collect()
}

/// One `-f KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Repo(String),
    Tag(String),
    Id(String),
    Created(String),
    Size(String),
    Type(String),
    Dangling(bool),
}

const FILTER_KEYS: &str = "repo, repository, tag, id, image, created, size, type, backend, \
                           dangling, is_dangling";

pub fn parse_filters(specs: &[String]) -> Result<Vec<Filter>> {
    specs
        .iter()
        .map(|spec| {
            let Some((key, value)) = spec.split_once('=') else {
                bail!("The filter {spec} is not formatted correctly.  It should be VAR=VALUE");
            };
            let value = value.to_lowercase();
            Ok(match key.to_lowercase().as_str() {
                "repo" | "repository" => Filter::Repo(value),
                "tag" => Filter::Tag(value),
                "id" | "image" => Filter::Id(value),
                "created" => Filter::Created(value),
                "size" => Filter::Size(value),
                // `ostree` was the original's name for its daemonless storage, atomic's native.
                "type" | "backend" if value == "ostree" => Filter::Type("native".to_string()),
                "type" | "backend" => Filter::Type(value),
                "dangling" | "is_dangling" => Filter::Dangling(match value.as_str() {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => bail!("The filter {spec} needs true or false"),
                }),
                _ => bail!("The filter {key} is not valid.  Please choose from [{FILTER_KEYS}]"),
            })
        })
        .collect()
}

impl Filter {
    /// Case-insensitive substring matches, as the original's (whose repo and tag matches were
    /// case-sensitive on one side by mistake).
    pub fn matches(&self, row: &Row) -> bool {
        let has = |field: &str, value: &str| field.to_lowercase().contains(value);
        match self {
            Filter::Repo(v) => has(row.repo.as_deref().unwrap_or("<none>"), v),
            Filter::Tag(v) => has(row.tag.as_deref().unwrap_or("<none>"), v),
            Filter::Id(v) => has(&row.id, v.strip_prefix("sha256:").unwrap_or(v)),
            Filter::Created(v) => has(&created_text(row.created), v),
            Filter::Size(v) => has(&size_text(row.size), v),
            Filter::Type(v) => has(row.backend.as_str(), v),
            Filter::Dangling(d) => row.dangling == *d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(repo: Option<&str>, tag: Option<&str>, kind: EngineKind) -> Row {
        Row {
            repo: repo.map(str::to_string),
            tag: tag.map(str::to_string),
            id: "a".repeat(64),
            created: Some(0),
            size: Some(4_260_000),
            dangling: repo.is_none(),
            used: false,
            vulnerable: false,
            backend: kind,
        }
    }

    #[test]
    fn sizes_read_like_the_original() {
        for (size, want) in [
            (Some(0), "0B"),
            (Some(999), "999.0 B"),
            (Some(196_510_000), "196.51 MB"),
            (Some(4_200_000), "4.2 MB"),
            (Some(2_000), "2.0 KB"),
            (None, ""),
        ] {
            assert_eq!(size_text(size), want, "{size:?}");
        }
    }

    #[test]
    fn names_split_at_the_tag_not_the_port() {
        assert_eq!(
            split_name("docker.io/library/busybox:latest"),
            ("docker.io/library/busybox", Some("latest"))
        );
        assert_eq!(
            split_name("127.0.0.1:5000/x/y"),
            ("127.0.0.1:5000/x/y", None)
        );
        assert_eq!(
            split_name("127.0.0.1:5000/x/y:v1"),
            ("127.0.0.1:5000/x/y", Some("v1"))
        );
        let pinned = format!("quay.io/a@sha256:{}", "b".repeat(64));
        assert_eq!(split_name(&pinned), ("quay.io/a", None));
    }

    #[test]
    fn one_row_per_name_and_one_for_none() {
        let images = vec![
            ImageSummary {
                id: "1".repeat(64),
                repo_tags: vec!["a/x:1".into(), "a/x:2".into()],
                created: Some(10),
                size: Some(1),
                dangling: false,
            },
            ImageSummary {
                id: "2".repeat(64),
                repo_tags: vec![],
                created: Some(20),
                size: Some(1),
                dangling: true,
            },
        ];
        let used = HashSet::from(["1".repeat(64)]);
        let rows = rows(EngineKind::Native, images, &used);
        assert_eq!(rows.len(), 3);
        assert!(rows[0].dangling && rows[0].repo.is_none(), "newest first");
        assert!(rows[1].used && rows[2].used);
        assert_eq!(rows[2].tag.as_deref(), Some("2"));
    }

    #[test]
    fn table_has_the_original_columns_and_markers() {
        let mut used = row(
            Some("docker.io/library/busybox"),
            Some("latest"),
            EngineKind::Native,
        );
        used.used = true;
        let rows = vec![used, row(None, None, EngineKind::Docker)];
        let text = table(&rows, true, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("   REPOSITORY"), "{text}");
        for column in ["TAG", "IMAGE ID", "CREATED", "VIRTUAL SIZE", "TYPE"] {
            assert!(lines[0].contains(column), "{text}");
        }
        assert!(
            lines[1].starts_with(">  docker.io/library/busybox"),
            "{text}"
        );
        assert!(lines[1].ends_with("native"), "{text}");
        assert!(lines[2].starts_with("*  <none>"), "{text}");
        // Columns line up: TYPE starts at the same offset on every line.
        let at = lines[0].find("TYPE").unwrap();
        assert_eq!(&lines[1][at..], "native");
        assert_eq!(&lines[2][at..], "docker");
        assert!(!table(&rows, false, false).contains("REPOSITORY"));
        assert!(table(&rows, false, true).contains(&"a".repeat(64)));
    }

    #[test]
    fn filters_parse_and_match() {
        let r = row(
            Some("docker.io/library/BusyBox"),
            Some("v1"),
            EngineKind::Native,
        );
        let f = |s: &str| parse_filters(&[s.to_string()]).unwrap().remove(0);
        assert!(f("repo=busybox").matches(&r));
        assert!(f("REPOSITORY=BUSY").matches(&r));
        assert!(!f("tag=v2").matches(&r));
        assert!(f("type=native").matches(&r));
        assert!(
            f("type=ostree").matches(&r),
            "the original's name for native"
        );
        assert!(f("id=sha256:aaa").matches(&r));
        assert!(f("dangling=false").matches(&r));
        assert!(!f("dangling=true").matches(&r));
        assert!(
            parse_filters(&["repo".into()])
                .unwrap_err()
                .to_string()
                .contains("VAR=VALUE")
        );
        assert!(
            parse_filters(&["colour=red".into()])
                .unwrap_err()
                .to_string()
                .contains("not valid")
        );
    }

    #[test]
    fn json_keys_are_stable() {
        let doc = to_json(&[row(None, None, EngineKind::Podman)]);
        let keys: Vec<&str> = doc[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "backend",
            "created",
            "id",
            "is_dangling",
            "repo",
            "tag",
            "type",
            "used",
            "virtual_size",
            "vulnerable",
        ];
        want.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, want);
        assert!(doc[0]["repo"].is_null());
    }
}

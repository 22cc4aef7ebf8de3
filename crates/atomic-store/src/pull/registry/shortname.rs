//! Short names (`busybox`, `team/app:1`), resolved as containers-image resolves them:
//! 1. an alias, from the machine-written `short-name-aliases.conf` first, then registries.conf's
//!    `[aliases]`: the one candidate;
//! 2. else each of `unqualified-search-registries` (docker.io when no file sets the list). With
//!    one, or in `short-name-mode = "disabled"`, they are tried in order. With several,
//!    `enforcing` and `permissive` ask on a terminal which one is meant (and the choice is
//!    recorded as an alias once the pull worked); without a terminal, `enforcing` refuses and
//!    `permissive` tries them in order.
//!
//! `short-name-aliases.conf` is `/var/cache/containers/short-name-aliases.conf` for root and
//! `$XDG_CACHE_HOME/containers/short-name-aliases.conf` (default `~/.cache/…`) for others;
//! `$ATOMIC_SHORT_NAME_ALIASES` names another.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::config::{CONFIG_LIMIT, RegistriesConf, ShortNameMode};
use crate::reference::ImageName;

/// What a short name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Qualified names to try, in order.
    pub candidates: Vec<ImageName>,
    /// An alias (short name, repository) to record once a candidate was pulled: the user
    /// chose it at the prompt.
    pub record: Option<(String, String)>,
    /// Where the candidates came from, for messages.
    pub origin: String,
}

#[derive(Deserialize, Default)]
struct AliasFile {
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

/// The machine-written alias file of this user (`$ATOMIC_SHORT_NAME_ALIASES` overrides it,
/// as `$ATOMIC_STORE_ROOT` does the store: for tests and private setups).
pub fn default_alias_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ATOMIC_SHORT_NAME_ALIASES").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    if rustix::process::geteuid().is_root() {
        return Some(PathBuf::from(
            "/var/cache/containers/short-name-aliases.conf",
        ));
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))?;
    Some(cache.join("containers/short-name-aliases.conf"))
}

fn read_alias_file(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = match crate::input::read_regular_text(path, CONFIG_LIMIT) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let file: AliasFile = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid short-name alias file", path.display()))?;
    Ok(file.aliases)
}

/// Resolve the short name `short` (no registry). `choose` asks the user to pick one of the
/// names it is given (on a terminal); it is only called when `terminal`.
pub fn resolve(
    conf: &RegistriesConf,
    short: &ImageName,
    alias_file: Option<&Path>,
    terminal: bool,
    choose: &mut dyn FnMut(&[String]) -> Result<usize>,
) -> Result<Resolution> {
    let key = &short.repository;
    let with_tag = |repo: &str| -> Result<ImageName> {
        let mut name = ImageName::parse(repo)?;
        name.tag = short.tag.clone();
        name.digest = short.digest.clone();
        Ok(name.qualified())
    };
    let recorded = match alias_file {
        Some(path) => read_alias_file(path)?,
        None => BTreeMap::new(),
    };
    if let Some(target) = recorded.get(key).filter(|t| !t.is_empty()) {
        return Ok(Resolution {
            candidates: vec![with_tag(target)?],
            record: None,
            origin: format!(
                "the alias recorded in {}",
                alias_file
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        });
    }
    if let Some((target, origin)) = conf.aliases.get(key).filter(|(t, _)| !t.is_empty()) {
        return Ok(Resolution {
            candidates: vec![with_tag(target)?],
            record: None,
            origin: format!("the alias in {}", origin.display()),
        });
    }
    let registries = conf
        .search_registries()
        .with_context(|| format!("resolving the short name '{short}'"))?;
    let candidates: Vec<ImageName> = registries
        .iter()
        .map(|r| short.on_registry(r).qualified())
        .collect();
    let origin = format!(
        "unqualified-search-registries in {}",
        conf.describe_sources()
    );
    let mode = conf.short_name_mode();
    if mode == ShortNameMode::Disabled || candidates.len() == 1 {
        return Ok(Resolution {
            candidates,
            record: None,
            origin,
        });
    }
    if !terminal {
        return match mode {
            ShortNameMode::Enforcing => bail!(
                "the short name '{short}' could come from any of {} and short-name-mode is \
                 enforcing, but there is no terminal to ask which: use a fully qualified name, \
                 or add an alias to [aliases] in registries.conf",
                registries.join(", ")
            ),
            _ => Ok(Resolution {
                candidates,
                record: None,
                origin,
            }),
        };
    }
    let names: Vec<String> = candidates.iter().map(|c| c.repo_path()).collect();
    let choice = choose(&names)?;
    let Some(chosen) = candidates.get(choice) else {
        bail!("no such choice: {}", choice + 1);
    };
    Ok(Resolution {
        record: Some((key.clone(), chosen.repo_path())),
        candidates: vec![chosen.clone()],
        origin: "your choice".to_string(),
    })
}

/// Ask on the terminal (stderr, stdin) which of `names` is meant.
pub fn prompt(names: &[String]) -> Result<usize> {
    let mut err = std::io::stderr().lock();
    writeln!(err, "? Please select an image:")?;
    for (i, n) in names.iter().enumerate() {
        writeln!(err, "  {}) {n}", i + 1)?;
    }
    write!(err, "Number [1-{}]: ", names.len())?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the choice")?;
    match line.trim().parse::<usize>() {
        Ok(n) if (1..=names.len()).contains(&n) => Ok(n - 1),
        _ => bail!(
            "'{}' is not one of the numbers 1 to {}",
            line.trim(),
            names.len()
        ),
    }
}

/// Both ends a prompt needs are terminals (containers-image checks stdin and stdout).
pub fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Record `short` = `repository` in the alias file (rewritten whole, by temp file and rename).
pub fn record(path: &Path, short: &str, repository: &str) -> Result<()> {
    let mut aliases = read_alias_file(path)?;
    aliases.insert(short.to_string(), repository.to_string());
    let dir = path.parent().context("the alias file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut text = String::from(
        "# Written by atomic (and podman): short names chosen at a prompt.\n[aliases]\n",
    );
    for (k, v) in &aliases {
        // Both are validated image names: no quote or backslash to escape.
        text.push_str(&format!("  \"{k}\" = \"{v}\"\n"));
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(s: &str) -> ImageName {
        ImageName::parse(s).unwrap()
    }

    fn names(r: &Resolution) -> Vec<String> {
        r.candidates.iter().map(|c| c.to_string()).collect()
    }

    const TWO: &str = "unqualified-search-registries = [\"a.io\", \"b.io\"]\n";

    fn never(_: &[String]) -> Result<usize> {
        panic!("asked without a terminal")
    }

    #[test]
    fn aliases_win_recorded_first() {
        let conf =
            RegistriesConf::parse(&format!("{TWO}[aliases]\nbusybox = \"c.io/lib/busybox\"\n"))
                .unwrap();
        let r = resolve(&conf, &short("busybox:1"), None, false, &mut never).unwrap();
        assert_eq!(names(&r), ["c.io/lib/busybox:1"]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aliases.conf");
        record(&file, "busybox", "d.io/busybox").unwrap();
        let r = resolve(&conf, &short("busybox"), Some(&file), false, &mut never).unwrap();
        assert_eq!(names(&r), ["d.io/busybox:latest"]);
    }

    #[test]
    fn each_mode_without_a_terminal() {
        for (mode, want) in [
            ("disabled", Some(2)),
            ("permissive", Some(2)),
            ("enforcing", None),
            ("", Some(2)),
        ] {
            let conf =
                RegistriesConf::parse(&format!("{TWO}short-name-mode = \"{mode}\"\n")).unwrap();
            let r = resolve(&conf, &short("x/y"), None, false, &mut never);
            match want {
                Some(n) => assert_eq!(r.unwrap().candidates.len(), n, "{mode}"),
                None => {
                    let err = r.unwrap_err().to_string();
                    assert!(
                        err.contains("enforcing") && err.contains("no terminal"),
                        "{err}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_terminal_asks_and_records_the_choice() {
        for mode in ["enforcing", "permissive"] {
            let conf =
                RegistriesConf::parse(&format!("{TWO}short-name-mode = \"{mode}\"\n")).unwrap();
            let mut asked = Vec::new();
            let r = resolve(&conf, &short("app:2"), None, true, &mut |n: &[String]| {
                asked = n.to_vec();
                Ok(1)
            })
            .unwrap();
            assert_eq!(asked, ["a.io/app", "b.io/app"]);
            assert_eq!(names(&r), ["b.io/app:2"]);
            assert_eq!(r.record, Some(("app".into(), "b.io/app".into())));
        }
        // Disabled never asks, terminal or not; one search registry leaves nothing to ask.
        let conf =
            RegistriesConf::parse(&format!("{TWO}short-name-mode = \"disabled\"\n")).unwrap();
        assert_eq!(
            resolve(&conf, &short("app"), None, true, &mut never)
                .unwrap()
                .candidates
                .len(),
            2
        );
        let one = RegistriesConf::parse(
            "unqualified-search-registries = [\"a.io\"]\nshort-name-mode = \"enforcing\"\n",
        )
        .unwrap();
        assert_eq!(
            resolve(&one, &short("app"), None, false, &mut never)
                .unwrap()
                .candidates
                .len(),
            1
        );
    }
}

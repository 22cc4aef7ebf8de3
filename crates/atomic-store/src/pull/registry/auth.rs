//! Registry credentials from the files `podman login` and `docker login` write
//! (containers-auth.json(5)) and the credential helpers they name.
//!
//! Files: `--authfile` or `$REGISTRY_AUTH_FILE` alone when given (as podman); else, first hit
//! wins, `$XDG_RUNTIME_DIR/containers/auth.json` (for root without XDG_RUNTIME_DIR,
//! `/run/containers/0/auth.json`, where podman puts it), `$XDG_CONFIG_HOME/containers/auth.json`
//! (default `~/.config/…`), `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
//! In each: a `credHelpers` entry for the registry runs `docker-credential-NAME get`; else
//! `auths` maps a registry — or a registry and repository namespace, for per-repository
//! credentials — to `{"auth": base64("user:pass")}`, the most specific key winning; else a
//! `credsStore` runs its helper. The helper protocol is Docker's: the registry on stdin, JSON
//! `{"Username", "Secret"}` on stdout, "credentials not found" on a miss.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde::Deserialize;

/// A user name and password (or token) for basic auth.
pub type Credentials = (String, String);

/// What one auth file says about a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Credentials(Credentials),
    /// Ask this credential helper (`docker-credential-NAME`).
    Helper(String),
}

/// The name `credential-helpers` in registries.conf gives the auth files.
pub const AUTH_FILES: &str = "containers-auth.json";

/// The credentials for `repository` on `registry` from the `helpers` registries.conf lists,
/// in order (see [`AUTH_FILES`]); the first that has some wins.
pub async fn lookup_with(
    helpers: &[String],
    registry: &str,
    repository: &str,
    authfile: Option<&Path>,
) -> Result<Option<Credentials>> {
    for helper in helpers {
        let found = if helper == AUTH_FILES {
            lookup(registry, repository, authfile).await?
        } else {
            run_helper(helper, registry)
                .await
                .with_context(|| format!("the credential helper '{helper}' of registries.conf"))?
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// A helper that does not answer within this time is an error: a pull must not hang on one.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
    creds_store: Option<String>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// The credentials for `repository` on `registry`, from `authfile` alone when given, else
/// from the default files; `None` when none has any.
pub async fn lookup(
    registry: &str,
    repository: &str,
    authfile: Option<&Path>,
) -> Result<Option<Credentials>> {
    for path in auth_files(authfile) {
        let text = match crate::input::read_regular_text(&path, super::config::CONFIG_LIMIT) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let found = lookup_in(&text, registry, repository)
            .with_context(|| format!("reading credentials from {}", path.display()))?;
        let creds = match found {
            None => continue,
            Some(Found::Credentials(c)) => Some(c),
            Some(Found::Helper(helper)) => run_helper(&helper, registry)
                .await
                .with_context(|| format!("the credential helper named in {}", path.display()))?,
        };
        if creds.is_some() {
            tracing::debug!("credentials for {registry} from {}", path.display());
            return Ok(creds);
        }
    }
    Ok(None)
}

fn auth_files(authfile: Option<&Path>) -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(file) = authfile
        .map(Path::to_path_buf)
        .or_else(|| env("REGISTRY_AUTH_FILE"))
    {
        return vec![file];
    }
    let mut files = Vec::new();
    match env("XDG_RUNTIME_DIR") {
        Some(run) => files.push(run.join("containers/auth.json")),
        None if rustix::process::getuid().is_root() => {
            files.push(PathBuf::from("/run/containers/0/auth.json"));
        }
        None => {}
    }
    let home = env("HOME");
    match (env("XDG_CONFIG_HOME"), &home) {
        (Some(config), _) => files.push(config.join("containers/auth.json")),
        (None, Some(home)) => files.push(home.join(".config/containers/auth.json")),
        (None, None) => {}
    }
    match (env("DOCKER_CONFIG"), home) {
        (Some(dir), _) => files.push(dir.join("config.json")),
        (None, Some(home)) => files.push(home.join(".docker/config.json")),
        (None, None) => {}
    }
    files
}

/// Look `repository` on `registry` up in one auth file's text.
pub fn lookup_in(text: &str, registry: &str, repository: &str) -> Result<Option<Found>> {
    let file: AuthFile = serde_json::from_str(text).context("not a valid auth file")?;
    let registry = canonical_host(registry);
    if let Some(helper) = file
        .cred_helpers
        .iter()
        .find(|(k, _)| normalise_key(k) == registry)
        .map(|(_, v)| v)
    {
        return Ok(Some(Found::Helper(helper.clone())));
    }
    // Most specific first: reg/a/b/c, reg/a/b, reg/a, reg.
    let mut keys = Vec::new();
    let mut path = format!("{registry}/{repository}");
    loop {
        keys.push(path.clone());
        match path.rfind('/') {
            Some(i) => path.truncate(i),
            None => break,
        }
    }
    for key in keys {
        let entry = file
            .auths
            .iter()
            .find(|(k, _)| normalise_key(k) == key)
            .map(|(_, v)| v);
        if let Some(encoded) = entry
            .and_then(|e| e.auth.as_deref())
            .filter(|a| !a.is_empty())
        {
            return decode(encoded)
                .with_context(|| format!("the entry for {key}"))
                .map(|c| Some(Found::Credentials(c)));
        }
    }
    Ok(file
        .creds_store
        .filter(|s| !s.is_empty())
        .map(Found::Helper))
}

/// `docker-credential-HELPER get` for `registry`: its credentials, or `None` when it has
/// none. The helper is found on PATH; its name may not be a path.
pub async fn run_helper(helper: &str, registry: &str) -> Result<Option<Credentials>> {
    if helper.is_empty()
        || !helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        || helper.starts_with('.')
    {
        bail!("'{helper}' is not a credential helper name");
    }
    let program = format!("docker-credential-{helper}");
    let task = atomic_exec::Task::new("the credential helper", &program)
        .arg("get")
        .input(registry);
    let output = tokio::time::timeout(HELPER_TIMEOUT, task.output_async())
        .await
        .with_context(|| {
            format!(
                "{program} get did not answer within {} s",
                HELPER_TIMEOUT.as_secs()
            )
        })??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // Docker's helpers say this on stdout, with exit status 1, for a registry they lack.
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        // …and their other errors on stdout too: both streams go into the failure.
        let said = [output.stdout.as_slice(), &output.stderr].concat();
        return Err(task.failure(output.status, &said).into());
    }
    let answer: HelperAnswer = serde_json::from_str(&stdout)
        .with_context(|| format!("{program} get answered something other than its JSON"))?;
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some((answer.username, answer.secret)))
}

/// Docker Hub has several names; auth files use any of them.
fn canonical_host(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

/// `https://index.docker.io/v1/` (docker's legacy key) → `docker.io`; `reg.io/ns` unchanged.
/// A key with a scheme is a URL whose path is an API version, not a namespace.
fn normalise_key(key: &str) -> String {
    let (key, was_url) = match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        Some(rest) => (rest, true),
        None => (key, false),
    };
    let key = key.trim_end_matches('/');
    let (host, rest) = match key.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (key, None),
    };
    let host = canonical_host(host);
    match rest {
        Some(rest) if !was_url => format!("{host}/{rest}"),
        _ => host.to_string(),
    }
}

fn decode(encoded: &str) -> Result<Credentials> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .context("'auth' is not base64")?;
    let text = String::from_utf8(bytes).context("'auth' is not UTF-8")?;
    match text.split_once(':') {
        Some((user, pass)) if !user.is_empty() => Ok((user.to_string(), pass.to_string())),
        _ => bail!("'auth' does not decode to USER:PASSWORD"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn finds_most_specific_entry() {
        let text = format!(
            r#"{{"auths": {{
                "reg.io": {{"auth": "{}"}},
                "reg.io/team": {{"auth": "{}"}},
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "other.io": {{}}
            }}}}"#,
            b64("all:pw1"),
            b64("team:pw:with:colons"),
            b64("hub:pw3")
        );
        let get = |r, repo| match lookup_in(&text, r, repo).unwrap() {
            Some(Found::Credentials(c)) => Some(c),
            Some(Found::Helper(h)) => panic!("helper {h}"),
            None => None,
        };
        assert_eq!(get("reg.io", "x/y"), Some(("all".into(), "pw1".into())));
        assert_eq!(
            get("reg.io", "team/y"),
            Some(("team".into(), "pw:with:colons".into()))
        );
        assert_eq!(
            get("reg.io", "teamster/y"),
            Some(("all".into(), "pw1".into()))
        );
        assert_eq!(
            get("docker.io", "library/busybox"),
            Some(("hub".into(), "pw3".into()))
        );
        assert_eq!(
            get("index.docker.io", "library/busybox"),
            Some(("hub".into(), "pw3".into()))
        );
        assert_eq!(get("other.io", "x"), None);
        assert_eq!(get("nothere.io", "x"), None);
    }

    #[test]
    fn refuses_malformed_entries() {
        let bad_b64 = r#"{"auths": {"reg.io": {"auth": "***"}}}"#;
        assert!(lookup_in(bad_b64, "reg.io", "x").is_err());
        let no_colon = format!(
            r#"{{"auths": {{"reg.io": {{"auth": "{}"}}}}}}"#,
            b64("user")
        );
        assert!(lookup_in(&no_colon, "reg.io", "x").is_err());
        assert!(lookup_in("not json", "reg.io", "x").is_err());
        // credHelpers name the helper for their registry; credsStore is everyone's default,
        // after the auths.
        let helpers = format!(
            r#"{{"credHelpers": {{"reg.io": "pass"}}, "credsStore": "secretservice",
                "auths": {{"other.io": {{"auth": "{}"}}, "third.io": {{}}}}}}"#,
            b64("u:p")
        );
        assert_eq!(
            lookup_in(&helpers, "reg.io", "x").unwrap(),
            Some(Found::Helper("pass".into()))
        );
        assert_eq!(
            lookup_in(&helpers, "other.io", "x").unwrap(),
            Some(Found::Credentials(("u".into(), "p".into())))
        );
        assert_eq!(
            lookup_in(&helpers, "third.io", "x").unwrap(),
            Some(Found::Helper("secretservice".into()))
        );
        assert_eq!(lookup_in(r#"{"auths": {}}"#, "reg.io", "x").unwrap(), None);
    }

    #[test]
    fn helper_names_are_not_paths() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for bad in ["../../bin/sh", "a/b", "", ".hidden", "x y"] {
            let err = rt
                .block_on(run_helper(bad, "reg.io"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a credential helper name"), "{bad}: {err}");
        }
    }
}

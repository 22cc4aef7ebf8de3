//! Registry credentials from the files `podman login` and `docker login` write
//! (containers-auth.json(5)).
//!
//! Files, first hit wins: `$REGISTRY_AUTH_FILE`; `$XDG_RUNTIME_DIR/containers/auth.json` (for
//! root without XDG_RUNTIME_DIR, `/run/containers/0/auth.json`, where podman puts it);
//! `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config/…`); `~/.docker/config.json`.
//! In each, `auths` maps a registry — or a registry and repository namespace, for
//! per-repository credentials — to `{"auth": base64("user:pass")}`; the most specific key
//! wins. Credential helpers (`credHelpers`, `credsStore`) run external programs and are not
//! supported: a registry that needs one is reached anonymously, or with `--src-creds`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde::Deserialize;

/// A user name and password (or token) for basic auth.
pub type Credentials = (String, String);

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
}

/// The credentials the auth files hold for `repository` on `registry`, if any.
pub fn lookup(registry: &str, repository: &str) -> Result<Option<Credentials>> {
    for path in auth_files() {
        let text = match crate::input::read_regular_text(&path, super::config::CONFIG_LIMIT) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let found = lookup_in(&text, registry, repository)
            .with_context(|| format!("reading credentials from {}", path.display()))?;
        if found.is_some() {
            tracing::debug!("credentials for {registry} from {}", path.display());
            return Ok(found);
        }
    }
    Ok(None)
}

fn auth_files() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut files = Vec::new();
    files.extend(env("REGISTRY_AUTH_FILE"));
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
    if let Some(home) = home {
        files.push(home.join(".docker/config.json"));
    }
    files
}

/// Look `repository` on `registry` up in one auth file's text.
pub fn lookup_in(text: &str, registry: &str, repository: &str) -> Result<Option<Credentials>> {
    let file: AuthFile = serde_json::from_str(text).context("not a valid auth file")?;
    let registry = canonical_host(registry);
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
                .map(Some);
        }
    }
    Ok(None)
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
        let get = |r, repo| lookup_in(&text, r, repo).unwrap();
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
        // A docker config without auths (only credHelpers) is no credentials, not an error.
        assert_eq!(
            lookup_in(r#"{"credHelpers": {"reg.io": "pass"}}"#, "reg.io", "x").unwrap(),
            None
        );
    }
}

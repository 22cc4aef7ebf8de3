//! A container's recorded configuration (the JSON of `docker inspect` or `podman container
//! inspect`, which share Docker's layout) as the `docker run` words that would recreate it,
//! read by [`crate::flags`] like a label. What the engine adds on its own (the image's env and
//! labels, podman's `container=podman`, default mount options) is left out, so the objects
//! say what the user asked for.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::draft::{Draft, Host, Warning, escape_expansion};
use crate::{KubeError, flags};

/// What the container's image sets itself, to tell the user's settings from the defaults.
#[derive(Debug, Clone, Default)]
pub struct ImageDefaults {
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
}

/// Environment entries an engine adds to every container.
const ENGINE_ENV: &[&str] = &["container=podman", "TERM=xterm", "HOME=/root"];
/// Mount options engines record for every bind or tmpfs.
const DEFAULT_MOUNT_OPTIONS: &[&str] = &[
    "rw",
    "rprivate",
    "private",
    "rbind",
    "bind",
    "nosuid",
    "nodev",
    "tmpcopyup",
];

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// The run words (options, then the image; the command is set from the record separately,
/// since `--entrypoint` holds a single word).
pub fn run_words(record: &Value, image: &ImageDefaults) -> Result<Vec<String>, KubeError> {
    let config = &record["Config"];
    let host = &record["HostConfig"];
    if !config.is_object() {
        return Err(KubeError::Record {
            what: "the container's record".into(),
            reason: "it has no Config".into(),
        });
    }
    let mut w: Vec<String> = Vec::new();
    let mut opt = |flag: &str, value: &str| {
        w.push(format!("{flag}={value}"));
    };
    let name = text(record, "Name").trim_start_matches('/');
    if !name.is_empty() {
        opt("--name", name);
    }
    let privileged = host["Privileged"].as_bool() == Some(true);
    if privileged {
        opt("--privileged", "true");
    } else {
        // A privileged container has every capability; its lists say nothing more.
        for cap in strings(&host["CapAdd"]) {
            opt("--cap-add", &cap);
        }
        for cap in strings(&host["CapDrop"]) {
            opt("--cap-drop", &cap);
        }
        for d in host["Devices"].as_array().into_iter().flatten() {
            let device = format!(
                "{}:{}:{}",
                text(d, "PathOnHost"),
                text(d, "PathInContainer"),
                text(d, "CgroupPermissions")
            );
            opt("--device", &device);
        }
    }
    for (flag, key) in [
        ("--network", "NetworkMode"),
        ("--pid", "PidMode"),
        ("--ipc", "IpcMode"),
        ("--uts", "UTSMode"),
    ] {
        if text(host, key) == "host" {
            opt(flag, "host");
        }
    }
    for bind in strings(&host["Binds"]) {
        opt("--volume", &clean_bind(&bind));
    }
    for m in host["Mounts"].as_array().into_iter().flatten() {
        let mut spec = format!(
            "type={},source={},target={}",
            text(m, "Type"),
            text(m, "Source"),
            text(m, "Target")
        );
        if m["ReadOnly"].as_bool() == Some(true) {
            spec.push_str(",readonly");
        }
        opt("--mount", &spec);
    }
    for (dst, opts) in host["Tmpfs"].as_object().into_iter().flatten() {
        let kept: Vec<&str> = opts
            .as_str()
            .unwrap_or_default()
            .split(',')
            .filter(|o| !o.is_empty() && !DEFAULT_MOUNT_OPTIONS.contains(o))
            .collect();
        if kept.is_empty() {
            opt("--tmpfs", dst);
        } else {
            opt("--tmpfs", &format!("{dst}:{}", kept.join(",")));
        }
    }
    for (port, bindings) in host["PortBindings"].as_object().into_iter().flatten() {
        let bindings = bindings.as_array().cloned().unwrap_or_default();
        if bindings.is_empty() {
            opt("--expose", port);
        }
        for b in bindings {
            let (ip, hp) = (text(&b, "HostIp"), text(&b, "HostPort"));
            opt("--publish", &format!("{ip}:{hp}:{port}"));
        }
    }
    let restart = &host["RestartPolicy"];
    match (text(restart, "Name"), restart["MaximumRetryCount"].as_i64()) {
        ("" | "no", _) => {}
        ("on-failure", Some(n)) if n > 0 => opt("--restart", &format!("on-failure:{n}")),
        (policy, _) => opt("--restart", policy),
    }
    for s in strings(&host["SecurityOpt"]) {
        opt("--security-opt", &s);
    }
    if host["ReadonlyRootfs"].as_bool() == Some(true) {
        opt("--read-only", "true");
    }
    if host["Init"].as_bool() == Some(true) {
        opt("--init", "true");
    }
    if host["AutoRemove"].as_bool() == Some(true) {
        opt("--rm", "true");
    }
    for h in strings(&host["ExtraHosts"]) {
        opt("--add-host", &h);
    }
    for (flag, key) in [
        ("--dns", "Dns"),
        ("--dns-search", "DnsSearch"),
        ("--dns-option", "DnsOptions"),
    ] {
        for v in strings(&host[key]) {
            opt(flag, &v);
        }
    }
    if let Some(bytes) = host["Memory"].as_u64().filter(|b| *b > 0) {
        opt("--memory", &bytes.to_string());
    }
    if let Some(nano) = host["NanoCpus"].as_u64().filter(|n| *n > 0) {
        opt("--cpus", &(nano as f64 / 1e9).to_string());
    }
    for (k, v) in host["Sysctls"].as_object().into_iter().flatten() {
        opt(
            "--sysctl",
            &format!("{k}={}", v.as_str().unwrap_or_default()),
        );
    }
    for u in host["Ulimits"].as_array().into_iter().flatten() {
        let limit = format!("{}={}:{}", text(u, "Name"), u["Soft"], u["Hard"]);
        opt("--ulimit", &limit);
    }
    let user = text(config, "User");
    if !user.is_empty() {
        opt("--user", user);
    }
    let workdir = text(config, "WorkingDir");
    if !workdir.is_empty() && workdir != "/" {
        opt("--workdir", workdir);
    }
    if config["Tty"].as_bool() == Some(true) {
        opt("--tty", "true");
    }
    if config["OpenStdin"].as_bool() == Some(true) {
        opt("--interactive", "true");
    }
    for e in strings(&config["Env"]) {
        let is_default = image.env.contains(&e)
            || ENGINE_ENV.contains(&e.as_str())
            || e.starts_with("HOSTNAME=");
        if !is_default {
            opt("--env", &e);
        }
    }
    for (k, v) in config["Labels"].as_object().into_iter().flatten() {
        let v = v.as_str().unwrap_or_default();
        if image.labels.get(k).map(String::as_str) != Some(v) {
            opt("--label", &format!("{k}={v}"));
        }
    }
    match &config["StopSignal"] {
        Value::String(s) if !s.is_empty() && s != "SIGTERM" && s != "15" => opt("--stop-signal", s),
        Value::Number(n) if n.as_u64() != Some(15) => opt("--stop-signal", &n.to_string()),
        _ => {}
    }
    let image_name = match text(record, "ImageName") {
        "" => text(config, "Image"),
        name => name,
    };
    if image_name.is_empty() {
        return Err(KubeError::Record {
            what: "the container's record".into(),
            reason: "it names no image".into(),
        });
    }
    w.push("--".into());
    w.push(image_name.to_string());
    Ok(w)
}

/// `SRC:DST:ro,rprivate,rbind` → `SRC:DST:ro` (podman records its defaults in every bind).
fn clean_bind(bind: &str) -> String {
    let parts: Vec<&str> = bind.splitn(3, ':').collect();
    match parts.as_slice() {
        [src, dst, opts] => {
            let kept: Vec<&str> = opts
                .split(',')
                .filter(|o| *o == "ro" || !DEFAULT_MOUNT_OPTIONS.contains(o))
                .collect();
            if kept.is_empty() {
                format!("{src}:{dst}")
            } else {
                format!("{src}:{dst}:{}", kept.join(","))
            }
        }
        _ => bind.to_string(),
    }
}

/// The container as a draft: its options as [`run_words`] reads them, its command as
/// recorded (the entrypoint and command the engine ran, when they differ from the image's).
pub fn from_record(
    record: &Value,
    image: &ImageDefaults,
    host: &dyn Host,
) -> Result<(Draft, Vec<Warning>), KubeError> {
    let words = run_words(record, image)?;
    let (mut draft, warnings) = flags::from_run_words(&words, host)?;
    let config = &record["Config"];
    let entrypoint = strings(&config["Entrypoint"]);
    let cmd = strings(&config["Cmd"]);
    let escape = |v: &[String]| v.iter().map(|s| escape_expansion(s)).collect::<Vec<_>>();
    if entrypoint != image.entrypoint {
        draft.container.command = Some(escape(&entrypoint));
        draft.container.args = (!cmd.is_empty()).then(|| escape(&cmd));
    } else if cmd != image.cmd {
        draft.container.args = Some(escape(&cmd));
    }
    Ok((draft, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_lose_engine_defaults() {
        assert_eq!(clean_bind("/tmp:/data:ro,rprivate,rbind"), "/tmp:/data:ro");
        assert_eq!(clean_bind("/a:/b:rw,rprivate,rbind"), "/a:/b");
        assert_eq!(clean_bind("/a:/b:rshared"), "/a:/b:rshared");
        assert_eq!(clean_bind("/a:/b"), "/a:/b");
    }
}

//! A `docker run` / `podman run` command line, flag by flag, into a [`Draft`].
//!
//! The argv is read with the same parser `atomic run` uses for its privilege summary
//! ([`atomic_label::parse_run`]), so a label means the same thing to both. Each flag either
//! sets a Kubernetes field or gives a [`Warning`] naming it; none is dropped silently.

use std::collections::BTreeMap;

use atomic_label::{RunOpt, parse_run, subcommand};
use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, EnvVar, HostAlias, PodDNSConfig, PodDNSConfigOption,
    PodSecurityContext, ResourceRequirements, SELinuxOptions, SeccompProfile, Sysctl,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::draft::{Draft, Host, Restart, Warning, escape_expansion};
use crate::{KubeError, mounts, ports};

/// Read a whole `docker …` argv (program, global options, `run`/`create`, options, image,
/// command). Anything but a run/create of docker or podman is refused: only those say how a
/// container runs.
pub fn from_argv(argv: &[String], host: &dyn Host) -> Result<(Draft, Vec<Warning>), KubeError> {
    let not_run = || KubeError::NotRun(atomic_label::join(argv));
    let program = argv.first().ok_or_else(not_run)?;
    let base = program.rsplit('/').next().unwrap_or(program);
    if !matches!(base, "docker" | "podman" | "docker-latest") {
        return Err(not_run());
    }
    let mut sub = subcommand(argv).ok_or_else(not_run)?;
    if argv[sub] == "container" {
        sub += 1;
    }
    if !matches!(argv.get(sub).map(String::as_str), Some("run" | "create")) {
        return Err(not_run());
    }
    from_run_words(&argv[sub + 1..], host)
}

/// Read the words after `run`: options, image, command.
pub fn from_run_words(
    words: &[String],
    host: &dyn Host,
) -> Result<(Draft, Vec<Warning>), KubeError> {
    let args = parse_run(words);
    let mut state = State::new(host);
    for opt in &args.options {
        state.apply(opt)?;
    }
    if let Some(opt) = state.uts_host.take()
        && state.draft.pod.host_network != Some(true)
    {
        state.warn(
            &opt,
            "a pod shares the host's UTS namespace only with hostNetwork (--net=host)",
        );
    }
    let image = args.image.ok_or(KubeError::NoImage)?;
    state.draft.container.image = Some(image);
    state.set_command(args.command);
    Ok((state.draft, state.warnings))
}

pub(crate) struct State<'a> {
    pub draft: Draft,
    pub warnings: Vec<Warning>,
    pub host: &'a dyn Host,
    entrypoint: Option<String>,
    uts_host: Option<RunOpt>,
    pub volume_names: Vec<String>,
}

/// Options that only steer the docker client or the engine's bookkeeping, with nothing to
/// carry into a workload; still named, so `--strict` users see them.
const CLIENT_ONLY: &[&str] = &[
    "--attach",
    "--cidfile",
    "--detach-keys",
    "--sig-proxy",
    "--quiet",
    "--replace",
    "--pidfile",
    "--conmon-pidfile",
    "--authfile",
    "--cert-dir",
    "--creds",
    "--tls-verify",
    "--decryption-key",
    "--retry",
    "--retry-delay",
];

impl<'a> State<'a> {
    pub(crate) fn new(host: &'a dyn Host) -> Self {
        State {
            draft: Draft::default(),
            warnings: Vec::new(),
            host,
            entrypoint: None,
            uts_host: None,
            volume_names: Vec::new(),
        }
    }

    fn warn(&mut self, opt: &RunOpt, reason: impl Into<String>) {
        self.warnings
            .push(Warning::new(opt.written.clone(), reason));
    }

    fn apply(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        let flag = opt.flag.as_str();
        match flag {
            "--name" => self.draft.name = value(opt)?.to_string(),
            "--detach" => self.draft.hints.detach = boolean(opt)?,
            "--rm" => self.draft.hints.remove = boolean(opt)?,
            "--interactive" => {
                let on = boolean(opt)?;
                self.draft.container.stdin = Some(on);
                self.draft.hints.interactive |= on;
            }
            "--tty" => {
                let on = boolean(opt)?;
                self.draft.container.tty = Some(on);
                self.draft.hints.interactive |= on;
            }
            "--privileged" => {
                if boolean(opt)? {
                    self.draft.security().privileged = Some(true);
                }
            }
            "--read-only" => {
                if boolean(opt)? {
                    self.draft.security().read_only_root_filesystem = Some(true);
                }
            }
            "--cap-add" | "--cap-drop" => self.capabilities(opt)?,
            "--network" => self.network(opt)?,
            "--pid" => match value(opt)? {
                "host" => self.draft.pod.host_pid = Some(true),
                "" | "private" => {}
                _ => self.warn(opt, "only host or private PID namespaces exist in a pod"),
            },
            "--ipc" => match value(opt)? {
                "host" => self.draft.pod.host_ipc = Some(true),
                "" | "private" | "shareable" => {}
                _ => self.warn(opt, "only host or private IPC namespaces exist in a pod"),
            },
            "--uts" => match value(opt)? {
                "" | "private" => {}
                // Checked once every option is read: `--net=host` may come later.
                "host" => self.uts_host = Some(opt.clone()),
                _ => self.warn(opt, "only host or private UTS namespaces exist in a pod"),
            },
            "--userns" => match value(opt)? {
                "" | "host" => {}
                _ => self.warn(
                    opt,
                    "user namespace mappings are not mapped (hostUsers: false is the nearest)",
                ),
            },
            "--volume" => mounts::volume(self, opt)?,
            "--mount" => mounts::mount(self, opt)?,
            "--tmpfs" => mounts::tmpfs(self, opt)?,
            "--shm-size" => mounts::shm(self, opt)?,
            "--publish" => ports::publish(self, opt)?,
            "--expose" => ports::expose(self, opt)?,
            "--publish-all" => self.warn(
                opt,
                "the image's EXPOSE ports are not mapped; name them with -p for containerPorts",
            ),
            "--env" => self.env_entry(value(opt)?, opt),
            "--env-file" => self.env_file(opt)?,
            "--restart" => self.draft.hints.restart = Some(restart(opt)?),
            "--user" => self.user(opt)?,
            "--workdir" => self.draft.container.working_dir = Some(value(opt)?.to_string()),
            "--entrypoint" => self.entrypoint = Some(value(opt)?.to_string()),
            "--security-opt" => self.security_opt(opt)?,
            "--label" | "--annotation" => {
                let v = value(opt)?;
                let (k, v) = v.split_once('=').unwrap_or((v, ""));
                self.annotation(opt, k, v);
            }
            "--hostname" => self.hostname(opt)?,
            "--add-host" => self.add_host(opt)?,
            "--dns" => {
                self.draft.pod.dns_policy = Some("None".into());
                self.dns_config()
                    .nameservers
                    .get_or_insert_with(Vec::new)
                    .push(value(opt)?.to_string());
            }
            "--dns-search" => {
                let v = value(opt)?.to_string();
                self.dns_config()
                    .searches
                    .get_or_insert_with(Vec::new)
                    .push(v);
            }
            "--dns-option" => {
                let v = value(opt)?;
                let (name, val) = match v.split_once(':') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (v, None),
                };
                let option = PodDNSConfigOption {
                    name: Some(name.to_string()),
                    value: val,
                };
                self.dns_config()
                    .options
                    .get_or_insert_with(Vec::new)
                    .push(option);
            }
            "--memory" => self.resource(opt, "limits", "memory", memory(opt)?),
            "--memory-reservation" => self.resource(opt, "requests", "memory", memory(opt)?),
            "--cpus" => {
                let v = value(opt)?;
                v.parse::<f64>()
                    .map_err(|_| KubeError::invalid(opt, "expected a number of CPUs"))?;
                self.resource(opt, "limits", "cpu", v.to_string());
            }
            "--cpu-shares" => {
                let shares: u64 = value(opt)?
                    .parse()
                    .map_err(|_| KubeError::invalid(opt, "expected a number"))?;
                // Kubernetes turns a CPU request into shares as millicores * 1024 / 1000.
                let milli = (shares * 1000).div_ceil(1024);
                self.resource(opt, "requests", "cpu", format!("{milli}m"));
            }
            "--sysctl" => {
                let v = value(opt)?;
                let (name, val) = v
                    .split_once('=')
                    .ok_or_else(|| KubeError::invalid(opt, "expected NAME=VALUE"))?;
                self.pod_security()
                    .sysctls
                    .get_or_insert_with(Vec::new)
                    .push(Sysctl {
                        name: name.to_string(),
                        value: val.to_string(),
                    });
            }
            "--group-add" => match value(opt)?.parse::<i64>() {
                Ok(gid) => self
                    .pod_security()
                    .supplemental_groups
                    .get_or_insert_with(Vec::new)
                    .push(gid),
                Err(_) => self.warn(opt, "Kubernetes takes numeric supplemental groups only"),
            },
            "--pull" => {
                let policy = match value(opt)? {
                    "always" | "newer" => "Always",
                    "missing" => "IfNotPresent",
                    "never" => "Never",
                    _ => return Err(KubeError::invalid(opt, "expected always, missing or never")),
                };
                self.draft.container.image_pull_policy = Some(policy.into());
            }
            "--platform" => self.platform(opt)?,
            "--stop-timeout" => {
                let secs: i64 = value(opt)?
                    .parse()
                    .map_err(|_| KubeError::invalid(opt, "expected seconds"))?;
                self.draft.pod.termination_grace_period_seconds = Some(secs);
            }
            "--init" => self.warn(
                opt,
                "no init process is added in Kubernetes (shareProcessNamespace makes the pause \
                 container PID 1 of the pod instead)",
            ),
            "--stop-signal" => self.warn(
                opt,
                "a pod's containers are always stopped with SIGTERM (or the image's STOPSIGNAL)",
            ),
            "--ulimit" => self.warn(opt, "Kubernetes has no per-container resource limits"),
            "--device" => self.warn(
                opt,
                "devices need a device plugin (or privileged and a hostPath) in Kubernetes",
            ),
            f if f.starts_with("--health") => self.warn(
                opt,
                "health checks are not mapped; write a livenessProbe or readinessProbe",
            ),
            f if CLIENT_ONLY.contains(&f) => {
                self.warn(opt, "only affects the docker client; nothing to carry over")
            }
            _ => self.warn(opt, "has no Kubernetes equivalent; dropped"),
        }
        Ok(())
    }

    /// docker: `--entrypoint` replaces ENTRYPOINT and drops CMD; words after the image replace
    /// CMD. Kubernetes' command and args work the same way.
    fn set_command(&mut self, words: Vec<String>) {
        let words: Vec<String> = words.iter().map(|w| escape_expansion(w)).collect();
        match self.entrypoint.take() {
            Some(e) if e.is_empty() => {
                if words.is_empty() {
                    self.warnings.push(Warning::new(
                        "--entrypoint \"\"",
                        "Kubernetes cannot clear an image's ENTRYPOINT without a command; \
                         give the command explicitly",
                    ));
                } else {
                    self.draft.container.command = Some(words);
                }
            }
            Some(e) => {
                self.draft.container.command = Some(vec![escape_expansion(&e)]);
                if !words.is_empty() {
                    self.draft.container.args = Some(words);
                }
            }
            None if !words.is_empty() => self.draft.container.args = Some(words),
            None => {}
        }
    }

    fn capabilities(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        let names: Vec<String> = value(opt)?
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(capability)
            .collect();
        let caps = self
            .draft
            .security()
            .capabilities
            .get_or_insert_with(Capabilities::default);
        let list = if opt.flag == "--cap-add" {
            &mut caps.add
        } else {
            &mut caps.drop
        };
        list.get_or_insert_with(Vec::new).extend(names);
        Ok(())
    }

    fn network(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        match value(opt)? {
            "host" => self.draft.pod.host_network = Some(true),
            "" | "default" | "bridge" | "private" | "slirp4netns" | "pasta" => {}
            "none" => self.warn(opt, "every pod has a network; it cannot be turned off"),
            _ => self.warn(
                opt,
                "container networks are not mapped; the pod network is used",
            ),
        }
        Ok(())
    }

    pub(crate) fn env_entry(&mut self, entry: &str, opt: &RunOpt) {
        let (key, val) = match entry.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            // docker's rule: a bare KEY takes the caller's value, and is left out if unset.
            None => match self.host.env(entry) {
                Some(v) => (entry.to_string(), v),
                None => {
                    self.warn(opt, format!("{entry} is not set here; left out"));
                    return;
                }
            },
        };
        set_env(&mut self.draft, key, val);
    }

    fn env_file(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        let path = value(opt)?;
        let text = self
            .host
            .read_file(path)
            .map_err(|e| KubeError::invalid(opt, format!("cannot read {path}: {e}")))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.env_entry(line, opt);
        }
        Ok(())
    }

    fn user(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        let v = value(opt)?;
        let (user, group) = match v.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (v, None),
        };
        let id = |s: &str| match s {
            "root" => Some(0),
            s => s.parse::<i64>().ok(),
        };
        match (id(user), group.map(id)) {
            (Some(uid), None) => self.draft.security().run_as_user = Some(uid),
            (Some(uid), Some(Some(gid))) => {
                let sc = self.draft.security();
                sc.run_as_user = Some(uid);
                sc.run_as_group = Some(gid);
            }
            _ => self.warn(
                opt,
                "Kubernetes takes numeric user and group IDs only (runAsUser, runAsGroup)",
            ),
        }
        Ok(())
    }

    fn security_opt(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        let v = value(opt)?;
        // docker accepts both `key=value` and the old `key:value`.
        let (key, val) = v
            .split_once('=')
            .or_else(|| v.split_once(':'))
            .unwrap_or((v, ""));
        match (key, val) {
            ("label", "disable") => self.selinux().type_ = Some("spc_t".into()),
            ("label", v) => {
                let (part, label) = v.split_once(':').ok_or_else(|| {
                    KubeError::invalid(opt, "expected label=type:T (or user, role, level)")
                })?;
                let label = Some(label.to_string());
                let se = self.selinux();
                match part {
                    "user" => se.user = label,
                    "role" => se.role = label,
                    "type" => se.type_ = label,
                    "level" => se.level = label,
                    _ => self.warn(opt, "not an SELinux label part (user, role, type, level)"),
                }
            }
            ("seccomp", "unconfined") => {
                self.draft.security().seccomp_profile = Some(SeccompProfile {
                    type_: "Unconfined".into(),
                    localhost_profile: None,
                });
            }
            ("seccomp", _) => self.warn(
                opt,
                "a seccomp profile file must be installed on every node and named as a \
                 Localhost seccompProfile",
            ),
            ("apparmor", "unconfined") => {
                self.draft.security().app_armor_profile = Some(AppArmorProfile {
                    type_: "Unconfined".into(),
                    localhost_profile: None,
                });
            }
            ("apparmor", profile) => {
                self.draft.security().app_armor_profile = Some(AppArmorProfile {
                    type_: "Localhost".into(),
                    localhost_profile: Some(profile.to_string()),
                });
            }
            ("no-new-privileges", "" | "true") => {
                self.draft.security().allow_privilege_escalation = Some(false)
            }
            ("no-new-privileges", "false") => {}
            _ => self.warn(opt, "this security option has no Kubernetes equivalent"),
        }
        Ok(())
    }

    fn selinux(&mut self) -> &mut SELinuxOptions {
        self.draft
            .security()
            .se_linux_options
            .get_or_insert_with(Default::default)
    }

    pub(crate) fn pod_security(&mut self) -> &mut PodSecurityContext {
        self.draft
            .pod
            .security_context
            .get_or_insert_with(Default::default)
    }

    fn dns_config(&mut self) -> &mut PodDNSConfig {
        self.draft
            .pod
            .dns_config
            .get_or_insert_with(Default::default)
    }

    pub(crate) fn annotation(&mut self, opt: &RunOpt, key: &str, val: &str) {
        if valid_annotation_key(key) {
            self.draft
                .annotations
                .insert(key.to_string(), val.to_string());
        } else {
            self.warn(opt, format!("'{key}' is not a valid annotation key"));
        }
    }

    fn hostname(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        let v = value(opt)?;
        let name = crate::names::dns_label(v, "host");
        if name != v {
            self.warn(
                opt,
                format!("a pod's hostname must be a DNS label; using '{name}'"),
            );
        }
        self.draft.pod.hostname = Some(name);
        Ok(())
    }

    fn add_host(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        let v = value(opt)?;
        // host:ip, where an IPv6 address holds colons itself (docker also takes host=ip).
        let (name, ip) = v
            .split_once('=')
            .or_else(|| v.split_once(':'))
            .ok_or_else(|| KubeError::invalid(opt, "expected HOST:IP"))?;
        let aliases = self.draft.pod.host_aliases.get_or_insert_with(Vec::new);
        match aliases.iter_mut().find(|a| a.ip == ip) {
            Some(alias) => alias
                .hostnames
                .get_or_insert_with(Vec::new)
                .push(name.to_string()),
            None => aliases.push(HostAlias {
                ip: ip.to_string(),
                hostnames: Some(vec![name.to_string()]),
            }),
        }
        Ok(())
    }

    fn resource(&mut self, _opt: &RunOpt, which: &str, key: &str, quantity: String) {
        let res = self
            .draft
            .container
            .resources
            .get_or_insert_with(ResourceRequirements::default);
        let map = if which == "limits" {
            &mut res.limits
        } else {
            &mut res.requests
        };
        map.get_or_insert_with(BTreeMap::new)
            .insert(key.to_string(), Quantity(quantity));
    }

    fn platform(&mut self, opt: &RunOpt) -> Result<(), KubeError> {
        let v = value(opt)?;
        let mut parts = v.split('/');
        let os = parts.next().unwrap_or_default();
        let arch = parts.next();
        let selector = self
            .draft
            .pod
            .node_selector
            .get_or_insert_with(BTreeMap::new);
        selector.insert("kubernetes.io/os".into(), os.to_string());
        if let Some(arch) = arch {
            selector.insert("kubernetes.io/arch".into(), arch.to_string());
        }
        if parts.next().is_some() {
            self.warn(
                opt,
                "the variant is not a node label; only OS and architecture kept",
            );
        }
        Ok(())
    }
}

/// Set (or replace: later wins, as in docker) an environment variable.
pub(crate) fn set_env(draft: &mut Draft, key: String, val: String) {
    let env = draft.container.env.get_or_insert_with(Vec::new);
    env.retain(|e| e.name != key);
    env.push(EnvVar {
        name: key,
        value: Some(escape_expansion(&val)),
        value_from: None,
    });
}

/// Kubernetes writes capabilities without `CAP_`, upper case (`SYS_ADMIN`, `ALL`).
pub fn capability(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    upper.strip_prefix("CAP_").unwrap_or(&upper).to_string()
}

pub(crate) fn value(opt: &RunOpt) -> Result<&str, KubeError> {
    opt.value
        .as_deref()
        .ok_or_else(|| KubeError::invalid(opt, "needs a value"))
}

pub(crate) fn boolean(opt: &RunOpt) -> Result<bool, KubeError> {
    match opt.value.as_deref() {
        None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(_) => Err(KubeError::invalid(opt, "expected true or false")),
    }
}

fn restart(opt: &RunOpt) -> Result<Restart, KubeError> {
    Ok(match value(opt)? {
        "no" | "" => Restart::No,
        "always" => Restart::Always,
        "unless-stopped" => Restart::UnlessStopped,
        "on-failure" => Restart::OnFailure(None),
        v => match v.strip_prefix("on-failure:").map(str::parse) {
            Some(Ok(n)) => Restart::OnFailure(Some(n)),
            _ => {
                return Err(KubeError::invalid(
                    opt,
                    "expected no, always, unless-stopped or on-failure[:N]",
                ));
            }
        },
    })
}

/// docker sizes (`512m`, `1g`, `100k`, `2048`) are binary units: Kubernetes' `Mi`, `Gi`, `Ki`.
pub(crate) fn size_quantity(s: &str) -> Option<String> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, suffix) = match lower.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&lower[..i], Some(c)),
        _ => (lower, None),
    };
    let n: u64 = digits.parse().ok()?;
    Some(match suffix {
        None => n.to_string(),
        Some('k') => format!("{n}Ki"),
        Some('m') => format!("{n}Mi"),
        Some('g') => format!("{n}Gi"),
        Some('t') => format!("{n}Ti"),
        Some(_) => return None,
    })
}

fn memory(opt: &RunOpt) -> Result<String, KubeError> {
    size_quantity(value(opt)?).ok_or_else(|| KubeError::invalid(opt, "expected a size like 512m"))
}

/// An annotation key: `[prefix/]name`, name at most 63 characters of `[A-Za-z0-9._-]`
/// starting and ending alphanumeric; prefix a DNS subdomain.
fn valid_annotation_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && l.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    name_ok && prefix_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_become_binary_quantities() {
        for (input, want) in [
            ("512m", Some("512Mi")),
            ("1g", Some("1Gi")),
            ("1GB", Some("1Gi")),
            ("100k", Some("100Ki")),
            ("2048", Some("2048")),
            ("2048b", Some("2048")),
            ("x", None),
            ("5q", None),
            ("", None),
        ] {
            assert_eq!(size_quantity(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn annotation_keys() {
        for ok in ["a", "io.k8s/x", "Name.v_1", "example.com/Key-1"] {
            assert!(valid_annotation_key(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a b",
            "Example.com/x",
            "a/",
            "/a",
            &"a".repeat(64),
        ] {
            assert!(!valid_annotation_key(bad), "{bad}");
        }
    }

    #[test]
    fn capabilities_lose_their_prefix() {
        assert_eq!(capability("cap_sys_admin"), "SYS_ADMIN");
        assert_eq!(capability("NET_RAW"), "NET_RAW");
        assert_eq!(capability("all"), "ALL");
    }
}

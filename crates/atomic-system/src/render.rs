//! The three files a system container is made of, rendered from the image's templates (or
//! atomic's defaults) and the template values: the runtime's `config.json`, the systemd unit and
//! the tmpfiles.d snippet.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use atomic_runtime::dockercli::{NetworkMode, RunRequest};
use atomic_runtime::host::SystemHost;
use atomic_runtime::spec::{self, ContainerFiles, SpecInput};

use crate::escape::{exec_arg, exec_line};
use crate::exports::Exports;
use crate::template::{self, substitute, variables};
use crate::values::{ExecLines, Values};

/// What the OCI runtime can do, read from its `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeFeatures {
    /// `run --pid-file`: the unit can be Type=forking with a PIDFile.
    pub pid_file: bool,
    /// `--systemd-cgroup`: the container's cgroup is created by systemd, under the unit's.
    pub systemd_cgroup: bool,
}

impl RuntimeFeatures {
    /// Ask `runtime` what it supports; a runtime that does not answer is not installed.
    pub fn probe(runtime: &str) -> Result<RuntimeFeatures> {
        let help = |args: &[&str]| -> Result<String> {
            let out = atomic_exec::Task::new("asking the runtime what it supports", runtime)
                .args(args)
                .output()
                .with_context(|| {
                    format!("Cannot install the container: the runtime {runtime} is not installed")
                })?;
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        Ok(RuntimeFeatures {
            pid_file: help(&["run", "--help"])?.contains("--pid-file"),
            systemd_cgroup: help(&["--help"])?.contains("--systemd-cgroup"),
        })
    }
}

/// How the unit starts and stops the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartMode {
    /// Forking: `run -d --pid-file`, `delete` after stop. Else `run` in the foreground.
    pub forking: bool,
    pub exec: ExecLines,
}

/// The Exec lines for the unit. The forking form (`run -d --pid-file`) only
/// for a unit template written for it — one that refers to both `$EXEC_STOPPOST` and
/// `$PIDFILE`, as the original's were — and a runtime with `--pid-file`. Otherwise runc runs in
/// the foreground, which is what puts the container's output in `journalctl -u NAME` (with `-d`
/// it is filed under runc's scope instead). `--systemd-cgroup` only for the system manager and a
/// runtime that knows it.
///
/// Both forms delete the container after the service stops (`ExecStopPost`): when its PID 1
/// ignores SIGTERM, systemd's final SIGKILL reaches runc but not always the container, which
/// would then hold its name and make the next start fail ("container with given ID already
/// exists"). The original left `EXEC_STOPPOST` empty in the foreground form.
pub fn start_mode(
    runtime: &str,
    name: &str,
    pidfile: &str,
    unit_template: &str,
    features: RuntimeFeatures,
    user: bool,
) -> Result<StartMode> {
    let vars = variables(unit_template, "service.template")?;
    let forking = features.pid_file && vars.contains("EXEC_STOPPOST") && vars.contains("PIDFILE");
    let mut base = vec![runtime.to_string()];
    if systemd_cgroup(features, user) {
        base.push("--systemd-cgroup".to_string());
    }
    let line = |args: &[&str]| -> Result<String> {
        let mut argv = base.clone();
        argv.extend(args.iter().map(|a| a.to_string()));
        Ok(exec_line(&argv)?)
    };
    let exec = if forking {
        ExecLines {
            start: line(&["run", "-d", "--pid-file", pidfile, name])?,
            stop: String::new(),
            start_pre: String::new(),
            stop_post: line(&["delete", "-f", name])?,
        }
    } else {
        ExecLines {
            start: line(&["run", name])?,
            stop: line(&["kill", name])?,
            start_pre: String::new(),
            stop_post: line(&["delete", "-f", name])?,
        }
    };
    Ok(StartMode { forking, exec })
}

/// Whether the unit runs the runtime with `--systemd-cgroup`.
pub fn systemd_cgroup(features: RuntimeFeatures, user: bool) -> bool {
    features.systemd_cgroup && !user
}

/// The unit when the image has none: runc in the foreground (see [`start_mode`]).
/// `TimeoutStopSec=10` is docker's stop timeout: a container whose PID 1 ignores SIGTERM (a
/// shell, which has no default action for it as PID 1 of its namespace) is killed after 10 s,
/// not systemd's default 90.
pub const DEFAULT_UNIT_TEMPLATE: &str = "[Unit]\n\
     Description=$NAME\n\
     \n\
     [Service]\n\
     ExecStart=$EXEC_START\n\
     ExecStop=$EXEC_STOP\n\
     ExecStopPost=$EXEC_STOPPOST\n\
     Restart=on-failure\n\
     TimeoutStopSec=10\n\
     WorkingDirectory=$DESTDIR\n\
     \n\
     [Install]\n\
     WantedBy=multi-user.target\n";

/// With `--systemd-cgroup`, runc wants `slice:prefix:name`; without one it makes
/// `runc-NAME.scope`. atomic names the scope after itself, in system.slice.
pub fn cgroups_path(name: &str) -> String {
    format!("system.slice:atomic:{name}")
}

/// Set `linux.cgroupsPath` for the systemd cgroup driver unless the config has its own.
pub fn with_cgroups_path(config: &str, name: &str) -> Result<String> {
    let mut value: serde_json::Value = serde_json::from_str(config)?;
    if value.as_object().is_some_and(|o| o.is_empty())
        || value["linux"].get("cgroupsPath").is_some()
    {
        return Ok(config.to_string());
    }
    value["linux"]["cgroupsPath"] = serde_json::json!(cgroups_path(name));
    Ok(serde_json::to_string_pretty(&value)?)
}

/// Render `template` (named `file` in errors) with `values`.
pub fn render(
    template: &str,
    file: &str,
    values: &Values,
) -> Result<String, template::TemplateError> {
    substitute(template, file, |name| values.get(name).cloned())
}

/// The container's config.json text: the image's, its template rendered, or atomic's default.
pub fn config_json(
    exports: &Exports,
    values: &Values,
    image: Option<&oci_spec::image::Config>,
    rootfs: &Path,
) -> Result<String> {
    if let Some(text) = exports.read("config.json")? {
        return Ok(text);
    }
    if let Some(template) = exports.read("config.json.template")? {
        return Ok(render(&template, "config.json.template", values)?);
    }
    default_config(image, rootfs)
}

/// A config for an image that ships none: its own command, env, user and working directory,
/// run as docker would with a read-only root and the host's network (as the original's
/// default, `runc spec --rootless`, had).
fn default_config(image: Option<&oci_spec::image::Config>, rootfs: &Path) -> Result<String> {
    let request = RunRequest {
        read_only: true,
        network: NetworkMode::Host,
        ..RunRequest::default()
    };
    let read_image_file = |path: &str| {
        let root = cap_std::fs::Dir::open_ambient_dir(rootfs, cap_std::ambient_authority()).ok()?;
        root.read(path.trim_start_matches('/')).ok()
    };
    let existing = |p: &str| Path::new(p).exists().then(|| PathBuf::from(p));
    let input = SpecInput {
        request: &request,
        image,
        rootfs: Path::new("rootfs"),
        hostname: "",
        files: ContainerFiles {
            hosts: existing("/etc/hosts"),
            hostname: None,
            resolv_conf: existing("/etc/resolv.conf"),
        },
        read_image_file: &read_image_file,
        extra_env: &[],
    };
    let mut spec = match spec::build(&input, &SystemHost) {
        Ok(spec) => spec,
        Err(spec::SpecError::NoCommand) => {
            // The original's default command: a run.sh the image puts on its PATH.
            let request = RunRequest {
                command: vec!["run.sh".to_string()],
                ..request.clone()
            };
            spec::build(
                &SpecInput {
                    request: &request,
                    ..input
                },
                &SystemHost,
            )?
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(false));
    }
    serde_json::to_string_pretty(&spec).context("writing the default config.json")
}

/// Check a config.json and return the bind-mount sources that do not
/// exist on the host, for the default tmpfiles lines.
pub fn check_config(text: &str, remote_rootfs: bool) -> Result<Vec<String>> {
    let config: serde_json::Value =
        serde_json::from_str(text).context("Invalid configuration file: not JSON")?;
    if config.as_object().is_some_and(|o| o.is_empty()) {
        return Ok(Vec::new());
    }
    let root = &config["root"];
    if root["readonly"] != serde_json::Value::Bool(true) {
        bail!(
            "Invalid configuration file.  Only readonly images are supported (the rootfs shares \
             its files with the image store)"
        );
    }
    if !remote_rootfs && root["path"] != "rootfs" {
        bail!("Invalid configuration file.  Path must be 'rootfs'");
    }
    let mut missing = Vec::new();
    for mount in config["mounts"].as_array().into_iter().flatten() {
        let is_bind = mount["type"] == "bind"
            || mount["options"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o == "bind" || o == "rbind"));
        if let (true, Some(source)) = (is_bind, mount["source"].as_str())
            && !Path::new(source).exists()
        {
            missing.push(source.to_string());
        }
    }
    Ok(missing)
}

/// The tmpfiles.d snippet: the image's template, else a directory for each missing bind
/// source so the container can start.
pub fn tmpfiles(exports: &Exports, values: &Values, missing: &[String]) -> Result<String> {
    if let Some(template) = exports.read("tmpfiles.template")? {
        return Ok(render(&template, "tmpfiles.template", values)?);
    }
    let (uid, gid) = (&values["HOST_UID"], &values["HOST_GID"]);
    Ok(missing
        .iter()
        .map(|src| format!("d    {}   0700 {uid} {gid} - -\n", exec_arg(src)))
        .collect())
}

/// A config.json whose root is the absolute `rootfs` (a `--rootfs` directory, or a
/// deployment's rootfs seen from elsewhere).
pub fn with_root(config: &str, rootfs: &Path) -> Result<String> {
    let mut value: serde_json::Value = serde_json::from_str(config)?;
    value["root"]["path"] = serde_json::json!(rootfs);
    Ok(serde_json::to_string_pretty(&value)?)
}

/// A config.json that runs `args` instead (for `atomic run NAME CMD` on a stopped container),
/// with the deployment's `rootfs` as its absolute root. Its runc runs outside systemd, so the
/// systemd-driver `cgroupsPath` goes (runc's cgroupfs driver would take it for a directory).
pub fn with_args(
    config: &str,
    name: &str,
    args: &[String],
    terminal: bool,
    rootfs: &Path,
) -> Result<String> {
    let mut value: serde_json::Value = serde_json::from_str(&with_root(config, rootfs)?)?;
    value["process"]["args"] = serde_json::json!(args);
    value["process"]["terminal"] = serde_json::json!(terminal);
    if let Some(linux) = value["linux"].as_object_mut()
        && linux.get("cgroupsPath") == Some(&serde_json::json!(cgroups_path(name)))
    {
        linux.remove("cgroupsPath");
    }
    Ok(serde_json::to_string_pretty(&value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEATURES: RuntimeFeatures = RuntimeFeatures {
        pid_file: true,
        systemd_cgroup: true,
    };

    #[test]
    fn forking_only_when_the_template_can_use_it() {
        // A template written for the original's forking form.
        let forking = "[Service]
Type=forking
ExecStart=$EXEC_START
\
                       ExecStopPost=$EXEC_STOPPOST
PIDFile=$PIDFILE
";
        let mode = start_mode(
            "/usr/sbin/runc",
            "etcd",
            "/run/container-etcd.pid",
            forking,
            FEATURES,
            false,
        )
        .unwrap();
        assert!(mode.forking);
        assert_eq!(
            mode.exec.start,
            "/usr/sbin/runc --systemd-cgroup run -d --pid-file /run/container-etcd.pid etcd"
        );
        assert_eq!(mode.exec.stop, "");
        assert_eq!(
            mode.exec.stop_post,
            "/usr/sbin/runc --systemd-cgroup delete -f etcd"
        );

        let mode = start_mode(
            "/usr/sbin/runc",
            "etcd",
            "/p",
            DEFAULT_UNIT_TEMPLATE,
            FEATURES,
            false,
        )
        .unwrap();
        assert!(!mode.forking);
        assert_eq!(mode.exec.start, "/usr/sbin/runc --systemd-cgroup run etcd");
        assert_eq!(mode.exec.stop, "/usr/sbin/runc --systemd-cgroup kill etcd");
        assert_eq!(
            mode.exec.stop_post,
            "/usr/sbin/runc --systemd-cgroup delete -f etcd"
        );

        // --user: no systemd cgroup; a runtime without --pid-file never forks.
        let mode = start_mode("/usr/sbin/runc", "etcd", "/p", forking, FEATURES, true).unwrap();
        assert_eq!(mode.exec.start, "/usr/sbin/runc run -d --pid-file /p etcd");
        let old_runtime = RuntimeFeatures {
            pid_file: false,
            systemd_cgroup: false,
        };
        let mode = start_mode("/r", "n", "/p", forking, old_runtime, false).unwrap();
        assert!(!mode.forking);
        assert_eq!(mode.exec.start, "/r run n");
    }

    #[test]
    fn cgroups_path_is_set_unless_the_config_has_one() {
        let out = with_cgroups_path(r#"{"linux": {}}"#, "etcd").unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["linux"]["cgroupsPath"], "system.slice:atomic:etcd");
        let own = r#"{"linux": {"cgroupsPath": "machine.slice:x:y"}}"#;
        assert_eq!(with_cgroups_path(own, "etcd").unwrap(), own);
        assert_eq!(with_cgroups_path("{}", "etcd").unwrap(), "{}");
    }

    #[test]
    fn a_one_off_run_drops_only_atomics_systemd_cgroups_path() {
        let ours =
            r#"{"root": {"path": "rootfs"}, "linux": {"cgroupsPath": "system.slice:atomic:n"}}"#;
        let out = with_args(ours, "n", &["id".into()], false, Path::new("/d/rootfs")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["linux"].get("cgroupsPath").is_none());
        assert_eq!(v["process"]["args"][0], "id");
        assert_eq!(v["root"]["path"], "/d/rootfs");
        let theirs = r#"{"linux": {"cgroupsPath": "/custom"}}"#;
        let out = with_args(theirs, "n", &[], true, Path::new("/r")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["linux"]["cgroupsPath"], "/custom");
    }

    #[test]
    fn config_checks() {
        assert_eq!(check_config("{}", false).unwrap(), Vec::<String>::new());
        let rw = r#"{"root": {"path": "rootfs", "readonly": false}}"#;
        assert!(
            check_config(rw, false)
                .unwrap_err()
                .to_string()
                .contains("readonly")
        );
        let elsewhere = r#"{"root": {"path": "/srv", "readonly": true}}"#;
        assert!(
            check_config(elsewhere, false)
                .unwrap_err()
                .to_string()
                .contains("'rootfs'")
        );
        check_config(elsewhere, true).unwrap();
        let binds = r#"{"root": {"path": "rootfs", "readonly": true}, "mounts": [
            {"destination": "/a", "type": "bind", "source": "/nonexistent/atomic-a", "options": ["rbind"]},
            {"destination": "/b", "type": "none", "source": "/nonexistent/atomic-b", "options": ["bind"]},
            {"destination": "/c", "type": "bind", "source": "/", "options": ["rbind"]},
            {"destination": "/proc", "type": "proc", "source": "proc"}]}"#;
        assert_eq!(
            check_config(binds, false).unwrap(),
            ["/nonexistent/atomic-a", "/nonexistent/atomic-b"]
        );
        assert!(check_config("not json", false).is_err());
    }
}

//! `atomic kube` end to end: generated objects played by the real `podman kube play` do what
//! `atomic run` of the same label does; the security fields agree with `podman generate
//! kube`'s for containers run with the same flags; `kube apply`/`delete` hand kubectl the
//! stream (a recording kubectl: no cluster exists here).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atomic_testsupport::{ImageSpec, podman_command};
use common::{Containers, Kind, World, stderr, stdout};
use serde::Deserialize;
use serde_json::Value;

fn podman() -> Option<Kind> {
    let kind = Kind::Podman;
    kind.usable().then_some(kind)
}

/// Podman when usable, with the lock that keeps the other tests' podman writes out meanwhile.
fn podman_alone() -> Option<(Kind, std::sync::MutexGuard<'static, ()>)> {
    let alone = common::podman_alone();
    podman().map(|kind| (kind, alone))
}

/// Every document of a YAML stream.
fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn pod_spec(object: &Value) -> &Value {
    match object["kind"].as_str() {
        Some("Pod") => &object["spec"],
        _ => &object["spec"]["template"]["spec"],
    }
}

/// `kubernetes-validate --strict` of a stream for the current and the oldest supported
/// Kubernetes (the table in atomic-kube checks every flag; this checks what the CLI adds: the
/// SPC defaults, container records, system containers). Skipped with a reason where
/// scripts/setup.sh has not installed it, unless the engines are required.
fn validate(world: &World, yaml: &str) {
    let validator = Path::new("/var/lib/atomic-test/kube-venv/bin/kubernetes-validate");
    if !validator.exists() {
        assert!(
            std::env::var_os("ATOMIC_TEST_REQUIRE_ENGINES").is_none(),
            "kubernetes-validate is missing (scripts/setup.sh installs it)"
        );
        eprintln!("SKIP validation: kubernetes-validate is not installed");
        return;
    }
    let file = world
        .path()
        .join(format!("{}.yaml", common::unique("validate")));
    std::fs::write(&file, yaml).unwrap();
    for version in ["1.37.0", "1.30.0"] {
        let out = std::process::Command::new(validator)
            .args(["--strict", "--quiet", "-k", version])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "Kubernetes {version}: {}{}\n{yaml}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `atomic kube generate --storage podman ARGS…`: its stdout, asserting success.
fn generate(world: &World, args: &[&str]) -> String {
    let out = world
        .on(Kind::Podman, &["kube", "generate"], args)
        .output()
        .unwrap();
    assert!(out.status.success(), "generate {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Tears down what `kube play` of a file started, even when the test fails: through atomic,
/// which turns a DaemonSet or Job into the Pod it played (podman 4.3 knows neither kind).
struct Played(PathBuf);

impl Drop for Played {
    fn drop(&mut self) {
        let _ = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"))
            .args(["kube", "play", "--down", "--storage", "podman"])
            .arg(&self.0)
            .env("CONTAINERS_CONF", atomic_testsupport::containers_conf())
            .output();
    }
}

fn play(world: &World, yaml: &str, file: &str) -> Played {
    let path = world.path().join(file);
    std::fs::write(&path, yaml).unwrap();
    let played = Played(path.clone());
    let out = world
        .atomic()
        .args(["kube", "play", "--storage", "podman"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "kube play: {}", stderr(&out));
    played
}

/// The logs of a container once they contain `needle` (30 s at most).
fn logs_with(container: &str, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let out = podman_command().args(["logs", container]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains(needle) || start.elapsed() > Duration::from_secs(30) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_run_once_label_plays_as_atomic_run_runs_it() {
    let Some((kind, _alone)) = podman_alone() else {
        return;
    };
    load_labelled(
        kind,
        "i18-kube-echo",
        "docker run --rm --name ${NAME} -e GREETING=hello -w /tmp ${IMAGE} \
                 /bin/sh -c 'echo \"$GREETING from $(pwd)\"'",
    );
    let world = World::new();
    let run = world
        .on(kind, &["run"], &["--quiet", "i18-kube-echo"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(stdout(&run), "hello from /tmp\n");

    let name = common::unique("i18-kube-echo");
    let yaml = generate(&world, &["--name", &name, "i18-kube-echo"]);
    let docs = documents(&yaml);
    assert_eq!(docs[0]["kind"], "Job", "{yaml}");
    assert_eq!(
        pod_spec(&docs[0])["containers"][0]["image"],
        "localhost/i18-kube-echo:latest"
    );
    let played = play(&world, &yaml, "echo.yaml");
    let logs = logs_with(&format!("{name}-{name}"), "hello");
    assert_eq!(logs, stdout(&run), "the played pod's output");
    drop(played);
    let pods = podman_command()
        .args(["pod", "exists", &name])
        .status()
        .unwrap();
    assert!(!pods.success(), "kube play --down left pod {name} behind");
}

#[test]
fn a_service_label_plays_as_a_deployment() {
    let Some((kind, _alone)) = podman_alone() else {
        return;
    };
    load_labelled(
        kind,
        "i18-kube-service",
        "docker run -d --name ${NAME} -e WHO=service ${IMAGE} \
                 /bin/sh -c 'echo started $WHO; exec sleep 600'",
    );
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("i18-kube-svc");
    let run = world
        .on(
            kind,
            &["run"],
            &["--quiet", "-n", &name, "i18-kube-service"],
        )
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let run_logs = logs_with(&name, "started");
    assert_eq!(run_logs, "started service\n");

    let yaml = generate(&world, &["--name", &name, "i18-kube-service"]);
    let docs = documents(&yaml);
    assert_eq!(docs[0]["kind"], "Deployment", "{yaml}");
    assert_eq!(docs[0]["spec"]["replicas"], 1);
    let _played = play(&world, &yaml, "service.yaml");
    let played = format!("{name}-pod-0-{name}");
    assert_eq!(logs_with(&played, "started"), run_logs);
    assert_eq!(kind.container_state(&played), "running");
}

#[test]
fn an_spc_becomes_a_daemonset_that_sees_the_host() {
    let Some((kind, _alone)) = podman_alone() else {
        return;
    };
    let marker = Path::new("/var/tmp/i18-kube-spc-marker");
    kind.load(&ImageSpec::new("i18-kube-spc").cmd([
        "/bin/sh",
        "-c",
        "cat /host/var/tmp/i18-kube-spc-marker; cat /proc/net/dev",
    ]));
    let token = common::unique("host-root-seen");
    std::fs::write(marker, format!("{token}\n")).unwrap();
    let world = World::new();
    let name = common::unique("i18-kube-spc");
    let yaml = generate(&world, &["--spc", "--name", &name, "i18-kube-spc"]);
    validate(&world, &yaml);
    let docs = documents(&yaml);
    let ds = &docs[0];
    assert_eq!(ds["kind"], "DaemonSet", "{yaml}");
    let spec = pod_spec(ds);
    // podman 4.3 ignores hostPID and hostIPC, so those are checked here, in the object.
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        assert_eq!(spec[field], true, "{field}: {yaml}");
    }
    assert_eq!(spec["containers"][0]["securityContext"]["privileged"], true);
    assert_eq!(spec["tolerations"][0]["operator"], "Exists");
    assert_eq!(spec["volumes"][0]["hostPath"]["path"], "/");

    let _played = play(&world, &yaml, "spc.yaml");
    let logs = logs_with(&format!("{name}-{name}"), &token);
    assert!(
        logs.contains(&token),
        "/host is not the host's root: {logs}"
    );
    let interfaces = |text: &str| -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.split_once(':').map(|(i, _)| i.trim().to_string()))
            .filter(|i| !i.contains(' ') && !i.is_empty())
            .collect()
    };
    let host = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
    let seen = interfaces(&logs);
    assert!(
        host.iter().filter(|i| *i != "lo").all(|i| seen.contains(i)),
        "the pod does not see the host's network: host {host:?}, pod {seen:?}"
    );
    let _ = std::fs::remove_file(marker);
}

/// The security-relevant fields of a pod spec's first container, the same way for atomic's
/// objects and podman's: privileged, host network, capabilities (without `CAP_`), hostPaths.
#[derive(Debug, PartialEq, Eq)]
struct Security {
    privileged: bool,
    host_network: bool,
    cap_add: BTreeSet<String>,
    cap_drop: BTreeSet<String>,
    host_paths: BTreeSet<(String, String, bool)>,
}

fn security(spec: &Value) -> Security {
    let c = &spec["containers"][0];
    let sc = &c["securityContext"];
    let caps = |key: &str| -> BTreeSet<String> {
        sc["capabilities"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(|s| s.trim_start_matches("CAP_").to_string())
            .collect()
    };
    let volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
    let host_paths = c["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let v = volumes.iter().find(|v| v["name"] == m["name"])?;
            let path = v["hostPath"]["path"].as_str()?;
            Some((
                path.to_string(),
                m["mountPath"].as_str()?.to_string(),
                m["readOnly"] == true,
            ))
        })
        .collect();
    Security {
        privileged: sc["privileged"] == true,
        host_network: spec["hostNetwork"] == true,
        cap_add: caps("add"),
        cap_drop: caps("drop"),
        host_paths,
    }
}

#[test]
fn security_fields_agree_with_podman_generate_kube() {
    let Some((kind, _alone)) = podman_alone() else {
        return;
    };
    let flag_sets = [
        "--cap-add SYS_ADMIN --cap-drop NET_RAW --net host -v /var/log:/logs:ro -v /run:/run",
        "--privileged --pid host --ipc host -v /:/host",
    ];
    let world = World::new();
    let mut containers = Containers::new(kind);
    for (n, flags) in flag_sets.iter().enumerate() {
        let image = format!("i18-kube-rt{n}");
        kind.load(
            &ImageSpec::new(&image)
                .label(
                    "RUN",
                    format!("docker run {flags} --name ${{NAME}} ${{IMAGE}} sleep 1"),
                )
                .cmd(["/bin/sh"]),
        );
        let name = containers.name("i18-kube-rt");
        let mut create = podman_command();
        create.args(["create", "--name", &name]);
        create.args(flags.split(' '));
        create.args([&image, "sleep", "1"]);
        let out = create.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = podman_command()
            .args(["generate", "kube", &name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let podman_docs = documents(&String::from_utf8_lossy(&out.stdout));
        let theirs = security(pod_spec(&podman_docs[0]));

        let from_label = documents(&generate(&world, &["--kind", "Pod", &image]));
        let container_yaml = generate(&world, &["--kind", "Pod", &name]);
        validate(&world, &container_yaml);
        let from_container = documents(&container_yaml);
        for (what, docs) in [("label", &from_label), ("container", &from_container)] {
            assert_eq!(
                security(pod_spec(&docs[0])),
                theirs,
                "{flags}: from the {what}"
            );
        }
        if flags.contains("--pid host") {
            // podman 4.3's generate kube leaves host PID and IPC out; atomic's object says them.
            assert_eq!(pod_spec(&from_label[0])["hostPID"], true);
            assert_eq!(pod_spec(&from_label[0])["hostIPC"], true);
            assert_eq!(pod_spec(&from_container[0])["hostPID"], true);
        }
    }
}

/// A kubectl that records its arguments and stdin in its directory and exits 3.
fn recording_kubectl(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > {d}/argv\ncat > {d}/stdin\nexit 3\n",
        d = dir.display()
    );
    let path = dir.join("kubectl");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn apply_and_delete_hand_the_stream_to_kubectl() {
    let Some((kind, _alone)) = podman_alone() else {
        return;
    };
    load_labelled(
        kind,
        "i18-kube-apply",
        "docker run -d -p 8080:80 --name ${NAME} ${IMAGE} httpd -f",
    );
    let world = World::new();
    let bin = world.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    recording_kubectl(&bin);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    for verb in ["apply", "delete"] {
        let out = world
            .on(
                kind,
                &["kube", verb],
                &[
                    "--kubeconfig",
                    "/etc/k.conf",
                    "--context",
                    "edge",
                    "--dry-run=server",
                    "--service",
                    "i18-kube-apply",
                ],
            )
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "kubectl's exit code: {}",
            stderr(&out)
        );
        let argv = std::fs::read_to_string(bin.join("argv")).unwrap();
        assert_eq!(
            argv.lines().collect::<Vec<_>>(),
            [
                "--kubeconfig=/etc/k.conf",
                "--context=edge",
                verb,
                "-f",
                "-",
                "--dry-run=server"
            ]
        );
        let docs = documents(&std::fs::read_to_string(bin.join("stdin")).unwrap());
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert_eq!(kinds, ["Deployment", "Service"]);
        assert_eq!(docs[1]["spec"]["ports"][0]["port"], 8080);
    }
}

/// An image in `kind` whose RUN label is `run` (its Cmd: /bin/sh).
fn load_labelled(kind: Kind, name: &str, run: &str) {
    kind.load(&ImageSpec::new(name).label("RUN", run).cmd(["/bin/sh"]));
}

#[test]
fn kube_apply_without_kubectl_says_so() {
    let world = World::new();
    let out = world
        .atomic()
        .args(["kube", "apply", "--storage", "podman", "anything"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("kubectl is not installed (no 'kubectl' on PATH)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unmapped_flags_warn_and_strict_refuses_them() {
    let Some((kind, _alone)) = podman_alone() else {
        return;
    };
    load_labelled(
        kind,
        "i18-kube-strict",
        "docker run --ulimit nofile=100 --init --name ${NAME} ${IMAGE} true",
    );
    let world = World::new();
    let out = world
        .on(kind, &["kube", "generate"], &["i18-kube-strict"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for flag in ["--ulimit nofile=100", "--init"] {
        assert!(stderr(&out).contains(&format!("warning: i18-kube-strict: {flag}:")));
    }
    let out = world
        .on(
            kind,
            &["kube", "generate"],
            &["--strict", "i18-kube-strict"],
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("--strict: 2 option(s)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn json_output_is_one_list_of_the_objects() {
    let Some((kind, _alone)) = podman_alone() else {
        return;
    };
    load_labelled(
        kind,
        "i18-kube-apply",
        "docker run -d -p 8080:80 --name ${NAME} ${IMAGE} httpd -f",
    );
    let world = World::new();
    let text = generate(
        &world,
        &[
            "-o",
            "json",
            "--service",
            "--namespace",
            "web",
            "i18-kube-apply",
        ],
    );
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["kind"], "Deployment");
    assert_eq!(list["items"][0]["metadata"]["namespace"], "web");
    assert_eq!(list["items"][1]["kind"], "Service");
}

#[test]
fn kube_play_on_native_is_not_supported_yet() {
    let world = World::new();
    let file = world.path().join("pod.yaml");
    std::fs::write(&file, "apiVersion: v1\nkind: Pod\n").unwrap();
    let out = world
        .atomic()
        .args(["kube", "play", "--storage", "native"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not supported on native yet")
            && stderr(&out).contains("--storage podman"),
        "{}",
        stderr(&out)
    );
}

/// A deployment as `atomic install --system` leaves it (`C/NAME` → `C/NAME.0` with `info`,
/// `config.json` and the checked-out root with its `/exports`), made by hand here: a real
/// install writes units under /etc/systemd, which only the systemd-host tier may do.
fn deployed_system_container(world: &World, name: &str) {
    let store = world.store_root();
    let slot = store.join(format!("{name}.0"));
    std::fs::create_dir_all(slot.join("rootfs/exports")).unwrap();
    let template = r#"{"ociVersion": "1.0.2",
        "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/",
                    "args": ["/bin/etcd", "--port=$PORT"], "env": ["NAME=$NAME"]},
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [{"destination": "/var/lib/etcd", "type": "bind",
                    "source": "/var/lib/$NAME", "options": ["rbind", "rw"]}],
        "linux": {"namespaces": [{"type": "mount"}]}}"#;
    std::fs::write(slot.join("rootfs/exports/config.json.template"), template).unwrap();
    let rendered = template.replace("$PORT", "2379").replace("$NAME", name);
    std::fs::write(slot.join("config.json"), rendered).unwrap();
    let info = serde_json::json!({
        "image": "registry.example/etcd:3", "revision": "ab", "manifest-digest": "sha256:ab",
        "created": 0, "values": {"PORT": "2379", "NAME": name},
        "has-container-service": true, "installed-files": [], "installed-files-checksum": {},
        "installed-files-template": [], "rename-installed-files": {}, "remote": null,
        "runtime": "/usr/sbin/runc", "set-values": {}
    });
    std::fs::write(slot.join("info"), info.to_string()).unwrap();
    std::os::unix::fs::symlink(&slot, store.join(name)).unwrap();
}

#[test]
fn a_system_container_becomes_a_daemonset_with_its_set_values() {
    let world = World::new();
    deployed_system_container(&world, "i18-etcd");
    let generate = |extra: &[&str]| {
        let out = world
            .atomic()
            .args(["kube", "generate", "-q"])
            .args(extra)
            .arg("i18-etcd")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        validate(&world, &stdout(&out));
        documents(&stdout(&out))
    };
    let docs = generate(&[]);
    assert_eq!(docs[0]["kind"], "DaemonSet");
    let spec = pod_spec(&docs[0]);
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["hostPID"], true);
    let c = &spec["containers"][0];
    assert_eq!(c["image"], "registry.example/etcd:3");
    assert_eq!(
        c["command"],
        serde_json::json!(["/bin/etcd", "--port=2379"])
    );
    assert_eq!(c["env"][0]["value"], "i18-etcd");
    assert_eq!(spec["volumes"][0]["hostPath"]["path"], "/var/lib/i18-etcd");
    assert_eq!(c["volumeMounts"][0]["mountPath"], "/var/lib/etcd");

    let docs = generate(&["--set", "PORT=4001"]);
    assert_eq!(
        pod_spec(&docs[0])["containers"][0]["command"][1],
        "--port=4001"
    );
    let out = world
        .atomic()
        .args(["kube", "generate", "--set", "NAME=other", "i18-etcd"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("atomic sets NAME itself"),
        "{}",
        stderr(&out)
    );
    let out = world
        .atomic()
        .args(["kube", "generate", "--name", "other", "i18-etcd"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("keeps its name"), "{}", stderr(&out));
}

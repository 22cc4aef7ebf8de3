//! Nulecule applications end to end on docker, podman and native: a meta image of three
//! components with a nested application (`source: docker://…`) run, answered, stopped, run
//! again and uninstalled; a component that fails to start rolls the run back; hostile values
//! stay single argv words. The kubernetes provider is checked with a recording kubectl on PATH.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use atomic_testsupport::ImageSpec;
use common::{Kind, World, stderr, stdout};

/// Stops within a second of SIGTERM (a shell waits for its `sleep` before running the trap).
const SLEEPER: [&str; 3] = [
    "/bin/sh",
    "-c",
    "trap 'exit 0' TERM; while :; do sleep 1; done",
];

/// Quotes, a command substitution, backticks, a newline, a semicolon: one argv word each.
const HOSTILE: &str = "p'a\"s s$(touch /tmp/i17-pwned)`id`\n;rm -rf /";

const CHILD_NULECULE: &str = "\
specversion: 0.0.2
id: i17-child
params:
  - name: password
    description: shared with the parent's section
graph:
  - name: cache
    params:
      - name: image
        default: i17-app-cache
    artifacts:
      docker:
        - file://artifacts/docker/
";

const PARENT_NULECULE: &str = "\
specversion: 0.0.2
id: i17-stack
metadata:
  name: i17 stack
  appversion: 1.0
requirements:
  - persistentVolume:
      name: i17-stack-data
      accessMode: ReadWrite
      size: 1
graph:
  - name: db
    params:
      - name: image
        default: i17-app-db
      - name: password
        description: database password
        hidden: true
    artifacts:
      docker:
        - file://artifacts/docker/db
  - name: child
    source: docker://i17-app-child
  - name: queue
    params:
      - name: image
        default: i17-app-queue
    artifacts:
      docker:
        - file://artifacts/docker/queue
  - name: api
    params:
      - name: image
        default: i17-app-api
    artifacts:
      docker:
        - file://artifacts/docker/api
";

fn component(kind: Kind, name: &str) {
    kind.load(&ImageSpec::new(name).cmd(SLEEPER));
}

/// The application images and their components, in `kind`.
fn images(kind: Kind) {
    for name in [
        "i17-app-db",
        "i17-app-cache",
        "i17-app-queue",
        "i17-app-api",
    ] {
        component(kind, name);
    }
    let child = ImageSpec::new("i17-app-child")
        .label("io.projectatomic.nulecule.specversion", "0.0.2")
        .file("/application-entity/Nulecule", CHILD_NULECULE, 0o644)
        .file(
            "/application-entity/artifacts/docker/cache_run",
            "docker run -d -e PASSWORD=$password $image",
            0o644,
        )
        .cmd(["/bin/sh"]);
    kind.load(&child);
    // No label: recognised by its /application-entity/Nulecule.
    let parent = ImageSpec::new("i17-app-stack")
        .label("RUN", "docker run --rm projectatomic/atomicapp:0.6.4 run")
        .file("/application-entity/Nulecule", PARENT_NULECULE, 0o644)
        .file(
            "/application-entity/artifacts/docker/db",
            "docker run -d -e PASSWORD=$password \\\n  $image",
            0o644,
        )
        .file(
            "/application-entity/artifacts/docker/queue",
            "docker run -d $image",
            0o644,
        )
        .file(
            "/application-entity/artifacts/docker/api",
            "docker run -d --name i17-stack-api $image",
            0o644,
        )
        .cmd(["/bin/sh"]);
    kind.load(&parent);
}

const CONTAINERS: [&str; 4] = [
    "i17-stack_db_1",
    "i17-stack_child_cache_1",
    "i17-stack_queue_1",
    "i17-stack-api",
];

fn app_world() -> World {
    let world = World::new();
    std::fs::write(
        world.path().join("answers.conf"),
        "[general]\nnamespace = default\n\n[child]\npassword = from the parent's section\n",
    )
    .unwrap();
    world
}

fn env_of(kind: Kind, container: &str) -> String {
    kind.output(&["exec", container, "sh", "-c", "printf %s \"$PASSWORD\""])
}

fn cleanup(kind: Kind) {
    for name in CONTAINERS {
        kind.remove_container(name);
    }
}

fn run_answer_stop_rerun_uninstall(kind: Kind) {
    images(kind);
    cleanup(kind);
    let world = app_world();
    let apps = world.path().join("apps");
    let atomic = |verb: &[&str], args: &[&str]| {
        let mut cmd = world.on(kind, verb, args);
        cmd.env("ATOMIC_APP_ROOT", &apps);
        cmd
    };
    let run = || {
        atomic(
            &["run"],
            &[
                "--answers",
                "answers.conf",
                "--set",
                &format!("db:password={HOSTILE}"),
                "i17-app-stack",
            ],
        )
        .output()
        .unwrap()
    };

    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    for name in CONTAINERS {
        assert_eq!(kind.container_state(name), "running", "{name}");
    }
    assert_eq!(env_of(kind, "i17-stack_db_1"), HOSTILE);
    assert_eq!(
        env_of(kind, "i17-stack_child_cache_1"),
        "from the parent's section"
    );
    assert!(!Path::new("/tmp/i17-pwned").exists());
    // Hidden values are masked in what is printed.
    assert!(!stdout(&out).contains("touch"), "{}", stdout(&out));
    // The persistentVolume requirement: a named volume, where the engine has them.
    if kind == Kind::Native {
        assert!(
            stderr(&out).contains("no named volumes"),
            "{}",
            stderr(&out)
        );
    } else {
        kind.output(&["volume", "inspect", "i17-stack-data"]);
    }

    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(apps.join("i17-stack/state.json")).unwrap()).unwrap();
    let started: Vec<&str> = state["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(started, CONTAINERS, "graph order, the nested app in place");
    let values = apps.join("i17-stack/answers.conf.gen");
    let mode = std::fs::metadata(&values).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let list = atomic(&["containers", "list"], &["--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let ours = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["app"] == "i17-stack")
        .count();
    assert_eq!(ours, 4, "{list}");

    let info = atomic(&["info"], &["i17-stack"]).output().unwrap();
    let text = stdout(&info);
    assert!(
        text.contains("2. [child:cache]") && text.contains("[hidden]"),
        "{text}"
    );

    // Stop: reverse order, containers kept.
    let out = atomic(&["stop"], &["i17-stack"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reversed = CONTAINERS.to_vec();
    reversed.reverse();
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), reversed);
    for name in CONTAINERS {
        assert_ne!(kind.container_state(name), "running", "{name}");
    }

    // A second run reuses the names, the fixed one included.
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    for name in CONTAINERS {
        assert_eq!(kind.container_state(name), "running", "{name}");
    }
    // A second run while running is refused.
    let out = run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is running"), "{}", stderr(&out));

    let out = atomic(&["uninstall"], &["i17-stack"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for name in CONTAINERS {
        assert!(!kind.container_exists(name), "{name}");
    }
    assert!(!apps.join("i17-stack").exists());
    if kind != Kind::Native {
        kind.output(&["volume", "rm", "i17-stack-data"]);
    }
}

/// A directory app whose last component cannot start: the two before it are removed again.
fn a_failing_component_rolls_the_run_back(kind: Kind) {
    component(kind, "i17-app-db");
    let world = World::new();
    let dir = world.path().join("bad");
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(
        dir.join("Nulecule"),
        "specversion: 0.0.2\nid: i17-bad\ngraph:\n\
         - {name: one, artifacts: {docker: [file://artifacts/one]}}\n\
         - {name: two, artifacts: {docker: [file://artifacts/two]}}\n\
         - {name: three, artifacts: {docker: [file://artifacts/three]}}\n",
    )
    .unwrap();
    std::fs::write(dir.join("artifacts/one"), "docker run -d i17-app-db").unwrap();
    std::fs::write(dir.join("artifacts/two"), "docker run -d i17-app-db").unwrap();
    std::fs::write(
        dir.join("artifacts/three"),
        "docker run -d --no-such-flag i17-app-db",
    )
    .unwrap();
    let apps = world.path().join("apps");
    let out = world
        .on(kind, &["run"], &["./bad"])
        .env("ATOMIC_APP_ROOT", &apps)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("component 'three'"), "{err}");
    for name in ["i17-bad_one_1", "i17-bad_two_1", "i17-bad_three_1"] {
        assert!(!kind.container_exists(name), "{name} left behind: {err}");
    }
    assert!(
        !apps.join("i17-bad").exists(),
        "no record of a failed first run"
    );
}

on_every_engine!(
    run_answer_stop_rerun_uninstall,
    a_failing_component_rolls_the_run_back
);

// ---- kubernetes, with a recording kubectl --------------------------------------------------

const KUBECTL: &str = r#"#!/bin/sh
log="$KUBECTL_LOG"
printf 'ARGV' >>"$log"
for a in "$@"; do printf ' %s' "$a" >>"$log"; done
printf '\n' >>"$log"
case " $* " in
  *" get namespace "*) exit 1 ;;
  *" apply "*)
    obj=$(cat)
    printf '%s\n' "$obj" >>"$log"
    if [ -n "$KUBECTL_FAIL" ]; then
      case "$obj" in *"$KUBECTL_FAIL"*) echo "error: refused by the test" >&2; exit 1 ;; esac
    fi ;;
esac
exit 0
"#;

fn kube_world() -> World {
    let world = World::new();
    let bin = world.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("kubectl"), KUBECTL).unwrap();
    std::fs::set_permissions(bin.join("kubectl"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let app = world.path().join("kapp");
    std::fs::create_dir_all(app.join("artifacts/k8s")).unwrap();
    std::fs::write(
        app.join("Nulecule"),
        r#"{"specversion": "0.0.2", "id": "i17-kapp",
  "requirements": [{"persistentVolume": {"name": "i17-data", "accessMode": "ReadWrite", "size": 4}}],
  "graph": [
    {"name": "db", "params": [{"name": "image", "default": "i17-db"},
                              {"name": "password", "description": "db password"}],
     "artifacts": {"kubernetes": ["file://artifacts/k8s/db-rc.yaml", "file://artifacts/k8s/db-svc.yaml"]}},
    {"name": "web", "params": [{"name": "port", "default": 8080}, {"name": "token", "description": "api token", "hidden": true}],
     "artifacts": {"kubernetes": ["file://artifacts/k8s/web-pod.json"]}}]}
"#,
    )
    .unwrap();
    std::fs::write(
        app.join("artifacts/k8s/db-rc.yaml"),
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: db\nspec:\n  replicas: 1\n  \
         selector:\n    app: db\n  template:\n    metadata:\n      labels:\n        app: db\n    \
         spec:\n      containers:\n        - name: db\n          image: $image\n          env:\n            \
         - name: PASSWORD\n              value: \"$password\"\n",
    )
    .unwrap();
    std::fs::write(
        app.join("artifacts/k8s/db-svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  selector:\n    app: db\n  \
         ports:\n    - port: 5432\n",
    )
    .unwrap();
    std::fs::write(
        app.join("artifacts/k8s/web-pod.json"),
        r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-pod"},
 "spec": {"containers": [{"name": "web", "image": "busybox", "env": [{"name": "TOKEN", "value": "$token"}],
   "ports": [{"containerPort": $port}]}]}}
"#,
    )
    .unwrap();
    world
}

fn kube_cmd(world: &World, args: &[&str]) -> assert_cmd::Command {
    let path = format!(
        "{}:{}",
        world.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = world.atomic();
    cmd.env("PATH", path)
        .env("KUBECTL_LOG", world.path().join("kubectl.log"))
        .env("ATOMIC_APP_ROOT", world.path().join("apps"))
        .args(args);
    cmd
}

fn argv_lines(world: &World) -> Vec<String> {
    std::fs::read_to_string(world.path().join("kubectl.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("ARGV "))
        .map(|l| {
            l.rsplit_once("/kubectl")
                .map_or(l, |(_, rest)| rest)
                .trim()
                .to_string()
        })
        .collect()
}

const RUN_K8S: &[&str] = &[
    "run",
    "--provider",
    "kubernetes",
    "--namespace",
    "i17-ns",
    "--kubeconfig",
    "/k/config",
    "--context",
    "ctx",
    "--create-namespace",
    "--set",
    "db:password=s3cret",
    "--set",
    "web:token=t0k",
    "./kapp",
];

#[test]
fn kubernetes_objects_are_applied_in_order_and_deleted_in_reverse() {
    let world = kube_world();
    let out = kube_cmd(&world, RUN_K8S).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let flags = "--kubeconfig=/k/config --context=ctx";
    let ns = "--namespace=i17-ns";
    assert_eq!(
        argv_lines(&world),
        [
            format!("{flags} get namespace i17-ns {ns}"),
            format!("{flags} create namespace i17-ns --namespace=default"),
            format!("{flags} apply -f - {ns}"),
            format!("{flags} apply -f - {ns}"),
            format!("{flags} apply -f - {ns}"),
            format!("{flags} apply -f - {ns}"),
        ]
    );
    let log = std::fs::read_to_string(world.path().join("kubectl.log")).unwrap();
    let objects: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<String> = objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "PersistentVolumeClaim/i17-data",
            "ReplicationController/db",
            "Service/db",
            "Pod/web-pod"
        ]
    );
    assert!(
        objects
            .iter()
            .all(|o| o["metadata"]["namespace"] == "i17-ns")
    );
    assert_eq!(
        objects[3]["spec"]["containers"][0]["ports"][0]["containerPort"],
        8080
    );
    assert_eq!(
        objects[1]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "s3cret"
    );

    std::fs::remove_file(world.path().join("kubectl.log")).unwrap();
    let shown = kube_cmd(&world, &["stop", "--display", "i17-kapp"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&shown).lines().next(),
        Some("delete Pod/web-pod (web)"),
        "{}",
        stdout(&shown)
    );
    assert!(
        !world.path().join("kubectl.log").exists(),
        "--display ran kubectl"
    );
    let out = kube_cmd(&world, &["stop", "i17-kapp"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let flags = "--kubeconfig=/k/config --context=ctx";
    assert_eq!(
        argv_lines(&world),
        [
            format!("{flags} delete --ignore-not-found Pod/web-pod {ns}"),
            format!("{flags} delete --ignore-not-found Service/db {ns}"),
            format!("{flags} scale --replicas=0 ReplicationController/db {ns}"),
            format!("{flags} delete --ignore-not-found ReplicationController/db {ns}"),
        ],
        "reverse order, the workload scaled to 0 first, the claim kept"
    );
}

#[test]
fn a_kubernetes_object_refused_deletes_what_the_run_created() {
    let world = kube_world();
    let out = kube_cmd(&world, RUN_K8S)
        .env("KUBECTL_FAIL", "web-pod")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("component 'web'"), "{}", stderr(&out));
    let deletes: Vec<String> = argv_lines(&world)
        .into_iter()
        .filter(|l| l.contains(" delete "))
        .map(|l| l.split_whitespace().rev().nth(1).unwrap().to_string())
        .collect();
    assert_eq!(
        deletes,
        [
            "Service/db",
            "ReplicationController/db",
            "PersistentVolumeClaim/i17-data"
        ]
    );
    assert!(!world.path().join("apps/i17-kapp").exists());
}

#[test]
fn missing_values_without_a_terminal_are_listed_together() {
    let world = kube_world();
    let out = kube_cmd(&world, &["run", "--provider", "kubernetes", "./kapp"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("db.password") && err.contains("web.token"),
        "{err}"
    );
    assert!(!world.path().join("kubectl.log").exists(), "nothing ran");
}

#[test]
fn display_prints_the_objects_and_runs_nothing() {
    let world = kube_world();
    let mut args = RUN_K8S.to_vec();
    args.insert(1, "--display");
    let out = kube_cmd(&world, &args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("kind: PersistentVolumeClaim") && text.contains("web-pod"),
        "{text}"
    );
    assert!(!world.path().join("kubectl.log").exists());
}

#[test]
fn genanswers_writes_every_section_and_marathon_is_refused() {
    let world = kube_world();
    let out = kube_cmd(&world, &["app", "genanswers", "./kapp"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(world.path().join("answers.conf")).unwrap();
    assert!(
        text.contains("[db]\nimage = i17-db\npassword = None\n"),
        "{text}"
    );
    assert!(
        text.contains("[web]\nport = 8080\ntoken = None\n"),
        "{text}"
    );
    let again = kube_cmd(&world, &["app", "genanswers", "./kapp"])
        .output()
        .unwrap();
    assert!(!again.status.success(), "an existing file is kept");
    let out = kube_cmd(&world, &["run", "--provider", "marathon", "./kapp"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("'marathon' is not supported"),
        "{}",
        stderr(&out)
    );
}

/// On a terminal, missing values are asked for in graph order; a hidden one is not echoed.
#[test]
fn missing_values_are_asked_on_a_terminal_hidden_ones_without_echo() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no 'script' (util-linux) to give atomic a terminal");
        return;
    }
    let world = kube_world();
    let atomic = assert_cmd::cargo::cargo_bin("atomic");
    let line = format!(
        "{} run --provider kubernetes --display ./kapp",
        atomic.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(world.path())
        .env("ATOMIC_CONF", world.conf())
        .env("ATOMIC_APP_ROOT", world.path().join("apps"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str, seen: &mut Vec<u8>| {
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(seen).contains(needle) {
            let n = stdout.read(&mut buf).unwrap();
            assert!(
                n > 0,
                "ended before {needle:?}: {}",
                String::from_utf8_lossy(seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    };
    wait_for("ANSWER => db | password (db password): ", &mut seen);
    std::thread::sleep(std::time::Duration::from_millis(200));
    stdin.write_all(b"visible-pass\n").unwrap();
    wait_for("ANSWER => web | token (api token): ", &mut seen);
    std::thread::sleep(std::time::Duration::from_millis(200));
    stdin.write_all(b"hidden-token\n").unwrap();
    drop(stdin);
    stdout.read_to_end(&mut seen).unwrap();
    assert!(child.wait().unwrap().success());
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("visible-pass"), "{text}");
    assert!(!text.contains("hidden-token"), "echoed or shown: {text}");
    assert!(text.contains("******"), "{text}");
}

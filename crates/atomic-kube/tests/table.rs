//! The label table: RUN labels as `atomic run` reads them, turned into objects and checked
//! field by field; then every generated document is validated with `kubernetes-validate
//! --strict` for the newest Kubernetes version and the oldest one atomic supports.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use atomic_kube::{Host, Kind, KubeError, Options, PathKind, flags, stream};
use serde_json::{Value, json};

/// The oldest Kubernetes version the generated objects are checked against (appArmorProfile,
/// used for `--security-opt apparmor=…`, is a field from 1.30 on).
const OLDEST: &str = "1.30.0";
const NEWEST: &str = "1.37.0";

struct FakeHost;

impl Host for FakeHost {
    fn path_kind(&self, path: &str) -> Option<PathKind> {
        Some(match path {
            "/" | "/run" | "/var/log" | "/srv/data" => PathKind::Directory,
            "/etc/localtime" => PathKind::File,
            "/var/run/docker.sock" => PathKind::Socket,
            "/dev/kvm" => PathKind::CharDevice,
            "/dev/sda" => PathKind::BlockDevice,
            _ => return None,
        })
    }

    fn read_file(&self, path: &str) -> std::io::Result<String> {
        match path {
            "/env.list" => Ok("A=from-file\n# a comment\n\nFROM_HOST\nC=3\n".into()),
            _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
        }
    }

    fn env(&self, key: &str) -> Option<String> {
        (key == "FROM_HOST" || key == "B").then(|| format!("{key}-value"))
    }
}

struct Case {
    label: &'static str,
    options: Options,
    /// JSON pointer → value. `K` is the first object's kind; `M/…` its metadata; `P/…` its pod
    /// spec; `C/…` its first container; `S/…` the second object; `/…` the first object.
    checks: Vec<(&'static str, Value)>,
    /// The options that must be warned about (substrings of the warnings' option), and no
    /// others.
    warns: Vec<&'static str>,
}

fn case(label: &'static str, checks: Vec<(&'static str, Value)>) -> Case {
    Case {
        label,
        options: Options::default(),
        checks,
        warns: Vec::new(),
    }
}

impl Case {
    fn warns(mut self, w: &[&'static str]) -> Self {
        self.warns = w.to_vec();
        self
    }
    fn options(mut self, o: Options) -> Self {
        self.options = o;
        self
    }
}

const IMAGE: &str = "quay.io/acme/web:1";

fn argv(label: &str) -> Vec<String> {
    let template = atomic_label::parse(label).expect("label parses");
    let lookup = |_: &str| None;
    let vars = atomic_label::Vars {
        name: "web",
        image: IMAGE,
        opts: [None, None, None],
        run_opts: None,
        lookup: &lookup,
    };
    atomic_label::build(&template, &vars, &[]).expect("label builds")
}

fn generate(label: &str, options: &Options) -> Result<atomic_kube::Built, KubeError> {
    let (mut draft, warnings) = flags::from_argv(&argv(label), &FakeHost)?;
    if draft.name.is_empty() {
        draft.name = "web".into();
    }
    let mut built = atomic_kube::build(draft, options);
    built.warnings.splice(0..0, warnings);
    Ok(built)
}

fn pod_spec_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/spec",
        _ => "/spec/template/spec",
    }
}

fn lookup<'a>(objects: &'a [Value], key: &str) -> Option<&'a Value> {
    let first = &objects[0];
    let kind = first["kind"].as_str().unwrap_or_default();
    if key == "K" {
        return first.get("kind");
    }
    let (base, rest) = key.split_at(key.find('/').unwrap_or(key.len()));
    match base {
        "M" => first.pointer(&format!("/metadata{rest}")),
        "P" => first.pointer(&format!("{}{rest}", pod_spec_pointer(kind))),
        "C" => first.pointer(&format!("{}/containers/0{rest}", pod_spec_pointer(kind))),
        "S" => objects.get(1)?.pointer(rest),
        "" => first.pointer(rest),
        _ => panic!("bad check key {key}"),
    }
}

fn table() -> Vec<Case> {
    let spc = "docker run --privileged -v /:/host -v /run:/run -v /etc/localtime:/etc/localtime \
               --net=host --ipc=host --pid=host -e HOST=/host -e NAME=NAME -e IMAGE=IMAGE \
               -e SYSTEMD_IGNORE_CHROOT=1 --name NAME IMAGE";
    vec![
        case(
            "docker run --name NAME IMAGE",
            vec![
                ("K", json!("Pod")),
                ("M/name", json!("web")),
                ("M/labels/app.kubernetes.io~1name", json!("web")),
                ("C/name", json!("web")),
                ("C/image", json!(IMAGE)),
                ("P/restartPolicy", json!("Never")),
                ("C/securityContext", Value::Null),
                ("C/args", Value::Null),
            ],
        ),
        case(
            "docker run --privileged IMAGE",
            vec![("C/securityContext/privileged", json!(true)), ("K", json!("Pod"))],
        ),
        case(
            "docker run --privileged=false IMAGE",
            vec![("C/securityContext", Value::Null)],
        ),
        case(
            "docker run --cap-add SYS_ADMIN --cap-add=cap_net_raw IMAGE",
            vec![(
                "C/securityContext/capabilities/add",
                json!(["SYS_ADMIN", "NET_RAW"]),
            )],
        ),
        case(
            "docker run --cap-drop ALL --cap-add CHOWN,SETUID IMAGE",
            vec![
                ("C/securityContext/capabilities/drop", json!(["ALL"])),
                ("C/securityContext/capabilities/add", json!(["CHOWN", "SETUID"])),
            ],
        ),
        case(
            "docker run --net=host IMAGE",
            vec![
                ("K", json!("DaemonSet")),
                ("P/hostNetwork", json!(true)),
                ("P/tolerations", json!([{"operator": "Exists"}])),
                ("P/restartPolicy", json!("Always")),
                ("/spec/selector/matchLabels/app.kubernetes.io~1name", json!("web")),
            ],
        ),
        case(
            "docker run --net host --name NAME IMAGE",
            vec![("K", json!("DaemonSet")), ("P/hostNetwork", json!(true))],
        ),
        case(
            "docker run --pid=host IMAGE",
            vec![("K", json!("DaemonSet")), ("P/hostPID", json!(true))],
        ),
        case(
            "docker run --ipc=host IMAGE",
            vec![("K", json!("Pod")), ("P/hostIPC", json!(true))],
        ),
        case(
            "docker run -v /:/host IMAGE",
            vec![
                ("K", json!("DaemonSet")),
                (
                    "P/volumes/0",
                    json!({"name": "host", "hostPath": {"path": "/", "type": "Directory"}}),
                ),
                ("C/volumeMounts/0", json!({"name": "host", "mountPath": "/host"})),
            ],
        ),
        case(
            "docker run -v /var/run/docker.sock:/var/run/docker.sock IMAGE",
            vec![
                ("P/volumes/0/hostPath/type", json!("Socket")),
                ("P/volumes/0/name", json!("var-run-docker-sock")),
            ],
        ),
        case(
            "docker run -v /etc/localtime:/etc/localtime:ro IMAGE",
            vec![
                ("P/volumes/0/hostPath/type", json!("File")),
                ("C/volumeMounts/0/readOnly", json!(true)),
            ],
        ),
        case(
            "docker run -v /missing/dir:/data IMAGE",
            vec![("P/volumes/0/hostPath/type", json!("DirectoryOrCreate"))],
        ),
        case(
            "docker run --privileged -v /run:/run:rshared IMAGE",
            vec![("C/volumeMounts/0/mountPropagation", json!("Bidirectional"))],
        ),
        case(
            "docker run -v /run:/run:rslave,ro IMAGE",
            vec![
                ("C/volumeMounts/0/mountPropagation", json!("HostToContainer")),
                ("C/volumeMounts/0/readOnly", json!(true)),
            ],
        ),
        case(
            "docker run -v /run:/run:rshared IMAGE",
            vec![("C/volumeMounts/0/mountPropagation", json!("HostToContainer"))],
        )
        .warns(&["-v /run:/run:rshared"]),
        case(
            "docker run -v data:/data IMAGE",
            vec![("P/volumes/0", json!({"name": "data", "emptyDir": {}}))],
        )
        .warns(&["-v data:/data"]),
        case(
            "docker run -v /scratch IMAGE",
            vec![("P/volumes/0", json!({"name": "scratch", "emptyDir": {}}))],
        ),
        case(
            "docker run --tmpfs /tmp IMAGE",
            vec![("P/volumes/0/emptyDir", json!({"medium": "Memory"}))],
        ),
        case(
            "docker run --tmpfs /tmp:size=64m,noexec IMAGE",
            vec![(
                "P/volumes/0/emptyDir",
                json!({"medium": "Memory", "sizeLimit": "64Mi"}),
            )],
        )
        .warns(&["--tmpfs /tmp:size=64m,noexec"]),
        case(
            "docker run --mount type=bind,src=/run,dst=/hostrun,readonly IMAGE",
            vec![
                ("P/volumes/0/hostPath", json!({"path": "/run", "type": "Directory"})),
                ("C/volumeMounts/0/mountPath", json!("/hostrun")),
                ("C/volumeMounts/0/readOnly", json!(true)),
            ],
        ),
        case(
            "docker run --mount type=tmpfs,dst=/cache,tmpfs-size=1g IMAGE",
            vec![(
                "P/volumes/0/emptyDir",
                json!({"medium": "Memory", "sizeLimit": "1Gi"}),
            )],
        ),
        case(
            "docker run --shm-size 256m IMAGE",
            vec![
                ("C/volumeMounts/0/mountPath", json!("/dev/shm")),
                ("P/volumes/0/emptyDir/sizeLimit", json!("256Mi")),
            ],
        ),
        case(
            "docker run -e A=1 -e B -e UNSET --env-file /env.list IMAGE",
            vec![(
                "C/env",
                json!([
                    {"name": "B", "value": "B-value"},
                    {"name": "A", "value": "from-file"},
                    {"name": "FROM_HOST", "value": "FROM_HOST-value"},
                    {"name": "C", "value": "3"},
                ]),
            )],
        )
        .warns(&["-e UNSET"]),
        case(
            r#"docker run -e 'CMD=$(date) ${HOME}' IMAGE"#,
            vec![("C/env/0/value", json!("$$(date) ${HOME}"))],
        ),
        case(
            "docker run -p 8080:80 IMAGE",
            vec![(
                "C/ports",
                json!([{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]),
            )],
        ),
        case(
            "docker run -p 127.0.0.1:53:53/udp IMAGE",
            vec![(
                "C/ports/0",
                json!({"containerPort": 53, "hostPort": 53, "hostIP": "127.0.0.1", "protocol": "UDP"}),
            )],
        ),
        case(
            "docker run -p 80 IMAGE",
            vec![("C/ports/0", json!({"containerPort": 80, "protocol": "TCP"}))],
        ),
        case(
            "docker run -p 8000-8001:9000-9001 IMAGE",
            vec![
                ("C/ports/0/containerPort", json!(9000)),
                ("C/ports/1/hostPort", json!(8001)),
            ],
        ),
        case(
            "docker run --expose 9090 IMAGE",
            vec![("C/ports/0", json!({"containerPort": 9090, "protocol": "TCP"}))],
        ),
        case(
            "docker run -d -p 8080:80 --name NAME IMAGE",
            vec![
                ("K", json!("Deployment")),
                ("/spec/replicas", json!(3)),
                ("S/kind", json!("Service")),
                ("S/metadata/name", json!("web")),
                ("S/spec/selector/app.kubernetes.io~1name", json!("web")),
                (
                    "S/spec/ports",
                    json!([{"name": "tcp-8080", "port": 8080, "targetPort": 80, "protocol": "TCP"}]),
                ),
            ],
        )
        .options(Options {
            service: true,
            replicas: Some(3),
            ..Options::default()
        }),
        case(
            "docker run --restart=always IMAGE",
            vec![("K", json!("Deployment")), ("P/restartPolicy", json!("Always"))],
        ),
        case(
            "docker run -it --restart=unless-stopped IMAGE",
            vec![("K", json!("Pod")), ("P/restartPolicy", json!("Always"))],
        ),
        case(
            "docker run --restart=on-failure:3 IMAGE",
            vec![
                ("K", json!("Job")),
                ("/spec/backoffLimit", json!(3)),
                ("P/restartPolicy", json!("OnFailure")),
            ],
        ),
        case(
            "docker run --rm IMAGE echo hi",
            vec![
                ("K", json!("Job")),
                ("/spec/backoffLimit", json!(0)),
                ("P/restartPolicy", json!("Never")),
                ("C/args", json!(["echo", "hi"])),
            ],
        ),
        case(
            "docker run -it --rm IMAGE sh",
            vec![
                ("K", json!("Pod")),
                ("C/stdin", json!(true)),
                ("C/tty", json!(true)),
            ],
        ),
        case(
            "docker run -u 1000:1000 IMAGE",
            vec![
                ("C/securityContext/runAsUser", json!(1000)),
                ("C/securityContext/runAsGroup", json!(1000)),
            ],
        ),
        case(
            "docker run --user root IMAGE",
            vec![("C/securityContext/runAsUser", json!(0))],
        ),
        case("docker run -u nobody IMAGE", vec![("C/securityContext", Value::Null)])
            .warns(&["-u nobody"]),
        case("docker run -w /srv IMAGE", vec![("C/workingDir", json!("/srv"))]),
        case(
            "docker run --entrypoint /bin/sh IMAGE -c 'echo hi there'",
            vec![
                ("C/command", json!(["/bin/sh"])),
                ("C/args", json!(["-c", "echo hi there"])),
            ],
        ),
        case(
            "docker run --entrypoint= IMAGE /bin/true",
            vec![("C/command", json!(["/bin/true"])), ("C/args", Value::Null)],
        ),
        case(
            "docker run --read-only IMAGE",
            vec![("C/securityContext/readOnlyRootFilesystem", json!(true))],
        ),
        case(
            "docker run --security-opt label=disable IMAGE",
            vec![("C/securityContext/seLinuxOptions", json!({"type": "spc_t"}))],
        ),
        case(
            "docker run --security-opt label=type:container_runtime_t \
             --security-opt label:level:s0:c1,c2 IMAGE",
            vec![(
                "C/securityContext/seLinuxOptions",
                json!({"type": "container_runtime_t", "level": "s0:c1,c2"}),
            )],
        ),
        case(
            "docker run --security-opt seccomp=unconfined IMAGE",
            vec![(
                "C/securityContext/seccompProfile",
                json!({"type": "Unconfined"}),
            )],
        ),
        case(
            "docker run --security-opt no-new-privileges IMAGE",
            vec![("C/securityContext/allowPrivilegeEscalation", json!(false))],
        ),
        case(
            "docker run --security-opt apparmor=unconfined IMAGE",
            vec![(
                "C/securityContext/appArmorProfile",
                json!({"type": "Unconfined"}),
            )],
        ),
        case(
            "docker run -l com.example.tier=web -l 'bad key=x' --annotation io.x/y=z IMAGE",
            vec![
                (
                    "M/annotations",
                    json!({"com.example.tier": "web", "io.x/y": "z"}),
                ),
                ("/spec/containers/0/name", json!("web")),
            ],
        )
        .warns(&["-l bad key=x"]),
        case(
            "docker run --name My_Web.App IMAGE",
            vec![("M/name", json!("my-web-app")), ("C/name", json!("my-web-app"))],
        ),
        case(
            r#"["docker", "run", "--name", "NAME", "-e", "MSG=a b", "IMAGE", "echo", "$(x)"]"#,
            vec![
                ("C/env/0", json!({"name": "MSG", "value": "a b"})),
                ("C/args", json!(["echo", "$$(x)"])),
            ],
        ),
        case(
            r#"docker run -e "GREETING=hello world" -e 'Q="quoted"' IMAGE sh -c "echo \"hi there\"""#,
            vec![
                ("C/env/0/value", json!("hello world")),
                ("C/env/1/value", json!("\"quoted\"")),
                ("C/args", json!(["sh", "-c", "echo \"hi there\""])),
            ],
        ),
        case(
            spc,
            vec![
                ("K", json!("DaemonSet")),
                ("M/name", json!("web")),
                ("C/securityContext/privileged", json!(true)),
                ("P/hostNetwork", json!(true)),
                ("P/hostPID", json!(true)),
                ("P/hostIPC", json!(true)),
                ("P/volumes/0/hostPath/path", json!("/")),
                ("P/volumes/1/hostPath/path", json!("/run")),
                ("C/volumeMounts/0/mountPath", json!("/host")),
                ("C/env/0", json!({"name": "HOST", "value": "/host"})),
                ("C/env/2", json!({"name": "IMAGE", "value": IMAGE})),
                ("P/tolerations/0/operator", json!("Exists")),
            ],
        ),
        case(
            "docker run --ulimit nofile=10 --device /dev/kvm --init --stop-signal SIGINT \
             --health-cmd true --log-driver none IMAGE",
            vec![("C/securityContext", Value::Null)],
        )
        .warns(&[
            "--ulimit",
            "--device",
            "--init",
            "--stop-signal",
            "--health-cmd",
            "--log-driver",
        ]),
        case(
            "docker run -m 512m --cpus 1.5 --memory-reservation 256m --cpu-shares 512 IMAGE",
            vec![(
                "C/resources",
                json!({"limits": {"memory": "512Mi", "cpu": "1.5"},
                       "requests": {"memory": "256Mi", "cpu": "500m"}}),
            )],
        ),
        case(
            "docker run --add-host db:10.0.0.2 --add-host cache:10.0.0.2 --dns 1.1.1.1 \
             --dns-search example.com --dns-option ndots:2 IMAGE",
            vec![
                (
                    "P/hostAliases",
                    json!([{"ip": "10.0.0.2", "hostnames": ["db", "cache"]}]),
                ),
                ("P/dnsPolicy", json!("None")),
                (
                    "P/dnsConfig",
                    json!({"nameservers": ["1.1.1.1"], "searches": ["example.com"],
                           "options": [{"name": "ndots", "value": "2"}]}),
                ),
            ],
        ),
        case(
            "docker run --hostname Web_1 IMAGE",
            vec![("P/hostname", json!("web-1"))],
        )
        .warns(&["--hostname Web_1"]),
        case(
            "docker run --sysctl net.ipv4.ip_forward=1 --group-add 10 IMAGE",
            vec![(
                "P/securityContext",
                json!({"sysctls": [{"name": "net.ipv4.ip_forward", "value": "1"}],
                       "supplementalGroups": [10]}),
            )],
        ),
        case(
            "docker run --pull always --platform linux/arm64 IMAGE",
            vec![
                ("C/imagePullPolicy", json!("Always")),
                (
                    "P/nodeSelector",
                    json!({"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}),
                ),
            ],
        ),
        case(
            "docker run --stop-timeout 30 IMAGE",
            vec![("P/terminationGracePeriodSeconds", json!(30))],
        ),
        case(
            "docker run -d --restart=no IMAGE",
            vec![("K", json!("Deployment")), ("P/restartPolicy", json!("Always"))],
        )
        .warns(&["--restart"]),
        case("docker run --net=none IMAGE", vec![("K", json!("Pod"))]).warns(&["--net=none"]),
        case(
            "docker run --uts=host --net=host IMAGE",
            vec![("P/hostNetwork", json!(true))],
        ),
        case("docker run --uts=host IMAGE", vec![("K", json!("Pod"))]).warns(&["--uts=host"]),
        case("docker run -P IMAGE", vec![("C/ports", Value::Null)]).warns(&["-P"]),
        case(
            "docker run --sig-proxy=false -a stdout IMAGE",
            vec![("K", json!("Pod"))],
        )
        .warns(&["--sig-proxy=false", "-a stdout"]),
        case(
            "docker run -d --net=host IMAGE",
            vec![
                ("K", json!("Pod")),
                ("M/namespace", json!("agents")),
                ("P/restartPolicy", json!("Never")),
            ],
        )
        .options(Options {
            kind: Some(Kind::Pod),
            namespace: Some("agents".into()),
            ..Options::default()
        }),
        case(
            "/usr/bin/podman --log-level=debug container run --rm=false --name NAME IMAGE",
            vec![("K", json!("Pod")), ("M/name", json!("web"))],
        ),
    ]
}

#[test]
fn labels_map_field_by_field() {
    let table = table();
    assert!(table.len() >= 40, "the table has {} labels", table.len());
    for case in &table {
        let built =
            generate(case.label, &case.options).unwrap_or_else(|e| panic!("{}: {e}", case.label));
        let objects: Vec<Value> = built.objects.iter().map(|o| o.to_json().unwrap()).collect();
        for (key, want) in &case.checks {
            let got = lookup(&objects, key).cloned().unwrap_or(Value::Null);
            assert_eq!(
                &got, want,
                "label {:?}, field {key}; objects: {objects:#?}",
                case.label
            );
        }
        let warned: Vec<String> = built.warnings.iter().map(|w| w.option.clone()).collect();
        for want in &case.warns {
            assert!(
                warned.iter().any(|w| w.contains(want)),
                "label {:?} should warn about {want}: {warned:?}",
                case.label
            );
        }
        assert_eq!(
            warned.len(),
            case.warns.len(),
            "label {:?} warns {warned:?}, expected {:?}",
            case.label,
            case.warns
        );
    }
}

#[test]
fn names_made_valid_are_stated() {
    let built = generate("docker run --name My_Web.App IMAGE", &Options::default()).unwrap();
    assert!(
        built
            .notes
            .iter()
            .any(|n| n.contains("'My_Web.App'") && n.contains("'my-web-app'")),
        "{:?}",
        built.notes
    );
}

#[test]
fn unmappable_labels_are_errors() {
    let cases = [
        ("/usr/bin/printenv", "not a docker or podman run command"),
        ("docker ps", "not a docker or podman run command"),
        ("docker run -p abc IMAGE", "-p abc"),
        ("docker run -v relative:path IMAGE", "absolute"),
        (
            "docker run --restart sometimes IMAGE",
            "--restart sometimes",
        ),
        ("docker run --rm", "names no image"),
    ];
    for (label, want) in cases {
        let err = match generate(label, &Options::default()) {
            Ok(_) => panic!("{label} should fail"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "{label}: {err}");
    }
}

/// `kubernetes-validate`: $ATOMIC_KUBERNETES_VALIDATE, the venv scripts/setup.sh makes, or PATH.
fn validator() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ATOMIC_KUBERNETES_VALIDATE") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from("/var/lib/atomic-test/kube-venv/bin/kubernetes-validate");
    if venv.exists() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubernetes-validate"))
        .find(|p| p.exists())
}

#[test]
fn every_generated_document_passes_kubernetes_validate_strict() {
    let Some(validate) = validator() else {
        assert!(
            std::env::var_os("ATOMIC_TEST_REQUIRE_ENGINES").is_none(),
            "kubernetes-validate is missing (scripts/setup.sh installs it)"
        );
        eprintln!("skipped: kubernetes-validate is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for (n, case) in table().iter().enumerate() {
        let built = generate(case.label, &case.options).unwrap();
        let path = dir.path().join(format!("case-{n:02}.yaml"));
        std::fs::write(&path, stream::to_yaml(&built.objects).unwrap()).unwrap();
        files.insert(path.display().to_string(), case.label.to_string());
    }
    for version in [NEWEST, OLDEST] {
        let out = Command::new(&validate)
            .args(["--strict", "--quiet", "-k", version])
            .args(files.keys())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let failed: Vec<&String> = files
            .iter()
            .filter(|(f, _)| text.contains(f.as_str()))
            .map(|(_, label)| label)
            .collect();
        assert!(
            out.status.success() && failed.is_empty(),
            "Kubernetes {version}: {text}\nfailing labels: {failed:#?}"
        );
    }
}

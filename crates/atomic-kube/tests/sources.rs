//! The other two sources: a container's recorded configuration (docker's and podman's inspect
//! JSON) and a system container's OCI config.json.

use atomic_kube::inspect::{ImageDefaults, from_record, run_words};
use atomic_kube::{Host, Options, PathKind, oci};
use serde_json::{Value, json};

struct FakeHost;

impl Host for FakeHost {
    fn path_kind(&self, path: &str) -> Option<PathKind> {
        matches!(path, "/var/log" | "/var/lib/etcd" | "/").then_some(PathKind::Directory)
    }
    fn read_file(&self, _: &str) -> std::io::Result<String> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }
    fn env(&self, _: &str) -> Option<String> {
        None
    }
}

fn podman_record() -> Value {
    // Trimmed from `podman container inspect` (4.3) of
    // `podman create --name web --cap-add SYS_ADMIN -v /var/log:/logs:ro --net host
    //  --restart on-failure:3 -e FOO=bar -l tier=web --tmpfs /scratch:size=64m IMAGE echo hi`.
    json!({
        "Name": "web",
        "ImageName": "localhost/web:latest",
        "Config": {
            "Env": ["PATH=/usr/bin:/bin", "TERM=xterm", "container=podman", "FOO=bar",
                    "HOSTNAME=vm"],
            "Cmd": ["/bin/echo", "hi"],
            "Entrypoint": "",
            "User": "",
            "WorkingDir": "/",
            "Labels": {"tier": "web", "RUN": "docker run IMAGE"},
            "Tty": false,
            "OpenStdin": false,
            "StopSignal": 15,
            "Image": "localhost/web:latest"
        },
        "HostConfig": {
            "Binds": ["/var/log:/logs:ro,rprivate,rbind"],
            "CapAdd": ["CAP_SYS_ADMIN"],
            "CapDrop": [],
            "NetworkMode": "host",
            "PidMode": "private",
            "IpcMode": "shareable",
            "UTSMode": "private",
            "PortBindings": {},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "SecurityOpt": [],
            "ReadonlyRootfs": false,
            "Tmpfs": {"/scratch": "size=64m,rw,rprivate,nosuid,nodev,tmpcopyup"},
            "Devices": [],
            "Ulimits": [],
            "Privileged": false,
            "Init": null,
            "AutoRemove": false,
            "Memory": 0,
            "NanoCpus": 0
        }
    })
}

fn docker_record() -> Value {
    // Trimmed from `docker inspect` (20.10) of `docker run -d --name /api -p 127.0.0.1:8080:80
    // --privileged --pid host --entrypoint /bin/sh -m 256m IMAGE -c serve`.
    json!({
        "Name": "/api",
        "Config": {
            "Env": ["PATH=/usr/bin:/bin", "MODE=prod"],
            "Cmd": ["-c", "serve $(x)"],
            "Entrypoint": ["/bin/sh"],
            "User": "1000",
            "WorkingDir": "",
            "Labels": {},
            "Tty": false,
            "OpenStdin": false,
            "Image": "acme/api:2"
        },
        "HostConfig": {
            "Binds": null,
            "Privileged": true,
            "CapAdd": ["NET_ADMIN"],
            "NetworkMode": "default",
            "PidMode": "host",
            "IpcMode": "private",
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                             "9090/tcp": []},
            "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
            "Memory": 268435456,
            "Mounts": [{"Type": "bind", "Source": "/", "Target": "/host", "ReadOnly": true}]
        }
    })
}

fn first(built: &atomic_kube::Built) -> Value {
    built.objects[0].to_json().unwrap()
}

#[test]
fn a_podman_record_reads_as_its_run_flags() {
    let image = ImageDefaults {
        env: vec!["PATH=/usr/bin:/bin".into()],
        labels: [("RUN".to_string(), "docker run IMAGE".to_string())].into(),
        cmd: vec!["/bin/sh".into()],
        entrypoint: vec![],
    };
    let words = run_words(&podman_record(), &image).unwrap();
    assert_eq!(
        words,
        [
            "--name=web",
            "--cap-add=CAP_SYS_ADMIN",
            "--network=host",
            "--volume=/var/log:/logs:ro",
            "--tmpfs=/scratch:size=64m",
            "--restart=on-failure:3",
            "--env=FOO=bar",
            "--label=tier=web",
            "--",
            "localhost/web:latest",
        ]
    );
    let (draft, warnings) = from_record(&podman_record(), &image, &FakeHost).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let built = atomic_kube::build(draft, &Options::default());
    let o = first(&built);
    assert_eq!(o["kind"], "DaemonSet");
    let spec = &o["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"], true);
    let c = &spec["containers"][0];
    assert_eq!(c["args"], json!(["/bin/echo", "hi"]));
    assert_eq!(c["command"], Value::Null);
    assert_eq!(c["env"], json!([{"name": "FOO", "value": "bar"}]));
    assert_eq!(
        c["securityContext"]["capabilities"]["add"],
        json!(["SYS_ADMIN"])
    );
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "logs", "mountPath": "/logs", "readOnly": true},
               {"name": "scratch", "mountPath": "/scratch"}])
    );
    assert_eq!(
        spec["volumes"][1]["emptyDir"],
        json!({"medium": "Memory", "sizeLimit": "64Mi"})
    );
    assert_eq!(o["metadata"]["annotations"], json!({"tier": "web"}));
}

#[test]
fn a_docker_record_reads_as_its_run_flags() {
    let image = ImageDefaults {
        env: vec!["PATH=/usr/bin:/bin".into()],
        ..ImageDefaults::default()
    };
    let (draft, warnings) = from_record(&docker_record(), &image, &FakeHost).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let built = atomic_kube::build(draft, &Options::default());
    let o = first(&built);
    assert_eq!(
        o["kind"], "DaemonSet",
        "host PID and / mounted: a node agent"
    );
    assert_eq!(o["metadata"]["name"], "api");
    let spec = &o["spec"]["template"]["spec"];
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["hostNetwork"], Value::Null);
    let c = &spec["containers"][0];
    assert_eq!(c["image"], "acme/api:2");
    assert_eq!(c["command"], json!(["/bin/sh"]));
    assert_eq!(c["args"], json!(["-c", "serve $$(x)"]));
    assert_eq!(c["securityContext"]["privileged"], true);
    assert_eq!(c["securityContext"]["capabilities"], Value::Null);
    assert_eq!(c["securityContext"]["runAsUser"], 1000);
    assert_eq!(c["env"], json!([{"name": "MODE", "value": "prod"}]));
    assert_eq!(c["resources"]["limits"]["memory"], "268435456");
    let mut ports = c["ports"].as_array().unwrap().clone();
    ports.sort_by_key(|p| p["containerPort"].as_i64());
    assert_eq!(
        ports,
        [
            json!({"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1", "protocol": "TCP"}),
            json!({"containerPort": 9090, "protocol": "TCP"}),
        ]
    );
    assert_eq!(
        spec["volumes"][0],
        json!({"name": "host", "hostPath": {"path": "/", "type": "Directory"}})
    );
    assert_eq!(c["volumeMounts"][0]["readOnly"], true);
}

#[test]
fn a_record_without_an_image_is_an_error() {
    let mut record = podman_record();
    record["ImageName"] = json!("");
    record["Config"]["Image"] = json!("");
    let err = run_words(&record, &ImageDefaults::default()).unwrap_err();
    assert!(err.to_string().contains("names no image"), "{err}");
    let err = run_words(&json!({}), &ImageDefaults::default()).unwrap_err();
    assert!(err.to_string().contains("no Config"), "{err}");
}

/// A system container's config.json as `atomic install --system` deploys it: a read-only
/// root, the host's network and IPC (no namespace for them), its own PID namespace, binds.
const CONFIG_JSON: &str = r#"{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["/usr/bin/etcd", "--name=$(hostname)"],
    "env": ["PATH=/usr/bin:/bin", "ETCD_DATA_DIR=/var/lib/etcd"],
    "cwd": "/var/lib/etcd",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                   "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                   "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
                   "CAP_SYS_ADMIN"]
    },
    "noNewPrivileges": true,
    "selinuxLabel": "system_u:system_r:container_t:s0:c1,c2"
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "etcd",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
    {"destination": "/var/lib/etcd", "type": "bind", "source": "/var/lib/etcd",
     "options": ["rbind", "rw"]},
    {"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf",
     "options": ["bind", "ro"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"]},
    {"destination": "/srv", "source": "/srv/etcd", "options": ["rbind", "ro"]},
    {"destination": "/mnt", "type": "nfs", "source": "server:/export"}
  ],
  "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]}
}"#;

#[test]
fn a_system_container_config_becomes_a_daemonset() {
    let (draft, warnings) =
        oci::from_config("etcd", "registry.example/etcd:3", CONFIG_JSON, &FakeHost).unwrap();
    let warned: Vec<&str> = warnings.iter().map(|w| w.option.as_str()).collect();
    assert_eq!(
        warned,
        [
            "mount /etc/resolv.conf on /etc/resolv.conf",
            "mount nfs on /mnt"
        ]
    );
    let built = atomic_kube::build(draft, &Options::default());
    let o = first(&built);
    assert_eq!(o["kind"], "DaemonSet");
    let spec = &o["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["hostIPC"], true);
    assert_eq!(
        spec["hostPID"],
        Value::Null,
        "it has a PID namespace of its own"
    );
    assert_eq!(spec["tolerations"], json!([{"operator": "Exists"}]));
    let c = &spec["containers"][0];
    assert_eq!(c["image"], "registry.example/etcd:3");
    assert_eq!(
        c["command"],
        json!(["/usr/bin/etcd", "--name=$$(hostname)"])
    );
    assert_eq!(c["workingDir"], "/var/lib/etcd");
    assert_eq!(
        c["env"],
        json!([{"name": "PATH", "value": "/usr/bin:/bin"},
               {"name": "ETCD_DATA_DIR", "value": "/var/lib/etcd"}])
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(
        sc["capabilities"],
        json!({"add": ["SYS_ADMIN"], "drop": ["NET_RAW"]})
    );
    assert_eq!(
        sc["seLinuxOptions"],
        json!({"user": "system_u", "role": "system_r", "type": "container_t", "level": "s0:c1,c2"})
    );
    assert_eq!(
        spec["volumes"],
        json!([
            {"name": "var-lib-etcd", "hostPath": {"path": "/var/lib/etcd", "type": "Directory"}},
            {"name": "run", "emptyDir": {"medium": "Memory"}},
            {"name": "srv", "hostPath": {"path": "/srv/etcd"}},
        ])
    );
    assert_eq!(
        c["volumeMounts"][2],
        json!({"name": "srv", "mountPath": "/srv", "readOnly": true})
    );
}

#[test]
fn a_broken_config_json_is_an_error() {
    let err = oci::from_config("x", "img", "{", &FakeHost).unwrap_err();
    assert!(
        err.to_string()
            .contains("config.json of system container 'x'"),
        "{err}"
    );
}

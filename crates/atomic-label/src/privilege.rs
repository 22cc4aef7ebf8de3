//! What host access a `docker run`/`podman run` command line grants.
//!
//! A label is written by the image author and runs on the host with the user's privileges, so
//! atomic says which security switches it uses before running it (the original's "This
//! container uses privileged security switches" block, from projectatomic/atomic#283; Podman
//! has no such warning). The original matched substrings, so `--net host` went unnoticed and
//! `echo --privileged` after the image was reported; this reads the options with
//! [`crate::runflags`] and only counts those before the image.

use std::path::Path;

use crate::runflags::{RunOpt, parse_run, subcommand};

/// One option that grants host access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The option as written, e.g. `--net=host` or `-v /:/host`.
    pub switch: String,
    /// One sentence on the host access it grants.
    pub access: &'static str,
}

/// Namespace options whose value `host` shares a host namespace.
const HOST_NAMESPACES: &[(&str, &str)] = &[
    (
        "--network",
        "The container uses the host's network stack: it can bind host ports and reach \
         services listening only on the host's loopback.",
    ),
    (
        "--pid",
        "The container sees every process on the host and, with enough privilege, can signal \
         or trace them.",
    ),
    (
        "--ipc",
        "The container shares the host's IPC namespace: shared memory, semaphores and message \
         queues of host processes.",
    ),
    (
        "--uts",
        "The container shares the host's UTS namespace and can change the host's hostname.",
    ),
    (
        "--userns",
        "The container runs in the host's user namespace: its root is the host's root user.",
    ),
    (
        "--cgroupns",
        "The container sees the host's whole cgroup hierarchy.",
    ),
];

/// Bind sources that expose the host, and what binding them grants.
const SENSITIVE_SOURCES: &[(&str, &str)] = &[
    (
        "/",
        "The host's whole filesystem is mounted into the container, which can read and (unless \
         read-only) change any host file.",
    ),
    (
        "/run",
        "The host's /run is mounted into the container: the sockets of host daemons (systemd, \
         D-Bus, the container engine) become reachable.",
    ),
    (
        "/var/run",
        "The host's /run is mounted into the container: the sockets of host daemons (systemd, \
         D-Bus, the container engine) become reachable.",
    ),
    (
        "/dev",
        "The host's /dev is mounted into the container, with every host device node, disks \
         included.",
    ),
    (
        "/proc",
        "The host's /proc is mounted into the container, exposing every host process and \
         kernel settings.",
    ),
    (
        "/sys",
        "The host's /sys is mounted into the container, exposing kernel and device settings.",
    ),
    (
        "/etc",
        "The host's /etc is mounted into the container, which can read (and unless read-only \
         change) its configuration, password hashes included.",
    ),
    (
        "/var/run/docker.sock",
        "The Docker socket is mounted into the container: it can start privileged containers, \
         which is root on the host.",
    ),
    (
        "/run/docker.sock",
        "The Docker socket is mounted into the container: it can start privileged containers, \
         which is root on the host.",
    ),
    (
        "/run/podman/podman.sock",
        "The Podman socket is mounted into the container: it can start privileged containers, \
         which is root on the host.",
    ),
    (
        "/var/run/podman/podman.sock",
        "The Podman socket is mounted into the container: it can start privileged containers, \
         which is root on the host.",
    ),
    (
        "/run/containerd/containerd.sock",
        "The containerd socket is mounted into the container: it can start privileged \
         containers, which is root on the host.",
    ),
];

/// `--security-opt` values that turn a confinement off.
const SECURITY_OPTS: &[(&str, &str)] = &[
    (
        "label=disable",
        "SELinux separation is turned off: the container's processes are not confined by \
         SELinux.",
    ),
    (
        "label=type:spc_t",
        "The container runs as spc_t, SELinux's unconfined super-privileged container type.",
    ),
    (
        "seccomp=unconfined",
        "The seccomp filter is turned off: the container may make every system call, including \
         ones that have led to container escapes.",
    ),
    (
        "apparmor=unconfined",
        "AppArmor confinement is turned off for the container.",
    ),
    (
        "systempaths=unconfined",
        "The masked and read-only paths of /proc and /sys are exposed to the container.",
    ),
];

const PRIVILEGED: &str = "The container gets every capability, all host devices, and no \
    SELinux, AppArmor or seccomp confinement: root in it is root on the host.";
const CAP_ALL: &str = "The container gets every Linux capability (ALL): root in it can do \
    nearly anything root on the host can.";
const CAP_SOME: &str = "The container gets extra Linux capabilities beyond the default set, \
    as named in the switch.";
const DEVICE: &str = "The container gets direct access to the named host device.";

/// For an argv whose program is docker, podman or docker-latest and whose subcommand is `run`
/// or `create` (also `container run`): the host access its options grant, in order. Options
/// after the image are the container's command and do not count. Any other argv gives none.
pub fn analyze(argv: &[String]) -> Vec<Grant> {
    let Some(program) = argv.first() else {
        return Vec::new();
    };
    let base = Path::new(program)
        .file_name()
        .and_then(|b| b.to_str())
        .unwrap_or("");
    if !matches!(base, "docker" | "podman" | "docker-latest") {
        return Vec::new();
    }
    let Some(mut sub) = subcommand(argv) else {
        return Vec::new();
    };
    if argv[sub] == "container" {
        sub += 1;
    }
    if !matches!(argv.get(sub).map(String::as_str), Some("run" | "create")) {
        return Vec::new();
    }
    parse_run(&argv[sub + 1..])
        .options
        .iter()
        .filter_map(grant)
        .collect()
}

fn grant(opt: &RunOpt) -> Option<Grant> {
    let value = opt.value.as_deref().unwrap_or("");
    let access = match opt.flag.as_str() {
        "--privileged" => (!is_false(value)).then_some(PRIVILEGED)?,
        "--cap-add" => {
            let all = value
                .split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("ALL"));
            if all { CAP_ALL } else { CAP_SOME }
        }
        "--security-opt" => {
            // `label:disable` is the old spelling of `label=disable`.
            let normal = if value.contains('=') {
                value.to_string()
            } else {
                value.replacen(':', "=", 1)
            };
            SECURITY_OPTS
                .iter()
                .find(|(v, _)| *v == normal)
                .map(|(_, a)| *a)?
        }
        "--device" => DEVICE,
        "--volume" => bind_access(volume_source(value)?)?,
        "--mount" => bind_access(mount_source(value)?)?,
        flag => {
            let (_, access) = HOST_NAMESPACES.iter().find(|(f, _)| *f == flag)?;
            (value == "host").then_some(*access)?
        }
    };
    Some(Grant {
        switch: opt.written.clone(),
        access,
    })
}

/// Go's `strconv.ParseBool` false values; anything else counts as true (warn rather than
/// miss).
fn is_false(value: &str) -> bool {
    matches!(value, "0" | "f" | "F" | "false" | "FALSE" | "False")
}

/// The host source of `-v SRC:DST[:OPTS]`, when it is a path (not a named volume and not a
/// lone container path).
fn volume_source(value: &str) -> Option<&str> {
    let (source, _) = value.split_once(':')?;
    source.starts_with('/').then_some(source)
}

/// The source of `--mount type=bind,source=SRC,…`.
fn mount_source(value: &str) -> Option<&str> {
    let mut is_bind = false;
    let mut source = None;
    for field in value.split(',') {
        let (key, val) = field.split_once('=').unwrap_or((field, ""));
        match key.trim() {
            "type" => is_bind = val.trim() == "bind",
            "source" | "src" => source = Some(val.trim()),
            _ => {}
        }
    }
    source.filter(|s| is_bind && s.starts_with('/'))
}

fn bind_access(source: &str) -> Option<&'static str> {
    let normal = normalize(source);
    SENSITIVE_SOURCES
        .iter()
        .find(|(s, _)| *s == normal)
        .map(|(_, a)| *a)
}

/// A path with `//`, `/./`, `..` and trailing slashes resolved lexically, so `/var/run/`,
/// `//` or `/etc/../` still match.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn switches(s: &str) -> Vec<String> {
        analyze(&argv(s)).into_iter().map(|g| g.switch).collect()
    }

    #[test]
    fn finds_the_switches_before_the_image() {
        let cases: &[(&str, &[&str])] = &[
            ("docker run --privileged img", &["--privileged"]),
            ("docker run --privileged=true img", &["--privileged=true"]),
            ("docker run --privileged=false img", &[]),
            ("docker run img echo --privileged", &[]),
            ("docker run -- img --privileged", &[]),
            (
                "docker run --cap-add SYS_ADMIN --cap-add=NET_ADMIN img",
                &["--cap-add SYS_ADMIN", "--cap-add=NET_ADMIN"],
            ),
            ("docker run --cap-drop ALL img", &[]),
            (
                "docker run --security-opt label=disable img",
                &["--security-opt label=disable"],
            ),
            (
                "docker run --security-opt label:disable img",
                &["--security-opt label:disable"],
            ),
            (
                "docker run --security-opt=seccomp=unconfined img",
                &["--security-opt=seccomp=unconfined"],
            ),
            (
                "docker run --security-opt apparmor=unconfined img",
                &["--security-opt apparmor=unconfined"],
            ),
            ("docker run --security-opt no-new-privileges img", &[]),
            (
                "podman run --security-opt label=type:spc_t img",
                &["--security-opt label=type:spc_t"],
            ),
            (
                "docker run --net=host --network host --net=bridge img",
                &["--net=host", "--network host"],
            ),
            (
                "docker run --pid=host --ipc host --uts=host img",
                &["--pid=host", "--ipc host", "--uts=host"],
            ),
            (
                "podman run --userns=host --cgroupns host img",
                &["--userns=host", "--cgroupns host"],
            ),
            ("podman run --userns=keep-id --pid=container:x img", &[]),
            ("docker run -v /:/host img", &["-v /:/host"]),
            ("docker run -v/:/host:ro img", &["-v/:/host:ro"]),
            ("docker run --volume=/run:/run img", &["--volume=/run:/run"]),
            (
                "docker run -v /var/run/docker.sock:/var/run/docker.sock img",
                &["-v /var/run/docker.sock:/var/run/docker.sock"],
            ),
            (
                "docker run -v /run/podman/podman.sock:/s img",
                &["-v /run/podman/podman.sock:/s"],
            ),
            (
                "docker run -v /dev:/dev -v /proc:/p -v /sys:/s -v /etc/:/e img",
                &["-v /dev:/dev", "-v /proc:/p", "-v /sys:/s", "-v /etc/:/e"],
            ),
            (
                "docker run -v //:/host -v /tmp/..:/x img",
                &["-v //:/host", "-v /tmp/..:/x"],
            ),
            (
                "docker run -v /etc/localtime:/etc/localtime -v data:/data -v /data img",
                &[],
            ),
            (
                "docker run --mount type=bind,source=/,target=/host img",
                &["--mount type=bind,source=/,target=/host"],
            ),
            (
                "docker run --mount=type=bind,src=/etc,dst=/e img",
                &["--mount=type=bind,src=/etc,dst=/e"],
            ),
            ("docker run --mount type=volume,source=x,target=/ img", &[]),
            ("docker run --device /dev/fuse img", &["--device /dev/fuse"]),
            ("docker run -itv /:/host img", &["-v /:/host"]),
            (
                "/usr/bin/docker -H unix:///s run --privileged img",
                &["--privileged"],
            ),
            ("docker-latest create --privileged img", &["--privileged"]),
            ("podman container run --privileged img", &["--privileged"]),
            ("docker exec --privileged c sh", &[]),
            ("echo docker run --privileged img", &[]),
            ("sh -c docker run --privileged", &[]),
            ("", &[]),
        ];
        for (line, want) in cases {
            assert_eq!(switches(line), *want, "{line:?}");
        }
    }

    #[test]
    fn the_spc_default_reports_every_grant() {
        let spc = "docker run -i --privileged -v /:/host -v /run:/run \
            -v /etc/localtime:/etc/localtime -v /sys/fs/selinux:/sys/fs/selinux:ro --net=host \
            --ipc=host --pid=host -e HOST=/host --name x img";
        assert_eq!(
            switches(spc),
            [
                "--privileged",
                "-v /:/host",
                "-v /run:/run",
                "--net=host",
                "--ipc=host",
                "--pid=host"
            ]
        );
    }

    #[test]
    fn explanations_distinguish_cap_all() {
        let grants = analyze(&argv(
            "docker run --cap-add ALL --cap-add CHOWN,all --cap-add CHOWN img",
        ));
        let access: Vec<_> = grants.iter().map(|g| g.access).collect();
        assert_eq!(access, [CAP_ALL, CAP_ALL, CAP_SOME]);
    }

    #[test]
    fn normalize_resolves_lexically() {
        for (p, want) in [
            ("/", "/"),
            ("//", "/"),
            ("/var/run/", "/var/run"),
            ("/a/./b/../c", "/a/c"),
            ("/..", "/"),
        ] {
            assert_eq!(normalize(p), want);
        }
    }
}

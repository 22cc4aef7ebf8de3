//! What generated objects grant on each node they run on, said before they are applied, as
//! `atomic run` says what a label's switches grant on this host.

use k8s_openapi::api::core::v1::PodSpec;

use crate::objects::Object;

/// One grant: the field that grants it and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `DaemonSet/agent: hostNetwork`, `…: hostPath / at /host`.
    pub field: String,
    pub access: String,
}

/// Host paths whose binding exposes the node, and what it exposes.
const SENSITIVE: &[(&str, &str)] = &[
    (
        "/",
        "the node's whole filesystem: any file can be read and (unless read-only) changed",
    ),
    (
        "/run",
        "the sockets of the node's daemons (systemd, D-Bus, the container runtime)",
    ),
    (
        "/var/run",
        "the sockets of the node's daemons (systemd, D-Bus, the container runtime)",
    ),
    ("/dev", "every device node of the node, disks included"),
    ("/proc", "every process of the node and kernel settings"),
    ("/sys", "kernel and device settings of the node"),
    ("/etc", "the node's configuration, password hashes included"),
    (
        "/var/run/docker.sock",
        "the Docker socket: starting privileged containers, which is root on the node",
    ),
    (
        "/run/containerd/containerd.sock",
        "the containerd socket: starting privileged containers, which is root on the node",
    ),
];

/// The grants of every object, in order.
pub fn grants(objects: &[Object]) -> Vec<Grant> {
    objects
        .iter()
        .filter_map(|o| {
            o.pod_spec()
                .map(|s| (format!("{}/{}", o.kind(), o.name()), s))
        })
        .flat_map(|(who, spec)| pod_grants(&who, spec))
        .collect()
}

fn pod_grants(who: &str, spec: &PodSpec) -> Vec<Grant> {
    let mut out = Vec::new();
    let mut grant = |field: String, access: &str| {
        out.push(Grant {
            field: format!("{who}: {field}"),
            access: access.to_string(),
        })
    };
    if spec.host_network == Some(true) {
        grant(
            "hostNetwork".into(),
            "The pod uses the node's network stack: it can bind the node's ports and reach \
             services listening only on the node's loopback.",
        );
    }
    if spec.host_pid == Some(true) {
        grant(
            "hostPID".into(),
            "The pod sees every process of the node and, with enough privilege, can signal or \
             trace them.",
        );
    }
    if spec.host_ipc == Some(true) {
        grant(
            "hostIPC".into(),
            "The pod shares the node's shared memory, semaphores and message queues.",
        );
    }
    for c in &spec.containers {
        let Some(sc) = &c.security_context else {
            continue;
        };
        if sc.privileged == Some(true) {
            grant(
                format!("container {} privileged", c.name),
                "Every capability and device of the node, no confinement: root in the \
                 container is root on the node.",
            );
        }
        if let Some(add) = sc.capabilities.as_ref().and_then(|c| c.add.as_ref())
            && !add.is_empty()
        {
            grant(
                format!("container {} capabilities add {}", c.name, add.join(",")),
                "Linux capabilities beyond the runtime's default set.",
            );
        }
        if let Some(se) = &sc.se_linux_options
            && se.type_.as_deref() == Some("spc_t")
        {
            grant(
                format!("container {} seLinuxOptions type spc_t", c.name),
                "SELinux's unconfined super-privileged container type.",
            );
        }
        if sc.seccomp_profile.as_ref().map(|p| p.type_.as_str()) == Some("Unconfined") {
            grant(
                format!("container {} seccompProfile Unconfined", c.name),
                "No seccomp filter: every system call is allowed.",
            );
        }
        if sc.app_armor_profile.as_ref().map(|p| p.type_.as_str()) == Some("Unconfined") {
            grant(
                format!("container {} appArmorProfile Unconfined", c.name),
                "No AppArmor confinement.",
            );
        }
    }
    for v in spec.volumes.iter().flatten() {
        let Some(hp) = &v.host_path else { continue };
        let path = hp.path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        let exposes = SENSITIVE
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, what)| format!("The node's {path} is mounted: {what}."))
            .unwrap_or_else(|| format!("The node's {path} is mounted into the pod."));
        grant(format!("hostPath {path}"), &exposes);
    }
    out
}

/// The summary as `atomic run` prints its own (empty when nothing is granted).
pub fn summary(grants: &[Grant]) -> String {
    if grants.is_empty() {
        return String::new();
    }
    let mut text = String::from("\nThese objects grant host access on every node they run on:\n");
    for g in grants {
        text.push_str(&format!("\nINFO: {}\n      {}\n", g.field, g.access));
    }
    text.push_str("\nA cluster's Pod Security admission ('privileged' level) must allow them.\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LocalHost, Options, build, flags};

    fn grants_of(argv: &str) -> Vec<Grant> {
        let argv: Vec<String> = argv.split(' ').map(str::to_string).collect();
        let (mut draft, _) = flags::from_argv(&argv, &LocalHost).unwrap();
        draft.name = "agent".into();
        grants(&build(draft, &Options::default()).objects)
    }

    #[test]
    fn an_spc_grants_the_node() {
        let got = grants_of(
            "docker run --privileged --net=host --pid=host --ipc=host -v /:/host \
             --security-opt seccomp=unconfined img",
        );
        let fields: Vec<&str> = got.iter().map(|g| g.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "DaemonSet/agent: hostNetwork",
                "DaemonSet/agent: hostPID",
                "DaemonSet/agent: hostIPC",
                "DaemonSet/agent: container agent privileged",
                "DaemonSet/agent: container agent seccompProfile Unconfined",
                "DaemonSet/agent: hostPath /",
            ]
        );
        assert!(got[5].access.contains("whole filesystem"), "{:?}", got[5]);
        let text = summary(&got);
        assert!(text.contains("INFO: DaemonSet/agent: hostPID"), "{text}");
    }

    #[test]
    fn a_confined_workload_grants_nothing() {
        let got = grants_of("docker run --cap-drop ALL -p 80:80 -v /scratch img");
        assert_eq!(got, []);
        assert_eq!(summary(&got), "");
    }
}

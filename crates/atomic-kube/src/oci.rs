//! A system container's deployed OCI `config.json` as a node agent: the namespaces it does not
//! unshare are the host's (hostNetwork, hostPID, hostIPC), its bind mounts hostPath volumes,
//! its process the container's exact command, env, user and capabilities. The kind is a
//! DaemonSet: a system container is, by construction, one per host.

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::KubeError;
use crate::draft::{Draft, Host, Warning, escape_expansion};
use crate::flags::{State, capability, set_env};
use crate::mounts::Source;
use k8s_openapi::api::core::v1::Capabilities;

/// The capabilities a container runtime grants by default (docker's set, which the native
/// engine uses too): a config.json's list is compared with it to say which the system
/// container adds and drops.
const DEFAULT_CAPS: &[&str] = &atomic_runtime::caps::DEFAULT;

/// Files Kubernetes writes into every pod itself; a bind over them would fight it.
const POD_MANAGED: &[&str] = &["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

/// Filesystems every OCI config mounts (proc, sysfs, devpts, …) that any pod gets too.
const STANDARD_TYPES: &[&str] = &["proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"];

/// Read `config.json` of system container `name`, installed from `image`.
pub fn from_config(
    name: &str,
    image: &str,
    config_json: &str,
    host: &dyn Host,
) -> Result<(Draft, Vec<Warning>), KubeError> {
    let spec: Spec = serde_json::from_str(config_json).map_err(|e| KubeError::Record {
        what: format!("config.json of system container '{name}'"),
        reason: e.to_string(),
    })?;
    let mut state = State::new(host);
    state.draft.name = name.to_string();
    state.draft.container.image = Some(image.to_string());
    state.draft.hints.node_agent = true;
    namespaces(&mut state, &spec);
    process(&mut state, &spec);
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        state.draft.security().read_only_root_filesystem = Some(true);
    }
    for m in spec.mounts().iter().flatten() {
        let dst = m.destination().to_string_lossy().into_owned();
        let typ = m.typ().as_deref().unwrap_or_default();
        let options = m.options().clone().unwrap_or_default();
        let is_bind = typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        let read_only = options.iter().any(|o| o == "ro");
        if is_bind {
            let src = m
                .source()
                .as_ref()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if POD_MANAGED.contains(&dst.as_str()) {
                state.warnings.push(Warning::new(
                    format!("mount {src} on {dst}"),
                    "Kubernetes writes this file into every pod itself; not mapped",
                ));
                continue;
            }
            if !src.starts_with('/') {
                state.warnings.push(Warning::new(
                    format!("mount {src} on {dst}"),
                    "the source is not an absolute host path; not mapped",
                ));
                continue;
            }
            let path: &str = &src;
            state.add_mount(
                &dst,
                Source::Host {
                    path,
                    create: false,
                },
                read_only,
            );
        } else if typ == "tmpfs" && !dst.starts_with("/dev") {
            state.add_mount(&dst, Source::Memory { size: None }, read_only);
        } else if !STANDARD_TYPES.contains(&typ) && !dst.starts_with("/dev") {
            state.warnings.push(Warning::new(
                format!("mount {typ} on {dst}"),
                "this filesystem type has no Kubernetes volume; not mapped",
            ));
        }
    }
    Ok((state.draft, state.warnings))
}

/// A namespace the config does not list is shared with the host.
fn namespaces(state: &mut State<'_>, spec: &Spec) {
    let listed = |t: LinuxNamespaceType| {
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| ns.iter().any(|n| n.typ() == t && n.path().is_none()))
    };
    if !listed(LinuxNamespaceType::Network) {
        state.draft.pod.host_network = Some(true);
    }
    if !listed(LinuxNamespaceType::Pid) {
        state.draft.pod.host_pid = Some(true);
    }
    if !listed(LinuxNamespaceType::Ipc) {
        state.draft.pod.host_ipc = Some(true);
    }
}

fn process(state: &mut State<'_>, spec: &Spec) {
    let Some(process) = spec.process() else {
        return;
    };
    if let Some(args) = process.args()
        && !args.is_empty()
    {
        state.draft.container.command = Some(args.iter().map(|a| escape_expansion(a)).collect());
    }
    for entry in process.env().iter().flatten() {
        if let Some((k, v)) = entry.split_once('=') {
            set_env(&mut state.draft, k.to_string(), v.to_string());
        }
    }
    let cwd = process.cwd().to_string_lossy().into_owned();
    if !cwd.is_empty() && cwd != "/" {
        state.draft.container.working_dir = Some(cwd);
    }
    if process.terminal() == Some(true) {
        state.draft.container.tty = Some(true);
        state.draft.container.stdin = Some(true);
    }
    let user = process.user();
    if user.uid() != 0 || user.gid() != 0 {
        let sc = state.draft.security();
        sc.run_as_user = Some(i64::from(user.uid()));
        sc.run_as_group = Some(i64::from(user.gid()));
    }
    if process.no_new_privileges() == Some(true) {
        state.draft.security().allow_privilege_escalation = Some(false);
    }
    if let Some(bounding) = process
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().as_ref())
    {
        let have: Vec<String> = bounding
            .iter()
            .map(|c| capability(&c.to_string()))
            .collect();
        let add: Vec<String> = have
            .iter()
            .filter(|c| !DEFAULT_CAPS.contains(&c.as_str()))
            .cloned()
            .collect();
        let drop: Vec<String> = DEFAULT_CAPS
            .iter()
            .filter(|c| !have.iter().any(|h| h == *c))
            .map(|c| c.to_string())
            .collect();
        if !add.is_empty() || !drop.is_empty() {
            state.draft.security().capabilities = Some(Capabilities {
                add: (!add.is_empty()).then_some(add),
                drop: (!drop.is_empty()).then_some(drop),
            });
        }
    }
    if let Some(label) = process.selinux_label()
        && !label.is_empty()
    {
        // user:role:type:level (the level may hold colons itself: s0:c1,c2).
        let mut parts = label.splitn(4, ':');
        let se = state
            .draft
            .security()
            .se_linux_options
            .get_or_insert_with(Default::default);
        se.user = parts.next().map(str::to_string);
        se.role = parts.next().map(str::to_string);
        se.type_ = parts.next().map(str::to_string);
        se.level = parts.next().map(str::to_string);
    }
}

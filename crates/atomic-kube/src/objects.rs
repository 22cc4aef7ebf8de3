//! A [`Draft`] as Kubernetes objects of one kind, plus a Service when asked.
//!
//! `--kind auto` reads the workload: something that uses the host's PID or network namespace
//! or mounts the host's `/` (an SPC, a system container) is a per-node agent, so a DaemonSet
//! that tolerates every taint, as node agents do; `-d` (or `--restart always|unless-stopped`)
//! is a service, so a Deployment; a
//! command run once (`--rm`, or `--restart on-failure`, with no terminal) is a Job; anything
//! else a Pod.

use std::collections::BTreeMap;
use std::str::FromStr;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Pod, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::draft::{Draft, Restart, Warning};
use crate::names;

/// The label that ties a workload's pods to its selector and Service.
pub const APP_LABEL: &str = "app.kubernetes.io/name";

/// The kind of workload object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pod,
    Deployment,
    DaemonSet,
    Job,
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "pod" => Self::Pod,
            "deployment" => Self::Deployment,
            "daemonset" => Self::DaemonSet,
            "job" => Self::Job,
            _ => return Err(format!("'{s}' is not Pod, Deployment, DaemonSet or Job")),
        })
    }
}

impl Kind {
    /// The kind `--kind auto` picks for a draft.
    pub fn auto(draft: &Draft) -> Kind {
        let hints = &draft.hints;
        if hints.node_agent
            || draft.pod.host_pid == Some(true)
            || draft.pod.host_network == Some(true)
            || draft.mounts_host_root()
        {
            Kind::DaemonSet
        } else if hints.detach
            || (!hints.interactive
                && matches!(
                    hints.restart,
                    Some(Restart::Always | Restart::UnlessStopped)
                ))
        {
            // A service: detached, or restarted whenever it stops.
            Kind::Deployment
        } else if !hints.interactive
            && (hints.remove || matches!(hints.restart, Some(Restart::OnFailure(_))))
        {
            Kind::Job
        } else {
            Kind::Pod
        }
    }
}

/// What the objects are made with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `None`: `--kind auto`.
    pub kind: Option<Kind>,
    pub service: bool,
    pub namespace: Option<String>,
    pub replicas: Option<i32>,
}

/// One generated object.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Pod(Box<Pod>),
    Deployment(Box<Deployment>),
    DaemonSet(Box<DaemonSet>),
    Job(Box<Job>),
    Service(Box<Service>),
}

impl Object {
    /// The pod spec this object runs, if it runs one.
    pub fn pod_spec(&self) -> Option<&PodSpec> {
        match self {
            Object::Pod(p) => p.spec.as_ref(),
            Object::Deployment(d) => d.spec.template.spec.as_ref(),
            Object::DaemonSet(d) => d.spec.template.spec.as_ref(),
            Object::Job(j) => j.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
            Object::Service(_) => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Object::Pod(_) => "Pod",
            Object::Deployment(_) => "Deployment",
            Object::DaemonSet(_) => "DaemonSet",
            Object::Job(_) => "Job",
            Object::Service(_) => "Service",
        }
    }

    pub fn name(&self) -> &str {
        let meta = match self {
            Object::Pod(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::DaemonSet(o) => &o.metadata,
            Object::Job(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }

    /// The object as JSON, `apiVersion` and `kind` included (k8s-openapi writes them).
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            Object::Pod(o) => serde_json::to_value(o),
            Object::Deployment(o) => serde_json::to_value(o),
            Object::DaemonSet(o) => serde_json::to_value(o),
            Object::Job(o) => serde_json::to_value(o),
            Object::Service(o) => serde_json::to_value(o),
        }
    }
}

/// The objects of one source, and what the user should be told about them.
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub objects: Vec<Object>,
    pub warnings: Vec<Warning>,
    /// Facts that are not problems: a name made valid, the kind chosen.
    pub notes: Vec<String>,
}

/// Make the objects of `draft`.
pub fn build(mut draft: Draft, options: &Options) -> Built {
    let mut built = Built::default();
    let kind = options.kind.unwrap_or_else(|| Kind::auto(&draft));
    let name = names::dns_label(&draft.name, "atomic");
    if name != draft.name {
        built.notes.push(format!(
            "'{}' is not a valid Kubernetes name; using '{name}'",
            draft.name
        ));
    }
    draft.container.name = name.clone();
    let restart = restart_policy(kind, &draft, &mut built.warnings);
    let labels = BTreeMap::from([(APP_LABEL.to_string(), name.clone())]);
    let meta = ObjectMeta {
        name: Some(name.clone()),
        namespace: options.namespace.clone(),
        labels: Some(labels.clone()),
        annotations: (!draft.annotations.is_empty()).then(|| draft.annotations.clone()),
        ..ObjectMeta::default()
    };
    let ports = draft.container.ports.clone().unwrap_or_default();
    let mut spec = draft.pod;
    spec.containers = vec![draft.container];
    spec.restart_policy = Some(restart.into());
    let template = |spec: PodSpec| PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            annotations: meta.annotations.clone(),
            ..ObjectMeta::default()
        }),
        spec: Some(spec),
    };
    let selector = LabelSelector {
        match_labels: Some(labels.clone()),
        ..LabelSelector::default()
    };
    if options.replicas.is_some() && kind != Kind::Deployment {
        built.warnings.push(Warning::new(
            "--replicas",
            format!("only a Deployment has replicas; ignored for a {kind:?}"),
        ));
    }
    let object = match kind {
        Kind::Pod => Object::Pod(Box::new(Pod {
            metadata: meta.clone(),
            spec: Some(spec),
            status: None,
        })),
        Kind::Deployment => Object::Deployment(Box::new(Deployment {
            metadata: meta.clone(),
            spec: DeploymentSpec {
                replicas: Some(options.replicas.unwrap_or(1)),
                selector,
                template: template(spec),
                ..DeploymentSpec::default()
            },
            status: None,
        })),
        Kind::DaemonSet => {
            // A node agent runs on every node, tainted ones (control plane, not ready)
            // included, as kube-proxy and log shippers do.
            spec.tolerations = Some(vec![Toleration {
                operator: Some("Exists".into()),
                ..Toleration::default()
            }]);
            Object::DaemonSet(Box::new(DaemonSet {
                metadata: meta.clone(),
                spec: DaemonSetSpec {
                    selector,
                    template: template(spec),
                    ..DaemonSetSpec::default()
                },
                status: None,
            }))
        }
        Kind::Job => Object::Job(Box::new(Job {
            metadata: meta.clone(),
            spec: Some(JobSpec {
                backoff_limit: Some(match draft.hints.restart {
                    Some(Restart::OnFailure(Some(n))) => n,
                    Some(Restart::OnFailure(None)) => 6,
                    _ => 0,
                }),
                template: template(spec),
                ..JobSpec::default()
            }),
            status: None,
        })),
    };
    built
        .notes
        .push(format!("generated {} {name}", object.kind()));
    built.objects.push(object);
    if options.service {
        match service(&meta, &labels, &ports) {
            Some(s) => built.objects.push(Object::Service(Box::new(s))),
            None => built.warnings.push(Warning::new(
                "--service",
                format!("'{name}' publishes no port (-p, --expose); no Service made"),
            )),
        }
    }
    built
}

/// docker's `--restart` as the kind allows it.
fn restart_policy(kind: Kind, draft: &Draft, warnings: &mut Vec<Warning>) -> &'static str {
    let restart = draft.hints.restart;
    match kind {
        Kind::Pod => match restart {
            None | Some(Restart::No) => "Never",
            Some(Restart::Always | Restart::UnlessStopped) => "Always",
            Some(Restart::OnFailure(_)) => "OnFailure",
        },
        Kind::Deployment | Kind::DaemonSet => {
            if matches!(restart, Some(Restart::No | Restart::OnFailure(_))) {
                warnings.push(Warning::new(
                    "--restart",
                    format!("a {kind:?} always restarts its containers"),
                ));
            }
            "Always"
        }
        Kind::Job => match restart {
            Some(Restart::OnFailure(_)) => "OnFailure",
            Some(Restart::Always | Restart::UnlessStopped) => {
                warnings.push(Warning::new(
                    "--restart",
                    "a Job restarts only on failure; OnFailure used",
                ));
                "OnFailure"
            }
            _ => "Never",
        },
    }
}

/// A ClusterIP Service for the published ports: the host port (what clients of the docker
/// container used) forwards to the container port.
fn service(
    meta: &ObjectMeta,
    labels: &BTreeMap<String, String>,
    ports: &[k8s_openapi::api::core::v1::ContainerPort],
) -> Option<Service> {
    if ports.is_empty() {
        return None;
    }
    let mut service_ports: Vec<ServicePort> = Vec::new();
    for p in ports {
        let port = p.host_port.unwrap_or(p.container_port);
        let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
        if service_ports
            .iter()
            .any(|s| s.port == port && s.protocol.as_deref() == Some(&protocol))
        {
            continue;
        }
        service_ports.push(ServicePort {
            name: Some(format!("{}-{port}", protocol.to_ascii_lowercase())),
            port,
            target_port: Some(IntOrString::Int(p.container_port)),
            protocol: Some(protocol),
            ..ServicePort::default()
        });
    }
    Some(Service {
        metadata: ObjectMeta {
            annotations: None,
            ..meta.clone()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels.clone()),
            ports: Some(service_ports),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

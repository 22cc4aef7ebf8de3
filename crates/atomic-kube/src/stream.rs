//! Objects as text: a YAML stream (`---` between documents) or JSON (one object, or a `v1`
//! `List` of several, which `kubectl apply -f` takes too); and a stream read back for
//! playing on this one host.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use crate::KubeError;
use crate::objects::Object;

fn serialize_error(e: impl std::fmt::Display) -> KubeError {
    KubeError::Record {
        what: "the generated object".into(),
        reason: e.to_string(),
    }
}

/// A YAML stream, one document per object.
pub fn to_yaml(objects: &[Object]) -> Result<String, KubeError> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(
            &serde_norway::to_string(&object.to_json().map_err(serialize_error)?)
                .map_err(serialize_error)?,
        );
    }
    Ok(out)
}

/// JSON: the object itself, or a `List` of them.
pub fn to_json(objects: &[Object]) -> Result<String, KubeError> {
    let values = objects
        .iter()
        .map(Object::to_json)
        .collect::<Result<Vec<_>, _>>()
        .map_err(serialize_error)?;
    let value = match <[serde_json::Value; 1]>::try_from(values) {
        Ok([one]) => one,
        Err(values) => serde_json::json!({"apiVersion": "v1", "kind": "List", "items": values}),
    };
    let mut text = serde_json::to_string_pretty(&value).map_err(serialize_error)?;
    text.push('\n');
    Ok(text)
}

/// A stream made playable by an engine that runs Pods and Deployments only (Podman 4.3's
/// `kube play`): a DaemonSet's or Job's pod template becomes a Pod, as the one node this host
/// is would run it; a Service is left out (this host has no cluster network to give it an
/// address). Returns the new stream and what was changed.
pub fn for_local_play(text: &str) -> Result<(String, Vec<String>), KubeError> {
    let bad = |reason: String| KubeError::Record {
        what: "the YAML stream".into(),
        reason,
    };
    let mut out = String::new();
    let mut notes = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(document).map_err(|e| bad(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let value = match kind.as_str() {
            "DaemonSet" => {
                let ds: DaemonSet =
                    serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
                let template = ds.spec.template;
                notes.push(format!("DaemonSet {name} runs as one Pod on this host"));
                pod_of(ds.metadata, template).map_err(|e| bad(e.to_string()))?
            }
            "Job" => {
                let job: Job = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
                let template = job.spec.map(|s| s.template).unwrap_or_default();
                notes.push(format!("Job {name} runs as one Pod on this host"));
                pod_of(job.metadata, template).map_err(|e| bad(e.to_string()))?
            }
            "Service" => {
                notes.push(format!(
                    "Service {name} is left out: this host has no cluster network"
                ));
                continue;
            }
            _ => value,
        };
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&value).map_err(|e| bad(e.to_string()))?);
    }
    Ok((out, notes))
}

fn pod_of(
    meta: ObjectMeta,
    template: k8s_openapi::api::core::v1::PodTemplateSpec,
) -> Result<serde_json::Value, serde_json::Error> {
    let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
    let annotations = template.metadata.and_then(|m| m.annotations);
    let pod = Pod {
        metadata: ObjectMeta {
            name: meta.name,
            namespace: meta.namespace,
            labels,
            annotations,
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    };
    serde_json::to_value(pod)
}

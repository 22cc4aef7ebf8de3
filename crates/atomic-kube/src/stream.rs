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
///
/// Kubernetes expands `$(VAR)` in command, args and env values, so the generated objects
/// write a literal `$(` as `$$(`. Podman expands neither env values (containers/podman#24181)
/// nor, before 4.7 (containers/podman#19630), command and args: there the escape would reach
/// the container as `$$(`, which a shell reads as its PID. `expands_commands` says whether the
/// engine expands command and args; whatever it does not expand is unescaped here.
pub fn for_local_play(
    text: &str,
    expands_commands: bool,
) -> Result<(String, Vec<String>), KubeError> {
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
        let mut value = value;
        unescape(&mut value, expands_commands);
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&value).map_err(|e| bad(e.to_string()))?);
    }
    Ok((out, notes))
}

/// `$$(` back to `$(` where the engine will not expand it.
fn unescape(object: &mut serde_json::Value, expands_commands: bool) {
    let spec = match object["kind"].as_str() {
        Some("Pod") => object.pointer_mut("/spec"),
        _ => object.pointer_mut("/spec/template/spec"),
    };
    let Some(spec) = spec else { return };
    let fix = |v: &mut serde_json::Value| {
        if let Some(s) = v.as_str() {
            *v = serde_json::Value::String(s.replace("$$(", "$("));
        }
    };
    for key in ["containers", "initContainers"] {
        for c in spec[key].as_array_mut().into_iter().flatten() {
            if !expands_commands {
                for list in ["command", "args"] {
                    c[list].as_array_mut().into_iter().flatten().for_each(fix);
                }
            }
            for e in c["env"].as_array_mut().into_iter().flatten() {
                fix(&mut e["value"]);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    metadata:\n      labels:\n        app: j\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: j\n        image: x\n        args: [sh, -c, 'echo $$(pwd)']\n        env:\n        - name: A\n          value: $$(x)\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: j\nspec:\n  ports:\n  - port: 80\n";

    #[test]
    fn jobs_become_pods_and_services_are_left_out() {
        let (text, notes) = for_local_play(JOB, false).unwrap();
        let docs: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&text)
            .map(|d| serde_json::Value::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), 1, "{text}");
        assert_eq!(docs[0]["kind"], "Pod");
        assert_eq!(docs[0]["metadata"]["name"], "j");
        assert_eq!(docs[0]["metadata"]["labels"]["app"], "j");
        assert_eq!(docs[0]["spec"]["containers"][0]["args"][2], "echo $(pwd)");
        assert_eq!(docs[0]["spec"]["containers"][0]["env"][0]["value"], "$(x)");
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn commands_keep_their_escape_for_an_engine_that_expands_them() {
        let (text, _) = for_local_play(JOB, true).unwrap();
        assert!(text.contains("echo $$(pwd)"), "{text}");
        assert!(!text.contains("$$(x)"), "{text}");
    }
}

//! The kubernetes and openshift providers: objects applied with `kubectl` (`oc` for openshift
//! when it is installed) one at a time in file order, namespace forced; deleted in reverse,
//! ReplicationControllers, Deployments and the like scaled to zero first.

use std::path::PathBuf;

use anyhow::{Context, Result};
use atomic_exec::{Sink, Task, find_program};
use serde_json::Value as Json;

use atomic_app::{App, Requirement, Values, render};

use super::state::{Object, State};

/// An object to create, and the component it belongs to.
#[derive(Debug, Clone)]
pub struct Planned {
    pub component: String,
    pub object: Json,
    /// With hidden values masked, for `--display`.
    pub shown: Json,
}

/// How kubectl is reached.
#[derive(Debug, Clone)]
pub struct Kubectl {
    pub program: PathBuf,
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
    pub namespace: String,
}

impl Kubectl {
    pub fn find(openshift: bool, state: &State) -> Result<Kubectl> {
        let program = (if openshift { find_program("oc") } else { None })
            .or_else(|| find_program("kubectl"))
            .context(
                "kubectl is not installed (no 'kubectl' on PATH): install it, or show the \
                 objects with --display",
            )?;
        Ok(Kubectl {
            program,
            kubeconfig: state.kubeconfig.clone(),
            context: state.context.clone(),
            namespace: state.namespace.clone(),
        })
    }

    /// `PROGRAM [--kubeconfig F] [--context C] ARGS… --namespace NS`
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec![self.program.to_string_lossy().into_owned()];
        if let Some(k) = &self.kubeconfig {
            argv.push(format!("--kubeconfig={k}"));
        }
        if let Some(c) = &self.context {
            argv.push(format!("--context={c}"));
        }
        argv.extend(args.iter().map(|s| s.to_string()));
        argv.push(format!("--namespace={}", self.namespace));
        argv
    }

    /// Run kubectl, its stdout the user's; its stderr's end goes into the error when it fails.
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<()> {
        let mut task = Task::new("kubectl", &self.program)
            .args(&self.argv(args)[1..])
            .stdout(Sink::Inherit);
        if let Some(data) = stdin {
            task = task.input(data);
        }
        task.run()?;
        Ok(())
    }
}

/// Render every object in creation order: the claims of persistentVolume requirements first,
/// then each component's artifacts in graph and file order.
pub fn plan(app: &App, values: &Values, provider: &str, namespace: &str) -> Result<Vec<Planned>> {
    let mut out = Vec::new();
    for (section, sub) in app.apps() {
        for req in sub.nulecule.requirements()? {
            match req {
                Requirement::PersistentVolume {
                    name,
                    access_mode,
                    size,
                } => {
                    let claim = render::claim(&name, &access_mode, size, namespace)?;
                    out.push(Planned {
                        component: section.clone(),
                        shown: claim.clone(),
                        object: claim,
                    });
                }
                Requirement::Unknown(kind) => {
                    eprintln!(
                        "warning: requirement '{kind}' of '{}' is not known; ignored",
                        sub.id()
                    )
                }
            }
        }
    }
    for c in app.components() {
        let ctx = values.context(&c.section, &c.app_section);
        for file in c.app.artifacts(c.item, provider)? {
            let text = atomic_app::app::read_text(&file)?;
            let shown_path = file.strip_prefix(&c.app.dir).unwrap_or(&file);
            let what = || {
                format!(
                    "component '{}', artifact {}",
                    c.section,
                    shown_path.display()
                )
            };
            let objects = render::objects(&text, &ctx, namespace, false).with_context(what)?;
            let shown = render::objects(&text, &ctx, namespace, true).with_context(what)?;
            for (object, shown) in objects.into_iter().zip(shown) {
                out.push(Planned {
                    component: c.section.clone(),
                    object,
                    shown,
                });
            }
        }
    }
    Ok(out)
}

fn kind_name(o: &Json) -> (String, String) {
    let s = |v: &Json| v.as_str().unwrap_or_default().to_string();
    (s(&o["kind"]), s(&o["metadata"]["name"]))
}

/// Create the namespace when asked and missing, then apply every object in order. On a
/// failure the objects this run created are deleted in reverse.
pub fn apply(
    kubectl: &Kubectl,
    planned: &[Planned],
    state: &mut State,
    create_namespace: bool,
    quiet: bool,
) -> Result<()> {
    if create_namespace
        && kubectl
            .run(&["get", "namespace", &kubectl.namespace], None)
            .is_err()
    {
        let mut bare = kubectl.clone();
        bare.namespace = "default".into();
        bare.run(&["create", "namespace", &kubectl.namespace], None)
            .with_context(|| format!("creating namespace {}", kubectl.namespace))?;
    }
    state.objects.clear();
    for p in planned {
        let (kind, name) = kind_name(&p.object);
        if !quiet {
            eprintln!("Creating {kind}/{name} (component '{}')", p.component);
        }
        let data = serde_json::to_vec(&p.object)?;
        if let Err(e) = kubectl.run(&["apply", "-f", "-"], Some(&data)) {
            let created = state.objects.clone();
            let undone = delete(kubectl, &created, true);
            state.objects.clear();
            state.status = "failed".into();
            return Err(e.context(format!(
                "component '{}' of application '{}' failed; deleted what this run had created \
                 ({})",
                p.component,
                state.id,
                undone.join(", ")
            )));
        }
        state.objects.push(Object {
            component: p.component.clone(),
            kind,
            name,
        });
        state.save()?;
    }
    Ok(())
}

/// Delete objects in reverse order, scaling workloads to zero first; returns what was deleted.
/// Claims of requirements are kept (they hold data) unless `claims`.
pub fn delete(kubectl: &Kubectl, objects: &[Object], claims: bool) -> Vec<String> {
    let mut done = Vec::new();
    for o in objects.iter().rev() {
        if o.kind == "PersistentVolumeClaim" && !claims {
            continue;
        }
        let target = format!("{}/{}", o.kind, o.name);
        if render::scaled_before_delete(&o.kind)
            && let Err(e) = kubectl.run(&["scale", "--replicas=0", &target], None)
        {
            eprintln!("warning: {e:#}");
        }
        match kubectl.run(&["delete", "--ignore-not-found", &target], None) {
            Ok(()) => done.push(target),
            Err(e) => eprintln!("warning: {e:#}"),
        }
    }
    done
}

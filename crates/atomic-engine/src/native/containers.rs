//! The native engine's containers: records and runtime of `atomic-runtime`, seen through the
//! engine-neutral [`ContainerInfo`].

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Context;

use atomic_runtime::runc::RuntimeState;
use atomic_runtime::{Record, Runner, Status};

use super::{NativeEngine, image_layers, native};
use crate::{ContainerInfo, Result};

/// A container's layers, top first: its own writes (`upper`, when given) over its recorded
/// layers, the init layer included.
pub(super) fn container_layers(upper: Option<PathBuf>, record: &Record) -> Vec<PathBuf> {
    upper
        .into_iter()
        .chain(record.layers.iter().rev().cloned())
        .collect()
}

impl NativeEngine {
    /// The runner of this store's containers; None when there is no store (so no container).
    pub fn runner(&self) -> Result<Option<Runner>> {
        Ok(self
            .existing()?
            .map(|store| Runner::new(store, &self.runtime)))
    }

    /// The runner, with the store created when missing (for commands that create containers).
    pub fn runner_creating(&self) -> Result<Runner> {
        Ok(Runner::new(self.store()?, &self.runtime))
    }

    /// A container by name, ID or ID prefix, with its record.
    pub fn find_container(&self, query: &str) -> Result<Option<(Record, ContainerInfo)>> {
        let Some(runner) = self.runner()? else {
            return Ok(None);
        };
        let Some(record) = runner.containers.find(query).map_err(native)? else {
            return Ok(None);
        };
        let state = runner.runtime.state(&record.id).map_err(native)?;
        let info = container_info(&record, state.as_ref());
        Ok(Some((record, info)))
    }

    /// A container that must exist.
    pub fn require_container(&self, query: &str) -> Result<(Runner, Record)> {
        let runner = self.runner()?;
        let record = match &runner {
            Some(runner) => runner.containers.find(query).map_err(native)?,
            None => None,
        };
        match (runner, record) {
            (Some(runner), Some(record)) => Ok((runner, record)),
            _ => Err(native(anyhow::anyhow!(
                "container '{query}' not found in storage 'native'"
            ))),
        }
    }

    /// An image's layers, or a container's upper directory above them, top first; a live
    /// container's root is the overlay its runtime mounted.
    pub(crate) fn mount_source(
        &self,
        object: crate::mount::Object<'_>,
    ) -> Result<crate::mount::MountSource> {
        use crate::mount::{MountSource, Object};
        match object {
            Object::Image(id) => {
                let (store, image) = self.require(id)?;
                Ok(MountSource::Layers(image_layers(&store, &image)?))
            }
            Object::Container { id, live } => {
                let (runner, record) = self.require_container(id)?;
                let dir = runner.containers.dir(&record.id);
                if live {
                    return Ok(MountSource::Merged(dir.join("rootfs")));
                }
                // A container never started has no upper directory yet.
                let upper = Some(dir.join("upper")).filter(|u| u.is_dir());
                Ok(MountSource::Layers(container_layers(upper, &record)))
            }
        }
    }

    /// Every container, with its true state.
    pub fn list_containers(&self) -> Result<Vec<ContainerInfo>> {
        let Some(runner) = self.runner()? else {
            return Ok(Vec::new());
        };
        let records = runner.containers.list().map_err(native)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let states = runner.runtime.list().map_err(native)?;
        Ok(records
            .iter()
            .map(|r| container_info(r, states.get(&r.id)))
            .collect())
    }

    pub fn containers_of_image(&self, image_id: &str) -> Result<Vec<ContainerInfo>> {
        Ok(self
            .list_containers()?
            .into_iter()
            .filter(|c| c.image_id == image_id)
            .collect())
    }

    pub fn used_image_ids(&self) -> Result<HashSet<String>> {
        Ok(self
            .list_containers()?
            .into_iter()
            .map(|c| c.image_id)
            .collect())
    }

    /// Stop a container (its stop signal, then SIGKILL after its timeout).
    pub fn stop(&self, query: &str, timeout: Option<u32>, signal: Option<&str>) -> Result<bool> {
        let (runner, record) = self.require_container(query)?;
        runner
            .stop(&record, timeout, signal)
            .with_context(|| format!("stopping container {}", record.name))
            .map_err(native)
    }

    pub fn remove_container(&self, query: &str, force: bool) -> Result<()> {
        let (runner, record) = self.require_container(query)?;
        runner
            .remove(&record, force)
            .with_context(|| format!("removing container {}", record.name))
            .map_err(native)
    }
}

/// The engine-neutral view of a native container, given what the runtime says of it.
pub fn container_info(record: &Record, runtime: Option<&RuntimeState>) -> ContainerInfo {
    let status = record.status(runtime.map(|s| s.status.as_str()));
    let pid = runtime
        .map(|s| s.pid)
        .filter(|&p| p > 0 && status == Status::Running);
    ContainerInfo {
        id: record.id.clone(),
        name: record.name.clone(),
        image_id: record.image_id.clone(),
        image_name: record.image.clone(),
        labels: record.labels.clone(),
        state: status.as_str().to_string(),
        running: status == Status::Running,
        cmd: record.command.clone(),
        interactive: record.interactive,
        created: record.created.clone(),
        runtime: record.runtime.clone(),
        pid,
        ports: record
            .network
            .iter()
            .flat_map(|n| &n.ports)
            .map(|m| m.short())
            .collect(),
    }
}

//! `-v`, `--mount`, `--tmpfs` and `--shm-size` as volumes and volume mounts.
//!
//! A host path becomes a hostPath volume whose `type` says what the source is on this machine
//! (so a node lacking it refuses the pod instead of binding an empty directory); a `-v`
//! source that does not exist is `DirectoryOrCreate`, which is what docker does with it. A
//! tmpfs is an emptyDir in memory; a named or anonymous volume an emptyDir, with a warning
//! when its data was meant to outlive the container.

use atomic_label::RunOpt;
use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, HostPathVolumeSource, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::KubeError;
use crate::flags::{State, size_quantity, value};
use crate::names::volume_name;

/// Where a mount's data comes from.
pub(crate) enum Source<'a> {
    /// A host path; `create` when a missing one should be made (docker's `-v`).
    Host {
        path: &'a str,
        create: bool,
    },
    Memory {
        size: Option<String>,
    },
    Empty,
}

/// Bind propagation, in Kubernetes' terms.
fn propagation(p: &str) -> Option<Option<&'static str>> {
    Some(match p {
        "rshared" | "shared" => Some("Bidirectional"),
        "rslave" | "slave" => Some("HostToContainer"),
        "rprivate" | "private" => None,
        _ => return None,
    })
}

impl State<'_> {
    /// Add a volume and its mount; returns the mount for options to adjust.
    pub(crate) fn add_mount(
        &mut self,
        destination: &str,
        source: Source<'_>,
        read_only: bool,
    ) -> &mut VolumeMount {
        let name = volume_name(destination, &mut self.volume_names);
        let mut volume = Volume {
            name: name.clone(),
            ..Volume::default()
        };
        match source {
            Source::Host { path, create } => {
                let kind = self.host.path_kind(path);
                let type_ = match kind {
                    Some(kind) => Some(kind.host_path_type().to_string()),
                    None if create => Some("DirectoryOrCreate".to_string()),
                    None => None,
                };
                volume.host_path = Some(HostPathVolumeSource {
                    path: path.to_string(),
                    type_,
                });
            }
            Source::Memory { size } => {
                volume.empty_dir = Some(EmptyDirVolumeSource {
                    medium: Some("Memory".into()),
                    size_limit: size.map(Quantity),
                    ..EmptyDirVolumeSource::default()
                });
            }
            Source::Empty => volume.empty_dir = Some(EmptyDirVolumeSource::default()),
        }
        self.draft
            .pod
            .volumes
            .get_or_insert_with(Vec::new)
            .push(volume);
        let mounts = self
            .draft
            .container
            .volume_mounts
            .get_or_insert_with(Vec::new);
        mounts.push(VolumeMount {
            name,
            mount_path: destination.to_string(),
            read_only: read_only.then_some(true),
            ..VolumeMount::default()
        });
        let last = mounts.len() - 1;
        &mut mounts[last]
    }

    /// Bidirectional propagation is only allowed for privileged containers.
    fn set_propagation(&mut self, opt: &RunOpt, mode: &'static str) {
        let privileged = self
            .draft
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.privileged)
            == Some(true);
        let mode = if mode == "Bidirectional" && !privileged {
            self.warnings.push(crate::Warning::new(
                opt.written.clone(),
                "Bidirectional propagation needs a privileged container; HostToContainer used",
            ));
            "HostToContainer"
        } else {
            mode
        };
        if let Some(m) = self
            .draft
            .container
            .volume_mounts
            .as_mut()
            .and_then(|m| m.last_mut())
        {
            m.mount_propagation = Some(mode.to_string());
        }
    }
}

fn absolute<'a>(opt: &RunOpt, dst: &'a str) -> Result<&'a str, KubeError> {
    if dst.starts_with('/') {
        Ok(dst)
    } else {
        Err(KubeError::invalid(
            opt,
            format!("the mount destination '{dst}' must be an absolute path"),
        ))
    }
}

/// `-v SRC:DST[:opts]`, `-v NAME:DST`, `-v DST`.
pub(crate) fn volume(state: &mut State<'_>, opt: &RunOpt) -> Result<(), KubeError> {
    let v = value(opt)?;
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => (None, *d, ""),
        [s, d] => (Some(*s), *d, ""),
        [s, d, o] => (Some(*s), *d, *o),
        _ => return Err(KubeError::invalid(opt, "expected SRC:DST[:OPTIONS]")),
    };
    let dst = absolute(opt, dst)?;
    let mut read_only = false;
    let mut propagation_mode = None;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            // What podman records for every bind; the defaults of a hostPath mount.
            "rbind" | "bind" | "nocopy" => {}
            "z" | "Z" => state.warnings.push(crate::Warning::new(
                opt.written.clone(),
                "SELinux relabelling is not mapped; set seLinuxOptions on the pod instead",
            )),
            p => match propagation(p) {
                Some(mode) => propagation_mode = mode,
                None => state.warnings.push(crate::Warning::new(
                    opt.written.clone(),
                    format!("volume option '{p}' has no Kubernetes equivalent"),
                )),
            },
        }
    }
    let source = match src {
        Some(path) if path.starts_with('/') => Source::Host { path, create: true },
        Some(name) => {
            state.warnings.push(crate::Warning::new(
                opt.written.clone(),
                format!(
                    "named volume '{name}' becomes an emptyDir, whose data ends with the pod; \
                     use a PersistentVolumeClaim to keep it"
                ),
            ));
            Source::Empty
        }
        None => Source::Empty,
    };
    state.add_mount(dst, source, read_only);
    if let Some(mode) = propagation_mode {
        state.set_propagation(opt, mode);
    }
    Ok(())
}

/// `--mount type=bind|volume|tmpfs,source=…,destination=…,…`.
pub(crate) fn mount(state: &mut State<'_>, opt: &RunOpt) -> Result<(), KubeError> {
    let v = value(opt)?;
    let (mut kind, mut source, mut destination) = ("volume", None, None);
    let (mut read_only, mut propagation_mode, mut size) = (false, None, None);
    for field in v.split(',') {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let need = || val.ok_or_else(|| KubeError::invalid(opt, format!("'{key}' needs a value")));
        match key {
            "type" => kind = need()?,
            "source" | "src" => source = Some(need()?),
            "destination" | "dst" | "target" => destination = Some(need()?),
            "readonly" | "ro" => read_only = !matches!(val, Some("0" | "false")),
            "bind-propagation" => {
                let p = need()?;
                propagation_mode = propagation(p)
                    .ok_or_else(|| KubeError::invalid(opt, format!("unknown propagation '{p}'")))?;
            }
            "tmpfs-size" => {
                let s = need()?;
                size = Some(size_quantity(s).ok_or_else(|| {
                    KubeError::invalid(opt, format!("tmpfs-size '{s}' is not a size"))
                })?);
            }
            _ => state.warnings.push(crate::Warning::new(
                opt.written.clone(),
                format!("mount option '{key}' has no Kubernetes equivalent"),
            )),
        }
    }
    let dst = absolute(
        opt,
        destination.ok_or_else(|| KubeError::invalid(opt, "a destination is required"))?,
    )?;
    let source = match kind {
        "bind" => {
            let path =
                source.ok_or_else(|| KubeError::invalid(opt, "a bind mount needs a source"))?;
            if !path.starts_with('/') {
                return Err(KubeError::invalid(opt, "a bind source must be absolute"));
            }
            Source::Host {
                path,
                create: false,
            }
        }
        "tmpfs" => Source::Memory { size },
        "volume" => {
            if let Some(name) = source {
                state.warnings.push(crate::Warning::new(
                    opt.written.clone(),
                    format!(
                        "named volume '{name}' becomes an emptyDir, whose data ends with the \
                         pod; use a PersistentVolumeClaim to keep it"
                    ),
                ));
            }
            Source::Empty
        }
        other => {
            return Err(KubeError::invalid(
                opt,
                format!("mount type '{other}' is not bind, volume or tmpfs"),
            ));
        }
    };
    state.add_mount(dst, source, read_only);
    if let Some(mode) = propagation_mode {
        state.set_propagation(opt, mode);
    }
    Ok(())
}

/// `--tmpfs DST[:opts]`: an emptyDir in memory; `size=` is its limit.
pub(crate) fn tmpfs(state: &mut State<'_>, opt: &RunOpt) -> Result<(), KubeError> {
    let v = value(opt)?;
    let (dst, opts) = v.split_once(':').unwrap_or((v, ""));
    let dst = absolute(opt, dst)?;
    let (mut read_only, mut size) = (false, None);
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o.split_once('=') {
            Some(("size", s)) => {
                size =
                    Some(size_quantity(s).ok_or_else(|| {
                        KubeError::invalid(opt, format!("size '{s}' is not a size"))
                    })?)
            }
            None if o == "ro" => read_only = true,
            None if o == "rw" => read_only = false,
            _ => state.warnings.push(crate::Warning::new(
                opt.written.clone(),
                format!("tmpfs option '{o}' has no Kubernetes equivalent"),
            )),
        }
    }
    state.add_mount(dst, Source::Memory { size }, read_only);
    Ok(())
}

/// `--shm-size N`: a memory emptyDir of that size on /dev/shm.
pub(crate) fn shm(state: &mut State<'_>, opt: &RunOpt) -> Result<(), KubeError> {
    let s = value(opt)?;
    let size = size_quantity(s).ok_or_else(|| KubeError::invalid(opt, "expected a size"))?;
    state.add_mount("/dev/shm", Source::Memory { size: Some(size) }, false);
    Ok(())
}

//! `atomic images verify --repair`: put right what [`verify`](super::verify) found, from what
//! the store still holds. It never deletes anything intact:
//!
//! | damage | repair |
//! |---|---|
//! | manifest or config blob missing or corrupt | the entry (every name of it) is dropped: nothing here can rebuild the image |
//! | layer directory missing or modified, its blob intact | the layer is unpacked again from its blob (checked against its diff_id) and swapped in |
//! | layer directory missing, its blob missing or corrupt | the entry is dropped: there is nothing to restore the layer from |
//! | layer blob corrupt (the directory cannot be checked) | the corrupt blob is removed, so the next pull fetches it again; the directory stays |
//! | layer blob missing, its directory there | nothing: there is nothing to check or restore it with; reported |
//!
//! A layer that is mounted (`atomic mount`, a running container) is not replaced: what the
//! mount shows would change under it. Dropped entries' other blobs go at the next
//! `images prune`, as any unreferenced blob does.

use std::fmt;
use std::fs::File;

use anyhow::{Context, Result};

use super::{BlobKind, BlobState, LayerState, Report};
use crate::digest::Digest;
use crate::store::{Store, remove_tree};

/// One thing `repair` did, or could not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// The layer was unpacked again from its blob.
    Unpacked { diff_id: Digest },
    /// The image's entry left the index: `why` it could not be kept.
    Dropped { why: String },
    /// A layer blob whose content no longer matched its digest was removed.
    RemovedBlob { digest: Digest },
    /// Nothing could be done about this.
    Left { what: String },
}

impl Repair {
    /// Whether the image is back to what was pulled after this.
    pub fn restored(&self) -> bool {
        matches!(self, Repair::Unpacked { .. })
    }
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::Unpacked { diff_id } => {
                write!(f, "layer {diff_id}: unpacked again from its blob")
            }
            Repair::Dropped { why } => {
                write!(f, "removed the damaged entry ({why}); pull the image again")
            }
            Repair::RemovedBlob { digest } => write!(
                f,
                "removed corrupt blob {digest}; pull the image again to fetch it"
            ),
            Repair::Left { what } => write!(f, "not repaired: {what}"),
        }
    }
}

/// Repair what `report` found wrong with its image (see the module's table).
pub fn repair(store: &Store, report: &Report) -> Result<Vec<Repair>> {
    // No pull or prune meanwhile: a layer is swapped, or the index changed.
    let _gc = store.gc_lock()?;
    let mut done = Vec::new();
    if let Some(why) = broken_image_blob(report) {
        store.drop_entry(&report.manifest)?;
        done.push(Repair::Dropped { why });
        return Ok(done);
    }
    let mounted = crate::gc::mounted_layers(store);
    let mut lost = None;
    for (i, layer) in report.layers.iter().enumerate() {
        let blob = blob_state(report, &layer.blob);
        match (&layer.state, &blob) {
            (LayerState::Ok, _) => {}
            (LayerState::Missing | LayerState::Modified(_), BlobState::Ok) => {
                if mounted.contains(layer.diff_id.hex()) {
                    done.push(Repair::Left {
                        what: format!(
                            "layer {} is mounted (atomic mount, or a running container); \
                             unmount or stop it first",
                            layer.diff_id
                        ),
                    });
                    continue;
                }
                unpack_again(store, &layer.blob, &layer.diff_id)?;
                done.push(Repair::Unpacked {
                    diff_id: layer.diff_id.clone(),
                });
            }
            (LayerState::Unverified(_), BlobState::Corrupt { .. }) => {
                remove_tree(&store.blob_path(&layer.blob));
                done.push(Repair::RemovedBlob {
                    digest: layer.blob.clone(),
                });
            }
            (LayerState::Unverified(why), _) => done.push(Repair::Left {
                what: format!("layer {}: {why}", layer.diff_id),
            }),
            (LayerState::Missing | LayerState::Modified(_), _) => {
                lost = Some(format!(
                    "layer {}/{} is damaged and its blob {} is {}",
                    i + 1,
                    report.layers.len(),
                    layer.blob,
                    if blob == BlobState::Missing {
                        "missing"
                    } else {
                        "corrupt"
                    }
                ));
            }
        }
    }
    if let Some(why) = lost {
        store.drop_entry(&report.manifest)?;
        done.push(Repair::Dropped { why });
    }
    Ok(done)
}

/// Why the image cannot be rebuilt at all: its manifest or config is missing or corrupt.
fn broken_image_blob(report: &Report) -> Option<String> {
    report
        .blobs
        .iter()
        .filter(|b| matches!(b.kind, BlobKind::Manifest | BlobKind::Config))
        .find_map(|b| match &b.state {
            BlobState::Ok => None,
            BlobState::Missing => Some(format!("its {} {} is missing", b.kind, b.digest)),
            BlobState::Corrupt { .. } => Some(format!("its {} {} is corrupt", b.kind, b.digest)),
        })
}

fn blob_state(report: &Report, digest: &Digest) -> BlobState {
    report
        .blobs
        .iter()
        .find(|b| b.kind == BlobKind::Layer && &b.digest == digest)
        .map(|b| b.state.clone())
        .unwrap_or(BlobState::Missing)
}

/// Unpack the layer from its blob into `tmp/`, check it against its diff_id, and only then
/// take the damaged directory out and put the new one in its place.
fn unpack_again(store: &Store, blob: &Digest, diff_id: &Digest) -> Result<()> {
    let file =
        File::open(store.blob_path(blob)).with_context(|| format!("reading layer blob {blob}"))?;
    let (dir, size) = crate::pull::unpack_verified(store, file, blob, diff_id)
        .with_context(|| format!("unpacking layer {diff_id} again"))?;
    store.remove_layer(diff_id.hex());
    store.commit_layer(dir, diff_id, size)
}

//! Fetching an image's layers: several at once, each streamed from the registry straight into
//! both its blob file and the unpacker, so a layer is downloaded, verified and unpacked in one
//! pass with only a few chunks of it in memory.
//!
//! ```text
//!  registry ──chunks──▶ async task ──bounded channel──▶ blocking thread
//!                       (progress,                      ├─▶ blob writer  (tmp/, sha256 of blob)
//!                        size limit)                    └─▶ decompress ─▶ sha256 (diff_id)
//!                                                                      └─▶ unpack into tmp/
//! ```
//!
//! Nothing is committed until both digests match: first the blob is renamed into `blobs/`
//! (the blob writer checks its digest), then the unpacked tree into `layers/<diff_id>`. If the
//! download fails, the pull is cancelled or the process is killed, the temporary blob file and
//! directory are dropped (or, after a kill, cleared by the next writer, see `store.rs`), so the
//! next pull starts that layer from scratch.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::mpsc;

use super::remote::Remote;
use crate::digest::Digest;
use crate::pull::progress::{LayerBar, Progress};
use crate::store::{BlobWriter, Store};

/// Layers fetched at once. Unpacking is bound by file creation and decompression, not by the
/// network, so what matters is keeping every core busy while one layer waits on the disk; on
/// the 2-core test machine 2, 3 and 6 gave the same wall time within noise, and each one adds
/// a few MiB (see below). 6 covers most images' layers in one go.
const PARALLEL: usize = 6;

/// Chunks in flight between a download and its unpacker. The network outruns the unpacker, so
/// the channel is full most of the time, and a chunk can pin a read buffer of the HTTP stack
/// of up to ~400 KiB: 64 chunks cost ~98 MiB peak RSS for the benchmark image, 8 cost 44 MiB,
/// 4 cost 31 MiB, with no measurable difference in speed.
const CHANNEL_DEPTH: usize = 4;

/// One layer of the manifest.
#[derive(Debug, Clone)]
pub struct LayerJob {
    pub blob: Digest,
    /// The blob's size as the manifest gives it.
    pub size: u64,
    pub diff_id: Digest,
}

/// Fetch and unpack every layer the store lacks; returns the sum of the uncompressed sizes.
pub async fn fetch_all(
    remote: &Remote,
    store: &Store,
    jobs: Vec<LayerJob>,
    progress: &Progress,
) -> Result<u64> {
    // An image may list the same layer twice (empty layers are common): fetch it once.
    let mut seen = HashSet::new();
    let jobs: Vec<LayerJob> = jobs
        .into_iter()
        .filter(|j| seen.insert(j.blob.clone()))
        .collect();
    let sizes: Vec<u64> = stream::iter(jobs)
        .map(|job| {
            let bar = progress.layer(&job.blob, job.size);
            async move {
                fetch_one(remote, store, &job, &bar)
                    .await
                    .with_context(|| format!("layer {} of {}", job.blob, remote.name))
            }
        })
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
    Ok(sizes.iter().sum())
}

async fn fetch_one(remote: &Remote, store: &Store, job: &LayerJob, bar: &LayerBar) -> Result<u64> {
    let have_blob = store.has_blob(&job.blob);
    let have_layer = store.has_layer(&job.diff_id);
    if have_blob {
        // The stored blob was verified by digest when it came; its size must still be the one
        // this manifest gives (a manifest that lies about sizes is refused whether or not the
        // blob happens to be here already).
        let stored = std::fs::metadata(store.blob_path(&job.blob))
            .with_context(|| format!("reading blob {}", job.blob))?
            .len();
        if stored != job.size {
            bail!(
                "the manifest lists {} bytes for this layer, but the blob has {stored}; the \
                 image is malformed",
                job.size
            );
        }
        // Unpacked already (a shared base layer), or downloaded by a pull that stopped before
        // unpacking: either way the registry is not needed. `unpack_layer` returns at once when
        // the layer is there.
        let (store, blob, diff_id) = (store.clone(), job.blob.clone(), job.diff_id.clone());
        if !have_layer {
            bar.unpacking();
        }
        let size =
            tokio::task::spawn_blocking(move || crate::pull::unpack_layer(&store, &blob, &diff_id))
                .await
                .context("the unpacking thread failed")??;
        if have_layer {
            bar.exists()
        } else {
            bar.done()
        }
        return Ok(size);
    }

    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let worker = {
        let (store, job) = (store.clone(), job.clone());
        // When the layer is already unpacked (the same tar, compressed differently by another
        // image), only the blob is needed, to keep the OCI layout complete.
        tokio::task::spawn_blocking(move || store_and_unpack(&store, rx, &job, !have_layer))
    };
    let downloaded = download(remote, job, bar, tx).await;
    bar.unpacking();
    // Wait for the worker even when the download failed, so its temporary files are gone
    // when this returns; but report the download's error, which is the cause.
    let unpacked = worker.await.context("the unpacking thread failed")?;
    downloaded?;
    let size = unpacked?;
    bar.done();
    Ok(size)
}

/// Stream the blob into `tx`. Dropping `tx` (on return) tells the worker the stream ended.
async fn download(
    remote: &Remote,
    job: &LayerJob,
    bar: &LayerBar,
    tx: mpsc::Sender<Bytes>,
) -> Result<()> {
    let mut blob = remote.blob_stream(&job.blob).await?;
    let mut received: u64 = 0;
    while let Some(chunk) = blob.stream.next().await {
        let chunk =
            chunk.map_err(|e| remote.stream_error(e, &format!("downloading blob {}", job.blob)))?;
        received += chunk.len() as u64;
        // The digest is only known at the end; an endless or oversized stream is cut here so
        // it cannot fill the disk first.
        if received > job.size {
            bail!(
                "the registry sent more than the {} bytes the manifest lists",
                job.size
            );
        }
        bar.inc(chunk.len() as u64);
        if tx.send(chunk).await.is_err() {
            // The worker stopped (its error is reported by the caller).
            return Ok(());
        }
    }
    // An overstated size is as much a lie as an understated one.
    if received != job.size {
        bail!(
            "the registry sent {received} bytes, but the manifest lists {}",
            job.size
        );
    }
    Ok(())
}

/// Runs on a blocking thread: write the blob and, when `unpack`, unpack it on the way.
/// Returns the uncompressed size (0 when only the blob was stored; the layer's own size file
/// then has it).
fn store_and_unpack(
    store: &Store,
    rx: mpsc::Receiver<Bytes>,
    job: &LayerJob,
    unpack: bool,
) -> Result<u64> {
    let mut tee = Tee {
        rx,
        writer: store.blob_writer(&job.blob)?,
        chunk: None,
        pos: 0,
    };
    if !unpack {
        io::copy(&mut tee, &mut io::sink())?;
        tee.writer.commit()?;
        return crate::pull::unpack_layer(store, &job.blob, &job.diff_id);
    }
    let (dir, size) = crate::pull::unpack_verified(store, &mut tee, &job.blob, &job.diff_id)?;
    // The compressed stream may go on past the end of the tar (padding, a trailer): the blob
    // digest covers all of it.
    io::copy(&mut tee, &mut io::sink())?;
    let Tee { writer, .. } = tee;
    writer.commit()?;
    crate::pull::commit_unpacked(store, dir, &job.diff_id, size)?;
    Ok(size)
}

/// Reads the chunks of a channel as one byte stream, writing each chunk to the blob file as it
/// arrives (so the blob holds every byte whatever the reader stops at).
struct Tee {
    rx: mpsc::Receiver<Bytes>,
    writer: BlobWriter,
    chunk: Option<Bytes>,
    pos: usize,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(chunk) = &self.chunk {
                let rest = &chunk.as_ref()[self.pos..];
                if !rest.is_empty() {
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.writer.write_all(chunk.as_ref())?;
                    self.chunk = Some(chunk);
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
    }
}

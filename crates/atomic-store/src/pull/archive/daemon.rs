//! `docker-daemon:NAME` (the original's `docker:NAME`): the image exported from the local
//! Docker engine (`docker save` through the API) and imported as a `docker save` archive. Built
//! only with the `docker-daemon` feature: the rest of the store needs no Docker client.

use std::fs::File;
use std::io::Write;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::errors::Error as BollardError;
use futures_util::StreamExt;

use super::docker::{Naming, import_archive};
use crate::docker_client::{Endpoint, ProcessEnvironment};
use crate::pull::{PullOptions, Pulled};
use crate::reference::{DEFAULT_TAG, ImageName};
use crate::store::Store;

/// `docker-daemon:NAME`: export the image from Docker (`docker save`) into the store's temp
/// space and import that archive, under NAME qualified.
pub(super) async fn import_daemon(store: &Store, name: &str, opts: &PullOptions) -> Result<Pulled> {
    let request = DaemonRequest::new(name)?;
    let (docker, socket) = connect().await?;
    let tmp = store.temp_dir("import")?;
    let path = tmp.path().join("image.tar");
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        File::create(&path).context("creating the export file")?,
    );
    let mut stream = docker.export_image(&request.export);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| export_error(e, name, &socket))?;
        out.write_all(&chunk).context("writing the export file")?;
    }
    out.into_inner()
        .map_err(|e| e.into_error())
        .context("writing the export file")?;
    let naming = Naming {
        first: request.store_name,
        stem: request.stem,
    };
    import_archive(store, &path, &naming, opts).await
}

/// What to ask Docker for, and what to call the result.
#[derive(Debug, PartialEq)]
struct DaemonRequest {
    export: String,
    store_name: Option<String>,
    stem: String,
}

impl DaemonRequest {
    fn new(name: &str) -> Result<DaemonRequest> {
        if name.is_empty() {
            bail!("docker-daemon: needs an image name or ID");
        }
        // An image ID (`sha256:<hex>` or a prefix of 12 or more hex digits): Docker exports it
        // without a name, and it is stored as `localhost/<short id>:latest`.
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 12 && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(DaemonRequest {
                export: name.to_string(),
                store_name: None,
                stem: hex[..12].to_ascii_lowercase(),
            });
        }
        let parsed = ImageName::parse(name)?;
        if parsed.digest.is_some() {
            // The store's manifest is converted, so its digest is not the one in the name.
            bail!("'{name}': docker-daemon: takes a name:tag or an image ID, not a digest");
        }
        // Without a tag, Docker would export every tag of the repository.
        let export = match parsed.tag {
            Some(_) => name.to_string(),
            None => format!("{name}:{DEFAULT_TAG}"),
        };
        Ok(DaemonRequest {
            export,
            store_name: Some(parsed.qualified().to_string()),
            stem: sanitize_stem(&parsed.repository),
        })
    }
}

fn sanitize_stem(repository: &str) -> String {
    let last = repository.rsplit('/').next().unwrap_or(repository);
    super::sanitize_component(last)
}

/// A client for the Docker engine the `docker` CLI would reach, that has answered.
async fn connect() -> Result<(Docker, String)> {
    let endpoint = Endpoint::resolve(&ProcessEnvironment)?;
    let docker = endpoint
        .client()
        .map_err(|e| anyhow::anyhow!("{e:#}; is dockerd running?"))?;
    if let Err(e) = docker.ping().await {
        bail!(
            "cannot connect to the Docker daemon at {}: {e}; is dockerd running?",
            endpoint.host
        );
    }
    Ok((docker, endpoint.host))
}

fn export_error(e: BollardError, name: &str, socket: &str) -> anyhow::Error {
    match e {
        BollardError::DockerResponseServerError {
            status_code: 404,
            message,
        } => anyhow::anyhow!("Docker has no image '{name}' ({message})"),
        BollardError::DockerResponseServerError { message, .. } => {
            anyhow::anyhow!("Docker could not export '{name}': {message}")
        }
        other => anyhow::Error::new(other).context(format!(
            "exporting '{name}' from the Docker daemon at {socket}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_names() {
        let req = DaemonRequest::new("busybox").unwrap();
        assert_eq!(req.export, "busybox:latest");
        assert_eq!(
            req.store_name.as_deref(),
            Some("docker.io/library/busybox:latest")
        );
        let req = DaemonRequest::new("localhost/app:v1").unwrap();
        assert_eq!(req.export, "localhost/app:v1");
        assert_eq!(req.store_name.as_deref(), Some("localhost/app:v1"));
        let id = "0123456789abcdef".repeat(4);
        let req = DaemonRequest::new(&format!("sha256:{id}")).unwrap();
        assert_eq!(req.store_name, None);
        assert_eq!(req.stem, "0123456789ab");
        assert!(DaemonRequest::new("").is_err());
        assert!(DaemonRequest::new("UPPER").is_err());
        assert!(DaemonRequest::new(&format!("x@sha256:{id}")).is_err());
    }
}

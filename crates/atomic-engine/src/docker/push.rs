//! `atomic push --storage docker`: the daemon's own push (`docker push`), after tagging the
//! image as the destination when one is given. The daemon reads its registry settings
//! (certificates in /etc/docker/certs.d, insecure registries) from its own configuration, so
//! the flags that would change them are refused rather than ignored.

use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;

use super::{DockerEngine, credentials, split_tag};
use crate::{EngineError, EngineKind, Result};

impl DockerEngine {
    pub async fn push(
        &self,
        image: &str,
        destination: Option<&str>,
        opts: &atomic_store::PushOptions,
    ) -> Result<()> {
        let action = format!("push {image}");
        let refuse = |what: &str| {
            Err(EngineError::failed(
                EngineKind::Docker,
                action.clone(),
                format!(
                    "{what} cannot be passed to the Docker daemon (it has its own registry \
                     settings); use --storage podman or native"
                ),
            ))
        };
        if opts.tls_verify.is_some() {
            return refuse("--tls-verify");
        }
        if opts.cert_dir.is_some() {
            return refuse("--cert-dir");
        }
        if opts.authfile.is_some() {
            return refuse("--authfile");
        }
        if !opts.sign.is_empty() {
            return refuse("signing (--sign-by, --sign-by-sigstore-private-key)");
        }
        let target = match destination {
            Some(dest) => {
                let dest = dest.strip_prefix("docker://").unwrap_or(dest);
                self.tag_image(image, dest).await?;
                dest.to_string()
            }
            None => image.to_string(),
        };
        let (name, tag) = split_tag(&target);
        let options = PushImageOptionsBuilder::default()
            .tag(tag.unwrap_or("latest"))
            .build();
        let credentials = credentials(opts.credentials.as_ref());
        let mut stream = self.client.push_image(name, Some(options), credentials);
        while let Some(item) = stream.next().await {
            let info =
                item.map_err(|e| self.unavailable_or_failed(&format!("push {target}"), e))?;
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::failed(
                    EngineKind::Docker,
                    format!("push {target}"),
                    error,
                ));
            }
            if !opts.quiet
                && let Some(status) = info.status
            {
                eprintln!("{status}");
            }
        }
        Ok(())
    }
}

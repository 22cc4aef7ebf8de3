//! A connection to one image on one registry: TLS and plain-HTTP choice, credentials, and the
//! requests a pull makes (manifest, small blobs, layer streams), with registry errors turned
//! into messages that name the image and say what to do.

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};

use super::auth;
use super::capped::{self, Answer, ManifestClient};
use super::manifest::{self, Parsed};
use super::sources::PullSource;
use super::timeout;
use super::tls;
use super::token::{self, Access, Authorization, Grant};
use crate::digest::Digest;
use crate::pull::PullOptions;
use crate::reference::ImageName;

/// Manifests and configs are small; a registry that sends more is refused before it fills
/// memory (layers are streamed to disk, never held).
const MAX_SMALL_BLOB: u64 = 16 << 20;

/// One image on one registry, connected.
pub struct Remote {
    /// Fully qualified, as stored in the store's refs.
    pub name: ImageName,
    /// The host requests go to (`registry-1.docker.io` for `docker.io`).
    host: String,
    /// How to reach it: HTTP client and scheme.
    pub(crate) session: ManifestClient,
    /// What to send, renewed before a bearer token expires (a pull of large layers outlasts
    /// Docker Hub's five-minute tokens).
    grant: tokio::sync::Mutex<Grant>,
    creds: Option<auth::Credentials>,
    access: Access,
    /// Whether TLS verification is off for this registry (for error hints).
    insecure: bool,
}

/// A blob being downloaded: its chunks, as they arrive.
pub struct BlobStream {
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
}

/// An image manifest as fetched: its exact bytes (stored as they are, since they are what the
/// digest covers) and the parsed form.
pub struct Fetched {
    pub digest: Digest,
    pub bytes: Vec<u8>,
    pub manifest: oci_spec::image::ImageManifest,
}

/// The host that serves a registry's API: Docker Hub's name is not its API's.
pub fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        other => other,
    }
}

impl Remote {
    /// Connect to one source: pick https or http, set TLS up from certs.d, find credentials
    /// and ask the registry for a token if it wants one.
    pub async fn connect_source(
        source: &PullSource,
        helpers: &[String],
        opts: &PullOptions,
        access: Access,
    ) -> Result<Remote> {
        let name = source.name.clone();
        let registry = name
            .registry
            .clone()
            .ok_or_else(|| anyhow!("'{name}' has no registry"))?;
        let insecure = match opts.tls_verify {
            Some(verify) => !verify,
            None => source.insecure,
        };
        let creds = match &opts.credentials {
            _ if opts.anonymous => None,
            Some(c) => Some(c.clone()),
            // An --authfile is read whatever the helpers say, as podman does.
            None if opts.authfile.is_some() => {
                auth::lookup(&registry, &name.repository, opts.authfile.as_deref()).await?
            }
            None => auth::lookup_with(helpers, &registry, &name.repository, None).await?,
        };
        let host = api_host(&registry).to_string();

        // An insecure registry is tried over https without verification first, then over plain
        // http, as podman and skopeo do; a secure one only over verified https.
        let schemes: &[&'static str] = if insecure {
            &["https", "http"]
        } else {
            &["https"]
        };
        let http = tls::http_client(&registry, opts.cert_dir.as_deref(), insecure)?;
        let mut last_err = None;
        for &scheme in schemes {
            // The /v2/ handshake: reaches the registry, and fetches a bearer token when the
            // registry asks for one (anonymous or with the credentials).
            match token::handshake(
                &http,
                scheme,
                &host,
                &name.repository,
                creds.as_ref(),
                access,
            )
            .await
            {
                Ok(grant) => {
                    return Ok(Remote {
                        name,
                        host,
                        session: ManifestClient::new(http, scheme),
                        grant: tokio::sync::Mutex::new(grant),
                        creds,
                        access,
                        insecure,
                    });
                }
                // Only a failure to talk at all (TLS, connection) is worth another protocol;
                // a registry that answered and refused has said what it had to say.
                Err(e @ OciDistributionError::RequestError(_)) => {
                    tracing::debug!("{registry} over {scheme}: {e:#}");
                    last_err = Some(e);
                }
                Err(e) => return Err(explain(e, &name, insecure)),
            }
        }
        match last_err {
            Some(err) => Err(explain(err, &name, insecure)),
            None => bail!("no protocol to reach {registry} with"),
        }
    }

    /// What to send with the next request; a bearer token near its end is renewed first.
    pub async fn authorization(&self) -> Result<Authorization> {
        let mut grant = self.grant.lock().await;
        if let Some((bearer, at)) = &grant.renew
            && std::time::Instant::now() >= *at
        {
            let bearer = bearer.clone();
            tracing::debug!("renewing the token for {}", self.name);
            *grant = token::fetch_token(
                &self.session.http,
                self.session.scheme,
                &self.host,
                &self.name.repository,
                self.creds.as_ref(),
                self.access,
                &bearer,
            )
            .await
            .map_err(|e| explain(e, &self.name, self.insecure))?;
        }
        Ok(grant.auth.clone())
    }

    /// `scheme://host`, the start of every URL of this registry.
    pub fn base(&self) -> String {
        format!("{}://{}", self.session.scheme, self.host)
    }

    /// Fetch the image manifest, resolving an index to the host's platform. When the name pins
    /// a digest, the bytes must hash to it.
    pub async fn manifest(&self) -> Result<Fetched> {
        let wanted = match (&self.name.digest, &self.name.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => crate::reference::DEFAULT_TAG.to_string(),
        };
        let (bytes, digest) = self.manifest_raw(&wanted).await?;
        if let Some(want) = &self.name.digest
            && &digest != want
        {
            bail!(
                "the registry sent a manifest for {} whose content hashes to {digest}; refusing it",
                self.name
            );
        }
        match manifest::parse(&bytes)
            .with_context(|| format!("reading the manifest of {}", self.name))?
        {
            Parsed::Image(manifest) => Ok(Fetched {
                digest,
                bytes,
                manifest: *manifest,
            }),
            Parsed::Index(index) => {
                let entry = manifest::host_entry(&index).with_context(|| {
                    format!("choosing a platform from the index of {}", self.name)
                })?;
                let want = Digest::try_from(entry.digest())?;
                let (bytes, digest) = self.manifest_raw(&want.to_string()).await?;
                if digest != want {
                    bail!(
                        "the registry sent a manifest for {}@{want} whose content hashes to {digest}; refusing it",
                        self.name.repo_path()
                    );
                }
                match manifest::parse(&bytes)
                    .with_context(|| format!("reading the manifest {want} of {}", self.name))?
                {
                    Parsed::Image(manifest) => Ok(Fetched {
                        digest,
                        bytes,
                        manifest: *manifest,
                    }),
                    Parsed::Index(_) => bail!(
                        "the index of {} points at another index for linux/{}; nested indexes are not supported",
                        self.name,
                        manifest::host_architecture()
                    ),
                }
            }
        }
    }

    /// GET the manifest `wanted` (a tag or digest) of this repository.
    pub(crate) async fn manifest_raw(&self, wanted: &str) -> Result<(Vec<u8>, Digest)> {
        let registry = &self.host;
        let auth = self.authorization().await?;
        let answer = self
            .session
            .get(
                registry,
                &self.name.repository,
                wanted,
                manifest::ACCEPT,
                &auth,
            )
            .await
            .map_err(|e| explain(e.into(), &self.name, self.insecure))?;
        let bytes = match answer {
            Answer::Manifest(bytes) => bytes,
            Answer::TooBig => bail!(
                "{registry} sent a manifest for {} larger than {} MiB; refusing it (no image \
                 manifest or index is that large)",
                self.name,
                capped::MAX_MANIFEST >> 20
            ),
            Answer::Refused(status, body) => {
                let url = format!("{registry}/v2/{}/manifests/{wanted}", self.name.repository);
                return Err(explain(
                    refusal(status, &body, url),
                    &self.name,
                    self.insecure,
                ));
            }
        };
        // The digest is computed here rather than taken from the registry's header: it is the
        // name the bytes get in the store.
        let digest = Digest::of(&bytes);
        Ok((bytes, digest))
    }

    /// Fetch a small blob (a config) whole and verify it.
    pub async fn small_blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        if size > MAX_SMALL_BLOB {
            bail!(
                "{} lists a config of {size} bytes for {}; refusing it",
                self.name,
                digest
            );
        }
        let mut stream = self.blob_stream(digest).await?;
        let mut bytes = Vec::with_capacity(size as usize);
        while let Some(chunk) = stream.stream.next().await {
            let chunk =
                chunk.map_err(|e| self.stream_error(e, &format!("fetching blob {digest}")))?;
            if (bytes.len() + chunk.len()) as u64 > size {
                bail!(
                    "the registry sent more than the {size} bytes {} lists for blob {digest}",
                    self.name
                );
            }
            bytes.extend_from_slice(&chunk);
        }
        let actual = Digest::of(&bytes);
        if &actual != digest {
            bail!(
                "blob {digest} of {} failed verification: its content hashes to {actual}",
                self.name
            );
        }
        Ok(bytes)
    }

    /// An error of a blob stream, with a stall said as such.
    pub fn stream_error(&self, err: std::io::Error, what: &str) -> anyhow::Error {
        let registry = self.name.registry.as_deref().unwrap_or("the registry");
        let msg = if timeout::is_timeout(&err) {
            timeout::stalled(registry, &format!("{what} of {}", self.name))
        } else {
            format!("{what} of {} from {registry}", self.name)
        };
        anyhow::Error::new(err).context(msg)
    }

    /// Start streaming a blob. The stream checks nothing itself; the store's blob writer
    /// checks the digest, and a blob is verified before anything uses it.
    pub async fn blob_stream(&self, digest: &Digest) -> Result<BlobStream> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base(), self.name.repository);
        let fail = |e: OciDistributionError| {
            explain(e, &self.name, self.insecure).context(format!("fetching blob {digest}"))
        };
        let request = self
            .authorization()
            .await?
            .apply(self.session.http.get(&url));
        let mut response = request.send().await.map_err(|e| fail(e.into()))?;
        let status = response.status();
        if !status.is_success() {
            let body = capped::read_capped(&mut response, 64 << 10)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
            return Err(fail(refusal(status, &body, url)));
        }
        let stream = response
            .bytes_stream()
            .map_err(|e| {
                let kind = if e.is_timeout() {
                    std::io::ErrorKind::TimedOut
                } else {
                    std::io::ErrorKind::Other
                };
                std::io::Error::new(kind, e)
            })
            .boxed();
        Ok(BlobStream { stream })
    }
}

/// The error a registry's refusal (`status`, error envelope in `body`) of `url` stands for.
pub fn refusal(status: reqwest::StatusCode, body: &str, url: String) -> OciDistributionError {
    match serde_json::from_str::<OciEnvelope>(body) {
        Ok(envelope) if !envelope.errors.is_empty() => {
            OciDistributionError::RegistryError { envelope, url }
        }
        _ if status.as_u16() == 401 => OciDistributionError::UnauthorizedError { url },
        _ => OciDistributionError::ServerError {
            code: status.as_u16(),
            url,
            message: body.chars().take(200).collect(),
        },
    }
}

/// Turn a client error into one a user can act on: what was asked of which registry, what the
/// registry said, and what to try.
pub fn explain(err: OciDistributionError, name: &ImageName, insecure: bool) -> anyhow::Error {
    let registry = name.registry.as_deref().unwrap_or("the registry");
    let msg = match &err {
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::ManifestUnknown | OciErrorCode::NotFound))
            {
                format!(
                    "manifest unknown: {name} was not found on {registry} (no such tag or digest)"
                )
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::NameUnknown)) {
                format!(
                    "manifest unknown: repository {} does not exist on {registry}",
                    name.repository
                )
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                not_authorized(name, registry)
            } else {
                let messages: Vec<String> = envelope
                    .errors
                    .iter()
                    .map(|e| format!("{:?}: {}", e.code, e.message))
                    .collect();
                format!(
                    "{registry} refused the request for {name}: {}",
                    messages.join("; ")
                )
            }
        }
        OciDistributionError::ServerError { code: 404, .. } => {
            format!("manifest unknown: {name} was not found on {registry}")
        }
        OciDistributionError::UnauthorizedError { .. } => not_authorized(name, registry),
        OciDistributionError::AuthenticationFailure(reason) => {
            format!("{}: {reason}", not_authorized(name, registry))
        }
        OciDistributionError::RequestError(e) if timeout::is_timeout(e) => {
            timeout::stalled(registry, &format!("answering a request for {name}"))
        }
        // Registry API requests all go to /v2/…; anything else is the token server the
        // registry named as its realm: the registry did answer.
        OciDistributionError::RequestError(e)
            if e.url().is_some_and(|u| !u.path().starts_with("/v2")) =>
        {
            let server = e.url().map(token_server).unwrap_or_default();
            format!(
                "{registry} answered, but the token server it names ({server}) cannot be \
                 reached to pull {name}"
            )
        }
        OciDistributionError::RequestError(e) if e.is_body() || e.is_decode() => {
            format!("{registry} answered, but its response to the request for {name} broke off")
        }
        OciDistributionError::RequestError(e) if !insecure && tls::is_certificate_error(e) => {
            format!(
                "the TLS certificate of {registry} is not trusted (for {name}): put the certificate of the CA that signed it (or the registry's own \
                 self-signed one) in /etc/containers/certs.d/{registry}/ca.crt, or pass \
                 --tls-verify=false to skip verification"
            )
        }
        OciDistributionError::RequestError(_) if !insecure => format!(
            "cannot reach {registry} over https for {name}; if the registry speaks plain \
             http or has a self-signed certificate, pass --tls-verify=false or mark it \
             `insecure = true` in registries.conf"
        ),
        OciDistributionError::RequestError(_) => {
            format!("cannot reach {registry} (tried https and http) for {name}")
        }
        _ => format!("pulling {name} from {registry}"),
    };
    anyhow::Error::new(err).context(msg)
}

/// `scheme://host[:port]` of a token realm, for messages.
fn token_server(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => url.to_string(),
    }
}

fn not_authorized(name: &ImageName, registry: &str) -> String {
    format!(
        "not authorized for {name} on {registry}: log in with `podman login {registry}` or \
         pass credentials (--src-creds for pull, --dest-creds for push: USER:PASSWORD)"
    )
}

//! A connection to one image on one registry: TLS and plain-HTTP choice, credentials, and the
//! requests a pull makes (manifest, small blobs, layer streams), with registry errors turned
//! into messages that name the image and say what to do.

use anyhow::{Context, Result, anyhow, bail};
use oci_client::client::{ClientConfig, ClientProtocol, SizedStream};
use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::auth;
use super::capped::{self, Answer, ManifestClient};
use super::config::RegistriesConf;
use super::manifest::{self, Parsed};
use super::timeout;
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
    client: Client,
    reference: Reference,
    /// Manifests are fetched apart, with a size cap (`capped.rs`).
    manifests: ManifestClient,
    /// Whether TLS verification is off for this registry (for error hints).
    insecure: bool,
}

/// An image manifest as fetched: its exact bytes (stored as they are, since they are what the
/// digest covers) and the parsed form.
pub struct Fetched {
    pub digest: Digest,
    pub bytes: Vec<u8>,
    pub manifest: oci_spec::image::ImageManifest,
}

impl Remote {
    /// Connect to the registry of `name` (qualified): pick https or http, find credentials and
    /// ask the registry for a token if it wants one.
    pub async fn connect(
        name: ImageName,
        conf: &RegistriesConf,
        opts: &PullOptions,
    ) -> Result<Remote> {
        let registry = name
            .registry
            .clone()
            .ok_or_else(|| anyhow!("'{name}' has no registry"))?;
        if conf.blocked(&name.repo_path()) {
            bail!(
                "pulling {name} is blocked: {} lists {registry} as blocked",
                conf.describe_sources()
            );
        }
        let insecure = match opts.tls_verify {
            Some(verify) => !verify,
            None => conf.insecure(&name.repo_path()),
        };
        let creds = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => auth::lookup(&registry, &name.repository)?,
        };
        let auth = match creds.clone() {
            Some((user, pass)) => RegistryAuth::Basic(user, pass),
            None => RegistryAuth::Anonymous,
        };
        let reference = match (&name.digest, &name.tag) {
            (Some(d), _) => {
                Reference::with_digest(registry.clone(), name.repository.clone(), d.to_string())
            }
            (None, tag) => Reference::with_tag(
                registry.clone(),
                name.repository.clone(),
                tag.clone()
                    .unwrap_or_else(|| crate::reference::DEFAULT_TAG.to_string()),
            ),
        };

        // An insecure registry is tried over https without verification first, then over plain
        // http, as podman and skopeo do; a secure one only over verified https.
        let protocols = if insecure {
            vec![
                ClientProtocol::Https,
                ClientProtocol::HttpsExcept(vec![reference.resolve_registry().to_string()]),
            ]
        } else {
            vec![ClientProtocol::Https]
        };
        let mut last_err = None;
        for protocol in protocols {
            let plain = protocol != ClientProtocol::Https;
            let client = Client::new(ClientConfig {
                protocol,
                accept_invalid_certificates: insecure,
                // The platform is chosen here (manifest.rs), from the raw index.
                platform_resolver: None,
                connect_timeout: Some(timeout::CONNECT_TIMEOUT),
                read_timeout: Some(timeout::read_timeout()),
                ..ClientConfig::default()
            });
            // The /v2/ handshake: reaches the registry, and fetches a bearer token when the
            // registry asks for one (anonymous or with the credentials).
            match client
                .auth(&reference, &auth, RegistryOperation::Pull)
                .await
            {
                Ok(token) => {
                    let scheme = if plain { "http" } else { "https" };
                    let manifests = ManifestClient::new(scheme, insecure, token, creds)?;
                    return Ok(Remote {
                        name,
                        client,
                        reference,
                        manifests,
                        insecure,
                    });
                }
                // Only a failure to talk at all (TLS, connection) is worth another protocol;
                // a registry that answered and refused has said what it had to say.
                Err(e @ OciDistributionError::RequestError(_)) => {
                    tracing::debug!(
                        "{registry} over {}: {e:#}",
                        if plain { "http" } else { "https" }
                    );
                    last_err = Some(e);
                }
                Err(e) => return Err(explain(e, &name, insecure)),
            }
        }
        let err = last_err.expect("at least one protocol was tried");
        Err(explain(err, &name, insecure))
    }

    /// Fetch the image manifest, resolving an index to the host's platform. When the name pins
    /// a digest, the bytes must hash to it.
    pub async fn manifest(&self) -> Result<Fetched> {
        let (bytes, digest) = self.manifest_raw(&self.reference).await?;
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
                let platform_ref = self.reference.clone_with_digest(want.to_string());
                let (bytes, digest) = self.manifest_raw(&platform_ref).await?;
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

    async fn manifest_raw(&self, reference: &Reference) -> Result<(Vec<u8>, Digest)> {
        let registry = reference.resolve_registry();
        let wanted = reference
            .digest()
            .or(reference.tag())
            .unwrap_or(crate::reference::DEFAULT_TAG);
        let answer = self
            .manifests
            .get(registry, reference.repository(), wanted, manifest::ACCEPT)
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
                let url = format!(
                    "{registry}/v2/{}/manifests/{wanted}",
                    reference.repository()
                );
                let err = match serde_json::from_str::<OciEnvelope>(&body) {
                    Ok(envelope) if !envelope.errors.is_empty() => {
                        OciDistributionError::RegistryError { envelope, url }
                    }
                    _ if status.as_u16() == 401 => OciDistributionError::UnauthorizedError { url },
                    _ => OciDistributionError::ServerError {
                        code: status.as_u16(),
                        url,
                        message: body.chars().take(200).collect(),
                    },
                };
                return Err(explain(err, &self.name, self.insecure));
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
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream.stream).await {
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

    /// Start streaming a blob. The stream checks the digest itself at its end, and so does the
    /// store's blob writer: a blob is verified before anything uses it either way.
    pub async fn blob_stream(&self, digest: &Digest) -> Result<SizedStream> {
        let digest_str = digest.to_string();
        self.client
            .pull_blob_stream(&self.reference, digest_str.as_str())
            .await
            .map_err(|e| explain(e, &self.name, self.insecure))
            .with_context(|| format!("fetching blob {digest}"))
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
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => not_authorized(name, registry),
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
        OciDistributionError::RequestError(_) if !insecure => format!(
            "cannot reach {registry} over https to pull {name}; if the registry speaks plain \
             http or has a self-signed certificate, pass --tls-verify=false or mark it \
             `insecure = true` in registries.conf"
        ),
        OciDistributionError::RequestError(_) => {
            format!("cannot reach {registry} (tried https and http) to pull {name}")
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
        "not authorized to pull {name} from {registry}: log in with `podman login {registry}` \
         or pass --src-creds USER:PASSWORD"
    )
}

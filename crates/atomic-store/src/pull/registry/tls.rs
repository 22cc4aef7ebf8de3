//! TLS to registries as podman, skopeo and Docker set it up (containers-certs.d(5)).
//!
//! Trust for `HOST[:PORT]`: the system's CA store (when there is one) plus every certificate in
//! the `*.crt` files of the registry's certs.d directory; a `*.cert` + `*.key` pair there is the
//! client certificate sent when the registry asks for one. The directory is `--cert-dir` when
//! given, else the first that exists of `~/.config/containers/certs.d/HOST[:PORT]` (not for
//! root), `/etc/containers/certs.d/HOST[:PORT]` and `/etc/docker/certs.d/HOST[:PORT]`.
//!
//! Two things differ from what a stock rustls client does, both to accept what Go accepts:
//! - The usual self-signed registry certificate (`openssl req -x509`) is a CA certificate used
//!   as the server's own. webpki refuses that (`CaUsedAsEndEntity`); Go accepts it when it is
//!   in the trust pool. So a server certificate byte-equal to one of the registry's certs.d
//!   certificates is accepted after its names are checked against the host; any other goes
//!   through webpki. The handshake's signatures are checked either way, so a server must hold
//!   the certificate's key.
//! - A machine without a CA store (a minimal root without ca-certificates) is not an error
//!   until a certificate has to be checked against it: plain-HTTP and certs.d registries work,
//!   and https to anything else fails saying why. (reqwest's own platform verifier fails to
//!   build there, and oci-client then panicked.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

const CONTAINERS_CERTS_D: &str = "/etc/containers/certs.d";
const DOCKER_CERTS_D: &str = "/etc/docker/certs.d";

/// What a registry's certs.d directory holds.
#[derive(Debug, Default)]
pub struct CertsDir {
    /// The directory read, if any (for messages).
    pub dir: Option<PathBuf>,
    /// CA certificates from `*.crt`, also accepted as the server's certificate itself.
    pub cas: Vec<CertificateDer<'static>>,
    /// The client certificate chain and key from the first `*.cert`/`*.key` pair, by name.
    pub client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl CertsDir {
    /// Read the certs.d directory for `host` (`HOST[:PORT]`): `cert_dir` itself when given,
    /// else the first per-host directory that exists.
    pub fn for_registry(host: &str, cert_dir: Option<&Path>) -> Result<CertsDir> {
        let dir = match cert_dir {
            Some(dir) => Some(dir.to_path_buf()),
            None => per_host_dirs(host).into_iter().find(|d| d.is_dir()),
        };
        match dir {
            Some(dir) => CertsDir::read(&dir)
                .with_context(|| format!("reading certificates from {}", dir.display())),
            None => Ok(CertsDir::default()),
        }
    }

    /// Read one directory: `*.crt` are CAs, `NAME.cert` pairs with `NAME.key`. A pair missing
    /// one half is an error, as in containers-image: a half-installed client certificate
    /// would otherwise show up as a puzzling refusal by the registry.
    pub fn read(dir: &Path) -> Result<CertsDir> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        names.sort();
        let mut out = CertsDir {
            dir: Some(dir.to_path_buf()),
            ..CertsDir::default()
        };
        for path in &names {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            match ext {
                "crt" => out.cas.extend(read_certs(path)?),
                "cert" => {
                    let key = path.with_extension("key");
                    if !key.exists() {
                        bail!(
                            "missing key {} for client certificate {}",
                            key.display(),
                            path.display()
                        );
                    }
                    if out.client.is_none() {
                        let chain = read_certs(path)?;
                        let key = PrivateKeyDer::from_pem_file(&key).with_context(|| {
                            format!("reading the private key {}", key.display())
                        })?;
                        out.client = Some((chain, key));
                    }
                }
                "key" => {
                    let cert = path.with_extension("cert");
                    if !cert.exists() {
                        bail!(
                            "missing client certificate {} for key {}",
                            cert.display(),
                            path.display()
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The per-host certs.d directories, in the order containers-image tries them.
fn per_host_dirs(host: &str) -> Vec<PathBuf> {
    // A registry name never holds a path separator, but the name comes from the user.
    if host.is_empty() || host.contains('/') || host == "." || host == ".." {
        return Vec::new();
    }
    let mut dirs = Vec::new();
    if !rustix::process::geteuid().is_root()
        && let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
    {
        dirs.push(
            Path::new(&home)
                .join(".config/containers/certs.d")
                .join(host),
        );
    }
    dirs.push(Path::new(CONTAINERS_CERTS_D).join(host));
    dirs.push(Path::new(DOCKER_CERTS_D).join(host));
    dirs
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the certificates in {}", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

/// The system's CA certificates, read once per process; empty where there is no CA store.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!("loading the system CA certificates: {e}");
        }
        found.certs
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The TLS client configuration for `host`: verified against the system store and `certs`,
/// or, when `insecure`, accepting any certificate (the handshake's signatures are still
/// checked, and the client certificate is still offered).
pub fn client_config(host: &str, certs: CertsDir, insecure: bool) -> Result<rustls::ClientConfig> {
    let provider = provider();
    let algorithms = provider.signature_verification_algorithms;
    let webpki = if insecure {
        None
    } else {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(system_roots().iter().cloned());
        roots.add_parsable_certificates(certs.cas.iter().cloned());
        // No roots at all: webpki's builder refuses to build; the verifier says why instead.
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .ok()
    };
    let verifier = Arc::new(RegistryVerifier {
        host: host.to_string(),
        insecure,
        pinned: certs.cas,
        webpki,
        algorithms,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    Ok(match certs.client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .context("the client certificate and key do not go together")?,
        None => builder.with_no_client_auth(),
    })
}

/// The HTTP client for one registry: its TLS set up from certs.d (`cert_dir` overriding),
/// verified unless `insecure`, with atomic's timeouts. Never panics, whatever the machine's
/// CA store holds.
pub fn http_client(host: &str, cert_dir: Option<&Path>, insecure: bool) -> Result<reqwest::Client> {
    let certs = CertsDir::for_registry(host, cert_dir)?;
    let tls = client_config(host, certs, insecure)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(super::timeout::CONNECT_TIMEOUT)
        .read_timeout(super::timeout::read_timeout())
        .user_agent(concat!("atomic/", env!("CARGO_PKG_VERSION")))
        .build()
        .with_context(|| format!("setting up the HTTP client for {host}"))
}

/// Verifies a registry's certificate as Go's TLS does for a certs.d configuration, or, for
/// `--tls-verify=false` and `insecure = true`, accepts any certificate (a real handshake all
/// the same: its signatures are checked).
#[derive(Debug)]
struct RegistryVerifier {
    host: String,
    insecure: bool,
    /// The registry's certs.d certificates: a server certificate equal to one is trusted as is.
    pinned: Vec<CertificateDer<'static>>,
    /// System roots plus certs.d CAs; `None` when there are none at all.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for RegistryVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        if self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            // Trusted by the administrator byte for byte; its names must still cover the host,
            // as Go checks them.
            let parsed = ParsedCertificate::try_from(end_entity)?;
            verify_server_name(&parsed, server_name)?;
            return Ok(ServerCertVerified::assertion());
        }
        match &self.webpki {
            Some(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Err(rustls::Error::General(format!(
                "no CA certificates to verify {} with: this system has no CA store (install \
                 ca-certificates) and there is no certs.d directory for {}",
                self.host, self.host
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Is a TLS certificate refusal anywhere in this error's chain? (For the hint to use certs.d.)
/// hyper-util keeps the rustls error as a boxed source that is not always reachable by
/// downcasting, so its message (rustls's own wording) is looked at as well.
pub fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return matches!(
                r,
                rustls::Error::InvalidCertificate(_) | rustls::Error::General(_)
            );
        }
        let text = e.to_string();
        if text.contains("invalid peer certificate")
            || text.contains("no CA certificates to verify")
        {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_host_dirs_refuse_path_like_names() {
        assert!(per_host_dirs("../etc").is_empty());
        assert!(per_host_dirs("..").is_empty());
        let dirs = per_host_dirs("reg.io:5000");
        assert!(dirs.contains(&PathBuf::from("/etc/containers/certs.d/reg.io:5000")));
        assert_eq!(
            dirs.last().unwrap(),
            &PathBuf::from("/etc/docker/certs.d/reg.io:5000")
        );
    }

    #[test]
    fn half_pairs_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.key"), "x").unwrap();
        let err = format!("{:#}", CertsDir::read(dir.path()).unwrap_err());
        assert!(err.contains("missing client certificate"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.cert"), "x").unwrap();
        let err = format!("{:#}", CertsDir::read(dir.path()).unwrap_err());
        assert!(err.contains("missing key"), "{err}");
    }

    #[test]
    fn a_crt_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "not pem").unwrap();
        assert!(CertsDir::read(dir.path()).is_err());
    }

    #[test]
    fn insecure_accepts_any_certificate_and_verified_does_not() {
        let garbage = CertificateDer::from(vec![1u8, 2, 3]);
        let name = ServerName::try_from("reg.io").unwrap();
        let verifier = |insecure| RegistryVerifier {
            host: "reg.io".into(),
            insecure,
            pinned: Vec::new(),
            webpki: None,
            algorithms: provider().signature_verification_algorithms,
        };
        let check = |v: RegistryVerifier| {
            v.verify_server_cert(&garbage, &[], &name, &[], UnixTime::now())
                .map(drop)
        };
        assert!(check(verifier(true)).is_ok());
        let err = check(verifier(false)).unwrap_err().to_string();
        assert!(err.contains("no CA certificates to verify reg.io"), "{err}");
    }

    #[test]
    fn builds_without_any_roots() {
        // Whatever the machine's CA store holds, building never fails or panics.
        let config = client_config("reg.io", CertsDir::default(), false).unwrap();
        assert!(!config.client_auth_cert_resolver.has_certs());
    }
}

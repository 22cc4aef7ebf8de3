//! TLS to registries as podman and skopeo set it up: registries of the test's own on loopback
//! ports, serving https with a self-signed certificate (`openssl req -x509`, a CA certificate
//! used as the server's), with a CA-issued one, and requiring a client certificate. Images are
//! pushed there with skopeo; atomic pulls them with the certificates in a `--cert-dir`
//! directory laid out as /etc/containers/certs.d/HOST:PORT is.

use std::path::{Path, PathBuf};

use anyhow::Result;
use atomic_store::{PullOptions, Pulled, Source, Store};
use atomic_testsupport::{ImageSpec, PrivateRegistry, PrivateRegistryConfig, TestCerts};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn pull(store: &Store, name: &str, opts: &PullOptions) -> Result<Pulled> {
    runtime().block_on(atomic_store::pull::pull(
        store,
        &Source::Registry(name.to_string()),
        opts,
    ))
}

/// Push a small image to `reg` as `repo:latest` with skopeo, using `cert_dir` for client
/// certificates (verification off: this is the test's setup, not what is tested).
fn push(reg: &PrivateRegistry, repo: &str, cert_dir: Option<&Path>) -> String {
    let cert_dir = cert_dir.map(|dir| format!("--dest-cert-dir={}", dir.display()));
    let extra: Vec<&str> = cert_dir.iter().map(String::as_str).collect();
    reg.push(&ImageSpec::new(repo).label("test", repo), repo, &extra)
        .unwrap();
    format!("{}/{repo}:latest", reg.addr())
}

fn opts(cert_dir: Option<PathBuf>) -> PullOptions {
    PullOptions {
        quiet: true,
        registries_conf: Some(PathBuf::from("/nonexistent/registries.conf")),
        cert_dir,
        ..PullOptions::default()
    }
}

/// A directory with `files` (name → source) copied in, as certs.d/HOST:PORT would hold them.
fn cert_dir(parent: &Path, name: &str, files: &[(&str, &Path)]) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, src) in files {
        std::fs::copy(src, dir.join(name)).unwrap();
    }
    dir
}

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    format!("{:#}", r.unwrap_err())
}

#[test]
fn self_signed_certificate_in_cert_dir_is_accepted_as_go_does() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(tmp.path());
    let (crt, key) = certs.self_signed("server").unwrap();
    let reg = PrivateRegistry::start(&PrivateRegistryConfig {
        tls: Some((crt.clone(), key)),
        ..Default::default()
    })
    .unwrap();
    let name = push(&reg, "i15b-selfsigned", None);

    // Without the certificate: refused, saying where to put it.
    let store = Store::open(&tmp.path().join("store")).unwrap();
    let empty = cert_dir(tmp.path(), "empty", &[]);
    let err = err_text(pull(&store, &name, &opts(Some(empty))));
    assert!(
        err.contains("not trusted") && err.contains("certs.d"),
        "{err}"
    );
    assert!(store.images().unwrap().is_empty());

    // With it as ca.crt (podman's and Docker's layout): pulled.
    let dir = cert_dir(tmp.path(), "trusted", &[("ca.crt", &crt)]);
    let pulled = pull(&store, &name, &opts(Some(dir))).unwrap();
    assert!(pulled.changed);
    assert_eq!(pulled.name, name);

    // The same certificate is still checked against the host name: another certificate for
    // another name is refused even when trusted.
    let other = TestCerts::new(&tmp.path().join("other"));
    std::fs::create_dir_all(&other.dir).unwrap();
    let (other_crt, _) = other.self_signed("other").unwrap();
    let dir = cert_dir(tmp.path(), "other-trusted", &[("ca.crt", &other_crt)]);
    let store2 = Store::open(&tmp.path().join("store2")).unwrap();
    assert!(pull(&store2, &name, &opts(Some(dir))).is_err());
}

#[test]
fn ca_issued_certificate_is_verified_against_the_cert_dir_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(tmp.path());
    let (ca, _) = certs.ca("ca").unwrap();
    let (cert, key) = certs.issued("ca", "server", true).unwrap();
    let reg = PrivateRegistry::start(&PrivateRegistryConfig {
        tls: Some((cert, key)),
        ..Default::default()
    })
    .unwrap();
    let name = push(&reg, "i15b-caissued", None);
    let store = Store::open(&tmp.path().join("store")).unwrap();

    let err = err_text(pull(
        &store,
        &name,
        &opts(Some(cert_dir(tmp.path(), "none", &[]))),
    ));
    assert!(err.contains("not trusted"), "{err}");

    let dir = cert_dir(tmp.path(), "trusted", &[("ca.crt", &ca)]);
    assert!(pull(&store, &name, &opts(Some(dir))).unwrap().changed);

    // --tls-verify=false reaches it without any certificate.
    let store2 = Store::open(&tmp.path().join("store2")).unwrap();
    let insecure = PullOptions {
        tls_verify: Some(false),
        ..opts(None)
    };
    assert!(pull(&store2, &name, &insecure).unwrap().changed);
}

#[test]
fn client_certificate_from_cert_dir_is_presented() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(tmp.path());
    let (ca, _) = certs.ca("ca").unwrap();
    let (server, server_key) = certs.issued("ca", "server", true).unwrap();
    let (client, client_key) = certs.issued("ca", "client", false).unwrap();
    let reg = PrivateRegistry::start(&PrivateRegistryConfig {
        tls: Some((server, server_key)),
        client_cas: vec![ca.clone()],
        ..Default::default()
    })
    .unwrap();
    let full = cert_dir(
        tmp.path(),
        "full",
        &[
            ("ca.crt", &ca),
            ("client.cert", &client),
            ("client.key", &client_key),
        ],
    );
    let name = push(&reg, "i15b-clientcert", Some(&full));
    let store = Store::open(&tmp.path().join("store")).unwrap();

    // The server is trusted but no client certificate is offered: the registry hangs up.
    let ca_only = cert_dir(tmp.path(), "ca-only", &[("ca.crt", &ca)]);
    assert!(pull(&store, &name, &opts(Some(ca_only))).is_err());
    assert!(store.images().unwrap().is_empty());

    assert!(pull(&store, &name, &opts(Some(full))).unwrap().changed);
}

//! Credentials: a registry behind htpasswd (docker-registry) reached with an auth file, and the
//! token protocol's realm: credentials never go to a token service on another host. For the
//! realm, a registry and a token service are played by small HTTP servers here, so the test
//! sees exactly which request carried an Authorization header.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use atomic_store::{PullOptions, Pulled, Source, Store};
use atomic_testsupport::{
    ImageSpec, PrivateRegistry, PrivateRegistryConfig, htpasswd, write_oci_layout,
};
use base64::Engine as _;

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

fn opts() -> PullOptions {
    PullOptions {
        quiet: true,
        tls_verify: Some(false),
        registries_conf: Some(PathBuf::from("/nonexistent/registries.conf")),
        // No file of the machine's may lend credentials to these tests.
        authfile: Some(PathBuf::from("/nonexistent/auth.json")),
        ..PullOptions::default()
    }
}

#[test]
fn htpasswd_registry_needs_the_credentials_of_the_auth_file() {
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("htpasswd");
    htpasswd(&pw, "i15b", "s3cret").unwrap();
    let reg = PrivateRegistry::start(&PrivateRegistryConfig {
        htpasswd: Some(pw),
        ..Default::default()
    })
    .unwrap();
    reg.push(
        &ImageSpec::new("i15b-auth"),
        "i15b-auth",
        &["--dest-creds", "i15b:s3cret"],
    )
    .unwrap();
    let name = format!("{}/i15b-auth:latest", reg.addr());

    let store = Store::open(&tmp.path().join("store")).unwrap();
    let err = format!("{:#}", pull(&store, &name, &opts()).unwrap_err());
    assert!(err.contains("not authorized"), "{err}");

    let authfile = tmp.path().join("auth.json");
    let wrong = base64::engine::general_purpose::STANDARD.encode("i15b:wrong");
    std::fs::write(
        &authfile,
        format!(r#"{{"auths":{{"{}":{{"auth":"{wrong}"}}}}}}"#, reg.addr()),
    )
    .unwrap();
    let with_file = PullOptions {
        authfile: Some(authfile.clone()),
        ..opts()
    };
    let err = format!("{:#}", pull(&store, &name, &with_file).unwrap_err());
    assert!(err.contains("not authorized"), "{err}");

    let right = base64::engine::general_purpose::STANDARD.encode("i15b:s3cret");
    std::fs::write(
        &authfile,
        format!(r#"{{"auths":{{"{}":{{"auth":"{right}"}}}}}}"#, reg.addr()),
    )
    .unwrap();
    assert!(pull(&store, &name, &with_file).unwrap().changed);
}

/// A one-response-per-path HTTP server on `addr`; records each request's head.
struct FakeServer {
    addr: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl FakeServer {
    /// `respond(own address, request path, request head)` makes each response (bytes).
    fn start(
        ip: &str,
        respond: impl Fn(&str, &str, &str) -> Vec<u8> + Send + 'static,
    ) -> FakeServer {
        let listener = TcpListener::bind(format!("{ip}:0")).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let own = addr.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(head.clone());
                let response = respond(&own, &path, &head);
                let _ = conn.write_all(&response);
            }
        });
        FakeServer { addr, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn http(status: &str, headers: &str, body: &str) -> Vec<u8> {
    http_bytes(status, headers, body.as_bytes())
}

fn http_bytes(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A registry whose challenge sends clients to `realm`, and a token service at `realm_ip`
/// that refuses every request.
fn registry_with_realm(realm_ip: &str) -> (FakeServer, FakeServer) {
    let tokens = FakeServer::start(realm_ip, |_, _, _| {
        http(
            "401 Unauthorized",
            "Content-Type: application/json\r\n",
            r#"{"details":"no"}"#,
        )
    });
    let realm = format!("http://{}/token", tokens.addr);
    let registry = FakeServer::start("127.0.0.1", move |own, _, _| {
        http(
            "401 Unauthorized",
            &format!(
                "WWW-Authenticate: Bearer realm=\"{realm}\",service=\"{own}\"\r\nContent-Type: application/json\r\n"
            ),
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}"#,
        )
    });
    (registry, tokens)
}

#[test]
fn credentials_never_go_to_a_realm_on_another_host() {
    let with_creds = PullOptions {
        credentials: Some(("i15b".into(), "s3cret".into())),
        ..opts()
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("store")).unwrap();

    // A realm on another loopback address: asked anonymously, and the refusal says why.
    let (registry, tokens) = registry_with_realm("127.0.0.2");
    let name = format!("{}/i15b-realm:latest", registry.addr);
    let err = format!("{:#}", pull(&store, &name, &with_creds).unwrap_err());
    assert!(err.contains("another host"), "{err}");
    let asked = tokens.requests();
    assert!(!asked.is_empty(), "the token service was not asked at all");
    for request in &asked {
        assert!(
            !request.to_ascii_lowercase().contains("authorization:"),
            "credentials were sent to the foreign realm:\n{request}"
        );
    }

    // The same on the registry's own host: the credentials are sent (so the check above can
    // fail).
    let (registry, tokens) = registry_with_realm("127.0.0.1");
    let name = format!("{}/i15b-realm:latest", registry.addr);
    assert!(pull(&store, &name, &with_creds).is_err());
    let asked = tokens.requests();
    assert!(
        asked
            .iter()
            .any(|r| r.to_ascii_lowercase().contains("authorization: basic")),
        "{asked:?}"
    );
}

/// Tokens live one second here; the registry answers each request after 0.8 s, so a pull
/// outlives its first token and must renew it before the last request (Docker Hub's tokens
/// live five minutes: a pull of large layers outlives them the same way).
#[test]
fn expiring_bearer_tokens_are_renewed_during_a_pull() {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};
    let layout = tempfile::tempdir().unwrap();
    write_oci_layout(&ImageSpec::new("i15b-token"), layout.path()).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.path().join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blobs = layout.path().join("blobs/sha256");

    let issued: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let minted = issued.clone();
    let tokens = FakeServer::start("127.0.0.1", move |_, _, _| {
        let mut minted = minted.lock().unwrap();
        let token = format!("t{}", minted.len() + 1);
        minted.insert(token.clone(), Instant::now());
        http(
            "200 OK",
            "Content-Type: application/json\r\n",
            &format!(r#"{{"token":"{token}","expires_in":1}}"#),
        )
    });
    let realm = format!("http://{}/token", tokens.addr);
    let valid = issued.clone();
    let registry = FakeServer::start("127.0.0.1", move |own, path, head| {
        let fresh = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("authorization: bearer ")
                && valid
                    .lock()
                    .unwrap()
                    .get(l[22..].trim())
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        });
        if !fresh {
            return http(
                "401 Unauthorized",
                &format!("WWW-Authenticate: Bearer realm=\"{realm}\",service=\"{own}\"\r\n"),
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"token"}]}"#,
            );
        }
        std::thread::sleep(Duration::from_millis(800));
        let digest = path.rsplit('/').next().unwrap_or("");
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let hex = if path.ends_with("/manifests/latest") {
            manifest_digest.trim_start_matches("sha256:")
        } else {
            hex
        };
        match std::fs::read(blobs.join(hex)) {
            Ok(bytes) if path.contains("/manifests/") => http_bytes(
                "200 OK",
                "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n",
                &bytes,
            ),
            Ok(bytes) => http_bytes(
                "200 OK",
                "Content-Type: application/octet-stream\r\n",
                &bytes,
            ),
            Err(_) => http("404 Not Found", "", ""),
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("store")).unwrap();
    let name = format!("{}/i15b-token:latest", registry.addr);
    let pulled = pull(&store, &name, &opts()).unwrap();
    assert!(pulled.changed);
    assert!(
        issued.lock().unwrap().len() >= 2,
        "the token was never renewed: {:?}",
        tokens.requests()
    );
}

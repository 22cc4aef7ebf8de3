//! Sigstore attachments (cosign's format): Debian's skopeo and podman are built without
//! sigstore, so attachments are made here with openssl and pushed with curl over the registry
//! API, and what `atomic sign --sign-by-sigstore-private-key` pushes is checked with
//! `openssl dgst -verify`.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::common;
use super::fixture::{Fixture, run};

const REGISTRY: &str = "http://127.0.0.1:5000";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

pub(super) fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    run(Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key));
    run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public));
    (key, public)
}

/// Upload a blob with the registry API (POST, then PUT with the digest).
fn push_blob(repo: &str, bytes: &[u8], scratch: &Path) -> String {
    let digest = sha256(bytes);
    let file = scratch.join(digest.replace(':', "-"));
    std::fs::write(&file, bytes).unwrap();
    let out = run(Command::new("curl")
        .args(["-sS", "-f", "-X", "POST", "-D", "-", "-o", "/dev/null"])
        .arg(format!("{REGISTRY}/v2/{repo}/blobs/uploads/")));
    let headers = String::from_utf8_lossy(&out.stdout).into_owned();
    let location = headers
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.trim().to_string())
        })
        .expect("a Location header");
    let location = if location.starts_with('/') {
        format!("{REGISTRY}{location}")
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    run(Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(format!("{location}{sep}digest={digest}")));
    digest
}

/// Push a cosign signature manifest for `payload` signed as `signature` (base64) to
/// `repo:tag`.
fn push_attachment(repo: &str, tag: &str, payload: &[u8], signature: &str, scratch: &Path) {
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = push_blob(repo, config, scratch);
    let payload_digest = push_blob(repo, payload, scratch);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": config_digest},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "size": payload.len(),
            "digest": payload_digest,
            "annotations": {"dev.cosignproject.cosign/signature": signature}
        }]
    });
    let file = scratch.join(format!("manifest-{tag}"));
    std::fs::write(&file, manifest.to_string()).unwrap();
    run(Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(format!("{REGISTRY}/v2/{repo}/manifests/{tag}")));
}

fn cosign_payload(reference: &str, digest: &str) -> Vec<u8> {
    json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": null
    })
    .to_string()
    .into_bytes()
}

/// `openssl dgst -sha256 -sign KEY` of `payload`, base64 as in the annotation.
fn openssl_sign(key: &Path, payload: &[u8], scratch: &Path) -> String {
    let file = scratch.join("payload-to-sign");
    std::fs::write(&file, payload).unwrap();
    let out = run(Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(&file));
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}

fn push_image(f: &Fixture, what: &str) -> (String, String) {
    let reference = f.push_unsigned(what);
    let repo = reference
        .strip_prefix("127.0.0.1:5000/")
        .and_then(|r| r.strip_suffix(":v1"))
        .unwrap()
        .to_string();
    (reference, repo)
}

pub(super) struct Setup {
    pub(super) dir: PathBuf,
    regd: PathBuf,
}

impl Setup {
    pub(super) fn new(f: &Fixture, name: &str) -> Setup {
        let dir = f.dir.join(name);
        let regd = dir.join("registries.d");
        std::fs::create_dir_all(&regd).unwrap();
        std::fs::write(
            regd.join("sigstore.yaml"),
            "docker:\n  127.0.0.1:5000:\n    use-sigstore-attachments: true\n",
        )
        .unwrap();
        Setup { dir, regd }
    }

    /// `atomic pull` under a sigstoreSigned policy with `public`; (success, stderr).
    pub(super) fn pull(&self, reference: &str, public: &Path) -> (bool, String) {
        let policy = self
            .dir
            .join(format!("policy-{}.json", common::unique("p")));
        let body = json!({
            "default": [{"type": "reject"}],
            "transports": {"docker": {"127.0.0.1:5000": [
                {"type": "sigstoreSigned", "keyPath": public.display().to_string()}
            ]}}
        });
        std::fs::write(&policy, body.to_string()).unwrap();
        let out = common::World::new()
            .atomic()
            .arg("--signature-policy")
            .arg(&policy)
            .arg("--registries.d")
            .arg(&self.regd)
            .args([
                "pull",
                "--storage",
                "native",
                "--tls-verify=false",
                reference,
            ])
            .output()
            .unwrap();
        (out.status.success(), common::stderr(&out))
    }
}

#[test]
fn sigstore_attachments_made_with_openssl() {
    let f = Fixture::get();
    let s = Setup::new(f, "sigstore-openssl");
    let (key, public) = keypair(&s.dir, "cosign");
    let (_, other_public) = keypair(&s.dir, "other");
    let tag = format!("{}.sig", f.digest.replacen(':', "-", 1));

    let (good_ref, good_repo) = push_image(f, "cosigned");
    let payload = cosign_payload(&good_ref, &f.digest);
    let signature = openssl_sign(&key, &payload, &s.dir);
    push_attachment(&good_repo, &tag, &payload, &signature, &s.dir);
    let (ok, err) = s.pull(&good_ref, &public);
    assert!(ok, "{err}");
    let (ok, err) = s.pull(&good_ref, &other_public);
    assert!(!ok);
    assert!(err.contains("sigstoreSigned"), "{err}");

    // The payload changed after signing.
    let (bad_ref, bad_repo) = push_image(f, "cosigntampered");
    let mut tampered = cosign_payload(&bad_ref, &f.digest);
    let signature = openssl_sign(&key, &tampered, &s.dir);
    tampered.extend_from_slice(b" ");
    push_attachment(&bad_repo, &tag, &tampered, &signature, &s.dir);
    let (ok, err) = s.pull(&bad_ref, &public);
    assert!(!ok, "a tampered payload was accepted");
    assert!(err.contains("verification failed"), "{err}");

    // Signed for another repository: the identity does not match.
    let (moved_ref, moved_repo) = push_image(f, "cosignmoved");
    let payload = cosign_payload(&good_ref, &f.digest);
    let signature = openssl_sign(&key, &payload, &s.dir);
    push_attachment(&moved_repo, &tag, &payload, &signature, &s.dir);
    let (ok, err) = s.pull(&moved_ref, &public);
    assert!(!ok);
    assert!(err.contains("identity"), "{err}");

    // No attachment at all.
    let (bare_ref, _) = push_image(f, "cosignbare");
    let (ok, err) = s.pull(&bare_ref, &public);
    assert!(!ok);
    assert!(err.contains("no signature exists"), "{err}");
}

#[test]
fn atomic_sigstore_signatures_verify_with_openssl() {
    let f = Fixture::get();
    let s = Setup::new(f, "sigstore-atomic");
    let (key, public) = keypair(&s.dir, "cosign");
    let (reference, repo) = push_image(f, "atomiccosign");
    let out = common::World::new()
        .atomic()
        .args([
            "sign",
            "--tls-verify=false",
            "--sign-by-sigstore-private-key",
        ])
        .arg(&key)
        .arg(&reference)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));

    verify_attachment(&s.dir, &repo, &reference, &f.digest, &public);
    let (ok, err) = s.pull(&reference, &public);
    assert!(ok, "{err}");
}

/// Read the `sha256-HEX.sig` attachment of `digest` in `repo` back over the registry API and
/// check it with `openssl dgst -verify` against `public`, and its payload names `reference` and
/// `digest`.
pub(super) fn verify_attachment(
    dir: &Path,
    repo: &str,
    reference: &str,
    digest: &str,
    public: &Path,
) {
    let tag = format!("{}.sig", digest.replacen(':', "-", 1));
    let manifest = run(Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!("{REGISTRY}/v2/{repo}/manifests/{tag}")));
    let manifest: Value = serde_json::from_slice(&manifest.stdout).unwrap();
    let layer = &manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let signature = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap();
    let payload = run(Command::new("curl").args(["-sS", "-f", "-L"]).arg(format!(
        "{REGISTRY}/v2/{repo}/blobs/{}",
        layer["digest"].as_str().unwrap()
    )));
    let payload_file = dir.join("payload");
    std::fs::write(&payload_file, &payload.stdout).unwrap();
    let sig_file = dir.join("sig.der");
    std::fs::write(
        &sig_file,
        base64::engine::general_purpose::STANDARD
            .decode(signature)
            .unwrap(),
    )
    .unwrap();
    let verified = run(Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(&sig_file)
        .arg(&payload_file));
    assert!(String::from_utf8_lossy(&verified.stdout).contains("Verified OK"));
    let doc: Value = serde_json::from_slice(&payload.stdout).unwrap();
    assert_eq!(doc["critical"]["image"]["docker-manifest-digest"], digest);
    assert_eq!(doc["critical"]["identity"]["docker-reference"], reference);
}

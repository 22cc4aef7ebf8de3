//! `atomic push --sign-by` and `--sign-by-sigstore-private-key` from the native store, with the
//! real tools as the oracle: skopeo and podman accept the GPG-signed push under a signedBy
//! policy for the key and refuse it for another key; the sigstore attachment verifies with
//! openssl and atomic's sigstoreSigned pull; an unknown key pushes nothing.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::common;
use super::fixture::{Fixture, run};
use super::sigstore::{Setup, keypair, verify_attachment};

/// A world whose native store holds the fixture's image, pulled from the registry; returns
/// the world and the name the image was pulled as.
fn world_with_image(f: &Fixture, dir: &Path) -> (common::World, String) {
    std::fs::create_dir_all(dir).unwrap();
    let accept = dir.join("accept.json");
    std::fs::write(
        &accept,
        json!({"default": [{"type": "insecureAcceptAnything"}]}).to_string(),
    )
    .unwrap();
    let source = f.docker("unsigned", "v1");
    let world = common::World::new();
    let out = world
        .atomic()
        .arg("--signature-policy")
        .arg(&accept)
        .args(["pull", "--storage", "native", "--tls-verify=false", &source])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    (world, source)
}

/// `127.0.0.1:5000/signtest-WHAT-…` (a repository of its own for each run).
fn destination(what: &str) -> (String, String) {
    let repo = common::unique(&format!("signtest-{what}"));
    (format!("127.0.0.1:5000/{repo}:v1"), repo)
}

fn remote_digest(reference: &str) -> Option<String> {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn push_sign_by_is_accepted_by_skopeo_and_podman() {
    let f = Fixture::get();
    let work = f.dir.join(common::unique("push-gpg"));
    let (world, source) = world_with_image(f, &work);
    let (dest, repo) = destination("gpg");
    let out = world
        .atomic()
        .arg("--registries.d")
        .arg(&f.regd)
        .args([
            "push",
            "--storage",
            "native",
            "--tls-verify=false",
            "--sign-by",
            &f.fpr_a,
            "--gnupghome",
        ])
        .arg(&f.home_a)
        .args([&source, &dest])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    // The registry has the local manifest byte for byte, and the signature is in the
    // lookaside for that digest.
    assert_eq!(remote_digest(&dest).as_deref(), Some(f.digest.as_str()));
    let sig = f
        .lookaside
        .join(format!("{repo}@{}", f.digest.replacen(':', "=", 1)))
        .join("signature-1");
    assert!(
        sig.is_file(),
        "no {}: {}",
        sig.display(),
        common::stderr(&out)
    );

    f.accepted_by_skopeo_and_podman(&work, &dest);
}

#[test]
fn push_sign_by_sigstore_key_attaches_a_verifiable_signature() {
    let f = Fixture::get();
    let s = Setup::new(f, &common::unique("push-sigstore"));
    let (key, public) = keypair(&s.dir, "cosign");
    let (_, other_public) = keypair(&s.dir, "other");
    let (world, source) = world_with_image(f, &s.dir);
    let (dest, repo) = destination("cosign");
    let out = world
        .atomic()
        .args([
            "push",
            "--storage",
            "native",
            "--tls-verify=false",
            "--sign-by-sigstore-private-key",
        ])
        .arg(&key)
        .args([&source, &dest])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(remote_digest(&dest).as_deref(), Some(f.digest.as_str()));
    // The `sha256-HEX.sig` attachment is on the registry (fetched with curl -f) and verifies.
    verify_attachment(&s.dir, &repo, &dest, &f.digest, &public);
    let (ok, err) = s.pull(&dest, &public);
    assert!(ok, "{err}");
    let (ok, err) = s.pull(&dest, &other_public);
    assert!(!ok, "accepted with another key");
    assert!(err.contains("sigstoreSigned"), "{err}");
}

/// `atomic push --sign-by KEY --gnupghome HOME` of `source` to a new `signtest-WHAT-…`
/// repository; it must fail, say nothing was pushed, and leave no tag on the registry.
fn push_refused(world: &common::World, source: &str, what: &str, key: &str, home: &Path) {
    let (dest, _) = destination(what);
    let out = world
        .atomic()
        .args([
            "push",
            "--storage",
            "native",
            "--tls-verify=false",
            "--sign-by",
            key,
            "--gnupghome",
        ])
        .arg(home)
        .args([source, dest.as_str()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{what}: the push succeeded");
    let err = common::stderr(&out);
    assert!(err.contains("nothing was pushed"), "{what}: {err}");
    assert_eq!(
        remote_digest(&dest),
        None,
        "{what}: the image was pushed anyway"
    );
}

#[test]
fn push_with_an_unusable_key_pushes_nothing() {
    let f = Fixture::get();
    let work = f.dir.join(common::unique("push-unknown"));
    let (world, source) = world_with_image(f, &work);
    // A key the keyring does not have at all.
    push_refused(
        &world,
        &source,
        "unknown",
        "0123456789ABCDEF0123456789ABCDEF01234567",
        &f.home_a,
    );
    // A keyring with the key's public half only (as after importing a key one trusts).
    let public_only = work.join("gpg-public");
    std::fs::create_dir_all(&public_only).unwrap();
    std::fs::set_permissions(
        &public_only,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    run(Command::new("gpg")
        .env("GNUPGHOME", &public_only)
        .args(["--batch", "--import"])
        .arg(f.key("a.gpg")));
    push_refused(&world, &source, "publiconly", &f.fpr_a, &public_only);
}

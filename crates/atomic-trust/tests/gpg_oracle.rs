//! Signatures made by the real tools (gpg keys, `skopeo standalone-sign`) verified by atomic's
//! in-process OpenPGP code, and cosign-format signatures checked against `openssl dgst -verify`.

use std::path::Path;
use std::process::Command;

use atomic_trust::cosign::{self, SigstoreSignature};
use atomic_trust::simple::{self, SIMPLE_SIGNING_TYPE, SignatureError};

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A fresh GNUPGHOME with one signing key; returns its fingerprint.
fn gen_key(home: &Path, email: &str) -> String {
    run(Command::new("gpg").env("GNUPGHOME", home).args([
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        email,
        "default",
        "default",
        "never",
    ]));
    let colons = run(Command::new("gpg").env("GNUPGHOME", home).args([
        "--with-colons",
        "--fingerprint",
        email,
    ]));
    String::from_utf8_lossy(&colons)
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .expect("a fingerprint")
}

fn export(home: &Path, email: &str, armor: bool) -> Vec<u8> {
    let mut cmd = Command::new("gpg");
    cmd.env("GNUPGHOME", home).arg("--export");
    if armor {
        cmd.arg("--armor");
    }
    run(cmd.arg(email))
}

#[test]
fn skopeo_signatures_verify_and_others_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (home_a, home_b) = (tmp.path().join("a"), tmp.path().join("b"));
    for h in [&home_a, &home_b] {
        std::fs::create_dir(h).unwrap();
        std::fs::set_permissions(h, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let fpr = gen_key(&home_a, "a@i15a.test");
    gen_key(&home_b, "b@i15a.test");
    let manifest = tmp.path().join("manifest.json");
    std::fs::write(&manifest, br#"{"schemaVersion":2,"config":{}}"#).unwrap();
    let sig_path = tmp.path().join("sig");
    run(Command::new("skopeo")
        .env("GNUPGHOME", &home_a)
        .args(["standalone-sign"])
        .arg(&manifest)
        .args(["127.0.0.1:5000/i15a-x:v1", &fpr, "-o"])
        .arg(&sig_path));
    let sig = std::fs::read(&sig_path).unwrap();

    for armor in [false, true] {
        let keys = simple::parse_keyring(&export(&home_a, "a@i15a.test", armor)).unwrap();
        let (data, signer) = simple::verify_message(&sig, &keys).unwrap();
        assert_eq!(signer, fpr);
        let payload = simple::parse_payload(&data, SIMPLE_SIGNING_TYPE).unwrap();
        assert_eq!(payload.docker_reference, "127.0.0.1:5000/i15a-x:v1");
        assert!(atomic_trust::eval::manifest_matches(
            &std::fs::read(&manifest).unwrap(),
            &payload.manifest_digest
        ));
    }
    let other = simple::parse_keyring(&export(&home_b, "b@i15a.test", false)).unwrap();
    assert!(matches!(
        simple::verify_message(&sig, &other),
        Err(SignatureError::UnknownKey(_))
    ));
    // One flipped byte near the end (inside the signature MPI or the literal data).
    let keys = simple::parse_keyring(&export(&home_a, "a@i15a.test", false)).unwrap();
    let mut tampered = sig.clone();
    let n = tampered.len();
    tampered[n - 5] ^= 0x40;
    assert!(simple::verify_message(&tampered, &keys).is_err());
}

#[test]
fn cosign_signatures_agree_with_openssl() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key.pem");
    let public = tmp.path().join("key.pub");
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
    let payload = br#"{"critical":{"identity":{"docker-reference":"r.io/a:1"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}"#;
    let payload_file = tmp.path().join("payload");
    std::fs::write(&payload_file, payload).unwrap();
    let keys = cosign::parse_public_keys(&std::fs::read(&public).unwrap()).unwrap();

    // openssl signs, atomic verifies.
    let der = run(Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(&key)
        .arg(&payload_file));
    let b64 = base64_encode(&der);
    let sig = SigstoreSignature {
        payload: payload.to_vec(),
        signature: b64,
    };
    cosign::verify(&sig, &keys).unwrap();

    // atomic signs, openssl verifies.
    let ours = cosign::sign(payload, &std::fs::read_to_string(&key).unwrap()).unwrap();
    let sig_file = tmp.path().join("sig.der");
    std::fs::write(&sig_file, base64_decode(&ours)).unwrap();
    let out = run(Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&sig_file)
        .arg(&payload_file));
    assert!(String::from_utf8_lossy(&out).contains("Verified OK"));
    let tampered = SigstoreSignature {
        payload: b"{}".to_vec(),
        signature: ours,
    };
    assert!(cosign::verify(&tampered, &keys).is_err());
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// A signature whose compressed payload inflates past the bound is refused, not read whole.
#[test]
fn inflating_payload_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("g");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    gen_key(&home, "big@i15a.test");
    let big = tmp.path().join("big");
    std::fs::write(&big, vec![b'a'; 4 << 20]).unwrap();
    let signed = tmp.path().join("big.gpg");
    run(Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args(["--batch", "--local-user", "big@i15a.test", "--output"])
        .arg(&signed)
        .arg("--sign")
        .arg(&big));
    let sig = std::fs::read(&signed).unwrap();
    assert!(sig.len() < 1 << 20, "gpg compressed it");
    let keys = simple::parse_keyring(&export(&home, "big@i15a.test", false)).unwrap();
    match simple::verify_message(&sig, &keys) {
        Err(SignatureError::Malformed(m)) => assert!(m.contains("larger"), "{m}"),
        other => panic!("{other:?}"),
    }
}

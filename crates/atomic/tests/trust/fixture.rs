//! What the trust tests share: two gpg keys, images on the loopback registry signed by
//! `skopeo copy --sign-by` into a lookaside directory, and the same image as an OCI layout,
//! OCI archive and docker archive.

use super::common;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use atomic_testsupport::{ImageSpec, Registry, write_docker_archive, write_oci_layout};

/// Everything the cases share, made once per test binary.
pub struct Fixture {
    pub dir: PathBuf,
    pub fpr_a: String,
    pub fpr_b: String,
    pub home_a: PathBuf,
    /// `127.0.0.1:5000/i15a-…-SUFFIX` repositories.
    pub suffix: String,
    pub lookaside: PathBuf,
    /// registries.d whose default-docker reads and writes `lookaside`.
    pub regd: PathBuf,
    pub digest: String,
    pub layout: PathBuf,
    pub layout_tag: String,
    pub oci_archive: PathBuf,
    pub docker_archive: PathBuf,
}

pub fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn gen_key(home: &Path, email: &str) -> String {
    std::fs::create_dir_all(home).unwrap();
    std::fs::set_permissions(home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
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
    let out = run(Command::new("gpg").env("GNUPGHOME", home).args([
        "--with-colons",
        "--fingerprint",
        email,
    ]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .expect("fingerprint")
}

fn export(home: &Path, armor: bool, out: &Path) {
    let mut cmd = Command::new("gpg");
    cmd.env("GNUPGHOME", home).arg("--export");
    if armor {
        cmd.arg("--armor");
    }
    let o = run(&mut cmd);
    std::fs::write(out, o.stdout).unwrap();
}

impl Fixture {
    pub fn get() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(Fixture::make)
    }

    fn make() -> Fixture {
        let registry = Registry::ensure().expect("registry on 127.0.0.1:5000");
        // Kept for the life of the test process: the cases read it.
        let dir = tempfile::tempdir().unwrap().keep();
        let (home_a, home_b) = (dir.join("gpg-a"), dir.join("gpg-b"));
        let fpr_a = gen_key(&home_a, "a@i15a.test");
        let fpr_b = gen_key(&home_b, "b@i15a.test");
        export(&home_a, false, &dir.join("a.gpg"));
        export(&home_a, true, &dir.join("a.asc"));
        export(&home_b, false, &dir.join("b.gpg"));
        let lookaside = dir.join("lookaside");
        std::fs::create_dir_all(&lookaside).unwrap();
        let regd = dir.join("registries.d");
        std::fs::create_dir_all(&regd).unwrap();
        std::fs::write(
            regd.join("default.yaml"),
            format!(
                "default-docker:\n  lookaside: file://{0}\n  lookaside-staging: file://{0}\n",
                lookaside.display()
            ),
        )
        .unwrap();
        let suffix = common::unique("t");
        let spec = ImageSpec::new("i15a-trust")
            .tag("v1")
            .file("/etc/i15a", "trust\n", 0o644);
        let layout = dir.join("layout");
        let image = write_oci_layout(&spec, &layout).unwrap();
        let oci_archive = dir.join("layout.tar");
        run(Command::new("tar")
            .arg("-C")
            .arg(&layout)
            .arg("-cf")
            .arg(&oci_archive)
            .arg("."));
        let docker_archive = dir.join("docker.tar");
        write_docker_archive(&spec, &docker_archive).unwrap();

        let push = |repo_tag: &str, signer: Option<(&Path, &str)>| {
            let mut cmd = Command::new("skopeo");
            cmd.args(["--insecure-policy", "--registries.d"])
                .arg(&regd)
                .args(["copy", "--quiet", "--dest-tls-verify=false"]);
            if let Some((home, fpr)) = signer {
                cmd.env("GNUPGHOME", home).args(["--sign-by", fpr]);
            }
            cmd.arg(format!("oci:{}:{}", layout.display(), image.tag))
                .arg(format!("docker://{}/{repo_tag}", registry.addr()));
            run(&mut cmd);
        };
        let repo = |what: &str| format!("i15a-{what}-{suffix}");
        push(&format!("{}:v1", repo("signed")), Some((&home_a, &fpr_a)));
        push(&format!("{}:v2", repo("signed")), None);
        push(&format!("{}:v1", repo("bsigned")), Some((&home_b, &fpr_b)));
        for plain in ["unsigned", "copy", "tampered"] {
            push(&format!("{}:v1", repo(plain)), None);
        }
        // Another image (another digest) that gets the first image's signature.
        let other = registry
            .push(
                &ImageSpec::new("i15a-other")
                    .tag("v1")
                    .file("/etc/i15a", "other\n", 0o644),
                &format!("{}:v1", repo("otherdigest")),
            )
            .unwrap();

        let sig_dir =
            |r: &str, digest: &str| lookaside.join(format!("{r}@{}", digest.replacen(':', "=", 1)));
        let signed_sig = sig_dir(&repo("signed"), &image.manifest_digest).join("signature-1");
        let sig = std::fs::read(&signed_sig).expect("skopeo wrote the signature");
        let place = |r: &str, digest: &str, bytes: &[u8]| {
            let d = sig_dir(r, digest);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("signature-1"), bytes).unwrap();
        };
        place(&repo("copy"), &image.manifest_digest, &sig);
        let mut tampered = sig.clone();
        let n = tampered.len();
        tampered[n - 5] ^= 0x40;
        place(&repo("tampered"), &image.manifest_digest, &tampered);
        place(&repo("otherdigest"), &other.manifest_digest, &sig);

        // A multi-platform image: an index (pushed with curl) over the same manifest, signed at
        // the top level with `skopeo standalone-sign`, as `skopeo copy --all --sign-by` would.
        push(&format!("{}:v1", repo("multi")), None);
        let hex = image.manifest_digest.trim_start_matches("sha256:");
        let manifest_len = std::fs::metadata(layout.join("blobs/sha256").join(hex))
            .unwrap()
            .len();
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{manifest_len},"platform":{{"architecture":"{arch}","os":"linux"}}}}]}}"#,
            image.manifest_digest
        );
        let index_file = dir.join("index.json");
        std::fs::write(&index_file, &index).unwrap();
        run(Command::new("curl")
            .args(["-sS", "-f", "-X", "PUT", "-H"])
            .arg("Content-Type: application/vnd.oci.image.index.v1+json")
            .arg("--data-binary")
            .arg(format!("@{}", index_file.display()))
            .arg(format!(
                "http://{}/v2/{}/manifests/idx",
                registry.addr(),
                repo("multi")
            )));
        let index_digest = {
            use sha2::Digest as _;
            format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(index.as_bytes()))
            )
        };
        let index_sig = sig_dir(&repo("multi"), &index_digest);
        std::fs::create_dir_all(&index_sig).unwrap();
        run(Command::new("skopeo")
            .env("GNUPGHOME", &home_a)
            .arg("standalone-sign")
            .arg(&index_file)
            .arg(format!("{}/{}:idx", registry.addr(), repo("multi")))
            .arg(&fpr_a)
            .arg("-o")
            .arg(index_sig.join("signature-1")));
        // And the platform's manifest signed for the same reference (what a pull of one
        // platform checks), in another repository with the same index.
        push(&format!("{}:v1", repo("multiinst")), None);
        run(Command::new("curl")
            .args(["-sS", "-f", "-X", "PUT", "-H"])
            .arg("Content-Type: application/vnd.oci.image.index.v1+json")
            .arg("--data-binary")
            .arg(format!("@{}", index_file.display()))
            .arg(format!(
                "http://{}/v2/{}/manifests/idx",
                registry.addr(),
                repo("multiinst")
            )));
        let instance_sig = sig_dir(&repo("multiinst"), &image.manifest_digest);
        std::fs::create_dir_all(&instance_sig).unwrap();
        run(Command::new("skopeo")
            .env("GNUPGHOME", &home_a)
            .arg("standalone-sign")
            .arg(layout.join("blobs/sha256").join(hex))
            .arg(format!("{}/{}:idx", registry.addr(), repo("multiinst")))
            .arg(&fpr_a)
            .arg("-o")
            .arg(instance_sig.join("signature-1")));

        Fixture {
            dir,
            fpr_a,
            fpr_b,
            home_a,
            suffix,
            lookaside,
            regd,
            digest: image.manifest_digest,
            layout,
            layout_tag: image.tag,
            oci_archive,
            docker_archive,
        }
    }

    pub fn docker(&self, what: &str, tag: &str) -> String {
        format!("127.0.0.1:5000/i15a-{what}-{}:{tag}", self.suffix)
    }

    /// Push the fixture's image unsigned as a new repository; returns `127.0.0.1:5000/REPO:v1`.
    pub fn push_unsigned(&self, what: &str) -> String {
        let reference = self.docker(what, "v1");
        let layout = format!("oci:{}:{}", self.layout.display(), self.layout_tag);
        atomic_testsupport::skopeo_copy(&layout, &reference, &[]).unwrap();
        reference
    }

    /// A policy in `dir` accepting 127.0.0.1:5000 images signed by the fixture's key `key`
    /// (`a.gpg`, `b.gpg`) and rejecting the rest.
    pub fn signed_by_policy(&self, dir: &Path, key: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("policy.json");
        let policy = serde_json::json!({
            "default": [{"type": "reject"}],
            "transports": {"docker": {"127.0.0.1:5000": [
                {"type": "signedBy", "keyType": "GPGKeys", "keyPath": self.key(key)}
            ]}}
        });
        std::fs::write(&path, policy.to_string()).unwrap();
        path
    }

    /// `reference`, signed with key A into the fixture's lookaside, is accepted by `skopeo copy`
    /// and `podman pull` under a policy of key A and refused under one of key B (policies and
    /// copies in `work`). Returns the policy of key A.
    pub fn accepted_by_skopeo_and_podman(&self, work: &Path, reference: &str) -> PathBuf {
        let good = self.signed_by_policy(&work.join("a"), "a.gpg");
        let wrong = self.signed_by_policy(&work.join("b"), "b.gpg");
        let skopeo = |policy: &Path| {
            Command::new("skopeo")
                .arg("--policy")
                .arg(policy)
                .arg("--registries.d")
                .arg(&self.regd)
                .args(["copy", "--quiet", "--src-tls-verify=false"])
                .arg(format!("docker://{reference}"))
                .arg(format!(
                    "dir:{}",
                    work.join(common::unique("out")).display()
                ))
                .output()
                .unwrap()
        };
        let ok = skopeo(&good);
        assert!(ok.status.success(), "{}", common::stderr(&ok));
        assert!(
            !skopeo(&wrong).status.success(),
            "skopeo accepted another key"
        );

        // Podman reads registries.d from ~/.config/containers/registries.d.
        let home = work.join("home");
        let user_regd = home.join(".config/containers/registries.d");
        std::fs::create_dir_all(&user_regd).unwrap();
        std::fs::copy(
            self.regd.join("default.yaml"),
            user_regd.join("default.yaml"),
        )
        .unwrap();
        let _podman = common::podman_alone();
        let podman = |policy: &Path| {
            Command::new("podman")
                .env("HOME", &home)
                .args(["pull", "-q", "--tls-verify=false", "--signature-policy"])
                .arg(policy)
                .arg(reference)
                .output()
                .unwrap()
        };
        let refused = podman(&wrong);
        assert!(!refused.status.success(), "podman accepted another key");
        let pulled = podman(&good);
        assert!(pulled.status.success(), "{}", common::stderr(&pulled));
        let _ = Command::new("podman")
            .args(["rmi", "-f", reference])
            .output();
        good
    }

    pub fn repo(&self, what: &str) -> String {
        format!("127.0.0.1:5000/i15a-{what}-{}", self.suffix)
    }

    pub fn key(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    pub fn key_data(&self, name: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(self.dir.join(name)).unwrap())
    }
}

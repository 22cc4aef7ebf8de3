//! The registry client as users meet it through the binary: a root without a CA store (the
//! systemd host image, a debootstrap minbase root without ca-certificates), `--cert-dir`,
//! credentials from helpers and auth files, and `atomic push`.

mod common;

use std::path::Path;
use std::process::Output;

use atomic_testsupport::{
    ImageSpec, PrivateRegistry, PrivateRegistryConfig, Registry, TestCerts, podman_command,
    push_image,
};
use common::{Kind, World, stderr};

/// The image built by scripts/setup.sh from a debootstrap minbase root: no ca-certificates.
const MINIMAL_ROOT_IMAGE: &str = "localhost/atomic-systemd-host:latest";

/// Push a small image to `addr/repo:latest` with skopeo (TLS unverified: test setup).
fn skopeo_push(addr: &str, repo: &str) {
    push_image(addr, &ImageSpec::new(repo).label("test", repo), repo, &[]).unwrap();
}

/// `atomic ARGS` inside a container of the minimal root, on the host's network, with
/// `certs_d` (if any) mounted at the certs.d directory given (`/etc/containers/certs.d`…).
fn atomic_in_minimal_root(args: &[&str], certs_d: Option<(&Path, &str)>) -> Output {
    let bin = assert_cmd::cargo::cargo_bin("atomic");
    let mut cmd = podman_command();
    cmd.args(["run", "--rm", "--net=host"])
        .arg(format!(
            "--volume={}:/usr/local/bin/atomic:ro",
            bin.display()
        ))
        .args([
            "--env=ATOMIC_STORE_ROOT=/tmp/store",
            "--env=ATOMIC_CONF=/nonexistent",
        ]);
    if let Some((dir, at)) = certs_d {
        cmd.arg(format!("--volume={}:{at}:ro", dir.display()));
    }
    cmd.arg(MINIMAL_ROOT_IMAGE).arg("atomic").args(args);
    cmd.output().unwrap()
}

#[test]
fn without_a_ca_store_http_and_certs_d_work_and_unknown_https_fails_clearly() {
    if !Kind::Podman.usable() {
        return;
    }
    let exists = podman_command()
        .args(["image", "exists", MINIMAL_ROOT_IMAGE])
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        eprintln!("skipped: Podman has no {MINIMAL_ROOT_IMAGE}; scripts/setup.sh builds it");
        return;
    }
    let _alone = common::podman_alone();
    // The root really has no CA store.
    let ls = atomic_in_minimal_root(&["--version"], None);
    assert!(ls.status.success(), "{}", stderr(&ls));
    let mut check = podman_command();
    let out = check
        .args([
            "run",
            "--rm",
            MINIMAL_ROOT_IMAGE,
            "ls",
            "/etc/ssl/certs/ca-certificates.crt",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the minimal root has a CA store");

    // Plain http (the shared registry): this panicked in reqwest's Client::new before.
    let shared = Registry::ensure().unwrap();
    let repo = common::unique("i15b-noca");
    skopeo_push(shared.addr(), &repo);
    let name = format!("{}/{repo}:latest", shared.addr());
    let out = atomic_in_minimal_root(
        &["pull", "--storage", "native", "--tls-verify=false", &name],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // https with a certificate nothing trusts: a clear error, no panic.
    let tmp = tempfile::tempdir().unwrap();
    let (crt, key) = TestCerts::new(tmp.path()).self_signed("server").unwrap();
    let tls = PrivateRegistry::start(&PrivateRegistryConfig {
        tls: Some((crt.clone(), key)),
        ..Default::default()
    })
    .unwrap();
    skopeo_push(tls.addr(), "i15b-noca-tls");
    let name = format!("{}/i15b-noca-tls:latest", tls.addr());
    let out = atomic_in_minimal_root(&["pull", "--storage", "native", &name], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("no CA certificates") && err.contains("certs.d"),
        "{err}"
    );

    // The same registry with its certificate in /etc/containers/certs.d/HOST:PORT/ca.crt.
    let certs_d = tmp.path().join("certs.d");
    std::fs::create_dir_all(certs_d.join(tls.addr())).unwrap();
    std::fs::copy(&crt, certs_d.join(tls.addr()).join("ca.crt")).unwrap();
    for at in ["/etc/containers/certs.d", "/etc/docker/certs.d"] {
        let out = atomic_in_minimal_root(
            &["pull", "--storage", "native", &name],
            Some((&certs_d, at)),
        );
        assert!(out.status.success(), "{at}: {}", stderr(&out));
    }
}

#[test]
fn cert_dir_flag_trusts_a_self_signed_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let (crt, key) = TestCerts::new(tmp.path()).self_signed("server").unwrap();
    let tls = PrivateRegistry::start(&PrivateRegistryConfig {
        tls: Some((crt.clone(), key)),
        ..Default::default()
    })
    .unwrap();
    skopeo_push(tls.addr(), "i15b-certdir");
    let dir = tmp.path().join("certs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&crt, dir.join("ca.crt")).unwrap();
    let world = World::new();
    let name = format!("{}/i15b-certdir:latest", tls.addr());
    let out = world
        .atomic()
        .args(["pull", "--storage", "native", &name])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not trusted"), "{}", stderr(&out));
    let out = world
        .atomic()
        .args(["pull", "--storage", "native", "--cert-dir"])
        .arg(&dir)
        .arg(&name)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `atomic sign` reaches the registry as a pull does (one client): a self-signed registry is
/// refused with the certs.d hint until `--cert-dir` trusts it; then the sigstore attachment is
/// pushed there.
#[test]
fn sign_trusts_a_self_signed_registry_by_cert_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let (crt, key) = TestCerts::new(tmp.path()).self_signed("server").unwrap();
    let tls = PrivateRegistry::start(&PrivateRegistryConfig {
        tls: Some((crt.clone(), key)),
        ..Default::default()
    })
    .unwrap();
    let image = push_image(tls.addr(), &ImageSpec::new("i14-sign"), "i14-sign", &[]).unwrap();
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(&crt, certs.join("ca.crt")).unwrap();
    let cosign_key = tmp.path().join("cosign.pem");
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .arg("-out")
        .arg(&cosign_key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let name = format!("{}/i14-sign:latest", tls.addr());
    let world = World::new();
    let sign = |cert_dir: Option<&Path>| {
        let mut cmd = world.atomic();
        cmd.args(["sign", "--sign-by-sigstore-private-key"])
            .arg(&cosign_key);
        if let Some(dir) = cert_dir {
            cmd.arg("--cert-dir").arg(dir);
        }
        cmd.arg(&name).output().unwrap()
    };
    let manifests = tls.count_requests("PUT", "/manifests/");
    let out = sign(None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not trusted"), "{}", stderr(&out));
    assert_eq!(tls.count_requests("PUT", "/manifests/"), manifests);

    let out = sign(Some(&certs));
    assert!(out.status.success(), "{}", stderr(&out));
    let hex = image.manifest_digest.to_string().replace("sha256:", "");
    let attachment = format!("{}/i14-sign:sha256-{hex}.sig", tls.addr());
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains(&format!("Pushed: {attachment}")), "{said}");
    // The registry has it: skopeo reads the attachment's manifest back.
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{attachment}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("dev.cosignproject.cosign/signature"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A registry behind htpasswd with `repo` pushed to it; returns it and the image's name.
fn password_registry(tmp: &Path, repo: &str) -> (PrivateRegistry, String) {
    let pw = tmp.join("htpasswd");
    atomic_testsupport::htpasswd(&pw, "i15b", "helper-pw").unwrap();
    let reg = PrivateRegistry::start(&PrivateRegistryConfig {
        htpasswd: Some(pw),
        ..Default::default()
    })
    .unwrap();
    reg.push(
        &ImageSpec::new(repo),
        repo,
        &["--dest-creds", "i15b:helper-pw"],
    )
    .unwrap();
    let name = format!("{}/{repo}:latest", reg.addr());
    (reg, name)
}

#[test]
fn credential_helper_on_path_named_by_docker_config() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let (reg, name) = password_registry(tmp.path(), "i15b-helper");
    // The helper answers Docker's protocol for this registry only and logs what it was asked.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-i15btest");
    let asked = tmp.path().join("asked");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\necho \"$server\" >> {asked}\n\
             if [ \"$server\" = \"{addr}\" ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"i15b\",\"Secret\":\"helper-pw\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n",
            asked = asked.display(),
            addr = reg.addr()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let docker_config = tmp.path().join("docker");
    std::fs::create_dir_all(&docker_config).unwrap();
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"credHelpers": {{"{}": "i15btest"}}}}"#, reg.addr()),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let world = World::new();
    let pull = |with_helper: bool| {
        let mut cmd = world.atomic();
        cmd.args(["pull", "--storage", "native", "--tls-verify=false", &name])
            .env("HOME", tmp.path())
            .env("XDG_RUNTIME_DIR", tmp.path().join("run"))
            .env_remove("REGISTRY_AUTH_FILE")
            .env("PATH", &path);
        if with_helper {
            cmd.env("DOCKER_CONFIG", &docker_config);
        } else {
            cmd.env("DOCKER_CONFIG", tmp.path().join("nodocker"));
        }
        cmd.output().unwrap()
    };
    let out = pull(false);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not authorized"), "{}", stderr(&out));
    let out = pull(true);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&asked).unwrap().trim(), reg.addr());

    // The same helper named by registries.conf's credential-helpers instead, after the auth
    // files (which have nothing).
    let conf = tmp.path().join("registries.conf");
    std::fs::write(
        &conf,
        "unqualified-search-registries = []
         credential-helpers = [\"containers-auth.json\", \"i15btest\"]
",
    )
    .unwrap();
    let store = tmp.path().join("store2");
    let out = world
        .atomic()
        .args(["pull", "--storage", "native", "--tls-verify=false", &name])
        .env("ATOMIC_STORE_ROOT", &store)
        .env("CONTAINERS_REGISTRIES_CONF", &conf)
        .env("HOME", tmp.path())
        .env("XDG_RUNTIME_DIR", tmp.path().join("run"))
        .env("DOCKER_CONFIG", tmp.path().join("nodocker"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&asked).unwrap().lines().count(), 2);
}

/// `short-name-mode = "enforcing"` on a terminal (a pty from script(1)): atomic asks which
/// search registry is meant, pulls from the one chosen and records the choice as an alias,
/// which the next pull uses without asking; without a terminal it refuses.
#[test]
fn enforcing_short_names_ask_on_a_terminal_and_record_the_choice() {
    let shared = Registry::ensure().unwrap();
    let repo = common::unique("i15b-prompt");
    shared
        .push(&ImageSpec::new(&repo).label("prompt", "yes"), &repo)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("registries.conf");
    // Both names reach the same loopback registry; the choice shows in the stored name.
    std::fs::write(
        &conf,
        "unqualified-search-registries = [\"127.0.0.1:5000\", \"localhost:5000\"]\n\
         short-name-mode = \"enforcing\"\n\
         [[registry]]\nlocation = \"127.0.0.1:5000\"\ninsecure = true\n\
         [[registry]]\nlocation = \"localhost:5000\"\ninsecure = true\n",
    )
    .unwrap();
    let aliases = tmp.path().join("aliases.conf");
    let world = World::new();
    let env = |cmd: &mut std::process::Command| {
        cmd.env("ATOMIC_STORE_ROOT", world.store_root())
            .env("ATOMIC_CONF", world.conf())
            .env("CONTAINERS_REGISTRIES_CONF", &conf)
            .env("ATOMIC_SHORT_NAME_ALIASES", &aliases);
    };
    // No terminal: refused.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"));
    env(&mut cmd);
    let out = cmd
        .args(["pull", "--storage", "native", &repo])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no terminal"), "{}", stderr(&out));

    // On a terminal: the prompt, answered "2".
    let line = format!(
        "{} pull --storage native {repo}",
        assert_cmd::cargo::cargo_bin("atomic").display()
    );
    let mut cmd = std::process::Command::new("script");
    env(&mut cmd);
    let mut child = cmd
        .args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"2\n").unwrap();
        // Keep the pty's input open until atomic has read the answer.
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Please select an image"), "{shown}");
    assert!(
        shown.contains(&format!("Pulled localhost:5000/{repo}:latest")),
        "{shown}"
    );
    let recorded = std::fs::read_to_string(&aliases).unwrap();
    assert!(
        recorded.contains(&format!("\"{repo}\" = \"localhost:5000/{repo}\"")),
        "{recorded}"
    );

    // The recorded alias answers from now on, without a terminal.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"));
    env(&mut cmd);
    let out = cmd
        .args(["pull", "--storage", "native", &repo])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

//! Regression tests of the native store's hardening (one per finding of a hostile-input and
//! fault review), through the real binary: a setuid file reached by another user, delete and
//! prune killed mid-removal, a registry that stalls.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use atomic_testsupport::{ImageSpec, LayerSpec};
use common::native::{ok, pull_oci, run};
use common::{World, stderr, stdout};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The unpacked layer directory that holds `inner` (a path inside the image).
fn layer_holding(world: &World, inner: &str) -> PathBuf {
    common::native::layer_dirs(world)
        .into_iter()
        .find(|d| d.join(inner).exists())
        .unwrap_or_else(|| panic!("no layer holds {inner}"))
}

/// Finding 1: a setuid-root program in a pulled image must not be runnable by another local
/// user through the store (the store root was 0755, so `setpriv --reuid=65534
/// ROOT/layers/<id>/…` ran it with euid 0).
#[test]
fn store_setuid_escape_is_closed_to_other_users() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP: needs root to make a setuid-root file");
        return;
    }
    let world = World::new();
    // The test's own temporary directory is private; open it as /var/lib is, so only the
    // store's own modes stand between the user and the layers.
    std::fs::set_permissions(world.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static");
    let spec = ImageSpec::new("i13-suid").layer(LayerSpec::new().file(
        "/usr/local/bin/id",
        busybox,
        0o4755,
    ));
    pull_oci(&world, &spec);
    let root = world.store_root();
    let suid = layer_holding(&world, "usr/local/bin/id").join("usr/local/bin/id");
    assert_eq!(
        mode(&suid) & 0o4000,
        0o4000,
        "the layer keeps the image's setuid bit"
    );

    // Through a shell: setpriv itself keeps root's capabilities until its own execve, so
    // `setpriv --reuid=65534 PATH` would walk the path as root. The shell is uid 65534 with
    // no capabilities, as a real local user is.
    let as_nobody = |path: &Path| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["/bin/sh", "-c", "\"$0\" -u"])
            .arg(path)
            .output()
            .expect("setpriv runs")
    };
    let out = as_nobody(&suid);
    assert!(
        !out.status.success() && stdout(&out).trim() != "0",
        // busybox drops a setuid it does not need, so the euid shows the path was open, not
        // that root was gained; a program that keeps it (su, a shell) would run as root.
        "uid 65534 reached and ran a setuid-root file in the store: status {}, euid {:?}",
        out.status,
        stdout(&out).trim()
    );
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mode(&root), 0o700, "store root");
    for dir in ["layers", "blobs", "tmp"] {
        assert_eq!(mode(&root.join(dir)), 0o700, "{dir}/");
    }

    // A store left open by an older atomic (or a chmod) is closed again on the next use.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    ok(&world, &["images", "list", "--storage", "native"]);
    assert_eq!(mode(&root), 0o700, "an open store root is tightened");
    assert!(!as_nobody(&suid).status.success());

    // A directory that is not a store is not changed behind its owner's back: refused.
    let foreign = world.path().join("shared");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes"), "someone's").unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = world
        .atomic()
        .env("ATOMIC_STORE_ROOT", &foreign)
        .args([
            "pull",
            "--storage",
            "native",
            "-q",
            &format!("oci:{}", world.path().join("layouts/i13-suid").display()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("open to other users"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mode(&foreign), 0o755);
}

/// An image whose top layer holds `files` empty files: removing its layer takes long enough
/// for a SIGKILL to land in the middle.
fn many_files(name: &str, files: usize) -> ImageSpec {
    let mut layer = LayerSpec::new();
    for i in 0..files {
        layer = layer.file(format!("/many/d{:03}/f{i:06}", i / 500), Vec::new(), 0o644);
    }
    ImageSpec::new(name).layer(layer)
}

fn spawn(world: &World, args: &[&str]) -> Child {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("atomic"));
    cmd.current_dir(world.path())
        .env("ATOMIC_CONF", world.conf())
        .env("ATOMIC_STORE_ROOT", world.store_root())
        .env_remove("ATOMIC_STORAGE")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().expect("spawn atomic")
}

/// Kill `args` after `delay` (SIGKILL), whether or not it has finished.
fn killed_after(world: &World, args: &[&str], delay: Duration) {
    let mut child = spawn(world, args);
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap();
}

/// The pull and the verify after a kill: the image comes back whole.
fn pull_and_verify(world: &World, source: &str, name: &str, when: &str) {
    let started = Instant::now();
    let out = run(world, &["pull", "-q", source]);
    eprintln!("pull {when}: {:?}", started.elapsed());
    assert!(out.status.success(), "pull {when}: {}", stderr(&out));
    let out = run(world, &["images", "verify", "--storage", "native", name]);
    assert!(
        out.status.success(),
        "verify {when}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn timed(world: &World, args: &[&str]) -> Duration {
    let started = Instant::now();
    ok(world, args);
    let took = started.elapsed();
    eprintln!("{args:?}: {took:?}");
    took
}

/// Finding 2: SIGKILL during `images delete` or `images prune` of a big layer, then pull: the
/// pull reused the half-deleted `layers/<diff_id>` and verify found thousands of MODIFIED
/// files. A layer must leave the store at once, and a pull must never reuse an incomplete one.
#[test]
fn killed_delete_or_prune_never_leaves_a_half_layer() {
    let world = World::new();
    // 20,000 files take about a second to remove on the 2-core test machine: time enough to
    // land kills early and late in the removal, without making CI minutes longer.
    let spec = many_files("i13-many", 20_000);
    let stored = pull_oci(&world, &spec);
    let delete = [
        "images",
        "delete",
        "-y",
        "--storage",
        "native",
        &stored.name,
    ];
    let full = timed(&world, &delete);
    for fraction in [0.3, 0.8] {
        ok(&world, &["pull", "-q", &stored.source]);
        killed_after(&world, &delete, full.mul_f64(fraction));
        pull_and_verify(
            &world,
            &stored.source,
            &stored.name,
            &format!("after a delete killed at {fraction} of its time"),
        );
    }

    // Prune: the big image loses its name to a small one and is dangling.
    let small = ImageSpec::new("i13-many");
    let small_dir = world.path().join("small").join("i13-many");
    atomic_testsupport::write_oci_layout(&small, &small_dir).unwrap();
    let small_source = format!("oci:{}:latest", small_dir.display());
    let prune = ["images", "prune", "--storage", "native"];
    ok(&world, &["pull", "-q", &small_source]);
    let full = timed(&world, &prune);
    for fraction in [0.3, 0.8] {
        ok(&world, &["pull", "-q", &stored.source]);
        ok(&world, &["pull", "-q", &small_source]);
        killed_after(&world, &prune, full.mul_f64(fraction));
        pull_and_verify(
            &world,
            &stored.source,
            &stored.name,
            &format!("after a prune killed at {fraction} of its time"),
        );
    }
}

/// How the fake registry answers a manifest request.
#[derive(Clone, Copy)]
enum Fake {
    /// Status line and headers, then nothing.
    StallAfterHeaders,
    /// Headers and part of the body, then nothing.
    StallMidBody,
    /// A 100 MB manifest, announced by its Content-Length.
    HugeManifest,
    /// A chunked manifest that never ends.
    EndlessManifest,
    /// A chunked manifest whose first chunk size is not a number.
    BrokenChunk,
    /// Every request refused with a token realm on a port where nothing listens.
    BadRealm,
}

/// A registry on 127.0.0.1 that answers `/v2/` and then misbehaves on every manifest request
/// as `fake` says. TLS attempts are closed at once, so the client falls back to http.
fn fake_registry(fake: Fake) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            std::thread::spawn(move || serve_fake(conn, fake));
        }
    });
    addr
}

fn serve_fake(mut conn: TcpStream, fake: Fake) {
    let mut buf = [0u8; 8192];
    loop {
        let Ok(n) = conn.read(&mut buf) else { return };
        if n == 0 || buf[0] == 0x16 {
            return; // closed, or a TLS ClientHello
        }
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        if let Fake::BadRealm = fake {
            let _ = conn.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer \
                  realm=\"http://127.0.0.1:1/token\",service=\"fake\"\r\n\
                  Content-Length: 0\r\n\r\n",
            );
            continue;
        }
        if request.starts_with("GET /v2/ ") {
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            );
            continue;
        }
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n";
        let chunk = vec![b' '; 64 << 10];
        match fake {
            Fake::StallAfterHeaders => {
                let _ = conn.write_all(format!("{head}Content-Length: 4000\r\n\r\n").as_bytes());
            }
            Fake::StallMidBody => {
                let _ = conn.write_all(format!("{head}Content-Length: 4000\r\n\r\n").as_bytes());
                let _ = conn.write_all(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci."#);
            }
            Fake::HugeManifest => {
                let _ =
                    conn.write_all(format!("{head}Content-Length: 100000000\r\n\r\n").as_bytes());
                for _ in 0..(100_000_000 / chunk.len()) {
                    if conn.write_all(&chunk).is_err() {
                        return;
                    }
                }
            }
            Fake::BrokenChunk | Fake::BadRealm => {}
            Fake::EndlessManifest => {
                let _ =
                    conn.write_all(format!("{head}Transfer-Encoding: chunked\r\n\r\n").as_bytes());
                loop {
                    let sent = conn
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .and_then(|()| conn.write_all(&chunk))
                        .and_then(|()| conn.write_all(b"\r\n"));
                    if sent.is_err() {
                        return; // the client gave up
                    }
                }
            }
        }
        if let Fake::BrokenChunk = fake {
            let _ = conn.write_all(format!("{head}Transfer-Encoding: chunked\r\n\r\n").as_bytes());
            let _ = conn.write_all(b"zz\r\n{}\r\n");
            return;
        }
        let _ = conn.flush();
        // Silence, with the connection open, for longer than any test waits.
        std::thread::sleep(Duration::from_secs(120));
        return;
    }
}

/// Run atomic, failing the test if it has not ended within `limit` (it is killed then).
fn within(world: &World, args: &[&str], limit: Duration) -> Output {
    within_cmd(
        world,
        Command::new(assert_cmd::cargo::cargo_bin("atomic")),
        args,
        limit,
    )
}

/// Like [`within`], for a prepared command (a wrapper, or an environment of its own: what it
/// sets is kept).
fn within_cmd(world: &World, mut child: Command, args: &[&str], limit: Duration) -> Output {
    let set = |key: &str| child.get_envs().any(|(k, _)| k == key);
    if !set("ATOMIC_CONF") {
        child.env("ATOMIC_CONF", world.conf());
    }
    child
        .current_dir(world.path())
        .env("ATOMIC_STORE_ROOT", world.store_root())
        .env_remove("ATOMIC_STORAGE")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = child.spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "atomic {args:?} still waiting after {limit:?}: {}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// Finding 3: a registry that stops sending after its headers, or in the middle of a body,
/// held `pull`, `info --remote` and `images verify --remote` forever. With
/// `registry_read_timeout: 2` in atomic.conf they fail within seconds, saying the registry
/// stalled.
#[test]
fn stalled_registry_times_out_with_a_clear_error() {
    let world = World::new();
    std::fs::write(world.conf(), "registry_read_timeout: 2\n").unwrap();
    for stall in [Fake::StallAfterHeaders, Fake::StallMidBody] {
        let addr = fake_registry(stall);
        let image = format!("{addr}/i13/stall:v1");
        for args in [
            vec![
                "pull",
                "--storage",
                "native",
                "--tls-verify=false",
                image.as_str(),
            ],
            vec!["info", "--remote", "--tls-verify=false", image.as_str()],
        ] {
            let started = Instant::now();
            let out = within(&world, &args, Duration::from_secs(30));
            assert!(!out.status.success(), "{args:?} succeeded");
            let err = stderr(&out);
            assert!(err.contains("stopped sending"), "{args:?}: {err}");
            assert!(err.contains("registry_read_timeout"), "{args:?}: {err}");
            assert!(!err.contains("cannot reach"), "{args:?}: {err}");
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{args:?} took {:?}",
                started.elapsed()
            );
        }
    }
}

/// Finding 4: a registry's manifest had no size limit: a 100 MB one was read whole (RSS
/// 526 MB) and an endless chunked one grew to 3 GB and aborted. Under a 1 GiB address-space
/// limit both are refused, promptly, as too large.
#[test]
fn oversized_or_endless_manifest_is_refused_under_a_memory_limit() {
    let world = World::new();
    for fake in [Fake::HugeManifest, Fake::EndlessManifest] {
        let addr = fake_registry(fake);
        let image = format!("{addr}/i13/huge:v1");
        let mut limited = Command::new("prlimit");
        limited
            .arg(format!("--as={}", 1u64 << 30))
            .arg("--")
            .arg(assert_cmd::cargo::cargo_bin("atomic"));
        let args = [
            "pull",
            "--storage",
            "native",
            "--tls-verify=false",
            image.as_str(),
        ];
        let out = within_cmd(&world, limited, &args, Duration::from_secs(60));
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(err.contains("larger than 4 MiB"), "{err}");
    }
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
}

/// What is fed a FIFO, the arguments, and the environment that names it.
type Case = (String, Vec<String>, Vec<(&'static str, PathBuf)>);

/// Finding 5: a FIFO in any input position blocked `open()` before the file-type check could
/// run, so the pull hung. Each one now fails at once, naming the FIFO.
#[test]
fn fifos_in_every_input_position_are_refused_without_hanging() {
    let world = World::new();
    let spec = ImageSpec::new("i13-fifo");
    let layout = |what: &str| {
        let dir = world.path().join("layouts").join(what).join("i13-fifo");
        atomic_testsupport::write_oci_layout(&spec, &dir).unwrap();
        dir
    };
    let blob = |dir: &Path, digest: &str| {
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let json = |path: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let pull = |dir: &Path| {
        vec![
            "pull".to_string(),
            "-q".into(),
            format!("oci:{}:latest", dir.display()),
        ]
    };

    let mut cases: Vec<Case> = Vec::new();
    for file in ["index.json", "oci-layout"] {
        let dir = layout(file);
        mkfifo(&dir.join(file));
        cases.push((file.into(), pull(&dir), Vec::new()));
    }
    let dir = layout("manifest");
    let manifest = blob(
        &dir,
        json(&dir.join("index.json"))["manifests"][0]["digest"]
            .as_str()
            .unwrap(),
    );
    mkfifo(&manifest);
    cases.push(("the manifest blob".into(), pull(&dir), Vec::new()));
    let dir = layout("layer");
    let manifest = blob(
        &dir,
        json(&dir.join("index.json"))["manifests"][0]["digest"]
            .as_str()
            .unwrap(),
    );
    let layer = blob(
        &dir,
        json(&manifest)["layers"][0]["digest"].as_str().unwrap(),
    );
    mkfifo(&layer);
    cases.push(("a layer blob".into(), pull(&dir), Vec::new()));

    let fifo = world.path().join("fifo");
    mkfifo(&fifo);
    for transport in ["oci-archive", "docker-archive"] {
        cases.push((
            transport.into(),
            vec![
                "pull".into(),
                "-q".into(),
                format!("{transport}:{}", fifo.display()),
            ],
            Vec::new(),
        ));
    }
    // A registry pull reads registries.conf and the auth files before it connects, so the
    // port need not answer.
    let remote = vec![
        "pull".to_string(),
        "--storage".into(),
        "native".into(),
        "--tls-verify=false".into(),
        "127.0.0.1:9/i13/fifo:v1".into(),
    ];
    for var in [
        "ATOMIC_CONF",
        "CONTAINERS_REGISTRIES_CONF",
        "REGISTRY_AUTH_FILE",
    ] {
        cases.push((var.into(), remote.clone(), vec![(var, fifo.clone())]));
    }

    for (what, args, env) in cases {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("atomic"));
        for (key, value) in &env {
            cmd.env(key, value);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = within_cmd(&world, cmd, &args, Duration::from_secs(20));
        assert!(!out.status.success(), "{what}: succeeded");
        assert!(
            stderr(&out).contains("is a FIFO"),
            "{what}: {}",
            stderr(&out)
        );
    }
}

/// Finding 7 (mount): `atomic mount IMAGE DIR` followed a symlink at DIR and mounted over
/// whatever it pointed at. It is refused, and nothing is mounted at the link's target.
#[test]
fn mount_refuses_a_symlink_dir() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP: mounting needs root");
        return;
    }
    let world = World::new();
    let stored = pull_oci(&world, &ImageSpec::new("i13-mount"));
    let real = world.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = world.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = run(
        &world,
        &[
            "mount",
            "--storage",
            "native",
            &stored.name,
            link.to_str().unwrap(),
        ],
    );
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&*real.to_string_lossy());
    if mounted {
        let _ = Command::new("umount").arg(&real).status();
    }
    assert!(!out.status.success(), "mount through a symlink succeeded");
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(!mounted, "something was mounted at the link's target");
}

/// Finding 6 (RUN_OPTS_FILE): `RUN_OPTS_FILE=/dev/zero` read a gigabyte even with `--display`.
/// Only a regular file below 64 KiB is read; anything else is refused at once, by name.
#[test]
fn run_opts_file_must_be_a_small_regular_file() {
    let world = World::new();
    let big = world.path().join("big-opts");
    std::fs::write(&big, vec![b'x'; 100 << 10]).unwrap();
    for (file, says) in [
        ("/dev/zero", "is a device"),
        (big.to_str().unwrap(), "larger than"),
    ] {
        let spec = ImageSpec::new(format!(
            "i13-runopts-{}",
            if file == "/dev/zero" { "dev" } else { "big" }
        ))
        .label("RUN_OPTS_FILE", file)
        .label("RUN", "docker run --rm ${RUN_OPTS} IMAGE /bin/true");
        let stored = pull_oci(&world, &spec);
        let out = within(
            &world,
            &["run", "--display", "--storage", "native", &stored.name],
            Duration::from_secs(20),
        );
        assert!(!out.status.success(), "{file}: {}", stdout(&out));
        assert!(stderr(&out).contains(says), "{file}: {}", stderr(&out));
    }
}

/// Finding 9: `atomic images prune` with no `--storage` removed dangling images from Docker and
/// Podman too, without a word. Across engines it now lists each engine's dangling images and
/// asks; without a yes (stdin is not a terminal here) nothing is removed and it exits 2.
/// (The `-y` path is not run here: it would prune the shared Docker and Podman of this
/// machine.)
#[test]
fn prune_across_engines_lists_per_engine_and_asks() {
    let world = World::new();
    let old = pull_oci(&world, &ImageSpec::new("i13-prune").label("v", "1"));
    // The name moves to a new image; the old one is dangling.
    let newer = ImageSpec::new("i13-prune").label("v", "2");
    let dir = world.path().join("newer").join("i13-prune");
    atomic_testsupport::write_oci_layout(&newer, &dir).unwrap();
    ok(
        &world,
        &["pull", "-q", &format!("oci:{}:latest", dir.display())],
    );

    let out = world
        .atomic()
        .args(["images", "prune"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let shown = stdout(&out);
    assert!(shown.contains("Do you wish to remove"), "{shown}");
    assert!(
        shown.contains(&format!("{}   native", old.short_id())),
        "{shown}"
    );
    let left = ok(
        &world,
        &["images", "list", "--storage", "native", "-q", "--no-trunc"],
    );
    assert!(
        left.contains(&old.id),
        "the dangling image is still there: {left}"
    );
}

/// Finding 8 (truthful errors): an invalid name was told to "pull it with atomic pull"; an
/// empty or wrong `ATOMIC_STORAGE` was not named; a store root that is a file or a dangling
/// symlink passed silently or said "File exists".
#[test]
fn errors_name_what_is_wrong() {
    let world = World::new();
    let out = run(&world, &["info", "--storage", "native", "Bad Name!"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("neither an image name nor an image ID") && !err.contains("pull it"),
        "{err}"
    );

    for value in ["", "lxc"] {
        let out = world
            .atomic()
            .env("ATOMIC_STORAGE", value)
            .args(["images", "list"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("$ATOMIC_STORAGE"),
            "{value:?}: {}",
            stderr(&out)
        );
    }

    let file = world.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let dangling = world.path().join("dangling");
    std::os::unix::fs::symlink(world.path().join("gone"), &dangling).unwrap();
    for (root, says) in [(&file, "is not a directory"), (&dangling, "does not exist")] {
        for args in [
            &["images", "list", "--storage", "native"][..],
            &["info", "--storage", "native", "busybox"][..],
        ] {
            let out = world
                .atomic()
                .env("ATOMIC_STORE_ROOT", root)
                .args(args)
                .output()
                .unwrap();
            assert!(!out.status.success(), "{args:?} on {}", root.display());
            assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        }
    }
}

/// Finding 6 (gzip bomb): a small gzip layer expanded to gigabytes with no cap. Past 64 MiB of
/// output, a layer may expand at most `layer_expansion_ratio` times (atomic.conf, default
/// 250); 0 turns the check off.
#[test]
fn gzip_bomb_is_refused_and_the_limit_is_configurable() {
    let world = World::new();
    let zeros = vec![0u8; 80 << 20];
    let spec = ImageSpec::new("i13-bomb").layer(LayerSpec::new().file("/zeros", zeros, 0o644));
    let dir = world.path().join("layouts").join("i13-bomb");
    atomic_testsupport::write_oci_layout(&spec, &dir).unwrap();
    let source = format!("oci:{}:latest", dir.display());
    let out = run(&world, &["pull", "-q", &source]);
    assert!(!out.status.success(), "the bomb was pulled");
    assert!(
        stderr(&out).contains("decompression bomb"),
        "{}",
        stderr(&out)
    );
    assert!(
        common::native::layer_dirs(&world).len() <= 1,
        "only the base layer may be stored"
    );

    std::fs::write(world.conf(), "layer_expansion_ratio: 0\n").unwrap();
    ok(&world, &["pull", "-q", &source]);
}

/// Finding 8 (NUL): a NUL in a label was printed raw by `--display`, with exit 0. No command
/// line can hold one: the label is refused, by name.
#[test]
fn nul_in_a_label_is_refused() {
    let world = World::new();
    let spec = ImageSpec::new("i13-nul").label("RUN", "docker run --rm IMAGE /bin/echo a\0b");
    let stored = pull_oci(&world, &spec);
    let out = run(
        &world,
        &["run", "--display", "--storage", "native", &stored.name],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(!stdout(&out).contains('\0'));
    assert!(
        stderr(&out).contains("label RUN") && stderr(&out).contains("NUL"),
        "{}",
        stderr(&out)
    );
}

/// Finding 6 (RUN_OPTS_FILE in the summary): the file is on the host, and its content becomes
/// container options: the privilege summary names it.
#[test]
fn run_opts_file_is_named_in_the_privilege_summary() {
    let world = World::new();
    let opts = world.path().join("opts");
    std::fs::write(&opts, "--privileged").unwrap();
    let spec = ImageSpec::new("i13-runopts-named")
        .label("RUN_OPTS_FILE", opts.to_str().unwrap())
        .label("RUN", "docker run --rm ${RUN_OPTS} IMAGE /bin/true");
    let stored = pull_oci(&world, &spec);
    let out = run(
        &world,
        &["run", "--display", "--storage", "native", &stored.name],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("RUN_OPTS_FILE {}", opts.display())),
        "{err}"
    );
}

/// Finding 8 (slow atomic.conf): a 100 KB malformed `ATOMIC_CONF` took 25 s: libyaml's scanner
/// is quadratic in the nesting of `[`/`{`. A file over 64 KiB is refused unread, one with more
/// than 256 of them before YAML sees it, and other malformed files fail in the parser: each
/// at once, naming the file.
#[test]
fn malformed_atomic_conf_fails_fast() {
    let world = World::new();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("1 MiB of [", vec![b'['; 1 << 20], "larger than 65536 bytes"),
        (
            "1 MiB of a flow list",
            format!("a: [{}", "x, ".repeat(350_000)).into_bytes(),
            "larger than 65536 bytes",
        ),
        ("60 KiB of [", vec![b'['; 60 << 10], "more than 256"),
        ("60 KiB of {", vec![b'{'; 60 << 10], "more than 256"),
        (
            "an unterminated flow list",
            format!("a: [{}", "x, ".repeat(20_000)).into_bytes(),
            "parsing",
        ),
        (
            "repeated keys",
            "a: b\n".repeat(12_000).into_bytes(),
            "duplicate entry",
        ),
    ];
    for (what, text, says) in cases {
        let conf = world.path().join("atomic.conf.bad");
        std::fs::write(&conf, &text).unwrap();
        let started = Instant::now();
        let out = world
            .atomic()
            .env("ATOMIC_CONF", &conf)
            .args(["images", "list", "--storage", "native"])
            .output()
            .unwrap();
        let took = started.elapsed();
        let err = stderr(&out);
        assert!(!out.status.success(), "{what}: {err}");
        assert!(
            err.contains("atomic.conf.bad") && err.contains(says),
            "{what}: {err}"
        );
        assert!(took < Duration::from_secs(1), "{what}: took {took:?}");
    }
}

/// A Docker daemon and a Podman storage of the test's own, so that `images prune -y` across
/// engines can run without touching the machine's shared ones (other tests' images).
struct PrivateEngines {
    dir: PathBuf,
    dockerd: Child,
}

impl PrivateEngines {
    fn start(world: &World) -> PrivateEngines {
        let dir = world.path().join("engines");
        std::fs::create_dir_all(dir.join("podman")).unwrap();
        std::fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{0}/podman/graph\"\n\
                 runroot = \"{0}/podman/run\"\n",
                dir.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let dockerd = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("docker-data"))
            .arg("--exec-root")
            .arg(dir.join("docker-exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}/docker.sock", dir.display()))
            .args(["--containerd-namespace", "i13-prune", "--iptables=false"])
            .args(["--ip6tables=false", "--bridge=none"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let engines = PrivateEngines { dir, dockerd };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !engines
            .docker()
            .arg("version")
            .output()
            .unwrap()
            .status
            .success()
        {
            assert!(
                Instant::now() < deadline,
                "the private dockerd did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        engines
    }

    fn docker_host(&self) -> String {
        format!("unix://{}/docker.sock", self.dir.display())
    }

    fn docker(&self) -> Command {
        let mut cmd = atomic_testsupport::docker_command();
        cmd.env("DOCKER_HOST", self.docker_host());
        cmd
    }

    fn podman(&self) -> Command {
        let mut cmd = atomic_testsupport::podman_command();
        cmd.env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"));
        cmd
    }

    /// What points a program at these engines.
    fn vars(&self) -> [(&'static str, String); 2] {
        [
            ("DOCKER_HOST", self.docker_host()),
            (
                "CONTAINERS_STORAGE_CONF",
                self.dir.join("storage.conf").display().to_string(),
            ),
        ]
    }

    /// Load an archive into both engines.
    fn load(&self, archive: &Path) {
        for mut cmd in [self.docker(), self.podman()] {
            let out = cmd.arg("load").arg("-i").arg(archive).output().unwrap();
            assert!(out.status.success(), "load: {}", stderr(&out));
        }
    }

    /// The IDs of an engine's images (`dangling`: only those with no name).
    fn ids(mut cmd: Command, dangling: bool) -> String {
        cmd.args(["images", "-q", "--no-trunc"]);
        if dangling {
            cmd.args(["--filter", "dangling=true"]);
        }
        stdout(&cmd.output().unwrap())
    }
}

impl Drop for PrivateEngines {
    fn drop(&mut self) {
        // The Podman storage goes with the world's directory (no `podman system reset`: it
        // would also remove the machine's shared networks).
        let _ = Command::new("kill")
            .arg(self.dockerd.id().to_string())
            .status();
        let _ = self.dockerd.wait();
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.join("docker-data"))
            .status();
    }
}

/// Finding 9 (the yes path): `atomic images prune -y` with no `--storage` removes the dangling
/// images of Docker, Podman and the native store, and only those: the named images stay.
/// Run against a Docker daemon and a Podman storage of the test's own.
#[test]
fn prune_across_engines_with_yes_removes_dangling_images_everywhere() {
    if which("dockerd").is_none() || which("podman").is_none() {
        eprintln!("dockerd or podman missing: skipped");
        assert!(std::env::var_os("ATOMIC_TEST_REQUIRE_ENGINES").is_none());
        return;
    }
    let world = World::new();
    let engines = PrivateEngines::start(&world);
    let mut ids = Vec::new();
    for version in ["1", "2"] {
        let spec = ImageSpec::new("i13-prune-yes").label("v", version);
        let archive = world.path().join(format!("i13-prune-yes-{version}.tar"));
        let id = atomic_testsupport::write_docker_archive(&spec, &archive).unwrap();
        engines.load(&archive);
        ids.push(id.hex().to_string());
    }
    let old_native = pull_oci(&world, &ImageSpec::new("i13-prune-yes").label("v", "1"));
    let newer = ImageSpec::new("i13-prune-yes").label("v", "2");
    let dir = world.path().join("newer").join("i13-prune-yes");
    atomic_testsupport::write_oci_layout(&newer, &dir).unwrap();
    ok(
        &world,
        &["pull", "-q", &format!("oci:{}:latest", dir.display())],
    );
    for engine in [engines.docker(), engines.podman()] {
        let dangling = PrivateEngines::ids(engine, true);
        assert!(dangling.contains(&ids[0]), "not dangling: {dangling}");
    }

    let out = world
        .atomic()
        .envs(engines.vars())
        .args(["images", "prune", "-y"])
        .output()
        .unwrap();
    let shown = stdout(&out);
    assert!(out.status.success(), "{shown}{}", stderr(&out));
    for kind in ["docker", "podman", "native"] {
        assert!(shown.contains(kind), "{kind} not listed: {shown}");
    }
    for engine in [engines.docker(), engines.podman()] {
        let left = PrivateEngines::ids(engine, false);
        assert!(
            !left.contains(&ids[0]),
            "the dangling image is left: {left}"
        );
        assert!(left.contains(&ids[1]), "the named image is gone: {left}");
    }
    let left = ok(
        &world,
        &["images", "list", "--storage", "native", "-q", "--no-trunc"],
    );
    assert!(!left.contains(&old_native.id), "{left}");
    assert!(!left.trim().is_empty(), "the named native image is gone");
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// Finding 8 (truthful errors): "cannot reach HOST" was said of a registry that did answer —
/// with a broken chunk, or a token realm that cannot be reached. What failed is named instead.
#[test]
fn a_registry_that_answers_is_not_called_unreachable() {
    let world = World::new();
    for (fake, says) in [
        (Fake::BrokenChunk, "broke off"),
        (Fake::BadRealm, "127.0.0.1:1"),
    ] {
        let addr = fake_registry(fake);
        let image = format!("{addr}/i13/answers:v1");
        let args = ["pull", "--storage", "native", "--tls-verify=false", &image];
        let out = within(&world, &args, Duration::from_secs(60));
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(!err.contains(&format!("cannot reach {addr}")), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

//! Containers on the native engine, run for real with runc: label command lines carried out
//! without a daemon, the super-privileged container, detached containers under their
//! supervisor, and what is left (nothing) after `--rm`, a kill or a delete.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use atomic_testsupport::ImageSpec;
use common::native::{Stored, docker, pull_oci, succeeded};
use common::{Kind, World, stderr, stdout};

/// runc and root are needed; without them the test is skipped (or fails in CI).
fn usable() -> bool {
    Kind::Native.usable()
}

/// An image whose RUN label is `run`, pulled into the world's store.
fn labelled(world: &World, name: &str, run: &str) -> Stored {
    pull_oci(world, &ImageSpec::new(name).label("RUN", run))
}

/// `atomic ARGS…` in the world, on the native storage (`$ATOMIC_STORAGE`: a flag at the end
/// would be read as part of the container's command).
fn native(world: &World, args: &[&str]) -> Output {
    world
        .atomic()
        .env("ATOMIC_STORAGE", "native")
        .env("TZ", "UTC")
        .args(args)
        .output()
        .unwrap()
}

fn ok(world: &World, args: &[&str]) -> String {
    succeeded(args, native(world, args))
}

/// Mount points under `dir` in this mount namespace.
fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|mp| mp.starts_with(&dir))
        .collect()
}

/// Container directories and pins left in the world's store.
fn leftovers(world: &World) -> (usize, usize) {
    let count = |dir: &str| {
        std::fs::read_dir(world.store_root().join(dir))
            .map(|entries| {
                entries
                    .filter(|e| {
                        let name = e.as_ref().unwrap().file_name();
                        let name = name.to_string_lossy();
                        name.len() == 64 && !name.starts_with('.')
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    (count("containers"), count("pins"))
}

/// `containers list -a --json` entries of the container called `name`: its state, or None.
fn state_of(world: &World, name: &str) -> Option<String> {
    let out = ok(world, &["containers", "list", "-a", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| c["state"].as_str().unwrap().to_string())
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rm_run_returns_the_exit_code_and_leaves_nothing() {
    if !usable() {
        return;
    }
    let world = World::new();
    labelled(
        &world,
        "rmrun",
        r#"docker run --rm ${IMAGE} /bin/sh -c "echo out; echo err >&2; exit 7""#,
    );
    let out = native(&world, &["run", "-q", "rmrun"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).contains("err"), "{}", stderr(&out));
    assert_eq!(leftovers(&world), (0, 0));
    assert_eq!(mounts_under(&world.store_root()), Vec::<String>::new());
}

#[test]
fn run_flags_reach_the_container() {
    if !usable() {
        return;
    }
    let world = World::new();
    let dir = world.path();
    std::fs::create_dir(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/f"), "from a volume\n").unwrap();
    std::fs::create_dir(dir.join("m")).unwrap();
    std::fs::write(dir.join("m/g"), "from a mount\n").unwrap();
    std::fs::write(dir.join("env.list"), "# a comment\nB=from the env file\n").unwrap();
    labelled(
        &world,
        "flags",
        "docker run --rm -e A=1 -e SUDO_GID --env-file ${PWD}/env.list -v ${PWD}/data:/data:ro \
         -v ${PWD}/new:/new --tmpfs /scratch --mount type=bind,source=${PWD}/m,target=/m \
         -w /data --hostname h1 -l x=y --cap-drop ALL --cap-add CHOWN --ulimit nofile=512:512 \
         --security-opt no-new-privileges ${IMAGE} /bin/sh -c 'echo A=$A G=$SUDO_GID B=$B; pwd; \
         hostname; cat /data/f /m/g; touch /data/x 2>/dev/null || echo read-only; \
         touch /scratch/t && echo tmpfs; grep -E \"CapEff|NoNewPrivs\" /proc/self/status; \
         ulimit -n; cat /proc/net/dev | wc -l'",
    );
    // A bare `-e SUDO_GID` takes the value atomic gives the label (here, the caller's).
    let out = world
        .atomic()
        .env("ATOMIC_STORAGE", "native")
        .env("SUDO_GID", "4321")
        .args(["run", "-q", "flags"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let want = "A=1 G=4321 B=from the env file\n/data\nh1\nfrom a volume\nfrom a mount\n\
                read-only\ntmpfs\nCapEff:\t0000000000000001\nNoNewPrivs:\t1\n512\n4\n";
    assert_eq!(text, want);
    // -v creates a missing source directory, as docker does.
    assert!(dir.join("new").is_dir());
}

#[test]
fn user_read_only_and_host_network() {
    if !usable() {
        return;
    }
    let world = World::new();
    labelled(
        &world,
        "userro",
        "docker run --rm -u nobody --read-only --net=host ${IMAGE} /bin/sh -c \
         'id -u; id -g; touch /x 2>/dev/null || echo read-only; cat /proc/net/dev | wc -l'",
    );
    let text = ok(&world, &["run", "-q", "userro"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..3], ["65534", "65534", "read-only"], "{text}");
    let host_lines = std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines[3], host_lines.to_string(), "the host's interfaces");
}

#[test]
fn unsupported_flags_are_refused_by_name() {
    if !usable() {
        return;
    }
    let world = World::new();
    for (label, flag, hint) in [
        (
            "docker run --rm -p 8080:80:80:80 ${IMAGE} true",
            "-p 8080:80:80:80",
            "expected [IP:]",
        ),
        (
            "docker run --rm --memory 1g ${IMAGE} true",
            "--memory",
            "--storage docker",
        ),
        (
            "docker run --rm -v data:/data ${IMAGE} true",
            "data:/data",
            "named volumes",
        ),
        (
            "docker network connect x y",
            "network connect",
            "--storage docker",
        ),
    ] {
        labelled(&world, "refused", label);
        let out = native(&world, &["run", "-q", "refused"]);
        assert_eq!(out.status.code(), Some(125), "{label}");
        let err = stderr(&out);
        assert!(err.contains(flag) && err.contains(hint), "{label}: {err}");
    }
    assert_eq!(leftovers(&world), (0, 0), "nothing is created");
}

#[test]
fn spc_sees_host_pids_and_the_host_root() {
    if !usable() {
        return;
    }
    let world = World::new();
    pull_oci(&world, &ImageSpec::new("spc"));
    std::fs::write(world.path().join("marker"), "on the host\n").unwrap();
    let script = format!(
        "cat /host{}/marker; test -d /proc/{} && echo sees-host-pid; echo $HOST $NAME",
        world.path().display(),
        std::process::id()
    );
    let text = ok(&world, &["run", "-q", "--spc", "spc", "sh", "-c", &script]);
    assert_eq!(text, "on the host\nsees-host-pid\n/host spc-spc\n");
    // The original's SPC keeps its container: it is listed, and deleting it leaves nothing.
    assert_eq!(state_of(&world, "spc-spc").as_deref(), Some("exited"));
    ok(&world, &["containers", "delete", "-y", "spc-spc"]);
    assert_eq!(leftovers(&world), (0, 0));
    assert_eq!(mounts_under(&world.store_root()), Vec::<String>::new());
}

#[test]
fn detached_container_is_supervised_stopped_and_deleted() {
    if !usable() {
        return;
    }
    let world = World::new();
    pull_oci(
        &world,
        &ImageSpec::new("daemon")
            .label(
                "RUN",
                "docker run -d --name ${NAME} ${IMAGE} /bin/sh -c \"echo started; \
                 trap 'echo bye; exit 3' TERM; while true; do sleep 0.1; done\"",
            )
            .label("STOP", "docker stop -t 5 ${NAME}"),
    );
    let id = ok(&world, &["run", "-q", "daemon"]);
    assert_eq!(id.trim().len(), 64, "docker run -d prints the ID: {id}");
    assert_eq!(state_of(&world, "daemon").as_deref(), Some("running"));
    assert!(ok(&world, &["containers", "list", "-q"]).contains(&id.trim()[..12]));
    // A second run finds it running; a command is exec'd into it.
    let out = native(&world, &["run", "daemon"]);
    assert!(
        stdout(&out).contains("Container is running"),
        "{}",
        stdout(&out)
    );
    let host = ok(&world, &["run", "-q", "daemon", "cat", "/etc/hostname"]);
    assert_eq!(host.trim(), &id.trim()[..12]);
    // top finds its processes without a terminal: the shell and its sleep.
    let top = ok(&world, &["top", "-n", "1", "-o", "ppid", "daemon"]);
    let lines: Vec<&str> = top.lines().collect();
    assert!(lines[0].starts_with("CONTAINER    NAME"), "{top}");
    assert!(lines[0].ends_with(" PPID       CMD"), "{top}");
    assert!(
        lines[1].starts_with(&id.trim()[..12]) && lines[1].contains("/bin/sh -c echo started"),
        "{top}"
    );

    ok(&world, &["stop", "-q", "daemon"]);
    assert_eq!(state_of(&world, "daemon").as_deref(), Some("exited"));
    let code = docker(
        &world,
        &["inspect", "--format", "{{.State.ExitCode}}", "daemon"],
    );
    assert_eq!(
        stdout(&code).trim(),
        "3",
        "the trap's exit code is recorded"
    );
    let logs = docker(&world, &["logs", "daemon"]);
    assert_eq!(stdout(&logs), "started\nbye\n");
    assert_eq!(mounts_under(&world.store_root()), Vec::<String>::new());

    ok(&world, &["containers", "delete", "-y", "daemon"]);
    assert_eq!(leftovers(&world), (0, 0));
}

#[test]
fn force_deleting_running_containers_leaves_nothing() {
    // The supervisor of a container killed by `rm -f` saves its exit while the deleting atomic
    // removes the directory: CI once saw "Directory not empty" from that race. Rounds make it
    // likelier; state.rs's unit test reproduces the race itself.
    if !usable() {
        return;
    }
    let world = World::new();
    labelled(&world, "forced", "true");
    for round in 0..6 {
        let name = format!("forced-{round}");
        let started = docker(
            &world,
            &["run", "-d", "--name", &name, "forced", "/bin/sleep", "60"],
        );
        assert!(started.status.success(), "{}", stderr(&started));
        assert_eq!(state_of(&world, &name).as_deref(), Some("running"));
        let removed = docker(&world, &["rm", "-f", &name]);
        assert!(
            removed.status.success(),
            "round {round}: {}",
            stderr(&removed)
        );
        assert_eq!(state_of(&world, &name), None);
    }
    assert_eq!(leftovers(&world), (0, 0));
    let entries: Vec<_> = std::fs::read_dir(world.store_root().join("containers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".lock"))
        .collect();
    assert_eq!(entries, Vec::<String>::new(), "nothing set aside is left");
    assert_eq!(mounts_under(&world.store_root()), Vec::<String>::new());
}

#[test]
fn killed_atomic_leaves_a_container_that_is_reported_and_deleted() {
    if !usable() {
        return;
    }
    let world = World::new();
    labelled(
        &world,
        "killed",
        "docker run --name ${NAME} ${IMAGE} /bin/sh -c 'touch /tmp/up; sleep 2'",
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"))
        .current_dir(world.path())
        .env("ATOMIC_CONF", world.conf())
        .env("ATOMIC_INSTALL_JSON", world.install_json())
        .env("ATOMIC_STORE_ROOT", world.store_root())
        .args(["run", "-q", "--storage", "native", "killed"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the container runs", || {
        state_of(&world, "killed").as_deref() == Some("running")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // runc goes on without atomic: the container is still running, and then it is not.
    assert_eq!(state_of(&world, "killed").as_deref(), Some("running"));
    wait_for("the container ends", || {
        state_of(&world, "killed").as_deref() == Some("exited")
    });
    ok(&world, &["containers", "delete", "-y", "killed"]);
    assert_eq!(leftovers(&world), (0, 0));
    assert_eq!(mounts_under(&world.store_root()), Vec::<String>::new());
}

#[test]
fn restart_on_failure_runs_again_up_to_its_limit() {
    if !usable() {
        return;
    }
    let world = World::new();
    labelled(
        &world,
        "retry",
        "docker run -d --restart on-failure:2 --name ${NAME} ${IMAGE} \
         /bin/sh -c 'echo try; exit 1'",
    );
    ok(&world, &["run", "-q", "retry"]);
    wait_for("three tries", || {
        stdout(&docker(&world, &["logs", "retry"])) == "try\ntry\ntry\n"
            && state_of(&world, "retry").as_deref() == Some("exited")
    });
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        stdout(&docker(&world, &["logs", "retry"])),
        "try\ntry\ntry\n"
    );
    ok(&world, &["containers", "delete", "-y", "retry"]);
}

#[test]
fn an_image_a_container_uses_keeps_its_layers() {
    if !usable() {
        return;
    }
    let world = World::new();
    let image = labelled(
        &world,
        "kept",
        "docker create --name ${NAME} ${IMAGE} echo kept",
    );
    ok(&world, &["run", "-q", "kept"]);
    let out = native(&world, &["images", "delete", "-y", "kept"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("container kept"), "{}", stderr(&out));
    // Forced, the name goes; the container's layers stay through a prune.
    ok(&world, &["images", "delete", "-f", "-y", "kept"]);
    ok(&world, &["images", "prune"]);
    let started = docker(&world, &["start", "-a", "kept"]);
    assert_eq!(stdout(&started), "kept\n", "{}", stderr(&started));
    ok(&world, &["containers", "delete", "-y", "kept"]);
    ok(&world, &["images", "prune"]);
    assert!(
        common::native::layer_dirs(&world).is_empty(),
        "the layers of {} go with the container",
        image.name
    );
}

#[test]
fn a_container_whose_config_cannot_be_made_leaves_nothing() {
    if !usable() {
        return;
    }
    let world = World::new();
    labelled(
        &world,
        "baddevice",
        "docker run --rm -v ${PWD}/new:/new --device /dev/atomic-no-such-device ${IMAGE} true",
    );
    let out = native(&world, &["run", "-q", "baddevice"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("/dev/atomic-no-such-device"),
        "{}",
        stderr(&out)
    );
    assert_eq!(leftovers(&world), (0, 0));
    // Not even the -v source a started container would have had.
    assert!(!world.path().join("new").exists());
}

#[test]
fn a_taken_name_is_refused() {
    if !usable() {
        return;
    }
    let world = World::new();
    labelled(&world, "twice", "docker create --name fixed ${IMAGE} true");
    ok(&world, &["run", "-q", "twice"]);
    let out = native(&world, &["run", "-q", "twice"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("already in use"), "{}", stderr(&out));
    assert_eq!(leftovers(&world).0, 1);
    ok(&world, &["containers", "delete", "-y", "fixed"]);
}

#[test]
fn a_container_keeps_the_runtime_it_was_created_with() {
    use std::os::unix::fs::PermissionsExt;
    if !usable() {
        return;
    }
    let world = World::new();
    let log = world.path().join("runtime.log");
    let wrapper = world.path().join("my-runtime");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\nexec runc \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let wrapper = wrapper.to_str().unwrap();
    labelled(
        &world,
        "wrapped",
        "docker run -d --name ${NAME} ${IMAGE} sleep 30",
    );
    ok(&world, &["run", "-q", "--runtime", wrapper, "wrapped"]);
    let list: serde_json::Value =
        serde_json::from_str(&ok(&world, &["containers", "list", "--json"])).unwrap();
    assert_eq!(list[0]["runtime"], wrapper);
    // Stopped without --runtime: its own runtime does it.
    ok(&world, &["stop", "-q", "wrapped"]);
    ok(&world, &["containers", "delete", "-y", "wrapped"]);
    let calls = std::fs::read_to_string(&log).unwrap();
    for verb in ["create", "start", "kill", "delete"] {
        assert!(
            calls.lines().any(|l| l.split(' ').any(|w| w == verb)),
            "{verb} not run through the wrapper:\n{calls}"
        );
    }

    // A runtime that is not there: a clear error, and the --rm container is gone.
    labelled(&world, "nort", "docker run --rm ${IMAGE} true");
    let out = native(
        &world,
        &["run", "-q", "--runtime", "/nonexistent/runtime", "nort"],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("the OCI runtime '/nonexistent/runtime' is not installed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(leftovers(&world), (0, 0));
    assert_eq!(mounts_under(&world.store_root()), Vec::<String>::new());
}

#[test]
fn mount_points_the_image_lacks_come_from_a_shared_init_layer() {
    if !usable() {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let world = World::new();
    let image = pull_oci(&world, &ImageSpec::new("initlayer"));
    let image_etc =
        std::fs::metadata(common::native::layer_with(&world, "etc").join("etc")).unwrap();
    assert!(
        common::native::layer_dirs(&world)
            .iter()
            .all(|l| !l.join("etc/hosts").exists()),
        "the test image must lack /etc/hosts"
    );
    for name in ["first", "second"] {
        let out = docker(
            &world,
            &[
                "run",
                "--name",
                name,
                "--hostname",
                name,
                &image.name,
                "/bin/sh",
                "-c",
                "stat -c '%a %u %g %Y' /etc; cat /etc/hostname",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        // /etc as the image has it, with the container's own /etc/hostname mounted on it.
        assert_eq!(
            stdout(&out),
            format!(
                "{:o} {} {} {}\n{name}\n",
                image_etc.mode() & 0o7777,
                image_etc.uid(),
                image_etc.gid(),
                image_etc.mtime()
            )
        );
    }
    // runc made nothing in the containers' own directories: one init layer serves both.
    for entry in std::fs::read_dir(world.store_root().join("containers")).unwrap() {
        let upper = entry.unwrap().path().join("upper");
        if upper.is_dir() {
            let made: Vec<_> = std::fs::read_dir(&upper).unwrap().collect();
            assert!(made.is_empty(), "{} holds {made:?}", upper.display());
        }
    }
    assert_eq!(
        std::fs::read_dir(world.store_root().join("init"))
            .unwrap()
            .count(),
        1
    );
    for name in ["first", "second"] {
        assert!(docker(&world, &["rm", name]).status.success());
    }
}

/// A normal user gets one clear error before anything is made (the built-in engine has no
/// user namespaces): not a bare EPERM from a half-made container, which is what mounting its
/// root filesystem used to fail with. The user's store keeps no container.
#[test]
fn a_normal_user_is_told_the_engine_needs_root_and_nothing_is_left() {
    use std::os::unix::fs::PermissionsExt;
    if !usable() {
        return;
    }
    let world = World::new();
    // The test's temporary directory is private: opened as a home's parent is, with the
    // binary copied into it, so that uid 65534 reaches both.
    std::fs::set_permissions(world.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let layout = world.path().join("layouts/i16-user");
    atomic_testsupport::write_oci_layout(&ImageSpec::new("i16-user"), &layout).unwrap();
    let readable = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&layout)
        .status()
        .unwrap();
    assert!(readable.success());
    let bin = world.path().join("atomic");
    std::fs::copy(assert_cmd::cargo::cargo_bin("atomic"), &bin).unwrap();
    let home = world.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let as_user = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &home)
            .env("ATOMIC_CONF", world.path().join("no-atomic.conf"))
            .env("ATOMIC_STORE_ROOT", home.join("store"))
            .output()
            .unwrap()
    };
    let source = format!("oci:{}:latest", layout.display());
    let pulled = as_user(&["pull", "-q", &source]);
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    for network in ["bridge", "none"] {
        let out = as_user(&[
            "native-docker",
            "docker",
            "run",
            "--rm",
            "--network",
            network,
            "localhost/i16-user",
            "true",
        ]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("runs containers as root only"), "{err}");
        assert!(err.contains("--storage podman"), "{err}");
        assert!(!err.contains("Operation not permitted"), "{err}");
    }
    let listed = as_user(&["containers", "list", "-a", "-q", "--storage", "native"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(stdout(&listed).trim(), "", "no container is left");
}

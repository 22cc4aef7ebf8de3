//! Log drivers of the native engine, run for real with runc on this host: json-file (the
//! default), none, a bad driver, journald where no journald runs. The journald driver itself is
//! proved in the booted systemd host (`native_logs_journald.rs`).

mod common;

use std::time::{Duration, Instant};

use atomic_testsupport::ImageSpec;
use common::native::{docker, docker_ok, pull_oci};
use common::{Kind, World, stderr, stdout};

fn usable() -> bool {
    Kind::Native.usable()
}

/// Waits until the container `name` has exited (its supervisor records it after the last line
/// is logged).
fn wait_exited(world: &World, name: &str) {
    let start = Instant::now();
    loop {
        let state = docker_ok(world, &["inspect", "-f", "{{.State.Status}}", name]);
        if state.trim() == "exited" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{name} still {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Container directories left in the world's store.
fn containers(world: &World) -> usize {
    std::fs::read_dir(world.store_root().join("containers"))
        .map(|e| {
            e.filter(|e| e.as_ref().unwrap().file_name().len() == 64)
                .count()
        })
        .unwrap_or(0)
}

fn image(world: &World) -> String {
    pull_oci(world, &ImageSpec::new("i16b-logs")).name
}

/// The script of the test containers: a line on each stream, a line longer than Docker's 16
/// KiB cut, and a last line without a newline.
const SCRIPT: &str = "echo out one; echo err one >&2; i=0; line=; \
                      while [ $i -lt 2500 ]; do line=\"${line}0123456789\"; i=$((i+1)); done; \
                      echo \"$line\"; printf 'no newline'";

fn long_line() -> String {
    "0123456789".repeat(2500)
}

#[test]
fn json_file_is_the_default_and_docker_logs_reads_it_back() {
    if !usable() {
        return;
    }
    let world = World::new();
    let image = image(&world);
    docker_ok(
        &world,
        &[
            "run",
            "-d",
            "--name",
            "i16b-json",
            &image,
            "/bin/sh",
            "-c",
            SCRIPT,
        ],
    );
    wait_exited(&world, "i16b-json");

    // Docker's json-file format, in the container's directory.
    let id = docker_ok(&world, &["inspect", "-f", "{{.Id}}", "i16b-json"]);
    let file = world
        .store_root()
        .join("containers")
        .join(id.trim())
        .join("container-json.log");
    let log_path = docker_ok(&world, &["inspect", "-f", "{{.LogPath}}", "i16b-json"]);
    assert_eq!(log_path.trim(), file.to_string_lossy(), "inspect's LogPath");
    let text = std::fs::read_to_string(&file).unwrap();
    let entries: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        entries
            .iter()
            .any(|e| e["log"] == "err one\n" && e["stream"] == "stderr"),
        "{text:.300}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["time"].as_str().unwrap().ends_with('Z'))
    );
    let longest = entries
        .iter()
        .map(|e| e["log"].as_str().unwrap().len())
        .max()
        .unwrap();
    assert_eq!(longest, 16 * 1024, "long lines are cut at 16 KiB");

    let logs = docker(&world, &["logs", "i16b-json"]);
    assert_eq!(
        stdout(&logs),
        format!("out one\n{}\nno newline", long_line()),
        "stdout lines, the long one whole again"
    );
    assert_eq!(stderr(&logs), "err one\n");

    let tail = docker(&world, &["logs", "--tail", "1", "i16b-json"]);
    assert_eq!(stdout(&tail), "no newline");
    let stamped = docker_ok(&world, &["logs", "-t", "-n", "1", "i16b-json"]);
    let (time, line) = stamped.split_once(' ').unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok() && line == "no newline",
        "{stamped}"
    );
    let future = docker(&world, &["logs", "--since", "2099-01-01", "i16b-json"]);
    assert!(future.status.success() && stdout(&future).is_empty() && stderr(&future).is_empty());
    let recent = docker(&world, &["logs", "--since", "10m", "i16b-json"]);
    assert_eq!(stderr(&recent), "err one\n");
    // `docker logs | head`: a reader that goes away ends it quietly.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"))
        .env("ATOMIC_STORE_ROOT", world.store_root())
        .env("ATOMIC_CONF", world.conf())
        .args(["native-docker", "docker", "logs", "i16b-json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let closed = child.wait_with_output().unwrap();
    assert!(closed.status.success(), "{}", stderr(&closed));
    assert!(!stderr(&closed).contains("error"), "{}", stderr(&closed));
    let bad = docker(&world, &["logs", "--since", "yesterday", "i16b-json"]);
    assert!(
        stderr(&bad).contains("--since 'yesterday'"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn none_keeps_nothing_and_docker_logs_says_so() {
    if !usable() {
        return;
    }
    let world = World::new();
    let image = image(&world);
    docker_ok(
        &world,
        &[
            "run",
            "-d",
            "--log-driver",
            "none",
            "--name",
            "i16b-none",
            &image,
            "/bin/sh",
            "-c",
            "echo hidden",
        ],
    );
    wait_exited(&world, "i16b-none");
    let out = docker(&world, &["logs", "i16b-none"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--log-driver none")
            && stderr(&out).contains("does not support reading"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
    let driver = docker_ok(
        &world,
        &[
            "inspect",
            "-f",
            "{{.HostConfig.LogConfig.Type}}",
            "i16b-none",
        ],
    );
    assert_eq!(driver.trim(), "none");
    let id = docker_ok(&world, &["inspect", "-f", "{{.Id}}", "i16b-none"]);
    let dir = world.store_root().join("containers").join(id.trim());
    assert!(!dir.join("container-json.log").exists());
}

#[test]
fn a_bad_log_driver_or_option_is_an_error_and_creates_nothing() {
    if !usable() {
        return;
    }
    let world = World::new();
    let image = image(&world);
    for (args, needle) in [
        (
            vec!["--log-driver", "syslog"],
            "unknown log driver 'syslog'",
        ),
        (
            vec!["--log-opt", "labels-regex=^a"],
            "log option 'labels-regex'",
        ),
        (vec!["--log-opt", "max-size=lots"], "max-size 'lots'"),
        (
            vec!["--log-driver", "journald", "--log-opt", "max-size=1m"],
            "the journald log driver does not take them",
        ),
        (vec!["--log-opt", "tag={{.Label}}"], "not '.Label'"),
    ] {
        let mut argv = vec!["run", "-d", "--name", "i16b-bad"];
        argv.extend(&args);
        argv.extend([image.as_str(), "true"]);
        let out = docker(&world, &argv);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert_eq!(containers(&world), 0, "{args:?} created a container");
    }

    // A foreground run that names a driver runs, and says its output is not logged.
    let out = docker(
        &world,
        &[
            "run",
            "--rm",
            "--log-driver",
            "json-file",
            &image,
            "echo",
            "shown",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "shown\n");
    assert!(
        stderr(&out).contains("logs detached containers (-d)"),
        "{}",
        stderr(&out)
    );

    // A bad default in atomic.conf is named as such, and creates nothing either.
    std::fs::write(world.conf(), "log_driver: gelf\n").unwrap();
    let out = docker(&world, &["run", "-d", "--name", "i16b-bad", &image, "true"]);
    assert!(
        stderr(&out).contains("log_driver in atomic.conf") && stderr(&out).contains("'gelf'"),
        "{}",
        stderr(&out)
    );
    assert_eq!(containers(&world), 0);

    // journald where none runs: refused before the container exists.
    if !std::path::Path::new("/run/systemd/journal/socket").exists() {
        std::fs::write(world.conf(), "log_driver: journald\n").unwrap();
        let out = docker(&world, &["run", "-d", "--name", "i16b-bad", &image, "true"]);
        assert!(
            stderr(&out).contains("journald does not answer"),
            "{}",
            stderr(&out)
        );
        assert_eq!(containers(&world), 0);
    }
}

#[test]
fn follow_prints_lines_as_they_come_and_ends_when_the_container_stops() {
    if !usable() {
        return;
    }
    let world = World::new();
    let image = image(&world);
    docker_ok(
        &world,
        &[
            "run",
            "-d",
            "--name",
            "i16b-follow",
            &image,
            "/bin/sh",
            "-c",
            "echo first; sleep 1; echo second >&2; sleep 1; echo third",
        ],
    );
    let start = Instant::now();
    let out = docker(&world, &["logs", "-f", "i16b-follow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "first\nthird\n");
    assert_eq!(stderr(&out), "second\n");
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "-f waited for the container"
    );
}

/// The PID of the supervisor of container `id` (`atomic supervise-container … ID`).
fn supervisor_of(id: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let entry = entry.ok()?;
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        (args.contains(&&b"supervise-container"[..]) && args.contains(&id.as_bytes()))
            .then_some(pid)
    })
}

#[test]
fn a_killed_supervisor_keeps_what_was_logged_and_the_container_can_be_deleted() {
    if !usable() {
        return;
    }
    let world = World::new();
    let image = image(&world);
    let id = docker_ok(
        &world,
        &[
            "run",
            "-d",
            "--name",
            "i16b-orphan",
            &image,
            "/bin/sh",
            "-c",
            "echo before; while true; do sleep 0.2; echo tick; done",
        ],
    );
    let id = id.trim();
    let start = Instant::now();
    while !stdout(&docker(&world, &["logs", "i16b-orphan"])).contains("tick") {
        assert!(start.elapsed() < Duration::from_secs(20), "no tick logged");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = supervisor_of(id).expect("the supervisor runs");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    // Without a reader the container's writes fail (EPIPE; as PID 1 of its namespace the
    // shell ignores SIGPIPE and goes on, as it would under a killed conmon). What was logged
    // stays readable, and the container is still removed whole.
    std::thread::sleep(Duration::from_millis(500));
    let logs = docker_ok(&world, &["logs", "i16b-orphan"]);
    assert!(logs.starts_with("before\ntick\n"), "{logs}");
    docker_ok(&world, &["rm", "-f", "i16b-orphan"]);
    assert_eq!(containers(&world), 0);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&world.store_root().to_string_lossy().into_owned()),
        "a mount is left under the store"
    );
}

#[test]
fn max_size_rotates_the_json_file_and_follow_crosses_rotations() {
    if !usable() {
        return;
    }
    let world = World::new();
    let image = image(&world);
    // An entry is ~80 bytes: a 1 KiB file holds about a dozen, so 60 lines rotate it about
    // five times, one every ~0.6 s, while `-f` follows.
    docker_ok(
        &world,
        &[
            "run",
            "-d",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
            "-l",
            "app=web",
            "-e",
            "MODE=prod",
            "--log-opt",
            "labels=app,absent",
            "--log-opt",
            "env=MODE",
            "--name",
            "i16b-rotate",
            &image,
            "/bin/sh",
            "-c",
            "i=0; while [ $i -lt 60 ]; do echo line $i; i=$((i+1)); sleep 0.05; done",
        ],
    );
    let followed = docker_ok(&world, &["logs", "-f", "i16b-rotate"]);
    let all: String = (0..60).map(|i| format!("line {i}\n")).collect();
    assert_eq!(followed, all, "-f printed every line once, in order");

    let id = docker_ok(&world, &["inspect", "-f", "{{.Id}}", "i16b-rotate"]);
    let dir = world.store_root().join("containers").join(id.trim());
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("container-json.log"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "container-json.log",
            "container-json.log.1",
            "container-json.log.2"
        ]
    );
    // labels= and env= put the values the container has in every entry, as Docker's attrs.
    let text = std::fs::read_to_string(dir.join("container-json.log")).unwrap();
    for line in text.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            entry["attrs"],
            serde_json::json!({"app": "web", "MODE": "prod"}),
            "{line}"
        );
    }
    let kept = docker_ok(&world, &["logs", "i16b-rotate"]);
    assert!(kept.ends_with("line 58\nline 59\n"), "{kept}");
    assert!(
        !kept.starts_with("line 0\n"),
        "the oldest lines were dropped: {kept}"
    );
    let lines: Vec<&str> = kept.lines().collect();
    let first: usize = lines[0].trim_start_matches("line ").parse().unwrap();
    let want: Vec<String> = (first..60).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, want, "what is kept is contiguous");
}

/// A tmpfs mounted at a directory for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs at {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fill the filesystem of `path` until a write fails with ENOSPC.
fn fill(path: &std::path::Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = file.write_all(&chunk) {
            assert_eq!(e.raw_os_error(), Some(28), "{e}");
            break;
        }
    }
    // What is left is less than a chunk: fill that too, a byte at a time.
    while file.write_all(&[0]).is_ok() {}
}

fn wait_file(path: &std::path::Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_full_disk_under_json_file_loses_lines_says_so_and_blocks_nothing() {
    if !usable() {
        return;
    }
    let world = World::new();
    // The store on a small filesystem of its own, which the test fills.
    let _tmpfs = Tmpfs::mount(&world.store_root(), "64m");
    let image = image(&world);
    let signals = world.path().join("signals");
    std::fs::create_dir_all(&signals).unwrap();
    let volume = format!("{}:/sig", signals.display());
    // 2000 lines while the disk is full: far more than a pipe holds, so a copier that stopped
    // reading would block the container.
    let script = "echo before; while [ ! -e /sig/full ]; do sleep 0.05; done; \
                  i=0; while [ $i -lt 2000 ]; do echo lost $i; i=$((i+1)); done; \
                  touch /sig/wrote; while [ ! -e /sig/freed ]; do sleep 0.05; done; echo after";
    docker_ok(
        &world,
        &[
            "run",
            "-d",
            "-v",
            &volume,
            "--name",
            "i16b-full",
            &image,
            "/bin/sh",
            "-c",
            script,
        ],
    );
    let start = Instant::now();
    while !stdout(&docker(&world, &["logs", "i16b-full"])).contains("before") {
        assert!(start.elapsed() < Duration::from_secs(20), "nothing logged");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ballast = world.store_root().join("ballast");
    fill(&ballast);
    std::fs::write(signals.join("full"), "").unwrap();
    wait_file(&signals.join("wrote"));
    // The copier meets the full disk with the last of those lines, then space comes back.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::remove_file(&ballast).unwrap();
    std::fs::write(signals.join("freed"), "").unwrap();
    wait_exited(&world, "i16b-full");

    let code = docker_ok(
        &world,
        &["inspect", "-f", "{{.State.ExitCode}}", "i16b-full"],
    );
    assert_eq!(code.trim(), "0", "the container ran to its end");
    let logs = docker(&world, &["logs", "i16b-full"]);
    let (out, err) = (stdout(&logs), stderr(&logs));
    assert!(
        out.starts_with("before\n") && out.ends_with("after\n"),
        "{out:.500}"
    );
    assert!(
        err.contains("line(s) of stdout could not be logged: No space left on device"),
        "{err}"
    );
    docker_ok(&world, &["rm", "i16b-full"]);
}

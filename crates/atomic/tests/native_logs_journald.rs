//! The journald log driver of the native engine, end to end: atomic and runc in a booted
//! systemd (atomic-testsupport's `SystemdHost`), a detached container's lines in the real
//! journal with Docker's fields, read back by `docker logs`; atomic.conf's `log_driver`;
//! json-file and none beside it; and a journald that stopped answering.
//!
//! One host is booted for all of it: booting is the expensive part.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use atomic_testsupport::{Bind, ImageSpec, SystemdHost, write_oci_layout};
use serde_json::Value;

/// The native store inside the host: a directory of this machine bind-mounted in, because the
/// host's own root is an overlay, on which a container's overlay cannot be mounted.
const STORE: &str = "/store";

fn runc() -> String {
    ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("runc is installed (scripts/setup.sh)")
        .to_string()
}

struct Host {
    host: SystemdHost,
}

impl Host {
    /// `atomic ARGS…` in the host on its native store, with `conf` as atomic.conf.
    fn atomic(&self, conf: &str, args: &[&str]) -> Output {
        let store = format!("ATOMIC_STORE_ROOT={STORE}");
        let conf = format!("ATOMIC_CONF={conf}");
        let mut argv = vec!["env", &store, &conf, "ATOMIC_STORAGE=native", "atomic"];
        argv.extend(args);
        self.host.exec(&argv).unwrap()
    }

    /// `docker ARGS…` carried out by atomic's native engine, as a label's would be.
    fn docker(&self, conf: &str, args: &[&str]) -> Output {
        let mut argv = vec!["native-docker", "docker"];
        argv.extend(args);
        self.atomic(conf, &argv)
    }

    fn docker_ok(&self, args: &[&str]) -> String {
        ok(&format!("docker {args:?}"), self.docker(NO_CONF, args))
    }

    /// The journal's entries of the container called `name` (`journalctl CONTAINER_NAME=…`),
    /// once there are `count` of them.
    fn entries(&self, name: &str, count: usize) -> Vec<Value> {
        let matcher = format!("CONTAINER_NAME={name}");
        let start = Instant::now();
        loop {
            let out = self
                .host
                .exec_ok(&["journalctl", "--no-pager", "--all", "-o", "json", &matcher])
                .unwrap();
            let entries: Vec<Value> = out
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if entries.len() >= count {
                return entries;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{count} entries of {name} expected in the journal; it has {entries:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_exited(&self, name: &str) {
        let start = Instant::now();
        loop {
            let state = self.docker_ok(&["inspect", "-f", "{{.State.Status}}", name]);
            if state.trim() == "exited" {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{name}: {state}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn container_names(&self) -> Vec<String> {
        let out = ok(
            "containers list",
            self.atomic(NO_CONF, &["containers", "list", "-a", "--json"]),
        );
        let list: Value = serde_json::from_str(&out).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// An atomic.conf that does not exist: every default.
const NO_CONF: &str = "/data/no-atomic.conf";

fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn field<'a>(entry: &'a Value, name: &str) -> &'a str {
    entry[name].as_str().unwrap_or_default()
}

/// The image: its RUN label starts it detached with the journald driver and a tag template;
/// it writes a line on each stream and a last line without a newline.
fn image() -> ImageSpec {
    ImageSpec::new("i16b-journal").label(
        "RUN",
        "docker run -d --network none --log-driver journald --log-opt tag={{.Name}}/{{.ImageName}} \
         --name ${NAME} ${IMAGE} /bin/sh -c \"echo out line; echo err line >&2; printf partial\"",
    )
}

fn boot(data: &Path, store: &Path) -> Option<Host> {
    let binds = [
        Bind::read_only(env!("CARGO_BIN_EXE_atomic"), "/usr/local/bin/atomic"),
        Bind::read_only(runc(), "/usr/sbin/runc"),
        Bind::read_only(data, "/data"),
        Bind::read_write(store, STORE),
    ];
    let host = Host {
        host: SystemdHost::boot_for_test(&binds)?,
    };
    ok(
        "pull",
        host.atomic(NO_CONF, &["pull", "-q", "oci:/data/i16b-journal:latest"]),
    );
    Some(host)
}

#[test]
fn journald_driver_logs_lines_with_dockers_fields_and_docker_logs_reads_them() {
    let data = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    write_oci_layout(&image(), &data.path().join("i16b-journal")).unwrap();
    std::fs::write(data.path().join("journald.conf"), "log_driver: journald\n").unwrap();
    let Some(host) = boot(data.path(), store.path()) else {
        return;
    };

    // The label's `docker run -d --log-driver journald …`, through `atomic run`.
    ok(
        "atomic run",
        host.atomic(NO_CONF, &["run", "-q", "i16b-journal"]),
    );
    host.wait_exited("i16b-journal");
    let id = host.docker_ok(&["inspect", "-f", "{{.Id}}", "i16b-journal"]);
    let id = id.trim();
    let entries = host.entries("i16b-journal", 3);
    assert_eq!(entries.len(), 3, "{entries:?}");
    let by_message = |m: &str| {
        entries
            .iter()
            .find(|e| field(e, "MESSAGE") == m)
            .unwrap_or_else(|| panic!("no entry {m:?} in {entries:?}"))
    };
    for (message, priority) in [("out line", "6"), ("err line", "3"), ("partial", "6")] {
        let entry = by_message(message);
        assert_eq!(field(entry, "PRIORITY"), priority, "{entry}");
        assert_eq!(field(entry, "CONTAINER_ID"), &id[..12], "{entry}");
        assert_eq!(field(entry, "CONTAINER_ID_FULL"), id, "{entry}");
        assert_eq!(
            field(entry, "SYSLOG_IDENTIFIER"),
            "i16b-journal/i16b-journal",
            "the tag template, rendered ({{.ImageName}} is the image as the label's IMAGE named it)"
        );
        assert_eq!(
            field(entry, "CONTAINER_TAG"),
            field(entry, "SYSLOG_IDENTIFIER")
        );
        assert_eq!(field(entry, "IMAGE_NAME"), "i16b-journal");
    }
    assert_eq!(
        field(by_message("partial"), "CONTAINER_PARTIAL_MESSAGE"),
        "true"
    );
    assert_eq!(
        field(by_message("out line"), "CONTAINER_PARTIAL_MESSAGE"),
        ""
    );

    // docker logs reads them back from the journal, each on its stream.
    let logs = host.docker(NO_CONF, &["logs", "i16b-journal"]);
    assert_eq!(text(&logs.stdout), "out line\npartial");
    assert_eq!(text(&logs.stderr), "err line\n");
    let tail = host.docker_ok(&["logs", "--tail", "1", "i16b-journal"]);
    assert_eq!(tail, "partial");
    let followed = host.docker(NO_CONF, &["logs", "-f", "i16b-journal"]);
    assert_eq!(
        text(&followed.stdout),
        "out line\npartial",
        "-f ends once it stopped"
    );
    let since = host.docker_ok(&["logs", "--since", "2099-01-01", "i16b-journal"]);
    assert_eq!(since, "");
    // More lines than journalctl -f shows by itself (10): -f starts from the first.
    host.docker_ok(&[
        "run",
        "--network",
        "none",
        "-d",
        "--log-driver",
        "journald",
        "-l",
        "com.example.app=web",
        "--log-opt",
        "labels=com.example.app",
        "--name",
        "i16b-many",
        "localhost/i16b-journal",
        "/bin/sh",
        "-c",
        "i=0; while [ $i -lt 15 ]; do echo $i; i=$((i+1)); done",
    ]);
    host.wait_exited("i16b-many");
    let entries = host.entries("i16b-many", 15);
    assert!(
        entries.iter().all(|e| field(e, "COM_EXAMPLE_APP") == "web"),
        "labels= adds the label as a field, named as Docker names it: {:?}",
        entries[0]
    );
    let many: String = (0..15).map(|i| format!("{i}\n")).collect();
    assert_eq!(host.docker_ok(&["logs", "-f", "i16b-many"]), many);
    assert_eq!(host.docker_ok(&["logs", "i16b-many"]), many);

    // atomic.conf's log_driver is the default; Docker's default tag is the short ID.
    let conf = "/data/journald.conf";
    let out = host.docker(
        conf,
        &[
            "run",
            "--network",
            "none",
            "-d",
            "--name",
            "i16b-default",
            "localhost/i16b-journal",
            "echo",
            "by default",
        ],
    );
    let default_id = ok("run with the configured default", out);
    let entry = &host.entries("i16b-default", 1)[0];
    assert_eq!(field(entry, "MESSAGE"), "by default");
    assert_eq!(field(entry, "SYSLOG_IDENTIFIER"), &default_id.trim()[..12]);

    // json-file, the default without a configuration, keeps logging to its file, not the
    // journal; none keeps nothing.
    for (driver, name) in [("json-file", "i16b-file"), ("none", "i16b-none")] {
        host.docker_ok(&[
            "run",
            "--network",
            "none",
            "-d",
            "--log-driver",
            driver,
            "--name",
            name,
            "localhost/i16b-journal",
            "echo",
            "not in the journal",
        ]);
        host.wait_exited(name);
    }
    host.docker_ok(&[
        "run",
        "--network",
        "none",
        "-d",
        "--name",
        "i16b-plain",
        "localhost/i16b-journal",
        "echo",
        "plain",
    ]);
    host.wait_exited("i16b-plain");
    assert_eq!(host.docker_ok(&["logs", "i16b-plain"]), "plain\n");
    assert_eq!(
        host.docker_ok(&["logs", "i16b-file"]),
        "not in the journal\n"
    );
    let none = host.docker(NO_CONF, &["logs", "i16b-none"]);
    assert!(
        !none.status.success() && text(&none.stderr).contains("does not support reading"),
        "{}",
        text(&none.stderr)
    );
    for name in ["i16b-file", "i16b-none", "i16b-plain"] {
        let matcher = format!("CONTAINER_NAME={name}");
        let journal = host
            .host
            .exec_ok(&["journalctl", "--no-pager", "-o", "cat", &matcher])
            .unwrap();
        assert_eq!(journal, "", "{name} is not in the journal");
    }

    // A bad driver is refused and makes nothing.
    let before = host.container_names();
    let bad = host.docker(
        NO_CONF,
        &[
            "run",
            "--network",
            "none",
            "-d",
            "--log-driver",
            "syslog",
            "--name",
            "i16b-bad",
            "localhost/i16b-journal",
            "true",
        ],
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("unknown log driver 'syslog'"),
        "{}",
        text(&bad.stderr)
    );
    assert_eq!(host.container_names(), before);

    // A journald that stopped answering is refused before the container is made.
    host.host
        .exec_ok(&[
            "systemctl",
            "stop",
            "systemd-journald.socket",
            "systemd-journald-dev-log.socket",
            "systemd-journald.service",
        ])
        .unwrap();
    let gone = host.docker(
        NO_CONF,
        &[
            "run",
            "--network",
            "none",
            "-d",
            "--log-driver",
            "journald",
            "--name",
            "i16b-gone",
            "localhost/i16b-journal",
            "true",
        ],
    );
    assert!(!gone.status.success());
    assert!(
        text(&gone.stderr).contains("journald does not answer"),
        "{}",
        text(&gone.stderr)
    );
    assert_eq!(host.container_names(), before);
}

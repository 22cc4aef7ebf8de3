//! What a host that ran the original atomic brings along keeps working: its install.json
//! records, its spellings (`--storage ostree`, `images list -f type=ostree`, `pull docker:NAME`)
//! and a `--help` that lists every verb.

mod common;

use common::{Containers, Kind, World, images, stderr, stdout};

/// What the original's test harness (and atomic 1.x installs) left in install.json: one object
/// per image, none of the fields atomic writes.
fn harness_records(image: &str) -> String {
    format!(r#"{{"atomic-test-1": {{"install_id": "42"}}, "{image}": {{"install_id": "43"}}}}"#)
}

/// Regression: every run and install of an INSTALL-labelled image failed with "install.json is
/// not a valid install record: missing field 'id'".
fn install_json_of_the_original_is_read_and_kept(kind: Kind) {
    let image = images::lifecycle(kind);
    let world = World::new();
    std::fs::write(world.install_json(), harness_records(&image.name)).unwrap();
    let mut containers = Containers::new(kind);
    let name = containers.name("i19-compat-run");
    let out = world
        .on(kind, &["run", "-q"], &["-n", &name, &image.name])
        .output()
        .unwrap();
    assert!(out.status.success(), "recorded: runs: {}", stderr(&out));
    assert_eq!(kind.container_state(&name), "running");

    let installed = containers.name("i19-compat-install");
    let out = world
        .on(kind, &["install", "-q"], &["-n", &installed, &image.name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let records: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(world.install_json()).unwrap()).unwrap();
    assert_eq!(records["atomic-test-1"]["install_id"], "42", "{records}");
    let ours = records[&image.name].as_array().expect("a list now");
    assert_eq!(ours[0]["install_id"], "43", "{records}");
    assert_eq!(ours[1]["container_name"], installed.as_str(), "{records}");
}

fn malformed_install_json_is_a_warning_naming_it(kind: Kind) {
    let image = images::lifecycle(kind);
    let world = World::new();
    std::fs::write(world.install_json(), "{not json").unwrap();
    let path = world.install_json().display().to_string();
    let mut containers = Containers::new(kind);
    let name = containers.name("i19-compat-bad");
    // Not recorded (nothing is, in a file that cannot be read): the install gate, not a refusal
    // to read the file.
    let out = world
        .on(kind, &["run"], &["-n", &name, &image.name])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains(&format!("warning: {path} is not a valid install record"))
            && err.contains("appears to have not been installed"),
        "{err}"
    );
    let out = world
        .on(kind, &["install"], &["-n", &name, &image.name])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches(&path).count(), 1, "warned once: {err}");
    assert_eq!(
        std::fs::read_to_string(world.install_json()).unwrap(),
        "{not json",
        "left for the user to repair"
    );
}

/// `--storage ostree` is the native storage on every verb, and `type=ostree` its filter.
fn ostree_is_the_native_storage(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let storage = if kind == Kind::Native {
        "ostree"
    } else {
        kind.as_str()
    };
    let mut cmd = world.atomic();
    if kind == Kind::Native {
        cmd.env("ATOMIC_STORE_ROOT", common::native_suite_root());
    }
    let out = cmd
        .args([
            "images",
            "list",
            "--storage",
            storage,
            "-f",
            "repo=atomic-test-plain",
        ])
        .args(["-f", &format!("type={storage}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("atomic-test-plain"),
        "{}",
        stdout(&out)
    );
    let out = world
        .atomic()
        .env("ATOMIC_STORE_ROOT", common::native_suite_root())
        .args([
            "images",
            "list",
            "-f",
            "repo=atomic-test-plain",
            "-f",
            "type=ostree",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = stdout(&out);
    assert!(
        rows.lines()
            .skip(1)
            .all(|l| l.trim_end().ends_with("native")),
        "type=ostree lists native images only: {rows}"
    );
}

on_every_engine!(
    install_json_of_the_original_is_read_and_kept,
    malformed_install_json_is_a_warning_naming_it,
    ostree_is_the_native_storage,
);

#[test]
fn run_display_takes_storage_ostree() {
    if !Kind::Native.usable() {
        return;
    }
    images::plain(Kind::Native);
    let out = World::new()
        .atomic()
        .env("ATOMIC_STORE_ROOT", common::native_suite_root())
        .args(["run", "--display", "--storage", "ostree", "-n", "o"])
        .args(["atomic-test-plain", "/bin/ls"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "docker run -i --name o atomic-test-plain /bin/ls\n"
    );
}

/// `atomic pull docker:NAME`, the original's spelling of `docker-daemon:NAME`.
#[test]
fn pull_docker_prefix_imports_from_the_docker_daemon() {
    if !Kind::Docker.usable() || !Kind::Native.usable() {
        return;
    }
    images::plain(Kind::Docker);
    let world = World::new();
    let out = world
        .atomic()
        .args(["pull", "docker:atomic-test-plain"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = world
        .atomic()
        .args(["images", "list", "-f", "type=ostree", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let docker_id = Kind::Docker
        .output(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            "atomic-test-plain",
        ])
        .trim()
        .trim_start_matches("sha256:")
        .to_string();
    let rows = list.as_array().unwrap();
    assert!(
        rows.iter().any(|r| {
            r["repo"]
                .as_str()
                .is_some_and(|n| n.ends_with("atomic-test-plain"))
                && r["id"].as_str().is_some_and(|id| docker_id.starts_with(id))
        }),
        "the same image, now native: {list:#}"
    );
}

#[test]
fn help_lists_every_verb_a_user_can_call() {
    let out = World::new().atomic().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    let verbs: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for verb in [
        "run",
        "install",
        "uninstall",
        "stop",
        "pull",
        "mount",
        "unmount",
        "images",
        "containers",
        "top",
        "host",
        "info",
        "version",
        "help",
        "verify",
        "update",
        "completion",
    ] {
        assert!(verbs.contains(&verb), "'{verb}' is not listed: {help}");
    }
    assert!(!help.contains("on Docker or Podman"), "{help}");
    assert!(help.contains("native"), "{help}");
    let images = World::new()
        .atomic()
        .args(["images", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&images).contains("update"), "{}", stdout(&images));
}

//! `atomic diff` on every engine: files added, removed and changed between two images and
//! between an image and a container, installed dpkg packages, JSON, and the errors.

mod common;

use atomic_testsupport::{ImageSpec, LayerSpec};
use common::{Containers, Kind, World, stderr, stdout};

const OS_RELEASE: &str = "PRETTY_NAME=\"i19b Linux 1\"\nID=i19b\n";

fn status(packages: &[(&str, &str)]) -> String {
    packages
        .iter()
        .map(|(name, version)| {
            format!(
                "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\n\
                 Version: {version}\nDescription: test package\n a continuation line\n"
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The left image: a motd, a file the right one deletes, and three packages.
fn left_spec() -> ImageSpec {
    ImageSpec::new("i19b-diff-a")
        .file("/etc/os-release", OS_RELEASE, 0o644)
        .file("/etc/motd", "hello\n", 0o644)
        .file("/etc/gone", "soon deleted\n", 0o644)
        .file(
            "/var/lib/dpkg/status",
            status(&[("base", "1.0"), ("editor", "1.0"), ("shell", "5.2-1")]),
            0o644,
        )
}

/// The right image: the left one plus a layer that changes, adds and deletes.
fn right_spec() -> ImageSpec {
    let mut spec = left_spec().layer(
        LayerSpec::new()
            .file("/etc/motd", "hello, changed\n", 0o600)
            .file("/etc/new", "new\n", 0o644)
            .file(
                "/var/lib/dpkg/status",
                status(&[("base", "1.0"), ("shell", "5.2-2"), ("tool", "0.1")]),
                0o644,
            )
            .delete("/etc/gone"),
    );
    spec.name = "i19b-diff-b".into();
    spec.label("i19b.side", "b")
}

fn images(kind: Kind) {
    kind.load(&left_spec());
    kind.load(&right_spec());
}

fn diff(world: &World, kind: Kind, args: &[&str]) -> std::process::Output {
    world.on(kind, &["diff"], args).output().unwrap()
}

/// The stdout of a diff that must succeed.
fn diff_ok(world: &World, kind: Kind, args: &[&str]) -> String {
    let out = diff(world, kind, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn two_images_files_and_packages(kind: Kind) {
    images(kind);
    let world = World::new();
    let text = diff_ok(&world, kind, &["--rpms", "i19b-diff-a", "i19b-diff-b"]);
    assert!(
        text.contains("\nFiles only in i19b-diff-a:\n     etc/gone\n"),
        "{text}"
    );
    assert!(
        text.contains("\nFiles only in i19b-diff-b:\n     etc/new\n"),
        "{text}"
    );
    assert!(
        text.contains("\nCommon files that are different: (reason)\n"),
        "{text}"
    );
    assert!(
        text.contains("     etc/motd (mode sha256digest size)\n"),
        "{text}"
    );
    assert!(
        text.contains("     var/lib/dpkg/status (sha256digest size)\n"),
        "{text}"
    );
    // Unchanged files (busybox, passwd) are not listed.
    assert!(
        !text.contains("bin/busybox") && !text.contains("etc/passwd"),
        "{text}"
    );
    // The package table: changed, removed and added packages, common ones left out.
    let row = |a: &str, b: &str| format!("{a:30} | {b:30}");
    for line in [
        row("i19b-diff-a", "i19b-diff-b"),
        row("i19b Linux 1", "i19b Linux 1"),
        row("editor-1.0", ""),
        row("shell-5.2-1", ""),
        row("", "shell-5.2-2"),
        row("", "tool-0.1"),
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "no {line:?} in\n{text}"
        );
    }
    assert!(!text.contains("base-1.0"), "{text}");
}

fn json_output(kind: Kind) {
    images(kind);
    let world = World::new();
    let out = diff(
        &world,
        kind,
        &["--json", "--rpms", "i19b-diff-a", "i19b-diff-b"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["i19b-diff-a"]["unique_files"],
        serde_json::json!(["etc/gone"])
    );
    assert_eq!(
        doc["i19b-diff-b"]["unique_files"],
        serde_json::json!(["etc/new"])
    );
    assert_eq!(
        doc["i19b-diff-a"]["unique_rpms"],
        serde_json::json!(["editor-1.0", "shell-5.2-1"])
    );
    assert_eq!(
        doc["i19b-diff-b"]["unique_rpms"],
        serde_json::json!(["shell-5.2-2", "tool-0.1"])
    );
    assert_eq!(
        doc["i19b-diff-b"]["common_rpms"],
        serde_json::json!(["base-1.0"])
    );
    assert_eq!(doc["i19b-diff-b"]["release"], "i19b Linux 1");
    assert_eq!(doc["i19b-diff-b"]["package_db"], "dpkg");
    let differ = doc["files_differ"].as_array().unwrap();
    assert!(
        differ.contains(&serde_json::json!({
            "path": "etc/motd", "reasons": ["mode", "sha256digest", "size"]
        })),
        "{differ:?}"
    );
}

/// A container's own writes and deletions, against its image.
fn image_against_its_container(kind: Kind) {
    images(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("i19b-diff-ctr");
    kind.output(&[
        "run",
        "--name",
        &name,
        "i19b-diff-a",
        "sh",
        "-c",
        "echo now > /var/date.txt && rm /etc/gone && chmod 600 /etc/motd",
    ]);
    let text = diff_ok(&world, kind, &["i19b-diff-a", &name]);
    assert!(
        text.contains("\nFiles only in i19b-diff-a:\n     etc/gone\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\nFiles only in {name}:\n"))
            && text.contains("     var/date.txt\n"),
        "{text}"
    );
    assert!(text.contains("     etc/motd (mode)\n"), "{text}");
    // Packages were not asked for.
    assert!(!text.contains(" | "), "{text}");
}

fn same_image_has_no_differences(kind: Kind) {
    images(kind);
    let world = World::new();
    let text = diff_ok(&world, kind, &["-r", "i19b-diff-a", "i19b-diff-a"]);
    assert!(
        text.contains("There are no file differences between i19b-diff-a and i19b-diff-a"),
        "{text}"
    );
    assert!(
        text.contains("i19b-diff-a and i19b-diff-a have no different packages"),
        "{text}"
    );
}

fn names_only_and_no_files(kind: Kind) {
    images(kind);
    let world = World::new();
    let out = diff(
        &world,
        kind,
        &[
            "--no-files",
            "--rpms",
            "--names-only",
            "i19b-diff-a",
            "i19b-diff-b",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("Files only"), "{text}");
    let row = |a: &str, b: &str| format!("{a:30} | {b:30}");
    assert!(text.contains(&row("editor", "")), "{text}");
    assert!(text.contains(&row("", "tool")), "{text}");
    assert!(
        !text.contains("shell"),
        "shell only changed version: {text}"
    );
    // -k narrows what makes a file different: by mode alone, the packages file is the same.
    let text = diff_ok(&world, kind, &["-k", "mode", "i19b-diff-a", "i19b-diff-b"]);
    assert!(text.contains("     etc/motd (mode)\n"), "{text}");
    assert!(!text.contains("dpkg/status"), "{text}");
}

fn errors(kind: Kind) {
    images(kind);
    let world = World::new();
    let out = diff(&world, kind, &["i19b-diff-a", "i19b-no-such-thing"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("Unable to associate 'i19b-no-such-thing' with an image or container"),
        "{}",
        stderr(&out)
    );
    let out = diff(&world, kind, &["-n", "i19b-diff-a", "i19b-diff-b"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--rpms"), "{}", stderr(&out));
    let out = diff(
        &world,
        kind,
        &["-k", "colour", "i19b-diff-a", "i19b-diff-b"],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("sha256digest"), "{}", stderr(&out));
}

/// `-m`: what only each side's inspect output holds.
fn metadata(kind: Kind) {
    images(kind);
    let world = World::new();
    let out = diff(
        &world,
        kind,
        &["-m", "-n", "--json", "i19b-diff-a", "i19b-diff-b"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = doc["i19b-diff-a"]["unique_metadata"].to_string();
    let b = doc["i19b-diff-b"]["unique_metadata"].to_string();
    assert!(b.contains("i19b.side"), "{b}");
    assert!(!a.contains("i19b.side"), "{a}");
    assert!(
        !doc.to_string().contains("unique_files"),
        "no file diff asked: {doc}"
    );
    let out = diff(&world, kind, &["-m", "-n", "i19b-diff-a", "i19b-diff-b"]);
    let text = stdout(&out);
    assert!(
        text.contains("\nMetadata only in i19b-diff-a:\n{"),
        "{text}"
    );
    assert!(
        text.contains("\nMetadata only in i19b-diff-b:\n{"),
        "{text}"
    );
    let out = diff(&world, kind, &["-m", "-n", "i19b-diff-a", "i19b-diff-a"]);
    assert!(
        stdout(&out).contains("i19b-diff-a and i19b-diff-a have no differences in their metadata"),
        "{}",
        stdout(&out)
    );
}

/// A root without a package database says so instead of failing.
fn no_package_database_is_a_note(kind: Kind) {
    let spec = ImageSpec::new("i19b-diff-nodb").file("/etc/motd", "x\n", 0o644);
    kind.load(&spec);
    images(kind);
    let world = World::new();
    let out = diff(&world, kind, &["-r", "-n", "i19b-diff-nodb", "i19b-diff-a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("i19b-diff-nodb has no package database"),
        "{}",
        stdout(&out)
    );
}

/// An rpm database holding these packages (name, version; release 1), built with rpmbuild and
/// `rpm --justdb` as a distribution's image build would leave it; `None` without rpm.
fn rpmdb(packages: &[(&str, &str)]) -> Option<Vec<u8>> {
    use std::process::Command;
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path();
    let db = top.join("db");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    let ok = |cmd: &mut Command| cmd.output().map(|o| o.status.success()).unwrap_or(false);
    if !ok(Command::new("rpm").arg("--dbpath").arg(&db).arg("--initdb")) {
        return None;
    }
    for (name, version) in packages {
        let spec = top.join("SPECS").join(format!("{name}.spec"));
        std::fs::write(
            &spec,
            format!(
                "Name: {name}\nVersion: {version}\nRelease: 1\nSummary: t\nLicense: MIT\n\
                 BuildArch: noarch\n%description\nt\n%files\n"
            ),
        )
        .unwrap();
        let built = Command::new("rpmbuild")
            .args(["-bb", "--define"])
            .arg(format!("_topdir {}", top.display()))
            .arg(&spec)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let rpm = top.join(format!("RPMS/noarch/{name}-{version}-1.noarch.rpm"));
        let installed = Command::new("rpm")
            .arg("--dbpath")
            .arg(&db)
            .args(["-i", "--justdb", "--nodeps", "--noscripts"])
            .arg(&rpm)
            .output()
            .unwrap();
        assert!(
            installed.status.success(),
            "{}",
            String::from_utf8_lossy(&installed.stderr)
        );
    }
    Some(std::fs::read(db.join("rpmdb.sqlite")).unwrap())
}

/// rpm-based roots: packages read through the host's rpm (or, without rpm, a note).
fn rpm_databases(kind: Kind) {
    let release = "i19b Enterprise Linux release 9\n";
    let left = rpmdb(&[("i19b-tool", "1.0"), ("i19b-lib", "2.0")]);
    let right = rpmdb(&[("i19b-tool", "1.1"), ("i19b-lib", "2.0")]);
    let have_rpm = left.is_some();
    let junk = || b"not a database".to_vec();
    let a = ImageSpec::new("i19b-diff-rpm-a")
        .file("/etc/redhat-release", release, 0o644)
        .file(
            "/var/lib/rpm/rpmdb.sqlite",
            left.unwrap_or_else(junk),
            0o644,
        );
    let b = ImageSpec::new("i19b-diff-rpm-b")
        .file("/etc/redhat-release", release, 0o644)
        .file(
            "/var/lib/rpm/rpmdb.sqlite",
            right.unwrap_or_else(junk),
            0o644,
        );
    kind.load(&a);
    kind.load(&b);
    let world = World::new();
    let out = diff(
        &world,
        kind,
        &["-r", "-n", "i19b-diff-rpm-a", "i19b-diff-rpm-b"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    if !have_rpm {
        assert!(text.contains("rpm is not installed on this host"), "{text}");
        return;
    }
    let row = |a: &str, b: &str| format!("{a:30} | {b:30}");
    for line in [
        row("i19b-diff-rpm-a", "i19b-diff-rpm-b"),
        // The release is cut to the column's width less two, as the original cut it.
        row(
            "i19b Enterprise Linux releas",
            "i19b Enterprise Linux releas",
        ),
        row("e 9", "e 9"),
        row("i19b-tool-0-1.0-1", ""),
        row("", "i19b-tool-0-1.1-1"),
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "no {line:?} in\n{text}"
        );
    }
    assert!(
        !text.contains("i19b-lib"),
        "common packages are left out: {text}"
    );
    let out = diff(
        &world,
        kind,
        &["-r", "-n", "--json", "i19b-diff-rpm-a", "i19b-diff-rpm-b"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["i19b-diff-rpm-a"]["package_db"], "rpm");
    assert_eq!(
        doc["i19b-diff-rpm-b"]["common_rpms"],
        serde_json::json!(["i19b-lib-0-2.0-1"])
    );
    let out = diff(
        &world,
        kind,
        &[
            "-r",
            "-n",
            "--names-only",
            "i19b-diff-rpm-a",
            "i19b-diff-rpm-b",
        ],
    );
    assert!(
        stdout(&out).contains("has the same RPMs.  Versions may differ."),
        "{}",
        stdout(&out)
    );
}

/// Podman on the vfs driver has no overlay layers: the roots are mounted by podman, compared,
/// and unmounted again (a private store, so the shared one is untouched).
#[test]
fn podman_vfs_roots_are_mounted_and_released() {
    if !Kind::Podman.usable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("storage.conf");
    std::fs::write(
        &conf,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
            tmp.path().display()
        ),
    )
    .unwrap();
    let podman = |args: &[&str]| {
        let out = atomic_testsupport::podman_command()
            .env("CONTAINERS_STORAGE_CONF", &conf)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "podman {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    for spec in [left_spec(), right_spec()] {
        let archive = tmp.path().join(format!("{}.tar", spec.name));
        atomic_testsupport::write_docker_archive(&spec, &archive).unwrap();
        podman(&["load", "-q", "-i", &archive.display().to_string()]);
    }
    assert!(
        podman(&[
            "image",
            "inspect",
            "--format",
            "{{.GraphDriver.Name}}",
            "i19b-diff-a"
        ])
        .contains("vfs")
    );
    let world = World::new();
    let out = world
        .on(
            Kind::Podman,
            &["diff"],
            &["-r", "i19b-diff-a", "i19b-diff-b"],
        )
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("\nFiles only in i19b-diff-b:\n     etc/new\n"),
        "{text}"
    );
    assert!(
        text.contains("     etc/motd (mode sha256digest size)\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{:30} | {:30}", "", "tool-0.1")),
        "{text}"
    );
    assert_eq!(podman(&["image", "mount"]).trim(), "", "left mounted");
    let out = world
        .on(
            Kind::Podman,
            &["diff"],
            &["i19b-diff-a", "i19b-no-such-thing"],
        )
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        podman(&["image", "mount"]).trim(),
        "",
        "left mounted on error"
    );
    podman(&["rmi", "-a", "-f"]);
}

/// A running container's root is read while it runs (Docker, whose `rm -f` is immediate).
#[test]
fn a_running_container() {
    if !Kind::Docker.usable() {
        return;
    }
    let kind = Kind::Docker;
    images(kind);
    let mut containers = Containers::new(kind);
    let name = containers.name("i19b-diff-live");
    kind.output(&[
        "run",
        "-d",
        "--name",
        &name,
        "i19b-diff-a",
        "sh",
        "-c",
        "echo up > /var/live.txt; sleep 60",
    ]);
    let world = World::new();
    let mut text = String::new();
    // The container writes its file just after it starts.
    for _ in 0..50 {
        let out = diff(&world, kind, &["i19b-diff-a", &name]);
        assert!(out.status.success(), "{}", stderr(&out));
        text = stdout(&out);
        if text.contains("     var/live.txt\n") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(text.contains("     var/live.txt\n"), "{text}");
    assert_eq!(kind.container_state(&name), "running");
}

#[test]
fn a_name_in_two_engines_is_ambiguous() {
    if !Kind::Docker.usable() || !Kind::Podman.usable() {
        return;
    }
    let _alone = common::podman_alone();
    images(Kind::Docker);
    images(Kind::Podman);
    let world = World::new();
    let out = world
        .atomic()
        .args(["diff", "i19b-diff-a", "i19b-diff-b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Found more than one image or container with name 'i19b-diff-a'"),
        "{}",
        stderr(&out)
    );
}

on_every_engine!(
    two_images_files_and_packages,
    json_output,
    image_against_its_container,
    same_image_has_no_differences,
    names_only_and_no_files,
    errors,
    no_package_database_is_a_note,
    rpm_databases,
    metadata,
);

//! The native storage through the binary: pulls from every transport, `images
//! list|tag|delete|prune`, and the label verbs on native images.
//! Each test has its own store (`World::store_root`).

mod common;

use atomic_testsupport::{ImageSpec, Registry, write_docker_archive};
use common::native::{layer_dirs, ok, pull_oci, run};
use common::{Kind, World, images, stderr, stdout};

fn spec(name: &str) -> ImageSpec {
    ImageSpec::new(name)
        .label("Name", name)
        .label("Version", "1.0")
        .label("Release", "3")
        .cmd(["/bin/sh"])
}

#[test]
fn pull_from_an_oci_layout_says_what_it_stored() {
    let world = World::new();
    let spec = spec("atomic-nt-oci").tag("v1");
    let dir = world.path().join("layout");
    let image = atomic_testsupport::write_oci_layout(&spec, &dir).unwrap();
    let source = format!("oci:{}:v1", dir.display());
    // No --storage: a transport other than a registry means the native storage.
    let out = ok(&world, &["pull", &source]);
    assert_eq!(
        out,
        format!(
            "Pulled localhost/layout:v1 (image ID {})\n",
            &image.id.hex()[..12]
        )
    );
    let out = ok(&world, &["pull", &source]);
    assert_eq!(out, "Image localhost/layout:v1 is up to date.\n");
    let ids = ok(
        &world,
        &["images", "list", "--storage", "native", "-q", "--no-trunc"],
    );
    assert_eq!(ids, format!("{}\n", image.id.hex()));
    assert!(
        ok(&world, &["pull", "-q", &source]).is_empty(),
        "-q prints nothing"
    );
}

#[test]
fn pull_from_a_docker_archive_and_dockertar() {
    let world = World::new();
    let spec = spec("atomic-nt-archive");
    let file = world.path().join("image.tar");
    let id = write_docker_archive(&spec, &file).unwrap();
    let out = ok(
        &world,
        &["pull", &format!("docker-archive:{}", file.display())],
    );
    // The archive's RepoTag, qualified as a pull qualifies names.
    let name = "docker.io/library/atomic-nt-archive:latest";
    assert_eq!(out, format!("Pulled {name} (image ID {})\n", id.short()));
    // The original's spelling of the same transport.
    let out = ok(&world, &["pull", &format!("dockertar:{}", file.display())]);
    assert!(out.contains("is up to date"), "{out}");
    let info = ok(&world, &["info", "atomic-nt-archive"]);
    assert!(info.contains("Name: atomic-nt-archive\n"), "{info}");
}

#[test]
fn pull_from_an_oci_archive_and_the_docker_daemon() {
    let world = World::new();
    let spec = spec("atomic-nt-ociarchive").tag("v3");
    let dir = world.path().join("layout");
    let image = atomic_testsupport::write_oci_layout(&spec, &dir).unwrap();
    let file = world.path().join("image.tar");
    let status = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&file)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let out = ok(
        &world,
        &["pull", &format!("oci-archive:{}:v3", file.display())],
    );
    assert_eq!(
        out,
        format!(
            "Pulled localhost/image:v3 (image ID {})\n",
            &image.id.hex()[..12]
        )
    );

    if !Kind::Docker.usable() {
        return;
    }
    let plain = images::plain(Kind::Docker);
    let id = atomic_testsupport::image_id(&plain).unwrap();
    let out = ok(&world, &["pull", "docker-daemon:atomic-test-plain:latest"]);
    assert!(out.contains(id.short()), "{out}");
    let ids = ok(
        &world,
        &["images", "list", "--storage", "native", "-q", "--no-trunc"],
    );
    assert!(ids.contains(id.hex()), "{ids}");
}

#[test]
fn transports_need_the_native_storage() {
    let world = World::new();
    let dir = world.path().join("layout");
    atomic_testsupport::write_oci_layout(&spec("atomic-nt-x"), &dir).unwrap();
    for storage in ["docker", "podman"] {
        let out = run(
            &world,
            &[
                "pull",
                "--storage",
                storage,
                &format!("oci:{}", dir.display()),
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("can only be pulled into the native storage"),
            "{}",
            stderr(&out)
        );
    }
    let out = run(&world, &["pull", "--storage", "lxc", "busybox"]);
    assert!(
        stderr(&out).contains("choose docker, podman or native"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pull_info_and_verify_against_the_registry() {
    let registry = Registry::ensure().expect("registry on 127.0.0.1:5000");
    let world = World::new();
    let repo = common::unique("atomic-nt-reg");
    let pushed = registry
        .push(
            &spec("atomic-nt-reg").label("Pushed", "first"),
            &format!("{repo}:v1"),
        )
        .expect("push");
    let reference = registry.reference(&format!("{repo}:v1"));

    // info --remote reads the registry, stores nothing.
    let out = ok(
        &world,
        &["info", "--remote", "--tls-verify=false", &reference],
    );
    assert!(
        out.starts_with(&format!("Image Name: {reference}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Manifest Digest: {}\n", pushed.manifest_digest)),
        "{out}"
    );
    assert!(out.contains("Layers: 1,"), "{out}");
    assert!(out.contains("Pushed: first\n"), "{out}");
    assert!(
        layer_dirs(&world).is_empty(),
        "info --remote pulled something"
    );

    let out = ok(
        &world,
        &[
            "pull",
            "--storage",
            "native",
            "--tls-verify=false",
            &reference,
        ],
    );
    assert_eq!(
        out,
        format!("Pulled {reference} (image ID {})\n", pushed.id.short())
    );
    let out = ok(
        &world,
        &[
            "images",
            "verify",
            "--remote",
            "--tls-verify=false",
            &reference,
        ],
    );
    assert!(out.contains("up to date"), "{out}");

    // A new push under the same tag: the stored copy is now out of date.
    registry
        .push(
            &spec("atomic-nt-reg").label("Pushed", "second"),
            &format!("{repo}:v1"),
        )
        .expect("push");
    let out = run(
        &world,
        &[
            "images",
            "verify",
            "--remote",
            "--tls-verify=false",
            &reference,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("newer version available"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn list_shows_the_original_columns() {
    let world = World::new();
    let a = pull_oci(&world, &spec("atomic-nt-list").tag("v1"));
    let text = ok(&world, &["images", "list", "--storage", "native"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let heading = lines[0];
    let columns = [
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "CREATED",
        "VIRTUAL SIZE",
        "TYPE",
    ];
    let offsets: Vec<usize> = columns.iter().map(|c| heading.find(c).unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{heading}");
    assert!(heading.starts_with("   REPOSITORY"), "{heading}");
    let row = lines[1];
    assert!(row.starts_with("   localhost/atomic-nt-list "), "{row}");
    assert_eq!(&row[offsets[1]..offsets[1] + 2], "v1", "{text}");
    assert_eq!(&row[offsets[2]..offsets[2] + 12], a.short_id(), "{text}");
    assert_eq!(
        &row[offsets[3]..offsets[3] + 16],
        "2000-01-01 00:00",
        "{text}"
    );
    assert!(row[offsets[4]..].contains("MB"), "{text}");
    assert_eq!(&row[offsets[5]..], "native", "{text}");

    assert_eq!(
        ok(&world, &["images", "list", "--storage", "native", "-n"]),
        format!("{row}\n"),
        "-n drops the heading only"
    );
    let full = ok(
        &world,
        &["images", "list", "--storage", "native", "--no-trunc"],
    );
    assert!(full.contains(&a.id), "{full}");
    // Without --storage the native images are listed with the other engines', TYPE native.
    let all = ok(&world, &["images", "list"]);
    assert!(
        all.lines()
            .any(|l| l.contains("localhost/atomic-nt-list") && l.ends_with("native")),
        "{all}"
    );
}

#[test]
fn list_quiet_json_and_filters() {
    let world = World::new();
    let a = pull_oci(&world, &spec("atomic-nt-qa"));
    let b = pull_oci(&world, &spec("atomic-nt-qb").label("Other", "yes"));
    ok(&world, &["images", "tag", &a.name, "atomic-nt-qa:second"]);
    let native = ["images", "list", "--storage", "native"];
    let with = |extra: &[&str]| {
        let mut args = native.to_vec();
        args.extend(extra);
        ok(&world, &args)
    };

    // -q: one ID per image even with two names.
    let ids = with(&["-q"]);
    let mut got: Vec<&str> = ids.lines().collect();
    got.sort_unstable();
    let mut want = vec![a.short_id(), b.short_id()];
    want.sort_unstable();
    assert_eq!(got, want);

    let doc: serde_json::Value = serde_json::from_str(&with(&["--json"])).unwrap();
    let rows = doc.as_array().unwrap();
    assert_eq!(rows.len(), 3, "one row per name: {doc:#}");
    for row in rows {
        for key in [
            "repo",
            "tag",
            "id",
            "created",
            "virtual_size",
            "is_dangling",
            "used",
            "vulnerable",
            "type",
            "backend",
        ] {
            assert!(row.get(key).is_some(), "{key} missing: {row}");
        }
        assert_eq!(row["backend"], "native");
        assert_eq!(row["created"], 946_684_800);
    }
    assert!(
        rows.iter()
            .any(|r| r["repo"] == "docker.io/library/atomic-nt-qa" && r["tag"] == "second")
    );

    let only_b = with(&["-f", "repo=nt-qb", "-q", "--no-trunc"]);
    assert_eq!(only_b, format!("{}\n", b.id));
    let two = with(&["-f", "repo=atomic-nt-qa", "-f", "tag=latest", "-n"]);
    assert_eq!(two.lines().count(), 1, "{two}");
    assert_eq!(
        with(&["-f", "type=docker"]),
        "",
        "nothing matches: nothing printed"
    );
    assert_eq!(with(&["-f", "dangling=true"]), "");
    assert_eq!(with(&["-f", "id=", "-q"]).lines().count(), 2);

    let out = run(&world, &["images", "list", "-f", "repo"]);
    assert!(
        stderr(&out).contains("It should be VAR=VALUE"),
        "{}",
        stderr(&out)
    );
    let out = run(&world, &["images", "list", "-f", "colour=red"]);
    assert!(stderr(&out).contains("is not valid"), "{}", stderr(&out));
}

#[test]
fn list_ends_quietly_on_a_closed_pipe() {
    let world = World::new();
    for i in 0..3 {
        pull_oci(&world, &spec(&format!("atomic-nt-pipe{i}")));
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"))
        .env("ATOMIC_STORE_ROOT", world.store_root())
        .env("ATOMIC_CONF", world.conf())
        .args(["images", "list", "--storage", "native"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn tag_then_delete_one_name_keeps_the_other() {
    let world = World::new();
    let a = pull_oci(&world, &spec("atomic-nt-tag"));
    let out = ok(
        &world,
        &["images", "tag", "atomic-nt-tag", "atomic-test/renamed:v2"],
    );
    assert_eq!(
        out,
        "Tagged atomic-nt-tag as docker.io/atomic-test/renamed:v2\n"
    );
    let list = ok(&world, &["images", "list", "--storage", "native", "-n"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.lines().all(|l| l.contains(a.short_id())),
        "both names, one image: {list}"
    );

    let out = ok(&world, &["images", "delete", "-y", &a.name]);
    assert!(out.contains(&format!("Untagged: {}", a.name)), "{out}");
    assert!(!out.contains("Deleted"), "{out}");
    let list = ok(&world, &["images", "list", "--storage", "native", "-n"]);
    assert!(
        list.contains("docker.io/atomic-test/renamed") && !list.contains(&a.name),
        "{list}"
    );
    assert_eq!(layer_dirs(&world).len(), 1, "the image is still there");
    assert!(ok(&world, &["info", "atomic-test/renamed:v2"]).contains("Name: atomic-nt-tag"));

    // By ID: the image, with every name it still has.
    let out = ok(
        &world,
        &[
            "images",
            "delete",
            "-y",
            "--storage",
            "native",
            a.short_id(),
        ],
    );
    assert!(out.contains(&format!("Deleted: {}", a.id)), "{out}");
    assert_eq!(ok(&world, &["images", "list", "--storage", "native"]), "");
    assert!(layer_dirs(&world).is_empty(), "its layer went with it");
}

#[test]
fn delete_asks_first_and_a_no_changes_nothing() {
    let world = World::new();
    let a = pull_oci(&world, &spec("atomic-nt-ask"));
    let out = world
        .atomic()
        .args(["images", "delete", &a.name])
        .write_stdin("n\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).starts_with("Do you wish to delete the following images?"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!("   {}   native", a.name)),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("User aborted delete operation"),
        "{}",
        stderr(&out)
    );
    assert_eq!(layer_dirs(&world).len(), 1);

    let out = world
        .atomic()
        .args(["images", "delete", &a.name])
        .write_stdin("yes\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(layer_dirs(&world).is_empty());

    let out = run(
        &world,
        &[
            "images",
            "delete",
            "-y",
            "--storage",
            "native",
            "atomic-nt-none",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("image 'atomic-nt-none' not found in storage 'native'"),
        "{}",
        stderr(&out)
    );
    let out = run(&world, &["images", "delete"]);
    assert!(
        stderr(&out).contains("You must select --all"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn delete_all_empties_the_storage() {
    let world = World::new();
    pull_oci(&world, &spec("atomic-nt-all1"));
    pull_oci(&world, &spec("atomic-nt-all2").label("Two", "2"));
    let out = run(&world, &["images", "delete", "--all", "-y"]);
    assert!(
        stderr(&out).contains("--all needs --storage"),
        "{}",
        stderr(&out)
    );
    let out = ok(
        &world,
        &["images", "delete", "--all", "-y", "--storage", "native"],
    );
    assert!(
        out.starts_with("The following images will be deleted."),
        "{out}"
    );
    assert_eq!(out.matches("Deleted: ").count(), 2, "{out}");
    assert_eq!(ok(&world, &["images", "list", "--storage", "native"]), "");
    assert!(layer_dirs(&world).is_empty());
}

#[test]
fn prune_removes_a_dangling_image_and_its_layer() {
    let world = World::new();
    // Two different images pulled under one name: the first is left without a name.
    let old = pull_oci(
        &world,
        &spec("atomic-nt-prune").file("/old", b"old".to_vec(), 0o644),
    );
    let new = pull_oci(
        &world,
        &spec("atomic-nt-prune").file("/new", b"new".to_vec(), 0o644),
    );
    assert_eq!(old.name, new.name);
    assert_ne!(old.id, new.id);
    let list = ok(&world, &["images", "list", "--storage", "native", "-n"]);
    let dangling = list.lines().find(|l| l.starts_with('*')).expect(&list);
    assert!(
        dangling.starts_with("*  <none>") && dangling.contains(old.short_id()),
        "{list}"
    );
    assert_eq!(layer_dirs(&world).len(), 2);
    let json = ok(
        &world,
        &[
            "images",
            "list",
            "--storage",
            "native",
            "--json",
            "-f",
            "dangling=true",
        ],
    );
    assert!(
        json.contains("\"is_dangling\": true") && json.contains("\"repo\": null"),
        "{json}"
    );

    let out = ok(&world, &["images", "prune", "--storage", "native"]);
    assert!(
        out.contains(&format!("Removed dangling image {}", old.short_id())),
        "{out}"
    );
    assert!(out.contains("removed 1 dangling image(s)"), "{out}");
    assert!(out.contains("and 1 layer(s)"), "{out}");
    assert_eq!(
        layer_dirs(&world).len(),
        1,
        "the old image's layer is freed"
    );
    let ids = ok(
        &world,
        &["images", "list", "--storage", "native", "-q", "--no-trunc"],
    );
    assert_eq!(ids, format!("{}\n", new.id));
    // Nothing left to prune.
    let out = ok(&world, &["images", "prune", "--storage", "native"]);
    assert!(out.contains("removed 0 dangling image(s)"), "{out}");
}

#[test]
fn info_version_and_help_read_native_images() {
    let world = World::new();
    let spec = spec("atomic-nt-info").label("RUN", images::TEST1_RUN).file(
        "/help.1",
        images::HELP_PAGE.as_bytes(),
        0o644,
    );
    let a = pull_oci(&world, &spec);
    let info = ok(&world, &["info", "--storage", "native", "atomic-nt-info"]);
    assert!(info.starts_with("Image Name: atomic-nt-info\n"), "{info}");
    assert!(
        info.contains(&format!("RUN: {}\n", images::TEST1_RUN)),
        "{info}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&ok(&world, &["images", "info", "--json", "atomic-nt-info"])).unwrap();
    assert_eq!(doc["storage"], "native");
    assert_eq!(doc["id"], a.id.as_str());
    let version = ok(&world, &["version", "atomic-nt-info"]);
    let row = version.lines().nth(1).unwrap();
    assert!(
        row.starts_with("atomic-nt-info") && row.contains("1.0-3"),
        "{version}"
    );
    assert!(version.contains(&format!("  Tag: {}", a.name)), "{version}");
    // help.1 is read from the unpacked layers: no container, no mount.
    let help = ok(&world, &["help", "atomic-nt-info"]);
    assert!(help.contains("rendering of help pages"), "{help}");

    let labelled = pull_oci(
        &world,
        &ImageSpec::new("atomic-nt-helplabel")
            .label("HELP", "docker run --rm IMAGE /bin/echo helped"),
    );
    // A HELP label runs its container on the native engine like any label.
    let out = ok(&world, &["help", &labelled.name]);
    assert!(out.ends_with("helped\n"), "{out}");
    let plain = pull_oci(&world, &ImageSpec::new("atomic-nt-nohelp"));
    let out = run(&world, &["help", &plain.name]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("There is no help for"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn label_verbs_display_and_run_on_native() {
    let world = World::new();
    let spec = ImageSpec::new("atomic-nt-run")
        .label("RUN", "docker run --rm --name NAME IMAGE /bin/echo ran")
        .label("INSTALL", "docker run --rm IMAGE /bin/echo installed")
        .label("UNINSTALL", "docker run --rm IMAGE /bin/echo uninstalled");
    pull_oci(&world, &spec);
    let image = "atomic-nt-run";
    let out = ok(&world, &["run", "--storage", "native", "--display", image]);
    assert_eq!(
        out,
        "docker run --rm --name atomic-nt-run atomic-nt-run /bin/echo ran\n"
    );
    let out = ok(
        &world,
        &["install", "--storage", "ostree", "--display", image],
    );
    assert_eq!(out, "docker run --rm atomic-nt-run /bin/echo installed\n");
    let out = ok(
        &world,
        &["uninstall", "--display", "--storage", "native", image],
    );
    assert_eq!(out, "docker run --rm atomic-nt-run /bin/echo uninstalled\n");
    assert!(!world.install_json().exists(), "--display records nothing");
    // And for real, with no daemon: the image is only in the native store.
    let out = ok(&world, &["install", image]);
    assert!(out.ends_with("installed\n"), "{out}");
    let out = ok(&world, &["run", image]);
    assert!(out.ends_with("ran\n"), "{out}");
    let out = ok(&world, &["uninstall", "--storage", "native", image]);
    assert!(out.ends_with("uninstalled\n"), "{out}");
    let out = run(&world, &["stop", "--storage", "native", image]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("container 'atomic-nt-run' not found in storage 'native'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_image_in_docker_and_native_needs_storage() {
    if !Kind::Docker.usable() {
        return;
    }
    let spec = spec("atomic-nt-both");
    Kind::Docker.load(&spec);
    let world = World::new();
    let file = world.path().join("both.tar");
    write_docker_archive(&spec, &file).unwrap();
    ok(
        &world,
        &["pull", &format!("docker-archive:{}", file.display())],
    );
    let out = run(&world, &["info", "atomic-nt-both"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("found in more than one storage (docker and native)"),
        "{}",
        stderr(&out)
    );
    let info = ok(&world, &["info", "--storage", "native", "atomic-nt-both"]);
    assert!(info.contains("Name: atomic-nt-both"), "{info}");
}

// The same `images` verbs on Docker and Podman, where the engine allows them.

fn list_tag_and_delete_on_an_engine(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let tag = common::unique("second");
    let second = format!("atomic-test-plain:{tag}");
    ok(
        &world,
        &[
            "images",
            "tag",
            "--storage",
            kind.as_str(),
            "atomic-test-plain",
            &second,
        ],
    );
    let list = ok(
        &world,
        &[
            "images",
            "list",
            "--storage",
            kind.as_str(),
            "-f",
            "repo=atomic-test-plain",
            "-n",
        ],
    );
    let rows: Vec<&str> = list.lines().filter(|l| l.contains(&tag)).collect();
    assert_eq!(rows.len(), 1, "{list}");
    assert!(rows[0].ends_with(kind.as_str()), "{list}");
    // Without --storage every engine's images are listed, each with its TYPE.
    let all = ok(&world, &["images", "list", "-f", "repo=atomic-test-plain"]);
    assert!(all.lines().any(|l| l.ends_with(kind.as_str())), "{all}");

    let out = ok(
        &world,
        &[
            "images",
            "delete",
            "-y",
            "--storage",
            kind.as_str(),
            &second,
        ],
    );
    assert!(out.contains("Untagged:") && out.contains(&tag), "{out}");
    assert!(
        !out.contains("Deleted:"),
        "the image keeps its other name: {out}"
    );
    assert!(kind.image_exists("atomic-test-plain"));
    assert!(!kind.image_exists(&second));
}

/// Verify and mount work on an engine's image too: verify asks the registry (a local-only image
/// has none to ask), mount wants an empty directory.
fn verify_and_mount_on_an_engine_say_why_they_cannot(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let dir = world.path().join("layout");
    atomic_testsupport::write_oci_layout(&spec("atomic-nt-flags"), &dir).unwrap();
    let out = run(
        &world,
        &[
            "images",
            "verify",
            "--storage",
            kind.as_str(),
            "atomic-test-plain",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("cannot ask the registry"),
        "{}",
        stdout(&out)
    );
    let out = run(
        &world,
        &[
            "mount",
            "--storage",
            kind.as_str(),
            "atomic-test-plain",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
}

on_both_engines!(
    list_tag_and_delete_on_an_engine,
    verify_and_mount_on_an_engine_say_why_they_cannot
);

#[test]
fn info_lists_the_template_variables_of_a_system_container_image() {
    let world = World::new();
    let system = ImageSpec::new("atomic-nt-sysvars").layer(
        atomic_testsupport::LayerSpec::new()
            .file(
                "/exports/service.template",
                "[Service]\nExecStart=$EXEC_START --port $PORT --peer ${PEER}\nPIDFile=$PIDFILE\n",
                0o644,
            )
            .file(
                "/exports/manifest.json",
                r#"{"defaultValues": {"PORT": "2379"}}"#,
                0o644,
            ),
    );
    let stored = pull_oci(&world, &system);
    let out = ok(&world, &["info", "--storage", "native", &stored.name]);
    assert!(
        out.ends_with(
            "\nTemplate variables with default value, but overridable with --set:\n\
             PIDFILE: {SET_BY_OS}\nPORT: 2379\n\n\
             Template variables that has no default value, and must be set with --set:\n\
             PEER: {DEF_VALUE}\n"
        ),
        "{out}"
    );
    let json = ok(
        &world,
        &["info", "--json", "--storage", "native", &stored.name],
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["template_variables"]["required"],
        serde_json::json!(["PEER"])
    );
    assert_eq!(json["template_variables"]["with_default"]["PORT"], "2379");
    // An image without templates says nothing of them.
    let plain = pull_oci(&world, &spec("atomic-nt-plain-info"));
    let out = ok(&world, &["info", "--storage", "native", &plain.name]);
    assert!(!out.contains("Template variables"), "{out}");
}

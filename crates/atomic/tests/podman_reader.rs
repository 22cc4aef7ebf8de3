//! The Podman storage reader through the binary: the read-only verbs answer from the store
//! without a `podman` process, give the same output as with the reader switched off, and fall
//! back to the podman command — visibly with `--debug` — when the reader is not sure.

mod common;

use atomic_testsupport::{ImageSpec, LayerSpec};
use common::{Containers, Kind, World, podman_alone, stderr, stdout, unique};

const FALLBACK: &str = "asking the podman command";

fn spec(name: &str) -> ImageSpec {
    ImageSpec::new(name)
        .label(
            "RUN",
            "docker run --rm --name ${NAME} ${IMAGE} /bin/echo ran",
        )
        .label("Name", name)
        .label("Version", "2.1")
        .label("Release", "7")
        .file(
            "/README.md",
            b"# read from the lower layer\n".to_vec(),
            0o644,
        )
        .layer(LayerSpec::new().file("/README.md", b"# read from the top layer\n".to_vec(), 0o644))
}

/// `atomic --debug VERB --storage podman ARGS…`, with the reader on or off.
fn run(world: &World, reader: bool, verb: &[&str], args: &[&str]) -> std::process::Output {
    let mut cmd = world.atomic();
    cmd.arg("--debug")
        .args(verb)
        .args(["--storage", "podman"])
        .args(args);
    if !reader {
        cmd.env(atomic_engine::PODMAN_READER_SWITCH, "off");
    }
    cmd.output().expect("atomic runs")
}

#[test]
fn read_only_verbs_answer_from_the_store_as_podman_would() {
    let _alone = podman_alone();
    if !Kind::Podman.usable() {
        return;
    }
    let name = unique("i20-reader");
    Kind::Podman.load(&spec(&name));
    let world = World::new();
    for verb in [
        &["info"][..],
        &["version"],
        &["run", "--display"],
        &["install", "--display"],
        &["help"],
    ] {
        let with = run(&world, true, verb, &[&name]);
        let without = run(&world, false, verb, &[&name]);
        assert!(with.status.success(), "{verb:?}: {}", stderr(&with));
        assert!(
            !stderr(&with).contains(FALLBACK),
            "{verb:?} fell back: {}",
            stderr(&with)
        );
        assert!(
            stderr(&without).contains(FALLBACK),
            "{verb:?}: reader off is visible"
        );
        assert_eq!(stdout(&with), stdout(&without), "{verb:?}");
    }
    let info = stdout(&run(&world, true, &["info"], &[&name]));
    assert!(info.contains("Version: 2.1"), "{info}");
    let help = stdout(&run(&world, true, &["help"], &[&name]));
    assert!(help.contains("read from the top layer"), "{help}");

    // The listing names the image with its size, as `podman images` does.
    let listed = run(&world, true, &["images", "list"], &["--json"]);
    assert!(!stderr(&listed).contains(FALLBACK) || stderr(&listed).contains("intermediate"));
    assert!(stdout(&listed).contains(&name), "{}", stdout(&listed));

    // A name the reader does not find is the podman command's to answer: not found, visibly.
    let missing = run(&world, true, &["info"], &[&format!("{name}-nosuch")]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains(FALLBACK), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );

    // An existing container of the label's NAME is libpod's to describe: `run` sees it.
    let mut containers = Containers::new(Kind::Podman);
    let cname = containers.name("i20-reader-c");
    Kind::Podman.output(&[
        "create",
        "--name",
        &cname,
        &format!("localhost/{name}"),
        "/bin/true",
    ]);
    let display = run(
        &world,
        true,
        &["run", "--display", "--name", &cname],
        &[&name],
    );
    assert!(stderr(&display).contains(FALLBACK), "{}", stderr(&display));
    assert!(
        stdout(&display).contains(&format!("start {cname}")) || stdout(&display).contains(&cname)
    );
    drop(containers);
    Kind::Podman.remove_image(&name);
}

#[test]
fn podman_images_mount_read_only_and_unmount_cleanly() {
    let _alone = podman_alone();
    if !Kind::Podman.usable() || !rustix::process::geteuid().is_root() {
        return;
    }
    let name = unique("i20-mount");
    Kind::Podman.load(&spec(&name));
    let world = World::new();
    let dir = tempfile::tempdir().expect("mount point");
    let target = dir.path().to_str().expect("utf-8 path");
    let mounted = world
        .on(Kind::Podman, &["mount"], &[&name, target])
        .output()
        .expect("runs");
    assert!(mounted.status.success(), "{}", stderr(&mounted));
    let readme = std::fs::read_to_string(dir.path().join("README.md"));
    let writable = std::fs::write(dir.path().join("new"), b"x").is_ok();
    // Podman counts the mount: its list of mounted images names the image.
    let counted = Kind::Podman.output(&["image", "mount"]).contains(&name);

    let unmounted = world
        .atomic()
        .args(["unmount", target])
        .output()
        .expect("runs");
    assert!(unmounted.status.success(), "{}", stderr(&unmounted));
    assert_eq!(readme.ok().as_deref(), Some("# read from the top layer\n"));
    assert!(!writable, "mounted read-only");
    assert!(counted, "podman image mount lists the image");
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "nothing left"
    );
    assert!(!Kind::Podman.output(&["image", "mount"]).contains(&name));
    Kind::Podman.remove_image(&name);
}

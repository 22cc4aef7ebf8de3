//! `atomic mount` and `unmount` of images and containers on Docker, Podman and native: read-only
//! views, `--live` on a running container, the ambiguity error, and an unmount that gives back
//! exactly what was taken. Mounting needs root: the tests skip with a reason otherwise.

mod common;

use std::path::{Path, PathBuf};

use common::{Containers, Kind, World, images, stderr};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Unmounts on drop, so a failed assertion leaves no mount behind.
struct Mounted<'a> {
    world: &'a World,
    dir: PathBuf,
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = self
            .world
            .atomic()
            .args(["unmount", self.dir.to_str().unwrap()])
            .output();
    }
}

fn mounted(path: &Path) -> bool {
    let canonical = path.canonicalize().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(canonical.to_str().unwrap()))
}

fn mount<'a>(world: &'a World, kind: Kind, args: &[&str], dir: &Path) -> Mounted<'a> {
    let mut all: Vec<&str> = args.to_vec();
    all.push(dir.to_str().unwrap());
    let out = world.on(kind, &["mount"], &all).output().unwrap();
    assert!(out.status.success(), "mount {args:?}: {}", stderr(&out));
    assert!(mounted(dir));
    Mounted {
        world,
        dir: dir.to_path_buf(),
    }
}

fn unmount(world: &World, dir: &Path) {
    let out = world
        .atomic()
        .args(["unmount", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "unmount: {}", stderr(&out));
    assert!(!mounted(dir));
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "empty again");
}

fn empty_dir(world: &World, name: &str) -> PathBuf {
    let dir = world.path().join(name);
    std::fs::create_dir(&dir).unwrap();
    dir
}

fn assert_read_only(path: &Path) {
    let err = std::fs::write(path, "changed").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(30), "EROFS expected, got {err}");
}

/// The images Podman has mounted, by name (`podman image mount` with no argument lists them).
fn podman_mounted_images() -> String {
    Kind::Podman.output(&["image", "mount"])
}

fn image_mounts_read_only(kind: Kind) {
    if !is_root() {
        eprintln!("SKIP: mounting needs root");
        return;
    }
    images::test1(kind);
    let world = World::new();
    let dir = empty_dir(&world, "mnt");
    let guard = mount(&world, kind, &["atomic-test-1"], &dir);
    assert_eq!(
        std::fs::read_to_string(dir.join("help.1")).unwrap(),
        images::HELP_PAGE
    );
    assert!(dir.join("bin/busybox").exists());
    assert_read_only(&dir.join("help.1"));
    assert_read_only(&dir.join("new-file"));
    // A second mount on the same directory is refused, and the first one is left alone.
    let out = world
        .on(kind, &["mount"], &["atomic-test-1", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("already a mount point"),
        "{}",
        stderr(&out)
    );
    if kind == Kind::Podman {
        let name = "localhost/atomic-test-1:latest";
        assert!(podman_mounted_images().contains(name));
        unmount(&world, &dir);
        assert!(
            !podman_mounted_images().contains(name),
            "podman's image mount is given back"
        );
    } else {
        unmount(&world, &dir);
    }
    drop(guard);
    // Not atomic's mount: refused.
    let out = world
        .atomic()
        .args(["unmount", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

fn writable_or_live_image_mounts_are_refused(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    let dir = empty_dir(&world, "mnt");
    for (args, says) in [
        (&["-o", "rw"][..], "does not support writeable mounts"),
        (&["--live"], "is an image"),
        (&["-o", "bogus"], "'bogus' is not supported"),
    ] {
        let mut all = args.to_vec();
        all.extend(["atomic-test-1", dir.to_str().unwrap()]);
        let out = world.on(kind, &["mount"], &all).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(!mounted(&dir));
    }
    std::fs::write(dir.join("file"), "x").unwrap();
    let out = world
        .on(kind, &["mount"], &["atomic-test-1", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
}

fn container_mounts_read_only_and_live(kind: Kind) {
    if !is_root() {
        eprintln!("SKIP: mounting needs root");
        return;
    }
    images::sleeper(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("i19-mount");
    kind.output(&["run", "-d", "--name", &name, "atomic-test-sleeper"]);
    kind.output(&["exec", &name, "/bin/sh", "-c", "echo secret > /secret"]);

    let dir = empty_dir(&world, "mnt");
    // --shared only labels the files for SELinux, which this host may not have.
    let guard = mount(&world, kind, &["--shared", &name], &dir);
    assert_eq!(
        std::fs::read_to_string(dir.join("secret")).unwrap(),
        "secret\n"
    );
    assert_read_only(&dir.join("secret"));
    unmount(&world, &dir);
    drop(guard);

    let guard = mount(&world, kind, &["--live", &name], &dir);
    std::fs::write(dir.join("from-host"), "hello\n").unwrap();
    assert_eq!(
        kind.output(&["exec", &name, "/bin/cat", "/from-host"]),
        "hello\n"
    );
    unmount(&world, &dir);
    drop(guard);

    let guard = mount(&world, kind, &["--live", "-o", "ro", &name], &dir);
    assert_read_only(&dir.join("secret"));
    unmount(&world, &dir);
    drop(guard);

    kind.output(&["stop", "-t", "0", &name]);
    let out = world
        .on(kind, &["mount"], &["--live", &name, dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
}

on_every_engine!(
    image_mounts_read_only,
    writable_or_live_image_mounts_are_refused,
    container_mounts_read_only_and_live,
);

/// A name several engines hold is not guessed at.
#[test]
fn a_name_in_several_engines_is_ambiguous() {
    if !Kind::Docker.usable() || !Kind::Podman.usable() {
        return;
    }
    images::plain(Kind::Docker);
    {
        let _alone = common::podman_alone();
        images::plain(Kind::Podman);
    }
    let world = World::new();
    let dir = empty_dir(&world, "mnt");
    let out = world
        .atomic()
        .args(["mount", "atomic-test-plain", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "Found more than one Image with name atomic-test-plain; please specify with --storage"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!mounted(&dir));
}

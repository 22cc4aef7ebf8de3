//! `--display` contracts: the exact command lines of the original's test_display.sh, with the
//! label's own program on Docker (as the original showed and ran it) and the selected engine's
//! program as argv[0] on Podman, which atomic says on stderr.

mod common;

use common::{Containers, Kind, World, images, stdout};

fn display(world: &World, kind: Kind, verb: &str, args: &[&str]) -> String {
    let out = world
        .on(kind, &[verb, "--display"], args)
        .env("SUDO_UID", "0")
        .env("SUDO_GID", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    stdout(&out)
}

/// atomic-test-1's labels say `/usr/bin/docker`: Docker keeps it (when the host has it),
/// Podman runs its own program.
fn test1_program(kind: Kind) -> &'static str {
    match kind {
        Kind::Docker if std::path::Path::new("/usr/bin/docker").is_file() => "/usr/bin/docker",
        _ => kind.program(),
    }
}

fn run_label(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    let out = world
        .on(kind, &["run", "--display"], &["atomic-test-1"])
        .env("SUDO_UID", "0")
        .env("SUDO_GID", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "{} run -t --user 0:0 -v /var/log/atomic-test-1:/var/log -v \
             /var/lib/atomic-test-1:/var/lib --name atomic-test-1 atomic-test-1 echo I am the \
             run label.\n",
            test1_program(kind)
        )
    );
    // Replacing the label's program is said once; keeping it is not worth a word.
    let err = common::stderr(&out);
    let notes = err.matches("# note: the label's program '/usr/bin/docker' is replaced by");
    let replaced = test1_program(kind) != "/usr/bin/docker";
    assert_eq!(notes.count(), usize::from(replaced), "{err}");
}

fn run_label_with_opts(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    let out = display(
        &world,
        kind,
        "run",
        &[
            "--opt1",
            "-e A=1",
            "--opt2=--rm",
            "--opt3",
            "sh -c",
            "-n",
            "opts",
            "atomic-test-1",
        ],
    );
    assert_eq!(
        out,
        format!(
            "{} run -t --user 0:0 -e A=1 -v /var/log/opts:/var/log -v /var/lib/opts:/var/lib \
             --rm --name opts atomic-test-1 sh -c echo I am the run label.\n",
            test1_program(kind)
        )
    );
}

fn install_label(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    assert_eq!(
        display(&world, kind, "install", &["atomic-test-1"]),
        format!(
            "{} run -v /etc/atomic-test-1:/etc -v /var/log/atomic-test-1:/var/log -v \
             /var/lib/atomic-test-1:/var/lib --name atomic-test-1 atomic-test-1 echo I am the \
             install label.\n",
            test1_program(kind)
        )
    );
}

fn uninstall_label(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    assert_eq!(
        display(&world, kind, "uninstall", &["atomic-test-1"]),
        format!(
            "{} run -v /etc/atomic-test-1:/etc -v /var/log/atomic-test-1:/var/log -v \
             /var/lib/atomic-test-1:/var/lib --name atomic-test-1 atomic-test-1 echo I am the \
             uninstall label.\n",
            test1_program(kind)
        )
    );
}

fn install_without_label_prints_nothing(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    assert_eq!(display(&world, kind, "install", &["atomic-test-plain"]), "");
}

fn default_run(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    assert_eq!(
        display(
            &world,
            kind,
            "run",
            &["-n", "TEST6", "atomic-test-plain", "/bin/ls"]
        ),
        format!(
            "{} run -i --name TEST6 atomic-test-plain /bin/ls\n",
            kind.program()
        )
    );
    // Without a command, the image's own Cmd is shown, element by element.
    assert_eq!(
        display(&world, kind, "run", &["-n", "TEST6", "atomic-test-plain"]),
        format!(
            "{} run -i --name TEST6 atomic-test-plain /bin/sh -c 'echo plain default command'\n",
            kind.program()
        )
    );
}

fn spc_run(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let mut binds = String::from("-v /:/host -v /run:/run");
    if std::path::Path::new("/etc/localtime").exists() {
        binds.push_str(" -v /etc/localtime:/etc/localtime");
    }
    if std::path::Path::new("/sys/fs/selinux").exists() {
        binds.push_str(" -v /sys/fs/selinux:/sys/fs/selinux:ro");
    }
    let out = world
        .on(
            kind,
            &["run", "--display"],
            &["--spc", "-n", "TEST7", "atomic-test-plain", "/bin/ls"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "{} run -i --privileged {binds} --net=host --ipc=host --pid=host -e HOST=/host -e \
             NAME=TEST7 -e IMAGE=atomic-test-plain -e SYSTEMD_IGNORE_CHROOT=1 --name TEST7 \
             atomic-test-plain /bin/ls\n",
            kind.program()
        )
    );
    // The privileges are spelled out, on stderr, even for a preview.
    let err = common::stderr(&out);
    for switch in [
        "--privileged",
        "--net=host",
        "--pid=host",
        "--ipc=host",
        "/:/host",
    ] {
        assert!(err.contains(switch), "summary lacks {switch}: {err}");
    }
}

fn spc_default_name(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let out = display(&world, kind, "run", &["--spc", "atomic-test-plain", "true"]);
    assert!(
        out.contains("--name atomic-test-plain-spc atomic-test-plain true"),
        "{out}"
    );
}

fn stop_label(kind: Kind) {
    images::test6(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("stopdisplay");
    kind.output(&[
        "create",
        "--name",
        &name,
        "atomic-test-6",
        "/bin/sleep",
        "1",
    ]);
    assert_eq!(
        display(&world, kind, "stop", &[&name]),
        format!("{} stop {name}\n", kind.program())
    );
    // Regression: NAME is the container as the user gave it, here its ID, as in the original.
    let id = kind
        .output(&["container", "inspect", "--format", "{{.Id}}", &name])
        .trim()
        .to_string();
    assert_eq!(
        display(&world, kind, "stop", &[&id]),
        format!("{} stop {id}\n", kind.program())
    );
    let short = &id[..12];
    assert_eq!(
        display(&world, kind, "stop", &[short]),
        format!("{} stop {short}\n", kind.program())
    );
}

fn display_quotes_for_the_shell(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let out = display(
        &world,
        kind,
        "run",
        &[
            "-n",
            "q",
            "atomic-test-plain",
            "echo",
            "a b",
            "it's",
            "$HOME",
            "",
        ],
    );
    assert_eq!(
        out,
        format!(
            "{} run -i --name q atomic-test-plain echo 'a b' 'it'\\''s' '$HOME' ''\n",
            kind.program()
        )
    );
}

fn display_shows_the_environment(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let out = world
        .on(
            kind,
            &["run", "--display"],
            &["--opt1", "x y", "-n", "envshow", "atomic-test-plain"],
        )
        .env("SUDO_UID", "42")
        .output()
        .unwrap();
    let err = common::stderr(&out);
    for var in [
        "NAME=envshow",
        "IMAGE=atomic-test-plain",
        "OPT1='x y'",
        "SUDO_UID=42",
    ] {
        assert!(err.contains(var), "missing {var}: {err}");
    }
}

on_every_engine!(
    run_label,
    run_label_with_opts,
    install_label,
    uninstall_label,
    install_without_label_prints_nothing,
    default_run,
    spc_run,
    spc_default_name,
    stop_label,
    display_quotes_for_the_shell,
    display_shows_the_environment,
);

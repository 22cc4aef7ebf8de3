//! Install, run, stop, uninstall for real, and `atomic run` on an existing container
//! (the original's test_run.sh, and the flow of its issue #1217).

mod common;

use common::{Containers, Kind, World, images, stderr, stdout};

fn install_run_stop_uninstall_round_trip(kind: Kind) {
    let image = images::lifecycle(kind);
    let image = image.name.as_str();
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("life");

    // run refuses before install: the image has an INSTALL label.
    let out = world
        .on(kind, &["run"], &["-n", &name, image])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("appears to have not been installed"),
        "{}",
        stderr(&out)
    );

    let out = world
        .on(kind, &["install"], &["-n", &name, image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("installed {name}")),
        "{}",
        stdout(&out)
    );
    let record = std::fs::read_to_string(world.install_json()).expect("install.json written");
    assert!(record.contains(&name), "{record}");

    let out = world
        .on(kind, &["run"], &["-n", &name, image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(kind.container_state(&name), "running");

    // A second run with no command finds it running.
    let out = world
        .on(kind, &["run"], &["-n", &name, image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Container is running"),
        "{}",
        stdout(&out)
    );

    // With a command, it execs into the running container.
    let out = world
        .on(kind, &["run"], &["-n", &name, image, "/bin/echo", "inside"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("inside"), "{}", stdout(&out));

    // stop uses the container's STOP label (printed as it runs).
    let out = world.on(kind, &["stop"], &[&name]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{} stop -t 0 {name}", kind.program())),
        "{}",
        stdout(&out)
    );
    assert_eq!(kind.container_state(&name), "exited");

    // uninstall removes the container, runs UNINSTALL, forgets the install; the image stays.
    let out = world
        .on(kind, &["uninstall"], &["-n", &name, image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("uninstalled {name}")),
        "{}",
        stdout(&out)
    );
    assert!(!kind.container_exists(&name));
    let record = std::fs::read_to_string(world.install_json()).unwrap();
    assert!(!record.contains(&name), "{record}");
    assert!(kind.image_exists(image));
}

fn stopped_container_is_started_and_runs_the_users_command(kind: Kind) {
    images::sleeper(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("stopped");
    kind.output(&["create", "--name", &name, "atomic-test-sleeper"]);

    // The original exec'd the container's own Cmd here (a bug); the user's command runs.
    let out = world
        .on(
            kind,
            &["run"],
            &["-n", &name, "atomic-test-sleeper", "/bin/echo", "mine"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("start {name}")), "{text}");
    assert!(text.trim_end().ends_with("mine"), "{text}");
    assert_eq!(kind.container_state(&name), "running");
}

fn container_from_another_image_is_refused_unless_replaced(kind: Kind) {
    images::sleeper(kind);
    images::plain(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("other");
    kind.output(&["create", "--name", &name, "atomic-test-sleeper"]);
    let old_id = kind.output(&["container", "inspect", "--format", "{{.Id}}", &name]);

    let out = world
        .on(kind, &["run"], &["-n", &name, "atomic-test-plain", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("already points to"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--replace"), "{}", stderr(&out));

    // --replace (short and long, with --name=X) recreates it from the requested image.
    for flags in [
        vec!["-r", "-n", &name],
        vec!["--replace", &format!("--name={name}")],
    ] {
        let mut args: Vec<&str> = flags.iter().map(|s| s.as_ref()).collect();
        args.extend(["-d", "atomic-test-plain", "/bin/sleep", "60"]);
        let out = world.on(kind, &["run"], &args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let new_id = kind.output(&["container", "inspect", "--format", "{{.Id}}", &name]);
        assert_ne!(old_id, new_id);
        let image = kind.output(&[
            "container",
            "inspect",
            "--format",
            "{{.Config.Image}}",
            &name,
        ]);
        assert!(image.contains("atomic-test-plain"), "{image}");
    }
}

fn rerun_of_a_finished_container_exits_with_its_code(kind: Kind) {
    // test_run.sh: `-n RUN_TEST` twice; the second run starts the existing container.
    images::plain(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("rerun");
    let out = world
        .on(
            kind,
            &["run"],
            &["-n", &name, "atomic-test-plain", "/bin/sh", "-c", "exit 3"],
        )
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the container's exit code: {}",
        stderr(&out)
    );
    assert!(kind.container_exists(&name));
    // Run again: the stopped container is started (attached, as it was created with -i).
    let out = world
        .on(kind, &["run"], &["-n", &name, "atomic-test-plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("start -i -a {name}")),
        "{}",
        stdout(&out)
    );
}

fn uninstall_refuses_while_other_containers_use_the_image(kind: Kind) {
    images::sleeper(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let user = containers.name("user");
    kind.output(&["create", "--name", &user, "atomic-test-sleeper"]);
    let out = world
        .on(kind, &["uninstall"], &["-i", "atomic-test-sleeper"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains(&user), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(kind.container_exists(&user));
}

fn install_refuses_when_the_container_exists(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("present");
    kind.output(&["create", "--name", &name, "atomic-test-plain"]);
    let out = world
        .on(kind, &["install"], &["-n", &name, "atomic-test-plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("already present"), "{}", stderr(&out));
    assert!(!world.install_json().exists());
}

fn uninstall_without_a_label_removes_the_image(kind: Kind) {
    // An image of its own: this test deletes it.
    let image = common::unique("atomic-test-rmi");
    // Its own ID too (a label of its own), so no other test's containers count as users.
    kind.load(
        &atomic_testsupport::ImageSpec::new(&image)
            .label("Instance", &image)
            .cmd(["/bin/sleep", "300"]),
    );
    let world = World::new();
    let mut containers = Containers::new(kind);
    let user = containers.name("rmiuser");
    kind.output(&["create", "--name", &user, &image]);

    // Not recorded as installed: refused without -i.
    let out = world.on(kind, &["uninstall"], &[&image]).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("re-run with -i"), "{}", stderr(&out));
    assert!(kind.image_exists(&image));

    // Recorded or not, other containers using it are not removed without --force.
    let out = world
        .on(kind, &["uninstall", "-i"], &[&image])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains(&user), "{}", stderr(&out));
    assert!(kind.container_exists(&user) && kind.image_exists(&image));

    // --force removes the containers using it; then the image goes.
    let out = world
        .on(kind, &["uninstall"], &["-i", "--force", &image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!kind.container_exists(&user));
    assert!(!kind.image_exists(&image));
}

fn uninstall_stops_a_running_container_with_its_stop_label(kind: Kind) {
    let image = images::lifecycle(kind);
    let image = image.name.as_str();
    let world = World::new();
    let mut containers = Containers::new(kind);
    let name = containers.name("unrun");
    let out = world
        .on(kind, &["run", "-i"], &["-n", &name, image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(kind.container_state(&name), "running");
    let out = world
        .on(
            kind,
            &["uninstall", "-i"],
            &["-n", &name, image, "extra arg"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("stop -t 0 {name}")), "{text}");
    // The UNINSTALL label got the extra argument, as one argument.
    assert!(
        text.contains(&format!("uninstalled {name} extra arg")),
        "{text}"
    );
    assert!(!kind.container_exists(&name));
}

on_every_engine!(
    uninstall_without_a_label_removes_the_image,
    uninstall_stops_a_running_container_with_its_stop_label,
    install_run_stop_uninstall_round_trip,
    stopped_container_is_started_and_runs_the_users_command,
    container_from_another_image_is_refused_unless_replaced,
    rerun_of_a_finished_container_exits_with_its_code,
    uninstall_refuses_while_other_containers_use_the_image,
    install_refuses_when_the_container_exists,
);

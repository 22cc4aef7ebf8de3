//! The label protocol run for real: environment passthrough, RUN_OPTS_FILE, argument
//! boundaries, `${VAR:-default}`, JSON labels, case variants, and every injection attempt staying
//! literal (the original's test_printenv.sh, test_run_opts.sh, test_params.sh).

mod common;

use std::collections::BTreeMap;

use common::{Kind, World, images, stderr, stdout};

fn printenv_label_gets_the_callers_environment(kind: Kind) {
    images::test5(kind);
    let world = World::new();
    let out = world
        .on(kind, &["run", "-q"], &["atomic-test-5"])
        .env("ATOMIC_TEST_MARKER", "marker value; $(not run)")
        .env("SUDO_UID", "1234")
        .env("SUDO_GID", "5678")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let env: BTreeMap<String, String> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(env["ATOMIC_TEST_MARKER"], "marker value; $(not run)");
    assert_eq!(env["NAME"], "atomic-test-5");
    assert_eq!(env["IMAGE"], "atomic-test-5");
    assert_eq!(env["SUDO_UID"], "1234");
    assert_eq!(env["SUDO_GID"], "5678");
    assert_eq!(env["PWD"], world.path().to_string_lossy());
    assert_eq!(env["PATH"], std::env::var("PATH").unwrap());
}

fn run_opts_file_reaches_the_run_command(kind: Kind) {
    images::test6(kind);
    let world = World::new();
    std::fs::write(
        world.path().join("docker-run-opts-atomic-test-6"),
        "--hostname=opts-host -e 'VAR1=from the opts file'\n",
    )
    .unwrap();
    let out = world
        .on(kind, &["run", "-i"], &["atomic-test-6"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("opts-host:from the opts file"),
        "{}",
        stdout(&out)
    );
    // No file: the options vanish and the run still works.
    std::fs::remove_file(world.path().join("docker-run-opts-atomic-test-6")).unwrap();
    let out = world
        .on(kind, &["run", "-q", "-i"], &["atomic-test-6"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).trim_end().ends_with(':'), "{}", stdout(&out));
}

fn relative_run_opts_file_is_refused(kind: Kind) {
    images::relative_opts(kind);
    let world = World::new();
    let out = world
        .on(kind, &["run"], &["atomic-test-relopts"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out)
            .contains("Will not read RUN_OPTS_FILE opts-atomic-test-relopts: not absolute path"),
        "{}",
        stderr(&out)
    );
}

fn install_arguments_keep_their_boundaries(kind: Kind) {
    // test_params.sh: unicode, spaces, quotes and shell metacharacters pass through unchanged.
    images::test6(kind);
    let world = World::new();
    let args = [
        "asdf&jkl",
        "bash -c \"echo arg1 arg2\"",
        "ježek",
        "asdf jkl",
        "a;b",
        "$(id)",
        "`id`",
        "line\nbreak",
    ];
    let mut cmd = world.on(
        kind,
        &["install", "-q"],
        &["-n", &common::unique("params"), "atomic-test-6"],
    );
    cmd.args(args);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let expected: String = args.iter().map(|a| format!("{a}\n")).collect();
    assert!(
        text.ends_with(&expected),
        "got:\n{text}\nwanted the tail:\n{expected}"
    );
}

fn run_arguments_keep_their_boundaries(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let name = common::unique("argv");
    let mut containers = common::Containers::new(kind);
    containers.adopt(&name);
    let out = world
        .on(
            kind,
            &["run", "-q"],
            &[
                "-n",
                &name,
                "atomic-test-plain",
                "/bin/sh",
                "-c",
                "for a; do echo \"[$a]\"; done",
                "x",
                "two words",
                "it's",
                "ježek",
            ],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "[two words]\n[it's]\n[ježek]\n");
}

fn default_values_in_labels_work(kind: Kind) {
    images::defaults(kind);
    let world = World::new();
    let out = world
        .on(kind, &["run", "-q"], &["atomic-test-defaults"])
        .env_remove("FOO")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "bar baz\n");
    let out = world
        .on(kind, &["run", "-q"], &["atomic-test-defaults"])
        .env("FOO", "from env; `id`")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "from env; `id`\n");
}

fn injection_through_labels_and_values_stays_literal(kind: Kind) {
    images::hostile(kind);
    let world = World::new();
    let markers = [
        "/tmp/atomic-pwned-label",
        "/tmp/atomic-pwned-subst",
        "/tmp/atomic-pwned-tick",
    ];
    for m in markers {
        let _ = std::fs::remove_file(m);
    }
    let out = world
        .on(kind, &["run", "-q", "-i"], &["atomic-test-hostile"])
        .env("EVIL", "$(touch /tmp/atomic-pwned-env); rm -rf /")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "; touch /tmp/atomic-pwned-label && $(touch /tmp/atomic-pwned-subst) `touch \
         /tmp/atomic-pwned-tick` $(touch /tmp/atomic-pwned-env); rm -rf /\n"
    );
    for m in markers.iter().chain(&["/tmp/atomic-pwned-env"]) {
        assert!(!std::path::Path::new(m).exists(), "{m} was created");
    }

    // OPTn and arguments are values too: never run, never re-split.
    let out = world
        .on(
            kind,
            &["install", "-q"],
            &[
                "-n",
                &common::unique("hostile"),
                "--opt1",
                "$(touch /tmp/atomic-pwned-opt)",
                "atomic-test-hostile",
                "; touch /tmp/atomic-pwned-arg",
                "\"quoted\"",
                "new\nline",
            ],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "[; touch /tmp/atomic-pwned-arg]\n[\"quoted\"]\n[new\nline]\n"
    );
    assert!(!std::path::Path::new("/tmp/atomic-pwned-opt").exists());
    assert!(!std::path::Path::new("/tmp/atomic-pwned-arg").exists());
}

fn hostile_names_are_refused(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    for name in [
        "x;touch /tmp/atomic-pwned-name",
        "-rm",
        "a b",
        "$(id)",
        "../x",
        "",
        "x\ny",
        "é",
    ] {
        let out = world
            .on(
                kind,
                &["run"],
                &[&format!("--name={name}"), "atomic-test-plain", "true"],
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{name:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("name"), "{name:?}: {}", stderr(&out));
    }
    assert!(!std::path::Path::new("/tmp/atomic-pwned-name").exists());
}

fn json_array_label_is_exact_argv(kind: Kind) {
    images::json_label(kind);
    let world = World::new();
    let out = world
        .on(kind, &["run", "-q"], &["atomic-test-json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "two  spaces atomic-test-json\n");
}

fn exact_label_key_wins_over_case_variants(kind: Kind) {
    images::case_variants(kind);
    let world = World::new();
    for _ in 0..3 {
        let out = world
            .on(kind, &["run"], &["atomic-test-case"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).ends_with("upper\n"), "{}", stdout(&out));
        assert!(
            stderr(&out).contains("several RUN labels"),
            "{}",
            stderr(&out)
        );
    }
}

fn malformed_label_is_a_clear_error(kind: Kind) {
    images::malformed(kind);
    let world = World::new();
    let out = world
        .on(kind, &["run"], &["atomic-test-malformed"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("RUN") && err.contains("quote"), "{err}");
}

fn label_exit_code_is_atomics(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let name = common::unique("code");
    let mut containers = common::Containers::new(kind);
    containers.adopt(&name);
    let out = world
        .on(
            kind,
            &["run", "-q"],
            &["-n", &name, "atomic-test-plain", "/bin/sh", "-c", "exit 42"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(42));
}

on_every_engine!(
    printenv_label_gets_the_callers_environment,
    run_opts_file_reaches_the_run_command,
    relative_run_opts_file_is_refused,
    install_arguments_keep_their_boundaries,
    run_arguments_keep_their_boundaries,
    default_values_in_labels_work,
    injection_through_labels_and_values_stays_literal,
    hostile_names_are_refused,
    json_array_label_is_exact_argv,
    exact_label_key_wins_over_case_variants,
    malformed_label_is_a_clear_error,
    label_exit_code_is_atomics,
);

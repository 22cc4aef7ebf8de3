//! `info`, `version` and `help` (the behaviours of the original's test_info.sh and
//! test_help.sh).

mod common;

use common::{Kind, World, images, stderr, stdout};

fn info_lists_sorted_labels(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    for verb in [&["info"][..], &["images", "info"]] {
        let out = world.on(kind, verb, &["atomic-test-1"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Image Name: atomic-test-1");
        let keys: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(':').next().unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(text.contains("Name: atomic-test-1\n"), "{text}");
        assert!(
            text.contains(&format!("RUN: {}\n", images::TEST1_RUN)),
            "{text}"
        );
    }
}

fn info_json(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    let out = world
        .on(kind, &["info", "--json"], &["atomic-test-1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["labels"]["Version"], "1.0");
    assert_eq!(doc["storage"], kind.as_str());
    assert_eq!(doc["image"], "atomic-test-1");
}

fn version_shows_version_release(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    let out = world
        .on(kind, &["version"], &["atomic-test-1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("IMAGE NAME"), "{text}");
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with("atomic-test-1") && row.contains("1.0-3"),
        "{text}"
    );
}

fn help_renders_the_man_page_and_leaves_nothing(kind: Kind) {
    images::test1(kind);
    let world = World::new();
    let out = world
        .on(kind, &["help"], &["atomic-test-1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("rendering of help pages"), "{text}");
    assert!(
        !text.contains("allbox") && !text.contains(".TS"),
        "tbl markup shown raw: {text}"
    );
    // Nothing is mounted for it (the original mounted images under /run/atomicXXXX).
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("/run/atomic"), "{mounts}");
    // The temporary container used to read the file is gone.
    let all = kind.output(&["ps", "-a", "--format", "{{.Image}}"]);
    assert!(!all.lines().any(|l| l.contains("atomic-test-1")), "{all}");
}

fn help_label_runs(kind: Kind) {
    images::test3(kind);
    images::test4(kind);
    let world = World::new();
    let out = world
        .on(kind, &["help"], &["atomic-test-3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Testing help"), "{}", stdout(&out));
    let out = world
        .on(kind, &["help"], &["atomic-test-4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Testing lowercase help"),
        "{}",
        stdout(&out)
    );
}

fn no_help_exits_1(kind: Kind) {
    images::plain(kind);
    let world = World::new();
    let out = world
        .on(kind, &["help"], &["atomic-test-plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("There is no help for atomic-test-plain."),
        "{}",
        stderr(&out)
    );
}

on_both_engines!(
    info_lists_sorted_labels,
    info_json,
    version_shows_version_release,
    help_renders_the_man_page_and_leaves_nothing,
    help_label_runs,
    no_help_exits_1,
);

//! `atomic scan` on every engine, with a scanner image built here: a busybox script that reports
//! a vulnerability for every root with an `/etc/vulnerable` file, in the original's result
//! format, and checks that its inputs are read-only.

mod common;

use std::path::Path;

use atomic_testsupport::ImageSpec;
use common::{Containers, Kind, World, stderr, stdout};

/// For each /scanin/<id>: /scanout/<id>/json. The scan type ("cve" or "list") is $1.
const SCANNER_SCRIPT: &str = r#"#!/bin/sh
[ "$1" = fail ] && { echo "scanner broke" >&2; exit 3; }
for dir in /scanin/*; do
    id=${dir##*/}
    mkdir -p /scanout/$id
    if touch $dir/.written 2>/dev/null; then ro=no; else ro=yes; fi
    if [ -f $dir/etc/vulnerable ]; then
        what=$(cat $dir/etc/vulnerable)
        vulns="[{\"Title\": \"CVE-2099-0001 in $what\", \"Severity\": \"Important\", \"Description\": \"test\", \"Custom\": {\"package\": \"$what\"}}]"
    else
        vulns="[]"
    fi
    echo "{\"Scanner\": \"i19b-scanner\", \"Time\": \"$(date +%Y-%m-%dT%H:%M:%S)\", \"Scan Type\": \"$1\", \"Finished Time\": \"now\", \"UUID\": \"/scanin/$id\", \"Successful\": \"true\", \"Custom\": {\"read-only\": \"$ro\", \"args\": \"$*\"}, \"Vulnerabilities\": $vulns}" > /scanout/$id/json
done
echo scanner stdout
"#;

const PLUGIN: &str = "\
type: scanner
scanner_name: i19b-scanner
image_name: i19b-scanner
default_scan: cve
scans:
  - name: cve
    args: ['cve']
    description: Reports /etc/vulnerable
  - name: list
    args: ['list']
    description: Lists nothing
";

fn scanner_image(kind: Kind) {
    kind.load(
        &ImageSpec::new("i19b-scanner")
            .file("/scan.sh", SCANNER_SCRIPT, 0o755)
            .entrypoint(["/bin/sh", "/scan.sh"]),
    );
}

fn targets(kind: Kind) {
    kind.load(&ImageSpec::new("i19b-scan-bad").file("/etc/vulnerable", "openssl-1.0\n", 0o644));
    kind.load(&ImageSpec::new("i19b-scan-good").file("/etc/motd", "fine\n", 0o644));
}

/// A world with the plugin in its own atomic.d and results under its own var/lib.
fn world() -> World {
    let world = World::new();
    std::fs::create_dir_all(world.path().join("atomic.d")).unwrap();
    std::fs::write(world.path().join("atomic.d/i19b"), PLUGIN).unwrap();
    world
}

fn scan(world: &World, kind: Kind, args: &[&str]) -> std::process::Output {
    world
        .on(kind, &["scan"], args)
        .env("ATOMIC_CONFD", world.path().join("atomic.d"))
        .env("ATOMIC_VAR_LIB", world.path().join("var"))
        .output()
        .unwrap()
}

/// No scan mount of this root is left (other tests' scans may be mounted at the same time, so
/// only this test's own container, whose ID no other test has, is looked for).
fn nothing_left_mounted(id: &str) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts
            .lines()
            .any(|l| l.contains("atomic-scan-") && l.contains(id)),
        "{mounts}"
    );
}

fn reports_findings_and_marks_vulnerable(kind: Kind) {
    scanner_image(kind);
    targets(kind);
    let world = world();
    let mut containers = Containers::new(kind);
    let ctr = containers.name("i19b-scan-ctr");
    kind.output(&[
        "run",
        "--name",
        &ctr,
        "i19b-scan-good",
        "sh",
        "-c",
        "echo busybox-9 > /etc/vulnerable",
    ]);
    // The lists mark what the scan found vulnerable (asked before and after the scan).
    let list = |verb: &[&str]| -> serde_json::Value {
        let out = world
            .on(kind, verb, &["--json"])
            .env("ATOMIC_VAR_LIB", world.path().join("var"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // An entry of an image that no longer exists is forgotten by the next scan.
    let var = world.path().join("var");
    std::fs::create_dir_all(&var).unwrap();
    let gone = "0".repeat(64);
    std::fs::write(
        var.join("scan_summary.json"),
        format!(
            r#"{{"{gone}": {{"UUID": "{gone}", "Scanner": "x", "Time": "t", "Scan Type": "cve",
                "Vulnerable": true, "json_file": "/nowhere/json"}}}}"#
        ),
    )
    .unwrap();
    let out = scan(&world, kind, &["i19b-scan-bad", "i19b-scan-good", &ctr]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    // The command is shown first, the scanner's own output is not.
    let first = text.lines().next().unwrap();
    assert!(
        first.contains(" run --rm ") && first.contains(":/scanout:rw"),
        "{text}"
    );
    assert!(!text.contains("scanner stdout"), "{text}");
    let images = list(&["images", "list"]);
    let bad_id = images
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["repo"]
                .as_str()
                .is_some_and(|r| r.ends_with("i19b-scan-bad"))
        })
        .unwrap_or_else(|| panic!("{images}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!("\ni19b-scan-bad ({})\n", &bad_id[..15])),
        "{text}"
    );
    assert!(
        text.contains(
            "The following issues were found:\n\n     CVE-2099-0001 in openssl-1.0\n     \
             Severity: Important\n       package: openssl-1.0\n"
        ),
        "{text}"
    );
    assert!(text.contains("i19b-scan-good passed the scan"), "{text}");
    assert!(text.contains("CVE-2099-0001 in busybox-9"), "{text}");
    assert!(text.contains("   read-only: yes\n"), "{text}");
    assert!(
        !text.contains("read-only: no"),
        "inputs must be read-only: {text}"
    );
    let results = world.path().join("var/i19b-scanner");
    assert!(
        text.contains(&format!(
            "Files associated with this scan are in {}/",
            results.display()
        )),
        "{text}"
    );
    let runs: Vec<_> = std::fs::read_dir(&results).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let run = runs.into_iter().next().unwrap().unwrap().path();
    let summary = std::fs::read_to_string(var.join("scan_summary.json")).unwrap();
    assert!(!summary.contains(&gone), "{summary}");
    assert!(summary.contains(&bad_id), "{summary}");
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join(&bad_id).join("json")).unwrap()).unwrap();
    assert_eq!(result["Scan Type"], "cve");

    let images = list(&["images", "list"]);
    let vulnerable = |doc: &serde_json::Value, key: &str, value: &str| {
        doc.as_array()
            .unwrap()
            .iter()
            .find(|i| i[key].as_str().is_some_and(|v| v.ends_with(value)))
            .unwrap_or_else(|| panic!("no {value} in {doc}"))["vulnerable"]
            .clone()
    };
    assert_eq!(vulnerable(&images, "repo", "i19b-scan-bad"), true);
    assert_eq!(vulnerable(&images, "repo", "i19b-scan-good"), false);
    let containers_doc = list(&["containers", "list", "-a"]);
    assert_eq!(vulnerable(&containers_doc, "name", &ctr), true);
    let ctr_id = containers_doc
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.ends_with(&ctr)))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!("\n{ctr} ({})\n", &ctr_id[..15])),
        "{text}"
    );
    nothing_left_mounted(&ctr_id);
    let out = world
        .on(kind, &["containers", "list"], &["-a"])
        .env("ATOMIC_VAR_LIB", world.path().join("var"))
        .output()
        .unwrap();
    let table = stdout(&out);
    let row = table
        .lines()
        .find(|l| l.contains(&ctr_id[..12]))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.starts_with('\u{2620}'), "{table}");
    let out = world
        .on(kind, &["images", "list"], &[])
        .env("ATOMIC_VAR_LIB", world.path().join("var"))
        .output()
        .unwrap();
    let table = stdout(&out);
    let row = table
        .lines()
        .find(|l| l.contains("i19b-scan-bad"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.starts_with('\u{2620}'), "{table}");
}

fn scan_type_and_json(kind: Kind) {
    scanner_image(kind);
    targets(kind);
    let world = world();
    let out = scan(
        &world,
        kind,
        &[
            "--scan_type",
            "list",
            "--json",
            "--scanner_args",
            "profile=strict,fast",
            "i19b-scan-good",
            "i19b-scan-good",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let docs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 1, "scanned once: {docs}");
    assert_eq!(docs[0]["Scan Type"], "list");
    assert_eq!(docs[0]["Custom"]["args"], "list --profile strict --fast");
    assert_eq!(docs[0]["Successful"], "true");
    // A scanner that fails: its exit status and stderr make the error.
    std::fs::write(
        world.path().join("atomic.d/failing"),
        "type: scanner\nscanner_name: i19b-failing\nimage_name: i19b-scanner\n\
         default_scan: cve\nscans:\n  - name: cve\n    args: ['fail']\n    description: x\n",
    )
    .unwrap();
    let out = scan(
        &world,
        kind,
        &["--scanner", "i19b-failing", "i19b-scan-good"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("the scanner 'i19b-failing' failed (exit status 3)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("scanner broke"), "{}", stderr(&out));
    // With two scanners and no default, one must be chosen.
    let out = scan(&world, kind, &["i19b-scan-good"]);
    assert!(
        stderr(&out).contains("You must specify a scanner (--scanner)"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(world.path().join("atomic.d/failing")).unwrap();
    let out = scan(&world, kind, &["--scan_type", "nope", "i19b-scan-good"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Unable to find the scan type 'nope' for 'i19b-scanner'"),
        "{}",
        stderr(&out)
    );
}

fn rootfs_directories(kind: Kind) {
    scanner_image(kind);
    let world = world();
    let dir = world.path().join("tree");
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::write(dir.join("etc/vulnerable"), "libfoo-2\n").unwrap();
    let shown = dir.display().to_string();
    let out = scan(&world, kind, &["--rootfs", &shown]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("\n{shown} ({shown})\n")), "{text}");
    assert!(text.contains("CVE-2099-0001 in libfoo-2"), "{text}");
    assert!(
        !dir.join(".written").exists(),
        "the scanner wrote into --rootfs"
    );
    // A relative path is the directory, not a volume name.
    let out = world
        .on(kind, &["scan"], &["--rootfs", "tree"])
        .current_dir(world.path())
        .env("ATOMIC_CONFD", world.path().join("atomic.d"))
        .env("ATOMIC_VAR_LIB", "var")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\ntree (tree)\n"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("CVE-2099-0001 in libfoo-2"),
        "{}",
        stdout(&out)
    );
    assert!(world.path().join("var/scan_summary.json").exists());
    let missing = world.path().join("nope").display().to_string();
    let out = scan(&world, kind, &["--rootfs", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn list_shows_scanners_and_defaults() {
    let world = world();
    std::fs::write(world.path().join("atomic.d/broken"), "type: scanner\n: [").unwrap();
    let out = world
        .atomic()
        .args(["scan", "--list"])
        .env("ATOMIC_CONFD", world.path().join("atomic.d"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Scanner: i19b-scanner \n  Image Name: i19b-scanner\n     Scan type: cve * \n     \
         Description: Reports /etc/vulnerable\n\n     Scan type: list \n     Description: \
         Lists nothing\n\n\n* denotes defaults\n"
    );
    assert!(
        stderr(&out).contains("Unable to load scannerfile"),
        "{}",
        stderr(&out)
    );
    // atomic.conf's default_scanner is starred.
    std::fs::write(world.conf(), "default_scanner: i19b-scanner\n").unwrap();
    let out = world
        .atomic()
        .args(["scan", "--list"])
        .env("ATOMIC_CONFD", world.path().join("atomic.d"))
        .output()
        .unwrap();
    assert!(
        stdout(&out).starts_with("Scanner: i19b-scanner * \n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn missing_scanners_are_clear_errors() {
    let world = world();
    let confd = world.path().join("atomic.d");
    let run = |args: &[&str], confd: &Path| {
        world
            .atomic()
            .args(["scan"])
            .args(args)
            .env("ATOMIC_CONFD", confd)
            .env("ATOMIC_VAR_LIB", world.path().join("var"))
            .output()
            .unwrap()
    };
    let out = run(&["--scanner", "nope", "x"], &confd);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Unknown scanner 'nope'; the configured scanners are: i19b-scanner"),
        "{}",
        stderr(&out)
    );
    let out = run(&["x"], &world.path().join("empty"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No scanners are configured for your system"),
        "{}",
        stderr(&out)
    );
    let out = run(&[], &confd);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("You must provide at least one container or image"),
        "{}",
        stderr(&out)
    );
    // The scanner's image is nowhere: said before anything is mounted or run.
    std::fs::write(
        confd.join("ghost"),
        PLUGIN
            .replace("i19b-scanner", "i19b-ghost")
            .replace("image_name: i19b-ghost", "image_name: i19b-no-such-image"),
    )
    .unwrap();
    let dir = world.path().join("tree");
    std::fs::create_dir_all(&dir).unwrap();
    let out = run(
        &[
            "--scanner",
            "i19b-ghost",
            "--rootfs",
            &dir.display().to_string(),
        ],
        &confd,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "the image 'i19b-no-such-image' of scanner 'i19b-ghost' is not in any storage"
        ),
        "{}",
        stderr(&out)
    );
}

on_every_engine!(
    reports_findings_and_marks_vulnerable,
    scan_type_and_json,
    rootfs_directories,
);

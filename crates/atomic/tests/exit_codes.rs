//! Exit codes scripts rely on: a verb that runs a label's command exits with that command's
//! code, and with 125 when atomic itself fails (Docker's and Podman's convention), so the two
//! are never confused; other verbs exit 1 on failure. Errors rise to `main`, so temporary files
//! are removed on the way out.

mod common;

use atomic_testsupport::ImageSpec;
use common::native::{pull_oci, run};
use common::{Kind, World, stderr};

#[test]
fn label_command_codes_pass_through_and_atomic_failures_are_125() {
    if !Kind::Native.usable() {
        return;
    }
    let world = World::new();
    // The label's command runs on the host and exits with its first argument.
    let image = pull_oci(
        &world,
        &ImageSpec::new("i14-exit-code").label("RUN", r#"/bin/sh -c 'exit "$0"'"#),
    );
    for code in [0, 1, 7] {
        let out = run(
            &world,
            &["run", "--storage", "native", &image.name, &code.to_string()],
        );
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    }
    // atomic's own failure in a verb that passes a code through: 125, not 1.
    for verb in ["run", "install", "uninstall", "stop"] {
        let out = run(&world, &[verb, "--storage", "native", "i14-no-such-image"]);
        assert_eq!(out.status.code(), Some(125), "{verb}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("i14-no-such-image"),
            "{}",
            stderr(&out)
        );
    }
    // A verb that runs nothing of the image's: 1.
    let out = run(
        &world,
        &["info", "--storage", "native", "i14-no-such-image"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A usage error is clap's: 2.
    let out = run(&world, &["run", "--no-such-flag", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// The Podman authfile holding `--src-creds` is a temporary file: a failed pull must not
/// leave it (with the password in it) behind.
#[test]
fn failed_podman_pull_leaves_no_authfile() {
    if !Kind::Podman.usable() {
        return;
    }
    let world = World::new();
    let tmp = world.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = world
        .atomic()
        .env("TMPDIR", &tmp)
        .args([
            "pull",
            "--storage",
            "podman",
            "--tls-verify=false",
            "--src-creds",
            "i14user:i14secret",
            // Nothing listens on port 1: the pull fails after the authfile is written.
            "127.0.0.1:1/i14-no-such-image:latest",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("atomic-auth-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn exit_codes_are_documented_in_help_and_the_man_page() {
    let world = World::new();
    let out = run(&world, &["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit status:") && help.contains("125"),
        "{help}"
    );
    let dir = world.path().join("man");
    let out = run(&world, &["generate-man", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(dir.join("atomic.1")).unwrap();
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    assert!(page.contains("\\fB125\\fR"), "{page}");
    assert!(!page.contains(".SH EXTRA"), "{page}");
}

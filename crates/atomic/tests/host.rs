//! `atomic host status`, `rollback` and `upgrade` against real OSTree sysroots (see
//! `host_support`); deploy, rebase and the failure cases are in `host_deploy.rs`.

mod host_support;

use std::process::Command;

use host_support::*;
use predicates::str::contains;

#[test]
fn status_json_lists_deployments_in_boot_order() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, v1, v2) = two_deployments();
    let doc = status_json(&sysroot);
    let deployments = doc["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 2, "{doc}");
    for (d, (version, checksum)) in deployments.iter().zip([("2.0", &v2), ("1.0", &v1)]) {
        assert_eq!(d["version"], version, "{doc}");
        assert_eq!(d["checksum"], checksum.as_str(), "{doc}");
        assert_eq!(d["origin"], "testos/stable", "{doc}");
        assert_eq!(d["osname"], "testos", "{doc}");
        // A temp sysroot is not the running root, so libostree reports nothing booted.
        assert_eq!(d["booted"], false, "{doc}");
        assert_eq!(d["staged"], false, "{doc}");
        assert_eq!(d["pinned"], false, "{doc}");
        assert_eq!(d["unlocked"], "none", "{doc}");
        assert!(d["timestamp"].as_u64().is_some(), "{doc}");
        let id = format!("testos-{checksum}.{}", d["serial"]);
        assert_eq!(d["id"], id.as_str(), "{doc}");
    }
}

#[test]
fn status_text_shows_both_deployments() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, v1, v2) = two_deployments();
    let out = atomic()
        .args(["host", "status", "--sysroot"])
        .arg(sysroot.root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("State: idle\nDeployments:\n"), "{text}");
    let new = text.find(&format!("Commit: {v2}")).expect(&text);
    let old = text.find(&format!("Commit: {v1}")).expect(&text);
    assert!(new < old, "2.0 is listed first: {text}");
    assert_eq!(
        text.matches("  testos:testos/stable\n").count(),
        2,
        "{text}"
    );
    assert!(text.contains("Version: 2.0 ("), "{text}");
    assert!(text.contains("Version: 1.0 ("), "{text}");
    // libostree's own view agrees on the order.
    let ostree = run(sysroot.admin().arg("status"));
    let pos = |c: &str| ostree.find(c).expect(&ostree);
    assert!(pos(&v2) < pos(&v1), "{ostree}");
}

#[test]
fn booted_only_on_an_unbooted_sysroot_says_so() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, _, _) = two_deployments();
    atomic()
        .args(["host", "status", "-b", "--sysroot"])
        .arg(sysroot.root())
        .assert()
        .success()
        .stdout("State: idle\nDeployments:\n")
        .stderr(contains("no deployment is booted"));
    let out = atomic()
        .args(["host", "status", "-b", "--json", "--sysroot"])
        .arg(sysroot.root())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["deployments"], serde_json::json!([]));
}

#[test]
fn not_an_ostree_sysroot_is_exit_1() {
    // Needs no ostree CLI: the check comes before libostree is asked anything.
    let dir = tempfile::tempdir().unwrap();
    for json in [false, true] {
        let mut cmd = atomic();
        cmd.args(["host", "status", "--sysroot"]).arg(dir.path());
        if json {
            cmd.arg("--json");
        }
        cmd.assert()
            .code(1)
            .stdout("")
            .stderr(contains("this host is not an OSTree-based host"));
    }
}

#[test]
fn rollback_swaps_the_first_two_deployments() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, v1, v2) = two_deployments();
    assert_eq!(checksums(&sysroot), [v2.clone(), v1.clone()]);
    atomic()
        .args(["host", "rollback", "-r", "--sysroot"])
        .arg(sysroot.root())
        .assert()
        .success()
        .stdout(contains(format!("Moving '{v1}.")))
        .stderr(contains("reboot skipped"));
    assert_eq!(checksums(&sysroot), [v1.clone(), v2.clone()]);
    let ostree = run(sysroot.admin().arg("status"));
    let pos = |c: &str| ostree.find(c).expect(&ostree);
    assert!(pos(&v1) < pos(&v2), "{ostree}");
    // And back.
    atomic()
        .args(["host", "rollback", "--sysroot"])
        .arg(sysroot.root())
        .assert()
        .success();
    assert_eq!(checksums(&sysroot), [v2, v1]);
}

#[test]
fn rollback_with_one_deployment_is_exit_1() {
    if !ostree_usable() {
        return;
    }
    let sysroot = Sysroot::new();
    sysroot.commit("1.0");
    run(sysroot
        .admin()
        .args(["deploy", "--os=testos", "testos/stable"]));
    atomic()
        .args(["host", "rollback", "--sysroot"])
        .arg(sysroot.root())
        .assert()
        .code(1)
        .stderr(contains("no rollback deployment available"));
}

#[test]
fn upgrade_deploys_a_new_commit_with_etc_merged() {
    if !ostree_usable() {
        return;
    }
    let sysroot = Sysroot::new();
    sysroot.commit("1.0");
    let v1 = sysroot.rev_parse("testos/stable");
    run(sysroot
        .admin()
        .args(["deploy", "--os=testos", "testos/stable"]));
    let upgrade = |extra: &[&str]| {
        let mut cmd = atomic();
        cmd.args(["host", "upgrade"])
            .args(extra)
            .arg("--sysroot")
            .arg(sysroot.root());
        cmd.output().unwrap()
    };

    // Nothing new yet.
    let out = upgrade(&["--check"]);
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("No upgrade available."));
    let out = upgrade(&[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("No upgrade available."));

    // A local change to /etc in the default deployment, then a new commit on the branch.
    std::fs::write(
        deploy_dir(&sysroot, &v1).join("etc/atomic-test.conf"),
        "kept\n",
    )
    .unwrap();
    sysroot.commit("2.0");
    let v2 = sysroot.rev_parse("testos/stable");

    let out = upgrade(&["--check"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Update available: 2.0 ({v2}, ")),
        "{out:?}"
    );
    assert_eq!(
        checksums(&sysroot),
        vec![v1.clone()],
        "--check deploys nothing"
    );

    let out = upgrade(&["--os", "testos", "-r"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Upgraded OS to 2.0 ({v2}, ")),
        "{out:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("reboot skipped"));
    assert_eq!(checksums(&sysroot), [v2.clone(), v1.clone()]);
    let ostree = run(sysroot.admin().arg("status"));
    let pos = |c: &str| ostree.find(c).expect(&ostree);
    assert!(pos(&v2) < pos(&v1), "{ostree}");
    let merged = deploy_dir(&sysroot, &v2).join("etc/atomic-test.conf");
    assert_eq!(std::fs::read_to_string(merged).unwrap(), "kept\n");

    let out = upgrade(&[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("No upgrade available."));
    assert_eq!(checksums(&sysroot), [v2, v1]);
}

#[test]
fn upgrade_pulls_from_a_file_remote() {
    if !ostree_usable() {
        return;
    }
    // The OS repo is a separate archive repo, reached as remote `origin` by a file:// URL.
    let sysroot = Sysroot::new();
    let upstream = sysroot.dir.path().join("upstream");
    run(Command::new("ostree")
        .arg(format!("--repo={}", upstream.display()))
        .args(["init", "--mode=archive"]));
    let commit_upstream = |version: &str| {
        sysroot.commit(version);
        run(Command::new("ostree")
            .arg(format!("--repo={}", upstream.display()))
            .args(["pull-local"])
            .arg(sysroot.repo())
            .arg("testos/stable"));
        sysroot.rev_parse("testos/stable")
    };
    let v1 = commit_upstream("1.0");
    run(Command::new("ostree")
        .arg(format!("--repo={}", sysroot.repo().display()))
        .args(["remote", "add", "--no-gpg-verify", "origin"])
        .arg(format!("file://{}", upstream.display()))
        .arg("testos/stable"));
    run(Command::new("ostree")
        .arg(format!("--repo={}", sysroot.repo().display()))
        .args(["pull", "origin", "testos/stable"]));
    run(sysroot
        .admin()
        .args(["deploy", "--os=testos", "origin:testos/stable"]));
    // The sysroot repo's `origin:testos/stable` stays at 1.0 until atomic pulls 2.0.
    let v2 = commit_upstream("2.0");
    assert_eq!(sysroot.rev_parse("origin:testos/stable"), v1);
    atomic()
        .args(["host", "upgrade", "--sysroot"])
        .arg(sysroot.root())
        .assert()
        .success()
        .stdout(contains(format!("Upgraded OS to 2.0 ({v2}, ")));
    assert_eq!(checksums(&sysroot), [v2, v1]);
}

/// Three deployments as libostree leaves them, one pinned and one with an origin that says
/// `unlocked=hotfix`, so every field status reads has something to read.
fn three_varied_deployments() -> Sysroot {
    let (sysroot, _, _) = two_deployments();
    sysroot.commit("3.0");
    run(sysroot
        .admin()
        .args(["deploy", "--retain", "--os=testos", "testos/stable"]));
    run(sysroot.admin().args(["pin", "1"]));
    let first = checksums(&sysroot)[0].clone();
    let dir = deploy_dir(&sysroot, &first);
    let origin = dir.with_file_name(format!(
        "{}.origin",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let text = std::fs::read_to_string(&origin).unwrap();
    std::fs::write(
        &origin,
        text.replace("[origin]\n", "[origin]\nunlocked=hotfix\n"),
    )
    .unwrap();
    sysroot
}

/// `atomic host status ARGS --sysroot S` run by `cmd`: exit code, stdout, stderr.
fn status_with(
    mut cmd: Command,
    sysroot: &Sysroot,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out = cmd
        .args(["host", "status"])
        .args(args)
        .arg("--sysroot")
        .arg(sysroot.root())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn status_reads_the_sysroot_without_the_helper_and_agrees_with_libostree() {
    if !ostree_usable() {
        return;
    }
    let sysroot = three_varied_deployments();
    let libostree = libostree_status(&sysroot);
    assert_eq!(libostree.deployments.len(), 3);
    assert!(libostree.deployments[1].pinned, "{libostree:?}");
    assert_eq!(libostree.deployments[0].unlocked, "hotfix");
    let none_booted = atomic_host::HostStatus::default();
    // Run by a copy of atomic that has no helper to ask: status is read by atomic alone, and
    // is what libostree says, in every form.
    let lone = LoneAtomic::new();
    for (args, expected) in [
        (&[][..], atomic_host::to_text(&libostree)),
        (&["--pretty"], atomic_host::to_text(&libostree)),
        (&["--json"], atomic_host::to_json(&libostree) + "\n"),
        (&["-b", "--json"], atomic_host::to_json(&none_booted) + "\n"),
        (&["-b"], atomic_host::to_text(&none_booted)),
    ] {
        let (code, out, err) = status_with(lone.command(), &sysroot, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert_eq!(out, expected, "{args:?}");
    }
    // And ostree's own listing agrees on the order.
    let ostree = run(sysroot.admin().arg("status"));
    let pos = |d: &atomic_host::Deployment| ostree.find(&d.checksum).expect(&ostree);
    assert!(
        libostree
            .deployments
            .windows(2)
            .all(|w| pos(&w[0]) < pos(&w[1])),
        "{ostree}"
    );
}

#[test]
fn status_asks_libostree_about_a_commit_object_it_cannot_read() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, _, v2) = two_deployments();
    // A truncated commit object: libostree makes something of it (GLib substitutes defaults
    // for what is missing); whatever that is, atomic must say the same, not its own guess.
    let object = sysroot
        .repo()
        .join(format!("objects/{}/{}.commit", &v2[..2], &v2[2..]));
    let bytes = std::fs::read(&object).unwrap();
    std::fs::write(&object, &bytes[..100]).unwrap();
    let expected = atomic_host::to_json(&libostree_status(&sysroot)) + "\n";
    let (code, out, err) = status_with(Command::new(atomic().get_program()), &sysroot, &["--json"]);
    assert_eq!((code, out), (Some(0), expected), "{err}");
    // The copy without a helper cannot answer, and says what it is missing.
    let (code, _, err) = status_with(LoneAtomic::new().command(), &sysroot, &["--json"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("needs 'atomic-ostree'"), "{err}");
}

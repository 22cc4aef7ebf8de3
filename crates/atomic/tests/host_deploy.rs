//! `atomic host deploy`, `rebase`, `upgrade --allow-downgrade`, the 2015 aliases and the
//! failures that must change nothing, on real temp OSTree sysroots (see `host_support`).

mod host_support;

use std::process::Command;

use host_support::*;
use predicates::str::contains;

/// `atomic host ARGS… --sysroot S`, run; (exit code, stdout, stderr).
fn host(sysroot: &Sysroot, args: &[&str]) -> (Option<i32>, String, String) {
    let out = atomic()
        .arg("host")
        .args(args)
        .arg("--sysroot")
        .arg(sysroot.root())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// 1.0, 2.0 and 3.0 committed; 3.0 deployed above 2.0 (1.0's deployment was dropped by the
/// upgrade, as libostree keeps only the default and the rollback).
fn three_commits() -> (Sysroot, [String; 3]) {
    let (sysroot, v1, v2) = two_deployments();
    sysroot.commit("3.0");
    let v3 = sysroot.rev_parse("testos/stable");
    run(sysroot.admin().args(["upgrade", "--os=testos"]));
    (sysroot, [v1, v2, v3])
}

/// An upstream archive repo with 1.0, 2.0 and 3.0 on `testos/stable`, the sysroot's remote
/// `origin`; 3.0 deployed from `origin:testos/stable` with only its head pulled. (A local ref
/// keeps no history to deploy from: libostree prunes the sysroot repo after every change.)
fn remote_three_commits() -> (Sysroot, [String; 3]) {
    let sysroot = Sysroot::new();
    let upstream = sysroot.upstream();
    let commits = ["1.0", "2.0", "3.0"].map(|v| sysroot.commit_in(&upstream, "testos/stable", v));
    run(sysroot.ostree_repo(&sysroot.repo()).args([
        "pull",
        "--depth=0",
        "origin",
        "testos/stable",
    ]));
    run(sysroot
        .admin()
        .args(["deploy", "--os=testos", "origin:testos/stable"]));
    (sysroot, commits)
}

fn in_sysroot_repo(sysroot: &Sysroot, checksum: &str) -> bool {
    sysroot
        .ostree_repo(&sysroot.repo())
        .args(["show", checksum])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn deploy_an_older_commit_by_checksum_with_etc_merged() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, [v1, _v2, v3]) = remote_three_commits();
    assert!(!in_sysroot_repo(&sysroot, &v1), "1.0 is not pulled yet");
    std::fs::write(deploy_dir(&sysroot, &v3).join("etc/local.conf"), "mine\n").unwrap();
    let (code, out, err) = host(&sysroot, &["deploy", &v1, "-r"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("Deployed 1.0 ({v1}, ")), "{out}");
    assert!(err.contains("reboot skipped"), "{err}");
    assert_eq!(checksums(&sysroot), [v1.clone(), v3.clone()]);
    let ostree = run(sysroot.admin().arg("status"));
    assert!(
        ostree.find(&v1).unwrap() < ostree.find(&v3).unwrap(),
        "{ostree}"
    );
    let merged = deploy_dir(&sysroot, &v1).join("etc/local.conf");
    assert_eq!(std::fs::read_to_string(merged).unwrap(), "mine\n");
    // The origin still follows the branch: an upgrade goes back to its head.
    let doc = status_json(&sysroot);
    assert_eq!(doc["deployments"][0]["origin"], "origin:testos/stable");
    let (code, out, _) = host(&sysroot, &["upgrade"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(checksums(&sysroot), [v3, v1]);
}

#[test]
fn deploy_by_version() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, [v1, v2, v3]) = remote_three_commits();
    let (code, out, err) = host(&sysroot, &["deploy", "2.0", "--os", "testos"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("Deployed 2.0 ({v2}, ")), "{out}");
    assert_eq!(checksums(&sysroot), [v2.clone(), v3.clone()]);
    // rpm-ostree's explicit spellings.
    let (code, _, err) = host(&sysroot, &["deploy", "version=1.0"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(checksums(&sysroot), [v1.clone(), v2.clone()]);
    let (code, _, err) = host(&sysroot, &["deploy", &format!("revision={v3}")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(checksums(&sysroot), [v3.clone(), v1]);
    // A checksum is not a version.
    let (code, _, err) = host(&sysroot, &["deploy", &format!("version={v3}")]);
    assert_eq!(code, Some(1), "{err}");
}

#[test]
fn deploy_from_a_local_ref_says_its_history_was_pruned() {
    if !ostree_usable() {
        return;
    }
    // Two `ostree admin upgrade`s: libostree pruned 1.0 from the sysroot repo.
    let (sysroot, [_v1, v2, _v3]) = three_commits();
    let before = sysroot.snapshot();
    let (code, _, err) = host(&sysroot, &["deploy", "1.0"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "revision '1.0' is neither a commit checksum nor a version in the history of \
             'testos/stable' (its history in the sysroot repo ends at {v2}: the older commits \
             were pruned, and only a remote origin can bring them back); nothing was changed"
        )),
        "{err}"
    );
    assert_eq!(sysroot.snapshot(), before);
    // What is still there deploys.
    let (code, _, err) = host(&sysroot, &["deploy", "2.0"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(checksums(&sysroot)[0], v2);
}

#[test]
fn deploy_preview_changes_nothing() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, [v1, _, v3]) = remote_three_commits();
    let before = sysroot.snapshot();
    let (code, out, err) = host(&sysroot, &["deploy", "1.0", "--preview"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("Would deploy 1.0 ({v1}, ")), "{out}");
    assert!(out.contains(&format!("replacing 3.0 ({v3}, ")), "{out}");
    assert!(out.contains("This is a downgrade"), "{out}");
    assert!(out.contains("Nothing was changed (--preview)."), "{out}");
    assert_eq!(sysroot.snapshot(), before);
}

#[test]
fn deploy_of_an_unknown_revision_changes_nothing() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, _) = remote_three_commits();
    let before = sysroot.snapshot();
    for rev in ["9.9", &"0".repeat(64)] {
        let (code, out, err) = host(&sysroot, &["deploy", rev]);
        assert_eq!(code, Some(1), "{out}{err}");
        assert!(
            err.contains(&format!(
                "revision '{rev}' is neither a commit checksum nor a version in the history of \
                 'origin:testos/stable'; nothing was changed"
            )),
            "{err}"
        );
        assert_eq!(out, "");
    }
    assert_eq!(sysroot.snapshot(), before);
}

#[test]
fn a_corrupt_origin_file_changes_nothing() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, [_, _, v3]) = three_commits();
    // CSUM.SERIAL.origin sits next to the deployment directory CSUM.SERIAL.
    let dir = deploy_dir(&sysroot, &v3);
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let origin = dir.with_file_name(format!("{name}.origin"));
    assert!(origin.exists(), "{}", origin.display());
    for corrupt in ["[origin\nrefspec=", "[origin]\nunrelated=1\n"] {
        std::fs::write(&origin, corrupt).unwrap();
        let before = sysroot.snapshot();
        for args in [
            &["deploy", "1.0"][..],
            &["upgrade"],
            &["upgrade", "--allow-downgrade"],
            &["rebase", "testos/stable"],
        ] {
            let (code, out, err) = host(&sysroot, args);
            assert_eq!(code, Some(1), "{args:?}: {out}{err}");
            assert!(err.starts_with("error: "), "{args:?}: {err}");
        }
        assert_eq!(sysroot.snapshot(), before, "{corrupt:?}");
    }
}

#[test]
fn rebase_to_another_local_ref_and_follow_it() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, _v1, v2) = two_deployments();
    let d1 = sysroot.commit_in(&sysroot.repo(), "testos/devel", "devel-1");
    let (code, out, err) = host(&sysroot, &["rebase", "testos/devel", "--os", "testos"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("Rebased onto 'testos/devel': devel-1 ({d1}, ")),
        "{out}"
    );
    assert_eq!(checksums(&sysroot), [d1.clone(), v2.clone()]);
    let doc = status_json(&sysroot);
    assert_eq!(doc["deployments"][0]["origin"], "testos/devel");
    assert_eq!(doc["deployments"][1]["origin"], "testos/stable");
    // From now on upgrades follow testos/devel.
    let d2 = sysroot.commit_in(&sysroot.repo(), "testos/devel", "devel-2");
    sysroot.commit("3.0");
    let (code, out, _) = host(&sysroot, &["upgrade"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(checksums(&sysroot), [d2, d1]);
}

#[test]
fn rebase_to_a_remote_ref_pulls_it() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, _v1, v2) = two_deployments();
    let upstream = sysroot.upstream();
    let n1 = sysroot.commit_in(&upstream, "testos/next", "next-1");
    let (code, out, err) = host(&sysroot, &["rebase", "origin:testos/next"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(checksums(&sysroot), [n1, v2]);
    assert_eq!(
        status_json(&sysroot)["deployments"][0]["origin"],
        "origin:testos/next"
    );
}

#[test]
fn rebase_to_an_unknown_ref_changes_nothing() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, _, _) = two_deployments();
    let before = sysroot.snapshot();
    for (refspec, message) in [
        (
            "testos/stable",
            "OS 'testos' already follows 'testos/stable'; 'atomic host upgrade' deploys its \
             newest commit",
        ),
        ("testos/nope", "'testos/nope' does not resolve to a commit"),
        (
            "elsewhere:testos/stable",
            "names remote 'elsewhere', which is not configured",
        ),
    ] {
        let (code, _, err) = host(&sysroot, &["rebase", refspec]);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(message), "{err}");
    }
    assert_eq!(sysroot.snapshot(), before);
}

#[test]
fn upgrade_to_an_older_commit_is_refused_unless_allowed() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, v1, v2) = two_deployments();
    // The branch moves back to 1.0 (a replayed or rolled-back ref).
    run(sysroot
        .ostree_repo(&sysroot.repo())
        .args(["reset", "testos/stable", &v1]));
    let before = sysroot.snapshot();
    for args in [&["upgrade"][..], &["upgrade", "--check"]] {
        let (code, out, err) = host(&sysroot, args);
        assert_eq!(code, Some(1), "{out}{err}");
        assert!(
            err.contains(&format!(
                "upgrade target '1.0' ({v1}) of 'testos/stable' is older than the current '2.0' \
                 ({v2}); pass --allow-downgrade to deploy it anyway"
            )),
            "{err}"
        );
    }
    assert_eq!(sysroot.snapshot(), before);
    let (code, out, err) = host(&sysroot, &["upgrade", "--allow-downgrade"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("Upgraded OS to 1.0 ({v1}, ")),
        "{out}"
    );
    assert_eq!(checksums(&sysroot)[0], v1);
}

#[test]
fn a_missing_sysroot_is_exit_1_for_every_verb() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    for args in [
        &["status"][..],
        &["upgrade"],
        &["rollback"],
        &["deploy", "1.0"],
        &["deploy", "1.0", "--preview"],
        &["rebase", "testos/stable"],
    ] {
        atomic()
            .arg("host")
            .args(args)
            .arg("--sysroot")
            .arg(&missing)
            .assert()
            .code(1)
            .stdout("")
            .stderr(contains("this host is not an OSTree-based host"));
    }
}

fn status_json(sysroot: &Sysroot) -> serde_json::Value {
    let (code, out, err) = host(sysroot, &["status", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn status_json_schema_keys_and_types() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, _, _) = two_deployments();
    let doc = status_json(&sysroot);
    let top: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(top, ["deployments"]);
    use serde_json::Value;
    let string: fn(&Value) -> bool = |v| v.is_string();
    let string_or_null: fn(&Value) -> bool = |v| v.is_string() || v.is_null();
    let boolean: fn(&Value) -> bool = |v| v.is_boolean();
    let integer: fn(&Value) -> bool = |v| v.is_i64();
    let integer_or_null: fn(&Value) -> bool = |v| v.is_u64() || v.is_null();
    let schema = [
        ("id", string),
        ("osname", string),
        ("checksum", string),
        ("version", string_or_null),
        ("origin", string_or_null),
        ("booted", boolean),
        ("staged", boolean),
        ("pinned", boolean),
        ("unlocked", string),
        ("serial", integer),
        ("timestamp", integer_or_null),
    ];
    for d in doc["deployments"].as_array().unwrap() {
        let object = d.as_object().unwrap();
        assert_eq!(object.len(), schema.len(), "{d}");
        for (key, is_type) in &schema {
            assert!(is_type(&d[*key]), "{key} has the wrong type in {d}");
        }
        let checksum = d["checksum"].as_str().unwrap();
        assert_eq!(checksum.len(), 64);
        assert!(checksum.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(
            ["none", "development", "hotfix", "transient"]
                .contains(&d["unlocked"].as_str().unwrap())
        );
    }
}

#[test]
fn the_2015_aliases_work() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, v1, v2) = two_deployments();
    let alias = |verb: &str, args: &[&str]| {
        atomic()
            .arg(verb)
            .args(args)
            .arg("--sysroot")
            .arg(sysroot.root())
            .output()
            .unwrap()
    };
    let out = alias("host-status", &["--json"]);
    assert!(out.status.success(), "{out:?}");
    let (_, expected, _) = host(&sysroot, &["status", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    let out = alias("host-upgrade", &["--check"]);
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    let out = alias("host-rollback", &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(checksums(&sysroot), [v1, v2]);
}

#[test]
fn arguments_after_double_dash_need_a_tool_backend() {
    if !ostree_usable() {
        return;
    }
    let (sysroot, _, _) = two_deployments();
    let before = sysroot.snapshot();
    let (code, _, err) = host(&sysroot, &["upgrade", "--", "--bypass-driver"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("arguments after '--' are for rpm-ostree or bootc"),
        "{err}"
    );
    assert_eq!(sysroot.snapshot(), before);
}

#[test]
fn rpm_ostree_verbs_on_libostree_name_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["unlock"][..],
        &["unlock", "--hotfix"],
        &["install", "htop"],
        &["uninstall", "htop"],
    ] {
        atomic()
            .arg("host")
            .args(args)
            .args(["--backend", "ostree", "--sysroot"])
            .arg(dir.path())
            .assert()
            .code(1)
            .stderr(contains(format!(
                "'atomic host {}' needs rpm-ostree; this host is managed by ostree (libostree \
                 directly)",
                args[0]
            )));
    }
}

#[test]
fn tool_backends_refuse_another_sysroot() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_atomic"))
        .args(["host", "status", "--backend", "rpm-ostree", "--sysroot"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the rpm-ostree backend manages only the running system"),
        "{out:?}"
    );
}

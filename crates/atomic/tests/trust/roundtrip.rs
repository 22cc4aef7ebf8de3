//! Round trips with the real tools: what `atomic sign` writes is accepted by `skopeo copy` and
//! `podman pull`; what `atomic trust` writes is what `podman image trust show` shows.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::common;
use super::fixture::{Fixture, run};

#[test]
fn atomic_sign_is_accepted_by_skopeo_and_podman() {
    let f = Fixture::get();
    let reference = f.push_unsigned("atomicsigned");
    let work = f.dir.join("sign-roundtrip");
    // Signatures go where registries.d's lookaside-staging says: the fixture's lookaside.
    let world = common::World::new();
    let out = world
        .atomic()
        .arg("--registries.d")
        .arg(&f.regd)
        .args([
            "sign",
            "--tls-verify=false",
            "--sign-by",
            &f.fpr_a,
            "--gnupghome",
        ])
        .arg(&f.home_a)
        .arg(&reference)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let created = common::stdout(&out);
    assert!(created.starts_with("Created: "), "{created}");
    assert!(created.trim().ends_with("/signature-1"), "{created}");

    let good = f.accepted_by_skopeo_and_podman(&work, &reference);

    // And atomic's own pull accepts it with the same files.
    let out = world
        .atomic()
        .arg("--signature-policy")
        .arg(&good)
        .arg("--registries.d")
        .arg(&f.regd)
        .args([
            "pull",
            "--storage",
            "native",
            "--tls-verify=false",
            &reference,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
}

/// `podman image trust show --json` rows as name → (type, keys, sigstore).
fn podman_rows(
    policy: &Path,
    regd: &Path,
    bin: &Path,
) -> BTreeMap<String, (String, String, String)> {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run(Command::new("podman")
        .env("PATH", path)
        .args(["image", "trust", "show", "--json", "--policypath"])
        .arg(policy)
        .arg("--registrypath")
        .arg(regd));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .filter(|r| r["transport"] == "repository" || r["transport"] == "all")
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let name = if r["transport"] == "all" {
                "* (default)".to_string()
            } else {
                s("name")
            };
            (name, (s("type"), s("gpg_id"), s("sigstore")))
        })
        .collect()
}

fn atomic_rows(
    world: &common::World,
    policy: &Path,
    regd: &Path,
) -> BTreeMap<String, (String, String, String)> {
    let out = world
        .atomic()
        .arg("--signature-policy")
        .arg(policy)
        .arg("--registries.d")
        .arg(regd)
        .args(["trust", "show", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .filter(|r| r["transport"] == "docker" || r["transport"] == "all")
        .map(|r| {
            let keys: Vec<&str> = r["keys"]
                .as_array()
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                (
                    r["type"].as_str().unwrap_or_default().to_string(),
                    keys.join(","),
                    r["sigstore"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn trust_edits_are_shown_identically_by_podman() {
    let f = Fixture::get();
    let work = f.dir.join("trust-show");
    let policy = work.join("policy.json");
    let regd = work.join("registries.d");
    // Podman's trust show runs gpg2, which Debian names gpg.
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("gpg2");
    std::fs::write(&wrapper, "#!/bin/sh\nexec gpg \"$@\"\n").unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let world = common::World::new();
    let trust = |args: &[&str]| {
        let out = world
            .atomic()
            .arg("--signature-policy")
            .arg(&policy)
            .arg("--registries.d")
            .arg(&regd)
            .arg("trust")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "trust {args:?}: {}",
            common::stderr(&out)
        );
    };
    let a = f.key("a.gpg");
    let b = f.key("b.gpg");
    trust(&[
        "add",
        "-f",
        &a,
        "--sigstore",
        "https://sigs.example/a",
        "r.example/team",
    ]);
    trust(&["add", "-k", &b, "q.example"]);
    trust(&["add", "--type", "reject", "bad.example"]);
    trust(&["add", "--type", "insecureAcceptAnything", "open.example/x"]);
    trust(&["add", "-y", "--type", "reject", "open.example/x"]);
    trust(&["add", "-f", &a, "gone.example"]);
    trust(&["delete", "gone.example"]);
    trust(&["default", "reject"]);

    let podman = podman_rows(&policy, &regd, &bin);
    let ours = atomic_rows(&world, &policy, &regd);
    assert_eq!(podman, ours);
    assert_eq!(podman["r.example/team"].0, "signed");
    assert_eq!(podman["r.example/team"].1, "a@i15a.test");
    assert_eq!(podman["r.example/team"].2, "https://sigs.example/a");
    assert_eq!(podman["q.example"].1, "b@i15a.test");
    assert_eq!(podman["open.example/x"].0, "reject");
    assert_eq!(podman["* (default)"].0, "reject");
    assert!(!podman.contains_key("gone.example"));
    // The keys atomic does not know survive an edit.
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&policy).unwrap()).unwrap();
    v["transports"]["future-transport"] = json!({"": [{"type": "reject"}]});
    std::fs::write(&policy, v.to_string()).unwrap();
    trust(&["default", "accept"]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&policy).unwrap()).unwrap();
    assert_eq!(v["transports"]["future-transport"][""][0]["type"], "reject");
    assert_eq!(v["default"][0]["type"], "insecureAcceptAnything");
}

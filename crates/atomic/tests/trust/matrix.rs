//! The signature policy matrix: for every case, `atomic pull` (native store) and `skopeo copy`
//! get the same policy.json and registries.d, and must take the same decision.

use std::process::Command;

use serde_json::{Value, json};

use super::common;
use super::fixture::Fixture;

fn accept() -> Value {
    json!([{"type": "insecureAcceptAnything"}])
}

fn reject() -> Value {
    json!([{"type": "reject"}])
}

fn signed_by(key: &str) -> Value {
    json!({"type": "signedBy", "keyType": "GPGKeys", "keyPath": key})
}

fn with_identity(mut req: Value, identity: Value) -> Value {
    req["signedIdentity"] = identity;
    req
}

/// `{"default": default, "transports": {transport: {scope: reqs}}}`.
fn policy(default: Value, scopes: &[(&str, &str, Value)]) -> Value {
    let mut transports = serde_json::Map::new();
    for (transport, scope, reqs) in scopes {
        let t = transports
            .entry(transport.to_string())
            .or_insert_with(|| json!({}));
        t[*scope] = reqs.clone();
    }
    json!({"default": default, "transports": transports})
}

struct Case {
    name: &'static str,
    policy: Value,
    /// The source, in the syntax both tools take (`docker://…`, `oci:…`, …).
    source: String,
    /// A registries.d to use instead of the fixture's (YAML text of one file).
    regd: Option<String>,
}

/// The decision of each tool: Ok(accepted) or Err(an unexpected failure).
fn decide(f: &Fixture, case: &Case, idx: usize) -> (bool, bool, String) {
    let dir = f.dir.join(format!("case-{idx}"));
    std::fs::create_dir_all(&dir).unwrap();
    let policy_file = dir.join("policy.json");
    std::fs::write(&policy_file, case.policy.to_string()).unwrap();
    let regd = match &case.regd {
        Some(text) => {
            let d = dir.join("registries.d");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("case.yaml"), text).unwrap();
            d
        }
        None => f.regd.clone(),
    };
    let skopeo = Command::new("skopeo")
        .arg("--policy")
        .arg(&policy_file)
        .arg("--registries.d")
        .arg(&regd)
        .args(["copy", "--quiet", "--src-tls-verify=false"])
        .arg(&case.source)
        .arg(format!("dir:{}", dir.join("out").display()))
        .output()
        .unwrap();
    let skopeo_err = String::from_utf8_lossy(&skopeo.stderr).into_owned();
    let world = common::World::new();
    let atomic = world
        .atomic()
        .args(["pull", "--storage", "native", "--tls-verify=false"])
        .arg("--signature-policy")
        .arg(&policy_file)
        .arg("--registries.d")
        .arg(&regd)
        .arg(&case.source)
        .output()
        .unwrap();
    let atomic_err = String::from_utf8_lossy(&atomic.stderr).into_owned();
    // A failure must be the policy's decision, not something else going wrong.
    if !skopeo.status.success() {
        assert!(
            skopeo_err.contains("rejected") || skopeo_err.contains("signature"),
            "{}: skopeo failed for another reason: {skopeo_err}",
            case.name
        );
    }
    if !atomic.status.success() {
        assert!(
            atomic_err.contains("signature policy"),
            "{}: atomic failed for another reason: {atomic_err}",
            case.name
        );
    }
    (
        skopeo.status.success(),
        atomic.status.success(),
        format!(
            "skopeo: {}\n  atomic: {}",
            skopeo_err.trim(),
            atomic_err.trim()
        ),
    )
}

fn cases(f: &Fixture, http: &str) -> Vec<Case> {
    let d = |what: &str, tag: &str| format!("docker://{}", f.docker(what, tag));
    let a = f.key("a.gpg");
    let b = f.key("b.gpg");
    let reg = "127.0.0.1:5000";
    let signed_repo = f.repo("signed");
    let oci = format!("oci:{}:{}", f.layout.display(), f.layout_tag);
    let layout = f.layout.display().to_string();
    let parent = f.dir.display().to_string();
    let c = |name, policy, source: String| Case {
        name,
        policy,
        source,
        regd: None,
    };
    let ident = |t: &str| json!({"type": t});
    vec![
        c(
            "default accept, unsigned",
            policy(accept(), &[]),
            d("unsigned", "v1"),
        ),
        c("default reject", policy(reject(), &[]), d("unsigned", "v1")),
        c(
            "registry scope beats default",
            policy(reject(), &[("docker", reg, accept())]),
            d("unsigned", "v1"),
        ),
        c(
            "repository scope beats registry scope",
            policy(
                accept(),
                &[
                    ("docker", reg, accept()),
                    ("docker", &f.repo("unsigned"), reject()),
                ],
            ),
            d("unsigned", "v1"),
        ),
        c(
            "repo:tag scope beats repository scope",
            policy(
                reject(),
                &[
                    ("docker", &signed_repo, reject()),
                    ("docker", &f.docker("signed", "v1"), accept()),
                ],
            ),
            d("signed", "v1"),
        ),
        c(
            "another tag falls to the repository scope",
            policy(
                reject(),
                &[
                    ("docker", &signed_repo, accept()),
                    ("docker", &f.docker("signed", "v1"), reject()),
                ],
            ),
            d("signed", "v2"),
        ),
        c(
            "transport \"\" scope beats default",
            policy(accept(), &[("docker", "", reject())]),
            d("unsigned", "v1"),
        ),
        c(
            "*.domain wildcard scope",
            policy(accept(), &[("docker", "*.0.0.1", reject())]),
            d("unsigned", "v1"),
        ),
        c(
            "scope of another registry does not apply",
            policy(reject(), &[("docker", "other.example:5000", accept())]),
            d("unsigned", "v1"),
        ),
        c(
            "signedBy keyPath, signed",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            d("signed", "v1"),
        ),
        c(
            "signedBy, missing signature",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            d("unsigned", "v1"),
        ),
        c(
            "signedBy wrong key",
            policy(reject(), &[("docker", reg, json!([signed_by(&b)]))]),
            d("signed", "v1"),
        ),
        c(
            "signedBy key B, signed by B",
            policy(reject(), &[("docker", reg, json!([signed_by(&b)]))]),
            d("bsigned", "v1"),
        ),
        c(
            "signedBy keyPaths",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([{"type":"signedBy","keyType":"GPGKeys","keyPaths":[b, a]}]),
                )],
            ),
            d("signed", "v1"),
        ),
        c(
            "signedBy keyData armored",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([{"type":"signedBy","keyType":"GPGKeys","keyData": f.key_data("a.asc")}]),
                )],
            ),
            d("signed", "v1"),
        ),
        c(
            "signedBy keyData binary, wrong key",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([{"type":"signedBy","keyType":"GPGKeys","keyData": f.key_data("b.gpg")}]),
                )],
            ),
            d("signed", "v1"),
        ),
        c(
            "tampered signature",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            d("tampered", "v1"),
        ),
        c(
            "signature of another digest",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            d("otherdigest", "v1"),
        ),
        c(
            "default identity, other tag",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            d("signed", "v2"),
        ),
        c(
            "matchRepository, other tag",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([with_identity(signed_by(&a), ident("matchRepository"))]),
                )],
            ),
            d("signed", "v2"),
        ),
        c(
            "matchExact, same tag",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([with_identity(signed_by(&a), ident("matchExact"))]),
                )],
            ),
            d("signed", "v1"),
        ),
        c(
            "matchExact, by digest",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([with_identity(signed_by(&a), ident("matchExact"))]),
                )],
            ),
            format!("docker://{signed_repo}@{}", f.digest),
        ),
        c(
            "matchRepoDigestOrExact, by digest",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            format!("docker://{signed_repo}@{}", f.digest),
        ),
        c(
            "identity of another repository",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            d("copy", "v1"),
        ),
        c(
            "exactReference",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([with_identity(
                        signed_by(&a),
                        json!({"type":"exactReference","dockerReference": f.docker("signed","v1")})
                    )]),
                )],
            ),
            d("copy", "v1"),
        ),
        c(
            "exactReference, other tag",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([with_identity(
                        signed_by(&a),
                        json!({"type":"exactReference","dockerReference": f.docker("signed","v9")})
                    )]),
                )],
            ),
            d("copy", "v1"),
        ),
        c(
            "exactRepository",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([with_identity(
                        signed_by(&a),
                        json!({"type":"exactRepository","dockerRepository": signed_repo})
                    )]),
                )],
            ),
            d("copy", "v1"),
        ),
        c(
            "remapIdentity",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([with_identity(
                        signed_by(&a),
                        json!({"type":"remapIdentity","prefix": f.repo("copy"),"signedPrefix": signed_repo})
                    )]),
                )],
            ),
            d("copy", "v1"),
        ),
        c(
            "remapIdentity, prefix not matching",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([with_identity(
                        signed_by(&a),
                        json!({"type":"remapIdentity","prefix": "other.example/x","signedPrefix": signed_repo})
                    )]),
                )],
            ),
            d("copy", "v1"),
        ),
        c(
            "all requirements must accept",
            policy(
                reject(),
                &[(
                    "docker",
                    reg,
                    json!([{"type":"insecureAcceptAnything"}, signed_by(&a)]),
                )],
            ),
            d("unsigned", "v1"),
        ),
        c(
            "signedBy then reject",
            policy(
                accept(),
                &[("docker", reg, json!([signed_by(&a), {"type":"reject"}]))],
            ),
            d("signed", "v1"),
        ),
        Case {
            name: "lookaside under the older name `sigstore`",
            policy: policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            source: d("signed", "v1"),
            regd: Some(format!(
                "docker:\n  {reg}:\n    sigstore: file://{}\n",
                f.lookaside.display()
            )),
        },
        Case {
            name: "per-repository lookaside without the signature",
            policy: policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            source: d("signed", "v1"),
            regd: Some(format!(
                "default-docker:\n  lookaside: file://{0}\ndocker:\n  {signed_repo}:\n    lookaside: file://{0}/empty\n",
                f.lookaside.display()
            )),
        },
        Case {
            name: "lookaside over http",
            policy: policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            source: d("signed", "v1"),
            regd: Some(format!("default-docker:\n  lookaside: {http}\n")),
        },
        Case {
            name: "lookaside over http, no signature",
            policy: policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            source: d("unsigned", "v1"),
            regd: Some(format!("default-docker:\n  lookaside: {http}\n")),
        },
        c(
            "multi-platform index signed only at the top level",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            d("multi", "idx"),
        ),
        c(
            "multi-platform index, platform manifest signed",
            policy(reject(), &[("docker", reg, json!([signed_by(&a)]))]),
            d("multiinst", "idx"),
        ),
        c(
            "multi-platform index, platform manifest signed, wrong key",
            policy(reject(), &[("docker", reg, json!([signed_by(&b)]))]),
            d("multiinst", "idx"),
        ),
        c("oci, default reject", policy(reject(), &[]), oci.clone()),
        c("oci, default accept", policy(accept(), &[]), oci.clone()),
        c(
            "oci, directory scope",
            policy(accept(), &[("oci", &layout, reject())]),
            oci.clone(),
        ),
        c(
            "oci, parent directory scope",
            policy(reject(), &[("oci", &parent, accept())]),
            oci.clone(),
        ),
        c(
            "oci, signedBy (no signatures)",
            policy(accept(), &[("oci", "", json!([signed_by(&a)]))]),
            oci.clone(),
        ),
        c(
            "oci-archive, \"\" scope",
            policy(reject(), &[("oci-archive", "", accept())]),
            format!("oci-archive:{}:{}", f.oci_archive.display(), f.layout_tag),
        ),
        c(
            "oci-archive, file scope",
            policy(
                accept(),
                &[(
                    "oci-archive",
                    &f.oci_archive.display().to_string(),
                    reject(),
                )],
            ),
            format!("oci-archive:{}:{}", f.oci_archive.display(), f.layout_tag),
        ),
        c(
            "docker-archive, reject",
            policy(accept(), &[("docker-archive", "", reject())]),
            format!("docker-archive:{}", f.docker_archive.display()),
        ),
        c(
            "docker-archive, accept",
            policy(reject(), &[("docker-archive", "", accept())]),
            format!("docker-archive:{}", f.docker_archive.display()),
        ),
        c(
            "docker-archive, docker scopes do not apply",
            policy(reject(), &[("docker", "", accept())]),
            format!("docker-archive:{}", f.docker_archive.display()),
        ),
    ]
}

#[test]
fn policy_matrix_agrees_with_skopeo() {
    let f = Fixture::get();
    let server = LookasideServer::start(&f.lookaside);
    let cases = cases(f, &server.url);
    assert!(cases.len() >= 30);
    let mut disagreements = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        let (skopeo, atomic, detail) = decide(f, case, i);
        if skopeo {
            accepted += 1;
        } else {
            rejected += 1;
        }
        if skopeo != atomic {
            disagreements.push(format!(
                "{}: skopeo {} but atomic {}\n  {detail}",
                case.name,
                if skopeo { "accepts" } else { "rejects" },
                if atomic { "accepts" } else { "rejects" },
            ));
        }
    }
    eprintln!(
        "{} cases: {accepted} accepted, {rejected} rejected by skopeo; {} disagreements",
        cases.len(),
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // A matrix that only accepts (or only rejects) tests nothing.
    assert!(
        accepted >= 10 && rejected >= 10,
        "{accepted} accepted, {rejected} rejected"
    );
    let _ = (&f.fpr_a, &f.fpr_b, &f.home_a);
}

/// The lookaside directory served over http on a loopback port, for the length of a test.
struct LookasideServer {
    child: std::process::Child,
    url: String,
}

impl LookasideServer {
    fn start(dir: &std::path::Path) -> LookasideServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "http.server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        LookasideServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for LookasideServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

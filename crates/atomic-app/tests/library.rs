//! The model against applications in the shapes of every app of projectatomic/nulecule-library
//! (our own fixtures, written in the same shapes: YAML and JSON Nulecules, numeric and boolean
//! defaults, required params, `inherit`, nested `source:` apps, map-shaped constraints,
//! directory artifacts, unquoted `$hostport` in JSON): parse, resolve, render, order; every
//! rendered Kubernetes object passes `kubernetes-validate --strict`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use atomic_app::render;
use atomic_app::{Answers, App, NoPrompt, Sources};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// (directory, components in deployment order, providers every component renders for)
const LIBRARY: &[(&str, &[&str], &[&str])] = &[
    (
        "helloapache",
        &["helloapache-app"],
        &["docker", "kubernetes"],
    ),
    (
        "apache-centos7-atomicapp",
        &["apache-centos7-atomicapp"],
        &["docker", "kubernetes"],
    ),
    (
        "mariadb-centos7-atomicapp",
        &["mariadb-atomicapp"],
        &["docker", "kubernetes", "openshift"],
    ),
    (
        "mariadb-fedora-atomicapp",
        &["mariadb-app"],
        &["docker", "kubernetes"],
    ),
    (
        "postgresql-centos7-atomicapp",
        &["postgresql-atomicapp"],
        &["docker", "kubernetes", "openshift"],
    ),
    (
        "mongodb-centos7-atomicapp",
        &["mongodb-atomicapp"],
        &["docker", "kubernetes", "openshift"],
    ),
    (
        "redis-centos7-atomicapp",
        &["redismaster-app", "redisslave-app"],
        &["docker", "kubernetes", "openshift"],
    ),
    (
        "wordpress-centos7-atomicapp",
        &["mariadb-centos7-atomicapp:mariadb-atomicapp", "wordpress"],
        &["docker", "kubernetes", "openshift"],
    ),
    (
        "etherpad-centos7-atomicapp",
        &[
            "mariadb-centos7-atomicapp:mariadb-atomicapp",
            "etherpad-app",
        ],
        &["docker", "kubernetes", "openshift"],
    ),
    (
        "guestbookgo-atomicapp",
        &[
            "guestbookfront-app",
            "redis-centos7-atomicapp:redismaster-app",
            "redis-centos7-atomicapp:redisslave-app",
        ],
        &["kubernetes", "openshift"],
    ),
    (
        "flask-redis-centos7-atomicapp",
        &["redis", "flask"],
        &["docker", "kubernetes"],
    ),
    (
        "gitlab-centos7-atomicapp",
        &["redis", "postgresql", "gitlab"],
        &["docker", "kubernetes"],
    ),
    (
        "gocounter-scratch-atomicapp",
        &["gocounter"],
        &["docker", "kubernetes"],
    ),
    ("skydns-atomicapp", &["skydns"], &["kubernetes"]),
];

/// Values for every required param of the library, given once in `[general]`.
fn answers() -> Answers {
    let mut a = Answers::default();
    for (k, v) in [
        ("db_user", "wp"),
        ("db_pass", "s3cret"),
        ("db_name", "wpdb"),
        ("mongodb_admin_password", "adm"),
        ("mongodb_database", "db"),
        ("mongodb_password", "pw"),
        ("mongodb_user", "u"),
        ("namespace", "apps"),
    ] {
        a.add_set(&format!("{k}={v}")).unwrap();
    }
    a
}

fn load(dir: &str) -> App {
    App::load(&fixtures().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e:#}"))
}

#[test]
fn every_library_app_parses_and_orders_its_components() {
    for (dir, order, _) in LIBRARY {
        let app = load(dir);
        let sections: Vec<String> = app.components().into_iter().map(|c| c.section).collect();
        assert_eq!(&sections, order, "{dir}");
    }
}

/// Renders every component of every library app for every provider it supports; returns the
/// Kubernetes objects written, by file.
fn render_all(out: &Path) -> BTreeMap<String, String> {
    let set = answers();
    let file = Answers::default();
    let mut written = BTreeMap::new();
    for (dir, _, providers) in LIBRARY {
        let app = load(dir);
        let values = atomic_app::resolve::resolve(
            &app,
            &Sources {
                set: &set,
                file: &file,
            },
            &mut NoPrompt,
        )
        .unwrap_or_else(|e| panic!("{dir}: {e:#}"));
        for provider in *providers {
            for (n, c) in app.components().iter().enumerate() {
                let ctx = values.context(&c.section, &c.app_section);
                let files = c
                    .app
                    .artifacts(c.item, provider)
                    .unwrap_or_else(|e| panic!("{dir} {provider}: {e:#}"));
                assert!(!files.is_empty(), "{dir} {provider}");
                for (i, f) in files.iter().enumerate() {
                    let text = std::fs::read_to_string(f).unwrap();
                    if *provider == "docker" {
                        let run = render::docker_run(&text, &ctx, &format!("x_{n}_{i}"), false)
                            .unwrap_or_else(|e| panic!("{dir} {}: {e:#}", f.display()));
                        assert!(!run.argv.iter().any(|w| w.contains('$')), "{run:?}");
                        continue;
                    }
                    let objects = render::objects(&text, &ctx, "apps", false)
                        .unwrap_or_else(|e| panic!("{dir} {}: {e:#}", f.display()));
                    for o in &objects {
                        assert_eq!(o["metadata"]["namespace"], "apps", "{dir}");
                        let text = serde_json::to_string(o).unwrap();
                        assert!(!text.contains("$"), "{dir}: {text}");
                    }
                    let name = format!("{dir}-{provider}-{n}-{i}.json");
                    let path = out.join(&name);
                    for (j, o) in objects.iter().enumerate() {
                        let p = path.with_extension(format!("{j}.json"));
                        std::fs::write(&p, serde_json::to_string_pretty(o).unwrap()).unwrap();
                        written.insert(p.display().to_string(), name.clone());
                    }
                }
            }
        }
    }
    written
}

#[test]
fn every_library_app_resolves_and_renders_for_its_providers() {
    let dir = tempfile::tempdir().unwrap();
    let written = render_all(dir.path());
    assert!(written.len() > 30, "{}", written.len());
}

#[test]
fn rendered_objects_pass_kubernetes_validate_strict() {
    let Some(validate) = validator() else {
        assert!(
            std::env::var_os("ATOMIC_TEST_REQUIRE_ENGINES").is_none(),
            "kubernetes-validate is missing (scripts/setup.sh installs it)"
        );
        eprintln!("skipped: kubernetes-validate is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let written = render_all(dir.path());
    let out = Command::new(&validate)
        .args(["--strict", "--quiet"])
        .args(written.keys())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
}

fn validator() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ATOMIC_KUBERNETES_VALIDATE") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from("/var/lib/atomic-test/kube-venv/bin/kubernetes-validate");
    venv.exists().then_some(venv)
}

#[test]
fn values_fall_back_from_a_nested_section_to_its_parent_then_general() {
    let app = load("wordpress-centos7-atomicapp");
    let file = Answers::parse(
        "[general]\ndb_user = everyone\n\n[mariadb-centos7-atomicapp]\ndb_pass = parent\n\n\
         [mariadb-centos7-atomicapp:mariadb-atomicapp]\ndb_name = child\n\n\
         [wordpress]\ndb_pass = wp\ndb_name = wpdb\n",
    )
    .unwrap();
    let set = Answers::default();
    let values = atomic_app::resolve::resolve(
        &app,
        &Sources {
            set: &set,
            file: &file,
        },
        &mut NoPrompt,
    )
    .unwrap();
    let child = &values.sections["mariadb-centos7-atomicapp:mariadb-atomicapp"];
    assert_eq!(child["db_user"].text, "everyone");
    assert_eq!(
        child["db_pass"].text, "parent",
        "the parent's section, asked once"
    );
    assert_eq!(child["db_name"].text, "child");
    assert_eq!(child["root_pass"].text, "MySQLPass", "the default");
    assert!(child["db_pass"].hidden);
    let wp = &values.sections["wordpress"];
    assert_eq!(wp["db_pass"].text, "wp");
    assert_eq!(wp["hostport"].text, "8888");
}

#[test]
fn set_beats_the_answers_file_and_falsy_values_count() {
    let app = load("helloapache");
    let file = Answers::parse("[helloapache-app]\nhostport = 8080\nimage = x\n").unwrap();
    let mut set = Answers::default();
    set.add_set("helloapache-app:hostport=0").unwrap();
    let values = atomic_app::resolve::resolve(
        &app,
        &Sources {
            set: &set,
            file: &file,
        },
        &mut NoPrompt,
    )
    .unwrap();
    assert_eq!(values.sections["helloapache-app"]["hostport"].text, "0");
    assert_eq!(values.sections["helloapache-app"]["image"].text, "x");
    assert_eq!(values.general("provider"), Some("kubernetes"));
}

#[test]
fn every_missing_value_is_listed_at_once() {
    let app = load("wordpress-centos7-atomicapp");
    let none = Answers::default();
    let err = atomic_app::resolve::resolve(
        &app,
        &Sources {
            set: &none,
            file: &none,
        },
        &mut NoPrompt,
    )
    .unwrap_err()
    .to_string();
    for want in [
        "mariadb-centos7-atomicapp:mariadb-atomicapp.db_user",
        "mariadb-centos7-atomicapp:mariadb-atomicapp.db_pass",
        "mariadb-centos7-atomicapp:mariadb-atomicapp.db_name",
        "wordpress.db_user",
        "wordpress.db_pass",
        "wordpress.db_name",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(!err.contains("hostport"), "{err}");
}

#[test]
fn constraints_apply_to_answers_too() {
    let app = load("gitlab-centos7-atomicapp");
    let mut set = Answers::default();
    set.add_set("gitlab:NODE_PORT=80").unwrap();
    let err = atomic_app::resolve::resolve(
        &app,
        &Sources {
            set: &set,
            file: &Answers::default(),
        },
        &mut NoPrompt,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("gitlab.NODE_PORT") && err.contains("30000-32667"),
        "{err}"
    );
}

#[test]
fn the_library_sample_answers_read() {
    for dir in ["gitlab-centos7-atomicapp", "flask-redis-centos7-atomicapp"] {
        let text =
            std::fs::read_to_string(fixtures().join(dir).join("answers.conf.sample")).unwrap();
        let a = Answers::parse(&text).unwrap();
        assert_eq!(a.get("general", "provider"), Some("kubernetes"), "{dir}");
    }
}

#[test]
fn a_directory_artifact_gives_its_visible_files_in_name_order() {
    let app = load("skydns-atomicapp");
    let files = app.artifacts(&app.nulecule.graph[0], "kubernetes").unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["skydns-replicationcontroller.yaml", "skydns-service.yaml"]
    );
}

#[test]
fn an_application_that_includes_itself_is_refused() {
    let app = load("wordpress-centos7-atomicapp");
    let item = &app.nulecule.graph[0];
    let chain = ["example/wordpress".to_string()];
    assert_eq!(
        atomic_app::app::source_image(item, &chain).unwrap(),
        Some("example/mariadb-centos7-atomicapp")
    );
    for spelling in [
        "example/mariadb-centos7-atomicapp",
        "docker.io/example/mariadb-centos7-atomicapp:latest",
    ] {
        let chain = ["top".to_string(), spelling.to_string()];
        let e = atomic_app::app::source_image(item, &chain).unwrap_err();
        assert!(e.to_string().contains("includes itself"), "{e}");
    }
}

#[test]
fn unknown_sources_and_artifacts_outside_the_app_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Nulecule"),
        "specversion: 0.0.2\nid: x\ngraph:\n\
         - {name: a, source: 'git://example/x'}\n",
    )
    .unwrap();
    let n = atomic_app::app::read_nulecule(dir.path()).unwrap();
    assert!(atomic_app::app::source_image(&n.graph[0], &[]).is_err());
    std::fs::write(
        dir.path().join("Nulecule"),
        "specversion: 0.0.2\nid: x\ngraph:\n\
         - {name: a, artifacts: {docker: ['file://../../etc/passwd'], kubernetes: [{inherit: [docker]}],\
            openshift: [{inherit: [openshift]}], marathon: ['http://example.com/x']}}\n",
    )
    .unwrap();
    let app = App::load(dir.path()).unwrap();
    let item = &app.nulecule.graph[0];
    for provider in ["docker", "kubernetes", "openshift", "marathon", "none"] {
        assert!(app.artifacts(item, provider).is_err(), "{provider}");
    }
    let e = format!("{:#}", app.artifacts(item, "docker").unwrap_err());
    assert!(e.contains("outside") || e.contains("missing"), "{e}");
}

#[test]
fn malformed_nulecules_are_errors_not_panics() {
    for text in [
        "",
        "specversion: 0.0.2\nid: x\n",
        "specversion: 0.0.2\nid: x\ngraph: []\n",
        "specversion: 0.0.2\nid: x\ngraph:\n- {name: a}\n",
        "specversion: 0.0.2\nid: x\ngraph:\n- {name: a, source: docker://y}\n- {name: a, source: docker://z}\n",
        "specversion: 0.0.2\nid: x\ngraph:\n- {name: 'a b', source: docker://y}\n",
        "specversion: 0.0.2\nid: x\ngraph:\n- {name: a, source: docker://y, params: [{name: 'bad-name'}]}\n",
        "specversion: 0.0.2\nid: x\ngraph:\n- {name: a, source: docker://y, params: [{name: p, constraints: [{allowed_pattern: '('}]}]}\n",
        "[1, 2",
    ] {
        assert!(atomic_app::Nulecule::parse(text).is_err(), "{text}");
    }
}

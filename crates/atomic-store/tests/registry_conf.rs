//! registries.conf against real registries of the test's own on loopback ports: a mirror that
//! serves while the primary is stopped, `pull-from-mirror`, prefix rewrites to another
//! location, aliases, each short-name mode, and blocked registries.

use anyhow::Result;
use atomic_store::{PullOptions, Pulled, Source, Store};
use atomic_testsupport::{
    ImageSpec, PrivateRegistry, PrivateRegistryConfig, free_port, push_image,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn pull(store: &Store, name: &str, opts: &PullOptions) -> Result<Pulled> {
    runtime().block_on(atomic_store::pull::pull(
        store,
        &Source::Registry(name.to_string()),
        opts,
    ))
}

/// Push a small image labelled `label` to `addr/repo:latest`; returns its manifest digest.
fn push(addr: &str, repo: &str, label: &str) -> String {
    push_image(addr, &ImageSpec::new(repo).label("test", label), repo, &[])
        .unwrap()
        .manifest_digest
}

fn registry() -> PrivateRegistry {
    PrivateRegistry::start(&PrivateRegistryConfig::default()).unwrap()
}

struct Case {
    dir: tempfile::TempDir,
    store: Store,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        Case { dir, store }
    }

    /// Options reading `conf` as registries.conf, with an alias file of the test's own.
    fn opts(&self, conf: &str) -> PullOptions {
        let path = self.dir.path().join("registries.conf");
        std::fs::write(&path, conf).unwrap();
        PullOptions {
            quiet: true,
            registries_conf: Some(path),
            short_name_aliases: Some(self.dir.path().join("aliases.conf")),
            ..PullOptions::default()
        }
    }

    fn label(&self, name: &str) -> String {
        let image = self
            .store
            .resolve(name)
            .unwrap()
            .expect("the image is stored");
        image.labels().get("test").cloned().unwrap_or_default()
    }
}

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    format!("{:#}", r.unwrap_err())
}

#[test]
fn mirror_serves_while_the_primary_is_stopped() {
    let mut primary = registry();
    let mirror = registry();
    let dead = format!("127.0.0.1:{}", free_port().unwrap());
    push(primary.addr(), "i15b-mirrored", "primary");
    let digest = push(mirror.addr(), "i15b-mirrored", "mirror");
    primary.stop();
    let case = Case::new();
    let name = format!("{}/i15b-mirrored:latest", primary.addr());
    let conf = format!(
        "[[registry]]\nlocation = \"{p}\"\ninsecure = true\n\
         [[registry.mirror]]\nlocation = \"{dead}\"\ninsecure = true\n\
         [[registry.mirror]]\nlocation = \"{m}\"\ninsecure = true\n",
        p = primary.addr(),
        m = mirror.addr()
    );
    // The first mirror does not answer, the second has it; stored under the name asked for.
    let pulled = pull(&case.store, &name, &case.opts(&conf)).unwrap();
    assert_eq!(pulled.name, name);
    assert_eq!(case.label(&name), "mirror");

    // A digest-only mirror does not serve a tag…
    let digest_only = format!(
        "[[registry]]\nlocation = \"{p}\"\ninsecure = true\n\
         [[registry.mirror]]\nlocation = \"{m}\"\ninsecure = true\npull-from-mirror = \"digest-only\"\n",
        p = primary.addr(),
        m = mirror.addr()
    );
    let case2 = Case::new();
    let err = err_text(pull(&case2.store, &name, &case2.opts(&digest_only)));
    assert!(err.contains(primary.addr()), "{err}");
    // …but does serve the digest.
    let by_digest = format!("{}/i15b-mirrored@{digest}", primary.addr());
    let pulled = pull(&case2.store, &by_digest, &case2.opts(&digest_only)).unwrap();
    assert_eq!(pulled.name, by_digest);

    // A mirror that is not insecure is reached over verified https only: refused.
    let secure_mirror = format!(
        "[[registry]]\nlocation = \"{p}\"\ninsecure = true\n\
         [[registry.mirror]]\nlocation = \"{m}\"\n",
        p = primary.addr(),
        m = mirror.addr()
    );
    let case3 = Case::new();
    assert!(pull(&case3.store, &name, &case3.opts(&secure_mirror)).is_err());
}

#[test]
fn prefix_rewrites_to_another_location() {
    let reg = registry();
    push(reg.addr(), "i15b-rewritten/app", "rewritten");
    let case = Case::new();
    let conf = format!(
        "[[registry]]\nprefix = \"example.test/team\"\nlocation = \"{}/i15b-rewritten\"\ninsecure = true\n",
        reg.addr()
    );
    let pulled = pull(&case.store, "example.test/team/app", &case.opts(&conf)).unwrap();
    assert_eq!(pulled.name, "example.test/team/app:latest");
    assert_eq!(case.label("example.test/team/app:latest"), "rewritten");
}

#[test]
fn aliases_name_the_image_a_short_name_means() {
    let reg = registry();
    push(reg.addr(), "i15b-aliased", "aliased");
    let case = Case::new();
    let conf = format!(
        "unqualified-search-registries = []\nshort-name-mode = \"enforcing\"\n\
         [[registry]]\nlocation = \"{a}\"\ninsecure = true\n\
         [aliases]\n\"i15b-alias\" = \"{a}/i15b-aliased\"\n",
        a = reg.addr()
    );
    let pulled = pull(&case.store, "i15b-alias", &case.opts(&conf)).unwrap();
    assert_eq!(pulled.name, format!("{}/i15b-aliased:latest", reg.addr()));
}

#[test]
fn short_name_modes() {
    let reg = registry();
    push(reg.addr(), "i15b-short", "short");
    let dead = format!("127.0.0.1:{}", free_port().unwrap());
    let conf = |mode: &str| {
        format!(
            "unqualified-search-registries = [\"{dead}\", \"{a}\"]\nshort-name-mode = \"{mode}\"\n\
             [[registry]]\nlocation = \"{a}\"\ninsecure = true\n\
             [[registry]]\nlocation = \"{dead}\"\ninsecure = true\n",
            a = reg.addr()
        )
    };
    // No terminal here: enforcing refuses, naming the candidates; nothing is stored.
    let case = Case::new();
    let err = err_text(pull(
        &case.store,
        "i15b-short",
        &case.opts(&conf("enforcing")),
    ));
    assert!(
        err.contains("enforcing") && err.contains(reg.addr()),
        "{err}"
    );
    assert!(case.store.images().unwrap().is_empty());
    // Permissive and disabled try the search registries in order.
    for mode in ["permissive", "disabled"] {
        let case = Case::new();
        let pulled = pull(&case.store, "i15b-short", &case.opts(&conf(mode))).unwrap();
        assert_eq!(
            pulled.name,
            format!("{}/i15b-short:latest", reg.addr()),
            "{mode}"
        );
    }
}

#[test]
fn blocked_registry_is_refused_before_any_request() {
    let reg = registry();
    push(reg.addr(), "i15b-blocked", "blocked");
    let before = reg.count_requests("GET", "/v2/");
    assert!(
        before > 0,
        "the access log counts skopeo's requests:\n{}",
        reg.log_text()
    );
    let case = Case::new();
    let conf = format!(
        "[[registry]]\nlocation = \"{a}/i15b-blocked\"\nblocked = true\ninsecure = true\n",
        a = reg.addr()
    );
    let name = format!("{}/i15b-blocked", reg.addr());
    let err = err_text(pull(&case.store, &name, &case.opts(&conf)));
    assert!(err.contains("blocked"), "{err}");
    assert!(case.store.images().unwrap().is_empty());
    assert_eq!(reg.count_requests("GET", "/v2/"), before);
}

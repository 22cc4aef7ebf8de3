//! Tier (a) of the system-container tests: install, update, rollback and uninstall against a
//! real image store and real checkouts, with every host path (/etc/systemd/system,
//! /etc/tmpfiles.d, the host root for /exports/hostfs) in a temp dir, and a systemd double
//! that records what it was asked. Whether systemd accepts the result is tier (b)'s business
//! (crates/atomic/tests/system_containers.rs, in a booted systemd).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use atomic_store::{PullOptions, Source, Store};
use atomic_system::systemd::{Systemd, UnitState};
use atomic_system::{Context, Image, Layout};
use atomic_testsupport::{ImageSpec, LayerSpec, write_oci_layout};

/// Records systemctl and systemd-tmpfiles calls; `fail_on` makes one fail, `panic_on`
/// stands for atomic being killed at that point.
#[derive(Default)]
struct Recorder {
    calls: RefCell<Vec<String>>,
    active: RefCell<BTreeSet<String>>,
    fail_on: Option<&'static str>,
    panic_on: Option<&'static str>,
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.calls.borrow_mut())
    }
}

impl Systemd for Recorder {
    fn systemctl(&self, args: &[&str]) -> Result<()> {
        let call = args.join(" ");
        self.calls.borrow_mut().push(format!("systemctl {call}"));
        if self.panic_on == Some(call.as_str()) {
            panic!("killed at {call}");
        }
        if self.fail_on == Some(call.as_str()) {
            bail!("{call} failed");
        }
        match args {
            ["start", name] => {
                self.active.borrow_mut().insert(name.to_string());
            }
            ["stop", name] | ["disable", "--now", name] => {
                self.active.borrow_mut().remove(*name);
            }
            _ => {}
        }
        Ok(())
    }

    fn tmpfiles(&self, args: &[&str]) -> Result<()> {
        self.calls
            .borrow_mut()
            .push(format!("systemd-tmpfiles {}", args.join(" ")));
        Ok(())
    }

    fn is_active(&self, unit: &str) -> bool {
        self.active.borrow().contains(unit)
    }

    fn stays_active(&self, unit: &str) -> bool {
        self.is_active(unit)
    }

    fn state(&self, unit: &str) -> UnitState {
        if self.is_active(unit) {
            UnitState::Running
        } else {
            UnitState::Inactive
        }
    }
}

struct World {
    tmp: tempfile::TempDir,
    layout: Layout,
    store: Store,
    runtime: String,
}

fn runc() -> Option<String> {
    ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(String::from)
}

impl World {
    /// None (test skipped) without root or runc: checkouts keep the image's owners.
    fn new() -> Option<World> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIP: system containers need root");
            return None;
        }
        let Some(runtime) = runc() else {
            eprintln!("SKIP: runc is not installed");
            return None;
        };
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let store = Store::open(&root.join("store")).unwrap();
        let mut layout = Layout::system(store.root());
        layout.units = root.join("etc/systemd/system");
        layout.tmpfiles = root.join("etc/tmpfiles.d");
        layout.host_root = root.join("host");
        std::fs::create_dir_all(&layout.units).unwrap();
        std::fs::create_dir_all(&layout.tmpfiles).unwrap();
        std::fs::create_dir_all(layout.host_root.join("etc")).unwrap();
        Some(World {
            tmp,
            layout,
            store,
            runtime,
        })
    }

    fn ctx<'a>(&'a self, systemd: &'a dyn Systemd) -> Context<'a> {
        Context {
            layout: &self.layout,
            systemd,
            atomic: "/usr/bin/atomic".into(),
            quiet: true,
        }
    }

    /// Write `spec` as an OCI layout and pull it into the store.
    fn image(&self, spec: &ImageSpec) -> Image {
        let dir = self.tmp.path().join("layouts").join(&spec.name);
        write_oci_layout(spec, &dir).unwrap();
        let source = Source::parse(&format!("oci:{}:{}", dir.display(), spec.tag)).unwrap();
        let opts = PullOptions {
            quiet: true,
            ..Default::default()
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(atomic_store::pull::pull(&self.store, &source, &opts))
            .unwrap();
        let name = format!("localhost/{}:{}", spec.name, spec.tag);
        Image::resolve(&self.store, &name).unwrap().unwrap()
    }

    fn install(
        &self,
        systemd: &dyn Systemd,
        name: &str,
        image: &Image,
        set: &[(&str, &str)],
    ) -> Result<bool> {
        let req = atomic_system::ops::InstallRequest {
            name,
            image,
            set: set
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            runtime: &self.runtime,
            remote: None,
            display: false,
            start: false,
        };
        atomic_system::ops::install(&self.ctx(systemd), &req)
    }

    /// Everything on the "host" but the store's own content: units, tmpfiles, host files,
    /// deployments and atomic's records — what an install adds and an uninstall must remove.
    fn host_tree(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        walk(self.tmp.path(), self.tmp.path(), &mut out, &|rel: &Path| {
            rel.starts_with("layouts")
                || atomic_system::layout::STORE_ENTRIES
                    .iter()
                    .any(|own| rel.starts_with(Path::new("store").join(own)))
        });
        // The lock files are records that stay (empty, and harmless).
        out
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<PathBuf, String>,
    skip: &dyn Fn(&Path) -> bool,
) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        if skip(&rel) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let what = if meta.is_dir() {
            walk(root, &path, out, skip);
            "dir".to_string()
        } else if meta.file_type().is_symlink() {
            format!("link {}", std::fs::read_link(&path).unwrap().display())
        } else {
            format!("file {}", meta.len())
        };
        out.insert(rel, what);
    }
}

fn service_image(name: &str, version: &str) -> ImageSpec {
    ImageSpec::new(name)
        .tag(version)
        .cmd(["/bin/sh", "-c", "echo started; sleep 1000"])
        .label("atomic.type", "system")
        .layer(
            LayerSpec::new()
                .file(
                    "/exports/service.template",
                    "[Unit]\nDescription=$NAME $VERSION\n\n[Service]\nType=forking\n\
                     ExecStart=$EXEC_START\nExecStopPost=$EXEC_STOPPOST\nPIDFile=$PIDFILE\n\
                     WorkingDirectory=$DESTDIR\nEnvironment=PORT=$PORT\n\n[Install]\n\
                     WantedBy=multi-user.target\n",
                    0o644,
                )
                .file(
                    "/exports/manifest.json",
                    format!(r#"{{"defaultValues": {{"PORT": "8080", "VERSION": "{version}"}}}}"#),
                    0o644,
                )
                .file(
                    "/exports/tmpfiles.template",
                    "d $RUN_DIRECTORY/$NAME 0700 - - -\n",
                    0o644,
                )
                .file("/exports/hostfs/etc/$NAME-demo.conf", "port=$PORT\n", 0o644)
                .file("/usr/share/version", version, 0o644),
        )
}

#[test]
fn install_update_rollback_uninstall_leave_the_host_as_it_was() {
    let Some(world) = World::new() else { return };
    let v1 = world.image(&service_image("svc", "1"));
    let v2 = world.image(&service_image("svc", "2"));
    let systemd = Recorder::default();
    let before = world.host_tree();

    assert!(
        world
            .install(&systemd, "web", &v1, &[("PORT", "9000")])
            .unwrap()
    );
    let layout = &world.layout;
    let unit_path = layout.units.join("web.service");
    assert_eq!(
        std::fs::read_link(layout.link("web")).unwrap(),
        layout.slot("web", 0)
    );
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(unit.contains("Description=web 1\n"), "{unit}");
    assert!(
        unit.contains("Environment=PORT=9000\n"),
        "--set beats defaultValues: {unit}"
    );
    let start = format!(
        "ExecStart={} --systemd-cgroup run -d --pid-file /run/container-web.pid web\n",
        world.runtime
    );
    assert!(unit.contains(&start), "{unit}");
    assert!(unit.contains(&format!(
        "WorkingDirectory={}\n",
        layout.slot("web", 0).display()
    )));
    let tmpfiles = std::fs::read_to_string(layout.tmpfiles.join("web.conf")).unwrap();
    assert_eq!(tmpfiles, "d /run/web 0700 - - -\n");
    assert_eq!(
        systemd.take(),
        [
            "systemctl daemon-reload".to_string(),
            format!(
                "systemd-tmpfiles --create {}",
                layout.tmpfiles.join("web.conf").display()
            ),
            "systemctl enable web".to_string(),
        ]
    );
    // The default config.json runs the image's command, read-only, from "rootfs".
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(layout.slot("web", 0).join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["root"]["path"], "rootfs");
    assert_eq!(config["root"]["readonly"], true);
    assert_eq!(config["process"]["args"][2], "echo started; sleep 1000");
    // The checkout shares file data with the store: hard links, no copies.
    use std::os::unix::fs::MetadataExt;
    let busybox = std::fs::metadata(layout.slot("web", 0).join("rootfs/bin/busybox")).unwrap();
    assert!(
        busybox.nlink() >= 2,
        "busybox is a hard link into the store"
    );
    // hostfs: the file name is not a template, its content is not (no installedFilesTemplate).
    let host_file = layout.host_root.join("etc/$NAME-demo.conf");
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "port=$PORT\n");
    let info = atomic_system::info::Info::read(&layout.slot("web", 0)).unwrap();
    let uuid = info.values["UUID"].clone();
    assert_eq!(info.values["PORT"], "9000");

    // The same image again: nothing to do.
    let ctx = world.ctx(&systemd);
    let update = |image: &Image, set: &[(&str, &str)]| {
        atomic_system::update::update(
            &ctx,
            &atomic_system::update::UpdateRequest {
                name: "web",
                set: set
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                image,
                runtime: None,
            },
        )
    };
    assert_eq!(
        update(&v1, &[]).unwrap(),
        atomic_system::update::Updated::AlreadyLatest
    );
    systemd.systemctl(&["start", "web"]).unwrap();
    systemd.take();

    // A new version goes to the other slot; the running service is restarted; UUID and
    // --set values are kept.
    update(&v2, &[]).unwrap();
    assert_eq!(
        std::fs::read_link(layout.link("web")).unwrap(),
        layout.slot("web", 1)
    );
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(
        unit.contains("Description=web 2\n") && unit.contains("PORT=9000"),
        "{unit}"
    );
    let info2 = atomic_system::info::Info::read(&layout.slot("web", 1)).unwrap();
    assert_eq!(info2.values["UUID"], uuid);
    let calls = systemd.take();
    assert_eq!(calls.first().unwrap(), "systemctl stop web");
    assert_eq!(calls.last().unwrap(), "systemctl start web");
    assert_eq!(
        std::fs::read_to_string(layout.link("web").join("rootfs/usr/share/version")).unwrap(),
        "2"
    );

    // Rollback: back to slot 0 and its unit.
    atomic_system::update::rollback(&ctx, "web").unwrap();
    assert_eq!(
        std::fs::read_link(layout.link("web")).unwrap(),
        layout.slot("web", 0)
    );
    assert!(
        std::fs::read_to_string(&unit_path)
            .unwrap()
            .contains("Description=web 1\n")
    );

    // A host file the user changed is kept; everything else goes.
    atomic_system::ops::uninstall(&ctx, "web").unwrap();
    assert!(
        systemd
            .take()
            .contains(&"systemctl disable --now web".to_string())
    );
    let after = world.host_tree();
    let lock = PathBuf::from("store/system");
    assert_eq!(
        before,
        after
            .into_iter()
            .filter(|(p, _)| !p.starts_with(&lock))
            .collect(),
        "uninstall leaves the host as before the install"
    );
}

#[test]
fn a_modified_host_file_is_kept_on_uninstall() {
    let Some(world) = World::new() else { return };
    let image = world.image(&service_image("hostfiles", "1"));
    let systemd = Recorder::default();
    world.install(&systemd, "kept", &image, &[]).unwrap();
    let host_file = world.layout.host_root.join("etc/$NAME-demo.conf");
    std::fs::write(&host_file, "edited\n").unwrap();
    atomic_system::ops::uninstall(&world.ctx(&systemd), "kept").unwrap();
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "edited\n");
}

#[test]
fn a_failed_install_leaves_nothing_and_can_be_run_again() {
    let Some(world) = World::new() else { return };
    let image = world.image(&service_image("failing", "1"));
    let before = world.host_tree();
    let systemd = Recorder {
        fail_on: Some("enable svc"),
        ..Default::default()
    };
    let err = world.install(&systemd, "svc", &image, &[]).unwrap_err();
    assert!(format!("{err:#}").contains("enable svc failed"), "{err:#}");
    let calls = systemd.take();
    assert!(
        calls.contains(&"systemctl disable svc".to_string()),
        "{calls:?}"
    );
    assert_eq!(calls.last().unwrap(), "systemctl daemon-reload");
    assert_eq!(before, without_locks(world.host_tree()));
    // Re-running succeeds.
    world
        .install(&Recorder::default(), "svc", &image, &[])
        .unwrap();
}

#[test]
fn an_unreplaced_template_value_is_refused_before_anything_is_written() {
    let Some(world) = World::new() else { return };
    let spec = ImageSpec::new("missing-var")
        .cmd(["/bin/true"])
        .layer(LayerSpec::new().file(
            "/exports/service.template",
            "[Service]\nExecStart=$EXEC_START --peer $PEER\n",
            0o644,
        ));
    let image = world.image(&spec);
    let before = world.host_tree();
    let err = world
        .install(&Recorder::default(), "m", &image, &[])
        .unwrap_err();
    assert!(
        format!("{err:#}").contains(
            "The template file 'service.template' still contains an unreplaced value for: 'PEER'"
        ),
        "{err:#}"
    );
    assert_eq!(before, without_locks(world.host_tree()));
    // With the value given, it installs.
    let systemd = Recorder::default();
    world
        .install(&systemd, "m", &image, &[("PEER", "p1")])
        .unwrap();
    let unit = std::fs::read_to_string(world.layout.units.join("m.service")).unwrap();
    assert!(unit.contains("--peer p1\n"), "{unit}");
}

#[test]
fn an_install_killed_midway_is_undone_by_the_next_atomic() {
    let Some(world) = World::new() else { return };
    let image = world.image(&service_image("killed", "1"));
    let before = world.host_tree();
    let killer = Recorder {
        panic_on: Some("enable k"),
        ..Default::default()
    };
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        world.install(&killer, "k", &image, &[])
    }));
    assert!(killed.is_err());
    // Half installed: unit and link written, the record of what was done left behind.
    assert!(world.layout.units.join("k.service").exists());
    assert!(world.layout.checkouts.join("system/k.pending").exists());

    let systemd = Recorder::default();
    world.install(&systemd, "k", &image, &[]).unwrap();
    let calls = systemd.take();
    assert_eq!(
        calls[..2],
        ["systemctl stop k", "systemctl disable k"],
        "{calls:?}"
    );
    assert!(!world.layout.checkouts.join("system/k.pending").exists());
    atomic_system::ops::uninstall(&world.ctx(&systemd), "k").unwrap();
    assert_eq!(before, without_locks(world.host_tree()));
}

#[test]
fn a_second_install_is_refused_or_reported() {
    let Some(world) = World::new() else { return };
    let image = world.image(&service_image("twice", "1"));
    let systemd = Recorder::default();
    assert!(world.install(&systemd, "t", &image, &[]).unwrap());
    assert!(
        !world.install(&systemd, "t", &image, &[]).unwrap(),
        "already present"
    );
    // A unit that is not ours blocks an install under its name.
    std::fs::write(world.layout.units.join("other.service"), "[Unit]\n").unwrap();
    let err = world.install(&systemd, "other", &image, &[]).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(!world.layout.link("other").exists());
}

fn without_locks(tree: BTreeMap<PathBuf, String>) -> BTreeMap<PathBuf, String> {
    tree.into_iter()
        .filter(|(p, _)| !p.starts_with("store/system"))
        .collect()
}

#[test]
fn an_update_killed_midway_is_undone_to_the_running_old_version() {
    let Some(world) = World::new() else { return };
    let v1 = world.image(&service_image("upd", "1"));
    let v2 = world.image(&service_image("upd", "2"));
    let systemd = Recorder::default();
    world.install(&systemd, "u", &v1, &[]).unwrap();
    systemd.systemctl(&["start", "u"]).unwrap();
    let unit_before = std::fs::read_to_string(world.layout.units.join("u.service")).unwrap();

    // Killed while restarting the new version: unit, link and slot 1 already switched.
    let killer = Recorder {
        panic_on: Some("start u"),
        ..Default::default()
    };
    killer.active.borrow_mut().insert("u".into());
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        atomic_system::update::update(
            &world.ctx(&killer),
            &atomic_system::update::UpdateRequest {
                name: "u",
                set: Default::default(),
                image: &v2,
                runtime: None,
            },
        )
    }));
    assert!(killed.is_err());
    assert_eq!(
        std::fs::read_link(world.layout.link("u")).unwrap(),
        world.layout.slot("u", 1)
    );

    // The next atomic (a rollback, here) first puts version 1 back and starts it, since it was
    // running before; the rollback itself then finds no other deployment to go back to.
    let err = atomic_system::update::rollback(&world.ctx(&systemd), "u").unwrap_err();
    assert!(
        err.to_string()
            .contains("Cannot find a previous deployment"),
        "{err}"
    );
    let calls = systemd.take();
    assert!(
        calls.contains(&"systemctl start u".to_string()),
        "{calls:?}"
    );
    assert_eq!(
        std::fs::read_link(world.layout.link("u")).unwrap(),
        world.layout.slot("u", 0)
    );
    assert!(
        !world.layout.slot("u", 1).exists(),
        "the half-made slot is gone"
    );
    assert_eq!(
        std::fs::read_to_string(world.layout.units.join("u.service")).unwrap(),
        unit_before
    );
}

#[test]
fn two_installs_of_one_name_at_once_make_one_container() {
    let Some(world) = World::new() else { return };
    let image = world.image(&service_image("race", "1"));
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    world
                        .install(&Recorder::default(), "r", &image, &[])
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // One installed it; the other waited for the lock and found it present.
    assert_eq!(results.iter().filter(|installed| **installed).count(), 1);
    assert!(world.layout.units.join("r.service").exists());
    assert!(!world.layout.slot("r", 1).exists());
}

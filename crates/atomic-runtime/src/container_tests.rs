//! The container logic against a recording fake runtime: stop (signal, wait, SIGKILL after the
//! timeout), remove and finish, without runc or root.

use std::sync::Mutex;

use super::*;
use crate::runc::{RuntimeState, Stdio3};

/// A runtime that records what it is asked and keeps one container's state: running until a
/// signal in `ends_on` reaches it.
#[derive(Debug)]
struct FakeRuntime {
    calls: Mutex<Vec<String>>,
    state: Mutex<FakeState>,
    ends_on: &'static [&'static str],
}

#[derive(Debug, Clone, Copy)]
struct FakeState {
    known: bool,
    running: bool,
}

impl FakeRuntime {
    fn new(running: bool, ends_on: &'static [&'static str]) -> FakeRuntime {
        FakeRuntime {
            calls: Mutex::new(Vec::new()),
            state: Mutex::new(FakeState {
                known: true,
                running,
            }),
            ends_on,
        }
    }

    fn record(&self, call: String) {
        self.calls
            .lock()
            .expect("no test thread panicked")
            .push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("no test thread panicked").clone()
    }

    fn set(&self, change: impl FnOnce(&mut FakeState)) {
        change(&mut self.state.lock().expect("no test thread panicked"));
    }

    fn get(&self) -> FakeState {
        *self.state.lock().expect("no test thread panicked")
    }
}

impl OciRuntime for FakeRuntime {
    fn create(&self, _: &Path, id: &str, _: &Path, _: &Path, _: Stdio3) -> Result<()> {
        self.record(format!("create {id}"));
        self.set(|s| {
            *s = FakeState {
                known: true,
                running: true,
            }
        });
        Ok(())
    }

    fn start(&self, _: &str) -> Result<()> {
        self.record("start".into());
        Ok(())
    }

    fn kill(&self, _: &str, signal: &str, all: bool) -> Result<()> {
        self.record(format!("kill {signal}{}", if all { " --all" } else { "" }));
        if self.ends_on.contains(&signal) {
            self.set(|s| s.running = false);
        }
        Ok(())
    }

    fn delete(&self, _: &str, force: bool) -> Result<()> {
        self.record(format!("delete{}", if force { " --force" } else { "" }));
        self.set(|s| {
            *s = FakeState {
                known: false,
                running: false,
            }
        });
        Ok(())
    }

    fn state(&self, id: &str) -> Result<Option<RuntimeState>> {
        let state = self.get();
        Ok(state.known.then(|| RuntimeState {
            id: id.to_string(),
            pid: 42,
            status: if state.running { "running" } else { "stopped" }.to_string(),
        }))
    }

    fn knows(&self, _: &str) -> bool {
        self.get().known
    }
}

/// A store in a temp dir, a runner whose runtime is `fake`, and one running container.
struct World {
    _dir: tempfile::TempDir,
    runner: Runner,
    fake: Arc<FakeRuntime>,
    record: Record,
}

fn world(fake: FakeRuntime, edit: impl FnOnce(&mut Record)) -> World {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::open(&dir.path().join("store")).expect("a new store");
    let mut runner = Runner::new(store, "runc");
    let fake = Arc::new(fake);
    runner.fake_runtime = Some(fake.clone());
    let mut record = crate::state::tests::record("i14-unit");
    record.state = Lifecycle::Running {
        started: now(),
        detached: false,
    };
    edit(&mut record);
    let _names = runner.containers.names_lock().expect("the names lock");
    let dir_of = runner.containers.create(&record).expect("a container");
    std::fs::create_dir(dir_of.join("rootfs")).expect("its rootfs directory");
    drop(_names);
    World {
        _dir: dir,
        runner,
        fake,
        record,
    }
}

fn stopped_marker(w: &World) -> bool {
    w.runner
        .containers
        .dir(&w.record.id)
        .join(STOPPED_MARKER)
        .exists()
}

#[test]
fn stop_sends_the_stop_signal_and_no_sigkill_when_the_process_ends() {
    let w = world(FakeRuntime::new(true, &["SIGTERM"]), |_| {});
    assert!(w.runner.stop(&w.record, Some(5), None).unwrap());
    assert_eq!(w.fake.calls(), ["kill SIGTERM"]);
    assert!(
        stopped_marker(&w),
        "the restart policy must see the user's stop"
    );
}

#[test]
fn stop_sends_sigkill_to_every_process_after_the_timeout() {
    let w = world(FakeRuntime::new(true, &["SIGKILL"]), |_| {});
    let started = Instant::now();
    assert!(w.runner.stop(&w.record, Some(1), None).unwrap());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited the timeout"
    );
    assert_eq!(w.fake.calls(), ["kill SIGTERM", "kill SIGKILL --all"]);
}

#[test]
fn stop_uses_the_images_stop_signal_and_timeout_unless_given() {
    let w = world(FakeRuntime::new(true, &["SIGKILL"]), |r| {
        r.stop_signal = Some("SIGQUIT".into());
        r.stop_timeout = Some(0);
    });
    assert!(w.runner.stop(&w.record, None, None).unwrap());
    assert_eq!(w.fake.calls(), ["kill SIGQUIT", "kill SIGKILL --all"]);
    let w = world(FakeRuntime::new(true, &["SIGUSR1"]), |r| {
        r.stop_signal = Some("SIGQUIT".into());
    });
    assert!(w.runner.stop(&w.record, Some(5), Some("SIGUSR1")).unwrap());
    assert_eq!(w.fake.calls(), ["kill SIGUSR1"]);
}

#[test]
fn stop_of_a_container_that_is_not_running_does_nothing() {
    let w = world(FakeRuntime::new(false, &[]), |_| {});
    assert!(!w.runner.stop(&w.record, Some(5), None).unwrap());
    assert!(w.fake.calls().is_empty());
    assert!(!stopped_marker(&w));
}

#[test]
fn remove_refuses_a_running_container_unless_forced() {
    let w = world(FakeRuntime::new(true, &["SIGKILL"]), |_| {});
    let dir = w.runner.containers.dir(&w.record.id);
    let err = w.runner.remove(&w.record, false).unwrap_err();
    assert!(err.to_string().contains("stop it first"), "{err:#}");
    assert!(w.fake.calls().is_empty() && dir.exists());

    w.runner.remove(&w.record, true).unwrap();
    assert_eq!(w.fake.calls(), ["kill SIGKILL --all", "delete --force"]);
    assert!(!dir.exists());
}

#[test]
fn remove_of_an_exited_container_deletes_it_without_signals() {
    let w = world(FakeRuntime::new(false, &[]), |_| {});
    w.runner.remove(&w.record, false).unwrap();
    assert_eq!(w.fake.calls(), ["delete --force"]);
    assert!(!w.runner.containers.dir(&w.record.id).exists());
}

#[test]
fn finish_records_the_exit_code_and_makes_the_runtime_forget_the_container() {
    let mut w = world(FakeRuntime::new(false, &[]), |_| {});
    let mut record = w.record.clone();
    w.runner.finish(&mut record, Some(3)).unwrap();
    assert_eq!(w.fake.calls(), ["delete --force"]);
    let saved = w.runner.containers.load(&record.id).unwrap();
    assert_eq!(saved.exit_code(), Some(3));
    w.record = saved;
    assert_eq!(w.runner.status(&w.record).unwrap(), Status::Exited);
}

#[test]
fn finish_without_runtime_state_deletes_nothing_and_keeps_an_unknown_code() {
    let w = world(FakeRuntime::new(false, &[]), |_| {});
    w.fake.set(|s| s.known = false);
    let mut record = w.record.clone();
    w.runner.finish(&mut record, None).unwrap();
    assert!(w.fake.calls().is_empty());
    let saved = w.runner.containers.load(&record.id).unwrap();
    assert!(matches!(saved.state, Lifecycle::Exited { code: None, .. }));
}

#[test]
fn finish_removes_an_auto_remove_container() {
    let w = world(FakeRuntime::new(false, &[]), |r| r.auto_remove = true);
    let mut record = w.record.clone();
    w.runner.finish(&mut record, Some(0)).unwrap();
    assert_eq!(w.fake.calls(), ["delete --force"]);
    assert!(!w.runner.containers.dir(&record.id).exists());
}

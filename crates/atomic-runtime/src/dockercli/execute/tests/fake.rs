//! A recording fake of the engine and its containers, for the executor's unit tests.

use std::cell::RefCell;
use std::rc::Rc;

use anyhow::{Result, bail};

use crate::ExecOptions;
use crate::dockercli::RunRequest;
use crate::dockercli::execute::{Container, Engine};
use crate::logs::show::{LogsRequest, Terminal};
use crate::network::Networks;
use crate::state::{Record, Status};

type Log = Rc<RefCell<Vec<String>>>;

/// An engine with `images` in its store and `containers` in given states; every call it gets
/// is written to `log`. Foreground runs and execs exit with `exit`.
pub(super) struct Fake {
    images: Vec<String>,
    pub(super) containers: RefCell<Vec<(Record, Status)>>,
    log: Log,
    exit: i32,
    pub(super) dir: tempfile::TempDir,
}

impl Fake {
    pub(super) fn new(images: &[&str], containers: &[(&str, Status)]) -> Fake {
        Fake {
            images: images.iter().map(|i| i.to_string()).collect(),
            containers: RefCell::new(
                containers
                    .iter()
                    .map(|(name, status)| (crate::state::tests::record(name), *status))
                    .collect(),
            ),
            log: Rc::default(),
            exit: 7,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn record(&self, what: String) {
        self.log.borrow_mut().push(what);
    }

    pub(super) fn calls(&self) -> Vec<String> {
        self.log.borrow().clone()
    }

    pub(super) fn id_of(&self, name: &str) -> String {
        let containers = self.containers.borrow();
        let found = containers.iter().find(|(r, _)| r.name == name);
        found.map(|(r, _)| r.id.clone()).unwrap()
    }

    fn find(&self, name: &str) -> Result<(Record, Status)> {
        let containers = self.containers.borrow();
        match containers.iter().find(|(r, _)| r.name == name) {
            Some(found) => Ok(found.clone()),
            None => bail!("container '{name}' not found in storage 'native'"),
        }
    }
}

pub(super) struct FakeContainer {
    record: Record,
    status: Status,
    log: Log,
    exit: i32,
}

impl FakeContainer {
    fn record_call(&self, what: &str) {
        let call = format!("{what} {}", self.record.name);
        self.log.borrow_mut().push(call);
    }
}

impl Engine for Fake {
    type Image = String;
    type Container = FakeContainer;

    fn find_image(&self, name: &str) -> Result<Option<String>> {
        self.record(format!("find {name}"));
        Ok(self.images.iter().find(|i| *i == name).cloned())
    }

    async fn pull(&self, name: &str) -> Result<String> {
        self.record(format!("pull {name}"));
        if name.starts_with("unreachable") {
            bail!("pulling {name}: no such registry");
        }
        Ok(name.to_string())
    }

    fn create(
        &self,
        request: &RunRequest,
        image: String,
        _env: &[(String, String)],
    ) -> Result<FakeContainer> {
        self.record(format!("create {image}"));
        let mut record = crate::state::tests::record(request.name.as_deref().unwrap_or("anon"));
        record.image = image;
        self.containers
            .borrow_mut()
            .push((record.clone(), Status::Created));
        self.container(&record.name)
    }

    fn container(&self, name: &str) -> Result<FakeContainer> {
        let (record, status) = self.find(name)?;
        Ok(FakeContainer {
            record,
            status,
            log: self.log.clone(),
            exit: self.exit,
        })
    }

    fn stop(&self, name: &str, timeout: Option<u32>) -> Result<()> {
        self.record(format!("stop {name} {timeout:?}"));
        self.find(name).map(drop)
    }

    fn remove(&self, name: &str, force: bool) -> Result<()> {
        self.record(format!("rm {name} force={force}"));
        self.find(name)?;
        self.containers.borrow_mut().retain(|(r, _)| r.name != name);
        Ok(())
    }

    fn networks(&self) -> Networks {
        Networks::new(self.dir.path())
    }
}

impl Container for FakeContainer {
    fn record(&self) -> &Record {
        &self.record
    }

    fn status(&self) -> Result<Status> {
        Ok(self.status)
    }

    async fn run_foreground(&mut self) -> Result<i32> {
        self.record_call("run");
        Ok(self.exit)
    }

    fn start_detached(&self) -> Result<()> {
        self.record_call("start");
        Ok(())
    }

    fn kill(&self, signal: &str) -> Result<()> {
        self.record_call(&format!("kill {signal}"));
        Ok(())
    }

    async fn exec(&self, opts: &ExecOptions, command: &[String], interactive: bool) -> Result<i32> {
        let what = format!("exec {command:?} env={:?} stdin={interactive}", opts.env);
        self.record_call(&what);
        Ok(self.exit)
    }

    fn show_logs(&self, _request: &LogsRequest, term: &mut Terminal<'_>) -> Result<()> {
        self.record_call("logs");
        writeln!(term.out, "hello from {}", self.record.name)?;
        Ok(())
    }

    fn log_path(&self) -> String {
        format!("/fake/{}.log", self.record.name)
    }
}

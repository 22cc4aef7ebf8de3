//! Which tool manages the host — bootc, rpm-ostree or libostree directly — and the one seam
//! through which atomic runs them ([`Runner`]), so the choice and the argv are tested with
//! recorded outputs instead of a real bootc or rpm-ostree host.

use std::path::Path;

use anyhow::{Context, Result, bail};
use atomic_exec::{StdinPolicy, Task};

use crate::bootc;

/// The tools that can manage an OSTree-based host, in the order atomic tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A host booted from a bootable container image (`bootc status` reports it booted).
    Bootc,
    /// rpm-ostree's daemon (Fedora CoreOS, Silverblue, RHEL for Edge, Atomic Host).
    RpmOstree,
    /// libostree itself, through the `ostree` crate: any sysroot, booted or not.
    Ostree,
}

impl Backend {
    /// The name `--backend` takes and errors use.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Bootc => "bootc",
            Backend::RpmOstree => "rpm-ostree",
            Backend::Ostree => "ostree",
        }
    }
}

/// A program's exit code and output, captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the host tools. The real one is [`SystemRunner`]; tests give recorded outputs and keep
/// the argv they were asked to run.
pub trait Runner {
    /// Is `program` an executable on PATH?
    fn find(&self, program: &str) -> bool;
    /// Run `argv` with its output captured.
    fn capture(&self, argv: &[String]) -> Result<Captured>;
    /// Run `argv` on atomic's own stdin, stdout and stderr; returns its exit code.
    fn interactive(&self, argv: &[String]) -> Result<i32>;
}

/// Runs the programs for real, found on PATH.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

fn task(argv: &[String]) -> Result<Task> {
    let program = argv.first().context("empty command line")?;
    Ok(Task::new(format!("running {program}"), program).args(&argv[1..]))
}

impl Runner for SystemRunner {
    fn find(&self, program: &str) -> bool {
        atomic_exec::find_program(program).is_some()
    }

    fn capture(&self, argv: &[String]) -> Result<Captured> {
        let out = task(argv)?.output()?;
        Ok(Captured {
            code: atomic_exec::exit_code(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn interactive(&self, argv: &[String]) -> Result<i32> {
        // The tools may ask the user (rpm-ostree's prompts): atomic's own stdin.
        Ok(task(argv)?.stdin(StdinPolicy::Inherit).status()?)
    }
}

/// Pick the backend: `requested` if given, else bootc on a booted bootc host, else rpm-ostree
/// when it is installed, else libostree. bootc and rpm-ostree manage only the running system,
/// so a `sysroot` other than `/` means libostree unless another backend is asked for (which is
/// then an error rather than a change to the wrong root).
pub fn choose(runner: &dyn Runner, requested: Option<Backend>, sysroot: &Path) -> Result<Backend> {
    let running_root = sysroot == Path::new("/");
    match requested {
        Some(Backend::Ostree) => return Ok(Backend::Ostree),
        Some(backend) => {
            if !running_root {
                bail!(
                    "the {} backend manages only the running system; drop --sysroot {} or use \
                     --backend ostree",
                    backend.name(),
                    sysroot.display()
                );
            }
            let program = backend.name();
            if !runner.find(program) {
                bail!(
                    "--backend {program} was asked for, but {program} is not installed (not on PATH)"
                );
            }
            return Ok(backend);
        }
        None => {}
    }
    if !running_root {
        return Ok(Backend::Ostree);
    }
    if runner.find("bootc") && booted_bootc_host(runner)? {
        return Ok(Backend::Bootc);
    }
    if runner.find("rpm-ostree") {
        return Ok(Backend::RpmOstree);
    }
    Ok(Backend::Ostree)
}

/// Does `bootc status` say this host is booted from a container image that bootc can manage?
/// A bootc that fails (not root, not an OSTree host) or prints something else is not asked
/// again: the next backend gets its turn.
fn booted_bootc_host(runner: &dyn Runner) -> Result<bool> {
    let out = runner.capture(&bootc::status_argv())?;
    if out.code != 0 {
        return Ok(false);
    }
    Ok(bootc::parse_host(&out.stdout).is_ok_and(|host| host.manageable()))
}

/// `systemctl reboot`, for `--reboot` after a successful change by libostree (bootc and
/// rpm-ostree reboot by themselves when given their own flag).
pub fn reboot(runner: &dyn Runner) -> Result<()> {
    let argv = ["systemctl", "reboot"].map(String::from);
    let code = runner.interactive(&argv)?;
    if code != 0 {
        bail!("'systemctl reboot' failed (exit {code})");
    }
    Ok(())
}

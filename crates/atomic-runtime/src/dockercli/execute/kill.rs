//! `docker kill [-s SIGNAL] NAME…`: the signal (SIGKILL unless given) sent to each running
//! container; a container that is not running is an error, as with docker.

use std::io::Write;

use anyhow::{Result, bail};

use super::{Container, Engine, line};
use crate::state::Status;

pub(super) fn execute<E: Engine>(
    engine: &E,
    names: &[String],
    signal: Option<&str>,
    out: &mut dyn Write,
) -> Result<i32> {
    let signal = signal.unwrap_or("SIGKILL");
    for name in names {
        let container = engine.container(name)?;
        if container.status()? != Status::Running {
            bail!("container {name} is not running");
        }
        container.kill(signal)?;
        line(out, name)?;
    }
    Ok(0)
}

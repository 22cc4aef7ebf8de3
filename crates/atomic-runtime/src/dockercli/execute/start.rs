//! `docker start [-a] NAME…`: each container started under a supervisor and named, or with
//! `-a` run attached (the first one; its exit code is the command's). A running container is
//! named and left alone, as docker does.

use std::io::Write;

use anyhow::Result;

use super::{Container, Engine, line};
use crate::state::Status;

pub(super) async fn execute<E: Engine>(
    engine: &E,
    names: &[String],
    attach: bool,
    out: &mut dyn Write,
) -> Result<i32> {
    for name in names {
        let mut container = engine.container(name)?;
        if container.status()? == Status::Running {
            line(out, name)?;
            continue;
        }
        if attach {
            return container.run_foreground().await;
        }
        container.start_detached()?;
        line(out, name)?;
    }
    Ok(0)
}

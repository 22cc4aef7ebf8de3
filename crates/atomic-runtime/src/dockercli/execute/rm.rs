//! `docker rm [-f] NAME…`: each container removed in turn, and named once it is gone; the
//! first failure ends the command.

use std::io::Write;

use anyhow::Result;

use super::{Engine, line};

pub(super) fn execute<E: Engine>(
    engine: &E,
    names: &[String],
    force: bool,
    out: &mut dyn Write,
) -> Result<i32> {
    for name in names {
        engine.remove(name, force)?;
        line(out, name)?;
    }
    Ok(0)
}

//! `docker stop [-t N] NAME…`: each container stopped in turn, and named once it is.

use std::io::Write;

use anyhow::Result;

use super::{Engine, line};

pub(super) fn execute<E: Engine>(
    engine: &E,
    names: &[String],
    timeout: Option<u32>,
    out: &mut dyn Write,
) -> Result<i32> {
    for name in names {
        engine.stop(name, timeout)?;
        line(out, name)?;
    }
    Ok(0)
}

//! `docker logs [-f] [-n N] [--since T] [--until T] [-t] NAME`: what a detached container
//! wrote, from its log driver (json-file, journald).

use std::io::Write;

use anyhow::Result;

use super::{Container, Engine};
use crate::dockercli::LogsArgs;
use crate::logs::show::{LogsRequest, Terminal};

pub(super) fn execute<E: Engine>(engine: &E, args: &LogsArgs, out: &mut dyn Write) -> Result<i32> {
    let request = &LogsRequest::from_args(args)?;
    let container = engine.container(&args.name)?;
    let mut err = std::io::stderr().lock();
    let mut term = Terminal { out, err: &mut err };
    match container.show_logs(request, &mut term) {
        // `docker logs NAME | head` ends quietly when its reader goes away.
        Err(e) if is_broken_pipe(&e) => Ok(0),
        result => result.map(|()| 0),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

//! `docker inspect [-f FORMAT] NAME…`: the fields scripts read, in docker's shape; `--format`
//! takes field paths (see `template.rs`).

use std::io::Write;

use anyhow::Result;
use serde_json::{Value, json};

use super::{Container, Engine, line, port, template};
use crate::state::Status;

pub(super) fn execute<E: Engine>(
    engine: &E,
    names: &[String],
    format: Option<&str>,
    out: &mut dyn Write,
) -> Result<i32> {
    let mut items = Vec::new();
    for name in names {
        items.push(describe(&engine.container(name)?)?);
    }
    print(&items, format, out)?;
    Ok(0)
}

/// `items` as a JSON array, or each through `format`: what both `inspect`s print.
pub(super) fn print(items: &[Value], format: Option<&str>, out: &mut dyn Write) -> Result<()> {
    match format {
        Some(format) => {
            for item in items {
                line(out, &template::render(format, item)?)?;
            }
            Ok(())
        }
        None => line(out, &serde_json::to_string_pretty(items)?),
    }
}

/// One container as `docker inspect` shows it.
fn describe(container: &impl Container) -> Result<Value> {
    let status = container.status()?;
    let record = container.record();
    Ok(json!({
        "Id": record.id,
        "Name": format!("/{}", record.name),
        "Created": record.created,
        "Image": format!("sha256:{}", record.image_id),
        "State": {
            "Status": status.as_str(),
            "Running": status == Status::Running,
            "ExitCode": record.exit_code().unwrap_or(0),
        },
        "Config": {
            "Image": record.image,
            "Cmd": record.command,
            "Labels": record.labels,
            "Tty": record.tty,
            "OpenStdin": record.interactive,
        },
        "HostConfig": {
            "AutoRemove": record.auto_remove,
            "Runtime": record.runtime,
            "LogConfig": record.log.inspect(),
            "PortBindings": port::bindings(record),
        },
        "LogPath": container.log_path(),
        "NetworkSettings": port::network_settings(record),
    }))
}

//! `docker exec [-i] [-t] [-d] [-e …] [-u U] [-w DIR] [--privileged] NAME CMD…`: the
//! environment resolved as docker resolves it, then the command run in the container.

use anyhow::{Context, Result};

use super::{Container, Engine};
use crate::ExecOptions;
use crate::dockercli::{EnvEntry, ExecRequest};

pub(super) async fn execute<E: Engine>(
    engine: &E,
    request: &ExecRequest,
    env: &[(String, String)],
) -> Result<i32> {
    let container = engine.container(&request.name)?;
    let opts = ExecOptions {
        tty: request.tty,
        detach: request.detach,
        env: variables(&request.env, env)?,
        user: request.user.clone(),
        cwd: request.workdir.clone(),
        privileged: request.privileged,
    };
    container
        .exec(&opts, &request.command, request.interactive)
        .await
}

/// `KEY=VALUE` for each `-e` entry (or env file), in order. A bare `-e KEY` (and a bare `KEY`
/// line of an env file) takes atomic's value for the label (`env`), else atomic's own
/// environment's, and is left out when neither has it, as docker leaves out an unset one.
fn variables(entries: &[EnvEntry], env: &[(String, String)]) -> Result<Vec<String>> {
    let lookup = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(key).ok())
    };
    let mut vars = Vec::new();
    for entry in entries {
        match entry {
            EnvEntry::Set(k, v) => vars.push(format!("{k}={v}")),
            EnvEntry::FromHost(k) => {
                if let Some(v) = lookup(k) {
                    vars.push(format!("{k}={v}"));
                }
            }
            EnvEntry::File(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading env file {}", path.display()))?;
                vars.extend(
                    crate::spec::parse_env_file(&text, &lookup)
                        .into_iter()
                        .map(|(k, v)| format!("{k}={v}")),
                );
            }
        }
    }
    Ok(vars)
}

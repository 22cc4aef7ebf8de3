//! `docker run` and `docker create`: the image found (or pulled, as docker does when it is
//! missing), the container made, then run attached, started detached, or only created.

use std::io::Write;

use anyhow::Result;

use super::{Container, Engine, line};
use crate::dockercli::RunRequest;

pub(super) async fn execute<E: Engine>(
    engine: &E,
    request: &RunRequest,
    env: &[(String, String)],
    out: &mut dyn Write,
) -> Result<i32> {
    let image = match engine.find_image(&request.image)? {
        Some(found) => found,
        None => {
            eprintln!("Unable to find image '{}' locally", request.image);
            engine.pull(&request.image).await?
        }
    };
    let mut container = engine.create(request, image, env)?;
    if request.create_only {
        line(out, &container.record().id)?;
        return Ok(0);
    }
    if request.detach {
        container.start_detached()?;
        line(out, &container.record().id)?;
        return Ok(0);
    }
    container.run_foreground().await
}

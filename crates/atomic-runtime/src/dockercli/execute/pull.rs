//! `docker pull IMAGE`: the image pulled into the native store.

use anyhow::Result;

use super::Engine;

pub(super) async fn execute<E: Engine>(engine: &E, image: &str) -> Result<i32> {
    engine.pull(image).await?;
    Ok(0)
}

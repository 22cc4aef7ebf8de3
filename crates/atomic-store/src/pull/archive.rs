//! Imports from archives and the Docker daemon. Being written.
use anyhow::Result;

use super::{PullOptions, Pulled, Source};
use crate::store::Store;

pub async fn import(_store: &Store, source: &Source, _opts: &PullOptions) -> Result<Pulled> {
    anyhow::bail!("importing {source:?} is not written yet")
}

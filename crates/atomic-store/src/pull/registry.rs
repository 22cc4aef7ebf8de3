//! Pulls from registries (OCI distribution API). Being written.
use anyhow::Result;

use super::{PullOptions, Pulled};
use crate::store::Store;

pub async fn pull(_store: &Store, name: &str, _opts: &PullOptions) -> Result<Pulled> {
    anyhow::bail!("pulling {name} from a registry is not written yet")
}

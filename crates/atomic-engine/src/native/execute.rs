//! The native engine as the docker executor sees it (`atomic_runtime::dockercli::execute`):
//! a label's `docker …` command line is carried out on this store and its containers.

use anyhow::Result;

use atomic_runtime::dockercli::RunRequest;
use atomic_runtime::dockercli::execute::{Engine, NativeContainer};
use atomic_runtime::network::Networks;
use atomic_store::{PullOptions, Source, Store, StoredImage};

use super::NativeEngine;

impl Engine for NativeEngine {
    type Image = (Store, StoredImage);
    type Container = NativeContainer;

    fn find_image(&self, name: &str) -> Result<Option<Self::Image>> {
        Ok(NativeEngine::resolve(self, name)?)
    }

    async fn pull(&self, name: &str) -> Result<Self::Image> {
        let source = Source::parse(name)?;
        let pulled = NativeEngine::pull(self, &source, &PullOptions::default()).await?;
        Ok((self.store()?, pulled.image))
    }

    fn create(
        &self,
        request: &RunRequest,
        image: Self::Image,
        env: &[(String, String)],
    ) -> Result<NativeContainer> {
        let (runner, record) = self.create_container(request, image, env)?;
        Ok(NativeContainer { runner, record })
    }

    fn container(&self, name: &str) -> Result<NativeContainer> {
        let (runner, record) = self.require_container(name)?;
        Ok(NativeContainer { runner, record })
    }

    fn stop(&self, name: &str, timeout: Option<u32>) -> Result<()> {
        NativeEngine::stop(self, name, timeout, None)?;
        Ok(())
    }

    fn remove(&self, name: &str, force: bool) -> Result<()> {
        Ok(self.remove_container(name, force)?)
    }

    fn networks(&self) -> Networks {
        Networks::new(self.root())
    }
}

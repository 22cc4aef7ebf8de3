//! `atomic network create|delete|list`: the native engine's networks, for people (a label's
//! `docker network …` does the same through the native docker executor).

pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod list;

use clap::Subcommand;

use super::Lazy;

#[derive(Subcommand, Debug)]
pub enum NetworkVerb {
    /// Create a bridge network with name resolution between its containers
    Create(Lazy<create::CreateArgs>),
    /// Delete networks no container uses
    #[command(alias = "rm")]
    Delete(Lazy<delete::DeleteArgs>),
    /// List the native engine's networks
    #[command(alias = "ls")]
    List(Lazy<list::ListArgs>),
}

pub fn network(verb: NetworkVerb, config: &crate::config::Config) -> anyhow::Result<i32> {
    let native = atomic_engine::NativeEngine::with_settings(&config.engine_settings());
    match verb {
        NetworkVerb::Create(Lazy(args)) => create::create(args, &native),
        NetworkVerb::Delete(Lazy(args)) => delete::delete(args, &native),
        NetworkVerb::List(Lazy(args)) => list::list(args, &native),
    }
}

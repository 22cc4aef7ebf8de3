//! `atomic supervise-container --store-root DIR --runtime RT ID` (hidden): the supervisor of a
//! detached native container, which atomic starts itself (`atomic_runtime::supervise`, whose
//! `verb_args` write this command line).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use atomic_runtime::Runner;

#[derive(Args, Debug)]
pub struct SuperviseArgs {
    #[arg(long)]
    store_root: PathBuf,
    #[arg(long)]
    runtime: String,
    id: String,
}

/// Supervise one detached container until it is done.
pub fn supervise(args: SuperviseArgs) -> Result<i32> {
    let store = atomic_store::Store::open(&args.store_root)?;
    let runner = Runner::new(store, &args.runtime);
    atomic_runtime::supervise::supervise(&runner, &args.id)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::super::{Cli, Lazy, Verb};

    /// The runtime writes the supervisor's command line; this verb must read it back whole.
    #[test]
    fn the_verb_reads_the_command_line_the_runtime_starts_it_with() {
        let mut argv = vec!["atomic".to_string()];
        argv.extend(atomic_runtime::supervise::verb_args(
            Path::new("/srv/store"),
            "crun",
        ));
        argv.push("0123abcd".to_string());
        let cli = Cli::try_parse_from(&argv).unwrap();
        let Verb::SuperviseContainer(Lazy(args)) = cli.verb else {
            panic!("{argv:?} is not the supervisor's verb");
        };
        assert_eq!(args.store_root, Path::new("/srv/store"));
        assert_eq!(
            (args.runtime.as_str(), args.id.as_str()),
            ("crun", "0123abcd")
        );
    }
}

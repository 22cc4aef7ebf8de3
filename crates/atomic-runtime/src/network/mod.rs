//! Networks of the built-in engine, through Podman's own stack: netavark makes bridges, veth
//! pairs and firewall rules (NAT out, published ports in); aardvark-dns resolves container
//! names on user networks. atomic keeps its own network definitions, address allocations and
//! netavark state under the store root, apart from Podman's.
//!
//! - [`ports`]: `-p`/`--expose`/`-P` as netavark's port mappings; [`probe`]: free host ports;
//! - [`store`]: network definitions and allocations (addresses, host ports), under a lock;
//! - [`netns`]: a container's network namespace kept as a file;
//! - [`netavark`]: the program's command line; [`config`]: its JSON;
//! - [`etcfiles`]: `/etc/hosts` and `/etc/resolv.conf` as docker writes them;
//! - [`attach`]: a container's network planned at create, up at start, down at exit;
//! - [`links`]: `--link`'s `/etc/hosts` entries.

pub mod attach;
pub mod config;
pub mod etcfiles;
pub mod links;
pub mod netavark;
pub mod netns;
pub mod ports;
pub mod probe;
pub mod store;

pub use attach::{Attachment, Endpoint};
pub use config::Network;
pub use store::{DEFAULT_NETWORK, DEFAULT_SUBNET, Networks, NewNetwork};

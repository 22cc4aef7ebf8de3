//! Networks of the built-in engine. A container on a bridge network without DNS (the default
//! `atomic0`, as Docker's default bridge) is set up by atomic itself: links over netlink and
//! its firewall rules (NAT out, published ports in) in one `iptables-restore` each way, a few
//! milliseconds. A container on a network with DNS (user networks) goes through Podman's own
//! stack: netavark makes the bridge, veth pair and rules, and starts aardvark-dns to resolve
//! container names. atomic.conf `network_driver: netavark` sends every container through
//! netavark. atomic keeps its own network definitions, address allocations and netavark state
//! under the store root, apart from Podman's.
//!
//! - [`ports`]: `-p`/`--expose`/`-P` as netavark's port mappings; [`probe`]: free host ports;
//! - [`store`]: network definitions and allocations (addresses, host ports), under a lock;
//! - [`netns`]: a container's network namespace kept as a file;
//! - [`builtin`]: the built-in bridge driver, over [`ifaces`] (bridge, veth pair, address,
//!   route, in-process) and [`firewall`] (the rules, rendered and applied);
//! - [`netavark`]: the program's command line; [`config`]: its JSON;
//! - [`etcfiles`]: `/etc/hosts` and `/etc/resolv.conf` as docker writes them;
//! - [`attach`]: a container's network planned at create (its driver chosen), up at start,
//!   down at exit;
//! - [`links`]: `--link`'s `/etc/hosts` entries.

pub mod attach;
pub mod builtin;
pub mod config;
pub mod etcfiles;
pub mod firewall;
pub mod ifaces;
pub mod links;
pub mod netavark;
pub mod netns;
pub mod ports;
pub mod probe;
pub mod store;

pub use attach::{Attachment, Endpoint, NetworkDriver};
pub use config::Network;
pub use store::{DEFAULT_NETWORK, DEFAULT_SUBNET, Networks, NewNetwork};

//! The built-in bridge driver's links and addresses, over netlink in-process (rtnetlink): the
//! bridge with the gateway's address, a veth pair from it into the container's namespace, the
//! container's address and default route. What netavark does for a bridge network, without a
//! program to start.
//!
//! The work runs in a thread of its own with a current-thread tokio runtime (atomic's own
//! runtime may be the caller's): first on the host, then, once the thread has entered the
//! container's namespace (setns(2) on the namespace file), on a netlink socket opened there.
//! The thread ends there: nothing else ever runs in that namespace.
//!
//! No veth is deleted at teardown: deleting a link waits for the kernel's RCU grace periods
//! (20-50 ms each here, more than everything else together). The veth pair goes with the
//! container's namespace, which the kernel tears down in the background once its file is
//! unmounted; the host store's bridges stay, as Docker's `docker0` does, and another store's
//! go with their last container ([`remove_bridge`], called by the driver). A bridge left by a
//! store that is gone is replaced when a new one needs its subnet ([`up`]).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

/// errno values netlink answers with, told apart here.
const ENOENT: i32 = 2;
const ENODEV: i32 = 19;
const EEXIST: i32 = 17;

/// A container's endpoint as the links see it.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// The network's bridge on the host.
    pub bridge: String,
    pub gateway: Ipv4Addr,
    pub prefix_len: u8,
    /// The host end of the veth pair.
    pub host_veth: String,
    /// The container's namespace file.
    pub netns: PathBuf,
    /// The container end's name (`eth0`).
    pub interface: String,
    pub ip: Ipv4Addr,
    /// `--mac-address`; else the kernel picks one.
    pub mac: Option<[u8; 6]>,
}

/// The thread that does netlink work, with its runtime.
fn in_thread<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    std::thread::Builder::new()
        .name("netlink".into())
        .spawn(work)
        .context("starting a thread for network links")?
        .join()
        .map_err(|_| anyhow!("the thread setting up network links failed"))?
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("starting a netlink runtime")
}

/// A netlink connection in the calling thread's network namespace, served by `rt`.
fn connect(rt: &tokio::runtime::Runtime) -> Result<Handle> {
    let _guard = rt.enter();
    let (connection, handle, _) =
        rtnetlink::new_connection().context("opening a netlink socket")?;
    rt.spawn(connection);
    Ok(handle)
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

/// A netlink error as a person reads it (`File exists`, `Operation not permitted`).
fn describe(e: rtnetlink::Error) -> anyhow::Error {
    match errno(&e) {
        Some(code) if code > 0 => anyhow!(std::io::Error::from_raw_os_error(code)),
        _ => anyhow!(e),
    }
}

/// The link called `name`, None when there is none.
async fn link_by_name(handle: &Handle, name: &str) -> Result<Option<LinkMessage>> {
    match handle
        .link()
        .get()
        .match_name(name.to_string())
        .execute()
        .try_next()
        .await
    {
        Ok(found) => Ok(found),
        Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
        Err(e) => Err(describe(e)).with_context(|| format!("looking up link {name}")),
    }
}

fn mac_of(link: &LinkMessage) -> String {
    link.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(bytes) => Some(
                bytes
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

/// The bridge's index; made (up, with the gateway's address) when missing.
async fn ensure_bridge(handle: &Handle, w: &Wiring) -> Result<u32> {
    if let Some(link) = link_by_name(handle, &w.bridge).await? {
        return Ok(link.header.index);
    }
    let subnet = Ipv4Net::new(w.gateway, w.prefix_len)
        .with_context(|| format!("{}/{} is not a subnet", w.gateway, w.prefix_len))?
        .trunc();
    clear_subnet(handle, subnet, &w.bridge).await?;
    let made = handle
        .link()
        .add(LinkBridge::new(&w.bridge).build())
        .execute()
        .await;
    match made {
        Ok(()) => {}
        // Made since we looked (another atomic of this store): it is there.
        Err(e) if errno(&e) == Some(EEXIST) => {}
        Err(e) => {
            return Err(describe(e)).with_context(|| format!("creating the bridge {}", w.bridge));
        }
    }
    let link = link_by_name(handle, &w.bridge)
        .await?
        .with_context(|| format!("the bridge {} vanished as it was made", w.bridge))?;
    let index = link.header.index;
    let added = handle
        .address()
        .add(index, IpAddr::V4(w.gateway), w.prefix_len)
        .execute()
        .await;
    match added {
        Ok(()) => {}
        Err(e) if errno(&e) == Some(EEXIST) => {}
        Err(e) => {
            return Err(describe(e)).with_context(|| {
                format!("giving the bridge {} the address {}", w.bridge, w.gateway)
            });
        }
    }
    Ok(index)
}

/// Before a new bridge takes `subnet`: an idle bridge of atomic's that holds an overlapping
/// one (left by a store that is gone) is removed; any other interface holding one is an
/// error that names it.
async fn clear_subnet(handle: &Handle, subnet: Ipv4Net, bridge: &str) -> Result<()> {
    let mut addresses = handle.address().get().execute();
    let mut holders = Vec::new();
    while let Some(a) = addresses.try_next().await.map_err(describe)? {
        if a.header.family != AddressFamily::Inet {
            continue;
        }
        let held = a.attributes.iter().find_map(|attr| match attr {
            AddressAttribute::Local(IpAddr::V4(ip)) | AddressAttribute::Address(IpAddr::V4(ip)) => {
                Ipv4Net::new(*ip, a.header.prefix_len).ok()
            }
            _ => None,
        });
        if let Some(held) = held.map(|h| h.trunc())
            && (held.contains(&subnet.network()) || subnet.contains(&held.network()))
            && !holders.contains(&a.header.index)
        {
            holders.push(a.header.index);
        }
    }
    for index in holders {
        let Some(link) = handle
            .link()
            .get()
            .match_index(index)
            .execute()
            .try_next()
            .await
            .map_err(describe)?
        else {
            continue;
        };
        let name = link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_default();
        if name.starts_with("atomic") && is_bridge(&link) && !has_ports(handle, index).await? {
            tracing::info!("removing the idle bridge {name}: its subnet is now {bridge}'s");
            match handle.link().del(index).execute().await {
                Ok(()) => continue,
                Err(e) if errno(&e) == Some(ENODEV) => continue,
                Err(e) => {
                    return Err(describe(e))
                        .with_context(|| format!("removing the idle bridge {name}"));
                }
            }
        }
        bail!(
            "the subnet {subnet} of bridge {bridge} overlaps an address of interface {name}; \
             give the network another subnet (atomic.conf default_network_subnet, or \
             network create --subnet)"
        );
    }
    Ok(())
}

fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| {
            matches!(
                i,
                rtnetlink::packet_route::link::LinkInfo::Kind(InfoKind::Bridge)
            )
        }),
        _ => false,
    })
}

/// Whether any interface is on the bridge with this index.
async fn has_ports(handle: &Handle, bridge: u32) -> Result<bool> {
    let mut links = handle.link().get().execute();
    while let Some(link) = links.try_next().await.map_err(describe)? {
        let on_bridge = link
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::Controller(c) if *c == bridge));
        if on_bridge {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Forget what the host knew of the container's address on the bridge: the address may have
/// been another container's a moment ago (addresses are reused, the bridge stays), and the
/// host would go on sending to that one's MAC address until its entry expired.
async fn forget_neighbour(handle: &Handle, bridge: u32, ip: Ipv4Addr) -> Result<()> {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Inet;
    message.header.ifindex = bridge;
    message
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    match handle.neighbours().del(message).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(ENOENT) => Ok(()),
        Err(e) => Err(describe(e)).with_context(|| format!("forgetting the neighbour {ip}")),
    }
}

/// Delete the link `name` if there is one.
async fn delete_link(handle: &Handle, name: &str) -> Result<()> {
    let Some(link) = link_by_name(handle, name).await? else {
        return Ok(());
    };
    match handle.link().del(link.header.index).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(ENODEV) => Ok(()),
        Err(e) => Err(describe(e)).with_context(|| format!("removing the link {name}")),
    }
}

/// The veth pair: the host end on the bridge and up, the other end made in the container's
/// namespace under its final name (one message: nothing to rename or move afterwards).
async fn add_veth(handle: &Handle, w: &Wiring, bridge: u32, netns: &std::fs::File) -> Result<()> {
    use std::os::fd::AsRawFd;
    let message = || {
        let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(w.interface.clone())
            .setns_by_fd(netns.as_raw_fd());
        if let Some(mac) = w.mac {
            peer = peer.address(mac.to_vec());
        }
        LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(w.host_veth.clone())
            .controller(bridge)
            .up()
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
            .build()
    };
    let mut made = handle.link().add(message()).execute().await;
    if matches!(&made, Err(e) if errno(e) == Some(EEXIST)) {
        // The same container's previous pair, its namespace still being torn down by the
        // kernel (a restart): removed now, synchronously.
        delete_link(handle, &w.host_veth).await?;
        made = handle.link().add(message()).execute().await;
    }
    made.map_err(describe).with_context(|| {
        format!(
            "creating the veth pair {} (on {}) / {}",
            w.host_veth, w.bridge, w.interface
        )
    })
}

/// Inside the container's namespace: its address, the interface up (announcing the address:
/// the other containers on the bridge may know it with another MAC address), the default
/// route through the gateway, `lo` up. Returns the interface's MAC address.
async fn configure_inside(handle: &Handle, w: &Wiring) -> Result<String> {
    let link = link_by_name(handle, &w.interface).await?.with_context(|| {
        format!(
            "{} did not arrive in the container's namespace",
            w.interface
        )
    })?;
    let index = link.header.index;
    // A gratuitous ARP when the interface comes up (this thread's /proc/sys/net is the
    // container's namespace's).
    let arp_notify = format!("/proc/sys/net/ipv4/conf/{}/arp_notify", w.interface);
    std::fs::write(&arp_notify, "1").with_context(|| format!("writing {arp_notify}"))?;
    handle
        .address()
        .add(index, IpAddr::V4(w.ip), w.prefix_len)
        .execute()
        .await
        .map_err(describe)
        .with_context(|| {
            format!(
                "giving {} the address {}/{}",
                w.interface, w.ip, w.prefix_len
            )
        })?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(describe)
        .with_context(|| format!("bringing up {}", w.interface))?;
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(w.gateway)
        .output_interface(index)
        .build();
    handle
        .route()
        .add(route)
        .execute()
        .await
        .map_err(describe)
        .with_context(|| format!("adding the default route via {}", w.gateway))?;
    let lo = link_by_name(handle, "lo")
        .await?
        .context("the namespace has no loopback interface")?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(lo.header.index).up().build())
        .execute()
        .await
        .map_err(describe)
        .context("bringing up lo")?;
    Ok(mac_of(&link))
}

/// Bring a container's links up: the bridge (made if missing), the veth pair, the container
/// end's address and route; returns the container end's MAC address. A failure may leave the
/// pair: it goes with the namespace.
pub fn up(w: &Wiring) -> Result<String> {
    let w = w.clone();
    in_thread(move || {
        let netns = std::fs::File::open(&w.netns)
            .with_context(|| format!("opening the network namespace {}", w.netns.display()))?;
        let rt = runtime()?;
        let host = connect(&rt)?;
        rt.block_on(async {
            let bridge = ensure_bridge(&host, &w).await?;
            forget_neighbour(&host, bridge, w.ip).await?;
            add_veth(&host, &w, bridge, &netns).await
        })?;
        // From here on this thread is in the container's namespace; it ends with this
        // closure.
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&netns),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .with_context(|| format!("entering the network namespace {}", w.netns.display()))?;
        let inside = connect(&rt)?;
        rt.block_on(configure_inside(&inside, &w))
    })
}

/// Remove a bridge (with `network delete`, or a test's own); gone already is fine.
pub fn remove_bridge(name: &str) -> Result<()> {
    let name = name.to_string();
    in_thread(move || {
        let rt = runtime()?;
        let handle = connect(&rt)?;
        rt.block_on(delete_link(&handle, &name))
    })
}

/// The host end's name for a container's endpoint: `veth` and the container ID's start
/// (interface names hold 15 bytes).
pub fn host_veth_name(container_id: &str, endpoint: usize) -> String {
    let id = &container_id[..container_id.len().min(8)];
    if endpoint == 0 {
        format!("veth{id}")
    } else {
        format!("veth{id}-{endpoint}")
    }
}

/// `02:42:ac:11:00:02` as bytes.
pub fn parse_mac(text: &str) -> Result<[u8; 6]> {
    let bad = || anyhow!("'{text}' is not a MAC address (like 02:42:ac:11:00:02)");
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| {
            if b.len() == 2 {
                u8::from_str_radix(b, 16).map_err(|_| bad())
            } else {
                Err(bad())
            }
        })
        .collect::<Result<_>>()?;
    let mac: [u8; 6] = bytes.try_into().map_err(|_| bad())?;
    if mac[0] & 1 == 1 {
        bail!("'{text}' is a multicast MAC address; a container needs a unicast one");
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses_and_host_end_names() {
        assert_eq!(
            parse_mac("02:42:0a:60:67:32").unwrap(),
            [0x02, 0x42, 0x0a, 0x60, 0x67, 0x32]
        );
        for bad in [
            "02:42:0a:60:67",
            "02:42:0a:60:67:32:00",
            "zz:42:0a:60:67:32",
            "2:42:a:60:67:32",
        ] {
            assert!(
                parse_mac(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("not a MAC"),
                "{bad}"
            );
        }
        let multicast = parse_mac("01:00:5e:00:00:01").unwrap_err().to_string();
        assert!(multicast.contains("multicast"), "{multicast}");
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(host_veth_name(&id, 0), "veth01234567");
        assert_eq!(host_veth_name(&id, 1), "veth01234567-1");
        // Interface names hold 15 bytes.
        assert!(host_veth_name(&id, 99).len() <= 15);
    }
}

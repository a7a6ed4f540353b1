//! Links, addresses and routes through rtnetlink (no `ip` binary).
//!
//! rtnetlink is async; [`Netlink`] drives it on a small current-thread tokio runtime
//! owned by the caller, so the engine stays synchronous. A netlink socket acts on the
//! network namespace it was created in: [`in_netns`] runs a closure on a fresh thread
//! that first joins a container's namespace, so a [`Netlink`] made there configures
//! the container, while the calling thread (and the host) is never moved.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd};

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{LinkBridge, LinkUnspec, RouteMessageBuilder};

use crate::error::{EngineError, Result};

/// A netlink connection in the namespace of the thread that made it.
pub struct Netlink {
    rt: tokio::runtime::Runtime,
    handle: rtnetlink::Handle,
}

/// The errno inside a netlink error, if it carries one.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

fn nl_err(doing: impl std::fmt::Display, e: rtnetlink::Error) -> EngineError {
    match errno(&e) {
        Some(code) => EngineError::io(doing, std::io::Error::from_raw_os_error(code)),
        None => EngineError::unavailable(format!("{doing}: {e}")),
    }
}

impl Netlink {
    /// Open a connection in the current thread's network namespace.
    pub fn new() -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| EngineError::io("starting the netlink runtime", e))?;
        let handle = rt.block_on(async {
            let (conn, handle, _) = rtnetlink::new_connection()
                .map_err(|e| EngineError::io("opening a netlink socket", e))?;
            tokio::spawn(conn);
            Ok::<_, EngineError>(handle)
        })?;
        Ok(Netlink { rt, handle })
    }

    /// Index of the link named `name`, if it exists.
    pub fn link_index(&self, name: &str) -> Result<Option<u32>> {
        let res = self.rt.block_on(async {
            let mut s = self.handle.link().get().match_name(name).execute();
            s.try_next().await
        });
        match res {
            Ok(Some(m)) => Ok(Some(m.header.index)),
            Ok(None) => Ok(None),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(nl_err(format!("looking up network interface {name}"), e)),
        }
    }

    /// Names of all links of this namespace.
    pub fn link_names(&self) -> Result<Vec<String>> {
        let links: Vec<LinkMessage> = self
            .rt
            .block_on(async { self.handle.link().get().execute().try_collect().await })
            .map_err(|e| nl_err("listing network interfaces", e))?;
        Ok(links
            .iter()
            .filter_map(|m| {
                m.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                })
            })
            .collect())
    }

    /// Make sure bridge `name` exists, holds `gateway/prefix` and is up; returns its index.
    pub fn ensure_bridge(&self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32> {
        let idx = match self.link_index(name)? {
            Some(i) => i,
            None => {
                let msg = LinkBridge::new(name).build();
                self.rt
                    .block_on(self.handle.link().add(msg).execute())
                    .map_err(|e| nl_err(format!("creating bridge {name}"), e))?;
                self.link_index(name)?.ok_or_else(|| {
                    EngineError::internal(format!(
                        "bridge {name} vanished right after its creation"
                    ))
                })?
            }
        };
        let res = self.rt.block_on(
            self.handle
                .address()
                .add(idx, gateway.into(), prefix)
                .execute(),
        );
        match res {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(libc::EEXIST) => {}
            Err(e) => {
                return Err(nl_err(
                    format!("adding address {gateway}/{prefix} to bridge {name}"),
                    e,
                ))
            }
        }
        self.set_up(idx, name)?;
        Ok(idx)
    }

    /// Bring link `idx` up.
    pub fn set_up(&self, idx: u32, name: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(idx).up().build();
        self.rt
            .block_on(self.handle.link().set(msg).execute())
            .map_err(|e| nl_err(format!("bringing {name} up"), e))
    }

    /// Delete link `name`; `Ok(false)` if it did not exist.
    pub fn delete_link(&self, name: &str) -> Result<bool> {
        let Some(idx) = self.link_index(name)? else {
            return Ok(false);
        };
        match self.rt.block_on(self.handle.link().del(idx).execute()) {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(nl_err(format!("deleting network interface {name}"), e)),
        }
    }

    /// Create a veth pair: `host` here, enslaved to bridge `bridge_idx` and up; its
    /// peer created directly inside the namespace `netns` as `peer` with `mac`.
    pub fn add_veth(
        &self,
        host: &str,
        bridge_idx: u32,
        peer: &str,
        netns: &File,
        mac: [u8; 6],
    ) -> Result<()> {
        let peer_msg = LinkUnspec::new_with_name(peer)
            .address(mac.to_vec())
            .setns_by_fd(netns.as_fd().as_raw_fd())
            .build();
        let mut msg = LinkUnspec::new_with_name(host)
            .controller(bridge_idx)
            .up()
            .build();
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.rt
            .block_on(self.handle.link().add(msg).execute())
            .map_err(|e| nl_err(format!("creating veth pair {host}/{peer}"), e))
    }

    /// Inside a container: bring `lo` up.
    pub fn loopback_up(&self) -> Result<()> {
        let idx = self
            .link_index("lo")?
            .ok_or_else(|| EngineError::internal("the namespace has no lo interface"))?;
        self.set_up(idx, "lo")
    }

    /// Inside a container: give `ifname` its address, bring it up, and (with `gateway`)
    /// route everything through it.
    pub fn configure_interface(
        &self,
        ifname: &str,
        ip: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
    ) -> Result<()> {
        let idx = self.link_index(ifname)?.ok_or_else(|| {
            EngineError::internal(format!(
                "interface {ifname} did not arrive in the container"
            ))
        })?;
        self.rt
            .block_on(self.handle.address().add(idx, ip.into(), prefix).execute())
            .map_err(|e| nl_err(format!("adding address {ip}/{prefix} to {ifname}"), e))?;
        self.set_up(idx, ifname)?;
        if let Some(gw) = gateway {
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(idx)
                .build();
            self.rt
                .block_on(self.handle.route().add(route).execute())
                .map_err(|e| nl_err(format!("adding the default route via {gw}"), e))?;
        }
        Ok(())
    }

    /// Every IPv4 route destination of every table, default routes left out: what a
    /// new subnet must not overlap.
    pub fn route_prefixes(&self) -> Result<Vec<Ipv4Net>> {
        let mut req = RouteMessageBuilder::<Ipv4Addr>::new().build();
        req.header.table = 0; // all tables
        req.header.address_family = AddressFamily::Inet;
        let routes: Vec<_> = self
            .rt
            .block_on(async {
                self.handle
                    .route()
                    .get(req)
                    .execute()
                    .try_collect::<Vec<_>>()
                    .await
            })
            .map_err(|e| nl_err("listing routes", e))?;
        let mut out = Vec::new();
        for r in routes {
            let len = r.header.destination_prefix_length;
            if len == 0 {
                continue;
            }
            for a in &r.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet(ip)) = a {
                    if let Ok(n) = Ipv4Net::new(*ip, len) {
                        out.push(n.trunc());
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `(dev, inode)` of a network namespace file: its identity.
pub fn ns_id(f: &File) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let md = f
        .metadata()
        .map_err(|e| EngineError::io("reading a network namespace", e))?;
    Ok((md.dev(), md.ino()))
}

/// Open the network namespace of `pid`.
pub fn open_netns(pid: i32) -> Result<File> {
    File::open(format!("/proc/{pid}/ns/net")).map_err(|e| {
        EngineError::io(
            format!("opening the network namespace of process {pid} (has the container exited?)"),
            e,
        )
    })
}

/// The network namespace of the calling thread.
pub fn own_netns() -> Result<File> {
    File::open("/proc/thread-self/ns/net")
        .map_err(|e| EngineError::io("opening this thread's network namespace", e))
}

/// Run `f` on a new thread that has joined the network namespace `netns`; the calling
/// thread stays where it is. The helper thread ends with `f`.
pub fn in_netns<T: Send + 'static>(
    netns: &File,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let fd = netns
        .try_clone()
        .map_err(|e| EngineError::io("duplicating a namespace descriptor", e))?;
    std::thread::Builder::new()
        .name("wharf-netns".into())
        .spawn(move || {
            nix::sched::setns(fd.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| EngineError::sys("joining a container's network namespace", e))?;
            f()
        })
        .map_err(|e| EngineError::io("starting a thread for a network namespace", e))?
        .join()
        .map_err(|_| EngineError::internal("the network namespace helper thread panicked"))?
}

/// Write a sysctl of the calling thread's network namespace (`net/ipv4/ip_forward`).
pub fn write_sysctl(key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{key}");
    std::fs::write(&path, value)
        .map_err(|e| EngineError::io(format!("setting {key} to {value}"), e))
}

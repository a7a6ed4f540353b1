//! Netlink requests sent as one batch: every message in one `send`, then the kernel's
//! acknowledgements read back, so setting up a container's interface costs one round
//! trip on each side of the veth instead of one per step (and no async runtime).
//!
//! The kernel handles the messages of a batch one after another and acknowledges each;
//! the first refusal is the batch's error, naming the step it refused.

use std::os::fd::{AsFd, AsRawFd};

use rtnetlink::packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{EngineError, Result};

/// Flags of a request that creates something new.
pub const CREATE: u16 = NLM_F_CREATE | NLM_F_EXCL;

/// A route-netlink socket in the network namespace of the thread that made it.
pub struct NlSocket {
    sock: Socket,
    seq: u32,
}

impl NlSocket {
    /// A socket in the calling thread's network namespace.
    pub fn new() -> Result<Self> {
        let mut sock = Socket::new(NETLINK_ROUTE)
            .map_err(|e| EngineError::io("opening a netlink socket", e))?;
        sock.bind_auto()
            .map_err(|e| EngineError::io("binding a netlink socket", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| EngineError::io("connecting a netlink socket", e))?;
        Ok(NlSocket { sock, seq: 0 })
    }

    /// A socket in the network namespace `netns` (made on a short-lived thread that
    /// joins it: the calling thread never moves). The socket keeps acting there.
    pub fn in_netns(netns: &std::fs::File) -> Result<Self> {
        let fd = netns
            .try_clone()
            .map_err(|e| EngineError::io("duplicating a namespace descriptor", e))?;
        std::thread::Builder::new()
            .name("wharf-netns".into())
            .spawn(move || {
                nix::sched::setns(fd.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| EngineError::sys("joining a container's network namespace", e))?;
                NlSocket::new()
            })
            .map_err(|e| EngineError::io("starting a thread for a network namespace", e))?
            .join()
            .map_err(|_| EngineError::internal("the network namespace helper thread panicked"))?
    }

    /// Send `batch` in one write and wait for every acknowledgement; the first
    /// refusal is the error, naming its step.
    pub fn run(&mut self, batch: &Batch) -> Result<()> {
        let codes = self.send(batch)?;
        match codes.iter().position(Option::is_some) {
            None => Ok(()),
            Some(i) => Err(EngineError::io(
                batch.msgs[i].2.clone(),
                std::io::Error::from_raw_os_error(codes[i].unwrap_or(libc::EIO)),
            )),
        }
    }

    /// Send `batch` in one write; the errno the kernel answered each request with
    /// (`None`: done).
    pub fn send(&mut self, batch: &Batch) -> Result<Vec<Option<i32>>> {
        self.exchange(batch)
            .map(|r| r.into_iter().map(|(c, _)| c).collect())
    }

    /// The index of link `name` in this socket's namespace, if it exists.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.get_link(name)?.map(|l| l.0))
    }

    /// The index of the other end of veth `name` (in the namespace that end is in),
    /// if `name` exists and has one.
    pub fn veth_peer_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.get_link(name)?.and_then(|l| l.1))
    }

    /// Link `name`: its index and the index of the link it is tied to (a veth's peer).
    fn get_link(&mut self, name: &str) -> Result<Option<(u32, Option<u32>)>> {
        let mut b = Batch::default();
        let msg = rtnetlink::LinkUnspec::new_with_name(name).build();
        b.push(
            RouteNetlinkMessage::GetLink(msg),
            0,
            format!("looking up network interface {name}"),
        );
        let r = self.exchange(&b)?;
        match r.first() {
            Some((None, Some(link))) => Ok(Some(*link)),
            Some((Some(code), _)) if *code == libc::ENODEV => Ok(None),
            Some((Some(code), _)) => Err(EngineError::io(
                format!("looking up network interface {name}"),
                std::io::Error::from_raw_os_error(*code),
            )),
            _ => Ok(None),
        }
    }

    /// Send `batch` in one write: per request, the errno it was refused with and the
    /// link a `GetLink` answered (its index, and the index of the link it is tied to).
    #[allow(clippy::type_complexity)]
    fn exchange(
        &mut self,
        batch: &Batch,
    ) -> Result<Vec<(Option<i32>, Option<(u32, Option<u32>)>)>> {
        let mut codes = vec![(None, None); batch.msgs.len()];
        if batch.msgs.is_empty() {
            return Ok(codes);
        }
        let first = self.seq.wrapping_add(1);
        let mut buf = Vec::new();
        for (msg, flags, _) in &batch.msgs {
            self.seq = self.seq.wrapping_add(1);
            let mut m = NetlinkMessage::new(
                NetlinkHeader::default(),
                NetlinkPayload::InnerMessage(msg.clone()),
            );
            m.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
            m.header.sequence_number = self.seq;
            m.finalize();
            let at = buf.len();
            buf.resize(at + m.buffer_len(), 0);
            m.serialize(&mut buf[at..]);
        }
        self.sock
            .send(&buf, 0)
            .map_err(|e| EngineError::io("sending a netlink batch", e))?;
        let n = batch.msgs.len();
        let mut acked = 0;
        let mut rbuf = vec![0u8; 16 * 1024];
        while acked < n {
            // SAFETY: recv(2) into a buffer we own, with its length.
            let got = unsafe {
                libc::recv(
                    self.sock.as_raw_fd(),
                    rbuf.as_mut_ptr().cast(),
                    rbuf.len(),
                    0,
                )
            };
            if got < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(EngineError::io("reading netlink acknowledgements", e));
            }
            let mut off = 0usize;
            let got = got as usize;
            while off + 16 <= got {
                let len =
                    u32::from_ne_bytes([rbuf[off], rbuf[off + 1], rbuf[off + 2], rbuf[off + 3]])
                        as usize;
                if len < 16 || off + len > got {
                    break;
                }
                let parsed =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rbuf[off..off + len]);
                off += (len + 3) & !3;
                let Ok(m) = parsed else { continue };
                let i = m.header.sequence_number.wrapping_sub(first) as usize;
                match m.payload {
                    NetlinkPayload::Error(err) => {
                        acked += 1;
                        if let (Some(code), Some(slot)) = (err.code, codes.get_mut(i)) {
                            slot.0 = Some(-code.get());
                        }
                    }
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                        if let Some(slot) = codes.get_mut(i) {
                            use rtnetlink::packet_route::link::LinkAttribute;
                            let tied = l.attributes.iter().find_map(|a| match a {
                                LinkAttribute::Link(i) => Some(*i),
                                _ => None,
                            });
                            slot.1 = Some((l.header.index, tied));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(codes)
    }
}

/// Requests to send together, each with what it does (for errors).
#[derive(Default)]
pub struct Batch {
    msgs: Vec<(RouteNetlinkMessage, u16, String)>,
}

impl Batch {
    /// Add a request with extra header `flags` (beyond request and ack).
    pub fn push(&mut self, msg: RouteNetlinkMessage, flags: u16, what: impl Into<String>) {
        self.msgs.push((msg, flags, what.into()));
    }

    /// How many requests it holds.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// Does it hold none?
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }
}

/// Create a veth pair: `host` enslaved to bridge `bridge_idx` and up; its peer made
/// directly in the namespace `netns_fd` as `peer` with `mac`, down: the container's
/// side brings it up with its address ([`link_up`]); a peer created up is refused
/// (ENOTCONN: it is opened before it knows its other end). The kernel chooses the
/// peer's index (it takes one given only with the host end's index as well):
/// [`NlSocket::veth_peer_index`] tells it.
pub fn veth(
    host: &str,
    bridge_idx: u32,
    peer: &str,
    netns_fd: std::os::fd::RawFd,
    mac: [u8; 6],
) -> RouteNetlinkMessage {
    use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo};
    let peer_msg = rtnetlink::LinkUnspec::new_with_name(peer)
        .address(mac.to_vec())
        .setns_by_fd(netns_fd)
        .build();
    let mut msg = rtnetlink::LinkUnspec::new_with_name(host)
        .controller(bridge_idx)
        .up()
        .build();
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
    ]));
    RouteNetlinkMessage::NewLink(msg)
}

/// Delete link `name` (by name: no lookup first; ENODEV if it is not there).
pub fn del_link(name: &str) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelLink(rtnetlink::LinkUnspec::new_with_name(name).build())
}

/// Bring link `index` up.
pub fn link_up(index: u32) -> RouteNetlinkMessage {
    RouteNetlinkMessage::SetLink(rtnetlink::LinkUnspec::new_with_index(index).up().build())
}

/// Give link `index` the address `ip/prefix` (with [`CREATE`]).
pub fn add_addr(index: u32, ip: std::net::Ipv4Addr, prefix: u8) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewAddress(
        rtnetlink::AddressMessageBuilder::<std::net::Ipv4Addr>::new()
            .index(index)
            .address(ip, prefix)
            .build(),
    )
}

/// The default route via `gw` out of link `index` (with [`CREATE`]).
pub fn default_route(index: u32, gw: std::net::Ipv4Addr) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewRoute(
        rtnetlink::RouteMessageBuilder::<std::net::Ipv4Addr>::new()
            .gateway(gw)
            .output_interface(index)
            .build(),
    )
}

/// The loopback interface's index in every network namespace.
pub const LOOPBACK: u32 = 1;

//! Links (RTM_*LINK): what patchwire needs to know about an interface, and the few changes it
//! makes (MTU, up/down, and for the demo and tests: veth pairs and bridges).

use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo as Info,
    LinkMessage, Prop,
};
use serde::Serialize;

use netlink_packet_core::{DefaultNla, NlasIterator};

use super::{NlError, RawReply, RouteSocket};

/// Interface index, as the kernel numbers interfaces inside one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IfIndex(pub u32);

impl std::fmt::Display for IfIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The kernel limit on interface names (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// What patchwire reads about one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The interface's index.
    pub index: IfIndex,
    /// The interface's name.
    pub name: String,
    /// `veth`, `tun`, `vxlan`, `bridge`…; `None` for physical NICs and loopback.
    pub kind: Option<String>,
    /// The MTU.
    pub mtu: u32,
    /// The smallest MTU the driver accepts (0 when the kernel does not say).
    pub min_mtu: u32,
    /// The largest MTU the driver accepts (0 when the kernel does not say).
    pub max_mtu: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Lower layer up (IFF_LOWER_UP): a veth whose peer is down, or a tap nobody holds, has none.
    pub carrier: bool,
    /// Operational state UP (RFC 2863), set by the kernel's linkwatch shortly *after* carrier
    /// comes up — only then is the device's transmit qdisc active.
    pub oper_up: bool,
    /// The loopback device (IFF_LOOPBACK).
    pub loopback: bool,
    /// The hardware address; `None` for a device without one (a tun, a layer-3 tunnel).
    pub mac: Option<[u8; 6]>,
    /// For a veth: the peer's index, in the namespace named by `peer_netnsid` (or this one).
    pub peer: Option<IfIndex>,
    /// The namespace id (relative to this namespace) of the peer, when it lives elsewhere.
    pub peer_netnsid: Option<i32>,
    /// Bridge (or other controller) this interface is enslaved to.
    pub master: Option<IfIndex>,
    /// For tun/tap devices: their flags and whether a process holds them.
    pub tun: Option<TunInfo>,
    /// The interface's description (`ip link set dev X alias TEXT`).
    pub alias: Option<String>,
    /// Alternative names (`ip link property add dev X altname NAME`).
    pub altnames: Vec<String>,
    /// ARP turned off (IFF_NOARP, `ip link set dev X arp off`).
    pub noarp: bool,
    /// IPv6 on this interface: `Some(true)` when enabled (it then sends router solicitations,
    /// MLD reports and neighbour discovery of its own), `Some(false)` when disabled
    /// (`net.ipv6.conf.X.disable_ipv6 = 1`), `None` when the kernel has no IPv6 here.
    pub ipv6: Option<bool>,
    /// The transmit queue length (`qlen`). 0 on veths some tools make (the CNI plugins); the
    /// kernel raises it to 1000 when a clsact qdisc is added, so patchwire puts 0 back.
    pub txqlen: u32,
}

/// An up veth with carrier, IPv6 off and nothing else set: the base unit tests vary.
#[cfg(test)]
pub(crate) fn test_veth(name: &str) -> Link {
    Link {
        index: IfIndex(1),
        name: name.into(),
        kind: Some("veth".into()),
        mtu: 1500,
        min_mtu: 68,
        max_mtu: 65535,
        up: true,
        carrier: true,
        oper_up: true,
        loopback: false,
        mac: Some([2, 0, 0, 0, 0, 1]),
        peer: None,
        peer_netnsid: None,
        master: None,
        tun: None,
        alias: None,
        altnames: Vec::new(),
        noarp: false,
        ipv6: Some(false),
        txqlen: 1000,
    }
}

/// What the kernel says about a tun/tap device (IFLA_INFO_DATA of kind "tun").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TunInfo {
    /// A tap (Ethernet frames) rather than a layer-3 tun.
    pub tap: bool,
    /// Frames carry a virtio-net header (IFF_VNET_HDR; qemu `vnet_hdr=on`).
    pub vnet_hdr: bool,
    /// Several queues can be attached (IFF_MULTI_QUEUE; qemu `queues=N`).
    pub multi_queue: bool,
    /// It stays when its last holder closes it (TUNSETPERSIST).
    pub persist: bool,
    /// The user (uid) allowed to open it, when one is set.
    pub owner: Option<u32>,
    /// The group (gid) allowed to open it, when one is set.
    pub group: Option<u32>,
    /// A process (qemu) holds at least one queue: the tap's carrier is on even while it is down.
    pub attached: bool,
}

impl Link {
    /// A veth (kind `veth`).
    pub fn is_veth(&self) -> bool {
        self.kind.as_deref() == Some("veth")
    }
    /// A tap (a tun device in tap mode).
    pub fn is_tap(&self) -> bool {
        self.tun.as_ref().is_some_and(|t| t.tap)
    }

    /// A layer-3 tun device: no Ethernet header, so it cannot be a wire end.
    pub fn is_l3_tun(&self) -> bool {
        self.tun.as_ref().is_some_and(|t| !t.tap)
    }
}

// Attribute numbers of the few IFLA_* attributes patchwire reads (linux/if_link.h).
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_TXQLEN: u16 = 13;
const IFLA_IFALIAS: u16 = 20;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_CARRIER: u16 = 33;
const IFLA_TUN_OWNER: u16 = 1;
const IFLA_TUN_GROUP: u16 = 2;
const IFLA_TUN_TYPE: u16 = 3;
const IFLA_TUN_VNET_HDR: u16 = 5;
const IFLA_TUN_PERSIST: u16 = 6;
const IFLA_TUN_MULTI_QUEUE: u16 = 7;
const IFF_TAP: u8 = 2;
const IFLA_LINK_NETNSID: u16 = 37;
const IFLA_MIN_MTU: u16 = 50;
const IFLA_MAX_MTU: u16 = 51;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_PROP_LIST: u16 = 52;
const IFLA_ALT_IFNAME: u16 = 53;
const AF_INET6: u16 = 10;
const IFLA_INET6_CONF: u16 = 2;
/// Index of DEVCONF_DISABLE_IPV6 in IFLA_INET6_CONF's array of 32-bit values (linux/ipv6.h).
const DEVCONF_DISABLE_IPV6: usize = 26;
const IF_OPER_UP: u8 = 6;
const RTM_NEWLINK: u16 = 16;
/// nlmsghdr (16 bytes) + ifinfomsg (16 bytes).
const ATTRIBUTES_AT: usize = 32;

impl Link {
    /// Reads an RTM_NEWLINK message (netlink header included), picking out only the attributes
    /// patchwire uses. A link message is mostly statistics and per-protocol configuration;
    /// parsing all of it dominated the cost of looking up thousands of wire ends.
    pub fn parse(raw: &[u8]) -> Result<Link, NlError> {
        let bad = |what: &str| NlError::Decode(format!("link message: {what}"));
        if raw.len() < ATTRIBUTES_AT || u16::from_ne_bytes([raw[4], raw[5]]) != RTM_NEWLINK {
            return Err(bad("not an RTM_NEWLINK message"));
        }
        let word = |at: usize| u32::from_ne_bytes(raw[at..at + 4].try_into().expect("4 bytes"));
        let flags = LinkFlags::from_bits_retain(word(24));
        let mut link = Link {
            index: IfIndex(word(20)),
            name: String::new(),
            kind: None,
            mtu: 0,
            min_mtu: 0,
            max_mtu: 0,
            up: flags.contains(LinkFlags::Up),
            carrier: flags.contains(LinkFlags::LowerUp),
            oper_up: false,
            loopback: flags.contains(LinkFlags::Loopback),
            mac: None,
            peer: None,
            peer_netnsid: None,
            master: None,
            tun: None,
            alias: None,
            altnames: Vec::new(),
            noarp: flags.contains(LinkFlags::Noarp),
            ipv6: None,
            txqlen: 0,
        };
        let u32_of = |value: &[u8]| {
            value
                .get(..4)
                .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
        };
        let mut lower = None;
        let mut carrier = false;
        let mut info_data = Vec::new();
        for nla in NlasIterator::new(&raw[ATTRIBUTES_AT..]) {
            let nla = nla.map_err(|e| bad(&e.to_string()))?;
            let value = nla.value();
            match nla.kind() {
                IFLA_IFNAME => link.name = c_string(value),
                IFLA_IFALIAS => link.alias = Some(c_string(value)).filter(|a| !a.is_empty()),
                IFLA_MTU => link.mtu = u32_of(value).unwrap_or(0),
                IFLA_TXQLEN => link.txqlen = u32_of(value).unwrap_or(0),
                IFLA_MIN_MTU => link.min_mtu = u32_of(value).unwrap_or(0),
                IFLA_MAX_MTU => link.max_mtu = u32_of(value).unwrap_or(0),
                IFLA_ADDRESS => link.mac = value.try_into().ok(),
                IFLA_LINK => lower = u32_of(value).map(IfIndex),
                IFLA_LINK_NETNSID => link.peer_netnsid = u32_of(value).map(|v| v as i32),
                IFLA_MASTER => link.master = u32_of(value).map(IfIndex),
                IFLA_OPERSTATE => link.oper_up = value.first() == Some(&IF_OPER_UP),
                IFLA_CARRIER => carrier = value.first() == Some(&1),
                IFLA_PROP_LIST => {
                    link.altnames = NlasIterator::new(value)
                        .flatten()
                        .filter(|p| p.kind() == IFLA_ALT_IFNAME)
                        .map(|p| c_string(p.value()))
                        .collect()
                }
                IFLA_AF_SPEC => link.ipv6 = ipv6_enabled(value),
                IFLA_LINKINFO => {
                    for info in NlasIterator::new(value).flatten() {
                        match info.kind() {
                            IFLA_INFO_KIND => link.kind = Some(c_string(info.value())),
                            IFLA_INFO_DATA => info_data = info.value().to_vec(),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if link.kind.as_deref() == Some("tun") {
            link.tun = Some(tun_info(&info_data, carrier));
        }
        if link.is_veth() {
            link.peer = lower;
        } else {
            link.peer_netnsid = None;
        }
        Ok(link)
    }
}

/// Whether IPv6 is enabled, from IFLA_AF_SPEC (`None` when it holds no AF_INET6 part).
fn ipv6_enabled(af_spec: &[u8]) -> Option<bool> {
    let inet6 = NlasIterator::new(af_spec)
        .flatten()
        .find(|family| family.kind() == AF_INET6)?;
    let conf = NlasIterator::new(inet6.value())
        .flatten()
        .find(|nla| nla.kind() == IFLA_INET6_CONF)?;
    let at = DEVCONF_DISABLE_IPV6 * 4;
    let disabled = conf.value().get(at..at + 4)?;
    Some(i32::from_ne_bytes(disabled.try_into().expect("4 bytes")) == 0)
}

fn tun_info(data: &[u8], carrier: bool) -> TunInfo {
    let mut info = TunInfo {
        attached: carrier,
        ..TunInfo::default()
    };
    for nla in NlasIterator::new(data).flatten() {
        let value = nla.value();
        let flag = value.first().is_some_and(|b| *b != 0);
        let number = value
            .get(..4)
            .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")));
        match nla.kind() {
            IFLA_TUN_TYPE => info.tap = value.first() == Some(&IFF_TAP),
            IFLA_TUN_VNET_HDR => info.vnet_hdr = flag,
            IFLA_TUN_PERSIST => info.persist = flag,
            IFLA_TUN_MULTI_QUEUE => info.multi_queue = flag,
            IFLA_TUN_OWNER => info.owner = number,
            IFLA_TUN_GROUP => info.group = number,
            _ => {}
        }
    }
    info
}

fn c_string(bytes: &[u8]) -> String {
    let text = bytes.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(text).into_owned()
}

/// `ip link show dev NAME` (statistics skipped: they are most of a link message's bytes).
pub fn get_by_name(name: &str) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    message
        .attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    RouteNetlinkMessage::GetLink(message)
}

/// `ip link show` for one index.
pub fn get_by_index(index: IfIndex) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    message
        .attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    RouteNetlinkMessage::GetLink(message)
}

/// `ip link show` for a whole namespace.
pub fn dump() -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    RouteNetlinkMessage::GetLink(message)
}

/// `ip link set dev INDEX mtu MTU`.
pub fn set_mtu(index: IfIndex, mtu: u32) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    message.attributes.push(LinkAttribute::Mtu(mtu));
    RouteNetlinkMessage::SetLink(message)
}

/// `ip link set dev INDEX txqueuelen LEN`.
pub fn set_txqlen(index: IfIndex, len: u32) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    message.attributes.push(LinkAttribute::TxQueueLen(len));
    RouteNetlinkMessage::SetLink(message)
}

/// `ip link set dev INDEX up|down`.
pub fn set_up(index: IfIndex, up: bool) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    message.header.change_mask = LinkFlags::Up;
    if up {
        message.header.flags = LinkFlags::Up;
    }
    RouteNetlinkMessage::SetLink(message)
}

/// `ip link set dev INDEX alias TEXT up|down` in one request (an empty text clears the alias).
pub fn set_alias_and_up(index: IfIndex, alias: &str, up: bool) -> RouteNetlinkMessage {
    let RouteNetlinkMessage::SetLink(mut message) = set_up(index, up) else {
        unreachable!("set_up builds a SetLink")
    };
    // A zero-length IFLA_IFALIAS removes the alias; a string attribute would leave "\0".
    let value = alias.as_bytes().to_vec();
    message
        .attributes
        .push(LinkAttribute::Other(DefaultNla::new(IFLA_IFALIAS, value)));
    RouteNetlinkMessage::SetLink(message)
}

/// `ip link property add|del dev INDEX altname NAME`.
pub fn altname(index: IfIndex, name: &str, add: bool) -> (RouteNetlinkMessage, u16) {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    message
        .attributes
        .push(LinkAttribute::PropList(vec![Prop::AltIfName(name.into())]));
    match add {
        true => (
            RouteNetlinkMessage::NewLinkProp(message),
            NLM_F_CREATE | NLM_F_EXCL,
        ),
        false => (RouteNetlinkMessage::DelLinkProp(message), 0),
    }
}

/// `ip link set dev INDEX master MASTER`.
pub fn set_master(index: IfIndex, master: IfIndex) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    message.attributes.push(LinkAttribute::Controller(master.0));
    RouteNetlinkMessage::SetLink(message)
}

/// `ip link set dev INDEX group GROUP`.
pub fn set_group(index: IfIndex, group: u32) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    message.attributes.push(LinkAttribute::Group(group));
    RouteNetlinkMessage::SetLink(message)
}

/// `ip link del group GROUP`: every interface of the group in one request — the kernel then
/// unregisters them together and waits for one RCU grace period instead of one per device.
pub fn delete_group(group: u32) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::Group(group));
    RouteNetlinkMessage::DelLink(message)
}

/// `ip link del dev INDEX`.
pub fn delete(index: IfIndex) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    RouteNetlinkMessage::DelLink(message)
}

/// `ip link add NAME type veth peer name PEER netns PEER_NS`: the first end stays in the
/// socket's namespace, the peer goes to `peer_netns` (or stays too, when `None`).
pub fn add_veth(
    name: &str,
    peer: &str,
    peer_netns: Option<BorrowedFd<'_>>,
) -> (RouteNetlinkMessage, u16) {
    veth(name, None, peer, peer_netns)
}

/// `ip link add NAME mtu MTU type veth peer name PEER mtu MTU netns PEER_NS`: a lab port and
/// its far end, both down (a veth cannot be created up: the kernel opens it before the pair is
/// joined and refuses with ENOTCONN). The port gets its tc hooks while down, which is cheaper,
/// and both come up afterwards.
///
/// `index` (`ip link add NAME index N …`): the port's ifindex, `None` to let the kernel pick.
/// A lab sets it so a port never has its peer's ifindex: the kernel's link watch delays the
/// carrier events of a device whose ifindex equals its iflink by up to a second.
pub fn add_veth_port(
    name: &str,
    mtu: u32,
    peer: &str,
    peer_netns: Option<BorrowedFd<'_>>,
    index: Option<IfIndex>,
) -> (RouteNetlinkMessage, u16) {
    let (mut request, flags) = veth(name, Some(mtu), peer, peer_netns);
    if let (RouteNetlinkMessage::NewLink(message), Some(index)) = (&mut request, index) {
        message.header.index = index.0;
    }
    (request, flags)
}

fn veth(
    name: &str,
    mtu: Option<u32>,
    peer: &str,
    peer_netns: Option<BorrowedFd<'_>>,
) -> (RouteNetlinkMessage, u16) {
    let end = |name: &str, netns: Option<BorrowedFd<'_>>| {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        if let Some(mtu) = mtu {
            message.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(fd) = netns {
            message
                .attributes
                .push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
        }
        message
    };
    let mut message = end(name, None);
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        Info::Kind(InfoKind::Veth),
        Info::Data(InfoData::Veth(InfoVeth::Peer(end(peer, peer_netns)))),
    ]));
    (
        RouteNetlinkMessage::NewLink(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `ip link add NAME mtu MTU netns NETNS type vxlan id VNI local LOCAL [remote REMOTE]
/// dstport PORT nolearning`, sent from the underlay's namespace: the device keeps its UDP
/// socket there and is placed in `netns` (a lab's panel). Without a remote, frames go to the
/// flood entries added with [`add_flood_entry`] (head-end replication to several hosts).
pub fn add_vxlan(
    name: &str,
    mtu: u32,
    vni: u32,
    local: std::net::IpAddr,
    remote: Option<std::net::IpAddr>,
    port: u16,
    netns: BorrowedFd<'_>,
) -> (RouteNetlinkMessage, u16) {
    use netlink_packet_route::link::InfoVxlan;
    use std::net::IpAddr;
    let mut data = vec![
        InfoVxlan::Id(vni),
        InfoVxlan::Port(port),
        InfoVxlan::Learning(false),
    ];
    data.push(match local {
        IpAddr::V4(a) => InfoVxlan::Local(a),
        IpAddr::V6(a) => InfoVxlan::Local6(a),
    });
    data.extend(remote.map(|remote| match remote {
        IpAddr::V4(a) => InfoVxlan::Group(a),
        IpAddr::V6(a) => InfoVxlan::Group6(a),
    }));
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    message.attributes.push(LinkAttribute::Mtu(mtu));
    message
        .attributes
        .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        Info::Kind(InfoKind::Vxlan),
        Info::Data(InfoData::Vxlan(data)),
    ]));
    (
        RouteNetlinkMessage::NewLink(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `ip link add NAME mtu MTU netns NETNS type vxlan id VNI remote REMOTE dstport PORT [dev
/// DEV]`, sent from the underlay's namespace (containerlab's `type: vxlan` link): no local
/// address, the kernel picks the source by route; `dev` pins the underlay interface.
pub fn add_vxlan_to(
    name: &str,
    mtu: u32,
    vni: u32,
    remote: std::net::IpAddr,
    port: u16,
    dev: Option<IfIndex>,
    netns: BorrowedFd<'_>,
) -> (RouteNetlinkMessage, u16) {
    use netlink_packet_route::link::InfoVxlan;
    use std::net::IpAddr;
    let mut data = vec![
        InfoVxlan::Id(vni),
        InfoVxlan::Port(port),
        InfoVxlan::Learning(false),
        match remote {
            IpAddr::V4(a) => InfoVxlan::Group(a),
            IpAddr::V6(a) => InfoVxlan::Group6(a),
        },
    ];
    data.extend(dev.map(|d| InfoVxlan::Link(d.0)));
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    message.attributes.push(LinkAttribute::Mtu(mtu));
    message
        .attributes
        .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        Info::Kind(InfoKind::Vxlan),
        Info::Data(InfoData::Vxlan(data)),
    ]));
    (
        RouteNetlinkMessage::NewLink(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `ip link add link LOWER name NAME mtu MTU [address MAC] netns NETNS type macvlan mode
/// MODE` (mode 1 private, 2 vepa, 4 bridge, 8 passthru), sent from the lower device's
/// namespace.
pub fn add_macvlan(
    name: &str,
    lower: IfIndex,
    mode: u32,
    mtu: u32,
    mac: Option<[u8; 6]>,
    netns: BorrowedFd<'_>,
) -> (RouteNetlinkMessage, u16) {
    use netlink_packet_route::link::{InfoMacVlan, MacVlanMode};
    let mut message = device(name, mtu, mac, netns);
    message.attributes.push(LinkAttribute::Link(lower.0));
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        Info::Kind(InfoKind::MacVlan),
        Info::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
            MacVlanMode::from(mode),
        )])),
    ]));
    (
        RouteNetlinkMessage::NewLink(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `ip link add NAME mtu MTU [address MAC] netns NETNS type dummy`.
pub fn add_dummy(
    name: &str,
    mtu: u32,
    mac: Option<[u8; 6]>,
    netns: BorrowedFd<'_>,
) -> (RouteNetlinkMessage, u16) {
    let mut message = device(name, mtu, mac, netns);
    message
        .attributes
        .push(LinkAttribute::LinkInfo(vec![Info::Kind(InfoKind::Dummy)]));
    (
        RouteNetlinkMessage::NewLink(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

fn device(name: &str, mtu: u32, mac: Option<[u8; 6]>, netns: BorrowedFd<'_>) -> LinkMessage {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    message.attributes.push(LinkAttribute::Mtu(mtu));
    if let Some(mac) = mac {
        message
            .attributes
            .push(LinkAttribute::Address(mac.to_vec()));
    }
    message
        .attributes
        .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
    message
}

/// `ip link set dev INDEX address MAC`.
pub fn set_address(index: IfIndex, mac: [u8; 6]) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index.0;
    message
        .attributes
        .push(LinkAttribute::Address(mac.to_vec()));
    RouteNetlinkMessage::SetLink(message)
}

/// `bridge fdb append 00:00:00:00:00:00 dev VXLAN dst REMOTE self permanent`: every frame
/// the VXLAN device sends (whatever its destination MAC) also goes to `remote`.
pub fn add_flood_entry(vxlan: IfIndex, remote: std::net::IpAddr) -> (RouteNetlinkMessage, u16) {
    use netlink_packet_core::NLM_F_APPEND;
    use netlink_packet_route::AddressFamily;
    use netlink_packet_route::neighbour::{
        NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
    };
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = vxlan.0;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Own;
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(vec![0; 6]));
    message
        .attributes
        .push(NeighbourAttribute::Destination(match remote {
            std::net::IpAddr::V4(a) => NeighbourAddress::Inet(a),
            std::net::IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
    (
        RouteNetlinkMessage::NewNeighbour(message),
        NLM_F_CREATE | NLM_F_APPEND,
    )
}

/// `ip link add NAME type bridge` (STP off, the kernel default).
pub fn add_bridge(name: &str) -> (RouteNetlinkMessage, u16) {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    message
        .attributes
        .push(LinkAttribute::LinkInfo(vec![Info::Kind(InfoKind::Bridge)]));
    (
        RouteNetlinkMessage::NewLink(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// Reads the single link a GET request answered.
pub fn parse_one(reply: RawReply) -> Result<Link, NlError> {
    let messages = reply?;
    let first = messages
        .first()
        .ok_or_else(|| NlError::Decode("GETLINK answered without a link".into()))?;
    Link::parse(first)
}

/// Every link of the socket's namespace.
pub fn list(socket: &mut RouteSocket) -> Result<Vec<Link>, NlError> {
    socket
        .dump_raw(dump())?
        .iter()
        .map(|raw| Link::parse(raw))
        .collect()
}

/// Checks a name the way the kernel's dev_valid_name() does, so bad names fail with our words
/// before any request is sent.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an interface name cannot be empty".into());
    }
    if name.len() > IFNAME_MAX {
        return Err(format!(
            "interface name {name:?} is {} bytes long; Linux allows at most {IFNAME_MAX}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("{name:?} is not a valid interface name"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "interface name {name:?} contains {c:?}, which Linux does not allow"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_the_kernel_does() {
        assert!(validate_name("eth1").is_ok());
        assert!(validate_name("a23456789012345").is_ok());
        assert!(
            validate_name("a234567890123456")
                .unwrap_err()
                .contains("at most 15")
        );
        assert!(validate_name("").is_err());
        assert!(validate_name("a/b").unwrap_err().contains("'/'"));
        assert!(validate_name("a b").is_err());
        assert!(validate_name("..").is_err());
    }

    #[test]
    fn lean_parser_reads_what_the_crate_encodes() {
        use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
        use netlink_packet_route::link::State;
        let mut message = LinkMessage::default();
        message.header.index = 7;
        message.header.flags = LinkFlags::Up | LinkFlags::LowerUp;
        message.attributes = vec![
            LinkAttribute::IfName("eth1".into()),
            LinkAttribute::Mtu(9000),
            LinkAttribute::MinMtu(68),
            LinkAttribute::MaxMtu(65535),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
            LinkAttribute::Link(12),
            LinkAttribute::LinkNetNsId(3),
            LinkAttribute::OperState(State::Up),
            LinkAttribute::LinkInfo(vec![Info::Kind(InfoKind::Veth)]),
        ];
        let mut packet = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(message)),
        );
        packet.finalize();
        let mut raw = vec![0; packet.buffer_len()];
        packet.serialize(&mut raw);

        let link = Link::parse(&raw).unwrap();
        assert_eq!(
            (link.index, link.name.as_str(), link.mtu),
            (IfIndex(7), "eth1", 9000)
        );
        assert_eq!((link.min_mtu, link.max_mtu), (68, 65535));
        assert_eq!((link.peer, link.peer_netnsid), (Some(IfIndex(12)), Some(3)));
        assert_eq!(link.mac, Some([2, 0, 0, 0, 0, 1]));
        assert!(link.up && link.carrier && link.oper_up && link.is_veth() && !link.loopback);
        assert!(Link::parse(&raw[..20]).is_err());
    }
}

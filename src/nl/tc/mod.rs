//! Traffic control (RTM_*QDISC, RTM_*TFILTER): the clsact qdisc, the u32 match-all filter with a
//! mirred action that makes one direction of a wire, and reading such filters back.
//!
//! Ownership: every filter patchwire installs sits at priority [`WIRE_PRIO`] and its action
//! carries a 16-byte cookie: the tag byte [`WIRE_COOKIE_TAG`], then the name of the wire's other
//! end (NUL-padded). A filter is patchwire's only if both hold; anything else on an interface
//! belongs to someone else and is never touched. The name in the cookie is what lets `show` say
//! *which* end vanished once mirred has forgotten its target (the kernel keeps only ifindex 0).
//!
//! The requests and readers live in one file each: `qdisc.rs` (the clsact qdisc), `filter.rs`
//! (the wire, hub, mirror and cls_bpf filter requests) and `dump.rs` (filter and action dumps read
//! back into [`Filter`] and [`Action`] records). Everything is re-exported here, so callers write
//! `nl::tc::add_clsact` whichever file holds it.

use netlink_packet_route::tc::{TcHandle, TcMessage};

use super::link::IfIndex;

mod dump;
mod filter;
mod qdisc;

pub use dump::{
    Action, Filter, dump_filters, dump_mirred_actions, ebpf_wire_record, parse_action_dump,
    parse_filters,
};
pub use filter::{
    HubAction, add_bpf_filter, add_wire_filter, delete_filters_at, hub_chain, hub_filter,
    mirror_action,
};
pub use qdisc::{
    IngressQdisc, add_clsact, delete_clsact, dump_qdiscs, get_ingress_qdisc, ingress_holders,
    parse_ingress_qdisc,
};

// The marks live in crate::marks (every mark in one place); the tc requests built here use them.
use crate::marks::COOKIE_LEN;
pub use crate::marks::{
    EBPF_WIRE_RECORD, HUB_COOKIE_TAG, MIRROR_COOKIE_TAG, MIRROR_ONTO_WIRE_COOKIE_TAG,
    WIRE_COOKIE_TAG, WIRE_PRIO,
};

/// The cookie of a wire action that redirects to `partner`.
pub fn wire_cookie(partner: &str) -> Vec<u8> {
    let mut cookie = vec![0u8; COOKIE_LEN];
    cookie[0] = WIRE_COOKIE_TAG;
    let name = &partner.as_bytes()[..partner.len().min(COOKIE_LEN - 1)];
    cookie[1..1 + name.len()].copy_from_slice(name);
    cookie
}

fn is_wire_cookie(cookie: &[u8]) -> bool {
    cookie.len() == COOKIE_LEN && cookie[0] == WIRE_COOKIE_TAG
}

/// The cookie of a mirror's copy action.
pub fn mirror_cookie(mirror: &str, onto_wire: bool) -> Vec<u8> {
    let mut cookie = wire_cookie(mirror);
    cookie[0] = match onto_wire {
        true => MIRROR_ONTO_WIRE_COOKIE_TAG,
        false => MIRROR_COOKIE_TAG,
    };
    cookie
}

/// Whether a mirror action's cookie allows a wire end as destination.
pub fn mirror_cookie_onto_wire(cookie: &[u8]) -> bool {
    cookie.len() == COOKIE_LEN && cookie[0] == MIRROR_ONTO_WIRE_COOKIE_TAG
}

/// The mirror name in a mirror action's cookie.
pub fn mirror_cookie_name(cookie: &[u8]) -> Option<String> {
    let tagged = matches!(
        cookie.first(),
        Some(&(MIRROR_COOKIE_TAG | MIRROR_ONTO_WIRE_COOKIE_TAG))
    );
    if cookie.len() != COOKIE_LEN || !tagged {
        return None;
    }
    let name = cookie[1..].split(|b| *b == 0).next().unwrap_or_default();
    Some(String::from_utf8_lossy(name).into_owned())
}

/// The cookie of a hub action that sends to `target`.
pub fn hub_cookie(target: &str) -> Vec<u8> {
    let mut cookie = wire_cookie(target);
    cookie[0] = HUB_COOKIE_TAG;
    cookie
}

/// The member name in a hub action's cookie.
pub fn hub_cookie_name(cookie: &[u8]) -> Option<String> {
    if cookie.len() != COOKIE_LEN || cookie[0] != HUB_COOKIE_TAG {
        return None;
    }
    let name = cookie[1..].split(|b| *b == 0).next().unwrap_or_default();
    Some(String::from_utf8_lossy(name).into_owned())
}

/// The most actions the kernel accepts in one filter (TCA_ACT_MAX_PRIO): "Only 32 actions
/// supported per filter".
pub const MAX_ACTIONS: usize = 32;

/// TC_ACT_UNSPEC as the kernel reports it in a mirred action: classification goes on with the
/// next filter.
pub const CONTROL_CONTINUE: i32 = -1;
/// TC_ACT_PIPE: the filter's next action runs.
pub const CONTROL_PIPE: i32 = 3;
/// TC_ACT_STOLEN: the frame is taken (redirected); nothing after the action runs.
pub const CONTROL_STOLEN: i32 = 4;

/// TCA_BPF_ACT: cls_bpf's action list (netlink-packet-route has no variant for it).
const TCA_BPF_ACT: u16 = 1;

/// ETH_P_ALL in network byte order, as tcm_info wants it (`protocol all`).
const PROTOCOL_ALL: u16 = (libc::ETH_P_ALL as u16).to_be();

/// Parent of ingress filters: the ingress hook of either a clsact or an ingress qdisc.
pub const INGRESS_PARENT: TcHandle = TcHandle {
    major: 0xffff,
    minor: TcHandle::MIN_INGRESS,
};
/// Parent of egress filters on a clsact qdisc.
pub const EGRESS_PARENT: TcHandle = TcHandle {
    major: 0xffff,
    minor: TcHandle::MIN_EGRESS,
};
/// The handle both clsact and ingress qdiscs get (ffff:).
const INGRESS_QDISC_HANDLE: TcHandle = TcHandle {
    major: 0xffff,
    minor: 0,
};

fn tc_message(ifindex: IfIndex) -> TcMessage {
    let mut message = TcMessage::default();
    message.header.index = ifindex.0 as i32;
    message
}

fn tc_info(prio: u16) -> u32 {
    ((prio as u32) << 16) | PROTOCOL_ALL as u32
}

/// A request as the kernel would read it: emitted, then parsed back (unit tests).
#[cfg(test)]
fn round_trip(
    message: netlink_packet_route::RouteNetlinkMessage,
) -> netlink_packet_route::RouteNetlinkMessage {
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::RouteNetlinkMessage;

    let mut packet = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(message),
    );
    packet.finalize();
    let mut bytes = vec![0; packet.buffer_len()];
    packet.serialize(&mut bytes);
    match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes)
        .unwrap()
        .payload
    {
        NetlinkPayload::InnerMessage(inner) => inner,
        other => panic!("unexpected {other:?}"),
    }
}

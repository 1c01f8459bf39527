//! How many requests may be in flight at once: rounds sized from the receive buffer the kernel
//! granted and what each reply costs in it, so that the replies to a round never overflow it.
//!
//! The kernel runs every rtnetlink request inside `sendmsg` and queues its replies on our
//! socket there and then. A reply that finds the queue over the socket's receive buffer
//! (`sk_rcvbuf`, counted in skb truesize, not in message bytes) is dropped: the socket is
//! marked congested, `recv` reports ENOBUFS once, and every later reply is dropped too until
//! the queue has been read empty. So a round must fit the buffer *before* it is sent.

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_ECHO, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;

/// Most requests in flight at once, however large the buffer (the fixed window of the
/// benchmarked batches before rounds were sized; with the forced buffer it is still the limit,
/// so their figures stand).
pub(super) const MAX_IN_FLIGHT: usize = 256;

/// What one ack costs in the receive buffer (skb truesize): 832 bytes on 6.18 for a plain ack
/// or an error without text; rounded up for extended-ack text and attributes.
pub(super) const ACK_COST: usize = 1536;

/// What a GET answered by one object costs, its ack included: a link without statistics
/// measured 2,304 bytes on 6.18 (plus the ack); more with many altnames or a NIC's VF list.
pub(super) const OBJECT_COST: usize = 8 * 1024 + ACK_COST;

/// RTM_SETLINK (linux/rtnetlink.h).
const RTM_SETLINK: u16 = 19;
const RTM_BASE: u16 = 16;
/// Message kinds within an RTM_* family of four: NEW, DEL, GET, SET.
const KIND_GET: u16 = 2;

/// A request serialized once, so that it can be sent again with a new sequence number.
pub(super) struct Prepared {
    /// The whole netlink message; bytes 8..12 (the sequence number) are set when sent.
    pub bytes: Vec<u8>,
    /// The RTM_* message type.
    pub kind: u16,
    /// What its replies cost in the receive buffer (see [`ACK_COST`], [`OBJECT_COST`]).
    pub cost: usize,
    /// A dump (NLM_F_DUMP on a GET): sent in a round of its own. The kernel feeds a dump
    /// into the buffer as we read it, at most one per socket at a time (EBUSY otherwise),
    /// and a dump fills the buffer: any other reply in the same round could find it full.
    pub dump: bool,
    /// A GET answered by exactly one message (then its ack): not a dump.
    pub single: bool,
    /// Safe to send again when its reply was lost: a read, or an RTM_SETLINK (it sets
    /// attributes to absolute values, so twice leaves what once does). A create, a delete or
    /// an append is not: the second try would answer EEXIST or ENOENT about the first.
    pub repeatable: bool,
}

impl Prepared {
    pub fn new(message: RouteNetlinkMessage, flags: u16) -> Prepared {
        let mut packet = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(message),
        );
        packet.header.flags = flags | NLM_F_REQUEST | NLM_F_ACK;
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        let kind = packet.header.message_type;
        let get = kind >= RTM_BASE && (kind - RTM_BASE) % 4 == KIND_GET;
        // rtnetlink treats either bit of NLM_F_DUMP (ROOT, MATCH) on a GET as a dump.
        let dump = get && flags & NLM_F_DUMP != 0;
        let cost = match get || flags & NLM_F_ECHO != 0 {
            true => OBJECT_COST,
            false => ACK_COST,
        };
        Prepared {
            bytes,
            kind,
            cost,
            dump,
            single: get && !dump,
            repeatable: get || kind == RTM_SETLINK,
        }
    }

    /// Sets the sequence number the reply will carry.
    pub fn number(&mut self, sequence: u32) {
        self.bytes[8..12].copy_from_slice(&sequence.to_ne_bytes());
    }
}

/// The next round: requests from the front of `queue` whose replies fit `budget` bytes
/// (always at least one, a dump always alone), at most [`MAX_IN_FLIGHT`].
pub(super) fn next_round(
    queue: &mut std::collections::VecDeque<usize>,
    requests: &[Prepared],
    budget: usize,
) -> Vec<usize> {
    let mut round = Vec::new();
    let mut cost = 0usize;
    while let Some(&next) = queue.front() {
        let request = &requests[next];
        let fits = round.is_empty()
            || (!request.dump && round.len() < MAX_IN_FLIGHT && cost + request.cost <= budget);
        if !fits {
            break;
        }
        queue.pop_front();
        round.push(next);
        cost += request.cost;
        if request.dump {
            break;
        }
    }
    round
}

/// "RTM_GETLINK": the request's type, for messages.
pub(super) fn request_name(kind: u16) -> String {
    let name = match kind {
        16 => "RTM_NEWLINK",
        17 => "RTM_DELLINK",
        18 => "RTM_GETLINK",
        19 => "RTM_SETLINK",
        20 => "RTM_NEWADDR",
        21 => "RTM_DELADDR",
        22 => "RTM_GETADDR",
        28 => "RTM_NEWNEIGH",
        29 => "RTM_DELNEIGH",
        30 => "RTM_GETNEIGH",
        36 => "RTM_NEWQDISC",
        37 => "RTM_DELQDISC",
        38 => "RTM_GETQDISC",
        44 => "RTM_NEWTFILTER",
        45 => "RTM_DELTFILTER",
        46 => "RTM_GETTFILTER",
        48 => "RTM_NEWACTION",
        49 => "RTM_DELACTION",
        50 => "RTM_GETACTION",
        88 => "RTM_NEWNSID",
        89 => "RTM_DELNSID",
        90 => "RTM_GETNSID",
        108 => "RTM_NEWLINKPROP",
        109 => "RTM_DELLINKPROP",
        other => return format!("rtnetlink request type {other}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nl::link::{self, IfIndex};
    use std::collections::VecDeque;

    fn round_sizes(requests: &[Prepared], budget: usize) -> Vec<usize> {
        let mut queue: VecDeque<usize> = (0..requests.len()).collect();
        let mut sizes = Vec::new();
        while !queue.is_empty() {
            sizes.push(next_round(&mut queue, requests, budget).len());
        }
        sizes
    }

    #[test]
    fn requests_are_classified_by_what_their_replies_cost_and_whether_they_repeat() {
        let get = Prepared::new(link::get_by_name("eth0"), 0);
        assert_eq!(
            (get.kind, get.cost, get.dump, get.repeatable),
            (18, OBJECT_COST, false, true)
        );
        let dump = Prepared::new(link::dump(), NLM_F_DUMP);
        assert_eq!((dump.dump, dump.repeatable), (true, true));
        let up = Prepared::new(link::set_up(IfIndex(3), true), 0);
        assert_eq!((up.kind, up.cost, up.repeatable), (19, ACK_COST, true));
        let (veth, flags) = link::add_veth("a", "b", None);
        let veth = Prepared::new(veth, flags);
        assert_eq!(
            (veth.kind, veth.cost, veth.dump, veth.repeatable),
            (16, ACK_COST, false, false)
        );
        // NLM_F_EXCL shares its bit with NLM_F_MATCH: a create is never taken for a dump.
        assert_ne!(flags & NLM_F_DUMP, 0);
        let (altname, flags) = link::altname(IfIndex(3), "x", true);
        assert!(!Prepared::new(altname, flags).repeatable);
        assert!(!Prepared::new(link::delete(IfIndex(3)), 0).repeatable);
    }

    #[test]
    fn rounds_fit_the_budget_and_a_dump_goes_alone() {
        let gets: Vec<Prepared> = (0..100)
            .map(|_| Prepared::new(link::get_by_name("eth0"), 0))
            .collect();
        // 212992 bytes of budget (rmem_max 212992, doubled, half kept in reserve).
        assert_eq!(round_sizes(&gets, 212_992)[..4], [21, 21, 21, 21]);
        let acks: Vec<Prepared> = (0..1000)
            .map(|_| Prepared::new(link::set_up(IfIndex(2), true), 0))
            .collect();
        assert_eq!(round_sizes(&acks, 212_992)[0], 138);
        assert_eq!(round_sizes(&acks, 64 << 20), [256, 256, 256, 232]);
        // A budget too small for even one reply still sends one request per round.
        assert_eq!(round_sizes(&gets[..3], 100), [1, 1, 1]);

        let mixed = vec![
            Prepared::new(link::set_up(IfIndex(2), true), 0),
            Prepared::new(link::dump(), NLM_F_DUMP),
            Prepared::new(link::set_up(IfIndex(2), true), 0),
        ];
        assert_eq!(round_sizes(&mixed, 64 << 20), [1, 1, 1]);
    }

    #[test]
    fn requests_are_named_for_messages() {
        assert_eq!(request_name(18), "RTM_GETLINK");
        assert_eq!(request_name(108), "RTM_NEWLINKPROP");
        assert_eq!(request_name(1000), "rtnetlink request type 1000");
    }
}

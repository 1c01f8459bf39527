//! Dumps read back: a namespace's mirred actions and an interface's filters, reduced to the
//! [`Filter`] and [`Action`] records patchwire reasons about (whose wire, hub or mirror a filter
//! is, where it sends frames, its counters).

use netlink_packet_core::{DefaultNla, Nla, NlasIterator, Parseable};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionMessage, TcActionMessageAttribute, TcActionMessageFlags,
    TcActionMessageFlagsWithSelector, TcActionMirrorOption, TcActionOption, TcAttribute,
    TcFilterBpfOption, TcFilterU32Option, TcHandle, TcMessage, TcMirrorActionType, TcOption,
    TcStats2,
};
use serde::Serialize;

use super::filter::HubAction;
use super::{
    EBPF_WIRE_RECORD, TCA_BPF_ACT, WIRE_PRIO, hub_cookie_name, is_wire_cookie, mirror_cookie_name,
    tc_message,
};
use crate::nl::link::IfIndex;

/// `tc actions list action mirred`: every mirred action of the namespace, bound to a filter or
/// not, with its cookie and counters (one dump, however many interfaces there are).
pub fn dump_mirred_actions() -> RouteNetlinkMessage {
    let mut action = TcAction::default();
    action.tab = 1;
    action.attributes = vec![TcActionAttribute::Kind("mirred".into())];
    let mut message = TcActionMessage::default();
    message.attributes = vec![
        TcActionMessageAttribute::Actions(vec![action]),
        TcActionMessageAttribute::Flags(TcActionMessageFlagsWithSelector::new(
            TcActionMessageFlags::LargeDump,
        )),
    ];
    RouteNetlinkMessage::GetTrafficAction(message)
}

/// The actions of a [`dump_mirred_actions`] reply (the kernel answers with RTM_GETACTION
/// messages).
pub fn parse_action_dump(messages: Vec<RouteNetlinkMessage>) -> Vec<Action> {
    messages
        .into_iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::GetTrafficAction(m) | RouteNetlinkMessage::NewTrafficAction(m) => {
                Some(m.attributes)
            }
            _ => None,
        })
        .flatten()
        .filter_map(|attribute| match attribute {
            TcActionMessageAttribute::Actions(actions) => Some(actions),
            _ => None,
        })
        .flatten()
        .map(parse_action)
        .collect()
}

/// `tc filter show dev IF ingress|egress`.
pub fn dump_filters(ifindex: IfIndex, parent: TcHandle) -> RouteNetlinkMessage {
    let mut message = tc_message(ifindex);
    message.header.parent = parent;
    RouteNetlinkMessage::GetTrafficFilter(message)
}

/// A filter as read back from the kernel, reduced to what patchwire reasons about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// The interface the filter is on.
    pub ifindex: IfIndex,
    /// Its priority (tc `pref`).
    pub prio: u16,
    /// The filter's handle (u32 numbers its first rule 800::800 = 0x80000800).
    pub handle: u32,
    /// The classifier: `u32`, `bpf`, `matchall`…
    pub kind: String,
    /// A cls_bpf filter's name (free text, up to 255 bytes).
    pub name: Option<String>,
    /// A cls_bpf filter's program id (to find the program, and its maps, again).
    pub prog_id: Option<u32>,
    /// Its actions, in order.
    pub actions: Vec<Action>,
}

/// A filter action as read back: for mirred, its target; its counters; its cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// The action's kind: `mirred`, `gact`…
    pub kind: String,
    /// mirred's target ifindex. 0 once the target is gone (tc prints `device *`).
    pub mirred_target: Option<u32>,
    /// A mirred `redirect` (the frame itself) rather than a `mirror` (a copy).
    pub mirred_redirect: bool,
    /// What the action returns afterwards (TC_ACT_*: -1 continue, 0 ok, 2 shot, 3 pipe, 4
    /// stolen), when the kernel says (mirred); `None` for kinds patchwire does not read.
    pub control: Option<i32>,
    /// The action's cookie as the kernel returns it (patchwire's is a tag byte and a name).
    #[serde(skip)]
    pub cookie: Option<Vec<u8>>,
    /// Frames the action handled.
    pub packets: u64,
    /// Their bytes, as the kernel counts them at the hook.
    pub bytes: u64,
    /// Frames it dropped.
    pub drops: u64,
    /// Frames it could not pass on (mirred counts a failed send here).
    pub overlimits: u64,
}

/// The name of an eBPF wire direction's cls_bpf filter, its record: the far end's name and
/// ifindex (the program redirects to that index; the name says which end vanished).
pub fn ebpf_wire_record(to_name: &str, to: IfIndex, peer: bool) -> String {
    match peer {
        true => format!("{EBPF_WIRE_RECORD}to={to_name} index={to} peer=1"),
        false => format!("{EBPF_WIRE_RECORD}to={to_name} index={to}"),
    }
}

impl Filter {
    /// patchwire's wire filter: our priority, and either an action with our cookie (tc
    /// datapath) or a cls_bpf program whose name is our record (eBPF datapath).
    pub fn is_patchwire_wire(&self) -> bool {
        self.prio == WIRE_PRIO && (self.wire_action().is_some() || self.ebpf_record().is_some())
    }

    /// Whether this wire direction is an eBPF program (rather than u32 + mirred).
    pub fn is_ebpf_wire(&self) -> bool {
        self.prio == WIRE_PRIO && self.ebpf_record().is_some()
    }

    /// Whether this eBPF wire direction hands frames straight to the target's veth peer
    /// (`bpf_redirect_peer`: the target's egress hook never sees them).
    pub fn is_peer_redirect(&self) -> bool {
        self.is_ebpf_wire()
            && self
                .name
                .as_deref()
                .is_some_and(|n| n.split(' ').any(|w| w == "peer=1"))
    }

    /// (far end's name, far end's ifindex) from an eBPF wire filter's name.
    fn ebpf_record(&self) -> Option<(String, IfIndex)> {
        if self.kind != "bpf" {
            return None;
        }
        let rest = self.name.as_deref()?.strip_prefix(EBPF_WIRE_RECORD)?;
        let mut to = None;
        let mut index = None;
        for word in rest.split(' ') {
            match word.split_once('=') {
                Some(("to", name)) => to = Some(name.to_string()),
                Some(("index", i)) => index = i.parse().ok().map(IfIndex),
                _ => {}
            }
        }
        Some((to?, index?))
    }

    fn wire_action(&self) -> Option<&Action> {
        self.actions
            .iter()
            .find(|a| a.cookie.as_deref().is_some_and(is_wire_cookie))
    }

    /// The interface a patchwire wire filter redirects to; ifindex 0 once the target is gone
    /// (tc; an eBPF program keeps the index it was built for).
    pub fn wire_target(&self) -> Option<IfIndex> {
        if let Some((_, index)) = self.ebpf_record() {
            return Some(index);
        }
        Some(IfIndex(self.wire_action()?.mirred_target?))
    }

    /// The name the other end had when the wire was made (kept in the cookie, or the eBPF
    /// filter's record).
    pub fn wire_partner_name(&self) -> Option<String> {
        if let Some((name, _)) = self.ebpf_record() {
            return Some(name);
        }
        let cookie = self.wire_action()?.cookie.as_deref()?;
        let name = cookie[1..].split(|b| *b == 0).next().unwrap_or_default();
        Some(String::from_utf8_lossy(name).into_owned())
    }

    /// The counters of the wire's redirect action.
    pub fn wire_counters(&self) -> Option<&Action> {
        self.wire_action()
    }

    /// One of patchwire's hub filters: a u32 rule in the hub priorities (from [`WIRE_PRIO`])
    /// whose actions carry hub cookies.
    pub fn is_patchwire_hub(&self) -> bool {
        self.kind == "u32"
            && self.prio >= WIRE_PRIO
            && !self.actions.is_empty()
            && self
                .actions
                .iter()
                .all(|a| a.cookie.as_deref().and_then(hub_cookie_name).is_some())
    }

    /// A hub filter's actions as written: target (ifindex 0 once it is gone), the target's name
    /// from the cookie, redirect or copy, control.
    pub fn hub_actions(&self) -> Vec<HubAction> {
        self.actions
            .iter()
            .filter_map(|a| {
                Some(HubAction {
                    to: IfIndex(a.mirred_target?),
                    to_name: hub_cookie_name(a.cookie.as_deref()?)?,
                    redirect: a.mirred_redirect,
                    control: a.control?,
                })
            })
            .collect()
    }

    /// One of patchwire's mirror copy filters (its action carries a mirror cookie).
    pub fn is_patchwire_mirror(&self) -> bool {
        self.actions
            .iter()
            .any(|a| a.cookie.as_deref().and_then(mirror_cookie_name).is_some())
    }

    /// The mirror copies this filter makes: (mirror name, destination ifindex).
    pub fn mirror_copies(&self) -> impl Iterator<Item = (String, IfIndex)> + '_ {
        self.actions.iter().filter_map(|a| {
            let name = mirror_cookie_name(a.cookie.as_deref()?)?;
            Some((name, IfIndex(a.mirred_target?)))
        })
    }

    /// Whether a frame this filter matches can end up somewhere other than the next filter:
    /// redirected, dropped, or handed up the interface's own stack. Only actions that all
    /// return "continue" or "pipe", the last "continue", leave it to the next filter; a
    /// filter without actions (a classid, a direct-action program) decides by itself.
    pub fn can_take_frames(&self) -> bool {
        const CONTINUE: i32 = -1;
        const PIPE: i32 = 3;
        let Some(last) = self.actions.last() else {
            return true;
        };
        self.actions.iter().any(|a| a.mirred_redirect)
            || self
                .actions
                .iter()
                .any(|a| !matches!(a.control, Some(CONTINUE | PIPE)))
            || last.control != Some(CONTINUE)
    }

    /// "u32 filter at priority 100 (mirred redirect to ifindex 7)": how a foreign filter is named.
    pub fn describe(&self) -> String {
        let actions: Vec<String> = self
            .actions
            .iter()
            .map(|a| match (a.kind.as_str(), a.mirred_target) {
                ("mirred", Some(to)) => format!(
                    "mirred {} to ifindex {to}",
                    if a.mirred_redirect {
                        "redirect"
                    } else {
                        "mirror"
                    }
                ),
                (kind, _) => kind.to_string(),
            })
            .collect();
        let what = match actions.is_empty() {
            true => "no actions".to_string(),
            false => actions.join(", "),
        };
        format!("{} filter at priority {} ({what})", self.kind, self.prio)
    }
}

/// Reads a filter dump. The kernel sends a bare "chain head" message per priority without
/// options; those are skipped.
pub fn parse_filters(messages: Vec<RouteNetlinkMessage>) -> Vec<Filter> {
    messages
        .into_iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::NewTrafficFilter(filter) => parse_filter(filter),
            _ => None,
        })
        .collect()
}

fn parse_filter(message: TcMessage) -> Option<Filter> {
    let mut kind = String::new();
    let mut name = None;
    let mut prog_id = None;
    let mut actions = Vec::new();
    let mut has_options = false;
    for attribute in message.attributes {
        match attribute {
            TcAttribute::Kind(k) => kind = k,
            TcAttribute::Options(options) => {
                has_options = true;
                for option in options {
                    match option {
                        TcOption::U32(TcFilterU32Option::Action(list)) => {
                            actions.extend(list.into_iter().map(parse_action))
                        }
                        TcOption::Bpf(TcFilterBpfOption::ProgName(text)) => name = Some(text),
                        TcOption::Bpf(TcFilterBpfOption::ProgId(id)) => prog_id = Some(id),
                        TcOption::Bpf(TcFilterBpfOption::Other(nla))
                            if nla.kind() == TCA_BPF_ACT =>
                        {
                            actions.extend(parse_action_list(&nla))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // A u32 filter dump also lists its hash table (no actions, has options); keep only rules.
    if !has_options || (kind == "u32" && actions.is_empty() && message.header.handle.minor == 0) {
        return None;
    }
    Some(Filter {
        ifindex: IfIndex(message.header.index as u32),
        prio: (message.header.info >> 16) as u16,
        handle: u32::from(message.header.handle),
        kind,
        name,
        prog_id,
        actions,
    })
}

/// A nested action list (as in TCA_BPF_ACT); unreadable entries are skipped.
fn parse_action_list(nla: &DefaultNla) -> Vec<Action> {
    let mut value = vec![0u8; nla.value_len()];
    nla.emit_value(&mut value);
    NlasIterator::new(&value[..])
        .filter_map(|entry| TcAction::parse(&entry.ok()?).ok())
        .map(parse_action)
        .collect()
}

fn parse_action(action: TcAction) -> Action {
    let mut parsed = Action {
        kind: String::new(),
        mirred_target: None,
        mirred_redirect: false,
        control: None,
        cookie: None,
        packets: 0,
        bytes: 0,
        drops: 0,
        overlimits: 0,
    };
    for attribute in action.attributes {
        match attribute {
            TcActionAttribute::Kind(kind) => parsed.kind = kind,
            TcActionAttribute::Cookie(cookie) => parsed.cookie = Some(cookie),
            TcActionAttribute::Options(options) => {
                for option in options {
                    if let TcActionOption::Mirror(TcActionMirrorOption::Parms(mirror)) = option {
                        parsed.mirred_target = Some(mirror.ifindex);
                        parsed.control = Some(i32::from(mirror.generic.action));
                        parsed.mirred_redirect = matches!(
                            mirror.eaction,
                            TcMirrorActionType::EgressRedir | TcMirrorActionType::IngressRedir
                        );
                    }
                }
            }
            TcActionAttribute::Stats(stats) => {
                for stat in stats {
                    match stat {
                        TcStats2::Basic(basic) => {
                            parsed.packets = basic.packets as u64;
                            parsed.bytes = basic.bytes;
                        }
                        TcStats2::Queue(queue) => {
                            parsed.drops = queue.drops as u64;
                            parsed.overlimits = queue.overlimits as u64;
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nl::tc::round_trip;
    use crate::nl::tc::{
        EGRESS_PARENT, add_bpf_filter, add_wire_filter, mirror_action, wire_cookie,
    };

    #[test]
    fn wire_filter_is_match_all_redirect_with_cookie() {
        let (message, _) = add_wire_filter(IfIndex(3), IfIndex(9), "tap-fifteen-chr");
        let RouteNetlinkMessage::NewTrafficFilter(tc) = &message else {
            panic!()
        };
        // protocol all (0x0003) goes out big-endian: the low 16 bits read 0x0300 on x86.
        assert_eq!(
            tc.header.info,
            (0x5057 << 16) | u16::from_ne_bytes([0x00, 0x03]) as u32
        );
        assert_eq!(u32::from(tc.header.parent), 0xffff_fff2);
        assert_eq!(tc.header.index, 3);

        // Read back as a dump entry would be: recognised as ours, pointing at 9.
        let RouteNetlinkMessage::NewTrafficFilter(mut echoed) = round_trip(message) else {
            panic!()
        };
        echoed.header.handle = TcHandle {
            major: 0x800,
            minor: 0x800,
        };
        let filters = parse_filters(vec![RouteNetlinkMessage::NewTrafficFilter(echoed)]);
        assert_eq!(filters.len(), 1);
        assert!(filters[0].is_patchwire_wire());
        assert_eq!(filters[0].wire_target(), Some(IfIndex(9)));
        assert_eq!(
            filters[0].wire_partner_name().as_deref(),
            Some("tap-fifteen-chr")
        );
        assert!(filters[0].actions[0].mirred_redirect);
        assert_eq!(
            filters[0].actions[0].cookie.as_ref().map(Vec::len),
            Some(16)
        );
    }

    #[test]
    fn foreign_filter_at_our_priority_is_not_ours() {
        let (message, _) = add_wire_filter(IfIndex(3), IfIndex(9), "b");
        let RouteNetlinkMessage::NewTrafficFilter(mut tc) = round_trip(message) else {
            panic!()
        };
        tc.header.handle = TcHandle {
            major: 0x800,
            minor: 0x800,
        };
        for attribute in &mut tc.attributes {
            if let TcAttribute::Options(options) = attribute {
                for option in options {
                    if let TcOption::U32(TcFilterU32Option::Action(actions)) = option {
                        actions[0]
                            .attributes
                            .retain(|a| !matches!(a, TcActionAttribute::Cookie(_)));
                    }
                }
            }
        }
        let filters = parse_filters(vec![RouteNetlinkMessage::NewTrafficFilter(tc)]);
        assert!(!filters[0].is_patchwire_wire());
    }

    #[test]
    fn bpf_mirror_filter_reads_back_with_name_action_and_cookie() {
        let (message, _) = add_bpf_filter(
            IfIndex(5),
            EGRESS_PARENT,
            16384,
            7,
            "pw-mirror web to=mon0 dir=out from=eth1",
            false,
            vec![mirror_action(IfIndex(9), "web", false)],
        );
        let RouteNetlinkMessage::NewTrafficFilter(mut tc) = round_trip(message) else {
            panic!()
        };
        assert_eq!(u32::from(tc.header.parent), 0xffff_fff3);
        tc.header.handle = TcHandle::from(1u32);
        let filters = parse_filters(vec![RouteNetlinkMessage::NewTrafficFilter(tc)]);
        let filter = &filters[0];
        assert_eq!((filter.kind.as_str(), filter.prio), ("bpf", 16384));
        assert_eq!(
            filter.name.as_deref(),
            Some("pw-mirror web to=mon0 dir=out from=eth1")
        );
        let action = &filter.actions[0];
        assert_eq!(action.mirred_target, Some(9));
        assert!(
            !action.mirred_redirect,
            "a mirror copies, it does not redirect"
        );
        let cookie = action.cookie.as_deref().unwrap();
        assert_eq!(mirror_cookie_name(cookie).as_deref(), Some("web"));
        assert!(!filter.is_patchwire_wire());
        assert_eq!(mirror_cookie_name(&wire_cookie("web")), None);
    }
}

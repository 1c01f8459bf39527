//! Filter requests: a wire direction (u32 match-all + mirred redirect), a hub member's fan-out,
//! a mirror's copy action, a cls_bpf filter, and removing the filters at one priority.

use netlink_packet_core::{DefaultNla, Emitable, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionGeneric, TcActionMirrorOption, TcActionOption,
    TcActionType, TcAttribute, TcBpfFlags, TcFilterBpfOption, TcFilterU32Option, TcHandle,
    TcMirror, TcMirrorActionType, TcOption, TcU32Key, TcU32Selector, TcU32SelectorFlags,
};

use super::{
    CONTROL_CONTINUE, CONTROL_PIPE, CONTROL_STOLEN, INGRESS_PARENT, MAX_ACTIONS, TCA_BPF_ACT,
    WIRE_PRIO, hub_cookie, mirror_cookie, tc_info, tc_message, wire_cookie,
};
use crate::nl::link::IfIndex;

/// One direction of a wire. Equivalent to
/// `tc filter add dev FROM ingress pref 20567 protocol all u32 match u32 0 0
///  action mirred egress redirect dev TO cookie b7<TO's name>` (control action `stolen`).
pub fn add_wire_filter(from: IfIndex, to: IfIndex, to_name: &str) -> (RouteNetlinkMessage, u16) {
    let mut message = tc_message(from);
    message.header.parent = INGRESS_PARENT;
    message.header.info = tc_info(WIRE_PRIO);

    let action = mirred(
        to,
        TcMirrorActionType::EgressRedir,
        TcActionType::Stolen,
        wire_cookie(to_name),
    );
    message.attributes = vec![
        TcAttribute::Kind("u32".into()),
        TcAttribute::Options(vec![
            TcOption::U32(TcFilterU32Option::Selector(match_all())),
            TcOption::U32(TcFilterU32Option::Action(vec![action])),
        ]),
    ];
    (
        RouteNetlinkMessage::NewTrafficFilter(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `action mirred egress mirror dev TO continue cookie b8<mirror name>`: a copy of the frame
/// leaves `to`; the original goes on to the next filter (control `continue` = TC_ACT_UNSPEC).
/// `pipe`, tc's usual choice, would end classification with "accept" and so skip a wire's
/// redirect at a higher priority.
pub fn mirror_action(to: IfIndex, mirror: &str, onto_wire: bool) -> TcAction {
    mirred(
        to,
        TcMirrorActionType::EgressMirror,
        TcActionType::Unspec,
        mirror_cookie(mirror, onto_wire),
    )
}

/// One action of a hub member's fan-out, to `to` (cookie ba + its name): a copy (`mirred egress
/// mirror`, control `pipe` so the next action runs, or `continue` when it is the last action of
/// a filter that hands over to the next one), or, for the very last member, the frame itself
/// (`mirred egress redirect`, control `stolen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubAction {
    /// The member sent to (0 once it is gone).
    pub to: IfIndex,
    /// That member's name, from the cookie (still there when the member is gone).
    pub to_name: String,
    /// The frame itself (`mirred egress redirect`) rather than a copy (`mirror`).
    pub redirect: bool,
    /// [`CONTROL_PIPE`], [`CONTROL_CONTINUE`] or [`CONTROL_STOLEN`].
    pub control: i32,
}

/// The filters of one hub member's fan-out to `targets` (every other member, in order), as
/// (priority, actions): [`MAX_ACTIONS`] per filter from [`WIRE_PRIO`] upwards. Each filter but
/// the last ends with a copy whose control is `continue`, so the filter at the next priority
/// runs; the last ends with the redirect (`stolen`). Nothing goes back out of the member
/// itself, and no frame reaches a member twice.
pub fn hub_chain(targets: &[(IfIndex, String)]) -> Vec<(u16, Vec<HubAction>)> {
    let chunks: Vec<&[(IfIndex, String)]> = targets.chunks(MAX_ACTIONS).collect();
    let count = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(k, chunk)| {
            let last_filter = k + 1 == count;
            let actions = chunk
                .iter()
                .enumerate()
                .map(|(i, (to, name))| {
                    let last_action = i + 1 == chunk.len();
                    let (redirect, control) = match (last_filter, last_action) {
                        (true, true) => (true, CONTROL_STOLEN),
                        (false, true) => (false, CONTROL_CONTINUE),
                        _ => (false, CONTROL_PIPE),
                    };
                    HubAction {
                        to: *to,
                        to_name: name.clone(),
                        redirect,
                        control,
                    }
                })
                .collect();
            (WIRE_PRIO + k as u16, actions)
        })
        .collect()
}

/// One filter of a hub member's fan-out. Equivalent to
/// `tc filter add dev FROM ingress pref PRIO [handle H] protocol all u32 match u32 0 0
///  action mirred egress mirror dev T1 pipe cookie ba<T1> ... action mirred egress redirect dev Tn
///  cookie ba<Tn>` (stolen). With `handle` (`800::800` as u32 numbers it) the request can
/// replace the filter that has it in place (NLM_F_REPLACE) or create it again; flags are the
/// caller's.
pub fn hub_filter(
    from: IfIndex,
    prio: u16,
    handle: Option<u32>,
    actions: &[HubAction],
) -> RouteNetlinkMessage {
    let mut message = tc_message(from);
    message.header.parent = INGRESS_PARENT;
    message.header.info = tc_info(prio);
    if let Some(handle) = handle {
        message.header.handle = TcHandle::from(handle);
    }
    let actions = actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let eaction = match a.redirect {
                true => TcMirrorActionType::EgressRedir,
                false => TcMirrorActionType::EgressMirror,
            };
            let mut action = mirred(
                a.to,
                eaction,
                TcActionType::from(a.control),
                hub_cookie(&a.to_name),
            );
            action.tab = i as u16 + 1;
            action
        })
        .collect();
    message.attributes = vec![
        TcAttribute::Kind("u32".into()),
        TcAttribute::Options(vec![
            TcOption::U32(TcFilterU32Option::Selector(match_all())),
            TcOption::U32(TcFilterU32Option::Action(actions)),
        ]),
    ];
    RouteNetlinkMessage::NewTrafficFilter(message)
}

/// A mirred action: what it does with the frame (`eaction`), to which interface, the verdict
/// it returns afterwards (`control`), and its cookie.
fn mirred(
    to: IfIndex,
    eaction: TcMirrorActionType,
    control: TcActionType,
    cookie: Vec<u8>,
) -> TcAction {
    let mut generic = TcActionGeneric::default();
    generic.action = control;
    let mut parms = TcMirror::default();
    parms.generic = generic;
    parms.eaction = eaction;
    parms.ifindex = to.0;
    let mut action = TcAction::default();
    action.tab = 1;
    action.attributes = vec![
        TcActionAttribute::Kind("mirred".into()),
        TcActionAttribute::Options(vec![TcActionOption::Mirror(TcActionMirrorOption::Parms(
            parms,
        ))]),
        TcActionAttribute::Cookie(cookie),
    ];
    action
}

/// `tc filter add dev IF PARENT pref PRIO protocol all bpf fd FD name NAME [direct-action]
/// [action ...]` (create, exclusive). Without direct-action the program is a classifier:
/// it returns -1 for "match" (the actions run) and 0 for "no match".
pub fn add_bpf_filter(
    ifindex: IfIndex,
    parent: TcHandle,
    prio: u16,
    program_fd: i32,
    name: &str,
    direct_action: bool,
    actions: Vec<TcAction>,
) -> (RouteNetlinkMessage, u16) {
    let mut message = tc_message(ifindex);
    message.header.parent = parent;
    message.header.info = tc_info(prio);
    let mut options = vec![
        TcOption::Bpf(TcFilterBpfOption::ProgFd(program_fd as u32)),
        TcOption::Bpf(TcFilterBpfOption::ProgName(name.into())),
    ];
    if direct_action {
        options.push(TcOption::Bpf(TcFilterBpfOption::Flags(
            TcBpfFlags::DirectAction,
        )));
    }
    if !actions.is_empty() {
        let mut list = vec![0u8; actions.as_slice().buffer_len()];
        actions.as_slice().emit(&mut list);
        options.push(TcOption::Bpf(TcFilterBpfOption::Other(DefaultNla::new(
            TCA_BPF_ACT,
            list,
        ))));
    }
    message.attributes = vec![
        TcAttribute::Kind("bpf".into()),
        TcAttribute::Options(options),
    ];
    (
        RouteNetlinkMessage::NewTrafficFilter(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// The portable match-all: one key, offset 0, mask 0, value 0 (`match u32 0 0`). `matchall` and
/// `flower` are missing on some kernels (they are here); u32 is everywhere.
fn match_all() -> TcU32Selector {
    let mut key = TcU32Key::default();
    key.mask = 0;
    key.val = 0;
    let mut selector = TcU32Selector::default();
    // Terminal: a match ends classification with the actions, as tc sets it for `action ...`.
    selector.flags = TcU32SelectorFlags::Terminal;
    selector.nkeys = 1;
    selector.keys = vec![key];
    selector
}

/// `tc filter del dev IF ingress pref PRIO protocol all`: removes the whole filter chain at that
/// priority (patchwire keeps exactly one filter there).
pub fn delete_filters_at(ifindex: IfIndex, parent: TcHandle, prio: u16) -> RouteNetlinkMessage {
    let mut message = tc_message(ifindex);
    message.header.parent = parent;
    message.header.info = tc_info(prio);
    RouteNetlinkMessage::DelTrafficFilter(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nl::tc::{hub_cookie_name, parse_filters, round_trip};

    fn targets(n: u32) -> Vec<(IfIndex, String)> {
        (0..n).map(|i| (IfIndex(10 + i), format!("m{i}"))).collect()
    }

    #[test]
    fn a_hub_chain_copies_to_all_but_the_last_member_and_redirects_to_it() {
        let chain = hub_chain(&targets(2));
        assert_eq!(chain.len(), 1);
        let (prio, actions) = &chain[0];
        assert_eq!(*prio, WIRE_PRIO);
        assert_eq!(
            actions
                .iter()
                .map(|a| (a.to.0, a.redirect, a.control))
                .collect::<Vec<_>>(),
            vec![(10, false, CONTROL_PIPE), (11, true, CONTROL_STOLEN)]
        );

        // 39 targets (a hub of 40): two filters, the first hands over with `continue`.
        let chain = hub_chain(&targets(39));
        assert_eq!(
            chain.iter().map(|(p, a)| (*p, a.len())).collect::<Vec<_>>(),
            vec![(WIRE_PRIO, 32), (WIRE_PRIO + 1, 7)]
        );
        let first = &chain[0].1;
        assert!(
            first[..31]
                .iter()
                .all(|a| a.control == CONTROL_PIPE && !a.redirect)
        );
        assert_eq!(
            (first[31].redirect, first[31].control),
            (false, CONTROL_CONTINUE)
        );
        let last = &chain[1].1;
        assert_eq!((last[6].redirect, last[6].control), (true, CONTROL_STOLEN));
        assert_eq!(last[6].to_name, "m38");
        assert_eq!(
            hub_chain(&targets(32)).len(),
            1,
            "32 targets fit one filter"
        );
    }

    #[test]
    fn hub_filter_reads_back_as_ours_with_targets_names_and_handle() {
        let chain = hub_chain(&targets(3));
        let message = hub_filter(IfIndex(4), chain[0].0, Some(0x8000_0800), &chain[0].1);
        let RouteNetlinkMessage::NewTrafficFilter(echoed) = round_trip(message) else {
            panic!()
        };
        assert_eq!(u32::from(echoed.header.handle), 0x8000_0800);
        let filters = parse_filters(vec![RouteNetlinkMessage::NewTrafficFilter(echoed)]);
        let filter = &filters[0];
        assert!(filter.is_patchwire_hub());
        assert!(!filter.is_patchwire_wire());
        assert_eq!(filter.handle, 0x8000_0800);
        assert_eq!(filter.hub_actions(), chain[0].1);
        assert!(filter.can_take_frames(), "the redirect takes the frame");
        assert_eq!(hub_cookie_name(&wire_cookie("x")), None);
        assert_eq!(hub_cookie_name(&hub_cookie("m1")).as_deref(), Some("m1"));
    }
}

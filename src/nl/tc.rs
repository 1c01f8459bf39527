//! Traffic control (RTM_*QDISC, RTM_*TFILTER): the clsact qdisc, the u32 match-all filter with a
//! mirred action that makes one direction of a wire, and reading such filters back.
//!
//! Ownership: every filter patchwire installs sits at priority [`WIRE_PRIO`] and its action
//! carries a 16-byte cookie: the tag byte [`WIRE_COOKIE_TAG`], then the name of the wire's other
//! end (NUL-padded). A filter is patchwire's only if both hold; anything else on an interface
//! belongs to someone else and is never touched. The name in the cookie is what lets `show` say
//! *which* end vanished once mirred has forgotten its target (the kernel keeps only ifindex 0).

use netlink_packet_core::{
    DefaultNla, Emitable, NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, Nla, NlasIterator, Parseable,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionGeneric, TcActionMessage, TcActionMessageAttribute,
    TcActionMessageFlags, TcActionMessageFlagsWithSelector, TcActionMirrorOption, TcActionOption,
    TcActionType, TcAttribute, TcBpfFlags, TcFilterBpfOption, TcFilterU32Option, TcHandle,
    TcMessage, TcMirror, TcMirrorActionType, TcOption, TcStats2, TcU32Key, TcU32Selector,
    TcU32SelectorFlags,
};
use serde::Serialize;

use super::link::IfIndex;

// moved to crate::marks (every mark in one place); old paths kept until the merge
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

/// The qdisc that owns an interface's ingress hook, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IngressQdisc {
    /// A `clsact` qdisc (ingress and egress hooks): the one patchwire adds, and removes when
    /// nothing is left on it.
    Clsact,
    /// A plain `ingress` qdisc another tool added: patchwire attaches to it and never removes it.
    Ingress,
}

fn tc_message(ifindex: IfIndex) -> TcMessage {
    let mut message = TcMessage::default();
    message.header.index = ifindex.0 as i32;
    message
}

/// `tc qdisc add dev IF clsact`.
pub fn add_clsact(ifindex: IfIndex) -> (RouteNetlinkMessage, u16) {
    let mut message = tc_message(ifindex);
    message.header.parent = TcHandle::CLSACT;
    message.header.handle = INGRESS_QDISC_HANDLE;
    message.attributes.push(TcAttribute::Kind("clsact".into()));
    (
        RouteNetlinkMessage::NewQueueDiscipline(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `tc qdisc del dev IF clsact`.
pub fn delete_clsact(ifindex: IfIndex) -> RouteNetlinkMessage {
    let mut message = tc_message(ifindex);
    message.header.parent = TcHandle::CLSACT;
    message.header.handle = INGRESS_QDISC_HANDLE;
    RouteNetlinkMessage::DelQueueDiscipline(message)
}

/// `tc qdisc show dev IF ingress`: answers with the clsact/ingress qdisc, or ENOENT/EINVAL.
/// NLM_F_ECHO is required: without it the kernel sends the answer only to the TC multicast
/// group and the requester gets a bare ack.
pub fn get_ingress_qdisc(ifindex: IfIndex) -> (RouteNetlinkMessage, u16) {
    let mut message = tc_message(ifindex);
    message.header.parent = TcHandle::INGRESS;
    (RouteNetlinkMessage::GetQueueDiscipline(message), NLM_F_ECHO)
}

/// `tc qdisc show` for a whole namespace.
pub fn dump_qdiscs() -> RouteNetlinkMessage {
    RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default())
}

/// The interfaces holding an ingress-hook qdisc, from a [`dump_qdiscs`] reply.
pub fn ingress_holders(messages: &[RouteNetlinkMessage]) -> Vec<(IfIndex, IngressQdisc)> {
    messages
        .iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::NewQueueDiscipline(qdisc) => {
                let kind = parse_ingress_qdisc(std::slice::from_ref(message))?;
                Some((IfIndex(qdisc.header.index as u32), kind))
            }
            _ => None,
        })
        .collect()
}

/// Reads which ingress-hook qdisc a [`get_ingress_qdisc`] reply names.
pub fn parse_ingress_qdisc(messages: &[RouteNetlinkMessage]) -> Option<IngressQdisc> {
    messages.iter().find_map(|message| match message {
        RouteNetlinkMessage::NewQueueDiscipline(qdisc) => {
            qdisc.attributes.iter().find_map(|a| match a {
                TcAttribute::Kind(kind) if kind == "clsact" => Some(IngressQdisc::Clsact),
                TcAttribute::Kind(kind) if kind == "ingress" => Some(IngressQdisc::Ingress),
                _ => None,
            })
        }
        _ => None,
    })
}

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

fn tc_info(prio: u16) -> u32 {
    ((prio as u32) << 16) | PROTOCOL_ALL as u32
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
    use netlink_packet_core::{Emitable, NetlinkHeader, NetlinkMessage, NetlinkPayload};

    fn round_trip(message: RouteNetlinkMessage) -> RouteNetlinkMessage {
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

    #[test]
    fn clsact_message_targets_ffff() {
        let (RouteNetlinkMessage::NewQueueDiscipline(qdisc), flags) = add_clsact(IfIndex(4)) else {
            panic!()
        };
        assert_eq!(u32::from(qdisc.header.handle), 0xffff_0000);
        assert_eq!(u32::from(qdisc.header.parent), 0xffff_fff1);
        assert_eq!(flags, NLM_F_CREATE | NLM_F_EXCL);
        assert!(TcAttribute::Kind("clsact".into()).buffer_len() > 0);
    }
}

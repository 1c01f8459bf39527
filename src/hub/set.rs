//! `hub::set`: makes each hub have exactly the members asked — creates it, adds and drops
//! members in place — all or nothing.
//!
//! Planning reads everything first (one link dump, the tc state of every member involved),
//! refuses bad input, wire ends, other hubs' ports and loops before anything changes, skips
//! what is already as asked, and hands the rest to `wire::apply` as one batch. A member whose
//! fan-out changes gets its filters rewritten at the same priority and handle (NLM_F_REPLACE):
//! the kernel swaps each in one step, so frames keep flowing between unchanged members. When a
//! fan-out needs one more filter, the new one (at the next priority) goes in before the filter
//! that will hand over to it is rewritten; when it needs one fewer, the surplus goes after.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::RouteNetlinkMessage;
use serde::Serialize;

use super::found::{Found, fanout, fanout_actions};
use super::{MAX_MEMBERS, priorities, validate_name};
use crate::marks::HUB_RECORD;
use crate::netns::Netns;
use crate::nl::link::{self, IfIndex, Link};
use crate::nl::tc::{self, Filter, HubAction};
use crate::wire::apply::{self, Fault, Op};
use crate::wire::inventory::{MirrorInto, NodeKey, World, hub_record};
use crate::wire::{WireError, end_condition, missing_interface, silence};

/// One hub and the members it must have: interface names of the namespace (`IF`, or
/// `NETNS:IF` naming the same namespace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubRequest {
    /// 1–15 characters out of `A-Z a-z 0-9 _ . -`.
    pub name: String,
    /// The members: 2 to [`MAX_MEMBERS`](crate::hub::MAX_MEMBERS) interfaces, each in no other
    /// hub and on no wire.
    pub members: Vec<String>,
}

impl HubRequest {
    /// A request for hub `name` with `members`.
    pub fn new(name: &str, members: &[&str]) -> Self {
        HubRequest {
            name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// How [`set`] makes hubs.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// Make the Nth kernel change fail on purpose (as [`crate::wire::LinkOptions::fault`]).
    pub fault: Option<Fault>,
    /// Make the hub even if it closes a loop (only when something on the ring, such as STP,
    /// breaks it).
    pub allow_loop: bool,
}

/// What `set` did to one hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SetState {
    /// The hub did not exist and was made.
    Created,
    /// Members joined or left, or broken fan-outs were rewritten.
    Updated,
    /// The hub already had exactly these members, all fanned out correctly: nothing changed.
    Unchanged,
}

/// What [`set`] did to one hub.
#[derive(Debug, Clone, Serialize)]
pub struct HubResult {
    /// The hub's name.
    pub name: String,
    /// Whether it was made, changed or left alone.
    pub state: SetState,
    /// The members now, as asked.
    pub members: Vec<String>,
    /// Members that were not ports of this hub before.
    pub joined: Vec<String>,
    /// Former members taken out (a gone one only had its remains cleared from the others).
    pub left: Vec<String>,
}

/// What `set` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HubOutcome {
    /// One entry per hub asked for, in order.
    pub hubs: Vec<HubResult>,
    /// Things worth knowing that did not stop the call (MTUs differ, a member is down).
    pub warnings: Vec<String>,
    /// Members whose own transmissions patchwire turned off (see `wire::silence`).
    pub silenced: Vec<String>,
    /// Former members given back what silencing turned off.
    pub restored: Vec<String>,
    /// Kernel changes made.
    pub changes: usize,
}

/// Makes each hub in `hubs` have exactly its members in `netns`, all or nothing. Hubs not
/// named are left alone. Idempotent: asking again changes nothing.
pub fn set(
    netns: Netns,
    hubs: &[HubRequest],
    options: &HubOptions,
) -> Result<HubOutcome, WireError> {
    let requests = check_requests(&netns, hubs)?;
    let mut world = World::new(netns)?;
    let home_id = world.home_id();
    let found = Found::read(world.home())?;

    // Members as links, refusing what cannot be a hub port.
    let mut wanted: Vec<Vec<Link>> = Vec::new();
    for request in &requests {
        let mut members = Vec::new();
        for name in &request.members {
            let Some(link) = found.by_name.get(name).map(|i| found.links[i].clone()) else {
                return Err(request.refuse(missing_interface(&world.home().netns, name)));
            };
            check_kind(&found, request, &link)?;
            members.push(link);
        }
        wanted.push(members);
    }
    let requested: HashSet<&str> = requests.iter().map(|r| r.name.as_str()).collect();
    let wanted_index: HashMap<IfIndex, usize> = wanted
        .iter()
        .enumerate()
        .flat_map(|(h, members)| members.iter().map(move |m| (m.index, h)))
        .collect();
    let mut involved: BTreeSet<IfIndex> = wanted_index.keys().copied().collect();
    for request in &requests {
        involved.extend(found.members.get(&request.name).into_iter().flatten());
    }
    let involved: Vec<IfIndex> = involved.into_iter().collect();
    world.home().load_tc(&involved)?;

    // Refusals that need the tc state: wire ends, other hubs' ports, foreign filters.
    for (request, members) in requests.iter().zip(&wanted) {
        for member in members {
            let state = world.home().tc(member.index)?.clone();
            if let Some(filter) = state.wire_filter() {
                let target = filter.wire_target().unwrap_or(IfIndex(0));
                let partner = match found.links.get(&target).filter(|_| target.0 != 0) {
                    Some(partner) => partner.name.clone(),
                    None => filter.wire_partner_name().unwrap_or_else(|| "?".into()),
                };
                return Err(request.refuse(format!(
                    "{0} is a wire end ({0} <-> {partner}); an interface is a wire end or a hub \
                     port, never both: unlink it first (patchwire unlink {0})",
                    member.name
                )));
            }
            if let Some(other) = found.hub_of(member.index)
                && other != request.name
                && !requested.contains(other.as_str())
            {
                return Err(request.refuse(format!(
                    "{} is already a port of hub {other}; an interface can be a port of only one \
                     hub: take it out of {other} first",
                    member.name
                )));
            }
            // patchwire removes and rewrites whole priorities: the new fan-out's and the old.
            let span = priorities(members.len());
            let ours: Vec<u16> = state.hub_filters().map(|f| f.prio).collect();
            let foreign = state.filters.iter().find(|f| {
                (span.contains(&f.prio) || ours.contains(&f.prio)) && !f.is_patchwire_hub()
            });
            if let Some(filter) = foreign {
                return Err(request.refuse(format!(
                    "{} has a {} filter at priority {} that patchwire did not install (another \
                     tool's); patchwire will not touch it — remove it or free that priority (a hub \
                     of {} members uses priorities {} to {})",
                    member.name,
                    filter.kind,
                    filter.prio,
                    members.len(),
                    span.start(),
                    span.end()
                )));
            }
        }
    }

    // Who joins, who leaves.
    let mut joining: Vec<Vec<IfIndex>> = Vec::new();
    let mut dropped: Vec<(String, IfIndex)> = Vec::new();
    for (request, members) in requests.iter().zip(&wanted) {
        let before = found.members.get(&request.name);
        joining.push(
            members
                .iter()
                .map(|m| m.index)
                .filter(|i| !before.is_some_and(|b| b.contains(i)))
                .collect(),
        );
        for index in before.into_iter().flatten() {
            if !wanted_index.contains_key(index) {
                dropped.push((request.name.clone(), *index));
            }
        }
    }
    let destinations = match joining.iter().any(|j| !j.is_empty()) || !dropped.is_empty() {
        true => world.home().mirror_destinations()?,
        false => HashMap::new(),
    };
    for ((request, members), joining) in requests.iter().zip(&wanted).zip(&joining) {
        refuse_mirror_conflicts(&mut world, &destinations, request, members, joining)?;
    }
    if !options.allow_loop {
        let planned: HashMap<IfIndex, Vec<IfIndex>> = wanted
            .iter()
            .flat_map(|members| {
                members.iter().map(|m| {
                    let others = members
                        .iter()
                        .filter(|o| o.index != m.index)
                        .map(|o| o.index);
                    (m.index, others.collect())
                })
            })
            .collect();
        let gone: HashSet<IfIndex> = dropped.iter().map(|(_, i)| *i).collect();
        for ((request, members), joining) in requests.iter().zip(&wanted).zip(&joining) {
            if joining.is_empty() {
                continue;
            }
            if let Some(path) = loop_path(&mut world, home_id, &planned, &gone, members)? {
                return Err(request.refuse(format!(
                    "it would close a loop: {path}. Frames leaving the hub would come back into \
                     it and circulate forever (a ring like this pins every core at 100% softirq). \
                     Allow loops only if something on the ring (such as STP) breaks it."
                )));
            }
        }
    }

    // The changes.
    let addresses = world.home().addresses()?;
    let mut outcome = HubOutcome::default();
    let mut ops: Vec<(u8, Op)> = Vec::new();
    let mut silencing = silence::Plan::default();
    for ((request, members), joining) in requests.iter().zip(&wanted).zip(&joining) {
        let first_op = ops.len();
        let first_silenced = silencing.ipv6_off.len() + silencing.ops.len();
        let mut left: Vec<String> = Vec::new();
        let mut gone_names: BTreeSet<String> = BTreeSet::new();
        for member in members {
            let state = world.home().tc(member.index)?.clone();
            let installed = fanout(&state);
            gone_names.extend(
                fanout_actions(&installed)
                    .into_iter()
                    .filter(|a| a.to.0 == 0 || !found.links.contains_key(&a.to))
                    .map(|a| a.to_name),
            );
            let others: Vec<(IfIndex, String)> = members
                .iter()
                .filter(|m| m.index != member.index)
                .map(|m| (m.index, m.name.clone()))
                .collect();
            let targets = order_targets(&fanout_actions(&installed), others);
            member_ops(
                &mut ops,
                &request.name,
                member,
                state.qdisc.is_some(),
                &installed,
                &targets,
            );
            record_ops(&mut ops, &request.name, member);
            if !silence::is_silent(member) {
                silencing.add(member);
                outcome.silenced.push(member.name.clone());
            }
        }
        for (hub, index) in dropped.iter().filter(|(hub, _)| *hub == request.name) {
            let Some(link) = found.links.get(index) else {
                continue;
            };
            let installed = fanout(world.home().tc(*index)?);
            drop_ops(&mut ops, hub, link, &installed);
            left.push(link.name.clone());
        }
        let names: HashSet<&str> = members.iter().map(|m| m.name.as_str()).collect();
        left.extend(
            gone_names
                .into_iter()
                .filter(|name| !names.contains(name.as_str())),
        );
        outcome
            .warnings
            .extend(member_warnings(&request.name, members, &addresses));
        let changed =
            ops.len() > first_op || silencing.ipv6_off.len() + silencing.ops.len() > first_silenced;
        let existed = found.members.contains_key(&request.name)
            || members.iter().any(|m| {
                world
                    .home()
                    .tc(m.index)
                    .is_ok_and(|t| t.hub_filters().next().is_some())
            });
        let state = match (existed, changed) {
            (false, _) => SetState::Created,
            (true, true) => SetState::Updated,
            (true, false) => SetState::Unchanged,
        };
        outcome.hubs.push(HubResult {
            name: request.name.clone(),
            state,
            members: members.iter().map(|m| m.name.clone()).collect(),
            joined: joining.iter().map(|i| found.name_of(*i)).collect(),
            left,
        });
    }
    ops.extend(silencing.ops.drain(..).map(|op| (6, op)));
    ops.sort_by_key(|(group, _)| *group);
    let ops: Vec<Op> = ops.into_iter().map(|(_, op)| op).collect();

    let netns = world
        .home()
        .netns
        .try_clone()
        .map_err(|e| WireError::Io(e.to_string()))?;
    let ipv6_changes = silence::set_ipv6(&netns, &silencing.ipv6_off, false)?;
    if let Err(e) = apply::apply(&mut world.home().socket, &ops, options.fault) {
        silence::undo_ipv6(&netns, &ipv6_changes);
        return Err(e);
    }
    outcome.changes = ops.len() + ipv6_changes.len();

    // Former members: empty clsacts go, and they get back what silencing turned off (unless a
    // mirror still sends copies out of them). A failure here is reported, the hubs stand.
    if !dropped.is_empty() {
        let mut failures = Vec::new();
        let view = world.home();
        let mut candidates = Vec::new();
        for (_, index) in &dropped {
            if view.tc(*index)?.qdisc == Some(tc::IngressQdisc::Clsact) {
                candidates.push((*index, found.name_of(*index)));
            }
        }
        crate::wire::unlink::remove_empty_clsacts(&mut view.socket, &candidates, &mut failures);
        let former: Vec<&Link> = dropped
            .iter()
            .filter(|(_, i)| !destinations.contains_key(i))
            .filter_map(|(_, i)| found.links.get(i))
            .collect();
        outcome.restored = silence::restore(&netns, &mut view.socket, &former, &mut failures);
        outcome.warnings.extend(
            failures
                .into_iter()
                .map(|f| format!("after the hubs were set: {f}")),
        );
    }
    Ok(outcome)
}

/// A request after syntax checks: names local to the namespace.
struct Checked {
    name: String,
    members: Vec<String>,
}

impl Checked {
    fn refuse(&self, why: String) -> WireError {
        WireError::Invalid(format!("hub {}: {why}", self.name))
    }
}

/// Names, counts, duplicates and namespaces, before the kernel is asked anything.
fn check_requests(netns: &Netns, hubs: &[HubRequest]) -> Result<Vec<Checked>, WireError> {
    let mut checked: Vec<Checked> = Vec::new();
    let mut used: HashMap<String, String> = HashMap::new();
    for hub in hubs {
        validate_name(&hub.name).map_err(WireError::Invalid)?;
        if checked.iter().any(|c| c.name == hub.name) {
            return Err(WireError::Invalid(format!(
                "hub {} is given twice; give each hub once, with all its members",
                hub.name
            )));
        }
        let refuse = |why: String| WireError::Invalid(format!("hub {}: {why}", hub.name));
        let mut members: Vec<String> = Vec::new();
        for member in &hub.members {
            let name = local_name(netns, &hub.name, member)?;
            if members.contains(&name) {
                return Err(refuse(format!("{name} is listed twice")));
            }
            if let Some(other) = used.get(&name) {
                return Err(WireError::Invalid(format!(
                    "{name} is listed in hubs {other} and {}; an interface can be a port of only \
                     one hub",
                    hub.name
                )));
            }
            used.insert(name.clone(), hub.name.clone());
            members.push(name);
        }
        match members.len() {
            0 => {
                return Err(refuse(
                    "no members given; a hub needs at least 2 (to take a hub apart, remove it)"
                        .into(),
                ));
            }
            1 => {
                return Err(refuse(format!(
                    "only one member given ({}); a hub needs at least 2",
                    members[0]
                )));
            }
            n if n > MAX_MEMBERS => {
                return Err(refuse(format!(
                    "{n} members given; a hub has at most {MAX_MEMBERS} (every frame is copied to \
                     every other member: N members hold N x (N-1) mirred actions and turn each \
                     frame into N-1; use a switch for more)"
                )));
            }
            _ => {}
        }
        checked.push(Checked {
            name: hub.name.clone(),
            members,
        });
    }
    Ok(checked)
}

/// `IF` or `NETNS:IF`; the namespace must be the command's own.
fn local_name(netns: &Netns, hub: &str, member: &str) -> Result<String, WireError> {
    let (ns, name) = match member.split_once(':') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, member),
    };
    link::validate_name(name).map_err(|e| WireError::Invalid(format!("hub {hub}: {e}")))?;
    if let Some(ns) = ns {
        let elsewhere = Netns::open(Some(ns))?;
        if !elsewhere.same_as(netns) {
            return Err(WireError::Invalid(format!(
                "hub {hub}: {name} is in netns {ns} but the hub is being made in {}: mirred cannot \
                 send to another namespace (its target is looked up in the filter's own \
                 namespace). Join the namespaces with a veth pair (ip link add X type veth peer \
                 name Y netns {ns}) and make X the member here",
                netns.describe()
            )));
        }
    }
    Ok(name.to_string())
}

/// Refuses interfaces that cannot carry a hub's Ethernet frames or belong to something else.
fn check_kind(found: &Found, request: &Checked, link: &Link) -> Result<(), WireError> {
    let name = &link.name;
    if link.loopback {
        return Err(request.refuse(format!(
            "{name} is a loopback interface; a hub member must be an Ethernet-like interface (veth, \
             tap, vxlan, NIC)"
        )));
    }
    if link.is_l3_tun() || link.mac.is_none() {
        return Err(request.refuse(format!(
            "{name} is a layer-3 device (no Ethernet header); a hub member must carry Ethernet \
             frames (veth, tap, vxlan, NIC)"
        )));
    }
    if let Some(master) = link.master {
        let (kind, controller) = found.links.get(&master).map_or_else(
            || ("controller".to_string(), format!("ifindex {master}")),
            |c| {
                (
                    c.kind.clone().unwrap_or_else(|| "controller".into()),
                    c.name.clone(),
                )
            },
        );
        return Err(request.refuse(format!(
            "{name} is a port of {kind} {controller}: the {kind} would still send and receive \
             through it, so frames would also go where the {kind} sends them. Release it first: \
             ip link set dev {name} nomaster"
        )));
    }
    Ok(())
}

/// The other members (`others`, in the order asked) in the order a member's fan-out sends to
/// them: the order `installed` already has (so an unchanged hub is left alone), then
/// newcomers in the order asked.
fn order_targets(
    installed: &[HubAction],
    others: Vec<(IfIndex, String)>,
) -> Vec<(IfIndex, String)> {
    let mut order: Vec<(IfIndex, String)> = Vec::new();
    for action in installed {
        let known = others.iter().find(|(index, _)| *index == action.to);
        if let Some(other) = known
            && !order.contains(other)
        {
            order.push(other.clone());
        }
    }
    for other in others {
        if !order.contains(&other) {
            order.push(other);
        }
    }
    order
}

/// The filter as it is, as a request that writes it again (same priority and handle), when it
/// can be: a mirred action cannot be made towards a device that is gone.
fn previous(filter: &Filter) -> Option<RouteNetlinkMessage> {
    let actions = filter.hub_actions();
    if actions.len() != filter.actions.len() || actions.iter().any(|a| a.to.0 == 0) {
        return None;
    }
    Some(tc::hub_filter(
        filter.ifindex,
        filter.prio,
        Some(filter.handle),
        &actions,
    ))
}

/// Ops that make `member`'s fan-out send to `targets`: new filters added, changed ones
/// rewritten in place, surplus ones removed — in the groups that keep every frame flowing.
fn member_ops(
    ops: &mut Vec<(u8, Op)>,
    hub: &str,
    member: &Link,
    has_qdisc: bool,
    installed: &[Filter],
    targets: &[(IfIndex, String)],
) {
    let chain = tc::hub_chain(targets);
    let mut by_prio: BTreeMap<u16, Vec<&Filter>> = BTreeMap::new();
    for filter in installed {
        by_prio.entry(filter.prio).or_default().push(filter);
    }
    if !has_qdisc {
        ops.extend(apply::add_clsact(member).into_iter().map(|op| (0, op)));
    }
    let what = |prio: u16| format!("hub {hub}'s filter on {} (priority {prio})", member.name);
    for (prio, actions) in &chain {
        let existing = by_prio.remove(prio).unwrap_or_default();
        match existing[..] {
            [one]
                if one.hub_actions() == *actions
                    && one.hub_actions().len() == one.actions.len() => {}
            [one] => ops.push((
                3,
                Op::Prepared {
                    request: (
                        tc::hub_filter(member.index, *prio, Some(one.handle), actions),
                        NLM_F_REPLACE,
                    ),
                    undo: previous(one).map(|p| (p, NLM_F_REPLACE)),
                    what: format!("rewriting {} in place", what(*prio)),
                },
            )),
            ref several => {
                // Two of our rules at one priority (made by hand?): clear the priority first.
                if !several.is_empty() {
                    ops.push((
                        1,
                        Op::DeleteFilter {
                            index: member.index,
                            parent: tc::INGRESS_PARENT,
                            prio: *prio,
                            what: format!("the duplicate hub filters on {}", member.name),
                        },
                    ));
                }
                ops.push((
                    2,
                    Op::AddFilter {
                        index: member.index,
                        parent: tc::INGRESS_PARENT,
                        prio: *prio,
                        request: tc::hub_filter(member.index, *prio, None, actions),
                        what: what(*prio),
                    },
                ));
            }
        }
    }
    for (prio, filters) in by_prio {
        remove_filter_ops(ops, hub, member, prio, &filters);
    }
}

/// Removes one priority of a member's fan-out; undone by creating the filter again.
fn remove_filter_ops(
    ops: &mut Vec<(u8, Op)>,
    hub: &str,
    member: &Link,
    prio: u16,
    filters: &[&Filter],
) {
    let undo = match filters {
        [one] => previous(one).map(|p| (p, NLM_F_CREATE | NLM_F_EXCL)),
        _ => None,
    };
    ops.push((
        4,
        Op::Prepared {
            request: (
                tc::delete_filters_at(member.index, tc::INGRESS_PARENT, prio),
                0,
            ),
            undo,
            what: format!(
                "removing hub {hub}'s filter on {} (priority {prio})",
                member.name
            ),
        },
    ));
}

/// The member's record: added, or moved from another hub (or another index).
fn record_ops(ops: &mut Vec<(u8, Op)>, hub: &str, member: &Link) {
    let record = format!("{HUB_RECORD}{hub}.{}", member.index);
    match hub_record(member) {
        Some((_, altname, _)) if altname == record => {}
        Some((_, altname, _)) => {
            ops.push((5, delete_record(member, &altname)));
            ops.push((6, add_record(member, record)));
        }
        None => ops.push((6, add_record(member, record))),
    }
}

fn add_record(member: &Link, altname: String) -> Op {
    Op::AddAltname {
        index: member.index,
        name: member.name.clone(),
        altname,
    }
}

fn delete_record(member: &Link, altname: &str) -> Op {
    Op::Prepared {
        request: link::altname(member.index, altname, false),
        undo: Some(link::altname(member.index, altname, true)),
        what: format!("removing the record {altname} from {}", member.name),
    }
}

/// A member leaving: its fan-out and its record go.
fn drop_ops(ops: &mut Vec<(u8, Op)>, hub: &str, member: &Link, installed: &[Filter]) {
    let mut by_prio: BTreeMap<u16, Vec<&Filter>> = BTreeMap::new();
    for filter in installed {
        by_prio.entry(filter.prio).or_default().push(filter);
    }
    for (prio, filters) in by_prio {
        remove_filter_ops(ops, hub, member, prio, &filters);
    }
    if let Some((_, altname, _)) = hub_record(member) {
        ops.push((5, delete_record(member, &altname)));
    }
}

/// What is worth knowing about the members even when nothing changes.
fn member_warnings(
    hub: &str,
    members: &[Link],
    addresses: &HashMap<IfIndex, Vec<String>>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(problem) = mtu_problem(members) {
        warnings.push(format!("hub {hub}: {problem}"));
    }
    for member in members {
        if !member.up || !member.carrier {
            warnings.push(format!(
                "hub {hub}: {} {}",
                member.name,
                end_condition(member)
            ));
        }
        let ipv4: Vec<&str> = addresses
            .get(&member.index)
            .into_iter()
            .flatten()
            .filter(|a| !a.contains(':'))
            .map(String::as_str)
            .collect();
        if !ipv4.is_empty() {
            warnings.push(format!(
                "hub {hub}: {}",
                addresses_problem(&member.name, &ipv4)
            ));
        }
    }
    warnings
}

/// "mtu differs: …" when the members' MTUs differ (the same words in `set` and `show`).
pub(super) fn mtu_problem<'a>(members: impl IntoIterator<Item = &'a Link>) -> Option<String> {
    let members: Vec<&Link> = members.into_iter().collect();
    let small = members.iter().min_by_key(|m| m.mtu)?;
    let large = members.iter().max_by_key(|m| m.mtu)?;
    (small.mtu != large.mtu).then(|| {
        format!(
            "mtu differs: {} has {} but {} has {}: frames larger than {} bytes are dropped towards \
             the smaller members",
            small.name,
            small.mtu,
            large.name,
            large.mtu,
            small.mtu + 14
        )
    })
}

/// A member with addresses is not silent: the namespace's own stack can send from it.
pub(super) fn addresses_problem(name: &str, addresses: &[&str]) -> String {
    format!(
        "{name} has address {}: the namespace's own stack can send frames from it into the hub (a \
         hub sends nothing of its own; remove it with ip addr flush dev {name})",
        addresses.join(", ")
    )
}

/// Each frame must reach each member once: refuses a joining member that receives a mirror's
/// copies (unless that mirror was added `--onto-wire`), and a mirror copying frames between
/// two members where one of them joins.
fn refuse_mirror_conflicts(
    world: &mut World,
    destinations: &HashMap<IfIndex, Vec<MirrorInto>>,
    request: &Checked,
    members: &[Link],
    joining: &[IfIndex],
) -> Result<(), WireError> {
    if joining.is_empty() {
        return Ok(());
    }
    for member in members.iter().filter(|m| joining.contains(&m.index)) {
        let refused = destinations
            .get(&member.index)
            .into_iter()
            .flatten()
            .find(|m| !m.onto_wire);
        if let Some(into) = refused {
            let mirror = &into.mirror;
            return Err(request.refuse(format!(
                "{0} is the destination of mirror {mirror}: its copies would leave {0} mixed with \
                 the hub's traffic, to whatever is behind it. Remove the mirror (patchwire mirror \
                 del {mirror}), or add it again with --onto-wire if that is what you want",
                member.name
            )));
        }
    }
    for member in members {
        let copies: Vec<(String, IfIndex)> =
            world.home().tc(member.index)?.mirror_copies().collect();
        for (mirror, to) in copies {
            let Some(other) = members.iter().find(|m| m.index == to) else {
                continue;
            };
            if joining.contains(&member.index) || joining.contains(&to) {
                return Err(request.refuse(format!(
                    "mirror {mirror} copies frames of {} to {}: in the hub every frame entering {} \
                     reaches {} already, so it would arrive twice. Remove the mirror first \
                     (patchwire mirror del {mirror})",
                    member.name, other.name, member.name, other.name
                )));
            }
        }
    }
    Ok(())
}

/// Follows where frames leaving the hub at each member go — the member's veth peer (in any
/// namespace), then that interface's wire or hub, its veth peer… — and returns the path if
/// they come back to a member: the hub would close a ring. `planned` is every member's
/// fan-out after this call in the command's namespace; `gone` are members leaving.
fn loop_path(
    world: &mut World,
    home: crate::netns::NsKey,
    planned: &HashMap<IfIndex, Vec<IfIndex>>,
    gone: &HashSet<IfIndex>,
    members: &[Link],
) -> Result<Option<String>, WireError> {
    const MAX_NODES: usize = 100_000;
    let is_member = |node: &NodeKey| node.0 == home && members.iter().any(|m| m.index == node.1);
    let mut came: HashMap<NodeKey, Hop> = HashMap::new();
    let mut queue: VecDeque<NodeKey> = VecDeque::new();
    let mut peers_by_ns: HashMap<crate::netns::NsKey, Vec<IfIndex>> = HashMap::new();
    for member in members {
        if let Some(peer) = world.peer_of(home, member)? {
            peers_by_ns.entry(peer.0).or_default().push(peer.1);
            let hop = Hop {
                exit: (home, member.index),
                before: None,
                how: "",
            };
            if came.insert(peer, hop).is_none() {
                queue.push_back(peer);
            }
        }
    }
    for (ns, peers) in peers_by_ns {
        world.view(ns).load_tc(&peers)?;
    }
    while let Some(node) = queue.pop_front() {
        if is_member(&node) {
            return describe_path(world, home, &came, node).map(Some);
        }
        if came.len() > MAX_NODES {
            break;
        }
        let (how, exits): (&'static str, Vec<IfIndex>) =
            if node.0 == home && planned.contains_key(&node.1) {
                ("-hub-", planned[&node.1].clone())
            } else if node.0 == home && gone.contains(&node.1) {
                ("", Vec::new())
            } else {
                let state = world.view(node.0).tc(node.1)?;
                match state.wire_filter().and_then(|f| f.wire_target()) {
                    Some(target) => ("-wire-", vec![target]),
                    None => (
                        "-hub-",
                        state
                            .hub_filters()
                            .flat_map(Filter::hub_actions)
                            .map(|a| a.to)
                            .collect(),
                    ),
                }
            };
        for exit in exits.into_iter().filter(|e| e.0 != 0) {
            let Some(link) = world.view(node.0).link(exit)? else {
                continue;
            };
            let Some(peer) = world.peer_of(node.0, &link)? else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(entry) = came.entry(peer) {
                entry.insert(Hop {
                    exit: (node.0, exit),
                    before: Some(node),
                    how,
                });
                queue.push_back(peer);
            }
        }
    }
    Ok(None)
}

/// How the loop search reached an interface: frames left through `exit` (a veth end), having
/// arrived at `before` and crossed its wire or hub (`how`); `before` is `None` for a member
/// of the hub being set.
struct Hop {
    exit: NodeKey,
    before: Option<NodeKey>,
    how: &'static str,
}

/// "m1 -veth- x1 -wire- x2 -veth- m2", namespaces named where they are not the command's.
fn describe_path(
    world: &mut World,
    home: crate::netns::NsKey,
    came: &HashMap<NodeKey, Hop>,
    end: NodeKey,
) -> Result<String, WireError> {
    // Walk back: arrival <-veth- exit <-wire/hub- arrival ... <-veth- the member left by.
    let mut hops: Vec<(&str, NodeKey)> = Vec::new();
    let mut at = end;
    while let Some(hop) = came.get(&at) {
        hops.push(("-veth-", at));
        match hop.before {
            Some(before) => {
                hops.push((hop.how, hop.exit));
                at = before;
            }
            None => {
                hops.push(("", hop.exit));
                break;
            }
        }
    }
    hops.reverse();
    // Each node is written after how it is reached.
    let mut words = Vec::new();
    for (i, (_, (ns, index))) in hops.iter().enumerate() {
        let name = world
            .view(*ns)
            .link(*index)?
            .map(|l| l.name)
            .unwrap_or_else(|| format!("ifindex {index}"));
        let name = match *ns == home {
            true => name,
            false => format!("{name} ({})", world.view(*ns).netns.describe()),
        };
        let how = match i {
            0 => String::new(),
            _ => format!("{} ", hops[i].0),
        };
        words.push(format!("{how}{name}"));
    }
    Ok(words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(hubs: &[HubRequest]) -> Result<Vec<Checked>, String> {
        let here = Netns::current().unwrap();
        check_requests(&here, hubs).map_err(|e| e.to_string())
    }

    fn target(index: u32, name: &str) -> (IfIndex, String) {
        (IfIndex(index), name.to_string())
    }

    #[test]
    fn a_fan_out_keeps_its_order_and_newcomers_come_last() {
        let installed: Vec<HubAction> = [(7, "c"), (0, "gone"), (5, "b")]
            .iter()
            .map(|(to, name)| HubAction {
                to: IfIndex(*to),
                to_name: name.to_string(),
                redirect: false,
                control: tc::CONTROL_PIPE,
            })
            .collect();
        let asked = vec![target(5, "b"), target(9, "d"), target(7, "c")];
        assert_eq!(
            order_targets(&installed, asked),
            [target(7, "c"), target(5, "b"), target(9, "d")],
            "the gone member is dropped, the newcomer appended"
        );
    }

    #[test]
    fn requests_are_checked_before_the_kernel_is_asked() {
        assert!(checked(&[HubRequest::new("seg", &["a", "b", "c"])]).is_ok());
        assert_eq!(
            checked(&[HubRequest::new("seg", &["a"])]).err().unwrap(),
            "hub seg: only one member given (a); a hub needs at least 2"
        );
        assert_eq!(
            checked(&[HubRequest::new("seg", &[])]).err().unwrap(),
            "hub seg: no members given; a hub needs at least 2 (to take a hub apart, remove it)"
        );
        assert_eq!(
            checked(&[HubRequest::new("seg", &["a", "b", "a"])])
                .err()
                .unwrap(),
            "hub seg: a is listed twice"
        );
        assert_eq!(
            checked(&[
                HubRequest::new("s1", &["a", "b"]),
                HubRequest::new("s2", &["c", "a"])
            ])
            .err()
            .unwrap(),
            "a is listed in hubs s1 and s2; an interface can be a port of only one hub"
        );
        assert_eq!(
            checked(&[
                HubRequest::new("s1", &["a", "b"]),
                HubRequest::new("s1", &["c", "d"])
            ])
            .err()
            .unwrap(),
            "hub s1 is given twice; give each hub once, with all its members"
        );
        assert!(
            checked(&[HubRequest::new("bad name", &["a", "b"])])
                .err()
                .unwrap()
                .contains("contains ' '")
        );
        assert!(
            checked(&[HubRequest::new("seg", &["a234567890123456", "b"])])
                .err()
                .unwrap()
                .starts_with("hub seg: interface name")
        );
        let many: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("m{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(
            checked(&[HubRequest::new("big", &many)])
                .err()
                .unwrap()
                .starts_with("hub big: 257 members given; a hub has at most 256")
        );
    }
}

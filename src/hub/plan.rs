//! `hub::set`'s plan: from the hubs asked to the kernel changes that make them, in phases —
//! requests checked (no kernel), members looked up, refusals (wire ends, other hubs' ports,
//! foreign filters, mirrors, loops), who joins and who leaves, then the ops per member.
//! Planning reads everything first (one link dump, the tc state of every member involved) and
//! changes nothing: `set.rs` applies the plan.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::inventory::{HubInventory, fanout, fanout_actions};
use super::ops::{drop_ops, member_ops, order_targets, record_ops};
use super::set::{HubOptions, HubOutcome, HubRequest, HubResult, SetState};
use super::{MAX_MEMBERS, priorities, validate_name};
use crate::netns::Netns;
use crate::nl::link::{self, IfIndex, Link};
use crate::wire::apply::Op;
use crate::wire::inventory::{MirrorInto, NodeKey, World};
use crate::wire::loop_guard::{Crossing, loop_path};
use crate::wire::{
    Segment, WireError, addresses_problem, end_condition, hub_mtu_problem, missing_interface,
    silence,
};

/// What [`plan`] found to do: the kernel changes, in batch order, and what to report.
pub(super) struct Plan {
    /// The namespaces looked at, with their sockets and what was read.
    pub world: World,
    /// The hubs the kernel held before.
    pub inventory: HubInventory,
    /// The changes, in the order that keeps frames flowing (see `ops.rs`).
    pub ops: Vec<Op>,
    /// Members whose IPv6 is turned off (done before the batch, undone if it fails).
    pub ipv6_off: Vec<String>,
    /// What `set` reports; `changes` is filled in once applied.
    pub outcome: HubOutcome,
    /// Former members (hub, index), given back what silencing turned off once applied.
    pub dropped: Vec<(String, IfIndex)>,
    /// Interfaces that receive mirrors' copies (a former member that does stays silent).
    pub destinations: HashMap<IfIndex, Vec<MirrorInto>>,
}

/// Who joins and who leaves each hub asked for.
struct Membership {
    /// Per hub asked for, members that were not its ports before.
    joining: Vec<Vec<IfIndex>>,
    /// (hub, index) of former members not asked for any more.
    dropped: Vec<(String, IfIndex)>,
}

/// Plans `hubs` in `netns`: refuses what cannot be done before anything changes, and skips
/// what is already as asked.
pub(super) fn plan(
    netns: Netns,
    hubs: &[HubRequest],
    options: &HubOptions,
) -> Result<Plan, WireError> {
    let requests = check_requests(&netns, hubs)?;
    let mut world = World::new(netns)?;
    let inventory = HubInventory::read(world.home())?;
    let wanted = lookup_members(&mut world, &inventory, &requests)?;
    load_tc(&mut world, &inventory, &requests, &wanted)?;
    refuse_taken(&mut world, &inventory, &requests, &wanted)?;
    let membership = membership(&inventory, &requests, &wanted);
    let changing =
        membership.joining.iter().any(|j| !j.is_empty()) || !membership.dropped.is_empty();
    let destinations = match changing {
        true => world.home().mirror_destinations()?,
        false => HashMap::new(),
    };
    for ((request, members), joining) in requests.iter().zip(&wanted).zip(&membership.joining) {
        refuse_mirror_conflicts(&mut world, &destinations, request, members, joining)?;
    }
    if !options.allow_loop {
        refuse_loops(&mut world, &requests, &wanted, &membership)?;
    }
    let mut plan = Plan {
        world,
        inventory,
        ops: Vec::new(),
        ipv6_off: Vec::new(),
        outcome: HubOutcome::default(),
        dropped: membership.dropped.clone(),
        destinations,
    };
    plan_changes(&mut plan, &requests, &wanted, &membership.joining)?;
    Ok(plan)
}

/// Each request's members as links, refusing what cannot be a hub port.
fn lookup_members(
    world: &mut World,
    inventory: &HubInventory,
    requests: &[Checked],
) -> Result<Vec<Vec<Link>>, WireError> {
    let mut wanted = Vec::new();
    for request in requests {
        let mut members = Vec::new();
        for name in &request.members {
            let Some(link) = inventory
                .by_name
                .get(name)
                .map(|i| inventory.links[i].clone())
            else {
                return Err(request.refuse(missing_interface(&world.home().netns, name)));
            };
            check_kind(inventory, request, &link)?;
            members.push(link);
        }
        wanted.push(members);
    }
    Ok(wanted)
}

/// The tc state of every member asked for and every current member of the hubs asked for, in
/// one round.
fn load_tc(
    world: &mut World,
    inventory: &HubInventory,
    requests: &[Checked],
    wanted: &[Vec<Link>],
) -> Result<(), WireError> {
    let mut involved: BTreeSet<IfIndex> = wanted.iter().flatten().map(|m| m.index).collect();
    for request in requests {
        involved.extend(inventory.members.get(&request.name).into_iter().flatten());
    }
    let involved: Vec<IfIndex> = involved.into_iter().collect();
    world.home().load_tc(&involved)
}

/// Refusals that need the tc state: wire ends, other hubs' ports, foreign filters.
fn refuse_taken(
    world: &mut World,
    inventory: &HubInventory,
    requests: &[Checked],
    wanted: &[Vec<Link>],
) -> Result<(), WireError> {
    let requested: HashSet<&str> = requests.iter().map(|r| r.name.as_str()).collect();
    for (request, members) in requests.iter().zip(wanted) {
        for member in members {
            let state = world.home().tc(member.index)?.clone();
            if let Some(filter) = state.wire_filter() {
                let target = filter.wire_target().unwrap_or(IfIndex(0));
                let partner = match inventory.links.get(&target).filter(|_| target.0 != 0) {
                    Some(partner) => partner.name.clone(),
                    None => filter.wire_partner_name().unwrap_or_else(|| "?".into()),
                };
                return Err(request.refuse(format!(
                    "{0} is a wire end ({0} <-> {partner}); an interface is a wire end or a hub \
                     port, never both: unlink it first (patchwire unlink {0})",
                    member.name
                )));
            }
            if let Some(other) = inventory.hub_of(member.index)
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
    Ok(())
}

/// Who joins and who leaves each hub.
fn membership(inventory: &HubInventory, requests: &[Checked], wanted: &[Vec<Link>]) -> Membership {
    let asked: HashSet<IfIndex> = wanted.iter().flatten().map(|m| m.index).collect();
    let mut joining: Vec<Vec<IfIndex>> = Vec::new();
    let mut dropped: Vec<(String, IfIndex)> = Vec::new();
    for (request, members) in requests.iter().zip(wanted) {
        let before = inventory.members.get(&request.name);
        joining.push(
            members
                .iter()
                .map(|m| m.index)
                .filter(|i| !before.is_some_and(|b| b.contains(i)))
                .collect(),
        );
        for index in before.into_iter().flatten() {
            if !asked.contains(index) {
                dropped.push((request.name.clone(), *index));
            }
        }
    }
    Membership { joining, dropped }
}

/// Refuses a hub that gains members and would close a ring (the loop guard of wires, with
/// every hub's fan-out after this call planned, and leaving members forwarding nothing).
fn refuse_loops(
    world: &mut World,
    requests: &[Checked],
    wanted: &[Vec<Link>],
    membership: &Membership,
) -> Result<(), WireError> {
    let home = world.home_id();
    let mut planned: HashMap<NodeKey, Crossing> = HashMap::new();
    for (_, index) in &membership.dropped {
        let exits = Vec::new();
        planned.insert((home, *index), Crossing { how: "", exits });
    }
    for members in wanted {
        for member in members {
            let exits = members
                .iter()
                .filter(|o| o.index != member.index)
                .map(|o| (home, o.index))
                .collect();
            planned.insert(
                (home, member.index),
                Crossing {
                    how: "-hub-",
                    exits,
                },
            );
        }
    }
    for ((request, members), joining) in requests.iter().zip(wanted).zip(&membership.joining) {
        if joining.is_empty() {
            continue;
        }
        let targets: HashSet<NodeKey> = members.iter().map(|m| (home, m.index)).collect();
        if let Some(path) = loop_path(world, members, &targets, &planned)? {
            return Err(request.refuse(format!(
                "it would close a loop: {path}. Frames leaving the hub would come back into \
                 it and circulate forever (a ring like this pins every core at 100% softirq). \
                 Allow loops only if something on the ring (such as STP) breaks it."
            )));
        }
    }
    Ok(())
}

/// The ops for each hub asked for — every member's fan-out and record, former members'
/// removal, silencing — and what to report about it.
fn plan_changes(
    plan: &mut Plan,
    requests: &[Checked],
    wanted: &[Vec<Link>],
    joining: &[Vec<IfIndex>],
) -> Result<(), WireError> {
    let addresses = plan.world.home().addresses()?;
    let fix = crate::wire::FixCommands::for_netns(&plan.world.home().netns);
    let mut ops: Vec<(u8, Op)> = Vec::new();
    let mut silencing = silence::Plan::default();
    for ((request, members), joining) in requests.iter().zip(wanted).zip(joining) {
        let first_op = ops.len();
        let first_silenced = silencing.ipv6_off.len() + silencing.ops.len();
        let mut gone_names: BTreeSet<String> = BTreeSet::new();
        for member in members {
            gone_names.extend(member_changes(plan, &mut ops, request, members, member)?);
            if !silence::is_silent(member) {
                silencing.add(member);
                plan.outcome.silenced.push(member.name.clone());
            }
        }
        let mut left = leaving_changes(plan, &mut ops, request)?;
        let names: HashSet<&str> = members.iter().map(|m| m.name.as_str()).collect();
        left.extend(
            gone_names
                .into_iter()
                .filter(|name| !names.contains(name.as_str())),
        );
        plan.outcome
            .warnings
            .extend(member_warnings(&request.name, members, &addresses, &fix));
        let changed =
            ops.len() > first_op || silencing.ipv6_off.len() + silencing.ops.len() > first_silenced;
        let existed = plan.inventory.members.contains_key(&request.name)
            || members.iter().any(|m| {
                plan.world
                    .home()
                    .tc(m.index)
                    .is_ok_and(|t| t.hub_filters().next().is_some())
            });
        let state = match (existed, changed) {
            (false, _) => SetState::Created,
            (true, true) => SetState::Updated,
            (true, false) => SetState::Unchanged,
        };
        plan.outcome.hubs.push(HubResult {
            name: request.name.clone(),
            state,
            members: members.iter().map(|m| m.name.clone()).collect(),
            joined: joining.iter().map(|i| plan.inventory.name_of(*i)).collect(),
            left,
        });
    }
    ops.extend(silencing.ops.drain(..).map(|op| (6, op)));
    ops.sort_by_key(|(group, _)| *group);
    plan.ops = ops.into_iter().map(|(_, op)| op).collect();
    plan.ipv6_off = silencing.ipv6_off;
    Ok(())
}

/// The ops that make `member`'s fan-out and record as `request` asks; returns the names of
/// gone members its installed fan-out still sends to.
fn member_changes(
    plan: &mut Plan,
    ops: &mut Vec<(u8, Op)>,
    request: &Checked,
    members: &[Link],
    member: &Link,
) -> Result<Vec<String>, WireError> {
    let state = plan.world.home().tc(member.index)?.clone();
    let installed = fanout(&state);
    let gone = fanout_actions(&installed)
        .into_iter()
        .filter(|a| a.to.0 == 0 || !plan.inventory.links.contains_key(&a.to))
        .map(|a| a.to_name)
        .collect();
    let others: Vec<(IfIndex, String)> = members
        .iter()
        .filter(|m| m.index != member.index)
        .map(|m| (m.index, m.name.clone()))
        .collect();
    let targets = order_targets(&fanout_actions(&installed), others);
    member_ops(
        ops,
        &request.name,
        member,
        state.qdisc.is_some(),
        &installed,
        &targets,
    );
    record_ops(ops, &request.name, member);
    Ok(gone)
}

/// The ops that take `request`'s former members out; returns their names.
fn leaving_changes(
    plan: &mut Plan,
    ops: &mut Vec<(u8, Op)>,
    request: &Checked,
) -> Result<Vec<String>, WireError> {
    let mut left = Vec::new();
    let leaving = plan.dropped.iter().filter(|(hub, _)| *hub == request.name);
    for (hub, index) in leaving {
        let Some(link) = plan.inventory.links.get(index) else {
            continue;
        };
        let installed = fanout(plan.world.home().tc(*index)?);
        drop_ops(ops, hub, link, &installed);
        left.push(link.name.clone());
    }
    Ok(left)
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
fn check_kind(found: &HubInventory, request: &Checked, link: &Link) -> Result<(), WireError> {
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

/// What is worth knowing about the members even when nothing changes.
fn member_warnings(
    hub: &str,
    members: &[Link],
    addresses: &HashMap<IfIndex, Vec<String>>,
    fix: &crate::wire::FixCommands,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(problem) = hub_mtu_problem(members) {
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
                addresses_problem(Segment::Hub, &member.name, &ipv4, fix)
            ));
        }
    }
    warnings
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

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(hubs: &[HubRequest]) -> Result<Vec<Checked>, String> {
        let here = Netns::current().unwrap();
        check_requests(&here, hubs).map_err(|e| e.to_string())
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

//! `hub::show`: hubs rebuilt from the kernel — members from their records, fan-outs from their
//! filters, gone members from the cookies of the filters that still point at them — with
//! health, problems and per-member counters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::inventory::{HubInventory, fanout, fanout_actions};
use crate::marks::HUB_RECORD;
use crate::netns::Netns;
use crate::nl::link::{IfIndex, Link};
use crate::nl::tc::{self, Filter};
use crate::wire::inventory::{NsView, TcState};
use crate::wire::show::silent_and_addresses;
use crate::wire::{
    Health, PortStatus, Segment, WireError, addresses_problem, end_condition, hub_mtu_problem,
};

/// One hub as rebuilt from its members' records and filters, with health, problems and counters.
#[derive(Debug, Clone, Serialize)]
pub struct HubStatus {
    /// The hub's name.
    pub name: String,
    /// ok; degraded (a member down or without carrier, a fan-out filter missing or incomplete,
    /// MTUs differ, a member not silent, another tool's filter ahead); broken (a member gone).
    pub health: Health,
    /// Each problem in words: what happens to frames, and the repair.
    pub problems: Vec<String>,
    /// Present members in interface-index order, then gone ones.
    pub members: Vec<MemberStatus>,
}

impl HubStatus {
    /// Whether an interface called `name` is one of the hub's members (present or gone).
    pub fn has_member(&self, name: &str) -> bool {
        self.members.iter().any(|m| m.name == name)
    }
}

/// One member of a hub as the kernel has it now.
#[derive(Debug, Clone, Serialize)]
pub struct MemberStatus {
    /// Name, index, kind, MTU, state (see [`PortStatus`]); a gone member is named from the
    /// other members' cookies.
    #[serde(flatten)]
    pub port: PortStatus,
    /// Sends nothing of its own: IPv6 off, no addresses (see `wire::silence`).
    pub silent: bool,
    /// IP addresses on the member (a hub port should have none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// What entered this member and was fanned out; `None` when it has no fan-out filter.
    pub counters: Option<MemberCounters>,
}

impl std::ops::Deref for MemberStatus {
    type Target = PortStatus;

    fn deref(&self) -> &PortStatus {
        &self.port
    }
}

/// Counters of one member's fan-out (its filters' mirred actions). They count from the moment
/// the member's filters were last written: adding or dropping any member rewrites them all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemberCounters {
    /// Frames that entered the member (each is sent on to every other member).
    pub packets: u64,
    /// Their frame bytes, Ethernet header included (as `wire::show` counts them); a VLAN tag
    /// the kernel holds in metadata is not counted.
    pub bytes: u64,
    /// Copies handed to the other members: packets x (members - 1) when nothing is dropped.
    pub copies: u64,
    /// Copies mirred could not deliver (a member gone, down or without carrier).
    pub drops: u64,
}

const ETHERNET_HEADER: u64 = 14;

/// Every hub in `netns`, by name.
pub fn show(netns: Netns) -> Result<Vec<HubStatus>, WireError> {
    show_in(&mut NsView::open(netns)?)
}

/// [`show`] over a view that may already hold the namespace's tc state (a lab reads its
/// panel once for wires and hubs).
pub fn show_in(view: &mut NsView) -> Result<Vec<HubStatus>, WireError> {
    let found = HubInventory::read(view)?;
    let indexes: Vec<IfIndex> = found.links.keys().copied().collect();
    view.load_tc_all(&indexes)?;
    let addresses = view.addresses()?;
    let fix = crate::wire::FixCommands::for_netns(&view.netns);

    let mut hubs: BTreeMap<String, BTreeSet<IfIndex>> = found.members.clone();
    // Hub filters without a record: part of the hub their live targets belong to.
    let mut unrecorded: Vec<IfIndex> = Vec::new();
    for index in &indexes {
        let state = view.tc(*index)?;
        if found.hub_of(*index).is_some() || state.hub_filters().next().is_none() {
            continue;
        }
        let hub = fanout_actions(&fanout(state))
            .iter()
            .find_map(|a| found.hub_of(a.to))
            .unwrap_or_else(|| "?".into());
        hubs.entry(hub).or_default().insert(*index);
        unrecorded.push(*index);
    }

    let mut statuses = Vec::new();
    for (name, members) in hubs {
        let mut tc = HashMap::new();
        for index in &members {
            tc.insert(*index, view.tc(*index)?.clone());
        }
        let context = Context {
            hub: &name,
            found: &found,
            addresses: &addresses,
            tc: &tc,
            unrecorded: &unrecorded,
            fix: &fix,
        };
        statuses.push(context.status(&members));
    }
    Ok(statuses)
}

struct Context<'a> {
    hub: &'a str,
    found: &'a HubInventory,
    addresses: &'a HashMap<IfIndex, Vec<String>>,
    tc: &'a HashMap<IfIndex, TcState>,
    unrecorded: &'a [IfIndex],
    /// How the fixes the problems name are typed for this namespace.
    fix: &'a crate::wire::FixCommands,
}

impl Context<'_> {
    fn status(&self, members: &BTreeSet<IfIndex>) -> HubStatus {
        let links: Vec<&Link> = members.iter().map(|i| &self.found.links[i]).collect();
        let mut problems: Vec<String> = Vec::new();
        let mut broken: Vec<String> = Vec::new();
        // Gone members: named by the cookies still pointing at them, with who points.
        let mut gone: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut statuses = Vec::new();
        for link in &links {
            let state = &self.tc[&link.index];
            let filters = fanout(state);
            let actions = fanout_actions(&filters);
            for action in &actions {
                if action.to.0 == 0 || !self.found.links.contains_key(&action.to) {
                    gone.entry(action.to_name.clone())
                        .or_default()
                        .push(link.name.clone());
                }
            }
            problems.extend(self.fanout_problems(link, &links, &filters));
            problems.extend(self.member_problems(link, state));
            statuses.push(self.member_status(link, &filters));
        }
        if let Some(problem) = hub_mtu_problem(links.iter().copied()) {
            problems.push(problem);
        }
        for (name, pointing) in &gone {
            let again = match self.found.by_name.get(name) {
                Some(_) => format!(
                    "; an interface named {name} exists again (a new one): set the hub again with \
                     it to take it in"
                ),
                None => String::new(),
            };
            broken.push(format!(
                "{name} is gone (deleted, or moved to another netns): the copies {} send it are \
                 dropped; set the hub again without it to clear the remains{again}",
                pointing.join(", ")
            ));
            statuses.push(MemberStatus {
                port: PortStatus::gone(name.clone()),
                silent: true,
                addresses: Vec::new(),
                counters: None,
            });
        }
        let health = if !broken.is_empty() {
            Health::Broken
        } else if !problems.is_empty() {
            Health::Degraded
        } else {
            Health::Ok
        };
        broken.append(&mut problems);
        HubStatus {
            name: self.hub.to_string(),
            health,
            problems: broken,
            members: statuses,
        }
    }

    /// What is wrong with one member's fan-out: missing, not reaching every other member,
    /// reaching something else, not as patchwire writes it, no record.
    fn fanout_problems(&self, link: &Link, members: &[&Link], filters: &[Filter]) -> Vec<String> {
        let name = &link.name;
        let repair = "set the hub again to repair";
        let mut problems = Vec::new();
        if self.unrecorded.contains(&link.index) {
            problems.push(format!(
                "{name} holds hub {}'s filters but not its record (altname {HUB_RECORD}{}.{}); {repair}",
                self.hub, self.hub, link.index
            ));
        }
        if filters.is_empty() {
            problems.push(format!(
                "{name} has no fan-out filter: frames entering {name} do not reach the other \
                 members (they go up its own stack); {repair}"
            ));
            return problems;
        }
        let actions = fanout_actions(filters);
        let reached: Vec<IfIndex> = actions.iter().map(|a| a.to).collect();
        let missing: Vec<&str> = members
            .iter()
            .filter(|m| m.index != link.index && !reached.contains(&m.index))
            .map(|m| m.name.as_str())
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{name}'s fan-out does not reach {}: frames entering {name} never arrive there; {repair}",
                missing.join(", ")
            ));
        }
        for (i, action) in actions.iter().enumerate() {
            let live = action.to.0 != 0 && self.found.links.contains_key(&action.to);
            if !live {
                continue;
            }
            let target = self.found.name_of(action.to);
            if reached[..i].contains(&action.to) {
                problems.push(format!(
                    "{name}'s fan-out sends to {target} twice: frames arrive there twice; {repair}"
                ));
            } else if !members.iter().any(|m| m.index == action.to) {
                problems.push(format!(
                    "{name}'s fan-out sends to {target}, which is not a member of hub {}; {repair}",
                    self.hub
                ));
            }
        }
        let targets: Vec<(IfIndex, String)> =
            actions.iter().map(|a| (a.to, a.to_name.clone())).collect();
        let expected = tc::hub_chain(&targets);
        let installed: Vec<(u16, Vec<tc::HubAction>)> =
            filters.iter().map(|f| (f.prio, f.hub_actions())).collect();
        let complete = filters
            .iter()
            .all(|f| f.hub_actions().len() == f.actions.len());
        if installed != expected || !complete {
            problems.push(format!(
                "{name}'s fan-out filters are not as patchwire writes them (a copy or the final \
                 redirect missing, or a priority out of order), so some members may miss frames; \
                 {repair}"
            ));
        }
        problems
    }

    /// A member's own condition: down, no carrier, not silent, another tool's filters.
    fn member_problems(&self, link: &Link, state: &TcState) -> Vec<String> {
        let name = &link.name;
        let mut problems = Vec::new();
        if !link.up || !link.carrier {
            problems.push(format!("{name} {}", end_condition(link)));
        }
        if link.ipv6 == Some(true) {
            problems.push(format!(
                "{name} has IPv6 on: it sends router solicitations, MLD reports and neighbour \
                 discovery of its own into the hub (set the hub again to turn it off)"
            ));
        }
        let addresses: Vec<&str> = self
            .addresses
            .get(&link.index)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if !addresses.is_empty() {
            problems.push(addresses_problem(Segment::Hub, name, &addresses, self.fix));
        }
        for (hook, filter) in state.thieves() {
            let where_ = match hook {
                "ingress" => format!("on {name}'s ingress hook runs before the hub"),
                _ => format!("on {name}'s egress hook sees what the hub sends out of it"),
            };
            problems.push(format!(
                "a foreign {} {where_} and can take its frames (another tool's; patchwire leaves \
                 it alone: remove it or make it 'continue')",
                filter.describe()
            ));
        }
        let last = state
            .hub_filters()
            .map(|f| f.prio)
            .max()
            .unwrap_or(tc::WIRE_PRIO);
        for filter in state
            .filters
            .iter()
            .filter(|f| (tc::WIRE_PRIO..=last).contains(&f.prio) && !f.is_patchwire_hub())
        {
            problems.push(format!(
                "a foreign {} on {name}'s ingress hook sits among the hub's filters (another \
                 tool's; remove it)",
                filter.describe()
            ));
        }
        problems
    }

    fn member_status(&self, link: &Link, filters: &[Filter]) -> MemberStatus {
        let (silent, addresses) = silent_and_addresses(link, self.addresses);
        MemberStatus {
            port: PortStatus::of(link),
            silent,
            addresses,
            counters: counters(filters),
        }
    }
}

/// A member's counters from its fan-out's mirred actions: every action sees every frame that
/// enters (copies run with `pipe`/`continue`), so the first one counts arrivals.
fn counters(filters: &[Filter]) -> Option<MemberCounters> {
    let first = filters.first()?.actions.first()?;
    let mut counters = MemberCounters {
        packets: first.packets,
        bytes: first.bytes + ETHERNET_HEADER * first.packets,
        ..MemberCounters::default()
    };
    for action in filters.iter().flat_map(|f| &f.actions) {
        let failed = action.drops + action.overlimits;
        counters.drops += failed;
        counters.copies += action.packets.saturating_sub(failed);
    }
    Some(counters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nl::tc::Action;

    fn action(packets: u64, bytes: u64, overlimits: u64) -> Action {
        Action {
            kind: "mirred".into(),
            mirred_target: Some(3),
            mirred_redirect: false,
            control: Some(tc::CONTROL_PIPE),
            cookie: Some(tc::hub_cookie("m")),
            packets,
            bytes,
            drops: 0,
            overlimits,
        }
    }

    #[test]
    fn counters_add_the_ethernet_header_and_count_copies_and_lost_ones() {
        let filter = |prio, actions| Filter {
            ifindex: IfIndex(2),
            prio,
            handle: 0x8000_0800,
            kind: "u32".into(),
            name: None,
            prog_id: None,
            actions,
        };
        // 10 frames of 86 bytes at ingress (100 on the wire), three targets, one of them gone.
        let filters = [
            filter(tc::WIRE_PRIO, vec![action(10, 860, 0), action(10, 860, 10)]),
            filter(tc::WIRE_PRIO + 1, vec![action(10, 860, 0)]),
        ];
        assert_eq!(
            counters(&filters),
            Some(MemberCounters {
                packets: 10,
                bytes: 1000,
                copies: 20,
                drops: 10
            })
        );
        assert_eq!(counters(&[]), None);
    }
}

//! The loop guard, one for wires and hubs: would a new wire or hub close a ring?
//!
//! Frames a wire or hub sends out of an interface arrive at its veth peer (in any namespace);
//! a wire or hub there sends them out of other interfaces, which lead to their veth peers…
//! Each interface has at most one veth peer and one wire, so without hubs this is a simple
//! path; a hub port fans out to every other member, so the walk is breadth-first. Reaching
//! one of the new thing's own ports again means frames come back into it: a ring that pins
//! every core at 100% softirq (docs/design.md, "The data path of `link`", step 6). Names are looked up only for
//! a path that is reported: the common case (no loop) costs no lookups beyond the peers.

use std::collections::{HashMap, HashSet, VecDeque};

use super::WireError;
use super::inventory::{NodeKey, World};
use crate::nl::link::{IfIndex, Link};

/// How many interfaces the walk visits at most before it gives up and finds no loop (a host
/// with 8,000 interfaces fits).
const MAX_NODES: usize = 100_000;

/// Where frames entering an interface leave, for what this call is about to make (the kernel
/// does not hold it yet): `how` names the crossing ("-wire-", "-hub-"), `exits` the
/// interfaces. No exits: the interface is about to stop forwarding (a member leaving a hub).
#[derive(Debug, Clone)]
pub(crate) struct Crossing {
    pub how: &'static str,
    pub exits: Vec<NodeKey>,
}

/// How the walk reached an interface: frames left through `exit` (a veth end), having arrived
/// at `before` and crossed its wire or hub (`how`); `before` is `None` for a start.
struct Hop {
    exit: NodeKey,
    before: Option<NodeKey>,
    how: &'static str,
}

/// Follows where frames sent out of each of `starts` (interfaces of the command's namespace)
/// go, and returns the path, in words, if they come into one of `targets`. An arrival at a
/// start that is not a target ends that branch. `planned` overrides what the kernel holds.
pub(crate) fn loop_path(
    world: &mut World,
    starts: &[Link],
    targets: &HashSet<NodeKey>,
    planned: &HashMap<NodeKey, Crossing>,
) -> Result<Option<String>, WireError> {
    let home = world.home_id();
    let starting: HashSet<NodeKey> = starts.iter().map(|s| (home, s.index)).collect();
    let mut came: HashMap<NodeKey, Hop> = HashMap::new();
    let mut queue: VecDeque<NodeKey> = VecDeque::new();
    // The starts' peers first, their tc state read in one round per namespace.
    let mut peers_by_ns: HashMap<crate::netns::NsKey, Vec<IfIndex>> = HashMap::new();
    for start in starts {
        if let Some(peer) = world.peer_of(home, start)? {
            peers_by_ns.entry(peer.0).or_default().push(peer.1);
            let hop = Hop {
                exit: (home, start.index),
                before: None,
                how: "",
            };
            if let std::collections::hash_map::Entry::Vacant(entry) = came.entry(peer) {
                entry.insert(hop);
                queue.push_back(peer);
            }
        }
    }
    for (ns, peers) in peers_by_ns {
        world.view(ns).load_tc(&peers)?;
    }
    while let Some(node) = queue.pop_front() {
        if targets.contains(&node) {
            return describe_path(world, &came, node).map(Some);
        }
        if came.len() > MAX_NODES {
            break;
        }
        if starting.contains(&node) {
            continue;
        }
        let (how, exits) = crossing(world, planned, node)?;
        for exit in exits.into_iter().filter(|e| e.1.0 != 0) {
            let Some(link) = world.view(exit.0).link(exit.1)? else {
                continue;
            };
            let Some(peer) = world.peer_of(exit.0, &link)? else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(entry) = came.entry(peer) {
                entry.insert(Hop {
                    exit,
                    before: Some(node),
                    how,
                });
                queue.push_back(peer);
            }
        }
    }
    Ok(None)
}

/// Where frames entering `node` leave: what this call plans there, else the kernel's wire or
/// hub filters.
fn crossing(
    world: &mut World,
    planned: &HashMap<NodeKey, Crossing>,
    node: NodeKey,
) -> Result<(&'static str, Vec<NodeKey>), WireError> {
    if let Some(planned) = planned.get(&node) {
        return Ok((planned.how, planned.exits.clone()));
    }
    let state = world.view(node.0).tc(node.1)?;
    Ok(match state.wire_filter().and_then(|f| f.wire_target()) {
        Some(target) => ("-wire-", vec![(node.0, target)]),
        None => (
            "-hub-",
            state
                .hub_filters()
                .flat_map(|f| f.hub_actions())
                .map(|action| (node.0, action.to))
                .collect(),
        ),
    })
}

/// "m1 -veth- x1 -wire- x2 -veth- m2", namespaces named where they are not the command's.
fn describe_path(
    world: &mut World,
    came: &HashMap<NodeKey, Hop>,
    end: NodeKey,
) -> Result<String, WireError> {
    // Walk back: arrival <-veth- exit <-wire/hub- arrival ... <-veth- the start left by.
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
    let home = world.home_id();
    let mut words = Vec::new();
    for (how, (ns, index)) in hops {
        let name = world
            .view(ns)
            .link(index)?
            .map(|l| l.name)
            .unwrap_or_else(|| format!("ifindex {index}"));
        let name = match ns == home {
            true => name,
            false => format!("{name} ({})", world.view(ns).netns.describe()),
        };
        words.push(match how.is_empty() {
            true => name,
            false => format!("{how} {name}"),
        });
    }
    Ok(words.join(" "))
}

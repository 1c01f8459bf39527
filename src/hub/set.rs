//! `hub::set`: makes each hub have exactly the members asked — creates it, adds and drops
//! members in place — all or nothing.
//!
//! Planning (`plan.rs`) reads everything first (one link dump, the tc state of every member
//! involved), refuses bad input, wire ends, other hubs' ports and loops before anything
//! changes, skips what is already as asked; `set` hands the rest to `wire::apply` as one
//! batch, as `wire::link` does, then tidies former members. A member whose
//! fan-out changes gets its filters rewritten at the same priority and handle (NLM_F_REPLACE):
//! the kernel swaps each in one step, so frames keep flowing between unchanged members. When a
//! fan-out needs one more filter, the new one (at the next priority) goes in before the filter
//! that will hand over to it is rewritten; when it needs one fewer, the surplus goes after.

use serde::Serialize;

use super::plan::{Plan, plan};
use crate::netns::Netns;
use crate::nl::link::Link;
use crate::nl::tc;
use crate::wire::apply::{self, Fault};
use crate::wire::{WireError, silence};

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
    let mut plan = plan(netns, hubs, options)?;
    let netns = plan
        .world
        .home()
        .netns
        .try_clone()
        .map_err(|e| WireError::io("duplicating a netns fd", e))?;
    // IPv6 first (not netlink); undone if the netlink batch then fails.
    let ipv6_changes = silence::set_ipv6(&netns, &plan.ipv6_off, false)?;
    if let Err(e) = apply::apply(&mut plan.world.home().socket, &plan.ops, options.fault) {
        silence::undo_ipv6(&netns, &ipv6_changes);
        return Err(e);
    }
    plan.outcome.changes = plan.ops.len() + ipv6_changes.len();
    if !plan.dropped.is_empty() {
        tidy_former_members(&mut plan, &netns)?;
    }
    Ok(plan.outcome)
}

/// Former members: empty clsacts go, and they get back what silencing turned off (unless a
/// mirror still sends copies out of them). A failure here is reported, the hubs stand.
fn tidy_former_members(plan: &mut Plan, netns: &Netns) -> Result<(), WireError> {
    let mut failures = Vec::new();
    let view = plan.world.home();
    let mut candidates = Vec::new();
    for (_, index) in &plan.dropped {
        if view.tc(*index)?.qdisc == Some(tc::IngressQdisc::Clsact) {
            candidates.push((*index, plan.inventory.name_of(*index)));
        }
    }
    crate::wire::unlink::remove_empty_clsacts(&mut view.socket, &candidates, &mut failures);
    let former: Vec<&Link> = plan
        .dropped
        .iter()
        .filter(|(_, i)| !plan.destinations.contains_key(i))
        .filter_map(|(_, i)| plan.inventory.links.get(i))
        .collect();
    plan.outcome.restored = silence::restore(netns, &mut view.socket, &former, &mut failures);
    plan.outcome.warnings.extend(
        failures
            .into_iter()
            .map(|f| format!("after the hubs were set: {f}")),
    );
    Ok(())
}

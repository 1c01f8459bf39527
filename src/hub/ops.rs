//! The kernel changes that make a hub member's fan-out and record what the plan asks:
//! filters added, rewritten in place (NLM_F_REPLACE at their priority and handle) or removed,
//! records added or moved. Each op carries a group number; sorted by group, the batch keeps
//! every frame flowing between unchanged members (see `set.rs`):
//!
//! 0. clsact qdiscs; 1. clearing a priority holding several of our filters; 2. new filters;
//! 3. filters rewritten in place; 4. surplus filters removed; 5. records removed; 6. records
//!    added (and silencing).

use std::collections::BTreeMap;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::RouteNetlinkMessage;

use crate::marks::HUB_RECORD;
use crate::nl::link::{self, IfIndex, Link};
use crate::nl::tc::{self, Filter, HubAction};
use crate::wire::apply::{self, Op};
use crate::wire::inventory::hub_record;

/// The other members (`others`, in the order asked) in the order a member's fan-out sends to
/// them: the order `installed` already has (so an unchanged hub is left alone), then
/// newcomers in the order asked.
pub(super) fn order_targets(
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
pub(super) fn member_ops(
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
pub(super) fn record_ops(ops: &mut Vec<(u8, Op)>, hub: &str, member: &Link) {
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
pub(super) fn drop_ops(ops: &mut Vec<(u8, Op)>, hub: &str, member: &Link, installed: &[Filter]) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

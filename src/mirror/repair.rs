//! Keeping mirrors whole while a lab changes (run by `watch` after each burst of link events).
//! Stateless like the rest: the mirror's record in its filters says what it should be.
//!
//! * **Destination back.** When a destination is deleted, mirred keeps pointing at the dead
//!   ifindex and drops every copy; re-creating a device of the same name does not re-bind it.
//!   Once a device of that name exists again, each copy filter is replaced (same priority, same
//!   record) by one aimed at it.
//! * **Source back.** A deleted source takes its filters with it. When an interface of a
//!   recorded source name exists again without this mirror's filters, they are added again
//!   (`--all` mirrors record only a count, so their sources are not restored).
//! * **Coverage.** With `--direction both`, a source whose wire partner is also a source is
//!   copied only `in` (each frame once, where it enters). When that wire goes (`unlink`), the
//!   frames leaving the source are no longer copied anywhere: its `out` copy is added. When a
//!   wire between two sources appears, the now redundant `out` copy (every frame leaving there
//!   was copied where it entered) is removed, so no frame reaches the destination twice.
//! * A destination that stays gone is reported, not repaired.

use std::collections::{BTreeMap, HashSet};

use super::add::{CopySetup, Plan};
use super::spec::{Direction, Hook, RecordedSources, Role};
use super::{Inventory, MirrorFilter};
use crate::netns::Netns;
use crate::nl::link::IfIndex;
use crate::wire::apply::{self, Op};
use crate::wire::{NsView, WireError};

/// What one look at a namespace's mirrors found and did.
#[derive(Debug, Default)]
pub struct RepairReport {
    /// (mirror, what was repaired)
    pub repaired: Vec<(String, String)>,
    /// (mirror, destination) whose destination is gone and not back.
    pub broken: Vec<(String, String)>,
    /// (mirror, error) where a repair failed; it is tried again next time.
    pub failed: Vec<(String, String)>,
}

/// Repairs what can be repaired in the mirrors of `netns`.
pub fn repair(netns: &Netns) -> Result<RepairReport, WireError> {
    let mut report = run(netns, false)?;
    // A repair can change what the others see (a source back with its wire makes another
    // source's `out` copy redundant): one more look settles it.
    if !report.repaired.is_empty() {
        let again = run(netns, false)?;
        report.repaired.extend(again.repaired);
        report.failed.extend(again.failed);
    }
    Ok(report)
}

/// Only the coverage part of [`repair`]: `out` copies a wire made redundant, added back once
/// the wire is gone (and redundant ones removed). Run by `unlink`, which changes just that.
pub fn restore_coverage(netns: &Netns) -> Result<RepairReport, WireError> {
    run(netns, true)
}

fn run(netns: &Netns, coverage_only: bool) -> Result<RepairReport, WireError> {
    let copy = netns
        .try_clone()
        .map_err(|e| WireError::io("duplicating a netns fd", e))?
        .with_label(netns.label());
    let mut view = NsView::open(copy)?;
    let mut report = RepairReport::default();
    let Some(mut inventory) = Inventory::load_if_any(&mut view)? else {
        return Ok(report);
    };
    let holders: Vec<IfIndex> = inventory.qdiscs.keys().copied().collect();
    inventory.ensure(&mut view, &holders)?;

    let mut by_mirror: BTreeMap<String, Vec<MirrorFilter>> = BTreeMap::new();
    for filter in &inventory.mirrors {
        if matches!(filter.record.role, Role::Copy(_)) {
            by_mirror
                .entry(filter.record.mirror.clone())
                .or_default()
                .push(filter.clone());
        }
    }
    for (name, copies) in by_mirror {
        let mut plan = Plan::default();
        match plan_repair(&mut inventory, &mut plan, &copies, coverage_only) {
            Ok(Planned::Nothing) => {}
            Ok(Planned::DestinationGone(dest)) => report.broken.push((name, dest)),
            Ok(Planned::Repairs(what)) => {
                plan.ops.sort_by_key(|op| match op {
                    Op::AddClsact { .. } => 0,
                    Op::DeleteFilter { .. } => 1,
                    _ => 2,
                });
                match apply::apply(&mut view.socket, &plan.ops, None) {
                    Ok(_) => report
                        .repaired
                        .extend(what.into_iter().map(|w| (name.clone(), w))),
                    Err(e) => report.failed.push((name, e.to_string())),
                }
            }
            Err(e) => report.failed.push((name, e.to_string())),
        }
    }
    Ok(report)
}

enum Planned {
    Nothing,
    DestinationGone(String),
    Repairs(Vec<String>),
}

fn plan_repair(
    inventory: &mut Inventory,
    plan: &mut Plan,
    copies: &[MirrorFilter],
    coverage_only: bool,
) -> Result<Planned, WireError> {
    let record = copies[0].record.clone();
    let Role::Copy(copy) = &record.role else {
        return Ok(Planned::Nothing);
    };
    let Some(dest) = inventory.link(&copy.to).cloned() else {
        return Ok(Planned::DestinationGone(copy.to.clone()));
    };
    let stale: Vec<&MirrorFilter> = copies
        .iter()
        .filter(|_| !coverage_only)
        .filter(|f| f.action.as_ref().and_then(|a| a.mirred_target) != Some(dest.index.0))
        .collect();
    let present: HashSet<IfIndex> = copies.iter().map(|f| f.index).collect();
    let (uncovered, redundant) = coverage(inventory, copy.direction, copies);
    let returned: Vec<String> = match &copy.from {
        RecordedSources::Names(_) if coverage_only => Vec::new(),
        RecordedSources::Names(names) => names
            .iter()
            .filter(|n| {
                inventory
                    .link(n)
                    .is_some_and(|l| !present.contains(&l.index))
            })
            .cloned()
            .collect(),
        RecordedSources::Count(_) => Vec::new(),
    };
    if stale.is_empty() && returned.is_empty() && uncovered.is_empty() && redundant.is_empty() {
        return Ok(Planned::Nothing);
    }

    let setup = CopySetup::new(plan, &record, dest.index)?;
    let mut what = Vec::new();
    for filter in &stale {
        let Some(source) = inventory.links.get(&filter.index).cloned() else {
            continue;
        };
        plan.ops.push(Op::DeleteFilter {
            index: filter.index,
            parent: filter.hook.parent(),
            prio: filter.prio,
            what: format!(
                "mirror {}'s stale copy filter on {} {}",
                record.mirror, source.name, filter.hook
            ),
        });
        setup.add(plan, inventory, &source, filter.hook, Some(filter.prio))?;
    }
    if !stale.is_empty() {
        what.push(format!(
            "destination {} is back: {} copy filter(s) aimed at it again",
            copy.to,
            stale.len()
        ));
    }
    for name in returned {
        let Some(source) = inventory.link(&name).cloned() else {
            continue;
        };
        for &hook in copy.direction.hooks() {
            // As when the mirror was made: with `both`, a wire end whose partner is also a
            // source is copied only `in`.
            let fed_by_source = inventory
                .wire_feeder(source.index)
                .is_some_and(|f| present.contains(&f));
            if hook == Hook::Out && copy.direction == Direction::Both && fed_by_source {
                continue;
            }
            setup.add(plan, inventory, &source, hook, None)?;
        }
        what.push(format!("source {name} is back: copying its frames again"));
    }
    for index in uncovered {
        let Some(source) = inventory.links.get(&index).cloned() else {
            continue;
        };
        setup.add(plan, inventory, &source, Hook::Out, None)?;
        what.push(format!(
            "{} out is copied again: no wire from another source of the mirror carries the frames \
             leaving it any more",
            source.name
        ));
    }
    for (filter, feeder) in redundant {
        let (source, feeder) = (inventory.name_of(filter.index), inventory.name_of(feeder));
        // RSPAN: the tag-removal filter of this copy sits at the next priority.
        let pop = inventory
            .mirrors_on(filter.index)
            .find(|m| {
                m.record.role == Role::Pop
                    && m.record.mirror == record.mirror
                    && (m.hook, m.prio) == (filter.hook, filter.prio + 1)
            })
            .map(|m| m.prio);
        for prio in std::iter::once(filter.prio).chain(pop) {
            plan.ops.push(Op::DeleteFilter {
                index: filter.index,
                parent: filter.hook.parent(),
                prio,
                what: format!(
                    "mirror {}'s redundant filter on {source} out",
                    record.mirror
                ),
            });
        }
        what.push(format!(
            "{source} out is no longer copied: every frame leaving it entered {feeder} first \
             (wire {feeder} -> {source}), copied there already"
        ));
    }
    Ok(Planned::Repairs(what))
}

/// With `--direction both`, which sources lack the `out` copy they need (no wire from another
/// source of the mirror feeds them) and which have one a wire made redundant (with the feeder).
pub(super) fn coverage(
    inventory: &Inventory,
    direction: Direction,
    copies: &[MirrorFilter],
) -> (Vec<IfIndex>, Vec<(MirrorFilter, IfIndex)>) {
    if direction != Direction::Both {
        return (Vec::new(), Vec::new());
    }
    let at: HashSet<(IfIndex, Hook)> = copies.iter().map(|f| (f.index, f.hook)).collect();
    let fed = |index: IfIndex| {
        inventory
            .wire_feeder(index)
            .filter(|f| at.contains(&(*f, Hook::In)))
    };
    let mut uncovered: Vec<IfIndex> = copies
        .iter()
        .filter(|f| f.hook == Hook::In && !at.contains(&(f.index, Hook::Out)))
        .filter(|f| fed(f.index).is_none())
        .map(|f| f.index)
        .collect();
    uncovered.sort();
    uncovered.dedup();
    let mut redundant: Vec<(MirrorFilter, IfIndex)> = copies
        .iter()
        .filter(|f| f.hook == Hook::Out && at.contains(&(f.index, Hook::In)))
        .filter_map(|f| Some((f.clone(), fed(f.index)?)))
        .collect();
    redundant.sort_by_key(|(f, _)| f.index);
    (uncovered, redundant)
}

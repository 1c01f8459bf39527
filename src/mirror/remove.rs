//! `mirror del`: removes a mirror's own filters (found by their record), then the clsact qdisc
//! of each source left with nothing on either hook. Keeps going after a failure and reports
//! every failure at the end.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Inventory, MirrorFilter};
use crate::netns::Netns;
use crate::nl::link::IfIndex;
use crate::nl::tc::{self, IngressQdisc};
use crate::wire::apply::with_retries;
use crate::wire::unlink::remove_empty_clsacts;
use crate::wire::{NsView, WireError, silence};

/// What [`del`] removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DelOutcome {
    /// Mirrors removed.
    pub removed: Vec<String>,
    /// Filters removed (one per source and hook, two with RSPAN).
    pub filters_removed: usize,
    /// Interfaces whose clsact qdisc went because nothing else was on it.
    pub qdiscs_removed: Vec<String>,
    /// Former destinations given back the IPv6 that `mirror add` turned off.
    pub restored: Vec<String>,
}

/// Removes the mirrors `names` (or all of them with `all`).
pub fn del(netns: Netns, names: &[String], all: bool) -> Result<DelOutcome, WireError> {
    let mut view = NsView::open(netns)?;
    let describe = view.netns.describe();
    let inventory = Inventory::load(&mut view)?;
    let present = inventory.mirror_names();
    let wanted: BTreeSet<String> = match all {
        true => present.clone(),
        false => names.iter().cloned().collect(),
    };
    for name in &wanted {
        if !present.contains(name) {
            let here = match present.is_empty() {
                true => "there are no mirrors there".to_string(),
                false => {
                    let listed: Vec<&str> = present.iter().map(String::as_str).collect();
                    format!("mirrors there: {}", listed.join(", "))
                }
            };
            return Err(WireError::Invalid(format!(
                "no mirror named {name} in {describe} ({here})"
            )));
        }
    }
    let doomed: Vec<MirrorFilter> = inventory
        .mirrors
        .iter()
        .filter(|m| wanted.contains(&m.record.mirror))
        .cloned()
        .collect();

    let mut failures = Vec::new();
    let requests = doomed
        .iter()
        .map(|m| (tc::delete_filters_at(m.index, m.hook.parent(), m.prio), 0))
        .collect();
    let doomed_names = wanted.clone();
    let mut outcome = DelOutcome {
        removed: wanted.into_iter().collect(),
        ..DelOutcome::default()
    };
    let replies = with_retries(requests, 3, |batch| view.socket.batch(batch));
    for (m, reply) in doomed.iter().zip(replies) {
        match reply {
            Ok(_) => outcome.filters_removed += 1,
            // Gone meanwhile (the interface was deleted): nothing to do.
            Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::ENODEV)) => {}
            Err(e) => failures.push(WireError::kernel(
                format!(
                    "removing mirror {}'s filter on {} {}",
                    m.record.mirror,
                    inventory.name_of(m.index),
                    m.hook
                ),
                e,
            )),
        }
    }

    // A clsact qdisc goes once nothing is left on either hook (ours or anyone's); a plain
    // ingress qdisc is never ours.
    let touched: BTreeMap<IfIndex, String> = doomed
        .iter()
        .filter(|m| inventory.qdiscs.get(&m.index) == Some(&IngressQdisc::Clsact))
        .map(|m| (m.index, inventory.name_of(m.index)))
        .collect();
    let candidates: Vec<(IfIndex, String)> = touched.into_iter().collect();
    outcome.qdiscs_removed = remove_empty_clsacts(&mut view.socket, &candidates, &mut failures);

    // An eBPF wire direction into a source of an `out` copy took the plain redirect so the
    // copy sees its frames; with the copy gone it may take the peer path again.
    let out_sources: BTreeSet<String> = doomed
        .iter()
        .filter(|m| m.hook == super::Hook::Out && inventory.links.contains_key(&m.index))
        .map(|m| inventory.name_of(m.index))
        .collect();
    if !out_sources.is_empty() {
        let names: Vec<&str> = out_sources.iter().map(String::as_str).collect();
        let settled = view
            .netns
            .try_clone()
            .map_err(|e| WireError::io("duplicating a netns fd", e))
            .and_then(|netns| crate::wire::settle_paths(netns, &names));
        if let Err(e) = settled {
            failures.push(e);
        }
    }

    // Destinations no remaining mirror copies to, and that are not wire ends, get their IPv6
    // back. (From the inventory: the kernel frees deleted filters' actions later, so
    // an action dump now would still list them.)
    let target = |m: &MirrorFilter| m.action.as_ref()?.mirred_target.map(IfIndex);
    let remaining: BTreeSet<IfIndex> = inventory
        .mirrors
        .iter()
        .filter(|m| !doomed_names.contains(&m.record.mirror))
        .filter_map(target)
        .collect();
    let former: BTreeSet<IfIndex> = doomed
        .iter()
        .filter_map(target)
        .filter(|d| !remaining.contains(d) && inventory.wire_target(*d).is_none())
        .filter(|d| inventory.wire_feeder(*d).is_none())
        .collect();
    let links: Vec<&crate::nl::link::Link> = former
        .iter()
        .filter_map(|d| inventory.links.get(d))
        .collect();
    let netns = view
        .netns
        .try_clone()
        .map_err(|e| WireError::io("duplicating a netns fd", e))?;
    outcome.restored = silence::restore(&netns, &mut view.socket, &links, &mut failures);
    match failures.is_empty() {
        true => Ok(outcome),
        false => Err(WireError::Several(failures)),
    }
}

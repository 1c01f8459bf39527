//! `hub::remove`: takes hubs apart — their filters and records, then clsact qdiscs left empty,
//! then gives former members back what silencing turned off. Teardown keeps going after a
//! failure and reports every failure at the end.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::inventory::{HubInventory, fanout};
use super::validate_name;
use crate::netns::Netns;
use crate::nl::link::{self, IfIndex, Link};
use crate::nl::tc::{self, IngressQdisc};
use crate::wire::apply::with_retries;
use crate::wire::inventory::{NsView, hub_record};
use crate::wire::unlink::remove_empty_clsacts;
use crate::wire::{WireError, silence};

/// One hub that [`remove`] took apart.
#[derive(Debug, Clone, Serialize)]
pub struct RemovedHub {
    /// The hub's name.
    pub name: String,
    /// The members it had (present ones; a gone member took its part with it).
    pub members: Vec<String>,
}

/// What [`remove`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HubRemoved {
    /// The hubs taken apart.
    pub removed: Vec<RemovedHub>,
    /// Interfaces whose clsact qdisc was removed because nothing else was on it.
    pub qdiscs_removed: Vec<String>,
    /// Former members given back the IPv6 that silencing turned off.
    pub restored: Vec<String>,
}

/// Removes the hubs `names` (or every hub with `all`) from `netns`. A name that is not a hub
/// is refused before anything changes.
pub fn remove(netns: Netns, names: &[String], all: bool) -> Result<HubRemoved, WireError> {
    let mut view = NsView::open(netns)?;
    for name in names {
        validate_name(name).map_err(WireError::Invalid)?;
    }
    let found = HubInventory::read(&mut view)?;
    let hubs = hubs_to_remove(&mut view, &found, names, all)?;

    let mut outcome = HubRemoved::default();
    let mut failures = Vec::new();
    let former = take_apart(&mut view, &found, &hubs, &mut outcome, &mut failures)?;
    let mut candidates = Vec::new();
    for link in &former {
        if view.tc(link.index)?.qdisc == Some(IngressQdisc::Clsact) {
            candidates.push((link.index, link.name.clone()));
        }
    }
    outcome.qdiscs_removed = remove_empty_clsacts(&mut view.socket, &candidates, &mut failures);

    outcome.restored = silence::restore_unless_mirrored(&mut view, &former, &mut failures)?;
    if failures.is_empty() {
        Ok(outcome)
    } else {
        Err(WireError::Several(failures))
    }
}

/// The members of each hub to remove: recorded ones, and with `all` also any interface
/// holding hub filters without a record (remains, under "(unrecorded)"). Their tc state is
/// loaded.
fn hubs_to_remove(
    view: &mut NsView,
    found: &HubInventory,
    names: &[String],
    all: bool,
) -> Result<BTreeMap<String, BTreeSet<IfIndex>>, WireError> {
    let mut hubs: BTreeMap<String, BTreeSet<IfIndex>> = BTreeMap::new();
    if all {
        let indexes: Vec<IfIndex> = found.links.keys().copied().collect();
        view.load_tc_all(&indexes)?;
        hubs = found.members.clone();
        for index in indexes {
            if view.tc(index)?.hub_filters().next().is_some() && found.hub_of(index).is_none() {
                hubs.entry("(unrecorded)".into()).or_default().insert(index);
            }
        }
    } else {
        let describe = view.netns.describe();
        for name in names {
            let Some(members) = found.members.get(name) else {
                return Err(WireError::Invalid(format!(
                    "there is no hub {name} in {describe}"
                )));
            };
            hubs.insert(name.clone(), members.clone());
        }
        let indexes: Vec<IfIndex> = hubs.values().flatten().copied().collect();
        view.load_tc(&indexes)?;
    }
    Ok(hubs)
}

/// One batch removing every member's fan-out filters and record; failures go to `failures`.
/// Returns the former members.
fn take_apart<'a>(
    view: &mut NsView,
    found: &'a HubInventory,
    hubs: &BTreeMap<String, BTreeSet<IfIndex>>,
    outcome: &mut HubRemoved,
    failures: &mut Vec<WireError>,
) -> Result<Vec<&'a Link>, WireError> {
    let mut requests = Vec::new();
    let mut what = Vec::new();
    let mut former: Vec<&Link> = Vec::new();
    for (hub, members) in hubs {
        for index in members {
            let link = &found.links[index];
            for filter in fanout(view.tc(*index)?) {
                let prio = filter.prio;
                if !requests.iter().any(|(_, p, i)| *p == prio && *i == *index) {
                    requests.push((
                        tc::delete_filters_at(*index, tc::INGRESS_PARENT, prio),
                        prio,
                        *index,
                    ));
                    what.push(format!(
                        "removing hub {hub}'s filter on {} (priority {prio})",
                        link.name
                    ));
                }
            }
            former.push(link);
        }
        if hub != "(unrecorded)" {
            outcome.removed.push(RemovedHub {
                name: hub.clone(),
                members: members.iter().map(|i| found.name_of(*i)).collect(),
            });
        }
    }
    let mut batch: Vec<_> = requests.into_iter().map(|(r, _, _)| (r, 0)).collect();
    for link in &former {
        if let Some((hub, altname, _)) = hub_record(link) {
            batch.push(link::altname(link.index, &altname, false));
            what.push(format!(
                "removing {}'s record as a port of hub {hub}",
                link.name
            ));
        }
    }
    let replies = with_retries(batch, 3, |b| view.socket.batch(b));
    for (what, reply) in what.iter().zip(replies) {
        match reply {
            Ok(_) => {}
            Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::ENODEV)) => {}
            Err(e) => failures.push(WireError::kernel(what.clone(), e)),
        }
    }
    Ok(former)
}

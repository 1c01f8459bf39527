//! `unlink`: removes wires — only patchwire's filters, and a clsact qdisc only when nothing is
//! left on it. Teardown keeps going after a failure and reports every failure at the end.

use std::collections::BTreeMap;

use serde::Serialize;

use super::apply::with_retries;
use super::inventory::World;
use super::{ALIAS_WAS, WireError, held_because, silence};
use crate::netns::Netns;
use crate::nl::RouteSocket;
use crate::nl::link::{self, IfIndex, Link};
use crate::nl::tc::{self, IngressQdisc};

/// What [`unlink`] removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UnlinkOutcome {
    /// Wires removed, as `[end, other end]` (the other end may be a name that no longer exists).
    pub removed: Vec<[String; 2]>,
    /// Interfaces whose clsact qdisc was removed because nothing else was on it.
    pub qdiscs_removed: Vec<String>,
    /// Former ends given back the IPv6 that `link` turned off.
    pub restored: Vec<String>,
    /// Ends that `watch` held down (alias `patchwire held down: …`), brought back up with their
    /// own alias: with the wire gone there is no far end left to wait for.
    pub released: Vec<String>,
    /// Interfaces named that exist but are on no wire: nothing to do (like `link` of a wire
    /// that exists, or `down` of a lab that is down). Not an error.
    pub not_wired: Vec<String>,
}

/// Removes the wires `names` are on (or every wire with `all`).
pub fn unlink(netns: Netns, names: &[String], all: bool) -> Result<UnlinkOutcome, WireError> {
    let mut world = World::new(netns)?;
    let view = world.home();
    let describe = view.netns.describe();

    let links: Vec<Link> = if all {
        view.all_links()?
    } else {
        for name in names {
            crate::nl::link::validate_name(name).map_err(WireError::Invalid)?;
        }
        let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
        let found = view.links_by_name(&wanted)?;
        let mut links = Vec::new();
        for (name, link) in names.iter().zip(found) {
            links.push(link.ok_or_else(|| {
                WireError::Invalid(format!("interface {name} does not exist in {describe}"))
            })?);
        }
        links
    };
    let indexes: Vec<IfIndex> = links.iter().map(|l| l.index).collect();
    if all {
        view.load_tc_all(&indexes)?;
    } else {
        view.load_tc(&indexes)?;
    }

    // Which interfaces lose their wire filter, and the wires that makes.
    let mut clear: BTreeMap<IfIndex, String> = BTreeMap::new();
    // Far ends of half wires (their own half already gone): nothing to delete on them, but
    // their clsact and IPv6 are given back like an end's.
    let mut released: BTreeMap<IfIndex, String> = BTreeMap::new();
    let mut outcome = UnlinkOutcome::default();
    for link in &links {
        if clear.contains_key(&link.index) {
            continue;
        }
        let Some(filter) = view.tc(link.index)?.wire_filter().cloned() else {
            // Idempotent like `link` and `down`: the end is already unwired. A hold `watch`
            // left behind is still released below.
            if !all && !outcome.not_wired.contains(&link.name) {
                outcome.not_wired.push(link.name.clone());
            }
            continue;
        };
        clear.insert(link.index, link.name.clone());
        let target = filter.wire_target().unwrap_or(IfIndex(0));
        let partner = if target.0 == 0 {
            None
        } else {
            view.link(target)?
        };
        let other_name = match &partner {
            Some(partner) => {
                let state = view.tc(partner.index)?;
                let back = state.wire_filter().map(|f| f.wire_target());
                let hub_member = state.hub_filters().next().is_some();
                match back {
                    Some(back) if back == Some(link.index) => {
                        clear.insert(partner.index, partner.name.clone());
                    }
                    None if !hub_member => {
                        released.insert(partner.index, partner.name.clone());
                    }
                    _ => {}
                }
                partner.name.clone()
            }
            None => filter.wire_partner_name().unwrap_or_else(|| "?".into()),
        };
        outcome.removed.push([link.name.clone(), other_name]);
    }

    let mut failures = Vec::new();
    let requests = clear
        .keys()
        .map(|i| {
            (
                tc::delete_filters_at(*i, tc::INGRESS_PARENT, tc::WIRE_PRIO),
                0,
            )
        })
        .collect();
    let replies = with_retries(requests, 3, |batch| view.socket.batch(batch));
    for ((_, name), reply) in clear.iter().zip(replies) {
        match reply {
            Ok(_) => {}
            Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::ENODEV)) => {}
            Err(e) => failures.push(WireError::kernel(
                format!("removing the wire filter on {name}"),
                e,
            )),
        }
    }

    // A clsact qdisc goes when nothing is left on either hook; a plain ingress qdisc is never
    // ours (patchwire only ever adds clsact).
    for index in clear.keys() {
        released.remove(index);
    }
    let mut candidates = Vec::new();
    for (index, name) in clear.iter().chain(&released) {
        if view.tc(*index)?.qdisc == Some(IngressQdisc::Clsact) {
            candidates.push((*index, name.clone()));
        }
    }
    outcome.qdiscs_removed = remove_empty_clsacts(&mut view.socket, &candidates, &mut failures);

    // Former ends get their IPv6 back (unless a mirror still sends copies to them).
    let mut former = Vec::new();
    for index in clear.keys().chain(released.keys()) {
        former.extend(view.link(*index)?);
    }
    let former: Vec<&Link> = former.iter().collect();
    outcome.restored = silence::restore_unless_mirrored(view, &former, &mut failures)?;

    // Holds `watch` put on former ends (or, with --all, anywhere) end with their wire.
    let held: Vec<&Link> = if all {
        links.iter().filter(|l| held_because(l).is_some()).collect()
    } else {
        former
            .iter()
            .copied()
            .chain(links.iter())
            .filter(|l| held_because(l).is_some())
            .collect()
    };
    let mut seen = std::collections::HashSet::new();
    let held: Vec<&Link> = held.into_iter().filter(|l| seen.insert(l.index)).collect();
    let requests = held
        .iter()
        .map(|l| {
            (
                link::set_alias_and_up(l.index, &alias_before_hold(l), true),
                0,
            )
        })
        .collect();
    for (end, reply) in held.iter().zip(view.socket.batch(requests)) {
        match reply {
            Ok(_) => outcome.released.push(end.name.clone()),
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            Err(e) => failures.push(WireError::kernel(
                format!("releasing watch's hold on {}", end.name),
                e,
            )),
        }
    }
    if failures.is_empty() {
        Ok(outcome)
    } else {
        Err(WireError::Several(failures))
    }
}

/// The alias an end had before `watch` held it down (empty: none), kept after [`ALIAS_WAS`].
pub(crate) fn alias_before_hold(end: &Link) -> String {
    end.alias
        .as_deref()
        .and_then(|a| a.split_once(ALIAS_WAS))
        .map(|(_, was)| was.to_string())
        .unwrap_or_default()
}

/// Removes the clsact qdisc of each of `candidates` (interfaces known to hold one) on which no
/// filter at all is left on either hook — patchwire's or anyone's: an empty clsact does
/// nothing, and patchwire cannot tell who made it. Returns the names of those removed; adds
/// failures to `failures` and goes on.
pub(crate) fn remove_empty_clsacts(
    socket: &mut RouteSocket,
    candidates: &[(IfIndex, String)],
    failures: &mut Vec<WireError>,
) -> Vec<String> {
    let mut empty = Vec::new();
    'candidates: for (index, name) in candidates {
        for (parent, hook) in [
            (tc::INGRESS_PARENT, "ingress"),
            (tc::EGRESS_PARENT, "egress"),
        ] {
            match socket
                .dump(tc::dump_filters(*index, parent))
                .map(tc::parse_filters)
            {
                Ok(filters) if filters.is_empty() => {}
                Ok(_) => continue 'candidates,
                // Gone meanwhile: nothing to remove.
                Err(e) if e.errno() == Some(libc::ENODEV) => continue 'candidates,
                Err(e) => {
                    failures.push(WireError::kernel(
                        format!("listing the {hook} filters of {name}"),
                        e,
                    ));
                    continue 'candidates;
                }
            }
        }
        empty.push((*index, name.clone()));
    }
    let requests = empty
        .iter()
        .map(|(i, _)| (tc::delete_clsact(*i), 0))
        .collect();
    let mut removed = Vec::new();
    for ((_, name), reply) in empty.iter().zip(socket.batch(requests)) {
        match reply {
            Ok(_) => removed.push(name.clone()),
            Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::EINVAL | libc::ENODEV)) => {}
            Err(e) => failures.push(WireError::kernel(
                format!("removing the clsact qdisc of {name}"),
                e,
            )),
        }
    }
    removed
}

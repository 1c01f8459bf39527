//! `mirror show`: mirrors rebuilt from their filters, with health, problems and counters.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::spec::{CopyRecord, Direction, Hook, RecordedSources, Role, VlanSet};
use super::{Inventory, MirrorFilter};
use crate::netns::Netns;
use crate::wire::{Health, NsView, WireError};

/// One mirror as its filters describe it: destination, selection, sources, counters and health.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorStatus {
    /// The mirror's name.
    pub name: String,
    /// Where the copies go, and whether they can get there.
    pub destination: DestinationStatus,
    /// Which frames of each source are copied.
    pub direction: Direction,
    /// Copies only frames whose (outer) VLAN ID is in the set; absent: every frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlans: Option<VlanSet>,
    /// RSPAN: the copies leave the destination tagged with this VLAN ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_vlan: Option<u16>,
    /// Copies only frames matching this tcpdump expression (`--filter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Sources with a filter in place, in interface order.
    pub sources: Vec<SourceStatus>,
    /// Sources the mirror was made with that are gone (names when recorded).
    pub sources_gone: Vec<String>,
    /// Copies made, over every source and hook (OvS tx_packets / tx_bytes).
    pub packets: u64,
    /// Frame bytes of those copies (see [`HookCounters::bytes`]).
    pub bytes: u64,
    /// Copies the kernel could not send (destination gone, down or without carrier).
    pub dropped: u64,
    /// The worst of what is wrong (`ok` when nothing is).
    pub health: Health,
    /// What is wrong, one sentence each, with what to do about it.
    pub problems: Vec<String>,
    /// With `both`: an `out` copy is missing or doubled for the wires as they are now (one of
    /// the `problems`). A lab makes such a mirror again; `watch --once` repairs it in place.
    #[serde(skip)]
    pub coverage_off: bool,
}

/// A mirror's destination as the kernel has it now.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationStatus {
    /// The destination's name, as recorded when the mirror was made.
    pub name: String,
    /// An interface of that name exists.
    pub present: bool,
    /// It is administratively up.
    pub up: bool,
    /// It has carrier.
    pub carrier: bool,
    /// Its link kind (`veth`, `tap`, `vxlan`…); absent for a device without one (a physical NIC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// One source of a mirror, with a filter in place.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    /// The source's name.
    pub name: String,
    /// Counters of each hook it is mirrored on (`in`, `out`).
    pub hooks: Vec<HookCounters>,
}

/// What a mirror's filter on one hook of a source has copied.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HookCounters {
    /// Which hook: `in` (frames arriving) or `out` (frames leaving).
    pub hook: Hook,
    /// Copies made.
    pub packets: u64,
    /// Frame bytes: the kernel's count at the hook, with the 14-byte Ethernet header added back
    /// at ingress (where tc does not see it). An 802.1Q tag carried as metadata is not counted.
    pub bytes: u64,
    /// Copies the kernel could not send (drops and overlimits of the mirred action).
    pub dropped: u64,
}

/// Every mirror in `netns`, sorted by name.
pub fn show(netns: Netns) -> Result<Vec<MirrorStatus>, WireError> {
    let mut view = NsView::open(netns)?;
    let inventory = Inventory::load(&mut view)?;
    // How to run the repairs in this namespace (for the problems' advice).
    let patchwire = crate::wire::FixCommands::for_netns(&view.netns).patchwire;

    let mut by_mirror: BTreeMap<String, Vec<MirrorFilter>> = BTreeMap::new();
    for filter in inventory.mirrors.iter().cloned() {
        by_mirror
            .entry(filter.record.mirror.clone())
            .or_default()
            .push(filter);
    }
    Ok(by_mirror
        .into_iter()
        .map(|(name, filters)| status(&inventory, name, filters, &patchwire))
        .collect())
}

fn status(
    inventory: &Inventory,
    name: String,
    mut filters: Vec<MirrorFilter>,
    patchwire: &str,
) -> MirrorStatus {
    let watch = &format!("{patchwire} watch --once");
    filters.sort_by_key(|f| (f.index, f.hook, f.prio));
    let copies: Vec<(&MirrorFilter, &CopyRecord)> = filters
        .iter()
        .filter_map(|f| match &f.record.role {
            Role::Copy(copy) => Some((f, copy)),
            Role::Pop => None,
        })
        .collect();
    // Every copy filter carries the same record; take the first.
    let Some((_, record)) = copies.first().copied() else {
        return leftovers_status(inventory, name, &filters, patchwire);
    };
    let mut findings = Findings::new();
    let destination =
        destination_status(inventory, &name, record, &copies, patchwire, &mut findings);
    let sources = source_statuses(inventory, record, &copies, &filters, &mut findings);
    let coverage_off = coverage_problems(inventory, record, &copies, watch, &mut findings);
    let sources_gone = gone_sources(inventory, record, &sources, &mut findings);

    let all = sources.iter().flat_map(|s| &s.hooks);
    MirrorStatus {
        name,
        destination,
        direction: record.direction,
        vlans: record.vlans.clone(),
        output_vlan: record.output_vlan,
        filter: record.filter.clone(),
        packets: all.clone().map(|h| h.packets).sum(),
        bytes: all.clone().map(|h| h.bytes).sum(),
        dropped: all.map(|h| h.dropped).sum(),
        sources,
        sources_gone,
        health: findings.health,
        problems: findings.problems,
        coverage_off,
    }
}

/// What is wrong with a mirror, in the order it is found, and how bad the worst of it is.
struct Findings {
    health: Health,
    problems: Vec<String>,
}

impl Findings {
    fn new() -> Self {
        Findings {
            health: Health::Ok,
            problems: Vec::new(),
        }
    }

    fn worsen(&mut self, to: Health, problem: String) {
        self.health = self.health.max(to);
        self.problems.push(problem);
    }
}

/// A mirror of which only RSPAN tag-removal filters are left (no copy filter, so no record).
fn leftovers_status(
    inventory: &Inventory,
    name: String,
    filters: &[MirrorFilter],
    patchwire: &str,
) -> MirrorStatus {
    let orphan = &filters[0];
    let problem = format!(
        "only leftover RSPAN tag-removal filters remain (on {}): remove them with `{patchwire} \
         mirror del {name}`",
        inventory.name_of(orphan.index)
    );
    MirrorStatus {
        name,
        destination: DestinationStatus {
            name: "?".into(),
            present: false,
            up: false,
            carrier: false,
            kind: None,
        },
        direction: Direction::Both,
        vlans: None,
        output_vlan: None,
        filter: None,
        sources: Vec::new(),
        sources_gone: Vec::new(),
        packets: 0,
        bytes: 0,
        dropped: 0,
        health: Health::Broken,
        coverage_off: false,
        problems: vec![problem],
    }
}

/// The destination: present, the one the actions point at, up, with carrier, silent.
fn destination_status(
    inventory: &Inventory,
    name: &str,
    record: &CopyRecord,
    copies: &[(&MirrorFilter, &CopyRecord)],
    patchwire: &str,
    findings: &mut Findings,
) -> DestinationStatus {
    let dest = inventory.link(&record.to);
    let destination = DestinationStatus {
        name: record.to.clone(),
        present: dest.is_some(),
        up: dest.is_some_and(|l| l.up),
        carrier: dest.is_some_and(|l| l.carrier),
        kind: dest.and_then(|l| l.kind.clone()),
    };
    let targets: BTreeSet<u32> = copies
        .iter()
        .filter_map(|(f, _)| f.action.as_ref()?.mirred_target)
        .collect();
    match dest {
        _ if targets.contains(&0) || dest.is_none() => findings.worsen(
            Health::Broken,
            format!(
                "destination {} is gone: the kernel drops every copy. Re-create it and add the mirror \
                 again, or remove it ({patchwire} mirror del {name})",
                record.to
            ),
        ),
        Some(dest) if !targets.iter().all(|t| *t == dest.index.0) => findings.worsen(
            Health::Broken,
            format!(
                "destination {} was re-created (now ifindex {}): the mirror still sends to the old \
                 device, which is gone; add the mirror again",
                record.to, dest.index
            ),
        ),
        Some(dest) if !dest.up => findings.worsen(
            Health::Degraded,
            format!("destination {} is down: copies are dropped", record.to),
        ),
        Some(dest) if !dest.carrier => findings.worsen(
            Health::Degraded,
            format!(
                "destination {} has no carrier: copies are dropped",
                record.to
            ),
        ),
        _ => {}
    }
    if let Some(dest) = dest.filter(|d| d.ipv6 == Some(true)) {
        findings.worsen(
            Health::Degraded,
            format!(
                "destination {} has IPv6 on: it sends router solicitations and MLD reports of its own \
                 besides the copies (mirror add turns it off; something turned it back on)",
                dest.name
            ),
        );
    }
    destination
}

/// Sources present, from their filters, with each hook's counters; a missing RSPAN
/// tag-removal filter is a problem.
fn source_statuses(
    inventory: &Inventory,
    record: &CopyRecord,
    copies: &[(&MirrorFilter, &CopyRecord)],
    filters: &[MirrorFilter],
    findings: &mut Findings,
) -> Vec<SourceStatus> {
    let mut sources: Vec<SourceStatus> = Vec::new();
    for (filter, _) in copies {
        let source = inventory.name_of(filter.index);
        let action = filter.action.as_ref();
        let packets = action.map_or(0, |a| a.packets);
        let header = if filter.hook == Hook::In { 14 } else { 0 };
        let counters = HookCounters {
            hook: filter.hook,
            packets,
            bytes: action.map_or(0, |a| a.bytes) + header * packets,
            dropped: action.map_or(0, |a| a.drops + a.overlimits),
        };
        match sources.last_mut() {
            Some(last) if last.name == source => last.hooks.push(counters),
            _ => sources.push(SourceStatus {
                name: source,
                hooks: vec![counters],
            }),
        }
        if let Some(tag) = record.output_vlan {
            let has_pop = filters.iter().any(|f| {
                f.record.role == Role::Pop
                    && (f.index, f.hook, f.prio) == (filter.index, filter.hook, filter.prio + 1)
            });
            if !has_pop {
                findings.worsen(
                    Health::Degraded,
                    format!(
                        "the RSPAN tag-removal filter on {} {} is missing: selected frames keep VLAN {tag} \
                         after the copy; add the mirror again",
                        inventory.name_of(filter.index),
                        filter.hook
                    ),
                );
            }
        }
    }
    sources
}

/// Coverage: with `both`, `out` is left to a wire from another source only while that wire
/// exists (see repair.rs); a copy made twice is a problem too. True when either was found.
fn coverage_problems(
    inventory: &Inventory,
    record: &CopyRecord,
    copies: &[(&MirrorFilter, &CopyRecord)],
    watch: &str,
    findings: &mut Findings,
) -> bool {
    let copy_filters: Vec<MirrorFilter> = copies.iter().map(|(f, _)| (*f).clone()).collect();
    let (uncovered, redundant) =
        super::repair::coverage(inventory, record.direction, &copy_filters);
    let off = !uncovered.is_empty() || !redundant.is_empty();
    for index in uncovered {
        let source = inventory.name_of(index);
        findings.worsen(
            Health::Degraded,
            format!(
                "{source} out is not copied: frames leaving {source} are missed (a wire from another \
                 source used to carry them and is gone). Fix: {watch} (adds the copy)"
            ),
        );
    }
    for (filter, feeder) in redundant {
        let (source, feeder) = (inventory.name_of(filter.index), inventory.name_of(feeder));
        findings.worsen(
            Health::Degraded,
            format!(
                "{source} out is copied twice: every frame leaving {source} entered {feeder} first \
                 (wire {feeder} -> {source}) and was copied there already. Fix: {watch} (removes the \
                 second copy)"
            ),
        );
    }
    off
}

/// Sources the record names that have no filter any more (gone, or no longer mirrored).
fn gone_sources(
    inventory: &Inventory,
    record: &CopyRecord,
    sources: &[SourceStatus],
    findings: &mut Findings,
) -> Vec<String> {
    let present: BTreeSet<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    let mut sources_gone = Vec::new();
    match &record.from {
        RecordedSources::Names(names) => {
            for source in names {
                if present.contains(source.as_str()) {
                    continue;
                }
                let problem = match inventory.link(source) {
                    None => format!("source {source} is gone (its filters went with it)"),
                    Some(_) => format!(
                        "source {source} is no longer mirrored (its filter was removed, or it was re-created)"
                    ),
                };
                sources_gone.push(source.clone());
                findings.worsen(Health::Degraded, problem);
            }
        }
        RecordedSources::Count(count) if present.len() < *count => findings.worsen(
            Health::Degraded,
            format!(
                "{} of the {count} sources the mirror was made with are gone",
                count - present.len()
            ),
        ),
        RecordedSources::Count(_) => {}
    }
    sources_gone
}

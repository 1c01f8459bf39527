//! Mirrors (SPAN): copies of the frames entering and/or leaving source interfaces, sent out of
//! a destination interface — like Open vSwitch's Mirror table, on plain Linux interfaces.
//!
//! A mirror is one cls_bpf filter per source and hook (clsact ingress for `in`, clsact egress
//! for `out`), at a priority below a wire's (so the copy is made before a wire redirects the
//! frame). The filter's program selects frames (all, or by VLAN ID); its action is `mirred
//! egress mirror` to the destination with control `continue`, so the frame goes on to the next
//! filter unchanged. The action counts what it copies (OvS tx_packets/tx_bytes) and carries a
//! cookie (tag b8 + the mirror's name); the filter's name is the mirror's record (see
//! [`spec::Record`]). As with wires, the kernel is the record: there is no state file.
//!
//! * `add.rs` plans (names, cycles, exactly-once per destination, priorities) and applies in
//!   one batch with rollback; `remove.rs` deletes; `show.rs` reports health and counters;
//!   `repair.rs` re-aims mirrors at re-created destinations and sources (for `watch`).
//! * `programs.rs` holds the eBPF programs, `spec.rs` the user-facing types and the record.

mod add;
mod programs;
mod remove;
mod repair;
mod show;
pub mod spec;

pub use add::{AddOutcome, AddedMirror, SourceHooks, add};
pub use remove::{DelOutcome, del};
pub use repair::{RepairReport, repair, restore_coverage};
pub use show::{DestinationStatus, HookCounters, MirrorStatus, SourceStatus, show};
pub use spec::{Direction, Hook, MirrorSpec, Sources, VlanSet};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use netlink_packet_route::tc::TcHandle;

use crate::nl::link::{IfIndex, Link};
use crate::nl::tc::{self, Action, Filter, IngressQdisc};
use crate::wire::{NsView, WireError};
use spec::{Record, Role};

/// Mirror filters take priorities from here up to just below [`tc::WIRE_PRIO`] (20567), on
/// both hooks: ahead of a wire's redirect, away from tc's automatic numbering at 49152.
pub const MIRROR_PRIO_FIRST: u16 = 0x4000;

impl Hook {
    fn parent(self) -> TcHandle {
        match self {
            Hook::In => tc::INGRESS_PARENT,
            Hook::Out => tc::EGRESS_PARENT,
        }
    }
}

/// One of patchwire's mirror filters, read back.
#[derive(Debug, Clone)]
struct MirrorFilter {
    index: IfIndex,
    hook: Hook,
    prio: u16,
    record: Record,
    /// The copy action (copy filters only): target and counters.
    action: Option<Action>,
}

/// Everything a mirror command reasons about in one namespace: links, which interfaces hold
/// an ingress-hook qdisc, every filter on both hooks, and indexes over them (a batch of 1,000
/// mirrors plans against this without rescanning).
struct Inventory {
    links: BTreeMap<IfIndex, Link>,
    by_name: HashMap<String, IfIndex>,
    qdiscs: HashMap<IfIndex, IngressQdisc>,
    /// Priorities in use (anyone's filters) per interface and hook.
    prios: HashMap<(IfIndex, Hook), BTreeSet<u16>>,
    /// patchwire's mirror filters, and where they sit.
    mirrors: Vec<MirrorFilter>,
    mirrors_at: HashMap<IfIndex, Vec<usize>>,
    /// patchwire wires: what arrives at the key leaves the value.
    wire_to: HashMap<IfIndex, IfIndex>,
    wire_from: HashMap<IfIndex, IfIndex>,
    /// Interfaces whose filters are in the indexes above (see [`Inventory::load_lazily`]).
    loaded: HashSet<IfIndex>,
    /// Every mirror's name, and every mirror's destination, in the namespace.
    names: BTreeSet<String>,
    destinations: HashSet<IfIndex>,
}

impl Inventory {
    /// Everything: one link dump, one qdisc dump, then ingress (and, on clsact, egress) filter
    /// dumps wherever a qdisc exists.
    fn load(view: &mut NsView) -> Result<Inventory, WireError> {
        let mut inventory = Inventory::load_lazily(view)?;
        let holders: Vec<IfIndex> = inventory.qdiscs.keys().copied().collect();
        inventory.ensure(view, &holders)?;
        Ok(inventory)
    }

    /// Links and qdiscs, plus every mirror's name and destination from one dump of the
    /// namespace's mirred actions; filters are read later, per interface, by
    /// [`Inventory::ensure`]. One `mirror add` then costs a few dumps however many mirrors
    /// the namespace holds, instead of two filter dumps per interface.
    fn load_lazily(view: &mut NsView) -> Result<Inventory, WireError> {
        let (names, destinations) = mirrors_by_action(view)?;
        Inventory::load_with(view, names, destinations)
    }

    /// [`Inventory::load_lazily`], or `None` — after one action dump — when the namespace
    /// holds no mirror at all (what `watch` meets in most namespaces, at every link change).
    fn load_if_any(view: &mut NsView) -> Result<Option<Inventory>, WireError> {
        let (names, destinations) = mirrors_by_action(view)?;
        if names.is_empty() {
            return Ok(None);
        }
        Inventory::load_with(view, names, destinations).map(Some)
    }

    fn load_with(
        view: &mut NsView,
        names: BTreeSet<String>,
        destinations: HashSet<IfIndex>,
    ) -> Result<Inventory, WireError> {
        let describe = view.netns.describe();
        let links: BTreeMap<IfIndex, Link> = view
            .all_links()?
            .into_iter()
            .map(|l| (l.index, l))
            .collect();
        let by_name = links.values().map(|l| (l.name.clone(), l.index)).collect();
        let qdiscs: HashMap<IfIndex, IngressQdisc> = view
            .socket
            .dump(tc::dump_qdiscs())
            .map(|messages| tc::ingress_holders(&messages).into_iter().collect())
            .map_err(|e| WireError::kernel(format!("listing qdiscs in {describe}"), e))?;
        Ok(Inventory {
            links,
            by_name,
            qdiscs,
            prios: HashMap::new(),
            mirrors: Vec::new(),
            mirrors_at: HashMap::new(),
            wire_to: HashMap::new(),
            wire_from: HashMap::new(),
            loaded: HashSet::new(),
            names,
            destinations,
        })
    }

    /// Reads the filters of `indexes` (those not read yet, and only where a qdisc exists),
    /// and of the far ends of wires found on them, so both directions of a wire are known.
    fn ensure(&mut self, view: &mut NsView, indexes: &[IfIndex]) -> Result<(), WireError> {
        let mut pending: Vec<IfIndex> = indexes.to_vec();
        while let Some(index) = pending.pop() {
            if !self.loaded.insert(index) {
                continue;
            }
            let Some(qdisc) = self.qdiscs.get(&index).copied() else {
                continue;
            };
            let mut hooks = vec![Hook::In];
            if qdisc == IngressQdisc::Clsact {
                hooks.push(Hook::Out);
            }
            for hook in hooks {
                let found = match view.socket.dump(tc::dump_filters(index, hook.parent())) {
                    Ok(messages) => tc::parse_filters(messages),
                    Err(e) if e.errno() == Some(libc::ENODEV) => Vec::new(),
                    Err(e) => {
                        return Err(WireError::kernel(
                            format!(
                                "listing the {hook} filters of {} in {}",
                                self.name_of(index),
                                view.netns.describe()
                            ),
                            e,
                        ));
                    }
                };
                for filter in found {
                    self.add_filter(hook, &filter);
                }
            }
            pending.extend(self.wire_target(index));
        }
        Ok(())
    }

    /// Names and destinations from the filters that exist now rather than from the action
    /// dump: the kernel frees a deleted filter's actions asynchronously (up to a second
    /// later), so a mirror deleted a moment ago can still be listed there. Reads every
    /// filter (the slower path, taken only when a name seems to be in use).
    fn confirm_names(&mut self, view: &mut NsView) -> Result<(), WireError> {
        let holders: Vec<IfIndex> = self.qdiscs.keys().copied().collect();
        self.ensure(view, &holders)?;
        self.names = self
            .mirrors
            .iter()
            .map(|m| m.record.mirror.clone())
            .collect();
        self.destinations = self
            .mirrors
            .iter()
            .filter_map(|m| m.action.as_ref()?.mirred_target.map(IfIndex))
            .collect();
        Ok(())
    }

    /// Takes a filter (read from the kernel, or planned) into the indexes.
    fn add_filter(&mut self, hook: Hook, filter: &Filter) {
        let index = filter.ifindex;
        self.prios
            .entry((index, hook))
            .or_default()
            .insert(filter.prio);
        if hook == Hook::In
            && filter.is_patchwire_wire()
            && let Some(target) = filter.wire_target().filter(|t| t.0 != 0)
        {
            self.wire_to.insert(index, target);
            self.wire_from.insert(target, index);
        }
        if let Some(mirror) = mirror_filter(hook, filter) {
            self.mirrors_at
                .entry(index)
                .or_default()
                .push(self.mirrors.len());
            self.mirrors.push(mirror);
        }
    }

    fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(self.by_name.get(name)?)
    }

    fn name_of(&self, index: IfIndex) -> String {
        self.links
            .get(&index)
            .map_or_else(|| format!("ifindex {index}"), |l| l.name.clone())
    }

    /// patchwire's mirror filters on one interface (both hooks).
    fn mirrors_on(&self, index: IfIndex) -> impl Iterator<Item = &MirrorFilter> {
        self.mirrors_at
            .get(&index)
            .into_iter()
            .flatten()
            .map(|i| &self.mirrors[*i])
    }

    /// Priorities in use on one hook of one interface (anyone's filters).
    fn used_prios(&self, index: IfIndex, hook: Hook) -> Option<&BTreeSet<u16>> {
        self.prios.get(&(index, hook))
    }

    /// Where patchwire's wire on `index` sends what arrives there, if `index` is a wire end.
    fn wire_target(&self, index: IfIndex) -> Option<IfIndex> {
        self.wire_to.get(&index).copied()
    }

    /// The wire end whose arrivals leave `index`, if any.
    fn wire_feeder(&self, index: IfIndex) -> Option<IfIndex> {
        self.wire_from.get(&index).copied()
    }

    /// Names of the mirrors present, sorted.
    fn mirror_names(&self) -> &BTreeSet<String> {
        &self.names
    }
}

/// Every mirror's name and destination, from one dump of the namespace's mirred actions
/// (their cookies name the mirror, their targets the destination).
fn mirrors_by_action(view: &mut NsView) -> Result<(BTreeSet<String>, HashSet<IfIndex>), WireError> {
    let actions = view
        .socket
        .dump(tc::dump_mirred_actions())
        .map(tc::parse_action_dump)
        .map_err(|e| {
            WireError::kernel(
                format!("listing mirred actions in {}", view.netns.describe()),
                e,
            )
        })?;
    let mut names = BTreeSet::new();
    let mut destinations = HashSet::new();
    for action in actions {
        if let Some(name) = action.cookie.as_deref().and_then(tc::mirror_cookie_name) {
            names.insert(name);
            destinations.extend(action.mirred_target.map(IfIndex));
        }
    }
    Ok((names, destinations))
}

/// patchwire's mirror filter: a bpf filter in the mirror priority range whose name is a
/// mirror record. Anything else is someone else's.
fn mirror_filter(hook: Hook, filter: &Filter) -> Option<MirrorFilter> {
    if filter.kind != "bpf" || !(MIRROR_PRIO_FIRST..tc::WIRE_PRIO).contains(&filter.prio) {
        return None;
    }
    let record = Record::parse(filter.name.as_deref()?)?;
    let action = match &record.role {
        Role::Copy(_) => Some(
            filter
                .actions
                .iter()
                .find(|a| {
                    a.cookie
                        .as_deref()
                        .and_then(tc::mirror_cookie_name)
                        .as_deref()
                        == Some(record.mirror.as_str())
                })?
                .clone(),
        ),
        Role::Pop => None,
    };
    Some(MirrorFilter {
        index: filter.ifindex,
        hook,
        prio: filter.prio,
        record,
        action,
    })
}

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
//!   one batch with rollback; `remove.rs` deletes; `show.rs` reports health and counters.
//! * `programs.rs` holds the eBPF programs, `spec.rs` the user-facing types and the record.

mod add;
mod programs;
mod remove;
mod show;
pub mod spec;

pub use add::{AddOutcome, AddedMirror, SourceHooks, add};
pub use remove::{DelOutcome, del};
pub use show::{DestinationStatus, HookCounters, MirrorStatus, SourceStatus, show};
pub use spec::{Direction, Hook, MirrorSpec, Sources, VlanSet};

use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// A filter on one hook of one interface.
#[derive(Debug, Clone)]
struct HookedFilter {
    hook: Hook,
    filter: Filter,
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
/// an ingress-hook qdisc, and every filter on both hooks.
struct Inventory {
    links: BTreeMap<IfIndex, Link>,
    by_name: HashMap<String, IfIndex>,
    qdiscs: HashMap<IfIndex, IngressQdisc>,
    filters: Vec<HookedFilter>,
}

impl Inventory {
    /// One link dump, one qdisc dump, then ingress (and, on clsact, egress) filter dumps only
    /// where a qdisc exists.
    fn load(view: &mut NsView) -> Result<Inventory, WireError> {
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
        let mut filters = Vec::new();
        for (index, qdisc) in &qdiscs {
            let name = links.get(index).map_or("?", |l| l.name.as_str());
            let mut hooks = vec![Hook::In];
            if *qdisc == IngressQdisc::Clsact {
                hooks.push(Hook::Out);
            }
            for hook in hooks {
                let found = match view.socket.dump(tc::dump_filters(*index, hook.parent())) {
                    Ok(messages) => tc::parse_filters(messages),
                    Err(e) if e.errno() == Some(libc::ENODEV) => Vec::new(),
                    Err(e) => {
                        return Err(WireError::kernel(
                            format!("listing the {hook} filters of {name} in {describe}"),
                            e,
                        ));
                    }
                };
                filters.extend(
                    found
                        .into_iter()
                        .map(|filter| HookedFilter { hook, filter }),
                );
            }
        }
        Ok(Inventory {
            links,
            by_name,
            qdiscs,
            filters,
        })
    }

    fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(self.by_name.get(name)?)
    }

    fn name_of(&self, index: IfIndex) -> String {
        self.links
            .get(&index)
            .map_or_else(|| format!("ifindex {index}"), |l| l.name.clone())
    }

    /// patchwire's mirror filters: a bpf filter in the mirror priority range whose name is a
    /// mirror record. Anything else is someone else's.
    fn mirror_filters(&self) -> Vec<MirrorFilter> {
        self.filters
            .iter()
            .filter(|h| {
                h.filter.kind == "bpf"
                    && (MIRROR_PRIO_FIRST..tc::WIRE_PRIO).contains(&h.filter.prio)
            })
            .filter_map(|h| {
                let record = Record::parse(h.filter.name.as_deref()?)?;
                let action = match &record.role {
                    Role::Copy(_) => Some(
                        h.filter
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
                    index: h.filter.ifindex,
                    hook: h.hook,
                    prio: h.filter.prio,
                    record,
                    action,
                })
            })
            .collect()
    }

    /// Priorities in use on one hook of one interface (anyone's filters).
    fn used_prios(&self, index: IfIndex, hook: Hook) -> BTreeSet<u16> {
        self.filters
            .iter()
            .filter(|h| h.hook == hook && h.filter.ifindex == index)
            .map(|h| h.filter.prio)
            .collect()
    }

    /// Where patchwire's wire on `index` sends what arrives there, if `index` is a wire end.
    fn wire_target(&self, index: IfIndex) -> Option<IfIndex> {
        self.filters
            .iter()
            .find(|h| {
                h.hook == Hook::In && h.filter.ifindex == index && h.filter.is_patchwire_wire()
            })
            .and_then(|h| h.filter.wire_target())
            .filter(|t| t.0 != 0)
    }

    /// Names of the mirrors present, sorted.
    fn mirror_names(&self) -> Vec<String> {
        let names: BTreeSet<String> = self
            .mirror_filters()
            .into_iter()
            .map(|m| m.record.mirror)
            .collect();
        names.into_iter().collect()
    }
}

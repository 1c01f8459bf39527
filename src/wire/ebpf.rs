//! The eBPF datapath's programs for one operation: every direction it makes shares one
//! program and one per-CPU map keyed by the ingress ifindex ([`crate::bpf::wire_by_ingress`]),
//! so a thousand wires cost one program load, not two thousand. The map is an array indexed
//! by ifindex when the operation's ends have small ifindexes (at most four slots per
//! direction: the verifier inlines an array lookup, a few instructions per frame), else a hash.
//! The kernel keeps program and map while any filter uses them; a later operation makes its
//! own pair.

use std::os::fd::AsFd;

use super::WireError;
use super::apply::Op;
use crate::bpf::map::Map;
use crate::bpf::{self, Program};
use crate::nl::link::Link;
use crate::nl::tc;

/// The program and map of one operation's eBPF wire directions (more pairs if it outgrows
/// the first), kept open until the filters that use them are attached.
pub(crate) struct EbpfWires {
    /// Directions the next pair is sized for.
    capacity: u32,
    /// The largest ifindex a direction will arrive at, when known (arrays need it).
    highest: Option<u32>,
    pairs: Vec<(Program, Map, u32)>,
}

fn refused(what: String) -> WireError {
    WireError::Invalid(format!(
        "{what} (the eBPF datapath needs the bpf() syscall and CAP_BPF or root; --datapath tc works without)"
    ))
}

impl EbpfWires {
    /// For about `directions` directions (two per wire) arriving at ifindexes up to
    /// `highest` (when known).
    pub(crate) fn new(directions: usize, highest: Option<u32>) -> Self {
        EbpfWires {
            capacity: u32::try_from(directions.max(2)).unwrap_or(u32::MAX),
            highest,
            pairs: Vec::new(),
        }
    }

    fn map(&self) -> std::io::Result<Map> {
        match self.highest {
            Some(highest) if highest < (4 * self.capacity).max(64) => {
                Map::percpu_array("pw_wires", bpf::WIRE_VALUE_SIZE, highest + 1)
            }
            _ => Map::percpu_hash("pw_wires", bpf::WIRE_VALUE_SIZE, self.capacity),
        }
    }

    /// The filter that sends what arrives at `from` to `to` (into `to`'s peer with `peer`),
    /// its entry put in the map first.
    pub(crate) fn direction(
        &mut self,
        from: &Link,
        to: &Link,
        peer: bool,
    ) -> Result<Op, WireError> {
        let capacity = self.capacity;
        let fits = |map: &Map, used: u32| used < capacity && map.holds(from.index.0);
        if self
            .pairs
            .last()
            .is_none_or(|(_, map, used)| !fits(map, *used))
        {
            let map = self.map().map_err(|e| {
                refused(format!(
                    "creating the map of eBPF wires ({} entries): {e}",
                    self.capacity
                ))
            })?;
            let program = Program::load_sched_cls(&bpf::wire_by_ingress(map.as_fd()), "pw_wires")
                .map_err(|e| refused(e.to_string()))?;
            self.pairs.push((program, map, 0));
        }
        let (program, map, used) = self.pairs.last_mut().expect("made above");
        map.update_all_cpus(from.index.0, &bpf::wire_value(to.index, peer))
            .map_err(|e| {
                refused(format!(
                    "adding {} -> {} to the map of eBPF wires: {e}",
                    from.name, to.name
                ))
            })?;
        *used += 1;
        let (request, _) = bpf::cls_bpf_filter(
            from.index,
            tc::INGRESS_PARENT,
            tc::WIRE_PRIO,
            program.as_fd(),
            &tc::ebpf_wire_record(&to.name, to.index, peer),
        );
        Ok(Op::AddFilter {
            index: from.index,
            parent: tc::INGRESS_PARENT,
            prio: tc::WIRE_PRIO,
            request,
            what: format!(
                "the {} -> {} eBPF redirect filter on {}",
                from.name, to.name, from.name
            ),
        })
    }
}

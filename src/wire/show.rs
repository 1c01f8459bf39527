//! `show`: wires rebuilt from the kernel's filters, with their health and counters.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::WireError;
use super::ebpf::{self, Path};
use super::inventory::{TcState, Wiring, World};
use super::problems::{FixCommands, Segment, addresses_problem, end_condition, mtu_problem};
use super::{held_because, offload, silence};
use crate::marks::{ALIAS_WAS, CUT_MARK, HOLD_MARK};
use crate::netns::Netns;
use crate::nl::link::{IfIndex, Link};
use crate::nl::tc::Filter;

/// How well a wire (or a hub, or a mirror) passes traffic, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Both directions installed, both ends up with carrier, same MTU.
    Ok,
    /// Passes traffic only partly or not right now (end down, no carrier, one direction, MTU).
    Degraded,
    /// An end is gone: mirred drops everything the other end receives.
    Broken,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Health::Ok => "ok",
            Health::Degraded => "degraded",
            Health::Broken => "broken",
        })
    }
}

/// One port — a wire's end or a hub's member — as the kernel has it now: what `show` reports
/// for both. [`EndStatus`] and `hub::MemberStatus` flatten it first, so `show -j` prints its
/// fields where it always has, and dereference to it (`end.name`, `member.up`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortStatus {
    /// The port's name (when it is gone, from the cookies of the filters still sending to it).
    pub name: String,
    /// `None` once the interface is gone.
    pub index: Option<IfIndex>,
    /// Its link kind (`veth`, `tun`, `vxlan`…); `None` for a physical NIC, or once it is gone.
    pub kind: Option<String>,
    /// Its MTU; `None` once it is gone.
    pub mtu: Option<u32>,
    /// Administratively up.
    pub up: bool,
    /// It has carrier.
    pub carrier: bool,
    /// The interface exists.
    pub present: bool,
}

impl PortStatus {
    /// A port that exists, as `link` has it.
    pub fn of(link: &Link) -> Self {
        PortStatus {
            name: link.name.clone(),
            index: Some(link.index),
            kind: link.kind.clone(),
            mtu: Some(link.mtu),
            up: link.up,
            carrier: link.carrier,
            present: true,
        }
    }

    /// A port that is gone (deleted, or moved to another namespace), known only by `name`.
    pub fn gone(name: String) -> Self {
        PortStatus {
            name,
            index: None,
            kind: None,
            mtu: None,
            up: false,
            carrier: false,
            present: false,
        }
    }
}

/// Whether a port sends nothing of its own (IPv6 off, no addresses: see `wire::silence`), and
/// its addresses; a gone port is silent.
pub(crate) fn silent_and_addresses(
    link: &Link,
    addresses: &HashMap<IfIndex, Vec<String>>,
) -> (bool, Vec<String>) {
    let addresses = addresses.get(&link.index).cloned().unwrap_or_default();
    (silence::is_silent(link) && addresses.is_empty(), addresses)
}

/// One end of a wire as the kernel has it now.
#[derive(Debug, Clone, Serialize)]
pub struct EndStatus {
    /// Name, index, kind, MTU, state (see [`PortStatus`]).
    #[serde(flatten)]
    pub port: PortStatus,
    /// TX checksum offload (`None` when the driver does not say, or the end is gone).
    pub tx_checksum: Option<bool>,
    /// For a tap: whether a process (qemu) holds it. An unattached tap drops all it is sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached: Option<bool>,
    /// Sends nothing of its own: IPv6 off, no addresses (see `wire::silence`).
    pub silent: bool,
    /// IP addresses on the end (a cable has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Held down by `watch` because this far end is down or gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_for: Option<String>,
}

impl std::ops::Deref for EndStatus {
    type Target = PortStatus;

    fn deref(&self) -> &PortStatus {
        &self.port
    }
}

/// Counters of one direction (the redirect action on the sending end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Frames redirected.
    pub packets: u64,
    /// Frame bytes, Ethernet header included (as mirrors count them); a VLAN tag the kernel
    /// holds in metadata is not counted.
    pub bytes: u64,
    /// Frames mirred could not deliver (target gone, down or without carrier).
    pub drops: u64,
}

/// One wire as rebuilt from its filters, with health, problems and counters.
#[derive(Debug, Clone, Serialize)]
pub struct WireStatus {
    /// One end.
    pub a: EndStatus,
    /// The other end.
    pub b: EndStatus,
    /// The worst of what is wrong (`ok` when nothing is).
    pub health: Health,
    /// What is wrong, one sentence each, with what to do about it.
    pub problems: Vec<String>,
    /// `None` when that direction's filter is not installed.
    pub a_to_b: Option<Counters>,
    /// `None` when that direction's filter is not installed.
    pub b_to_a: Option<Counters>,
    /// How the wire moves frames (the a -> b direction's filter).
    pub datapath: super::Datapath,
    /// The path a -> b takes: `peer` (bpf_redirect_peer, skips b's qdisc and egress hook),
    /// `redirect` (bpf_redirect) or `mirred` (tc); `None` when that direction is not installed.
    pub a_to_b_path: Option<Path>,
    /// The path b -> a takes.
    pub b_to_a_path: Option<Path>,
}

impl WireStatus {
    /// Whether `name` is one of the wire's ends.
    pub fn involves(&self, name: &str) -> bool {
        self.a.name == name || self.b.name == name
    }
}

/// Every wire in `netns`, in interface-index order.
pub fn show(netns: Netns) -> Result<Vec<WireStatus>, WireError> {
    let mut world = World::new(netns)?;
    let Wiring { links, filters, tc } = world.home().wiring()?;

    let addresses = world.home().addresses()?;
    // Root qdiscs matter only where an eBPF direction may skip them.
    let targets: Vec<IfIndex> = filters
        .values()
        .filter(|f| f.is_ebpf_wire())
        .filter_map(Filter::wire_target)
        .filter(|t| links.contains_key(t))
        .collect();
    let roots = ebpf::root_qdiscs(world.home(), &targets)?;
    let context = Context {
        addresses,
        tc,
        roots,
        fix: FixCommands::for_netns(&world.home().netns),
    };
    let mut seen = HashSet::new();
    let mut wires = Vec::new();
    for (index, filter) in &filters {
        if seen.contains(index) {
            continue;
        }
        seen.insert(*index);
        let a = &links[index];
        let target = filter.wire_target().unwrap_or(IfIndex(0));
        let b = links.get(&target).filter(|_| target.0 != 0);
        let back = b
            .and_then(|b| filters.get(&b.index))
            .filter(|f| f.wire_target() == Some(a.index));
        if let (Some(b), Some(_)) = (b, back) {
            seen.insert(b.index);
        }
        wires.push(status(&context, a, filter, b, back));
    }

    let names: Vec<String> = wires
        .iter()
        .flat_map(|w| [&w.a, &w.b])
        .filter(|e| e.present)
        .map(|e| e.name.clone())
        .collect();
    let offloads = offload::read(&world.home().netns, &names)?;
    for end in wires.iter_mut().flat_map(|w| [&mut w.a, &mut w.b]) {
        end.tx_checksum = offloads.get(&end.name).copied();
    }
    Ok(wires)
}

/// What `status` reads besides the two ends: addresses and tc state per interface.
struct Context {
    addresses: HashMap<IfIndex, Vec<String>>,
    tc: BTreeMap<IfIndex, TcState>,
    /// Counted root qdiscs (`ebpf::shaping_root`) of eBPF directions' targets.
    roots: HashMap<IfIndex, String>,
    /// How the fixes the problems name are typed for this namespace (`patchwire -n NS`).
    fix: FixCommands,
}

fn status(
    context: &Context,
    a: &Link,
    forward: &Filter,
    b: Option<&Link>,
    backward: Option<&Filter>,
) -> WireStatus {
    let mut problems = Vec::new();
    let mut health = Health::Ok;
    let b_status = match b {
        Some(b) => end_status(context, b),
        None => {
            let name = forward.wire_partner_name().unwrap_or_else(|| "?".into());
            health = Health::Broken;
            problems.push(format!(
                "{name} is gone (deleted, or moved to another netns): mirred drops everything {} receives; \
                 remove the remains with: {} unlink {}",
                a.name, context.fix.patchwire, a.name
            ));
            EndStatus {
                port: PortStatus::gone(name),
                tx_checksum: None,
                attached: None,
                silent: true,
                addresses: Vec::new(),
                held_for: None,
            }
        }
    };
    let a_status = end_status(context, a);
    let mut degraded = |problem: String| {
        health = health.max(Health::Degraded);
        problems.push(problem);
    };
    if let Some(b) = b {
        if backward.is_none() {
            degraded(format!(
                "only {0} -> {1} is installed; {1} -> {0} is missing (repair: {2} link {0} {1})",
                a.name, b.name, context.fix.patchwire
            ));
        }
        for (end, other) in [(a, b), (b, a)] {
            match held_because(end) {
                // `patchwire cut` (a hold marked as a cut): no watch put it there.
                Some(_) if !end.up && is_cut(end) => degraded(format!(
                    "{} is down: its cable is cut ({} mend {} puts it back)",
                    end.name, context.fix.patchwire, end.name
                )),
                Some(far) if !end.up => degraded(format!(
                    "{} is held down by patchwire watch because its far end {far} is down or gone; \
                     watch brings it back up when {} is",
                    end.name, other.name
                )),
                _ if !end.up || !end.carrier => {
                    degraded(format!("{} {}", end.name, end_condition(end)))
                }
                _ => {}
            }
        }
        if a.mtu != b.mtu {
            degraded(mtu_problem(Segment::Wire, a, b, &context.fix));
        }
    }
    let a_to_b_path = Some(ebpf::path_of(forward));
    let b_to_a_path = backward.map(ebpf::path_of);
    if let Some(b) = b {
        for (from, to, path) in [(a, b, a_to_b_path), (b, a, b_to_a_path)] {
            if path != Some(Path::Peer) {
                continue;
            }
            let egress = context.tc.get(&to.index).map_or(0, |t| t.egress.len());
            if let Some(skipped) = ebpf::peer_would_skip(to, context.roots.get(&to.index), egress) {
                degraded(format!(
                    "{} -> {} takes the peer path (bpf_redirect_peer), which skips {skipped}: it is \
                     never applied to what the wire sends; switch that direction to bpf_redirect \
                     in place with: {} link {} {} --datapath ebpf",
                    from.name, to.name, context.fix.patchwire, a.name, b.name
                ));
            }
        }
    }
    let relink = match b {
        Some(b) => format!("{} link {} {}", context.fix.patchwire, a.name, b.name),
        None => format!("{} link", context.fix.patchwire),
    };
    for end in [Some(a), b].into_iter().flatten() {
        if end.ipv6 == Some(true) {
            degraded(format!(
                "{} has IPv6 on: it sends router solicitations, MLD reports and neighbour discovery of \
                 its own into the wire (patchwire link turns it off; something turned it back on — run \
                 {relink} again)",
                end.name
            ));
        }
        let addresses: Vec<&String> = context
            .addresses
            .get(&end.index)
            .into_iter()
            .flatten()
            .collect();
        // patchwire-cni's wires keep the main plugin's addresses on CNI_IFNAME on purpose:
        // its CHECK verifies them, and the VM behind the wire takes them over.
        let cni = [Some(a), b]
            .into_iter()
            .flatten()
            .any(|end| crate::marks::is_cni_made(&end.altnames));
        if !addresses.is_empty() && !cni {
            degraded(addresses_problem(
                Segment::Wire,
                &end.name,
                &addresses,
                &context.fix,
            ));
        }
        if let Some(state) = context.tc.get(&end.index) {
            for (hook, filter) in state.thieves() {
                let where_ = match hook {
                    "ingress" => format!("on {}'s ingress hook runs before the wire", end.name),
                    _ => format!(
                        "on {}'s egress hook sees what the wire sends out of it",
                        end.name
                    ),
                };
                degraded(format!(
                    "a foreign {} {where_} and can take its frames (another tool's; patchwire leaves it \
                     alone: remove it or make it 'continue')",
                    filter.describe()
                ));
            }
        }
    }
    WireStatus {
        a: a_status,
        b: b_status,
        health,
        problems,
        a_to_b: counters(forward),
        b_to_a: backward.and_then(counters),
        datapath: match forward.is_ebpf_wire() {
            true => super::Datapath::Ebpf,
            false => super::Datapath::Tc,
        },
        a_to_b_path,
        b_to_a_path,
    }
}

fn end_status(context: &Context, link: &Link) -> EndStatus {
    let (silent, addresses) = silent_and_addresses(link, &context.addresses);
    EndStatus {
        port: PortStatus::of(link),
        tx_checksum: None,
        attached: link.tun.as_ref().map(|t| t.attached),
        silent,
        addresses,
        held_for: held_because(link),
    }
}

/// The redirect action's counters. tc counts bytes at ingress from the network header: the
/// Ethernet header is added back so wires and mirrors count the same bytes for a frame.
fn counters(filter: &Filter) -> Option<Counters> {
    if filter.is_ebpf_wire() {
        return ebpf_counters(filter);
    }
    let action = filter.wire_counters()?;
    Some(Counters {
        packets: action.packets,
        bytes: action.bytes + ETHERNET_HEADER * action.packets,
        drops: action.drops + action.overlimits,
    })
}

const ETHERNET_HEADER: u64 = 14;

/// An eBPF wire direction's counters, from its program's per-CPU map (found by the program's
/// id: no state file). A map shared by several directions is keyed by the ifindex the filter
/// is on, its values the target and flags then the counters (see `bpf::wire_by_ingress`); a
/// map of one direction (made by earlier versions) holds only the counters, under key 0. The
/// program counts frame bytes already; drops happen after it (in the kernel's redirect) and
/// are not counted.
fn ebpf_counters(filter: &Filter) -> Option<Counters> {
    use crate::bpf::map::Map;
    let maps = crate::bpf::map::prog_map_ids(filter.prog_id?).ok()?;
    let id = *maps.first()?;
    let map = Map::from_id(id).ok()?;
    let (key, first) = match map.value_size() {
        crate::bpf::WIRE_VALUE_SIZE => (filter.ifindex.0, 1),
        _ => (0, 0),
    };
    let sums = map.sum_u64s(key).ok()?;
    Some(Counters {
        packets: *sums.get(first)?,
        bytes: *sums.get(first + 1)?,
        drops: 0,
    })
}

/// Whether a port is down because of `patchwire cut`: a hold alias ending in the cut mark
/// (as `impair::cable::is_cut`, which this floor cannot call).
fn is_cut(end: &Link) -> bool {
    end.alias.as_deref().is_some_and(|a| {
        a.starts_with(HOLD_MARK) && a.split(ALIAS_WAS).next().unwrap_or(a).ends_with(CUT_MARK)
    })
}

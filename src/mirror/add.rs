//! `mirror add`: validate, check what the new mirror would do to the frames it selects
//! (cycles, copies arriving twice), choose priorities, then apply every change in one batch
//! and roll back on failure.

use std::collections::{HashMap, HashSet, VecDeque};
use std::os::fd::{AsFd, AsRawFd};

use serde::Serialize;

use super::programs;
use super::spec::{
    self, CopyRecord, Direction, Hook, MirrorSpec, Record, Role, Sources, VlanSet,
    selections_overlap,
};
use super::{Inventory, MIRROR_PRIO_FIRST};
use crate::bpf::{BpfError, Program};
use crate::netns::{self, Netns};
use crate::nl::link::{IfIndex, Link};
use crate::nl::tc::{self, IngressQdisc};
use crate::wire::apply::{self, Op};
use crate::wire::{Fault, NsView, WireError, silence};

/// What [`add`] made.
#[derive(Debug, Clone, Serialize)]
pub struct AddOutcome {
    /// One entry per mirror, in the order asked.
    pub mirrors: Vec<AddedMirror>,
}

/// One mirror that [`add`] made.
#[derive(Debug, Clone, Serialize)]
pub struct AddedMirror {
    /// The mirror's name.
    pub name: String,
    /// The destination's name.
    pub to: String,
    /// The sources, each with the hooks it got a filter on.
    pub sources: Vec<SourceHooks>,
    /// Selections left out on purpose (copies that would arrive twice), and why.
    pub notes: Vec<String>,
    /// Things worth knowing that did not stop the mirror (a destination that drops copies).
    pub warnings: Vec<String>,
}

/// A source of a new mirror and where its frames are taken.
#[derive(Debug, Clone, Serialize)]
pub struct SourceHooks {
    /// The source's name.
    pub name: String,
    /// The hooks it got a filter on: `in`, `out` or both (fewer than the direction asks when a
    /// selection was left out; see [`AddedMirror::notes`]).
    pub hooks: Vec<Hook>,
}

/// Adds `specs` (in order; later ones see earlier ones) in `netns`, all or nothing.
pub fn add(
    netns: Netns,
    specs: &[MirrorSpec],
    fault: Option<Fault>,
) -> Result<AddOutcome, WireError> {
    let mut view = NsView::open(netns)?;
    let mut inventory = Inventory::load_lazily(&mut view)?;
    if specs.iter().any(|s| inventory.names.contains(&s.name)) {
        inventory.confirm_names(&mut view)?;
    }
    let mut plan = Plan::default();
    let mut mirrors = Vec::new();
    for spec in specs {
        let planned = plan_one(&mut view, &mut inventory, &mut plan, spec);
        mirrors.push(planned.map_err(|e| match e {
            // In a batch, say which mirror was refused.
            WireError::Invalid(text) if specs.len() > 1 => {
                WireError::Invalid(format!("mirror {}: {text}", spec.name))
            }
            e => e,
        })?);
    }
    plan.ops.append(&mut plan.silencing.ops);
    // Qdiscs before the filters that need them.
    plan.ops
        .sort_by_key(|op| !matches!(op, Op::AddClsact { .. }));
    // IPv6 off on the destinations first (not netlink); back on if the batch fails.
    let ipv6_off = silence::set_ipv6(&view.netns, &plan.silencing.ipv6_off, false)?;
    if let Err(e) = apply::apply(&mut view.socket, &plan.ops, fault) {
        silence::undo_ipv6(&view.netns, &ipv6_off);
        return Err(e);
    }
    drop(plan.programs);
    drop(plan.wires);
    Ok(AddOutcome { mirrors })
}

/// Ops and the programs whose fds they refer to (kept open until the batch is applied).
/// What a copy classifier selects: VLANs (as text), the RSPAN tag it pushes, the filter.
type Selection = (Option<String>, Option<u16>, Option<String>);

#[derive(Default)]
pub(super) struct Plan {
    pub(super) ops: Vec<Op>,
    programs: Vec<Program>,
    /// eBPF wire directions re-made with `bpf_redirect` (see `unpeer`).
    wires: Option<crate::wire::ebpf::EbpfWires>,
    /// Classifiers already loaded, by what they select: mirrors alike share one program.
    classifiers: HashMap<Selection, i32>,
    pop: Option<i32>,
    /// Destinations made silent (copies only, nothing of their own).
    silencing: silence::Plan,
    silenced: HashSet<IfIndex>,
}

impl Plan {
    fn load(&mut self, insns: &[crate::bpf::insn::Insn], name: &str) -> Result<i32, WireError> {
        let program = Program::load_sched_cls(insns, name).map_err(|e| match e {
            BpfError::Load {
                errno: libc::EPERM | libc::EACCES,
                ..
            } => WireError::Invalid(format!(
                "{e} (mirrors load eBPF programs: run patchwire as root)"
            )),
            e => WireError::Invalid(e.to_string()),
        })?;
        let fd = program.as_fd().as_raw_fd();
        self.programs.push(program);
        Ok(fd)
    }

    fn classifier(
        &mut self,
        vlans: Option<&VlanSet>,
        output_vlan: Option<u16>,
        filter: Option<&str>,
    ) -> Result<i32, WireError> {
        let key = (
            vlans.map(ToString::to_string),
            output_vlan,
            filter.map(str::to_string),
        );
        if let Some(fd) = self.classifiers.get(&key) {
            return Ok(*fd);
        }
        let compiled = match filter {
            Some(expression) => Some(
                crate::bpf::pcap::compile(expression, u16::MAX.into())
                    .map_err(|e| invalid(format!("--filter: {e}")))?,
            ),
            None => None,
        };
        let program = programs::copy_classifier(vlans, output_vlan, compiled.as_deref())
            .map_err(|e| invalid(format!("--filter {:?}: {e}", filter.unwrap_or_default())))?;
        let fd = self.load(&program, "pw_mirror")?;
        self.classifiers.insert(key, fd);
        Ok(fd)
    }

    fn pop_program(&mut self) -> Result<i32, WireError> {
        if let Some(fd) = self.pop {
            return Ok(fd);
        }
        let fd = self.load(&programs::pop_pushed_tag(), "pw_mirror_pop")?;
        self.pop = Some(fd);
        Ok(fd)
    }
}

fn invalid(message: impl Into<String>) -> WireError {
    WireError::Invalid(message.into())
}

fn plan_one(
    view: &mut NsView,
    inventory: &mut Inventory,
    plan: &mut Plan,
    spec: &MirrorSpec,
) -> Result<AddedMirror, WireError> {
    let netns = &view
        .netns
        .try_clone()
        .map_err(|e| WireError::Io(e.to_string()))?;
    let describe = netns.describe();
    let name = &spec.name;
    spec::validate_mirror_name(name).map_err(invalid)?;
    if let Some(tag) = spec.output_vlan {
        spec::vlan_id(&tag.to_string(), "--output-vlan")
            .map_err(|e| invalid(format!("--output-vlan: {e}")))?;
    }
    if inventory.mirror_names().contains(name) {
        return Err(invalid(format!(
            "a mirror named {name} already exists in {describe}: choose another name, or remove it first \
             (patchwire mirror del {name})"
        )));
    }

    let to = local_name(netns, &spec.to, "destination")?;
    let dest = find(netns, inventory, &to, "destination")?;
    usable(&dest, "destination")?;

    let sources = resolve_sources(netns, inventory, spec, &dest)?;
    let mut indexes: Vec<IfIndex> = sources.iter().map(|s| s.index).collect();
    indexes.push(dest.index);
    inventory.ensure(view, &indexes)?;
    refuse_wire_end(inventory, spec, &sources, &dest)?;

    let (selections, notes) = select_hooks(inventory, spec, &sources, &to);
    refuse_duplicates(inventory, spec, &selections, &to)?;
    check_cycle(view, inventory, &sources, &dest)?;

    // Priorities, records, programs, ops.
    let source_names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let record = spec::copy_record(spec, &source_names).map_err(invalid)?;
    let copy = CopySetup::new(plan, &record, dest.index)?;
    let mut chosen: HashMap<String, Vec<Hook>> = HashMap::new();
    for (source, hook) in &selections {
        if *hook == Hook::Out {
            unpeer(view, inventory, plan, source)?;
        }
        copy.add(plan, inventory, source, *hook, None)?;
        chosen.entry(source.name.clone()).or_default().push(*hook);
    }
    let sources = source_names
        .iter()
        .map(|s| SourceHooks {
            name: s.clone(),
            hooks: chosen.remove(s).unwrap_or_default(),
        })
        .collect();
    if !silence::is_silent(&dest) && plan.silenced.insert(dest.index) {
        plan.silencing.add(&dest);
    }
    let mut warnings = Vec::new();
    if !dest.up || !dest.carrier {
        let condition = crate::wire::end_condition(&dest).replace("redirected", "copied");
        warnings.push(format!("destination {to} {condition}"));
    }
    Ok(AddedMirror {
        name: name.clone(),
        to,
        sources,
        notes,
        warnings,
    })
}

/// A wire end is a destination only when asked for (`--onto-wire`): its copies would leave
/// mixed with the wire's traffic, to whatever is behind it. And never for a mirror of the
/// wire's other end: what arrives there already leaves the destination.
fn refuse_wire_end(
    inventory: &Inventory,
    spec: &MirrorSpec,
    sources: &[Link],
    dest: &Link,
) -> Result<(), WireError> {
    if let Some((hub, _, _)) = crate::wire::inventory::hub_record(dest)
        && !spec.onto_wire
    {
        return Err(invalid(format!(
            "destination {} is a port of hub {hub}: copies sent out of it would mix with the \
             segment's traffic and reach whatever is behind it. Mirror to another interface, or \
             add --onto-wire if that is what you want",
            dest.name
        )));
    }
    let partner = inventory
        .wire_target(dest.index)
        .or_else(|| inventory.wire_feeder(dest.index));
    let Some(partner) = partner else {
        return Ok(());
    };
    let (to, other) = (&dest.name, inventory.name_of(partner));
    if let Some(source) = sources.iter().find(|s| s.index == partner) {
        return Err(invalid(format!(
            "{} and {to} are the two ends of wire {} <-> {to}: every frame arriving at {} already leaves \
             {to}, so it would arrive twice (and copies of what leaves {} would go back where they came \
             from). Mirror to another interface",
            source.name, source.name, source.name, source.name
        )));
    }
    if !spec.onto_wire {
        return Err(invalid(format!(
            "destination {to} is an end of wire {other} <-> {to}: copies sent out of {to} would mix with \
             the wire's traffic and reach whatever is behind {to} (a router there would see frames of \
             other ports). Mirror to another interface, or add --onto-wire if that is what you want"
        )));
    }
    Ok(())
}

/// What every copy filter of one mirror shares: its record (the filter name), destination
/// and programs.
pub(super) struct CopySetup {
    mirror: String,
    record: String,
    pop_record: String,
    dest: IfIndex,
    onto_wire: bool,
    classifier: i32,
    pop: Option<i32>,
}

impl CopySetup {
    pub(super) fn new(plan: &mut Plan, record: &Record, dest: IfIndex) -> Result<Self, WireError> {
        let Role::Copy(copy) = &record.role else {
            return Err(invalid(format!("{}: not a copy record", record.mirror)));
        };
        let classifier = plan.classifier(
            copy.vlans.as_ref(),
            copy.output_vlan,
            copy.filter.as_deref(),
        )?;
        let pop = match copy.output_vlan {
            Some(_) => Some(plan.pop_program()?),
            None => None,
        };
        let pop_record = Record {
            mirror: record.mirror.clone(),
            role: Role::Pop,
        };
        Ok(CopySetup {
            mirror: record.mirror.clone(),
            record: record.encode(),
            pop_record: pop_record.encode(),
            dest,
            onto_wire: copy.onto_wire,
            classifier,
            pop,
        })
    }

    /// Plans the copy filter (and with RSPAN its pop filter) on one hook of `source`, with a
    /// clsact qdisc first if the source has none. `None` takes the lowest free priority from
    /// [`MIRROR_PRIO_FIRST`] (two in a row with RSPAN); `Some(prio)` replaces the copy filter
    /// at that priority, deleted earlier in the same batch (its pop filter stays as it is).
    pub(super) fn add(
        &self,
        plan: &mut Plan,
        inventory: &mut Inventory,
        source: &Link,
        hook: Hook,
        prio: Option<u16>,
    ) -> Result<(), WireError> {
        let name = &self.mirror;
        if let std::collections::hash_map::Entry::Vacant(slot) =
            inventory.qdiscs.entry(source.index)
        {
            plan.ops.extend(apply::add_clsact(source));
            slot.insert(IngressQdisc::Clsact);
        }
        let replacing = prio;
        let prio = match prio {
            Some(prio) => prio,
            None => {
                let used = inventory.used_prios(source.index, hook);
                let free = |p: u16| used.is_none_or(|used| !used.contains(&p));
                let width = if self.pop.is_some() { 2 } else { 1 };
                (MIRROR_PRIO_FIRST..tc::WIRE_PRIO - (width - 1))
                    .find(|p| (*p..*p + width).all(free))
                    .ok_or_else(|| {
                        invalid(format!(
                            "{} {hook}: no free filter priority left between {MIRROR_PRIO_FIRST} and {} \
                             (too many mirrors or foreign filters there)",
                            source.name,
                            tc::WIRE_PRIO - 1
                        ))
                    })?
            }
        };
        let (request, _) = tc::add_bpf_filter(
            source.index,
            hook.parent(),
            prio,
            self.classifier,
            &self.record,
            false,
            vec![tc::mirror_action(self.dest, name, self.onto_wire)],
        );
        plan.ops.push(Op::AddFilter {
            index: source.index,
            parent: hook.parent(),
            prio,
            request: request.clone(),
            what: format!("mirror {name}'s copy filter on {} {hook}", source.name),
        });
        remember(inventory, hook, &request);
        if let (Some(pop), true) = (self.pop, replacing.is_none()) {
            let (request, _) = tc::add_bpf_filter(
                source.index,
                hook.parent(),
                prio + 1,
                pop,
                &self.pop_record,
                true,
                vec![],
            );
            plan.ops.push(Op::AddFilter {
                index: source.index,
                parent: hook.parent(),
                prio: prio + 1,
                request: request.clone(),
                what: format!(
                    "mirror {name}'s RSPAN tag-removal filter on {} {hook}",
                    source.name
                ),
            });
            remember(inventory, hook, &request);
        }
        Ok(())
    }
}

/// An `out` copy on `source` must see every frame leaving it, but an eBPF wire that hands its
/// frames straight to `source`'s veth peer (`bpf_redirect_peer`) skips `source`'s egress
/// hook: that wire direction is rebuilt, in the same batch, as a plain `bpf_redirect`.
fn unpeer(
    view: &mut NsView,
    inventory: &Inventory,
    plan: &mut Plan,
    source: &Link,
) -> Result<(), WireError> {
    let Some(feeder) = inventory.wire_feeder(source.index) else {
        return Ok(());
    };
    let filters = match view
        .socket
        .dump(tc::dump_filters(feeder, tc::INGRESS_PARENT))
    {
        Ok(messages) => tc::parse_filters(messages),
        Err(e) => {
            return Err(WireError::kernel(
                format!("listing the filters of {}", inventory.name_of(feeder)),
                e,
            ));
        }
    };
    let peer = filters
        .iter()
        .any(|f| f.is_peer_redirect() && f.wire_target() == Some(source.index));
    let Some(feeder_link) = inventory.links.get(&feeder).filter(|_| peer) else {
        return Ok(());
    };
    plan.ops.push(Op::DeleteWireFilter {
        index: feeder,
        name: feeder_link.name.clone(),
    });
    let wires = plan
        .wires
        .get_or_insert_with(|| crate::wire::ebpf::EbpfWires::new(2, None));
    plan.ops.push(wires.direction(feeder_link, source, false)?);
    Ok(())
}

/// The source links: the named ones (checked, duplicates dropped), or for `--all` every
/// Ethernet interface but the destination, its veth peer here (which would hand every copy
/// straight back), loopback and other mirrors' destinations.
fn resolve_sources(
    netns: &Netns,
    inventory: &Inventory,
    spec: &MirrorSpec,
    dest: &Link,
) -> Result<Vec<Link>, WireError> {
    let (name, to, describe) = (&spec.name, &dest.name, netns.describe());
    match &spec.sources {
        Sources::List(names) => {
            let mut seen = HashSet::new();
            let mut links = Vec::new();
            for text in names {
                let source = local_name(netns, text, "source")?;
                if source == *to {
                    return Err(invalid(format!(
                        "{to} is both a source and the destination of mirror {name}: its copies would be \
                         copied again, endlessly; pick a destination that is not a source"
                    )));
                }
                if seen.insert(source.clone()) {
                    let link = find(netns, inventory, &source, "source")?;
                    usable(&link, "source")?;
                    links.push(link);
                }
            }
            Ok(links)
        }
        Sources::All => {
            let destinations = &inventory.destinations;
            let dest_peer = dest.peer.filter(|_| dest.peer_netnsid.is_none());
            let all: Vec<Link> = inventory
                .links
                .values()
                .filter(|l| {
                    l.index != dest.index
                        && Some(l.index) != dest_peer
                        && !l.loopback
                        && l.mac.is_some()
                        && !destinations.contains(&l.index)
                })
                .cloned()
                .collect();
            if all.is_empty() {
                let present: Vec<&str> =
                    inventory.links.values().map(|l| l.name.as_str()).collect();
                return Err(invalid(format!(
                    "--all found nothing to mirror in {describe}: it takes every Ethernet interface except \
                     the destination {to} (and its veth peer), loopback and other mirrors' destinations, \
                     and the interfaces here are: {}",
                    present.join(", ")
                )));
            }
            Ok(all)
        }
    }
}

/// Which hooks of which source: the direction, minus `out` on a wire end whose partner is also
/// a source with `--direction both` (every frame leaving it entered the partner, already copied
/// there). Returns the selections and a note for each one left out.
fn select_hooks(
    inventory: &Inventory,
    spec: &MirrorSpec,
    sources: &[Link],
    to: &str,
) -> (Vec<(Link, Hook)>, Vec<String>) {
    let mut selections = Vec::new();
    let mut notes = Vec::new();
    for source in sources {
        for &hook in spec.direction.hooks() {
            let feeder = match (hook, spec.direction) {
                (Hook::Out, Direction::Both) => inventory
                    .wire_feeder(source.index)
                    .and_then(|f| sources.iter().find(|s| s.index == f)),
                _ => None,
            };
            match feeder {
                Some(feeder) => notes.push(format!(
                    "{src} out is not copied: every frame leaving {src} entered {f} first (wire {f} -> {src}), \
                     and {f} in is copied already, so {to} would get it twice",
                    src = source.name,
                    f = feeder.name
                )),
                None => selections.push((source.clone(), hook)),
            }
        }
    }
    (selections, notes)
}

/// A frame must reach a destination once: refuses a selection that another mirror to the same
/// destination (with overlapping VLANs) already makes — on the same source and hook, or on the
/// other end of a wire in the opposite direction (in at A is out at B for a wire A -> B).
/// Also refuses `out` where another tool's plain ingress qdisc leaves no egress hook.
fn refuse_duplicates(
    inventory: &Inventory,
    spec: &MirrorSpec,
    selections: &[(Link, Hook)],
    to: &str,
) -> Result<(), WireError> {
    let name = &spec.name;
    let what = |hook: Hook| match hook {
        Hook::In => "arriving at",
        Hook::Out => "leaving",
    };
    for (source, hook) in selections {
        if *hook == Hook::Out && inventory.qdiscs.get(&source.index) == Some(&IngressQdisc::Ingress)
        {
            return Err(invalid(format!(
                "{} has a plain 'ingress' qdisc from another tool, which has no egress hook: remove it \
                 (patchwire would add clsact) or mirror {} with --direction in",
                source.name, source.name
            )));
        }
        let equivalent = match hook {
            Hook::In => inventory.wire_target(source.index).map(|t| (t, Hook::Out)),
            Hook::Out => inventory.wire_feeder(source.index).map(|f| (f, Hook::In)),
        };
        let candidates = inventory.mirrors_on(source.index).chain(
            equivalent
                .into_iter()
                .flat_map(|(i, _)| inventory.mirrors_on(i)),
        );
        for other in candidates {
            let Role::Copy(copy) = &other.record.role else {
                continue;
            };
            if copy.to != to || !selections_overlap(copy.vlans.as_ref(), spec.vlans.as_ref()) {
                continue;
            }
            let mirror = &other.record.mirror;
            if other.index == source.index && other.hook == *hook {
                return Err(invalid(format!(
                    "mirror {mirror} already copies frames {} {} to {to}: with mirror {name} they would \
                     arrive twice. Extend or remove mirror {mirror} instead",
                    what(*hook),
                    source.name,
                )));
            }
            if Some((other.index, other.hook)) == equivalent {
                let peer = inventory.name_of(other.index);
                return Err(invalid(format!(
                    "mirror {mirror} copies frames {} {peer} to {to}, and {} and {peer} are the two ends of a \
                     wire: the frames {} {} are the same frames, so {to} would get them twice. Mirror one \
                     end with --direction both, or both ends with --direction in",
                    what(other.hook),
                    source.name,
                    what(*hook),
                    source.name
                )));
            }
        }
    }
    Ok(())
}

/// Adds a planned filter to the inventory, so later mirrors of the same batch see it.
fn remember(inventory: &mut Inventory, hook: Hook, request: &RouteNetlinkMessage) {
    if let RouteNetlinkMessage::NewTrafficFilter(message) = request {
        let mut message = message.clone();
        // Dumps carry a handle; any non-zero one marks a rule rather than a chain head.
        message.header.handle = TcHandle::from(1u32);
        for filter in tc::parse_filters(vec![RouteNetlinkMessage::NewTrafficFilter(message)]) {
            inventory.add_filter(hook, &filter);
        }
    }
}

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::TcHandle;

/// `IF` or `NETNS:IF`; a namespace other than the command's own is refused with the reason.
fn local_name(netns: &Netns, text: &str, role: &str) -> Result<String, WireError> {
    let (ns, name) =
        spec::split_namespace(text).map_err(|e| invalid(format!("{role} {text}: {e}")))?;
    if let Some(ns) = ns {
        let elsewhere = Netns::open(Some(ns))?;
        if !elsewhere.same_as(netns) {
            return Err(different_namespace(netns, name, ns, role));
        }
    }
    Ok(name.to_string())
}

fn different_namespace(netns: &Netns, name: &str, other_ns: &str, role: &str) -> WireError {
    invalid(format!(
        "{role} {name} is in netns {other_ns} but the mirror is being made in {}: a mirror's sources and \
         destination must share one namespace (mirred looks its destination up in the filter's own \
         namespace). Join the namespaces with a veth pair and mirror to its near end",
        netns.describe()
    ))
}

/// The link named `name`, or an error that says where it is if it lives in another namespace.
fn find(netns: &Netns, inventory: &Inventory, name: &str, role: &str) -> Result<Link, WireError> {
    if let Some(link) = inventory.link(name) {
        return Ok(link.clone());
    }
    for other in netns::named() {
        let Ok(elsewhere) = Netns::open(Some(&other)) else {
            continue;
        };
        if elsewhere.same_as(netns) {
            continue;
        }
        let present = NsView::open(elsewhere)
            .and_then(|mut view| view.links_by_name(&[name]))
            .is_ok_and(|found| found[0].is_some());
        if present {
            return Err(different_namespace(netns, name, &other, role));
        }
    }
    Err(invalid(format!(
        "{role} {name} does not exist in {}",
        netns.describe()
    )))
}

/// Loopback and layer-3 devices (no MAC address) cannot carry mirrored Ethernet frames.
fn usable(link: &Link, role: &str) -> Result<(), WireError> {
    if link.loopback {
        return Err(invalid(format!(
            "{} is the loopback device and cannot be a mirror {role}",
            link.name
        )));
    }
    if link.mac.is_none() {
        return Err(invalid(format!(
            "{} is a layer-3 device (no Ethernet address) and cannot be a mirror {role}",
            link.name
        )));
    }
    Ok(())
}

/// Refuses a mirror whose copies could come back to one of its sources: follow where frames
/// sent out of the destination can go (veth peer in this namespace, wire redirects, other
/// mirrors' copies) and see whether a source is reachable.
fn check_cycle(
    view: &mut NsView,
    inventory: &mut Inventory,
    sources: &[Link],
    dest: &Link,
) -> Result<(), WireError> {
    // Where a frame sent out of an interface goes next, and why.
    let next = |inventory: &Inventory, at: IfIndex| -> Vec<(IfIndex, String)> {
        let mut next = Vec::new();
        if let Some(link) = inventory.links.get(&at)
            && let (Some(peer), None) = (link.peer, link.peer_netnsid)
        {
            next.push((peer, "veth peer".to_string()));
        }
        if let Some(target) = inventory.wire_target(at) {
            next.push((target, "wire".to_string()));
        }
        for mirror in inventory.mirrors_on(at) {
            if let Role::Copy(CopyRecord { to, .. }) = &mirror.record.role
                && let Some(dest) = inventory.link(to)
            {
                next.push((dest.index, format!("mirror {}", mirror.record.mirror)));
            }
        }
        next
    };
    let targets: HashSet<IfIndex> = sources.iter().map(|s| s.index).collect();
    let mut came_from: HashMap<IfIndex, (IfIndex, String)> = HashMap::new();
    let mut queue = VecDeque::from([dest.index]);
    while let Some(at) = queue.pop_front() {
        if targets.contains(&at) {
            let mut path = inventory.name_of(at);
            let mut step = at;
            while let Some((prev, why)) = came_from.get(&step) {
                path = format!("{} -> ({why}) -> {path}", inventory.name_of(*prev));
                step = *prev;
            }
            return Err(invalid(format!(
                "that would make a mirror cycle: copies sent out of {} come back to {}, a source of this \
                 mirror ({path}), and would be copied again and again. Choose a destination its copies \
                 cannot come back from",
                dest.name,
                inventory.name_of(at),
            )));
        }
        inventory.ensure(view, &[at])?;
        for (follow, why) in next(inventory, at) {
            if follow != dest.index && !came_from.contains_key(&follow) {
                came_from.insert(follow, (at, why));
                queue.push_back(follow);
            }
        }
    }
    Ok(())
}

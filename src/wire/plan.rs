//! `link`: turning "wire A to B" requests into kernel changes.
//!
//! Planning reads everything first (links and tc state of all ends in one pipelined round
//! each), refuses bad input and loops before anything changes, skips what already exists
//! (idempotence), and hands the remaining changes to `apply` as one batch.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::WireError;
use super::apply::{self, Fault, Op};
use super::inventory::{MirrorInto, NodeKey, World};
use super::loop_guard::{Crossing, loop_path};
use super::problems::{FixCommands, Segment, addresses_problem, end_condition, mtu_problem};
use super::{ebpf, offload, silence};
use crate::netns::{self, Netns};
use crate::nl::link::{self, IfIndex, Link};
use crate::nl::tc::Filter;

/// The end of a loop refusal that names the CLI's way out: a caller without that flag (the CNI
/// plugin) takes it off.
pub const ALLOW_LOOP_ADVICE: &str =
    " Use --allow-loop only if something on the ring (such as STP) breaks it.";

/// One wire to make: interface names as the user wrote them (`IF` or `NETNS:IF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    /// One end (`IF`, or `NETNS:IF` naming the command's own namespace).
    pub a: String,
    /// The other end.
    pub b: String,
    /// The batch-file line it came from, for messages.
    pub line: Option<usize>,
}

impl WireRequest {
    /// A request for the wire `a` <-> `b`, from no batch file.
    pub fn new(a: &str, b: &str) -> Self {
        WireRequest {
            a: a.into(),
            b: b.into(),
            line: None,
        }
    }

    fn at(&self) -> String {
        self.line.map(|l| format!("line {l}: ")).unwrap_or_default()
    }
}

/// How [`link()`] makes wires.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    /// Set both ends to this MTU.
    pub mtu: Option<u32>,
    /// Make the wire even if it closes a loop.
    pub allow_loop: bool,
    /// Wait up to this long for missing ends to appear (containers still starting).
    pub wait: Option<std::time::Duration>,
    /// Turn TX checksum offload of both ends on or off (see [`crate::link::ethtool`]).
    pub tx_checksum: Option<bool>,
    /// Fail on purpose at one op of the batch (tests of rollback).
    pub fault: Option<Fault>,
    /// How the wire moves frames: u32 + mirred (default) or an eBPF program.
    pub datapath: Datapath,
    /// Ends whose IPv6 is left as it is rather than turned off (see `silence.rs`): a CNI
    /// container interface whose IPv6 addresses the main plugin made, checks, and hands to the
    /// VM behind the wire (turning IPv6 off would delete them).
    pub keep_ipv6: Vec<String>,
}

/// How a wire moves frames from one end to the other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Datapath {
    /// A u32 match-all filter with `mirred egress redirect` (counted by the action).
    #[default]
    Tc,
    /// A cls_bpf direct-action program calling `bpf_redirect`, counting in a per-CPU map.
    Ebpf,
}

impl std::fmt::Display for Datapath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Datapath::Tc => "tc",
            Datapath::Ebpf => "ebpf",
        })
    }
}

/// What `link` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkOutcome {
    /// Wires made (or repaired) by this call.
    pub created: Vec<[String; 2]>,
    /// Wires that existed, of which only the MTU, offloads or an eBPF direction's path
    /// changed.
    pub updated: Vec<[String; 2]>,
    /// Wires that already existed exactly as asked.
    pub unchanged: Vec<[String; 2]>,
    /// Things worth knowing that did not stop the call (MTU mismatch, no carrier).
    pub warnings: Vec<String>,
    /// Wire ends whose own transmissions patchwire turned off (IPv6; see `silence.rs`).
    pub silenced: Vec<String>,
    /// eBPF wire directions moved to another path (a root qdisc or an egress filter came or
    /// went on their target since the wire was made).
    pub paths: Vec<super::PathChange>,
    /// Kernel changes made.
    pub changes: usize,
}

impl LinkOutcome {
    /// What happened to a single wire, in one word for messages: "wired", "updated" (MTU,
    /// offloads or paths only) or "already wired"; and the wire.
    pub fn single(&self) -> (&'static str, [String; 2]) {
        let first = |list: &Vec<[String; 2]>| list.first().cloned();
        if let Some(pair) = first(&self.created) {
            ("wired", pair)
        } else if let Some(pair) = first(&self.updated) {
            ("updated", pair)
        } else {
            ("already wired", first(&self.unchanged).unwrap_or_default())
        }
    }
}

/// Reads a batch file: one wire per line, `A B`; `#` starts a comment; blank lines are skipped.
pub fn parse_batch(text: &str) -> Result<Vec<WireRequest>, WireError> {
    let mut wires = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [a, b] = words[..] else {
            return Err(WireError::Invalid(format!(
                "line {}: expected two interface names \"A B\", found {:?}",
                number + 1,
                line
            )));
        };
        wires.push(WireRequest {
            a: a.into(),
            b: b.into(),
            line: Some(number + 1),
        });
    }
    if wires.is_empty() {
        return Err(WireError::Invalid(
            "no wires in it (only blank or comment lines)".into(),
        ));
    }
    Ok(wires)
}

/// Makes the requested wires in `netns`, all or nothing.
pub fn link(
    netns: Netns,
    requests: &[WireRequest],
    options: &LinkOptions,
) -> Result<LinkOutcome, WireError> {
    let requests = check_syntax(&netns, requests)?;
    let mut world = World::new(netns)?;
    let ends = lookup_ends(&mut world, &requests, options.wait)?;
    let home_id = world.home_id();

    let indexes: Vec<IfIndex> = ends.iter().flat_map(|(a, b)| [a.index, b.index]).collect();
    world.home().load_tc(&indexes)?;
    prefetch_peers(&mut world, &ends)?;
    let mirror_destinations = world.home().mirror_destinations()?;
    let addresses = world.home().addresses()?;
    let fix = FixCommands::for_netns(&world.home().netns);

    let names: Vec<String> = ends
        .iter()
        .flat_map(|(a, b)| [a.name.clone(), b.name.clone()])
        .collect();
    let offloads = match options.tx_checksum {
        Some(_) => offload::read(&world.home().netns, &names)?,
        None => HashMap::new(),
    };
    let offload_as_asked = |end: &Link| {
        options
            .tx_checksum
            .is_none_or(|want| offloads.get(&end.name) == Some(&want))
    };

    let silent_or_kept =
        |end: &Link| silence::is_silent(end) || options.keep_ipv6.contains(&end.name);
    let mut outcome = LinkOutcome::default();
    let mut ops = Vec::new();
    let mut silencing = silence::Plan::default();
    let mut planned: HashMap<NodeKey, Crossing> = HashMap::new();
    // One program and map for every eBPF direction; open until the batch has attached them.
    let highest = ends.iter().flat_map(|(a, b)| [a.index.0, b.index.0]).max();
    let mut programs = ebpf::EbpfWires::new(requests.len() * 2, highest);
    let mut clsact_planned = HashSet::new();
    // Root qdiscs decide an eBPF direction's path (see wire/ebpf.rs).
    let roots = match options.datapath {
        Datapath::Ebpf => ebpf::root_qdiscs(world.home(), &indexes)?,
        Datapath::Tc => HashMap::new(),
    };
    // eBPF directions already in place whose path is no longer the right one: switched in
    // place once the batch has gone through.
    let mut path_fixes: Vec<(Link, Link, Filter)> = Vec::new();
    for (request, (a, b)) in requests.iter().zip(&ends) {
        let pair = [a.name.clone(), b.name.clone()];
        let a_to_b = direction(&mut world, a, b, options.datapath)?;
        let b_to_a = direction(&mut world, b, a, options.datapath)?;
        let there = |d: Direction| matches!(d, Direction::Present | Direction::OtherDatapath);
        let present = a_to_b == Direction::Present && b_to_a == Direction::Present;
        outcome
            .warnings
            .extend(end_warnings(a, b, options, &addresses, &fix));
        let mut wrong_path = false;
        for (from, to, state) in [(a, b, a_to_b), (b, a, b_to_a)] {
            if state != Direction::Present || options.datapath != Datapath::Ebpf {
                continue;
            }
            let Some(filter) = world.home().tc(from.index)?.wire_filter().cloned() else {
                continue;
            };
            if ebpf::path_of(&filter) != wanted_path(&mut world, &roots, to)? {
                path_fixes.push((from.clone(), to.clone(), filter));
                wrong_path = true;
            }
        }
        if present
            && !wrong_path
            && options.mtu.is_none_or(|m| a.mtu == m && b.mtu == m)
            && offload_as_asked(a)
            && offload_as_asked(b)
            && [a, b].iter().all(|end| silent_or_kept(end))
        {
            outcome.unchanged.push(pair);
            continue;
        }
        let new_wire = !(there(a_to_b) && there(b_to_a));
        if new_wire {
            refuse_mirror_conflicts(&mut world, &mirror_destinations, request, a, b)?;
        }
        if new_wire
            && !options.allow_loop
            && let Some(path) = loop_path(
                &mut world,
                std::slice::from_ref(a),
                &HashSet::from([(home_id, b.index)]),
                &planned,
            )?
        {
            return Err(WireError::Invalid(format!(
                "{}wiring {} to {} would close a loop: {path}. Frames would circulate forever (a ring \
                 like this pins every core at 100% softirq).{ALLOW_LOOP_ADVICE}",
                request.at(),
                a.name,
                b.name
            )));
        }
        for (from, to) in [(a, b), (b, a)] {
            let exits = vec![(home_id, to.index)];
            planned.insert(
                (home_id, from.index),
                Crossing {
                    how: "-wire-",
                    exits,
                },
            );
        }

        if let Some(mtu) = options.mtu {
            for end in [a, b] {
                check_mtu(end, mtu)?;
                if end.mtu != mtu {
                    ops.push(Op::SetMtu {
                        index: end.index,
                        name: end.name.clone(),
                        mtu,
                        previous: end.mtu,
                    });
                }
            }
        }
        for (from, to, state) in [(a, b, a_to_b), (b, a, b_to_a)] {
            if state == Direction::Present {
                continue;
            }
            if matches!(state, Direction::Broken | Direction::OtherDatapath) {
                ops.push(Op::DeleteWireFilter {
                    index: from.index,
                    name: from.name.clone(),
                });
            }
            let has_qdisc = world.home().tc(from.index)?.qdisc.is_some();
            if !has_qdisc && clsact_planned.insert(from.index) {
                ops.extend(apply::add_clsact(from));
            }
            match options.datapath {
                Datapath::Tc => ops.push(Op::AddWireFilter {
                    from: from.index,
                    from_name: from.name.clone(),
                    to: to.index,
                    to_name: to.name.clone(),
                }),
                Datapath::Ebpf => {
                    let peer = wanted_path(&mut world, &roots, to)? == ebpf::Path::Peer;
                    ops.push(programs.direction_on_path(from, to, ebpf::peer_able(to), peer)?)
                }
            }
        }
        for end in [a, b] {
            if !silent_or_kept(end) {
                silencing.add(end);
                outcome.silenced.push(end.name.clone());
            }
        }
        match new_wire {
            true => outcome.created.push(pair),
            false => outcome.updated.push(pair),
        }
    }
    ops.append(&mut silencing.ops);

    // MTU first, then qdiscs, then filters: each filter finds its qdisc in place.
    ops.sort_by_key(|op| match op {
        Op::SetMtu { .. } => 0,
        Op::AddClsact { .. } => 1,
        Op::DeleteWireFilter { .. } | Op::DeleteFilter { .. } => 2,
        Op::AddWireFilter { .. } | Op::AddFilter { .. } | Op::Prepared { .. } => 3,
        Op::AddAltname { .. } => 4,
    });
    // Offloads and IPv6 first (not netlink); undone if the netlink batch then fails.
    let netns = &world
        .home()
        .netns
        .try_clone()
        .map_err(|e| WireError::io("duplicating a netns fd", e))?;
    let offload_changes = match options.tx_checksum {
        Some(want) => {
            let changed: Vec<&String> = names
                .iter()
                .filter(|n| offloads.get(*n) != Some(&want))
                .collect();
            offload::set(netns, &changed, want)?
        }
        None => Vec::new(),
    };
    let ipv6_changes = match silence::set_ipv6(netns, &silencing.ipv6_off, false) {
        Ok(changed) => changed,
        Err(e) => {
            offload::restore(netns, &offload_changes);
            return Err(e);
        }
    };
    if let Err(e) = apply::apply(&mut world.home().socket, &ops, options.fault) {
        silence::undo_ipv6(netns, &ipv6_changes);
        offload::restore(netns, &offload_changes);
        return Err(e);
    }
    outcome.changes = ops.len() + offload_changes.len() + ipv6_changes.len();
    for (from, to, filter) in path_fixes {
        let egress = world.home().tc(to.index)?.egress.len();
        let root = roots.get(&to.index);
        let view = world.home();
        if let Some(change) = ebpf::settle_direction(view, &from, &to, &filter, root, egress)? {
            outcome.paths.push(change);
            outcome.changes += 1;
        }
    }
    Ok(outcome)
}

/// The path an eBPF direction into `to` should take: the peer path only where it skips
/// nothing (see wire/ebpf.rs).
fn wanted_path(
    world: &mut World,
    roots: &HashMap<IfIndex, String>,
    to: &Link,
) -> Result<ebpf::Path, WireError> {
    let egress = world.home().tc(to.index)?.egress.len();
    Ok(
        match ebpf::peer_able(to)
            && ebpf::peer_would_skip(to, roots.get(&to.index), egress).is_none()
        {
            true => ebpf::Path::Peer,
            false => ebpf::Path::Redirect,
        },
    )
}

/// What is worth knowing about a wire's ends even when nothing changes: an MTU mismatch, an
/// end that drops what it is sent, IPv4 addresses through which the end's own stack can send.
fn end_warnings(
    a: &Link,
    b: &Link,
    options: &LinkOptions,
    addresses: &HashMap<IfIndex, Vec<String>>,
    fix: &FixCommands,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if options.mtu.is_none() && a.mtu != b.mtu {
        warnings.push(mtu_problem(Segment::Wire, a, b, fix));
    }
    for end in [a, b] {
        if !end.up || !end.carrier {
            warnings.push(format!("{}: {}", end.name, end_condition(end)));
        }
        // IPv6 addresses go when patchwire turns IPv6 off; IPv4 ones are the user's.
        let ipv4: Vec<&String> = addresses
            .get(&end.index)
            .into_iter()
            .flatten()
            .filter(|a| !a.contains(':'))
            .collect();
        if !ipv4.is_empty() {
            warnings.push(addresses_problem(Segment::Wire, &end.name, &ipv4, fix));
        }
    }
    warnings
}

/// A frame must cross a wire once: refuses a wire between an interface and the destination
/// of a mirror on it (every frame would arrive twice), and a wire end that already receives
/// a mirror's copies unless that mirror was added `--onto-wire`.
fn refuse_mirror_conflicts(
    world: &mut World,
    destinations: &HashMap<IfIndex, Vec<MirrorInto>>,
    request: &WireRequest,
    a: &Link,
    b: &Link,
) -> Result<(), WireError> {
    for (end, other) in [(a, b), (b, a)] {
        let copies: Vec<(String, IfIndex)> = world.home().tc(end.index)?.mirror_copies().collect();
        if let Some((mirror, _)) = copies.iter().find(|(_, to)| *to == other.index) {
            return Err(WireError::Invalid(format!(
                "{}mirror {mirror} copies frames of {} to {}: with a wire {} <-> {} every frame would \
                 reach {} twice (once copied, once through the wire). Remove the mirror first \
                 (patchwire mirror del {mirror})",
                request.at(),
                end.name,
                other.name,
                a.name,
                b.name,
                other.name
            )));
        }
    }
    for end in [a, b] {
        let refused = destinations
            .get(&end.index)
            .into_iter()
            .flatten()
            .find(|m| !m.onto_wire);
        if let Some(into) = refused {
            let mirror = &into.mirror;
            return Err(WireError::Invalid(format!(
                "{}{} is the destination of mirror {mirror}: its copies would leave {} mixed with the \
                 wire's traffic, to whatever is behind it. Remove the mirror (patchwire mirror del \
                 {mirror}), or add it again with --onto-wire if that is what you want",
                request.at(),
                end.name,
                end.name
            )));
        }
    }
    Ok(())
}

/// Checks names, duplicates and namespaces before anything touches the kernel.
fn check_syntax(netns: &Netns, requests: &[WireRequest]) -> Result<Vec<WireRequest>, WireError> {
    let mut unique: Vec<WireRequest> = Vec::new();
    let mut used: HashMap<String, usize> = HashMap::new();
    for request in requests {
        let a = local_name(netns, request, &request.a, &request.b)?;
        let b = local_name(netns, request, &request.b, &request.a)?;
        if a == b {
            return Err(WireError::Invalid(format!(
                "{}{a} is given as both ends of the wire; a wire joins two different interfaces",
                request.at()
            )));
        }
        let request = WireRequest {
            a,
            b,
            line: request.line,
        };
        // A repeated wire is the same wire: its first end already maps to an identical pair.
        if let Some(&earlier) = used.get(&request.a)
            && same_pair(&unique[earlier], &request)
        {
            continue;
        }
        for end in [&request.a, &request.b] {
            if let Some(&other) = used.get(end) {
                let first = &unique[other];
                return Err(WireError::Invalid(format!(
                    "{end} appears in two wires ({}{} {} and {}{} {}); an interface can be the end of only one wire",
                    first.at(),
                    first.a,
                    first.b,
                    request.at(),
                    request.a,
                    request.b
                )));
            }
            used.insert(end.clone(), unique.len());
        }
        unique.push(request);
    }
    Ok(unique)
}

fn same_pair(x: &WireRequest, y: &WireRequest) -> bool {
    (x.a == y.a && x.b == y.b) || (x.a == y.b && x.b == y.a)
}

/// `IF` or `NETNS:IF`; the namespace must be the command's own.
fn local_name(
    netns: &Netns,
    request: &WireRequest,
    end: &str,
    other: &str,
) -> Result<String, WireError> {
    let (ns, name) = match end.split_once(':') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, end),
    };
    link::validate_name(name).map_err(|e| WireError::Invalid(format!("{}{e}", request.at())))?;
    if let Some(ns) = ns {
        let elsewhere = Netns::open(Some(ns))?;
        if !elsewhere.same_as(netns) {
            return Err(cross_namespace(netns, name, other, ns));
        }
    }
    Ok(name.to_string())
}

fn cross_namespace(netns: &Netns, name: &str, other: &str, other_ns: &str) -> WireError {
    let other = other.rsplit(':').next().unwrap_or(other);
    WireError::Invalid(format!(
        "{name} is in netns {other_ns} but the wire is being made in {}: a mirred wire cannot cross \
         network namespaces (the redirect target is looked up in the filter's own namespace). \
         Join the namespaces with a veth pair instead (ip link add X type veth peer name Y netns {other_ns}), \
         then wire {other} to X here and Y to {name} in netns {other_ns}",
        netns.describe()
    ))
}

/// Finds both ends of every wire (waiting for late ones if asked), refusing missing, loopback
/// and foreign-priority ends.
fn lookup_ends(
    world: &mut World,
    requests: &[WireRequest],
    wait: Option<std::time::Duration>,
) -> Result<Vec<(Link, Link)>, WireError> {
    let names: Vec<&str> = requests
        .iter()
        .flat_map(|r| [r.a.as_str(), r.b.as_str()])
        .collect();
    let deadline = wait.map(|w| std::time::Instant::now() + w);
    let found = loop {
        let found = world.home().links_by_name(&names)?;
        let missing = found.iter().any(Option::is_none);
        match deadline {
            Some(deadline) if missing && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            _ => break found,
        }
    };
    let mut ends = Vec::with_capacity(requests.len());
    let mut found = found.into_iter();
    for request in requests {
        let mut pair = Vec::with_capacity(2);
        for name in [&request.a, &request.b] {
            let Some(end) = found.next().flatten() else {
                let waited = wait.map(|w| format!(" (waited {} s for it)", w.as_secs_f64()));
                return Err(WireError::Invalid(format!(
                    "{}{}{}",
                    request.at(),
                    missing_interface(&world.home().netns, name),
                    waited.unwrap_or_default()
                )));
            };
            if let Some(master) = end.master {
                let controller = world.home().link(master)?;
                let (kind, controller) = controller.map_or_else(
                    || ("controller".to_string(), format!("ifindex {master}")),
                    |c| (c.kind.unwrap_or_else(|| "controller".into()), c.name),
                );
                return Err(WireError::Invalid(format!(
                    "{}{name} is a port of {kind} {controller}: the {kind} would still send and receive \
                     through it (a bridge floods out of it), so it would not be a cable's end. Release it \
                     first: ip link set dev {name} nomaster",
                    request.at()
                )));
            }
            if end.is_l3_tun() {
                return Err(WireError::Invalid(format!(
                    "{}{name} is a layer-3 tun device (no Ethernet header); a wire end must carry Ethernet frames (use a tap)",
                    request.at()
                )));
            }
            if end.loopback {
                return Err(WireError::Invalid(format!(
                    "{}{name} is a loopback interface; a wire end must be an Ethernet-like interface (veth, tap, vxlan, NIC)",
                    request.at()
                )));
            }
            pair.push(end);
        }
        let b = pair.pop().expect("two ends");
        let a = pair.pop().expect("two ends");
        ends.push((a, b));
    }
    Ok(ends)
}

/// "interface X does not exist in NETNS", with a hint when a namespace under /run/netns has
/// an interface of that name (wires and mirrors work inside one namespace).
pub fn missing_interface(home: &Netns, name: &str) -> String {
    let elsewhere: Vec<String> = netns::named()
        .into_iter()
        .filter(|ns| {
            Netns::open(Some(ns))
                .ok()
                .filter(|n| !n.same_as(home))
                .and_then(|n| n.route().ok())
                .is_some_and(|mut socket| {
                    link::parse_one(socket.request_raw(link::get_by_name(name), 0)).is_ok()
                })
        })
        .collect();
    let hint = match elsewhere.first() {
        Some(ns) => format!(
            " (an interface of that name exists in netns {ns}; a mirred wire cannot cross namespaces — \
             use -n {ns}, or join them with a veth pair)"
        ),
        None => String::new(),
    };
    format!(
        "interface {name} does not exist in {}{hint}",
        home.describe()
    )
}

fn check_mtu(end: &Link, mtu: u32) -> Result<(), WireError> {
    let (min, max) = (
        end.min_mtu.max(68),
        if end.max_mtu == 0 {
            u32::MAX
        } else {
            end.max_mtu
        },
    );
    if mtu < min || mtu > max {
        return Err(WireError::Invalid(format!(
            "mtu {mtu} is outside what {} accepts ({min}..={max})",
            end.name
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Absent,
    Present,
    /// Our filter is there but its target is gone: remains to replace.
    Broken,
    /// Our filter is there, aimed right, but with the other datapath: replaced (converted).
    OtherDatapath,
}

/// The state of the `from -> to` direction, refusing ends wired elsewhere or holding a foreign
/// filter at patchwire's priority.
fn direction(
    world: &mut World,
    from: &Link,
    to: &Link,
    datapath: Datapath,
) -> Result<Direction, WireError> {
    let describe = world.home().netns.describe();
    let state = world.home().tc(from.index)?.clone();
    if let Some(hub) = super::inventory::hub_port_of(from, &state) {
        return Err(WireError::Invalid(format!(
            "{} is a port of {hub}; an interface is a wire end or a hub port, never both: take \
             it out of the hub first",
            from.name
        )));
    }
    if let Some(filter) = state.squatter() {
        return Err(WireError::Invalid(format!(
            "{} has a {} filter at priority {} that patchwire did not install (another tool's); \
             patchwire will not touch it — remove it or free that priority",
            from.name, filter.kind, filter.prio
        )));
    }
    let Some(filter) = state.wire_filter() else {
        return Ok(Direction::Absent);
    };
    let target = filter.wire_target().unwrap_or(IfIndex(0));
    if target == to.index {
        return Ok(
            match filter.is_ebpf_wire() == (datapath == Datapath::Ebpf) {
                true => Direction::Present,
                false => Direction::OtherDatapath,
            },
        );
    }
    if target.0 == 0 {
        return Ok(Direction::Broken);
    }
    match world.home().link(target)? {
        None => Ok(Direction::Broken),
        Some(other) => Err(WireError::Invalid(format!(
            "{} is already wired to {} in {describe}; unlink it first (patchwire unlink {})",
            from.name, other.name, from.name
        ))),
    }
}

/// Loads, in bulk, the tc state of every end's veth peer, so the loop guard rarely asks twice.
fn prefetch_peers(world: &mut World, ends: &[(Link, Link)]) -> Result<(), WireError> {
    let home = world.home_id();
    let mut by_ns: HashMap<netns::NsKey, Vec<IfIndex>> = HashMap::new();
    for end in ends.iter().flat_map(|(a, b)| [a, b]) {
        if let Some((ns, peer)) = world.peer_of(home, end)? {
            by_ns.entry(ns).or_default().push(peer);
        }
    }
    for (ns, peers) in by_ns {
        world.view(ns).load_tc(&peers)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lines_are_pairs_with_comments() {
        let wires = parse_batch("# lab\n\neth1 tap1\n  eth2\tvx100  # uplink\n").unwrap();
        assert_eq!(wires.len(), 2);
        assert_eq!(
            (wires[1].a.as_str(), wires[1].b.as_str(), wires[1].line),
            ("eth2", "vx100", Some(4))
        );
        let err = parse_batch("eth1 tap1\neth3\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "line 2: expected two interface names \"A B\", found \"eth3\""
        );
        assert!(parse_batch("# nothing\n").is_err());
    }

    #[test]
    fn duplicate_and_reused_ends_are_refused_before_the_kernel_is_asked() {
        let here = Netns::current().unwrap();
        let same = check_syntax(&here, &[WireRequest::new("eth1", "eth1")])
            .unwrap_err()
            .to_string();
        assert!(same.contains("eth1 is given as both ends"), "{same}");
        let twice = [WireRequest::new("a", "b"), WireRequest::new("b", "a")];
        assert_eq!(
            check_syntax(&here, &twice).unwrap().len(),
            1,
            "the same wire twice is one wire"
        );
        let reused = check_syntax(&here, &parse_batch("a b\nc a\n").unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(
            reused,
            "a appears in two wires (line 1: a b and line 2: c a); an interface can be the end of only one wire"
        );
        let long = check_syntax(&here, &[WireRequest::new("a234567890123456", "b")])
            .unwrap_err()
            .to_string();
        assert!(long.contains("at most 15"), "{long}");
    }
}

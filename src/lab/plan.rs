//! The difference between what the file asks for and what the kernel holds, as a list of
//! changes in the order they are made: namespaces first, removals before additions (a port
//! leaves a wire before it joins a hub), ports before the wires and hubs among them. The
//! changes themselves, as `plan` shows them, are in `plan/change.rs`.

use std::collections::{BTreeMap, BTreeSet};

use super::LabError;
use super::desired::{Desired, NodeHome, Port, Reach};
use super::names;
use super::observe::{Actual, NsState};

mod change;
pub use change::{Change, Plan};

/// eBPF wire directions on the wrong path, on wires that stay as they are (a wire made again
/// takes the right path anyway).
fn settle_paths(desired: &Desired, actual: &Actual, changes: &mut Vec<Change>) {
    let label = |port: &str| {
        desired
            .ports
            .get(port)
            .map_or_else(|| port.to_string(), Port::label)
    };
    for drift in &actual.paths {
        let pair = match drift.from < drift.to {
            true => (drift.from.clone(), drift.to.clone()),
            false => (drift.to.clone(), drift.from.clone()),
        };
        let kept = desired.wires.get(&pair) == Some(&crate::wire::Datapath::Ebpf)
            && actual.wires.get(&pair) == Some(&crate::wire::Datapath::Ebpf);
        let remade = changes.iter().any(|c| match c {
            Change::Wire { a, b, .. } | Change::Unwire { a, b, .. } => {
                (a, b) == (&pair.0, &pair.1) || (b, a) == (&pair.0, &pair.1)
            }
            _ => false,
        });
        if kept && !remade {
            changes.push(Change::SettlePath {
                from: drift.from.clone(),
                to: drift.to.clone(),
                endpoints: [label(&drift.from), label(&drift.to)],
                path: drift.wanted,
                because: drift.because.clone(),
            });
        }
    }
}

/// What `up` would change to make the kernel hold what the file asks for: removals first
/// (hooks, then ports and stubs), then additions (ports, then wires, hubs and mirrors).
pub fn changes(desired: &Desired, actual: &Actual) -> Result<Plan, LabError> {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    namespaces(desired, actual, &mut changes)?;
    let remade: BTreeSet<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::RemakeNamespace { netns, .. } | Change::CreateNamespace { netns, .. } => {
                Some(netns.clone())
            }
            _ => None,
        })
        .collect();
    let panel_fresh = remade.contains(&desired.panel);

    // VM taps made with other settings than the file's: remade, with their ports.
    let retap = taps_to_remake(desired, actual, &remade);
    changes.extend(retap.values().cloned());

    // Ports that stay while their cable moves: down first, up at the end (`Bounce`).
    if !panel_fresh {
        changes.extend(bounces(desired, actual, &retap));
    }

    let planning = Planning {
        desired,
        actual,
        panel_fresh,
        remade: &remade,
        retap: &retap,
        hubs: hub_names(desired, actual),
    };
    // Removals: wires and hubs not wanted, then ports not wanted, stubs not wanted.
    planning.unhooks(&mut changes);
    planning.removed_ports(&mut changes);
    let (doomed_devices, new_devices) = super::devices::changes(desired, actual, &remade);
    changes.extend(doomed_devices);
    // Additions: ports, MTUs, then wires and hubs.
    planning.ports(&mut changes, &mut notes);
    changes.extend(super::host_links::changes(desired, actual, &changes));
    changes.extend(new_devices);
    planning.hooks(&mut changes);
    settle_paths(desired, actual, &mut changes);
    let impairs = super::impairs::changes(desired, actual, &changes);
    changes.extend(impairs);
    notes.extend(super::impairs::note(&changes));
    notes.extend(super::impairs::flap_note(desired, actual));
    notes.extend(desired.notes.iter().cloned());
    Ok(Plan { changes, notes })
}

/// What the phases of [`changes`] read: both states, and what was decided before them.
struct Planning<'a> {
    desired: &'a Desired,
    actual: &'a Actual,
    /// The panel is made (again): it holds nothing yet.
    panel_fresh: bool,
    /// The namespaces made (again).
    remade: &'a BTreeSet<String>,
    /// VM taps made again with other settings, by port.
    retap: &'a BTreeMap<String, Change>,
    /// The file's hubs, under the names they get, with their members.
    hubs: BTreeMap<String, BTreeSet<String>>,
}

impl Planning<'_> {
    /// Wires, mirrors and hubs not wanted (or changed: mirrors go first and come back last).
    fn unhooks(&self, changes: &mut Vec<Change>) {
        let Planning {
            desired,
            actual,
            panel_fresh,
            ..
        } = *self;
        // Removals are written with endpoint names too, read from the ports' records.
        let was = |port: &str| actual_label(desired, actual, port);
        for (a, b) in actual.wires.keys() {
            if !desired.wires.contains_key(&(a.clone(), b.clone())) && !panel_fresh {
                changes.push(Change::Unwire {
                    a: a.clone(),
                    b: b.clone(),
                    endpoints: [was(a), was(b)],
                });
            }
        }
        for end in &actual.broken_wire_ends {
            let wanted = desired.wires.keys().any(|(a, b)| a == end || b == end);
            if !wanted && !panel_fresh {
                changes.push(Change::Unwire {
                    a: end.clone(),
                    b: String::new(),
                    endpoints: [was(end), String::new()],
                });
            }
        }
        // Mirrors go first and come back last: a changed mirror is made anew.
        for name in actual.mirrors.keys().chain(&actual.broken_mirrors) {
            let same = actual.mirrors.contains_key(name)
                && desired.mirrors.get(name) == actual.mirrors.get(name);
            if !same && !panel_fresh {
                changes.push(Change::Unmirror {
                    mirror: name.clone(),
                });
            }
        }
        // A hub the file still has, with other members, is re-patched in place by `Hub` below
        // (under the name it has in the kernel, when its members overlap).
        for hub in actual.hubs.keys() {
            if !self.hubs.contains_key(hub) && !panel_fresh {
                changes.push(Change::Unhub {
                    hub: hub.clone(),
                    endpoints: actual.hubs[hub].iter().map(|m| was(m)).collect(),
                });
            }
        }
    }

    /// Ports not wanted (or with other settings), then stubs not wanted.
    fn removed_ports(&self, changes: &mut Vec<Change>) {
        let Planning {
            desired,
            actual,
            panel_fresh,
            remade,
            retap,
            ..
        } = *self;
        for (name, found) in &actual.ports {
            let keep = desired
                .ports
                .get(name)
                .is_some_and(|port| port_matches(port, found))
                && !retap.contains_key(name);
            if !keep && !panel_fresh {
                let was = found
                    .altnames
                    .iter()
                    .find_map(|a| names::parse_port_record(a))
                    .map_or_else(|| found.name.clone(), |e| e.to_string());
                changes.push(Change::DeletePort {
                    port: name.clone(),
                    was,
                });
            }
        }
        for ((netns, stub), found) in &actual.stubs {
            let wanted = desired.ports.values().any(|p| {
                matches!(&p.reach, Reach::Stub { stub: s, .. } if s == stub)
                    && desired
                        .nodes
                        .get(&p.endpoint.as_ref().expect("stub ports have endpoints").node)
                        .is_some_and(|home| home.spec() == netns)
            });
            let in_remade = remade.contains(netns);
            if !wanted && !in_remade {
                let endpoint = found
                    .link
                    .altnames
                    .iter()
                    .find_map(|a| names::parse_stub_record(a))
                    .map(|(_, e)| e.to_string())
                    .unwrap_or_default();
                changes.push(Change::DeleteStub {
                    netns: netns.clone(),
                    stub: stub.clone(),
                    endpoint,
                });
            }
        }
    }

    /// Ports to create, bring up or give another MTU; a port `watch` holds down is a note.
    fn ports(&self, changes: &mut Vec<Change>, notes: &mut Vec<String>) {
        let Planning {
            desired,
            actual,
            panel_fresh,
            retap,
            ..
        } = *self;
        // What exists now and stays (a fresh panel holds nothing).
        let present = |port: &str| !panel_fresh && actual.ports.contains_key(port);
        let stubs_released = self.stub_releases(changes, notes);
        for (name, port) in &desired.ports {
            let found = actual.ports.get(name).filter(|_| present(name));
            match found {
                Some(found) if port_matches(port, found) && !retap.contains_key(name) => {
                    let moves = joined(actual.wires.keys(), &actual.hubs, name)
                        != joined(desired.wires.keys(), &self.hubs, name);
                    match (found.up, crate::wire::held_because(found)) {
                        (true, _) => {}
                        // Pulled by `cut` or the file's `state: down`: `impairs.rs` decides.
                        (false, _) if crate::impair::cable::is_cut(found) => {}
                        // Its cable moves: taking the old wire away releases the hold (as
                        // `unlink` does) and the port comes up on its new cable; no note.
                        (false, Some(_)) if moves => {}
                        // `watch` took it down because its far end is: up would show the node a
                        // carrier its cable does not have (and watch would not take it down again).
                        (false, Some(far)) if actual.watched => notes.push(format!(
                            "{} ({name}) stays down: patchwire watch holds it down because its far \
                             end {} is down or gone, and brings it back up when that end is",
                            port.label(),
                            actual_label(desired, actual, &far)
                        )),
                        // No watcher runs: nothing would ever bring it back. Its far end up,
                        // `up` releases the hold (as watch would); still down, it stays held.
                        (false, Some(far)) => {
                            // A VM's port has no carrier while its stub is held; released
                            // in this same run, it has it again.
                            let far_up = actual.ports.get(&far).is_some_and(|l| {
                                l.up && (l.carrier || stubs_released.contains(&far))
                            });
                            let far_label = actual_label(desired, actual, &far);
                            match far_up {
                                true => changes.push(Change::Release {
                                    port: name.clone(),
                                    endpoint: port.label(),
                                    far: far_label,
                                }),
                                false => notes.push(format!(
                                    "{} ({name}) stays down: a patchwire watch held it down because \
                                     its far end {far_label} is down or gone, and no watch runs \
                                     now: plan/up release it once that end is up (or start \
                                     patchwire watch -n {})",
                                    port.label(),
                                    desired.panel
                                )),
                            }
                        }
                        (false, None) => changes.push(Change::SetUp {
                            port: name.clone(),
                            endpoint: port.label(),
                        }),
                    }
                    if found.mtu != port.mtu {
                        changes.push(Change::SetMtu {
                            port: name.clone(),
                            endpoint: port.label(),
                            mtu: port.mtu,
                            was: found.mtu,
                        });
                    }
                }
                _ => changes.push(Change::CreatePort {
                    port: name.clone(),
                    endpoint: port.label(),
                    via: via(desired, port),
                    mtu: port.mtu,
                }),
            }
        }
    }

    /// VM stubs a watch in the VM's namespace held down while the tap was down (qemu killed),
    /// with no watch running there now: released when a VM holds the tap again (else nothing
    /// would ever bring them, and the ports wired to the VM, back up); still down, a note.
    /// Returns the ports (in the panel) whose stub is released.
    fn stub_releases(
        &self,
        changes: &mut Vec<Change>,
        notes: &mut Vec<String>,
    ) -> BTreeSet<String> {
        let Planning {
            desired,
            actual,
            panel_fresh,
            remade,
            retap,
            ..
        } = *self;
        let mut released = BTreeSet::new();
        for (name, port) in &desired.ports {
            let Reach::Stub {
                stub,
                make_tap: true,
            } = &port.reach
            else {
                continue;
            };
            let Some((netns, _)) = desired.far_end(port) else {
                continue;
            };
            if panel_fresh
                || remade.contains(&netns)
                || retap.contains_key(name)
                || actual.watched_stub_namespaces.contains(&netns)
            {
                continue;
            }
            let Some(found) = actual.stubs.get(&(netns.clone(), stub.clone())) else {
                continue;
            };
            let (false, Some(tap)) = (found.link.up, crate::wire::held_because(&found.link)) else {
                continue;
            };
            let tap_up = actual
                .taps
                .get(&(netns.clone(), tap.clone()))
                .is_some_and(|l| l.up && l.carrier);
            let endpoint = port.label();
            if tap_up {
                changes.push(Change::ReleaseStub {
                    netns,
                    stub: stub.clone(),
                    endpoint,
                });
                released.insert(name.clone());
            } else {
                notes.push(format!(
                    "{endpoint}: stub {stub} in netns {netns} stays down: a patchwire watch held \
                     it down because tap {tap} was down (no VM held it), and no watch runs there \
                     now: plan/up release it once a VM holds the tap again (or start patchwire \
                     watch -n {netns})"
                ));
            }
        }
        released
    }

    /// Wires, hubs and mirrors to make: missing, changed, or on a port made anew.
    fn hooks(&self, changes: &mut Vec<Change>) {
        let Planning {
            desired,
            actual,
            panel_fresh,
            ..
        } = *self;
        let label = |port: &str| {
            desired
                .ports
                .get(port)
                .map_or_else(|| port.to_string(), Port::label)
        };
        // A wire, hub or mirror on a port made anew is made anew too.
        let created: BTreeSet<String> = changes
            .iter()
            .filter_map(|c| match c {
                Change::CreatePort { port, .. } => Some(port.clone()),
                _ => None,
            })
            .collect();
        let recreated = |p: &String| created.contains(p);
        for ((a, b), datapath) in &desired.wires {
            // Present with the other datapath: linked again, which converts it in place.
            let complete =
                !panel_fresh && actual.wires.get(&(a.clone(), b.clone())) == Some(datapath);
            if !complete || recreated(a) || recreated(b) {
                changes.push(Change::Wire {
                    a: a.clone(),
                    b: b.clone(),
                    endpoints: [label(a), label(b)],
                    datapath: *datapath,
                });
            }
        }
        for (hub, members) in &self.hubs {
            let same = !panel_fresh
                && actual.hubs.get(hub) == Some(members)
                && !actual.broken_hubs.contains(hub);
            if !same || members.iter().any(recreated) {
                changes.push(Change::Hub {
                    hub: hub.clone(),
                    members: members.iter().cloned().collect(),
                    endpoints: members.iter().map(|m| label(m)).collect(),
                });
            }
        }
        for (name, mirror) in &desired.mirrors {
            let same = !panel_fresh && actual.mirrors.get(name) == Some(mirror);
            let remade = mirror.sources.iter().chain([&mirror.to]).any(recreated)
                || coverage_moves(mirror, desired, actual);
            if !same || remade {
                if same {
                    changes.push(Change::Unmirror {
                        mirror: name.clone(),
                    });
                }
                changes.push(Change::Mirror {
                    mirror: name.clone(),
                    from: mirror.sources.iter().map(|p| label(p)).collect(),
                    to: label(&mirror.to),
                    filter: mirror.filter.clone(),
                });
            }
        }
    }
}

/// Whether re-pointed wires change which hooks a mirror needs. With `both`, `mirror add` copies
/// a source whose wire partner is also a source only `in` (the frames leaving it entered the
/// partner, copied there): a source gaining or losing such a partner needs its `out` copy
/// removed or added, so the mirror is made again after the wires (issue 18).
fn coverage_moves(mirror: &super::desired::MirrorPlan, desired: &Desired, actual: &Actual) -> bool {
    if mirror.direction != crate::mirror::Direction::Both {
        return false;
    }
    let fed = |wires: &BTreeMap<(String, String), crate::wire::Datapath>, port: &String| {
        wires.keys().any(|(a, b)| {
            (a == port && mirror.sources.contains(b)) || (b == port && mirror.sources.contains(a))
        })
    };
    mirror
        .sources
        .iter()
        .any(|p| fed(&desired.wires, p) != fed(&actual.wires, p))
}

/// What a panel port stands for, in messages: its endpoint from the file, else from its
/// record in the kernel (a port the file no longer has), else its own name.
fn actual_label(desired: &Desired, actual: &Actual, port: &str) -> String {
    if let Some(wanted) = desired.ports.get(port) {
        return wanted.label();
    }
    actual
        .ports
        .get(port)
        .and_then(|found| {
            found
                .altnames
                .iter()
                .find_map(|a| names::parse_port_record(a))
        })
        .map(|e| e.to_string())
        .or_else(|| actual.forgotten.get(port).cloned())
        .unwrap_or_else(|| port.to_string())
}

/// What a port is joined to: the other end of its wire, or its hub.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Joined {
    Wire(String),
    Hub(String),
}

fn joined<'a>(
    wires: impl Iterator<Item = &'a (String, String)>,
    hubs: &BTreeMap<String, BTreeSet<String>>,
    port: &str,
) -> Option<Joined> {
    for (a, b) in wires {
        if a == port {
            return Some(Joined::Wire(b.clone()));
        }
        if b == port {
            return Some(Joined::Wire(a.clone()));
        }
    }
    hubs.iter()
        .find(|(_, members)| members.contains(port))
        .map(|(hub, _)| Joined::Hub(hub.clone()))
}

/// Ports that exist, stay, and whose cable moves: on a wire to another port, or from a wire to
/// a hub and back. A hub gaining or losing other members is a switch gaining a cable: its
/// ports keep their carrier. A port `watch` holds down is down already.
fn bounces(desired: &Desired, actual: &Actual, retap: &BTreeMap<String, Change>) -> Vec<Change> {
    let hubs = hub_names(desired, actual);
    let mut bounces = Vec::new();
    for (name, port) in &desired.ports {
        let Some(found) = actual.ports.get(name) else {
            continue;
        };
        if !port_matches(port, found)
            || retap.contains_key(name)
            || !found.up
            || crate::wire::held_because(found).is_some()
        {
            continue;
        }
        let before = joined(actual.wires.keys(), &actual.hubs, name);
        let after = joined(desired.wires.keys(), &hubs, name);
        let (Some(before), Some(after)) = (before, after) else {
            continue;
        };
        if before == after {
            continue;
        }
        let words = |j: &Joined, label: &dyn Fn(&str) -> String| match j {
            Joined::Wire(other) => label(other),
            Joined::Hub(hub) => format!("hub {hub}"),
        };
        bounces.push(Change::Bounce {
            port: name.clone(),
            endpoint: port.label(),
            was: words(&before, &|p| actual_label(desired, actual, p)),
            now: words(&after, &|p| actual_label(desired, actual, p)),
        });
    }
    bounces
}

/// VM taps whose settings differ from the file's, by port name.
fn taps_to_remake(
    desired: &Desired,
    actual: &Actual,
    remade: &BTreeSet<String>,
) -> BTreeMap<String, Change> {
    let mut retap = BTreeMap::new();
    for (name, port) in &desired.ports {
        let (Reach::Stub { make_tap: true, .. }, Some(endpoint)) = (&port.reach, &port.endpoint)
        else {
            continue;
        };
        let Some(NodeHome::Owned {
            netns,
            vm: Some(vm),
        }) = desired.nodes.get(&endpoint.node)
        else {
            continue;
        };
        if remade.contains(netns) {
            continue;
        }
        let Some(tun) = actual
            .taps
            .get(&(netns.clone(), endpoint.interface.clone()))
            .and_then(|l| l.tun.as_ref())
        else {
            continue;
        };
        let mut why = Vec::new();
        let on = |b: bool| if b { "on" } else { "off" };
        if tun.multi_queue != (vm.queues > 1) {
            let was = if tun.multi_queue { "several" } else { "1" };
            why.push(format!("queues {was} -> {}", vm.queues));
        }
        if tun.vnet_hdr != vm.vnet_hdr {
            why.push(format!(
                "vnet-hdr {} -> {}",
                on(tun.vnet_hdr),
                on(vm.vnet_hdr)
            ));
        }
        // An owner or group that does not resolve is refused by preflight, not remade.
        let id = |text: &Option<String>, user: bool| match text.as_deref() {
            None => Ok(None),
            Some(t) if user => crate::vm::user_id(t).map(Some),
            Some(t) => crate::vm::group_id(t).map(Some),
        };
        let show = |v: Option<u32>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
        if let Ok(owner) = id(&vm.owner, true)
            && owner != tun.owner
        {
            why.push(format!("owner {} -> {}", show(tun.owner), show(owner)));
        }
        if let Ok(group) = id(&vm.group, false)
            && group != tun.group
        {
            why.push(format!("group {} -> {}", show(tun.group), show(group)));
        }
        if !why.is_empty() {
            retap.insert(
                name.clone(),
                Change::RemakeTap {
                    netns: netns.clone(),
                    tap: endpoint.interface.clone(),
                    endpoint: endpoint.to_string(),
                    why: why.join(", "),
                },
            );
        }
    }
    retap
}

/// The file's hubs under the names the kernel knows them by: a desired hub whose name is not
/// in the kernel takes the name of an existing hub it shares members with (not wanted under its
/// own name), so changing a segment's members — even its lowest endpoint — re-patches it in
/// place instead of removing and re-making it.
fn hub_names(desired: &Desired, actual: &Actual) -> BTreeMap<String, BTreeSet<String>> {
    let mut hubs = BTreeMap::new();
    let mut taken: BTreeSet<&String> = desired
        .hubs
        .keys()
        .filter(|n| actual.hubs.contains_key(*n))
        .collect();
    for (name, members) in &desired.hubs {
        let name = match actual.hubs.contains_key(name) {
            true => name,
            false => actual
                .hubs
                .iter()
                .find(|(existing, found)| !taken.contains(existing) && !found.is_disjoint(members))
                .map(|(existing, _)| existing)
                .unwrap_or(name),
        };
        taken.insert(name);
        hubs.insert(name.clone(), members.clone());
    }
    hubs
}

/// Namespaces: the panel and owned node namespaces exist and are marked; lab-marked ones the
/// file no longer wants go; someone else's namespace under a lab name is refused.
fn namespaces(
    desired: &Desired,
    actual: &Actual,
    changes: &mut Vec<Change>,
) -> Result<(), LabError> {
    let owned = desired.owned_namespaces();
    for (netns, _) in &owned {
        let role = match *netns == desired.panel {
            true => "panel".to_string(),
            false => {
                let node = desired
                    .nodes
                    .iter()
                    .find(|(_, h)| h.spec() == netns)
                    .map(|(n, _)| n.as_str())
                    .unwrap_or("?");
                format!("node {node}")
            }
        };
        match actual.namespaces.get(netns).unwrap_or(&NsState::Missing) {
            NsState::Ours => {}
            NsState::Missing => changes.push(Change::CreateNamespace {
                netns: netns.clone(),
                role,
            }),
            NsState::Broken => changes.push(Change::RemakeNamespace {
                netns: netns.clone(),
                why: "registered but not a usable namespace (an interrupted create)".into(),
            }),
            NsState::OtherHost(host) => {
                return Err(LabError::Invalid(format!(
                    "netns {netns} is this lab's {role} on host {host}: run patchwire down with \
                     --host {host} (or its up, if the node moved) first"
                )));
            }
            NsState::Unmarked => {
                return Err(LabError::Invalid(format!(
                    "netns {netns} exists and is not this lab's (it has no patchwire mark for \
                     the {role}): remove it, or give the {role} an existing namespace with netns:"
                )));
            }
        }
    }
    for (netns, state) in &actual.namespaces {
        if *state == NsState::Ours && !owned.iter().any(|(n, _)| n == netns) {
            changes.push(Change::DeleteNamespace {
                netns: netns.clone(),
            });
        }
    }
    Ok(())
}

/// Whether an existing panel link is the port `port` asks for (same record, same kind).
fn port_matches(port: &Port, found: &crate::nl::link::Link) -> bool {
    match (&port.endpoint, &port.reach) {
        (_, Reach::Vxlan { .. }) => {
            found.kind.as_deref() == Some("vxlan")
                && port
                    .vxlan_record()
                    .is_some_and(|r| found.altnames.contains(&r))
        }
        (Some(endpoint), _) => {
            found.is_veth() && found.altnames.contains(&names::port_record(endpoint))
        }
        (None, _) => false,
    }
}

fn via(desired: &Desired, port: &Port) -> String {
    let home = |port: &Port| {
        port.endpoint
            .as_ref()
            .and_then(|e| desired.nodes.get(&e.node))
            .map(NodeHome::spec)
            .unwrap_or("?")
            .to_string()
    };
    match &port.reach {
        Reach::Veth => {
            let interface = port.endpoint.as_ref().map_or("?", |e| e.interface.as_str());
            let home = home(port);
            match (home == desired.host_netns, &port.master) {
                (true, Some(bridge)) => {
                    format!("veth, {interface} in the host's namespace, a port of bridge {bridge}")
                }
                (true, None) => match desired.mgmt_pending.get(&port.name) {
                    Some(network) => format!(
                        "veth, {interface} in the host's namespace, a port of management network \
                         {network}'s bridge (up makes the network first)"
                    ),
                    None => format!("veth, {interface} in the host's namespace"),
                },
                (false, _) => format!("veth, {interface} in netns {home}"),
            }
        }
        Reach::Stub {
            stub,
            make_tap: true,
        } => format!(
            "tap {} for a VM, wired to stub {stub}, in netns {}",
            port.endpoint.as_ref().map_or("?", |e| e.interface.as_str()),
            home(port)
        ),
        Reach::Stub { stub, .. } => format!(
            "stub {stub} wired to the existing {} in netns {}",
            port.endpoint.as_ref().map_or("?", |e| e.interface.as_str()),
            home(port)
        ),
        Reach::Vxlan {
            vni,
            local,
            dev,
            remotes,
            port: udp,
        } => {
            let remotes: Vec<String> = remotes.iter().map(ToString::to_string).collect();
            let from = match (local, dev) {
                (Some(local), _) => format!(" from {local}"),
                (None, Some(dev)) => format!(" over {dev}"),
                (None, None) => String::new(),
            };
            format!("vxlan {vni}{from} to {} port {udp}", remotes.join(", "))
        }
    }
}

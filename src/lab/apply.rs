//! Making the planned changes: one netlink batch per kind of change and namespace where the
//! kernel allows (ports of the whole lab in one panel batch, their records in another), wires
//! through `wire::link` and hubs through `hub::set` — the same code as the commands.
//!
//! Ports are created down with their peers up, hooked (wires, hubs) and then brought up: a
//! clsact qdisc costs less on an interface that is still down. An `up` interrupted at any
//! point leaves only marked things, which the next `up` (or `down`) finds and converges.
//! The ports themselves (taps, veths, VXLAN ports, records, stubs) are made in
//! `apply/ports.rs`.

use std::collections::{BTreeMap, BTreeSet};

use super::LabError;
use super::desired::{Desired, NodeHome, Port, Reach};
use super::names;
use super::plan::Change;
use crate::hub::{self, HubOptions, HubRequest};
use crate::link::ethtool::Ethtool;
use crate::netns::{self, Netns};
use crate::nl::RouteSocket;
use crate::nl::link::{self, IfIndex};
use crate::vm;
use crate::wire::{self, LinkOptions, WireRequest};

mod ports;
use ports::create_ports;

/// Namespaces opened once per run.
struct Handles {
    open: BTreeMap<String, Netns>,
}

impl Handles {
    fn get(&mut self, spec: &str) -> Result<&Netns, LabError> {
        if !self.open.contains_key(spec) {
            let netns = Netns::open(Some(spec))?;
            self.open.insert(spec.to_string(), netns);
        }
        Ok(&self.open[spec])
    }

    fn forget(&mut self, spec: &str) {
        self.open.remove(spec);
    }
}

/// Makes the planned changes, in an order that leaves, at every point, only what the next
/// run finds and converges: namespaces, removals, ports, the hooks (wires, hubs, mirrors) in
/// the panel, then up.
pub fn apply(desired: &Desired, changes: &[Change]) -> Result<(), LabError> {
    let mut handles = Handles {
        open: BTreeMap::new(),
    };
    // 1. Namespaces to (re)make.
    make_namespaces(desired, changes)?;
    let panel = handles.get(&desired.panel)?.try_clone()?;
    let mut socket = panel.route()?;

    stop_point(1);
    // 2. Removals. Ports whose cable moves go down first: their nodes see the carrier drop
    // for as long as the cable is away (they come up with the others in step 5).
    take_down_bounced(changes, &mut socket)?;
    unhook(changes, &panel)?;
    delete_stubs(desired, changes, &mut handles)?;
    super::devices::delete(desired, changes)?;
    delete_doomed(changes, &mut handles, &mut socket)?;

    stop_point(2);
    // 3. Ports: created down (peers up), recorded, hooked, then up. The node sides get their
    // MACs and the host sides their bridge before anything is up; interfaces made in nodes
    // themselves (macvlan, dummy) come with them.
    let created = make_ports(desired, changes, &mut handles, &mut socket, &panel)?;
    stop_point(12);
    let resettled = changes.iter().filter_map(|c| match c {
        Change::SetMac { port, .. } | Change::SetMaster { port, .. } => desired.ports.get(port),
        _ => None,
    });
    let settled: Vec<&Port> = created.iter().copied().chain(resettled).collect();
    super::host_links::settle(desired, &settled)?;
    super::devices::create(desired, changes)?;

    stop_point(3);
    // 4. Wires, hubs and mirrors in the panel.
    hook(desired, changes, &panel)?;

    stop_point(6);
    // 5. Up: the far ends in their namespaces (a veth cannot be created up: the kernel opens
    // it before its peer is joined), then the ports; and TX checksum offload where asked.
    raise(desired, changes, &created, &mut handles, &mut socket)?;
    stop_point(7);
    tx_checksum(&panel, desired)?;
    settle_paths(changes, &panel)?;
    release_holds(changes, &mut socket)?;
    // 6. Impairments and pulled cables, in place on the ports as they now are.
    super::impairs::apply(desired, changes, &panel)?;
    Ok(())
}

/// Step 7: ports a watch that no longer runs held down, their far ends up again: up, with
/// the alias they had before the hold.
fn release_holds(changes: &[Change], socket: &mut RouteSocket) -> Result<(), LabError> {
    // VMs' stubs first, in their namespaces: the ports wired to them get their carrier back.
    for change in changes {
        if let Change::ReleaseStub { netns, stub, .. } = change {
            let mut there = Netns::open(Some(netns))?.route()?;
            let found = links_by_name(&mut there, std::slice::from_ref(stub))?;
            batch(
                &mut there,
                found
                    .values()
                    .map(|l| {
                        let alias = crate::wire::unlink::alias_before_hold(l);
                        (link::set_alias_and_up(l.index, &alias, true), 0)
                    })
                    .collect(),
                "releasing a VM's stub a watch held down",
            )?;
        }
    }
    let held: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Release { port, .. } => Some(port.clone()),
            _ => None,
        })
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    let found = links_by_name(socket, &held)?;
    batch(
        socket,
        found
            .values()
            .map(|l| {
                let alias = crate::wire::unlink::alias_before_hold(l);
                (link::set_alias_and_up(l.index, &alias, true), 0)
            })
            .collect(),
        "releasing ports a watch held down",
    )
}

/// Step 6: eBPF wire directions whose target gained or lost a root qdisc since `up` move to
/// the path it calls for now (a write to the wire's map: nothing re-attached).
fn settle_paths(changes: &[Change], panel: &Netns) -> Result<(), LabError> {
    let mut targets: Vec<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::SettlePath { to, .. } => Some(to.as_str()),
            _ => None,
        })
        .collect();
    targets.sort_unstable();
    targets.dedup();
    if !targets.is_empty() {
        wire::settle_paths(panel.try_clone()?, &targets)?;
    }
    Ok(())
}

/// Step 1: the namespaces to create, and those to make again.
fn make_namespaces(desired: &Desired, changes: &[Change]) -> Result<(), LabError> {
    for change in changes {
        match change {
            Change::CreateNamespace { netns, .. } => make_namespace(desired, netns)?,
            Change::RemakeNamespace { netns, .. } => {
                netns::delete_named(netns)?;
                make_namespace(desired, netns)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Step 2, first: the ports whose cable moves go down.
fn take_down_bounced(changes: &[Change], socket: &mut RouteSocket) -> Result<(), LabError> {
    let bounced: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Bounce { port, .. } => Some(port.clone()),
            _ => None,
        })
        .collect();
    let found = links_by_name(socket, &bounced)?;
    batch(
        socket,
        found
            .values()
            .map(|l| (link::set_up(l.index, false), 0))
            .collect(),
        "taking down ports whose cable moves",
    )
}

/// Step 2: the mirrors, wires and hubs that go, through the commands' own removal.
fn unhook(changes: &[Change], panel: &Netns) -> Result<(), LabError> {
    let unmirror: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Unmirror { mirror } => Some(mirror.clone()),
            _ => None,
        })
        .collect();
    if !unmirror.is_empty() {
        crate::mirror::del(panel.try_clone()?, &unmirror, false)?;
    }
    let unwire: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Unwire { a, .. } => Some(a.clone()),
            _ => None,
        })
        .collect();
    if !unwire.is_empty() {
        wire::unlink(panel.try_clone()?, &unwire, false)?;
    }
    let unhub: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Unhub { hub, .. } => Some(hub.clone()),
            _ => None,
        })
        .collect();
    if !unhub.is_empty() {
        hub::remove(panel.try_clone()?, &unhub, false)?;
    }
    Ok(())
}

/// Step 2: stubs (and VM taps made again) before ports: a stub's wire is unlinked from the
/// user's interface while the stub still exists (deleting the port would take the stub with
/// it and leave the interface a filter aimed at nothing).
fn delete_stubs(
    desired: &Desired,
    changes: &[Change],
    handles: &mut Handles,
) -> Result<(), LabError> {
    for change in changes {
        if let Change::DeleteStub {
            netns,
            stub,
            endpoint,
        } = change
        {
            let interface = endpoint.split_once(':').map_or("", |(_, i)| i);
            let vm_tap = endpoint.split_once(':').is_some_and(|(node, _)| {
                matches!(
                    desired.nodes.get(node),
                    Some(NodeHome::Owned { vm: Some(_), .. })
                )
            });
            delete_stub(handles.get(netns)?, stub, interface, vm_tap)?;
        }
        // A VM's tap with other settings: it goes with its stub (and the stub's port); the
        // port is made again below, and the tap with it.
        if let Change::RemakeTap {
            netns,
            tap,
            endpoint,
            ..
        } = change
        {
            let stub = endpoint
                .split_once(':')
                .map(|(node, interface)| {
                    names::stub(
                        &desired.lab,
                        &super::file::Endpoint {
                            node: node.into(),
                            interface: interface.into(),
                        },
                    )
                })
                .unwrap_or_default();
            delete_stub(handles.get(netns)?, &stub, tap, true)?;
        }
    }
    Ok(())
}

/// Step 2, last: the ports that go, then the namespaces.
fn delete_doomed(
    changes: &[Change],
    handles: &mut Handles,
    socket: &mut RouteSocket,
) -> Result<(), LabError> {
    let doomed: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::DeletePort { port, .. } => Some(port.clone()),
            _ => None,
        })
        .collect();
    // Those still there (a stub's port went with its stub).
    let doomed: Vec<IfIndex> = links_by_name(socket, &doomed)?
        .values()
        .map(|l| l.index)
        .collect();
    delete_ports(socket, &doomed)?;
    for change in changes {
        if let Change::DeleteNamespace { netns } = change {
            handles.forget(netns);
            netns::delete_named(netns)?;
        }
    }

    Ok(())
}

/// Step 3: the ports to create, then the MTUs to change; returns the ports created.
fn make_ports<'d>(
    desired: &'d Desired,
    changes: &[Change],
    handles: &mut Handles,
    socket: &mut RouteSocket,
    panel: &Netns,
) -> Result<Vec<&'d Port>, LabError> {
    let created: Vec<&Port> = changes
        .iter()
        .filter_map(|c| match c {
            Change::CreatePort { port, .. } => desired.ports.get(port),
            _ => None,
        })
        .collect();
    create_ports(desired, handles, socket, panel, &created)?;
    for change in changes {
        if let Change::SetMtu { port, mtu, .. } = change {
            set_mtu(desired, handles, socket, &desired.ports[port], *mtu)?;
        }
    }

    Ok(created)
}

/// Step 4: wires (by datapath), hubs and mirrors in the panel, each through its command.
fn hook(desired: &Desired, changes: &[Change], panel: &Netns) -> Result<(), LabError> {
    for datapath in [wire::Datapath::Tc, wire::Datapath::Ebpf] {
        let wires: Vec<WireRequest> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Wire {
                    a, b, datapath: d, ..
                } if *d == datapath => Some(WireRequest::new(a, b)),
                _ => None,
            })
            .collect();
        if !wires.is_empty() {
            let options = LinkOptions {
                datapath,
                ..LinkOptions::default()
            };
            wire::link(panel.try_clone()?, &wires, &options)?;
        }
    }
    stop_point(4);
    let hubs: Vec<HubRequest> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Hub { hub, members, .. } => Some(HubRequest {
                name: hub.clone(),
                members: members.clone(),
            }),
            _ => None,
        })
        .collect();
    if !hubs.is_empty() {
        hub::set(panel.try_clone()?, &hubs, &HubOptions::default())?;
    }

    stop_point(5);
    let mirrors: Vec<crate::mirror::MirrorSpec> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Mirror { mirror, .. } => Some(mirror_spec(mirror, &desired.mirrors[mirror])),
            _ => None,
        })
        .collect::<Result<_, _>>()?;
    if !mirrors.is_empty() {
        crate::mirror::add(panel.try_clone()?, &mirrors, None)?;
    }

    Ok(())
}

/// Step 5: the ports created or raised, and their far ends, up.
fn raise(
    desired: &Desired,
    changes: &[Change],
    created: &[&Port],
    handles: &mut Handles,
    socket: &mut RouteSocket,
) -> Result<(), LabError> {
    let raised: Vec<&Port> = created
        .iter()
        .copied()
        .chain(changes.iter().filter_map(|c| match c {
            Change::SetUp { port, .. } | Change::Bounce { port, .. } => desired.ports.get(port),
            _ => None,
        }))
        .collect();
    let mut far_ends: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for port in &raised {
        let Some((home, far)) = desired.far_end(port) else {
            continue;
        };
        far_ends.entry(home).or_default().push(far);
    }
    for (home, names) in &far_ends {
        let mut node = handles.get(home)?.route()?;
        let found = links_by_name(&mut node, names)?;
        batch(
            &mut node,
            found
                .values()
                .map(|l| (link::set_up(l.index, true), 0))
                .collect(),
            &format!("bringing interfaces up in netns {home}"),
        )?;
    }
    let names: Vec<String> = raised.iter().map(|p| p.name.clone()).collect();
    let found = links_by_name(socket, &names)?;
    batch(
        socket,
        found
            .values()
            .map(|l| (link::set_up(l.index, true), 0))
            .collect(),
        "bringing ports up",
    )?;
    Ok(())
}

fn mirror_spec(
    name: &str,
    plan: &super::desired::MirrorPlan,
) -> Result<crate::mirror::MirrorSpec, LabError> {
    let vlans = match &plan.vlans {
        Some(text) => Some(
            crate::mirror::VlanSet::parse(text)
                .map_err(|e| LabError::Invalid(format!("mirror {name}: vlan {text}: {e}")))?,
        ),
        None => None,
    };
    Ok(crate::mirror::MirrorSpec {
        name: name.to_string(),
        sources: crate::mirror::Sources::List(plan.sources.iter().cloned().collect()),
        to: plan.to.clone(),
        direction: plan.direction,
        vlans,
        output_vlan: plan.output_vlan,
        onto_wire: false,
        filter: plan.filter.clone(),
    })
}

/// Interface group the panel's doomed ports are moved to before one request deletes them all
/// (the panel is the lab's own namespace: nothing else uses groups there).
const DOOMED_GROUP: u32 = 0x7077_de1e;

/// Deletes panel ports (their far ends go with them). One request per port would cost an RCU
/// grace period each (~20 ms); grouped, the kernel unregisters them together.
/// Deletes the interface `name` of namespace `netns` (a VM node's tap at `down`); gone
/// already is fine.
pub(super) fn delete_link(netns: &str, name: &str) -> Result<(), LabError> {
    let mut socket = Netns::open(Some(netns))?.route()?;
    let found = links_by_name(&mut socket, &[name.to_string()])?;
    let doomed: Vec<IfIndex> = found.values().map(|l| l.index).collect();
    delete_ports(&mut socket, &doomed)
}

fn delete_ports(socket: &mut RouteSocket, doomed: &[IfIndex]) -> Result<(), LabError> {
    match doomed.len() {
        0 => Ok(()),
        1 => batch(
            socket,
            vec![(link::delete(doomed[0]), 0)],
            "deleting a port",
        ),
        _ => {
            let grouped = doomed
                .iter()
                .map(|i| (link::set_group(*i, DOOMED_GROUP), 0));
            batch(socket, grouped.collect(), "grouping ports to delete")?;
            batch(
                socket,
                vec![(link::delete_group(DOOMED_GROUP), 0)],
                "deleting ports",
            )
        }
    }
}

/// Creates a namespace the lab owns, with its loopback up and marked. The panel's own IPv6 is
/// off by default, so every port is born silent (no per-port change needed).
fn make_namespace(desired: &Desired, name: &str) -> Result<(), LabError> {
    let mark = desired
        .owned_namespaces()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, mark)| mark)
        .ok_or_else(|| LabError::Invalid(format!("netns {name} is not one of the lab's")))?;
    let panel = name == desired.panel;
    // The mark goes on before the name appears: a registered namespace without it is never
    // one this lab made.
    Netns::create_named_with(name, |socket| {
        if panel {
            for key in ["all", "default"] {
                let path = format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6");
                // No IPv6 in this kernel: nothing to silence.
                let _ = std::fs::write(path, "1");
            }
        }
        let lo = link::parse_one(socket.request_raw(link::get_by_name("lo"), 0))
            .map_err(|e| std::io::Error::other(format!("no loopback: {e}")))?;
        for reply in socket.batch(vec![
            (link::set_up(lo.index, true), 0),
            link::altname(lo.index, &mark, true),
        ]) {
            reply.map_err(|e| std::io::Error::other(format!("setting up the loopback: {e}")))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Deletes the panel's links that would outlive `down` (its far ends in namespaces the lab
/// does not own, VXLAN ports whose UDP socket is the underlay's, ports without a record), so
/// they go now rather than when the kernel gets round to destroying the panel. A port whose
/// far end is in a node namespace the lab owns dies with that namespace, and is left to it:
/// deleting thousands of pairs one by one would only slow `down`. Returns the far ends removed
/// from namespaces the lab does not own (`NODE:IF`).
pub(super) fn delete_panel_ports(desired: &Desired) -> Result<Vec<String>, LabError> {
    let panel = Netns::open(Some(&desired.panel))?;
    let mut socket = panel.route()?;
    let links = link::list(&mut socket).map_err(|e| {
        LabError::system(
            format!("listing the links of netns {}: {e}", desired.panel),
            e,
        )
    })?;
    let owned = |node: &str| matches!(desired.nodes.get(node), Some(NodeHome::Owned { .. }));
    let mut elsewhere = Vec::new();
    let mut doomed = Vec::new();
    for found in links.iter().filter(|l| !l.loopback) {
        let record = found
            .altnames
            .iter()
            .find_map(|a| names::parse_port_record(a));
        match record {
            Some(endpoint) if owned(&endpoint.node) => continue,
            Some(endpoint) => elsewhere.push(endpoint.to_string()),
            None => {}
        }
        doomed.push(found.index);
    }
    delete_ports(&mut socket, &doomed)?;
    Ok(elsewhere)
}

/// Testing hook (`PATCHWIRE_LAB_KILL_AT=N`): the process kills itself with SIGKILL at stop
/// point N of `apply`, so the tests can prove that an `up` killed there converges when run
/// again. Points 1-7 follow the steps of `apply`; 10 and 11 fall inside port creation, 12
/// after it, before the node sides get their MACs and the host sides their bridge; 20 is
/// containers' (`containers.rs`).
pub(super) fn stop_point(point: u32) {
    let wanted = std::env::var("PATCHWIRE_LAB_KILL_AT")
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    if wanted == Some(point) {
        // SAFETY: raise has no memory effects; SIGKILL ends the process here.
        unsafe { libc::raise(libc::SIGKILL) };
    }
}

/// Everything that can still refuse, checked before any change: VXLAN ports must fit their
/// underlay, VM tap owners must exist.
pub(super) fn preflight(desired: &Desired, changes: &[Change]) -> Result<(), LabError> {
    for change in changes {
        let Change::CreatePort { port, .. } = change else {
            continue;
        };
        let port = &desired.ports[port];
        match &port.reach {
            Reach::Vxlan {
                local: Some(local), ..
            } => check_underlay(port, *local)?,
            Reach::Vxlan {
                local: None,
                dev: Some(dev),
                ..
            } => check_dev(port, dev)?,
            _ => {}
        }
    }
    // Every refusal of the host's side at once: a user fixes them in one go.
    let refusals: Vec<String> = [
        super::host_links::preflight(desired),
        super::devices::preflight(desired, changes),
        super::impairs::preflight(desired),
    ]
    .into_iter()
    .filter_map(Result::err)
    .map(|e| e.to_string())
    .collect();
    if !refusals.is_empty() {
        return Err(LabError::Invalid(refusals.join("; ")));
    }
    for home in desired.nodes.values() {
        if let NodeHome::Owned { vm: Some(vm), .. } = home {
            vm.owner.as_deref().map(vm::user_id).transpose()?;
            vm.group.as_deref().map(vm::group_id).transpose()?;
        }
    }
    Ok(())
}

/// A VXLAN port's frames plus 50 bytes (70 over IPv6) must fit the underlay interface that
/// holds the host's address.
fn check_underlay(port: &Port, local: std::net::IpAddr) -> Result<(), LabError> {
    let mut socket = Netns::current()?.route()?;
    let addresses = crate::nl::addr::by_interface(&mut socket)
        .map_err(|e| LabError::system(format!("listing addresses: {e}"), e))?;
    let wanted = local.to_string();
    let holder = addresses
        .iter()
        .find(|(_, list)| {
            list.iter()
                .any(|a| a.split('/').next() == Some(wanted.as_str()))
        })
        .map(|(index, _)| *index);
    let Some(index) = holder else {
        return Err(LabError::Invalid(format!(
            "{}: this host's address {local} is on no interface of the current network namespace: \
             run up in the namespace that holds the underlay address (nsenter --net=...)",
            port.label()
        )));
    };
    let underlay = link::parse_one(socket.request_raw(link::get_by_index(index), 0))
        .map_err(|e| LabError::system(format!("reading the underlay interface: {e}"), e))?;
    let overhead = if local.is_ipv4() { 50 } else { 70 };
    if port.mtu + overhead > underlay.mtu {
        return Err(LabError::Invalid(format!(
            "{}: mtu {} plus {overhead} bytes of VXLAN encapsulation is {}, more than the underlay \
             {}'s mtu {}: lower the link's mtu to {} or raise the underlay's",
            port.label(),
            port.mtu,
            port.mtu + overhead,
            underlay.name,
            underlay.mtu,
            underlay.mtu - overhead
        )));
    }
    Ok(())
}

/// A `type: vxlan` link's `dev:` must be an interface of the host's namespace, with room for
/// the link's frames and 50 bytes of encapsulation (70 over IPv6; 50 assumed).
fn check_dev(port: &Port, dev: &str) -> Result<(), LabError> {
    let mut socket = Netns::current()?.route()?;
    let found = links_by_name(&mut socket, &[dev.to_string()])?;
    let Some(underlay) = found.get(dev) else {
        return Err(LabError::Invalid(format!(
            "{}: the vxlan's dev {dev} is not an interface of the host's namespace",
            port.label()
        )));
    };
    if port.mtu + 50 > underlay.mtu {
        return Err(LabError::Invalid(format!(
            "{}: mtu {} plus 50 bytes of VXLAN encapsulation is more than {dev}'s mtu {}: lower \
             the link's mtu to {} or raise {dev}'s",
            port.label(),
            port.mtu,
            underlay.mtu,
            underlay.mtu.saturating_sub(50)
        )));
    }
    Ok(())
}

/// Removes one stub (and its wire) from a namespace the lab does not own (`down`).
pub(super) fn remove_stub(spec: &str, stub: &str, interface: &str) -> Result<(), LabError> {
    delete_stub(&Netns::open(Some(spec))?, stub, interface, false)
}

/// Unlinks `interface` (the user's, or a VM node's tap) from its stub — which gives it back
/// its IPv6 — then deletes the stub, and with `vm_tap` the tap too (the lab made it).
fn delete_stub(netns: &Netns, stub: &str, interface: &str, vm_tap: bool) -> Result<(), LabError> {
    let mut socket = netns.route()?;
    let names = [stub.to_string(), interface.to_string()];
    let found = links_by_name(&mut socket, &names)?;
    for end in [interface, stub] {
        if !found.contains_key(end) {
            continue;
        }
        match wire::unlink(netns.try_clone()?, &[end.to_string()], false) {
            // Not on a wire (now a note, not an error): try the other end.
            Ok(outcome) if outcome.not_wired.is_empty() => break,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let doomed = found
        .values()
        .filter(|l| l.name == stub || (vm_tap && l.name == interface))
        .map(|l| (link::delete(l.index), 0))
        .collect();
    batch(&mut socket, doomed, "deleting a stub")
}

fn set_mtu(
    desired: &Desired,
    handles: &mut Handles,
    socket: &mut RouteSocket,
    port: &Port,
    mtu: u32,
) -> Result<(), LabError> {
    let found = links_by_name(socket, std::slice::from_ref(&port.name))?;
    let Some(found) = found.get(&port.name) else {
        return Ok(());
    };
    batch(
        socket,
        vec![(link::set_mtu(found.index, mtu), 0)],
        "setting an mtu",
    )?;
    let Some(endpoint) = &port.endpoint else {
        return Ok(());
    };
    let home = desired.nodes[&endpoint.node].spec().to_string();
    let mut node = handles.get(&home)?.route()?;
    let far: Vec<String> = match &port.reach {
        Reach::Veth => vec![endpoint.interface.clone()],
        Reach::Stub {
            stub,
            make_tap: true,
        } => vec![stub.clone(), endpoint.interface.clone()],
        Reach::Stub { stub, .. } => vec![stub.clone()],
        Reach::Vxlan { .. } => vec![],
    };
    let found = links_by_name(&mut node, &far)?;
    batch(
        &mut node,
        found
            .values()
            .map(|l| (link::set_mtu(l.index, mtu), 0))
            .collect(),
        "setting an mtu",
    )?;
    Ok(())
}

/// TX checksum offload of ports whose link says `tx-checksum:` (changed only where it differs).
fn tx_checksum(panel: &Netns, desired: &Desired) -> Result<(), LabError> {
    let wanted: Vec<(String, bool)> = desired
        .ports
        .values()
        .filter_map(|p| Some((p.name.clone(), p.tx_checksum?)))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    panel.run(|| -> Result<(), LabError> {
        let ethtool = Ethtool::open()
            .map_err(|e| LabError::system(format!("opening an ethtool socket: {e}"), e))?;
        for (name, on) in &wanted {
            if ethtool.tx_checksum(name).ok() != Some(*on) {
                ethtool.set_tx_checksum(name, *on).map_err(|e| {
                    LabError::system(format!("TX checksum offload of port {name}: {e}"), e)
                })?;
            }
        }
        Ok(())
    })?
}

/// The interfaces of `names` that exist, by name. Only "no such device" (ENODEV) means
/// absent; any other failure to look one up is an error naming it and the namespace.
fn links_by_name(
    socket: &mut RouteSocket,
    names: &[String],
) -> Result<BTreeMap<String, link::Link>, LabError> {
    let requests = names.iter().map(|n| (link::get_by_name(n), 0)).collect();
    let mut found = BTreeMap::new();
    for (name, reply) in names.iter().zip(socket.batch_raw(requests)) {
        match link::parse_one(reply) {
            Ok(link) => {
                found.insert(link.name.clone(), link);
            }
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            Err(e) => {
                let context = format!("looking up {name} in {}", socket.describe());
                return Err(wire::WireError::kernel(context, e).into());
            }
        }
    }
    Ok(found)
}

/// The index of an interface this run has just made, from a [`links_by_name`] answer.
fn just_made(
    found: &BTreeMap<String, link::Link>,
    name: &str,
    netns: &str,
) -> Result<IfIndex, LabError> {
    found.get(name).map(|l| l.index).ok_or_else(|| {
        LabError::Invalid(format!(
            "{name} was made in {netns} but is not there any more (another program removed it?): \
             run up again"
        ))
    })
}

fn batch(
    socket: &mut RouteSocket,
    requests: Vec<(netlink_packet_route::RouteNetlinkMessage, u16)>,
    what: &str,
) -> Result<(), LabError> {
    let replies = wire::apply::with_retries(requests, 3, |b| socket.batch(b));
    let failures: BTreeSet<String> = replies
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    match failures.is_empty() {
        true => Ok(()),
        false => Err(LabError::Invalid(format!(
            "{what}: {}",
            failures.into_iter().collect::<Vec<_>>().join("; ")
        ))),
    }
}

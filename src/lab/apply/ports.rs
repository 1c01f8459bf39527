//! Making the panel's ports: VM taps, veths with their far ends straight in the nodes'
//! namespaces (numbered above the nodes' own ifindexes), VXLAN ports from the underlay's
//! namespace, then their records, flood entries, and the stubs' records and wires.

use super::{Handles, batch, just_made, links_by_name, stop_point};
use crate::lab::LabError;
use crate::lab::desired::{Desired, NodeHome, Port, Reach};
use crate::lab::names;
use crate::netns::Netns;
use crate::nl::RouteSocket;
use crate::nl::link::{self, IfIndex};
use crate::vm::{self, Mtu, TapSpec};
use crate::wire::{self, LinkOptions, WireRequest};

/// Creates ports: VM taps, veths (far ends in their nodes' namespaces), VXLAN ports, their
/// records, then the stubs' records and wires.
pub(super) fn create_ports(
    desired: &Desired,
    handles: &mut Handles,
    socket: &mut RouteSocket,
    panel: &Netns,
    ports: &[&Port],
) -> Result<(), LabError> {
    for port in ports {
        if let Reach::Stub { make_tap: true, .. } = &port.reach {
            make_tap(desired, handles, port)?;
        }
    }
    create_veth_ports(desired, handles, socket, ports)?;
    stop_point(10);
    create_vxlan_ports(panel, ports)?;
    stop_point(11);
    record_ports(socket, ports)?;
    wire_stubs(desired, handles, ports)
}

/// One panel batch for every veth, the far end straight into its namespace.
fn create_veth_ports(
    desired: &Desired,
    handles: &mut Handles,
    socket: &mut RouteSocket,
    ports: &[&Port],
) -> Result<(), LabError> {
    let mut requests = Vec::new();
    let mut made = Vec::new();
    let mut next_index = next_port_index(socket)?;
    for port in ports {
        let (Some((home, peer)), Some(endpoint)) = (desired.far_end(port), &port.endpoint) else {
            continue;
        };
        let netns = handles.get(&home)?;
        requests.push(link::add_veth_port(
            &port.name,
            port.mtu,
            &peer,
            Some(netns.fd()),
            Some(IfIndex(next_index)),
        ));
        next_index += 1;
        made.push((endpoint.to_string(), peer, home));
    }
    // Say which endpoint failed: an interface of that name the lab did not make is the usual
    // cause (EEXIST), and the user has to rename one of them.
    let replies = wire::apply::with_retries(requests, 3, |b| socket.batch(b));
    for ((endpoint, peer, home), reply) in made.iter().zip(replies) {
        if let Err(e) = reply {
            let hint = match e.errno() {
                Some(libc::EEXIST) => format!(
                    ": netns {home} already has an interface {peer} that the lab did not make; \
                     remove it or give the endpoint another name"
                ),
                _ => String::new(),
            };
            return Err(LabError::system(
                format!("creating the port for {endpoint} ({peer} in netns {home}): {e}{hint}"),
                e,
            ));
        }
    }
    Ok(())
}

/// VXLAN ports, made from the underlay's namespace (this process's) and placed in the panel.
fn create_vxlan_ports(panel: &Netns, ports: &[&Port]) -> Result<(), LabError> {
    let mut here = Netns::current()?.route()?;
    let mut tunnels = Vec::new();
    for port in ports {
        if let Reach::Vxlan {
            vni,
            local,
            dev,
            remotes,
            port: udp,
        } = &port.reach
        {
            let single = match remotes[..] {
                [one] => Some(one),
                _ => None,
            };
            let Some(local) = local else {
                // A link of `type: vxlan`: one remote, the underlay device by name.
                let dev = match dev {
                    Some(dev) => Some(
                        links_by_name(&mut here, std::slice::from_ref(dev))?
                            .get(dev)
                            .map(|l| l.index)
                            .ok_or_else(|| {
                                LabError::Invalid(format!(
                                    "{}: the vxlan's dev {dev} is not in the host's namespace",
                                    port.label()
                                ))
                            })?,
                    ),
                    None => None,
                };
                let remote = single.unwrap_or(remotes[0]);
                tunnels.push(link::add_vxlan_to(
                    &port.name,
                    port.mtu,
                    *vni,
                    remote,
                    *udp,
                    dev,
                    panel.fd(),
                ));
                continue;
            };
            tunnels.push(link::add_vxlan(
                &port.name,
                port.mtu,
                *vni,
                *local,
                single,
                *udp,
                panel.fd(),
            ));
        }
    }
    batch(&mut here, tunnels, "creating VXLAN ports")
}

/// The ports' records, in one batch; and the flood entries of segments over several hosts.
fn record_ports(socket: &mut RouteSocket, ports: &[&Port]) -> Result<(), LabError> {
    let names: Vec<String> = ports.iter().map(|p| p.name.clone()).collect();
    let found = links_by_name(socket, &names)?;
    let panel_name = socket.describe().to_string();
    let mut records = Vec::new();
    for port in ports {
        let record = match &port.endpoint {
            Some(endpoint) => names::port_record(endpoint),
            None => port
                .vxlan_record()
                .expect("a port without endpoint is a VXLAN port"),
        };
        let index = just_made(&found, &port.name, &panel_name)?;
        records.push(link::altname(index, &record, true));
    }
    batch(socket, records, "recording ports")?;
    // A segment over several hosts: one flood entry per other host on its VXLAN port.
    let mut floods = Vec::new();
    for port in ports {
        if let Reach::Vxlan { remotes, .. } = &port.reach
            && remotes.len() > 1
        {
            let index = just_made(&found, &port.name, &panel_name)?;
            floods.extend(remotes.iter().map(|r| link::add_flood_entry(index, *r)));
        }
    }
    batch(socket, floods, "adding flood entries to VXLAN ports")
}

/// Stubs: recorded and wired to their interface inside the node's namespace.
fn wire_stubs(desired: &Desired, handles: &mut Handles, ports: &[&Port]) -> Result<(), LabError> {
    for port in ports {
        if let (Reach::Stub { stub, .. }, Some(endpoint)) = (&port.reach, &port.endpoint) {
            let home = desired.nodes[&endpoint.node].spec().to_string();
            let netns = handles.get(&home)?.try_clone()?;
            let mut node = netns.route()?;
            let found = links_by_name(&mut node, std::slice::from_ref(stub))?;
            let index = just_made(&found, stub, node.describe())?;
            batch(
                &mut node,
                vec![link::altname(
                    index,
                    &names::stub_record(&desired.lab, endpoint),
                    true,
                )],
                "recording a stub",
            )?;
            wire::link(
                netns,
                &[WireRequest::new(&endpoint.interface, stub)],
                &LinkOptions::default(),
            )?;
        }
    }
    Ok(())
}

/// Panel ports are numbered from here up; their far ends, in the nodes' namespaces, get the
/// small numbers the kernel hands out there (from 2 in a fresh namespace). A port with its
/// peer's ifindex — which is what both namespaces counting from 2 give the first node — has
/// ifindex == iflink, and the kernel's link watch (net/core/link_watch.c) then treats its
/// carrier changes as not urgent and delivers them up to a second late: a router would see
/// its own cable cut a second after its neighbour does. (A node namespace would need a
/// million interfaces made in it to reach this range.)
const PORT_INDEX_BASE: u32 = 1_000_000;

/// The ifindex for the next port: above every index already in the panel's range.
fn next_port_index(socket: &mut RouteSocket) -> Result<u32, LabError> {
    let links = link::list(socket)
        .map_err(|e| LabError::system(format!("listing the panel's links: {e}"), e))?;
    Ok(links
        .iter()
        .map(|l| l.index.0 + 1)
        .filter(|i| *i > PORT_INDEX_BASE)
        .max()
        .unwrap_or(PORT_INDEX_BASE))
}

/// A VM node's endpoint: a persistent tap for qemu, in the node's namespace.
fn make_tap(desired: &Desired, handles: &mut Handles, port: &Port) -> Result<(), LabError> {
    let endpoint = port.endpoint.as_ref().expect("taps have endpoints");
    let NodeHome::Owned {
        netns,
        vm: Some(vm),
    } = &desired.nodes[&endpoint.node]
    else {
        return Ok(());
    };
    let handle = handles.get(netns)?.try_clone()?;
    let mut socket = handle.route()?;
    if links_by_name(&mut socket, std::slice::from_ref(&endpoint.interface))?
        .contains_key(&endpoint.interface)
    {
        return Ok(());
    }
    let spec = TapSpec {
        name: endpoint.interface.clone(),
        mtu: Some(Mtu::Bytes(port.mtu)),
        vnet_hdr: vm.vnet_hdr,
        queues: vm.queues as u32,
        owner: vm.owner.as_deref().map(vm::user_id).transpose()?,
        group: vm.group.as_deref().map(vm::group_id).transpose()?,
    };
    vm::tap_add(handle, &spec)?;
    Ok(())
}

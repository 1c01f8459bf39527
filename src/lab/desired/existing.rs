//! Which interfaces of existing namespaces a lab's endpoints find (a `netns:` node's, the
//! host's), and whether each may be used: a lab's own port of an earlier run, a veth whose
//! peer is the lab's, or something else, refused naming it.

use super::*;

/// For every `netns:` node on this host: its namespace exists (else a clear error) and which
/// of its endpoint interfaces exist already.
pub(super) fn existing_interfaces(
    file: &LabFile,
    host_sides: &[Option<Endpoint>],
    desired: &mut Desired,
    tolerate_gone: bool,
    fresh: &BTreeSet<String>,
) -> Result<BTreeMap<Endpoint, Link>, LabError> {
    let mut found = BTreeMap::new();
    let mut gone = Vec::new();
    for (node, home) in &desired.nodes {
        let NodeHome::Existing { spec } = home else {
            continue;
        };
        if fresh.contains(node) {
            continue;
        }
        let netns = match Netns::open(Some(spec)) {
            Ok(netns) => netns,
            Err(crate::netns::NetnsError::NotFound { .. }) if tolerate_gone => {
                gone.push((node.clone(), spec.clone()));
                continue;
            }
            Err(e) => {
                let at = file.ids_at.0.get(&(node.clone(), "netns"));
                return Err(LabError::system(
                    format!("{}: node {node}: {e}", at.unwrap_or(&file.path)),
                    e,
                ));
            }
        };
        let mut socket = netns.route()?;
        let mirror_ends = file.mirrors.iter().map(|m| &m.to);
        let endpoints = file
            .links
            .iter()
            .flat_map(|l| &l.endpoints)
            .chain(host_sides.iter().flatten())
            .chain(mirror_ends);
        {
            for endpoint in endpoints.filter(|e| &e.node == node) {
                let reply = socket.request_raw(link::get_by_name(&endpoint.interface), 0);
                // Only "no such device" means absent; any other refusal is an error to show.
                match link::parse_one(reply) {
                    Ok(link) => {
                        found.insert(endpoint.clone(), link);
                    }
                    Err(e) if e.errno() == Some(libc::ENODEV) => {}
                    Err(e) => {
                        let context = format!(
                            "{}: node {node}: looking up {} in {spec}",
                            file.path, endpoint.interface
                        );
                        return Err(crate::wire::WireError::kernel(context, e).into());
                    }
                }
            }
        }
    }
    desired.gone = gone;
    Ok(found)
}

pub(super) fn endpoint_port(
    file: &LabFile,
    desired: &Desired,
    existing: &BTreeMap<Endpoint, Link>,
    link: &LinkSpec,
    endpoint: &Endpoint,
) -> Result<Port, LabError> {
    let home = &desired.nodes[&endpoint.node];
    let reach = match (home, existing.get(endpoint)) {
        (NodeHome::Owned { vm: Some(_), .. }, _) => Reach::Stub {
            stub: names::stub(&file.name, endpoint),
            make_tap: true,
        },
        (NodeHome::Owned { .. }, _) => Reach::Veth,
        (NodeHome::Existing { .. }, None) => Reach::Veth,
        (NodeHome::Existing { spec }, Some(found)) => {
            let reach = check_usable(file, desired, spec, endpoint, found)?;
            if reach != Reach::Veth && *spec == desired.host_netns {
                return Err(LabError::Invalid(format!(
                    "{}: endpoint {endpoint}: the host's namespace has an interface {} already, \
                     and it is not the lab's: the lab makes that interface (a veth), so give the \
                     endpoint a name the host does not use",
                    link.at(&file.path),
                    endpoint.interface
                )));
            }
            reach
        }
    };
    let bridge_node = matches!(
        file.nodes.get(&endpoint.node).map(|n| &n.kind),
        Some(NodeKind::Bridge)
    );
    // A MAC goes on an interface the lab makes for the node (the veth's far end): a VM's
    // NIC has qemu's MAC whatever its tap's, and an existing interface stays the user's.
    let mac = match reach {
        Reach::Veth => link.macs.get(endpoint).and_then(|m| parse_mac(m)),
        _ => None,
    };
    Ok(Port {
        name: names::port(endpoint),
        endpoint: Some(endpoint.clone()),
        reach,
        mtu: link.mtu,
        tx_checksum: link.tx_checksum.or(file.tx_checksum),
        mac,
        master: bridge_node.then(|| endpoint.node.clone()),
    })
}

/// `FILE:LINE:COL` of the link an endpoint is in, or whose host side it is (`host:IF`); the
/// file alone when it is in none, such as a mirror's analyzer end.
pub(super) fn endpoint_at(file: &LabFile, endpoint: &Endpoint) -> String {
    let host_side = |l: &LinkSpec| match &l.kind {
        LinkKind::Host { host_interface } | LinkKind::MgmtNet { host_interface } => {
            endpoint.node == names::HOST_NODE && *host_interface == endpoint.interface
        }
        _ => false,
    };
    file.links
        .iter()
        .find(|l| l.endpoints.contains(endpoint) || host_side(l))
        .map_or_else(|| file.path.clone(), |l| l.at(&file.path))
}

/// An interface that exists in a `netns:` node: a veth made by this lab (its peer is a panel
/// port) is the lab's own; another veth is already connected somewhere and is refused; any
/// other Ethernet interface (tap, NIC, vxlan, macvlan) is used as it is, through a stub.
pub(super) fn check_usable(
    file: &LabFile,
    desired: &Desired,
    spec: &str,
    endpoint: &Endpoint,
    found: &Link,
) -> Result<Reach, LabError> {
    let place = endpoint_at(file, endpoint);
    let at = match spec == desired.host_netns {
        true => format!("{place}: endpoint {endpoint} (the host's namespace)"),
        false => format!("{place}: endpoint {endpoint} (netns {spec})"),
    };
    if found.loopback || found.mac.is_none() {
        return Err(LabError::Invalid(format!(
            "{at}: {} is not an Ethernet interface",
            endpoint.interface
        )));
    }
    if found.is_veth() {
        if veth_peer_is_our_port(desired, endpoint, found) {
            return Ok(Reach::Veth);
        }
        if vanishes_with_a_dying_panel(desired, spec, endpoint, found) {
            return Ok(Reach::Veth);
        }
        return Err(LabError::Invalid(format!(
            "{at}: {} exists and is a veth, so it is already connected to its peer (ifindex {}); \
             remove it and patchwire creates it, joined to the lab",
            endpoint.interface,
            found
                .peer
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into())
        )));
    }
    if let Some(master) = found.master {
        return Err(LabError::Invalid(format!(
            "{at}: {} is a port of another device (ifindex {master}); release it first",
            endpoint.interface
        )));
    }
    Ok(Reach::Stub {
        stub: names::stub(&file.name, endpoint),
        make_tap: false,
    })
}

/// A far end whose panel was deleted (by an older `down`, or one killed half-way) lives until
/// the kernel has destroyed that namespace, which it does on its own time. With no panel
/// there, a veth of this name whose peer is in another namespace waits up to 3 s to vanish
/// before it is taken for someone else's.
pub(super) fn vanishes_with_a_dying_panel(
    desired: &Desired,
    spec: &str,
    endpoint: &Endpoint,
    found: &Link,
) -> bool {
    let panel_gone = !std::path::Path::new(crate::netns::NETNS_RUN_DIR)
        .join(&desired.panel)
        .exists();
    if !panel_gone || found.peer_netnsid.is_none() {
        return false;
    }
    let Ok(mut socket) = Netns::open(Some(spec)).and_then(|n| n.route()) else {
        return false;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        match link::parse_one(socket.request_raw(link::get_by_name(&endpoint.interface), 0)) {
            Ok(still) if still.index == found.index => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => return true,
        }
    }
    false
}

/// Whether a veth found in a node's namespace is the peer of this lab's port for it.
pub(super) fn veth_peer_is_our_port(desired: &Desired, endpoint: &Endpoint, found: &Link) -> bool {
    let Ok(panel) = Netns::open(Some(&desired.panel)) else {
        return false;
    };
    let Ok(mut socket) = panel.route() else {
        return false;
    };
    let reply = socket.request_raw(link::get_by_name(&names::port(endpoint)), 0);
    match link::parse_one(reply) {
        // A port without any record is one an `up` killed before recording it: the panel is
        // the lab's, so its far end is the lab's too (the port is made again).
        Ok(port) => {
            let recorded = port.altnames.contains(&names::port_record(endpoint))
                || !port
                    .altnames
                    .iter()
                    .any(|a| names::parse_port_record(a).is_some());
            recorded && port.peer == Some(found.index) && found.peer == Some(port.index)
        }
        Err(_) => false,
    }
}

//! What a lab calls the things it makes, and the records that let any later process find them
//! again with no state file: namespace names, port names, and the altnames that mark them.
//!
//! Records use only characters valid in interface names (no `:` or `/`); lab and node names
//! cannot contain `.`, so `.` separates the parts unambiguously.

use super::file::Endpoint;
use crate::marks::{DEVICE_RECORD, LAB_RECORD, PORT_RECORD, STUB_RECORD, VXLAN_RECORD};

/// The lab's own namespace, where its ports, wires and hubs live: `LAB.panel`, or
/// `LAB.panel.HOST` with `--host` (so two simulated hosts on one machine never collide). Node
/// namespaces are `LAB-NODE`; `.` cannot appear in a node name, so the two never collide.
pub fn panel(lab: &str, host: Option<&str>) -> String {
    match host {
        Some(host) => format!("{lab}.panel.{host}"),
        None => format!("{lab}.panel"),
    }
}

/// A node's namespace, when the lab creates it (`ip -n t1-r1 …` works).
pub fn node_netns(lab: &str, node: &str) -> String {
    format!("{lab}-{node}")
}

/// The altname on a namespace's loopback that says the lab made it.
pub fn panel_mark(lab: &str, host: Option<&str>) -> String {
    format!("{LAB_RECORD}{}", panel(lab, host))
}

/// With hosts, the mark names the host too: on one machine standing for several hosts, each
/// host's `up` and `down` touch only their own nodes' namespaces.
pub fn node_mark(lab: &str, node: &str, host: Option<&str>) -> String {
    match host {
        Some(host) => format!("{LAB_RECORD}{lab}.node.{node}.{host}"),
        None => format!("{LAB_RECORD}{lab}.node.{node}"),
    }
}

/// The panel port that stands for an endpoint: `NODE.IF` when it fits in 15 bytes, else a
/// readable prefix and a hash.
pub fn port(endpoint: &Endpoint) -> String {
    let full = format!("{}.{}", endpoint.node, endpoint.interface);
    shorten(&full)
}

fn shorten(full: &str) -> String {
    if full.len() <= 15 {
        return full.to_string();
    }
    let mut prefix: String = full.chars().take(6).collect();
    while prefix.len() > 6 {
        prefix.pop();
    }
    format!("{prefix}~{:08x}", hash(full) as u32)
}

/// The altname of a panel port: which endpoint it stands for.
pub fn port_record(endpoint: &Endpoint) -> String {
    format!("{PORT_RECORD}{}.{}", endpoint.node, endpoint.interface)
}

pub fn parse_port_record(altname: &str) -> Option<Endpoint> {
    let rest = altname.strip_prefix(PORT_RECORD)?;
    let (node, interface) = rest.split_once('.')?;
    Some(Endpoint {
        node: node.into(),
        interface: interface.into(),
    })
}

/// The stub veth a lab adds in a node's namespace to reach an interface that exists there (a
/// tap, a NIC): wired to it inside that namespace, its peer is the panel port.
pub fn stub(lab: &str, endpoint: &Endpoint) -> String {
    format!(
        "pw~{:08x}",
        hash(&format!("{lab}/{}/{}", endpoint.node, endpoint.interface)) as u32
    )
}

pub fn stub_record(lab: &str, endpoint: &Endpoint) -> String {
    format!(
        "{STUB_RECORD}{lab}.{}.{}",
        endpoint.node, endpoint.interface
    )
}

/// (lab, endpoint) of a stub's record.
pub fn parse_stub_record(altname: &str) -> Option<(String, Endpoint)> {
    let rest = altname.strip_prefix(STUB_RECORD)?;
    let (lab, rest) = rest.split_once('.')?;
    let (node, interface) = rest.split_once('.')?;
    Some((
        lab.into(),
        Endpoint {
            node: node.into(),
            interface: interface.into(),
        },
    ))
}

/// The VXLAN port of a cross-host link in the panel.
pub fn vxlan_port(vni: u32) -> String {
    format!("vx.{vni}")
}

/// The altname of a VXLAN port: a hash of its tunnel's parameters.
pub fn vxlan_record(parameters: &str) -> String {
    format!("{VXLAN_RECORD}{:016x}", hash(parameters))
}

/// A cross-host link's VXLAN network identifier, the same on every host without talking:
/// derived from the lab's name and the link's sorted endpoints (1..=16,777,215).
pub fn vni(lab: &str, endpoints: &[Endpoint]) -> u32 {
    let mut names: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
    names.sort();
    let key = format!("{lab}/{}", names.join(","));
    (hash(&key) % 0xff_ffff) as u32 + 1
}

/// A hub's name in the panel, from its lowest endpoint (stable while that one stays).
pub fn hub(endpoints: &[Endpoint]) -> String {
    let lowest = endpoints
        .iter()
        .min()
        .map(ToString::to_string)
        .unwrap_or_default();
    format!("h{:08x}", hash(&lowest) as u32)
}

/// The panel hub of a `kind: hub` node: `hub.NODE` when it fits in 15 characters, else a
/// hash of the node's name.
pub fn hub_node(node: &str) -> String {
    let full = format!("hub.{node}");
    match full.len() <= 15 {
        true => full,
        false => format!("h{:08x}", hash(&full) as u32),
    }
}

/// The name a `type: host` or `mgmt-net` link's host side stands for: an endpoint of the
/// host node (`host:IF`, as containerlab writes it).
pub const HOST_NODE: &str = "host";

/// The altname of an interface the lab made in a node (macvlan, dummy); `parameters` are
/// hashed (kind, lower interface, mode).
pub fn device_record(lab: &str, parameters: &str, endpoint: &Endpoint) -> String {
    format!(
        "{DEVICE_RECORD}{lab}.{:08x}.{}.{}",
        hash(parameters) as u32,
        endpoint.node,
        endpoint.interface
    )
}

/// (lab, endpoint) of a device record.
pub fn parse_device_record(altname: &str) -> Option<(String, Endpoint)> {
    let rest = altname.strip_prefix(DEVICE_RECORD)?;
    let (lab, rest) = rest.split_once('.')?;
    let (_, rest) = rest.split_once('.')?;
    let (node, interface) = rest.split_once('.')?;
    Some((
        lab.into(),
        Endpoint {
            node: node.into(),
            interface: interface.into(),
        },
    ))
}

/// FNV-1a: stable across builds and machines (both hosts of a lab must agree).
fn hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(node: &str, interface: &str) -> Endpoint {
        Endpoint {
            node: node.into(),
            interface: interface.into(),
        }
    }

    #[test]
    fn names_fit_the_kernel_and_records_read_back() {
        assert_eq!(port(&ep("r1", "eth1")), "r1.eth1");
        let long = port(&ep("spine-router-01", "Ethernet1-1"));
        assert_eq!(long.len(), 15, "{long}");
        assert!(long.starts_with("spine-~"), "{long}");
        assert_ne!(long, port(&ep("spine-router-02", "Ethernet1-1")));
        let record = port_record(&ep("r1", "eth1.100"));
        assert_eq!(parse_port_record(&record), Some(ep("r1", "eth1.100")));
        let stub_name = stub("t1", &ep("sw", "e1-1"));
        assert!(stub_name.len() <= 15);
        assert_eq!(
            parse_stub_record(&stub_record("t1", &ep("sw", "e1-1"))),
            Some(("t1".into(), ep("sw", "e1-1")))
        );
        assert_eq!(panel("t1", Some("a")), "t1.panel.a");
        assert_eq!(node_netns("t1", "r1"), "t1-r1");
        let record = device_record("t1", "macvlan/eth0/bridge", &ep("r1", "e1.5"));
        assert!(record.len() < 128, "{record}");
        assert_eq!(
            parse_device_record(&record),
            Some(("t1".into(), ep("r1", "e1.5")))
        );
        assert_eq!(hub_node("sw1"), "hub.sw1");
        assert_eq!(hub_node("a-very-long-hub").len(), 9);
        assert!(crate::hub::validate_name(&hub_node("a-very-long-hub")).is_ok());
    }

    #[test]
    fn a_vni_depends_on_the_link_not_on_the_order_of_its_endpoints() {
        let one = vni("t1", &[ep("r1", "eth1"), ep("r2", "eth1")]);
        assert_eq!(one, vni("t1", &[ep("r2", "eth1"), ep("r1", "eth1")]));
        assert_ne!(one, vni("t2", &[ep("r1", "eth1"), ep("r2", "eth1")]));
        assert!((1..=0xff_ffff).contains(&one));
        assert!(vxlan_port(0xff_ffff).len() <= 15);
    }
}

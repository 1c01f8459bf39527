//! What a lab file asks for on one host: namespaces, panel ports, wires, hubs and VXLAN
//! tunnels, each named as `names.rs` says. Pure except for looking at existing namespaces
//! (which interfaces a `netns:` node already has: `desired/existing.rs`). The host's own
//! namespace, the host sides of links and the management bridge are in `desired/host.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::LabError;
use super::file::{Endpoint, LabFile, LinkKind, LinkSpec, MirrorSide, NetnsRef, NodeKind, VmSpec};
use super::names;
use crate::netns::Netns;
use crate::nl::link::{self, Link};

mod existing;
mod host;
use existing::*;
pub use host::{MgmtBridge, host_netns};
use host::{bridge_note, host_names_unique, host_sides};

/// Where a node lives.
#[derive(Debug, Clone)]
pub enum NodeHome {
    /// A namespace the lab creates and owns (`LAB-NODE`).
    Owned { netns: String, vm: Option<VmSpec> },
    /// A namespace that exists already (`netns:`), as the user named it.
    Existing { spec: String },
}

impl NodeHome {
    /// `-n` spelling of the namespace.
    pub fn spec(&self) -> &str {
        match self {
            NodeHome::Owned { netns, .. } => netns,
            NodeHome::Existing { spec } => spec,
        }
    }
}

/// How a panel port reaches its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// A veth pair: the port in the panel, its peer is the endpoint interface itself, created
    /// in the node's namespace.
    Veth,
    /// The endpoint interface exists in the node's namespace (a tap, a NIC, a vxlan; or a tap
    /// the lab makes for a VM node): a stub veth there is wired to it; the port is the stub's
    /// peer.
    Stub { stub: String, make_tap: bool },
    /// A cross-host link (or a link of `type: vxlan`): a VXLAN device in the panel.
    Vxlan {
        vni: u32,
        /// `None` for a link of `type: vxlan`: the kernel picks the source by route.
        local: Option<IpAddr>,
        /// The underlay interface a `type: vxlan` link names (`dev:`).
        dev: Option<String>,
        /// The other hosts' addresses: one is a plain tunnel; several get a copy of every
        /// frame each (flood entries: head-end replication).
        remotes: Vec<IpAddr>,
        port: u16,
    },
}

#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    /// `None` for a VXLAN port.
    pub endpoint: Option<Endpoint>,
    pub reach: Reach,
    pub mtu: u32,
    pub tx_checksum: Option<bool>,
    /// The endpoint's `mac:`: set on the node's side (the far end) when it is made, and put
    /// back when it changed.
    pub mac: Option<[u8; 6]>,
    /// A bridge in the host's namespace the far end is a port of (`kind: bridge` nodes,
    /// `type: mgmt-net` links).
    pub master: Option<String>,
}

/// An interface the lab makes in a node itself, not through the panel (containerlab's
/// single-ended `type: macvlan` and `dummy` links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub kind: DeviceKind,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    /// The file line of its link, for messages.
    pub line: usize,
    /// The column where its link starts on that line (0: not known).
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// A macvlan of `lower` (an interface of the host's namespace), in `mode`.
    Macvlan {
        lower: String,
        mode: String,
    },
    Dummy,
}

impl Device {
    /// What its record hashes: a device whose kind, lower interface or mode changed is made
    /// again.
    pub fn parameters(&self) -> String {
        match &self.kind {
            DeviceKind::Macvlan { lower, mode } => format!("macvlan/{lower}/{mode}"),
            DeviceKind::Dummy => "dummy".into(),
        }
    }

    /// In words: `macvlan of eth0 (bridge)`, `dummy`.
    pub fn describe(&self) -> String {
        match &self.kind {
            DeviceKind::Macvlan { lower, mode } => format!("macvlan of {lower} ({mode})"),
            DeviceKind::Dummy => "dummy".into(),
        }
    }

    /// The kernel's kind name.
    pub fn kernel_kind(&self) -> &'static str {
        match &self.kind {
            DeviceKind::Macvlan { .. } => "macvlan",
            DeviceKind::Dummy => "dummy",
        }
    }
}

/// The macvlan mode numbers of linux/if_link.h, by containerlab's names.
pub fn macvlan_mode(mode: &str) -> Option<u32> {
    match mode {
        "private" => Some(1),
        "vepa" => Some(2),
        "bridge" => Some(4),
        "passthru" => Some(8),
        "source" => Some(16),
        _ => None,
    }
}

/// Reads `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn show_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What one link of the file is made of on this host, for `show --lab`.
#[derive(Debug, Clone, Default)]
pub struct LinkParts {
    /// `NODE:IF` of every endpoint, the host sides of `type: host` links included.
    pub endpoints: Vec<String>,
    /// Its panel ports here (for a `kind: hub` node's link: every port of that hub).
    pub ports: Vec<String>,
    /// The panel hub it belongs to (a `kind: hub` node's, or a link of 3+ endpoints).
    pub hub: Option<String>,
    /// An interface made in the node instead (`macvlan`, `dummy`).
    pub device: Option<Endpoint>,
    /// What it is, when not a plain wire or hub: `host`, `macvlan of eth0 (bridge)`…
    pub kind: Option<String>,
}

impl Port {
    /// The altname of a VXLAN port: its tunnel's parameters, hashed, so a changed address,
    /// UDP port or VNI makes the port be made again.
    pub fn vxlan_record(&self) -> Option<String> {
        let Reach::Vxlan {
            vni,
            local,
            dev,
            remotes,
            port,
        } = &self.reach
        else {
            return None;
        };
        let remotes: Vec<String> = remotes.iter().map(ToString::to_string).collect();
        // A cross-host link's record is as before (no dev, a local address): its ports stay.
        let mut parameters = match local {
            Some(local) => format!("{vni}/{local}/{}/{port}", remotes.join(",")),
            None => format!("{vni}/-/{}/{port}", remotes.join(",")),
        };
        if let Some(dev) = dev {
            parameters.push_str(&format!("/dev {dev}"));
        }
        Some(names::vxlan_record(&parameters))
    }

    /// What the port stands for, in messages: `r1:eth1`, or `vxlan 1234 to 198.18.1.2`.
    pub fn label(&self) -> String {
        match (&self.endpoint, &self.reach) {
            (Some(endpoint), _) => endpoint.to_string(),
            (None, Reach::Vxlan { vni, remotes, .. }) => {
                let remotes: Vec<String> = remotes.iter().map(ToString::to_string).collect();
                format!("vxlan {vni} to {}", remotes.join(", "))
            }
            (None, _) => self.name.clone(),
        }
    }
}

/// Everything the lab should hold on this host.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    /// The lab's name.
    pub lab: String,
    /// The host of the file this machine is; `None` for a lab on one machine.
    pub host: Option<String>,
    /// The panel's namespace (`LAB.panel`, or `LAB.panel.HOST`).
    pub panel: String,
    /// Nodes on this host and where they live.
    pub nodes: BTreeMap<String, NodeHome>,
    /// The panel's ports by name, with the endpoint each stands for and how it reaches it.
    pub ports: BTreeMap<String, Port>,
    /// Wires between two panel ports (sorted pair).
    pub wires: BTreeMap<(String, String), crate::wire::Datapath>,
    /// Hubs: name and member ports.
    pub hubs: BTreeMap<String, BTreeSet<String>>,
    /// Mirrors among the panel's ports, by name.
    pub mirrors: BTreeMap<String, MirrorPlan>,
    /// `netns:` nodes whose namespace is gone (only [`Desired::for_down`] tolerates them):
    /// `(node, namespace)`.
    pub gone: Vec<(String, String)>,
    /// The host's namespace ([`host_netns`]).
    pub host_netns: String,
    /// The file's path as given, for messages.
    pub path: String,
    /// Bridges that must exist in the host's namespace, with who needs them (`node br1`).
    pub bridges: BTreeMap<String, String>,
    /// Interfaces made in nodes themselves (macvlan, dummy), by endpoint.
    pub devices: BTreeMap<Endpoint, Device>,
    /// What `plan` refuses before anything changes (a `mgmt-net` link whose bridge cannot be
    /// known).
    pub refusals: Vec<String>,
    /// Ports of `mgmt-net` links whose bridge `up` makes first (the management network does
    /// not exist yet): port -> the network, for `plan`'s words.
    pub mgmt_pending: BTreeMap<String, String>,
    /// Said once per run by `plan` and `up` (a Linux bridge eats LACP…).
    pub notes: Vec<String>,
    /// Each link of the file (same order) as it is made here.
    pub links: Vec<LinkParts>,
    /// The file's impairments and pulled cables on this host's ports (`impairs.rs`).
    pub impair: super::impairs::Wanted,
}

/// A mirror of the file, on this host's panel ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorPlan {
    pub sources: BTreeSet<String>,
    pub to: String,
    /// Seen from the panel port: `in` = what the endpoint sends (`tx`).
    pub direction: crate::mirror::Direction,
    pub vlans: Option<String>,
    pub output_vlan: Option<u16>,
    pub filter: Option<String>,
}

impl Desired {
    /// Works out, from a checked lab file, what the lab should hold on `host` (`None`: the only
    /// one). Looks at the interfaces that existing namespaces (`netns:` nodes) already have.
    pub fn from_file(file: &LabFile, host: Option<&str>) -> Result<Desired, LabError> {
        Self::build(
            file,
            host,
            false,
            false,
            &BTreeSet::new(),
            &MgmtBridge::FromFile,
        )
    }

    /// [`Desired::from_file`] for `up` once its containers (and the management network) are
    /// made: `mgmt-net` links join the bridge the runtime made.
    pub(super) fn with_mgmt(
        file: &LabFile,
        host: Option<&str>,
        mgmt: &MgmtBridge,
    ) -> Result<Desired, LabError> {
        Self::build(file, host, false, false, &BTreeSet::new(), mgmt)
    }

    /// [`Desired::from_file`] for `plan` with container nodes: the namespaces of `fresh`
    /// nodes are made (or replaced) by `up` before the plumbing, so they are taken as empty
    /// (and need not exist yet).
    pub(super) fn with_fresh(
        file: &LabFile,
        host: Option<&str>,
        fresh: &BTreeSet<String>,
        mgmt: &MgmtBridge,
    ) -> Result<Desired, LabError> {
        Self::build(file, host, false, false, fresh, mgmt)
    }

    /// Only the lab's name, host (checked against the file's) and panel: what the lab's lock
    /// is keyed by.
    pub(super) fn key(file: &LabFile, host: Option<&str>) -> Result<Desired, LabError> {
        let host = check_host(file, host)?;
        Ok(Desired {
            lab: file.name.clone(),
            panel: names::panel(&file.name, host.as_deref()),
            host,
            ..Desired::default()
        })
    }

    /// [`Desired::from_file`] for `show --lab` and `graph`: a `netns:` node whose namespace
    /// has gone is listed in `gone` (its links are shown broken) instead of being an error.
    pub fn for_view(file: &LabFile, host: Option<&str>) -> Result<Desired, LabError> {
        Self::build(
            file,
            host,
            true,
            false,
            &BTreeSet::new(),
            &MgmtBridge::FromFile,
        )
    }

    /// [`Desired::from_file`] for `down`: a `netns:` node whose namespace has gone (deleted,
    /// its process exited) is listed in `gone` instead of being an error, so that `down`
    /// still removes everything else the lab made.
    pub fn for_down(file: &LabFile, host: Option<&str>) -> Result<Desired, LabError> {
        Self::build(
            file,
            host,
            true,
            true,
            &BTreeSet::new(),
            &MgmtBridge::FromFile,
        )
    }

    fn build(
        file: &LabFile,
        host: Option<&str>,
        tolerate_gone: bool,
        for_down: bool,
        fresh: &BTreeSet<String>,
        mgmt: &MgmtBridge,
    ) -> Result<Desired, LabError> {
        let host = check_host(file, host)?;
        let here = |node: &str| -> bool {
            match (&host, file.nodes.get(node).and_then(|n| n.host.as_deref())) {
                (None, _) => true,
                (Some(h), Some(node_host)) => h == node_host,
                (Some(_), None) => true,
            }
        };
        let mut desired = Desired {
            lab: file.name.clone(),
            host: host.clone(),
            panel: names::panel(&file.name, host.as_deref()),
            host_netns: host_netns(),
            path: file.path.clone(),
            ..Desired::default()
        };
        let mut hub_nodes = BTreeSet::new();
        let mut bridge_nodes = Vec::new();
        for (name, node) in &file.nodes {
            if !here(name) {
                continue;
            }
            let home = match (&node.netns, &node.kind) {
                (_, NodeKind::Hub) => {
                    hub_nodes.insert(name.clone());
                    continue;
                }
                (_, NodeKind::Bridge) => {
                    // Named with where the node is written (`FILE:LINE:COL: node …`).
                    let at = file.ids_at.0.get(&(name.clone(), "node"));
                    desired.bridges.insert(
                        name.clone(),
                        format!("{}: node {name} (kind: bridge)", at.unwrap_or(&file.path)),
                    );
                    bridge_nodes.push(name.clone());
                    NodeHome::Existing {
                        spec: desired.host_netns.clone(),
                    }
                }
                (_, NodeKind::Host) => NodeHome::Existing {
                    spec: desired.host_netns.clone(),
                },
                (Some(netns), _) => NodeHome::Existing {
                    spec: netns_spec(netns),
                },
                (None, NodeKind::Vm(vm)) => NodeHome::Owned {
                    netns: names::node_netns(&file.name, name),
                    vm: Some(vm.clone()),
                },
                (None, NodeKind::Namespace) => NodeHome::Owned {
                    netns: names::node_netns(&file.name, name),
                    vm: None,
                },
                (None, kind @ (NodeKind::Container(_) | NodeKind::ExtContainer(_))) => {
                    super::containers::home(kind).expect("a container kind")
                }
            };
            desired.nodes.insert(name.clone(), home);
        }
        if !bridge_nodes.is_empty() {
            desired.notes.push(bridge_note(&bridge_nodes));
        }
        let links = host_sides(file, &mut desired, mgmt)?;
        let mut existing = existing_interfaces(file, &links, &mut desired, tolerate_gone, fresh)?;
        if for_down {
            // `down` finds what to remove from the kernel's records, not from how endpoints
            // would be reached: an interface `up` would refuse must not stop it.
            existing.clear();
        }
        let here = &here;
        let mut hub_members: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (link, host_side) in file.links.iter().zip(&links) {
            let endpoints: Vec<Endpoint> =
                link.endpoints.iter().chain(host_side).cloned().collect();
            let mut parts = LinkParts {
                endpoints: endpoints.iter().map(ToString::to_string).collect(),
                kind: link_kind_words(&link.kind),
                ..LinkParts::default()
            };
            if let Some(device) = device_of(link) {
                let endpoint = &link.endpoints[0];
                if here(&endpoint.node) {
                    check_device_home(file, &desired, link, endpoint)?;
                    desired.devices.insert(endpoint.clone(), device);
                    parts.device = Some(endpoint.clone());
                }
                desired.links.push(parts);
                continue;
            }
            if let Some(hub) = hub_of(file, link)? {
                let other = link
                    .endpoints
                    .iter()
                    .find(|e| e.node != hub)
                    .expect("a hub node's link has one other end");
                match (hub_nodes.contains(&hub), here(&other.node)) {
                    (true, true) => {}
                    (false, false) => {
                        desired.links.push(parts);
                        continue;
                    }
                    _ => {
                        return Err(LabError::Invalid(format!(
                            "{}: node {hub} (kind: hub) and {other} are on different hosts: \
                             a hub node's links stay on its host (for now)",
                            link.at(&file.path)
                        )));
                    }
                }
                let port = endpoint_port(file, &desired, &existing, link, other)?;
                hub_members
                    .entry(hub.clone())
                    .or_default()
                    .push(port.name.clone());
                insert_port(&mut desired.ports, port)?;
                parts.hub = Some(hub);
                desired.links.push(parts);
                continue;
            }
            let local: Vec<&Endpoint> = endpoints.iter().filter(|e| here(&e.node)).collect();
            if local.is_empty() {
                desired.links.push(parts);
                continue;
            }
            let mut members: Vec<String> = Vec::new();
            for endpoint in &local {
                let mut port = endpoint_port(file, &desired, &existing, link, endpoint)?;
                if let (LinkKind::MgmtNet { .. }, Some(side)) = (&link.kind, host_side)
                    && side == *endpoint
                {
                    match mgmt {
                        MgmtBridge::Pending { network, .. } => {
                            desired
                                .mgmt_pending
                                .insert(port.name.clone(), network.clone());
                        }
                        _ => port.master = mgmt.bridge(file),
                    }
                }
                members.push(port.name.clone());
                insert_port(&mut desired.ports, port)?;
            }
            let remote_hosts: BTreeSet<&str> = link
                .endpoints
                .iter()
                .filter(|e| !here(&e.node))
                .filter_map(|e| file.nodes.get(&e.node)?.host.as_deref())
                .collect();
            let tunnel = match &link.kind {
                LinkKind::Vxlan { .. } => vxlan_link_port(link),
                _ => vxlan_port(file, &desired, link, &remote_hosts)?,
            };
            if let Some(port) = tunnel {
                members.push(port.name.clone());
                insert_port(&mut desired.ports, port)?;
            }
            match members.len() {
                0 | 1 => {}
                2 => {
                    let (a, b) = (members[0].clone(), members[1].clone());
                    let pair = if a < b { (a, b) } else { (b, a) };
                    desired.wires.insert(pair, link.datapath);
                }
                _ => {
                    let hub = names::hub(&link.endpoints);
                    parts.hub = Some(hub.clone());
                    desired.hubs.insert(hub, members.iter().cloned().collect());
                }
            }
            parts.ports = members;
            desired.links.push(parts);
        }
        // A hub node is one segment of all its links' ports (one port alone: nothing to join).
        for (hub, members) in hub_members {
            let name = names::hub_node(&hub);
            for parts in desired.links.iter_mut() {
                if parts.hub.as_deref() == Some(hub.as_str()) {
                    parts.hub = Some(name.clone());
                    parts.ports = members.clone();
                }
            }
            if members.len() >= 2 {
                desired.hubs.insert(name, members.into_iter().collect());
            }
        }
        mirrors(file, &mut desired, &existing, &here)?;
        host_names_unique(file, &desired)?;
        desired.impair = super::impairs::wanted(file, &desired);
        Ok(desired)
    }

    /// Where a port's veth pair ends outside the panel: (the node's namespace, the far end's
    /// name there) — the endpoint interface itself, or the stub wired to it. `None` for a
    /// VXLAN port.
    pub fn far_end(&self, port: &Port) -> Option<(String, String)> {
        let endpoint = port.endpoint.as_ref()?;
        let home = self.nodes.get(&endpoint.node)?.spec().to_string();
        match &port.reach {
            Reach::Veth => Some((home, endpoint.interface.clone())),
            Reach::Stub { stub, .. } => Some((home, stub.clone())),
            Reach::Vxlan { .. } => None,
        }
    }

    /// Namespaces the lab creates on this host: the panel, then each owned node's.
    pub fn owned_namespaces(&self) -> Vec<(String, String)> {
        let mut owned = vec![(
            self.panel.clone(),
            names::panel_mark(&self.lab, self.host.as_deref()),
        )];
        for (node, home) in &self.nodes {
            if let NodeHome::Owned { netns, .. } = home {
                owned.push((
                    netns.clone(),
                    names::node_mark(&self.lab, node, self.host.as_deref()),
                ));
            }
        }
        owned
    }
}

/// What a link is in words, when not a plain wire or hub between nodes.
fn link_kind_words(kind: &LinkKind) -> Option<String> {
    match kind {
        LinkKind::Veth => None,
        LinkKind::Host { .. } => Some("host".into()),
        LinkKind::MgmtNet { .. } => Some("mgmt-net".into()),
        LinkKind::Macvlan {
            host_interface,
            mode,
        } => Some(format!("macvlan of {host_interface} ({mode})")),
        LinkKind::Vxlan {
            remote,
            vni,
            stitch,
            ..
        } => Some(format!(
            "{} {vni} to {remote}",
            if *stitch { "vxlan-stitch" } else { "vxlan" }
        )),
        LinkKind::Dummy => Some("dummy".into()),
    }
}

/// The interface a single-ended `macvlan` or `dummy` link makes in its node.
fn device_of(link: &LinkSpec) -> Option<Device> {
    let endpoint = link.endpoints.first()?;
    let kind = match &link.kind {
        LinkKind::Macvlan {
            host_interface,
            mode,
        } => DeviceKind::Macvlan {
            lower: host_interface.clone(),
            mode: mode.clone(),
        },
        LinkKind::Dummy => DeviceKind::Dummy,
        _ => return None,
    };
    Some(Device {
        kind,
        mtu: link.mtu,
        mac: link.macs.get(endpoint).and_then(|m| parse_mac(m)),
        line: link.line,
        column: link.column,
    })
}

/// A macvlan or dummy goes into a node with a namespace, in a mode the kernel knows.
fn check_device_home(
    file: &LabFile,
    desired: &Desired,
    link: &LinkSpec,
    endpoint: &Endpoint,
) -> Result<(), LabError> {
    let at = format!("{}: link of {endpoint}", link.at(&file.path));
    if !desired.nodes.contains_key(&endpoint.node) {
        return Err(LabError::Invalid(format!(
            "{at}: node {} has no namespace of its own (kind: hub) to hold the interface",
            endpoint.node
        )));
    }
    if let LinkKind::Macvlan { mode, .. } = &link.kind
        && macvlan_mode(mode).is_none()
    {
        return Err(LabError::Invalid(format!(
            "{at}: macvlan mode {mode:?} is not one of bridge, vepa, private, passthru, source"
        )));
    }
    Ok(())
}

/// The `kind: hub` node a link joins, if any: such a link is a plain one with the hub at one
/// end and a node with an interface at the other.
fn hub_of(file: &LabFile, link: &LinkSpec) -> Result<Option<String>, LabError> {
    let is_hub = |e: &&Endpoint| {
        matches!(
            file.nodes.get(&e.node).map(|n| &n.kind),
            Some(NodeKind::Hub)
        )
    };
    let hubs: Vec<&Endpoint> = link.endpoints.iter().filter(is_hub).collect();
    let Some(first) = hubs.first() else {
        return Ok(None);
    };
    let plain = link.kind == LinkKind::Veth && link.endpoints.len() == 2 && hubs.len() == 1;
    if !plain {
        return Err(LabError::Invalid(format!(
            "{}: node {} (kind: hub) takes plain links with one other end (NODE:IF - {}:PORT); \
             this one is not",
            link.at(&file.path),
            first.node,
            first.node
        )));
    }
    Ok(Some(first.node.clone()))
}

/// The panel's VXLAN port of a `type: vxlan` (or `vxlan-stitch`) link.
fn vxlan_link_port(link: &LinkSpec) -> Option<Port> {
    let LinkKind::Vxlan {
        remote,
        vni,
        udp_port,
        dev,
        ..
    } = &link.kind
    else {
        return None;
    };
    Some(Port {
        name: names::vxlan_port(*vni),
        endpoint: None,
        reach: Reach::Vxlan {
            vni: *vni,
            local: None,
            dev: dev.clone(),
            remotes: vec![*remote],
            port: *udp_port,
        },
        mtu: link.mtu,
        tx_checksum: None,
        mac: None,
        master: None,
    })
}

/// Mirrors whose destination node is on this host: the destination is made like any endpoint
/// (a port the lab creates, in no link); sources and destination must share the host.
fn mirrors(
    file: &LabFile,
    desired: &mut Desired,
    existing: &BTreeMap<Endpoint, Link>,
    here: &dyn Fn(&str) -> bool,
) -> Result<(), LabError> {
    for mirror in &file.mirrors {
        let hub_node = mirror.from.iter().chain([&mirror.to]).find(|e| {
            matches!(
                file.nodes.get(&e.node).map(|n| &n.kind),
                Some(NodeKind::Hub)
            )
        });
        if let Some(end) = hub_node {
            return Err(LabError::Invalid(format!(
                "{}: mirror {}: {end} is an interface of a hub node, which has none (its \
                 names are labels): mirror the other end of that link",
                mirror.at(&file.path),
                mirror.name
            )));
        }
        let local_sources: Vec<&Endpoint> = mirror.from.iter().filter(|e| here(&e.node)).collect();
        match (
            here(&mirror.to.node),
            local_sources.len() == mirror.from.len(),
        ) {
            (false, _) if local_sources.is_empty() => continue,
            (true, true) => {}
            _ => {
                return Err(LabError::Invalid(format!(
                    "{}: mirror {}: its sources and its destination {} are on different hosts; a \
                     mirror's copies stay on one host (for now)",
                    mirror.at(&file.path),
                    mirror.name,
                    mirror.to
                )));
            }
        }
        let link = LinkSpec {
            datapath: crate::wire::Datapath::Tc,
            endpoints: vec![mirror.to.clone()],
            mtu: file.mtu,
            tx_checksum: file.tx_checksum,
            vni: None,
            kind: LinkKind::Veth,
            macs: Default::default(),
            impair: Default::default(),
            down: false,
            flap: None,
            line: mirror.line,
            netem_at: None,
            column: mirror.column,
        };
        let port = endpoint_port(file, desired, existing, &link, &mirror.to)?;
        let to = port.name.clone();
        insert_port(&mut desired.ports, port)?;
        desired.mirrors.insert(
            mirror.name.clone(),
            MirrorPlan {
                sources: mirror.from.iter().map(names::port).collect(),
                to,
                direction: match mirror.direction {
                    MirrorSide::Tx => crate::mirror::Direction::In,
                    MirrorSide::Rx => crate::mirror::Direction::Out,
                    MirrorSide::Both => crate::mirror::Direction::Both,
                },
                vlans: mirror.vlans.clone(),
                output_vlan: mirror.output_vlan,
                filter: mirror.filter.clone(),
            },
        );
    }
    Ok(())
}

/// Adds a port, refusing two endpoints that come out with one port name (a VXLAN port's
/// `vx.VNI` against a node `vx` with interface VNI; or the same endpoint as two mirrors'
/// destination, which is fine: the same port).
fn insert_port(ports: &mut BTreeMap<String, Port>, port: Port) -> Result<(), LabError> {
    if let Some(existing) = ports.get(&port.name)
        && existing.endpoint != port.endpoint
    {
        return Err(LabError::Invalid(format!(
            "{} and {} would both be port {} in the panel: rename one of them",
            existing.label(),
            port.label(),
            port.name
        )));
    }
    ports.insert(port.name.clone(), port);
    Ok(())
}

fn netns_spec(netns: &NetnsRef) -> String {
    match netns {
        NetnsRef::Name(name) => name.clone(),
        NetnsRef::Path(path) => path.clone(),
        NetnsRef::Pid(pid) => format!("/proc/{pid}/ns/net"),
    }
}

/// The host this run builds: `--host` must name one of the file's hosts, and a file with
/// hosts needs `--host`.
fn check_host(file: &LabFile, host: Option<&str>) -> Result<Option<String>, LabError> {
    let known: Vec<&str> = file.hosts.iter().map(|(name, _)| name.as_str()).collect();
    match (host, known.is_empty()) {
        (None, true) => Ok(None),
        (None, false) => Err(LabError::Invalid(format!(
            "{}: the lab spans hosts ({}): say which one this is with --host NAME",
            file.path,
            known.join(", ")
        ))),
        (Some(host), true) => Err(LabError::Invalid(format!(
            "--host {host}: {} defines no hosts (a lab over several hosts lists them under hosts:)",
            file.path
        ))),
        (Some(host), false) if !known.contains(&host) => Err(LabError::Invalid(format!(
            "--host {host}: {} defines no such host (hosts: {})",
            file.path,
            known.join(", ")
        ))),
        (Some(host), _) => Ok(Some(host.to_string())),
    }
}

/// The VXLAN port of a link with endpoints on other hosts.
fn vxlan_port(
    file: &LabFile,
    desired: &Desired,
    link: &LinkSpec,
    remote_hosts: &BTreeSet<&str>,
) -> Result<Option<Port>, LabError> {
    let Some(me) = desired.host.as_deref() else {
        return Ok(None);
    };
    if remote_hosts.is_empty() {
        return Ok(None);
    }
    let address = |host: &str| {
        file.hosts
            .iter()
            .find(|(name, _)| name == host)
            .map(|(_, spec)| spec.address)
            .expect("hosts checked by the file parser")
    };
    let vni = link
        .vni
        .unwrap_or_else(|| names::vni(&file.name, &link.endpoints));
    Ok(Some(Port {
        name: names::vxlan_port(vni),
        endpoint: None,
        reach: Reach::Vxlan {
            vni,
            local: Some(address(me)),
            dev: None,
            remotes: remote_hosts.iter().map(|h| address(h)).collect(),
            port: file.vxlan_port,
        },
        mtu: link.mtu,
        tx_checksum: None,
        mac: None,
        master: None,
    }))
}

#[cfg(test)]
mod tests;

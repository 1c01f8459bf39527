//! What a lab file asks for on one host: namespaces, panel ports, wires, hubs and VXLAN
//! tunnels, each named as `names.rs` says. Pure except for looking at existing namespaces
//! (which interfaces a `netns:` node already has).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::LabError;
use super::file::{Endpoint, LabFile, LinkSpec, MirrorSide, NetnsRef, NodeKind, VmSpec};
use super::names;
use crate::netns::Netns;
use crate::nl::link::{self, Link};

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
    /// A cross-host link: a VXLAN device in the panel.
    Vxlan {
        vni: u32,
        local: IpAddr,
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
}

impl Port {
    /// The altname of a VXLAN port: its tunnel's parameters, hashed, so a changed address,
    /// UDP port or VNI makes the port be made again.
    pub fn vxlan_record(&self) -> Option<String> {
        let Reach::Vxlan {
            vni,
            local,
            remotes,
            port,
        } = &self.reach
        else {
            return None;
        };
        let remotes: Vec<String> = remotes.iter().map(ToString::to_string).collect();
        Some(names::vxlan_record(&format!(
            "{vni}/{local}/{}/{port}",
            remotes.join(",")
        )))
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
        Self::build(file, host, false, &BTreeSet::new())
    }

    /// [`Desired::from_file`] for `plan` with container nodes: the namespaces of `fresh`
    /// nodes are made (or replaced) by `up` before the plumbing, so they are taken as empty
    /// (and need not exist yet).
    pub(super) fn with_fresh(
        file: &LabFile,
        host: Option<&str>,
        fresh: &BTreeSet<String>,
    ) -> Result<Desired, LabError> {
        Self::build(file, host, false, fresh)
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

    /// [`Desired::from_file`] for `down`: a `netns:` node whose namespace has gone (deleted,
    /// its process exited) is listed in `gone` instead of being an error, so that `down`
    /// still removes everything else the lab made.
    pub fn for_down(file: &LabFile, host: Option<&str>) -> Result<Desired, LabError> {
        Self::build(file, host, true, &BTreeSet::new())
    }

    fn build(
        file: &LabFile,
        host: Option<&str>,
        tolerate_gone: bool,
        fresh: &BTreeSet<String>,
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
            ..Desired::default()
        };
        for (name, node) in &file.nodes {
            if !here(name) {
                continue;
            }
            let home = match (&node.netns, &node.kind) {
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
                // The file reader does not make these yet (issue #20 work in progress).
                (None, other) => {
                    return Err(LabError::Invalid(format!(
                        "{}: node {name}: {} nodes are not supported yet",
                        file.path,
                        serde_json::to_value(other)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| "these".into())
                    )));
                }
            };
            desired.nodes.insert(name.clone(), home);
        }
        let existing = existing_interfaces(file, &mut desired, tolerate_gone, fresh)?;
        let here = &here;
        for link in &file.links {
            let local: Vec<&Endpoint> = link.endpoints.iter().filter(|e| here(&e.node)).collect();
            if local.is_empty() {
                continue;
            }
            let mut members: Vec<String> = Vec::new();
            for endpoint in &local {
                let port = endpoint_port(file, &desired, &existing, link, endpoint)?;
                members.push(port.name.clone());
                insert_port(&mut desired.ports, port)?;
            }
            let remote_hosts: BTreeSet<&str> = link
                .endpoints
                .iter()
                .filter(|e| !here(&e.node))
                .filter_map(|e| file.nodes.get(&e.node)?.host.as_deref())
                .collect();
            if let Some(port) = vxlan_port(file, &desired, link, &remote_hosts)? {
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
                    desired
                        .hubs
                        .insert(names::hub(&link.endpoints), members.into_iter().collect());
                }
            }
        }
        mirrors(file, &mut desired, &existing, &here)?;
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

/// Mirrors whose destination node is on this host: the destination is made like any endpoint
/// (a port the lab creates, in no link); sources and destination must share the host.
fn mirrors(
    file: &LabFile,
    desired: &mut Desired,
    existing: &BTreeMap<Endpoint, Link>,
    here: &dyn Fn(&str) -> bool,
) -> Result<(), LabError> {
    for mirror in &file.mirrors {
        let local_sources: Vec<&Endpoint> = mirror.from.iter().filter(|e| here(&e.node)).collect();
        match (
            here(&mirror.to.node),
            local_sources.len() == mirror.from.len(),
        ) {
            (false, _) if local_sources.is_empty() => continue,
            (true, true) => {}
            _ => {
                return Err(LabError::Invalid(format!(
                    "{}:{}: mirror {}: its sources and its destination {} are on different hosts; a \
                     mirror's copies stay on one host (for now)",
                    file.path, mirror.line, mirror.name, mirror.to
                )));
            }
        }
        let link = LinkSpec {
            datapath: crate::wire::Datapath::Tc,
            endpoints: vec![mirror.to.clone()],
            mtu: file.mtu,
            tx_checksum: file.tx_checksum,
            vni: None,
            kind: super::file::LinkKind::Veth,
            macs: Default::default(),
            line: mirror.line,
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

/// For every `netns:` node on this host: its namespace exists (else a clear error) and which
/// of its endpoint interfaces exist already.
fn existing_interfaces(
    file: &LabFile,
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
                return Err(LabError::system(
                    format!("{}: node {node}: {e}", file.path),
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

fn endpoint_port(
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
            check_usable(file, desired, spec, endpoint, found)?
        }
    };
    Ok(Port {
        name: names::port(endpoint),
        endpoint: Some(endpoint.clone()),
        reach,
        mtu: link.mtu,
        tx_checksum: link.tx_checksum.or(file.tx_checksum),
    })
}

/// An interface that exists in a `netns:` node: a veth made by this lab (its peer is a panel
/// port) is the lab's own; another veth is already connected somewhere and is refused; any
/// other Ethernet interface (tap, NIC, vxlan, macvlan) is used as it is, through a stub.
fn check_usable(
    file: &LabFile,
    desired: &Desired,
    spec: &str,
    endpoint: &Endpoint,
    found: &Link,
) -> Result<Reach, LabError> {
    let at = format!("{}: endpoint {endpoint} (netns {spec})", file.path);
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
fn vanishes_with_a_dying_panel(
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
fn veth_peer_is_our_port(desired: &Desired, endpoint: &Endpoint, found: &Link) -> bool {
    let Ok(panel) = Netns::open(Some(&desired.panel)) else {
        return false;
    };
    let Ok(mut socket) = panel.route() else {
        return false;
    };
    let reply = socket.request_raw(link::get_by_name(&names::port(endpoint)), 0);
    match link::parse_one(reply) {
        Ok(port) => {
            port.altnames.contains(&names::port_record(endpoint))
                && port.peer == Some(found.index)
                && found.peer == Some(port.index)
        }
        Err(_) => false,
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
            local: address(me),
            remotes: remote_hosts.iter().map(|h| address(h)).collect(),
            port: file.vxlan_port,
        },
        mtu: link.mtu,
        tx_checksum: None,
    }))
}

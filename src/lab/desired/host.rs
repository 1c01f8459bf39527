//! The host's own namespace in a lab: which it is, the host sides of `type: host` and
//! `mgmt-net` links (with the bridges they need, the management network's among them), the
//! note on bridge nodes, and interface names that must not meet there twice.

use super::*;

/// The host's network namespace, where `kind: bridge` and `kind: host` endpoints and the host
/// sides of `type: host`, `mgmt-net` and `macvlan` links are: the namespace of the thread that
/// runs the lab command — for the CLI, the one patchwire runs in. So a test stands a namespace
/// of its own in for the host by running patchwire under `nsenter --net=`, and never touches
/// the machine's. Named by the thread's /proc path, which stays valid while the command runs.
pub fn host_netns() -> String {
    match std::fs::read_link("/proc/thread-self") {
        Ok(task) => format!("/proc/{}/ns/net", task.display()),
        Err(_) => "/proc/self/ns/net".into(),
    }
}

/// Endpoints of bridge and host nodes (and host sides of links) all have their interface in
/// the host's one namespace: two of one name cannot both be made.
pub(super) fn host_names_unique(file: &LabFile, desired: &Desired) -> Result<(), LabError> {
    let mut seen: BTreeMap<&str, &Endpoint> = BTreeMap::new();
    for port in desired.ports.values() {
        let Some(endpoint) = &port.endpoint else {
            continue;
        };
        let in_host = desired
            .nodes
            .get(&endpoint.node)
            .is_some_and(|h| h.spec() == desired.host_netns);
        if !in_host {
            continue;
        }
        if let Some(other) = seen.insert(&endpoint.interface, endpoint) {
            return Err(LabError::Invalid(format!(
                "{}: endpoints {other} and {endpoint} would both be interface {} in the host's \
                 namespace (bridge and host nodes' interfaces all live there): rename one",
                endpoint_at(file, endpoint),
                endpoint.interface
            )));
        }
    }
    Ok(())
}

/// The note `plan` and `up` give once when the lab has bridge nodes.
pub(super) fn bridge_note(bridges: &[String]) -> String {
    let (nodes, them) = match bridges {
        [one] => (format!("node {one} is a Linux bridge"), "it"),
        many => (
            format!("nodes {} are Linux bridges", many.join(", ")),
            "each",
        ),
    };
    format!(
        "{nodes}: a bridge does not pass LACP, LLDP, PAUSE or 802.1X frames \
         (01:80:c2:00:00:0x) between its ports, and with its own STP on it eats STP's too, so \
         bonds, LLDP neighbours and spanning tree do not form through {} as through a cable; \
         for a transparent segment write `kind: hub` for {them} (the links stay as they are)",
        if bridges.len() == 1 { "it" } else { "them" }
    )
}

/// The management network's bridge, where `type: mgmt-net` links' host sides are plugged, as
/// the container room found it (`containers::mgmt_bridge`): the bridge the runtime made for
/// the network (`Runtime::network_bridge`), whatever the file names; or, before `up` made the
/// network, a bridge still to come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MgmtBridge {
    /// No runtime was asked (`show`, `graph`, `down`): `mgmt.bridge` of the file, if any.
    #[default]
    FromFile,
    /// The Linux bridge behind the management network, in the host's namespace.
    Known(String),
    /// The network (or its bridge: podman makes it when the first container joins) does not
    /// exist yet: `up` makes it before it wires the links. `bridge` is `mgmt.bridge`.
    Pending {
        network: String,
        bridge: Option<String>,
    },
}

impl MgmtBridge {
    /// The bridge's name, when known.
    pub fn bridge(&self, file: &LabFile) -> Option<String> {
        match self {
            MgmtBridge::FromFile => mgmt_bridge(file),
            MgmtBridge::Known(bridge) => Some(bridge.clone()),
            MgmtBridge::Pending { .. } => None,
        }
    }
}

/// `mgmt.bridge` of the file: the bridge `mgmt-net` links join when no runtime is asked.
pub fn mgmt_bridge(file: &LabFile) -> Option<String> {
    file.mgmt.as_ref().and_then(|m| m.bridge.clone())
}

/// Each link's host side (`host:IF` of a `type: host` or `mgmt-net` link), in the file's
/// order; the host node made when a link needs it, the bridges they need noted.
pub(super) fn host_sides(
    file: &LabFile,
    desired: &mut Desired,
    mgmt: &MgmtBridge,
) -> Result<Vec<Option<Endpoint>>, LabError> {
    let mut sides = Vec::new();
    for link in &file.links {
        let interface = match &link.kind {
            LinkKind::Host { host_interface } | LinkKind::MgmtNet { host_interface } => {
                host_interface
            }
            _ => {
                sides.push(None);
                continue;
            }
        };
        let endpoint = &link.endpoints[0];
        if !desired.nodes.contains_key(&endpoint.node) {
            sides.push(None);
            continue;
        }
        match file.nodes.get(names::HOST_NODE).map(|n| &n.kind) {
            None | Some(NodeKind::Host) => {}
            Some(_) => {
                return Err(LabError::Invalid(format!(
                    "{}: link of {endpoint}: its host side is named {}:{interface}, but node \
                     {} is not the host (kind: host); rename that node",
                    link.at(&file.path),
                    names::HOST_NODE,
                    names::HOST_NODE
                )));
            }
        }
        if let LinkKind::MgmtNet { .. } = &link.kind {
            match mgmt.bridge(file) {
                None if matches!(mgmt, MgmtBridge::Pending { .. }) => {}
                Some(bridge) => {
                    desired.bridges.entry(bridge).or_insert_with(|| {
                        format!("{}: the mgmt-net link of {endpoint}", link.at(&file.path))
                    });
                }
                None => desired.refusals.push(format!(
                    "{}: link of {endpoint} (type: mgmt-net): the management network's bridge \
                     is not known: set mgmt.bridge to the name of the Linux bridge to plug \
                     {interface} into",
                    link.at(&file.path)
                )),
            }
        }
        desired
            .nodes
            .entry(names::HOST_NODE.to_string())
            .or_insert_with(|| NodeHome::Existing {
                spec: desired.host_netns.clone(),
            });
        sides.push(Some(Endpoint {
            node: names::HOST_NODE.to_string(),
            interface: interface.clone(),
        }));
    }
    Ok(sides)
}

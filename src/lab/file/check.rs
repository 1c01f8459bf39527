//! The checks that follow deserialization: hosts, nodes and links — references between them,
//! duplicates, limits that need more than one key, containerlab's node precedence (through
//! `clab.rs`) and link types (`check/links.rs`). The mirrors' checks are in `mirrors.rs`.
//! Errors of nodes and links are gathered (`Check::errors`) so that a file's mistakes come
//! together.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;

use super::clab::{self, Chain, Defs, Kind, classify};
use super::locate::{Seg, key, locate};
use super::node::RawNode;
use super::raw::{RawFile, RawHost};
use super::*;

mod links;
mod mgmt;
use mgmt::check_subnet;

pub(super) struct Check<'a> {
    pub(super) path: &'a str,
    pub(super) text: &'a str,
    /// The lab file's folder: binds and env-files are relative to it.
    pub(super) folder: &'a Path,
    /// Where VM nodes' `owner`/`group` names are written (see [`super::IdPositions`]).
    pub(super) ids_at: RefCell<super::IdPositions>,
    /// The errors of nodes and links found so far.
    pub(super) errors: RefCell<Vec<LabFileError>>,
    /// The notes of the first pass (`scan.rs`) and of the expansion.
    pub(super) notes: Vec<String>,
    /// Container keys set on nodes that are not containers: key -> nodes, for one note each.
    pub(super) unused: RefCell<BTreeMap<&'static str, Vec<String>>>,
    /// Nodes with an error of their own: links to them are not checked (an error about a
    /// node that is "not defined" would be a consequence, not a mistake).
    pub(super) failed: RefCell<std::collections::BTreeSet<String>>,
    /// Places (a node, a link, a top-level key) the first pass or the deserialization found
    /// wrong: the checks' errors there are consequences of those, and not said.
    pub(super) skip: Vec<Vec<Seg>>,
    /// Checking for `plan` and `up`: `binds:` sources must exist (reading anywhere else,
    /// such as `graph` or `down`, does not need them).
    pub(super) run: bool,
}

/// Container nodes with errors of their own, with what could be read of them.
type FailedContainers = Vec<(String, Box<ContainerNode>)>;

/// A VM node's `owner` or `group` given as a number: one the kernel takes (0 to 4294967294;
/// 4294967295 is -1, "no owner"). Names are looked up by `plan` and `up`
/// ([`super::LabFile::check_ids`]): a file must read on any machine.
fn check_id(key: &str, id: &str) -> Result<(), String> {
    let what = match key {
        "owner" => "user",
        _ => "group",
    };
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    match id.parse::<u32>() {
        Ok(n) if n < u32::MAX => Ok(()),
        _ => Err(format!(
            "{key}: {id} is not a {what} id (0 to 4294967294; 4294967295 is -1, \"none\")"
        )),
    }
}

/// Whether a file is containerlab's: named `*.clab.yml`/`*.clab.yaml`, or using a key only
/// containerlab has. Such a file's links default to containerlab's MTU, 9500, so that it
/// behaves as under containerlab; patchwire's own files keep 1500 (`defaults.mtu` overrides
/// both).
fn is_containerlab(path: &str, raw: &RawFile, chains: &[(Kind, bool)]) -> bool {
    path.ends_with(".clab.yml")
        || path.ends_with(".clab.yaml")
        || raw.prefix.is_some()
        || raw.mgmt.is_some()
        || raw.topology.defaults.is_some()
        || !raw.topology.kinds.is_empty()
        || !raw.topology.groups.is_empty()
        || chains.iter().any(|(kind, image)| {
            *image
                || matches!(
                    kind,
                    Kind::Linux | Kind::ExtContainer | Kind::Bridge | Kind::Host
                )
        })
}

impl Check<'_> {
    /// An error at the node (or, with `at_key`, the key) the path leads to; at its parent when
    /// the walk does not get there.
    pub(super) fn error(&self, segs: &[Seg], at_key: bool, message: String) -> LabFileError {
        let mut position = locate(self.text, segs, at_key);
        let mut len = segs.len();
        while position.is_none() && len > 0 {
            len -= 1;
            position = locate(self.text, &segs[..len], false);
        }
        LabFileError::new(self.path, position, message)
    }

    /// Where `segs` leads in the file (at the key with `at_key`), or the nearest place above it.
    pub(super) fn position(&self, segs: &[Seg], at_key: bool) -> Option<(usize, usize)> {
        match self.error(segs, at_key, String::new()) {
            LabFileError::At { line, column, .. } => Some((line, column)),
            _ => None,
        }
    }

    /// The notes: the first pass's, then one per container key set on nodes that run nothing.
    fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        for (key, nodes) in self.unused.borrow().iter() {
            let nodes: Vec<String> = nodes.iter().map(|n| format!("node {n}")).collect();
            notes.push(format!(
                "patchwire does not do `{key}` ({}): only a container node (`kind: linux` with \
                 an `image:`) uses it",
                nodes.join(", ")
            ));
        }
        notes
    }

    /// Keeps an error; `None` for the caller to give up on the thing.
    fn refuse<T>(&self, segs: &[Seg], message: String) -> Option<T> {
        self.push(segs, false, message);
        None
    }

    /// [`Check::refuse`], the error at the key.
    fn refuse_at_key<T>(&self, segs: &[Seg], message: String) -> Option<T> {
        self.push(segs, true, message);
        None
    }

    /// Keeps an error and goes on (not one under a place already found wrong).
    pub(super) fn push(&self, segs: &[Seg], at_key: bool, message: String) {
        if self.skip.iter().any(|prefix| segs.starts_with(prefix)) {
            return;
        }
        let e = self.error(segs, at_key, message);
        self.errors.borrow_mut().push(e);
    }

    /// Keeps an error of node `name` (at `segs`) and marks the node failed.
    fn node_error(&self, name: &str, segs: &[Seg], at_key: bool, message: String) {
        self.push(segs, at_key, message);
        self.failed.borrow_mut().insert(name.to_string());
    }

    pub(super) fn lab(&self, raw: RawFile) -> Result<LabFile, LabFileError> {
        let empty = RawNode::default();
        let defs = Defs {
            defaults: raw.topology.defaults.as_ref(),
            kinds: &raw.topology.kinds,
            groups: &raw.topology.groups,
        };
        let chains: Vec<(Kind, bool)> = raw
            .topology
            .nodes
            .iter()
            .map(|(_, n)| {
                let chain = defs.chain(n.as_ref().unwrap_or(&empty));
                let kind = chain.kind.map_or(Kind::Namespace, classify);
                (kind, chain.first(|n| n.image.as_deref()).is_some())
            })
            .collect();
        let containerlab = is_containerlab(self.path, &raw, &chains);
        let hosts = self.hosts(raw.hosts.unwrap_or_default());
        let lab_name = raw.name.0.clone();
        let prefix = raw.prefix.as_ref().map(|p| p.0.as_str());
        let (nodes, failed_containers) =
            self.nodes(&raw.topology.nodes, &defs, &hosts, &lab_name, prefix);
        let defaults = raw.defaults.unwrap_or_default();
        let default_mtu = match containerlab {
            true => clab::CLAB_LINK_MTU,
            false => DEFAULT_MTU,
        };
        let mtu = defaults.mtu.map_or(default_mtu, |m| m.0);
        let tx_checksum = defaults.tx_checksum.and_then(|t| t.0);
        let datapath = defaults.datapath.map(|d| d.0).unwrap_or_default();
        // Merged over nothing, as a link's own `impair:` is merged over the defaults: a zero
        // (`loss: 0`, `rate: 0`, `jitter: 0`, `loss-burst: 0`) means "nothing" here too, and
        // is neither refused nor installed.
        let impair = match &defaults.impair {
            Some(d) => self
                .direction(d, &[key("defaults"), key("impair")])
                .map(|d| crate::impair::Impairment::default().merged(&d))
                .unwrap_or_default(),
            None => Default::default(),
        };
        let links = self.links(
            raw.topology.links.unwrap_or_default(),
            &nodes,
            (mtu, tx_checksum, datapath),
            &impair,
        );
        let mut subnets_ok = true;
        if let Some(m) = &raw.mgmt {
            // Where `mgmt.bridge` is written: the runtime's refusals of it are named there.
            if m.bridge.is_some()
                && let LabFileError::At {
                    path, line, column, ..
                } = self.error(&[key("mgmt"), key("bridge")], false, String::new())
            {
                self.ids_at.borrow_mut().0.insert(
                    ("bridge".to_string(), "mgmt"),
                    format!("{path}:{line}:{column}"),
                );
            }
            for (k, subnet, v6) in [
                ("ipv4-subnet", &m.ipv4_subnet, false),
                ("ipv6-subnet", &m.ipv6_subnet, true),
            ] {
                if let Some(subnet) = subnet
                    && let Err(why) = check_subnet(&subnet.0, v6)
                {
                    self.push(&[key("mgmt"), key(k)], false, why);
                    subnets_ok = false;
                }
            }
        }
        let needs_mgmt = !failed_containers.is_empty()
            || nodes
                .values()
                .any(|n| matches!(n.kind, NodeKind::Container(_)))
            || links
                .iter()
                .any(|l| matches!(l.kind, LinkKind::MgmtNet { .. }));
        // Only subnets the file names are checked here: without one, the network may exist
        // already with subnets of its own, which `plan` asks the runtime for.
        let named_subnets = raw.mgmt.as_ref().map_or((false, false), |m| {
            (m.ipv4_subnet.is_some(), m.ipv6_subnet.is_some())
        });
        let mgmt = needs_mgmt.then(|| {
            let m = raw.mgmt.unwrap_or_default();
            crate::runtime::NetworkSpec {
                name: m.network.map_or_else(|| clab::MGMT_NETWORK.into(), |t| t.0),
                ipv4_subnet: Some(
                    m.ipv4_subnet
                        .map_or_else(|| clab::MGMT_IPV4_SUBNET.into(), |t| t.0),
                ),
                ipv6_subnet: Some(
                    m.ipv6_subnet
                        .map_or_else(|| clab::MGMT_IPV6_SUBNET.into(), |t| t.0),
                ),
                bridge: m.bridge.map(|t| t.0),
                mtu: m.mtu.map(|m| m.0),
            }
        });
        if let Some(mgmt) = &mgmt
            && subnets_ok
        {
            // A container node with errors of its own still has its addresses checked.
            let containers = nodes
                .iter()
                .filter_map(|(name, n)| match &n.kind {
                    NodeKind::Container(c) => Some((name.as_str(), &c.spec)),
                    _ => None,
                })
                .chain(failed_containers.iter().map(|(n, c)| (n.as_str(), &c.spec)));
            let mut containers: Vec<_> = containers.collect();
            containers.sort_by_key(|(name, _)| *name);
            let named = crate::runtime::NetworkSpec {
                ipv4_subnet: mgmt.ipv4_subnet.clone().filter(|_| named_subnets.0),
                ipv6_subnet: mgmt.ipv6_subnet.clone().filter(|_| named_subnets.1),
                ..mgmt.clone()
            };
            self.mgmt_addresses(&containers, &named);
        }
        let errors = self.errors.take();
        if !errors.is_empty() {
            return Err(LabFileError::several(errors));
        }
        // A mirror found wrong before (its errors are said): the mirrors' checks would only
        // repeat them in other words.
        let mirrors_said = self
            .skip
            .iter()
            .any(|p| p.starts_with(&[key("topology"), key("mirrors")]));
        let mirrors = match mirrors_said {
            true => Vec::new(),
            false => self.mirrors(
                raw.topology.mirrors.unwrap_or_default(),
                &nodes,
                &links,
                mtu,
            )?,
        };
        Ok(LabFile {
            name: lab_name,
            path: self.path.to_string(),
            hosts,
            mtu,
            tx_checksum,
            vxlan_port: raw
                .vxlan
                .and_then(|v| v.port)
                .map_or(DEFAULT_VXLAN_PORT, |p| p.0),
            nodes,
            links,
            mgmt,
            notes: self.notes(),
            mirrors,
            ids_at: self.ids_at.take(),
        })
    }

    fn hosts(&self, raw: Vec<(String, RawHost)>) -> Vec<(String, HostSpec)> {
        let mut by_address: HashMap<IpAddr, &str> = HashMap::new();
        for (name, host) in &raw {
            if let Some(first) = by_address.insert(host.address.0, name) {
                self.push(
                    &[key("hosts"), key(name), key("address")],
                    false,
                    format!(
                        "host {name} has the same address as host {first} ({})",
                        host.address.0
                    ),
                );
            }
        }
        raw.into_iter()
            .map(|(name, host)| {
                (
                    name,
                    HostSpec {
                        address: host.address.0,
                    },
                )
            })
            .collect()
    }

    fn nodes(
        &self,
        raw: &[(String, Option<RawNode>)],
        defs: &Defs,
        hosts: &[(String, HostSpec)],
        lab: &str,
        prefix: Option<&str>,
    ) -> (BTreeMap<String, NodeSpec>, FailedContainers) {
        let empty = RawNode::default();
        let mut nodes = BTreeMap::new();
        // Container nodes with errors: their management addresses are checked all the same.
        let mut failed_containers = Vec::new();
        let mut namespaces: HashMap<String, String> = HashMap::new();
        for (name, node) in raw {
            let node = node.as_ref().unwrap_or(&empty);
            let netns = node.netns.as_ref().map(|n| n.0.clone());
            let at = |k: &str| [key("topology"), key("nodes"), key(name), key(k)];
            let host = match (&node.host, hosts.first()) {
                (Some(host), None) => {
                    self.node_error(
                        name,
                        &at("host"),
                        false,
                        format!("node {name} has `host: {host}`, but the file has no `hosts:`"),
                    );
                    continue;
                }
                (Some(host), Some(_)) if !hosts.iter().any(|(h, _)| h == host) => {
                    let defined: Vec<&str> = hosts.iter().map(|(h, _)| h.as_str()).collect();
                    self.node_error(
                        name,
                        &at("host"),
                        false,
                        format!(
                            "node {name} is on host {host}, which `hosts:` does not define \
                             (hosts: {})",
                            defined.join(", ")
                        ),
                    );
                    continue;
                }
                (Some(host), Some(_)) => Some(host.clone()),
                (None, first) => first.map(|(h, _)| h.clone()),
            };
            let chain = defs.chain(node);
            let image = chain.first(|n| n.image.as_deref());
            let kind = match (chain.kind.map(classify), image) {
                (None, Some(_)) => Kind::Linux,
                (None, None) => Kind::Namespace,
                (Some(kind), _) => kind,
            };
            if kind != Kind::Vm {
                let vm_only = [
                    ("owner", node.owner.is_some()),
                    ("vnet-hdr", node.vnet_hdr.is_some()),
                    ("queues", node.queues.is_some()),
                ];
                if let Some((k, _)) = vm_only.iter().find(|(_, set)| *set) {
                    self.node_error(
                        name,
                        &at(k),
                        true,
                        format!(
                            "`{k}` is only for nodes of `kind: vm`; node {name} is {}",
                            kind_phrase(kind, image.is_some())
                        ),
                    );
                    continue;
                }
            }
            let own_netns =
                matches!(kind, Kind::Namespace) || (kind == Kind::Linux && image.is_none());
            if netns.is_some() && !own_netns && kind != Kind::Vm {
                self.node_error(
                    name,
                    &at("netns"),
                    true,
                    format!(
                        "node {name} is {} and has `netns:`; only a namespace node stands for an \
                         existing namespace, so remove one of them",
                        kind_phrase(kind, image.is_some())
                    ),
                );
                continue;
            }
            let kind = match kind {
                // An image the node inherits (from `topology.defaults`…) does not make an
                // explicit namespace a container; one it sets itself is a mistake.
                Kind::Namespace if node.image.is_some() => {
                    self.node_error(
                        name,
                        &at("image"),
                        true,
                        format!(
                            "node {name} is a `kind: namespace` with an `image:`; a container \
                             node is `kind: linux` (or has no `kind:`)"
                        ),
                    );
                    continue;
                }
                Kind::Namespace => NodeKind::Namespace,
                Kind::Linux => match image {
                    None => NodeKind::Namespace,
                    Some(image) => match self.container(name, &chain, image, lab, prefix) {
                        Ok(container) => NodeKind::Container(Box::new(container)),
                        Err(container) => {
                            self.failed.borrow_mut().insert(name.clone());
                            failed_containers.push((name.clone(), container));
                            continue;
                        }
                    },
                },
                Kind::ExtContainer => {
                    if !self.exec_splits(name, &chain) {
                        self.failed.borrow_mut().insert(name.clone());
                        continue;
                    }
                    NodeKind::ExtContainer(ExtContainerNode {
                        container: name.clone(),
                        exec: chain.appended(|n| n.exec.as_ref()),
                    })
                }
                Kind::Bridge => match crate::nl::link::validate_name(name) {
                    Ok(()) => NodeKind::Bridge,
                    Err(e) => {
                        self.node_error(
                            name,
                            &[key("topology"), key("nodes"), key(name)],
                            true,
                            format!("node {name} is a `bridge` named as the node: {e}"),
                        );
                        continue;
                    }
                },
                Kind::Host => NodeKind::Host,
                Kind::Hub => NodeKind::Hub,
                Kind::Vm => match self.vm(name, node, netns.is_some()) {
                    Some(vm) => vm,
                    None => {
                        self.failed.borrow_mut().insert(name.clone());
                        continue;
                    }
                },
                // The first pass (`scan.rs`) names these, all vendor nodes in one message:
                // here the node is only left out.
                Kind::Refused(_) | Kind::Unknown | Kind::Vendor => {
                    self.failed.borrow_mut().insert(name.clone());
                    continue;
                }
            };
            if !matches!(kind, NodeKind::Container(_)) {
                let ext = matches!(kind, NodeKind::ExtContainer(_));
                for k in node.container_keys() {
                    if !(ext && k == "exec") {
                        self.unused
                            .borrow_mut()
                            .entry(k)
                            .or_default()
                            .push(name.clone());
                    }
                }
            }
            if let Some(netns) = &netns
                && let Some(other) = namespaces.insert(netns.key(), name.clone())
            {
                self.node_error(
                    name,
                    &at("netns"),
                    false,
                    format!(
                        "node {name} is in the same namespace as node {other} ({netns}); \
                         give each namespace one node"
                    ),
                );
                continue;
            }
            // Where `netns:` is written: a namespace gone later is named with its place.
            if netns.is_some()
                && let LabFileError::At {
                    path, line, column, ..
                } = self.error(&at("netns"), false, String::new())
            {
                self.ids_at
                    .borrow_mut()
                    .0
                    .insert((name.clone(), "netns"), format!("{path}:{line}:{column}"));
            }
            // Where a container node is written: its runtime's failures are named with it (and
            // a bridge node's missing bridge).
            if matches!(
                kind,
                NodeKind::Container(_) | NodeKind::ExtContainer(_) | NodeKind::Bridge
            ) && let LabFileError::At {
                path, line, column, ..
            } = self.error(
                &[key("topology"), key("nodes"), key(name)],
                true,
                String::new(),
            ) {
                self.ids_at
                    .borrow_mut()
                    .0
                    .insert((name.clone(), "node"), format!("{path}:{line}:{column}"));
            }
            nodes.insert(name.clone(), NodeSpec { kind, host, netns });
        }
        (nodes, failed_containers)
    }

    /// A VM node; `None` when something in it is wrong (the error is kept).
    fn vm(&self, name: &str, node: &RawNode, netns: bool) -> Option<NodeKind> {
        let at = |k: &str| [key("topology"), key("nodes"), key(name), key(k)];
        if netns {
            return self.refuse_at_key(
                &at("netns"),
                format!(
                    "node {name} has both `kind: vm` and `netns:`; a VM's taps are made in \
                     a namespace the lab creates, so remove one of them"
                ),
            );
        }
        // Checked here, with the line, rather than by the kernel half-way through `up`
        // (uid/gid -1 is "none": EINVAL). Names are looked up on this machine only for a lab
        // on one machine: a node of a lab over several hosts may name a user that exists only
        // on its own (`up` checks it there).
        for (k, id) in [("owner", &node.owner), ("group", &node.group)] {
            let Some(id) = id else { continue };
            if let Err(why) = check_id(k, &id.0) {
                return self.refuse(&at(k), why);
            }
            if let LabFileError::At {
                path, line, column, ..
            } = self.error(&at(k), false, String::new())
            {
                self.ids_at
                    .borrow_mut()
                    .0
                    .insert((name.to_string(), k), format!("{path}:{line}:{column}"));
            }
        }
        Some(NodeKind::Vm(VmSpec {
            owner: node.owner.as_ref().map(|o| o.0.clone()),
            group: node.group.as_ref().map(|g| g.0.clone()),
            vnet_hdr: node.vnet_hdr.unwrap_or(true),
            queues: node.queues.as_ref().map_or(1, |q| q.0),
        }))
    }

    /// A container node from its chain; `Err` (with what could be read) when something in it
    /// is wrong (the errors are kept, each at the node's key, or the node when the key is
    /// inherited).
    fn container(
        &self,
        name: &str,
        chain: &Chain,
        image: &str,
        lab: &str,
        prefix: Option<&str>,
    ) -> Result<ContainerNode, Box<ContainerNode>> {
        let at = |k: &str| [key("topology"), key("nodes"), key(name), key(k)];
        let mut ok = true;
        let mut fail = |k: &str, message: String| {
            self.push(&at(k), false, format!("node {name}: {message}"));
            ok = false;
        };
        let mut words = |k: &str, text: Option<&str>| -> Option<Vec<String>> {
            let text = text?;
            clab::split(k, text).map_err(|e| fail(k, e)).ok()
        };
        let cmd = words("cmd", chain.first(|n| n.cmd.as_deref()));
        let entrypoint = words("entrypoint", chain.first(|n| n.entrypoint.as_deref()));
        let mut env = clab::env_files(self.folder, &chain.appended(|n| n.env_files.as_ref()))
            .map_err(|e| fail("env-files", e))
            .unwrap_or_default();
        env.extend(chain.merged(|n| n.env.as_ref()));
        let binds = clab::binds(self.folder, &chain.appended(|n| n.binds.as_ref()))
            .map_err(|e| fail("binds", e))
            .unwrap_or_default();
        let mut sources_ok = true;
        if self.run {
            // Each missing source at the list item that names it, in the node or in what it
            // inherits from (a group, its kind, the defaults), once per node.
            for (bind, level, i) in chain.appended_at(|n| n.binds.as_ref()) {
                let Ok(resolved) = clab::binds(self.folder, &[bind.to_string()]) else {
                    continue;
                };
                if !resolved.iter().all(|r| binds.contains(r)) {
                    continue; // a more specific level's bind to the same path wins
                }
                for missing in clab::missing_sources(&resolved) {
                    let (mut segs, whose) = level_place(name, level);
                    segs.extend([key("binds"), Seg::Index(i)]);
                    self.push(&segs, false, format!("{whose}: {missing}"));
                    sources_ok = false;
                }
            }
        }
        let exec_ok = self.exec_splits(name, chain);
        let cpu = chain.first(|n| n.cpu.as_deref());
        if let Some(cpu) = cpu
            && !clab::is_cpus(cpu)
        {
            fail(
                "cpu",
                format!("cpu `{cpu}` is not a number of CPUs (such as 2 or 0.5)"),
            );
        }
        let memory = chain.first(|n| n.memory.as_deref());
        if let Some(memory) = memory
            && !clab::is_size(memory)
        {
            fail(
                "memory",
                format!("memory `{memory}` is not a size (such as 512Mb or 2Gb)"),
            );
        }
        let mgmt_ipv4 = chain.first(|n| n.mgmt_ipv4.as_deref()).and_then(|a| {
            a.parse()
                .map_err(|_| {
                    fail(
                        "mgmt-ipv4",
                        format!("mgmt-ipv4 {a:?} is not an IPv4 address"),
                    )
                })
                .ok()
        });
        let mgmt_ipv6 = chain.first(|n| n.mgmt_ipv6.as_deref()).and_then(|a| {
            a.parse()
                .map_err(|_| {
                    fail(
                        "mgmt-ipv6",
                        format!("mgmt-ipv6 {a:?} is not an IPv6 address"),
                    )
                })
                .ok()
        });
        let owned = |v: Option<&str>| v.map(str::to_string);
        let spec = crate::runtime::ContainerSpec {
            name: clab::container_name(prefix, lab, name),
            hostname: owned(chain.first(|n| n.hostname.as_deref())).unwrap_or_else(|| name.into()),
            image: image.to_string(),
            cmd,
            entrypoint,
            env,
            binds,
            ports: chain
                .first(|n| n.ports.as_ref().filter(|p| !p.is_empty()))
                .cloned()
                .unwrap_or_default(),
            user: owned(chain.first(|n| n.user.as_deref())),
            labels: chain.merged(|n| n.labels.as_ref()),
            network_mode: owned(chain.first(|n| n.network_mode.as_deref())),
            mgmt_ipv4,
            mgmt_ipv6,
            cpu: owned(cpu),
            memory: owned(memory),
            sysctls: chain.merged(|n| n.sysctls.as_ref()),
            devices: chain.appended(|n| n.devices.as_ref()),
            cap_add: chain.appended(|n| n.cap_add.as_ref()),
            privileged: chain
                .first(|n| n.privileged.as_ref())
                .copied()
                .unwrap_or(true),
        };
        let container = ContainerNode {
            spec,
            exec: chain.appended(|n| n.exec.as_ref()),
        };
        match ok && sources_ok && exec_ok {
            true => Ok(container),
            false => Err(Box::new(container)),
        }
    }
}

impl Check<'_> {
    /// Whether each `exec:` command of the node splits into words as a shell would (they run
    /// without one, as containerlab runs them); each that does not is said at the list item
    /// that holds it, in the node or in what it inherits from.
    fn exec_splits(&self, name: &str, chain: &Chain) -> bool {
        let mut ok = true;
        for (command, level, i) in chain.appended_at(|n| n.exec.as_ref()) {
            if shlex::split(command).is_some_and(|words| !words.is_empty()) {
                continue;
            }
            let (mut segs, whose) = level_place(name, level);
            segs.extend([key("exec"), Seg::Index(i)]);
            self.push(
                &segs,
                false,
                format!(
                    "{whose}: exec `{command}`: cannot split it into words (an unbalanced quote, \
                     a trailing backslash, or nothing at all); exec commands are split as a \
                     shell would and run without one, as containerlab runs them"
                ),
            );
            ok = false;
        }
        ok
    }
}

/// Where a level of a node's chain is written, and "node N (from group G)" for messages.
fn level_place(name: &str, level: &clab::Level) -> (Vec<Seg>, String) {
    match level {
        clab::Level::Node => (
            vec![key("topology"), key("nodes"), key(name)],
            format!("node {name}"),
        ),
        clab::Level::Group(g) => (
            vec![key("topology"), key("groups"), key(g)],
            format!("node {name} (from group {g})"),
        ),
        clab::Level::Kind(k) => (
            vec![key("topology"), key("kinds"), key(k)],
            format!("node {name} (from kind {k})"),
        ),
        clab::Level::Defaults => (
            vec![key("topology"), key("defaults")],
            format!("node {name} (from topology.defaults)"),
        ),
    }
}

/// "a container", "a bridge"… for messages.
fn kind_phrase(kind: Kind, image: bool) -> &'static str {
    match kind {
        Kind::Linux if image => "a container (`kind: linux` with an image)",
        Kind::Linux | Kind::Namespace => "a namespace",
        Kind::Vm => "a VM",
        Kind::ExtContainer => "an `ext-container`",
        Kind::Bridge => "a `bridge`",
        Kind::Host => "the `host`",
        Kind::Hub => "a `hub`",
        Kind::Refused(_) | Kind::Vendor | Kind::Unknown => "of a kind patchwire does not run",
    }
}

pub(super) fn undefined_node(endpoint: &Endpoint, nodes: &BTreeMap<String, NodeSpec>) -> String {
    let names: Vec<&str> = nodes.keys().map(String::as_str).collect();
    undefined_node_named(&endpoint.to_string(), &endpoint.node, &names)
}

/// "endpoint A:IF names node A, which is not defined (nodes: …)".
pub(super) fn undefined_node_named(endpoint: &str, node: &str, nodes: &[&str]) -> String {
    const SHOWN: usize = 12;
    let defined = if nodes.is_empty() {
        "the file defines no nodes".to_string()
    } else {
        let mut names: Vec<&str> = nodes.to_vec();
        names.sort_unstable();
        names.truncate(SHOWN);
        if nodes.len() > SHOWN {
            names.push("…");
        }
        format!("nodes: {}", names.join(", "))
    };
    format!("endpoint {endpoint} names node {node}, which is not defined ({defined})")
}

pub(super) fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name cannot be empty"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "{what} name {name:?} contains {c:?}; names are 1-{NAME_MAX} characters from \
             A-Z a-z 0-9 _ -"
        ));
    }
    if name.len() > NAME_MAX {
        return Err(format!(
            "{what} name {name:?} is {} characters long; at most {NAME_MAX}",
            name.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! A lab's container nodes (containerlab's `kind: linux` with an image) and ext-container nodes,
//! through the runtime (`crate::runtime`): what `plan` lists, what `up` makes before the
//! lab's plumbing wires them, the `exec:` commands after, and what `down` removes.
//!
//! The record is the runtime's: every container the lab runs carries `patchwire.lab=LAB`,
//! `patchwire.node=NODE` and `patchwire.spec=DIGEST` (of the node's definition), and a
//! management network the lab made carries `patchwire.lab=LAB`. A container's network
//! namespace is registered under /run/netns by the container's name; from there on the lab
//! treats the node as an existing namespace (`NodeHome::Existing`), so wiring, convergence and
//! `down`'s port removal are the same code as for `netns:` nodes.
//!
//! Convergence: a container whose digest matches and that runs with its namespace registered
//! is left alone (same process, same start time); one whose digest differs, or that stopped,
//! is removed and made again, and its panel ports go first (their far ends were in the old
//! namespace) so the plumbing makes them anew; a registration naming another namespace (the
//! container restarted) is replaced, with the same effect on the ports.
//!
//! Files: the plan here, its making (`make.rs`); the management network's bridge
//! (`bridge.rs`); which runtime (`choice.rs`); `exec:` (`exec.rs`); registrations under
//! /run/netns and their mark (`registration.rs`); static management addresses
//! (`addresses.rs`); what `show` says of stale nodes (`stale.rs`).

mod addresses;
mod bridge;
mod choice;
mod exec;
mod make;
mod registration;
mod stale;

use addresses::*;
pub(super) use bridge::*;
pub(super) use choice::*;
pub use exec::ExecResult;
pub(super) use exec::*;
pub(super) use make::*;
use registration::*;
pub use stale::StaleNode;
pub(super) use stale::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::LabError;
use super::desired::{MgmtBridge, NodeHome};
use super::file::{LabFile, LinkKind, NodeKind};
use super::names;
use crate::marks::{
    CONTAINER_EXEC_LABEL, CONTAINER_EXEC_RECORD, CONTAINER_HOST_LABEL, CONTAINER_LAB_LABEL,
    CONTAINER_NETNS_RECORD, CONTAINER_NODE_LABEL, CONTAINER_SPEC_LABEL,
};
use crate::netns::{self, NETNS_RUN_DIR, Netns, NsKey};
use crate::runtime::{self, Choice, Container, ContainerSpec, NetworkSpec, Runtime};

/// One change to a lab's containers (listed by `plan`, made by `up`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum ContainerChange {
    /// The management network, made by the runtime and labelled as this lab's.
    CreateNetwork {
        /// Its name (`mgmt.network`).
        network: String,
        /// podman or docker.
        runtime: runtime::Kind,
    },
    /// A management network a patchwire lab made that no container uses once the lab's
    /// removals are done (the last container node left the file, or the lab moved to another
    /// network): removed.
    RemoveNetwork {
        /// Its name.
        network: String,
        /// podman or docker.
        runtime: runtime::Kind,
    },
    /// A container node's container: created and started.
    CreateContainer {
        /// The node.
        node: String,
        /// The container's name.
        container: String,
        /// Its image.
        image: String,
        /// The image is not in the runtime's storage: `run` pulls it (the runtime's own pull
        /// policy, `missing`, as containerlab's default `IfNotPresent`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        pull: bool,
    },
    /// A container of the lab, as the file says, that is not running (stopped, or created by
    /// an `up` killed before it started it): started again, its links made anew.
    StartContainer {
        /// The node.
        node: String,
        /// The container's name.
        container: String,
    },
    /// A container removed and made again, with its links.
    RecreateContainer {
        /// The node.
        node: String,
        /// The container's name.
        container: String,
        /// Why, in words.
        why: String,
    },
    /// A container of this lab whose node the file no longer has (on this host): removed.
    RemoveContainer {
        /// The node it was.
        node: String,
        /// The container's name.
        container: String,
    },
    /// A running container, as the file says, whose `exec:` commands have not run in its
    /// namespace (an `up` was killed before it ran them): `up` runs them.
    RunExec {
        /// The node.
        node: String,
        /// The container's name.
        container: String,
    },
    /// A running container's namespace registered (again) under /run/netns: it was not, or
    /// the registration named another namespace (the container restarted). Its links are
    /// made anew.
    RegisterNetns {
        /// The node.
        node: String,
        /// The container's name, and the registration's.
        container: String,
    },
}

impl fmt::Display for ContainerChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerChange::CreateNetwork { network, runtime } => {
                write!(f, "+ network {network} ({runtime})")
            }
            ContainerChange::RemoveNetwork { network, runtime } => write!(
                f,
                "- network {network} ({runtime}): a lab made it, and no container uses it any \
                 more"
            ),
            ContainerChange::CreateContainer {
                node,
                container,
                image,
                pull,
            } => match pull {
                false => write!(f, "+ container {container} (node {node}, image {image})"),
                true => write!(
                    f,
                    "+ container {container} (node {node}, image {image}: not here, up has the \
                     runtime pull it)"
                ),
            },
            ContainerChange::StartContainer { node, container } => write!(
                f,
                "~ container {container} (node {node}): started again, it was not running"
            ),
            ContainerChange::RecreateContainer {
                node,
                container,
                why,
            } => write!(f, "~ container {container} (node {node}): recreated, {why}"),
            ContainerChange::RemoveContainer { node, container } => {
                write!(
                    f,
                    "- container {container} (node {node} is no longer in the file)"
                )
            }
            ContainerChange::RunExec { node, container } => write!(
                f,
                "~ exec: node {node}: commands not run yet in container {container} (up runs \
                 them)"
            ),
            ContainerChange::RegisterNetns { node, container } => write!(
                f,
                "~ netns {container} (node {node}): registered as the running container's"
            ),
        }
    }
}

/// A container node on this host.
struct Wanted<'a> {
    node: &'a str,
    spec: ContainerSpec,
    /// Its `exec:` commands.
    exec: &'a [String],
}

/// What `up` does to the lab's containers, worked out from the file and the runtime.
#[derive(Default)]
pub(super) struct ContainerPlan {
    pub changes: Vec<ContainerChange>,
    /// Nodes whose namespace is (re)made or (re)registered: their panel ports are made anew.
    pub fresh: BTreeSet<String>,
    network: Option<NetworkSpec>,
    /// (node, container) to remove, before anything is created.
    removes: Vec<(String, String)>,
    /// (node, spec with the lab's labels).
    creates: Vec<(String, ContainerSpec)>,
    /// Networks made by a patchwire lab that nothing uses once `removes` are done.
    drop_networks: Vec<String>,
    /// (node, container, pid): running containers whose namespace to register.
    registers: Vec<(String, String, u32)>,
    /// Where `mgmt-net` links' host sides go.
    pub mgmt_bridge: MgmtBridge,
    /// Containers among `creates` that exist as the file says but do not run: started, not
    /// made.
    starts: BTreeSet<String>,
    /// The lab's name, and where each container node is written (`FILE:LINE:COL`, or the
    /// file's path), for the runtime's failures.
    lab: String,
    at: BTreeMap<String, String>,
    /// What `plan` and `up` say about the containers (a management network the file now
    /// describes otherwise than the one that exists).
    pub notes: Vec<String>,
}

/// Where node `node` is written: `FILE:LINE:COL` of its name, or the file's path.
fn node_at(file: &LabFile, node: &str) -> String {
    file.ids_at
        .0
        .get(&(node.to_string(), "node"))
        .cloned()
        .unwrap_or_else(|| file.path.clone())
}

pub(super) fn here(node_host: Option<&str>, host: Option<&str>) -> bool {
    match (host, node_host) {
        (None, _) | (Some(_), None) => true,
        (Some(h), Some(n)) => h == n,
    }
}

/// Where a container or ext-container node lives: the registration of its container's
/// namespace, an existing namespace to the rest of the lab. `None` for other kinds.
pub(super) fn home(kind: &NodeKind) -> Option<NodeHome> {
    match kind {
        NodeKind::Container(c) => Some(NodeHome::Existing {
            spec: c.spec.name.clone(),
        }),
        NodeKind::ExtContainer(e) => Some(NodeHome::Existing {
            spec: e.container.clone(),
        }),
        _ => None,
    }
}

/// The refusal of a container name taken by a container that is not the lab's node's.
fn not_ours(
    runtime: &Runtime,
    at: &str,
    lab: &str,
    node: &str,
    name: &str,
    host: Option<&str>,
) -> String {
    let rm = match runtime.kind {
        runtime::Kind::Podman => format!("podman rm -f {name}"),
        runtime::Kind::Docker => format!("docker rm -f {name}"),
    };
    format!(
        "{at}: node {node}: container {name} exists and is not this lab's (it has no \
         {CONTAINER_LAB_LABEL}={lab} and {CONTAINER_NODE_LABEL}={node} labels{}): remove it \
         ({rm}) if it is not needed, or make node {node} a kind: ext-container to wire it as it \
         is",
        match host {
            Some(h) => format!(" for host {h}"),
            None => String::new(),
        }
    )
}

/// `network-mode: container:NODE` naming a node of the lab: the container of that node
/// (`clab-LAB-NODE` under the prefix rules, or an ext-container's own name), as containerlab
/// maps it. `container:OTHER` that is no node of the lab is the runtime's to resolve, as
/// written.
fn shared_network(file: &LabFile, spec: &ContainerSpec) -> ContainerSpec {
    let Some(other) = spec
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("container:"))
    else {
        return spec.clone();
    };
    let name = match file.nodes.get(other).map(|n| &n.kind) {
        Some(NodeKind::Container(c)) => c.spec.name.clone(),
        Some(NodeKind::ExtContainer(e)) => e.container.clone(),
        _ => return spec.clone(),
    };
    let mut spec = spec.clone();
    spec.network_mode = Some(format!("container:{name}"));
    spec
}

/// The container whose network namespace `spec`'s shares (`network-mode: container:NAME`).
fn shares_with(spec: &ContainerSpec) -> Option<&str> {
    spec.network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("container:"))
}

/// The labels the lab adds to a node's container: its record.
/// `exec:` is part of the node's definition (decided: as containerlab's `apply` recreates a
/// changed node, a node whose commands changed is made again and runs the new ones in a
/// fresh namespace; running only the new commands in the old one would leave whatever the
/// old ones did), in a label of its own so `plan` can say which changed.
fn record(
    lab: &str,
    node: &str,
    host: Option<&str>,
    spec: &ContainerSpec,
    exec: &[String],
) -> ContainerSpec {
    let digest = runtime::spec_hash(spec);
    let mut spec = spec.clone();
    if !exec.is_empty() {
        let commands = serde_json::to_string(exec).unwrap_or_default();
        spec.labels
            .insert(CONTAINER_EXEC_LABEL.into(), runtime::digest(&commands));
    }
    spec.labels.insert(CONTAINER_LAB_LABEL.into(), lab.into());
    spec.labels.insert(CONTAINER_NODE_LABEL.into(), node.into());
    spec.labels.insert(CONTAINER_SPEC_LABEL.into(), digest);
    if let Some(host) = host {
        spec.labels.insert(CONTAINER_HOST_LABEL.into(), host.into());
    }
    spec
}

/// The lab's containers on this host, by the runtime's labels.
fn lab_containers(
    runtime: &Runtime,
    lab: &str,
    host: Option<&str>,
) -> Result<Vec<Container>, LabError> {
    Ok(runtime
        .list_lab(lab)?
        .into_iter()
        .filter(|c| c.labels.get(CONTAINER_HOST_LABEL).map(String::as_str) == host)
        .collect())
}

/// What `up` would do to the containers; refuses (before anything changes) an ext-container
/// that is missing or stopped, and a container name taken by something that is not the lab's.
pub(super) fn plan(
    runtime: Option<&Runtime>,
    file: &LabFile,
    host: Option<&str>,
) -> Result<ContainerPlan, LabError> {
    check_exec(file, host)?;
    let mut plan = ContainerPlan {
        lab: file.name.clone(),
        ..ContainerPlan::default()
    };
    let Some(runtime) = runtime else {
        return Ok(plan);
    };
    plan.at = file
        .nodes
        .keys()
        .map(|n| (n.clone(), node_at(file, n)))
        .collect();
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut ext: Vec<(&str, &str, &[String])> = Vec::new();
    for (node, spec) in &file.nodes {
        if !here(spec.host.as_deref(), host) {
            continue;
        }
        match &spec.kind {
            NodeKind::Container(c) => wanted.push(Wanted {
                node,
                spec: record(
                    &file.name,
                    node,
                    host,
                    &shared_network(file, &c.spec),
                    &c.exec,
                ),
                exec: &c.exec,
            }),
            NodeKind::ExtContainer(e) => ext.push((node, &e.container, &e.exec)),
            _ => {}
        }
    }
    let found = lab_containers(runtime, &file.name, host)?;
    // Every name the runtime has, once: a wanted name not among the lab's is asked about only
    // when it is taken.
    let taken = match wanted.is_empty() {
        true => Default::default(),
        false => runtime.names()?,
    };
    let by_node: BTreeMap<&str, &Container> = found
        .iter()
        .filter_map(|c| Some((c.labels.get(CONTAINER_NODE_LABEL)?.as_str(), c)))
        .collect();
    // Nodes the file no longer has here: their containers go.
    for container in &found {
        let node = container
            .labels
            .get(CONTAINER_NODE_LABEL)
            .cloned()
            .unwrap_or_default();
        let kept = wanted
            .iter()
            .any(|w| w.node == node && w.spec.name == container.name);
        if !kept {
            plan.changes.push(ContainerChange::RemoveContainer {
                node: node.clone(),
                container: container.name.clone(),
            });
            plan.removes.push((node, container.name.clone()));
        }
    }
    // A `mgmt-net` link whose bridge the file does not name joins the network's.
    let unnamed = file.mgmt.as_ref().is_some_and(|m| m.bridge.is_none());
    let needs_network = wanted.iter().any(|w| w.spec.network_mode.is_none())
        || (unnamed && has_mgmt_links(file, host));
    if needs_network && let Some(mgmt) = &file.mgmt {
        if !runtime.has_network(&mgmt.name)? {
            if let Some(bridge) = &mgmt.bridge
                && !runtime.names_bridges()?
            {
                return Err(LabError::Invalid(cannot_name_bridge(file, runtime, bridge)));
            }
            plan.changes.push(ContainerChange::CreateNetwork {
                network: mgmt.name.clone(),
                runtime: runtime.kind,
            });
        }
        plan.network = Some(mgmt.clone());
        // Static addresses outside the network's subnets: the runtime would refuse them
        // half-way through `up`; refused here, before anything changes.
        let mut remake = String::new();
        let (subnets, made) = match runtime.network_subnets(&mgmt.name)? {
            Some(found) => {
                // The lab made it with the file's subnets of then: the file changed since.
                // A network is not changed in place (its containers hold addresses in it).
                let ours = runtime.network_lab(&mgmt.name)?.as_deref() == Some(file.name.as_str());
                remake = addresses::remake_advice(runtime, &mgmt.name, ours, &file.path);
                if ours && let Some(note) = addresses::subnets_differ(&found, mgmt, &remake) {
                    plan.notes.push(note);
                }
                (found, false)
            }
            None => (
                [&mgmt.ipv4_subnet, &mgmt.ipv6_subnet]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect(),
                true,
            ),
        };
        for w in wanted.iter().filter(|w| w.spec.network_mode.is_none()) {
            check_static(w, &subnets, mgmt, made, runtime, &plan.at[w.node], &remake)?;
        }
    }
    // A namespace under the container's name that is not the lab's registration: refused
    // before anything changes (up would replace it, down delete it).
    for w in &wanted {
        let pid = by_node
            .get(w.node)
            .filter(|c| c.name == w.spec.name)
            .and_then(|c| c.pid);
        check_registration(&w.spec.name, pid, &file.name, &plan.at[w.node], w.node)?;
    }
    // Networks a patchwire lab made (this one, or another whose network this lab used) that
    // no container is on once the lab's removals are done: removed, as `down` would.
    let removing: BTreeSet<&str> = plan.removes.iter().map(|(_, c)| c.as_str()).collect();
    let mut networks: BTreeSet<String> =
        runtime.list_lab_networks(&file.name)?.into_iter().collect();
    for c in found.iter().filter(|c| removing.contains(c.name.as_str())) {
        networks.extend(c.addresses.keys().cloned());
    }
    if let Some(kept) = &plan.network {
        networks.remove(&kept.name);
    }
    for network in networks {
        if runtime.network_lab(&network)?.is_none() {
            continue;
        }
        let users = runtime.network_users(&network)?;
        if users.iter().all(|u| removing.contains(u.as_str())) {
            plan.changes.push(ContainerChange::RemoveNetwork {
                network: network.clone(),
                runtime: runtime.kind,
            });
            plan.drop_networks.push(network);
        }
    }
    // Whether each image is in the runtime's storage, asked once per image.
    let mut images: BTreeMap<String, bool> = BTreeMap::new();
    for w in &wanted {
        let listed = by_node
            .get(w.node)
            .copied()
            .filter(|c| c.name == w.spec.name)
            .cloned();
        // Not listed: made since the listing (by an `up` killed while its runtime call ran
        // on), or someone else's container under this name.
        let mine = match listed {
            Some(c) => Some(c),
            None if taken.contains(&w.spec.name) => runtime.inspect(&w.spec.name)?,
            None => None,
        };
        let ours = |c: &Container| {
            c.labels.get(CONTAINER_LAB_LABEL) == Some(&file.name)
                && c.labels.get(CONTAINER_NODE_LABEL).map(String::as_str) == Some(w.node)
        };
        let why = match mine.as_ref() {
            Some(other) if !ours(other) => {
                return Err(LabError::Invalid(not_ours(
                    runtime,
                    &plan.at[w.node],
                    &file.name,
                    w.node,
                    &other.name,
                    host,
                )));
            }
            None => {
                plan.changes.push(ContainerChange::CreateContainer {
                    node: w.node.to_string(),
                    container: w.spec.name.clone(),
                    image: w.spec.image.clone(),
                    pull: !match images.get(&w.spec.image) {
                        Some(here) => *here,
                        None => {
                            let here = runtime.has_image(&w.spec.image)?;
                            images.insert(w.spec.image.clone(), here);
                            here
                        }
                    },
                });
                plan.fresh.insert(w.node.to_string());
                plan.creates.push((w.node.to_string(), w.spec.clone()));
                continue;
            }
            Some(c)
                if c.labels.get(CONTAINER_SPEC_LABEL)
                    != w.spec.labels.get(CONTAINER_SPEC_LABEL) =>
            {
                "its definition in the file changed".to_string()
            }
            Some(c)
                if c.labels.get(CONTAINER_EXEC_LABEL)
                    != w.spec.labels.get(CONTAINER_EXEC_LABEL) =>
            {
                "its exec: commands changed".to_string()
            }
            // Ours, as the file says, but stopped (or created by an `up` killed before it
            // started it): started again, as `docker start` would.
            Some(c) if !c.running || c.pid.is_none() => {
                plan.changes.push(ContainerChange::StartContainer {
                    node: w.node.to_string(),
                    container: c.name.clone(),
                });
                plan.fresh.insert(w.node.to_string());
                plan.starts.insert(c.name.clone());
                plan.creates.push((w.node.to_string(), w.spec.clone()));
                continue;
            }
            Some(c) => {
                let pid = c.pid.expect("checked above");
                if !registered_as(&c.name, pid) {
                    plan.changes.push(ContainerChange::RegisterNetns {
                        node: w.node.to_string(),
                        container: c.name.clone(),
                    });
                    plan.fresh.insert(w.node.to_string());
                    plan.registers
                        .push((w.node.to_string(), c.name.clone(), pid));
                } else if pending_exec(w.exec, &w.spec, w.node)? {
                    plan.changes.push(ContainerChange::RunExec {
                        node: w.node.to_string(),
                        container: c.name.clone(),
                    });
                }
                continue;
            }
        };
        plan.changes.push(ContainerChange::RecreateContainer {
            node: w.node.to_string(),
            container: w.spec.name.clone(),
            why,
        });
        plan.fresh.insert(w.node.to_string());
        plan.removes.push((w.node.to_string(), w.spec.name.clone()));
        plan.creates.push((w.node.to_string(), w.spec.clone()));
    }
    // A container that shares the namespace of one made (again) now is made again after it:
    // the namespace it had is gone with the old container.
    loop {
        let remade: BTreeSet<String> = plan.creates.iter().map(|(_, s)| s.name.clone()).collect();
        let next = wanted.iter().find(|w| {
            !plan.creates.iter().any(|(n, _)| n == w.node)
                && shares_with(&w.spec).is_some_and(|other| remade.contains(other))
        });
        let Some(w) = next else { break };
        let other = shares_with(&w.spec).unwrap_or_default().to_string();
        plan.changes.push(ContainerChange::RecreateContainer {
            node: w.node.to_string(),
            container: w.spec.name.clone(),
            why: format!("it shares the network namespace of {other}, which is made again"),
        });
        plan.changes.retain(
            |c| !matches!(c, ContainerChange::RegisterNetns { node, .. } if node == w.node),
        );
        plan.registers.retain(|(node, _, _)| node != w.node);
        plan.fresh.insert(w.node.to_string());
        plan.removes.push((w.node.to_string(), w.spec.name.clone()));
        plan.creates.push((w.node.to_string(), w.spec.clone()));
    }
    for (node, name, exec) in ext {
        let container = runtime.inspect(name)?;
        let pid = match container {
            None => {
                return Err(LabError::Invalid(format!(
                    "{}: node {node}: ext-container {name}: {} has no container of that name \
                     (an ext-container is started by something else, then wired by patchwire, \
                     which never starts or stops it)",
                    plan.at[node], runtime.kind
                )));
            }
            Some(c) => match c.pid {
                Some(pid) if c.running => pid,
                _ => {
                    return Err(LabError::Invalid(format!(
                        "{}: node {node}: ext-container {name} is not running (start it with {} \
                         start {name}; patchwire never starts or stops an ext-container)",
                        plan.at[node], runtime.kind
                    )));
                }
            },
        };
        check_registration(name, Some(pid), &file.name, &plan.at[node], node)?;
        if !registered_as(name, pid) {
            plan.changes.push(ContainerChange::RegisterNetns {
                node: node.to_string(),
                container: name.to_string(),
            });
            plan.fresh.insert(node.to_string());
            plan.registers
                .push((node.to_string(), name.to_string(), pid));
        } else if !exec.is_empty() && !exec_done(name, &exec_record(None, node))? {
            plan.changes.push(ContainerChange::RunExec {
                node: node.to_string(),
                container: name.to_string(),
            });
        }
    }
    plan.mgmt_bridge = mgmt_bridge(Some(runtime), file, host)?;
    Ok(plan)
}

/// The ext-container nodes of the file on this host: their registrations' names.
pub(super) fn ext_registrations(file: &LabFile, host: Option<&str>) -> Vec<String> {
    file.nodes
        .values()
        .filter(|n| here(n.host.as_deref(), host))
        .filter_map(|n| match &n.kind {
            NodeKind::ExtContainer(e) => Some(e.container.clone()),
            _ => None,
        })
        .collect()
}

/// Whether `node` is a container or ext-container node of the file.
pub(super) fn is_container_node(file: &LabFile, node: &str) -> bool {
    file.nodes
        .get(node)
        .is_some_and(|n| matches!(n.kind, NodeKind::Container(_) | NodeKind::ExtContainer(_)))
}

/// Drops from what `plan` observed the panel ports of nodes whose namespace `up` makes anew:
/// `up` deletes them before the plumbing looks (see [`apply`]), so the plan shows them made.
pub(super) fn forget_fresh_ports(actual: &mut super::observe::Actual, fresh: &BTreeSet<String>) {
    let mut forgotten = BTreeMap::new();
    actual.ports.retain(|name, found| {
        let endpoint = found
            .altnames
            .iter()
            .find_map(|a| names::parse_port_record(a));
        match endpoint {
            Some(e) if fresh.contains(&e.node) => {
                forgotten.insert(name.clone(), e.to_string());
                false
            }
            _ => true,
        }
    });
    actual.forgotten.extend(forgotten);
}

/// What `down` removed of the containers.
#[derive(Debug, Default)]
pub(super) struct Removed {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub registrations: Vec<String>,
    /// Namespaces under a container's name left alone: not the lab's registration.
    pub notes: Vec<String>,
}

/// `down`'s part: the lab's containers (by label) with their registrations, ext-container
/// registrations, and the management networks the lab made (by label) when nothing uses them.
/// Keeps going past failures and reports them all.
pub(super) fn remove_all(
    runtime: Option<&Runtime>,
    lab: &str,
    host: Option<&str>,
    ext: &[String],
) -> Result<Removed, LabError> {
    let mut removed = Removed::default();
    let mut failures = Vec::new();
    for name in ext {
        if std::path::Path::new(NETNS_RUN_DIR).join(name).exists() {
            let pid = runtime
                .and_then(|r| r.inspect(name).ok().flatten())
                .and_then(|c| c.pid);
            if !lab_registration(name, pid, lab) {
                removed.notes.push(not_registered(name, lab));
                continue;
            }
            match netns::delete_named(name) {
                Ok(()) => removed.registrations.push(name.clone()),
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    if let Some(runtime) = runtime {
        let containers = lab_containers(runtime, lab, host)?;
        for container in &containers {
            if std::path::Path::new(NETNS_RUN_DIR)
                .join(&container.name)
                .exists()
            {
                if !lab_registration(&container.name, container.pid, lab) {
                    removed.notes.push(not_registered(&container.name, lab));
                    continue;
                }
                match netns::delete_named(&container.name) {
                    Ok(()) => removed.registrations.push(container.name.clone()),
                    Err(e) => failures.push(e.to_string()),
                }
            }
        }
        let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
        match runtime.remove_many(&names) {
            Ok(()) => removed
                .containers
                .extend(names.iter().map(|n| n.to_string())),
            Err(e) => failures.push(e.to_string()),
        }
        // The networks the lab made, and those its containers were on that another patchwire
        // lab made: removed once nothing is on them (decided: the last lab using a network a
        // lab made removes it, so it does not outlive every lab with no lab listing it).
        let mut networks: BTreeSet<String> = runtime.list_lab_networks(lab)?.into_iter().collect();
        for container in &containers {
            networks.extend(container.addresses.keys().cloned());
        }
        for network in networks {
            let maker = match runtime.network_lab(&network) {
                Ok(Some(maker)) => maker,
                Ok(None) => continue,
                Err(e) => {
                    failures.push(e.to_string());
                    continue;
                }
            };
            match runtime.remove_lab_network_if_unused(&network) {
                Ok(true) => {
                    if maker != lab {
                        removed.notes.push(format!(
                            "network {network} was made by lab {maker}: removed with the last \
                             container on it"
                        ));
                    }
                    removed.networks.push(network);
                }
                Ok(false) => {}
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    removed.containers.sort();
    removed.registrations.sort();
    match failures.is_empty() {
        true => Ok(removed),
        false => Err(LabError::Invalid(failures.join("; "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_matched_against_subnets_of_their_family() {
        let cidr = |s: &str| parse_cidr(s).unwrap();
        let (net, len) = cidr("198.18.43.0/24");
        assert!(in_subnet("198.18.43.5".parse().unwrap(), net, len));
        assert!(!in_subnet("198.18.52.5".parse().unwrap(), net, len));
        assert!(!in_subnet("fd00::5".parse().unwrap(), net, len));
        let (net, len) = cidr("fd00:43::/64");
        assert!(in_subnet("fd00:43::5".parse().unwrap(), net, len));
        assert!(!in_subnet("fd00:44::5".parse().unwrap(), net, len));
        let (net, len) = cidr("0.0.0.0/0");
        assert!(in_subnet("203.0.113.1".parse().unwrap(), net, len));
        assert_eq!(parse_cidr("198.18.43.0"), None);
    }

    #[test]
    fn subnets_that_differ_from_the_networks_are_said() {
        let mgmt = NetworkSpec {
            name: "clab".into(),
            ipv4_subnet: Some("198.18.44.0/24".into()),
            ipv6_subnet: Some("fd00:44::/64".into()),
            bridge: None,
            mtu: None,
        };
        let found = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // The same subnets, written otherwise (host bits, order): nothing to say.
        assert_eq!(
            addresses::subnets_differ(&found(&["fd00:44::1/64", "198.18.44.0/24"]), &mgmt, "R"),
            None
        );
        assert_eq!(
            addresses::subnets_differ(&found(&["198.18.43.0/24"]), &mgmt, "R").unwrap(),
            "management network clab has subnets 198.18.43.0/24, the file gives it \
             198.18.44.0/24, fd00:44::/64: up uses it as it is (a network is not changed in \
             place; R)"
        );
        // What does not parse is the runtime's business.
        assert_eq!(
            addresses::subnets_differ(&found(&["nonsense"]), &mgmt, "R"),
            None
        );
    }
}

//! The lab file: one YAML document that describes a whole lab — its nodes, the links between
//! their interfaces, the mirrors that copy their traffic to an analyzer and, for a lab over
//! several machines, the hosts — read into a checked [`LabFile`]. The format is containerlab's
//! topology format with patchwire's keys added: a containerlab file reads as it is (its
//! `prefix`, `mgmt`, `topology.defaults`/`kinds`/`groups` with containerlab's precedence,
//! container nodes, link types). docs/labs.md and docs/containerlab.md document it.
//!
//! This module owns the format and every check that needs no kernel: names, ranges, unknown
//! keys, references between nodes, hosts, links and mirrors, duplicates. Whether a namespace
//! exists, MTUs against the underlay, which host this machine is, whether a runtime or an image
//! is there belong to the lab's planning. Every error names its place, `FILE:LINE:COL: what is
//! wrong`. It reads the files a lab file names (`env-files:`), relative to its folder.
//!
//! Reading is bounded: at most [`FILE_MAX`] bytes, FIFOs and devices without waiting forever
//! ([`read_source`]), UTF-8, and no deeper than [`DEPTH_MAX`] levels (checked by a scan before
//! any parser runs, as YAML parsers slow down with the square of the depth).
//!
//! Reading goes in steps. `${VAR}` is expanded over the whole text, as containerlab does
//! (`expand.rs`). A first pass on the plain YAML tree (`scan.rs`) gathers what can be reported
//! together — every unknown key, every vendor node, every endpoint naming an undefined node
//! or used twice, every undefined group —
//! and the notes (keys accepted, not acted on). Then serde_norway deserializes: syntax errors,
//! types and ranges come with serde_norway's position, every wrong value at once (each is set
//! aside in place and the document read again, `recover.rs`). The checks (`check.rs`) run on the
//! result, resolving each node through containerlab's precedence (`clab.rs`) and gathering the
//! errors of nodes and links. To point at the offending text, `locate` walks the document again
//! to that node and stops there with a marker error whose position serde_norway reports. The
//! line of a link or a mirror comes from one such walk to its list and a scan of the list's
//! items (`sequence_items`).
//!
//! The module's files: the public types, [`load`] and [`parse`] here; reading within bounds and
//! the default file (`read.rs`); expansion (`expand.rs`); the keys of each place (`keys.rs`);
//! the first pass (`scan.rs`); reading on past wrong values (`recover.rs`); the document as deserialized (`raw.rs`, a node in `node.rs`) and
//! its values (`values.rs`); serde_norway's errors in the file's words (`errors.rs`); line and
//! column (`locate.rs`); containerlab's kinds, precedence, names and paths (`clab.rs`); the
//! checks of hosts, nodes and links (`check.rs`) and of mirrors (`mirrors.rs`); the examples of
//! docs/labs.md (`examples.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use serde::{Serialize, Serializer};

#[cfg(doc)] // for the links in the docs of `MirrorFileSpec`
use crate::mirror::spec::{VlanSet, validate_mirror_name};
use crate::nl::link::validate_name;

mod check;
mod clab;
#[cfg(test)]
mod clab_tests;
mod errors;
mod examples;
mod expand;
mod flap;
mod impairs;
mod keys;
mod locate;
mod mirrors;
mod node;
mod raw;
mod read;
mod recover;
mod scan;
#[cfg(test)]
mod testing;
mod values;

pub use examples::{example, example_multi_host};
pub use read::{
    DEPTH_MAX, FILE_MAX, IDLE_MAX, find_default_file, find_default_file_for, read_source,
};

use check::{Check, check_name};
use read::too_deep;

/// MTU of a link when neither the link nor `defaults:` sets one.
pub const DEFAULT_MTU: u32 = 1500;
/// [`LinkSpec::mtu`] of a `type: macvlan` link without `mtu:`: its host interface's, read
/// from the running system by `plan` and `up` (a macvlan cannot exceed its parent).
pub const PARENT_MTU: u32 = 0;
/// The MTUs a file may set.
pub const MTU_RANGE: RangeInclusive<u32> = 68..=65535;
/// UDP port of cross-host links when `vxlan:` sets none (IANA's VXLAN port).
pub const DEFAULT_VXLAN_PORT: u16 = 4789;
/// The VXLAN network identifiers a link may set (24 bits, 0 excluded).
pub const VNI_RANGE: RangeInclusive<u32> = 1..=16_777_215;
/// The queue counts of a VM's taps.
pub const QUEUES_RANGE: RangeInclusive<u16> = 1..=256;
/// The longest lab, node or host name, in characters.
pub const NAME_MAX: usize = 32;
/// The VLAN IDs a mirror's `output-vlan` may set (0 is a priority tag, 4095 reserved).
pub const OUTPUT_VLAN_RANGE: RangeInclusive<u16> = 1..=4094;
/// The largest MTU a tap takes: 65535 less its Ethernet header (the kernel's tun `max_mtu`).
pub const TAP_MTU_MAX: u32 = 65521;

/// A lab file, read and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabFile {
    /// The lab's name (`name:`).
    pub name: String,
    /// The file's path as given, for messages.
    pub path: String,
    /// The hosts of a lab over several machines, in file order (the first takes the nodes that
    /// name no host); empty for a lab on one machine.
    pub hosts: Vec<(String, HostSpec)>,
    /// `defaults.mtu`, or [`DEFAULT_MTU`].
    pub mtu: u32,
    /// `defaults.tx-checksum`: `Some(false)` turns TX checksum offload off, `Some(true)` on,
    /// `None` leaves interfaces as they are.
    pub tx_checksum: Option<bool>,
    /// `vxlan.port`, or [`DEFAULT_VXLAN_PORT`].
    pub vxlan_port: u16,
    /// The nodes by name.
    pub nodes: BTreeMap<String, NodeSpec>,
    /// The links, in file order.
    pub links: Vec<LinkSpec>,
    /// The mirrors (`topology.mirrors`), in file order; empty when the file has none.
    pub mirrors: Vec<MirrorFileSpec>,
    /// The management network of the lab's container nodes (`mgmt:` with containerlab's
    /// defaults); `None` when the lab has no container node.
    pub mgmt: Option<crate::runtime::NetworkSpec>,
    /// Keys accepted but not acted on, each named once ("patchwire does not do X: …").
    pub notes: Vec<String>,
    /// Where each VM node's `owner`/`group` given by name is written, for
    /// [`LabFile::check_ids`].
    #[serde(skip)]
    pub ids_at: IdPositions,
}

/// `(node, "owner" | "group" | "netns")` -> `FILE:LINE:COL` of the value; `(node, "node")` ->
/// that of a container or bridge node's name. Not part of what the file
/// asks for: two files asking for the same are equal wherever their keys are written.
#[derive(Debug, Clone, Default, Eq)]
pub struct IdPositions(pub BTreeMap<(String, &'static str), String>);

impl PartialEq for IdPositions {
    fn eq(&self, _: &IdPositions) -> bool {
        true
    }
}

impl LabFile {
    /// The VM nodes' `owner` and `group` names, looked up on this machine for the nodes on
    /// `host` (all of them for a lab on one machine): `plan` and `up` refuse a name this
    /// machine does not know with the place it is written, before anything changes. (Read
    /// time does not: `graph`, `show --lab` and the example must read anywhere.)
    pub fn check_ids(&self, host: Option<&str>) -> Result<(), String> {
        for (name, node) in &self.nodes {
            let NodeKind::Vm(vm) = &node.kind else {
                continue;
            };
            if host.is_some() && node.host.is_some() && node.host.as_deref() != host {
                continue;
            }
            for (key, id) in [("owner", &vm.owner), ("group", &vm.group)] {
                let Some(id) = id else { continue };
                let found = match key {
                    "owner" => crate::vm::user_id(id),
                    _ => crate::vm::group_id(id),
                };
                if let Err(e) = found {
                    let at = self
                        .ids_at
                        .0
                        .get(&(name.clone(), key))
                        .cloned()
                        .unwrap_or_else(|| self.path.clone());
                    return Err(format!("{at}: {key}: {e}"));
                }
            }
        }
        Ok(())
    }
}

/// One machine of a lab over several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSpec {
    /// The host's underlay address: cross-host links are VXLAN tunnels between these.
    pub address: IpAddr,
}

/// One node: a network namespace, or a VM's namespace of taps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSpec {
    /// A namespace, or a VM.
    pub kind: NodeKind,
    /// The node's host, resolved (a node without `host:` is on the first host); `None` only in
    /// a file without `hosts:`.
    pub host: Option<String>,
    /// An existing namespace the node stands for; `None`: a namespace the lab creates
    /// (LAB-NODE). Always `None` for a VM.
    pub netns: Option<NetnsRef>,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A network namespace; its endpoints are ordinary interfaces.
    Namespace,
    /// A qemu VM: its endpoints are persistent taps the lab makes in namespace LAB-NODE.
    Vm(VmSpec),
    /// containerlab's `kind: linux` with an `image:`: a container the runtime (podman or
    /// docker) runs; its namespace is registered under /run/netns as the container's name.
    Container(Box<ContainerNode>),
    /// `kind: ext-container`: a container something else started, found by name through the
    /// runtime; wired, never started or stopped.
    ExtContainer(ExtContainerNode),
    /// `kind: bridge`: a Linux bridge that exists on the host, named as the node; its
    /// endpoints become the bridge's ports.
    Bridge,
    /// `kind: host`: the host's own namespace; its endpoints are interfaces there.
    Host,
    /// `kind: hub`: every link to it joins one transparent segment (a bridge that passes
    /// LACP, STP, LLDP, PAUSE and 802.1X).
    Hub,
}

/// A container node: what to run, and what to run in it once it is wired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerNode {
    /// The container (name, image, cmd, env, binds… after precedence and expansion).
    pub spec: crate::runtime::ContainerSpec,
    /// `exec:`: commands run in the container, in order, after its links are wired.
    pub exec: Vec<String>,
}

/// A container started by something else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtContainerNode {
    /// The container's name as the runtime knows it (the node's name).
    pub container: String,
    /// `exec:`, as for a container node.
    pub exec: Vec<String>,
}

/// How a VM's taps are made (like `patchwire tap add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmSpec {
    /// The user (name or uid) that may open the taps, for an unprivileged qemu.
    pub owner: Option<String>,
    /// The group (name or gid) that may open the taps.
    pub group: Option<String>,
    /// Frames carry a virtio-net header (qemu `vnet_hdr=on`); default true.
    pub vnet_hdr: bool,
    /// Queues per tap (qemu `queues=N`); default 1.
    pub queues: u16,
}

/// An existing namespace, as `netns:` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetnsRef {
    /// A name under /run/netns.
    Name(String),
    /// An absolute path, such as /proc/PID/ns/net.
    Path(String),
    /// A process's namespace (/proc/PID/ns/net).
    Pid(u32),
}

impl NetnsRef {
    /// Reads a `netns:` string: an absolute path, or a name under /run/netns.
    pub fn parse(text: &str) -> Result<NetnsRef, String> {
        if text.is_empty() {
            return Err("netns cannot be empty".into());
        }
        if text.contains('\0') {
            return Err(format!("netns {text:?} contains a NUL character"));
        }
        if text.starts_with('/') {
            return Ok(NetnsRef::Path(text.to_string()));
        }
        if text.contains('/') || text == "." || text == ".." {
            return Err(format!(
                "netns {text:?} is neither a namespace name (a file under /run/netns, without '/') \
                 nor an absolute path"
            ));
        }
        Ok(NetnsRef::Name(text.to_string()))
    }

    /// The path to open, for comparisons between nodes.
    fn key(&self) -> String {
        match self {
            NetnsRef::Name(name) => format!("{}/{name}", crate::netns::NETNS_RUN_DIR),
            NetnsRef::Path(path) => path.clone(),
            NetnsRef::Pid(pid) => format!("/proc/{pid}/ns/net"),
        }
    }
}

impl fmt::Display for NetnsRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetnsRef::Name(name) => f.write_str(name),
            NetnsRef::Path(path) => f.write_str(path),
            NetnsRef::Pid(pid) => write!(f, "pid {pid}"),
        }
    }
}

/// One end of a link: an interface of a node. Shown (and serialized) as `NODE:IF`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// The node's name.
    pub node: String,
    /// The interface's name in the node.
    pub interface: String,
}

impl Endpoint {
    /// Reads `NODE:IF`, split at the first ':'; the node must be a well-formed node name and the
    /// interface a name the kernel accepts.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let Some((node, interface)) = text.split_once(':').filter(|(node, _)| !node.is_empty())
        else {
            return Err(format!("endpoint {text:?} is not NODE:INTERFACE"));
        };
        Endpoint::new(node, interface).map_err(|e| format!("endpoint {text:?}: {e}"))
    }

    fn new(node: &str, interface: &str) -> Result<Endpoint, String> {
        check_name("node", node)?;
        validate_name(interface)?;
        Ok(Endpoint {
            node: node.to_string(),
            interface: interface.to_string(),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.interface)
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One link: two endpoints make a wire, three or more a hub segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkSpec {
    /// At least two, all different, each in no other link.
    pub endpoints: Vec<Endpoint>,
    /// The link's `mtu:`, or the file's default; [`PARENT_MTU`] for a macvlan without `mtu:`.
    pub mtu: u32,
    /// The link's `tx-checksum:`, or the file's default (`None`: leave as is).
    pub tx_checksum: Option<bool>,
    /// The VXLAN VNI of a cross-host link, when the file sets one (unique among links).
    pub vni: Option<u32>,
    /// How a two-endpoint link's wire moves frames: the link's `datapath:`, or the file's
    /// default (tc). Hubs are always tc.
    pub datapath: crate::wire::Datapath,
    /// What the link is: between nodes (a wire or a hub segment), or one endpoint joined to
    /// something of the host's (containerlab's single-ended link types).
    pub kind: LinkKind,
    /// Endpoint `mac:` addresses the file sets, as `aa:bb:cc:dd:ee:ff`.
    pub macs: BTreeMap<Endpoint, String>,
    /// `impair:` merged over `defaults.impair`: the impairment of the frames each endpoint
    /// sends into the link, by that endpoint; endpoints with nothing set are absent.
    pub impair: Impairs,
    /// `state: down`: the cable is pulled (both ends see NO-CARRIER).
    pub down: bool,
    /// `flap:`: the cable is pulled and put back on a schedule while `watch --lab` runs.
    pub flap: Option<crate::impair::flap::Flap>,
    /// The 1-based line where the link starts in the file, for messages.
    pub line: usize,
    /// Where the file asks for this link's delay, jitter or reordering (its `impair` key, or
    /// `defaults.impair`), as line and column: a kernel without netem is refused there.
    #[serde(skip)]
    pub netem_at: Option<(usize, usize)>,
    /// The 1-based column (in characters) where the link starts on [`LinkSpec::line`]; 0 when
    /// not known.
    pub column: usize,
}

/// A link's impairments by the endpoint whose sent frames they act on (as `patchwire impair
/// --lab FILE NODE:IF`). Equal when their values are: the values are never NaN (the units
/// refuse it), so equality is an equivalence.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impairs(pub BTreeMap<Endpoint, crate::impair::Impairment>);

impl Eq for Impairs {}

/// containerlab's link `type:`. Single-ended types have one endpoint in `endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// Between nodes: `veth`, or the brief form `endpoints: [A:IF, B:IF]`.
    Veth,
    /// `type: host`: the endpoint joined to an interface in the host's namespace.
    Host {
        /// `host-interface`: the host side's name.
        host_interface: String,
    },
    /// `type: mgmt-net`: the endpoint joined to the management network's bridge.
    MgmtNet {
        /// `host-interface`: the host side's name.
        host_interface: String,
    },
    /// `type: macvlan`: a macvlan of a host interface as the endpoint.
    Macvlan {
        /// `host-interface`: the host's interface the macvlan sits on.
        host_interface: String,
        /// `mode:` (bridge, vepa, private, passthru; default bridge).
        mode: String,
    },
    /// `type: vxlan` or `vxlan-stitch`: the endpoint's frames in a VXLAN tunnel.
    Vxlan {
        /// `remote:`: the far tunnel end.
        remote: IpAddr,
        /// `vni:`.
        vni: u32,
        /// `udp-port:` (containerlab's default 14789).
        udp_port: u16,
        /// `dev:`: the host interface the tunnel leaves by.
        dev: Option<String>,
        /// `vxlan-stitch`: containerlab's variant (a veth stitched to the tunnel).
        stitch: bool,
    },
    /// `type: dummy`: a dummy interface in the node.
    Dummy,
}

impl LinkSpec {
    /// Three or more endpoints: a hub segment rather than a wire.
    pub fn is_hub(&self) -> bool {
        self.endpoints.len() > 2
    }

    /// `FILE:LINE:COL` of the link in the lab file at `path`, for messages.
    pub fn at(&self, path: &str) -> String {
        match self.column {
            0 => format!("{path}:{}", self.line),
            column => format!("{path}:{}:{column}", self.line),
        }
    }
}

/// One mirror (`topology.mirrors`): copies of the frames crossing some links' endpoints, sent
/// out of an analyzer's endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorFileSpec {
    /// 1-15 characters from A-Z a-z 0-9 _ . - ([`validate_mirror_name`]), unique in the file.
    pub name: String,
    /// The endpoints whose frames are copied: at least one, all different, each an endpoint
    /// of a link, each on the host of `to`.
    pub from: Vec<Endpoint>,
    /// The analyzer's endpoint: in no link (the lab makes it like any endpoint, a veth into
    /// the node) and not in `from`; it is sent the copies and nothing else. Several mirrors
    /// may share it.
    pub to: Endpoint,
    /// Which frames of each `from` endpoint, from the node's point of view (default both).
    pub direction: MirrorSide,
    /// `vlan:`: only frames whose outer VLAN ID is in the set, as [`VlanSet`]'s normalized
    /// text (`100,200-210`, which `VlanSet::parse` reads back); `None`: every frame.
    pub vlans: Option<String>,
    /// `output-vlan:` (RSPAN): the copies leave `to` tagged with this VLAN ID, in
    /// [`OUTPUT_VLAN_RANGE`].
    pub output_vlan: Option<u16>,
    /// `filter:`: only frames matching this tcpdump expression (`mirror add --filter`).
    pub filter: Option<String>,
    /// The 1-based line where the mirror's entry starts in the file, for messages.
    pub line: usize,
    /// The 1-based column (in characters) where it starts on that line; 0 when not known.
    pub column: usize,
}

impl MirrorFileSpec {
    /// `FILE:LINE:COL` of the mirror in the lab file at `path`, for messages.
    pub fn at(&self, path: &str) -> String {
        match self.column {
            0 => format!("{path}:{}", self.line),
            column => format!("{path}:{}:{column}", self.line),
        }
    }
}

/// Which frames of an endpoint a mirror copies, seen from the node that has the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MirrorSide {
    /// The frames the node sends out of the interface.
    Tx,
    /// The frames the node receives on the interface.
    Rx,
    /// Both.
    Both,
}

impl MirrorSide {
    /// Copies the frames the node sends out of the interface (`tx` or `both`).
    pub fn copies_tx(self) -> bool {
        matches!(self, MirrorSide::Tx | MirrorSide::Both)
    }

    /// Copies the frames the node receives on the interface (`rx` or `both`).
    pub fn copies_rx(self) -> bool {
        matches!(self, MirrorSide::Rx | MirrorSide::Both)
    }
}

impl fmt::Display for MirrorSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MirrorSide::Tx => "tx",
            MirrorSide::Rx => "rx",
            MirrorSide::Both => "both",
        })
    }
}

/// Why a lab file cannot be used. Displayed as `FILE:LINE:COL: what is wrong` whenever the
/// place is known.
#[derive(Debug, thiserror::Error)]
pub enum LabFileError {
    /// The file could not be read.
    #[error("reading lab file {path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// Something is wrong at a place in the file (line and column are 1-based; columns count
    /// characters).
    #[error("{path}:{line}:{column}: {message}")]
    At {
        /// The path as given.
        path: String,
        /// The line, 1-based.
        line: usize,
        /// The column, 1-based, in characters.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// Something is wrong with the file as a whole.
    #[error("{path}: {message}")]
    Invalid {
        /// The path as given.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Several things are wrong, each at its place, in file order: shown one per line.
    #[error("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several {
        /// At least two errors.
        errors: Vec<LabFileError>,
    },
}

impl LabFileError {
    /// One error as itself, several in file order as [`LabFileError::Several`].
    fn several(mut errors: Vec<LabFileError>) -> LabFileError {
        let place = |e: &LabFileError| match e {
            LabFileError::At { line, column, .. } => (*line, *column),
            _ => (0, 0),
        };
        errors.sort_by_key(place);
        errors.dedup_by(|a, b| a.to_string() == b.to_string());
        match errors.len() {
            1 => errors.remove(0),
            _ => LabFileError::Several { errors },
        }
    }

    fn new(path: &str, position: Option<(usize, usize)>, message: String) -> LabFileError {
        let path = path.to_string();
        let message = elide(&message);
        match position {
            Some((line, column)) => LabFileError::At {
                path,
                line,
                column,
                message,
            },
            None => LabFileError::Invalid { path, message },
        }
    }
}

/// A message with every word longer than 80 characters cut to its first 40 (a 64 KB name is
/// not echoed whole); a closing quote or bracket stays.
fn elide(message: &str) -> String {
    const LONG: usize = 80;
    const KEPT: usize = 40;
    if message.len() <= LONG {
        return message.to_string();
    }
    let words: Vec<String> = message
        .split(' ')
        .map(|word| {
            if word.chars().count() <= LONG {
                return word.to_string();
            }
            let closing =
                |c: char| matches!(c, '"' | '\'' | '`' | ')' | ']' | '}' | ',' | ':' | ';');
            let body = word.trim_end_matches(closing);
            let kept: String = body.chars().take(KEPT).collect();
            format!("{kept}…{}", &word[body.len()..])
        })
        .collect();
    words.join(" ")
}

/// Reads and checks the lab file at `path` (`-` is stdin).
pub fn load(path: &str) -> Result<LabFile, LabFileError> {
    let (shown, text) = read_source(path)?;
    parse(&shown, &text)
}

/// [`load`] for `plan` and `up`, which make containers: also what only matters then (each
/// `binds:` source exists), said with the file's other errors.
pub fn load_to_run(path: &str) -> Result<LabFile, LabFileError> {
    let (shown, text) = read_source(path)?;
    parse_to_run(&shown, &text)
}

/// [`parse`] for `plan` and `up` (see [`load_to_run`]).
pub fn parse_to_run(path: &str, text: &str) -> Result<LabFile, LabFileError> {
    parse_with(path, text, &|name| std::env::var(name).ok(), true)
}

/// Checks a lab file's text; `path` names the file in messages, and its folder is where
/// relative `binds:` and `env-files:` are (the current folder for stdin). `${VAR}` is expanded
/// from the environment first, as containerlab does (`expand.rs`).
pub fn parse(path: &str, text: &str) -> Result<LabFile, LabFileError> {
    parse_with(path, text, &|name| std::env::var(name).ok(), false)
}

/// [`parse`], with the environment given.
#[cfg(test)]
fn parse_with_env(
    path: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LabFile, LabFileError> {
    parse_with(path, text, env, false)
}

/// [`parse`], with the environment given; `run`: checking for `plan` and `up`.
fn parse_with(
    path: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    run: bool,
) -> Result<LabFile, LabFileError> {
    // serde_norway takes a byte-order mark for a second document; editors do not count it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let content = text
        .lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with('#'));
    if !content {
        return Err(LabFileError::new(
            path,
            None,
            "the file is empty: a lab file needs `name:` and `topology:`".into(),
        ));
    }
    if let Some(position) = too_deep(text) {
        return Err(LabFileError::new(
            path,
            Some(position),
            format!(
                "nested deeper than {DEPTH_MAX} levels here; a lab file needs 6 (containerlab's \
                 `vars:` a few more)"
            ),
        ));
    }
    let (expanded, kept) = expand::expand(text, env)
        .map_err(|(position, message)| LabFileError::new(path, Some(position), message))?;
    let text = expanded.as_str();
    let mut notes = Vec::new();
    if !kept.is_empty() {
        let names: Vec<String> = kept.iter().map(|k| format!("${k}")).collect();
        notes.push(format!(
            "environment variables not set (or empty), left as written as containerlab does: {}",
            names.join(", ")
        ));
    }
    // The first pass: every unknown key, vendor node and undefined node at once.
    let mut errors = Vec::new();
    let mut skip: Vec<Vec<locate::Seg>> = Vec::new();
    let mut unrun = Vec::new();
    if let Ok(doc) = serde_norway::from_str::<serde_norway::Value>(text) {
        let line = |segs: &[locate::Seg]| locate::locate(text, segs, false).map_or(0, |p| p.0);
        let scan = scan::scan(&doc, &line);
        for p in &scan.problems {
            let position = locate::locate(text, &p.segs, p.at_key)
                .or_else(|| locate::locate(text, &p.segs, false));
            errors.push(LabFileError::new(path, position, p.message.clone()));
            if p.sets_aside {
                skip.push(recover::item_or_key(p.segs.clone()));
            }
        }
        notes.extend(scan.notes());
        unrun = scan.unrun;
    }
    // Then serde_norway, every wrong value at once (`recover.rs`), then the checks, which
    // say nothing more about a place already found wrong.
    let said: Vec<usize> = errors
        .iter()
        .filter_map(|e| match e {
            LabFileError::At { line, .. } => Some(*line),
            _ => None,
        })
        .collect();
    let read = recover::read(path, text, &said);
    let message = |e: &LabFileError| match e {
        LabFileError::At { message, .. } | LabFileError::Invalid { message, .. } => message.clone(),
        _ => String::new(),
    };
    // A node whose name is refused: its endpoints are not named again.
    for e in &read.errors {
        let m = message(e);
        if let Some(rest) = m.strip_prefix("node \"").or(m.strip_prefix("node name \""))
            && let Some((name, _)) = rest.split_once('"')
        {
            unrun.push(name.to_string());
        }
    }
    // A vendor node's endpoints are named the vendor's way: its refusal says all there is.
    errors.extend(read.errors.into_iter().filter(|e| {
        let m = message(e);
        !unrun
            .iter()
            .any(|node| m.starts_with(&format!("endpoint \"{node}:")))
    }));
    skip.extend(read.places);
    let Some(raw) = read.raw else {
        return Err(LabFileError::several(errors));
    };
    let folder = match path {
        "-" | "<stdin>" => std::path::PathBuf::from("."),
        _ => std::path::Path::new(path)
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default(),
    };
    let folder = match folder.as_os_str().is_empty() {
        true => std::path::PathBuf::from("."),
        false => folder,
    };
    let folder = std::path::absolute(&folder).unwrap_or(folder);
    let checked = Check {
        path,
        text,
        folder: &folder,
        ids_at: Default::default(),
        errors: Default::default(),
        notes,
        unused: Default::default(),
        failed: Default::default(),
        skip,
        run,
    }
    .lab(raw);
    match checked {
        Ok(lab) if errors.is_empty() => Ok(lab),
        Ok(_) => Err(LabFileError::several(errors)),
        Err(e) => {
            errors.extend(match e {
                LabFileError::Several { errors } => errors,
                e => vec![e],
            });
            Err(LabFileError::several(errors))
        }
    }
}

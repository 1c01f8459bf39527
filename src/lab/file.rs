//! The lab file: one YAML document that describes a whole lab — its nodes, the links between
//! their interfaces, the mirrors that copy their traffic to an analyzer and, for a lab over
//! several machines, the hosts — read into a checked [`LabFile`]. The format is documented in
//! docs/labs.md.
//!
//! This module owns the format and every check that needs no kernel: names, ranges, unknown
//! keys, references between nodes, hosts, links and mirrors, duplicates. Whether a namespace
//! exists, MTUs against the underlay and which host this machine is belong to the lab's
//! planning. Every error names its place, `FILE:LINE:COL: what is wrong`.
//!
//! Reading is bounded: at most [`FILE_MAX`] bytes, FIFOs and devices without waiting forever
//! ([`read_source`]), UTF-8, and no deeper than [`DEPTH_MAX`] levels (checked by a scan before
//! any parser runs, as YAML parsers slow down with the square of the depth).
//!
//! Reading takes serde_norway passes over the text. The first deserializes: syntax errors,
//! unknown keys, types and ranges come with serde_norway's position. Cross-reference checks
//! (an undefined node, an endpoint in two links…) run on the result; to point at the offending
//! text, `locate` walks the document again to that node and stops there with a marker error
//! whose position serde_norway reports. The line of a link or a mirror comes from one such walk
//! to its list and a scan of the list's items (`sequence_items`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::mirror::spec::{VlanSet, selections_overlap, validate_mirror_name};
use crate::nl::link::validate_name;

/// MTU of a link when neither the link nor `defaults:` sets one.
pub const DEFAULT_MTU: u32 = 1500;
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
/// The highest process id Linux can give (PID_MAX_LIMIT).
const PID_MAX: u32 = 4_194_304;
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
    /// The link's `mtu:`, or the file's default.
    pub mtu: u32,
    /// The link's `tx-checksum:`, or the file's default (`None`: leave as is).
    pub tx_checksum: Option<bool>,
    /// The VXLAN VNI of a cross-host link, when the file sets one (unique among links).
    pub vni: Option<u32>,
    /// How a two-endpoint link's wire moves frames: the link's `datapath:`, or the file's
    /// default (tc). Hubs are always tc.
    pub datapath: crate::wire::Datapath,
    /// The 1-based line where the link starts in the file, for messages.
    pub line: usize,
}

impl LinkSpec {
    /// Three or more endpoints: a hub segment rather than a wire.
    pub fn is_hub(&self) -> bool {
        self.endpoints.len() > 2
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
}

impl LabFileError {
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

/// The largest lab file read. A lab of 10,000 links is about 500 KB; anything much larger is
/// the wrong file (`/dev/zero`, a disk image), refused before it fills memory.
pub const FILE_MAX: usize = 4 << 20;

/// The deepest nesting of mappings and lists a lab file may have. A lab needs 6 levels
/// (`topology: links: - endpoints: - {node:}`), containerlab's `vars:` a few more; YAML
/// parsers slow down with the square of the depth (64 KiB of `[` took 85 s), so deeper files
/// are refused before parsing.
pub const DEPTH_MAX: usize = 64;

/// How long a FIFO or device may stay silent while it is read: a FIFO nobody writes to would
/// otherwise block forever. Stdin is read without a limit, like any filter's input.
pub const IDLE_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// The text of the lab file at `path` and the name to give it in messages: `-` reads stdin
/// (named `<stdin>`). At most [`FILE_MAX`] bytes are read from anything; FIFOs and devices are
/// read without blocking for longer than [`IDLE_MAX`] at a time. The text must be UTF-8.
pub fn read_source(path: &str) -> Result<(String, String), LabFileError> {
    use std::io::Read;
    let read_error = |source: std::io::Error| LabFileError::Read {
        path: path.to_string(),
        source,
    };
    let (shown, bytes) = if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(FILE_MAX as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        ("<stdin>".to_string(), bytes)
    } else {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking, so that opening a FIFO with no writer returns at once.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        if meta.is_dir() {
            return Err(LabFileError::new(
                path,
                None,
                "is a directory, not a lab file".into(),
            ));
        }
        if meta.is_file() && meta.len() > FILE_MAX as u64 {
            return Err(too_big(path));
        }
        let bytes = if meta.is_file() {
            let mut bytes = Vec::new();
            (&file)
                .take(FILE_MAX as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(read_error)?;
            bytes
        } else {
            read_patiently(path, file)?
        };
        (path.to_string(), bytes)
    };
    if bytes.len() > FILE_MAX {
        return Err(too_big(&shown));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let column = valid
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .chars()
            .count()
            + 1;
        let byte = e.as_bytes()[valid.len()];
        LabFileError::new(
            &shown,
            Some((line, column)),
            format!("byte 0x{byte:02x} is not UTF-8: a lab file is UTF-8 text"),
        )
    })?;
    Ok((shown, text))
}

fn too_big(path: &str) -> LabFileError {
    LabFileError::new(
        path,
        None,
        format!(
            "larger than {} MiB, the most a lab file may be (10,000 links take about 500 KB); \
             is this the lab file?",
            FILE_MAX >> 20
        ),
    )
}

/// Reads a FIFO or a device opened non-blocking: at most [`FILE_MAX`] + 1 bytes, waiting at
/// most [`IDLE_MAX`] for each chunk.
fn read_patiently(path: &str, mut file: std::fs::File) -> Result<Vec<u8>, LabFileError> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    while bytes.len() <= FILE_MAX {
        let mut poll = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd that lives for the call; the fd is open.
        let ready = unsafe { libc::poll(&mut poll, 1, IDLE_MAX.as_millis() as libc::c_int) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(LabFileError::Read {
                path: path.to_string(),
                source: error,
            });
        }
        if ready == 0 {
            return Err(LabFileError::new(
                path,
                None,
                format!(
                    "nothing to read for {} s (a FIFO that no program writes to?)",
                    IDLE_MAX.as_secs()
                ),
            ));
        }
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) => {}
            Err(source) => {
                return Err(LabFileError::Read {
                    path: path.to_string(),
                    source,
                });
            }
        }
    }
    Ok(bytes)
}

/// Checks a lab file's text; `path` names the file in messages.
pub fn parse(path: &str, text: &str) -> Result<LabFile, LabFileError> {
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
    let raw: RawFile = serde_norway::from_str(text).map_err(|e| {
        // serde_norway deserializes the events parsed before a syntax error first, so a
        // truncated document can fail on its types instead: report the syntax error.
        let syntax = serde_norway::from_str::<IgnoredAny>(text).err();
        from_serde(path, text, syntax.as_ref().unwrap_or(&e))
    })?;
    Check { path, text }.lab(raw)
}

/// A complete lab on one machine, with every key but the multi-host ones: the example of
/// docs/labs.md.
pub fn example() -> &'static str {
    EXAMPLE
}

/// A lab over two machines: `hosts:`, `host:`, `vxlan:` and `vni:` (in docs/labs.md too).
pub fn example_multi_host() -> &'static str {
    EXAMPLE_MULTI_HOST
}

const EXAMPLE: &str = r#"# A lab on one machine: two routers joined by a wire, a three-way segment, an existing
# namespace, a qemu VM, and an analyzer that is sent a copy of one router's traffic.
name: demo                  # required: 1-32 characters from A-Z a-z 0-9 _ -

defaults:                   # optional
  mtu: 9000                 # MTU of every link that sets none (68..=65535; default 1500)
  tx-checksum: off          # TX checksum offload on the lab's interfaces: on, off or unset
                            #   (default unset: each interface keeps its own setting)

topology:
  nodes:
    r1: {}                  # a namespace the lab creates, named demo-r1
    r2: {}
    r3:                     # an empty entry is a namespace too
    sw:                     # an existing namespace: a name under /run/netns,
      netns: clab-demo-sw   #   an absolute path (/proc/PID/ns/net), or {pid: PID}
    vm1:
      kind: vm              # namespace (the default) or vm: the node's endpoints are persistent
                            #   taps for qemu, made in namespace demo-vm1
      owner: qemu           # user (name or uid) that may open the taps, for an unprivileged qemu
      group: kvm            # group (name or gid) that may open the taps
      vnet-hdr: true        # taps carry a virtio-net header (default true)
      queues: 2             # queues per tap (1..=256, default 1)
    mon: {}                 # the analyzer: run tcpdump or Wireshark in namespace demo-mon
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]             # two endpoints: a wire
    - endpoints: ["r1:eth2", "r2:eth2", "r3:eth2"]  # three or more: a hub segment
      mtu: 1500                                     # this link's MTU
    - endpoints: ["r3:eth1", "sw:e1-1"]
      tx-checksum: on                               # this link's setting, not the default
    - type: veth                                    # containerlab's extended form, pasted as is
      endpoints:
        - {node: vm1, interface: tap1}
        - {node: sw, interface: e1-2}
      mtu: 9000
      vars: {cost: 10}                              # containerlab's vars and labels are ignored
  mirrors:                                          # optional: copies of links' frames
    - name: tap1                                    # 1-15 characters from A-Z a-z 0-9 _ . -
      from: ["r1:eth1"]                             # endpoints of links, whose frames are copied
      to: "mon:eth1"                                # in no link: the lab makes it like any
                                                    #   endpoint and sends it the copies only
      direction: both                               # tx: what r1 sends out of eth1, rx: what it
                                                    #   receives on eth1, or both (the default)
      # vlan: "100,200-210"                         # only frames of these VLANs (default: all)
      # output-vlan: 999                            # RSPAN: copies leave tagged (1..=4094)
"#;

const EXAMPLE_MULTI_HOST: &str = r#"# A lab over two machines: a link between nodes on different hosts is a VXLAN tunnel
# between the hosts' addresses.
name: spread

hosts:                      # order matters: a node without host: is on the first host
  a: {address: 198.18.1.1}  # each host's underlay address, IPv4 or IPv6 (required)
  b: {address: 198.18.1.2}

vxlan:
  port: 4789                # UDP port of cross-host links (1..=65535, default 4789)

topology:
  nodes:
    r1: {}                  # on host a, the first
    r2: {host: b}
    r3: {host: b}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]   # from host a to host b
      mtu: 1450                           # VXLAN adds 50 bytes (70 over IPv6): 1450 fits a
                                          #   1500-byte underlay (up checks it)
      vni: 1001                           # this link's VXLAN VNI (1..=16777215), instead of
                                          #   the one the lab picks
    - endpoints: ["r2:eth2", "r3:eth2"]   # both on host b: a local wire
"#;

// ---------------------------------------------------------------------------------------------
// Checks that follow deserialization: references and duplicates.

struct Check<'a> {
    path: &'a str,
    text: &'a str,
}

impl Check<'_> {
    /// An error at the node (or, with `at_key`, the key) the path leads to; at its parent when
    /// the walk does not get there.
    fn error(&self, segs: &[Seg], at_key: bool, message: String) -> LabFileError {
        let mut position = locate(self.text, segs, at_key);
        let mut len = segs.len();
        while position.is_none() && len > 0 {
            len -= 1;
            position = locate(self.text, &segs[..len], false);
        }
        LabFileError::new(self.path, position, message)
    }

    fn lab(&self, raw: RawFile) -> Result<LabFile, LabFileError> {
        let hosts = self.hosts(raw.hosts.unwrap_or_default())?;
        let nodes = self.nodes(raw.topology.nodes, &hosts)?;
        let defaults = raw.defaults.unwrap_or_default();
        let mtu = defaults.mtu.map_or(DEFAULT_MTU, |m| m.0);
        let tx_checksum = defaults.tx_checksum.and_then(|t| t.0);
        let datapath = defaults.datapath.map(|d| d.0).unwrap_or_default();
        let links = self.links(
            raw.topology.links.unwrap_or_default(),
            &nodes,
            (mtu, tx_checksum, datapath),
        )?;
        let mirrors = self.mirrors(
            raw.topology.mirrors.unwrap_or_default(),
            &nodes,
            &links,
            mtu,
        )?;
        Ok(LabFile {
            name: raw.name.0,
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
            mirrors,
        })
    }

    fn hosts(&self, raw: Vec<(String, RawHost)>) -> Result<Vec<(String, HostSpec)>, LabFileError> {
        let mut by_address: HashMap<IpAddr, &str> = HashMap::new();
        for (name, host) in &raw {
            if let Some(first) = by_address.insert(host.address.0, name) {
                return Err(self.error(
                    &[key("hosts"), key(name), key("address")],
                    false,
                    format!(
                        "host {name} has the same address as host {first} ({})",
                        host.address.0
                    ),
                ));
            }
        }
        Ok(raw
            .into_iter()
            .map(|(name, host)| {
                (
                    name,
                    HostSpec {
                        address: host.address.0,
                    },
                )
            })
            .collect())
    }

    fn nodes(
        &self,
        raw: Vec<(String, Option<RawNode>)>,
        hosts: &[(String, HostSpec)],
    ) -> Result<BTreeMap<String, NodeSpec>, LabFileError> {
        let mut nodes = BTreeMap::new();
        let mut namespaces: HashMap<String, String> = HashMap::new();
        for (name, node) in raw {
            let node = node.unwrap_or_default();
            let netns = node.netns.map(|n| n.0);
            let at = |k: &str| [key("topology"), key("nodes"), key(&name), key(k)];
            let host = match (node.host, hosts.first()) {
                (Some(host), None) => {
                    return Err(self.error(
                        &at("host"),
                        false,
                        format!("node {name} has `host: {host}`, but the file has no `hosts:`"),
                    ));
                }
                (Some(host), Some(_)) if !hosts.iter().any(|(h, _)| *h == host) => {
                    let defined: Vec<&str> = hosts.iter().map(|(h, _)| h.as_str()).collect();
                    return Err(self.error(
                        &at("host"),
                        false,
                        format!(
                            "node {name} is on host {host}, which `hosts:` does not define \
                             (hosts: {})",
                            defined.join(", ")
                        ),
                    ));
                }
                (Some(host), Some(_)) => Some(host),
                (None, first) => first.map(|(h, _)| h.clone()),
            };
            let kind = match node.kind {
                None | Some(RawKind::Namespace) => {
                    let vm_only = [
                        ("owner", node.owner.is_some()),
                        ("group", node.group.is_some()),
                        ("vnet-hdr", node.vnet_hdr.is_some()),
                        ("queues", node.queues.is_some()),
                    ];
                    if let Some((k, _)) = vm_only.iter().find(|(_, set)| *set) {
                        return Err(self.error(
                            &at(k),
                            true,
                            format!(
                                "`{k}` is only for nodes of `kind: vm`; node {name} is a namespace"
                            ),
                        ));
                    }
                    NodeKind::Namespace
                }
                Some(RawKind::Vm) => {
                    if netns.is_some() {
                        return Err(self.error(
                            &at("netns"),
                            true,
                            format!(
                                "node {name} has both `kind: vm` and `netns:`; a VM's taps are made in \
                                 a namespace the lab creates, so remove one of them"
                            ),
                        ));
                    }
                    NodeKind::Vm(VmSpec {
                        owner: node.owner.map(|o| o.0),
                        group: node.group.map(|g| g.0),
                        vnet_hdr: node.vnet_hdr.unwrap_or(true),
                        queues: node.queues.map_or(1, |q| q.0),
                    })
                }
            };
            if let Some(netns) = &netns
                && let Some(other) = namespaces.insert(netns.key(), name.clone())
            {
                return Err(self.error(
                    &at("netns"),
                    false,
                    format!(
                        "node {name} is in the same namespace as node {other} ({netns}); \
                         give each namespace one node"
                    ),
                ));
            }
            nodes.insert(name, NodeSpec { kind, host, netns });
        }
        Ok(nodes)
    }

    fn links(
        &self,
        raw: Vec<RawLink>,
        nodes: &BTreeMap<String, NodeSpec>,
        (mtu, tx_checksum, datapath): (u32, Option<bool>, crate::wire::Datapath),
    ) -> Result<Vec<LinkSpec>, LabFileError> {
        let lines = item_lines(self.text, "links", raw.len());
        let mut links: Vec<LinkSpec> = Vec::with_capacity(raw.len());
        let mut link_of: HashMap<&Endpoint, usize> = HashMap::new();
        let mut vnis: HashMap<u32, usize> = HashMap::new();
        for (i, link) in raw.iter().enumerate() {
            let at = |k: &str| vec![key("topology"), key("links"), Seg::Index(i), key(k)];
            let n = link.endpoints.len();
            if n < 2 {
                let has = if n == 0 {
                    "none".to_string()
                } else {
                    n.to_string()
                };
                return Err(self.error(
                    &at("endpoints"),
                    false,
                    format!("a link needs at least two endpoints; this one has {has}"),
                ));
            }
            for (j, endpoint) in link.endpoints.iter().map(|e| &e.0).enumerate() {
                let mut segs = at("endpoints");
                segs.push(Seg::Index(j));
                if !nodes.contains_key(&endpoint.node) {
                    return Err(self.error(&segs, false, undefined_node(endpoint, nodes)));
                }
                if link.endpoints[..j].iter().any(|e| e.0 == *endpoint) {
                    return Err(self.error(
                        &segs,
                        false,
                        format!("endpoint {endpoint} appears twice in this link"),
                    ));
                }
                if let Some(&first) = link_of.get(endpoint) {
                    return Err(self.error(
                        &segs,
                        false,
                        format!(
                            "endpoint {endpoint} is in two links (lines {} and {})",
                            lines[first], lines[i]
                        ),
                    ));
                }
                link_of.insert(endpoint, i);
            }
            if let Some(vni) = &link.vni
                && let Some(first) = vnis.insert(vni.0, i)
            {
                return Err(self.error(
                    &at("vni"),
                    false,
                    format!(
                        "vni {} is used by two links (lines {} and {})",
                        vni.0, lines[first], lines[i]
                    ),
                ));
            }
            let link_mtu = link.mtu.as_ref().map_or(mtu, |m| m.0);
            let on_vm = link
                .endpoints
                .iter()
                .map(|e| &e.0)
                .find(|e| matches!(nodes[&e.node].kind, NodeKind::Vm(_)));
            if let Some(tap) = on_vm
                && link_mtu > TAP_MTU_MAX
            {
                let (segs, from) = match link.mtu {
                    Some(_) => (at("mtu"), "this link's"),
                    None => (vec![key("defaults"), key("mtu")], "the default"),
                };
                return Err(self.error(
                    &segs,
                    false,
                    format!(
                        "{from} mtu {link_mtu} is more than a tap takes ({TAP_MTU_MAX}), and \
                         {tap} is a VM's tap: set `mtu:` of the link on line {} to at most \
                         {TAP_MTU_MAX}",
                        lines[i]
                    ),
                ));
            }
            links.push(LinkSpec {
                endpoints: link.endpoints.iter().map(|e| e.0.clone()).collect(),
                mtu: link_mtu,
                tx_checksum: link.tx_checksum.as_ref().map_or(tx_checksum, |t| t.0),
                vni: link.vni.as_ref().map(|v| v.0),
                datapath: link.datapath.as_ref().map_or(datapath, |d| d.0),
                line: lines[i],
            });
        }
        Ok(links)
    }

    fn mirrors(
        &self,
        raw: Vec<RawMirror>,
        nodes: &BTreeMap<String, NodeSpec>,
        links: &[LinkSpec],
        mtu: u32,
    ) -> Result<Vec<MirrorFileSpec>, LabFileError> {
        let mut compiled: HashMap<String, Option<String>> = HashMap::new();
        let lines = item_lines(self.text, "mirrors", raw.len());
        let link_of: HashMap<&Endpoint, &LinkSpec> = links
            .iter()
            .flat_map(|l| l.endpoints.iter().map(move |e| (e, l)))
            .collect();
        let mut named: HashMap<String, usize> = HashMap::new();
        // What each mirror copies to each destination, for frames that would arrive twice.
        let mut copies: HashMap<(Endpoint, Stream), Vec<Copied>> = HashMap::new();
        let mut mirrors: Vec<MirrorFileSpec> = Vec::with_capacity(raw.len());
        for (i, mirror) in raw.into_iter().enumerate() {
            let at = |k: &str| vec![key("topology"), key("mirrors"), Seg::Index(i), key(k)];
            let item = [key("topology"), key("mirrors"), Seg::Index(i)];
            let Some(MirrorName(name)) = mirror.name else {
                return Err(self.error(
                    &item,
                    false,
                    format!(
                        "missing key `name` in a mirror: every mirror has a name (1-{} \
                         characters from A-Z a-z 0-9 _ . -)",
                        crate::mirror::spec::NAME_MAX
                    ),
                ));
            };
            if let Some(&first) = named.get(&name) {
                return Err(self.error(
                    &at("name"),
                    false,
                    format!(
                        "mirror {name} is defined twice (lines {} and {})",
                        lines[first], lines[i]
                    ),
                ));
            }
            named.insert(name.clone(), i);
            let Some(RawEndpoints(from)) = mirror.from else {
                return Err(self.error(
                    &item,
                    false,
                    format!(
                        "missing key `from` in mirror {name}: the endpoints whose frames are copied"
                    ),
                ));
            };
            if from.is_empty() {
                return Err(self.error(
                    &at("from"),
                    false,
                    format!("mirror {name} copies nothing: `from` needs at least one endpoint"),
                ));
            }
            let from_at = |j: usize| {
                let mut segs = at("from");
                segs.push(Seg::Index(j));
                segs
            };
            for (j, endpoint) in from.iter().enumerate() {
                if !nodes.contains_key(&endpoint.node) {
                    return Err(self.error(&from_at(j), false, undefined_node(endpoint, nodes)));
                }
                if from[..j].contains(endpoint) {
                    return Err(self.error(
                        &from_at(j),
                        false,
                        format!("endpoint {endpoint} appears twice in this mirror's `from`"),
                    ));
                }
                if !link_of.contains_key(endpoint) {
                    return Err(self.error(
                        &from_at(j),
                        false,
                        format!(
                            "endpoint {endpoint} is in no link; a mirror copies what crosses a \
                             link's endpoint"
                        ),
                    ));
                }
            }
            let Some(RawEndpoint(to)) = mirror.to else {
                return Err(self.error(
                    &item,
                    false,
                    format!(
                        "missing key `to` in mirror {name}: the analyzer's endpoint, in no link"
                    ),
                ));
            };
            if !nodes.contains_key(&to.node) {
                return Err(self.error(&at("to"), false, undefined_node(&to, nodes)));
            }
            if from.contains(&to) {
                return Err(self.error(
                    &at("to"),
                    false,
                    format!(
                        "endpoint {to} is both in `from` and the `to` of mirror {name}: a mirror \
                         cannot copy to one of its sources"
                    ),
                ));
            }
            if let Some(link) = link_of.get(&to) {
                return Err(self.error(
                    &at("to"),
                    false,
                    format!(
                        "{to} is an endpoint of the link on line {}; a mirror's destination \
                         must be in no link",
                        link.line
                    ),
                ));
            }
            let to_host = &nodes[&to.node].host;
            for (j, endpoint) in from.iter().enumerate() {
                let host = &nodes[&endpoint.node].host;
                if let (Some(host), Some(to_host)) = (host, to_host)
                    && host != to_host
                {
                    return Err(self.error(
                        &from_at(j),
                        false,
                        format!(
                            "mirror {name} copies {endpoint}, on host {host}, to {to}, on host \
                             {to_host}: a mirror's endpoints must all be on one host"
                        ),
                    ));
                }
            }
            if matches!(nodes[&to.node].kind, NodeKind::Vm(_)) && mtu > TAP_MTU_MAX {
                return Err(self.error(
                    &[key("defaults"), key("mtu")],
                    false,
                    format!(
                        "the default mtu {mtu} is more than a tap takes ({TAP_MTU_MAX}), and {to}, \
                         the destination of mirror {name}, is a VM's tap: set it to at most \
                         {TAP_MTU_MAX}"
                    ),
                ));
            }
            if let Some(filter) = &mirror.filter {
                let problem = compiled
                    .entry(filter.clone())
                    .or_insert_with(|| filter_problem(filter));
                if let Some(problem) = problem {
                    return Err(self.error(
                        &at("filter"),
                        false,
                        format!("mirror {name}: filter {:?}: {problem}", shown(filter)),
                    ));
                }
            }
            let direction = mirror.direction.map_or(MirrorSide::Both, |d| d.0);
            let vlans = mirror.vlan.map(|v| v.0);
            for (j, endpoint) in from.iter().enumerate() {
                let sides = [
                    (direction.copies_tx(), Side::Tx),
                    (direction.copies_rx(), Side::Rx),
                ];
                for side in sides.into_iter().filter(|(on, _)| *on).map(|(_, s)| s) {
                    let stream = Stream::of(endpoint, side, &link_of);
                    let earlier = copies.entry((to.clone(), stream.clone())).or_default();
                    let clash = earlier.iter().find(|c| {
                        c.mirror != i && selections_overlap(c.vlans.as_ref(), vlans.as_ref())
                    });
                    if let Some(clash) = clash {
                        let first = &mirrors[clash.mirror].name;
                        let message = if clash.endpoint == *endpoint {
                            format!(
                                "endpoint {endpoint} is copied to {to} by mirrors {first} and \
                                 {name}: frames would arrive twice"
                            )
                        } else {
                            let (sender, sent_by, receiver, received_by) = match side {
                                Side::Tx => (endpoint, &name, &clash.endpoint, first),
                                Side::Rx => (&clash.endpoint, first, endpoint, &name),
                            };
                            format!(
                                "mirror {sent_by} copies what {sender} sends and mirror \
                                 {received_by} what {receiver} receives, both to {to}: {sender} \
                                 and {receiver} are the two ends of the wire on line {}, so \
                                 these are the same frames and they would arrive twice",
                                link_of[endpoint].line
                            )
                        };
                        return Err(self.error(&from_at(j), false, message));
                    }
                    earlier.push(Copied {
                        mirror: i,
                        endpoint: endpoint.clone(),
                        vlans: vlans.clone(),
                    });
                }
            }
            mirrors.push(MirrorFileSpec {
                name,
                from,
                to,
                direction,
                vlans: vlans.as_ref().map(VlanSet::to_string),
                output_vlan: mirror.output_vlan.map(|v| v.0),
                filter: mirror.filter.clone(),
                line: lines[i],
            });
        }
        Ok(mirrors)
    }
}

/// One way frames cross an endpoint, as a mirror sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    Tx,
    Rx,
}

/// A stream of frames: what an endpoint sends or receives. What one end of a wire receives is
/// what the other end sends, so both name it by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Stream {
    endpoint: Endpoint,
    side: Side,
}

impl Stream {
    fn of(endpoint: &Endpoint, side: Side, link_of: &HashMap<&Endpoint, &LinkSpec>) -> Stream {
        let wire_peer = link_of
            .get(endpoint)
            .filter(|l| !l.is_hub())
            .and_then(|l| l.endpoints.iter().find(|e| *e != endpoint));
        match (side, wire_peer) {
            (Side::Rx, Some(peer)) => Stream {
                endpoint: peer.clone(),
                side: Side::Tx,
            },
            _ => Stream {
                endpoint: endpoint.clone(),
                side,
            },
        }
    }
}

/// A stream a mirror copies (from `endpoint`, maybe a wire's other end), to the destination
/// it is filed under.
struct Copied {
    mirror: usize,
    endpoint: Endpoint,
    vlans: Option<VlanSet>,
}

/// Why libpcap cannot compile a mirror's filter, or `None` when it can — or when libpcap
/// cannot be asked here (not installed, no right to make the scratch namespace it compiles
/// in): `up` reports that itself, and `down` or `graph` need no filter.
fn filter_problem(filter: &str) -> Option<String> {
    if filter.contains('\0') {
        return Some("contains a NUL byte".into());
    }
    match crate::capture::filter::compile(filter, u16::MAX.into()) {
        Err(crate::capture::filter::FilterError::Syntax { message, .. }) => Some(message),
        _ => None,
    }
}

/// A value as messages show it: at most 60 characters, then `…`.
fn shown(value: &str) -> String {
    const SHOWN: usize = 60;
    match value.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_string(),
    }
}

fn undefined_node(endpoint: &Endpoint, nodes: &BTreeMap<String, NodeSpec>) -> String {
    const SHOWN: usize = 12;
    let node = &endpoint.node;
    let defined = if nodes.is_empty() {
        "the file defines no nodes".to_string()
    } else {
        let mut names: Vec<&str> = nodes.keys().take(SHOWN).map(String::as_str).collect();
        if nodes.len() > SHOWN {
            names.push("…");
        }
        format!("nodes: {}", names.join(", "))
    };
    let hint = match node.as_str() {
        "host" => "; for containerlab's host endpoints, define a node with `netns: /proc/1/ns/net`",
        "mgmt-net" | "macvlan" => "; containerlab's mgmt-net and macvlan links are not supported",
        _ => "",
    };
    format!("endpoint {endpoint} names node {node}, which is not defined ({defined}){hint}")
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
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

// ---------------------------------------------------------------------------------------------
// The file as deserialized, before the checks above.

/// Starts the message of an error raised by this module's own deserializers, so that it can be
/// told from serde_norway's additions (the path before it, the position after it).
const MARK: char = '\u{1f}';

fn own<E: de::Error>(message: impl fmt::Display) -> E {
    E::custom(format!("{MARK}{message}"))
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a lab: a mapping with `name:` and `topology:`"
)]
struct RawFile {
    name: LabName,
    #[serde(default, deserialize_with = "hosts")]
    hosts: Option<Vec<(String, RawHost)>>,
    defaults: Option<RawDefaults>,
    vxlan: Option<RawVxlan>,
    topology: RawTopology,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a host: a mapping with `address:`")]
struct RawHost {
    address: Address,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a mapping"
)]
struct RawDefaults {
    mtu: Option<Mtu>,
    tx_checksum: Option<TxChecksum>,
    datapath: Option<DatapathKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
struct RawVxlan {
    port: Option<Port>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `nodes:` and `links:`"
)]
struct RawTopology {
    #[serde(default, deserialize_with = "nodes")]
    nodes: Vec<(String, Option<RawNode>)>,
    links: Option<Vec<RawLink>>,
    mirrors: Option<Vec<RawMirror>>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a node: a mapping"
)]
struct RawNode {
    kind: Option<RawKind>,
    host: Option<String>,
    netns: Option<RawNetns>,
    owner: Option<Id>,
    group: Option<Id>,
    vnet_hdr: Option<bool>,
    queues: Option<Queues>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a link: a mapping with `endpoints:`"
)]
struct RawLink {
    #[serde(rename = "type")]
    _type: Option<LinkType>,
    #[serde(default)]
    endpoints: Vec<RawEndpoint>,
    mtu: Option<Mtu>,
    tx_checksum: Option<TxChecksum>,
    vni: Option<Vni>,
    datapath: Option<DatapathKey>,
    // containerlab's; accepted so that its links can be pasted, and dropped.
    #[serde(rename = "vars")]
    _vars: Option<IgnoredAny>,
    #[serde(rename = "labels")]
    _labels: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a mirror: a mapping with `name:`, `from:` and `to:`"
)]
struct RawMirror {
    // All optional here: a missing one is refused with the mirror's name (`Check::mirrors`).
    name: Option<MirrorName>,
    from: Option<RawEndpoints>,
    to: Option<RawEndpoint>,
    direction: Option<RawSide>,
    vlan: Option<RawVlans>,
    output_vlan: Option<OutputVlan>,
    filter: Option<String>,
}

fn hosts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<(String, RawHost)>>, D::Error> {
    d.deserialize_map(Entries::<RawHost>::new("host")).map(Some)
}

fn nodes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Option<RawNode>)>, D::Error> {
    d.deserialize_map(Entries::<Option<RawNode>>::new("node"))
}

/// A mapping from names to values, in file order, with each name checked (and refused twice)
/// while it is read, so that errors point at the name.
struct Entries<V> {
    what: &'static str,
    value: PhantomData<V>,
}

impl<V> Entries<V> {
    fn new(what: &'static str) -> Self {
        Entries {
            what,
            value: PhantomData,
        }
    }
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
    type Value = Vec<(String, V)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a mapping of {0} names to {0}s", self.what)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = BTreeSet::new();
        let mut entries = Vec::new();
        while let Some(name) = map.next_key_seed(NameSeed {
            what: self.what,
            seen: Some(&seen),
        })? {
            let value = map.next_value()?;
            seen.insert(name.clone());
            entries.push((name, value));
        }
        Ok(entries)
    }
}

/// A lab, node or host name; with `seen`, a key that must not repeat.
struct NameSeed<'a> {
    what: &'static str,
    seen: Option<&'a BTreeSet<String>>,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} name", self.what)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        check_name(self.what, v).map_err(own)?;
        if self.seen.is_some_and(|seen| seen.contains(v)) {
            return Err(own(format!("{} {v} is defined twice", self.what)));
        }
        Ok(v.to_string())
    }
}

struct LabName(String);

impl<'de> Deserialize<'de> for LabName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NameSeed {
            what: "lab",
            seen: None,
        }
        .deserialize(d)
        .map(LabName)
    }
}

/// An integer in a range, named in messages.
struct Int {
    what: &'static str,
    lo: u64,
    hi: u64,
}

impl Int {
    fn out_of_range<E: de::Error>(&self, v: impl fmt::Display) -> E {
        own(format!(
            "{} {v} is out of range ({}..={})",
            self.what, self.lo, self.hi
        ))
    }
}

impl Visitor<'_> for Int {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an integer in {}..={}", self.lo, self.hi)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if (self.lo..=self.hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.out_of_range(v))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(self.out_of_range(v)),
        }
    }

    // YAML integers beyond 64 bits: out of every range here, said in the range's words.
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<u64, E> {
        Err(self.out_of_range(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<u64, E> {
        Err(self.out_of_range(v))
    }
}

macro_rules! ranged {
    ($name:ident, $t:ty, $what:literal, $lo:expr, $hi:expr) => {
        struct $name($t);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let int = Int {
                    what: $what,
                    lo: u64::from($lo),
                    hi: u64::from($hi),
                };
                let v = d.deserialize_any(int)?;
                <$t>::try_from(v).map($name).map_err(de::Error::custom)
            }
        }
    };
}

ranged!(Mtu, u32, "mtu", *MTU_RANGE.start(), *MTU_RANGE.end());
ranged!(Vni, u32, "vni", *VNI_RANGE.start(), *VNI_RANGE.end());
ranged!(Port, u16, "vxlan port", 1u16, u16::MAX);
ranged!(
    Queues,
    u16,
    "queues",
    *QUEUES_RANGE.start(),
    *QUEUES_RANGE.end()
);
ranged!(Pid, u32, "pid", 1u32, PID_MAX);
ranged!(
    OutputVlan,
    u16,
    "output-vlan",
    *OUTPUT_VLAN_RANGE.start(),
    *OUTPUT_VLAN_RANGE.end()
);

/// A mirror's `name:`.
struct MirrorName(String);

impl<'de> Deserialize<'de> for MirrorName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MirrorName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mirror name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MirrorName, E> {
                validate_mirror_name(v).map_err(own)?;
                Ok(MirrorName(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A mirror's `direction:`.
struct RawSide(MirrorSide);

impl<'de> Deserialize<'de> for RawSide {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSide;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tx, rx or both")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSide, E> {
                match v {
                    "tx" => Ok(RawSide(MirrorSide::Tx)),
                    "rx" => Ok(RawSide(MirrorSide::Rx)),
                    "both" => Ok(RawSide(MirrorSide::Both)),
                    _ => Err(own(format!(
                        "direction `{v}` is not tx, rx or both (tx: the frames the node sends \
                         out of the endpoint; rx: the frames it receives on it)"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A mirror's `vlan:`: VLAN IDs and ranges as text (`"100,200-210"`), or one ID as a number.
struct RawVlans(VlanSet);

impl<'de> Deserialize<'de> for RawVlans {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawVlans;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("VLAN IDs and ranges, such as \"100,200-210\", or one VLAN ID")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawVlans, E> {
                VlanSet::parse(v).map(RawVlans).map_err(own)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawVlans, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawVlans, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// `datapath:`: tc or ebpf.
struct DatapathKey(crate::wire::Datapath);

impl<'de> Deserialize<'de> for DatapathKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "tc" => Ok(DatapathKey(crate::wire::Datapath::Tc)),
            "ebpf" => Ok(DatapathKey(crate::wire::Datapath::Ebpf)),
            _ => Err(own(format!("datapath `{text}` is not tc or ebpf"))),
        }
    }
}

/// `tx-checksum:`: on, off (or true, false), or unset (`None`).
struct TxChecksum(Option<bool>);

impl<'de> Deserialize<'de> for TxChecksum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TxChecksum;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("on, off or unset")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<TxChecksum, E> {
                Ok(TxChecksum(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TxChecksum, E> {
                match v {
                    "on" | "true" => Ok(TxChecksum(Some(true))),
                    "off" | "false" => Ok(TxChecksum(Some(false))),
                    "unset" => Ok(TxChecksum(None)),
                    _ => Err(own(format!("tx-checksum `{v}` is not on, off or unset"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

struct Address(IpAddr);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an IPv4 or IPv6 address")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Address, E> {
                let address: IpAddr = v
                    .parse()
                    .map_err(|_| own(format!("address `{v}` is not an IPv4 or IPv6 address")))?;
                if address.is_unspecified() || address.is_multicast() {
                    return Err(own(format!("address {address} cannot be a host's address")));
                }
                Ok(Address(address))
            }
        }
        d.deserialize_str(V)
    }
}

/// A user or group, by name or number (resolved when the lab is made).
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name or a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                if v.is_empty()
                    || v.chars()
                        .any(|c| c == ':' || c.is_whitespace() || c.is_control())
                {
                    return Err(own(format!("{v:?} is not a user or group name")));
                }
                Ok(Id(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

enum RawKind {
    Namespace,
    Vm,
}

impl<'de> Deserialize<'de> for RawKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("namespace or vm")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawKind, E> {
                match v {
                    "namespace" => Ok(RawKind::Namespace),
                    "vm" => Ok(RawKind::Vm),
                    _ => Err(own(format!(
                        "node kind `{v}` is not supported: a node is a `namespace` (the default) \
                         or a `vm`"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// containerlab's link `type:`; only veth means a link between interfaces.
struct LinkType;

impl<'de> Deserialize<'de> for LinkType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LinkType;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("veth")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LinkType, E> {
                match v {
                    "veth" => Ok(LinkType),
                    _ => Err(own(format!(
                        "link type `{v}` is not supported: only veth-like links are \
                         (`type: veth`, or no `type:`)"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// `netns:`: a name, a path, or `{pid: PID}`.
struct RawNetns(NetnsRef);

impl<'de> Deserialize<'de> for RawNetns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNetns;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a namespace name, an absolute path or {pid: PID}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNetns, E> {
                NetnsRef::parse(v).map(RawNetns).map_err(own)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNetns, E> {
                Err(own(format!(
                    "netns {v} is a number: write `netns: {{pid: {v}}}` for a process's namespace, \
                     or `netns: \"{v}\"` for a namespace named {v}"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNetns, A::Error> {
                let mut pid = None;
                while map
                    .next_key_seed(KeySeed {
                        context: "in `netns:`",
                        known: &["pid"],
                    })?
                    .is_some()
                {
                    pid = Some(map.next_value::<Pid>()?.0);
                }
                pid.map(|pid| RawNetns(NetnsRef::Pid(pid)))
                    .ok_or_else(|| own("`netns:` as a mapping needs `pid`"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A link's endpoint: `NODE:IF`, or containerlab's `{node: NODE, interface: IF}`.
struct RawEndpoint(Endpoint);

impl<'de> Deserialize<'de> for RawEndpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEndpoint;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an endpoint: \"NODE:INTERFACE\" or {node: NODE, interface: INTERFACE}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEndpoint, E> {
                Endpoint::parse(v).map(RawEndpoint).map_err(own)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEndpoint, A::Error> {
                let (mut node, mut interface) = (None, None);
                while let Some(k) = map.next_key_seed(KeySeed {
                    context: "in an endpoint",
                    known: &["node", "interface"],
                })? {
                    let value = map.next_value::<String>()?;
                    if k == "node" {
                        node = Some(value);
                    } else {
                        interface = Some(value);
                    }
                }
                let (Some(node), Some(interface)) = (node, interface) else {
                    return Err(own("an endpoint needs `node` and `interface`"));
                };
                Endpoint::new(&node, &interface)
                    .map(RawEndpoint)
                    .map_err(|e| own(format!("endpoint {node}:{interface}: {e}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A mirror's `from:`: a list of endpoints.
struct RawEndpoints(Vec<Endpoint>);

impl<'de> Deserialize<'de> for RawEndpoints {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEndpoints;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of endpoints")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEndpoints, E> {
                Err(own(format!(
                    "`from` is a list of endpoints: write `from: [\"{v}\"]`"
                )))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEndpoints, A::Error> {
                let mut endpoints = Vec::new();
                while let Some(RawEndpoint(endpoint)) = seq.next_element()? {
                    endpoints.push(endpoint);
                }
                Ok(RawEndpoints(endpoints))
            }
        }
        d.deserialize_any(V)
    }
}

/// A key of a mapping this module reads by hand, refused (with a suggestion) when unknown.
struct KeySeed {
    context: &'static str,
    known: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        self.known
            .iter()
            .find(|k| **k == v)
            .copied()
            .ok_or_else(|| own(unknown_key(v, self.context, self.known)))
    }
}

// ---------------------------------------------------------------------------------------------
// serde_norway's errors, in this module's words.

/// Where in the file serde derive's messages happen, from serde_norway's path
/// (`topology.links[2]`), with the keys known there.
fn context(ypath: &str) -> (String, &'static [&'static str]) {
    const LINK: &[&str] = &[
        "endpoints",
        "mtu",
        "tx-checksum",
        "vni",
        "datapath",
        "type",
        "vars",
        "labels",
    ];
    const NODE: &[&str] = &[
        "kind", "host", "netns", "owner", "group", "vnet-hdr", "queues",
    ];
    const MIRROR: &[&str] = &["name", "from", "to", "direction", "vlan", "output-vlan"];
    match ypath {
        "" | "." => (
            "at the top level".into(),
            &["name", "hosts", "defaults", "vxlan", "topology"],
        ),
        "topology" => ("in topology".into(), &["nodes", "links", "mirrors"]),
        "defaults" => ("in defaults".into(), &["mtu", "tx-checksum", "datapath"]),
        "vxlan" => ("in vxlan".into(), &["port"]),
        _ => {
            if let Some(host) = ypath.strip_prefix("hosts.") {
                (format!("in host {host}"), &["address"])
            } else if let Some(node_name) = ypath.strip_prefix("topology.nodes.") {
                (format!("in node {node_name}"), NODE)
            } else if ypath.starts_with("topology.links[") {
                ("in a link".into(), LINK)
            } else if ypath.starts_with("topology.mirrors[") {
                ("in a mirror".into(), MIRROR)
            } else {
                (format!("in {ypath}"), &[])
            }
        }
    }
}

fn unknown_key(key: &str, context: &str, known: &[&str]) -> String {
    if key == "<<" {
        return format!("YAML merge keys (`<<`) are not supported {context}; write the keys out");
    }
    let quoted: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    match suggestion(key, known) {
        Some(s) => format!("unknown key `{key}` {context} (did you mean `{s}`?)"),
        None if known.is_empty() => format!("unknown key `{key}` {context}"),
        None => format!(
            "unknown key `{key}` {context} (known keys: {})",
            quoted.join(", ")
        ),
    }
}

/// The known key nearest to `key`, if within edit distance 2.
pub(crate) fn suggestion<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// `(serde_norway path, field)` of a serde derive message such as
/// "topology.links[0]: unknown field `mut`, expected one of …".
fn serde_field<'m>(message: &'m str, marker: &str) -> Option<(&'m str, &'m str)> {
    let at = message.find(marker)?;
    let field = message[at + marker.len()..].split('`').next()?;
    let ypath = &message[..at];
    Some((ypath.strip_suffix(": ").unwrap_or(ypath), field))
}

/// `(serde_norway path, what was found, what was expected)` of serde's
/// "PATH: invalid type: sequence, expected a lab name".
fn invalid_type(message: &str) -> Option<(&str, &str, &str)> {
    const MARKER: &str = "invalid type: ";
    let at = message.find(MARKER)?;
    let (found, expected) = message[at + MARKER.len()..].split_once(", expected ")?;
    let found = match found {
        "sequence" => "a list",
        "map" => "a mapping",
        "unit value" => "nothing",
        other => other,
    };
    let ypath = &message[..at];
    Some((ypath.strip_suffix(": ").unwrap_or(ypath), found, expected))
}

fn from_serde(path: &str, text: &str, err: &serde_norway::Error) -> LabFileError {
    let mut position = err.location().map(|l| (l.line(), l.column()));
    let mut message = err.to_string();
    if let Some((line, column)) = position {
        message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
    }
    let message = if let Some(at) = message.find(MARK) {
        message[at + MARK.len_utf8()..].to_string()
    } else if let Some((ypath, field)) = serde_field(&message, "unknown field `") {
        let (context, known) = context(ypath);
        unknown_key(field, &context, known)
    } else if let Some((ypath, field)) = serde_field(&message, "missing field `") {
        match (ypath, field) {
            ("", "name") => "missing key `name`: every lab has a name (1-32 characters from \
                             A-Z a-z 0-9 _ -)"
                .to_string(),
            ("", "topology") => "missing key `topology`: a lab's nodes and links".to_string(),
            _ => format!("missing key `{field}` {}", context(ypath).0),
        }
    } else if let Some((ypath, field)) = serde_field(&message, "duplicate field `") {
        let mut segs = parse_ypath(ypath);
        segs.push(Seg::Key(field.to_string(), 1));
        position = locate(text, &segs, true).or(position);
        format!("key `{field}` appears twice {}", context(ypath).0)
    } else if let Some((ypath, found, expected)) = invalid_type(&message) {
        let whom = match ypath {
            "" | "." => "the file".to_string(),
            _ => format!("`{ypath}`"),
        };
        // serde's wording for numbers beyond 64 bits and for a key that is not a string.
        let found = found.replace(" as u128", "").replace(" as i128", "");
        let expected = match expected {
            "a sequence" => "a list",
            other => other,
        };
        if expected == "field identifier" {
            let (context, _) = context(ypath);
            format!("a key {context} must be a name, found {found}")
        } else {
            format!("{whom} must be {expected}, found {found}")
        }
    } else if message.contains("more than one document") {
        position = second_document(text);
        "a lab file holds one YAML document; this one has several (`---`)".to_string()
    } else if message.starts_with("unknown anchor") {
        "an alias (`*NAME`) names an anchor (`&NAME`) that is not defined before it".to_string()
    } else if message.starts_with("found character that cannot start any token")
        && position.and_then(|(line, column)| text.lines().nth(line - 1)?.chars().nth(column - 1))
            == Some('\t')
    {
        "a tab here: YAML indents with spaces, never tabs".to_string()
    } else {
        message
    };
    LabFileError::new(path, position, message)
}

/// Where the second document starts: the second `---` line, or the first one after content.
fn second_document(text: &str) -> Option<(usize, usize)> {
    let mut content = false;
    for (l, line) in text.lines().enumerate() {
        let marker =
            line == "---" || line.starts_with("--- ") || line == "..." || line.starts_with("... ");
        if marker && content {
            return Some((l + 1, 1));
        }
        if line.starts_with("---") {
            content = true;
        }
        let rest = line.trim();
        if !marker && !rest.is_empty() && !rest.starts_with('#') && !rest.starts_with('%') {
            content = true;
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Positions: a second walk over the document that stops at one node.

/// One step of a walk into the document.
#[derive(Debug, Clone)]
enum Seg {
    /// The value of a key in a mapping; the number counts earlier keys of the same name (for a
    /// repeated key).
    Key(String, usize),
    /// An item of a sequence.
    Index(usize),
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string(), 0)
}

/// Reads serde_norway's path (`topology.links[2].endpoints`) back into steps.
fn parse_ypath(ypath: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    if ypath.is_empty() || ypath == "." {
        return segs;
    }
    for part in ypath.split('.') {
        let mut pieces = part.split('[');
        if let Some(name) = pieces.next().filter(|n| !n.is_empty()) {
            segs.push(key(name));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                segs.push(Seg::Index(i));
            }
        }
    }
    segs
}

/// The 1-based line and column of the node a walk leads to (with `at_key`, of the last key
/// itself rather than its value), or `None` when the document has no such node.
fn locate(text: &str, segs: &[Seg], at_key: bool) -> Option<(usize, usize)> {
    let walk = Walk { segs, at_key };
    match walk.deserialize(serde_norway::Deserializer::from_str(text)) {
        Err(e) if e.to_string().contains(HERE) => e.location().map(|l| (l.line(), l.column())),
        _ => None,
    }
}

/// The error a walk stops with where it arrives.
const HERE: &str = "\u{1f}patchwire: here";

/// Walks to a node and fails there, so that serde_norway gives the failure the node's position.
struct Walk<'a> {
    segs: &'a [Seg],
    at_key: bool,
}

impl Walk<'_> {
    fn here<E: de::Error>(&self) -> Result<(), E> {
        if self.segs.is_empty() {
            Err(E::custom(HERE))
        } else {
            Ok(())
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.here()?;
        let Some((Seg::Key(want, nth), rest)) = self.segs.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let mut seen = 0;
        loop {
            let target = KeyMatch {
                want,
                fail: self.at_key && rest.is_empty() && seen == *nth,
            };
            match map.next_key_seed(target)? {
                None => return Ok(()),
                Some(true) if seen == *nth => {
                    seen += 1;
                    map.next_value_seed(Walk {
                        segs: rest,
                        at_key: self.at_key,
                    })?;
                }
                Some(matched) => {
                    seen += usize::from(matched);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.here()?;
        let want = match self.segs.first() {
            Some(Seg::Index(i)) => Some(*i),
            _ => None,
        };
        let mut i = 0;
        loop {
            let more = if Some(i) == want {
                seq.next_element_seed(Walk {
                    segs: &self.segs[1..],
                    at_key: self.at_key,
                })?
                .is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.here()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.here()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.here()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.here()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.here()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }
}

/// Reads a key: true when it is the one wanted; fails there when `fail`.
struct KeyMatch<'a> {
    want: &'a str,
    fail: bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyMatch<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match (v == self.want, self.fail) {
            (true, true) => Err(E::custom(HERE)),
            (matched, _) => Ok(matched),
        }
    }
}

/// The 1-based line of each item of `topology.LIST` (`links`, `mirrors`): one walk to the
/// list, then a scan of its items; a walk per item when the scan does not find as many items
/// as serde_norway did.
fn item_lines(text: &str, list: &str, count: usize) -> Vec<usize> {
    if count == 0 {
        return Vec::new();
    }
    let list = [key("topology"), key(list)];
    let scanned = locate(text, &list, false)
        .and_then(|(line, column)| offset(text, line, column))
        .and_then(|start| sequence_items(text, start))
        .filter(|items| items.len() == count);
    match scanned {
        Some(items) => {
            // Items come in file order: count newlines once, from one item to the next.
            let (mut line, mut from) = (1, 0);
            items
                .into_iter()
                .map(|at| {
                    line += text[from..at].matches('\n').count();
                    from = at;
                    line
                })
                .collect()
        }
        None => (0..count)
            .map(|i| {
                let segs = [list[0].clone(), list[1].clone(), Seg::Index(i)];
                locate(text, &segs, false).map_or(0, |(line, _)| line)
            })
            .collect(),
    }
}

/// The byte offset of a 1-based line and (character) column.
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let rest = text.get(start..)?;
    let within = match rest.char_indices().nth(column.checked_sub(1)?) {
        Some((at, _)) => at,
        None => rest.len(),
    };
    Some(start + within)
}

/// The byte offsets where the items of the sequence starting at `start` begin: a block
/// sequence (items are `-` at the first item's indentation) or a flow sequence (`[a, b]`).
/// An anchor or tag before the sequence is skipped. `None` when `start` is neither.
fn sequence_items(text: &str, start: usize) -> Option<Vec<usize>> {
    let mut at = start;
    while matches!(text[at..].chars().next(), Some('&' | '!')) {
        at += text[at..].find(char::is_whitespace)?;
        at += text[at..].len() - text[at..].trim_start().len();
    }
    match text[at..].chars().next()? {
        '[' => Some(flow_items(text, at)),
        '-' => block_items(text, at),
        _ => None,
    }
}

fn block_items(text: &str, first: usize) -> Option<Vec<usize>> {
    let line_start = text[..first].rfind('\n').map_or(0, |n| n + 1);
    if !text[line_start..first].chars().all(|c| c == ' ') {
        return None;
    }
    let indent = first - line_start;
    let mut items = vec![first];
    let mut at = line_start;
    for line in text[line_start..].split_inclusive('\n') {
        let line_at = at;
        at += line.len();
        if line_at == line_start {
            continue;
        }
        let trimmed = line.trim_start_matches(' ');
        let body = trimmed.trim_end();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let column = line.len() - trimmed.len();
        if column > indent {
            continue;
        }
        let dash = body == "-" || trimmed.starts_with("- ") || trimmed.starts_with("-\t");
        if column < indent || !dash {
            break;
        }
        items.push(line_at + column);
    }
    Some(items)
}

fn flow_items(text: &str, open: usize) -> Vec<usize> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut expect_item = false;
    let mut chars = text[open..]
        .char_indices()
        .map(|(i, c)| (open + i, c))
        .peekable();
    let mut previous = ' ';
    while let Some((at, c)) = chars.next() {
        if expect_item && depth == 1 && !c.is_whitespace() && !matches!(c, ']' | ',' | '#') {
            items.push(at);
            expect_item = false;
        }
        match c {
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expect_item = true;
                }
            }
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expect_item = true,
            '"' if quote_may_open(previous) => {
                let mut escaped = false;
                for (_, s) in chars.by_ref() {
                    match (s, escaped) {
                        ('\\', false) => escaped = true,
                        ('"', false) => break,
                        _ => escaped = false,
                    }
                }
            }
            '\'' if quote_may_open(previous) => {
                while let Some((_, s)) = chars.next() {
                    if s == '\'' {
                        if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '#' if previous.is_whitespace() => {
                for (_, s) in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
        previous = c;
    }
    items
}

/// Where the text first nests deeper than [`DEPTH_MAX`] (line and column, 1-based), found by a
/// scan that needs no parser: flow brackets outside quotes and comments, and block levels by
/// indentation (a `- ` entry and a `key:` after it each open one). It may count a level too
/// many in odd corners (indented lines of a quoted scalar), never one too few of the brackets
/// that make parsers slow.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut quote: Option<char> = None;
    let mut flow = 0usize;
    let mut blocks: Vec<usize> = Vec::new();
    // Inside a block scalar (`|`, `>`): lines indented more than this are its text.
    let mut scalar_above: Option<usize> = None;
    for (l, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = line[indent..].trim_end();
        if let Some(above) = scalar_above {
            if rest.is_empty() || indent > above {
                continue;
            }
            scalar_above = None;
        }
        if quote.is_none() && flow == 0 && !rest.is_empty() && !rest.starts_with('#') {
            while blocks.last().is_some_and(|&top| top >= indent) {
                blocks.pop();
            }
            blocks.push(indent);
            // `- - key:` opens a level at each dash and at the key.
            let mut column = indent;
            let mut tail = rest;
            while let Some(after) = tail.strip_prefix("- ").or_else(|| tail.strip_prefix("? ")) {
                let skipped = tail.len() - after.trim_start().len();
                column += skipped;
                tail = after.trim_start();
                blocks.push(column);
            }
            if blocks.len() > DEPTH_MAX {
                return Some((l + 1, column + 1));
            }
        }
        let mut previous = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match quote {
                Some('"') if c == '\\' => {
                    chars.next();
                }
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if previous.is_whitespace() => break,
                    '\'' | '"' if quote_may_open(previous) => quote = Some(c),
                    '[' | '{' => {
                        flow += 1;
                        if blocks.len() + flow > DEPTH_MAX {
                            return Some((l + 1, line[..at].chars().count() + 1));
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            previous = c;
        }
        if quote.is_none() && flow == 0 {
            let end = rest.split(" #").next().unwrap_or_default().trim_end();
            let header = end.rsplit(' ').next().unwrap_or_default();
            if header.starts_with(['|', '>'])
                && header[1..]
                    .chars()
                    .all(|c| matches!(c, '-' | '+' | '0'..='9'))
            {
                scalar_above = Some(indent);
            }
        }
    }
    None
}

/// In a flow collection, a quote opens a quoted scalar only where a scalar may start.
fn quote_may_open(previous: char) -> bool {
    previous.is_whitespace() || matches!(previous, '[' | '{' | ',' | ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(text: &str) -> LabFile {
        parse("t1.yaml", text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> String {
        match parse("t1.yaml", text) {
            Ok(lab) => panic!("accepted: {lab:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn ep(text: &str) -> Endpoint {
        Endpoint::parse(text).unwrap()
    }

    fn namespace() -> NodeSpec {
        NodeSpec {
            kind: NodeKind::Namespace,
            host: None,
            netns: None,
        }
    }

    fn link(endpoints: &[&str], mtu: u32, tx_checksum: Option<bool>, line: usize) -> LinkSpec {
        LinkSpec {
            endpoints: endpoints.iter().map(|e| ep(e)).collect(),
            mtu,
            tx_checksum,
            vni: None,
            datapath: crate::wire::Datapath::Tc,
            line,
        }
    }

    /// Two nodes r1 and r2, then the given links (from line 6 on).
    fn two_nodes(links: &str) -> String {
        format!("name: t1\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n  links:\n{links}")
    }

    #[test]
    fn the_example_reads_as_documented() {
        let lab = parse("demo.yaml", example()).unwrap();
        let vm = NodeSpec {
            kind: NodeKind::Vm(VmSpec {
                owner: Some("qemu".into()),
                group: Some("kvm".into()),
                vnet_hdr: true,
                queues: 2,
            }),
            host: None,
            netns: None,
        };
        let sw = NodeSpec {
            netns: Some(NetnsRef::Name("clab-demo-sw".into())),
            ..namespace()
        };
        let expected = LabFile {
            name: "demo".into(),
            path: "demo.yaml".into(),
            hosts: vec![],
            mtu: 9000,
            tx_checksum: Some(false),
            vxlan_port: DEFAULT_VXLAN_PORT,
            nodes: BTreeMap::from([
                ("r1".into(), namespace()),
                ("r2".into(), namespace()),
                ("r3".into(), namespace()),
                ("sw".into(), sw),
                ("vm1".into(), vm),
                ("mon".into(), namespace()),
            ]),
            links: vec![
                link(&["r1:eth1", "r2:eth1"], 9000, Some(false), 26),
                link(&["r1:eth2", "r2:eth2", "r3:eth2"], 1500, Some(false), 27),
                link(&["r3:eth1", "sw:e1-1"], 9000, Some(true), 29),
                link(&["vm1:tap1", "sw:e1-2"], 9000, Some(false), 31),
            ],
            mirrors: vec![MirrorFileSpec {
                name: "tap1".into(),
                from: vec![ep("r1:eth1")],
                to: ep("mon:eth1"),
                direction: MirrorSide::Both,
                vlans: None,
                output_vlan: None,
                filter: None,
                line: 38,
            }],
        };
        assert_eq!(lab, expected);
        assert!(!lab.links[0].is_hub());
        assert!(lab.links[1].is_hub());
    }

    #[test]
    fn the_multi_host_example_puts_nodes_on_hosts() {
        let lab = parse("spread.yaml", example_multi_host()).unwrap();
        let hosts: Vec<(&str, String)> = lab
            .hosts
            .iter()
            .map(|(name, h)| (name.as_str(), h.address.to_string()))
            .collect();
        assert_eq!(
            hosts,
            [("a", "198.18.1.1".into()), ("b", "198.18.1.2".into())]
        );
        let host_of = |n: &str| lab.nodes[n].host.as_deref();
        assert_eq!(
            (host_of("r1"), host_of("r2"), host_of("r3")),
            (Some("a"), Some("b"), Some("b"))
        );
        assert_eq!(lab.vxlan_port, 4789);
        assert_eq!(lab.mtu, DEFAULT_MTU);
        assert_eq!(lab.tx_checksum, None);
        let mut first = link(&["r1:eth1", "r2:eth1"], 1450, None, 18);
        first.vni = Some(1001);
        assert_eq!(
            lab.links,
            [first, link(&["r2:eth2", "r3:eth2"], 1500, None, 23)]
        );
        // Its cross-host link fits a 1500-byte IPv4 underlay (VXLAN adds 50 bytes).
        let cross = |l: &&LinkSpec| {
            let hosts: BTreeSet<_> = l.endpoints.iter().map(|e| host_of(&e.node)).collect();
            hosts.len() > 1
        };
        assert!(lab.links.iter().filter(cross).all(|l| l.mtu + 50 <= 1500));
    }

    #[test]
    fn the_docs_show_the_examples() {
        let docs = include_str!("../../docs/labs.md");
        assert!(docs.contains(example()), "docs/labs.md lacks example()");
        assert!(
            docs.contains(example_multi_host()),
            "docs/labs.md lacks example_multi_host()"
        );
    }

    #[test]
    fn the_host_order_is_the_file_order() {
        let lab = lab(
            "name: t1\nhosts:\n  zz: {address: '2001:db8::2'}\n  aa: {address: 2001:db8::1}\n\
             topology:\n  nodes:\n    r1:\n    r2: {host: aa}\n",
        );
        let names: Vec<&str> = lab.hosts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["zz", "aa"]);
        assert_eq!(lab.nodes["r1"].host.as_deref(), Some("zz"));
        assert_eq!(lab.nodes["r2"].host.as_deref(), Some("aa"));
        assert!(lab.hosts[1].1.address.is_ipv6());
    }

    #[test]
    fn containerlab_links_paste_in_both_forms() {
        let lab = lab(&two_nodes(
            "    - endpoints: [\"r1:e1-1\", \"r2:eth1\"]\n\
             \x20   - type: veth\n\
             \x20     endpoints:\n\
             \x20       - node: r1\n\
             \x20         interface: e1-2\n\
             \x20       - node: r2\n\
             \x20         interface: eth2\n\
             \x20     mtu: 9500\n\
             \x20     vars: {ospf: {cost: 10}}\n\
             \x20     labels: [a, b]\n\
             \x20   - {type: veth, endpoints: [\"r1:e1-3\", {node: r2, interface: eth3}]}\n",
        ));
        assert_eq!(
            lab.links,
            [
                link(&["r1:e1-1", "r2:eth1"], 1500, None, 7),
                link(&["r1:e1-2", "r2:eth2"], 9500, None, 8),
                link(&["r1:e1-3", "r2:eth3"], 1500, None, 17),
            ]
        );
    }

    #[test]
    fn other_containerlab_link_types_are_refused() {
        assert_eq!(
            err(&two_nodes(
                "  - type: vxlan-stitch\n    endpoints: [r1:eth1, r2:eth1]\n"
            )),
            "t1.yaml:7:11: link type `vxlan-stitch` is not supported: only veth-like links are \
             (`type: veth`, or no `type:`)"
        );
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [{node: r1, interface: eth1, mac: 02:00:00:00:00:01}, r2:eth1]\n"
            )),
            "t1.yaml:7:45: unknown key `mac` in an endpoint (known keys: `node`, `interface`)"
        );
        assert_eq!(
            err(&two_nodes("  - endpoints: [{node: r1}, r2:eth1]\n")),
            "t1.yaml:7:17: an endpoint needs `node` and `interface`"
        );
    }

    #[test]
    fn defaults_and_link_settings_combine() {
        let lab = lab(&format!(
            "defaults: {{mtu: 9000, tx-checksum: off}}\nvxlan: {{port: 14789}}\n{}",
            two_nodes(
                "    - endpoints: [r1:eth1, r2:eth1]\n\
                 \x20   - endpoints: [r1:eth2, r2:eth2]\n      tx-checksum: unset\n      mtu: 68\n\
                 \x20   - endpoints: [r1:eth3, r2:eth3]\n      tx-checksum: on\n      vni: 7\n\
                 \x20   - endpoints: [r1:eth4, r2:eth4]\n      tx-checksum: false\n      mtu: 65535\n"
            )
        ));
        assert_eq!(lab.vxlan_port, 14789);
        let got: Vec<(u32, Option<bool>, Option<u32>)> = lab
            .links
            .iter()
            .map(|l| (l.mtu, l.tx_checksum, l.vni))
            .collect();
        assert_eq!(
            got,
            [
                (9000, Some(false), None),
                (68, None, None),
                (9000, Some(true), Some(7)),
                (65535, Some(false), None),
            ]
        );
    }

    #[test]
    fn node_forms() {
        let lab = lab(
            "name: t1\ntopology:\n  nodes:\n    a:\n    b: {}\n    c: {netns: /proc/1/ns/net}\n    \
             d: {netns: {pid: 4242}}\n    e: {kind: namespace, netns: lab-e}\n    \
             f: {kind: vm, owner: 107, group: kvm, vnet-hdr: false}\n",
        );
        assert_eq!(lab.nodes["a"], namespace());
        assert_eq!(lab.nodes["b"], namespace());
        assert_eq!(
            lab.nodes["c"].netns,
            Some(NetnsRef::Path("/proc/1/ns/net".into()))
        );
        assert_eq!(lab.nodes["d"].netns, Some(NetnsRef::Pid(4242)));
        assert_eq!(lab.nodes["e"].netns, Some(NetnsRef::Name("lab-e".into())));
        assert_eq!(
            lab.nodes["f"].kind,
            NodeKind::Vm(VmSpec {
                owner: Some("107".into()),
                group: Some("kvm".into()),
                vnet_hdr: false,
                queues: 1,
            })
        );
        assert!(lab.links.is_empty());
    }

    #[test]
    fn serializes_for_json_output() {
        let lab = parse("demo.yaml", example()).unwrap();
        let json = serde_json::to_value(&lab).unwrap();
        assert_eq!(json["links"][0]["endpoints"][0], "r1:eth1");
        assert_eq!(json["nodes"]["vm1"]["kind"]["vm"]["queues"], 2);
        assert_eq!(json["nodes"]["r1"]["kind"], "namespace");
        assert_eq!(json["nodes"]["sw"]["netns"]["name"], "clab-demo-sw");
        assert_eq!(json["mirrors"][0]["from"][0], "r1:eth1");
        assert_eq!(json["mirrors"][0]["to"], "mon:eth1");
        assert_eq!(json["mirrors"][0]["direction"], "both");
        assert_eq!(json["mirrors"][0]["vlans"], serde_json::Value::Null);
    }

    #[test]
    fn yaml_syntax_errors_carry_libyamls_position() {
        assert_eq!(
            err("name: [t1\ntopology: {}\n"),
            "t1.yaml:2:9: did not find expected ',' or ']', while parsing a flow sequence \
             at line 1 column 7"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {}\n   r2: {}\n"),
            "t1.yaml:5:4: did not find expected key, while parsing a block mapping at line 3 column 3"
        );
        assert_eq!(
            err("name: t1\ntopology: {}\n---\nname: t2\ntopology: {}\n"),
            "t1.yaml:3:1: a lab file holds one YAML document; this one has several (`---`)"
        );
        assert_eq!(
            err("# a lab\n---\nname: t1\ntopology: {}\n--- # two\nname: t2\n"),
            "t1.yaml:5:1: a lab file holds one YAML document; this one has several (`---`)"
        );
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level_with_a_suggestion() {
        // The brief's own example: line 9, column 7.
        let text = two_nodes(
            "    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n      mtu: 9000\n    \
             - endpoints: [\"r1:eth2\", \"r2:eth2\"]\n      mut: 9500\n",
        );
        assert_eq!(
            err(&text.replacen("      mtu: 9000\n", "", 1)),
            "t1.yaml:9:7: unknown key `mut` in a link (did you mean `mtu`?)"
        );
        assert_eq!(
            err("name: t1\ntopolgy: {}\n"),
            "t1.yaml:2:1: unknown key `topolgy` at the top level (did you mean `topology`?)"
        );
        assert_eq!(
            err("name: t1\nmgmt: {network: x}\ntopology: {}\n"),
            "t1.yaml:2:1: unknown key `mgmt` at the top level (known keys: `name`, `hosts`, \
             `defaults`, `vxlan`, `topology`)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  node: {}\n"),
            "t1.yaml:3:3: unknown key `node` in topology (did you mean `nodes`?)"
        );
        assert_eq!(
            err("name: t1\ndefaults: {MTU: 9000}\ntopology: {}\n"),
            "t1.yaml:2:12: unknown key `MTU` in defaults (did you mean `mtu`?)"
        );
        assert_eq!(
            err("name: t1\nvxlan: {dstport: 4789}\ntopology: {}\n"),
            "t1.yaml:2:9: unknown key `dstport` in vxlan (known keys: `port`)"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a: {adress: 198.18.1.1}\ntopology: {}\n"),
            "t1.yaml:3:7: unknown key `adress` in host a (did you mean `address`?)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {image: frr}\n"),
            "t1.yaml:4:10: unknown key `image` in node r1 (known keys: `kind`, `host`, `netns`, \
             `owner`, `group`, `vnet-hdr`, `queues`)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {vnet_hdr: true, kind: vm}\n"),
            "t1.yaml:4:10: unknown key `vnet_hdr` in node r1 (did you mean `vnet-hdr`?)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: {pdi: 42}}\n"),
            "t1.yaml:4:18: unknown key `pdi` in `netns:` (did you mean `pid`?)"
        );
    }

    #[test]
    fn missing_and_repeated_keys() {
        assert_eq!(
            err("topology: {}\n"),
            "t1.yaml:1:1: missing key `name`: every lab has a name (1-32 characters from \
             A-Z a-z 0-9 _ -)"
        );
        assert_eq!(
            err("# a lab\nname: t1\n"),
            "t1.yaml:2:1: missing key `topology`: a lab's nodes and links"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a: {}\ntopology: {}\n"),
            "t1.yaml:3:6: missing key `address` in host a"
        );
        assert_eq!(
            err("# nothing yet\n\n"),
            "t1.yaml: the file is empty: a lab file needs `name:` and `topology:`"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {kind: vm, kind: vm}\n"),
            "t1.yaml:4:20: key `kind` appears twice in node r1"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n    r1: {}\n"),
            "t1.yaml:6:5: node r1 is defined twice"
        );
    }

    #[test]
    fn byte_order_marks_and_crlf_line_ends_are_read() {
        let text = format!("\u{feff}{}", two_nodes("    - endpoints: [r1:a, r2:a]\n"));
        assert_eq!(lab(&text).links[0].line, 7);
        let text = two_nodes("    - endpoints: [r1:a, r2:a]\n    - endpoints: [r1:a, r2:b]\n");
        assert_eq!(
            err(&text.replace('\n', "\r\n")),
            "t1.yaml:8:19: endpoint r1:a is in two links (lines 7 and 8)"
        );
    }

    #[test]
    fn anchors_work_and_merge_keys_are_refused() {
        let text = two_nodes("    - &l {endpoints: [r1:a, r2:a], mtu: 9000}\n    - <<: *l\n");
        assert_eq!(
            err(&text),
            "t1.yaml:8:7: YAML merge keys (`<<`) are not supported in a link; write the keys out"
        );
        let text = "name: t1\ntopology:\n  nodes: {r1: &n {kind: vm}, r2: *n}\n  links: []\n";
        assert!(matches!(lab(text).nodes["r2"].kind, NodeKind::Vm(_)));
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            err("name: t 1\ntopology: {}\n"),
            "t1.yaml:1:7: lab name \"t 1\" contains ' '; names are 1-32 characters from \
             A-Z a-z 0-9 _ -"
        );
        assert_eq!(
            err("name: ''\ntopology: {}\n"),
            "t1.yaml:1:7: lab name cannot be empty"
        );
        assert_eq!(
            err(&format!("name: {}\ntopology: {{}}\n", "a".repeat(33))),
            format!(
                "t1.yaml:1:7: lab name \"{}\" is 33 characters long; at most 32",
                "a".repeat(33)
            )
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1.a: {}\n"),
            "t1.yaml:4:5: node name \"r1.a\" contains '.'; names are 1-32 characters from \
             A-Z a-z 0-9 _ -"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a/b: {address: 198.18.1.1}\ntopology: {}\n"),
            "t1.yaml:3:3: host name \"a/b\" contains '/'; names are 1-32 characters from \
             A-Z a-z 0-9 _ -"
        );
        assert_eq!(
            err("name: [t1]\ntopology: {}\n"),
            "t1.yaml:1:7: `name` must be a lab name, found a list"
        );
        assert_eq!(
            err("hello\n"),
            "t1.yaml:1:1: the file must be a lab: a mapping with `name:` and `topology:`, \
             found string \"hello\""
        );
    }

    #[test]
    fn endpoints_must_name_defined_nodes() {
        assert_eq!(
            err(&two_nodes("    - endpoints: [\"r1:eth1\", \"r9:eth1\"]\n")),
            "t1.yaml:7:30: endpoint r9:eth1 names node r9, which is not defined (nodes: r1, r2)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  links:\n    - endpoints: [r1:eth1, r2:eth1]\n"),
            "t1.yaml:4:19: endpoint r1:eth1 names node r1, which is not defined \
             (the file defines no nodes)"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [host:veth9, r1:eth1]\n")),
            "t1.yaml:7:19: endpoint host:veth9 names node host, which is not defined \
             (nodes: r1, r2); for containerlab's host endpoints, define a node with \
             `netns: /proc/1/ns/net`"
        );
    }

    #[test]
    fn an_endpoint_is_in_one_link_once() {
        assert_eq!(
            err(&two_nodes(
                "    - endpoints: [r1:eth1, r2:eth1]\n    # a comment\n\n    - endpoints:\n        \
                 - r1:eth2\n        - r2:eth1\n"
            )),
            "t1.yaml:12:11: endpoint r2:eth1 is in two links (lines 7 and 10)"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [r1:eth1, r2:eth1, r1:eth1]\n")),
            "t1.yaml:7:37: endpoint r1:eth1 appears twice in this link"
        );
    }

    #[test]
    fn a_link_has_two_endpoints_or_more() {
        assert_eq!(
            err(&two_nodes("    - endpoints: [r1:eth1]\n")),
            "t1.yaml:7:18: a link needs at least two endpoints; this one has 1"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1]}\n    - mtu: 9000\n"
            )),
            "t1.yaml:8:7: a link needs at least two endpoints; this one has none"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: []\n")),
            "t1.yaml:7:18: a link needs at least two endpoints; this one has none"
        );
    }

    #[test]
    fn endpoints_are_node_colon_interface() {
        assert_eq!(
            err(&two_nodes(
                "    - endpoints: [r1:eth1, r2:a234567890123456]\n"
            )),
            "t1.yaml:7:28: endpoint \"r2:a234567890123456\": interface name \
             \"a234567890123456\" is 16 bytes long; Linux allows at most 15"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [r1eth1, r2:eth1]\n")),
            "t1.yaml:7:19: endpoint \"r1eth1\" is not NODE:INTERFACE"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [\":eth1\", r2:eth1]\n")),
            "t1.yaml:7:19: endpoint \":eth1\" is not NODE:INTERFACE"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [\"r1:\", r2:eth1]\n")),
            "t1.yaml:7:19: endpoint \"r1:\": an interface name cannot be empty"
        );
        // Split at the first ':' only: the rest is the interface, which the kernel refuses.
        assert_eq!(
            Endpoint::parse("r1:a:b").unwrap_err(),
            "endpoint \"r1:a:b\": interface name \"a:b\" contains ':', which Linux does not allow"
        );
        assert_eq!(ep("r1:e1-1").to_string(), "r1:e1-1");
    }

    #[test]
    fn hosts_are_checked() {
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {host: b}\n"),
            "t1.yaml:4:16: node r1 has `host: b`, but the file has no `hosts:`"
        );
        assert_eq!(
            err(
                "name: t1\nhosts:\n  a: {address: 198.18.1.1}\n  b: {address: 198.18.1.2}\n\
                 topology:\n  nodes:\n    r1: {host: c}\n"
            ),
            "t1.yaml:7:16: node r1 is on host c, which `hosts:` does not define (hosts: a, b)"
        );
        assert_eq!(
            err(
                "name: t1\nhosts:\n  a: {address: 198.18.1.1}\n  b: {address: 198.18.1.1}\n\
                 topology: {}\n"
            ),
            "t1.yaml:4:16: host b has the same address as host a (198.18.1.1)"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a: {address: 198.18.1}\ntopology: {}\n"),
            "t1.yaml:3:16: address `198.18.1` is not an IPv4 or IPv6 address"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a: {address: 0.0.0.0}\ntopology: {}\n"),
            "t1.yaml:3:16: address 0.0.0.0 cannot be a host's address"
        );
        assert_eq!(
            err(
                "name: t1\nhosts:\n  a: {address: 198.18.1.1}\n  a: {address: 198.18.1.2}\n\
                 topology: {}\n"
            ),
            "t1.yaml:4:3: host a is defined twice"
        );
    }

    #[test]
    fn node_kinds_and_namespaces_are_checked() {
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    vm1: {kind: vm, netns: x}\n"),
            "t1.yaml:4:21: node vm1 has both `kind: vm` and `netns:`; a VM's taps are made in a \
             namespace the lab creates, so remove one of them"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {kind: linux}\n"),
            "t1.yaml:4:16: node kind `linux` is not supported: a node is a `namespace` \
             (the default) or a `vm`"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {queues: 4}\n"),
            "t1.yaml:4:10: `queues` is only for nodes of `kind: vm`; node r1 is a namespace"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: lab/r1}\n"),
            "t1.yaml:4:17: netns \"lab/r1\" is neither a namespace name (a file under /run/netns, \
             without '/') nor an absolute path"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: ./r1}\n"),
            "t1.yaml:4:17: netns \"./r1\" is neither a namespace name (a file under /run/netns, \
             without '/') nor an absolute path"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: ..}\n"),
            "t1.yaml:4:17: netns \"..\" is neither a namespace name (a file under /run/netns, \
             without '/') nor an absolute path"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: 4242}\n"),
            "t1.yaml:4:17: netns 4242 is a number: write `netns: {pid: 4242}` for a process's \
             namespace, or `netns: \"4242\"` for a namespace named 4242"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: {pid: 0}}\n"),
            "t1.yaml:4:23: pid 0 is out of range (1..=4194304)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: {}}\n"),
            "t1.yaml:4:17: `netns:` as a mapping needs `pid`"
        );
        assert_eq!(
            err(
                "name: t1\ntopology:\n  nodes:\n    s1: {netns: x}\n    s2: {netns: /run/netns/x}\n"
            ),
            "t1.yaml:5:17: node s2 is in the same namespace as node s1 (/run/netns/x); \
             give each namespace one node"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    vm1: {kind: vm, owner: 'qemu user'}\n"),
            "t1.yaml:4:28: \"qemu user\" is not a user or group name"
        );
    }

    #[test]
    fn numbers_are_checked_against_their_ranges() {
        assert_eq!(
            err("name: t1\ndefaults: {mtu: 70000}\ntopology: {}\n"),
            "t1.yaml:2:17: mtu 70000 is out of range (68..=65535)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], mtu: 67}\n"
            )),
            "t1.yaml:7:44: mtu 67 is out of range (68..=65535)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], mtu: -1}\n"
            )),
            "t1.yaml:7:44: mtu -1 is out of range (68..=65535)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], mtu: '9000'}\n"
            )),
            "t1.yaml:7:44: `topology.links[0].mtu` must be an integer in 68..=65535, \
             found string \"9000\""
        );
        assert_eq!(
            err("name: t1\nvxlan: {port: 0}\ntopology: {}\n"),
            "t1.yaml:2:15: vxlan port 0 is out of range (1..=65535)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    vm1: {kind: vm, queues: 257}\n"),
            "t1.yaml:4:29: queues 257 is out of range (1..=256)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], vni: 16777216}\n"
            )),
            "t1.yaml:7:44: vni 16777216 is out of range (1..=16777215)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], tx-checksum: maybe}\n"
            )),
            "t1.yaml:7:52: tx-checksum `maybe` is not on, off or unset"
        );
    }

    #[test]
    fn vnis_are_unique() {
        assert_eq!(
            err(&two_nodes(
                "    - endpoints: [r1:eth1, r2:eth1]\n      vni: 10\n    \
                 - endpoints: [r1:eth2, r2:eth2]\n    - endpoints: [r1:eth3, r2:eth3]\n      vni: 10\n"
            )),
            "t1.yaml:11:12: vni 10 is used by two links (lines 7 and 10)"
        );
    }

    #[test]
    fn an_unreadable_file_is_named_with_the_os_error() {
        let e = load("/nonexistent/t1.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "reading lab file /nonexistent/t1.yaml: No such file or directory (os error 2)"
        );
        assert!(matches!(e, LabFileError::Read { ref source, .. }
            if source.kind() == std::io::ErrorKind::NotFound));
    }

    #[test]
    fn load_reads_the_file() {
        let path = std::env::temp_dir().join(format!("patchwire-lab-{}.yaml", std::process::id()));
        std::fs::write(&path, example()).unwrap();
        let loaded = load(path.to_str().unwrap());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded.unwrap().links.len(), 4);
    }

    #[test]
    fn link_lines_follow_any_layout() {
        // Flow list over several lines, with comments, quotes holding brackets and commas.
        let text = two_nodes(
            "    [ {endpoints: ['r1:a', \"r2:a\"]},   # one, [two]\n\
             \x20     {endpoints: [r1:b, r2:b], vars: {s: 'x, ]'}},\n\n\
             \x20     {endpoints: [r1:c, r2:c]} ]\n",
        );
        let lines: Vec<usize> = lab(&text).links.iter().map(|l| l.line).collect();
        assert_eq!(lines, [7, 8, 10]);
        // Block list indented like its key, behind an anchor, then another key.
        let text = "name: t1\ntopology:\n  links: &all\n  - endpoints: [r1:a, r2:a]\n  -\n    \
                    endpoints: [r1:b, r2:b]\n  nodes: {r1: {}, r2: {}}\n";
        let lines: Vec<usize> = lab(text).links.iter().map(|l| l.line).collect();
        assert_eq!(lines, [4, 5]);
    }

    #[test]
    fn sequence_items_are_found_by_scanning() {
        let text = "- a\n  # x\n- - b\n  - c\n-\n  d\nkey: e\n- f\n";
        let items = sequence_items(text, 0).unwrap();
        assert_eq!(items, [0, 10, 22]);
        let text = "[a, 'it''s, [', \"q\\\"]\", {k: [1, 2]}, ]";
        let items = sequence_items(text, 0).unwrap();
        let starts: Vec<char> = items
            .iter()
            .map(|i| text[*i..].chars().next().unwrap())
            .collect();
        assert_eq!(starts, ['a', '\'', '"', '{']);
        assert_eq!(sequence_items("x: 1", 0), None);
    }

    /// Nodes r1, r2, r3 and mon; a wire r1:eth1–r2:eth1 (line 9) and a segment of the eth2s
    /// (line 10); then the given mirrors (from line 12 on).
    fn with_mirrors(mirrors: &str) -> String {
        format!(
            "name: t1\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n    r3: {{}}\n    mon: {{}}\n  \
             links:\n    - endpoints: [r1:eth1, r2:eth1]\n    \
             - endpoints: [r1:eth2, r2:eth2, r3:eth2]\n  mirrors:\n{mirrors}"
        )
    }

    fn mirror(name: &str, from: &[&str], to: &str, direction: MirrorSide) -> MirrorFileSpec {
        MirrorFileSpec {
            name: name.into(),
            from: from.iter().map(|e| ep(e)).collect(),
            to: ep(to),
            direction,
            vlans: None,
            output_vlan: None,
            filter: None,
            line: 0,
        }
    }

    #[test]
    fn mirrors_read_with_every_key() {
        let lab = lab(&with_mirrors(
            "    - name: tap.1_a-B\n      from: [\"r1:eth1\", {node: r3, interface: eth2}]\n      \
             to: mon:eth1\n      direction: tx\n      vlan: \"200-210, 100,201\"\n      \
             output-vlan: 4094\n      filter: \"ether proto 0x8809\"\n\
             \x20   - {name: t2, from: [r1:eth1], to: {node: mon, interface: eth1}, direction: rx}\n\
             \x20   - {name: t3, from: [r1:eth1], to: mon:eth2, vlan: 7}\n\
             \x20   - {name: t4, from: [r1:eth1, r2:eth1], to: mon:eth3}\n\
             \x20   - {name: t5, from: [r2:eth2], to: mon:eth1, vlan: 100}\n\
             \x20   - {name: t6, from: [r2:eth2], to: mon:eth1, vlan: 101-4094}\n",
        ));
        let mut expected = vec![
            MirrorFileSpec {
                vlans: Some("100,200-210".into()),
                output_vlan: Some(4094),
                filter: Some("ether proto 0x8809".into()),
                line: 12,
                ..mirror(
                    "tap.1_a-B",
                    &["r1:eth1", "r3:eth2"],
                    "mon:eth1",
                    MirrorSide::Tx,
                )
            },
            mirror("t2", &["r1:eth1"], "mon:eth1", MirrorSide::Rx),
            MirrorFileSpec {
                vlans: Some("7".into()),
                ..mirror("t3", &["r1:eth1"], "mon:eth2", MirrorSide::Both)
            },
            mirror("t4", &["r1:eth1", "r2:eth1"], "mon:eth3", MirrorSide::Both),
            MirrorFileSpec {
                vlans: Some("100".into()),
                ..mirror("t5", &["r2:eth2"], "mon:eth1", MirrorSide::Both)
            },
            MirrorFileSpec {
                vlans: Some("101-4094".into()),
                ..mirror("t6", &["r2:eth2"], "mon:eth1", MirrorSide::Both)
            },
        ];
        for (m, line) in expected.iter_mut().zip(12..).skip(1) {
            m.line = line + 6;
        }
        assert_eq!(lab.mirrors, expected);
        assert_eq!(
            lab.mirrors[0].vlans.as_deref().map(VlanSet::parse),
            Some(Ok(VlanSet::parse("100,200-210").unwrap()))
        );
        assert!(MirrorSide::Both.copies_tx() && MirrorSide::Both.copies_rx());
        assert!(!MirrorSide::Tx.copies_rx() && !MirrorSide::Rx.copies_tx());
        assert_eq!(MirrorSide::Rx.to_string(), "rx");
        // None in a file without `mirrors:`, or with an empty list.
        assert!(lab_without_mirrors().mirrors.is_empty());
        let text = two_nodes("    - endpoints: [r1:a, r2:a]\n  mirrors: []\n");
        assert!(self::lab(&text).mirrors.is_empty());
    }

    fn lab_without_mirrors() -> LabFile {
        lab(&two_nodes("    - endpoints: [r1:a, r2:a]\n"))
    }

    #[test]
    fn mirror_keys_are_checked() {
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, form: [r1:eth1], to: mon:eth1}\n"
            )),
            "t1.yaml:12:17: unknown key `form` in a mirror (did you mean `from`?)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1], to: mon:eth1, output_vlan: 9}\n"
            )),
            "t1.yaml:12:48: unknown key `output_vlan` in a mirror (did you mean `output-vlan`?)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1], to: mon:eth1, truncate: 64}\n"
            )),
            "t1.yaml:12:48: unknown key `truncate` in a mirror (known keys: `name`, `from`, \
             `to`, `direction`, `vlan`, `output-vlan`)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  mirror: []\n"),
            "t1.yaml:3:3: unknown key `mirror` in topology (did you mean `mirrors`?)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - name: m\n      from: [r1:eth1]\n      to: mon:eth1\n      to: mon:eth2\n"
            )),
            "t1.yaml:15:7: key `to` appears twice in a mirror"
        );
        assert_eq!(
            err(&with_mirrors("    - [m, r1:eth1, mon:eth1]\n")),
            "t1.yaml:12:7: `topology.mirrors[0]` must be a mirror: a mapping with `name:`, \
             `from:` and `to:`, found a list"
        );
    }

    #[test]
    fn mirror_keys_are_required() {
        assert_eq!(
            err(&with_mirrors("    - from: [r1:eth1]\n      to: mon:eth1\n")),
            "t1.yaml:12:7: missing key `name` in a mirror: every mirror has a name (1-15 \
             characters from A-Z a-z 0-9 _ . -)"
        );
        assert_eq!(
            err(&with_mirrors("    - {name: m, to: mon:eth1}\n")),
            "t1.yaml:12:7: missing key `from` in mirror m: the endpoints whose frames are copied"
        );
        assert_eq!(
            err(&with_mirrors("    - name: m\n      from: [r1:eth1]\n")),
            "t1.yaml:12:7: missing key `to` in mirror m: the analyzer's endpoint, in no link"
        );
        assert_eq!(
            err(&with_mirrors("    - {name: m, from: [], to: mon:eth1}\n")),
            "t1.yaml:12:23: mirror m copies nothing: `from` needs at least one endpoint"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: r1:eth1, to: mon:eth1}\n"
            )),
            "t1.yaml:12:23: `from` is a list of endpoints: write `from: [\"r1:eth1\"]`"
        );
    }

    #[test]
    fn mirror_names_are_checked() {
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a b, from: [r1:eth1], to: mon:eth1}\n"
            )),
            "t1.yaml:12:14: mirror name \"a b\": use 1 to 15 characters from A-Z a-z 0-9 _ . -"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a234567890123456, from: [r1:eth1], to: mon:eth1}\n"
            )),
            "t1.yaml:12:14: mirror name \"a234567890123456\": use 1 to 15 characters from \
             A-Z a-z 0-9 _ . -"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - name: tap1\n      from: [r1:eth1]\n      to: mon:eth1\n\n    # again\n    \
                 - name: tap1\n      from: [r2:eth1]\n      to: mon:eth2\n"
            )),
            "t1.yaml:17:13: mirror tap1 is defined twice (lines 12 and 17)"
        );
    }

    #[test]
    fn mirror_endpoints_are_checked() {
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1, r9:eth1], to: mon:eth1}\n"
            )),
            "t1.yaml:12:33: endpoint r9:eth1 names node r9, which is not defined \
             (nodes: mon, r1, r2, r3)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1], to: ids:eth1}\n"
            )),
            "t1.yaml:12:38: endpoint ids:eth1 names node ids, which is not defined \
             (nodes: mon, r1, r2, r3)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1, 'r1:eth1'], to: mon:eth1}\n"
            )),
            "t1.yaml:12:33: endpoint r1:eth1 appears twice in this mirror's `from`"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - name: tap1\n      from: [r1:eth1, r1:eth9]\n      to: mon:eth1\n"
            )),
            "t1.yaml:13:23: endpoint r1:eth9 is in no link; a mirror copies what crosses a \
             link's endpoint"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - name: tap1\n      from: [r1:eth1]\n      to: r2:eth1\n"
            )),
            "t1.yaml:14:11: r2:eth1 is an endpoint of the link on line 9; a mirror's \
             destination must be in no link"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1, r3:eth2], to: {node: r3, interface: eth2}}\n"
            )),
            "t1.yaml:12:47: endpoint r3:eth2 is both in `from` and the `to` of mirror m: a \
             mirror cannot copy to one of its sources"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1], to: 'mon:'}\n"
            )),
            "t1.yaml:12:38: endpoint \"mon:\": an interface name cannot be empty"
        );
    }

    #[test]
    fn mirror_endpoints_are_on_one_host() {
        let text = "name: t1\nhosts:\n  a: {address: 198.18.1.1}\n  b: {address: 198.18.1.2}\n\
                    topology:\n  nodes:\n    r1: {}\n    r2: {host: b}\n    mon: {host: b}\n  \
                    links:\n    - endpoints: [r1:eth1, r2:eth1]\n  mirrors:\n    \
                    - {name: m, from: [r2:eth1, r1:eth1], to: mon:eth1}\n";
        assert_eq!(
            err(text),
            "t1.yaml:13:33: mirror m copies r1:eth1, on host a, to mon:eth1, on host b: a \
             mirror's endpoints must all be on one host"
        );
        let text = text.replace("[r2:eth1, r1:eth1]", "[r2:eth1]");
        assert_eq!(lab(&text).mirrors[0].from, [ep("r2:eth1")]);
    }

    #[test]
    fn mirror_values_are_checked() {
        let one = |extra: &str| {
            err(&with_mirrors(&format!(
                "    - {{name: m, from: [r1:eth1], to: mon:eth1, {extra}}}\n"
            )))
        };
        assert_eq!(
            one("direction: in"),
            "t1.yaml:12:59: direction `in` is not tx, rx or both (tx: the frames the node sends \
             out of the endpoint; rx: the frames it receives on it)"
        );
        assert_eq!(
            one("vlan: 4095"),
            "t1.yaml:12:54: VLAN ID 4095 is outside 1-4094 (0 is a priority tag, 4095 is reserved)"
        );
        assert_eq!(
            one("vlan: '100,0'"),
            "t1.yaml:12:54: VLAN ID 0 is outside 1-4094 (0 is a priority tag, 4095 is reserved)"
        );
        assert_eq!(
            one("vlan: 10-5"),
            "t1.yaml:12:54: VLAN range 10-5 in \"10-5\" runs backwards"
        );
        assert_eq!(
            one("vlan: 'ten'"),
            "t1.yaml:12:54: \"ten\" in \"ten\" is not a VLAN ID (expected IDs 1-4094 or ranges \
             like 100-200, comma-separated)"
        );
        assert_eq!(
            one("vlan: [100]"),
            "t1.yaml:12:54: `topology.mirrors[0].vlan` must be VLAN IDs and ranges, such as \
             \"100,200-210\", or one VLAN ID, found a list"
        );
        assert_eq!(
            one("output-vlan: 4095"),
            "t1.yaml:12:61: output-vlan 4095 is out of range (1..=4094)"
        );
        assert_eq!(
            one("output-vlan: 0"),
            "t1.yaml:12:61: output-vlan 0 is out of range (1..=4094)"
        );
        assert_eq!(
            one("output-vlan: '999'"),
            "t1.yaml:12:61: `topology.mirrors[0].output-vlan` must be an integer in 1..=4094, \
             found string \"999\""
        );
    }

    #[test]
    fn a_frame_reaches_a_destination_once() {
        let tap1 = "    - name: tap1\n      from: [r1:eth1]\n      to: mon:eth1\n";
        // The same endpoint, the same destination, overlapping frames.
        assert_eq!(
            err(&with_mirrors(&format!(
                "{tap1}    - name: tap2\n      from: [r2:eth2, r1:eth1]\n      to: mon:eth1\n      \
                 direction: tx\n"
            ))),
            "t1.yaml:16:23: endpoint r1:eth1 is copied to mon:eth1 by mirrors tap1 and tap2: \
             frames would arrive twice"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a, from: [r2:eth2], to: mon:eth1, vlan: '1-100'}\n    \
                 - {name: b, from: [r2:eth2], to: mon:eth1, vlan: 100}\n"
            )),
            "t1.yaml:13:24: endpoint r2:eth2 is copied to mon:eth1 by mirrors a and b: frames \
             would arrive twice"
        );
        // What r2 receives on the wire is what r1 sends.
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a, from: [r1:eth1], to: mon:eth1, direction: tx}\n    \
                 - {name: b, from: [r2:eth1], to: mon:eth1, direction: rx}\n"
            )),
            "t1.yaml:13:24: mirror a copies what r1:eth1 sends and mirror b what r2:eth1 \
             receives, both to mon:eth1: r1:eth1 and r2:eth1 are the two ends of the wire on \
             line 9, so these are the same frames and they would arrive twice"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a, from: [r1:eth1], to: mon:eth1}\n    \
                 - {name: b, from: [r2:eth1], to: mon:eth1, direction: tx}\n"
            )),
            "t1.yaml:13:24: mirror b copies what r2:eth1 sends and mirror a what r1:eth1 \
             receives, both to mon:eth1: r2:eth1 and r1:eth1 are the two ends of the wire on \
             line 9, so these are the same frames and they would arrive twice"
        );
        // Different frames, or another destination: fine.
        let lab = lab(&with_mirrors(&format!(
            "{tap1}    - {{name: tap2, from: [r1:eth1], to: mon:eth2}}\n    \
             - {{name: tx, from: [r2:eth1], to: mon:eth3, direction: tx}}\n    \
             - {{name: rx, from: [r2:eth1], to: mon:eth3, direction: rx, vlan: 5}}\n    \
             - {{name: hub-tx, from: [r1:eth2], to: mon:eth4, direction: tx}}\n    \
             - {{name: hub-rx, from: [r2:eth2], to: mon:eth4, direction: rx}}\n    \
             - {{name: tx2, from: [r1:eth1], to: mon:eth5, direction: tx}}\n    \
             - {{name: tx3, from: [r2:eth1], to: mon:eth5, direction: tx}}\n"
        )));
        assert_eq!(lab.mirrors.len(), 8);
    }

    #[test]
    fn the_docs_show_real_mirror_errors() {
        let docs = include_str!("../../docs/labs.md");
        let tap1 = "    - name: tap1\n      from: [r1:eth1]\n      to: mon:eth1\n";
        for text in [
            "    - name: tap1\n      from: [r1:eth1, r1:eth9]\n      to: mon:eth1\n".to_string(),
            "    - name: tap1\n      from: [r1:eth1]\n      to: r2:eth1\n".to_string(),
            format!(
                "{tap1}\n    # again\n    - name: tap1\n      from: [r2:eth1]\n      to: mon:eth2\n"
            ),
            format!("{tap1}    - name: tap2\n      from: [r2:eth2, r1:eth1]\n      to: mon:eth1\n"),
        ] {
            let e = err(&with_mirrors(&text));
            assert!(docs.contains(&format!("\n{e}\n")), "docs/labs.md lacks {e}");
        }
    }

    #[test]
    fn messages_have_a_place_and_the_files_words() {
        assert_eq!(
            err("name: t1\ntopology:\n\tnodes: {}\n"),
            "t1.yaml:3:1: a tab here: YAML indents with spaces, never tabs"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {queues: 99999999999999999999999}\n"),
            "t1.yaml:4:18: queues 99999999999999999999999 is out of range (1..=256)"
        );
        assert_eq!(
            err(
                "name: t1\ntopology:\n  nodes:\n    r1: {kind: vm, queues: -99999999999999999999999}\n"
            ),
            "t1.yaml:4:28: queues -99999999999999999999999 is out of range (1..=256)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: 99999999999999999999999}\n"),
            "t1.yaml:4:17: `topology.nodes.r1.netns` must be a namespace name, an absolute path \
             or {pid: PID}, found integer `99999999999999999999999`"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes: {r1: {}}\n  links: {a: 1}\n"),
            "t1.yaml:4:10: `topology.links` must be a list, found a mapping"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes: {r1: {}}\n  links: [{endpoints: *x}]\n"),
            "t1.yaml:4:23: an alias (`*NAME`) names an anchor (`&NAME`) that is not defined \
             before it"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  {[a]: {}}\n"),
            "t1.yaml:3:4: a key in topology must be a name, found a list"
        );
        // A 64 KB name is cut, once.
        let long = "a".repeat(65536);
        assert_eq!(
            err(&format!("name: {long}\ntopology: {{}}\n")),
            format!(
                "t1.yaml:1:7: lab name \"{}…\" is 65536 characters long; at most 32",
                &long[..39]
            )
        );
        let e = err(&two_nodes(&format!(
            "    - endpoints: [\"r1:{long}\", r2:e1]\n"
        )));
        assert_eq!(
            e,
            format!(
                "t1.yaml:7:19: endpoint \"r1:{}…\": interface name \"{}…\" is 65536 bytes \
                 long; Linux allows at most 15",
                &long[..36],
                &long[..39]
            )
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let message = "nested deeper than 64 levels here; a lab file needs 6 (containerlab's \
                       `vars:` a few more)";
        let flow = |n: usize| {
            two_nodes(&format!(
                "    - endpoints: [r1:e1, r2:e1]\n      vars: {}1{}\n",
                "[".repeat(n),
                "]".repeat(n)
            ))
        };
        // 60 brackets under 4 block levels pass; 64 KiB of them (85 s of parsing) is refused
        // at the 61st, at once.
        lab(&flow(60));
        assert_eq!(err(&flow(61)), format!("t1.yaml:8:73: {message}"));
        assert_eq!(err(&flow(65536)), format!("t1.yaml:8:73: {message}"));
        let mut block = two_nodes("    - endpoints: [r1:e1, r2:e1]\n      vars:\n");
        for level in 0..70 {
            block.push_str(&format!("{}k:\n", " ".repeat(8 + level)));
        }
        assert_eq!(err(&block), format!("t1.yaml:69:69: {message}"));
        // Block scalars, quotes and comments open nothing.
        let text = two_nodes(&format!(
            "    - endpoints: [r1:e1, r2:e1]  # {open}\n      vars:\n        a: \"{open}\"\n        \
             b: '{open}'\n        c: |\n{lines}",
            open = "[".repeat(100),
            lines = (0..100)
                .map(|i| format!("{}x\n", " ".repeat(10 + i)))
                .collect::<String>()
        ));
        lab(&text);
    }

    #[test]
    fn files_are_read_within_bounds() {
        let dir = std::env::temp_dir().join(format!("pw-labfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
        std::fs::write(
            path("utf8"),
            b"name: t1\ntopology:\n  nodes: {r\xc3\xa9: {}, \xff: {}}\n",
        )
        .unwrap();
        assert_eq!(
            load(&path("utf8")).unwrap_err().to_string(),
            format!(
                "{}:3:19: byte 0xff is not UTF-8: a lab file is UTF-8 text",
                path("utf8")
            )
        );
        std::fs::write(path("big"), vec![b'#'; FILE_MAX + 1]).unwrap();
        let too_big = "larger than 4 MiB, the most a lab file may be (10,000 links take about \
                       500 KB); is this the lab file?";
        assert_eq!(
            load(&path("big")).unwrap_err().to_string(),
            format!("{}: {too_big}", path("big"))
        );
        assert_eq!(
            load("/dev/zero").unwrap_err().to_string(),
            format!("/dev/zero: {too_big}")
        );
        assert_eq!(
            load(dir.to_str().unwrap()).unwrap_err().to_string(),
            format!("{}: is a directory, not a lab file", dir.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn vm_taps_take_at_most_65521() {
        let vm = |links: &str| {
            format!(
                "name: t1\ntopology:\n  nodes:\n    r1: {{}}\n    vm1: {{kind: vm}}\n  links:\n{links}"
            )
        };
        lab(&vm(
            "    - endpoints: [r1:e1, vm1:tap1]\n      mtu: 65521\n",
        ));
        assert_eq!(
            err(&vm(
                "    - endpoints: [r1:e1, vm1:tap1]\n      mtu: 65522\n"
            )),
            "t1.yaml:8:12: this link's mtu 65522 is more than a tap takes (65521), and vm1:tap1 \
             is a VM's tap: set `mtu:` of the link on line 7 to at most 65521"
        );
        let defaults = vm("    - endpoints: [r1:e1, r1:e2]\n    - endpoints: [r1:e3, vm1:tap1]\n")
            .replace("topology:", "defaults: {mtu: 65535}\ntopology:");
        assert_eq!(
            err(&defaults),
            "t1.yaml:2:17: the default mtu 65535 is more than a tap takes (65521), and vm1:tap1 \
             is a VM's tap: set `mtu:` of the link on line 9 to at most 65521"
        );
        let mirror = vm(
            "    - endpoints: [r1:e1, r1:e2]\n      mtu: 1500\n  mirrors:\n    \
                         - {name: m, from: [r1:e1], to: vm1:tap1}\n",
        )
        .replace("topology:", "defaults: {mtu: 65535}\ntopology:");
        assert_eq!(
            err(&mirror),
            "t1.yaml:2:17: the default mtu 65535 is more than a tap takes (65521), and vm1:tap1, \
             the destination of mirror m, is a VM's tap: set it to at most 65521"
        );
    }

    #[test]
    fn mirror_filters_libpcap_refuses_are_errors_of_the_file() {
        let tap1 = "    - name: tap1\n      from: [r1:eth1]\n      to: mon:eth1\n";
        lab(&with_mirrors(&format!("{tap1}      filter: tcp port 80\n")));
        assert_eq!(
            err(&with_mirrors(&format!(
                "{tap1}      filter: tcp port 80 and\n"
            ))),
            "t1.yaml:15:15: mirror tap1: filter \"tcp port 80 and\": can't parse filter \
             expression: syntax error"
        );
        assert_eq!(
            err(&with_mirrors(&format!(
                "{tap1}      filter: \"tcp\\0port 80\"\n"
            ))),
            "t1.yaml:15:15: mirror tap1: filter \"tcp\\0port 80\": contains a NUL byte"
        );
    }

    #[test]
    fn suggestions_are_near_misses_only() {
        assert_eq!(edit_distance("mut", "mtu"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let link = ["endpoints", "mtu", "tx-checksum", "vni", "type"];
        assert_eq!(suggestion("endpoint", &link), Some("endpoints"));
        assert_eq!(suggestion("tx_checksum", &link), Some("tx-checksum"));
        assert_eq!(suggestion("bandwidth", &link), None);
    }
}

//! What a plan is made of: [`Change`], every kind of change `up` makes and `plan` lists (with
//! `--json`, each an object tagged `change`, as derived here), and [`Plan`], the changes with
//! the notes on what is left alone. Kept apart from the planning so the list reads in one
//! place.

use serde::Serialize;

/// One change `up` makes (and `plan` lists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    /// A namespace of the lab's own (the panel, or a node's).
    CreateNamespace {
        /// The namespace's name.
        netns: String,
        /// What it is for: `panel`, or `node NODE`.
        role: String,
    },
    /// A lab namespace left half-made by an interrupted `up` (registered but unusable, or
    /// created but not yet marked): removed and made again.
    RemakeNamespace {
        /// The namespace's name.
        netns: String,
        /// What is wrong with it.
        why: String,
    },
    /// A namespace marked as this lab's that the file no longer asks for: deleted with everything
    /// in it.
    DeleteNamespace {
        /// The namespace's name.
        netns: String,
    },
    /// A link's port in the panel, and how it reaches its endpoint.
    CreatePort {
        /// The port's name in the panel.
        port: String,
        /// What the port stands for: `NODE:IF`, or `vxlan VNI to ADDRESS`.
        endpoint: String,
        /// How it is made, in words (`veth, eth1 in netns t1-r1`, `vxlan 1234 from … to … port
        /// 4789`).
        via: String,
        /// The MTU it is given.
        mtu: u32,
    },
    /// A panel port the file no longer asks for, or no longer matches what it asks for: deleted.
    DeletePort {
        /// The port's name in the panel.
        port: String,
        /// The endpoint it stood for (from its record), or its own name when it has none.
        was: String,
    },
    /// A port whose MTU differs from the file's: set to the file's (on both ends of its veth).
    SetMtu {
        /// The port's name in the panel.
        port: String,
        /// What the port stands for (`NODE:IF`).
        endpoint: String,
        /// The new MTU.
        mtu: u32,
        /// The MTU it had.
        was: u32,
    },
    /// A VM node's tap whose settings (`queues`, `owner`, `group`, `vnet-hdr`) differ from the
    /// file's: deleted with its stub and made again (its port too). A qemu holding it loses it.
    RemakeTap {
        /// The VM node's namespace.
        netns: String,
        /// The tap's name.
        tap: String,
        /// What the tap stands for (`NODE:IF`).
        endpoint: String,
        /// What differs, in words (`queues 1 -> 2`).
        why: String,
    },
    /// A port that stays while its cable moves (the wire or hub it is on changes): taken down
    /// before the move and up after it, so the node behind it sees its carrier drop, as when a
    /// cable is unplugged and plugged elsewhere.
    Bounce {
        /// The port's name in the panel.
        port: String,
        /// What the port stands for (`NODE:IF`).
        endpoint: String,
        /// What it was joined to (`NODE:IF` of the wire's other end, or `hub NAME`).
        was: String,
        /// What it is joined to after.
        now: String,
    },
    /// A port a `watch` held down (its far end was down) while no watch runs any more and
    /// that far end is up again: released as watch would (up, its own alias back).
    Release {
        /// The port's name in the panel.
        port: String,
        /// What the port stands for (`NODE:IF`).
        endpoint: String,
        /// What its far end stands for (`NODE:IF`).
        far: String,
    },
    /// A VM's stub (wired to its tap in the VM's namespace) a `watch` there held down while the
    /// tap was down (its qemu gone), no watch runs there any more and a VM holds the tap again:
    /// released as watch would, before the ports whose far end it is.
    ReleaseStub {
        /// The VM node's namespace.
        netns: String,
        /// The stub's name there.
        stub: String,
        /// What the port stands for (`NODE:IF`, the tap).
        endpoint: String,
    },
    /// A port left down by an interrupted `up`: it and its far end come up.
    SetUp {
        /// The port's name in the panel.
        port: String,
        /// What the port stands for (`NODE:IF`).
        endpoint: String,
    },
    /// A stub veth (and the wire to its interface) in a namespace the lab does not own.
    DeleteStub {
        /// The namespace holding the stub.
        netns: String,
        /// The stub veth's name.
        stub: String,
        /// The endpoint it was wired to (`NODE:IF`), or empty when its record is unreadable.
        endpoint: String,
    },
    /// A wire between panel ports the file no longer asks for: removed.
    Unwire {
        /// One end of the wire (the wire is found from it).
        a: String,
        /// The other end; empty when only `a` is left of a broken wire.
        b: String,
        /// What `a` and `b` stand for (`NODE:IF`, from the ports' records), in that order.
        endpoints: [String; 2],
    },
    /// A mirror the file no longer asks for, or one that changed (made again by a later
    /// [`Change::Mirror`]): removed.
    Unmirror {
        /// The mirror's name.
        mirror: String,
    },
    /// A mirror of the file: made among the panel's ports.
    Mirror {
        /// The mirror's name.
        mirror: String,
        /// What each source port stands for (`NODE:IF`).
        from: Vec<String>,
        /// What the destination port stands for (`NODE:IF`).
        to: String,
        /// Only frames matching this tcpdump expression.
        #[serde(skip_serializing_if = "Option::is_none")]
        filter: Option<String>,
    },
    /// A hub the file no longer asks for: removed.
    Unhub {
        /// The hub's name.
        hub: String,
        /// What its members stand for (`NODE:IF`).
        endpoints: Vec<String>,
    },
    /// A wire between two panel ports: made (again, when a port was made anew).
    Wire {
        /// The first port (the pair is sorted).
        a: String,
        /// The second port.
        b: String,
        /// What `a` and `b` stand for (`NODE:IF`), in that order.
        endpoints: [String; 2],
        /// How the wire moves frames.
        datapath: crate::wire::Datapath,
    },
    /// A hub segment among panel ports: made, or re-patched in place when its members changed.
    Hub {
        /// The hub's name.
        hub: String,
        /// Its member ports.
        members: Vec<String>,
        /// What each member stands for (`NODE:IF`), in the same order.
        endpoints: Vec<String>,
    },
    /// An endpoint's interface whose MAC differs from the file's `mac:`: set in place.
    SetMac {
        /// The port's name in the panel.
        port: String,
        /// The endpoint (`NODE:IF`).
        endpoint: String,
        /// The file's MAC.
        mac: String,
        /// The MAC it had.
        was: String,
    },
    /// A host-side interface that is not a port of the bridge it belongs to (a `kind: bridge`
    /// node's endpoint, a `mgmt-net` link's host side): made one again.
    SetMaster {
        /// The port's name in the panel.
        port: String,
        /// The endpoint (`NODE:IF`).
        endpoint: String,
        /// The bridge in the host's namespace.
        bridge: String,
    },
    /// An interface made in a node itself (a `macvlan` or `dummy` link): created.
    CreateDevice {
        /// The endpoint (`NODE:IF`).
        endpoint: String,
        /// The node's namespace.
        netns: String,
        /// What it is: `macvlan of eth0 (bridge)`, `dummy`.
        what: String,
        /// Its MTU.
        mtu: u32,
    },
    /// An interface the lab made in a node that the file no longer asks for (or asks for
    /// otherwise: made again by a later `CreateDevice`): deleted.
    DeleteDevice {
        /// The endpoint it stood for (`NODE:IF`).
        endpoint: String,
        /// The node's namespace.
        netns: String,
        /// Why: `not in the file`, or what differs.
        why: String,
    },
    /// An eBPF wire direction on another path than its target calls for now (a root qdisc
    /// or egress filter added on a port after `up`, or removed): switched in place, without a
    /// frame lost or a carrier change (`wire::settle_paths`).
    SettlePath {
        /// The port frames arrive on.
        from: String,
        /// The port they are sent out of.
        to: String,
        /// What `from` and `to` stand for (`NODE:IF`), in that order.
        endpoints: [String; 2],
        /// The path it takes after: `peer` or `redirect`.
        path: crate::wire::Path,
        /// Why.
        because: String,
    },
    /// The impairment of the frames an endpoint sends (file's `impair:`): set, or changed in
    /// place, on its panel port.
    Impair {
        /// The panel port the frames arrive at.
        port: String,
        /// The sending endpoint (`NODE:IF`).
        endpoint: String,
        /// The file's, in words (`loss 1% rate 10mbit`).
        impairment: String,
        /// What the port has now, in words; `None` when nothing.
        #[serde(skip_serializing_if = "Option::is_none")]
        was: Option<String>,
        /// What the port has was set by `patchwire impair`, not by this file's `up`.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        by_command: bool,
    },
    /// An impairment the file does not ask for (set by `patchwire impair`, or removed from the
    /// file): removed.
    Unimpair {
        /// The panel port.
        port: String,
        /// The sending endpoint (`NODE:IF`).
        endpoint: String,
        /// What it was, in words.
        was: String,
        /// Set by `patchwire impair` (else the file asked for it before and no longer does).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        by_command: bool,
    },
    /// A cable the file pulls (`state: down`): its ports taken down and marked cut, so both
    /// nodes see NO-CARRIER.
    Cut {
        /// Its panel ports (a wire's two, a hub member's one).
        ports: Vec<String>,
        /// What they stand for.
        endpoints: Vec<String>,
        /// Its ports existed before this run and its cable is in: `patchwire mend` put it
        /// back (it leaves no record), or `state: down` is new in the file. Said in the text
        /// only: `-j` keeps the shape it had.
        #[serde(skip)]
        was_in: bool,
    },
    /// A pulled cable the file does not pull (`patchwire cut`, or `state: down` removed): put
    /// back.
    Mend {
        /// The cut panel ports.
        ports: Vec<String>,
        /// What they stand for.
        endpoints: Vec<String>,
        /// `patchwire cut` pulled it (else the file pulled it before and no longer does).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        by_command: bool,
    },
    /// A container node's change (`lab::containers`), made before the plumbing: its own
    /// `change` names (`create-container`, `recreate-container`, …).
    #[serde(untagged)]
    Container(crate::lab::containers::ContainerChange),
}

/// What `up` would do: the changes, and what it leaves alone on purpose.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// The changes, in the order they are made; empty when the kernel matches the file.
    pub changes: Vec<Change>,
    /// Ports left as they are on purpose, in words: one `watch` holds down stays down (its far
    /// end is down; bringing it up would show its node a carrier the cable does not have).
    pub notes: Vec<String>,
}

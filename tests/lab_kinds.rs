//! Lab node kinds and link types against the real kernel (issue 20 items 3 and 4): `kind: hub`
//! passes LACP/STP/LLDP/PAUSE/802.1X frames that `kind: bridge` on a real Linux bridge drops;
//! `type: host` and `kind: host` endpoints in the host's namespace; macvlan, vxlan and dummy
//! links; endpoint MACs; rerun converges; `down` leaves the host's namespace as it was.
//!
//! "The host" is always a namespace the test made: the lab commands run on a thread inside it
//! (the host's namespace is the one the command runs in), so the machine's own namespace is
//! never touched. Files are read by the lab file reader and then given their kinds in code
//! (the reader of containerlab files is another room's work). The CLI on containerlab files in a
//! stand-in host is tests/lab_kinds_cli.rs.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use patchwire::lab::file::{self, Endpoint, LabFile, LinkKind, NodeKind};
use patchwire::lab::{self, Plan, UpOutcome};
use patchwire::netns::Netns;
use patchwire::packet::PacketSocket;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A lab whose commands run with `host` standing for the host's namespace; `down` on drop.
struct Lab {
    file: LabFile,
    host: TestNs,
}

impl Lab {
    /// `body` is a patchwire lab file (`LAB` stands for the lab's name); `edit` gives it kinds
    /// and link types.
    fn new(body: &str, edit: impl FnOnce(&mut LabFile)) -> Lab {
        require_root();
        let name = format!(
            "pwt-{}-k{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut file = file::parse("kinds.yaml", &body.replace("LAB", &name)).unwrap();
        edit(&mut file);
        Lab {
            file,
            host: TestNs::new(),
        }
    }

    fn in_host<T: Send>(&self, work: impl FnOnce(&LabFile) -> T + Send) -> T {
        let file = &self.file;
        self.host.netns().run(|| work(file)).unwrap()
    }

    fn plan(&self) -> Result<Plan, String> {
        self.in_host(|f| lab::plan(f, None).map_err(|e| e.to_string()))
    }

    fn up(&self) -> UpOutcome {
        self.in_host(|f| lab::up(f, None))
            .unwrap_or_else(|e| panic!("up failed: {e}"))
    }

    fn down(&self) -> lab::DownOutcome {
        self.in_host(|f| lab::down(f, None))
            .unwrap_or_else(|e| panic!("down failed: {e}"))
    }

    fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.file.name)
    }

    /// `ip -o link show` of the stand-in host.
    fn host_links(&self) -> String {
        self.host.ip("-o link show")
    }

    /// Asserts that the stand-in host's links come back to `before`.
    fn host_links_return_to(&self, before: &str) {
        links_return_to(&self.host, before, "down leaves the host as it was");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let file = &self.file;
        let _ = self.host.netns().run(|| lab::down(file, None));
    }
}

/// The file's first link made one-ended (r1:e1) and of `kind`.
fn one_ended(file: &mut LabFile, kind: LinkKind) {
    let first = &mut file.links[0];
    first.endpoints.truncate(1);
    first.kind = kind;
}

fn endpoint(text: &str) -> Endpoint {
    Endpoint::parse(text).unwrap()
}

/// A frame to `dst` from `src`, EtherType 0x88b5 (local experimental) and a marker.
fn frame(dst: [u8; 6], src: [u8; 6], marker: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend_from_slice(b"patchwire lab kinds ");
    f.push(marker);
    f.resize(64, 0x5a);
    f
}

/// The link-local groups a Linux bridge keeps to itself: STP (00), PAUSE (01), LACP (02),
/// 802.1X (03), LLDP (0e).
const RESERVED: [u8; 5] = [0x00, 0x01, 0x02, 0x03, 0x0e];

fn reserved(last: u8) -> [u8; 6] {
    [0x01, 0x80, 0xc2, 0x00, 0x00, last]
}

const SRC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

/// An AF_PACKET socket on `dev` in the namespace at `spec`, drained.
fn socket_in(spec: &str, dev: &str) -> PacketSocket {
    let netns = Netns::open(Some(spec)).unwrap();
    let line = link_in(spec, dev);
    let index: u32 = line.split(':').next().unwrap().trim().parse().unwrap();
    let socket = netns.run(|| PacketSocket::open(index)).unwrap().unwrap();
    socket.drain();
    socket
}

/// Sends `frame` from `from` and asserts that `to` receives it, byte for byte.
fn crosses(from: &PacketSocket, to: &PacketSocket, frame: &[u8]) {
    from.send(frame).unwrap();
    let wanted = [frame.to_vec()];
    assert_eq!(
        receive(to, &wanted, 1, patience(Duration::from_secs(5))),
        wanted
    );
}

/// Every frame `socket` receives until `deadline`, or until `want` frames equal to one of
/// `wanted` have arrived (other traffic, such as IPv6 chatter, is skipped).
fn receive(
    socket: &PacketSocket,
    wanted: &[Vec<u8>],
    want: usize,
    bound: Duration,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + bound;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        match socket.recv_until(deadline).unwrap() {
            Some(bytes) if wanted.contains(&bytes) => got.push(bytes),
            Some(_) => {}
            None => break,
        }
    }
    got
}

const STAR: &str = "name: LAB
topology:
  nodes:
    r1: {}
    r2: {}
    r3: {}
    sw: {}
  links:
    - endpoints: [r1:e1, sw:p1]
    - endpoints: [r2:e1, sw:p2]
    - endpoints: [r3:e1, sw:p3]
";

#[test]
fn a_hub_node_passes_link_local_frames_that_a_bridge_node_drops() {
    // kind: hub — every frame from r1 reaches r2 and r3 byte for byte.
    let hub = Lab::new(STAR, |f| {
        f.nodes.get_mut("sw").unwrap().kind = NodeKind::Hub
    });
    let plan = hub.plan().unwrap();
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    let made = hub.up();
    assert!(
        made.changes
            .iter()
            .any(|c| matches!(c, lab::Change::Hub { hub, endpoints, .. }
            if hub == "hub.sw" && endpoints == &["r1:e1", "r2:e1", "r3:e1"])),
        "{:?}",
        made.changes
    );
    assert!(
        !std::path::Path::new(&format!("/run/netns/{}", hub.ns("sw"))).exists(),
        "a hub node has no namespace"
    );
    let frames: Vec<Vec<u8>> = RESERVED
        .iter()
        .map(|last| frame(reserved(*last), SRC, *last))
        .collect();
    let r2 = socket_in(&hub.ns("r2"), "e1");
    let r3 = socket_in(&hub.ns("r3"), "e1");
    let r1 = socket_in(&hub.ns("r1"), "e1");
    for f in &frames {
        r1.send(f).unwrap();
    }
    for far in [&r2, &r3] {
        let got = receive(far, &frames, frames.len(), patience(Duration::from_secs(5)));
        assert_eq!(
            got, frames,
            "every reserved-group frame crosses the hub, in order"
        );
    }
    assert!(hub.up().changes.is_empty(), "up again changes nothing");
    let points = hub.in_host(|f| lab::capture_points(f, None)).unwrap();
    assert_eq!(
        points[0],
        (
            format!("{}.panel", hub.file.name),
            "r1.e1".to_string(),
            "hub hub.sw member r1:e1 (inbound: sent by it)".to_string()
        )
    );
    assert_eq!(points.len(), 3);
    let shown = hub.in_host(|f| lab::show(f, None)).unwrap();
    assert_eq!(shown[0].kind, "hub node (hub.sw)");
    assert_eq!(shown[0].health, "ok", "{:?}", shown[0]);

    // kind: bridge on a real bridge: the same frames are dropped, a broadcast passes.
    let bridged = Lab::new(STAR, |f| {
        f.nodes.get_mut("sw").unwrap().kind = NodeKind::Bridge
    });
    let missing = bridged.plan().unwrap_err();
    assert_eq!(
        missing,
        // The kind was changed in memory, not in the file: the node's place is not known.
        "kinds.yaml: node sw (kind: bridge): there is no bridge sw in the host's network \
         namespace; create \
         it first (ip link add sw type bridge; ip link set sw up) — or, for a node, write kind: \
         hub to have patchwire join its links in a transparent segment with no bridge at all"
    );
    // STP off (the kernel's default): a bridge then forwards STP's own group 00 and eats
    // the rest. Its MAC is set, so taking ports in and out does not change it.
    bridged
        .host
        .ip("link add sw address 02:00:00:00:0b:0b type bridge");
    bridged.host.ip("link set sw up");
    let before = bridged.host_links();
    let plan = bridged.plan().unwrap();
    assert_eq!(
        plan.notes,
        [
            "node sw is a Linux bridge: a bridge does not pass LACP, LLDP, PAUSE or 802.1X frames \
          (01:80:c2:00:00:0x) between its ports, and with its own STP on it eats STP's too, so \
          bonds, LLDP neighbours and spanning tree do not form through it as through a cable; \
          for a transparent segment write `kind: hub` for it (the links stay as they are)"
        ]
    );
    let made = bridged.up();
    assert_eq!(made.notes, plan.notes, "the note is said once by up too");
    let ports = bridged.host.ip("-o link show master sw");
    for p in ["p1", "p2", "p3"] {
        assert!(
            ports.contains(&format!(": {p}@")),
            "{p} is a port of sw: {ports}"
        );
    }
    let r1 = socket_in(&bridged.ns("r1"), "e1");
    let r2 = socket_in(&bridged.ns("r2"), "e1");
    let r3 = socket_in(&bridged.ns("r3"), "e1");
    let frames: Vec<Vec<u8>> = frames[1..].to_vec();
    for f in &frames {
        r1.send(f).unwrap();
    }
    let broadcast = frame([0xff; 6], SRC, 0xbb);
    r1.send(&broadcast).unwrap();
    for far in [&r2, &r3] {
        let got = receive(
            far,
            std::slice::from_ref(&broadcast),
            1,
            patience(Duration::from_secs(5)),
        );
        assert_eq!(
            got,
            std::slice::from_ref(&broadcast),
            "the bridge forwards a broadcast"
        );
    }
    // Everything r1 sent before the broadcast has arrived by now, if it was forwarded at all.
    for far in [&r2, &r3] {
        let late = receive(far, &frames, 1, Duration::from_millis(300));
        assert!(
            late.is_empty(),
            "the bridge passed a reserved frame: {late:?}"
        );
    }
    assert!(bridged.up().changes.is_empty(), "up again changes nothing");
    // A port taken off the bridge is put back in place.
    bridged.host.ip("link set p2 nomaster");
    let plan = bridged.plan().unwrap();
    assert_eq!(
        plan.changes,
        [lab::Change::SetMaster {
            port: "sw.p2".into(),
            endpoint: "sw:p2".into(),
            bridge: "sw".into()
        }]
    );
    bridged.up();
    assert!(bridged.host.ip("-o link show dev p2").contains("master sw"));
    let down = bridged.down();
    assert_eq!(down.host_interfaces_removed, ["sw:p1", "sw:p2", "sw:p3"]);
    assert!(down.interfaces_removed.is_empty());
    bridged.host_links_return_to(&before);
}

const PAIR: &str = "name: LAB
topology:
  nodes:
    r1: {}
    r2: {}
  links:
    - endpoints: [r1:e1, r2:e1]
    - endpoints: [r2:e2, r1:e2]
";

#[test]
fn host_endpoints_carry_frames_to_the_host_namespace_with_their_macs_and_go_with_down() {
    let mac = "02:00:00:00:01:01";
    let lab = Lab::new(PAIR, |f| {
        // r1:e1 - type: host (host-interface h1), with a MAC on r1's side.
        one_ended(
            f,
            LinkKind::Host {
                host_interface: "h1".into(),
            },
        );
        f.links[0].macs.insert(endpoint("r1:e1"), mac.into());
        // r2:e2 - host:h2, the host as a node.
        f.links[1].endpoints[1] = endpoint("host:h2");
        let mut host = f.nodes["r1"].clone();
        host.kind = NodeKind::Host;
        f.nodes.insert("host".into(), host);
    });
    let before = lab.host_links();
    let made = lab.up();
    assert!(
        made.changes.iter().any(
            |c| matches!(c, lab::Change::CreatePort { endpoint, via, .. }
            if endpoint == "host:h1" && via == "veth, h1 in the host's namespace")
        ),
        "{:?}",
        made.changes
    );
    assert!(
        link_in(&lab.ns("r1"), "e1").contains(mac),
        "r1:e1 has its mac"
    );
    // Both ways, byte for byte, through the panel.
    let h1 = socket_in(&lab.host.name, "h1");
    let e1 = socket_in(&lab.ns("r1"), "e1");
    let out = frame([0xff; 6], [2, 0, 0, 0, 1, 1], 1);
    crosses(&e1, &h1, &out);
    let back = frame([2, 0, 0, 0, 1, 1], [2, 0, 0, 0, 9, 9], 2);
    crosses(&h1, &e1, &back);
    let h2 = socket_in(&lab.host.name, "h2");
    let r2 = socket_in(&lab.ns("r2"), "e2");
    let lldp = frame(reserved(0x0e), SRC, 3);
    crosses(&r2, &h2, &lldp);
    assert!(lab.up().changes.is_empty(), "up again changes nothing");
    let points = lab.in_host(|f| lab::capture_points(f, None)).unwrap();
    assert_eq!(
        points[0].2,
        "wire r1:e1 <-> host:h1 (inbound: sent by r1:e1)"
    );
    let shown = lab.in_host(|f| lab::show(f, None)).unwrap();
    assert_eq!(
        (shown[0].kind.as_str(), shown[0].health.as_str()),
        ("wire (host)", "ok"),
        "{:?}",
        shown[0]
    );
    assert_eq!(shown[0].endpoints, ["r1:e1", "host:h1"]);

    // A MAC changed by hand is a difference plan names and up puts back in place.
    run(
        "ip",
        &[
            "-n",
            &lab.ns("r1"),
            "link",
            "set",
            "dev",
            "e1",
            "address",
            "02:00:00:00:07:07",
        ],
    );
    let plan = lab.plan().unwrap();
    assert_eq!(
        plan.changes,
        [lab::Change::SetMac {
            port: "r1.e1".into(),
            endpoint: "r1:e1".into(),
            mac: mac.into(),
            was: "02:00:00:00:07:07".into()
        }]
    );
    let index = link_in(&lab.ns("r1"), "e1");
    lab.up();
    let after = link_in(&lab.ns("r1"), "e1");
    assert!(after.contains(mac), "{after}");
    assert_eq!(
        index.split(':').next(),
        after.split(':').next(),
        "the same interface, changed in place"
    );
    assert!(lab.up().changes.is_empty());

    let down = lab.down();
    assert_eq!(down.host_interfaces_removed, ["host:h1", "host:h2"]);
    lab.host_links_return_to(&before);
}

#[test]
fn a_macvlan_link_puts_a_macvlan_of_the_host_interface_in_the_node() {
    let mac = "02:00:00:00:02:02";
    let lab = Lab::new(PAIR, |f| {
        one_ended(
            f,
            LinkKind::Macvlan {
                host_interface: "up0".into(),
                mode: "bridge".into(),
            },
        );
        f.links[0].macs.insert(endpoint("r1:e1"), mac.into());
    });
    // The host's uplink up0, its far side in a namespace standing for the outside world.
    let outside = TestNs::new();
    veth(&lab.host, "up0", &outside, "ext0");
    let before = lab.host_links();
    let made = lab.up();
    assert!(
        made.changes.contains(&lab::Change::CreateDevice {
            endpoint: "r1:e1".into(),
            netns: lab.ns("r1"),
            what: "macvlan of up0 (bridge)".into(),
            mtu: 1500
        }),
        "{:?}",
        made.changes
    );
    let shown = run(
        "ip",
        &["-n", &lab.ns("r1"), "-d", "-o", "link", "show", "dev", "e1"],
    );
    assert!(
        shown.contains("macvlan mode bridge") && shown.contains(mac),
        "{shown}"
    );
    let e1 = socket_in(&lab.ns("r1"), "e1");
    let ext = socket_in(&outside.name, "ext0");
    let out = frame([0xff; 6], [2, 0, 0, 0, 2, 2], 1);
    crosses(&e1, &ext, &out);
    let back = frame([2, 0, 0, 0, 2, 2], [2, 0, 0, 0, 9, 9], 2);
    crosses(&ext, &e1, &back);
    assert!(lab.up().changes.is_empty(), "up again changes nothing");
    let shown = lab.in_host(|f| lab::show(f, None)).unwrap();
    assert_eq!(
        (shown[0].kind.as_str(), shown[0].health.as_str()),
        ("macvlan of up0 (bridge)", "ok")
    );
    // An `up` killed between making the macvlan and recording it: the next one makes it again.
    let listed = run("ip", &["-n", &lab.ns("r1"), "link", "show", "dev", "e1"]);
    let record = listed
        .split_whitespace()
        .find(|w| w.starts_with("patchwire.device."))
        .unwrap_or_else(|| panic!("no record: {listed}"))
        .to_string();
    run(
        "ip",
        &[
            "-n",
            &lab.ns("r1"),
            "link",
            "property",
            "del",
            "dev",
            "e1",
            "altname",
            &record,
        ],
    );
    let plan = lab.plan().unwrap();
    assert_eq!(
        plan.changes,
        [
            lab::Change::DeleteDevice {
                endpoint: "r1:e1".into(),
                netns: lab.ns("r1"),
                why: "not recorded: an interrupted up made it".into()
            },
            lab::Change::CreateDevice {
                endpoint: "r1:e1".into(),
                netns: lab.ns("r1"),
                what: "macvlan of up0 (bridge)".into(),
                mtu: 1500
            }
        ]
    );
    lab.up();
    assert!(lab.up().changes.is_empty(), "converged");
    lab.down();
    lab.host_links_return_to(&before);
}

#[test]
fn a_vxlan_link_joins_nodes_of_two_hosts() {
    let vxlan = |remote: &str| {
        let remote = remote.parse().unwrap();
        move |f: &mut LabFile| {
            f.links.truncate(1);
            let first = &mut f.links[0];
            first.endpoints.truncate(1);
            first.kind = LinkKind::Vxlan {
                remote,
                vni: 4711,
                udp_port: 14789,
                dev: Some("u0".into()),
                stitch: false,
            };
            first.mtu = 1400;
        }
    };
    let a = Lab::new(PAIR, vxlan("198.18.7.2"));
    let b = Lab::new(PAIR, vxlan("198.18.7.1"));
    veth(&a.host, "u0", &b.host, "u0");
    a.host.ip("addr add 198.18.7.1/24 dev u0");
    b.host.ip("addr add 198.18.7.2/24 dev u0");
    let made = a.up();
    assert!(
        made.changes
            .iter()
            .any(|c| matches!(c, lab::Change::CreatePort { port, via, .. }
            if port == "vx.4711" && via == "vxlan 4711 over u0 to 198.18.7.2 port 14789")),
        "{:?}",
        made.changes
    );
    b.up();
    let sender = socket_in(&a.ns("r1"), "e1");
    let receiver = socket_in(&b.ns("r1"), "e1");
    let stp = frame(reserved(0x00), SRC, 7);
    crosses(&sender, &receiver, &stp);
    assert!(a.up().changes.is_empty(), "up again changes nothing");
}

#[test]
fn a_dummy_link_is_made_or_refused_naming_the_module_as_this_kernel_allows() {
    // The truth from the kernel itself, in a scratch namespace.
    let scratch = TestNs::new();
    let available = std::process::Command::new("ip")
        .args(["-n", &scratch.name, "link", "add", "d0", "type", "dummy"])
        .output()
        .unwrap()
        .status
        .success();
    let lab = Lab::new(PAIR, |f| {
        one_ended(f, LinkKind::Dummy);
    });
    match available {
        false => {
            let refused = lab.plan().unwrap_err();
            let prefix = "kinds.yaml:7:5: link of r1:e1 (type: dummy): this kernel cannot make dummy \
                          interfaces (";
            let suffix = "): it needs the kernel module dummy (modprobe dummy, or a kernel \
                          with CONFIG_DUMMY); patchwire doctor checks for it";
            assert!(
                refused.starts_with(prefix) && refused.ends_with(suffix),
                "{refused}"
            );
            assert!(lab.in_host(|f| lab::up(f, None)).is_err(), "up refuses too");
            assert!(
                !std::path::Path::new(&format!("/run/netns/{}", lab.ns("r1"))).exists(),
                "nothing was made"
            );
        }
        true => {
            lab.up();
            let shown = run(
                "ip",
                &["-n", &lab.ns("r1"), "-d", "-o", "link", "show", "dev", "e1"],
            );
            assert!(shown.contains("dummy"), "{shown}");
            assert!(lab.up().changes.is_empty(), "up again changes nothing");
        }
    }
}

#[test]
fn a_mgmt_net_link_without_a_known_bridge_is_refused_before_anything_changes() {
    let lab = Lab::new(PAIR, |f| {
        one_ended(
            f,
            LinkKind::MgmtNet {
                host_interface: "m1".into(),
            },
        );
    });
    assert_eq!(
        lab.plan().unwrap_err(),
        "kinds.yaml:7:5: link of r1:e1 (type: mgmt-net): the management network's bridge is not \
         known: set mgmt.bridge to the name of the Linux bridge to plug m1 into"
    );
    let before = lab.host_links();
    assert!(lab.in_host(|f| lab::up(f, None)).is_err());
    assert_eq!(lab.host_links(), before);
    assert!(!std::path::Path::new(&format!("/run/netns/{}.panel", lab.file.name)).exists());
}

#[test]
fn a_mgmt_net_link_plugs_its_host_side_into_the_management_bridge() {
    let lab = Lab::new(PAIR, |f| {
        one_ended(
            f,
            LinkKind::MgmtNet {
                host_interface: "m1".into(),
            },
        );
        f.mgmt = Some(patchwire::runtime::NetworkSpec {
            name: "clab".into(),
            ipv4_subnet: None,
            ipv6_subnet: None,
            bridge: Some("mg0".into()),
            mtu: None,
        });
    });
    assert_eq!(
        lab.plan().unwrap_err(),
        "kinds.yaml:7:5: the mgmt-net link of r1:e1: there is no bridge mg0 in the host's network namespace; \
         create it first (ip link add mg0 type bridge; ip link set mg0 up) — or, for a node, \
         write kind: hub to have patchwire join its links in a transparent segment with no \
         bridge at all"
    );
    lab.host
        .ip("link add mg0 address 02:00:00:00:0f:0f type bridge");
    lab.host.ip("link set mg0 up");
    let before = lab.host_links();
    let plan = lab.plan().unwrap();
    assert!(
        plan.notes.is_empty(),
        "no bridge node, no note: {:?}",
        plan.notes
    );
    lab.up();
    assert!(lab.host.ip("-o link show dev m1").contains("master mg0"));
    // A frame from r1:e1 reaches the management bridge itself.
    let bridge = socket_in(&lab.host.name, "mg0");
    let e1 = socket_in(&lab.ns("r1"), "e1");
    let out = frame([0xff; 6], [2, 0, 0, 0, 3, 3], 5);
    crosses(&e1, &bridge, &out);
    assert!(lab.up().changes.is_empty(), "up again changes nothing");
    lab.down();
    lab.host_links_return_to(&before);
}

#[test]
fn removing_a_link_leaves_the_others_untouched_and_graph_draws_the_kinds() {
    let body = format!("{STAR}    - endpoints: [r1:e9, r2:e9]\n");
    let mut lab = Lab::new(&body, |f| {
        f.nodes.get_mut("sw").unwrap().kind = NodeKind::Hub;
        let host = &mut f.links[3];
        host.endpoints.truncate(1);
        host.kind = LinkKind::Host {
            host_interface: "h9".into(),
        };
    });
    lab.up();
    let r1 = link_in(&lab.ns("r1"), "e1");
    let h9 = lab.host.ip("-o link show dev h9");
    let dot = lab
        .in_host(|f| lab::graph(f, None, lab::GraphFormat::Dot))
        .unwrap();
    assert!(
        dot.contains("\"sw\" [label=\"sw\\n(hub)\", shape=diamond];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"host\" [label=\"host\\n(host namespace)\", shape=house];"),
        "{dot}"
    );
    // r3's link goes: the hub keeps r1 and r2, every other interface stays as it was.
    lab.file.links.remove(2);
    let plan = lab.plan().unwrap();
    assert!(
        plan.changes
            .iter()
            .any(|c| matches!(c, lab::Change::DeletePort { port, .. } if port == "r3.e1")),
        "{:?}",
        plan.changes
    );
    assert!(
        plan.changes.iter().any(
            |c| matches!(c, lab::Change::Hub { endpoints, .. } if endpoints == &["r1:e1", "r2:e1"])
        ),
        "{:?}",
        plan.changes
    );
    lab.up();
    assert_eq!(link_in(&lab.ns("r1"), "e1"), r1);
    assert_eq!(lab.host.ip("-o link show dev h9"), h9);
    assert!(lab.up().changes.is_empty());
}

#[test]
fn a_host_interface_that_is_not_the_labs_is_refused_by_up_and_does_not_stop_down() {
    let lab = Lab::new(PAIR, |f| {
        one_ended(
            f,
            LinkKind::Host {
                host_interface: "h1".into(),
            },
        );
    });
    lab.host.ip("link add name h1 type veth peer name h1b");
    lab.host.ip("link add name d1 type bridge");
    let refused = lab.plan().unwrap_err();
    assert!(
        refused.starts_with(
            "kinds.yaml:7:5: endpoint host:h1 (the host's namespace): h1 exists and is a veth, so it \
             is already connected to its peer (ifindex "
        ) && refused.ends_with("); remove it and patchwire creates it, joined to the lab"),
        "{refused}"
    );
    // Another kind of interface under that name: refused too, never wired.
    lab.host.ip("link del dev h1");
    lab.host.ip("link set dev d1 name h1");
    assert_eq!(
        lab.plan().unwrap_err(),
        "kinds.yaml:7:5: endpoint host:h1: the host's namespace has an interface h1 already, and \
         it is not the lab's: the lab makes that interface (a veth), so give the endpoint a name \
         the host does not use"
    );
    let snapshot = lab.host_links();
    lab.down();
    assert_eq!(
        lab.host_links(),
        snapshot,
        "down leaves the user's h1 alone"
    );

    // Two bridges' endpoints of one name would be one interface of the host's.
    let two = Lab::new(STAR, |f| {
        for node in ["sw", "r3"] {
            f.nodes.get_mut(node).unwrap().kind = NodeKind::Bridge;
        }
        f.links[2].endpoints = vec![endpoint("r1:e3"), endpoint("r3:p1")];
    });
    assert_eq!(
        two.plan().unwrap_err(),
        "kinds.yaml:9:5: endpoints r3:p1 and sw:p1 would both be interface p1 in the host's \
         namespace (bridge and host nodes' interfaces all live there): rename one"
    );
}

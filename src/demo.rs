//! `demo`: a throwaway lab that shows why a wire is not a bridge.
//!
//! Two "routers" (r1, r2) are joined twice: eth1 through a Linux bridge, eth2 through a
//! patchwire wire, both in a "lab" namespace. The same probe catalogue crosses both paths.
//! A patchwire mirror copies everything crossing the wire end r1-w (both directions) to an
//! analyzer namespace, which counts what arrives.
//! All three namespaces are private (never named), so they vanish with this process — also on
//! Ctrl-C, a panic or SIGKILL: nothing can be left behind.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::mirror::{self, Direction, MirrorSpec, MirrorStatus, Sources};
use crate::netns::Netns;
use crate::nl::RouteSocket;
use crate::nl::link::{self, IfIndex};
use crate::packet::PacketSocket;
use crate::probe::{self, DirectionReport, ProbeError};
use crate::wire::{self, LinkOptions, WireError, WireRequest, WireStatus};

/// Jumbo MTU used on every interface of the demo lab.
pub const DEMO_MTU: u32 = 9000;

/// What [`run`] found: the same frames through a bridge and through a wire, and the mirror's
/// copies.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    /// The catalogue through the bridge, r1 to r2 and back.
    pub bridge: Vec<DirectionReport>,
    /// The catalogue through the wire, r1 to r2 and back.
    pub wire: Vec<DirectionReport>,
    /// The wire as `show` reports it after the probe.
    pub wire_status: Vec<WireStatus>,
    /// The mirror on r1-w, read back after the probe.
    pub mirror: Option<MirrorStatus>,
    /// Frames the analyzer received from the mirror.
    pub analyzer_frames: usize,
    /// How long the whole demo took, in milliseconds.
    pub elapsed_ms: u128,
}

impl DemoReport {
    /// Every frame crossed the wire unchanged, both ways.
    pub fn wire_passed(&self) -> bool {
        self.wire.iter().all(DirectionReport::passed)
    }
}

struct Router {
    netns: Netns,
    socket: RouteSocket,
}

/// Builds the lab, probes both paths, and tears everything down (by dropping the namespaces).
pub fn run() -> Result<DemoReport, ProbeError> {
    let started = Instant::now();
    let lab = quiet_namespace("lab")?;
    let mut lab_socket = lab.route()?;
    let mut routers = Vec::new();
    for name in ["r1", "r2"] {
        let netns = quiet_namespace(name)?;
        let socket = netns.route()?;
        routers.push(Router { netns, socket });
    }

    request(
        &mut lab_socket,
        link::add_bridge("br0"),
        "creating bridge br0 in the lab",
    )?;
    let br0 = index_of(&mut lab_socket, "br0")?;
    for (router, name) in routers.iter_mut().zip(["r1", "r2"]) {
        for (inside, outside) in [
            ("eth1", format!("{name}-br")),
            ("eth2", format!("{name}-w")),
        ] {
            request(
                &mut router.socket,
                link::add_veth(inside, &outside, Some(lab.fd())),
                &format!("creating veth {name}:{inside} <-> lab:{outside}"),
            )?;
            let index = index_of(&mut router.socket, inside)?;
            request(
                &mut router.socket,
                (link::set_mtu(index, DEMO_MTU), 0),
                "setting mtu",
            )?;
            request(
                &mut router.socket,
                (link::set_up(index, true), 0),
                "bringing up",
            )?;
            let outer = index_of(&mut lab_socket, &outside)?;
            request(
                &mut lab_socket,
                (link::set_mtu(outer, DEMO_MTU), 0),
                "setting mtu",
            )?;
            if inside == "eth1" {
                request(
                    &mut lab_socket,
                    (link::set_master(outer, br0), 0),
                    "adding a bridge port",
                )?;
            }
            request(
                &mut lab_socket,
                (link::set_up(outer, true), 0),
                "bringing up",
            )?;
        }
    }
    request(
        &mut lab_socket,
        (link::set_mtu(br0, DEMO_MTU), 0),
        "setting bridge mtu",
    )?;
    request(
        &mut lab_socket,
        (link::set_up(br0, true), 0),
        "bringing up br0",
    )?;

    let options = LinkOptions {
        mtu: Some(DEMO_MTU),
        ..LinkOptions::default()
    };
    wire::link(
        lab.try_clone().map_err(io("netns"))?,
        &[WireRequest::new("r1-w", "r2-w")],
        &options,
    )?;
    let analyzer = add_analyzer(&lab, &mut lab_socket)?;
    // Let the fresh links settle before measuring.
    std::thread::sleep(Duration::from_millis(100));
    analyzer.socket.drain();

    let bridge = probe_between(&mut routers, "eth1", "r1:eth1", "r2:eth1")?;
    let wire = probe_between(&mut routers, "eth2", "r1:eth2", "r2:eth2")?;
    let wire_status = wire::show(lab.try_clone().map_err(io("netns"))?)?;
    let mut analyzer_frames = 0;
    let deadline = Instant::now() + Duration::from_millis(200);
    while analyzer
        .socket
        .recv_until(deadline)
        .map_err(io("analyzer"))?
        .is_some()
    {
        analyzer_frames += 1;
    }
    let mirror = mirror::show(lab.try_clone().map_err(io("netns"))?)?
        .into_iter()
        .next();
    Ok(DemoReport {
        bridge,
        wire,
        wire_status,
        mirror,
        analyzer_frames,
        elapsed_ms: started.elapsed().as_millis(),
    })
}

/// A private namespace with IPv6 off: no neighbour discovery or MLD frames of its own, so
/// every frame counted on the wire and at the analyzer is one the demo sent.
fn quiet_namespace(label: &str) -> Result<Netns, ProbeError> {
    let netns = Netns::create_private(label)?;
    netns
        .run(|| {
            for knob in ["all", "default"] {
                std::fs::write(format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6"), "1")?;
            }
            Ok(())
        })?
        .map_err(io("turning IPv6 off in a demo namespace"))?;
    Ok(netns)
}

/// The analyzer's namespace and a packet socket on its end of `mon`.
struct Analyzer {
    _netns: Netns,
    socket: PacketSocket,
}

/// A private "analyzer" namespace joined to the lab by a veth pair `mon`, and a mirror of the
/// wire end r1-w (both directions) to it.
fn add_analyzer(lab: &Netns, lab_socket: &mut RouteSocket) -> Result<Analyzer, ProbeError> {
    let analyzer = quiet_namespace("analyzer")?;
    let mut socket = analyzer.route()?;
    request(
        lab_socket,
        link::add_veth("mon", "mon", Some(analyzer.fd())),
        "creating veth lab:mon <-> analyzer:mon",
    )?;
    for socket in [&mut *lab_socket, &mut socket] {
        let index = index_of(socket, "mon")?;
        // Copies of jumbo frames must fit the receiving end.
        request(socket, (link::set_mtu(index, DEMO_MTU), 0), "setting mtu")?;
        request(socket, (link::set_up(index, true), 0), "bringing up mon")?;
    }
    let spec = MirrorSpec {
        name: "tap".into(),
        sources: Sources::List(vec!["r1-w".into()]),
        to: "mon".into(),
        direction: Direction::Both,
        vlans: None,
        output_vlan: None,
        onto_wire: false,
        filter: None,
    };
    mirror::add(lab.try_clone().map_err(io("netns"))?, &[spec], None)?;
    let index = index_of(&mut socket, "mon")?;
    let socket = analyzer
        .run(|| PacketSocket::open(index.0))?
        .map_err(io("packet socket on analyzer:mon"))?;
    Ok(Analyzer {
        _netns: analyzer,
        socket,
    })
}

fn probe_between(
    routers: &mut [Router],
    ifname: &str,
    a: &str,
    b: &str,
) -> Result<Vec<DirectionReport>, ProbeError> {
    let mut ports = Vec::new();
    for router in routers.iter_mut() {
        let index = index_of(&mut router.socket, ifname)?;
        ports.push(probe::packet_port(&router.netns, index, ifname)?);
    }
    Ok(vec![
        probe::run_direction(&ports[0], &ports[1], DEMO_MTU, a, b)?,
        probe::run_direction(&ports[1], &ports[0], DEMO_MTU, b, a)?,
    ])
}

fn request(
    socket: &mut RouteSocket,
    (message, flags): (netlink_packet_route::RouteNetlinkMessage, u16),
    what: &str,
) -> Result<(), WireError> {
    socket
        .request(message, flags)
        .map(|_| ())
        .map_err(|e| WireError::kernel(what, e))
}

fn index_of(socket: &mut RouteSocket, name: &str) -> Result<IfIndex, WireError> {
    link::parse_one(socket.request_raw(link::get_by_name(name), 0))
        .map(|l| l.index)
        .map_err(|e| WireError::kernel(format!("looking up {name}"), e))
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> ProbeError {
    move |source| ProbeError::Io {
        context: what.into(),
        source,
    }
}

//! A mirror (SPAN): copies of what crosses an interface sent out of another one, to an analyzer
//! (`patchwire mirror add`, `mirror show`, `mirror del`).
//!
//! The lab is two private network namespaces, gone when the process ends (even if it is
//! killed): nothing on the host is touched and nothing can be left behind. Namespace `lab` holds
//! the source `src` and the destination `mon`; each is one end of a veth pair whose other end
//! (`host`, `analyzer`) is in namespace `outside`. Frames `host` sends into `src` are copied out
//! of `mon`, and `analyzer` receives the copies.
//!
//! Run it as root: `cargo run --example mirror`.

use std::time::{Duration, Instant};

use patchwire::mirror::{self, Direction, MirrorSpec, Sources};
use patchwire::netns::Netns;
use patchwire::nl::RouteSocket;
use patchwire::nl::link;
use patchwire::packet::PacketSocket;

type Error = Box<dyn std::error::Error>;

/// How many frames the host sends.
const FRAMES: usize = 5;

fn main() {
    if let Err(error) = run() {
        eprintln!("mirror example: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let lab = quiet_namespace("lab")?;
    let outside = quiet_namespace("outside")?;
    veth(&lab, "src", &outside, "host")?;
    veth(&lab, "mon", &outside, "analyzer")?;
    println!(
        "private namespaces lab and outside: veths lab:src <-> outside:host, lab:mon <-> outside:analyzer"
    );

    // `patchwire -n lab mirror add web --from src --to mon --direction both`
    let spec = MirrorSpec {
        name: "web".into(),
        sources: Sources::List(vec!["src".into()]),
        to: "mon".into(),
        direction: Direction::Both,
        vlans: None,
        output_vlan: None,
        onto_wire: false,
        filter: None,
    };
    let outcome = mirror::add(lab.try_clone()?, &[spec], None)?;
    for added in &outcome.mirrors {
        for source in &added.sources {
            let hooks: Vec<String> = source.hooks.iter().map(ToString::to_string).collect();
            println!(
                "added mirror {}: {} ({}) -> {}",
                added.name,
                source.name,
                hooks.join(", "),
                added.to
            );
        }
    }

    // Some frames into the source, and what reaches the analyzer.
    let host = packet_socket(&outside, "host")?;
    let analyzer = packet_socket(&outside, "analyzer")?;
    for n in 0..FRAMES {
        host.send(&frame(n as u8))?;
    }
    let mut copies = 0;
    let deadline = Instant::now() + Duration::from_millis(300);
    while analyzer.recv_until(deadline)?.is_some() {
        copies += 1;
    }
    println!("host sent {FRAMES} frames into src; analyzer received {copies} copies");

    // `patchwire -n lab -s mirror show`
    for status in mirror::show(lab.try_clone()?)? {
        println!(
            "show: mirror {} -> {}: {}, {} copies ({} bytes), {} dropped",
            status.name,
            status.destination.name,
            status.health,
            status.packets,
            status.bytes,
            status.dropped
        );
        for problem in &status.problems {
            println!("  {problem}");
        }
    }
    if copies != FRAMES {
        return Err(format!("expected {FRAMES} copies at the analyzer, got {copies}").into());
    }

    // `patchwire -n lab mirror del web`
    let outcome = mirror::del(lab.try_clone()?, &["web".to_string()], false)?;
    println!(
        "deleted mirror {} ({} filters)",
        outcome.removed.join(", "),
        outcome.filters_removed
    );
    if !mirror::show(lab)?.is_empty() {
        return Err("a mirror is still there after del".into());
    }
    println!("show: no mirrors left");
    Ok(())
}

/// A private namespace with IPv6 off, so its interfaces send nothing of their own and every
/// frame counted is one the example sent.
fn quiet_namespace(label: &str) -> Result<Netns, Error> {
    let netns = Netns::create_private(label)?;
    netns.run(|| -> std::io::Result<()> {
        for knob in ["all", "default"] {
            std::fs::write(format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6"), "1")?;
        }
        Ok(())
    })??;
    Ok(netns)
}

/// A broadcast frame of the local experimental ethertype 0x88b5, which no stack acts on.
fn frame(n: u8) -> Vec<u8> {
    let mut frame = vec![0xff; 6];
    frame.extend([0x02, 0, 0, 0, 0, 1, 0x88, 0xb5, n]);
    frame.resize(60, 0);
    frame
}

/// `ip -n NETNS link add NAME type veth peer name PEER netns OTHER`, both ends up and running.
fn veth(netns: &Netns, name: &str, other: &Netns, peer: &str) -> Result<(), Error> {
    let mut here = netns.route()?;
    let mut there = other.route()?;
    let (message, flags) = link::add_veth(name, peer, Some(other.fd()));
    here.request(message, flags)?;
    set_up(&mut here, name)?;
    set_up(&mut there, peer)?;
    wait_running(&mut here, name)?;
    wait_running(&mut there, peer)
}

fn set_up(socket: &mut RouteSocket, name: &str) -> Result<(), Error> {
    let index = link::parse_one(socket.request_raw(link::get_by_name(name), 0))?.index;
    socket.request(link::set_up(index, true), 0)?;
    Ok(())
}

/// Waits until `name` is operationally up: until the kernel says so, whatever is sent out of
/// it is dropped.
fn wait_running(socket: &mut RouteSocket, name: &str) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !link::parse_one(socket.request_raw(link::get_by_name(name), 0))?.oper_up {
        if Instant::now() > deadline {
            return Err(format!("{name} did not come up").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// A raw socket sending and receiving whole frames on `name`, opened inside `netns`.
fn packet_socket(netns: &Netns, name: &str) -> Result<PacketSocket, Error> {
    let index = link::parse_one(netns.route()?.request_raw(link::get_by_name(name), 0))?.index;
    Ok(netns.run(|| PacketSocket::open(index.0))??)
}

//! A wire: join two interfaces as if by a cable, look at it, send frames through it, take it
//! apart (`patchwire link`, `show`, `probe`, `unlink`).
//!
//! The lab is two private network namespaces, gone when the process ends (even if it is
//! killed): nothing on the host is touched and nothing can be left behind. Namespace `lab` holds
//! `left` and `right`; each is one end of a veth pair whose other end (`host-l`, `host-r`) is in
//! namespace `hosts`. The wire joins `left` and `right`, so what `host-l` sends comes out of
//! `host-r` unchanged, and back.
//!
//! Run it as root: `cargo run --example wire`.

use std::time::{Duration, Instant};

use patchwire::netns::Netns;
use patchwire::nl::RouteSocket;
use patchwire::nl::link::{self, IfIndex};
use patchwire::packet::PacketSocket;
use patchwire::probe;
use patchwire::wire::{self, LinkOptions, WireRequest};

type Error = Box<dyn std::error::Error>;

/// The MTU of every veth here (the kernel's default): the probe's largest frame is 14 + this.
const MTU: u32 = 1500;

fn main() {
    if let Err(error) = run() {
        eprintln!("wire example: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let lab = Netns::create_private("lab")?;
    let hosts = Netns::create_private("hosts")?;
    veth(&lab, "left", &hosts, "host-l")?;
    veth(&lab, "right", &hosts, "host-r")?;
    println!(
        "private namespaces lab and hosts: veths lab:left <-> hosts:host-l, lab:right <-> hosts:host-r"
    );

    // `patchwire -n lab link left right`
    let outcome = wire::link(
        lab.try_clone()?,
        &[WireRequest::new("left", "right")],
        &LinkOptions::default(),
    )?;
    for [a, b] in &outcome.created {
        println!("linked {a} <-> {b} ({} kernel changes)", outcome.changes);
    }

    // `patchwire -n lab show`
    for status in wire::show(lab.try_clone()?)? {
        println!(
            "show: {} <-> {}: {}",
            status.a.name, status.b.name, status.health
        );
        for problem in &status.problems {
            println!("  {problem}");
        }
    }

    // What `patchwire probe` does: the frame catalogue (LACP, STP, LLDP, PAUSE, tags, jumbo…)
    // sent from the far side of one end must arrive byte for byte at the far side of the other.
    let l = packet_socket(&hosts, "host-l")?;
    let r = packet_socket(&hosts, "host-r")?;
    let mut passed = true;
    for (tx, rx, from, to) in [(&l, &r, "host-l", "host-r"), (&r, &l, "host-r", "host-l")] {
        let report = probe::run_direction(tx, rx, MTU, from, to)?;
        let good = report
            .results
            .iter()
            .filter(|r| r.verdict == probe::Verdict::Ok)
            .count();
        println!(
            "probe {from} -> {to}: {good}/{} kinds of frame arrived unchanged",
            report.results.len()
        );
        passed &= report.passed();
    }
    if !passed {
        return Err("the wire changed or lost frames".into());
    }

    // `patchwire -n lab unlink left`
    let outcome = wire::unlink(lab.try_clone()?, &["left".to_string()], false)?;
    for [a, b] in &outcome.removed {
        println!("unlinked {a} <-> {b}");
    }
    if !wire::show(lab)?.is_empty() {
        return Err("a wire is still there after unlink".into());
    }
    println!("show: no wires left");
    Ok(())
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

fn set_up(socket: &mut RouteSocket, name: &str) -> Result<IfIndex, Error> {
    let index = link::parse_one(socket.request_raw(link::get_by_name(name), 0))?.index;
    socket.request(link::set_up(index, true), 0)?;
    Ok(index)
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
    Ok(probe::packet_port(netns, index, name)?)
}

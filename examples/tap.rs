//! A tap for a VM: made persistent for qemu to open, wired to the interface the VM should be
//! plugged into, then removed (`patchwire tap add`, what `qemu-ifup` does, `tap del`).
//!
//! The lab is two private network namespaces, gone when the process ends (even if it is
//! killed): nothing on the host is touched and nothing can be left behind. Namespace `host`
//! holds the tap `tap0` and `eth1`, one end of a veth pair whose other end (`port1`) is in
//! namespace `switch`. No VM opens the tap here, so `show` reports it without carrier.
//!
//! Run it as root: `cargo run --example tap`.

use std::time::{Duration, Instant};

use patchwire::netns::Netns;
use patchwire::nl::RouteSocket;
use patchwire::nl::link;
use patchwire::vm::{self, Mtu, TapSpec};
use patchwire::wire::{self, LinkOptions, WireRequest};

type Error = Box<dyn std::error::Error>;

fn main() {
    if let Err(error) = run() {
        eprintln!("tap example: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let host = Netns::create_private("host")?;
    let switch = Netns::create_private("switch")?;
    veth(&host, "eth1", &switch, "port1")?;
    println!("private namespaces host and switch: veth host:eth1 <-> switch:port1");

    // `patchwire -n host tap add tap0 --mtu-from eth1`
    let spec = TapSpec {
        name: "tap0".into(),
        mtu: Some(Mtu::From("eth1".into())),
        vnet_hdr: true,
        queues: 1,
        owner: None,
        group: None,
    };
    let tap = vm::tap_add(host.try_clone()?, &spec)?;
    println!(
        "added tap {} (mtu {}, persistent: {})",
        tap.name,
        tap.mtu,
        tap.tun.as_ref().is_some_and(|t| t.persist)
    );

    // `patchwire -n host link tap0 eth1`: what qemu's `script=` (patchwire-ifup) does once qemu
    // has opened the tap.
    let outcome = wire::link(
        host.try_clone()?,
        &[WireRequest::new("tap0", "eth1")],
        &LinkOptions::default(),
    )?;
    for [a, b] in &outcome.created {
        println!("linked {a} <-> {b}");
    }
    for status in wire::show(host.try_clone()?)? {
        println!(
            "show: {} <-> {}: {}",
            status.a.name, status.b.name, status.health
        );
        for problem in &status.problems {
            println!("  {problem}");
        }
    }

    // `patchwire -n host tap del tap0`: the wire goes first, then the tap.
    let unwired = vm::tap_del(host.try_clone()?, "tap0")?;
    match unwired {
        Some([a, b]) => println!("deleted tap tap0 and its wire {a} <-> {b}"),
        None => println!("deleted tap tap0 (it was not wired)"),
    }
    let mut socket = host.route()?;
    if link::parse_one(socket.request_raw(link::get_by_name("tap0"), 0)).is_ok() {
        return Err("tap0 is still there after tap del".into());
    }
    if !wire::show(host)?.is_empty() {
        return Err("a wire is still there after tap del".into());
    }
    println!("show: no wires left, no tap0");
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

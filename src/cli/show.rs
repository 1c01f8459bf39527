//! `patchwire show [IF]`.

use patchwire::wire::{self, Counters, EndStatus, Path, WireStatus};

use super::{Cli, Exit, human_bytes, print_json};

/// List wires with their health (ok / degraded / broken) and what is wrong; -s adds counters.
///
/// Rebuilt from the kernel each time: a wire whose end was deleted or moved away shows as
/// broken (mirred silently drops everything then). Degraded: an end down or without carrier
/// (an unattached tap; an end `watch` holds down says so), one direction missing, MTUs that
/// differ, an end that is not silent (IPv6 on, addresses), another tool's filter that can take
/// the wire's frames first. -s adds per end its kind, state and TX checksum offload, and per
/// direction packets, bytes and drops; bytes are frame bytes with the Ethernet header, as
/// `mirror show -s` counts them (a VLAN tag the kernel keeps in metadata is not counted).
#[derive(clap::Args)]
pub struct Args {
    /// Show only the wire this interface is on.
    #[arg(conflicts_with = "lab")]
    pub end: Option<String>,
    /// Show a lab instead: every link of the file with its endpoints, kind, health and (-s)
    /// counters, from the kernel; then a `! node N: ...` line for each container node whose
    /// container is stopped, gone or restarted (its links are shown broken: nothing runs
    /// where their ends are), with the command that brings it back (-j: in each link's
    /// `problems` and `stale`). A pulled cable is said cut and by whom: `state: down` in the
    /// file (health ok), its flap, or `patchwire cut` (-j: `cable`, `cut_by`; a flap's
    /// schedule in `flap`). FILE default: the one *.clab.yml or *.clab.yaml here.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
    pub lab: Option<String>,
    /// With --lab: which of the file's hosts this is.
    #[arg(long, value_name = "NAME", requires = "lab")]
    pub host: Option<String>,
    /// List the labs on this host instead (found from their namespaces): name, nodes, links,
    /// health and file; a lab whose file is gone or renamed is shown as orphaned, with the
    /// command that removes it; container nodes whose container is stopped, gone or
    /// restarted are named, as with --lab.
    #[arg(long, conflicts_with_all = ["end", "lab"])]
    pub labs: bool,
    /// With --lab or --labs: the container runtime to ask about container nodes. Default: the
    /// one holding the lab's containers (docker is asked first, then podman).
    #[arg(long, short = 'r', value_enum, value_name = "RUNTIME")]
    pub runtime: Option<super::lab::RuntimeName>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let runtime = super::lab::RuntimeArgs {
        runtime: args.runtime,
    };
    if args.labs {
        return super::lab::list(cli, &runtime);
    }
    if let Some(path) = &args.lab {
        return super::lab::show(cli, path, args.host.as_deref(), &runtime);
    }
    if args.runtime.is_some() {
        use clap::CommandFactory;
        super::Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "-r/--runtime: show asks a container runtime only with --lab or --labs",
            )
            .exit();
    }
    let netns = cli.netns()?;
    let mut wires = wire::show(netns.try_clone()?)?;
    if let Some(end) = &args.end {
        wires.retain(|w| w.involves(end));
        if wires.is_empty() {
            let mut socket = netns.route()?;
            let exists = patchwire::nl::link::parse_one(
                socket.request_raw(patchwire::nl::link::get_by_name(end), 0),
            )
            .is_ok();
            match exists {
                true => anyhow::bail!("{end} is not on a patchwire wire in {}", netns.describe()),
                false => anyhow::bail!("{}", wire::missing_interface(&netns, end)),
            }
        }
    }
    if cli.json {
        print_json(&wires)?;
        return Ok(Exit::Ok);
    }
    if wires.is_empty() {
        println!("no wires");
        return Ok(Exit::Ok);
    }
    let width = wires
        .iter()
        .map(|w| w.a.name.len() + w.b.name.len() + 5)
        .max()
        .unwrap_or(0)
        .max(4);
    println!("{:<width$}  {:<8}  MTU", "WIRE", "HEALTH");
    for wire in &wires {
        print_wire(wire, width, cli.stats);
    }
    Ok(Exit::Ok)
}

fn print_wire(wire: &WireStatus, width: usize, stats: bool) {
    let health = wire.health.to_string();
    let mtu = match (wire.a.mtu, wire.b.mtu) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}/{b}"),
        (Some(a), None) => a.to_string(),
        _ => "-".into(),
    };
    let name = format!("{} <-> {}", wire.a.name, wire.b.name);
    println!("{name:<width$}  {health:<8}  {mtu}");
    if stats {
        println!("    datapath: {}", wire.datapath);
        print_end(&wire.a);
        print_end(&wire.b);
        print_direction(&wire.a.name, &wire.b.name, wire.a_to_b, wire.a_to_b_path);
        print_direction(&wire.b.name, &wire.a.name, wire.b_to_a, wire.b_to_a_path);
    }
    for problem in &wire.problems {
        println!("    ! {problem}");
    }
}

/// "tap1: tap (attached), up, carrier, tx-checksum off".
fn print_end(end: &EndStatus) {
    if !end.present {
        println!("    {}: gone", end.name);
        return;
    }
    let kind = match (end.kind.as_deref(), end.attached) {
        (_, Some(true)) => "tap (attached)".to_string(),
        (_, Some(false)) => "tap (unattached)".to_string(),
        (Some(kind), None) => kind.to_string(),
        (None, None) => "device".to_string(),
    };
    let state = match (end.up, end.carrier) {
        (true, true) => "up, carrier",
        (true, false) => "up, no carrier",
        (false, _) => "down",
    };
    let offload = match end.tx_checksum {
        Some(true) => ", tx-checksum on",
        Some(false) => ", tx-checksum off",
        None => "",
    };
    println!("    {}: {kind}, {state}{offload}", end.name);
}

/// "a -> b: 9 packets, 900 B, 0 dropped (path peer)".
fn print_direction(from: &str, to: &str, counters: Option<Counters>, path: Option<Path>) {
    let path = path.map(|p| format!(" (path {p})")).unwrap_or_default();
    match counters {
        Some(c) => println!(
            "    {from} -> {to}: {} packets, {}, {} dropped{path}",
            c.packets,
            human_bytes(c.bytes),
            c.drops
        ),
        None => println!("    {from} -> {to}: not installed"),
    }
}

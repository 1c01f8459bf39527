//! `patchwire mirror add|del|show`.

use clap::Subcommand;
use patchwire::mirror::{self, Direction, MirrorSpec, MirrorStatus, Sources, VlanSet, spec};
use patchwire::wire::Fault;

use super::link::{batch_name, read_batch};
use super::{Cli, Exit, human_bytes, print_json};

/// Port mirroring (SPAN): copy the frames entering and/or leaving interfaces to another one.
///
/// Like an Open vSwitch mirror, without Open vSwitch: each source gets a small eBPF classifier
/// on its clsact ingress (`in`) and/or egress (`out`) hook whose mirred action sends a copy out
/// of the destination, counted per source and direction. Copies leave unmodified, VLAN tags
/// included. A wire on the same interface keeps working (the copy is made first). The
/// destination can be a vxlan interface (remote mirroring to an analyzer on another host).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
patchwire -n lab mirror add web --from eth1,eth2 --to mon0 --direction both\n  \
patchwire -n lab mirror add up --from eth3 --to mon0 --direction in --vlan 100,200-210\n  \
patchwire -n lab mirror add all --all --to mon1\n  \
patchwire -n lab mirror add rspan --from eth1 --to vx0 --output-vlan 999\n  \
patchwire -n lab mirror add --batch mirrors.txt\n  \
patchwire -n lab mirror show -s\n  \
patchwire -n lab mirror del web")]
pub struct Args {
    #[command(subcommand)]
    pub command: MirrorCommand,
}

#[derive(Subcommand)]
pub enum MirrorCommand {
    Add(AddArgs),
    Del(DelArgs),
    Show(ShowArgs),
}

/// Create a mirror: copies of the sources' frames go out of the destination.
///
/// Refused, with the reason and nothing changed: a destination that is also a source, missing
/// interfaces, a name in use, VLAN IDs outside 1-4094, a mirror cycle (copies that would come
/// back to a source), interfaces in another namespace, and selections that would deliver a
/// frame to the same destination twice (the same source and direction in two mirrors, or the
/// two ends of a wire seen in opposite directions). Mirroring both ends of a wire with
/// --direction both copies each crossing frame once: only `in` is taken on each end.
#[derive(clap::Args)]
#[command(
    override_usage = "patchwire mirror add [OPTIONS] (NAME (--from IF[,IF...] | --all) --to IF | --batch FILE)"
)]
pub struct AddArgs {
    /// The mirror's name (1-15 characters: A-Z a-z 0-9 _ . -).
    #[arg(required_unless_present = "batch")]
    pub name: Option<String>,
    /// Source interfaces, comma-separated (or repeat the option).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present_any = ["all", "batch"],
        conflicts_with = "all",
        value_name = "IF[,IF...]"
    )]
    pub from: Vec<String>,
    /// Mirror every Ethernet interface of the namespace present now, except the destination
    /// (and its veth peer), loopback and other mirrors' destinations.
    #[arg(long)]
    pub all: bool,
    /// The destination interface (a veth, tap, vxlan... in the same namespace).
    #[arg(long, value_name = "IF", required_unless_present = "batch")]
    pub to: Option<String>,
    /// Which frames of each source: arriving (`in`), leaving (`out`) or both.
    #[arg(long, value_enum, default_value = "both")]
    pub direction: Direction,
    /// Copy only frames whose outer VLAN ID (802.1Q or 802.1ad) is in the list: IDs and
    /// ranges, e.g. 100,200-210.
    #[arg(long, value_name = "ID[,ID...]", value_parser = parse_vlans)]
    pub vlan: Option<VlanSet>,
    /// RSPAN: copies leave the destination tagged with this VLAN ID (pushed on the copy only).
    #[arg(long, value_name = "ID", value_parser = parse_vlan_id)]
    pub output_vlan: Option<u16>,
    /// Allow a wire end as the destination: the copies then leave it mixed with the wire's
    /// own traffic, to whatever is behind that end (e.g. RSPAN copies into a trunk towards a
    /// remote analyzer). Without this, a wire end as destination is refused.
    #[arg(long)]
    pub onto_wire: bool,
    /// Copy only frames matching this tcpdump expression (`tcp port 179`, `ether proto 0x88cc`,
    /// `vlan 100 and icmp`): compiled by libpcap (libpcap0.8 must be installed) and run in the
    /// mirror's own classifier, so other frames are never copied. In a --batch file, put it
    /// last on the line: it takes the rest of the line.
    #[arg(long, value_name = "EXPRESSION")]
    pub filter: Option<String>,
    /// Add many mirrors at once, all or nothing, from FILE (`-` = stdin): one per line, written
    /// like this command's arguments (`web --from eth1,eth2 --to mon0 --direction in`); `#`
    /// starts a comment. Much faster than one command per mirror.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "from", "all", "to", "vlan", "output_vlan", "onto_wire", "filter"])]
    pub batch: Option<String>,
}

/// One line of a batch file, parsed like `mirror add` arguments.
#[derive(clap::Parser)]
#[command(name = "mirror add", no_binary_name = true, disable_help_flag = true)]
struct BatchLine {
    #[command(flatten)]
    args: AddArgs,
}

impl AddArgs {
    fn spec(&self) -> MirrorSpec {
        MirrorSpec {
            name: self.name.clone().unwrap_or_default(),
            sources: match self.all {
                true => Sources::All,
                false => Sources::List(self.from.clone()),
            },
            to: self.to.clone().unwrap_or_default(),
            direction: self.direction,
            vlans: self.vlan.clone(),
            output_vlan: self.output_vlan,
            onto_wire: self.onto_wire,
            filter: self.filter.clone(),
        }
    }
}

/// Mirror specs from a batch file: one `mirror add` argument list per line.
fn parse_batch(text: &str) -> Result<Vec<MirrorSpec>, String> {
    let mut specs = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        // --filter takes the rest of the line (a tcpdump expression has spaces).
        let (line, filter) = match line.split_once("--filter ") {
            Some((head, filter)) => (head, Some(filter.trim())),
            None => (line, None),
        };
        let words = line
            .split_whitespace()
            .chain(filter.into_iter().flat_map(|f| ["--filter", f]));
        let parsed = <BatchLine as clap::Parser>::try_parse_from(words).map_err(|e| {
            // clap's message up to its usage hint, on one line.
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let message = message.join(" ");
            format!(
                "line {}: {}",
                number + 1,
                message.trim_start_matches("error: ")
            )
        })?;
        if parsed.args.batch.is_some() {
            return Err(format!("line {}: --batch cannot be nested", number + 1));
        }
        specs.push(parsed.args.spec());
    }
    if specs.is_empty() {
        return Err("no mirrors in it (only blank or comment lines)".into());
    }
    Ok(specs)
}

/// Remove mirrors: only their own filters; a clsact qdisc goes when nothing is left on it.
#[derive(clap::Args)]
#[command(override_usage = "patchwire mirror del [OPTIONS] (NAME... | --all)")]
pub struct DelArgs {
    /// Names of the mirrors to remove.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub names: Vec<String>,
    /// Remove every patchwire mirror in the namespace.
    #[arg(long)]
    pub all: bool,
}

/// List mirrors: sources and directions, destination, health (ok / degraded / broken) and what
/// is wrong; -s adds copies made and dropped, per source and direction. Bytes are frame bytes,
/// Ethernet header included, exactly as `show -s` counts a wire's (a VLAN tag the kernel keeps
/// in metadata is not counted).
#[derive(clap::Args)]
pub struct ShowArgs {
    /// Show only this mirror.
    pub name: Option<String>,
}

fn parse_vlans(text: &str) -> Result<VlanSet, String> {
    VlanSet::parse(text)
}

fn parse_vlan_id(text: &str) -> Result<u16, String> {
    spec::vlan_id(text, text)
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    match &args.command {
        MirrorCommand::Add(add) => run_add(cli, add),
        MirrorCommand::Del(del) => run_del(cli, del),
        MirrorCommand::Show(show) => run_show(cli, show),
    }
}

fn run_add(cli: &Cli, args: &AddArgs) -> anyhow::Result<Exit> {
    let specs = match &args.batch {
        Some(path) => parse_batch(&read_batch(path)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", batch_name(path)))?,
        None => vec![args.spec()],
    };
    let fault = std::env::var("PATCHWIRE_FAULT_AT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|at_op| Fault { at_op });
    let outcome = mirror::add(cli.netns()?, &specs, fault)?;
    if cli.json {
        print_json(&outcome)?;
        return Ok(Exit::Ok);
    }
    if outcome.mirrors.len() > 20 {
        println!("added {} mirrors", outcome.mirrors.len());
        return Ok(Exit::Ok);
    }
    for added in &outcome.mirrors {
        let sources: Vec<String> = added
            .sources
            .iter()
            .map(|s| {
                let hooks: Vec<String> = s.hooks.iter().map(ToString::to_string).collect();
                format!("{} ({})", s.name, hooks.join(", "))
            })
            .collect();
        let shown = if sources.len() > 8 {
            format!("{} sources", sources.len())
        } else {
            sources.join(", ")
        };
        println!("mirror {}: {shown} -> {}", added.name, added.to);
        for note in &added.notes {
            eprintln!("note: mirror {}: {note}", added.name);
        }
        for warning in &added.warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok(Exit::Ok)
}

fn run_del(cli: &Cli, args: &DelArgs) -> anyhow::Result<Exit> {
    let outcome = mirror::del(cli.netns()?, &args.names, args.all)?;
    if cli.json {
        print_json(&outcome)?;
    } else if outcome.removed.is_empty() {
        println!("no mirrors to remove");
    } else {
        for name in &outcome.removed {
            println!("removed mirror {name}");
        }
    }
    Ok(Exit::Ok)
}

fn run_show(cli: &Cli, args: &ShowArgs) -> anyhow::Result<Exit> {
    let mut mirrors = mirror::show(cli.netns()?)?;
    if let Some(name) = &args.name {
        mirrors.retain(|m| &m.name == name);
        if mirrors.is_empty() {
            anyhow::bail!("no mirror named {name}");
        }
    }
    if cli.json {
        print_json(&mirrors)?;
        return Ok(Exit::Ok);
    }
    if mirrors.is_empty() {
        println!("no mirrors");
        return Ok(Exit::Ok);
    }
    for mirror in &mirrors {
        print_mirror(mirror, cli.stats);
    }
    Ok(Exit::Ok)
}

fn print_mirror(mirror: &MirrorStatus, stats: bool) {
    let mut select = format!("direction {}", mirror.direction);
    if let Some(vlans) = &mirror.vlans {
        select.push_str(&format!(", vlan {vlans}"));
    }
    if let Some(tag) = mirror.output_vlan {
        select.push_str(&format!(", output-vlan {tag}"));
    }
    if let Some(filter) = &mirror.filter {
        select.push_str(&format!(", filter {filter:?}"));
    }
    let dest = &mirror.destination;
    let state = match (dest.present, dest.up, dest.carrier) {
        (false, _, _) => "gone",
        (true, false, _) => "down",
        (true, true, false) => "no carrier",
        (true, true, true) => "up",
    };
    println!(
        "{}  {}  -> {} ({state})  {select}",
        mirror.name, mirror.health, dest.name
    );
    for source in &mirror.sources {
        let hooks: Vec<String> = source.hooks.iter().map(|h| h.hook.to_string()).collect();
        if stats {
            for h in &source.hooks {
                println!(
                    "    {} {}: {} packets, {}, {} dropped",
                    source.name,
                    h.hook,
                    h.packets,
                    human_bytes(h.bytes),
                    h.dropped
                );
            }
        } else {
            println!("    {} ({})", source.name, hooks.join(", "));
        }
    }
    for gone in &mirror.sources_gone {
        println!("    {gone}: gone");
    }
    if stats {
        println!(
            "    total: {} packets, {}, {} dropped",
            mirror.packets,
            human_bytes(mirror.bytes),
            mirror.dropped
        );
    }
    for problem in &mirror.problems {
        println!("    ! {problem}");
    }
}

//! The command line: one file per subcommand; global options follow iproute2 (`-n`, `-j`, `-s`).

pub mod capture;
pub mod completions;
pub mod demo;
pub mod doctor;
pub mod impair;
pub mod lab;
pub mod link;
pub mod man;
pub mod mirror;
pub mod probe;
pub mod qemu;
pub mod show;
pub mod tap;
pub mod unlink;
pub mod watch;

use clap::{Parser, Subcommand};
use patchwire::netns::Netns;

/// How a command ended, beyond success.
pub enum Exit {
    Ok,
    /// The command ran but found a failure to report (a probe frame lost).
    Failed,
    /// An error already reported in the command's own way (qemu scripts log it).
    Error,
}

#[derive(Parser)]
#[command(
    name = "patchwire",
    version,
    about = "Transparent layer-2 wires between Linux interfaces: every frame, LACP/LLDP/802.1X/PAUSE included",
    long_about = "patchwire joins two interfaces of one network namespace as if by a cable: every frame \
arriving at one leaves the other unchanged, both ways (tc clsact + u32 match-all + mirred redirect, \
set up over netlink). Unlike a Linux bridge it passes LACP, STP, LLDP, PAUSE and 802.1X frames.\n\n\
Mirrors (`mirror add|del|show`) copy what enters or leaves interfaces to another one (SPAN, RSPAN, \
VXLAN), selected by direction, VLAN and tcpdump filter, with counters. `capture` writes the frames of \
interfaces in any namespaces (or of a whole lab) into one pcapng file, with their direction.\n\n\
Labs (`up | plan | down | graph FILE`, `show --lab FILE`): a whole topology of namespaces, qemu VMs, \
wires, hub segments, mirrors and VXLAN links to other hosts in one YAML file (man 5 patchwire-lab), \
made, changed in place and removed as a unit. `watch` propagates link state across wires. As \
`patchwire-cni` the same binary is a chained CNI plugin that gives a pod's VM a tap wired to its \
interface (docs/cni.md).\n\n\
The kernel is the record: `show` rebuilds wires from the filters patchwire installed (priority 20567, \
action cookie tagged b7 + the far end's name), `mirror show` mirrors from theirs; there is no state file.",
    after_help = "Examples:\n\
Wires, mirrors, captures in a namespace:\n  patchwire -n lab1 link eth1 tap1\n  patchwire -n lab1 link eth2 vx100 --mtu 9500\n  \
patchwire -n lab1 show -s\n  patchwire -n lab1 probe eth1\n  \
patchwire -n lab1 mirror add web --from eth1,eth2 --to mon0 --filter 'tcp port 179'\n  patchwire -n lab1 mirror show -s\n  patchwire -n lab1 unlink eth1\n  \
patchwire -n lab1 link --batch wires.txt\n  \
patchwire capture lab1:eth1 lab2:eth1 -w both.pcapng -a duration:60\n  \
patchwire -n lab1 capture eth1 -w - -f 'not arp' | wireshark -k -i -\n\
Labs from a YAML file:\n  patchwire plan lab.yaml\n  patchwire up lab.yaml\n  patchwire show --lab lab.yaml -s\n  \
patchwire capture --lab lab.yaml -w lab.pcapng\n  patchwire graph lab.yaml | dot -Tsvg > lab.svg\n  patchwire down lab.yaml\n\
Impairments and cable pulls:\n  patchwire impair --lab lab.yaml r1:eth1 --loss 5% --delay 50ms\n  \
patchwire impair show --lab lab.yaml\n  patchwire cut --lab lab.yaml r1:eth1\n  patchwire mend --lab lab.yaml r1:eth1\n\
VMs and pods:\n  patchwire -n lab1 tap add tap1 --mtu-from eth1 --owner qemu\n  \
qemu-system-x86_64 ... -netdev tap,id=n1,ifname=tap1,script=/usr/local/bin/patchwire-ifup,downscript=/usr/local/bin/patchwire-ifdown\n  \
{\"type\": \"patchwire-cni\"} after bridge or ptp in a CNI conflist (docs/cni.md)\n\
Around them:\n  patchwire demo\n  patchwire watch -j\n  patchwire doctor\n  patchwire man /usr/local/share/man/man1\n\n\
Exit status: 0 success, 1 error (nothing changed), 2 usage error, 3 probe ran and some frames failed."
)]
pub struct Cli {
    /// Network namespace: a name under /run/netns, or a path (/proc/PID/ns/net). Default: the current one. Refused by up, plan, down, graph, demo, show --lab/--labs and capture --lab (a lab names its namespaces in its file), and by doctor, man and completions.
    #[arg(short = 'n', long = "netns", global = true, value_name = "NETNS")]
    pub netns: Option<String>,
    /// JSON output (errors too, as {"error": "..."}).
    #[arg(short = 'j', long = "json", global = true)]
    pub json: bool,
    /// Statistics (show, mirror show): per end its state and offloads, per direction packets,
    /// frame bytes and drops; JSON (-j) carries them always, and `impair show` prints its
    /// counters with or without it. Refused by commands that have none to print.
    #[arg(short = 's', long = "stats", global = true)]
    pub stats: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    Link(link::Args),
    Mirror(mirror::Args),
    Impair(impair::Args),
    Cut(impair::CableArgs),
    Mend(impair::MendArgs),
    Unlink(unlink::Args),
    Show(show::Args),
    Probe(probe::Args),
    Capture(capture::Args),
    Demo(demo::Args),
    Tap(tap::Args),
    QemuIfup(qemu::UpArgs),
    QemuIfdown(qemu::DownArgs),
    Watch(watch::Args),
    Up(lab::UpArgs),
    Plan(lab::PlanArgs),
    Down(lab::DownArgs),
    Graph(lab::GraphArgs),
    Doctor(doctor::Args),
    Completions(completions::Args),
    Man(man::Args),
}

impl Cli {
    /// Only `show` and `mirror show` print statistics; elsewhere `-s` would silently do
    /// nothing, so it is a usage error.
    pub fn check_stats(&self) -> Result<(), String> {
        let prints_stats = match &self.command {
            Command::Show(_) => true,
            Command::Mirror(args) => matches!(args.command, mirror::MirrorCommand::Show(_)),
            // Its counters are its statistics: printed always, so -s is taken and changes nothing.
            Command::Impair(args) => matches!(args.command, Some(impair::ImpairCommand::Show(_))),
            _ => false,
        };
        match !self.stats || prints_stats {
            true => Ok(()),
            false => Err(
                "-s/--stats applies to `show`, `mirror show` and `impair show` only; this command has no statistics to print"
                    .into(),
            ),
        }
    }

    pub fn netns(&self) -> anyhow::Result<Netns> {
        Ok(Netns::open(self.netns.as_deref())?)
    }

    pub fn run(&self) -> anyhow::Result<Exit> {
        match &self.command {
            Command::Link(args) => link::run(self, args),
            Command::Mirror(args) => mirror::run(self, args),
            Command::Impair(args) => impair::run(self, args),
            Command::Cut(args) => impair::cut(self, args),
            Command::Mend(args) => impair::mend(self, args),
            Command::Unlink(args) => unlink::run(self, args),
            Command::Show(args) => show::run(self, args),
            Command::Probe(args) => probe::run(self, args),
            Command::Capture(args) => capture::run(self, args),
            Command::Demo(args) => demo::run(self, args),
            Command::Tap(args) => tap::run(self, args),
            Command::QemuIfup(args) => qemu::up(self, args),
            Command::QemuIfdown(args) => qemu::down(self, args),
            Command::Watch(args) => watch::run(self, args),
            Command::Up(args) => lab::up(self, args),
            Command::Plan(args) => lab::plan(self, args),
            Command::Down(args) => lab::down(self, args),
            Command::Graph(args) => lab::graph(self, args),
            Command::Doctor(args) => doctor::run(self, args),
            Command::Completions(args) => completions::run(self, args),
            Command::Man(args) => man::run(self, args),
        }
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// 1234567 -> "1.2 MB": counters people read at a glance.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

//! Benchmark of labs: how long `patchwire up`, an unchanged `up`, an edit and `down` take for a
//! lab of 200 nodes, 1,000 wires and 20 hubs of 8 members, next to the bare kernel work and to
//! the scripts people write today.
//!
//! Run as root with `scripts/bench --only labs [--quick] [--rounds N]` (it runs `cargo bench
//! --bench labs -- ARGS`). The lab is `pwb<pid>`: its namespaces are `pwb<pid>-n0 …
//! pwb<pid>-n199` and the panel `pwb<pid>.panel`; a guard runs `patchwire down` and deletes any
//! namespace left under that name when the benchmark ends, also on error or panic
//! (`scripts/bench` removes those of a killed run). One more namespace, `pwb-<pid>-probe`,
//! tells when the kernel has finished cleaning up deleted namespaces.
//!
//! **The lab.** Nodes n0 … n199; 1,000 point-to-point links in five rounds, link i of a round
//! joining n(i) and n(i + d) (d = 1, 3, 7, 13, 31), so every node has 10 of them (eth1 … eth10);
//! hub h (0 … 19) joins n(h), n(h + 20), … n(h + 140) at their eth11. 2,160 endpoints, so 2,160
//! veth pairs, one end in a node, the other a port in the panel.
//!
//! Three ways to build it, alternating in every round (the order rotates from round to round):
//!
//! - **(a) bare kernel work**, with `ip -batch` and nothing else: one `ip -batch` adds the 201
//!   namespaces (and turns IPv6 off in the panel with a `netns exec … sysctl` line, as
//!   patchwire does, so the kernel does the same work when ports come up); one `ip -n PANEL
//!   -batch` adds the 2,160 veth pairs (`link add PORT type veth peer name IF netns NODE`,
//!   chunked at CREATE_CHUNK lines); one brings lo and every port up; and, because a veth end
//!   cannot be created up and `ip -batch` cannot change namespace between lines, one `ip -n NODE
//!   -batch` per node brings its lo and interfaces up (200 processes: after the build, 200 more
//!   that only read lo are timed, to estimate what the processes cost by themselves).
//!   Deletion: one `ip -batch` of 201 `netns del`. Its wall time is bimodal on a 2-core machine
//!   (~15 ms or ~300 ms for the same lines): each umount may wait for an RCU grace period while
//!   the kernel is already cleaning up the namespaces released before it; so the table gives
//!   min and max, and `down` is also compared with the fastest deletion seen.
//! - **(b) today's script**: (a) plus, before the ports come up, the 1,000 wires by `tc -n PANEL
//!   -batch` (per wire two clsact qdiscs and two u32 match-all `mirred egress redirect` filters,
//!   as `benches/wires.rs` does) and the hubs as Linux bridges (`link add brhH type bridge`,
//!   the 8 ports `master brhH`, in the veth batch), which is what netlab and containerlab do:
//!   a plain tc script has no comparable hub. Deletion: as in (a).
//! - **(c) patchwire**: `patchwire up FILE` from nothing (wall time of the process), `up` again
//!   (must print "up to date"), `plan -j` (must print `[]`), then an edit re-pointing 10 wires to
//!   fresh interfaces (`plan -j` and `up` timed; about 50 changes expected; `plan -j` must then
//!   print `[]`), a second edit re-pointing 100 more (500 changes expected), and `down`.
//!
//! Checks: after each build the panel must hold the 2,160 ports (and in (b) the 2,000 clsact
//! qdiscs, the redirects of the first and last wire and the 160 bridge ports), and all of them
//! must reach operstate UP (waited for, at most SETTLE_LIMIT: the kernel's linkwatch is slow
//! with thousands of interfaces); after `up`, `patchwire -n PANEL show -j` must report 1,000
//! wires all ok and `show --lab FILE -j` every link ok, else the benchmark fails. The next step
//! starts only once every port is UP, so that linkwatch work does not land in a figure.
//! Deleting a namespace is asynchronous in the kernel (cleanup_net): deletion is the wall time
//! of the commands, and before the next build the benchmark waits (at most CLEANUP_LIMIT) until
//! the names are gone, a veth pair made and deleted in the probe namespace takes its usual
//! time and the CPUs are idle, three times in a row; that wait is printed as "kernel cleanup".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

#[path = "labs/hand.rs"]
mod hand;
#[path = "labs/lab.rs"]
mod lab;
#[path = "labs/patchwire_up.rs"]
mod patchwire_up;
#[path = "labs/report.rs"]
mod report;
mod support;
#[path = "labs/waiting.rs"]
mod waiting;
use hand::{HandRun, by_hand};
use lab::{Guard, Lab};
use patchwire::nl::tc::WIRE_PRIO;
use patchwire_up::{PatchwireRun, with_patchwire};
use report::{Results, environment, table};
use serde_json::Value;
use support::report::{fmt_duration, median};
use support::{Scratch, ip, run};
use waiting::{Probe, panel_ports, settle};

const USAGE: &str = "usage: cargo bench --bench labs -- [--quick] [--rounds N]";
/// The binary cargo built for this benchmark (release profile: target/release/patchwire).
const BIN: &str = env!("CARGO_BIN_EXE_patchwire");
const NODES: usize = 200;
/// Offsets of the five rounds of wires: wire i of a round joins n(i) and n(i + d).
const OFFSETS: [usize; 5] = [1, 3, 7, 13, 31];
const WIRES: usize = NODES * OFFSETS.len();
const HUBS: usize = 20;
const HUB_MEMBERS: usize = 8;
const PORTS: usize = 2 * WIRES + HUBS * HUB_MEMBERS;
/// Lines per `ip -batch` that names other namespaces: iproute2 6.1 leaks one fd per `netns
/// NAME` (as in benches/wires.rs).
const CREATE_CHUNK: usize = 4_000;
/// Wires re-pointed by the first and by the second edit.
const EDIT_SMALL: usize = 10;
const EDIT_LARGE: usize = 100;
/// Changes `up` makes per re-pointed wire: bounce the port that stays (its node sees the cable
/// move), unwire, delete the old port, create the new one, wire.
const CHANGES_PER_REPOINT: usize = 5;
/// The longest any patchwire process may take before it is killed and the benchmark fails.
const PROCESS_LIMIT: Duration = Duration::from_secs(300);
/// The longest to wait for every port to report operstate UP.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);
/// The longest to wait for the kernel to finish cleaning up deleted namespaces.
const CLEANUP_LIMIT: Duration = Duration::from_secs(60);

fn main() -> Result<()> {
    let config = Config::from_args()?;
    let started = Instant::now();
    // SAFETY: geteuid has no preconditions and touches no memory.
    let euid = unsafe { libc::geteuid() };
    ensure!(
        euid == 0,
        "the benchmark creates network namespaces: run it as root"
    );
    let mut scratch = Scratch::new("labs")?;
    let probe = Probe::new(scratch.netns("probe")?)?;
    let lab = Lab::new(&scratch)?;
    let guard = Guard { lab: &lab };
    eprintln!(
        "labs: lab {} ({NODES} nodes, {WIRES} wires, {HUBS} hubs of {HUB_MEMBERS}, {PORTS} ports) \
         in {}; patchwire is {BIN}; the probe's veth pair takes {} when the kernel is idle",
        lab.name,
        lab.files.base.display(),
        fmt_duration(probe.idle)
    );

    let mut results = Results::default();
    for round in 0..config.rounds {
        let mut order = [Way::Bare, Way::Script, Way::Patchwire];
        order.rotate_left(round % 3);
        for way in order {
            let at = started.elapsed().as_secs_f64();
            match way {
                Way::Bare | Way::Script => {
                    let r = by_hand(&lab, &scratch, &probe, way == Way::Script)?;
                    eprintln!(
                        "labs: round {} {}: up {} ({}), settled {} later, deletion {}, \
                         kernel cleanup {} ({at:.0} s into the run)",
                        round + 1,
                        way.label(),
                        fmt_duration(r.up),
                        r.phases
                            .iter()
                            .map(|(what, took)| format!("{what} {}", fmt_duration(*took)))
                            .collect::<Vec<_>>()
                            .join(", "),
                        fmt_duration(r.settle),
                        fmt_duration(r.delete),
                        fmt_duration(r.cleanup)
                    );
                    match way {
                        Way::Bare => results.bare.push(r),
                        _ => results.script.push(r),
                    }
                }
                Way::Patchwire => {
                    let r = with_patchwire(&lab, &probe)?;
                    eprintln!(
                        "labs: round {} patchwire: up {} ({} changes, {:.2} s by its own clock), \
                         unchanged up {}, edit {} ({} changes), edit {} ({} changes), down {}, \
                         kernel cleanup {} ({at:.0} s into the run)",
                        round + 1,
                        fmt_duration(r.up.took),
                        r.up.changes,
                        r.up.reported,
                        fmt_duration(r.unchanged_up),
                        fmt_duration(r.small.up.took),
                        r.small.up.changes,
                        fmt_duration(r.large.up.took),
                        r.large.up.changes,
                        fmt_duration(r.down),
                        fmt_duration(r.cleanup)
                    );
                    results.patchwire.push(r);
                }
            }
        }
    }
    drop(guard);
    drop(scratch);

    println!("{}", environment());
    println!("{}", table(&config, &results));
    println!(
        "total run time: {:.0} s{}",
        started.elapsed().as_secs_f64(),
        if config.quick { " (--quick)" } else { "" }
    );
    Ok(())
}

struct Config {
    quick: bool,
    rounds: usize,
}

impl Config {
    fn from_args() -> Result<Self> {
        let mut config = Config {
            quick: false,
            rounds: 3,
        };
        let mut rounds = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => {} // cargo bench passes it to every bench binary
                "--quick" => config.quick = true,
                "--rounds" => {
                    let n: usize = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .with_context(|| format!("--rounds takes a positive number\n{USAGE}"))?;
                    rounds = Some(n);
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        config.rounds = rounds.unwrap_or(if config.quick { 1 } else { 3 });
        Ok(config)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Bare,
    Script,
    Patchwire,
}

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::Bare => "(a) bare ip -batch",
            Way::Script => "(b) ip -batch + tc -batch + bridges",
            Way::Patchwire => "(c) patchwire",
        }
    }
}

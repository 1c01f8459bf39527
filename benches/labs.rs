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

mod support;
use patchwire::nl::tc::WIRE_PRIO;
use serde_json::Value;
use support::{Scratch, ip, run};

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

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// The lab

/// `NODE:IF`: node n(node), interface `interface`.
#[derive(Clone, PartialEq, Eq)]
struct Endpoint {
    node: usize,
    interface: String,
}

impl Endpoint {
    fn new(node: usize, number: usize) -> Self {
        Endpoint {
            node,
            interface: format!("eth{number}"),
        }
    }

    /// The panel port patchwire makes for it (`NODE.IF`: at most 10 bytes here, never hashed).
    fn port(&self) -> String {
        format!("n{}.{}", self.node, self.interface)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "n{}:{}", self.node, self.interface)
    }
}

#[derive(Clone)]
struct Topology {
    wires: Vec<[Endpoint; 2]>,
    hubs: Vec<Vec<Endpoint>>,
}

impl Topology {
    fn new() -> Self {
        let mut next = vec![0usize; NODES];
        let mut take = |node: usize| {
            next[node] += 1;
            Endpoint::new(node, next[node])
        };
        let mut wires = Vec::with_capacity(WIRES);
        for d in OFFSETS {
            for i in 0..NODES {
                wires.push([take(i), take((i + d) % NODES)]);
            }
        }
        let hubs = (0..HUBS)
            .map(|h| (0..HUB_MEMBERS).map(|j| take(h + HUBS * j)).collect())
            .collect();
        Topology { wires, hubs }
    }

    /// The same lab with the second endpoint of the given wires moved to a fresh interface of
    /// the same node (ethN above any the node has).
    fn repoint(&self, wires: impl IntoIterator<Item = usize>) -> Self {
        let mut next = vec![0usize; NODES];
        for e in self.endpoints() {
            let n: usize = e.interface["eth".len()..].parse().expect("ethN");
            next[e.node] = next[e.node].max(n);
        }
        let mut edited = self.clone();
        for k in wires {
            let node = edited.wires[k][1].node;
            next[node] += 1;
            edited.wires[k][1] = Endpoint::new(node, next[node]);
        }
        edited
    }

    fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.wires
            .iter()
            .flat_map(|w| w.iter())
            .chain(self.hubs.iter().flatten())
    }

    fn yaml(&self, name: &str) -> String {
        let mut out = format!(
            "# {NODES} nodes, {WIRES} wires, {HUBS} hubs of {HUB_MEMBERS} (benches/labs.rs)\n\
             name: {name}\ntopology:\n  nodes:\n"
        );
        for i in 0..NODES {
            let _ = writeln!(out, "    n{i}: {{}}");
        }
        out.push_str("  links:\n");
        for link in self
            .wires
            .iter()
            .map(|w| w.as_slice())
            .chain(self.hubs.iter().map(Vec::as_slice))
        {
            let quoted: Vec<String> = link.iter().map(|e| format!("\"{e}\"")).collect();
            let _ = writeln!(out, "    - endpoints: [{}]", quoted.join(", "));
        }
        out
    }
}

struct Files {
    base: PathBuf,
    /// EDIT_SMALL wires re-pointed.
    small: PathBuf,
    /// EDIT_LARGE more re-pointed, on top of `small`.
    large: PathBuf,
}

struct Lab {
    name: String,
    panel: String,
    topology: Topology,
    files: Files,
}

impl Lab {
    fn new(scratch: &Scratch) -> Result<Self> {
        let name = format!("pwb{}", std::process::id());
        let topology = Topology::new();
        ensure!(
            topology.endpoints().count() == PORTS,
            "the lab has {PORTS} endpoints"
        );
        // Wires 0, 100, … 900 first; then 5, 15, … 995: other wires, spread over the lab.
        let small = topology.repoint((0..EDIT_SMALL).map(|i| i * WIRES / EDIT_SMALL));
        let large =
            small.repoint((0..EDIT_LARGE).map(|i| i * WIRES / EDIT_LARGE + WIRES / EDIT_LARGE / 2));
        let files = Files {
            base: scratch.file("lab.yaml", &topology.yaml(&name))?,
            small: scratch.file("lab-edit10.yaml", &small.yaml(&name))?,
            large: scratch.file("lab-edit110.yaml", &large.yaml(&name))?,
        };
        Ok(Lab {
            panel: format!("{name}.panel"),
            name,
            topology,
            files,
        })
    }

    fn node_netns(&self, node: usize) -> String {
        format!("{}-n{node}", self.name)
    }

    /// The namespaces named after this lab that exist now.
    fn namespaces(&self) -> Result<Vec<String>> {
        let (node, panel) = (format!("{}-", self.name), format!("{}.", self.name));
        Ok(ip(&["netns", "list"])?
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&node) || n.starts_with(&panel))
            .map(str::to_string)
            .collect())
    }
}

/// Takes the lab down at the end, also on error or panic: `patchwire down`, then whatever
/// namespace under the lab's name is left (the ones (a) and (b) make).
struct Guard<'a> {
    lab: &'a Lab,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .arg("down")
            .arg(&self.lab.files.base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        for name in self.lab.namespaces().unwrap_or_default() {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Waiting for the kernel

/// Tells when the kernel is done with earlier work: a veth pair made and deleted in a namespace
/// of its own takes its idle time again (cleanup_net holds the RTNL lock while it unregisters
/// the dead namespaces' interfaces).
struct Probe {
    netns: String,
    idle: Duration,
}

impl Probe {
    fn new(netns: String) -> Result<Self> {
        let mut probe = Probe {
            netns,
            idle: Duration::ZERO,
        };
        let mut times = Vec::new();
        for _ in 0..5 {
            times.push(probe.once()?);
        }
        probe.idle = median(times);
        Ok(probe)
    }

    fn once(&self) -> Result<Duration> {
        let start = Instant::now();
        ip(&[
            "-n",
            &self.netns,
            "link",
            "add",
            "p0",
            "type",
            "veth",
            "peer",
            "name",
            "p1",
        ])?;
        ip(&["-n", &self.netns, "link", "del", "p0"])?;
        Ok(start.elapsed())
    }

    /// Waits until the lab's namespaces are gone and, three times in a row, the probe takes at
    /// most 1.5 × its idle time + 5 ms and the CPUs are ≥ 80 % idle over the 100 ms before it.
    /// Gives up (with a warning) after CLEANUP_LIMIT; returns the time waited.
    fn await_cleanup(&self, lab: &Lab) -> Result<Duration> {
        let start = Instant::now();
        loop {
            let left = lab.namespaces()?;
            if left.is_empty() {
                break;
            }
            ensure!(
                start.elapsed() < CLEANUP_LIMIT,
                "{} namespaces of the lab still listed {} s after deletion: {}",
                left.len(),
                CLEANUP_LIMIT.as_secs(),
                left.join(" ")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let limit = self.idle.mul_f64(1.5) + Duration::from_millis(5);
        let mut quiet = 0;
        while quiet < 3 {
            let before = cpu_sample();
            std::thread::sleep(Duration::from_millis(100));
            let idle = match (before, cpu_sample()) {
                (Some((i0, t0)), Some((i1, t1))) => (i1 - i0) as f64 / (t1 - t0).max(1) as f64,
                _ => 1.0,
            };
            let took = self.once()?;
            quiet = match took <= limit && idle >= 0.8 {
                true => quiet + 1,
                false => 0,
            };
            if start.elapsed() > CLEANUP_LIMIT {
                eprintln!(
                    "labs: the kernel still looks busy {} s after deleting the lab (probe {}, \
                     CPUs {:.0} % idle); going on",
                    CLEANUP_LIMIT.as_secs(),
                    fmt_duration(took),
                    idle * 100.0
                );
                break;
            }
        }
        Ok(start.elapsed())
    }
}

/// (idle, total) jiffies of all CPUs, from /proc/stat.
fn cpu_sample() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    Some((fields.get(3)? + fields.get(4)?, fields.iter().sum()))
}

/// Waits until `expected` interfaces in the panel (every one but lo) report operstate UP;
/// returns the time waited.
fn settle(lab: &Lab, expected: usize) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let links = ip(&["-n", &lab.panel, "-o", "link", "show"])?;
        let up = links
            .lines()
            .filter(|l| !l.contains(": lo:"))
            .filter(|l| l.contains(" state UP "))
            .count();
        if up == expected {
            return Ok(start.elapsed());
        }
        ensure!(
            start.elapsed() < SETTLE_LIMIT,
            "only {up} of {expected} interfaces in {} report operstate UP {} s after the lab was built",
            lab.panel,
            SETTLE_LIMIT.as_secs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The panel's ports (veth ends named like patchwire's NODE.IF).
fn panel_ports(lab: &Lab) -> Result<usize> {
    let links = ip(&["-n", &lab.panel, "-o", "link", "show"])?;
    Ok(links
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter(|name| name.starts_with('n') && name.contains('.'))
        .count())
}

// ---------------------------------------------------------------------------------------------
// (a) and (b): by hand

struct HandRun {
    up: Duration,
    /// What the up time is made of, in order.
    phases: Vec<(&'static str, Duration)>,
    settle: Duration,
    /// 200 `ip -n NODE -batch` processes that only read lo: the process share of "nodes up".
    processes: Duration,
    delete: Duration,
    cleanup: Duration,
}

/// Runs `commands` (one a line) through `ip` or `tc` with `-batch`, `chunk` lines a process.
fn batch(
    scratch: &Scratch,
    tool: &str,
    netns: Option<&str>,
    commands: &[String],
    chunk: usize,
) -> Result<Duration> {
    let mut took = Duration::ZERO;
    for (i, part) in commands.chunks(chunk).enumerate() {
        let file = scratch.file(&format!("{tool}-{i}.batch"), &(part.join("\n") + "\n"))?;
        let mut command = Command::new(tool);
        if let Some(netns) = netns {
            command.args(["-n", netns]);
        }
        command.arg("-batch").arg(&file);
        let start = Instant::now();
        run(&mut command)?;
        took += start.elapsed();
    }
    Ok(took)
}

fn by_hand(lab: &Lab, scratch: &Scratch, probe: &Probe, script: bool) -> Result<HandRun> {
    let topology = &lab.topology;
    // Only the ip and tc processes are timed, not writing their batch files.
    let mut namespaces = vec![
        format!("netns add {}", lab.panel),
        format!(
            "netns exec {} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
             net.ipv6.conf.default.disable_ipv6=1",
            lab.panel
        ),
    ];
    namespaces.extend((0..NODES).map(|i| format!("netns add {}", lab.node_netns(i))));
    let mut pairs: Vec<String> = topology
        .endpoints()
        .map(|e| {
            format!(
                "link add {} type veth peer name {} netns {}",
                e.port(),
                e.interface,
                lab.node_netns(e.node)
            )
        })
        .collect();
    let bridges: Vec<String> = (0..topology.hubs.len())
        .map(|h| format!("brh{h}"))
        .collect();
    let mut tc = Vec::new();
    if script {
        for (h, hub) in topology.hubs.iter().enumerate() {
            pairs.push(format!("link add {} type bridge", bridges[h]));
            for member in hub {
                pairs.push(format!(
                    "link set dev {} master {}",
                    member.port(),
                    bridges[h]
                ));
            }
        }
        for [a, b] in &topology.wires {
            let (a, b) = (a.port(), b.port());
            tc.push(format!("qdisc add dev {a} clsact"));
            tc.push(format!("qdisc add dev {b} clsact"));
            for (from, to) in [(&a, &b), (&b, &a)] {
                tc.push(format!(
                    "filter add dev {from} ingress pref {WIRE_PRIO} protocol all u32 match u32 0 0 \
                     action mirred egress redirect dev {to}"
                ));
            }
        }
    }
    let mut panel_up = vec!["link set dev lo up".to_string()];
    panel_up.extend(
        topology
            .endpoints()
            .map(|e| format!("link set dev {} up", e.port())),
    );
    if script {
        panel_up.extend(bridges.iter().map(|b| format!("link set dev {b} up")));
    }
    let mut node_up: Vec<Vec<String>> = (0..NODES)
        .map(|_| vec!["link set dev lo up".to_string()])
        .collect();
    for e in topology.endpoints() {
        node_up[e.node].push(format!("link set dev {} up", e.interface));
    }
    let delete: Vec<String> = std::iter::once(lab.panel.clone())
        .chain((0..NODES).map(|i| lab.node_netns(i)))
        .map(|n| format!("netns del {n}"))
        .collect();

    let mut phases = Vec::new();
    phases.push((
        "namespaces",
        batch(scratch, "ip", None, &namespaces, CREATE_CHUNK)?,
    ));
    phases.push((
        if script { "veths+bridges" } else { "veths" },
        batch(scratch, "ip", Some(&lab.panel), &pairs, CREATE_CHUNK)?,
    ));
    if script {
        phases.push((
            "tc wires",
            batch(scratch, "tc", Some(&lab.panel), &tc, usize::MAX)?,
        ));
    }
    phases.push((
        "panel up",
        batch(scratch, "ip", Some(&lab.panel), &panel_up, usize::MAX)?,
    ));
    let mut nodes = Duration::ZERO;
    for (i, commands) in node_up.iter().enumerate() {
        nodes += batch(
            scratch,
            "ip",
            Some(&lab.node_netns(i)),
            commands,
            usize::MAX,
        )?;
    }
    phases.push(("nodes up (200 ip)", nodes));
    // The processes only: writing the batch files is left out.
    let up = phases.iter().map(|(_, took)| *took).sum();

    let ports = panel_ports(lab)?;
    ensure!(
        ports == PORTS,
        "{}: the panel holds {ports} ports, expected {PORTS}",
        if script { "(b)" } else { "(a)" }
    );
    if script {
        check_script(lab)?;
    }
    let settle = settle(lab, PORTS + if script { HUBS } else { 0 })?;
    // What the 200 processes of "nodes up" cost by themselves: the same processes reading
    // their node's lo instead.
    let look = vec!["link show dev lo".to_string()];
    let mut processes = Duration::ZERO;
    for i in 0..NODES {
        processes += batch(scratch, "ip", Some(&lab.node_netns(i)), &look, 1)?;
    }

    let start = Instant::now();
    batch(scratch, "ip", None, &delete, usize::MAX)?;
    let delete = start.elapsed();
    let cleanup = probe.await_cleanup(lab)?;
    Ok(HandRun {
        up,
        phases,
        settle,
        processes,
        delete,
        cleanup,
    })
}

/// (b) made 2,000 clsact qdiscs, the first and last wire redirect both ways, and 160 ports
/// are bridge ports.
fn check_script(lab: &Lab) -> Result<()> {
    let qdiscs = run(Command::new("tc").args(["-n", &lab.panel, "qdisc", "show"]))?;
    let clsact = qdiscs
        .lines()
        .filter(|l| l.starts_with("qdisc clsact"))
        .count();
    ensure!(
        clsact == 2 * WIRES,
        "(b): the panel holds {clsact} clsact qdiscs, expected {}",
        2 * WIRES
    );
    for [a, b] in [&lab.topology.wires[0], &lab.topology.wires[WIRES - 1]] {
        let (a, b) = (a.port(), b.port());
        for (from, to) in [(&a, &b), (&b, &a)] {
            let filters = run(Command::new("tc")
                .args(["-n", &lab.panel, "filter", "show", "dev", from, "ingress"]))?;
            ensure!(
                filters.contains(&format!("Egress Redirect to device {to})")),
                "(b): {from} does not redirect to {to}:\n{filters}"
            );
        }
    }
    let links = ip(&["-n", &lab.panel, "-o", "link", "show"])?;
    let members = links.lines().filter(|l| l.contains(" master brh")).count();
    ensure!(
        members == HUBS * HUB_MEMBERS,
        "(b): {members} bridge ports, expected {}",
        HUBS * HUB_MEMBERS
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// (c): patchwire

struct Ran {
    stdout: String,
    took: Duration,
}

/// Runs patchwire with `args`, killed after PROCESS_LIMIT; fails with its stderr unless it
/// succeeds. `took` is the wall time of the process.
fn patchwire(args: &[&str]) -> Result<Ran> {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let child = command.spawn().with_context(|| format!("starting {BIN}"))?;
    let pid = child.id() as libc::pid_t;
    let (done, watch) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let expired = matches!(
            watch.recv_timeout(PROCESS_LIMIT),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        if expired {
            // SAFETY: kill has no memory effects; `pid` is our child, not yet waited for
            // (the main thread signals before it could be reaped and reused).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        expired
    });
    let output = child.wait_with_output();
    let took = start.elapsed();
    let _ = done.send(());
    let killed = watchdog.join().unwrap_or(false);
    let output = output.with_context(|| format!("waiting for patchwire {}", args.join(" ")))?;
    ensure!(
        !killed,
        "patchwire {} did not finish within {} s and was killed",
        args.join(" "),
        PROCESS_LIMIT.as_secs()
    );
    if !output.status.success() {
        bail!(
            "patchwire {} failed ({}) after {}: {}{}",
            args.join(" "),
            output.status,
            fmt_duration(took),
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .last()
                .map(|l| format!(" (last line of its output: {l})"))
                .unwrap_or_default()
        );
    }
    Ok(Ran {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        took,
    })
}

/// One `up` that changed something: its wall time, the change count it printed and the time
/// by its own clock ("lab NAME: N change(s) in S s", which leaves out reading the file and
/// starting the process).
struct Up {
    took: Duration,
    changes: usize,
    reported: f64,
}

fn up(file: &Path) -> Result<Up> {
    let ran = patchwire(&["up", path(file)?])?;
    let last = ran.stdout.lines().last().unwrap_or_default();
    let parse = || -> Option<(usize, f64)> {
        let (_, tail) = last.split_once(": ")?;
        let (count, tail) = tail.split_once(" change(s) in ")?;
        Some((count.parse().ok()?, tail.strip_suffix(" s")?.parse().ok()?))
    };
    let (changes, reported) =
        parse().with_context(|| format!("patchwire up printed {last:?} as its last line"))?;
    let listed = ran.stdout.lines().count() - 1;
    ensure!(
        listed == changes,
        "patchwire up listed {listed} changes but counted {changes}"
    );
    Ok(Up {
        took: ran.took,
        changes,
        reported,
    })
}

/// `plan -j FILE`: its wall time and the number of changes it lists.
fn plan(file: &Path) -> Result<(Duration, usize)> {
    let ran = patchwire(&["-j", "plan", path(file)?])?;
    let changes: Value = serde_json::from_str(&ran.stdout)
        .with_context(|| format!("patchwire plan -j printed {:?}", ran.stdout))?;
    let changes = changes
        .as_array()
        .context("patchwire plan -j printed no JSON array")?;
    Ok((ran.took, changes.len()))
}

fn path(file: &Path) -> Result<&str> {
    file.to_str().context("a lab file path that is not UTF-8")
}

/// An edit: `plan -j` (how long reading the lab and finding the difference takes), `up`, then
/// `plan -j` must be `[]`.
struct Edit {
    plan: Duration,
    up: Up,
}

fn edit(lab: &Lab, file: &Path, repointed: usize) -> Result<Edit> {
    let (plan_took, planned) = plan(file)?;
    let up = up(file)?;
    ensure!(
        planned == up.changes,
        "plan -j listed {planned} changes for the edit of {repointed} wires, up made {}",
        up.changes
    );
    let (_, left) = plan(file)?;
    ensure!(
        left == 0,
        "after editing {repointed} wires and running up, plan -j lists {left} changes, not []"
    );
    check_patchwire(lab, file)?;
    settle(lab, PORTS)?;
    Ok(Edit {
        plan: plan_took,
        up,
    })
}

struct PatchwireRun {
    up: Up,
    /// `plan -j` before anything exists (reading the file, finding no lab).
    plan_empty: Duration,
    /// `patchwire -n PANEL show -j` right after the first `up`.
    show_wires: Duration,
    settle: Duration,
    unchanged_up: Duration,
    unchanged_plan: Duration,
    small: Edit,
    large: Edit,
    down: Duration,
    cleanup: Duration,
}

fn with_patchwire(lab: &Lab, probe: &Probe) -> Result<PatchwireRun> {
    let (plan_empty, planned) = plan(&lab.files.base)?;
    let expected = 1 + NODES + PORTS + WIRES + HUBS;
    ensure!(
        planned == expected,
        "plan -j of the lab before up lists {planned} changes, expected {expected} \
         (namespaces, ports, wires, hubs)"
    );
    let up = up(&lab.files.base)?;
    ensure!(
        up.changes == expected,
        "patchwire up made {} changes, expected {expected}",
        up.changes
    );
    let show_wires = check_patchwire(lab, &lab.files.base)?;
    let settle = settle(lab, PORTS)?;

    let unchanged = patchwire(&["up", path(&lab.files.base)?])?;
    ensure!(
        unchanged.stdout.contains("up to date"),
        "patchwire up of an unchanged lab printed {:?}",
        unchanged.stdout.lines().last().unwrap_or_default()
    );
    let (unchanged_plan, left) = plan(&lab.files.base)?;
    ensure!(
        left == 0,
        "plan -j of an unchanged lab lists {left} changes, not []"
    );

    let small = edit(lab, &lab.files.small, EDIT_SMALL)?;
    let large = edit(lab, &lab.files.large, EDIT_LARGE)?;

    let down = patchwire(&["down", path(&lab.files.large)?])?;
    let removed = down
        .stdout
        .lines()
        .filter(|l| l.starts_with("removed netns "))
        .count();
    ensure!(
        removed == NODES + 1,
        "patchwire down removed {removed} namespaces, expected {}",
        NODES + 1
    );
    let cleanup = probe.await_cleanup(lab)?;
    Ok(PatchwireRun {
        up,
        plan_empty,
        show_wires,
        settle,
        unchanged_up: unchanged.took,
        unchanged_plan,
        small,
        large,
        down: down.took,
        cleanup,
    })
}

/// After `up` of `file`: the panel holds every port, `show -j` reports every wire ok and
/// `show --lab FILE -j` every link ok.
/// Returns the time `show -j` took (reading the panel's wires: part of what every `up`, `plan`
/// and `down` reads).
fn check_patchwire(lab: &Lab, file: &Path) -> Result<Duration> {
    let ports = panel_ports(lab)?;
    ensure!(
        ports == PORTS,
        "after patchwire up the panel holds {ports} ports, expected {PORTS}"
    );
    let show = patchwire(&["-n", &lab.panel, "-j", "show"])?;
    let wires: Value = serde_json::from_str(&show.stdout)?;
    let wires = wires.as_array().context("show -j printed no JSON array")?;
    let not_ok: Vec<String> = wires
        .iter()
        .filter(|w| w["health"] != "ok")
        .map(|w| w.to_string())
        .collect();
    ensure!(
        wires.len() == WIRES && not_ok.is_empty(),
        "patchwire -n {} show -j reports {} wires, {} not ok; the first: {}",
        lab.panel,
        wires.len(),
        not_ok.len(),
        not_ok.first().map_or("-", String::as_str)
    );
    let links: Value =
        serde_json::from_str(&patchwire(&["-j", "show", "--lab", path(file)?])?.stdout)?;
    let links = links
        .as_array()
        .context("show --lab -j printed no JSON array")?;
    let not_ok: Vec<String> = links
        .iter()
        .filter(|l| l["health"] != "ok")
        .map(|l| l.to_string())
        .collect();
    let hubs = links.iter().filter(|l| l["kind"] == "hub").count();
    ensure!(
        links.len() == WIRES + HUBS && hubs == HUBS && not_ok.is_empty(),
        "patchwire show --lab -j reports {} links ({hubs} hubs), {} not ok; the first: {}",
        links.len(),
        not_ok.len(),
        not_ok.first().map_or("-", String::as_str)
    );
    Ok(show.took)
}

// ---------------------------------------------------------------------------------------------
// Output

#[derive(Default)]
struct Results {
    bare: Vec<HandRun>,
    script: Vec<HandRun>,
    patchwire: Vec<PatchwireRun>,
}

fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    match ms {
        ms if ms < 10.0 => format!("{ms:.2} ms"),
        ms if ms < 1000.0 => format!("{ms:.1} ms"),
        ms => format!("{:.2} s", ms / 1e3),
    }
}

fn first_line(command: &mut Command) -> String {
    run(command)
        .map(|s| s.lines().next().unwrap_or_default().to_string())
        .unwrap_or_else(|e| e.to_string())
}

fn environment() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "patchwire lab benchmark: Linux {}, {cores} cores, {}, {BIN}\n",
        kernel.trim(),
        first_line(Command::new("ip").arg("-V")),
    )
}

fn table(config: &Config, results: &Results) -> String {
    let mut out = String::new();
    let med = |runs: &[HandRun], f: fn(&HandRun) -> Duration| {
        median(runs.iter().map(f).collect::<Vec<_>>())
    };
    let pmed = |f: &dyn Fn(&PatchwireRun) -> Duration| {
        median(results.patchwire.iter().map(f).collect::<Vec<_>>())
    };
    let secs = |d: Duration| d.as_secs_f64();
    let rounds = config.rounds;
    let _ = writeln!(
        out,
        "C. labs: {NODES} nodes, {WIRES} wires and {HUBS} hubs of {HUB_MEMBERS} ({PORTS} veth pairs, \
         one end in a node, the other in the panel);\n   wall time of the commands, median of \
         {rounds} round(s), (a), (b) and (c) alternating{}.\n",
        if rounds < 3 {
            " (fewer than 3 rounds: medians of few)"
        } else {
            ""
        }
    );
    let (a_up, a_del) = (
        med(&results.bare, |r| r.up),
        med(&results.bare, |r| r.delete),
    );
    let b_up = med(&results.script, |r| r.up);
    let up = pmed(&|r| r.up.took);
    let up_own = median(results.patchwire.iter().map(|r| r.up.reported).collect());
    let unchanged = pmed(&|r| r.unchanged_up);
    let unchanged_plan = pmed(&|r| r.unchanged_plan);
    let plan_empty = pmed(&|r| r.plan_empty);
    let small = pmed(&|r| r.small.up.took);
    let small_plan = pmed(&|r| r.small.plan);
    let large = pmed(&|r| r.large.up.took);
    let large_plan = pmed(&|r| r.large.plan);
    let down = pmed(&|r| r.down);
    let changes =
        |f: fn(&PatchwireRun) -> usize| median(results.patchwire.iter().map(f).collect::<Vec<_>>());
    let (up_changes, small_changes, large_changes) = (
        changes(|r| r.up.changes),
        changes(|r| r.small.up.changes),
        changes(|r| r.large.up.changes),
    );

    let _ = writeln!(
        out,
        "{:<48} {:>9} {:>19} {:>6} | {:>9} {:>19} {:>6} | {:>9}",
        "", "build", "(min-max)", "÷ (a)", "deletion", "(min-max)", "÷ (a)", "+ cleanup"
    );
    let range = |values: Vec<Duration>| {
        let (min, max) = (
            values.iter().min().copied().unwrap_or_default(),
            values.iter().max().copied().unwrap_or_default(),
        );
        format!("({}-{})", fmt_duration(min), fmt_duration(max))
    };
    let row = |out: &mut String,
               what: &str,
               builds: Vec<Duration>,
               deletes: Vec<Duration>,
               cleanups: Vec<Duration>| {
        let (build, delete) = (median(builds.clone()), median(deletes.clone()));
        let whole: Vec<Duration> = deletes
            .iter()
            .zip(&cleanups)
            .map(|(d, c)| *d + *c)
            .collect();
        let _ = writeln!(
            out,
            "{:<48} {:>9} {:>19} {:>6.2} | {:>9} {:>19} {:>6.2} | {:>9}",
            what,
            fmt_duration(build),
            range(builds),
            secs(build) / secs(a_up),
            fmt_duration(delete),
            range(deletes),
            secs(delete) / secs(a_del),
            fmt_duration(median(whole))
        );
    };
    for (what, runs) in [
        ("(a) bare kernel work, ip -batch", &results.bare),
        (
            "(b) (a) + tc -batch wires, bridges for hubs *",
            &results.script,
        ),
    ] {
        row(
            &mut out,
            what,
            runs.iter().map(|r| r.up).collect(),
            runs.iter().map(|r| r.delete).collect(),
            runs.iter().map(|r| r.cleanup).collect(),
        );
    }
    row(
        &mut out,
        "(c) patchwire up / down",
        results.patchwire.iter().map(|r| r.up.took).collect(),
        results.patchwire.iter().map(|r| r.down).collect(),
        results.patchwire.iter().map(|r| r.cleanup).collect(),
    );
    let _ = writeln!(
        out,
        "    deletion = wall time of the commands (ip -batch of 201 netns del; patchwire down); \
         + cleanup = until the kernel\n    has finished cleaning up (a veth probe quick and the CPUs \
         idle three times in a row, 120 ms apart: >= 0.36 s by construction)"
    );
    let _ = writeln!(
        out,
        "\n    patchwire up from nothing: {} changes, {} wall ({:.2} s by its own clock); \
         up ÷ (a) = {:.2}, up ÷ (b) = {:.2} ((b) ÷ up = {:.2})",
        up_changes,
        fmt_duration(up),
        up_own,
        secs(up) / secs(a_up),
        secs(up) / secs(b_up),
        secs(b_up) / secs(up)
    );
    let _ = writeln!(
        out,
        "    patchwire up unchanged: {} (\"up to date\"); plan -j unchanged: {}; plan -j before the \
         lab exists: {}",
        fmt_duration(unchanged),
        fmt_duration(unchanged_plan),
        fmt_duration(plan_empty)
    );
    for (n, changes, took, planned) in [
        (EDIT_SMALL, small_changes, small, small_plan),
        (EDIT_LARGE, large_changes, large, large_plan),
    ] {
        let _ = writeln!(
            out,
            "    edit, {n} wires re-pointed: up {} for {changes} changes ({:.2} × full up, for {:.1} % \
             of its changes); plan -j first {}; above an unchanged up {} = {:.1} ms a wire",
            fmt_duration(took),
            secs(took) / secs(up),
            100.0 * changes as f64 / up_changes as f64,
            fmt_duration(planned),
            fmt_duration(took.saturating_sub(unchanged)),
            secs(took.saturating_sub(unchanged)) * 1e3 / n as f64
        );
    }
    let _ = writeln!(
        out,
        "    patchwire down ÷ bare deletion (a) = {:.2}; patchwire -n PANEL show -j (the panel's 1,000 \
         wires, read by every up, plan and down) {}",
        secs(down) / secs(a_del),
        fmt_duration(pmed(&|r| r.show_wires))
    );

    // Where the time of (a) and (b) goes.
    for (label, runs) in [("(a)", &results.bare), ("(b)", &results.script)] {
        let names: Vec<&str> = runs[0].phases.iter().map(|(n, _)| *n).collect();
        let parts: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "{n} {}",
                    fmt_duration(median(runs.iter().map(|r| r.phases[i].1).collect()))
                )
            })
            .collect();
        let _ = writeln!(out, "    {label} phases: {}", parts.join(", "));
    }
    // (a) and (b) without what their 200 processes cost by themselves: estimates of the
    // kernel's share.
    let processes = med(&results.bare, |r| r.processes);
    let kernel = a_up.saturating_sub(processes);
    let script_processes = med(&results.script, |r| r.processes);
    let script_kernel = b_up.saturating_sub(script_processes);
    let _ = writeln!(
        out,
        "    200 ip -n NODE processes that only read lo take {} ((b): {}): (a) less that is ~{} of \
         kernel work (and 4 ip processes),\n    (b) less that ~{} (and 5 processes); patchwire up ÷ \
         those = {:.2} and {:.2}",
        fmt_duration(processes),
        fmt_duration(script_processes),
        fmt_duration(kernel),
        fmt_duration(script_kernel),
        secs(up) / secs(kernel),
        secs(up) / secs(script_kernel)
    );
    let _ = writeln!(
        out,
        "    after building, every port reported operstate UP within (median) {} (a), {} (b), {} (c) \
         (waited for; in no figure)",
        fmt_duration(med(&results.bare, |r| r.settle)),
        fmt_duration(med(&results.script, |r| r.settle)),
        fmt_duration(pmed(&|r| r.settle)),
    );
    let _ = writeln!(
        out,
        "    * a plain tc script has no hub comparable to patchwire's; (b) makes each hub a Linux \
         bridge in the panel, as netlab and\n      containerlab do. (a) and (b) turn IPv6 off in \
         the panel as patchwire does, and add tc and bridges before the ports come up.\n"
    );

    let verdict = |met: bool| if met { "MET" } else { "NOT MET" };
    let _ = writeln!(out, "targets:");
    let _ = writeln!(
        out,
        "  up <= 1.3 × (a): {:.2} s ÷ {:.2} s = {:.2}: {}",
        secs(up),
        secs(a_up),
        secs(up) / secs(a_up),
        verdict(secs(up) <= 1.3 * secs(a_up))
    );
    let _ = writeln!(
        out,
        "  up >= 3 × faster than (b): {:.2} s ÷ {:.2} s = {:.2} × faster: {}",
        secs(b_up),
        secs(up),
        secs(b_up) / secs(up),
        verdict(secs(b_up) >= 3.0 * secs(up))
    );
    let _ = writeln!(
        out,
        "  unchanged up <= 0.5 s: {:.3} s: {}",
        secs(unchanged),
        verdict(secs(unchanged) <= 0.5)
    );
    // In proportion: 5 changes per re-pointed wire, and the time above an unchanged up (which
    // reads the lab) grows with the edit: a wire of the 10-wire edit costs at most 2 × a wire of
    // the 100-wire edit.
    let per_wire = |took: Duration, n: usize| secs(took.saturating_sub(unchanged)) / n as f64;
    let (small_wire, large_wire) = (per_wire(small, EDIT_SMALL), per_wire(large, EDIT_LARGE));
    let counts_ok = small_changes == CHANGES_PER_REPOINT * EDIT_SMALL
        && large_changes == CHANGES_PER_REPOINT * EDIT_LARGE;
    let _ = writeln!(
        out,
        "  edit costs in proportion to the change: {small_changes} changes for {EDIT_SMALL} wires, \
         {large_changes} for {EDIT_LARGE} (expected {} a wire);\n    \
         edit {:.3} s = {:.2} × full up; above an unchanged up {:.1} ms a wire at {EDIT_SMALL} wires, \
         {:.1} ms at {EDIT_LARGE} (rule: changes\n    as expected and a wire of the small edit \
         <= 2 × one of the large): {}",
        CHANGES_PER_REPOINT,
        secs(small),
        secs(small) / secs(up),
        small_wire * 1e3,
        large_wire * 1e3,
        verdict(counts_ok && small_wire <= 2.0 * large_wire)
    );
    let _ = writeln!(
        out,
        "  down <= 1.3 × bare deletion: {} ÷ {} = {:.2}: {}",
        fmt_duration(down),
        fmt_duration(a_del),
        secs(down) / secs(a_del),
        verdict(secs(down) <= 1.3 * secs(a_del))
    );
    // The same 201 `netns del` take ~15 ms or ~300 ms from run to run (each umount may wait for
    // an RCU grace period while the kernel is already cleaning up the namespaces released
    // before it), so the verdict is also given against the fastest of them.
    let fastest = results
        .bare
        .iter()
        .chain(&results.script)
        .map(|r| r.delete)
        .min()
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "    against the fastest bare deletion of any round of (a) or (b) (the same 201 netns del, \
         which vary\n    between ~15 ms and ~300 ms with the kernel's concurrent cleanup): {} ÷ {} = {:.2}: {}",
        fmt_duration(down),
        fmt_duration(fastest),
        secs(down) / secs(fastest),
        verdict(secs(down) <= 1.3 * secs(fastest))
    );
    out
}

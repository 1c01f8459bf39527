//! Benchmark of patchwire: how fast wires are set up at scale, and what a wire costs per frame.
//!
//! Run as root with `scripts/bench [--quick] [--only setup|datapath]` (it installs iperf3 and
//! iproute2 if missing, then runs `cargo bench --bench wires -- ARGS`). Everything happens in
//! network namespaces this program creates (`pwb-<pid>-*`) and deletes again, also on error or
//! panic; traffic stays inside them (198.18.0.0/15) and every traffic run is bounded in time.
//!
//! **A. Set-up.** Namespace `lab` holds 2·M veth ends `l0 … l(2M-1)` whose peers `x…` live in a
//! second namespace `far`, so no two ends in `lab` are peers of each other (wiring the two ends
//! of one veth pair would close a loop, which patchwire refuses). The ends are created with
//! `ip -n far -batch` (4,000 lines a process) and the time it took is printed. Then N wires
//! `l(2k) <-> l(2k+1)` are made and torn down by:
//! 1. patchwire: one `wire::link` call with N requests (one pipelined netlink batch), timed;
//!    teardown with `wire::unlink(all)`, timed;
//! 2. `tc -n lab -batch FILE`: per wire two `qdisc add … clsact` and the two u32 match-all
//!    `mirred egress redirect` filters patchwire would install; teardown `qdisc del … clsact` of
//!    every end, also in one `tc -batch`;
//! 3. one `tc` process per command, for the smallest N only (each process is O(interfaces));
//! 4. the kernel floor: only the 2N `qdisc add … clsact` by `tc -batch` (no filters).
//!
//! Two cases, measured on the same 8,000 ends (M = 4,000):
//! - **ends down (not yet up)**, N = 100, 1,000, 4,000: right after creation, as every earlier
//!   run of this benchmark measured.
//! - **ends up**, N = 100, 1,000, 2,000, 4,000: then every end in `lab` and every peer in `far`
//!   is set up with `ip -batch` (4,000 lines a process; the time it takes is printed and is part
//!   of no figure), and the benchmark waits until every end and peer reports operstate UP (the
//!   kernel's linkwatch gets there at ~200 interfaces a second: ~80 s for 16,000). This is the
//!   case users have in a running lab, and the primary rows: adding or deleting a qdisc on an up
//!   interface also deactivates its queues and waits for an RCU grace period. The table prints
//!   the floor's cost per qdisc in both cases (this machine: ~0.09 ms down, ~0.12-0.17 ms up;
//!   the project's kernel notes had ~1.15 ms up, which these runs did not reproduce).
//!
//! Row sizes keep the full `scripts/bench` run under ~15 minutes (the set-up section takes ~4-5
//! minutes, ~80 s of it waiting for the link state to settle). The 20,000-interface rows of
//! earlier runs (N = 1,000 and 10,000, ends down) are gone: the 10,000-wire row alone took ~2
//! minutes a run (set-up and teardown by three tools, 3 runs), and with ends up it would also
//! need 40,000 ends brought up (~200 s of settling) and an RCU grace period per qdisc, added and
//! deleted. `--quick` measures 2,000 ends: down N = 20, 1,000; up N = 20, 500.
//!
//! patchwire, `tc -batch` and the floor alternate, 3 runs each, medians reported; the table
//! gives patchwire's set-up time ÷ the floor's and ÷ `tc -batch`'s. After each set-up the
//! namespace must hold exactly 2N clsact qdiscs and the first and last wire's filters must
//! redirect to the right end; after each teardown it must hold none, or the benchmark fails.
//!
//! With ends up, at N = 1,000 and 4,000 (`--quick`: 500), patchwire also makes the same wires
//! with the eBPF datapath (`LinkOptions { datapath: Datapath::Ebpf, .. }`: one program and one
//! per-CPU hash for the whole call, an entry per direction, and a cls_bpf filter per end
//! instead of u32 + mirred), in the same alternating runs; a block below the table gives its times and its set-up
//! and teardown ÷ the tc datapath's. Then, once, **kernel memory per wire**: 1,000 wires
//! (`--quick`: 500) of each datapath, alternating, 3 runs (`--quick`: 1), made and removed
//! while /proc/meminfo (SUnreclaim, Percpu, VmallocUsed, PageTables) and the benchmark's own
//! memory cgroup's kernel memory (where the bpf objects are charged) are read with everything
//! settled before, with the wires, and after removing them; plus the `memlock` the kernel
//! reports (/proc/self/fdinfo) for one such program and one such map (2,000 entries), loaded by
//! the benchmark.
//!
//! **B. Datapath.** Sender namespace `s` (s0, 198.18.0.1/24) to receiver `r` (r0, 198.18.0.2/24)
//! over three paths built side by side: a direct veth pair; s0-ls and lr-r0 veth pairs with ls
//! and lr ports of a Linux bridge in `mid`; the same with a patchwire wire ls <-> lr instead of
//! the bridge. iperf3 measures 60-byte frames (UDP with an 18-byte payload, `-b 0`; the frame
//! rate is r0's rx_packets delta over the run) and TCP throughput. The sender is pinned to CPU 0,
//! the receiver to CPU 1; the paths are measured in alternation for several rounds and the
//! medians reported, each as a ratio to the direct veth pair. Two more paths: the wire with a
//! `--direction both` mirror on ls (copies to a veth pair in `mid`); its cost is the median of
//! the per-round ratios wire + mirror ÷ wire (the rounds above plus 10 UDP-only rounds of 3 s
//! of the wire paths); and the wire with the same copies made by
//! hand-written tc (u32 match-all + `mirred egress mirror` on both hooks), the kernel's own cost.
//! And a patchwire eBPF wire, built like the wire but with `Datapath::Ebpf`: its cost next to
//! the tc wire is the median of the per-round ratios eBPF wire ÷ wire (frames: the same rounds
//! and extra UDP rounds as the mirror; TCP: the main rounds).

use std::fmt::Write as _;

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

mod iperf;
mod mirror_setup;
mod support;
use iperf::{Server, rx_packets};
use patchwire::mirror::{self, Direction, MirrorSpec, Sources};
use patchwire::netns::Netns;
use patchwire::nl::tc::WIRE_PRIO;
use patchwire::wire::{self, Datapath, LinkOptions, WireRequest};
use support::{Scratch, ip, run};

const USAGE: &str = "usage: cargo bench --bench wires -- [--quick] [--only setup|datapath|mirror]";
/// UDP payload giving a 60-byte Ethernet frame (14 + 20 IP + 8 UDP + 18), 64 bytes with FCS.
const UDP_PAYLOAD: usize = 18;
/// A `tc -batch` run projected to take longer than this is cut to its first 1,000 wires. The
/// projection is quadratic in N: creating a clsact qdisc costs time proportional to the tc blocks
/// already bound (the kernel's flow_indr_dev_setup_offload walks a list of them).
const TC_BATCH_CAP: Duration = Duration::from_secs(60);
/// Lines per `ip -batch` when creating interfaces: iproute2 6.1 leaks one fd per `netns NAME`,
/// so one batch of 20,000 lines fails at the open-file limit.
const CREATE_CHUNK: usize = 4_000;
/// Seconds per extra UDP round of the mirror comparison.
const MIRROR_ROUND_SECONDS: u64 = 3;

fn main() -> Result<()> {
    let config = Config::from_args()?;
    let started = Instant::now();
    // SAFETY: geteuid has no preconditions and touches no memory.
    let euid = unsafe { libc::geteuid() };
    ensure!(
        euid == 0,
        "the benchmark creates network namespaces: run it as root"
    );
    let mut scratch = Scratch::new("wires")?;
    // The datapath goes first: deleting namespaces with 20,000 interfaces keeps a kernel worker
    // busy for a while, which would disturb frame rates measured after it.
    let datapath = match config.datapath {
        true => Some(datapath_bench(&config, &mut scratch)?),
        false => None,
    };
    let mirrors = match config.mirror {
        true => Some(mirror_setup::bench(&mut scratch, config.mirrors())?),
        false => None,
    };
    let setup = match config.setup {
        true => Some(setup_bench(&config, &mut scratch)?),
        false => None,
    };
    drop(scratch);

    println!("{}", environment());
    if let Some(setup) = &setup {
        println!("{}", setup_table(&config, setup));
    }
    if let Some(datapath) = &datapath {
        println!("{}", datapath_table(&config, datapath));
    }
    if let Some(mirrors) = &mirrors {
        println!("{}", mirror_setup::table(mirrors));
    }
    println!("{}", targets(setup.as_ref(), datapath.as_ref()));
    println!(
        "total run time: {:.0} s{}",
        started.elapsed().as_secs_f64(),
        if config.quick { " (--quick)" } else { "" }
    );
    Ok(())
}

/// What to run, from the command line.
struct Config {
    quick: bool,
    setup: bool,
    datapath: bool,
    mirror: bool,
}

/// Interfaces present in `lab`, whether they are up, and the wire counts measured so.
struct Stage {
    interfaces: usize,
    /// All ends in `lab` and their peers in `far` up (else still down, as created). Stages
    /// with ends down come first: the benchmark brings ends up but never down again.
    up: bool,
    wires: Vec<usize>,
    /// The N for which one `tc` process per command is also measured.
    per_command: Option<usize>,
    /// The N for which patchwire's eBPF datapath is also measured.
    ebpf: Vec<usize>,
}

impl Config {
    fn from_args() -> Result<Self> {
        let mut config = Config {
            quick: false,
            setup: true,
            datapath: true,
            mirror: true,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => {} // cargo bench passes it to every bench binary
                "--quick" => config.quick = true,
                "--only" => match args.next().as_deref() {
                    Some(only @ ("setup" | "datapath" | "mirror")) => {
                        config.setup = only == "setup";
                        config.datapath = only == "datapath";
                        config.mirror = only == "mirror";
                    }
                    other => {
                        bail!("--only takes setup, datapath or mirror, not {other:?}\n{USAGE}")
                    }
                },
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        Ok(config)
    }

    fn runs(&self) -> usize {
        if self.quick { 1 } else { 3 }
    }

    /// Datapath rounds: every path is measured once per round, paths alternating.
    fn rounds(&self) -> usize {
        if self.quick { 1 } else { 5 }
    }

    /// Extra UDP-only rounds of the wire paths, for the mirror's cost.
    fn mirror_rounds(&self) -> usize {
        if self.quick { 0 } else { 10 }
    }

    /// Mirrors made in the mirror set-up benchmark.
    fn mirrors(&self) -> usize {
        if self.quick { 200 } else { 1_000 }
    }

    /// Seconds per iperf3 run.
    fn seconds(&self) -> u64 {
        if self.quick { 1 } else { 5 }
    }

    /// Wires of each datapath made for the kernel memory measurement, and its runs.
    fn memory_wires(&self) -> (usize, usize) {
        if self.quick { (500, 1) } else { (1_000, 3) }
    }

    fn stages(&self) -> Vec<Stage> {
        // With ends up every qdisc added or deleted also waits for an RCU grace period, and
        // bringing the ends up takes ~80 s to settle; no 20,000-interface rows, to keep the full
        // run short (see the module documentation).
        if self.quick {
            return vec![
                Stage {
                    interfaces: 2_000,
                    up: false,
                    wires: vec![20, 1_000],
                    per_command: Some(20),
                    ebpf: Vec::new(),
                },
                Stage {
                    interfaces: 2_000,
                    up: true,
                    wires: vec![20, 500],
                    per_command: Some(20),
                    ebpf: vec![500],
                },
            ];
        }
        vec![
            Stage {
                interfaces: 8_000,
                up: false,
                wires: vec![100, 1_000, 4_000],
                per_command: Some(100),
                ebpf: Vec::new(),
            },
            Stage {
                interfaces: 8_000,
                up: true,
                wires: vec![100, 1_000, 2_000, 4_000],
                per_command: Some(100),
                ebpf: vec![1_000, 4_000],
            },
        ]
    }
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// A. Set-up

/// One tool's median set-up and teardown of `wires` wires.
#[derive(Clone, Copy)]
struct Timed {
    wires: usize,
    setup: Duration,
    teardown: Duration,
}

impl Timed {
    fn rate(&self) -> f64 {
        self.wires as f64 / self.setup.as_secs_f64()
    }

    fn median(runs: &[Timed]) -> Timed {
        Timed {
            wires: runs[0].wires,
            setup: median(runs.iter().map(|t| t.setup).collect()),
            teardown: median(runs.iter().map(|t| t.teardown).collect()),
        }
    }
}

struct SetupRow {
    interfaces: usize,
    /// The ends were up (else down, as created).
    up: bool,
    wires: usize,
    patchwire: Timed,
    tc_batch: Timed,
    tc_each: Option<Timed>,
    /// The kernel's share: the same 2N clsact qdiscs alone (no filters), by `tc -batch`.
    floor: Timed,
    /// patchwire with the eBPF datapath (for some N only).
    ebpf: Option<Timed>,
    /// Per run, the set-up time with the eBPF datapath and with the tc datapath (measured one
    /// after the other).
    ebpf_runs: Vec<(Duration, Duration)>,
}

struct SetupResult {
    /// (interfaces present afterwards, pairs added, time `ip -batch` took)
    created: Vec<(usize, usize, Duration)>,
    raised: Option<Raised>,
    rows: Vec<SetupRow>,
    /// Kernel memory of the tc and the eBPF datapath's wires (measured once, ends up).
    memory: Option<MemoryResult>,
    /// Wall time of the whole set-up section (creating, bringing up, measuring).
    took: Duration,
}

/// Bringing every end in `lab` and every peer in `far` up (not part of any measured figure).
struct Raised {
    /// Ends in `lab` (as many peers in `far`).
    ends: usize,
    /// `ip -n lab -batch` of `link set dev l<i> up`.
    lab: Duration,
    /// `ip -n far -batch` of `link set dev x<i> up`.
    far: Duration,
    /// From the end of the last `ip -batch` until every end in `lab` and `far` reported
    /// operstate UP.
    settle: Duration,
}

/// The lab: `interfaces` veth ends in `lab`, peers in `far`.
struct Lab {
    lab: String,
    far: String,
    interfaces: usize,
    /// Every end in `lab` and its peer in `far` is up.
    up: bool,
}

fn ends(k: usize) -> (String, String) {
    (format!("l{}", 2 * k), format!("l{}", 2 * k + 1))
}

fn setup_bench(config: &Config, scratch: &mut Scratch) -> Result<SetupResult> {
    let mut lab = Lab {
        lab: scratch.netns("lab")?,
        far: scratch.netns("far")?,
        interfaces: 0,
        up: false,
    };
    let section = Instant::now();
    let mut result = SetupResult {
        created: Vec::new(),
        raised: None,
        rows: Vec::new(),
        memory: None,
        took: Duration::ZERO,
    };
    for stage in config.stages() {
        ensure!(
            stage.up || !lab.up,
            "a stage with ends down must come before the ends are brought up"
        );
        if stage.interfaces > lab.interfaces {
            ensure!(!lab.up, "the lab grows only while its ends are down");
            let before = lab.interfaces;
            let took = grow_lab(scratch, &mut lab, stage.interfaces)?;
            eprintln!(
                "set-up: created {} veth ends in {} ({} present)",
                stage.interfaces - before,
                fmt_duration(took),
                stage.interfaces
            );
            result
                .created
                .push((stage.interfaces, (stage.interfaces - before) / 2, took));
        }
        if stage.up && !lab.up {
            let raised = bring_up(scratch, &mut lab)?;
            eprintln!(
                "set-up: brought {} ends in {} and their peers in {} up in {} + {}; \
                 all reported operstate UP {} later ({:.0} s into the section)",
                raised.ends,
                lab.lab,
                lab.far,
                fmt_duration(raised.lab),
                fmt_duration(raised.far),
                fmt_duration(raised.settle),
                section.elapsed().as_secs_f64()
            );
            result.raised = Some(raised);
        }
        // (wires, set-up time) of the last tc -batch row, for projecting the next one.
        let mut tc_last: Option<(usize, Duration)> = None;
        for &n in &stage.wires {
            ensure!(
                2 * n <= lab.interfaces,
                "{n} wires need {} interfaces",
                2 * n
            );
            let projected =
                tc_last.map(|(m, took)| took.as_secs_f64() * (n as f64 / m as f64).powi(2));
            let tc_n = match projected {
                Some(secs) if secs > TC_BATCH_CAP.as_secs_f64() => n.min(1_000),
                _ => n,
            };
            let ebpf = stage.ebpf.contains(&n);
            let (mut pw, mut eb, mut tb, mut fl) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..config.runs() {
                pw.push(patchwire_run(&lab, n, Datapath::Tc)?);
                if ebpf {
                    eb.push(patchwire_run(&lab, n, Datapath::Ebpf)?);
                }
                tb.push(tc_batch_run(scratch, &lab, tc_n)?);
                fl.push(qdisc_floor_run(scratch, &lab, n)?);
            }
            let tc_each = match stage.per_command == Some(n) {
                true => Some(tc_each_run(&lab, n)?),
                false => None,
            };
            let row = SetupRow {
                interfaces: lab.interfaces,
                up: lab.up,
                wires: n,
                patchwire: Timed::median(&pw),
                tc_batch: Timed::median(&tb),
                tc_each,
                floor: Timed::median(&fl),
                ebpf: (!eb.is_empty()).then(|| Timed::median(&eb)),
                ebpf_runs: eb
                    .iter()
                    .zip(&pw)
                    .map(|(e, t)| (e.setup, t.setup))
                    .collect(),
            };
            tc_last = Some((row.tc_batch.wires, row.tc_batch.setup));
            eprintln!(
                "set-up: {} interfaces {}, {n} wires: patchwire {}{}, tc -batch {} ({} wires), \
                 floor {} ({:.0} s into the section)",
                lab.interfaces,
                if lab.up { "up" } else { "down" },
                fmt_duration(row.patchwire.setup),
                row.ebpf.map_or_else(String::new, |e| format!(
                    " (eBPF datapath {})",
                    fmt_duration(e.setup)
                )),
                fmt_duration(row.tc_batch.setup),
                tc_n,
                fmt_duration(row.floor.setup),
                section.elapsed().as_secs_f64()
            );
            result.rows.push(row);
        }
    }
    if lab.up {
        let (wires, runs) = config.memory_wires();
        let memory = memory_bench(&lab, wires, runs)?;
        eprintln!(
            "set-up: kernel memory per wire ({wires} wires): tc {:.2} KiB, eBPF {:.2} KiB \
             ({:.0} s into the section)",
            memory.tc.median(Snapshot::sum_kib) / wires as f64,
            memory.ebpf.median(Snapshot::sum_kib) / wires as f64,
            section.elapsed().as_secs_f64()
        );
        result.memory = Some(memory);
    }
    result.took = section.elapsed();
    Ok(result)
}

/// Adds veth pairs `x<i>` (in far) / `l<i>` (in lab) until lab holds `interfaces` ends.
fn grow_lab(scratch: &Scratch, lab: &mut Lab, interfaces: usize) -> Result<Duration> {
    let mut took = Duration::ZERO;
    let mut from = lab.interfaces;
    while from < interfaces {
        let to = interfaces.min(from + CREATE_CHUNK);
        let mut script = String::new();
        for i in from..to {
            writeln!(
                script,
                "link add x{i} type veth peer name l{i} netns {}",
                lab.lab
            )?;
        }
        let file = scratch.file("create.batch", &script)?;
        let start = Instant::now();
        run(Command::new("ip")
            .args(["-n", &lab.far, "-batch"])
            .arg(&file))?;
        took += start.elapsed();
        from = to;
    }
    let present = ip(&["-n", &lab.lab, "-o", "link", "show"])?.lines().count() - 1; // less lo
    ensure!(
        present == interfaces,
        "{} holds {present} interfaces, expected {interfaces}",
        lab.lab
    );
    lab.interfaces = interfaces;
    Ok(took)
}

/// Sets every end in `lab` and every peer in `far` up with `ip -batch` (chunked like creation),
/// then waits until every end in both reports operstate UP, so that no link-state work is
/// pending when the measurements start.
fn bring_up(scratch: &Scratch, lab: &mut Lab) -> Result<Raised> {
    let set_up = |ns: &str, prefix: &str| -> Result<Duration> {
        let mut took = Duration::ZERO;
        let mut from = 0;
        while from < lab.interfaces {
            let to = lab.interfaces.min(from + CREATE_CHUNK);
            let mut script = String::new();
            for i in from..to {
                writeln!(script, "link set dev {prefix}{i} up")?;
            }
            let file = scratch.file("up.batch", &script)?;
            let start = Instant::now();
            run(Command::new("ip").args(["-n", ns, "-batch"]).arg(&file))?;
            took += start.elapsed();
            from = to;
        }
        Ok(took)
    };
    let took = [set_up(&lab.lab, "l")?, set_up(&lab.far, "x")?];
    let start = Instant::now();
    let deadline = start + Duration::from_secs(300);
    for ns in [&lab.lab, &lab.far] {
        loop {
            let links = ip(&["-n", ns, "-o", "link", "show"])?;
            let up = links
                .lines()
                .filter(|l| !l.contains(": lo:"))
                .filter(|l| l.contains(",UP,LOWER_UP>") && l.contains(" state UP "))
                .count();
            if up == lab.interfaces {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "only {up} of {} ends in {ns} are up with carrier 300 s after setting them up",
                lab.interfaces
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    lab.up = true;
    Ok(Raised {
        ends: lab.interfaces,
        lab: took[0],
        far: took[1],
        settle: start.elapsed(),
    })
}

fn patchwire_run(lab: &Lab, n: usize, datapath: Datapath) -> Result<Timed> {
    let start = Instant::now();
    patchwire_link(lab, n, datapath)?;
    let setup = start.elapsed();
    check_wired_with(lab, n, datapath)?;

    let start = Instant::now();
    patchwire_unlink(lab, n)?;
    let teardown = start.elapsed();
    check_clean(lab)?;
    Ok(Timed {
        wires: n,
        setup,
        teardown,
    })
}

/// The first n wires, made by one `wire::link` call with the given datapath.
fn patchwire_link(lab: &Lab, n: usize, datapath: Datapath) -> Result<()> {
    let requests: Vec<WireRequest> = (0..n)
        .map(|k| {
            let (a, b) = ends(k);
            WireRequest::new(&a, &b)
        })
        .collect();
    let options = LinkOptions {
        datapath,
        ..LinkOptions::default()
    };
    let made = wire::link(Netns::open(Some(&lab.lab))?, &requests, &options)?;
    ensure!(
        made.created.len() == n,
        "patchwire made {} of {n} wires ({datapath} datapath)",
        made.created.len()
    );
    Ok(())
}

/// Removes every wire in `lab` (n of them) with one `wire::unlink(all)` call.
fn patchwire_unlink(lab: &Lab, n: usize) -> Result<()> {
    let removed = wire::unlink(Netns::open(Some(&lab.lab))?, &[], true)?;
    ensure!(
        removed.removed.len() == n && removed.qdiscs_removed.len() == 2 * n,
        "patchwire unlink removed {} wires and {} qdiscs, expected {n} and {}",
        removed.removed.len(),
        removed.qdiscs_removed.len(),
        2 * n
    );
    Ok(())
}

/// The tc commands (without `tc -n lab`) that make the first `n` wires, and that remove them.
fn tc_commands(n: usize) -> (Vec<String>, Vec<String>) {
    let (mut add, mut del) = (Vec::new(), Vec::new());
    for k in 0..n {
        let (a, b) = ends(k);
        add.push(format!("qdisc add dev {a} clsact"));
        add.push(format!("qdisc add dev {b} clsact"));
        for (from, to) in [(&a, &b), (&b, &a)] {
            add.push(format!(
                "filter add dev {from} ingress pref {WIRE_PRIO} protocol all u32 match u32 0 0 \
                 action mirred egress redirect dev {to}"
            ));
        }
        del.push(format!("qdisc del dev {a} clsact"));
        del.push(format!("qdisc del dev {b} clsact"));
    }
    (add, del)
}

/// Only the 2N `qdisc add ... clsact` of the first n wires (and their removal), by `tc -batch`:
/// what the kernel alone needs. Each clsact binds two tc blocks, and every bind walks a global
/// list of all bound blocks (flow_indr_dev_setup_offload), so this grows with the square of
/// the number of qdiscs on the machine — for any tool.
fn qdisc_floor_run(scratch: &Scratch, lab: &Lab, n: usize) -> Result<Timed> {
    let (add, del) = tc_commands(n);
    let add: Vec<String> = add.into_iter().filter(|c| c.starts_with("qdisc")).collect();
    timed_tc_batches(scratch, lab, n, "tc-floor", &add, &del, |lab| {
        ensure!(
            clsact_count(lab)? == 2 * n,
            "kernel floor: expected {} clsact qdiscs",
            2 * n
        );
        Ok(())
    })
}

fn tc_batch_run(scratch: &Scratch, lab: &Lab, n: usize) -> Result<Timed> {
    let (add, del) = tc_commands(n);
    timed_tc_batches(scratch, lab, n, "tc", &add, &del, |lab| check_wired(lab, n))
}

/// Times `tc -batch` of the `add` commands, checks the result, then times `del` and checks
/// that nothing is left.
fn timed_tc_batches(
    scratch: &Scratch,
    lab: &Lab,
    n: usize,
    name: &str,
    add: &[String],
    del: &[String],
    check: impl Fn(&Lab) -> Result<()>,
) -> Result<Timed> {
    let add = scratch.file(&format!("{name}-add.batch"), &(add.join("\n") + "\n"))?;
    let del = scratch.file(&format!("{name}-del.batch"), &(del.join("\n") + "\n"))?;
    let start = Instant::now();
    run(Command::new("tc")
        .args(["-n", &lab.lab, "-batch"])
        .arg(&add))?;
    let setup = start.elapsed();
    check(lab)?;
    let start = Instant::now();
    run(Command::new("tc")
        .args(["-n", &lab.lab, "-batch"])
        .arg(&del))?;
    let teardown = start.elapsed();
    check_clean(lab)?;
    Ok(Timed {
        wires: n,
        setup,
        teardown,
    })
}

fn tc_each_run(lab: &Lab, n: usize) -> Result<Timed> {
    let (add, del) = tc_commands(n);
    let each = |commands: &[String]| -> Result<Duration> {
        let start = Instant::now();
        for command in commands {
            run(Command::new("tc")
                .args(["-n", &lab.lab])
                .args(command.split_whitespace()))?;
        }
        Ok(start.elapsed())
    };
    let setup = each(&add)?;
    check_wired(lab, n)?;
    let teardown = each(&del)?;
    check_clean(lab)?;
    Ok(Timed {
        wires: n,
        setup,
        teardown,
    })
}

fn clsact_count(lab: &Lab) -> Result<usize> {
    let qdiscs = run(Command::new("tc").args(["-n", &lab.lab, "qdisc", "show"]))?;
    Ok(qdiscs
        .lines()
        .filter(|l| l.starts_with("qdisc clsact"))
        .count())
}

/// 2n clsact qdiscs, and the first and last wire redirect each way to their other end (by
/// u32 + mirred).
fn check_wired(lab: &Lab, n: usize) -> Result<()> {
    check_wired_with(lab, n, Datapath::Tc)
}

/// 2n clsact qdiscs, and the first and last wire redirect each way to their other end: by
/// u32 + mirred, or by a direct-action cls_bpf program whose name is patchwire's record.
fn check_wired_with(lab: &Lab, n: usize, datapath: Datapath) -> Result<()> {
    let count = clsact_count(lab)?;
    ensure!(
        count == 2 * n,
        "{} holds {count} clsact qdiscs after set-up, expected {}",
        lab.lab,
        2 * n
    );
    for k in [0, n - 1] {
        let (a, b) = ends(k);
        for (from, to) in [(&a, &b), (&b, &a)] {
            let filters =
                run(Command::new("tc")
                    .args(["-n", &lab.lab, "filter", "show", "dev", from, "ingress"]))?;
            let redirects = match datapath {
                Datapath::Tc => filters.contains(&format!("Egress Redirect to device {to})")),
                Datapath::Ebpf => {
                    filters.contains(" direct-action ")
                        && ebpf_records(&filters)
                            .iter()
                            .any(|r| r.starts_with(&format!("pw-wire to={to} index=")))
                }
            };
            ensure!(
                redirects,
                "{from} does not redirect to {to} ({datapath} datapath) after set-up:\n{filters}"
            );
        }
    }
    Ok(())
}

/// The records (filter names `pw-wire to=NAME index=N [peer=1]`) of the eBPF wire filters in
/// the output of `tc filter show`.
fn ebpf_records(filters: &str) -> Vec<String> {
    filters
        .lines()
        .filter_map(|l| {
            let record = &l[l.find("pw-wire ")?..];
            Some(record[..record.find(" direct-action").unwrap_or(record.len())].to_string())
        })
        .collect()
}

/// Fails loudly when a teardown left a clsact qdisc behind.
fn check_clean(lab: &Lab) -> Result<()> {
    let count = clsact_count(lab)?;
    ensure!(
        count == 0,
        "{} still holds {count} clsact qdiscs after teardown",
        lab.lab
    );
    Ok(())
}

/// Kernel memory, KiB: system-wide from /proc/meminfo, and what is charged to this process's
/// memory cgroup (the bpf() objects are; tc's qdiscs, filters and actions are not).
#[derive(Clone, Copy)]
struct Snapshot {
    sunreclaim: f64,
    percpu: f64,
    vmalloc: f64,
    page_tables: f64,
    memcg_kernel: Option<f64>,
}

impl Snapshot {
    fn read() -> Result<Snapshot> {
        let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
        let field = |name: &str| -> Result<f64> {
            meminfo
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("no {name} in /proc/meminfo"))
        };
        Ok(Snapshot {
            sunreclaim: field("SUnreclaim")?,
            percpu: field("Percpu")?,
            vmalloc: field("VmallocUsed")?,
            page_tables: field("PageTables")?,
            memcg_kernel: memcg_kernel_kib(),
        })
    }

    /// What the kernel can hold for a wire that is neither reclaimable nor page cache.
    fn sum_kib(&self) -> f64 {
        self.sunreclaim + self.percpu + self.vmalloc + self.page_tables
    }

    fn minus(&self, other: &Snapshot) -> Snapshot {
        Snapshot {
            sunreclaim: self.sunreclaim - other.sunreclaim,
            percpu: self.percpu - other.percpu,
            vmalloc: self.vmalloc - other.vmalloc,
            page_tables: self.page_tables - other.page_tables,
            memcg_kernel: self
                .memcg_kernel
                .zip(other.memcg_kernel)
                .map(|(a, b)| a - b),
        }
    }
}

/// Kernel memory charged to this process's memory cgroup, KiB: cgroup v1's
/// memory.kmem.usage_in_bytes, else cgroup v2's `kernel` in memory.stat.
fn memcg_kernel_kib() -> Option<f64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.split(',').any(|c| c == "memory") {
            let file = format!("/sys/fs/cgroup/memory{path}/memory.kmem.usage_in_bytes");
            if let Ok(bytes) = std::fs::read_to_string(file) {
                return Some(bytes.trim().parse::<f64>().ok()? / 1024.0);
            }
        }
        if controllers.is_empty() {
            let stat = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/memory.stat"));
            if let Some(bytes) = stat.ok().as_deref().and_then(|stat| {
                stat.lines()
                    .find_map(|l| l.strip_prefix("kernel "))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            }) {
                return Some(bytes / 1024.0);
            }
        }
    }
    None
}

/// A snapshot once the kernel has finished freeing (deferred work, RCU): the CPUs quiet and
/// the sum unchanged within 64 KiB over half a second (at most 10 s).
fn settled_snapshot() -> Result<Snapshot> {
    wait_for_quiet_cpu();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = Snapshot::read()?;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = Snapshot::read()?;
        if (now.sum_kib() - last.sum_kib()).abs() <= 64.0 || Instant::now() >= deadline {
            return Ok(now);
        }
        last = now;
    }
}

/// One datapath's runs: (with the wires − before, with the wires − after removing them), KiB.
#[derive(Default)]
struct MemoryRuns(Vec<(Snapshot, Snapshot)>);

impl MemoryRuns {
    /// Median over runs of `f` of the wires' cost (with − before).
    fn median(&self, f: impl Fn(&Snapshot) -> f64) -> f64 {
        median(self.0.iter().map(|(made, _)| f(made)).collect())
    }

    /// Median over runs of `f` of what removing the wires gave back (with − after).
    fn median_freed(&self, f: impl Fn(&Snapshot) -> f64) -> f64 {
        median(self.0.iter().map(|(_, freed)| f(freed)).collect())
    }

    /// Smallest and largest `f` of the wires' cost (with − before) over runs.
    fn range(&self, f: impl Fn(&Snapshot) -> f64) -> (f64, f64) {
        self.0
            .iter()
            .map(|(made, _)| f(made))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    }

    fn memcg(&self) -> Option<f64> {
        self.0
            .iter()
            .all(|(made, _)| made.memcg_kernel.is_some())
            .then(|| self.median(|s| s.memcg_kernel.unwrap_or(f64::NAN)))
    }
}

struct MemoryResult {
    wires: usize,
    interfaces: usize,
    runs: usize,
    tc: MemoryRuns,
    ebpf: MemoryRuns,
    /// memlock of one call's program and map (2,000 directions) as /proc/self/fdinfo reports
    /// them, KiB (or why they could not be read).
    memlock: Result<(f64, f64), String>,
    /// The record of the first eBPF wire's l0 -> l1 filter (`peer=1`: bpf_redirect_peer).
    ebpf_record: Option<String>,
}

/// Makes and removes `wires` wires of each datapath, alternating (tc first in even runs), and
/// reads the kernel's memory, settled, before, with the wires and after removing them.
fn memory_bench(lab: &Lab, wires: usize, runs: usize) -> Result<MemoryResult> {
    let mut result = MemoryResult {
        wires,
        interfaces: lab.interfaces,
        runs,
        tc: MemoryRuns::default(),
        ebpf: MemoryRuns::default(),
        memlock: bpf_memlock().map_err(|e| format!("{e:#}")),
        ebpf_record: None,
    };
    for round in 0..runs {
        let order = match round % 2 {
            0 => [Datapath::Tc, Datapath::Ebpf],
            _ => [Datapath::Ebpf, Datapath::Tc],
        };
        for datapath in order {
            let before = settled_snapshot()?;
            patchwire_link(lab, wires, datapath)?;
            let with = settled_snapshot()?;
            check_wired_with(lab, wires, datapath)?;
            if datapath == Datapath::Ebpf && result.ebpf_record.is_none() {
                let filters = run(Command::new("tc")
                    .args(["-n", &lab.lab, "filter", "show", "dev", "l0", "ingress"]))?;
                result.ebpf_record = ebpf_records(&filters).into_iter().next();
            }
            patchwire_unlink(lab, wires)?;
            check_clean(lab)?;
            let after = settled_snapshot()?;
            let runs = match datapath {
                Datapath::Tc => &mut result.tc,
                Datapath::Ebpf => &mut result.ebpf,
            };
            runs.0.push((with.minus(&before), with.minus(&after)));
        }
    }
    Ok(result)
}

/// The `memlock` (KiB) /proc/self/fdinfo reports for the program and the map of an operation's
/// eBPF wires (map sized for 2,000 directions), loaded here (never attached).
fn bpf_memlock() -> Result<(f64, f64)> {
    use std::os::fd::{AsFd, AsRawFd};
    let memlock = |fd: i32| -> Result<f64> {
        let path = format!("/proc/self/fdinfo/{fd}");
        let info = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        info.lines()
            .find_map(|l| l.strip_prefix("memlock:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|bytes| bytes / 1024.0)
            .with_context(|| format!("no memlock in {path}"))
    };
    let map =
        patchwire::bpf::map::Map::percpu_hash("pw_wires", patchwire::bpf::WIRE_VALUE_SIZE, 2_000)
            .context("creating the map of eBPF wires")?;
    let program = patchwire::bpf::Program::load_sched_cls(
        &patchwire::bpf::wire_by_ingress(map.as_fd()),
        "pw_wires",
    )?;
    Ok((
        memlock(program.as_fd().as_raw_fd())?,
        memlock(map.as_fd().as_raw_fd())?,
    ))
}

// ---------------------------------------------------------------------------------------------
// B. Datapath

#[derive(Clone, Copy, PartialEq, Eq)]
enum PathKind {
    Direct,
    Bridge,
    Wire,
    /// The same wire with the eBPF datapath (cls_bpf + bpf_redirect instead of u32 + mirred).
    EbpfWire,
    /// The wire with a `--direction both` mirror on its sender-side end.
    MirroredWire,
    /// The same copies made the way people paste it: u32 match-all + `mirred egress mirror`
    /// on both hooks of ls — the kernel's cost of a copy, without patchwire's classifier.
    TcMirroredWire,
    /// The floor of any eBPF wire: per end a four-instruction program that only calls
    /// `bpf_redirect_peer` to the other end (no map, no counting), attached by hand.
    BareEbpf,
}

impl PathKind {
    const ALL: [PathKind; 7] = [
        PathKind::Direct,
        PathKind::Bridge,
        PathKind::Wire,
        PathKind::EbpfWire,
        PathKind::BareEbpf,
        PathKind::MirroredWire,
        PathKind::TcMirroredWire,
    ];

    fn label(self) -> &'static str {
        match self {
            PathKind::Direct => "direct veth",
            PathKind::Bridge => "linux bridge",
            PathKind::Wire => "patchwire wire",
            PathKind::EbpfWire => "patchwire eBPF wire",
            PathKind::BareEbpf => "bare redirect_peer",
            PathKind::MirroredWire => "wire + mirror",
            PathKind::TcMirroredWire => "wire + tc mirror",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            PathKind::Direct => "d",
            PathKind::Bridge => "b",
            PathKind::Wire => "w",
            PathKind::EbpfWire => "e",
            PathKind::BareEbpf => "x",
            PathKind::MirroredWire => "m",
            PathKind::TcMirroredWire => "t",
        }
    }
}

/// A built path: traffic goes from s0 in `sender` to r0 in `receiver`.
struct TestPath {
    kind: PathKind,
    sender: String,
    receiver: String,
    /// The eBPF wire's records (ls -> lr, lr -> ls), if it is one.
    ebpf_records: Vec<String>,
}

#[derive(Clone, Copy)]
struct Sample {
    /// 60-byte frames received at r0 per second.
    rx_fps: f64,
    /// Datagrams iperf3 sent per second.
    tx_fps: f64,
    tcp_bps: f64,
}

/// Medians per path, and every round's frame rate and TCP throughput per path (paths alternate
/// within a round, so a ratio taken round by round compares measurements made seconds apart).
struct DatapathResult {
    medians: Vec<(PathKind, Sample)>,
    rounds: Vec<(PathKind, Vec<f64>)>,
    tcp_rounds: Vec<(PathKind, Vec<f64>)>,
    /// The eBPF wire's records (`peer=1`: bpf_redirect_peer into the far veth's peer).
    ebpf_records: Vec<String>,
}

impl DatapathResult {
    /// The median over rounds of `a`'s frame rate divided by `b`'s in the same round.
    fn paired_ratio(&self, a: PathKind, b: PathKind) -> Option<f64> {
        Some(self.paired_ratios(a, b)?.1)
    }

    /// Per-round frame rate ratios a ÷ b, sorted: (first quartile, median, third quartile,
    /// rounds).
    fn paired_ratios(&self, a: PathKind, b: PathKind) -> Option<(f64, f64, f64, usize)> {
        paired_ratios(&self.rounds, a, b)
    }

    /// The same for TCP throughput (main rounds only).
    fn paired_tcp_ratios(&self, a: PathKind, b: PathKind) -> Option<(f64, f64, f64, usize)> {
        paired_ratios(&self.tcp_rounds, a, b)
    }
}

/// Per-round ratios a ÷ b of one series, sorted: (first quartile, median, third quartile,
/// rounds).
fn paired_ratios(
    series: &[(PathKind, Vec<f64>)],
    a: PathKind,
    b: PathKind,
) -> Option<(f64, f64, f64, usize)> {
    let rates = |kind| series.iter().find(|(k, _)| *k == kind).map(|(_, r)| r);
    let (a, b) = (rates(a)?, rates(b)?);
    let mut ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(|x, y| x.partial_cmp(y).expect("no NaN"));
    let n = ratios.len();
    Some((
        ratios[n / 4],
        median(ratios.clone()),
        ratios[(3 * n) / 4],
        n,
    ))
}

fn datapath_bench(config: &Config, scratch: &mut Scratch) -> Result<DatapathResult> {
    let paths = PathKind::ALL
        .iter()
        .map(|&kind| build_path(scratch, kind))
        .collect::<Result<Vec<_>>>()?;
    wait_for_quiet_cpu();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); paths.len()];
    for round in 0..config.rounds() {
        for (path, samples) in paths.iter().zip(&mut samples) {
            let (rx_fps, tx_fps) = udp_frames(path, config.seconds())?;
            let tcp_bps = tcp_throughput(path, config.seconds())?;
            eprintln!(
                "datapath round {}: {:<19} {:>11} frames/s received ({} sent), TCP {:.2} Gb/s",
                round + 1,
                path.kind.label(),
                fmt_count(rx_fps),
                fmt_count(tx_fps),
                tcp_bps / 1e9
            );
            samples.push(Sample {
                rx_fps,
                tx_fps,
                tcp_bps,
            });
        }
    }
    let mut rounds: Vec<(PathKind, Vec<f64>)> = paths
        .iter()
        .zip(&samples)
        .map(|(path, s)| (path.kind, s.iter().map(|s| s.rx_fps).collect()))
        .collect();
    let tcp_rounds: Vec<(PathKind, Vec<f64>)> = paths
        .iter()
        .zip(&samples)
        .map(|(path, s)| (path.kind, s.iter().map(|s| s.tcp_bps).collect()))
        .collect();
    // The mirror's and the eBPF datapath's costs are small next to this machine's noise: more
    // paired UDP-only rounds of just the four wire paths, seconds apart, for the per-round
    // ratios.
    let wires = [
        PathKind::Wire,
        PathKind::EbpfWire,
        PathKind::BareEbpf,
        PathKind::MirroredWire,
        PathKind::TcMirroredWire,
    ];
    for round in 0..config.mirror_rounds() {
        for (path, (_, rates)) in paths.iter().zip(&mut rounds) {
            if !wires.contains(&path.kind) {
                continue;
            }
            let (rx_fps, _) = udp_frames(path, MIRROR_ROUND_SECONDS)?;
            eprintln!(
                "extra round {}: {:<19} {:>11} frames/s received",
                round + 1,
                path.kind.label(),
                fmt_count(rx_fps)
            );
            rates.push(rx_fps);
        }
    }
    let medians = paths
        .iter()
        .zip(samples)
        .map(|(path, s)| {
            let sample = Sample {
                rx_fps: median(s.iter().map(|s| s.rx_fps).collect()),
                tx_fps: median(s.iter().map(|s| s.tx_fps).collect()),
                tcp_bps: median(s.iter().map(|s| s.tcp_bps).collect()),
            };
            (path.kind, sample)
        })
        .collect();
    let ebpf_records = paths.iter().flat_map(|p| p.ebpf_records.clone()).collect();
    Ok(DatapathResult {
        medians,
        rounds,
        tcp_rounds,
        ebpf_records,
    })
}

fn build_path(scratch: &mut Scratch, kind: PathKind) -> Result<TestPath> {
    let tag = kind.tag();
    let mut records = Vec::new();
    let (s, r) = (
        scratch.netns(&format!("{tag}-s"))?,
        scratch.netns(&format!("{tag}-r"))?,
    );
    if kind == PathKind::Direct {
        ip(&[
            "-n", &s, "link", "add", "s0", "type", "veth", "peer", "name", "r0", "netns", &r,
        ])?;
    } else {
        let m = scratch.netns(&format!("{tag}-mid"))?;
        ip(&[
            "-n", &s, "link", "add", "s0", "type", "veth", "peer", "name", "ls", "netns", &m,
        ])?;
        ip(&[
            "-n", &r, "link", "add", "r0", "type", "veth", "peer", "name", "lr", "netns", &m,
        ])?;
        if kind == PathKind::Bridge {
            ip(&[
                "-n",
                &m,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "stp_state",
                "0",
            ])?;
            ip(&["-n", &m, "link", "set", "ls", "master", "br0"])?;
            ip(&["-n", &m, "link", "set", "lr", "master", "br0"])?;
            ip(&["-n", &m, "link", "set", "br0", "up"])?;
        }
        ip(&["-n", &m, "link", "set", "ls", "up"])?;
        ip(&["-n", &m, "link", "set", "lr", "up"])?;
        if matches!(
            kind,
            PathKind::Wire | PathKind::EbpfWire | PathKind::MirroredWire | PathKind::TcMirroredWire
        ) {
            let wires = [WireRequest::new("ls", "lr")];
            let options = LinkOptions {
                datapath: match kind {
                    PathKind::EbpfWire => Datapath::Ebpf,
                    _ => Datapath::Tc,
                },
                ..LinkOptions::default()
            };
            let made = wire::link(Netns::open(Some(&m))?, &wires, &options)?;
            ensure!(
                made.created.len() == 1,
                "patchwire did not make the ls <-> lr wire in {m}"
            );
            for dev in ["ls", "lr"] {
                let filters =
                    run(Command::new("tc")
                        .args(["-n", &m, "filter", "show", "dev", dev, "ingress"]))?;
                let found = ebpf_records(&filters);
                ensure!(
                    found.is_empty() != (options.datapath == Datapath::Ebpf),
                    "the ls <-> lr wire in {m} is not of the {} datapath:\n{filters}",
                    options.datapath
                );
                records.extend(found);
            }
        }
        if kind == PathKind::BareEbpf {
            let netns = Netns::open(Some(&m))?;
            let mut socket = netns.route()?;
            let index = |dev: &str| -> Result<patchwire::nl::link::IfIndex> {
                let line = ip(&["-n", &m, "-o", "link", "show", "dev", dev])?;
                let n = line.split(':').next().unwrap_or_default().trim().parse()?;
                Ok(patchwire::nl::link::IfIndex(n))
            };
            for (from, to) in [("ls", "lr"), ("lr", "ls")] {
                use patchwire::bpf::insn;
                run(Command::new("tc").args(["-n", &m, "qdisc", "add", "dev", from, "clsact"]))?;
                let program = patchwire::bpf::Program::load_sched_cls(
                    &[
                        insn::mov64_imm(insn::R1, index(to)?.0 as i32),
                        insn::mov64_imm(insn::R2, 0),
                        insn::call(patchwire::bpf::BPF_FUNC_REDIRECT_PEER),
                        insn::exit(),
                    ],
                    "bare_peer",
                )?;
                patchwire::bpf::attach_cls_bpf(
                    &mut socket,
                    index(from)?,
                    patchwire::nl::tc::INGRESS_PARENT,
                    WIRE_PRIO,
                    &program,
                    "bare redirect_peer",
                )?;
            }
        }
        if matches!(kind, PathKind::MirroredWire | PathKind::TcMirroredWire) {
            // Copies go out of mon0 to its peer, whose stack drops them (no address).
            ip(&[
                "-n", &m, "link", "add", "mon0", "type", "veth", "peer", "name", "mon0p",
            ])?;
            ip(&["-n", &m, "link", "set", "mon0", "up"])?;
            ip(&["-n", &m, "link", "set", "mon0p", "up"])?;
        }
        if kind == PathKind::TcMirroredWire {
            for hook in ["ingress", "egress"] {
                run(Command::new("tc").args(["-n", &m, "filter", "add", "dev", "ls", hook]).args(
                    "pref 100 protocol all u32 match u32 0 0 action mirred egress mirror dev mon0 continue"
                        .split(' '),
                ))?;
            }
        }
        if kind == PathKind::MirroredWire {
            let spec = MirrorSpec {
                name: "bench".into(),
                sources: Sources::List(vec!["ls".into()]),
                to: "mon0".into(),
                direction: Direction::Both,
                vlans: None,
                output_vlan: None,
                onto_wire: false,
                filter: None,
            };
            mirror::add(Netns::open(Some(&m))?, &[spec], None)?;
        }
    }
    iperf::address_ends(&s, &r, kind.label())?;
    Ok(TestPath {
        kind,
        sender: s,
        receiver: r,
        ebpf_records: records,
    })
}

/// Waits (at most 20 s) until the CPUs are ≥ 90% idle over one second, so that leftovers of an
/// earlier run (namespace cleanup) do not distort frame rates.
fn wait_for_quiet_cpu() {
    let sample = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        Some((fields.get(3)? + fields.get(4)?, fields.iter().sum()))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some((idle0, total0)) = sample() else {
            return;
        };
        std::thread::sleep(Duration::from_secs(1));
        let Some((idle1, total1)) = sample() else {
            return;
        };
        if (idle1 - idle0) as f64 >= 0.9 * (total1 - total0).max(1) as f64 {
            return;
        }
    }
    eprintln!("datapath: the CPUs did not settle below 10% load within 20 s; measuring anyway");
}

/// 60-byte frames per second received at r0, and sent by iperf3.
fn udp_frames(path: &TestPath, seconds: u64) -> Result<(f64, f64)> {
    let _server = Server::start(&path.receiver, seconds)?;
    let before = rx_packets(&path.receiver, "r0")?;
    let payload = UDP_PAYLOAD.to_string();
    let report = iperf::client(
        &path.sender,
        path.kind.label(),
        seconds,
        &["-u", "-b", "0", "-l", &payload],
    )?;
    let after = rx_packets(&path.receiver, "r0")?;
    let sum = &report["end"]["sum"];
    let elapsed = sum["seconds"]
        .as_f64()
        .context("no end.sum.seconds in iperf3 report")?;
    let sent = sum["packets"]
        .as_f64()
        .context("no end.sum.packets in iperf3 report")?;
    Ok(((after - before) as f64 / elapsed, sent / elapsed))
}

fn tcp_throughput(path: &TestPath, seconds: u64) -> Result<f64> {
    let _server = Server::start(&path.receiver, seconds)?;
    let report = iperf::client(&path.sender, path.kind.label(), seconds, &[])?;
    report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .context("no end.sum_received.bits_per_second in iperf3 report")
}

// ---------------------------------------------------------------------------------------------
// Output

fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    match ms {
        ms if ms < 10.0 => format!("{ms:.2} ms"),
        ms if ms < 1000.0 => format!("{ms:.1} ms"),
        ms => format!("{:.2} s", ms / 1e3),
    }
}

/// A rounded count with thousands separators: 12345.6 -> "12,346".
fn fmt_count(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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
        "patchwire benchmark: Linux {}, {cores} cores, {}, {}\n",
        kernel.trim(),
        first_line(Command::new("ip").arg("-V")),
        first_line(Command::new("iperf3").arg("--version"))
            .split(" (")
            .next()
            .unwrap_or_default()
    )
}

fn timed_cell(t: &Timed) -> String {
    format!(
        "{:>9} {:>8}/s {:>9}",
        fmt_duration(t.setup),
        fmt_count(t.rate()),
        fmt_duration(t.teardown)
    )
}

/// Set-up time of `a` ÷ that of `b` for the same wires (per wire when `b` ran fewer, marked *).
fn time_ratio(a: &Timed, b: &Timed) -> String {
    match a.wires == b.wires {
        true => format!("{:.2}", a.setup.as_secs_f64() / b.setup.as_secs_f64()),
        false => format!("{:.2}*", b.rate() / a.rate()),
    }
}

fn setup_table(config: &Config, result: &SetupResult) -> String {
    let mut out = String::new();
    let runs = config.runs();
    let stages = config.stages();
    let sizes = |up: bool| {
        stages
            .iter()
            .filter(|s| s.up == up)
            .map(|s| {
                let wires: Vec<String> = s.wires.iter().map(|&n| fmt_count(n as f64)).collect();
                format!(
                    "N = {} with {} ends",
                    wires.join(", "),
                    fmt_count(s.interfaces as f64)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let _ = writeln!(
        out,
        "A. set-up: N wires l(2k)<->l(2k+1) in one namespace holding the given number of veth ends\n   \
         (peers in another namespace); wall time of the call or process, median of {runs} run(s) \
         alternating\n   patchwire, tc -batch and the kernel floor; columns: set-up time, wires/s, \
         teardown time;\n   pw/floor and pw/tc = patchwire's set-up time / the floor's and / tc -batch's \
         (1.00 = as fast).\n   \
         Rows: ends up: {}; ends down (not yet up): {}.\n   \
         Ends up is the case of a running lab: each clsact add or delete on an up interface also \
         waits for an RCU\n   grace period. No 20,000-interface rows (earlier runs: 20,000 ends \
         down, N = 1,000 and 10,000; ~6 minutes),\n   so that the full run, with the ends brought up \
         and settled, stays under ~15 minutes.",
        sizes(true),
        sizes(false)
    );
    for (present, pairs, took) in &result.created {
        let _ = writeln!(
            out,
            "   creating {} veth pairs with ip -batch ({} lines a process) took {} ({} ends present)",
            fmt_count(*pairs as f64),
            fmt_count(CREATE_CHUNK as f64),
            fmt_duration(*took),
            fmt_count(*present as f64)
        );
    }
    if let Some(raised) = &result.raised {
        let _ = writeln!(
            out,
            "   bringing them up with ip -batch ({} lines a process) took {} ({} ends in lab) + {} \
             ({} peers in far);\n   every end and peer reported operstate UP {} later (none of this is in \
             the figures below)",
            fmt_count(CREATE_CHUNK as f64),
            fmt_duration(raised.lab),
            fmt_count(raised.ends as f64),
            fmt_duration(raised.far),
            fmt_count(raised.ends as f64),
            fmt_duration(raised.settle)
        );
    }
    let mut capped = false;
    for (up, title) in [
        (
            true,
            "ends up (every end in lab and its peer in far up: the case in a running lab)",
        ),
        (false, "ends down (not yet up), as measured by earlier runs"),
    ] {
        let rows: Vec<&SetupRow> = result.rows.iter().filter(|r| r.up == up).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}");
        let _ = writeln!(
            out,
            "{:>10} {:>6} | {:^30} | {:^30} | {:^30} | {:>8} {:>6} | {:^30}",
            "interfaces",
            "N",
            "patchwire",
            "tc -batch",
            "tc per command",
            "pw/floor",
            "pw/tc",
            "kernel floor: clsact only"
        );
        for row in rows {
            let each = row
                .tc_each
                .as_ref()
                .map_or_else(|| format!("{:^30}", "-"), timed_cell);
            capped |= row.tc_batch.wires != row.wires;
            let _ = writeln!(
                out,
                "{:>10} {:>6} | {} | {} | {} | {:>8} {:>6} | {}",
                fmt_count(row.interfaces as f64),
                fmt_count(row.wires as f64),
                timed_cell(&row.patchwire),
                timed_cell(&row.tc_batch),
                each,
                time_ratio(&row.patchwire, &row.floor),
                time_ratio(&row.patchwire, &row.tc_batch),
                timed_cell(&row.floor)
            );
        }
    }
    let ebpf_rows: Vec<&SetupRow> = result.rows.iter().filter(|r| r.ebpf.is_some()).collect();
    if !ebpf_rows.is_empty() {
        let _ = writeln!(
            out,
            "\neBPF datapath (patchwire with Datapath::Ebpf: one program and one per-CPU hash for the \
             call, an entry per\ndirection, a cls_bpf filter per end instead of u32 + mirred; in the same \
             alternating runs as the row above)"
        );
        let _ = writeln!(
            out,
            "{:>10} {:>6} {:>4} | {:^30} | {:^30} | {:>7} {:>8} | {:>10} | {:>12}",
            "interfaces",
            "N",
            "ends",
            "patchwire eBPF",
            "patchwire tc",
            "eBPF/tc",
            "teardown",
            "eBPF/floor",
            "extra/direction"
        );
        for row in ebpf_rows {
            let ebpf = row.ebpf.expect("filtered");
            let extra = (ebpf.setup.as_secs_f64() - row.patchwire.setup.as_secs_f64()) * 1e3
                / (2 * row.wires) as f64;
            let _ = writeln!(
                out,
                "{:>10} {:>6} {:>4} | {} | {} | {:>7} {:>8.2} | {:>10} | {:>12.3} ms",
                fmt_count(row.interfaces as f64),
                fmt_count(row.wires as f64),
                if row.up { "up" } else { "down" },
                timed_cell(&ebpf),
                timed_cell(&row.patchwire),
                time_ratio(&ebpf, &row.patchwire),
                ebpf.teardown.as_secs_f64() / row.patchwire.teardown.as_secs_f64(),
                time_ratio(&ebpf, &row.floor),
                extra
            );
        }
        for row in result.rows.iter().filter(|r| r.ebpf.is_some()) {
            let times = |f: fn(&(Duration, Duration)) -> Duration| {
                row.ebpf_runs
                    .iter()
                    .map(|r| fmt_duration(f(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let ratios: Vec<String> = row
                .ebpf_runs
                .iter()
                .map(|(e, t)| format!("{:.2}", e.as_secs_f64() / t.as_secs_f64()))
                .collect();
            let _ = writeln!(
                out,
                "   N = {} runs: eBPF {}; tc {}; eBPF/tc per run {}",
                fmt_count(row.wires as f64),
                times(|r| r.0),
                times(|r| r.1),
                ratios.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "   eBPF/tc = set-up time with the eBPF datapath / with the tc datapath (teardown likewise); \
             extra/direction = the\n   difference in set-up time per wire direction (its map entry, \
             its cls_bpf filter instead of u32 + mirred)"
        );
        if let Some(record) = result.memory.as_ref().and_then(|m| m.ebpf_record.as_ref()) {
            let _ = writeln!(out, "   an eBPF wire's filter here: {record}");
        }
    }
    if let Some(memory) = &result.memory {
        out.push_str(&memory_table(memory));
    }
    for (up, case) in [(true, "up"), (false, "down")] {
        let costs: Vec<String> = result
            .rows
            .iter()
            .filter(|r| r.up == up)
            .map(|r| {
                let per_qdisc = |d: Duration| d.as_secs_f64() * 1e3 / (2 * r.wires) as f64;
                format!(
                    "{:.3}/{:.3} ms at N = {}",
                    per_qdisc(r.floor.setup),
                    per_qdisc(r.floor.teardown),
                    fmt_count(r.wires as f64)
                )
            })
            .collect();
        if !costs.is_empty() {
            let _ = writeln!(
                out,
                "   kernel floor per clsact qdisc added/deleted, ends {case}: {}",
                costs.join(", ")
            );
        }
    }
    if capped {
        let _ = writeln!(
            out,
            "   * tc -batch ran only the first 1,000 wires (projected > {} s a run): its cells are for \
             those, pw/tc is per wire",
            TC_BATCH_CAP.as_secs()
        );
    }
    let _ = writeln!(
        out,
        "   kernel floor: the same 2N clsact qdiscs with no filters, by tc -batch; its wires/s is the \
         ceiling for any\n   qdisc-based tool (each clsact bind walks a global list of bound tc \
         blocks: quadratic in qdiscs;\n   on an up interface each add and delete also waits for an \
         RCU grace period)"
    );
    let _ = writeln!(out, "   set-up section: {:.0} s", result.took.as_secs_f64());
    out
}

fn memory_table(memory: &MemoryResult) -> String {
    let mut out = String::new();
    let per_wire = memory.wires as f64;
    let _ = writeln!(
        out,
        "\nkernel memory per wire: {} wires of each datapath made and removed by patchwire, alternating, \
         {} run(s),\n{} ends present, all up; KiB per wire = (settled reading with the wires - \
         before) / {}, median over runs\n(each column its own median); from /proc/meminfo (system-wide) \
         and this process's memory cgroup (kernel memory\ncharged to it: the bpf() objects are, tc's \
         qdiscs, filters and actions are not)",
        fmt_count(memory.wires as f64),
        memory.runs,
        fmt_count(memory.interfaces as f64),
        fmt_count(memory.wires as f64),
    );
    let _ = writeln!(
        out,
        "{:<8} {:>10} {:>7} {:>8} {:>10} | {:>6} {:>15} | {:>13} | {:>12}",
        "datapath",
        "SUnreclaim",
        "Percpu",
        "Vmalloc",
        "PageTables",
        "sum",
        "(min-max)",
        "freed by unlink",
        "memcg kernel"
    );
    for (name, runs) in [("tc", &memory.tc), ("eBPF", &memory.ebpf)] {
        let (lo, hi) = runs.range(Snapshot::sum_kib);
        let _ = writeln!(
            out,
            "{:<8} {:>10.2} {:>7.2} {:>8.2} {:>10.2} | {:>6.2} {:>15} | {:>15.2} | {:>12}",
            name,
            runs.median(|s| s.sunreclaim) / per_wire,
            runs.median(|s| s.percpu) / per_wire,
            runs.median(|s| s.vmalloc) / per_wire,
            runs.median(|s| s.page_tables) / per_wire,
            runs.median(Snapshot::sum_kib) / per_wire,
            format!("({:.2}-{:.2})", lo / per_wire, hi / per_wire),
            runs.median_freed(Snapshot::sum_kib) / per_wire,
            runs.memcg()
                .map_or_else(|| "-".to_string(), |k| format!("{:.2}", k / per_wire))
        );
    }
    match &memory.memlock {
        Ok((program, map)) => {
            let _ = writeln!(
                out,
                "   bpf memlock (/proc/self/fdinfo of one call's program and map sized for 1,000 wires, \
                 loaded by the benchmark): program {program:.2} KiB,\n   map {map:.2} KiB: {:.2} KiB \
                 per eBPF wire",
                (program + map) / 1_000.0
            );
        }
        Err(e) => {
            let _ = writeln!(out, "   bpf memlock: not read ({e})");
        }
    }
    let _ = writeln!(
        out,
        "   sum = SUnreclaim + Percpu + VmallocUsed + PageTables; freed by unlink = (with the wires - \
         after removing them)\n   / wires. Noise: these are system-wide counters (anything else \
         allocating or freeing moves them; 64 KiB\n   = 0.06 KiB a wire here), slab pages freed by one \
         run may be reused by the next, and a 2 MiB bpf_prog_pack\n   for JIT images is shared by \
         many programs (VmallocUsed jumps by 2 MiB when one is added or freed)"
    );
    out
}

fn datapath_table(config: &Config, datapath: &DatapathResult) -> String {
    let result = &datapath.medians;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "B. datapath s0 -> r0 (iperf3, sender on CPU 0, receiver on CPU 1), median of {} round(s) of {} s \
         per test, paths alternating.\n   frames: UDP with {UDP_PAYLOAD}-byte payload = 60-byte Ethernet \
         frames (64 with FCS), counted by r0's rx_packets.\n   iperf3 UDP is sender-limited on 2 cores: \
         one iperf3 thread also does the forwarding (softirq) on CPU 0,\n   so the frame rate reflects \
         each path's per-frame cost; \"sent/s\" is what iperf3 managed to send.\n",
        config.rounds(),
        config.seconds()
    );
    let _ = writeln!(
        out,
        "{:<20} {:>14} {:>6} {:>12} {:>9} {:>6}",
        "path", "60B frames/s", "ratio", "sent/s", "TCP Gb/s", "ratio"
    );
    let Some((_, direct)) = result.iter().find(|(k, _)| *k == PathKind::Direct) else {
        return out;
    };
    for (kind, s) in result {
        let _ = writeln!(
            out,
            "{:<20} {:>14} {:>6.2} {:>12} {:>9.2} {:>6.2}",
            kind.label(),
            fmt_count(s.rx_fps),
            s.rx_fps / direct.rx_fps,
            fmt_count(s.tx_fps),
            s.tcp_bps / 1e9,
            s.tcp_bps / direct.tcp_bps
        );
    }
    if !datapath.ebpf_records.is_empty() {
        let _ = writeln!(
            out,
            "   the eBPF wire's filters (peer=1: bpf_redirect_peer into the far veth's peer): {}",
            datapath.ebpf_records.join("; ")
        );
    }
    let frames = datapath.paired_ratios(PathKind::EbpfWire, PathKind::Wire);
    let tcp = datapath.paired_tcp_ratios(PathKind::EbpfWire, PathKind::Wire);
    if let (Some(frames), Some(tcp)) = (frames, tcp) {
        let _ = writeln!(
            out,
            "   eBPF wire / tc wire (median of per-round ratios, middle half in brackets): 60B frames/s \
             {:.2} ({:.2}-{:.2}, {} rounds),\n   TCP {:.2} ({:.2}-{:.2}, {} rounds)",
            frames.1, frames.0, frames.2, frames.3, tcp.1, tcp.0, tcp.2, tcp.3
        );
        let direct = |a: PathKind| paired_ratios(&datapath.tcp_rounds, a, PathKind::Direct);
        let direct_fps = |a: PathKind| datapath.paired_ratios(a, PathKind::Direct);
        if let (Some(ef), Some(wf), Some(et), Some(wt)) = (
            direct_fps(PathKind::EbpfWire),
            direct_fps(PathKind::Wire),
            direct(PathKind::EbpfWire),
            direct(PathKind::Wire),
        ) {
            let _ = writeln!(
                out,
                "   per-round ratios to the direct veth pair (main rounds): eBPF wire {:.2} frames/s, \
                 {:.2} TCP; tc wire {:.2}, {:.2}",
                ef.1, et.1, wf.1, wt.1
            );
        }
        if let (Some(bare), Some(bare_tcp), Some(counted)) = (
            direct_fps(PathKind::BareEbpf),
            direct(PathKind::BareEbpf),
            datapath.paired_ratios(PathKind::EbpfWire, PathKind::BareEbpf),
        ) {
            let _ = writeln!(
                out,
                "   the floor of an eBPF wire (bare bpf_redirect_peer, no map, no counting): {:.2} x direct \
                 in frames/s, {:.2} in TCP;\n   patchwire's eBPF wire / the bare one: {:.2} frames/s \
                 (middle half {:.2}-{:.2}): what the lookup and counting cost",
                bare.1, bare_tcp.1, counted.1, counted.0, counted.2
            );
        }
    }
    out
}

fn targets(setup: Option<&SetupResult>, datapath: Option<&DatapathResult>) -> String {
    let mut out = String::from("targets:\n");
    let verdict = |met: bool| if met { "met" } else { "NOT MET" };
    if let Some(setup) = setup {
        let largest = |up: bool| {
            setup
                .rows
                .iter()
                .filter(move |r| r.interfaces == 8_000 && r.up == up)
                .max_by_key(|r| r.wires)
        };
        if let Some(row) = largest(true) {
            let rate = row.patchwire.rate();
            let _ = writeln!(
                out,
                "  >= 10,000 wires/s with 8,000 interfaces present (ends up): {} wires/s at N = {}: {} \
                 (the kernel's qdiscs alone allow {} wires/s{})",
                fmt_count(rate),
                fmt_count(row.wires as f64),
                verdict(rate >= 10_000.0),
                fmt_count(row.floor.rate()),
                largest(false).map_or_else(String::new, |down| format!(
                    "; with ends down patchwire made {} wires/s at N = {}, the floor {}",
                    fmt_count(down.patchwire.rate()),
                    fmt_count(down.wires as f64),
                    fmt_count(down.floor.rate())
                ))
            );
        }
        for row in setup.rows.iter() {
            let Some(ebpf) = row.ebpf else { continue };
            let ratio = ebpf.setup.as_secs_f64() / row.patchwire.setup.as_secs_f64();
            let _ = writeln!(
                out,
                "  eBPF datapath set-up <= 1.1 x the tc datapath's (N = {}, ends {}): {} vs {} = {ratio:.2}: {}",
                fmt_count(row.wires as f64),
                if row.up { "up" } else { "down" },
                fmt_duration(ebpf.setup),
                fmt_duration(row.patchwire.setup),
                verdict(ratio <= 1.1)
            );
        }
        if let Some(memory) = &setup.memory {
            let per_wire = |runs: &MemoryRuns| runs.median(Snapshot::sum_kib) / memory.wires as f64;
            let (tc, ebpf) = (per_wire(&memory.tc), per_wire(&memory.ebpf));
            let _ = writeln!(
                out,
                "  kernel memory a few KiB per wire at most (read: <= 4 KiB): eBPF {ebpf:.2} KiB: {}; \
                 above a tc wire ({tc:.2} KiB): {:.2} KiB: {}{}",
                verdict(ebpf <= 4.0),
                ebpf - tc,
                verdict(ebpf - tc <= 4.0),
                match &memory.memlock {
                    Ok((program, map)) => format!(
                        "; the eBPF wires' program and map alone: {:.2} KiB memlock per wire",
                        (program + map) / 1_000.0
                    ),
                    Err(_) => String::new(),
                }
            );
        }
        if let Some(row) = setup.rows.iter().find(|r| r.wires == 10_000) {
            let secs = row.patchwire.setup.as_secs_f64();
            let _ = writeln!(
                out,
                "  10,000 wires in <= 2 s ({} interfaces present, ends {}): {:.2} s: {} \
                 (the kernel's 20,000 clsact qdiscs alone take {:.2} s)",
                fmt_count(row.interfaces as f64),
                if row.up { "up" } else { "down" },
                secs,
                verdict(secs <= 2.0),
                row.floor.setup.as_secs_f64()
            );
        } else if let Some(row) = largest(true) {
            // Not measured (see the module documentation): a lower bound from the up floor,
            // which is linear per qdisc at best.
            let per_qdisc = row.floor.setup.as_secs_f64() / (2 * row.wires) as f64;
            let _ = writeln!(
                out,
                "  10,000 wires in <= 2 s: not measured; with ends up the kernel's clsact qdiscs alone \
                 took {:.2} ms each at N = {},\n    so 20,000 need >= {:.1} s: {}",
                per_qdisc * 1e3,
                fmt_count(row.wires as f64),
                per_qdisc * 20_000.0,
                verdict(per_qdisc * 20_000.0 <= 2.0)
            );
        }
    }
    if let Some(datapath) = datapath {
        let paired = datapath.paired_ratio(PathKind::MirroredWire, PathKind::Wire);
        let spread = datapath.paired_ratios(PathKind::MirroredWire, PathKind::Wire);
        let tc_paired = datapath.paired_ratio(PathKind::TcMirroredWire, PathKind::Wire);
        let ebpf_frames = datapath.paired_ratio(PathKind::EbpfWire, PathKind::Wire);
        let ebpf_tcp = datapath
            .paired_tcp_ratios(PathKind::EbpfWire, PathKind::Wire)
            .map(|r| r.1);
        let datapath = &datapath.medians;
        let find = |kind| datapath.iter().find(|(k, _)| *k == kind).map(|(_, s)| *s);
        let fps = |kind| {
            datapath
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, s)| s.rx_fps)
        };
        if let (Some(direct), Some(wire)) = (fps(PathKind::Direct), fps(PathKind::Wire)) {
            let _ = writeln!(
                out,
                "  wire frames/s >= 0.85 x direct veth: {:.2}: {}",
                wire / direct,
                verdict(wire / direct >= 0.85)
            );
        }
        if let (Some(direct), Some(ebpf)) = (find(PathKind::Direct), find(PathKind::EbpfWire)) {
            for (what, ratio) in [
                ("60-byte frames/s", ebpf.rx_fps / direct.rx_fps),
                ("TCP", ebpf.tcp_bps / direct.tcp_bps),
            ] {
                let _ = writeln!(
                    out,
                    "  eBPF wire {what} >= 0.99 x direct veth: {ratio:.2}: {}",
                    verdict(ratio >= 0.99)
                );
            }
        }
        if let (Some(frames), Some(tcp)) = (ebpf_frames, ebpf_tcp) {
            let _ = writeln!(
                out,
                "  (eBPF wire / tc wire, median of per-round ratios: 60-byte frames/s {frames:.2}, TCP {tcp:.2})"
            );
        }
        if let Some(tc_paired) = tc_paired {
            let _ = writeln!(
                out,
                "  (the same copies by hand-written tc u32 + mirred: wire + tc mirror = {tc_paired:.2} x wire; \
                 patchwire's mirror = {:.2} x tc's)",
                paired.unwrap_or(f64::NAN) / tc_paired
            );
        }
        if let (Some(wire), Some(mirrored), Some(paired)) =
            (fps(PathKind::Wire), fps(PathKind::MirroredWire), paired)
        {
            let _ = writeln!(
                out,
                "  a `both` mirror costs the mirrored wire <= 15% of its frames/s: wire + mirror = {paired:.2} x \
                 wire (median of {} per-round ratios, middle half {:.2}-{:.2}; ratio of medians {:.2}): {}",
                spread.map_or(0, |s| s.3),
                spread.map_or(f64::NAN, |s| s.0),
                spread.map_or(f64::NAN, |s| s.2),
                mirrored / wire,
                verdict(paired >= 0.85)
            );
        }
    }
    out
}

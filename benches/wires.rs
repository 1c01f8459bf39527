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

#[path = "wires/datapath.rs"]
mod datapath;
#[path = "wires/memory.rs"]
mod memory;
#[path = "wires/mirror_setup.rs"]
mod mirror_setup;
#[path = "wires/report.rs"]
mod report;
#[path = "wires/setup.rs"]
mod setup;
use datapath::{DatapathResult, PathKind, datapath_bench, paired_ratios, wait_for_quiet_cpu};
use memory::{MemoryResult, MemoryRuns, Snapshot, memory_bench};
use report::{datapath_table, environment, setup_table, targets};
use setup::{
    Lab, SetupResult, SetupRow, Timed, check_clean, check_wired_with, ebpf_records, patchwire_link,
    patchwire_unlink, setup_bench,
};
mod support;
use patchwire::mirror::{self, Direction, MirrorSpec, Sources};
use patchwire::netns::Netns;
use patchwire::nl::tc::WIRE_PRIO;
use patchwire::wire::{self, Datapath, LinkOptions, WireRequest};
use support::iperf::{Server, rx_packets};
use support::report::{fmt_count, fmt_duration, median};
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

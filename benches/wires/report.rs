//! The report: the environment line and the set-up, memory and datapath tables, and the
//! targets.

use super::*;
use crate::support::report::{first_line, kernel_and_cores};

pub(crate) fn environment() -> String {
    let (kernel, cores) = kernel_and_cores();
    format!(
        "patchwire benchmark: Linux {kernel}, {cores} cores, {}, {}\n",
        first_line(Command::new("ip").arg("-V")),
        first_line(Command::new("iperf3").arg("--version"))
            .split(" (")
            .next()
            .unwrap_or_default()
    )
}

pub(crate) fn timed_cell(t: &Timed) -> String {
    format!(
        "{:>9} {:>8}/s {:>9}",
        fmt_duration(t.setup),
        fmt_count(t.rate()),
        fmt_duration(t.teardown)
    )
}

/// Set-up time of `a` ÷ that of `b` for the same wires (per wire when `b` ran fewer, marked *).
pub(crate) fn time_ratio(a: &Timed, b: &Timed) -> String {
    match a.wires == b.wires {
        true => format!("{:.2}", a.setup.as_secs_f64() / b.setup.as_secs_f64()),
        false => format!("{:.2}*", b.rate() / a.rate()),
    }
}

pub(crate) fn setup_table(config: &Config, result: &SetupResult) -> String {
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

pub(crate) fn memory_table(memory: &MemoryResult) -> String {
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

pub(crate) fn datapath_table(config: &Config, datapath: &DatapathResult) -> String {
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

pub(crate) fn targets(setup: Option<&SetupResult>, datapath: Option<&DatapathResult>) -> String {
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

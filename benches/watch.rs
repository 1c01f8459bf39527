//! Benchmark of `patchwire watch`: how fast a carrier change crosses a wire, and what that is
//! worth to a real LACP peer.
//!
//! Run as root: `cargo bench --bench watch -- [--quick]` (< 2 min; `--quick` < 1 min). Everything
//! happens in network namespaces this program creates (`pwb-<pid>-*`) and deletes again, also on
//! error or panic; every wait is bounded; every process it starts (the watcher, Open vSwitch
//! daemons) runs under `timeout -s KILL` and is stopped by a drop guard.
//!
//! **A. Carrier propagation.** `X1 -- E1 ==wire== E2 -- X2`: X1 and X2 are the veth peers of the
//! wire ends E1 and E2 (namespaces `r1`, `lab`, `r2`), with `patchwire -n lab watch` running.
//! X1 is set down (one RTM_SETLINK, what `ip link set dev X1 down` sends) and X2 polled with
//! RTM_GETLINK every 2 ms until it reads NO-CARRIER; then the same for up. The first link
//! notification in `lab` after the change is E1's carrier change as the kernel's linkwatch
//! reports it, which is what the watcher waits for; it is timed too. Two wires are measured
//! alternately with random pauses: one whose veth ends have the same ifindex as their peers, one
//! whose ifindexes all differ (linkwatch treats the first kind's events as non-urgent).
//!
//! **B. LACP.** Two Open vSwitch bonds (userspace datapath, fast LACP) in namespaces `a` and `b`
//! negotiate through two wires in `lab2`. Member a1 is set down; the time until OvS in `b` reports
//! b1 disabled (`ovs-appctl bond/show`, polled back to back) is measured with the watcher running
//! (b1 loses its carrier) and without (OvS notices only when LACPDUs stop: the fast LACP
//! timeout), and the time until b1 is enabled again after a1 comes back.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};

mod support;
use patchwire::netns::Netns;
use patchwire::nl::link::{self, IfIndex, Link};
use patchwire::nl::{RTNLGRP_LINK, RouteSocket};
use support::{Scratch, ip, run};

/// The OvS harness and guarded processes the watch_ovs test uses too.
use patchwire_testkit::ovs::{Guarded, Ovs};

const USAGE: &str = "usage: cargo bench --bench watch -- [--quick]";
const BIN: &str = env!("CARGO_BIN_EXE_patchwire");
/// Upper bound on the life of every process this benchmark starts.
const PROCESS_LIFETIME: Duration = Duration::from_secs(300);
/// How often X2 is read while waiting for it to change.
const POLL: Duration = Duration::from_millis(2);
/// A linkwatch delay above this counts as "deferred" (an urgent event takes well under 10 ms).
const SLOW: Duration = Duration::from_millis(100);

struct Config {
    quick: bool,
}

impl Config {
    fn from_args() -> Result<Self> {
        let mut config = Config { quick: false };
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--bench" => {} // cargo bench passes it to every bench binary
                "--quick" => config.quick = true,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        Ok(config)
    }

    /// Down/up cycles per wire in part A.
    fn veth_cycles(&self) -> usize {
        if self.quick { 8 } else { 20 }
    }

    /// Down/up cycles per mode in part B.
    fn ovs_cycles(&self) -> usize {
        if self.quick { 2 } else { 4 }
    }
}

fn main() -> Result<()> {
    let config = Config::from_args()?;
    let started = Instant::now();
    // SAFETY: geteuid has no preconditions and touches no memory.
    let euid = unsafe { libc::geteuid() };
    ensure!(
        euid == 0,
        "the benchmark creates network namespaces: run it as root"
    );
    let mut scratch = Scratch::new("watch")?;
    let mut random = Random::new();
    let veth = veth_bench(&config, &mut scratch, &mut random)?;
    let ovs = match Path::new("/usr/sbin/ovs-vswitchd").exists() {
        true => Some(ovs_bench(&config, &mut scratch, &mut random)?),
        false => None,
    };
    drop(scratch);

    println!("{}", environment(&config));
    println!("{}", veth_table(&config, &veth));
    match &ovs {
        Some(ovs) => println!("{}", ovs_table(&config, ovs)),
        None => println!("B. LACP: skipped (openvswitch-switch is not installed)\n"),
    }
    println!("{}", notes(&veth));
    println!("total run time {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Plumbing: namespaces, processes, randomness

/// A veth pair with chosen ifindexes: `x` (index `xi`) in `x_ns`, `e` (index `ei`) in `e_ns`,
/// both up.
fn veth(x_ns: &str, x: &str, xi: u32, e_ns: &str, e: &str, ei: u32) -> Result<()> {
    let (xi, ei) = (xi.to_string(), ei.to_string());
    ip(&[
        "-n", x_ns, "link", "add", "name", x, "index", &xi, "type", "veth", "peer", "name", e,
        "index", &ei, "netns", e_ns,
    ])?;
    ip(&["-n", x_ns, "link", "set", "dev", x, "up"])?;
    ip(&["-n", e_ns, "link", "set", "dev", e, "up"])?;
    Ok(())
}

/// `patchwire -n NS -j watch`, its output lines collected; stopped on drop.
struct Watch {
    process: Guarded,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(netns: &str) -> Result<Watch> {
        let mut process = Guarded::spawn(
            "patchwire watch",
            &[BIN, "-n", netns, "-j", "watch"],
            Stdio::piped(),
            &[],
            PROCESS_LIFETIME,
        )
        .map_err(|e| anyhow!(e))?;
        let stdout = process
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .context("watch stdout")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        // No ready line: give it a moment to subscribe and reconcile once.
        std::thread::sleep(Duration::from_millis(300));
        if let Some(status) = process.exited() {
            bail!("patchwire watch exited at once ({status})");
        }
        Ok(Watch { process, lines })
    }

    /// How many events of each kind it printed: (down, up, other).
    fn counts(&self) -> (usize, usize, Vec<String>) {
        let lines = self.lines.lock().expect("lines");
        let count = |kind: &str| lines.iter().filter(|l| l.contains(kind)).count();
        let other = lines
            .iter()
            .filter(|l| {
                !l.contains("\"link-down-propagated\"") && !l.contains("\"link-up-propagated\"")
            })
            .cloned()
            .collect();
        (
            count("\"link-down-propagated\""),
            count("\"link-up-propagated\""),
            other,
        )
    }

    /// SIGTERM; it must exit 0.
    fn stop(mut self) -> Result<()> {
        let status = self.process.stop().context("watch was not running")?;
        ensure!(status.success(), "patchwire watch ended with {status}");
        Ok(())
    }
}

/// xorshift64*: pauses of random length, so that measurements fall at every phase of the
/// kernel's once-a-second linkwatch slot.
struct Random(u64);

impl Random {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        Random(seed | 1)
    }

    fn pause(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        max.mul_f64((value >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// min / median / max.
fn spread(values: &[Duration]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    format!(
        "{} / {} / {}",
        ms(sorted[0]),
        ms(sorted[sorted.len() / 2]),
        ms(sorted[sorted.len() - 1])
    )
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

// ---------------------------------------------------------------------------------------------
// A. Carrier propagation through one wire

/// One wire X1 -- E1 ==wire== E2 -- X2 and its ifindexes.
struct Wire {
    label: &'static str,
    x1: (&'static str, u32),
    e1: (&'static str, u32),
    e2: (&'static str, u32),
    x2: (&'static str, u32),
}

const WIRES: [Wire; 2] = [
    Wire {
        label: "peers' ifindexes equal",
        x1: ("x1", 5),
        e1: ("e1", 5),
        e2: ("e2", 6),
        x2: ("x2", 6),
    },
    Wire {
        label: "all ifindexes distinct",
        x1: ("x3", 7),
        e1: ("e3", 17),
        e2: ("e4", 18),
        x2: ("x4", 8),
    },
];

/// What came before a measurement: a busy linkwatch (the previous cycle's events less than 1 s
/// ago), or a quiet one.
#[derive(Clone, Copy, PartialEq)]
enum Before {
    Busy,
    Quiet,
}

impl Before {
    fn pause(self, random: &mut Random) -> Duration {
        match self {
            Before::Busy => random.pause(BUSY_PAUSE),
            Before::Quiet => QUIET_PAUSE,
        }
    }
}

/// Pause before a measurement "after activity": random, up to this.
const BUSY_PAUSE: Duration = Duration::from_millis(300);
/// Pause before a measurement "after quiet": the previous cycle's deferred events run at most
/// 1 s after it, and the next slot opens at most 1 s after that.
const QUIET_PAUSE: Duration = Duration::from_millis(2200);

/// One kind of measurement: E1's notification delays and X2's change delays.
#[derive(Default, Clone)]
struct Series {
    event: Vec<Duration>,
    far: Vec<Duration>,
}

/// Per wire: down after activity, down after quiet, up (any).
#[derive(Default, Clone)]
struct Samples {
    down_busy: Series,
    down_quiet: Series,
    up: Series,
}

struct VethResult {
    samples: Vec<Samples>,
    events: (usize, usize),
}

fn veth_bench(config: &Config, scratch: &mut Scratch, random: &mut Random) -> Result<VethResult> {
    let r1 = scratch.netns("r1")?;
    let r2 = scratch.netns("r2")?;
    let lab = scratch.netns("lab")?;
    for wire in &WIRES {
        veth(&r1, wire.x1.0, wire.x1.1, &lab, wire.e1.0, wire.e1.1)?;
        veth(&r2, wire.x2.0, wire.x2.1, &lab, wire.e2.0, wire.e2.1)?;
        run(Command::new(BIN).args(["-n", &lab, "link", wire.e1.0, wire.e2.0]))?;
    }
    let mut r1_socket = Netns::open(Some(&r1))?.route()?;
    let mut r2_socket = Netns::open(Some(&r2))?.route()?;
    let mut lab_events = Netns::open(Some(&lab))?
        .run(|| -> std::io::Result<RouteSocket> {
            let socket = RouteSocket::open()?;
            socket.subscribe(RTNLGRP_LINK)?;
            Ok(socket)
        })?
        .context("subscribing to link changes in lab")?;
    for wire in &WIRES {
        wait_carrier(&mut r2_socket, wire.x2, true, Duration::from_secs(3))?;
    }

    let watch = Watch::start(&lab)?;
    let mut samples = vec![Samples::default(); WIRES.len()];
    for cycle in 0..config.veth_cycles() {
        let before = if cycle % 2 == 0 {
            Before::Busy
        } else {
            Before::Quiet
        };
        for (wire, samples) in WIRES.iter().zip(samples.iter_mut()) {
            std::thread::sleep(before.pause(random));
            for up in [false, true] {
                // Whatever the lab said before (the watcher's own changes) is not this change.
                while lab_events.wait_notifications(Duration::ZERO)? {}
                let t0 = Instant::now();
                r1_socket
                    .request(link::set_up(IfIndex(wire.x1.1), up), 0)
                    .with_context(|| format!("setting {} up={up}", wire.x1.0))?;
                let mut event = None;
                let deadline = t0 + Duration::from_secs(5);
                let far = loop {
                    if lab_events.wait_notifications(POLL)? && event.is_none() {
                        event = Some(t0.elapsed());
                    }
                    if read_link(&mut r2_socket, wire.x2.1)?.carrier == up {
                        break t0.elapsed();
                    }
                    ensure!(
                        Instant::now() < deadline,
                        "{} did not follow {} (up={up}) within 5 s",
                        wire.x2.0,
                        wire.x1.0
                    );
                };
                let series = match (up, before) {
                    (true, _) => &mut samples.up,
                    (false, Before::Busy) => &mut samples.down_busy,
                    (false, Before::Quiet) => &mut samples.down_quiet,
                };
                series.event.push(event.unwrap_or(far));
                series.far.push(far);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let (down, up, other) = watch.counts();
    ensure!(other.is_empty(), "unexpected watch events: {other:?}");
    watch.stop()?;
    Ok(VethResult {
        samples,
        events: (down, up),
    })
}

fn read_link(socket: &mut RouteSocket, index: u32) -> Result<Link> {
    Ok(link::parse_one(
        socket.request_raw(link::get_by_index(IfIndex(index)), 0),
    )?)
}

fn wait_carrier(
    socket: &mut RouteSocket,
    (name, index): (&str, u32),
    carrier: bool,
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    while read_link(socket, index)?.carrier != carrier {
        ensure!(
            Instant::now() < deadline,
            "{name}: carrier not {carrier} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn veth_table(config: &Config, result: &VethResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A. carrier propagation by `patchwire watch` through one wire  X1 -- E1 ==wire== E2 -- X2\n   \
         t0 = RTM_SETLINK X1 down (up); \"E1 event\" = first link notification in the wire's\n   \
         namespace (E1's carrier change, delivered by the kernel's linkwatch); \"X2\" = X2 reads\n   \
         NO-CARRIER (carrier), RTM_GETLINK every 2 ms. {} cycles, each measuring both wires;\n   \
         every other cycle follows a random 0-{} ms pause (\"busy\": linkwatch ran < 1 s ago),\n   \
         the others a {} pause (\"quiet\"). min / median / max.\n",
        config.veth_cycles(),
        BUSY_PAUSE.as_millis(),
        ms(QUIET_PAUSE)
    );
    let _ = writeln!(
        out,
        "   {:<37} {:<11} {:<26} {:<26} E1 event > 100 ms",
        "wire (ifindex X1,E1,E2,X2)", "change", "E1 event", "X2 changed"
    );
    for (wire, samples) in WIRES.iter().zip(&result.samples) {
        let rows = [
            ("down, busy", &samples.down_busy),
            ("down, quiet", &samples.down_quiet),
            ("up", &samples.up),
        ];
        for (row, (name, series)) in rows.into_iter().enumerate() {
            let label = match row {
                0 => wire.label.to_string(),
                1 => format!(
                    "  ({},{},{},{})",
                    wire.x1.1, wire.e1.1, wire.e2.1, wire.x2.1
                ),
                _ => String::new(),
            };
            let slow = series.event.iter().filter(|d| **d > SLOW).count();
            let _ = writeln!(
                out,
                "   {label:<37} {name:<11} {:<26} {:<26} {slow} of {}",
                spread(&series.event),
                spread(&series.far),
                series.event.len()
            );
        }
    }
    let _ = writeln!(
        out,
        "   watch printed {} link-down-propagated and {} link-up-propagated events, nothing else.",
        result.events.0, result.events.1
    );
    out
}

// ---------------------------------------------------------------------------------------------
// B. LACP with Open vSwitch

/// One mode's results: disable and re-enable delays, and what OvS counted.
#[derive(Default)]
struct LacpMode {
    disabled: Vec<Duration>,
    enabled: Vec<Duration>,
    /// Increase of b1's "Carrier Status Changed" and "Link Expired" over the cycles.
    carrier_changes: u64,
    expiries: u64,
}

struct OvsResult {
    with_watch: LacpMode,
    without: LacpMode,
    negotiated: Duration,
    poll: Duration,
}

/// Interfaces of part B and their ifindexes: all distinct, so every carrier event is urgent.
const OVS_LINKS: [(&str, u32, &str, u32); 4] = [
    ("a1", 21, "la1", 11),
    ("a2", 22, "la2", 12),
    ("b1", 31, "lb1", 13),
    ("b2", 32, "lb2", 14),
];

fn ovs_bench(config: &Config, scratch: &mut Scratch, random: &mut Random) -> Result<OvsResult> {
    let a = scratch.netns("a")?;
    let b = scratch.netns("b")?;
    let lab = scratch.netns("lab2")?;
    for (x, xi, e, ei) in OVS_LINKS {
        let x_ns = if x.starts_with('a') { &a } else { &b };
        veth(x_ns, x, xi, &lab, e, ei)?;
    }
    run(Command::new(BIN).args(["-n", &lab, "link", "la1", "lb1"]))?;
    run(Command::new(BIN).args(["-n", &lab, "link", "la2", "lb2"]))?;
    let started = Instant::now();
    let ovs_a = Ovs::start(
        &a,
        scratch.dir.join("ovs-a"),
        ["a1", "a2"],
        PROCESS_LIFETIME,
    )
    .map_err(|e| anyhow!(e))?;
    let ovs_b = Ovs::start(
        &b,
        scratch.dir.join("ovs-b"),
        ["b1", "b2"],
        PROCESS_LIFETIME,
    )
    .map_err(|e| anyhow!(e))?;
    let converged = || -> Result<bool> {
        for (ovs, member) in [
            (&ovs_a, "a1"),
            (&ovs_a, "a2"),
            (&ovs_b, "b1"),
            (&ovs_b, "b2"),
        ] {
            if !(ovs.lacp_current(member).map_err(|e| anyhow!(e))?
                && ovs.member_enabled(member).map_err(|e| anyhow!(e))?)
            {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let wait_converged = |limit: Duration| -> Result<()> {
        let deadline = Instant::now() + limit;
        while !converged()? {
            ensure!(
                Instant::now() < deadline,
                "LACP not converged within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    };
    wait_converged(Duration::from_secs(30))?;
    let negotiated = started.elapsed();

    // The cost of one look at the far bond: the resolution of the delays below.
    let t = Instant::now();
    for _ in 0..5 {
        ovs_b.member_enabled("b1").map_err(|e| anyhow!(e))?;
    }
    let poll = t.elapsed() / 5;

    let mut a_socket = Netns::open(Some(&a))?.route()?;
    let mut cycle = |mode: &mut LacpMode| -> Result<()> {
        let before = ovs_b.lacp_stats("b1").map_err(|e| anyhow!(e))?;
        for up in [false, true] {
            let t0 = Instant::now();
            a_socket
                .request(link::set_up(IfIndex(21), up), 0)
                .with_context(|| format!("setting a1 up={up}"))?;
            let deadline = t0 + Duration::from_secs(10);
            while ovs_b.member_enabled("b1").map_err(|e| anyhow!(e))? != up {
                ensure!(
                    Instant::now() < deadline,
                    "b1 not {} within 10 s of a1 up={up}",
                    if up { "enabled" } else { "disabled" }
                );
            }
            match up {
                false => mode.disabled.push(t0.elapsed()),
                true => mode.enabled.push(t0.elapsed()),
            }
        }
        let after = ovs_b.lacp_stats("b1").map_err(|e| anyhow!(e))?;
        mode.carrier_changes += after.carrier_changed - before.carrier_changed;
        mode.expiries += after.expired - before.expired;
        wait_converged(Duration::from_secs(10))?;
        std::thread::sleep(random.pause(Duration::from_millis(1000)));
        Ok(())
    };

    let watch = Watch::start(&lab)?;
    let mut with_watch = LacpMode::default();
    for _ in 0..config.ovs_cycles() {
        cycle(&mut with_watch)?;
    }
    watch.stop()?;
    let mut without = LacpMode::default();
    for _ in 0..config.ovs_cycles() {
        cycle(&mut without)?;
    }
    Ok(OvsResult {
        with_watch,
        without,
        negotiated,
        poll,
    })
}

fn ovs_table(config: &Config, result: &OvsResult) -> String {
    let mut out = String::new();
    let links: Vec<String> = OVS_LINKS
        .iter()
        .map(|(x, xi, e, ei)| format!("{x}={xi}/{e}={ei}"))
        .collect();
    let _ = writeln!(
        out,
        "B. LACP: Open vSwitch bonds (userspace datapath, bond0 balance-tcp, fast LACP) in a and b\n   \
         through wires la1<->lb1, la2<->lb2 (ifindexes {}: all distinct, so no\n   \
         linkwatch deferral; with equal peer ifindexes add part A's).\n   \
         LACP negotiated {} after the daemons were started. a1 set down (RTM_SETLINK), time until\n   \
         OvS in b reports b1 disabled, then a1 up until b1 is enabled again; bond/show polled back\n   \
         to back ({} per look). {} cycles per mode; min / median / max.\n",
        links.join(" "),
        ms(result.negotiated),
        ms(result.poll),
        config.ovs_cycles()
    );
    let _ = writeln!(
        out,
        "   {:<15} {:<26} {:<26} b1 per OvS lacp/show-stats",
        "mode", "b1 disabled after a1 down", "b1 enabled after a1 up"
    );
    for (name, mode) in [
        ("with watch", &result.with_watch),
        ("without watch", &result.without),
    ] {
        let _ = writeln!(
            out,
            "   {name:<15} {:<26} {:<26} carrier changes +{}, LACP expiries +{}",
            spread(&mode.disabled),
            spread(&mode.enabled),
            mode.carrier_changes,
            mode.expiries
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Report

fn environment(config: &Config) -> String {
    let (kernel, cores) = support::report::kernel_and_cores();
    let first = |program: &str, arg: &str| {
        run(Command::new(program).arg(arg))
            .map(|s| s.lines().next().unwrap_or_default().to_string())
            .unwrap_or_else(|_| format!("{program}: not available"))
    };
    format!(
        "patchwire watch benchmark{}: Linux {kernel}, {cores} cores, {}, {}\n",
        if config.quick { " (--quick)" } else { "" },
        first("ip", "-V"),
        first("ovs-vswitchd", "--version")
    )
}

fn notes(veth: &VethResult) -> String {
    let mut out = String::from(
        "Notes: the kernel reports carrier changes through linkwatch (net/core/link_watch.c), one\n\
         global work queue that batches them. An event is urgent (handled at once) unless the\n\
         device is down, or its ifindex equals its iflink -- for a veth, the peer's ifindex in the\n\
         peer's namespace -- and no qdisc has to be re-activated (carrier up); a non-urgent event\n\
         waits for the next slot, up to 1 s after the previous non-urgent run. The watcher can act\n\
         only when E1's event arrives; X2 itself loses its carrier the moment E2 goes down (a\n\
         program that waits for X2's notification, like OvS, waits for X2's linkwatch event too).\n",
    );
    for (wire, samples) in WIRES.iter().zip(&veth.samples) {
        let describe = |series: &Series| {
            let slow: Vec<&Duration> = series.event.iter().filter(|d| **d > SLOW).collect();
            match slow.iter().max() {
                None => format!("never deferred ({})", series.event.len()),
                Some(max) => format!(
                    "deferred in {} of {} (up to {})",
                    slow.len(),
                    series.event.len(),
                    ms(**max)
                ),
            }
        };
        let _ = writeln!(
            out,
            "Observed, {} (X1={} E1={}): E1's down event after activity {}; after quiet {}.",
            wire.label,
            wire.x1.1,
            wire.e1.1,
            describe(&samples.down_busy),
            describe(&samples.down_quiet)
        );
    }
    let reaction: Vec<Duration> = veth
        .samples
        .iter()
        .flat_map(|s| [&s.down_busy, &s.down_quiet, &s.up])
        .flat_map(|series| series.event.iter().zip(&series.far))
        .map(|(event, far)| far.saturating_sub(*event))
        .collect();
    let _ = writeln!(
        out,
        "From E1's event to X2's change (the watcher's own part, its 20 ms settle time included): {}.",
        spread(&reaction)
    );
    out
}

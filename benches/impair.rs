//! Benchmark of impairments: what an impaired port costs per frame, and how soon a pulled
//! cable is seen by both nodes (`impair/cable.rs`).
//!
//! Run as root: `cargo bench --bench impair [-- --quick] [--only cost|cable]`. Sender namespace `s` (s0,
//! 198.18.0.1/24) → veth → port `ls` in `m` — patchwire wire — port `lr` → veth → receiver
//! `r` (r0, 198.18.0.2/24); everything in namespaces `pwb-<pid>-*` removed on exit, traffic
//! bounded in time. iperf3 sends 60-byte frames (UDP, 18-byte payload, `-b 0`: as fast as the
//! sender's CPU allows — the figure is sender-bound, so a cost per frame on the path shows as
//! fewer frames per second).
//!
//! Three configurations of the same wire, alternating (the order rotating each round), `--quick` 2 rounds of 3 s, else 5 of
//! 5 s, medians reported:
//! - **unimpaired**: the wire alone;
//! - **impaired, all zero**: the impairment program on `ls` with every probability 0, set
//!   through the library (the CLI and lab files remove a program left with nothing to do):
//!   the mechanism's own cost per frame, before any draw drops one — the issue's target is at
//!   most 3 % fewer frames/s than unimpaired;
//! - **loss 10 %**: the same program dropping one frame in ten (frames received are then ~90 %
//!   of frames sent; the sent rate shows the program's cost, the drop saves the wire's work).
//!
//! Printed side by side with the ratios to unimpaired, in one run.
//!
//! On a shared machine the frames/s figures move by tens of percent between runs, far more
//! than the program costs; so the benchmark also reads the kernel's own accounting of the
//! program: with `kernel.bpf_stats_enabled` set for the run (a global sysctl, put back on
//! every path by a guard), the program's fdinfo gives `run_time_ns` and `run_cnt`, hence its
//! nanoseconds per frame — printed beside the time one frame of the unimpaired path takes
//! (1 / its frames per second), whose ratio is the program's share of the per-frame budget.

mod support;

#[path = "impair/cable.rs"]
mod cable;

use std::process::Command;

use anyhow::{Context, Result, ensure};
use patchwire::impair::{self, Impairment, Loss};
use patchwire::netns::Netns;
use patchwire::wire::{self, LinkOptions, WireRequest};
use support::iperf::{Server, address_ends, rx_packets};
use support::report::median;
use support::{Scratch, ip, run};

/// 18 bytes of UDP payload: a 60-byte frame (14 + 20 + 8 + 18).
const UDP_PAYLOAD: &str = "18";

#[derive(Clone, Copy)]
enum Config {
    Unimpaired,
    Zero,
    Loss10,
}

impl Config {
    fn label(self) -> &'static str {
        match self {
            Config::Unimpaired => "unimpaired wire",
            Config::Zero => "impaired, all zero",
            Config::Loss10 => "impaired, loss 10%",
        }
    }
}

fn apply(m: &Netns, config: Config) -> Result<()> {
    match config {
        Config::Unimpaired => {
            impair::clear(m, "ls")?;
        }
        Config::Zero => {
            impair::set(m, "ls", &Impairment::default())?;
        }
        Config::Loss10 => {
            let loss = Impairment {
                loss: Some(Loss::Random { percent: 10.0 }),
                ..Default::default()
            };
            impair::set(m, "ls", &loss)?;
        }
    }
    let filters =
        run(Command::new("tc").args(["-n", m.label(), "filter", "show", "dev", "ls", "ingress"]))?;
    ensure!(
        filters.contains("pw-impair") == !matches!(config, Config::Unimpaired),
        "{}: the impairment program is not as configured:\n{filters}",
        config.label()
    );
    Ok(())
}

/// Frames per second (received at r0, sent by iperf3).
fn udp_frames(s: &str, r: &str, seconds: u64, label: &str) -> Result<(f64, f64)> {
    let _server = Server::start(r, seconds)?;
    let before = rx_packets(r, "r0")?;
    let report = support::iperf::client(s, label, seconds, &["-u", "-b", "0", "-l", UDP_PAYLOAD])?;
    let after = rx_packets(r, "r0")?;
    let sum = &report["end"]["sum"];
    let elapsed = sum["seconds"].as_f64().context("no end.sum.seconds")?;
    let sent = sum["packets"].as_f64().context("no end.sum.packets")?;
    Ok(((after - before) as f64 / elapsed, sent / elapsed))
}

/// Sets `kernel.bpf_stats_enabled` and puts the old value back on drop.
struct BpfStats(String);

impl BpfStats {
    const PATH: &str = "/proc/sys/kernel/bpf_stats_enabled";

    fn enable() -> Result<BpfStats> {
        let old = std::fs::read_to_string(Self::PATH).context("reading bpf_stats_enabled")?;
        std::fs::write(Self::PATH, "1").context("setting bpf_stats_enabled")?;
        Ok(BpfStats(old.trim().to_string()))
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = std::fs::write(Self::PATH, &self.0);
    }
}

/// (run_time_ns, run_cnt) of the impairment program on ls, from its fdinfo.
fn program_stats(m: &str) -> Result<(u64, u64)> {
    let filters =
        run(Command::new("tc").args(["-n", m, "filter", "show", "dev", "ls", "ingress"]))?;
    // `… id 1410 name pw_impair tag …`
    let id: u32 = filters
        .split(" id ")
        .skip(1)
        .find_map(|rest| {
            let mut words = rest.split_whitespace();
            let id = words.next()?.parse().ok()?;
            (words.next() == Some("name") && words.next() == Some("pw_impair")).then_some(id)
        })
        .context("no impairment program id in tc filter show")?;
    let fd = patchwire::bpf::map::prog_fd_by_id(id)?;
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .with_context(|| format!("no {name} in the program's fdinfo"))
    };
    Ok((field("run_time_ns:")?, field("run_cnt:")?))
}

fn main() -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    ensure!(euid == 0, "the impairment benchmark needs root");
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    ensure!(
        matches!(only, None | Some("cost" | "cable")),
        "--only takes cost or cable"
    );
    let (rounds, seconds) = if quick { (2, 3) } else { (5, 5) };
    let mut scratch = Scratch::new("impair")?;
    if only != Some("cable") {
        cost(&mut scratch, rounds, seconds)?;
    }
    if only != Some("cost") {
        cable::run(&scratch, if quick { 5 } else { 20 })?;
    }
    Ok(())
}

/// What an impaired port costs per frame (see the top of this file).
fn cost(scratch: &mut Scratch, rounds: usize, seconds: u64) -> Result<()> {
    let s = scratch.netns("s")?;
    let m = scratch.netns("m")?;
    let r = scratch.netns("r")?;
    ip(&[
        "-n", &s, "link", "add", "s0", "type", "veth", "peer", "name", "ls", "netns", &m,
    ])?;
    ip(&[
        "-n", &r, "link", "add", "r0", "type", "veth", "peer", "name", "lr", "netns", &m,
    ])?;
    ip(&["-n", &m, "link", "set", "ls", "up"])?;
    ip(&["-n", &m, "link", "set", "lr", "up"])?;
    let made = wire::link(
        Netns::open(Some(&m))?,
        &[WireRequest::new("ls", "lr")],
        &LinkOptions::default(),
    )?;
    ensure!(made.created.len() == 1, "the ls <-> lr wire was not made");
    address_ends(&s, &r, "wire")?;
    let mid = Netns::open(Some(&m))?.with_label(&m);

    let _stats = BpfStats::enable()?;
    let configs = [Config::Unimpaired, Config::Zero, Config::Loss10];
    let mut per_frame_ns: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut figures: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); configs.len()];
    for round in 0..rounds {
        // The order rotates each round, so no configuration always runs first or last.
        for k in 0..configs.len() {
            let i = (k + round) % configs.len();
            let config = &configs[i];
            apply(&mid, *config)?;
            let before = match config {
                Config::Unimpaired => None,
                _ => Some(program_stats(&m)?),
            };
            let (received, sent) = udp_frames(&s, &r, seconds, config.label())?;
            if let Some((ns0, n0)) = before {
                let (ns1, n1) = program_stats(&m)?;
                per_frame_ns[i].push((ns1 - ns0) as f64 / (n1 - n0).max(1) as f64);
            }
            eprintln!(
                "round {}: {:<20} sent {:>10.0}/s received {:>10.0}/s",
                round + 1,
                config.label(),
                sent,
                received
            );
            figures[i].0.push(sent);
            figures[i].1.push(received);
        }
    }
    impair::clear(&mid, "ls")?;
    let (kernel, cores) = support::report::kernel_and_cores();
    println!(
        "\nimpairment cost: 60-byte UDP frames s0 -> ls =wire= lr -> r0, {rounds} rounds of {seconds} s, \
         medians ({kernel}, {cores} cores)"
    );
    println!(
        "{:<22} {:>14} {:>14} {:>10} {:>10}",
        "", "sent frames/s", "received/s", "sent ÷ ref", "recv ÷ ref"
    );
    let sent_ref = median(figures[0].0.clone());
    let recv_ref = median(figures[0].1.clone());
    for (config, (sent, received)) in configs.iter().zip(&figures) {
        let (sent, received) = (median(sent.clone()), median(received.clone()));
        println!(
            "{:<22} {:>14.0} {:>14.0} {:>10.3} {:>10.3}",
            config.label(),
            sent,
            received,
            sent / sent_ref,
            received / recv_ref
        );
    }
    // One frame of the unimpaired path takes 1e9 / frames-per-second ns of the sender's CPU
    // (the path is sender-bound: the veth delivers in the sender's softirq).
    let budget = 1e9 / sent_ref;
    println!(
        "\nthe program's own time per frame (kernel.bpf_stats_enabled), against the {budget:.0} ns \
         one frame of the unimpaired path takes:"
    );
    for (config, times) in configs.iter().zip(&per_frame_ns).skip(1) {
        let ns = median(times.clone());
        println!(
            "{:<22} {:>8.1} ns/frame  = {:.2} % of a frame's time",
            config.label(),
            ns,
            100.0 * ns / budget
        );
    }
    Ok(())
}

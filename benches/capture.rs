//! Benchmark of `patchwire capture` beside Debian's tcpdump and dumpcap, in the same run.
//!
//! Run as root with `scripts/bench --only capture [--quick] [--rounds N]`. A wire ls <-> lr (tc
//! datapath) in namespace `mid` joins sender `s` (s0) and receiver `r` (r0); iperf3 offers
//! 60-byte frames (64 on a real cable) at 100k, 200k and 400k frames/s and flat out. Each
//! capturer records end `ls` of the wire into a pcap(ng) file on tmpfs with the same filter
//! (`udp`, so the few TCP control frames of iperf3 are left out for all) and the same 8 MiB of
//! kernel buffer (patchwire's ring; `tcpdump -B 8192`, `dumpcap -B 8`); then it gets SIGINT
//! and its frames are counted by capinfos. Per rate and capturer, in alternating order, each
//! round: frames captured ÷ frames iperf3 sent, CPU seconds of the capturing process (user +
//! system, from wait4) per million frames captured, and the frames/s arriving at r0 — with no
//! capture running too, which gives the wire's rate with a capture ÷ without. Medians over the
//! rounds.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

mod support;
use patchwire::netns::Netns;
use patchwire::wire::{self, LinkOptions, WireRequest};
use support::iperf::{Server, rx_packets};
use support::report::median_total as median;
use support::{Scratch, ip, run};

const USAGE: &str = "usage: cargo bench --bench capture -- [--quick] [--rounds N]";
/// 14 + 20 + 8 + 18 = 60-byte frames.
const UDP_PAYLOAD: u64 = 18;
/// Frames per second offered; 0 is flat out.
const RATES: [u64; 4] = [100_000, 200_000, 400_000, 0];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Capturer {
    None,
    Patchwire,
    Tcpdump,
    Dumpcap,
}

impl Capturer {
    const ALL: [Capturer; 4] = [
        Capturer::None,
        Capturer::Patchwire,
        Capturer::Tcpdump,
        Capturer::Dumpcap,
    ];

    fn label(self) -> &'static str {
        match self {
            Capturer::None => "no capture",
            Capturer::Patchwire => "patchwire capture",
            Capturer::Tcpdump => "tcpdump -w",
            Capturer::Dumpcap => "dumpcap -w",
        }
    }
}

/// One measurement.
#[derive(Clone, Copy, Default)]
struct Sample {
    sent: f64,
    /// Frames per second arriving at r0.
    rx_fps: f64,
    captured: f64,
    cpu_seconds: f64,
}

fn main() -> Result<()> {
    let mut quick = false;
    let mut rounds = 3;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).context(USAGE)?,
            _ => bail!("{USAGE}"),
        }
    }
    if quick {
        rounds = 1;
    }
    let seconds = if quick { 2 } else { 3 };
    // SAFETY: geteuid has no preconditions and touches no memory.
    ensure!(unsafe { libc::geteuid() } == 0, "run it as root");
    let started = Instant::now();
    let mut scratch = Scratch::new("capture")?;
    let path = build_path(&mut scratch)?;
    let files = PathBuf::from(format!("/dev/shm/pwb-{}-capture", std::process::id()));
    std::fs::create_dir_all(&files)?;
    let _cleanup = RemoveDir(files.clone());

    let mut samples: Vec<(u64, Capturer, Vec<Sample>)> = Vec::new();
    for rate in RATES {
        for capturer in Capturer::ALL {
            samples.push((rate, capturer, Vec::new()));
        }
    }
    for round in 0..rounds {
        for rate in RATES {
            // Rotate the order every round: no capturer always runs first (or last).
            let mut order = Capturer::ALL.to_vec();
            order.rotate_left(round % Capturer::ALL.len());
            for capturer in order {
                let sample = measure(&path, &files, rate, capturer, seconds)
                    .with_context(|| format!("{} at {}", capturer.label(), rate_label(rate)))?;
                samples
                    .iter_mut()
                    .find(|(r, c, _)| *r == rate && *c == capturer)
                    .expect("every pair")
                    .2
                    .push(sample);
            }
        }
    }
    drop(scratch);
    println!("{}", table(&samples, rounds, seconds));
    println!("total run time: {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct TestPath {
    sender: String,
    mid: String,
    receiver: String,
}

fn build_path(scratch: &mut Scratch) -> Result<TestPath> {
    let (s, m, r) = (
        scratch.netns("s")?,
        scratch.netns("mid")?,
        scratch.netns("r")?,
    );
    ip(&[
        "-n", &s, "link", "add", "s0", "type", "veth", "peer", "name", "ls", "netns", &m,
    ])?;
    ip(&[
        "-n", &r, "link", "add", "r0", "type", "veth", "peer", "name", "lr", "netns", &m,
    ])?;
    for dev in ["ls", "lr"] {
        ip(&["-n", &m, "link", "set", dev, "up"])?;
    }
    let made = wire::link(
        Netns::open(Some(&m))?,
        &[WireRequest::new("ls", "lr")],
        &LinkOptions::default(),
    )?;
    ensure!(made.created.len() == 1, "the wire ls <-> lr was not made");
    support::iperf::address_ends(&s, &r, "the wire")?;
    Ok(TestPath {
        sender: s,
        mid: m,
        receiver: r,
    })
}

fn rate_label(rate: u64) -> String {
    match rate {
        0 => "flat out".into(),
        r => format!("{}k/s", r / 1000),
    }
}

/// One run: the capturer (if any) on `ls`, iperf3 at `rate` for `seconds`, then SIGINT.
fn measure(
    path: &TestPath,
    files: &Path,
    rate: u64,
    capturer: Capturer,
    seconds: u64,
) -> Result<Sample> {
    let file = files.join(format!("{capturer:?}.pcap"));
    let _ = std::fs::remove_file(&file);
    let out = file.to_str().context("utf-8 path")?;
    let netns = format!("--net=/run/netns/{}", path.mid);
    let (program, args, ready): (&str, Vec<&str>, &str) = match capturer {
        Capturer::None => ("", vec![], ""),
        Capturer::Patchwire => (
            env!("CARGO_BIN_EXE_patchwire"),
            vec!["capture", "ls", "-w", out, "-f", "udp"],
            "capturing on",
        ),
        Capturer::Tcpdump => (
            "tcpdump",
            vec!["-i", "ls", "-w", out, "-B", "8192", "-n", "udp"],
            "listening on",
        ),
        Capturer::Dumpcap => (
            "dumpcap",
            vec!["-i", "ls", "-w", out, "-B", "8", "-f", "udp", "-q"],
            "Capturing on",
        ),
    };
    let mut child = match capturer {
        Capturer::None => None,
        _ => {
            let mut child = Command::new("nsenter")
                .arg(&netns)
                .arg(program)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("starting {program}"))?;
            let stderr = child.stderr.take().context("stderr")?;
            let mut lines = BufReader::new(stderr).lines();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let line = lines
                    .next()
                    .context("the capturer exited before it said it was capturing")??;
                if line.contains(ready) {
                    break;
                }
                ensure!(
                    Instant::now() < deadline,
                    "{program} did not start capturing: {line}"
                );
            }
            // Keep reading stderr so the capturer never blocks on it.
            std::thread::spawn(move || for _ in lines {});
            Some(child)
        }
    };
    let _server = Server::start(&path.receiver, seconds)?;
    let before = rx_packets(&path.receiver, "r0")?;
    let bits = (rate * UDP_PAYLOAD * 8).to_string();
    let payload = UDP_PAYLOAD.to_string();
    let report = support::iperf::client(
        &path.sender,
        "wire",
        seconds,
        &["-u", "-b", &bits, "-l", &payload],
    )?;
    let after = rx_packets(&path.receiver, "r0")?;
    let sum = &report["end"]["sum"];
    let elapsed = sum["seconds"].as_f64().context("no end.sum.seconds")?;
    let sent = sum["packets"].as_f64().context("no end.sum.packets")?;
    let mut sample = Sample {
        sent,
        rx_fps: (after - before) as f64 / elapsed,
        ..Sample::default()
    };
    if let Some(child) = child.take() {
        // Time to drain what the kernel holds, then stop as a user would.
        std::thread::sleep(Duration::from_millis(300));
        let pid = child.id() as libc::pid_t;
        // SAFETY: signals our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 fills it for our child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child; `status` and `usage` outlive the call.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        ensure!(waited == pid, "wait4: {}", std::io::Error::last_os_error());
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        sample.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
        sample.captured = count_frames(&file)? as f64;
        std::mem::forget(child); // reaped by wait4 above
    }
    Ok(sample)
}

/// Frames in a pcap or pcapng file, as capinfos counts them.
fn count_frames(file: &Path) -> Result<u64> {
    let out = run(Command::new("capinfos").args(["-c", "-M"]).arg(file))?;
    out.lines()
        .find_map(|l| l.split("Number of packets:").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no packet count from capinfos: {out}"))
}

fn table(samples: &[(u64, Capturer, Vec<Sample>)], rounds: usize, seconds: u64) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Capture of one wire end, 60-byte UDP frames, filter `udp`, 8 MiB of kernel buffer each; \
         {rounds} round(s) of {seconds} s per cell, medians"
    );
    let _ = writeln!(
        text,
        "{:<10} {:<18} {:>12} {:>14} {:>16} {:>14} {:>12}",
        "offered",
        "capturer",
        "sent/s",
        "captured/sent",
        "CPU s / Mframe",
        "wire rx/s",
        "÷ no capture"
    );
    for rate in RATES {
        let baseline = samples
            .iter()
            .find(|(r, c, _)| *r == rate && *c == Capturer::None)
            .map(|(_, _, s)| median(s.iter().map(|s| s.rx_fps).collect()))
            .unwrap_or(0.0);
        for (_, capturer, runs) in samples.iter().filter(|(r, _, _)| *r == rate) {
            let sent_per_s = median(runs.iter().map(|s| s.sent / seconds as f64).collect());
            let rx = median(runs.iter().map(|s| s.rx_fps).collect());
            let (ratio, cpu) = match capturer {
                Capturer::None => ("-".to_string(), "-".to_string()),
                _ => (
                    format!(
                        "{:.4}",
                        median(runs.iter().map(|s| s.captured / s.sent).collect())
                    ),
                    format!(
                        "{:.2}",
                        median(
                            runs.iter()
                                .map(|s| s.cpu_seconds / (s.captured / 1e6))
                                .collect()
                        )
                    ),
                ),
            };
            let _ = writeln!(
                text,
                "{:<10} {:<18} {:>12.0} {:>14} {:>16} {:>14.0} {:>12.2}",
                rate_label(rate),
                capturer.label(),
                sent_per_s,
                ratio,
                cpu,
                rx,
                rx / baseline
            );
        }
    }
    text
}

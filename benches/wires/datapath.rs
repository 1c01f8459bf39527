//! B. Datapath: frame rates and TCP throughput over a direct veth pair, a bridge, a wire, a
//! wire with a mirror (patchwire's and hand-written tc), and an eBPF wire.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathKind {
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

    pub(crate) fn label(self) -> &'static str {
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

    pub(crate) fn tag(self) -> &'static str {
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
pub(crate) struct TestPath {
    pub(crate) kind: PathKind,
    pub(crate) sender: String,
    pub(crate) receiver: String,
    /// The eBPF wire's records (ls -> lr, lr -> ls), if it is one.
    pub(crate) ebpf_records: Vec<String>,
}

#[derive(Clone, Copy)]
pub(crate) struct Sample {
    /// 60-byte frames received at r0 per second.
    pub(crate) rx_fps: f64,
    /// Datagrams iperf3 sent per second.
    pub(crate) tx_fps: f64,
    pub(crate) tcp_bps: f64,
}

/// Medians per path, and every round's frame rate and TCP throughput per path (paths alternate
/// within a round, so a ratio taken round by round compares measurements made seconds apart).
pub(crate) struct DatapathResult {
    pub(crate) medians: Vec<(PathKind, Sample)>,
    pub(crate) rounds: Vec<(PathKind, Vec<f64>)>,
    pub(crate) tcp_rounds: Vec<(PathKind, Vec<f64>)>,
    /// The eBPF wire's records (`peer=1`: bpf_redirect_peer into the far veth's peer).
    pub(crate) ebpf_records: Vec<String>,
}

impl DatapathResult {
    /// The median over rounds of `a`'s frame rate divided by `b`'s in the same round.
    pub(crate) fn paired_ratio(&self, a: PathKind, b: PathKind) -> Option<f64> {
        Some(self.paired_ratios(a, b)?.1)
    }

    /// Per-round frame rate ratios a ÷ b, sorted: (first quartile, median, third quartile,
    /// rounds).
    pub(crate) fn paired_ratios(&self, a: PathKind, b: PathKind) -> Option<(f64, f64, f64, usize)> {
        paired_ratios(&self.rounds, a, b)
    }

    /// The same for TCP throughput (main rounds only).
    pub(crate) fn paired_tcp_ratios(
        &self,
        a: PathKind,
        b: PathKind,
    ) -> Option<(f64, f64, f64, usize)> {
        paired_ratios(&self.tcp_rounds, a, b)
    }
}

/// Per-round ratios a ÷ b of one series, sorted: (first quartile, median, third quartile,
/// rounds).
pub(crate) fn paired_ratios(
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

pub(crate) fn datapath_bench(config: &Config, scratch: &mut Scratch) -> Result<DatapathResult> {
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

pub(crate) fn build_path(scratch: &mut Scratch, kind: PathKind) -> Result<TestPath> {
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
    support::iperf::address_ends(&s, &r, kind.label())?;
    Ok(TestPath {
        kind,
        sender: s,
        receiver: r,
        ebpf_records: records,
    })
}

/// Waits (at most 20 s) until the CPUs are ≥ 90% idle over one second, so that leftovers of an
/// earlier run (namespace cleanup) do not distort frame rates.
pub(crate) fn wait_for_quiet_cpu() {
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
pub(crate) fn udp_frames(path: &TestPath, seconds: u64) -> Result<(f64, f64)> {
    let _server = Server::start(&path.receiver, seconds)?;
    let before = rx_packets(&path.receiver, "r0")?;
    let payload = UDP_PAYLOAD.to_string();
    let report = support::iperf::client(
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

pub(crate) fn tcp_throughput(path: &TestPath, seconds: u64) -> Result<f64> {
    let _server = Server::start(&path.receiver, seconds)?;
    let report = support::iperf::client(&path.sender, path.kind.label(), seconds, &[])?;
    report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .context("no end.sum_received.bits_per_second in iperf3 report")
}

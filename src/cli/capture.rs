//! `patchwire capture`.

use std::path::PathBuf;
use std::time::Duration;

use patchwire::capture::output::{Destination, Rotation};
use patchwire::capture::{self, DEFAULT_SNAPLEN, Spec, Summary};

use super::{Cli, Exit};

/// Capture frames of interfaces — a wire's end, a lab's links, in any namespaces — into one
/// pcapng file, each frame marked inbound or outbound.
///
/// One Interface Description Block per target (if_name NETNS:IF, if_description saying what it
/// is: "wire eth1 <-> tap1"); every frame in an Enhanced Packet Block with its direction in
/// epb_flags (tshark: frame.packet_flags_direction, 1 in, 2 out) and nanosecond timestamps;
/// VLAN tags the kernel held in metadata put back. One end of a wire shows both of its
/// directions: frames arriving from its side are inbound, frames the wire sends out of it are
/// outbound. Received and dropped counts per interface close every file (Interface Statistics
/// Blocks) and are printed on stderr. Options follow dumpcap where they do not clash with
/// patchwire's own (-n is the namespace, -s statistics: the snap length is --snaplen).
#[derive(clap::Args)]
#[command(
    override_usage = "patchwire capture [OPTIONS] -w FILE|- (TARGET... | --wires | --lab FILE)",
    after_help = "Examples:\n  patchwire -n lab capture eth1 -w eth1.pcapng -c 1000\n  \
patchwire capture lab:eth1 r1:eth2 -w both.pcapng -f 'ether proto 0x8809'\n  \
patchwire capture --lab t1.yaml -w t1.pcapng -b filesize:10000 -b files:5\n  \
patchwire -n lab capture --wires -w - | wireshark -k -i -"
)]
pub struct Args {
    /// Interfaces: IF (in the -n namespace) or NETNS:IF.
    pub targets: Vec<String>,
    /// One end of every wire of the namespace (each end shows both directions of its wire).
    #[arg(long, conflicts_with = "lab")]
    pub wires: bool,
    /// Every link of this lab file that has an endpoint on this host (the lab must be up).
    #[arg(long, value_name = "FILE")]
    pub lab: Option<PathBuf>,
    /// With --lab: which of the file's hosts this machine is.
    #[arg(long, requires = "lab", value_name = "NAME")]
    pub host: Option<String>,
    /// Write pcapng to FILE, or to stdout with `-` (flushed as frames come, for
    /// `| wireshark -k -i -`).
    #[arg(short = 'w', value_name = "FILE")]
    pub write: String,
    /// Capture only frames matching this tcpdump expression (`tcp port 179`, `ether proto
    /// 0x8809`, `vlan 100 and icmp`), compiled by libpcap and run in the kernel.
    #[arg(short = 'f', value_name = "FILTER")]
    pub filter: Option<String>,
    /// Keep at most this many bytes of each frame.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_SNAPLEN,
          value_parser = clap::value_parser!(u32).range(14..=262_144))]
    pub snaplen: u32,
    /// Stop after this many frames.
    #[arg(short = 'c', value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Stop condition: duration:SEC.
    #[arg(short = 'a', value_name = "duration:SEC")]
    pub autostop: Vec<String>,
    /// Ring buffer: filesize:KB (start a new file after KB kilobytes), duration:SEC (after SEC
    /// seconds, even with no traffic), files:N (keep the newest N). Files are named
    /// FILE_00001_YYYYmmddHHMMSS.ext.
    #[arg(short = 'b', value_name = "KEY:VALUE")]
    pub ring: Vec<String>,
    /// Do not put the interfaces into promiscuous mode.
    #[arg(short = 'p')]
    pub no_promiscuous: bool,
}

fn number(option: &str, item: &str, value: &str) -> anyhow::Result<u64> {
    value
        .parse()
        .map_err(|_| anyhow::anyhow!("{option} {item}: {value:?} is not a whole number"))
}

fn rotation(items: &[String]) -> anyhow::Result<Rotation> {
    let mut rotation = Rotation::default();
    for item in items {
        let Some((key, value)) = item.split_once(':') else {
            anyhow::bail!("-b {item}: expected filesize:KB, duration:SEC or files:N");
        };
        let n = number("-b", item, value)?;
        match key {
            "filesize" if n > 0 => rotation.bytes = Some(n * 1000),
            "duration" if n > 0 => rotation.every = Some(Duration::from_secs(n)),
            "files" if n > 0 => rotation.keep = Some(n as usize),
            "filesize" | "duration" | "files" => {
                anyhow::bail!("-b {item}: must be at least 1")
            }
            _ => anyhow::bail!("-b {item}: unknown; expected filesize:KB, duration:SEC or files:N"),
        }
    }
    if rotation.keep.is_some() && rotation.bytes.is_none() && rotation.every.is_none() {
        anyhow::bail!("-b files:N needs -b filesize:KB or -b duration:SEC to start new files");
    }
    Ok(rotation)
}

fn autostop(items: &[String]) -> anyhow::Result<Option<Duration>> {
    let mut duration = None;
    for item in items {
        match item.split_once(':') {
            Some(("duration", value)) => {
                let n = number("-a", item, value)?;
                if n == 0 {
                    anyhow::bail!("-a {item}: must be at least 1");
                }
                duration = Some(Duration::from_secs(n));
            }
            _ => anyhow::bail!("-a {item}: expected duration:SEC (or use -c COUNT)"),
        }
    }
    Ok(duration)
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let rotation = rotation(&args.ring)?;
    let duration = autostop(&args.autostop)?;
    let destination = match args.write.as_str() {
        "-" if rotation.is_ring() => anyhow::bail!("-w - (stdout) cannot rotate: -b needs a file"),
        "-" => Destination::Stdout,
        path => Destination::File(PathBuf::from(path)),
    };
    let home = cli.netns()?;
    let chosen = [!args.targets.is_empty(), args.wires, args.lab.is_some()];
    if chosen.iter().filter(|c| **c).count() != 1 {
        anyhow::bail!("give interfaces (IF or NETNS:IF), or --wires, or --lab FILE — one of them");
    }
    let targets = if args.wires {
        capture::wire_targets(&home)?
    } else if let Some(lab) = &args.lab {
        capture::lab_targets(lab, args.host.as_deref())?
    } else {
        capture::targets(&home, &args.targets)?
    };
    let to_stdout = destination == Destination::Stdout;
    let spec = Spec {
        targets,
        destination,
        rotation,
        filter: args.filter.clone(),
        snaplen: args.snaplen,
        count: args.count,
        duration,
        promiscuous: !args.no_promiscuous,
    };
    let labels: Vec<String> = spec.targets.iter().map(|t| t.label.clone()).collect();
    let summary = capture::capture(&spec, || {
        eprintln!("capturing on {}", labels.join(", "));
    })?;
    report(cli.json, to_stdout, &summary)?;
    Ok(Exit::Ok)
}

/// The summary: on stderr (as dumpcap does; always there when the capture itself is on
/// stdout), or as JSON on stdout with -j.
fn report(json: bool, to_stdout: bool, summary: &Summary) -> anyhow::Result<()> {
    if json {
        let text = serde_json::to_string_pretty(summary)?;
        match to_stdout {
            true => eprintln!("{text}"),
            false => println!("{text}"),
        }
        return Ok(());
    }
    let total: u64 = summary.interfaces.iter().map(|i| i.captured).sum();
    let files = match summary.files.as_slice() {
        [] => "stdout".to_string(),
        [one] => one.display().to_string(),
        many => format!(
            "{} files, {} .. {}",
            many.len(),
            many[0].display(),
            many[many.len() - 1].display()
        ),
    };
    eprintln!(
        "captured {total} frames from {} interfaces into {files} (stopped by {})",
        summary.interfaces.len(),
        summary.stopped_by
    );
    for i in &summary.interfaces {
        eprintln!(
            "  {}: {} captured, {} received, {} dropped",
            i.name, i.captured, i.received, i.dropped
        );
    }
    Ok(())
}

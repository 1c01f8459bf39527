//! `patchwire capture`.

use std::path::PathBuf;
use std::time::Duration;

use patchwire::capture::output::{Destination, Rotation};
use patchwire::capture::ring::DEFAULT_BUFFER_MIB;
use patchwire::capture::writer::Limits;
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
/// Blocks) and are printed on stderr: received = captured + dropped (the kernel buffer was
/// full: raise -B) + not written (arrived before every interface was capturing, after the stop
/// or the count). All interfaces start together, and at a stop every frame that reached any of
/// them before it is written. A captured interface that is deleted (or moved to another
/// namespace) ends the capture with an error, as tcpdump does: the file is closed complete
/// and the exit status is 1. Options follow dumpcap where they do not clash with
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
    /// Stop after this many frames (the same as -a packets:N).
    #[arg(short = 'c', value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Stop condition (repeatable; the first met stops): duration:SEC (fractions allowed:
    /// 1.5), filesize:KB (the file reaches KB kilobytes of 1000 bytes; with -b it starts the
    /// next file instead, as in dumpcap), files:N (with -b: stop instead of starting file N+1),
    /// packets:N (as -c).
    #[arg(short = 'a', value_name = "KEY:VALUE")]
    pub autostop: Vec<String>,
    /// Ring buffer (repeatable): filesize:KB (start a new file after KB kilobytes),
    /// duration:SEC (after SEC seconds, even with no traffic; fractions allowed),
    /// interval:SEC (when the clock reaches a multiple of SEC: 3600 starts files on the hour),
    /// packets:N (after N frames), files:N (keep the newest N). Files are named
    /// FILE_00001_YYYYmmddHHMMSS.ext.
    #[arg(short = 'b', value_name = "KEY:VALUE")]
    pub ring: Vec<String>,
    /// Kernel buffer (ring) per interface, in MiB (dumpcap's -B). Frames wait there until
    /// patchwire writes them; when it is full the kernel drops them (counted as dropped). It
    /// costs this much memory per interface: a lab capture of 125 ports takes 1 GB at the
    /// default; -B 1 takes 125 MiB.
    #[arg(short = 'B', value_name = "MiB", default_value_t = DEFAULT_BUFFER_MIB,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub buffer: u32,
    /// Do not put the interfaces into promiscuous mode.
    #[arg(short = 'p')]
    pub no_promiscuous: bool,
}

fn number(option: &str, item: &str, value: &str) -> anyhow::Result<u64> {
    match value.parse::<u64>() {
        Ok(0) => anyhow::bail!("{option} {item}: must be at least 1"),
        Ok(n) => Ok(n),
        Err(_) => anyhow::bail!("{option} {item}: {value:?} is not a whole number"),
    }
}

/// Seconds, fractions allowed (`1.5`, `0.25`), from 1 ms to about 30 years.
fn seconds(option: &str, item: &str, value: &str) -> anyhow::Result<Duration> {
    let secs: f64 = value
        .parse()
        .map_err(|_| anyhow::anyhow!("{option} {item}: {value:?} is not a number of seconds"))?;
    if !(0.001..=1e9).contains(&secs) {
        anyhow::bail!("{option} {item}: must be between 0.001 and 1000000000 seconds");
    }
    Ok(Duration::from_secs_f64(secs))
}

const RING_KEYS: &str = "filesize:KB, duration:SEC, interval:SEC, packets:N or files:N";
const STOP_KEYS: &str = "duration:SEC, filesize:KB, files:N or packets:N";

fn rotation(items: &[String]) -> anyhow::Result<Rotation> {
    let mut rotation = Rotation::default();
    for item in items {
        let Some((key, value)) = item.split_once(':') else {
            anyhow::bail!("-b {item}: expected {RING_KEYS}");
        };
        match key {
            "filesize" => rotation.bytes = Some(number("-b", item, value)? * 1000),
            "duration" => rotation.every = Some(seconds("-b", item, value)?),
            "interval" => rotation.interval = Some(seconds("-b", item, value)?),
            "packets" => rotation.packets = Some(number("-b", item, value)?),
            "files" => rotation.keep = Some(number("-b", item, value)? as usize),
            _ => anyhow::bail!("-b {item}: unknown; expected {RING_KEYS}"),
        }
    }
    if rotation.keep.is_some()
        && rotation.bytes.is_none()
        && rotation.every.is_none()
        && rotation.interval.is_none()
        && rotation.packets.is_none()
    {
        anyhow::bail!(
            "-b files:N needs -b filesize:KB, duration:SEC, interval:SEC or packets:N to start new files"
        );
    }
    Ok(rotation)
}

/// The -a conditions: (duration, packets, filesize in bytes, files).
type Autostop = (Option<Duration>, Option<u64>, Option<u64>, Option<usize>);

fn autostop(items: &[String]) -> anyhow::Result<Autostop> {
    let (mut duration, mut packets, mut filesize, mut files) = (None, None, None, None);
    for item in items {
        let Some((key, value)) = item.split_once(':') else {
            anyhow::bail!("-a {item}: expected {STOP_KEYS}");
        };
        match key {
            "duration" => duration = Some(seconds("-a", item, value)?),
            "packets" => packets = Some(number("-a", item, value)?),
            "filesize" => filesize = Some(number("-a", item, value)? * 1000),
            "files" => files = Some(number("-a", item, value)? as usize),
            _ => anyhow::bail!("-a {item}: unknown; expected {STOP_KEYS}"),
        }
    }
    Ok((duration, packets, filesize, files))
}

/// What the options ask for, checked: the ring, the stop conditions, the destination.
struct Options {
    rotation: Rotation,
    limits: Limits,
    duration: Option<Duration>,
    count: Option<u64>,
    destination: Destination,
}

/// A mistake in the options is a usage error, exit 2, as clap's own (`-B 0`) and every other
/// command's: said in clap's form with capture's usage, or as `{"error": …}` with -j.
fn usage(cli: &Cli, message: &str) -> ! {
    use clap::CommandFactory;
    if cli.json {
        println!("{}", serde_json::json!({ "error": message }));
        std::process::exit(2);
    }
    let mut command = Cli::command();
    let mut capture = command
        .find_subcommand_mut("capture")
        .expect("capture is a subcommand")
        .clone()
        .bin_name("patchwire capture");
    capture
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

fn options(args: &Args) -> anyhow::Result<Options> {
    let mut rotation = rotation(&args.ring)?;
    let (duration, packets, filesize, files) = autostop(&args.autostop)?;
    let mut limits = Limits::default();
    match filesize {
        // With a ring, dumpcap's -a filesize starts the next file (the smaller size wins).
        Some(bytes) if rotation.is_ring() => {
            rotation.bytes = Some(rotation.bytes.map_or(bytes, |b| b.min(bytes)));
        }
        bytes => limits.file_bytes = bytes,
    }
    if files.is_some() && !rotation.is_ring() {
        anyhow::bail!("-a files:N needs -b (a ring of files); without it there is one file");
    }
    limits.files = files;
    let count = match (args.count, packets) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let destination = match args.write.as_str() {
        "-" if rotation.is_ring() => anyhow::bail!("-w - (stdout) cannot rotate: -b needs a file"),
        "-" => Destination::Stdout,
        path => Destination::File(PathBuf::from(path)),
    };
    let chosen = [!args.targets.is_empty(), args.wires, args.lab.is_some()];
    if chosen.iter().filter(|c| **c).count() != 1 {
        anyhow::bail!("give interfaces (IF or NETNS:IF), or --wires, or --lab FILE — one of them");
    }
    Ok(Options {
        rotation,
        limits,
        duration,
        count,
        destination,
    })
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let Options {
        rotation,
        limits,
        duration,
        count,
        destination,
    } = options(args).unwrap_or_else(|e| usage(cli, &e.to_string()));
    if args.lab.is_some() {
        super::lab::refuse_netns(cli, "capture --lab");
    }
    let home = cli.netns()?;
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
        count,
        duration,
        limits,
        buffer_mib: args.buffer,
        promiscuous: !args.no_promiscuous,
    };
    let labels: Vec<String> = spec.targets.iter().map(|t| t.label.clone()).collect();
    let summary = capture::capture(&spec, || {
        eprintln!("capturing on {}", labels.join(", "));
    })?;
    // As tcpdump does ("The interface disappeared"): a capture that cannot see one of its
    // interfaces any more is over, with an error; it never re-attaches to a new interface of
    // the same name (that would splice two devices into one interface of the file).
    let error = summary.gone.as_ref().map(|gone| {
        format!(
            "capture stopped: {gone} is gone (deleted, or moved to another namespace); every \
             frame captured until then is in the file, which is complete"
        )
    });
    report(cli.json, to_stdout, &summary, error.as_deref())?;
    if let Some(error) = error {
        if !cli.json {
            eprintln!("patchwire: {error}");
        }
        return Ok(Exit::Error);
    }
    Ok(Exit::Ok)
}

/// The summary: on stderr (as dumpcap does; always there when the capture itself is on
/// stdout), or as JSON on stdout with -j, with an `error` key (as every JSON error has) when
/// the capture ended with one.
fn report(
    json: bool,
    to_stdout: bool,
    summary: &Summary,
    error: Option<&str>,
) -> anyhow::Result<()> {
    if json {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<&'a str>,
            #[serde(flatten)]
            summary: &'a Summary,
        }
        let text = serde_json::to_string_pretty(&Report { error, summary })?;
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
    let count = summary.interfaces.len();
    eprintln!(
        "captured {total} frame{} from {count} interface{} into {files} (stopped by {})",
        if total == 1 { "" } else { "s" },
        if count == 1 { "" } else { "s" },
        summary.stopped_by
    );
    for i in &summary.interfaces {
        // received = captured + dropped + not written: say what the difference is.
        let outside = match i.not_written {
            0 => String::new(),
            n => format!(
                ", {n} not written (they arrived outside the capture: before every interface \
                 was capturing, after the stop or the count)"
            ),
        };
        eprintln!(
            "  {}: {} captured, {} received, {} dropped{outside}",
            i.name, i.captured, i.received, i.dropped
        );
    }
    Ok(())
}

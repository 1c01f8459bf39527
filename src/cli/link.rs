//! `patchwire link A B` / `link --batch FILE`.

use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::Context;
use patchwire::mirror;
use patchwire::wire::{self, Datapath, Fault, LinkOptions, WireRequest};

use super::{Cli, Exit, print_json};

/// Wire two interfaces together (both directions), or many with --batch.
///
/// Idempotent: linking an existing wire again changes nothing. Refuses ends that are already
/// wired elsewhere, missing, loopback, in another namespace, or a wire that would close a loop.
/// All or nothing: if any change fails, everything this call did is undone. A mirror of both
/// ends (`--direction both`) then copies each frame once, where it enters: the `out` copies
/// the new wire makes redundant are removed.
#[derive(clap::Args)]
#[command(override_usage = "patchwire link [OPTIONS] (A B | --batch FILE)")]
pub struct Args {
    /// First end (an interface of the namespace; NETNS:IF is accepted when NETNS is the same one).
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    pub a: Option<String>,
    /// Second end.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    pub b: Option<String>,
    /// Read wires from FILE, one "A B" per line (# comments allowed); "-" reads standard input.
    #[arg(long, value_name = "FILE")]
    pub batch: Option<String>,
    /// Set both ends to this MTU.
    #[arg(long, value_name = "BYTES")]
    pub mtu: Option<u32>,
    /// Make the wire even if it closes a loop (frames would circulate forever unless, e.g., STP breaks the ring).
    #[arg(long)]
    pub allow_loop: bool,
    /// Turn TX checksum offload of both ends on or off. "off" makes the kernel finish checksums
    /// of packets leaving through the ends: router images that drop packets with unfinished
    /// (CHECKSUM_PARTIAL) checksums then accept them.
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    pub tx_checksum: Option<bool>,
    /// How the wire moves frames: tc (u32 match-all + mirred redirect, the default) or ebpf (a
    /// cls_bpf program calling bpf_redirect, counting in a per-CPU map; bpf_redirect_peer into a
    /// veth end's peer while that end has no root qdisc or egress filter of its own — run link
    /// again after adding or removing one). Linking an existing wire with the other datapath
    /// converts it.
    #[arg(long, value_enum, default_value_t = Datapath::Tc)]
    pub datapath: Datapath,
    /// Wait up to SECONDS (at most 3600) for ends that do not exist yet (containers still starting).
    #[arg(long, value_name = "SECONDS", value_parser = parse_wait)]
    pub wait: Option<Duration>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let requests = match (&args.batch, &args.a, &args.b) {
        (Some(path), _, _) => {
            wire::parse_batch(&read_batch(path)?).with_context(|| batch_name(path))?
        }
        (None, Some(a), Some(b)) => vec![WireRequest::new(a, b)],
        _ => anyhow::bail!("give two interfaces, or --batch FILE"),
    };
    let options = LinkOptions {
        mtu: args.mtu,
        allow_loop: args.allow_loop,
        wait: args.wait,
        tx_checksum: args.tx_checksum,
        datapath: args.datapath,
        // Testing hook: fail the Nth kernel change on purpose to exercise rollback.
        fault: std::env::var("PATCHWIRE_FAULT_AT")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(|at_op| Fault { at_op }),
        keep_ipv6: Vec::new(),
    };
    let started = Instant::now();
    let netns = cli.netns()?;
    let copy = netns.try_clone()?.with_label(netns.label());
    let outcome = wire::link(netns, &requests, &options)?;
    let elapsed = started.elapsed();
    // A new wire between two sources of a mirror (`--direction both`) makes their `out` copies
    // redundant (each frame was copied where it entered): removed, so no frame reaches the
    // destination twice. Reported, not undone, when it fails.
    let mut mirrors_repaired = Vec::new();
    if !outcome.created.is_empty() {
        let report = mirror::restore_coverage(&copy).map_err(|e| {
            anyhow::anyhow!(
                "the wires are made, but checking the mirrors' copies failed: {e} \
                 (patchwire watch --once retries)"
            )
        })?;
        if let Some((mirror, error)) = report.failed.into_iter().next() {
            anyhow::bail!(
                "the wires are made, but fitting mirror {mirror}'s copies to them failed: {error} \
                 (patchwire watch --once retries)"
            );
        }
        mirrors_repaired = report
            .repaired
            .into_iter()
            .map(|(mirror, what)| super::unlink::MirrorNote { mirror, what })
            .collect();
    }
    if cli.json {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            #[serde(flatten)]
            outcome: &'a wire::LinkOutcome,
            /// Mirrors whose `out` copies the new wires made redundant, and what was done.
            mirrors_repaired: Vec<super::unlink::MirrorNote>,
        }
        print_json(&Report {
            outcome: &outcome,
            mirrors_repaired,
        })?;
        return Ok(Exit::Ok);
    }
    // A big batch of unattached taps would print thousands of lines: show the first few.
    const SHOWN: usize = 10;
    for warning in outcome.warnings.iter().take(SHOWN) {
        eprintln!("warning: {warning}");
    }
    if outcome.warnings.len() > SHOWN {
        eprintln!(
            "warning: … and {} more (see patchwire show)",
            outcome.warnings.len() - SHOWN
        );
    }
    for change in &outcome.paths {
        println!(
            "{} -> {}: now the {} path ({})",
            change.from, change.to, change.path, change.because
        );
    }
    if requests.len() == 1 {
        let (verb, [a, b]) = outcome.single();
        println!("{verb}: {a} <-> {b}");
    } else {
        println!(
            "wired {} new, {} updated, {} already present ({} kernel changes in {:.3} s)",
            outcome.created.len(),
            outcome.updated.len(),
            outcome.unchanged.len(),
            outcome.changes,
            elapsed.as_secs_f64()
        );
    }
    for note in &mirrors_repaired {
        println!("mirror {}: {}", note.mirror, note.what);
    }
    Ok(Exit::Ok)
}

pub fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{text:?}: expected on or off")),
    }
}

pub fn batch_name(path: &str) -> String {
    if path == "-" {
        "batch from standard input".into()
    } else {
        format!("batch file {path}")
    }
}

/// A number of seconds, 0 to 3600 (an hour is already far longer than any container start).
fn parse_wait(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.0..=3600.0).contains(&seconds) {
        return Err(format!("{text} is outside 0..=3600 seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

pub fn read_batch(path: &str) -> anyhow::Result<String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading wires from standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading batch file {path}"))
    }
}

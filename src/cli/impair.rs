//! `patchwire impair ENDPOINT …`, `impair show`, `cut ENDPOINT`, `mend ENDPOINT`.

use std::path::PathBuf;

use patchwire::impair::{self, Distribution, Impairment, Loss, units};
use patchwire::netns::Netns;
use serde::Serialize;

use super::{Cli, Exit, print_json};

/// Impair the frames an endpoint sends: loss, bursts, corruption, duplication, delay, rate.
///
/// Acts on the frames ENDPOINT's node sends out of that interface (as containerlab's `tools
/// netem` acts on an interface's egress); `--both` impairs the other direction the same way.
/// For a plain wire, ENDPOINT is a wire end (the frames arriving at it from its node, on
/// their way to the other end); with `--lab FILE` it is NODE:IF, and the impairment lives on
/// the lab's panel port for it — invisible to the node, whatever its kind.
///
/// Each call sets what it names and keeps the rest (`--loss 5%` leaves a delay as it was; a
/// zero removes one item: `--loss 0`, `--rate 0`); `--clear` removes everything. Changes are
/// made in place: no port is recreated, no carrier blips, no frame is lost that the
/// impairment did not drop.
///
/// Loss, corruption and duplication run in an eBPF program on the port (any kernel); the
/// rate is a tbf on the port the frames leave by; delay, jitter and reordering need netem
/// (`sch_netem`; `patchwire doctor` says whether the kernel has it) and are refused where it
/// is missing. A GSO/TSO super-packet counts as one frame for the program (as for netem):
/// turn segmentation offloads off on the node's interface to impair per wire frame.
///
/// Units: times 50ms, 1.5ms, 200us, 1s; percentages 10%, 1.5%; rates 10mbit, 1gbit, 100kbit
/// (bit/s; 1mbps is bytes/s); sizes 32kbit, 64kb, 1500b.
#[derive(clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    override_usage = "patchwire impair [OPTIONS] ENDPOINT [--loss P] [--delay T] ... | --clear\n       \
                      patchwire impair show [--lab FILE]",
    after_help = "Examples:\n  patchwire -n lab1 impair eth1 --loss 10% --delay 50ms --jitter 5ms\n  \
patchwire impair --lab lab.yaml r1:eth1 --loss-burst 1%/20% --both\n  \
patchwire impair --lab lab.yaml r1:eth1 --rate 10mbit --burst 32kbit\n  \
patchwire impair --lab lab.yaml r1:eth1 --loss 0\n  patchwire impair show --lab lab.yaml -j\n  \
patchwire cut --lab lab.yaml r1:eth1\n  patchwire mend --lab lab.yaml r1:eth1"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<ImpairCommand>,
    /// The wire end (or NODE:IF with --lab) whose sent frames are impaired.
    #[arg(required = true, value_hint = clap::ValueHint::Other)]
    pub endpoint: Option<String>,
    /// A running lab's file: ENDPOINT is NODE:IF, the impairment is on its panel port.
    #[arg(long, value_name = "FILE")]
    pub lab: Option<PathBuf>,
    /// Delay every frame (netem).
    #[arg(long, value_name = "TIME", value_parser = units::parse_duration)]
    pub delay: Option<u64>,
    /// Vary the delay by up to this much (netem; needs --delay).
    #[arg(long, value_name = "TIME", value_parser = units::parse_duration)]
    pub jitter: Option<u64>,
    /// The jitter's distribution: uniform (default), normal, pareto.
    #[arg(long, value_name = "DIST", value_parser = Distribution::parse)]
    pub distribution: Option<Distribution>,
    /// Lose this share of frames, independently (0 removes loss).
    #[arg(long, value_name = "PERCENT", value_parser = units::parse_percent, conflicts_with = "loss_burst")]
    pub loss: Option<f64>,
    /// Lose frames in bursts, netem's `loss gemodel`: P[/R[/1-H[/1-K]]] in percent — P good to
    /// bad, R bad to good (default 100%-P), 1-H loss in the bad state (default 100%), 1-K loss
    /// in the good state (default 0%). Mean burst length 1/R frames: 1%/20% loses bursts of 5.
    #[arg(long, value_name = "P/R[/1-H[/1-K]]", value_parser = Loss::parse_gemodel)]
    pub loss_burst: Option<Loss>,
    /// Flip one random bit in this share of frames.
    #[arg(long, value_name = "PERCENT", value_parser = units::parse_percent)]
    pub corrupt: Option<f64>,
    /// Send this share of frames twice.
    #[arg(long, value_name = "PERCENT", value_parser = units::parse_percent)]
    pub duplicate: Option<f64>,
    /// Send this share of frames at once, ahead of the delayed ones (netem; needs --delay).
    #[arg(long, value_name = "PERCENT", value_parser = units::parse_percent)]
    pub reorder: Option<f64>,
    /// Limit the rate (tbf; 0 removes it).
    #[arg(long, value_name = "RATE", value_parser = units::parse_rate_or_zero)]
    pub rate: Option<u64>,
    /// The rate's bucket: how much may leave at line speed (default 10 ms at the rate, at
    /// least 16 KiB; at least one full frame).
    #[arg(long, value_name = "SIZE", value_parser = units::parse_size)]
    pub burst: Option<u32>,
    /// Impair both directions of the cable the same way.
    #[arg(long)]
    pub both: bool,
    /// Remove every impairment of the direction(s).
    #[arg(long, conflicts_with_all = ["delay", "jitter", "distribution", "loss", "loss_burst", "corrupt", "duplicate", "reorder", "rate", "burst"])]
    pub clear: bool,
}

#[derive(clap::Subcommand)]
pub enum ImpairCommand {
    /// What is set per port and direction, with the kernel's counters: frames the program
    /// saw, dropped, corrupted, duplicated; the tbf/netem qdiscs' sent, dropped, overlimits.
    Show(ShowArgs),
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// A running lab's file: show its panel's impairments.
    #[arg(long, value_name = "FILE")]
    pub lab: Option<PathBuf>,
}

/// Pull the cable ENDPOINT is on: both nodes see NO-CARRIER until `mend`.
///
/// Both ports of the wire go down (a hub member's port alone), marked in the kernel as cut:
/// `watch` leaves them down until `mend`; a lab's `up` puts back the file's state (the file is
/// the truth: `state: down` pulls a cable there).
#[derive(clap::Args)]
pub struct CableArgs {
    /// The wire end (or NODE:IF with --lab).
    #[arg(value_hint = clap::ValueHint::Other)]
    pub endpoint: String,
    /// A running lab's file: ENDPOINT is NODE:IF.
    #[arg(long, value_name = "FILE")]
    pub lab: Option<PathBuf>,
}

/// Where the command acts: the namespace and the port, and what to call it in messages.
fn target(cli: &Cli, lab: Option<&PathBuf>, endpoint: &str) -> anyhow::Result<(Netns, String)> {
    match lab {
        Some(file) => {
            if cli.netns.is_some() {
                anyhow::bail!("--lab names the lab's namespaces itself: leave out -n");
            }
            let found = patchwire::lab::ports::panel_port(file, endpoint)?;
            Ok((found.netns, found.port))
        }
        None => Ok((cli.netns()?, endpoint.to_string())),
    }
}

#[derive(Serialize)]
struct Outcome {
    directions: Vec<impair::Applied>,
    cleared: Vec<String>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    if let Some(ImpairCommand::Show(show_args)) = &args.command {
        return show(cli, show_args);
    }
    let endpoint = args.endpoint.as_deref().expect("required by clap");
    let (netns, port) = target(cli, args.lab.as_ref(), endpoint)?;
    let mut ports = vec![port.clone()];
    if args.both {
        match impair::wire_partner(&netns, &port)? {
            Some(partner) => ports.push(partner),
            None => anyhow::bail!(
                "--both: {port} is a hub member, whose frames go to several ports; impair each member"
            ),
        }
    }
    let change = Impairment {
        loss: args
            .loss
            .map(|percent| Loss::Random { percent })
            .or(args.loss_burst),
        corrupt: args.corrupt,
        duplicate: args.duplicate,
        delay_ns: args.delay,
        jitter_ns: args.jitter,
        distribution: args.distribution,
        reorder: args.reorder,
        rate_bps: args.rate,
        burst_bytes: args.burst,
    };
    let mut outcome = Outcome {
        directions: Vec::new(),
        cleared: Vec::new(),
    };
    if args.clear {
        for port in &ports {
            if impair::clear(&netns, port)? {
                outcome.cleared.push(port.clone());
            }
        }
    } else {
        // Every direction planned (and checked) before any is changed.
        let mut wanted = Vec::new();
        for port in &ports {
            let current = impair::read(&netns, port)?
                .map(|d| d.impairment)
                .unwrap_or_default();
            let want = current.merged(&change);
            want.check()
                .map_err(|e| anyhow::anyhow!("impairing {port}: {e}"))?;
            wanted.push((port, want));
        }
        for (port, want) in wanted {
            outcome.directions.push(impair::set(&netns, port, &want)?);
        }
    }
    if cli.json {
        print_json(&outcome)?;
        return Ok(Exit::Ok);
    }
    for port in &ports {
        if args.clear {
            match outcome.cleared.contains(port) {
                true => println!("{port}: impairments removed"),
                false => println!("{port}: nothing was impaired"),
            }
        }
    }
    for applied in &outcome.directions {
        let d = &applied.direction;
        let what = match applied.changes.is_empty() {
            true => " (unchanged)",
            false => "",
        };
        match d.to.is_empty() {
            true => println!("{} (hub member): {}{what}", d.port, d.summary),
            false => println!("{} -> {}: {}{what}", d.port, d.to, d.summary),
        }
    }
    Ok(Exit::Ok)
}

fn show(cli: &Cli, args: &ShowArgs) -> anyhow::Result<Exit> {
    let netns = match &args.lab {
        Some(file) => {
            if cli.netns.is_some() {
                anyhow::bail!("--lab names the lab's namespaces itself: leave out -n");
            }
            patchwire::lab::ports::panel_of(file)?
        }
        None => cli.netns()?,
    };
    let directions = impair::show(&netns)?;
    let cut = impair::cable::cut_ports(&netns)?;
    if cli.json {
        #[derive(Serialize)]
        struct Report<'a> {
            directions: &'a [impair::Direction],
            cut: &'a [String],
        }
        print_json(&Report {
            directions: &directions,
            cut: &cut,
        })?;
        return Ok(Exit::Ok);
    }
    if directions.is_empty() {
        println!("no impairments in {}", netns.describe());
    }
    for d in &directions {
        let to = match d.to.is_empty() {
            true => " (hub member)".to_string(),
            false => format!(" -> {}", d.to),
        };
        println!("{}{to}: {}", d.port, d.summary);
        let c = &d.counters;
        println!(
            "  program: {} frames, {} dropped, {} corrupted, {} duplicated",
            c.frames, c.dropped, c.corrupted, c.duplicated
        );
        for q in &d.qdiscs {
            println!(
                "  {} on {}: {} sent, {} dropped, {} overlimits, {} queued",
                q.kind, d.to, q.packets, q.drops, q.overlimits, q.qlen
            );
        }
    }
    for port in &cut {
        println!("{port}: cable cut (patchwire mend {port} puts it back)");
    }
    Ok(Exit::Ok)
}

pub fn cut(cli: &Cli, args: &CableArgs) -> anyhow::Result<Exit> {
    let (netns, port) = target(cli, args.lab.as_ref(), &args.endpoint)?;
    let change = impair::cable::cut(&netns, &port)?;
    report_cable(
        cli,
        &change,
        "cut: down, the nodes behind them see NO-CARRIER",
        "already cut",
    )
}

pub fn mend(cli: &Cli, args: &CableArgs) -> anyhow::Result<Exit> {
    let (netns, port) = target(cli, args.lab.as_ref(), &args.endpoint)?;
    let change = impair::cable::mend(&netns, &port)?;
    report_cable(cli, &change, "mended: up again", "not cut")
}

fn report_cable(
    cli: &Cli,
    change: &impair::cable::CableChange,
    done: &str,
    nothing: &str,
) -> anyhow::Result<Exit> {
    if cli.json {
        print_json(change)?;
        return Ok(Exit::Ok);
    }
    match change.changed.is_empty() {
        true => println!("{}: {nothing}", change.ports.join(", ")),
        false => println!("{}: {done}", change.changed.join(", ")),
    }
    Ok(Exit::Ok)
}

//! `patchwire impair ENDPOINT …`, `impair show`, `cut ENDPOINT`, `mend ENDPOINT`.

use std::collections::BTreeMap;
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
/// zero removes one item: `--loss 0`, `--rate 0`); `--clear` removes everything, as does a
/// change that leaves nothing set. Naming nothing is a usage error. Changes are made in place:
/// no port is recreated, no carrier blips, no frame is lost that the impairment did not drop.
///
/// Loss, corruption and duplication run in an eBPF program on the port (any kernel); the
/// rate is a tbf on the port the frames leave by; delay, jitter and reordering need netem
/// (`sch_netem`; `patchwire doctor` says whether the kernel has it) and are refused where it
/// is missing. A GSO/TSO super-packet counts as one frame for the program (as for netem):
/// turn segmentation offloads off on the node's interface to impair per wire frame.
///
/// Units: times 50ms, 1.5ms, 200us, 1s; percentages 10%, 1.5%, down to 0.0001% (one frame in
/// a million; finer digits are rounded to it); rates 10mbit, 1gbit, 100kbit (bit/s; 1mbps is
/// bytes/s); sizes 32kbit, 64kb, 1500b. A number may carry an exponent (1e9, 2.5e-3s), as in
/// a lab file.
///
/// Calls on one namespace take turns (a lock under /run/patchwire): two at once both land.
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
    /// The jitter's distribution: uniform (default), normal, pareto (needs --jitter).
    #[arg(long, value_name = "DIST", value_parser = Distribution::parse)]
    pub distribution: Option<Distribution>,
    /// Lose this share of frames, independently (0 removes loss).
    #[arg(long, value_name = "PERCENT", value_parser = units::parse_percent, conflicts_with = "loss_burst")]
    pub loss: Option<f64>,
    /// Lose frames in bursts, netem's `loss gemodel`: P[/R[/1-H[/1-K]]] in percent — P good to
    /// bad, R bad to good (default 100%-P), 1-H loss in the bad state (default 100%), 1-K loss
    /// in the good state (default 0%). Mean burst length 1/R frames: 1%/20% loses bursts of 5.
    /// Leave out trailing fields rather than leaving them empty (1%//50% is refused).
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
    /// least 16 KiB and at least one full frame of the port; one given must hold a full frame).
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

/// Put back the cable `cut` pulled: the nodes on it get carrier again.
///
/// The ports of the cable ENDPOINT is on that `cut` took down come up again with their own
/// alias back (a port down for another reason stays as it is; a cable that is not cut is left
/// alone). A lab's `up` pulls again a cable its file marks `state: down`.
#[derive(clap::Args)]
pub struct MendArgs {
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

/// How ports are named to the user: a lab's panel ports as the endpoints they stand for
/// (`r1:eth1`, from their `patchwire.port.NODE.IF` altname), a plain wire's by their names.
#[derive(Default)]
struct Names(BTreeMap<String, String>);

impl Names {
    /// The endpoints of a lab's panel ports (`lab`: the lab's file was given).
    fn of(netns: &Netns, lab: bool) -> anyhow::Result<Names> {
        if !lab {
            return Ok(Names::default());
        }
        let mut socket = netns.route()?;
        let links = patchwire::nl::link::list(&mut socket)
            .map_err(|e| anyhow::anyhow!("listing the ports of {}: {e}", netns.describe()))?;
        let mut names = BTreeMap::new();
        for link in &links {
            let endpoint = link.altnames.iter().find_map(|a| {
                let rest = a.strip_prefix(patchwire::marks::PORT_RECORD)?;
                let (node, interface) = rest.split_once('.')?;
                Some(format!("{node}:{interface}"))
            });
            if let Some(endpoint) = endpoint {
                names.insert(link.name.clone(), endpoint);
            }
        }
        Ok(Names(names))
    }

    fn endpoint(&self, port: &str) -> Option<String> {
        self.0.get(port).cloned()
    }

    /// The endpoint with --lab, else the port.
    fn call(&self, port: &str) -> String {
        self.endpoint(port).unwrap_or_else(|| port.to_string())
    }

    /// `text` with every panel port named by its endpoint (`impairing r1.eth1: …` →
    /// `impairing r1:eth1: …`): a port's name counts where it stands whole, not inside a
    /// longer name (`r1.eth1` is not replaced in `r1.eth10`). The text as it is without --lab.
    fn translate(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        // Longest first: `r1.eth10` before `r1.eth1`.
        let mut ports: Vec<(&String, &String)> = self.0.iter().collect();
        ports.sort_by_key(|(port, _)| std::cmp::Reverse(port.len()));
        let in_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@');
        // Whether a name ends before `after`: at the end, before a character that cannot be in
        // it, or before a full stop that ends a sentence (`… of r2.eth1.`).
        let ends_before = |after: &str| {
            let mut next = after.chars();
            match next.next() {
                None => true,
                Some('.') => !next.next().is_some_and(|c| c.is_ascii_alphanumeric()),
                Some(c) => !in_name(c),
            }
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut at_start = true;
        'scan: while let Some(c) = rest.chars().next() {
            if at_start {
                for (port, endpoint) in &ports {
                    if let Some(after) = rest.strip_prefix(port.as_str())
                        && ends_before(after)
                    {
                        out.push_str(endpoint);
                        rest = after;
                        at_start = false;
                        continue 'scan;
                    }
                }
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
            at_start = !in_name(c);
        }
        out
    }

    /// An error of a command with --lab, its panel ports named by their endpoints as the rest
    /// of the output is ([`Names::translate`]). A missing privilege stays as it is: main reads
    /// its cause to add the "needs root" hint.
    fn error(&self, error: anyhow::Error) -> anyhow::Error {
        if self.0.is_empty() || error.chain().any(patchwire::wire::is_permission_error) {
            return error;
        }
        // The message and its causes as main prints them.
        let mut message = error.to_string();
        for cause in error.chain().skip(1) {
            let text = cause.to_string();
            if !message.contains(&text) {
                message = format!("{message}: {text}");
            }
        }
        let translated = self.translate(&message);
        match translated == message {
            true => error,
            false => anyhow::anyhow!(translated),
        }
    }
}

/// A direction as printed with -j: with --lab, the endpoints its ports stand for too.
#[derive(Serialize)]
struct Named<'a> {
    #[serde(flatten)]
    direction: &'a impair::Direction,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_endpoint: Option<String>,
}

impl<'a> Named<'a> {
    fn new(direction: &'a impair::Direction, names: &Names) -> Named<'a> {
        Named {
            direction,
            endpoint: names.endpoint(&direction.port),
            to_endpoint: names.endpoint(&direction.to),
        }
    }

    /// `r1:eth1 -> r2:eth1` (`pa -> pb`; a hub member's port alone).
    fn heading(&self, names: &Names) -> String {
        let d = self.direction;
        match d.to.is_empty() {
            true => format!("{} (hub member)", names.call(&d.port)),
            false => format!("{} -> {}", names.call(&d.port), names.call(&d.to)),
        }
    }
}

#[derive(Serialize)]
struct AppliedNamed<'a> {
    direction: Named<'a>,
    changes: &'a [String],
}

#[derive(Serialize)]
struct Outcome<'a> {
    directions: Vec<AppliedNamed<'a>>,
    cleared: Vec<String>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    if let Some(ImpairCommand::Show(show_args)) = &args.command {
        return show(cli, show_args);
    }
    let endpoint = args.endpoint.as_deref().expect("required by clap");
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
    // Every option fills its own field: an empty change is a call that names none.
    if change.is_empty() && !args.clear {
        usage(cli, &nothing_named(cli, args, endpoint));
    }
    let (netns, port) = target(cli, args.lab.as_ref(), endpoint)?;
    let names = Names::of(&netns, args.lab.is_some())?;
    apply(cli, args, &netns, &port, &change, &names).map_err(|e| names.error(e))
}

/// The usage error of `impair ENDPOINT` with no impairment and no --clear: it would change
/// nothing, and naming nothing is no way to remove what is set.
fn nothing_named(cli: &Cli, args: &Args, endpoint: &str) -> String {
    let show = match (&args.lab, &cli.netns) {
        (Some(file), _) => format!("patchwire impair show --lab {}", file.display()),
        (None, Some(ns)) => format!("patchwire -n {ns} impair show"),
        (None, None) => "patchwire impair show".to_string(),
    };
    format!(
        "impair {endpoint}: no impairment given: name what to set (--loss, --loss-burst, \
         --corrupt, --duplicate, --delay, --jitter, --distribution, --reorder, --rate, --burst; \
         0 removes one) or --clear to remove them all; {show} lists what is set"
    )
}

/// A mistake in what was typed: exit 2 as clap's own usage errors, in clap's form with
/// impair's usage, or as `{"error": …}` with -j.
fn usage(cli: &Cli, message: &str) -> ! {
    use clap::CommandFactory;
    if cli.json {
        println!("{}", serde_json::json!({ "error": message }));
        std::process::exit(2);
    }
    let mut command = Cli::command();
    let mut impair = command
        .find_subcommand_mut("impair")
        .expect("impair is a subcommand")
        .clone()
        .bin_name("patchwire impair");
    impair
        .error(clap::error::ErrorKind::MissingRequiredArgument, message)
        .exit()
}

/// What `run` does to each direction: set to this impairment, or (`None`) remove it as
/// `--clear` does — a change that leaves nothing set is a removal, not an empty program.
type Step = Option<Impairment>;

/// Sets (or removes) the direction(s) of `port` under the namespace's lock and reports it.
fn apply(
    cli: &Cli,
    args: &Args,
    netns: &Netns,
    port: &str,
    change: &Impairment,
    names: &Names,
) -> anyhow::Result<Exit> {
    // Read, merge, set: one call at a time per namespace, or two at once lose one's change.
    let _lock = impair::lock(netns)?;
    let mut ports = vec![port.to_string()];
    if args.both {
        match impair::wire_partner(netns, port)? {
            Some(partner) => ports.push(partner),
            None => anyhow::bail!(
                "--both: {} is a hub member, whose frames go to several ports; impair each member",
                names.call(port)
            ),
        }
    }
    // Every direction checked (values, and what only the kernel tells: the exit's MTU
    // against the burst, a foreign qdisc) before any is changed; a kernel failure on a
    // later one puts the earlier ones back. Exit 1 means nothing changed.
    let mut wanted: Vec<Wanted> = Vec::new();
    for port in &ports {
        let current = impair::read(netns, port)?.map(|d| (d.impairment, d.set_by));
        let step: Step = match args.clear {
            true => None,
            false => {
                let want = current.unwrap_or_default().0.merged(change);
                match want.is_empty() {
                    true => None,
                    false => {
                        impair::check_set(netns, port, &want)?;
                        Some(want)
                    }
                }
            }
        };
        wanted.push((port, current, step));
    }
    let mut applied = Vec::new();
    let mut cleared = Vec::new();
    for (i, (port, _, step)) in wanted.iter().enumerate() {
        let done = match step {
            Some(want) => impair::set(netns, port, want).map(|done| applied.push(done)),
            None => impair::clear(netns, port).map(|removed| {
                if removed {
                    cleared.push(port.to_string());
                }
            }),
        };
        if let Err(e) = done {
            return Err(undo_directions(netns, &wanted[..i], e.into()));
        }
    }
    let outcome = Outcome {
        directions: applied
            .iter()
            .map(|a| AppliedNamed {
                direction: Named::new(&a.direction, names),
                changes: &a.changes,
            })
            .collect(),
        cleared: cleared.clone(),
    };
    if cli.json {
        print_json(&outcome)?;
        return Ok(Exit::Ok);
    }
    let mut set = outcome.directions.iter().zip(&applied);
    for (port, _, step) in &wanted {
        let name = names.call(port);
        let removed = cleared.contains(port);
        match (step, args.clear, removed) {
            (None, true, true) => println!("{name}: impairments removed"),
            (None, true, false) => println!("{name}: nothing was impaired"),
            (None, false, true) => {
                println!("{name}: nothing left set, impairments removed (as --clear does)")
            }
            (None, false, false) => println!("{name}: nothing was impaired (unchanged)"),
            (Some(_), _, _) => {
                let Some((named, done)) = set.next() else {
                    continue;
                };
                let what = match done.changes.is_empty() {
                    true => " (unchanged)",
                    false => "",
                };
                println!(
                    "{}: {}{what}",
                    named.direction.heading(names),
                    done.direction.summary
                );
            }
        }
    }
    Ok(Exit::Ok)
}

/// A direction `run` changes: its port, what was set and by whom (`None`: nothing), what is
/// wanted.
type Wanted<'a> = (&'a String, Option<(Impairment, impair::SetBy)>, Step);

/// `--both` failed on a later direction (`failure`): the directions set before it are put
/// back as they were (`None`: none was impaired).
fn undo_directions(netns: &Netns, done: &[Wanted<'_>], failure: anyhow::Error) -> anyhow::Error {
    for (port, was, _) in done {
        let undo = match was {
            Some((was, by)) => impair::set_as(netns, port, was, *by).map(|_| ()),
            None => impair::clear(netns, port).map(|_| ()),
        };
        if let Err(e) = undo {
            return anyhow::anyhow!("{failure}; putting {port} back as it was failed too: {e}");
        }
    }
    failure
}

/// A pulled cable as `impair show` reports it.
#[derive(Serialize)]
struct Cut {
    /// The port that is down.
    port: String,
    /// With --lab, the endpoint it stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    /// The lab's file marks this cable `state: down` (`up` keeps it pulled).
    from_file: bool,
    /// The command that puts it back (none when the file pulls it).
    #[serde(skip_serializing_if = "Option::is_none")]
    mend: Option<String>,
}

/// The endpoints of the links a lab's file marks `state: down` (none when it cannot be read:
/// the suggestion to mend stands then).
fn down_in_file(file: &std::path::Path) -> Vec<String> {
    match patchwire::lab::file::load(&file.to_string_lossy()) {
        Ok(lab) => lab
            .links
            .iter()
            .filter(|l| l.down)
            .flat_map(|l| l.endpoints.iter().map(|e| e.to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
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
    let cut_ports = impair::cable::cut_ports(&netns)?;
    let names = Names::of(&netns, args.lab.is_some())?;
    let named: Vec<Named> = directions.iter().map(|d| Named::new(d, &names)).collect();
    let file_down = args.lab.as_deref().map(down_in_file).unwrap_or_default();
    let cuts: Vec<Cut> = cut_ports
        .iter()
        .map(|port| {
            let endpoint = names.endpoint(port);
            let from_file = endpoint.as_ref().is_some_and(|e| file_down.contains(e));
            let mend = match (&args.lab, &cli.netns) {
                _ if from_file => None,
                (Some(file), _) => Some(format!(
                    "patchwire mend --lab {} {}",
                    file.display(),
                    endpoint.clone().unwrap_or_else(|| port.clone())
                )),
                (None, Some(ns)) => Some(format!("patchwire -n {ns} mend {port}")),
                (None, None) => Some(format!("patchwire mend {port}")),
            };
            Cut {
                port: port.clone(),
                endpoint,
                from_file,
                mend,
            }
        })
        .collect();
    if cli.json {
        #[derive(Serialize)]
        struct Report<'a> {
            directions: &'a [Named<'a>],
            /// The ports that are cut (names, as before).
            cut: &'a [String],
            /// The same, with how to put each back.
            cuts: &'a [Cut],
        }
        print_json(&Report {
            directions: &named,
            cut: &cut_ports,
            cuts: &cuts,
        })?;
        return Ok(Exit::Ok);
    }
    if directions.is_empty() {
        println!("no impairments in {}", netns.describe());
    }
    // In a lab, what a command set outside the file is marked (`-j`: `set_by`): `up` puts the
    // file's back. On a plain wire every impairment is a command's.
    let by_command = match &args.lab {
        Some(file) => format!(
            " (set by patchwire impair: patchwire up {} puts the file's back)",
            file.display()
        ),
        None => String::new(),
    };
    for n in &named {
        let d = n.direction;
        let by = match d.set_by {
            impair::SetBy::Command => by_command.as_str(),
            impair::SetBy::File => "",
        };
        println!("{}: {}{by}", n.heading(&names), d.summary);
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
    for cut in &cuts {
        let name = cut.endpoint.as_deref().unwrap_or(&cut.port);
        match (&cut.mend, &args.lab) {
            (Some(mend), _) => println!("{name}: cable cut ({mend} puts it back)"),
            (None, Some(file)) => {
                println!("{name}: cable cut (state: down in {})", file.display())
            }
            (None, None) => println!("{name}: cable cut"),
        }
    }
    Ok(Exit::Ok)
}

pub fn cut(cli: &Cli, args: &CableArgs) -> anyhow::Result<Exit> {
    let (netns, port) = target(cli, args.lab.as_ref(), &args.endpoint)?;
    let names = Names::of(&netns, args.lab.is_some())?;
    let _lock = impair::lock(&netns)?;
    let change = impair::cable::cut(&netns, &port).map_err(|e| names.error(e.into()))?;
    let done = match change.ports.len() {
        1 => "cut: down, the node behind it sees NO-CARRIER",
        _ => "cut: down, the nodes behind them see NO-CARRIER",
    };
    report_cable(cli, &change, &names, done, "already cut")
}

pub fn mend(cli: &Cli, args: &MendArgs) -> anyhow::Result<Exit> {
    let (netns, port) = target(cli, args.lab.as_ref(), &args.endpoint)?;
    let names = Names::of(&netns, args.lab.is_some())?;
    let _lock = impair::lock(&netns)?;
    let change = impair::cable::mend(&netns, &port).map_err(|e| names.error(e.into()))?;
    report_cable(cli, &change, &names, "mended: up again", "not cut")
}

fn report_cable(
    cli: &Cli,
    change: &impair::cable::CableChange,
    names: &Names,
    done: &str,
    nothing: &str,
) -> anyhow::Result<Exit> {
    let call = |ports: &[String]| -> Vec<String> { ports.iter().map(|p| names.call(p)).collect() };
    if cli.json {
        #[derive(Serialize)]
        struct Report<'a> {
            #[serde(flatten)]
            change: &'a impair::cable::CableChange,
            /// With --lab, the endpoints of `ports` and `changed`.
            #[serde(skip_serializing_if = "Option::is_none")]
            endpoints: Option<Vec<String>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            changed_endpoints: Option<Vec<String>>,
        }
        let lab = !names.0.is_empty();
        print_json(&Report {
            change,
            endpoints: lab.then(|| call(&change.ports)),
            changed_endpoints: lab.then(|| call(&change.changed)),
        })?;
        return Ok(Exit::Ok);
    }
    match change.changed.is_empty() {
        true => println!("{}: {nothing}", call(&change.ports).join(", ")),
        false => println!("{}: {done}", call(&change.changed).join(", ")),
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn translate_names_whole_ports_only() {
        let names = Names(
            [
                ("r1.eth1", "r1:eth1"),
                ("r1.eth10", "r1:eth10"),
                ("r2.eth1", "r2:eth1"),
            ]
            .into_iter()
            .map(|(p, e)| (p.to_string(), e.to_string()))
            .collect(),
        );
        assert_eq!(
            names.translate("impairing r1.eth1: a burst is less than one frame of r2.eth1."),
            "impairing r1:eth1: a burst is less than one frame of r2:eth1."
        );
        assert_eq!(
            names.translate("r1.eth10's wire, xr1.eth1, r1.eth1x, r1.eth1.5, (r2.eth1)"),
            "r1:eth10's wire, xr1.eth1, r1.eth1x, r1.eth1.5, (r2:eth1)"
        );
        assert_eq!(Names::default().translate("r1.eth1"), "r1.eth1");
    }
}

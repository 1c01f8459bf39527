//! `patchwire up | plan | down | graph FILE` and `show --lab FILE`: labs as files.

use patchwire::lab::{self, Change, GraphFormat, file};

use super::{Cli, Exit, print_json};

/// Make the kernel match a lab file: nodes' namespaces, ports, wires, hubs, VM taps, VXLAN
/// links to other hosts. Adds, removes and re-patches only what differs; a second `up`
/// changes nothing. Links that did not change keep their interfaces and pass frames
/// throughout.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  patchwire up lab.yaml\n  patchwire plan -j lab.yaml\n  \
patchwire show --lab lab.yaml -s\n  patchwire graph lab.yaml | dot -Tsvg > lab.svg\n  \
nsenter --net=/run/netns/hostA patchwire up lab.yaml --host a\n  patchwire down lab.yaml\n\n\
The file format is in docs/labs.md."
)]
pub struct UpArgs {
    /// The lab file (YAML).
    pub file: String,
    /// Which of the file's hosts this is (labs over several hosts: the same file runs on each).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// What `up` would change, changing nothing (`-j`: a JSON array, empty when the kernel matches
/// the file).
#[derive(clap::Args)]
pub struct PlanArgs {
    pub file: String,
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// Remove everything a lab made on this host (its namespaces with every port, wire, hub and
/// tunnel in them; its stubs in other namespaces) and nothing else. Works on a half-built lab;
/// twice is fine.
#[derive(clap::Args)]
pub struct DownArgs {
    pub file: String,
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// The lab as a picture: Graphviz DOT (default) or Mermaid, hubs as segments, links coloured
/// by their health in the kernel (red broken, orange degraded, grey not up).
#[derive(clap::Args)]
pub struct GraphArgs {
    pub file: String,
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

fn load(path: &str) -> anyhow::Result<file::LabFile> {
    Ok(file::load(path)?)
}

pub fn up(cli: &Cli, args: &UpArgs) -> anyhow::Result<Exit> {
    let lab_file = load(&args.file)?;
    let started = std::time::Instant::now();
    let outcome = lab::up(&lab_file, args.host.as_deref())?;
    if cli.json {
        print_json(&outcome)?;
        return Ok(Exit::Ok);
    }
    let at = args
        .host
        .as_deref()
        .map(|h| format!(" on host {h}"))
        .unwrap_or_default();
    if outcome.changes.is_empty() {
        println!("lab {}{at}: up to date, nothing changed", outcome.lab);
    } else {
        print_changes(&outcome.changes);
        println!(
            "lab {}{at}: {} change(s) in {:.2} s",
            outcome.lab,
            outcome.changes.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Exit::Ok)
}

pub fn plan(cli: &Cli, args: &PlanArgs) -> anyhow::Result<Exit> {
    let lab_file = load(&args.file)?;
    let changes = lab::plan(&lab_file, args.host.as_deref())?;
    if cli.json {
        print_json(&changes)?;
    } else if changes.is_empty() {
        let at = args
            .host
            .as_deref()
            .map(|h| format!(" on host {h}"))
            .unwrap_or_default();
        println!("lab {}{at}: the kernel matches the file", lab_file.name);
    } else {
        print_changes(&changes);
        println!(
            "{} change(s) to make (patchwire up {})",
            changes.len(),
            args.file
        );
    }
    Ok(Exit::Ok)
}

pub fn down(cli: &Cli, args: &DownArgs) -> anyhow::Result<Exit> {
    let lab_file = load(&args.file)?;
    let outcome = lab::down(&lab_file, args.host.as_deref())?;
    if cli.json {
        print_json(&outcome)?;
    } else if outcome.namespaces_removed.is_empty() && outcome.stubs_removed.is_empty() {
        println!("lab {}: nothing to remove", lab_file.name);
    } else {
        for name in &outcome.namespaces_removed {
            println!("removed netns {name}");
        }
        for stub in &outcome.stubs_removed {
            println!("removed stub {stub}");
        }
    }
    Ok(Exit::Ok)
}

pub fn graph(_cli: &Cli, args: &GraphArgs) -> anyhow::Result<Exit> {
    let lab_file = load(&args.file)?;
    print!(
        "{}",
        lab::graph(&lab_file, args.host.as_deref(), args.format)?
    );
    Ok(Exit::Ok)
}

/// `show --lab FILE`.
pub fn show(cli: &Cli, path: &str, host: Option<&str>) -> anyhow::Result<Exit> {
    let lab_file = load(path)?;
    let views = lab::show(&lab_file, host)?;
    if cli.json {
        print_json(&views)?;
        return Ok(Exit::Ok);
    }
    println!("{:<44}  {:<16}  HEALTH", "LINK", "KIND");
    for view in &views {
        println!(
            "{:<44}  {:<16}  {}",
            view.endpoints.join(" "),
            view.kind,
            view.health
        );
        if cli.stats {
            for (port, [packets, bytes, drops]) in &view.counters {
                println!(
                    "    {port}: {packets} packets, {} in, {drops} dropped",
                    super::human_bytes(*bytes)
                );
            }
        }
        for problem in &view.problems {
            println!("    ! {problem}");
        }
    }
    Ok(Exit::Ok)
}

fn print_changes(changes: &[Change]) {
    for change in changes {
        let text = match change {
            Change::CreateNamespace { netns, role } => format!("+ netns {netns} ({role})"),
            Change::RemakeNamespace { netns, why } => format!("~ netns {netns}: {why}"),
            Change::DeleteNamespace { netns } => format!("- netns {netns}"),
            Change::CreatePort {
                port,
                endpoint,
                via,
                mtu,
            } => format!("+ port {port} for {endpoint} ({via}, mtu {mtu})"),
            Change::DeletePort { port, was } => format!("- port {port} (was {was})"),
            Change::SetMtu {
                port,
                endpoint,
                mtu,
                was,
            } => format!("~ mtu of {endpoint} ({port}): {was} -> {mtu}"),
            Change::SetUp { port, endpoint } => format!("~ up: {endpoint} ({port})"),
            Change::DeleteStub {
                netns,
                stub,
                endpoint,
            } => format!("- stub {stub} for {endpoint} in netns {netns}"),
            Change::Unwire { a, b } if b.is_empty() => format!("- wire remains on {a}"),
            Change::Unwire { a, b } => format!("- wire {a} <-> {b}"),
            Change::Unhub { hub } => format!("- hub {hub}"),
            Change::Unmirror { mirror } => format!("- mirror {mirror}"),
            Change::Mirror {
                mirror,
                from,
                to,
                filter,
            } => {
                let filter = filter
                    .as_ref()
                    .map(|f| format!(" (filter {f:?})"))
                    .unwrap_or_default();
                format!("+ mirror {mirror}: {} -> {to}{filter}", from.join(", "))
            }
            Change::Wire {
                endpoints,
                datapath,
                ..
            } => format!("+ wire {} <-> {} ({datapath})", endpoints[0], endpoints[1]),
            Change::Hub { hub, endpoints, .. } => {
                format!("+ hub {hub}: {}", endpoints.join(", "))
            }
        };
        println!("{text}");
    }
}

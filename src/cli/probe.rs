//! `patchwire probe IF`.

use patchwire::hub;
use patchwire::mirror;
use patchwire::netns::Netns;
use patchwire::probe::{self, DirectionReport, Verdict};
use patchwire::wire;

use super::{Cli, Exit, print_json};

/// Check end to end that the wire (or hub) IF is on passes every kind of frame unchanged.
///
/// Sends LACP, STP, LLDP, PAUSE, 802.1X, other reserved-MAC, 802.1Q, QinQ, foreign unicast,
/// broadcast, IPv6 multicast, minimum-size and MTU-size frames into each end (from a veth end's
/// peer, or through an unattached tap) and compares what arrives at the other end byte for byte.
/// When IF is a hub port, every member sends in turn and every other member must receive each
/// frame exactly once, and the sender none back.
/// Exit status 3 if any frame was lost, altered or duplicated.
#[derive(clap::Args)]
pub struct Args {
    /// Either end of the wire to probe, or any port of the hub to probe.
    pub end: String,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let netns = cli.netns()?;
    if hub::port_of(netns.try_clone()?, &args.end)?.is_some() {
        return run_hub(cli, &netns, &args.end);
    }
    let report = probe::probe_wire(netns.try_clone()?, &args.end)?;
    let passed = report.passed();
    let diagnosis = match passed {
        true => Vec::new(),
        false => diagnose(&netns, &report.a, &report.b)?,
    };
    if cli.json {
        print_json(
            &serde_json::json!({ "passed": passed, "report": report, "diagnosis": diagnosis }),
        )?;
    } else {
        println!(
            "probe {} <-> {} (path mtu {}, jumbo frame {} bytes)",
            report.a,
            report.b,
            report.mtu,
            report.mtu + 14
        );
        print_table(&["frame"], &report.directions);
        let total: usize = report.directions.iter().map(|d| d.results.len()).sum();
        let good: usize = report
            .directions
            .iter()
            .flat_map(|d| &d.results)
            .filter(|r| r.verdict == Verdict::Ok)
            .count();
        println!(
            "{}: {good}/{total} frames arrived unchanged",
            if passed { "PASS" } else { "FAIL" }
        );
        for cause in &diagnosis {
            println!("  possible cause: {cause}");
        }
    }
    Ok(if passed { Exit::Ok } else { Exit::Failed })
}

/// `probe IF` on a hub port: every member to every other member.
fn run_hub(cli: &Cli, netns: &Netns, member: &str) -> anyhow::Result<Exit> {
    let report = probe::probe_hub(netns.try_clone()?, member)?;
    let passed = report.passed();
    let diagnosis: Vec<String> = match passed {
        true => Vec::new(),
        false => hub::show(netns.try_clone()?)?
            .into_iter()
            .filter(|h| h.name == report.hub)
            .flat_map(|h| h.problems)
            .collect(),
    };
    if cli.json {
        print_json(
            &serde_json::json!({ "passed": passed, "hub": report, "diagnosis": diagnosis }),
        )?;
        return Ok(if passed { Exit::Ok } else { Exit::Failed });
    }
    println!(
        "probe hub {}: {} (path mtu {}, jumbo frame {} bytes)",
        report.hub,
        report.members.join(", "),
        report.mtu,
        report.mtu + 14
    );
    if !report.gone.is_empty() {
        println!("  not probed (gone): {}", report.gone.join(", "));
    }
    let receivers = report.members.len() - 1;
    for (sender, chunk) in report.directions.chunks(receivers.max(1)).enumerate() {
        let back = report.returned.get(sender).map_or(0, |r| r.frames);
        let from = chunk.first().map_or("?", |d| d.from.as_str());
        if chunk.iter().all(DirectionReport::passed) && back == 0 {
            let kinds = chunk.first().map_or(0, |d| d.results.len());
            println!(
                "from {from}: all {kinds} kinds reached each of the {receivers} other members once"
            );
            continue;
        }
        println!("from {from}:");
        print_table(&["frame"], chunk);
        if back > 0 {
            println!("  {back} frame(s) came back out of {}", short(from));
        }
    }
    let (good, total) = report.tally();
    println!(
        "{}: {good}/{total} frames arrived unchanged, exactly once{}",
        if passed { "PASS" } else { "FAIL" },
        match report.returned.iter().all(|r| r.frames == 0) {
            true => "; none came back to its sender",
            false => "; some came back to their sender",
        }
    );
    for cause in &diagnosis {
        println!("  possible cause: {cause}");
    }
    Ok(if passed { Exit::Ok } else { Exit::Failed })
}

/// What can explain lost, altered or duplicated frames: the wire's own problems (an end down,
/// another tool's filter taking frames first…) and mirrors whose copies leave either end
/// besides the wire's traffic.
fn diagnose(netns: &Netns, a: &str, b: &str) -> anyhow::Result<Vec<String>> {
    let mut causes: Vec<String> = wire::show(netns.try_clone()?)?
        .into_iter()
        .filter(|w| w.involves(a))
        .flat_map(|w| w.problems)
        .collect();
    for mirror in mirror::show(netns.try_clone()?)? {
        let to = &mirror.destination.name;
        if to == a || to == b {
            let sources: Vec<&str> = mirror.sources.iter().map(|s| s.name.as_str()).collect();
            causes.push(format!(
                "mirror {} copies frames of {} to {to}: they leave {to} besides the wire's own (and \
                 arrive twice where they are the same frames)",
                mirror.name,
                sources.join(", ")
            ));
        }
    }
    if causes.is_empty() {
        causes.push("nothing patchwire can see: check what is behind each end".into());
    }
    Ok(causes)
}

/// One row per frame kind, one column per direction.
pub fn print_table(head: &[&str], columns: &[DirectionReport]) {
    let titles: Vec<String> = columns
        .iter()
        .map(|c| format!("{} -> {}", short(&c.from), short(&c.to)))
        .collect();
    let width = titles.iter().map(String::len).max().unwrap_or(8).max(10);
    print!("{:<16}", head.first().copied().unwrap_or("frame"));
    for title in &titles {
        print!("  {title:<width$}");
    }
    println!();
    let Some(first) = columns.first() else { return };
    for (row, result) in first.results.iter().enumerate() {
        print!("{:<16}", result.kind.name());
        for column in columns {
            let cell = &column.results[row];
            let text = match (&cell.verdict, &cell.detail) {
                (Verdict::Ok, _) => "ok".to_string(),
                (verdict, None) => format!("{verdict:?}").to_uppercase(),
                (verdict, Some(detail)) => {
                    format!("{} ({detail})", format!("{verdict:?}").to_uppercase())
                }
            };
            print!("  {text:<width$}");
        }
        println!();
    }
}

fn short(what: &str) -> &str {
    what.split(" (").next().unwrap_or(what)
}

//! `patchwire probe IF`.

use patchwire::mirror;
use patchwire::netns::Netns;
use patchwire::probe::{self, DirectionReport, Verdict};
use patchwire::wire;

use super::{Cli, Exit, print_json};

/// Check end to end that the wire IF is on passes every kind of frame unchanged, both ways.
///
/// Sends LACP, STP, LLDP, PAUSE, 802.1X, other reserved-MAC, 802.1Q, QinQ, foreign unicast,
/// broadcast, IPv6 multicast, minimum-size and MTU-size frames into each end (from a veth end's
/// peer, or through an unattached tap) and compares what arrives at the other end byte for byte.
/// Exit status 3 if any frame was lost, altered or duplicated.
#[derive(clap::Args)]
pub struct Args {
    /// Either end of the wire to probe.
    pub end: String,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let netns = cli.netns()?;
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

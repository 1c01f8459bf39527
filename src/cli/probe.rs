//! `patchwire probe IF`.

use patchwire::probe::{self, DirectionReport, Verdict};

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
    let report = probe::probe_wire(cli.netns()?, &args.end)?;
    let passed = report.passed();
    if cli.json {
        print_json(&serde_json::json!({ "passed": passed, "report": report }))?;
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
    }
    Ok(if passed { Exit::Ok } else { Exit::Failed })
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

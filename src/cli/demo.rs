//! `patchwire demo`.

use patchwire::demo;
use patchwire::probe::Verdict;

use super::{Cli, Exit, print_json};

/// Build a throwaway lab and show a Linux bridge eating frames a patchwire wire passes.
///
/// Two routers joined twice — through a Linux bridge and through a patchwire wire — in private
/// network namespaces; the probe catalogue crosses both, both ways. A mirror copies everything
/// crossing one wire end to an analyzer namespace. Needs only root. Everything
/// vanishes with the process (also on Ctrl-C): the namespaces are never named.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(cli: &Cli, _args: &Args) -> anyhow::Result<Exit> {
    super::lab::refuse_netns(cli, "demo");
    let report = demo::run()?;
    if cli.json {
        print_json(&report)?;
        return Ok(if report.wire_passed() {
            Exit::Ok
        } else {
            Exit::Failed
        });
    }
    println!(
        "patchwire demo: r1 and r2 joined twice, in private namespaces (mtu {})",
        demo::DEMO_MTU
    );
    println!("  eth1 <-> Linux bridge br0 <-> eth1      eth2 <-> patchwire wire <-> eth2\n");
    println!(
        "{:<16}  {:<10} {:<10}  {:<10} {:<10}",
        "", "bridge", "", "wire", ""
    );
    println!(
        "{:<16}  {:<10} {:<10}  {:<10} {:<10}",
        "frame", "r1->r2", "r2->r1", "r1->r2", "r2->r1"
    );
    let cell = |v: &Verdict| {
        if *v == Verdict::Ok {
            "ok".to_string()
        } else {
            format!("{v:?}").to_uppercase()
        }
    };
    for (row, result) in report.bridge[0].results.iter().enumerate() {
        println!(
            "{:<16}  {:<10} {:<10}  {:<10} {:<10}",
            result.kind.name(),
            cell(&report.bridge[0].results[row].verdict),
            cell(&report.bridge[1].results[row].verdict),
            cell(&report.wire[0].results[row].verdict),
            cell(&report.wire[1].results[row].verdict),
        );
    }
    let count = |dirs: &[patchwire::probe::DirectionReport]| {
        let all: Vec<_> = dirs.iter().flat_map(|d| &d.results).collect();
        (
            all.iter().filter(|r| r.verdict == Verdict::Ok).count(),
            all.len(),
        )
    };
    let (bridge_ok, total) = count(&report.bridge);
    let (wire_ok, _) = count(&report.wire);
    println!(
        "\nbridge: {bridge_ok}/{total} frames passed    wire: {wire_ok}/{total} frames passed"
    );
    if let Some(wire) = report.wire_status.first() {
        let (ab, ba) = (
            wire.a_to_b.unwrap_or_default(),
            wire.b_to_a.unwrap_or_default(),
        );
        println!(
            "wire {} <-> {}: {}, {} + {} packets redirected, {} dropped",
            wire.a.name,
            wire.b.name,
            wire.health,
            ab.packets,
            ba.packets,
            ab.drops + ba.drops
        );
    }
    if let Some(mirror) = &report.mirror {
        let source = mirror.sources.first();
        let by_hook: Vec<String> = source
            .map(|s| {
                s.hooks
                    .iter()
                    .map(|h| format!("{} {}", h.packets, h.hook))
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "mirror {} of {} -> {}: {}, {} copies made ({}), {} arrived at the analyzer, {} dropped",
            mirror.name,
            source.map_or("?", |s| s.name.as_str()),
            mirror.destination.name,
            mirror.health,
            mirror.packets,
            by_hook.join(" + "),
            report.analyzer_frames,
            mirror.dropped
        );
    }
    println!(
        "done in {} ms; the lab is gone with this process",
        report.elapsed_ms
    );
    Ok(if report.wire_passed() {
        Exit::Ok
    } else {
        Exit::Failed
    })
}

//! `patchwire unlink IF...` / `unlink --all`.

use patchwire::{impair, mirror, wire};
use serde::Serialize;

use super::{Cli, Exit, print_json};

/// Remove the wire(s) the given interfaces are on (both directions).
///
/// Removes only what patchwire installed; another tool's filters on the same interfaces stay.
/// A clsact qdisc is removed when nothing else is left on it. Naming the surviving end of a
/// broken wire removes its remains. An end that `watch` held down, or that `cut` took down, is
/// brought back up with its own alias. A mirror of both ends of the wire copied each frame once, where it entered
/// (`in`); with the wire gone, the frames leaving those ends are copied again (`out`).
/// Impairments of the wire's directions (`impair`) are removed with it.
/// Naming an interface that is on no wire is not an error: nothing is done and a note says so
/// (exit 0); a name that does not exist is an error.
#[derive(clap::Args)]
#[command(override_usage = "patchwire unlink [OPTIONS] (END... | --all)")]
pub struct Args {
    /// An end of each wire to remove.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub ends: Vec<String>,
    /// Remove every patchwire wire in the namespace.
    #[arg(long)]
    pub all: bool,
}

/// A mirror whose coverage was repaired after the wire went.
#[derive(Serialize)]
pub(super) struct MirrorNote {
    pub(super) mirror: String,
    pub(super) what: String,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    outcome: &'a wire::UnlinkOutcome,
    /// Mirrors whose copies were completed (`out` hooks a wire made redundant).
    mirrors_repaired: Vec<MirrorNote>,
    /// Ports whose impairment went with their wire.
    impairments_removed: Vec<String>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let netns = cli.netns()?;
    let copy = netns.try_clone()?.with_label(netns.label());
    // An impairment belongs to its wire: it goes first (so a clsact left empty goes too), or
    // its program would keep dropping frames on a port that no longer carries any.
    let mut impairments_removed = Vec::new();
    for direction in impair::show(&copy)? {
        let named = |end: &String| args.ends.contains(end);
        if (args.all || named(&direction.port) || named(&direction.to))
            && impair::clear(&copy, &direction.port)?
        {
            impairments_removed.push(direction.port);
        }
    }
    // Ends a `cut` holds down are released with the wire too: said so, not blamed on watch.
    let cut = impair::cable::cut_ports(&copy)?;
    let outcome = wire::unlink(netns, &args.ends, args.all)?;
    // The wire is gone: mirrors that relied on it to see each frame once need their `out`
    // copies back (the wire is removed either way; a failure here is reported, not undone).
    let mut mirrors_repaired = Vec::new();
    if !outcome.removed.is_empty() {
        let report = mirror::restore_coverage(&copy).map_err(|e| {
            anyhow::anyhow!(
                "the wires are removed, but checking the mirrors' copies failed: {e} \
                 (patchwire watch --once retries)"
            )
        })?;
        for (mirror, what) in report.repaired {
            mirrors_repaired.push(MirrorNote { mirror, what });
        }
        if let Some((mirror, error)) = report.failed.into_iter().next() {
            anyhow::bail!(
                "the wires are removed, but completing mirror {mirror}'s copies failed: {error} \
                 (patchwire watch --once retries)"
            );
        }
    }
    if cli.json {
        print_json(&Report {
            outcome: &outcome,
            mirrors_repaired,
            impairments_removed,
        })?;
    } else {
        for name in &outcome.not_wired {
            eprintln!(
                "note: {name} is not on a patchwire wire in {}: nothing to remove",
                copy.describe()
            );
        }
        if outcome.removed.is_empty() && outcome.not_wired.is_empty() {
            println!("no wires to remove");
        } else if outcome.removed.len() <= 20 {
            for [a, b] in &outcome.removed {
                println!("unwired: {a} <-> {b}");
            }
        } else {
            println!("unwired {} wires", outcome.removed.len());
        }
        for end in &outcome.released {
            match cut.contains(end) {
                true => println!("released: {end} (its cable was cut) is up again"),
                false => println!("released: {end} (watch had held it down) is up again"),
            }
        }
        for port in &impairments_removed {
            println!("impairment removed: {port} (it belonged to the wire)");
        }
        for note in &mirrors_repaired {
            println!("mirror {}: {}", note.mirror, note.what);
        }
    }
    Ok(Exit::Ok)
}

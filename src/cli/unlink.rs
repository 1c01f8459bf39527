//! `patchwire unlink IF...` / `unlink --all`.

use patchwire::wire;

use super::{Cli, Exit, print_json};

/// Remove the wire(s) the given interfaces are on (both directions).
///
/// Removes only what patchwire installed; another tool's filters on the same interfaces stay.
/// A clsact qdisc is removed when nothing else is left on it. Naming the surviving end of a
/// broken wire removes its remains.
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

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let outcome = wire::unlink(cli.netns()?, &args.ends, args.all)?;
    if cli.json {
        print_json(&outcome)?;
    } else if outcome.removed.is_empty() {
        println!("no wires to remove");
    } else if outcome.removed.len() <= 20 {
        for [a, b] in &outcome.removed {
            println!("unwired: {a} <-> {b}");
        }
    } else {
        println!("unwired {} wires", outcome.removed.len());
    }
    Ok(Exit::Ok)
}

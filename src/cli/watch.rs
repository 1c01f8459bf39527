//! `patchwire watch [--once]`.

use patchwire::watch::{self, Event, Scope};

use super::{Cli, Exit};

/// Keep wires honest while a lab runs: propagate link state, re-attach recreated ends.
///
/// When one end of a wire goes down or loses carrier, the other end is taken down (and marked
/// with an alias "patchwire held down: …") so the router behind it sees NO-CARRIER, as with a
/// real cable; it comes back up with the first end. When an end vanishes and an interface of
/// the same name appears again (qemu recreating tapN), the wire is made again. Broken wires are
/// reported once. Watches the namespace given with -n, or every namespace under /run/netns plus
/// the current one (picking up new ones). Stops on SIGINT/SIGTERM. Limits: a tap end held down
/// stops traffic but a VM guest does not see the carrier change.
#[derive(clap::Args)]
pub struct Args {
    /// Repair what is wrong now, report it, and exit.
    #[arg(long)]
    pub once: bool,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let scope = match &cli.netns {
        Some(spec) => Scope::One(spec.clone()),
        None => Scope::All,
    };
    let json = cli.json;
    let print = move |event: &Event| {
        if json {
            println!("{}", serde_json::to_string(event).unwrap_or_default());
        } else {
            println!("{event}");
        }
    };
    if args.once {
        watch::once(scope)?.iter().for_each(print);
    } else {
        watch::watch(scope, print)?;
    }
    Ok(Exit::Ok)
}

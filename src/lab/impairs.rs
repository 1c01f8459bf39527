//! A lab's impairments and cable states (issue 21): the file's `impair:` and `state: down`
//! on the panel ports, compared with what the kernel holds and put back by `up` — the file is
//! the truth, so what `patchwire impair`, `cut` or `mend` changed outside it is a difference.
//!
//! The frames an endpoint sends arrive at its panel port's ingress: that port is the
//! impairment's entry ([`crate::impair::set`]). A pulled cable is both ports of the wire cut
//! ([`crate::impair::cable::cut`]), a hub member's port alone. Everything changes in place
//! after the ports are made and hooked: no port is made again, no carrier blips (except the
//! pull itself).

use std::collections::{BTreeMap, BTreeSet};

use super::LabError;
use super::desired::Desired;
use super::file::{Endpoint, LabFile, NodeKind};
use super::names;
use super::observe::Actual;
use super::plan::Change;
use crate::impair::flap::{FlapLink, Flapping};
use crate::impair::{self, ImpairError, Impairment, SetBy, cable};
use crate::netns::Netns;

/// What `desired` holds of the file's impairments and cable states on this host.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// Entry port -> (the sending endpoint, the impairment of its sent frames).
    pub impairs: BTreeMap<String, (Endpoint, Impairment)>,
    /// Pulled cables: the ports of each (a wire's two, a hub member's one), with their
    /// endpoints' names (or the port's for a tunnel).
    pub cut: Vec<(Vec<String>, Vec<String>)>,
    /// Flapping cables, run by `watch --lab` (its ports as for a pulled cable).
    pub flaps: Vec<FlapLink>,
    /// Per link that needs netem here: where the file asks for it (line, column) and the
    /// endpoints whose sent frames are delayed, jittered or reordered.
    pub netem: Vec<(Option<Place>, Vec<String>)>,
}

/// A line and a column in the lab file, 1-based.
pub type Place = (usize, usize);

/// The file's impairments and pulled cables on the ports `desired` makes here.
pub fn wanted(file: &LabFile, desired: &Desired) -> Wanted {
    let mut out = Wanted::default();
    let is_hub_node = |e: &Endpoint| {
        file.nodes
            .get(&e.node)
            .is_some_and(|n| matches!(n.kind, NodeKind::Hub))
    };
    for (link, parts) in file.links.iter().zip(&desired.links) {
        let mut netem = Vec::new();
        for (endpoint, impairment) in &link.impair.0 {
            let port = names::port(endpoint);
            if desired.ports.contains_key(&port) {
                out.impairs.insert(port, (endpoint.clone(), *impairment));
                if impairment.needs_netem() {
                    netem.push(endpoint.to_string());
                }
            }
        }
        if !netem.is_empty() {
            out.netem.push((link.netem_at, netem));
        }
        if !link.down && link.flap.is_none() {
            continue;
        }
        // A `kind: hub` node's link: its member's port; otherwise every port of the link here
        // (a cross-host wire's tunnel port too: `cut` takes both ends of a wire down).
        let ports: Vec<String> = match link.endpoints.iter().any(is_hub_node) {
            true => link
                .endpoints
                .iter()
                .filter(|e| !is_hub_node(e))
                .map(names::port)
                .filter(|p| desired.ports.contains_key(p))
                .collect(),
            false => parts.ports.clone(),
        };
        if ports.is_empty() {
            continue;
        }
        if let Some(flap) = link.flap {
            out.flaps.push(FlapLink {
                link: parts.endpoints.join(" "),
                ports,
                flap,
            });
            continue;
        }
        let labels = ports
            .iter()
            .map(|p| {
                desired
                    .ports
                    .get(p)
                    .map_or_else(|| p.clone(), |p| p.label())
            })
            .collect();
        out.cut.push((ports, labels));
    }
    out
}

/// What the panel holds: the impairment on each port, the ports `cut` took down.
pub fn observe(panel: &Netns, actual: &mut Actual) -> Result<(), LabError> {
    let what = |e: ImpairError| lab_error("reading the panel's impairments", e);
    for direction in impair::show(panel).map_err(what)? {
        if direction.set_by == SetBy::Command {
            actual.by_command.insert(direction.port.clone());
        }
        actual
            .impairs
            .insert(direction.port.clone(), direction.impairment);
    }
    for (port, by) in cable::cuts(panel).map_err(what)? {
        if by == SetBy::Command {
            actual.by_command.insert(port.clone());
        }
        actual.cut.insert(port);
    }
    if actual.watched {
        actual.flaps_run_by = flaps_run_by(panel);
    }
    Ok(())
}

/// The file whose flaps a watch of the panel runs now, if one does: a `watch --lab FILE`
/// writes `flaps FILE` into the lock file it holds (see watch/mod.rs).
pub(super) fn flaps_run_by(panel: &Netns) -> Option<String> {
    if !super::observe::watcher_running(panel) {
        return None;
    }
    let key = panel.inode();
    let lock = format!("/run/patchwire/watch-{}-{}.lock", key.dev, key.inode);
    let text = std::fs::read_to_string(lock).ok()?;
    Some(text.strip_prefix("flaps ")?.trim_end().to_string())
}

/// The changes: impairments set, changed or removed; cables pulled or put back. A port made
/// (again) in this run, or hooked again, is set whatever was read.
pub fn changes(desired: &Desired, actual: &Actual, earlier: &[Change]) -> Vec<Change> {
    let wanted = &desired.impair;
    let port_of = hooked;
    // Made in this run: nothing on them yet. Hooked again: set once more to be sure.
    let created: BTreeSet<String> = earlier
        .iter()
        .filter(|c| matches!(c, Change::CreatePort { .. }))
        .flat_map(port_of)
        .collect();
    let remade: BTreeSet<String> = earlier.iter().flat_map(port_of).collect();
    let mut out = Vec::new();
    // Put back first: a cable the file no longer pulls (or never did).
    let pulled: BTreeSet<&String> = wanted.cut.iter().flat_map(|(p, _)| p).collect();
    // A flapping cable is the watcher's while one runs: pulled or in, it is not a difference.
    // With none running, a pull left behind (a watcher killed mid-flap) is put back.
    let flapping: BTreeSet<&String> = match actual.flaps_run_by {
        Some(_) => wanted.flaps.iter().flat_map(|f| &f.ports).collect(),
        None => BTreeSet::new(),
    };
    let mut mended = BTreeSet::new();
    for parts in &desired.links {
        let mend: Vec<&String> = parts
            .ports
            .iter()
            .filter(|p| actual.cut.contains(*p) && !pulled.contains(p) && !created.contains(*p))
            .filter(|p| !flapping.contains(p))
            .filter(|p| mended.insert(p.to_string()))
            .collect();
        if !mend.is_empty() {
            out.push(Change::Mend {
                by_command: mend.iter().any(|p| actual.by_command.contains(*p)),
                ports: mend.iter().map(|p| p.to_string()).collect(),
                endpoints: mend.iter().map(|p| label(desired, p)).collect(),
            });
        }
    }
    for (port, was) in &actual.impairs {
        let gone_with_it = created.contains(port) || !desired.ports.contains_key(port);
        if !gone_with_it && !wanted.impairs.contains_key(port) {
            out.push(Change::Unimpair {
                port: port.clone(),
                endpoint: label(desired, port),
                was: was.describe(),
                by_command: actual.by_command.contains(port),
            });
        }
    }
    for (port, (endpoint, want)) in &wanted.impairs {
        let was = actual.impairs.get(port).filter(|_| !created.contains(port));
        // By value: a port hooked again (its `datapath:` changed) keeps an equal impairment,
        // which is no change to list (`apply` sets it once more all the same).
        if was.map(Impairment::describe) != Some(want.describe()) {
            out.push(Change::Impair {
                port: port.clone(),
                endpoint: endpoint.to_string(),
                impairment: want.describe(),
                was: was.map(Impairment::describe),
                by_command: was.is_some() && actual.by_command.contains(port),
            });
        }
    }
    for (ports, endpoints) in &wanted.cut {
        if ports
            .iter()
            .any(|p| !actual.cut.contains(p) || remade.contains(p))
        {
            out.push(Change::Cut {
                ports: ports.clone(),
                endpoints: endpoints.clone(),
                // Made or hooked again in this run: cut because it is new, not put back.
                was_in: ports.iter().all(|p| {
                    actual.ports.contains_key(p) && !remade.contains(p) && !actual.cut.contains(p)
                }),
            });
        }
    }
    out
}

fn label(desired: &Desired, port: &str) -> String {
    desired
        .ports
        .get(port)
        .map_or_else(|| port.to_string(), |p| p.label())
}

/// What `plan` and `up` say about the file's flaps: they run while a watcher runs.
pub fn flap_note(desired: &Desired, actual: &Actual) -> Option<String> {
    let flaps = &desired.impair.flaps;
    if flaps.is_empty() {
        return None;
    }
    let links: Vec<String> = flaps
        .iter()
        .map(|f| format!("{} ({})", f.link, f.flap.describe()))
        .collect();
    Some(match (&actual.flaps_run_by, actual.watched) {
        (Some(file), _) => format!(
            "flapping: {} — run by `patchwire watch --lab {file}` on {}",
            links.join(", "),
            desired.panel
        ),
        (None, watched) => format!(
            "flapping: {} — flaps run while `patchwire watch --lab {}` runs, and none runs now{}",
            links.join(", "),
            desired.path,
            match watched {
                true => " (the watch on the panel was started without --lab)",
                false => "",
            }
        ),
    })
}

/// The file's flaps as `watch --lab` runs them on this host.
pub fn flapping(file: &LabFile, host: Option<&str>) -> Result<Flapping, LabError> {
    let desired = Desired::for_view(file, host)?;
    Ok(Flapping {
        netns: desired.panel.clone(),
        file: file.path.clone(),
        pulled: desired
            .impair
            .cut
            .iter()
            .flat_map(|(p, _)| p.clone())
            .collect(),
        links: desired.impair.flaps,
    })
}

/// What `plan` says when a command changed impairments or cables outside the file (their
/// records say who set them), or a cable the file pulls is in on a port that exists (a `mend`
/// leaves no record: that, or the file's new `state: down`): the file is the truth. A change
/// the file alone made (its impairment edited, its `state: down` dropped) needs no note.
pub fn note(changes: &[Change]) -> Option<String> {
    let created: BTreeSet<&String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::CreatePort { port, .. } => Some(port),
            _ => None,
        })
        .collect();
    changes
        .iter()
        .any(|c| match c {
            Change::Impair { by_command, .. }
            | Change::Unimpair { by_command, .. }
            | Change::Mend { by_command, .. } => *by_command,
            Change::Cut { ports, .. } => ports.iter().all(|p| !created.contains(p)),
            _ => false,
        })
        .then(|| {
            "impairments and pulled cables are the file's: what patchwire impair, cut or mend \
             changed outside it is listed as a difference, and up puts the file's back (the \
             file is the truth)"
                .into()
        })
}

/// Refusals before anything changes: a delay, jitter or reordering on a kernel without
/// sch_netem (a real probe, [`impair::netem_available`]), one line per link at the place the
/// file asks for it.
pub fn preflight(desired: &Desired) -> Result<(), LabError> {
    let needing = &desired.impair.netem;
    if needing.is_empty() {
        return Ok(());
    }
    let available = impair::netem_available().map_err(|e| lab_error("probing for netem", e))?;
    if available {
        return Ok(());
    }
    let lines: Vec<String> = needing
        .iter()
        .map(|(at, endpoints)| {
            let place = match at {
                Some((line, column)) => format!("{}:{line}:{column}", desired.path),
                None => desired.path.clone(),
            };
            let what = format!(
                "{place}: the delay, jitter or reordering of {}",
                endpoints.join(", ")
            );
            impair::netem_missing(&what).to_string()
        })
        .collect();
    Err(LabError::Invalid(lines.join("\n")))
}

/// The ports a change hooks again (a wire or hub made anew) or makes.
fn hooked(c: &Change) -> Vec<String> {
    match c {
        Change::CreatePort { port, .. } => vec![port.clone()],
        Change::Wire { a, b, .. } => vec![a.clone(), b.clone()],
        Change::Hub { members, .. } => members.clone(),
        _ => vec![],
    }
}

/// The last step of `up`: cables put back, impairments removed and set, then cables pulled.
/// A port hooked again whose impairment equals the file's (not listed as a change) is set
/// once more, idempotently, to be sure it holds on the new hooks.
pub fn apply(desired: &Desired, changes: &[Change], panel: &Netns) -> Result<(), LabError> {
    let listed: BTreeSet<&String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Impair { port, .. } => Some(port),
            _ => None,
        })
        .collect();
    let again: Vec<Change> = changes
        .iter()
        .flat_map(hooked)
        .collect::<BTreeSet<String>>()
        .into_iter()
        .filter(|p| !listed.contains(p))
        .filter_map(|port| {
            let (endpoint, want) = desired.impair.impairs.get(&port)?;
            Some(Change::Impair {
                port,
                endpoint: endpoint.to_string(),
                impairment: want.describe(),
                was: None,
                by_command: false,
            })
        })
        .collect();
    let changes: Vec<&Change> = changes.iter().chain(&again).collect();
    let changes = changes.as_slice();
    if !changes.iter().any(|c| {
        matches!(
            c,
            Change::Mend { .. }
                | Change::Cut { .. }
                | Change::Impair { .. }
                | Change::Unimpair { .. }
        )
    }) {
        return Ok(());
    }
    // The lock `patchwire impair`, `cut` and `mend` take on the panel: a call running beside
    // this `up` changes the same ports' records, read, merged and written back.
    let _lock = impair::lock(panel).map_err(|e| lab_error("locking the panel's impairments", e))?;
    for change in changes {
        if let Change::Mend {
            ports, endpoints, ..
        } = change
        {
            for port in ports {
                cable::mend(panel, port).map_err(|e| {
                    let doing = format!("putting back the cable of {}", endpoints.join(", "));
                    lab_error(&doing, e)
                })?;
            }
        }
    }
    for change in changes {
        match change {
            Change::Unimpair { port, endpoint, .. } => {
                impair::clear(panel, port).map_err(|e| {
                    lab_error(
                        &format!("removing the impairment of {endpoint} ({port})"),
                        e,
                    )
                })?;
            }
            Change::Impair { port, endpoint, .. } => {
                let Some((_, want)) = desired.impair.impairs.get(port) else {
                    continue;
                };
                impair::set_as(panel, port, want, SetBy::File).map_err(|e| {
                    lab_error(
                        &format!("impairing the frames {endpoint} sends ({port})"),
                        e,
                    )
                })?;
            }
            _ => {}
        }
    }
    for change in changes {
        if let Change::Cut {
            ports, endpoints, ..
        } = change
        {
            for port in ports {
                cable::cut_as(panel, port, SetBy::File).map_err(|e| {
                    lab_error(&format!("pulling the cable of {}", endpoints.join(", ")), e)
                })?;
            }
        }
    }
    Ok(())
}

fn lab_error(doing: &str, e: ImpairError) -> LabError {
    match e {
        ImpairError::Invalid(why) => LabError::Invalid(format!("{doing}: {why}")),
        other => LabError::system(format!("{doing}: {other}"), other),
    }
}

//! The lab seen from the kernel: every link of the file with its endpoints, what it is made of,
//! its health and counters (`show --lab`), and the same as a picture (`graph`: Graphviz DOT or
//! Mermaid, in `view/graph.rs`), hubs drawn as segments, links marked broken or degraded.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::LabError;
use super::desired::{Desired, Reach};
use super::file::LabFile;
use super::names;
use crate::hub;
use crate::netns::Netns;
use crate::wire;

mod graph;
pub use graph::{GraphFormat, graph};

/// One link of the file as the kernel holds it on this host.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// `NODE:IF` of every endpoint, as in the file.
    pub endpoints: Vec<String>,
    /// `wire`, `hub`, `wire over vxlan`, `hub over vxlan`, or `elsewhere` (no endpoint here).
    pub kind: String,
    /// `missing` when the lab is not (fully) up.
    pub health: String,
    /// What is wrong, in words (from the wire's or hub's health, or `not wired`).
    pub problems: Vec<String>,
    /// Frames each local endpoint sent into the link (port name -> packets, bytes, drops); for
    /// an endpoint reached through a stub also the wire inside the node (`NETNS:IF` -> …).
    pub counters: BTreeMap<String, [u64; 3]>,
    /// The path of each direction of an eBPF wire, by the port its frames arrive on: `peer`
    /// or `redirect` (as `show -s`); empty for other links.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub paths: BTreeMap<String, String>,
    /// A flapping link (`flap:`): its schedule, and whether a watch runs it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flap: Option<FlapView>,
    /// `cut` when the link's cable is pulled (its ports down, marked as cut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cable: Option<String>,
    /// Who pulled it: `file` (`state: down`, what the file asks: not a problem), `flap` (the
    /// file's flap, run by a watch), `command` (`patchwire cut`, or a flap whose watch was
    /// killed: a difference `up` puts back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_by: Option<String>,
    /// The file line of the link.
    pub line: usize,
    /// The link's container nodes whose container is stopped, gone or restarted (their
    /// problems are in `problems` too): the link cannot pass frames whatever the kernel holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale: Vec<super::containers::StaleNode>,
}

/// A link's `flap:` as `show --lab` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct FlapView {
    /// In words: the flap as the file says it and who runs it (the text output's line).
    pub summary: String,
    /// The file's flap: `down` and `up` as `{min_ms, max_ms}`, `seed`, `count` (null: endless).
    #[serde(flatten)]
    pub flap: crate::impair::flap::Flap,
    /// Whether a `patchwire watch --lab` runs it now.
    pub running: bool,
    /// The file that watch was started with, when one runs.
    pub run_by: Option<String>,
}

/// Where to capture each link of the file on this host: `(panel namespace, port, what it is)`.
/// One port per wire (its far side's frames show as outbound on it), every local port of a hub.
/// Links with no endpoint here are left out.
pub fn capture_points(
    file: &LabFile,
    host: Option<&str>,
) -> Result<Vec<(String, String, String)>, LabError> {
    let desired = Desired::from_file(file, host)?;
    let mut points = Vec::new();
    for (link, parts) in file.links.iter().zip(&desired.links) {
        let to_hub_node = link.endpoints.iter().any(|e| {
            matches!(
                file.nodes.get(&e.node).map(|n| &n.kind),
                Some(super::file::NodeKind::Hub)
            )
        });
        // A macvlan or dummy is the node's own interface: nothing of it is in the panel.
        if parts.device.is_some() {
            continue;
        }
        // The host sides of `type: host` links count as endpoints.
        let all: Vec<super::file::Endpoint> = parts
            .endpoints
            .iter()
            .filter_map(|e| super::file::Endpoint::parse(e).ok())
            .collect();
        let local: Vec<&super::file::Endpoint> = all
            .iter()
            .filter(|e| desired.ports.contains_key(&names::port(e)))
            .collect();
        let endpoints: Vec<String> = all.iter().map(ToString::to_string).collect();
        // A `kind: hub` node's link: its one local end is a member of the node's hub.
        let hub_node = parts.hub.as_ref().filter(|_| to_hub_node);
        if let Some(hub) = hub_node {
            for endpoint in &local {
                points.push((
                    desired.panel.clone(),
                    names::port(endpoint),
                    format!("hub {hub} member {endpoint} (inbound: sent by it)"),
                ));
            }
        } else if all.len() == 2 {
            if let Some(endpoint) = local.first() {
                points.push((
                    desired.panel.clone(),
                    names::port(endpoint),
                    format!(
                        "wire {} (inbound: sent by {endpoint})",
                        endpoints.join(" <-> ")
                    ),
                ));
            }
        } else {
            for endpoint in &local {
                points.push((
                    desired.panel.clone(),
                    names::port(endpoint),
                    format!(
                        "hub {} member {endpoint} (inbound: sent by it)",
                        endpoints.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(points)
}

/// Who pulled a link's cable.
#[derive(Clone, Copy)]
enum Cut {
    /// `state: down` in the file.
    File,
    /// The file's flap, run by a watch now.
    Flap,
    /// A flap's pull its killed watch left behind (no watch runs).
    FlapLeft,
    /// `patchwire cut`.
    Command,
}

/// A pulled cable said as what it is, not as the holds `wire::show` sees on its ports: what
/// the file asks for (`state: down`, a running flap) is no problem; a cut made outside the
/// file is one, with the command that puts it back.
fn cable_cut(view: &mut LinkView, labels: &[String], who: Cut, file: &LabFile) {
    view.cable = Some("cut".into());
    let (by, problem) = match who {
        Cut::File => ("file", None),
        Cut::Flap => ("flap", None),
        Cut::FlapLeft => (
            "flap",
            Some(format!(
                "{} left cut by a flap whose watch stopped without putting it back: patchwire up \
                 {} (or patchwire watch --lab {}) puts it back",
                labels.join(", "),
                file.path,
                file.path
            )),
        ),
        Cut::Command => (
            "command",
            Some(format!(
                "{} cut by patchwire cut: patchwire mend --lab {} {} puts it back (or \
                 patchwire up {})",
                labels.join(", "),
                file.path,
                labels[0],
                file.path
            )),
        ),
    };
    view.cut_by = Some(by.into());
    if let Some(problem) = problem {
        view.problems.push(problem);
        if view.health == "ok" {
            view.health = "degraded".into();
        }
    }
}

/// A hold `wire::show` describes as watch's to end, said as `plan` says it when no watch runs
/// (nothing but plan/up, or a new watch, brings the port back).
fn unwatched_hold(problem: &str, panel: &str) -> Option<String> {
    let (end, rest) =
        problem.split_once(" is held down by patchwire watch because its far end ")?;
    let (far, _) = rest.split_once(" is down or gone; watch brings it back up when ")?;
    Some(format!(
        "{end} is held down: a patchwire watch held it down because its far end {far} is down or \
         gone, and no watch runs now: plan/up release it once that end is up (or start patchwire \
         watch -n {panel})"
    ))
}

/// Every link of the file as the kernel holds it on this host: what it is made of, its health and
/// counters (`show --lab`). A lab that is not up shows its links as `missing`.
pub fn show(file: &LabFile, host: Option<&str>) -> Result<Vec<LinkView>, LabError> {
    show_with(file, host, &super::Options::default()).map(|(views, _)| views)
}

/// [`show`] with options (the container runtime asked), and the container nodes whose
/// container does not run as registered. Their links are `broken` (unless `missing`) with the
/// node's problem first, whatever the kernel holds: a stopped container's registration keeps
/// its old namespace, and the link ends in it, alive, but nothing runs there.
pub fn show_with(
    file: &LabFile,
    host: Option<&str>,
    options: &super::Options,
) -> Result<(Vec<LinkView>, Vec<super::containers::StaleNode>), LabError> {
    let mut views = show_links(file, host)?;
    let stale = super::containers::stale_nodes(file, host, options);
    for view in &mut views {
        let on = |node: &str| {
            view.endpoints
                .iter()
                .any(|e| e.split_once(':').is_some_and(|(n, _)| n == node))
        };
        view.stale = stale.iter().filter(|s| on(&s.node)).cloned().collect();
        if view.stale.is_empty() {
            continue;
        }
        if view.health != "missing" {
            view.health = "broken".into();
        }
        let mut problems: Vec<String> = view.stale.iter().map(|s| s.problem.clone()).collect();
        problems.append(&mut view.problems);
        view.problems = problems;
    }
    Ok((views, stale))
}

fn show_links(file: &LabFile, host: Option<&str>) -> Result<Vec<LinkView>, LabError> {
    let desired = Desired::for_view(file, host)?;
    let panel = Netns::open(Some(&desired.panel)).ok();
    let (wires, hubs) = match &panel {
        Some(panel) => (
            wire::show(panel.try_clone()?)?,
            hub::show(panel.try_clone()?)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    // Whether a watch runs on the panel now: with none, a hold is plan's to release.
    let watched = panel.as_ref().is_some_and(super::observe::watcher_running);
    let flaps_run_by = panel.as_ref().and_then(super::impairs::flaps_run_by);
    // Ports `patchwire cut`, `state: down` or a flap pulled (a hold marked as a cut).
    let cut: BTreeSet<String> = match &panel {
        Some(panel) => crate::impair::cable::cut_ports(panel)
            .map_err(|e| LabError::Invalid(format!("reading the panel's cut cables: {e}")))?
            .into_iter()
            .collect(),
        None => BTreeSet::new(),
    };
    let mut views = Vec::new();
    let mut inner = BTreeMap::new();
    for (link, parts) in file.links.iter().zip(&desired.links) {
        let ports = parts.ports.clone();
        let over_vxlan = ports.iter().any(|p| p.starts_with("vx."));
        let mut view = LinkView {
            endpoints: parts.endpoints.clone(),
            kind: String::new(),
            health: "missing".into(),
            problems: Vec::new(),
            counters: BTreeMap::new(),
            paths: BTreeMap::new(),
            flap: link.flap.map(|f| FlapView {
                summary: match &flaps_run_by {
                    Some(by) => format!("{} (run by patchwire watch --lab {by})", f.describe()),
                    None => format!(
                        "{} (not running: flaps run while `patchwire watch --lab {}` runs)",
                        f.describe(),
                        file.path
                    ),
                },
                flap: f,
                running: flaps_run_by.is_some(),
                run_by: flaps_run_by.clone(),
            }),
            cable: None,
            cut_by: None,
            line: link.line,
            stale: Vec::new(),
        };
        if let Some(endpoint) = &parts.device {
            view.kind = parts.kind.clone().unwrap_or_default();
            device_health(&mut view, &desired, endpoint, file, host);
            views.push(view);
            continue;
        }
        view.kind = match (ports.len(), over_vxlan, &parts.hub) {
            (0, _, _) => "elsewhere".into(),
            (_, _, Some(hub)) if hub.starts_with("hub.") || ports.len() == 1 => {
                format!("hub node ({hub})")
            }
            (2, false, _) => "wire".into(),
            (2, true, _) => "wire over vxlan".into(),
            (_, false, _) => "hub".into(),
            (_, true, _) => "hub over vxlan".into(),
        };
        if let Some(words) = &parts.kind {
            view.kind = format!("{} ({words})", view.kind);
        }
        match (&parts.hub, ports.len()) {
            (_, 0) => view.health = "elsewhere".into(),
            // A hub node with one link so far: its port waits for the others.
            (Some(_), 1) => view.health = "ok".into(),
            (Some(_), _) => hub_health(&mut view, &ports, &hubs, file, host),
            (None, 2) => wire_health(&mut view, &ports, &wires, file, host),
            (None, _) => view.health = "elsewhere".into(),
        }
        if view.health != "missing" && view.health != "elsewhere" {
            inner_wires(&desired, &ports, &mut inner, &mut view)?;
        }
        // This link's own cut ports: a hub node's link lists every member's port, and only
        // its member's is its cable.
        let label = |p: &String| {
            desired
                .ports
                .get(p)
                .map_or_else(|| p.to_string(), |p| p.label())
        };
        let cut_here: Vec<&String> = ports
            .iter()
            .filter(|p| cut.contains(*p))
            .filter(|p| parts.hub.is_none() || view.endpoints.contains(&label(p)))
            .collect();
        // What the kernel's view says of any cut port of the link (a hub's members' too) is
        // said by the cable's own link below, as a cut.
        let cut_any: Vec<&String> = ports.iter().filter(|p| cut.contains(*p)).collect();
        if !cut_any.is_empty() {
            view.problems.retain(|p| {
                !cut_any
                    .iter()
                    .any(|port| p.starts_with(&format!("{port} is ")))
            });
            if view.health == "degraded" && view.problems.is_empty() {
                view.health = "ok".into();
            }
        }
        if !cut_here.is_empty() && view.health != "missing" {
            let who = match (link.down, link.flap.is_some(), flaps_run_by.is_some()) {
                (true, _, _) => Cut::File,
                (false, true, true) => Cut::Flap,
                (false, true, false) => Cut::FlapLeft,
                (false, false, _) => Cut::Command,
            };
            let labels: Vec<String> = cut_here.iter().map(|p| label(p)).collect();
            cable_cut(&mut view, &labels, who, file);
        }
        for problem in &mut view.problems {
            *problem = lab_repair(problem, &file.path, host);
            if !watched && let Some(said) = unwatched_hold(problem, &desired.panel) {
                *problem = said;
            }
        }
        // A `netns:` node whose namespace is gone (deleted while the lab is up): its links are
        // broken, and `up` cannot make them again until the namespace exists. A container
        // node's registration is `up`'s to make (down removes it): its container's state is
        // `show_with`'s to tell.
        for (node, netns) in &desired.gone {
            if super::containers::is_container_node(file, node) {
                continue;
            }
            let on_it = |e: &String| e.split_once(':').is_some_and(|(n, _)| n == node);
            if view.endpoints.iter().any(on_it) {
                view.health = "broken".into();
                view.problems = vec![format!(
                    "node {node}: netns {netns} is gone (deleted while the lab is up): make it \
                     again, then patchwire up {}",
                    file.path
                )];
            }
        }
        views.push(view);
    }
    Ok(views)
}

/// A link that is an interface in its node (macvlan, dummy): `ok` when that interface is
/// there with the lab's record, `missing` otherwise.
fn device_health(
    view: &mut LinkView,
    desired: &Desired,
    endpoint: &super::file::Endpoint,
    file: &LabFile,
    host: Option<&str>,
) {
    let Some(home) = desired.nodes.get(&endpoint.node) else {
        view.health = "elsewhere".into();
        return;
    };
    let found = Netns::open(Some(home.spec()))
        .ok()
        .and_then(|n| n.route().ok())
        .and_then(|mut s| {
            crate::nl::link::parse_one(
                s.request_raw(crate::nl::link::get_by_name(&endpoint.interface), 0),
            )
            .ok()
        });
    let ours = found.as_ref().is_some_and(|l| {
        l.altnames
            .iter()
            .any(|a| names::parse_device_record(a).is_some_and(|(lab, _)| lab == desired.lab))
    });
    match (found, ours) {
        (Some(l), true) => {
            view.health = match l.oper_up || l.up {
                true => "ok".into(),
                false => "degraded".into(),
            };
            if !l.up {
                view.problems
                    .push(format!("{} is down", endpoint.interface));
            }
        }
        _ => view.problems.push(format!(
            "{endpoint} is not there (run patchwire up {}{})",
            file.path,
            host.map(|h| format!(" --host {h}")).unwrap_or_default()
        )),
    }
}

/// A two-port link's health, problems and counters from the wire that joins its ports.
fn wire_health(
    view: &mut LinkView,
    ports: &[String],
    wires: &[wire::WireStatus],
    file: &LabFile,
    host: Option<&str>,
) {
    if let Some(status) = wires
        .iter()
        .find(|w| ports.contains(&w.a.name) && w.involves(&ports[0]) && w.involves(&ports[1]))
    {
        view.health = status.health.to_string();
        view.problems = status.problems.clone();
        for (end, counters) in [
            (&status.a.name, status.a_to_b),
            (&status.b.name, status.b_to_a),
        ] {
            if let Some(c) = counters {
                view.counters
                    .insert(end.clone(), [c.packets, c.bytes, c.drops]);
            }
        }
        if status.datapath == wire::Datapath::Ebpf {
            for (end, path) in [
                (&status.a.name, status.a_to_b_path),
                (&status.b.name, status.b_to_a_path),
            ] {
                if let Some(path) = path {
                    view.paths.insert(end.clone(), path.to_string());
                }
            }
        }
    } else {
        view.problems.push(format!(
            "not wired (run patchwire up {}{})",
            file.path,
            host.map(|h| format!(" --host {h}")).unwrap_or_default()
        ));
    }
}

/// A link of three ports or more: health, problems and counters from the hub of its ports.
fn hub_health(
    view: &mut LinkView,
    ports: &[String],
    hubs: &[hub::HubStatus],
    file: &LabFile,
    host: Option<&str>,
) {
    let wanted: std::collections::BTreeSet<&String> = ports.iter().collect();
    let same = |h: &&hub::HubStatus| {
        h.members
            .iter()
            .map(|m| &m.name)
            .collect::<std::collections::BTreeSet<_>>()
            == wanted
    };
    match hubs.iter().find(same) {
        Some(status) => {
            view.health = status.health.to_string();
            view.problems = status.problems.clone();
            for member in &status.members {
                if let Some(c) = member.counters {
                    view.counters
                        .insert(member.name.clone(), [c.packets, c.bytes, c.drops]);
                }
            }
        }
        None => view.problems.push(format!(
            "no hub with these members (run patchwire up {}{})",
            file.path,
            host.map(|h| format!(" --host {h}")).unwrap_or_default()
        )),
    }
}

/// A port that reaches its endpoint through a stub (a VM's tap, an existing interface) has a
/// second wire, inside the node's namespace: the link is only as healthy as both. A VM link
/// with no VM attached is degraded (`tap1 has no carrier`), as plain `show` says there.
fn inner_wires(
    desired: &Desired,
    ports: &[String],
    cache: &mut BTreeMap<String, Vec<wire::WireStatus>>,
    view: &mut LinkView,
) -> Result<(), LabError> {
    for name in ports {
        let Some(port) = desired.ports.get(name) else {
            continue;
        };
        let Reach::Stub { stub, .. } = &port.reach else {
            continue;
        };
        let Some((home, _)) = desired.far_end(port) else {
            continue;
        };
        if !cache.contains_key(&home) {
            let wires = match Netns::open(Some(&home)) {
                Ok(netns) => wire::show(netns)?,
                Err(_) => Vec::new(),
            };
            cache.insert(home.clone(), wires);
        }
        match cache[&home].iter().find(|w| w.involves(stub)) {
            Some(inner) => {
                if rank(&inner.health.to_string()) > rank(&view.health) {
                    view.health = inner.health.to_string();
                }
                view.problems.extend(
                    inner
                        .problems
                        .iter()
                        .map(|p| format!("{p} (in netns {home})")),
                );
                // Where the frames to an idle tap are dropped: the second wire's counters,
                // named `NETNS:IF` for what each end sent into it.
                for (end, counters) in
                    [(&inner.a.name, inner.a_to_b), (&inner.b.name, inner.b_to_a)]
                {
                    if let Some(c) = counters {
                        view.counters
                            .insert(format!("{home}:{end}"), [c.packets, c.bytes, c.drops]);
                    }
                }
            }
            None => {
                view.health = "broken".into();
                view.problems.push(format!(
                    "{} is not wired to its stub {stub} in netns {home}",
                    port.endpoint
                        .as_ref()
                        .map_or_else(|| name.clone(), |e| e.interface.clone())
                ));
            }
        }
    }
    Ok(())
}

fn rank(health: &str) -> u8 {
    match health {
        "ok" => 0,
        "degraded" => 1,
        _ => 2,
    }
}

/// The repairs `show` suggests (`patchwire unlink r2.eth1`, `patchwire link a b`) need
/// `-n LAB.panel` and would fight the lab: in a lab, `up` is the repair.
fn lab_repair(problem: &str, path: &str, host: Option<&str>) -> String {
    let host = host.map(|h| format!(" --host {h}")).unwrap_or_default();
    let up = format!("patchwire up {path}{host}");
    for cut in [
        // `patchwire unlink …` or `patchwire -n NS unlink …`: cut before the command.
        "; remove the remains with: patchwire ",
        "; switch that direction to bpf_redirect in place with: patchwire ",
        " (repair: patchwire ",
    ] {
        if let Some(at) = problem.find(cut) {
            return format!("{} (repair: {up})", &problem[..at]);
        }
    }
    problem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_link_is_repaired_by_up_not_by_link_or_unlink() {
        assert_eq!(
            lab_repair(
                "b.e1 is gone (deleted, or moved to another netns): mirred drops everything a.e1 \
                 receives; remove the remains with: patchwire -n t1.panel unlink a.e1",
                "t1.yaml",
                None
            ),
            "b.e1 is gone (deleted, or moved to another netns): mirred drops everything a.e1 \
             receives (repair: patchwire up t1.yaml)"
        );
        assert_eq!(
            lab_repair(
                "only a -> b is installed; b -> a is missing (repair: patchwire link a b)",
                "t1.yaml",
                Some("h1")
            ),
            "only a -> b is installed; b -> a is missing (repair: patchwire up t1.yaml --host h1)"
        );
        assert_eq!(
            lab_repair("tap1 has no carrier", "t1.yaml", None),
            "tap1 has no carrier"
        );
    }
}

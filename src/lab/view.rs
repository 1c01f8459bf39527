//! The lab seen from the kernel: every link of the file with its endpoints, what it is made of,
//! its health and counters (`show --lab`), and the same as a picture (`graph`: Graphviz DOT or
//! Mermaid), hubs drawn as segments, links marked broken or degraded.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::LabError;
use super::desired::{Desired, Reach};
use super::file::LabFile;
use super::names;
use crate::hub;
use crate::netns::Netns;
use crate::wire;

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
    /// Frames each local endpoint sent into the link (port name -> packets, bytes, drops).
    pub counters: BTreeMap<String, [u64; 3]>,
    /// The file line of the link.
    pub line: usize,
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
    for link in &file.links {
        let local: Vec<String> = link
            .endpoints
            .iter()
            .filter(|e| desired.ports.contains_key(&names::port(e)))
            .map(names::port)
            .collect();
        let endpoints: Vec<String> = link.endpoints.iter().map(ToString::to_string).collect();
        if link.endpoints.len() == 2 {
            if let (Some(port), Some(endpoint)) = (
                local.first(),
                link.endpoints
                    .iter()
                    .find(|e| local.contains(&names::port(e))),
            ) {
                points.push((
                    desired.panel.clone(),
                    port.clone(),
                    format!(
                        "wire {} (inbound: sent by {endpoint})",
                        endpoints.join(" <-> ")
                    ),
                ));
            }
        } else {
            for endpoint in link
                .endpoints
                .iter()
                .filter(|e| local.contains(&names::port(e)))
            {
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

/// Every link of the file as the kernel holds it on this host: what it is made of, its health and
/// counters (`show --lab`). A lab that is not up shows its links as `missing`.
pub fn show(file: &LabFile, host: Option<&str>) -> Result<Vec<LinkView>, LabError> {
    let desired = Desired::from_file(file, host)?;
    let panel = Netns::open(Some(&desired.panel)).ok();
    let (wires, hubs) = match &panel {
        Some(panel) => (
            wire::show(panel.try_clone()?)?,
            hub::show(panel.try_clone()?)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    let mut views = Vec::new();
    let mut inner = BTreeMap::new();
    for link in &file.links {
        let ports: Vec<String> = link
            .endpoints
            .iter()
            .filter(|e| desired.ports.contains_key(&names::port(e)))
            .map(names::port)
            .chain(
                desired
                    .ports
                    .values()
                    .filter(|p| {
                        p.endpoint.is_none()
                            && p.name
                                == names::vxlan_port(
                                    link.vni
                                        .unwrap_or_else(|| names::vni(&file.name, &link.endpoints)),
                                )
                    })
                    .map(|p| p.name.clone()),
            )
            .collect();
        let over_vxlan = ports.iter().any(|p| p.starts_with("vx."));
        let mut view = LinkView {
            endpoints: link.endpoints.iter().map(ToString::to_string).collect(),
            kind: String::new(),
            health: "missing".into(),
            problems: Vec::new(),
            counters: BTreeMap::new(),
            line: link.line,
        };
        view.kind = match (ports.len(), over_vxlan) {
            (0, _) => "elsewhere".into(),
            (2, false) => "wire".into(),
            (2, true) => "wire over vxlan".into(),
            (_, false) => "hub".into(),
            (_, true) => "hub over vxlan".into(),
        };
        if ports.len() == 2 {
            if let Some(status) = wires.iter().find(|w| {
                ports.contains(&w.a.name) && w.involves(&ports[0]) && w.involves(&ports[1])
            }) {
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
            } else {
                view.problems.push(format!(
                    "not wired (run patchwire up {}{})",
                    file.path,
                    host.map(|h| format!(" --host {h}")).unwrap_or_default()
                ));
            }
        } else if ports.len() > 2 {
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
        } else {
            view.health = "elsewhere".into();
        }
        if view.health != "missing" && view.health != "elsewhere" {
            inner_wires(&desired, &ports, &mut inner, &mut view)?;
        }
        for problem in &mut view.problems {
            *problem = lab_repair(problem, &file.path, host);
        }
        views.push(view);
    }
    Ok(views)
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
        "; remove the remains with: patchwire unlink",
        " (repair: patchwire link",
    ] {
        if let Some(at) = problem.find(cut) {
            return format!("{} (repair: {up})", &problem[..at]);
        }
    }
    problem.to_string()
}

/// The picture's language for [`graph`]: `Dot` (Graphviz DOT) or `Mermaid`.
// The variants have no doc comments on purpose: clap's ValueEnum would make them each value's
// help text, changing `patchwire graph --help`, the man pages and the completions.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// The lab as a picture: nodes as boxes, wires as edges labelled with their interfaces, hubs
/// as small segment nodes joined to their members, links coloured by health (from the kernel
/// when the lab is up on this host).
pub fn graph(file: &LabFile, host: Option<&str>, format: GraphFormat) -> Result<String, LabError> {
    let views = show(file, host)?;
    let mut text = String::new();
    let color = |health: &str| match health {
        "broken" => "red",
        "degraded" => "orange",
        "missing" => "gray",
        _ => "black",
    };
    // Node names may hold '-' and start with a digit: DOT gets them quoted, Mermaid (whose
    // ids are plain words) gets n0, n1, … with the name as the label.
    let index: BTreeMap<&str, usize> = file
        .nodes
        .keys()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let id = |node: &str| match format {
        GraphFormat::Dot => format!("\"{node}\""),
        GraphFormat::Mermaid => format!("n{}", index.get(node).copied().unwrap_or(usize::MAX)),
    };
    match format {
        GraphFormat::Dot => {
            let _ = writeln!(text, "graph \"{}\" {{", file.name);
            let _ = writeln!(text, "  node [shape=box];");
            for node in file.nodes.keys() {
                let _ = writeln!(text, "  {} [label=\"{node}\"];", id(node));
            }
            for (i, view) in views.iter().enumerate() {
                let style = format!("color={}", color(&view.health));
                let ends: Vec<(&str, &str)> = view
                    .endpoints
                    .iter()
                    .filter_map(|e| e.split_once(':'))
                    .collect();
                if ends.len() == 2 {
                    let _ = writeln!(
                        text,
                        "  {} -- {} [taillabel=\"{}\", headlabel=\"{}\", {style}];",
                        id(ends[0].0),
                        id(ends[1].0),
                        ends[0].1,
                        ends[1].1
                    );
                } else {
                    let hub = format!("segment{}", i + 1);
                    let _ = writeln!(text, "  {hub} [shape=point, width=0.15, {style}];");
                    for (node, interface) in ends {
                        let _ = writeln!(
                            text,
                            "  {} -- {hub} [taillabel=\"{interface}\", {style}];",
                            id(node)
                        );
                    }
                }
            }
            text.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            text.push_str("graph LR\n");
            for node in file.nodes.keys() {
                let _ = writeln!(text, "  {}[\"{node}\"]", id(node));
            }
            let mut styles = Vec::new();
            let mut edge = 0;
            for (i, view) in views.iter().enumerate() {
                let ends: Vec<(&str, &str)> = view
                    .endpoints
                    .iter()
                    .filter_map(|e| e.split_once(':'))
                    .collect();
                let mut edges = Vec::new();
                if ends.len() == 2 {
                    edges.push(format!(
                        "  {} ---|\"{} - {}\"| {}",
                        id(ends[0].0),
                        ends[0].1,
                        ends[1].1,
                        id(ends[1].0)
                    ));
                } else {
                    let hub = format!("segment{}", i + 1);
                    let _ = writeln!(text, "  {hub}((\" \"))");
                    for (node, interface) in ends {
                        edges.push(format!("  {} ---|\"{interface}\"| {hub}", id(node)));
                    }
                }
                for line in edges {
                    text.push_str(&line);
                    text.push('\n');
                    if view.health != "ok" {
                        styles.push(format!("  linkStyle {edge} stroke:{}", color(&view.health)));
                    }
                    edge += 1;
                }
            }
            for style in styles {
                text.push_str(&style);
                text.push('\n');
            }
        }
    }
    Ok(text)
}

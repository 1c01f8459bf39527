//! `graph`: the lab as a picture, in Graphviz DOT or Mermaid, drawn from what `show --lab`
//! sees — nodes by kind, hubs as segments, mirrors as arrows, links coloured by health, and
//! a legend.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{LinkView, show_with};
use crate::lab::LabError;
use crate::lab::file::{LabFile, MirrorSide, NetnsRef, NodeKind};
use crate::lab::names;

/// The picture's language for [`graph`]: `Dot` (Graphviz DOT) or `Mermaid`.
// The variants have no doc comments on purpose: clap's ValueEnum would make them each value's
// help text, changing `patchwire graph --help`, the man pages and the completions.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// The lab as a picture: namespaces as boxes, VMs as 3-D boxes, existing namespaces as dashed
/// boxes (with the namespace), hubs as small diamonds joined to their members, mirrors as
/// dotted arrows to their analyzer, each host of a lab over several machines as a frame.
/// Every edge is labelled with its endpoints (`r1:eth1` / `r2:eth1`, laid out by the graph
/// tool, so dense labs do not pile labels on each other); links are coloured by their health
/// in the kernel of this host (black ok, orange degraded, red broken, grey not up), and links
/// wholly on another host are dashed grey: this host cannot see them. A legend says so.
pub fn graph(file: &LabFile, host: Option<&str>, format: GraphFormat) -> Result<String, LabError> {
    // As `show --lab` sees it: links of a node whose container is stopped, gone or restarted
    // are broken (the runtime holding the lab's containers is asked).
    let (views, _) = show_with(file, host, &crate::lab::Options::default())?;
    let picture = Picture::new(file, &views);
    Ok(match format {
        GraphFormat::Dot => picture.dot(),
        GraphFormat::Mermaid => picture.mermaid(),
    })
}

/// What is drawn, shared by both formats.
struct Picture<'a> {
    file: &'a LabFile,
    views: &'a [LinkView],
}

/// How a node is drawn.
enum Shape {
    Namespace,
    Vm,
    Existing(String),
    /// A Linux bridge of the host's (`kind: bridge`).
    Bridge,
    /// The host's namespace (`kind: host`, and the host side of `type: host` links).
    Host,
    /// A transparent segment (`kind: hub`).
    Hub,
}

const LEGEND_EDGES: [(&str, &str, bool); 5] = [
    ("ok", "black", false),
    ("degraded", "orange", false),
    ("broken", "red", false),
    ("not up", "gray", false),
    ("on another host", "gray", true),
];

fn color(health: &str) -> &'static str {
    match health {
        "ok" => "black",
        "broken" => "red",
        "degraded" => "orange",
        _ => "gray",
    }
}

impl<'a> Picture<'a> {
    fn new(file: &'a LabFile, views: &'a [LinkView]) -> Picture<'a> {
        Picture { file, views }
    }

    fn shape(&self, node: &str) -> Shape {
        let Some(spec) = self.file.nodes.get(node) else {
            return Shape::Host;
        };
        match (&spec.kind, &spec.netns) {
            (NodeKind::Vm(_), _) => Shape::Vm,
            (NodeKind::Bridge, _) => Shape::Bridge,
            (NodeKind::Host, _) => Shape::Host,
            (NodeKind::Hub, _) => Shape::Hub,
            (_, Some(netns)) => Shape::Existing(match netns {
                NetnsRef::Name(n) | NetnsRef::Path(n) => n.clone(),
                NetnsRef::Pid(pid) => format!("pid {pid}"),
            }),
            _ => Shape::Namespace,
        }
    }

    /// Nodes grouped by host (one group, `None`, for a lab on one machine); the host node of
    /// `type: host` links too when the file has none.
    fn by_host(&self) -> BTreeMap<Option<&'a str>, Vec<&'a str>> {
        let mut groups: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
        for (name, node) in &self.file.nodes {
            groups
                .entry(node.host.as_deref())
                .or_default()
                .push(name.as_str());
        }
        let host_sides = self
            .views
            .iter()
            .flat_map(|v| &v.endpoints)
            .any(|e| e.split_once(':').map(|(n, _)| n) == Some(names::HOST_NODE));
        if host_sides && !self.file.nodes.contains_key(names::HOST_NODE) {
            groups.entry(None).or_default().push(names::HOST_NODE);
        }
        groups
    }

    fn host_label(&self, host: &str) -> String {
        self.file.hosts.iter().find(|(h, _)| h == host).map_or_else(
            || format!("host {host}"),
            |(_, spec)| format!("host {host} ({})", spec.address),
        )
    }

    /// (color, dashed) of a link.
    fn style(view: &LinkView) -> (&'static str, bool) {
        match view.health.as_str() {
            "elsewhere" => ("gray", true),
            health => (color(health), false),
        }
    }

    fn dot(&self) -> String {
        let mut text = String::new();
        let q = dot_quoted;
        let _ = writeln!(text, "graph {} {{", q(&self.file.name));
        text.push_str("  graph [fontname=\"sans-serif\", nodesep=0.5, ranksep=0.9];\n");
        text.push_str("  node [shape=box, fontname=\"sans-serif\"];\n");
        text.push_str("  edge [fontname=\"sans-serif\", fontsize=9];\n");
        self.dot_nodes(&mut text);
        for (i, view) in self.views.iter().enumerate() {
            let (color, dashed) = Self::style(view);
            let dash = if dashed { ", style=dashed" } else { "" };
            let ends: Vec<(&str, &str)> = view
                .endpoints
                .iter()
                .filter_map(|e| e.split_once(':'))
                .collect();
            if ends.len() == 1 {
                // An interface in its node (macvlan, dummy): drawn to a plain label of what.
                let what = q(&format!("ext.{}", i + 1));
                let _ = writeln!(text, "  {what} [label={}, shape=plaintext];", q(&view.kind));
                let _ = writeln!(
                    text,
                    "  {} -- {what} [label={}, color={color}, fontcolor={color}{dash}];",
                    q(ends[0].0),
                    q(&view.endpoints[0])
                );
            } else if ends.len() == 2 {
                let _ = writeln!(
                    text,
                    "  {} -- {} [label={}, color={color}, fontcolor={color}{dash}];",
                    q(ends[0].0),
                    q(ends[1].0),
                    q(&format!("{}\n{}", view.endpoints[0], view.endpoints[1]))
                );
            } else {
                // `.` cannot be in a node's name: no clash with the lab's nodes.
                let hub = q(&format!("hub.{}", i + 1));
                let _ = writeln!(
                    text,
                    "  {hub} [label=\"hub\", shape=diamond, fontsize=8, width=0.3, height=0.3, \
                     color={color}{dash}];"
                );
                for (endpoint, (node, _)) in view.endpoints.iter().zip(&ends) {
                    let _ = writeln!(
                        text,
                        "  {} -- {hub} [label={}, color={color}, fontcolor={color}{dash}];",
                        q(node),
                        q(endpoint)
                    );
                }
            }
        }
        for mirror in &self.file.mirrors {
            for from in &mirror.from {
                let _ = writeln!(
                    text,
                    "  {} -- {} [dir=forward, style=dotted, color=blue, fontcolor=blue, \
                     label={}];",
                    q(&from.node),
                    q(&mirror.to.node),
                    q(&format!(
                        "mirror {}\n{from} -> {} ({})",
                        mirror.name,
                        mirror.to,
                        side(mirror.direction)
                    ))
                );
            }
        }
        dot_legend(&mut text);
        text
    }

    /// The nodes, in a cluster per host when there are hosts.
    fn dot_nodes(&self, text: &mut String) {
        let q = dot_quoted;
        for (host, nodes) in self.by_host() {
            let indent = match host {
                Some(host) => {
                    let _ = writeln!(
                        text,
                        "  subgraph {} {{\n    label={};\n    style=rounded;",
                        q(&format!("cluster_host_{host}")),
                        q(&self.host_label(host))
                    );
                    "    "
                }
                None => "  ",
            };
            for node in nodes {
                let attributes = match self.shape(node) {
                    Shape::Namespace => format!("label={}", q(node)),
                    Shape::Vm => format!("label={}, shape=box3d", q(&format!("{node}\n(VM)"))),
                    Shape::Existing(netns) => format!(
                        "label={}, style=dashed",
                        q(&format!("{node}\n(netns {netns})"))
                    ),
                    Shape::Bridge => format!(
                        "label={}, shape=hexagon",
                        q(&format!("{node}\n(Linux bridge)"))
                    ),
                    Shape::Host => format!(
                        "label={}, shape=house",
                        q(&format!("{node}\n(host namespace)"))
                    ),
                    Shape::Hub => format!("label={}, shape=diamond", q(&format!("{node}\n(hub)"))),
                };
                let _ = writeln!(text, "{indent}{} [{attributes}];", q(node));
            }
            if host.is_some() {
                text.push_str("  }\n");
            }
        }
    }

    fn mermaid(&self) -> String {
        // Node names may hold '-' and start with a digit; Mermaid ids are plain words: n0, n1,
        // … with the name as the label.
        let index: BTreeMap<&str, usize> = self
            .file
            .nodes
            .keys()
            .map(String::as_str)
            .chain([names::HOST_NODE])
            .enumerate()
            .map(|(i, n)| (n, i))
            .collect();
        let id = |node: &str| format!("n{}", index.get(node).copied().unwrap_or(usize::MAX));
        let mut text = String::from("graph LR\n");
        for (host, nodes) in self.by_host() {
            if let Some(host) = host {
                let _ = writeln!(
                    text,
                    "  subgraph host_{host}[\"{}\"]",
                    self.host_label(host)
                );
            }
            for node in nodes {
                let _ = match self.shape(node) {
                    Shape::Namespace => writeln!(text, "  {}[\"{node}\"]", id(node)),
                    Shape::Vm => writeln!(text, "  {}[[\"{node} (VM)\"]]", id(node)),
                    Shape::Existing(netns) => {
                        writeln!(text, "  {}[/\"{node} (netns {netns})\"/]", id(node))
                    }
                    Shape::Bridge => {
                        writeln!(text, "  {}{{{{\"{node} (Linux bridge)\"}}}}", id(node))
                    }
                    Shape::Host => writeln!(text, "  {}[(\"{node} (host namespace)\")]", id(node)),
                    Shape::Hub => writeln!(text, "  {}{{\"{node} (hub)\"}}", id(node)),
                };
            }
            if host.is_some() {
                text.push_str("  end\n");
            }
        }
        let mut edges = MermaidEdges::default();
        for (i, view) in self.views.iter().enumerate() {
            let (color, dashed) = Self::style(view);
            let line = if dashed { "-.-" } else { "---" };
            let style = (color != "black").then(|| format!("stroke:{color}"));
            let ends: Vec<&str> = view
                .endpoints
                .iter()
                .filter_map(|e| e.split_once(':').map(|(n, _)| n))
                .collect();
            if ends.len() == 1 {
                let what = format!("ext{}", i + 1);
                let _ = writeln!(text, "  {what}[\"{}\"]", view.kind);
                edges.push(
                    &mut text,
                    format!("  {} {line}|\"{}\"| {what}", id(ends[0]), view.endpoints[0]),
                    style,
                );
            } else if ends.len() == 2 {
                edges.push(
                    &mut text,
                    format!(
                        "  {} {line}|\"{} - {}\"| {}",
                        id(ends[0]),
                        view.endpoints[0],
                        view.endpoints[1],
                        id(ends[1])
                    ),
                    style,
                );
            } else {
                let hub = format!("hub{}", i + 1);
                let _ = writeln!(text, "  {hub}{{\"hub\"}}");
                for (endpoint, node) in view.endpoints.iter().zip(&ends) {
                    edges.push(
                        &mut text,
                        format!("  {} {line}|\"{endpoint}\"| {hub}", id(node)),
                        style.clone(),
                    );
                }
            }
        }
        for mirror in &self.file.mirrors {
            for from in &mirror.from {
                edges.push(
                    &mut text,
                    format!(
                        "  {} -. \"mirror {}: {from} -> {} ({})\" .-> {}",
                        id(&from.node),
                        mirror.name,
                        mirror.to,
                        side(mirror.direction),
                        id(&mirror.to.node)
                    ),
                    Some("stroke:blue".into()),
                );
            }
        }
        mermaid_legend(&mut text, &mut edges);
        for style in edges.styles {
            text.push_str(&style);
            text.push('\n');
        }
        text
    }
}

/// Quoted, with DOT's escapes; `\n` breaks a label's line.
fn dot_quoted(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// The DOT legend: one sample of each node and edge kind.
fn dot_legend(text: &mut String) {
    text.push_str(
        "  subgraph cluster_legend {\n    label=\"legend\";\n    fontsize=10;\n    \
         node [fontsize=9];\n    \
         \"legend.ns\" [label=\"namespace\"];\n    \
         \"legend.vm\" [label=\"VM\", shape=box3d];\n    \
         \"legend.existing\" [label=\"existing netns\", style=dashed];\n    \
         \"legend.hub\" [label=\"hub\", shape=diamond, fontsize=8, width=0.3, height=0.3];\n",
    );
    for (i, (label, color, dashed)) in LEGEND_EDGES.iter().enumerate() {
        let dash = if *dashed { ", style=dashed" } else { "" };
        let _ = writeln!(
            text,
            "    \"legend.{i}a\" [shape=point, width=0.05];\n    \
             \"legend.{i}b\" [shape=point, width=0.05];\n    \
             \"legend.{i}a\" -- \"legend.{i}b\" [label=\"{label}\", color={color}{dash}];"
        );
    }
    text.push_str(
        "    \"legend.ma\" [shape=point, width=0.05];\n    \
         \"legend.mb\" [shape=point, width=0.05];\n    \
         \"legend.ma\" -- \"legend.mb\" [label=\"mirror\", dir=forward, style=dotted, color=blue];\n  \
         }\n}\n",
    );
}

/// Mermaid's edges as they are written: `linkStyle` names an edge by its number.
#[derive(Default)]
struct MermaidEdges {
    styles: Vec<String>,
    edge: usize,
}

impl MermaidEdges {
    fn push(&mut self, text: &mut String, line: String, style: Option<String>) {
        text.push_str(&line);
        text.push('\n');
        if let Some(style) = style {
            self.styles
                .push(format!("  linkStyle {} {style}", self.edge));
        }
        self.edge += 1;
    }
}

/// The Mermaid legend: one sample of each node and edge kind.
fn mermaid_legend(text: &mut String, edges: &mut MermaidEdges) {
    text.push_str(
        "  subgraph legend[\"legend\"]\n    \
         legend_ns[\"namespace\"]\n    \
         legend_vm[[\"VM\"]]\n    \
         legend_existing[/\"existing netns\"/]\n    \
         legend_hub{\"hub\"}\n",
    );
    for (i, (label, color, dashed)) in LEGEND_EDGES.iter().enumerate() {
        let line = if *dashed { "-.-" } else { "---" };
        edges.push(
            text,
            format!("    legend_{i}a[\" \"] {line}|\"{label}\"| legend_{i}b[\" \"]"),
            (*color != "black").then(|| format!("stroke:{color}")),
        );
    }
    edges.push(
        text,
        "    legend_ma[\" \"] -. \"mirror\" .-> legend_mb[\" \"]".into(),
        Some("stroke:blue".into()),
    );
    text.push_str("  end\n");
}

fn side(direction: MirrorSide) -> &'static str {
    match direction {
        MirrorSide::Tx => "tx",
        MirrorSide::Rx => "rx",
        MirrorSide::Both => "both",
    }
}

//! The first pass over a lab file, on its plain YAML tree, so that a file's mistakes come all
//! at once rather than one per run: every unknown key (with a suggestion from the keys of its
//! own place), every node of a vendor's kind (in one message), every endpoint naming an
//! undefined node. It also gathers the notes: each key accepted but not acted on, named once
//! with where it is used. Positions are found afterwards by `locate`, one walk per problem.

use std::collections::BTreeSet;

use serde_norway::{Mapping, Value};

use super::check::undefined_node_named;
use super::clab::{KINDS, Kind, classify};
use super::errors::unknown_key;
use super::keys::*;
use super::locate::{Seg, key};
use super::values::LinkType;

/// Something wrong at a place: where (`segs`, at the key itself with `at_key`) and what.
pub(super) struct Problem {
    pub(super) segs: Vec<Seg>,
    pub(super) at_key: bool,
    pub(super) message: String,
}

/// A key accepted but not acted on, and where it is used.
struct Note {
    key: String,
    why: &'static str,
    used: Vec<String>,
}

#[derive(Default)]
pub(super) struct Scan {
    pub(super) problems: Vec<Problem>,
    notes: Vec<Note>,
    /// Nodes of a kind patchwire does not run (vendor, unknown, refused): their links'
    /// endpoints follow the vendor's naming (`1/1/c1/1`), not Linux's, and are not checked.
    pub(super) unrun: Vec<String>,
}

/// The brief-form node names containerlab reads as a link type (links/link_brief.go), unless
/// the file defines a node of that name.
pub(super) const SPECIAL_NODES: &[&str] = &["host", "mgmt-net", "macvlan"];

impl Scan {
    /// The notes, one per key: "patchwire does not do `KEY` (where): why".
    pub(super) fn notes(&self) -> Vec<String> {
        self.notes
            .iter()
            .map(|n| {
                format!(
                    "patchwire does not do `{}` ({}): {}",
                    n.key,
                    n.used.join(", "),
                    n.why
                )
            })
            .collect()
    }

    fn note(&mut self, key: &str, why: &'static str, used: String) {
        match self.notes.iter_mut().find(|n| n.key == key) {
            Some(n) => {
                if !n.used.contains(&used) {
                    n.used.push(used);
                }
            }
            None => self.notes.push(Note {
                key: key.to_string(),
                why,
                used: vec![used],
            }),
        }
    }

    /// Refuses the keys of `map` not in `known`; notes those in `noted`.
    fn keys(
        &mut self,
        map: &Mapping,
        segs: &[Seg],
        context: &str,
        known: &[&str],
        noted: &[(&str, &'static str)],
        used: &dyn Fn() -> String,
    ) {
        for k in map.keys() {
            let Some(k) = k.as_str() else { continue };
            if !known.contains(&k) {
                let mut at = segs.to_vec();
                at.push(key(k));
                self.problems.push(Problem {
                    segs: at,
                    at_key: true,
                    message: unknown_key(k, context, known),
                });
            } else if let Some(why) = super::keys::noted(noted, k) {
                self.note(k, why, used());
            }
        }
    }
}

fn get<'v>(map: &'v Mapping, k: &str) -> Option<&'v Value> {
    map.get(Value::String(k.to_string()))
}

fn str_of<'v>(map: &'v Mapping, k: &str) -> Option<&'v str> {
    get(map, k).and_then(Value::as_str)
}

fn entries(value: Option<&Value>) -> Vec<(&str, Option<&Mapping>)> {
    value
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?, v.as_mapping())))
                .collect()
        })
        .unwrap_or_default()
}

/// Scans the document; `line` gives the line a walk leads to, for the vendor message.
pub(super) fn scan(doc: &Value, line: &dyn Fn(&[Seg]) -> usize) -> Scan {
    let mut s = Scan::default();
    let Some(top) = doc.as_mapping() else {
        return s;
    };
    s.keys(top, &[], "at the top level", TOP, TOP_NOTED, &|| {
        "top level".into()
    });
    if let Some(mgmt) = get(top, "mgmt").and_then(Value::as_mapping) {
        s.keys(mgmt, &[key("mgmt")], "in mgmt", MGMT, MGMT_NOTED, &|| {
            "mgmt".into()
        });
    }
    if let Some(d) = get(top, "defaults").and_then(Value::as_mapping) {
        s.keys(
            d,
            &[key("defaults")],
            "in defaults",
            DEFAULTS,
            &[],
            &String::new,
        );
        if let Some(i) = get(d, "impair").and_then(Value::as_mapping) {
            let segs = [key("defaults"), key("impair")];
            s.keys(i, &segs, "in an impairment", IMPAIR, &[], &String::new);
        }
    }
    if let Some(v) = get(top, "vxlan").and_then(Value::as_mapping) {
        s.keys(v, &[key("vxlan")], "in vxlan", VXLAN, &[], &String::new);
    }
    for (name, host) in entries(get(top, "hosts")) {
        if let Some(host) = host {
            let segs = [key("hosts"), key(name)];
            s.keys(
                host,
                &segs,
                &format!("in host {name}"),
                HOST,
                &[],
                &String::new,
            );
        }
    }
    let Some(topology) = get(top, "topology").and_then(Value::as_mapping) else {
        return s;
    };
    s.keys(
        topology,
        &[key("topology")],
        "in topology",
        TOPOLOGY,
        &[],
        &String::new,
    );
    let t = |k: &str| vec![key("topology"), key(k)];
    if let Some(d) = get(topology, "defaults").and_then(Value::as_mapping) {
        s.node(
            d,
            t("defaults"),
            "in topology.defaults",
            "topology.defaults",
        );
    }
    for (place, what) in [("kinds", "kind"), ("groups", "group")] {
        for (name, def) in entries(get(topology, place)) {
            if let Some(def) = def {
                let mut segs = t(place);
                segs.push(key(name));
                s.node(
                    def,
                    segs,
                    &format!("in {what} {name}"),
                    &format!("{what} {name}"),
                );
            }
        }
    }
    let nodes = entries(get(topology, "nodes"));
    for (name, _) in &nodes {
        if let Some(why) = super::raw::bridge_in_node(name) {
            s.problems.push(Problem {
                segs: vec![key("topology"), key("nodes"), key(name)],
                at_key: true,
                message: why,
            });
        }
    }
    for (name, node) in &nodes {
        if let Some(node) = node {
            let mut segs = t("nodes");
            segs.push(key(name));
            s.node(
                node,
                segs,
                &format!("in node {name}"),
                &format!("node {name}"),
            );
        }
    }
    s.kinds(topology, &nodes, line);
    let names: Vec<&str> = nodes.iter().map(|(n, _)| *n).collect();
    let defined: BTreeSet<&str> = names.iter().copied().collect();
    if let Some(links) = get(topology, "links").and_then(Value::as_sequence) {
        for (i, link) in links.iter().enumerate() {
            if let Some(link) = link.as_mapping() {
                s.link(link, i, (&names, &defined), line);
            }
        }
    }
    if let Some(mirrors) = get(topology, "mirrors").and_then(Value::as_sequence) {
        for (i, mirror) in mirrors.iter().enumerate() {
            if let Some(mirror) = mirror.as_mapping() {
                let segs = [key("topology"), key("mirrors"), Seg::Index(i)];
                s.keys(mirror, &segs, "in a mirror", MIRROR, &[], &String::new);
            }
        }
    }
    s
}

impl Scan {
    fn node(&mut self, node: &Mapping, segs: Vec<Seg>, context: &str, used: &str) {
        self.keys(node, &segs, context, NODE, NODE_NOTED, &|| used.to_string());
        if let Some(netns) = get(node, "netns").and_then(Value::as_mapping) {
            let mut at = segs.clone();
            at.push(key("netns"));
            self.keys(netns, &at, "in `netns:`", &["pid"], &[], &String::new);
        }
    }

    /// Each node's kind, resolved as containerlab does (node, its group, the defaults' group,
    /// the defaults); every vendor node in one message, at the first.
    fn kinds(
        &mut self,
        topology: &Mapping,
        nodes: &[(&str, Option<&Mapping>)],
        line: &dyn Fn(&[Seg]) -> usize,
    ) {
        let defaults = get(topology, "defaults").and_then(Value::as_mapping);
        let groups = get(topology, "groups").and_then(Value::as_mapping);
        let group_kind = |g: Option<&str>| -> Option<&str> {
            let g = groups?.get(Value::String(g?.to_string()))?.as_mapping()?;
            str_of(g, "kind")
        };
        fn own_group(n: &Mapping) -> Option<&str> {
            (str_of(n, "kind") != Some("vm"))
                .then(|| str_of(n, "group"))
                .flatten()
        }
        let mut vendor: Vec<(String, String, Vec<Seg>, bool)> = Vec::new();
        for (name, node) in nodes {
            let kind = node
                .and_then(|n| str_of(n, "kind"))
                .or_else(|| group_kind(node.and_then(own_group)))
                .or_else(|| group_kind(defaults.and_then(own_group)))
                .or_else(|| defaults.and_then(|d| str_of(d, "kind")));
            let Some(kind) = kind else { continue };
            let own = node.and_then(|n| str_of(n, "kind")).is_some();
            let mut segs = vec![key("topology"), key("nodes"), key(name)];
            if own {
                segs.push(key("kind"));
            }
            if matches!(
                classify(kind),
                Kind::Vendor | Kind::Unknown | Kind::Refused(_)
            ) {
                self.unrun.push(name.to_string());
            }
            match classify(kind) {
                Kind::Vendor => vendor.push((name.to_string(), kind.to_string(), segs, !own)),
                Kind::Unknown => self.problems.push(Problem {
                    segs,
                    at_key: !own,
                    message: unknown_kind(name, kind),
                }),
                Kind::Refused(why) => self.problems.push(Problem {
                    segs,
                    at_key: !own,
                    message: format!("node {name}: kind `{kind}` is refused: {why}"),
                }),
                _ => {}
            }
        }
        let Some((_, _, first, at_key)) = vendor.first() else {
            return;
        };
        let listed: Vec<String> = vendor
            .iter()
            .map(|(name, kind, segs, _)| format!("{name} ({kind}, line {})", line(segs)))
            .collect();
        let (count, they) = match vendor.len() {
            1 => ("1 node has a kind".to_string(), "It is a vendor's kind"),
            n => (format!("{n} nodes have kinds"), "They are vendors' kinds"),
        };
        self.problems.push(Problem {
            segs: first.clone(),
            at_key: *at_key,
            message: format!(
                "{count} patchwire does not run: {}. {they}, whose bootstrapping \
                 (images, startup configuration, licences, management) is containerlab's \
                 trade: deploy them with containerlab, and wire their containers into a \
                 patchwire lab as nodes of `kind: ext-container`, each named as its container \
                 (clab-LAB-NODE). patchwire runs kinds {KINDS}",
                listed.join(", "),
            ),
        });
    }

    /// A link's keys and endpoints. The line of a link is looked for only when a note needs
    /// it: a walk per link would make a large file's reading quadratic.
    fn link(
        &mut self,
        link: &Mapping,
        i: usize,
        (names, defined): (&[&str], &BTreeSet<&str>),
        line: &dyn Fn(&[Seg]) -> usize,
    ) {
        let segs = vec![key("topology"), key("links"), Seg::Index(i)];
        let used = || format!("link on line {}", line(&segs));
        self.keys(link, &segs, "in a link", LINK, LINK_NOTED, &used);
        for (side, direction) in entries(get(link, "impair")) {
            if let Some(direction) = direction {
                let mut at = segs.clone();
                at.extend([key("impair"), key(side)]);
                self.keys(
                    direction,
                    &at,
                    "in an impairment",
                    IMPAIR,
                    &[],
                    &String::new,
                );
            }
        }
        if let Some(flap) = get(link, "flap").and_then(Value::as_mapping) {
            let mut at = segs.clone();
            at.push(key("flap"));
            self.keys(flap, &at, "in a flap", FLAP, &[], &String::new);
        }
        if let Some(Err(why)) = str_of(link, "type").map(LinkType::parse) {
            let mut at = segs.clone();
            at.push(key("type"));
            self.problems.push(Problem {
                segs: at,
                at_key: false,
                message: why,
            });
        }
        let typ = str_of(link, "type").map(|t| t.trim().to_ascii_lowercase());
        let veth = matches!(typ.as_deref(), None | Some("veth"));
        let check = |s: &mut Scan, value: &Value, at: Vec<Seg>| {
            let (node, shown) = match value {
                Value::String(text) => match text.split_once(':') {
                    Some((node, _)) if !node.is_empty() => (node.to_string(), text.clone()),
                    _ => return,
                },
                Value::Mapping(m) => {
                    s.keys(m, &at, "in an endpoint", ENDPOINT, ENDPOINT_NOTED, &used);
                    let Some(node) = str_of(m, "node") else {
                        return;
                    };
                    let interface = str_of(m, "interface").unwrap_or("");
                    (node.to_string(), format!("{node}:{interface}"))
                }
                _ => return,
            };
            let special = veth && SPECIAL_NODES.contains(&node.as_str());
            if !defined.contains(node.as_str()) && !special {
                s.problems.push(Problem {
                    segs: at,
                    at_key: false,
                    message: undefined_node_named(&shown, &node, names),
                });
            }
        };
        if let Some(endpoints) = get(link, "endpoints").and_then(Value::as_sequence) {
            for (j, e) in endpoints.iter().enumerate() {
                let mut at = segs.clone();
                at.extend([key("endpoints"), Seg::Index(j)]);
                check(self, e, at);
            }
        }
        if let Some(e) = get(link, "endpoint") {
            let mut at = segs.clone();
            at.push(key("endpoint"));
            check(self, e, at);
        }
    }
}

/// "node N: unknown kind `K` — did you mean `linux`?", suggesting only kinds patchwire runs.
pub(super) fn unknown_kind(node: &str, kind: &str) -> String {
    match crate::suggest::suggestion(kind, super::clab::KIND_NAMES) {
        Some(s) => format!("node {node}: unknown kind `{kind}` — did you mean `{s}`?"),
        None => format!(
            "node {node}: unknown kind `{kind}`: patchwire runs kinds {}, and refuses \
             containerlab's vendor kinds (nokia_srlinux, ceos, vr-*…)",
            super::clab::KINDS
        ),
    }
}

//! The first pass over a lab file, on its plain YAML tree, so that a file's mistakes come all
//! at once rather than one per run: every unknown key (with a suggestion from the keys of its
//! own place), every node of a vendor's kind (in one message), every endpoint naming an
//! undefined node or used twice, every `group:` that `groups:` does not define and every
//! `kinds:` entry of no known kind. It also gathers the notes: each key accepted but not acted on, named once
//! with where it is used. Positions are found afterwards by `locate`, one walk per problem.

use std::collections::{BTreeSet, HashMap};

use serde_norway::{Mapping, Value};

use super::Endpoint;
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
    /// The place is wrong (what is under it is not checked again, its errors would be
    /// consequences); false for a mistake that leaves the place's other checks to run (an
    /// endpoint given twice).
    pub(super) sets_aside: bool,
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
                    sets_aside: true,
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
                sets_aside: true,
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
    s.groups(topology, &nodes);
    let names: Vec<&str> = nodes.iter().map(|(n, _)| *n).collect();
    let defined: BTreeSet<&str> = names.iter().copied().collect();
    if let Some(links) = get(topology, "links").and_then(Value::as_sequence) {
        for (i, link) in links.iter().enumerate() {
            if let Some(link) = link.as_mapping() {
                s.link(link, i, (&names, &defined), line);
            }
        }
        s.duplicates(links, &defined, line);
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
                    sets_aside: true,
                    segs,
                    at_key: !own,
                    message: unknown_kind(name, kind),
                }),
                Kind::Refused(why) => self.problems.push(Problem {
                    sets_aside: true,
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
            sets_aside: true,
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
                sets_aside: true,
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
                    sets_aside: true,
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

impl Scan {
    /// Every endpoint used twice, in one link or in two, at its second use. Here, on the plain
    /// tree, rather than with the links' other checks: those wait for the file's values to
    /// read, and for the endpoint's node to be right, and an endpoint given twice is a mistake
    /// whatever else is wrong. (Endpoints of nodes patchwire does not run are named their
    /// vendor's way: their node's refusal says all there is.)
    fn duplicates(
        &mut self,
        links: &[Value],
        defined: &BTreeSet<&str>,
        line: &dyn Fn(&[Seg]) -> usize,
    ) {
        let link_at = |i: usize| vec![key("topology"), key("links"), Seg::Index(i)];
        let mut first: HashMap<Endpoint, usize> = HashMap::new();
        for (i, link) in links.iter().enumerate() {
            let Some(link) = link.as_mapping() else {
                continue;
            };
            let typ = str_of(link, "type").map(|t| t.trim().to_ascii_lowercase());
            let veth = matches!(typ.as_deref(), None | Some("veth"));
            let mut placed: Vec<(&Value, Vec<Seg>)> = Vec::new();
            if let Some(endpoints) = get(link, "endpoints").and_then(Value::as_sequence) {
                for (j, e) in endpoints.iter().enumerate() {
                    let mut at = link_at(i);
                    at.extend([key("endpoints"), Seg::Index(j)]);
                    placed.push((e, at));
                }
            }
            if let Some(e) = get(link, "endpoint") {
                let mut at = link_at(i);
                at.push(key("endpoint"));
                placed.push((e, at));
            }
            let mut here: Vec<Endpoint> = Vec::new();
            for (value, at) in placed {
                let endpoint = match value {
                    Value::String(text) => Endpoint::parse(text).ok(),
                    Value::Mapping(m) => match (str_of(m, "node"), str_of(m, "interface")) {
                        (Some(node), Some(interface)) => Endpoint::new(node, interface).ok(),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(endpoint) = endpoint else { continue };
                let node = endpoint.node.as_str();
                // `host:IF`, `mgmt-net:IF`, `macvlan:IF` of the brief form: a host's interface.
                let special = veth && SPECIAL_NODES.contains(&node) && !defined.contains(node);
                if special || self.unrun.iter().any(|n| n == node) {
                    continue;
                }
                if here.contains(&endpoint) {
                    self.problems.push(Problem {
                        sets_aside: false,
                        segs: at,
                        at_key: false,
                        message: format!("endpoint {endpoint} appears twice in this link"),
                    });
                    continue;
                }
                here.push(endpoint.clone());
                match first.get(&endpoint) {
                    Some(&f) => self.problems.push(Problem {
                        sets_aside: false,
                        message: format!(
                            "endpoint {endpoint} is in two links (lines {} and {})",
                            line(&link_at(f)),
                            line(&link_at(i))
                        ),
                        segs: at,
                        at_key: false,
                    }),
                    None => {
                        first.insert(endpoint, i);
                    }
                }
            }
        }
    }

    /// A `group:` that `groups:` does not define (a node's, a kind's, the defaults'), at its
    /// value; and a `kinds:` entry naming no kind patchwire or containerlab knows, at its key.
    /// (A `group:` of a `kind: vm` node is its taps' Unix group, not containerlab's.) A vendor
    /// or refused kind in `kinds:` is read and left alone: the nodes of that kind are refused,
    /// and a file may keep settings for kinds it does not use.
    fn groups(&mut self, topology: &Mapping, nodes: &[(&str, Option<&Mapping>)]) {
        let mut defined: Vec<&str> = entries(get(topology, "groups"))
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        defined.sort_unstable();
        let defaults = get(topology, "defaults").and_then(Value::as_mapping);
        let kinds = entries(get(topology, "kinds"));
        let kind_of = |n: &Mapping| -> Option<String> {
            let kind = str_of(n, "kind").or_else(|| defaults.and_then(|d| str_of(d, "kind")));
            kind.map(str::to_ascii_lowercase)
        };
        let mut places: Vec<(Vec<Seg>, String, &str)> = Vec::new();
        let t = |k: &str, name: Option<&str>| {
            let mut segs = vec![key("topology"), key(k)];
            segs.extend(name.map(key));
            segs.push(key("group"));
            segs
        };
        if let Some(d) = defaults
            && str_of(d, "kind").map(str::to_ascii_lowercase).as_deref() != Some("vm")
            && let Some(g) = str_of(d, "group")
        {
            places.push((t("defaults", None), "topology.defaults".into(), g));
        }
        for (kind, def) in &kinds {
            if classify(kind) == Kind::Unknown {
                self.problems.push(Problem {
                    sets_aside: true,
                    segs: vec![key("topology"), key("kinds"), key(kind)],
                    at_key: true,
                    message: unknown_kinds_entry(kind),
                });
                continue;
            }
            if classify(kind) != Kind::Vm
                && let Some(g) = def.and_then(|d| str_of(d, "group"))
            {
                places.push((t("kinds", Some(kind)), format!("kind {kind}"), g));
            }
        }
        for (name, node) in nodes {
            let Some(node) = node else { continue };
            if kind_of(node).as_deref() != Some("vm")
                && let Some(g) = str_of(node, "group")
            {
                let mut segs = t("nodes", Some(name));
                segs.pop();
                segs.push(key("group"));
                places.push((segs, format!("node {name}"), g));
            }
        }
        for (segs, whose, group) in places {
            if defined.contains(&group) {
                continue;
            }
            let message = match crate::suggest::suggestion(group, &defined) {
                Some(s) => format!(
                    "{whose}: group `{group}` is not defined in `groups:` — did you mean `{s}`?"
                ),
                None if defined.is_empty() => {
                    format!("{whose}: group `{group}` is not defined: the file has no `groups:`")
                }
                None => format!(
                    "{whose}: group `{group}` is not defined in `groups:` (groups: {})",
                    defined.join(", ")
                ),
            };
            self.problems.push(Problem {
                sets_aside: true,
                segs,
                at_key: false,
                message,
            });
        }
    }
}

/// "kind `linxu` in `kinds:` is unknown — did you mean `linux`?".
fn unknown_kinds_entry(kind: &str) -> String {
    match crate::suggest::suggestion(kind, super::clab::KIND_NAMES) {
        Some(s) => format!("`kinds:` names kind `{kind}`, which is unknown — did you mean `{s}`?"),
        None => format!(
            "`kinds:` names kind `{kind}`, which is unknown: patchwire runs kinds {}, and \
             containerlab's vendor kinds (nokia_srlinux, ceos, vr-*…) are accepted there",
            super::clab::KINDS
        ),
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

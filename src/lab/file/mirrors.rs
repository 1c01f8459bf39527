//! The mirrors' checks (`topology.mirrors`): names, sources and destination, one host, filters
//! libpcap compiles, and no frame that would reach a destination twice.

use std::collections::{BTreeMap, HashMap};

use crate::mirror::spec::{VlanSet, selections_overlap};

use super::check::{Check, undefined_node};
use super::locate::{Seg, item_positions, key};
use super::raw::RawMirror;
use super::values::{MirrorName, RawEndpoint, RawEndpoints};
use super::*;

impl Check<'_> {
    /// Checks `topology.mirrors`, one entry after the other, each against the lab and the
    /// mirrors before it.
    pub(super) fn mirrors(
        &self,
        raw: Vec<RawMirror>,
        nodes: &BTreeMap<String, NodeSpec>,
        links: &[LinkSpec],
        mtu: u32,
    ) -> Result<Vec<MirrorFileSpec>, LabFileError> {
        let mut checks = MirrorChecks {
            check: self,
            nodes,
            link_of: links
                .iter()
                .flat_map(|l| l.endpoints.iter().map(move |e| (e, l)))
                .collect(),
            mtu,
            positions: item_positions(self.text, "mirrors", raw.len()),
            named: HashMap::new(),
            copies: HashMap::new(),
            compiled: HashMap::new(),
            mirrors: Vec::with_capacity(raw.len()),
        };
        for (i, mirror) in raw.into_iter().enumerate() {
            let spec = checks.entry(i, mirror)?;
            checks.mirrors.push(spec);
        }
        Ok(checks.mirrors)
    }
}

/// The mirrors' checks: what they need of the lab, and what the mirrors checked so far hold.
struct MirrorChecks<'c, 'f> {
    check: &'c Check<'f>,
    nodes: &'c BTreeMap<String, NodeSpec>,
    /// The link of each endpoint.
    link_of: HashMap<&'c Endpoint, &'c LinkSpec>,
    /// The default MTU (`defaults.mtu`).
    mtu: u32,
    /// The line of each mirror's entry.
    /// Where each mirror's entry starts: line and column.
    positions: Vec<(usize, usize)>,
    /// The mirrors by name, for names used twice.
    named: HashMap<String, usize>,
    /// What each mirror copies to each destination, for frames that would arrive twice.
    copies: HashMap<(Endpoint, Stream), Vec<Copied>>,
    /// libpcap's verdict on each filter, asked once per filter.
    compiled: HashMap<String, Option<String>>,
    /// The mirrors checked so far.
    mirrors: Vec<MirrorFileSpec>,
}

/// The path to mirror `i`'s entry.
fn entry(i: usize) -> Vec<Seg> {
    vec![key("topology"), key("mirrors"), Seg::Index(i)]
}

/// The path to the value of key `k` of mirror `i`.
fn value(i: usize, k: &str) -> Vec<Seg> {
    let mut segs = entry(i);
    segs.push(key(k));
    segs
}

/// The path to the `j`th endpoint of mirror `i`'s `from`.
fn source(i: usize, j: usize) -> Vec<Seg> {
    let mut segs = value(i, "from");
    segs.push(Seg::Index(j));
    segs
}

impl MirrorChecks<'_, '_> {
    fn error(&self, segs: &[Seg], message: String) -> LabFileError {
        self.check.error(segs, false, message)
    }

    /// Checks mirror `i`, in the order its keys matter: name, sources, destination, host and
    /// the tap's MTU, filter, then the frames it copies against the mirrors before it.
    fn entry(&mut self, i: usize, mirror: RawMirror) -> Result<MirrorFileSpec, LabFileError> {
        let name = self.name(i, mirror.name)?;
        let from = self.sources(i, &name, mirror.from)?;
        let to = self.destination(i, &name, mirror.to, &from)?;
        self.one_host(i, &name, &from, &to)?;
        self.tap_mtu(&name, &to)?;
        if let Some(filter) = &mirror.filter {
            self.filter(i, &name, filter)?;
        }
        let direction = mirror.direction.map_or(MirrorSide::Both, |d| d.0);
        let vlans = mirror.vlan.map(|v| v.0);
        let copying = Copying {
            i,
            name: &name,
            from: &from,
            to: &to,
            direction,
            vlans: vlans.as_ref(),
        };
        self.copied_once(&copying)?;
        Ok(MirrorFileSpec {
            name,
            from,
            to,
            direction,
            vlans: vlans.as_ref().map(VlanSet::to_string),
            output_vlan: mirror.output_vlan.map(|v| v.0),
            filter: mirror.filter.clone(),
            line: self.positions[i].0,
            column: self.positions[i].1,
        })
    }

    /// `name:`: present, and not the name of an earlier mirror.
    fn name(&mut self, i: usize, name: Option<MirrorName>) -> Result<String, LabFileError> {
        let Some(MirrorName(name)) = name else {
            return Err(self.error(
                &entry(i),
                format!(
                    "missing key `name` in a mirror: every mirror has a name (1-{} \
                     characters from A-Z a-z 0-9 _ . -)",
                    crate::mirror::spec::NAME_MAX
                ),
            ));
        };
        if let Some(&first) = self.named.get(&name) {
            return Err(self.error(
                &value(i, "name"),
                format!(
                    "mirror {name} is defined twice (lines {} and {})",
                    self.positions[first].0, self.positions[i].0
                ),
            ));
        }
        self.named.insert(name.clone(), i);
        Ok(name)
    }

    /// `from:`: present, not empty, each endpoint of a defined node, once, and in a link.
    fn sources(
        &self,
        i: usize,
        name: &str,
        from: Option<RawEndpoints>,
    ) -> Result<Vec<Endpoint>, LabFileError> {
        let Some(RawEndpoints(from)) = from else {
            return Err(self.error(
                &entry(i),
                format!(
                    "missing key `from` in mirror {name}: the endpoints whose frames are copied"
                ),
            ));
        };
        if from.is_empty() {
            return Err(self.error(
                &value(i, "from"),
                format!("mirror {name} copies nothing: `from` needs at least one endpoint"),
            ));
        }
        for (j, endpoint) in from.iter().enumerate() {
            if !self.nodes.contains_key(&endpoint.node) {
                return Err(self.error(&source(i, j), undefined_node(endpoint, self.nodes)));
            }
            if from[..j].contains(endpoint) {
                return Err(self.error(
                    &source(i, j),
                    format!("endpoint {endpoint} appears twice in this mirror's `from`"),
                ));
            }
            if !self.link_of.contains_key(endpoint) {
                return Err(self.error(
                    &source(i, j),
                    format!(
                        "endpoint {endpoint} is in no link; a mirror copies what crosses a \
                         link's endpoint"
                    ),
                ));
            }
        }
        Ok(from)
    }

    /// `to:`: present, of a defined node, not one of the sources, and in no link.
    fn destination(
        &self,
        i: usize,
        name: &str,
        to: Option<RawEndpoint>,
        from: &[Endpoint],
    ) -> Result<Endpoint, LabFileError> {
        let Some(RawEndpoint(to, _)) = to else {
            return Err(self.error(
                &entry(i),
                format!("missing key `to` in mirror {name}: the analyzer's endpoint, in no link"),
            ));
        };
        if !self.nodes.contains_key(&to.node) {
            return Err(self.error(&value(i, "to"), undefined_node(&to, self.nodes)));
        }
        if from.contains(&to) {
            return Err(self.error(
                &value(i, "to"),
                format!(
                    "endpoint {to} is both in `from` and the `to` of mirror {name}: a mirror \
                     cannot copy to one of its sources"
                ),
            ));
        }
        if let Some(link) = self.link_of.get(&to) {
            return Err(self.error(
                &value(i, "to"),
                format!(
                    "{to} is an endpoint of the link on line {}; a mirror's destination \
                     must be in no link",
                    link.line
                ),
            ));
        }
        Ok(to)
    }

    /// The sources on the destination's host.
    fn one_host(
        &self,
        i: usize,
        name: &str,
        from: &[Endpoint],
        to: &Endpoint,
    ) -> Result<(), LabFileError> {
        let to_host = &self.nodes[&to.node].host;
        for (j, endpoint) in from.iter().enumerate() {
            let host = &self.nodes[&endpoint.node].host;
            if let (Some(host), Some(to_host)) = (host, to_host)
                && host != to_host
            {
                return Err(self.error(
                    &source(i, j),
                    format!(
                        "mirror {name} copies {endpoint}, on host {host}, to {to}, on host \
                         {to_host}: a mirror's endpoints must all be on one host"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A destination on a VM's tap takes the default MTU only when a tap can.
    fn tap_mtu(&self, name: &str, to: &Endpoint) -> Result<(), LabFileError> {
        let mtu = self.mtu;
        if matches!(self.nodes[&to.node].kind, NodeKind::Vm(_)) && mtu > TAP_MTU_MAX {
            return Err(self.error(
                &[key("defaults"), key("mtu")],
                format!(
                    "the default mtu {mtu} is more than a tap takes ({TAP_MTU_MAX}), and {to}, \
                     the destination of mirror {name}, is a VM's tap: set it to at most \
                     {TAP_MTU_MAX}"
                ),
            ));
        }
        Ok(())
    }

    /// `filter:`: an expression libpcap compiles.
    fn filter(&mut self, i: usize, name: &str, filter: &str) -> Result<(), LabFileError> {
        let problem = self
            .compiled
            .entry(filter.to_string())
            .or_insert_with(|| filter_problem(filter));
        if let Some(problem) = problem {
            let message = format!("mirror {name}: filter {:?}: {problem}", shown(filter));
            return Err(self.error(&value(i, "filter"), message));
        }
        Ok(())
    }

    /// No frame reaches the destination twice: no stream this mirror copies is copied to the
    /// same destination by an earlier mirror for the same VLANs.
    fn copied_once(&mut self, copy: &Copying) -> Result<(), LabFileError> {
        let Copying { i, name, to, .. } = *copy;
        for (j, endpoint) in copy.from.iter().enumerate() {
            let sides = [
                (copy.direction.copies_tx(), Side::Tx),
                (copy.direction.copies_rx(), Side::Rx),
            ];
            for side in sides.into_iter().filter(|(on, _)| *on).map(|(_, s)| s) {
                let stream = Stream::of(endpoint, side, &self.link_of);
                let earlier = self.copies.entry((to.clone(), stream)).or_default();
                let clash = earlier
                    .iter()
                    .find(|c| c.mirror != i && selections_overlap(c.vlans.as_ref(), copy.vlans));
                if let Some(clash) = clash {
                    let first = &self.mirrors[clash.mirror].name;
                    let message = if clash.endpoint == *endpoint {
                        format!(
                            "endpoint {endpoint} is copied to {to} by mirrors {first} and \
                             {name}: frames would arrive twice"
                        )
                    } else {
                        let (sender, sent_by, receiver, received_by) = match side {
                            Side::Tx => (endpoint, name, &clash.endpoint, first.as_str()),
                            Side::Rx => (&clash.endpoint, first.as_str(), endpoint, name),
                        };
                        format!(
                            "mirror {sent_by} copies what {sender} sends and mirror \
                             {received_by} what {receiver} receives, both to {to}: {sender} \
                             and {receiver} are the two ends of the wire on line {}, so \
                             these are the same frames and they would arrive twice",
                            self.link_of[endpoint].line
                        )
                    };
                    return Err(self.error(&source(i, j), message));
                }
                earlier.push(Copied {
                    mirror: i,
                    endpoint: endpoint.clone(),
                    vlans: copy.vlans.cloned(),
                });
            }
        }
        Ok(())
    }
}

/// What one mirror copies where, for [`MirrorChecks::copied_once`].
struct Copying<'m> {
    i: usize,
    name: &'m str,
    from: &'m [Endpoint],
    to: &'m Endpoint,
    direction: MirrorSide,
    vlans: Option<&'m VlanSet>,
}

/// One way frames cross an endpoint, as a mirror sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    Tx,
    Rx,
}

/// A stream of frames: what an endpoint sends or receives. What one end of a wire receives is
/// what the other end sends, so both name it by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Stream {
    endpoint: Endpoint,
    side: Side,
}

impl Stream {
    fn of(endpoint: &Endpoint, side: Side, link_of: &HashMap<&Endpoint, &LinkSpec>) -> Stream {
        let wire_peer = link_of
            .get(endpoint)
            .filter(|l| !l.is_hub())
            .and_then(|l| l.endpoints.iter().find(|e| *e != endpoint));
        match (side, wire_peer) {
            (Side::Rx, Some(peer)) => Stream {
                endpoint: peer.clone(),
                side: Side::Tx,
            },
            _ => Stream {
                endpoint: endpoint.clone(),
                side,
            },
        }
    }
}

/// A stream a mirror copies (from `endpoint`, maybe a wire's other end), to the destination
/// it is filed under.
struct Copied {
    mirror: usize,
    endpoint: Endpoint,
    vlans: Option<VlanSet>,
}

/// Why libpcap cannot compile a mirror's filter, or `None` when it can — or when libpcap
/// cannot be asked here (not installed, no right to make the scratch namespace it compiles
/// in): `up` reports that itself, and `down` or `graph` need no filter.
fn filter_problem(filter: &str) -> Option<String> {
    if filter.contains('\0') {
        return Some("contains a NUL byte".into());
    }
    match crate::bpf::pcap::compile(filter, u16::MAX.into()) {
        Err(crate::bpf::pcap::FilterError::Syntax { message, .. }) => Some(message),
        _ => None,
    }
}

/// A value as messages show it: at most 60 characters, then `…`.
fn shown(value: &str) -> String {
    const SHOWN: usize = 60;
    match value.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::file::testing::*;

    /// Nodes r1, r2, r3 and mon; a wire r1:eth1–r2:eth1 (line 9) and a segment of the eth2s
    /// (line 10); then the given mirrors (from line 12 on).
    fn with_mirrors(mirrors: &str) -> String {
        format!(
            "name: t1\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n    r3: {{}}\n    mon: {{}}\n  \
             links:\n    - endpoints: [r1:eth1, r2:eth1]\n    \
             - endpoints: [r1:eth2, r2:eth2, r3:eth2]\n  mirrors:\n{mirrors}"
        )
    }

    fn mirror(name: &str, from: &[&str], to: &str, direction: MirrorSide) -> MirrorFileSpec {
        MirrorFileSpec {
            name: name.into(),
            from: from.iter().map(|e| ep(e)).collect(),
            to: ep(to),
            direction,
            vlans: None,
            output_vlan: None,
            filter: None,
            line: 0,
            column: 5,
        }
    }

    #[test]
    fn mirrors_read_with_every_key() {
        let lab = lab(&with_mirrors(
            "    - name: tap.1_a-B\n      from: [\"r1:eth1\", {node: r3, interface: eth2}]\n      \
             to: mon:eth1\n      direction: tx\n      vlan: \"200-210, 100,201\"\n      \
             output-vlan: 4094\n      filter: \"ether proto 0x8809\"\n\
             \x20   - {name: t2, from: [r1:eth1], to: {node: mon, interface: eth1}, direction: rx}\n\
             \x20   - {name: t3, from: [r1:eth1], to: mon:eth2, vlan: 7}\n\
             \x20   - {name: t4, from: [r1:eth1, r2:eth1], to: mon:eth3}\n\
             \x20   - {name: t5, from: [r2:eth2], to: mon:eth1, vlan: 100}\n\
             \x20   - {name: t6, from: [r2:eth2], to: mon:eth1, vlan: 101-4094}\n",
        ));
        let mut expected = vec![
            MirrorFileSpec {
                vlans: Some("100,200-210".into()),
                output_vlan: Some(4094),
                filter: Some("ether proto 0x8809".into()),
                line: 12,
                ..mirror(
                    "tap.1_a-B",
                    &["r1:eth1", "r3:eth2"],
                    "mon:eth1",
                    MirrorSide::Tx,
                )
            },
            mirror("t2", &["r1:eth1"], "mon:eth1", MirrorSide::Rx),
            MirrorFileSpec {
                vlans: Some("7".into()),
                ..mirror("t3", &["r1:eth1"], "mon:eth2", MirrorSide::Both)
            },
            mirror("t4", &["r1:eth1", "r2:eth1"], "mon:eth3", MirrorSide::Both),
            MirrorFileSpec {
                vlans: Some("100".into()),
                ..mirror("t5", &["r2:eth2"], "mon:eth1", MirrorSide::Both)
            },
            MirrorFileSpec {
                vlans: Some("101-4094".into()),
                ..mirror("t6", &["r2:eth2"], "mon:eth1", MirrorSide::Both)
            },
        ];
        for (m, line) in expected.iter_mut().zip(12..).skip(1) {
            m.line = line + 6;
        }
        assert_eq!(lab.mirrors, expected);
        assert_eq!(
            lab.mirrors[0].vlans.as_deref().map(VlanSet::parse),
            Some(Ok(VlanSet::parse("100,200-210").unwrap()))
        );
        assert!(MirrorSide::Both.copies_tx() && MirrorSide::Both.copies_rx());
        assert!(!MirrorSide::Tx.copies_rx() && !MirrorSide::Rx.copies_tx());
        assert_eq!(MirrorSide::Rx.to_string(), "rx");
        // None in a file without `mirrors:`, or with an empty list.
        assert!(lab_without_mirrors().mirrors.is_empty());
        let text = two_nodes("    - endpoints: [r1:a, r2:a]\n  mirrors: []\n");
        assert!(self::lab(&text).mirrors.is_empty());
    }

    fn lab_without_mirrors() -> LabFile {
        lab(&two_nodes("    - endpoints: [r1:a, r2:a]\n"))
    }

    #[test]
    fn mirror_keys_are_checked() {
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, form: [r1:eth1], to: mon:eth1}\n"
            )),
            "t1.yaml:12:17: unknown key `form` in a mirror (did you mean `from`?)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1], to: mon:eth1, output_vlan: 9}\n"
            )),
            "t1.yaml:12:48: unknown key `output_vlan` in a mirror (did you mean `output-vlan`?)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1], to: mon:eth1, truncate: 64}\n"
            )),
            "t1.yaml:12:48: unknown key `truncate` in a mirror (known keys: `name`, `from`, \
             `to`, `direction`, `vlan`, `output-vlan`, `filter`)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  mirror: []\n"),
            "t1.yaml:3:3: unknown key `mirror` in topology (did you mean `mirrors`?)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - name: m\n      from: [r1:eth1]\n      to: mon:eth1\n      to: mon:eth2\n"
            )),
            "t1.yaml:15:7: key `to` appears twice in a mirror"
        );
        assert_eq!(
            err(&with_mirrors("    - [m, r1:eth1, mon:eth1]\n")),
            "t1.yaml:12:7: `topology.mirrors[0]` must be a mirror: a mapping with `name:`, \
             `from:` and `to:`, found a list"
        );
    }

    #[test]
    fn mirror_keys_are_required() {
        assert_eq!(
            err(&with_mirrors("    - from: [r1:eth1]\n      to: mon:eth1\n")),
            "t1.yaml:12:7: missing key `name` in a mirror: every mirror has a name (1-15 \
             characters from A-Z a-z 0-9 _ . -)"
        );
        assert_eq!(
            err(&with_mirrors("    - {name: m, to: mon:eth1}\n")),
            "t1.yaml:12:7: missing key `from` in mirror m: the endpoints whose frames are copied"
        );
        assert_eq!(
            err(&with_mirrors("    - name: m\n      from: [r1:eth1]\n")),
            "t1.yaml:12:7: missing key `to` in mirror m: the analyzer's endpoint, in no link"
        );
        assert_eq!(
            err(&with_mirrors("    - {name: m, from: [], to: mon:eth1}\n")),
            "t1.yaml:12:23: mirror m copies nothing: `from` needs at least one endpoint"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: r1:eth1, to: mon:eth1}\n"
            )),
            "t1.yaml:12:23: `from` is a list of endpoints: write `from: [\"r1:eth1\"]`"
        );
    }

    #[test]
    fn mirror_names_are_checked() {
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a b, from: [r1:eth1], to: mon:eth1}\n"
            )),
            "t1.yaml:12:14: mirror name \"a b\": use 1 to 15 characters from A-Z a-z 0-9 _ . -"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a234567890123456, from: [r1:eth1], to: mon:eth1}\n"
            )),
            "t1.yaml:12:14: mirror name \"a234567890123456\": use 1 to 15 characters from \
             A-Z a-z 0-9 _ . -"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - name: tap1\n      from: [r1:eth1]\n      to: mon:eth1\n\n    # again\n    \
                 - name: tap1\n      from: [r2:eth1]\n      to: mon:eth2\n"
            )),
            "t1.yaml:17:13: mirror tap1 is defined twice (lines 12 and 17)"
        );
    }

    #[test]
    fn mirror_endpoints_are_checked() {
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1, r9:eth1], to: mon:eth1}\n"
            )),
            "t1.yaml:12:33: endpoint r9:eth1 names node r9, which is not defined \
             (nodes: mon, r1, r2, r3)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1], to: ids:eth1}\n"
            )),
            "t1.yaml:12:38: endpoint ids:eth1 names node ids, which is not defined \
             (nodes: mon, r1, r2, r3)"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1, 'r1:eth1'], to: mon:eth1}\n"
            )),
            "t1.yaml:12:33: endpoint r1:eth1 appears twice in this mirror's `from`"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - name: tap1\n      from: [r1:eth1, r1:eth9]\n      to: mon:eth1\n"
            )),
            "t1.yaml:13:23: endpoint r1:eth9 is in no link; a mirror copies what crosses a \
             link's endpoint"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - name: tap1\n      from: [r1:eth1]\n      to: r2:eth1\n"
            )),
            "t1.yaml:14:11: r2:eth1 is an endpoint of the link on line 9; a mirror's \
             destination must be in no link"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1, r3:eth2], to: {node: r3, interface: eth2}}\n"
            )),
            "t1.yaml:12:47: endpoint r3:eth2 is both in `from` and the `to` of mirror m: a \
             mirror cannot copy to one of its sources"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: m, from: [r1:eth1], to: 'mon:'}\n"
            )),
            "t1.yaml:12:38: endpoint \"mon:\": an interface name cannot be empty"
        );
    }

    #[test]
    fn mirror_endpoints_are_on_one_host() {
        let text = "name: t1\nhosts:\n  a: {address: 198.18.1.1}\n  b: {address: 198.18.1.2}\n\
                    topology:\n  nodes:\n    r1: {}\n    r2: {host: b}\n    mon: {host: b}\n  \
                    links:\n    - endpoints: [r1:eth1, r2:eth1]\n  mirrors:\n    \
                    - {name: m, from: [r2:eth1, r1:eth1], to: mon:eth1}\n";
        assert_eq!(
            err(text),
            "t1.yaml:13:33: mirror m copies r1:eth1, on host a, to mon:eth1, on host b: a \
             mirror's endpoints must all be on one host"
        );
        let text = text.replace("[r2:eth1, r1:eth1]", "[r2:eth1]");
        assert_eq!(lab(&text).mirrors[0].from, [ep("r2:eth1")]);
    }

    #[test]
    fn mirror_values_are_checked() {
        let one = |extra: &str| {
            err(&with_mirrors(&format!(
                "    - {{name: m, from: [r1:eth1], to: mon:eth1, {extra}}}\n"
            )))
        };
        assert_eq!(
            one("direction: in"),
            "t1.yaml:12:59: direction `in` is not tx, rx or both (tx: the frames the node sends \
             out of the endpoint; rx: the frames it receives on it)"
        );
        assert_eq!(
            one("vlan: 4095"),
            "t1.yaml:12:54: VLAN ID 4095 is outside 1-4094 (0 is a priority tag, 4095 is reserved)"
        );
        assert_eq!(
            one("vlan: '100,0'"),
            "t1.yaml:12:54: VLAN ID 0 is outside 1-4094 (0 is a priority tag, 4095 is reserved)"
        );
        assert_eq!(
            one("vlan: 10-5"),
            "t1.yaml:12:54: VLAN range 10-5 in \"10-5\" runs backwards"
        );
        assert_eq!(
            one("vlan: 'ten'"),
            "t1.yaml:12:54: \"ten\" in \"ten\" is not a VLAN ID (expected IDs 1-4094 or ranges \
             like 100-200, comma-separated)"
        );
        assert_eq!(
            one("vlan: [100]"),
            "t1.yaml:12:54: `topology.mirrors[0].vlan` must be VLAN IDs and ranges, such as \
             \"100,200-210\", or one VLAN ID, found a list"
        );
        assert_eq!(
            one("output-vlan: 4095"),
            "t1.yaml:12:61: output-vlan 4095 is out of range (1..=4094)"
        );
        assert_eq!(
            one("output-vlan: 0"),
            "t1.yaml:12:61: output-vlan 0 is out of range (1..=4094)"
        );
        assert_eq!(
            one("output-vlan: '999'"),
            "t1.yaml:12:61: `topology.mirrors[0].output-vlan` must be an integer in 1..=4094, \
             found string \"999\""
        );
    }

    #[test]
    fn a_frame_reaches_a_destination_once() {
        let tap1 = "    - name: tap1\n      from: [r1:eth1]\n      to: mon:eth1\n";
        // The same endpoint, the same destination, overlapping frames.
        assert_eq!(
            err(&with_mirrors(&format!(
                "{tap1}    - name: tap2\n      from: [r2:eth2, r1:eth1]\n      to: mon:eth1\n      \
                 direction: tx\n"
            ))),
            "t1.yaml:16:23: endpoint r1:eth1 is copied to mon:eth1 by mirrors tap1 and tap2: \
             frames would arrive twice"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a, from: [r2:eth2], to: mon:eth1, vlan: '1-100'}\n    \
                 - {name: b, from: [r2:eth2], to: mon:eth1, vlan: 100}\n"
            )),
            "t1.yaml:13:24: endpoint r2:eth2 is copied to mon:eth1 by mirrors a and b: frames \
             would arrive twice"
        );
        // What r2 receives on the wire is what r1 sends.
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a, from: [r1:eth1], to: mon:eth1, direction: tx}\n    \
                 - {name: b, from: [r2:eth1], to: mon:eth1, direction: rx}\n"
            )),
            "t1.yaml:13:24: mirror a copies what r1:eth1 sends and mirror b what r2:eth1 \
             receives, both to mon:eth1: r1:eth1 and r2:eth1 are the two ends of the wire on \
             line 9, so these are the same frames and they would arrive twice"
        );
        assert_eq!(
            err(&with_mirrors(
                "    - {name: a, from: [r1:eth1], to: mon:eth1}\n    \
                 - {name: b, from: [r2:eth1], to: mon:eth1, direction: tx}\n"
            )),
            "t1.yaml:13:24: mirror b copies what r2:eth1 sends and mirror a what r1:eth1 \
             receives, both to mon:eth1: r2:eth1 and r1:eth1 are the two ends of the wire on \
             line 9, so these are the same frames and they would arrive twice"
        );
        // Different frames, or another destination: fine.
        let lab = lab(&with_mirrors(&format!(
            "{tap1}    - {{name: tap2, from: [r1:eth1], to: mon:eth2}}\n    \
             - {{name: tx, from: [r2:eth1], to: mon:eth3, direction: tx}}\n    \
             - {{name: rx, from: [r2:eth1], to: mon:eth3, direction: rx, vlan: 5}}\n    \
             - {{name: hub-tx, from: [r1:eth2], to: mon:eth4, direction: tx}}\n    \
             - {{name: hub-rx, from: [r2:eth2], to: mon:eth4, direction: rx}}\n    \
             - {{name: tx2, from: [r1:eth1], to: mon:eth5, direction: tx}}\n    \
             - {{name: tx3, from: [r2:eth1], to: mon:eth5, direction: tx}}\n"
        )));
        assert_eq!(lab.mirrors.len(), 8);
    }

    #[test]
    fn the_docs_show_real_mirror_errors() {
        let docs = include_str!("../../../docs/labs.md");
        let tap1 = "    - name: tap1\n      from: [r1:eth1]\n      to: mon:eth1\n";
        for text in [
            "    - name: tap1\n      from: [r1:eth1, r1:eth9]\n      to: mon:eth1\n".to_string(),
            "    - name: tap1\n      from: [r1:eth1]\n      to: r2:eth1\n".to_string(),
            format!(
                "{tap1}\n    # again\n    - name: tap1\n      from: [r2:eth1]\n      to: mon:eth2\n"
            ),
            format!("{tap1}    - name: tap2\n      from: [r2:eth2, r1:eth1]\n      to: mon:eth1\n"),
        ] {
            let e = err(&with_mirrors(&text));
            assert!(docs.contains(&format!("\n{e}\n")), "docs/labs.md lacks {e}");
        }
    }

    #[test]
    fn mirror_filters_libpcap_refuses_are_errors_of_the_file() {
        let tap1 = "    - name: tap1\n      from: [r1:eth1]\n      to: mon:eth1\n";
        lab(&with_mirrors(&format!("{tap1}      filter: tcp port 80\n")));
        assert_eq!(
            err(&with_mirrors(&format!(
                "{tap1}      filter: tcp port 80 and\n"
            ))),
            "t1.yaml:15:15: mirror tap1: filter \"tcp port 80 and\": can't parse filter \
             expression: syntax error"
        );
        assert_eq!(
            err(&with_mirrors(&format!(
                "{tap1}      filter: \"tcp\\0port 80\"\n"
            ))),
            "t1.yaml:15:15: mirror tap1: filter \"tcp\\0port 80\": contains a NUL byte"
        );
    }
}

//! The lab file as deserialized, before the checks: the document's mappings (serde derive),
//! the mappings of names read in file order, and the error constructor that marks this
//! module's own messages. The values inside the mappings are read in `values.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::check::check_name;
use super::node::RawNode;
use super::values::*;

/// Starts the message of an error raised by this module's own deserializers, so that it can be
/// told from serde_norway's additions (the path before it, the position after it).
pub(super) const MARK: char = '\u{1f}';

/// An error of this module's own deserializers, already in the file's words: `from_serde` shows
/// its message as written (found by [`MARK`]), with only serde_norway's position added.
pub(super) fn verbatim<E: de::Error>(message: impl fmt::Display) -> E {
    E::custom(format!("{MARK}{message}"))
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a lab: a mapping with `name:` and `topology:`"
)]
pub(super) struct RawFile {
    pub(super) name: LabName,
    pub(super) prefix: Option<Prefix>,
    pub(super) mgmt: Option<RawMgmt>,
    #[serde(rename = "settings")]
    pub(super) _settings: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "hosts")]
    pub(super) hosts: Option<Vec<(String, RawHost)>>,
    pub(super) defaults: Option<RawDefaults>,
    pub(super) vxlan: Option<RawVxlan>,
    pub(super) topology: RawTopology,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a host: a mapping with `address:`")]
pub(super) struct RawHost {
    pub(super) address: Address,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a mapping"
)]
pub(super) struct RawDefaults {
    pub(super) mtu: Option<Mtu>,
    pub(super) tx_checksum: Option<TxChecksum>,
    pub(super) datapath: Option<DatapathKey>,
    pub(super) impair: Option<RawDirection>,
}

/// A link's `flap:` (`{down: 2s, up: 10s}`, `{down: 1s-3s, up: 5s-20s, seed: 42}`), read in
/// `flap.rs`.
#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a flap: a mapping such as {down: 2s, up: 10s}"
)]
pub(super) struct RawFlap {
    pub(super) down: Option<Text>,
    pub(super) up: Option<Text>,
    pub(super) seed: Option<Text>,
    pub(super) count: Option<Text>,
}

/// One direction of an impairment (`impair:` of a link, per endpoint or `both`, and
/// `defaults.impair`), as `patchwire impair` takes it; read into numbers in `impairs.rs`.
#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "an impairment: a mapping such as {loss: 1%, delay: 10ms}"
)]
pub(super) struct RawDirection {
    pub(super) delay: Option<Text>,
    pub(super) jitter: Option<Text>,
    pub(super) distribution: Option<Text>,
    pub(super) loss: Option<Text>,
    pub(super) loss_burst: Option<Text>,
    pub(super) corrupt: Option<Text>,
    pub(super) duplicate: Option<Text>,
    pub(super) reorder: Option<Text>,
    pub(super) rate: Option<Text>,
    pub(super) burst: Option<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawVxlan {
    pub(super) port: Option<Port>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `nodes:` and `links:`"
)]
pub(super) struct RawTopology {
    #[serde(default, deserialize_with = "nodes")]
    pub(super) nodes: Vec<(String, Option<RawNode>)>,
    pub(super) links: Option<Vec<RawLink>>,
    pub(super) mirrors: Option<Vec<RawMirror>>,
    pub(super) defaults: Option<RawNode>,
    #[serde(default)]
    pub(super) kinds: BTreeMap<String, Option<RawNode>>,
    #[serde(default)]
    pub(super) groups: BTreeMap<String, Option<RawNode>>,
}

/// containerlab's `mgmt:`; the noted keys are named by the scan (`scan.rs`).
#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a mapping"
)]
pub(super) struct RawMgmt {
    pub(super) network: Option<Text>,
    pub(super) bridge: Option<Text>,
    #[serde(alias = "ipv4_subnet")]
    pub(super) ipv4_subnet: Option<Text>,
    #[serde(alias = "ipv6_subnet")]
    pub(super) ipv6_subnet: Option<Text>,
    pub(super) mtu: Option<Mtu>,
    #[serde(rename = "ipv4-gw")]
    pub(super) _ipv4_gw: Option<IgnoredAny>,
    #[serde(rename = "ipv4-range")]
    pub(super) _ipv4_range: Option<IgnoredAny>,
    #[serde(rename = "ipv6-gw")]
    pub(super) _ipv6_gw: Option<IgnoredAny>,
    #[serde(rename = "ipv6-range")]
    pub(super) _ipv6_range: Option<IgnoredAny>,
    #[serde(rename = "external-access")]
    pub(super) _external_access: Option<IgnoredAny>,
    #[serde(rename = "skip-when-unused")]
    pub(super) _skip_when_unused: Option<IgnoredAny>,
    #[serde(rename = "driver-opts")]
    pub(super) _driver_opts: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a link: a mapping with `endpoints:`"
)]
pub(super) struct RawLink {
    #[serde(rename = "type")]
    pub(super) link_type: Option<LinkType>,
    #[serde(default)]
    pub(super) endpoints: Vec<RawEndpoint>,
    /// The one endpoint of containerlab's single-ended types.
    pub(super) endpoint: Option<RawEndpoint>,
    pub(super) mtu: Option<Mtu>,
    pub(super) tx_checksum: Option<TxChecksum>,
    pub(super) vni: Option<Vni>,
    pub(super) datapath: Option<DatapathKey>,
    pub(super) host_interface: Option<String>,
    pub(super) mode: Option<String>,
    pub(super) remote: Option<String>,
    pub(super) udp_port: Option<Port>,
    pub(super) dst_port: Option<Port>,
    pub(super) parent_interface: Option<String>,
    pub(super) dev: Option<String>,
    /// Per endpoint whose sent frames are impaired (`NODE:IF`), or `both`.
    #[serde(default, deserialize_with = "impair_sides")]
    pub(super) impair: BTreeMap<String, Option<RawDirection>>,
    /// `up` (default) or `down` (a pulled cable).
    pub(super) state: Option<Text>,
    /// A flapping cable (`flap.rs`).
    pub(super) flap: Option<RawFlap>,
    // containerlab's; accepted and named in a note (`scan.rs`).
    #[serde(rename = "src-port")]
    pub(super) _src_port: Option<IgnoredAny>,
    #[serde(rename = "vars")]
    pub(super) _vars: Option<IgnoredAny>,
    #[serde(rename = "labels")]
    pub(super) _labels: Option<IgnoredAny>,
    #[serde(rename = "ipv4")]
    pub(super) _ipv4: Option<IgnoredAny>,
    #[serde(rename = "ipv6")]
    pub(super) _ipv6: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a mirror: a mapping with `name:`, `from:` and `to:`"
)]
pub(super) struct RawMirror {
    // All optional here: a missing one is refused with the mirror's name (`Check::mirrors`).
    pub(super) name: Option<MirrorName>,
    pub(super) from: Option<RawEndpoints>,
    pub(super) to: Option<RawEndpoint>,
    pub(super) direction: Option<RawSide>,
    pub(super) vlan: Option<RawVlans>,
    pub(super) output_vlan: Option<OutputVlan>,
    pub(super) filter: Option<String>,
}

fn hosts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<(String, RawHost)>>, D::Error> {
    d.deserialize_map(Entries::<RawHost>::new("host")).map(Some)
}

fn nodes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Option<RawNode>)>, D::Error> {
    d.deserialize_map(Entries::<Option<RawNode>>::new("node"))
}

/// A link's `impair:`, with an endpoint (or `both`) given twice refused at its second key
/// (a map would keep the last one silently).
fn impair_sides<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Option<RawDirection>>, D::Error> {
    struct Sides;
    impl<'de> Visitor<'de> for Sides {
        type Value = BTreeMap<String, Option<RawDirection>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping of endpoints (NODE:IF or `both`) to impairments")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(side) = map.next_key_seed(SideSeed { seen: &out })? {
                let value = map.next_value()?;
                out.insert(side, value);
            }
            Ok(out)
        }
    }
    struct SideSeed<'a> {
        seen: &'a BTreeMap<String, Option<RawDirection>>,
    }
    impl<'de> DeserializeSeed<'de> for SideSeed<'_> {
        type Value = String;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl Visitor<'_> for SideSeed<'_> {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an endpoint NODE:IF or `both`")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            if self.seen.contains_key(v) {
                return Err(verbatim(format!("{v} appears twice in impair")));
            }
            Ok(v.to_string())
        }
    }
    d.deserialize_map(Sides)
}

/// A mapping from names to values, in file order, with each name checked (and refused twice)
/// while it is read, so that errors point at the name.
struct Entries<V> {
    what: &'static str,
    value: PhantomData<V>,
}

impl<V> Entries<V> {
    fn new(what: &'static str) -> Self {
        Entries {
            what,
            value: PhantomData,
        }
    }
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
    type Value = Vec<(String, V)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a mapping of {0} names to {0}s", self.what)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = BTreeSet::new();
        let mut entries = Vec::new();
        while let Some(name) = map.next_key_seed(NameSeed {
            what: self.what,
            seen: Some(&seen),
        })? {
            let value = map.next_value()?;
            seen.insert(name.clone());
            entries.push((name, value));
        }
        Ok(entries)
    }
}

/// A lab, node or host name; with `seen`, a key that must not repeat.
struct NameSeed<'a> {
    what: &'static str,
    seen: Option<&'a BTreeSet<String>>,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} name", self.what)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if self.what == "node"
            && let Some(why) = bridge_in_node(v)
        {
            return Err(verbatim(why));
        }
        check_name(self.what, v).map_err(verbatim)?;
        if self.seen.is_some_and(|seen| seen.contains(v)) {
            return Err(verbatim(format!("{} {v} is defined twice", self.what)));
        }
        Ok(v.to_string())
    }
}

/// containerlab's `BRIDGE|NODE` node name (a bridge inside another node's namespace), refused.
pub(super) fn bridge_in_node(name: &str) -> Option<String> {
    let (bridge, node) = name.split_once('|')?;
    Some(format!(
        "node {name:?} is containerlab's bridge {bridge} inside node {node}'s namespace, which \
         patchwire does not make: use a `kind: hub` node (a segment of its own), or make the \
         bridge with `exec:` in {node}"
    ))
}

pub(super) struct LabName(pub(super) String);

impl<'de> Deserialize<'de> for LabName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NameSeed {
            what: "lab",
            seen: None,
        }
        .deserialize(d)
        .map(LabName)
    }
}

#[cfg(test)]
mod tests {
    use crate::lab::file::testing::*;

    #[test]
    fn containerlab_links_paste_in_both_forms() {
        let lab = lab(&two_nodes(
            "    - endpoints: [\"r1:e1-1\", \"r2:eth1\"]\n\
             \x20   - type: veth\n\
             \x20     endpoints:\n\
             \x20       - node: r1\n\
             \x20         interface: e1-2\n\
             \x20       - node: r2\n\
             \x20         interface: eth2\n\
             \x20     mtu: 9500\n\
             \x20     vars: {ospf: {cost: 10}}\n\
             \x20     labels: [a, b]\n\
             \x20   - {type: veth, endpoints: [\"r1:e1-3\", {node: r2, interface: eth3}]}\n",
        ));
        assert_eq!(
            lab.links,
            [
                link(&["r1:e1-1", "r2:eth1"], 1500, None, 7),
                link(&["r1:e1-2", "r2:eth2"], 9500, None, 8),
                link(&["r1:e1-3", "r2:eth3"], 1500, None, 17),
            ]
        );
    }

    #[test]
    fn other_containerlab_link_types_are_refused() {
        assert_eq!(
            err(&two_nodes(
                "  - type: vxlan-stitch\n    endpoints: [r1:eth1, r2:eth1]\n"
            )),
            "t1.yaml:7:11: a `type: vxlan-stitch` link takes one `endpoint:` (a mapping), not \
             `endpoints:`"
        );
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [{node: r1, interface: eth1, max: 02:00:00:00:00:01}, r2:eth1]\n"
            )),
            "t1.yaml:7:45: unknown key `max` in an endpoint (did you mean `mac`?)"
        );
        assert_eq!(
            err(&two_nodes("  - endpoints: [{node: r1}, r2:eth1]\n")),
            "t1.yaml:7:17: an endpoint needs `node` and `interface`"
        );
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            err("name: t 1\ntopology: {}\n"),
            "t1.yaml:1:7: lab name \"t 1\" contains ' '; names are 1-32 characters from \
             A-Z a-z 0-9 _ -"
        );
        assert_eq!(
            err("name: ''\ntopology: {}\n"),
            "t1.yaml:1:7: lab name cannot be empty"
        );
        assert_eq!(
            err(&format!("name: {}\ntopology: {{}}\n", "a".repeat(33))),
            format!(
                "t1.yaml:1:7: lab name \"{}\" is 33 characters long; at most 32",
                "a".repeat(33)
            )
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1.a: {}\n"),
            "t1.yaml:4:5: node name \"r1.a\" contains '.'; names are 1-32 characters from \
             A-Z a-z 0-9 _ -"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a/b: {address: 198.18.1.1}\ntopology: {}\n"),
            "t1.yaml:3:3: host name \"a/b\" contains '/'; names are 1-32 characters from \
             A-Z a-z 0-9 _ -"
        );
        assert_eq!(
            err("name: [t1]\ntopology: {}\n"),
            "t1.yaml:1:7: `name` must be a lab name, found a list"
        );
        assert_eq!(
            err("hello\n"),
            "t1.yaml:1:1: the file must be a lab: a mapping with `name:` and `topology:`, \
             found string \"hello\""
        );
    }
}

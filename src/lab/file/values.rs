//! The values of a lab file, each read by a deserializer of its own that says in the file's
//! words what is wrong: ranged integers, names, endpoints, namespaces, kinds, addresses.

use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::mirror::spec::{VlanSet, validate_mirror_name};

use super::errors::unknown_key;
use super::raw::verbatim;
use super::*;

/// The highest process id Linux can give (PID_MAX_LIMIT).
const PID_MAX: u32 = 4_194_304;

/// An integer in a range, named in messages.
struct Int {
    what: &'static str,
    lo: u64,
    hi: u64,
}

impl Int {
    fn out_of_range<E: de::Error>(&self, v: impl fmt::Display) -> E {
        verbatim(format!(
            "{} {v} is out of range ({}..={})",
            self.what, self.lo, self.hi
        ))
    }
}

impl Visitor<'_> for Int {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an integer in {}..={}", self.lo, self.hi)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if (self.lo..=self.hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.out_of_range(v))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(self.out_of_range(v)),
        }
    }

    // YAML integers beyond 64 bits: out of every range here, said in the range's words.
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<u64, E> {
        Err(self.out_of_range(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<u64, E> {
        Err(self.out_of_range(v))
    }
}

macro_rules! ranged {
    ($name:ident, $t:ty, $what:literal, $lo:expr, $hi:expr) => {
        pub(super) struct $name(pub(super) $t);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let int = Int {
                    what: $what,
                    lo: u64::from($lo),
                    hi: u64::from($hi),
                };
                let v = d.deserialize_any(int)?;
                <$t>::try_from(v).map($name).map_err(de::Error::custom)
            }
        }
    };
}

ranged!(Mtu, u32, "mtu", *MTU_RANGE.start(), *MTU_RANGE.end());
ranged!(Vni, u32, "vni", *VNI_RANGE.start(), *VNI_RANGE.end());
ranged!(Port, u16, "vxlan port", 1u16, u16::MAX);
ranged!(
    Queues,
    u16,
    "queues",
    *QUEUES_RANGE.start(),
    *QUEUES_RANGE.end()
);
ranged!(Pid, u32, "pid", 1u32, PID_MAX);
ranged!(
    OutputVlan,
    u16,
    "output-vlan",
    *OUTPUT_VLAN_RANGE.start(),
    *OUTPUT_VLAN_RANGE.end()
);

/// A mirror's `name:`.
pub(super) struct MirrorName(pub(super) String);

impl<'de> Deserialize<'de> for MirrorName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MirrorName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mirror name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MirrorName, E> {
                validate_mirror_name(v).map_err(verbatim)?;
                Ok(MirrorName(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A mirror's `direction:`.
pub(super) struct RawSide(pub(super) MirrorSide);

impl<'de> Deserialize<'de> for RawSide {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSide;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tx, rx or both")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSide, E> {
                match v {
                    "tx" => Ok(RawSide(MirrorSide::Tx)),
                    "rx" => Ok(RawSide(MirrorSide::Rx)),
                    "both" => Ok(RawSide(MirrorSide::Both)),
                    _ => Err(verbatim(format!(
                        "direction `{v}` is not tx, rx or both (tx: the frames the node sends \
                         out of the endpoint; rx: the frames it receives on it)"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A mirror's `vlan:`: VLAN IDs and ranges as text (`"100,200-210"`), or one ID as a number.
pub(super) struct RawVlans(pub(super) VlanSet);

impl<'de> Deserialize<'de> for RawVlans {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawVlans;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("VLAN IDs and ranges, such as \"100,200-210\", or one VLAN ID")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawVlans, E> {
                VlanSet::parse(v).map(RawVlans).map_err(verbatim)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawVlans, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawVlans, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// `datapath:`: tc or ebpf.
pub(super) struct DatapathKey(pub(super) crate::wire::Datapath);

impl<'de> Deserialize<'de> for DatapathKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "tc" => Ok(DatapathKey(crate::wire::Datapath::Tc)),
            "ebpf" => Ok(DatapathKey(crate::wire::Datapath::Ebpf)),
            _ => Err(verbatim(format!("datapath `{text}` is not tc or ebpf"))),
        }
    }
}

/// `tx-checksum:`: on, off (or true, false), or unset (`None`).
pub(super) struct TxChecksum(pub(super) Option<bool>);

impl<'de> Deserialize<'de> for TxChecksum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TxChecksum;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("on, off or unset")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<TxChecksum, E> {
                Ok(TxChecksum(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TxChecksum, E> {
                match v {
                    "on" | "true" => Ok(TxChecksum(Some(true))),
                    "off" | "false" => Ok(TxChecksum(Some(false))),
                    "unset" => Ok(TxChecksum(None)),
                    _ => Err(verbatim(format!(
                        "tx-checksum `{v}` is not on, off or unset"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) struct Address(pub(super) IpAddr);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an IPv4 or IPv6 address")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Address, E> {
                let address: IpAddr = v.parse().map_err(|_| {
                    verbatim(format!("address `{v}` is not an IPv4 or IPv6 address"))
                })?;
                if address.is_unspecified() || address.is_multicast() {
                    return Err(verbatim(format!(
                        "address {address} cannot be a host's address"
                    )));
                }
                Ok(Address(address))
            }
        }
        d.deserialize_str(V)
    }
}

/// A user or group, by name or number (resolved when the lab is made).
pub(super) struct Id(pub(super) String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name or a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                if v.is_empty()
                    || v.chars()
                        .any(|c| c == ':' || c.is_whitespace() || c.is_control())
                {
                    return Err(verbatim(format!("{v:?} is not a user or group name")));
                }
                Ok(Id(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// containerlab's link `type:`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum LinkType {
    Veth,
    Host,
    MgmtNet,
    Macvlan,
    Vxlan,
    VxlanStitch,
    Dummy,
}

impl LinkType {
    /// A `type:` as containerlab reads it: case-insensitively, spaces trimmed.
    pub(super) fn parse(v: &str) -> Result<LinkType, String> {
        Ok(match v.trim().to_ascii_lowercase().as_str() {
            "veth" => LinkType::Veth,
            "host" => LinkType::Host,
            "mgmt-net" => LinkType::MgmtNet,
            "macvlan" => LinkType::Macvlan,
            "vxlan" => LinkType::Vxlan,
            "vxlan-stitch" => LinkType::VxlanStitch,
            "dummy" => LinkType::Dummy,
            "veth-stitch" => {
                return Err(
                    "link type `veth-stitch` is refused: it is containerlab's inner \
                            half of `vxlan-stitch`; write `type: vxlan-stitch`"
                        .to_string(),
                );
            }
            _ => {
                return Err(format!(
                    "link type `{v}` is not one of veth, host, mgmt-net, macvlan, vxlan, \
                     vxlan-stitch, dummy"
                ));
            }
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            LinkType::Veth => "veth",
            LinkType::Host => "host",
            LinkType::MgmtNet => "mgmt-net",
            LinkType::Macvlan => "macvlan",
            LinkType::Vxlan => "vxlan",
            LinkType::VxlanStitch => "vxlan-stitch",
            LinkType::Dummy => "dummy",
        }
    }
}

impl<'de> Deserialize<'de> for LinkType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LinkType;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a link type")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LinkType, E> {
                LinkType::parse(v).map_err(verbatim)
            }
        }
        d.deserialize_str(V)
    }
}

/// A scalar read as text: containerlab's string keys take numbers and booleans too (`cpu: 1.5`,
/// `env: {N: 1}`), as Go's YAML (yaml.v2) reads them into strings: the text as written
/// (`1.10`, `0x1F`, `1e3` stay so, not `1.1`, `31`, `1000`); nothing (`~`) is empty.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Text(pub(super) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            // Beyond 64 bits (`seed: 99999999999999999999999`): the value's own check names
            // its range, rather than serde's "found integer".
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
            // Not null: the scalar's own text (serde_norway's `deserialize_str` gives a plain
            // scalar as written, whatever it resolves to).
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
                d.deserialize_str(V)
            }
        }
        d.deserialize_option(V)
    }
}

/// containerlab's `prefix:` (its schema's pattern: empty, `__lab-name`, or a name).
pub(super) struct Prefix(pub(super) String);

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Prefix;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a container name prefix")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Prefix, E> {
                let ok = v.is_empty()
                    || v == "__lab-name"
                    || (v.starts_with(|c: char| c.is_ascii_alphanumeric())
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')));
                if !ok {
                    return Err(verbatim(format!(
                        "prefix {v:?} is not a container name prefix: \"\" (no prefix), \
                         `__lab-name` (the lab's name only), or a name from A-Z a-z 0-9 - . _"
                    )));
                }
                Ok(Prefix(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Prefix, E> {
                Ok(Prefix(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `netns:`: a name, a path, or `{pid: PID}`.
pub(super) struct RawNetns(pub(super) NetnsRef);

impl<'de> Deserialize<'de> for RawNetns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNetns;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a namespace name, an absolute path or {pid: PID}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNetns, E> {
                NetnsRef::parse(v).map(RawNetns).map_err(verbatim)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNetns, E> {
                Err(verbatim(format!(
                    "netns {v} is a number: write `netns: {{pid: {v}}}` for a process's namespace, \
                     or `netns: \"{v}\"` for a namespace named {v}"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNetns, A::Error> {
                let mut pid = None;
                while map
                    .next_key_seed(KeySeed {
                        context: "in `netns:`",
                        known: &["pid"],
                    })?
                    .is_some()
                {
                    pid = Some(map.next_value::<Pid>()?.0);
                }
                pid.map(|pid| RawNetns(NetnsRef::Pid(pid)))
                    .ok_or_else(|| verbatim("`netns:` as a mapping needs `pid`"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A link's endpoint: `NODE:IF`, or containerlab's `{node: NODE, interface: IF, mac: MAC}`
/// (its `ipv4`, `ipv6` and `vars` are accepted and named in a note by the scan).
pub(super) struct RawEndpoint(pub(super) Endpoint, pub(super) Option<String>);

impl<'de> Deserialize<'de> for RawEndpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEndpoint;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an endpoint: \"NODE:INTERFACE\" or {node: NODE, interface: INTERFACE}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEndpoint, E> {
                Endpoint::parse(v)
                    .map(|e| RawEndpoint(e, None))
                    .map_err(verbatim)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEndpoint, A::Error> {
                let (mut node, mut interface, mut mac) = (None, None, None);
                while let Some(k) = map.next_key_seed(KeySeed {
                    context: "in an endpoint",
                    known: super::keys::ENDPOINT,
                })? {
                    match k {
                        "node" => node = Some(map.next_value::<String>()?),
                        "interface" => interface = Some(map.next_value::<String>()?),
                        "mac" => mac = map.next_value::<Mac>()?.0,
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let (Some(node), Some(interface)) = (node, interface) else {
                    return Err(verbatim("an endpoint needs `node` and `interface`"));
                };
                Endpoint::new(&node, &interface)
                    .map(|e| RawEndpoint(e, mac))
                    .map_err(|e| verbatim(format!("endpoint {node}:{interface}: {e}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// An endpoint's `mac:`, checked as it is read, so that an error points at the address (not
/// at the endpoint). Nothing (`~`, also what a wrong address is set aside as) is no address.
struct Mac(Option<String>);

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Mac;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a MAC address")
            }
            fn visit_none<E: de::Error>(self) -> Result<Mac, E> {
                Ok(Mac(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Mac, E> {
                Ok(Mac(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Mac, D::Error> {
                d.deserialize_str(V)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Mac, E> {
                check_mac(v).map(|m| Mac(Some(m))).map_err(verbatim)
            }
        }
        d.deserialize_option(V)
    }
}

/// An endpoint's `mac:`: six octets in hex separated by ':' (or '-'), unicast, not all zero;
/// returned as `aa:bb:cc:dd:ee:ff`.
pub(super) fn check_mac(text: &str) -> Result<String, String> {
    let octets: Vec<&str> = text.split([':', '-']).collect();
    let parsed: Option<Vec<u8>> = (octets.len() == 6)
        .then(|| {
            octets
                .iter()
                .map(|o| {
                    (o.len() == 2)
                        .then(|| u8::from_str_radix(o, 16).ok())
                        .flatten()
                })
                .collect()
        })
        .flatten();
    let Some(bytes) = parsed else {
        return Err(format!(
            "mac {text:?} is not a MAC address (six hex octets: aa:bb:cc:dd:ee:ff)"
        ));
    };
    if bytes[0] & 1 == 1 {
        return Err(format!(
            "mac {text} is a multicast address (the first octet is odd); an interface needs a \
             unicast one, such as 02:00:00:00:00:01"
        ));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err("mac 00:00:00:00:00:00 cannot be an interface's address".to_string());
    }
    Ok(bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// A mirror's `from:`: a list of endpoints.
pub(super) struct RawEndpoints(pub(super) Vec<Endpoint>);

impl<'de> Deserialize<'de> for RawEndpoints {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEndpoints;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of endpoints")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEndpoints, E> {
                Err(verbatim(format!(
                    "`from` is a list of endpoints: write `from: [\"{v}\"]`"
                )))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEndpoints, A::Error> {
                let mut endpoints = Vec::new();
                while let Some(RawEndpoint(endpoint, _)) = seq.next_element()? {
                    endpoints.push(endpoint);
                }
                Ok(RawEndpoints(endpoints))
            }
        }
        d.deserialize_any(V)
    }
}

/// A key of a mapping this module reads by hand, refused (with a suggestion) when unknown.
struct KeySeed {
    context: &'static str,
    known: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        self.known
            .iter()
            .find(|k| **k == v)
            .copied()
            .ok_or_else(|| verbatim(unknown_key(v, self.context, self.known)))
    }
}

#[cfg(test)]
mod tests {
    use crate::lab::file::testing::*;
    use crate::lab::file::*;

    #[test]
    fn node_forms() {
        let lab = lab(
            "name: t1\ntopology:\n  nodes:\n    a:\n    b: {}\n    c: {netns: /proc/1/ns/net}\n    \
             d: {netns: {pid: 4242}}\n    e: {kind: namespace, netns: lab-e}\n    \
             f: {kind: vm, owner: 107, group: kvm, vnet-hdr: false}\n",
        );
        assert_eq!(lab.nodes["a"], namespace());
        assert_eq!(lab.nodes["b"], namespace());
        assert_eq!(
            lab.nodes["c"].netns,
            Some(NetnsRef::Path("/proc/1/ns/net".into()))
        );
        assert_eq!(lab.nodes["d"].netns, Some(NetnsRef::Pid(4242)));
        assert_eq!(lab.nodes["e"].netns, Some(NetnsRef::Name("lab-e".into())));
        assert_eq!(
            lab.nodes["f"].kind,
            NodeKind::Vm(VmSpec {
                owner: Some("107".into()),
                group: Some("kvm".into()),
                vnet_hdr: false,
                queues: 1,
            })
        );
        assert!(lab.links.is_empty());
    }

    #[test]
    fn endpoints_are_node_colon_interface() {
        assert_eq!(
            err(&two_nodes(
                "    - endpoints: [r1:eth1, r2:a234567890123456]\n"
            )),
            "t1.yaml:7:28: endpoint \"r2:a234567890123456\": interface name \
             \"a234567890123456\" is 16 bytes long; Linux allows at most 15"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [r1eth1, r2:eth1]\n")),
            "t1.yaml:7:19: endpoint \"r1eth1\" is not NODE:INTERFACE"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [\":eth1\", r2:eth1]\n")),
            "t1.yaml:7:19: endpoint \":eth1\" is not NODE:INTERFACE"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [\"r1:\", r2:eth1]\n")),
            "t1.yaml:7:19: endpoint \"r1:\": an interface name cannot be empty"
        );
        // Split at the first ':' only: the rest is the interface, which the kernel refuses.
        assert_eq!(
            Endpoint::parse("r1:a:b").unwrap_err(),
            "endpoint \"r1:a:b\": interface name \"a:b\" contains ':', which Linux does not allow"
        );
        assert_eq!(ep("r1:e1-1").to_string(), "r1:e1-1");
    }

    #[test]
    fn numbers_are_checked_against_their_ranges() {
        assert_eq!(
            err("name: t1\ndefaults: {mtu: 70000}\ntopology: {}\n"),
            "t1.yaml:2:17: mtu 70000 is out of range (68..=65535)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], mtu: 67}\n"
            )),
            "t1.yaml:7:44: mtu 67 is out of range (68..=65535)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], mtu: -1}\n"
            )),
            "t1.yaml:7:44: mtu -1 is out of range (68..=65535)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], mtu: '9000'}\n"
            )),
            "t1.yaml:7:44: `topology.links[0].mtu` must be an integer in 68..=65535, \
             found string \"9000\""
        );
        assert_eq!(
            err("name: t1\nvxlan: {port: 0}\ntopology: {}\n"),
            "t1.yaml:2:15: vxlan port 0 is out of range (1..=65535)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    vm1: {kind: vm, queues: 257}\n"),
            "t1.yaml:4:29: queues 257 is out of range (1..=256)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], vni: 16777216}\n"
            )),
            "t1.yaml:7:44: vni 16777216 is out of range (1..=16777215)"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1], tx-checksum: maybe}\n"
            )),
            "t1.yaml:7:52: tx-checksum `maybe` is not on, off or unset"
        );
    }
}

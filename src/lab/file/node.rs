//! A node as deserialized: patchwire's keys and containerlab's node definition, which is also
//! the shape of `topology.defaults`, `kinds.KIND` and `groups.GROUP`. Read by hand so that
//! the noted keys (`keys::NODE_NOTED`) need no field each.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::keys::{NODE, NODE_NOTED};
use super::values::{Id, Queues, RawNetns, Text};

#[derive(Default)]
pub(super) struct RawNode {
    pub(super) kind: Option<String>,
    pub(super) host: Option<String>,
    pub(super) netns: Option<RawNetns>,
    pub(super) owner: Option<Id>,
    /// A VM's tap group, or containerlab's group of the node (see `clab.rs`).
    pub(super) group: Option<Id>,
    pub(super) vnet_hdr: Option<bool>,
    pub(super) queues: Option<Queues>,
    pub(super) image: Option<String>,
    pub(super) cmd: Option<String>,
    pub(super) entrypoint: Option<String>,
    pub(super) hostname: Option<String>,
    pub(super) user: Option<String>,
    pub(super) network_mode: Option<String>,
    pub(super) cpu: Option<String>,
    pub(super) memory: Option<String>,
    pub(super) mgmt_ipv4: Option<String>,
    pub(super) mgmt_ipv6: Option<String>,
    pub(super) privileged: Option<bool>,
    pub(super) env: Option<BTreeMap<String, String>>,
    pub(super) labels: Option<BTreeMap<String, String>>,
    pub(super) sysctls: Option<BTreeMap<String, String>>,
    pub(super) env_files: Option<Vec<String>>,
    pub(super) binds: Option<Vec<String>>,
    pub(super) ports: Option<Vec<String>>,
    pub(super) devices: Option<Vec<String>>,
    pub(super) cap_add: Option<Vec<String>>,
    pub(super) exec: Option<Vec<String>>,
    /// Keys set that patchwire does not act on (for the notes).
    pub(super) noted: Vec<&'static str>,
}

/// A scalar; empty is unset, as containerlab reads its string keys (`image: ""` inherits).
fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<String>, A::Error> {
    Ok(Some(map.next_value::<Text>()?.0).filter(|t| !t.is_empty()))
}

fn texts<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Vec<String>>, A::Error> {
    let list: Option<Vec<Text>> = map.next_value()?;
    Ok(Some(
        list.unwrap_or_default().into_iter().map(|t| t.0).collect(),
    ))
}

fn dict<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<BTreeMap<String, String>>, A::Error> {
    let dict: Option<BTreeMap<Text, Text>> = map.next_value()?;
    Ok(Some(
        dict.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.0, v.0))
            .collect(),
    ))
}

impl RawNode {
    /// The container keys this definition sets itself (for the note on a node that is not a
    /// container: `exec` counts for an `ext-container`'s caller to leave out).
    pub(super) fn container_keys(&self) -> Vec<&'static str> {
        [
            ("cmd", self.cmd.is_some()),
            ("entrypoint", self.entrypoint.is_some()),
            ("hostname", self.hostname.is_some()),
            ("user", self.user.is_some()),
            ("network-mode", self.network_mode.is_some()),
            ("cpu", self.cpu.is_some()),
            ("memory", self.memory.is_some()),
            ("mgmt-ipv4", self.mgmt_ipv4.is_some()),
            ("mgmt-ipv6", self.mgmt_ipv6.is_some()),
            ("privileged", self.privileged.is_some()),
            ("env", self.env.is_some()),
            ("labels", self.labels.is_some()),
            ("sysctls", self.sysctls.is_some()),
            ("env-files", self.env_files.is_some()),
            ("binds", self.binds.is_some()),
            ("ports", self.ports.is_some()),
            ("devices", self.devices.is_some()),
            ("cap-add", self.cap_add.is_some()),
            ("exec", self.exec.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node: a mapping")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
                Ok(RawNode::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
                let mut n = RawNode::default();
                let mut seen: Vec<&'static str> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let Some(key) = NODE.iter().find(|k| **k == key).copied() else {
                        return Err(de::Error::unknown_field(&key, NODE));
                    };
                    if seen.contains(&key) {
                        return Err(de::Error::duplicate_field(key));
                    }
                    seen.push(key);
                    // `key: ~` is the key unset, as containerlab reads it.
                    match key {
                        "kind" => n.kind = text(&mut map)?,
                        "host" => n.host = map.next_value()?,
                        "netns" => n.netns = map.next_value()?,
                        "owner" => n.owner = map.next_value()?,
                        "group" => n.group = map.next_value()?,
                        "vnet-hdr" => n.vnet_hdr = map.next_value()?,
                        "queues" => n.queues = map.next_value()?,
                        "image" => n.image = text(&mut map)?,
                        "cmd" => n.cmd = text(&mut map)?,
                        "entrypoint" => n.entrypoint = text(&mut map)?,
                        "hostname" => n.hostname = text(&mut map)?,
                        "user" => n.user = text(&mut map)?,
                        "network-mode" => n.network_mode = text(&mut map)?,
                        "cpu" => n.cpu = text(&mut map)?,
                        "memory" => n.memory = text(&mut map)?,
                        "mgmt-ipv4" => n.mgmt_ipv4 = text(&mut map)?,
                        "mgmt-ipv6" => n.mgmt_ipv6 = text(&mut map)?,
                        "privileged" => n.privileged = map.next_value()?,
                        "env" => n.env = dict(&mut map)?,
                        "labels" => n.labels = dict(&mut map)?,
                        "sysctls" => n.sysctls = dict(&mut map)?,
                        "env-files" => n.env_files = texts(&mut map)?,
                        "binds" => n.binds = texts(&mut map)?,
                        "ports" => n.ports = texts(&mut map)?,
                        "devices" => n.devices = texts(&mut map)?,
                        "cap-add" => n.cap_add = texts(&mut map)?,
                        "exec" => n.exec = texts(&mut map)?,
                        _ => {
                            debug_assert!(NODE_NOTED.iter().any(|(k, _)| *k == key));
                            map.next_value::<IgnoredAny>()?;
                            n.noted.push(key);
                        }
                    }
                }
                Ok(n)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::{NODE, NODE_NOTED};

    #[test]
    fn every_node_key_is_read_or_noted() {
        // The keys after `exec` are the noted ones, each with its reason.
        let at = NODE.iter().position(|k| *k == "exec").unwrap();
        let noted: Vec<&str> = NODE_NOTED.iter().map(|(k, _)| *k).collect();
        assert_eq!(&NODE[at + 1..], noted.as_slice());
    }
}

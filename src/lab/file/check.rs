//! The checks that follow deserialization: hosts, nodes and links — references between them,
//! duplicates, limits that need more than one key. The mirrors' checks are in `mirrors.rs`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::locate::{Seg, item_lines, key, locate};
use super::raw::{RawFile, RawHost, RawLink, RawNode};
use super::values::RawKind;
use super::*;

pub(super) struct Check<'a> {
    pub(super) path: &'a str,
    pub(super) text: &'a str,
    /// Where VM nodes' `owner`/`group` names are written (see [`super::IdPositions`]).
    pub(super) ids_at: std::cell::RefCell<super::IdPositions>,
}

/// A VM node's `owner` or `group` given as a number: one the kernel takes (0 to 4294967294;
/// 4294967295 is -1, "no owner"). Names are looked up by `plan` and `up`
/// ([`super::LabFile::check_ids`]): a file must read on any machine.
fn check_id(key: &str, id: &str) -> Result<(), String> {
    let what = match key {
        "owner" => "user",
        _ => "group",
    };
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    match id.parse::<u32>() {
        Ok(n) if n < u32::MAX => Ok(()),
        _ => Err(format!(
            "{key}: {id} is not a {what} id (0 to 4294967294; 4294967295 is -1, \"none\")"
        )),
    }
}

impl Check<'_> {
    /// An error at the node (or, with `at_key`, the key) the path leads to; at its parent when
    /// the walk does not get there.
    pub(super) fn error(&self, segs: &[Seg], at_key: bool, message: String) -> LabFileError {
        let mut position = locate(self.text, segs, at_key);
        let mut len = segs.len();
        while position.is_none() && len > 0 {
            len -= 1;
            position = locate(self.text, &segs[..len], false);
        }
        LabFileError::new(self.path, position, message)
    }

    pub(super) fn lab(&self, raw: RawFile) -> Result<LabFile, LabFileError> {
        let hosts = self.hosts(raw.hosts.unwrap_or_default())?;
        let nodes = self.nodes(raw.topology.nodes, &hosts)?;
        let defaults = raw.defaults.unwrap_or_default();
        let mtu = defaults.mtu.map_or(DEFAULT_MTU, |m| m.0);
        let tx_checksum = defaults.tx_checksum.and_then(|t| t.0);
        let datapath = defaults.datapath.map(|d| d.0).unwrap_or_default();
        let links = self.links(
            raw.topology.links.unwrap_or_default(),
            &nodes,
            (mtu, tx_checksum, datapath),
        )?;
        let mirrors = self.mirrors(
            raw.topology.mirrors.unwrap_or_default(),
            &nodes,
            &links,
            mtu,
        )?;
        Ok(LabFile {
            name: raw.name.0,
            path: self.path.to_string(),
            hosts,
            mtu,
            tx_checksum,
            vxlan_port: raw
                .vxlan
                .and_then(|v| v.port)
                .map_or(DEFAULT_VXLAN_PORT, |p| p.0),
            nodes,
            links,
            mgmt: None,
            notes: Vec::new(),
            mirrors,
            ids_at: self.ids_at.take(),
        })
    }

    fn hosts(&self, raw: Vec<(String, RawHost)>) -> Result<Vec<(String, HostSpec)>, LabFileError> {
        let mut by_address: HashMap<IpAddr, &str> = HashMap::new();
        for (name, host) in &raw {
            if let Some(first) = by_address.insert(host.address.0, name) {
                return Err(self.error(
                    &[key("hosts"), key(name), key("address")],
                    false,
                    format!(
                        "host {name} has the same address as host {first} ({})",
                        host.address.0
                    ),
                ));
            }
        }
        Ok(raw
            .into_iter()
            .map(|(name, host)| {
                (
                    name,
                    HostSpec {
                        address: host.address.0,
                    },
                )
            })
            .collect())
    }

    fn nodes(
        &self,
        raw: Vec<(String, Option<RawNode>)>,
        hosts: &[(String, HostSpec)],
    ) -> Result<BTreeMap<String, NodeSpec>, LabFileError> {
        let mut nodes = BTreeMap::new();
        let mut namespaces: HashMap<String, String> = HashMap::new();
        for (name, node) in raw {
            let node = node.unwrap_or_default();
            let netns = node.netns.map(|n| n.0);
            let at = |k: &str| [key("topology"), key("nodes"), key(&name), key(k)];
            let host = match (node.host, hosts.first()) {
                (Some(host), None) => {
                    return Err(self.error(
                        &at("host"),
                        false,
                        format!("node {name} has `host: {host}`, but the file has no `hosts:`"),
                    ));
                }
                (Some(host), Some(_)) if !hosts.iter().any(|(h, _)| *h == host) => {
                    let defined: Vec<&str> = hosts.iter().map(|(h, _)| h.as_str()).collect();
                    return Err(self.error(
                        &at("host"),
                        false,
                        format!(
                            "node {name} is on host {host}, which `hosts:` does not define \
                             (hosts: {})",
                            defined.join(", ")
                        ),
                    ));
                }
                (Some(host), Some(_)) => Some(host),
                (None, first) => first.map(|(h, _)| h.clone()),
            };
            let kind = match node.kind {
                None | Some(RawKind::Namespace) => {
                    let vm_only = [
                        ("owner", node.owner.is_some()),
                        ("group", node.group.is_some()),
                        ("vnet-hdr", node.vnet_hdr.is_some()),
                        ("queues", node.queues.is_some()),
                    ];
                    if let Some((k, _)) = vm_only.iter().find(|(_, set)| *set) {
                        return Err(self.error(
                            &at(k),
                            true,
                            format!(
                                "`{k}` is only for nodes of `kind: vm`; node {name} is a namespace"
                            ),
                        ));
                    }
                    NodeKind::Namespace
                }
                Some(RawKind::Vm) => {
                    if netns.is_some() {
                        return Err(self.error(
                            &at("netns"),
                            true,
                            format!(
                                "node {name} has both `kind: vm` and `netns:`; a VM's taps are made in \
                                 a namespace the lab creates, so remove one of them"
                            ),
                        ));
                    }
                    // Checked here, with the line, rather than by the kernel half-way through
                    // `up` (uid/gid -1 is "none": EINVAL). Names are looked up on this machine
                    // only for a lab on one machine: a node of a lab over several hosts may
                    // name a user that exists only on its own (`up` checks it there).
                    for (k, id) in [("owner", &node.owner), ("group", &node.group)] {
                        let Some(id) = id else { continue };
                        if let Err(why) = check_id(k, &id.0) {
                            return Err(self.error(&at(k), false, why));
                        }
                        if let LabFileError::At {
                            path, line, column, ..
                        } = self.error(&at(k), false, String::new())
                        {
                            self.ids_at
                                .borrow_mut()
                                .0
                                .insert((name.clone(), k), format!("{path}:{line}:{column}"));
                        }
                    }
                    NodeKind::Vm(VmSpec {
                        owner: node.owner.map(|o| o.0),
                        group: node.group.map(|g| g.0),
                        vnet_hdr: node.vnet_hdr.unwrap_or(true),
                        queues: node.queues.map_or(1, |q| q.0),
                    })
                }
            };
            if let Some(netns) = &netns
                && let Some(other) = namespaces.insert(netns.key(), name.clone())
            {
                return Err(self.error(
                    &at("netns"),
                    false,
                    format!(
                        "node {name} is in the same namespace as node {other} ({netns}); \
                         give each namespace one node"
                    ),
                ));
            }
            nodes.insert(name, NodeSpec { kind, host, netns });
        }
        Ok(nodes)
    }

    fn links(
        &self,
        raw: Vec<RawLink>,
        nodes: &BTreeMap<String, NodeSpec>,
        (mtu, tx_checksum, datapath): (u32, Option<bool>, crate::wire::Datapath),
    ) -> Result<Vec<LinkSpec>, LabFileError> {
        let lines = item_lines(self.text, "links", raw.len());
        let mut links: Vec<LinkSpec> = Vec::with_capacity(raw.len());
        let mut link_of: HashMap<&Endpoint, usize> = HashMap::new();
        let mut vnis: HashMap<u32, usize> = HashMap::new();
        for (i, link) in raw.iter().enumerate() {
            let at = |k: &str| vec![key("topology"), key("links"), Seg::Index(i), key(k)];
            let n = link.endpoints.len();
            if n < 2 {
                let has = if n == 0 {
                    "none".to_string()
                } else {
                    n.to_string()
                };
                return Err(self.error(
                    &at("endpoints"),
                    false,
                    format!("a link needs at least two endpoints; this one has {has}"),
                ));
            }
            for (j, endpoint) in link.endpoints.iter().map(|e| &e.0).enumerate() {
                let mut segs = at("endpoints");
                segs.push(Seg::Index(j));
                if !nodes.contains_key(&endpoint.node) {
                    return Err(self.error(&segs, false, undefined_node(endpoint, nodes)));
                }
                if link.endpoints[..j].iter().any(|e| e.0 == *endpoint) {
                    return Err(self.error(
                        &segs,
                        false,
                        format!("endpoint {endpoint} appears twice in this link"),
                    ));
                }
                if let Some(&first) = link_of.get(endpoint) {
                    return Err(self.error(
                        &segs,
                        false,
                        format!(
                            "endpoint {endpoint} is in two links (lines {} and {})",
                            lines[first], lines[i]
                        ),
                    ));
                }
                link_of.insert(endpoint, i);
            }
            if let Some(vni) = &link.vni
                && let Some(first) = vnis.insert(vni.0, i)
            {
                return Err(self.error(
                    &at("vni"),
                    false,
                    format!(
                        "vni {} is used by two links (lines {} and {})",
                        vni.0, lines[first], lines[i]
                    ),
                ));
            }
            let link_mtu = link.mtu.as_ref().map_or(mtu, |m| m.0);
            let on_vm = link
                .endpoints
                .iter()
                .map(|e| &e.0)
                .find(|e| matches!(nodes[&e.node].kind, NodeKind::Vm(_)));
            if let Some(tap) = on_vm
                && link_mtu > TAP_MTU_MAX
            {
                let (segs, from) = match link.mtu {
                    Some(_) => (at("mtu"), "this link's"),
                    None => (vec![key("defaults"), key("mtu")], "the default"),
                };
                return Err(self.error(
                    &segs,
                    false,
                    format!(
                        "{from} mtu {link_mtu} is more than a tap takes ({TAP_MTU_MAX}), and \
                         {tap} is a VM's tap: set `mtu:` of the link on line {} to at most \
                         {TAP_MTU_MAX}",
                        lines[i]
                    ),
                ));
            }
            links.push(LinkSpec {
                endpoints: link.endpoints.iter().map(|e| e.0.clone()).collect(),
                mtu: link_mtu,
                tx_checksum: link.tx_checksum.as_ref().map_or(tx_checksum, |t| t.0),
                vni: link.vni.as_ref().map(|v| v.0),
                datapath: link.datapath.as_ref().map_or(datapath, |d| d.0),
                kind: super::LinkKind::Veth,
                macs: BTreeMap::new(),
                line: lines[i],
            });
        }
        Ok(links)
    }
}

pub(super) fn undefined_node(endpoint: &Endpoint, nodes: &BTreeMap<String, NodeSpec>) -> String {
    const SHOWN: usize = 12;
    let node = &endpoint.node;
    let defined = if nodes.is_empty() {
        "the file defines no nodes".to_string()
    } else {
        let mut names: Vec<&str> = nodes.keys().take(SHOWN).map(String::as_str).collect();
        if nodes.len() > SHOWN {
            names.push("…");
        }
        format!("nodes: {}", names.join(", "))
    };
    let hint = match node.as_str() {
        "host" => "; for containerlab's host endpoints, define a node with `netns: /proc/1/ns/net`",
        "mgmt-net" | "macvlan" => "; containerlab's mgmt-net and macvlan links are not supported",
        _ => "",
    };
    format!("endpoint {endpoint} names node {node}, which is not defined ({defined}){hint}")
}

pub(super) fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name cannot be empty"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "{what} name {name:?} contains {c:?}; names are 1-{NAME_MAX} characters from \
             A-Z a-z 0-9 _ -"
        ));
    }
    if name.len() > NAME_MAX {
        return Err(format!(
            "{what} name {name:?} is {} characters long; at most {NAME_MAX}",
            name.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::lab::file::testing::*;

    #[test]
    fn the_host_order_is_the_file_order() {
        let lab = lab(
            "name: t1\nhosts:\n  zz: {address: '2001:db8::2'}\n  aa: {address: 2001:db8::1}\n\
             topology:\n  nodes:\n    r1:\n    r2: {host: aa}\n",
        );
        let names: Vec<&str> = lab.hosts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["zz", "aa"]);
        assert_eq!(lab.nodes["r1"].host.as_deref(), Some("zz"));
        assert_eq!(lab.nodes["r2"].host.as_deref(), Some("aa"));
        assert!(lab.hosts[1].1.address.is_ipv6());
    }

    #[test]
    fn defaults_and_link_settings_combine() {
        let lab = lab(&format!(
            "defaults: {{mtu: 9000, tx-checksum: off}}\nvxlan: {{port: 14789}}\n{}",
            two_nodes(
                "    - endpoints: [r1:eth1, r2:eth1]\n\
                 \x20   - endpoints: [r1:eth2, r2:eth2]\n      tx-checksum: unset\n      mtu: 68\n\
                 \x20   - endpoints: [r1:eth3, r2:eth3]\n      tx-checksum: on\n      vni: 7\n\
                 \x20   - endpoints: [r1:eth4, r2:eth4]\n      tx-checksum: false\n      mtu: 65535\n"
            )
        ));
        assert_eq!(lab.vxlan_port, 14789);
        let got: Vec<(u32, Option<bool>, Option<u32>)> = lab
            .links
            .iter()
            .map(|l| (l.mtu, l.tx_checksum, l.vni))
            .collect();
        assert_eq!(
            got,
            [
                (9000, Some(false), None),
                (68, None, None),
                (9000, Some(true), Some(7)),
                (65535, Some(false), None),
            ]
        );
    }

    #[test]
    fn endpoints_must_name_defined_nodes() {
        assert_eq!(
            err(&two_nodes("    - endpoints: [\"r1:eth1\", \"r9:eth1\"]\n")),
            "t1.yaml:7:30: endpoint r9:eth1 names node r9, which is not defined (nodes: r1, r2)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  links:\n    - endpoints: [r1:eth1, r2:eth1]\n"),
            "t1.yaml:4:19: endpoint r1:eth1 names node r1, which is not defined \
             (the file defines no nodes)"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [host:veth9, r1:eth1]\n")),
            "t1.yaml:7:19: endpoint host:veth9 names node host, which is not defined \
             (nodes: r1, r2); for containerlab's host endpoints, define a node with \
             `netns: /proc/1/ns/net`"
        );
    }

    #[test]
    fn an_endpoint_is_in_one_link_once() {
        assert_eq!(
            err(&two_nodes(
                "    - endpoints: [r1:eth1, r2:eth1]\n    # a comment\n\n    - endpoints:\n        \
                 - r1:eth2\n        - r2:eth1\n"
            )),
            "t1.yaml:12:11: endpoint r2:eth1 is in two links (lines 7 and 10)"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: [r1:eth1, r2:eth1, r1:eth1]\n")),
            "t1.yaml:7:37: endpoint r1:eth1 appears twice in this link"
        );
    }

    #[test]
    fn a_link_has_two_endpoints_or_more() {
        assert_eq!(
            err(&two_nodes("    - endpoints: [r1:eth1]\n")),
            "t1.yaml:7:18: a link needs at least two endpoints; this one has 1"
        );
        assert_eq!(
            err(&two_nodes(
                "    - {endpoints: [r1:eth1, r2:eth1]}\n    - mtu: 9000\n"
            )),
            "t1.yaml:8:7: a link needs at least two endpoints; this one has none"
        );
        assert_eq!(
            err(&two_nodes("    - endpoints: []\n")),
            "t1.yaml:7:18: a link needs at least two endpoints; this one has none"
        );
    }

    #[test]
    fn hosts_are_checked() {
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {host: b}\n"),
            "t1.yaml:4:16: node r1 has `host: b`, but the file has no `hosts:`"
        );
        assert_eq!(
            err(
                "name: t1\nhosts:\n  a: {address: 198.18.1.1}\n  b: {address: 198.18.1.2}\n\
                 topology:\n  nodes:\n    r1: {host: c}\n"
            ),
            "t1.yaml:7:16: node r1 is on host c, which `hosts:` does not define (hosts: a, b)"
        );
        assert_eq!(
            err(
                "name: t1\nhosts:\n  a: {address: 198.18.1.1}\n  b: {address: 198.18.1.1}\n\
                 topology: {}\n"
            ),
            "t1.yaml:4:16: host b has the same address as host a (198.18.1.1)"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a: {address: 198.18.1}\ntopology: {}\n"),
            "t1.yaml:3:16: address `198.18.1` is not an IPv4 or IPv6 address"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a: {address: 0.0.0.0}\ntopology: {}\n"),
            "t1.yaml:3:16: address 0.0.0.0 cannot be a host's address"
        );
        assert_eq!(
            err(
                "name: t1\nhosts:\n  a: {address: 198.18.1.1}\n  a: {address: 198.18.1.2}\n\
                 topology: {}\n"
            ),
            "t1.yaml:4:3: host a is defined twice"
        );
    }

    #[test]
    fn node_kinds_and_namespaces_are_checked() {
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    vm1: {kind: vm, netns: x}\n"),
            "t1.yaml:4:21: node vm1 has both `kind: vm` and `netns:`; a VM's taps are made in a \
             namespace the lab creates, so remove one of them"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {kind: linux}\n"),
            "t1.yaml:4:16: node kind `linux` is not supported: a node is a `namespace` \
             (the default) or a `vm`"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {queues: 4}\n"),
            "t1.yaml:4:10: `queues` is only for nodes of `kind: vm`; node r1 is a namespace"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: lab/r1}\n"),
            "t1.yaml:4:17: netns \"lab/r1\" is neither a namespace name (a file under /run/netns, \
             without '/') nor an absolute path"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: ./r1}\n"),
            "t1.yaml:4:17: netns \"./r1\" is neither a namespace name (a file under /run/netns, \
             without '/') nor an absolute path"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: ..}\n"),
            "t1.yaml:4:17: netns \"..\" is neither a namespace name (a file under /run/netns, \
             without '/') nor an absolute path"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: 4242}\n"),
            "t1.yaml:4:17: netns 4242 is a number: write `netns: {pid: 4242}` for a process's \
             namespace, or `netns: \"4242\"` for a namespace named 4242"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: {pid: 0}}\n"),
            "t1.yaml:4:23: pid 0 is out of range (1..=4194304)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: {}}\n"),
            "t1.yaml:4:17: `netns:` as a mapping needs `pid`"
        );
        assert_eq!(
            err(
                "name: t1\ntopology:\n  nodes:\n    s1: {netns: x}\n    s2: {netns: /run/netns/x}\n"
            ),
            "t1.yaml:5:17: node s2 is in the same namespace as node s1 (/run/netns/x); \
             give each namespace one node"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    vm1: {kind: vm, owner: 'qemu user'}\n"),
            "t1.yaml:4:28: \"qemu user\" is not a user or group name"
        );
    }

    #[test]
    fn vnis_are_unique() {
        assert_eq!(
            err(&two_nodes(
                "    - endpoints: [r1:eth1, r2:eth1]\n      vni: 10\n    \
                 - endpoints: [r1:eth2, r2:eth2]\n    - endpoints: [r1:eth3, r2:eth3]\n      vni: 10\n"
            )),
            "t1.yaml:11:12: vni 10 is used by two links (lines 7 and 10)"
        );
    }

    #[test]
    fn vm_taps_take_at_most_65521() {
        let vm = |links: &str| {
            format!(
                "name: t1\ntopology:\n  nodes:\n    r1: {{}}\n    vm1: {{kind: vm}}\n  links:\n{links}"
            )
        };
        lab(&vm(
            "    - endpoints: [r1:e1, vm1:tap1]\n      mtu: 65521\n",
        ));
        assert_eq!(
            err(&vm(
                "    - endpoints: [r1:e1, vm1:tap1]\n      mtu: 65522\n"
            )),
            "t1.yaml:8:12: this link's mtu 65522 is more than a tap takes (65521), and vm1:tap1 \
             is a VM's tap: set `mtu:` of the link on line 7 to at most 65521"
        );
        let defaults = vm("    - endpoints: [r1:e1, r1:e2]\n    - endpoints: [r1:e3, vm1:tap1]\n")
            .replace("topology:", "defaults: {mtu: 65535}\ntopology:");
        assert_eq!(
            err(&defaults),
            "t1.yaml:2:17: the default mtu 65535 is more than a tap takes (65521), and vm1:tap1 \
             is a VM's tap: set `mtu:` of the link on line 9 to at most 65521"
        );
        let mirror = vm(
            "    - endpoints: [r1:e1, r1:e2]\n      mtu: 1500\n  mirrors:\n    \
                         - {name: m, from: [r1:e1], to: vm1:tap1}\n",
        )
        .replace("topology:", "defaults: {mtu: 65535}\ntopology:");
        assert_eq!(
            err(&mirror),
            "t1.yaml:2:17: the default mtu 65535 is more than a tap takes (65521), and vm1:tap1, \
             the destination of mirror m, is a VM's tap: set it to at most 65521"
        );
    }

    #[test]
    fn vm_owner_and_group_ids_are_in_the_kernels_range() {
        for (value, message) in [
            ("owner: 4294967295", "owner: 4294967295 is not a user id"),
            ("owner: 99999999999", "owner: 99999999999 is not a user id"),
            ("group: '4294967295'", "group: 4294967295 is not a group id"),
        ] {
            assert_eq!(
                err(&format!(
                    "name: t1\ntopology:\n  nodes:\n    vm1: {{kind: vm, {value}}}\n"
                )),
                format!("t1.yaml:4:28: {message} (0 to 4294967294; 4294967295 is -1, \"none\")")
            );
        }
        // A name reads anywhere (plan and up look it up); the largest id is fine.
        let lab = lab(
            "name: t1\ntopology:\n  nodes:\n    vm1: {kind: vm, owner: 4294967294, \
             group: pw-no-such-group}\n",
        );
        assert_eq!(
            lab.ids_at
                .0
                .get(&("vm1".to_string(), "group"))
                .map(String::as_str),
            Some("t1.yaml:4:47")
        );
        assert_eq!(
            lab.check_ids(None).unwrap_err(),
            "t1.yaml:4:47: group: no group named \"pw-no-such-group\" (looked in /etc/group)"
        );
    }
}

//! The links' checks: each link's type and endpoints (containerlab's brief form of its
//! single-ended types too, and keys that belong to other types), MACs and VNIs used twice,
//! and MTUs a VM's tap cannot take. (An endpoint named twice or in two links is said by the
//! first pass, `scan.rs`; here such a link is left out.)

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::{Check, undefined_node};
use crate::lab::file::clab;
use crate::lab::file::locate::{Seg, item_positions, key};
use crate::lab::file::raw::RawLink;
use crate::lab::file::scan::SPECIAL_NODES;
use crate::lab::file::values::{LinkType, RawEndpoint};
use crate::lab::file::*;

/// A link's endpoint with its `mac:` and where it is written.
type Placed = (Endpoint, Option<String>, Vec<Seg>);

impl Check<'_> {
    pub(super) fn links(
        &self,
        raw: Vec<RawLink>,
        nodes: &BTreeMap<String, NodeSpec>,
        (mtu, tx_checksum, datapath): (u32, Option<bool>, crate::wire::Datapath),
        default_impair: &crate::impair::Impairment,
    ) -> Vec<LinkSpec> {
        let positions = item_positions(self.text, "links", raw.len());
        let lines: Vec<usize> = positions.iter().map(|p| p.0).collect();
        let mut links: Vec<LinkSpec> = Vec::with_capacity(raw.len());
        let mut link_of: HashMap<Endpoint, usize> = HashMap::new();
        let mut vnis: HashMap<u32, usize> = HashMap::new();
        let mut macs: HashMap<String, Endpoint> = HashMap::new();
        for (i, link) in raw.iter().enumerate() {
            let at = |k: &str| vec![key("topology"), key("links"), Seg::Index(i), key(k)];
            let Some((kind, endpoints)) = self.link_kind(link, i, nodes) else {
                continue;
            };
            let mut ok = true;
            for (j, (endpoint, mac, segs)) in endpoints.iter().enumerate() {
                if self.failed.borrow().contains(&endpoint.node) {
                    // The node's own error is said; this link is not checked further.
                    ok = false;
                    continue;
                }
                if !nodes.contains_key(&endpoint.node) {
                    self.push(segs, false, undefined_node(endpoint, nodes));
                    ok = false;
                    continue;
                }
                // An endpoint used twice is named by the first pass (`scan.rs`), whatever
                // else is wrong with the file: here the link is only left out.
                if endpoints[..j].iter().any(|e| e.0 == *endpoint) || link_of.contains_key(endpoint)
                {
                    ok = false;
                    continue;
                }
                link_of.insert(endpoint.clone(), i);
                if let Some(mac) = mac
                    && let Some(other) = macs.insert(mac.clone(), endpoint.clone())
                {
                    let mut at_mac = segs.clone();
                    at_mac.push(key("mac"));
                    self.push(
                        &at_mac,
                        false,
                        format!("mac {mac} is given to two endpoints ({other} and {endpoint})"),
                    );
                    ok = false;
                }
            }
            if let Some(vni) = &link.vni
                && matches!(kind, LinkKind::Veth)
                && let Some(first) = vnis.insert(vni.0, i)
            {
                self.push(
                    &at("vni"),
                    false,
                    format!(
                        "vni {} is used by two links (lines {} and {})",
                        vni.0, lines[first], lines[i]
                    ),
                );
                ok = false;
            }
            // A macvlan cannot be larger than its parent: without `mtu:` of its own it takes
            // the parent's (as containerlab does), read by `plan` and `up`; the file's default
            // is for veths.
            let link_mtu = match (&kind, &link.mtu) {
                (LinkKind::Macvlan { .. }, None) => PARENT_MTU,
                (_, given) => given.as_ref().map_or(mtu, |m| m.0),
            };
            let on_vm = endpoints.iter().map(|e| &e.0).find(|e| {
                nodes
                    .get(&e.node)
                    .is_some_and(|n| matches!(n.kind, NodeKind::Vm(_)))
            });
            if let Some(tap) = on_vm
                && link_mtu > TAP_MTU_MAX
            {
                let (segs, from) = match link.mtu {
                    Some(_) => (at("mtu"), "this link's"),
                    None => (vec![key("defaults"), key("mtu")], "the default"),
                };
                self.push(
                    &segs,
                    false,
                    format!(
                        "{from} mtu {link_mtu} is more than a tap takes ({TAP_MTU_MAX}), and \
                         {tap} is a VM's tap: set `mtu:` of the link on line {} to at most \
                         {TAP_MTU_MAX}",
                        lines[i]
                    ),
                );
                ok = false;
            }
            let plain: Vec<Endpoint> = endpoints.iter().map(|e| e.0.clone()).collect();
            let (impair, down, netem_at) = self.link_impairs(
                link,
                i,
                (&plain, &kind, nodes),
                (default_impair, link_mtu),
                &mut ok,
            );
            let flap = self.link_flap(link, i, (&kind, down), &mut ok);
            if !ok {
                continue;
            }
            links.push(LinkSpec {
                impair,
                down,
                flap,
                netem_at,
                macs: endpoints
                    .iter()
                    .filter_map(|(e, mac, _)| Some((e.clone(), mac.clone()?)))
                    .collect(),
                endpoints: endpoints.into_iter().map(|e| e.0).collect(),
                mtu: link_mtu,
                tx_checksum: link.tx_checksum.as_ref().map_or(tx_checksum, |t| t.0),
                vni: link
                    .vni
                    .as_ref()
                    .map(|v| v.0)
                    .filter(|_| matches!(kind, LinkKind::Veth)),
                datapath: link.datapath.as_ref().map_or(datapath, |d| d.0),
                kind,
                line: lines[i],
                column: positions[i].1,
            });
        }
        links
    }

    /// The link's kind and its endpoints (with their `mac:` and place), from its `type:`:
    /// veth (also the brief form, where `host:IF`, `mgmt-net:IF` and `macvlan:IF` name
    /// containerlab's single-ended types unless the file defines a node of that name), or a
    /// single-ended type with one `endpoint:`. `None` when the link is wrong (kept in errors).
    fn link_kind(
        &self,
        link: &RawLink,
        i: usize,
        nodes: &BTreeMap<String, NodeSpec>,
    ) -> Option<(LinkKind, Vec<Placed>)> {
        let at = |k: &str| vec![key("topology"), key("links"), Seg::Index(i), key(k)];
        let mut endpoints: Vec<Placed> = link
            .endpoints
            .iter()
            .enumerate()
            .map(|(j, RawEndpoint(e, mac))| {
                let mut segs = at("endpoints");
                segs.push(Seg::Index(j));
                (e.clone(), mac.clone(), segs)
            })
            .collect();
        let typ = link.link_type.unwrap_or(LinkType::Veth);
        // Keys that belong to other types than this link's.
        let foreign: &[(&str, bool, &[LinkType])] = &[
            (
                "host-interface",
                link.host_interface.is_some(),
                &[LinkType::Host, LinkType::MgmtNet, LinkType::Macvlan],
            ),
            ("mode", link.mode.is_some(), &[LinkType::Macvlan]),
            (
                "remote",
                link.remote.is_some(),
                &[LinkType::Vxlan, LinkType::VxlanStitch],
            ),
            (
                "udp-port",
                link.udp_port.is_some(),
                &[LinkType::Vxlan, LinkType::VxlanStitch],
            ),
            (
                "dst-port",
                link.dst_port.is_some(),
                &[LinkType::Vxlan, LinkType::VxlanStitch],
            ),
            (
                "parent-interface",
                link.parent_interface.is_some(),
                &[LinkType::Vxlan, LinkType::VxlanStitch],
            ),
            (
                "dev",
                link.dev.is_some(),
                &[LinkType::Vxlan, LinkType::VxlanStitch],
            ),
        ];
        if let Some((k, _, types)) = foreign
            .iter()
            .find(|(_, set, types)| *set && !types.contains(&typ))
        {
            let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
            return self.refuse(
                &at(k),
                format!(
                    "`{k}` is for links of type {}; this link is {}",
                    names.join(", "),
                    typ.name()
                ),
            );
        }
        if typ == LinkType::Veth {
            if link.endpoint.is_some() {
                return self.refuse(
                    &at("endpoint"),
                    "a veth link takes `endpoints:` (a list of two or more), not `endpoint:`"
                        .into(),
                );
            }
            let special: Vec<usize> = (0..endpoints.len())
                .filter(|&j| {
                    let node = endpoints[j].0.node.as_str();
                    SPECIAL_NODES.contains(&node) && !nodes.contains_key(node)
                })
                .collect();
            if let [s] = special[..]
                && endpoints.len() == 2
            {
                let (host_side, _, _) = endpoints.remove(s);
                let host_interface = host_side.interface;
                let kind = match host_side.node.as_str() {
                    "host" => LinkKind::Host { host_interface },
                    "mgmt-net" => LinkKind::MgmtNet { host_interface },
                    _ => LinkKind::Macvlan {
                        host_interface,
                        mode: "bridge".into(),
                    },
                };
                return Some((kind, endpoints));
            }
            let n = endpoints.len();
            if n < 2 {
                let has = if n == 0 {
                    "none".to_string()
                } else {
                    n.to_string()
                };
                return self.refuse(
                    &at("endpoints"),
                    format!("a link needs at least two endpoints; this one has {has}"),
                );
            }
            return Some((LinkKind::Veth, endpoints));
        }
        let what = typ.name();
        let (Some(RawEndpoint(e, mac)), true) = (&link.endpoint, endpoints.is_empty()) else {
            return self.refuse(
                &at(if link.endpoint.is_some() {
                    "endpoints"
                } else {
                    "type"
                }),
                format!(
                    "a `type: {what}` link takes one `endpoint:` (a mapping), not `endpoints:`"
                ),
            );
        };
        let endpoints = vec![(e.clone(), mac.clone(), at("endpoint"))];
        let host_interface = || -> Option<String> {
            let Some(name) = &link.host_interface else {
                return self.refuse(
                    &at("type"),
                    format!("a `type: {what}` link needs `host-interface:`"),
                );
            };
            match crate::nl::link::validate_name(name) {
                Ok(()) => Some(name.clone()),
                Err(e) => self.refuse(&at("host-interface"), format!("host-interface: {e}")),
            }
        };
        let kind = match typ {
            LinkType::Veth => unreachable!("handled above"),
            LinkType::Host => LinkKind::Host {
                host_interface: host_interface()?,
            },
            LinkType::MgmtNet => LinkKind::MgmtNet {
                host_interface: host_interface()?,
            },
            LinkType::Macvlan => {
                let mode = link.mode.clone().unwrap_or_else(|| "bridge".into());
                if !["bridge", "vepa", "private", "passthru", "source"].contains(&mode.as_str()) {
                    return self.refuse(
                        &at("mode"),
                        format!(
                            "macvlan mode `{mode}` is not bridge, vepa, private, passthru or source"
                        ),
                    );
                }
                LinkKind::Macvlan {
                    host_interface: host_interface()?,
                    mode,
                }
            }
            LinkType::Dummy => LinkKind::Dummy,
            LinkType::Vxlan | LinkType::VxlanStitch => {
                let Some(remote) = &link.remote else {
                    return self.refuse(
                        &at("type"),
                        format!("a `type: {what}` link needs `remote:`"),
                    );
                };
                let Ok(remote) = remote.parse::<IpAddr>() else {
                    return self.refuse(
                        &at("remote"),
                        format!("remote `{remote}` is not an IPv4 or IPv6 address"),
                    );
                };
                let Some(vni) = &link.vni else {
                    return self.refuse(&at("type"), format!("a `type: {what}` link needs `vni:`"));
                };
                let dev = link.parent_interface.clone().or_else(|| link.dev.clone());
                if let Some(dev) = &dev
                    && let Err(e) = crate::nl::link::validate_name(dev)
                {
                    return self.refuse(&at("parent-interface"), format!("parent-interface: {e}"));
                }
                LinkKind::Vxlan {
                    remote,
                    vni: vni.0,
                    udp_port: link
                        .dst_port
                        .as_ref()
                        .or(link.udp_port.as_ref())
                        .map_or(clab::CLAB_VXLAN_PORT, |p| p.0),
                    dev,
                    stitch: typ == LinkType::VxlanStitch,
                }
            }
        };
        Some((kind, endpoints))
    }
}

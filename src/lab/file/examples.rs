//! The example lab files of docs/labs.md, which `patchwire lab example` prints.

/// A complete lab on one machine, with every key but the multi-host ones: the example of
/// docs/labs.md.
pub fn example() -> &'static str {
    EXAMPLE
}

/// A lab over two machines: `hosts:`, `host:`, `vxlan:` and `vni:` (in docs/labs.md too).
pub fn example_multi_host() -> &'static str {
    EXAMPLE_MULTI_HOST
}

const EXAMPLE: &str = r#"# A lab on one machine: two routers joined by a wire, a three-way segment, an existing
# namespace, a qemu VM, and an analyzer that is sent a copy of one router's traffic.
name: demo                  # required: 1-32 characters from A-Z a-z 0-9 _ -

defaults:                   # optional
  mtu: 9000                 # MTU of every link that sets none (68..=65535; default 1500)
  tx-checksum: off          # TX checksum offload on the lab's interfaces: on, off or unset
                            #   (default unset: each interface keeps its own setting)

topology:
  nodes:
    r1: {}                  # a namespace the lab creates, named demo-r1
    r2: {}
    r3:                     # an empty entry is a namespace too
    sw:                     # an existing namespace: a name under /run/netns,
      netns: clab-demo-sw   #   an absolute path (/proc/PID/ns/net), or {pid: PID}
    vm1:
      kind: vm              # namespace (the default) or vm: the node's endpoints are persistent
                            #   taps for qemu, made in namespace demo-vm1
      owner: qemu           # user (name or uid) that may open the taps, for an unprivileged qemu
      group: kvm            # group (name or gid) that may open the taps
      vnet-hdr: true        # taps carry a virtio-net header (default true)
      queues: 2             # queues per tap (1..=256, default 1)
    mon: {}                 # the analyzer: run tcpdump or Wireshark in namespace demo-mon
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]             # two endpoints: a wire
    - endpoints: ["r1:eth2", "r2:eth2", "r3:eth2"]  # three or more: a hub segment
      mtu: 1500                                     # this link's MTU
    - endpoints: ["r3:eth1", "sw:e1-1"]
      tx-checksum: on                               # this link's setting, not the default
    - type: veth                                    # containerlab's extended form, pasted as is
      endpoints:
        - {node: vm1, interface: tap1}
        - {node: sw, interface: e1-2}
      mtu: 9000
      vars: {cost: 10}                              # containerlab's vars and labels are ignored
  mirrors:                                          # optional: copies of links' frames
    - name: tap1                                    # 1-15 characters from A-Z a-z 0-9 _ . -
      from: ["r1:eth1"]                             # endpoints of links, whose frames are copied
      to: "mon:eth1"                                # in no link: the lab makes it like any
                                                    #   endpoint and sends it the copies only
      direction: both                               # tx: what r1 sends out of eth1, rx: what it
                                                    #   receives on eth1, or both (the default)
      # vlan: "100,200-210"                         # only frames of these VLANs (default: all)
      # output-vlan: 999                            # RSPAN: copies leave tagged (1..=4094)
"#;

const EXAMPLE_MULTI_HOST: &str = r#"# A lab over two machines: a link between nodes on different hosts is a VXLAN tunnel
# between the hosts' addresses.
name: spread

hosts:                      # order matters: a node without host: is on the first host
  a: {address: 198.18.1.1}  # each host's underlay address, IPv4 or IPv6 (required)
  b: {address: 198.18.1.2}

vxlan:
  port: 4789                # UDP port of cross-host links (1..=65535, default 4789)

topology:
  nodes:
    r1: {}                  # on host a, the first
    r2: {host: b}
    r3: {host: b}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]   # from host a to host b
      mtu: 1450                           # VXLAN adds 50 bytes (70 over IPv6): 1450 fits a
                                          #   1500-byte underlay (up checks it)
      vni: 1001                           # this link's VXLAN VNI (1..=16777215), instead of
                                          #   the one the lab picks
    - endpoints: ["r2:eth2", "r3:eth2"]   # both on host b: a local wire
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::file::testing::*;
    use std::collections::BTreeSet;

    use crate::lab::file::*;

    #[test]
    fn the_example_reads_as_documented() {
        let lab = parse("demo.yaml", example()).unwrap();
        let vm = NodeSpec {
            kind: NodeKind::Vm(VmSpec {
                owner: Some("qemu".into()),
                group: Some("kvm".into()),
                vnet_hdr: true,
                queues: 2,
            }),
            host: None,
            netns: None,
        };
        let sw = NodeSpec {
            netns: Some(NetnsRef::Name("clab-demo-sw".into())),
            ..namespace()
        };
        let expected = LabFile {
            ids_at: Default::default(),
            mgmt: None,
            notes: vec![
                "patchwire does not do `vars` (link on line 31): containerlab's template variables"
                    .into(),
            ],
            name: "demo".into(),
            path: "demo.yaml".into(),
            hosts: vec![],
            mtu: 9000,
            tx_checksum: Some(false),
            vxlan_port: DEFAULT_VXLAN_PORT,
            nodes: BTreeMap::from([
                ("r1".into(), namespace()),
                ("r2".into(), namespace()),
                ("r3".into(), namespace()),
                ("sw".into(), sw),
                ("vm1".into(), vm),
                ("mon".into(), namespace()),
            ]),
            links: vec![
                link(&["r1:eth1", "r2:eth1"], 9000, Some(false), 26),
                link(&["r1:eth2", "r2:eth2", "r3:eth2"], 1500, Some(false), 27),
                link(&["r3:eth1", "sw:e1-1"], 9000, Some(true), 29),
                link(&["vm1:tap1", "sw:e1-2"], 9000, Some(false), 31),
            ],
            mirrors: vec![MirrorFileSpec {
                name: "tap1".into(),
                from: vec![ep("r1:eth1")],
                to: ep("mon:eth1"),
                direction: MirrorSide::Both,
                vlans: None,
                output_vlan: None,
                filter: None,
                line: 38,
                column: 5,
            }],
        };
        assert_eq!(lab, expected);
        assert!(!lab.links[0].is_hub());
        assert!(lab.links[1].is_hub());
    }

    #[test]
    fn the_multi_host_example_puts_nodes_on_hosts() {
        let lab = parse("spread.yaml", example_multi_host()).unwrap();
        let hosts: Vec<(&str, String)> = lab
            .hosts
            .iter()
            .map(|(name, h)| (name.as_str(), h.address.to_string()))
            .collect();
        assert_eq!(
            hosts,
            [("a", "198.18.1.1".into()), ("b", "198.18.1.2".into())]
        );
        let host_of = |n: &str| lab.nodes[n].host.as_deref();
        assert_eq!(
            (host_of("r1"), host_of("r2"), host_of("r3")),
            (Some("a"), Some("b"), Some("b"))
        );
        assert_eq!(lab.vxlan_port, 4789);
        assert_eq!(lab.mtu, DEFAULT_MTU);
        assert_eq!(lab.tx_checksum, None);
        let mut first = link(&["r1:eth1", "r2:eth1"], 1450, None, 18);
        first.vni = Some(1001);
        assert_eq!(
            lab.links,
            [first, link(&["r2:eth2", "r3:eth2"], 1500, None, 23)]
        );
        // Its cross-host link fits a 1500-byte IPv4 underlay (VXLAN adds 50 bytes).
        let cross = |l: &&LinkSpec| {
            let hosts: BTreeSet<_> = l.endpoints.iter().map(|e| host_of(&e.node)).collect();
            hosts.len() > 1
        };
        assert!(lab.links.iter().filter(cross).all(|l| l.mtu + 50 <= 1500));
    }

    #[test]
    fn the_docs_show_the_examples() {
        let docs = include_str!("../../../docs/labs.md");
        assert!(docs.contains(example()), "docs/labs.md lacks example()");
        assert!(
            docs.contains(example_multi_host()),
            "docs/labs.md lacks example_multi_host()"
        );
    }

    #[test]
    fn serializes_for_json_output() {
        let lab = parse("demo.yaml", example()).unwrap();
        let json = serde_json::to_value(&lab).unwrap();
        assert_eq!(json["links"][0]["endpoints"][0], "r1:eth1");
        assert_eq!(json["nodes"]["vm1"]["kind"]["vm"]["queues"], 2);
        assert_eq!(json["nodes"]["r1"]["kind"], "namespace");
        assert_eq!(json["nodes"]["sw"]["netns"]["name"], "clab-demo-sw");
        assert_eq!(json["mirrors"][0]["from"][0], "r1:eth1");
        assert_eq!(json["mirrors"][0]["to"], "mon:eth1");
        assert_eq!(json["mirrors"][0]["direction"], "both");
        assert_eq!(json["mirrors"][0]["vlans"], serde_json::Value::Null);
    }
}

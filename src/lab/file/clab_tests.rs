//! Unit tests of containerlab's schema in lab files: precedence, expansion, prefix, notes,
//! kinds, link types, and all errors at once.

use std::collections::BTreeMap;

use super::testing::*;
use super::*;

fn with_env(text: &str, env: &[(&str, &str)]) -> Result<LabFile, String> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse_with_env("/labs/x/t1.clab.yml", text, &|name| env.get(name).cloned())
        .map_err(|e| e.to_string())
}

fn container(lab: &LabFile, node: &str) -> ContainerNode {
    match &lab.nodes[node].kind {
        NodeKind::Container(c) => (**c).clone(),
        other => panic!("{node} is {other:?}"),
    }
}

const PRECEDENCE: &str = "name: p
topology:
  defaults:
    kind: linux
    image: alpine:3
    env: {A: defaults, B: defaults, C: defaults, D: defaults}
    binds: [/d:/data, /shared:/etc/shared]
    exec: [echo defaults]
    ports: ['80:80']
    cap-add: [NET_ADMIN]
    labels: {tier: d}
  kinds:
    linux:
      image: frr:9
      env: {B: kind, C: kind}
      binds: [/k:/data]
      exec: [echo kind]
      user: kind-user
  groups:
    spine:
      env: {C: group}
      exec: [echo group, echo defaults]
      ports: ['8080:80', '2222:22']
      cpu: 1.5
  nodes:
    s1:
      group: spine
      env: {D: node, N: 1}
      exec: [echo node]
      memory: 1Gb
    l1:
      image: busybox
      ports: []
";

#[test]
fn node_over_group_over_kind_over_defaults() {
    let lab = with_env(PRECEDENCE, &[]).unwrap();
    let s1 = container(&lab, "s1");
    assert_eq!(s1.spec.name, "clab-p-s1");
    assert_eq!(s1.spec.hostname, "s1");
    // Scalars: the first level that sets one.
    assert_eq!(s1.spec.image, "frr:9");
    assert_eq!(s1.spec.user.as_deref(), Some("kind-user"));
    assert_eq!(s1.spec.cpu.as_deref(), Some("1.5"));
    assert_eq!(s1.spec.memory.as_deref(), Some("1Gb"));
    // Maps: key by key.
    let env: Vec<(&str, &str)> = s1
        .spec
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("A", "defaults"),
            ("B", "kind"),
            ("C", "group"),
            ("D", "node"),
            ("N", "1")
        ]
    );
    assert_eq!(s1.spec.labels["tier"], "d");
    // Lists: appended from defaults to node, each once; binds one per container path.
    assert_eq!(
        s1.exec,
        ["echo defaults", "echo kind", "echo group", "echo node"]
    );
    assert_eq!(s1.spec.binds, ["/k:/data", "/shared:/etc/shared"]);
    assert_eq!(s1.spec.cap_add, ["NET_ADMIN"]);
    // Ports: the first level that has any, whole.
    assert_eq!(s1.spec.ports, ["8080:80", "2222:22"]);
    assert!(s1.spec.privileged);
    let l1 = container(&lab, "l1");
    assert_eq!(l1.spec.image, "busybox");
    assert_eq!(l1.spec.ports, ["80:80"]);
    assert_eq!(l1.exec, ["echo defaults", "echo kind"]);
    // A containerlab file: links default to its MTU, the management network to its own.
    assert_eq!(lab.mtu, 9500);
    assert_eq!(
        lab.mgmt,
        Some(crate::runtime::NetworkSpec {
            name: "clab".into(),
            ipv4_subnet: Some("172.20.20.0/24".into()),
            ipv6_subnet: Some("3fff:172:20:20::/64".into()),
            bridge: None,
            mtu: None,
        })
    );
}

#[test]
fn a_groups_kind_and_a_kinds_group_count() {
    let lab = with_env(
        "name: g\ntopology:\n  kinds:\n    linux: {group: edge}\n  groups:\n    \
         edge: {image: alpine, env: {G: edge}}\n    hubs: {kind: hub}\n  nodes:\n    \
         a: {kind: linux}\n    h: {group: hubs}\n    n: {}\n",
        &[],
    )
    .unwrap();
    assert_eq!(container(&lab, "a").spec.env["G"], "edge");
    assert_eq!(lab.nodes["h"].kind, NodeKind::Hub);
    assert_eq!(lab.nodes["n"].kind, NodeKind::Namespace);
}

#[test]
fn container_names_follow_the_prefix_key() {
    for (prefix, name) in [
        ("", "clab-lab1-r1"),
        ("prefix: ''\n", "r1"),
        ("prefix: __lab-name\n", "lab1-r1"),
        ("prefix: acme\n", "acme-lab1-r1"),
    ] {
        let text =
            format!("name: lab1\n{prefix}topology:\n  nodes:\n    r1: {{kind: linux, image: a}}\n");
        assert_eq!(container(&lab(&text), "r1").spec.name, name, "{prefix}");
    }
    assert_eq!(
        err("name: lab1\nprefix: a/b\ntopology: {}\n"),
        "t1.yaml:2:9: prefix \"a/b\" is not a container name prefix: \"\" (no prefix), \
         `__lab-name` (the lab's name only), or a name from A-Z a-z 0-9 - . _"
    );
}

#[test]
fn an_image_makes_a_container_and_linux_without_one_a_namespace() {
    let lab = lab(
        "name: k\ntopology:\n  nodes:\n    a: {image: alpine}\n    b: {kind: linux}\n    \
         c: {kind: ext-container, exec: [ip link]}\n    d: {kind: bridge}\n    e: {kind: host}\n",
    );
    assert!(matches!(lab.nodes["a"].kind, NodeKind::Container(_)));
    assert_eq!(lab.nodes["b"].kind, NodeKind::Namespace);
    assert_eq!(
        lab.nodes["c"].kind,
        NodeKind::ExtContainer(ExtContainerNode {
            container: "c".into(),
            exec: vec!["ip link".into()],
        })
    );
    assert_eq!(lab.nodes["d"].kind, NodeKind::Bridge);
    assert_eq!(lab.nodes["e"].kind, NodeKind::Host);
    assert_eq!(
        err("name: k\ntopology:\n  nodes:\n    a: {kind: namespace, image: alpine}\n"),
        "t1.yaml:4:26: node a is a `kind: namespace` with an `image:`; a container node is \
         `kind: linux` (or has no `kind:`)"
    );
    assert_eq!(
        err("name: k\ntopology:\n  nodes:\n    a: {image: alpine, netns: x}\n"),
        "t1.yaml:4:24: node a is a container (`kind: linux` with an image) and has `netns:`; \
         only a namespace node stands for an existing namespace, so remove one of them"
    );
    assert_eq!(
        err("name: k\ntopology:\n  nodes:\n    b: {kind: ovs-bridge}\n"),
        "t1.yaml:4:15: node b: kind `ovs-bridge` is refused: an Open vSwitch bridge: patchwire \
         does not drive OvS; use `kind: bridge` for an existing Linux bridge, or `kind: hub` \
         for a segment that also passes LACP, STP and LLDP"
    );
}

#[test]
fn container_keys_are_read() {
    let lab = lab(
        "name: c\ntopology:\n  nodes:\n    r1:\n      kind: linux\n      image: frr\n      \
         cmd: sh -c 'sleep infinity'\n      entrypoint: /bin/tini --\n      user: '0'\n      \
         network-mode: none\n      mgmt-ipv4: 172.20.20.9\n      mgmt-ipv6: 3fff:172:20:20::9\n      \
         sysctls: {net.ipv4.ip_forward: 1}\n      devices: [/dev/net/tun]\n      \
         privileged: false\n      hostname: router1\n",
    );
    let r1 = container(&lab, "r1").spec;
    assert_eq!(
        r1.cmd,
        Some(vec!["sh".into(), "-c".into(), "sleep infinity".into()])
    );
    assert_eq!(r1.entrypoint, Some(vec!["/bin/tini".into(), "--".into()]));
    assert_eq!(r1.user.as_deref(), Some("0"));
    assert_eq!(r1.network_mode.as_deref(), Some("none"));
    assert_eq!(r1.mgmt_ipv4, Some("172.20.20.9".parse().unwrap()));
    assert_eq!(r1.mgmt_ipv6, Some("3fff:172:20:20::9".parse().unwrap()));
    assert_eq!(r1.sysctls["net.ipv4.ip_forward"], "1");
    assert_eq!(r1.devices, ["/dev/net/tun"]);
    assert!(!r1.privileged);
    assert_eq!(r1.hostname, "router1");
    // Every container mistake of the file at once, each at its key.
    assert_eq!(
        err(
            "name: c\ntopology:\n  nodes:\n    r1: {image: a, cmd: \"sh -c 'x\", mgmt-ipv4: 1.2.3}\n    \
             r2: {image: a, binds: [nowhere]}\n"
        ),
        "t1.yaml:4:25: node r1: cmd \"sh -c 'x\" cannot be split into words: a quote is not closed\n\
         t1.yaml:4:48: node r1: mgmt-ipv4 \"1.2.3\" is not an IPv4 address\n\
         t1.yaml:5:27: node r2: bind \"nowhere\" is not HOST:CONTAINER[:OPTIONS] (a named volume \
         goes under `volumes:`)"
    );
}

#[test]
fn binds_and_env_files_are_relative_to_the_file() {
    let dir = std::env::temp_dir().join(format!("pw-clab-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("cfg")).unwrap();
    std::fs::write(dir.join("cfg/a.env"), "# vars\nA=1\nexport B='two words'\n").unwrap();
    let path = dir.join("lab.clab.yml");
    let text = "name: f\ntopology:\n  nodes:\n    r1:\n      image: a\n      \
                env-files: [cfg/a.env]\n      env: {B: env}\n      binds: [cfg:/etc/cfg:ro]\n";
    let lab = parse(path.to_str().unwrap(), text).unwrap();
    let r1 = container(&lab, "r1").spec;
    assert_eq!(r1.env["A"], "1");
    assert_eq!(r1.env["B"], "env");
    assert_eq!(r1.binds, [format!("{}/cfg:/etc/cfg:ro", dir.display())]);
    let missing = text.replace("cfg/a.env", "cfg/gone.env");
    let e = parse(path.to_str().unwrap(), &missing)
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        e,
        format!(
            "{}:6:18: node r1: env-file cfg/gone.env (resolved to {}/cfg/gone.env): No such \
             file or directory (os error 2)",
            path.display(),
            dir.display()
        )
    );
}

#[test]
fn variables_are_expanded_before_reading() {
    let text = "name: ${LAB:-envlab}\ntopology:\n  nodes:\n    r1:\n      image: ${IMG}\n      \
                env: {HOME_IS: $HOMEDIR, KEEP: ${UNSET_ONE}}\n";
    let lab = with_env(text, &[("IMG", "alpine:3.20"), ("HOMEDIR", "/root")]).unwrap();
    assert_eq!(lab.name, "envlab");
    let r1 = container(&lab, "r1").spec;
    assert_eq!(r1.image, "alpine:3.20");
    assert_eq!(r1.env["HOME_IS"], "/root");
    // containerlab leaves an unset variable as written (without its braces): so does
    // patchwire, and says so.
    assert_eq!(r1.env["KEEP"], "$UNSET_ONE");
    assert_eq!(
        lab.notes,
        [
            "environment variables not set (or empty), left as written as containerlab does: \
          $UNSET_ONE"
        ]
    );
    assert_eq!(
        with_env("name: x\ntopology:\n  nodes:\n    r1: {image: ${IMG\n", &[]).unwrap_err(),
        "/labs/x/t1.clab.yml:4:17: `${` without its closing `}` on the same line (write `$$` \
         for a `$`)"
    );
}

#[test]
fn accepted_keys_are_named_once_in_a_note() {
    let lab = lab(
        "name: n\nsettings: {certificate-authority: {}}\nmgmt:\n  network: lab-mgmt\n  \
         ipv4-subnet: 198.18.0.0/24\n  external-access: false\n  mtu: 1400\n\
         topology:\n  defaults: {startup-config: base.cfg}\n  nodes:\n    \
         r1: {image: a, startup-config: r1.cfg, healthcheck: {test: [x]}}\n    \
         r2: {image: a, startup-config: r2.cfg}\n  links:\n    \
         - endpoints: [r1:e1, r2:e1]\n      vars: {x: 1}\n    \
         - endpoints: [{node: r1, interface: e2, ipv4: 198.18.1.1/24}, r2:e2]\n      vars: {}\n",
    );
    assert_eq!(
        lab.notes,
        [
            "patchwire does not do `settings` (top level): containerlab's certificate authority \
             and lab settings",
            "patchwire does not do `external-access` (mgmt): the runtime's own NAT and firewall \
             rules apply",
            "patchwire does not do `startup-config` (topology.defaults, node r1, node r2): vendor \
             configuration; use `binds:` and `exec:`",
            "patchwire does not do `healthcheck` (node r1): containers run without a health check",
            "patchwire does not do `vars` (link on line 14, link on line 16): containerlab's \
             template variables",
            "patchwire does not do `ipv4` (link on line 16): addresses on endpoints; use `exec:` \
             to set them",
        ]
    );
    let mgmt = lab.mgmt.unwrap();
    assert_eq!(mgmt.name, "lab-mgmt");
    assert_eq!(mgmt.ipv4_subnet.as_deref(), Some("198.18.0.0/24"));
    assert_eq!(mgmt.mtu, Some(1400));
}

#[test]
fn vendor_nodes_are_refused_together() {
    assert_eq!(
        err(
            "name: v\ntopology:\n  kinds:\n    nokia_srlinux: {image: srl}\n  nodes:\n    \
             srl1: {kind: nokia_srlinux}\n    ceos1: {kind: ceos}\n    pc: {kind: linux, image: a}\n    \
             sros: {kind: vr-sros}\n"
        ),
        "t1.yaml:6:18: 3 nodes have kinds patchwire does not run: srl1 (nokia_srlinux, line 6), \
         ceos1 (ceos, line 7), sros (vr-sros, line 9). They are vendors' kinds, whose \
         bootstrapping (images, startup configuration, licences, management) is containerlab's \
         trade: deploy them with containerlab, and wire their containers into a patchwire lab \
         as nodes of `kind: ext-container`, each named as its container (clab-LAB-NODE). \
         patchwire runs kinds linux, ext-container, bridge, host, hub, namespace and vm"
    );
    // A kind from the defaults counts, and the message says it once.
    assert_eq!(
        err("name: v\ntopology:\n  defaults: {kind: crpd}\n  nodes:\n    r1: {}\n"),
        "t1.yaml:5:5: 1 node has a kind patchwire does not run: r1 (crpd, line 5). It is a \
         vendor's kind, whose bootstrapping (images, startup configuration, licences, \
         management) is containerlab's trade: deploy them with containerlab, and wire their \
         containers into a patchwire lab as nodes of `kind: ext-container`, each named as its \
         container (clab-LAB-NODE). patchwire runs kinds linux, ext-container, bridge, host, \
         hub, namespace and vm"
    );
}

#[test]
fn every_error_of_a_file_comes_at_once() {
    assert_eq!(
        err(
            "name: a\ntopolgy: {}\ntopology:\n  kinds: {linux: {imag: x}}\n  nodes:\n    \
             r1: {kind: srl, bind: []}\n    r2: {}\n  links:\n    - endpoints: [r1:e1, r9:e1]\n    \
             - endpoints: [r2:e2, r8:e2]\n      mut: 9000\n"
        ),
        "t1.yaml:2:1: unknown key `topolgy` at the top level (did you mean `topology`?)\n\
         t1.yaml:4:19: unknown key `imag` in kind linux (did you mean `image`?)\n\
         t1.yaml:6:16: 1 node has a kind patchwire does not run: r1 (srl, line 6). It is a \
         vendor's kind, whose bootstrapping (images, startup configuration, licences, \
         management) is containerlab's trade: deploy them with containerlab, and wire their \
         containers into a patchwire lab as nodes of `kind: ext-container`, each named as its \
         container (clab-LAB-NODE). patchwire runs kinds linux, ext-container, bridge, host, \
         hub, namespace and vm\n\
         t1.yaml:6:21: unknown key `bind` in node r1 (did you mean `binds`?)\n\
         t1.yaml:9:26: endpoint r9:e1 names node r9, which is not defined (nodes: r1, r2)\n\
         t1.yaml:10:26: endpoint r8:e2 names node r8, which is not defined (nodes: r1, r2)\n\
         t1.yaml:11:7: unknown key `mut` in a link (did you mean `mtu`?)"
    );
}

#[test]
fn single_ended_links_and_macs() {
    let lab = lab(
        "name: l\ntopology:\n  nodes:\n    r1: {image: a}\n    r2: {image: a}\n  links:\n    \
         - endpoints: [r1:eth1, host:r1-eth1]\n    \
         - endpoints: [mgmt-net:r1-eth2, r1:eth2]\n    \
         - endpoints: [r1:eth3, macvlan:enp0s3]\n    \
         - type: macvlan\n      endpoint: {node: r2, interface: eth3}\n      host-interface: enp0s3\n      mode: vepa\n    \
         - type: vxlan\n      endpoint: {node: r2, interface: eth4, mac: 02:AA:00:00:00:04}\n      \
         remote: 198.18.0.2\n      vni: 100\n      parent-interface: eth0\n    \
         - {type: vxlan-stitch, endpoint: {node: r2, interface: eth5}, remote: 'fd00::2', vni: 5, udp-port: 4789}\n    \
         - {type: dummy, endpoint: {node: r2, interface: dummy0}}\n    \
         - type: veth\n      mtu: 1500\n      endpoints:\n        - {node: r1, interface: eth9, mac: '02:00:00:00:00:01'}\n        \
         - {node: r2, interface: eth9}\n",
    );
    let kinds: Vec<(&LinkKind, String, u32)> = lab
        .links
        .iter()
        .map(|l| {
            let eps: Vec<String> = l.endpoints.iter().map(ToString::to_string).collect();
            (&l.kind, eps.join(" "), l.mtu)
        })
        .collect();
    let host = |h: &str| h.to_string();
    assert_eq!(
        kinds,
        [
            (
                &LinkKind::Host {
                    host_interface: host("r1-eth1")
                },
                "r1:eth1".into(),
                9500
            ),
            (
                &LinkKind::MgmtNet {
                    host_interface: host("r1-eth2")
                },
                "r1:eth2".into(),
                9500
            ),
            (
                &LinkKind::Macvlan {
                    host_interface: host("enp0s3"),
                    mode: "bridge".into()
                },
                "r1:eth3".into(),
                PARENT_MTU
            ),
            (
                &LinkKind::Macvlan {
                    host_interface: host("enp0s3"),
                    mode: "vepa".into()
                },
                "r2:eth3".into(),
                PARENT_MTU
            ),
            (
                &LinkKind::Vxlan {
                    remote: "198.18.0.2".parse().unwrap(),
                    vni: 100,
                    udp_port: 14789,
                    dev: Some("eth0".into()),
                    stitch: false
                },
                "r2:eth4".into(),
                9500
            ),
            (
                &LinkKind::Vxlan {
                    remote: "fd00::2".parse().unwrap(),
                    vni: 5,
                    udp_port: 4789,
                    dev: None,
                    stitch: true
                },
                "r2:eth5".into(),
                9500
            ),
            (&LinkKind::Dummy, "r2:dummy0".into(), 9500),
            (&LinkKind::Veth, "r1:eth9 r2:eth9".into(), 1500),
        ]
    );
    assert_eq!(
        lab.links[4].macs,
        BTreeMap::from([(ep("r2:eth4"), "02:aa:00:00:00:04".to_string())])
    );
    assert_eq!(
        lab.links[7].macs,
        BTreeMap::from([(ep("r1:eth9"), "02:00:00:00:00:01".to_string())])
    );
    // A node named `host` is the file's node, as before: patchwire's files keep working.
    let lab = lab_two(
        "    host: {netns: /proc/1/ns/net}\n",
        "    - endpoints: [r1:e1, host:veth9]\n",
    );
    assert_eq!(lab.links[0].kind, LinkKind::Veth);
}

fn lab_two(extra_nodes: &str, links: &str) -> LabFile {
    lab(&format!(
        "name: t1\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n{extra_nodes}  links:\n{links}"
    ))
}

#[test]
fn link_mistakes_are_named() {
    assert_eq!(
        err(&two_nodes(
            "    - endpoints: [{node: r1, interface: e1, mac: 01:00:5e:00:00:01}, r2:e1]\n"
        )),
        "t1.yaml:7:50: mac 01:00:5e:00:00:01 is a multicast address (the first octet is odd); an \
         interface needs a unicast one, such as 02:00:00:00:00:01"
    );
    assert_eq!(
        err(&two_nodes(
            "    - endpoints: [{node: r1, interface: e1, mac: '02:00:00:00:01'}, r2:e1]\n"
        )),
        "t1.yaml:7:50: mac \"02:00:00:00:01\" is not a MAC address (six hex octets: \
         aa:bb:cc:dd:ee:ff)"
    );
    assert_eq!(
        err(&two_nodes(
            "    - endpoints: [{node: r1, interface: e1, mac: '02:00:00:00:00:01'}, r2:e1]\n    \
             - endpoints: [{node: r1, interface: e2, mac: '02:00:00:00:00:01'}, r2:e2]\n"
        )),
        "t1.yaml:8:50: mac 02:00:00:00:00:01 is given to two endpoints (r1:e1 and r1:e2)"
    );
    assert_eq!(
        err(&two_nodes(
            "    - {type: host, endpoint: {node: r1, interface: e1}}\n    \
             - {type: vxlan, endpoint: {node: r1, interface: e2}, remote: x, vni: 1}\n    \
             - {type: veth, endpoints: [r1:e3, r2:e3], remote: 198.18.0.1}\n"
        )),
        "t1.yaml:7:14: a `type: host` link needs `host-interface:`\n\
         t1.yaml:8:66: remote `x` is not an IPv4 or IPv6 address\n\
         t1.yaml:9:55: `remote` is for links of type vxlan, vxlan-stitch; this link is veth"
    );
    assert_eq!(
        err(&two_nodes(
            "    - {type: bogus, endpoints: [r1:e4, r2:e4]}\n"
        )),
        "t1.yaml:7:14: link type `bogus` is not one of veth, host, mgmt-net, macvlan, vxlan, \
         vxlan-stitch, dummy"
    );
}

#[test]
fn every_listed_key_is_read_where_it_is_listed() {
    use super::keys::*;
    let wrap = |place: &str, key: &str| -> String {
        match place {
            "top" => format!("name: k\n{key}: ~\ntopology: {{}}\n"),
            "mgmt" => format!("name: k\nmgmt: {{{key}: ~}}\ntopology: {{}}\n"),
            "topology" => format!("name: k\ntopology: {{{key}: ~}}\n"),
            "node" => format!("name: k\ntopology:\n  nodes:\n    r1: {{{key}: ~}}\n"),
            "defaults" => format!("name: k\ntopology:\n  defaults: {{{key}: ~}}\n"),
            "link" => format!(
                "name: k\ntopology:\n  nodes: {{r1: {{}}, r2: {{}}}}\n  links:\n    \
                 - {{endpoints: [r1:a, r2:a], {key}: ~}}\n"
            ),
            _ => format!(
                "name: k\ntopology:\n  nodes: {{r1: {{}}, r2: {{}}}}\n  links:\n    \
                 - {{endpoints: [{{node: r1, interface: a, {key}: ~}}, r2:a]}}\n"
            ),
        }
    };
    let places: &[(&str, &[&str])] = &[
        ("top", TOP),
        ("mgmt", MGMT),
        ("topology", TOPOLOGY),
        ("node", NODE),
        ("defaults", NODE),
        ("link", LINK),
        ("endpoint", ENDPOINT),
    ];
    for (place, keys) in places {
        for key in *keys {
            if let Err(e) = parse("t1.yaml", &wrap(place, key)) {
                let e = e.to_string();
                assert!(!e.contains("unknown key"), "{place} {key}: {e}");
            }
        }
    }
}

#[test]
fn an_empty_scalar_inherits_and_container_keys_elsewhere_are_noted() {
    let lab = lab(
        "name: e\ntopology:\n  defaults: {image: alpine}\n  nodes:\n    \
         r1: {image: '', cmd: sleep 1}\n    br: {kind: bridge, exec: [x], env: {A: b}}\n    \
         ns: {kind: namespace, exec: [y], image: ''}\n    ext: {kind: ext-container, exec: [z]}\n",
    );
    assert_eq!(container(&lab, "r1").spec.image, "alpine");
    assert_eq!(
        lab.notes,
        [
            "patchwire does not do `env` (node br): only a container node (`kind: linux` with \
             an `image:`) uses it",
            "patchwire does not do `exec` (node br, node ns): only a container node (`kind: \
             linux` with an `image:`) uses it",
        ]
    );
}

#[test]
fn management_subnets_and_bridge_names_are_checked() {
    assert_eq!(
        err("name: m\nmgmt: {ipv4-subnet: 172.20.20.0}\ntopology: {}\n"),
        "t1.yaml:2:21: subnet \"172.20.20.0\" is not an IPv4 subnet (ADDRESS/LENGTH)"
    );
    assert_eq!(
        err("name: m\nmgmt: {ipv6-subnet: 10.0.0.0/8}\ntopology: {}\n"),
        "t1.yaml:2:21: subnet \"10.0.0.0/8\" is not an IPv6 subnet (ADDRESS/LENGTH)"
    );
    assert_eq!(
        err("name: m\ntopology:\n  nodes:\n    a-very-long-bridge: {kind: bridge}\n"),
        "t1.yaml:4:5: node a-very-long-bridge is a `bridge` named as the node: interface name \
         \"a-very-long-bridge\" is 18 bytes long; Linux allows at most 15"
    );
}

#[test]
fn static_management_addresses_are_in_the_subnet_and_once() {
    // Against the subnets the file names; without them the network may exist with its own,
    // which `plan` asks the runtime for (tests/containers.rs).
    let named =
        "name: m\nmgmt: {ipv4-subnet: 172.20.20.0/24, ipv6-subnet: '3fff:172:20:20::/64'}\n";
    assert_eq!(
        err(&format!(
            "{named}topology:\n  nodes:\n    a: {{image: x, mgmt-ipv4: 172.20.21.5}}\n"
        )),
        "t1.yaml:5:30: node a: mgmt-ipv4 172.20.21.5 is outside the management subnet \
         172.20.20.0/24 (`mgmt:`)"
    );
    assert_eq!(
        err(&format!(
            "{named}topology:\n  nodes:\n    a: {{image: x, mgmt-ipv6: 'fd00::1'}}\n"
        )),
        "t1.yaml:5:30: node a: mgmt-ipv6 fd00::1 is outside the management subnet \
         3fff:172:20:20::/64 (`mgmt:`)"
    );
    let unnamed = lab("name: m\ntopology:\n  nodes:\n    a: {image: x, mgmt-ipv4: 172.20.21.5}\n");
    assert!(unnamed.nodes.contains_key("a"));
    assert_eq!(
        err(
            "name: m\ntopology:\n  nodes:\n    a: {image: x, mgmt-ipv4: 172.20.20.5}\n    \
             b: {image: x, mgmt-ipv4: 172.20.20.5}\n"
        ),
        "t1.yaml:5:30: node b: mgmt-ipv4 172.20.20.5 is node a's too"
    );
    let lab = lab(
        "name: m\nmgmt: {ipv4-subnet: 198.18.4.0/22}\ntopology:\n  nodes:\n    \
         a: {image: x, mgmt-ipv4: 198.18.7.254}\n",
    );
    assert!(matches!(lab.nodes["a"].kind, NodeKind::Container(_)));
}

#[test]
fn refused_types_and_names_come_with_the_other_first_pass_errors() {
    assert_eq!(
        err(
            "name: t1\ntopology:\n  nodes:\n    r1: {}\n    br|r1: {kind: bridge}\n  links:\n    \
             - {type: bogus, endpoints: [r1:e4, r2:e4]}\n    \
             - {type: veth-stitch, endpoints: [r1:e5, r1:e6]}\n"
        ),
        "t1.yaml:5:5: node \"br|r1\" is containerlab's bridge br inside node r1's namespace, \
         which patchwire does not make: use a `kind: hub` node (a segment of its own), or make \
         the bridge with `exec:` in r1\n\
         t1.yaml:7:14: link type `bogus` is not one of veth, host, mgmt-net, macvlan, vxlan, \
         vxlan-stitch, dummy\n\
         t1.yaml:7:40: endpoint r2:e4 names node r2, which is not defined (nodes: br|r1, r1)\n\
         t1.yaml:8:14: link type `veth-stitch` is refused: it is containerlab's inner half of \
         `vxlan-stitch`; write `type: vxlan-stitch`"
    );
}

#[test]
fn an_unknown_kind_is_a_typo_not_a_vendor_kind() {
    assert_eq!(
        err("name: k\ntopology:\n  nodes:\n    r1: {kind: linux}\n    r2:\n      kind: linxu\n"),
        "t1.yaml:6:13: node r2: unknown kind `linxu` — did you mean `linux`?"
    );
    // From the defaults: the place is the node; suggestions only from patchwire's kinds.
    assert_eq!(
        err("name: k\ntopology:\n  defaults: {kind: brigde}\n  nodes:\n    r1: {}\n"),
        "t1.yaml:5:5: node r1: unknown kind `brigde` — did you mean `bridge`?"
    );
    assert_eq!(
        err("name: k\ntopology:\n  nodes:\n    r1: {kind: router}\n"),
        "t1.yaml:4:16: node r1: unknown kind `router`: patchwire runs kinds linux, \
         ext-container, bridge, host, hub, namespace and vm, and refuses containerlab's vendor \
         kinds (nokia_srlinux, ceos, vr-*…)"
    );
    // An unknown kind and a vendor node: each said, in file order.
    assert_eq!(
        err("name: k\ntopology:\n  nodes:\n    r1: {kind: hbu}\n    r2: {kind: ceos}\n"),
        "t1.yaml:4:16: node r1: unknown kind `hbu` — did you mean `hub`?\n\
         t1.yaml:5:16: 1 node has a kind patchwire does not run: r2 (ceos, line 5). It is a \
         vendor's kind, whose bootstrapping (images, startup configuration, licences, \
         management) is containerlab's trade: deploy them with containerlab, and wire their \
         containers into a patchwire lab as nodes of `kind: ext-container`, each named as its \
         container (clab-LAB-NODE). patchwire runs kinds linux, ext-container, bridge, host, \
         hub, namespace and vm"
    );
}

#[test]
fn the_checks_after_reading_gather_their_errors_too() {
    // Each of these stopped the reading once; a link to a node found wrong is not checked.
    assert_eq!(
        err(
            "name: g\nmgmt: {ipv4-subnet: 172.20.20.0/24}\ntopology:\n  nodes:\n    \
             r1: {owner: bob}\n    r2: {host: a}\n    \
             r3: {kind: vm, netns: x}\n    r4: {kind: linux, image: a, mgmt-ipv4: 10.0.0.1}\n  \
             links:\n    - endpoints: [r1:e1, r2:e1]\n"
        ),
        "t1.yaml:5:10: `owner` is only for nodes of `kind: vm`; node r1 is a namespace\n\
         t1.yaml:6:16: node r2 has `host: a`, but the file has no `hosts:`\n\
         t1.yaml:7:20: node r3 has both `kind: vm` and `netns:`; a VM's taps are made in a \
         namespace the lab creates, so remove one of them\n\
         t1.yaml:8:44: node r4: mgmt-ipv4 10.0.0.1 is outside the management subnet \
         172.20.20.0/24 (`mgmt:`)"
    );
}

#[test]
fn string_maps_keep_each_scalar_as_written() {
    // containerlab reads env, labels and sysctls with yaml.v2 into map[string]string: a
    // scalar's text, not the number it reads as (`1.10` stays `1.10`, not `1.1`).
    let lab = lab(
        "name: t1\ntopology:\n  nodes:\n    r1:\n      image: alpine:3\n      \
         env: {V: 1.10, H: 0x1F, E: 1e3, C: 1.50, B: yes, T: true, N: ~, Q: '007', 1.0: k}\n      \
         labels: {v: 1.10}\n      sysctls: {net.ipv4.ip_forward: 01}\n      cpu: 1.50\n",
    );
    let NodeKind::Container(c) = &lab.nodes["r1"].kind else {
        panic!("not a container: {:?}", lab.nodes["r1"]);
    };
    let pairs = |m: &BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        pairs(&c.spec.env),
        "1.0=k B=yes C=1.50 E=1e3 H=0x1F N= Q=007 T=true V=1.10"
    );
    assert_eq!(pairs(&c.spec.labels), "v=1.10");
    assert_eq!(pairs(&c.spec.sysctls), "net.ipv4.ip_forward=01");
    assert_eq!(c.spec.cpu.as_deref(), Some("1.50"));
}

#[test]
fn every_containerlab_vendor_kind_is_a_vendors() {
    // Every kind name registered under srl-labs/containerlab's nodes/ (`kindNames`, commit
    // 39ff2b7c of 2026-08-21): each is patchwire's own, refused for a reason, or a vendor's —
    // never "unknown".
    const CLAB: &str = "6wind_vsr arista_ceos arista_veos arrcus_arcos aruba_aoscx bridge c8000 \
        ceos checkpoint_cloudguard ciena_saos cisco_asav cisco_c8000 cisco_c8000v cisco_cat9kv \
        cisco_csr1000v cisco_ftdv cisco_iol cisco_n9kv cisco_sdwan cisco_vios cisco_xrd \
        cisco_xrd_vrouter cisco_xrv cisco_xrv9k cjunosevolved crpd cumulus_cvx cvx dell_ftosv \
        dell_sonic ext-container f5_bigip-ve fdio_vpp fortinet_fortigate freebsd generic_vm host \
        huawei_vrp ipinfusion_ocnos juniper_cjunosevolved juniper_crpd juniper_csrx \
        juniper_vjunosevolved juniper_vjunosrouter juniper_vjunosswitch juniper_vmx juniper_vqfx \
        juniper_vsrx k8s-kind keysight_ixia-c-one linux mikrotik_ros nokia_sros nokia_srsim \
        nvidia_cumulusvx openbsd openwrt ovs-bridge paloalto_panos plvision_sonic rare sonic-vm \
        sonic-vs spirent_stc veesix_osvbng vr-aoscx vr-arista_veos vr-aruba_aoscx vr-ciena_saos \
        vr-cisco_csr1000v vr-cisco_n9kv vr-cisco_xrv vr-cisco_xrv9k vr-csr vr-dell_ftosv vr-ftosv \
        vr-juniper_vmx vr-juniper_vqfx vr-juniper_vsrx vr-mikrotik_ros vr-n9kv vr-nokia_sros \
        vr-paloalto_panos vr-pan vr-ros vr-sros vr-veos vr-vmx vr-vqfx vr-vsrx vr-xrv vr-xrv9k \
        vyosnetworks_vyos xrd srl nokia_srlinux";
    let unknown: Vec<&str> = CLAB
        .split_whitespace()
        .filter(|k| clab::classify(k) == clab::Kind::Unknown)
        .collect();
    assert_eq!(unknown, Vec::<&str>::new());
    for kind in ["cjunosevolved", "plvision_sonic", "spirent_stc"] {
        assert_eq!(
            err(&format!(
                "name: v\ntopology:\n  nodes:\n    r1: {{kind: {kind}}}\n"
            )),
            format!(
                "t1.yaml:4:16: 1 node has a kind patchwire does not run: r1 ({kind}, line 4). It \
                 is a vendor's kind, whose bootstrapping (images, startup configuration, \
                 licences, management) is containerlab's trade: deploy them with containerlab, \
                 and wire their containers into a patchwire lab as nodes of `kind: \
                 ext-container`, each named as its container (clab-LAB-NODE). patchwire runs \
                 kinds linux, ext-container, bridge, host, hub, namespace and vm"
            )
        );
    }
}

#[test]
fn an_unknown_key_is_set_aside_and_the_rest_of_its_node_checked() {
    // Said once, at the key (not at each key before it), in a block or a flow mapping; the
    // node is read without it and its other errors said with it.
    assert_eq!(
        err(
            "name: t1\ntopology:\n  nodes:\n    r1:\n      kind: linux\n      image: a\n      \
             bogus: 1\n      cpu: lots\n    r2: {kind: linux, bogus: 1, image: a, memory: x}\n"
        ),
        "t1.yaml:7:7: unknown key `bogus` in node r1 (docs/containerlab.md lists every key)\n\
         t1.yaml:8:12: node r1: cpu `lots` is not a number of CPUs (such as 2 or 0.5)\n\
         t1.yaml:9:23: unknown key `bogus` in node r2 (docs/containerlab.md lists every key)\n\
         t1.yaml:9:51: node r2: memory `x` is not a size (such as 512Mb or 2Gb)"
    );
    // A typo of a key that says what the node is: the node without it would be another thing,
    // so nothing more is said of it.
    assert_eq!(
        err(
            "name: t1\ntopology:\n  nodes:\n    r1:\n      knd: vm\n      queues: 4\n    r2:\n      \
             imgae: alpine\n      cpu: lots\n"
        ),
        "t1.yaml:5:7: unknown key `knd` in node r1 (did you mean `kind`?)\n\
         t1.yaml:8:7: unknown key `imgae` in node r2 (did you mean `image`?)"
    );
}

#[test]
fn an_endpoint_in_two_links_is_said_whatever_else_stops_the_checks() {
    // A value that cannot be set aside (a block scalar) ends the reading of values, so no
    // check after it runs: the first pass still names the endpoint used twice.
    let text = "name: t1
topology:
  nodes: {r1: {}, r2: {}, r3: {}}
  links:
    - endpoints: [r1:eth1, r2:eth1]
      mtu: |
        big
    - endpoints: [r1:eth1, r3:eth1]
    - endpoints: [{node: r3, interface: eth2}, r3:eth2]
";
    assert_eq!(
        err(text),
        "t1.yaml:6:12: `topology.links[0].mtu` must be an integer in 68..=65535, found string \
         \"big\\n\"\n\
         t1.yaml:8:19: endpoint r1:eth1 is in two links (lines 5 and 8)\n\
         t1.yaml:9:48: endpoint r3:eth2 appears twice in this link"
    );
    // The brief form's `host:IF` is the host's interface, not an endpoint of a node; a node
    // patchwire does not run has its endpoints named its vendor's way, and its refusal says
    // all there is.
    let text = "name: t1
topology:
  nodes: {r1: {}, s1: {kind: ceos}}
  links:
    - endpoints: [r1:eth1, host:v1]
    - endpoints: [r1:eth2, host:v1]
    - endpoints: [s1:e1-1, r1:eth3]
    - endpoints: [s1:e1-1, r1:eth4]
";
    let e = err(text);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.starts_with("t1.yaml:3:30: 1 node has a kind patchwire does not run"),
        "{e}"
    );
}

#[test]
fn groups_and_kinds_entries_must_be_defined_and_known() {
    let text = "name: t1
topology:
  defaults: {group: cor}
  kinds:
    linux: {group: nope}
    ceos: {image: ceos:4.32}
    vm: {group: kvm}
  groups:
    core: {kind: linux}
  nodes:
    r1: {group: core}
    v1: {kind: vm, group: kvm}
";
    assert_eq!(
        err(text),
        "t1.yaml:3:21: topology.defaults: group `cor` is not defined in `groups:` — did you \
         mean `core`?\n\
         t1.yaml:5:20: kind linux: group `nope` is not defined in `groups:` (groups: core)"
    );
    assert_eq!(
        err("name: t1\ntopology:\n  nodes:\n    r1: {group: core}\n"),
        "t1.yaml:4:17: node r1: group `core` is not defined: the file has no `groups:`"
    );
    assert_eq!(
        err("name: t1\ntopology:\n  kinds: {bogus: {}}\n  nodes: {r1: {}}\n"),
        "t1.yaml:3:11: `kinds:` names kind `bogus`, which is unknown: patchwire runs kinds \
         linux, ext-container, bridge, host, hub, namespace and vm, and containerlab's vendor \
         kinds (nokia_srlinux, ceos, vr-*…) are accepted there"
    );
    // A vendor's kind no node uses, a VM's Unix group: read without a word.
    let text = "name: t1
topology:
  kinds: {nokia_srlinux: {image: srl}, ceos: {}}
  nodes: {v1: {kind: vm, group: kvm}, r1: {}}
";
    assert!(lab(text).nodes.contains_key("v1"));
}

#[test]
fn other_tools_names_for_keys_and_endpoint_keys_elsewhere_say_what_was_meant() {
    let node = |k: &str| {
        err(&format!(
            "name: t1\ntopology:\n  nodes:\n    r1: {{{k}: x}}\n"
        ))
    };
    assert_eq!(
        node("environment"),
        "t1.yaml:4:10: unknown key `environment` in node r1 (did you mean `env`?)"
    );
    assert_eq!(
        node("enviroment"),
        "t1.yaml:4:10: unknown key `enviroment` in node r1 (did you mean `env`?)"
    );
    assert_eq!(
        node("host_name"),
        "t1.yaml:4:10: unknown key `host_name` in node r1 (did you mean `hostname`?)"
    );
    assert_eq!(
        node("publish"),
        "t1.yaml:4:10: unknown key `publish` in node r1 (did you mean `ports`?)"
    );
    assert_eq!(
        node("mem_limit"),
        "t1.yaml:4:10: unknown key `mem_limit` in node r1 (did you mean `memory`?)"
    );
    assert_eq!(
        node("mac"),
        "t1.yaml:4:10: unknown key `mac` in node r1 (`mac` belongs to an endpoint, written in \
         the extended form: `endpoints: [{node: NODE, interface: INTERFACE, mac: …}, …]`)"
    );
    // Only where the key it stands for is valid: a link has no `env`.
    assert_eq!(
        err(&two_nodes(
            "    - {endpoints: [r1:a, r2:a], environment: x}\n"
        )),
        "t1.yaml:7:33: unknown key `environment` in a link (docs/containerlab.md lists every \
         key)"
    );
    assert_eq!(
        err(&two_nodes(
            "    - {endpoints: [r1:a, r2:a], interface: x}\n"
        )),
        "t1.yaml:7:33: unknown key `interface` in a link (`interface` belongs to an endpoint, \
         written in the extended form: `endpoints: [{node: NODE, interface: INTERFACE, \
         interface: …}, …]`)"
    );
}

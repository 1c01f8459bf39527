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
         (the file defines no nodes)\n\
         t1.yaml:4:28: endpoint r2:eth1 names node r2, which is not defined \
         (the file defines no nodes)"
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
        "t1.yaml:4:3: host a is defined twice (lines 3 and 4)"
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
        lab("name: t1\ntopology:\n  nodes:\n    r1: {kind: linux}\n").nodes["r1"],
        namespace()
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
        err("name: t1\ntopology:\n  nodes:\n    s1: {netns: x}\n    s2: {netns: /run/netns/x}\n"),
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

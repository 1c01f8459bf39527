use super::*;

#[test]
fn macs_and_modes_read_as_the_kernel_wants_them() {
    assert_eq!(parse_mac("02:00:0a:FF:00:01"), Some([2, 0, 10, 255, 0, 1]));
    for bad in [
        "02:00:0a:ff:00",
        "02:00:0a:ff:00:01:02",
        "2:0:a:ff:0:1",
        "zz:00:00:00:00:00",
    ] {
        assert_eq!(parse_mac(bad), None, "{bad}");
    }
    assert_eq!(show_mac(&[2, 0, 10, 255, 0, 1]), "02:00:0a:ff:00:01");
    assert_eq!(macvlan_mode("bridge"), Some(4));
    assert_eq!(macvlan_mode("passthru"), Some(8));
    assert_eq!(macvlan_mode("bridged"), None);
}

#[test]
fn the_bridge_note_names_every_bridge_node_and_the_cure() {
    let one = bridge_note(&["sw".into()]);
    assert!(one.starts_with("node sw is a Linux bridge: "), "{one}");
    assert!(one.ends_with("write `kind: hub` for it (the links stay as they are)"));
    let two = bridge_note(&["a".into(), "b".into()]);
    assert!(two.starts_with("nodes a, b are Linux bridges: "), "{two}");
    assert!(two.contains("through them as through a cable"), "{two}");
    assert!(two.ends_with("write `kind: hub` for each (the links stay as they are)"));
}

#[test]
fn a_device_is_made_again_when_its_kind_lower_or_mode_changes() {
    let device = |kind| Device {
        kind,
        mtu: 1500,
        mac: None,
        line: 1,
        column: 5,
    };
    let bridge = device(DeviceKind::Macvlan {
        lower: "eth0".into(),
        mode: "bridge".into(),
    });
    let vepa = device(DeviceKind::Macvlan {
        lower: "eth0".into(),
        mode: "vepa".into(),
    });
    assert_ne!(bridge.parameters(), vepa.parameters());
    assert_ne!(bridge.parameters(), device(DeviceKind::Dummy).parameters());
    assert_eq!(bridge.describe(), "macvlan of eth0 (bridge)");
}

#[test]
fn a_mirror_refused_by_plan_is_named_at_its_line_and_column() {
    let file = crate::lab::file::parse(
        "t1.yaml",
        "name: t1\ntopology:\n  nodes:\n    r1: {}\n    h: {kind: hub}\n    mon: {}\n  links:\n    \
         - endpoints: [r1:e1, h:p1]\n  mirrors:\n    - {name: m1, from: [h:p1], to: mon:e1}\n",
    )
    .unwrap();
    let mut desired = Desired::key(&file, None).unwrap();
    let refused = mirrors(&file, &mut desired, &BTreeMap::new(), &|_| true).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "t1.yaml:10:5: mirror m1: h:p1 is an interface of a hub node, which has none (its names \
         are labels): mirror the other end of that link"
    );
}

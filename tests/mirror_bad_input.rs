//! Privileged: every refusal of `mirror add` / `mirror del` names the problem in one message
//! and leaves the kernel exactly as it was (links, qdiscs, filters on both hooks).

mod common;
use common::*;

use std::process::Command;

/// Each name becomes a veth end with its peer (`NAMEp`) in the same namespace.
fn lab(names: &[&str]) -> TestNs {
    let ns = TestNs::new();
    for name in names {
        veth(&ns, name, &ns, &format!("{name}p"));
    }
    ns
}

/// `patchwire -n NS mirror ARGS` (split on spaces).
fn mirror(ns: &TestNs, args: &str) -> Run {
    let mut all = vec!["mirror"];
    all.extend(args.split_whitespace());
    ns.patchwire(&all)
}

/// Asserts a refusal with exactly `message` and an unchanged kernel.
fn refused(ns: &TestNs, args: &str, message: &str) {
    let before = ns.snapshot();
    mirror(ns, args).fails_with(message);
    assert_eq!(ns.snapshot(), before, "{args} changed the kernel");
}

#[test]
fn destination_that_is_also_a_source() {
    let ns = lab(&["eth1", "mon0"]);
    refused(
        &ns,
        "add m --from eth1,mon0 --to mon0",
        "mon0 is both a source and the destination of mirror m: its copies would be copied again, \
         endlessly; pick a destination that is not a source",
    );
}

#[test]
fn missing_destination_and_source() {
    let ns = lab(&["eth1", "mon0"]);
    let netns = format!("netns {}", ns.name);
    refused(
        &ns,
        "add m --from eth1 --to mon9",
        &format!("destination mon9 does not exist in {netns}"),
    );
    refused(
        &ns,
        "add m --from eth1,eth9 --to mon0",
        &format!("source eth9 does not exist in {netns}"),
    );
}

#[test]
fn name_in_use_and_unknown_name_on_del() {
    let ns = lab(&["eth1", "eth2", "mon0"]);
    mirror(&ns, "add m --from eth1 --to mon0").ok();
    refused(
        &ns,
        "add m --from eth2 --to mon0",
        &format!(
            "a mirror named m already exists in netns {}: choose another name, or remove it first \
             (patchwire mirror del m)",
            ns.name
        ),
    );
    refused(
        &ns,
        "del nosuch",
        &format!(
            "no mirror named nosuch in netns {} (mirrors there: m)",
            ns.name
        ),
    );
    let json = mirror(&ns, "-j del nosuch");
    assert_eq!(json.code, 1);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json.stdout).unwrap()["error"],
        format!(
            "no mirror named nosuch in netns {} (mirrors there: m)",
            ns.name
        )
    );
}

#[test]
fn vlan_ids_outside_1_to_4094_are_usage_errors() {
    let ns = lab(&["eth1", "mon0"]);
    let before = ns.snapshot();
    for (args, says) in [
        (
            vec!["--vlan", "4095"],
            "invalid value '4095' for '--vlan <ID[,ID...]>': VLAN ID 4095 is outside 1-4094",
        ),
        (vec!["--vlan", "100,0"], "VLAN ID 0 is outside 1-4094"),
        (vec!["--vlan", "10-5000"], "VLAN ID 5000 is outside 1-4094"),
        (vec!["--vlan", "x"], "\"x\" in \"x\" is not a VLAN ID"),
        (
            vec!["--output-vlan", "4095"],
            "invalid value '4095' for '--output-vlan <ID>': VLAN ID 4095 is outside 1-4094",
        ),
    ] {
        let mut all = vec!["add", "v", "--from", "eth1", "--to", "mon0"];
        all.extend(args);
        let run = mirror(&ns, &all.join(" "));
        assert_eq!(run.code, 2, "{all:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{all:?}: {}", run.stderr);
    }
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn mirror_cycles_are_refused() {
    let ns = lab(&["eth1", "eth2", "mon0"]);
    mirror(&ns, "add a --from eth1 --to eth2").ok();
    refused(
        &ns,
        "add b --from eth2 --to eth1",
        "that would make a mirror cycle: copies sent out of eth1 come back to eth2, a source of this \
         mirror (eth1 -> (mirror a) -> eth2), and would be copied again and again. Choose a \
         destination its copies cannot come back from",
    );
    // Through a veth pair: copies leaving mon0 arrive at mon0p.
    refused(
        &ns,
        "add c --from mon0p --to mon0",
        "that would make a mirror cycle: copies sent out of mon0 come back to mon0p, a source of this \
         mirror (mon0 -> (veth peer) -> mon0p), and would be copied again and again. Choose a \
         destination its copies cannot come back from",
    );
}

#[test]
fn all_with_nothing_to_mirror() {
    let ns = TestNs::new();
    let far = TestNs::new();
    veth(&ns, "mon0", &far, "mon0p");
    refused(
        &ns,
        "add all --all --to mon0",
        &format!(
            "--all found nothing to mirror in netns {}: it takes every Ethernet interface except the \
             destination mon0 (and its veth peer), loopback and other mirrors' destinations, and the \
             interfaces here are: lo, mon0",
            ns.name
        ),
    );
}

#[test]
fn interfaces_in_different_namespaces() {
    let ns = lab(&["eth1", "mon0"]);
    let other = TestNs::new();
    veth(&other, "mon7", &other, "mon7p");
    let message = format!(
        "destination mon7 is in netns {} but the mirror is being made in netns {}: a mirror's sources \
         and destination must share one namespace (mirred looks its destination up in the filter's own \
         namespace). Join the namespaces with a veth pair and mirror to its near end",
        other.name, ns.name
    );
    let to = format!("{}:mon7", other.name);
    refused(&ns, &format!("add x --from eth1 --to {to}"), &message);
    // Just the name: found in the other namespace, and said so.
    refused(&ns, "add x --from eth1 --to mon7", &message);
    // NETNS:IF naming the mirror's own namespace is fine.
    let own = format!("{}:mon0", ns.name);
    mirror(&ns, &format!("add x --from eth1 --to {own}")).ok();
}

#[test]
fn the_same_frames_twice_to_one_destination_are_refused() {
    let ns = lab(&["eth1", "mon0", "mon1"]);
    mirror(&ns, "add m --from eth1 --to mon0 --vlan 100-200").ok();
    refused(
        &ns,
        "add d --from eth1 --to mon0 --direction in --vlan 150",
        "mirror m already copies frames arriving at eth1 to mon0: with mirror d they would arrive \
         twice. Extend or remove mirror m instead",
    );
    // Disjoint VLANs, or another destination: fine.
    mirror(&ns, "add d --from eth1 --to mon0 --vlan 201-300").ok();
    mirror(&ns, "add e --from eth1 --to mon1").ok();
}

#[test]
fn unusable_interfaces_and_names() {
    let ns = lab(&["eth1", "mon0"]);
    ns.ip("tuntap add dev tun0 mode tun");
    refused(
        &ns,
        "add m --from eth1 --to tun0",
        "tun0 is a layer-3 device (no Ethernet address) and cannot be a mirror destination",
    );
    refused(
        &ns,
        "add m --from lo --to mon0",
        "lo is the loopback device and cannot be a mirror source",
    );
    let before = ns.snapshot();
    ns.patchwire(&[
        "mirror", "add", "bad name", "--from", "eth1", "--to", "mon0",
    ])
    .fails_with("mirror name \"bad name\": use 1 to 15 characters from A-Z a-z 0-9 _ . -");
    assert_eq!(ns.snapshot(), before);
    refused(
        &ns,
        "add m --from eth1 --to bad/name",
        "destination bad/name: interface name \"bad/name\" contains '/', which Linux does not allow",
    );
    // Another tool's plain ingress qdisc has no egress hook.
    ns.tc("qdisc add dev eth1 ingress");
    refused(
        &ns,
        "add m --from eth1 --to mon0 --direction out",
        "eth1 has a plain 'ingress' qdisc from another tool, which has no egress hook: remove it \
         (patchwire would add clsact) or mirror eth1 with --direction in",
    );
    // ... but its ingress hook is usable, and stays when the mirror goes.
    mirror(&ns, "add m --from eth1 --to mon0 --direction in").ok();
    mirror(&ns, "del m").ok();
    assert!(ns.tc("qdisc show dev eth1").contains("qdisc ingress"));
}

#[test]
fn a_failure_half_way_is_rolled_back() {
    let ns = lab(&["eth1", "eth2", "eth3", "mon0"]);
    let before = ns.snapshot();
    // 3 clsact qdiscs, then 6 filters (in and out per source): change 6 is eth2's out filter.
    let output = Command::new(common::bin())
        .args([
            "-n",
            &ns.name,
            "mirror",
            "add",
            "h",
            "--from",
            "eth1,eth2,eth3",
            "--to",
            "mon0",
        ])
        .env("PATCHWIRE_FAULT_AT", "6")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        "patchwire: adding mirror h's copy filter on eth2 out: No such device; rolled back the 8 \
         change(s) already made, nothing is left behind"
    );
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn a_batch_is_all_or_nothing_and_names_the_refused_mirror_or_line() {
    let ns = lab(&["eth1", "eth2", "mon0"]);
    let before = ns.snapshot();
    let path = std::env::temp_dir().join(format!("{}-mirrors.txt", ns.name));
    let batch = |text: &str| {
        std::fs::write(&path, text).unwrap();
        mirror(&ns, &format!("add --batch {}", path.display()))
    };
    // The second mirror closes a cycle with the first, which is in the same batch.
    batch("a --from eth1 --to eth2\n# comment\n\nb --from eth2 --to eth1 --direction in\n").fails_with(
        "mirror b: that would make a mirror cycle: copies sent out of eth1 come back to eth2, a source \
         of this mirror (eth1 -> (mirror a) -> eth2), and would be copied again and again. Choose a \
         destination its copies cannot come back from",
    );
    assert_eq!(ns.snapshot(), before);
    let file = format!("batch file {}", path.display());
    batch("a --from eth1 --to mon0\nb --from eth2\n").fails_with(&format!(
        "{file}: line 2: the following required arguments were not provided: --to <IF>"
    ));
    batch("# nothing\n").fails_with(&format!(
        "{file}: no mirrors in it (only blank or comment lines)"
    ));
    assert_eq!(ns.snapshot(), before);
    // A good batch: both mirrors, one run.
    batch("a --from eth1 --to mon0\nb --from eth2 --to mon0 --direction in --vlan 5\n").ok();
    let shown = mirror(&ns, "-j show");
    let names: Vec<String> = shown
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let _ = std::fs::remove_file(&path);
}

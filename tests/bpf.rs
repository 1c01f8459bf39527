//! Privileged: hand-assembled tc programs loaded with bpf(2) and attached as direct-action
//! cls_bpf filters, checked with real frames between namespaces.

mod common;

use std::time::{Duration, Instant};

use common::*;
use patchwire::bpf::map::Map;
use patchwire::bpf::{self, BpfError, Program, insn};
use patchwire::nl::link::IfIndex;
use patchwire::nl::tc::INGRESS_PARENT;
use patchwire::packet::PacketSocket;

/// How long a frame may take to show up; also how long we watch for one that must not.
const WINDOW: Duration = Duration::from_millis(500);

fn attach(ns: &TestNs, dev: &str, prio: u16, program: &[insn::Insn], name: &str) {
    let program = Program::load_sched_cls(program, name).unwrap();
    let mut socket = ns.netns().route().unwrap();
    bpf::attach_cls_bpf(
        &mut socket,
        ifindex(ns, dev),
        INGRESS_PARENT,
        prio,
        &program,
        name,
    )
    .unwrap();
    // The filter holds its own reference: dropping our fd must not unload the program.
}

/// An Ethernet frame with a local-experimental ethertype, optionally 802.1Q-tagged.
fn frame(tci: Option<u16>, marker: u8) -> Vec<u8> {
    let mut frame = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa];
    if let Some(tci) = tci {
        frame.extend_from_slice(&[0x81, 0x00]);
        frame.extend_from_slice(&tci.to_be_bytes());
    }
    frame.extend_from_slice(&[0x88, 0xb5]);
    frame.extend((0..50u8).map(|i| i ^ marker));
    frame
}

/// Whether exactly these bytes arrive on `socket` within [`WINDOW`].
fn arrives(socket: &PacketSocket, expected: &[u8]) -> bool {
    let deadline = Instant::now() + WINDOW;
    while let Some(received) = socket.recv_until(deadline).unwrap() {
        if received == expected {
            return true;
        }
    }
    false
}

#[test]
fn verifier_log_explains_a_refused_program() {
    require_root();
    let valid = bpf::redirect_to(IfIndex(1), false);
    Program::load_sched_cls(&valid, "pw_redirect").unwrap();

    // r0 = r2 with r2 never written: the verifier refuses with "R2 !read_ok".
    let invalid = [insn::mov64_reg(insn::R0, insn::R2), insn::exit()];
    let error = Program::load_sched_cls(&invalid, "pw_invalid").unwrap_err();
    let BpfError::Load { errno, log, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*errno, libc::EACCES, "{error}");
    assert!(log.contains("R2 !read_ok"), "{log}");
    assert!(error.to_string().contains("R2 !read_ok"), "{error}");

    assert!(matches!(
        Program::load_sched_cls(&valid, "bad name"),
        Err(BpfError::InvalidName(_))
    ));
}

#[test]
fn redirect_program_moves_frames_unchanged() {
    let ns = TestNs::new();
    let peer = TestNs::new();
    veth(&ns, "a", &peer, "pa");
    veth(&ns, "b", &peer, "pb");
    ns.tc("qdisc add dev a clsact");
    attach(
        &ns,
        "a",
        20,
        &bpf::redirect_to(ifindex(&ns, "b"), false),
        "pw_redirect",
    );

    let shown = ns.tc("filter show dev a ingress");
    assert!(shown.contains("pref 20 bpf"), "{shown}");
    assert!(shown.contains("pw_redirect"), "{shown}");
    assert!(shown.contains("direct-action"), "{shown}");

    let pa = packet_socket(&peer, "pa");
    let pb = packet_socket(&peer, "pb");
    for (tci, marker) in [(None, 1), (Some(0x0064), 2)] {
        let sent = frame(tci, marker);
        pa.send(&sent).unwrap();
        assert!(arrives(&pb, &sent), "{tci:?} did not arrive at pb");
    }
}

#[test]
fn vlan_clone_copies_only_selected_vlans_and_lets_later_filters_run() {
    let ns = TestNs::new();
    let peer = TestNs::new();
    veth(&ns, "a", &peer, "pa");
    veth(&ns, "b", &peer, "pb");
    veth(&ns, "m", &peer, "pm");
    ns.tc("qdisc add dev a clsact");
    let (b, m) = (ifindex(&ns, "b"), ifindex(&ns, "m"));
    // VID 0 listed: an untagged frame (vlan_tci reads 0) must still not match, which checks
    // that vlan_present is read from the right __sk_buff offset.
    attach(
        &ns,
        "a",
        10,
        &bpf::clone_to_if_vlan(m, &[100, 0]),
        "pw_clone",
    );
    attach(&ns, "a", 20, &bpf::redirect_to(b, false), "pw_redirect");

    let shown = ns.tc("filter show dev a ingress");
    assert!(shown.contains("pref 10 bpf"), "{shown}");
    assert!(shown.contains("pref 20 bpf"), "{shown}");

    let pa = packet_socket(&peer, "pa");
    let pb = packet_socket(&peer, "pb");
    let pm = packet_socket(&peer, "pm");
    // VLAN 100, also with priority bits set, and a priority tag (VID 0): copied to m, and
    // still redirected to b.
    for (tci, marker) in [(0x0064, 1), (0xa064, 2), (0x6000, 5)] {
        let sent = frame(Some(tci), marker);
        pa.send(&sent).unwrap();
        assert!(arrives(&pb, &sent), "VLAN tci {tci:#x} missing at pb");
        assert!(arrives(&pm, &sent), "VLAN tci {tci:#x} missing at pm");
    }
    // Another VLAN, and untagged: only the redirect.
    for (tci, marker) in [(Some(200), 3), (None, 4)] {
        let sent = frame(tci, marker);
        pa.send(&sent).unwrap();
        assert!(arrives(&pb, &sent), "{tci:?} missing at pb");
        assert!(!arrives(&pm, &sent), "{tci:?} was copied to pm");
    }
}

/// The counters of the cls_bpf filter at `prio` on `dev`'s ingress, found again from the
/// kernel alone: filter -> program id -> its map -> per-CPU values summed.
fn counters_of(ns: &TestNs, dev: &str, prio: u16) -> Vec<u64> {
    let index = ifindex(ns, dev);
    let mut socket = ns.netns().route().unwrap();
    let filters = patchwire::nl::tc::parse_filters(
        socket
            .dump(patchwire::nl::tc::dump_filters(index, INGRESS_PARENT))
            .unwrap(),
    );
    let filter = filters.iter().find(|f| f.prio == prio).expect("the filter");
    let maps = bpf::map::prog_map_ids(filter.prog_id.expect("a program id")).unwrap();
    assert_eq!(maps.len(), 1, "{maps:?}");
    let sums = bpf::map::Map::from_id(maps[0])
        .unwrap()
        .sum_u64s(ifindex(ns, dev).0)
        .unwrap();
    sums[1..].to_vec()
}

/// One program for every direction: a per-CPU hash keyed by the arrival ifindex says where each
/// frame goes and counts it; a frame on an interface the map does not know is dropped.
#[test]
fn one_program_redirects_by_arrival_interface_counts_and_reaches_the_peer_directly() {
    let ns = TestNs::new();
    let peer = TestNs::new();
    veth(&ns, "a", &peer, "pa");
    veth(&ns, "b", &peer, "pb");
    veth(&ns, "c", &peer, "pc");
    veth(&ns, "d", &peer, "pd");
    for dev in ["a", "c", "d"] {
        ns.tc(&format!("qdisc add dev {dev} clsact"));
    }
    // a -> out of b (bpf_redirect); c -> straight into b's peer pb (bpf_redirect_peer);
    // d: same program, no entry.
    let map = bpf::map::Map::percpu_hash("pw_wires", bpf::WIRE_VALUE_SIZE, 4).unwrap();
    let b = ifindex(&ns, "b");
    map.update_all_cpus(ifindex(&ns, "a").0, &bpf::wire_value(b, false))
        .unwrap();
    map.update_all_cpus(ifindex(&ns, "c").0, &bpf::wire_value(b, true))
        .unwrap();
    let program = bpf::wire_by_ingress(std::os::fd::AsFd::as_fd(&map));
    for dev in ["a", "c", "d"] {
        attach(&ns, dev, 21, &program, "pw_wires");
    }
    drop(map);

    let pb = packet_socket(&peer, "pb");
    for (dev, marker) in [("pa", 1u8), ("pc", 2)] {
        let socket = packet_socket(&peer, dev);
        let sent = frame(None, marker);
        for _ in 0..5 {
            socket.send(&sent).unwrap();
            assert!(arrives(&pb, &sent), "from {dev}");
        }
    }
    let unknown = frame(None, 3);
    packet_socket(&peer, "pd").send(&unknown).unwrap();
    assert!(!arrives(&pb, &unknown), "no entry for d: dropped");
    let len = frame(None, 1).len() as u64;
    assert_eq!(counters_of(&ns, "a", 21), vec![5, 5 * len]);
    assert_eq!(counters_of(&ns, "c", 21), vec![5, 5 * len]);
    // redirect_peer skipped b's transmit path: b counted nothing sent, while bpf_redirect did.
    let b_tx = |ns: &TestNs| -> u64 {
        let text = ns.ip("-s -j link show dev b");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value[0]["stats64"]["tx"]["packets"].as_u64().unwrap()
    };
    assert_eq!(b_tx(&ns), 5, "only the bpf_redirect frames left through b");
}

// Per-CPU maps (moved here from src/bpf/map.rs's unit tests: creating a map needs bpf()
// privileges).

/// The length of a per-CPU map's values: the CPUs the kernel may bring up, read from sysfs
/// (`0-3` or `0,2-5`), as an observer independent of the map code.
fn possible_cpus() -> u64 {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    text.trim()
        .split(',')
        .map(|range| {
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            hi.parse::<u64>().unwrap() - lo.parse::<u64>().unwrap() + 1
        })
        .sum()
}

#[test]
fn a_percpu_array_is_created_and_reads_zero() {
    require_root();
    let map = Map::percpu_array("pw_wire_a", 16, 1).unwrap();
    assert_eq!(map.sum_u64s(0).unwrap(), vec![0, 0]);
}

#[test]
fn modifying_in_place_keeps_the_other_words_and_creates_nothing() {
    require_root();
    let map = Map::percpu_hash("pw_wire_m", 16, 4).unwrap();
    let mut value = 7u64.to_ne_bytes().to_vec();
    value.extend(9u64.to_ne_bytes());
    map.update_all_cpus(42, &value).unwrap();
    map.modify_all_cpus(42, |v| v[..8].copy_from_slice(&1u64.to_ne_bytes()))
        .unwrap();
    let cpus = possible_cpus();
    assert_eq!(map.sum_u64s(42).unwrap(), vec![cpus, 9 * cpus]);
    let missing = map.modify_all_cpus(43, |_| {}).unwrap_err();
    assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));
    assert!(map.sum_u64s(43).is_err(), "not created");
}

#[test]
fn a_percpu_hash_holds_what_is_put_on_every_cpu() {
    require_root();
    let map = Map::percpu_hash("pw_wire_h", 16, 4).unwrap();
    let mut value = 7u64.to_ne_bytes().to_vec();
    value.extend(0u64.to_ne_bytes());
    map.update_all_cpus(42, &value).unwrap();
    let cpus = possible_cpus();
    assert_eq!(map.sum_u64s(42).unwrap(), vec![7 * cpus, 0]);
    assert!(map.sum_u64s(43).is_err(), "no such key");
}

//! The eBPF wire datapath (`link --datapath ebpf`) against the real kernel: the probe
//! catalogue both ways, exact counters read back from the program's map, a deleted end shown
//! as broken, conversion between datapaths in place, a mirror on an eBPF wire end, and unlink
//! leaving nothing behind.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// `mid` holds wa, wb, mon; their veth peers qa, qb, qm live in `q`.
fn bench() -> (TestNs, TestNs) {
    let (q, mid) = (TestNs::new(), TestNs::new());
    for (near, far) in [("wa", "qa"), ("wb", "qb"), ("mon", "qm")] {
        veth(&mid, near, &q, far);
    }
    (q, mid)
}

/// Sends `count` frames of `len` bytes into `far` (in `q`) and counts those arriving at `to`.
fn send(q: &TestNs, far: &str, to: &str, count: usize, len: usize) -> usize {
    let receiver = packet_socket(q, to);
    let sender = packet_socket(q, far);
    let mut frame = vec![0u8; len];
    frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x22]);
    frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x11]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    for _ in 0..count {
        sender.send(&frame).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut arrived = 0;
    while let Some(got) = receiver.recv_until(deadline).unwrap() {
        arrived += usize::from(got == frame);
        if arrived == count {
            break;
        }
    }
    arrived
}

#[test]
fn an_ebpf_wire_passes_the_probe_and_counts_exactly() {
    let (q, mid) = bench();
    let before = mid.snapshot();
    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    let filters = mid.tc("filter show dev wa ingress");
    assert!(filters.contains("pref 20567 bpf"), "{filters}");
    assert!(filters.contains("pw-wire to=wb index="), "{filters}");
    assert!(filters.contains("direct-action"), "{filters}");

    let probe = mid.patchwire(&["probe", "wa"]);
    assert_eq!(probe.code, 0, "{}", probe.stdout);
    assert!(probe.stdout.contains("PASS: 26/26"), "{}", probe.stdout);

    let show = mid.patchwire(&["-j", "show"]).json();
    let (packets, bytes) = (
        show[0]["a_to_b"]["packets"].as_u64().unwrap(),
        show[0]["a_to_b"]["bytes"].as_u64().unwrap(),
    );
    assert_eq!(send(&q, "qa", "qb", 9, 100), 9);
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["datapath"], "ebpf");
    assert_eq!(show[0]["health"], "ok", "{show}");
    assert_eq!(show[0]["a_to_b"]["packets"].as_u64().unwrap() - packets, 9);
    assert_eq!(
        show[0]["a_to_b"]["bytes"].as_u64().unwrap() - bytes,
        900,
        "frame bytes, as the tc wire counts them"
    );

    mid.patchwire(&["unlink", "wa"]).ok();
    assert_eq!(
        mid.snapshot(),
        before,
        "unlink leaves no program, filter or qdisc"
    );
}

#[test]
fn a_wire_converts_between_datapaths_in_place() {
    let (q, mid) = bench();
    mid.patchwire(&["link", "wa", "wb"]).ok();
    for (datapath, expected) in [("ebpf", "ebpf"), ("tc", "tc"), ("ebpf", "ebpf")] {
        let run = mid.patchwire(&["link", "wa", "wb", "--datapath", datapath]);
        assert!(
            run.ok().stdout.starts_with("updated: wa <-> wb"),
            "{}",
            run.stdout
        );
        let show = mid.patchwire(&["-j", "show"]).json();
        assert_eq!(show[0]["datapath"], expected);
        assert_eq!(show.as_array().unwrap().len(), 1);
        assert_eq!(
            send(&q, "qa", "qb", 5, 80),
            5,
            "frames cross after converting to {datapath}"
        );
        assert_eq!(send(&q, "qb", "qa", 5, 80), 5);
    }
    let again = mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"]);
    assert!(
        again.ok().stdout.starts_with("already wired"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_deleted_end_breaks_an_ebpf_wire_and_is_named() {
    let (q, mid) = bench();
    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    mid.ip("link del dev wb");
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "broken", "{show}");
    assert!(
        show[0]["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("wb is gone"),
        "{show}"
    );
    // Re-linking to a new end replaces the remains.
    veth(&mid, "wc", &q, "qc");
    mid.patchwire(&["link", "wa", "wc", "--datapath", "ebpf"])
        .ok();
    assert_eq!(send(&q, "qa", "qc", 3, 70), 3);
}

#[test]
fn a_mirror_on_an_ebpf_wire_end_copies_every_frame_once() {
    let (q, mid) = bench();
    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    mid.patchwire(&[
        "mirror",
        "add",
        "m",
        "--from",
        "wa",
        "--to",
        "mon",
        "--direction",
        "in",
    ])
    .ok();
    let copies = packet_socket(&q, "qm");
    assert_eq!(
        send(&q, "qa", "qb", 6, 90),
        6,
        "the wire still passes every frame"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut copied = 0;
    while let Some(frame) = copies.recv_until(deadline).unwrap() {
        copied += usize::from(frame.len() == 90);
    }
    assert_eq!(copied, 6);
    let mirror = mid.patchwire(&["-j", "mirror", "show"]).json();
    assert_eq!(mirror[0]["packets"], 6);
}

#[test]
fn watch_remakes_an_ebpf_wire_as_ebpf() {
    let (q, mid) = bench();
    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    // wb goes (a VM stopping) and comes back under the same name (the VM restarting).
    mid.ip("link del dev wb");
    veth(&mid, "wb", &q, "qb");
    mid.patchwire(&["watch", "--once"]).ok();
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "ok", "{show}");
    assert_eq!(
        show[0]["datapath"], "ebpf",
        "re-made with the datapath it had"
    );
    assert_eq!(send(&q, "qa", "qb", 4, 75), 4);
    assert_eq!(send(&q, "qb", "qa", 4, 75), 4);
}

#[test]
fn peer_redirect_is_used_where_nothing_watches_and_given_up_for_an_out_mirror() {
    let (q, mid) = bench();
    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    // Both ends are veths whose peers live in q: frames go straight into the peers.
    for dev in ["wa", "wb"] {
        let filters = mid.tc(&format!("filter show dev {dev} ingress"));
        assert!(filters.contains(" peer=1 "), "{dev}: {filters}");
    }
    let probe = mid.patchwire(&["probe", "wa"]);
    assert_eq!(probe.code, 0, "{}", probe.stdout);
    let tx_before = tx_packets(&mid, "wb");
    assert_eq!(send(&q, "qa", "qb", 5, 90), 5);
    assert_eq!(
        tx_packets(&mid, "wb"),
        tx_before,
        "redirect_peer skipped wb's transmit path"
    );

    // A mirror of what leaves wb must see those frames: wa's direction becomes a plain
    // bpf_redirect in the same batch as the mirror.
    mid.patchwire(&[
        "mirror",
        "add",
        "m",
        "--from",
        "wb",
        "--to",
        "mon",
        "--direction",
        "out",
    ])
    .ok();
    let wa = mid.tc("filter show dev wa ingress");
    assert!(
        wa.contains("pw-wire to=wb") && !wa.contains("peer=1"),
        "{wa}"
    );
    let copies = packet_socket(&q, "qm");
    assert_eq!(send(&q, "qa", "qb", 5, 90), 5);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut copied = 0;
    while let Some(frame) = copies.recv_until(deadline).unwrap() {
        copied += usize::from(frame.len() == 90);
    }
    assert_eq!(copied, 5, "every frame leaving wb was copied");
    let probe = mid.patchwire(&["probe", "wa"]);
    assert_eq!(probe.code, 0, "{}", probe.stdout);
}

fn tx_packets(ns: &TestNs, dev: &str) -> u64 {
    let text = ns.ip(&format!("-s -j link show dev {dev}"));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value[0]["stats64"]["tx"]["packets"].as_u64().unwrap()
}

#[test]
fn ends_whose_peers_share_their_namespace_get_a_plain_redirect_and_bad_datapaths_are_refused() {
    let mid = TestNs::new();
    // Both veth pairs wholly inside mid: no other namespace to hand frames to.
    for (end, peer) in [("wa", "pa"), ("wb", "pb")] {
        mid.ip(&format!("link add name {end} type veth peer name {peer}"));
        mid.ip(&format!("link set dev {end} up"));
        mid.ip(&format!("link set dev {peer} up"));
        settle(&mid, end);
    }
    let before = mid.snapshot();
    let run = mid.patchwire(&["link", "wa", "wb", "--datapath", "xdp"]);
    assert_eq!(run.code, 2, "a usage error: {}", run.stderr);
    assert!(run.stderr.contains("invalid value 'xdp'"), "{}", run.stderr);
    assert_eq!(mid.snapshot(), before);

    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    let filters = mid.tc("filter show dev wa ingress");
    assert!(
        filters.contains("pw-wire to=wb") && !filters.contains("peer=1"),
        "{filters}"
    );
    let probe = mid.patchwire(&["probe", "wa"]);
    assert_eq!(probe.code, 0, "{}", probe.stdout);
    assert_eq!(send(&mid, "pa", "pb", 4, 64), 4);
}

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
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["a_to_b_path"], "redirect", "{show}");

    // With the out copy gone, mirror del gives wa -> wb the peer path back (recorded in the
    // filter again: a later out mirror knows to take it away).
    mid.patchwire(&["mirror", "del", "m"]).ok();
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["a_to_b_path"], "peer", "{show}");
    assert_eq!(show[0]["health"], "ok", "{show}");
    let wa = mid.tc("filter show dev wa ingress");
    assert!(wa.contains(" peer=1 "), "{wa}");
    let tx_before = tx_packets(&mid, "wb");
    assert_eq!(send(&q, "qa", "qb", 5, 90), 5);
    assert_eq!(tx_packets(&mid, "wb"), tx_before, "the peer path again");
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

/// `tc -s qdisc show dev DEV root` read as an observer: (bytes sent, frames dropped).
fn qdisc_sent_and_dropped(ns: &TestNs, dev: &str) -> (u64, u64) {
    let text = ns.tc(&format!("-s -j qdisc show dev {dev} root"));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        value[0]["bytes"].as_u64().unwrap(),
        value[0]["drops"].as_u64().unwrap(),
    )
}

#[test]
fn a_root_qdisc_on_a_target_end_is_honoured_and_the_peer_path_comes_back_when_it_goes() {
    let (q, mid) = bench();
    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["a_to_b_path"], "peer", "{show}");
    assert_eq!(show[0]["b_to_a_path"], "peer", "{show}");
    assert_eq!(show[0]["health"], "ok", "{show}");

    // Someone else shapes wb: 1 kB/s, one frame's burst, 3 kB of queue.
    mid.tc("qdisc add dev wb root tbf rate 8kbit burst 1600 limit 3000");
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "degraded", "{show}");
    let expected = format!(
        "wa -> wb takes the peer path (bpf_redirect_peer), which skips wb's root qdisc \
         tbf: it is never applied to what the wire sends; switch that direction to \
         bpf_redirect in place with: patchwire -n {} link wa wb --datapath ebpf",
        mid.name
    );
    assert_eq!(show[0]["problems"], serde_json::json!([expected]));
    let text = mid.patchwire(&["-s", "show"]).ok().stdout.clone();
    assert!(text.contains(" dropped (path peer)\n"), "{text}");

    // link, run again, notices the qdisc and moves wa -> wb to the plain redirect in place.
    let filter_before = mid.tc("filter show dev wa ingress");
    let run = mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"]);
    assert_eq!(
        run.ok().stdout,
        "wa -> wb: now the redirect path (wb's root qdisc tbf)\nupdated: wa <-> wb\n"
    );
    assert_eq!(
        mid.tc("filter show dev wa ingress"),
        filter_before,
        "the same filter and program: only the map's mode changed"
    );
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["a_to_b_path"], "redirect", "{show}");
    assert_eq!(show[0]["b_to_a_path"], "peer", "{show}");
    assert_eq!(show[0]["health"], "ok", "{show}");
    let again = mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"]);
    assert_eq!(again.ok().stdout, "already wired: wa <-> wb\n");

    // The tbf now shapes the wire: 40 frames of 1000 bytes at once, at most a few kB pass.
    let arrived = send(&q, "qa", "qb", 40, 1000);
    let (sent, dropped) = qdisc_sent_and_dropped(&mid, "wb");
    assert!((1..40).contains(&arrived), "{arrived} of 40 arrived");
    assert!(sent >= 1000, "tbf sent {sent} bytes");
    assert!(dropped >= 1, "tbf dropped {dropped}");
    // The other direction is not shaped: wa has no qdisc of its own.
    assert_eq!(send(&q, "qb", "qa", 10, 1000), 10);

    // The qdisc goes; the library call impairments make gives the peer path back.
    mid.tc("qdisc del dev wb root");
    let changes = patchwire::wire::settle_paths(mid.netns(), &["wb"]).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (
            changes[0].from.as_str(),
            changes[0].to.as_str(),
            changes[0].path,
            changes[0].because.as_str()
        ),
        (
            "wa",
            "wb",
            patchwire::wire::Path::Peer,
            "nothing on wb's way out is skipped"
        )
    );
    assert!(
        patchwire::wire::settle_paths(mid.netns(), &["wb", "wa"])
            .unwrap()
            .is_empty(),
        "settled already"
    );
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["a_to_b_path"], "peer", "{show}");
    let tx_before = tx_packets(&mid, "wb");
    assert_eq!(send(&q, "qa", "qb", 40, 1000), 40);
    assert_eq!(tx_packets(&mid, "wb"), tx_before, "the peer path again");

    let missing = patchwire::wire::settle_paths(mid.netns(), &["nope"]).unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!(
            "settling the eBPF wire paths to nope: no interface named nope in netns {}",
            mid.name
        )
    );
}

#[test]
fn a_wire_made_on_a_shaped_end_takes_the_plain_redirect_from_the_start() {
    let (q, mid) = bench();
    mid.tc("qdisc add dev wb root tbf rate 8kbit burst 1600 limit 3000");
    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["a_to_b_path"], "redirect", "{show}");
    assert_eq!(show[0]["b_to_a_path"], "peer", "{show}");
    assert_eq!(show[0]["health"], "ok", "{show}");
    // Able to take the peer path (recorded), on the plain redirect now (the map's mode).
    assert!(
        mid.tc("filter show dev wa ingress").contains(" peer=1 "),
        "{}",
        mid.tc("filter show dev wa ingress")
    );
    let arrived = send(&q, "qa", "qb", 40, 1000);
    let (sent, dropped) = qdisc_sent_and_dropped(&mid, "wb");
    assert!((1..40).contains(&arrived), "{arrived} of 40 arrived");
    assert!(
        sent >= 1000 && dropped >= 1,
        "tbf sent {sent}, dropped {dropped}"
    );

    // A user who removes it by hand runs link again.
    mid.tc("qdisc del dev wb root");
    let run = mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"]);
    assert_eq!(
        run.ok().stdout,
        "wa -> wb: now the peer path (nothing on wb's way out is skipped)\nupdated: wa <-> wb\n"
    );
    assert_eq!(send(&q, "qa", "qb", 40, 1000), 40);
}

/// The id of the cls_bpf program on `dev`'s ingress hook, as `tc -j` reports it.
fn ingress_prog_id(ns: &TestNs, dev: &str) -> u32 {
    let text = ns.tc(&format!("-j filter show dev {dev} ingress"));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| f["options"]["prog"]["id"].as_u64())
        .unwrap() as u32
}

fn carrier_changes(ns: &TestNs, dev: &str) -> String {
    ns.exec(&["cat", &format!("/sys/class/net/{dev}/carrier_changes")])
}

#[test]
fn switching_a_direction_between_paths_in_place_loses_no_frame() {
    let (q, mid) = bench();
    // A qdisc that never drops, so both paths deliver everything.
    mid.tc("qdisc add dev wb root tbf rate 10gbit burst 1mb limit 64mb");
    mid.patchwire(&["link", "wa", "wb", "--datapath", "ebpf"])
        .ok();
    let map_id = patchwire::bpf::map::prog_map_ids(ingress_prog_id(&mid, "wa")).unwrap()[0];
    let map = patchwire::bpf::map::Map::from_id(map_id).unwrap();
    let wa = ifindex(&mid, "wa").0;
    let carrier = [carrier_changes(&mid, "wa"), carrier_changes(&mid, "wb")];
    let (frames, len) = (3000, 200);

    let receiver = packet_socket(&q, "qb");
    let sender = packet_socket(&q, "qa");
    let receiving = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mut seen, mut count) = (vec![false; frames], 0);
        while let Some(got) = receiver.recv_until(deadline).unwrap() {
            if got.len() == len && got[12..14] == [0x88, 0xb5] {
                let at = u32::from_be_bytes(got[14..18].try_into().unwrap()) as usize;
                count += usize::from(!seen[at]);
                seen[at] = true;
            }
            if count == frames {
                break;
            }
        }
        count
    });
    let mut frame = vec![0u8; len];
    frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x22]);
    frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x11]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    let sending = std::thread::spawn(move || {
        for i in 0..frames {
            frame[14..18].copy_from_slice(&(i as u32).to_be_bytes());
            sender.send(&frame).unwrap();
            // Paced, so no backlog queue overflows: only the switching is under test.
            if i % 32 == 31 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    });
    let mut flips = 0;
    while !sending.is_finished() && flips < 100_000 {
        map.modify_all_cpus(wa, |v| {
            patchwire::bpf::set_wire_peer(v, !patchwire::bpf::wire_peer(v))
        })
        .unwrap();
        flips += 1;
    }
    sending.join().unwrap();
    let arrived = receiving.join().unwrap();
    assert!(flips > 1, "the path was switched while frames flowed");
    assert_eq!(arrived, frames, "frames lost over {flips} switches");
    assert_eq!(
        [carrier_changes(&mid, "wa"), carrier_changes(&mid, "wb")],
        carrier,
        "no carrier change"
    );
}

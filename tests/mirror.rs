//! Privileged: mirrors (SPAN) on the real kernel. The lab namespace holds the sources and
//! destinations; their veth peers live in a second namespace (`far`), where the test injects
//! frames and captures copies, byte for byte.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use patchwire::packet::PacketSocket;

/// How long a frame may take to show up; also how long we watch for frames that must not.
const WINDOW: Duration = Duration::from_millis(400);

struct Lab {
    lab: TestNs,
    far: TestNs,
    sockets: HashMap<String, PacketSocket>,
}

impl Lab {
    /// `lab:NAME <-> far:NAMEp` for each name.
    fn new(names: &[&str]) -> Lab {
        let lab = TestNs::new();
        let far = TestNs::new();
        for name in names {
            veth(&lab, name, &far, &format!("{name}p"));
        }
        Lab {
            lab,
            far,
            sockets: HashMap::new(),
        }
    }

    /// A packet socket on `dev` (in `far` if the name ends in p, else in `lab`), drained.
    fn socket(&mut self, dev: &str) -> &PacketSocket {
        if !self.sockets.contains_key(dev) {
            let ns = if dev.ends_with('p') {
                &self.far
            } else {
                &self.lab
            };
            let socket = packet_socket(ns, dev);
            self.sockets.insert(dev.to_string(), socket);
        }
        &self.sockets[dev]
    }

    /// Frames entering lab:`dev` (sent from its far peer).
    fn send_in(&mut self, dev: &str, frame: &[u8]) {
        self.socket(&format!("{dev}p")).send(frame).unwrap();
    }

    /// Frames leaving lab:`dev` (sent on it).
    fn send_out(&mut self, dev: &str, frame: &[u8]) {
        self.socket(dev).send(frame).unwrap();
    }

    /// Everything that arrives on `dev` within the window (after the last frame).
    fn collect(&mut self, dev: &str) -> Vec<Vec<u8>> {
        let socket = self.socket(dev);
        let mut frames = Vec::new();
        let mut deadline = Instant::now() + WINDOW;
        while let Some(frame) = socket.recv_until(deadline).unwrap() {
            frames.push(frame);
            deadline = Instant::now() + WINDOW;
        }
        frames
    }

    fn drain(&mut self, dev: &str) {
        self.socket(dev).drain();
    }

    /// `patchwire -n LAB mirror ARGS` (split on spaces).
    fn mirror(&self, args: &str) -> Run {
        let mut all = vec!["mirror"];
        all.extend(args.split_whitespace());
        self.lab.patchwire(&all)
    }

    fn show(&self) -> serde_json::Value {
        let shown = self.mirror("-j show");
        shown.ok();
        shown.json()
    }
}

/// A frame with an experimental ethertype, a marker in its source MAC and payload, and the
/// given VLAN tags (outermost first: (TPID, TCI)).
fn frame(tags: &[(u16, u16)], marker: u8, len: usize) -> Vec<u8> {
    let mut frame = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0x5a, marker];
    for (tpid, tci) in tags {
        frame.extend_from_slice(&tpid.to_be_bytes());
        frame.extend_from_slice(&tci.to_be_bytes());
    }
    frame.extend_from_slice(&[0x88, 0xb5]);
    while frame.len() < len {
        frame.push(marker ^ (frame.len() as u8));
    }
    frame
}

const Q: u16 = 0x8100;
const AD: u16 = 0x88a8;

/// The frames each test sends: untagged, 802.1Q, QinQ, of different sizes.
fn catalogue(base: u8) -> Vec<Vec<u8>> {
    vec![
        frame(&[], base, 60),
        frame(&[(Q, 100)], base + 1, 64),
        frame(&[(Q, 0x2000 | 205)], base + 2, 300),
        frame(&[(AD, 100), (Q, 7)], base + 3, 128),
        frame(&[], base + 4, 1514),
    ]
}

fn tagged(frame: &[u8]) -> bool {
    matches!(u16::from_be_bytes([frame[12], frame[13]]), 0x8100 | 0x88a8)
}

/// One mirror of `mirror show -j`, by name.
fn find_mirror<'a>(show: &'a serde_json::Value, mirror: &str) -> &'a serde_json::Value {
    show.as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == mirror)
        .unwrap_or_else(|| panic!("no mirror {mirror} in {show}"))
}

fn hook<'a>(
    show: &'a serde_json::Value,
    mirror: &str,
    source: &str,
    hook: &str,
) -> &'a serde_json::Value {
    let mirror = find_mirror(show, mirror);
    let source = mirror["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == source)
        .unwrap_or_else(|| panic!("no source {source} in {mirror}"));
    source["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hook"] == hook)
        .unwrap_or_else(|| panic!("no hook {hook} in {source}"))
}

fn counters(show: &serde_json::Value, mirror: &str, source: &str, dir: &str) -> (u64, u64) {
    let h = hook(show, mirror, source, dir);
    (h["packets"].as_u64().unwrap(), h["bytes"].as_u64().unwrap())
}

/// `frames` arrived, each exactly once, and nothing else.
fn assert_exactly(received: &[Vec<u8>], frames: &[Vec<u8>], what: &str) {
    for sent in frames {
        let n = received.iter().filter(|r| *r == sent).count();
        assert_eq!(
            n,
            1,
            "{what}: frame {:02x?}… arrived {n} times",
            &sent[..18]
        );
    }
    assert_eq!(
        received.len(),
        frames.len(),
        "{what}: unexpected extra frames"
    );
}

#[test]
fn copies_every_direction_exactly_once_with_tags_and_exact_counters() {
    let mut lab = Lab::new(&["eth1", "eth2", "eth3", "mon0"]);
    let before = lab.lab.snapshot();

    // Negative control: no mirror, nothing reaches the destination.
    lab.drain("mon0p");
    for f in catalogue(0x10) {
        lab.send_in("eth1", &f);
    }
    assert!(lab.collect("mon0p").is_empty(), "copies without a mirror");

    let added = lab.mirror("-j add web --from eth1,eth2 --to mon0");
    added.ok();
    assert_eq!(
        added.json()["mirrors"][0]["sources"][1]["hooks"],
        serde_json::json!(["in", "out"])
    );
    let shown = lab.lab.tc("filter show dev eth1 egress");
    assert!(
        shown.contains("pw-mirror web to=mon0 dir=both from=eth1/eth2"),
        "{shown}"
    );
    assert!(
        shown.contains("Egress Mirror to device mon0) continue"),
        "{shown}"
    );

    // in and out on both sources; eth3 is not a source.
    let mut expected = Vec::new();
    let (mut in_bytes, mut out_bytes) = (0, 0);
    lab.drain("mon0p");
    lab.drain("eth1p");
    for (i, f) in catalogue(0x20).into_iter().enumerate() {
        lab.send_in("eth1", &f);
        in_bytes += f.len() as u64 - if tagged(&f) { 4 } else { 0 };
        expected.push(f);
        let g = frame(&[(Q, 300 + i as u16)], 0x30 + i as u8, 80 + i);
        lab.send_out("eth1", &g);
        out_bytes += g.len() as u64;
        expected.push(g);
    }
    let h = frame(&[], 0x40, 70);
    lab.send_in("eth2", &h);
    expected.push(h.clone());
    let k = frame(&[(AD, 5)], 0x41, 90);
    lab.send_out("eth2", &k);
    expected.push(k.clone());
    lab.send_in("eth3", &frame(&[], 0x42, 60));
    lab.send_out("eth3", &frame(&[], 0x43, 60));

    let received = lab.collect("mon0p");
    assert_exactly(&received, &expected, "mon0p");
    // The originals still went their way: eth1's outgoing frames reached eth1p.
    let at_peer = lab.collect("eth1p");
    assert_eq!(at_peer.len(), 5, "eth1 out frames must still leave eth1");

    // Counters: OvS-like tx_packets / tx_bytes per source and direction, exact.
    let show = lab.show();
    assert_eq!(counters(&show, "web", "eth1", "in"), (5, in_bytes));
    assert_eq!(counters(&show, "web", "eth1", "out"), (5, out_bytes));
    assert_eq!(counters(&show, "web", "eth2", "in"), (1, 70));
    assert_eq!(counters(&show, "web", "eth2", "out"), (1, 90));
    assert_eq!(show[0]["packets"], 12);
    assert_eq!(show[0]["health"], "ok");
    let text = lab.mirror("show -s");
    text.ok();
    assert!(
        text.stdout
            .contains("web  ok  -> mon0 (up)  direction both"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("eth1 in: 5 packets"),
        "{}",
        text.stdout
    );

    // Delete: nothing arrives any more, and the kernel is as it was.
    lab.mirror("del web").ok();
    lab.drain("mon0p");
    for f in catalogue(0x50) {
        lab.send_in("eth1", &f);
        lab.send_out("eth2", &f);
    }
    assert!(lab.collect("mon0p").is_empty(), "copies after del");
    assert_eq!(lab.lab.snapshot(), before);
}

#[test]
fn one_source_in_several_mirrors_copies_to_each_destination() {
    let mut lab = Lab::new(&["eth1", "mon0", "mon1"]);
    lab.mirror("add a --from eth1 --to mon0 --direction in")
        .ok();
    lab.mirror("add b --from eth1 --to mon1").ok();
    lab.drain("mon0p");
    lab.drain("mon1p");
    let frames = catalogue(0x60);
    for f in &frames {
        lab.send_in("eth1", f);
    }
    assert_exactly(&lab.collect("mon0p"), &frames, "mon0p");
    assert_exactly(&lab.collect("mon1p"), &frames, "mon1p");
}

#[test]
fn all_mirrors_every_interface_but_destinations() {
    let mut lab = Lab::new(&["eth1", "eth2", "mon0", "mon1"]);
    lab.mirror("add web --from eth1 --to mon0 --direction in")
        .ok();
    let added = lab.mirror("-j add all --all --to mon1");
    added.ok();
    let sources: Vec<String> = added.json()["mirrors"][0]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    // Not mon1 (its own destination), not mon0 (another mirror's), not lo.
    assert_eq!(sources, ["eth1", "eth2"]);
    assert!(
        lab.lab
            .tc("filter show dev eth2 egress")
            .contains("from=*2")
    );
    lab.drain("mon0p");
    lab.drain("mon1p");
    let frames = catalogue(0xd0);
    for f in &frames {
        lab.send_in("eth1", f);
    }
    assert_exactly(&lab.collect("mon1p"), &frames, "mon1p (--all)");
    assert_exactly(&lab.collect("mon0p"), &frames, "mon0p (web)");
    let show = lab.show();
    let all = find_mirror(&show, "all");
    assert_eq!(all["packets"], 5);
    assert_eq!(all["health"], "ok");
}

#[test]
fn vlan_selection_and_rspan_tagging() {
    let mut lab = Lab::new(&["eth1", "eth2", "mon0", "mon1"]);
    lab.mirror("add up --from eth1 --to mon0 --vlan 100,200-210")
        .ok();

    lab.drain("mon0p");
    let chosen = vec![
        frame(&[(Q, 100)], 1, 64),
        frame(&[(Q, 0xe000 | 205)], 2, 64),
        frame(&[(AD, 100), (Q, 300)], 3, 64),
    ];
    let others = vec![
        frame(&[(Q, 150)], 4, 64),
        frame(&[(Q, 211)], 5, 64),
        frame(&[], 6, 64),
        frame(&[(AD, 300), (Q, 100)], 7, 64),
    ];
    // Arriving (VLAN in skb metadata) and leaving (VLAN still in the bytes) alike.
    for f in chosen.iter().chain(&others) {
        lab.send_in("eth1", f);
    }
    for f in chosen.iter().chain(&others) {
        lab.send_out("eth1", f);
    }
    let both_ways: Vec<Vec<u8>> = chosen.iter().chain(&chosen).cloned().collect();
    let received = lab.collect("mon0p");
    assert_eq!(received.len(), 6, "only the chosen VLANs, both directions");
    for f in &chosen {
        assert_eq!(received.iter().filter(|r| *r == f).count(), 2);
    }
    drop(both_ways);

    // RSPAN: copies carry VLAN 999 outside the original; the originals leave untouched.
    lab.mirror("add r --from eth2 --to mon1 --output-vlan 999")
        .ok();
    lab.drain("mon1p");
    lab.drain("eth2p");
    let frames = vec![
        frame(&[], 0x71, 60),
        frame(&[(Q, 100)], 0x72, 64),
        frame(&[(AD, 7), (Q, 8)], 0x73, 70),
    ];
    for f in &frames {
        lab.send_out("eth2", f);
        lab.send_in("eth2", f);
    }
    let rspan: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let mut tagged = f[..12].to_vec();
            tagged.extend_from_slice(&[0x81, 0x00, 0x03, 0xe7]);
            tagged.extend_from_slice(&f[12..]);
            tagged
        })
        .collect();
    let received = lab.collect("mon1p");
    for f in &rspan {
        assert_eq!(
            received.iter().filter(|r| *r == f).count(),
            2,
            "RSPAN copy {:02x?}",
            &f[..20]
        );
    }
    assert_eq!(received.len(), 6);
    // Originals leaving eth2 arrive at eth2p exactly as sent: the tag was popped again.
    assert_exactly(&lab.collect("eth2p"), &frames, "eth2p (originals)");
    let show = lab.show();
    let r = find_mirror(&show, "r");
    assert_eq!(r["output_vlan"], 999);
    assert_eq!(r["packets"], 6);
    let tc = lab.lab.tc("filter show dev eth2 ingress");
    assert!(tc.contains("pw-mirror r role=pop direct-action"), "{tc}");
}

#[test]
fn mirror_on_wire_ends_keeps_the_wire_transparent_and_copies_once() {
    let mut lab = Lab::new(&["a", "b", "mon0", "mon1", "mon2"]);
    lab.lab.patchwire(&["link", "a", "b"]).ok();
    // A plain mirror on one end, an RSPAN mirror on the other: the wire must not notice.
    lab.mirror("add m1 --from a --to mon0").ok();
    lab.mirror("add m2 --from b --to mon1 --output-vlan 42")
        .ok();
    let probe = lab.lab.patchwire(&["probe", "a"]);
    assert_eq!(
        probe.code, 0,
        "probe through a mirrored wire:\n{}{}",
        probe.stdout, probe.stderr
    );

    // The copies match the wire's own counters, direction by direction.
    let wire = lab.lab.patchwire(&["-j", "show"]);
    let wire = &wire.json()[0];
    let show = lab.show();
    let a_to_b = wire["a_to_b"]["packets"].as_u64().unwrap();
    let b_to_a = wire["b_to_a"]["packets"].as_u64().unwrap();
    assert!(a_to_b >= 13 && b_to_a >= 13, "{wire}");
    assert_eq!(counters(&show, "m1", "a", "in").0, a_to_b);
    assert_eq!(counters(&show, "m1", "a", "out").0, b_to_a);
    assert_eq!(counters(&show, "m2", "b", "in").0, b_to_a);
    assert_eq!(counters(&show, "m2", "b", "out").0, a_to_b);

    // Both ends of the wire in one mirror: only `in` is taken on each, so every crossing
    // frame reaches mon2 once.
    let added = lab.mirror("-j add m3 --from a,b --to mon2");
    added.ok();
    let added = added.json();
    assert_eq!(
        added["mirrors"][0]["sources"][0]["hooks"],
        serde_json::json!(["in"])
    );
    assert_eq!(
        added["mirrors"][0]["sources"][1]["hooks"],
        serde_json::json!(["in"])
    );
    assert_eq!(added["mirrors"][0]["notes"].as_array().unwrap().len(), 2);
    lab.drain("mon2p");
    lab.drain("bp");
    lab.drain("ap");
    let one_way = catalogue(0x80);
    let other_way = catalogue(0x90);
    for f in &one_way {
        lab.send_in("a", f);
    }
    for f in &other_way {
        lab.send_in("b", f);
    }
    let all: Vec<Vec<u8>> = one_way.iter().chain(&other_way).cloned().collect();
    assert_exactly(&lab.collect("mon2p"), &all, "mon2p");
    assert_exactly(&lab.collect("bp"), &one_way, "bp (through the wire)");
    assert_exactly(&lab.collect("ap"), &other_way, "ap (through the wire)");

    // A second mirror to mon2 watching a leaving what m3 sees entering b: refused.
    lab.mirror("add m4 --from a --to mon2 --direction out").fails_with(
        "mirror m3 copies frames arriving at b to mon2, and a and b are the two ends of a wire: the \
         frames leaving a are the same frames, so mon2 would get them twice. Mirror one end with \
         --direction both, or both ends with --direction in",
    );

    // Deleting mirrors leaves the wire as it was: still fully transparent.
    lab.mirror("del m1 m2").ok();
    let probe = lab.lab.patchwire(&["probe", "a"]);
    assert_eq!(
        probe.code, 0,
        "probe after mirror del:\n{}{}",
        probe.stdout, probe.stderr
    );
    assert_eq!(lab.lab.wire_filters("a") + lab.lab.wire_filters("b"), 2);

    // Unlinking the wire keeps the mirrors; deleting the mirrors keeps nothing of theirs.
    lab.lab.patchwire(&["unlink", "a"]).ok();
    assert!(lab.lab.has_clsact("a"), "mirror filters keep the qdisc");
    lab.mirror("del --all").ok();
    assert!(!lab.lab.has_clsact("a") && !lab.lab.has_clsact("b"));
}

#[test]
fn remote_mirror_over_vxlan_between_two_hosts() {
    let host1 = TestNs::new();
    let host2 = TestNs::new();
    let far = TestNs::new();
    veth(&host1, "eth1", &far, "eth1p");
    veth(&host1, "u1", &host2, "u2");
    host1.ip("addr add 198.18.0.1/24 dev u1");
    host2.ip("addr add 198.18.0.2/24 dev u2");
    host1.ip(
        "link add name vx0 type vxlan id 42 local 198.18.0.1 remote 198.18.0.2 dstport 4789 dev u1",
    );
    host2.ip(
        "link add name vx0 type vxlan id 42 local 198.18.0.2 remote 198.18.0.1 dstport 4789 dev u2",
    );
    host1.ip("link set dev vx0 up");
    host2.ip("link set dev vx0 up");
    // A vxlan device's operstate stays UNKNOWN; it is ready once it has LOWER_UP.
    for host in [&host1, &host2] {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !host.ip("-o link show dev vx0").contains("LOWER_UP") {
            assert!(Instant::now() < deadline, "vx0 did not come up");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    let mut all = vec!["-n", host1.name.as_str(), "mirror", "add", "remote"];
    all.extend(["--from", "eth1", "--to", "vx0", "--direction", "in"]);
    patchwire(&all).ok();

    let analyzer = packet_socket(&host2, "vx0");
    let injector = packet_socket(&far, "eth1p");
    let frames = catalogue(0xa0);
    let frames: Vec<Vec<u8>> = frames.into_iter().filter(|f| f.len() <= 1400).collect();
    for f in &frames {
        injector.send(f).unwrap();
    }
    let mut received = Vec::new();
    let mut deadline = Instant::now() + Duration::from_secs(2);
    while let Some(f) = analyzer.recv_until(deadline).unwrap() {
        received.push(f);
        deadline = Instant::now() + WINDOW;
    }
    assert_exactly(&received, &frames, "analyzer on host2 vx0");
    let show = patchwire(&["-n", &host1.name, "-j", "mirror", "show"]).json();
    assert_eq!(show[0]["destination"]["kind"], "vxlan");
    assert_eq!(show[0]["packets"], frames.len());

    // RSPAN over the same tunnel: frames leaving eth1 reach the analyzer tagged VLAN 999.
    let mut all = vec!["-n", host1.name.as_str(), "mirror", "add", "rspan"];
    all.extend([
        "--from",
        "eth1",
        "--to",
        "vx0",
        "--direction",
        "out",
        "--output-vlan",
        "999",
    ]);
    patchwire(&all).ok();
    let sender = packet_socket(&host1, "eth1");
    analyzer.drain();
    for f in &frames {
        sender.send(f).unwrap();
    }
    let tagged: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| [&f[..12], &[0x81, 0x00, 0x03, 0xe7], &f[12..]].concat())
        .collect();
    let mut received = Vec::new();
    let mut deadline = Instant::now() + Duration::from_secs(2);
    while let Some(f) = analyzer.recv_until(deadline).unwrap() {
        received.push(f);
        deadline = Instant::now() + WINDOW;
    }
    assert_exactly(&received, &tagged, "analyzer on host2 vx0 (RSPAN)");
}

#[test]
fn faults_are_reported_destination_gone_source_gone_destination_down() {
    let mut lab = Lab::new(&["eth1", "eth2", "mon0"]);
    lab.mirror("add web --from eth1,eth2 --to mon0").ok();

    lab.lab.ip("link set dev mon0 down");
    let show = lab.show();
    assert_eq!(show[0]["health"], "degraded");
    assert_eq!(
        show[0]["problems"][0],
        "destination mon0 is down: copies are dropped"
    );
    lab.lab.ip("link set dev mon0 up");
    settle(&lab.lab, "mon0");

    lab.lab.ip("link del dev eth2");
    let show = lab.show();
    assert_eq!(show[0]["health"], "degraded");
    assert_eq!(show[0]["sources_gone"], serde_json::json!(["eth2"]));
    assert_eq!(
        show[0]["problems"][0],
        "source eth2 is gone (its filters went with it)"
    );

    // Destination deleted: the kernel drops every copy; show says broken and counts them.
    lab.lab.ip("link del dev mon0");
    for f in catalogue(0xb0) {
        lab.send_in("eth1", &f);
    }
    let show = lab.show();
    assert_eq!(show[0]["health"], "broken");
    assert_eq!(show[0]["destination"]["present"], false);
    assert!(
        show[0]["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("destination mon0 is gone: the kernel drops every copy")
    );
    assert_eq!(show[0]["dropped"], 5);
    let text = lab.mirror("show");
    assert!(
        text.stdout.contains("web  broken  -> mon0 (gone)"),
        "{}",
        text.stdout
    );
    // Re-created with the same name: still broken (mirred does not re-bind).
    lab.lab.ip("link add name mon0 type veth peer name mon0x");
    let show = lab.show();
    assert!(
        show[0]["problems"][0].as_str().unwrap().contains("gone"),
        "{show}"
    );
    lab.mirror("del web").ok();
    assert!(!lab.lab.has_clsact("eth1"));
}

#[test]
fn delete_removes_only_its_own_filters_and_spares_foreign_ones() {
    let mut lab = Lab::new(&["eth1", "eth2", "mon0", "mon1"]);
    let before = lab.lab.snapshot();
    lab.mirror("add web --from eth1,eth2 --to mon0").ok();
    // Someone else's copy filter on eth1's ingress, on the clsact patchwire added.
    lab.lab.tc("filter add dev eth1 ingress pref 100 protocol all u32 match u32 0 0 action mirred egress mirror dev mon1");
    let with_foreign = lab.lab.tc("filter show dev eth1 ingress");
    lab.mirror("del web").ok();
    let after = lab.lab.tc("filter show dev eth1 ingress");
    assert!(after.contains("pref 100 u32"), "{after}");
    assert!(!after.contains("pw-mirror"), "{after}");
    assert!(with_foreign.contains("pw-mirror"));
    assert!(
        lab.lab.has_clsact("eth1"),
        "the foreign filter keeps its qdisc"
    );
    assert!(
        !lab.lab.has_clsact("eth2"),
        "eth2 was left with nothing: clsact removed"
    );
    // The foreign filter still works.
    lab.drain("mon1p");
    let f = frame(&[], 0xc1, 60);
    lab.send_in("eth1", &f);
    assert_exactly(&lab.collect("mon1p"), &[f], "mon1p (foreign mirror)");
    lab.lab.tc("qdisc del dev eth1 clsact");
    assert_eq!(lab.lab.snapshot(), before);
}

/// `watch --once` as JSON events, one per line.
fn watch_once(lab: &Lab) -> Vec<serde_json::Value> {
    let run = lab.lab.patchwire(&["-j", "watch", "--once"]);
    run.ok();
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn watch_re_aims_mirrors_at_re_created_destinations_and_sources() {
    let mut lab = Lab::new(&["eth1", "eth2", "mon0", "mon1"]);
    lab.mirror("add web --from eth1,eth2 --to mon0").ok();
    lab.mirror("add r --from eth1 --to mon1 --direction out --output-vlan 7")
        .ok();

    // The destination goes: broken, reported once.
    lab.lab.ip("link del dev mon0");
    let events = watch_once(&lab);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "mirror-broken");
    assert_eq!(events[0]["mirror"], "web");
    assert_eq!(events[0]["destination"], "mon0");
    assert_eq!(find_mirror(&lab.show(), "web")["health"], "broken");

    // ... and comes back (a new device of the same name): the copies are aimed at it again.
    veth(&lab.lab, "mon0", &lab.far, "mon0p");
    lab.sockets.remove("mon0p");
    let events = watch_once(&lab);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "mirror-repaired");
    assert_eq!(
        events[0]["what"],
        "destination mon0 is back: 4 copy filter(s) aimed at it again"
    );
    assert_eq!(find_mirror(&lab.show(), "web")["health"], "ok");
    lab.drain("mon0p");
    let frames = catalogue(0xe0);
    for f in &frames {
        lab.send_in("eth1", f);
    }
    assert_exactly(&lab.collect("mon0p"), &frames, "mon0p after the repair");

    // A source goes and comes back: its filters are added again.
    lab.lab.ip("link del dev eth2");
    assert_eq!(find_mirror(&lab.show(), "web")["health"], "degraded");
    veth(&lab.lab, "eth2", &lab.far, "eth2p");
    lab.sockets.remove("eth2p");
    let events = watch_once(&lab);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["what"],
        "source eth2 is back: copying its frames again"
    );
    let show = lab.show();
    assert_eq!(find_mirror(&show, "web")["health"], "ok");
    assert_eq!(hook(&show, "web", "eth2", "out")["packets"], 0);
    lab.drain("mon0p");
    lab.send_in("eth2", &frames[0]);
    assert_exactly(
        &lab.collect("mon0p"),
        &frames[..1],
        "mon0p from the new eth2",
    );

    // An RSPAN mirror's destination re-created: re-aimed, and the tag is still popped from
    // the originals.
    lab.lab.ip("link del dev mon1");
    veth(&lab.lab, "mon1", &lab.far, "mon1p");
    lab.sockets.remove("mon1p");
    let events = watch_once(&lab);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["mirror"], "r");
    lab.drain("mon1p");
    lab.drain("eth1p");
    let f = frame(&[], 0xe9, 60);
    lab.send_out("eth1", &f);
    let tagged = [&f[..12], &[0x81, 0x00, 0x00, 0x07], &f[12..]].concat();
    assert_exactly(
        &lab.collect("mon1p"),
        &[tagged],
        "mon1p (RSPAN after repair)",
    );
    assert_exactly(&lab.collect("eth1p"), &[f], "eth1p (original untagged)");
    assert!(watch_once(&lab).is_empty(), "nothing left to do");
}

#[test]
fn a_mirror_of_both_wire_ends_copies_out_again_when_the_wire_goes() {
    let mut lab = Lab::new(&["a", "b", "mon0"]);
    lab.lab.patchwire(&["link", "a", "b"]).ok();
    lab.mirror("add web --from a,b --to mon0").ok();
    assert_eq!(find_mirror(&lab.show(), "web")["health"], "ok");

    // The wire removed behind patchwire's back (another tool, an older unlink): frames sent out
    // of a and b are no longer copied, and show says so with the fix.
    for end in ["a", "b"] {
        lab.lab
            .tc(&format!("filter del dev {end} ingress pref 20567"));
    }
    let show = lab.show();
    let web = find_mirror(&show, "web");
    assert_eq!(web["health"], "degraded");
    let fix = format!("patchwire -n {} watch --once", lab.lab.name);
    assert_eq!(
        web["problems"],
        serde_json::json!([
            format!(
                "a out is not copied: frames leaving a are missed (a wire from another source used \
                 to carry them and is gone). Fix: {fix} (adds the copy)"
            ),
            format!(
                "b out is not copied: frames leaving b are missed (a wire from another source used \
                 to carry them and is gone). Fix: {fix} (adds the copy)"
            ),
        ])
    );
    let events = watch_once(&lab);
    let what: Vec<&str> = events.iter().map(|e| e["what"].as_str().unwrap()).collect();
    assert_eq!(
        what,
        [
            "a out is copied again: no wire from another source of the mirror carries the frames \
             leaving it any more",
            "b out is copied again: no wire from another source of the mirror carries the frames \
             leaving it any more",
        ]
    );
    assert_eq!(find_mirror(&lab.show(), "web")["health"], "ok");
    lab.drain("mon0p");
    let out = catalogue(0x30);
    for f in &out {
        lab.send_out("a", f);
    }
    assert_exactly(&lab.collect("mon0p"), &out, "mon0p (a out after repair)");

    // The wire again, made by the library (which, below mirrors, leaves them alone), or an
    // older `link`: the out copies are now redundant (each frame would arrive twice).
    let netns = patchwire::netns::Netns::open(Some(&lab.lab.name)).unwrap();
    patchwire::wire::link(
        netns,
        &[patchwire::wire::WireRequest::new("a", "b")],
        &patchwire::wire::LinkOptions::default(),
    )
    .unwrap();
    let web = find_mirror(&lab.show(), "web").clone();
    assert_eq!(web["health"], "degraded", "{web}");
    assert_eq!(
        web["problems"][0],
        format!(
            "a out is copied twice: every frame leaving a entered b first (wire b -> a) and was \
             copied there already. Fix: {fix} (removes the second copy)"
        )
    );
    assert_eq!(watch_once(&lab).len(), 2);
    assert_eq!(find_mirror(&lab.show(), "web")["health"], "ok");
    // `link` itself removes them when it makes the wire (issue 18).
    for end in ["a", "b"] {
        lab.lab
            .tc(&format!("filter del dev {end} ingress pref 20567"));
    }
    assert_eq!(watch_once(&lab).len(), 2, "out copies back");
    let run = lab.lab.patchwire(&["link", "a", "b"]);
    assert_eq!(
        run.ok().stdout,
        "wired: a <-> b\n\
         mirror web: a out is no longer copied: every frame leaving it entered b first (wire b \
         -> a), copied there already\n\
         mirror web: b out is no longer copied: every frame leaving it entered a first (wire a \
         -> b), copied there already\n"
    );
    assert_eq!(find_mirror(&lab.show(), "web")["health"], "ok");
    assert!(watch_once(&lab).is_empty(), "link left nothing to repair");
    lab.drain("mon0p");
    let across = catalogue(0x40);
    for f in &across {
        lab.send_in("a", f);
    }
    assert_exactly(
        &lab.collect("mon0p"),
        &across,
        "mon0p (through the wire, once)",
    );

    // unlink itself completes the mirror: every frame leaving a or b is copied once.
    let run = lab.lab.patchwire(&["unlink", "a"]);
    run.ok();
    assert_eq!(
        run.stdout,
        "unwired: a <-> b\n\
         mirror web: a out is copied again: no wire from another source of the mirror carries the \
         frames leaving it any more\n\
         mirror web: b out is copied again: no wire from another source of the mirror carries the \
         frames leaving it any more\n"
    );
    let show = lab.show();
    assert_eq!(find_mirror(&show, "web")["health"], "ok");
    assert_eq!(find_mirror(&show, "web")["problems"], serde_json::json!([]));
    lab.drain("mon0p");
    let (from_a, from_b) = (catalogue(0x50), catalogue(0x60));
    for f in &from_a {
        lab.send_out("a", f);
    }
    for f in &from_b {
        lab.send_out("b", f);
    }
    let all: Vec<Vec<u8>> = from_a.iter().chain(&from_b).cloned().collect();
    assert_exactly(&lab.collect("mon0p"), &all, "mon0p (out after unlink)");
    assert!(watch_once(&lab).is_empty(), "nothing left to do");
}

/// An RSPAN mirror's own tag-removal filters (direct-action programs named `pw-mirror NAME
/// role=pop`, on both hooks of the source) are patchwire's, not "a foreign bpf filter": the
/// wire they sit on stays ok. Another tool's filter there is still reported.
#[test]
fn an_rspan_mirror_on_a_wire_end_leaves_the_wire_ok() {
    let lab = Lab::new(&["a", "b", "mon0", "mon1"]);
    lab.lab.patchwire(&["link", "a", "b"]).ok();
    lab.mirror("add r --from a --to mon1 --output-vlan 7").ok();
    let pops = [
        lab.lab.tc("filter show dev a ingress"),
        lab.lab.tc("filter show dev a egress"),
    ];
    for hook in &pops {
        assert!(hook.contains("pw-mirror r role=pop"), "{hook}");
    }
    let wires = lab.lab.patchwire(&["-j", "show"]).json();
    assert_eq!(wires[0]["health"], "ok", "{wires}");
    assert_eq!(wires[0]["problems"], serde_json::json!([]), "{wires}");
    let text = lab.lab.patchwire(&["show"]);
    assert_eq!(
        text.ok().stdout,
        "WIRE     HEALTH    MTU\na <-> b  ok        1500\n"
    );

    // A foreign filter that can take the wire's frames is still named.
    lab.lab.tc(
        "filter add dev b egress pref 100 protocol all u32 match u32 0 0 action mirred egress \
         redirect dev mon0",
    );
    let wires = lab.lab.patchwire(&["-j", "show"]).json();
    assert_eq!(wires[0]["health"], "degraded", "{wires}");
    let problems = wires[0]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{wires}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with("a foreign u32 filter at priority 100"),
        "{wires}"
    );
}

// Issue 18: every command writes its notes alike — `note: …` on stderr, as `warning: …` —
// and `mirror add` names the mirror in them.
#[test]
fn mirror_add_writes_its_notes_as_every_command_does() {
    let lab = Lab::new(&["a", "b", "mon0"]);
    lab.lab.patchwire(&["link", "a", "b"]).ok();
    let added = lab.mirror("add m --from a,b --to mon0");
    added.ok();
    assert_eq!(added.stdout, "mirror m: a (in), b (in) -> mon0\n");
    assert_eq!(
        added.stderr,
        "note: mirror m: a out is not copied: every frame leaving a entered b first (wire b -> \
         a), and b in is copied already, so mon0 would get it twice\n\
         note: mirror m: b out is not copied: every frame leaving b entered a first (wire a -> \
         b), and a in is copied already, so mon0 would get it twice\n"
    );
}

//! Wires against the real kernel: transparency (with a Linux bridge as the negative control),
//! exact counters, idempotence, broken and degraded wires, end kinds, a 1,000-wire batch, and
//! the demo. Every test builds its own namespaces (removed on drop, also on panic).

mod common;

use std::time::{Duration, Instant};

use common::*;
use patchwire::link::tap::{self, TapOptions};
use patchwire::packet::PacketSocket as Port;
use patchwire::probe::catalogue::FrameKind;
use patchwire::probe::{self, Verdict};

/// r1 and r2 joined through `lab`: x1 <-> l1 ==wire== l2 <-> x2 and x3 <-> l3 ==br0== l4 <-> x4.
struct Lab {
    r1: TestNs,
    r2: TestNs,
    lab: TestNs,
}

impl Lab {
    fn new(mtu: u32) -> Lab {
        let (r1, r2, lab) = (TestNs::new(), TestNs::new(), TestNs::new());
        veth(&r1, "x1", &lab, "l1");
        veth(&r2, "x2", &lab, "l2");
        veth(&r1, "x3", &lab, "l3");
        veth(&r2, "x4", &lab, "l4");
        for (ns, dev) in [
            (&r1, "x1"),
            (&r1, "x3"),
            (&r2, "x2"),
            (&r2, "x4"),
            (&lab, "l3"),
            (&lab, "l4"),
        ] {
            ns.ip(&format!("link set dev {dev} mtu {mtu}"));
        }
        lab.ip("link add br0 type bridge");
        lab.ip("link set l3 master br0");
        lab.ip("link set l4 master br0");
        lab.ip(&format!("link set br0 mtu {mtu}"));
        lab.ip("link set br0 up");
        Lab { r1, r2, lab }
    }

    fn port(ns: &TestNs, dev: &str) -> Port {
        probe::packet_port(&ns.netns(), ifindex(ns, dev), dev).unwrap()
    }
}

#[test]
fn every_frame_crosses_a_wire_unchanged_while_a_bridge_eats_reserved_ones() {
    let lab = Lab::new(9000);
    lab.lab
        .patchwire(&["link", "l1", "l2", "--mtu", "9000"])
        .ok();

    // The product's own probe, through the CLI: it finds both veth peers in r1 and r2.
    let run = lab.lab.patchwire(&["-j", "probe", "l1"]);
    run.ok();
    let report = run.json();
    assert_eq!(report["passed"], true, "{}", run.stdout);
    assert_eq!(report["report"]["mtu"], 9000);
    for direction in report["report"]["directions"].as_array().unwrap() {
        let results = direction["results"].as_array().unwrap();
        assert_eq!(results.len(), FrameKind::ALL.len());
        assert!(results.iter().all(|r| r["verdict"] == "ok"), "{direction}");
        let jumbo = results.iter().find(|r| r["kind"] == "jumbo").unwrap();
        assert_eq!(jumbo["bytes"], 9014);
    }

    // Negative control: the same catalogue through a Linux bridge must lose the reserved-MAC
    // kinds — proof that the check can fail — and pass the rest.
    let (tx, rx) = (Lab::port(&lab.r1, "x3"), Lab::port(&lab.r2, "x4"));
    let bridge = probe::run_direction(&tx, &rx, 9000, "x3", "x4").unwrap();
    let lost: Vec<FrameKind> = bridge
        .results
        .iter()
        .filter(|r| r.verdict == Verdict::Lost)
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        lost,
        vec![
            FrameKind::Lacp,
            FrameKind::Lldp,
            FrameKind::Pause,
            FrameKind::Eapol,
            FrameKind::ReservedMac
        ],
        "the bridge should eat exactly the link-local kinds (STP passes with STP off)"
    );

    // And the wire, through the same library path as the control, passes all of them.
    let (tx, rx) = (Lab::port(&lab.r1, "x1"), Lab::port(&lab.r2, "x2"));
    let wire = probe::run_direction(&tx, &rx, 9000, "x1", "x2").unwrap();
    assert!(wire.passed(), "{wire:?}");
}

#[test]
fn counters_move_by_exactly_what_was_sent() {
    let lab = Lab::new(1500);
    lab.lab.patchwire(&["link", "l1", "l2"]).ok();
    let before = lab.lab.patchwire(&["-j", "show"]).json();

    const FRAMES: u64 = 40;
    const LEN: usize = 100;
    let tx = ifindex(&lab.r1, "x1");
    let rx = ifindex(&lab.r2, "x2");
    let receiver = lab
        .r2
        .netns()
        .run(move || Port::open(rx.0))
        .unwrap()
        .unwrap();
    let mut frame = vec![0u8; LEN];
    frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    let sent = frame.clone();
    lab.r1
        .netns()
        .run(move || {
            let socket = Port::open(tx.0).unwrap();
            for _ in 0..FRAMES {
                socket.send(&sent).unwrap();
            }
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut arrived = 0;
    while let Some(got) = receiver.recv_until(deadline).unwrap() {
        if got == frame {
            arrived += 1;
            if arrived == FRAMES {
                break;
            }
        }
    }
    assert_eq!(arrived, FRAMES, "every frame crosses the wire once");

    let after = lab.lab.patchwire(&["-j", "show"]).json();
    let delta = |dir: &str, field: &str| {
        after[0][dir][field].as_u64().unwrap() - before[0][dir][field].as_u64().unwrap()
    };
    assert_eq!(delta("a_to_b", "packets"), FRAMES);
    // Frame bytes: tc counts from the network header at ingress; show adds the header back.
    assert_eq!(delta("a_to_b", "bytes"), FRAMES * LEN as u64);
    assert_eq!(delta("a_to_b", "drops"), 0);
    assert_eq!(delta("b_to_a", "packets"), 0, "nothing went the other way");
}

#[test]
fn linking_twice_leaves_exactly_one_wire() {
    let ns = TestNs::new();
    let far = TestNs::new();
    veth(&ns, "a", &far, "pa");
    veth(&ns, "b", &far, "pb");
    assert_eq!(
        ns.patchwire(&["link", "a", "b"]).ok().stdout,
        "wired: a <-> b\n"
    );
    let once = ns.snapshot();
    // The snapshot sees the wire (so the equality below could fail): both ends' clsact and
    // their redirects, each to the other end.
    for dev in ["a", "b"] {
        let clsact = format!("{{\"dev\":\"{dev}\",\"handle\":\"ffff:\",\"kind\":\"clsact\"");
        assert!(once.contains(&clsact), "{once}");
        assert!(once.contains(&format!("\"to_dev\":\"{dev}\"")), "{once}");
    }
    assert_eq!(
        ns.patchwire(&["link", "a", "b"]).ok().stdout,
        "already wired: a <-> b\n"
    );
    assert_eq!(
        ns.patchwire(&["link", "b", "a"]).ok().stdout,
        "already wired: b <-> a\n"
    );
    assert_eq!(
        ns.snapshot(),
        once,
        "a second link changes nothing in the kernel"
    );
    assert_eq!((ns.wire_filters("a"), ns.wire_filters("b")), (1, 1));

    // Asking again with an MTU updates the MTU and still keeps one filter per end.
    let updated = ns.patchwire(&["link", "a", "b", "--mtu", "9000"]);
    assert_eq!(updated.ok().stdout, "updated: a <-> b\n");
    assert!(
        ns.ip("link show dev a").contains("mtu 9000")
            && ns.ip("link show dev b").contains("mtu 9000")
    );
    assert_eq!((ns.wire_filters("a"), ns.wire_filters("b")), (1, 1));

    // A half-removed wire is repaired by linking again.
    ns.tc("filter del dev b ingress pref 20567");
    let show = ns.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "degraded");
    assert!(
        show[0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("b -> a is missing")
    );
    ns.patchwire(&["link", "a", "b"]).ok();
    assert_eq!((ns.wire_filters("a"), ns.wire_filters("b")), (1, 1));
    assert_eq!(ns.patchwire(&["-j", "show"]).json()[0]["health"], "ok");
}

#[test]
fn a_deleted_or_moved_end_shows_as_broken_and_unlink_clears_the_remains() {
    let ns = TestNs::new();
    let far = TestNs::new();
    let elsewhere = TestNs::new();
    veth(&ns, "a", &far, "pa");
    veth(&ns, "b", &far, "pb");
    veth(&ns, "c", &far, "pc");
    veth(&ns, "d", &far, "pd");
    ns.patchwire(&["link", "a", "b"]).ok();
    ns.patchwire(&["link", "c", "d"]).ok();

    ns.ip("link del dev b");
    ns.ip(&format!("link set dev d netns {}", elsewhere.name));
    let show = ns.patchwire(&["-j", "show"]).json();
    let wires = show.as_array().unwrap();
    assert_eq!(wires.len(), 2);
    for (wire, gone, survivor) in [(&wires[0], "b", "a"), (&wires[1], "d", "c")] {
        assert_eq!(wire["health"], "broken");
        assert_eq!(wire["a"]["name"], survivor);
        assert_eq!(
            wire["b"]["name"], gone,
            "the gone end is named (from the action cookie)"
        );
        assert_eq!(wire["b"]["present"], false);
        let problem = wire["problems"][0].as_str().unwrap();
        assert!(
            problem.starts_with(&format!(
                "{gone} is gone (deleted, or moved to another netns)"
            )),
            "{problem}"
        );
    }
    let text = ns.patchwire(&["show"]).ok().stdout.clone();
    assert!(
        text.contains("a <-> b") && text.contains("broken"),
        "{text}"
    );

    // mirred really drops everything now: frames into a are counted as drops.
    let probe = ns.patchwire(&["probe", "a"]);
    assert_eq!(probe.code, 1);
    assert!(
        probe.stderr.contains("is broken (b is gone)"),
        "{}",
        probe.stderr
    );

    ns.patchwire(&["unlink", "a"]).ok();
    ns.patchwire(&["unlink", "c"]).ok();
    assert_eq!((ns.wire_filters("a"), ns.wire_filters("c")), (0, 0));
    assert!(
        !ns.has_clsact("a") && !ns.has_clsact("c"),
        "patchwire's qdiscs go with the last wire"
    );
    assert_eq!(ns.patchwire(&["show"]).ok().stdout, "no wires\n");
}

#[test]
fn ends_that_are_down_or_unattached_taps_are_reported() {
    let ns = TestNs::new();
    let far = TestNs::new();
    veth(&ns, "a", &far, "pa");
    ns.netns()
        .run(|| tap::create_persistent("tap1", &TapOptions::default()))
        .unwrap()
        .unwrap();
    ns.ip("link set dev tap1 up");
    let run = ns.patchwire(&["link", "a", "tap1"]);
    run.ok();
    assert!(
        run.stderr
            .contains("warning: tap1: has no carrier: no process holds the tap"),
        "{}",
        run.stderr
    );

    let show = ns.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "degraded");
    assert_eq!(show[0]["b"]["carrier"], false);
    assert!(
        show[0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("tap1 has no carrier")
    );

    // The probe attaches to the unattached tap and checks both directions through it.
    let probe = ns.patchwire(&["-j", "probe", "tap1"]);
    assert_eq!(probe.json()["passed"], true, "{}", probe.stdout);

    // A veth end whose peer is down has no carrier either.
    far.ip("link set dev pa down");
    let show = ns.patchwire(&["-j", "show"]).json();
    let problems = show[0]["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p
            .as_str()
            .unwrap()
            .contains("a has no carrier: its veth peer is down")),
        "{show}"
    );
}

#[test]
fn vxlan_and_macvlan_ends_can_be_wired() {
    let ns = TestNs::new();
    let far = TestNs::new();
    veth(&ns, "under", &far, "punder");
    ns.ip("addr add 198.18.5.1/24 dev under");
    ns.ip("link add vx100 type vxlan id 100 dstport 4789 remote 198.18.5.2 local 198.18.5.1 dev under");
    ns.ip("link add mv0 link under type macvlan mode bridge");
    ns.ip("link set vx100 up");
    ns.ip("link set mv0 up");
    ns.patchwire(&["link", "vx100", "mv0", "--mtu", "1450"])
        .ok();
    let show = ns.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["a"]["kind"], "vxlan");
    assert_eq!(show[0]["b"]["kind"], "macvlan");
    assert_eq!(
        (show[0]["a"]["mtu"].as_u64(), show[0]["b"]["mtu"].as_u64()),
        (Some(1450), Some(1450))
    );
    // Frames cannot be injected into a vxlan end from outside: the probe says so.
    let probe = ns.patchwire(&["probe", "vx100"]);
    assert_eq!(probe.code, 1);
    assert!(
        probe
            .stderr
            .contains("probe can inject frames only through veth and tap ends"),
        "{}",
        probe.stderr
    );
    ns.patchwire(&["unlink", "mv0"]).ok();
    assert!(!ns.has_clsact("vx100") && !ns.has_clsact("mv0"));
}

#[test]
fn a_batch_of_1000_wires_applies_and_removes_cleanly() {
    let ns = TestNs::new();
    let names: Vec<String> = (0..2000).map(|i| format!("t{i}")).collect();
    let create = names.clone();
    ns.netns()
        .run(move || {
            for name in &create {
                tap::create_persistent(name, &TapOptions::default()).unwrap();
            }
        })
        .unwrap();
    let before = ns.tc("qdisc show");
    let batch: String = (0..1000)
        .map(|k| format!("t{} t{}\n", 2 * k, 2 * k + 1))
        .collect();
    let file = std::env::temp_dir().join(format!("{}-batch.txt", ns.name));
    std::fs::write(&file, batch).unwrap();

    let run = ns.patchwire(&["link", "--batch", file.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stdout
            .starts_with("wired 1000 new, 0 updated, 0 already present (4000 kernel changes"),
        "{}",
        run.stdout
    );
    assert_eq!(ns.tc("qdisc show").matches("qdisc clsact").count(), 2000);
    let show = ns.patchwire(&["-j", "show"]).json();
    let wires = show.as_array().unwrap();
    assert_eq!(wires.len(), 1000);
    assert!(
        wires
            .iter()
            .all(|w| w["a_to_b"].is_object() && w["b_to_a"].is_object())
    );
    assert_eq!(wires[999]["a"]["name"], "t1998");
    assert_eq!(wires[999]["b"]["name"], "t1999");
    assert_eq!((ns.wire_filters("t0"), ns.wire_filters("t1999")), (1, 1));

    // The same batch again is a no-op.
    let again = ns.patchwire(&["link", "--batch", file.to_str().unwrap()]);
    assert!(
        again
            .ok()
            .stdout
            .starts_with("wired 0 new, 0 updated, 1000 already present (0 kernel changes"),
        "{}",
        again.stdout
    );

    let run = ns.patchwire(&["unlink", "--all"]);
    assert_eq!(run.ok().stdout, "unwired 1000 wires\n");
    assert_eq!(
        ns.tc("qdisc show"),
        before,
        "no qdisc of patchwire's is left"
    );
    assert_eq!(ns.patchwire(&["show"]).ok().stdout, "no wires\n");
    std::fs::remove_file(file).unwrap();
}

#[test]
fn demo_shows_the_bridge_losing_what_the_wire_passes_and_leaves_nothing() {
    require_root();
    // Other tools may create namespaces meanwhile: check that none of the demo's appears.
    let demo_named = || -> bool {
        run("ip", &["netns", "list"])
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .any(|n| ["lab", "r1", "r2"].contains(&n))
    };
    let named_before = demo_named();
    let links = run("ip", &["-o", "link", "show"]).lines().count();
    let demo = patchwire(&["-j", "demo"]);
    demo.ok();
    let report = demo.json();
    for direction in report["wire"].as_array().unwrap() {
        assert!(
            direction["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["verdict"] == "ok"),
            "{direction}"
        );
    }
    for direction in report["bridge"].as_array().unwrap() {
        let lost: Vec<&str> = direction["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["verdict"] == "lost")
            .map(|r| r["kind"].as_str().unwrap())
            .collect();
        assert_eq!(lost, ["lacp", "lldp", "pause", "eapol", "reserved-mac"]);
    }
    assert_eq!(report["wire_status"][0]["health"], "ok");
    // The demo's mirror of r1-w: every probe frame crossing the wire (13 kinds each way) is
    // copied once and arrives at the analyzer; IPv6 is off, so nothing else is counted.
    let crossing = report["wire_status"][0]["a_to_b"]["packets"]
        .as_u64()
        .unwrap()
        + report["wire_status"][0]["b_to_a"]["packets"]
            .as_u64()
            .unwrap();
    assert_eq!(crossing, 26);
    assert_eq!(report["mirror"]["health"], "ok");
    assert_eq!(report["mirror"]["packets"], 26);
    assert_eq!(report["analyzer_frames"], 26);
    assert_eq!(demo_named(), named_before, "the demo names no namespace");
    assert_eq!(
        run("ip", &["-o", "link", "show"]).lines().count(),
        links,
        "no interface leaks into this namespace"
    );
}

#[test]
fn probe_reports_a_frame_kind_that_does_not_cross_and_exits_3() {
    let lab = Lab::new(1500);
    lab.lab.patchwire(&["link", "l1", "l2"]).ok();
    // Another tool's filter, evaluated before patchwire's (lower pref), steals LACP frames
    // arriving at l1 and sends them to l3 instead: the wire l1 -> l2 loses exactly LACP.
    lab.lab.tc("filter add dev l1 ingress pref 10 protocol 0x8809 u32 match u32 0 0 action mirred egress redirect dev l3");
    let run = lab.lab.patchwire(&["-j", "probe", "l1"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["passed"], false);
    let forward = &report["report"]["directions"][0]["results"];
    let failed: Vec<&str> = forward
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] != "ok")
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["lacp"]);
    let backward = &report["report"]["directions"][1]["results"];
    assert!(
        backward
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verdict"] == "ok")
    );
    let text = lab.lab.patchwire(&["probe", "l1"]);
    assert_eq!(text.code, 3);
    assert!(
        text.stdout.contains("FAIL: 25/26 frames arrived unchanged"),
        "{}",
        text.stdout
    );
}

#[test]
fn show_flags_ends_with_different_mtus() {
    let ns = TestNs::new();
    let far = TestNs::new();
    veth(&ns, "a", &far, "pa");
    veth(&ns, "b", &far, "pb");
    ns.ip("link set dev b mtu 9000");
    let run = ns.patchwire(&["link", "a", "b"]);
    assert!(
        run.ok()
            .stderr
            .contains("warning: mtu differs: a has 1500 but b has 9000"),
        "{}",
        run.stderr
    );
    let show = ns.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "degraded");
    assert!(
        show[0]["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("mtu differs: a has 1500 but b has 9000"),
        "{show}"
    );
    assert!(
        ns.patchwire(&["show"])
            .ok()
            .stdout
            .contains("a <-> b  degraded  1500/9000")
    );
    ns.patchwire(&["link", "a", "b", "--mtu", "9000"]).ok();
    assert_eq!(ns.patchwire(&["-j", "show"]).json()[0]["health"], "ok");
}

#[test]
fn an_interrupted_demo_leaves_nothing_behind() {
    require_root();
    let links = run("ip", &["-o", "link", "show"]).lines().count();
    // Through `env --default-signal=INT`: a test run started in the background of a
    // non-interactive shell inherits SIGINT ignored, and so would the demo (which keeps the
    // disposition it was given, as every program should).
    let mut child = std::process::Command::new("env")
        .args(["--default-signal=INT", common::bin(), "demo"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert!(!status.success(), "the demo was interrupted, not finished");
    assert_eq!(run("ip", &["-o", "link", "show"]).lines().count(), links);
}

#[test]
fn unlink_of_an_unwired_end_is_a_note_not_an_error() {
    let ns = TestNs::new();
    for name in ["a", "b", "c"] {
        veth(&ns, name, &ns, &format!("{name}p"));
    }
    ns.patchwire(&["link", "a", "b"]).ok();
    let before = ns.snapshot();

    // Already unwired: exit 0, a note on stderr, nothing changed (like `link` of a wire that
    // exists, or `down` of a lab that is down).
    let run = ns.patchwire(&["unlink", "c"]);
    run.ok();
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "note: c is not on a patchwire wire in netns {}: nothing to remove\n",
            ns.name
        )
    );
    assert_eq!(ns.snapshot(), before);
    let run = ns.patchwire(&["-j", "unlink", "c"]);
    run.ok();
    let json = run.json();
    assert_eq!(json["not_wired"], serde_json::json!(["c"]));
    assert_eq!(json["removed"], serde_json::json!([]));

    // Mixed with a wired end: the wire goes, the note stays.
    let run = ns.patchwire(&["unlink", "a", "c"]);
    run.ok();
    assert_eq!(run.stdout, "unwired: a <-> b\n");
    assert_eq!(
        run.stderr,
        format!(
            "note: c is not on a patchwire wire in netns {}: nothing to remove\n",
            ns.name
        )
    );
    assert_eq!(ns.wire_filters("a") + ns.wire_filters("b"), 0);
    // Twice: idempotent.
    ns.patchwire(&["unlink", "a"]).ok();

    // A name that does not exist is still an error naming it, and nothing changes.
    let before = ns.snapshot();
    ns.patchwire(&["unlink", "c", "nothere"])
        .fails_with(&format!(
            "interface nothere does not exist in netns {}",
            ns.name
        ));
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn unlink_releases_the_hold_watch_put_on_an_end() {
    let ns = TestNs::new();
    for name in ["a", "b"] {
        veth(&ns, name, &ns, &format!("{name}p"));
    }
    ns.ip("link set dev b alias uplink-to-r2");
    ns.patchwire(&["link", "a", "b"]).ok();
    // a's far side goes down: watch holds b down, keeping the user's alias after its own.
    ns.ip("link set dev ap down");
    let run = ns.patchwire(&["watch", "--once"]);
    run.ok();
    let b = ns.ip("-o link show dev b");
    assert!(
        b.contains(
            "alias patchwire held down: far end a is down or gone | alias was: uplink-to-r2"
        ) && !b.contains(",UP"),
        "{b}"
    );

    // Unlinking the wire ends the hold: b is up again with its own alias.
    let run = ns.patchwire(&["-j", "unlink", "a"]);
    run.ok();
    assert_eq!(run.json()["released"], serde_json::json!(["b"]));
    let b = ns.ip("-o link show dev b");
    assert!(b.contains(",UP") && b.contains("alias uplink-to-r2"), "{b}");
    assert!(!b.contains("held down"), "{b}");
    settle(&ns, "b");

    // The text form says so; an unwired end that is still held is released too.
    ns.patchwire(&["link", "a", "b"]).ok();
    ns.patchwire(&["watch", "--once"]).ok();
    ns.tc("filter del dev a ingress pref 20567");
    ns.tc("filter del dev b ingress pref 20567");
    let run = ns.patchwire(&["unlink", "b"]);
    run.ok();
    assert_eq!(
        run.stdout,
        "released: b (watch had held it down) is up again\n"
    );
    let b = ns.ip("-o link show dev b");
    assert!(b.contains(",UP") && b.contains("alias uplink-to-r2"), "{b}");
}

//! Hubs against the real kernel: the probe catalogue from every member reaches every other
//! member exactly once and never comes back (hubs of 3, 5 and 40 members), exact counters,
//! members joining and leaving in place while frames flow, a gone member, removal that leaves
//! the namespace as it was, refusals, and `watch` leaving hubs alone. Members live in a middle
//! namespace `lab`; their veth peers (the "far sides") in router namespaces.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use patchwire::hub::{self, HubOptions, HubRequest, SetState};
use patchwire::probe::catalogue::FrameKind;
use patchwire::probe::{self, Verdict};
use patchwire::wire::{Fault, Health, WireError};

/// Members m1..mN in `lab`, the veth peers of x1..xN spread over router namespaces.
struct Segment {
    lab: TestNs,
    routers: Vec<TestNs>,
    /// Which router namespace holds xI (index I-1).
    router_of: Vec<usize>,
}

impl Segment {
    /// `n` members, `per_router` far sides per router namespace.
    fn new(n: usize, per_router: usize) -> Segment {
        Segment::within(TestNs::new(), n, per_router)
    }

    fn within(lab: TestNs, n: usize, per_router: usize) -> Segment {
        let routers: Vec<TestNs> = (0..n.div_ceil(per_router)).map(|_| TestNs::new()).collect();
        let router_of: Vec<usize> = (0..n).map(|i| i / per_router).collect();
        for i in 1..=n {
            veth(
                &lab,
                &format!("m{i}"),
                &routers[router_of[i - 1]],
                &format!("x{i}"),
            );
        }
        Segment {
            lab,
            routers,
            router_of,
        }
    }

    fn far(&self, i: usize) -> (&TestNs, String) {
        (&self.routers[self.router_of[i - 1]], format!("x{i}"))
    }

    /// A packet socket on member `i`'s far side.
    fn port(&self, i: usize) -> patchwire::packet::PacketSocket {
        let (ns, dev) = self.far(i);
        packet_socket(ns, &dev)
    }

    fn set(&self, hubs: &[(&str, &[&str])]) -> Result<hub::HubOutcome, WireError> {
        let requests: Vec<HubRequest> = hubs
            .iter()
            .map(|(name, members)| HubRequest::new(name, members))
            .collect();
        hub::set(self.lab.netns(), &requests, &HubOptions::default())
    }

    fn show(&self) -> Vec<hub::HubStatus> {
        hub::show(self.lab.netns()).unwrap()
    }
}

fn members(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("m{i}")).collect()
}

fn refs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

/// A 100-byte frame of the local experimental ethertype with `seq` in it.
fn frame(seq: u32) -> Vec<u8> {
    let mut frame = vec![0u8; 100];
    frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    frame[14..18].copy_from_slice(b"HUB!");
    frame[18..22].copy_from_slice(&seq.to_be_bytes());
    frame
}

fn seq_of(bytes: &[u8]) -> Option<u32> {
    (bytes.len() == 100 && &bytes[14..18] == b"HUB!")
        .then(|| u32::from_be_bytes(bytes[18..22].try_into().unwrap()))
}

/// Every frame of ours queued on `port` until `deadline` (or until `want` arrived and a short
/// tail found nothing more), as sequence numbers.
fn collect(port: &patchwire::packet::PacketSocket, want: usize, deadline: Instant) -> Vec<u32> {
    let mut got = Vec::new();
    while got.len() < want {
        match port.recv_until(deadline).unwrap() {
            Some(bytes) => got.extend(seq_of(&bytes)),
            None => break,
        }
    }
    let tail = Instant::now() + Duration::from_millis(50);
    while let Some(bytes) = port.recv_until(tail).unwrap() {
        got.extend(seq_of(&bytes));
    }
    got
}

/// The u32 rules on an interface's ingress hook, as tc shows them: (pref, fh).
fn rules(ns: &TestNs, dev: &str) -> Vec<(u16, String)> {
    ns.tc(&format!("filter show dev {dev} ingress"))
        .lines()
        .filter(|l| l.contains(" fh ") && l.contains("::"))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = |key: &str| words[words.iter().position(|w| *w == key).unwrap() + 1];
            (at("pref").parse().unwrap(), at("fh").to_string())
        })
        .collect()
}

fn assert_probe_passes(report: &probe::HubProbeReport, n: usize) {
    assert_eq!(report.members.len(), n);
    assert_eq!(report.directions.len(), n * (n - 1), "every ordered pair");
    for direction in &report.directions {
        assert_eq!(direction.results.len(), FrameKind::ALL.len());
        for result in &direction.results {
            assert_eq!(
                result.verdict,
                Verdict::Ok,
                "{} -> {}: {:?} {:?}",
                direction.from,
                direction.to,
                result.kind,
                result.detail
            );
        }
    }
    assert!(
        report.returned.iter().all(|r| r.frames == 0),
        "{:?}",
        report.returned
    );
    assert!(report.passed());
}

#[test]
fn a_hub_of_three_passes_every_frame_from_each_member_to_each_other_once() {
    let seg = Segment::new(3, 1);
    let before = seg.lab.snapshot();
    let outcome = seg.set(&[("seg", &["m1", "m2", "m3"])]).unwrap();
    assert_eq!(outcome.hubs[0].state, SetState::Created);
    assert_eq!(outcome.hubs[0].joined, ["m1", "m2", "m3"]);

    // The kernel encoding, read by iproute2: one u32 rule at 20567, a copy (pipe) to one other
    // member and the redirect (stolen) to the last, cookies ba + the target's name.
    let text = seg.lab.tc("filter show dev m1 ingress");
    assert_eq!(rules(&seg.lab, "m1"), [(20567, "800::800".to_string())]);
    assert!(
        text.contains("mirred (Egress Mirror to device m2) pipe"),
        "{text}"
    );
    assert!(
        text.contains("mirred (Egress Redirect to device m3) stolen"),
        "{text}"
    );
    assert!(text.contains("cookie ba6d32"), "{text}"); // "m2"
    let m1 = ifindex(&seg.lab, "m1");
    assert!(
        seg.lab
            .ip("-d link show dev m1")
            .contains(&format!("altname patchwire.hub.seg.{m1}"))
    );

    // The product's probe, library and CLI.
    let report = probe::probe_hub(seg.lab.netns(), "m2").unwrap();
    assert_eq!(report.hub, "seg");
    assert_probe_passes(&report, 3);
    let run = seg.lab.patchwire(&["-j", "probe", "m3"]);
    run.ok();
    assert_eq!(run.json()["passed"], true, "{}", run.stdout);
    let text = seg.lab.patchwire(&["probe", "m1"]).ok().stdout.clone();
    assert!(
        text.contains("PASS: 78/78 frames arrived unchanged, exactly once; none came back"),
        "{text}"
    );

    // Idempotent: asking again changes nothing.
    let once = seg.lab.snapshot();
    let again = seg.set(&[("seg", &["m3", "m1", "m2"])]).unwrap();
    assert_eq!(again.hubs[0].state, SetState::Unchanged);
    assert_eq!(again.changes, 0);
    assert_eq!(seg.lab.snapshot(), once);

    let status = seg.show();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].health, Health::Ok, "{:?}", status[0].problems);

    hub::remove(seg.lab.netns(), &["seg".into()], false).unwrap();
    assert_eq!(seg.lab.snapshot(), before);
}

#[test]
fn a_hub_of_five_counts_exactly_and_never_sends_a_frame_back() {
    let seg = Segment::new(5, 2);
    let names = members(5);
    seg.set(&[("five", &refs(&names))]).unwrap();
    assert_probe_passes(&probe::probe_hub(seg.lab.netns(), "m4").unwrap(), 5);

    const FRAMES: u32 = 25;
    let before = seg.show();
    let ports: Vec<_> = (1..=5).map(|i| seg.port(i)).collect();
    for seq in 0..FRAMES {
        ports[0].send(&frame(seq)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    for (i, port) in ports.iter().enumerate().skip(1) {
        let got = collect(port, FRAMES as usize, deadline);
        assert_eq!(
            got,
            (0..FRAMES).collect::<Vec<_>>(),
            "x{} gets each frame once, in order",
            i + 1
        );
    }
    assert_eq!(
        collect(&ports[0], 0, Instant::now()),
        Vec::<u32>::new(),
        "nothing comes back"
    );

    let after = seg.show();
    let delta = |member: &str, field: fn(&hub::MemberCounters) -> u64| {
        let of = |s: &[hub::HubStatus]| {
            let m = s[0].members.iter().find(|m| m.name == member).unwrap();
            field(m.counters.as_ref().unwrap())
        };
        of(&after) - of(&before)
    };
    let frames = u64::from(FRAMES);
    assert_eq!(delta("m1", |c| c.packets), frames);
    assert_eq!(
        delta("m1", |c| c.bytes),
        frames * 100,
        "frame bytes, header included"
    );
    assert_eq!(delta("m1", |c| c.copies), frames * 4);
    assert_eq!(delta("m1", |c| c.drops), 0);
    for other in ["m2", "m3", "m4", "m5"] {
        assert_eq!(delta(other, |c| c.packets), 0, "nothing entered {other}");
    }
    // The CLI's probe JSON for the same hub.
    let run = seg.lab.patchwire(&["-j", "probe", "m5"]);
    assert_eq!(
        run.json()["hub"]["directions"].as_array().unwrap().len(),
        20
    );
}

#[test]
fn members_join_and_leave_in_place_while_frames_keep_flowing() {
    let seg = Segment::new(4, 1);
    let before = seg.lab.snapshot();
    seg.set(&[("seg", &["m1", "m2", "m3"])]).unwrap();
    let m2_index = ifindex(&seg.lab, "m2");
    let m2_rules = rules(&seg.lab, "m2");

    // x1 sends numbered frames every 100 µs (bounded) while the hub changes; x2 counts them.
    const MAX_FRAMES: u32 = 20_000;
    let stop = AtomicBool::new(false);
    let tx = seg.port(1);
    let rx = seg.port(2);
    let outcomes = std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            let mut sent = 0;
            let until = Instant::now() + Duration::from_secs(10);
            while sent < MAX_FRAMES && !stop.load(Ordering::SeqCst) && Instant::now() < until {
                tx.send(&frame(sent)).unwrap();
                sent += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
            sent
        });
        let receiver = scope.spawn(|| {
            let mut got = Vec::new();
            let until = Instant::now() + Duration::from_secs(12);
            while Instant::now() < until {
                match rx
                    .recv_until(Instant::now() + Duration::from_millis(300))
                    .unwrap()
                {
                    Some(bytes) => got.extend(seq_of(&bytes)),
                    None if stop.load(Ordering::SeqCst) => break,
                    None => {}
                }
            }
            got
        });
        std::thread::sleep(Duration::from_millis(30));
        let mut outcomes = Vec::new();
        for hubs in [
            ["m1", "m2", "m3", "m4"].as_slice(),
            &["m1", "m2", "m4"],
            &["m4", "m2", "m1", "m3"],
            &["m1", "m2"],
        ] {
            outcomes.push(seg.set(&[("seg", hubs)]).unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::SeqCst);
        let sent = sender.join().unwrap();
        let got = receiver.join().unwrap();
        (outcomes, sent, got)
    });
    let (outcomes, sent, got) = outcomes;
    // A frame every ~100 µs over ~110 ms; a loaded machine sends fewer, but still many.
    assert!(sent > 50, "frames flowed during the changes ({sent})");
    let unique: BTreeSet<u32> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "no frame arrived twice at x2");
    assert_eq!(
        got.len() as u32,
        sent,
        "every frame sent during four membership changes reached x2 (none lost)"
    );
    assert_eq!(outcomes[0].hubs[0].joined, ["m4"]);
    assert_eq!(outcomes[1].hubs[0].left, ["m3"]);
    assert_eq!(outcomes[2].hubs[0].joined, ["m3"]);
    assert_eq!(outcomes[3].hubs[0].left, ["m3", "m4"]);
    assert!(
        outcomes
            .iter()
            .all(|o| o.hubs[0].state == SetState::Updated)
    );

    // m2 stayed the same interface with the same rule, rewritten in place.
    assert_eq!(ifindex(&seg.lab, "m2"), m2_index);
    assert_eq!(rules(&seg.lab, "m2"), m2_rules);
    let text = seg.lab.tc("filter show dev m2 ingress");
    assert!(
        text.contains("mirred (Egress Redirect to device m1) stolen"),
        "{text}"
    );
    assert!(
        !text.contains("Egress Mirror"),
        "a hub of two redirects only: {text}"
    );
    // Former members left as they were.
    for dev in ["m3", "m4"] {
        assert!(
            !seg.lab.has_clsact(dev),
            "{dev}'s clsact went with its filters"
        );
        assert!(
            !seg.lab
                .ip(&format!("-d link show dev {dev}"))
                .contains("patchwire.hub")
        );
    }
    hub::remove(seg.lab.netns(), &["seg".into()], false).unwrap();
    assert_eq!(seg.lab.snapshot(), before);
}

#[test]
fn a_gone_member_breaks_the_hub_and_is_named_while_the_others_keep_passing_frames() {
    let seg = Segment::new(3, 1);
    seg.set(&[("seg", &["m1", "m2", "m3"])]).unwrap();

    // A member without carrier: degraded, named. m2 is m1's first target (a copy): the failed
    // copy does not stop the redirect to m3.
    seg.far(2).0.ip("link set dev x2 down");
    let status = seg.show();
    assert_eq!(status[0].health, Health::Degraded);
    assert_eq!(
        status[0].problems,
        ["m2 has no carrier: its veth peer is down, so frames redirected to it are dropped"]
    );
    let tx = seg.port(1);
    let rx3 = seg.port(3);
    tx.send(&frame(99)).unwrap();
    assert_eq!(
        collect(&rx3, 1, Instant::now() + Duration::from_secs(2)),
        [99]
    );
    seg.far(2).0.ip("link set dev x2 up");
    settle(&seg.lab, "m2");
    let rx = seg.port(2);

    seg.lab.ip("link del dev m3");
    let status = seg.show();
    assert_eq!(status[0].health, Health::Broken);
    assert_eq!(
        status[0].problems,
        [
            "m3 is gone (deleted, or moved to another netns): the copies m1, m2 send it are dropped; \
          set the hub again without it to clear the remains"
        ]
    );
    let gone = status[0].members.iter().find(|m| m.name == "m3").unwrap();
    assert!(!gone.present);

    // m1 -> m2 still works, and the copies to m3 are counted as drops.
    let before = seg.show();
    let drops = |s: &[hub::HubStatus]| {
        let m1 = s[0].members.iter().find(|m| m.name == "m1").unwrap();
        m1.counters.unwrap().drops
    };
    for seq in 0..10 {
        tx.send(&frame(seq)).unwrap();
    }
    let got = collect(&rx, 10, Instant::now() + Duration::from_secs(2));
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    assert_eq!(
        drops(&seg.show()) - drops(&before),
        10,
        "one lost copy per frame: m3's"
    );
    let err = probe::probe_hub(seg.lab.netns(), "m1").unwrap();
    assert_eq!(err.gone, ["m3"]);
    assert!(err.passed(), "the members left still pass everything");

    // Setting the hub without it clears the remains.
    let outcome = seg.set(&[("seg", &["m1", "m2"])]).unwrap();
    assert_eq!(outcome.hubs[0].left, ["m3"]);
    assert_eq!(seg.show()[0].health, Health::Ok);
}

#[test]
fn removing_a_hub_gives_everything_back_and_a_failed_set_changes_nothing() {
    // IPv6 on in the middle namespace: members are silenced, and given back on removal.
    let seg = Segment::within(TestNs::with_ipv6(), 3, 1);
    let ipv6_off = |dev: &str| {
        seg.lab
            .exec(&[
                "cat",
                &format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"),
            ])
            .trim()
            .to_string()
    };
    let before = seg.lab.snapshot();
    let links_before = seg.lab.ip("-d link show");
    assert_eq!(ipv6_off("m1"), "0");

    // A fault at each position of the batch leaves the kernel exactly as it was.
    let requests = [HubRequest::new("seg", &["m1", "m2", "m3"])];
    for at_op in [0, 3, 8] {
        let options = HubOptions {
            fault: Some(Fault { at_op }),
            ..HubOptions::default()
        };
        let err = hub::set(seg.lab.netns(), &requests, &options).unwrap_err();
        assert!(matches!(err, WireError::RolledBack { .. }), "{err}");
        assert_eq!(seg.lab.snapshot(), before, "fault at {at_op}");
        assert_eq!(ipv6_off("m2"), "0");
    }

    let outcome = hub::set(seg.lab.netns(), &requests, &HubOptions::default()).unwrap();
    assert_eq!(outcome.silenced, ["m1", "m2", "m3"]);
    assert_eq!(ipv6_off("m1"), "1");
    assert!(
        seg.lab
            .ip("-d link show dev m1")
            .contains("altname patchwire.silenced.ipv6.")
    );

    // A failed in-place change (joining needs m1..m3 rewritten) is rolled back too.
    let grown = [HubRequest::new("seg", &["m1", "m2"])];
    // Without action numbers: a filter rewritten back has new ones.
    let hub_state = seg.lab.snapshot_without(&["used_hw_stats", "index"]);
    let options = HubOptions {
        fault: Some(Fault { at_op: 2 }),
        ..HubOptions::default()
    };
    hub::set(seg.lab.netns(), &grown, &options).unwrap_err();
    assert_eq!(
        seg.lab.snapshot_without(&["used_hw_stats", "index"]),
        hub_state
    );
    assert_probe_passes(&probe::probe_hub(seg.lab.netns(), "m1").unwrap(), 3);

    let removed = hub::remove(seg.lab.netns(), &["seg".into()], false).unwrap();
    assert_eq!(removed.removed[0].members, ["m1", "m2", "m3"]);
    assert_eq!(removed.qdiscs_removed, ["m1", "m2", "m3"]);
    assert_eq!(removed.restored, ["m1", "m2", "m3"]);
    assert_eq!(seg.lab.snapshot(), before);
    assert_eq!(ipv6_off("m1"), "0");
    assert_eq!(
        seg.lab.ip("-d link show"),
        links_before,
        "altnames gone too"
    );

    let err = hub::remove(seg.lab.netns(), &["seg".into()], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("there is no hub seg in netns {}", seg.lab.name)
    );
}

#[test]
fn bad_input_is_refused_with_exact_messages_and_nothing_changes() {
    let seg = Segment::new(4, 4);
    let lab = &seg.lab;
    let other = TestNs::new();
    let far = TestNs::new();
    veth(lab, "w1", &far, "y1");
    veth(lab, "w2", &far, "y2");
    lab.patchwire(&["link", "w1", "w2"]).ok();
    seg.set(&[("other", &["m1", "m2"])]).unwrap();
    lab.ip("link add br0 type bridge");
    lab.ip("link set dev m4 master br0");
    lab.ip("tuntap add dev tun0 mode tun");
    lab.ip("link add name la type veth peer name lb");
    other.ip("link add name elsewhere type veth peer name e2");
    lab.ip("link add name fa type veth peer name fb");
    lab.tc("qdisc add dev fa clsact");
    lab.tc("filter add dev fa ingress pref 20567 protocol all u32 match u32 0 0 action mirred egress mirror dev fb");
    let before = lab.snapshot();
    let ns = format!("netns {}", lab.name);

    let refused = |hubs: &[(&str, &[&str])], message: &str| {
        let err = seg.set(hubs).unwrap_err();
        assert!(matches!(err, WireError::Invalid(_)), "{err:?}");
        assert_eq!(err.to_string(), message);
        assert_eq!(lab.snapshot(), before, "{message}");
    };
    refused(
        &[("seg", &["m3"])],
        "hub seg: only one member given (m3); a hub needs at least 2",
    );
    refused(
        &[("seg", &["m3", "nohubdev7"])],
        &format!("hub seg: interface nohubdev7 does not exist in {ns}"),
    );
    refused(
        &[("seg", &["m3", "lo"])],
        "hub seg: lo is a loopback interface; a hub member must be an Ethernet-like interface \
         (veth, tap, vxlan, NIC)",
    );
    refused(
        &[("seg", &["m3", "tun0"])],
        "hub seg: tun0 is a layer-3 device (no Ethernet header); a hub member must carry Ethernet \
         frames (veth, tap, vxlan, NIC)",
    );
    refused(
        &[("seg", &["m3", "m4"])],
        "hub seg: m4 is a port of bridge br0: the bridge would still send and receive through it, \
         so frames would also go where the bridge sends them. Release it first: ip link set dev \
         m4 nomaster",
    );
    refused(
        &[("seg", &["m3", "w1"])],
        "hub seg: w1 is a wire end (w1 <-> w2); an interface is a wire end or a hub port, never \
         both: unlink it first (patchwire unlink w1)",
    );
    refused(
        &[("seg", &["m3", "m1"])],
        "hub seg: m1 is already a port of hub other; an interface can be a port of only one hub: \
         take it out of other first",
    );
    refused(
        &[("s1", &["m3", "la"]), ("s2", &["lb", "m3"])],
        "m3 is listed in hubs s1 and s2; an interface can be a port of only one hub",
    );
    let elsewhere = format!("{}:elsewhere", other.name);
    refused(
        &[("seg", &["m3", &elsewhere])],
        &format!(
            "hub seg: elsewhere is in netns {} but the hub is being made in {ns}: mirred cannot \
             send to another namespace (its target is looked up in the filter's own namespace). \
             Join the namespaces with a veth pair (ip link add X type veth peer name Y netns {}) \
             and make X the member here",
            other.name, other.name
        ),
    );
    refused(
        &[("seg", &["la", "m3", "lb"])],
        "hub seg: it would close a loop: la -veth- lb. Frames leaving the hub would come back \
         into it and circulate forever (a ring like this pins every core at 100% softirq). Allow \
         loops only if something on the ring (such as STP) breaks it.",
    );
    refused(
        &[("seg", &["m3", "fa"])],
        "hub seg: fa has a u32 filter at priority 20567 that patchwire did not install (another \
         tool's); patchwire will not touch it — remove it or free that priority (a hub of 2 \
         members uses priorities 20567 to 20567)",
    );
    refused(
        &[("bad/name", &["m3", "la"])],
        "hub name \"bad/name\" contains '/'; use only letters, digits, '_', '.' and '-'",
    );

    // And the other way round: a hub port is not a wire end.
    lab.patchwire(&["link", "m1", "la"]).fails_with(
        "m1 is a port of hub other; an interface is a wire end or a hub port, never both: take it \
         out of the hub first",
    );
    assert_eq!(lab.snapshot(), before);
    // `show` lists the wire, healthy, and does not take the hub's filters for foreign ones.
    let wires = lab.patchwire(&["-j", "show"]).json();
    assert_eq!(wires.as_array().unwrap().len(), 1);
    assert_eq!(wires[0]["health"], "ok", "{wires}");
}

#[test]
fn a_hub_of_forty_chains_two_filters_per_member_and_passes_every_frame_once() {
    let started = Instant::now();
    let seg = Segment::new(40, 10);
    let before = seg.lab.snapshot();
    let names = members(40);
    let outcome = seg.set(&[("big", &refs(&names))]).unwrap();
    assert_eq!(outcome.hubs[0].state, SetState::Created);
    // 39 targets: 32 actions at 20567 (the last one `continue`), 7 at 20568 ending in the redirect.
    assert_eq!(
        rules(&seg.lab, "m7")
            .iter()
            .map(|(p, _)| *p)
            .collect::<Vec<_>>(),
        [20567, 20568]
    );
    let text = seg.lab.tc("filter show dev m7 ingress");
    assert_eq!(text.matches("Egress Mirror").count(), 38, "{text}");
    assert_eq!(text.matches("Egress Redirect").count(), 1);
    assert_eq!(text.matches(") continue").count(), 1);
    assert_probe_passes(&probe::probe_hub(seg.lab.netns(), "m1").unwrap(), 40);
    assert_eq!(seg.show()[0].health, Health::Ok);

    // Shrinking to 33 members leaves one filter per member; growing back, two again.
    let fewer = &names[..33];
    seg.set(&[("big", &refs(fewer))]).unwrap();
    assert_eq!(rules(&seg.lab, "m7").len(), 1);
    let (tx, rx) = (seg.port(33), seg.port(1));
    tx.send(&frame(7)).unwrap();
    assert_eq!(
        collect(&rx, 1, Instant::now() + Duration::from_secs(2)),
        [7]
    );
    seg.set(&[("big", &refs(&names))]).unwrap();
    assert_eq!(rules(&seg.lab, "m7").len(), 2);
    assert_eq!(seg.show()[0].health, Health::Ok);

    hub::remove(seg.lab.netns(), &[], true).unwrap();
    assert_eq!(seg.lab.snapshot(), before);
    // A bound against a pathological slowdown, not a benchmark: stretched in a scripts/kernels
    // guest, where qemu TCG emulates every instruction (this took 60-90 s there).
    let bound = patience(Duration::from_secs(60));
    assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
}

#[test]
fn watch_leaves_hubs_alone_and_still_propagates_carrier_across_wires() {
    let seg = Segment::new(3, 1);
    let far = TestNs::new();
    veth(&seg.lab, "w1", &far, "y1");
    veth(&seg.lab, "w2", &far, "y2");
    seg.lab.patchwire(&["link", "w1", "w2"]).ok();
    seg.set(&[("seg", &["m1", "m2", "m3"])]).unwrap();

    // A member's far side goes down: a hub keeps the segment up (no carrier propagation).
    seg.far(2).0.ip("link set dev x2 down");
    far.ip("link set dev y1 down");
    let hub_filters = || {
        let text = seg.lab.tc("filter show dev m1 ingress");
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("used_hw_stats"))
            .collect();
        kept.join("\n")
    };
    let hub_before = hub_filters();
    let run = seg.lab.patchwire(&["-j", "watch", "--once"]);
    run.ok();
    let events: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(events.len(), 1, "{}", run.stdout);
    assert!(
        events[0].contains("\"end\":\"w2\""),
        "the wire's far end is held: {}",
        events[0]
    );
    for dev in ["m1", "m3"] {
        let line = seg.lab.ip(&format!("-o link show dev {dev}"));
        assert!(line.contains("state UP"), "{dev} stays up: {line}");
    }
    assert_eq!(
        hub_filters(),
        hub_before,
        "watch did not touch the hub's filters"
    );
    let status = seg.show();
    assert_eq!(status[0].health, Health::Degraded);
}

#[test]
fn a_wire_that_would_close_a_ring_through_a_hub_is_refused() {
    // x1 and x2 share a router namespace; m1, m2 are in a hub. Wiring x1 to x2 there makes a
    // ring: x1 -> m1 -> (hub) -> m2 -> x2 -> (wire) -> x1.
    let seg = Segment::new(3, 2);
    seg.set(&[("seg", &["m1", "m2", "m3"])]).unwrap();
    let router = seg.far(1).0;
    let before = router.snapshot();
    router.patchwire(&["link", "x1", "x2"]).fails_with(&format!(
        "wiring x1 to x2 would close a loop: x1 -veth- m1 (netns {lab}) -hub- m2 (netns {lab}) \
         -veth- x2. Frames would circulate forever (a ring like this pins every core at 100% \
         softirq). Use --allow-loop only if something on the ring (such as STP) breaks it.",
        lab = seg.lab.name
    ));
    assert_eq!(router.snapshot(), before);

    // And the hub refuses a member that would close a ring through an existing wire.
    let seg = Segment::new(4, 2);
    seg.far(3).0.patchwire(&["link", "x3", "x4"]).ok();
    seg.set(&[("seg", &["m1", "m3"])]).unwrap();
    let err = seg.set(&[("seg", &["m1", "m3", "m4"])]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "hub seg: it would close a loop: m3 -veth- x3 (netns {r}) -wire- x4 (netns {r}) \
             -veth- m4. Frames leaving the hub would come back into it and circulate forever (a \
             ring like this pins every core at 100% softirq). Allow loops only if something on the \
             ring (such as STP) breaks it.",
            r = seg.routers[1].name
        )
    );
}

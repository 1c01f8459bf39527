//! Impairments on a wire, with real frames (privileged): node `a` (namespace na) ↔ port `pa`
//! — wire — port `pb` ↔ node `b` (namespace nb), the wire in namespace w. Frames sent from
//! a's AF_PACKET socket cross pa's impairment program and the wire and are read on b.
//!
//! **Tolerances.** A count of frames hit with probability p out of n is binomial: mean n·p,
//! standard deviation σ = sqrt(n·p·(1-p)). Every rate is asserted within ±4.5σ of n·p: a
//! correct implementation fails such a check with probability about 7·10⁻⁶ (two-sided normal
//! tail at 4.5σ), while an error of the size that matters (a 10 % rate off by a tenth of
//! itself, 100 frames in 10,000, is 3.3σ — so 4.5σ is still tight enough to catch a
//! threshold off by a third). [`frames::tolerance`] computes it; each test passes its own n and p.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::frames::{assert_binomial, frame, seq_of};
use common::impair::*;
use common::{TestNs, packet_socket, patchwire, wait_link};

#[test]
fn loss_hits_its_rate_in_one_direction_and_leaves_the_other_alone() {
    let _timing = shared();
    let lab = lab();
    let n = frames();
    for percent in [1.0, 10.0, 50.0] {
        let before_frames = lab.shown_or_zero("pa", "frames");
        let before_dropped = lab.shown_or_zero("pa", "dropped");
        let set = lab.impair(&["pa", "--loss", &format!("{percent}%")]);
        assert_eq!(
            set["directions"][0]["direction"]["impairment"]["loss"],
            serde_json::json!({"model": "random", "percent": percent})
        );
        let got = exchange(&lab.na, "a", &lab.nb, "b", n);
        let seqs: Vec<u32> = got.iter().filter_map(|f| seq_of(f)).collect();
        assert_eq!(seqs.len(), got.len(), "only unchanged frames arrive");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order, once each");
        let lost = u64::from(n) - seqs.len() as u64;
        assert_binomial(&format!("loss {percent}%"), lost, u64::from(n), percent);
        // The kernel's counters say the same, frame for frame.
        assert_eq!(lab.counter("pa", "frames") - before_frames, u64::from(n));
        assert_eq!(lab.counter("pa", "dropped") - before_dropped, lost);
        // The other direction is untouched: every frame from b reaches a.
        let back = exchange(&lab.nb, "b", &lab.na, "a", 2_000);
        assert_eq!(back.iter().filter_map(|f| seq_of(f)).count(), 2_000);
    }
}

#[test]
fn corruption_flips_one_bit_and_duplication_sends_twice_at_their_rates() {
    let _timing = shared();
    let lab = lab();
    let n = frames();
    lab.impair(&["pa", "--corrupt", "5%"]);
    let got = exchange(&lab.na, "a", &lab.nb, "b", n);
    assert_eq!(got.len() as u32, n, "corruption loses nothing");
    // A corrupted frame is one no sent frame is, one bit away from the one that was sent.
    let mut anomalies = 0u64;
    for f in &got {
        assert_eq!(f.len(), 60);
        if seq_of(f).is_none() {
            anomalies += 1;
            assert_eq!(bits_flipped(f), 1, "one bit flipped: {f:02x?}");
        }
    }
    assert_eq!(anomalies, lab.counter("pa", "corrupted"));
    assert_binomial("corrupt 5%", anomalies, u64::from(n), 5.0);

    lab.impair(&["pa", "--corrupt", "0", "--duplicate", "5%"]);
    let got = exchange(&lab.na, "a", &lab.nb, "b", n);
    let mut copies = vec![0u32; n as usize];
    for f in &got {
        copies[seq_of(f).expect("duplicates are exact copies") as usize] += 1;
    }
    assert!(
        copies.iter().all(|c| *c == 1 || *c == 2),
        "once or twice each"
    );
    let twice = copies.iter().filter(|c| **c == 2).count() as u64;
    assert_eq!(twice, lab.counter("pa", "duplicated"));
    assert_binomial("duplicate 5%", twice, u64::from(n), 5.0);
}

#[test]
fn gilbert_elliott_bursts_have_the_configured_mean_length() {
    let _timing = shared();
    let lab = lab();
    // p = 1 %, r = 20 %: bursts of 1/r = 5 frames on average.
    lab.impair(&["pa", "--loss-burst", "1%/20%"]);
    let n = 2 * frames();
    let got = exchange(&lab.na, "a", &lab.nb, "b", n);
    let mut arrived = vec![false; n as usize];
    for f in &got {
        arrived[seq_of(f).unwrap() as usize] = true;
    }
    let mut bursts = Vec::new();
    let mut run = 0u32;
    for ok in &arrived {
        match (ok, run) {
            (false, _) => run += 1,
            (true, 0) => {}
            (true, _) => {
                bursts.push(run);
                run = 0;
            }
        }
    }
    let lost: u32 = arrived.iter().filter(|a| !**a).count() as u32;
    assert_eq!(u64::from(lost), lab.counter("pa", "dropped"));
    // A burst's length is geometric with success r: mean 1/r, variance (1-r)/r². The mean of
    // B bursts has standard error sqrt((1-r)/r²/B); assert within 4.5 of those.
    let r = 0.2;
    let b = bursts.len() as f64;
    assert!(b > 30.0, "too few bursts to judge: {b}");
    let mean = bursts.iter().map(|x| f64::from(*x)).sum::<f64>() / b;
    let bound = 4.5 * ((1.0 - r) / (r * r) / b).sqrt();
    assert!(
        (mean - 1.0 / r).abs() <= bound,
        "mean burst {mean:.2} over {b} bursts, expected 5 ± {bound:.2}"
    );
}

/// carrier_changes and ifindex of an interface, read in its namespace.
fn link_state(ns: &TestNs, dev: &str) -> (String, String) {
    let read = |what: &str| {
        ns.exec(&["cat", &format!("/sys/class/net/{dev}/{what}")])
            .trim()
            .to_string()
    };
    (read("carrier_changes"), read("ifindex"))
}

#[test]
fn changing_loss_in_place_loses_nothing_outside_the_window_and_keeps_the_ports() {
    let _timing = shared();
    let lab = lab();
    // A zero on an unimpaired port leaves nothing set: no program is attached (an empty one
    // would stay on the port as an impairment of nothing).
    let set = lab.impair(&["pa", "--loss", "0"]);
    assert_eq!(set["cleared"], serde_json::json!([]));
    assert_eq!(lab.listed("pa").0, None);
    let ports = [
        (&lab.na, "a"),
        (&lab.w, "pa"),
        (&lab.w, "pb"),
        (&lab.nb, "b"),
    ];
    let before: Vec<_> = ports.iter().map(|(ns, d)| link_state(ns, d)).collect();

    let tx = packet_socket(&lab.na, "a");
    let rx = packet_socket(&lab.nb, "b");
    let sent = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (sent, stop) = (sent.clone(), stop.clone());
        std::thread::spawn(move || {
            // A frame every 0.5 ms, at most 12,000 (6 s).
            for seq in 0..12_000u32 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                tx.send(&frame(seq)).unwrap();
                sent.store(seq + 1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(500));
            }
        })
    };
    let receiver = std::thread::spawn(move || {
        let mut seqs = Vec::new();
        // Until the end marker; bounded by 5 s of silence (an emulated kernel is slow, never
        // that slow) and 120 s in all.
        let end = Instant::now() + Duration::from_secs(120);
        while let Some(f) = rx
            .recv_until((Instant::now() + Duration::from_secs(5)).min(end))
            .unwrap()
        {
            match seq_of(&f) {
                Some(seq) => seqs.push(seq),
                None => panic!("unexpected frame {f:02x?}"),
            }
            if seqs.last() == Some(&u32::MAX) {
                break;
            }
        }
        seqs
    });
    let wait_for = |count: u32| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while sent.load(Ordering::SeqCst) < count {
            assert!(Instant::now() < deadline, "the sender stalled");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for(1_000);
    let window_start = sent.load(Ordering::SeqCst);
    // The program attached while frames flow, then removed (`--loss 0` leaves nothing set).
    lab.impair(&["pa", "--loss", "10%"]);
    wait_for(window_start + 2_000);
    // Loss back to 0 in place (the map changed under the running program, as `up` changes a
    // file's loss), so the drops are counted to the last; then `--loss 0`, which leaves nothing
    // set, takes the program away.
    let w = patchwire::netns::Netns::open(Some(&lab.w.name)).unwrap();
    patchwire::impair::set(&w, "pa", &patchwire::impair::Impairment::default()).unwrap();
    let dropped = lab.counter("pa", "dropped");
    let removed = lab.impair(&["pa", "--loss", "0"]);
    assert_eq!(removed["cleared"], serde_json::json!(["pa"]));
    let window_end = sent.load(Ordering::SeqCst);
    wait_for(window_end + 1_000);
    stop.store(true, Ordering::SeqCst);
    sender.join().unwrap();
    let total = sent.load(Ordering::SeqCst);
    // The end marker: the receiver stops at it.
    packet_socket(&lab.na, "a").send(&frame(u32::MAX)).unwrap();
    let seqs = receiver.join().unwrap();
    let arrived: std::collections::HashSet<u32> = seqs.iter().copied().collect();
    let lost: Vec<u32> = (0..total).filter(|s| !arrived.contains(s)).collect();
    assert!(
        lost.iter().all(|s| (window_start..window_end).contains(s)),
        "frames lost outside the impaired window {window_start}..{window_end}: {:?}",
        lost.iter()
            .filter(|s| !(window_start..window_end).contains(s))
            .take(10)
            .collect::<Vec<_>>()
    );
    assert!(
        !lost.is_empty(),
        "10% loss over {} frames lost none",
        window_end - window_start
    );
    // Every frame lost is one the program counted as dropped: nothing else was lost while
    // it was attached, changed in place, or removed.
    assert_eq!(lost.len() as u64, dropped);
    assert_eq!(lab.listed("pa").0, None);
    let after: Vec<_> = ports.iter().map(|(ns, d)| link_state(ns, d)).collect();
    assert_eq!(
        before, after,
        "carrier changes and ifindexes of a, pa, pb, b"
    );
}

/// `iperf3` from a to b (TCP, bounded by -t and timeout): whether the client succeeded, and
/// its JSON report. The client is retried while the one-off server is not listening yet (it
/// takes a while to start under an emulated guest kernel).
fn iperf3(lab: &Lab, args: &[&str]) -> (bool, serde_json::Value) {
    let mut server = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.nb.name,
            "timeout",
            "90",
            "iperf3",
            "-s",
            "-1",
            "-B",
            "198.18.0.2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut command = vec![
        "netns",
        "exec",
        &lab.na.name,
        "timeout",
        "60",
        "iperf3",
        "-c",
        "198.18.0.2",
        "-J",
    ];
    command.extend_from_slice(args);
    let mut result = (false, serde_json::Value::Null);
    for _ in 0..50 {
        let output = std::process::Command::new("ip")
            .args(&command)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            serde_json::json!({"error": format!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout))})
        });
        let refused = json["error"]
            .as_str()
            .is_some_and(|e| e.contains("unable to connect"));
        result = (output.status.success(), json);
        if !refused {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// The receiver's goodput in an iperf3 report.
fn received_bps(json: &serde_json::Value) -> f64 {
    json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("no end.sum_received.bits_per_second in {json}"))
}

fn addresses(lab: &Lab) {
    lab.na.ip("addr add 198.18.0.1/24 dev a");
    lab.nb.ip("addr add 198.18.0.2/24 dev b");
}

#[test]
fn rate_holds_within_five_percent_by_iperf3() {
    let _timing = alone();
    let lab = lab();
    addresses(&lab);
    // What the path carries unshaped: a rate it cannot carry twice over (an emulated guest
    // kernel manages a few tens of Mbit/s) can only be checked from above.
    let (ok, json) = iperf3(&lab, &["-t", "2"]);
    assert!(ok, "iperf3 failed: {json}");
    let capacity = received_bps(&json);
    for (rate, bits) in [("10mbit", 10e6), ("100mbit", 100e6)] {
        lab.impair(&["pa", "--rate", rate]);
        // tbf counts whole frames (1514 bytes for a full segment: Ethernet 14, IPv4 20, TCP 20 +
        // 12 of timestamps, 1448 of data); iperf3 counts data. So the goodput at the rate is
        // rate × 1448/1514.
        let expected = bits * 1448.0 / 1514.0;
        // A sender starved of CPU (a busy 2-core host) leaves the shaper idle and measures
        // low; a receiver starved of it reads data queued during iperf3's omitted first second
        // into the measured seconds and measures high (10.24 of 9.56 Mbit/s once, with two
        // builds and a qemu guest on the host). Up to three runs; the closest to the rate is
        // kept, and it must be within 5 % above (and below, where the host can carry it).
        let mut got: Option<f64> = None;
        let mut runs = Vec::new();
        for _ in 0..3 {
            let (ok, json) = iperf3(&lab, &["-t", "4", "-O", "1"]);
            assert!(ok, "iperf3 failed: {json}");
            let run = received_bps(&json);
            runs.push(run);
            let closer = |g: f64| (run - expected).abs() < (g - expected).abs();
            if got.is_none_or(closer) {
                got = Some(run);
            }
            if (run - expected).abs() <= 0.05 * expected {
                break;
            }
        }
        let got = got.unwrap();
        assert!(
            got <= 1.05 * expected,
            "{rate}: {got:.0} bit/s of data, above {expected:.0} + 5% (runs: {runs:.0?})"
        );
        // Under an emulated guest kernel (TCG) tbf's watchdog timer fires late, and the time
        // it idles is rate lost: there only the upper bound, and that shaping lets through
        // at least half, are asserted.
        match capacity >= 2.0 * bits && !common::in_guest() {
            true => assert!(
                (got - expected).abs() <= 0.05 * expected,
                "{rate}: {got:.0} bit/s of data, expected {expected:.0} ± 5%"
            ),
            false => assert!(
                got <= 1.05 * expected && got >= 0.5 * expected.min(capacity),
                "{rate}: {got:.0} bit/s of data, expected at most {expected:.0} + 5% and at \
                 least half of it (the path carries {capacity:.0} unshaped)"
            ),
        }
        assert_eq!(lab.shown("pa")["qdiscs"][0]["kind"], "tbf");
    }
    // Removing the rate removes the qdisc, and with nothing left set the impairment.
    lab.impair(&["pa", "--rate", "0"]);
    assert_eq!(lab.listed("pa").0, None);
    assert!(!lab.w.tc("qdisc show dev pb").contains("tbf"));
}

#[test]
fn a_rate_on_an_ebpf_wire_moves_it_off_the_peer_path_and_back() {
    let _timing = alone();
    let lab = lab_with("ebpf");
    addresses(&lab);
    assert_eq!(path_pa_to_pb(&lab), "peer");
    lab.impair(&["pa", "--rate", "10mbit"]);
    // bpf_redirect_peer would skip pb's tbf: the direction now takes the plain redirect.
    assert_eq!(path_pa_to_pb(&lab), "redirect");
    let (ok, json) = iperf3(&lab, &["-t", "3", "-O", "1"]);
    assert!(ok, "iperf3 failed: {json}");
    let got = received_bps(&json);
    let expected = 10e6 * 1448.0 / 1514.0;
    // As in rate_holds_within_five_percent_by_iperf3: in a TCG guest, the upper bound only
    // (the skipped qdisc would let the path's full rate through).
    let low = if common::in_guest() { 0.5 } else { 0.95 };
    assert!(
        got <= 1.05 * expected && got >= low * expected,
        "{got:.0} bit/s of data over the eBPF wire, expected {expected:.0} (-{:.0} %, +5 %)",
        100.0 * (1.0 - low)
    );
    lab.impair(&["pa", "--clear"]);
    assert_eq!(
        path_pa_to_pb(&lab),
        "peer",
        "the peer path comes back with the qdisc gone"
    );
}

#[test]
fn a_tcp_transfer_over_five_percent_loss_completes() {
    let _timing = shared();
    use std::io::{Read, Write};
    let lab = lab();
    addresses(&lab);
    // One segment per frame (no GSO super-packets): the loss then hits wire frames, ~5 % of
    // some 1,450, so a transfer that completes has recovered from many losses.
    lab.na.ip("link set dev a gso_max_segs 1");
    lab.impair(&["pa", "--loss", "5%"]);
    // 2 MiB of a known pattern from a to b over TCP; b checks every byte.
    let data: Vec<u8> = (0..2u32 << 20).map(|i| (i % 251) as u8).collect();
    let listener = lab
        .nb
        .netns()
        .run(|| std::net::TcpListener::bind("198.18.0.2:5201"))
        .unwrap()
        .unwrap();
    let receiver = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        got
    });
    let mut conn = lab
        .na
        .netns()
        .run(|| {
            std::net::TcpStream::connect_timeout(
                &"198.18.0.2:5201".parse().unwrap(),
                Duration::from_secs(20),
            )
        })
        .unwrap()
        .unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    conn.write_all(&data).unwrap();
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let got = receiver.join().unwrap();
    assert!(
        got == data,
        "{} of {} bytes arrived intact",
        got.len(),
        data.len()
    );
    assert!(lab.counter("pa", "dropped") > 0, "the loss dropped nothing");
}

#[test]
fn cut_takes_carrier_from_both_nodes_until_mend() {
    let _timing = shared();
    let lab = lab();
    let out = patchwire(&["-n", &lab.w.name, "-j", "cut", "pa"])
        .ok()
        .json();
    assert_eq!(out["ports"], serde_json::json!(["pa", "pb"]));
    assert_eq!(out["changed"], serde_json::json!(["pa", "pb"]));
    wait_link(&lab.na, "a", "NO-CARRIER", |t| t.contains("NO-CARRIER"));
    wait_link(&lab.nb, "b", "NO-CARRIER", |t| t.contains("NO-CARRIER"));
    // A watcher's pass does not undo it, and cutting again changes nothing.
    patchwire(&["-n", &lab.w.name, "watch", "--once"]).ok();
    assert!(lab.w.ip("-o link show dev pa").contains("state DOWN"));
    assert!(lab.w.ip("-o link show dev pb").contains("state DOWN"));
    let again = patchwire(&["-n", &lab.w.name, "-j", "cut", "pb"])
        .ok()
        .json();
    assert_eq!(again["changed"], serde_json::json!([]));
    let shown = patchwire(&["-n", &lab.w.name, "-j", "impair", "show"])
        .ok()
        .json();
    assert_eq!(shown["cut"], serde_json::json!(["pa", "pb"]));
    let out = patchwire(&["-n", &lab.w.name, "-j", "mend", "pb"])
        .ok()
        .json();
    assert_eq!(out["changed"], serde_json::json!(["pb", "pa"]));
    common::settle(&lab.na, "a");
    common::settle(&lab.nb, "b");
    let alias = lab.w.ip("-o link show dev pa");
    assert!(!alias.contains("alias"), "the cut's alias is gone: {alias}");
}

#[test]
fn delay_by_netem_or_a_refusal_naming_sch_netem() {
    let _timing = alone();
    let lab = lab();
    addresses(&lab);
    let has_netem = patchwire::impair::netem_available().unwrap();
    // doctor lists netem, optional, with the same answer.
    let report = patchwire(&["-j", "doctor"]).json();
    let item = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "netem qdisc (sch_netem)")
        .cloned()
        .unwrap_or_else(|| panic!("no netem item in {report}"));
    assert_eq!(item["ok"], has_netem, "{item}");
    assert_eq!(item["required"], false);
    if !has_netem {
        let before = lab.w.snapshot();
        patchwire(&["-n", &lab.w.name, "impair", "pa", "--delay", "50ms", "--loss", "5%"]).fails_with(
            "a delay, jitter or reordering needs the netem qdisc, and this kernel has no sch_netem \
             (load it with `modprobe sch_netem`, or use a kernel that builds it: every distribution \
             kernel does); loss, corruption, duplication and rate work without it",
        );
        assert_eq!(
            before,
            lab.w.snapshot(),
            "a refusal leaves the kernel as it was"
        );
        return;
    }
    // The path's own RTT first (under an emulated guest kernel it is milliseconds, not µs):
    // the delay is what netem adds to it. Medians: a few slow replies do not move them.
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = ping_rtts(&lab, 30);
    lab.impair(&["pa", "--delay", "50ms"]);
    let delayed = ping_rtts(&lab, 30);
    let added = median(delayed.clone()) - median(base.clone());
    assert!(
        (added - 50.0).abs() <= 1.0,
        "netem added {added:.2} ms to the median RTT, expected 50 ± 1 (delay one way)"
    );
    assert_eq!(lab.shown("pa")["qdiscs"][0]["kind"], "netem");
    // The figures, for the docs (printed with --nocapture; scripts/kernels keeps the log).
    eprintln!(
        "delay 50ms: median RTT {added:+.2} ms over {} pings",
        delayed.len()
    );
    lab.impair(&["pa", "--jitter", "10ms", "--distribution", "normal"]);
    let jittered = ping_rtts(&lab, 100);
    // Normal with σ = 10 ms: an interquartile range of 1.349σ = 13.49 ms. The quartiles, not
    // the standard deviation: an emulated kernel's occasional stall of tens of ms would swamp
    // a standard deviation, not a quartile. A sample quartile of n has a standard error of
    // sqrt(p(1-p)/n)/φ(z_p)·σ = sqrt(0.1875/100)/0.3178·σ ≈ 0.136σ; the IQR's is at most the
    // sum of both, 0.27σ = 2.7 ms; ±4.5 of those.
    let quartile = |v: &[f64], q: f64| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let iqr = quartile(&jittered, 0.75) - quartile(&jittered, 0.25);
    eprintln!(
        "jitter 10ms normal: interquartile range {iqr:.2} ms over {} pings",
        jittered.len()
    );
    assert!(
        (iqr - 13.49).abs() <= 4.5 * 2.7,
        "jitter: interquartile range {iqr:.2} ms, expected 13.49 ± 12.2"
    );
    // The sample median's standard error is 1.2533σ/sqrt(n) = 1.25 ms.
    let added = median(jittered) - median(base);
    assert!(
        (added - 50.0).abs() <= 4.5 * 1.2533 * 10.0 / 100f64.sqrt(),
        "median added delay {added:.2} ms with jitter, expected 50 ± 5.6"
    );
    // Delay and rate together: netem at the root, the tbf under it.
    lab.impair(&["pa", "--rate", "10mbit"]);
    let kinds: Vec<String> = lab.shown("pa")["qdiscs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["netem", "tbf"]);
    assert!(lab.w.tc("qdisc show dev pb").contains("parent 574e:1"));
    lab.impair(&["pa", "--clear"]);
    assert!(!lab.w.tc("qdisc show dev pb").contains("netem"));
}

/// RTTs in ms of `count` pings a → b.
fn ping_rtts(lab: &Lab, count: u32) -> Vec<f64> {
    let out = lab.na.exec(&[
        "timeout",
        "60",
        "ping",
        "-n",
        "-c",
        &count.to_string(),
        "-i",
        "0.05",
        "198.18.0.2",
    ]);
    out.lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.trim_end_matches(" ms").parse().ok())
        .collect()
}

#[test]
fn bad_input_is_refused_with_what_is_accepted_and_changes_nothing() {
    let _timing = shared();
    let lab = lab();
    let before = lab.w.snapshot();
    let w = lab.w.name.as_str();
    patchwire(&["-n", w, "impair", "nope", "--loss", "1%"])
        .fails_with(&format!("no interface named nope in netns {w}"));
    patchwire(&["-n", w, "impair", "pa", "--burst", "32kbit"])
        .fails_with("impairing pa: a burst belongs to a rate: give --rate too");
    patchwire(&[
        "-n", w, "impair", "pa", "--rate", "10mbit", "--burst", "1000b",
    ])
    .fails_with(
        "impairing pa: a burst of 1000 bytes is less than one frame of pb (1514 bytes with its \
         Ethernet header): tbf would drop every full-size frame",
    );
    lab.w.ip("link add name lone type veth peer name lone2");
    patchwire(&["-n", w, "impair", "lone", "--loss", "1%"]).fails_with(&format!(
        "lone is on no wire or hub in netns {w}: an impairment acts on the frames a wire carries \
         (patchwire link lone OTHER first)"
    ));
    lab.w.ip("link del dev lone");
    let usage = patchwire(&["-n", w, "impair", "pa", "--loss", "150%"]);
    assert_eq!(usage.code, 2);
    assert!(
        usage.stderr.contains(
            "\"150%\" is more than 100%: give a percentage from 0 to 100 like 10%, 1.5% or 0.01%"
        ),
        "{}",
        usage.stderr
    );
    let usage = patchwire(&["-n", w, "impair", "pa", "--rate", "10mb"]);
    assert_eq!(usage.code, 2);
    assert!(
        usage
            .stderr
            .contains("\"10mb\" is not a rate like 10mbit, 1gbit, 100kbit or 1mbps (bytes/s)"),
        "{}",
        usage.stderr
    );
    assert_eq!(
        before,
        lab.w.snapshot(),
        "refusals leave the kernel as it was"
    );
}

#[test]
fn a_lab_endpoint_is_impaired_and_cut_on_its_panel_port_and_plan_lists_the_cut() {
    let _timing = shared();
    let lab = lab_up(
        "name: LAB\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n",
    );
    let file = lab.path();
    let panel = format!("{}.panel", lab.name);
    let (r1, r2) = (format!("{}-r1", lab.name), format!("{}-r2", lab.name));
    let set = patchwire(&[
        "-j",
        "impair",
        "--lab",
        file,
        "r1:eth1",
        "--loss",
        "10%",
        "--duplicate",
        "1%",
    ])
    .ok()
    .json();
    let direction = &set["directions"][0]["direction"];
    assert_eq!(direction["port"], "r1.eth1");
    assert_eq!(direction["to"], "r2.eth1");
    assert_eq!(direction["summary"], "loss 10% duplicate 1%");
    // On the panel port, nothing in the node's namespace.
    assert!(
        common::run(
            "tc",
            &["-n", &panel, "filter", "show", "dev", "r1.eth1", "ingress"]
        )
        .contains("pw-impair to=r2.eth1")
    );
    assert!(
        !common::run(
            "tc",
            &["-n", &r1, "filter", "show", "dev", "eth1", "ingress"]
        )
        .contains("pw-impair")
    );
    let shown = patchwire(&["-j", "impair", "show", "--lab", file])
        .ok()
        .json();
    assert_eq!(shown["directions"].as_array().unwrap().len(), 1, "{shown}");
    patchwire(&["impair", "--lab", file, "r9:eth1", "--loss", "1%"]).fails_with(&format!(
        "r9:eth1 is no endpoint of lab {} on this host (its endpoints: r1:eth1, r2:eth1)",
        lab.name
    ));
    patchwire(&[
        "-n", &panel, "impair", "--lab", file, "r1:eth1", "--loss", "1%",
    ])
    .fails_with("--lab names the lab's namespaces itself: leave out -n");

    // Cut: both nodes lose carrier; `plan` lists it as a difference from the file (which
    // `up` would put back: tests/lab_impair.rs); mend brings it back.
    patchwire(&["cut", "--lab", file, "r2:eth1"]).ok();
    for ns in [&r1, &r2] {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !common::link_in(ns, "eth1").contains("NO-CARRIER") {
            assert!(Instant::now() < deadline, "{ns} eth1 kept carrier");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let plan = patchwire(&["-j", "plan", file]).ok().json();
    assert!(
        plan.as_array()
            .unwrap()
            .iter()
            .any(|c| c["change"] == "mend"
                && c["endpoints"] == serde_json::json!(["r1:eth1", "r2:eth1"])),
        "{plan}"
    );
    assert!(
        common::link_in(&r1, "eth1").contains("NO-CARRIER"),
        "plan changed the cable"
    );
    patchwire(&["mend", "--lab", file, "r1:eth1"]).ok();
    for ns in [&r1, &r2] {
        let deadline = Instant::now() + Duration::from_secs(20);
        while common::link_in(ns, "eth1").contains("NO-CARRIER") {
            assert!(
                Instant::now() < deadline,
                "{ns} eth1 did not get carrier back"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    patchwire(&["impair", "--lab", file, "r1:eth1", "--clear"]).ok();
    assert!(
        !common::run(
            "tc",
            &["-n", &panel, "filter", "show", "dev", "r1.eth1", "ingress"]
        )
        .contains("pw-impair")
    );
}

#[test]
fn unlink_takes_the_wires_impairments_with_it_and_leaves_nothing_behind() {
    let _timing = shared();
    let lab = lab();
    // Without action numbers: the kernel frees a deleted filter's action numbers in deferred
    // work, so the re-made wire's actions get the old numbers or the next ones by timing.
    let snapshot = || lab.w.snapshot_without(&["used_hw_stats", "index"]);
    let before = snapshot();
    patchwire(&["-n", &lab.w.name, "unlink", "pa"]).ok();
    let bare = snapshot();
    patchwire(&["-n", &lab.w.name, "link", "pa", "pb"]).ok();
    assert_eq!(before, snapshot());
    lab.impair(&["pa", "--loss", "10%", "--rate", "10mbit", "--both"]);
    let out = patchwire(&["-n", &lab.w.name, "-j", "unlink", "pb"])
        .ok()
        .json();
    assert_eq!(out["impairments_removed"], serde_json::json!(["pa", "pb"]));
    assert_eq!(
        bare,
        lab.w.snapshot(),
        "no program, no qdisc, no clsact left"
    );
}

#[test]
fn a_hub_member_takes_loss_but_no_rate_and_its_cut_survives_watch() {
    let _timing = shared();
    let lab = lab_up(
        "name: LAB\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n    r3: {}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\", \"r3:eth1\"]\n",
    );
    let file = lab.path();
    let panel = format!("{}.panel", lab.name);
    patchwire(&["impair", "--lab", file, "r1:eth1", "--rate", "10mbit"]).fails_with(
        "r1:eth1 is a hub member: its frames leave by every other member, so a rate or delay has \
         no single port to live on; loss, corruption and duplication work",
    );
    let set = patchwire(&["-j", "impair", "--lab", file, "r1:eth1", "--loss", "50%"])
        .ok()
        .json();
    assert_eq!(set["directions"][0]["direction"]["to"], "");
    patchwire(&["impair", "--lab", file, "r1:eth1", "--both", "--loss", "1%"]).fails_with(
        "--both: r1:eth1 is a hub member, whose frames go to several ports; impair each member",
    );
    // Cutting a member's cable takes only its port down; a watcher's pass keeps it cut.
    let cut = patchwire(&["-j", "cut", "--lab", file, "r1:eth1"])
        .ok()
        .json();
    assert_eq!(cut["ports"], serde_json::json!(["r1.eth1"]));
    let (r1, r2) = (format!("{}-r1", lab.name), format!("{}-r2", lab.name));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !common::link_in(&r1, "eth1").contains("NO-CARRIER") {
        assert!(Instant::now() < deadline, "r1 eth1 kept carrier");
        std::thread::sleep(Duration::from_millis(10));
    }
    patchwire(&["-n", &panel, "watch", "--once"]).ok();
    assert!(common::ip_in(&panel, "-o link show dev r1.eth1").contains("state DOWN"));
    assert!(
        !common::link_in(&r2, "eth1").contains("NO-CARRIER"),
        "the other members keep theirs"
    );
    patchwire(&["mend", "--lab", file, "r1:eth1"]).ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::link_in(&r1, "eth1").contains("NO-CARRIER") {
        assert!(
            Instant::now() < deadline,
            "r1 eth1 did not get carrier back"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

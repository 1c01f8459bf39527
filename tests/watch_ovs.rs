//! `watch` with a real LACP client (issue #5): two Open vSwitch bonds (userspace datapath, one
//! private ovsdb-server + ovs-vswitchd per namespace) negotiate LACP through two patchwire
//! wires. With `watch` running, cutting one member on one side takes the far member's carrier
//! away at once, and the far OvS disables it because the *link* went down (not by LACP timeout);
//! it comes back with the member. Without `watch` (the negative control), the far member keeps
//! its carrier and OvS only notices by the fast LACP timeout.
//!
//! ```text
//!  a (OvS bond0: a1 a2)        lab                       b (OvS bond0: b1 b2)
//!    a1 ---- la1 ==wire== lb1 ---- b1
//!    a2 ---- la2 ==wire== lb2 ---- b2
//! ```
//!
//! Needs root and openvswitch-switch (scripts/test installs it). The daemons run as children of
//! this process under `timeout -s KILL` (not `--detach`), so they are reaped at once and die even
//! if the test process is killed; they are stopped on drop (SIGTERM, then SIGKILL).

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ovs::{Guarded, Ovs};
use common::*;

/// Upper bound on the life of every process this test starts (the test takes < 30 s).
const PROCESS_LIFETIME: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A running `patchwire -n NS -j watch` whose output lines are collected; stopped on drop.
struct Watch {
    process: Guarded,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(ns: &TestNs) -> Watch {
        let mut process = Guarded::spawn(
            "patchwire watch",
            &[common::bin(), "-n", &ns.name, "-j", "watch"],
            Stdio::piped(),
            &[],
            PROCESS_LIFETIME,
        )
        .unwrap();
        let stdout = process
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .expect("watch stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Watch { process, lines }
    }

    fn events(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Waits (bounded) for an event of `kind` about `end`.
    fn wait_event(&self, kind: &str, end: &str, limit: Duration) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(event) = self
                .events()
                .into_iter()
                .find(|e| e["event"] == kind && e["end"] == end)
            {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} event for {end} within {limit:?}; got {:?}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Where a namespace's OvS keeps its database, sockets and logs (removed with the Ovs).
fn ovs_dir(ns: &TestNs) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}-ovs", ns.name))
}

fn link_line(ns: &TestNs, dev: &str) -> String {
    ns.ip(&format!("-o link show dev {dev}"))
}

fn has_carrier(ns: &TestNs, dev: &str) -> bool {
    let line = link_line(ns, dev);
    line.contains("LOWER_UP") && !line.contains("NO-CARRIER")
}

/// The interface's alias, or "" (`ip -j` leaves `ifalias` out when there is none).
fn alias(ns: &TestNs, dev: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(&ns.ip(&format!("-j link show dev {dev}"))).expect("ip -j");
    json[0]["ifalias"].as_str().unwrap_or_default().to_string()
}

/// Polls every 20 ms until `done` holds; panics after `limit` with `state()` for context.
fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool, state: impl Fn() -> String) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}\n{}",
            state()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

type Check<'a> = (&'a str, &'a dyn Fn() -> bool);

/// Polls every 20 ms until every check has held (each is recorded the first time it holds);
/// returns when each first held, for messages. Panics after `limit`, saying which did not.
fn wait_stages(
    what: &str,
    limit: Duration,
    checks: &[Check<'_>],
    state: impl Fn() -> String,
) -> String {
    let start = Instant::now();
    let mut seen: Vec<Option<Duration>> = vec![None; checks.len()];
    loop {
        for (at, (_, check)) in seen.iter_mut().zip(checks) {
            if at.is_none() && check() {
                *at = Some(start.elapsed());
            }
        }
        let record = checks
            .iter()
            .zip(&seen)
            .map(|((name, _), at)| match at {
                Some(at) => format!("{name} {}ms", at.as_millis()),
                None => format!("{name} NOT YET"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        if seen.iter().all(Option::is_some) {
            return record;
        }
        assert!(
            start.elapsed() < limit,
            "{what}: not within {limit:?}: {record}\n{}",
            state()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Test
// ---------------------------------------------------------------------------------------------

#[test]
fn lacp_bond_member_goes_down_at_once_when_watch_propagates_carrier() {
    let started = Instant::now();
    let (a, b, lab) = (TestNs::new(), TestNs::new(), TestNs::new());
    veth(&a, "a1", &lab, "la1");
    veth(&a, "a2", &lab, "la2");
    veth(&b, "b1", &lab, "lb1");
    veth(&b, "b2", &lab, "lb2");
    lab.patchwire(&["link", "la1", "lb1"]).ok();
    lab.patchwire(&["link", "la2", "lb2"]).ok();
    // Declared after the namespaces: dropped (daemons stopped) before they are deleted.
    let ovs_a = Ovs::start(&a.name, ovs_dir(&a), ["a1", "a2"], PROCESS_LIFETIME).unwrap();
    let ovs_b = Ovs::start(&b.name, ovs_dir(&b), ["b1", "b2"], PROCESS_LIFETIME).unwrap();
    let bonds = || {
        format!(
            "a:\n{}\nb:\n{}",
            ovs_a.appctl(&["lacp/show", "bond0"]).unwrap(),
            ovs_b.appctl(&["lacp/show", "bond0"]).unwrap()
        )
    };

    // LACP negotiates through the wires: LACPDUs (slow protocols, 01:80:c2:00:00:02) pass.
    wait_until(
        "LACP negotiated on all four members through the wires",
        Duration::from_secs(30),
        || {
            [
                (&ovs_a, "a1"),
                (&ovs_a, "a2"),
                (&ovs_b, "b1"),
                (&ovs_b, "b2"),
            ]
            .iter()
            .all(|(ovs, m)| ovs.lacp_current(m).unwrap() && ovs.member_enabled(m).unwrap())
        },
        bonds,
    );
    let negotiated = started.elapsed();

    let mut watch = Watch::start(&lab);
    // No ready line: give it a moment to subscribe and reconcile. (Were it late, its first
    // reconcile would still find la1 without carrier: the outcome is the same.)
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        watch.events(),
        Vec::<serde_json::Value>::new(),
        "healthy wires need nothing"
    );

    // --- a1 down: b1 loses its carrier at once, and OvS in b knows it from the link. ---
    let b1_before = ovs_b.lacp_stats("b1").unwrap();
    let cut = Instant::now();
    a.ip("link set dev a1 down");
    let stages = wait_stages(
        "a1 down",
        Duration::from_secs(5),
        &[
            ("lb1 held for la1", &|| {
                alias(&lab, "lb1").starts_with("patchwire held down: far end la1")
            }),
            ("b1 NO-CARRIER", &|| {
                link_line(&b, "b1").contains("NO-CARRIER")
            }),
            ("OvS b1 link_state down", &|| {
                ovs_b.link_state("b1").unwrap() == "down"
            }),
            ("OvS b1 disabled", &|| !ovs_b.member_enabled("b1").unwrap()),
        ],
        || {
            format!(
                "lb1: {}b1: {}link_state {}\n{}",
                link_line(&lab, "lb1"),
                link_line(&b, "b1"),
                ovs_b.link_state("b1").unwrap(),
                ovs_b.bond_show().unwrap()
            )
        },
    );
    let down_after = cut.elapsed();
    // OvS's own account: b1 went because its carrier changed, not because LACPDUs stopped.
    let after = ovs_b.lacp_stats("b1").unwrap();
    assert_eq!(
        (after.carrier_changed, after.expired),
        (b1_before.carrier_changed + 1, b1_before.expired),
        "b1 must go by carrier loss, not LACP timeout (carrier changes, expiries before: \
         {b1_before:?}; stages: {stages})"
    );
    let event = watch.wait_event("link-down-propagated", "lb1", Duration::from_secs(5));
    assert_eq!(event["because"], "la1", "{event}");
    assert_eq!(event["netns"], lab.name.as_str(), "{event}");
    // Only the far side of the wire changed: la1 (the source) and the other wire are left alone.
    assert_eq!(alias(&lab, "la1"), "");
    assert_eq!(alias(&lab, "lb2"), "");
    assert!(
        ovs_b.member_enabled("b2").unwrap(),
        "{}",
        ovs_b.bond_show().unwrap()
    );

    // --- a1 up: b1's carrier is back, the hold is gone, LACP re-enables b1. ---
    let restored = Instant::now();
    a.ip("link set dev a1 up");
    wait_until(
        "b1 carrier back and lb1 released",
        Duration::from_secs(5),
        || has_carrier(&b, "b1") && alias(&lab, "lb1").is_empty(),
        || format!("lb1: {}b1: {}", link_line(&lab, "lb1"), link_line(&b, "b1")),
    );
    let event = watch.wait_event("link-up-propagated", "lb1", Duration::from_secs(5));
    assert_eq!(event["because"], "la1", "{event}");
    wait_until(
        "b1 re-enabled in the bond",
        Duration::from_secs(10),
        || ovs_b.member_enabled("b1").unwrap() && ovs_b.link_state("b1").unwrap() == "up",
        || ovs_b.bond_show().unwrap(),
    );
    let up_after = restored.elapsed();
    // patchwire's own changes to lb1 did not bounce back as further events.
    std::thread::sleep(Duration::from_millis(300));
    let kinds: Vec<String> = watch
        .events()
        .iter()
        .map(|e| format!("{} {} {}", e["event"], e["end"], e["because"]))
        .collect();
    assert_eq!(
        kinds,
        [
            r#""link-down-propagated" "lb1" "la1""#,
            r#""link-up-propagated" "lb1" "la1""#
        ]
    );

    // --- Negative control: without watch, cutting a2 leaves b2's carrier up. ---
    let status = watch.process.stop().expect("watch was running");
    assert_eq!(status.code(), Some(0), "watch on SIGTERM: {status}");
    let b2_before = ovs_b.lacp_stats("b2").unwrap();
    let cut = Instant::now();
    a.ip("link set dev a2 down");
    let mut disabled_after = None;
    let deadline = cut + Duration::from_secs(10);
    // Until b2 is disabled and at least 1 s has passed: b2 keeps its carrier all along.
    while disabled_after.is_none() || cut.elapsed() < Duration::from_secs(1) {
        assert!(
            Instant::now() < deadline,
            "b2 not disabled by LACP timeout within 10 s\n{}",
            ovs_b.bond_show().unwrap()
        );
        assert!(
            has_carrier(&b, "b2"),
            "without watch b2 keeps its carrier: {}",
            link_line(&b, "b2")
        );
        assert_eq!(
            ovs_b.link_state("b2").unwrap(),
            "up",
            "OvS saw no link change on b2"
        );
        if disabled_after.is_none() && !ovs_b.member_enabled("b2").unwrap() {
            disabled_after = Some(cut.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(alias(&lab, "lb2"), "", "nothing held lb2");
    let after = ovs_b.lacp_stats("b2").unwrap();
    assert_eq!(
        (after.carrier_changed, after.expired),
        (b2_before.carrier_changed, b2_before.expired + 1),
        "without watch b2 goes by LACP timeout only (before: {b2_before:?})"
    );
    eprintln!("a1 down: {stages}");
    eprintln!(
        "LACP negotiated {negotiated:.1?} after start; with watch b1 disabled {down_after:.0?} \
         after a1 down, re-enabled {up_after:.0?} after a1 up; without watch b2 disabled \
         {:.0?} after a2 down (LACP timeout); test {:.1?}",
        disabled_after.unwrap_or_default(),
        started.elapsed()
    );
}

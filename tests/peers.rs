//! Real protocol peers across wires. lldpd (one private daemon per "router" namespace) sees its
//! neighbour through a wire — LLDP goes to 01:80:c2:00:00:0e, which no 802.1D bridge forwards —
//! and sees nobody through a Linux bridge (the negative control). Two kernel STP bridges joined
//! by two wires (a ring) block exactly one port, and a broadcast then crosses each wire once.
//! Every test builds its own namespaces (IPv6 off, removed on drop, also on panic) and stops
//! the daemons it started.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ovs::Guarded;
use common::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// LLDP with lldpd
// ---------------------------------------------------------------------------------------------

/// How long a neighbour may take to appear through a wire — and how long one must stay away
/// through a bridge. With `tx-interval 1` it appears in about 1 s.
const LLDP_WAIT: Duration = Duration::from_secs(15);

/// A private lldpd inside one namespace, on one interface only, with its own control socket,
/// configuration and files in a directory of its own: nothing touches the host's lldpd,
/// /run/lldpd.socket or /etc/lldpd.d. (The one shared path is the chroot /run/lldpd compiled
/// into Debian's lldpd: it creates it and copies /etc/localtime there, which is harmless.)
struct Lldpd {
    /// The system name it announces: its namespace's name.
    system: String,
    dir: PathBuf,
    daemon: Option<Guarded>,
}

impl Lldpd {
    fn start(ns: &TestNs, dev: &str) -> Lldpd {
        let dir = std::env::temp_dir().join(format!("{}-lldpd", ns.name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lldpd directory");
        let mut lldpd = Lldpd {
            system: ns.name.clone(),
            dir,
            daemon: None,
        };
        // Read by the lldpcli that lldpd starts (with our socket) before it sends anything: the
        // namespaces share the host's hostname, so each announces its namespace's name instead.
        let conf = lldpd.path("lldpd.conf");
        std::fs::write(
            &conf,
            format!(
                "configure system hostname {}\nconfigure lldp tx-interval 1\n",
                lldpd.system
            ),
        )
        .expect("lldpd.conf");
        let (socket, pid, log) = (
            lldpd.path("lldpd.socket"),
            lldpd.path("lldpd.pid"),
            lldpd.path("lldpd.log"),
        );
        // -dd: foreground, log to stderr only (not syslog); -u: control socket; -p: pid file
        // (not /run/lldpd.pid); -I: this interface only; -O: this configuration only.
        let command = [
            "ip",
            "netns",
            "exec",
            &ns.name,
            "sh",
            "-c",
            r#"log=$1; shift; exec lldpd "$@" 2>"$log""#,
            "sh",
            &log,
            "-dd",
            "-u",
            &socket,
            "-p",
            &pid,
            "-I",
            dev,
            "-O",
            &conf,
        ];
        let daemon = Guarded::spawn(
            "lldpd",
            &command,
            Stdio::null(),
            &[],
            Duration::from_secs(90),
        )
        .unwrap_or_else(|e| panic!("{e} (is the lldpd package installed? scripts/test does)"));
        lldpd.daemon = Some(daemon);
        // Ready when the control socket answers and the configuration has been applied.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let hostname = lldpd
                .cli(&["show", "chassis"])
                .ok()
                .and_then(|v| first_chassis(&v["local-chassis"]["chassis"]));
            if hostname.as_deref() == Some(lldpd.system.as_str()) {
                return lldpd;
            }
            if let Some(status) = lldpd.daemon.as_mut().and_then(|d| d.exited()) {
                panic!("lldpd exited ({status}): {}", lldpd.log());
            }
            assert!(
                Instant::now() < deadline,
                "lldpd in {} not ready within 10 s: {}",
                ns.name,
                lldpd.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }

    /// `lldpcli -u SOCKET -f json ARGS`.
    fn cli(&self, args: &[&str]) -> Result<Value, String> {
        let output = Command::new("lldpcli")
            .args(["-u", &self.path("lldpd.socket"), "-f", "json"])
            .args(args)
            .output()
            .map_err(|e| format!("lldpcli: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "lldpcli {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| {
            format!(
                "lldpcli {}: not JSON ({e}): {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    fn neighbours(&self) -> Vec<Neighbour> {
        let json = self
            .cli(&["show", "neighbors"])
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log()));
        per_interface(&json["lldp"]["interface"])
            .into_iter()
            .map(|(interface, entry)| Neighbour::parse(interface, entry))
            .collect()
    }

    /// LLDPDUs (transmitted, received) on its one interface.
    fn statistics(&self) -> (u64, u64) {
        let json = self
            .cli(&["show", "statistics"])
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log()));
        let entries = per_interface(&json["lldp"]["interface"]);
        assert_eq!(entries.len(), 1, "one interface: {json}");
        let count = |key: &str| -> u64 {
            entries[0].1[key][key]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {json}"))
        };
        (count("tx"), count("rx"))
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.path("lldpd.log")).unwrap_or_default();
        format!("lldpd log of {}:\n{text}", self.system)
    }
}

impl Drop for Lldpd {
    fn drop(&mut self) {
        // SIGTERM (lldpd removes its socket and its unprivileged child exits with it), then
        // SIGKILL to the process group after 3 s.
        drop(self.daemon.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// lldpcli's JSON holds one entry as `{"eth0": {..}}` and several as `[{"eth0": {..}}, ..]`
/// (and leaves the key out when there is none): (local interface, entry) pairs either way.
fn per_interface(value: &Value) -> Vec<(&str, &Value)> {
    let objects: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        _ => vec![],
    };
    objects
        .into_iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.iter().map(|(k, v)| (k.as_str(), v)))
        .collect()
}

/// The system name of a `"chassis": {"NAME": {"id": ..}}` object.
fn first_chassis(chassis: &Value) -> Option<String> {
    chassis
        .as_object()?
        .keys()
        .find(|k| *k != "id")
        .map(String::to_string)
}

/// What one lldpd learnt about the other end.
#[derive(Debug, PartialEq, Eq)]
struct Neighbour {
    /// Our interface it was heard on.
    interface: String,
    system: String,
    chassis_id: String,
    port_id: String,
    port_descr: String,
}

impl Neighbour {
    fn parse(interface: &str, entry: &Value) -> Neighbour {
        let system = first_chassis(&entry["chassis"]).unwrap_or_default();
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Neighbour {
            interface: interface.to_string(),
            chassis_id: text(&entry["chassis"][&system]["id"]["value"]),
            system,
            port_id: text(&entry["port"]["id"]["value"]),
            port_descr: text(&entry["port"]["descr"]),
        }
    }
}

/// Two routers q1 and q2, one interface each (r1, r2), whose veth peers p1 and p2 sit in `mid`.
struct Routers {
    q1: TestNs,
    q2: TestNs,
    mid: TestNs,
}

impl Routers {
    fn new() -> Routers {
        let (q1, q2, mid) = (TestNs::new(), TestNs::new(), TestNs::new());
        veth(&q1, "r1", &mid, "p1");
        veth(&q2, "r2", &mid, "p2");
        Routers { q1, q2, mid }
    }

    /// What each router's lldpd should see: the other router, on the other router's interface.
    fn expected(&self) -> [Neighbour; 2] {
        let seen = |from: &str, ns: &TestNs, dev: &str| {
            let mac = mac(ns, dev);
            Neighbour {
                interface: from.to_string(),
                system: ns.name.clone(),
                chassis_id: mac.clone(),
                port_id: mac,
                port_descr: dev.to_string(),
            }
        };
        [seen("r1", &self.q2, "r2"), seen("r2", &self.q1, "r1")]
    }

    fn lldpds(&self) -> [Lldpd; 2] {
        [Lldpd::start(&self.q1, "r1"), Lldpd::start(&self.q2, "r2")]
    }
}

fn mac(ns: &TestNs, dev: &str) -> String {
    let json: Value = serde_json::from_str(&ns.ip(&format!("-j link show dev {dev}"))).unwrap();
    json[0]["address"].as_str().unwrap().to_string()
}

fn rx_packets(ns: &TestNs, dev: &str) -> u64 {
    let json: Value = serde_json::from_str(&ns.ip(&format!("-j -s link show dev {dev}"))).unwrap();
    json[0]["stats64"]["rx"]["packets"].as_u64().unwrap()
}

#[test]
fn lldp_neighbours_see_each_other_across_a_wire() {
    let routers = Routers::new();
    routers.mid.patchwire(&["link", "p1", "p2"]).ok();
    let started = Instant::now();
    let lldpds = routers.lldpds();
    let expected = routers.expected();

    let deadline = started + LLDP_WAIT;
    let seen = loop {
        let seen = lldpds.each_ref().map(Lldpd::neighbours);
        if seen.iter().all(|n| !n.is_empty()) {
            break seen;
        }
        assert!(
            Instant::now() < deadline,
            "no LLDP neighbour across the wire within {LLDP_WAIT:?}: {seen:?}\n{}\n{}",
            lldpds[0].log(),
            lldpds[1].log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!(
        "LLDP neighbours across the wire after {:?}",
        started.elapsed()
    );
    for (seen, expected) in seen.into_iter().zip(expected) {
        assert_eq!(
            seen,
            vec![expected],
            "each router sees exactly the other one"
        );
    }

    // The LLDPDUs went through the wire's own filters, both ways.
    let show = routers.mid.patchwire(&["-j", "show"]).ok().json();
    for direction in ["a_to_b", "b_to_a"] {
        let packets = show[0][direction]["packets"].as_u64().unwrap();
        assert!(packets >= 1, "{direction}: {show}");
    }
}

#[test]
fn lldp_neighbours_stay_invisible_across_a_bridge() {
    // Negative control, so the test above can fail: the same pair joined by a Linux bridge,
    // which consumes (never forwards) frames to 01:80:c2:00:00:0e.
    let routers = Routers::new();
    routers.mid.ip("link add br0 type bridge");
    routers.mid.ip("link set dev p1 master br0");
    routers.mid.ip("link set dev p2 master br0");
    routers.mid.ip("link set dev br0 up");
    let started = Instant::now();
    let lldpds = routers.lldpds();

    let deadline = started + LLDP_WAIT;
    while Instant::now() < deadline {
        let seen = lldpds.each_ref().map(Lldpd::neighbours);
        assert!(
            seen.iter().all(Vec::is_empty),
            "an LLDP neighbour across a bridge: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Both daemons were talking the whole time, and their frames reached the bridge.
    for (lldpd, dev) in lldpds.iter().zip(["p1", "p2"]) {
        let (tx, rx) = lldpd.statistics();
        assert!(tx >= 5, "{} sent only {tx} LLDPDUs", lldpd.system);
        assert_eq!(rx, 0, "{} received LLDPDUs", lldpd.system);
        let arrived = rx_packets(&routers.mid, dev);
        assert!(
            arrived >= 5,
            "only {arrived} frames reached the bridge on {dev}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Kernel STP
// ---------------------------------------------------------------------------------------------

/// A Linux bridge br0 with STP on, as fast as the kernel allows: forward_delay 2 s (the minimum
/// with STP on: less is refused with ERANGE, or raised to 2 s when STP is switched on at
/// creation) and hello_time 1 s. Ports spend 2 s listening and 2 s learning.
fn stp_bridge(ns: &TestNs, ports: [&str; 2]) {
    ns.ip("link add br0 type bridge stp_state 1 forward_delay 200 hello_time 100");
    assert_eq!(bridge_value(ns, "forward_delay"), "200");
    assert_eq!(bridge_value(ns, "hello_time"), "100");
    for port in ports {
        ns.ip(&format!("link set dev {port} master br0"));
    }
    ns.ip("link set dev br0 up");
}

/// /sys/class/net/br0/bridge/NAME as the namespace sees it.
fn bridge_value(ns: &TestNs, name: &str) -> String {
    ns.exec(&["cat", &format!("/sys/class/net/br0/bridge/{name}")])
        .trim()
        .to_string()
}

/// (bridge's namespace, port, STP state) of every port of both bridges.
fn port_states(bridges: [&TestNs; 2]) -> Vec<(String, String, String)> {
    let mut states = Vec::new();
    for ns in bridges {
        let json: Value =
            serde_json::from_str(&run("bridge", &["-n", &ns.name, "-j", "link", "show"])).unwrap();
        for port in json.as_array().unwrap() {
            states.push((
                ns.name.clone(),
                port["ifname"].as_str().unwrap().to_string(),
                port["state"].as_str().unwrap().to_string(),
            ));
        }
    }
    states
}

/// Polls (every 100 ms, at most `limit`) until `done` holds for the port states and both
/// bridges agree on the root bridge (so BPDUs did cross); returns the states.
fn wait_for_states(
    bridges: [&TestNs; 2],
    what: &str,
    limit: Duration,
    done: impl Fn(&[(String, String, String)]) -> bool,
) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + limit;
    loop {
        let states = port_states(bridges);
        let roots = bridges.map(|ns| bridge_value(ns, "root_id"));
        if done(&states) && roots[0] == roots[1] {
            return states;
        }
        assert!(
            Instant::now() < deadline,
            "not {what} within {limit:?}: {states:?}, root ids {roots:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn count(states: &[(String, String, String)], state: &str) -> usize {
    states.iter().filter(|s| s.2 == state).count()
}

/// Packets through all wires of `mid`, both directions.
fn wire_packets(mid: &TestNs) -> u64 {
    let show = mid.patchwire(&["-j", "show"]).ok().json();
    show.as_array()
        .unwrap()
        .iter()
        .flat_map(|w| ["a_to_b", "b_to_a"].map(|d| w[d]["packets"].as_u64().unwrap()))
        .sum()
}

#[test]
fn stp_blocks_exactly_one_port_of_a_ring_of_two_wires() {
    // b1's br0 (ports e1, e2) and b2's br0 (f1, f2); the ports' veth peers m1, m2, n1, n2 sit
    // in mid, where wires m1 <-> n1 and m2 <-> n2 make the ring br0 - e1 - f1 - br0 - f2 - e2.
    let (b1, b2, mid) = (TestNs::new(), TestNs::new(), TestNs::new());
    veth(&b1, "e1", &mid, "m1");
    veth(&b1, "e2", &mid, "m2");
    veth(&b2, "f1", &mid, "n1");
    veth(&b2, "f2", &mid, "n2");
    stp_bridge(&b1, ["e1", "e2"]);
    stp_bridge(&b2, ["f1", "f2"]);
    let bridges = [&b1, &b2];
    let started = Instant::now();

    // One wire: no ring, so nothing blocks (the contrast that shows the check below can fail),
    // yet the bridges agree on one root — BPDUs crossed the wire.
    mid.patchwire(&["link", "m1", "n1"]).ok();
    wait_for_states(
        bridges,
        "all four ports forwarding",
        Duration::from_secs(15),
        |s| count(s, "forwarding") == 4,
    );
    let one_wire = started.elapsed();

    // The second wire closes the ring. Take e2 out of its bridge meanwhile, so there is no
    // moment with a ring of forwarding ports: it re-enters through STP's listening state.
    // (patchwire cannot see rings closed through bridges — README, "Loop guard" — so it would
    // not refuse this wire without --allow-loop; the flag says the ring is meant.)
    b1.ip("link set dev e2 nomaster");
    mid.patchwire(&["link", "m2", "n2", "--allow-loop"]).ok();
    b1.ip("link set dev e2 master br0");
    let states = wait_for_states(
        bridges,
        "one port blocking and three forwarding",
        Duration::from_secs(15),
        |s| count(s, "blocking") == 1 && count(s, "forwarding") == 3,
    );
    eprintln!(
        "STP: all forwarding over one wire after {one_wire:?}, one port blocking over two after {:?}",
        started.elapsed()
    );
    // The blocked port is on the bridge that is not the root.
    let blocked = states.iter().find(|s| s.2 == "blocking").unwrap();
    let on = if blocked.0 == b1.name { &b1 } else { &b2 };
    assert_ne!(
        bridge_value(on, "bridge_id"),
        bridge_value(on, "root_id"),
        "{blocked:?} is on the root bridge"
    );

    // The loop is broken: broadcasts sent into b1's bridge cross each wire once (b1 floods them
    // to b2, b2 back over the other wire, where the blocked port drops them) instead of
    // circulating. Allowance on top: hello BPDUs and topology-change notices meanwhile.
    const FRAMES: u64 = 20;
    let before = wire_packets(&mid);
    let socket = packet_socket(&b1, "br0");
    let mut frame = vec![0u8; 60];
    frame[..6].copy_from_slice(&[0xff; 6]);
    frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0xb1]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    for _ in 0..FRAMES {
        socket.send(&frame).unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    let crossed = wire_packets(&mid) - before;
    assert!(
        (2 * FRAMES..=2 * FRAMES + 20).contains(&crossed),
        "{FRAMES} broadcasts made {crossed} wire crossings (a loop makes thousands)"
    );
    let after = port_states(bridges);
    assert_eq!(
        (count(&after, "blocking"), count(&after, "forwarding")),
        (1, 3),
        "{after:?}"
    );
}

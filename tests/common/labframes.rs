//! The lab tests' (tests/lab.rs) frames across a lab (their lab file is `labfile.rs`'s): the probe catalogue sent and counted where it arrives, a segment's
//! fan-out, a stream of numbered frames while something changes, a mirror's copies.

use super::*;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[allow(unused_imports)] // not every test file uses it
pub use super::labfile::LabFile;

/// The namespaces under /run/netns whose names start with `prefix` (tests run in parallel:
/// each looks only at its own lab's).
pub fn netns_list(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn ifindex_in(netns: &str, dev: &str) -> u32 {
    ip_in(netns, &format!("-o link show dev {dev}"))
        .split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Frames sent into `from` (an interface in namespace `from_ns`) and those arriving at each of
/// `to`: returns, per receiver, how many of the sent frames arrived byte for byte.
pub fn cross(from_ns: &str, from: &str, to: &[(&str, &str)], frames: &[Vec<u8>]) -> Vec<usize> {
    use patchwire::netns::Netns;
    use patchwire::packet::PacketSocket;
    let open = |ns: &str, dev: &str| {
        let index = ifindex_in(ns, dev);
        let socket = Netns::open(Some(ns))
            .unwrap()
            .run(move || PacketSocket::open(index))
            .unwrap()
            .unwrap();
        socket.drain();
        socket
    };
    let receivers: Vec<PacketSocket> = to.iter().map(|(ns, dev)| open(ns, dev)).collect();
    let sender = open(from_ns, from);
    for frame in frames {
        sender.send(frame).unwrap();
    }
    receivers
        .iter()
        .map(|receiver| {
            let mut arrived = 0;
            let deadline = Instant::now() + patience(Duration::from_secs(2));
            while let Some(got) = receiver.recv_until(deadline).unwrap() {
                if frames.contains(&got) {
                    arrived += 1;
                }
                if arrived == frames.len() {
                    break;
                }
            }
            arrived
        })
        .collect()
}

/// A segment's fan-out, checked with real frames: what `from`'s member (NODE, IF) sends reaches
/// each of `others` once, byte for byte, and never comes back to `from`.
pub fn fans_out(lab: &LabFile, from: (&str, &str), others: &[(&str, &str)], tag: u8) {
    let (from_ns, others_ns) = (
        lab.ns(from.0),
        others
            .iter()
            .map(|(n, i)| (lab.ns(n), *i))
            .collect::<Vec<_>>(),
    );
    let mut receivers: Vec<(&str, &str)> =
        others_ns.iter().map(|(n, i)| (n.as_str(), *i)).collect();
    receivers.push((&from_ns, from.1));
    let got = cross(&from_ns, from.1, &receivers, &frames(tag));
    let mut expected = vec![KINDS; others.len()];
    expected.push(0);
    assert_eq!(
        got, expected,
        "from {from:?}: every other member once, none back"
    );
}

/// The probe catalogue (LACP, STP, LLDP, PAUSE, 802.1X, other reserved MACs, 802.1Q, QinQ,
/// foreign unicast, broadcast, IPv6 multicast, minimum and 1,514-byte frames), marked with `tag`
/// so each test's frames are its own.
pub fn frames(tag: u8) -> Vec<Vec<u8>> {
    patchwire::probe::catalogue::catalogue([0x02, 0, 0, 0, tag, 1], [tag; 8], 1500)
        .into_iter()
        .map(|f| f.bytes)
        .collect()
}

/// How many frames `frames` makes.
pub const KINDS: usize = 13;

pub const BASIC: &str = "\
name: LAB
topology:
  nodes:
    r1: {}
    r2: {}
    r3: {}
  links:
    - endpoints: [\"r1:eth1\", \"r2:eth1\"]
    - endpoints: [\"r1:eth2\", \"r2:eth2\", \"r3:eth2\"]
      mtu: 9000
    - endpoints: [\"r2:eth3\", \"r3:eth3\"]
";

/// Sends a numbered frame from `from` every millisecond while `during` runs, and returns how
/// many were sent and how many of them arrived at `to` (each at most once).
pub fn frames_during(
    from: (&str, &str),
    to: (&str, &str),
    during: impl FnOnce(),
) -> (usize, usize) {
    use patchwire::netns::Netns;
    use patchwire::packet::PacketSocket;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let open = |(ns, dev): (&str, &str)| {
        let index = ifindex_in(ns, dev);
        let socket = Netns::open(Some(ns))
            .unwrap()
            .run(move || PacketSocket::open(index))
            .unwrap()
            .unwrap();
        socket.drain();
        socket
    };
    let (sender, receiver) = (open(from), open(to));
    let stop = Arc::new(AtomicBool::new(false));
    let sending = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sent = 0usize;
            let deadline = Instant::now() + patience(Duration::from_secs(20));
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                let mut frame = vec![0u8; 64];
                frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0xee, 0x02]);
                frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0xee, 0x01]);
                frame[12..14].copy_from_slice(&[0x88, 0xb5]);
                frame[14..22].copy_from_slice(&(sent as u64).to_be_bytes());
                sender.send(&frame).unwrap();
                sent += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            sent
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    during();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::SeqCst);
    let sent = sending.join().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + patience(Duration::from_secs(2));
    while let Some(frame) = receiver.recv_until(deadline).unwrap() {
        if frame[6..12] == [0x02, 0, 0, 0, 0xee, 0x01] {
            assert!(seen.insert(frame[14..22].to_vec()), "a frame arrived twice");
        }
        if seen.len() == sent {
            break;
        }
    }
    (sent, seen.len())
}

pub fn run_probe(panel: &str, port: &str) {
    let run = patchwire(&["-n", panel, "probe", port]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// Sends `frames(tag)` from (NS, IF) and counts, at `peer` and at the analyzer `mon`, how many
/// of them arrived: every copy, so a frame copied twice counts twice (each receiver is read
/// until it has been quiet for 300 ms after the frames are in, at most 2 s).
pub fn copies(
    from: (&str, &str),
    peer: (&str, &str),
    mon: (&str, &str),
    tag: u8,
) -> (usize, usize) {
    use patchwire::netns::Netns;
    use patchwire::packet::PacketSocket;
    let open = |(ns, dev): (&str, &str)| {
        let index = ifindex_in(ns, dev);
        let socket = Netns::open(Some(ns))
            .unwrap()
            .run(move || PacketSocket::open(index))
            .unwrap()
            .unwrap();
        socket.drain();
        socket
    };
    let (peer, mon, sender) = (open(peer), open(mon), open(from));
    let sent = frames(tag);
    for frame in &sent {
        sender.send(frame).unwrap();
    }
    let count = |receiver: &PacketSocket| {
        let mut arrived = 0;
        let end = Instant::now() + patience(Duration::from_secs(2));
        loop {
            let quiet = Instant::now() + Duration::from_millis(300);
            let deadline = if arrived >= sent.len() {
                quiet.min(end)
            } else {
                end
            };
            match receiver.recv_until(deadline).unwrap() {
                Some(got) if sent.contains(&got) => arrived += 1,
                Some(_) => {}
                None => break arrived,
            }
        }
    };
    (count(&peer), count(&mon))
}

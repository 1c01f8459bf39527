//! A wire is a cable: its ends send nothing of their own, nothing is delivered twice, nothing
//! is taken before the wire without `show` saying so, and ends that belong to something else
//! (a bridge) are refused. Real namespaces, real frames (AF_PACKET), iproute2 as the observer.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// q (the routers' side, IPv6 off) holds qa, qb, qc, qm; `mid` holds their veth peers wa, wb,
/// wc and mon, with IPv6 ON as in a namespace nobody has tuned: ends that talk, unless silenced.
struct Bench {
    q: TestNs,
    mid: TestNs,
}

impl Bench {
    fn new() -> Bench {
        let (q, mid) = (TestNs::new(), TestNs::with_ipv6());
        for (near, far) in [("wa", "qa"), ("wb", "qb"), ("wc", "qc"), ("mon", "qm")] {
            veth(&mid, near, &q, far);
        }
        Bench { q, mid }
    }

    fn mac(&self, dev: &str) -> [u8; 6] {
        let line = self.mid.ip(&format!("-o link show dev {dev}"));
        let text = line
            .split("link/ether ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let bytes: Vec<u8> = text
            .split(':')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    fn sysctl(&self, dev: &str) -> String {
        self.mid
            .exec(&[
                "cat",
                &format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"),
            ])
            .trim()
            .to_string()
    }

    /// A frame from qa's side with the given source MAC, `len` bytes.
    fn send(&self, far: &str, frames: usize, len: usize) {
        let mut frame = vec![0u8; len];
        frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x22]);
        frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x11]);
        frame[12..14].copy_from_slice(&[0x88, 0xb5]);
        let index = ifindex(&self.q, far).0;
        self.q
            .netns()
            .run(move || {
                let socket = patchwire::packet::PacketSocket::open(index).unwrap();
                for _ in 0..frames {
                    socket.send(&frame).unwrap();
                }
            })
            .unwrap();
    }
}

#[test]
fn wire_ends_send_nothing_of_their_own_and_get_it_back_on_unlink() {
    let bench = Bench::new();
    let (q, mid) = (&bench.q, &bench.mid);
    // Fresh ends, still down (as in a lab whose ports come up after wiring), and a control end
    // wn made the same way but never wired.
    for (near, far) in [("xa", "ya"), ("xb", "yb"), ("wn", "yn")] {
        mid.ip(&format!(
            "link add name {near} type veth peer name {far} netns {}",
            q.name
        ));
    }
    mid.patchwire(&["link", "xa", "xb"]).ok();

    // Bring all three up and listen behind each for 3 s: an end with IPv6 on sends MLD
    // reports, DAD and router solicitations from its own MAC once it has carrier (the control
    // proves it does here); the wire ends send nothing.
    let (mac_a, mac_b, mac_n) = (bench.mac("xa"), bench.mac("xb"), bench.mac("wn"));
    for dev in ["xa", "xb", "wn"] {
        mid.ip(&format!("link set dev {dev} up"));
    }
    for dev in ["ya", "yb", "yn"] {
        q.ip(&format!("link set dev {dev} up"));
    }
    let sockets: Vec<_> = ["ya", "yb", "yn"]
        .into_iter()
        .map(|dev| packet_socket(q, dev))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut heard = [0usize; 3];
    for (i, socket) in sockets.iter().enumerate() {
        while let Some(frame) = socket.recv_until(deadline).unwrap() {
            if [mac_a, mac_b, mac_n].iter().any(|m| frame[6..12] == *m) {
                heard[i] += 1;
            }
        }
    }
    assert!(
        heard[2] > 0,
        "the control end, IPv6 on, talked as it came up"
    );
    assert_eq!(
        heard[..2],
        [0, 0],
        "a frame from a wire end's own MAC came out of the wire"
    );
    // What the kernel holds (iproute2 as the observer): IPv6 off, and the record of it.
    for dev in ["xa", "xb"] {
        let line = mid.ip(&format!("-d link show dev {dev}"));
        assert!(line.contains("altname patchwire.silenced.ipv6."), "{line}");
        assert_eq!(bench.sysctl(dev), "1", "{dev}: IPv6 off");
    }
    assert_eq!(bench.sysctl("wn"), "0");
    for dev in ["xa", "xb"] {
        assert_eq!(
            mid.ip(&format!("-6 addr show dev {dev}")),
            "",
            "{dev}: no address"
        );
    }
    mid.patchwire(&["unlink", "xa"]).ok();
    for dev in ["xa", "xb"] {
        let line = mid.ip(&format!("-d link show dev {dev}"));
        assert!(!line.contains("patchwire."), "{dev}: mark removed: {line}");
        assert_eq!(bench.sysctl(dev), "0", "{dev}: IPv6 back on");
    }

    // Ends that were up and talking before: silenced too.
    mid.patchwire(&["link", "wa", "wb"]).ok();
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "ok", "{show}");
    assert_eq!(show[0]["a"]["silent"], true);

    // Someone turns IPv6 back on: show says so, link puts it right again.
    bench
        .mid
        .exec(&["sysctl", "-qw", "net.ipv6.conf.wa.disable_ipv6=0"]);
    let show = bench.mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "degraded");
    let problems = show[0]["problems"].to_string();
    assert!(
        problems.contains("wa has IPv6 on: it sends router solicitations"),
        "{problems}"
    );
    bench.mid.patchwire(&["link", "wa", "wb"]).ok();
    assert_eq!(bench.sysctl("wa"), "1");
    assert_eq!(
        bench.mid.patchwire(&["-j", "show"]).json()[0]["health"],
        "ok"
    );

    // An IPv4 address is the user's: reported, not removed.
    bench.mid.ip("addr add 198.18.7.1/24 dev wb");
    let run = bench.mid.patchwire(&["link", "wa", "wb"]);
    run.ok();
    assert!(
        run.stderr.contains(
            "warning: wb has address 198.18.7.1/24: the namespace's own stack can send frames from it into the wire"
        ),
        "{}",
        run.stderr
    );
    let show = bench.mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "degraded");
    assert_eq!(show[0]["b"]["addresses"][0], "198.18.7.1/24");
    bench.mid.ip("addr flush dev wb");

    bench.mid.patchwire(&["unlink", "wa"]).ok();
    assert_eq!(bench.sysctl("wa"), "0", "IPv6 back on");
}

#[test]
fn an_end_that_was_silent_before_stays_silent_after_unlink() {
    let bench = Bench::new();
    bench
        .mid
        .exec(&["sysctl", "-qw", "net.ipv6.conf.wa.disable_ipv6=1"]);
    bench.mid.patchwire(&["link", "wa", "wb"]).ok();
    assert!(
        !bench.mid.ip("-d link show dev wa").contains("altname"),
        "nothing to record on wa"
    );
    bench.mid.patchwire(&["unlink", "wa"]).ok();
    assert_eq!(
        bench.sysctl("wa"),
        "1",
        "patchwire gives back only what it turned off"
    );
    assert_eq!(bench.sysctl("wb"), "0");
}

#[test]
fn a_mirror_and_a_wire_never_deliver_a_frame_twice() {
    let bench = Bench::new();
    let mid = &bench.mid;

    // Mirror first, then a wire from its source to its destination: refused, naming it.
    mid.patchwire(&["mirror", "add", "t1", "--from", "wc", "--to", "mon"])
        .ok();
    let before = mid.snapshot();
    mid.patchwire(&["link", "wc", "mon"]).fails_with(
        "mirror t1 copies frames of wc to mon: with a wire wc <-> mon every frame would reach mon \
         twice (once copied, once through the wire). Remove the mirror first (patchwire mirror del t1)",
    );
    // A mirror's destination as a wire end: its copies would leave mixed with the wire's traffic.
    mid.patchwire(&["link", "mon", "wa"]).fails_with(
        "mon is the destination of mirror t1: its copies would leave mon mixed with the wire's \
         traffic, to whatever is behind it. Remove the mirror (patchwire mirror del t1), or add it \
         again with --onto-wire if that is what you want",
    );
    assert_eq!(
        mid.snapshot(),
        before,
        "refusals leave the kernel as it was"
    );
    mid.patchwire(&["mirror", "del", "t1"]).ok();

    // Wire first, then a mirror into one of its ends: refused unless asked for.
    mid.patchwire(&["link", "wa", "wb"]).ok();
    let before = mid.snapshot();
    mid.patchwire(&["mirror", "add", "m1", "--from", "wc", "--to", "wb"]).fails_with(
        "destination wb is an end of wire wa <-> wb: copies sent out of wb would mix with the wire's \
         traffic and reach whatever is behind wb (a router there would see frames of other ports). \
         Mirror to another interface, or add --onto-wire if that is what you want",
    );
    // Even when asked for, never from the wire's other end.
    mid.patchwire(&["mirror", "add", "m2", "--from", "wa", "--to", "wb", "--onto-wire"])
        .fails_with(
            "wa and wb are the two ends of wire wa <-> wb: every frame arriving at wa already leaves wb, \
             so it would arrive twice (and copies of what leaves wa would go back where they came from). \
             Mirror to another interface",
        );
    assert_eq!(mid.snapshot(), before);

    // Asked for: copies of wc's frames leave wb, once each, beside the wire's traffic.
    mid.patchwire(&[
        "mirror",
        "add",
        "m1",
        "--from",
        "wc",
        "--to",
        "wb",
        "--onto-wire",
        "--direction",
        "in",
    ])
    .ok();
    let receiver = packet_socket(&bench.q, "qb");
    bench.send("qc", 5, 80);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut copies = 0;
    while let Some(frame) = receiver.recv_until(deadline).unwrap() {
        if frame.len() == 80 && frame[6..12] == [0x02, 0, 0, 0, 0, 0x11] {
            copies += 1;
        }
    }
    assert_eq!(
        copies, 5,
        "each frame arriving at wc is copied out of wb once"
    );
    // The wire can be re-linked (idempotent) with such a mirror on its end.
    mid.patchwire(&["link", "wa", "wb"]).ok();
}

#[test]
fn mirror_destinations_are_silent_and_down_ones_are_warned_about() {
    let bench = Bench::new();
    let mid = &bench.mid;
    mid.ip("link set dev mon down");
    let run = mid.patchwire(&["mirror", "add", "m", "--from", "wc", "--to", "mon"]);
    run.ok();
    assert!(
        run.stderr
            .contains("warning: destination mon is down: frames copied to it are dropped"),
        "{}",
        run.stderr
    );
    assert_eq!(bench.sysctl("mon"), "1");
    assert!(
        mid.ip("-d link show dev mon")
            .contains("altname patchwire.silenced.ipv6.")
    );
    mid.patchwire(&["mirror", "del", "m"]).ok();
    assert_eq!(
        bench.sysctl("mon"),
        "0",
        "given back when no mirror copies to it"
    );
    assert!(!mid.ip("-d link show dev mon").contains("patchwire."));
}

#[test]
fn wire_and_mirror_count_the_same_bytes_for_the_same_frames() {
    let bench = Bench::new();
    let mid = &bench.mid;
    mid.patchwire(&["link", "wa", "wb"]).ok();
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
    bench.send("qa", 7, 100);
    std::thread::sleep(Duration::from_millis(300));
    let wire = mid.patchwire(&["-j", "show"]).json();
    let mirror = mid.patchwire(&["-j", "mirror", "show"]).json();
    assert_eq!(wire[0]["a_to_b"]["packets"], 7);
    assert_eq!(
        wire[0]["a_to_b"]["bytes"], 700,
        "frame bytes, header included"
    );
    assert_eq!(mirror[0]["packets"], 7);
    assert_eq!(mirror[0]["bytes"], 700, "the same bytes as the wire");
}

#[test]
fn a_foreign_filter_taking_frames_first_is_named_by_show_and_probe() {
    let bench = Bench::new();
    let mid = &bench.mid;
    mid.patchwire(&["link", "wa", "wb"]).ok();
    mid.patchwire(&[
        "mirror",
        "add",
        "m1",
        "--from",
        "wc",
        "--to",
        "wb",
        "--onto-wire",
    ])
    .ok();
    mid.patchwire(&["probe", "wa"]).ok();
    let mon = ifindex(mid, "mon");
    mid.tc("filter add dev wa ingress pref 100 protocol all u32 match u32 0 0 action mirred egress redirect dev mon");

    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "degraded", "{show}");
    let expected = format!(
        "a foreign u32 filter at priority 100 (mirred redirect to ifindex {mon}) on wa's ingress hook \
         runs before the wire and can take its frames (another tool's; patchwire leaves it alone: \
         remove it or make it 'continue')"
    );
    assert_eq!(show[0]["problems"][0], expected.as_str(), "{show}");

    let run = mid.patchwire(&["probe", "wa"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("possible cause: {expected}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("possible cause: mirror m1 copies frames of wc to wb"),
        "{}",
        run.stdout
    );

    // A foreign copy that continues (tc's own SPAN) takes nothing away: not reported.
    mid.tc("filter del dev wa ingress pref 100");
    mid.tc("filter add dev wa ingress pref 101 protocol all u32 match u32 0 0 action mirred egress mirror dev mon continue");
    assert_eq!(mid.patchwire(&["-j", "show"]).json()[0]["health"], "ok");
    mid.tc("filter del dev wa ingress pref 101");
}

#[test]
fn bridge_ports_are_refused_and_held_ends_are_explained() {
    let bench = Bench::new();
    let mid = &bench.mid;
    mid.ip("link add br0 type bridge");
    mid.ip("link set dev wa master br0");
    let before = mid.snapshot();
    mid.patchwire(&["link", "wa", "wb"]).fails_with(
        "wa is a port of bridge br0: the bridge would still send and receive through it (a bridge \
         floods out of it), so it would not be a cable's end. Release it first: ip link set dev wa nomaster",
    );
    assert_eq!(mid.snapshot(), before);
    mid.ip("link set dev wa nomaster");

    mid.patchwire(&["link", "wa", "wb"]).ok();
    bench.q.ip("link set dev qa down");
    settle_down(mid, "wa");
    mid.patchwire(&["watch", "--once"]).ok();
    let show = mid.patchwire(&["-j", "show"]).json();
    let problems = show[0]["problems"].to_string();
    assert!(
        problems.contains(
            "wb is held down by patchwire watch because its far end wa is down or gone; watch brings it back up when wa is"
        ),
        "{problems}"
    );
    assert_eq!(show[0]["b"]["held_for"], "wa");
}

/// Runs a command printed by patchwire, pasted as it is (words split at spaces), from a
/// directory where no namespace is implied: it must name its namespace itself.
fn paste(command: &str) -> Run {
    let words: Vec<&str> = command.split_whitespace().collect();
    let program = match words[0] {
        "patchwire" => common::bin(),
        other => other,
    };
    let output = std::process::Command::new(program)
        .args(&words[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {command}: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into(),
        stderr: String::from_utf8_lossy(&output.stderr).into(),
    }
}

// Issue 18: the fixes plain `show -n NS` prints work when pasted (they carry `-n NS`).
#[test]
fn the_fixes_show_prints_work_pasted() {
    let bench = Bench::new();
    let mid = &bench.mid;
    let ns = mid.name.clone();
    mid.patchwire(&["link", "wa", "wb"]).ok();
    mid.patchwire(&["link", "wc", "mon"]).ok();

    // An address on an end: `ip -n NS addr flush dev wa`.
    mid.ip("addr add 198.18.7.1/24 dev wa");
    // A broken wire: wb's partner is gone; `patchwire -n NS unlink wc`.
    mid.ip("link del mon");
    let text = mid.patchwire(&["show"]).ok().stdout.clone();
    let gone = format!(
        "    ! mon is gone (deleted, or moved to another netns): mirred drops everything wc \
         receives; remove the remains with: patchwire -n {ns} unlink wc\n"
    );
    assert!(text.contains(&gone), "{text}");
    let flush = format!(
        "    ! wa has address 198.18.7.1/24: the namespace's own stack can send frames from it \
         into the wire (a cable sends nothing of its own; remove it with ip -n {ns} addr flush \
         dev wa)\n"
    );
    assert!(text.contains(&flush), "{text}");

    let command = |line: &str, after: &str, before: &str| {
        let start = line.find(after).unwrap() + after.len();
        line[start..line.rfind(before).unwrap()].to_string()
    };
    paste(&command(&gone, "remove the remains with: ", "\n")).ok();
    paste(&command(&flush, "remove it with ", ")\n")).ok();
    assert_eq!(mid.ip("-o addr show dev wa scope global"), "");
    let text = mid.patchwire(&["show"]).ok().stdout.clone();
    assert_eq!(
        text,
        "WIRE       HEALTH    MTU\nwa <-> wb  ok        1500\n"
    );

    // One direction missing: `patchwire -n NS link wa wb` puts it back.
    mid.tc("filter del dev wb ingress pref 20567");
    let text = mid.patchwire(&["show"]).ok().stdout.clone();
    let missing = format!(
        "    ! only wa -> wb is installed; wb -> wa is missing (repair: patchwire -n {ns} link wa \
         wb)\n"
    );
    assert!(text.contains(&missing), "{text}");
    paste(&command(&missing, "(repair: ", ")\n")).ok();
    let text = mid.patchwire(&["show"]).ok().stdout.clone();
    assert_eq!(
        text,
        "WIRE       HEALTH    MTU\nwa <-> wb  ok        1500\n"
    );
}

#[test]
fn messages_say_what_is_wrong() {
    let bench = Bench::new();
    let mid = &bench.mid;
    mid.patchwire(&["link", "wa", "wb"]).ok();

    // An MTU changed after linking: re-running link and show both name the mismatch.
    mid.ip("link set dev wa mtu 9000");
    let run = mid.patchwire(&["link", "wa", "wb"]);
    run.ok();
    assert_eq!(run.stdout.trim(), "already wired: wa <-> wb");
    let mismatch = format!(
        "mtu differs: wa has 9000 but wb has 1500: frames larger than 1514 bytes are dropped \
         towards the smaller end (patchwire -n {} link wa wb --mtu N sets both)",
        mid.name
    );
    assert_eq!(run.stderr.trim(), format!("warning: {mismatch}"));
    let show = mid.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["problems"][0], mismatch);

    mid.patchwire(&["show", "wz"]).fails_with(&format!(
        "interface wz does not exist in netns {}",
        mid.name
    ));
    mid.patchwire(&["show", "wc"]).fails_with(&format!(
        "wc is not on a patchwire wire in netns {}",
        mid.name
    ));
    mid.patchwire(&["link", "wc", "zz", "--wait", "0.2"])
        .fails_with(&format!(
            "interface zz does not exist in netns {} (waited 0.2 s for it)",
            mid.name
        ));
    let run = mid.patchwire(&["-s", "link", "wa", "wb"]);
    assert_eq!(run.code, 2, "-s where it means nothing is a usage error");
    assert!(
        run.stderr
            .contains("-s/--stats applies to `show`, `mirror show` and `impair show` only")
    );
    let run = mid.patchwire(&["link"]);
    assert!(
        run.stderr
            .contains("Usage: patchwire link [OPTIONS] (A B | --batch FILE)"),
        "{}",
        run.stderr
    );
}

/// Waits (bounded) until `dev` has lost its carrier.
fn settle_down(ns: &TestNs, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ns
        .ip(&format!("-o link show dev {dev}"))
        .contains("NO-CARRIER")
    {
        assert!(Instant::now() < deadline, "{dev} kept its carrier");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_hub_port_is_refused_as_a_mirror_destination_unless_asked_for() {
    let bench = Bench::new();
    let mid = &bench.mid;
    patchwire::hub::set(
        mid.netns(),
        &[patchwire::hub::HubRequest::new("seg", &["wa", "wb", "mon"])],
        &patchwire::hub::HubOptions::default(),
    )
    .unwrap();
    let before = mid.snapshot();
    mid.patchwire(&["mirror", "add", "m", "--from", "wc", "--to", "wa"])
        .fails_with(
            "destination wa is a port of hub seg: copies sent out of it would mix with the \
             segment's traffic and reach whatever is behind it. Mirror to another interface, or \
             add --onto-wire if that is what you want",
        );
    assert_eq!(mid.snapshot(), before);
    mid.patchwire(&[
        "mirror",
        "add",
        "m",
        "--from",
        "wc",
        "--to",
        "wa",
        "--onto-wire",
    ])
    .ok();
}

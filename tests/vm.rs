//! VMs on wires against the real kernel and a real qemu: `tap add`/`tap del`, and the qemu
//! `script=`/`downscript=` entry points (`patchwire-ifup`/`patchwire-ifdown` symlinks).
//!
//! qemu runs inside the test namespace with no guest at all (`-M none`): its tap netdev and a
//! UDP `dgram` netdev share a hub, so a datagram sent to qemu's UDP port is one Ethernet frame
//! entering the tap, and every frame the kernel sends out of the tap comes back as a datagram.
//! That makes the whole path UDP -> qemu -> tap -> wire -> veth observable from the test.

mod common;
use common::qemu::*;
use common::*;

use std::io::BufRead;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use patchwire::probe::catalogue::FrameKind;
use patchwire::probe::{self, Port, Verdict};

const MAP_ENV: &str = "PATCHWIRE_TAP_MAP";
const CONFIG_ENV: &str = "PATCHWIRE_TAP_CONFIG";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A temporary directory holding `patchwire-ifup` and `patchwire-ifdown` symlinks to the built
/// binary (it dispatches on its argv[0] name), removed on drop.
struct Scripts {
    dir: PathBuf,
}

impl Scripts {
    fn new(ns: &TestNs) -> Scripts {
        let dir = std::env::temp_dir().join(format!("{}-scripts", ns.name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scripts dir");
        for name in ["patchwire-ifup", "patchwire-ifdown"] {
            std::os::unix::fs::symlink(common::bin(), dir.join(name)).expect("symlink script");
        }
        Scripts { dir }
    }

    /// qemu's tap netdev with these scripts as `script=` and `downscript=`.
    fn netdev(&self, tap: &str) -> String {
        format!(
            "tap,id=t0,ifname={tap},script={},downscript={}",
            self.path("patchwire-ifup"),
            self.path("patchwire-ifdown")
        )
    }

    fn path(&self, name: &str) -> String {
        self.dir
            .join(name)
            .to_str()
            .expect("utf-8 path")
            .to_string()
    }

    /// Runs one script the way qemu would (`SCRIPT TAP`), inside the namespace.
    fn run(&self, ns: &TestNs, script: &str, tap: &str, env: &[(&str, &str)]) -> Run {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &ns.name, &self.path(script), tap]);
        clean_env(&mut command, env);
        let output = command.output().expect("run script");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Drop for Scripts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Only the mapping the test asks for reaches the scripts.
fn clean_env(command: &mut Command, env: &[(&str, &str)]) {
    command
        .env_remove(MAP_ENV)
        .env_remove(CONFIG_ENV)
        .env_remove("PATCHWIRE_FAULT_AT");
    for (key, value) in env {
        command.env(key, value);
    }
}

/// The end named `name` of the only wire.
fn end<'a>(show: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let wire = &show[0];
    if wire["a"]["name"] == name {
        &wire["a"]
    } else {
        assert_eq!(wire["b"]["name"], name, "{show}");
        &wire["b"]
    }
}

/// `lab` with eth1 whose veth peer x1 is in `r1`, both at `mtu`.
fn lab_with_eth1(mtu: u32) -> (TestNs, TestNs) {
    let (r1, lab) = (TestNs::new(), TestNs::new());
    veth(&r1, "x1", &lab, "eth1");
    r1.ip(&format!("link set dev x1 mtu {mtu}"));
    lab.ip(&format!("link set dev eth1 mtu {mtu}"));
    (r1, lab)
}

/// Gives `ns` the address `{net}.1/24` on `dev` and a permanent neighbour `{net}.2`, so a TCP
/// connect to `{net}.2` sends its SYN out of `dev` at once (no ARP).
fn addresses(ns: &TestNs, dev: &str, net: &str) {
    ns.ip(&format!("addr add {net}.1/24 dev {dev}"));
    ns.ip(&format!(
        "neigh add {net}.2 lladdr 02:00:00:00:07:02 dev {dev} nud permanent"
    ));
}

/// A non-blocking TCP connect from inside `ns` to `{net}.2:7777`: sends one SYN; nobody
/// answers, so it gives up after a short, bounded wait.
fn send_syn(ns: &TestNs, net: &str) {
    let target: SocketAddr = format!("{net}.2:7777").parse().unwrap();
    let outcome = ns
        .netns()
        .run(move || TcpStream::connect_timeout(&target, Duration::from_millis(200)))
        .expect("enter netns");
    assert!(outcome.is_err(), "nobody listens at {target}");
}

/// Receives (bounded) until an IPv4 TCP SYN to port 7777 arrives; returns it.
fn receive_syn(port: &dyn Port) -> Vec<u8> {
    let deadline = Instant::now() + patience(Duration::from_secs(3));
    let mut others = 0;
    while let Some(frame) = port.recv_until(deadline).expect("receive") {
        if syn_to_7777(&frame) {
            return frame;
        }
        others += 1;
        assert!(others < 1000, "flooded with unrelated frames");
    }
    panic!("no TCP SYN to port 7777 arrived within 3 s ({others} other frames)");
}

fn syn_to_7777(frame: &[u8]) -> bool {
    if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] || frame[14] >> 4 != 4 {
        return false;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let tcp = 14 + ihl;
    frame[23] == 6
        && frame.len() >= tcp + 20
        && frame[tcp + 2..tcp + 4] == 7777u16.to_be_bytes()
        && frame[tcp + 13] & 0x02 != 0
}

/// The Internet checksum's one's-complement sum of `data` (16-bit big-endian words, an odd
/// last byte padded with zero), added to `sum`, folded to 16 bits.
fn ones_sum(data: &[u8], mut sum: u32) -> u16 {
    let mut words = data.chunks_exact(2);
    for word in &mut words {
        sum += u32::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// (IPv4 header checksum valid, TCP checksum over pseudo-header + segment valid).
fn checksums_valid(frame: &[u8]) -> (bool, bool) {
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    assert!(total >= ihl + 20 && total <= ip.len(), "truncated packet");
    let header_ok = ones_sum(&ip[..ihl], 0) == 0xffff;
    let segment = &ip[ihl..total];
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&ip[12..20]); // source and destination address
    pseudo.extend_from_slice(&[0, 6]); // zero, protocol TCP
    pseudo.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    let pseudo_sum = u32::from(ones_sum(&pseudo, 0));
    let tcp_ok = ones_sum(segment, pseudo_sum) == 0xffff;
    (header_ok, tcp_ok)
}

fn lines_of(text: &str) -> Vec<String> {
    text.as_bytes().lines().map_while(Result::ok).collect()
}

// ---------------------------------------------------------------------------------------------
// qemu's scripts
// ---------------------------------------------------------------------------------------------

#[test]
fn qemu_ifup_wires_the_tap_and_ifdown_removes_it() {
    let (_r1, lab) = lab_with_eth1(9000);
    let scripts = Scripts::new(&lab);
    let mut qemu = Qemu::start(&lab, &scripts.netdev("tap1"), &[]);
    qemu.wait_ready(&lab, "tap1", "eth1");

    let show = lab.patchwire(&["-j", "show"]).json();
    assert_eq!(show.as_array().unwrap().len(), 1, "{show}");
    assert_eq!(show[0]["health"], "ok", "{show}");
    let tap = end(&show, "tap1");
    assert_eq!(tap["attached"], true, "{show}");
    assert_eq!(tap["mtu"], 9000, "the tap has its partner's MTU: {show}");
    assert_eq!(end(&show, "eth1")["mtu"], 9000);
    assert_eq!(lab.wire_filters("eth1"), 1);

    let (status, stderr) = qemu.stop();
    assert!(
        stderr.contains("patchwire-ifup: tap1: up, mtu 9000 (from eth1), wired to eth1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("patchwire-ifdown: tap1: unwired from eth1"),
        "the downscript ran: {stderr}"
    );
    assert!(
        status.success(),
        "qemu ends cleanly on SIGTERM ({status}): {stderr}"
    );
    assert!(
        !lab.devices().iter().any(|d| d == "tap1"),
        "qemu's tap goes with qemu"
    );
    assert_eq!(lab.patchwire(&["show"]).ok().stdout, "no wires\n");
    assert_eq!(lab.wire_filters("eth1"), 0);
    assert!(
        !lab.has_clsact("eth1"),
        "patchwire's clsact goes with the wire"
    );
}

#[test]
fn the_full_probe_catalogue_crosses_udp_qemu_tap_wire_veth_both_ways() {
    let (r1, lab) = lab_with_eth1(9000);
    let scripts = Scripts::new(&lab);
    let udp = UdpPort::open(&lab);
    let mut qemu = Qemu::start(&lab, &scripts.netdev("tap1"), &[]);
    qemu.wait_ready(&lab, "tap1", "eth1");
    let x1 = probe::packet_port(&r1.netns(), ifindex(&r1, "x1"), "x1").unwrap();

    let into_vm = probe::run_direction(&x1, &udp, 9000, "x1", "qemu (udp)").unwrap();
    let from_vm = probe::run_direction(&udp, &x1, 9000, "qemu (udp)", "x1").unwrap();
    for report in [&into_vm, &from_vm] {
        assert!(report.passed(), "{report:#?}");
        let kinds: Vec<FrameKind> = report.results.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, FrameKind::ALL.to_vec());
        assert!(
            report.results.iter().all(|r| r.verdict == Verdict::Ok),
            "{report:#?}"
        );
        let jumbo = report
            .results
            .iter()
            .find(|r| r.kind == FrameKind::Jumbo)
            .unwrap();
        assert_eq!(jumbo.bytes, 9014);
    }
    drop(qemu);
}

/// qemu's ifup with `datapath=ebpf` in the tap mapping: the VM's tap and eth1 are joined by
/// eBPF programs, and the whole catalogue crosses both ways, jumbo frames included.
#[test]
fn qemu_ifup_makes_an_ebpf_wire_when_the_mapping_asks() {
    let (r1, lab) = lab_with_eth1(9000);
    let scripts = Scripts::new(&lab);
    let udp = UdpPort::open(&lab);
    let mut qemu = Qemu::start(
        &lab,
        &scripts.netdev("tap1"),
        &[("PATCHWIRE_TAP_MAP", "tap1 eth1 datapath=ebpf")],
    );
    qemu.wait_ready(&lab, "tap1", "eth1");
    let show = lab.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["datapath"], "ebpf", "{show}");
    let x1 = probe::packet_port(&r1.netns(), ifindex(&r1, "x1"), "x1").unwrap();
    let into_vm = probe::run_direction(&x1, &udp, 9000, "x1", "qemu (udp)").unwrap();
    let from_vm = probe::run_direction(&udp, &x1, 9000, "qemu (udp)", "x1").unwrap();
    assert!(into_vm.passed(), "{into_vm:#?}");
    assert!(from_vm.passed(), "{from_vm:#?}");
    drop(qemu);
}

/// The SYN leaves x1 with an unfinished (CHECKSUM_PARTIAL) checksum; it must reach qemu
/// finished. (qemu with no NIC also turns the tap's own offloads off, so here the kernel would
/// finish it at tap1 even without the switch; the negative control is the virtual-path test.)
#[test]
fn tcp_reaches_qemu_with_valid_checksums_when_tx_checksum_is_off() {
    let (r1, lab) = lab_with_eth1(1500);
    addresses(&r1, "x1", "198.18.7");
    let scripts = Scripts::new(&lab);
    let udp = UdpPort::open(&lab);
    let mut qemu = Qemu::start(
        &lab,
        &scripts.netdev("tap1"),
        &[(MAP_ENV, "tap1 eth1 tx-checksum=off")],
    );
    qemu.wait_ready(&lab, "tap1", "eth1");

    let show = lab.patchwire(&["-j", "show"]).json();
    assert_eq!(end(&show, "tap1")["tx_checksum"], false, "{show}");
    assert_eq!(end(&show, "eth1")["tx_checksum"], false, "{show}");

    udp.drain();
    send_syn(&r1, "198.18.7");
    let syn = receive_syn(&udp);
    assert_eq!(
        checksums_valid(&syn),
        (true, true),
        "IPv4 header and TCP checksums of the SYN as qemu got it: {syn:02x?}"
    );

    let (_, stderr) = qemu.stop();
    assert!(
        stderr.contains(
            "patchwire-ifup: tap1: up, mtu 1500 (from eth1), wired to eth1 (PATCHWIRE_TAP_MAP entry 1), tx-checksum off"
        ),
        "{stderr}"
    );
}

#[test]
fn tx_checksum_off_completes_partial_checksums_on_a_virtual_path() {
    let (r1, r2, lab) = (TestNs::new(), TestNs::new(), TestNs::new());
    veth(&r1, "x1", &lab, "eth1");
    veth(&r2, "y2", &lab, "v2");
    addresses(&r1, "x1", "198.18.8");
    lab.patchwire(&["link", "eth1", "v2"]).ok();
    let y2 = probe::packet_port(&r2.netns(), ifindex(&r2, "y2"), "y2").unwrap();

    // veth keeps CHECKSUM_PARTIAL from x1 through the wire to y2: nobody finishes the TCP
    // checksum, so the frame on the far side carries only the pseudo-header sum.
    y2.drain();
    send_syn(&r1, "198.18.8");
    let partial = receive_syn(&y2);
    assert_eq!(
        checksums_valid(&partial),
        (true, false),
        "without --tx-checksum off the TCP checksum stays unfinished: {partial:02x?}"
    );

    // Re-linking only switches the offload off; the kernel then finishes checksums at v2.
    let before = lab.snapshot_without_carrier();
    let relink = lab.patchwire(&["-j", "link", "eth1", "v2", "--tx-checksum", "off"]);
    assert_eq!(
        relink.ok().json()["changes"],
        2,
        "two offload changes, nothing else: {}",
        relink.stdout
    );
    assert_eq!(
        lab.snapshot_without_carrier(),
        before,
        "no link, qdisc or filter changed"
    );
    let show = lab.patchwire(&["-j", "show"]).json();
    assert_eq!(end(&show, "eth1")["tx_checksum"], false, "{show}");
    assert_eq!(end(&show, "v2")["tx_checksum"], false, "{show}");
    assert_eq!((lab.wire_filters("eth1"), lab.wire_filters("v2")), (1, 1));

    y2.drain();
    send_syn(&r1, "198.18.8");
    let finished = receive_syn(&y2);
    assert_eq!(
        checksums_valid(&finished),
        (true, true),
        "with --tx-checksum off the kernel finishes the checksum: {finished:02x?}"
    );
}

#[test]
fn qemu_ifup_refuses_a_missing_partner_and_a_broken_mapping_file() {
    let lab = TestNs::new();
    let scripts = Scripts::new(&lab);
    lab.patchwire(&["tap", "add", "tap7"]).ok();
    let before = lab.snapshot_without_carrier();

    let run = scripts.run(&lab, "patchwire-ifup", "tap7", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        lines_of(&run.stderr),
        [
            "patchwire-ifup: tap7's partner eth7 does not exist in the current netns \
          (default tapN -> ethN); refusing to start the VM unplugged"
        ]
    );
    assert_eq!(
        lab.snapshot_without_carrier(),
        before,
        "a failed ifup changes nothing"
    );

    // qemu itself refuses to start when its script fails.
    let qemu = Qemu::start(&lab, &scripts.netdev("tap7"), &[]);
    let (status, stderr) = qemu.wait_exit(Duration::from_secs(10));
    let status = status.expect("qemu exits by itself when ifup fails");
    assert!(!status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains("tap7's partner eth7 does not exist")
            && stderr.contains("refusing to start the VM unplugged"),
        "{stderr}"
    );
    assert_eq!(lab.patchwire(&["show"]).ok().stdout, "no wires\n");
    // qemu held tap7 for a moment: wait until linkwatch has marked it down again.
    wait_link(&lab, "tap7", "state DOWN", |line| {
        line.contains("state DOWN")
    });
    assert_eq!(
        lab.snapshot_without_carrier(),
        before,
        "qemu's failed start leaves tap7 as it was"
    );

    // A mapping file with a syntax error: the file and the line are named.
    let file = std::env::temp_dir().join(format!("{}-taps.conf", lab.name));
    std::fs::write(&file, "# lab\ntap7 eth1\ntap8\n").unwrap();
    let path = file.to_str().unwrap();
    let run = scripts.run(&lab, "patchwire-ifup", "tap7", &[(CONFIG_ENV, path)]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        lines_of(&run.stderr),
        [format!(
            "patchwire-ifup: {path} line 3: expected \"TAP PARTNER [tx-checksum=on|off] [datapath=tc|ebpf]\", found \"tap8\""
        )]
    );
    assert_eq!(lab.snapshot_without_carrier(), before);
}

#[test]
fn a_mapping_entry_in_the_environment_picks_the_partner() {
    let (far, lab) = (TestNs::new(), TestNs::new());
    veth(&far, "p5", &lab, "eth5");
    veth(&far, "p1", &lab, "eth1");
    let scripts = Scripts::new(&lab);
    lab.patchwire(&["tap", "add", "tap1"]).ok();

    let run = scripts.run(
        &lab,
        "patchwire-ifup",
        "tap1",
        &[(MAP_ENV, "tap9 eth1; tap1 eth5")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        lines_of(&run.stderr),
        [
            "patchwire-ifup: tap1: up, mtu 1500 (from eth5), wired to eth5 (PATCHWIRE_TAP_MAP entry 2)"
        ]
    );
    let show = lab.patchwire(&["-j", "show"]).json();
    assert_eq!(show.as_array().unwrap().len(), 1);
    assert!(is_wire(&show[0], "tap1", "eth5"), "{show}");
    assert_eq!(
        lab.wire_filters("eth1"),
        0,
        "the default partner is left alone"
    );

    let run = scripts.run(&lab, "patchwire-ifdown", "tap1", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        lines_of(&run.stderr),
        ["patchwire-ifdown: tap1: unwired from eth5"]
    );
    assert_eq!(lab.wire_filters("eth5"), 0);
    assert!(!lab.has_clsact("eth5"));
}

#[test]
fn qemu_ifdown_with_nothing_to_undo_succeeds() {
    let lab = TestNs::new();
    let scripts = Scripts::new(&lab);
    lab.patchwire(&["tap", "add", "tap7"]).ok();
    let before = lab.snapshot_without_carrier();

    let run = scripts.run(&lab, "patchwire-ifdown", "tap7", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        lines_of(&run.stderr),
        ["patchwire-ifdown: tap7 is not wired; nothing to undo"]
    );

    let run = scripts.run(&lab, "patchwire-ifdown", "tap9", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("patchwire-ifdown: tap9 is gone from ")
            && run.stderr.trim_end().ends_with("; nothing to undo"),
        "{}",
        run.stderr
    );
    assert_eq!(
        lab.snapshot_without_carrier(),
        before,
        "ifdown with nothing to undo changes nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// tap add / tap del
// ---------------------------------------------------------------------------------------------

#[test]
fn tap_add_creates_a_persistent_tap_and_tap_del_removes_it_with_its_wire() {
    let (_r1, lab) = lab_with_eth1(9000);
    let run = lab.patchwire(&[
        "tap",
        "add",
        "tap1",
        "--mtu-from",
        "eth1",
        "--vnet-hdr",
        "--queues",
        "4",
        "--owner",
        "65534",
        "--group",
        "0",
    ]);
    assert!(
        run.ok().stdout.starts_with("created tap tap1 (ifindex ")
            && run
                .stdout
                .ends_with(", mtu 9000, vnet_hdr, multi-queue (4 queues))\n"),
        "{}",
        run.stdout
    );
    let details = lab.ip("-d link show dev tap1");
    for expected in [
        "mtu 9000",
        "tun type tap",
        "vnet_hdr on",
        "multi_queue",
        "persist on",
        "pi off",
    ] {
        assert!(details.contains(expected), "{expected:?} in {details}");
    }
    assert!(
        details.contains("user nobody") || details.contains("user 65534"),
        "{details}"
    );
    assert!(
        details.contains("group root") || details.contains("group 0 "),
        "{details}"
    );
    let flags = details.split('<').nth(1).and_then(|f| f.split('>').next());
    assert!(
        flags.is_some_and(|f| f.split(',').any(|flag| flag == "UP")),
        "tap add brings the tap up: {details}"
    );

    // JSON output.
    let run = lab.patchwire(&["-j", "tap", "add", "tap2", "--mtu", "1400"]);
    let tap2 = run.ok().json();
    assert_eq!(tap2["name"], "tap2");
    assert_eq!(tap2["mtu"], 1400);
    assert_eq!(tap2["tun"]["tap"], true);
    assert_eq!(tap2["tun"]["persist"], true);
    assert_eq!(tap2["tun"]["attached"], false);
    assert_eq!(tap2["up"], true);
    let del = lab.patchwire(&["-j", "tap", "del", "tap2"]).ok().json();
    assert_eq!(
        del,
        serde_json::json!({ "deleted": "tap2", "unwired": null })
    );

    assert_eq!(
        lab.patchwire(&["tap", "del", "tap1"]).ok().stdout,
        "deleted tap tap1\n"
    );
    assert!(!lab.devices().iter().any(|d| d.starts_with("tap")));

    // A wired tap: deleting it removes the wire first, so eth1 keeps no dead filter.
    lab.patchwire(&["tap", "add", "tap3", "--mtu-from", "eth1"])
        .ok();
    lab.patchwire(&["link", "tap3", "eth1"]).ok();
    assert_eq!(lab.wire_filters("eth1"), 1);
    assert_eq!(
        lab.patchwire(&["tap", "del", "tap3"]).ok().stdout,
        "unwired: tap3 <-> eth1\ndeleted tap tap3\n"
    );
    assert!(!lab.devices().iter().any(|d| d == "tap3"));
    assert_eq!(lab.wire_filters("eth1"), 0);
    assert!(!lab.has_clsact("eth1"));
    assert_eq!(lab.patchwire(&["show"]).ok().stdout, "no wires\n");
}

#[test]
fn tap_commands_refuse_bad_input_and_change_nothing() {
    let far = TestNs::new();
    let lab = TestNs::new();
    veth(&far, "x1", &lab, "eth1");
    lab.patchwire(&["tap", "add", "tap1"]).ok();
    lab.ip("tuntap add dev tun0 mode tun");
    let before = lab.snapshot_without_carrier();
    let ns = format!("netns {}", lab.name);

    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["tap", "add", "eth1"],
            format!("eth1 already exists in {ns} and is a veth, not a tap"),
        ),
        (
            vec!["tap", "add", "tap1"],
            format!("tap tap1 already exists in {ns}"),
        ),
        (
            vec!["tap", "add", "tap2", "--queues", "0"],
            "--queues 0: a tap has 1 to 256 queues".into(),
        ),
        (
            vec!["tap", "add", "tap2", "--queues", "257"],
            "--queues 257: a tap has 1 to 256 queues".into(),
        ),
        (
            vec!["tap", "add", "tap2", "--owner", "no-such-user-pw"],
            "no user named \"no-such-user-pw\" (looked in /etc/passwd)".into(),
        ),
        (
            vec!["tap", "add", "tap2", "--mtu-from", "nothere"],
            format!("--mtu-from nothere: no such interface in {ns}"),
        ),
        (
            vec!["tap", "del", "eth1"],
            "eth1 is a veth, not a tap; refusing to delete it".into(),
        ),
        (
            vec!["tap", "del", "tun0"],
            "tun0 is a layer-3 tun device, not a tap; refusing to delete it".into(),
        ),
        (
            vec!["tap", "del", "nothere"],
            format!("interface nothere does not exist in {ns}"),
        ),
        (
            vec!["link", "eth1", "tun0"],
            "tun0 is a layer-3 tun device (no Ethernet header); a wire end must carry Ethernet \
             frames (use a tap)"
                .into(),
        ),
    ];
    for (args, message) in &cases {
        lab.patchwire(args).fails_with(message);
        assert_eq!(
            lab.snapshot_without_carrier(),
            before,
            "patchwire {args:?} changed the kernel"
        );
    }
}

/// Frames a VM analyzer should see: slow-protocols (LACP) multicast, 802.1Q, plain unicast.
fn analyzer_frames(marker: u8) -> Vec<Vec<u8>> {
    let mut lacp = vec![
        0x01, 0x80, 0xc2, 0x00, 0x00, 0x02, 0x02, 0, 0, 0, 0x5a, marker,
    ];
    lacp.extend_from_slice(&[0x88, 0x09, 0x01, 0x01]);
    lacp.resize(124, marker);
    let mut tagged = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0x5b, marker];
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 100, 0x88, 0xb5]);
    tagged.resize(80, marker);
    let mut plain = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0x5c, marker];
    plain.extend_from_slice(&[0x88, 0xb5]);
    plain.resize(60, marker);
    vec![lacp, tagged, plain]
}

/// Sends `frames` into lab:eth2 (from r1:x2) and returns what qemu passed on to the UDP port.
fn through_the_analyzer(r1: &TestNs, udp: &UdpPort, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    udp.drain();
    let x2 = packet_socket(r1, "x2");
    for frame in frames {
        x2.send(frame).unwrap();
    }
    let mut received = Vec::new();
    let mut deadline = Instant::now() + patience(Duration::from_secs(2));
    while let Some(frame) = udp.recv_until(deadline).unwrap() {
        received.push(frame);
        deadline = Instant::now() + patience(Duration::from_millis(300));
    }
    received
}

#[test]
fn a_vm_behind_its_tap_is_a_mirror_analyzer_and_survives_a_restart() {
    let (r1, lab) = lab_with_eth1(1500);
    veth(&r1, "x2", &lab, "eth2");
    let scripts = Scripts::new(&lab);
    let udp = UdpPort::open(&lab);
    let mut qemu = Qemu::start(&lab, &scripts.netdev("tap1"), &[]);
    qemu.wait_ready(&lab, "tap1", "eth1");
    // tap1 is also wired to eth1 (qemu's ifup made the wire): the VM gets copies beside the
    // wire's traffic, which a mirror into a wire end must ask for.
    lab.patchwire(&[
        "mirror",
        "add",
        "vm",
        "--from",
        "eth2",
        "--to",
        "tap1",
        "--direction",
        "in",
    ])
    .fails_with(
        "destination tap1 is an end of wire eth1 <-> tap1: copies sent out of tap1 would mix with \
         the wire's traffic and reach whatever is behind tap1 (a router there would see frames of \
         other ports). Mirror to another interface, or add --onto-wire if that is what you want",
    );
    lab.patchwire(&[
        "mirror",
        "add",
        "vm",
        "--from",
        "eth2",
        "--to",
        "tap1",
        "--direction",
        "in",
        "--onto-wire",
    ])
    .ok();

    // Copies of everything arriving at eth2 reach the VM, LACP and tags included.
    let frames = analyzer_frames(1);
    assert_eq!(through_the_analyzer(&r1, &udp, &frames), frames);
    let show = lab.patchwire(&["-j", "mirror", "show"]).json();
    assert_eq!(show[0]["destination"]["kind"], "tun");
    assert_eq!(show[0]["packets"], 3);

    // The VM stops: qemu's tap goes with it, the mirror is broken.
    drop(qemu);
    let show = lab.patchwire(&["-j", "mirror", "show"]).json();
    assert_eq!(show[0]["health"], "broken");

    // It starts again (a new tap1): watch aims the mirror at it, and copies flow again.
    let mut qemu = Qemu::start(&lab, &scripts.netdev("tap1"), &[]);
    qemu.wait_ready(&lab, "tap1", "eth1");
    let watch = lab.patchwire(&["watch", "--once"]);
    assert_eq!(
        watch.ok().stdout,
        format!(
            "{}: mirror vm: destination tap1 is back: 1 copy filter(s) aimed at it again\n",
            lab.name
        )
    );
    let frames = analyzer_frames(2);
    assert_eq!(through_the_analyzer(&r1, &udp, &frames), frames);
    drop(qemu);
}

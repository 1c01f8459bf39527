//! `patchwire capture` against the real kernel, read back by Debian's tshark and capinfos: the
//! probe catalogue through a wire, captured on one end, every frame present byte for byte with
//! its direction and its VLAN tags; filters with exact counts; file rings; SIGTERM; stdout
//! streamed into tshark; a full disk; bad input.
//!
//! The lab: `r1:a0` <-> `wire:wa` = wire = `wire:wb` <-> `r2:b0`; frames are sent from a0 and b0
//! (AF_PACKET), so on wa those from a0 are inbound and those from b0 (redirected out of wa by
//! the wire) outbound.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use patchwire::probe::catalogue::{self, FrameKind};

const NONCE: [u8; 8] = *b"capture1";

struct Lab {
    r1: TestNs,
    r2: TestNs,
    wire: TestNs,
    dir: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let (r1, r2, wire) = (TestNs::new(), TestNs::new(), TestNs::new());
        veth(&r1, "a0", &wire, "wa");
        veth(&r2, "b0", &wire, "wb");
        wire.patchwire(&["link", "wa", "wb"]).ok();
        let dir = std::env::temp_dir().join(format!("{}-capture", wire.name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Lab { r1, r2, wire, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn send(&self, from_r1: bool, frames: &[Vec<u8>]) {
        let (ns, dev) = match from_r1 {
            true => (&self.r1, "a0"),
            false => (&self.r2, "b0"),
        };
        let socket = packet_socket(ns, dev);
        for frame in frames {
            socket.send(frame).unwrap();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `patchwire capture`, started once it says it is capturing. Killed on drop.
struct Capture {
    child: Option<Child>,
    stderr: BufReader<ChildStderr>,
    said: String,
}

impl Capture {
    fn start(ns: &TestNs, args: &[&str], stdout: Stdio) -> Capture {
        // `capture --lab` refuses -n (the lab names its namespaces): only other captures get it.
        let netns = match args.contains(&"--lab") {
            true => vec![],
            false => vec!["-n", ns.name.as_str()],
        };
        let mut child = Command::new("timeout")
            .args(["-s", "KILL", "60", common::bin()])
            .args(netns)
            .arg("capture")
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut said = String::new();
        stderr.read_line(&mut said).unwrap();
        assert!(
            said.starts_with("capturing on "),
            "capture did not start: {said}"
        );
        Capture {
            child: Some(child),
            stderr,
            said,
        }
    }

    /// SIGTERM (to `timeout`, which passes it on), then the exit code and all of stderr.
    fn stop(mut self) -> (i32, String) {
        let child = self.child.as_mut().unwrap();
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        self.finish()
    }

    /// Waits (bounded) for it to end by itself.
    fn finish(mut self) -> (i32, String) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "capture did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        (status.code().unwrap_or(-1), format!("{}{rest}", self.said))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One frame as tshark read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Captured {
    interface: String,
    direction: u32,
    bytes: Vec<u8>,
}

fn tshark_frames(path: &Path) -> Vec<Captured> {
    let out = run(
        "tshark",
        &["-r", path.to_str().unwrap(), "-T", "json", "-x"],
    );
    let packets: serde_json::Value = serde_json::from_str(&out).expect("tshark JSON");
    packets
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let layers = &p["_source"]["layers"];
            let frame = &layers["frame"];
            let hex = layers["frame_raw"][0].as_str().unwrap();
            let direction = frame["frame.packet_flags_tree"]["frame.packet_flags_direction"]
                .as_str()
                .unwrap();
            Captured {
                interface: frame["frame.interface_id_tree"]["frame.interface_name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                direction: u32::from_str_radix(direction.trim_start_matches("0x"), 16).unwrap(),
                bytes: (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect(),
            }
        })
        .collect()
}

/// capinfos' report; panics (with its message) when the file is not valid.
fn capinfos(path: &Path) -> String {
    run("capinfos", &[path.to_str().unwrap()])
}

fn probe_frames(from: [u8; 6]) -> Vec<(FrameKind, Vec<u8>)> {
    catalogue::catalogue(from, NONCE, 1500)
        .into_iter()
        .map(|f| (f.kind, f.bytes))
        .collect()
}

/// A minimal IPv4/ICMP echo frame, with an 802.1Q tag when `vlan` is given.
fn icmp_frame(vlan: Option<u16>, seq: u8) -> Vec<u8> {
    let mut frame = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa];
    if let Some(vid) = vlan {
        frame.extend_from_slice(&[0x81, 0x00]);
        frame.extend_from_slice(&vid.to_be_bytes());
    }
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&[
        0x45, 0, 0, 28, 0, seq, 0, 0, 64, 1, 0, 0, 198, 18, 61, 1, 198, 18, 61, 2,
    ]);
    frame.extend_from_slice(&[8, 0, 0, 0, 0, 1, 0, seq]);
    frame.resize(frame.len().max(60), 0);
    frame
}

// ---------------------------------------------------------------------------------------------

/// The whole catalogue, from each side, captured on one end: every frame once, byte for byte
/// (tags the kernel moved into metadata put back), inbound from r1's side, outbound from r2's;
/// SIGTERM closes the file with statistics.
#[test]
fn one_end_shows_both_directions_byte_for_byte() {
    let lab = Lab::new();
    let file = lab.path("wa.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &["wa", "-w", file.to_str().unwrap()],
        Stdio::null(),
    );
    let from_r1 = probe_frames([2, 0, 0, 0, 1, 1]);
    let from_r2 = probe_frames([2, 0, 0, 0, 2, 2]);
    lab.send(
        true,
        &from_r1.iter().map(|f| f.1.clone()).collect::<Vec<_>>(),
    );
    lab.send(
        false,
        &from_r2.iter().map(|f| f.1.clone()).collect::<Vec<_>>(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let (code, stderr) = capture.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(stopped by signal)"), "{stderr}");

    let frames = tshark_frames(&file);
    assert!(
        frames
            .iter()
            .all(|f| f.interface == format!("{}:wa", lab.wire.name))
    );
    for (sent, direction) in [(&from_r1, 1), (&from_r2, 2)] {
        for (kind, bytes) in sent {
            let found: Vec<&Captured> = frames.iter().filter(|f| &f.bytes == bytes).collect();
            assert_eq!(found.len(), 1, "{kind:?} captured {} times", found.len());
            assert_eq!(found[0].direction, direction, "{kind:?}");
        }
    }
    assert!(
        [FrameKind::Dot1q, FrameKind::QinQ]
            .iter()
            .all(|kind| from_r1.iter().any(|(k, _)| k == kind)),
        "the catalogue has tagged frames"
    );
    let info = capinfos(&file);
    assert!(info.contains("Number of stat entries = 1"), "{info}");
    assert!(info.contains("Description = wire wa <-> wb"), "{info}");
}

/// Two ends into one file: each frame is inbound on one and outbound on the other, and the file
/// is in time order across both.
#[test]
fn several_interfaces_go_into_one_file_in_time_order() {
    let lab = Lab::new();
    let file = lab.path("both.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            &format!("{}:wb", lab.wire.name),
            "-w",
            file.to_str().unwrap(),
            "-c",
            "20",
        ],
        Stdio::null(),
    );
    let frames: Vec<Vec<u8>> = (0..10).map(|i| icmp_frame(None, i)).collect();
    lab.send(true, &frames);
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(stopped by count)"), "{stderr}");
    let got = tshark_frames(&file);
    assert_eq!(got.len(), 20);
    let wa = format!("{}:wa", lab.wire.name);
    let wb = format!("{}:wb", lab.wire.name);
    for frame in &frames {
        let copies: Vec<(&str, u32)> = got
            .iter()
            .filter(|g| &g.bytes == frame)
            .map(|g| (g.interface.as_str(), g.direction))
            .collect();
        assert_eq!(
            copies,
            [(wa.as_str(), 1), (wb.as_str(), 2)],
            "in on wa, then out of wb"
        );
    }
    assert!(capinfos(&file).contains("Strict time order:   True"));
}

/// tcpdump expressions, compiled by libpcap and run in the kernel: exact counts, VLAN tags in
/// metadata matched, and a bad expression refused with libpcap's message, nothing written.
#[test]
fn filters_keep_exactly_the_matching_frames() {
    let lab = Lab::new();
    let lacp = lab.path("lacp.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            "-w",
            lacp.to_str().unwrap(),
            "-f",
            "ether proto 0x8809",
        ],
        Stdio::null(),
    );
    let catalogue = probe_frames([2, 0, 0, 0, 1, 1]);
    lab.send(
        true,
        &catalogue.iter().map(|f| f.1.clone()).collect::<Vec<_>>(),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(capture.stop().0, 0);
    let want: Vec<&Vec<u8>> = catalogue
        .iter()
        .filter(|(_, b)| b[12..14] == [0x88, 0x09])
        .map(|(_, b)| b)
        .collect();
    let got: Vec<Vec<u8>> = tshark_frames(&lacp).into_iter().map(|f| f.bytes).collect();
    assert!(!want.is_empty());
    assert_eq!(got.iter().collect::<Vec<_>>(), want);

    let vlan = lab.path("vlan.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            "-w",
            vlan.to_str().unwrap(),
            "-f",
            "vlan 100 and icmp",
        ],
        Stdio::null(),
    );
    let mut frames = Vec::new();
    for seq in 0..5 {
        frames.push(icmp_frame(Some(100), seq));
        frames.push(icmp_frame(Some(200), seq));
        frames.push(icmp_frame(None, seq));
    }
    lab.send(true, &frames);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(capture.stop().0, 0);
    let got: Vec<Vec<u8>> = tshark_frames(&vlan).into_iter().map(|f| f.bytes).collect();
    let want: Vec<Vec<u8>> = (0..5).map(|seq| icmp_frame(Some(100), seq)).collect();
    assert_eq!(got, want, "exactly the five frames of VLAN 100, tag intact");

    let bad = lab.path("bad.pcapng");
    let run = lab.wire.patchwire(&[
        "capture",
        "wa",
        "-w",
        bad.to_str().unwrap(),
        "-f",
        "tcp prt 179",
    ]);
    run.fails_with("filter \"tcp prt 179\": can't parse filter expression: syntax error");
    assert!(!bad.exists());
}

/// `-b filesize:KB -b files:N`: new files as the size is reached, only the newest N kept, names
/// that sort, each file valid on its own with its statistics.
#[test]
fn ring_files_rotate_by_size_and_keep_the_newest() {
    let lab = Lab::new();
    let base = lab.path("ring.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            "-w",
            base.to_str().unwrap(),
            "-b",
            "filesize:20",
            "-b",
            "files:3",
            "-c",
            "200",
        ],
        Stdio::null(),
    );
    // 200 frames of 1000 bytes: about 200 kB, ten files of 20 kB.
    let frames: Vec<Vec<u8>> = (0..200u32)
        .map(|i| {
            let mut f = icmp_frame(None, i as u8);
            f.resize(1000, (i % 251) as u8);
            f
        })
        .collect();
    for chunk in frames.chunks(20) {
        lab.send(true, chunk);
        std::thread::sleep(Duration::from_millis(30));
    }
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("ring_")
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}\n{stderr}");
    let sequence = |p: &Path| -> u32 {
        p.file_name().unwrap().to_str().unwrap()[5..10]
            .parse()
            .unwrap()
    };
    assert!(
        sequence(&files[0]) >= 8,
        "older files were pruned: {files:?}"
    );
    assert_eq!(sequence(&files[1]), sequence(&files[0]) + 1);
    // A file ends at the first frame that takes it to 20 kB (then its statistics).
    for file in &files[..2] {
        let size = std::fs::metadata(file).unwrap().len();
        assert!(
            (20_000..21_200).contains(&size),
            "{} is {size} bytes",
            file.display()
        );
    }
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            name.ends_with(".pcapng") && name.len() == "ring_00001_20261130120000.pcapng".len(),
            "{name}"
        );
        assert!(capinfos(file).contains("Number of stat entries = 1"));
    }
    // The last frame sent is in the newest file.
    let last = tshark_frames(&files[2]);
    assert_eq!(last.last().unwrap().bytes, frames[199]);
}

/// `-b duration:1`: a new file every second even when nothing arrives; `-a duration:3` stops.
#[test]
fn ring_files_rotate_on_time_without_traffic() {
    let lab = Lab::new();
    let base = lab.path("quiet.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            "-w",
            base.to_str().unwrap(),
            "-b",
            "duration:1",
            "-a",
            "duration:3",
        ],
        Stdio::null(),
    );
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(stopped by duration)"), "{stderr}");
    let files: Vec<PathBuf> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!((3..=4).contains(&files.len()), "{files:?}");
    for file in &files {
        assert!(capinfos(file).contains("Number of packets:   0"));
    }
}

/// `-w -`: pcapng on stdout, flushed as frames come: tshark reading the pipe prints them while
/// the capture is still running.
#[test]
fn stdout_streams_into_tshark() {
    let lab = Lab::new();
    let capture = Capture::start(&lab.wire, &["wa", "-w", "-"], Stdio::piped());
    let mut capture = capture;
    let stdout = capture.child.as_mut().unwrap().stdout.take().unwrap();
    let mut tshark = Command::new("tshark")
        .args([
            "-l",
            "-i",
            "-",
            "-T",
            "fields",
            "-e",
            "frame.packet_flags_direction",
        ])
        .stdin(stdout)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(tshark.stdout.take().unwrap()).lines();
    lab.send(true, &[icmp_frame(None, 1), icmp_frame(None, 2)]);
    lab.send(false, &[icmp_frame(None, 3)]);
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(lines.next().expect("tshark printed a frame").unwrap());
    }
    assert_eq!(seen, ["0x00000001", "0x00000001", "0x00000002"]);
    assert!(
        capture
            .child
            .as_mut()
            .unwrap()
            .try_wait()
            .unwrap()
            .is_none(),
        "still capturing"
    );
    let (code, stderr) = capture.stop();
    assert_eq!(code, 0, "{stderr}");
    let _ = tshark.wait();
}

/// A full disk: the capture stops with an error saying so, and the file is valid up to its
/// last whole block. (A 64 KiB tmpfs in a private mount namespace.)
#[test]
fn a_full_disk_stops_the_capture_and_keeps_the_file_valid() {
    let lab = Lab::new();
    let mount = lab.path("small");
    let copy = lab.path("copy.pcapng");
    std::fs::create_dir_all(&mount).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=64k pwcap {m} && {bin} -n {ns} capture wa -w {m}/x.pcapng; rc=$?; \
         cp {m}/x.pcapng {copy}; exit $rc",
        bin = common::bin(),
        m = mount.display(),
        ns = lab.wire.name,
        copy = copy.display()
    );
    let mut child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("capturing on"), "{line}");
    let frames: Vec<Vec<u8>> = (0..150)
        .map(|i| {
            let mut f = icmp_frame(None, i as u8);
            f.resize(1000, 7);
            f
        })
        .collect();
    for chunk in frames.chunks(10) {
        lab.send(true, chunk);
        std::thread::sleep(Duration::from_millis(10));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the capture did not stop on a full disk"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("No space left on device"), "{rest}");
    assert!(
        rest.contains("the file is kept valid up to its last whole block"),
        "{rest}"
    );
    let info = capinfos(&copy);
    let packets: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Number of packets:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(packets > 20, "{info}");
}

/// Each mistake is an error naming the thing, and no file is left behind.
#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let lab = Lab::new();
    let out = lab.path("x.pcapng");
    let out = out.to_str().unwrap();
    for (args, message) in [
        (
            vec!["wz", "-w", out],
            format!("interface wz does not exist in netns {}", lab.wire.name),
        ),
        (
            vec!["pw-no-such-ns:eth0", "-w", out],
            "netns pw-no-such-ns does not exist (no /run/netns/pw-no-such-ns)".to_string(),
        ),
        (
            vec!["wa", "-w", "/nonexistent/dir/x.pcapng"],
            "/nonexistent/dir/x.pcapng: No such file or directory (os error 2)".to_string(),
        ),
        (
            vec!["wa", "-w", out, "-b", "files:0"],
            "-b files:0: must be at least 1".to_string(),
        ),
        (
            vec!["wa", "-w", "-", "-b", "filesize:10"],
            "-w - (stdout) cannot rotate: -b needs a file".to_string(),
        ),
        (
            vec!["wa", "wa", "-w", out],
            format!(
                "wa is given twice (as {}:wa too); each interface is captured once",
                lab.wire.name
            ),
        ),
        (
            vec!["-w", out],
            "give interfaces (IF or NETNS:IF), or --wires, or --lab FILE — one of them".to_string(),
        ),
    ] {
        let mut all = vec!["capture"];
        all.extend(args.iter().copied());
        let run = lab.wire.patchwire(&all);
        // Mistakes in the options themselves are usage errors (exit 2, clap's form); what the
        // options name (interfaces, namespaces, files) is checked against the system (exit 1).
        let usage = message.starts_with("-b ")
            || message.starts_with("-w ")
            || message.starts_with("give interfaces");
        match usage {
            true => {
                assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
                assert_eq!(
                    run.stderr.lines().next(),
                    Some(format!("error: {message}").as_str())
                );
            }
            false => run.fails_with(&message),
        }
        assert!(!Path::new(out).exists(), "{args:?} left {out}");
    }
    assert_eq!(std::fs::read_dir(&lab.dir).unwrap().count(), 0);
}

/// Collects every frame arriving at `dev` of `ns` for `window`.
fn collect(socket: &patchwire::packet::PacketSocket, window: Duration) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + window;
    let mut frames = Vec::new();
    while let Some(frame) = socket.recv_until(deadline).unwrap() {
        frames.push(frame);
    }
    frames
}

/// `mirror add --filter`: the copy classifier runs the compiled filter first, so only matching
/// frames are copied — exactly — from both directions and from VLAN tags in metadata, while the
/// wire still passes every frame; `mirror show` shows the filter and counts the copies.
#[test]
fn filtered_mirrors_copy_only_matching_frames() {
    let lab = Lab::new();
    let analyzer = TestNs::new();
    veth(&lab.wire, "mon", &analyzer, "m0");
    lab.wire
        .patchwire(&[
            "mirror",
            "add",
            "lacp",
            "--from",
            "wa",
            "--to",
            "mon",
            "--filter",
            "ether proto 0x8809",
        ])
        .ok();
    let show = lab.wire.patchwire(&["-j", "mirror", "show"]).json();
    assert_eq!(show[0]["filter"], "ether proto 0x8809", "{show}");
    let copies = packet_socket(&analyzer, "m0");
    let at_b0 = packet_socket(&lab.r2, "b0");
    let at_a0 = packet_socket(&lab.r1, "a0");
    let from_r1 = probe_frames([2, 0, 0, 0, 1, 1]);
    let from_r2 = probe_frames([2, 0, 0, 0, 2, 2]);
    lab.send(
        true,
        &from_r1.iter().map(|f| f.1.clone()).collect::<Vec<_>>(),
    );
    lab.send(
        false,
        &from_r2.iter().map(|f| f.1.clone()).collect::<Vec<_>>(),
    );
    let window = Duration::from_millis(500);
    let copied = collect(&copies, window);
    let crossed_to_r2 = collect(&at_b0, Duration::from_millis(50));
    let crossed_to_r1 = collect(&at_a0, Duration::from_millis(50));

    let lacp = |sent: &Vec<(FrameKind, Vec<u8>)>| -> Vec<Vec<u8>> {
        sent.iter()
            .filter(|(_, b)| b[12..14] == [0x88, 0x09])
            .map(|(_, b)| b.clone())
            .collect()
    };
    let mut want = lacp(&from_r1);
    want.extend(lacp(&from_r2));
    let mut got = copied;
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "exactly the LACP frames of both directions, once each"
    );
    for (sent, crossed) in [(&from_r1, &crossed_to_r2), (&from_r2, &crossed_to_r1)] {
        for (kind, bytes) in sent.iter() {
            assert_eq!(
                crossed.iter().filter(|f| *f == bytes).count(),
                1,
                "{kind:?} crossed the wire once"
            );
        }
    }
    let show = lab.wire.patchwire(&["-j", "mirror", "show"]).json();
    assert_eq!(show[0]["packets"], want.len(), "{show}");

    // VLAN tags the kernel holds in metadata are matched too.
    lab.wire.patchwire(&["mirror", "del", "lacp"]).ok();
    lab.wire
        .patchwire(&[
            "mirror",
            "add",
            "v100",
            "--from",
            "wa",
            "--to",
            "mon",
            "--direction",
            "in",
            "--filter",
            "vlan 100 and icmp",
        ])
        .ok();
    let mut frames = Vec::new();
    for seq in 0..5 {
        frames.push(icmp_frame(Some(100), seq));
        frames.push(icmp_frame(Some(200), seq));
        frames.push(icmp_frame(None, seq));
    }
    copies.drain();
    lab.send(true, &frames);
    let copied = collect(&copies, window);
    let want: Vec<Vec<u8>> = (0..5).map(|seq| icmp_frame(Some(100), seq)).collect();
    assert_eq!(copied, want);

    // A filter libpcap cannot compile is refused with its message; nothing is added.
    lab.wire.patchwire(&["mirror", "del", "v100"]).ok();
    let before = lab.wire.snapshot();
    lab.wire
        .patchwire(&[
            "mirror",
            "add",
            "bad",
            "--from",
            "wa",
            "--to",
            "mon",
            "--filter",
            "tcp prt 1",
        ])
        .fails_with("--filter: filter \"tcp prt 1\": can't parse filter expression: syntax error");
    assert_eq!(lab.wire.snapshot(), before);
}

/// A handle on a namespace the test did not make (a lab's): never deleted by the test.
fn not_owned(name: String) -> std::mem::ManuallyDrop<TestNs> {
    std::mem::ManuallyDrop::new(TestNs { name })
}

/// A frame of the local experimental ethertype 0x88b5, tagged with `tag`.
fn experimental(tag: u8) -> Vec<u8> {
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0x0c, tag, 0x88, 0xb5, tag]);
    frame.resize(60, tag);
    frame
}

/// `--lab FILE`: every link of a running lab in one file — a wire once (its port shows both
/// directions), a hub at every member — described from the file; and `--wires`: one end of
/// every wire of a namespace.
#[test]
fn a_whole_lab_or_every_wire_goes_into_one_file() {
    let name = format!("pwt-{}-cap", std::process::id());
    let file = std::env::temp_dir().join(format!("{name}.yaml"));
    std::fs::write(
        &file,
        format!(
            "name: {name}\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n    r3: {{}}\n  links:\n    \
             - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n    - endpoints: [\"r1:eth2\", \"r2:eth2\", \"r3:eth2\"]\n"
        ),
    )
    .unwrap();
    struct Down(PathBuf);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = Command::new(common::bin())
                .arg("down")
                .arg(&self.0)
                .output();
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _down = Down(file.clone());
    patchwire(&["up", file.to_str().unwrap()]).ok();
    let out = std::env::temp_dir().join(format!("{name}.pcapng"));
    let capture = {
        // No -n: --lab names its own namespaces.
        let current = not_owned(format!("{name}-r3"));
        Capture::start(
            &current,
            &[
                "--lab",
                file.to_str().unwrap(),
                "-w",
                out.to_str().unwrap(),
                "-c",
                "4",
                "-f",
                "ether proto 0x88b5",
            ],
            Stdio::null(),
        )
    };
    let (r1, r2) = (
        not_owned(format!("{name}-r1")),
        not_owned(format!("{name}-r2")),
    );
    packet_socket(&r1, "eth1").send(&experimental(1)).unwrap();
    packet_socket(&r2, "eth2").send(&experimental(2)).unwrap();
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    let info = capinfos(&out);
    assert!(info.contains("Number of interfaces in file: 4"), "{info}");
    assert!(
        info.contains("Description = wire r1:eth1 <-> r2:eth1 (inbound: sent by r1:eth1)"),
        "{info}"
    );
    assert!(
        info.contains(
            "Description = hub r1:eth2, r2:eth2, r3:eth2 member r2:eth2 (inbound: sent by it)"
        ),
        "{info}"
    );
    let mut got: Vec<(String, u32, u8)> = tshark_frames(&out)
        .into_iter()
        .map(|f| {
            (
                f.interface.rsplit(':').next().unwrap().to_string(),
                f.direction,
                f.bytes[14],
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("r1.eth1".to_string(), 1, 1),
            ("r1.eth2".to_string(), 2, 2),
            ("r2.eth2".to_string(), 1, 2),
            ("r3.eth2".to_string(), 2, 2),
        ]
    );
    let _ = std::fs::remove_file(&out);

    // --wires: one end of each wire of the namespace.
    let lab = Lab::new();
    let wires = lab.path("wires.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &["--wires", "-w", wires.to_str().unwrap(), "-c", "1"],
        Stdio::null(),
    );
    assert!(capture.said.contains(":wa"), "{}", capture.said);
    lab.send(false, &[icmp_frame(None, 9)]);
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(capinfos(&wires).contains("Description = wire wa <-> wb"));
    assert_eq!(tshark_frames(&wires)[0].direction, 2);
}

/// Without libpcap (here: hidden in a private mount namespace) a capture with a filter is
/// refused naming the Debian package, and one without a filter still runs.
#[test]
fn a_missing_libpcap_is_named_and_only_filters_need_it() {
    let lab = Lab::new();
    let out = lab.path("x.pcapng");
    let hide: String = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"]
        .iter()
        .map(|name| format!("/usr/lib/x86_64-linux-gnu/{name}"))
        .filter(|path| Path::new(path).exists())
        .map(|path| format!("mount --bind /dev/null {path} && "))
        .collect();
    assert!(
        !hide.is_empty(),
        "libpcap is installed for the tests (tshark brings it)"
    );
    let capture = |filter: &str| {
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "{hide}exec {} -n {} capture wa -w {} -a duration:1 {filter}",
                common::bin(),
                lab.wire.name,
                out.display()
            ))
            .output()
            .unwrap()
    };
    let refused = capture("-f icmp");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim_end(),
        "patchwire: a capture filter needs libpcap, which is not installed (apt-get install \
         libpcap0.8): none of libpcap.so.0.8, libpcap.so.1, libpcap.so found"
    );
    assert!(!out.exists());
    let plain = capture("");
    assert_eq!(
        plain.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    assert!(capinfos(&out).contains("Number of packets:   0"));
}

/// An interface that goes down mid-capture (or is down at the start) does not make the capture
/// spin: it sleeps until frames come, and captures again once the interface is back up.
#[test]
fn an_interface_going_down_and_up_neither_spins_nor_ends_the_capture() {
    let lab = Lab::new();
    let out = lab.path("updown.pcapng");
    let mut capture = Capture::start(
        &lab.wire,
        &["wa", "-w", out.to_str().unwrap()],
        Stdio::null(),
    );
    lab.wire.ip("link set dev wa down");
    // CPU time of the capture process: ticks (1/100 s) of utime + stime.
    let pid = capture.child.as_mut().unwrap().id();
    let ticks = || {
        let patchwire_pid = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .map(str::to_string)
            .unwrap_or(pid.to_string());
        let stat = std::fs::read_to_string(format!("/proc/{patchwire_pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    // Counted over one second with the interface down, not since the start: starting (loading,
    // opening the ring) costs far more CPU under a slow guest (qemu TCG: 86 ticks) than
    // spinning does in a second here, and is not what this test is about.
    std::thread::sleep(Duration::from_millis(300));
    let before = ticks();
    std::thread::sleep(Duration::from_secs(1));
    let burned = ticks() - before;
    assert!(
        burned < 30,
        "the capture burned {burned} ticks of CPU in one second while its interface was down"
    );
    lab.wire.ip("link set dev wa up");
    settle(&lab.wire, "wa");
    lab.send(false, &[icmp_frame(None, 5)]);
    std::thread::sleep(Duration::from_millis(300));
    let (code, stderr) = capture.stop();
    assert_eq!(code, 0, "{stderr}");
    let frames = tshark_frames(&out);
    assert!(
        frames.iter().any(|f| f.bytes == icmp_frame(None, 5)),
        "{frames:?}"
    );
}

/// A layer-3 device has no Ethernet header to write: refused, naming it.
#[test]
fn layer_3_interfaces_are_refused() {
    let lab = Lab::new();
    lab.wire.ip("tuntap add dev tun7 mode tun");
    lab.wire
        .patchwire(&[
            "capture",
            "tun7",
            "-w",
            lab.path("x.pcapng").to_str().unwrap(),
        ])
        .fails_with(
            "tun7 is a layer-3 tun device without an Ethernet header (frames would start at the \
             IP header); patchwire captures Ethernet interfaces",
        );
}

// ---------------------------------------------------------------------------------------------
// Stopping, starting together, vanished interfaces, dumpcap's conditions (issue 18 item 11)
// ---------------------------------------------------------------------------------------------

/// A frame with an experimental ethertype carrying sequence number `seq`.
fn numbered(seq: u32) -> Vec<u8> {
    let mut frame = vec![
        0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0x0a, 0x01, 0x88, 0xb5,
    ];
    frame.extend_from_slice(b"seq:");
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.resize(60, 0x5a);
    frame
}

/// The sequence numbers in the file, per interface label, in file order.
fn sequences(path: &Path) -> std::collections::BTreeMap<String, Vec<u32>> {
    let mut found = std::collections::BTreeMap::<String, Vec<u32>>::new();
    for frame in tshark_frames(path) {
        if frame.bytes.len() >= 22 && frame.bytes[12..18] == [0x88, 0xb5, b's', b'e', b'q', b':'] {
            let seq = u32::from_be_bytes(frame.bytes[18..22].try_into().unwrap());
            found.entry(frame.interface).or_default().push(seq);
        }
    }
    found
}

/// The summary line of one interface: (captured, received, dropped, not written).
fn summary_line(stderr: &str, label: &str) -> (u64, u64, u64, u64) {
    let prefix = format!("  {label}: ");
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no summary for {label}: {stderr}"));
    let numbers: Vec<u64> = line[prefix.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect();
    (
        numbers[0],
        numbers[1],
        numbers[2],
        numbers.get(3).copied().unwrap_or(0),
    )
}

/// Stopped by SIGINT right after the last frame was sent: every frame is in the file on both
/// interfaces (today's partly filled kernel block used to be lost), counted honestly.
#[test]
fn a_signal_writes_the_last_frames_of_every_interface() {
    let lab = Lab::new();
    let file = lab.path("sigint.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &["wa", "wb", "-w", file.to_str().unwrap(), "-B", "1"],
        Stdio::null(),
    );
    let frames: Vec<Vec<u8>> = (0..300).map(numbered).collect();
    lab.send(true, &frames);
    let child = capture.child.as_ref().unwrap().id();
    // SAFETY: kill(2) on our own unreaped child (`timeout`, which passes SIGINT on).
    unsafe { libc::kill(child as i32, libc::SIGINT) };
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(stopped by signal)"), "{stderr}");
    let (wa, wb) = (
        format!("{}:wa", lab.wire.name),
        format!("{}:wb", lab.wire.name),
    );
    let all: Vec<u32> = (0..300).collect();
    let found = sequences(&file);
    assert_eq!(found.get(&wa), Some(&all), "wa (frames entering the wire)");
    assert_eq!(
        found.get(&wb),
        Some(&all),
        "wb (the same frames leaving it)"
    );
    assert!(
        stderr.contains(&format!("  {wa}: 300 captured, 300 received, 0 dropped\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("  {wb}: 300 captured, 300 received, 0 dropped\n")),
        "{stderr}"
    );
    capinfos(&file);
}

/// `-a duration:1.5` (fractions accepted) while numbered frames cross the wire every
/// millisecond until the capture ends: both interfaces hold the same unbroken run of frames,
/// from the first to the stop (a frame crossing at the very stop may be on one only).
#[test]
fn a_fractional_duration_stops_every_interface_at_the_same_frame() {
    let lab = Lab::new();
    let file = lab.path("duration.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            "wb",
            "-w",
            file.to_str().unwrap(),
            "-a",
            "duration:1.5",
            // Room for 3 s of frames: a loaded machine that does not schedule the capture for
            // a while must not turn this into a test of the ring's size.
            "-B",
            "64",
        ],
        Stdio::null(),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let stop = stop.clone();
        let socket = packet_socket(&lab.r1, "a0");
        std::thread::spawn(move || {
            let mut sent = 0u32;
            while sent < 10_000 && !stop.load(std::sync::atomic::Ordering::SeqCst) {
                socket.send(&numbered(sent)).unwrap();
                sent += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            sent
        })
    };
    let (code, stderr) = capture.finish();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = sender.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(stopped by duration)"), "{stderr}");
    let (wa, wb) = (
        format!("{}:wa", lab.wire.name),
        format!("{}:wb", lab.wire.name),
    );
    let found = sequences(&file);
    let (a, b) = (&found[&wa], &found[&wb]);
    for (label, seqs) in [(&wa, a), (&wb, b)] {
        let run: Vec<u32> = (0..seqs.len() as u32).collect();
        assert_eq!(
            *seqs, run,
            "{label}: every frame from the first on, none missing"
        );
        let (captured, received, dropped, not_written) = summary_line(&stderr, label);
        assert_eq!(captured, seqs.len() as u64, "{stderr}");
        assert_eq!(dropped, 0, "{stderr}");
        assert_eq!(received, captured + dropped + not_written, "{stderr}");
    }
    assert!(
        a.len().abs_diff(b.len()) <= 1,
        "wa has {} frames and wb {}: the stop cut them apart (sent {sent})",
        a.len(),
        b.len()
    );
    assert!(
        (a.len() as u32) < sent,
        "frames after the stop are not written"
    );
}

/// A captured interface that is deleted ends the capture with an error (as tcpdump does),
/// its frames and the other interface's written, the file complete.
#[test]
fn a_deleted_interface_ends_the_capture_with_an_error() {
    let lab = Lab::new();
    let file = lab.path("gone.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &["wa", "wb", "-w", file.to_str().unwrap()],
        Stdio::null(),
    );
    let frames: Vec<Vec<u8>> = (0..10).map(numbered).collect();
    lab.send(true, &frames);
    lab.wire.ip("link del dev wb");
    let (code, stderr) = capture.finish();
    assert_eq!(code, 1, "{stderr}");
    let wb = format!("{}:wb", lab.wire.name);
    assert!(stderr.contains("(stopped by interface gone)"), "{stderr}");
    assert_eq!(
        stderr.lines().last().unwrap(),
        format!(
            "patchwire: capture stopped: {wb} is gone (deleted, or moved to another namespace); \
             every frame captured until then is in the file, which is complete"
        )
    );
    let all: Vec<u32> = (0..10).collect();
    let found = sequences(&file);
    assert_eq!(found.get(&format!("{}:wa", lab.wire.name)), Some(&all));
    assert_eq!(found.get(&wb), Some(&all));
    assert!(capinfos(&file).contains("Number of packets:   20"));

    // With -j the summary carries the error, as every JSON error does.
    lab.wire.ip("link add wb type veth peer name wc");
    let json_out = lab.path("gone.json");
    let capture = Capture::start(
        &lab.wire,
        &["-j", "wa", "wb", "-w", file.to_str().unwrap()],
        Stdio::from(std::fs::File::create(&json_out).unwrap()),
    );
    lab.wire.ip("link del dev wb");
    let (code, stderr) = capture.finish();
    assert_eq!(code, 1, "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(
        summary["error"],
        format!(
            "capture stopped: {wb} is gone (deleted, or moved to another namespace); every frame \
             captured until then is in the file, which is complete"
        ),
        "{summary}"
    );
    assert_eq!(summary["stopped_by"], "interface gone", "{summary}");
}

/// dumpcap's other conditions: -a packets/filesize/files, -b packets; frames counted exactly.
#[test]
fn dumpcaps_packet_and_file_conditions() {
    let lab = Lab::new();
    let frames: Vec<Vec<u8>> = (0..10).map(numbered).collect();
    let wa = format!("{}:wa", lab.wire.name);

    // -a packets:4 is -c 4; the frames not written are explained.
    let file = lab.path("packets.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &["wa", "-w", file.to_str().unwrap(), "-a", "packets:4"],
        Stdio::null(),
    );
    lab.send(true, &frames);
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(stopped by count)"), "{stderr}");
    assert_eq!(sequences(&file)[&wa], [0, 1, 2, 3]);
    let (captured, received, dropped, not_written) = summary_line(&stderr, &wa);
    assert_eq!((captured, dropped), (4, 0));
    assert_eq!(not_written, received - 4);
    if not_written > 0 {
        assert!(
            stderr.contains(&format!(
                "  {wa}: 4 captured, {received} received, 0 dropped, {not_written} not written \
                 (they arrived outside the capture: before every interface was capturing, after \
                 the stop or the count)\n"
            )),
            "{stderr}"
        );
    }

    // -b packets:3 with -a files:2: two files of three frames, then the capture stops.
    let ring = lab.path("ring.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            "-w",
            ring.to_str().unwrap(),
            "-b",
            "packets:3",
            "-a",
            "files:2",
        ],
        Stdio::null(),
    );
    lab.send(true, &frames);
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(stopped by files)"), "{stderr}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("ring_"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(sequences(&files[0])[&wa], [0, 1, 2]);
    assert_eq!(sequences(&files[1])[&wa], [3, 4, 5]);

    // -a filesize:KB without -b: the file stops growing once it reaches the size.
    let big: Vec<Vec<u8>> = (0..100)
        .map(|i| {
            let mut f = numbered(i);
            f.resize(1000, 0x5a);
            f
        })
        .collect();
    let sized = lab.path("sized.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &["wa", "-w", sized.to_str().unwrap(), "-a", "filesize:10"],
        Stdio::null(),
    );
    lab.send(true, &big);
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(stopped by filesize)"), "{stderr}");
    let written = sequences(&sized)[&wa].clone();
    let expected: Vec<u32> = (0..written.len() as u32).collect();
    assert_eq!(written, expected);
    assert!(written.len() >= 9 && written.len() < 12, "{written:?}");
    assert!(std::fs::metadata(&sized).unwrap().len() >= 10_000);

    // -b interval with a fractional -a duration: new files on the clock's half seconds, each
    // a valid file.
    let clock = lab.path("clock.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            "-w",
            clock.to_str().unwrap(),
            "-b",
            "interval:0.5",
            "-a",
            "duration:1.2",
        ],
        Stdio::null(),
    );
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    let files: Vec<PathBuf> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("clock_"))
        .collect();
    // 1.2 s holds two or three multiples of 0.5 s, whatever the phase.
    assert!((3..=4).contains(&files.len()), "{files:?}");
    for file in &files {
        capinfos(file);
    }
}

/// Review of issue 18 (b), 13: `-b interval:1` starts each file on the wall clock's second, by
/// the frames' own timestamps: each file holds exactly its second's frames and is named
/// after that second (dumpcap's rule), not the moment the capture loop woke up.
#[test]
fn interval_files_hold_exactly_their_intervals_frames() {
    let lab = Lab::new();
    let out = lab.path("tick.pcapng");
    let capture = Capture::start(
        &lab.wire,
        &[
            "wa",
            "-w",
            out.to_str().unwrap(),
            "-b",
            "interval:1",
            "-a",
            "duration:2.5",
        ],
        Stdio::null(),
    );
    // A frame every 10 ms or so (bounded: 200 frames), most while the capture runs.
    let socket = packet_socket(&lab.r1, "a0");
    for seq in 0..200u32 {
        socket.send(&numbered(seq)).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("tick_"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let mut in_order = Vec::new();
    for file in &files {
        in_order.extend(sequences(file).into_values().flatten());
        let times = run(
            "tshark",
            &[
                "-r",
                file.to_str().unwrap(),
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
            ],
        );
        let seconds: std::collections::BTreeSet<u64> = times
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.trim().split('.').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            seconds.len() <= 1,
            "{}: frames of seconds {seconds:?}",
            file.display()
        );
        if let Some(second) = seconds.first() {
            let named = run("date", &["-d", &format!("@{second}"), "+%Y%m%d%H%M%S"]);
            assert!(
                file.to_string_lossy()
                    .ends_with(&format!("_{}.pcapng", named.trim())),
                "{} holds the frames of {}",
                file.display(),
                named.trim()
            );
        }
    }
    // No frame lost or repeated between files: 0, 1, 2… across them, in order.
    assert!(in_order.len() > 100, "{in_order:?}");
    let expected: Vec<u32> = (0..in_order.len() as u32).collect();
    assert_eq!(in_order, expected);
}

#[test]
fn capture_options_are_checked() {
    let lab = Lab::new();
    let out = lab.path("x.pcapng");
    let out = out.to_str().unwrap();
    for (args, message) in [
        (
            vec!["-a", "duration:0"],
            "-a duration:0: must be between 0.001 and 1000000000 seconds",
        ),
        (
            vec!["-a", "duration:soon"],
            "-a duration:soon: \"soon\" is not a number of seconds",
        ),
        (
            vec!["-a", "files:2"],
            "-a files:N needs -b (a ring of files); without it there is one file",
        ),
        (
            vec!["-a", "frames:2"],
            "-a frames:2: unknown; expected duration:SEC, filesize:KB, files:N or packets:N",
        ),
        (vec!["-b", "packets:0"], "-b packets:0: must be at least 1"),
        (
            vec!["-b", "files:3"],
            "-b files:N needs -b filesize:KB, duration:SEC, interval:SEC or packets:N to start new files",
        ),
    ] {
        // Usage errors, exit 2 like clap's own (`-B 0` below) and every other command's.
        let mut all = vec!["capture", "wa", "-w", out];
        all.extend(args.iter().copied());
        let run = lab.wire.patchwire(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!(
                "error: {message}\n\nUsage: patchwire capture [OPTIONS] -w FILE|- (TARGET... | \
                 --wires | --lab FILE)\n\nFor more information, try '--help'.\n"
            )
        );
        let mut json = vec!["-j"];
        json.extend(all);
        let run = lab.wire.patchwire(&json);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.json(), serde_json::json!({ "error": message }));
        assert!(!Path::new(out).exists(), "{args:?} left {out}");
    }
    let run = lab.wire.patchwire(&["capture", "wa", "-w", out, "-B", "0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("0 is not in 1..=4096"),
        "{}",
        run.stderr
    );
}

/// Without privileges the ring cannot be opened: the EPERM is kept as the error's source, so the
/// "needs root" hint comes from its kind (not from searching the words), said once, in text and
/// in JSON, and no file is made. Only the host's `lo` is looked at; nothing is sent or changed.
#[test]
fn as_non_root_the_capture_error_says_it_needs_root() {
    let path = std::env::temp_dir().join(format!("pwt-{}-nonroot.pcapng", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let message = "opening a capture on lo: Operation not permitted (os error 1) (patchwire \
                   needs root: CAP_NET_ADMIN, and CAP_SYS_ADMIN to enter a netns)";
    for json in [false, true] {
        let mut command = Command::new("setpriv");
        command.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            common::bin(),
        ]);
        if json {
            command.arg("-j");
        }
        command.args(["capture", "lo", "-c", "1", "-w"]).arg(&path);
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        // A note about the netlink receive buffer may come first (no CAP_NET_ADMIN).
        let last = stderr.lines().last().unwrap_or_default();
        if json {
            assert_eq!(
                stdout,
                format!("{}\n", serde_json::json!({ "error": message }))
            );
            assert!(!last.starts_with("patchwire: opening"), "{stderr}");
        } else {
            assert_eq!(last, format!("patchwire: {message}"), "{stderr}");
            assert_eq!(stdout, "");
        }
        assert!(!path.exists(), "{} was made", path.display());
    }
}

// Issue 18: rings are opened and closed from many threads at once (each waits for an RCU
// grace period; 300 interfaces took ~8 s to stop one by one, see docs/benchmarks.md). Every
// frame still lands on its own interface's block, with its direction.
#[test]
fn many_interfaces_each_get_their_own_frames() {
    const PAIRS: u32 = 40;
    let ns = TestNs::new();
    let dir = std::env::temp_dir().join(format!("pwt-{}-many", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut batch = String::new();
    for i in 1..=PAIRS {
        batch.push_str(&format!("link add a{i} type veth peer name b{i}\n"));
    }
    for i in 1..=PAIRS {
        batch.push_str(&format!("link set a{i} up\nlink set b{i} up\n"));
    }
    let batch_file = dir.join("batch");
    std::fs::write(&batch_file, batch).unwrap();
    run(
        "ip",
        &["-n", &ns.name, "-batch", batch_file.to_str().unwrap()],
    );
    for i in 1..=PAIRS {
        settle(&ns, &format!("b{i}"));
    }
    let file = dir.join("many.pcapng");
    let names: Vec<String> = (1..=PAIRS)
        .flat_map(|i| [format!("a{i}"), format!("b{i}")])
        .collect();
    let count = (2 * PAIRS).to_string();
    let mut args: Vec<&str> = names.iter().map(String::as_str).collect();
    args.extend([
        "-w",
        file.to_str().unwrap(),
        "-B",
        "1",
        "-f",
        "ether proto 0x88b5",
    ]);
    args.extend(["-c", &count]);
    let capture = Capture::start(&ns, &args, Stdio::null());
    for i in 1..=PAIRS {
        packet_socket(&ns, &format!("a{i}"))
            .send(&numbered(i))
            .unwrap();
    }
    let (code, stderr) = capture.finish();
    assert_eq!(code, 0, "{stderr}");
    let found = sequences(&file);
    for i in 1..=PAIRS {
        for end in ["a", "b"] {
            let label = format!("{}:{end}{i}", ns.name);
            assert_eq!(found.get(&label), Some(&vec![i]), "{label}: {found:?}");
        }
    }
    let directions: Vec<(String, u32)> = tshark_frames(&file)
        .into_iter()
        .filter(|f| f.interface.ends_with(":a1") || f.interface.ends_with(":b1"))
        .map(|f| (f.interface, f.direction))
        .collect();
    assert_eq!(
        directions,
        [
            (format!("{}:a1", ns.name), 2),
            (format!("{}:b1", ns.name), 1)
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! The capture tests' lab and observers (tests/capture.rs, tests/capture_files.rs): two nodes
//! joined through a wire namespace, a running `patchwire capture`, and tshark/capinfos reading
//! the files back.

use super::*;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use patchwire::probe::catalogue::{self, FrameKind};

pub const NONCE: [u8; 8] = *b"capture1";

pub struct Lab {
    pub r1: TestNs,
    pub r2: TestNs,
    pub wire: TestNs,
    pub dir: PathBuf,
}

impl Lab {
    pub fn new() -> Lab {
        let (r1, r2, wire) = (TestNs::new(), TestNs::new(), TestNs::new());
        veth(&r1, "a0", &wire, "wa");
        veth(&r2, "b0", &wire, "wb");
        wire.patchwire(&["link", "wa", "wb"]).ok();
        let dir = std::env::temp_dir().join(format!("{}-capture", wire.name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Lab { r1, r2, wire, dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn send(&self, from_r1: bool, frames: &[Vec<u8>]) {
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
pub struct Capture {
    pub child: Option<Child>,
    pub stderr: BufReader<ChildStderr>,
    pub said: String,
}

impl Capture {
    pub fn start(ns: &TestNs, args: &[&str], stdout: Stdio) -> Capture {
        // `capture --lab` refuses -n (the lab names its namespaces): only other captures get it.
        let netns = match args.contains(&"--lab") {
            true => vec![],
            false => vec!["-n", ns.name.as_str()],
        };
        let mut child = Command::new("timeout")
            .args(["-s", "KILL", "60", super::bin()])
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
    pub fn stop(mut self) -> (i32, String) {
        let child = self.child.as_mut().unwrap();
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        self.finish()
    }

    /// Waits (bounded) for it to end by itself.
    pub fn finish(mut self) -> (i32, String) {
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
            // `timeout` (without --foreground) leads a process group of its own: killing the
            // group ends the capture too, where a SIGKILL to `timeout` alone would leave it.
            // SAFETY: kill(2) has no memory effects; the group is our child's, not yet waited
            // for, so its id is not reused.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

/// One frame as tshark read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub interface: String,
    pub direction: u32,
    pub bytes: Vec<u8>,
}

pub fn tshark_frames(path: &Path) -> Vec<Captured> {
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
pub fn capinfos(path: &Path) -> String {
    run("capinfos", &[path.to_str().unwrap()])
}

pub fn probe_frames(from: [u8; 6]) -> Vec<(FrameKind, Vec<u8>)> {
    catalogue::catalogue(from, NONCE, 1500)
        .into_iter()
        .map(|f| (f.kind, f.bytes))
        .collect()
}

/// A minimal IPv4/ICMP echo frame, with an 802.1Q tag when `vlan` is given.
pub fn icmp_frame(vlan: Option<u16>, seq: u8) -> Vec<u8> {
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

/// A frame with an experimental ethertype carrying sequence number `seq`.
pub fn numbered(seq: u32) -> Vec<u8> {
    let mut frame = vec![
        0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0x0a, 0x01, 0x88, 0xb5,
    ];
    frame.extend_from_slice(b"seq:");
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.resize(60, 0x5a);
    frame
}

/// The sequence numbers in the file, per interface label, in file order.
pub fn sequences(path: &Path) -> std::collections::BTreeMap<String, Vec<u32>> {
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
pub fn summary_line(stderr: &str, label: &str) -> (u64, u64, u64, u64) {
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

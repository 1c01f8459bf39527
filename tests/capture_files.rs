//! `patchwire capture` writing files, read back by Debian's tshark and capinfos: rings by size,
//! time and interval, dumpcap's stop conditions, stdout into tshark, a full disk, and every
//! interface's last frames at a signal, a stop or a vanished interface. The lab is
//! tests/capture.rs's (`common::capture`).

mod common;
use common::capture::*;
use common::*;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

// ---------------------------------------------------------------------------------------------
// Stopping, starting together, vanished interfaces, dumpcap's conditions (issue 18 item 11)
// ---------------------------------------------------------------------------------------------

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

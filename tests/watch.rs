//! `watch` against the real kernel: carrier propagation both ways without bouncing, re-attach
//! of a recreated end (with the probe passing again), `--once` across processes, refusals,
//! SIGTERM, and a storm of 200 flapping wires. Each test watches only its own namespace (`-n`):
//! a global watcher would act on other tests' namespaces.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A running `patchwire -n NS -j watch`, its JSON events collected; stopped on drop.
struct Watcher {
    child: Child,
    events: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Watcher {
    fn start(ns: &TestNs) -> Watcher {
        let mut command = Command::new(common::bin());
        command.args(["-n", &ns.name, "-j", "watch"]);
        let mut watcher = Self::spawn(command);
        watcher.wait_watching(ns);
        watcher
    }

    /// Waits (bounded) until the watcher holds its lock on `ns` (its flock shows in
    /// /proc/locks; looked at, not tried, so the test never takes the lock from it): by then it
    /// has installed its SIGTERM handler, so `stop` tests a clean stop rather than how fast the
    /// process started (under qemu TCG a start takes longer than `spawn`'s pause, and SIGTERM
    /// killed it).
    fn wait_watching(&mut self, ns: &TestNs) {
        let pid = self.child.id().to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let locks = std::fs::read_to_string("/proc/locks").unwrap();
            if locks.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 4 && f[1] == "FLOCK" && f[4] == pid
            }) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("watch exited before watching {}: {status}", ns.name);
            }
            assert!(
                Instant::now() < deadline,
                "watch (pid {pid}) took no lock on {} within 30 s",
                ns.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn(mut command: Command) -> Watcher {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start watch");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                sink.lock().unwrap().push(event);
            }
        });
        // The watcher reconciles once when it starts; give it that moment.
        std::thread::sleep(Duration::from_millis(300));
        Watcher { child, events }
    }

    fn events(&self) -> Vec<serde_json::Value> {
        self.events.lock().unwrap().clone()
    }

    /// Waits (bounded) until an event of this kind about `end` has arrived.
    fn wait_event(&self, kind: &str, end: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
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
                "no {kind} event for {end}; got {:?}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then the exit status (bounded).
    fn stop(&mut self) -> i32 {
        self.terminate(Duration::from_secs(3))
            .expect("watch did not stop within 3 s of SIGTERM")
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    fn terminate(&mut self, limit: Duration) -> Option<i32> {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().ok().flatten() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Watcher {
    /// SIGTERM first, so the watcher removes its lock file under /run/patchwire; SIGKILL only
    /// if it has not stopped within 2 s.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        if self.terminate(Duration::from_secs(2)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// r1:x1 <-> lab:eth1 ==wire== lab:eth2 <-> r2:x2
struct Lab {
    r1: TestNs,
    r2: TestNs,
    lab: TestNs,
}

impl Lab {
    fn new() -> Lab {
        let (r1, r2, lab) = (TestNs::new(), TestNs::new(), TestNs::new());
        veth(&r1, "x1", &lab, "eth1");
        veth(&r2, "x2", &lab, "eth2");
        lab.patchwire(&["link", "eth1", "eth2"]).ok();
        Lab { r1, r2, lab }
    }
}

fn line(ns: &TestNs, dev: &str) -> String {
    ns.ip(&format!("-o link show dev {dev}"))
}

fn no_carrier(text: &str) -> bool {
    text.contains("NO-CARRIER")
}

fn carrier(text: &str) -> bool {
    text.contains("LOWER_UP")
}

#[test]
fn carrier_loss_crosses_the_wire_both_ways_and_does_not_bounce() {
    let lab = Lab::new();
    let mut watcher = Watcher::start(&lab.lab);
    assert!(
        watcher.events().is_empty(),
        "a healthy wire needs nothing: {:?}",
        watcher.events()
    );

    lab.r1.ip("link set dev x1 down");
    wait_link(&lab.r2, "x2", "NO-CARRIER", no_carrier);
    let event = watcher.wait_event("link-down-propagated", "eth2");
    assert_eq!(event["because"], "eth1");
    assert!(
        line(&lab.lab, "eth2").contains("alias patchwire held down: far end eth1 is down or gone")
    );
    // eth1 (the source) is left alone: only its far side changed.
    assert!(line(&lab.lab, "eth1").contains(",UP"));

    lab.r1.ip("link set dev x1 up");
    wait_link(&lab.r2, "x2", "carrier", carrier);
    watcher.wait_event("link-up-propagated", "eth2");
    assert!(
        !line(&lab.lab, "eth2").contains("alias"),
        "the hold mark is gone"
    );

    // The other direction.
    lab.r2.ip("link set dev x2 down");
    wait_link(&lab.r1, "x1", "NO-CARRIER", no_carrier);
    watcher.wait_event("link-down-propagated", "eth1");
    lab.r2.ip("link set dev x2 up");
    wait_link(&lab.r1, "x1", "carrier", carrier);
    watcher.wait_event("link-up-propagated", "eth1");

    // patchwire's own changes (eth2 down, eth2 up…) made no further events: no bouncing.
    std::thread::sleep(Duration::from_millis(500));
    let kinds: Vec<String> = watcher
        .events()
        .iter()
        .map(|e| format!("{} {}", e["event"], e["end"]))
        .collect();
    assert_eq!(
        kinds,
        [
            "\"link-down-propagated\" \"eth2\"",
            "\"link-up-propagated\" \"eth2\"",
            "\"link-down-propagated\" \"eth1\"",
            "\"link-up-propagated\" \"eth1\""
        ]
    );
    assert_eq!(watcher.stop(), 0);
    // The frames flow again end to end.
    assert_eq!(
        lab.lab.patchwire(&["-j", "probe", "eth1"]).json()["passed"],
        true
    );
}

#[test]
fn a_recreated_end_is_wired_again_and_passes_the_probe() {
    let lab = Lab::new();
    let watcher = Watcher::start(&lab.lab);
    lab.lab.ip("link del dev eth2");
    let broken = watcher.wait_event("wire-broken", "eth1");
    assert_eq!(broken["gone"], "eth2");
    // The survivor is held down like an unplugged cable: r1 sees no carrier.
    wait_link(&lab.r1, "x1", "NO-CARRIER", no_carrier);

    veth(&lab.r2, "x2", &lab.lab, "eth2");
    let reattached = watcher.wait_event("wire-reattached", "eth1");
    assert_eq!(reattached["partner"], "eth2");
    watcher.wait_event("link-up-propagated", "eth1");
    wait_link(&lab.r1, "x1", "carrier", carrier);
    assert_eq!(
        (lab.lab.wire_filters("eth1"), lab.lab.wire_filters("eth2")),
        (1, 1)
    );
    let probe = lab.lab.patchwire(&["-j", "probe", "eth1"]);
    assert_eq!(probe.json()["passed"], true, "{}", probe.stdout);
    let broken_reports = watcher
        .events()
        .iter()
        .filter(|e| e["event"] == "wire-broken")
        .count();
    assert_eq!(broken_reports, 1, "a broken wire is reported once");
}

#[test]
fn watch_once_repairs_and_a_later_run_undoes_it() {
    let lab = Lab::new();
    lab.r1.ip("link set dev x1 down");
    wait_link(&lab.lab, "eth1", "NO-CARRIER", no_carrier);
    let run = lab.lab.patchwire(&["-j", "watch", "--once"]);
    let event: serde_json::Value = serde_json::from_str(run.ok().stdout.trim()).unwrap();
    assert_eq!(event["event"], "link-down-propagated");
    assert_eq!(event["end"], "eth2");
    wait_link(&lab.r2, "x2", "NO-CARRIER", no_carrier);

    // A new process knows from the kernel alone (the alias) that eth2 is held, and why.
    lab.r1.ip("link set dev x1 up");
    wait_link(&lab.lab, "eth1", "carrier", carrier);
    let run = lab.lab.patchwire(&["watch", "--once"]);
    assert_eq!(
        run.ok().stdout,
        format!("{}: eth1 is up again: brought eth2 back up\n", lab.lab.name)
    );
    wait_link(&lab.r2, "x2", "carrier", carrier);
    assert_eq!(
        lab.lab.patchwire(&["watch", "--once"]).ok().stdout,
        "",
        "nothing left to do"
    );
}

#[test]
fn an_unlinked_wire_releases_its_held_end() {
    let lab = Lab::new();
    lab.r1.ip("link set dev x1 down");
    wait_link(&lab.lab, "eth1", "NO-CARRIER", no_carrier);
    lab.lab.patchwire(&["watch", "--once"]).ok();
    assert!(line(&lab.lab, "eth2").contains("alias patchwire held down"));
    // unlink itself releases the hold (a watcher may not be running at all).
    let run = lab.lab.patchwire(&["unlink", "eth1"]);
    assert_eq!(
        run.ok().stdout,
        "unwired: eth1 <-> eth2\nreleased: eth2 (watch had held it down) is up again\n"
    );
    let run = lab.lab.patchwire(&["-j", "watch", "--once"]);
    assert_eq!(run.ok().stdout, "", "nothing left for watch to release");
    assert!(!line(&lab.lab, "eth2").contains("alias"));
    assert!(line(&lab.lab, "eth2").contains(",UP"));
}

#[test]
fn a_users_alias_survives_a_hold() {
    let lab = Lab::new();
    lab.lab.ip("link set dev eth2 alias uplink-to-r2");
    lab.r1.ip("link set dev x1 down");
    wait_link(&lab.lab, "eth1", "NO-CARRIER", no_carrier);
    lab.lab.patchwire(&["watch", "--once"]).ok();
    assert!(line(&lab.lab, "eth2").contains("| alias was: uplink-to-r2"));
    lab.r1.ip("link set dev x1 up");
    wait_link(&lab.lab, "eth1", "carrier", carrier);
    lab.lab.patchwire(&["watch", "--once"]).ok();
    assert!(
        line(&lab.lab, "eth2").contains("alias uplink-to-r2"),
        "{}",
        line(&lab.lab, "eth2")
    );
}

#[test]
fn watch_refuses_a_missing_namespace_and_a_second_watcher() {
    require_root();
    patchwire(&["-n", "pwt-no-such-ns", "watch"])
        .fails_with("netns pwt-no-such-ns does not exist (no /run/netns/pwt-no-such-ns)");
    let lab = Lab::new();
    let mut first = Watcher::start(&lab.lab);
    let second = lab.lab.patchwire(&["watch"]);
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.starts_with(&format!(
            "patchwire: another patchwire watch is already watching netns {}",
            lab.lab.name
        )),
        "{}",
        second.stderr
    );
    assert_eq!(first.stop(), 0, "SIGTERM stops the watcher cleanly");
    // Once the first is gone, a new watcher may start.
    let mut again = Watcher::start(&lab.lab);
    assert_eq!(again.stop(), 0);
}

#[test]
fn a_storm_of_200_flapping_wires_settles_without_event_loops() {
    let big = BigLab::new(200);
    let (lab, far) = (&big.lab, &big.far);
    let up = |ns: &TestNs, prefixes: &[&str], state: &str| big.set_all(ns, prefixes, state);

    // One healthy wire outside the storm: its frames must keep flowing throughout.
    veth(lab, "c", far, "pc");
    veth(lab, "d", far, "pd");
    lab.patchwire(&["link", "c", "d"]).ok();

    let mut watcher = Watcher::start(lab);
    // Each state is held longer than the kernel's linkwatch batching (up to 1 s), which
    // would otherwise fold a quick down-up into no carrier change at all.
    for _ in 0..3 {
        up(far, &["pa"], "down");
        std::thread::sleep(Duration::from_millis(1200));
        let probe = lab.patchwire(&["-j", "probe", "c"]);
        assert_eq!(
            probe.json()["passed"],
            true,
            "healthy wire mid-storm: {}",
            probe.stdout
        );
        up(far, &["pa"], "up");
        std::thread::sleep(Duration::from_millis(1200));
    }
    // Settles: every b end up again and unmarked, within a bound.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let links = lab.ip("-o link show");
        let held = links
            .lines()
            .filter(|l| l.contains("patchwire held down"))
            .count();
        let b_down = links
            .lines()
            .filter(|l| l.contains(": b") && !l.contains(",UP"))
            .count();
        if held == 0 && b_down == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{held} ends still held, {b_down} b ends down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Then quiet: a second with no events and (almost) no CPU — no loop feeding itself. The
    // watcher may still be reading the storm's last notifications when the ends are settled
    // (in a TCG guest that takes seconds), so it gets a bounded time to fall quiet; a loop
    // feeding itself never does.
    std::thread::sleep(Duration::from_millis(300));
    let quiet_by = Instant::now() + patience(Duration::from_secs(5));
    loop {
        let events_before = watcher.events().len();
        let cpu_before = cpu_ticks(watcher.child.id());
        std::thread::sleep(Duration::from_secs(1));
        let events = watcher.events().len() - events_before;
        let ticks = cpu_ticks(watcher.child.id()) - cpu_before;
        if events == 0 && ticks <= 10 {
            break;
        }
        assert!(
            Instant::now() < quiet_by,
            "watch never fell quiet after the storm: in its last second {events} events and \
             {ticks} CPU ticks (1/100 s)"
        );
    }
    let downs = watcher
        .events()
        .iter()
        .filter(|e| e["event"] == "link-down-propagated")
        .count();
    let ups = watcher
        .events()
        .iter()
        .filter(|e| e["event"] == "link-up-propagated")
        .count();
    assert_eq!(downs, ups, "every hold was released");
    assert!(downs > 0, "the storm was seen");
    assert_eq!(watcher.stop(), 0);
}

/// `count` wires a<i> <-> b<i> in `lab`, every end a veth whose peer (pa<i>, pb<i>) is in `far`.
struct BigLab {
    lab: TestNs,
    far: TestNs,
    count: usize,
    file: std::path::PathBuf,
}

impl BigLab {
    fn new(count: usize) -> BigLab {
        let (lab, far) = (TestNs::new(), TestNs::new());
        let file = std::env::temp_dir().join(format!("{}-big", lab.name));
        let big = BigLab {
            lab,
            far,
            count,
            file,
        };
        big.batch(&big.lab, |i| {
            format!(
                "link add name a{i} type veth peer name pa{i} netns {far}\nlink add name b{i} type veth peer name pb{i} netns {far}\n",
                far = big.far.name
            )
        });
        big.set_all(&big.lab, &["a", "b"], "up");
        big.set_all(&big.far, &["pa", "pb"], "up");
        let wires: String = (0..count).map(|i| format!("a{i} b{i}\n")).collect();
        std::fs::write(&big.file, wires).unwrap();
        big.lab
            .patchwire(&["link", "--batch", big.file.to_str().unwrap()])
            .ok();
        big
    }

    /// `ip link set dev PREFIX<i> STATE` for every i and prefix, in one `ip -batch`.
    fn set_all(&self, ns: &TestNs, prefixes: &[&str], state: &str) {
        self.batch(ns, |i| {
            prefixes
                .iter()
                .map(|p| format!("link set dev {p}{i} {state}\n"))
                .collect()
        });
    }

    fn batch(&self, ns: &TestNs, line: impl Fn(usize) -> String) {
        std::fs::write(&self.file, (0..self.count).map(line).collect::<String>()).unwrap();
        run(
            "ip",
            &["-n", &ns.name, "-batch", self.file.to_str().unwrap()],
        );
    }
}

impl Drop for BigLab {
    /// Deletes the veths now, so the kernel does not tear hundreds of them down in the
    /// background (holding the RTNL lock) while later tests run.
    fn drop(&mut self) {
        let text: String = (0..self.count)
            .map(|i| format!("link del dev a{i}\nlink del dev b{i}\n"))
            .collect();
        if std::fs::write(&self.file, text).is_ok() {
            let _ = Command::new("ip")
                .args(["-n", &self.lab.name, "-batch"])
                .arg(&self.file)
                .output();
        }
        let _ = std::fs::remove_file(&self.file);
    }
}

/// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn watching_all_namespaces_picks_up_new_ones_and_lets_go_of_deleted_ones() {
    require_root();
    // A private /run/netns and a private current namespace: this watcher sees only what the
    // test creates, never the host's or other tests' namespaces.
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--net", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mkdir -p /run/netns && mount -t tmpfs pwt-netns /run/netns && exec {} -j watch",
            common::bin()
        ));
    let mut watcher = Watcher::spawn(command);
    let mount = format!("--mount=/proc/{}/ns/mnt", watcher.child.id());
    let inside = |args: &[&str]| {
        let mut all = vec![mount.as_str()];
        all.extend(args);
        run("nsenter", &all)
    };
    let holds = |pid: u32, inode: &str| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .map(|target| target.to_string_lossy().into_owned())
            // The namespace fd shows as its path or as net:[INODE]; the watcher's lock names it too.
            .any(|target| {
                target == format!("net:[{inode}]")
                    || target.split(" (deleted)").next() == Some("/run/netns/late")
                    || target.ends_with(&format!("-{inode}.lock"))
            })
    };
    for ns in ["late", "late-r1", "late-r2"] {
        inside(&["ip", "netns", "add", ns]);
    }
    inside(&[
        "ip", "-n", "late-r1", "link", "add", "name", "x1", "type", "veth", "peer", "name", "e1",
        "netns", "late",
    ]);
    inside(&[
        "ip", "-n", "late-r2", "link", "add", "name", "x2", "type", "veth", "peer", "name", "e2",
        "netns", "late",
    ]);
    for dev in ["e1", "e2"] {
        inside(&["ip", "-n", "late", "link", "set", "dev", dev, "up"]);
    }
    inside(&["ip", "-n", "late-r2", "link", "set", "dev", "x2", "up"]);
    inside(&[common::bin(), "-n", "late", "link", "e1", "e2"]);
    // x1 is down, so e1 has no carrier: once the watcher finds "late" it holds e2 down.
    let event = watcher.wait_event("link-down-propagated", "e2");
    assert_eq!(
        (event["netns"].as_str(), event["because"].as_str()),
        (Some("late"), Some("e1"))
    );
    let inode = inside(&["stat", "-L", "-c", "%i", "/run/netns/late"])
        .trim()
        .to_string();
    assert!(
        holds(watcher.child.id(), &inode),
        "the watcher holds the namespace it watches"
    );

    inside(&["ip", "netns", "del", "late"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while holds(watcher.child.id(), &inode) {
        assert!(
            Instant::now() < deadline,
            "the watcher still holds the deleted namespace"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The event is printed after the namespace is let go, and read by another thread: wait
    // for it, then stop the watcher and count (a second one would be a defect).
    let gone = |watcher: &Watcher| -> Vec<serde_json::Value> {
        watcher
            .events()
            .into_iter()
            .filter(|e| e["event"] == "namespace-gone")
            .collect()
    };
    while gone(&watcher).is_empty() {
        assert!(Instant::now() < deadline, "no namespace-gone event");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(watcher.stop(), 0);
    let gone = gone(&watcher);
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!(gone[0]["netns"], "late");
}

/// `2026-12-06T23:05:01.123Z`: RFC 3339, UTC, milliseconds.
fn is_rfc3339_ms(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn watch_of_a_namespace_that_is_deleted_lets_go_and_exits_0() {
    let lab = Lab::new();
    let mut watcher = Watcher::start(&lab.lab);
    lab.r1.ip("link set dev x1 down");
    let event = watcher.wait_event("link-down-propagated", "eth2");
    let time = event["time"].as_str().unwrap_or_default();
    assert!(is_rfc3339_ms(time), "time {time:?} in {event}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The date part is today's (UTC), as `date -u` would print it.
    let today = run("date", &["-u", "-d", &format!("@{now}"), "+%Y-%m-%d"]);
    let yesterday = run(
        "date",
        &["-u", "-d", &format!("@{}", now - 60), "+%Y-%m-%d"],
    );
    assert!(
        time.starts_with(today.trim()) || time.starts_with(yesterday.trim()),
        "{time} vs {today}"
    );

    // The lab is taken down: the watcher reports it and exits 0 (no restart loop for a unit
    // with Restart=on-failure).
    run("ip", &["netns", "del", &lab.lab.name]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = watcher.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "watch still running after its namespace was deleted"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    // The reader thread gets the last line once the pipe closes.
    std::thread::sleep(Duration::from_millis(100));
    let events = watcher.events();
    let last = events.last().unwrap();
    assert_eq!(last["event"], "namespace-gone", "{events:?}");
    assert_eq!(last["netns"], lab.lab.name.as_str());
    assert!(is_rfc3339_ms(last["time"].as_str().unwrap()), "{last}");

    // The text form of the same.
    let other = Lab::new();
    let mut child = Command::new(common::bin())
        .args(["-n", &other.lab.name, "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    run("ip", &["netns", "del", &other.lab.name]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("text watch still running after its namespace was deleted");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{}: the namespace is gone (deleted, or its lab taken down): no longer watched\n",
            other.lab.name
        )
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn sigterm_during_repairs_leaves_every_end_consistent() {
    let big = BigLab::new(50);
    let lab = &big.lab;

    let mut watcher = Watcher::start(lab);
    big.set_all(&big.far, &["pa"], "down");
    // Stop it while it is busy holding ends down.
    let deadline = Instant::now() + Duration::from_secs(20);
    while watcher.events().is_empty() {
        assert!(Instant::now() < deadline, "no repairs started");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(watcher.stop(), 0);
    // Every b end is either held (down, marked) or untouched (up, unmarked): nothing half-done.
    for text in lab.ip("-o link show").lines().filter(|l| l.contains(": b")) {
        let marked = text.contains("patchwire held down");
        let up = text.contains(",UP");
        assert!(marked != up, "inconsistent end: {text}");
    }
    // A later run finishes the job from the kernel's state alone.
    lab.patchwire(&["watch", "--once"]).ok();
    let held = lab
        .ip("-o link show")
        .lines()
        .filter(|l| l.contains("patchwire held down"))
        .count();
    assert_eq!(held, 50);
}

#[test]
fn a_vm_restart_holds_the_partner_down_then_rewires_it() {
    let (r1, lab) = (TestNs::new(), TestNs::new());
    veth(&r1, "x1", &lab, "eth1");
    let dir = std::env::temp_dir().join(format!("{}-qemu", lab.name));
    std::fs::create_dir_all(&dir).unwrap();
    let ifup = dir.join("patchwire-ifup");
    std::os::unix::fs::symlink(common::bin(), &ifup).unwrap();
    // qemu with no guest and only a tap: script= wires it, downscript=no keeps the wire, so a
    // stop leaves a broken wire for watch to act on.
    let start_qemu = || {
        let netdev = format!(
            "tap,id=t0,ifname=tap1,script={},downscript=no",
            ifup.display()
        );
        Command::new("timeout")
            .args([
                "-s",
                "KILL",
                "60",
                "ip",
                "netns",
                "exec",
                &lab.name,
                "qemu-system-x86_64",
            ])
            .args([
                "-M",
                "none",
                "-nodefaults",
                "-nographic",
                "-display",
                "none",
                "-monitor",
                "none",
            ])
            .args([
                "-serial",
                "none",
                "-netdev",
                &netdev,
                "-netdev",
                "hubport,id=p0,hubid=0,netdev=t0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu")
    };
    let stop_qemu = |mut qemu: Child| {
        // SAFETY: kill(2) on our own child (timeout, which passes SIGTERM on to qemu).
        unsafe { libc::kill(qemu.id() as i32, libc::SIGTERM) };
        let _ = qemu.wait();
    };
    let watcher = Watcher::start(&lab);
    let qemu = start_qemu();
    // qemu creates tap1 and its script= wires it: wait (bounded) for an attached tap end.
    let deadline = Instant::now() + Duration::from_secs(20);
    while lab.patchwire(&["-j", "show"]).json()[0]["b"]["attached"] != true {
        assert!(Instant::now() < deadline, "qemu did not wire tap1");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_link(&r1, "x1", "carrier", carrier);

    stop_qemu(qemu);
    // The VM's cable is pulled: the router behind eth1 sees it.
    watcher.wait_event("wire-broken", "eth1");
    watcher.wait_event("link-down-propagated", "eth1");
    wait_link(&r1, "x1", "NO-CARRIER", no_carrier);

    let qemu = start_qemu();
    watcher.wait_event("link-up-propagated", "eth1");
    wait_link(&r1, "x1", "carrier", carrier);
    let show = lab.patchwire(&["-j", "show"]).json();
    assert_eq!(show[0]["health"], "ok", "{show}");
    stop_qemu(qemu);
    std::fs::remove_dir_all(dir).unwrap();
}

// Issue 18: a watch whose output reader goes away (EPIPE; SIGPIPE would kill it) stops as on
// SIGTERM: exit 0, its lock file under /run/patchwire removed.
#[test]
fn a_watch_whose_reader_goes_away_removes_its_lock_file() {
    let lab = Lab::new();
    let child = Command::new(common::bin())
        .args(["-n", &lab.lab.name, "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut watcher = Watcher {
        child,
        events: Arc::new(Mutex::new(Vec::new())),
    };
    watcher.wait_watching(&lab.lab);
    let pid = watcher.child.id();
    let lock = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .find(|target| target.to_string_lossy().ends_with(".lock"))
        .expect("watch holds a lock file");
    assert!(lock.starts_with("/run/patchwire"), "{lock:?}");
    // The reader goes away; the next event has nowhere to go.
    drop(watcher.child.stdout.take());
    lab.r1.ip("link set dev x1 down");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = watcher.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "watch still running after its reader went away"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(!lock.exists(), "{lock:?} left behind");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut watcher.child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(stderr, "");
}

/// Removes the files it names when dropped (a test's own files, on every path).
struct RemoveFiles(Vec<std::path::PathBuf>);

impl Drop for RemoveFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Review of issue 18 (b), 8: a SIGKILLed watch leaves its lock file; a watch that starts
/// removes the ones nobody holds, and keeps the ones held and the ones just made (a watcher
/// starting at the same instant).
#[test]
fn a_starting_watch_removes_lock_files_nobody_holds() {
    let ns = TestNs::new();
    let dir = std::path::Path::new("/run/patchwire");
    std::fs::create_dir_all(dir).unwrap();
    let pid = std::process::id();
    let [stale, held, fresh] = [1, 2, 3].map(|n| dir.join(format!("watch-0-{pid}00{n}.lock")));
    let _files = RemoveFiles(vec![stale.clone(), held.clone(), fresh.clone()]);
    for path in [&stale, &held, &fresh] {
        std::fs::File::create(path).unwrap();
    }
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    for path in [&stale, &held] {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let holder = std::fs::File::open(&held).unwrap();
    holder.try_lock().unwrap();
    let mut watcher = Watcher::start(&ns);
    assert!(!stale.exists(), "the stale lock file is left");
    assert!(held.exists(), "a held lock file was removed");
    assert!(fresh.exists(), "a lock file made just now was removed");
    assert_eq!(watcher.stop(), 0);
    drop(holder);
}

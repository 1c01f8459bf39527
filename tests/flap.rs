//! Flapping links (issue 21, `flap:` run by `patchwire watch --lab FILE`), privileged, against
//! the real kernel and a real peer:
//! - a schedule measured against its configuration: both nodes' carrier transitions observed
//!   independently (`ip -ts monitor link` in each node's namespace, the kernel's own
//!   notifications with ip's timestamps), as many pulls as `count` says, each phase's length
//!   within a generous bound (the code promises a wake-up and one netlink round trip per port
//!   after each scheduled time; the bound is 400 ms, figures printed);
//! - stopping the watch mid-pull puts the cable back, a changed file is followed without a
//!   restart, `plan` lists no difference for a flap's pull while a watch runs, and a watch
//!   killed with SIGKILL mid-pull leaves a cut that `plan` lists and `up` mends;
//! - FRR (zebra + ospfd of the test's own in each node) sees the flaps: the OSPF adjacency
//!   goes down and comes back once per pull, and stays up once the flap is removed from the
//!   file.

mod common;

use std::io::{BufRead, BufReader};
use std::mem::ManuallyDrop;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::labfile::LabFile as Lab;
use common::{TestNs, patchwire, run};

/// A lab node's namespace as a TestNs that is not deleted on drop (`down` removes it).
fn node(lab: &Lab, name: &str) -> ManuallyDrop<TestNs> {
    ManuallyDrop::new(TestNs {
        name: format!("{}-{name}", lab.name),
    })
}

fn two(flap: &str) -> String {
    format!(
        "name: LAB\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n  links:\n    \
         - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n{flap}"
    )
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process whose stdout lines are collected by a thread; killed on drop.
struct Reader {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Reader {
    fn spawn(mut command: Command) -> Reader {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Reader { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// SIGTERM (SIGKILL with `kill`), then the exit status (bounded: 5 s).
    fn signal(&mut self, signal: i32) -> Option<i32> {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().ok().flatten() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SIGTERM first: a watcher puts its cables back and removes its lock file.
            if self.signal(libc::SIGTERM).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// `patchwire -j watch --lab FILE`, started and holding its lock (bounded wait).
struct Watch(Reader);

impl Watch {
    fn start(lab: &Lab) -> Watch {
        Watch::start_with(&["-j", "watch", "--lab", lab.path()])
    }

    fn start_with(args: &[&str]) -> Watch {
        let mut command = Command::new(env!("CARGO_BIN_EXE_patchwire"));
        command.args(args);
        let mut watch = Watch(Reader::spawn(command));
        let pid = watch.0.child.id().to_string();
        let held = eventually(Duration::from_secs(30), || {
            std::fs::read_to_string("/proc/locks")
                .unwrap()
                .lines()
                .any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 4 && f[1] == "FLOCK" && f[4] == pid
                })
        });
        if !held {
            panic!(
                "watch --lab took no lock within 30 s (exit {:?})",
                watch.0.child.try_wait()
            );
        }
        watch
    }

    fn events(&self) -> Vec<serde_json::Value> {
        self.0
            .lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    fn of(&self, kind: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == kind)
            .collect()
    }

    /// Waits (bounded) until `n` events of `kind` have arrived.
    fn wait_for(&self, kind: &str, n: usize, limit: Duration) -> Vec<serde_json::Value> {
        let arrived = eventually(limit, || self.of(kind).len() >= n);
        assert!(
            arrived,
            "fewer than {n} {kind} events within {limit:?}: {:#?}",
            self.events()
        );
        self.of(kind)
    }
}

/// Carrier transitions of a node's eth1 as the kernel announces them (`ip -ts monitor link`
/// in the node's namespace): (seconds of the day by ip's clock, carrier).
struct Carrier(Reader);

impl Carrier {
    fn watch(netns: &str) -> Carrier {
        let mut command = Command::new("ip");
        command.args(["-ts", "-n", netns, "monitor", "link", "dev", "eth1"]);
        let carrier = Carrier(Reader::spawn(command));
        // ip subscribes as it starts; give it that moment.
        std::thread::sleep(Duration::from_millis(300));
        carrier
    }

    /// The changes of carrier, in order (repeated notifications of the same state dropped).
    fn transitions(&self) -> Vec<(f64, bool)> {
        let mut out: Vec<(f64, bool)> = Vec::new();
        for line in self.0.lines() {
            // [2026-12-07T07:02:33.885890] 2: eth1@if1000000: <NO-CARRIER,…,UP> …
            let Some(stamp) = line.strip_prefix('[').and_then(|l| l.split(']').next()) else {
                continue;
            };
            if !line.contains(" eth1@") {
                continue;
            }
            let Some(time) = stamp.split('T').nth(1) else {
                continue;
            };
            let parts: Vec<f64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
            if parts.len() != 3 {
                continue;
            }
            let seconds = parts[0] * 3600.0 + parts[1] * 60.0 + parts[2];
            let up = line.contains("LOWER_UP");
            if out.last().is_none_or(|(_, was)| *was != up) {
                out.push((seconds, up));
            }
        }
        out
    }
}

/// `carrier` of a node's eth1 (1 or 0).
fn carrier(node: &TestNs) -> String {
    run(
        "ip",
        &[
            "netns",
            "exec",
            &node.name,
            "cat",
            "/sys/class/net/eth1/carrier",
        ],
    )
    .trim()
    .to_string()
}

#[test]
fn a_flap_schedule_is_kept_as_configured_on_both_nodes() {
    let (down_ms, up_ms, count) = (1000.0, 2000.0, 3);
    let lab = Lab::new("s", &two("      flap: {down: 1s, up: 2s, count: 3}\n"));
    let up = patchwire(&["up", lab.path()]);
    up.ok();
    assert!(
        up.stderr.contains(&format!(
            "note: flapping: r1:eth1 r2:eth1 (down 1s, up 2s, count 3) — flaps run while \
             `patchwire watch --lab {}` runs, and none runs now",
            lab.path()
        )),
        "{}",
        up.stderr
    );
    let shown = patchwire(&["-j", "show", "--lab", lab.path()]).ok().json();
    assert_eq!(
        shown[0]["flap"],
        serde_json::json!({
            "summary": format!(
                "down 1s, up 2s, count 3 (not running: flaps run while `patchwire watch --lab {}` \
                 runs)",
                lab.path()
            ),
            "down": {"min_ms": 1000, "max_ms": 1000},
            "up": {"min_ms": 2000, "max_ms": 2000},
            "seed": 0,
            "count": 3,
            "running": false,
            "run_by": null,
        })
    );
    let (r1, r2) = (node(&lab, "r1"), node(&lab, "r2"));
    let (c1, c2) = (Carrier::watch(&r1.name), Carrier::watch(&r2.name));
    let watch = Watch::start(&lab);
    let started = watch.wait_for("flap-started", 1, Duration::from_secs(10));
    assert_eq!(started[0]["link"], "r1:eth1 r2:eth1");
    assert_eq!(started[0]["flap"], "down 1s, up 2s, count 3");
    assert_eq!(
        started[0]["schedule"],
        serde_json::json!([
            {"cycle": 1, "down_at_ms": 2000, "up_at_ms": 3000},
            {"cycle": 2, "down_at_ms": 5000, "up_at_ms": 6000},
            {"cycle": 3, "down_at_ms": 8000, "up_at_ms": 9000},
        ])
    );
    let shown = patchwire(&["-j", "show", "--lab", lab.path()]).ok().json();
    assert_eq!(
        shown[0]["flap"]["summary"],
        format!(
            "down 1s, up 2s, count 3 (run by patchwire watch --lab {})",
            lab.path()
        )
    );
    assert_eq!(shown[0]["flap"]["running"], true);
    assert_eq!(shown[0]["flap"]["run_by"], lab.path());
    let ups = watch.wait_for("flap-up", count, Duration::from_secs(30));
    assert_eq!(ups[count - 1]["next_down_at_ms"], serde_json::Value::Null);
    // Nothing after the last pull: one more up phase and a half of quiet.
    std::thread::sleep(Duration::from_millis(3000));
    let downs = watch.of("flap-down");
    assert_eq!(downs.len(), count, "{downs:#?}");
    let late: Vec<u64> = downs
        .iter()
        .chain(&ups)
        .map(|e| e["late_ms"].as_u64().unwrap())
        .collect();
    for (i, (d, u)) in downs.iter().zip(&ups).enumerate() {
        assert_eq!(d["cycle"], i + 1);
        assert_eq!(u["cycle"], i + 1);
    }
    let (t1, t2) = (c1.transitions(), c2.transitions());
    eprintln!("r1 carrier: {t1:?}\nr2 carrier: {t2:?}\nwatch late_ms: {late:?}");
    for (name, t) in [("r1", &t1), ("r2", &t2)] {
        // Down, up, per pull: nothing else.
        let states: Vec<bool> = t.iter().map(|(_, up)| *up).collect();
        assert_eq!(
            states,
            [false, true].repeat(count),
            "{name}'s carrier changes: {t:?}"
        );
        let mut figures = Vec::new();
        for (i, pair) in t.windows(2).enumerate() {
            let (measured, wanted) = (
                (pair[1].0 - pair[0].0) * 1e3,
                match i % 2 {
                    0 => down_ms,
                    _ => up_ms,
                },
            );
            figures.push(format!("{measured:.0}/{wanted:.0}"));
            assert!(
                (measured - wanted).abs() < 400.0,
                "{name}: phase {i} lasted {measured:.0} ms, the schedule says {wanted:.0} ms \
                 ({t:?})"
            );
        }
        eprintln!(
            "{name}: phases measured/scheduled ms: {}",
            figures.join(" ")
        );
    }
    // Both nodes see each pull: their transitions come together.
    for (a, b) in t1.iter().zip(&t2) {
        assert!(
            (a.0 - b.0).abs() < 0.4,
            "r1 and r2 saw a transition {:.0} ms apart",
            (a.0 - b.0).abs() * 1e3
        );
    }
    assert_eq!((carrier(&r1), carrier(&r2)), ("1".into(), "1".into()));
}

#[test]
fn stopping_or_changing_a_flap_puts_the_cable_back_and_a_killed_watch_is_mended_by_up() {
    let lab = Lab::new("c", &two("      flap: {down: 60s, up: 300ms}\n"));
    patchwire(&["up", lab.path()]).ok();
    let (r1, r2) = (node(&lab, "r1"), node(&lab, "r2"));
    let mut watch = Watch::start(&lab);
    watch.wait_for("flap-down", 1, Duration::from_secs(10));
    assert!(
        eventually(Duration::from_secs(3), || carrier(&r1) == "0"
            && carrier(&r2) == "0"),
        "the nodes still have carrier during a pull"
    );
    // While the watch runs, its pull is no difference.
    let plan = patchwire(&["-j", "plan", lab.path()]);
    plan.ok();
    assert_eq!(plan.json(), serde_json::json!([]), "{}", plan.stderr);
    assert!(
        plan.stderr.contains(&format!(
            "note: flapping: r1:eth1 r2:eth1 (down 1m, up 300ms) — run by `patchwire watch --lab \
             {}` on {}.panel",
            lab.path(),
            lab.name
        )),
        "{}",
        plan.stderr
    );
    // The flap changed in the file: followed without a restart, the cable put back first.
    lab.write(&two("      flap: {down: 60s, up: 500ms, seed: 7}\n"));
    let stopped = watch.wait_for("flap-stopped", 1, Duration::from_secs(5));
    assert_eq!(stopped[0]["why"], format!("flap changed in {}", lab.path()));
    assert_eq!(stopped[0]["mended"], true);
    let started = watch.wait_for("flap-started", 2, Duration::from_secs(5));
    assert_eq!(started[1]["flap"], "down 1m, up 500ms");
    watch.wait_for("flap-down", 2, Duration::from_secs(5));
    // Stopped mid-pull: the cable goes back in.
    assert_eq!(watch.0.signal(libc::SIGTERM), Some(0));
    let stopped = watch.of("flap-stopped");
    assert_eq!(stopped.len(), 2, "{stopped:#?}");
    assert_eq!(stopped[1]["why"], "watch stopping");
    assert_eq!(stopped[1]["mended"], true);
    assert_eq!((carrier(&r1), carrier(&r2)), ("1".into(), "1".into()));
    // Removed from the file mid-pull: put back too.
    let watch = Watch::start(&lab);
    watch.wait_for("flap-down", 1, Duration::from_secs(5));
    lab.write(&two(""));
    let stopped = watch.wait_for("flap-stopped", 1, Duration::from_secs(5));
    assert_eq!(
        stopped[0]["why"],
        format!("no flap in {} any more", lab.path())
    );
    assert_eq!(stopped[0]["mended"], true);
    assert_eq!((carrier(&r1), carrier(&r2)), ("1".into(), "1".into()));
    drop(watch);
    // SIGKILLed mid-pull: the cut stays, plan lists it with no watch running, up mends it.
    lab.write(&two("      flap: {down: 60s, up: 300ms}\n"));
    let mut watch = Watch::start(&lab);
    watch.wait_for("flap-down", 1, Duration::from_secs(5));
    watch.0.signal(libc::SIGKILL);
    assert_eq!(carrier(&r1), "0");
    let plan = patchwire(&["-j", "plan", lab.path()]).ok().json();
    assert!(
        plan.as_array()
            .unwrap()
            .iter()
            .any(|c| c["change"] == "mend"),
        "{plan}"
    );
    patchwire(&["up", lab.path()]).ok();
    assert_eq!((carrier(&r1), carrier(&r2)), ("1".into(), "1".into()));
    // A watch of the panel without --lab runs no flaps, and plan says so.
    let panel = format!("{}.panel", lab.name);
    let plain = Watch::start_with(&["-n", &panel, "-j", "watch"]);
    let plan = patchwire(&["plan", lab.path()]);
    assert!(
        plan.ok().stderr.contains(&format!(
            "note: flapping: r1:eth1 r2:eth1 (down 1m, up 300ms) — flaps run while `patchwire \
             watch --lab {}` runs, and none runs now (the watch on the panel was started \
             without --lab)",
            lab.path()
        )),
        "{}",
        plan.stderr
    );
    let second = patchwire(&["watch", "--lab", lab.path()]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!(
            "another patchwire watch is already watching netns {panel} (lock /run/patchwire/watch-"
        )) && second.stderr.trim_end().ends_with(
            ".lock): a lab's flaps run in the watch that holds its panel; stop that one and run \
             patchwire watch --lab FILE, which also does its work on the panel"
        ),
        "{}",
        second.stderr
    );
    drop(plain);
    // A watch refused for a lab that is not up says so.
    let other = Lab::new("n", &two("      flap: {down: 1s, up: 1s}\n"));
    let refused = patchwire(&["watch", "--lab", other.path()]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_eq!(
        refused.stderr.trim_end(),
        format!(
            "patchwire: lab {} (from {}) does not run on this host (patchwire show --labs lists \
             them; patchwire up {} starts it)",
            other.name,
            other.path(),
            other.path()
        )
    );
}

/// FRR's zebra and ospfd of the test's own in a lab node (own config dir, pid files, vty and
/// zserv sockets in a temp dir), stopped on drop (even when the test fails).
struct Ospf {
    dir: std::path::PathBuf,
}

impl Ospf {
    fn start(netns: &str, address: &str, router_id: &str) -> Ospf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("{netns}.frr"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The daemons run as user frr.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let ospf = Ospf { dir };
        let write = |name: &str, text: &str| {
            let path = ospf.dir.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        };
        write("zebra.conf", "hostname z\n");
        write(
            "ospfd.conf",
            &format!(
                "hostname o\ninterface eth1\n ip ospf network point-to-point\n ip ospf \
                 hello-interval 1\n ip ospf dead-interval 4\nrouter ospf\n ospf router-id \
                 {router_id}\n log-adjacency-changes detail\n network 198.18.0.0/30 area 0\n"
            ),
        );
        run("ip", &["-n", netns, "addr", "add", address, "dev", "eth1"]);
        let path = |f: &str| ospf.dir.join(f).to_str().unwrap().to_string();
        for daemon in ["zebra", "ospfd"] {
            run(
                "timeout",
                &[
                    "20",
                    "ip",
                    "netns",
                    "exec",
                    netns,
                    &format!("/usr/lib/frr/{daemon}"),
                    "-d",
                    "-u",
                    "frr",
                    "-g",
                    "frr",
                    "-f",
                    &path(&format!("{daemon}.conf")),
                    "-i",
                    &path(&format!("{daemon}.pid")),
                    "-z",
                    &path("zserv.api"),
                    "--vty_socket",
                    &path(""),
                    "--log",
                    &format!("file:{}", path(&format!("{daemon}.log"))),
                    "--log-level",
                    "info",
                ],
            );
        }
        ospf
    }

    /// The neighbour's state as ospfd says it (`Full/-`), if it has one.
    fn neighbour(&self) -> Option<String> {
        let output = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.dir)
            .args(["-d", "ospfd", "-c", "show ip ospf neighbor json"])
            .output()
            .ok()?;
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        let neighbours = json["neighbors"].as_object()?;
        let first = neighbours.values().next()?;
        let entry = first.as_array().map_or(first, |a| &a[0]);
        entry["nbrState"].as_str().map(String::from)
    }

    /// ospfd's adjacency changes (`log-adjacency-changes detail`): (to Full, from Full).
    fn adjacency_changes(&self) -> (usize, usize, Vec<String>) {
        let log = std::fs::read_to_string(self.dir.join("ospfd.log")).unwrap_or_default();
        let lines: Vec<String> = log
            .lines()
            .filter(|l| l.contains("AdjChg"))
            .map(String::from)
            .collect();
        let to_full = lines.iter().filter(|l| l.contains("-> Full")).count();
        let from_full = lines.iter().filter(|l| l.contains("Full ->")).count();
        (to_full, from_full, lines)
    }
}

impl Drop for Ospf {
    fn drop(&mut self) {
        for daemon in ["ospfd", "zebra"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(format!("{daemon}.pid"))) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn ospf_sees_each_flap_and_stays_up_once_the_flap_is_removed() {
    let flaps = 2;
    let lab = Lab::new("o", &two("      flap: {down: 2s, up: 8s}\n"));
    patchwire(&["up", lab.path()]).ok();
    let (r1, r2) = (node(&lab, "r1"), node(&lab, "r2"));
    let o1 = Ospf::start(&r1.name, "198.18.0.1/30", "198.18.0.1");
    let o2 = Ospf::start(&r2.name, "198.18.0.2/30", "198.18.0.2");
    let full = |o: &Ospf| o.neighbour().is_some_and(|s| s.starts_with("Full"));
    assert!(
        eventually(Duration::from_secs(30), || full(&o1) && full(&o2)),
        "no OSPF adjacency within 30 s: {:?} {:?}",
        o1.adjacency_changes().2,
        o2.adjacency_changes().2
    );
    let before = Instant::now();
    let watch = Watch::start(&lab);
    watch.wait_for("flap-up", flaps, Duration::from_secs(40));
    // Removed from the file before the next pull (8 s away): no more flaps.
    lab.write(&two(""));
    let stopped = watch.wait_for("flap-stopped", 1, Duration::from_secs(5));
    assert_eq!(stopped[0]["mended"], false);
    assert!(
        eventually(Duration::from_secs(20), || full(&o1) && full(&o2)),
        "the adjacency did not come back after the last flap: {:?}",
        o1.adjacency_changes().2
    );
    let settled = (o1.adjacency_changes(), o2.adjacency_changes());
    // Longer than an up phase: it would have flapped again by now.
    std::thread::sleep(Duration::from_secs(10));
    for (name, o, was) in [("r1", &o1, &settled.0), ("r2", &o2, &settled.1)] {
        let (to_full, from_full, lines) = o.adjacency_changes();
        eprintln!(
            "{name}: {} adjacency changes in {:.1} s: {lines:#?}",
            lines.len(),
            before.elapsed().as_secs_f64()
        );
        assert_eq!(
            from_full, flaps,
            "{name}: adjacency lost per pull: {lines:#?}"
        );
        assert_eq!(to_full, flaps + 1, "{name}: adjacency formed: {lines:#?}");
        assert_eq!(
            lines.len(),
            was.2.len(),
            "{name} changed after the flap was removed"
        );
        assert!(
            full(o),
            "{name}'s neighbour is not Full after the flap was removed"
        );
    }
    assert_eq!(watch.of("flap-down").len(), flaps);
}

/// The same seed gives the same schedule in every watch; a watch killed mid-pull leaves the
/// cable out and the next one puts it back as it starts; a flap replaced by `state: down`
/// mid-pull is left out (the file's pull, kept by `up` and by a stopping watch).
#[test]
fn a_seeded_flap_repeats_a_killed_watchs_pull_is_undone_and_state_down_takes_over() {
    let flap = "      flap: {down: 20s-40s, up: 200ms-400ms, seed: 42}\n";
    let lab = Lab::new("r", &two(flap));
    patchwire(&["up", lab.path()]).ok();
    let (r1, r2) = (node(&lab, "r1"), node(&lab, "r2"));
    let monitor = Carrier::watch(&r1.name);
    let mut first = Watch::start(&lab);
    let schedule =
        first.wait_for("flap-started", 1, Duration::from_secs(10))[0]["schedule"].clone();
    assert_eq!(schedule.as_array().unwrap().len(), 5, "{schedule}");
    for (i, cycle) in schedule.as_array().unwrap().iter().enumerate() {
        let out = cycle["up_at_ms"].as_u64().unwrap() - cycle["down_at_ms"].as_u64().unwrap();
        assert!(
            (20_000..=40_000).contains(&out),
            "pull {i} lasts {out} ms: {schedule}"
        );
    }
    first.wait_for("flap-down", 1, Duration::from_secs(5));
    assert_eq!(first.0.signal(libc::SIGKILL), Some(-1));
    assert_eq!(carrier(&r1), "0");
    // The next watch: the same schedule, and the cable back in before its first pull.
    let mut second = Watch::start(&lab);
    let again = second.wait_for("flap-started", 1, Duration::from_secs(10))[0]["schedule"].clone();
    assert_eq!(again, schedule);
    second.wait_for("flap-down", 1, Duration::from_secs(5));
    let seen: Vec<bool> = monitor.transitions().iter().map(|(_, up)| *up).collect();
    assert_eq!(seen, [false, true, false], "{:?}", monitor.transitions());
    // The flap gives way to `state: down` mid-pull: the cable stays out.
    lab.write(&two("      state: down\n"));
    let stopped = second.wait_for("flap-stopped", 1, Duration::from_secs(5));
    assert_eq!(
        stopped[0]["why"],
        format!("no flap in {} any more", lab.path())
    );
    assert_eq!(stopped[0]["mended"], false);
    let plan = patchwire(&["-j", "plan", lab.path()]);
    assert_eq!(plan.ok().json(), serde_json::json!([]), "{}", plan.stderr);
    assert_eq!(second.0.signal(libc::SIGTERM), Some(0));
    assert_eq!(second.of("flap-stopped").len(), 1);
    assert_eq!((carrier(&r1), carrier(&r2)), ("0".into(), "0".into()));
    // The file puts it back.
    lab.write(&two(""));
    patchwire(&["up", lab.path()]).ok();
    assert_eq!((carrier(&r1), carrier(&r2)), ("1".into(), "1".into()));
}

/// A random flap, measured: the schedule `watch` prints is the seed's (the library's
/// generator, the same on every run), and both nodes' carrier follows it phase by phase.
#[test]
fn a_random_flap_follows_its_seeded_schedule_on_both_nodes() {
    use patchwire::impair::flap::{Flap, Span};
    let flap = Flap {
        down: Span::parse("500ms-1500ms").unwrap(),
        up: Span::parse("1s-2s").unwrap(),
        seed: 7,
        count: Some(3),
    };
    let lab = Lab::new(
        "x",
        &two("      flap: {down: 500ms-1500ms, up: 1s-2s, seed: 7, count: 3}\n"),
    );
    patchwire(&["up", lab.path()]).ok();
    let (r1, r2) = (node(&lab, "r1"), node(&lab, "r2"));
    let (c1, c2) = (Carrier::watch(&r1.name), Carrier::watch(&r2.name));
    let watch = Watch::start(&lab);
    let started = watch.wait_for("flap-started", 1, Duration::from_secs(10));
    let cycles: Vec<_> = flap.schedule().collect();
    assert_eq!(
        started[0]["schedule"],
        serde_json::to_value(&cycles).unwrap()
    );
    assert_eq!(
        started[0]["flap"],
        "down 500ms-1.5s, up 1s-2s, seed 7, count 3"
    );
    watch.wait_for("flap-up", 3, Duration::from_secs(30));
    // The phases the schedule says: out, in, out, in, out.
    let mut wanted = Vec::new();
    for (i, c) in cycles.iter().enumerate() {
        if i > 0 {
            wanted.push((c.down_at_ms - cycles[i - 1].up_at_ms) as f64);
        }
        wanted.push((c.up_at_ms - c.down_at_ms) as f64);
    }
    std::thread::sleep(Duration::from_millis(500));
    for (name, carrier) in [("r1", &c1), ("r2", &c2)] {
        let t = carrier.transitions();
        let states: Vec<bool> = t.iter().map(|(_, up)| *up).collect();
        assert_eq!(states, [false, true].repeat(3), "{name}: {t:?}");
        let measured: Vec<f64> = t.windows(2).map(|p| (p[1].0 - p[0].0) * 1e3).collect();
        eprintln!("{name}: phases measured {measured:.0?} ms, scheduled {wanted:?} ms");
        for (m, w) in measured.iter().zip(&wanted) {
            assert!(
                (m - w).abs() < 400.0,
                "{name}: a phase lasted {m:.0} ms, the schedule says {w:.0} ms"
            );
        }
    }
}

/// The watch lock files of /run/patchwire whose content says they run `lab`'s flaps.
fn flap_locks(lab: &Lab) -> Vec<std::path::PathBuf> {
    let want = format!("flaps {}", lab.path());
    std::fs::read_dir("/run/patchwire")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.trim_end() == want))
                .collect()
        })
        .unwrap_or_default()
}

/// Closing the terminal of a `watch --lab` (SIGHUP) stops it as SIGTERM does: the pulled
/// cable goes back in and the lock goes. A watch killed for good (SIGKILL) leaves its lock
/// file: `down` removes it, as no live process holds it.
#[test]
fn a_hung_up_watch_puts_the_cable_back_and_down_removes_a_dead_watchs_lock() {
    let lab = Lab::new("h", &two("      flap: {down: 60s, up: 300ms}\n"));
    patchwire(&["up", lab.path()]).ok();
    let (r1, r2) = (node(&lab, "r1"), node(&lab, "r2"));
    let mut watch = Watch::start(&lab);
    watch.wait_for("flap-down", 1, Duration::from_secs(10));
    assert!(
        eventually(Duration::from_secs(3), || carrier(&r1) == "0"),
        "no pull"
    );
    assert_eq!(watch.0.signal(libc::SIGHUP), Some(0));
    // Its last lines may still be on their way through the reader thread.
    let stopped = watch.wait_for("flap-stopped", 1, Duration::from_secs(5));
    assert_eq!(stopped.len(), 1, "{stopped:#?}");
    assert_eq!(stopped[0]["why"], "watch stopping");
    assert_eq!(stopped[0]["mended"], true);
    assert_eq!((carrier(&r1), carrier(&r2)), ("1".into(), "1".into()));
    assert_eq!(flap_locks(&lab), Vec::<std::path::PathBuf>::new());
    // Killed for good: its lock file stays until `down`.
    let mut watch = Watch::start(&lab);
    watch.wait_for("flap-started", 1, Duration::from_secs(10));
    watch.0.signal(libc::SIGKILL);
    let left = flap_locks(&lab);
    assert_eq!(left.len(), 1, "the killed watch's lock: {left:?}");
    patchwire(&["down", lab.path()]).ok();
    assert!(!left[0].exists(), "down left {}", left[0].display());
}

/// A flap on a link added to the file while the watch runs, before `up` makes its ports:
/// one `flap-waiting` event, nothing pulled, no failure and no pull reported; once `up` makes
/// the ports its schedule starts and its one pull happens.
#[test]
fn a_flap_waits_for_its_ports_and_starts_once_up_makes_them() {
    let first = "      flap: {down: 60s, up: 300s}\n";
    let lab = Lab::new("w", &two(first));
    patchwire(&["up", lab.path()]).ok();
    let watch = Watch::start(&lab);
    watch.wait_for("flap-started", 1, Duration::from_secs(10));
    lab.write(&format!(
        "{}    - endpoints: [\"r1:eth2\", \"r2:eth2\"]\n      flap: {{down: 500ms, up: 500ms, \
         count: 1}}\n",
        two(first)
    ));
    let waiting = watch.wait_for("flap-waiting", 1, Duration::from_secs(10));
    assert_eq!(waiting[0]["link"], "r1:eth2 r2:eth2");
    assert_eq!(
        waiting[0]["missing"],
        serde_json::json!(["r1.eth2", "r2.eth2"])
    );
    assert_eq!(waiting[0]["file"], lab.path());
    // Longer than its first pull would take: nothing happens to it.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(watch.of("flap-down"), Vec::<serde_json::Value>::new());
    assert_eq!(watch.of("repair-failed"), Vec::<serde_json::Value>::new());
    assert_eq!(watch.of("flap-waiting").len(), 1, "said once");
    patchwire(&["up", lab.path()]).ok();
    let started = watch.wait_for("flap-started", 2, Duration::from_secs(10));
    assert_eq!(started[1]["link"], "r1:eth2 r2:eth2");
    let down = watch.wait_for("flap-down", 1, Duration::from_secs(10));
    assert_eq!(
        (&down[0]["link"], &down[0]["cycle"]),
        (&"r1:eth2 r2:eth2".into(), &1.into())
    );
    let up = watch.wait_for("flap-up", 1, Duration::from_secs(10));
    assert_eq!(up[0]["next_down_at_ms"], serde_json::Value::Null);
    assert_eq!(watch.of("repair-failed"), Vec::<serde_json::Value>::new());
}

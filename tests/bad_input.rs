//! Bad input and hostile surroundings, through the CLI against the real kernel: every refusal
//! must name what is wrong in one clear message and leave the kernel exactly as it was.
//!
//! Covers: missing, duplicated, invalid, loopback and cross-namespace ends; missing netns;
//! loops (a veth pair wired to itself, rings through veth peers in another namespace, a ring
//! closed inside one batch); ends already wired elsewhere; foreign tc filters and qdiscs
//! (refused at patchwire's priority, left alone elsewhere); running without root; rollback
//! of a batch that fails half-way (MTUs included); unlink of what is not wired; broken batch
//! files; JSON errors; `--wait` for late ends.

mod common;
use common::*;

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Each name becomes a veth end whose peer (`NAMEp`) is in the same namespace and stays
/// unwired, so wiring these ends to each other never closes a loop.
fn ends(ns: &TestNs, names: &[&str]) {
    for name in names {
        veth(ns, name, ns, &format!("{name}p"));
    }
}

/// Runs the CLI as built, with extra environment variables.
fn run_cli(mut command: Command) -> Run {
    let output = command.output().expect("run patchwire");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn patchwire_env(ns: &TestNs, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = Command::new(common::bin());
    command
        .args(["-n", &ns.name])
        .args(args)
        .env_remove("PATCHWIRE_FAULT_AT");
    for (key, value) in env {
        command.env(key, value);
    }
    run_cli(command)
}

/// A batch file in the temp directory, removed on drop.
struct BatchFile(PathBuf);

impl BatchFile {
    fn new(ns: &TestNs, tag: &str, text: &str) -> BatchFile {
        let path = std::env::temp_dir().join(format!("{}-{tag}.wires", ns.name));
        std::fs::write(&path, text).expect("write batch file");
        BatchFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for BatchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn loop_refusal(a: &str, b: &str, path: &str) -> String {
    format!(
        "wiring {a} to {b} would close a loop: {path}. Frames would circulate forever (a ring like this \
         pins every core at 100% softirq). Use --allow-loop only if something on the ring (such as STP) \
         breaks it."
    )
}

// ---------------------------------------------------------------------------------------------
// Ends that cannot be wired
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_interface_is_named_with_its_netns() {
    let ns = TestNs::new();
    ends(&ns, &["a"]);
    let before = ns.snapshot();
    ns.patchwire(&["link", "a", "nothere"]).fails_with(&format!(
        "interface nothere does not exist in netns {}",
        ns.name
    ));
    ns.patchwire(&["link", "nothere", "a"]).fails_with(&format!(
        "interface nothere does not exist in netns {}",
        ns.name
    ));
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn the_same_interface_twice_is_refused() {
    let ns = TestNs::new();
    ends(&ns, &["a"]);
    let before = ns.snapshot();
    let message = "a is given as both ends of the wire; a wire joins two different interfaces";
    ns.patchwire(&["link", "a", "a"]).fails_with(message);
    // The same interface spelled NETNS:IF is still the same interface.
    ns.patchwire(&["link", "a", &format!("{}:a", ns.name)])
        .fails_with(message);
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn missing_netns_is_named() {
    patchwire(&["-n", "pwt-no-such-ns", "link", "a", "b"])
        .fails_with("netns pwt-no-such-ns does not exist (no /run/netns/pwt-no-such-ns)");
}

#[test]
fn invalid_interface_names_are_refused_before_the_kernel_is_asked() {
    let ns = TestNs::new();
    ends(&ns, &["a"]);
    let before = ns.snapshot();
    ns.patchwire(&["link", "a", "a234567890123456"]).fails_with(
        "interface name \"a234567890123456\" is 16 bytes long; Linux allows at most 15",
    );
    ns.patchwire(&["link", "x/y", "a"])
        .fails_with("interface name \"x/y\" contains '/', which Linux does not allow");
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn loopback_cannot_be_an_end() {
    let ns = TestNs::new();
    ends(&ns, &["a"]);
    let before = ns.snapshot();
    ns.patchwire(&["link", "a", "lo"]).fails_with(
        "lo is a loopback interface; a wire end must be an Ethernet-like interface (veth, tap, vxlan, NIC)",
    );
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn ends_in_different_namespaces_are_refused_with_the_veth_advice() {
    let (ns1, ns2) = (TestNs::new(), TestNs::new());
    ends(&ns1, &["a"]);
    ends(&ns2, &["b"]);
    // A name no other namespace on the host holds, so the hint can only point at ns2.
    let far = format!("far{}", std::process::id());
    ends(&ns2, &[&far]);
    let (before1, before2) = (ns1.snapshot(), ns2.snapshot());

    ns1.patchwire(&["link", "a", &format!("{}:b", ns2.name)]).fails_with(&format!(
        "b is in netns {two} but the wire is being made in netns {one}: a mirred wire cannot cross \
         network namespaces (the redirect target is looked up in the filter's own namespace). Join the \
         namespaces with a veth pair instead (ip link add X type veth peer name Y netns {two}), then wire \
         a to X here and Y to b in netns {two}",
        one = ns1.name,
        two = ns2.name
    ));
    ns1.patchwire(&["link", "a", &far]).fails_with(&format!(
        "interface {far} does not exist in netns {one} (an interface of that name exists in netns {two}; \
         a mirred wire cannot cross namespaces — use -n {two}, or join them with a veth pair)",
        one = ns1.name,
        two = ns2.name
    ));
    ns1.patchwire(&["link", "a", "pwt-no-such-ns:b"])
        .fails_with("netns pwt-no-such-ns does not exist (no /run/netns/pwt-no-such-ns)");
    assert_eq!(ns1.snapshot(), before1);
    assert_eq!(ns2.snapshot(), before2);
}

// ---------------------------------------------------------------------------------------------
// Loops
// ---------------------------------------------------------------------------------------------

#[test]
fn wiring_the_two_ends_of_one_veth_pair_is_refused() {
    let ns = TestNs::new();
    veth(&ns, "a", &ns, "b");
    let before = ns.snapshot();
    ns.patchwire(&["link", "a", "b"])
        .fails_with(&loop_refusal("a", "b", "a -veth- b"));
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn a_ring_through_veth_peers_in_another_namespace_is_refused() {
    let (lab, c1) = (TestNs::new(), TestNs::new());
    veth(&lab, "x1", &c1, "y1");
    veth(&lab, "x2", &c1, "y2");
    lab.patchwire(&["link", "x1", "x2"]).ok();
    let (lab_before, c1_before) = (lab.snapshot(), c1.snapshot());

    let path = format!(
        "y1 -veth- x1 (netns {lab}) -wire- x2 (netns {lab}) -veth- y2",
        lab = lab.name
    );
    c1.patchwire(&["link", "y1", "y2"])
        .fails_with(&loop_refusal("y1", "y2", &path));
    assert_eq!(lab.snapshot(), lab_before);
    assert_eq!(c1.snapshot(), c1_before);
}

#[test]
fn a_batch_that_closes_a_ring_with_its_own_wires_applies_nothing() {
    let lab = TestNs::new();
    veth(&lab, "p1", &lab, "q1");
    veth(&lab, "p2", &lab, "q2");
    let batch = BatchFile::new(&lab, "ring", "p1 p2\nq1 q2\n");
    let before = lab.snapshot();
    lab.patchwire(&["link", "--batch", batch.path()])
        .fails_with(&format!(
            "line 2: {}",
            loop_refusal("q1", "q2", "q1 -veth- p1 -wire- p2 -veth- q2")
        ));
    assert_eq!(lab.snapshot(), before);
}

// ---------------------------------------------------------------------------------------------
// Ends that are not free
// ---------------------------------------------------------------------------------------------

#[test]
fn an_end_already_wired_elsewhere_is_refused_naming_the_wire() {
    let ns = TestNs::new();
    ends(&ns, &["a", "b", "c"]);
    ns.patchwire(&["link", "a", "b"]).ok();
    let before = ns.snapshot();
    ns.patchwire(&["link", "a", "c"]).fails_with(&format!(
        "a is already wired to b in netns {}; unlink it first (patchwire unlink a)",
        ns.name
    ));
    ns.patchwire(&["link", "c", "b"]).fails_with(&format!(
        "b is already wired to a in netns {}; unlink it first (patchwire unlink b)",
        ns.name
    ));
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn a_foreign_filter_at_patchwires_priority_is_refused_and_left_alone() {
    let ns = TestNs::new();
    ends(&ns, &["a", "b", "c"]);
    ns.tc("qdisc add dev a clsact");
    ns.tc("filter add dev a ingress pref 20567 protocol all u32 match u32 0 0 action mirred egress mirror dev c");
    let before = ns.snapshot();
    ns.patchwire(&["link", "a", "b"]).fails_with(
        "a has a u32 filter at priority 20567 that patchwire did not install (another tool's); \
         patchwire will not touch it — remove it or free that priority",
    );
    assert_eq!(ns.snapshot(), before);
    assert!(
        ns.tc("filter show dev a ingress")
            .contains("Egress Mirror to device c")
    );
}

#[test]
fn foreign_filters_at_other_priorities_coexist_and_survive_unlink() {
    let ns = TestNs::new();
    ends(&ns, &["a", "b", "m"]);
    ns.tc("qdisc add dev a clsact");
    ns.tc("filter add dev a ingress pref 10 protocol all u32 match u32 0 0 action mirred egress mirror dev m");
    let before = ns.snapshot();

    ns.patchwire(&["link", "a", "b"]).ok();
    assert_eq!((ns.wire_filters("a"), ns.wire_filters("b")), (1, 1));
    assert!(
        ns.tc("filter show dev a ingress")
            .contains("Egress Mirror to device m")
    );

    ns.patchwire(&["unlink", "a"]).ok();
    assert_eq!((ns.wire_filters("a"), ns.wire_filters("b")), (0, 0));
    let foreign = ns.tc("filter show dev a ingress");
    assert!(
        foreign.contains("pref 10") && foreign.contains("Egress Mirror to device m"),
        "{foreign}"
    );
    assert!(
        ns.has_clsact("a"),
        "the clsact holding a foreign filter must stay"
    );
    assert!(
        !ns.has_clsact("b"),
        "the clsact patchwire added on b must go"
    );
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn a_plain_ingress_qdisc_is_used_and_never_removed() {
    let ns = TestNs::new();
    ends(&ns, &["a", "b"]);
    ns.tc("qdisc add dev a ingress");
    let before = ns.snapshot();

    ns.patchwire(&["link", "a", "b"]).ok();
    let qdiscs = ns.tc("qdisc show dev a");
    assert!(
        qdiscs.contains("qdisc ingress") && !qdiscs.contains("clsact"),
        "{qdiscs}"
    );
    assert_eq!((ns.wire_filters("a"), ns.wire_filters("b")), (1, 1));

    ns.patchwire(&["unlink", "a"]).ok();
    assert!(ns.tc("qdisc show dev a").contains("qdisc ingress"));
    assert!(!ns.has_clsact("b"));
    assert_eq!(ns.snapshot(), before);
}

// ---------------------------------------------------------------------------------------------
// Privileges and partial failure
// ---------------------------------------------------------------------------------------------

#[test]
fn without_root_the_error_says_so_and_nothing_changes() {
    let ns = TestNs::new();
    ends(&ns, &["a", "b"]);
    let before = ns.snapshot();
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        common::bin(),
        "-n",
        &ns.name,
        "link",
        "a",
        "b",
    ]);
    let run = run_cli(command);
    run.fails_with(&format!(
        "entering netns {}: Operation not permitted (os error 1) (patchwire needs root: CAP_NET_ADMIN, \
         and CAP_SYS_ADMIN to enter a netns)",
        ns.name
    ));
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn a_batch_failing_half_way_is_rolled_back_mtus_included() {
    let (lab, far) = (TestNs::new(), TestNs::new());
    for i in 1..=20 {
        veth(&lab, &format!("v{i}"), &far, &format!("w{i}"));
    }
    let text: String = (1..=20)
        .step_by(2)
        .map(|i| format!("v{i} v{}\n", i + 1))
        .collect();
    let batch = BatchFile::new(&lab, "half", &text);
    let before = lab.snapshot();
    assert!(lab.ip("link show dev v1").contains("mtu 1500"));

    // 20 clsact qdiscs, then 20 filters (IPv6 is off in test namespaces: nothing to silence):
    // change 15 is the clsact of v16.
    patchwire_env(
        &lab,
        &[("PATCHWIRE_FAULT_AT", "15")],
        &["link", "--batch", batch.path()],
    )
    .fails_with(
        "adding a clsact qdisc on v16: No such device; rolled back the 38 change(s) already made, \
         nothing is left behind",
    );
    assert_eq!(lab.snapshot(), before);

    // 20 MTU changes, 20 qdiscs, 20 filters: change 55 is the v16 -> v15 filter.
    patchwire_env(&lab, &[("PATCHWIRE_FAULT_AT", "55")], &["link", "--mtu", "9000", "--batch", batch.path()])
        .fails_with(
            "adding the v16 -> v15 redirect filter on v16: No such device; rolled back the 59 change(s) \
             already made, nothing is left behind",
        );
    assert_eq!(lab.snapshot(), before);

    // Without the fault the same batch is fine: only the fault stopped it.
    lab.patchwire(&["link", "--mtu", "9000", "--batch", batch.path()])
        .ok();
    for i in 1..=20 {
        assert_eq!(lab.wire_filters(&format!("v{i}")), 1, "v{i}");
        assert!(
            lab.ip(&format!("link show dev v{i}")).contains("mtu 9000"),
            "v{i}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// unlink, batch files, JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn unlink_of_a_missing_interface_is_refused() {
    let ns = TestNs::new();
    ends(&ns, &["a"]);
    let before = ns.snapshot();
    // An end that exists but is on no wire is not an error (see tests/wire.rs).
    ns.patchwire(&["unlink", "nothere"]).fails_with(&format!(
        "interface nothere does not exist in netns {}",
        ns.name
    ));
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn broken_batch_files_are_refused_with_line_or_path() {
    let ns = TestNs::new();
    ends(&ns, &["p1", "p2", "q1", "q2"]);
    let before = ns.snapshot();

    let three = BatchFile::new(&ns, "three", "# lab\np1 p2\n\nq1 q2 q3\n");
    ns.patchwire(&["link", "--batch", three.path()])
        .fails_with(&format!(
            "batch file {}: line 4: expected two interface names \"A B\", found \"q1 q2 q3\"",
            three.path()
        ));

    let empty = BatchFile::new(&ns, "empty", "# nothing here\n\n");
    ns.patchwire(&["link", "--batch", empty.path()])
        .fails_with(&format!(
            "batch file {}: no wires in it (only blank or comment lines)",
            empty.path()
        ));

    let missing = std::env::temp_dir().join(format!("{}-missing.wires", ns.name));
    let missing = missing.to_str().expect("utf-8 temp path");
    ns.patchwire(&["link", "--batch", missing])
        .fails_with(&format!(
            "reading batch file {missing}: No such file or directory (os error 2)"
        ));
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn json_errors_are_an_error_object_on_stdout() {
    let ns = TestNs::new();
    ends(&ns, &["a"]);
    let before = ns.snapshot();
    let run = ns.patchwire(&["-j", "link", "a", "nothere"]);
    assert_eq!(
        run.code, 1,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.json(),
        serde_json::json!({ "error": format!("interface nothere does not exist in netns {}", ns.name) })
    );
    assert_eq!(ns.snapshot(), before);
}

// ---------------------------------------------------------------------------------------------
// --wait
// ---------------------------------------------------------------------------------------------

#[test]
fn wait_picks_up_an_end_created_late() {
    let (ns, far) = (TestNs::new(), TestNs::new());
    veth(&ns, "a", &far, "ap");
    let started = Instant::now();
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            veth(&ns, "late", &far, "latep");
        });
        ns.patchwire(&["link", "--wait", "3", "a", "late"])
    });
    let elapsed = started.elapsed();
    run.ok();
    assert_eq!(run.stdout.trim(), "wired: a <-> late");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!((ns.wire_filters("a"), ns.wire_filters("late")), (1, 1));
}

#[test]
fn wait_gives_up_on_an_end_that_never_comes() {
    let ns = TestNs::new();
    ends(&ns, &["a"]);
    let before = ns.snapshot();
    let started = Instant::now();
    let run = ns.patchwire(&["link", "--wait", "0.3", "a", "never"]);
    let elapsed = started.elapsed();
    run.fails_with(&format!(
        "interface never does not exist in netns {} (waited 0.3 s for it)",
        ns.name
    ));
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(ns.snapshot(), before);
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------

#[test]
fn unlink_of_an_over_long_name_says_at_most_15() {
    let ns = TestNs::new();
    ns.patchwire(&["unlink", "a234567890123456"]).fails_with(
        "interface name \"a234567890123456\" is 16 bytes long; Linux allows at most 15",
    );
}

#[test]
fn wait_rejects_impossible_durations_without_panicking() {
    let ns = TestNs::new();
    ends(&ns, &["a"]);
    for wait in ["nan", "inf", "-1"] {
        let run = ns.patchwire(&["link", &format!("--wait={wait}"), "a", "nothere"]);
        assert!(
            matches!(run.code, 1 | 2),
            "--wait={wait}: exit {}\n{}",
            run.code,
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked"),
            "--wait={wait}: {}",
            run.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input and surroundings of the lab commands, and closed pipes (issue #18)
// ---------------------------------------------------------------------------------------------

/// Runs the CLI with `stdin` and `stdout` as given; a run longer than `limit` is killed and
/// fails the test (a regression must fail, not hang).
fn run_bounded(
    args: &[&str],
    stdin: Stdio,
    stdout: Stdio,
    limit: Duration,
) -> (ExitStatus, String) {
    let mut child = Command::new(common::bin())
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run patchwire");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("patchwire {} still running after {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, reader.join().unwrap())
}

fn lab_error(args: &[&str], stdin: Stdio, message: &str) {
    let (status, stderr) = run_bounded(args, stdin, Stdio::null(), Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end(), format!("patchwire: {message}"));
}

#[test]
fn lab_files_are_read_within_bounds() {
    let too_big = "larger than 4 MiB, the most a lab file may be (10,000 links take about 500 KB); \
                   is this the lab file?";
    // /dev/zero grew the process to 6 GB.
    lab_error(
        &["plan", "/dev/zero"],
        Stdio::null(),
        &format!("/dev/zero: {too_big}"),
    );
    // A FIFO nobody writes to blocked forever.
    let dir = std::env::temp_dir().join(format!("pwt-labfiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("lab.yaml");
    run("mkfifo", &[fifo.to_str().unwrap()]);
    lab_error(
        &["plan", fifo.to_str().unwrap()],
        Stdio::null(),
        &format!(
            "{}: nothing to read for 10 s (a FIFO that no program writes to?)",
            fifo.display()
        ),
    );
    // 128 KB of nesting took 53 s in the YAML scanner (and `down`, naming the lab of a file
    // that does not read, must not parse it again: it read the `name:` line alone).
    let nested = dir.join("nested.yaml");
    std::fs::write(
        &nested,
        format!("name: t1\ntopology:\n  nodes: {}\n", "[".repeat(128 << 10)),
    )
    .unwrap();
    lab_error(
        &["down", nested.to_str().unwrap()],
        Stdio::null(),
        &format!(
            "{0}:3:72: nested deeper than 64 levels here; a lab file needs 6 (containerlab's \
             `vars:` a few more)\n({0} does not read; its lab t1 has no namespaces on this \
             host: nothing of it to take down here)",
            nested.display()
        ),
    );
    // `-` is stdin, for every lab command.
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "name: t1\ntopology:\n  nodes:\n    r1: {queues: 99999999999999999999999}\n",
    )
    .unwrap();
    for command in ["plan", "up", "down", "graph"] {
        lab_error(
            &[command, "-"],
            Stdio::from(std::fs::File::open(&bad).unwrap()),
            "<stdin>:4:18: queues 99999999999999999999999 is out of range (1..=256)",
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The read end of a pipe, closed before the command writes: the command ends quietly, killed
/// by SIGPIPE as other Unix tools are (`show | head -1`), instead of panicking with exit 101.
fn closed_pipe(args: &[&str]) -> (ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    run_bounded(
        args,
        Stdio::null(),
        Stdio::from(writer),
        Duration::from_secs(60),
    )
}

#[test]
fn a_closed_pipe_ends_commands_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let ns = TestNs::new();
    ends(&ns, &["a", "b"]);
    ns.patchwire(&["link", "a", "b"]).ok();
    let lab = std::env::temp_dir().join(format!("{}-pipe.yaml", ns.name));
    let pcap = format!("{}/{}-pipe.pcapng", std::env::temp_dir().display(), ns.name);
    std::fs::write(
        &lab,
        "name: pwtpipe\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n  links:\n    - endpoints: [r1:e1, r2:e1]\n",
    )
    .unwrap();
    for args in [
        vec!["-n", &ns.name, "probe", "a"],
        vec!["-n", &ns.name, "show"],
        vec!["show", "--lab", lab.to_str().unwrap()],
        vec!["plan", lab.to_str().unwrap()],
        vec!["completions", "bash"],
        // -j: a capture into a file prints its summary as JSON on stdout.
        vec![
            "-j",
            "-n",
            &ns.name,
            "capture",
            "a",
            "-w",
            &pcap,
            "-a",
            "duration:1",
        ],
    ] {
        let (status, stderr) = closed_pipe(&args);
        // Only what was said on stderr before stdout was written: capture's first line.
        let said = match args.contains(&"capture") {
            true => format!("capturing on {}:a\n", ns.name),
            false => String::new(),
        };
        assert_eq!(
            (status.signal(), stderr),
            (Some(libc::SIGPIPE), said),
            "patchwire {}: {status}",
            args.join(" ")
        );
    }
    std::fs::remove_file(&lab).unwrap();
    let _ = std::fs::remove_file(&pcap);
    // capture -w - keeps SIGPIPE ignored: its pcapng stream notices the reader going (here after
    // the file's first bytes) and closes with its statistics on stderr, exit 0.
    let mut child = Command::new(common::bin())
        .args([
            "-n",
            &ns.name,
            "capture",
            "a",
            "-w",
            "-",
            "-a",
            "duration:1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run capture");
    let mut stdout = child.stdout.take().unwrap();
    // The section header and the interface's description, then the reader goes.
    for block_type in [0x0a0d_0d0a_u32, 1] {
        let mut head = [0u8; 8];
        std::io::Read::read_exact(&mut stdout, &mut head).unwrap();
        assert_eq!(
            u32::from_le_bytes(head[..4].try_into().unwrap()),
            block_type
        );
        let length = u32::from_le_bytes(head[4..].try_into().unwrap()) as usize;
        let mut rest = vec![0u8; length - 8];
        std::io::Read::read_exact(&mut stdout, &mut rest).unwrap();
    }
    drop(stdout);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("capture still running after its reader left");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.lines().nth(1),
        Some("captured 0 frames from 1 interface into stdout (stopped by duration)"),
        "{stderr}"
    );
}

/// What `up` used to fail on half-way — a mirror filter libpcap refuses, a VM link's MTU above a
/// tap's 65521 — `plan` and `up` refuse at the file's line and column, and nothing is made.
#[test]
fn plan_refuses_what_up_would_fail_on_half_way() {
    let lab = format!("pwtbad{}", std::process::id());
    let dir = std::env::temp_dir().join(format!("pwt-halfway-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let namespaces = || {
        run("ip", &["netns", "list"])
            .lines()
            .filter(|l| l.starts_with(&lab))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let cases = [
        (
            "    mon: {}\n  links:\n    - endpoints: [r1:e1, r2:e1]\n  mirrors:\n    - name: m\n      \
             from: [r1:e1]\n      to: mon:e1\n      filter: tcp port 80 and\n",
            "13:15: mirror m: filter \"tcp port 80 and\": can't parse filter expression: syntax error",
        ),
        (
            "    mon: {}\n  links:\n    - endpoints: [r1:e1, r2:e1]\n  mirrors:\n    - name: m\n      \
             from: [r1:e1]\n      to: mon:e1\n      filter: \"tcp\\0port 80\"\n",
            "13:15: mirror m: filter \"tcp\\0port 80\": contains a NUL byte",
        ),
        (
            "    vm1: {kind: vm}\n  links:\n    - endpoints: [r1:e1, vm1:tap1]\n      mtu: 65535\n",
            "9:12: this link's mtu 65535 is more than a tap takes (65521), and vm1:tap1 is a VM's \
             tap: set `mtu:` of the link on line 8 to at most 65521",
        ),
    ];
    for (i, (rest, message)) in cases.iter().enumerate() {
        let path = dir.join(format!("case{i}.yaml"));
        std::fs::write(
            &path,
            format!("name: {lab}\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n{rest}"),
        )
        .unwrap();
        let path = path.to_str().unwrap();
        for command in ["plan", "up"] {
            patchwire(&[command, path]).fails_with(&format!("{path}:{message}"));
            assert_eq!(
                namespaces(),
                Vec::<String>::new(),
                "{command} made something"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

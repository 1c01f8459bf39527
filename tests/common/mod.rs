//! Support for the privileged tests: network namespaces that remove themselves (also when a test
//! panics), iproute2 as an independent observer of what the kernel holds, and the built CLI.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use patchwire::netns::Netns;

/// The OvS harness (shared with benches/watch.rs, so it lives in testkit/).
#[allow(unused_imports)] // not every test file uses it
pub use patchwire_testkit::ovs;
pub mod frames;
pub mod labfile;
pub mod qemu;

/// Privileged tests must run, never skip silently: in CI a non-root run is a failure.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "privileged test needs root (network namespaces, veth, tc); CI={}",
        std::env::var("CI").unwrap_or_default()
    );
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A named network namespace for one test, deleted on drop. IPv6 is off inside so that no
/// neighbour discovery or MLD traffic adds frames to what a test counts.
pub struct TestNs {
    pub name: String,
}

impl TestNs {
    pub fn new() -> TestNs {
        let ns = TestNs::with_ipv6();
        ns.exec(&[
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        ns.ip("link set lo up");
        ns
    }

    /// A namespace as the kernel makes it: IPv6 on, loopback down. (Turning IPv6 off and on
    /// again with `all.disable_ipv6` leaves new interfaces that never finish DAD here, so a
    /// test that needs the kernel's own IPv6 chatter starts from this.)
    pub fn with_ipv6() -> TestNs {
        require_root();
        let name = format!(
            "pwt-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        run("ip", &["netns", "add", &name]);
        TestNs { name }
    }

    /// `ip -n NS ARGS` (split on spaces); panics with the output if it fails.
    pub fn ip(&self, args: &str) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend(args.split_whitespace());
        run("ip", &all)
    }

    /// `tc -n NS ARGS`; panics if it fails.
    pub fn tc(&self, args: &str) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend(args.split_whitespace());
        run("tc", &all)
    }

    /// `ip netns exec NS CMD...`.
    pub fn exec(&self, command: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend(command);
        run("ip", &all)
    }

    pub fn netns(&self) -> Netns {
        Netns::open(Some(&self.name)).expect("open test netns")
    }

    /// Everything a wire command could change, as text: links (name, mtu, state), qdiscs,
    /// ingress and egress filters of every interface. Compared before/after to prove that a
    /// refused or rolled-back command left the kernel exactly as it was.
    ///
    /// Leaves out `used_hw_stats` lines: the kernel adds that line to an action the first time
    /// any RTM_GETACTION dump reads it (`tc actions ls` does the same, and so does `mirror
    /// add`, which lists mirred actions to learn mirror names) — a read-side cache, not a
    /// configuration change.
    pub fn snapshot(&self) -> String {
        let mut text = String::new();
        let links = self.ip("-o link show");
        for line in links.lines() {
            text.push_str(line.split(" link/").next().unwrap_or(line));
            text.push('\n');
        }
        text.push_str(&self.tc("qdisc show"));
        for dev in self.devices() {
            for hook in ["ingress", "egress"] {
                let filters = self.tc(&format!("filter show dev {dev} {hook}"));
                text.push_str(&format!("== {dev} {hook}\n"));
                for line in filters.lines().filter(|l| !l.contains("used_hw_stats")) {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text
    }

    /// [`TestNs::snapshot`] without the kernel's view of carrier: the `NO-CARRIER` and
    /// `LOWER_UP` flags and the operational `state`. Those are not patchwire's to keep: a tap's
    /// carrier follows whichever process holds it, and kernels word it differently (6.1 reports a
    /// never-attached tap as `state UNKNOWN` and the same tap after a detach as `NO-CARRIER ...
    /// state DOWN`; 6.12 and later say DOWN both times). Admin state (`UP`), MTU, master, qdiscs
    /// and filters stay in.
    pub fn snapshot_without_carrier(&self) -> String {
        without_carrier(&self.snapshot())
    }

    pub fn devices(&self) -> Vec<String> {
        self.ip("-o link show")
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    /// Runs the built `patchwire -n NS ARGS`.
    pub fn patchwire(&self, args: &[&str]) -> Run {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend(args);
        patchwire(&all)
    }

    /// Number of patchwire wire filters (pref 20567) on an interface, as tc sees them.
    pub fn wire_filters(&self, dev: &str) -> usize {
        self.tc(&format!("filter show dev {dev} ingress"))
            .lines()
            .filter(|l| l.contains("pref 20567") && l.contains("fh 8") && l.contains("::"))
            .count()
    }

    pub fn has_clsact(&self, dev: &str) -> bool {
        self.tc(&format!("qdisc show dev {dev}"))
            .contains("qdisc clsact")
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// The interface index of `dev` in `ns`, as iproute2 reports it.
pub fn ifindex(ns: &TestNs, dev: &str) -> patchwire::nl::link::IfIndex {
    let line = ns.ip(&format!("-o link show dev {dev}"));
    patchwire::nl::link::IfIndex(line.split(':').next().unwrap().trim().parse().unwrap())
}

/// An AF_PACKET socket on `dev` inside `ns`, with whatever was already queued drained.
pub fn packet_socket(ns: &TestNs, dev: &str) -> patchwire::packet::PacketSocket {
    let index = ifindex(ns, dev).0;
    let socket = ns
        .netns()
        .run(|| patchwire::packet::PacketSocket::open(index))
        .unwrap()
        .unwrap();
    socket.drain();
    socket
}

/// A veth pair `a` (in `a_ns`) <-> `b` (in `b_ns`), both up. (Always spell `dev`/`name` for
/// iproute2: a bare `a` would be read as an abbreviation of `address`.)
pub fn veth(a_ns: &TestNs, a: &str, b_ns: &TestNs, b: &str) {
    a_ns.ip(&format!(
        "link add name {a} type veth peer name {b} netns {}",
        b_ns.name
    ));
    a_ns.ip(&format!("link set dev {a} up"));
    b_ns.ip(&format!("link set dev {b} up"));
    settle(a_ns, a);
    settle(b_ns, b);
}

/// Waits (bounded) until an up veth end has its carrier: operstate and carrier settle
/// asynchronously after `ip link set up`, and a snapshot taken before would differ from one
/// taken after for reasons that have nothing to do with patchwire.
pub fn settle(ns: &TestNs, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = ns.ip(&format!("-o link show dev {dev}"));
        if line.contains("state UP") && !line.contains("NO-CARRIER") {
            return;
        }
        assert!(Instant::now() < deadline, "{dev} did not come up: {line}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The result of running the CLI.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "patchwire failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Asserts failure with exactly this message on stderr.
    pub fn fails_with(&self, message: &str) {
        assert_eq!(
            self.code, 1,
            "expected failure, got:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert_eq!(self.stderr.trim_end(), format!("patchwire: {message}"));
    }
}

pub fn patchwire(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_patchwire"))
        .args(args)
        .output()
        .expect("run patchwire");
    to_run(output)
}

/// `nsenter --net=/run/netns/NETNS patchwire`, arguments still to add: patchwire run "on another
/// host" (only the network namespace changes, so namespaces it registers stay visible to
/// everyone).
pub fn on_host_command(netns: &str) -> Command {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net=/run/netns/{netns}"))
        .arg(env!("CARGO_BIN_EXE_patchwire"));
    command
}

/// `nsenter --net=/run/netns/NETNS patchwire ARGS` (see [`on_host_command`]).
pub fn on_host(netns: &str, args: &[&str]) -> Run {
    to_run(on_host_command(netns).args(args).output().unwrap())
}

fn to_run(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a command, panicking with its output when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `ip -n NETNS ARGS` (a namespace known by name only); panics if it fails.
pub fn ip_in(netns: &str, args: &str) -> String {
    let mut all = vec!["-n", netns];
    all.extend(args.split_whitespace());
    run("ip", &all)
}

/// `ip -n NETNS -o link show dev DEV`.
pub fn link_in(netns: &str, dev: &str) -> String {
    ip_in(netns, &format!("-o link show dev {dev}"))
}

/// Waits (at most 20 s, polling every 10 ms) until `ip -o link show dev DEV` in `ns` satisfies
/// `test`; panics naming `what` and the last line read otherwise.
pub fn wait_link(ns: &TestNs, dev: &str, what: &str, test: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = ns.ip(&format!("-o link show dev {dev}"));
        if test(&text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{dev}: expected {what}, still {text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `text` (an `ip -o link show` listing, or a snapshot holding one) without the `NO-CARRIER` and
/// `LOWER_UP` flags and the `state WORD` field (see [`TestNs::snapshot_without_carrier`]).
pub fn without_carrier(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.replace("NO-CARRIER,", "").replace(",LOWER_UP", "");
        let mut words = line.split(' ').peekable();
        let mut kept = Vec::new();
        while let Some(word) = words.next() {
            if word == "state" && words.peek().is_some() {
                words.next();
                continue;
            }
            kept.push(word);
        }
        out.push_str(&kept.join(" "));
        out.push('\n');
    }
    out
}

/// True in a scripts/kernels guest (a distribution kernel under qemu TCG, the host's root
/// read-only): its init exports PATCHWIRE_GUEST_KERNEL.
pub fn in_guest() -> bool {
    std::env::var_os("PATCHWIRE_GUEST_KERNEL").is_some()
}

/// A bound on a wait (not a timed assertion: how long before a test gives up instead of
/// hanging), stretched six times in a scripts/kernels guest, where every instruction is
/// emulated and starting a process (qemu, a daemon) takes seconds.
pub fn patience(bound: Duration) -> Duration {
    if in_guest() { bound * 6 } else { bound }
}

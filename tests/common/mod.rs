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
pub mod capture;
pub mod cni;
pub mod containers;
pub mod frames;
pub mod impair;
pub mod labfile;
pub mod labframes;
pub mod lifecycle;
pub mod qemu;

/// The CLI under test: the build cargo made beside this test binary, or `PATCHWIRE_TEST_BIN`
/// when set. scripts/kernels sets it to the release build of the same source for its guests:
/// under TCG the debug build (115 MB) takes ~0.5 s to start and its `up` of a small lab 4.4 s
/// against 0.85 s, and the release build is what users run.
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("PATCHWIRE_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_patchwire").to_string())
    })
}

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
        // In-process, not `ip netns exec NS sysctl` and `ip link set lo up`: under the kernel
        // matrix's emulated guests every exec costs ~70 ms, and every test makes namespaces.
        in_netns(&ns.name, || {
            for scope in ["all", "default"] {
                let key = format!("/proc/sys/net/ipv6/conf/{scope}/disable_ipv6");
                std::fs::write(&key, "1").unwrap_or_else(|e| panic!("{key}: {e}"));
            }
            set_loopback_up();
        });
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
        self.snapshot_without(&["used_hw_stats"])
    }

    /// [`TestNs::snapshot`] with more keys of tc's JSON left out (e.g. `index`, an action's
    /// number, which a rolled-back change may not give back). One `ip` and one `tc -batch`
    /// (`-j` prints one line per command): under the kernel matrix's emulated guests every
    /// exec costs ~70 ms, and a namespace with ten interfaces took 22 of them.
    pub fn snapshot_without(&self, keys: &[&str]) -> String {
        let mut text = String::new();
        let links = self.ip("-o link show");
        let mut commands = vec!["qdisc show".to_string()];
        let mut titles = vec!["== qdiscs".to_string()];
        for line in links.lines() {
            text.push_str(line.split(" link/").next().unwrap_or(line));
            text.push('\n');
            let Some(dev) = line.split(": ").nth(1) else {
                continue;
            };
            let dev = dev.split('@').next().unwrap_or(dev);
            for hook in ["ingress", "egress"] {
                commands.push(format!("filter show dev {dev} {hook}"));
                titles.push(format!("== {dev} {hook}"));
            }
        }
        let results = self.tc_batch(&commands);
        for (title, result) in titles.iter().zip(results) {
            text.push_str(title);
            text.push('\n');
            for object in result
                .as_array()
                .expect("tc -j prints an array per command")
            {
                let mut object = object.clone();
                without_keys(&mut object, keys);
                text.push_str(&object.to_string());
                text.push('\n');
            }
        }
        text
    }

    /// `tc -j -n NS -batch -` of `commands`: each command's JSON array, in order.
    pub fn tc_batch(&self, commands: &[String]) -> Vec<serde_json::Value> {
        use std::io::Write;
        let mut child = Command::new("tc")
            .args(["-j", "-n", &self.name, "-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run tc");
        let mut input = child.stdin.take().unwrap();
        input.write_all(commands.join("\n").as_bytes()).unwrap();
        drop(input);
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "tc -batch in {}: {stdout}{}",
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
        let results: Vec<serde_json::Value> = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("tc -j: {e}: {l}")))
            .collect();
        assert_eq!(
            results.len(),
            commands.len(),
            "tc -j -batch: one line per command: {stdout}"
        );
        results
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
    /// What `ip netns del` does (detach the bind mount, remove the file), without its exec.
    fn drop(&mut self) {
        let path = format!("/run/netns/{}", self.name);
        let c_path = std::ffi::CString::new(path.as_str()).expect("no NUL in a test netns name");
        // SAFETY: c_path is a valid NUL-terminated path; a failed unmount is harmless here.
        unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_file(&path);
    }
}

/// Runs `f` on a thread of its own that entered the named namespace (/run/netns/NAME), for
/// set-up a test does in-process: files under /proc/sys/net and sockets opened there belong to
/// that namespace. The thread ends with `f`, so no other code runs in the namespace.
pub fn in_netns<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{name}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                // SAFETY: file is an open namespace file; setns changes only this thread,
                // which runs nothing but `f` and then ends.
                let rc = unsafe {
                    libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET)
                };
                assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Sets `lo` up in the calling thread's namespace (SIOCSIFFLAGS, as `ip link set lo up` would).
fn set_loopback_up() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: socket has no memory preconditions; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: raw is a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data for which all-zero bytes are a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: request is a valid ifreq naming `lo`; the kernel fills ifru_flags.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) };
    assert_eq!(
        rc,
        0,
        "SIOCGIFFLAGS lo: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union, which is read and updated.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: request names `lo` and carries its flags with IFF_UP added.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) };
    assert_eq!(
        rc,
        0,
        "SIOCSIFFLAGS lo: {}",
        std::io::Error::last_os_error()
    );
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
/// iproute2: a bare `a` would be read as an abbreviation of `address`.) `a` is made up (the
/// kernel refuses `up` on a peer it is still making), so two execs instead of three.
pub fn veth(a_ns: &TestNs, a: &str, b_ns: &TestNs, b: &str) {
    a_ns.ip(&format!(
        "link add name {a} up type veth peer name {b} netns {}",
        b_ns.name
    ));
    b_ns.ip(&format!("link set dev {b} up"));
    settle(a_ns, a);
    settle(b_ns, b);
}

/// Waits (bounded) until an up veth end has its carrier: operstate and carrier settle
/// asynchronously after `ip link set up`, and a snapshot taken before would differ from one
/// taken after for reasons that have nothing to do with patchwire. Read over rtnetlink
/// in-process (set-up, not an observation: no exec, which costs ~70 ms in the matrix's guests).
pub fn settle(ns: &TestNs, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let netns = ns.netns();
    loop {
        let mut route = netns.route().expect("rtnetlink socket in the test netns");
        let links = patchwire::nl::link::list(&mut route).expect("list links");
        let link = links.iter().find(|l| l.name == dev);
        if link.is_some_and(|l| l.oper_up && l.carrier) {
            return;
        }
        assert!(Instant::now() < deadline, "{dev} did not come up: {link:?}");
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
    let output = Command::new(bin())
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
    command.arg(format!("--net=/run/netns/{netns}")).arg(bin());
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

/// Removes `keys` at every depth of `value`.
pub fn without_keys(value: &mut serde_json::Value, keys: &[&str]) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !keys.contains(&k.as_str()));
            map.values_mut().for_each(|v| without_keys(v, keys));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| without_keys(v, keys)),
        _ => {}
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

/// Asserts that `host`'s links come back to `before`, carrier words aside: a bridge's carrier
/// is the kernel's (6.1 reports a bridge that never had a port UNKNOWN and one whose last port
/// went NO-CARRIER, for good), and deletions settle asynchronously; `what` says when, if not.
pub fn links_return_to(host: &TestNs, before: &str, what: &str) {
    let before = without_carrier(before);
    let now = || without_carrier(&host.ip("-o link show"));
    let deadline = Instant::now() + patience(Duration::from_secs(5));
    while now() != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(now(), before, "{what}");
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

//! The kernel settings users have, not this machine's: `net.core.rmem_max` at the distribution
//! default (212992; the project's machines boot with 4 MiB). Big batches and labs must work at
//! that value, whatever the socket buffer patchwire manages to get. Each test lowers the global
//! sysctl through [`RmemMax`], which puts the old value back on every path (also on panic);
//! the tests of this file take turns.

mod common;

use std::sync::{Mutex, MutexGuard};

use common::*;
use patchwire::link::tap::{self, TapOptions};
use patchwire::nl::{RouteSocket, link};

/// The distribution kernels' default `net.core.rmem_max`.
const STOCK_RMEM_MAX: &str = "212992";
const RMEM_MAX: &str = "/proc/sys/net/core/rmem_max";

/// One test at a time changes the global sysctl.
static SYSCTL: Mutex<()> = Mutex::new(());

/// `net.core.rmem_max` set to the stock value while it lives; the old value is written back on
/// drop (a panicking test unwinds through it too).
struct RmemMax {
    old: String,
    _turn: MutexGuard<'static, ()>,
}

impl RmemMax {
    fn stock() -> RmemMax {
        require_root();
        // A test that panicked while holding the lock still restored the value on drop.
        let turn = SYSCTL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let old = std::fs::read_to_string(RMEM_MAX)
            .unwrap()
            .trim()
            .to_string();
        std::fs::write(RMEM_MAX, STOCK_RMEM_MAX).unwrap();
        RmemMax { old, _turn: turn }
    }
}

impl Drop for RmemMax {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(RMEM_MAX, &self.old) {
            eprintln!("could not put net.core.rmem_max back to {}: {e}", self.old);
        }
    }
}

#[test]
fn a_batch_of_400_wires_works_at_the_stock_rmem_max() {
    let ns = TestNs::new();
    let names: Vec<String> = (0..800).map(|i| format!("t{i}")).collect();
    let create = names.clone();
    ns.netns()
        .run(move || {
            for name in &create {
                tap::create_persistent(name, &TapOptions::default()).unwrap();
            }
        })
        .unwrap();
    let batch: String = (0..400)
        .map(|k| format!("t{} t{}\n", 2 * k, 2 * k + 1))
        .collect();
    let file = std::env::temp_dir().join(format!("{}-batch.txt", ns.name));
    std::fs::write(&file, batch).unwrap();

    let _stock = RmemMax::stock();
    let run = ns.patchwire(&["link", "--batch", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    run.ok();
    assert!(
        run.stdout
            .starts_with("wired 400 new, 0 updated, 0 already present (1600 kernel changes"),
        "{}",
        run.stdout
    );
    let show = ns.patchwire(&["-j", "show"]).json();
    let wires = show.as_array().unwrap();
    assert_eq!(wires.len(), 400);
    for (k, wire) in wires.iter().enumerate() {
        assert_eq!(wire["a"]["name"], format!("t{}", 2 * k));
        assert_eq!(wire["b"]["name"], format!("t{}", 2 * k + 1));
        assert!(
            wire["a_to_b"].is_object() && wire["b_to_a"].is_object(),
            "{wire}"
        );
    }
    assert_eq!(ns.tc("qdisc show").matches("qdisc clsact").count(), 800);
    assert_eq!(
        ns.patchwire(&["unlink", "--all"]).ok().stdout,
        "unwired 400 wires\n"
    );
}

/// A lab of 120 two-ended links: 240 ports in the panel, 240 far ends in two nodes.
fn big_lab() -> String {
    let mut body = String::from("name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n");
    for i in 1..=120 {
        body.push_str(&format!("    - endpoints: [\"a:e{i}\", \"b:e{i}\"]\n"));
    }
    body
}

/// A lab file with a unique name, `down` on drop.
struct Lab {
    name: String,
    path: std::path::PathBuf,
}

impl Lab {
    fn new(body: &str) -> Lab {
        require_root();
        let name = format!("pwt-{}-stock", std::process::id());
        let path = std::env::temp_dir().join(format!("{name}.yaml"));
        std::fs::write(&path, body.replace("LAB", &name)).unwrap();
        Lab { name, path }
    }

    fn patchwire(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.push(self.path.to_str().unwrap());
        patchwire(&all)
    }

    /// The namespaces of this lab under /run/netns.
    fn namespaces(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir("/run/netns")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(&self.name))
            .collect();
        names.sort();
        names
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.patchwire(&["down"]);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Lines of `ip -o link show` in `netns` whose interface name starts with `prefix`.
fn links_named(netns: &str, prefix: &str) -> Vec<String> {
    run("ip", &["-n", netns, "-o", "link", "show"])
        .lines()
        .filter(|l| l.split(": ").nth(1).is_some_and(|n| n.starts_with(prefix)))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_lab_of_120_links_comes_up_converges_and_goes_away_at_the_stock_rmem_max() {
    let lab = Lab::new(&big_lab());
    let _stock = RmemMax::stock();
    let up = lab.patchwire(&["up"]);
    up.ok();
    let panel = format!("{}.panel", lab.name);
    // Every port exists, is up and carries its record.
    let ports = run("ip", &["-n", &panel, "-d", "-o", "link", "show"]);
    for i in 1..=120 {
        for node in ["a", "b"] {
            let line = ports
                .lines()
                .find(|l| l.contains(&format!(": {node}.e{i}@")))
                .unwrap_or_else(|| panic!("port {node}.e{i} missing:\n{ports}"));
            // Administratively up (the operational state follows a moment later).
            let flags = line.split(['<', '>']).nth(1).unwrap_or_default();
            assert!(flags.split(',').any(|f| f == "UP"), "{line}");
            assert!(
                line.split_whitespace()
                    .any(|w| w == format!("patchwire.port.{node}.e{i}")),
                "port {node}.e{i} has no record: {line}"
            );
        }
    }
    for node in ["a", "b"] {
        assert_eq!(links_named(&format!("{}-{node}", lab.name), "e").len(), 120);
    }
    assert_eq!(lab.patchwire(&["-j", "plan"]).json(), serde_json::json!([]));
    let again = lab.patchwire(&["up"]);
    assert!(
        again.ok().stdout.contains("up to date, nothing changed"),
        "{}",
        again.stdout
    );
    lab.patchwire(&["down"]).ok();
    assert_eq!(lab.namespaces(), Vec::<String>::new());

    // An `up` killed after the ports were made but before they were recorded (where the panic
    // used to leave them): the next `up` converges.
    use std::os::unix::process::ExitStatusExt;
    let killed = std::process::Command::new(common::bin())
        .args(["up", lab.path.to_str().unwrap()])
        .env("PATCHWIRE_LAB_KILL_AT", "11")
        .output()
        .unwrap();
    assert_eq!(killed.status.signal(), Some(libc::SIGKILL));
    lab.patchwire(&["up"]).ok();
    assert_eq!(lab.patchwire(&["-j", "plan"]).json(), serde_json::json!([]));
    lab.patchwire(&["down"]).ok();
    assert_eq!(lab.namespaces(), Vec::<String>::new());
}

/// Without CAP_NET_ADMIN SO_RCVBUFFORCE is refused: the socket then gets what rmem_max allows
/// (doubled by the kernel) and sizes its rounds of requests to that.
#[test]
fn without_cap_net_admin_the_socket_takes_what_rmem_max_allows_and_still_answers_a_big_batch() {
    let ns = TestNs::new();
    let _stock = RmemMax::stock();
    let (buffer, replies) = ns
        .netns()
        .run(|| {
            drop_net_admin();
            let mut socket = RouteSocket::open().unwrap();
            let requests = (0..1000).map(|_| (link::get_by_name("lo"), 0)).collect();
            (socket.receive_buffer(), socket.batch_raw(requests))
        })
        .unwrap();
    assert!(!buffer.forced);
    assert_eq!(buffer.bytes, 2 * 212992);
    assert_eq!(replies.len(), 1000);
    for reply in replies {
        assert_eq!(link::parse_one(reply).unwrap().name, "lo");
    }
}

/// Drops CAP_NET_ADMIN from the calling thread's effective set (capabilities are per thread:
/// the rest of the test process keeps it).
fn drop_net_admin() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_ADMIN: u32 = 12;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes two Data records for version 3; both pointers are valid.
    let got = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(got, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !(1 << CAP_NET_ADMIN);
    // SAFETY: capset reads the header and two Data records, all valid; it only changes this
    // thread's capabilities.
    let set = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(set, 0, "capset: {}", std::io::Error::last_os_error());
}

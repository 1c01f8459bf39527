//! The lab tests' own lab file (tests/lab_lifecycle.rs, tests/lab_views.rs): a unique name,
//! `down` on drop, namespaces of the test's own for `netns:` nodes; a watch on a panel;
//! observers of what the kernel holds; and the peers lab_lifecycle.rs runs: FRR's zebra, a
//! qemu on a tap, a VMM's hold of a tap.

use super::*;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[allow(unused_imports)] // not every test file uses it
pub use super::labfile::LabFile as Lab;

pub fn exists(netns: &str, dev: &str) -> bool {
    Command::new("ip")
        .args(["-n", netns, "link", "show", "dev", dev])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// `(ifindex, link_index)` of every interface of a namespace but lo, from `ip -j link`.
pub fn indexes(netns: &str) -> Vec<(String, u64, Option<u64>)> {
    let json: serde_json::Value = serde_json::from_str(&ip_in(netns, "-j link show")).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .filter(|l| l["ifname"] != "lo")
        .map(|l| {
            (
                l["ifname"].as_str().unwrap().to_string(),
                l["ifindex"].as_u64().unwrap(),
                l["link_index"].as_u64(),
            )
        })
        .collect()
}

/// A counter from /sys/class/net/DEV (`ip netns exec` mounts the namespace's own sysfs).
pub fn sysfs(netns: &str, dev: &str, counter: &str) -> u64 {
    run(
        "ip",
        &[
            "netns",
            "exec",
            netns,
            "cat",
            &format!("/sys/class/net/{dev}/{counter}"),
        ],
    )
    .trim()
    .parse()
    .unwrap()
}

/// Polls (bounded) until `check` holds; false if it never did within `limit` (stretched in a
/// scripts/kernels guest, see `patience`).
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let limit = patience(limit);
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// A `patchwire watch` on a lab's panel, killed on drop.
pub struct Watch(std::process::Child);

impl Watch {
    pub fn start(panel: &str) -> Watch {
        Watch(
            Command::new(super::bin())
                .args(["-n", panel, "watch"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// FRR's zebra in a namespace (the real peer of issue 18's finding: a router kept its OSPF
/// neighbour on an interface whose cable had moved); stopped on drop.
pub struct Zebra {
    dir: std::path::PathBuf,
}

impl Zebra {
    pub fn start(netns: &str) -> Zebra {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("{netns}.zebra"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // zebra runs as user frr.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let config = dir.join("zebra.conf");
        std::fs::write(&config, "hostname lab\n").unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
        let path = |f: &str| dir.join(f).to_str().unwrap().to_string();
        run(
            "timeout",
            &[
                "20",
                "ip",
                "netns",
                "exec",
                netns,
                "/usr/lib/frr/zebra",
                "-d",
                "-u",
                "frr",
                "-g",
                "frr",
                "-f",
                &path("zebra.conf"),
                "-i",
                &path("zebra.pid"),
                "-z",
                &path("zserv.api"),
                "--vty_socket",
                &path(""),
                "--log",
                &format!("file:{}", path("zebra.log")),
            ],
        );
        Zebra { dir }
    }

    /// `linkDowns` of an interface, as zebra counted them (None until zebra answers).
    pub fn link_downs(&self, dev: &str) -> Option<u64> {
        let output = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.dir)
            .args(["-c", &format!("show interface {dev} json")])
            .output()
            .ok()?;
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        json[dev]["linkDowns"].as_u64()
    }
}

impl Drop for Zebra {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("zebra.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// qemu with only a tap (`netdev`) in `netns`, SIGKILLed after 2 s: its exit code and stderr.
pub fn qemu_on(netns: &str, netdev: &str) -> (Option<i32>, String) {
    let output = Command::new("timeout")
        .args(["-s", "KILL", "2"])
        .args(["ip", "netns", "exec", netns, "qemu-system-x86_64"])
        .args([
            "-M",
            "none",
            "-nodefaults",
            "-nographic",
            "-display",
            "none",
        ])
        .args(["-monitor", "none", "-serial", "none", "-netdev", netdev])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

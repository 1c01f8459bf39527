//! The lab tests' own lab file (tests/lab_lifecycle.rs, tests/lab_views.rs): a unique name,
//! `down` on drop, namespaces of the test's own for `netns:` nodes; a watch on a panel; and
//! observers of what the kernel holds.

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

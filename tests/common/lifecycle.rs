//! The lab tests' own lab file (tests/lab_lifecycle.rs, tests/lab_views.rs): a unique name,
//! `down` on drop, namespaces of the test's own for `netns:` nodes; a watch on a panel; and
//! observers of what the kernel holds.

use super::*;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A lab file with a unique lab name (`pwt-PID-cN`; `LAB` in the text stands for it); `down`
/// on drop, and namespaces it was given (`netns:` nodes) deleted too.
pub struct Lab {
    pub name: String,
    pub path: std::path::PathBuf,
    pub extra: Vec<String>,
}

impl Lab {
    pub fn new(body: &str) -> Lab {
        require_root();
        let name = format!(
            "pwt-{}-c{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(format!("{name}.yaml"));
        let lab = Lab {
            name,
            path,
            extra: Vec::new(),
        };
        lab.write(body);
        lab
    }

    /// A namespace of the test's own (for `netns:` nodes): `LAB-x` + suffix, removed on drop.
    pub fn own_netns(&mut self, suffix: &str) -> String {
        let name = format!("{}x{suffix}", self.name);
        run("ip", &["netns", "add", &name]);
        self.extra.push(name.clone());
        name
    }

    pub fn write(&self, body: &str) {
        std::fs::write(&self.path, body.replace("LAB", &self.name)).unwrap();
    }

    pub fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    pub fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.name)
    }

    pub fn panel(&self) -> String {
        format!("{}.panel", self.name)
    }

    /// `patchwire ARGS FILE`.
    pub fn pw(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.push(self.path());
        patchwire(&all)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = patchwire(&["down", self.path()]);
        let _ = patchwire(&["down", "--name", &self.name]);
        for ns in &self.extra {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

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

//! The tests' lab file: a unique lab name (`pwt-PID-TAGN`, under scripts/test's cleanup
//! prefix; `LAB` in the text stands for it), written to the temp dir; on drop, `down` (on each
//! host it was brought up on, for a lab over several hosts), the namespaces it was given for
//! `netns:` nodes deleted, and the file removed.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Run, on_host, patchwire, require_root, run};

pub struct LabFile {
    pub name: String,
    pub path: std::path::PathBuf,
    /// (host, the namespace standing for it) the lab was brought up on, when over hosts.
    pub hosts: Vec<(String, String)>,
    /// Namespaces of the test's own (for `netns:` nodes), deleted on drop.
    pub extra: Vec<String>,
}

impl LabFile {
    /// `body` with `LAB` standing for the lab's name; `tag` tells the test file's labs apart.
    pub fn new(tag: &str, body: &str) -> LabFile {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        require_root();
        let name = format!(
            "pwt-{}-{tag}{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(format!("{name}.yaml"));
        let lab = LabFile {
            name,
            path,
            hosts: Vec::new(),
            extra: Vec::new(),
        };
        lab.write(body);
        lab
    }

    /// Writes `body` (with `LAB` replaced) over the file.
    pub fn write(&self, body: &str) {
        std::fs::write(&self.path, body.replace("LAB", &self.name)).unwrap();
    }

    pub fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The namespace the lab makes for `node`.
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

    /// A namespace of the test's own (for `netns:` nodes): `LABx` + suffix, removed on drop.
    pub fn own_netns(&mut self, suffix: &str) -> String {
        let name = format!("{}x{suffix}", self.name);
        run("ip", &["netns", "add", &name]);
        self.extra.push(name.clone());
        name
    }
}

impl Drop for LabFile {
    fn drop(&mut self) {
        match self.hosts.is_empty() {
            true => {
                let _ = patchwire(&["down", self.path()]);
                let _ = patchwire(&["down", "--name", &self.name]);
            }
            false => {
                for (host, netns) in &self.hosts {
                    let _ = on_host(netns, &["down", self.path(), "--host", host]);
                }
            }
        }
        for ns in &self.extra {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

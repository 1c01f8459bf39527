//! What every benchmark (wires, labs, watch, capture) needs around its measurements: namespaces
//! and files that disappear with the run (also on error or panic), running commands that must
//! succeed; medians and the figures' formatting (`report.rs`); iperf3 between two namespaces
//! (`iperf.rs`). Each benchmark uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

pub mod iperf;
pub mod report;

/// Namespaces `pwb-<pid>-<tag>` and a temporary directory, all removed on drop.
pub struct Scratch {
    prefix: String,
    namespaces: Vec<String>,
    pub dir: PathBuf,
}

impl Scratch {
    /// `name` tells the benchmark's temporary directory apart (`pwb-<pid>-<name>`).
    pub fn new(name: &str) -> Result<Self> {
        let prefix = format!("pwb-{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("{prefix}-{name}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch {
            prefix,
            namespaces: Vec::new(),
            dir,
        })
    }

    /// Creates namespace `pwb-<pid>-<tag>` with IPv6 off (no router solicitations or MLD in
    /// the counters) and lo up.
    pub fn netns(&mut self, tag: &str) -> Result<String> {
        let name = format!("{}-{tag}", self.prefix);
        run(Command::new("ip").args(["netns", "add", &name]))?;
        self.namespaces.push(name.clone());
        run(Command::new("ip")
            .args(["netns", "exec", &name, "sysctl", "-qw"])
            .args([
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]))?;
        ip(&["-n", &name, "link", "set", "dev", "lo", "up"])?;
        Ok(name)
    }

    /// Writes a file into the run's directory.
    pub fn file(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for name in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command to completion, failing with its stderr unless it succeeds; returns stdout.
pub fn run(command: &mut Command) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

pub fn ip(args: &[&str]) -> Result<String> {
    run(Command::new("ip").args(args))
}

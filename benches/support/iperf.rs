//! iperf3 between a sender and a receiver namespace, for the benchmarks that offer traffic:
//! a one-off server (CPU 1) and a client (CPU 0), both bounded in time, and the receiver's
//! frame counter.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::ip;

/// The sender's and the receiver's addresses (198.18.0.0/15: benchmark traffic only).
pub const SENDER_ADDR: &str = "198.18.0.1";
/// See [`SENDER_ADDR`].
pub const RECEIVER_ADDR: &str = "198.18.0.2";

/// A one-off iperf3 server in the receiver namespace on CPU 1; killed when dropped. `timeout`
/// bounds its life even if this program dies without dropping it.
pub struct Server(Child);

impl Server {
    pub fn start(receiver: &str, seconds: u64) -> Result<Self> {
        let limit = (seconds + 20).to_string();
        let child = Command::new("ip")
            .args(["netns", "exec", receiver, "timeout", "-s", "KILL", &limit])
            .args(["iperf3", "-s", "-1", "-B", RECEIVER_ADDR, "-A", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the iperf3 server")?;
        Ok(Server(child))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = self.0.id() as libc::pid_t;
            // SAFETY: signals our own unreaped child (its pid cannot be reused before we wait)
            // and the process group `timeout` made for itself and iperf3.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = self.0.wait();
    }
}

/// Runs the iperf3 client on CPU 0 in the `sender` namespace; retries while the server is not
/// listening yet. Returns iperf3's JSON report; `label` names the path in errors.
pub fn client(sender: &str, label: &str, seconds: u64, extra: &[&str]) -> Result<Value> {
    let limit = (seconds + 15).to_string();
    let secs = seconds.to_string();
    for attempt in 0.. {
        let output = Command::new("ip")
            .args(["netns", "exec", sender, "timeout", "-s", "KILL", &limit])
            .args([
                "iperf3",
                "-c",
                RECEIVER_ADDR,
                "-J",
                "-A",
                "0",
                "--connect-timeout",
                "1000",
                "-t",
                &secs,
            ])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .context("starting the iperf3 client")?;
        let report: Value = serde_json::from_slice(&output.stdout).with_context(|| {
            format!(
                "iperf3 client ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
        match report.get("error").and_then(Value::as_str) {
            None => return Ok(report),
            Some(e) if e.contains("unable to connect") && attempt < 20 => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Some(e) => bail!("iperf3 client over the {label}: {e}"),
        }
    }
    unreachable!()
}

/// The rx packet counter of `dev` in `ns`.
pub fn rx_packets(ns: &str, dev: &str) -> Result<u64> {
    let json: Value =
        serde_json::from_str(&ip(&["-n", ns, "-s", "-j", "link", "show", "dev", dev])?)?;
    json[0]["stats64"]["rx"]["packets"]
        .as_u64()
        .context("no rx packet counter in ip -s -j link")
}

/// Gives sender end `s0` (in `sender`) and receiver end `r0` (in `receiver`) their addresses,
/// brings them and lo up, and checks that the receiver answers ping over `path` (its name in
/// the error).
pub fn address_ends(sender: &str, receiver: &str, path: &str) -> Result<()> {
    for (ns, dev, addr) in [(sender, "s0", SENDER_ADDR), (receiver, "r0", RECEIVER_ADDR)] {
        ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    let ping = [
        "netns",
        "exec",
        sender,
        "ping",
        "-q",
        "-c",
        "1",
        "-W",
        "1",
        RECEIVER_ADDR,
    ];
    let reachable = (0..5).any(|_| ip(&ping).is_ok());
    ensure!(
        reachable,
        "{path}: {RECEIVER_ADDR} does not answer ping from {sender}"
    );
    Ok(())
}

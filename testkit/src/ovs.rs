//! A private Open vSwitch per namespace (userspace datapath) as a real LACP peer, and the
//! guarded child processes it runs as. Shared by `tests/watch_ovs.rs` and `benches/watch.rs`,
//! so errors are plain strings: a test unwraps them, the benchmark turns them into its own
//! errors. Recipe: docs/research/ovs-lacp.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

pub type Result<T> = std::result::Result<T, String>;

const OVS_SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// A child process in its own process group under `timeout --foreground -s KILL LIFETIME`,
/// stopped on drop: SIGTERM (timeout passes it on), up to 3 s to exit, then SIGKILL to the
/// whole group.
pub struct Guarded {
    pub child: Option<Child>,
    pub what: String,
}

impl Guarded {
    pub fn spawn(
        what: &str,
        command: &[&str],
        stdout: Stdio,
        env: &[(&str, &Path)],
        lifetime: Duration,
    ) -> Result<Guarded> {
        let lifetime = lifetime.as_secs().max(1).to_string();
        let mut cmd = Command::new("timeout");
        cmd.args(["--foreground", "-s", "KILL", &lifetime])
            .args(command)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .process_group(0);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd.spawn().map_err(|e| format!("starting {what}: {e}"))?;
        Ok(Guarded {
            child: Some(child),
            what: what.to_string(),
        })
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGTERM, up to 3 s to exit, then SIGKILL to the group; returns how it ended.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id() as i32;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("{} ignored SIGTERM for 3 s: SIGKILL", self.what);
        // SAFETY: the child is unreaped, so its pid (and process group id: it leads the group)
        // is still ours; the group holds only timeout and the program it runs.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        child.wait().ok()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// LACP counters of one bond member (`lacp/show-stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LacpStats {
    /// "Carrier Status Changed": OvS saw the member's carrier go or come.
    pub carrier_changed: u64,
    /// "Link Expired": the partner's LACPDUs stopped arriving (LACP timeout).
    pub expired: u64,
}

/// A private Open vSwitch in one namespace: bridge br0 (netdev datapath) with an active
/// fast-LACP bond `bond0` of two existing interfaces. Daemons stopped, files removed on drop.
pub struct Ovs {
    dir: PathBuf,
    // Dropped in this order: vswitchd before the database.
    vswitchd: Option<Guarded>,
    db: Option<Guarded>,
}

impl Ovs {
    /// Starts ovsdb-server and ovs-vswitchd inside `netns` (each bounded to `lifetime`), with
    /// their files in `dir`, and makes the bond of `members`.
    pub fn start(netns: &str, dir: PathBuf, members: [&str; 2], lifetime: Duration) -> Result<Ovs> {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut ovs = Ovs {
            dir,
            vswitchd: None,
            db: None,
        };
        // Members stay kernel interfaces: keep the namespace's stack from answering ARP on them.
        let sysctl = [
            "netns",
            "exec",
            netns,
            "sysctl",
            "-qw",
            "net.ipv4.conf.all.arp_ignore=1",
        ];
        ovs.command("ip", &sysctl)?;
        let db = ovs.path("conf.db");
        ovs.command("ovsdb-tool", &["create", &db, OVS_SCHEMA])?;
        let remote = format!("--remote=punix:{}", ovs.path("db.sock"));
        let args = [db.as_str(), &remote, "--no-chdir", "-vconsole:off"];
        ovs.db = Some(ovs.daemon(netns, "ovsdb-server", &args, lifetime)?);
        ovs.wait_for("the database socket", |ovs| {
            ovs.vsctl(&["--no-wait", "init"]).is_ok()
        })?;
        let db_url = format!("unix:{}", ovs.path("db.sock"));
        let args = [db_url.as_str(), "--no-chdir", "-vconsole:off"];
        ovs.vswitchd = Some(ovs.daemon(netns, "ovs-vswitchd", &args, lifetime)?);
        ovs.wait_for("ovs-vswitchd's control socket", |ovs| {
            ovs.appctl(&["version"]).is_ok()
        })?;
        ovs.vsctl(&[
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
            "--",
            "add-bond",
            "br0",
            "bond0",
            members[0],
            members[1],
            "lacp=active",
            "bond_mode=balance-tcp",
            "other_config:lacp-time=fast",
        ])?;
        Ok(ovs)
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }

    /// An OvS daemon inside the namespace, in the foreground (so it is our child).
    fn daemon(
        &self,
        netns: &str,
        program: &str,
        args: &[&str],
        lifetime: Duration,
    ) -> Result<Guarded> {
        let unixctl = format!("--unixctl={}", self.path(&format!("{program}.ctl")));
        let pidfile = format!("--pidfile={}", self.path(&format!("{program}.pid")));
        let log = format!("--log-file={}", self.path(&format!("{program}.log")));
        let mut command = vec!["ip", "netns", "exec", netns, program];
        command.extend(args);
        command.extend([unixctl.as_str(), &pidfile, &log]);
        Guarded::spawn(program, &command, Stdio::null(), &self.env(), lifetime)
    }

    fn env(&self) -> Vec<(&'static str, &Path)> {
        let dir = self.dir.as_path();
        vec![
            ("OVS_RUNDIR", dir),
            ("OVS_DBDIR", dir),
            ("OVS_LOGDIR", dir),
            ("OVS_SYSCONFDIR", dir),
            ("OVS_PKGDATADIR", Path::new("/usr/share/openvswitch")),
        ]
    }

    /// Polls (every 20 ms, at most 10 s) until `ready`; the error carries the daemon logs.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&Ovs) -> bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(self) {
            let exited = [&mut self.db, &mut self.vswitchd]
                .into_iter()
                .flatten()
                .find_map(|d| {
                    d.exited()
                        .map(|status| format!("{} exited ({status})", d.what))
                });
            if let Some(exited) = exited {
                return Err(format!("{exited}: {}", self.logs()));
            }
            if Instant::now() > deadline {
                return Err(format!("OvS: no {what} within 10 s: {}", self.logs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Both daemons' log files, for error messages.
    pub fn logs(&self) -> String {
        ["ovsdb-server.log", "ovs-vswitchd.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs a tool (bounded by `timeout`) with the private directories; its stdout or an error.
    fn command<S: AsRef<str>>(&self, program: &str, args: &[S]) -> Result<String> {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let output = Command::new("timeout")
            .args(["-s", "KILL", "15", program])
            .args(&args)
            .envs(self.env())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "{program} {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    pub fn vsctl(&self, args: &[&str]) -> Result<String> {
        let db = format!("--db=unix:{}", self.path("db.sock"));
        let mut all = vec!["--timeout=10", db.as_str()];
        all.extend(args);
        self.command("ovs-vsctl", &all)
    }

    pub fn appctl(&self, args: &[&str]) -> Result<String> {
        let ctl = self.path("ovs-vswitchd.ctl");
        let mut all = vec!["--timeout=10", "-t", ctl.as_str()];
        all.extend(args);
        self.command("ovs-appctl", &all)
    }

    pub fn bond_show(&self) -> Result<String> {
        self.appctl(&["bond/show", "bond0"])
    }

    /// `bond/show bond0` says "member NAME: enabled" (or "disabled").
    pub fn member_enabled(&self, member: &str) -> Result<bool> {
        let show = self.bond_show()?;
        let prefix = format!("member {member}: ");
        let state = show
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .ok_or_else(|| format!("{member} not in bond/show: {show}"))?;
        Ok(state.trim() == "enabled")
    }

    /// LACP has the member "current" (partner's LACPDUs arriving and in sync).
    pub fn lacp_current(&self, member: &str) -> Result<bool> {
        let show = self.appctl(&["lacp/show", "bond0"])?;
        Ok(show.contains(&format!("member: {member}: current attached")))
    }

    /// OvS's own idea of the member's link: `up` or `down` (from carrier, as netlink told it).
    pub fn link_state(&self, member: &str) -> Result<String> {
        Ok(self
            .vsctl(&["get", "interface", member, "link_state"])?
            .trim()
            .to_string())
    }

    /// From `lacp/show-stats bond0`: the member's carrier changes and LACP expiries.
    pub fn lacp_stats(&self, member: &str) -> Result<LacpStats> {
        let text = self.appctl(&["lacp/show-stats", "bond0"])?;
        let block = text
            .split(&format!("member: {member}:"))
            .nth(1)
            .and_then(|rest| rest.split("member: ").next())
            .ok_or_else(|| format!("{member} not in lacp/show-stats: {text}"))?;
        let counter = |name: &str| -> Result<u64> {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .and_then(|n| n.trim().parse().ok())
                .ok_or_else(|| format!("no {name} for {member}: {text}"))
        };
        Ok(LacpStats {
            carrier_changed: counter("Carrier Status Changed:")?,
            expired: counter("Link Expired:")?,
        })
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        drop(self.vswitchd.take());
        drop(self.db.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! A real qemu with no guest (`-M none`) whose tap netdev and a UDP `dgram` netdev share a hub:
//! a datagram sent to qemu's UDP port is one Ethernet frame entering the tap, and every frame
//! the kernel sends out of the tap comes back as a datagram — the path UDP -> qemu -> tap ->
//! wire is observable from a test. Used by the VM tests and the CNI tests.

use std::io::{self, Read};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use patchwire::probe::Port;

use super::TestNs;

/// qemu's end of the UDP netdev, and the test's end (both on 127.0.0.1 inside the namespace).
pub const QEMU_PORT: u16 = 40001;
pub const TEST_PORT: u16 = 40002;

/// A qemu with a tap and a UDP netdev on one hub, running in a test namespace. Always stopped:
/// on drop it gets SIGTERM, up to 3 s to exit, then SIGKILL (its whole process group). It also
/// runs under `timeout -s KILL 60` in case the test process itself dies.
pub struct Qemu {
    child: Option<Child>,
    stderr: Option<JoinHandle<String>>,
}

impl Qemu {
    /// `netdev_tap` is qemu's whole `-netdev tap,id=t0,…` argument (its id must be t0).
    pub fn start(ns: &TestNs, netdev_tap: &str, env: &[(&str, &str)]) -> Qemu {
        let netdev_udp = format!(
            "dgram,id=u0,local.type=inet,local.host=127.0.0.1,local.port={QEMU_PORT},\
             remote.type=inet,remote.host=127.0.0.1,remote.port={TEST_PORT}"
        );
        let mut command = Command::new("timeout");
        command
            .args(["--foreground", "-s", "KILL", "60"])
            .args(["ip", "netns", "exec", &ns.name, "qemu-system-x86_64"])
            .args([
                "-M",
                "none",
                "-nodefaults",
                "-nographic",
                "-display",
                "none",
            ])
            .args(["-monitor", "none", "-serial", "none"])
            .args(["-netdev", netdev_tap])
            .args(["-netdev", "hubport,id=p0,hubid=0,netdev=t0"])
            .args(["-netdev", &netdev_udp])
            .args(["-netdev", "hubport,id=p1,hubid=0,netdev=u0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: the SIGKILL fallback reaches qemu and its scripts too.
            .process_group(0);
        // Only the environment the test asks for reaches qemu's scripts.
        command
            .env_remove("PATCHWIRE_TAP_MAP")
            .env_remove("PATCHWIRE_TAP_CONFIG")
            .env_remove("PATCHWIRE_FAULT_AT");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start qemu");
        let mut pipe = child.stderr.take().expect("qemu stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        Qemu {
            child: Some(child),
            stderr: Some(stderr),
        }
    }

    /// Waits (bounded) until `tap` is wired to `partner` and operationally up (only then is
    /// its transmit qdisc active). Panics with qemu's stderr if qemu exits first.
    pub fn wait_ready(&mut self, ns: &TestNs, tap: &str, partner: &str) {
        let bound = super::patience(Duration::from_secs(10));
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!("qemu exited early ({status}): {}", self.collect_stderr());
            }
            let show = ns.patchwire(&["-j", "show"]);
            let wired = show.code == 0
                && show
                    .json()
                    .as_array()
                    .is_some_and(|wires| wires.iter().any(|w| is_wire(w, tap, partner)));
            // The transmit qdisc is active once the tap is up with carrier and operationally
            // up — for a tap qemu created with carrier already on, that reads "UNKNOWN".
            let up = wired && {
                let line = ns.ip(&format!("-o link show dev {tap}"));
                line.contains(",UP,LOWER_UP>")
                    && (line.contains("state UP") || line.contains("state UNKNOWN"))
            };
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "qemu's {tap} was not wired to {partner} and up within {bound:?}: {}",
                show.stdout
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops qemu (SIGTERM, so it runs its downscript) and returns how it ended and its stderr.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let status = terminate(self.child.take().expect("qemu running"));
        (status, self.collect_stderr())
    }

    /// Waits up to `limit` for qemu to exit on its own (it refused to start), then stops it.
    pub fn wait_exit(mut self, limit: Duration) -> (Option<ExitStatus>, String) {
        let mut child = self.child.take().expect("qemu running");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                terminate(child);
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.collect_stderr())
    }

    fn collect_stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|reader| reader.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            terminate(child);
        }
    }
}

/// SIGTERM to `timeout` (which passes it on to qemu), up to 3 s to exit, then SIGKILL to the
/// whole process group; always reaps.
fn terminate(mut child: Child) -> ExitStatus {
    let pid = child.id() as i32;
    if let Ok(Some(status)) = child.try_wait() {
        return status;
    }
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + super::patience(Duration::from_secs(3));
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: the child is unreaped, so its pid (and process group id, it leads the group) is
    // still ours; the group holds only timeout, qemu and qemu's scripts.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    child.wait().expect("reap qemu")
}

pub fn is_wire(wire: &serde_json::Value, x: &str, y: &str) -> bool {
    let (a, b) = (&wire["a"]["name"], &wire["b"]["name"]);
    (a == x && b == y) || (a == y && b == x)
}

/// qemu's UDP netdev seen from the test: a datagram to qemu is a frame into the hub (and so
/// into the tap); frames out of the tap come back as datagrams.
pub struct UdpPort {
    socket: UdpSocket,
    peer: SocketAddr,
}

impl UdpPort {
    pub fn open(ns: &TestNs) -> UdpPort {
        let socket = ns
            .netns()
            .run(|| UdpSocket::bind(("127.0.0.1", TEST_PORT)))
            .expect("enter test netns")
            .expect("bind the test's UDP port");
        UdpPort {
            socket,
            peer: SocketAddr::from(([127, 0, 0, 1], QEMU_PORT)),
        }
    }
}

impl Port for UdpPort {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        let sent = self.socket.send_to(frame, self.peer)?;
        if sent != frame.len() {
            return Err(io::Error::other(format!(
                "short send: {sent} of {} bytes",
                frame.len()
            )));
        }
        Ok(())
    }

    fn recv_until(&self, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 65536];
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(remaining))?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) if from == self.peer => return Ok(Some(buf[..n].to_vec())),
                Ok(_) => {} // not from qemu
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn drain(&self) {
        let mut buf = vec![0u8; 65536];
        if self.socket.set_nonblocking(true).is_err() {
            return;
        }
        for _ in 0..10_000 {
            if self.socket.recv_from(&mut buf).is_err() {
                break;
            }
        }
        let _ = self.socket.set_nonblocking(false);
    }
}

/// What a VMM does with a tap: attach to it (TUNSETIFF on its name, in `netns`) — the tap has
/// carrier while the returned file is open, like a qemu holding it — and, with `csum`, set its
/// offloads to a guest driver's (TUNSETOFFLOAD TUN_F_CSUM: the guest takes frames with partial
/// checksums, so the kernel turns the tap's TX checksum offload on).
pub fn hold_tap_like_qemu(netns: &str, tap: &str, csum: bool) -> std::fs::File {
    use std::os::fd::AsRawFd;
    const TUN_F_CSUM: libc::c_ulong = 0x01;
    let tap = tap.to_string();
    patchwire::netns::Netns::open(Some(netns))
        .unwrap()
        .run(move || {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/net/tun")
                .unwrap();
            // struct ifreq: the name, then the flags (a short), padded to 40 bytes.
            let mut req = [0u8; 40];
            req[..tap.len()].copy_from_slice(tap.as_bytes());
            let flags = (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as i16;
            req[16..18].copy_from_slice(&flags.to_ne_bytes());
            // SAFETY: TUNSETIFF reads and writes one struct ifreq (40 bytes); `req` is live
            // and that size, and the fd is an open /dev/net/tun.
            let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, req.as_mut_ptr()) };
            assert_eq!(rc, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
            if csum {
                // SAFETY: TUNSETOFFLOAD takes its flags by value; the fd is attached to the tap.
                let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETOFFLOAD, TUN_F_CSUM) };
                assert_eq!(rc, 0, "TUNSETOFFLOAD: {}", std::io::Error::last_os_error());
            }
            file
        })
        .unwrap()
}

//! Persistent tap devices through `/dev/net/tun`.
//!
//! rtnetlink cannot create taps (it answers `EOPNOTSUPP`), so this module
//! owns the tun character-device side: creating persistent taps, and
//! attaching to an existing tap as one of its queues to read the frames the
//! kernel transmits to it and to inject frames as if the tap received them.
//! Everything happens in the network namespace of the calling thread.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use crate::sys::{wait_readable, with_context as context};

const TUN_PATH: &str = "/dev/net/tun";

// ioctl numbers from <linux/if_tun.h>: _IOW('T', nr, int). The values assume
// the asm-generic ioctl encoding (x86, arm, arm64, riscv, ...).
const TUNSETIFF: u64 = 0x4004_54ca; // nr 202
const TUNSETPERSIST: u64 = 0x4004_54cb; // nr 203
const TUNSETOWNER: u64 = 0x4004_54cc; // nr 204
const TUNSETGROUP: u64 = 0x4004_54ce; // nr 206

// TUNSETIFF flags from <linux/if_tun.h>.
const IFF_TAP: i16 = 0x0002;
const IFF_NO_PI: i16 = 0x1000;
const IFF_VNET_HDR: i16 = 0x4000;
const IFF_MULTI_QUEUE: i16 = 0x0100;

/// IFNAMSIZ from <linux/if.h>, including the terminating NUL.
const IFNAMSIZ: usize = 16;
/// Big enough for any tap frame (max MTU 65535 minus header, plus a VLAN tag);
/// a read that fills it completely is treated as truncated.
const READ_BUF_LEN: usize = 65536 + 64;
/// Upper bound on frames discarded by one `drain` call.
const DRAIN_LIMIT: usize = 100_000;

/// How to create a persistent tap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TapOptions {
    /// Set IFF_VNET_HDR (what qemu/vhost-net expect).
    pub vnet_hdr: bool,
    /// Set IFF_MULTI_QUEUE; attachers must then also ask for multi-queue.
    pub multi_queue: bool,
    /// uid allowed to attach without CAP_NET_ADMIN.
    pub owner: Option<u32>,
    /// gid allowed to attach without CAP_NET_ADMIN.
    pub group: Option<u32>,
}

/// `struct ifreq` from <linux/if.h>: a name plus a 24-byte union, of which we
/// use `ifr_flags` (short) and `ifr_ifindex` (int), both at offset 0.
/// Aligned like the kernel's (the union holds a `struct ifmap` with longs).
#[repr(C, align(8))]
struct IfReq {
    name: [u8; IFNAMSIZ],
    ifru: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> io::Result<Self> {
        let name = validate_name(name)?.as_bytes();
        let mut req = IfReq {
            name: [0; IFNAMSIZ],
            ifru: [0; 24],
        };
        req.name[..name.len()].copy_from_slice(name); // NUL-terminated: len <= 15
        Ok(req)
    }

    fn set_flags(&mut self, flags: i16) {
        self.ifru[..2].copy_from_slice(&flags.to_ne_bytes());
    }

    fn ifindex(&self) -> i32 {
        i32::from_ne_bytes([self.ifru[0], self.ifru[1], self.ifru[2], self.ifru[3]])
    }
}

/// Create a persistent tap named `name` in the calling thread's netns and
/// return its ifindex. Fails with `AlreadyExists` if the name is taken.
/// The tun fd is closed before returning; the tap stays (persist flag).
pub fn create_persistent(name: &str, opts: &TapOptions) -> io::Result<u32> {
    let ctx = |e: io::Error| context(e, &format!("create tap {name}"));
    validate_name(name).map_err(ctx)?;
    // TUNSETIFF on an existing tap would silently attach to it instead.
    if ifindex(name).is_ok() {
        let e = io::Error::new(io::ErrorKind::AlreadyExists, "interface already exists");
        return Err(ctx(e));
    }
    let mut flags = IFF_TAP | IFF_NO_PI;
    if opts.vnet_hdr {
        flags |= IFF_VNET_HDR;
    }
    if opts.multi_queue {
        flags |= IFF_MULTI_QUEUE;
    }
    let tun = open_tun(false).map_err(ctx)?;
    set_iff(&tun, name, flags).map_err(ctx)?;
    if let Some(uid) = opts.owner {
        ioctl_value(&tun, TUNSETOWNER, uid.into()).map_err(ctx)?;
    }
    if let Some(gid) = opts.group {
        ioctl_value(&tun, TUNSETGROUP, gid.into()).map_err(ctx)?;
    }
    // Persist last: if anything above failed, closing the fd removes the tap.
    ioctl_value(&tun, TUNSETPERSIST, 1).map_err(ctx)?;
    drop(tun);
    ifindex(name).map_err(ctx)
}

/// Interface index of `name` in the calling thread's netns. Uses an ioctl on
/// a socket, not /sys, because /sys reflects the netns of its mount.
fn ifindex(name: &str) -> io::Result<u32> {
    let mut req = IfReq::new(name)?;
    // SAFETY: plain syscall with constant arguments.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: SIOCGIFINDEX reads and writes one struct ifreq; `req` is a live,
    // correctly sized and aligned IfReq.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX as _, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(req.ifindex() as u32)
}

/// An open queue of an existing tap. While it is open the tap has carrier.
/// Reading yields frames the kernel transmits to the tap; writing injects a
/// frame as if the tap had received it. Closed on drop.
#[derive(Debug)]
pub struct TapHandle {
    file: File,
    name: String,
}

impl TapHandle {
    /// Attach to the existing tap `name` (IFF_TAP|IFF_NO_PI, plus
    /// IFF_MULTI_QUEUE if `multi_queue`; it must match how the tap was made).
    /// The tap's vnet_hdr flag is cleared while attached — attaching sets the
    /// tap's feature flags — so reads and writes are plain Ethernet frames.
    pub fn attach(name: &str, multi_queue: bool) -> io::Result<Self> {
        let ctx = |e: io::Error| context(e, &format!("attach to tap {name}"));
        validate_name(name).map_err(ctx)?;
        // TUNSETIFF with an unknown name would create a throwaway tap.
        if let Err(e) = ifindex(name) {
            let kind = if e.raw_os_error() == Some(libc::ENODEV) {
                io::ErrorKind::NotFound
            } else {
                e.kind()
            };
            return Err(ctx(io::Error::new(
                kind,
                format!("no such interface ({e})"),
            )));
        }
        let mut flags = IFF_TAP | IFF_NO_PI;
        if multi_queue {
            flags |= IFF_MULTI_QUEUE;
        }
        let file = open_tun(true).map_err(ctx)?;
        set_iff(&file, name, flags).map_err(|e| explain_attach_error(e, name, multi_queue))?;
        Ok(Self {
            file,
            name: name.to_owned(),
        })
    }

    /// Inject one complete Ethernet frame as if received by the tap.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let n = (&self.file)
            .write(frame)
            .map_err(|e| self.context(e, "write to"))?;
        if n != frame.len() {
            let e = io::Error::other(format!("short write: {n} of {} bytes", frame.len()));
            return Err(self.context(e, "write to"));
        }
        Ok(())
    }

    /// Next frame the kernel transmitted to the tap, waiting at most until
    /// `deadline`; `Ok(None)` on timeout. VLAN tags are already inline.
    pub fn recv_until(&self, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; READ_BUF_LEN];
        loop {
            match (&self.file).read(&mut buf) {
                Ok(n) if n == buf.len() => {
                    let e = io::Error::new(io::ErrorKind::InvalidData, "frame truncated");
                    return Err(self.context(e, "read from"));
                }
                Ok(n) => return Ok(Some(buf[..n].to_vec())),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let ready = wait_readable(self.file.as_fd(), deadline)
                        .map_err(|e| self.context(e, "poll"))?;
                    if !ready {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(self.context(e, "read from")),
            }
        }
    }

    /// Discard frames already queued (non-blocking), so a test starts clean.
    pub fn drain(&self) {
        let mut buf = vec![0u8; READ_BUF_LEN];
        for _ in 0..DRAIN_LIMIT {
            match (&self.file).read(&mut buf) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    fn context(&self, e: io::Error, what: &str) -> io::Error {
        context(e, &format!("{what} tap {}", self.name))
    }
}

/// Turn TUNSETIFF failures on an existing tap into messages a user can act on.
fn explain_attach_error(e: io::Error, name: &str, multi_queue: bool) -> io::Error {
    let msg = match e.raw_os_error() {
        Some(libc::EBUSY) => format!(
            "tap {name} is attached to another process (e.g. qemu); \
             a single-queue tap can have only one user"
        ),
        Some(libc::EINVAL) => format!(
            "cannot attach to {name}: not a tap, or it was {}created multi-queue ({e})",
            if multi_queue { "not " } else { "" }
        ),
        _ => format!("attach to tap {name}: {e}"),
    };
    io::Error::new(e.kind(), msg)
}

fn validate_name(name: &str) -> io::Result<&str> {
    let bad = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name {name:?} {why}"),
        ))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() >= IFNAMSIZ {
        return bad("is longer than 15 bytes");
    }
    // NUL would truncate the name; '%' asks the kernel to pick a name for us.
    if name.bytes().any(|b| b == 0 || b == b'%') {
        return bad("contains NUL or '%'");
    }
    Ok(name)
}

fn open_tun(nonblocking: bool) -> io::Result<File> {
    let flags = if nonblocking { libc::O_NONBLOCK } else { 0 };
    // std opens with O_CLOEXEC already.
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(flags)
        .open(TUN_PATH)
        .map_err(|e| context(e, &format!("open {TUN_PATH}")))
}

fn set_iff(tun: &File, name: &str, flags: i16) -> io::Result<()> {
    let mut req = IfReq::new(name)?;
    req.set_flags(flags);
    // SAFETY: TUNSETIFF reads and writes one struct ifreq; `req` is a live,
    // correctly sized and aligned IfReq, and the fd is an open tun device.
    let rc = unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF as _, &mut req) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// ioctls whose argument is passed by value (persist flag, uid, gid).
fn ioctl_value(tun: &File, request: u64, value: libc::c_ulong) -> io::Result<()> {
    // SAFETY: these tun ioctls take an integer argument, not a pointer, so
    // the kernel dereferences nothing; the fd is an open tun device.
    let rc = unsafe { libc::ioctl(tun.as_raw_fd(), request as _, value) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::c_int;
    use std::mem;

    #[test]
    #[allow(clippy::unnecessary_cast)] // libc::Ioctl is c_ulong on glibc, c_int on musl
    fn ioctl_numbers_match_libc() {
        assert_eq!(TUNSETIFF, libc::TUNSETIFF as u64);
        assert_eq!(TUNSETPERSIST, libc::TUNSETPERSIST as u64);
        assert_eq!(TUNSETOWNER, libc::TUNSETOWNER as u64);
        assert_eq!(TUNSETGROUP, libc::TUNSETGROUP as u64);
        assert_eq!(IFF_TAP as c_int, libc::IFF_TAP);
        assert_eq!(IFF_NO_PI as c_int, libc::IFF_NO_PI);
        assert_eq!(IFF_VNET_HDR as c_int, libc::IFF_VNET_HDR);
        assert_eq!(IFF_MULTI_QUEUE as c_int, libc::IFF_MULTI_QUEUE);
    }

    #[test]
    fn ifreq_is_kernel_sized() {
        assert_eq!(mem::size_of::<IfReq>(), 40);
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_name("").is_err());
        assert!(validate_name("0123456789abcdef").is_err()); // 16 bytes
        assert!(validate_name("0123456789abcde").is_ok()); // 15 bytes
        assert!(validate_name("tap%d").is_err());
        let e = create_persistent("this-name-is-too-long", &TapOptions::default()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("this-name-is-too-long"));
    }
}

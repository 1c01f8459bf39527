//! Raw Ethernet frame I/O on a single interface through an `AF_PACKET` socket.
//!
//! This module owns the packet socket: opening it bound to one ifindex (in
//! the network namespace of the calling thread), transmitting complete
//! frames, and receiving frames that *arrived* at the interface with their
//! outermost VLAN tag put back, so the returned bytes equal the wire bytes.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use libc::c_int;

use crate::sys::{set_int_opt, wait_readable, with_context};

// Constants from <linux/if_ether.h>, <linux/if_packet.h> and
// <asm-generic/socket.h>; not all of them are exported by the libc crate.
const ETH_P_ALL: u16 = 0x0003;
const PACKET_AUXDATA: c_int = 8;
const PACKET_IGNORE_OUTGOING: c_int = 23;
const PACKET_OUTGOING: u8 = 4;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const SO_RCVBUFFORCE: c_int = 33;

/// Largest frame we accept; anything bigger is reported as truncated.
const RECV_BUF_LEN: usize = 65536;
/// Receive buffer size: large enough that a burst of jumbo probes is not dropped.
const RCVBUF_BYTES: c_int = 4 << 20;
/// Upper bound on frames discarded by one `drain` call (keeps the loop bounded).
const DRAIN_LIMIT: usize = 100_000;
/// Offset of the ethertype / VLAN tag: right after destination and source MAC.
const MAC_ADDRS_LEN: usize = 12;

/// `struct tpacket_auxdata` from <linux/if_packet.h>.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

/// An `AF_PACKET`/`SOCK_RAW` socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

/// What one non-blocking receive attempt produced.
enum Recv {
    Frame(Vec<u8>),
    /// A frame was consumed but is not one we report (e.g. outgoing).
    Skipped,
    WouldBlock,
}

impl PacketSocket {
    /// `AF_PACKET` `SOCK_RAW` socket for all protocols, bound to `ifindex`, with
    /// `PACKET_AUXDATA` enabled, created in the netns of the calling thread.
    pub fn open(ifindex: u32) -> io::Result<Self> {
        let ctx = |e: io::Error| with_context(e, &format!("packet socket on ifindex {ifindex}"));
        let ifindex_c = c_int::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))
            .map_err(ctx)?;
        // Protocol 0 at creation: the socket receives nothing until bind()
        // sets ETH_P_ALL together with the ifindex, so frames from other
        // interfaces can never be queued in the window before bind.
        // SAFETY: plain syscall with constant arguments; no pointers involved.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(ctx(io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a freshly created, valid descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        set_int_opt(fd.as_fd(), libc::SOL_PACKET, PACKET_AUXDATA, 1).map_err(ctx)?;
        // Outgoing copies are filtered in recv anyway; this just avoids
        // queueing them (kernel >= 4.20), so failure is harmless.
        let _ = set_int_opt(fd.as_fd(), libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
        // FORCE needs CAP_NET_ADMIN and bypasses rmem_max; plain SO_RCVBUF is
        // capped by rmem_max but is the best an unprivileged caller can do.
        if set_int_opt(fd.as_fd(), libc::SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_BYTES).is_err() {
            set_int_opt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF_BYTES)
                .map_err(ctx)?;
        }
        bind_to_ifindex(&fd, ifindex_c).map_err(ctx)?;
        Ok(Self { fd, ifindex })
    }

    /// Transmit one complete Ethernet frame (destination MAC first) out of the
    /// interface. Inline 802.1Q/802.1ad tags are sent as they are. The kernel
    /// refuses (EMSGSIZE) frames longer than 14 + MTU, or 18 + MTU when the
    /// outer tag is 802.1Q.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: the pointer/length pair describes `frame`, which stays
        // borrowed for the duration of the call; the fd is open.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(self.context(io::Error::last_os_error(), "send"));
        }
        if n as usize != frame.len() {
            let e = io::Error::other(format!("short send: {n} of {} bytes", frame.len()));
            return Err(self.context(e, "send"));
        }
        Ok(())
    }

    /// Receive the next frame that arrived at the interface (outgoing frames
    /// are skipped), waiting at most until `deadline`; `Ok(None)` on timeout.
    /// The outermost VLAN tag, which the kernel moves into metadata, is
    /// re-inserted so the bytes equal what was on the wire.
    pub fn recv_until(&self, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; RECV_BUF_LEN];
        loop {
            match self.try_recv(&mut buf)? {
                Recv::Frame(frame) => return Ok(Some(frame)),
                Recv::Skipped if Instant::now() >= deadline => return Ok(None),
                Recv::Skipped => {}
                Recv::WouldBlock => {
                    let ready = wait_readable(self.fd.as_fd(), deadline)
                        .map_err(|e| self.context(e, "poll"))?;
                    if !ready {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Discard everything already queued (non-blocking), so a test starts clean.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        for _ in 0..DRAIN_LIMIT {
            // SAFETY: `buf` is a valid writable buffer of the given length;
            // MSG_TRUNC only changes the return value, never writes beyond it.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
    }

    /// One non-blocking `recvmsg`, with the auxdata VLAN tag re-inserted.
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Recv> {
        // SAFETY: all-zero is a valid bit pattern for these plain C structs.
        let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
        // u64 array so the control buffer is aligned for `cmsghdr`.
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: as above, msghdr is a plain C struct.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&raw mut addr).cast();
        msg.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = mem::size_of_val(&control) as _;

        let flags = libc::MSG_DONTWAIT | libc::MSG_TRUNC;
        // SAFETY: every pointer in `msg` refers to a live local (`addr`,
        // `iov` -> `buf`, `control`) with the length stated next to it.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, flags) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(Recv::WouldBlock),
                io::ErrorKind::Interrupted => Ok(Recv::Skipped),
                _ => Err(self.context(e, "recv")),
            };
        }
        // Bound to one ifindex, so the second check is only defensive.
        if addr.sll_pkttype == PACKET_OUTGOING || addr.sll_ifindex as u32 != self.ifindex {
            return Ok(Recv::Skipped);
        }
        let len = n as usize;
        if len > buf.len() {
            let e = io::Error::new(
                io::ErrorKind::InvalidData,
                format!("frame of {len} bytes truncated to {}", buf.len()),
            );
            return Err(self.context(e, "recv"));
        }
        let mut frame = buf[..len].to_vec();
        if let Some(tag) = vlan_tag(&msg)
            && frame.len() >= MAC_ADDRS_LEN
        {
            frame.splice(MAC_ADDRS_LEN..MAC_ADDRS_LEN, tag);
        }
        Ok(Recv::Frame(frame))
    }

    fn context(&self, e: io::Error, what: &str) -> io::Error {
        with_context(e, &format!("{what} on ifindex {}", self.ifindex))
    }
}

/// The 4-byte outer VLAN tag the kernel stripped, if the auxdata says so.
fn vlan_tag(msg: &libc::msghdr) -> Option<[u8; 4]> {
    let aux = find_auxdata(msg)?;
    if aux.tp_status & TP_STATUS_VLAN_VALID == 0 {
        return None;
    }
    // Older kernels do not report the TPID; 802.1Q is then the only option.
    let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
        aux.tp_vlan_tpid
    } else {
        0x8100
    };
    let [t0, t1] = tpid.to_be_bytes();
    let [c0, c1] = aux.tp_vlan_tci.to_be_bytes();
    Some([t0, t1, c0, c1])
}

/// Walk the control messages of a completed `recvmsg` for `PACKET_AUXDATA`.
fn find_auxdata(msg: &libc::msghdr) -> Option<TpacketAuxdata> {
    // SAFETY: `msg` was filled by a successful recvmsg and its control
    // buffer is still alive, so the CMSG_* macros walk valid, kernel-written
    // headers and stop at msg_controllen. The payload is read unaligned and
    // only when the cmsg is long enough to hold a whole TpacketAuxdata.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let hdr = &*cmsg;
            let data_len = (hdr.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            if hdr.cmsg_level == libc::SOL_PACKET
                && hdr.cmsg_type == PACKET_AUXDATA
                && data_len >= mem::size_of::<TpacketAuxdata>()
            {
                let data = libc::CMSG_DATA(cmsg).cast::<TpacketAuxdata>();
                return Some(data.read_unaligned());
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

pub(crate) fn bind_to_ifindex(fd: &OwnedFd, ifindex: c_int) -> io::Result<()> {
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETH_P_ALL.to_be(); // network byte order
    addr.sll_ifindex = ifindex;
    // SAFETY: `addr` is a valid sockaddr_ll and the length matches its type.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auxdata_layout_matches_kernel() {
        // struct tpacket_auxdata is 3 x u32 + 4 x u16 = 20 bytes.
        assert_eq!(mem::size_of::<TpacketAuxdata>(), 20);
    }

    #[test]
    fn control_buffer_fits_auxdata() {
        // SAFETY: CMSG_SPACE is a pure size computation.
        let need = unsafe { libc::CMSG_SPACE(mem::size_of::<TpacketAuxdata>() as u32) } as usize;
        assert!(need <= mem::size_of::<[u64; 16]>());
    }
}

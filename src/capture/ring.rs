//! One interface's capture: an `AF_PACKET` socket with a TPACKET_V3 receive ring (mmap), so
//! the kernel writes frames straight into memory shared with us and hands them over a block
//! at a time — no system call per frame.
//!
//! Each frame comes with its direction (`sll_pkttype`: PACKET_OUTGOING is a frame the
//! interface sent) and, when the kernel moved an 802.1Q/802.1ad tag into metadata, the tag,
//! which [`Frame::bytes_on_wire`] puts back so the capture holds the frame as it was on the
//! cable.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{Ordering, fence};

use libc::c_int;

use crate::bpf::classic::SockFilter;
use crate::packet::bind_to_ifindex;
use crate::sys::{set_int_opt, setsockopt};

const PACKET_ADD_MEMBERSHIP: c_int = 1;
const PACKET_RX_RING: c_int = 5;
const PACKET_STATISTICS: c_int = 6;
const PACKET_VERSION: c_int = 10;
const TPACKET_V3: c_int = 2;
const PACKET_MR_PROMISC: u16 = 1;
const SO_ATTACH_FILTER: c_int = 26;

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const PACKET_OUTGOING: u8 = 4;

/// Ring geometry: blocks of 1 MiB (the kernel hands a block over when it is full or
/// `RETIRE_MS` after its first frame, so a live stream never waits longer; longer would mean
/// fewer wake-ups at low rates, but a live Wireshark lagging behind). The ring's size is `-B`
/// (8 MiB unless given); below 4 MiB, four smaller blocks.
const BLOCK_SIZE: u32 = 1 << 20;
const FRAME_SIZE: u32 = 1 << 11;
const RETIRE_MS: u32 = 50;
/// The ring size when none is given, in MiB (dumpcap's -B unit).
pub const DEFAULT_BUFFER_MIB: u32 = 8;
/// How long, at most, the kernel keeps a partly filled block: the retire timer runs every
/// `RETIRE_MS` and retires a block it saw active at its previous run.
pub const RETIRE_AT_MOST: std::time::Duration =
    std::time::Duration::from_millis(2 * RETIRE_MS as u64 + 20);

/// (block size, block count) for a ring of `mib` MiB.
fn geometry(mib: u32) -> (u32, u32) {
    match mib {
        0..4 => (mib.max(1) * BLOCK_SIZE / 4, 4),
        _ => (BLOCK_SIZE, mib),
    }
}

/// `struct tpacket_req3`.
#[repr(C)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

/// `struct tpacket_block_desc` with its `tpacket_hdr_v1` (the timestamps are left out: only
/// the fields read are named, at their kernel offsets).
#[repr(C)]
struct BlockDesc {
    version: u32,
    offset_to_priv: u32,
    block_status: u32,
    num_pkts: u32,
    offset_to_first_pkt: u32,
}

/// `struct tpacket3_hdr`.
#[repr(C)]
struct Tpacket3Hdr {
    tp_next_offset: u32,
    tp_sec: u32,
    tp_nsec: u32,
    tp_snaplen: u32,
    tp_len: u32,
    tp_status: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_rxhash: u32,
    tp_vlan_tci: u32,
    tp_vlan_tpid: u16,
    tp_padding: u16,
    tp_padding2: [u8; 8],
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    packets: u32,
    drops: u32,
    freeze_q_cnt: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// One captured frame, borrowed from the ring until the block is released.
pub struct Frame<'r> {
    /// Nanoseconds since the epoch.
    pub timestamp_ns: u64,
    /// Length on the wire, the restored tag included.
    pub original_len: u32,
    /// Sent by the interface (PACKET_OUTGOING) rather than received.
    pub outbound: bool,
    /// `sll_pkttype`: 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 outgoing.
    pub packet_type: u8,
    /// The frame's bytes as captured (up to the snap length), tag not yet restored.
    data: &'r [u8],
    /// The tag the kernel held in metadata (TPID, TCI), if any.
    tag: Option<(u16, u16)>,
}

impl Frame<'_> {
    /// The frame as it was on the cable, at most `snaplen` bytes, as up to three slices: a tag
    /// the kernel moved into metadata goes back after the MAC addresses (`tag` holds its bytes).
    pub fn parts<'f>(&'f self, snaplen: usize, tag: &'f mut [u8; 4]) -> [&'f [u8]; 3] {
        let (head, tag, rest): (&[u8], &[u8], &[u8]) = match self.tag {
            Some((tpid, tci)) if self.data.len() >= 12 => {
                tag[..2].copy_from_slice(&tpid.to_be_bytes());
                tag[2..].copy_from_slice(&tci.to_be_bytes());
                let (head, rest) = self.data.split_at(12);
                (head, &tag[..], rest)
            }
            // No tag, or too little of the frame captured to put one back.
            _ => (self.data, &[], &[]),
        };
        let head = &head[..head.len().min(snaplen)];
        let tag = &tag[..tag.len().min(snaplen - head.len())];
        let rest = &rest[..rest.len().min(snaplen - head.len() - tag.len())];
        [head, tag, rest]
    }

    /// Appends the frame as it was on the cable, at most `snaplen` bytes, to `out`.
    pub fn append_on_wire(&self, snaplen: usize, out: &mut Vec<u8>) {
        let mut tag = [0; 4];
        for part in self.parts(snaplen, &mut tag) {
            out.extend_from_slice(part);
        }
    }
}

/// A TPACKET_V3 ring on one interface.
pub struct Ring {
    fd: OwnedFd,
    map: NonNull<u8>,
    map_len: usize,
    block_size: u32,
    block_count: u32,
    ifindex: c_int,
    next_block: u32,
    /// Frames the kernel passed to the socket and frames it dropped (ring full), summed over
    /// every PACKET_STATISTICS read (each read resets the kernel's counters).
    pub received: u64,
    /// See `received`.
    pub dropped: u64,
}

// SAFETY: the ring's memory is only touched through &mut self; moving the owner to another
// thread moves the only access to it.
unsafe impl Send for Ring {}

impl Ring {
    /// Opens a ring of `buffer_mib` MiB for `ifindex` in the calling thread's namespace; it
    /// receives nothing until [`Ring::start`] (so several rings start together). `filter`
    /// (classic BPF) is attached before the socket is bound, so no unfiltered frame is ever
    /// queued; `promiscuous` asks the interface for every frame (undone when the socket closes).
    pub fn open(
        ifindex: u32,
        filter: Option<&[SockFilter]>,
        promiscuous: bool,
        buffer_mib: u32,
    ) -> io::Result<Ring> {
        let (block_size, block_count) = geometry(buffer_mib);
        // SAFETY: plain syscall; protocol 0 receives nothing until bind.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        set_int_opt(fd.as_fd(), libc::SOL_PACKET, PACKET_VERSION, TPACKET_V3)?;
        let request = TpacketReq3 {
            block_size,
            block_nr: block_count,
            frame_size: FRAME_SIZE,
            frame_nr: block_size / FRAME_SIZE * block_count,
            retire_blk_tov: RETIRE_MS,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        // SAFETY: a tpacket_req3, which holds no pointer.
        unsafe { setsockopt(fd.as_fd(), libc::SOL_PACKET, PACKET_RX_RING, &request)? };
        let map_len = block_size as usize * block_count as usize;
        // SAFETY: maps the ring the kernel just allocated for this socket; checked below.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut ring = Ring {
            fd,
            map: NonNull::new(map.cast()).expect("mmap never returns null on success"),
            map_len,
            block_size,
            block_count,
            ifindex: 0,
            next_block: 0,
            received: 0,
            dropped: 0,
        };
        if let Some(filter) = filter {
            let program = SockFprog {
                len: u16::try_from(filter.len()).map_err(|_| {
                    io::Error::other("the filter is longer than 65535 instructions")
                })?,
                filter: filter.as_ptr(),
            };
            // SAFETY: a sock_fprog whose instructions (`filter`) outlive the call; the kernel
            // copies them.
            unsafe {
                setsockopt(
                    ring.fd.as_fd(),
                    libc::SOL_SOCKET,
                    SO_ATTACH_FILTER,
                    &program,
                )?
            };
        }
        let ifindex =
            c_int::try_from(ifindex).map_err(|_| io::Error::other("ifindex out of range"))?;
        if promiscuous {
            // struct packet_mreq: ifindex, type, alen, address[8].
            #[repr(C)]
            struct PacketMreq {
                ifindex: c_int,
                kind: u16,
                alen: u16,
                address: [u8; 8],
            }
            let request = PacketMreq {
                ifindex,
                kind: PACKET_MR_PROMISC,
                alen: 0,
                address: [0; 8],
            };
            // SAFETY: a packet_mreq, which holds no pointer.
            unsafe {
                setsockopt(
                    ring.fd.as_fd(),
                    libc::SOL_PACKET,
                    PACKET_ADD_MEMBERSHIP,
                    &request,
                )?
            };
        }
        ring.ifindex = ifindex;
        Ok(ring)
    }

    /// Starts receiving (binds the socket to its interface). Callable from any thread: the
    /// socket stays in the namespace it was made in.
    pub fn start(&self) -> io::Result<()> {
        bind_to_ifindex(&self.fd, self.ifindex)
    }

    /// Whether the interface is gone: deleted, or moved to another namespace. The kernel then
    /// unbinds the socket (its `sll_ifindex` becomes -1); it never binds it again, even to a
    /// new interface of the same name.
    pub fn gone(&self) -> bool {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `addr`.
        let rc =
            unsafe { libc::getsockname(self.fd.as_raw_fd(), (&raw mut addr).cast(), &mut len) };
        rc == 0 && addr.sll_ifindex != self.ifindex
    }

    /// Whether the block the kernel is filling holds frames not handed over yet (they come
    /// within [`RETIRE_AT_MOST`]).
    pub fn pending(&self) -> bool {
        let offset = self.next_block as usize * self.block_size as usize;
        // SAFETY: the offset is inside the mapping; the block descriptor sits at its start.
        let desc = unsafe { self.map.as_ptr().add(offset) }.cast::<BlockDesc>();
        // SAFETY: a live descriptor in shared memory the kernel writes: read volatile, and only
        // to learn whether frames are there (they are read once the block is ours).
        let (status, count) = unsafe {
            (
                std::ptr::addr_of!((*desc).block_status).read_volatile(),
                std::ptr::addr_of!((*desc).num_pkts).read_volatile(),
            )
        };
        status & TP_STATUS_USER != 0 || count > 0
    }

    /// Clears the socket's pending error, if any: the kernel sets ENETDOWN when the interface
    /// is down at bind time or goes down later, and until it is read every poll() reports
    /// POLLERR at once (a capture would spin). Frames flow again when the interface is back up.
    pub fn clear_error(&self) -> Option<io::Error> {
        let mut error: c_int = 0;
        let mut len = mem::size_of::<c_int>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `error`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut error).cast(),
                &mut len,
            )
        };
        (rc == 0 && error != 0).then(|| io::Error::from_raw_os_error(error))
    }

    /// The descriptor to poll for POLLIN.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Hands every frame of every block the kernel has finished to `each`, then gives the
    /// blocks back. Returns how many frames there were.
    pub fn drain(&mut self, mut each: impl FnMut(&Frame<'_>)) -> usize {
        let mut frames = 0;
        let block_size = self.block_size as usize;
        for _ in 0..self.block_count {
            let offset = self.next_block as usize * block_size;
            // SAFETY: the offset is inside the mapping; the block descriptor sits at the start
            // of each block.
            let block = unsafe { self.map.as_ptr().add(offset) };
            let desc = block.cast::<BlockDesc>();
            // SAFETY: `desc` points at a live descriptor; the kernel writes block_status, so
            // it is read volatile and ordered before the block's contents.
            let status = unsafe { std::ptr::addr_of!((*desc).block_status).read_volatile() };
            if status & TP_STATUS_USER == 0 {
                break;
            }
            fence(Ordering::Acquire);
            // SAFETY: the block is ours (TP_STATUS_USER) until we write TP_STATUS_KERNEL.
            let (count, first) = unsafe { ((*desc).num_pkts, (*desc).offset_to_first_pkt) };
            let mut at = first as usize;
            for _ in 0..count {
                if at + mem::size_of::<Tpacket3Hdr>() > block_size {
                    break;
                }
                // SAFETY: `at` stays inside the block (checked above); the kernel wrote a
                // tpacket3_hdr there.
                let header = unsafe { &*block.add(at).cast::<Tpacket3Hdr>() };
                let sll_at = at + tpacket_align(mem::size_of::<Tpacket3Hdr>());
                // SAFETY: the sockaddr_ll follows the aligned header inside the frame slot.
                let packet_type = unsafe { *block.add(sll_at + 10) };
                let data_at = at + header.tp_mac as usize;
                let len = header.tp_snaplen as usize;
                if data_at + len > block_size {
                    break;
                }
                // SAFETY: [data_at, data_at + len) lies inside the block (checked above).
                let data = unsafe { std::slice::from_raw_parts(block.add(data_at), len) };
                let tag = (header.tp_status & TP_STATUS_VLAN_VALID != 0).then(|| {
                    let tpid = match header.tp_status & TP_STATUS_VLAN_TPID_VALID {
                        0 => 0x8100,
                        _ => header.tp_vlan_tpid,
                    };
                    (tpid, header.tp_vlan_tci as u16)
                });
                let frame = Frame {
                    timestamp_ns: u64::from(header.tp_sec) * 1_000_000_000
                        + u64::from(header.tp_nsec),
                    original_len: header.tp_len + if tag.is_some() { 4 } else { 0 },
                    outbound: packet_type == PACKET_OUTGOING,
                    packet_type,
                    data,
                    tag,
                };
                each(&frame);
                frames += 1;
                if header.tp_next_offset == 0 {
                    break;
                }
                at += header.tp_next_offset as usize;
            }
            fence(Ordering::Release);
            // SAFETY: returning the block to the kernel; nothing borrowed from it outlives
            // this iteration (`each` got only a borrow).
            unsafe {
                std::ptr::addr_of_mut!((*desc).block_status).write_volatile(TP_STATUS_KERNEL)
            };
            self.next_block = (self.next_block + 1) % self.block_count;
        }
        frames
    }

    /// Adds the kernel's counters since the last read to `received` and `dropped`.
    pub fn update_statistics(&mut self) -> io::Result<()> {
        let mut stats = TpacketStatsV3::default();
        let mut len = mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `stats`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_STATISTICS,
                (&raw mut stats).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // tp_packets counts every frame that reached the socket, dropped ones included.
        self.received += u64::from(stats.packets);
        self.dropped += u64::from(stats.drops);
        Ok(())
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `open`; no borrow of it outlives `drain`.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}

fn tpacket_align(len: usize) -> usize {
    (len + 15) & !15
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_struct_layouts() {
        assert_eq!(mem::size_of::<TpacketReq3>(), 28);
        assert_eq!(mem::size_of::<Tpacket3Hdr>(), 48);
        assert_eq!(tpacket_align(48), 48);
        assert_eq!(mem::size_of::<SockFilter>(), 8);
        assert_eq!(mem::size_of::<TpacketStatsV3>(), 12);
    }

    #[test]
    fn ring_geometry_follows_the_buffer_size() {
        assert_eq!(geometry(DEFAULT_BUFFER_MIB), (1 << 20, 8));
        assert_eq!(geometry(1), (256 << 10, 4));
        assert_eq!(geometry(3), (768 << 10, 4));
        assert_eq!(geometry(4), (1 << 20, 4));
        assert_eq!(geometry(64), (1 << 20, 64));
        for mib in 1..10 {
            let (size, count) = geometry(mib);
            assert_eq!(u64::from(size) * u64::from(count), u64::from(mib) << 20);
            assert_eq!(size % FRAME_SIZE, 0);
        }
    }

    #[test]
    fn tags_are_put_back_after_the_mac_addresses() {
        let data = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x08, 0x00, 0x45];
        let frame = Frame {
            timestamp_ns: 0,
            original_len: 19,
            outbound: false,
            packet_type: 0,
            data: &data,
            tag: Some((0x8100, 100)),
        };
        let mut out = Vec::new();
        frame.append_on_wire(1500, &mut out);
        assert_eq!(out[12..18], [0x81, 0x00, 0x00, 100, 0x08, 0x00]);
        assert_eq!(out.len(), 19);
        out.clear();
        frame.append_on_wire(14, &mut out);
        assert_eq!(out, [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x81, 0x00]);
        let untagged = Frame { tag: None, ..frame };
        out.clear();
        untagged.append_on_wire(13, &mut out);
        assert_eq!(out, data[..13]);
    }
}

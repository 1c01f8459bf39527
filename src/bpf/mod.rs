//! Tiny eBPF tc programs built at run time from raw instructions (no compiler), loaded with
//! bpf(2) and attached as cls_bpf direct-action filters over netlink.
//!
//! With direct-action the program's return value *is* the tc verdict: [`TC_ACT_UNSPEC`] lets
//! the next filter (for instance a wire's u32 mirred at pref 20567) classify the frame,
//! [`TC_ACT_REDIRECT`] hands it to the target chosen by `bpf_redirect`, [`TC_ACT_OK`] accepts it.
//! The kernel keeps a program alive while a filter uses it, so a [`Program`] may be dropped once
//! attached. Remove such a filter with [`crate::nl::tc::delete_filters_at`].
//!
//! Classic BPF lives here too: the instruction type and its translation to eBPF ([`classic`]),
//! and tcpdump expressions compiled by libpcap ([`pcap`]) — capture, mirrors and lab checks use
//! them.

pub mod asm;
pub mod classic;
pub mod insn;
pub mod map;
pub mod pcap;

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{
    TcAttribute, TcBpfFlags, TcFilterBpfOption, TcHandle, TcMessage, TcOption,
};

use crate::nl::link::IfIndex;
use crate::nl::{NlError, RouteSocket, errno_text};
use insn::{AluOp, Insn, JmpOp, R0, R1, R2, R3, R6, Size};

/// tc verdicts (linux/pkt_cls.h) a direct-action program returns.
pub const TC_ACT_UNSPEC: i32 = -1;
/// Accept the frame as it is: no later filter classifies it.
pub const TC_ACT_OK: i32 = 0;
/// Hand the frame to the target set by `bpf_redirect` (or `bpf_redirect_peer`).
pub const TC_ACT_REDIRECT: i32 = 7;

/// Helper ids (enum bpf_func_id in linux/bpf.h).
pub const BPF_FUNC_CLONE_REDIRECT: i32 = 13;
/// `bpf_redirect(ifindex, flags)`: once the program returns TC_ACT_REDIRECT, the frame leaves
/// `ifindex` (or, with [`BPF_F_INGRESS`], arrives on it).
pub const BPF_FUNC_REDIRECT: i32 = 23;
/// `bpf_map_lookup_elem(map, key)`: a pointer to the value stored under `key`, or NULL.
pub const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;
/// `bpf_redirect_peer(ifindex, flags)`: the frame arrives on the peer of veth `ifindex`, in the
/// peer's namespace, without passing the veth's transmit path (from tc ingress only).
pub const BPF_FUNC_REDIRECT_PEER: i32 = 155;
/// Redirect flag: deliver to the target's ingress instead of transmitting from it.
pub const BPF_F_INGRESS: i32 = 1;

/// Offsets in `struct __sk_buff` (linux/bpf.h): len 0, pkt_type 4, mark 8, queue_mapping 12,
/// protocol 16, vlan_present 20, vlan_tci 24, vlan_proto 28, ... (all u32).
pub const SKB_VLAN_PRESENT: i16 = 20;
/// Offset of `vlan_tci`: the outer tag's PCP, DEI and VLAN ID (meaningful when `vlan_present` is
/// non-zero).
pub const SKB_VLAN_TCI: i16 = 24;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
/// BPF_OBJ_NAME_LEN, NUL included.
const OBJ_NAME_LEN: usize = 16;
/// Verifier log buffer for the diagnostic second attempt after a refusal.
const LOG_SIZE: usize = 64 * 1024;
/// bpf(BPF_PROG_LOAD) may answer EAGAIN (or be interrupted); retried this many times at most.
const LOAD_ATTEMPTS: usize = 5;
/// Some helpers (bpf_clone_redirect among them) are GPL-only.
const LICENSE: &[u8] = b"GPL\0";

/// Why a program could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BpfError {
    /// The program name is not 1 to 15 characters from A-Z a-z 0-9 _ .
    #[error("BPF program name {0:?}: 1 to 15 characters from A-Z a-z 0-9 _ .")]
    InvalidName(String),
    /// bpf(BPF_PROG_LOAD) failed; `log` is the verifier's explanation (may be empty).
    #[error(
        "loading BPF program {name:?}: {}{}",
        errno_text(*errno),
        if log.is_empty() { String::new() } else { format!("; verifier log:\n{log}") }
    )]
    Load {
        /// The program's name.
        name: String,
        /// The errno bpf(2) returned.
        errno: i32,
        /// The verifier's log; empty when it gave none.
        log: String,
    },
}

/// A loaded BPF_PROG_TYPE_SCHED_CLS program (its file descriptor).
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
}

impl AsFd for Program {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Program {
    /// Loads a tc classifier program. `name` (up to 15 of `[A-Za-z0-9_.]`) is what
    /// `bpftool prog` shows. When the kernel refuses, the load is repeated with the verifier
    /// log enabled and the log becomes part of the error (a first attempt without a log keeps
    /// successful loads from failing on a log that does not fit).
    pub fn load_sched_cls(insns: &[Insn], name: &str) -> Result<Program, BpfError> {
        let prog_name = object_name(name)?;
        let code = insn::to_bytes(insns);
        let load = |log: Option<&mut [u8]>| prog_load(&code, insns.len(), prog_name, log);
        match load(None) {
            Ok(fd) => Ok(Program { fd }),
            Err(_) => {
                let mut log = vec![0u8; LOG_SIZE];
                match load(Some(&mut log)) {
                    Ok(fd) => Ok(Program { fd }),
                    Err(errno) => Err(BpfError::Load {
                        name: name.to_string(),
                        errno,
                        log: log_text(&log),
                    }),
                }
            }
        }
    }
}

/// The BPF_PROG_LOAD member of `union bpf_attr`, field for field, zero-padded. The kernel
/// accepts a shorter attr than its own as long as what it does not know is zero.
#[repr(C, align(8))]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; OBJ_NAME_LEN],
    prog_ifindex: u32,
    expected_attach_type: u32,
    /// prog_btf_fd, func_info, line_info, attach_btf_id, ...: all unused, all zero.
    reserved: [u8; 56],
}

/// One BPF_PROG_LOAD (retrying EAGAIN/EINTR a bounded number of times); the errno on failure.
fn prog_load(
    code: &[u8],
    insn_cnt: usize,
    prog_name: [u8; OBJ_NAME_LEN],
    log: Option<&mut [u8]>,
) -> Result<OwnedFd, i32> {
    let insn_cnt = u32::try_from(insn_cnt).map_err(|_| libc::E2BIG)?;
    let (log_level, log_size, log_buf) = match log {
        // The kernel wants at least 128 bytes and less than 2^30 (UINT_MAX >> 2).
        Some(buf) => (1, buf.len() as u32, buf.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SCHED_CLS,
        insn_cnt,
        insns: code.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
        prog_ifindex: 0,
        expected_attach_type: 0,
        reserved: [0; 56],
    };
    let mut errno = libc::EAGAIN;
    for _ in 0..LOAD_ATTEMPTS {
        // SAFETY: `attr` is a fully initialised PROG_LOAD attr of the size passed; the pointers
        // in it (code, LICENSE, the log buffer) refer to memory that outlives the call, and the
        // log buffer is writable for `log_size` bytes. The kernel only writes into the log.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_LOAD,
                &raw const attr,
                std::mem::size_of::<ProgLoadAttr>(),
            )
        };
        if rc >= 0 {
            // SAFETY: on success bpf() returns a new file descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(rc as i32) });
        }
        errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if errno != libc::EAGAIN && errno != libc::EINTR {
            break;
        }
    }
    Err(errno)
}

/// `name` as a NUL-terminated BPF object name, checked the way the kernel checks it.
fn object_name(name: &str) -> Result<[u8; OBJ_NAME_LEN], BpfError> {
    let valid = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.';
    if name.is_empty() || name.len() >= OBJ_NAME_LEN || !name.bytes().all(|b| valid(&b)) {
        return Err(BpfError::InvalidName(name.to_string()));
    }
    let mut out = [0u8; OBJ_NAME_LEN];
    out[..name.len()].copy_from_slice(name.as_bytes());
    Ok(out)
}

fn log_text(log: &[u8]) -> String {
    let text = log.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(text).trim_end().to_string()
}

/// `bpf_redirect(ifindex, flags)` and return its verdict (TC_ACT_REDIRECT): the frame goes out
/// of `ifindex`, or into it when `ingress`.
pub fn redirect_to(ifindex: IfIndex, ingress: bool) -> Vec<Insn> {
    vec![
        insn::mov64_imm(R1, ifindex.0 as i32),
        insn::mov64_imm(R2, if ingress { BPF_F_INGRESS } else { 0 }),
        insn::call(BPF_FUNC_REDIRECT),
        insn::exit(),
    ]
}

/// `__sk_buff.ifindex`: the interface the frame is on (at tc ingress, the one it arrived at).
const SKB_IFINDEX: i16 = 40;
/// tc verdict: drop.
const TC_ACT_SHOT: i32 = 2;

/// The layout of a [`wire_by_ingress`] map value: target ifindex (u32), flags (u32: 1 =
/// `bpf_redirect_peer`), then the per-CPU counters packets (u64) and frame bytes (u64).
pub const WIRE_VALUE_SIZE: u32 = 24;

/// The value of a wire direction in a [`wire_by_ingress`] map, counters at zero.
pub fn wire_value(to: IfIndex, peer: bool) -> [u8; WIRE_VALUE_SIZE as usize] {
    let mut value = [0u8; WIRE_VALUE_SIZE as usize];
    value[..4].copy_from_slice(&to.0.to_ne_bytes());
    set_wire_peer(&mut value, peer);
    value
}

/// Whether a [`wire_by_ingress`] map value sends frames with `bpf_redirect_peer` (its mode
/// word, read by the program on every frame).
pub fn wire_peer(value: &[u8]) -> bool {
    value
        .get(4..8)
        .is_some_and(|w| u32::from_ne_bytes(w.try_into().expect("4 bytes")) != 0)
}

/// Sets the mode word of a [`wire_by_ingress`] map value: `bpf_redirect_peer` or plain
/// `bpf_redirect`. The program never writes that word, so changing it in place
/// ([`map::Map::modify_all_cpus`]) switches the path of the very next frame, with no
/// re-attach and nothing dropped.
pub fn set_wire_peer(value: &mut [u8], peer: bool) {
    value[4..8].copy_from_slice(&u32::from(peer).to_ne_bytes());
}

/// Every eBPF wire direction of one operation as one program: the per-CPU hash `wires`, keyed
/// by the ifindex a frame arrived at, says where it goes (see [`wire_value`]); the program
/// counts the frame there and redirects it — `bpf_redirect`, or `bpf_redirect_peer` when the
/// flags say so. A frame on an interface the map does not know is dropped (a wire that is
/// not there any more passes nothing). One program and one map for a thousand wires instead
/// of a thousand of each: each load costs verifier time, executable memory and a page of
/// program memory.
pub fn wire_by_ingress(wires: BorrowedFd<'_>) -> Vec<Insn> {
    use asm::Asm;
    use insn::R7;
    let mut asm = Asm::new();
    let (unknown, peer) = (asm.label(), asm.label());
    asm.push(insn::mov64_reg(R6, R1));
    asm.push(insn::ldx_mem(Size::W, R2, R6, SKB_IFINDEX));
    asm.push(insn::stx_mem(Size::W, insn::R10, R2, -4));
    asm.push(insn::mov64_reg(R2, insn::R10));
    asm.push(insn::alu64_imm(AluOp::Add, R2, -4));
    for part in insn::ld_map_fd(R1, wires.as_raw_fd()) {
        asm.push(part);
    }
    asm.push(insn::call(BPF_FUNC_MAP_LOOKUP_ELEM));
    asm.jump_if(JmpOp::Jeq, R0, 0, unknown);
    asm.push(insn::ldx_mem(Size::DW, R1, R0, 8));
    asm.push(insn::alu64_imm(AluOp::Add, R1, 1));
    asm.push(insn::stx_mem(Size::DW, R0, R1, 8));
    asm.push(insn::ldx_mem(Size::W, R2, R6, 0));
    asm.push(insn::ldx_mem(Size::DW, R1, R0, 16));
    asm.push(insn::alu64_reg(AluOp::Add, R1, R2));
    asm.push(insn::stx_mem(Size::DW, R0, R1, 16));
    asm.push(insn::ldx_mem(Size::W, R7, R0, 4));
    asm.push(insn::ldx_mem(Size::W, R1, R0, 0));
    asm.push(insn::mov64_imm(R2, 0));
    asm.jump_if(JmpOp::Jne, R7, 0, peer);
    asm.push(insn::call(BPF_FUNC_REDIRECT));
    asm.push(insn::exit());
    asm.bind(peer);
    asm.push(insn::call(BPF_FUNC_REDIRECT_PEER));
    asm.push(insn::exit());
    asm.bind(unknown);
    asm.push(insn::mov64_imm(R0, TC_ACT_SHOT));
    asm.push(insn::exit());
    asm.finish()
}

/// If the frame carries a VLAN tag (the kernel has moved the outer tag into skb metadata by
/// the time tc sees it) whose VLAN ID is one of `vids`, send a copy out of `ifindex`
/// (`bpf_clone_redirect`). Always returns TC_ACT_UNSPEC, so the original continues to the next
/// filter. IDs above 4095 cannot occur and are ignored; an empty list clones nothing.
pub fn clone_to_if_vlan(ifindex: IfIndex, vids: &[u16]) -> Vec<Insn> {
    let mut vids: Vec<i32> = vids
        .iter()
        .filter(|vid| **vid <= 0x0fff)
        .map(|vid| i32::from(*vid))
        .collect();
    vids.sort_unstable();
    vids.dedup();
    let finish = [insn::mov64_imm(R0, TC_ACT_UNSPEC), insn::exit()];
    let Some((last, others)) = vids.split_last() else {
        return finish.to_vec();
    };
    let clone = [
        insn::mov64_reg(R1, R6),
        insn::mov64_imm(R2, ifindex.0 as i32),
        insn::mov64_imm(R3, 0),
        insn::call(BPF_FUNC_CLONE_REDIRECT),
    ];
    // Layout: prologue (5), one JEQ per other VID, a JNE for the last, clone block, finish.
    let prologue = 5;
    let clone_at = prologue + others.len() + 1;
    let finish_at = clone_at + clone.len();
    // A jump at index `at` lands on `at + 1 + off`. At most 4096 VIDs: offsets fit in i16.
    let jump = |at: usize, target: usize| (target - at - 1) as i16;

    let mut program = vec![
        insn::mov64_reg(R6, R1),
        insn::ldx_mem(Size::W, R2, R6, SKB_VLAN_PRESENT),
        insn::jmp_imm(JmpOp::Jeq, R2, 0, jump(2, finish_at)),
        insn::ldx_mem(Size::W, R2, R6, SKB_VLAN_TCI),
        insn::alu64_imm(AluOp::And, R2, 0x0fff),
    ];
    for vid in others {
        let at = program.len();
        program.push(insn::jmp_imm(JmpOp::Jeq, R2, *vid, jump(at, clone_at)));
    }
    let at = program.len();
    program.push(insn::jmp_imm(JmpOp::Jne, R2, *last, jump(at, finish_at)));
    program.extend(clone);
    program.extend(finish);
    program
}

/// The RTM_NEWTFILTER for `tc filter add dev IF PARENT pref PRIO protocol all bpf fd FD name
/// NAME direct-action` (create, exclusive).
pub fn cls_bpf_filter(
    ifindex: IfIndex,
    parent: TcHandle,
    prio: u16,
    program: BorrowedFd<'_>,
    name: &str,
) -> (RouteNetlinkMessage, u16) {
    let protocol_all = (libc::ETH_P_ALL as u16).to_be();
    let mut message = TcMessage::default();
    message.header.index = ifindex.0 as i32;
    message.header.parent = parent;
    message.header.info = (u32::from(prio) << 16) | u32::from(protocol_all);
    message.attributes = vec![
        TcAttribute::Kind("bpf".into()),
        TcAttribute::Options(vec![
            TcOption::Bpf(TcFilterBpfOption::ProgFd(program.as_raw_fd() as u32)),
            TcOption::Bpf(TcFilterBpfOption::ProgName(name.into())),
            TcOption::Bpf(TcFilterBpfOption::Flags(TcBpfFlags::DirectAction)),
        ]),
    ];
    (
        RouteNetlinkMessage::NewTrafficFilter(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// Attaches `program` as a direct-action cls_bpf filter at `parent` (e.g.
/// [`crate::nl::tc::INGRESS_PARENT`] of a clsact qdisc) and priority `prio` of `ifindex`, in the
/// namespace of `socket`. Fails with EEXIST if a filter already sits at that priority.
pub fn attach_cls_bpf(
    socket: &mut RouteSocket,
    ifindex: IfIndex,
    parent: TcHandle,
    prio: u16,
    program: &Program,
    name: &str,
) -> Result<(), NlError> {
    let (message, flags) = cls_bpf_filter(ifindex, parent, prio, program.as_fd(), name);
    socket.request(message, flags).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn prog_load_attr_has_the_kernel_layout() {
        assert_eq!(size_of::<ProgLoadAttr>(), 128);
        assert_eq!(offset_of!(ProgLoadAttr, insn_cnt), 4);
        assert_eq!(offset_of!(ProgLoadAttr, insns), 8);
        assert_eq!(offset_of!(ProgLoadAttr, license), 16);
        assert_eq!(offset_of!(ProgLoadAttr, log_level), 24);
        assert_eq!(offset_of!(ProgLoadAttr, log_size), 28);
        assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(offset_of!(ProgLoadAttr, kern_version), 40);
        assert_eq!(offset_of!(ProgLoadAttr, prog_flags), 44);
        assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(offset_of!(ProgLoadAttr, prog_ifindex), 64);
        assert_eq!(offset_of!(ProgLoadAttr, expected_attach_type), 68);
    }

    #[test]
    fn object_names_follow_kernel_rules() {
        assert_eq!(&object_name("pw_mirror.1").unwrap()[..12], b"pw_mirror.1\0");
        assert!(object_name("fifteen_chars_x").is_ok());
        for bad in ["", "sixteen_chars_xx", "has space", "dash-ed"] {
            assert_eq!(
                object_name(bad),
                Err(BpfError::InvalidName(bad.to_string()))
            );
        }
    }

    #[test]
    fn load_error_shows_errno_and_verifier_log() {
        let e = BpfError::Load {
            name: "x".into(),
            errno: libc::EACCES,
            log: "0: R2 !read_ok".into(),
        };
        assert_eq!(
            e.to_string(),
            "loading BPF program \"x\": Permission denied; verifier log:\n0: R2 !read_ok"
        );
        assert_eq!(log_text(b"line\n\0garbage"), "line");
    }

    /// Runs the instruction subset the builders use against a fake `__sk_buff`; returns the
    /// verdict and the helper calls made (id, r1, r2, r3).
    fn run(program: &[Insn], vlan: Option<u16>) -> (i32, Vec<(i32, u64, u64, u64)>) {
        const CTX: u64 = 0xc7c7_0000;
        let mut r = [0u64; 11];
        r[1] = CTX;
        let mut calls = Vec::new();
        let mut pc = 0usize;
        for _ in 0..100_000 {
            let i = program[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                0xb7 => r[dst] = i.imm as i64 as u64,
                0xbf => r[dst] = r[src],
                0x57 => r[dst] &= i.imm as i64 as u64,
                0x61 => {
                    assert_eq!(r[src], CTX, "loads only from the context");
                    r[dst] = match i.off {
                        SKB_VLAN_PRESENT => u64::from(vlan.is_some()),
                        SKB_VLAN_TCI => u64::from(vlan.unwrap_or(0)),
                        other => panic!("unexpected __sk_buff offset {other}"),
                    };
                }
                0x15 | 0x55 => {
                    let equal = r[dst] == i.imm as i64 as u64;
                    if equal == (i.code == 0x15) {
                        pc = (pc as isize + isize::from(i.off)) as usize;
                    }
                }
                0x85 => {
                    calls.push((i.imm, r[1], r[2], r[3]));
                    r[0] = 0;
                }
                0x95 => return (r[0] as i32, calls),
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
        panic!("program did not exit");
    }

    #[test]
    fn redirect_to_calls_bpf_redirect_and_returns_its_verdict() {
        let (_, calls) = run(&redirect_to(IfIndex(7), false), None);
        assert_eq!(calls, [(BPF_FUNC_REDIRECT, 7, 0, 0)]);
        let (_, calls) = run(&redirect_to(IfIndex(7), true), None);
        assert_eq!(calls, [(BPF_FUNC_REDIRECT, 7, 1, 0)]);
        assert_eq!(redirect_to(IfIndex(7), false).last(), Some(&insn::exit()));
    }

    #[test]
    fn clone_to_if_vlan_clones_only_listed_vids() {
        let ctx = 0xc7c7_0000;
        let program = clone_to_if_vlan(IfIndex(9), &[300, 100, 100, 5000]);
        let cloned = vec![(BPF_FUNC_CLONE_REDIRECT, ctx, 9, 0)];
        // The priority bits (and DEI) of the TCI do not matter, only the VID.
        for tci in [100, 300, 0xe064, 0x112c] {
            assert_eq!(run(&program, Some(tci)), (TC_ACT_UNSPEC, cloned.clone()));
        }
        for vlan in [None, Some(0), Some(200), Some(5000 & 0xfff), Some(101)] {
            assert_eq!(run(&program, vlan), (TC_ACT_UNSPEC, vec![]), "{vlan:?}");
        }
    }

    #[test]
    fn clone_to_if_vlan_single_and_empty_lists() {
        let program = clone_to_if_vlan(IfIndex(3), &[0]);
        // VID 0 (priority tag) is a VID like any other; untagged is not.
        assert_eq!(run(&program, Some(0x2000)).1.len(), 1);
        assert!(run(&program, None).1.is_empty());
        assert_eq!(
            clone_to_if_vlan(IfIndex(3), &[]),
            [insn::mov64_imm(R0, TC_ACT_UNSPEC), insn::exit()]
        );
        // All 4096 VIDs: jump offsets still fit.
        let all: Vec<u16> = (0..=0x0fff).collect();
        let program = clone_to_if_vlan(IfIndex(3), &all);
        assert_eq!(run(&program, Some(0x0fff)).1.len(), 1);
        assert!(run(&program, None).1.is_empty());
    }

    #[test]
    fn cls_bpf_filter_message() {
        let fd = std::fs::File::open("/dev/null").unwrap();
        let (message, flags) = cls_bpf_filter(
            IfIndex(4),
            crate::nl::tc::INGRESS_PARENT,
            10,
            fd.as_fd(),
            "pw_clone",
        );
        assert_eq!(flags, NLM_F_CREATE | NLM_F_EXCL);
        let RouteNetlinkMessage::NewTrafficFilter(tc) = message else {
            panic!()
        };
        assert_eq!(tc.header.index, 4);
        assert_eq!(u32::from(tc.header.parent), 0xffff_fff2);
        assert_eq!(
            tc.header.info,
            (10 << 16) | u32::from(u16::from_ne_bytes([0x00, 0x03]))
        );
        assert_eq!(tc.attributes[0], TcAttribute::Kind("bpf".into()));
        let TcAttribute::Options(options) = &tc.attributes[1] else {
            panic!()
        };
        assert!(options.contains(&TcOption::Bpf(TcFilterBpfOption::ProgFd(
            fd.as_raw_fd() as u32
        ))));
        assert!(options.contains(&TcOption::Bpf(TcFilterBpfOption::Flags(
            TcBpfFlags::DirectAction
        ))));
    }
}

//! The mirror's eBPF programs, assembled at run time.
//!
//! * The **copy classifier** (cls_bpf without direct-action) decides whether a frame is
//!   selected: it returns -1 ("match": the filter's mirred action copies the frame, counted and
//!   cookied) or 0 ("no match"). With `--vlan` it compares the outer VLAN ID; with
//!   `--output-vlan` it also pushes the RSPAN tag on a selected frame, so the copy carries it,
//!   and notes that in `skb->cb[0]`.
//! * The **pop** program (direct-action, at the next priority) takes the RSPAN tag off the
//!   original again when cb[0] says it was pushed, and lets the frame go on (TC_ACT_UNSPEC).
//!   The classifier writes cb[0] on every frame, so the pop never trusts a stale value.

use crate::bpf::TC_ACT_UNSPEC;
use crate::bpf::asm::Asm;
use crate::bpf::insn::{self, AluOp, Insn, JmpOp, R0, R1, R2, R3, R4, R6, R10, Size};

use super::spec::VlanSet;
use crate::bpf::classic::SockFilter;

// Helper ids (enum bpf_func_id in linux/bpf.h).
const BPF_FUNC_SKB_VLAN_PUSH: i32 = 18;
const BPF_FUNC_SKB_VLAN_POP: i32 = 19;
const BPF_FUNC_SKB_LOAD_BYTES: i32 = 26;

/// `__sk_buff` offsets (linux/bpf.h).
const SKB_VLAN_PRESENT: i16 = crate::bpf::SKB_VLAN_PRESENT;
const SKB_VLAN_TCI: i16 = crate::bpf::SKB_VLAN_TCI;
/// `cb[0]`: scratch space shared by the filters of one classification pass.
const SKB_CB0: i16 = 48;
/// What cb[0] holds after the classifier pushed an RSPAN tag ("PWMR").
const PUSHED_MARK: i32 = 0x5057_4d52;

/// ETH_P_8021Q and ETH_P_8021AD as a little-endian load of their network-order bytes sees them.
const TPID_8021Q_LOADED: i32 = 0x0081;
const TPID_8021AD_LOADED: i32 = 0xa888;
/// `bpf_skb_vlan_push` takes the TPID in network byte order.
const TPID_8021Q_BE: i32 = (0x8100u16).to_be() as i32;

/// Classifier verdicts without direct-action.
const MATCH: i32 = -1;
const NO_MATCH: i32 = 0;

/// The copy classifier for a mirror (see the module docs). `filter` (classic BPF from libpcap,
/// a `--filter` expression) decides first; frames it rejects are not copied.
pub fn copy_classifier(
    vlans: Option<&VlanSet>,
    output_vlan: Option<u16>,
    filter: Option<&[SockFilter]>,
) -> Result<Vec<Insn>, String> {
    if vlans.is_none() && output_vlan.is_none() && filter.is_none() {
        // The verifier refuses unreachable instructions: no "no match" branch here.
        return Ok(vec![insn::mov64_imm(R0, MATCH), insn::exit()]);
    }
    let mut asm = Asm::new();
    let selected = asm.label();
    let no_match = asm.label();
    asm.push(insn::mov64_reg(R6, R1));
    if output_vlan.is_some() {
        asm.push(insn::mov64_imm(R2, 0));
        asm.push(insn::stx_mem(Size::W, R6, R2, SKB_CB0));
    }
    if let Some(filter) = filter {
        let passed = asm.label();
        crate::bpf::classic::translate(filter, &mut asm, no_match, passed)?;
        asm.bind(passed);
    }
    if let Some(vlans) = vlans {
        outer_vid_to_r2(&mut asm, no_match);
        for &(lo, hi) in vlans.ranges() {
            if lo == hi {
                asm.jump_if(JmpOp::Jeq, R2, i32::from(lo), selected);
            } else {
                let next = asm.label();
                asm.jump_if(JmpOp::Jlt, R2, i32::from(lo), next);
                asm.jump_if(JmpOp::Jle, R2, i32::from(hi), selected);
                asm.bind(next);
            }
        }
        asm.goto(no_match);
    }
    asm.bind(selected);
    if let Some(tag) = output_vlan {
        asm.push(insn::mov64_reg(R1, R6));
        asm.push(insn::mov64_imm(R2, TPID_8021Q_BE));
        asm.push(insn::mov64_imm(R3, i32::from(tag)));
        asm.push(insn::call(BPF_FUNC_SKB_VLAN_PUSH));
        // A frame that cannot take the tag (out of memory) is not copied at all.
        asm.jump_if(JmpOp::Jne, R0, 0, no_match);
        asm.push(insn::mov64_imm(R2, PUSHED_MARK));
        asm.push(insn::stx_mem(Size::W, R6, R2, SKB_CB0));
    }
    asm.push(insn::mov64_imm(R0, MATCH));
    asm.push(insn::exit());
    asm.bind(no_match);
    asm.push(insn::mov64_imm(R0, NO_MATCH));
    asm.push(insn::exit());
    Ok(asm.finish())
}

/// Loads the outer VLAN ID into R2, or jumps to `untagged`. At ingress the kernel has already
/// moved the outer tag into skb metadata; at egress a tag may still be in the bytes (a frame a
/// packet socket or the stack wrote tagged), so both places are looked at. 802.1ad (QinQ)
/// outer tags count like 802.1Q ones.
fn outer_vid_to_r2(asm: &mut Asm, untagged: crate::bpf::asm::Label) {
    let in_bytes = asm.label();
    let have_tci = asm.label();
    let tagged = asm.label();
    asm.push(insn::ldx_mem(Size::W, R2, R6, SKB_VLAN_PRESENT));
    asm.jump_if(JmpOp::Jeq, R2, 0, in_bytes);
    asm.push(insn::ldx_mem(Size::W, R2, R6, SKB_VLAN_TCI));
    asm.goto(have_tci);

    asm.bind(in_bytes);
    // bpf_skb_load_bytes(skb, 12, fp - 8, 4): the TPID and TCI after the two MAC addresses.
    asm.push(insn::mov64_reg(R1, R6));
    asm.push(insn::mov64_imm(R2, 12));
    asm.push(insn::mov64_reg(R3, R10));
    asm.push(insn::alu64_imm(AluOp::Add, R3, -8));
    asm.push(insn::mov64_imm(R4, 4));
    asm.push(insn::call(BPF_FUNC_SKB_LOAD_BYTES));
    asm.jump_if(JmpOp::Jne, R0, 0, untagged);
    asm.push(insn::ldx_mem(Size::H, R2, R10, -8));
    asm.jump_if(JmpOp::Jeq, R2, TPID_8021Q_LOADED, tagged);
    asm.jump_if(JmpOp::Jne, R2, TPID_8021AD_LOADED, untagged);
    asm.bind(tagged);
    // TCI in network order: high byte at fp-6, low byte at fp-5.
    asm.push(insn::ldx_mem(Size::B, R2, R10, -6));
    asm.push(insn::alu64_imm(AluOp::Lsh, R2, 8));
    asm.push(insn::ldx_mem(Size::B, R3, R10, -5));
    asm.push(insn::alu64_reg(AluOp::Or, R2, R3));

    asm.bind(have_tci);
    asm.push(insn::alu64_imm(AluOp::And, R2, 0x0fff));
}

/// The direct-action program that removes the RSPAN tag the classifier pushed.
pub fn pop_pushed_tag() -> Vec<Insn> {
    let mut asm = Asm::new();
    let done = asm.label();
    asm.push(insn::mov64_reg(R6, R1));
    asm.push(insn::ldx_mem(Size::W, R2, R6, SKB_CB0));
    asm.jump_if(JmpOp::Jne, R2, PUSHED_MARK, done);
    asm.push(insn::mov64_imm(R2, 0));
    asm.push(insn::stx_mem(Size::W, R6, R2, SKB_CB0));
    asm.push(insn::mov64_reg(R1, R6));
    asm.push(insn::call(BPF_FUNC_SKB_VLAN_POP));
    asm.bind(done);
    asm.push(insn::mov64_imm(R0, TC_ACT_UNSPEC));
    asm.push(insn::exit());
    asm.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as the programs see it: metadata tag, bytes 12..16 of the packet, cb[0].
    #[derive(Clone, Copy)]
    struct Skb {
        tci_meta: Option<u16>,
        bytes_12_16: [u8; 4],
        cb0: u32,
    }

    const UNTAGGED: [u8; 4] = [0x08, 0x00, 0x45, 0x00];

    /// Interprets the instruction subset the builders emit. Returns the verdict, the helper
    /// calls (id, r2, r3) and cb[0] afterwards.
    fn run(program: &[Insn], mut skb: Skb) -> (i32, Vec<(i32, u64, u64)>, u32) {
        const CTX: u64 = 0x1000_0000;
        const FP: u64 = 0x2000_0000;
        let mut stack = [0u8; 8];
        let mut r = [0u64; 11];
        r[1] = CTX;
        r[10] = FP;
        let mut calls = Vec::new();
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let i = program[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            pc += 1;
            let jump = |pc: usize| (pc as isize + isize::from(i.off)) as usize;
            match i.code {
                0xb7 => r[dst] = imm,
                0xbf => r[dst] = r[src],
                0x07 => r[dst] = r[dst].wrapping_add(imm),
                0x57 => r[dst] &= imm,
                0x67 => r[dst] <<= imm,
                0x4f => r[dst] |= r[src],
                0x61 if r[src] == CTX => {
                    r[dst] = match i.off {
                        SKB_VLAN_PRESENT => u64::from(skb.tci_meta.is_some()),
                        SKB_VLAN_TCI => u64::from(skb.tci_meta.unwrap_or(0)),
                        SKB_CB0 => u64::from(skb.cb0),
                        other => panic!("unexpected __sk_buff offset {other}"),
                    }
                }
                0x63 if r[dst] == CTX && i.off == SKB_CB0 => skb.cb0 = r[src] as u32,
                0x69 | 0x71 => {
                    let at = (r[src] as i64 + i64::from(i.off) - (FP as i64 - 8)) as usize;
                    r[dst] = match i.code {
                        0x69 => u64::from(u16::from_le_bytes([stack[at], stack[at + 1]])),
                        _ => u64::from(stack[at]),
                    };
                }
                0x05 => pc = jump(pc),
                0x15 | 0x55 | 0xa5 | 0xb5 => {
                    let taken = match i.code {
                        0x15 => r[dst] == imm,
                        0x55 => r[dst] != imm,
                        0xa5 => r[dst] < imm,
                        _ => r[dst] <= imm,
                    };
                    if taken {
                        pc = jump(pc);
                    }
                }
                0x85 => {
                    calls.push((i.imm, r[2], r[3]));
                    r[0] = 0;
                    if i.imm == BPF_FUNC_SKB_LOAD_BYTES {
                        assert_eq!((r[2], r[3], r[4]), (12, FP - 8, 4));
                        stack[..4].copy_from_slice(&skb.bytes_12_16);
                    }
                }
                0x95 => return (r[0] as i32, calls, skb.cb0),
                other => panic!("unexpected opcode {other:#x} at {}", pc - 1),
            }
        }
        panic!("program did not exit");
    }

    fn meta(tci: u16) -> Skb {
        Skb {
            tci_meta: Some(tci),
            bytes_12_16: UNTAGGED,
            cb0: 7,
        }
    }

    fn in_bytes(tpid: u16, tci: u16) -> Skb {
        let [a, b] = tpid.to_be_bytes();
        let [c, d] = tci.to_be_bytes();
        Skb {
            tci_meta: None,
            bytes_12_16: [a, b, c, d],
            cb0: 7,
        }
    }

    #[test]
    fn match_all_classifier_matches_everything() {
        let program = copy_classifier(None, None, None).unwrap();
        assert_eq!(run(&program, meta(5)).0, MATCH);
        assert_eq!(run(&program, in_bytes(0x0800, 0)).0, MATCH);
    }

    #[test]
    fn vlan_classifier_reads_metadata_and_bytes() {
        let set = VlanSet::parse("100,200-210").unwrap();
        let program = copy_classifier(Some(&set), None, None).unwrap();
        for skb in [
            meta(100),
            meta(0xe000 | 205),
            in_bytes(0x8100, 210),
            in_bytes(0x88a8, 0x2000 | 100),
        ] {
            assert_eq!(run(&program, skb).0, MATCH);
        }
        for skb in [
            meta(101),
            meta(199),
            meta(211),
            in_bytes(0x8100, 99),
            in_bytes(0x0800, 100),
            in_bytes(0x9100, 100),
        ] {
            assert_eq!(run(&program, skb).0, NO_MATCH);
        }
    }

    #[test]
    fn rspan_classifier_pushes_marks_and_pop_undoes() {
        let set = VlanSet::parse("100").unwrap();
        let program = copy_classifier(Some(&set), Some(999), None).unwrap();
        let (verdict, calls, cb0) = run(&program, meta(100));
        assert_eq!(verdict, MATCH);
        assert_eq!(calls, [(BPF_FUNC_SKB_VLAN_PUSH, 0x0081, 999)]);
        assert_eq!(cb0, PUSHED_MARK as u32);
        // Not selected: no push, and cb[0] cleared so the pop filter leaves it alone.
        let (verdict, calls, cb0) = run(&program, meta(7));
        assert_eq!((verdict, calls.len(), cb0), (NO_MATCH, 0, 0));

        let pop = pop_pushed_tag();
        let marked = Skb {
            cb0: PUSHED_MARK as u32,
            ..meta(999)
        };
        let (verdict, calls, cb0) = run(&pop, marked);
        assert_eq!((verdict, cb0), (TC_ACT_UNSPEC, 0));
        assert_eq!(
            calls.iter().map(|c| c.0).collect::<Vec<_>>(),
            [BPF_FUNC_SKB_VLAN_POP]
        );
        let (verdict, calls, _) = run(&pop, meta(999));
        assert_eq!((verdict, calls.len()), (TC_ACT_UNSPEC, 0));
    }
}

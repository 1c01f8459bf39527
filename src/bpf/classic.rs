//! Classic BPF — what libpcap compiles a tcpdump expression into — translated into eBPF, so a
//! capture filter can run inside patchwire's own tc programs (a filtered mirror's copy
//! classifier decides "copy or not" with it, then goes on with its VLAN selection).
//!
//! The mapping is the kernel's own (net/core/filter.c, bpf_convert_filter): A is R0, X is R7,
//! the scratch words M[0..15] live on the stack, packet loads become eBPF's LD_ABS/LD_IND (which
//! read from the MAC header at tc, and end the program with 0 — "no match" — when out of
//! bounds), the ancillary loads libpcap uses on Linux (VLAN tag in metadata, protocol, packet
//! type…) become `__sk_buff` field loads, and every ALU and jump works on 32 bits as in classic
//! BPF. The context must be in R6 (LD_ABS needs it there).

use super::asm::{Asm, Label};
use super::insn::{Insn, R0, R6, R7, R8, R10, Reg};

/// A classic BPF instruction (`struct sock_filter`), as libpcap compiles filters.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant.
    pub k: u32,
}

// Classic opcode fields (linux/filter.h); eBPF uses the same numbers for these.
const CLASS_LD: u16 = 0x00;
const CLASS_LDX: u16 = 0x01;
const CLASS_ST: u16 = 0x02;
const CLASS_STX: u16 = 0x03;
const CLASS_ALU: u16 = 0x04;
const CLASS_JMP: u16 = 0x05;
const CLASS_RET: u16 = 0x06;
const CLASS_MISC: u16 = 0x07;
const SIZE_W: u16 = 0x00;
const SIZE_H: u16 = 0x08;
const SIZE_B: u16 = 0x10;
const MODE_IMM: u16 = 0x00;
const MODE_ABS: u16 = 0x20;
const MODE_IND: u16 = 0x40;
const MODE_MEM: u16 = 0x60;
const MODE_LEN: u16 = 0x80;
const MODE_MSH: u16 = 0xa0;
const SRC_X: u16 = 0x08;
const ALU_NEG: u16 = 0x80;
const ALU_DIV: u16 = 0x30;
const ALU_MOD: u16 = 0x90;
const JMP_JA: u16 = 0x00;
const RVAL_K: u16 = 0x00;
const RVAL_X: u16 = 0x08;
const RVAL_A: u16 = 0x10;
const MISC_TAX: u16 = 0x00;
const MISC_TXA: u16 = 0x80;

// eBPF-only opcode parts.
const EBPF_ALU64: u8 = 0x07;
const EBPF_JMP32: u8 = 0x06;
const EBPF_LDX_W: u8 = 0x61;
const EBPF_STX_W: u8 = 0x63;
const EBPF_MOV: u8 = 0xb0;
/// BPF_ALU | BPF_END | BPF_TO_BE: byte-swap to network order (imm = width in bits).
const EBPF_END_TO_BE: u8 = 0xdc;
const EBPF_JNE: u8 = 0x50;

/// SKF_AD_OFF: classic loads at or above this offset read packet metadata, not bytes.
const ANCILLARY: u32 = 0xffff_f000;
/// `__sk_buff` offsets.
const SKB_LEN: i16 = 0;
const SKB_PKT_TYPE: i16 = 4;
const SKB_MARK: i16 = 8;
const SKB_QUEUE_MAPPING: i16 = 12;
const SKB_PROTOCOL: i16 = 16;
const SKB_VLAN_PRESENT: i16 = 20;
const SKB_VLAN_TCI: i16 = 24;
const SKB_VLAN_PROTO: i16 = 28;
const SKB_IFINDEX: i16 = 40;
const SKB_HASH: i16 = 68;
/// Where M[0] is: 16 words below the frame pointer, under what other program parts use.
const SCRATCH: i16 = -128;

/// The accumulator, the index register and a spare, as the kernel maps them.
const A: Reg = R0;
const X: Reg = R7;
const TMP: Reg = R8;

fn alu32_imm(op: u8, dst: Reg, imm: i32) -> Insn {
    Insn::raw(CLASS_ALU as u8 | op, dst, R0, 0, imm)
}

fn alu32_reg(op: u8, dst: Reg, src: Reg) -> Insn {
    Insn::raw(CLASS_ALU as u8 | op | SRC_X as u8, dst, src, 0, 0)
}

fn mov64(dst: Reg, src: Reg) -> Insn {
    Insn::raw(EBPF_ALU64 | EBPF_MOV | SRC_X as u8, dst, src, 0, 0)
}

fn mov32_imm(dst: Reg, imm: i32) -> Insn {
    Insn::raw(CLASS_ALU as u8 | EBPF_MOV, dst, R0, 0, imm)
}

fn ctx_field(dst: Reg, offset: i16) -> Insn {
    Insn::raw(EBPF_LDX_W, dst, R6, offset, 0)
}

/// Appends the translation of `program` to `asm`: frames it rejects (returns 0 for) jump to
/// `rejected`, frames it accepts to `accepted`. Refuses what cannot be translated, saying what.
pub fn translate(
    program: &[SockFilter],
    asm: &mut Asm,
    rejected: Label,
    accepted: Label,
) -> Result<(), String> {
    if program.is_empty() {
        return Err("the filter program is empty".into());
    }
    // BPF_MAXINSNS; also keeps every jump of the translation within eBPF's 16-bit offsets.
    if program.len() > 4096 {
        return Err(format!(
            "the filter program has {} instructions; at most 4096",
            program.len()
        ));
    }
    // A, X and the scratch words start at 0, as in classic BPF (and the verifier wants the
    // stack written before it is read).
    asm.push(mov32_imm(A, 0));
    asm.push(mov32_imm(X, 0));
    for word in 0..16 {
        asm.push(Insn::raw(EBPF_STX_W, R10, A, SCRATCH + 4 * word, 0));
    }
    let labels: Vec<Label> = (0..program.len()).map(|_| asm.label()).collect();
    let target = |from: usize, skip: usize| -> Result<Label, String> {
        labels
            .get(from + 1 + skip)
            .copied()
            .ok_or_else(|| format!("instruction {from} jumps past the end of the filter"))
    };
    for (i, instruction) in program.iter().enumerate() {
        asm.bind(labels[i]);
        let SockFilter { code, jt, jf, k } = *instruction;
        let class = code & 0x07;
        let unsupported =
            || format!("classic BPF opcode {code:#06x} (instruction {i}) is not supported");
        match class {
            CLASS_LD | CLASS_LDX => {
                let dst = if class == CLASS_LD { A } else { X };
                let size = code & 0x18;
                match code & 0xe0 {
                    MODE_IMM => {
                        asm.push(mov32_imm(dst, k as i32));
                    }
                    MODE_MEM if k < 16 => {
                        asm.push(Insn::raw(EBPF_LDX_W, dst, R10, SCRATCH + 4 * k as i16, 0));
                    }
                    MODE_LEN => {
                        asm.push(ctx_field(dst, SKB_LEN));
                    }
                    MODE_ABS if class == CLASS_LD && k >= ANCILLARY => {
                        ancillary(asm, k - ANCILLARY)?
                    }
                    MODE_ABS | MODE_IND if class == CLASS_LD => {
                        if ![SIZE_W, SIZE_H, SIZE_B].contains(&size) {
                            return Err(unsupported());
                        }
                        let src = if code & 0xe0 == MODE_IND { X } else { R0 };
                        asm.push(Insn::raw(code as u8, R0, src, 0, k as i32));
                    }
                    MODE_MSH if class == CLASS_LDX => {
                        // X = 4 * (P[k] & 0xf): the IPv4 header length. A survives.
                        asm.push(mov64(TMP, A));
                        asm.push(Insn::raw(
                            (CLASS_LD | MODE_ABS | SIZE_B) as u8,
                            R0,
                            R0,
                            0,
                            k as i32,
                        ));
                        asm.push(alu32_imm(0x50, R0, 0xf));
                        asm.push(alu32_imm(0x60, R0, 2));
                        asm.push(mov64(X, R0));
                        asm.push(mov64(A, TMP));
                    }
                    _ => return Err(unsupported()),
                }
            }
            CLASS_ST | CLASS_STX if k < 16 => {
                let src = if class == CLASS_ST { A } else { X };
                asm.push(Insn::raw(EBPF_STX_W, R10, src, SCRATCH + 4 * k as i16, 0));
            }
            CLASS_ALU if code & 0xf0 > 0xa0 => return Err(unsupported()),
            CLASS_ALU => {
                let op = (code & 0xf0) as u8;
                if code & 0xf0 == ALU_NEG {
                    asm.push(alu32_imm(op, A, 0));
                } else if code & SRC_X != 0 {
                    if code & 0xf0 == ALU_DIV || code & 0xf0 == ALU_MOD {
                        // Classic BPF ends the program with 0 on a division by zero.
                        asm.jump_to(Insn::raw(EBPF_JMP32 | 0x10, X, R0, 0, 0), rejected);
                    }
                    asm.push(alu32_reg(op, A, X));
                } else {
                    if (code & 0xf0 == ALU_DIV || code & 0xf0 == ALU_MOD) && k == 0 {
                        return Err(format!("instruction {i} divides by zero"));
                    }
                    asm.push(alu32_imm(op, A, k as i32));
                }
            }
            CLASS_JMP if code & 0xf0 == JMP_JA => {
                asm.goto(target(i, k as usize)?);
            }
            CLASS_JMP if code & 0xf0 > 0x40 => return Err(unsupported()),
            CLASS_JMP => {
                let op = (code & 0xf0) as u8;
                let (on_true, on_false) = (target(i, jt as usize)?, target(i, jf as usize)?);
                let compare = match code & SRC_X {
                    0 => Insn::raw(EBPF_JMP32 | op, A, R0, 0, k as i32),
                    _ => Insn::raw(EBPF_JMP32 | op | SRC_X as u8, A, X, 0, 0),
                };
                asm.jump_to(compare, on_true);
                asm.goto(on_false);
            }
            CLASS_RET => match code & 0x18 {
                RVAL_K => {
                    asm.goto(if k == 0 { rejected } else { accepted });
                }
                RVAL_A | RVAL_X => {
                    let register = if code & 0x18 == RVAL_A { A } else { X };
                    asm.jump_to(
                        Insn::raw(EBPF_JMP32 | EBPF_JNE, register, R0, 0, 0),
                        accepted,
                    );
                    asm.goto(rejected);
                }
                _ => return Err(unsupported()),
            },
            CLASS_MISC => match code & 0xf8 {
                MISC_TAX => {
                    asm.push(mov64(X, A));
                }
                MISC_TXA => {
                    asm.push(mov64(A, X));
                }
                _ => return Err(unsupported()),
            },
            _ => return Err(unsupported()),
        }
    }
    // A program that does not end in RET falls off its end, which classic BPF rejects. (After
    // a final RET the jump would be unreachable, which the verifier refuses.)
    if program
        .last()
        .is_some_and(|last| last.code & 0x07 != CLASS_RET)
    {
        asm.goto(rejected);
    }
    Ok(())
}

/// The ancillary loads (SKF_AD_*) as `__sk_buff` fields into A.
fn ancillary(asm: &mut Asm, which: u32) -> Result<(), String> {
    let (field, network_order) = match which {
        0 => (SKB_PROTOCOL, true),        // SKF_AD_PROTOCOL
        4 => (SKB_PKT_TYPE, false),       // SKF_AD_PKTTYPE
        8 => (SKB_IFINDEX, false),        // SKF_AD_IFINDEX
        20 => (SKB_MARK, false),          // SKF_AD_MARK
        24 => (SKB_QUEUE_MAPPING, false), // SKF_AD_QUEUE
        32 => (SKB_HASH, false),          // SKF_AD_RXHASH
        44 => (SKB_VLAN_TCI, false),      // SKF_AD_VLAN_TAG
        48 => (SKB_VLAN_PRESENT, false),  // SKF_AD_VLAN_TAG_PRESENT
        60 => (SKB_VLAN_PROTO, true),     // SKF_AD_VLAN_TPID
        other => {
            return Err(format!(
                "the filter uses BPF extension SKF_AD_OFF+{other}, which a mirror's program cannot read"
            ));
        }
    };
    asm.push(ctx_field(A, field));
    if network_order {
        asm.push(Insn::raw(EBPF_END_TO_BE, A, R0, 0, 16));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    #[test]
    fn every_classic_instruction_lands_on_its_own_label() {
        // "ether proto 0x8809" as libpcap compiles it.
        let program = [
            f(0x28, 0, 0, 12),
            f(0x15, 0, 1, 0x8809),
            f(0x06, 0, 0, 262144),
            f(0x06, 0, 0, 0),
        ];
        let mut asm = Asm::new();
        let (rejected, accepted) = (asm.label(), asm.label());
        translate(&program, &mut asm, rejected, accepted).unwrap();
        asm.bind(rejected);
        asm.push(crate::bpf::insn::exit());
        asm.bind(accepted);
        asm.push(crate::bpf::insn::exit());
        let insns = asm.finish();
        // 2 + 16 setup, then ldh, jeq + ja, ja, ja, and the two exits.
        assert_eq!(insns.len(), 18 + 1 + 2 + 1 + 1 + 2);
        assert_eq!(insns[18].code, 0x28, "LD_ABS|H carried over");
        assert_eq!(insns[19].code, EBPF_JMP32 | 0x10, "jeq on 32 bits");
    }

    #[test]
    fn what_cannot_be_translated_is_named() {
        let mut asm = Asm::new();
        let (rejected, accepted) = (asm.label(), asm.label());
        let error = translate(
            &[f(0x20, 0, 0, ANCILLARY + 56)],
            &mut asm,
            rejected,
            accepted,
        )
        .unwrap_err();
        assert!(error.contains("SKF_AD_OFF+56"), "{error}");
        let mut asm = Asm::new();
        let (rejected, accepted) = (asm.label(), asm.label());
        let error = translate(&[f(0x15, 5, 0, 1)], &mut asm, rejected, accepted).unwrap_err();
        assert!(error.contains("jumps past the end"), "{error}");
    }
}

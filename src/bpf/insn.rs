//! eBPF instructions, encoded by hand: just the handful of opcodes that tiny tc programs need.
//!
//! Encoding (include/uapi/linux/bpf.h, `struct bpf_insn`): one opcode byte (class | size or
//! operation | source), one byte of registers (destination in the low nibble, source in the
//! high nibble), a signed 16-bit offset and a signed 32-bit immediate, little-endian on the
//! little-endian machines this runs on (`to_bytes` always writes little-endian).

/// One 8-byte eBPF instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// The opcode: instruction class, then load size and mode, or operation and operand source.
    pub code: u8,
    /// Destination register in the low nibble, source register in the high nibble.
    pub regs: u8,
    /// Signed offset: of a memory access in bytes, or of a jump in instructions after this one.
    pub off: i16,
    /// Signed 32-bit immediate: an operand, a helper id, or half of a 64-bit load.
    pub imm: i32,
}

/// An eBPF register. R1..R5 carry helper arguments (R1 holds the context, the `__sk_buff`, on
/// entry), R0 the return value, R6..R9 survive helper calls, R10 is the read-only frame pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(u8);

/// The return value of helpers and of the program.
pub const R0: Reg = Reg(0);
/// First helper argument; the `__sk_buff` context on entry.
pub const R1: Reg = Reg(1);
/// Second helper argument.
pub const R2: Reg = Reg(2);
/// Third helper argument.
pub const R3: Reg = Reg(3);
/// Fourth helper argument.
pub const R4: Reg = Reg(4);
/// Fifth helper argument.
pub const R5: Reg = Reg(5);
/// Kept across helper calls.
pub const R6: Reg = Reg(6);
/// Kept across helper calls.
pub const R7: Reg = Reg(7);
/// Kept across helper calls.
pub const R8: Reg = Reg(8);
/// Kept across helper calls.
pub const R9: Reg = Reg(9);
/// The read-only frame pointer: the stack (512 bytes) lies below it.
pub const R10: Reg = Reg(10);

/// Width of a memory load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// 32 bits.
    W,
    /// 16 bits.
    H,
    /// 8 bits.
    B,
    /// 64 bits.
    DW,
}

/// 64-bit ALU operations with an immediate operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    /// `dst += operand`.
    Add,
    /// `dst &= operand`.
    And,
    /// `dst |= operand`.
    Or,
    /// `dst <<= operand`.
    Lsh,
    /// `dst >>= operand` (logical: zeros shifted in).
    Rsh,
}

/// Conditional jumps comparing a register with an immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JmpOp {
    /// `==`.
    Jeq,
    /// `!=`.
    Jne,
    /// Unsigned `>`.
    Jgt,
    /// Unsigned `>=`.
    Jge,
    /// Unsigned `<`.
    Jlt,
    /// Unsigned `<=`.
    Jle,
}

// Instruction classes.
const CLASS_LDX: u8 = 0x01;
const CLASS_STX: u8 = 0x03;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU64: u8 = 0x07;
// Load sizes and mode.
const SIZE_W: u8 = 0x00;
const SIZE_H: u8 = 0x08;
const SIZE_B: u8 = 0x10;
const SIZE_DW: u8 = 0x18;
const MODE_MEM: u8 = 0x60;
// Operand source: immediate (K) or register (X).
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;
// ALU and jump operations.
const ALU_ADD: u8 = 0x00;
const ALU_OR: u8 = 0x40;
const ALU_AND: u8 = 0x50;
const ALU_LSH: u8 = 0x60;
const ALU_RSH: u8 = 0x70;
const ALU_MOV: u8 = 0xb0;
const JMP_JA: u8 = 0x00;
const JMP_JEQ: u8 = 0x10;
const JMP_JGT: u8 = 0x20;
const JMP_JGE: u8 = 0x30;
const JMP_JNE: u8 = 0x50;
const JMP_JLT: u8 = 0xa0;
const JMP_JLE: u8 = 0xb0;
const JMP_CALL: u8 = 0x80;
const JMP_EXIT: u8 = 0x90;

impl Insn {
    /// Any instruction, from its fields (for translators that carry opcodes over as they are).
    pub const fn raw(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        Insn::new(code, dst, src, off, imm)
    }

    const fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src.0 << 4) | dst.0,
            off,
            imm,
        }
    }

    /// Its 8 bytes, little-endian.
    pub fn bytes(&self) -> [u8; 8] {
        let [o0, o1] = self.off.to_le_bytes();
        let [i0, i1, i2, i3] = self.imm.to_le_bytes();
        [self.code, self.regs, o0, o1, i0, i1, i2, i3]
    }
}

/// `dst = imm` (sign-extended to 64 bits).
pub const fn mov64_imm(dst: Reg, imm: i32) -> Insn {
    Insn::new(CLASS_ALU64 | ALU_MOV | SRC_K, dst, R0, 0, imm)
}

/// `dst = src`.
pub const fn mov64_reg(dst: Reg, src: Reg) -> Insn {
    Insn::new(CLASS_ALU64 | ALU_MOV | SRC_X, dst, src, 0, 0)
}

/// `dst = *(size *)(src + off)`.
pub const fn ldx_mem(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::new(CLASS_LDX | size_bits(size) | MODE_MEM, dst, src, off, 0)
}

/// `*(size *)(dst + off) = src`. (Storing an immediate into the context is refused by the
/// verifier, so there is no `st_mem`.)
pub const fn stx_mem(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::new(CLASS_STX | size_bits(size) | MODE_MEM, dst, src, off, 0)
}

const fn size_bits(size: Size) -> u8 {
    match size {
        Size::W => SIZE_W,
        Size::H => SIZE_H,
        Size::B => SIZE_B,
        Size::DW => SIZE_DW,
    }
}

/// `if dst OP imm goto +off` (off counts instructions after this one).
pub const fn jmp_imm(op: JmpOp, dst: Reg, imm: i32, off: i16) -> Insn {
    let op = match op {
        JmpOp::Jeq => JMP_JEQ,
        JmpOp::Jne => JMP_JNE,
        JmpOp::Jgt => JMP_JGT,
        JmpOp::Jge => JMP_JGE,
        JmpOp::Jlt => JMP_JLT,
        JmpOp::Jle => JMP_JLE,
    };
    Insn::new(CLASS_JMP | op | SRC_K, dst, R0, off, imm)
}

/// `goto +off`.
pub const fn ja(off: i16) -> Insn {
    Insn::new(CLASS_JMP | JMP_JA, R0, R0, off, 0)
}

/// `dst OP= imm` on all 64 bits.
pub const fn alu64_imm(op: AluOp, dst: Reg, imm: i32) -> Insn {
    Insn::new(CLASS_ALU64 | alu_bits(op) | SRC_K, dst, R0, 0, imm)
}

/// `dst OP= src` on all 64 bits.
pub const fn alu64_reg(op: AluOp, dst: Reg, src: Reg) -> Insn {
    Insn::new(CLASS_ALU64 | alu_bits(op) | SRC_X, dst, src, 0, 0)
}

const fn alu_bits(op: AluOp) -> u8 {
    match op {
        AluOp::Add => ALU_ADD,
        AluOp::And => ALU_AND,
        AluOp::Or => ALU_OR,
        AluOp::Lsh => ALU_LSH,
        AluOp::Rsh => ALU_RSH,
    }
}

/// `dst = map` (`BPF_LD | BPF_DW | BPF_IMM` with src = BPF_PSEUDO_MAP_FD): the map's file
/// descriptor, which the kernel replaces with the map itself at load time. Two instructions.
pub const fn ld_map_fd(dst: Reg, map_fd: i32) -> [Insn; 2] {
    const CLASS_LD: u8 = 0x00;
    const MODE_IMM: u8 = 0x00;
    const PSEUDO_MAP_FD: Reg = Reg(1);
    [
        Insn::new(CLASS_LD | SIZE_DW | MODE_IMM, dst, PSEUDO_MAP_FD, 0, map_fd),
        Insn::new(0, R0, R0, 0, 0),
    ]
}

/// Calls helper number `helper_id` (enum bpf_func_id); arguments in R1..R5, result in R0.
pub const fn call(helper_id: i32) -> Insn {
    Insn::new(CLASS_JMP | JMP_CALL, R0, R0, 0, helper_id)
}

/// Returns R0.
pub const fn exit() -> Insn {
    Insn::new(CLASS_JMP | JMP_EXIT, R0, R0, 0, 0)
}

/// The program as the kernel reads it: 8 bytes per instruction, little-endian.
pub fn to_bytes(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(Insn::bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected bytes are what clang -target bpf emits (llvm-objdump -d) for the same
    // instructions, e.g. `r0 = 7` -> b7 00 00 00 07 00 00 00.

    #[test]
    fn mov_exit_call_match_known_encodings() {
        assert_eq!(mov64_imm(R0, 7).bytes(), [0xb7, 0, 0, 0, 7, 0, 0, 0]);
        assert_eq!(exit().bytes(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(call(23).bytes(), [0x85, 0, 0, 0, 0x17, 0, 0, 0]);
        // r6 = r1
        assert_eq!(mov64_reg(R6, R1).bytes(), [0xbf, 0x16, 0, 0, 0, 0, 0, 0]);
        // r0 = -1: the immediate is two's complement
        assert_eq!(
            mov64_imm(R0, -1).bytes(),
            [0xb7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn loads_match_known_encodings() {
        // r2 = *(u32 *)(r6 + 24): skb->vlan_tci
        assert_eq!(
            ldx_mem(Size::W, R2, R6, 24).bytes(),
            [0x61, 0x62, 0x18, 0, 0, 0, 0, 0]
        );
        assert_eq!(ldx_mem(Size::H, R0, R1, 2).bytes()[..3], [0x69, 0x10, 2]);
        assert_eq!(ldx_mem(Size::B, R0, R1, 0).bytes()[0], 0x71);
        // r0 = *(u64 *)(r10 - 8)
        assert_eq!(
            ldx_mem(Size::DW, R0, R10, -8).bytes(),
            [0x79, 0xa0, 0xf8, 0xff, 0, 0, 0, 0]
        );
    }

    #[test]
    fn jumps_and_alu_match_known_encodings() {
        // if r2 == 0x64 goto +3
        assert_eq!(
            jmp_imm(JmpOp::Jeq, R2, 100, 3).bytes(),
            [0x15, 0x02, 3, 0, 100, 0, 0, 0]
        );
        // if r2 != 0 goto -2
        assert_eq!(
            jmp_imm(JmpOp::Jne, R2, 0, -2).bytes(),
            [0x55, 0x02, 0xfe, 0xff, 0, 0, 0, 0]
        );
        // r2 &= 0xfff
        assert_eq!(
            alu64_imm(AluOp::And, R2, 0xfff).bytes(),
            [0x57, 0x02, 0, 0, 0xff, 0x0f, 0, 0]
        );
        // r2 >>= 12
        assert_eq!(
            alu64_imm(AluOp::Rsh, R2, 12).bytes(),
            [0x77, 0x02, 0, 0, 12, 0, 0, 0]
        );
    }

    #[test]
    fn stores_wide_jumps_and_register_alu_match_known_encodings() {
        // *(u32 *)(r6 + 48) = r2: skb->cb[0]
        assert_eq!(
            stx_mem(Size::W, R6, R2, 48).bytes(),
            [0x63, 0x26, 48, 0, 0, 0, 0, 0]
        );
        // if r2 > 10 goto +1 / >= / < / <=
        assert_eq!(jmp_imm(JmpOp::Jgt, R2, 10, 1).bytes()[..2], [0x25, 0x02]);
        assert_eq!(jmp_imm(JmpOp::Jge, R2, 10, 1).bytes()[0], 0x35);
        assert_eq!(jmp_imm(JmpOp::Jlt, R2, 10, 1).bytes()[0], 0xa5);
        assert_eq!(jmp_imm(JmpOp::Jle, R2, 10, 1).bytes()[0], 0xb5);
        // goto +4
        assert_eq!(ja(4).bytes(), [0x05, 0, 4, 0, 0, 0, 0, 0]);
        // r3 += -8; r2 <<= 8; r2 |= r3
        assert_eq!(
            alu64_imm(AluOp::Add, R3, -8).bytes(),
            [0x07, 0x03, 0, 0, 0xf8, 0xff, 0xff, 0xff]
        );
        assert_eq!(alu64_imm(AluOp::Lsh, R2, 8).bytes()[..2], [0x67, 0x02]);
        assert_eq!(
            alu64_reg(AluOp::Or, R2, R3).bytes(),
            [0x4f, 0x32, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn to_bytes_concatenates_in_order() {
        let bytes = to_bytes(&[mov64_imm(R0, 7), exit()]);
        assert_eq!(
            bytes,
            [
                0xb7, 0, 0, 0, 7, 0, 0, 0, //
                0x95, 0, 0, 0, 0, 0, 0, 0,
            ]
        );
        assert!(to_bytes(&[]).is_empty());
    }
}

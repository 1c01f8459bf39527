//! The impairment program: loss (Bernoulli or Gilbert–Elliott), corruption and duplication of
//! the frames arriving at a port, decided per frame with `bpf_get_prandom_u32`. It runs as a
//! direct-action cls_bpf filter on the port's ingress hook just ahead of the wire's filter
//! ([`crate::marks::IMPAIR_PRIO`]) and returns TC_ACT_UNSPEC for every frame it keeps, so the
//! wire (or hub) filter after it carries the frame on as before; only a frame it drops is
//! stopped (TC_ACT_SHOT).
//!
//! Its per-CPU array map has two entries. Entry 0 holds the parameters: the program only reads
//! it, so a change is one map update on every CPU — the very next frame sees it, with no
//! re-attach and no carrier change. Entry 1 holds what the program writes: its counters
//! (frames seen, dropped, corrupted, duplicated) and the Gilbert–Elliott chain's state, one
//! per CPU (so each CPU runs its own chain: the same statistics, as a flow stays on one CPU).
//!
//! A duplicate is a clone sent into the same port's ingress again (`bpf_clone_redirect` with
//! BPF_F_INGRESS) carrying the mark [`DUPLICATE_MARK`]; the program passes such a frame on
//! untouched after clearing the mark (a frame arriving from another namespace through a veth
//! has its mark cleared by the kernel, so no real frame carries it).

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::bpf::asm::Asm;
use crate::bpf::insn::{
    self, AluOp, Insn, JmpOp, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, Size,
};
use crate::bpf::{BPF_F_INGRESS, BPF_FUNC_CLONE_REDIRECT, BPF_FUNC_MAP_LOOKUP_ELEM, TC_ACT_UNSPEC};

/// Size of each of the map's two values.
pub const VALUE_SIZE: u32 = 64;
/// The map entry with the parameters (read by the program, written by patchwire).
pub const PARAMS_KEY: u32 = 0;
/// The map entry with the counters and chain state (written by the program).
pub const STATS_KEY: u32 = 1;

/// The skb mark a duplicate carries back into the port (0x5057 "PW", 0x1d0e "duplicate").
pub const DUPLICATE_MARK: i32 = 0x5057_1d0e;

// Parameter offsets (u64 each). Probabilities are thresholds out of 2^32: a frame is hit when
// a random u32 is below it, so 2^32 is "always" and 0 "never".
const LOSS: i16 = 0;
const GE_P: i16 = 8;
const GE_R: i16 = 16;
const GE_BAD_LOSS: i16 = 24;
const GE_GOOD_LOSS: i16 = 32;
const CORRUPT: i16 = 40;
const DUPLICATE: i16 = 48;
const GE_MODE: i16 = 56;
// Counter offsets (u64 each).
const SEEN: i16 = 0;
const DROPPED: i16 = 8;
const CORRUPTED: i16 = 16;
const DUPLICATED: i16 = 24;
const GE_STATE: i16 = 32;

// `__sk_buff` fields.
const SKB_LEN: i16 = 0;
const SKB_MARK: i16 = 8;
const SKB_IFINDEX: i16 = 40;

const BPF_FUNC_GET_PRANDOM_U32: i32 = 7;
const BPF_FUNC_SKB_STORE_BYTES: i32 = 9;
const BPF_FUNC_SKB_LOAD_BYTES: i32 = 26;
const TC_ACT_SHOT: i32 = 2;

// Opcodes insn.rs has no builder for: ALU64 XOR and MOD with a register operand, and jumps
// comparing two registers (BPF_JMP | op | BPF_X).
const ALU64_XOR_X: u8 = 0xaf;
const ALU64_MOD_X: u8 = 0x9f;
const JMP_JLT_X: u8 = 0xad;
const JMP_JGE_X: u8 = 0x3d;

/// The program's parameters: each probability as a threshold out of 2^32.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    /// Bernoulli loss.
    pub loss: u64,
    /// Gilbert–Elliott: use the chain below instead of `loss`.
    pub gilbert_elliott: bool,
    /// Good → bad.
    pub ge_p: u64,
    /// Bad → good.
    pub ge_r: u64,
    /// Loss in the bad state (1-h).
    pub ge_bad_loss: u64,
    /// Loss in the good state (1-k).
    pub ge_good_loss: u64,
    /// Corruption (one random bit of the frame flipped).
    pub corrupt: u64,
    /// Duplication.
    pub duplicate: u64,
}

/// A percentage (0..=100) as a threshold out of 2^32.
pub fn threshold(percent: f64) -> u64 {
    ((percent / 100.0) * 4_294_967_296.0)
        .round()
        .clamp(0.0, 4_294_967_296.0) as u64
}

/// A threshold back as a percentage.
pub fn percent(threshold: u64) -> f64 {
    threshold as f64 / 4_294_967_296.0 * 100.0
}

impl Params {
    /// Entry 0 of the map.
    pub fn encode(&self) -> [u8; VALUE_SIZE as usize] {
        let mut value = [0u8; VALUE_SIZE as usize];
        let words = [
            (LOSS, self.loss),
            (GE_P, self.ge_p),
            (GE_R, self.ge_r),
            (GE_BAD_LOSS, self.ge_bad_loss),
            (GE_GOOD_LOSS, self.ge_good_loss),
            (CORRUPT, self.corrupt),
            (DUPLICATE, self.duplicate),
            (GE_MODE, u64::from(self.gilbert_elliott)),
        ];
        for (offset, word) in words {
            let at = offset as usize;
            value[at..at + 8].copy_from_slice(&word.to_ne_bytes());
        }
        value
    }

    /// Entry 0 as read back.
    pub fn decode(value: &[u8]) -> Params {
        let word = |offset: i16| {
            let at = offset as usize;
            value
                .get(at..at + 8)
                .map_or(0, |w| u64::from_ne_bytes(w.try_into().expect("8 bytes")))
        };
        Params {
            loss: word(LOSS),
            gilbert_elliott: word(GE_MODE) != 0,
            ge_p: word(GE_P),
            ge_r: word(GE_R),
            ge_bad_loss: word(GE_BAD_LOSS),
            ge_good_loss: word(GE_GOOD_LOSS),
            corrupt: word(CORRUPT),
            duplicate: word(DUPLICATE),
        }
    }
}

/// The program's counters, summed over CPUs (entry 1 of the map).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Frames the program saw (duplicates it made not included).
    pub frames: u64,
    /// Frames it dropped (loss).
    pub dropped: u64,
    /// Frames in which it flipped a bit.
    pub corrupted: u64,
    /// Copies it sent.
    pub duplicated: u64,
}

impl Counters {
    /// From the per-CPU sums of entry 1 ([`crate::bpf::map::Map::sum_u64s`]).
    pub fn from_sums(sums: &[u64]) -> Counters {
        let at = |offset: i16| sums.get(offset as usize / 8).copied().unwrap_or(0);
        Counters {
            frames: at(SEEN),
            dropped: at(DROPPED),
            corrupted: at(CORRUPTED),
            duplicated: at(DUPLICATED),
        }
    }
}

fn lookup(
    asm: &mut Asm,
    map: BorrowedFd<'_>,
    key: u32,
    into: insn::Reg,
    missing: crate::bpf::asm::Label,
) {
    asm.push(insn::mov64_imm(R1, key as i32));
    asm.push(insn::stx_mem(Size::W, R10, R1, -4));
    asm.push(insn::mov64_reg(R2, R10));
    asm.push(insn::alu64_imm(AluOp::Add, R2, -4));
    for part in insn::ld_map_fd(R1, map.as_raw_fd()) {
        asm.push(part);
    }
    asm.push(insn::call(BPF_FUNC_MAP_LOOKUP_ELEM));
    asm.jump_if(JmpOp::Jeq, R0, 0, missing);
    asm.push(insn::mov64_reg(into, R0));
}

/// `counter += 1` in the stats value R8 points to.
fn count(asm: &mut Asm, offset: i16) {
    asm.push(insn::ldx_mem(Size::DW, R1, R8, offset));
    asm.push(insn::alu64_imm(AluOp::Add, R1, 1));
    asm.push(insn::stx_mem(Size::DW, R8, R1, offset));
}

/// The program over `map` (a per-CPU array of two [`VALUE_SIZE`] values). Registers: R6 the
/// context, R7 the parameters, R8 the counters, R9 scratch kept across helper calls.
pub fn build(map: BorrowedFd<'_>) -> Vec<Insn> {
    let mut asm = Asm::new();
    let pass = asm.label();
    let drop = asm.label();
    let fresh = asm.label();
    let gilbert_elliott = asm.label();
    let bad = asm.label();
    let stay_good = asm.label();
    let stay_bad = asm.label();
    let decide = asm.label();
    let after_loss = asm.label();
    let after_corrupt = asm.label();

    asm.push(insn::mov64_reg(R6, R1));
    lookup(&mut asm, map, PARAMS_KEY, R7, pass);
    lookup(&mut asm, map, STATS_KEY, R8, pass);
    // A duplicate this program made: pass it on as it is.
    asm.push(insn::ldx_mem(Size::W, R1, R6, SKB_MARK));
    asm.jump_if(JmpOp::Jne, R1, DUPLICATE_MARK, fresh);
    asm.push(insn::mov64_imm(R1, 0));
    asm.push(insn::stx_mem(Size::W, R6, R1, SKB_MARK));
    asm.goto(pass);
    asm.bind(fresh);
    count(&mut asm, SEEN);

    // Loss: Bernoulli, or the Gilbert–Elliott chain (netem's `loss gemodel`: the state moves
    // first, the loss is drawn with the probability of the state the frame met).
    asm.push(insn::ldx_mem(Size::DW, R1, R7, GE_MODE));
    asm.jump_if(JmpOp::Jne, R1, 0, gilbert_elliott);
    asm.push(insn::ldx_mem(Size::DW, R9, R7, LOSS));
    asm.goto(decide);
    asm.bind(gilbert_elliott);
    asm.push(insn::ldx_mem(Size::DW, R1, R8, GE_STATE));
    asm.jump_if(JmpOp::Jne, R1, 0, bad);
    asm.push(insn::call(BPF_FUNC_GET_PRANDOM_U32));
    asm.push(insn::ldx_mem(Size::DW, R1, R7, GE_P));
    asm.jump_to(Insn::raw(JMP_JGE_X, R0, R1, 0, 0), stay_good);
    asm.push(insn::mov64_imm(R1, 1));
    asm.push(insn::stx_mem(Size::DW, R8, R1, GE_STATE));
    asm.bind(stay_good);
    asm.push(insn::ldx_mem(Size::DW, R9, R7, GE_GOOD_LOSS));
    asm.goto(decide);
    asm.bind(bad);
    asm.push(insn::call(BPF_FUNC_GET_PRANDOM_U32));
    asm.push(insn::ldx_mem(Size::DW, R1, R7, GE_R));
    asm.jump_to(Insn::raw(JMP_JGE_X, R0, R1, 0, 0), stay_bad);
    asm.push(insn::mov64_imm(R1, 0));
    asm.push(insn::stx_mem(Size::DW, R8, R1, GE_STATE));
    asm.bind(stay_bad);
    asm.push(insn::ldx_mem(Size::DW, R9, R7, GE_BAD_LOSS));
    asm.bind(decide);
    asm.jump_if(JmpOp::Jeq, R9, 0, after_loss);
    asm.push(insn::call(BPF_FUNC_GET_PRANDOM_U32));
    asm.jump_to(Insn::raw(JMP_JLT_X, R0, R9, 0, 0), drop);
    asm.bind(after_loss);

    // Corruption: one random bit of the whole frame (Ethernet header included, as netem).
    asm.push(insn::ldx_mem(Size::DW, R9, R7, CORRUPT));
    asm.jump_if(JmpOp::Jeq, R9, 0, after_corrupt);
    asm.push(insn::call(BPF_FUNC_GET_PRANDOM_U32));
    asm.jump_to(Insn::raw(JMP_JGE_X, R0, R9, 0, 0), after_corrupt);
    asm.push(insn::call(BPF_FUNC_GET_PRANDOM_U32));
    asm.push(insn::mov64_reg(R1, R0));
    asm.push(insn::alu64_imm(AluOp::And, R1, 7));
    asm.push(insn::stx_mem(Size::DW, R10, R1, -16));
    asm.push(insn::mov64_reg(R9, R0));
    asm.push(insn::alu64_imm(AluOp::Rsh, R9, 3));
    asm.push(insn::ldx_mem(Size::W, R2, R6, SKB_LEN));
    asm.jump_if(JmpOp::Jeq, R2, 0, after_corrupt);
    asm.push(Insn::raw(ALU64_MOD_X, R9, R2, 0, 0));
    asm.push(insn::mov64_reg(R1, R6));
    asm.push(insn::mov64_reg(R2, R9));
    asm.push(insn::mov64_reg(R3, R10));
    asm.push(insn::alu64_imm(AluOp::Add, R3, -8));
    asm.push(insn::mov64_imm(R4, 1));
    asm.push(insn::call(BPF_FUNC_SKB_LOAD_BYTES));
    asm.jump_if(JmpOp::Jne, R0, 0, after_corrupt);
    asm.push(insn::ldx_mem(Size::B, R1, R10, -8));
    asm.push(insn::mov64_imm(R2, 1));
    asm.push(insn::ldx_mem(Size::DW, R3, R10, -16));
    asm.push(insn::alu64_reg(AluOp::Lsh, R2, R3));
    asm.push(Insn::raw(ALU64_XOR_X, R1, R2, 0, 0));
    asm.push(insn::stx_mem(Size::B, R10, R1, -8));
    asm.push(insn::mov64_reg(R1, R6));
    asm.push(insn::mov64_reg(R2, R9));
    asm.push(insn::mov64_reg(R3, R10));
    asm.push(insn::alu64_imm(AluOp::Add, R3, -8));
    asm.push(insn::mov64_imm(R4, 1));
    asm.push(insn::mov64_imm(R5, 0));
    asm.push(insn::call(BPF_FUNC_SKB_STORE_BYTES));
    asm.jump_if(JmpOp::Jne, R0, 0, after_corrupt);
    count(&mut asm, CORRUPTED);
    asm.bind(after_corrupt);

    // Duplication: a clone into this port's ingress, marked so it passes straight on.
    asm.push(insn::ldx_mem(Size::DW, R9, R7, DUPLICATE));
    asm.jump_if(JmpOp::Jeq, R9, 0, pass);
    asm.push(insn::call(BPF_FUNC_GET_PRANDOM_U32));
    asm.jump_to(Insn::raw(JMP_JGE_X, R0, R9, 0, 0), pass);
    asm.push(insn::ldx_mem(Size::W, R9, R6, SKB_MARK));
    asm.push(insn::mov64_imm(R1, DUPLICATE_MARK));
    asm.push(insn::stx_mem(Size::W, R6, R1, SKB_MARK));
    asm.push(insn::mov64_reg(R1, R6));
    asm.push(insn::ldx_mem(Size::W, R2, R6, SKB_IFINDEX));
    asm.push(insn::mov64_imm(R3, BPF_F_INGRESS));
    asm.push(insn::call(BPF_FUNC_CLONE_REDIRECT));
    asm.push(insn::stx_mem(Size::W, R6, R9, SKB_MARK));
    asm.jump_if(JmpOp::Jne, R0, 0, pass);
    count(&mut asm, DUPLICATED);

    asm.bind(pass);
    asm.push(insn::mov64_imm(R0, TC_ACT_UNSPEC));
    asm.push(insn::exit());
    asm.bind(drop);
    count(&mut asm, DROPPED);
    asm.push(insn::mov64_imm(R0, TC_ACT_SHOT));
    asm.push(insn::exit());
    asm.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_cover_never_to_always() {
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(100.0), 1 << 32);
        assert_eq!(threshold(50.0), 1 << 31);
        assert!((percent(threshold(1.5)) - 1.5).abs() < 1e-6);
    }

    #[test]
    fn params_read_back() {
        let params = Params {
            loss: 1,
            gilbert_elliott: true,
            ge_p: 2,
            ge_r: 3,
            ge_bad_loss: 4,
            ge_good_loss: 5,
            corrupt: 6,
            duplicate: 1 << 32,
        };
        assert_eq!(Params::decode(&params.encode()), params);
        assert_eq!(
            Counters::from_sums(&[10, 2, 3, 4, 1, 0, 0, 0]),
            Counters {
                frames: 10,
                dropped: 2,
                corrupted: 3,
                duplicated: 4
            }
        );
    }
}

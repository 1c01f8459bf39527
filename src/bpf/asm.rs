//! A tiny assembler: instructions plus named jump targets, so program builders say "goto
//! no_match" instead of counting instructions by hand.

use super::insn::{self, Insn, JmpOp, Reg};

/// A jump target, placed with [`Asm::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

/// A program being assembled: instructions, labels, and jumps to labels whose offsets
/// [`Asm::finish`] fills in.
#[derive(Debug, Default)]
pub struct Asm {
    insns: Vec<Insn>,
    /// Where each label was bound (instruction index).
    targets: Vec<Option<usize>>,
    /// Jumps whose offset is filled in by [`Asm::finish`]: (instruction index, label).
    jumps: Vec<(usize, Label)>,
}

impl Asm {
    /// An empty program.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new label, to be placed with [`Asm::bind`] (before or after the jumps to it).
    pub fn label(&mut self) -> Label {
        self.targets.push(None);
        Label(self.targets.len() - 1)
    }

    /// Places `label` at the next instruction.
    pub fn bind(&mut self, label: Label) {
        assert!(self.targets[label.0].is_none(), "label bound twice");
        self.targets[label.0] = Some(self.insns.len());
    }

    /// Appends one instruction.
    pub fn push(&mut self, insn: Insn) -> &mut Self {
        self.insns.push(insn);
        self
    }

    /// `if reg OP imm goto label`.
    pub fn jump_if(&mut self, op: JmpOp, reg: Reg, imm: i32, label: Label) -> &mut Self {
        self.jumps.push((self.insns.len(), label));
        self.push(insn::jmp_imm(op, reg, imm, 0))
    }

    /// Any jump instruction (its offset is filled in) to `label`.
    pub fn jump_to(&mut self, jump: Insn, label: Label) -> &mut Self {
        self.jumps.push((self.insns.len(), label));
        self.push(jump)
    }

    /// `goto label`.
    pub fn goto(&mut self, label: Label) -> &mut Self {
        self.jumps.push((self.insns.len(), label));
        self.push(insn::ja(0))
    }

    /// The program with every jump offset resolved. Panics on an unbound label or an offset
    /// beyond ±32767 instructions: both are bugs in a program builder, not input errors.
    pub fn finish(mut self) -> Vec<Insn> {
        for (at, label) in self.jumps {
            let target = self.targets[label.0].expect("jump to an unbound label");
            // A jump at `at` lands on `at + 1 + off`.
            let off = target as isize - at as isize - 1;
            self.insns[at].off = i16::try_from(off).expect("jump offset out of range");
        }
        self.insns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::insn::{R0, R2};

    #[test]
    fn forward_and_backward_jumps_resolve() {
        let mut asm = Asm::new();
        let top = asm.label();
        let out = asm.label();
        asm.bind(top);
        asm.push(insn::mov64_imm(R0, 0));
        asm.jump_if(JmpOp::Jeq, R2, 5, out);
        asm.goto(top);
        asm.bind(out);
        asm.push(insn::exit());
        let program = asm.finish();
        assert_eq!(program[1], insn::jmp_imm(JmpOp::Jeq, R2, 5, 1));
        assert_eq!(program[2], insn::ja(-3));
        assert_eq!(program.len(), 4);
    }

    #[test]
    #[should_panic(expected = "unbound label")]
    fn unbound_label_is_a_bug() {
        let mut asm = Asm::new();
        let nowhere = asm.label();
        asm.goto(nowhere);
        asm.finish();
    }
}

//! A small x86-64 instruction encoder for the quick tier ([`super::quick`]): the handful of
//! integer instructions it emits, with forward and backward labels (always rel32, so a
//! label's fixup never changes code size). Memory operands are `[base + disp]` only.

/// A general-purpose register by its hardware number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reg(pub u8);

pub(crate) const RAX: Reg = Reg(0);
pub(crate) const RCX: Reg = Reg(1);
pub(crate) const RDX: Reg = Reg(2);
pub(crate) const RBX: Reg = Reg(3);
pub(crate) const RSP: Reg = Reg(4);
pub(crate) const RBP: Reg = Reg(5);
pub(crate) const RSI: Reg = Reg(6);
pub(crate) const RDI: Reg = Reg(7);
pub(crate) const R8: Reg = Reg(8);
pub(crate) const R9: Reg = Reg(9);

/// Operand width of an integer instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum W {
    /// 32 bits (writing a register zero-extends it to 64).
    D,
    /// 64 bits.
    Q,
}

/// Two-operand ALU operations (their /digit in the 0x81 group; the reg forms derive from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alu {
    Add = 0,
    Or = 1,
    And = 4,
    Sub = 5,
    Xor = 6,
    Cmp = 7,
}

/// Shift and rotate operations (their /digit in the 0xC1/0xD3 groups).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shift {
    Rol = 0,
    Ror = 1,
    Shl = 4,
    Shr = 5,
    Sar = 7,
}

/// Condition codes (the low nibble of `jcc`/`setcc`/`cmovcc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cc {
    B = 0x2,
    Ae = 0x3,
    E = 0x4,
    Ne = 0x5,
    Be = 0x6,
    A = 0x7,
    L = 0xc,
    Ge = 0xd,
    Le = 0xe,
    G = 0xf,
}

/// A code position to jump to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AsmLabel(u32);

/// The code being assembled.
#[derive(Default)]
pub(crate) struct Asm {
    pub code: Vec<u8>,
    labels: Vec<Option<u32>>,
    /// Code position of the last label placed.
    last_bind: usize,
    /// (offset of a rel32 field, label it points to).
    fixups: Vec<(u32, AsmLabel)>,
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }

    pub fn pos(&self) -> usize {
        self.code.len()
    }

    fn byte(&mut self, b: u8) {
        self.code.push(b);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.code.extend_from_slice(b);
    }
    fn imm32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    /// A REX prefix if any of its bits is needed (or `force`: byte registers spl..dil).
    fn rex(&mut self, w: bool, reg: u8, base: u8, force: bool) {
        let r = 0x40 | (w as u8) << 3 | (reg >> 3 & 1) << 2 | (base >> 3 & 1);
        if r != 0x40 || force {
            self.byte(r);
        }
    }

    /// ModRM (and SIB, displacement) for `reg` with memory operand `[base + disp]`.
    fn modrm_mem(&mut self, reg: u8, base: Reg, disp: i32) {
        let b = base.0 & 7;
        let (md, small) = if disp == 0 && b != 5 {
            (0u8, None)
        } else if let Ok(d) = i8::try_from(disp) {
            (1, Some(d))
        } else {
            (2, None)
        };
        self.byte(md << 6 | (reg & 7) << 3 | b);
        if b == 4 {
            self.byte(0x24);
        }
        match (md, small) {
            (1, Some(d)) => self.byte(d as u8),
            (2, _) => self.imm32(disp),
            _ => {}
        }
    }
    fn modrm_reg(&mut self, reg: u8, rm: Reg) {
        self.byte(0xc0 | (reg & 7) << 3 | (rm.0 & 7));
    }

    /// `op r/m, reg` with a register r/m.
    fn rr(&mut self, w: W, opcode: &[u8], reg: Reg, rm: Reg) {
        self.rex(w == W::Q, reg.0, rm.0, false);
        self.bytes(opcode);
        self.modrm_reg(reg.0, rm);
    }
    /// `op reg, [base + disp]` (or the reverse direction, by opcode).
    fn rm(&mut self, w: W, opcode: &[u8], reg: Reg, base: Reg, disp: i32) {
        self.rex(w == W::Q, reg.0, base.0, false);
        self.bytes(opcode);
        self.modrm_mem(reg.0, base, disp);
    }

    /// dst = src.
    pub fn mov_rr(&mut self, w: W, dst: Reg, src: Reg) {
        self.rr(w, &[0x89], src, dst);
    }
    /// dst = imm (shortest form).
    pub fn mov_ri(&mut self, dst: Reg, imm: u64) {
        if imm == 0 {
            self.alu_rr(Alu::Xor, W::D, dst, dst);
        } else if let Ok(v) = u32::try_from(imm) {
            self.rex(false, 0, dst.0, false);
            self.byte(0xb8 | (dst.0 & 7));
            self.imm32(v as i32);
        } else if let Ok(v) = i32::try_from(imm as i64) {
            self.rex(true, 0, dst.0, false);
            self.byte(0xc7);
            self.modrm_reg(0, dst);
            self.imm32(v);
        } else {
            self.rex(true, 0, dst.0, false);
            self.byte(0xb8 | (dst.0 & 7));
            self.bytes(&imm.to_le_bytes());
        }
    }
    /// Zero-extending load of `bytes` (1, 2, 4, 8) from `[base + disp]`.
    pub fn load(&mut self, bytes: u32, dst: Reg, base: Reg, disp: i32) {
        match bytes {
            1 => self.rm(W::D, &[0x0f, 0xb6], dst, base, disp),
            2 => self.rm(W::D, &[0x0f, 0xb7], dst, base, disp),
            4 => self.rm(W::D, &[0x8b], dst, base, disp),
            _ => self.rm(W::Q, &[0x8b], dst, base, disp),
        }
    }
    /// Sign-extending (to 64 bits) load of `bytes` (1, 2, 4) from `[base + disp]`.
    pub fn load_sx(&mut self, bytes: u32, dst: Reg, base: Reg, disp: i32) {
        match bytes {
            1 => self.rm(W::Q, &[0x0f, 0xbe], dst, base, disp),
            2 => self.rm(W::Q, &[0x0f, 0xbf], dst, base, disp),
            4 => self.rm(W::Q, &[0x63], dst, base, disp),
            _ => self.rm(W::Q, &[0x8b], dst, base, disp),
        }
    }
    /// Store the low `bytes` (1, 2, 4, 8) of `src` at `[base + disp]`.
    pub fn store(&mut self, bytes: u32, base: Reg, disp: i32, src: Reg) {
        match bytes {
            1 => {
                self.rex(false, src.0, base.0, src.0 >= 4);
                self.byte(0x88);
                self.modrm_mem(src.0, base, disp);
            }
            2 => {
                self.byte(0x66);
                self.rm(W::D, &[0x89], src, base, disp);
            }
            4 => self.rm(W::D, &[0x89], src, base, disp),
            _ => self.rm(W::Q, &[0x89], src, base, disp),
        }
    }
    /// `qword [base + disp] = sign-extended imm`.
    pub fn store_imm64(&mut self, base: Reg, disp: i32, imm: i32) {
        self.rm(W::Q, &[0xc7], Reg(0), base, disp);
        self.imm32(imm);
    }
    /// `dword [base + disp] = imm`.
    pub fn store_imm32(&mut self, base: Reg, disp: i32, imm: i32) {
        self.rm(W::D, &[0xc7], Reg(0), base, disp);
        self.imm32(imm);
    }
    /// dst = dst op src.
    pub fn alu_rr(&mut self, op: Alu, w: W, dst: Reg, src: Reg) {
        self.rr(w, &[(op as u8) << 3 | 1], src, dst);
    }
    /// dst = dst op [base + disp].
    pub fn alu_rm(&mut self, op: Alu, w: W, dst: Reg, base: Reg, disp: i32) {
        self.rm(w, &[(op as u8) << 3 | 3], dst, base, disp);
    }
    /// dst = dst op sign-extended imm.
    pub fn alu_ri(&mut self, op: Alu, w: W, dst: Reg, imm: i32) {
        self.rex(w == W::Q, 0, dst.0, false);
        if let Ok(b) = i8::try_from(imm) {
            self.byte(0x83);
            self.modrm_reg(op as u8, dst);
            self.byte(b as u8);
        } else {
            self.byte(0x81);
            self.modrm_reg(op as u8, dst);
            self.imm32(imm);
        }
    }
    /// `[base + disp] op= sign-extended imm8`.
    pub fn alu_mi8(&mut self, op: Alu, w: W, base: Reg, disp: i32, imm: i8) {
        self.rm(w, &[0x83], Reg(op as u8), base, disp);
        self.byte(imm as u8);
    }
    /// Shift or rotate `r` by `cl`.
    pub fn shift_cl(&mut self, op: Shift, w: W, r: Reg) {
        self.rex(w == W::Q, 0, r.0, false);
        self.byte(0xd3);
        self.modrm_reg(op as u8, r);
    }
    /// Shift or rotate `r` by a constant.
    pub fn shift_ri(&mut self, op: Shift, w: W, r: Reg, n: u8) {
        self.rex(w == W::Q, 0, r.0, false);
        self.byte(0xc1);
        self.modrm_reg(op as u8, r);
        self.byte(n);
    }
    /// dst = dst * src (low half).
    pub fn imul_rr(&mut self, w: W, dst: Reg, src: Reg) {
        self.rr(w, &[0x0f, 0xaf], dst, src);
    }
    /// rdx:rax = rax * src, signed (`imul`) or unsigned (`mul`).
    pub fn mul_wide_r(&mut self, signed: bool, src: Reg) {
        self.rex(true, 0, src.0, false);
        self.byte(0xf7);
        self.modrm_reg(if signed { 5 } else { 4 }, src);
    }
    pub fn not(&mut self, w: W, r: Reg) {
        self.rex(w == W::Q, 0, r.0, false);
        self.byte(0xf7);
        self.modrm_reg(2, r);
    }
    pub fn neg(&mut self, w: W, r: Reg) {
        self.rex(w == W::Q, 0, r.0, false);
        self.byte(0xf7);
        self.modrm_reg(3, r);
    }
    /// `movzx dst32, src8` (a REX prefix makes 4..7 mean spl..dil, not ah..bh).
    fn movzx8(&mut self, dst: Reg, src: Reg) {
        self.rex(false, dst.0, src.0, src.0 >= 4);
        self.bytes(&[0x0f, 0xb6]);
        self.modrm_reg(dst.0, src);
    }
    /// r = zero extension of its low `bytes` (1, 2, 4); nothing for 8.
    pub fn zext(&mut self, bytes: u32, r: Reg) {
        match bytes {
            1 => self.movzx8(r, r),
            2 => self.rr(W::D, &[0x0f, 0xb7], r, r),
            4 => self.mov_rr(W::D, r, r),
            _ => {}
        }
    }
    /// r = sign extension to 64 bits of its low `bytes` (1, 2, 4); nothing for 8.
    pub fn sext(&mut self, bytes: u32, r: Reg) {
        match bytes {
            1 => self.rr(W::Q, &[0x0f, 0xbe], r, r),
            2 => self.rr(W::Q, &[0x0f, 0xbf], r, r),
            4 => self.rr(W::Q, &[0x63], r, r),
            _ => {}
        }
    }
    /// Byte-swap the low `bytes` (2, 4, 8) of `r`, zero-extended.
    pub fn bswap(&mut self, bytes: u32, r: Reg) {
        match bytes {
            2 => {
                self.rex(false, 0, r.0, false);
                self.bytes(&[0x0f, 0xc8 | (r.0 & 7)]);
                self.shift_ri(Shift::Shr, W::D, r, 16);
            }
            4 => {
                self.rex(false, 0, r.0, false);
                self.bytes(&[0x0f, 0xc8 | (r.0 & 7)]);
            }
            8 => {
                self.rex(true, 0, r.0, false);
                self.bytes(&[0x0f, 0xc8 | (r.0 & 7)]);
            }
            _ => {}
        }
    }
    /// Low byte of `r` = condition, then zero-extended to 32 bits.
    pub fn setcc(&mut self, cc: Cc, r: Reg) {
        self.rex(false, 0, r.0, r.0 >= 4);
        self.bytes(&[0x0f, 0x90 | cc as u8]);
        self.modrm_reg(0, r);
        self.movzx8(r, r);
    }
    /// dst = src if the condition holds.
    pub fn cmov(&mut self, cc: Cc, w: W, dst: Reg, src: Reg) {
        self.rr(w, &[0x0f, 0x40 | cc as u8], dst, src);
    }
    pub fn test_rr(&mut self, w: W, a: Reg, b: Reg) {
        self.rr(w, &[0x85], b, a);
    }
    pub fn push(&mut self, r: Reg) {
        self.rex(false, 0, r.0, false);
        self.byte(0x50 | (r.0 & 7));
    }
    /// `call r`.
    pub fn call_r(&mut self, r: Reg) {
        self.rex(false, 0, r.0, false);
        self.byte(0xff);
        self.modrm_reg(2, r);
    }
    /// `jmp r`.
    pub fn jmp_r(&mut self, r: Reg) {
        self.rex(false, 0, r.0, false);
        self.byte(0xff);
        self.modrm_reg(4, r);
    }
    /// `jmp rel32` to nowhere yet (0); returns the offset of the rel32 field.
    pub fn jmp_site(&mut self) -> usize {
        self.byte(0xe9);
        let at = self.pos();
        self.imm32(0);
        at
    }
    pub fn ret(&mut self) {
        self.byte(0xc3);
    }
    /// `leave`: rsp = rbp, pop rbp.
    pub fn leave(&mut self) {
        self.byte(0xc9);
    }
    pub fn mfence(&mut self) {
        self.bytes(&[0x0f, 0xae, 0xf0]);
    }

    pub fn new_label(&mut self) -> AsmLabel {
        self.labels.push(None);
        AsmLabel(self.labels.len() as u32 - 1)
    }
    /// Place `l` here.
    pub fn bind(&mut self, l: AsmLabel) {
        self.labels[l.0 as usize] = Some(self.pos() as u32);
        self.last_bind = self.pos();
    }
    /// Code position of the last label placed (0 if none).
    pub fn last_bind(&self) -> usize {
        self.last_bind
    }
    pub fn jmp(&mut self, l: AsmLabel) {
        self.byte(0xe9);
        self.fixup(l);
    }
    pub fn jcc(&mut self, cc: Cc, l: AsmLabel) {
        self.bytes(&[0x0f, 0x80 | cc as u8]);
        self.fixup(l);
    }
    fn fixup(&mut self, l: AsmLabel) {
        self.fixups.push((self.pos() as u32, l));
        self.imm32(0);
    }

    /// Resolve the label references; None if a referenced label was never placed.
    pub fn finish(mut self) -> Option<Vec<u8>> {
        for &(at, l) in &self.fixups {
            let target = self.labels[l.0 as usize]?;
            let rel = target as i64 - (at as i64 + 4);
            let at = at as usize;
            self.code[at..at + 4].copy_from_slice(&(rel as i32).to_le_bytes());
        }
        Some(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstone::arch::BuildsCapstone;
    use capstone::arch::BuildsCapstoneSyntax;

    fn dis(code: &[u8]) -> Vec<String> {
        let cs = capstone::Capstone::new()
            .x86()
            .mode(capstone::arch::x86::ArchMode::Mode64)
            .syntax(capstone::arch::x86::ArchSyntax::Intel)
            .build()
            .unwrap();
        let insns = cs.disasm_all(code, 0).unwrap();
        let n: usize = insns.iter().map(|i| i.bytes().len()).sum();
        assert_eq!(n, code.len(), "undecodable bytes in {code:02x?}");
        insns
            .iter()
            .map(|i| format!("{} {}", i.mnemonic().unwrap(), i.op_str().unwrap()))
            .collect()
    }

    fn one(f: impl FnOnce(&mut Asm)) -> String {
        let mut a = Asm::new();
        f(&mut a);
        let d = dis(&a.finish().unwrap());
        assert_eq!(d.len(), 1, "{d:?}");
        d[0].trim().to_string()
    }

    #[test]
    fn encodings_match_the_disassembler() {
        type Case = (Box<dyn Fn(&mut Asm)>, &'static str);
        let cases: Vec<Case> = vec![
            (Box::new(|a| a.mov_rr(W::Q, RAX, R9)), "mov rax, r9"),
            (Box::new(|a| a.mov_rr(W::D, R8, RCX)), "mov r8d, ecx"),
            (Box::new(|a| a.mov_ri(RDX, 7)), "mov edx, 7"),
            (
                Box::new(|a| a.mov_ri(R8, u64::MAX)),
                "mov r8, 0xffffffffffffffff",
            ),
            (
                Box::new(|a| a.mov_ri(RAX, 0x1234_5678_9abc)),
                "movabs rax, 0x123456789abc",
            ),
            (
                Box::new(|a| a.load(1, RAX, RBX, 0x10)),
                "movzx eax, byte ptr [rbx + 0x10]",
            ),
            (
                Box::new(|a| a.load(2, RCX, RBP, -8)),
                "movzx ecx, word ptr [rbp - 8]",
            ),
            (
                Box::new(|a| a.load(4, RDX, RSI, 0)),
                "mov edx, dword ptr [rsi]",
            ),
            (
                Box::new(|a| a.load(8, R9, RBP, 0)),
                "mov r9, qword ptr [rbp]",
            ),
            (
                Box::new(|a| a.load(8, RAX, RBX, 0x1000)),
                "mov rax, qword ptr [rbx + 0x1000]",
            ),
            (
                Box::new(|a| a.load_sx(1, RAX, RSI, 0)),
                "movsx rax, byte ptr [rsi]",
            ),
            (
                Box::new(|a| a.load_sx(2, RAX, RSI, 0)),
                "movsx rax, word ptr [rsi]",
            ),
            (
                Box::new(|a| a.load_sx(4, RAX, RSI, 0)),
                "movsxd rax, dword ptr [rsi]",
            ),
            (
                Box::new(|a| a.store(1, RSI, 0, RAX)),
                "mov byte ptr [rsi], al",
            ),
            (
                Box::new(|a| a.store(1, RSI, 0, RSI)),
                "mov byte ptr [rsi], sil",
            ),
            (
                Box::new(|a| a.store(2, RSI, 4, RCX)),
                "mov word ptr [rsi + 4], cx",
            ),
            (
                Box::new(|a| a.store(4, RBX, 8, RDX)),
                "mov dword ptr [rbx + 8], edx",
            ),
            (
                Box::new(|a| a.store(8, RBP, -24, RAX)),
                "mov qword ptr [rbp - 0x18], rax",
            ),
            (
                Box::new(|a| a.store_imm64(RBX, 32, 0)),
                "mov qword ptr [rbx + 0x20], 0",
            ),
            (
                Box::new(|a| a.store_imm32(RBX, 12, 0)),
                "mov dword ptr [rbx + 0xc], 0",
            ),
            (
                Box::new(|a| a.alu_rr(Alu::Add, W::Q, RAX, RCX)),
                "add rax, rcx",
            ),
            (
                Box::new(|a| a.alu_rr(Alu::Xor, W::D, RAX, RAX)),
                "xor eax, eax",
            ),
            (
                Box::new(|a| a.alu_rm(Alu::Sub, W::Q, RAX, RBP, -16)),
                "sub rax, qword ptr [rbp - 0x10]",
            ),
            (
                Box::new(|a| a.alu_rm(Alu::Cmp, W::D, RCX, RBX, 0x40)),
                "cmp ecx, dword ptr [rbx + 0x40]",
            ),
            (
                Box::new(|a| a.alu_ri(Alu::And, W::D, RAX, 0x7fe0)),
                "and eax, 0x7fe0",
            ),
            (
                Box::new(|a| a.alu_ri(Alu::And, W::Q, RCX, -4096)),
                "and rcx, 0xfffffffffffff000",
            ),
            (Box::new(|a| a.alu_ri(Alu::Add, W::Q, RCX, 7)), "add rcx, 7"),
            (
                Box::new(|a| a.alu_mi8(Alu::Cmp, W::Q, RBP, -16, 0)),
                "cmp qword ptr [rbp - 0x10], 0",
            ),
            (
                Box::new(|a| a.alu_mi8(Alu::Add, W::Q, RBX, 56, 1)),
                "add qword ptr [rbx + 0x38], 1",
            ),
            (
                Box::new(|a| a.shift_cl(Shift::Sar, W::D, RAX)),
                "sar eax, cl",
            ),
            (
                Box::new(|a| a.shift_cl(Shift::Rol, W::Q, RAX)),
                "rol rax, cl",
            ),
            (
                Box::new(|a| a.shift_ri(Shift::Shr, W::Q, RCX, 7)),
                "shr rcx, 7",
            ),
            (Box::new(|a| a.imul_rr(W::D, RAX, R9)), "imul eax, r9d"),
            (Box::new(|a| a.mul_wide_r(false, RCX)), "mul rcx"),
            (Box::new(|a| a.mul_wide_r(true, R8)), "imul r8"),
            (Box::new(|a| a.not(W::D, RCX)), "not ecx"),
            (Box::new(|a| a.neg(W::Q, RAX)), "neg rax"),
            (Box::new(|a| a.zext(1, RAX)), "movzx eax, al"),
            (Box::new(|a| a.zext(1, RDI)), "movzx edi, dil"),
            (Box::new(|a| a.zext(2, RCX)), "movzx ecx, cx"),
            (Box::new(|a| a.zext(4, RAX)), "mov eax, eax"),
            (Box::new(|a| a.sext(1, RCX)), "movsx rcx, cl"),
            (Box::new(|a| a.sext(2, RAX)), "movsx rax, ax"),
            (Box::new(|a| a.sext(4, RAX)), "movsxd rax, eax"),
            (Box::new(|a| a.bswap(4, RAX)), "bswap eax"),
            (Box::new(|a| a.bswap(8, RCX)), "bswap rcx"),
            (
                Box::new(|a| a.cmov(Cc::G, W::Q, RAX, RCX)),
                "cmovg rax, rcx",
            ),
            (Box::new(|a| a.test_rr(W::D, RCX, RCX)), "test ecx, ecx"),
            (Box::new(|a| a.push(RBX)), "push rbx"),
            (Box::new(|a| a.call_r(RAX)), "call rax"),
            (Box::new(|a| a.jmp_r(RAX)), "jmp rax"),
            (Box::new(|a| a.leave()), "leave"),
            (Box::new(|a| a.mfence()), "mfence"),
        ];
        for (f, want) in cases {
            assert_eq!(one(|a| f(a)), want);
        }
        let mut a = Asm::new();
        a.setcc(Cc::Be, RSI);
        assert_eq!(dis(&a.finish().unwrap()), ["setbe sil", "movzx esi, sil"]);
    }

    #[test]
    fn labels_resolve_forward_and_backward() {
        let mut a = Asm::new();
        let top = a.new_label();
        let end = a.new_label();
        a.bind(top);
        a.jcc(Cc::E, end);
        a.jmp(top);
        a.bind(end);
        a.ret();
        let d = dis(&a.finish().unwrap());
        assert_eq!(d, ["je 0xb", "jmp 0", "ret "]);
        let mut a = Asm::new();
        let l = a.new_label();
        a.jmp(l);
        assert!(a.finish().is_none(), "unplaced label");
    }
}

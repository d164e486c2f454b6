// Differential oracle for the translate_fp tests: runs RISC-V F/D instructions (under
// qemu-riscv64) on vectors read from stdin and writes (result, fflags) pairs to stdout.
// Vector: op u32, frm u32, a, b, c u64 (see the op table in translate_fp.rs).
#include <stdio.h>
#include <stdint.h>
struct vec { uint32_t op, rm; uint64_t a, b, c; };
struct res { uint64_t r, flags; };

#define FFF(insn) asm volatile("fmv.d.x ft0,%1\n fmv.d.x ft1,%2\n fmv.d.x ft2,%3\n " insn " ft3,ft0,ft1,ft2\n fmv.x.d %0,ft3" : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0","ft1","ft2","ft3")
#define FF(insn) asm volatile("fmv.d.x ft0,%1\n fmv.d.x ft1,%2\n " insn " ft3,ft0,ft1\n fmv.x.d %0,ft3" : "=r"(r) : "r"(a), "r"(b) : "ft0","ft1","ft3")
#define F(insn) asm volatile("fmv.d.x ft0,%1\n " insn " ft3,ft0\n fmv.x.d %0,ft3" : "=r"(r) : "r"(a) : "ft0","ft3")
#define XFF(insn) asm volatile("fmv.d.x ft0,%1\n fmv.d.x ft1,%2\n " insn " %0,ft0,ft1" : "=r"(r) : "r"(a), "r"(b) : "ft0","ft1")
#define XF(insn) asm volatile("fmv.d.x ft0,%1\n " insn " %0,ft0" : "=r"(r) : "r"(a) : "ft0")
#define FX(insn) asm volatile(insn " ft3,%1\n fmv.x.d %0,ft3" : "=r"(r) : "r"(a) : "ft3")

int main(void) {
    struct vec v;
    while (fread(&v, sizeof v, 1, stdin) == 1) {
        uint64_t r = 0, a = v.a, b = v.b, c = v.c, fl;
        asm volatile("fsrm %0\n fsflags zero" :: "r"((uint64_t)v.rm));
        switch (v.op) {
        case 0: FF("fadd.s"); break;
        case 1: FF("fsub.s"); break;
        case 2: FF("fmul.s"); break;
        case 3: FF("fdiv.s"); break;
        case 4: F("fsqrt.s"); break;
        case 5: FFF("fmadd.s"); break;
        case 6: FFF("fmsub.s"); break;
        case 7: FFF("fnmsub.s"); break;
        case 8: FFF("fnmadd.s"); break;
        case 9: FF("fmin.s"); break;
        case 10: FF("fmax.s"); break;
        case 11: XFF("feq.s"); break;
        case 12: XFF("flt.s"); break;
        case 13: XFF("fle.s"); break;
        case 14: XF("fclass.s"); break;
        case 15: XF("fcvt.w.s"); break;
        case 16: XF("fcvt.wu.s"); break;
        case 17: XF("fcvt.l.s"); break;
        case 18: XF("fcvt.lu.s"); break;
        case 19: FX("fcvt.s.w"); break;
        case 20: FX("fcvt.s.wu"); break;
        case 21: FX("fcvt.s.l"); break;
        case 22: FX("fcvt.s.lu"); break;
        case 23: F("fcvt.s.d"); break;
        case 24: FF("fsgnj.s"); break;
        case 25: FF("fsgnjn.s"); break;
        case 26: FF("fsgnjx.s"); break;
        case 32: FF("fadd.d"); break;
        case 33: FF("fsub.d"); break;
        case 34: FF("fmul.d"); break;
        case 35: FF("fdiv.d"); break;
        case 36: F("fsqrt.d"); break;
        case 37: FFF("fmadd.d"); break;
        case 38: FFF("fmsub.d"); break;
        case 39: FFF("fnmsub.d"); break;
        case 40: FFF("fnmadd.d"); break;
        case 41: FF("fmin.d"); break;
        case 42: FF("fmax.d"); break;
        case 43: XFF("feq.d"); break;
        case 44: XFF("flt.d"); break;
        case 45: XFF("fle.d"); break;
        case 46: XF("fclass.d"); break;
        case 47: XF("fcvt.w.d"); break;
        case 48: XF("fcvt.wu.d"); break;
        case 49: XF("fcvt.l.d"); break;
        case 50: XF("fcvt.lu.d"); break;
        case 51: FX("fcvt.d.w"); break;
        case 52: FX("fcvt.d.wu"); break;
        case 53: FX("fcvt.d.l"); break;
        case 54: FX("fcvt.d.lu"); break;
        case 55: F("fcvt.d.s"); break;
        case 56: FF("fsgnj.d"); break;
        case 57: FF("fsgnjn.d"); break;
        case 58: FF("fsgnjx.d"); break;
        default: r = 0xdead;
        }
        asm volatile("frflags %0" : "=r"(fl));
        struct res o = { r, fl };
        fwrite(&o, sizeof o, 1, stdout);
    }
    return 0;
}

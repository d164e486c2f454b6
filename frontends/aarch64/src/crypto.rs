//! Cryptographic extension instructions (AES: AESE/AESD/AESMC/AESIMC; SHA1: SHA1C/P/M/H/
//! SU0/SU1; SHA256: SHA256H/H2/SU0/SU1; SHA512: SHA512H/H2/SU0/SU1; SHA3: EOR3/BCAX/RAX1/
//! XAR) executed on the SIMD&FP register file after the Arm
//! ARM pseudocode, and CRC32/CRC32C (integer group) translated to a pure helper call.
//! PMULL/PMULL2 live with the other three-different SIMD ops in [`crate::simd`].

use crate::fp::{Out, Regs, Undef};
use crate::translate::{get_x, set_x};
use heron_backend::Builder;
use heron_backend::helper;
use heron_backend::ir::{Effects, Ty};

/// The AES S-box (SubBytes): multiplicative inverse in GF(2^8) followed by the affine map.
const fn gmul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let hi = a & 0x80;
        a <<= 1;
        if hi != 0 {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    p
}

const fn ginv(a: u8) -> u8 {
    // a^254
    let mut r = 1u8;
    let mut i = 0;
    while i < 254 {
        r = gmul(r, a);
        i += 1;
    }
    if a == 0 { 0 } else { r }
}

const SBOX: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let x = ginv(i as u8);
        t[i] = x ^ x.rotate_left(1) ^ x.rotate_left(2) ^ x.rotate_left(3) ^ x.rotate_left(4) ^ 0x63;
        i += 1;
    }
    t
};

const INV_SBOX: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[SBOX[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn bytes(v: u128) -> [u8; 16] {
    v.to_le_bytes()
}

/// AESShiftRows (or the inverse) then SubBytes (or the inverse). State byte i is row
/// i % 4, column i / 4.
fn aes_round(v: u128, inv: bool) -> u128 {
    let s = bytes(v);
    let mut o = [0u8; 16];
    for c in 0..4 {
        for r in 0..4 {
            let src_c = if inv { (c + 4 - r) % 4 } else { (c + r) % 4 };
            let b = s[r + 4 * src_c];
            o[r + 4 * c] = if inv {
                INV_SBOX[b as usize]
            } else {
                SBOX[b as usize]
            };
        }
    }
    u128::from_le_bytes(o)
}

fn mix_columns(v: u128, inv: bool) -> u128 {
    let s = bytes(v);
    let mut o = [0u8; 16];
    let k: [u8; 4] = if inv { [14, 11, 13, 9] } else { [2, 3, 1, 1] };
    for c in 0..4 {
        for r in 0..4 {
            let mut x = 0u8;
            for j in 0..4 {
                x ^= gmul(s[(r + j) % 4 + 4 * c], k[j]);
            }
            o[r + 4 * c] = x;
        }
    }
    u128::from_le_bytes(o)
}

fn w(v: u128, i: u32) -> u32 {
    (v >> (32 * i)) as u32
}

fn sha1_hash(mut x: u128, mut y: u32, wv: u128, f: fn(u32, u32, u32) -> u32) -> u128 {
    for e in 0..4 {
        let t = f(w(x, 1), w(x, 2), w(x, 3));
        y = y
            .wrapping_add(w(x, 0).rotate_left(5))
            .wrapping_add(t)
            .wrapping_add(w(wv, e));
        let x1 = w(x, 1).rotate_left(30) as u128;
        x = (x & !(0xffff_ffffu128 << 32)) | x1 << 32;
        let top = w(x, 3);
        x = (x << 32) | y as u128;
        y = top;
    }
    x
}

fn sha256_hash(mut x: u128, mut y: u128, wv: u128, part1: bool) -> u128 {
    let ch = |a: u32, b: u32, c: u32| ((b ^ c) & a) ^ c;
    let maj = |a: u32, b: u32, c: u32| (a & b) | ((a | b) & c);
    let s0 = |a: u32| a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
    let s1 = |a: u32| a.rotate_right(6) ^ a.rotate_right(11) ^ a.rotate_right(25);
    for e in 0..4 {
        let chs = ch(w(y, 0), w(y, 1), w(y, 2));
        let mj = maj(w(x, 0), w(x, 1), w(x, 2));
        let t = w(y, 3)
            .wrapping_add(s1(w(y, 0)))
            .wrapping_add(chs)
            .wrapping_add(w(wv, e));
        let x3 = t.wrapping_add(w(x, 3));
        x = (x & !(0xffff_ffffu128 << 96)) | (x3 as u128) << 96;
        let y3 = t.wrapping_add(s0(w(x, 0))).wrapping_add(mj);
        y = (y & !(0xffff_ffffu128 << 96)) | (y3 as u128) << 96;
        let ytop = w(y, 3);
        let xtop = w(x, 3);
        y = (y << 32) | xtop as u128;
        x = (x << 32) | ytop as u128;
    }
    if part1 { x } else { y }
}

/// Whether `insn` (op0 = x111 group) is an AES or SHA1/SHA256 encoding.
pub fn is_crypto(insn: u32) -> bool {
    insn & 0xff3e_0c00 == 0x4e28_0800
        || insn & 0xff20_8c00 == 0x5e00_0000
        || insn & 0xff3e_0c00 == 0x5e28_0800
}

/// Execute an AES / SHA1 / SHA256 instruction.
pub fn exec(r: &mut Regs, insn: u32) -> Result<Out, Undef> {
    let rd = (insn & 31) as usize;
    let rn = ((insn >> 5) & 31) as usize;
    let rm = ((insn >> 16) & 31) as usize;
    if insn & (3 << 22) != 0 {
        return Err(Undef);
    }
    let d = r.v[rd];
    let n = r.v[rn];
    let m = r.v[rm];
    let opcode = (insn >> 12) & 31;
    let res = if insn & 0xff3e_0c00 == 0x4e28_0800 {
        match opcode {
            0b00100 => aes_round(d ^ n, false),
            0b00101 => aes_round(d ^ n, true),
            0b00110 => mix_columns(n, false),
            0b00111 => mix_columns(n, true),
            _ => return Err(Undef),
        }
    } else if insn & 0xff20_8c00 == 0x5e00_0000 {
        let choose = |x: u32, y: u32, z: u32| ((y ^ z) & x) ^ z;
        let parity = |x: u32, y: u32, z: u32| x ^ y ^ z;
        let majority = |x: u32, y: u32, z: u32| (x & y) | ((x | y) & z);
        match opcode & 7 {
            0 => sha1_hash(d, w(n, 0), m, choose),
            1 => sha1_hash(d, w(n, 0), m, parity),
            2 => sha1_hash(d, w(n, 0), m, majority),
            3 => ((n as u64 as u128) << 64 | d >> 64) ^ d ^ m,
            4 => sha256_hash(d, n, m, true),
            5 => sha256_hash(n, d, m, false),
            6 => {
                let t0 = (m as u32 as u128) << 96 | n >> 32;
                let t1 = m >> 64;
                let sig = |e: u32| e.rotate_right(17) ^ e.rotate_right(19) ^ (e >> 10);
                let mut res = 0u128;
                for e in 0..2 {
                    let v = sig(w(t1, e)).wrapping_add(w(d, e)).wrapping_add(w(t0, e));
                    res |= (v as u128) << (32 * e);
                }
                let t1 = res;
                for e in 2..4 {
                    let v = sig(w(t1, e - 2))
                        .wrapping_add(w(d, e))
                        .wrapping_add(w(t0, e));
                    res |= (v as u128) << (32 * e);
                }
                res
            }
            _ => return Err(Undef),
        }
    } else {
        match opcode {
            0b00000 => w(n, 0).rotate_left(30) as u128,
            0b00001 => {
                let t = d ^ (n >> 32);
                let mut res = 0u128;
                for e in 0..4 {
                    let mut v = w(t, e).rotate_left(1);
                    if e == 3 {
                        v ^= w(t, 0).rotate_left(2);
                    }
                    res |= (v as u128) << (32 * e);
                }
                res
            }
            0b00010 => {
                let t = (n as u32 as u128) << 96 | d >> 32;
                let mut res = 0u128;
                for e in 0..4 {
                    let x = w(t, e);
                    let x = x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3);
                    res |= (x.wrapping_add(w(d, e)) as u128) << (32 * e);
                }
                res
            }
            _ => return Err(Undef),
        }
    };
    r.v[rd] = res;
    Ok(Out::None)
}

/// Whether `insn` is in the Armv8.2 cryptographic group (op0 = 1100: SHA512, SHA3, SM3, SM4).
pub fn is_crypto_v82(insn: u32) -> bool {
    insn >> 24 == 0xce
}

fn d(v: u128, i: u32) -> u64 {
    (v >> (64 * i)) as u64
}

fn dd(lo: u64, hi: u64) -> u128 {
    lo as u128 | (hi as u128) << 64
}

/// Execute SHA512H/H2/SU0/SU1 and the SHA3 instructions EOR3/BCAX/RAX1/XAR (SM3/SM4 are
/// not implemented: undefined).
pub fn exec_v82(r: &mut Regs, insn: u32) -> Result<Out, Undef> {
    let rd = (insn & 31) as usize;
    let rn = ((insn >> 5) & 31) as usize;
    let rm = ((insn >> 16) & 31) as usize;
    let ra = ((insn >> 10) & 31) as usize;
    let (w, x, y) = (r.v[rd], r.v[rn], r.v[rm]);
    let res = if insn & 0xffc0_8000 == 0xce00_0000 {
        // EOR3 (Op0 = 00) / BCAX (Op0 = 01)
        let a = r.v[ra];
        if insn & (1 << 21) == 0 {
            x ^ y ^ a
        } else {
            x ^ (y & !a)
        }
    } else if insn & 0xffe0_f000 == 0xce60_8000 {
        match (insn >> 10) & 3 {
            0 => {
                // SHA512H
                let s1 = |v: u64| v.rotate_right(14) ^ v.rotate_right(18) ^ v.rotate_right(41);
                let hi = (d(y, 1) & d(x, 0)) ^ (!d(y, 1) & d(x, 1));
                let hi = hi.wrapping_add(s1(d(y, 1))).wrapping_add(d(w, 1));
                let tmp = hi.wrapping_add(d(y, 0));
                let lo = (tmp & d(y, 1)) ^ (!tmp & d(x, 0));
                let lo = lo.wrapping_add(s1(tmp)).wrapping_add(d(w, 0));
                dd(lo, hi)
            }
            1 => {
                // SHA512H2
                let s0 = |v: u64| v.rotate_right(28) ^ v.rotate_right(34) ^ v.rotate_right(39);
                let hi = (d(x, 0) & d(y, 1)) ^ (d(x, 0) & d(y, 0)) ^ (d(y, 1) & d(y, 0));
                let hi = hi.wrapping_add(s0(d(y, 0))).wrapping_add(d(w, 1));
                let lo = (hi & d(y, 0)) ^ (hi & d(y, 1)) ^ (d(y, 1) & d(y, 0));
                let lo = lo.wrapping_add(s0(hi)).wrapping_add(d(w, 0));
                dd(lo, hi)
            }
            2 => {
                // SHA512SU1
                let s1 = |v: u64| v.rotate_right(19) ^ v.rotate_right(61) ^ (v >> 6);
                let hi = d(w, 1).wrapping_add(s1(d(x, 1))).wrapping_add(d(y, 1));
                let lo = d(w, 0).wrapping_add(s1(d(x, 0))).wrapping_add(d(y, 0));
                dd(lo, hi)
            }
            _ => {
                // RAX1
                dd(
                    d(x, 0) ^ d(y, 0).rotate_left(1),
                    d(x, 1) ^ d(y, 1).rotate_left(1),
                )
            }
        }
    } else if insn & 0xffff_fc00 == 0xcec0_8000 {
        // SHA512SU0
        let s0 = |v: u64| v.rotate_right(1) ^ v.rotate_right(8) ^ (v >> 7);
        dd(
            d(w, 0).wrapping_add(s0(d(w, 1))),
            d(w, 1).wrapping_add(s0(d(x, 0))),
        )
    } else if insn & 0xffe0_0000 == 0xce80_0000 {
        // XAR
        let imm = (insn >> 10) & 63;
        let t = x ^ y;
        dd(d(t, 0).rotate_right(imm), d(t, 1).rotate_right(imm))
    } else {
        return Err(Undef);
    };
    r.v[rd] = res;
    Ok(Out::None)
}

/// CRC32 (`castagnoli`: CRC32C) of `bytes` little-endian bytes of `val`, from `acc`. No
/// pre/post inversion, as the instructions define it.
pub fn crc32(acc: u32, val: u64, bytes: u32, castagnoli: bool) -> u32 {
    let poly: u32 = if castagnoli { 0x82f6_3b78 } else { 0xedb8_8320 };
    let mut crc = acc;
    for i in 0..bytes {
        crc ^= ((val >> (8 * i)) & 0xff) as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (poly & (crc & 1).wrapping_neg());
        }
    }
    crc
}

extern "C" fn crc32_helper(_env: *mut u8, acc: u64, val: u64, desc: u64) -> u64 {
    crc32(acc as u32, val, 1 << (desc & 3), desc & 4 != 0) as u64
}

helper!(H_CRC32 = crc32_helper, 3, Effects::PURE);

/// Translate CRC32{B,H,W,X} / CRC32C{B,H,W,X}. Returns false when unallocated.
pub fn translate_crc32(b: &mut Builder, insn: u32, _pc: u64) -> bool {
    // sf 0 0 11010110 Rm 010 C sz Rn Rd
    if insn & 0x7fe0_e000 != 0x1ac0_4000 {
        return false;
    }
    let sf = insn >> 31;
    let sz = (insn >> 10) & 3;
    if (sz == 3) != (sf == 1) {
        return false;
    }
    let c = (insn >> 12) & 1;
    let rd = insn & 31;
    let rn = (insn >> 5) & 31;
    let rm = (insn >> 16) & 31;
    let acc = get_x(b, rn);
    let val = get_x(b, rm);
    let desc = b.const64((sz | c << 2) as u64);
    let r = b.call(&H_CRC32, &[acc, val, desc]);
    let r32 = b.trunc(r, Ty::I32);
    set_x(b, rd, r32);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_known_values() {
        assert_eq!(SBOX[0x00], 0x63);
        assert_eq!(SBOX[0x53], 0xed);
        assert_eq!(INV_SBOX[0x63], 0x00);
    }

    #[test]
    fn crc32_check_values() {
        // CRC-32 of "123456789" with the usual pre/post inversion is 0xcbf43926;
        // CRC-32C is 0xe3069283.
        let data = b"123456789";
        for (c, want) in [(false, 0xcbf4_3926u32), (true, 0xe306_9283)] {
            let mut acc = !0u32;
            for &x in data {
                acc = crc32(acc, x as u64, 1, c);
            }
            assert_eq!(!acc, want);
        }
    }

    #[test]
    fn aes_round_trip() {
        let x = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
        assert_eq!(mix_columns(mix_columns(x, false), true), x);
        assert_eq!(aes_round(aes_round(x, false), true), x);
    }
}

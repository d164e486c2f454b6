# Misbehaving guest: bad virtio descriptor chains (buffer outside RAM, a chain that loops)
# must put the device in DEVICE_NEEDS_RESET with a config-change interrupt; after a reset
# the device works again. Run with only "-device virtio-rng-device" (slot 0).
        .include "bare.inc"
        .globl _start
        .equ VIO, 0x10001000
        .equ DESC, 0x80100000
        .equ AVAIL, 0x80101000
        .equ USED, 0x80102000
        .equ BUF, 0x80103000
        .text
_start:
        la      t0, trap
        csrw    mtvec, t0
        li      s0, VIO
        lw      t1, 0(s0)
        CHECK   t1, 0x74726976, 0x10
        lw      t1, 4(s0)
        CHECK   t1, 2, 0x11
        lw      t1, 8(s0)
        CHECK   t1, 4, 0x12

        # 1. buffer outside RAM
        call    setup
        li      t0, DESC
        li      t1, 0x40000000
        sd      t1, 0(t0)
        call    post
        lw      t1, 0x70(s0)
        andi    t1, t1, 0x40
        CHECK   t1, 0x40, 0x13
        lw      t1, 0x60(s0)
        andi    t1, t1, 2
        CHECK   t1, 2, 0x14

        # 2. after a reset, a good request completes
        call    setup
        li      t0, DESC
        li      t1, BUF
        sd      t1, 0(t0)
        call    post
        lw      t1, 0x70(s0)
        CHECK   t1, 0xf, 0x15
        li      t0, USED
        lhu     t1, 2(t0)
        CHECK   t1, 1, 0x16
        lw      t1, 8(t0)
        CHECK   t1, 16, 0x17
        lw      t1, 0x60(s0)
        andi    t1, t1, 1
        CHECK   t1, 1, 0x18

        # 3. a chain that loops (descriptor 0 -> 0)
        call    setup
        li      t0, DESC
        li      t1, BUF
        sd      t1, 0(t0)
        li      t1, 3                   # NEXT | WRITE
        sh      t1, 12(t0)
        sh      zero, 14(t0)
        call    post_raw
        lw      t1, 0x70(s0)
        andi    t1, t1, 0x40
        CHECK   t1, 0x40, 0x19

        # 4. descriptor index out of range in the available ring
        call    setup
        li      t0, AVAIL
        li      t1, 200
        sh      t1, 4(t0)
        li      t1, 1
        sh      t1, 2(t0)
        sw      zero, 0x50(s0)
        lw      t1, 0x70(s0)
        andi    t1, t1, 0x40
        CHECK   t1, 0x40, 0x1a

        PRINT   "BARE-VIRTIO-OK\n"
        j       pass

# reset the device and bring queue 0 up (8 entries), clearing the rings
setup:
        sw      zero, 0x70(s0)
        lw      t1, 0x70(s0)
        bnez    t1, setup_fail
        li      t1, 1
        sw      t1, 0x70(s0)
        li      t1, 3
        sw      t1, 0x70(s0)
        li      t1, 1
        sw      t1, 0x24(s0)
        sw      t1, 0x20(s0)            # VIRTIO_F_VERSION_1
        li      t1, 0xb
        sw      t1, 0x70(s0)
        lw      t1, 0x70(s0)
        andi    t1, t1, 8
        beqz    t1, setup_fail
        sw      zero, 0x30(s0)
        li      t1, 8
        sw      t1, 0x38(s0)
        li      t0, DESC
        sw      t0, 0x80(s0)
        sw      zero, 0x84(s0)
        li      t0, AVAIL
        sw      t0, 0x90(s0)
        sw      zero, 0x94(s0)
        li      t0, USED
        sw      t0, 0xa0(s0)
        sw      zero, 0xa4(s0)
        li      t1, 1
        sw      t1, 0x44(s0)
        li      t1, 0xf
        sw      t1, 0x70(s0)
        li      t0, AVAIL               # clear avail, used and the first descriptor
        sd      zero, 0(t0)
        li      t0, USED
        sd      zero, 0(t0)
        sd      zero, 8(t0)
        li      t0, DESC
        sd      zero, 0(t0)
        sd      zero, 8(t0)
        ret
setup_fail:
        li      a0, 0x1f
        j       fail

# descriptor 0: 16 device-writable bytes; publish it and notify
post:
        li      t0, DESC
        li      t1, 16
        sw      t1, 8(t0)
        li      t1, 2
        sh      t1, 12(t0)
post_raw:
        li      t0, DESC
        li      t1, 16
        sw      t1, 8(t0)
        li      t0, AVAIL
        sh      zero, 4(t0)
        fence   w, w
        li      t1, 1
        sh      t1, 2(t0)
        fence   w, o
        sw      zero, 0x50(s0)
        ret

        .align 2
trap:
        li      a0, 0x1e
        j       fail

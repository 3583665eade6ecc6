//go:build !purego

#include "textflag.h"

// One step of the AES-128 key schedule (FIPS 197, 5.2): X0 is the last
// round key, the next is written at off(BX) and left in X0.
#define EXPAND(rcon, off) \
	AESKEYGENASSIST $rcon, X0, X1; \
	PSHUFD $0xff, X1, X1; \
	MOVO X0, X2; \
	PSLLDQ $4, X2; \
	PXOR X2, X0; \
	PSLLDQ $4, X2; \
	PXOR X2, X0; \
	PSLLDQ $4, X2; \
	PXOR X2, X0; \
	PXOR X1, X0; \
	MOVUPS X0, off(BX)

// func expandKey128(key *byte, keys *[176]byte)
TEXT ·expandKey128(SB), NOSPLIT, $0-16
	MOVQ key+0(FP), AX
	MOVQ keys+8(FP), BX
	MOVUPS (AX), X0
	MOVUPS X0, (BX)
	EXPAND(0x01, 16)
	EXPAND(0x02, 32)
	EXPAND(0x04, 48)
	EXPAND(0x08, 64)
	EXPAND(0x10, 80)
	EXPAND(0x20, 96)
	EXPAND(0x40, 112)
	EXPAND(0x80, 128)
	EXPAND(0x1b, 144)
	EXPAND(0x36, 160)
	RET

// func cbcMAC128(keys *[176]byte, x *[16]byte, p *byte, n int)
TEXT ·cbcMAC128(SB), NOSPLIT, $0-32
	MOVQ keys+0(FP), AX
	MOVQ x+8(FP), BX
	MOVQ p+16(FP), SI
	MOVQ n+24(FP), CX
	MOVUPS 0(AX), X1
	MOVUPS 16(AX), X2
	MOVUPS 32(AX), X3
	MOVUPS 48(AX), X4
	MOVUPS 64(AX), X5
	MOVUPS 80(AX), X6
	MOVUPS 96(AX), X7
	MOVUPS 112(AX), X8
	MOVUPS 128(AX), X9
	MOVUPS 144(AX), X10
	MOVUPS 160(AX), X11
	MOVUPS (BX), X0
	TESTQ CX, CX
	JZ done

loop:
	// The block and the first round key are combined off the chain's
	// critical path, which is then one XOR and the ten rounds.
	MOVUPS (SI), X12
	PXOR X1, X12
	PXOR X12, X0
	AESENC X2, X0
	AESENC X3, X0
	AESENC X4, X0
	AESENC X5, X0
	AESENC X6, X0
	AESENC X7, X0
	AESENC X8, X0
	AESENC X9, X0
	AESENC X10, X0
	AESENCLAST X11, X0
	ADDQ $16, SI
	DECQ CX
	JNZ loop

done:
	MOVUPS X0, (BX)
	RET

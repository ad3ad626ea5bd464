//go:build amd64 && !purego

#include "textflag.h"

// func maskAsm(key uint32, pos int, b []byte) int
//
// The key is first rotated so that its low byte is key[pos]. Every block and
// word after that is a multiple of 4 bytes long, so the rotated key stays in
// step with the payload and no byte-by-byte walk back to position 0 is
// needed. Loads and stores are unaligned: b may start anywhere.
TEXT ·maskAsm(SB), NOSPLIT, $0-48
	MOVL key+0(FP), AX
	MOVQ pos+8(FP), CX
	MOVQ b_base+16(FP), DI
	MOVQ b_len+24(FP), BX

	// The position after b is (pos + len(b)) mod 4; only the low two bits
	// of the sum matter, so a wrapping sum is harmless.
	LEAQ (CX)(BX*1), DX
	ANDQ $3, DX
	MOVQ DX, ret+40(FP)

	// Byte i of the little-endian key masks payload byte i: rotate right by
	// 8*pos, then repeat the 4 bytes to fill the 8-byte word.
	ANDL $3, CX
	SHLL $3, CX
	RORL CX, AX
	MOVQ AX, DX
	SHLQ $32, DX
	ORQ  DX, AX

	// Under 32 bytes, moving the key into a vector register costs more
	// than it saves, and Mask is mostly called on short payloads.
	CMPQ BX, $32
	JB   small
	MOVQ AX, X0
	PUNPCKLQDQ X0, X0
	CMPQ BX, $128
	JB   sse64
	CMPB ·useAVX2(SB), $0
	JE   sse64
	VPBROADCASTQ X0, Y0

avx128:
	VPXOR   0(DI), Y0, Y1
	VPXOR   32(DI), Y0, Y2
	VPXOR   64(DI), Y0, Y3
	VPXOR   96(DI), Y0, Y4
	VMOVDQU Y1, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ    $128, DI
	SUBQ    $128, BX
	CMPQ    BX, $128
	JAE     avx128
	// Clear the upper halves of the YMM registers before any SSE
	// instruction runs, or the CPU pays for the AVX-to-SSE transition.
	// X0 keeps its low 128 bits, which the SSE loops use.
	VZEROUPPER

sse64:
	CMPQ  BX, $64
	JB    sse16
	MOVOU 0(DI), X1
	MOVOU 16(DI), X2
	MOVOU 32(DI), X3
	MOVOU 48(DI), X4
	PXOR  X0, X1
	PXOR  X0, X2
	PXOR  X0, X3
	PXOR  X0, X4
	MOVOU X1, 0(DI)
	MOVOU X2, 16(DI)
	MOVOU X3, 32(DI)
	MOVOU X4, 48(DI)
	ADDQ  $64, DI
	SUBQ  $64, BX
	JMP   sse64

sse16:
	CMPQ  BX, $16
	JB    small8
	MOVOU 0(DI), X1
	PXOR  X0, X1
	MOVOU X1, 0(DI)
	ADDQ  $16, DI
	SUBQ  $16, BX
	JMP   sse16

	// Fewer than 32 bytes are left: 16, 8, 4, 2 and 1 of them as the bits
	// of the length say, with no loop, which is what keeps short payloads
	// fast. The pattern repeats every 4 bytes; after 2, the next two key
	// bytes are shifted down.
small:
	TESTQ $16, BX
	JZ    small8
	XORQ  AX, 0(DI)
	XORQ  AX, 8(DI)
	ADDQ  $16, DI

small8:
	TESTQ $8, BX
	JZ    small4
	XORQ  AX, 0(DI)
	ADDQ  $8, DI

small4:
	// Nothing is left when the length was a multiple of 8: skip the tests.
	TESTQ $7, BX
	JZ    done
	TESTQ $4, BX
	JZ    small2
	XORL  AX, 0(DI)
	ADDQ  $4, DI

small2:
	TESTQ $2, BX
	JZ    small1
	XORW  AX, 0(DI)
	ADDQ  $2, DI
	SHRL  $16, AX

small1:
	TESTQ $1, BX
	JZ    done
	XORB  AX, 0(DI)

done:
	RET

//go:build amd64 && !purego

#include "textflag.h"

// func maskBlocks(b []byte, key uint64)
// XORs len(b)/64 blocks of 64 bytes with the 8-byte key pattern, using SSE2
// (part of the amd64 baseline, so no CPU feature check is needed).
TEXT ·maskBlocks(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), DI
	MOVQ b_len+8(FP), CX
	MOVQ key+24(FP), AX
	MOVQ AX, X0
	PUNPCKLQDQ X0, X0
	SHRQ $6, CX
	JZ done
loop:
	MOVOU 0(DI), X1
	MOVOU 16(DI), X2
	MOVOU 32(DI), X3
	MOVOU 48(DI), X4
	PXOR X0, X1
	PXOR X0, X2
	PXOR X0, X3
	PXOR X0, X4
	MOVOU X1, 0(DI)
	MOVOU X2, 16(DI)
	MOVOU X3, 32(DI)
	MOVOU X4, 48(DI)
	ADDQ $64, DI
	DECQ CX
	JNZ loop
done:
	RET

// func cpuHasAVX2() bool
// AVX2 needs the CPU feature (CPUID.7.0:EBX[5]) and the OS saving YMM state
// (CPUID.1:ECX OSXSAVE and AVX, XCR0 bits 1 and 2).
TEXT ·cpuHasAVX2(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	ANDL $0x18000000, CX
	CMPL CX, $0x18000000
	JNE no
	XORL CX, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE no
	MOVL $7, AX
	XORL CX, CX
	CPUID
	BTL $5, BX
	JCC no
	MOVB $1, ret+0(FP)
	RET
no:
	MOVB $0, ret+0(FP)
	RET

// func maskBlocksAVX2(b []byte, key uint64)
// XORs len(b)/128 blocks of 128 bytes with the 8-byte key pattern.
TEXT ·maskBlocksAVX2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), DI
	MOVQ b_len+8(FP), CX
	VPBROADCASTQ key+24(FP), Y0
	SHRQ $7, CX
	JZ done
loop:
	VPXOR 0(DI), Y0, Y1
	VPXOR 32(DI), Y0, Y2
	VPXOR 64(DI), Y0, Y3
	VPXOR 96(DI), Y0, Y4
	VMOVDQU Y1, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ $128, DI
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET

//go:build amd64 && !purego

#include "textflag.h"

// func hasAVX2() bool
//
// AVX2 may be used only if the CPU has it (CPUID leaf 7, EBX bit 5) and the
// operating system saves the YMM registers on a context switch: CPUID leaf 1
// must report OSXSAVE (ECX bit 27, XGETBV usable) and AVX (ECX bit 28), and
// XCR0 must have bits 1 (SSE state) and 2 (AVX state) set. Without the OS
// part, a preempted goroutine could find its YMM registers overwritten.
TEXT ·hasAVX2(SB), NOSPLIT, $0-1
	// Leaf 7 exists only if the highest basic leaf (EAX of leaf 0) is 7 or more.
	XORL AX, AX
	XORL CX, CX
	CPUID
	CMPL AX, $7
	JB   no

	MOVL $1, AX
	XORL CX, CX
	CPUID
	ANDL $0x18000000, CX
	CMPL CX, $0x18000000
	JNE  no

	XORL CX, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE  no

	MOVL $7, AX
	XORL CX, CX
	CPUID
	BTL  $5, BX
	JCC  no
	MOVB $1, ret+0(FP)
	RET

no:
	MOVB $0, ret+0(FP)
	RET

// func hasSSSE3() bool
//
// SSSE3 is CPUID leaf 1, ECX bit 9; it needs no support from the operating
// system beyond the SSE state every amd64 system saves.
TEXT ·hasSSSE3(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	BTL  $9, CX
	SETCS ret+0(FP)
	RET

// func hasAVX512() bool
//
// The AVX-512 kernel needs AVX512F and AVX512BW (CPUID leaf 7, EBX bits 16
// and 30) and AVX512VBMI for VPERMB (ECX bit 1), and the operating system
// must save the opmask and ZMM registers besides the SSE and AVX state
// (XCR0 bits 1, 2, 5, 6 and 7, readable if leaf 1 reports OSXSAVE, ECX bit
// 27). VBMI also leaves out the first AVX-512 CPUs (Skylake-SP), which
// lower their clock for 512-bit work.
TEXT ·hasAVX512(SB), NOSPLIT, $0-1
	XORL AX, AX
	XORL CX, CX
	CPUID
	CMPL AX, $7
	JB   no512

	MOVL $1, AX
	XORL CX, CX
	CPUID
	BTL  $27, CX
	JCC  no512

	XORL   CX, CX
	XGETBV
	ANDL   $0xe6, AX
	CMPL   AX, $0xe6
	JNE    no512

	MOVL $7, AX
	XORL CX, CX
	CPUID
	ANDL $0x40010000, BX
	CMPL BX, $0x40010000
	JNE  no512
	BTL  $1, CX
	JCC  no512
	MOVB $1, ret+0(FP)
	RET

no512:
	MOVB $0, ret+0(FP)
	RET

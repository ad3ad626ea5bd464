//go:build amd64 && !purego

#include "textflag.h"

// UTF-8 validation by the lookup-table method of Keiser and Lemire
// ("Validating UTF-8 In Less Than One Instruction Per Byte", 2021). Every
// rule of RFC 3629 §4 but one is a property of two adjacent bytes, decided
// by three table lookups on nibbles whose results are ANDed: the high and
// low nibble of the first byte and the high nibble of the second. Each bit
// of a table entry is one kind of error:
//
//	0x01 too short: a lead byte not followed by a continuation byte
//	0x02 too long: a continuation byte after an ASCII byte
//	0x04 overlong 3-byte form: E0 followed by 80-9F
//	0x08 too large: F4 followed by 90-BF, F5-FF followed by 90-BF
//	0x10 surrogate: ED followed by A0-BF
//	0x20 overlong 2-byte form: C0 or C1 followed by a continuation byte
//	0x40 overlong 4-byte form (F0 followed by 80-8F), or too large
//	     (F5-FF followed by 80-8F)
//	0x80 two continuation bytes in a row
//
// The one rule that is not about two bytes is the third and fourth byte of
// a sequence, a continuation byte after a continuation byte: bit 0x80 is
// flipped where the byte two before is E0-FF or the byte three before is
// F0-FF, so that "two continuations" is an error exactly where no such
// continuation is expected, and a missing one is an error too.
//
// Each table is 16 bytes, repeated for the second 128-bit lane of VPSHUFB.
DATA utf8Byte1High<>+0x00(SB)/8, $0x0202020202020202
DATA utf8Byte1High<>+0x08(SB)/8, $0x4915012180808080
DATA utf8Byte1High<>+0x10(SB)/8, $0x0202020202020202
DATA utf8Byte1High<>+0x18(SB)/8, $0x4915012180808080
GLOBL utf8Byte1High<>(SB), RODATA|NOPTR, $32

DATA utf8Byte1Low<>+0x00(SB)/8, $0xcbcbcb8b8383a3e7
DATA utf8Byte1Low<>+0x08(SB)/8, $0xcbcbdbcbcbcbcbcb
DATA utf8Byte1Low<>+0x10(SB)/8, $0xcbcbcb8b8383a3e7
DATA utf8Byte1Low<>+0x18(SB)/8, $0xcbcbdbcbcbcbcbcb
GLOBL utf8Byte1Low<>(SB), RODATA|NOPTR, $32

DATA utf8Byte2High<>+0x00(SB)/8, $0x0101010101010101
DATA utf8Byte2High<>+0x08(SB)/8, $0x01010101babaaee6
DATA utf8Byte2High<>+0x10(SB)/8, $0x0101010101010101
DATA utf8Byte2High<>+0x18(SB)/8, $0x01010101babaaee6
GLOBL utf8Byte2High<>(SB), RODATA|NOPTR, $32

// Bytes repeated 32 times: the nibble mask, the two thresholds that make a
// byte 0x80 or more only if it is E0-FF (third byte expected two later) or
// F0-FF (fourth byte expected three later), and the top bit.
DATA utf8Nibble<>+0x00(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA utf8Nibble<>+0x08(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA utf8Nibble<>+0x10(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA utf8Nibble<>+0x18(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL utf8Nibble<>(SB), RODATA|NOPTR, $32

DATA utf8Third<>+0x00(SB)/8, $0x6060606060606060
DATA utf8Third<>+0x08(SB)/8, $0x6060606060606060
DATA utf8Third<>+0x10(SB)/8, $0x6060606060606060
DATA utf8Third<>+0x18(SB)/8, $0x6060606060606060
GLOBL utf8Third<>(SB), RODATA|NOPTR, $32

DATA utf8Fourth<>+0x00(SB)/8, $0x7070707070707070
DATA utf8Fourth<>+0x08(SB)/8, $0x7070707070707070
DATA utf8Fourth<>+0x10(SB)/8, $0x7070707070707070
DATA utf8Fourth<>+0x18(SB)/8, $0x7070707070707070
GLOBL utf8Fourth<>(SB), RODATA|NOPTR, $32

DATA utf8Top<>+0x00(SB)/8, $0x8080808080808080
DATA utf8Top<>+0x08(SB)/8, $0x8080808080808080
DATA utf8Top<>+0x10(SB)/8, $0x8080808080808080
DATA utf8Top<>+0x18(SB)/8, $0x8080808080808080
GLOBL utf8Top<>(SB), RODATA|NOPTR, $32

// A block ends inside a sequence if its last byte is C0-FF, the one before
// E0-FF or the one before that F0-FF: subtracting these bytes with
// saturation leaves a nonzero byte exactly there. The last 16 bytes are the
// same test for a 16-byte block.
DATA utf8MaxLast<>+0x00(SB)/8, $0xffffffffffffffff
DATA utf8MaxLast<>+0x08(SB)/8, $0xffffffffffffffff
DATA utf8MaxLast<>+0x10(SB)/8, $0xffffffffffffffff
DATA utf8MaxLast<>+0x18(SB)/8, $0xbfdfefffffffffff
GLOBL utf8MaxLast<>(SB), RODATA|NOPTR, $32

// UTF8BLOCK_AVX2 checks the 32 bytes in Y3 after the 32 bytes in Y0 (their
// last three are the ones that count), ORs what is wrong into Y1 and leaves
// in Y2 whether Y3 ends inside a sequence; then Y0 = Y3. A block of ASCII
// is only the check that the block before ended on a code point boundary.
// Y8-Y15 hold the tables and constants, Y4-Y7 and AX are scratch.
#define UTF8BLOCK_AVX2(multi, next) \
	VPMOVMSKB  Y3, AX; \
	TESTL      AX, AX; \
	JNZ        multi; \
	VPOR       Y2, Y1, Y1; \
	VPXOR      Y2, Y2, Y2; \
	VMOVDQU    Y3, Y0; \
	JMP        next; \
multi: \
	VPERM2I128 $0x21, Y3, Y0, Y4; \
	VPALIGNR   $15, Y4, Y3, Y5; \
	VPALIGNR   $14, Y4, Y3, Y6; \
	VPALIGNR   $13, Y4, Y3, Y7; \
	VPSRLW     $4, Y5, Y4; \
	VPAND      Y11, Y4, Y4; \
	VPSHUFB    Y4, Y8, Y4; \
	VPAND      Y11, Y5, Y5; \
	VPSHUFB    Y5, Y9, Y5; \
	VPAND      Y5, Y4, Y4; \
	VPSRLW     $4, Y3, Y5; \
	VPAND      Y11, Y5, Y5; \
	VPSHUFB    Y5, Y10, Y5; \
	VPAND      Y5, Y4, Y4; \
	VPSUBUSB   Y12, Y6, Y6; \
	VPSUBUSB   Y13, Y7, Y7; \
	VPOR       Y7, Y6, Y6; \
	VPAND      Y14, Y6, Y6; \
	VPXOR      Y6, Y4, Y4; \
	VPOR       Y4, Y1, Y1; \
	VPSUBUSB   Y15, Y3, Y2; \
	VMOVDQU    Y3, Y0

// func utf8ValidAVX2(p []byte, tail *[32]byte) bool
//
// utf8ValidAVX2 reports whether p followed by tail is valid UTF-8, where
// len(p) is a multiple of 32 and tail is the rest of the input padded with
// zero bytes. A zero byte after the input makes a sequence cut short an
// error like any other, so the end needs no test of its own.
TEXT ·utf8ValidAVX2(SB), NOSPLIT, $0-33
	MOVQ    p_base+0(FP), SI
	MOVQ    p_len+8(FP), CX
	MOVQ    tail+24(FP), DX
	VMOVDQU utf8Byte1High<>(SB), Y8
	VMOVDQU utf8Byte1Low<>(SB), Y9
	VMOVDQU utf8Byte2High<>(SB), Y10
	VMOVDQU utf8Nibble<>(SB), Y11
	VMOVDQU utf8Third<>(SB), Y12
	VMOVDQU utf8Fourth<>(SB), Y13
	VMOVDQU utf8Top<>(SB), Y14
	VMOVDQU utf8MaxLast<>(SB), Y15
	VPXOR   Y0, Y0, Y0
	VPXOR   Y1, Y1, Y1
	VPXOR   Y2, Y2, Y2

	// 128 bytes a turn: when all four blocks are ASCII, as most of most
	// text is, one test covers them; otherwise each is checked in turn.
avxloop:
	CMPQ      CX, $128
	JB        avxloop32
	VMOVDQU   (SI), Y3
	VMOVDQU   32(SI), Y4
	VMOVDQU   64(SI), Y5
	VMOVDQU   96(SI), Y6
	VPOR      Y3, Y4, Y7
	VPOR      Y5, Y6, Y4
	VPOR      Y4, Y7, Y7
	VPMOVMSKB Y7, AX
	TESTL     AX, AX
	JNZ       avx4
	VPOR      Y2, Y1, Y1
	VPXOR     Y2, Y2, Y2
	VMOVDQU   Y6, Y0
	ADDQ      $128, SI
	SUBQ      $128, CX
	JMP       avxloop

avx4:
	UTF8BLOCK_AVX2(avx4multi0, avx4next0)

avx4next0:
	VMOVDQU 32(SI), Y3
	UTF8BLOCK_AVX2(avx4multi1, avx4next1)

avx4next1:
	VMOVDQU 64(SI), Y3
	UTF8BLOCK_AVX2(avx4multi2, avx4next2)

avx4next2:
	VMOVDQU 96(SI), Y3
	UTF8BLOCK_AVX2(avx4multi3, avx4next3)

avx4next3:
	ADDQ $128, SI
	SUBQ $128, CX
	JMP  avxloop

avxloop32:
	CMPQ    CX, $32
	JB      avxtail
	VMOVDQU (SI), Y3
	UTF8BLOCK_AVX2(avxmulti, avxnext)

avxnext:
	ADDQ $32, SI
	SUBQ $32, CX
	JMP  avxloop32

avxtail:
	VMOVDQU (DX), Y3
	UTF8BLOCK_AVX2(avxtailmulti, avxdone)

avxdone:
	VPOR       Y2, Y1, Y1
	VPTEST     Y1, Y1
	SETEQ      ret+32(FP)
	VZEROUPPER
	RET

// UTF8BLOCK_SSE is UTF8BLOCK_AVX2 for 16 bytes in X3 after X0, with
// SSSE3's PSHUFB and PALIGNR; X8-X15 hold the low lanes of the same tables
// and the last 16 bytes of utf8MaxLast.
#define UTF8BLOCK_SSE(multi, next) \
	PMOVMSKB X3, AX; \
	TESTL    AX, AX; \
	JNZ      multi; \
	POR      X2, X1; \
	PXOR     X2, X2; \
	MOVOU    X3, X0; \
	JMP      next; \
multi: \
	MOVOU    X3, X5; \
	PALIGNR  $15, X0, X5; \
	MOVOU    X3, X6; \
	PALIGNR  $14, X0, X6; \
	MOVOU    X3, X7; \
	PALIGNR  $13, X0, X7; \
	MOVOU    X5, X4; \
	PSRLW    $4, X4; \
	PAND     X11, X4; \
	MOVOU    X8, X0; \
	PSHUFB   X4, X0; \
	PAND     X11, X5; \
	MOVOU    X9, X4; \
	PSHUFB   X5, X4; \
	PAND     X4, X0; \
	MOVOU    X3, X5; \
	PSRLW    $4, X5; \
	PAND     X11, X5; \
	MOVOU    X10, X4; \
	PSHUFB   X5, X4; \
	PAND     X4, X0; \
	PSUBUSB  X12, X6; \
	PSUBUSB  X13, X7; \
	POR      X7, X6; \
	PAND     X14, X6; \
	PXOR     X6, X0; \
	POR      X0, X1; \
	MOVOU    X3, X2; \
	PSUBUSB  X15, X2; \
	MOVOU    X3, X0

// func utf8ValidSSSE3(p []byte, tail *[32]byte) bool
//
// utf8ValidSSSE3 is utf8ValidAVX2 16 bytes at a time, for CPUs with SSSE3
// but not AVX2.
TEXT ·utf8ValidSSSE3(SB), NOSPLIT, $0-33
	MOVQ  p_base+0(FP), SI
	MOVQ  p_len+8(FP), CX
	MOVQ  tail+24(FP), DX
	MOVOU utf8Byte1High<>(SB), X8
	MOVOU utf8Byte1Low<>(SB), X9
	MOVOU utf8Byte2High<>(SB), X10
	MOVOU utf8Nibble<>(SB), X11
	MOVOU utf8Third<>(SB), X12
	MOVOU utf8Fourth<>(SB), X13
	MOVOU utf8Top<>(SB), X14
	MOVOU utf8MaxLast<>+16(SB), X15
	PXOR  X0, X0
	PXOR  X1, X1
	PXOR  X2, X2
	// The tail is two more blocks.
	ADDQ  $32, CX

sseloop:
	CMPQ  CX, $32
	JNE   sseload
	MOVQ  DX, SI

sseload:
	TESTQ CX, CX
	JZ    ssedone
	MOVOU (SI), X3
	UTF8BLOCK_SSE(ssemulti, ssenext)

ssenext:
	ADDQ $16, SI
	SUBQ $16, CX
	JMP  sseloop

ssedone:
	POR      X2, X1
	PXOR     X4, X4
	PCMPEQB  X1, X4
	PMOVMSKB X4, AX
	CMPL     AX, $0xffff
	SETEQ    ret+32(FP)
	RET

// func cpuHasSSSE3() bool
//
// SSSE3 is CPUID leaf 1, ECX bit 9; it needs no support from the operating
// system beyond the SSE state every amd64 system saves.
TEXT ·cpuHasSSSE3(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	BTL  $9, CX
	SETCS ret+0(FP)
	RET

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

// How the kernels are laid out, and why (BenchmarkUTF8 shows it).
//
// On text with multibyte characters the check is bound by the number of
// vector instructions per byte. So each byte's three previous bytes are
// loaded from memory at offsets -1, -2 and -3, not shifted in from the
// block before (VPERM2I128 and three VPALIGNR a block, on the ports the
// table lookups need): loads, even across cache lines, cost less. A block
// then needs nothing from the one before, so the blocks of a turn are
// independent and the CPU overlaps them. The first block alone has nothing
// before it: its previous bytes are shifted in from zero, never loaded from
// before p.
//
// A turn (64 bytes; 128 with AVX-512) is checked whole unless it is all
// ASCII: then it is skipped once the bytes before it are known to end on a
// code point boundary, and the ASCII after it is skipped twice as much at a
// time, tested for a byte that is not ASCII and nothing else.
//
// The input's last block is checked whatever the loop has reached, though
// some of it may have been checked already: checking a byte twice is
// harmless, and it saves a padded copy of the tail, which costs more than
// the check on short input (the wide loads would wait for the narrow
// stores of the copy). The caller gives at least a block and three bytes,
// so the loads before the last block stay inside the input: 35 bytes
// (utf8KernelMin), 67 for AVX-512 (utf8KernelMin512).

// UTF8CHECK_AVX2 ORs into Y0 the errors of the 32 bytes in `in`, the byte
// before each in p1, the one before that in p2 and the one before that in
// p3. It clobbers p1, p2, p3 and t, and keeps `in`. Y8-Y14 hold the tables
// and constants.
#define UTF8CHECK_AVX2(in, p1, p2, p3, t) \
	VPSUBUSB Y12, p2, p2; \
	VPSUBUSB Y13, p3, p3; \
	VPOR     p3, p2, p2; \
	VPAND    Y14, p2, p2; \
	VPSRLW   $4, p1, t; \
	VPAND    Y11, t, t; \
	VPSHUFB  t, Y8, t; \
	VPAND    Y11, p1, p1; \
	VPSHUFB  p1, Y9, p1; \
	VPAND    p1, t, t; \
	VPSRLW   $4, in, p1; \
	VPAND    Y11, p1, p1; \
	VPSHUFB  p1, Y10, p1; \
	VPAND    p1, t, t; \
	VPXOR    p2, t, t; \
	VPOR     t, Y0, Y0

// UTF8PREV_AVX2 loads the three vectors that start one, two and three bytes
// before off(SI) into p1, p2 and p3.
#define UTF8PREV_AVX2(off, p1, p2, p3) \
	VMOVDQU off-1(SI), p1; \
	VMOVDQU off-2(SI), p2; \
	VMOVDQU off-3(SI), p3

// func utf8ValidAVX2(p []byte) bool
//
// utf8ValidAVX2 reports whether p is valid UTF-8. len(p) must be at least
// utf8KernelMin (35). Y0 gathers the errors; a nonzero byte is one.
TEXT ·utf8ValidAVX2(SB), NOSPLIT, $0-25
	MOVQ    p_base+0(FP), SI
	MOVQ    p_len+8(FP), CX
	LEAQ    (SI)(CX*1), DX  // end of p
	LEAQ    -64(DX), DI     // the last place a 64-byte turn may start
	LEAQ    -128(DX), BX    // the last place a 128-byte skip may start
	VMOVDQU utf8Byte1High<>(SB), Y8
	VMOVDQU utf8Byte1Low<>(SB), Y9
	VMOVDQU utf8Byte2High<>(SB), Y10
	VMOVDQU utf8Nibble<>(SB), Y11
	VMOVDQU utf8Third<>(SB), Y12
	VMOVDQU utf8Fourth<>(SB), Y13
	VMOVDQU utf8Top<>(SB), Y14
	VMOVDQU utf8MaxLast<>(SB), Y15

	// The first 32 bytes, after zero bytes: their previous bytes are the
	// input's first bytes shifted right within a vector whose low lane is
	// zero and whose high lane is the input's low lane.
	VPXOR      Y0, Y0, Y0
	VMOVDQU    (SI), Y1
	VPERM2I128 $0x08, Y1, Y1, Y2
	VPALIGNR   $15, Y2, Y1, Y3
	VPALIGNR   $14, Y2, Y1, Y4
	VPALIGNR   $13, Y2, Y1, Y5
	UTF8CHECK_AVX2(Y1, Y3, Y4, Y5, Y6)
	ADDQ       $32, SI

avxturn:
	CMPQ      SI, DI
	JHI       avxlast
	VMOVDQU   (SI), Y1
	VMOVDQU   32(SI), Y6
	VPOR      Y1, Y6, Y2
	VPMOVMSKB Y2, AX
	TESTL     AX, AX
	JZ        avxascii
	UTF8PREV_AVX2(0, Y2, Y3, Y4)
	UTF8CHECK_AVX2(Y1, Y2, Y3, Y4, Y5)
	UTF8PREV_AVX2(32, Y2, Y3, Y4)
	UTF8CHECK_AVX2(Y6, Y2, Y3, Y4, Y5)
	ADDQ      $64, SI
	JMP       avxturn

	// 64 bytes of ASCII at SI are valid after any bytes that end on a code
	// point boundary: check that the 32 bytes before SI do, and skip them.
avxascii:
	VMOVDQU  -32(SI), Y1
	VPSUBUSB Y15, Y1, Y1
	VPOR     Y1, Y0, Y0
	ADDQ     $64, SI

	// ASCII after ASCII needs only the test that it is ASCII.
avxskip:
	CMPQ      SI, BX
	JHI       avxturn
	VMOVDQU   (SI), Y1
	VMOVDQU   32(SI), Y2
	VPOR      64(SI), Y1, Y1
	VPOR      96(SI), Y2, Y2
	VPOR      Y1, Y2, Y1
	VPMOVMSKB Y1, AX
	TESTL     AX, AX
	JNZ       avxturn
	ADDQ      $128, SI
	JMP       avxskip

	// Fewer than 64 bytes are left: blocks up to the last 32 bytes, then
	// those, and that they end on a code point boundary.
avxlast:
	LEAQ     -32(DX), DI

avxtail:
	CMPQ     SI, DI
	JHS      avxend
	VMOVDQU  (SI), Y1
	UTF8PREV_AVX2(0, Y2, Y3, Y4)
	UTF8CHECK_AVX2(Y1, Y2, Y3, Y4, Y5)
	ADDQ     $32, SI
	JMP      avxtail

avxend:
	MOVQ     DI, SI
	VMOVDQU  (SI), Y1
	UTF8PREV_AVX2(0, Y2, Y3, Y4)
	UTF8CHECK_AVX2(Y1, Y2, Y3, Y4, Y5)
	VPSUBUSB Y15, Y1, Y1
	VPOR     Y1, Y0, Y0
	VPTEST   Y0, Y0
	SETEQ    ret+24(FP)
	VZEROUPPER
	RET

// UTF8CHECK_AVX512 is UTF8CHECK_AVX2 for 64 bytes, in ten instructions
// rather than sixteen for half as many bytes. VPERMB looks up the low six
// bits of each index in a 64-byte table; with the 16-byte table repeated
// four times (VBROADCASTI32X4), bits 4 and 5 pick among equal copies, so
// the nibbles need no masking: after VPSRLW $4 a byte's high nibble is in
// bits 0-3 and what the shift brought in from its neighbour is in bits 4-7.
// VPTERNLOGD does two logical operations in one. Z8-Z10 hold the tables,
// Z12-Z14 the constants.
#define UTF8CHECK_AVX512(in, p1, p2, p3, t, u) \
	VPSUBUSB   Z12, p2, p2; \
	VPSUBUSB   Z13, p3, p3; \
	VPTERNLOGD $0xa8, Z14, p3, p2; \
	VPSRLW     $4, p1, t; \
	VPERMB     Z8, t, t; \
	VPERMB     Z9, p1, p1; \
	VPSRLW     $4, in, u; \
	VPERMB     Z10, u, u; \
	VPTERNLOGD $0x80, u, p1, t; \
	VPTERNLOGD $0xf6, p2, t, Z0

// UTF8PREV_AVX512 is UTF8PREV_AVX2 for 64 bytes.
#define UTF8PREV_AVX512(off, p1, p2, p3) \
	VMOVDQU64 off-1(SI), p1; \
	VMOVDQU64 off-2(SI), p2; \
	VMOVDQU64 off-3(SI), p3

// func utf8ValidAVX512(p []byte) bool
//
// utf8ValidAVX512 is utf8ValidAVX2 with 64-byte blocks, two to a turn, for
// CPUs with AVX-512 F, BW and VBMI. len(p) must be at least
// utf8KernelMin512 (67). The ternary-logic immediates: 0xa8 is
// (A|B)&C, 0x80 is A&B&C, 0xf6 is A|(B^C), A being the destination.
TEXT ·utf8ValidAVX512(SB), NOSPLIT, $0-25
	MOVQ            p_base+0(FP), SI
	MOVQ            p_len+8(FP), CX
	LEAQ            (SI)(CX*1), DX
	LEAQ            -128(DX), DI
	LEAQ            -256(DX), BX
	VBROADCASTI32X4 utf8Byte1High<>(SB), Z8
	VBROADCASTI32X4 utf8Byte1Low<>(SB), Z9
	VBROADCASTI32X4 utf8Byte2High<>(SB), Z10
	VBROADCASTI32X4 utf8Third<>(SB), Z12
	VBROADCASTI32X4 utf8Fourth<>(SB), Z13
	VBROADCASTI32X4 utf8Top<>(SB), Z14
	VMOVDQU         utf8MaxLast<>(SB), Y15

	// The first 64 bytes, after zero bytes. Not a masked load from before
	// p, which would find the previous bytes zero too: when p starts a
	// page, a masked-off byte in the page before costs a fault-suppression
	// assist, measured at half a microsecond a call.
	VPXORQ     Z0, Z0, Z0
	VMOVDQU64  (SI), Z1
	VALIGNQ    $6, Z0, Z1, Z5
	VPALIGNR   $15, Z5, Z1, Z2
	VPALIGNR   $14, Z5, Z1, Z3
	VPALIGNR   $13, Z5, Z1, Z4
	UTF8CHECK_AVX512(Z1, Z2, Z3, Z4, Z5, Z6)
	ADDQ       $64, SI

zmmturn:
	CMPQ      SI, DI
	JHI       zmmtail
	VMOVDQU64 (SI), Z1
	VMOVDQU64 64(SI), Z7
	VPORQ     Z1, Z7, Z2
	VPMOVB2M  Z2, K1
	KORTESTQ  K1, K1
	JZ        zmmascii
	UTF8PREV_AVX512(0, Z2, Z3, Z4)
	UTF8CHECK_AVX512(Z1, Z2, Z3, Z4, Z5, Z6)
	UTF8PREV_AVX512(64, Z2, Z3, Z4)
	UTF8CHECK_AVX512(Z7, Z2, Z3, Z4, Z5, Z6)
	ADDQ      $128, SI
	JMP       zmmturn

	// The end-of-sequence test reads the 32 bytes before SI into Y1,
	// which clears the upper half of Z1.
zmmascii:
	VMOVDQU  -32(SI), Y1
	VPSUBUSB Y15, Y1, Y1
	VPORQ    Z1, Z0, Z0
	ADDQ     $128, SI

zmmskip:
	CMPQ      SI, BX
	JHI       zmmturn
	VMOVDQU64 (SI), Z1
	VMOVDQU64 64(SI), Z2
	VPORQ     128(SI), Z1, Z1
	VPORQ     192(SI), Z2, Z2
	VPORQ     Z1, Z2, Z1
	VPMOVB2M  Z1, K1
	KORTESTQ  K1, K1
	JNZ       zmmturn
	ADDQ      $256, SI
	JMP       zmmskip

	// Fewer than 128 bytes are left: one more block if 64 are, then the
	// last 64 bytes.
zmmtail:
	LEAQ      -64(DX), DI
	CMPQ      SI, DI
	JHI       zmmlast
	VMOVDQU64 (SI), Z1
	UTF8PREV_AVX512(0, Z2, Z3, Z4)
	UTF8CHECK_AVX512(Z1, Z2, Z3, Z4, Z5, Z6)

zmmlast:
	MOVQ      DI, SI
	VMOVDQU64 (SI), Z1
	UTF8PREV_AVX512(0, Z2, Z3, Z4)
	UTF8CHECK_AVX512(Z1, Z2, Z3, Z4, Z5, Z6)
	VMOVDQU   -32(DX), Y1
	VPSUBUSB  Y15, Y1, Y1
	VPORQ     Z1, Z0, Z0
	VPTESTMB  Z0, Z0, K1
	KORTESTQ  K1, K1
	SETEQ     ret+24(FP)
	VZEROUPPER
	RET

// UTF8CHECK_SSE is UTF8CHECK_AVX2 for 16 bytes with SSSE3, whose two-operand
// instructions overwrite their destination: it clobbers `in` too, and u.
// X8-X14 hold the low lanes of the tables and constants.
#define UTF8CHECK_SSE(in, p1, p2, p3, t, u) \
	PSUBUSB X12, p2; \
	PSUBUSB X13, p3; \
	POR     p3, p2; \
	PAND    X14, p2; \
	MOVOU   p1, t; \
	PSRLW   $4, t; \
	PAND    X11, t; \
	MOVOU   X8, u; \
	PSHUFB  t, u; \
	PAND    X11, p1; \
	MOVOU   X9, t; \
	PSHUFB  p1, t; \
	PAND    t, u; \
	PSRLW   $4, in; \
	PAND    X11, in; \
	MOVOU   X10, t; \
	PSHUFB  in, t; \
	PAND    t, u; \
	PXOR    p2, u; \
	POR     u, X0

// UTF8LOAD_SSE loads the 16 bytes at off(SI) into in and the three vectors
// that start one, two and three bytes before it into p1, p2 and p3.
#define UTF8LOAD_SSE(off, in, p1, p2, p3) \
	MOVOU off(SI), in; \
	MOVOU off-1(SI), p1; \
	MOVOU off-2(SI), p2; \
	MOVOU off-3(SI), p3

// func utf8ValidSSSE3(p []byte) bool
//
// utf8ValidSSSE3 is utf8ValidAVX2 with SSSE3, for CPUs without AVX2: the
// same layout, with 16-byte blocks.
TEXT ·utf8ValidSSSE3(SB), NOSPLIT, $0-25
	MOVQ  p_base+0(FP), SI
	MOVQ  p_len+8(FP), CX
	LEAQ  (SI)(CX*1), DX
	LEAQ  -64(DX), DI
	LEAQ  -128(DX), BX
	MOVOU utf8Byte1High<>(SB), X8
	MOVOU utf8Byte1Low<>(SB), X9
	MOVOU utf8Byte2High<>(SB), X10
	MOVOU utf8Nibble<>(SB), X11
	MOVOU utf8Third<>(SB), X12
	MOVOU utf8Fourth<>(SB), X13
	MOVOU utf8Top<>(SB), X14
	MOVOU utf8MaxLast<>+16(SB), X15

	// The first 16 bytes, after zero bytes, and the next 16 as any other.
	PXOR  X0, X0
	MOVOU (SI), X1
	MOVOU X1, X2
	PALIGNR $15, X0, X2
	MOVOU X1, X3
	PALIGNR $14, X0, X3
	MOVOU X1, X4
	PALIGNR $13, X0, X4
	UTF8CHECK_SSE(X1, X2, X3, X4, X5, X6)
	UTF8LOAD_SSE(16, X1, X2, X3, X4)
	UTF8CHECK_SSE(X1, X2, X3, X4, X5, X6)
	ADDQ  $32, SI

sseturn:
	CMPQ     SI, DI
	JHI      sselast
	MOVOU    (SI), X1
	MOVOU    16(SI), X2
	MOVOU    32(SI), X3
	MOVOU    48(SI), X4
	POR      X2, X1
	POR      X4, X3
	POR      X3, X1
	PMOVMSKB X1, AX
	TESTL    AX, AX
	JZ       sseascii
	UTF8LOAD_SSE(0, X1, X2, X3, X4)
	UTF8CHECK_SSE(X1, X2, X3, X4, X5, X6)
	UTF8LOAD_SSE(16, X1, X2, X3, X4)
	UTF8CHECK_SSE(X1, X2, X3, X4, X5, X6)
	UTF8LOAD_SSE(32, X1, X2, X3, X4)
	UTF8CHECK_SSE(X1, X2, X3, X4, X5, X6)
	UTF8LOAD_SSE(48, X1, X2, X3, X4)
	UTF8CHECK_SSE(X1, X2, X3, X4, X5, X6)
	ADDQ     $64, SI
	JMP      sseturn

sseascii:
	MOVOU   -16(SI), X1
	PSUBUSB X15, X1
	POR     X1, X0
	ADDQ    $64, SI

sseskip:
	CMPQ     SI, BX
	JHI      sseturn
	MOVOU    (SI), X1
	MOVOU    16(SI), X2
	MOVOU    32(SI), X3
	MOVOU    48(SI), X4
	POR      X3, X1
	POR      X4, X2
	MOVOU    64(SI), X3
	MOVOU    80(SI), X4
	POR      X3, X1
	POR      X4, X2
	MOVOU    96(SI), X3
	MOVOU    112(SI), X4
	POR      X3, X1
	POR      X4, X2
	POR      X2, X1
	PMOVMSKB X1, AX
	TESTL    AX, AX
	JNZ      sseturn
	ADDQ     $128, SI
	JMP      sseskip

sselast:
	LEAQ    -16(DX), DI

ssetail:
	CMPQ    SI, DI
	JHS     sseend
	UTF8LOAD_SSE(0, X1, X2, X3, X4)
	UTF8CHECK_SSE(X1, X2, X3, X4, X5, X6)
	ADDQ    $16, SI
	JMP     ssetail

sseend:
	MOVQ    DI, SI
	UTF8LOAD_SSE(0, X1, X2, X3, X4)
	UTF8CHECK_SSE(X1, X2, X3, X4, X5, X6)
	MOVOU   (SI), X1
	PSUBUSB X15, X1
	POR     X1, X0
	PXOR     X1, X1
	PCMPEQB  X0, X1
	PMOVMSKB X1, AX
	CMPL     AX, $0xffff
	SETEQ    ret+24(FP)
	RET

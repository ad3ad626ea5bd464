package deflate

import (
	"compress/flate"
	"encoding/binary"
	"io"
	"math/bits"
	"slices"
	"sync"
)

// The Encoder, written for what compress/flate cannot do: its
// back-references never reach further back than the window agreed with the
// peer (2^bits bytes, bits from 8 to 15, RFC 7692 §7.1.2), and with context
// takeover it keeps between messages only that window of history and a
// small hash table instead of a whole compressor.
//
// LZ77 finds matches through a table of the last four positions seen with
// each hash of 4 bytes: at flate.BestSpeed it tries the most recent only,
// greedily, as compress/flate's BestSpeed; at other levels it tries all four
// and matches lazily, much as zlib's middle levels. The table holds the low
// 16 bits of stream positions, so it needs no clearing between messages or
// connections: a candidate is used only when its distance lies within both
// the window and the bytes at hand, and its bytes match, so a stale entry
// costs a miss, never a wrong reference. Each block is coded with whichever
// of dynamic Huffman codes, the fixed codes and stored bytes is shortest.
//
// With a window of 8 bits, zlib compresses with 9 (RFC 7692 §7.1.2.1 notes
// it); this encoder keeps to the 256 bytes agreed, and the Inflater keeps
// 512 bytes of history for a peer that uses zlib's.

const (
	encHashBits = 10 // buckets of encWays entries of 2 bytes: 8 KiB
	encWays     = 4  // candidates kept per hash, the most recent first
	encTable    = encWays << encHashBits
	encMinMatch = 4 // bytes hashed; DEFLATE allows 3, which seldom pays
	encMaxMatch = 258
	encMaxToken = 1 << 14 // tokens per block
	encBlockIn  = 1 << 16 // input bytes per block at most, past the window
	maxStored   = 65535   // longest stored block (RFC 1951 §3.2.4)

	tokenMatch = 1 << 31 // token: length-3 in bits 16-23, distance-1 in bits 0-14

	numLitLen = 286
	numDist   = 30
	numCL     = 19
	endBlock  = 256
)

// An Encoder compresses one direction of a permessage-deflate stream, a
// message at a time: Begin, Write as often as needed and End, or
// AppendCompressed for a whole message. Its buffer holds the context (the
// last window bytes of earlier input, which back-references may reach)
// followed by input not yet compressed; scratch space for a message in
// flight comes from a pool and goes back at its end.
//
// An Encoder is not safe for concurrent use: its messages follow one
// another. It is made by NewEncoder, and may be held and copied by value
// while no message is in flight.
type Encoder struct {
	window   int // farthest back-reference allowed: 1<<bits
	level    int // flate.HuffmanOnly: no back-references at all
	takeover bool
	effort   effort

	// Kept between messages with context takeover, nil without.
	hist  []byte // the last window bytes of input, and room for short messages
	table *[encTable]uint16
	off   uint32 // stream position of buf[0]

	// In flight, from begin to end.
	s          *encScratch
	buf        []byte // hist, or s.buf once input outgrows it
	start      int    // buf[:start] is context or compressed; buf[start:] is pending
	blockStart int    // first input byte of the block being built
	ntok       int
	w          io.Writer // where output goes after each block; nil: it stays in bw.out
	bw         bitWriter
	err        error
}

// encScratch is what an encoder uses only while a message is in flight.
type encScratch struct {
	buf      []byte // window + encBlockIn
	table    [encTable]uint16
	tokens   [encMaxToken]uint32
	out      []byte
	litFreq  [numLitLen]uint32
	distFreq [numDist]uint32
	lit      huffCode
	dist     huffCode
	cl       huffCode
	clFreq   [numCL]uint32
	clSyms   [numLitLen + numDist]uint16 // code-length symbols, extra bits in the high byte
	lens     [numLitLen + numDist]uint8
	sort     [numLitLen]uint32
}

var encScratchPool = sync.Pool{New: func() any {
	return &encScratch{buf: make([]byte, 0, maxWindow+encBlockIn), out: make([]byte, 0, 4096)}
}}

// huffCode is a canonical Huffman code (RFC 1951 §3.2.2), codes bit-reversed
// since DEFLATE packs them from their most significant bit.
type huffCode struct {
	code [288]uint16 // the fixed code has 288 lengths, 286 and 287 unused
	len  [288]uint8
}

// effort is how hard the encoder looks for matches.
type effort struct {
	ways      int // candidates tried per position, of encWays
	lazyBelow int // matches shorter than this are tried one byte on
	insertEnd int // positions of a match inserted at each end
}

var (
	// fastEffort, flate.BestSpeed, tries the last position seen with each
	// hash, as compress/flate's BestSpeed and zlib's level 1 do.
	fastEffort = effort{ways: 1, lazyBelow: 0, insertEnd: 4}
	// thoroughEffort, every other level, tries four and matches lazily,
	// as zlib's levels 4 to 9 do with longer chains.
	thoroughEffort = effort{ways: encWays, lazyBelow: 16, insertEnd: 16}
)

// NewEncoder returns an Encoder that compresses at a compress/flate level
// (flate.BestSpeed, any other level from flate.BestCompression down, or
// flate.HuffmanOnly, which makes no back-references) within a window of
// 2^windowBits bytes, windowBits from 8 to 15 (RFC 7692 §7.1.2). With
// takeover, each message may refer to the ones before (RFC 7692 §7.2.1),
// and the Encoder keeps their last window of bytes and a 16 KiB table
// between messages (Retained); without, it keeps nothing.
func NewEncoder(windowBits, level int, takeover bool) Encoder {
	e := Encoder{window: 1 << windowBits, level: level, takeover: takeover, effort: thoroughEffort}
	if level == flate.BestSpeed {
		e.effort = fastEffort
	}
	return e
}

// Begin starts a message whose compressed bytes are written to w, a block
// at a time as Write fills the buffer, and the rest at End. w is not kept
// past End. A message begun must be ended, even after an error.
func (e *Encoder) Begin(w io.Writer) { e.begin(w, nil) }

// begin starts a message whose compressed bytes go to w after each block, or,
// if w is nil, are appended to dst and returned by end.
func (e *Encoder) begin(w io.Writer, dst []byte) {
	e.s = encScratchPool.Get().(*encScratch)
	e.w, e.err = w, nil
	if w == nil {
		e.bw = bitWriter{out: dst}
	} else {
		e.bw = bitWriter{out: e.s.out[:0]}
	}
	if e.takeover {
		if e.hist == nil {
			e.hist = make([]byte, 0, e.window+histSlack(e.window))
			e.table = new([encTable]uint16)
		}
		if len(e.hist) > e.window && cap(e.hist)-len(e.hist) < histSlack(e.window)/2 {
			d := len(e.hist) - e.window
			e.hist = e.hist[:copy(e.hist, e.hist[d:])]
			e.off += uint32(d)
		}
		e.buf = e.hist
	} else {
		e.buf, e.off, e.table = e.s.buf[:0], 0, &e.s.table
	}
	e.start, e.blockStart, e.ntok = len(e.buf), len(e.buf), 0
	clear(e.s.litFreq[:])
	clear(e.s.distFreq[:])
}

// Write adds p to the message begun; p is not kept. It returns len(p), or
// 0 and the error of a write to Begin's writer, which ends the compression
// of the message: the rest of it is dropped, and End returns the error
// too.
func (e *Encoder) Write(p []byte) (int, error) {
	if e.write(p); e.err != nil {
		return 0, e.err
	}
	return len(p), nil
}

// write adds p to the message.
func (e *Encoder) write(p []byte) {
	for len(p) > 0 && e.err == nil {
		if len(e.buf) == cap(e.buf) {
			e.makeRoom()
		}
		k := min(cap(e.buf)-len(e.buf), len(p))
		e.buf = append(e.buf, p[:k]...)
		p = p[k:]
	}
}

// makeRoom frees space in a full buffer: a full history moves to the
// scratch buffer, and a full scratch buffer is compressed and slid down to
// its last window of bytes.
func (e *Encoder) makeRoom() {
	if cap(e.buf) < cap(e.s.buf) {
		e.buf = append(e.s.buf[:0], e.buf...)
		return
	}
	e.compress(len(e.buf))
	e.emitBlock(len(e.buf))
	e.flushOut()
	d := len(e.buf) - min(e.window, len(e.buf))
	e.buf = e.buf[:copy(e.buf, e.buf[d:])]
	e.off += uint32(d)
	e.start, e.blockStart = len(e.buf), len(e.buf)
}

// End compresses what is pending, ends the message with the start of an
// empty stored block, the sync flush whose 0x00 0x00 0xff 0xff RFC 7692
// §7.2.1 removes, writes it to Begin's writer and gives the scratch space
// back. It returns the first error of the writer. With context takeover
// the last window of input is kept for the next message.
func (e *Encoder) End() error {
	_, err := e.end()
	return err
}

// end is End, which returns the output too if begin had no writer.
func (e *Encoder) end() ([]byte, error) {
	if e.err == nil {
		e.compress(len(e.buf))
		e.emitBlock(len(e.buf))
		e.bw.bits(0, 3) // BFINAL 0, BTYPE 00: a stored block
		e.bw.align()
		e.flushOut()
	}
	if e.takeover {
		if cap(e.buf) != cap(e.hist) {
			k := min(e.window, len(e.buf))
			e.hist = e.hist[:copy(e.hist[:k], e.buf[len(e.buf)-k:])]
			e.off += uint32(len(e.buf) - k)
		} else {
			e.hist = e.buf
		}
	}
	out, err := e.bw.out, e.err
	if e.w != nil {
		out = nil
		e.s.out = e.bw.out[:0]
	}
	e.s.buf = e.s.buf[:0]
	encScratchPool.Put(e.s)
	e.s, e.buf, e.w, e.bw = nil, nil, nil, bitWriter{}
	if !e.takeover {
		e.table = nil
	}
	return out, err
}

// active reports whether a message is in flight.
func (e *Encoder) active() bool { return e.s != nil }

// AppendCompressed appends to dst the compressed payload of the message p,
// as Begin, Write and End would write it, and returns the extended slice.
// It cannot fail: there is no writer.
func (e *Encoder) AppendCompressed(dst, p []byte) []byte {
	e.begin(nil, dst)
	e.write(p)
	out, _ := e.end()
	return out
}

// Retained returns how many bytes of memory the Encoder keeps between
// messages: with context takeover, its history and hash table once a
// message has been compressed; without, none.
func (e *Encoder) Retained() int {
	n := cap(e.hist)
	if e.takeover && e.table != nil {
		n += len(e.table) * 2
	}
	return n
}

func (e *Encoder) flushOut() {
	if e.w == nil || len(e.bw.out) == 0 || e.err != nil {
		return
	}
	_, e.err = e.w.Write(e.bw.out)
	e.bw.out = e.bw.out[:0]
}

func load32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }

func hash4(x uint32) uint32 { return x * 0x1e35a7bd >> (32 - encHashBits) }

// compress turns buf[start:end] into tokens.
func (e *Encoder) compress(end int) {
	buf := e.buf[:end]
	i := e.start
	e.start = end
	if e.level == flate.HuffmanOnly {
		e.literals(buf[i:end], i)
		return
	}
	lit, miss := i, 0
	for i+encMinMatch <= end {
		n, dist := e.find(buf, i, end)
		if n == 0 {
			miss++
			i += 1 + miss>>5 // skip faster through data that does not compress
			continue
		}
		// Lazy matching, as zlib's levels 4 to 9: a longer match one
		// byte on wins over a short one.
		if n < e.effort.lazyBelow && i+1+encMinMatch <= end {
			if n2, dist2 := e.find(buf, i+1, end); n2 > n {
				i, n, dist = i+1, n2, dist2
			}
		}
		e.literals(buf[lit:i], lit)
		e.match(n, dist, i)
		// The positions inside a match become candidates too: all of a
		// short one, the ends of a long one, where repeats of the text
		// before and after it start.
		last, ends := min(i+n, end-encMinMatch+1), e.effort.insertEnd
		for j := i + 1; j < last; j++ {
			if j == i+ends && last-j > ends {
				j = last - ends
			}
			e.insert(buf, j)
		}
		i += n
		lit, miss = i, 0
	}
	e.literals(buf[lit:end], lit)
}

// find returns the longest match for buf[i:end] among the candidates of
// its hash, or 0, and adds i to them.
func (e *Encoder) find(buf []byte, i, end int) (n, dist int) {
	x := load32(buf, i)
	b := e.table[hash4(x)*encWays:][:encWays]
	pos := uint16(e.off + uint32(i))
	limit := min(e.window, i)
	stop := buf[i+encMinMatch : min(end, i+encMaxMatch)]
	for _, c := range b[:e.effort.ways] {
		d := int(pos - c)
		if d == 0 || d > limit || load32(buf, i-d) != x {
			continue
		}
		if k := encMinMatch + matchLen(buf[i-d+encMinMatch:], stop); k > n {
			n, dist = k, d
		}
	}
	copy(b[1:], b[:encWays-1])
	b[0] = pos
	return n, dist
}

// insert adds position i to the candidates of its hash.
func (e *Encoder) insert(buf []byte, i int) {
	b := e.table[hash4(load32(buf, i))*encWays:][:encWays]
	copy(b[1:], b[:encWays-1])
	b[0] = uint16(e.off + uint32(i))
}

// matchLen returns how many leading bytes of b equal those of a, which is
// at least as long.
func matchLen(a, b []byte) int {
	n := 0
	for len(b)-n >= 8 {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// literals adds the bytes lits, found at buf[at:], as literal tokens.
func (e *Encoder) literals(lits []byte, at int) {
	s := e.s
	for len(lits) > 0 {
		if e.ntok == encMaxToken {
			e.emitBlock(at)
		}
		k := min(len(lits), encMaxToken-e.ntok)
		for j, c := range lits[:k] {
			s.tokens[e.ntok+j] = uint32(c)
			s.litFreq[c]++
		}
		e.ntok += k
		lits, at = lits[k:], at+k
	}
}

// match adds a back-reference of n bytes at distance dist, found at buf[at:].
func (e *Encoder) match(n, dist, at int) {
	if e.ntok == encMaxToken {
		e.emitBlock(at)
	}
	e.s.tokens[e.ntok] = tokenMatch | uint32(n-3)<<16 | uint32(dist-1)
	e.ntok++
	e.s.litFreq[257+int(lengthCode[n-3])]++
	e.s.distFreq[distCode(uint32(dist-1))]++
}

// Length and distance codes (RFC 1951 §3.2.5).
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder     = [numCL]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	lengthCode = func() (t [256]uint8) { // by length-3
		for c := 0; c < 28; c++ {
			for v := int(lengthBase[c]); v < int(lengthBase[c])+1<<lengthExtra[c] && v <= 258; v++ {
				t[v-3] = uint8(c)
			}
		}
		t[255] = 28
		return t
	}()

	fixedLit, fixedDist = func() (lit, dist huffCode) { // RFC 1951 §3.2.6
		for i := range 288 {
			switch {
			case i < 144:
				lit.len[i] = 8
			case i < 256:
				lit.len[i] = 9
			case i < 280:
				lit.len[i] = 7
			default:
				lit.len[i] = 8
			}
		}
		lit.assign(288)
		for i := range numDist {
			dist.len[i] = 5
		}
		dist.assign(numDist)
		return lit, dist
	}()
)

// distCode returns the code of a distance less one (RFC 1951 §3.2.5).
func distCode(d uint32) int {
	if d < 4 {
		return int(d)
	}
	nb := bits.Len32(d) - 1
	return 2*nb + int(d>>(nb-1)&1)
}

// emitBlock codes the tokens gathered since blockStart, whose input is
// buf[blockStart:end], as one block.
func (e *Encoder) emitBlock(end int) {
	s := e.s
	if e.ntok == 0 {
		e.blockStart = end
		return
	}
	s.litFreq[endBlock] = 1
	buildLengths(s.litFreq[:], s.lit.len[:], 15, &s.sort)
	nDistUsed := 0
	for _, f := range s.distFreq {
		if f != 0 {
			nDistUsed++
		}
	}
	if nDistUsed == 0 {
		s.distFreq[0] = 1 // one code of one bit: no distances, as zlib does
	}
	buildLengths(s.distFreq[:], s.dist.len[:numDist], 15, &s.sort)
	nlit, ndist := numLitLen, numDist
	for nlit > 257 && s.lit.len[nlit-1] == 0 {
		nlit--
	}
	for ndist > 1 && s.dist.len[ndist-1] == 0 {
		ndist--
	}
	nsyms := e.codeLengthSymbols(nlit, ndist)
	buildLengths(s.clFreq[:], s.cl.len[:numCL], 7, &s.sort)
	ncl := numCL
	for ncl > 4 && s.cl.len[clOrder[ncl-1]] == 0 {
		ncl--
	}

	// Sizes in bits of the three ways to code the block (RFC 1951 §3.2.3).
	var data, fixed uint64
	for c, f := range s.litFreq {
		if f == 0 {
			continue
		}
		extra := uint64(0)
		if c > endBlock {
			extra = uint64(lengthExtra[c-257])
		}
		data += uint64(f) * (uint64(s.lit.len[c]) + extra)
		fixed += uint64(f) * (uint64(fixedLit.len[c]) + extra)
	}
	if nDistUsed > 0 {
		for c, f := range s.distFreq {
			data += uint64(f) * (uint64(s.dist.len[c]) + uint64(distExtra[c]))
			fixed += uint64(f) * (5 + uint64(distExtra[c]))
		}
	}
	dynamic := 3 + 14 + 3*uint64(ncl) + data
	for c, f := range s.clFreq {
		dynamic += uint64(f) * uint64(s.cl.len[c])
	}
	dynamic += 2*uint64(s.clFreq[16]) + 3*uint64(s.clFreq[17]) + 7*uint64(s.clFreq[18])
	fixed += 3
	n := end - e.blockStart
	stored := uint64(n)*8 + uint64(max(1, (n+maxStored-1)/maxStored))*(3+7+32)

	switch {
	case stored <= fixed && stored <= dynamic:
		e.writeStored(e.buf[e.blockStart:end])
	case fixed <= dynamic:
		e.bw.bits(1<<1, 3) // BTYPE 01
		e.writeTokens(&fixedLit, &fixedDist)
	default:
		s.lit.assign(numLitLen)
		s.dist.assign(numDist)
		s.cl.assign(numCL)
		e.bw.bits(2<<1, 3) // BTYPE 10
		e.bw.bits(uint64(nlit-257), 5)
		e.bw.bits(uint64(ndist-1), 5)
		e.bw.bits(uint64(ncl-4), 4)
		for _, c := range clOrder[:ncl] {
			e.bw.bits(uint64(s.cl.len[c]), 3)
		}
		for _, sym := range s.clSyms[:nsyms] {
			c := sym & 0xff
			e.bw.bits(uint64(s.cl.code[c]), uint(s.cl.len[c]))
			switch c {
			case 16:
				e.bw.bits(uint64(sym>>8), 2)
			case 17:
				e.bw.bits(uint64(sym>>8), 3)
			case 18:
				e.bw.bits(uint64(sym>>8), 7)
			}
		}
		e.writeTokens(&s.lit, &s.dist)
	}
	e.ntok, e.blockStart = 0, end
	clear(s.litFreq[:])
	clear(s.distFreq[:])
}

func (e *Encoder) writeStored(p []byte) {
	for {
		k := min(len(p), maxStored)
		e.bw.bits(0, 3)
		e.bw.align()
		e.bw.out = append(e.bw.out, byte(k), byte(k>>8), ^byte(k), ^byte(k>>8))
		e.bw.out = append(e.bw.out, p[:k]...)
		if p = p[k:]; len(p) == 0 {
			return
		}
	}
}

func (e *Encoder) writeTokens(lit, dist *huffCode) {
	bw := &e.bw
	for _, t := range e.s.tokens[:e.ntok] {
		if t < tokenMatch {
			bw.bits(uint64(lit.code[t]), uint(lit.len[t]))
			continue
		}
		l := t >> 16 & 0xff
		lc := lengthCode[l]
		bw.bits(uint64(lit.code[257+int(lc)]), uint(lit.len[257+int(lc)]))
		bw.bits(uint64(l+3-uint32(lengthBase[lc])), uint(lengthExtra[lc]))
		d := t & 0x7fff
		dc := distCode(d)
		bw.bits(uint64(dist.code[dc]), uint(dist.len[dc]))
		bw.bits(uint64(d+1-uint32(distBase[dc])), uint(distExtra[dc]))
	}
	bw.bits(uint64(lit.code[endBlock]), uint(lit.len[endBlock]))
}

// codeLengthSymbols run-length codes the lengths of both codes as one
// sequence (RFC 1951 §3.2.7) into clSyms and counts them in clFreq.
func (e *Encoder) codeLengthSymbols(nlit, ndist int) int {
	s := e.s
	lens := append(append(s.lens[:0], s.lit.len[:nlit]...), s.dist.len[:ndist]...)
	clear(s.clFreq[:])
	n := 0
	put := func(sym, extra int) {
		s.clSyms[n] = uint16(sym | extra<<8)
		s.clFreq[sym]++
		n++
	}
	for i := 0; i < len(lens); {
		l := lens[i]
		run := 1
		for i+run < len(lens) && lens[i+run] == l {
			run++
		}
		i += run
		if l == 0 {
			for run >= 11 {
				r := min(run, 138)
				put(18, r-11)
				run -= r
			}
			if run >= 3 {
				put(17, run-3)
				run = 0
			}
		} else {
			put(int(l), 0)
			run--
			for run >= 3 {
				r := min(run, 6)
				put(16, r-3)
				run -= r
			}
		}
		for ; run > 0; run-- {
			put(int(l), 0)
		}
	}
	return n
}

// buildLengths sets lens to the lengths of a Huffman code for freq, none
// longer than maxBits: lengths of minimum redundancy (Moffat and Katajainen's
// in-place method), then the longest cut down to maxBits by moving leaves
// deeper, as zlib and miniz do, which keeps the code complete.
func buildLengths(freq []uint32, lens []uint8, maxBits int, tmp *[numLitLen]uint32) {
	clear(lens)
	syms := tmp[:0]
	for s, f := range freq {
		if f != 0 {
			syms = append(syms, f<<9|uint32(s))
		}
	}
	switch len(syms) {
	case 0:
		return
	case 1:
		lens[syms[0]&0x1ff] = 1
		return
	}
	slices.Sort(syms)
	var a [numLitLen]uint32
	n := len(syms)
	for i, v := range syms {
		a[i] = v >> 9
	}
	// Moffat and Katajainen, "In-place calculation of minimum-redundancy codes".
	a[0] += a[1]
	root, leaf := 0, 2
	for next := 1; next < n-1; next++ {
		if leaf >= n || a[root] < a[leaf] {
			a[next] = a[root]
			a[root] = uint32(next)
			root++
		} else {
			a[next] = a[leaf]
			leaf++
		}
		if leaf >= n || root < next && a[root] < a[leaf] {
			a[next] += a[root]
			a[root] = uint32(next)
			root++
		} else {
			a[next] += a[leaf]
			leaf++
		}
	}
	a[n-2] = 0
	for next := n - 3; next >= 0; next-- {
		a[next] = a[a[next]] + 1
	}
	avail, used, depth := 1, 0, uint32(0)
	root, next := n-2, n-1
	for avail > 0 {
		for root >= 0 && a[root] == depth {
			used++
			root--
		}
		for avail > used {
			a[next] = depth
			next--
			avail--
		}
		avail, depth, used = 2*used, depth+1, 0
	}
	// a[i] is now the length of syms[i], longest first.
	var count [32]int
	for _, l := range a[:n] {
		count[min(l, 31)]++
	}
	if a[0] > uint32(maxBits) {
		for l := maxBits + 1; l < len(count); l++ {
			count[maxBits] += count[l]
			count[l] = 0
		}
		total := 0
		for l := 1; l <= maxBits; l++ {
			total += count[l] << (maxBits - l)
		}
		for total != 1<<maxBits {
			count[maxBits]--
			for l := maxBits - 1; l > 0; l-- {
				if count[l] != 0 {
					count[l]--
					count[l+1] += 2
					break
				}
			}
			total--
		}
	}
	i := 0
	for l := maxBits; l > 0; l-- {
		for range count[l] {
			lens[syms[i]&0x1ff] = uint8(l)
			i++
		}
	}
}

// assign gives the first n symbols their canonical codes from their lengths.
func (h *huffCode) assign(n int) {
	var count [16]uint16
	for _, l := range h.len[:n] {
		count[l]++
	}
	count[0] = 0
	var next [16]uint16
	code := uint16(0)
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for s, l := range h.len[:n] {
		if l != 0 {
			h.code[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
	}
}

// bitWriter packs bits from the least significant (RFC 1951 §3.1.1).
type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.n
	w.n += n
	if w.n >= 48 {
		n := len(w.out)
		w.out = binary.LittleEndian.AppendUint64(w.out, w.acc)[:n+6]
		w.acc >>= 48
		w.n -= 48
	}
}

// align writes out the bits held, padded with zeros to a byte boundary.
func (w *bitWriter) align() {
	for w.n > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= min(w.n, 8)
	}
	w.acc = 0
}

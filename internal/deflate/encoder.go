package deflate

import (
	"compress/flate"
	"encoding/binary"
	"io"
	"math/bits"
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
// costs a miss, never a wrong reference. Each block is coded (huffman.go)
// with whichever of dynamic Huffman codes, the fixed codes and stored bytes
// is shortest.
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

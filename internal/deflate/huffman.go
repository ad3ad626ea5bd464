package deflate

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// The Encoder's blocks (RFC 1951 §3.2): the tokens LZ77 found, coded with
// whichever of dynamic Huffman codes, the fixed codes and stored bytes is
// shortest, and packed by a bitWriter.

// huffCode is a canonical Huffman code (RFC 1951 §3.2.2), codes bit-reversed
// since DEFLATE packs them from their most significant bit.
type huffCode struct {
	code [288]uint16 // the fixed code has 288 lengths, 286 and 287 unused
	len  [288]uint8
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

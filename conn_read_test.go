//go:build !js

package websocket

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// discardConn is a net.Conn that reads nothing and discards writes: a Conn
// over it may fail, and its Close frame goes nowhere.
type discardConn struct{ replayConn }

func (*discardConn) Read([]byte) (int, error) { return 0, fmt.Errorf("no input") }

// The fast path of the frame header (fastDataFrame) and the general one
// (readHeader, dataFrameFits, beginDataFrame) decide alike: for every
// header of a generated set and every state of the message in progress,
// a header the fast path takes is one the general path takes, leaving the
// Conn in the same state, and a header of the common case (a data frame
// with no RSV bit, masked as its role requires) that the general path
// takes, the fast path takes too.
func TestFastAndGeneralHeaderPathsAgree(t *testing.T) {
	type state struct {
		name  string
		rOp   Opcode
		size  int64
		cut   bool // a text message in progress ends inside a code point
		limit int64
	}
	states := []state{
		{name: "between", limit: DefaultReadLimit},
		{name: "between/limit100", limit: 100},
		{name: "text", rOp: OpText, size: 10, limit: DefaultReadLimit},
		{name: "text/cut", rOp: OpText, size: 10, cut: true, limit: DefaultReadLimit},
		{name: "binary/nearLimit", rOp: OpBinary, size: 90, limit: 100},
	}
	var lengths []struct {
		b1ext []byte // the 7-bit length and the extended bytes
	}
	add := func(l7 byte, ext ...byte) {
		lengths = append(lengths, struct{ b1ext []byte }{append([]byte{l7}, ext...)})
	}
	for _, n := range []byte{0, 1, 10, 125} {
		add(n)
	}
	for _, n := range []uint16{0, 125, 126, 1000, 0xffff} {
		add(126, binary.BigEndian.AppendUint16(nil, n)...)
	}
	for _, n := range []uint64{0, 0xffff, 0x10000, 1 << 40, 1<<63 - 1, 1 << 63} {
		add(127, binary.BigEndian.AppendUint64(nil, n)...)
	}
	checked, fast := 0, 0
	for _, server := range []bool{true, false} {
		for _, st := range states {
			for b0 := 0; b0 < 256; b0++ {
				for _, l := range lengths {
					for _, masked := range []bool{true, false} {
						hdr := []byte{byte(b0), l.b1ext[0]}
						if masked {
							hdr[1] |= 0x80
						}
						hdr = append(hdr, l.b1ext[1:]...)
						if masked {
							hdr = append(hdr, 1, 2, 3, 4)
						}
						wire := append(hdr, make([]byte, MaxHeaderSize)...) // the fast path wants 14 bytes buffered
						mk := func() *Conn {
							c := newConn(&discardConn{}, nil, server, connConfig{readLimit: st.limit, closeTimeout: 1})
							c.br = bufio.NewReaderSize(bytes.NewReader(wire), 64)
							c.br.Peek(len(wire)) // all of it buffered, as the fast path wants
							c.rOp, c.rSize = st.rOp, st.size
							if st.cut {
								c.rUTF8.Write([]byte{0xe2})
							}
							return c
						}
						c1, c2 := mk(), mk()
						took := c1.fastDataFrame()
						h, err := c2.readHeader()
						general := err == nil && !h.Opcode.IsControl() && c2.dataFrameFits(h.Opcode, h.Fin, h.Rsv1, h.Length)
						common := b0&0x70 == 0 && masked == server
						checked++
						switch {
						case took && !general:
							t.Fatalf("server=%v %s: header % x taken by the fast path, refused by the general one", server, st.name, hdr)
						case !took && general && common:
							t.Fatalf("server=%v %s: header % x of the common case refused by the fast path", server, st.name, hdr)
						case took:
							fast++
							c2.beginDataFrame(h.Opcode, h.Fin, h.Rsv1, h.Masked, h.Mask, h.Length)
							s1 := fmt.Sprint(c1.rOp, c1.rFin, c1.rRemain, c1.rMasked, c1.rMask, c1.rMaskPos, c1.rSize, c1.rComp, c1.br.Buffered())
							s2 := fmt.Sprint(c2.rOp, c2.rFin, c2.rRemain, c2.rMasked, c2.rMask, c2.rMaskPos, c2.rSize, c2.rComp, c2.br.Buffered())
							if s1 != s2 {
								t.Fatalf("server=%v %s: header % x: fast path leaves %s, general %s", server, st.name, hdr, s1, s2)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d headers and states checked, %d taken by the fast path", checked, fast)
}

package conformance

import (
	"bytes"
	"compress/flate"
	"testing"
	"unicode/utf8"

	"github.com/fullduplex/websocket/internal/deflate/deflatetest"
)

// Tests of the harness itself, so that a failure of a testee is not one of
// the harness.

// TestUTF8TableAgreesWithGo checks the hand-written validity flags of the
// 6.x sequences against unicode/utf8, which follows RFC 3629 as RFC 6455
// §8.1 asks.
func TestUTF8TableAgreesWithGo(t *testing.T) {
	n := 0
	for gi, g := range utf8Groups() {
		for si, s := range g.seqs {
			n++
			if utf8.ValidString(s.b) != s.valid {
				t.Errorf("6.%d.%d %x: table says valid=%v", gi+5, si+1, s.b, s.valid)
			}
		}
	}
	// The suite has 19 subcategories, 6.5 to 6.23, and 6.22 has 34 cases.
	if g := utf8Groups(); len(g) != 19 || len(g[17].seqs) != 34 {
		t.Errorf("%d groups, 6.22 has %d sequences", len(g), len(g[17].seqs))
	}
}

func TestCatalogueIDsUnique(t *testing.T) {
	t.Parallel() // with the roles, whose cases wait on the testees
	seen := map[string]bool{}
	for _, c := range catalogue() {
		if seen[c.id] {
			t.Errorf("case %s twice", c.id)
		}
		seen[c.id] = true
	}
	t.Logf("%d cases", len(seen))
}

// TestScanDeflate checks the back-reference scanner against compress/flate.
func TestScanDeflate(t *testing.T) {
	t.Parallel() // with the roles, whose cases wait on the testees
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		for _, td := range testDataOnce() {
			for _, n := range []int{0, 1, 100, 5000, 70000} {
				msg := td.data[:n]
				var buf bytes.Buffer
				w, _ := flate.NewWriter(&buf, level)
				w.Write(msg)
				w.Flush()
				maxDist, outLen, err := deflatetest.ScanBackRefs(bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff}), 0)
				if err != nil || outLen != int64(n) || maxDist > 32768 || level == flate.HuffmanOnly && maxDist != 0 {
					t.Errorf("level %d, %s, %d bytes: max distance %d, length %d, %v", level, td.name, n, maxDist, outLen, err)
				}
				if n >= 5000 && level > 0 && !td.binary && maxDist == 0 {
					t.Errorf("level %d, %s, %d bytes: no back-reference found", level, td.name, n)
				}
			}
		}
	}
}

// TestPMDRoundTrip runs the harness's compressor into its decompressor, with
// and without context takeover.
func TestPMDRoundTrip(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		resp := pmdParams{serverNoCtx: !takeover, clientNoCtx: !takeover}
		a, z := newPMDState(resp, true), newPMDState(resp, false)
		z.recvTakeover, z.recvBits = a.sendTakeover, a.sendBits
		data := testDataOnce()[3].data
		for i := range 20 {
			msg := data[i*1000 : i*1000+3000]
			got, err := z.decompress(a.compress(msg))
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("takeover %v, message %d: %v", takeover, i, err)
			}
		}
	}
}

func TestExtensionParsing(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		err  bool
	}{
		{"permessage-deflate", "permessage-deflate", false},
		{`permessage-deflate; client_max_window_bits="10"`, "permessage-deflate; client_max_window_bits=10", false},
		{"permessage-deflate; server_max_window_bits=08", "", true},
		{"permessage-deflate; server_max_window_bits=16", "", true},
		{"permessage-deflate; server_no_context_takeover=1", "", true},
		{"permessage-deflate; foo", "", true},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", "", true},
	} {
		exts, err := parseExtensions([]string{c.in})
		var p pmdParams
		if err == nil {
			p, err = parsePMD(exts[0], false)
		}
		if (err != nil) != c.err || err == nil && p.String() != c.want {
			t.Errorf("%q: %v, %v", c.in, p, err)
		}
	}
}

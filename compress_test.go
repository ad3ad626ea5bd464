package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"testing"

	"github.com/fullduplex/websocket/internal/deflate/deflatetest"
)

func TestParseExtensions(t *testing.T) {
	type P = extensionParam
	tests := []struct {
		name   string
		values []string
		want   []extension
	}{
		{"Empty", []string{""}, nil},
		{"BareToken", []string{"permessage-deflate"}, []extension{{name: "permessage-deflate"}}},
		{"ParamWithoutValue", []string{"permessage-deflate; client_max_window_bits"},
			[]extension{{"permessage-deflate", []P{{name: "client_max_window_bits"}}}}},
		{"TokenValue", []string{"permessage-deflate;server_max_window_bits=10"},
			[]extension{{"permessage-deflate", []P{{"server_max_window_bits", "10", true}}}}},
		{"QuotedValueRFC6455Sec9_1", []string{`permessage-deflate; server_max_window_bits="10"`},
			[]extension{{"permessage-deflate", []P{{"server_max_window_bits", "10", true}}}}},
		{"QuotedPairUnescaped", []string{`x; a="1\0"`}, []extension{{"x", []P{{"a", "10", true}}}}},
		{"WhitespaceAroundSeparators", []string{" foo ;  a = 1 ;b\t, bar "},
			[]extension{{"foo", []P{{"a", "1", true}, {name: "b"}}}, {name: "bar"}}},
		{"SeveralOffers", []string{"permessage-deflate; client_no_context_takeover, permessage-deflate"},
			[]extension{{"permessage-deflate", []P{{name: "client_no_context_takeover"}}}, {name: "permessage-deflate"}}},
		{"EmptyListElementsRFC7230Sec7", []string{", a ,, b,"}, []extension{{name: "a"}, {name: "b"}}},
		{"SeveralHeaderLines", []string{"a", "b; c"}, []extension{{name: "a"}, {"b", []P{{name: "c"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExtensions(tt.values)
			if err != nil {
				t.Fatalf("parseExtensions(%q): %v", tt.values, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseExtensions(%q) = %+v, want %+v", tt.values, got, tt.want)
			}
		})
	}
}

func TestParseExtensionsMalformed(t *testing.T) {
	for _, v := range []string{
		"a b",           // two tokens without a separator
		"a; ",           // parameter name missing
		"a; =1",         // parameter name missing before a value
		"a; b=",         // value missing
		`a; b="1`,       // unterminated quoted string
		`a; b="1 2"`,    // quoted value that is not a token (RFC 6455 §9.1)
		`a; b=""`,       // empty quoted value
		"a; b=1=2",      // stray '='
		"[x]",           // not a token
		"a; b=\"\x01\"", // control character in a quoted string
		";a",
	} {
		if exts, err := parseExtensions([]string{v}); err == nil {
			t.Errorf("parseExtensions(%q) = %+v, want an error", v, exts)
		}
	}
}

// negotiated is the part of deflateParams a negotiation decides.
type negotiated struct {
	writeTakeover, readTakeover     bool
	writeWindowBits, readWindowBits int
}

func paramsOf(p *deflateParams) negotiated {
	return negotiated{p.writeTakeover, p.readTakeover, p.writeWindowBits, p.readWindowBits}
}

func TestServerNegotiation(t *testing.T) {
	noCtx := CompressionOptions{}
	ctx := CompressionOptions{ContextTakeover: true}
	small := CompressionOptions{ContextTakeover: true, WindowBits: 10}
	tests := []struct {
		name   string
		opts   CompressionOptions
		offer  string
		resp   string // "" means declined
		params negotiated
	}{
		{"BrowserOfferNoTakeoverDefault", noCtx, "permessage-deflate; client_max_window_bits",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", negotiated{false, false, 15, 15}},
		{"BrowserOfferWithTakeover", ctx, "permessage-deflate; client_max_window_bits",
			"permessage-deflate", negotiated{true, true, 15, 15}},
		{"ServerNoContextTakeoverMustBeEchoed", ctx, "permessage-deflate; server_no_context_takeover",
			"permessage-deflate; server_no_context_takeover", negotiated{false, true, 15, 15}},
		{"ClientNoContextTakeoverHintAccepted", ctx, "permessage-deflate; client_no_context_takeover",
			"permessage-deflate; client_no_context_takeover", negotiated{true, false, 15, 15}},
		{"ServerMaxWindowBitsEchoed", ctx, "permessage-deflate; server_max_window_bits=10",
			"permessage-deflate; server_max_window_bits=10", negotiated{true, true, 10, 15}},
		{"ServerMaxWindowBits15", noCtx, "permessage-deflate; server_max_window_bits=15",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15", negotiated{false, false, 15, 15}},
		{"ServerMaxWindowBitsQuoted", ctx, `permessage-deflate; server_max_window_bits="8"`,
			"permessage-deflate; server_max_window_bits=8", negotiated{true, true, 8, 15}},
		{"ClientMaxWindowBitsValueNeedsNoAnswer", ctx, "permessage-deflate; client_max_window_bits=9",
			"permessage-deflate", negotiated{true, true, 15, 15}},
		{"ParamNamesCaseInsensitive", ctx, "Permessage-Deflate; Server_No_Context_Takeover",
			"permessage-deflate; server_no_context_takeover", negotiated{false, true, 15, 15}},
		{"AllParameters", ctx, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12", negotiated{false, false, 12, 15}},
		{"SmallWindowTellsTheClientUnasked", small, "permessage-deflate",
			"permessage-deflate; server_max_window_bits=10", negotiated{true, true, 10, 15}},
		{"SmallWindowLimitsTheClientWhenOffered", small, "permessage-deflate; client_max_window_bits",
			"permessage-deflate; server_max_window_bits=10; client_max_window_bits=10", negotiated{true, true, 10, 10}},
		{"SmallWindowKeepsTheClientsSmallerHint", small, "permessage-deflate; client_max_window_bits=9; server_max_window_bits=12",
			"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9", negotiated{true, true, 10, 9}},
		{"SmallWindowUnderTheClientsLimit", small, "permessage-deflate; server_max_window_bits=8",
			"permessage-deflate; server_max_window_bits=8", negotiated{true, true, 8, 15}},
		{"FirstAcceptableOfferWins", ctx, "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover, permessage-deflate",
			"permessage-deflate; client_no_context_takeover", negotiated{true, false, 15, 15}},
		{"OtherExtensionsSkipped", ctx, "x-webkit-deflate-frame, permessage-deflate",
			"permessage-deflate", negotiated{true, true, 15, 15}},

		{"DeclineUnknownParameter", ctx, "permessage-deflate; foo", "", negotiated{}},
		{"DeclineRepeatedParameter", ctx, "permessage-deflate; client_no_context_takeover; client_no_context_takeover", "", negotiated{}},
		{"DeclineNoContextTakeoverWithValue", ctx, "permessage-deflate; server_no_context_takeover=1", "", negotiated{}},
		{"DeclineServerMaxWindowBitsWithoutValue", ctx, "permessage-deflate; server_max_window_bits", "", negotiated{}},
		{"DeclineWindowBitsBelow8", ctx, "permessage-deflate; server_max_window_bits=7", "", negotiated{}},
		{"DeclineWindowBitsAbove15", ctx, "permessage-deflate; client_max_window_bits=16", "", negotiated{}},
		{"DeclineWindowBitsLeadingZero", ctx, "permessage-deflate; server_max_window_bits=010", "", negotiated{}},
		{"DeclineWindowBitsNotDecimal", ctx, "permessage-deflate; server_max_window_bits=0x0f", "", negotiated{}},
		{"DeclineMalformedHeader", ctx, "permessage-deflate; =", "", negotiated{}},
		{"DeclineOtherExtensionOnly", ctx, "x-webkit-deflate-frame", "", negotiated{}},
		{"DeclineWhenDisabled", CompressionOptions{Disabled: true}, "permessage-deflate", "", negotiated{}},
		{"DeclineNoOffer", ctx, "", "", negotiated{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, p := negotiateDeflate([]string{tt.offer}, &tt.opts)
			if resp != tt.resp {
				t.Fatalf("response = %q, want %q", resp, tt.resp)
			}
			if (p == nil) != (tt.resp == "") {
				t.Fatalf("params = %+v with response %q", p, resp)
			}
			if p != nil && paramsOf(p) != tt.params {
				t.Fatalf("params = %+v, want %+v", paramsOf(p), tt.params)
			}
		})
	}
}

func TestClientNegotiation(t *testing.T) {
	noCtx := CompressionOptions{}
	ctx := CompressionOptions{ContextTakeover: true}
	small := CompressionOptions{ContextTakeover: true, WindowBits: 10}
	tests := []struct {
		name    string
		opts    CompressionOptions
		resp    string
		params  *negotiated // nil: declined
		wantErr bool
	}{
		{"Declined", noCtx, "", nil, false},
		{"NoTakeoverAccepted", noCtx, "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			&negotiated{false, false, 15, 15}, false},
		{"NoTakeoverClientHintIgnoredByServer", noCtx, "permessage-deflate; server_no_context_takeover",
			&negotiated{false, false, 15, 15}, false},
		{"TakeoverPlain", ctx, "permessage-deflate", &negotiated{true, true, 15, 15}, false},
		{"ServerMayForbidOurTakeover", ctx, "permessage-deflate; client_no_context_takeover", &negotiated{false, true, 15, 15}, false},
		{"ServerMayRefuseItsTakeover", ctx, "permessage-deflate; server_no_context_takeover", &negotiated{true, false, 15, 15}, false},
		{"ServerLimitsItsWindow", ctx, "permessage-deflate; server_max_window_bits=8", &negotiated{true, true, 15, 8}, false},
		{"QuotedWindowBits", ctx, `permessage-deflate; server_max_window_bits="12"`, &negotiated{true, true, 15, 12}, false},
		{"ServerLimitsOurWindowRFC7692Sec7_1_2_2", ctx, "permessage-deflate; client_max_window_bits=9", &negotiated{true, true, 9, 15}, false},
		{"ServerLimitsOurWindowTo8", noCtx, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=8", &negotiated{false, false, 8, 15}, false},
		{"SmallWindowServerAnswersSmaller", small, "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12", &negotiated{true, true, 10, 9}, false},
		{"FailClientMaxWindowBitsWithoutValue", ctx, "permessage-deflate; client_max_window_bits", nil, true},
		{"FailSmallWindowServerLarger", small, "permessage-deflate; server_max_window_bits=11", nil, true},
		{"FailSmallWindowNotAnswered", small, "permessage-deflate", nil, true},

		{"FailWhenServerKeepsContextWeAskedItToDrop", noCtx, "permessage-deflate", nil, true},
		{"FailExtensionNotOffered", CompressionOptions{Disabled: true}, "permessage-deflate", nil, true},
		{"FailUnknownExtension", ctx, "x-foo", nil, true},
		{"FailTwoExtensions", ctx, "permessage-deflate, permessage-deflate", nil, true},
		{"FailUnknownParameter", ctx, "permessage-deflate; foo=1", nil, true},
		{"FailRepeatedParameter", ctx, "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9", nil, true},
		{"FailServerMaxWindowBitsOutOfRange", ctx, "permessage-deflate; server_max_window_bits=7", nil, true},
		{"FailServerMaxWindowBitsWithoutValue", ctx, "permessage-deflate; server_max_window_bits", nil, true},
		{"FailWindowBitsOutOfRange", ctx, "permessage-deflate; server_max_window_bits=16", nil, true},
		{"FailNoContextTakeoverWithValue", ctx, "permessage-deflate; client_no_context_takeover=true", nil, true},
		{"FailMalformed", ctx, "permessage-deflate;", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := clientDeflateResponse([]string{tt.resp}, &tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			switch {
			case tt.params == nil && p != nil:
				t.Fatalf("params = %+v, want none", paramsOf(p))
			case tt.params != nil && p == nil:
				t.Fatalf("no params, want %+v", *tt.params)
			case p != nil && paramsOf(p) != *tt.params:
				t.Fatalf("params = %+v, want %+v", paramsOf(p), *tt.params)
			}
		})
	}
}

// TestOfferAcceptedByOurServer checks that both roles of this package agree:
// the server accepts the client's offer and the client accepts the response,
// with each side's write settings matching the other's read settings.
func TestOfferAcceptedByOurServer(t *testing.T) {
	for _, cliCtx := range []bool{false, true} {
		for _, srvCtx := range []bool{false, true} {
			cli, srv := CompressionOptions{ContextTakeover: cliCtx}, CompressionOptions{ContextTakeover: srvCtx}
			resp, sp := negotiateDeflate([]string{deflateOffer(&cli)}, &srv)
			if sp == nil {
				t.Fatalf("client takeover %v, server takeover %v: offer %q declined", cliCtx, srvCtx, deflateOffer(&cli))
			}
			cp, err := clientDeflateResponse([]string{resp}, &cli)
			if err != nil || cp == nil {
				t.Fatalf("response %q refused: %v", resp, err)
			}
			if cp.writeTakeover && !sp.readTakeover || sp.writeTakeover && !cp.readTakeover {
				t.Errorf("%q: a side takes over context the other does not keep: client %+v server %+v", resp, paramsOf(cp), paramsOf(sp))
			}
			if want := cliCtx && srvCtx; sp.writeTakeover != want || cp.writeTakeover != want {
				t.Errorf("%q: takeover client %v server %v, want %v", resp, cp.writeTakeover, sp.writeTakeover, want)
			}
		}
	}
	// Every pair of windows: each side compresses within what the other
	// decompresses, and the smaller window asked for is the one used.
	for _, cliBits := range []int{0, 8, 9, 12, 15} {
		for _, srvBits := range []int{0, 8, 11, 15} {
			for _, takeover := range []bool{false, true} {
				cli := CompressionOptions{ContextTakeover: takeover, WindowBits: cliBits}
				srv := CompressionOptions{ContextTakeover: takeover, WindowBits: srvBits}
				resp, sp := negotiateDeflate([]string{deflateOffer(&cli)}, &srv)
				cp, err := clientDeflateResponse([]string{resp}, &cli)
				if sp == nil || err != nil || cp == nil {
					t.Fatalf("windows %d/%d: offer %q, response %q: %v", cliBits, srvBits, deflateOffer(&cli), resp, err)
				}
				want := min(windowBits(cliBits), windowBits(srvBits))
				if cp.writeWindowBits != want || sp.writeWindowBits != want || cp.writeWindowBits > sp.readWindowBits || sp.writeWindowBits > cp.readWindowBits {
					t.Errorf("windows %d/%d, %q -> %q: client %+v, server %+v; want both writing %d bits", cliBits, srvBits, deflateOffer(&cli), resp, paramsOf(cp), paramsOf(sp), want)
				}
			}
		}
	}
	if o := (CompressionOptions{Disabled: true}); deflateOffer(&o) != "" {
		t.Errorf("disabled client offers %q", deflateOffer(&o))
	}
}

// jsonish returns n bytes of JSON-like text that compresses the way real
// messages do: repeated keys, varying values.
func jsonish(n int, seed int64) []byte { return deflatetest.JSONish(n, seed) }

// decodeStream inflates payloads with compress/flate (deflatetest.Decode).
func decodeStream(t testing.TB, payloads [][]byte, takeover bool) [][]byte {
	t.Helper()
	return deflatetest.Decode(t, payloads, takeover)
}

// checkWindow fails t if a payload refers further back than 2^bits bytes, or
// before the start of its context (deflatetest.CheckWindow).
func checkWindow(t testing.TB, payloads [][]byte, takeover bool, bits int) {
	t.Helper()
	deflatetest.CheckWindow(t, payloads, takeover, bits)
}

// referenceInflate decodes compressed payloads with compress/flate directly,
// as RFC 7692 §7.2.2 describes: each payload gets the 4-byte tail back and,
// with context takeover, all of them form one DEFLATE stream, whose output
// is the messages one after another.
func referenceInflate(t *testing.T, payloads [][]byte, takeover bool) []byte {
	t.Helper()
	var stream, out bytes.Buffer
	for _, p := range payloads {
		stream.Write(p)
		stream.Write([]byte{0, 0, 0xff, 0xff})
		if !takeover {
			stream.Write([]byte{0x01, 0, 0, 0xff, 0xff}) // end this stream
			if _, err := io.Copy(&out, flate.NewReader(&stream)); err != nil {
				t.Fatalf("reference inflate: %v", err)
			}
		}
	}
	if takeover {
		stream.Write([]byte{0x01, 0, 0, 0xff, 0xff})
		if _, err := io.Copy(&out, flate.NewReader(&stream)); err != nil {
			t.Fatalf("reference inflate: %v", err)
		}
	}
	return out.Bytes()
}

func inflateAll(z *inflater, payload []byte, limit int64) ([]byte, error) {
	z.begin(bytes.NewReader(payload), limit)
	return io.ReadAll(z)
}

func TestDeflateRoundTrip(t *testing.T) {
	msgs := [][]byte{{}, []byte("a"), jsonish(1000, 1), jsonish(1000, 1), jsonish(70000, 2), bytes.Repeat([]byte("xyz"), 50000), jsonish(300, 3)}
	for _, takeover := range []bool{false, true} {
		for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
			t.Run(fmt.Sprintf("takeover=%v/level=%d", takeover, level), func(t *testing.T) {
				c := newCompression(&deflateParams{writeTakeover: takeover, readTakeover: takeover, writeWindowBits: 15, level: level})
				var payloads [][]byte
				for _, m := range msgs {
					p, err := c.w.appendCompressed(nil, m)
					if err != nil {
						t.Fatal(err)
					}
					if bytes.HasSuffix(p, deflateTail[:]) {
						t.Fatalf("payload of %d bytes still ends with the sync flush tail", len(m))
					}
					payloads = append(payloads, p)
					if !takeover && (c.w.table != nil || c.w.hist != nil) {
						t.Fatal("compressor held between messages without context takeover")
					}
				}
				if len(payloads[0]) != 1 || payloads[0][0] != 0 {
					t.Errorf("empty message compresses to %x, want 00 (RFC 7692 §7.2.3.6)", payloads[0])
				}
				if takeover && level != flate.HuffmanOnly && len(payloads[3]) >= len(payloads[2])/4 {
					t.Errorf("repeated message compressed to %d bytes, first copy %d: context not taken over", len(payloads[3]), len(payloads[2]))
				}
				if ref, want := referenceInflate(t, payloads, takeover), bytes.Join(msgs, nil); !bytes.Equal(ref, want) {
					t.Fatalf("reference inflate gives %d bytes, want %d", len(ref), len(want))
				}
				for i, p := range payloads {
					got, err := inflateAll(&c.r, p, 1<<20)
					if err != nil || !bytes.Equal(got, msgs[i]) {
						t.Fatalf("message %d: inflater gives %d bytes, %v; want %d bytes", i, len(got), err, len(msgs[i]))
					}
					if c.r.active() {
						t.Fatal("decompressor held after the message ended")
					}
				}
			})
		}
	}
}

// TestInflateTakeoverAcrossWindow checks that the history handed to the next
// message is the last 32 KiB of output however it was read, by decoding a
// stream whose messages refer back up to 32 KiB, read in odd-sized pieces.
func TestInflateTakeoverAcrossWindow(t *testing.T) {
	var stream bytes.Buffer
	fw, _ := flate.NewWriter(&stream, flate.BestCompression)
	src := jsonish(200000, 7)
	var msgs, payloads [][]byte
	for off, i := 0, 0; off < len(src); i++ {
		n := min([]int{1, 5000, 33000, 40000, 17}[i%5], len(src)-off)
		m := src[off : off+n]
		if i%3 == 2 {
			m = src[max(0, off-32000) : max(0, off-32000)+n] // far back-references
		}
		off += n
		stream.Reset()
		fw.Write(m)
		fw.Flush()
		msgs = append(msgs, m)
		payloads = append(payloads, bytes.Clone(bytes.TrimSuffix(stream.Bytes(), deflateTail[:])))
	}
	z := &inflater{takeover: true}
	buf := make([]byte, 777)
	for i, p := range payloads {
		z.begin(bytes.NewReader(p), -1)
		var got []byte
		for {
			n, err := z.Read(buf[:1+i%len(buf)])
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if !bytes.Equal(got, msgs[i]) {
			t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len(msgs[i]))
		}
	}
}

func TestCompressThresholdAndOptOut(t *testing.T) {
	c := newCompression(&deflateParams{writeWindowBits: 15, level: 1, threshold: 100})
	if c.compressWhole(99) || !c.compressWhole(100) || !c.compressStream() {
		t.Fatal("threshold of 100 not applied")
	}
	c.noWrite.Store(true)
	if c.compressWhole(1000) || c.compressStream() {
		t.Fatal("opted-out connection still compresses")
	}
	var none *compression
	if none.compressWhole(1000) || none.compressStream() {
		t.Fatal("connection without compression compresses")
	}
}

func TestCompressionOptionsDefaults(t *testing.T) {
	tests := []struct {
		opts             CompressionOptions
		level, threshold int
	}{
		{CompressionOptions{}, flate.BestSpeed, 512},
		{CompressionOptions{Level: flate.BestCompression, Threshold: 10}, flate.BestCompression, 10},
		{CompressionOptions{Level: flate.HuffmanOnly, Threshold: -1}, flate.HuffmanOnly, 0},
		{CompressionOptions{Level: 42}, flate.BestSpeed, 512},
		{CompressionOptions{Level: -3}, flate.BestSpeed, 512},
	}
	for _, tt := range tests {
		if l, th := tt.opts.level(), tt.opts.threshold(); l != tt.level || th != tt.threshold {
			t.Errorf("%+v: level %d threshold %d, want %d %d", tt.opts, l, th, tt.level, tt.threshold)
		}
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestInflateBombRefused checks that the read limit applies to the
// decompressed size and stops decompression early: 256 MiB of zeros
// compresses to about 256 KiB, and a 1 MiB limit must be hit after reading a
// small part of that.
func TestInflateBombRefused(t *testing.T) {
	// Compressing 256 MiB is slow under the race detector, so compress 1 MiB
	// chunks with sync flushes: once the window is all zeros every chunk
	// compresses to the same bytes, which can then be repeated.
	var payload, chunk bytes.Buffer
	fw, _ := flate.NewWriter(&chunk, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 2; i++ {
		payload.Write(chunk.Bytes())
		chunk.Reset()
		fw.Write(zeros)
		fw.Flush()
	}
	for i := 2; i < 256; i++ {
		payload.Write(chunk.Bytes())
	}
	src := &countingReader{r: bytes.NewReader(payload.Bytes())}
	var z inflater
	z.begin(src, 1<<20)
	n, err := io.Copy(io.Discard, &z)
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("got %d bytes, err %v; want ErrMessageTooBig", n, err)
	}
	if n > 1<<20 {
		t.Errorf("returned %d bytes past a limit of %d", n, 1<<20)
	}
	if src.n > payload.Len()/50 {
		t.Errorf("read %d of %d compressed bytes to refuse a 1 MiB limit", src.n, payload.Len())
	}
	if z.active() {
		t.Error("decompressor held after the error")
	}
}

func TestInflateLimitExact(t *testing.T) {
	c := newCompression(&deflateParams{writeWindowBits: 15, level: 1})
	m := jsonish(5000, 4)
	p, _ := c.w.appendCompressed(nil, m)
	if got, err := inflateAll(&c.r, p, 5000); err != nil || !bytes.Equal(got, m) {
		t.Fatalf("message of exactly the limit: %d bytes, %v", len(got), err)
	}
	if _, err := inflateAll(&c.r, p, 4999); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("message one byte over the limit: %v, want ErrMessageTooBig", err)
	}
}

func TestInflateMalformed(t *testing.T) {
	good, _ := newCompression(&deflateParams{writeWindowBits: 15, level: 1}).w.appendCompressed(nil, jsonish(3000, 5))
	var withDict bytes.Buffer // refers to a dictionary the receiver does not have
	fw, _ := flate.NewWriterDict(&withDict, flate.BestSpeed, jsonish(3000, 5))
	fw.Write(jsonish(3000, 5))
	fw.Flush()
	for name, p := range map[string][]byte{
		"ReservedBlockType":     {0x07, 0x00},                   // BTYPE 11 is an error (RFC 1951 §3.2.3)
		"StoredLengthMismatch":  {0x00, 0x05, 0x00, 0x00, 0x00}, // NLEN is not the complement of LEN
		"DistanceBeforeStart":   withDict.Bytes(),
		"TruncatedDynamicBlock": good[:len(good)/2],
	} {
		t.Run(name, func(t *testing.T) {
			var z inflater
			_, err := inflateAll(&z, p, 1<<20)
			if !errors.Is(err, errInvalidDeflate) {
				t.Fatalf("err = %v, want errInvalidDeflate", err)
			}
			if z.active() {
				t.Fatal("decompressor held after the error")
			}
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestInflateSourceErrorPassedThrough(t *testing.T) {
	want := errors.New("frame error")
	var z inflater
	z.begin(io.MultiReader(bytes.NewReader([]byte{0x02}), errReader{want}), 1<<20)
	if _, err := io.ReadAll(&z); err != want {
		t.Fatalf("err = %v, want the source's error unchanged", err)
	}
}

// TestInflateIgnoresDataAfterFinalBlock follows RFC 7692 §7.2.3.3: a sender
// may end a message with a block that has BFINAL set; what follows it in the
// payload is not decompressed.
func TestInflateIgnoresDataAfterFinalBlock(t *testing.T) {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write([]byte("hello"))
	fw.Close()
	b.WriteByte(0x00) // what remains of an empty stored block once the tail is removed
	var z inflater
	if got, err := inflateAll(&z, b.Bytes(), 100); err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestHistoryKeepsLast32KiB(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	var h history
	var all []byte
	for i := 0; i < 300; i++ {
		p := make([]byte, []int{0, 1, 100, 5000, 32767, 32768, 40000}[r.Intn(7)])
		r.Read(p)
		h.write(p)
		all = append(all, p...)
		if i%7 == 0 {
			want := all[max(0, len(all)-maxWindow):]
			if got := h.dict(); !bytes.Equal(got, want) {
				t.Fatalf("after %d writes: history of %d bytes differs from the last %d", i, len(got), len(want))
			}
		}
	}
}

func FuzzInflate(f *testing.F) {
	good, _ := newCompression(&deflateParams{writeWindowBits: 15, level: 1}).w.appendCompressed(nil, jsonish(2000, 6))
	f.Add(good, false)
	f.Add([]byte{0x00}, true)
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, false) // "Hello" from RFC 7692 §7.2.3.1
	f.Add(bytes.Repeat([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, 10), true)
	f.Fuzz(func(t *testing.T, payload []byte, takeover bool) {
		const limit = 64 << 10
		z := inflater{takeover: takeover}
		for i := 0; i < 2; i++ { // twice, so a second message sees the first's history
			got, err := inflateAll(&z, payload, limit)
			if len(got) > limit {
				t.Fatalf("%d bytes past a limit of %d", len(got), limit)
			}
			if err != nil && !errors.Is(err, errInvalidDeflate) && !errors.Is(err, ErrMessageTooBig) {
				t.Fatalf("unexpected error %v", err)
			}
			if z.active() {
				t.Fatal("decompressor held after the message")
			}
		}
		// What we compress, compress/flate must decode, and so must we.
		c := newCompression(&deflateParams{writeWindowBits: 15, level: 1, writeTakeover: takeover, readTakeover: takeover})
		for i := 0; i < 2; i++ {
			p, err := c.w.appendCompressed(nil, payload)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := inflateAll(&c.r, p, -1); err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("round trip: %d bytes, %v", len(got), err)
			}
		}
	})
}

// TestThresholdDefaultWithTakeover checks the default threshold: messages
// under DefaultCompressionThreshold go uncompressed without context
// takeover, and all are compressed with it, where short messages gain most.
func TestThresholdDefaultWithTakeover(t *testing.T) {
	for _, tt := range []struct {
		opts  CompressionOptions
		offer string
		want  int
	}{
		{CompressionOptions{}, "permessage-deflate", DefaultCompressionThreshold},
		{CompressionOptions{ContextTakeover: true}, "permessage-deflate", 0},
		{CompressionOptions{ContextTakeover: true}, "permessage-deflate; server_no_context_takeover", DefaultCompressionThreshold},
		{CompressionOptions{ContextTakeover: true, Threshold: 100}, "permessage-deflate", 100},
	} {
		_, sp := negotiateDeflate([]string{tt.offer}, &tt.opts)
		if sp == nil || sp.threshold != tt.want {
			t.Errorf("%+v, offer %q: server threshold %+v, want %d", tt.opts, tt.offer, sp, tt.want)
		}
	}
	for _, tt := range []struct {
		opts CompressionOptions
		resp string
		want int
	}{
		{CompressionOptions{}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", DefaultCompressionThreshold},
		{CompressionOptions{ContextTakeover: true}, "permessage-deflate", 0},
		{CompressionOptions{ContextTakeover: true}, "permessage-deflate; client_no_context_takeover", DefaultCompressionThreshold},
	} {
		if cp, err := clientDeflateResponse([]string{tt.resp}, &tt.opts); err != nil || cp.threshold != tt.want {
			t.Errorf("%+v, response %q: client params %+v, %v; want threshold %d", tt.opts, tt.resp, cp, err, tt.want)
		}
	}
}

//go:build !js

package websocket

import (
	"compress/flate"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fullduplex/websocket/internal/deflate/deflatetest"
)

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
	}
	for _, tt := range tests {
		if l, th := tt.opts.level(), tt.opts.threshold(); l != tt.level || th != tt.threshold {
			t.Errorf("%+v: level %d threshold %d, want %d %d", tt.opts, l, th, tt.level, tt.threshold)
		}
	}
}

// An invalid Level or WindowBits fails the handshake on both sides with an
// error that names it: Dial before it connects, a server with 500.
func TestCompressionOptionsInvalidFailHandshakes(t *testing.T) {
	bad := []CompressionOptions{
		{Level: 42}, {Level: -3}, {Level: flate.BestCompression + 1},
		{WindowBits: 7}, {WindowBits: 16}, {WindowBits: -1},
	}
	for _, co := range bad {
		if _, err := Dial(context.Background(), "ws://127.0.0.1:1/", &DialOptions{Compression: co}); err == nil || !strings.Contains(err.Error(), "CompressionOptions.") {
			t.Errorf("Dial with %+v: %v, want an error naming the option", co, err)
		}
		accepted := make(chan error, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := Accept(w, r, &AcceptOptions{Compression: co})
			accepted <- err
		}))
		_, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		var he *HandshakeError
		if !errors.As(err, &he) || he.StatusCode != http.StatusInternalServerError {
			t.Errorf("server with %+v: Dial error %v, want a 500", co, err)
		}
		if err := <-accepted; err == nil || !strings.Contains(err.Error(), "CompressionOptions.") {
			t.Errorf("Accept with %+v: %v, want an error naming the option", co, err)
		}
		srv.Close()
	}
	// Disabled compression ignores the rest; the valid extremes pass.
	good := []CompressionOptions{{Disabled: true, Level: 42}, {Level: flate.HuffmanOnly}, {Level: flate.DefaultCompression},
		{Level: flate.BestCompression, WindowBits: 8}, {WindowBits: 15}}
	for _, co := range good {
		if err := co.check(); err != nil {
			t.Errorf("%+v: %v", co, err)
		}
	}
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

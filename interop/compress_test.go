package interop

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fullduplex/websocket"
)

// permessage-deflate (RFC 7692) against the peers' implementations, in every
// combination of the Go side off, on, and on with context takeover, and the
// peer off, on with its defaults, on without context takeover and on with
// small LZ77 windows. The peer reports the parameters it agreed to, which
// must be those RFC 7692 §7.1 gives for the offer and the answer; every
// message must round-trip byte-exact, whole and fragmented; and compression
// must show on the wire: repetitive text shrinks both ways when negotiated
// and does not otherwise.

var goCompression = []struct {
	name string
	opts websocket.CompressionOptions
}{
	{"go_off", websocket.CompressionOptions{Disabled: true}},
	{"go_on", websocket.CompressionOptions{}},
	{"go_on_context_takeover", websocket.CompressionOptions{ContextTakeover: true}},
	{"go_bits_9", websocket.CompressionOptions{WindowBits: 9}},
	{"go_bits_12_context_takeover", websocket.CompressionOptions{ContextTakeover: true, WindowBits: 12}},
}

// deflateConfig is a peer's permessage-deflate settings in RFC 7692's
// parameter names (the peers' "deflate" config); zero fields keep the peer
// library's defaults.
type deflateConfig struct {
	ServerNoContextTakeover bool `json:"server_no_context_takeover,omitempty"`
	ClientNoContextTakeover bool `json:"client_no_context_takeover,omitempty"`
	ServerMaxWindowBits     int  `json:"server_max_window_bits,omitempty"`
	ClientMaxWindowBits     int  `json:"client_max_window_bits,omitempty"`
}

// peerCompression are the peer's settings, as a server facing a Go client and
// as a client facing a Go server. With its defaults, each peer client offers
// a bare client_max_window_bits, and Python's server limits its own window
// to 12 bits and would limit the client's to 12 bits too if offered the
// chance (see expectedAsServer).
var peerCompression = []struct {
	name   string
	on     bool
	config deflateConfig
}{
	{"peer_off", false, deflateConfig{}},
	{"peer_defaults", true, deflateConfig{}},
	{"peer_no_context_takeover", true, deflateConfig{ServerNoContextTakeover: true, ClientNoContextTakeover: true}},
	{"peer_windows_9", true, deflateConfig{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9}},
	{"peer_windows_12_no_context_takeover", true, deflateConfig{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 12}},
	{"peer_windows_15", true, deflateConfig{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
}

// peerServerWindow is the server_max_window_bits a peer server answers with
// unless configured otherwise: websockets limits its window to 12 bits by
// default (enable_server_permessage_deflate), ws does not.
func peerServerWindow(p *peer) int {
	if p.name == "python-websockets" {
		return 12
	}
	return 15
}

// Sizes for the compression runs: random payloads, which deflate cannot
// shrink, around the length encodings, and repetitive text, which it can.
// Compressing megabytes of random data under the race detector takes
// seconds, so the 4 MiB messages, whole and fragmented, go only through the
// combinations of largeCompressed.
var (
	compressRandomSizes = []int{0, 125, 126, 65535, 65536}
	compressibleSize    = 1 << 20
	compressFragments   = [][2]int{{0, 1}, {1000, 3}, {70000, 5}} // size, frames
	largeSize           = 4 << 20
)

// largeCompressed reports whether the Go side configured gc and the peer pc
// also exchange 4 MiB messages: the Go defaults against the peer defaults,
// and the peer off, where nothing is compressed.
func largeCompressed(gc websocket.CompressionOptions, peerName string) bool {
	return gc == (websocket.CompressionOptions{}) && peerName == "peer_defaults" || peerName == "peer_off"
}

// compressSizes returns the random sizes and fragmented messages of a run.
func compressSizes(large bool) (sizes []int, fragments [][2]int) {
	if !large {
		return compressRandomSizes, compressFragments
	}
	return append(compressRandomSizes[:len(compressRandomSizes):len(compressRandomSizes)], largeSize),
		append(compressFragments[:len(compressFragments):len(compressFragments)], [2]int{largeSize, 7})
}

// compressibleText is what the peer clients send for `compressible`.
func compressibleText(size int) []byte {
	line := "fullduplex compresses this line well. "
	return []byte(strings.Repeat(line, size/len(line)+1)[:size])
}

// deflateReport is the peers' description of the parameters in force, in
// the form of their deflateReport: the window sizes a regexp, since a client
// that offered client_max_window_bits=N may keep to N bits whether or not the
// server echoes it (RFC 7692 §7.1.2.2).
func deflateReport(negotiated, snct, cnct bool, smwb int, cmwb string) string {
	if !negotiated {
		return "none"
	}
	return fmt.Sprintf("snct=%t cnct=%t smwb=%d cmwb=%s", snct, cnct, smwb, cmwb)
}

// wsRefuses is expectedAsServer's answer where ws refuses the handshake.
const wsRefuses = "refused"

// expectedAsServer is what a peer server configured with pc must agree to
// with a Go client configured with gc, following RFC 7692 §7.1:
//   - the Go client without context takeover offers both
//     *_no_context_takeover parameters, and both peers keep them in the
//     answer (§7.1.1.1 obliges the server for its own; for the client's,
//     §7.1.1.2 allows it); a peer configured so adds them unasked;
//   - the Go client offers client_max_window_bits, bare or, with a
//     WindowBits below 15, with that value and server_max_window_bits too;
//     a server may limit its own window unasked, and must keep to what was
//     asked (§7.1.2.1), and may limit the client's (§7.1.2.2): websockets
//     answers with the smaller of the request and its setting (12 by
//     default, both ways); ws keeps the client's value unless set, and
//     refuses the whole handshake (400) when the offer's
//     server_max_window_bits is below its setting, where RFC 7692 §7.1.2.1
//     would have it decline the offer (wsRefuses).
func expectedAsServer(p *peer, gc websocket.CompressionOptions, on bool, pc deflateConfig) string {
	g := gc.WindowBits
	if g == 0 {
		g = 15
	}
	offerNoCtx := !gc.ContextTakeover
	var smwb, cmwb int
	if p.name == "python-websockets" {
		cfgS, cfgC := cmp.Or(pc.ServerMaxWindowBits, 12), cmp.Or(pc.ClientMaxWindowBits, 12)
		smwb, cmwb = min(g, cfgS), min(g, cfgC)
	} else {
		if pc.ServerMaxWindowBits != 0 && g < pc.ServerMaxWindowBits {
			return wsRefuses
		}
		smwb, cmwb = cmp.Or(pc.ServerMaxWindowBits, g), cmp.Or(pc.ClientMaxWindowBits, g)
	}
	return deflateReport(on && !gc.Disabled,
		offerNoCtx || pc.ServerNoContextTakeover, offerNoCtx || pc.ClientNoContextTakeover, smwb, strconv.Itoa(cmwb))
}

// expectedAsClient is what a peer client configured with pc must agree to
// with a Go server configured with gc: the Go server without context
// takeover answers both *_no_context_takeover parameters, and with takeover
// echoes those offered (§7.1.1); it accepts a server_max_window_bits offer
// with a value no larger than asked and than its WindowBits, which it also
// answers unasked (§7.1.2.1); with a WindowBits below 15 it limits the
// client's window to it when offered client_max_window_bits, and otherwise
// leaves it to the client (§7.1.2.2).
func expectedAsClient(gc websocket.CompressionOptions, on bool, pc deflateConfig) string {
	g := gc.WindowBits
	if g == 0 {
		g = 15
	}
	smwb, cmwb := min(g, cmp.Or(pc.ServerMaxWindowBits, 15)), "15"
	if pc.ClientMaxWindowBits != 0 {
		cmwb = "(?:" + strconv.Itoa(pc.ClientMaxWindowBits) + "|15)"
	}
	if g < 15 {
		cmwb = strconv.Itoa(min(g, cmp.Or(pc.ClientMaxWindowBits, 15)))
	}
	noCtx := !gc.ContextTakeover
	return deflateReport(on && !gc.Disabled,
		noCtx || pc.ServerNoContextTakeover, noCtx || pc.ClientNoContextTakeover, smwb, cmwb)
}

// checkWireBytes checks the bytes one direction took on the wire: random is
// the total of the random payloads it carried, compressible that of the
// repetitive ones.
func checkWireBytes(t *testing.T, dir string, n int64, random, compressible int, negotiated bool) {
	t.Helper()
	const slack = 64 << 10 // headers, handshake, deflate overhead on random data
	if negotiated {
		if limit := int64(random + compressible/8 + slack); n > limit {
			t.Errorf("%s: %d bytes on the wire with compression, want at most %d (%d random + %d compressible payload bytes)", dir, n, limit, random, compressible)
		}
	} else if n < int64(random+compressible) {
		t.Errorf("%s: %d bytes on the wire without compression, less than the %d payload bytes", dir, n, random+compressible)
	}
	t.Logf("%s: %d bytes on the wire for %d random + %d compressible payload bytes", dir, n, random, compressible)
}

func TestClientCompression(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		for _, pc := range peerCompression {
			s := startPeerServer(t, p, serverConfig{Compress: pc.on, Deflate: &pc.config})
			for _, gc := range goCompression {
				t.Run(gc.name+"/"+pc.name, func(t *testing.T) {
					want := expectedAsServer(p, gc.opts, pc.on, pc.config)
					if want == wsRefuses {
						t.Skip("ws refuses a handshake whose server_max_window_bits is below its serverMaxWindowBits")
					}
					negotiated := want != "none"
					sizes, fragments := compressSizes(largeCompressed(gc.opts, pc.name))
					var read, written atomic.Int64
					opts := plainDial()
					opts.Compression = gc.opts
					opts.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
						c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
						if err != nil {
							return nil, err
						}
						return &countingConn{Conn: c, read: &read, written: &written}, nil
					}
					c := dial(t, s, "/ext", opts)
					if got := readText(t, c, "extension report"); got != "ext:"+want {
						t.Fatalf("peer server reports %q, want %q", got, "ext:"+want)
					}
					read0, written0 := read.Load(), written.Load()
					random, compressible := 0, 0
					echo := func(op websocket.Opcode, want []byte) {
						t.Helper()
						if err := c.WriteMessage(op, want); err != nil {
							t.Fatalf("WriteMessage %s %d B: %v", opName(op), len(want), err)
						}
						gotOp, got, err := c.ReadMessage()
						if err != nil {
							t.Fatalf("ReadMessage echo of %s %d B: %v", opName(op), len(want), err)
						}
						if gotOp != op || !bytes.Equal(got, want) {
							t.Errorf("echo of %s %d B: got %s %d B (equal=%v)", opName(op), len(want), opName(gotOp), len(got), bytes.Equal(got, want))
						}
					}
					for _, op := range []websocket.Opcode{websocket.OpText, websocket.OpBinary} {
						for _, size := range sizes {
							echo(op, randomPayload(op == websocket.OpText, size))
							random += size
						}
						// The same text twice: with context takeover the second
						// refers back into the first, which the peer can follow
						// only if both sides kept the window the answer allows.
						echo(op, compressibleText(compressibleSize))
						compressible += compressibleSize
						// Streamed messages are compressed too, whatever their size.
						w, err := c.NextWriter(op)
						if err != nil {
							t.Fatal(err)
						}
						want := compressibleText(compressibleSize)
						for rest := want; len(rest) > 0; rest = rest[min(len(rest), 10000):] {
							if _, err := w.Write(rest[:min(len(rest), 10000)]); err != nil {
								t.Fatal(err)
							}
						}
						if err := w.Close(); err != nil {
							t.Fatal(err)
						}
						if gotOp, got, err := c.ReadMessage(); err != nil || gotOp != op || !bytes.Equal(got, want) {
							t.Errorf("echo of streamed compressible %s: %s %d B, %v", opName(op), opName(gotOp), len(got), err)
						}
						compressible += compressibleSize
					}
					checkWireBytes(t, "Go to peer", written.Load()-written0, random, compressible, negotiated)
					checkWireBytes(t, "peer to Go", read.Load()-read0, random, compressible, negotiated)
					closeNormally(t, c)
					if negotiated {
						readPeerFragmented(t, s, opts, fragments)
					}
				})
			}
		}
	})
}

// readPeerFragmented reads the peer server's fragmented messages, each
// compressed as one message over several frames (RFC 7692 §6.1), and checks
// them against the digest the peer sends after each.
func readPeerFragmented(t *testing.T, s *peerServer, opts *websocket.DialOptions, fragments [][2]int) {
	t.Helper()
	for _, op := range []string{"text", "binary"} {
		for _, f := range fragments {
			what := fmt.Sprintf("peer's %s %d B in %d fragments", op, f[0], f[1])
			c := dial(t, s, fmt.Sprintf("/fragmented?op=%s&size=%d&chunks=%d", op, f[0], f[1]), opts)
			gotOp, got, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if want := readText(t, c, "digest after "+what); digest(got) != want {
				t.Errorf("%s: got %s, peer sent %s", what, digest(got), want)
			}
			if (gotOp == websocket.OpText) != (op == "text") {
				t.Errorf("%s: arrived as %s", what, opName(gotOp))
			}
			closeNormally(t, c)
		}
	}
}

func TestServerCompression(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		for _, gc := range goCompression {
			for _, pc := range peerCompression {
				t.Run(gc.name+"/"+pc.name, func(t *testing.T) {
					want := expectedAsClient(gc.opts, pc.on, pc.config)
					negotiated := want != "none"
					sizes, fragments := compressSizes(largeCompressed(gc.opts, pc.name))
					opts := plainAccept()
					opts.Compression = gc.opts
					s := startGoServer(t, opts)
					err := runPeerClient(t, p, s.url, map[string]any{
						"scenario":       "sizes",
						"compress":       pc.on,
						"deflate":        pc.config,
						"expect_deflate": want,
						"sizes":          sizes,
						"compressible":   []int{compressibleSize},
					})
					if err != nil {
						t.Error(err)
					}
					s.wait(t)
					random := 0
					for _, n := range sizes {
						random += 2 * n // text and binary
					}
					checkWireBytes(t, "peer to Go", s.read.Load(), random, 2*compressibleSize, negotiated)
					// Every window compresses, within its limit.
					checkWireBytes(t, "Go to peer", s.written.Load(), random, 2*compressibleSize, negotiated)
					// Fragmented both ways: the peer's messages to the Go echo,
					// the Go side's streamed ones from /fragmented.
					if err := runPeerClient(t, p, s.url, map[string]any{
						"scenario":  "fragments",
						"compress":  pc.on,
						"deflate":   pc.config,
						"fragments": fragments,
					}); err != nil {
						t.Error(err)
					}
					s.wait(t)
				})
			}
		}
	})
}

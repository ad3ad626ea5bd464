//go:build !js

package websocket

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type jsonMsg struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

// TestWriteJSONSendsOneTextMessageWithoutNewline checks the bytes on the
// wire: one text message holding exactly the JSON value.
func TestWriteJSONSendsOneTextMessageWithoutNewline(t *testing.T) {
	long := strings.Repeat("é", 5000) // past the write buffer
	for _, v := range []any{jsonMsg{"a", 1}, []int{1, 2, 3}, "x\ny", jsonMsg{long, 2}} {
		p, c := newRawPeer(t, tcpConns, false, connConfig{}) // the Conn is a client
		want, _ := json.Marshal(v)
		errc := make(chan error, 1)
		go func() { errc <- c.WriteJSON(v) }()
		h, got, err := p.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if h.Opcode != OpText || !h.Fin || string(got) != string(want) {
			t.Fatalf("WriteJSON(%T) sent %v frame (fin %v) %.40q, want one text frame %.40q", v, h.Opcode, h.Fin, got, want)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteJSONEncodingErrorSendsNothing(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, false, connConfig{})
	if err := c.WriteJSON(func() {}); err == nil || !strings.Contains(err.Error(), "encoding JSON") {
		t.Fatalf("WriteJSON(func) = %v, want an encoding error", err)
	}
	go c.WriteMessage(OpText, []byte("next"))
	p.mustReadFrame(OpText, "next")
}

// TestReadJSON checks what ReadJSON accepts, what it refuses with an error
// wrapping encoding/json's, and that the Conn stays usable after a refusal.
func TestReadJSON(t *testing.T) {
	cases := []struct {
		name, msg string
		op        Opcode
		want      jsonMsg
		wantErr   any // a pointer to the error type expected in the chain, or nil
	}{
		{"text", `{"name":"a","n":1}`, OpText, jsonMsg{"a", 1}, nil},
		{"binary", `{"name":"b","n":2}`, OpBinary, jsonMsg{"b", 2}, nil},
		{"trailing white space", "{\"n\":3}\n \t", OpText, jsonMsg{N: 3}, nil},
		{"syntax error", `{"name":`, OpText, jsonMsg{}, nil},
		{"bad syntax", `{"name" 1}`, OpText, jsonMsg{}, new(*json.SyntaxError)},
		{"wrong type", `{"n":"x"}`, OpText, jsonMsg{}, new(*json.UnmarshalTypeError)},
		{"two values", `{"n":1} {"n":2}`, OpText, jsonMsg{}, nil},
		{"garbage after", `{"n":1} x`, OpText, jsonMsg{}, new(*json.SyntaxError)},
		{"empty", ``, OpText, jsonMsg{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, c := newRawPeer(t, tcpConns, true, connConfig{})
			p.sendAsync(fromClient(true, tc.op, tc.msg), fromClient(true, OpText, "after"))
			var got jsonMsg
			err := c.ReadJSON(&got)
			ok := tc.wantErr == nil && tc.want != (jsonMsg{})
			switch {
			case ok && (err != nil || got != tc.want):
				t.Fatalf("ReadJSON of %q = %+v, %v; want %+v", tc.msg, got, err, tc.want)
			case !ok && (err == nil || !errors.Is(err, ErrInvalidJSON)):
				t.Fatalf("ReadJSON of %q = %v, want an error wrapping ErrInvalidJSON", tc.msg, err)
			case tc.wantErr != nil && !errors.As(err, tc.wantErr):
				t.Fatalf("ReadJSON of %q = %v, want a %T in the chain", tc.msg, err, tc.wantErr)
			}
			if op, msg, err := c.ReadMessage(); err != nil || op != OpText || string(msg) != "after" {
				t.Fatalf("read after ReadJSON: %v %q %v, want the next message", op, msg, err)
			}
		})
	}
}

// TestReadJSONReturnsConnErrors: the connection's end is not taken for bad
// JSON.
func TestReadJSONReturnsConnErrors(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, true, connConfig{})
	p.sendAsync(fromClient(false, OpText, `{"name":`), clientClose(1001, ""))
	var v jsonMsg
	err := c.ReadJSON(&v)
	// A Close frame may come between the fragments of a message (§5.4).
	if CloseStatus(err) != StatusGoingAway || errors.Is(err, ErrInvalidJSON) {
		t.Fatalf("ReadJSON = %v, want the peer's 1001", err)
	}
	p.nc.Close()
	if err := c.ReadJSON(&v); CloseStatus(err) != StatusGoingAway {
		t.Fatalf("second ReadJSON = %v, want the peer's 1001 again", err)
	}
}

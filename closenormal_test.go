//go:build !js

package websocket

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// TestIsNormalCloseSeparatesPlannedEndsFromFailures drives each way a
// connection ends and checks what the reading side's error is taken for.
func TestIsNormalCloseSeparatesPlannedEndsFromFailures(t *testing.T) {
	cases := []struct {
		name   string
		normal bool
		end    func(p *rawPeer, c *Conn) // ends the connection; the Conn is the server
	}{
		{"peer closes 1000", true, func(p *rawPeer, c *Conn) { p.sendAsync(clientClose(1000, "bye")) }},
		{"peer closes 1001", true, func(p *rawPeer, c *Conn) { p.sendAsync(clientClose(1001, "")) }},
		{"peer closes with no code", true, func(p *rawPeer, c *Conn) { p.sendAsync(fromClient(true, OpClose, "")) }},
		{"peer closes 1011", false, func(p *rawPeer, c *Conn) { p.sendAsync(clientClose(1011, "oops")) }},
		{"peer closes 4000", false, func(p *rawPeer, c *Conn) { p.sendAsync(clientClose(4000, "")) }},
		{"peer drops the connection", false, func(p *rawPeer, c *Conn) { p.nc.Close() }},
		{"peer breaks the protocol", false, func(p *rawPeer, c *Conn) { p.sendAsync(fromClient(true, Opcode(3), "")) }},
		{"we CloseNow", true, func(p *rawPeer, c *Conn) { c.CloseNow() }},
		{"we Close, peer answers", true, func(p *rawPeer, c *Conn) {
			go func() {
				p.expectClose(StatusNormalClosure)
				p.write(clientClose(1000, ""))
			}()
			go c.Close(StatusNormalClosure, "")
		}},
		{"we Close, peer drops the connection", true, func(p *rawPeer, c *Conn) {
			go func() {
				p.readFrame()
				p.nc.Close()
			}()
			go c.Close(StatusNormalClosure, "")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, c := newRawPeer(t, tcpConns, true, connConfig{})
			c.SetReadDeadline(time.Now().Add(testTimeout))
			got := readAsync(c)
			time.Sleep(10 * time.Millisecond) // let the read start
			tc.end(p, c)
			r := waitRead(t, got)
			if r.err == nil || IsNormalClose(r.err) != tc.normal {
				t.Fatalf("read error %v: IsNormalClose = %v, want %v", r.err, IsNormalClose(r.err), tc.normal)
			}
		})
	}
}

func TestIsNormalCloseOfOtherErrors(t *testing.T) {
	for _, err := range []error{nil, io.EOF, ErrClosed, errors.New("x"), fmt.Errorf("wrapped: %w", &CloseError{Code: StatusProtocolError})} {
		if IsNormalClose(err) {
			t.Errorf("IsNormalClose(%v) = true", err)
		}
	}
	if !IsNormalClose(fmt.Errorf("wrapped: %w", &CloseError{Code: StatusGoingAway})) {
		t.Error("IsNormalClose of a wrapped 1001 = false")
	}
}

// TestIsNormalCloseKeepAliveDropIsAFailure: a peer that stops answering
// pings is a failure, though the keep-alive closes the connection locally.
func TestIsNormalCloseKeepAliveDropIsAFailure(t *testing.T) {
	// The raw peer never reads, so its pongs never come.
	_, c := newRawPeer(t, tcpConns, true, connConfig{pingInterval: 50 * time.Millisecond})
	c.SetReadDeadline(time.Now().Add(testTimeout))
	r := waitRead(t, readAsync(c))
	if r.err == nil || IsNormalClose(r.err) {
		t.Fatalf("read error %v after the keep-alive dropped the peer: IsNormalClose = %v, want false", r.err, IsNormalClose(r.err))
	}
}

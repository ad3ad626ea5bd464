package benchmarks

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Client is the one load generator used against every server: a minimal
// RFC 6455 client over net.Conn that sends pre-built masked frames and parses
// server frames with no allocation per message. Being tiny and shared, it
// costs every server the same.
type Client struct {
	nc  net.Conn
	br  *bufio.Reader
	hdr [14]byte
}

const clientKey = "dGhlIHNhbXBsZSBub25jZQ=="

var errHandshake = errors.New("benchmarks: bad handshake response")

// Dial connects to a WebSocket server at addr (host:port, path /ws) from the
// local address laddr (nil: any) and completes the opening handshake.
func Dial(ctx context.Context, addr string, laddr net.Addr) (*Client, error) {
	return DialExtensions(ctx, addr, laddr, "")
}

// DialExtensions is Dial with ext as the request's Sec-WebSocket-Extensions
// ("" for none); the server must accept the first extension offered, or
// DialExtensions fails. The client itself never sets RSV bits, which RFC
// 7692 allows (each message may go uncompressed), and reads only frames
// without them.
func DialExtensions(ctx context.Context, addr string, laddr net.Addr, ext string) (*Client, error) {
	return DialWith(ctx, &net.Dialer{LocalAddr: laddr}, addr, "/ws", ext)
}

// DialWith is DialExtensions through d (its LocalAddr, its Control to set
// socket options before connecting) to the request path path.
func DialWith(ctx context.Context, d *net.Dialer, addr, path, ext string) (*Client, error) {
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	c := &Client{nc: nc, br: bufio.NewReaderSize(nc, 4096)}
	if err := c.handshake(addr, path, ext); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *Client) handshake(host, path, ext string) error {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + clientKey + "\r\nSec-WebSocket-Version: 13\r\n"
	if ext != "" {
		req += "Sec-WebSocket-Extensions: " + ext + "\r\n"
	}
	req += "\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	h := sha1.Sum([]byte(clientKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		return fmt.Errorf("%w: %s", errHandshake, resp.Status)
	}
	if ext != "" {
		name, _, _ := strings.Cut(ext, ";")
		got, _, _ := strings.Cut(resp.Header.Get("Sec-WebSocket-Extensions"), ";")
		if strings.TrimSpace(got) != strings.TrimSpace(name) {
			return fmt.Errorf("%w: offered %q, server accepted %q", errHandshake, ext, resp.Header.Get("Sec-WebSocket-Extensions"))
		}
	}
	return nil
}

// NetConn returns the underlying connection.
func (c *Client) NetConn() net.Conn { return c.nc }

// Close closes the TCP connection without a closing handshake.
func (c *Client) Close() error { return c.nc.Close() }

// WriteRaw writes pre-built frame bytes.
func (c *Client) WriteRaw(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// ReadMessage reads the next data message into buf[:0] (growing it only if
// it is too small), reassembling fragments and skipping pings and pongs. It
// returns the opcode of the message's first frame.
func (c *Client) ReadMessage(buf []byte) (byte, []byte, error) {
	buf = buf[:0]
	var op byte
	for {
		if _, err := io.ReadFull(c.br, c.hdr[:2]); err != nil {
			return 0, buf, err
		}
		fin, fop := c.hdr[0]&0x80 != 0, c.hdr[0]&0x0F
		if c.hdr[0]&0x70 != 0 {
			return 0, buf, errors.New("benchmarks: server frame with RSV bits (compressed?)")
		}
		if c.hdr[1]&0x80 != 0 {
			return 0, buf, errors.New("benchmarks: masked server frame")
		}
		n := int64(c.hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, c.hdr[2:4]); err != nil {
				return 0, buf, err
			}
			n = int64(binary.BigEndian.Uint16(c.hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(c.br, c.hdr[2:10]); err != nil {
				return 0, buf, err
			}
			n = int64(binary.BigEndian.Uint64(c.hdr[2:10]))
		}
		if n > 64<<20 {
			return 0, buf, errors.New("benchmarks: frame too large")
		}
		if fop >= 0x8 { // control frame
			if _, err := c.br.Discard(int(n)); err != nil {
				return 0, buf, err
			}
			if fop == 0x8 {
				return 0, buf, io.EOF
			}
			continue
		}
		if fop != 0 {
			op = fop
		}
		start := len(buf)
		if cap(buf)-start < int(n) {
			nb := make([]byte, start, start+int(n))
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:start+int(n)]
		if _, err := io.ReadFull(c.br, buf[start:]); err != nil {
			return 0, buf, err
		}
		if fin {
			return op, buf, nil
		}
	}
}

package jstest

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/fullduplex/websocket"
)

// clientAPI is what a client program may call on a Conn, with the native
// signatures: both builds must compile this file, so the js Conn cannot
// drift from the native one.
type clientAPI interface {
	ReadMessage() (websocket.Opcode, []byte, error)
	AppendMessage(b []byte) (websocket.Opcode, []byte, error)
	NextReader() (websocket.Opcode, io.Reader, error)
	NextWriter(op websocket.Opcode) (io.WriteCloser, error)
	WriteMessage(op websocket.Opcode, p []byte) error
	ReadJSON(v any) error
	WriteJSON(v any) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
	CloseRead(ctx context.Context) context.Context
	Done() <-chan struct{}
	Subprotocol() string
	Response() *http.Response
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	SetReadLimit(n int64)
	SetDeadline(t time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	SetPingHandler(h func(payload []byte) error)
	SetPongHandler(h func(payload []byte) error)
	SetWriteCompression(enabled bool)
	Ping(ctx context.Context) (time.Duration, error)
	WritePing(payload []byte) error
	WritePong(payload []byte) error
}

var _ clientAPI = (*websocket.Conn)(nil)

// dial has Dial's signature and sets every DialOptions field the js build
// keeps, so that options written for one build compile for the other.
var dialFunc func(context.Context, string, *websocket.DialOptions) (*websocket.Conn, error) = websocket.Dial

var _ = websocket.DialOptions{
	Header:           http.Header{},
	Jar:              nil,
	Subprotocols:     []string{},
	TLSConfig:        nil,
	NetDialContext:   func(ctx context.Context, network, addr string) (net.Conn, error) { return nil, nil },
	Proxy:            nil,
	HandshakeTimeout: time.Second,
	ReadLimit:        1,
	ReadBufferSize:   1,
	WriteBufferSize:  1,
	PingInterval:     0,
	CloseTimeout:     time.Second,
	Compression:      websocket.CompressionOptions{Disabled: false, ContextTakeover: false, Level: 0, WindowBits: 0, Threshold: 0},
}

// The error values and types a client branches on.
var (
	_ = []error{websocket.ErrClosed, websocket.ErrMessageTooBig, websocket.ErrInvalidUTF8, websocket.ErrInvalidJSON, websocket.ErrProtocol}
	_ = (*websocket.CloseError).Error
	_ = websocket.IsNormalClose
	_ = websocket.CloseStatus
	_ = websocket.NetConn
	_ = (*websocket.HandshakeError).Error
)

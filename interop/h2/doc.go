// Package h2 checks fullduplex's server over HTTP/2 (RFC 8441) with
// golang.org/x/net/http2 as the client: net/http's server, with
// GODEBUG=http2xconnect=1, hands Accept extended CONNECT requests, and the
// tests open WebSockets as streams of one TCP connection with x/net's
// ClientConn. The library has no HTTP/2 client, so the tests frame the
// client's side of the WebSocket themselves with the library's frame codec.
//
// The package holds only tests. TestMain runs the test binary again with
// http2xconnect=1 added to GODEBUG when it is missing, since net/http reads it
// once at start-up.
package h2

//go:build !linux && !js

package websocket

import "errors"

// Elsewhere than on Linux the Poller takes no socket over
// (poller_conn_linux.go): it serves each connection with a goroutine of
// its own.

func (pc *pollConn) takeOver() error { return errors.ErrUnsupported }
func (pc *pollConn) flush() bool     { return false }
func (pc *pollConn) tidy()           {}
func (pc *pollConn) closeFD()        {}

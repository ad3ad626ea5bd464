//go:build !js

package websocket

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// BenchmarkGroupBroadcast broadcasts one message per op to 100 members
// over loopback, each read by a client; ops are counted when every client
// has its message (the queue never holds more than 64). Bytes are the
// payload delivered to all members.
func BenchmarkGroupBroadcast(b *testing.B) {
	for _, s := range []struct {
		name string
		size int
	}{{"16B", 16}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}} {
		b.Run(s.name, func(b *testing.B) {
			const members, window = 100, 64
			g := &Group{}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var handlers sync.WaitGroup
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				for {
					nc, err := ln.Accept()
					if err != nil {
						return
					}
					handlers.Add(1)
					go func() {
						defer handlers.Done()
						c, err := AcceptConn(nc, nil, &AcceptOptions{Compression: CompressionOptions{Disabled: true}})
						if err != nil {
							nc.Close()
							return
						}
						defer c.CloseNow()
						if !g.Add(c) {
							return
						}
						for {
							if _, _, err := c.ReadMessage(); err != nil {
								return
							}
						}
					}()
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got := make(chan int, members)
			var readers sync.WaitGroup
			for range members {
				c, err := Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
				if err != nil {
					b.Fatal(err)
				}
				defer c.CloseNow()
				readers.Add(1)
				go func() {
					defer readers.Done()
					var buf []byte
					n := 0
					for {
						var err error
						if _, buf, err = c.AppendMessage(buf[:0]); err != nil {
							return
						}
						n++
						if n%window == 0 {
							got <- n
						}
					}
				}()
			}
			for g.Len() < members && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			pm, err := NewPreparedMessage(OpBinary, make([]byte, s.size))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(s.size * members))
			b.ReportAllocs()
			b.ResetTimer()
			n := b.N + (window-b.N%window)%window // whole windows
			for i := 1; i <= n; i++ {
				g.Broadcast(pm)
				if i%window == 0 {
					for range members {
						select {
						case <-got:
						case <-ctx.Done():
							b.Fatal("members did not receive their messages in time")
						}
					}
				}
			}
			b.StopTimer()
			if g.Len() != members {
				b.Fatalf("%d members left of %d", g.Len(), members)
			}
			ln.Close()
			g.Shutdown(ctx)
			handlers.Wait()
			readers.Wait()
		})
	}
}

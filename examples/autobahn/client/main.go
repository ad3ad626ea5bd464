// Command client is the testee for the client side of the Autobahn|Testsuite
// (the fuzzingserver mode): it asks the suite how many cases there are, runs
// each one by echoing every message until the suite closes, and asks the
// suite to write its reports. See ../README.md.
//
//	go run ./examples/autobahn/client -url ws://127.0.0.1:9001 -agent fullduplex
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/url"
	"strconv"
	"time"

	"github.com/fullduplex/websocket"
)

func main() {
	base := flag.String("url", "ws://127.0.0.1:9001", "the suite's URL")
	agent := flag.String("agent", "fullduplex", "the name the reports give this client")
	flag.Parse()
	if err := run(context.Background(), *base, *agent, log.Printf); err != nil {
		log.Fatal(err)
	}
}

// options mirror the server testee's: room for the 16 MiB messages of cases
// 9.x, and every message compressed when permessage-deflate is agreed.
var options = websocket.DialOptions{
	ReadLimit:   64 << 20,
	Compression: websocket.CompressionOptions{Threshold: -1},
}

// run runs every case of the suite at base, then updates its reports.
func run(ctx context.Context, base, agent string, logf func(string, ...any)) error {
	n, err := caseCount(ctx, base)
	if err != nil {
		return fmt.Errorf("getCaseCount: %w", err)
	}
	for i := 1; i <= n; i++ {
		logf("case %d/%d", i, n)
		u := fmt.Sprintf("%s/runCase?case=%d&agent=%s", base, i, url.QueryEscape(agent))
		if err := runCase(ctx, u); err != nil {
			logf("case %d: %v", i, err) // the suite judges the case; go on
		}
	}
	c, err := dial(ctx, base+"/updateReports?agent="+url.QueryEscape(agent))
	if err != nil {
		return fmt.Errorf("updateReports: %w", err)
	}
	defer c.CloseNow()
	_, _, err = c.ReadMessage() // the suite closes once the reports are written
	if websocket.CloseStatus(err) == 0 {
		return fmt.Errorf("updateReports: %w", err)
	}
	return nil
}

func dial(ctx context.Context, u string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return websocket.Dial(ctx, u, &options)
}

// caseCount reads the number of cases, which the suite sends as a text
// message on /getCaseCount.
func caseCount(ctx context.Context, base string) (int, error) {
	c, err := dial(ctx, base+"/getCaseCount")
	if err != nil {
		return 0, err
	}
	defer c.CloseNow()
	_, msg, err := c.ReadMessage()
	if err != nil {
		return 0, err
	}
	c.Close(websocket.StatusNormalClosure, "")
	return strconv.Atoi(string(msg))
}

// runCase echoes every message back until the suite closes the connection.
// A case that fails the connection on purpose ends with the error the Conn
// reports, which is what the suite checks, not this program.
func runCase(ctx context.Context, u string) error {
	c, err := dial(ctx, u)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	var buf []byte
	for {
		op, msg, err := c.AppendMessage(buf[:0])
		if err != nil {
			if websocket.CloseStatus(err) != 0 {
				return nil
			}
			return err
		}
		if err := c.WriteMessage(op, msg); err != nil {
			return err
		}
		buf = msg
	}
}

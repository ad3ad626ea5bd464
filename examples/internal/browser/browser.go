// Package browser drives a headless Chromium through the Chrome DevTools
// Protocol (CDP) for the examples' end-to-end tests.
//
// CDP is JSON-RPC over a WebSocket: the browser prints the address of its
// debugger socket on stderr, and every command is a text message
// {"id":N,"method":...,"params":...} answered by a message with the same id.
// Events (messages with a "method" and no "id") are ignored. The connection is
// made with this repository's own WebSocket client, so the tests exercise the
// library against a real, independent peer as well as the example servers.
//
// Pages are attached in flat mode (Target.attachToTarget with flatten), so all
// pages share the one browser connection and commands for a page carry its
// sessionId.
package browser

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/fullduplex/websocket"
)

// ErrNotFound is returned by Find and Start when no Chromium binary is on PATH.
var ErrNotFound = errors.New("browser: chromium not installed (on Debian: apt-get install chromium)")

// names are the executables tried, in order, by Find.
var names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Find returns the path of a Chromium (or Chrome) executable, or ErrNotFound.
// The environment variable CHROMIUM, when set, names the binary to use.
func Find() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", ErrNotFound
}

// Flags are the command-line flags Start passes to Chromium, besides
// --user-data-dir and --remote-debugging-port. --disable-dev-shm-usage avoids
// crashes in containers with a small /dev/shm; the last three keep timers and
// rendering of pages that are not in front running at full speed, so two
// pages of one test behave alike.
var Flags = []string{
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-dev-shm-usage",
	"--disable-background-timer-throttling",
	"--disable-renderer-backgrounding",
	"--disable-backgrounding-occluded-windows",
}

// writeTimeout bounds sending one command to the browser.
const writeTimeout = 10 * time.Second

// Browser is a running Chromium and the CDP connection to it. Its methods are
// safe for concurrent use.
type Browser struct {
	cmd     *exec.Cmd
	dataDir string
	conn    *websocket.Conn
	exited  chan struct{} // closed when the process has been waited for

	stderrMu sync.Mutex
	stderr   []string // last lines of the browser's stderr, for error messages

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan response
	readErr error         // why the read loop ended
	done    chan struct{} // closed when the read loop ends

	closeOnce sync.Once
}

type response struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

// Start launches a headless Chromium with a fresh profile in a temporary
// directory, passing it Flags and then extra, and connects to its debugger
// socket. ctx bounds the start-up only. Close must be called to stop the
// browser and remove the profile.
func Start(ctx context.Context, extra ...string) (*Browser, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fullduplex-chromium-")
	if err != nil {
		return nil, err
	}
	args := append([]string{}, Flags...)
	args = append(args, extra...)
	args = append(args, "--user-data-dir="+dir, "--remote-debugging-port=0", "about:blank")
	// Not exec.CommandContext: ctx bounds start-up, while the process must
	// live until Close.
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("browser: start %s: %w", bin, err)
	}
	b := &Browser{
		cmd:     cmd,
		dataDir: dir,
		exited:  make(chan struct{}),
		pending: make(map[int64]chan response),
		done:    make(chan struct{}),
	}
	wsURL := make(chan string, 1)
	// stderr is drained until the process exits: a full pipe would stall
	// Chromium's logging and with it the browser.
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			b.stderrMu.Lock()
			if len(b.stderr) == 20 {
				b.stderr = b.stderr[1:]
			}
			b.stderr = append(b.stderr, line)
			b.stderrMu.Unlock()
			if rest, ok := strings.CutPrefix(line, "DevTools listening on "); ok && !sent {
				wsURL <- strings.TrimSpace(rest)
				sent = true
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(b.exited)
	}()

	fail := func(err error) (*Browser, error) {
		b.kill()
		return nil, fmt.Errorf("%w\nchromium stderr:\n%s", err, b.Stderr())
	}
	var u string
	select {
	case u = <-wsURL:
	case <-b.exited:
		return fail(errors.New("browser: chromium exited before it printed its DevTools address"))
	case <-ctx.Done():
		return fail(fmt.Errorf("browser: waiting for the DevTools address: %w", ctx.Err()))
	}
	// Chromium rejects debugger connections that carry a foreign Origin
	// header; the library's client sends none, so no --remote-allow-origins
	// is needed. Screenshots arrive as base64 in one message, hence the
	// larger read limit.
	conn, err := websocket.Dial(ctx, u, &websocket.DialOptions{ReadLimit: 64 << 20})
	if err != nil {
		return fail(fmt.Errorf("browser: connect to %s: %w", u, err))
	}
	b.conn = conn
	go b.readLoop()
	return b, nil
}

// Stderr returns the last lines Chromium wrote to its standard error.
func (b *Browser) Stderr() string {
	b.stderrMu.Lock()
	defer b.stderrMu.Unlock()
	return strings.Join(b.stderr, "\n")
}

func (b *Browser) readLoop() {
	var err error
	for {
		var op websocket.Opcode
		var p []byte
		op, p, err = b.conn.ReadMessage()
		if err != nil {
			break
		}
		if op != websocket.OpText {
			continue
		}
		var msg struct {
			ID *int64 `json:"id"`
			response
		}
		if json.Unmarshal(p, &msg) != nil || msg.ID == nil {
			continue // an event, or not for us
		}
		b.mu.Lock()
		ch := b.pending[*msg.ID]
		delete(b.pending, *msg.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- msg.response // buffered: never blocks
		}
	}
	b.mu.Lock()
	b.readErr = err
	b.mu.Unlock()
	close(b.done)
}

// Call sends the CDP command method with params to the browser (sessionID
// "") or to an attached page, waits for its answer and decodes the result
// into result unless result is nil.
func (b *Browser) Call(ctx context.Context, sessionID, method string, params, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan response, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
	}()

	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if sessionID != "" {
		req["sessionId"] = sessionID
	}
	msg, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("browser: %s: %w", method, err)
	}
	// Not ctx's deadline: a write cut short by a timeout leaves half a frame,
	// and the connection is unusable after it. A browser that does not take
	// a small message within this bound is broken anyway.
	b.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := b.conn.WriteMessage(websocket.OpText, msg); err != nil {
		return fmt.Errorf("browser: %s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("browser: %s: %s (%d) %s", method, r.Error.Message, r.Error.Code, r.Error.Data)
		}
		if result != nil {
			if err := json.Unmarshal(r.Result, result); err != nil {
				return fmt.Errorf("browser: %s: decoding result: %w", method, err)
			}
		}
		return nil
	case <-b.done:
		b.mu.Lock()
		err := b.readErr
		b.mu.Unlock()
		return fmt.Errorf("browser: %s: connection lost: %w", method, err)
	case <-ctx.Done():
		return fmt.Errorf("browser: %s: %w", method, ctx.Err())
	}
}

// Close ends the CDP connection, kills Chromium, waits for it to exit and
// removes its profile directory.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		if b.conn != nil {
			// Browser.close lets Chromium shut down cleanly; the kill
			// below is the bound if it does not.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			b.Call(ctx, "", "Browser.close", nil, nil)
			cancel()
			b.conn.CloseNow()
		}
		b.kill()
	})
	return nil
}

func (b *Browser) kill() {
	select {
	case <-b.exited:
	case <-time.After(2 * time.Second):
		b.cmd.Process.Kill()
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
		}
	}
	os.RemoveAll(b.dataDir)
}

// Page is a browser tab attached in flat mode.
type Page struct {
	b         *Browser
	targetID  string
	sessionID string
}

// NewPage opens a tab of width×height CSS pixels, navigates it to url and
// waits until its document has loaded.
func (b *Browser) NewPage(ctx context.Context, url string, width, height int) (*Page, error) {
	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.Call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.Call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	p := &Page{b: b, targetID: created.TargetID, sessionID: attached.SessionID}
	if err := p.Call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
	}, nil); err != nil {
		return nil, err
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.Call(ctx, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, fmt.Errorf("browser: navigate to %s: %s", url, nav.ErrorText)
	}
	if err := p.WaitFor(ctx, `document.readyState === "complete"`); err != nil {
		return nil, err
	}
	return p, nil
}

// Call sends a CDP command to this page's session.
func (p *Page) Call(ctx context.Context, method string, params, result any) error {
	return p.b.Call(ctx, p.sessionID, method, params, result)
}

// Eval evaluates the JavaScript expression expr in the page, awaiting it if it
// is a promise, and decodes its value (as JSON) into out unless out is nil.
// A thrown exception is returned as an error.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.Call(ctx, "Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true,
	}, &r)
	if err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		return fmt.Errorf("browser: evaluating %q: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out == nil || r.Result.Type == "undefined" {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// WaitFor evaluates expr every 50ms until it is truthy or ctx ends; the error
// then names the expression and its last value.
func (p *Page) WaitFor(ctx context.Context, expr string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last any
	for {
		var ok bool
		err := p.Eval(ctx, "!!("+expr+")", &ok)
		if err == nil && ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("browser: waiting for %s: %w (last error: %v)", expr, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// Screenshot returns a PNG image of the page's viewport.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	// A page that is not in front may have no fresh frame to capture.
	if err := p.Call(ctx, "Page.bringToFront", nil, nil); err != nil {
		return nil, err
	}
	var r struct {
		Data string `json:"data"`
	}
	if err := p.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// Close closes the tab.
func (p *Page) Close(ctx context.Context) error {
	return p.b.Call(ctx, "", "Target.closeTarget", map[string]any{"targetId": p.targetID}, nil)
}

//go:build unix

package websocket

import (
	"bytes"
	"context"
	"fmt"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recipeHeading is the section of the package doc whose program
// TestShutdownRecipe runs.
const recipeHeading = "Shutting down"

// recipeImports are the program's first lines, which the package doc leaves
// out: it shows the code from there on.
const recipeImports = `package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fullduplex/websocket"
)

`

// TestShutdownRecipe runs the shutdown recipe of the package doc, exactly
// as written there, as a program of its own: 20 clients connect, the
// program gets SIGTERM, every client must get a Close frame with
// StatusGoingAway (1001) and the program must exit with status 0; 10 times
// in a row. docs/group.md, where the README sends its readers, must show
// the same code. The recipe it replaced (Shutdown registered with
// RegisterOnShutdown, main returning after http.Server.Shutdown) lost the
// Close frames in 6 to 8 rounds of 10.
func TestShutdownRecipe(t *testing.T) {
	code := recipeCode(t)
	const page = "docs/group.md"
	text, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(text, []byte("```go\n"+code+"```\n")) {
		t.Errorf(page+" does not show the recipe of the package doc's %q section as a ```go block:\n%s", recipeHeading, code)
	}

	bin := buildRecipe(t, recipeImports+code)
	const rounds, clients = 10, 20
	failed := 0
	for round := 1; round <= rounds; round++ {
		if err := runRecipe(t, bin, clients); err != nil {
			failed++
			t.Errorf("round %d of %d: %v", round, rounds, err)
		} else {
			t.Logf("round %d of %d: every client got 1001", round, rounds)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d rounds lost a 1001", failed, rounds)
	}
}

// recipeCode returns the first code block of the package doc's section
// recipeHeading.
func recipeCode(t *testing.T) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	var p comment.Parser
	in := false
	for _, b := range p.Parse(f.Doc.Text()).Content {
		switch b := b.(type) {
		case *comment.Heading:
			var text bytes.Buffer
			for _, x := range b.Text {
				if s, ok := x.(comment.Plain); ok {
					text.WriteString(string(s))
				}
			}
			in = text.String() == recipeHeading
		case *comment.Code:
			if in {
				return b.Text
			}
		}
	}
	t.Fatalf("doc.go: no code block in a section %q", recipeHeading)
	return ""
}

// buildRecipe builds the program src with the go command that runs the
// tests (with -race if they have it) and returns the binary's path.
func buildRecipe(t *testing.T, src string) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts its own first in PATH
	if err != nil {
		t.Skip("no go command to build the recipe with")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "recipe")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	// Run from the module, so that the program imports this package as it is.
	cmd := exec.Command(goBin, append(args, filepath.Join(dir, "main.go"))...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the recipe: %v\n%s\n%s", err, out, src)
	}
	return bin
}

// recipeTimeout bounds every wait of a round: the start, the dials, the
// closing handshakes and the exit. No verdict rests on a shorter wait: a
// round ends early only on what the clients and the program report.
const recipeTimeout = 20 * time.Second

// runRecipe starts the program bin on a free loopback port, connects n
// clients, sends SIGTERM and checks that every client gets 1001 and the
// program exits with status 0.
func runRecipe(t *testing.T, bin string, n int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), recipeTimeout)
	defer cancel()
	p, err := startRecipe(ctx, bin)
	if err != nil {
		return err
	}
	defer p.kill()

	clients := make([]*Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.CloseNow()
		}
	}()
	for range n {
		c, err := Dial(ctx, p.url, nil)
		if err != nil {
			return fmt.Errorf("client %d: %v\n%s", len(clients), err, p.output())
		}
		clients = append(clients, c)
	}
	// The clients read, as pages do, so that they answer the Close frames.
	errs := make([]error, n)
	var reading sync.WaitGroup
	deadline, _ := ctx.Deadline()
	for i, c := range clients {
		reading.Add(1)
		go func() {
			defer reading.Done()
			c.SetReadDeadline(deadline)
			_, _, errs[i] = c.ReadMessage()
		}()
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	reading.Wait()

	var problems []string
	lost := 0
	byErr := map[string][]int{} // the clients that got each error
	var order []string
	for i, err := range errs {
		if CloseStatus(err) == StatusGoingAway {
			continue
		}
		lost++
		s := fmt.Sprint(err)
		if byErr[s] == nil {
			order = append(order, s)
		}
		byErr[s] = append(byErr[s], i)
	}
	if lost > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d clients got no 1001", lost, n))
	}
	for _, s := range order {
		problems = append(problems, fmt.Sprintf("clients %v: %s", byErr[s], s))
	}
	select {
	case <-p.exited:
		if p.err != nil {
			problems = append(problems, fmt.Sprintf("the program ended with %v", p.err))
		}
	case <-ctx.Done():
		problems = append(problems, fmt.Sprintf("the program still runs %v after SIGTERM", recipeTimeout))
	}
	if problems != nil {
		return fmt.Errorf("%s\n%s", strings.Join(problems, "\n"), p.output())
	}
	return nil
}

// recipeProc is a running recipe.
type recipeProc struct {
	cmd    *exec.Cmd
	url    string
	out    syncBuffer
	exited chan struct{} // closed once cmd has exited; err is then set
	err    error
}

// startRecipe starts bin on a free loopback port and waits until it
// answers. A port taken between the probe and the program's listen makes
// the program exit; it is then started again on another.
func startRecipe(ctx context.Context, bin string) (*recipeProc, error) {
	var last error
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := ln.Addr().String()
		ln.Close()
		p := &recipeProc{url: "ws://" + addr + "/ws", exited: make(chan struct{})}
		p.cmd = exec.Command(bin, "-addr", addr)
		// A race report makes the exit status 66; the second the race
		// runtime waits at exit by default is time lost.
		p.cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
		p.cmd.Stdout = &p.out
		p.cmd.Stderr = &p.out
		if err := p.cmd.Start(); err != nil {
			return nil, err
		}
		go func() {
			p.err = p.cmd.Wait()
			close(p.exited)
		}()
		for {
			nc, err := new(net.Dialer).DialContext(ctx, "tcp", addr)
			if err == nil {
				nc.Close()
				return p, nil
			}
			select {
			case <-p.exited:
				last = fmt.Errorf("exited before listening: %v\n%s", p.err, p.output())
			case <-ctx.Done():
				p.kill()
				return nil, fmt.Errorf("not listening on %s within %v: %v\n%s", addr, recipeTimeout, err, p.output())
			case <-time.After(10 * time.Millisecond):
				continue
			}
			break
		}
	}
	return nil, last
}

// kill ends the program if it still runs and waits for it.
func (p *recipeProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

func (p *recipeProc) output() string {
	if s := p.out.String(); s != "" {
		return "program output:\n" + s
	}
	return "program output: none"
}

// syncBuffer is a bytes.Buffer that the program's output may be written to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

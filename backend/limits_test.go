package backend_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/engine"
)

// blockingEngine makes imports of a compose project slow at will: Projects
// says it started, then waits until released or its context ends.
type blockingEngine struct {
	engine.Unavailable
	started chan struct{}
	release chan struct{}
}

func newBlockingEngine() blockingEngine {
	return blockingEngine{Unavailable: engine.Unavailable{Reason: "test"}, started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (e blockingEngine) Projects(ctx context.Context) ([]engine.Project, error) {
	e.started <- struct{}{}
	select {
	case <-e.release:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func withLimits(l backend.Limits) serverOpt {
	return func(c *backend.Config, _ *backend.Listener) { c.Limits = l }
}

// post sends an import with a client that gives up after 10 s, so that a
// request the server holds for ever fails the test instead of hanging it.
func (ts *testServer) post(body string) (answer, error) {
	return ts.postWithin(10*time.Second, body)
}

func waitStarted(t *testing.T, e blockingEngine, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-e.started:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d imports reached the engine", i, n)
		}
	}
}

// TestImportLimit runs as many slow imports as the limit allows: one more
// is refused as busy at once, and a place frees when an import ends.
func TestImportLimit(t *testing.T) {
	eng := newBlockingEngine()
	ts := startServer(t, "", withEngine(eng), withLimits(backend.Limits{Imports: 2}))
	release := sync.OnceFunc(func() { close(eng.release) })
	t.Cleanup(release) // before the server's, which waits for the requests
	var wg sync.WaitGroup
	results := make(chan answer, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := ts.post(`{"project":"shop"}`)
			if err != nil {
				t.Error(err)
			}
			results <- a
		}()
	}
	waitStarted(t, eng, 2)

	a, err := ts.post(filesBody("compose.yaml", composeYAML))
	if err != nil {
		t.Fatalf("the import over the limit was not refused: %v", err)
	}
	if code, msg := a.errorOf(t); a.Status != http.StatusServiceUnavailable || code != "unavailable" || !strings.Contains(msg, "busy: too many imports at once") {
		t.Fatalf("import over the limit: %d %s", a.Status, a.Body)
	}

	release()
	wg.Wait()
	close(results)
	for a := range results {
		if a.Status != http.StatusNotFound { // the engine has no such project
			t.Errorf("a slow import ended with %d %s", a.Status, a.Body)
		}
	}
	if a, err := ts.post(filesBody("compose.yaml", composeYAML)); err != nil || a.Status != http.StatusCreated {
		t.Fatalf("import after the slow ones ended: %v %d %s", err, a.Status, a.Body)
	}
}

// TestImportTimeout gives an import less time than it takes: it is
// answered unavailable, logged, and frees its place.
func TestImportTimeout(t *testing.T) {
	eng := newBlockingEngine()
	var logs syncBuffer
	ts := startServer(t, "", withEngine(eng), withLimits(backend.Limits{Imports: 1, ImportTimeout: 200 * time.Millisecond}),
		func(c *backend.Config, _ *backend.Listener) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	start := time.Now()
	a, err := ts.post(`{"project":"shop"}`)
	if err != nil {
		t.Fatalf("the slow import was not cut short: %v", err)
	}
	if code, msg := a.errorOf(t); a.Status != http.StatusServiceUnavailable || code != "unavailable" || !strings.Contains(msg, "did not finish within 200ms") {
		t.Fatalf("slow import: %d %s", a.Status, a.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the answer took %v", d)
	}
	if !strings.Contains(logs.String(), "import timed out") {
		t.Fatalf("the time-out was not logged: %s", logs.String())
	}
	if a, err := ts.post(filesBody("compose.yaml", composeYAML)); err != nil || a.Status != http.StatusCreated {
		t.Fatalf("import after a time-out: %v %d %s", err, a.Status, a.Body)
	}
}

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

// runningOp starts an operation that runs until the test ends, after
// emitting the given number of events of size bytes each.
func runningOp(t *testing.T, ts *testServer, events, size int) string {
	t.Helper()
	op, err := ts.StartOperation(context.Background(), "test", "", func(ctx context.Context, emit func(string, any) error) error {
		for range events {
			if err := emit("progress", strings.Repeat("x", size)); err != nil {
				return err
			}
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return op.ID
}

// openStream opens an event stream; the caller closes the body.
func (ts *testServer) openStream(t *testing.T, opID string) *http.Response {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(ts.URL + "/api/v1/operations/" + opID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		// Timeout covers the body: read it only through the returned value.
		return resp
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func streamError(t *testing.T, resp *http.Response) (int, string, string) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Body: b}
	code, msg := a.errorOf(t)
	return a.Status, code, msg
}

// eventually retries f every 20 ms for up to 5 s.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatalf("%s: not within 5 s", what)
}

// TestStreamLimits opens event streams up to the limits, in all and on one
// operation: one more is refused, and closing one frees its place.
func TestStreamLimits(t *testing.T) {
	ts := startServer(t, "", withLimits(backend.Limits{Streams: 3, OpStreams: 2}))
	a, b, c := runningOp(t, ts, 0, 0), runningOp(t, ts, 0, 0), runningOp(t, ts, 0, 0)
	a1, a2 := ts.openStream(t, a), ts.openStream(t, a)
	defer a2.Body.Close()
	if a1.StatusCode != 200 || a2.StatusCode != 200 {
		t.Fatalf("streams within the limit: %d %d", a1.StatusCode, a2.StatusCode)
	}
	r := ts.openStream(t, a)
	if status, code, msg := streamError(t, r); status != 503 || code != "unavailable" || !strings.Contains(msg, "follow this operation") {
		t.Fatalf("third stream on one operation: %d %s %q", status, code, msg)
	}
	b1 := ts.openStream(t, b)
	defer b1.Body.Close()
	if b1.StatusCode != 200 {
		t.Fatalf("a stream of another operation: %d", b1.StatusCode)
	}
	r = ts.openStream(t, c)
	if status, code, msg := streamError(t, r); status != 503 || code != "unavailable" || !strings.Contains(msg, "too many event streams") {
		t.Fatalf("stream over the global limit: %d %s %q", status, code, msg)
	}
	a1.Body.Close()
	eventually(t, "a stream of the operation opens once one is closed", func() bool {
		r := ts.openStream(t, a)
		defer r.Body.Close()
		return r.StatusCode == 200
	})
}

// TestStreamWriteDeadline follows an operation with a client that stops
// reading: the stream must give up after the write deadline instead of
// holding its place (and a goroutine) for ever.
func TestStreamWriteDeadline(t *testing.T) {
	ts := startServer(t, "", withLimits(backend.Limits{OpStreams: 1, WriteTimeout: 200 * time.Millisecond}))
	// More than the kernel buffers of both ends hold (4 MiB at most here).
	op := runningOp(t, ts, 160, 64<<10)
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/operations/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", op)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("stuck client's stream: %q %v", status, err)
	}
	// It reads no more. While its stream holds the only place, another
	// client is refused; once the stream gives up, it gets in.
	eventually(t, "the stuck stream gives its place up", func() bool {
		r := ts.openStream(t, op)
		defer r.Body.Close()
		return r.StatusCode == 200
	})
}

// serveTimeouts runs the API with Serve, as `meshdock serve` does, with
// short timeouts.
func serveTimeouts(t *testing.T, eng engine.Engine) (string, *backend.Server) {
	t.Helper()
	w := startWire(t, withEngine(eng), withLimits(backend.Limits{HeaderTimeout: 200 * time.Millisecond, BodyTimeout: 2 * time.Second,
		IdleTimeout: 200 * time.Millisecond, WriteTimeout: 300 * time.Millisecond}),
		func(c *backend.Config, _ *backend.Listener) { c.Heartbeat = 50 * time.Millisecond })
	return w.tcp, w.Server
}

// closedWithin reports whether the server closes conn within d, reading
// and dropping whatever it sends first.
func closedWithin(conn net.Conn, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	return err == nil // EOF: closed by the server; a time-out is an error
}

// TestServeTimeouts checks that a client cannot hold a connection by
// sending its headers or body slowly, or by keeping it idle, and that an
// import or an event stream still outlives these timeouts.
func TestServeTimeouts(t *testing.T) {
	eng := newBlockingEngine()
	addr, srv := serveTimeouts(t, eng)
	dial := func(t *testing.T) net.Conn {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}

	t.Run("slow headers", func(t *testing.T) {
		t.Parallel()
		conn := dial(t)
		io.WriteString(conn, "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
		if !closedWithin(conn, 1500*time.Millisecond) { // before the read timeout
			t.Fatal("a connection with unfinished headers stays open")
		}
	})

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		conn := dial(t)
		io.WriteString(conn, "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("health: %d, close %v", resp.StatusCode, resp.Close)
		}
		conn.SetReadDeadline(time.Now().Add(1500 * time.Millisecond)) // before the read timeout
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("an idle connection stays open: %v", err)
		}
	})

	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		conn := dial(t)
		fmt.Fprintf(conn, "POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s: 1\r\nContent-Length: 1000\r\n\r\n{\"files\":", backend.ClientHeader)
		conn.SetReadDeadline(time.Now().Add(6 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("a request whose body never comes is not answered: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		a := answer{Status: resp.StatusCode, Body: b}
		if code, msg := a.errorOf(t); a.Status != 400 || code != "invalid" || !strings.Contains(msg, "not sent in time") {
			t.Fatalf("slow body: %d %s", a.Status, b)
		}
	})

	t.Run("import outlives the read timeout", func(t *testing.T) {
		t.Parallel()
		release := time.AfterFunc(2600*time.Millisecond, func() { close(eng.release) })
		defer release.Stop()
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/apps", strings.NewReader(`{"project":"shop"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(backend.ClientHeader, "1")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotFound { // the engine has no such project
			t.Fatalf("an import longer than the read timeout: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("event stream outlives the timeouts", func(t *testing.T) {
		t.Parallel()
		op, err := srv.StartOperation(context.Background(), "test", "", func(ctx context.Context, _ func(string, any) error) error {
			<-ctx.Done()
			return ctx.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + addr + "/api/v1/operations/" + op.ID + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		heartbeats := 0
		for start := time.Now(); time.Since(start) < 3*time.Second; {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("the stream ended after %v and %d heartbeats: %v", time.Since(start), heartbeats, err)
			}
			if strings.HasPrefix(line, ": keep-alive") {
				heartbeats++
			}
		}
		if heartbeats < 10 {
			t.Fatalf("%d heartbeats in 3 s", heartbeats)
		}
	})
}

// TestUnsafeRequestsWithoutOrigin: on the loopback port, a POST or DELETE
// that does not say where it comes from must carry the client header; on
// the socket, nothing is asked.
func TestUnsafeRequestsWithoutOrigin(t *testing.T) {
	ts := startServer(t, "")
	body := filesBody("compose.yaml", composeYAML)
	for _, c := range []struct {
		name   string
		header []string
		status int
	}{
		{"neither Origin nor client header", []string{backend.ClientHeader, ""}, http.StatusForbidden},
		{"client header other than 1", []string{backend.ClientHeader, "yes"}, http.StatusForbidden},
		{"same-site without Origin", []string{backend.ClientHeader, "", "Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"client header", nil, http.StatusCreated},
		{"same Origin", []string{backend.ClientHeader, "", "Origin", ts.URL}, http.StatusCreated},
		{"same-origin fetch", []string{backend.ClientHeader, "", "Sec-Fetch-Site", "same-origin"}, http.StatusCreated},
		{"client header with a foreign Origin", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
	} {
		a := ts.do(t, "POST", "/api/v1/apps", "application/json", strings.NewReader(body), c.header...)
		if a.Status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, a.Status, a.Body, c.status)
		}
		if code, msg := a.errorOf(t); a.Status == http.StatusForbidden && code == "forbidden" && strings.Contains(c.name, "neither") && !strings.Contains(msg, backend.ClientHeader+": 1") {
			t.Errorf("%s: the message does not name the header: %s", c.name, msg)
		}
	}
	sock := startServer(t, "", withListener(backend.Listener{}))
	if a := sock.do(t, "POST", "/api/v1/apps", "application/json", strings.NewReader(body), backend.ClientHeader, ""); a.Status != http.StatusCreated {
		t.Fatalf("on the socket: %d %s", a.Status, a.Body)
	}
}

// TestInfoHidesKubeconfigErrors: a kubeconfig that does not parse is
// reported without the parser's words, which may quote the file.
func TestInfoHidesKubeconfigErrors(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, "", func(c *backend.Config, _ *backend.Listener) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: s3cret-token-value}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kc)
	a := ts.get(t, "/api/v1/info")
	var info struct{ Clusters struct{ Error string } }
	a.decode(t, &info)
	if a.Status != 200 || !strings.Contains(info.Clusters.Error, "cannot be read") {
		t.Fatalf("info with a broken kubeconfig: %d %s", a.Status, a.Body)
	}
	for _, leak := range []string{"s3cret", "yaml", "line", "error loading"} {
		if strings.Contains(strings.ToLower(info.Clusters.Error), leak) {
			t.Errorf("the answer carries the parser's words (%q): %s", leak, info.Clusters.Error)
		}
	}
	if !strings.Contains(logs.String(), "cannot read the kubeconfig") || !strings.Contains(logs.String(), "yaml") {
		t.Errorf("the full error is not logged: %s", logs.String())
	}
}

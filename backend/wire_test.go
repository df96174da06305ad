package backend_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
)

// wire is the API served by Serve, as `meshdock serve` serves it, on a
// loopback port (folder imports allowed) and on a unix socket, for tests
// that speak HTTP by hand.
type wire struct {
	*testServer
	tcp, sock string
}

func startWire(t *testing.T, opts ...serverOpt) *wire {
	t.Helper()
	ts := startServer(t, "", opts...)
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A short path: a socket's may not be longer than 107 bytes.
	dir, err := os.MkdirTemp("", "md")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sl, err := backend.ListenSocket(filepath.Join(dir, "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ts.Serve(ctx, backend.Listening{Net: tl, Listener: backend.Listener{TCP: true, AllowDir: true}}, backend.Listening{Net: sl})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return &wire{testServer: ts, tcp: tl.Addr().String(), sock: filepath.Join(dir, "api.sock")}
}

var networks = []string{"tcp", "unix"}

func (w *wire) dial(t testing.TB, network string) net.Conn {
	t.Helper()
	addr := w.tcp
	if network == "unix" {
		addr = w.sock
	}
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// exchange sends raw on a new connection, closes the connection's sending
// side when halfClose is set, and reads one answer.
func (w *wire) exchange(t testing.TB, network, raw string, halfClose bool) answer {
	t.Helper()
	conn := w.dial(t, network)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// A server may answer, and stop reading, before a long request is
	// all sent: the answer is what counts.
	_, werr := io.WriteString(conn, raw)
	if werr != nil {
		t.Logf("write: %v", werr)
	}
	if halfClose && werr == nil {
		if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	return readAnswer(t, conn, strings.HasPrefix(raw, "HEAD "))
}

func readAnswer(t testing.TB, conn net.Conn, head bool) answer {
	t.Helper()
	req := &http.Request{Method: "GET"}
	if head {
		req.Method = "HEAD"
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if resp.Close { // ReadResponse takes it out of the header
		resp.Header.Set("Connection", "close")
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// request is a request as a client writes it; hdr lines end without CRLF.
func request(method, target, body string, hdr ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s: 1\r\n", method, target, backend.ClientHeader)
	for _, h := range hdr {
		b.WriteString(h + "\r\n")
	}
	if body != "" || method == "POST" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// TestHalfClosedRequestIsCarriedOut: a client that closes its sending side
// once its request is sent (as `nc -N` does) still gets its import, on the
// port and on the socket, and a read still gets its answer.
func TestHalfClosedRequestIsCarriedOut(t *testing.T) {
	eng := newBlockingEngine()
	w := startWire(t, withEngine(eng))
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			name := "half-closed-" + network
			body := jsonBody(map[string]any{"name": name, "files": []map[string]string{{"name": "compose.yaml", "content": composeYAML}}})
			a := w.exchange(t, network, request("POST", "/api/v1/apps", body, "Content-Type: application/json"), true)
			var app appAnswer
			a.decode(t, &app)
			if a.Status != http.StatusCreated || app.Name != name {
				t.Fatalf("half-closed import: %d %s", a.Status, a.Body)
			}
			if got, err := w.DB.App(context.Background(), app.ID); err != nil || got.Name != name {
				t.Fatalf("the app is not in the store: %v", err)
			}
		})
	}
	// A read that waits on the engine is answered too.
	time.AfterFunc(300*time.Millisecond, func() { close(eng.release) })
	if a := w.exchange(t, "tcp", request("GET", "/api/v1/compose-projects", ""), true); a.Status != 200 {
		t.Fatalf("half-closed read: %d %s", a.Status, a.Body)
	}
}

// TestImportWhenStopping: an import in flight when the server stops is
// answered as such, not as canceled by the client.
func TestImportWhenStopping(t *testing.T) {
	eng := newBlockingEngine()
	w := startWire(t, withEngine(eng))
	conn := w.dial(t, "unix")
	io.WriteString(conn, request("POST", "/api/v1/apps", `{"project":"shop"}`, "Content-Type: application/json"))
	waitStarted(t, eng, 1)
	w.Shutdown(context.Background())
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	a := readAnswer(t, conn, false)
	if code, msg := a.errorOf(t); a.Status != 503 || code != "unavailable" || !strings.Contains(msg, "stopping") {
		t.Fatalf("import when the server stops: %d %s", a.Status, a.Body)
	}
}

// TestProtocolErrorsAreJSON: what net/http refuses before any handler runs
// is answered in the API's JSON error shape too, on the port and on the
// socket.
func TestProtocolErrorsAreJSON(t *testing.T) {
	w := startWire(t)
	for _, c := range []struct {
		name, raw string
		status    int
		code, msg string
	}{
		{"malformed request line", "GARBAGE\r\n\r\n", 400, "invalid", "malformed HTTP request"},
		{"request line without version", "GET /api/v1/health\r\n\r\n", 400, "invalid", "malformed HTTP request"},
		{"missing Host", "GET /api/v1/health HTTP/1.1\r\n\r\n", 400, "invalid", "missing required Host header"},
		{"malformed Host", "GET /api/v1/health HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid", "malformed Host header"},
		{"two Hosts", "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: localhost\r\n\r\n", 400, "invalid", "malformed HTTP request"},
		{"header without a colon", "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n", 400, "invalid", "malformed HTTP request"},
		{"bad header name", "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad(Name): v\r\n\r\n", 400, "invalid", "malformed HTTP request"},
		{"control character in a header", "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x01b\r\n\r\n", 400, "invalid", "malformed HTTP request"},
		{"bad Content-Length", "POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n", 400, "invalid", "malformed HTTP request"},
		{"two Content-Lengths", "POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}", 400, "invalid", "malformed HTTP request"},
		{"headers too large", "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431, "too_large", "over 64 KiB"},
		{"URL too long", "GET /api/v1/apps/" + strings.Repeat("a", 70<<10) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 431, "too_large", "over 64 KiB"},
		{"many headers", "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + strings.Repeat("X-A: b\r\n", 10000) + "\r\n", 431, "too_large", "over 64 KiB"},
		{"unsupported Transfer-Encoding", "POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported", "Transfer-Encoding"},
		{"Transfer-Encoding identity", "POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: identity\r\n\r\n", 501, "unsupported", "Transfer-Encoding"},
		{"HTTP/2.0 request line", "GET /api/v1/health HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 505, "unsupported", "HTTP version"},
		{"HTTP/3", "GET /api/v1/health HTTP/3.0\r\nHost: 127.0.0.1\r\n\r\n", 505, "unsupported", "HTTP version"},
		{"TLS handshake", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400, "invalid", "malformed HTTP request"},
	} {
		for _, network := range networks {
			t.Run(c.name+" "+network, func(t *testing.T) {
				a := w.exchange(t, network, c.raw, false)
				code, msg := a.errorOf(t)
				if a.Status != c.status || code != c.code || !strings.Contains(msg, c.msg) {
					t.Fatalf("%d %s; want %d %s with %q", a.Status, a.Body, c.status, c.code, c.msg)
				}
				if ct := a.Header.Get("Content-Type"); ct != "application/json" || a.Header.Get("Connection") != "close" {
					t.Fatalf("headers %v", a.Header)
				}
			})
		}
	}
	// A handler's own answers are untouched, text or not.
	if a := w.exchange(t, "tcp", request("GET", "/api/v1/health", ""), false); a.Status != 200 || a.Header.Get("Date") == "" {
		t.Fatalf("health: %d %v %s", a.Status, a.Header, a.Body)
	}
}

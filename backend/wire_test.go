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
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	if halfClose {
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

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAllow(t *testing.T) {
	for _, s := range []string{"127.0.0.0/8", "127.0.0.2/32", "127.0.0.2/32,::1/128", "127.96.0.0/16"} {
		if _, err := parseAllow(s); err != nil {
			t.Errorf("parseAllow(%q): %v", s, err)
		}
	}
	for _, s := range []string{"0.0.0.0/0", "126.0.0.0/7", "10.0.0.0/8", "::/0", "127.0.0.1", ""} {
		if _, err := parseAllow(s); err == nil {
			t.Errorf("parseAllow(%q) accepted", s)
		}
	}
}

// start runs a proxy allowing allow on a socket of its own.
func start(t *testing.T, allow string) string {
	t.Helper()
	a, err := parseAllow(allow)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "egress.sock")
	l, err := listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go (&proxy{allow: a, dial: (&net.Dialer{Timeout: dialTimeout}).Dial}).run(l)
	return sock
}

// connect sends CONNECT addr the way the API server's egress selector does
// and returns the status code and the connection.
func connect(t *testing.T, sock, addr string) (int, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, "127.0.0.1")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("CONNECT %s: %v", addr, err)
	}
	return res.StatusCode, c, br
}

func TestConnect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	defer srv.Close()
	sock := start(t, "127.0.0.0/8")

	code, c, br := connect(t, sock, srv.Listener.Addr().String())
	if code != http.StatusOK {
		t.Fatalf("CONNECT to %s: %d, want 200", srv.Listener.Addr(), code)
	}
	if br.Buffered() != 0 {
		t.Fatalf("%d bytes after the 200: the API server refuses those", br.Buffered())
	}
	fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != "hello /x" {
		t.Fatalf("through the tunnel: %q", body)
	}
}

func TestRefused(t *testing.T) {
	sock := start(t, "127.0.0.2/32")
	for addr, want := range map[string]int{
		"10.0.0.1:443":     http.StatusForbidden,
		"192.168.1.1:80":   http.StatusForbidden,
		"[2001:db8::1]:80": http.StatusForbidden,
		"example.com:443":  http.StatusForbidden,
		"localhost:443":    http.StatusForbidden,
		"127.96.0.10:443":  http.StatusForbidden, // loopback, but not allowed here
		"127.0.0.2":        http.StatusForbidden, // no port
		"127.0.0.2:1":      http.StatusBadGateway,
	} {
		t0 := time.Now()
		code, _, _ := connect(t, sock, addr)
		if code != want {
			t.Errorf("CONNECT %s: %d, want %d", addr, code, want)
		}
		if d := time.Since(t0); d > time.Second {
			t.Errorf("CONNECT %s took %v: refusals must be fast", addr, d)
		}
	}
}

func TestOnlyConnect(t *testing.T) {
	sock := start(t, "127.0.0.0/8")
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", res.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	sock := start(t, "127.0.0.0/8")
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	res, err := c.Get("http://egress/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", res.StatusCode, body)
	}
}

func TestListenKeepsOtherFiles(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listen(f); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("listen on a regular file: %v", err)
	}
}

package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meshdock/meshdock"
)

// CheckLoopback refuses addresses other machines could reach: the API has
// no authentication, its safety is that only this machine can talk to it.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return meshdock.Wrap(meshdock.EINVALID, err, "address %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return meshdock.Errorf(meshdock.EINVALID, "address %q is not a loopback address: meshdock has no authentication and listens only on 127.0.0.1, [::1] or localhost", addr)
}

// ListenLoopback listens on a loopback TCP address.
func ListenLoopback(addr string) (net.Listener, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot listen on %s: %v", addr, err)
	}
	if err := boundToLoopback(l, addr); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// boundToLoopback checks where a listener really listens: "localhost" is
// whatever the resolver makes of it, and a hosts file that maps it to
// another address would open the API to the network.
func boundToLoopback(l net.Listener, addr string) error {
	if ta, ok := l.Addr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return nil
	}
	return meshdock.Errorf(meshdock.EINVALID, "address %q resolves to %s, which is not a loopback address: meshdock has no authentication and listens only on 127.0.0.1, [::1] or localhost", addr, l.Addr())
}

// ListenSocket listens on a unix socket readable and writable by its owner
// and group only. A stale socket file left by a killed server is replaced;
// one that still answers is not.
func ListenSocket(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, meshdock.Errorf(meshdock.ECONFLICT, "%s is in use by another server", path)
		}
		os.Remove(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot create the directory of %s: %v", path, err)
	}
	// The umask makes the socket 0660 from the start: a chmod after
	// listening would leave a moment when others could connect.
	old := syscall.Umask(0o117)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot listen on %s: %v", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Listening is a listener and the rules of the API on it.
type Listening struct {
	Net      net.Listener
	Listener Listener
}

// Serve serves the API on every listener until ctx is done or one fails,
// then stops: event streams and operations first (operations in flight are
// marked interrupted), then the HTTP servers, within ten seconds.
func (s *Server) Serve(ctx context.Context, ls ...Listening) error {
	errc := make(chan error, len(ls))
	var servers []*http.Server
	for _, l := range ls {
		// net/http lifts the read deadline once a request's body is read
		// (it then only watches for the client going away), so ReadTimeout
		// bounds sending a request without cutting an event stream or a
		// long import short. WriteTimeout would cut streams: answers get a
		// write deadline each instead (limitWrite), and stream events too.
		hs := &http.Server{Handler: s.Handler(l.Listener), ReadHeaderTimeout: s.limits.HeaderTimeout,
			ReadTimeout: s.limits.HeaderTimeout + s.limits.BodyTimeout, IdleTimeout: s.limits.IdleTimeout,
			MaxHeaderBytes: s.limits.HeaderBytes, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
		servers = append(servers, hs)
		go func() { errc <- hs.Serve(jsonErrors{Listener: l.Net, maxHeader: s.limits.HeaderBytes}) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("a listener failed: %w", err)
	}
	s.log.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(err, s.Shutdown(sctx))
	for _, hs := range servers {
		err = errors.Join(err, hs.Shutdown(sctx))
	}
	return err
}

// jsonErrors gives the answers net/http writes itself, before any handler
// runs (a malformed request, headers over the limit, a transfer encoding or
// protocol version it does not support), the API's JSON error shape, as
// every other answer has: clients parse one shape, and scripts see a code.
type jsonErrors struct {
	net.Listener
	maxHeader int
}

func (l jsonErrors) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c, maxHeader: l.maxHeader}, nil
}

// jsonErrorConn rewrites net/http's own error answers as they are written.
// net/http writes each with a single write of a fixed shape, which no
// answer of a handler can have: those carry a Date header, and their
// headers in order, and no handler answers 417.
type jsonErrorConn struct {
	net.Conn
	maxHeader int
}

// plainError is the shape of net/http's own error answers: status line,
// these two headers, and a line of text.
var plainError = regexp.MustCompile(`^HTTP/1\.1 ([0-9]{3}) ([^\r\n]*)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n[^\r\n]*$`)

// expectationFailed is net/http's answer to an Expect header other than
// 100-continue: headers only, which no handler answers.
var expectationFailed = regexp.MustCompile(`^HTTP/1\.1 (417) (Expectation Failed)\r\n(?:[A-Za-z-]+: [^\r\n]*\r\n)*\r\n$`)

func (c *jsonErrorConn) Write(p []byte) (int, error) {
	m := plainError.FindSubmatch(p)
	if m == nil {
		m = expectationFailed.FindSubmatch(p)
	}
	if m == nil {
		return c.Conn.Write(p)
	}
	status, _ := strconv.Atoi(string(m[1]))
	// The status line is "400 Bad Request" or "400 Bad Request: <why>",
	// where why is net/http's, never the client's.
	_, why, _ := strings.Cut(string(m[2]), ": ")
	var body errorBody
	switch {
	case status == http.StatusRequestHeaderFieldsTooLarge:
		body.Error.Code, body.Error.Message = meshdock.ETOOLARGE, fmt.Sprintf("the request line and headers are over %s", size(int64(c.maxHeader)))
	case status == http.StatusNotImplemented:
		body.Error.Code, body.Error.Message = meshdock.EUNSUPPORTED, "unsupported Transfer-Encoding: send the body with a Content-Length, or chunked"
	case status == http.StatusExpectationFailed:
		body.Error.Code, body.Error.Message = meshdock.EINVALID, "unsupported Expect header: only 100-continue is understood"
	case status == http.StatusHTTPVersionNotSupported:
		body.Error.Code, body.Error.Message = meshdock.EUNSUPPORTED, "unsupported HTTP version: send HTTP/1.1"
	case status < 500:
		body.Error.Code, body.Error.Message = meshdock.EINVALID, "malformed HTTP request"
		if why != "" {
			body.Error.Message += ": " + why
		}
	default:
		return c.Conn.Write(p)
	}
	b, _ := json.Marshal(body)
	answer := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(b), b)
	if _, err := io.WriteString(c.Conn, answer); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite lets net/http close the sending side, as it does after
// refusing headers that are too large.
func (c *jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	return l, nil
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
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
		servers = append(servers, hs)
		go func() { errc <- hs.Serve(l.Net) }()
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

// ImportIfEmpty imports the compose app in dir when the store has no app
// yet, so that a first start shows something. It reports whether it did.
func (s *Server) ImportIfEmpty(ctx context.Context, dir string) (bool, error) {
	apps, err := s.store.Apps(ctx)
	if err != nil || len(apps) > 0 {
		return false, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	app, err := s.Import(ctx, ImportRequest{Dir: abs}, true)
	if err != nil {
		return false, meshdock.Wrap(meshdock.ErrorCode(err), err, "import %s: %s", dir, meshdock.ErrorMessage(err))
	}
	s.log.Info("imported an app into the empty store", "name", app.Name, "id", app.ID, "dir", dir)
	return true, nil
}

package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
)

// checkHost refuses requests whose Host is not a loopback name. A web page
// can make a browser send requests to 127.0.0.1 under a host name of its own
// (DNS rebinding); such a request carries that name in Host.
func checkHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		host := c.Request().Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		} else {
			host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		}
		switch strings.ToLower(host) {
		case "localhost", "127.0.0.1", "::1":
			return next(c)
		}
		return meshdock.Errorf(meshdock.EFORBIDDEN, "host %s is not allowed: meshdock answers only to localhost, 127.0.0.1 and [::1]", quoteName(c.Request().Host))
	}
}

// ClientHeader is the header a client that is not a browser sends with
// unsafe requests on the loopback port ("X-Meshdock: 1"). A page of another
// site cannot set it without a CORS preflight, which meshdock never grants.
const ClientHeader = "X-Meshdock"

// checkOrigin refuses unsafe requests sent by a page of another site
// (cross-site request forgery). Browsers send Origin or Sec-Fetch-Site with
// them, which must name this server; a request with neither (an old browser,
// or a program) must carry ClientHeader.
func checkOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		// A header given twice is read as its most hostile value: any
		// cross-site, any other Origin.
		sites, origins := r.Header.Values("Sec-Fetch-Site"), r.Header.Values("Origin")
		for _, site := range sites {
			if strings.EqualFold(strings.TrimSpace(site), "cross-site") {
				return meshdock.Errorf(meshdock.EFORBIDDEN, "cross-site request refused")
			}
		}
		if len(origins) == 0 {
			site := r.Header.Get("Sec-Fetch-Site")
			if site == "same-origin" || site == "none" || r.Header.Get(ClientHeader) == "1" {
				return next(c)
			}
			return meshdock.Errorf(meshdock.EFORBIDDEN, "request refused: a %s without an Origin header must carry the header %s: 1 (add it to requests of programs such as curl)", r.Method, ClientHeader)
		}
		// A browser sends the origin as scheme://host[:port], nothing more;
		// this server is plain http.
		for _, origin := range origins {
			if !strings.EqualFold(origin, "http://"+r.Host) {
				return meshdock.Errorf(meshdock.EFORBIDDEN, "cross-site request refused: origin %s is not this server", quoteName(origin))
			}
		}
		return next(c)
	}
}

// limitWrite gives an answer Limits.WriteTimeout to reach the client once
// it has begun, so that a client that stops reading cannot hold a goroutine
// for ever. Event streams renew the deadline before each event.
func (s *Server) limitWrite(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		w := c.Response()
		rc := http.NewResponseController(w.Unwrap())
		w.Before(func() { rc.SetWriteDeadline(time.Now().Add(s.limits.WriteTimeout)) })
		return next(c)
	}
}

// errStopping is why the context of a request ends when the server stops.
var errStopping = errors.New("the server is stopping")

// detach lets a request that has been sent in full run to its end: net/http
// cancels a request's context as soon as its client closes its side of the
// connection, which a client that only half-closes (shutdown(SHUT_WR), as
// `nc -N` does) does after every request while it still waits for the
// answer. The work is bounded by the server's own limits instead: an
// import by Limits.ImportTimeout, anything else by Limits.RequestTimeout,
// and all by the server stopping. Event streams keep the client's context,
// since a stream lasts until its client goes.
func (s *Server) detach(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == eventsPath || c.Path() == logPath {
			return next(c) // they only read: they end with their client
		}
		r := c.Request()
		ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
		defer cancel(nil)
		stop := context.AfterFunc(s.Stopping(), func() { cancel(errStopping) })
		defer stop()
		timeout := s.limits.RequestTimeout
		if c.Path() == importPath && r.Method == http.MethodPost {
			timeout = s.limits.ImportTimeout + time.Second // Import says when its own ends
		}
		ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
		defer cancelTimeout()
		c.SetRequest(r.WithContext(ctx))
		err := next(c)
		ended := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || meshdock.ErrorCode(err) == meshdock.ECANCELED
		switch {
		case !ended || ctx.Err() == nil:
			return err
		case context.Cause(ctx) == errStopping:
			return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "the server is stopping: try again when it is back")
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			s.log.Warn("request timed out", "method", r.Method, "path", r.URL.Path, "timeout", timeout, "err", err)
			return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "the request did not finish within %s: try again later", timeout)
		}
		return err
	}
}

// checkQuery refuses a query string that does not parse (or has more
// parameters than Go reads): Go's reader would drop the bad pairs without
// a word, and a ?format=%zz would be answered as if no format were asked
// for.
func checkQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := url.ParseQuery(c.Request().URL.RawQuery); err != nil {
			return meshdock.Wrap(meshdock.EINVALID, err, "cannot read the query string: %s", meshdock.Quote(err.Error(), 60))
		}
		return next(c)
	}
}

// queryParam returns a query parameter given at most once: of two values,
// none is the one the client meant more than the other.
func queryParam(c echo.Context, name string) (string, error) {
	vs := c.QueryParams()[name]
	if len(vs) > 1 {
		return "", meshdock.Errorf(meshdock.EINVALID, "query parameter %s is given %d times", name, len(vs))
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

// choiceParam reads a query parameter that is one of choices, or absent
// ("").
func choiceParam(c echo.Context, name string, choices ...string) (string, error) {
	v, err := queryParam(c, name)
	if err != nil || v == "" || slices.Contains(choices, v) {
		return v, err
	}
	return "", meshdock.Errorf(meshdock.EINVALID, "%s %s: use %s, or leave it out", name, quoteName(v), strings.Join(choices, " or "))
}

// refuseEncodedBodies refuses a body with a Content-Encoding: the body is
// read as it comes, and a gzip stream read as JSON would be answered as
// malformed JSON, which it is not.
func refuseEncodedBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for _, v := range c.Request().Header.Values("Content-Encoding") {
			for _, enc := range strings.Split(v, ",") {
				if enc = strings.TrimSpace(enc); enc != "" && !strings.EqualFold(enc, "identity") {
					c.Response().Header().Set(echo.HeaderConnection, "close")
					return meshdock.Errorf(meshdock.EUNSUPPORTED, "Content-Encoding %s: send the body unencoded", quoteName(enc))
				}
			}
		}
		return next(c)
	}
}

// limitBody caps request bodies: imports get Limits.Body, everything else
// a little, since no other endpoint takes a body yet.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := int64(64 << 10)
		switch c.Path() {
		case importPath:
			limit = s.limits.Body
		case kubeconfigPath:
			limit = app.MaxKubeconfig
		}
		r := c.Request()
		if r.ContentLength > limit {
			// Nothing will read the body: do not wait for it either.
			c.Response().Header().Set(echo.HeaderConnection, "close")
			return meshdock.Errorf(meshdock.ETOOLARGE, "the request body is %s: at most %s are accepted", size(r.ContentLength), size(limit))
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		return next(c)
	}
}

// bodyError classifies an error met while reading a request body.
func bodyError(err error, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return meshdock.Wrap(meshdock.ETOOLARGE, err, "the request body is over %s", size(mbe.Limit))
	}
	var me *meshdock.Error
	if errors.As(err, &me) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return meshdock.Wrap(meshdock.EINVALID, err, "the request body was not sent in time")
	}
	// The reader's words may quote the body (a header line of a part):
	// cut them short.
	return meshdock.Wrap(meshdock.EINVALID, err, "%s: %s", what, meshdock.Quote(err.Error(), 120))
}

// recoverPanics turns a panic into an unclassified error, which the error
// handler logs in full and answers as 500 "internal error".
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r) // net/http's way to abort a response; it logs nothing
			}
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}()
		return next(c)
	}
}

// logRequests logs each request once it has been answered.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		// No answer is to be read as another type than it says (the API
		// echoes compose content in JSON and YAML).
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		if err := next(c); err != nil {
			c.Error(err) // answer now, so the status is known
		}
		r, w := c.Request(), c.Response()
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", w.Status,
			"bytes", w.Size, "duration", time.Since(start).Round(time.Microsecond))
		return nil
	}
}

// size writes a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

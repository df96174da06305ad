// Command testenv-egress is the test cluster's egress proxy: the API server
// sends every connection it makes into the cluster (pod logs, exec and
// port-forward to the kubelet, webhooks of Services) and to the control
// plane (webhooks by URL) through it, as HTTP CONNECT over a unix socket
// (the egress selector's HTTPConnect over uds). It connects only to the
// loopback addresses it is allowed, and answers anything else with 403
// without resolving a name, so nothing the cluster names can take the API
// server off this machine; the kubelet API that kwok serves on the nodes'
// address stays reachable. Loopback refuses a port nobody listens on at
// once, so a webhook of a Service fails as fast as it did when this socket
// did not exist.
//
// Usage: testenv-egress -socket PATH [-allow CIDR,...]
//
// GET /healthz on the socket answers ok.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// loopback is the most any allow list may hold.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

const (
	// The API server sends its CONNECT at once; a client that does not is
	// not the API server.
	requestTimeout = 10 * time.Second
	// Loopback refuses at once when nothing listens; a dial that hangs
	// would hold the API server's request for its own, longer timeout.
	dialTimeout = 5 * time.Second
)

func main() {
	socket := flag.String("socket", "", "unix socket to listen on (the egress selector's udsName)")
	allowList := flag.String("allow", "127.0.0.0/8", "comma-separated loopback CIDRs that CONNECT may reach")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	if *socket == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	allow, err := parseAllow(*allowList)
	if err != nil {
		log.Fatal(err)
	}
	l, err := listen(*socket)
	if err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		l.Close() // removes the socket file
	}()
	log.Printf("listening on %s, allowing CONNECT to %s", *socket, *allowList)
	p := &proxy{allow: allow, dial: (&net.Dialer{Timeout: dialTimeout}).Dial}
	p.run(l)
}

// parseAllow reads the allow list; every prefix must lie within loopback.
func parseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("allow: %w", err)
		}
		p = p.Masked()
		if !inLoopback(p) {
			return nil, fmt.Errorf("allow: %s is not within loopback", p)
		}
		out = append(out, p)
	}
	return out, nil
}

func inLoopback(p netip.Prefix) bool {
	for _, l := range loopback {
		if l.Bits() <= p.Bits() && l.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// listen replaces a socket left behind by a killed predecessor, but never
// any other kind of file.
func listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	old := syscall.Umask(0o077) // only this user may connect
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	return l, err
}

type proxy struct {
	allow []netip.Prefix
	dial  func(network, addr string) (net.Conn, error)
}

// check returns why addr may not be reached, or "".
func (p *proxy) check(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "not host:port"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		// Resolving a name could itself leave the machine.
		return "not an IP address"
	}
	ip = ip.Unmap()
	for _, a := range p.allow {
		if a.Contains(ip) {
			return ""
		}
	}
	return "outside the allowed loopback addresses"
}

// run serves l until it is closed.
func (p *proxy) run(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Printf("accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go p.serve(c)
	}
}

func (p *proxy) serve(c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		log.Printf("bad request: %v", err)
		return
	}
	c.SetReadDeadline(time.Time{})
	if req.Method == http.MethodGet && req.URL.Path == "/healthz" {
		// testenv's health check, unlogged.
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
		return
	}
	if req.Method != http.MethodConnect {
		log.Printf("refused %s %s: only CONNECT is served", req.Method, req.RequestURI)
		reply(c, http.StatusMethodNotAllowed)
		return
	}
	addr := req.Host
	if why := p.check(addr); why != "" {
		log.Printf("refused CONNECT %q: %s", addr, why)
		reply(c, http.StatusForbidden)
		return
	}
	t, err := p.dial("tcp", addr)
	if err != nil {
		log.Printf("CONNECT %s: %v", addr, err)
		reply(c, http.StatusBadGateway)
		return
	}
	defer t.Close()
	// The client reads nothing after the status line and headers: TLS,
	// which the API server speaks through the tunnel, starts with the client.
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	log.Printf("CONNECT %s", addr)
	done := make(chan struct{})
	go func() {
		// Bytes the client sent after its request are in br.
		io.Copy(t, br)
		closeWrite(t)
		close(done)
	}()
	io.Copy(c, t)
	closeWrite(c)
	<-done
}

func reply(c net.Conn, code int) {
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, http.StatusText(code))
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}

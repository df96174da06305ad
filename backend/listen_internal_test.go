package backend

import (
	"net"
	"strings"
	"testing"
)

type fakeListener struct {
	net.Listener
	addr net.Addr
}

func (l fakeListener) Addr() net.Addr { return l.addr }

// TestBoundToLoopback: a listener that the resolver put on another address
// than loopback (a hosts file mapping localhost elsewhere) is refused.
func TestBoundToLoopback(t *testing.T) {
	for _, c := range []struct {
		ip string
		ok bool
	}{{"127.0.0.1", true}, {"::1", true}, {"127.0.1.1", true}, {"192.0.2.7", false}, {"0.0.0.0", false}, {"::", false}} {
		err := boundToLoopback(fakeListener{addr: &net.TCPAddr{IP: net.ParseIP(c.ip), Port: 7878}}, "localhost:7878")
		if (err == nil) != c.ok || err != nil && !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("bound to %s: %v", c.ip, err)
		}
	}
	l, err := ListenLoopback("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

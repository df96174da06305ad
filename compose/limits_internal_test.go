package compose

import "testing"

func TestPortCount(t *testing.T) {
	for spec, want := range map[string]int{
		"80": 1, "8080:80": 1, "53/udp": 1, "127.0.0.1:8000-8010:80": 11, "[::1]:1-100:1-100/tcp": 100,
		"1-65535:1-65535/sctp": 65535, "9-1": 1, "x-y": 1, "": 1, "5000-5009": 10,
	} {
		if got := portCount(spec); got != want {
			t.Errorf("portCount(%q) = %d, want %d", spec, got, want)
		}
	}
}

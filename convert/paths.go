package convert

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/meshdock/meshdock"
)

// pathsPass finds the connections the app makes: who reaches whom on which
// port, and why the compose file says so (depends_on, links, a host name
// in an environment value or a config file the container reads), and the
// ports compose publishes on the host. A connection between services that
// share no compose network is one compose refuses: it is left out and
// said. Authorization rules allow exactly these paths.
func pathsPass(s *state) error {
	s.paths = []meshdock.Path{}
	s.refused = map[[2]string]string{}
	hosts := s.hostIndex()
	index := map[string]int{} // from, to, port, protocol -> position in s.paths
	add := func(from, to string, port int32, proto, reason string) {
		if from == to {
			return
		}
		if from != "" {
			if why := s.apart(from, to); why != "" {
				if _, ok := s.refused[[2]string{from, to}]; !ok {
					s.refused[[2]string{from, to}] = why
					s.warn(from, strings.SplitN(reason, " ", 2)[0], fmt.Sprintf("reaches %s (%s), but %s: compose refuses that connection, and the authorization rules refuse it too", to, reason, why))
				}
				return
			}
		}
		if port == 0 {
			reason += " (no port known: every port)"
		}
		k := fmt.Sprintf("%s\x00%s\x00%d\x00%s", from, to, port, proto)
		if i, ok := index[k]; ok {
			if rs := s.paths[i].Reasons; len(rs) < maxReasons && !slices.Contains(rs, reason) {
				s.paths[i].Reasons = append(rs, reason)
			}
			return
		}
		if len(s.paths) == MaxPaths {
			s.warn("", "services", fmt.Sprintf("the app makes more than %d connections: only the first %d are paths, and authorization refuses the others", MaxPaths, MaxPaths))
		}
		if len(s.paths) >= MaxPaths {
			return
		}
		index[k] = len(s.paths)
		s.paths = append(s.paths, meshdock.Path{From: from, To: to, Port: port, Protocol: proto, Reasons: []string{reason}})
	}
	// What each service's environment and files name of the others,
	// read once.
	type mention struct {
		key, host, to string
		port          int32
	}
	mentions := map[string][]mention{}
	for _, name := range s.p.ServiceNames() {
		for _, ref := range s.references(name) {
			for _, hp := range hostPorts(ref.text) {
				if to, ok := hosts[hp.host]; ok && to != name {
					mentions[name] = append(mentions[name], mention{ref.key, hp.host, to, hp.port})
				}
			}
		}
	}
	// The ports a service listens on: those of its ports and expose, and
	// those other services connect to.
	listens := map[string][]listenPort{}
	for _, name := range s.p.ServiceNames() {
		listens[name] = s.listens(name)
	}
	for _, name := range s.p.ServiceNames() {
		for _, m := range mentions[name] {
			if m.port != 0 && len(listens[m.to]) < maxReachedPorts {
				if lp := (listenPort{m.port, "TCP"}); !slices.Contains(listens[m.to], lp) {
					listens[m.to] = append(listens[m.to], lp)
				}
			}
		}
	}
	// toPorts reaches every port to listens on, or every port when none
	// is known.
	toPorts := func(from, to, reason string) {
		ports := listens[to]
		if len(ports) == 0 {
			add(from, to, 0, "TCP", reason)
		}
		for _, p := range ports {
			add(from, to, p.port, p.proto, reason)
		}
	}
	for _, name := range s.p.ServiceNames() {
		svc := s.service(name)
		for _, d := range slices.Sorted(maps.Keys(svc.DependsOn)) {
			if _, ok := s.p.Services[d]; ok {
				toPorts(name, d, "depends_on")
			}
		}
		for _, l := range svc.Links {
			target, _, _ := strings.Cut(l, ":")
			if _, ok := s.p.Services[target]; ok {
				toPorts(name, target, "links")
			}
		}
		named := map[string]int{} // ports named per callee
		for _, m := range mentions[name] {
			reason := m.key + " names " + m.host
			if m.port == 0 {
				toPorts(name, m.to, reason)
				continue
			}
			// Text that names a thousand ports of one service is data,
			// not the app's connections (as for its Service's ports).
			if named[m.to]++; named[m.to] > maxReachedPorts {
				continue
			}
			add(name, m.to, m.port, "TCP", reason+":"+strconv.Itoa(int(m.port)))
		}
		for _, p := range svc.Ports {
			if p.Published == "" || p.Target == 0 {
				continue
			}
			add("", name, int32(p.Target), string(protoOf(p.Protocol)), "ports: published on the host as "+p.Published)
		}
	}
	// Paths to every port cover the ones to a single port of the same pair.
	every := map[[2]string]bool{}
	for _, p := range s.paths {
		if p.Port == 0 {
			every[[2]string{p.From, p.To}] = true
		}
	}
	s.paths = slices.DeleteFunc(s.paths, func(p meshdock.Path) bool { return p.Port != 0 && every[[2]string{p.From, p.To}] })
	slices.SortStableFunc(s.paths, func(a, b meshdock.Path) int {
		return strings.Compare(fmt.Sprintf("%s\x00%s\x00%05d%s", a.From, a.To, a.Port, a.Protocol), fmt.Sprintf("%s\x00%s\x00%05d%s", b.From, b.To, b.Port, b.Protocol))
	})
	return nil
}

// MaxPaths bounds the connections an app's paths hold; maxReasons, the
// reasons kept for one (the first are enough to say why).
const (
	MaxPaths   = 5000
	maxReasons = 8
)

// listenPort is a port a service listens on, as its compose file says.
type listenPort struct {
	port  int32
	proto string
}

// listens lists the container ports of a service's `ports` and `expose`.
func (s *state) listens(name string) []listenPort {
	var out []listenPort
	seen := map[listenPort]bool{}
	add := func(p listenPort) {
		if p.port > 0 && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range s.service(name).Ports {
		add(listenPort{int32(p.Target), string(protoOf(p.Protocol))})
	}
	expose := s.service(name).Expose
	if s.in != nil {
		expose = s.in.Services[name].Expose // ranges spelled out
	}
	for _, e := range expose {
		port, proto, _ := strings.Cut(e, "/")
		if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 65536 {
			add(listenPort{int32(n), string(protoOf(proto))})
		}
	}
	slices.SortFunc(out, func(a, b listenPort) int { return int(a.port - b.port) })
	return out
}

// networksOf returns the compose networks a service is on: those it lists,
// the default network when it lists none, those of the service whose
// network it shares (network_mode: service:x), and none for
// network_mode: none. all is true for network_mode: host, which reaches
// everything.
func (s *state) networksOf(name string, depth int) (nets []string, all bool) {
	svc := s.service(name)
	switch mode := svc.NetworkMode; {
	case mode == "none":
		return nil, false
	case mode == "host":
		return nil, true
	case strings.HasPrefix(mode, "service:") || strings.HasPrefix(mode, "container:"):
		peer := mode[strings.Index(mode, ":")+1:]
		if _, ok := s.p.Services[peer]; ok && depth < 8 {
			return s.networksOf(peer, depth+1)
		}
		return nil, false
	}
	if len(svc.Networks) == 0 {
		return []string{"default"}, false
	}
	return slices.Sorted(maps.Keys(svc.Networks)), false
}

// apart says why compose keeps from from reaching to ("they share no
// network"), or "" when it does not.
func (s *state) apart(from, to string) string {
	a, allA := s.networksOf(from, 0)
	b, allB := s.networksOf(to, 0)
	if allA || allB || slices.ContainsFunc(a, func(n string) bool { return slices.Contains(b, n) }) {
		return ""
	}
	switch {
	case len(a) == 0:
		return from + " has no network (network_mode: none)"
	case len(b) == 0:
		return to + " has no network (network_mode: none)"
	}
	return fmt.Sprintf("they share no network (%s is on %s, %s on %s)", from, strings.Join(a, ", "), to, strings.Join(b, ", "))
}

// external tells whether a service reaches outside the app: compose lets
// it unless all its networks are internal.
func (s *state) external(name string) bool {
	nets, all := s.networksOf(name, 0)
	if all {
		return true
	}
	for _, n := range nets {
		if !s.p.Networks[n].Internal {
			return true
		}
	}
	return false
}

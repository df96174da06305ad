package convert

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/meshdock/meshdock"
)

// hostToken finds words in an environment value that could be host names:
// "db", "postgres://user@db:5432/x", "http://api:8000", "cache:6379".
var hostToken = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9_.-]*`)

// buildGraph returns the app's topology: a node per service, and an edge
// for each depends_on, link, and environment value that names another
// service (or one of its host names) as a host.
func buildGraph(s *state) meshdock.Graph {
	g := meshdock.Graph{Nodes: []meshdock.Node{}, Edges: []meshdock.Edge{}, Paths: s.paths}
	hosts := s.hostIndex()
	seen := map[string]bool{}
	ports := map[[2]string][]int32{}
	for _, p := range s.paths {
		k := [2]string{p.From, p.To}
		if !slices.Contains(ports[k], p.Port) {
			ports[k] = append(ports[k], p.Port)
		}
	}
	edge := func(e meshdock.Edge) {
		k := e.From + "\x00" + e.To + "\x00" + e.Kind + "\x00" + e.Detail
		if e.From != e.To && !seen[k] {
			seen[k] = true
			e.Ports = ports[[2]string{e.From, e.To}]
			e.Refused = s.refused[[2]string{e.From, e.To}]
			g.Edges = append(g.Edges, e)
		}
	}
	for _, name := range s.p.ServiceNames() {
		svc := s.service(name)
		n := meshdock.Node{ID: name, Workload: s.names[name], Image: s.imageOf(name), Replicas: replicasOf(svc), Profiles: svc.Profiles, Internal: !s.external(name)}
		for _, p := range svc.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = "tcp"
			}
			if p.Published != "" {
				n.Ports = append(n.Ports, fmt.Sprintf("%s:%d/%s", p.Published, p.Target, proto))
			} else {
				n.Ports = append(n.Ports, fmt.Sprintf("%d/%s", p.Target, proto))
			}
		}
		for _, e := range svc.Expose {
			n.Ports = append(n.Ports, e)
		}
		g.Nodes = append(g.Nodes, n)

		deps := slices.Sorted(maps.Keys(svc.DependsOn))
		for _, d := range deps {
			edge(meshdock.Edge{From: name, To: d, Kind: "depends_on", Detail: svc.DependsOn[d].Condition})
		}
		for _, l := range svc.Links {
			target, _, _ := strings.Cut(l, ":")
			if _, ok := s.p.Services[target]; ok {
				edge(meshdock.Edge{From: name, To: target, Kind: "links"})
			}
		}
		for _, e := range envVars(svc.Environment) {
			for _, tok := range hostTokens(e.value) {
				if to, ok := hosts[tok]; ok {
					edge(meshdock.Edge{From: name, To: to, Kind: "env", Detail: e.key})
				}
			}
		}
	}
	return g
}

// schemePorts are the ports URLs imply when they name none.
var schemePorts = map[string]int32{
	"http": 80, "ws": 80, "https": 443, "wss": 443, "redis": 6379, "postgres": 5432, "postgresql": 5432,
	"mysql": 3306, "mariadb": 3306, "mongodb": 27017, "amqp": 5672, "nats": 4222, "grpc": 50051,
}

// hostPort is a host and the port a value connects to on it (0: unknown).
type hostPort struct {
	host string
	port int32
}

// hostPorts returns the hosts a value names, with the port when it has one
// or its URL scheme implies one.
func hostPorts(v string) []hostPort {
	var out []hostPort
	for _, part := range strings.FieldsFunc(v, isValueSeparator) {
		var port int32
		if scheme, rest, ok := strings.Cut(part, "://"); ok {
			port = schemePorts[strings.ToLower(scheme)]
			part = rest
		}
		if i := strings.IndexAny(part, "/?#"); i >= 0 {
			part = part[:i]
		}
		if i := strings.LastIndex(part, "@"); i >= 0 {
			part = part[i+1:]
		}
		if h, p, ok := strings.Cut(part, ":"); ok {
			part = h
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				port = 0
			} else {
				port = int32(n)
			}
		}
		if hostToken.FindString(part) == part && part != "" {
			out = append(out, hostPort{part, port})
		}
	}
	return out
}

// isValueSeparator splits values and file contents into words that may be
// host names, host:port pairs or URLs.
func isValueSeparator(r rune) bool {
	switch r {
	case ',', ' ', ';', '\t', '\n', '\r', '"', '\'', '=', '(', ')', '[', ']', '{', '}', '<', '>', '|':
		return true
	}
	return false
}

// hostTokens returns the parts of a value in host position: the whole
// value, the host of a URL, or the host of host:port; user names,
// passwords and paths are left out.
func hostTokens(v string) []string {
	var out []string
	for _, hp := range hostPorts(v) {
		out = append(out, hp.host)
	}
	return out
}

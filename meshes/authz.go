package meshes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
)

// Authorization modes of a deploy.
const (
	AuthzOff     = "off"     // no rules: every pod reaches every other
	AuthzAudit   = "audit"   // the mesh's rules, reported but not enforced
	AuthzEnforce = "enforce" // NetworkPolicies and the mesh's rules
)

// DefaultDeny names the NetworkPolicy that denies every connection of a
// namespace under authz enforce (a dot: no workload's name has one).
const DefaultDeny = "meshdock.default-deny"

// AuthzModes lists the modes, the default first.
func AuthzModes() []string { return []string{AuthzOff, AuthzAudit, AuthzEnforce} }

// CheckAuthz refuses a mode that is not one, or that the mesh cannot do.
func CheckAuthz(mesh, mode string) error {
	switch mode {
	case "", AuthzOff, AuthzEnforce:
		return nil
	case AuthzAudit:
		switch mesh {
		case "", None:
			return meshdock.Errorf(meshdock.EINVALID, "authz audit needs a mesh: NetworkPolicies cannot report without enforcing; use enforce, or a mesh that audits (istio, linkerd, kuma)")
		case IstioAmbient:
			return meshdock.Errorf(meshdock.EINVALID, "authz audit is not available with istio-ambient: ztunnel does not run dry-run AuthorizationPolicies; use enforce, or istio (sidecars)")
		case Consul:
			return meshdock.Errorf(meshdock.EINVALID, "authz audit is not available with consul: intentions have no audit mode; use enforce")
		}
		return nil
	}
	return meshdock.Errorf(meshdock.EINVALID, "authz must be one of %s, not %s", strings.Join(AuthzModes(), ", "), meshdock.QuoteName(mode))
}

// controlPlanes are the namespaces of the meshes' control planes, which
// enrolled pods must reach.
var controlPlanes = map[string]string{Istio: "istio-system", IstioAmbient: "istio-system", Linkerd: "linkerd", Consul: "consul", Kuma: "kuma-system"}

// Ports the meshes' proxies take in-app connections on besides the app's:
// ambient's HBONE tunnel, Consul's public listener.
const (
	hbonePort        = 15008
	consulPublicPort = 20000
	// ambientProbeSource is where ambient's node agent sends kubelet
	// probes from (Istio rewrites them so ztunnel lets them through).
	ambientProbeSource = "169.254.7.127/32"
)

// Authorization is what a deploy adds for its authorization mode: the
// objects, the namespace's annotations, one line per rule (the deploy's
// events list them) and notes for the user.
type Authorization struct {
	Objects              []*unstructured.Unstructured
	NamespaceAnnotations map[string]string
	// PodAnnotations are added to the pods of a workload, by its name.
	PodAnnotations map[string]map[string]string
	Rules          []string
	Notes          []string
}

// Names of the namespace-wide rules hold a dot, which no workload's name
// (a DNS label) can: they never take the name of a workload's rule.

// Annotate sets PodAnnotations on the pod templates of the workloads of
// objs they name.
func (a *Authorization) Annotate(objs []*unstructured.Unstructured) {
	for _, o := range objs {
		if ann := a.PodAnnotations[o.GetName()]; ann != nil {
			annotatePods([]*unstructured.Unstructured{o}, ann)
		}
	}
}

// peer is a workload of the app as rules name it.
type peer struct {
	service  string // compose name
	workload string
	labels   map[string]string // its pods' selector
	account  string            // its ServiceAccount
	external bool              // may reach outside the app
}

// inbound is what reaches one workload on one port: the in-app callers
// (by compose name) and whether the port is published.
type inbound struct {
	port      int32 // 0: every port
	proto     string
	callers   []string
	published bool
	reasons   []string
}

// Authorize makes the rules that allow exactly the app's paths (from the
// graph) for a mesh and mode, over objs, the app's objects in namespace ns.
func Authorize(mesh, mode, ns string, objs []*unstructured.Unstructured, g meshdock.Graph) (*Authorization, error) {
	if mesh == "" {
		mesh = None
	}
	if err := CheckAuthz(mesh, mode); err != nil {
		return nil, err
	}
	a := &Authorization{}
	if mode == "" || mode == AuthzOff {
		return a, nil
	}
	if g.Paths == nil {
		return nil, meshdock.Errorf(meshdock.ECONFLICT, "this app was converted before meshdock found its paths: import it again to deploy it with authz %s", mode)
	}
	peers, order := peersOf(objs, g)
	in := map[string][]*inbound{} // by compose name of the callee
	index := map[string]*inbound{}
	out := map[string][]meshdock.Path{}
	for _, p := range g.Paths {
		if peers[p.To] == nil || (p.From != "" && peers[p.From] == nil) {
			continue // a service with no workload (a profile left out)
		}
		k := fmt.Sprintf("%s\x00%d\x00%s", p.To, p.Port, p.Protocol)
		b := index[k]
		if b == nil {
			b = &inbound{port: p.Port, proto: p.Protocol}
			index[k] = b
			in[p.To] = append(in[p.To], b)
		}
		if p.From == "" {
			b.published = true
		} else if !slices.Contains(b.callers, p.From) {
			b.callers = append(b.callers, p.From)
			out[p.From] = append(out[p.From], p)
		}
		b.reasons = append(b.reasons, p.Reasons...)
	}
	if mode == AuthzEnforce {
		a.networkPolicies(mesh, ns, peers, order, in, out)
	}
	audit := mode == AuthzAudit
	switch mesh {
	case Istio, IstioAmbient:
		a.istio(ns, peers, order, in, audit, mesh == IstioAmbient)
	case Linkerd:
		a.linkerd(ns, peers, order, in, objs, audit)
	case Consul:
		a.consul(ns, peers, order, in)
	case Kuma:
		a.kuma(ns, peers, order, in, audit)
	}
	return a, nil
}

// peersOf finds the workload of each node of the graph among objs.
func peersOf(objs []*unstructured.Unstructured, g meshdock.Graph) (map[string]*peer, []string) {
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if podTemplatePath(o) != nil {
			byName[o.GetName()] = o
		}
	}
	peers := map[string]*peer{}
	var order []string
	for _, n := range g.Nodes {
		o := byName[n.Workload]
		if o == nil {
			continue
		}
		p := &peer{service: n.ID, workload: n.Workload, account: "default", external: !n.Internal, labels: map[string]string{}}
		path := podTemplatePath(o)
		labels, _, _ := unstructured.NestedStringMap(o.Object, append(append([]string{}, path...), "metadata", "labels")...)
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/part-of"} {
			if v, ok := labels[k]; ok {
				p.labels[k] = v
			}
		}
		if len(p.labels) == 0 {
			p.labels = labels
		}
		if sa, _, _ := unstructured.NestedString(o.Object, append(append([]string{}, path...), "spec", "serviceAccountName")...); sa != "" {
			p.account = sa
		}
		peers[n.ID] = p
		order = append(order, n.ID)
	}
	return peers, order
}

func (b *inbound) portText() string {
	if b.port == 0 {
		return "every port"
	}
	return fmt.Sprintf("port %d/%s", b.port, b.proto)
}

func (b *inbound) who(peers map[string]*peer) string {
	var names []string
	if b.published {
		names = append(names, "anyone (published)")
	}
	for _, c := range b.callers {
		names = append(names, peers[c].workload)
	}
	return strings.Join(names, ", ")
}

func (a *Authorization) rule(kind, name, format string, args ...any) {
	a.Rules = append(a.Rules, kind+" "+name+": "+fmt.Sprintf(format, args...))
}

func selector(labels map[string]string) map[string]any {
	m := map[string]any{}
	for k, v := range labels {
		m[k] = v
	}
	return map[string]any{"matchLabels": m}
}

// portEntry is a NetworkPolicy port.
func portEntry(port int32, proto string) map[string]any {
	return map[string]any{"port": int64(port), "protocol": proto}
}

// withPorts limits a NetworkPolicy rule to a port (0: every port, no
// limit) and the mesh's proxy ports beside it.
func withPorts(rule map[string]any, port int32, proto string, extra []int32) map[string]any {
	if port == 0 {
		return rule
	}
	ports := []any{portEntry(port, proto)}
	for _, e := range extra {
		ports = append(ports, portEntry(e, "TCP"))
	}
	rule["ports"] = ports
	return rule
}

// networkPolicies denies everything in the namespace, then allows DNS, the
// mesh's control plane and exactly the app's paths, ingress at the callee
// and egress at the caller. Traffic from the node (kubelet probes) is
// never subject to NetworkPolicies.
func (a *Authorization) networkPolicies(mesh, ns string, peers map[string]*peer, order []string, in map[string][]*inbound, out map[string][]meshdock.Path) {
	const v = "networking.k8s.io/v1"
	a.Objects = append(a.Objects, labelled(v, "NetworkPolicy", ns, DefaultDeny, map[string]any{
		"podSelector": map[string]any{}, "policyTypes": []any{"Ingress", "Egress"}}))
	a.rule("NetworkPolicy", DefaultDeny, "deny every connection to and from the namespace's pods")
	a.Objects = append(a.Objects, labelled(v, "NetworkPolicy", ns, "meshdock.allow-dns", map[string]any{
		"podSelector": map[string]any{}, "policyTypes": []any{"Egress"},
		"egress": []any{map[string]any{"ports": []any{portEntry(53, "UDP"), portEntry(53, "TCP")}}}}))
	a.rule("NetworkPolicy", "meshdock.allow-dns", "allow DNS (port 53) from every pod")
	extra := []int32{}
	if cp := controlPlanes[mesh]; cp != "" {
		spec := map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Egress"},
			"egress": []any{map[string]any{"to": []any{map[string]any{"namespaceSelector": selector(map[string]string{"kubernetes.io/metadata.name": cp})}}}}}
		if mesh == IstioAmbient {
			spec["policyTypes"] = []any{"Ingress", "Egress"}
			spec["ingress"] = []any{map[string]any{"from": []any{map[string]any{"ipBlock": map[string]any{"cidr": ambientProbeSource}}}}}
		}
		a.Objects = append(a.Objects, labelled(v, "NetworkPolicy", ns, "meshdock.allow-"+mesh+"-control-plane", spec))
		a.rule("NetworkPolicy", "meshdock.allow-"+mesh+"-control-plane", "allow every pod to reach %s's control plane (namespace %s)", mesh, cp)
		switch mesh {
		case IstioAmbient:
			extra = append(extra, hbonePort)
			a.rule("NetworkPolicy", "meshdock.allow-"+mesh+"-control-plane", "allow kubelet probes, which ambient sends from %s", ambientProbeSource)
		case Consul:
			extra = append(extra, consulPublicPort)
		}
	}
	for _, name := range order {
		p := peers[name]
		var ingress, egress []any
		for _, b := range in[name] {
			if b.published {
				ingress = append(ingress, withPorts(map[string]any{}, b.port, b.proto, nil))
				a.rule("NetworkPolicy", p.workload, "allow ingress from anywhere to %s (published)", b.portText())
			}
			if len(b.callers) == 0 {
				continue
			}
			var from []any
			var names []string
			for _, c := range b.callers {
				from = append(from, map[string]any{"podSelector": selector(peers[c].labels)})
				names = append(names, peers[c].workload)
			}
			ingress = append(ingress, withPorts(map[string]any{"from": from}, b.port, b.proto, extra))
			a.rule("NetworkPolicy", p.workload, "allow ingress from %s to %s", strings.Join(names, ", "), b.portText())
		}
		for _, path := range out[name] {
			to := peers[path.To]
			egress = append(egress, withPorts(map[string]any{"to": []any{map[string]any{"podSelector": selector(to.labels)}}}, path.Port, path.Protocol, extra))
			a.rule("NetworkPolicy", p.workload, "allow egress to %s on %s", to.workload, (&inbound{port: path.Port, proto: path.Protocol}).portText())
		}
		if p.external {
			egress = append(egress, map[string]any{"to": []any{
				map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0", "except": []any{"10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16"}}},
				map[string]any{"ipBlock": map[string]any{"cidr": "::/0", "except": []any{"fc00::/7"}}}}})
			a.rule("NetworkPolicy", p.workload, "allow egress outside the cluster (its compose networks are not all internal)")
		}
		if len(ingress)+len(egress) == 0 {
			continue
		}
		spec := map[string]any{"podSelector": selector(p.labels), "policyTypes": []any{"Ingress", "Egress"}}
		if ingress != nil {
			spec["ingress"] = ingress
		}
		if egress != nil {
			spec["egress"] = egress
		}
		a.Objects = append(a.Objects, labelled(v, "NetworkPolicy", ns, p.workload, spec))
	}
}

// istio allows each workload's callers by their ServiceAccount's identity,
// on the ports they reach, after a namespace-wide allow-nothing. The rules
// are L4 only (principals and ports), which ambient's ztunnel enforces
// without a waypoint. Audit marks them dry-run.
func (a *Authorization) istio(ns string, peers map[string]*peer, order []string, in map[string][]*inbound, audit, ambient bool) {
	const v = "security.istio.io/v1"
	mark := func(o *unstructured.Unstructured) *unstructured.Unstructured {
		if audit {
			o.SetAnnotations(map[string]string{"istio.io/dry-run": "true"})
		}
		a.Objects = append(a.Objects, o)
		return o
	}
	verb := "allow"
	if audit {
		verb = "dry-run: would allow"
	}
	mark(labelled(v, "AuthorizationPolicy", ns, "meshdock.allow-nothing", map[string]any{}))
	if audit {
		a.rule("AuthorizationPolicy", "meshdock.allow-nothing", "dry-run: would deny every request no other policy allows")
	} else {
		a.rule("AuthorizationPolicy", "meshdock.allow-nothing", "deny every request no other policy allows")
	}
	for _, name := range order {
		p := peers[name]
		var rules []any
		for _, b := range in[name] {
			var to []any
			if b.port != 0 {
				to = []any{map[string]any{"operation": map[string]any{"ports": []any{strconv.Itoa(int(b.port))}}}}
			}
			if b.published {
				r := map[string]any{}
				if to != nil {
					r["to"] = to
				}
				rules = append(rules, r)
			}
			if len(b.callers) > 0 {
				var principals []any
				for _, c := range b.callers {
					principals = append(principals, istioPrincipal(ns, peers[c].account))
				}
				r := map[string]any{"from": []any{map[string]any{"source": map[string]any{"principals": principals}}}}
				if to != nil {
					r["to"] = to
				}
				rules = append(rules, r)
			}
			a.rule("AuthorizationPolicy", p.workload, "%s %s to %s", verb, b.who(peers), b.portText())
		}
		if rules == nil {
			continue
		}
		mark(labelled(v, "AuthorizationPolicy", ns, p.workload, map[string]any{"selector": selector(p.labels), "action": "ALLOW", "rules": rules}))
	}
	a.Notes = append(a.Notes, "Istio identities are spiffe://cluster.local/ns/"+ns+"/sa/<workload>: a mesh with another trust domain needs the principals changed")
	if ambient {
		a.Notes = append(a.Notes, "istio-ambient: the rules are L4 (identities and ports), enforced by ztunnel without a waypoint")
	}
}

func istioPrincipal(ns, account string) string { return "cluster.local/ns/" + ns + "/sa/" + account }

// linkerd makes a Server per port a workload is reached on, with the
// callers' identities (MeshTLSAuthentication by ServiceAccount) and, for a
// published port, every network; the namespace's default inbound policy
// denies the rest (audit: reports it).
func (a *Authorization) linkerd(ns string, peers map[string]*peer, order []string, in map[string][]*inbound, objs []*unstructured.Unstructured, audit bool) {
	const v = "policy.linkerd.io/v1alpha1"
	policy := "deny"
	if audit {
		policy = "audit"
	}
	a.NamespaceAnnotations = map[string]string{"config.linkerd.io/default-inbound-policy": policy}
	a.rule("Namespace", ns, "default inbound policy %s: every port no Server names is %s", policy, map[bool]string{true: "reported", false: "refused"}[audit])
	opaquePorts := map[string][]int64{}
	for _, o := range objs {
		if isService(o) {
			opaquePorts[o.GetName()] = opaque(o)
		}
	}
	for _, name := range order {
		p := peers[name]
		for _, b := range in[name] {
			if b.port == 0 {
				if !audit {
					if a.PodAnnotations == nil {
						a.PodAnnotations = map[string]map[string]string{}
					}
					a.PodAnnotations[p.workload] = map[string]string{"config.linkerd.io/default-inbound-policy": "all-authenticated"}
				}
				a.rule("Pod", p.workload, "default inbound policy all-authenticated: %s reach it on ports the compose file does not name, so every meshed workload may", b.who(peers))
				a.Notes = append(a.Notes, fmt.Sprintf("linkerd: %s is reached on ports the compose file does not name (%s): every meshed workload may reach it; name the port (expose) to narrow it", p.workload, b.who(peers)))
				continue
			}
			server := fmt.Sprintf("%s-%d", p.workload, b.port)
			spec := map[string]any{"podSelector": selector(p.labels), "port": int64(b.port), "accessPolicy": policy}
			if _, ok := serverFirst[int64(b.port)]; ok || slices.Contains(opaquePorts[p.workload], int64(b.port)) {
				spec["proxyProtocol"] = "opaque"
			}
			a.Objects = append(a.Objects, labelled("policy.linkerd.io/v1beta3", "Server", ns, server, spec))
			ref := func(kind, name string) map[string]any {
				return map[string]any{"group": "policy.linkerd.io", "kind": kind, "name": name}
			}
			if len(b.callers) > 0 {
				var ids []any
				for _, c := range b.callers {
					ids = append(ids, map[string]any{"kind": "ServiceAccount", "name": peers[c].account})
				}
				a.Objects = append(a.Objects,
					labelled(v, "MeshTLSAuthentication", ns, server, map[string]any{"identityRefs": ids}),
					labelled(v, "AuthorizationPolicy", ns, server, map[string]any{"targetRef": ref("Server", server),
						"requiredAuthenticationRefs": []any{ref("MeshTLSAuthentication", server)}}))
			}
			if b.published {
				a.Objects = append(a.Objects,
					labelled(v, "NetworkAuthentication", ns, server+"-published", map[string]any{"networks": []any{map[string]any{"cidr": "0.0.0.0/0"}, map[string]any{"cidr": "::/0"}}}),
					labelled(v, "AuthorizationPolicy", ns, server+"-published", map[string]any{"targetRef": ref("Server", server),
						"requiredAuthenticationRefs": []any{ref("NetworkAuthentication", server+"-published")}}))
			}
			a.rule("Server", server, "allow %s to %s (else %s)", b.who(peers), b.portText(), policy)
		}
	}
}

// consul makes a ServiceIntentions per workload: its callers allowed, every
// other service denied. Intentions name services, not ports.
func (a *Authorization) consul(ns string, peers map[string]*peer, order []string, in map[string][]*inbound) {
	for _, name := range order {
		p := peers[name]
		var sources []any
		var callers []string
		for _, b := range in[name] {
			for _, c := range b.callers {
				if !slices.Contains(callers, peers[c].workload) {
					callers = append(callers, peers[c].workload)
					sources = append(sources, map[string]any{"name": peers[c].workload, "action": "allow"})
				}
			}
		}
		sources = append(sources, map[string]any{"name": "*", "action": "deny"})
		a.Objects = append(a.Objects, labelled("consul.hashicorp.com/v1alpha1", "ServiceIntentions", ns, p.workload, map[string]any{
			"destination": map[string]any{"name": p.workload}, "sources": sources}))
		if len(callers) > 0 {
			a.rule("ServiceIntentions", p.workload, "allow %s, deny every other service", strings.Join(callers, ", "))
		} else {
			a.rule("ServiceIntentions", p.workload, "deny every service")
		}
	}
	a.Notes = append(a.Notes, "consul: intentions allow a caller to a whole service, not to one port: the NetworkPolicies (enforce) narrow it to the ports")
}

// kuma makes a MeshTrafficPermission per workload: every client denied
// (audit: allowed, reported as denied), its callers allowed by their
// workload's tags.
func (a *Authorization) kuma(ns string, peers map[string]*peer, order []string, in map[string][]*inbound, audit bool) {
	deny := "Deny"
	if audit {
		deny = "AllowWithShadowDeny"
	}
	for _, name := range order {
		p := peers[name]
		from := []any{map[string]any{"targetRef": map[string]any{"kind": "Mesh"}, "default": map[string]any{"action": deny}}}
		var callers []string
		for _, b := range in[name] {
			for _, c := range b.callers {
				if slices.Contains(callers, peers[c].workload) {
					continue
				}
				callers = append(callers, peers[c].workload)
				tags := map[string]any{"k8s.kuma.io/namespace": ns}
				for k, v := range peers[c].labels {
					tags[k] = v
				}
				from = append(from, map[string]any{"targetRef": map[string]any{"kind": "MeshSubset", "tags": tags}, "default": map[string]any{"action": "Allow"}})
			}
		}
		labels := map[string]any{}
		for k, v := range p.labels {
			labels[k] = v
		}
		a.Objects = append(a.Objects, labelled("kuma.io/v1alpha1", "MeshTrafficPermission", ns, p.workload, map[string]any{
			"targetRef": map[string]any{"kind": "Dataplane", "labels": labels}, "from": from}))
		allowed := "no one"
		if len(callers) > 0 {
			allowed = strings.Join(callers, ", ")
		}
		a.rule("MeshTrafficPermission", p.workload, "allow %s; %s every other client", allowed, strings.ToLower(deny))
	}
	a.Notes = append(a.Notes, "kuma: permissions name workloads, not ports (the NetworkPolicies of enforce narrow them), and Kuma applies them only where the mesh has mTLS on")
}

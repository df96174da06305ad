package meshes

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

// authzApps are the apps the rules are checked over: two networks and a
// service on both, and the example app.
var authzApps = []string{"../convert/testdata/tiers", "../examples/shop"}

func convertApp(t *testing.T, dir string) *convert.Result {
	t.Helper()
	p, err := compose.Load(context.Background(), compose.Source{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := convert.Convert(context.Background(), p, convert.Options{Namespace: "app"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// connection is one attempt: from a service (empty: from outside the
// app) to a service's port.
type connection struct {
	from, to string
	port     int32
}

func (c connection) String() string {
	from := c.from
	if from == "" {
		from = "(outside)"
	}
	return fmt.Sprintf("%s -> %s:%d", from, c.to, c.port)
}

// connections lists every pair of services on every port the app uses
// and one it does not, and from outside to each.
func connections(g meshdock.Graph) []connection {
	var out []connection
	for _, to := range g.Nodes {
		ports := []int32{1234}
		for _, p := range g.Paths {
			if p.To == to.ID && p.Port != 0 && !slices.Contains(ports, p.Port) {
				ports = append(ports, p.Port)
			}
		}
		for _, from := range append([]meshdock.Node{{}}, g.Nodes...) {
			if from.ID == to.ID {
				continue
			}
			for _, port := range ports {
				out = append(out, connection{from.ID, to.ID, port})
			}
		}
	}
	return out
}

// How a kind of rule reads the paths.
const (
	// exact: a path names the connection (or every port of the pair); a
	// published port is reached from outside the app. NetworkPolicies
	// hold every in-app caller to its paths, egress included.
	exact = iota
	// published: as exact, and anyone reaches a published port (the
	// meshes' rules for a port the host publishes name no caller).
	published
	// byService: a path names the pair, whatever the port (the meshes
	// whose rules name services only).
	byService
)

// wanted tells whether the compose file allows a connection.
func wanted(g meshdock.Graph, c connection, how int) bool {
	return slices.ContainsFunc(g.Paths, func(p meshdock.Path) bool {
		switch {
		case p.To != c.to:
			return false
		case how == byService:
			return p.From == c.from
		case how == published && p.From == "":
			return p.Port == 0 || p.Port == c.port
		}
		return p.From == c.from && (p.Port == 0 || p.Port == c.port)
	})
}

type world struct {
	ns    string
	peers map[string]*peer
	objs  []*unstructured.Unstructured
	auth  *Authorization
}

func (w world) of(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range w.auth.Objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// matches is label selector semantics for matchLabels (empty: all).
func matches(sel any, labels map[string]string) bool {
	m, _ := sel.(map[string]any)
	ml, _ := m["matchLabels"].(map[string]any)
	for k, v := range ml {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func portMatches(ports any, port int32) bool {
	list, _ := ports.([]any)
	if len(list) == 0 {
		return true
	}
	for _, p := range list {
		if n, _ := p.(map[string]any)["port"].(int64); int32(n) == port {
			return true
		}
	}
	return false
}

// networkPolicyAllows evaluates the NetworkPolicies as Kubernetes does:
// a pod selected by a policy of a direction takes only what one of their
// rules allows; traffic from outside the app matches only rules with no
// peers or an ipBlock.
func (w world) networkPolicyAllows(c connection) bool {
	to := w.peers[c.to]
	side := func(dir string, pod map[string]string, peerOK func(peer map[string]any) bool) bool {
		selected := false
		for _, np := range w.of("NetworkPolicy") {
			spec := np.Object["spec"].(map[string]any)
			types, _ := spec["policyTypes"].([]any)
			if !matches(spec["podSelector"], pod) || !slices.Contains(types, any(dir)) {
				continue
			}
			selected = true
			rules, _ := spec[strings.ToLower(dir)].([]any)
			key := map[string]string{"Ingress": "from", "Egress": "to"}[dir]
			for _, r := range rules {
				rm := r.(map[string]any)
				peers, _ := rm[key].([]any)
				ok := len(peers) == 0
				for _, p := range peers {
					ok = ok || peerOK(p.(map[string]any))
				}
				if ok && portMatches(rm["ports"], c.port) {
					return true
				}
			}
		}
		return !selected
	}
	ingress := side("Ingress", to.labels, func(p map[string]any) bool {
		if c.from == "" {
			block, _ := p["ipBlock"].(map[string]any)
			return block != nil && block["cidr"] == "0.0.0.0/0"
		}
		return p["podSelector"] != nil && p["namespaceSelector"] == nil && matches(p["podSelector"], w.peers[c.from].labels)
	})
	if c.from == "" || !ingress {
		return ingress
	}
	return side("Egress", w.peers[c.from].labels, func(p map[string]any) bool {
		return p["podSelector"] != nil && p["namespaceSelector"] == nil && matches(p["podSelector"], to.labels)
	})
}

// istioAllows evaluates ALLOW AuthorizationPolicies: a workload any of
// them selects takes only requests one of their rules matches.
func (w world) istioAllows(c connection) bool {
	selected := false
	for _, ap := range w.of("AuthorizationPolicy") {
		spec := ap.Object["spec"].(map[string]any)
		if sel, ok := spec["selector"]; ok && !matches(sel, w.peers[c.to].labels) {
			continue
		}
		selected = true
		rules, _ := spec["rules"].([]any)
		for _, r := range rules {
			rm := r.(map[string]any)
			from, _ := rm["from"].([]any)
			ok := len(from) == 0
			for _, f := range from {
				principals, _ := f.(map[string]any)["source"].(map[string]any)["principals"].([]any)
				ok = ok || c.from != "" && slices.Contains(principals, any(istioPrincipal(w.ns, w.peers[c.from].account)))
			}
			to, _ := rm["to"].([]any)
			portOK := len(to) == 0
			for _, t := range to {
				ports, _ := t.(map[string]any)["operation"].(map[string]any)["ports"].([]any)
				portOK = portOK || slices.Contains(ports, any(strconv.Itoa(int(c.port))))
			}
			if ok && portOK {
				return true
			}
		}
	}
	return !selected
}

// linkerdAllows evaluates Servers and their AuthorizationPolicies, and the
// default inbound policy (namespace, or pod) for ports no Server names.
func (w world) linkerdAllows(c connection) bool {
	to := w.peers[c.to]
	for _, s := range w.of("Server") {
		spec := s.Object["spec"].(map[string]any)
		if !matches(spec["podSelector"], to.labels) || spec["port"].(int64) != int64(c.port) {
			continue
		}
		for _, ap := range w.of("AuthorizationPolicy") {
			spec := ap.Object["spec"].(map[string]any)
			ref := spec["targetRef"].(map[string]any)
			// A policy names one Server, or every Server of a namespace.
			if ref["kind"] == "Namespace" && ref["name"] != w.ns || ref["kind"] != "Namespace" && ref["name"] != s.GetName() {
				continue
			}
			for _, r := range spec["requiredAuthenticationRefs"].([]any) {
				ref := r.(map[string]any)
				for _, auth := range w.of(ref["kind"].(string)) {
					if auth.GetName() != ref["name"] {
						continue
					}
					as := auth.Object["spec"].(map[string]any)
					if ref["kind"] == "NetworkAuthentication" {
						return true // every network
					}
					for _, id := range as["identityRefs"].([]any) {
						if c.from != "" && id.(map[string]any)["name"] == w.peers[c.from].account {
							return true
						}
					}
				}
			}
		}
		return false
	}
	policy := w.auth.NamespaceAnnotations["config.linkerd.io/default-inbound-policy"]
	if p := w.auth.PodAnnotations[to.workload]["config.linkerd.io/default-inbound-policy"]; p != "" {
		policy = p
	}
	return policy == "all-authenticated" && c.from != ""
}

// consulAllows evaluates intentions: the exact source wins over "*".
func (w world) consulAllows(c connection) bool {
	for _, si := range w.of("ServiceIntentions") {
		spec := si.Object["spec"].(map[string]any)
		if spec["destination"].(map[string]any)["name"] != w.peers[c.to].workload {
			continue
		}
		action := ""
		for _, s := range spec["sources"].([]any) {
			sm := s.(map[string]any)
			switch {
			case sm["name"] == w.peers[c.from].workload:
				return sm["action"] == "allow"
			case sm["name"] == "*":
				action, _ = sm["action"].(string)
			}
		}
		return action == "allow"
	}
	return true
}

// kumaAllows evaluates MeshTrafficPermissions: those that target the
// callee merge, and the most specific matching "from" wins (MeshSubset
// over Mesh).
func (w world) kumaAllows(c connection) bool {
	targeted := false
	mesh := ""
	tags := map[string]string{"k8s.kuma.io/namespace": w.ns}
	for k, v := range w.peers[c.from].labels {
		tags[k] = v
	}
	for _, mtp := range w.of("MeshTrafficPermission") {
		spec := mtp.Object["spec"].(map[string]any)
		if !matches(map[string]any{"matchLabels": spec["targetRef"].(map[string]any)["labels"]}, w.peers[c.to].labels) {
			continue
		}
		targeted = true
		for _, f := range spec["from"].([]any) {
			fm := f.(map[string]any)
			ref := fm["targetRef"].(map[string]any)
			a := fm["default"].(map[string]any)["action"].(string)
			switch ref["kind"] {
			case "Mesh":
				if mesh == "" {
					mesh = a
				}
			case "MeshSubset":
				if matches(map[string]any{"matchLabels": ref["tags"]}, tags) {
					return a == "Allow"
				}
			}
		}
	}
	return !targeted || mesh != "Deny"
}

// TestAuthorizeAllowsExactlyThePaths checks, for each app, mesh and
// NetworkPolicies alone, every connection between the app's services (and
// from outside) against the generated objects: allowed exactly when a
// path of the compose file names it.
func TestAuthorizeAllowsExactlyThePaths(t *testing.T) {
	eachEnforced(t, func(t *testing.T, res *convert.Result, mesh string, w world) {
		objs, peers := w.objs, w.peers
		if len(peers) != len(res.Graph.Nodes) {
			t.Fatalf("%d workloads found for %d services", len(peers), len(res.Graph.Nodes))
		}
		accounts := map[string]bool{}
		for _, p := range peers {
			if p.account == "default" || accounts[p.account] {
				t.Errorf("%s: ServiceAccount %s is not its own", p.workload, p.account)
			}
			accounts[p.account] = true
		}
		// Kubelet probes: the converter makes compose healthchecks
		// exec probes, which run in the container and cross no
		// rule; NetworkPolicies never apply to the node's traffic,
		// and under ambient the probes' source address is allowed.
		probes := 0
		for _, o := range objs {
			forContainers(o, func(c map[string]any) {
				for _, k := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
					if pr, ok := c[k].(map[string]any); ok {
						probes++
						if pr["exec"] == nil {
							t.Errorf("%s: %s %v is not exec: check that the rules let it through", o.GetName(), k, pr)
						}
					}
				}
			})
		}
		if res.Project == "shop" && probes == 0 {
			t.Error("no probes found in the example app")
		}
		var nps []any
		for _, o := range w.of("NetworkPolicy") {
			nps = append(nps, o.Object)
		}
		if mesh == IstioAmbient && !strings.Contains(fmt.Sprint(nps), ambientProbeSource) {
			t.Errorf("ambient: the probes' source %s is not allowed", ambientProbeSource)
		}
		// The depends_on waits connect to their dependency (nc -z
		// HOST PORT): those connections are the app's too.
		for _, c := range waitConnections(t, objs, res.Graph) {
			if !w.networkPolicyAllows(c) {
				t.Errorf("NetworkPolicies refuse the depends_on wait %s", c)
			}
		}
		allowed, refused := 0, 0
		for _, c := range connections(res.Graph) {
			want := wanted(res.Graph, c, exact)
			if got := w.networkPolicyAllows(c); got != want {
				t.Errorf("NetworkPolicies: %s allowed %v, want %v", c, got, want)
			}
			if want {
				allowed++
			} else {
				refused++
			}
			want = wanted(res.Graph, c, published)
			var got bool
			switch mesh {
			case None:
				continue
			case Istio, IstioAmbient:
				got = w.istioAllows(c)
			case Linkerd:
				got = w.linkerdAllows(c)
				if !got && want {
					t.Errorf("linkerd: %s refused", c)
				}
				if got && !want && !w.everyPort(c) {
					t.Errorf("linkerd: %s allowed", c)
				}
				continue
			case Consul, Kuma:
				if c.from == "" {
					continue // no identity outside the mesh
				}
				if got = map[string]func(connection) bool{Consul: w.consulAllows, Kuma: w.kumaAllows}[mesh](c); got != wanted(res.Graph, c, byService) {
					t.Errorf("%s: %s allowed %v, want %v", mesh, c, got, !got)
				}
				continue
			}
			if got != want {
				t.Errorf("%s: %s allowed %v, want %v", mesh, c, got, want)
			}
		}
		if allowed == 0 || refused == 0 {
			t.Fatalf("%d allowed and %d refused connections: the check checks nothing", allowed, refused)
		}
		if len(w.auth.Rules) == 0 {
			t.Error("no rules listed")
		}
	})
}

// eachEnforced runs f, for each test app and each mesh, on the world the
// app's objects make under authz enforce.
func eachEnforced(t *testing.T, f func(t *testing.T, res *convert.Result, mesh string, w world)) {
	for _, dir := range authzApps {
		res := convertApp(t, dir)
		for _, mesh := range Names() {
			t.Run(res.Project+"/"+mesh, func(t *testing.T) {
				objs := unstructuredOf(res.Objects)
				a, err := Authorize(mesh, AuthzEnforce, "app", objs, res.Graph)
				if err != nil {
					t.Fatal(err)
				}
				peers, _ := peersOf(objs, res.Graph)
				f(t, res, mesh, world{ns: "app", peers: peers, objs: objs, auth: a})
			})
		}
	}
}

// everyPort tells whether a connection's callee is reached on ports the
// compose file does not name, which Linkerd opens to every meshed caller.
func (w world) everyPort(c connection) bool {
	return c.from != "" && w.auth.PodAnnotations[w.peers[c.to].workload]["config.linkerd.io/default-inbound-policy"] == "all-authenticated"
}

// TestAuthorizeRefusesWhatComposeRefuses: stray names db but shares no
// network with it; no path, no rule, and a warning that says so.
func TestAuthorizeRefusesWhatComposeRefuses(t *testing.T) {
	res := convertApp(t, authzApps[0])
	for _, p := range res.Graph.Paths {
		if p.From == "stray" {
			t.Errorf("path %+v: stray shares no network with anyone it names", p)
		}
	}
	found := slices.ContainsFunc(res.Warnings, func(w meshdock.Warning) bool {
		return w.Service == "stray" && strings.Contains(w.Message, "share no network")
	})
	if !found {
		t.Errorf("no warning about stray reaching db: %v", res.Warnings)
	}
	for _, n := range res.Graph.Nodes {
		if want := n.ID == "db" || n.ID == "cache" || n.ID == "worker"; n.Internal != want {
			t.Errorf("%s: internal %v, want %v", n.ID, n.Internal, want)
		}
	}
}

func TestAuthorizeModes(t *testing.T) {
	res := convertApp(t, authzApps[0])
	objs := unstructuredOf(res.Objects)
	for _, c := range []struct{ mesh, mode, err string }{
		{None, AuthzAudit, "needs a mesh"}, {IstioAmbient, AuthzAudit, "not available with istio-ambient"},
		{Consul, AuthzAudit, "not available with consul"}, {Istio, "strict", "authz must be one of off, audit, enforce"},
	} {
		if _, err := Authorize(c.mesh, c.mode, "app", objs, res.Graph); err == nil || !strings.Contains(err.Error(), c.err) || meshdock.ErrorCode(err) != meshdock.EINVALID {
			t.Errorf("%s %s: %v, want %q", c.mesh, c.mode, err, c.err)
		}
	}
	if a, err := Authorize(Istio, AuthzOff, "app", objs, res.Graph); err != nil || len(a.Objects) != 0 {
		t.Errorf("off: %v, %d objects", err, len(a.Objects))
	}
	old := res.Graph
	old.Paths = nil
	if _, err := Authorize(Istio, AuthzEnforce, "app", objs, old); meshdock.ErrorCode(err) != meshdock.ECONFLICT {
		t.Errorf("an app without paths: %v", err)
	}
	// Audit: no NetworkPolicies (they cannot audit), the mesh's rules
	// reporting only.
	for _, mesh := range []string{Istio, Linkerd, Kuma} {
		a, err := Authorize(mesh, AuthzAudit, "app", objs, res.Graph)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range a.Objects {
			switch {
			case o.GetKind() == "NetworkPolicy":
				t.Errorf("%s audit: %s", mesh, o.GetName())
			case o.GetKind() == "AuthorizationPolicy" && mesh == Istio && o.GetAnnotations()["istio.io/dry-run"] != "true":
				t.Errorf("istio audit: %s is not dry-run", o.GetName())
			case o.GetKind() == "Server" && o.Object["spec"].(map[string]any)["accessPolicy"] != "audit":
				t.Errorf("linkerd audit: Server %s is not audit", o.GetName())
			case o.GetKind() == "MeshTrafficPermission" && strings.Contains(fmt.Sprint(o.Object["spec"]), "action:Deny"):
				t.Errorf("kuma audit: %s denies", o.GetName())
			}
		}
		if mesh == Linkerd && a.NamespaceAnnotations["config.linkerd.io/default-inbound-policy"] != "audit" {
			t.Errorf("linkerd audit: namespace %v", a.NamespaceAnnotations)
		}
	}
}

// TestAuthorizeObjectsMatchCRDs checks the rules of every mesh against
// the meshes' CRD schemas (the deploy test applies them to the real API
// server with those CRDs installed).
func TestAuthorizeObjectsMatchCRDs(t *testing.T) {
	schemas := policySchemas(t)
	if len(schemas) == 0 {
		t.Skip("no mesh CRDs found next to the repository (../../shared/charts) or in the module cache")
	}
	res := convertApp(t, authzApps[0])
	checked := 0
	for _, mesh := range Names() {
		a, err := Authorize(mesh, AuthzEnforce, "app", unstructuredOf(res.Objects), res.Graph)
		if err != nil {
			t.Fatal(err)
		}
		// And the rules of a caller from outside the app (AllowCaller).
		extra, _ := AllowCaller(mesh, "app", Caller{Name: "meshdock-loadgen", Account: "meshdock-loadgen", Labels: map[string]string{"app": "lg"},
			Target: map[string]string{"app": "api"}, Port: "8080"})
		for _, o := range append(a.Objects, extra...) {
			s, ok := schemas[o.GetAPIVersion()+" "+o.GetKind()]
			if !ok {
				continue
			}
			checked++
			spec, _ := s["properties"].(map[string]any)["spec"].(map[string]any)
			for _, b := range policyCheckSchema(o.GetKind()+"/"+o.GetName()+" spec", o.Object["spec"], spec) {
				t.Errorf("%s: %s", mesh, b)
			}
		}
	}
	if checked == 0 {
		t.Error("no object checked")
	}
}

func unstructuredOf(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	return copies(objs)
}

func forContainers(o *unstructured.Unstructured, f func(map[string]any)) {
	path := podTemplatePath(o)
	if path == nil {
		return
	}
	for _, field := range []string{"initContainers", "containers"} {
		list, _, _ := unstructured.NestedSlice(o.Object, append(append([]string{}, path...), "spec", field)...)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				f(m)
			}
		}
	}
}

var waitNC = regexp.MustCompile(`nc -z -w \d+ (\S+) (\d+)`)

// waitConnections finds the connections the depends_on waits make, to the
// container port behind the Service port they try.
func waitConnections(t *testing.T, objs []*unstructured.Unstructured, g meshdock.Graph) []connection {
	byWorkload := map[string]string{}
	for _, n := range g.Nodes {
		byWorkload[n.Workload] = n.ID
	}
	find := func(kind, name string) *unstructured.Unstructured {
		for _, o := range objs {
			if o.GetKind() == kind && o.GetName() == name {
				return o
			}
		}
		return nil
	}
	var out []connection
	for _, o := range objs {
		from := byWorkload[o.GetName()]
		if podTemplatePath(o) == nil || from == "" {
			continue
		}
		forContainers(o, func(c map[string]any) {
			for _, m := range waitNC.FindAllStringSubmatch(fmt.Sprint(c["command"], c["args"]), -1) {
				port, _ := strconv.Atoi(m[2])
				target := int64(port)
				svc := find("Service", m[1])
				ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
				for _, p := range ports {
					pm := p.(map[string]any)
					if pm["port"] != int64(port) {
						continue
					}
					switch tp := pm["targetPort"].(type) {
					case int64:
						target = tp
					case string:
						forContainers(find("Deployment", m[1]), func(c map[string]any) {
							cps, _ := c["ports"].([]any)
							for _, cp := range cps {
								if cpm := cp.(map[string]any); cpm["name"] == tp {
									target = cpm["containerPort"].(int64)
								}
							}
						})
					}
				}
				out = append(out, connection{from, byWorkload[m[1]], int32(target)})
			}
		})
	}
	if len(out) == 0 && slices.ContainsFunc(g.Nodes, func(n meshdock.Node) bool { return n.ID == "proxy" }) {
		t.Errorf("no depends_on waits found")
	}
	return out
}

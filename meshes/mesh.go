package meshes

import (
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
)

// The options a deploy can take.
const (
	None         = "none"
	Istio        = "istio"
	IstioAmbient = "istio-ambient"
	Linkerd      = "linkerd"
	Consul       = "consul"
	Kuma         = "kuma"
)

// Names lists the options, the baseline first.
func Names() []string { return []string{None, Istio, IstioAmbient, Linkerd, Consul, Kuma} }

// Enrolment is what a mesh makes of an app: the marks on its namespace, the
// app's objects with the mesh's marks, the mesh's own objects after them,
// and notes for the user (how depends_on waits work under this mesh, what
// was marked opaque).
type Enrolment struct {
	NamespaceLabels      map[string]string
	NamespaceAnnotations map[string]string
	Objects              []*unstructured.Unstructured
	Notes                []string
}

// Mesh is one option of a deploy.
type Mesh interface {
	Name() string
	// Enroll marks copies of objs, the app's objects in namespace ns, for
	// the mesh. objs is left as it was.
	Enroll(ns string, objs []*unstructured.Unstructured) (*Enrolment, error)
}

// Get returns the mesh of a name.
func Get(name string) (Mesh, error) {
	switch name {
	case "", None:
		return none{}, nil
	case Istio:
		return istio{}, nil
	case IstioAmbient:
		return ambient{}, nil
	case Linkerd:
		return linkerd{}, nil
	case Consul:
		return consul{}, nil
	case Kuma:
		return kuma{}, nil
	}
	return nil, meshdock.Errorf(meshdock.EINVALID, "mesh must be one of %s, not %s", strings.Join(Names(), ", "), meshdock.QuoteName(name))
}

// WaitUID is the user the depends_on wait containers run as under the
// meshes that exclude traffic by user (Consul): it is neither root nor a
// mesh proxy's (Istio's 1337, Consul's 5995, Kuma's 5678).
const WaitUID = 5996

// waitPrefix names the init containers the converter makes for depends_on.
const waitPrefix = "wait-for-"

// serverFirst are the well-known ports of protocols where the server
// speaks first (MySQL, Postgres, Redis, MongoDB, memcached, SMTP, NATS): a
// mesh that sniffs the protocol would wait for a client that waits too.
var serverFirst = map[int64]string{25: "smtp", 587: "smtp", 3306: "mysql", 4222: "nats", 5432: "postgres", 6379: "redis", 11211: "memcached", 27017: "mongodb"}

// copies deep-copies objs.
func copies(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

// podSpecPath is where a workload keeps its pod template.
func podTemplatePath(o *unstructured.Unstructured) []string {
	if o.GroupVersionKind().Group != "apps" && o.GroupVersionKind().Group != "batch" {
		return nil
	}
	switch o.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
		return []string{"spec", "template"}
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template"}
	}
	return nil
}

// annotatePods sets annotations on the pod template of every workload.
func annotatePods(objs []*unstructured.Unstructured, ann map[string]string) {
	for _, o := range objs {
		p := podTemplatePath(o)
		if p == nil {
			continue
		}
		cur, _, _ := unstructured.NestedStringMap(o.Object, append(p, "metadata", "annotations")...)
		if cur == nil {
			cur = map[string]string{}
		}
		for k, v := range ann {
			cur[k] = v
		}
		_ = unstructured.SetNestedStringMap(o.Object, cur, append(p, "metadata", "annotations")...)
	}
}

// annotate sets annotations on an object.
func annotate(o *unstructured.Unstructured, ann map[string]string) {
	cur := o.GetAnnotations()
	if cur == nil {
		cur = map[string]string{}
	}
	for k, v := range ann {
		cur[k] = v
	}
	o.SetAnnotations(cur)
}

// servicePort is one port of an app's Service.
type servicePort struct {
	port        int64
	name        string
	appProtocol string
}

func isService(o *unstructured.Unstructured) bool {
	return o.GetKind() == "Service" && o.GroupVersionKind().Group == ""
}

func servicePorts(svc *unstructured.Unstructured) []servicePort {
	list, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	var out []servicePort
	for _, p := range list {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		sp := servicePort{}
		switch n := m["port"].(type) {
		case int64:
			sp.port = n
		case float64:
			sp.port = int64(n)
		case int:
			sp.port = int64(n)
		}
		sp.name, _ = m["name"].(string)
		sp.appProtocol, _ = m["appProtocol"].(string)
		out = append(out, sp)
	}
	return out
}

// opaque lists the server-first ports of a Service, sorted.
func opaque(svc *unstructured.Unstructured) []int64 {
	var out []int64
	for _, p := range servicePorts(svc) {
		if _, ok := serverFirst[p.port]; ok {
			out = append(out, p.port)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func joinPorts(ports []int64) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.FormatInt(p, 10)
	}
	return strings.Join(s, ",")
}

// protocolOf is the protocol a mesh should take a port for: http, http2
// or grpc from its appProtocol, else tcp (server-first ports always).
func protocolOf(p servicePort) string {
	if _, ok := serverFirst[p.port]; ok {
		return "tcp"
	}
	switch ap := strings.ToLower(p.appProtocol); {
	case ap == "http":
		return "http"
	case ap == "http2" || ap == "kubernetes.io/h2c":
		return "http2"
	case ap == "grpc":
		return "grpc"
	case ap == "" && (strings.HasPrefix(p.name, "http-") || p.name == "http"):
		return "http"
	}
	return "tcp"
}

// hasWaits reports whether any workload of objs has depends_on waits.
func hasWaits(objs []*unstructured.Unstructured) bool {
	found := false
	forWaits(objs, func(map[string]any) { found = true })
	return found
}

// forWaits calls f with each depends_on wait container, changes kept.
func forWaits(objs []*unstructured.Unstructured, f func(c map[string]any)) {
	for _, o := range objs {
		p := podTemplatePath(o)
		if p == nil {
			continue
		}
		path := append(append([]string{}, p...), "spec", "initContainers")
		list, ok, _ := unstructured.NestedSlice(o.Object, path...)
		if !ok {
			continue
		}
		changed := false
		for _, c := range list {
			m, ok := c.(map[string]any)
			if name, _ := m["name"].(string); ok && strings.HasPrefix(name, waitPrefix) {
				f(m)
				changed = true
			}
		}
		if changed {
			_ = unstructured.SetNestedSlice(o.Object, list, path...)
		}
	}
}

// labelled returns an object of the mesh's own, marked as meshdock's.
func labelled(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns,
			"labels": map[string]any{"app.kubernetes.io/managed-by": "meshdock"}},
	}}
	if spec != nil {
		o.Object["spec"] = spec
	}
	return o
}

package meshes

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const app = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {app.kubernetes.io/managed-by: meshdock}}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      initContainers: [{name: wait-for-db, image: busybox, command: [sh, -c, "true"]}]
      containers: [{name: api, image: api}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {selector: {app: api}, ports: [{name: http-8000, port: 8000, appProtocol: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {selector: {app: db}, ports: [{name: tcp-postgres, port: 5432, appProtocol: tcp}]}
---
apiVersion: v1
kind: Service
metadata: {name: api-published, labels: {meshdock.io/exposes: api}}
spec: {type: LoadBalancer, selector: {app: api}, ports: [{port: 8000}]}
`

func objs(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(app, "---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func podAnnotations(o *unstructured.Unstructured) map[string]string {
	m, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "annotations")
	return m
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// Each mesh marks what its documentation asks, adds only labels,
// annotations and objects of its own, and leaves the input alone.
func TestEnroll(t *testing.T) {
	for _, tt := range []struct {
		mesh      string
		nsLabels  string
		nsAnn     string
		pod       string // a pod annotation key=value
		extra     string // kind/name of an object of the mesh
		check     func(t *testing.T, e *Enrolment)
		waitsNote string
	}{
		{mesh: None},
		{mesh: Istio, nsLabels: "istio-injection=enabled", pod: "sidecar.istio.io/nativeSidecar=true", waitsNote: "native sidecar"},
		{mesh: IstioAmbient, nsLabels: "istio.io/dataplane-mode=ambient", waitsNote: "ambient"},
		{mesh: Linkerd, nsAnn: "linkerd.io/inject=enabled", pod: "config.beta.linkerd.io/proxy-enable-native-sidecar=true", waitsNote: "native sidecar",
			check: func(t *testing.T, e *Enrolment) {
				if got := find(e.Objects, "Service", "db").GetAnnotations()["config.linkerd.io/opaque-ports"]; got != "5432" {
					t.Errorf("db's opaque ports: %q", got)
				}
				if got := find(e.Objects, "Service", "api").GetAnnotations()["config.linkerd.io/opaque-ports"]; got != "" {
					t.Errorf("api's opaque ports: %q", got)
				}
			}},
		{mesh: Consul, pod: "consul.hashicorp.com/transparent-proxy-exclude-uids=5996", extra: "ServiceDefaults/api", waitsNote: "5996",
			check: func(t *testing.T, e *Enrolment) {
				if p, _, _ := unstructured.NestedString(find(e.Objects, "ServiceDefaults", "api").Object, "spec", "protocol"); p != "http" {
					t.Errorf("api's protocol: %q", p)
				}
				if p, _, _ := unstructured.NestedString(find(e.Objects, "ServiceDefaults", "db").Object, "spec", "protocol"); p != "tcp" {
					t.Errorf("db's protocol: %q", p)
				}
				if find(e.Objects, "ServiceDefaults", "api-published") != nil ||
					find(e.Objects, "Service", "api-published").GetAnnotations()["consul.hashicorp.com/service-ignore"] != "true" {
					t.Error("the LoadBalancer Service is not kept out of Consul")
				}
				inits, _, _ := unstructured.NestedSlice(find(e.Objects, "Deployment", "api").Object, "spec", "template", "spec", "initContainers")
				if uid := inits[0].(map[string]any)["securityContext"].(map[string]any)["runAsUser"]; uid != int64(WaitUID) {
					t.Errorf("the wait runs as %v", uid)
				}
				if podAnnotations(find(e.Objects, "Deployment", "api"))["consul.hashicorp.com/connect-inject"] != "true" {
					t.Error("not injected")
				}
			}},
		{mesh: Kuma, nsLabels: "kuma.io/sidecar-injection=enabled", waitsNote: "native sidecar",
			check: func(t *testing.T, e *Enrolment) {
				if got := find(e.Objects, "Service", "db").GetAnnotations()["5432.service.kuma.io/protocol"]; got != "tcp" {
					t.Errorf("db's protocol: %q", got)
				}
				if got := find(e.Objects, "Service", "api").GetAnnotations()["8000.service.kuma.io/protocol"]; got != "http" {
					t.Errorf("api's protocol: %q", got)
				}
			}},
	} {
		t.Run(tt.mesh, func(t *testing.T) {
			m, err := Get(tt.mesh)
			if err != nil || m.Name() != tt.mesh {
				t.Fatal(m, err)
			}
			in := objs(t)
			before, _ := yaml.Marshal(in)
			e, err := m.Enroll("shop", in)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := yaml.Marshal(in); string(after) != string(before) {
				t.Error("Enroll changed its input")
			}
			kv := func(m map[string]string) string {
				var s []string
				for k, v := range m {
					s = append(s, k+"="+v)
				}
				return strings.Join(s, ",")
			}
			if got := kv(e.NamespaceLabels); got != tt.nsLabels {
				t.Errorf("namespace labels %q, want %q", got, tt.nsLabels)
			}
			if got := kv(e.NamespaceAnnotations); got != tt.nsAnn {
				t.Errorf("namespace annotations %q, want %q", got, tt.nsAnn)
			}
			if tt.pod != "" {
				k, v, _ := strings.Cut(tt.pod, "=")
				if got := podAnnotations(find(e.Objects, "Deployment", "api"))[k]; got != v {
					t.Errorf("pod annotation %s = %q, want %q", k, got, v)
				}
			}
			if tt.extra != "" {
				kind, name, _ := strings.Cut(tt.extra, "/")
				if o := find(e.Objects, kind, name); o == nil || o.GetNamespace() != "shop" || o.GetLabels()["app.kubernetes.io/managed-by"] != "meshdock" {
					t.Errorf("no %s of the mesh's: %v", tt.extra, o)
				}
			}
			if tt.waitsNote != "" && !strings.Contains(strings.Join(e.Notes, "\n"), tt.waitsNote) {
				t.Errorf("notes say nothing of the waits: %v", e.Notes)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
			// Only labels, annotations and the mesh's own objects are
			// added: the app's containers are what they were (Consul's
			// waits excepted, which run as the user it lets through).
			for _, o := range in {
				out := find(e.Objects, o.GetKind(), o.GetName())
				a, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				b, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
				ya, _ := yaml.Marshal(a)
				yb, _ := yaml.Marshal(b)
				if string(ya) != string(yb) {
					t.Errorf("%s %s: containers changed", o.GetKind(), o.GetName())
				}
			}
		})
	}
	if _, err := Get("envoy"); err == nil || !strings.Contains(err.Error(), "istio-ambient") {
		t.Errorf("unknown mesh: %v", err)
	}
}

package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
)

// app is a small app with a volume: its pods start only once the claim is
// bound, and its Job completes (kwok runs no container).
const app = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: meshdock/never-pulled:test
        imagePullPolicy: Never
        ports: [{name: http, containerPort: 8080}]
        volumeMounts: [{name: data, mountPath: /data}]
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: data}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: meshdock/never-pulled:test, imagePullPolicy: Never}]
`

func TestApply(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	results, err := c.Apply(ctx, objects(t, app), ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Action != Created || r.Ref.Namespace != ns {
			t.Errorf("%s: %s, want created in %s", r.Ref, r.Action, ns)
		}
	}

	start := time.Now()
	var seen []string
	err = c.Watch(ctx, Refs(results), WatchOptions{Progress: func(s WorkloadStatus) {
		seen = append(seen, s.Ref.String()+": "+s.Message)
	}})
	if err != nil {
		t.Fatalf("rollout: %v\nprogress: %s", err, strings.Join(seen, "\n"))
	}
	t.Logf("rolled out in %v:\n%s", time.Since(start), strings.Join(seen, "\n"))

	dyn, _ := c.Dynamic()
	get := func(resource, name string) *unstructured.Unstructured {
		t.Helper()
		obj, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: resource}).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	// Every address the test cluster hands out must stay on loopback.
	_, serviceRange, _ := net.ParseCIDR("127.96.0.0/16")
	ip, _, _ := unstructured.NestedString(get("services", "web").Object, "spec", "clusterIP")
	if !serviceRange.Contains(net.ParseIP(ip)) {
		t.Errorf("Service clusterIP %q is not in %s", ip, serviceRange)
	}
	if phase, _, _ := unstructured.NestedString(get("persistentvolumeclaims", "data").Object, "status", "phase"); phase != "Bound" {
		t.Errorf("PVC is %q, want Bound", phase)
	}
	pods, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	_, podRange, _ := net.ParseCIDR("127.100.0.0/16")
	for _, p := range pods.Items {
		phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
		podIP, _, _ := unstructured.NestedString(p.Object, "status", "podIP")
		if phase != "Running" || !podRange.Contains(net.ParseIP(podIP)) {
			t.Errorf("pod %s is %s with IP %q, want Running in %s", p.GetName(), phase, podIP, podRange)
		}
	}

	// The same set again changes nothing.
	results, err = c.Apply(ctx, objects(t, app), ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Action != Unchanged {
			t.Errorf("re-apply %s: %s, want unchanged", r.Ref, r.Action)
		}
	}

	// One change: only that object is configured.
	changed := objects(t, strings.Replace(app, "replicas: 1", "replicas: 2", 1))
	results, err = c.Apply(ctx, changed, ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		want := Unchanged
		if r.Ref.Kind == "Deployment" {
			want = Configured
		}
		if r.Action != want {
			t.Errorf("apply with 2 replicas, %s: %s, want %s", r.Ref, r.Action, want)
		}
	}
	if err := c.Watch(ctx, Refs(results), WatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestApplyDryRun(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	ctx := t.Context()
	dyn, _ := c.Dynamic()
	configMaps := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)

	objs := objects(t, app)
	results, err := c.Apply(ctx, objs, ApplyOptions{Namespace: ns, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(objs) {
		t.Fatalf("%d results for %d objects", len(results), len(objs))
	}
	for _, r := range results {
		if r.Action != Created {
			t.Errorf("%s: %s, want created", r.Ref, r.Action)
		}
		m, _ := c.conn.mapping(r.Ref.GroupVersionKind)
		if _, err := dyn.Resource(m.Resource).Namespace(ns).Get(ctx, r.Ref.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s exists after a dry run (%v)", r.Ref, err)
		}
	}

	cm := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "%s"}}`
	if _, err := c.Apply(ctx, objects(t, strings.Replace(cm, "%s", "a", 1)), ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode string
		want Action
	}{{"b", Configured}, {"a", Unchanged}} {
		results, err := c.Apply(ctx, objects(t, strings.Replace(cm, "%s", tt.mode, 1)), ApplyOptions{Namespace: ns, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if results[0].Action != tt.want {
			t.Errorf("dry run with mode %s: %s, want %s", tt.mode, results[0].Action, tt.want)
		}
		if got, _, _ := unstructured.NestedString(results[0].Object.Object, "data", "mode"); got != tt.mode {
			t.Errorf("dry run answer has mode %q, want %q", got, tt.mode)
		}
	}
	live, err := configMaps.Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(live.Object, "data", "mode"); got != "a" {
		t.Errorf("dry run changed the live object: mode %q", got)
	}
}

func TestApplyBadObjects(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	tests := []struct {
		name, doc, ref, inMessage, code, objName string
	}{
		{"invalid spec", `{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"}, "spec": {"template": {"spec": {}}}}`,
			"Deployment " + ns + "/bad", "spec.template.spec.containers: Required value", meshdock.EINVALID, "bad"},
		// Server-side apply is strict: a field the schema does not know is an
		// error, not silently dropped.
		{"unknown field", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typo"}, "dta": {"a": "b"}}`,
			"ConfigMap " + ns + "/typo", `.dta: field not declared in schema`, meshdock.EINVALID, "typo"},
		{"unknown kind", `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}`,
			"Widget w", "no kind Widget.example.com", meshdock.EINVALID, "w"},
		{"no name", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}`,
			"ConfigMap", "no name", meshdock.EINVALID, ""},
	}
	good := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good"}}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, err := c.Apply(t.Context(), objects(t, tt.doc+"\n---\n"+good), ApplyOptions{Namespace: ns})
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.ref) || !strings.Contains(err.Error(), tt.inMessage) {
				t.Errorf("error %q does not name %q and say %q", err, tt.ref, tt.inMessage)
			}
			var oe *ObjectError
			if !errors.As(err, &oe) || oe.Ref.Name != tt.objName {
				t.Errorf("no *ObjectError for %s in %#v", tt.ref, err)
			}
			if got := meshdock.ErrorCode(err); got != tt.code {
				t.Errorf("code %q, want %q", got, tt.code)
			}
			// One bad object does not stop the others.
			if len(results) != 1 || results[0].Ref.Name != "good" {
				t.Errorf("results %+v, want the good ConfigMap applied", results)
			}
		})
	}
	_, err := c.Apply(t.Context(), objects(t, tests[0].doc), ApplyOptions{Namespace: ns})
	if !apierrors.IsInvalid(err) {
		t.Errorf("apierrors.IsInvalid(%v) = false: the server's status must stay reachable", err)
	}
}

func BenchmarkApply(b *testing.B) {
	c := testCluster(b)
	ns := testNamespace(b, c)
	objs := objects(b, app)
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Apply(ctx, objs, ApplyOptions{Namespace: ns}); err != nil {
			b.Fatal(err)
		}
	}
}

// A field another manager owns is not taken without Force: the error
// names the field and the manager, and the object is left as it was.
func TestApplyConflict(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	ctx := context.Background()
	dyn, _ := c.Dynamic()
	cms := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	ours := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {k: ours}\n")
	if _, err := c.Apply(ctx, ours, ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	// Someone changes the field with kubectl, taking it over.
	cm := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {k: theirs}\n")[0]
	if _, err := cms.Apply(ctx, "owned", cm, metav1.ApplyOptions{FieldManager: "kubectl", Force: true}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Apply(ctx, ours, ApplyOptions{Namespace: ns})
	if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(err.Error(), "field .data.k is owned by kubectl") ||
		!strings.Contains(meshdock.ErrorMessage(err), "--force-conflicts") {
		t.Fatalf("conflict: %v (%s)", err, meshdock.ErrorCode(err))
	}
	if got, _ := cms.Get(ctx, "owned", metav1.GetOptions{}); got.Object["data"].(map[string]any)["k"] != "theirs" {
		t.Errorf("the refused apply changed the object: %v", got.Object["data"])
	}
	res, err := c.Apply(ctx, ours, ApplyOptions{Namespace: ns, Force: true})
	if err != nil || res[0].Action != Configured {
		t.Fatalf("forced: %v %v", res, err)
	}

	// An object meshdock did not make is not adopted without asking.
	foreign := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign}\ndata: {k: theirs}\n")[0]
	if _, err := cms.Apply(ctx, "foreign", foreign, metav1.ApplyOptions{FieldManager: "helm"}); err != nil {
		t.Fatal(err)
	}
	same := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign}\ndata: {k: theirs}\n")
	for _, dry := range []bool{true, false} {
		_, err = c.Apply(ctx, same, ApplyOptions{Namespace: ns, DryRun: dry})
		if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(err.Error(), "meshdock did not make it: its fields are owned by helm") {
			t.Errorf("adopting a foreign object (dry run %v): %v", dry, err)
		}
	}
	if res, err := c.Apply(ctx, same, ApplyOptions{Namespace: ns, Force: true}); err != nil || res[0].Action == Created {
		t.Errorf("taking a foreign object over: %v %v", res, err)
	}
}

// A field the server never lets change (a Service that becomes headless
// when its ports go) is applied by replacing the object, in a dry run too;
// a claim is never replaced.
func TestApplyReplacesImmutable(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	ctx := context.Background()
	svc := "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {selector: {app: db}%s}\n"
	if _, err := c.Apply(ctx, objects(t, fmt.Sprintf(svc, ", ports: [{port: 5432}]")), ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	headless := objects(t, fmt.Sprintf(svc, ", clusterIP: None"))
	res, err := c.Apply(ctx, headless, ApplyOptions{Namespace: ns, DryRun: true})
	if err != nil || res[0].Action != Replaced {
		t.Fatalf("dry run: %v %v", res, err)
	}
	res, err = c.Apply(ctx, headless, ApplyOptions{Namespace: ns})
	if err != nil || res[0].Action != Replaced {
		t.Fatalf("apply: %v %v", res, err)
	}
	if ip, _, _ := unstructured.NestedString(res[0].Object.Object, "spec", "clusterIP"); ip != "None" {
		t.Errorf("clusterIP after the replace: %q", ip)
	}
	pvc := "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [%s], resources: {requests: {storage: 1Mi}}}\n"
	if _, err := c.Apply(ctx, objects(t, fmt.Sprintf(pvc, "ReadWriteOnce")), ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, objects(t, fmt.Sprintf(pvc, "ReadWriteMany")), ApplyOptions{Namespace: ns}); meshdock.ErrorCode(err) != meshdock.EINVALID {
		t.Errorf("a claim whose fixed fields change: %v, want invalid", err)
	}
}

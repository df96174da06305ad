package app_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/bench"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
	"github.com/meshdock/meshdock/meshes"
)

var jobResource = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

// benchNamespace creates a namespace enrolled in mesh as a deploy would
// (its labels and annotations) with a Service web on port 80 and 8080.
func benchNamespace(t *testing.T, c kube.Cluster, mesh string) string {
	t.Helper()
	ns := namespace(t, c)
	m, err := meshes.Get(mesh)
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Enroll(ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "web", "namespace": ns},
		"spec": map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{
			map[string]any{"name": "http", "port": int64(80), "targetPort": int64(8000)},
			map[string]any{"name": "admin", "port": int64(8080)}}}}}
	objs := []*unstructured.Unstructured{kube.NamespaceObject(ns, e.NamespaceLabels, e.NamespaceAnnotations), svc}
	if mesh == meshes.Consul {
		// Consul enrols pods, not namespaces: the deploy's inventory says
		// the mesh.
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": kube.InventoryName, "namespace": ns, "labels": map[string]any{kube.LabelInventory: "true"},
				"annotations": map[string]any{kube.AnnotationMesh: mesh}}}})
	}
	if _, err := c.Apply(context.Background(), objs, kube.ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// Bad targets in the cluster are refused before any Job: a namespace or a
// Service that does not exist, a port the Service does not have.
func TestBenchmarkTargetsInTheCluster(t *testing.T) {
	c := kubetest.Cluster(t)
	ns := benchNamespace(t, c, meshes.None)
	svc := app.New(app.Config{})
	pol := app.BenchPolicy{Cluster: func() (kube.Cluster, error) { return c, nil }}
	ctx := context.Background()
	spec := func(service string) meshdock.BenchmarkSpec {
		return meshdock.BenchmarkSpec{Service: service, InCluster: true, Duration: meshdock.Duration(time.Second), Connections: 2}
	}
	for _, tc := range []struct {
		spec meshdock.BenchmarkSpec
		code string
		want string
	}{
		{spec("web.no-such-namespace"), meshdock.ENOTFOUND, `namespace "no-such-namespace" does not exist`},
		{spec("api." + ns), meshdock.ENOTFOUND, `has no Service "api" (it has web)`},
		{spec("web." + ns + ":9999"), meshdock.ENOTFOUND, `no port "9999" (it has 80, 8080)`},
		{spec("web"), meshdock.EINVALID, "name the namespace"},
		{spec("Web_1." + ns), meshdock.EINVALID, "service[.namespace][:port][/path]"},
		{meshdock.BenchmarkSpec{Service: "web." + ns, Duration: meshdock.Duration(time.Second)}, meshdock.EINVALID, "not exposed on this machine"},
	} {
		err := svc.CheckBenchmark(ctx, tc.spec, pol)
		if meshdock.ErrorCode(err) != tc.code || !strings.Contains(meshdock.ErrorMessage(err), tc.want) {
			t.Errorf("%s: %v, want %s with %q", tc.spec.Service, err, tc.code, tc.want)
		}
	}
	dyn, _ := c.Dynamic()
	if jobs, _ := dyn.Resource(jobResource).Namespace(ns).List(ctx, metav1.ListOptions{}); len(jobs.Items) != 0 {
		t.Errorf("a refused test left %d Jobs", len(jobs.Items))
	}
}

// The load generators' Job of every mesh option is taken by the real API
// server, enrolled for its mesh, and runs meshdock loadgen with the test's
// share of the load.
func TestLoadgenJobPerMesh(t *testing.T) {
	c := kubetest.Cluster(t)
	ctx := context.Background()
	o := bench.Options{URL: "http://web.x.svc.cluster.local:80/", QPS: 300, Connections: 6, Duration: 30 * time.Second}
	for _, mesh := range meshes.Names() {
		ns := benchNamespace(t, c, mesh)
		objs, name, err := app.LoadgenObjects(ns, mesh, "meshdock/meshdock:test", "b1", 3, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Apply(ctx, objs, kube.ApplyOptions{Namespace: ns, DryRun: true}); err != nil {
			t.Fatalf("%s: the API server refuses the Job: %v", mesh, err)
		}
		var job *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "Job" {
				job = o
			}
		}
		ann, _, _ := unstructured.NestedStringMap(job.Object, "spec", "template", "metadata", "annotations")
		cts, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
		ct := cts[0].(map[string]any)
		argv := strings.Join(toStrings(ct["args"]), " ")
		if !strings.Contains(argv, "loadgen --url http://web.x.svc.cluster.local:80/ --qps 100 --connections 2 --duration 30s") || !strings.HasSuffix(argv, " --progress") || !strings.HasPrefix(name, "meshdock-loadgen-") {
			t.Errorf("%s: args %q", mesh, argv)
		}
		par, _, _ := unstructured.NestedInt64(job.Object, "spec", "parallelism")
		if par != 3 {
			t.Errorf("%s: parallelism %d", mesh, par)
		}
		want := map[string]string{meshes.Istio: "sidecar.istio.io/nativeSidecar", meshes.Linkerd: "config.beta.linkerd.io/proxy-enable-native-sidecar",
			meshes.Consul: "consul.hashicorp.com/connect-inject"}[mesh]
		if want != "" && ann[want] != "true" {
			t.Errorf("%s: pod annotations %v lack %s", mesh, ann, want)
		}
		if quits := strings.Contains(argv, "--quit-url http://127.0.0.1:20600/graceful_shutdown"); quits != (mesh == meshes.Consul) {
			t.Errorf("%s: quit url in %q", mesh, argv)
		}
		got, err := c.NamespaceMesh(ctx, ns)
		if err != nil || got != mesh {
			t.Errorf("namespace of %s reads as %s (%v)", mesh, got, err)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		out = append(out, s.(string))
	}
	return out
}

// A test in-process against a loopback server: the app layer's plan
// pins the address checked.
func TestRunBenchmarkInProcess(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer s.Close()
	svc := app.New(app.Config{})
	var progress int
	res, err := svc.RunBenchmark(context.Background(), meshdock.BenchmarkSpec{URL: s.URL, Duration: meshdock.Duration(1500 * time.Millisecond)}, app.BenchPolicy{},
		func(typ string, _ any) error {
			if typ == app.EventProgress {
				progress++
			}
			return nil
		})
	if err != nil || res.Benchmark.State != meshdock.BenchDone || res.Benchmark.Summary.Requests == 0 || progress == 0 || res.Fortio.NumThreads != 4 {
		t.Fatalf("%v %+v (progress %d)", err, res, progress)
	}
}

// An in-cluster test end to end through the real API server: the Job of
// two load generators created in the app's namespace, its pods run (by
// kwok), their results read from the pods' logs through the API server's
// log endpoint (kwok serves a real loadgen's recorded output), merged,
// and the Job deleted. A pod whose log holds no result fails the test
// with its last line.
func TestRunBenchmarkInCluster(t *testing.T) {
	c := kubetest.Cluster(t)
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	// What `meshdock loadgen` prints for one pod: fortio's JSON.
	one, err := bench.Run(context.Background(), bench.Options{URL: target.URL, Connections: 2, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.MarshalIndent(one, "", "  ")
	ns := benchNamespace(t, c, meshes.Istio)
	kubetest.ServeLogs(t, c, ns, bench.LoadgenContainer, append([]byte("W> a warning on stderr\n"), data...))
	svc := app.New(app.Config{})
	pol := app.BenchPolicy{Cluster: func() (kube.Cluster, error) { return c, nil }, Image: "meshdock/meshdock:test"}
	var rec recorder
	res, err := svc.RunBenchmark(context.Background(), meshdock.BenchmarkSpec{Service: "web." + ns + "/hello", InCluster: true, Pods: 2, Connections: 4,
		Duration: meshdock.Duration(time.Second)}, pol, rec.emit)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(rec.events, "\n"))
	}
	b, f := res.Benchmark, res.Fortio
	if b.Target != "http://web."+ns+".svc.cluster.local:80/hello" || b.Mesh != meshes.Istio || b.State != meshdock.BenchDone {
		t.Errorf("benchmark: %+v", b)
	}
	// Two pods' results merged: twice the requests and connections, the
	// same distribution.
	if f.DurationHistogram.Count != 2*one.DurationHistogram.Count || f.NumThreads != 4 || f.ActualQPS != 2*one.ActualQPS ||
		f.DurationHistogram.Min != one.DurationHistogram.Min || f.DurationHistogram.Max != one.DurationHistogram.Max ||
		math.Abs(b.Summary.P50Ms-bench.Summary(one).P50Ms) > 1e-3*bench.Summary(one).P50Ms {
		t.Errorf("merged: %+v\nfrom one: %+v", f.DurationHistogram, one.DurationHistogram)
	}
	if rec.count(app.EventLoadgen) < 2 {
		t.Errorf("loadgen events: %v", rec.events)
	}
	dyn, _ := c.Dynamic()
	if jobs, _ := dyn.Resource(jobResource).Namespace(ns).List(context.Background(), metav1.ListOptions{}); len(jobs.Items) != 0 {
		t.Errorf("the Job is left: %d", len(jobs.Items))
	}

	// A load generator that printed no result.
	ns2 := benchNamespace(t, c, meshes.None)
	kubetest.ServeLogs(t, c, ns2, bench.LoadgenContainer, []byte("exec /meshdock: exec format error\n"))
	_, err = svc.RunBenchmark(context.Background(), meshdock.BenchmarkSpec{Service: "web." + ns2, InCluster: true, Duration: meshdock.Duration(time.Second)}, pol, rec.emit)
	if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(meshdock.ErrorMessage(err), "exec format error") {
		t.Errorf("no result: %v", err)
	}
}

// In a namespace that allows only the app's paths (authz enforce), the
// load generator gets rules of its own to its target, while it runs.
func TestRunBenchmarkUnderEnforce(t *testing.T) {
	c := kubetest.Cluster(t)
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	one, err := bench.Run(context.Background(), bench.Options{URL: target.URL, Connections: 1, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.MarshalIndent(one, "", "  ")
	ns := benchNamespace(t, c, meshes.None)
	deny := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": meshes.DefaultDeny, "namespace": ns},
		"spec":     map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress", "Egress"}}}}
	if _, err := c.Apply(context.Background(), []*unstructured.Unstructured{deny}, kube.ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	kubetest.ServeLogs(t, c, ns, bench.LoadgenContainer, data)
	dyn, _ := c.Dynamic()
	nps := schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
	var during []string
	rec := func(typ string, d any) error {
		if s, ok := d.(app.LoadgenState); ok && typ == app.EventLoadgen && during == nil {
			list, _ := dyn.Resource(nps).Namespace(ns).List(context.Background(), metav1.ListOptions{})
			for _, np := range list.Items {
				during = append(during, np.GetName())
			}
			during = append(during, "note: "+s.Message)
		}
		return nil
	}
	svc := app.New(app.Config{})
	pol := app.BenchPolicy{Cluster: func() (kube.Cluster, error) { return c, nil }}
	if _, err := svc.RunBenchmark(context.Background(), meshdock.BenchmarkSpec{Service: "web." + ns, InCluster: true, Duration: meshdock.Duration(time.Second)}, pol, rec); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(during, ", ")
	if !strings.Contains(got, "meshdock-loadgen-egress") || !strings.Contains(got, "meshdock-loadgen-ingress") || !strings.Contains(got, "authz enforce") {
		t.Errorf("while it ran: %s", got)
	}
	list, _ := dyn.Resource(nps).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if len(list.Items) != 1 || list.Items[0].GetName() != meshes.DefaultDeny {
		t.Errorf("after it: %d NetworkPolicies", len(list.Items))
	}
}

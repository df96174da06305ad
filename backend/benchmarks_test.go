package backend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/bench"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
	"github.com/meshdock/meshdock/meshes"
)

// loopbackTarget is a real HTTP server on 127.0.0.1 that answers after
// delay, every fifth answer a 503.
func loopbackTarget(t *testing.T, delay time.Duration) string {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(delay)
		if n.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(s.Close)
	return s.URL
}

type benchAnswer struct {
	Benchmark meshdock.Benchmark
	Operation struct{ ID string }
}

// A load test over the API: started as an operation with progress events,
// its result stored and kept across a restart of the server, exported as
// SMP (JSON and YAML, the same numbers in milliseconds) and as fortio's
// JSON, listed, compared with another, and deleted.
func TestBenchmarksAPI(t *testing.T) {
	data := t.TempDir()
	ts := startServer(t, data)
	target := loopbackTarget(t, 2*time.Millisecond)
	r := ts.postJSON(t, "/api/v1/benchmarks", map[string]any{"url": target + "/x", "connections": 2, "duration": "2s", "labels": map[string]string{"run": "one"}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST /benchmarks: %d %s", r.Status, r.Body)
	}
	var started benchAnswer
	r.decode(t, &started)
	if started.Benchmark.State != meshdock.BenchRunning || started.Benchmark.Target != target+"/x" || started.Benchmark.Mesh != "none" {
		t.Fatalf("started: %+v", started.Benchmark)
	}
	// A second test while one runs would measure the first.
	if r := ts.postJSON(t, "/api/v1/benchmarks", map[string]any{"url": target, "duration": "1s"}); r.Status != http.StatusConflict {
		t.Errorf("a second test at once: %d %s", r.Status, r.Body)
	}
	if state, msg := ts.waitOperation(t, started.Operation.ID); state != "succeeded" {
		t.Fatalf("operation %s: %s", state, msg)
	}
	evs, err := ts.DB.Events(context.Background(), started.Operation.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var progress, results int
	for _, e := range evs {
		switch e.Type {
		case "progress":
			progress++
		case "result":
			results++
		}
	}
	if progress < 1 || results != 1 {
		t.Errorf("events: %d progress, %d results", progress, results)
	}

	// The stored result survives the server.
	ts.stop()
	ts = startServer(t, data)
	var b meshdock.Benchmark
	ts.get(t, "/api/v1/benchmarks/"+started.Benchmark.ID).decode(t, &b)
	s := b.Summary
	if b.State != meshdock.BenchDone || s == nil || s.Requests < 100 || s.P50Ms < 1.5 || s.Errors["503"] == 0 || b.OperationID != started.Operation.ID {
		t.Fatalf("stored benchmark: %+v %+v", b, s)
	}
	if math.Abs(float64(s.Errors["503"])/float64(s.Requests)-0.2) > 0.05 {
		t.Errorf("503s: %d of %d, want a fifth", s.Errors["503"], s.Requests)
	}

	// fortio's own JSON, and SMP from it: the same numbers in ms.
	var fortio struct {
		RunType           string
		ActualQPS         float64
		DurationHistogram struct {
			Count         int64
			Min, Max, Avg float64
		}
		RetCodes map[string]int64
	}
	fr := ts.get(t, "/api/v1/benchmarks/"+b.ID+"/fortio")
	fr.decode(t, &fortio)
	if fortio.RunType != "HTTP" || fortio.DurationHistogram.Count != s.Requests || !strings.Contains(fr.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("fortio JSON: %+v", fortio)
	}
	var smp bench.SMPResult
	ts.get(t, "/api/v1/benchmarks/"+b.ID+"/smp").decode(t, &smp)
	if smp.SMPVersion != bench.SMPVersion || smp.ID != b.ID || smp.LatenciesMs.Min != fortio.DurationHistogram.Min*1000 ||
		smp.LatenciesMs.Max != fortio.DurationHistogram.Max*1000 || smp.ActualQPS != fortio.ActualQPS || smp.Labels["run"] != "one" ||
		smp.DetailedResults.Errors["503"] != fortio.RetCodes["503"] || smp.MeshType != "none" || smp.EndpointURL != target+"/x" {
		t.Errorf("SMP: %+v", smp)
	}
	yr := ts.get(t, "/api/v1/benchmarks/"+b.ID+"/smp?format=yaml")
	var fromYAML bench.SMPResult
	if err := yaml.Unmarshal(yr.Body, &fromYAML); err != nil || fromYAML.LatenciesMs != smp.LatenciesMs || !strings.Contains(string(yr.Body), "latencies_ms:") {
		t.Errorf("SMP YAML (%v): %s", err, yr.Body)
	}

	// A saved profile, run again; the two compared.
	if r := ts.do(t, "PUT", "/api/v1/benchmark-profiles/quick", "application/json", strings.NewReader(`{"spec":{"url":"`+target+`/x","connections":2,"duration":"1s"}}`)); r.Status != http.StatusOK {
		t.Fatalf("PUT profile: %d %s", r.Status, r.Body)
	}
	var profiles struct{ Profiles []meshdock.BenchProfile }
	ts.get(t, "/api/v1/benchmark-profiles").decode(t, &profiles)
	if len(profiles.Profiles) != 1 || profiles.Profiles[0].Name != "quick" || time.Duration(profiles.Profiles[0].Spec.Duration) != time.Second {
		t.Fatalf("profiles: %+v", profiles)
	}
	r = ts.postJSON(t, "/api/v1/benchmarks", map[string]any{"profile": "quick"})
	if r.Status != http.StatusAccepted {
		t.Fatalf("run profile: %d %s", r.Status, r.Body)
	}
	var again benchAnswer
	r.decode(t, &again)
	if state, msg := ts.waitOperation(t, again.Operation.ID); state != "succeeded" {
		t.Fatalf("profile run %s: %s", state, msg)
	}
	var list struct{ Benchmarks []meshdock.Benchmark }
	ts.get(t, "/api/v1/benchmarks").decode(t, &list)
	if len(list.Benchmarks) != 2 || list.Benchmarks[0].ID != again.Benchmark.ID {
		t.Fatalf("list (newest first): %+v", list)
	}
	var cmp bench.Comparison
	cr := ts.postJSON(t, "/api/v1/benchmarks/compare", map[string]string{"a": b.ID, "b": again.Benchmark.ID})
	cr.decode(t, &cmp)
	if cr.Status != http.StatusOK || len(cmp.Rows) < 7 || cmp.Rows[0].Metric != "p50" || cmp.A.ID != b.ID || cmp.B.ID != again.Benchmark.ID {
		t.Fatalf("compare: %d %s", cr.Status, cr.Body)
	}
	if !strings.Contains(strings.Join(cmp.Notes, "\n"), "coordinated omission") || cmp.Cost.ThroughputLostPct == nil {
		t.Errorf("compare notes/cost: %+v %+v", cmp.Notes, cmp.Cost)
	}
	if r := ts.do(t, "DELETE", "/api/v1/benchmarks/"+b.ID, "", nil); r.Status != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", r.Status, r.Body)
	}
	if r := ts.get(t, "/api/v1/benchmarks/"+b.ID+"/smp"); r.Status != http.StatusNotFound {
		t.Errorf("deleted: %d", r.Status)
	}
	if r := ts.do(t, "DELETE", "/api/v1/benchmark-profiles/quick", "", nil); r.Status != http.StatusNoContent {
		t.Errorf("DELETE profile: %d %s", r.Status, r.Body)
	}
}

// Canceling a test's operation stops it within a second and keeps what
// it measured.
func TestBenchmarkCancelKeepsPartialResult(t *testing.T) {
	ts := startServer(t, "")
	target := loopbackTarget(t, time.Millisecond)
	r := ts.postJSON(t, "/api/v1/benchmarks", map[string]any{"url": target, "duration": "60s"})
	var started benchAnswer
	r.decode(t, &started)
	time.Sleep(1500 * time.Millisecond)
	t0 := time.Now()
	if r := ts.do(t, "POST", "/api/v1/operations/"+started.Operation.ID+"/cancel", "", nil); r.Status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	state, _ := ts.waitOperation(t, started.Operation.ID)
	if d := time.Since(t0); state != "canceled" || d > time.Second {
		t.Errorf("canceled: %s after %s", state, d)
	}
	var b meshdock.Benchmark
	ts.get(t, "/api/v1/benchmarks/"+started.Benchmark.ID).decode(t, &b)
	if b.State != meshdock.BenchCanceled || b.Summary == nil || b.Summary.Requests == 0 {
		t.Fatalf("after cancel: %+v", b)
	}
	if r := ts.get(t, "/api/v1/benchmarks/"+b.ID+"/fortio"); r.Status != http.StatusOK {
		t.Errorf("partial fortio result: %d", r.Status)
	}
}

// Bad tests are refused before any load, with a 4xx naming what is wrong.
func TestBenchmarkRequestsRefused(t *testing.T) {
	ts := startServer(t, "")
	target := loopbackTarget(t, 0)
	for _, c := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"url":"ftp://127.0.0.1/"}`, 400, "http:// or https://"},
		{`{"url":"file:///etc/passwd"}`, 400, "http:// or https://"},
		{`{"url":"http://no-such-host.invalid/"}`, 400, "does not resolve"},
		{`{"url":"` + target + `","duration":"0s"}`, 400, "duration"},
		{`{"url":"` + target + `","duration":"-5s"}`, 400, "duration"},
		{`{"url":"` + target + `","duration":"11m"}`, 400, "at most 10m"},
		{`{"url":"` + target + `","connections":100000}`, 400, "connections"},
		{`{"url":"` + target + `","connections":-1}`, 400, "connections"},
		{`{"url":"` + target + `","qps":-3}`, 400, "qps"},
		{`{"url":"` + target + `","percentiles":[100]}`, 400, "percentiles"},
		{`{"url":"` + target + `","headers":["no colon"]}`, 400, "Name: value"},
		{`{"url":"` + target + `","pods":3}`, 400, "in the cluster"},
		{`{"url":"` + target + `","duration":"soon"}`, 400, "duration"},
		{`{"url":"` + target + `","bogus":1}`, 400, "unknown field"},
		{`{}`, 400, "name the target"},
		{`{"url":"` + target + `","service":"web"}`, 400, "not both"},
		// The API reaches only this machine, and the cluster's Services.
		{`{"url":"http://192.0.2.7/"}`, 403, "loopback"},
		{`{"url":"http://[2001:db8::1]:80/"}`, 403, "loopback"},
		{`{"url":"` + target + `","inCluster":true,"namespace":"x"}`, 403, "Services only"},
		// Services need the cluster, which this listener may not use.
		{`{"service":"web.shop"}`, 403, "--allow-clusters"},
		{`{"profile":"nope"}`, 404, "no test profile"},
		// fortio would stretch the run past its duration for 2 requests a
		// connection.
		{`{"url":"` + target + `","qps":1e-9}`, 400, "fewer than 2 requests per connection"},
		{`{"url":"` + target + `","qps":0.5,"connections":1024}`, 400, "fewer than 2 requests per connection"},
		{`{"url":"` + target + `","method":"DELETE /admin HTTP/1.1\r\nHost: x\r\n\r\nGET"}`, 400, "method"},
		{`{"url":"` + target + `","headers":["Bad Name: x"]}`, 400, "Name: value"},
		{`{"url":"` + target + `","headers":["X-A: a\r\nX-B: b"]}`, 400, "Name: value"},
		{`{"url":"http://127.0.0.1:99999/"}`, 400, "port must be from 1 to 65535"},
		{`{"url":"` + target + `","percentiles":[` + strings.Repeat("50.5,", 20) + `51]}`, 400, "at most 20"},
		{`{"url":"` + target + `","percentiles":[50,50]}`, 400, "given twice"},
		{`{"url":"` + target + `","body":"` + strings.Repeat("x", 65<<10) + `"}`, 413, "at most 64 KiB"},
		{`{"service":"web.shop","headers":["Host: kubernetes.default"]}`, 400, "route this header elsewhere"},
		{`{"service":"web.shop","headers":["l5d-dst-override: x.kube-system.svc"]}`, 400, "route this header elsewhere"},
	} {
		body := c.body
		if !strings.Contains(body, "duration") && body != "{}" && !strings.Contains(body, "profile") {
			body = `{"duration":"1s",` + body[1:] // what the case is about is not the duration
		}
		r := ts.do(t, "POST", "/api/v1/benchmarks", "application/json", strings.NewReader(body))
		code, msg := r.errorOf(t)
		if r.Status != c.status || !strings.Contains(msg, c.want) || code == "" {
			t.Errorf("%.200s: %d %s %q, want %d with %q", c.body, r.Status, code, msg, c.status, c.want)
		}
	}
	var list struct{ Benchmarks []json.RawMessage }
	ts.get(t, "/api/v1/benchmarks").decode(t, &list)
	if len(list.Benchmarks) != 0 {
		t.Errorf("refused tests were stored: %d", len(list.Benchmarks))
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/api/v1/benchmarks/nope", "", 404, "no benchmark"},
		{"GET", "/api/v1/benchmarks/nope/smp?format=xml", "", 400, "json or yaml"},
		{"GET", "/api/v1/benchmarks?limit=0", "", 400, "limit"},
		{"POST", "/api/v1/benchmarks/compare", `{"a":"x"}`, 400, "name the two"},
		{"POST", "/api/v1/benchmarks/compare", `{"a":"x","b":"y"}`, 404, "no benchmark"},
		{"POST", "/api/v1/benchmarks/compare", `{"spec":{"service":"web","duration":"1s"},"namespaces":["a","b"]}`, 403, "--allow-clusters"},
		{"PUT", "/api/v1/benchmark-profiles/a%2Fb", `{"spec":{"url":"http://127.0.0.1/","duration":"1s"}}`, 400, "profile name"},
		{"PUT", "/api/v1/benchmark-profiles/p", `{"spec":{"url":"http://127.0.0.1/","duration":"20m"}}`, 400, "duration"},
		{"PUT", "/api/v1/benchmark-profiles/p", `{}`, 400, "spec"},
	} {
		r := ts.do(t, c.method, c.path, "application/json", strings.NewReader(c.body))
		if r.Status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.Status, r.Body, c.status)
			continue
		}
		if _, msg := r.errorOf(t); !strings.Contains(msg, c.want) {
			t.Errorf("%s %s: %q, want %q", c.method, c.path, msg, c.want)
		}
	}
}

// The UI's one click: the same in-cluster test against the app without a
// mesh and with one, over the API, ending with the comparison; each test's
// load generators run in their namespace (enrolled in its mesh) and their
// results come from the pods' logs through the API server.
func TestBenchmarkComparisonInCluster(t *testing.T) {
	c := kubetest.Cluster(t)
	ts := startServer(t, "", withListener(backend.Listener{TCP: true, AllowClusters: true}))
	target := loopbackTarget(t, time.Millisecond)
	ctx := context.Background()
	var namespaces []string
	for _, mesh := range []string{meshes.None, meshes.Linkerd} {
		m, _ := meshes.Get(mesh)
		e, _ := m.Enroll("", nil)
		ns := fmt.Sprintf("bench-api-%s-%d", mesh, time.Now().UnixNano()%100000)
		svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": "web", "namespace": ns},
			"spec":     map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"name": "http", "port": int64(80)}}}}}
		if _, err := c.Apply(ctx, []*unstructured.Unstructured{kube.NamespaceObject(ns, e.NamespaceLabels, e.NamespaceAnnotations), svc}, kube.ApplyOptions{Namespace: ns}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			dyn, _ := c.Dynamic()
			_ = dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(context.Background(), ns, metav1.DeleteOptions{})
		})
		// A real load generator's output, recorded for this namespace's pods;
		// the mesh's is slower.
		res, err := bench.Run(ctx, bench.Options{URL: target + "?mesh=" + mesh, Connections: 2, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.MarshalIndent(res, "", "  ")
		kubetest.ServeLogs(t, c, ns, bench.LoadgenContainer, data)
		namespaces = append(namespaces, ns)
	}
	r := ts.postJSON(t, "/api/v1/benchmarks/compare", map[string]any{"spec": map[string]any{"service": "web", "inCluster": true, "duration": "1s", "connections": 2},
		"namespaces": namespaces})
	if r.Status != http.StatusAccepted {
		t.Fatalf("compare run: %d %s", r.Status, r.Body)
	}
	var started struct {
		Benchmarks []meshdock.Benchmark
		Operation  struct{ ID string }
	}
	r.decode(t, &started)
	if len(started.Benchmarks) != 2 || started.Benchmarks[0].Mesh != meshes.None || started.Benchmarks[1].Mesh != meshes.Linkerd {
		t.Fatalf("started: %+v", started.Benchmarks)
	}
	if state, msg := ts.waitOperation(t, started.Operation.ID); state != "succeeded" {
		t.Fatalf("operation %s: %s", state, msg)
	}
	evs, _ := ts.DB.Events(ctx, started.Operation.ID, 0, 1000)
	var cmp *bench.Comparison
	for _, e := range evs {
		if e.Type == "comparison" {
			cmp = &bench.Comparison{}
			if err := json.Unmarshal(e.Data, cmp); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cmp == nil || cmp.A.Mesh != meshes.None || cmp.B.Mesh != meshes.Linkerd || !cmp.A.InCluster || cmp.Rows[0].A <= 0 || cmp.Rows[0].B <= 0 {
		t.Fatalf("comparison: %+v", cmp)
	}
	// The same comparison of the stored results, by id.
	var again bench.Comparison
	ts.postJSON(t, "/api/v1/benchmarks/compare", map[string]string{"a": started.Benchmarks[0].ID, "b": started.Benchmarks[1].ID}).decode(t, &again)
	if again.Rows[0].A != cmp.Rows[0].A || again.Rows[0].B != cmp.Rows[0].B {
		t.Errorf("by id: %+v, in the operation: %+v", again.Rows[0], cmp.Rows[0])
	}
	// Unknown namespaces and Services are 404 before any Job.
	for _, body := range []map[string]any{
		{"service": "web.no-such-ns", "inCluster": true, "duration": "1s"},
		{"service": "nope." + namespaces[0], "inCluster": true, "duration": "1s"},
	} {
		if r := ts.postJSON(t, "/api/v1/benchmarks", body); r.Status != http.StatusNotFound {
			t.Errorf("%v: %d %s", body, r.Status, r.Body)
		}
	}
}

package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock/bench"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
)

// The running load generators' progress lines, followed through the API
// server's log endpoint, are summed into one progress event a second.
func TestLiveProgressFollowsThePods(t *testing.T) {
	c := kubetest.Cluster(t)
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "app-test-" + hex.EncodeToString(b)
	objs := []*unstructured.Unstructured{kube.NamespaceObject(ns, nil, nil)}
	for _, name := range []string{"lg-a", "lg-b"} {
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": bench.LoadgenContainer, "image": "meshdock/meshdock:test"}}}}})
	}
	if _, err := c.Apply(ctx, objs, kube.ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	dyn, _ := c.Dynamic()
	t.Cleanup(func() {
		_ = dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	p := bench.Progress{Elapsed: 2 * time.Second, Requests: 200, QPS: 100, P50ms: 1, P99ms: 5, Errors: 1}
	kubetest.ServeLogs(t, c, ns, bench.LoadgenContainer, []byte("W> starting\n"+bench.FormatProgress(p)+"\n"))
	// The pods run (on kwok's nodes) within a second.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		pods, _ := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(ns).List(ctx, metav1.ListOptions{})
		running := 0
		for _, pod := range pods.Items {
			if phase, _, _ := unstructured.NestedString(pod.Object, "status", "phase"); phase == "Running" {
				running++
			}
		}
		if running == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods running", running)
		}
	}
	var mu sync.Mutex
	var got []bench.Progress
	live := newLiveProgress(c, ns, func(typ string, data any) error {
		mu.Lock()
		defer mu.Unlock()
		if typ == EventProgress {
			got = append(got, data.(bench.Progress))
		}
		return nil
	})
	live.follow(ctx, []string{"lg-a", "lg-b"})
	live.follow(ctx, []string{"lg-a", "lg-b"}) // each pod is followed once
	time.Sleep(2200 * time.Millisecond)
	t0 := time.Now()
	live.stop()
	if d := time.Since(t0); d > time.Second {
		t.Errorf("stop took %s", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[len(got)-1] != bench.SumProgress([]bench.Progress{p, p}) {
		t.Fatalf("progress events: %+v", got)
	}
}

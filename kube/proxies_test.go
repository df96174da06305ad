package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What the mesh reserves for the app: the proxies' requests and limits
// from the running pods' specs (native sidecars included), the load
// generator's own pods left out; no metrics API here, so no usage.
func TestProxyUse(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	pod := func(name, labels, init, containers string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: " + ns + ", labels: {" + labels + "}}\nspec:\n" + init + "  containers:\n" + containers
	}
	app := "  - {name: app, image: app:1, resources: {requests: {cpu: 500m, memory: 1Gi}}}\n"
	istio := "  - {name: istio-proxy, image: proxyv2:1, resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: '2', memory: 1Gi}}}\n"
	native := "  initContainers:\n  - {name: linkerd-proxy, image: proxy:1, restartPolicy: Always, resources: {requests: {cpu: 50m, memory: 20Mi}}}\n"
	objs := objects(t, pod("web-1", "app: web", "", app+istio)+"---\n"+pod("web-2", "app: web", native, app)+"---\n"+
		pod("plain", "app: plain", "", app)+"---\n"+pod("lg", "app.kubernetes.io/name: meshdock-loadgen", "", app+istio))
	if _, err := c.Apply(context.Background(), objs, ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	var use ProxyUse
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if use, err = c.ProxyUse(context.Background(), ns, map[string]string{"app.kubernetes.io/name": "meshdock-loadgen"}); err != nil {
			t.Fatal(err)
		}
		if use.Pods == 2 || time.Now().After(deadline) {
			break
		}
	}
	want := ProxyUse{Pods: 2, Proxies: 2, Requests: Resources{CPUm: 150, Memory: 148 << 20}, Limits: Resources{CPUm: 2000, Memory: 1 << 30}, Unlimited: 1}
	if use != want {
		t.Errorf("proxies: %+v, want %+v", use, want)
	}
}

// A Job that failed with one of its pods ended (the others deleted by
// the controller) ends the wait at once, with the failed pod.
func TestWaitJobFailed(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	objs := objects(t, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: "+ns+"}\nspec:\n  suspend: true\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: loadgen, image: x}]\n"+
		"---\napiVersion: v1\nkind: Pod\nmetadata: {name: j-a, namespace: "+ns+", labels: {job-name: j}}\nspec:\n  nodeName: nowhere\n  containers: [{name: loadgen, image: x}]\n")
	if _, err := c.Apply(context.Background(), objs, ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	dyn, _ := c.Dynamic()
	ctx := context.Background()
	pod, err := dyn.Resource(podsGVR).Namespace(ns).Get(ctx, "j-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Object["status"] = map[string]any{"phase": "Failed", "containerStatuses": []any{map[string]any{"name": "loadgen", "image": "x", "imageID": "", "ready": false, "restartCount": int64(0),
		"state": map[string]any{"terminated": map[string]any{"exitCode": int64(1), "reason": "Error"}}}}}
	if _, err := dyn.Resource(podsGVR).Namespace(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	job, err := dyn.Resource(jobsGVR).Namespace(ns).Get(ctx, "j", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	job.Object["status"] = map[string]any{"conditions": []any{
		map[string]any{"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": now, "lastProbeTime": now},
		map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": now, "lastProbeTime": now}},
		"startTime": now, "failed": int64(1)}
	if _, err := dyn.Resource(jobsGVR).Namespace(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Skipf("the API server takes no Failed status for a Job here: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	ended, err := c.WaitJob(wctx, ns, "j", "loadgen", 2, nil)
	if err != nil || len(ended) != 1 || ended[0].Succeeded || !strings.Contains(ended[0].Message, "exit code 1") || time.Since(t0) > 3*time.Second {
		t.Fatalf("after %s: %+v %v", time.Since(t0), ended, err)
	}
}

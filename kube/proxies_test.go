package kube

import (
	"context"
	"testing"
	"time"
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

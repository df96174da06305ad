package app_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
)

// Which meshes a cluster has: none always; one whose kinds are served and
// whose control plane runs, with its version from the image tag; the
// others not installed.
func TestMeshStatus(t *testing.T) {
	c := kubetest.Cluster(t)
	ctx := context.Background()
	standInCRD(t, c, "kuma.io", "Mesh", "meshes")
	dyn, _ := c.Dynamic()
	nsr := dyn.Resource(nsResource)
	_, _ = nsr.Create(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "kuma-system"}}}, metav1.CreateOptions{})
	t.Cleanup(func() { _ = nsr.Delete(context.Background(), "kuma-system", metav1.DeleteOptions{}) })
	cp := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "kuma-control-plane", "namespace": "kuma-system"},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "kuma-cp"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "kuma-cp"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "cp", "image": "docker.io/kumahq/kuma-cp:2.14.3"}}}}}}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("kuma-system").
		Create(ctx, cp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var list []kube.MeshStatus
	for i := 0; i < 100; i++ {
		var err error
		if list, err = app.MeshesOf(ctx, c); err != nil {
			t.Fatal(err)
		}
		if list[5].Healthy {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	by := map[string]kube.MeshStatus{}
	for _, m := range list {
		by[m.Name] = m
	}
	if m := by["none"]; !m.Installed || !m.Healthy {
		t.Errorf("none: %+v", m)
	}
	if m := by["kuma"]; !m.Installed || m.Version != "2.14.3" || !m.Healthy {
		t.Errorf("kuma: %+v", m)
	}
	if m := by["consul"]; m.Installed || m.Message == "" {
		t.Errorf("consul: %+v", m)
	}
	if len(list) != 6 {
		t.Errorf("%d meshes", len(list))
	}
}

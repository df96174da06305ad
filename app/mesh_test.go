package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
	"github.com/meshdock/meshdock/meshes"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// standInCRD defines a mesh's marker kind (no control plane runs here):
// meshdock checks that the cluster serves it before enrolling an app.
func standInCRD(t *testing.T, c kube.Cluster, group, kind, plural string) {
	t.Helper()
	dyn, _ := c.Dynamic()
	name := plural + "." + group
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{"group": group, "scope": "Namespaced",
			"names": map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind), "listKind": kind + "List"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}},
	}}
	if _, err := dyn.Resource(crdResource).Create(context.Background(), crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dyn.Resource(crdResource).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		mapper, _ := c.Mapper()
		mapper.Reset()
		if _, err := mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind}); err == nil {
			return
		}
	}
	t.Fatalf("%s is not served", name)
}

// The example app onto a mesh in the real API server (the meshes' control
// planes cannot run here: their marker kinds stand in for an install, and
// the test checks the marks meshdock makes): Istio's namespace label and
// pod annotation; a second deploy changes nothing; switching to Linkerd
// removes Istio's marks and sets Linkerd's; a mesh that is not installed
// is refused before anything is made.
func TestDeployOntoMeshes(t *testing.T) {
	c := kubetest.Cluster(t)
	ctx := context.Background()
	standInCRD(t, c, "security.istio.io", "PeerAuthentication", "peerauthentications")
	standInCRD(t, c, "policy.linkerd.io", "Server", "servers")
	standInCRD(t, c, "networking.istio.io", "VirtualService", "virtualservices")
	standInCRD(t, c, "networking.istio.io", "DestinationRule", "destinationrules")
	svc := app.New(app.Config{})
	res := convertDir(t, "../examples/shop")
	ns := namespace(t, c)
	target := app.Target{Cluster: c, Kind: kube.KindOther, Namespace: ns}
	dyn, _ := c.Dynamic()
	marks := func() (map[string]string, map[string]string, map[string]string) {
		n, err := dyn.Resource(nsResource).Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := dyn.Resource(depResource).Namespace(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
		return n.GetLabels(), n.GetAnnotations(), pod
	}
	var policy *meshes.Policy
	deploy := func(mesh string) *app.Outcome {
		t.Helper()
		p := planOf(res, "")
		p.Options.Mesh, p.Policy = mesh, policy
		var rec recorder
		out, err := svc.Deploy(ctx, target, p, rec.emit)
		if err != nil {
			t.Fatalf("deploy onto %s: %s", mesh, meshdock.ErrorMessage(err))
		}
		if mesh != "none" && !strings.Contains(strings.Join(rec.events, "\n"), "depends_on waits") {
			t.Errorf("no word of the depends_on waits under %s: %v", mesh, rec.events)
		}
		return out
	}
	deploy("istio")
	labels, _, pod := marks()
	if labels["istio-injection"] != "enabled" || pod["sidecar.istio.io/nativeSidecar"] != "true" {
		t.Errorf("istio marks: namespace %v, pod %v", labels, pod)
	}
	for _, o := range deploy("istio").Objects {
		if o.Action != "unchanged" {
			t.Errorf("second deploy onto istio: %s %s", o.ObjectRef, o.Action)
		}
	}
	// The app's policy, written for Istio.
	var err error
	if policy, err = meshes.ParsePolicy("policy.yaml", []byte("mtls: strict\nservices:\n  api: {timeout: 5s, retries: {attempts: 2}}\n")); err != nil {
		t.Fatal(err)
	}
	deploy("istio")
	vs := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	if l, _ := dyn.Resource(vs).Namespace(ns).List(ctx, metav1.ListOptions{}); len(l.Items) != 1 {
		t.Errorf("virtual services after a deploy with a policy: %v", l)
	}
	policy = nil
	deploy("linkerd")
	if l, _ := dyn.Resource(vs).Namespace(ns).List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("istio's policy objects left after switching to linkerd: %d", len(l.Items))
	}
	labels, ann, pod := marks()
	if labels["istio-injection"] != "" || pod["sidecar.istio.io/nativeSidecar"] != "" {
		t.Errorf("istio marks left after switching to linkerd: namespace %v, pod %v", labels, pod)
	}
	if ann["linkerd.io/inject"] != "enabled" || pod["config.beta.linkerd.io/proxy-enable-native-sidecar"] != "true" {
		t.Errorf("linkerd marks: namespace %v, pod %v", ann, pod)
	}

	other := namespace(t, c)
	p := planOf(res, "")
	p.Options.Mesh = "kuma"
	_, err = svc.Deploy(ctx, app.Target{Cluster: c, Namespace: other}, p, (&recorder{}).emit)
	if meshdock.ErrorCode(err) != meshdock.ENOTFOUND || !strings.Contains(meshdock.ErrorMessage(err), "kuma is not installed") {
		t.Fatalf("a mesh that is not installed: %v", err)
	}
	if _, err := dyn.Resource(nsResource).Get(ctx, other, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s was made for a mesh that is not installed", other)
	}
}

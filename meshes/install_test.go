package meshes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/kube/kubetest"
)

// sharedCharts holds the mesh charts exported for offline tests; it lives
// beside the repository, not in it.
const sharedCharts = "../../shared/charts"

func TestInstallChartsInvalid(t *testing.T) {
	ctx := context.Background()
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	for _, tc := range []struct {
		name  string
		chart Chart
		want  string
	}{
		{"no path", Chart{Release: "linkerd-crds", Namespace: "linkerd"}, "linkerd-crds"},
		{"not a chart", Chart{Release: "mine", Namespace: "ns", Path: t.TempDir()}, "chart mine cannot be loaded"},
		{"no release", Chart{Namespace: "ns", Path: t.TempDir()}, "release and namespace are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := InstallCharts(ctx, cfg, []Chart{tc.chart}, InstallOptions{})
			if meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (%s), want %s naming %q", err, meshdock.ErrorCode(err), meshdock.EINVALID, tc.want)
			}
		})
	}
}

func TestInstallChartsDeadline(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: tiny\nversion: 0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := InstallCharts(ctx, &rest.Config{Host: "https://127.0.0.1:1"}, []Chart{{Release: "tiny", Namespace: "ns", Path: dir}}, InstallOptions{})
	if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(err.Error(), "install of tiny did not finish within") {
		t.Fatalf("got %v (%s)", err, meshdock.ErrorCode(err))
	}
}

func TestKeptResources(t *testing.T) {
	info := "These resources were kept due to the resource policy:\n[Secret] ca\n[ConfigMap] cfg\n"
	got := keptResources(info)
	if len(got) != 2 || got[0] != "Secret ca" || got[1] != "ConfigMap cfg" {
		t.Errorf("keptResources = %q", got)
	}
	if got := keptResources("release \"x\" uninstalled"); got != nil {
		t.Errorf("keptResources of nothing kept = %q", got)
	}
	doc := "# c\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  labels:\n    a: b\n  name: \"meshes.example.io\"\nspec:\n  names:\n    name: no\n"
	if got := metadataName(doc); got != "meshes.example.io" {
		t.Errorf("metadataName = %q", got)
	}
}

func TestInstallChartsLinkerd(t *testing.T) {
	restConfig := kubetest.Config(t).REST()
	kubetest.MeshLock(t)
	kubetest.WaitMeshNamespacesGone(t, kubetest.Cluster(t))
	if _, err := os.Stat(sharedCharts); err != nil {
		t.Skipf("needs the mesh charts folder %s beside the repository: %v", sharedCharts, err)
	}
	values, err := chartutil.ReadValuesFile(filepath.Join(sharedCharts, "linkerd-control-plane", "test-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const ns = "linkerd"
	charts := []Chart{
		{Release: "linkerd-crds", Namespace: ns, Path: filepath.Join(sharedCharts, "linkerd-crds")},
		{Release: "linkerd-control-plane", Namespace: ns, Path: filepath.Join(sharedCharts, "linkerd-control-plane"), Values: values},
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := UninstallCharts(ctx, restConfig, charts, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var events []string
	progress := func(s string) { events = append(events, s); t.Log(s) }

	start := time.Now()
	res, err := InstallCharts(ctx, restConfig, charts, InstallOptions{Progress: progress})
	if err != nil {
		t.Fatalf("install: %v (%s)", err, meshdock.ErrorCode(err))
	}
	if len(res.Workloads) != 3 {
		t.Errorf("workloads of the control plane: %+v, want its 3 Deployments", res.Workloads)
	}
	t.Logf("install of linkerd-crds + linkerd-control-plane took %s", time.Since(start).Round(time.Millisecond))
	if len(events) != 4 || !strings.HasPrefix(events[0], "installing linkerd-crds") {
		t.Errorf("progress: %q", events)
	}
	for _, c := range charts {
		if got := releaseStatus(t, restConfig, c); got != release.StatusDeployed {
			t.Errorf("release %s: status %q, want deployed", c.Release, got)
		}
	}
	if _, err := client.AppsV1().Deployments(ns).Get(ctx, "linkerd-destination", metav1.GetOptions{}); err != nil {
		t.Errorf("Deployment linkerd-destination: %v", err)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s: %v", ns, err)
	}

	// A second run upgrades the existing releases.
	events = nil
	start = time.Now()
	if _, err := InstallCharts(ctx, restConfig, charts, InstallOptions{Progress: progress}); err != nil {
		t.Fatalf("upgrade: %v (%s)", err, meshdock.ErrorCode(err))
	}
	t.Logf("upgrade took %s", time.Since(start).Round(time.Millisecond))
	if len(events) != 4 || !strings.HasPrefix(events[0], "upgrading linkerd-crds") || !strings.Contains(events[1], "revision 2") {
		t.Errorf("progress of the upgrade: %q", events)
	}

	events = nil
	left, err := UninstallCharts(ctx, restConfig, charts, progress)
	if err != nil {
		t.Fatalf("uninstall: %v (%s)", err, meshdock.ErrorCode(err))
	}
	// Linkerd's CRDs live in templates/, so nothing is left behind.
	if len(left) != 0 {
		t.Errorf("left behind: %q", left)
	}
	if len(events) != 4 || !strings.HasPrefix(events[0], "uninstalling linkerd-control-plane") {
		t.Errorf("progress of the uninstall: %q", events)
	}
	for _, c := range charts {
		if got := releaseStatus(t, restConfig, c); got != "" {
			t.Errorf("release %s after uninstall: status %q, want gone", c.Release, got)
		}
	}
	// Uninstalling again finds nothing to do.
	if _, err := UninstallCharts(ctx, restConfig, charts, nil); err != nil {
		t.Errorf("second uninstall: %v", err)
	}
	secrets, err := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) != 0 {
		t.Errorf("helm release records left: %v", secretNames(secrets.Items))
	}
}

func TestUninstallChartsKeepsCRDsFolder(t *testing.T) {
	restConfig := kubetest.Config(t).REST()
	dir := t.TempDir()
	const crdName = "widgets.install-test.meshdock.io"
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: widgets\nversion: 0.1.0\n",
		"crds/widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + crdName + `
spec:
  group: install-test.meshdock.io
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object}}
`,
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: widgets\ndata: {a: b}\n",
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const ns = "install-test-widgets"
	charts := []Chart{{Release: "widgets", Namespace: ns, Path: dir}}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := UninstallCharts(ctx, restConfig, charts, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
		if err := dyn.Resource(crds).Delete(ctx, crdName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: %v", err)
		}
		if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := InstallCharts(ctx, restConfig, charts, InstallOptions{}); err != nil {
		t.Fatalf("install: %v", err)
	}
	left, err := UninstallCharts(ctx, restConfig, charts, nil)
	if err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	if len(left) != 1 || left[0] != "CustomResourceDefinition "+crdName {
		t.Errorf("left behind: %q, want the CRD of crds/", left)
	}
}

// releaseStatus is the status of c's last release, or "" when there is none.
func releaseStatus(t *testing.T, restConfig *rest.Config, c Chart) release.Status {
	t.Helper()
	cfg, err := helmConfig(restConfig, c.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	exists, err := releaseExists(cfg, c.Release)
	if err != nil {
		t.Fatal(err)
	}
	if !exists {
		return ""
	}
	rel, err := action.NewStatus(cfg).Run(c.Release)
	if err != nil {
		t.Fatal(err)
	}
	return rel.Info.Status
}

func secretNames(items []corev1.Secret) []string {
	var names []string
	for _, s := range items {
		names = append(names, s.Name)
	}
	return names
}

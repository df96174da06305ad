package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock/kube"
)

// The lock of MeshLock, taken once per process however many tests of the
// process hold it.
var meshLock struct {
	sync.Mutex
	held int
	file *os.File
}

// MeshLock holds, until the test ends, the lock of the test cluster's
// meshes: tests in several packages install mesh charts (and their CRDs)
// into the one API server, and go test runs packages side by side.
func MeshLock(tb testing.TB) {
	tb.Helper()
	meshLock.Lock()
	defer meshLock.Unlock()
	if meshLock.held == 0 {
		f, err := os.OpenFile(filepath.Join(os.TempDir(), "meshdock-testenv-meshes.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			tb.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			tb.Fatal(err)
		}
		meshLock.file = f
	}
	meshLock.held++
	tb.Cleanup(func() {
		meshLock.Lock()
		defer meshLock.Unlock()
		if meshLock.held--; meshLock.held == 0 {
			_ = syscall.Flock(int(meshLock.file.Fd()), syscall.LOCK_UN)
			meshLock.file.Close()
		}
	})
}

// ChartDirs are the folders of mesh charts for offline installs: the
// charts shared with the test environment (beside the repository; root is
// the path from the test's package to the repository) and Istio's, from its
// Go module ($MESHDOCK_ISTIO_CHARTS, set by scripts/testenv env). A test
// skips when either is missing.
func ChartDirs(tb testing.TB, root string) []string {
	tb.Helper()
	dirs, missing := FindChartDirs(root)
	if missing != "" {
		tb.Skip(missing)
	}
	return dirs
}

// FindChartDirs is ChartDirs for a test that goes on without the meshes:
// the folders, or what is missing.
func FindChartDirs(root string) ([]string, string) {
	shared := filepath.Join(root, "..", "shared", "charts")
	istio := os.Getenv("MESHDOCK_ISTIO_CHARTS")
	if _, err := os.Stat(shared); err != nil {
		return nil, fmt.Sprintf("needs the mesh charts beside the repository: %v", err)
	}
	if istio == "" {
		return nil, `needs Istio's charts: MESHDOCK_ISTIO_CHARTS is set by eval "$(scripts/testenv env)"`
	}
	return []string{shared, istio}, ""
}

var webhookKinds = []schema.GroupVersionResource{
	{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
}

// IgnoreWebhooks sets failurePolicy Ignore on every webhook of the
// webhook configurations that Helm releases of the given names installed:
// no webhook can be reached from the test API server (TESTENV.md), and a
// Fail policy would refuse the pods or objects they match. It returns the
// configurations it patched.
func IgnoreWebhooks(tb testing.TB, c kube.Cluster, releases ...string) []string {
	tb.Helper()
	ctx := context.Background()
	dyn, err := c.Dynamic()
	if err != nil {
		tb.Fatal(err)
	}
	want := map[string]bool{}
	for _, r := range releases {
		want[r] = true
	}
	var patched []string
	for _, gvr := range webhookKinds {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		for _, cfg := range list.Items {
			if !want[cfg.GetAnnotations()["meta.helm.sh/release-name"]] {
				continue
			}
			hooks, _ := cfg.Object["webhooks"].([]any)
			for _, h := range hooks {
				if m, ok := h.(map[string]any); ok {
					m["failurePolicy"] = "Ignore"
				}
			}
			cfg.Object["webhooks"] = hooks
			if _, err := dyn.Resource(gvr).Update(ctx, &cfg, metav1.UpdateOptions{}); err != nil {
				tb.Fatalf("patch %s %s: %v", gvr.Resource, cfg.GetName(), err)
			}
			patched = append(patched, cfg.GetName())
		}
	}
	return patched
}

// meshNamespaces are the namespaces mesh installs make.
var meshNamespaces = []string{"istio-system", "linkerd", "consul", "kuma-system"}

// WaitMeshNamespacesGone waits, for at most a minute, until the namespaces
// of an earlier test's meshes, deleted when it ended, are gone: an install
// into a namespace that is terminating fails.
func WaitMeshNamespacesGone(tb testing.TB, c kube.Cluster) {
	tb.Helper()
	dyn, err := c.Dynamic()
	if err != nil {
		tb.Fatal(err)
	}
	nsr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	for _, ns := range meshNamespaces {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			n, err := dyn.Resource(nsr).Get(context.Background(), ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || err == nil && n.GetDeletionTimestamp() == nil {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("namespace %s is still terminating after a minute", ns)
			}
		}
	}
}

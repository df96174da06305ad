package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
	"github.com/meshdock/meshdock/meshes"
)

// Installs that cannot succeed say why and leave the cluster as it was: a
// chart that cannot be fetched changes nothing; an install whose control
// plane does not roll out in time is taken away again, releases, CRDs and
// the namespace it made; and a deploy with a policy naming a service the
// app does not have is refused, naming the field, before anything is made.
func TestMeshInstallFailures(t *testing.T) {
	c := kubetest.Cluster(t)
	kubetest.MeshLock(t)
	kubetest.WaitMeshNamespacesGone(t, c)
	dirs := kubetest.ChartDirs(t, "..")
	ctx := context.Background()
	dyn, _ := c.Dynamic()

	t.Run("chart cannot be fetched", func(t *testing.T) {
		svc := app.New(app.Config{MeshCharts: meshes.Source{Repo: "http://127.0.0.1:1", Cache: t.TempDir()}})
		_, err := svc.InstallMesh(ctx, c, "linkerd", app.MeshRequest{}, (&recorder{}).emit)
		if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(meshdock.ErrorMessage(err), "cannot be fetched from http://127.0.0.1:1") {
			t.Fatalf("install from a repository that cannot be reached: %v", err)
		}
		if _, err := dyn.Resource(nsResource).Get(ctx, "linkerd", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace linkerd exists after an install that fetched nothing: %v", err)
		}
	})

	t.Run("control plane does not roll out in time", func(t *testing.T) {
		svc := app.New(app.Config{MeshCharts: meshes.Source{Dirs: dirs}})
		// No node has this label: the control plane's pods stay Pending.
		values := map[string]map[string]any{"linkerd-control-plane": {"nodeSelector": map[string]any{"meshdock.io/no-such-node": "true"}}}
		rec := &recorder{}
		start := time.Now()
		_, err := svc.InstallMesh(ctx, c, "linkerd", app.MeshRequest{Values: values, Timeout: meshdock.Duration(5 * time.Second)}, rec.emit)
		msg := meshdock.ErrorMessage(err)
		if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(msg, "did not finish within 5s") || !strings.Contains(msg, "linkerd-destination") {
			t.Fatalf("install that times out: %v, want unavailable, the time allowed and what it waited for", err)
		}
		t.Logf("failed after %s: %s", time.Since(start).Round(time.Millisecond), msg)
		if st, err := c.Mesh(ctx, "linkerd"); err != nil || st.Installed {
			t.Errorf("linkerd after a failed install: %+v, %v", st, err)
		}
		crds, err := dyn.Resource(crdResource).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, crd := range crds.Items {
			if strings.HasSuffix(crd.GetName(), ".linkerd.io") && crd.GetDeletionTimestamp() == nil {
				t.Errorf("CRD %s is left after a failed install", crd.GetName())
			}
		}
		n, err := dyn.Resource(nsResource).Get(ctx, "linkerd", metav1.GetOptions{})
		if err == nil && n.GetDeletionTimestamp() == nil {
			t.Errorf("namespace linkerd is left after a failed install")
		}
		waitNamespaceGone(t, c, "linkerd")
	})

	t.Run("policy names a service the app lacks", func(t *testing.T) {
		svc := app.New(app.Config{})
		res := convertDir(t, "../examples/shop")
		ns := namespace(t, c)
		p := planOf(res, "")
		var err error
		if p.Policy, err = meshes.ParsePolicy("policy.yaml", []byte("services:\n  payments: {timeout: 5s}\n")); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Deploy(ctx, app.Target{Cluster: c, Kind: kube.KindOther, Namespace: ns}, p, (&recorder{}).emit)
		if meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(meshdock.ErrorMessage(err), "services.payments") {
			t.Fatalf("a policy for a service the app does not have: %v", err)
		}
		if _, err := dyn.Resource(nsResource).Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace %s was made for a deploy refused for its policy", ns)
		}
	})
}

// waitNamespaceGone waits until a namespace (deleted by an earlier test
// or install) is gone: an install into a terminating one fails.
func waitNamespaceGone(t *testing.T, c kube.Cluster, ns string) {
	t.Helper()
	dyn, _ := c.Dynamic()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err := dyn.Resource(nsResource).Get(context.Background(), ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
	}
	t.Fatalf("namespace %s is still there after a minute", ns)
}

package meshes

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/kube/kubetest"
)

func TestWorkloadsOf(t *testing.T) {
	// As Helm writes a release's manifest: each document after "---" and
	// a "# Source:" line.
	manifest := `---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
---
# Source: app/templates/daemonset.yaml
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: node-agents
---
# Source: app/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
---
# Source: app/templates/job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
---
# Source: app/templates/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: text
data:
  example: |
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: not-a-workload
`
	got := workloadsOf(manifest, "release-ns")
	want := []Workload{
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "release-ns", Name: "web"},
		{APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "node-agents", Name: "agent"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("workloadsOf = %+v, want %+v", got, want)
	}
	if got := workloadsOf("", "ns"); len(got) != 0 {
		t.Errorf("workloads of an empty manifest: %+v", got)
	}
}

// undoChart writes a chart with a CRD in crds/ (of group), a ConfigMap
// holding .Values.greeting and a Deployment, so an install has one
// workload to wait for.
func undoChart(t *testing.T, group string) string {
	t.Helper()
	return writeChartFiles(t, t.TempDir(), map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: undo\nversion: 0.1.0\n",
		"values.yaml": "greeting: hello\n",
		"crds/gadgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.` + group + `
spec:
  group: ` + group + `
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object}}
`,
		"templates/config.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: undo
data:
  greeting: {{ .Values.greeting | quote }}
`,
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: undo
spec:
  replicas: 1
  selector:
    matchLabels: {app: undo}
  template:
    metadata:
      labels: {app: undo}
    spec:
      containers:
      - name: app
        image: example.invalid/none:1
`,
	})
}

// undoCase is one test's chart in the test cluster, with names no other
// test uses, removed when the test ends.
type undoCase struct {
	restConfig *rest.Config
	client     kubernetes.Interface
	dyn        dynamic.Interface
	ns, crd    string
	chart      Chart
}

func newUndoCase(t *testing.T, name string) *undoCase {
	t.Helper()
	restConfig := kubetest.Config(t).REST()
	suffix := fmt.Sprintf("%06x", rand.N(1<<24))
	group := name + "-" + suffix + ".undo-test.meshdock.io"
	u := &undoCase{
		restConfig: restConfig,
		ns:         "undo-test-" + name + "-" + suffix,
		crd:        "gadgets." + group,
	}
	u.chart = Chart{Release: "undo", Namespace: u.ns, Path: undoChart(t, group)}
	var err error
	if u.client, err = kubernetes.NewForConfig(restConfig); err != nil {
		t.Fatal(err)
	}
	if u.dyn, err = dynamic.NewForConfig(restConfig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := UninstallCharts(ctx, restConfig, []Chart{u.chart}, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := u.dyn.Resource(crdsGVR).Delete(ctx, u.crd, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: %v", err)
		}
		if err := u.client.CoreV1().Namespaces().Delete(ctx, u.ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return u
}

// failingWait is a Wait that records the workloads it is given and fails.
func failingWait(got *[]Workload) (func(context.Context, []Workload) error, error) {
	err := meshdock.Errorf(meshdock.EUNAVAILABLE, "the rollout failed (on purpose)")
	return func(_ context.Context, w []Workload) error {
		*got = w
		return err
	}, err
}

func (u *undoCase) wantWorkloads(t *testing.T, got []Workload) {
	t.Helper()
	want := []Workload{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: u.ns, Name: "undo"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Wait was given %+v, want %+v", got, want)
	}
}

func TestInstallChartsUndoesFailedInstall(t *testing.T) {
	u := newUndoCase(t, "fresh")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var workloads []Workload
	wait, waitErr := failingWait(&workloads)
	start := time.Now()
	_, err := InstallCharts(ctx, u.restConfig, []Chart{u.chart}, InstallOptions{Wait: wait, Progress: func(s string) { t.Log(s) }})
	t.Logf("failed install and its undo: %s", time.Since(start).Round(time.Millisecond))
	if !errors.Is(err, waitErr) {
		t.Fatalf("InstallCharts: %v, want Wait's error", err)
	}
	u.wantWorkloads(t, workloads)

	if got := releaseStatus(t, u.restConfig, u.chart); got != "" {
		t.Errorf("release after the undo: status %q, want none", got)
	}
	// A CRD goes once its instances are gone (it has none): allow that a
	// moment.
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err := u.dyn.Resource(crdsGVR).Get(ctx, u.crd, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Errorf("CRD %s of the chart's crds/ is still there", u.crd)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ns, err := u.client.CoreV1().Namespaces().Get(ctx, u.ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Fatal(err)
	case ns.DeletionTimestamp == nil:
		t.Errorf("namespace %s made by the install is still there (phase %s)", u.ns, ns.Status.Phase)
	}
}

func TestInstallChartsRollsBackFailedUpgrade(t *testing.T) {
	u := newUndoCase(t, "upgrade")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first := u.chart
	first.Values = map[string]any{"greeting": "first"}
	if _, err := InstallCharts(ctx, u.restConfig, []Chart{first}, InstallOptions{}); err != nil {
		t.Fatalf("install: %v", err)
	}

	second := u.chart
	second.Values = map[string]any{"greeting": "second"}
	var workloads []Workload
	wait, waitErr := failingWait(&workloads)
	start := time.Now()
	_, err := InstallCharts(ctx, u.restConfig, []Chart{second}, InstallOptions{Wait: wait, Progress: func(s string) { t.Log(s) }})
	t.Logf("failed upgrade and its rollback: %s", time.Since(start).Round(time.Millisecond))
	if !errors.Is(err, waitErr) {
		t.Fatalf("InstallCharts: %v, want Wait's error", err)
	}
	u.wantWorkloads(t, workloads)

	cfg, err := helmConfig(u.restConfig, u.ns)
	if err != nil {
		t.Fatal(err)
	}
	last, err := lastRelease(cfg, u.chart.Release)
	if err != nil || last == nil {
		t.Fatalf("release after the rollback: %v, %v", last, err)
	}
	if last.Version != 3 || last.Info.Status != "deployed" {
		t.Errorf("release after the rollback: revision %d %s, want 3 (revision 1 again) deployed", last.Version, last.Info.Status)
	}
	if got := last.Config["greeting"]; got != "first" {
		t.Errorf("release values after the rollback: greeting %v, want first", got)
	}
	cm, err := u.client.CoreV1().ConfigMaps(u.ns).Get(ctx, "undo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["greeting"]; got != "first" {
		t.Errorf("ConfigMap greeting %q after the rollback, want the first install's", got)
	}
	// What the first install brought stays: the namespace and the CRD.
	ns, err := u.client.CoreV1().Namespaces().Get(ctx, u.ns, metav1.GetOptions{})
	if err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("namespace %s after the rollback: %v (deleting: %v)", u.ns, err, err == nil && ns.DeletionTimestamp != nil)
	}
	if crd, err := u.dyn.Resource(crdsGVR).Get(ctx, u.crd, metav1.GetOptions{}); err != nil || crd.GetDeletionTimestamp() != nil {
		t.Errorf("CRD %s after the rollback: %v", u.crd, err)
	}
}

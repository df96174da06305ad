package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
)

var (
	nsResource  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	depResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	pvcResource = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	cmResource  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// namespace names a namespace for one test and deletes it afterwards.
func namespace(t *testing.T, c kube.Cluster) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "app-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		dyn, _ := c.Dynamic()
		_ = dyn.Resource(nsResource).Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return ns
}

// recorder keeps a deploy's events.
type recorder struct {
	mu     sync.Mutex
	events []string
	data   []any
}

func (r *recorder) emit(typ string, data any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := json.Marshal(data)
	r.events = append(r.events, typ+" "+string(b))
	r.data = append(r.data, data)
	return nil
}

func (r *recorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if strings.HasPrefix(e, typ+" ") {
			n++
		}
	}
	return n
}

func convertDir(t *testing.T, dir string) *convert.Result {
	t.Helper()
	abs, _ := filepath.Abs(dir)
	res, err := app.Convert(context.Background(), compose.Source{Dir: abs}, convert.Options{})
	if err != nil {
		t.Fatal(meshdock.ErrorMessage(err))
	}
	return res
}

func planOf(res *convert.Result, dir string) app.Plan {
	p := app.Plan{Project: res.Project, Objects: res.Objects, Builds: res.Builds, Graph: res.Graph, Expose: app.ExposeNone,
		Options: meshdock.DeployOptions{Timeout: meshdock.Duration(time.Minute)}}
	if dir != "" {
		p.Files = os.DirFS(dir)
	}
	return p
}

func testEngine(t *testing.T) engine.Engine {
	eng, err := engine.New("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Info(context.Background()); err != nil {
		t.Skipf("needs a Docker Engine: %s", meshdock.ErrorMessage(err))
	}
	return eng
}

func workloadsOf(objs []*unstructured.Unstructured) int {
	n := 0
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
			n++
		}
	}
	return n
}

// The example app against the real control plane: every workload rolls
// out; a second deploy changes nothing and starts no rollout; a service
// removed from the compose file is pruned; delete keeps the claim unless
// asked.
func TestDeployExample(t *testing.T) {
	c := kubetest.Cluster(t)
	ns := namespace(t, c)
	ctx := context.Background()
	svc := app.New(app.Config{})
	res := convertDir(t, "../examples/shop")
	target := app.Target{Cluster: c, Kind: kube.KindOther, Namespace: ns}

	var first recorder
	out, err := svc.Deploy(ctx, target, planOf(res, ""), first.emit)
	if err != nil {
		t.Fatalf("deploy: %s", meshdock.ErrorMessage(err))
	}
	want := workloadsOf(res.Objects)
	if len(out.Workloads) != want {
		t.Fatalf("%d workloads watched, want %d: %v", len(out.Workloads), want, first.events)
	}
	for _, w := range out.Workloads {
		if !w.Done || w.Ready != w.Desired {
			t.Errorf("workload not ready: %+v", w)
		}
	}
	for _, o := range out.Objects {
		if o.Action != "created" {
			t.Errorf("first deploy: %s %s", o.ObjectRef, o.Action)
		}
	}
	dyn, _ := c.Dynamic()
	before, _ := dyn.Resource(depResource).Namespace(ns).List(ctx, metav1.ListOptions{})

	var second recorder
	out, err = svc.Deploy(ctx, target, planOf(res, ""), second.emit)
	if err != nil {
		t.Fatal(meshdock.ErrorMessage(err))
	}
	for _, o := range out.Objects {
		if o.Action != "unchanged" {
			t.Errorf("second deploy: %s %s", o.ObjectRef, o.Action)
		}
	}
	if len(out.Pruned) != 0 {
		t.Errorf("second deploy pruned %v", out.Pruned)
	}
	after, _ := dyn.Resource(depResource).Namespace(ns).List(ctx, metav1.ListOptions{})
	gen := func(l *unstructured.UnstructuredList) map[string]int64 {
		m := map[string]int64{}
		for _, d := range l.Items {
			m[d.GetName()] = d.GetGeneration()
		}
		return m
	}
	if b, a := gen(before), gen(after); len(b) == 0 || !mapsEqual(b, a) {
		t.Errorf("a second deploy started a rollout: generations %v then %v", b, a)
	}

	// Without the worker service.
	dir := t.TempDir()
	copyDir(t, "../examples/shop", dir)
	data, _ := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	text := string(data)
	start, end := strings.Index(text, "\n  worker:\n"), strings.Index(text, "\n  db:\n")
	if start < 0 || end < start {
		t.Fatal("the example's compose file has changed: no worker service before db")
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(text[:start]+text[end:]), 0o644)
	var third recorder
	out, err = svc.Deploy(ctx, target, planOf(convertDir(t, dir), dir), third.emit)
	if err != nil {
		t.Fatal(meshdock.ErrorMessage(err))
	}
	pruned := false
	for _, r := range out.Pruned {
		pruned = pruned || (r.Kind == "Deployment" && r.Name == "worker")
	}
	if !pruned || third.count(app.EventPruned) != len(out.Pruned) {
		t.Errorf("worker not pruned: %v", out.Pruned)
	}
	if _, err := dyn.Resource(depResource).Namespace(ns).Get(ctx, "worker", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("worker Deployment still there: %v", err)
	}

	var del recorder
	if _, err := svc.Delete(ctx, c, ns, "other", false, del.emit); meshdock.ErrorCode(err) != meshdock.ECONFLICT || len(del.events) != 0 {
		t.Fatalf("delete as another app: %v, events %v", err, del.events)
	}
	kept, err := svc.Delete(ctx, c, ns, res.Project, false, del.emit)
	if err != nil {
		t.Fatal(meshdock.ErrorMessage(err))
	}
	if len(kept) != 1 || kept[0].Kind != "PersistentVolumeClaim" {
		t.Fatalf("kept %v, want the database's claim", kept)
	}
	if _, err := dyn.Resource(pvcResource).Namespace(ns).Get(ctx, kept[0].Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the kept claim is gone: %v", err)
	}
	if l, _ := dyn.Resource(depResource).Namespace(ns).List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("deployments left after delete: %d", len(l.Items))
	}
	kept, err = svc.Delete(ctx, c, ns, res.Project, true, del.emit)
	if err != nil || len(kept) != 0 {
		t.Fatalf("delete with volumes: kept %v, %v", kept, err)
	}
	pvc, err := dyn.Resource(pvcResource).Namespace(ns).Get(ctx, "db-data", metav1.GetOptions{})
	if err == nil && pvc.GetDeletionTimestamp() == nil {
		t.Errorf("the claim stayed after a delete with volumes")
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A build-only service is built from its build context through the real
// Docker Engine (FROM scratch), and the Deployment names that image. A
// failing build fails the deploy before anything is applied.
func TestDeployBuildsImages(t *testing.T) {
	c := kubetest.Cluster(t)
	eng := testEngine(t)
	ctx := context.Background()
	svc := app.New(app.Config{Engine: eng})
	dir := t.TempDir()
	project := "mdbuild" + strings.TrimPrefix(namespace(t, c), "app-test-")
	write := func(name, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "name: "+project+"\nservices:\n  api:\n    build: ./api\n    ports: [\"8000:8000\"]\n")
	write("api/Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\nCMD [\"/hello\"]\n")
	write("api/hello.txt", "hello\n")
	image := project + "-api"
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image).Run() })
	ns := namespace(t, c)
	res := convertDir(t, dir)
	var rec recorder
	out, err := svc.Deploy(ctx, app.Target{Cluster: c, Kind: kube.KindOther, Namespace: ns}, planOf(res, dir), rec.emit)
	if err != nil {
		t.Fatalf("deploy: %s\n%s", meshdock.ErrorMessage(err), strings.Join(rec.events, "\n"))
	}
	if ok, err := eng.ImageExists(ctx, image); !ok || err != nil {
		t.Fatalf("image %s not built: %v", image, err)
	}
	if rec.count(app.EventBuild) == 0 || !strings.Contains(strings.Join(rec.events, "\n"), `"state":"built"`) {
		t.Errorf("no build log or built event: %v", rec.events)
	}
	dyn, _ := c.Dynamic()
	d, err := dyn.Resource(depResource).Namespace(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if got := containers[0].(map[string]any)["image"]; got != image {
		t.Errorf("the Deployment names %v, want the built %s", got, image)
	}
	if len(out.Workloads) != 1 || !out.Workloads[0].Done {
		t.Errorf("workloads: %+v", out.Workloads)
	}

	// An image name that is not compose's own for the build, and that
	// exists without meshdock having built it for this service, is not
	// replaced: a deploy cannot swap an image others run.
	victim := "meshdock-test/victim-" + strings.TrimPrefix(ns, "app-test-") + ":1"
	if out, err := exec.Command("docker", "tag", "meshdock/testimage:dev", victim).CombinedOutput(); err != nil {
		t.Skipf("no image to tag: %s", out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", victim).Run() })
	idOf := func(ref string) string {
		out, _ := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", ref).Output()
		return strings.TrimSpace(string(out))
	}
	before := idOf(victim)
	write("compose.yaml", "name: "+project+"\nservices:\n  api:\n    build: ./api\n    image: "+victim+"\n")
	_, err = svc.Deploy(ctx, app.Target{Cluster: c, Kind: kube.KindOther, Namespace: ns}, planOf(convertDir(t, dir), dir), rec.emit)
	if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(meshdock.ErrorMessage(err), "is not replaced") || idOf(victim) != before {
		t.Errorf("building over an image meshdock did not build: %v (%s); image %s then %s", err, meshdock.ErrorCode(err), before, idOf(victim))
	}
	write("compose.yaml", "name: "+project+"\nservices:\n  api:\n    build: ./api\n    ports: [\"8000:8000\"]\n")

	// A failing build: nothing is applied, the namespace is not made.
	write("api/Dockerfile", "FROM scratch\nCOPY missing.txt /x\n")
	ns2 := namespace(t, c)
	_, err = svc.Deploy(ctx, app.Target{Cluster: c, Kind: kube.KindOther, Namespace: ns2}, planOf(convertDir(t, dir), dir), rec.emit)
	if meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(meshdock.ErrorMessage(err), image) {
		t.Fatalf("failing build: %v (%s)", err, meshdock.ErrorCode(err))
	}
	if _, err := dyn.Resource(nsResource).Get(ctx, ns2, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a failed build left namespace %s: %v", ns2, err)
	}
}

// Bad cases fail with a clear error and leave the cluster as it was.
func TestDeployBadCases(t *testing.T) {
	c := kubetest.Cluster(t)
	ctx := context.Background()
	svc := app.New(app.Config{Engine: engine.Unavailable{Reason: "not used"}})
	res := convertDir(t, "../examples/shop")
	dyn, _ := c.Dynamic()
	gone := func(t *testing.T, ns string) {
		t.Helper()
		if n, err := dyn.Resource(nsResource).Get(ctx, ns, metav1.GetOptions{}); err == nil && n.GetDeletionTimestamp() == nil {
			t.Errorf("namespace %s was left behind", ns)
		}
	}

	t.Run("unreachable cluster", func(t *testing.T) {
		cfg, err := kube.Load([]byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"+
			"users: [{name: u, user: {token: x}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"), "")
		if err != nil {
			t.Fatal(err)
		}
		bad, _ := kube.NewCluster(cfg)
		_, err = svc.Deploy(ctx, app.Target{Cluster: bad, Namespace: "shop"}, planOf(res, ""), (&recorder{}).emit)
		t.Log(meshdock.ErrorMessage(err))
		if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(meshdock.ErrorMessage(err), "127.0.0.1:1") {
			t.Errorf("unreachable: %v (%s)", meshdock.ErrorMessage(err), meshdock.ErrorCode(err))
		}
	})

	t.Run("credentials that may not create Deployments", func(t *testing.T) {
		ns := namespace(t, c)
		limited := limitedCluster(t, c, ns)
		_, err := svc.Deploy(ctx, app.Target{Cluster: limited, Namespace: ns}, planOf(res, ""), (&recorder{}).emit)
		t.Log(meshdock.ErrorMessage(err))
		if meshdock.ErrorCode(err) != meshdock.EFORBIDDEN || !strings.Contains(meshdock.ErrorMessage(err), "create/patch/delete deployments.apps") {
			t.Fatalf("limited: %v (%s)", meshdock.ErrorMessage(err), meshdock.ErrorCode(err))
		}
		if l, _ := dyn.Resource(cmResource).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=meshdock"}); len(l.Items) != 0 {
			t.Errorf("a refused deploy applied %d ConfigMaps", len(l.Items))
		}
	})

	t.Run("a field another manager owns", func(t *testing.T) {
		ns := namespace(t, c)
		if _, err := dyn.Resource(nsResource).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var cm *unstructured.Unstructured
		for _, o := range res.Objects {
			if o.GetKind() == "ConfigMap" {
				cm = o.DeepCopy()
				break
			}
		}
		if cm == nil {
			t.Fatal("the example has no ConfigMap")
		}
		cm.SetNamespace(ns)
		data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
		for k := range data {
			data[k] = "theirs"
		}
		unstructured.SetNestedStringMap(cm.Object, data, "data")
		if _, err := dyn.Resource(cmResource).Namespace(ns).Apply(ctx, cm.GetName(), cm, metav1.ApplyOptions{FieldManager: "kubectl"}); err != nil {
			t.Fatal(err)
		}
		_, err := svc.Deploy(ctx, app.Target{Cluster: c, Namespace: ns}, planOf(res, ""), (&recorder{}).emit)
		t.Log(meshdock.ErrorMessage(err))
		if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(meshdock.ErrorMessage(err), "is owned by kubectl") {
			t.Fatalf("conflict: %v (%s)", meshdock.ErrorMessage(err), meshdock.ErrorCode(err))
		}
		if l, _ := dyn.Resource(depResource).Namespace(ns).List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
			t.Errorf("a conflicting deploy applied %d Deployments", len(l.Items))
		}
		p := planOf(res, "")
		p.Options.ForceConflicts = true
		if _, err := svc.Deploy(ctx, app.Target{Cluster: c, Namespace: ns}, p, (&recorder{}).emit); err != nil {
			t.Fatalf("forced: %s", meshdock.ErrorMessage(err))
		}
	})

	t.Run("an image that exists nowhere", func(t *testing.T) {
		ns := namespace(t, c)
		p := planOf(res, "")
		p.Objects = withPod(res.Objects, func(pod map[string]any) {
			cs := pod["containers"].([]any)
			cs[0].(map[string]any)["image"] = "meshdock-test/nowhere:1"
			cs[0].(map[string]any)["imagePullPolicy"] = "Never"
		})
		eng := testEngine(t)
		_, err := app.New(app.Config{Engine: eng}).Deploy(ctx, app.Target{Cluster: c, Namespace: ns}, p, (&recorder{}).emit)
		if meshdock.ErrorCode(err) != meshdock.ENOTFOUND || !strings.Contains(meshdock.ErrorMessage(err), "meshdock-test/nowhere:1 exists nowhere") {
			t.Fatalf("missing image: %v (%s)", meshdock.ErrorMessage(err), meshdock.ErrorCode(err))
		}
		gone(t, ns)
	})

	unschedulable := func() app.Plan {
		p := planOf(res, "")
		p.Objects = withPod(res.Objects, func(pod map[string]any) {
			pod["nodeSelector"] = map[string]any{"meshdock.io/no-such-node": "x"}
		})
		p.Options.Timeout = meshdock.Duration(2 * time.Second)
		return p
	}
	t.Run("a rollout that times out", func(t *testing.T) {
		ns := namespace(t, c)
		start := time.Now()
		_, err := svc.Deploy(ctx, app.Target{Cluster: c, Namespace: ns}, unschedulable(), (&recorder{}).emit)
		msg := meshdock.ErrorMessage(err)
		t.Log(msg)
		if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(msg, "within 2s") || !strings.Contains(msg, "Unschedulable") {
			t.Fatalf("timeout: %v (%s)", msg, meshdock.ErrorCode(err))
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("a 2s rollout timeout took %s", took)
		}
	})

	t.Run("cancel mid-rollout", func(t *testing.T) {
		ns := namespace(t, c)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		p := unschedulable()
		p.Options.Timeout = meshdock.Duration(time.Minute)
		var once sync.Once
		emit := func(typ string, data any) error {
			if typ == app.EventWorkload {
				once.Do(cancel)
			}
			return nil
		}
		start := time.Now()
		_, err := svc.Deploy(cctx, app.Target{Cluster: c, Namespace: ns}, p, emit)
		if meshdock.ErrorCode(err) != meshdock.ECANCELED {
			t.Fatalf("cancel: %v (%s)", meshdock.ErrorMessage(err), meshdock.ErrorCode(err))
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("cancel took %s", took)
		}
	})
}

// withPod copies objs, changing the pod template of the first Deployment.
func withPod(objs []*unstructured.Unstructured, change func(pod map[string]any)) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	done := false
	for i, o := range objs {
		out[i] = o.DeepCopy()
		if !done && o.GetKind() == "Deployment" {
			pod, _, _ := unstructured.NestedMap(out[i].Object, "spec", "template", "spec")
			change(pod)
			unstructured.SetNestedMap(out[i].Object, pod, "spec", "template", "spec")
			done = true
		}
	}
	return out
}

// limitedCluster is the cluster as a ServiceAccount of ns that may only
// read and write ConfigMaps there.
func limitedCluster(t *testing.T, c kube.Cluster, ns string) kube.Cluster {
	t.Helper()
	ctx := context.Background()
	dyn, _ := c.Dynamic()
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "limited", "namespace": ns}}},
		{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": map[string]any{"name": "limited", "namespace": ns},
			"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "verbs": []any{"*"}}}}},
		{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": map[string]any{"name": "limited", "namespace": ns},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "limited"},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "limited", "namespace": ns}}}},
	}
	if _, err := c.Apply(ctx, objs, kube.ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	tr := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": map[string]any{"name": "limited"},
		"spec": map[string]any{"expirationSeconds": int64(600)}}}
	got, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).Namespace(ns).
		Create(ctx, tr, metav1.CreateOptions{}, "token")
	if err != nil {
		t.Fatal(err)
	}
	token, _, _ := unstructured.NestedString(got.Object, "status", "token")
	raw, err := clientcmd.NewDefaultClientConfigLoadingRules().Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range raw.AuthInfos {
		u.Token, u.TokenFile = token, ""
	}
	cfg, err := kube.LoadConfig(*raw, "")
	if err != nil {
		t.Fatal(err)
	}
	limited, err := kube.NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return limited
}

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
	"github.com/meshdock/meshdock/kube"
)

// requireCluster connects to the API server of $KUBECONFIG, or skips.
func requireCluster(t testing.TB) kube.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Kubernetes API server; skipped under -short")
	}
	path := os.Getenv("KUBECONFIG")
	if path == "" {
		t.Skip(`needs a Kubernetes API server and KUBECONFIG is not set; run scripts/testenv up and eval "$(scripts/testenv env)"`)
	}
	cfg, err := kube.LoadFile(path, "")
	if err != nil {
		t.Fatalf("KUBECONFIG is set but unusable: %v", err)
	}
	c, err := kube.NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// ensureNamespace creates a namespace for real (dry-run objects still need
// theirs to exist), marked as meshdock's as a deploy makes it, and deletes
// it when the test ends.
func ensureNamespace(t testing.TB, c kube.Cluster, name string) {
	t.Helper()
	dyn, err := c.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name,
		"labels": map[string]any{kube.LabelManagedBy: kube.FieldManager}}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = dyn.Resource(namespaces).Create(context.Background(), ns, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create namespace %s: %v", name, err)
		}
		// An earlier run's namespace may still be terminating.
		cur, gerr := dyn.Resource(namespaces).Get(context.Background(), name, metav1.GetOptions{})
		if gerr == nil && cur.GetDeletionTimestamp() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s is still terminating", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = dyn.Resource(namespaces).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// uniqueName gives each run its own namespace: one deleted by an earlier
// run may still be terminating.
func uniqueName(prefix string) string {
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e8, 36)
	if len(prefix) > 63-len(suffix)-1 {
		prefix = strings.TrimRight(prefix[:63-len(suffix)-1], "-")
	}
	return prefix + "-" + suffix
}

// Every object the converter makes from the valid test cases is accepted
// by a real API server (server-side apply, dry run): schemas, names,
// references, and the API server's own validation.
func TestConvertedTestdataIsAccepted(t *testing.T) {
	c := requireCluster(t)
	dirs, _ := filepath.Glob("../convert/testdata/valid-*")
	if len(dirs) < 25 {
		t.Fatalf("found %d valid cases, want at least 25", len(dirs))
	}
	accepted := 0
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var o struct {
				ComposeFiles, EnvFiles, Profiles []string
				Env                              map[string]string
				Name, Namespace                  string
				BindMounts                       convert.BindMounts
			}
			if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
				if err := json.Unmarshal(b, &o); err != nil {
					t.Fatal(err)
				}
			}
			src := compose.Source{Dir: dir, Name: o.Name, ComposeFiles: o.ComposeFiles, EnvFiles: o.EnvFiles, Env: o.Env, Profiles: o.Profiles}
			res, err := convertSource(context.Background(), src, convert.Options{Namespace: o.Namespace, BindMounts: o.BindMounts})
			if err != nil {
				t.Fatal(err)
			}
			ns := o.Namespace
			if ns == "" {
				ns = uniqueName("dry-" + strings.TrimPrefix(filepath.Base(dir), "valid-"))
			}
			ensureNamespace(t, c, ns)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			results, err := c.Apply(ctx, res.Objects, kube.ApplyOptions{DryRun: true, Namespace: ns})
			if err != nil {
				var oe *kube.ObjectError
				seen := map[string]bool{}
				for _, e := range unwrapAll(err) {
					if errors.As(e, &oe) && !seen[oe.Error()] {
						seen[oe.Error()] = true
						t.Errorf("rejected: %s: %v", oe.Ref, oe.Err)
					}
				}
				if oe == nil {
					t.Errorf("rejected: %v", err)
				}
				return
			}
			if len(results) != len(res.Objects) {
				t.Fatalf("%d of %d objects applied", len(results), len(res.Objects))
			}
			accepted++
		})
	}
	t.Logf("%d of %d cases accepted by the API server", accepted, len(dirs))
}

// unwrapAll flattens joined errors.
func unwrapAll(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, e)
		if u := errors.Unwrap(e); u != nil {
			walk(u)
		}
	}
	walk(err)
	return out
}

// The example app is applied for real: its Deployments roll out, its
// Services get ClusterIPs on loopback, its claims are created, and applying
// it again changes nothing.
func TestExampleAppApplies(t *testing.T) {
	c := requireCluster(t)
	res, err := convertSource(context.Background(), compose.Source{Dir: "../examples/shop"}, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns := uniqueName("example-shop")
	ensureNamespace(t, c, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results, err := c.Apply(ctx, res.Objects, kube.ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	var refs []kube.Ref
	kinds := map[string]int{}
	for _, r := range results {
		if r.Action != kube.Created {
			t.Errorf("%s: %s, want created", r.Ref, r.Action)
		}
		refs = append(refs, r.Ref)
		kinds[r.Ref.Kind]++
		if r.Ref.Kind == "Service" {
			var svc corev1.Service
			if err := runtimeFrom(r.Object, &svc); err != nil {
				t.Fatal(err)
			}
			ip := svc.Spec.ClusterIP
			if ip != corev1.ClusterIPNone && !strings.HasPrefix(ip, "127.96.") {
				t.Errorf("Service %s has ClusterIP %q, want one in 127.96.0.0/16", svc.Name, ip)
			}
		}
	}
	if kinds["Deployment"] == 0 || kinds["Service"] == 0 || kinds["PersistentVolumeClaim"] == 0 {
		t.Fatalf("the example app lacks Deployments, Services or claims: %v", kinds)
	}
	if err := c.Watch(ctx, refs, kube.WatchOptions{}); err != nil {
		t.Fatalf("rollout: %v", err)
	}
	again, err := c.Apply(ctx, res.Objects, kube.ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again {
		if r.Action != kube.Unchanged {
			t.Errorf("second apply: %s %s, want unchanged", r.Ref, r.Action)
		}
	}
}

func runtimeFrom(u *unstructured.Unstructured, into any) error {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// convertSource loads a source and converts it, as the CLI does.
func convertSource(ctx context.Context, src compose.Source, opt convert.Options) (*convert.Result, error) {
	p, err := compose.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	return convert.Convert(ctx, p, opt)
}

package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
	"github.com/meshdock/meshdock/meshes"
)

// meshMarks are the marks each mesh's enrolment makes: namespace labels,
// namespace annotations and pod-template annotations (of every workload).
var meshMarks = map[string]struct{ nsLabels, nsAnnotations, pod map[string]string }{
	"istio":         {nsLabels: map[string]string{"istio-injection": "enabled"}, pod: map[string]string{"sidecar.istio.io/nativeSidecar": "true"}},
	"istio-ambient": {nsLabels: map[string]string{"istio.io/dataplane-mode": "ambient"}},
	"linkerd": {nsAnnotations: map[string]string{"linkerd.io/inject": "enabled", "config.linkerd.io/default-inbound-policy": "all-authenticated"},
		pod: map[string]string{"config.beta.linkerd.io/proxy-enable-native-sidecar": "true"}},
	"consul": {pod: map[string]string{"consul.hashicorp.com/connect-inject": "true", "consul.hashicorp.com/transparent-proxy": "true"}},
	"kuma":   {nsLabels: map[string]string{"kuma.io/sidecar-injection": "enabled"}},
}

// meshPolicyKinds are the kinds of the objects each mesh's translation of
// meshTestPolicy makes in the app's namespace (Linkerd's are annotations).
var meshPolicyKinds = map[string][]schema.GroupVersionResource{
	"istio": {
		{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"},
		{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
		{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
	},
	"consul": {
		{Group: "consul.hashicorp.com", Version: "v1alpha1", Resource: "servicedefaults"},
		{Group: "consul.hashicorp.com", Version: "v1alpha1", Resource: "servicerouters"},
	},
	"kuma": {
		{Group: "kuma.io", Version: "v1alpha1", Resource: "meshtlses"},
		{Group: "kuma.io", Version: "v1alpha1", Resource: "meshtimeouts"},
		{Group: "kuma.io", Version: "v1alpha1", Resource: "meshretries"},
		{Group: "kuma.io", Version: "v1alpha1", Resource: "meshcircuitbreakers"},
	},
}

func init() { meshPolicyKinds["istio-ambient"] = meshPolicyKinds["istio"] }

// meshTestPolicy sets every kind of rule, so that each mesh translates
// some and says what it cannot (Consul: no per-try timeout).
const meshTestPolicy = `mtls: strict
defaults:
  timeout: 10s
  retries: {attempts: 2, perTryTimeout: 2s, on: [5xx, connect-failure]}
services:
  api:
    circuitBreaker: {maxConnections: 100, maxPendingRequests: 50, consecutiveErrors: 5, interval: 10s, baseEjectionTime: 30s}
`

// meshTestValues are the chart values the test environment needs beyond
// meshdock's (TESTENV.md): Kuma's injector would refuse every pod of an
// enrolled namespace, since no webhook can be reached here.
var meshTestValues = map[string]map[string]map[string]any{
	"kuma": {"kuma": {"controlPlane": map[string]any{"injectorFailurePolicy": "Ignore"}}},
}

// The example app, with a policy, onto each of the six options in turn in
// the real API server, each mesh installed by meshdock from its real
// charts (the shared chart folders and Istio's module) before the deploy
// that needs it: every chart object accepted, the control planes rolled
// out under kwok, Kuma's and Consul's hook Jobs completed. No webhook can
// be reached here, so after each install the test sets failurePolicy
// Ignore on the release's webhook configurations (Istio's injector, Kuma's
// validators, Consul's config-entry webhooks) and checks what meshdock
// controls, never injected proxies: the enrolment marks, Consul's Service
// per workload, the policy objects (accepted by the meshes' real CRD
// schemas), the app's rollouts. A second deploy changes nothing; switching
// meshes removes the first one's marks and objects; a mesh not installed
// is refused before anything changes, and offered for install; an
// uninstall is refused while the app is on the mesh, and says what stays.
func TestMeshesInstallAndDeploy(t *testing.T) {
	c := kubetest.Cluster(t)
	kubetest.MeshLock(t)
	kubetest.WaitMeshNamespacesGone(t, c)
	dirs := kubetest.ChartDirs(t, "..")
	ctx := context.Background()
	svc := app.New(app.Config{MeshCharts: meshes.Source{Dirs: dirs}})
	res := convertDir(t, "../examples/shop")
	ns := namespace(t, c)
	target := app.Target{Cluster: c, Kind: kube.KindOther, Namespace: ns}
	tiers := convertDir(t, "../convert/testdata/tiers")
	tiersTarget := app.Target{Cluster: c, Kind: kube.KindOther, Namespace: namespace(t, c)}
	dyn, _ := c.Dynamic()
	policy, err := meshes.ParsePolicy("policy.yaml", []byte(meshTestPolicy))
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{} // the meshes installed, to remove at the end
	t.Cleanup(func() {
		for m := range present {
			_, _ = svc.UninstallMesh(context.Background(), c, m, app.MeshRequest{Force: true}, (&recorder{}).emit)
		}
		// Helm leaves the namespaces it made; the CRDs Istio and Kuma keep
		// stay too (the next install finds them).
		for _, n := range []string{"istio-system", "linkerd", "consul", "kuma-system"} {
			_ = dyn.Resource(nsResource).Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})

	deploy := func(t *testing.T, mesh string) (*app.Outcome, *recorder) {
		t.Helper()
		p := planOf(res, "")
		p.Options.Mesh, p.Policy = mesh, policy
		rec := &recorder{}
		out, err := svc.Deploy(ctx, target, p, rec.emit)
		if err != nil {
			t.Fatalf("deploy onto %s: %s", mesh, meshdock.ErrorMessage(err))
		}
		return out, rec
	}

	prev := ""
	for _, mesh := range []string{"none", "istio", "istio-ambient", "linkerd", "consul", "kuma", "none"} {
		ok := t.Run(mesh, func(t *testing.T) {
			if mesh != "none" {
				before := nsMarks(t, dyn, ns)
				p := planOf(res, "")
				p.Options.Mesh = mesh
				_, err := svc.Deploy(ctx, target, p, (&recorder{}).emit)
				if meshdock.ErrorCode(err) != meshdock.ENOTFOUND || !strings.Contains(meshdock.ErrorMessage(err), "meshdock mesh install "+mesh) {
					t.Fatalf("deploy onto %s before its install: %v, want not_found offering the install", mesh, err)
				}
				if after := nsMarks(t, dyn, ns); after != before {
					t.Errorf("a refused deploy changed the namespace: %s, was %s", after, before)
				}
				installMesh(t, svc, c, mesh)
				present[mesh] = true
			}

			out, rec := deploy(t, mesh)
			for _, w := range out.Workloads {
				if !w.Done {
					t.Errorf("workload %s under %s: %d/%d %s", w.ObjectRef, mesh, w.Ready, w.Desired, w.Message)
				}
			}
			checkMarks(t, dyn, ns, mesh)
			checkPolicyObjects(t, dyn, ns, mesh)
			events := strings.Join(rec.events, "\n")
			if mesh == "consul" {
				checkConsulServices(t, dyn, ns)
				first := strings.Index(events, "perTryTimeout")
				if first < 0 || first > strings.Index(events, "\nobject ") {
					t.Errorf("consul: no warning of the per-try timeout before the objects were applied:\n%s", events)
				}
			}
			if mesh != "none" && !strings.Contains(events, "depends_on waits") {
				t.Errorf("no word of how depends_on waits work under %s", mesh)
			}
			again, _ := deploy(t, mesh)
			for _, o := range again.Objects {
				if o.Action != "unchanged" {
					t.Errorf("second deploy onto %s: %s %s", mesh, o.ObjectRef, o.Action)
				}
			}
			deployAuthz(t, svc, target, planOf(res, ""), policy, mesh)
			// The app of two networks and a service on both, then off the
			// mesh again (so the mesh can go).
			deployAuthz(t, svc, tiersTarget, planOf(tiers, ""), nil, mesh)
			if _, err := svc.Deploy(ctx, tiersTarget, planOf(tiers, ""), (&recorder{}).emit); err != nil {
				t.Fatalf("tiers off %s: %s", mesh, meshdock.ErrorMessage(err))
			}

			if mesh == "linkerd" {
				_, err := svc.UninstallMesh(ctx, c, mesh, app.MeshRequest{}, (&recorder{}).emit)
				if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(meshdock.ErrorMessage(err), ns) {
					t.Errorf("uninstall of the mesh the app is on: %v, want a conflict naming namespace %s", err, ns)
				}
			}
			// The mesh the app left goes (Istio's two modes share one
			// installation: it goes once the app leaves both).
			if prev != "" && prev != "none" && !(prev == "istio" && mesh == "istio-ambient") {
				uninstallMesh(t, svc, c, prev)
				delete(present, prev)
				if prev == "istio-ambient" {
					delete(present, "istio")
				}
			}
		})
		if !ok {
			break
		}
		prev = mesh
	}
}

// authzKinds are the kinds of each mesh's authorization rules.
var authzKinds = map[string][]string{
	"none": {"NetworkPolicy"}, "istio": {"AuthorizationPolicy"}, "istio-ambient": {"AuthorizationPolicy"},
	"linkerd": {"Server", "MeshTLSAuthentication", "AuthorizationPolicy", "NetworkAuthentication"},
	"consul":  {"ServiceIntentions"}, "kuma": {"MeshTrafficPermission"},
}

// deployAuthz deploys the app with its paths enforced, then audited where
// the mesh can: the API server takes every rule (with the mesh's real
// CRDs), the rollout finishes, and each rule is listed as an event.
func deployAuthz(t *testing.T, svc *app.Service, target app.Target, p app.Plan, policy *meshes.Policy, mesh string) {
	t.Helper()
	for _, mode := range []string{meshes.AuthzEnforce, meshes.AuthzAudit} {
		if meshes.CheckAuthz(mesh, mode) != nil {
			continue
		}
		p.Options.Mesh, p.Options.Authz, p.Policy = mesh, mode, policy
		rec := &recorder{}
		out, err := svc.Deploy(context.Background(), target, p, rec.emit)
		if err != nil {
			t.Fatalf("deploy onto %s with authz %s: %s", mesh, mode, meshdock.ErrorMessage(err))
		}
		kinds := map[string]int{}
		for _, o := range out.Objects {
			kinds[o.Kind]++
		}
		want := authzKinds[mesh]
		if mode == meshes.AuthzEnforce {
			want = append([]string{"NetworkPolicy"}, want...)
		} else if kinds["NetworkPolicy"] > 0 {
			t.Errorf("%s audit applied %d NetworkPolicies", mesh, kinds["NetworkPolicy"])
		}
		for _, k := range want {
			if kinds[k] == 0 {
				t.Errorf("%s authz %s: no %s applied (%v)", mesh, mode, k, kinds)
			}
		}
		rules := 0
		for _, d := range rec.data {
			if _, ok := d.(app.Rule); ok {
				rules++
			}
		}
		if rules == 0 {
			t.Errorf("%s authz %s: no rule events", mesh, mode)
		}
		for _, w := range out.Workloads {
			if !w.Done {
				t.Errorf("%s authz %s: workload %s %d/%d %s", mesh, mode, w.ObjectRef, w.Ready, w.Desired, w.Message)
			}
		}
		t.Logf("%s authz %s: %d objects, %d rules", mesh, mode, len(out.Objects), rules)
	}
}

// installMesh installs a mesh with meshdock, as the API's operation does,
// and lets its pods be created (IgnoreWebhooks).
func installMesh(t *testing.T, svc *app.Service, c kube.Cluster, mesh string) {
	t.Helper()
	ctx := context.Background()
	if st, err := c.Mesh(ctx, mesh); err != nil || st.Installed {
		t.Fatalf("%s before its install: %+v, %v", mesh, st, err)
	}
	rec := &recorder{}
	start := time.Now()
	in, err := svc.InstallMesh(ctx, c, mesh, app.MeshRequest{Values: meshTestValues[mesh], Timeout: meshdock.Duration(3 * time.Minute)}, rec.emit)
	if err != nil {
		t.Fatalf("install %s: %s\n%s", mesh, meshdock.ErrorMessage(err), strings.Join(rec.events, "\n"))
	}
	t.Logf("installed %s %s (%s) in %s", mesh, in.Version, strings.Join(in.Releases, ", "), time.Since(start).Round(time.Millisecond))
	done := map[string]bool{}
	var installedEvent bool
	for _, d := range rec.data {
		switch d := d.(type) {
		case meshdock.WorkloadState:
			done[d.ObjectRef.String()] = d.Done
		case app.MeshInstalled:
			installedEvent = d.Mesh == mesh && len(d.Releases) > 0
		}
	}
	if len(done) == 0 || len(done) != len(in.Workloads) || !installedEvent {
		t.Errorf("install of %s: %d workload events for %d workloads, installed event %v", mesh, len(done), len(in.Workloads), installedEvent)
	}
	for w, ok := range done {
		if !ok {
			t.Errorf("install of %s ended with %s not rolled out", mesh, w)
		}
	}
	patched := kubetest.IgnoreWebhooks(t, c, in.Releases...)
	t.Logf("webhooks set to failurePolicy Ignore: %s", strings.Join(patched, ", "))
	st, err := c.Mesh(ctx, mesh)
	if err != nil || !st.Installed || !st.Healthy || st.Version == "" {
		t.Errorf("%s after its install: %+v, %v", mesh, st, err)
	}
}

// uninstallMesh removes a mesh the app left, and checks what it says stays.
func uninstallMesh(t *testing.T, svc *app.Service, c kube.Cluster, mesh string) {
	t.Helper()
	rec := &recorder{}
	left, err := svc.UninstallMesh(context.Background(), c, mesh, app.MeshRequest{}, rec.emit)
	if err != nil {
		t.Fatalf("uninstall %s: %s", mesh, meshdock.ErrorMessage(err))
	}
	crds := 0
	for _, l := range left {
		if strings.HasPrefix(l, "CustomResourceDefinition ") {
			crds++
		}
	}
	keeps := strings.HasPrefix(mesh, "istio") || mesh == "kuma"
	if keeps != (crds > 0) {
		t.Errorf("uninstall of %s left %d CRDs behind (%q); Istio and Kuma keep theirs, Linkerd and Consul do not", mesh, crds, left)
	}
	if st, err := c.Mesh(context.Background(), mesh); err != nil || st.Installed {
		t.Errorf("%s after its uninstall: %+v, %v", mesh, st, err)
	}
}

// nsMarks is the namespace's labels and annotations, as one string.
func nsMarks(t *testing.T, dyn dynamic.Interface, ns string) string {
	t.Helper()
	n, err := dyn.Resource(nsResource).Get(context.Background(), ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "(none)"
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{n.GetLabels(), n.GetAnnotations()})
	return string(b)
}

// checkMarks checks that the namespace and every pod template carry the
// marks of mesh, and none of another mesh's.
func checkMarks(t *testing.T, dyn dynamic.Interface, ns, mesh string) {
	t.Helper()
	ctx := context.Background()
	n, err := dyn.Resource(nsResource).Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := dyn.Resource(depResource).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(deps.Items) == 0 {
		t.Fatalf("deployments of %s: %v", ns, err)
	}
	for name, m := range meshMarks {
		want := name == mesh
		check := func(where string, have, marks map[string]string) {
			for k, v := range marks {
				if got, ok := have[k]; want && got != v || !want && ok {
					t.Errorf("under %s, %s has %s=%q (set: %v); it is %s's mark", mesh, where, k, got, ok, name)
				}
			}
		}
		check("the namespace's labels", n.GetLabels(), m.nsLabels)
		check("the namespace's annotations", n.GetAnnotations(), m.nsAnnotations)
		for _, d := range deps.Items {
			pod, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
			check("the pods of Deployment "+d.GetName(), pod, m.pod)
		}
	}
}

// checkPolicyObjects checks that the namespace holds the policy objects of
// mesh, and none of the kinds of another mesh that are still served.
func checkPolicyObjects(t *testing.T, dyn dynamic.Interface, ns, mesh string) {
	t.Helper()
	ctx := context.Background()
	seen := map[schema.GroupVersionResource]bool{}
	for name, kinds := range meshPolicyKinds {
		for _, gvr := range kinds {
			if seen[gvr] && name != mesh {
				continue
			}
			list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			switch {
			case apierrors.IsNotFound(err) && name != mesh:
				continue // the kind is gone with its mesh
			case err != nil:
				t.Errorf("list %s under %s: %v", gvr.Resource, mesh, err)
				continue
			}
			mine := name == mesh || (strings.HasPrefix(name, "istio") && strings.HasPrefix(mesh, "istio"))
			if mine && len(list.Items) == 0 {
				t.Errorf("under %s, no %s in the namespace", mesh, gvr.Resource)
			}
			if !mine && len(list.Items) > 0 {
				t.Errorf("under %s, %d %s of %s are left", mesh, len(list.Items), gvr.Resource, name)
			}
			seen[gvr] = true
		}
	}
	if mesh == "linkerd" {
		s, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if a := s.GetAnnotations(); a["timeout.linkerd.io/request"] == "" || a["retry.linkerd.io/limit"] == "" {
			t.Errorf("linkerd: Service api carries no timeout and retry annotations: %v", a)
		}
	}
}

// checkConsulServices checks Consul's extras: every workload has a Service
// of its name (Consul takes a service's identity from it), and every Service
// a ServiceDefaults with its protocol.
func checkConsulServices(t *testing.T, dyn dynamic.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	services := map[string]*unstructured.Unstructured{}
	list, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		services[list.Items[i].GetName()] = &list.Items[i]
	}
	for _, gvr := range []schema.GroupVersionResource{depResource, {Group: "apps", Version: "v1", Resource: "statefulsets"}} {
		ws, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws.Items {
			if services[w.GetName()] == nil {
				t.Errorf("consul: %s %s has no Service of its name", w.GetKind(), w.GetName())
			}
		}
	}
	sd, err := dyn.Resource(meshPolicyKinds["consul"][0]).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	protocols := map[string]string{}
	for _, d := range sd.Items {
		protocols[d.GetName()], _, _ = unstructured.NestedString(d.Object, "spec", "protocol")
	}
	if protocols["db"] != "tcp" || protocols["cache"] != "tcp" {
		t.Errorf("consul: ServiceDefaults protocols %v, want tcp for the server-first db and cache", protocols)
	}
}

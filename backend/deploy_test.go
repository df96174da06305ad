package backend_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/kube/kubetest"
	"github.com/meshdock/meshdock/meshes"
)

type deploymentAnswer struct {
	Deployment meshdock.Deployment
	Operation  struct{ ID, State string }
}

// waitOperation waits, for at most a minute, until an operation ends.
func (ts *testServer) waitOperation(t *testing.T, id string) (state, msg string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var op struct{ State, Error string }
		ts.get(t, "/api/v1/operations/"+id).decode(t, &op)
		if op.State != "running" {
			return op.State, op.Error
		}
	}
	evs, _ := ts.DB.Events(context.Background(), id, 0, 1000)
	var log []string
	for _, e := range evs {
		log = append(log, e.Type+" "+string(e.Data))
	}
	t.Fatalf("operation %s still running after a minute:\n%s", id, strings.Join(log, "\n"))
	return "", ""
}

// The API over the real control plane: the clusters and their kind, a
// deploy of the example app as an operation, its state (objects,
// workloads, URLs) kept, a second deploy that changes nothing, and a
// delete that keeps the claim and says so.
func TestDeploymentsAPI(t *testing.T) {
	c := kubetest.Cluster(t)
	ts := startServer(t, "", withListener(backend.Listener{TCP: true, AllowDir: true, AllowClusters: true}))
	var clusters struct{ Clusters []kube.ClusterInfo }
	ts.get(t, "/api/v1/clusters").decode(t, &clusters)
	if len(clusters.Clusters) != 1 || !clusters.Clusters[0].Reachable || !clusters.Clusters[0].Current ||
		!strings.HasPrefix(clusters.Clusters[0].Version, "v1.") || clusters.Clusters[0].Kind != kube.KindOther {
		t.Fatalf("clusters: %+v", clusters.Clusters)
	}
	abs, _ := filepath.Abs("../examples/shop")
	a := ts.postJSON(t, "/api/v1/apps", map[string]any{"dir": abs})
	if a.Status != http.StatusCreated {
		t.Fatalf("import: %d %s", a.Status, a.Body)
	}
	var app appAnswer
	a.decode(t, &app)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "api-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		dyn, _ := c.Dynamic()
		_ = dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	expose, authz := "port-forward", ""
	deploy := func() meshdock.Deployment {
		t.Helper()
		r := ts.postJSON(t, "/api/v1/apps/"+app.ID+"/deployments", map[string]any{"namespace": ns, "expose": expose,
			"options": map[string]any{"timeout": "1m", "authz": authz}})
		if r.Status != http.StatusAccepted {
			t.Fatalf("deploy: %d %s", r.Status, r.Body)
		}
		var d deploymentAnswer
		r.decode(t, &d)
		if state, msg := ts.waitOperation(t, d.Operation.ID); state != "succeeded" {
			t.Fatalf("deploy operation %s: %s", state, msg)
		}
		var got meshdock.Deployment
		ts.get(t, "/api/v1/apps/"+app.ID+"/deployments/"+d.Deployment.ID).decode(t, &got)
		if got.State != meshdock.Deployed || got.LastOperation != d.Operation.ID {
			t.Fatalf("deployment after the deploy: %+v", got)
		}
		return got
	}
	first := deploy()
	evs, _ := ts.DB.Events(context.Background(), first.LastOperation, 0, 1000)
	types := map[string]int{}
	for _, e := range evs {
		types[e.Type]++
	}
	if types["object"] != len(first.Objects) || types["workload"] < len(first.Workloads) || types["step"] == 0 || types["url"] != 2 || types["end"] != 1 {
		t.Errorf("the deploy's events: %v", types)
	}
	if len(first.Objects) == 0 || len(first.Workloads) == 0 {
		t.Fatalf("no objects or workloads recorded: %+v", first)
	}
	for _, w := range first.Workloads {
		if !w.Done {
			t.Errorf("workload not ready: %+v", w)
		}
	}
	// Port-forwards cannot reach pods here (the test API server sends
	// nothing into the cluster): each published port says why.
	t.Logf("urls: %+v", first.URLs)
	if len(first.URLs) != 2 {
		t.Errorf("urls: %+v", first.URLs)
	}
	for _, u := range first.URLs {
		if u.Via != "port-forward" || (u.URL == "" && u.Error == "") || strings.Contains(u.Error, os.Getenv("HOME")+"/") {
			t.Errorf("url: %+v", u)
		}
	}
	second := deploy()
	if second.ID != first.ID {
		t.Errorf("a second deploy into the namespace made deployment %s, not %s again", second.ID, first.ID)
	}
	for _, o := range second.Objects {
		if o.Action != "unchanged" {
			t.Errorf("second deploy: %s %s", o.ObjectRef, o.Action)
		}
	}
	// As on Docker Desktop: a LoadBalancer Service per published service,
	// which binds the host's port on localhost.
	expose = "loadbalancer"
	third := deploy()
	urls := map[string]bool{}
	for _, u := range third.URLs {
		urls[u.URL+" "+u.Via] = u.Error == ""
	}
	if !urls["http://127.0.0.1:8080 loadbalancer"] || !urls["http://127.0.0.1:8000 loadbalancer"] || len(urls) != 2 {
		t.Errorf("loadbalancer urls: %+v", third.URLs)
	}
	dyn, _ := c.Dynamic()
	lb, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace(ns).Get(context.Background(), "web-published", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if typ, _, _ := unstructured.NestedString(lb.Object, "spec", "type"); typ != "LoadBalancer" {
		t.Errorf("web-published is a %s Service", typ)
	}
	ports, _, _ := unstructured.NestedSlice(lb.Object, "spec", "ports")
	if len(ports) != 1 || ports[0].(map[string]any)["port"] != int64(8080) || ports[0].(map[string]any)["targetPort"] != int64(80) {
		t.Errorf("web-published ports: %v", ports)
	}

	// The app's paths enforced: NetworkPolicies applied, each rule an
	// event of the operation.
	authz = "enforce"
	fourth := deploy()
	policies := 0
	for _, o := range fourth.Objects {
		if o.Kind == "NetworkPolicy" {
			policies++
		}
	}
	evs, _ = ts.DB.Events(context.Background(), fourth.LastOperation, 0, 1000)
	rules := 0
	for _, e := range evs {
		if e.Type == "rule" && strings.Contains(string(e.Data), "NetworkPolicy") {
			rules++
		}
	}
	if policies < 3 || rules < policies || fourth.Options.Authz != "enforce" {
		t.Errorf("authz enforce: %d NetworkPolicies, %d rule events, options %+v", policies, rules, fourth.Options)
	}

	var list struct{ Deployments []meshdock.Deployment }
	ts.get(t, "/api/v1/apps/"+app.ID+"/deployments").decode(t, &list)
	if len(list.Deployments) != 1 {
		t.Errorf("deployments: %+v", list.Deployments)
	}
	if r := ts.do(t, "DELETE", "/api/v1/apps/"+app.ID, "", nil); r.Status != http.StatusConflict {
		t.Errorf("deleting a deployed app: %d %s", r.Status, r.Body)
	}

	r := ts.do(t, "DELETE", "/api/v1/apps/"+app.ID+"/deployments/"+first.ID, "", nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	var d deploymentAnswer
	r.decode(t, &d)
	if state, msg := ts.waitOperation(t, d.Operation.ID); state != "succeeded" {
		t.Fatalf("delete operation %s: %s", state, msg)
	}
	var after meshdock.Deployment
	ts.get(t, "/api/v1/apps/"+app.ID+"/deployments/"+first.ID).decode(t, &after)
	if after.State != meshdock.Deleted || len(after.Kept) != 1 || after.Kept[0].Kind != "PersistentVolumeClaim" {
		t.Errorf("after delete: %+v", after)
	}
	if r := ts.do(t, "DELETE", "/api/v1/apps/"+app.ID, "", nil); r.Status != http.StatusNoContent {
		t.Errorf("deleting an app whose deployment is deleted: %d %s", r.Status, r.Body)
	}
}

// Bad deploy requests are refused before any work, with the field named.
func TestDeploymentRequestsRefused(t *testing.T) {
	ts := startServer(t, "", withListener(backend.Listener{TCP: true, AllowClusters: true}))
	app := ts.importFiles(t, "refused", map[string]string{"compose.yaml": composeYAML})
	for _, tt := range []struct {
		body any
		want string
	}{
		{map[string]any{"namespace": "Bad_NS"}, "namespace"},
		{map[string]any{"namespace": "kube-system"}, "belongs to the cluster"},
		{map[string]any{"expose": "ingress"}, "expose must be"},
		{map[string]any{"options": map[string]any{"timeout": "soon"}}, "not a duration"},
		{map[string]any{"options": map[string]any{"timeout": 90}}, "as a string"},
		{map[string]any{"options": map[string]any{"timeout": "1000h"}}, "between 0"},
		{map[string]any{"options": map[string]any{"force": true}}, "options has the fields"},
		{map[string]any{"cluster": "x"}, "cluster"},
		{map[string]any{"options": map[string]any{"mesh": "envoy"}}, "mesh must be one of"},
		{map[string]any{"options": map[string]any{"authz": "strict"}}, "options.authz must be one of off, audit, enforce"},
		{map[string]any{"options": map[string]any{"authz": "audit"}}, "audit needs a mesh"},
		{map[string]any{"options": map[string]any{"mesh": "consul", "authz": "audit"}}, "not available with consul"},
		{map[string]any{"policy": map[string]any{"defaults": map[string]any{"retries": map[string]any{"attempts": 0}}}}, "defaults.retries.attempts"},
		{map[string]any{"policy": map[string]any{"services": map[string]any{"nope": map[string]any{"timeout": "1s"}}}}, "services.nope"},
		{map[string]any{"options": map[string]any{"timeout": 99999999999999999999.0}}, "as a string"},
	} {
		r := ts.postJSON(t, "/api/v1/apps/"+app.ID+"/deployments", tt.body)
		code, msg := r.errorOf(t)
		if r.Status != http.StatusBadRequest || code != "invalid" || !strings.Contains(msg, tt.want) {
			t.Errorf("%v: %d %s %s", tt.body, r.Status, code, msg)
		}
	}
	if r := ts.postJSON(t, "/api/v1/apps/nope/deployments", map[string]any{}); r.Status != http.StatusNotFound {
		t.Errorf("unknown app: %d %s", r.Status, r.Body)
	}
}

// On the loopback port, clusters are used only when the server was told
// so; the socket always may.
func TestClustersNeedPermissionOnTCP(t *testing.T) {
	ts := startServer(t, "")
	app := ts.importFiles(t, "perm", map[string]string{"compose.yaml": composeYAML})
	// A deploy's operation is canceled only where clusters are used (a
	// load test's may be anywhere).
	op, err := ts.DB.CreateOperation(context.Background(), "deploy", app.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []answer{
		ts.get(t, "/api/v1/clusters"),
		ts.postJSON(t, "/api/v1/apps/"+app.ID+"/deployments", map[string]any{}),
		ts.get(t, "/api/v1/apps/"+app.ID+"/deployments"),
		ts.do(t, "POST", "/api/v1/operations/"+op.ID+"/cancel", "", nil),
	} {
		if code, msg := r.errorOf(t); r.Status != http.StatusForbidden || !strings.Contains(msg, "--allow-clusters") {
			t.Errorf("%d %s %s", r.Status, code, msg)
		}
	}
}

// A posted kubeconfig is kept private in the data directory, never sent
// back, and refused when it would make the server read its files or run
// its programs. It is taken only over the socket: on the loopback port it
// would change where every client deploys.
func TestPostedKubeconfig(t *testing.T) {
	tcp := startServer(t, "", withListener(backend.Listener{TCP: true, AllowClusters: true}))
	r := tcp.do(t, "POST", "/api/v1/clusters/kubeconfig", "application/yaml", strings.NewReader("apiVersion: v1\nkind: Config\n"))
	if _, msg := r.errorOf(t); r.Status != http.StatusForbidden || !strings.Contains(msg, "socket") {
		t.Errorf("a kubeconfig posted on the port: %d %s", r.Status, msg)
	}
	ts := startServer(t, "", withListener(backend.Listener{}))
	const secret = "s3cr3t-token-value"
	good := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
		"users: [{name: u, user: {token: " + secret + "}}]\ncontexts: [{name: one, context: {cluster: c, user: u}}]\ncurrent-context: one\n"
	r = ts.do(t, "POST", "/api/v1/clusters/kubeconfig", "application/yaml", strings.NewReader(good))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"one"`) || strings.Contains(string(r.Body), secret) {
		t.Fatalf("post: %d %s", r.Status, r.Body)
	}
	fi, err := os.Stat(filepath.Join(ts.Data, "kubeconfig"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept kubeconfig: %v %v", fi, err)
	}
	var clusters struct{ Clusters []kube.ClusterInfo }
	list := ts.get(t, "/api/v1/clusters")
	list.decode(t, &clusters)
	if len(clusters.Clusters) != 1 || clusters.Clusters[0].Context != "one" || clusters.Clusters[0].Reachable ||
		clusters.Clusters[0].Reason == "" || bytes.Contains(list.Body, []byte(secret)) {
		t.Errorf("clusters of the posted kubeconfig: %s", list.Body)
	}
	for _, bad := range []struct{ body, want string }{
		{strings.Replace(good, "{token: "+secret+"}", "{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}}", 1), "credential plugin"},
		{strings.Replace(good, "{token: "+secret+"}", "{client-key: /etc/shadow, client-certificate: /etc/passwd}", 1), "file"},
		{strings.Replace(good, "server: 'https://127.0.0.1:1'", "server: 'https://127.0.0.1:1', certificate-authority: /etc/ssl/ca.pem", 1), "certificate file"},
		{"not: [a kubeconfig", "cannot be read"},
		{"apiVersion: v1\nkind: Config\n", "no contexts"},
	} {
		r := ts.do(t, "POST", "/api/v1/clusters/kubeconfig", "application/yaml", strings.NewReader(bad.body))
		code, msg := r.errorOf(t)
		if r.Status != http.StatusBadRequest || !strings.Contains(msg, bad.want) || strings.Contains(msg, "/etc/") {
			t.Errorf("%q: %d %s %s", bad.want, r.Status, code, msg)
		}
	}
	if r := ts.do(t, "DELETE", "/api/v1/clusters/kubeconfig", "", nil); r.Status != http.StatusNoContent {
		t.Errorf("forget: %d %s", r.Status, r.Body)
	}
	if _, err := os.Stat(filepath.Join(ts.Data, "kubeconfig")); !os.IsNotExist(err) {
		t.Errorf("the kubeconfig stayed: %v", err)
	}
}

// The meshes of the current context: each option, installed or not.
func TestMeshesAPI(t *testing.T) {
	kubetest.Cluster(t)
	ts := startServer(t, "", withListener(backend.Listener{TCP: true, AllowClusters: true}))
	var list struct{ Meshes []kube.MeshStatus }
	r := ts.get(t, "/api/v1/meshes")
	r.decode(t, &list)
	if r.Status != http.StatusOK || len(list.Meshes) != 6 || list.Meshes[0].Name != "none" || !list.Meshes[0].Installed {
		t.Fatalf("meshes: %d %s", r.Status, r.Body)
	}
	if r := ts.get(t, "/api/v1/meshes?context=nope"); r.Status != http.StatusNotFound {
		t.Errorf("an unknown context: %d %s", r.Status, r.Body)
	}
}

// A mesh installed and uninstalled through the API, from the charts the
// server was started with: each an operation whose events tell the
// releases, the control plane's rollout and what stays; the mesh listed
// as installed in between. Linkerd's trust anchor and issuer key are made
// for the install and never appear in an event.
func TestMeshInstallAPI(t *testing.T) {
	c := kubetest.Cluster(t)
	kubetest.MeshLock(t)
	kubetest.WaitMeshNamespacesGone(t, c)
	dirs := kubetest.ChartDirs(t, "..")
	ts := startServer(t, "", withListener(backend.Listener{TCP: true, AllowClusters: true}),
		func(cfg *backend.Config, _ *backend.Listener) { cfg.MeshCharts = meshes.Source{Dirs: dirs} })
	dyn, _ := c.Dynamic()
	t.Cleanup(func() {
		_ = dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(context.Background(), "linkerd", metav1.DeleteOptions{})
	})
	run := func(method, path string) []string {
		t.Helper()
		var r answer
		if method == http.MethodPost {
			r = ts.postJSON(t, path, map[string]any{"timeout": "2m"})
		} else {
			r = ts.do(t, method, path, "", nil)
		}
		if r.Status != http.StatusAccepted {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
		var started struct{ Operation struct{ ID string } }
		r.decode(t, &started)
		state, msg := ts.waitOperation(t, started.Operation.ID)
		evs, _ := ts.DB.Events(context.Background(), started.Operation.ID, 0, 1000)
		var log []string
		for _, e := range evs {
			log = append(log, e.Type+" "+string(e.Data))
		}
		if state != "succeeded" {
			t.Fatalf("%s %s: %s %s\n%s", method, path, state, msg, strings.Join(log, "\n"))
		}
		return log
	}
	log := strings.Join(run(http.MethodPost, "/api/v1/meshes/linkerd/install"), "\n")
	for _, want := range []string{`installed {"mesh":"linkerd"`, `workload {"apiVersion":"apps/v1","kind":"Deployment","namespace":"linkerd","name":"linkerd-destination"`, "linkerd-control-plane revision 1 deployed"} {
		if !strings.Contains(log, want) {
			t.Errorf("install events lack %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "PRIVATE KEY") || strings.Contains(log, "BEGIN CERTIFICATE") {
		t.Errorf("install events hold Linkerd's identity:\n%s", log)
	}
	var list struct{ Meshes []kube.MeshStatus }
	ts.get(t, "/api/v1/meshes").decode(t, &list)
	if m := list.Meshes[3]; m.Name != "linkerd" || !m.Installed || !m.Healthy || m.Version != "edge-26.8.3" {
		t.Errorf("linkerd after the install: %+v", m)
	}
	log = strings.Join(run(http.MethodDelete, "/api/v1/meshes/linkerd"), "\n")
	if !strings.Contains(log, `uninstalled {"mesh":"linkerd","left":["Namespace linkerd"]}`) {
		t.Errorf("uninstall events:\n%s", log)
	}
}

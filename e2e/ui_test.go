package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/kube/kubetest"
	"github.com/meshdock/meshdock/meshes"
)

// uiProject is the running compose project the browser imports.
const uiProject = "meshdock-e2e-ui"

// The UI end to end in a real browser (Debian's chromium, driven by
// playwright-core from ui/e2e/run.mjs) against the real server binary with
// the UI built in, the real Docker Engine and the test environment's
// control plane: import by paste and by upload, broken YAML, a running
// compose project, the graph, warnings and manifests, a deploy with no
// mesh and one with Istio (installed beforehand by meshdock from its
// charts, its webhooks set to Ignore as the environment needs), a load
// test against a loopback server with its live chart, the SMP file
// downloaded and read, a comparison; bad input: a file that is not
// compose, one over the limit, broken YAML, a cluster that cannot be
// reached, the server killed under a running test; each step
// screenshotted in light and dark into ui/test-results/e2e, each screen
// checked with axe-core.
func TestUIInTheBrowser(t *testing.T) {
	c := requireCluster(t)
	requireDocker(t)
	node, chromium := requireBrowser(t)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()

	// Istio, installed by meshdock from its charts when they are here;
	// without them the browser deploys with no mesh only.
	mesh := meshes.Istio
	dirs, missing := kubetest.FindChartDirs("..")
	if missing != "" {
		t.Logf("no deploy onto a mesh: %s", missing)
		mesh = ""
	}
	svc := app.New(app.Config{MeshCharts: meshes.Source{Dirs: dirs}})
	if mesh != "" {
		kubetest.MeshLock(t)
		kubetest.WaitMeshNamespacesGone(t, c)
		in, err := svc.InstallMesh(ctx, c, mesh, app.MeshRequest{Timeout: meshdock.Duration(3 * time.Minute)}, func(string, any) error { return nil })
		if err != nil {
			t.Fatalf("install istio: %s", meshdock.ErrorMessage(err))
		}
		kubetest.IgnoreWebhooks(t, c, in.Releases...)
	}
	dyn, _ := c.Dynamic()
	t.Cleanup(func() {
		// The browser's namespaces, then the mesh.
		list, _ := dyn.Resource(namespaces).List(context.Background(), metav1.ListOptions{})
		if list != nil {
			for _, ns := range list.Items {
				if strings.HasPrefix(ns.GetName(), "ui-") {
					_ = dyn.Resource(namespaces).Delete(context.Background(), ns.GetName(), metav1.DeleteOptions{})
				}
			}
		}
		if mesh == "" {
			return
		}
		if _, err := svc.UninstallMesh(context.Background(), c, mesh, app.MeshRequest{Force: true}, func(string, any) error { return nil }); err != nil {
			t.Errorf("uninstall istio: %s", meshdock.ErrorMessage(err))
		}
		kubetest.WaitMeshNamespacesGone(t, c)
	})

	// A compose project running in Docker.
	runProject(ctx, t, uiProject, map[string]string{"compose.yaml": composeFile})

	// The server, with the UI built in.
	bin := filepath.Join(t.TempDir(), "meshdock")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/meshdock").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// Beside the test cluster, a context whose API server is not there.
	gone := filepath.Join(t.TempDir(), "gone.kubeconfig")
	if err := os.WriteFile(gone, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {server: \"https://127.0.0.1:1\"}\n"+
		"users:\n- name: gone\n  user: {token: x}\ncontexts:\n- name: gone\n  context: {cluster: gone, user: gone}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := exec.CommandContext(ctx, bin, "serve", "--addr", addr, "--allow-clusters", "--data", t.TempDir())
	serve.Env = append(os.Environ(), "KUBECONFIG="+os.Getenv("KUBECONFIG")+string(os.PathListSeparator)+gone)
	var serveLog strings.Builder
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Signal(os.Interrupt); _ = serve.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/api/v1/health"); err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer:\n%s", serveLog.String())
		}
	}

	// A loopback target for the load tests.
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer target.Close()

	out, _ := filepath.Abs("../ui/test-results/e2e")
	_ = os.RemoveAll(out)
	args := []string{"e2e/run.mjs", "--url", "http://" + addr + "/", "--out", out, "--example", "../examples/shop",
		"--target", target.URL + "/", "--deploy", "--project", uiProject, "--unreachable", "gone",
		// Last, the server is killed under a running test: the page says so
		// and stays usable.
		"--server-pid", fmt.Sprint(serve.Process.Pid)}
	if mesh != "" {
		args = append(args, "--mesh", mesh)
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = "../ui"
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	report, err := cmd.CombinedOutput()
	t.Logf("browser:\n%s", report)
	if err != nil {
		t.Fatalf("the browser run failed (screenshots in %s): %v\nserver log:\n%s", out, err, tail(serveLog.String(), 4000))
	}
	shots, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if len(shots) < 16 {
		t.Errorf("%d screenshots in %s", len(shots), out)
	}
}

// requireBrowser finds Node.js and Debian's chromium, and the built UI
// with the packages its browser runs use.
func requireBrowser(t *testing.T) (node, chromium string) {
	t.Helper()
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("needs Debian's chromium (apt-get install chromium; .ci/run installs it): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("needs Node.js")
	}
	for _, f := range []string{"../ui/dist/index.html", "../ui/node_modules/playwright-core/package.json", "../ui/node_modules/axe-core/axe.min.js"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: build the UI first (make ui)", f)
		}
	}
	return node, chromium
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock/e2e/testimage"
)

// extProject is the running compose project the extension imports.
const extProject = "meshdock-e2e-ext"

// extProjectFiles are its files: the compose file names an env file, and
// .env sets what it interpolates, so an import that did not read them
// differs.
var extProjectFiles = map[string]string{
	"compose.yaml": fmt.Sprintf("services:\n  api:\n    image: %[1]s\n    pull_policy: never\n    env_file: api.env\n    environment:\n      GREETING: ${GREETING}\n"+
		"  web:\n    image: %[1]s\n    pull_policy: never\n    depends_on: [api]\n    ports: [\"127.0.0.1::8080\"]\n", testimage.Tag),
	"api.env": "NAME=api\nPORT=9090\n",
	".env":    "GREETING=from-the-host\n",
}

// desktopBridge stands in for Docker Desktop around the extension's tab:
// it serves the UI from the image's ui/ folder, carries the page's service
// requests to the backend's unix socket as Docker Desktop's socket bridge
// does, runs the image's host binary for the page's host commands, and
// lets the browser run restart the backend's container.
type desktopBridge struct {
	ui, hostBin, kubeconfig, home string
	run                           *extensionRun
}

func (b *desktopBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/__desktop/vm":
		b.vm(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/__desktop/exec":
		b.exec(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/__test/restart":
		if err := b.run.restart(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/__"):
		http.FileServer(http.Dir(b.ui)).ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// vm is one request of the page's ddClient.extension.vm.service: {url,
// method, headers, data}, data sent as it is when a string, else as JSON;
// the answer {status, body}, or {error} when the socket cannot be reached.
func (b *desktopBridge) vm(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL     string            `json:"url"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
		Data    json.RawMessage   `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.HasPrefix(req.URL, "/") {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var body io.Reader
	if len(req.Data) > 0 && string(req.Data) != "null" {
		var s string
		if json.Unmarshal(req.Data, &s) == nil {
			body = strings.NewReader(s)
		} else {
			body = bytes.NewReader(req.Data)
		}
	}
	out, err := http.NewRequestWithContext(r.Context(), req.Method, "http://meshdock"+req.URL, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for k, v := range req.Headers {
		out.Header.Set(k, v)
	}
	if body != nil && out.Header.Get("Content-Type") == "" {
		out.Header.Set("Content-Type", "application/json")
	}
	answer := map[string]any{}
	res, err := b.run.client.Do(out)
	if err != nil {
		answer["error"] = err.Error()
	} else {
		data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
		res.Body.Close()
		answer["status"], answer["body"] = res.StatusCode, string(data)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

// exec runs one of the extension's host binaries: {cmd, args} -> {stdout,
// stderr, code}, with the test's kubeconfig as the host's.
func (b *desktopBridge) exec(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Cmd  string   `json:"cmd"`
		Args []string `json:"args"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Cmd != "meshdock-host" {
		http.Error(w, "only the extension's host binary runs", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.hostBin, req.Args...)
	cmd.Env = []string{"HOME=" + b.home, "KUBECONFIG=" + b.kubeconfig, "PATH=/usr/bin:/bin"}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		code = exit.ExitCode()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"stdout": stdout.String(), "stderr": stderr.String(), "code": code})
}

// The extension end to end as Docker Desktop would run it: the image built
// offline and run as its compose file says, its UI served from the image's
// ui/ folder in the real browser through a bridge standing in for Docker
// Desktop (ui/e2e/desktop.mjs): the example imported by upload, a running
// compose project imported with its own files read by the image's host
// binary, the Helm chart downloaded whole, the host's kubeconfig taken,
// and after a restart of the container both apps still there.
func TestExtensionInTheBrowser(t *testing.T) {
	requireDocker(t)
	node, chromium := requireBrowser(t)
	m, c := readExtension(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	image := buildExtension(t, ctx)

	// The UI and the host binary, from the image.
	from := t.TempDir()
	id, err := exec.CommandContext(ctx, "docker", "create", image).Output()
	if err != nil {
		t.Fatal(err)
	}
	cid := strings.TrimSpace(string(id))
	defer exec.Command("docker", "rm", cid).Run()
	tab := m.UI["dashboard-tab"]
	for _, p := range []string{tab.Root, "/linux/meshdock-host"} {
		if out, err := exec.CommandContext(ctx, "docker", "cp", cid+":"+p, filepath.Join(from, filepath.Base(p))).CombinedOutput(); err != nil {
			t.Fatalf("docker cp %s: %v %s", p, err, out)
		}
	}

	// A compose project running in Docker, its files in a folder of this
	// machine that the container cannot see.
	runProject(ctx, t, extProject, extProjectFiles)

	// The host's kubeconfig: a context on this machine's loopback, which
	// the container reaches as host.docker.internal, here its own
	// loopback: listed, and unreachable.
	home := t.TempDir()
	kubeconfig := filepath.Join(home, "config")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\ncurrent-context: desktop-test\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\n"+
		"users:\n- name: u\n  user: {token: x}\ncontexts:\n- name: desktop-test\n  context: {cluster: c, user: u}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	run := runExtension(t, ctx, image, m, c, "--add-host", "host.docker.internal:127.0.0.1")
	bridge := httptest.NewServer(&desktopBridge{ui: filepath.Join(from, filepath.Base(tab.Root)), hostBin: filepath.Join(from, "meshdock-host"),
		kubeconfig: kubeconfig, home: home, run: run})
	defer bridge.Close()

	out, _ := filepath.Abs("../ui/test-results/e2e-desktop")
	_ = os.RemoveAll(out)
	cmd := exec.CommandContext(ctx, node, "e2e/desktop.mjs", "--url", bridge.URL+"/"+tab.Src, "--out", out, "--example", "../examples/shop",
		"--project", extProject, "--context", "desktop-test")
	cmd.Dir = "../ui"
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	report, err := cmd.CombinedOutput()
	t.Logf("browser:\n%s", report)
	if err != nil {
		logs, _ := exec.Command("docker", "logs", "--tail", "50", run.name).CombinedOutput()
		t.Fatalf("the browser run failed (screenshots in %s): %v\ncontainer log:\n%s", out, err, logs)
	}

	// The project was imported from its own files, read on the host.
	var apps struct {
		Apps []struct{ ID, Name, Origin string }
	}
	run.get(t, "/api/v1/apps", &apps)
	var found bool
	for _, a := range apps.Apps {
		if a.Name != extProject {
			continue
		}
		found = true
		var view struct {
			Origin string
			Files  []struct{ Name string }
		}
		run.get(t, "/api/v1/apps/"+a.ID, &view)
		var names []string
		for _, f := range view.Files {
			names = append(names, f.Name)
		}
		if view.Origin != "project" || !strings.Contains(strings.Join(names, " "), "api.env") {
			t.Errorf("the project was imported as %s from %q", view.Origin, names)
		}
		res, err := run.client.Get("http://meshdock/api/v1/apps/" + a.ID + "/manifests")
		if err != nil {
			t.Fatal(err)
		}
		manifests, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(manifests), "from-the-host") {
			t.Errorf("the manifests do not carry the host's .env")
		}
	}
	if !found {
		t.Errorf("no app %s after the run: %+v", extProject, apps)
	}
}

package backend_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdock/meshdock/backend"
)

// unreachableKubeconfig makes this machine's kubeconfig one whose only
// cluster nobody answers at: requests get past the cluster lookup, and
// nothing is installed anywhere. It returns the file's folder, a path of
// the server that no answer may name.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: one, context: {cluster: c, user: u}}]
current-context: one
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kc)
	return dir
}

// TestMeshRequestsRefused: a bad install or uninstall is refused before any
// work, with a 4xx that says what is wrong, never a 500 nor a path of the
// server.
func TestMeshRequestsRefused(t *testing.T) {
	kcDir := unreachableKubeconfig(t)
	ts := startServer(t, "", withListener(backend.Listener{TCP: true, AllowClusters: true}))
	big := `{"values":{"istiod":{"pad":"` + strings.Repeat("x", 100<<10) + `"}}}`
	type tc struct {
		name, method, path, body string
		header                   []string
		chunked                  bool
		status                   int
		code                     string
		msg                      []string
	}
	install := func(name, mesh, body string, status int, code string, msg ...string) tc {
		mesh, query, _ := strings.Cut(mesh, "?")
		if query != "" {
			query = "?" + query
		}
		return tc{name: name, method: "POST", path: "/api/v1/meshes/" + mesh + "/install" + query, body: body, status: status, code: code, msg: msg}
	}
	uninstall := func(name, query string, status int, code string, msg ...string) tc {
		return tc{name: name, method: "DELETE", path: "/api/v1/meshes/istio" + query, status: status, code: code, msg: msg}
	}
	allowed := "none, istio, istio-ambient, linkerd, consul, kuma"
	cases := []tc{
		install("unknown mesh", "envoy", "", 400, "invalid", "mesh must be one of "+allowed, `not "envoy"`),
		install("unknown mesh with a body", "envoy", `{"timeout":"1m"}`, 400, "invalid", "mesh must be one of "+allowed),
		install("mesh name in capitals", "Istio", "", 400, "invalid", "mesh must be one of", `"Istio"`),
		install("empty mesh name", "", "", 400, "invalid", "mesh must be one of "+allowed),
		{name: "unknown mesh uninstall", method: "DELETE", path: "/api/v1/meshes/envoy", status: 400, code: "invalid", msg: []string{"mesh must be one of " + allowed, `not "envoy"`}},
		install("values of another mesh's release", "istio", `{"values":{"consul":{"server":{"replicas":3}}}}`, 400, "invalid",
			`values: "consul" is not a release of istio`, "istio-base, istiod"),
		install("values of a release of the other Istio mode", "istio", `{"values":{"ztunnel":{}}}`, 400, "invalid", `"ztunnel" is not a release of istio`),
		install("values for none", "none", `{"values":{"istiod":{}}}`, 400, "invalid", "mesh none installs no charts and takes no values"),
		install("values of a release, not an object", "istio", `{"values":{"istiod":3}}`, 400, "invalid", `"values"`, "an object"),
		install("values not an object", "istio", `{"values":["istiod"]}`, 400, "invalid", "values"),
		install("release given twice in values", "istio", `{"values":{"istiod":{},"istiod":{"a":1}}}`, 400, "invalid", `key "istiod" is given twice in values`),
		install("unknown field", "istio", `{"mesh":"istio"}`, 400, "invalid", `unknown field "mesh"`, "context", "values", "timeout"),
		install("helmWait is not for clients", "istio", `{"helmWait":true}`, 400, "invalid", `unknown field "helmWait"`),
		install("field twice", "istio", `{"timeout":"1m","timeout":"2h"}`, 400, "invalid", `key "timeout" is given twice`),
		install("timeout of a year", "istio", `{"timeout":"1y"}`, 400, "invalid", `"1y" is not a duration`),
		install("timeout over an hour", "istio", `{"timeout":"61m"}`, 400, "invalid", "timeout must be between 0 and 1h0m0s", "1h1m0s"),
		install("negative timeout", "istio", `{"timeout":"-1s"}`, 400, "invalid", "timeout must be between 0"),
		install("timeout as a number", "istio", `{"timeout":60}`, 400, "invalid", "not a duration", "as a string"),
		install("malformed JSON", "istio", `{"values":`, 400, "invalid", "malformed JSON"),
		install("array body", "istio", `[]`, 400, "invalid", "must be a JSON object"),
		install("two JSON values", "istio", `{} {}`, 400, "invalid", "more than one value"),
		install("query and body name other contexts", "istio?context=a", `{"context":"b"}`, 400, "invalid", `context "a"`, `the body "b"`, "name one"),
		install("context given twice", "istio?context=a&context=a", "", 400, "invalid", "query parameter context is given 2 times"),
		install("a bad query string", "istio?context=%zz", "", 400, "invalid", "cannot read the query string"),
		install("body over the limit", "istio", big, 413, "too_large", "at most 64 KiB"),
		{name: "chunked body over the limit", method: "POST", path: "/api/v1/meshes/istio/install", body: big, chunked: true,
			status: 413, code: "too_large", msg: []string{"over 64 KiB"}},
		uninstall("force neither true nor false", "?force=maybe", 400, "invalid", `force must be true or false, not "maybe"`),
		uninstall("force given twice", "?force=true&force=false", 400, "invalid", "query parameter force is given 2 times"),
		uninstall("context given twice in an uninstall", "?context=a&context=b", 400, "invalid", "query parameter context is given 2 times"),
		{name: "uninstall with an unknown mesh and a bad force", method: "DELETE", path: "/api/v1/meshes/envoy?force=maybe", status: 400, code: "invalid", msg: []string{"force must be true or false"}},
		// As every other POST and DELETE on the port.
		{name: "cross-site install", method: "POST", path: "/api/v1/meshes/istio/install", header: []string{backend.ClientHeader, "", "Origin", "https://evil.example"},
			status: 403, code: "forbidden", msg: []string{"cross-site", "evil.example"}},
		{name: "cross-site fetch of an install", method: "POST", path: "/api/v1/meshes/istio/install", header: []string{backend.ClientHeader, "", "Sec-Fetch-Site", "cross-site"},
			status: 403, code: "forbidden", msg: []string{"cross-site"}},
		{name: "install with the client header and another site's Origin", method: "POST", path: "/api/v1/meshes/istio/install", header: []string{"Origin", "https://evil.example"},
			status: 403, code: "forbidden", msg: []string{"cross-site"}},
		{name: "install without Origin or client header", method: "POST", path: "/api/v1/meshes/istio/install", header: []string{backend.ClientHeader, ""},
			status: 403, code: "forbidden", msg: []string{backend.ClientHeader + ": 1"}},
		{name: "cross-site uninstall", method: "DELETE", path: "/api/v1/meshes/istio?force=true", header: []string{backend.ClientHeader, "", "Origin", "http://localhost:9999"},
			status: 403, code: "forbidden", msg: []string{"cross-site"}},
		{name: "install under another Host", method: "POST", path: "/api/v1/meshes/istio/install", header: []string{"Host", "meshdock.attacker.test"},
			status: 403, code: "forbidden", msg: []string{"not allowed"}},
		{name: "GET of an install", method: "GET", path: "/api/v1/meshes/istio/install", status: 405, code: "invalid", msg: []string{"method not allowed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
				if c.chunked {
					body = io.MultiReader(body) // no length: the limit must hold while reading
				}
			}
			ctype := ""
			if c.body != "" {
				ctype = "application/json"
			}
			a := ts.do(t, c.method, c.path, ctype, body, c.header...)
			code, msg := a.errorOf(t)
			t.Logf("%d %s: %s", a.Status, code, msg)
			if a.Status != c.status || code != c.code {
				t.Errorf("%s %s: %d %s %q; want %d %s", c.method, c.path, a.Status, code, msg, c.status, c.code)
			}
			for _, w := range c.msg {
				if !strings.Contains(msg, w) {
					t.Errorf("the message lacks %q: %s", w, msg)
				}
			}
			for _, p := range []string{ts.Data, kcDir, os.TempDir(), os.Getenv("HOME") + "/"} {
				if strings.Contains(string(a.Body), p) {
					t.Errorf("the answer names %s, a path of the server: %s", p, a.Body)
				}
			}
		})
	}
}

// On the loopback port, meshes are installed and uninstalled only when
// the server was told it may use the clusters, as every cluster route;
// the refusal comes before the request is read.
func TestMeshesNeedPermissionOnTCP(t *testing.T) {
	unreachableKubeconfig(t)
	ts := startServer(t, "")
	for _, r := range []answer{
		ts.get(t, "/api/v1/meshes"),
		ts.do(t, "POST", "/api/v1/meshes/istio/install", "", nil),
		ts.postJSON(t, "/api/v1/meshes/istio/install", map[string]any{"timeout": "5m"}),
		ts.do(t, "POST", "/api/v1/meshes/envoy/install", "application/json", strings.NewReader(`{"nope":1}`)),
		ts.do(t, "DELETE", "/api/v1/meshes/istio?force=true", "", nil),
		ts.do(t, "DELETE", "/api/v1/meshes/envoy?force=maybe", "", nil),
	} {
		if code, msg := r.errorOf(t); r.Status != http.StatusForbidden || code != "forbidden" || !strings.Contains(msg, "--allow-clusters") {
			t.Errorf("%d %s %s", r.Status, code, msg)
		}
	}
}

// Mesh none installs nothing and is accepted as such: an operation that
// succeeds and says so. It has nothing to uninstall, which the client is
// told.
func TestMeshNone(t *testing.T) {
	unreachableKubeconfig(t)
	ts := startServer(t, "", withListener(backend.Listener{TCP: true, AllowClusters: true}))
	for _, body := range []string{"", `{}`, `{"context":"one","timeout":"1m"}`} {
		var r answer
		if body == "" {
			r = ts.do(t, "POST", "/api/v1/meshes/none/install", "", nil)
		} else {
			r = ts.do(t, "POST", "/api/v1/meshes/none/install?context=one", "application/json", strings.NewReader(body))
		}
		var started struct{ Operation struct{ ID, State string } }
		r.decode(t, &started)
		if r.Status != http.StatusAccepted || started.Operation.ID == "" || r.Header.Get("Location") != "/api/v1/operations/"+started.Operation.ID {
			t.Fatalf("install none with %q: %d %s (Location %q)", body, r.Status, r.Body, r.Header.Get("Location"))
		}
		if state, msg := ts.waitOperation(t, started.Operation.ID); state != "succeeded" {
			t.Fatalf("install none with %q: the operation %s: %s", body, state, msg)
		}
		evs, err := ts.DB.Events(context.Background(), started.Operation.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Type+" "+string(e.Data))
		}
		all := strings.Join(got, "\n")
		if !strings.Contains(all, "installs nothing") || !strings.Contains(all, `installed {"mesh":"none"`) {
			t.Errorf("the events of installing none:\n%s", all)
		}
	}

	// Refused at once or by the operation it starts, the answer says why.
	r := ts.do(t, "DELETE", "/api/v1/meshes/none", "", nil)
	msg := ""
	switch r.Status {
	case http.StatusBadRequest:
		_, msg = r.errorOf(t)
	case http.StatusAccepted:
		var started struct{ Operation struct{ ID string } }
		r.decode(t, &started)
		var state string
		if state, msg = ts.waitOperation(t, started.Operation.ID); state != "failed" {
			t.Errorf("uninstalling none: the operation %s", state)
		}
	default:
		t.Fatalf("uninstalling none: %d %s", r.Status, r.Body)
	}
	t.Logf("uninstalling none: %d %s", r.Status, msg)
	if !strings.Contains(msg, "nothing to uninstall") {
		t.Errorf("uninstalling none: %d %q", r.Status, msg)
	}
}

// A mesh request that names a context the kubeconfig lacks is not found,
// before any operation starts.
func TestMeshUnknownContext(t *testing.T) {
	unreachableKubeconfig(t)
	ts := startServer(t, "", withListener(backend.Listener{TCP: true, AllowClusters: true}))
	body, _ := json.Marshal(map[string]any{"context": "nope"})
	for _, r := range []answer{
		ts.do(t, "POST", "/api/v1/meshes/none/install", "application/json", strings.NewReader(string(body))),
		ts.do(t, "POST", "/api/v1/meshes/istio/install?context=nope", "", nil),
		ts.do(t, "DELETE", "/api/v1/meshes/istio?context=nope", "", nil),
	} {
		if code, msg := r.errorOf(t); r.Status != http.StatusNotFound || code != "not_found" || !strings.Contains(msg, "nope") {
			t.Errorf("%d %s %s", r.Status, code, msg)
		}
	}
}

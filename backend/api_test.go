package backend_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/store"
)

const composeYAML = `services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    depends_on: [api]
  api:
    image: python:3.12-alpine
    command: ["python", "-m", "http.server", "8000"]
    expose: ["8000"]
    environment:
      GREETING: ${GREETING:-hello}
`

// testServer is a real server on a real loopback listener, over a real store.
type testServer struct {
	*backend.Server
	URL  string
	DB   *store.DB
	Data string
	http *httptest.Server
}

type serverOpt func(*backend.Config, *backend.Listener)

func withEngine(e engine.Engine) serverOpt {
	return func(c *backend.Config, _ *backend.Listener) { c.Engine = e }
}

func withListener(l backend.Listener) serverOpt {
	return func(_ *backend.Config, ln *backend.Listener) { *ln = l }
}

func startServer(t testing.TB, dataDir string, opts ...serverOpt) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "meshdock.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := backend.Config{Store: db, Engine: engine.Unavailable{Reason: "not used by this test"}, Version: "test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DataDir: dataDir}
	l := backend.Listener{TCP: true, AllowDir: true}
	for _, o := range opts {
		o(&cfg, &l)
	}
	srv := backend.New(cfg)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler(l))
	ts := &testServer{Server: srv, URL: hs.URL, DB: db, Data: dataDir, http: hs}
	t.Cleanup(ts.stop)
	return ts
}

// stop shuts the server down as serve does; it may be called twice.
func (ts *testServer) stop() {
	if ts.http == nil {
		return
	}
	ts.Shutdown(context.Background())
	ts.http.Close()
	ts.DB.Close()
	ts.http = nil
}

type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a answer) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body, v); err != nil {
		t.Fatalf("answer is not JSON (%v): %s", err, a.Body)
	}
}

// errorOf returns the code and message of an error answer.
func (a answer) errorOf(t testing.TB) (string, string) {
	var body struct {
		Error struct{ Code, Message string }
	}
	a.decode(t, &body)
	return body.Error.Code, body.Error.Message
}

func (ts *testServer) do(t testing.TB, method, path, contentType string, body io.Reader, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// What every client that is not a browser sends; header can unset it.
	req.Header.Set(backend.ClientHeader, "1")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func (ts *testServer) get(t testing.TB, path string) answer { return ts.do(t, "GET", path, "", nil) }

func (ts *testServer) postJSON(t testing.TB, path string, v any) answer {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return ts.do(t, "POST", path, "application/json", bytes.NewReader(b))
}

type appAnswer struct {
	ID       string
	Name     string
	Origin   string
	Files    []struct{ Name string }
	Objects  int
	Warnings []struct{ Service, Key, Message string }
	Graph    struct {
		Nodes []struct{ ID string }
		Edges []struct{ From, To, Kind string }
	}
}

func (ts *testServer) importFiles(t testing.TB, name string, files map[string]string) appAnswer {
	t.Helper()
	req := backend.ImportRequest{Name: name}
	for n, c := range files {
		req.Files = append(req.Files, backend.FileUpload{Name: n, Content: c})
	}
	a := ts.postJSON(t, "/api/v1/apps", req)
	if a.Status != http.StatusCreated {
		t.Fatalf("import: %d %s", a.Status, a.Body)
	}
	var app appAnswer
	a.decode(t, &app)
	return app
}

func serviceNames(app appAnswer) string {
	var names []string
	for _, n := range app.Graph.Nodes {
		names = append(names, n.ID)
	}
	return strings.Join(names, ",")
}

func TestHealthAndInfo(t *testing.T) {
	ts := startServer(t, "")
	a := ts.get(t, "/api/v1/health")
	if a.Status != 200 || !strings.Contains(string(a.Body), `"ok"`) {
		t.Fatalf("health: %d %s", a.Status, a.Body)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: one, context: {cluster: c, user: u}}, {name: two, context: {cluster: c, user: u}}]
current-context: two
`), 0o600)
	t.Setenv("KUBECONFIG", kc)
	a = ts.get(t, "/api/v1/info")
	var info struct {
		Version string
		Engine  struct {
			Reachable bool
			Error     string
		}
		Clusters struct {
			Configured     bool
			Contexts       int
			CurrentContext string
		}
	}
	a.decode(t, &info)
	if a.Status != 200 || info.Version != "test" || info.Engine.Reachable || !strings.Contains(info.Engine.Error, "not used by this test") ||
		!info.Clusters.Configured || info.Clusters.Contexts != 2 || info.Clusters.CurrentContext != "two" {
		t.Fatalf("info: %d %s", a.Status, a.Body)
	}
	// No path of the server's disk: not the kubeconfig's, nor its folder.
	if strings.Contains(string(a.Body), filepath.Dir(kc)) || strings.Contains(string(a.Body), "/.kube") {
		t.Fatalf("info names a path of the server: %s", a.Body)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	a = ts.get(t, "/api/v1/info")
	a.decode(t, &info)
	if info.Clusters.Configured || info.Clusters.Contexts != 0 {
		t.Fatalf("info without a kubeconfig: %s", a.Body)
	}
}

func TestAppLifecycle(t *testing.T) {
	ts := startServer(t, "")
	app := ts.importFiles(t, "demo", map[string]string{"compose.yaml": composeYAML, ".env": "GREETING=hi\n"})
	if app.ID == "" || app.Name != "demo" || app.Origin != "files" || app.Objects == 0 || serviceNames(app) != "api,web" {
		t.Fatalf("created app: %+v", app)
	}

	a := ts.get(t, "/api/v1/apps")
	var list struct{ Apps []struct{ ID, Name string } }
	a.decode(t, &list)
	if a.Status != 200 || len(list.Apps) != 1 || list.Apps[0].ID != app.ID {
		t.Fatalf("list: %d %s", a.Status, a.Body)
	}

	a = ts.get(t, "/api/v1/apps/"+app.ID)
	var got appAnswer
	a.decode(t, &got)
	if a.Status != 200 || got.ID != app.ID || len(got.Files) != 2 {
		t.Fatalf("get: %d %s", a.Status, a.Body)
	}

	a = ts.get(t, "/api/v1/apps/"+app.ID+"/manifests?format=yaml")
	if a.Status != 200 || a.Header.Get("Content-Type") != "application/yaml" ||
		a.Header.Get("Content-Disposition") != `attachment; filename="demo.yaml"` ||
		!strings.Contains(string(a.Body), "kind: Deployment") || !strings.Contains(string(a.Body), "value: hi") {
		t.Fatalf("manifests yaml: %d %v\n%s", a.Status, a.Header, a.Body)
	}
	a = ts.get(t, "/api/v1/apps/"+app.ID+"/manifests")
	if a.Status != 200 || !strings.Contains(string(a.Body), "kind: Deployment") {
		t.Fatalf("manifests default: %d %s", a.Status, a.Body)
	}
	a = ts.get(t, "/api/v1/apps/"+app.ID+"/manifests?format=json")
	var objList struct {
		Kind  string
		Items []map[string]any
	}
	a.decode(t, &objList)
	if a.Status != 200 || objList.Kind != "List" || len(objList.Items) != app.Objects {
		t.Fatalf("manifests json: %d kind %q, %d items, want %d", a.Status, objList.Kind, len(objList.Items), app.Objects)
	}

	a = ts.get(t, "/api/v1/apps/"+app.ID+"/warnings")
	var ws struct{ Warnings []any }
	a.decode(t, &ws)
	if a.Status != 200 || ws.Warnings == nil {
		t.Fatalf("warnings: %d %s", a.Status, a.Body)
	}

	a = ts.get(t, "/api/v1/apps/"+app.ID+"/graph")
	var g struct {
		Nodes []struct{ ID string }
		Edges []struct{ From, To string }
	}
	a.decode(t, &g)
	if a.Status != 200 || len(g.Nodes) != 2 || len(g.Edges) != 1 || g.Edges[0].From != "web" || g.Edges[0].To != "api" {
		t.Fatalf("graph: %d %s", a.Status, a.Body)
	}

	a = ts.get(t, "/api/v1/apps/"+app.ID+"/paths")
	var paths struct {
		Paths []struct {
			From, To string
			Port     int
			Reasons  []string
		}
	}
	a.decode(t, &paths)
	if a.Status != 200 || len(paths.Paths) == 0 {
		t.Fatalf("paths: %d %s", a.Status, a.Body)
	}
	for _, p := range paths.Paths {
		if len(p.Reasons) == 0 || p.To == "" {
			t.Errorf("path without a reason or callee: %+v", p)
		}
	}
	for _, c := range []struct{ query, typ, magic string }{
		{"", "application/gzip", "\x1f\x8b"}, {"?format=helm&mesh=istio&authz=enforce&archive=zip", "application/zip", "PK"},
	} {
		a = ts.get(t, "/api/v1/apps/"+app.ID+"/export"+c.query)
		if a.Status != 200 || a.Header.Get("Content-Type") != c.typ || !strings.HasPrefix(string(a.Body), c.magic) || !strings.Contains(a.Header.Get("Content-Disposition"), "attachment; filename=\"demo-") {
			t.Fatalf("export%s: %d %v", c.query, a.Status, a.Header)
		}
	}
	// As base64 text, the same archive.
	whole := ts.get(t, "/api/v1/apps/"+app.ID+"/export?archive=zip")
	a = ts.get(t, "/api/v1/apps/"+app.ID+"/export?archive=zip&encoding=base64")
	if dec, err := base64.StdEncoding.DecodeString(string(a.Body)); a.Status != 200 || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/plain") || err != nil || !bytes.Equal(dec, whole.Body) {
		t.Errorf("export as base64: %d %v %v", a.Status, a.Header, err)
	}
	for _, q := range []string{"?format=yaml", "?mesh=cilium", "?mesh=consul&authz=audit", "?archive=rar", "?format=helm&format=kustomize", "?encoding=hex"} {
		a = ts.get(t, "/api/v1/apps/"+app.ID+"/export"+q)
		if code, msg := a.errorOf(t); a.Status != 400 || code != "invalid" || msg == "" {
			t.Errorf("export%s: %d %s", q, a.Status, a.Body)
		}
	}

	a = ts.do(t, "DELETE", "/api/v1/apps/"+app.ID, "", nil)
	if a.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	for _, p := range []string{"", "/manifests", "/warnings", "/graph", "/paths", "/export"} {
		if a := ts.get(t, "/api/v1/apps/"+app.ID+p); a.Status != 404 {
			t.Fatalf("GET %s after delete: %d %s", p, a.Status, a.Body)
		}
	}
	if a := ts.do(t, "DELETE", "/api/v1/apps/"+app.ID, "", nil); a.Status != 404 {
		t.Fatalf("second delete: %d %s", a.Status, a.Body)
	}
}

func TestImportMultipart(t *testing.T) {
	ts := startServer(t, "")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("name", "parts")
	mw.WriteField("env", "GREETING=bonjour")
	mw.WriteField("profiles", "debug")
	fw, _ := mw.CreateFormFile("files", "compose.yaml")
	fw.Write([]byte(composeYAML + "  extra:\n    image: busybox\n    profiles: [debug]\n    volumes: [./conf/app.conf:/etc/app.conf]\n"))
	// A nested name: Part.FileName would cut it to "app.conf".
	fw, _ = mw.CreateFormFile("files", "conf/app.conf")
	fw.Write([]byte("x=1\n"))
	mw.Close()
	a := ts.do(t, "POST", "/api/v1/apps", mw.FormDataContentType(), &body)
	if a.Status != http.StatusCreated {
		t.Fatalf("multipart import: %d %s", a.Status, a.Body)
	}
	var app appAnswer
	a.decode(t, &app)
	if app.Name != "parts" || serviceNames(app) != "api,extra,web" || len(app.Files) != 2 || app.Files[1].Name != "conf/app.conf" {
		t.Fatalf("multipart app: %s", a.Body)
	}
	m := ts.get(t, "/api/v1/apps/"+app.ID+"/manifests")
	if !strings.Contains(string(m.Body), "bonjour") {
		t.Fatalf("the env field did not reach the conversion:\n%s", m.Body)
	}
}

func TestImportDir(t *testing.T) {
	ts := startServer(t, "")
	dir, err := filepath.Abs("../examples/shop")
	if err != nil {
		t.Fatal(err)
	}
	a := ts.postJSON(t, "/api/v1/apps", map[string]any{"dir": dir})
	if a.Status != http.StatusCreated {
		t.Fatalf("dir import: %d %s", a.Status, a.Body)
	}
	var app appAnswer
	a.decode(t, &app)
	var files []string
	for _, f := range app.Files {
		files = append(files, f.Name)
	}
	// README.md is not part of the project: it must not be read.
	if app.Origin != "dir" || app.Name != "shop" || strings.Join(files, ",") != ".env,compose.yaml,secrets/db_password.txt,web/default.conf,worker.env" {
		t.Fatalf("dir app: origin %s, name %s, files %v", app.Origin, app.Name, files)
	}

	// The same files uploaded give the same app.
	up := map[string]string{}
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		up[f] = string(b)
	}
	same := ts.importFiles(t, "", up)
	if serviceNames(same) != serviceNames(app) || same.Objects != app.Objects || same.Name != "shop" {
		t.Fatalf("uploaded files differ from the directory: %+v vs %+v", same, app)
	}

	// On the socket (the extension), reading the server's disk is refused.
	sock := startServer(t, "", withListener(backend.Listener{}))
	a = sock.postJSON(t, "/api/v1/apps", map[string]any{"dir": dir})
	if code, msg := a.errorOf(t); a.Status != 403 || code != "forbidden" || !strings.Contains(msg, "--allow-dir") {
		t.Fatalf("dir import on the socket: %d %s", a.Status, a.Body)
	}
}

func TestComposeProjectsWithoutEngine(t *testing.T) {
	ts := startServer(t, "", withEngine(engine.Unavailable{Reason: "/nowhere/docker.sock does not exist"}))
	a := ts.get(t, "/api/v1/compose-projects")
	if code, msg := a.errorOf(t); a.Status != 503 || code != "unavailable" || !strings.Contains(msg, "/nowhere/docker.sock") {
		t.Fatalf("compose-projects without an engine: %d %s", a.Status, a.Body)
	}
	a = ts.postJSON(t, "/api/v1/apps", map[string]any{"project": "shop"})
	if a.Status != 503 {
		t.Fatalf("project import without an engine: %d %s", a.Status, a.Body)
	}
}

func TestUnknownEndpointAndMethod(t *testing.T) {
	ts := startServer(t, "")
	a := ts.get(t, "/api/v1/nope")
	if code, _ := a.errorOf(t); a.Status != 404 || code != "not_found" {
		t.Fatalf("unknown endpoint: %d %s", a.Status, a.Body)
	}
	a = ts.do(t, "PUT", "/api/v1/apps", "application/json", strings.NewReader("{}"))
	if code, _ := a.errorOf(t); a.Status != 405 || code != "invalid" {
		t.Fatalf("wrong method: %d %s", a.Status, a.Body)
	}
}

func TestPanicIsInternalError(t *testing.T) {
	var logs bytes.Buffer
	ts := startServer(t, "", func(c *backend.Config, _ *backend.Listener) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.Engine = panicking{}
	})
	a := ts.get(t, "/api/v1/compose-projects")
	if code, msg := a.errorOf(t); a.Status != 500 || code != "internal" || msg != "internal error" || strings.Contains(string(a.Body), "boom") {
		t.Fatalf("panic: %d %s", a.Status, a.Body)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("the panic was not logged in full: %s", logs.String())
	}
	if a := ts.get(t, "/api/v1/health"); a.Status != 200 {
		t.Fatal("the server did not survive a panic")
	}
}

type panicking struct{ engine.Unavailable }

func (panicking) Projects(context.Context) ([]engine.Project, error) { panic("boom: a secret detail") }

// TestServerEnvironmentDoesNotReachApps imports apps that name variables
// the server's own environment has: none of its values may appear.
func TestServerEnvironmentDoesNotReachApps(t *testing.T) {
	t.Setenv("MESHDOCK_TEST_SECRET", "server-secret-value")
	t.Setenv("HOME", "/home/server-home")
	ts := startServer(t, "")
	compose := `services:
  app:
    image: busybox
    environment:
      TOKEN: ${MESHDOCK_TEST_SECRET}
      FALLBACK: ${MESHDOCK_TEST_SECRET:-user-default}
      HOME:
      MESHDOCK_TEST_SECRET:
`
	app := ts.importFiles(t, "envcheck", map[string]string{"compose.yaml": compose})
	m := string(ts.get(t, "/api/v1/apps/"+app.ID+"/manifests").Body)
	for _, leak := range []string{"server-secret-value", "/home/server-home"} {
		if strings.Contains(m, leak) {
			t.Fatalf("the server's environment reached the app (%q):\n%s", leak, m)
		}
	}
	if !strings.Contains(m, "user-default") {
		t.Fatalf("the default of an unset variable was not used:\n%s", m)
	}
	// Variables the user passes are used.
	a := ts.postJSON(t, "/api/v1/apps", backend.ImportRequest{Name: "envcheck2", Env: map[string]string{"MESHDOCK_TEST_SECRET": "from-user"},
		Files: []backend.FileUpload{{Name: "compose.yaml", Content: compose}}})
	var app2 appAnswer
	a.decode(t, &app2)
	if m := string(ts.get(t, "/api/v1/apps/"+app2.ID+"/manifests").Body); !strings.Contains(m, "from-user") || strings.Contains(m, "server-secret-value") {
		t.Fatalf("user env: %s", m)
	}
}

// TestHeadOnEveryGetRoute: HEAD answers what GET would, without a body;
// on an event stream it answers the stream's headers and ends at once.
func TestHeadOnEveryGetRoute(t *testing.T) {
	ts := startServer(t, "")
	app := ts.importFiles(t, "head", map[string]string{"compose.yaml": composeYAML})
	op, err := ts.StartOperation(context.Background(), "test", "", func(ctx context.Context, _ func(string, any) error) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/health", "/api/v1/info", "/api/v1/apps", "/api/v1/apps/" + app.ID,
		"/api/v1/apps/" + app.ID + "/manifests", "/api/v1/apps/" + app.ID + "/manifests?format=json", "/api/v1/apps/" + app.ID + "/warnings",
		"/api/v1/apps/" + app.ID + "/graph", "/api/v1/compose-projects", "/api/v1/operations/" + op.ID,
		"/api/v1/apps/nope", "/api/v1/operations/nope/events", "/api/v1/apps/" + app.ID + "/manifests?format=xml"} {
		get := ts.get(t, path)
		head := ts.do(t, "HEAD", path, "", nil)
		if head.Status != get.Status || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") || len(head.Body) != 0 {
			t.Errorf("HEAD %s: %d %q %q; GET: %d %q", path, head.Status, head.Header.Get("Content-Type"), head.Body, get.Status, get.Header.Get("Content-Type"))
		}
	}
	start := time.Now()
	head := ts.do(t, "HEAD", "/api/v1/operations/"+op.ID+"/events", "", nil)
	if head.Status != 200 || head.Header.Get("Content-Type") != "text/event-stream" || time.Since(start) > 2*time.Second {
		t.Fatalf("HEAD of an event stream: %d %v after %v", head.Status, head.Header, time.Since(start))
	}
}

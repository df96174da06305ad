package backend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/e2e/testimage"
	"github.com/meshdock/meshdock/engine"
)

// testProject is the compose project this test runs on the real engine; a
// fixed name lets a run clean up what an interrupted one left.
const testProject = "meshdock-backend-test"

var projectCompose = fmt.Sprintf(`services:
  api:
    image: %[1]s
    pull_policy: never
    environment:
      NAME: api
      PORT: "9090"
      GREETING: ${GREETING}
    labels:
      tier: back
    healthcheck:
      test: ["CMD", "/server", "healthcheck"]
      interval: 1s
      timeout: 2s
      retries: 20
    volumes: [data:/data]
    networks:
      default:
        aliases: [backend]
  web:
    image: %[1]s
    pull_policy: never
    env_file: web.env
    ports: ["127.0.0.1::8080"]
    restart: unless-stopped
    depends_on:
      api: {condition: service_healthy}
  debug:
    image: %[1]s
    pull_policy: never
    profiles: [debug]
    environment: {NAME: debug}
  unused:
    image: %[1]s
    pull_policy: never
    profiles: [never-started]
volumes:
  data: {}
`, testimage.Tag)

// requireCompose skips unless a Docker Engine with the compose plugin answers.
func requireCompose(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker Engine and docker compose; skipped under -short")
	}
	if _, err := os.Stat("/var/run/docker.sock"); os.Getenv("DOCKER_HOST") == "" && err != nil {
		t.Skip(`needs a Docker Engine: DOCKER_HOST is not set and there is no /var/run/docker.sock; run scripts/testenv up and eval "$(scripts/testenv env)"`)
	}
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("needs the docker compose plugin (scripts/testenv up installs it): %v\n%s", err, out)
	}
}

type graphOf struct {
	Nodes []struct {
		ID, Image string
		Replicas  int
	}
	Edges []struct{ From, To, Kind, Detail string }
}

func TestImportRunningProject(t *testing.T) {
	requireCompose(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	if err := testimage.Build(ctx, testimage.Tag); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "proj")
	os.Mkdir(dir, 0o755)
	files := map[string]string{"compose.yaml": projectCompose, "web.env": "NAME=web\nDELAY=5ms\n", ".env": "GREETING=hello $$dollar\n"}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compose := func(args ...string) error {
		cmd := exec.Command("docker", append([]string{"compose", "-p", testProject}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("docker compose %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	compose("down", "--volumes", "--timeout", "2") // what an interrupted run may have left
	t.Cleanup(func() {
		if err := compose("down", "--volumes", "--timeout", "2"); err != nil {
			t.Error(err)
		}
	})
	if err := compose("--profile", "debug", "up", "--detach", "--wait", "--wait-timeout", "90"); err != nil {
		t.Fatal(err)
	}

	eng, err := engine.New("")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", withEngine(eng))

	var info struct {
		Engine struct {
			Reachable bool
			Version   string
		}
	}
	ts.get(t, "/api/v1/info").decode(t, &info)
	if !info.Engine.Reachable || info.Engine.Version == "" {
		t.Fatalf("info does not show the engine: %+v", info)
	}

	// The engine lists the project with what its labels say.
	var projects struct{ Projects []engine.Project }
	a := ts.get(t, "/api/v1/compose-projects")
	a.decode(t, &projects)
	var found *engine.Project
	for i, p := range projects.Projects {
		if p.Name == testProject {
			found = &projects.Projects[i]
		}
	}
	if a.Status != 200 || found == nil {
		t.Fatalf("compose-projects: %d %s", a.Status, a.Body)
	}
	if found.WorkingDir != dir || len(found.ConfigFiles) != 1 || found.ConfigFiles[0] != filepath.Join(dir, "compose.yaml") ||
		found.State != "running" || len(found.Services) != 3 || found.Services[0].Name != "api" || found.Services[0].Image != testimage.Tag {
		t.Fatalf("project as listed: %+v", found)
	}

	// Reference: the same files uploaded, with the profile the project was
	// started with.
	req := backend.ImportRequest{Name: testProject, Profiles: []string{"debug"}}
	for n, c := range files {
		req.Files = append(req.Files, backend.FileUpload{Name: n, Content: c})
	}
	a = ts.postJSON(t, "/api/v1/apps", req)
	var uploaded appAnswer
	a.decode(t, &uploaded)
	if serviceNames(uploaded) != "api,debug,web" {
		t.Fatalf("uploaded: %d %s", a.Status, a.Body)
	}
	var want graphOf
	ts.get(t, "/api/v1/apps/"+uploaded.ID+"/graph").decode(t, &want)
	wantManifests := string(ts.get(t, "/api/v1/apps/"+uploaded.ID+"/manifests").Body)

	checkBody := func(t *testing.T, ts *testServer, origin string, body any) appAnswer {
		t.Helper()
		a := ts.postJSON(t, "/api/v1/apps", body)
		if a.Status != 201 {
			t.Fatalf("import of the running project: %d %s", a.Status, a.Body)
		}
		var app appAnswer
		a.decode(t, &app)
		var got graphOf
		ts.get(t, "/api/v1/apps/"+app.ID+"/graph").decode(t, &got)
		sortGraph(&got)
		sortGraph(&want)
		if app.Origin != origin || app.Name != testProject || !reflect.DeepEqual(got, want) {
			t.Fatalf("import as %s:\napp %+v\ngraph %+v\nwant  %+v", origin, app, got, want)
		}
		return app
	}
	check := func(t *testing.T, ts *testServer, origin string) appAnswer {
		t.Helper()
		return checkBody(t, ts, origin, map[string]string{"project": testProject})
	}

	// Standalone: the files are read where the labels say, .env included.
	app := check(t, ts, "project")
	if m := string(ts.get(t, "/api/v1/apps/"+app.ID+"/manifests").Body); m != wantManifests {
		t.Errorf("manifests from the project's files differ from those of the uploaded files")
	}

	rebuilt, _, err := eng.Rebuild(ctx, testProject)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebuilt compose file:\n%s", rebuilt[0].Content)

	// The extension cannot read the host's files: rebuilt from containers.
	sock := startServer(t, "", withEngine(eng), withListener(backend.Listener{}))
	app = check(t, sock, "rebuilt")
	m := string(sock.get(t, "/api/v1/apps/"+app.ID+"/manifests").Body)
	for _, s := range []string{"value: hello $dollar", "name: NAME\n          value: web", "/server", "healthcheck", "tier: back"} {
		if !strings.Contains(m, s) {
			t.Errorf("rebuilt manifests lack %q", s)
		}
	}
	for _, s := range []string{"com.docker.compose"} {
		if strings.Contains(m, s) {
			t.Errorf("rebuilt manifests have %q", s)
		}
	}
	if len(app.Warnings) == 0 || !strings.Contains(app.Warnings[0].Message, "rebuilt from its containers") {
		t.Errorf("the rebuilt app does not say so: %+v", app.Warnings)
	}

	// The extension given the project's files as its host binary reads
	// them where the labels say: the project's own files, with the
	// profiles it runs under.
	host := exec.CommandContext(ctx, "go", append([]string{"run", "../cmd/meshdock-host", "project-files", "--dir", found.WorkingDir}, found.ConfigFiles...)...)
	read, err := host.Output()
	if err != nil {
		t.Fatalf("meshdock-host project-files: %v", err)
	}
	var given map[string]any
	if err := json.Unmarshal(read, &given); err != nil {
		t.Fatal(err)
	}
	given["project"] = testProject
	app = checkBody(t, sock, "project", given)
	if m := string(sock.get(t, "/api/v1/apps/"+app.ID+"/manifests").Body); m != wantManifests {
		t.Errorf("manifests from the files read on the host differ from those of the uploaded files")
	}
	// The host could not read them: rebuilt, and the warning says why.
	app = checkBody(t, sock, "rebuilt", map[string]string{"project": testProject, "unread": "compose.yaml: no\nsuch \u202efile"})
	if !strings.Contains(app.Warnings[0].Message, `could not be read where it runs, which said "compose.yaml: no such file"`) {
		t.Errorf("the rebuilt app does not say why: %+v", app.Warnings[0])
	}
	// Files without a project that runs, or with a folder, are refused.
	for _, body := range []map[string]any{
		{"project": "meshdock-no-such-project", "files": given["files"]},
		{"project": testProject, "dir": dir, "files": given["files"]},
	} {
		if a := sock.postJSON(t, "/api/v1/apps", body); a.Status != 404 && a.Status != 400 {
			t.Errorf("%v: %d %s", body["project"], a.Status, a.Body)
		}
	}

	// Files gone from disk: rebuilt too, and the warning says why.
	os.Remove(filepath.Join(dir, "compose.yaml"))
	app = check(t, ts, "rebuilt")
	if !strings.Contains(app.Warnings[0].Message, "cannot be read") {
		t.Errorf("warning does not say the files cannot be read: %+v", app.Warnings[0])
	}

	a = ts.postJSON(t, "/api/v1/apps", map[string]string{"project": "meshdock-no-such-project"})
	if code, msg := a.errorOf(t); a.Status != 404 || code != "not_found" || !strings.Contains(msg, "meshdock-no-such-project") {
		t.Fatalf("unknown project: %d %s", a.Status, a.Body)
	}
}

func sortGraph(g *graphOf) {
	sort.Slice(g.Nodes, func(i, j int) bool { return g.Nodes[i].ID < g.Nodes[j].ID })
	sort.Slice(g.Edges, func(i, j int) bool { return fmt.Sprint(g.Edges[i]) < fmt.Sprint(g.Edges[j]) })
}

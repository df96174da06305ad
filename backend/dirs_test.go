package backend_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/engine"
)

const secretMarker = "meshdock-test-secret-7d1c"

// exploitProject writes a compose project whose secret is a file of the
// server that is not part of it: read from a folder above the project,
// the file would reach the stored manifests. It returns the project's
// folder and the secret's path relative to /.
func exploitProject(t *testing.T) (dir, secret string) {
	t.Helper()
	base := t.TempDir()
	secretPath := filepath.Join(base, "private", "token.txt")
	dir = filepath.Join(base, "proj")
	for _, d := range []string{filepath.Dir(secretPath), dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(secretPath, []byte(secretMarker), 0o600); err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimPrefix(secretPath, "/")
	compose := "services:\n  web:\n    image: nginx\n    secrets: [token, environ]\n" +
		"secrets:\n  token:\n    file: " + secret + "\n  environ:\n    file: proc/self/environ\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, secret
}

func leaksSecret(body []byte) bool {
	return bytes.Contains(body, []byte(secretMarker)) ||
		bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString([]byte(secretMarker))))
}

// TestDirImportRefusesServerFolders: a folder import reads only a folder
// that can be a project, never / nor a system folder, the server's data
// directory or home, whatever path or link names them.
func TestDirImportRefusesServerFolders(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home", "user")
	homeProject := filepath.Join(home, "src", "shop")
	if err := os.MkdirAll(homeProject, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(homeProject, "compose.yaml"), []byte(composeYAML), 0o644)
	data := filepath.Join(t.TempDir(), "share", "meshdock")
	os.MkdirAll(data, 0o700)
	ts := startServer(t, data, func(c *backend.Config, _ *backend.Listener) { c.Home = home })
	inData := filepath.Join(data, "sub")
	os.Mkdir(inData, 0o755)
	os.WriteFile(filepath.Join(inData, "compose.yaml"), []byte(composeYAML), 0o644)

	proj, secret := exploitProject(t)
	links := t.TempDir()
	link := func(name, to string) string {
		p := filepath.Join(links, name)
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := filepath.Join(proj, "compose.yaml")
	before := ts.get(t, "/api/v1/apps").Body

	for _, c := range []struct {
		name, dir    string
		composeFiles []string
		status       int
		code, msg    string
	}{
		{"the root", "/", []string{strings.TrimPrefix(file, "/")}, 403, "forbidden", "root of the disk"},
		{"the root spelt with ..", "/tmp/..", []string{strings.TrimPrefix(file, "/")}, 403, "forbidden", "root of the disk"},
		{"a link to the root", link("root", "/"), []string{strings.TrimPrefix(file, "/")}, 403, "forbidden", "root of the disk"},
		{"a link to a link to the root", link("root2", filepath.Join(links, "root")), nil, 403, "forbidden", "root of the disk"},
		{"/etc", "/etc", nil, 403, "forbidden", "system folders"},
		{"inside /etc", "/etc/ssl", nil, 403, "forbidden", "system folders"},
		{"a link to /etc", link("etc", "/etc"), nil, 403, "forbidden", "system folders"},
		{"/proc", "/proc/self", nil, 403, "forbidden", "system folders"},
		{"/sys", "/sys", nil, 403, "forbidden", "system folders"},
		{"/dev", "/dev", nil, 403, "forbidden", "system folders"},
		{"/run", "/run", nil, 403, "forbidden", "system folders"},
		{"/var/run", "/var/run", nil, 403, "forbidden", "system folders"},
		{"/root", "/root", nil, 403, "forbidden", "system folders"},
		{"the data directory", data, nil, 403, "forbidden", "data directory"},
		{"inside the data directory", inData, nil, 403, "forbidden", "data directory"},
		{"above the data directory", filepath.Dir(data), nil, 403, "forbidden", "data directory"},
		{"a link to the data directory", link("data", data), nil, 403, "forbidden", "data directory"},
		{"the home", home, nil, 403, "forbidden", "home"},
		{"above the home", filepath.Dir(home), nil, 403, "forbidden", "home"},
		{"the temporary directory", os.TempDir(), nil, 403, "forbidden", "is refused"},
		{"a file", file, nil, 400, "invalid", "not a directory"},
		{"a link to nowhere", link("none", "/nonexistent/meshdock"), nil, 400, "invalid", "does not exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := ts.postJSON(t, "/api/v1/apps", map[string]any{"dir": c.dir, "composeFiles": c.composeFiles})
			code, msg := a.errorOf(t)
			if a.Status != c.status || code != c.code || !strings.Contains(msg, c.msg) || !strings.Contains(msg, c.dir) {
				t.Errorf("dir %s: %d %s; want %d %s with %q", c.dir, a.Status, a.Body, c.status, c.code, c.msg)
			}
			for _, p := range []string{data, home, secret, os.TempDir() + "/"} {
				if !strings.HasPrefix(c.dir, p) && strings.Contains(msg, p) {
					t.Errorf("the answer names the server's %s: %s", p, msg)
				}
			}
			if leaksSecret(a.Body) {
				t.Errorf("the secret is in the answer: %s", a.Body)
			}
		})
	}
	if after := ts.get(t, "/api/v1/apps").Body; !bytes.Equal(after, before) {
		t.Fatalf("the store changed: %s", after)
	}

	// A project folder, in the home too, is read; the exploit's project
	// itself is read, but not the secret outside it.
	if a := ts.postJSON(t, "/api/v1/apps", map[string]any{"dir": homeProject}); a.Status != 201 {
		t.Fatalf("a project in the home: %d %s", a.Status, a.Body)
	}
	a := ts.postJSON(t, "/api/v1/apps", map[string]any{"dir": proj})
	if code, _ := a.errorOf(t); a.Status != 400 || code != "invalid" || leaksSecret(a.Body) {
		t.Fatalf("the project with a secret outside it: %d %s", a.Status, a.Body)
	}
}

// TestDirImportOffByDefault: a listener that does not allow folder imports
// refuses them, and says how to allow them.
func TestDirImportOffByDefault(t *testing.T) {
	ts := startServer(t, "", withListener(backend.Listener{TCP: true}))
	dir, _ := filepath.Abs("../examples/shop")
	a := ts.postJSON(t, "/api/v1/apps", map[string]any{"dir": dir})
	if code, msg := a.errorOf(t); a.Status != 403 || code != "forbidden" || !strings.Contains(msg, "--allow-dir") {
		t.Fatalf("dir import without --allow-dir: %d %s", a.Status, a.Body)
	}
}

// TestExampleImportUnderHome: the example app of a repository checked out
// in the home is imported at start.
func TestExampleImportUnderHome(t *testing.T) {
	repo, _ := filepath.Abs("..")
	ts := startServer(t, "", func(c *backend.Config, _ *backend.Listener) { c.Home = filepath.Dir(repo) })
	if ok, err := ts.ImportIfEmpty(context.Background(), "../examples/shop"); !ok || err != nil {
		t.Fatalf("example import: %v %v", ok, err)
	}
	// The home itself is not a project.
	ts = startServer(t, "", func(c *backend.Config, _ *backend.Listener) { c.Home = repo + "/examples/shop" })
	if _, err := ts.ImportIfEmpty(context.Background(), "../examples/shop"); err == nil || !strings.Contains(err.Error(), "home") {
		t.Fatalf("example import of the home: %v", err)
	}
}

// labelEngine lists one compose project whose labels say what the test
// wants, and rebuilds it from "containers" as a single nginx service.
type labelEngine struct {
	engine.Unavailable
	project engine.Project
}

func (e labelEngine) Projects(context.Context) ([]engine.Project, error) {
	return []engine.Project{e.project}, nil
}

func (e labelEngine) Rebuild(context.Context, string) ([]compose.File, []meshdock.Warning, error) {
	return []compose.File{{Name: "compose.yaml", Content: []byte("services:\n  web:\n    image: nginx\n")}}, nil, nil
}

// TestProjectLabelsCannotOpenTheDisk: a compose project's labels are
// anyone's to write; a working directory of / (or of a system folder) is
// not read, and the app is rebuilt from its containers with a warning.
func TestProjectLabelsCannotOpenTheDisk(t *testing.T) {
	proj, _ := exploitProject(t)
	file := filepath.Join(proj, "compose.yaml")
	for _, wd := range []string{"/", "/etc", "/proc/self/root"} {
		t.Run(wd, func(t *testing.T) {
			eng := labelEngine{Unavailable: engine.Unavailable{Reason: "test"}, project: engine.Project{Name: "evil", WorkingDir: wd,
				ConfigFiles: []string{filepath.Join(wd, strings.TrimPrefix(file, "/"))}, Services: []engine.Service{{Name: "web"}}}}
			ts := startServer(t, "", withEngine(eng))
			a := ts.postJSON(t, "/api/v1/apps", map[string]any{"project": "evil"})
			var app appAnswer
			a.decode(t, &app)
			if a.Status != 201 || app.Origin != "rebuilt" || len(app.Warnings) == 0 || !strings.Contains(app.Warnings[0].Message, "refused") {
				t.Fatalf("project with working_dir %s: %d %s", wd, a.Status, a.Body)
			}
			if m := ts.get(t, "/api/v1/apps/"+app.ID+"/manifests"); leaksSecret(m.Body) || leaksSecret(a.Body) {
				t.Fatalf("the secret reached the app:\n%s", m.Body)
			}
		})
	}
}

// TestDirImportSeesThroughBindMounts: a folder mounted at another path is
// still the folder it is. Only the test's own folders are mounted, so that
// nothing of the machine is at stake if a mount outlives the test.
func TestDirImportSeesThroughBindMounts(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	home := filepath.Join(t.TempDir(), "home")
	for _, d := range []string{filepath.Join(data, "sub"), home} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(data, "sub", "compose.yaml"), []byte(composeYAML), 0o644)
	mounts := t.TempDir()
	mount := func(name, src string) string {
		dst := filepath.Join(mounts, name)
		os.Mkdir(dst, 0o755)
		if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
			t.Skipf("cannot bind-mount a folder here (%v): needs root", err)
		}
		// Registered after the folders, so it runs before they are removed.
		t.Cleanup(func() { syscall.Unmount(dst, syscall.MNT_DETACH) })
		return dst
	}
	ts := startServer(t, data, func(c *backend.Config, _ *backend.Listener) { c.Home = home })
	for _, c := range []struct{ dir, msg string }{
		{mount("data", data), "data directory"},
		{filepath.Join(mount("data2", data), "sub"), "data directory"},
		{mount("above-data", filepath.Dir(data)), "holds the server's data directory"},
		{mount("home", home), "home"},
	} {
		a := ts.postJSON(t, "/api/v1/apps", map[string]any{"dir": c.dir})
		if code, msg := a.errorOf(t); a.Status != 403 || code != "forbidden" || !strings.Contains(msg, c.msg) {
			t.Errorf("dir %s: %d %s; want 403 with %q", c.dir, a.Status, a.Body, c.msg)
		}
	}
}

// The converter's private copy of someone's upload lives in the temporary
// directory while it converts: a folder import may not read it, nor
// anything in it, even while it exists.
func TestDirImportRefusesPrivateCopies(t *testing.T) {
	copyDir, err := os.MkdirTemp("", compose.PrivateDirPrefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(copyDir)
	victim := filepath.Join(copyDir, "victim")
	os.MkdirAll(filepath.Join(victim, "sub"), 0o700)
	compose := "services: {web: {image: nginx, secrets: [s]}}\nsecrets: {s: {file: ./secret.txt}}\n"
	for _, d := range []string{victim, filepath.Join(victim, "sub")} {
		os.WriteFile(filepath.Join(d, "compose.yaml"), []byte(compose), 0o600)
		os.WriteFile(filepath.Join(d, "secret.txt"), []byte(secretMarker), 0o600)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "")
	for _, dir := range []string{copyDir, victim, filepath.Join(victim, "sub"), link} {
		a, err := ts.post(jsonBody(map[string]any{"dir": dir}))
		if err != nil {
			t.Fatal(err)
		}
		if code, msg := a.errorOf(t); a.Status != 403 || code != "forbidden" || !strings.Contains(msg, "private copy of an upload") || leaksSecret(a.Body) {
			t.Errorf("%s: %d %s", dir, a.Status, a.Body)
		}
	}
}

// A FIFO in a folder cannot hold the server's import slots: each such
// import is refused at once, and an upload after them is served.
func TestDirImportFIFOHoldsNothing(t *testing.T) {
	ts := startServer(t, "")
	for i := range 5 {
		dir := filepath.Join(t.TempDir(), "app")
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("include: [f.yaml]\nservices: {web: {image: nginx}}\n"), 0o600)
		if err := syscall.Mkfifo(filepath.Join(dir, "f.yaml"), 0o600); err != nil {
			t.Skip(err)
		}
		a, err := ts.post(jsonBody(map[string]any{"dir": dir}))
		if err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
		if code, msg := a.errorOf(t); a.Status != 400 || code != "invalid" || !strings.Contains(msg, "not a regular file") {
			t.Fatalf("import %d: %d %s", i, a.Status, a.Body)
		}
	}
	if a, err := ts.post(filesBody("compose.yaml", composeYAML)); err != nil || a.Status != 201 {
		t.Fatalf("an upload after them: %v %d %s", err, a.Status, a.Body)
	}
}

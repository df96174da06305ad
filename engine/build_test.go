package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/engine"
)

// testTag is a tag of this test run's own, removed when the test ends.
func testTag(t testing.TB, c *client.Client, name string) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	tag := "meshdock-enginetest-" + name + ":" + hex.EncodeToString(b)
	t.Cleanup(func() {
		c.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	return tag
}

// engineFiles are what the engine adds to every container.
var engineFiles = map[string]bool{".dockerenv": true, "dev/console": true, "etc/hostname": true, "etc/hosts": true, "etc/resolv.conf": true}

// imageFiles lists the files of an image, with their contents, from a
// container created (not started) from it.
func imageFiles(t *testing.T, c *client.Client, tag string) map[string]string {
	t.Helper()
	ctx := context.Background()
	created, err := c.ContainerCreate(ctx, &container.Config{Image: tag, Cmd: []string{"/none"}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true})
	rc, err := c.ContainerExport(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || engineFiles[h.Name] {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = string(b)
	}
}

func TestBuild(t *testing.T) {
	e, c := realEngine(t)
	ctx := context.Background()
	tag := testTag(t, c, "app-web")
	greeting := "hello there"
	spec := engine.BuildSpec{
		Tag: tag,
		Context: fstest.MapFS{
			"docker/app.Dockerfile": {Data: []byte("FROM scratch AS base\nARG GREETING\nLABEL greeting=$GREETING\nCOPY hello.txt /srv/hello.txt\n\nFROM base AS extra\nLABEL stage=extra\n")},
			"hello.txt":             {Data: []byte("hello\n")},
		},
		Dockerfile: "docker/app.Dockerfile",
		Args:       map[string]*string{"GREETING": &greeting},
		Target:     "base",
		Labels:     map[string]string{"dev.meshdock.test": "build"},
	}
	var lines []string
	start := time.Now()
	if err := e.Build(ctx, spec, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Logf("built %s in %s", tag, time.Since(start).Round(time.Millisecond))
	out := strings.Join(lines, "\n")
	// The classic builder adds the labels as a last step.
	if !strings.Contains(out, "Step 1/5 : FROM scratch AS base") || !strings.Contains(out, "Step 5/5 : LABEL dev.meshdock.test=build") || !strings.Contains(out, "Successfully tagged "+tag) || strings.Contains(out, "stage=extra") {
		t.Errorf("build output:\n%s", out)
	}
	for _, l := range lines {
		if strings.Contains(l, "\n") {
			t.Errorf("a logged line holds a newline: %q", l)
		}
	}

	if ok, err := e.ImageExists(ctx, tag); !ok || err != nil {
		t.Fatalf("ImageExists after the build: %v, %v", ok, err)
	}
	img, err := c.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	labels := img.Config.Labels
	if labels["greeting"] != greeting || labels["dev.meshdock.test"] != "build" || labels["stage"] != "" {
		t.Errorf("labels of the image: %v", labels)
	}
	if files := imageFiles(t, c, tag); files["srv/hello.txt"] != "hello\n" || len(files) != 1 {
		t.Errorf("files of the image: %v", files)
	}
}

func TestBuildFails(t *testing.T) {
	e, c := realEngine(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, dockerfile, reason string
	}{
		{"missing file", "FROM scratch\nCOPY missing /x\n", "missing"},
		{"unknown instruction", "FROM scratch\nFROBNICATE /x\n", "FROBNICATE"},
		{"unknown target", "FROM scratch AS base\n", "nosuchstage"},
		{"no Dockerfile", "", "no Dockerfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := testTag(t, c, "app-broken")
			fsys := fstest.MapFS{"x": {Data: []byte("x")}}
			if tc.dockerfile != "" {
				fsys["Dockerfile"] = &fstest.MapFile{Data: []byte(tc.dockerfile)}
			}
			spec := engine.BuildSpec{Tag: tag, Context: fsys}
			if tc.name == "unknown target" {
				spec.Target = "nosuchstage"
			}
			err := e.Build(ctx, spec, nil)
			msg := meshdock.ErrorMessage(err)
			if meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(msg, "build of "+tag) || !strings.Contains(msg, tc.reason) {
				t.Fatalf("Build: %v (%s)", err, meshdock.ErrorCode(err))
			}
			if strings.Contains(msg, "/var/lib/docker") || strings.Contains(msg, "Error response from daemon") {
				t.Errorf("the message shows the engine's insides: %s", msg)
			}
			t.Logf("%s", msg)
			if ok, err := e.ImageExists(ctx, tag); ok || err != nil {
				t.Errorf("ImageExists after a failed build: %v, %v", ok, err)
			}
		})
	}
}

func TestBuildContextFromDisk(t *testing.T) {
	e, c := realEngine(t)
	ctx := context.Background()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"Dockerfile":    "FROM scratch\nCOPY . /ctx/\n",
		".dockerignore": "secret.txt\nlogs\n!logs/keep.log\n",
		"keep.txt":      "keep",
		"secret.txt":    "hunter2",
		"logs/a.log":    "a",
		"logs/keep.log": "k",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tag := testTag(t, c, "app-ignore")
	if err := e.Build(ctx, engine.BuildSpec{Tag: tag, Context: root.FS()}, nil); err != nil {
		t.Fatalf("Build: %v", err)
	}
	files := imageFiles(t, c, tag)
	for _, f := range []string{"ctx/Dockerfile", "ctx/.dockerignore", "ctx/keep.txt", "ctx/logs/keep.log"} {
		if _, ok := files[f]; !ok {
			t.Errorf("%s is missing from the image: %v", f, files)
		}
	}
	for _, f := range []string{"ctx/secret.txt", "ctx/logs/a.log"} {
		if _, ok := files[f]; ok {
			t.Errorf("%s is in the image, though .dockerignore excludes it", f)
		}
	}

	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "logs", "passwd")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".dockerignore"), nil, 0o644)
	tag = testTag(t, c, "app-symlink")
	err = e.Build(ctx, engine.BuildSpec{Tag: tag, Context: os.DirFS(dir)}, nil)
	if meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(meshdock.ErrorMessage(err), "logs/passwd is a symbolic link") {
		t.Fatalf("Build of a context with a symbolic link: %v", err)
	}
	if ok, err := e.ImageExists(ctx, tag); ok || err != nil {
		t.Errorf("ImageExists after a refused context: %v, %v", ok, err)
	}
}

func TestBuildCanceled(t *testing.T) {
	e, c := realEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tag := testTag(t, c, "app-canceled")
	// The steps the engine made before it stopped leave untagged images:
	// the label, which every step after LABEL carries, finds them.
	run := tag[strings.LastIndex(tag, ":")+1:]
	t.Cleanup(func() { removeLabelled(c, "dev.meshdock.test.run="+run) })
	dockerfile := "FROM scratch\nLABEL dev.meshdock.test.run=" + run + "\n"
	fsys := fstest.MapFS{}
	for i := range 10 {
		n := strconv.Itoa(i)
		dockerfile += "COPY " + n + " /" + n + "\n"
		fsys[n] = &fstest.MapFile{Data: []byte(n)}
	}
	fsys["Dockerfile"] = &fstest.MapFile{Data: []byte(dockerfile)}
	err := e.Build(ctx, engine.BuildSpec{Tag: tag, Context: fsys}, func(string) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Build canceled at its first line: %v", err)
	}
	if meshdock.ErrorCode(err) != meshdock.ECANCELED {
		t.Errorf("code %s", meshdock.ErrorCode(err))
	}
	// The engine stops the build: the image is never made.
	time.Sleep(time.Second)
	if ok, err := e.ImageExists(context.Background(), tag); ok || err != nil {
		t.Errorf("ImageExists after the build was canceled: %v, %v", ok, err)
	}
}

// removeLabelled removes the images with a label, until the engine has
// made no more for a moment.
func removeLabelled(c *client.Client, label string) {
	ctx := context.Background()
	for quiet, deadline := 0, time.Now().Add(5*time.Second); quiet < 2 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		list, err := c.ImageList(ctx, image.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
		if err != nil || len(list) == 0 {
			quiet++
			continue
		}
		quiet = 0
		for _, img := range list {
			c.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true})
		}
	}
}

// slowFS holds a file whose reading stops halfway until release is closed.
type slowFS struct {
	fstest.MapFS
	release chan struct{}
}

func (s slowFS) Open(name string) (fs.File, error) {
	f, err := s.MapFS.Open(name)
	if name != "slow" || err != nil {
		return f, err
	}
	return &slowFile{File: f, release: s.release}, nil
}

type slowFile struct {
	fs.File
	release chan struct{}
	read    bool
}

func (f *slowFile) Read(p []byte) (int, error) {
	if f.read {
		<-f.release
		return 0, io.ErrUnexpectedEOF
	}
	f.read = true
	return f.File.Read(p[:min(len(p), 1024)])
}

func TestBuildCanceledWhileSending(t *testing.T) {
	e, c := realEngine(t)
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	spec := engine.BuildSpec{Tag: testTag(t, c, "app-slow"), Context: slowFS{MapFS: fstest.MapFS{
		"Dockerfile": {Data: []byte("FROM scratch\nCOPY slow /slow\n")},
		"slow":       {Data: bytes.Repeat([]byte("x"), 1<<20)},
	}, release: release}}
	start := time.Now()
	err := e.Build(ctx, spec, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Build with a context that hangs: %v after %s", err, time.Since(start))
	}
}

func TestImageExists(t *testing.T) {
	e, c := realEngine(t)
	ctx := context.Background()
	if ok, err := e.ImageExists(ctx, testTag(t, c, "absent")); ok || err != nil {
		t.Errorf("ImageExists of an unknown tag: %v, %v", ok, err)
	}
	if ok, err := e.ImageExists(ctx, "sha256:"+strings.Repeat("0", 64)); ok || err != nil {
		t.Errorf("ImageExists of an unknown ID: %v, %v", ok, err)
	}
	if _, err := e.ImageExists(ctx, "Not A Reference"); meshdock.ErrorCode(err) != meshdock.EINVALID {
		t.Errorf("ImageExists of a malformed reference: %v", err)
	}
}

func TestNoEngineBuildsNothing(t *testing.T) {
	e, err := engine.New("unix:///nonexistent/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Build(ctx, engine.BuildSpec{Tag: "app-web", Context: fstest.MapFS{}}, nil); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Errorf("Build without an engine: %v", err)
	}
	if _, err := e.ImageExists(ctx, "app-web"); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Errorf("ImageExists without an engine: %v", err)
	}
	if _, err := e.NodeContainers(ctx, "127.0.0.1", 6443, []string{"kind-control-plane"}); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Errorf("NodeContainers without an engine: %v", err)
	}
	if err := e.LoadImage(ctx, "app-web", "kind-control-plane"); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Errorf("LoadImage without an engine: %v", err)
	}

	// An engine that does not answer.
	e, err = engine.New("tcp://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	spec := engine.BuildSpec{Tag: "app-web", Context: fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\n")}}}
	if err := e.Build(ctx, spec, nil); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Errorf("Build on an unreachable engine: %v", err)
	}
	if _, err := e.ImageExists(ctx, "app-web"); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Errorf("ImageExists on an unreachable engine: %v", err)
	}
	if err := e.LoadImage(ctx, "app-web", "kind-control-plane"); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Errorf("LoadImage on an unreachable engine: %v", err)
	}
}

// BenchmarkBuild builds a FROM scratch image from 16 MiB of files in
// memory, anew each time.
func BenchmarkBuild(b *testing.B) {
	e, c := realEngine(b)
	fsys := fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\nCOPY . /srv/\n")}}
	for i := range 16 {
		data := make([]byte, 1<<20)
		rand.Read(data)
		fsys["data/"+strconv.Itoa(i)] = &fstest.MapFile{Data: data}
	}
	b.SetBytes(16 << 20)
	for i := 0; b.Loop(); i++ {
		fsys["n"] = &fstest.MapFile{Data: []byte(strconv.Itoa(i))} // no cache hit
		// A tag of its own, or the last build's image is left untagged.
		tag := testTag(b, c, "app-bench")
		if err := e.Build(context.Background(), engine.BuildSpec{Tag: tag, Context: fsys}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

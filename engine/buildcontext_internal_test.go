package engine

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/meshdock/meshdock"
)

// contextFiles writes fsys as a build context and returns the entries
// of the tar stream, by name, with their modes.
func contextFiles(t *testing.T, fsys fs.FS, dockerfile string) (map[string]int64, error) {
	t.Helper()
	var buf bytes.Buffer
	if err := writeContext(&buf, fsys, "app-web", dockerfile); err != nil {
		return nil, err
	}
	files := map[string]int64{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			t.Fatalf("the context is not a tar stream: %v", err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, want root", h.Name, h.Uid, h.Gid)
		}
		files[h.Name] = h.Mode
	}
}

func TestWriteContextIgnore(t *testing.T) {
	fsys := fstest.MapFS{
		"Dockerfile":         {Data: []byte("FROM scratch\n")},
		".dockerignore":      {Data: []byte("# comment\n/secret.txt\nlogs\n!logs/keep.log\nnode_modules\n**/*.tmp\nDockerfile\n.dockerignore\n")},
		"main.go":            {Data: []byte("package main\n"), Mode: 0o600},
		"secret.txt":         {Data: []byte("hunter2")},
		"logs/a.log":         {Data: []byte("a")},
		"logs/keep.log":      {Data: []byte("k")},
		"node_modules/x/y":   {Data: []byte("y")},
		"src/a.tmp":          {Data: []byte("t")},
		"src/deep/b.go":      {Data: []byte("b")},
		"docker/Dockerfile":  {Data: []byte("FROM scratch\n")},
		"docker/other.txt":   {Data: []byte("o")},
		"empty":              {Mode: fs.ModeDir},
		"node_modules/.bin":  {Mode: fs.ModeDir},
		"node_modules/x/bin": {Mode: fs.ModeSymlink, Data: []byte("../../../etc/passwd")},
	}
	got, err := contextFiles(t, fsys, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		// The engine reads these two whatever .dockerignore says.
		"Dockerfile":    0o644,
		".dockerignore": 0o644,
		"main.go":       0o600,
		"logs/keep.log": 0o644,
		// fstest.MapFS makes the directories it implies read-only.
		"src/":              0o555,
		"src/deep/":         0o555,
		"src/deep/b.go":     0o644,
		"docker/":           0o555,
		"docker/Dockerfile": 0o644,
		"docker/other.txt":  0o644,
		"empty/":            0o755,
	}
	if !mapsEqual(got, want) {
		t.Errorf("context:\n got %v\nwant %v", got, want)
	}

	// A Dockerfile in an excluded directory still goes, alone.
	fsys[".dockerignore"] = &fstest.MapFile{Data: []byte("docker\nnode_modules\n")}
	got, err = contextFiles(t, fsys, "docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["docker/Dockerfile"]; !ok || got["docker/other.txt"] != 0 {
		t.Errorf("context with docker/ excluded but its Dockerfile used: %v", got)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestWriteContextRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"Dockerfile": "FROM scratch\n", "a.txt": "a", "sub/b.txt": "b"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../a.txt", filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	_, err := contextFiles(t, os.DirFS(dir), "Dockerfile")
	if meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(err.Error(), "sub/link is a symbolic link") || strings.Contains(err.Error(), dir) {
		t.Errorf("context with a symbolic link: %v", err)
	}

	// Excluded, it is not looked at.
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("sub/link\n"), 0o644)
	if files, err := contextFiles(t, os.DirFS(dir), "Dockerfile"); err != nil || files["sub/b.txt"] == 0 {
		t.Errorf("context with the link excluded: %v, %v", files, err)
	}

	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = contextFiles(t, os.DirFS(dir), "Dockerfile")
	if meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(err.Error(), "fifo is not a regular file or directory") {
		t.Errorf("context with a named pipe: %v", err)
	}
}

// bigFS makes its files named "big" look larger than they are.
type bigFS struct {
	fstest.MapFS
	size int64
}

func (b bigFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := b.MapFS.ReadDir(name)
	for i, e := range entries {
		if e.Name() == "big" {
			entries[i] = bigEntry{e, b.size}
		}
	}
	return entries, err
}

type bigEntry struct {
	fs.DirEntry
	size int64
}

func (e bigEntry) Info() (fs.FileInfo, error) {
	fi, err := e.DirEntry.Info()
	return bigInfo{fi, e.size}, err
}

type bigInfo struct {
	fs.FileInfo
	size int64
}

func (i bigInfo) Size() int64 { return i.size }

func TestWriteContextLimit(t *testing.T) {
	fsys := bigFS{MapFS: fstest.MapFS{
		"Dockerfile": {Data: []byte("FROM scratch\n")},
		"a.txt":      {Data: []byte("x")},
		"big":        {Data: []byte("x")},
	}, size: MaxContextSize - 1}
	err := writeContext(io.Discard, fsys, "app-web", "Dockerfile")
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(err.Error(), "over 1024.0 MiB (at big)") {
		t.Fatalf("context over the limit: %v", err)
	}
}

func TestWriteContextFileChanged(t *testing.T) {
	// A file shorter than it said when listed.
	fsys := bigFS{MapFS: fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\n")}, "big": {Data: []byte("x")}}, size: 100}
	err := writeContext(io.Discard, fsys, "app-web", "Dockerfile")
	if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(err.Error(), "big changed while it was read") {
		t.Fatalf("file that shrank: %v", err)
	}
}

// BenchmarkWriteContext writes a 16 MiB context of 64 files.
func BenchmarkWriteContext(b *testing.B) {
	fsys := fstest.MapFS{
		"Dockerfile":    {Data: []byte("FROM scratch\nCOPY . /srv/\n")},
		".dockerignore": {Data: []byte("**/*.tmp\nnode_modules\n")},
	}
	for i := range 64 {
		fsys[fmt.Sprintf("src/%d/file.go", i)] = &fstest.MapFile{Data: bytes.Repeat([]byte{byte(i)}, 256<<10)}
		fsys[fmt.Sprintf("src/%d/file.tmp", i)] = &fstest.MapFile{Data: []byte("x")}
	}
	b.SetBytes(16 << 20)
	for b.Loop() {
		if err := writeContext(io.Discard, fsys, "app-web", "Dockerfile"); err != nil {
			b.Fatal(err)
		}
	}
}

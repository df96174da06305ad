package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/valid-*")

// caseOptions is a case's options.json (see testdata/README.md).
type caseOptions struct {
	ComposeFiles []string          `json:"composeFiles"`
	EnvFiles     []string          `json:"envFiles"`
	Env          map[string]string `json:"env"`
	Profiles     []string          `json:"profiles"`
	Name         string            `json:"name"`
	Namespace    string            `json:"namespace"`
	BindMounts   BindMounts        `json:"bindMounts"`
	Generate     *struct {
		Kind  string `json:"kind"`
		Bytes int    `json:"bytes"`
		Depth int    `json:"depth"`
	} `json:"generate"`
}

// caseFiles are not part of a case's project.
var caseFiles = map[string]bool{"options.json": true, "want.yaml": true, "warnings.txt": true, "graph.json": true, "error.txt": true}

func readOptions(t testing.TB, dir string) caseOptions {
	var o caseOptions
	b, err := os.ReadFile(filepath.Join(dir, "options.json"))
	if err == nil {
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatalf("%s/options.json: %v", dir, err)
		}
	}
	return o
}

// diskSource is the case as an on-disk project.
func diskSource(dir string, o caseOptions) Source {
	return Source{Dir: dir, Name: o.Name, ComposeFiles: o.ComposeFiles, EnvFiles: o.EnvFiles, Env: o.Env, Profiles: o.Profiles}
}

// memorySource is the case as uploaded files.
func memorySource(t testing.TB, dir string, o caseOptions) Source {
	src := Source{Name: o.Name, ComposeFiles: o.ComposeFiles, EnvFiles: o.EnvFiles, Env: o.Env, Profiles: o.Profiles}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSymlink != 0 {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if caseFiles[rel] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		src.Files = append(src.Files, File{Name: filepath.ToSlash(rel), Content: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := o.Generate; g != nil {
		name := "compose.yaml"
		if len(o.ComposeFiles) > 0 {
			name = o.ComposeFiles[0]
		}
		src.Files = append(src.Files, File{Name: name, Content: generate(g.Kind, g.Bytes, g.Depth)})
	}
	return src
}

func generate(kind string, n, depth int) []byte {
	head := "services:\n  web:\n    image: nginx:1.27-alpine\n"
	switch kind {
	case "large":
		var b bytes.Buffer
		b.WriteString(head)
		line := "# " + strings.Repeat("x", 77) + "\n"
		for b.Len() < n {
			b.WriteString(line)
		}
		return b.Bytes()
	case "nested":
		return []byte(head + "    x-deep: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n")
	}
	panic("unknown generate kind " + kind)
}

func cases(t testing.TB, prefix string) []string {
	dirs, err := filepath.Glob(filepath.Join("testdata", prefix+"*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no testdata/%s* cases", prefix)
	}
	sort.Strings(dirs)
	return dirs
}

func TestValid(t *testing.T) {
	for _, dir := range cases(t, "valid-") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			o := readOptions(t, dir)
			opt := Options{Namespace: o.Namespace, BindMounts: o.BindMounts}
			res, err := Convert(context.Background(), diskSource(dir, o), opt)
			if err != nil {
				t.Fatalf("convert: %v", err)
			}
			var yml bytes.Buffer
			if err := WriteYAML(&yml, res.Objects); err != nil {
				t.Fatal(err)
			}
			// hostPath volumes name the project directory, which differs from
			// one checkout to the next.
			abs, _ := filepath.Abs(dir)
			golden(t, filepath.Join(dir, "want.yaml"), bytes.ReplaceAll(yml.Bytes(), []byte(abs), []byte("$PROJECT_DIR")))
			warnings := formatWarnings(res.Warnings)
			graph, _ := json.MarshalIndent(res.Graph, "", "  ")
			golden(t, filepath.Join(dir, "warnings.txt"), []byte(warnings))
			golden(t, filepath.Join(dir, "graph.json"), append(graph, '\n'))

			// The same project uploaded as files converts to the same objects
			// (a file-less generator case has no on-disk twin).
			mem := memorySource(t, dir, o)
			mem.Name = res.Project
			if o.BindMounts == BindMountsHostPath {
				return // host paths of an upload do not exist, by design
			}
			res2, err := Convert(context.Background(), mem, opt)
			if err != nil {
				t.Fatalf("convert uploaded files: %v", err)
			}
			var yml2 bytes.Buffer
			if err := WriteYAML(&yml2, res2.Objects); err != nil {
				t.Fatal(err)
			}
			if yml2.String() != yml.String() {
				t.Errorf("uploaded files convert differently from the directory:\n%s", lineDiff(yml.String(), yml2.String()))
			}
		})
	}
}

func formatWarnings(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%s:%d: [%s] %s: %s\n", w.File, w.Line, w.Service, w.Key, w.Message)
	}
	return b.String()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./convert -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the golden file (rerun with -update and read the diff):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}

func TestInvalid(t *testing.T) {
	for _, dir := range cases(t, "invalid-") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			o := readOptions(t, dir)
			want, err := os.ReadFile(filepath.Join(dir, "error.txt"))
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(dir)
			sources := map[string]Source{"upload": memorySource(t, dir, o)}
			if o.Generate == nil {
				sources["directory"] = diskSource(abs, o)
			}
			if _, err := os.Lstat(filepath.Join(dir, "token.txt")); err == nil {
				delete(sources, "upload") // a symlink case: only on disk
			}
			for how, src := range sources {
				_, err := convertNoPanic(src, Options{Namespace: o.Namespace, BindMounts: o.BindMounts})
				if err == nil {
					t.Fatalf("%s: converted without error", how)
				}
				if code := meshdock.ErrorCode(err); code != meshdock.EINVALID && code != meshdock.ETOOLARGE {
					t.Errorf("%s: error code %s, want invalid: %v", how, code, err)
				}
				msg := meshdock.ErrorMessage(err)
				for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
					if line = strings.TrimSpace(line); line != "" && !strings.Contains(msg, line) {
						t.Errorf("%s: error %q does not contain %q", how, msg, line)
					}
				}
				if strings.Contains(msg, abs) || strings.Contains(msg, os.TempDir()+"/") || strings.Contains(msg, "meshdock-src-") {
					t.Errorf("%s: error shows a path of the converting machine: %q", how, msg)
				}
			}
		})
	}
}

func convertNoPanic(src Source, opt Options) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return Convert(context.Background(), src, opt)
}

// A snapshot of an on-disk project holds exactly the files loading read,
// and converts like the directory itself.
func TestSnapshot(t *testing.T) {
	for _, name := range []string{"valid-env-file", "valid-include", "valid-extends", "valid-configs", "valid-bind-mounts-configmap", "valid-override"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			o := readOptions(t, dir)
			src := diskSource(dir, o)
			snap, err := Snapshot(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.Files) == 0 || snap.Dir != "" {
				t.Fatalf("snapshot has %d files, dir %q", len(snap.Files), snap.Dir)
			}
			for _, f := range snap.Files {
				if caseFiles[f.Name] {
					t.Errorf("snapshot holds %s, which the project does not use", f.Name)
				}
			}
			opt := Options{Namespace: o.Namespace, BindMounts: o.BindMounts}
			a, err := Convert(context.Background(), src, opt)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Convert(context.Background(), snap, opt)
			if err != nil {
				t.Fatalf("converting the snapshot: %v", err)
			}
			var ya, yb bytes.Buffer
			WriteYAML(&ya, a.Objects)
			WriteYAML(&yb, b.Objects)
			if ya.String() != yb.String() {
				t.Errorf("the snapshot converts differently:\n%s", lineDiff(ya.String(), yb.String()))
			}
		})
	}
}

// A folder opened by the caller snapshots exactly as the folder does, for
// every valid case: the private copy compose-go works on holds what it
// needs.
func TestSnapshotThroughRoot(t *testing.T) {
	for _, dir := range cases(t, "valid-") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			o := readOptions(t, dir)
			if o.Generate != nil {
				t.Skip("generated")
			}
			abs, _ := filepath.Abs(dir)
			src := diskSource(abs, o)
			want, err := Snapshot(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			root, err := os.OpenRoot(abs)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			src.Root = root
			got, err := Snapshot(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(fileNames(got)) != fmt.Sprint(fileNames(want)) || got.Name != want.Name {
				t.Errorf("through the root: %s %v, want %s %v", got.Name, fileNames(got), want.Name, fileNames(want))
			}
		})
	}
}

func fileNames(s Source) []string {
	var out []string
	for _, f := range s.Files {
		out = append(out, f.Name)
	}
	return out
}

// A folder swapped for a link elsewhere once the caller has opened (and
// vetted) it is never read: every read goes through the opened folder,
// and compose-go reads only the private copy, included files too.
func TestSwappedFolderIsNotRead(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "app")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dir, outside, filepath.Join(dir, "sub"), filepath.Join(outside, "sub")} {
		os.MkdirAll(d, 0o700)
	}
	write := func(p, s string) { os.WriteFile(p, []byte(s), 0o600) }
	write(filepath.Join(dir, "compose.yaml"), "include: [sub/inc.yaml]\nservices: {a: {image: good, secrets: [s]}}\nsecrets: {s: {file: ./token}}\n")
	write(filepath.Join(dir, "sub", "inc.yaml"), "services: {inc: {image: good-inc, environment: [\"T=${T}\"]}}\n")
	write(filepath.Join(dir, "sub", ".env"), "T=good-env\n")
	write(filepath.Join(dir, "token"), "good-token")
	write(filepath.Join(outside, "compose.yaml"), "include: [sub/inc.yaml]\nservices: {a: {image: evil, secrets: [s]}}\nsecrets: {s: {file: ./token}}\n")
	write(filepath.Join(outside, "sub", "inc.yaml"), "services: {inc: {image: evil-inc, environment: [\"T=${T}\"]}}\n")
	write(filepath.Join(outside, "sub", ".env"), "T=evil-env\n")
	write(filepath.Join(outside, "token"), "evil-token")

	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	// The swap: the vetted folder moves away, a link to another takes its place.
	if err := os.Rename(dir, filepath.Join(base, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, dir); err != nil {
		t.Skip(err)
	}
	snap, err := Snapshot(context.Background(), Source{Dir: dir, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(context.Background(), snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	WriteYAML(&out, res.Objects)
	for _, f := range snap.Files {
		out.Write(f.Content)
	}
	if strings.Contains(out.String(), "evil") {
		t.Fatalf("the swapped-in folder was read:\n%s", out.String())
	}
	for _, want := range []string{"good-inc", "good-env", "Z29vZC10b2tlbg=="} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %s", want)
		}
	}
}

// A FIFO in a folder never blocks a load: every read opens without
// waiting for a writer and refuses what is not a regular file. A hard
// link, another name for a file the folder's owner may not read, is
// refused when a server reads a folder for someone.
func TestFolderSpecialFiles(t *testing.T) {
	for name, c := range map[string]struct {
		compose, special string
		envFiles         []string
	}{
		"include":          {"include: [f.yaml]\nservices: {web: {image: nginx}}\n", "f.yaml", nil},
		"extends":          {"services: {web: {extends: {file: f.yaml, service: a}}}\n", "f.yaml", nil},
		"env file":         {"services: {web: {image: nginx}}\n", "f.env", []string{"f.env"}},
		"include env":      {"include: [{path: sub/c.yaml, env_file: f.env}]\n", "f.env", nil},
		"included .env":    {"include: [sub/c.yaml]\n", "sub/.env", nil},
		"secret":           {"services: {web: {image: nginx, secrets: [s]}}\nsecrets: {s: {file: ./f}}\n", "f", nil},
		"service env":      {"services: {web: {image: nginx, env_file: f.env}}\n", "f.env", nil},
		"dot env":          {"services: {web: {image: nginx}}\n", ".env", nil},
		"bind configmap":   {"services: {web: {image: nginx, volumes: ['./f:/f']}}\n", "f", nil},
		"the compose file": {"", "compose.yaml", nil},
	} {
		for _, kind := range []string{"fifo", "hard link"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				base := t.TempDir()
				dir := filepath.Join(base, "app")
				os.MkdirAll(filepath.Join(dir, "sub"), 0o700)
				os.WriteFile(filepath.Join(dir, "sub", "c.yaml"), []byte("services: {c: {image: x}}\n"), 0o600)
				if c.compose != "" {
					os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(c.compose), 0o600)
				}
				special := filepath.Join(dir, filepath.FromSlash(c.special))
				if kind == "fifo" {
					if err := syscall.Mkfifo(special, 0o600); err != nil {
						t.Skip(err)
					}
				} else {
					outside := filepath.Join(base, "server-file")
					os.WriteFile(outside, []byte("A=contents-of-a-server-file\nservices: {a: {image: x}}\n"), 0o600)
					if err := os.Link(outside, special); err != nil {
						t.Skip(err)
					}
				}
				root, err := os.OpenRoot(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer root.Close()
				done := make(chan error, 1)
				go func() {
					snap, err := Snapshot(context.Background(), Source{Dir: dir, Root: root, EnvFiles: c.envFiles})
					if err == nil {
						_, err = Convert(context.Background(), snap, Options{BindMounts: BindMountsConfigMap})
					}
					done <- err
				}()
				select {
				case err := <-done:
					if err == nil && kind == "hard link" {
						t.Fatalf("a hard link out of the folder was read")
					}
					if err != nil && meshdock.ErrorCode(err) == meshdock.EINTERNAL {
						t.Fatalf("internal error: %v", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("the load blocks on the special file")
				}
			})
		}
	}
}

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
	"testing"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
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
func diskSource(dir string, o caseOptions) compose.Source {
	return compose.Source{Dir: dir, Name: o.Name, ComposeFiles: o.ComposeFiles, EnvFiles: o.EnvFiles, Env: o.Env, Profiles: o.Profiles}
}

// memorySource is the case as uploaded files.
func memorySource(t testing.TB, dir string, o caseOptions) compose.Source {
	src := compose.Source{Name: o.Name, ComposeFiles: o.ComposeFiles, EnvFiles: o.EnvFiles, Env: o.Env, Profiles: o.Profiles}
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
		src.Files = append(src.Files, compose.File{Name: filepath.ToSlash(rel), Content: b})
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
		src.Files = append(src.Files, compose.File{Name: name, Content: generate(g.Kind, g.Bytes, g.Depth)})
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
			res, err := convertSource(context.Background(), diskSource(dir, o), opt)
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
			res2, err := convertSource(context.Background(), mem, opt)
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

func formatWarnings(ws []meshdock.Warning) string {
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
			sources := map[string]compose.Source{"upload": memorySource(t, dir, o)}
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

func convertNoPanic(src compose.Source, opt Options) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return convertSource(context.Background(), src, opt)
}

// A snapshot of an on-disk project holds exactly the files loading read,
// and converts like the directory itself.
func TestSnapshot(t *testing.T) {
	for _, name := range []string{"valid-env-file", "valid-include", "valid-extends", "valid-configs", "valid-bind-mounts-configmap", "valid-override"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			o := readOptions(t, dir)
			src := diskSource(dir, o)
			loaded, snap, err := compose.Snapshot(context.Background(), src)
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
			a, err := convertSource(context.Background(), src, opt)
			if err != nil {
				t.Fatal(err)
			}
			b, err := convertSource(context.Background(), snap, opt)
			if err != nil {
				t.Fatalf("converting the snapshot: %v", err)
			}
			c, err := Convert(context.Background(), loaded, opt)
			if err != nil {
				t.Fatalf("converting the project Snapshot loaded: %v", err)
			}
			var ya, yb, yc bytes.Buffer
			WriteYAML(&ya, a.Objects)
			WriteYAML(&yb, b.Objects)
			WriteYAML(&yc, c.Objects)
			if ya.String() != yb.String() {
				t.Errorf("the snapshot converts differently:\n%s", lineDiff(ya.String(), yb.String()))
			}
			if ya.String() != yc.String() {
				t.Errorf("the project Snapshot loaded converts differently:\n%s", lineDiff(ya.String(), yc.String()))
			}
		})
	}
}

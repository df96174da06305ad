package compose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

// A folder opened by the caller snapshots exactly as the folder does, for
// every valid case: the private copy compose-go works on holds what it
// needs.
func TestSnapshotThroughRoot(t *testing.T) {
	dirs, _ := filepath.Glob("../convert/testdata/valid-*")
	if len(dirs) < 25 {
		t.Fatalf("found %d valid cases", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var o struct {
				ComposeFiles, EnvFiles, Profiles []string
				Env                              map[string]string
				Name                             string
				Generate                         any
			}
			if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
				if err := json.Unmarshal(b, &o); err != nil {
					t.Fatal(err)
				}
			}
			if o.Generate != nil {
				t.Skip("generated")
			}
			abs, _ := filepath.Abs(dir)
			src := compose.Source{Dir: abs, Name: o.Name, ComposeFiles: o.ComposeFiles, EnvFiles: o.EnvFiles, Env: o.Env, Profiles: o.Profiles}
			_, want, err := compose.Snapshot(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			root, err := os.OpenRoot(abs)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			src.Root = root
			_, got, err := compose.Snapshot(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(fileNames(got)) != fmt.Sprint(fileNames(want)) || got.Name != want.Name {
				t.Errorf("through the root: %s %v, want %s %v", got.Name, fileNames(got), want.Name, fileNames(want))
			}
		})
	}
}

func fileNames(s compose.Source) []string {
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
	_, snap, err := compose.Snapshot(context.Background(), compose.Source{Dir: dir, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	res, err := convertSource(context.Background(), snap, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	convert.WriteYAML(&out, res.Objects)
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
					_, snap, err := compose.Snapshot(context.Background(), compose.Source{Dir: dir, Root: root, EnvFiles: c.envFiles})
					if err == nil {
						_, err = convertSource(context.Background(), snap, convert.Options{BindMounts: convert.BindMountsConfigMap})
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

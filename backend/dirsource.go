package backend

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/convert"
)

// readDir turns a project directory into an in-memory source: its compose
// files, env files, and the files its services name (env_file, secrets and
// configs with file:, bind-mounted files) that lie inside dir. The app keeps
// these copies, so it does not change when the directory does, and nothing
// outside dir is read: reads go through os.Root.
func readDir(ctx context.Context, dir string, src convert.Source, lim Limits) (convert.Source, error) {
	src.Dir = dir
	p, err := convert.Load(ctx, src)
	if err != nil {
		return convert.Source{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return convert.Source{}, meshdock.Wrap(meshdock.EINVALID, err, "%s: cannot open the directory", dir)
	}
	defer root.Close()

	names := map[string]bool{}
	for _, n := range p.Files {
		r := rel(dir, n)
		names[r] = true
		// Load merges env_file into environment and forgets the files;
		// the compose file itself still names them.
		if b, err := readFile(root, r, lim.FileSize); err == nil {
			for _, ef := range envFilesIn(b) {
				if r := rel(dir, filepath.Join(dir, filepath.Dir(filepath.FromSlash(r)), ef)); r != "" && isRegular(root, r) {
					names[r] = true
				}
			}
		}
	}
	envFiles := src.EnvFiles
	if len(envFiles) == 0 {
		if _, err := root.Stat(".env"); err == nil {
			envFiles = []string{".env"}
		}
	}
	for _, n := range envFiles {
		names[rel(dir, n)] = true
	}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == "bind" {
				if r := rel(dir, v.Source); r != "" && isRegular(root, r) {
					names[r] = true
				}
			}
		}
	}
	for _, s := range p.Secrets {
		names[rel(dir, s.File)] = true
	}
	for _, c := range p.Configs {
		names[rel(dir, c.File)] = true
	}
	delete(names, "")

	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	if len(list) > lim.Files {
		return convert.Source{}, meshdock.Errorf(meshdock.ETOOLARGE, "%s: the project names %d files, at most %d are accepted", dir, len(list), lim.Files)
	}
	out := convert.Source{Name: p.Name, Env: src.Env, Profiles: src.Profiles}
	total := int64(0)
	for _, n := range list {
		b, err := readFile(root, n, lim.FileSize)
		if err != nil {
			return convert.Source{}, err
		}
		// The same bound as an upload: an app is an app, wherever it is.
		if total += int64(len(b)); total > lim.Body {
			return convert.Source{}, meshdock.Errorf(meshdock.ETOOLARGE, "%s: the project's files are over %s together", dir, size(lim.Body))
		}
		out.Files = append(out.Files, convert.File{Name: n, Content: b})
	}
	for _, n := range p.Files {
		out.ComposeFiles = append(out.ComposeFiles, rel(dir, n))
	}
	for _, n := range envFiles {
		out.EnvFiles = append(out.EnvFiles, rel(dir, n))
	}
	return out, nil
}

// rel returns p relative to dir with forward slashes, or "" when p is not
// inside dir (or is empty).
func rel(dir, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	r, err := filepath.Rel(dir, p)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(r)
}

func isRegular(root *os.Root, name string) bool {
	fi, err := root.Stat(filepath.FromSlash(name))
	return err == nil && fi.Mode().IsRegular()
}

func readFile(root *os.Root, name string, limit int) ([]byte, error) {
	f, err := root.Open(filepath.FromSlash(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, meshdock.Errorf(meshdock.EINVALID, "%s: file not found", name)
	}
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "%s: cannot read the file", name)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "%s: cannot read the file", name)
	}
	if len(b) > limit {
		return nil, meshdock.Errorf(meshdock.ETOOLARGE, "%s is over %s: at most %s per file", name, size(int64(limit)), size(int64(limit)))
	}
	return b, nil
}

// envFilesIn lists the env_file entries of a compose file: a string, a list
// of strings, or a list of {path: ...}. Entries with variables are skipped.
func envFilesIn(composeFile []byte) []string {
	var doc struct {
		Services map[string]struct {
			EnvFile yaml.Node `yaml:"env_file"`
		} `yaml:"services"`
	}
	if yaml.Unmarshal(composeFile, &doc) != nil {
		return nil
	}
	var out []string
	add := func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Value != "" && !strings.Contains(n.Value, "$") {
			out = append(out, n.Value)
		}
	}
	for _, svc := range doc.Services {
		n := &svc.EnvFile
		switch n.Kind {
		case yaml.ScalarNode:
			add(n)
		case yaml.SequenceNode:
			for _, item := range n.Content {
				if item.Kind == yaml.MappingNode {
					for i := 0; i+1 < len(item.Content); i += 2 {
						if item.Content[i].Value == "path" {
							add(item.Content[i+1])
						}
					}
					continue
				}
				add(item)
			}
		}
	}
	return out
}

package compose

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/meshdock/meshdock"
)

// checkIncludes refuses `include` entries that would make compose-go read a
// file outside the project while loading: their env_file and
// project_directory are used as they are, not through the resource loader.
// Paths that depend on variables are refused too, since their value is only
// known inside compose-go. It works on the file as compose-go will see it
// (aliases and merge keys resolved), relative paths taken from base, the
// working directory of the file's load: the project's for a compose file
// the user named, the included file's own for one read for an include.
//
// It also reads (and so records, and bounds) the env files compose-go will
// read for each include: its env_file, or the .env of its project
// directory.
//
// Two forms are refused because compose-go takes their paths from a
// working directory that is not the file's own (for project_directory the
// folder above it; for env files of includes nested in an included file,
// one relative to the process's directory): project_directory, and
// env_file in a file that was itself included.
func checkIncludes(files fileSet, file, base string, doc map[string]any, nested bool, b *budget) error {
	root := files.root()
	name := shownName(root, file)
	for _, item := range asList(doc["include"]) {
		var paths, envFiles []string
		projectDir := ""
		if v, ok := item.(string); ok {
			paths = []string{v}
		} else if v := asMap(item); v != nil {
			paths, envFiles = asStrings(v["path"]), asStrings(v["env_file"])
			projectDir, _ = v["project_directory"].(string)
		} else {
			continue // compose-go refuses it
		}
		outside := func(key, p string) error {
			if _, in := files.inside(resolveIn(base, p)); strings.Contains(p, "$") || !in {
				return meshdock.Errorf(meshdock.EINVALID, "%s: include.%s %s is outside the project (or depends on a variable): only files of the project can be used", name, key, p)
			}
			return nil
		}
		if projectDir != "" {
			return meshdock.Errorf(meshdock.EINVALID, "%s: include.project_directory is not supported: an included file's paths are taken from its own folder", name)
		}
		if nested && len(envFiles) > 0 {
			return meshdock.Errorf(meshdock.EINVALID, "%s: include.env_file is not supported in an included file: give the variables in the env file of the first include", name)
		}
		for _, p := range envFiles {
			if p == "/dev/null" {
				continue
			}
			if err := outside("env_file", p); err != nil {
				return err
			}
			if err := readIncludeEnv(files, resolveIn(base, p), b); err != nil {
				return err
			}
		}
		if len(envFiles) > 0 || len(paths) == 0 || strings.Contains(paths[0], "$") {
			continue
		}
		// No env_file: compose-go reads the .env of the project directory.
		dir := filepath.Dir(resolveIn(base, paths[0]))
		if err := readIncludeEnv(files, filepath.Join(dir, ".env"), b); err != nil {
			return err
		}
	}
	return nil
}

// readIncludeEnv records and bounds an env file compose-go reads for an
// include: it must be a regular file of the project (not a link out of
// it, not a device). A missing one is compose-go's to report, or to skip.
func readIncludeEnv(files fileSet, path string, b *budget) error {
	rel, byName := relativeTo(files.root(), path)
	if !byName {
		return nil // outside: the loader refuses the include itself
	}
	if !files.lexists(rel) {
		return nil
	}
	if _, in := files.inside(rel); !in {
		return meshdock.Errorf(meshdock.EINVALID, "%s is outside the project: only files of the project can be used", rel)
	}
	content, err := files.read(rel, MaxFileSize)
	if err != nil {
		return meshdock.Errorf(meshdock.EINVALID, "%s: an env file of an include must be a readable file of the project: %s", rel, meshdock.ErrorMessage(err))
	}
	return b.includeEnv(rel, content)
}

// asList returns a YAML sequence as decoded, or nothing.
func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// asStrings returns a string or a list of strings as decoded.
func asStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// asMap returns a YAML mapping as decoded, or nothing. A mapping with keys
// that are not all strings (decoded as map[any]any) is given string keys,
// as compose-go gives them.
func asMap(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[fmt.Sprint(k)] = e
		}
		return out
	}
	return nil
}

func resolveIn(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

package convert

import (
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshdock/meshdock"
)

// checkIncludes refuses `include` entries that would make compose-go read a
// file outside the project while loading: their env_file and
// project_directory are used as they are, not through the resource loader.
// Paths that depend on variables are refused too, since their value is only
// known inside compose-go.
//
// It also reads (and so records) the env files compose-go will read for
// each include: its env_file, or the .env beside the included file.
func checkIncludes(files fileSet, file string, content []byte, b *budget) error {
	root := files.root()
	var doc yaml.Node
	if yaml.Unmarshal(content, &doc) != nil || len(doc.Content) == 0 {
		return nil // compose-go reports the syntax error with its position
	}
	inc := child(doc.Content[0], "include")
	if inc == nil || inc.value.Kind != yaml.SequenceNode {
		return nil
	}
	name := relName(root, file)
	for _, item := range inc.value.Content {
		if err := includeDotEnv(files, root, item, b); err != nil {
			return err
		}
		if item.Kind != yaml.MappingNode {
			continue
		}
		for _, key := range []string{"env_file", "project_directory"} {
			kv := child(item, key)
			if kv == nil {
				continue
			}
			values := []*yaml.Node{kv.value}
			if kv.value.Kind == yaml.SequenceNode {
				values = kv.value.Content
			}
			for _, v := range values {
				p := v.Value
				if p == "/dev/null" && key == "env_file" {
					continue
				}
				bad := strings.Contains(p, "$")
				if !bad {
					bad = !realWithin(root, resolveIn(root, p)) || !realWithin(root, resolveIn(filepath.Dir(file), p))
				}
				if bad {
					return meshdock.Errorf(meshdock.EINVALID, "%s:%d: include.%s %s is outside the project (or depends on a variable): only files of the project can be used", name, v.Line, key, p)
				}
				if key == "env_file" {
					if rel := files.rel(resolveIn(root, p)); rel != "" && files.exists(rel) {
						content, err := files.read(rel, MaxFileSize)
						if err != nil {
							return err
						}
						if err := b.includeEnv(rel, content); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

// includeDotEnv records the .env beside an included file, which compose-go
// reads itself when the include names no env_file: it must be a regular
// file of the project (not a link out of it, not a device).
func includeDotEnv(files fileSet, root string, item *yaml.Node, b *budget) error {
	path := item
	if item.Kind == yaml.MappingNode {
		if child(item, "env_file") != nil || child(item, "project_directory") != nil {
			return nil
		}
		kv := child(item, "path")
		if kv == nil {
			return nil
		}
		path = kv.value
		if path.Kind == yaml.SequenceNode && len(path.Content) > 0 {
			path = path.Content[0]
		}
	}
	if path.Kind != yaml.ScalarNode || strings.Contains(path.Value, "$") {
		return nil
	}
	dotenv := filepath.Join(filepath.Dir(resolveIn(root, path.Value)), ".env")
	rel := files.rel(dotenv)
	if rel == "" {
		return nil // the include itself is outside: the loader refuses it
	}
	if !files.lexists(rel) {
		return nil // none: compose-go reads nothing
	}
	if rel == "" || !realWithin(root, dotenv) {
		return meshdock.Errorf(meshdock.EINVALID, "%s is outside the project: only files of the project can be used", dotenv)
	}
	content, err := files.read(rel, MaxFileSize)
	if err != nil {
		return meshdock.Errorf(meshdock.EINVALID, "%s: the .env of an included file must be a readable file of the project: %s", rel, meshdock.ErrorMessage(err))
	}
	return b.includeEnv(rel, content)
}

func resolveIn(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// realWithin reports whether p, with symbolic links followed, is inside
// root. A path that does not exist yet counts as inside when its name is.
func realWithin(root, p string) bool {
	if !within(root, p) {
		return false
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return false
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return true
	}
	return within(realRoot, real)
}

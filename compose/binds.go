package compose

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// HostPathAllowed reports whether a bind mount may become a hostPath
// volume. An upload's relative paths name the server's private copy, not
// the user's disk: only absolute host paths can be carried over, and only
// exactly as the user wrote them.
func (p *Project) HostPathAllowed(service string, v types.ServiceVolumeConfig) bool {
	written := p.writtenBindSource(service, v.Target)
	return !p.inMemory || (!isUnder(filepath.Dir(p.root), v.Source) && strings.HasPrefix(written, "/") &&
		filepath.Clean(written) == filepath.Clean(v.Source))
}

// ShownSource names a bind source for the user: relative to the project
// when inside it. compose-go expands a leading `~` with the home directory
// of whoever runs the conversion; for an upload that is the server's, so it
// is shown as the user wrote it (`~/...`) rather than revealed, and an
// upload's relative path stays relative rather than naming the private copy.
func (p *Project) ShownSource(service, target, src string) string {
	if isUnder(p.root, src) {
		return "./" + p.relPath(src)
	}
	written := p.writtenBindSource(service, target)
	home := serverHome()
	switch {
	case p.inMemory && strings.HasPrefix(written, "/"):
		return src
	case p.inMemory && written == "" && home != "" && isUnder(home, src):
		// Where the value came from is not known: never show the home.
		rel, _ := filepath.Rel(home, src)
		return "~/" + filepath.ToSlash(rel)
	case p.inMemory && written != "": // relative, or `~/...`
		return path.Clean(filepath.ToSlash(written))
	case p.inMemory:
		rel, _ := filepath.Rel(p.root, src)
		return filepath.ToSlash(rel)
	case home != "" && isUnder(home, src):
		rel, _ := filepath.Rel(home, src)
		return "~/" + filepath.ToSlash(rel)
	}
	return src
}

// writtenBindSource returns the source of the service's bind mount at
// target as the user wrote it, with their variables substituted but
// neither `~` expanded nor made absolute ("" when not found). Only this
// form tells a path the user gave from one compose-go made up.
func (p *Project) writtenBindSource(service, target string) string {
	src := p.rawBindSource(service, target)
	if !strings.Contains(src, "$") {
		return src
	}
	out, ok := substitute(src, p.env)
	if !ok {
		return ""
	}
	return out
}

// rawBindSource returns the bind source as the compose files wrote it.
//
// Of several files, the last that mounts something at target wins, as
// compose merges volumes by target; a file read for an include counts only
// when no file the user named has one.
func (p *Project) rawBindSource(service, target string) string {
	found, foundIncluded := "", ""
	for _, f := range p.loc.files {
		for _, v := range nodeChildren(nodeAt(f.root, []string{p.loc.sectionOf(service), service, "volumes"})) {
			src, dst := "", ""
			if v.Kind == yaml.ScalarNode {
				if parts := strings.Split(v.Value, ":"); len(parts) >= 2 {
					src, dst = parts[0], parts[1]
				}
			} else if v.Kind == yaml.MappingNode {
				if kv := child(v, "source"); kv != nil {
					src = kv.value.Value
				}
				if kv := child(v, "target"); kv != nil {
					dst = kv.value.Value
				}
			}
			if dst != target {
				continue
			}
			if f.included {
				foundIncluded = src
			} else {
				found = src
			}
		}
	}
	if found == "" {
		return foundIncluded
	}
	return found
}

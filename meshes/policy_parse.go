package meshes

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshdock/meshdock"
)

// policyMaxBytes bounds a policy file: real ones are a few hundred bytes.
const policyMaxBytes = 1 << 20

// ParsePolicy reads a policy file, YAML or JSON (JSON is YAML), refusing
// unknown keys, values of the wrong kind, anchors and aliases, and more
// than one document, then validates it without knowing the app's services
// (Validate checks those). Errors are EINVALID and name the file, the line
// and the field path ("policy.yaml:7: services.api.retries.attempts: must
// be between 1 and 10, not 0").
func ParsePolicy(name string, data []byte) (*Policy, error) {
	if len(data) > policyMaxBytes {
		return nil, meshdock.Errorf(meshdock.ETOOLARGE, "%s: a policy file may have at most %d bytes", name, policyMaxBytes)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Policy{}, nil
		}
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "%s: not YAML or JSON: %v", name, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, meshdock.Errorf(meshdock.EINVALID, "%s: holds more than one document", name)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	lines := map[string]int{}
	if issues := policyCheckNode(root, reflect.TypeFor[Policy](), "", lines); len(issues) > 0 {
		return nil, policyError(name, issues, func(p string) int { return lines[p] })
	}
	p := &Policy{}
	if root.Kind != yaml.ScalarNode { // a null document is an empty policy
		if err := root.Decode(p); err != nil {
			// policyCheckNode has checked every kind already.
			return nil, meshdock.Wrap(meshdock.EINVALID, err, "%s: %v", name, err)
		}
	}
	return p, policyError(name, p.issues(nil), func(path string) int { return policyLine(lines, path) })
}

// policyLine is the line of path, or of the nearest enclosing field that
// has one.
func policyLine(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// policyCheckNode checks that n has the shape of Go type t, whose fields are
// named by their json tags, and records the line of every path in lines.
func policyCheckNode(n *yaml.Node, t reflect.Type, path string, lines map[string]int) []policyIssue {
	if path != "" {
		lines[path] = n.Line
	}
	at := path
	if at == "" {
		at = "(top level)"
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return []policyIssue{{at, "anchors and aliases are not supported in a policy"}}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return []policyIssue{{at, "must be a mapping of keys to values"}}
		}
		fields := map[string]reflect.Type{}
		var known []string
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[tag] = f.Type
			known = append(known, tag)
		}
		var out []policyIssue
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(k.Value)
			lines[kp] = k.Line
			ft, ok := fields[k.Value]
			switch {
			case k.Kind != yaml.ScalarNode:
				out = append(out, policyIssue{at, "keys must be plain strings"})
			case seen[k.Value]:
				out = append(out, policyIssue{kp, "is given twice"})
			case !ok:
				out = append(out, policyIssue{kp, fmt.Sprintf("unknown key (known here: %s)", strings.Join(known, ", "))})
			default:
				out = append(out, policyCheckNode(v, ft, kp, lines)...)
				lines[kp] = k.Line
			}
			seen[k.Value] = true
		}
		return out
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return []policyIssue{{at, "must be a mapping of service names to service policies"}}
		}
		var out []policyIssue
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(k.Value)
			switch {
			case k.Kind != yaml.ScalarNode || k.Tag != "!!str":
				out = append(out, policyIssue{at, fmt.Sprintf("key %q must be a service name", k.Value)})
			case seen[k.Value]:
				out = append(out, policyIssue{kp, "is given twice"})
			default:
				out = append(out, policyCheckNode(v, t.Elem(), kp, lines)...)
				lines[kp] = k.Line
			}
			seen[k.Value] = true
		}
		return out
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return []policyIssue{{at, "must be a list"}}
		}
		var out []policyIssue
		for i, item := range n.Content {
			out = append(out, policyCheckNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines)...)
		}
		return out
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return []policyIssue{{at, "must be a string"}}
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return []policyIssue{{at, "must be a whole number"}}
		}
		var v int64
		if err := n.Decode(&v); err != nil || v != int64(int(v)) {
			return []policyIssue{{at, "is out of range"}}
		}
	}
	return nil
}

package compose

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshdock/meshdock"
)

// locator finds where a key of the compose model was written: which of the
// user's files and which line. compose-go's model has no positions, so the
// files are parsed once more as YAML nodes.
type locator struct {
	files []locFile
}

type locFile struct {
	name  string
	root  *yaml.Node // the top-level mapping, nil when the file did not parse
	lines [][]byte
	// included is true for a file compose-go read for an include or an
	// extends: it locates a key only when no compose file named by the
	// user has it.
	included bool
}

// addRoot records a file already parsed; included is true for a file read
// for an include or an extends.
func (l *locator) addRoot(name string, content []byte, root *yaml.Node, included bool) *yaml.Node {
	l.files = append(l.files, locFile{name: name, lines: bytes.Split(content, []byte("\n")), root: root, included: included})
	return root
}

// path returns the file and line of a key path such as
// ("services", "web", "ports"). Later files override earlier ones, so the
// last file that has the path wins. When no file has the whole path, the
// deepest prefix found is used; with nothing found, the first file.
func (l *locator) path(parts ...string) (string, int) {
	bestFile, bestLine, bestDepth := "", 0, -1
	for _, f := range l.files {
		if f.root == nil {
			continue
		}
		node, depth := f.root, 0
		line := 0
		for i := 0; i < len(parts); {
			// A user's name may hold dots ("vhost.d", "com.example.x"):
			// the longest run of parts that names a key wins.
			var next *keyValue
			n := len(parts) - i
			for ; n > 0; n-- {
				if next = child(node, strings.Join(parts[i:i+n], ".")); next != nil {
					break
				}
			}
			if next == nil {
				break
			}
			node, depth, line = next.value, depth+n, next.key.Line
			i += n
		}
		if depth > 0 && (depth > bestDepth || depth == bestDepth && !f.included) {
			bestFile, bestLine, bestDepth = f.name, line, depth
		}
	}
	if bestFile == "" && len(l.files) > 0 {
		return l.files[0].name, 0
	}
	return bestFile, bestLine
}

// serviceKey is path("services", service, key...), or for a job
// path("jobs", job, key...).
func (l *locator) serviceKey(service string, key ...string) (string, int) {
	return l.path(append([]string{l.sectionOf(service), service}, key...)...)
}

// sectionOf names the section a service is written in: services, or jobs
// for a job.
func (l *locator) sectionOf(service string) string {
	if !l.has("services", service) && l.has("jobs", service) {
		return "jobs"
	}
	return "services"
}

type keyValue struct{ key, value *yaml.Node }

// child returns the entry of a mapping by key, or the item of a sequence by
// index.
func child(n *yaml.Node, key string) *keyValue {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return &keyValue{n.Content[i], n.Content[i+1]}
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(n.Content) {
			return &keyValue{n.Content[i], n.Content[i]}
		}
		// A list of KEY=VALUE entries (environment, labels) names its
		// entries by key.
		for _, c := range n.Content {
			if c.Kind == yaml.ScalarNode {
				if k, _, _ := strings.Cut(c.Value, "="); k == key {
					return &keyValue{c, c}
				}
			}
		}
	}
	return nil
}

// place is a file and a line.
type place struct {
	file string
	line int
}

// variableUses returns where each variable is first referred to in the
// compose files, in one pass over them.
func (l *locator) variableUses() map[string]place {
	out := map[string]place{}
	for _, f := range l.files {
		for i, line := range f.lines {
			for _, m := range variableRef.FindAllSubmatch(line, -1) {
				if len(m[1])%2 == 0 {
					continue
				}
				name := string(m[2]) + string(m[4])
				if _, ok := out[name]; !ok {
					out[name] = place{f.name, i + 1}
				}
			}
		}
	}
	return out
}

// outside reports a file reference that leaves the project, as the user
// wrote it (compose-go has made it absolute by now).
func (l *locator) outside(key, resolved string) error {
	parts := SplitKey(key)
	file, line := l.path(parts...)
	written := ""
	for _, f := range l.files {
		if w := writtenPath(nodeAt(f.root, parts), filepath.Base(resolved)); w != "" {
			written = w
		}
	}
	if written == "" {
		written = filepath.Base(resolved)
	}
	return meshdock.Errorf(meshdock.EINVALID, "%s:%d: %s: %s is outside the project: only files of the project can be used", file, line, key, written)
}

// writtenPath finds, in a scalar, a `path:` mapping or a list of either,
// the path that ends in base.
func writtenPath(n *yaml.Node, base string) string {
	if n == nil {
		return ""
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if filepath.Base(n.Value) == base {
			return n.Value
		}
	case yaml.MappingNode:
		if p := child(n, "path"); p != nil {
			return writtenPath(p.value, base)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if w := writtenPath(c, base); w != "" {
				return w
			}
		}
	}
	return ""
}

// has reports whether any file writes the key path.
func (l *locator) has(parts ...string) bool {
	for _, f := range l.files {
		if nodeAt(f.root, parts) != nil {
			return true
		}
	}
	return false
}

// nodeChildren returns the values of a mapping or the items of a sequence.
func nodeChildren(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		var out []*yaml.Node
		for i := 1; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i])
		}
		return out
	case yaml.SequenceNode:
		return n.Content
	}
	return nil
}

// nodeAt returns the node at a key path, or nil.
func nodeAt(n *yaml.Node, parts []string) *yaml.Node {
	for _, p := range parts {
		kv := child(n, p)
		if kv == nil {
			return nil
		}
		n = kv.value
	}
	return n
}

// written returns a scalar as the user wrote it at a key path (the last
// file that has it), or "" when no file has a scalar there.
func (l *locator) written(parts ...string) string {
	out := ""
	for _, f := range l.files {
		if n := nodeAt(f.root, parts); n != nil && n.Kind == yaml.ScalarNode {
			out = n.Value
		}
	}
	return out
}

// findValue returns the key path and line of the first scalar whose value
// contains text, for messages that quote a value but name no key.
func (l *locator) findValue(text string) (file, key, value string, line int) {
	for _, f := range l.files {
		if k, v, ln := findIn(f.root, nil, text); k != "" {
			return f.name, k, v, ln
		}
	}
	return "", "", "", 0
}

func findIn(n *yaml.Node, path []string, text string) (string, string, int) {
	if n == nil {
		return "", "", 0
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, text) {
			return strings.Join(path, "."), n.Value, n.Line
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v, ln := findIn(n.Content[i+1], append(path, n.Content[i].Value), text); k != "" {
				return k, v, ln
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if k, v, ln := findIn(c, append(path, strconv.Itoa(i)), text); k != "" {
				return k, v, ln
			}
		}
	}
	return "", "", 0
}

// quotedValue finds the value a message complains about: the text after
// its last ": ".
var quotedValue = regexp.MustCompile(`: ([^:\s][^\s]*)$`)

var invalidSpec = regexp.MustCompile(`invalid spec: (\S+):`)

// keyPathInMessage matches the key paths compose-go puts in its messages,
// such as "services.web.ports.0" or "services.web Additional property".
var keyPathInMessage = regexp.MustCompile(`\b((?:services|volumes|networks|secrets|configs|include|models)(?:\.[A-Za-z0-9_\-]+)+)`)

// messageKeys find the key a compose-go message is about when it names the
// key in words rather than as a path.
var messageKeys = []struct {
	re   *regexp.Regexp
	path func(m []string) []string
}{
	{regexp.MustCompile(`service "([^"]+)" depends on undefined service`), func(m []string) []string { return []string{"services", m[1], "depends_on"} }},
	{regexp.MustCompile(`service "([^"]+)" refers to undefined (volume|network|secret|config)`), func(m []string) []string { return []string{"services", m[1], m[2] + "s"} }},
	{regexp.MustCompile(`service "([^"]+)" has neither an image nor a build`), func(m []string) []string { return []string{"services", m[1]} }},
	{regexp.MustCompile(`dependency cycle detected: ([^ ]+) ->`), func(m []string) []string { return []string{"services", m[1], "depends_on"} }},
	{regexp.MustCompile(`cannot extend service "([^"]+)"`), func(m []string) []string { return []string{"services", m[1], "extends"} }},
	{regexp.MustCompile(`'services\[([^\]]+)\]\.([\w.]+)'`), func(m []string) []string { return append([]string{"services", m[1]}, strings.Split(m[2], ".")...) }},
	{regexp.MustCompile(`validating [^:]+: +additional properties ('[^']+'(?:, '[^']+')*) not allowed`), nil},
	{regexp.MustCompile("service (\\S+) declares mutually exclusive `network_mode` and `networks`"), func(m []string) []string { return []string{"services", m[1], "network_mode"} }},
	{regexp.MustCompile(`services additional properties '([^']+)' not allowed`), func(m []string) []string { return []string{"services", m[1]} }},
}

// valueInMessage finds the value in compose-go messages that name no key.
var valueInMessage = regexp.MustCompile(`MUST include service\.platform "([^"]+)"`)

// firstWritten returns, of the top-level keys a message lists ('a', 'b'),
// the one written first: compose-go lists them in no fixed order.
func (l *locator) firstWritten(list string) []string {
	var best []string
	bestFile, bestLine := "", 0
	for _, m := range quotedName.FindAllStringSubmatch(list, -1) {
		file, line := l.path(m[1])
		if best == nil || (line > 0 && (bestLine == 0 || file < bestFile || file == bestFile && line < bestLine)) {
			best, bestFile, bestLine = []string{m[1]}, file, line
		}
	}
	return best
}

var quotedName = regexp.MustCompile(`'([^']+)'`)

// annotate adds "file:line" to a compose-go message that names a key path
// and no line.
func (l *locator) annotate(msg string, files []string) string {
	if strings.Contains(msg, "line ") {
		return l.prefixFile(msg, files)
	}
	for _, mk := range messageKeys {
		if m := mk.re.FindStringSubmatch(msg); m != nil {
			path := l.firstWritten(m[1])
			if mk.path != nil {
				path = mk.path(m)
			}
			if file, line := l.path(path...); file != "" && line > 0 {
				msg = strings.TrimPrefix(strings.TrimPrefix(msg, "validating "+file+": "), file+": ")
				if len(path) == 1 && !l.has("services") {
					msg += " (services go under a top-level services: key; the version 1 format, with services at the top level, is not supported)"
				}
				return fmt.Sprintf("%s:%d: %s: %s", file, line, strings.Join(path, "."), strings.TrimSpace(msg))
			}
		}
	}
	// Messages that give a value and no key: the value says where.
	if v := valueInMessage.FindStringSubmatch(msg); v != nil {
		if file, key, _, line := l.findValue(v[1]); key != "" {
			return fmt.Sprintf("%s:%d: %s: %s", file, line, key, strings.TrimPrefix(msg, file+": "))
		}
	}
	m := keyPathInMessage.FindStringSubmatch(msg)
	if m == nil {
		// "invalid spec: :/media/: empty section between colons": the
		// value is the spec.
		if v := invalidSpec.FindStringSubmatch(msg); v != nil {
			if file, key, value, line := l.findValue(v[1]); key != "" {
				return fmt.Sprintf("%s:%d: %s: %q: %s", file, line, key, value, msg)
			}
		}
		// "invalid hostPort: 70000": find the value to name its key.
		if v := quotedValue.FindStringSubmatch(msg); v != nil && len(v[1]) > 1 {
			if file, key, value, line := l.findValue(v[1]); key != "" {
				return fmt.Sprintf("%s:%d: %s: %q: %s", file, line, key, value, msg)
			}
		}
		return l.prefixFile(msg, files)
	}
	file, line := l.path(strings.Split(m[1], ".")...)
	if file == "" {
		return msg
	}
	loc := file
	if line > 0 {
		loc = fmt.Sprintf("%s:%d", file, line)
	}
	msg = strings.TrimPrefix(msg, "validating "+file+": ")
	return loc + ": " + msg
}

// prefixFile makes sure a message names a file: when it names none of the
// user's files and there is only one, that one is meant.
func (l *locator) prefixFile(msg string, files []string) string {
	for _, f := range files {
		if strings.Contains(msg, f) {
			return msg
		}
	}
	if len(files) == 1 {
		return files[0] + ": " + msg
	}
	return msg
}

// SplitKey splits a dotted compose key ("deploy.replicas") into its parts.
func SplitKey(key string) []string {
	if key == "" {
		return nil
	}
	return strings.Split(key, ".")
}

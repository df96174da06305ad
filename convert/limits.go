package convert

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/template"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
)

// Limits on the work one project may cause, each checked before the step
// that would pay for it. Real apps stay far below every one of them.
const (
	// MaxPorts bounds the container ports of a project once port ranges
	// are expanded: "1-65535:1-65535" is one line and 65535 ports.
	MaxPorts = 2000
	// MaxObjects bounds the Kubernetes objects of one conversion.
	MaxObjects = 5000
	// MaxOutputSize bounds the manifests of one conversion, as JSON.
	MaxOutputSize = 16 << 20
	// MaxInterpolated bounds the bytes variables add to the compose files:
	// a 1 MiB value used a thousand times would be a gigabyte.
	MaxInterpolated = 16 << 20
	// MaxNodes bounds the YAML nodes of a project with every alias and
	// every `extends` of a service expanded: a small file can repeat a
	// large anchor or base service thousands of times.
	MaxNodes = 1 << 17
	// MaxExpandedBytes bounds the text of the YAML scalars likewise: an
	// anchor of a few megabytes used by every service is gigabytes.
	MaxExpandedBytes = 16 << 20
	// MaxIncludes bounds the files `include` names in all.
	MaxIncludes = 100
	// MaxDependencies bounds depends_on and links entries in all.
	MaxDependencies = 10000
	// MaxWarnings bounds the warnings of one conversion; one more says
	// how many were left out.
	MaxWarnings = 1000
)

// budget counts what a project will cost from its YAML as written, so that
// a project over a limit is refused before compose-go expands it, and
// counts the bytes interpolation adds while compose-go loads it.
type budget struct {
	mu       sync.Mutex
	services map[string]bool
	ports    int
	nodes    int
	bytes    int
	includes int
	deps     int
	interp   int
	// includeEnv is the largest an env file of an include may make a
	// variable: compose-go interpolates included files with those files
	// and the user's variables, without asking meshdock.
	includeEnvMax int
	err           error // the first limit passed during the load

	env   map[string]string     // the user's variables
	files fileSet               // to read the bases of `extends: file:`
	bases map[string]*yaml.Node // their top-level mappings, by absolute path
}

func newBudget(files fileSet) *budget {
	return &budget{services: map[string]bool{}, files: files, bases: map[string]*yaml.Node{}}
}

// withEnv gives the budget the user's variables, so that a port range
// written as "${RANGE}" is counted before compose-go expands it.
func (b *budget) withEnv(env map[string]string) { b.env = env }

// scan accounts for one compose file (given, included or extended) as
// parsed into YAML nodes.
func (b *budget) scan(name string, root *yaml.Node) error {
	if root == nil {
		return nil // compose-go reports the syntax error with its position
	}
	sizes := map[*yaml.Node]extent{}
	n := expandedSize(root, sizes, 0)
	if inc := child(root, "include"); inc != nil {
		if err := b.scanIncludes(name, inc.value); err != nil {
			return err
		}
	}
	services := child(root, "services")
	if services != nil && services.value.Kind == yaml.MappingNode {
		local := servicesOf(root)
		for i := 0; i+1 < len(services.value.Content); i += 2 {
			key, svc := services.value.Content[i], services.value.Content[i+1]
			if !b.services[key.Value] {
				b.services[key.Value] = true
				if len(b.services) > MaxServices {
					return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: more than %d services: at most %d are accepted", name, key.Line, MaxServices, MaxServices)
				}
			}
			if err := checkExtends(name, key.Value, svc); err != nil {
				return err
			}
			// A service that extends another copies it.
			n = n.add(b.extendedSize(name, svc, local, sizes, map[*yaml.Node]bool{}, 0))
			if err := b.scanPorts(name, key.Value, svc); err != nil {
				return err
			}
			for _, k := range []string{"depends_on", "links"} {
				if kv := child(svc, k); kv != nil {
					b.deps += len(nodeChildren(deref(kv.value)))
				}
			}
			if b.deps > MaxDependencies {
				return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: services.%s: the project has more than %d depends_on and links entries: at most %d are accepted", name, key.Line, key.Value, MaxDependencies, MaxDependencies)
			}
		}
	}
	b.nodes += n.nodes
	b.bytes += n.bytes
	if b.nodes > MaxNodes {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%s: the compose files expand to over %d YAML nodes (anchors, aliases and extends counted each time they are used): at most %d are accepted", name, MaxNodes, MaxNodes)
	}
	if b.bytes > MaxExpandedBytes {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%s: the compose files expand to over %s of text (anchors, aliases and extends counted each time they are used): at most %s are accepted", name, size(MaxExpandedBytes), size(MaxExpandedBytes))
	}
	return nil
}

// scanIncludes counts the files an `include` names: compose-go loads a
// file once per mention.
func (b *budget) scanIncludes(file string, inc *yaml.Node) error {
	for _, item := range nodeChildren(deref(inc)) {
		paths := []*yaml.Node{item}
		if item.Kind == yaml.MappingNode {
			paths = nil
			if kv := child(item, "path"); kv != nil {
				paths = append(paths, kv.value)
				if v := deref(kv.value); v.Kind == yaml.SequenceNode {
					paths = v.Content
				}
			}
		}
		b.includes += len(paths)
		if b.includes > MaxIncludes {
			return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: include: the project includes more than %d files: at most %d are accepted", file, item.Line, MaxIncludes, MaxIncludes)
		}
	}
	return nil
}

// checkExtends refuses an `extends` whose parts are not text before
// compose-go, which assumes they are, gets to it.
func checkExtends(file, service string, svc *yaml.Node) error {
	ext := child(svc, "extends")
	if ext == nil {
		return nil
	}
	v := deref(ext.value)
	isText := func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" }
	switch {
	case isText(v):
		return nil
	case v.Kind == yaml.MappingNode:
		for _, k := range []string{"service", "file"} {
			if kv := child(v, k); kv != nil && !isText(deref(kv.value)) {
				return meshdock.Errorf(meshdock.EINVALID, "%s:%d: services.%s.extends.%s must be a string", file, kv.key.Line, service, k)
			}
		}
		if child(v, "service") == nil {
			return meshdock.Errorf(meshdock.EINVALID, "%s:%d: services.%s.extends: service is required", file, ext.key.Line, service)
		}
		return nil
	}
	return meshdock.Errorf(meshdock.EINVALID, "%s:%d: services.%s.extends must be a service name or a mapping with service and file", file, ext.key.Line, service)
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxYAMLDepth; i++ {
		n = n.Alias
	}
	if n == nil {
		return &yaml.Node{}
	}
	return n
}

// servicesOf maps the services of a compose file to their nodes.
func servicesOf(root *yaml.Node) map[string]*yaml.Node {
	local := map[string]*yaml.Node{}
	if services := child(root, "services"); services != nil && services.value.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(services.value.Content); i += 2 {
			local[services.value.Content[i].Value] = services.value.Content[i+1]
		}
	}
	return local
}

// scanPorts counts a service's ports and exposed ports as written, ranges
// expanded. Values that depend on variables are counted after the load.
func (b *budget) scanPorts(file, service string, svc *yaml.Node) error {
	for _, key := range []string{"ports", "expose"} {
		kv := child(svc, key)
		if kv == nil {
			continue
		}
		for _, item := range nodeChildren(kv.value) {
			spec := item.Value
			if item.Kind == yaml.MappingNode {
				spec = ""
				for _, k := range []string{"published", "target"} {
					if v := child(item, k); v != nil {
						spec += v.value.Value + ":"
					}
				}
			}
			shown := fmt.Sprintf("%q", spec)
			if strings.Contains(spec, "$") {
				spec = b.substitute(spec)
				shown += fmt.Sprintf(" (%q)", spec)
			}
			b.ports += portCount(spec)
			if b.ports > MaxPorts {
				return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: services.%s.%s: %s makes the project's ports more than %d (each port of a range counts): at most %d are accepted",
					file, item.Line, service, key, shown, MaxPorts, MaxPorts)
			}
		}
	}
	return nil
}

// substitute fills in the user's variables as compose-go will; on a
// malformed value it returns the text as it is, and compose-go reports it.
func (b *budget) substitute(s string) string {
	out, err := template.Substitute(s, func(k string) (string, bool) {
		v, ok := b.env[k]
		return v, ok
	})
	if err != nil {
		return s
	}
	return out
}

// portCount is how many ports a port specification stands for: the size of
// its largest range ("8000-8010:80" is 11, "53/udp" is 1).
func portCount(spec string) int {
	spec, _, _ = strings.Cut(spec, "/")
	if i := strings.LastIndex(spec, "]"); i >= 0 { // [::1]:80:80
		spec = spec[i+1:]
	}
	n := 1
	for _, part := range strings.Split(spec, ":") {
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			continue
		}
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		z, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 == nil && err2 == nil && z >= a {
			n = max(n, min(z-a+1, 1<<20))
		}
	}
	return n
}

// extent is what a YAML subtree costs once expanded: its nodes and the
// bytes of its scalars.
type extent struct{ nodes, bytes int }

func (e extent) add(f extent) extent {
	return extent{min(e.nodes+f.nodes, MaxNodes+1), min(e.bytes+f.bytes, MaxExpandedBytes+1)}
}

var overLimit = extent{MaxNodes + 1, MaxExpandedBytes + 1}

// expandedSize is what the tree under n costs with aliases followed,
// memoised per node so that shared anchors cost their size once to count.
// It stops growing past the limits, and an alias that contains itself
// counts as past them.
func expandedSize(n *yaml.Node, sizes map[*yaml.Node]extent, depth int) extent {
	if n == nil {
		return extent{}
	}
	if s, ok := sizes[n]; ok {
		if s.nodes < 0 {
			return overLimit // an anchor inside itself
		}
		return s
	}
	if depth > 2*maxYAMLDepth {
		return overLimit
	}
	sizes[n] = extent{-1, -1}
	total := extent{1, len(n.Value)}
	if n.Kind == yaml.AliasNode {
		total = total.add(expandedSize(n.Alias, sizes, depth+1))
	}
	for _, c := range n.Content {
		total = total.add(expandedSize(c, sizes, depth+1))
		if total.nodes > MaxNodes || total.bytes > MaxExpandedBytes {
			break
		}
	}
	sizes[n] = total
	return total
}

// extendedSize is what a service's `extends` adds: the size of the base
// service, chains followed, when the base is in the same file; the size of
// the whole other file when it is in another (compose-go copies every
// service of that file for each service that extends one of them). A file
// that cannot be read counts nothing, and compose-go reports it.
func (b *budget) extendedSize(file string, svc *yaml.Node, local map[string]*yaml.Node, sizes map[*yaml.Node]extent, seen map[*yaml.Node]bool, depth int) extent {
	ext := child(svc, "extends")
	if ext == nil || seen[svc] || depth > MaxServices {
		return extent{}
	}
	seen[svc] = true
	v := deref(ext.value)
	base := v.Value
	var total extent
	if v.Kind == yaml.MappingNode {
		base = ""
		if s := child(v, "service"); s != nil {
			base = s.value.Value
		}
		if f := child(v, "file"); f != nil {
			var root *yaml.Node
			file, root = b.baseFile(file, f.value.Value)
			local = servicesOf(root)
			total = expandedSize(child(root, "services").valueOrNil(), sizes, 0)
		}
	}
	bs, ok := local[base]
	if !ok {
		return total
	}
	return total.add(expandedSize(bs, sizes, 0)).add(b.extendedSize(file, bs, local, sizes, seen, depth+1))
}

func (kv *keyValue) valueOrNil() *yaml.Node {
	if kv == nil {
		return nil
	}
	return kv.value
}

// baseFile returns the top-level mapping of the file an `extends` names,
// relative to the file that names it, and that file's project name.
func (b *budget) baseFile(from, name string) (string, *yaml.Node) {
	rel := b.files.rel(resolveIn(filepath.Dir(b.files.abs(from)), name))
	if rel == "" || strings.Contains(name, "$") {
		return from, nil
	}
	root, ok := b.bases[rel]
	if !ok {
		if content, err := b.files.read(rel, MaxComposeFileSize); err == nil && checkYAML(rel, content) == nil {
			root = topMapping(content)
		}
		b.bases[rel] = root
	}
	return rel, root
}

// lookup accounts for a variable's value as interpolation uses it. Past
// the limit it hands out empty values, so the load ends quickly, and the
// load reports the limit.
func (b *budget) lookup(key, value string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.interp += len(value)
	if b.interp > MaxInterpolated {
		if b.err == nil {
			b.err = meshdock.Errorf(meshdock.ETOOLARGE, "variables add more than %s to the compose files (${%s} among them): at most %s are accepted",
				size(MaxInterpolated), key, size(MaxInterpolated))
		}
		return ""
	}
	return value
}

func (b *budget) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// checkLoaded checks what only the loaded model shows: ports whose ranges
// came from variables, and the services an include brought.
func checkLoaded(p *Project) error {
	ports := 0
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		ports += len(s.Ports)
		for _, e := range s.Expose {
			ports += portCount(e)
		}
		if ports > MaxPorts {
			file, line := p.loc.serviceKey(name, "ports")
			return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: services.%s.ports: the project has more than %d ports (each port of a range counts): at most %d are accepted", file, line, name, MaxPorts, MaxPorts)
		}
	}
	return nil
}

// checkOutput bounds the objects of a conversion and their size.
func checkOutput(n int, bytes int) error {
	if n > MaxObjects {
		return meshdock.Errorf(meshdock.ETOOLARGE, "the project makes %d Kubernetes objects: at most %d are accepted", n, MaxObjects)
	}
	if bytes > MaxOutputSize {
		return meshdock.Errorf(meshdock.ETOOLARGE, "the manifests are over %s: at most %s are accepted", size(MaxOutputSize), size(MaxOutputSize))
	}
	return nil
}

// outputSize estimates the objects' size as JSON from their strings and
// values, without encoding them.
func outputSize(objs []*unstructured.Unstructured) int {
	n := 0
	for _, o := range objs {
		n += valueSize(o.Object)
	}
	return n
}

func valueSize(v any) int {
	switch t := v.(type) {
	case map[string]any:
		n := 2
		for k, e := range t {
			n += len(k) + 4 + valueSize(e)
		}
		return n
	case []any:
		n := 2
		for _, e := range t {
			n += 1 + valueSize(e)
		}
		return n
	case string:
		return len(t) + 2
	}
	return 8
}

var (
	envLine = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]`)
	envRef  = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
)

// envFileBound is an upper bound of the bytes an env file's values hold
// once its references to variables are expanded. The parser expands a
// variable of the same file without asking meshdock, and `B=${A}${A}`,
// `C=${B}${B}`... doubles with every line: the bound is checked before
// parsing. Lines of a quoted value spanning several lines count for the
// variable that opened it.
func envFileBound(content []byte, env func(string) string) int {
	sizes := map[string]int{}
	total, key := 0, ""
	for _, line := range strings.Split(string(content), "\n") {
		if m := envLine.FindStringSubmatch(line); m != nil {
			key = m[1]
			sizes[key] = 0
		}
		n := len(line)
		for _, ref := range envRef.FindAllStringSubmatch(line, -1) {
			if s, ok := sizes[ref[1]]; ok {
				n += s
			} else {
				n += len(env(ref[1]))
			}
			if n > MaxInterpolated {
				return MaxInterpolated + 1
			}
		}
		sizes[key] = min(sizes[key]+n, MaxInterpolated+1)
		total += n
		if total > MaxInterpolated {
			return MaxInterpolated + 1
		}
	}
	return total
}

// charge accounts for bytes a file adds to the project each time it is
// used, such as an env_file every service names.
func (b *budget) charge(n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.interp += n
	if b.interp > MaxInterpolated {
		return meshdock.Errorf(meshdock.ETOOLARGE, "env files, label files and variables add more than %s to the project (each use counts): at most %s are accepted", size(MaxInterpolated), size(MaxInterpolated))
	}
	return nil
}

// includeEnv accounts for an env file of an include (its env_file, or the
// .env beside the included file), which compose-go parses itself.
func (b *budget) includeEnv(name string, content []byte) error {
	n := envFileBound(content, func(k string) string { return b.env[k] })
	if n > MaxInterpolated {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%s: its variables expand to more than %s: at most %s are accepted", name, size(MaxInterpolated), size(MaxInterpolated))
	}
	b.mu.Lock()
	b.includeEnvMax = max(b.includeEnvMax, n)
	b.mu.Unlock()
	return b.charge(n)
}

// included accounts for the interpolation of a file compose-go loads for
// an include (or an extends): each reference to a variable may add the
// user's value of it or, past that, the largest an include's env file
// holds. Files given by the user are counted as they are interpolated.
func (b *budget) included(name string, content []byte) error {
	n := 0
	for _, ref := range envRef.FindAllSubmatch(content, -1) {
		n += max(len(b.env[string(ref[1])]), b.includeEnvMax)
		if n > MaxInterpolated {
			break
		}
	}
	if err := b.charge(n); err != nil {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%s: %s", name, meshdock.ErrorMessage(err))
	}
	return nil
}

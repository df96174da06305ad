package compose

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
	"gopkg.in/yaml.v3"

	"github.com/meshdock/meshdock"
)

// Limits on the work one project may cause, each checked before the step
// that would pay for it. Real apps stay far below every one of them.
const (
	// MaxPorts bounds the container ports of a project once port ranges
	// are expanded: "1-65535:1-65535" is one line and 65535 ports.
	MaxPorts = 2000
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
	// MaxAliases bounds the YAML aliases of a project: compose-go checks
	// every alias for a cycle along its whole path, which costs it seconds
	// for tens of thousands; real files use a few hundred at most.
	MaxAliases = 2000
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
	aliases  int
	deps     int
	interp   int
	// includeEnvMax is the largest an env file of an include may make a
	// variable: compose-go interpolates included files with those files
	// and the user's variables, without asking meshdock.
	includeEnvMax int
	includeVars   map[string]string // the variables those files set
	err           error             // the first limit passed during the load

	env   map[string]string       // the user's variables
	files fileSet                 // to read the bases of `extends: file:`
	bases map[string]baseFileInfo // those files, by name in the project
	sizes map[string]extent       // what each file scanned costs
}

func newBudget(files fileSet) *budget {
	return &budget{services: map[string]bool{}, files: files, bases: map[string]baseFileInfo{}, sizes: map[string]extent{}, includeVars: map[string]string{}}
}

// withEnv gives the budget the user's variables, so that a port range
// written as "${RANGE}" is counted before compose-go expands it.
func (b *budget) withEnv(env map[string]string) { b.env = env }

// scan accounts for one compose file (given, included or extended): its
// size as parsed into YAML nodes first, then, once that is known to be
// bounded, what the file holds as compose-go will see it, aliases and
// merge keys resolved. base is the working directory of the file's load,
// from which its relative paths are taken. It returns the resolved file.
func (b *budget) scan(name string, root *yaml.Node, base string) (map[string]any, error) {
	if root == nil {
		return nil, nil // empty, or not a mapping: compose-go says what is wrong
	}
	// The service count as written is known before anything is expanded,
	// and says more than a node count would.
	if services := nodeAt(root, []string{"services"}); services != nil && services.Kind == yaml.MappingNode {
		count := len(b.services)
		for i := 0; i+1 < len(services.Content); i += 2 {
			if key := services.Content[i]; !b.services[key.Value] {
				if count++; count > MaxServices {
					return nil, tooManyServices(name, key.Line)
				}
			}
		}
	}
	if b.aliases += countAliases(root, 0); b.aliases > MaxAliases {
		return nil, meshdock.Errorf(meshdock.ETOOLARGE, "%s: the project uses more than %d YAML aliases (*name): at most %d are accepted", name, MaxAliases, MaxAliases)
	}
	n := expandedSize(root, map[*yaml.Node]extent{}, 0)
	b.sizes[name] = n
	if err := b.addSize(name, n); err != nil {
		return nil, err
	}
	doc := asMap(resolveYAML(root, map[*yaml.Node]any{}, 0))
	if err := b.scanIncludes(name, doc); err != nil {
		return nil, err
	}
	// Jobs are services that run to completion: the same keys, the same
	// costs, extends within their own section.
	for _, section := range []string{"services", "jobs"} {
		if err := b.scanSection(name, root, base, section, asMap(doc[section])); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// scanSection bounds the services (or jobs) of one file.
func (b *budget) scanSection(name string, root *yaml.Node, base, section string, services map[string]any) error {
	names := slices.Sorted(maps.Keys(services))
	ext := newExtents(b, base, services)
	for _, svcName := range names {
		svc := asMap(services[svcName])
		line := sectionLine(root, section, svcName)
		if !b.services[svcName] {
			// Services written through an alias are counted here only.
			b.services[svcName] = true
			if len(b.services) > MaxServices {
				return tooManyServices(name, line)
			}
		}
		if err := checkExtends(name, line, section+"."+svcName, svc["extends"]); err != nil {
			return err
		}
		// A service that extends another copies it, ports too.
		copied := ext.of(svcName, 0)
		if err := b.addSize(name, copied); err != nil {
			return err
		}
		if b.ports += copied.ports; b.ports > MaxPorts {
			return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: %s.%s.extends: the ports it inherits make the project's ports more than %d (each port of a range counts): at most %d are accepted", name, line, section, svcName, MaxPorts, MaxPorts)
		}
		if err := b.scanPorts(name, root, section, svcName, svc); err != nil {
			return err
		}
		// compose-go copies the service's container spec into each of its
		// pre_start hooks.
		if hooks := len(asList(svc["pre_start"])); hooks > 0 {
			one := valueExtent(svc).add(copied)
			if err := b.addSize(name, extent{nodes: min(hooks*one.nodes, MaxNodes+1), bytes: min(hooks*one.bytes, MaxExpandedBytes+1)}); err != nil {
				return err
			}
		}
		b.deps += len(asList(svc["links"]))
		switch d := svc["depends_on"].(type) {
		case []any:
			b.deps += len(d)
		default:
			b.deps += len(asMap(d))
		}
		if b.deps > MaxDependencies {
			return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: %s.%s: the project has more than %d depends_on and links entries: at most %d are accepted", name, line, section, svcName, MaxDependencies, MaxDependencies)
		}
	}
	return nil
}

// countAliases counts the alias nodes of a file as written.
func countAliases(n *yaml.Node, depth int) int {
	if n == nil || depth > 2*maxYAMLDepth {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		return 1
	}
	c := 0
	for _, k := range n.Content {
		c += countAliases(k, depth+1)
	}
	return c
}

// again accounts for a file compose-go loads once more (named by a
// second include, or a second time as a base of extends).
func (b *budget) again(name string) error {
	return b.addSize(name, b.sizes[name])
}

// addSize adds what a file, or a copy made by extends, costs.
func (b *budget) addSize(name string, n extent) error {
	b.nodes = min(b.nodes+n.nodes, MaxNodes+1)
	b.bytes = min(b.bytes+n.bytes, MaxExpandedBytes+1)
	if b.nodes > MaxNodes {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%s: the compose files expand to over %d YAML nodes (anchors, aliases and extends counted each time they are used): at most %d are accepted", name, MaxNodes, MaxNodes)
	}
	if b.bytes > MaxExpandedBytes {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%s: the compose files expand to over %s of text (anchors, aliases and extends counted each time they are used): at most %s are accepted", name, meshdock.FormatSize(MaxExpandedBytes), meshdock.FormatSize(MaxExpandedBytes))
	}
	return nil
}

func tooManyServices(file string, line int) error {
	return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: more than %d services: at most %d are accepted", file, line, MaxServices, MaxServices)
}

// sectionLine returns the line of a service's (or job's) key when the file
// writes it directly ("services: {name: ...}"), else 0.
func sectionLine(root *yaml.Node, section, service string) int {
	if kv := child(nodeAt(root, []string{section}), service); kv != nil {
		return kv.key.Line
	}
	return 0
}

// scanIncludes counts the files an `include` names: compose-go loads a
// file once per mention.
func (b *budget) scanIncludes(file string, doc map[string]any) error {
	for _, item := range asList(doc["include"]) {
		n := 1
		if m := asMap(item); m != nil {
			n = len(asStrings(m["path"]))
		}
		b.includes += n
		if b.includes > MaxIncludes {
			return meshdock.Errorf(meshdock.ETOOLARGE, "%s: include: the project includes more than %d files: at most %d are accepted", file, MaxIncludes, MaxIncludes)
		}
	}
	return nil
}

// checkExtends refuses an `extends` whose parts are not text before
// compose-go, which assumes they are, gets to it.
func checkExtends(file string, line int, service string, ext any) error {
	switch v := ext.(type) {
	case nil, string:
		return nil
	case map[string]any, map[any]any:
		m := asMap(v)
		for _, k := range []string{"service", "file"} {
			if e, ok := m[k]; ok {
				if _, text := e.(string); !text {
					return meshdock.Errorf(meshdock.EINVALID, "%s:%d: %s.extends.%s must be a string", file, line, service, k)
				}
			}
		}
		if _, ok := m["service"]; !ok {
			return meshdock.Errorf(meshdock.EINVALID, "%s:%d: %s.extends: service is required", file, line, service)
		}
		return nil
	}
	return meshdock.Errorf(meshdock.EINVALID, "%s:%d: %s.extends must be a service name or a mapping with service and file", file, line, service)
}

// scanPorts counts a service's ports and exposed ports, ranges expanded
// and the user's variables filled in. Values whose variables come from
// elsewhere (an include's env file) are counted after the load.
func (b *budget) scanPorts(file string, root *yaml.Node, section, service string, svc map[string]any) error {
	for _, key := range []string{"ports", "expose"} {
		// The line of the item when it is written directly, else of the key
		// or the service.
		written := nodeAt(root, []string{section, service, key})
		line := sectionLine(root, section, service)
		if kv := child(nodeAt(root, []string{section, service}), key); kv != nil {
			line = kv.key.Line
		}
		for i, item := range asList(svc[key]) {
			if items := nodeChildren(written); i < len(items) && written.Kind == yaml.SequenceNode {
				line = items[i].Line
			}
			spec := portSpec(item)
			shown := fmt.Sprintf("%q", spec)
			if strings.Contains(spec, "$") {
				spec = b.substitute(spec)
				shown += fmt.Sprintf(" (%q)", spec)
			}
			b.ports += portCount(spec)
			if b.ports > MaxPorts {
				return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: %s.%s.%s: %s makes the project's ports more than %d (each port of a range counts): at most %d are accepted",
					file, line, section, service, key, shown, MaxPorts, MaxPorts)
			}
		}
	}
	return nil
}

// portSpec writes a ports or expose entry as portCount reads it: the short
// syntax as it is, the long one as its published and target ports.
func portSpec(item any) string {
	m := asMap(item)
	if m == nil {
		return fmt.Sprint(item)
	}
	spec := ""
	for _, k := range []string{"published", "target"} {
		if v, ok := m[k]; ok {
			spec += fmt.Sprint(v) + ":"
		}
	}
	return spec
}

// substitute fills in the user's variables as compose-go will; on a
// malformed value it returns the text as it is, and compose-go reports it.
// An included file's variables may come from its env files too.
func (b *budget) substitute(s string) string {
	if out, ok := substitute(s, b.env, b.includeVars); ok {
		return out
	}
	return s
}

// substitute fills in variables as compose-go does, each from the first
// of vars that has it; ok is false for a malformed value.
func substitute(s string, vars ...map[string]string) (string, bool) {
	out, err := template.Substitute(s, func(k string) (string, bool) {
		for _, m := range vars {
			if v, ok := m[k]; ok {
				return v, true
			}
		}
		return "", false
	})
	return out, err == nil
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
// extent is what a part of a file costs once expanded: YAML nodes, bytes
// of text, and (for an extends base) the container ports it brings.
type extent struct{ nodes, bytes, ports int }

func (e extent) add(f extent) extent {
	return extent{min(e.nodes+f.nodes, MaxNodes+1), min(e.bytes+f.bytes, MaxExpandedBytes+1), min(e.ports+f.ports, MaxPorts+1)}
}

var overLimit = extent{MaxNodes + 1, MaxExpandedBytes + 1, MaxPorts + 1}

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
	sizes[n] = extent{nodes: -1, bytes: -1}
	total := extent{nodes: 1, bytes: len(n.Value)}
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

// extents computes what `extends` copies, per service of one file:
// the base service when it is in the same file, chains followed; the whole
// other file when the base is in another (compose-go copies every service
// of that file for each service that extends one of them), and that
// file's own chain. Results are kept per service and per file, so a
// thousand services extending one base cost one walk of it.
type extents struct {
	b        *budget
	base     string // the working directory relative paths are taken from
	services map[string]any
	memo     map[string]extent
}

func newExtents(b *budget, base string, services map[string]any) *extents {
	return &extents{b: b, base: base, services: services, memo: map[string]extent{}}
}

// of is what extending the service's base adds to the service.
func (e *extents) of(service string, depth int) extent {
	if m, ok := e.memo[service]; ok {
		return m
	}
	if depth > MaxServices {
		return overLimit
	}
	e.memo[service] = overLimit // a cycle costs the limit; compose-go refuses it
	var total extent
	base := ""
	switch v := asMap(e.services[service])["extends"].(type) {
	case string:
		base = v
	default:
		m := asMap(v)
		base, _ = m["service"].(string)
		if f, ok := m["file"].(string); ok {
			other := e.b.baseFile(e.base, f)
			total = other.whole
			if other.extents != nil {
				total = total.add(other.copied(base)).add(other.of(base, depth+1))
			}
			e.memo[service] = total
			return total
		}
	}
	if base != "" {
		if _, ok := e.services[base]; ok {
			total = e.copied(base).add(e.of(base, depth+1))
		}
	}
	e.memo[service] = total
	return total
}

// copied is what a copy of a base service costs: its nodes and text, and
// its ports and exposed ports, ranges expanded (compose-go adds them to the
// service that extends it).
func (e *extents) copied(service string) extent {
	svc := asMap(e.services[service])
	x := valueExtent(e.services[service])
	for _, key := range []string{"ports", "expose"} {
		for _, item := range asList(svc[key]) {
			spec := portSpec(item)
			if strings.Contains(spec, "$") {
				spec = e.b.substitute(spec)
			}
			x.ports = min(x.ports+portCount(spec), MaxPorts+1)
		}
	}
	return x
}

// baseFileInfo is an `extends` base file, resolved once.
type baseFileInfo struct {
	*extents
	whole extent // all its services
}

// baseFile reads the file an `extends` names, relative to dir, once; a
// file that cannot be read counts nothing, and compose-go reports it.
func (b *budget) baseFile(dir, name string) baseFileInfo {
	rel, in := b.files.inside(resolveIn(dir, name))
	if !in || strings.Contains(name, "$") {
		return baseFileInfo{}
	}
	if info, ok := b.bases[rel]; ok {
		return info
	}
	b.bases[rel] = baseFileInfo{}
	content, err := b.files.read(rel, MaxComposeFileSize)
	if err != nil {
		return baseFileInfo{}
	}
	root, err := parseChecked(rel, content)
	if err != nil || root == nil || expandedSize(root, map[*yaml.Node]extent{}, 0).nodes > MaxNodes {
		return baseFileInfo{whole: overLimit}
	}
	services := asMap(asMap(resolveYAML(root, map[*yaml.Node]any{}, 0))["services"])
	info := baseFileInfo{extents: newExtents(b, filepath.Dir(b.files.abs(rel)), services), whole: valueExtent(services)}
	b.bases[rel] = info
	return info
}

// resolveYAML turns YAML nodes into the values compose-go will see:
// aliases followed, merge keys (`<<`) merged under the mapping's own keys,
// scalars as strings or, when YAML types them so, as other values. It is
// called on trees whose expanded size is already known to be bounded, and
// keeps the value of each node it has resolved, so that an anchor costs
// one resolution however often it is used. (yaml.v3's own decoding checks
// duplicate keys pairwise, which makes a mapping of 60,000 keys cost
// seconds.)
func resolveYAML(n *yaml.Node, done map[*yaml.Node]any, depth int) any {
	if n == nil || depth > 4*maxYAMLDepth {
		return nil
	}
	if v, ok := done[n]; ok {
		return v
	}
	var out any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			out = resolveYAML(n.Content[0], done, depth+1)
		}
	case yaml.AliasNode:
		out = resolveYAML(n.Alias, done, depth+1)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			out = nil
		case "!!int", "!!float", "!!bool":
			var v any
			if n.Decode(&v) == nil {
				out = v
			} else {
				out = n.Value
			}
		default:
			out = n.Value
		}
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			l = append(l, resolveYAML(c, done, depth+1))
		}
		out = l
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		var merged []map[string]any
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
				switch r := resolveYAML(v, done, depth+1).(type) {
				case map[string]any:
					merged = append(merged, r)
				case []any:
					for _, e := range r {
						if em, ok := e.(map[string]any); ok {
							merged = append(merged, em)
						}
					}
				}
				continue
			}
			m[k.Value] = resolveYAML(v, done, depth+1)
		}
		for _, mm := range merged {
			for k, v := range mm {
				if _, own := m[k]; !own {
					m[k] = v
				}
			}
		}
		out = m
	}
	done[n] = out
	return out
}

// valueExtent is what a decoded YAML value costs: its nodes and the bytes
// of its text.
func valueExtent(v any) extent {
	switch t := v.(type) {
	case map[string]any:
		n := extent{nodes: 1, bytes: 0}
		for k, e := range t {
			n = n.add(extent{nodes: 1, bytes: len(k)}).add(valueExtent(e))
		}
		return n
	case map[any]any:
		n := extent{nodes: 1, bytes: 0}
		for k, e := range t {
			n = n.add(valueExtent(k)).add(valueExtent(e))
		}
		return n
	case []any:
		n := extent{nodes: 1, bytes: 0}
		for _, e := range t {
			n = n.add(valueExtent(e))
		}
		return n
	case string:
		return extent{nodes: 1, bytes: len(t)}
	case nil:
		return extent{}
	}
	return extent{nodes: 1, bytes: 8}
}

// lookup accounts for a variable's value as interpolation uses it. Past
// the limit it hands out empty values, so the load ends quickly, and the
// load reports the limit.
func (b *budget) lookup(key, value string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.addInterp(len(value)) {
		if b.err == nil {
			b.err = meshdock.Errorf(meshdock.ETOOLARGE, "variables add more than %s to the compose files (${%s} among them): at most %s are accepted",
				meshdock.FormatSize(MaxInterpolated), key, meshdock.FormatSize(MaxInterpolated))
		}
		return ""
	}
	return value
}

// addInterp adds bytes that variables and env files bring, and reports
// whether the total is within MaxInterpolated. b.mu is held.
func (b *budget) addInterp(n int) bool {
	b.interp += n
	return b.interp <= MaxInterpolated
}

func (b *budget) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// checkLoaded checks what only the loaded model shows: ports whose ranges
// came from variables the checks before the load could not see.
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
			return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: %s.%s.ports: the project has more than %d ports (each port of a range counts): at most %d are accepted", file, line, p.loc.sectionOf(name), name, MaxPorts, MaxPorts)
		}
	}
	return nil
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
	if !b.addInterp(n) {
		return meshdock.Errorf(meshdock.ETOOLARGE, "env files, label files and variables add more than %s to the project (each use counts): at most %s are accepted", meshdock.FormatSize(MaxInterpolated), meshdock.FormatSize(MaxInterpolated))
	}
	return nil
}

// includeEnv accounts for an env file of an include (its env_file, or the
// .env beside the included file), which compose-go parses itself.
func (b *budget) includeEnv(name string, content []byte) error {
	n := envFileBound(content, func(k string) string { return b.env[k] })
	if n > MaxInterpolated {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%s: its variables expand to more than %s: at most %s are accepted", name, meshdock.FormatSize(MaxInterpolated), meshdock.FormatSize(MaxInterpolated))
	}
	// Bounded now, so parsed: its values may make the ports of an
	// included file (see substitute).
	vars, err := dotenv.ParseWithLookup(bytes.NewReader(content), func(k string) (string, bool) {
		v, ok := b.env[k]
		return v, ok
	})
	b.mu.Lock()
	b.includeEnvMax = max(b.includeEnvMax, n)
	if err == nil {
		maps.Copy(b.includeVars, vars)
	}
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

package convert

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// Convert turns a loaded compose project into Kubernetes objects: kompose
// does the bulk of the mapping, then one pass per defect fixes what it gets
// wrong and reports what could not be carried over. It reads no file: what
// the project's files hold was read by compose.Load.
func Convert(ctx context.Context, p *compose.Project, opt Options) (res *Result, err error) {
	defer func() { err = meshdock.FromContext(ctx, p.Redact(err)) }()
	if err := checkKomposeLabels(p); err != nil {
		return nil, err
	}
	if opt.BindMounts == "" {
		opt.BindMounts = BindMountsSkip
	}
	s := newState(p, opt)
	in, err := s.komposeInput()
	if err != nil {
		return nil, err
	}
	s.in = in
	objs, err := runKompose(ctx, in, opt.Namespace)
	if err != nil {
		return nil, err
	}
	s.objs = objs
	s.index()
	for _, pass := range passes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := pass.run(s); err != nil {
			return nil, fmt.Errorf("%s: %w", pass.name, err)
		}
	}
	if err := checkOutput(len(s.objs), 0); err != nil {
		return nil, err
	}
	out, err := toUnstructured(s.objs)
	if err != nil {
		return nil, err
	}
	if err := checkOutput(len(out), outputSize(out)); err != nil {
		return nil, err
	}
	sortObjects(out)
	warnings := append(append([]meshdock.Warning{}, p.Warnings...), s.warnings...)
	p.RedactWarnings(warnings)
	sortWarnings(warnings)
	if len(warnings) > MaxWarnings {
		warnings = append(warnings[:MaxWarnings], meshdock.Warning{Message: fmt.Sprintf("%d more warnings are left out", len(warnings)-MaxWarnings)})
	}
	sortBuilds(s.builds)
	return &Result{Project: p.Name, Objects: out, Warnings: warnings, Graph: buildGraph(s), Builds: s.builds}, nil
}

// passes run in this order over kompose's output. Each lives in its own
// file, named after what it fixes.
var passes = []struct {
	name string
	run  func(*state) error
}{
	{"validity", validityPass},
	{"restart", restartPass},
	{"env", envPass},
	{"build", buildPass},
	{"ports", portsPass},
	{"services", servicesPass},
	{"paths", pathsPass},
	{"probes", probesPass},
	{"secrets", secretsPass},
	{"configs", configsPass},
	{"volumes", volumesPass},
	{"depends_on", dependsOnPass},
	{"hooks", hooksPass},
	{"podspec", podPass},
	{"identity", identityPass},
	{"dropped", droppedPass},
	{"labels", labelsPass},
	{"jobs", jobsPass},
	{"metadata", metadataPass},
}

// state is what the passes share: the loaded project, kompose's objects,
// and the workload of each compose service.
type state struct {
	p        *compose.Project
	opt      Options
	in       *types.Project // what kompose was given
	objs     []runtime.Object
	warnings []meshdock.Warning
	// names maps a compose service to the name of its Kubernetes objects.
	names map[string]string
	// pods maps a compose service to its pod template.
	pods map[string]*workload
	// links caches linkAliases.
	links map[string][]hostAlias
	// builds are the images of build: services.
	builds []meshdock.Build
	// paths are the connections the app makes; refused, those compose
	// refuses (no common network), with why.
	paths   []meshdock.Path
	refused map[[2]string]string
}

// workload is the controller kompose made for a service.
type workload struct {
	obj  runtime.Object
	meta *metaRef
	spec *corev1.PodSpec
	tmpl *corev1.PodTemplateSpec
}

type metaRef struct {
	labels      *map[string]string
	annotations *map[string]string
}

func newState(p *compose.Project, opt Options) *state {
	s := &state{p: p, opt: opt, names: map[string]string{}, pods: map[string]*workload{}}
	taken := map[string]string{}
	// Names that are valid already keep them; the others give way.
	names := p.ServiceNames()
	slices.SortStableFunc(names, func(a, b string) int {
		return boolRank(dnsName(a) != a) - boolRank(dnsName(b) != b)
	})
	for _, name := range names {
		k := dnsName(name)
		other, clash := taken[k]
		if clash {
			k = dnsName(name + "-" + shortHash(name))
			s.warn(name, "", fmt.Sprintf("service name %q maps to the same Kubernetes name as %q; it is named %q", name, other, k))
		}
		taken[k] = name
		s.names[name] = k
		if k != name && !clash {
			s.warn(name, "", fmt.Sprintf("service name %q is not a valid Kubernetes name; its objects and host name are %q", name, k))
		}
	}
	return s
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// warn records a warning about a service's key, located in the user's files.
func (s *state) warn(service, key, msg string) { s.warnAt(service, key, compose.SplitKey(key), msg) }

// warnAt is warn with the key's path given in parts, for keys whose parts
// hold dots (labels, sysctls).
func (s *state) warnAt(service, key string, parts []string, msg string) {
	var file string
	var line int
	if service != "" {
		file, line = s.p.Locate(service, parts...)
	} else if key != "" {
		file, line = s.p.Locate("", parts...)
	}
	s.warnings = append(s.warnings, meshdock.Warning{Service: service, Key: key, File: file, Line: line, Message: msg})
}

// service returns a compose service by name.
func (s *state) service(name string) types.ServiceConfig { return s.p.Services[name] }

// index finds the workload of every service in kompose's output.
func (s *state) index() {
	byName := map[string]string{}
	for svc, k := range s.names {
		byName[k] = svc
	}
	for _, o := range s.objs {
		var w *workload
		var name string
		switch v := o.(type) {
		case *appsv1.Deployment:
			name, w = v.Name, &workload{obj: v, meta: &metaRef{&v.Labels, &v.Annotations}, spec: &v.Spec.Template.Spec, tmpl: &v.Spec.Template}
		case *appsv1.DaemonSet:
			name, w = v.Name, &workload{obj: v, meta: &metaRef{&v.Labels, &v.Annotations}, spec: &v.Spec.Template.Spec, tmpl: &v.Spec.Template}
		case *appsv1.StatefulSet:
			name, w = v.Name, &workload{obj: v, meta: &metaRef{&v.Labels, &v.Annotations}, spec: &v.Spec.Template.Spec, tmpl: &v.Spec.Template}
		case *batchv1.Job:
			name, w = v.Name, &workload{obj: v, meta: &metaRef{&v.Labels, &v.Annotations}, spec: &v.Spec.Template.Spec, tmpl: &v.Spec.Template}
		default:
			continue
		}
		if svc, ok := byName[name]; ok {
			s.pods[svc] = w
		}
	}
}

// eachContainer calls fn for every service with a workload, in name order,
// with the workload's main container.
func (s *state) eachContainer(fn func(name string, svc types.ServiceConfig, w *workload, c *corev1.Container)) {
	for _, name := range s.p.ServiceNames() {
		w := s.pods[name]
		if c := w.container(); c != nil {
			fn(name, s.service(name), w, c)
		}
	}
}

// container returns the main container of a service's pod.
func (w *workload) container() *corev1.Container {
	if w == nil || len(w.spec.Containers) == 0 {
		return nil
	}
	return &w.spec.Containers[0]
}

// uniqueName returns name, or when an object of that kind already has it,
// name with a hash of what tells the two apart, so neither overwrites the
// other in the cluster.
func (s *state) uniqueName(kind, name, from string) string {
	taken := func(n string) bool {
		for _, o := range s.objs {
			if m, err := meta.Accessor(o); err == nil && m.GetName() == n && o.GetObjectKind().GroupVersionKind().Kind == kind {
				return true
			}
		}
		return false
	}
	if len(name) > 253 {
		name = name[:244] + "-" + shortHash(name)
	}
	if !taken(name) {
		return name
	}
	return dnsSubdomain(strings.TrimRight(name[:min(len(name), 240)], "-.") + "-" + shortHash(from))
}

// add appends objects to the output.
func (s *state) add(objs ...runtime.Object) { s.objs = append(s.objs, objs...) }

// remove drops objects from the output.
func (s *state) remove(drop func(runtime.Object) bool) {
	out := s.objs[:0]
	for _, o := range s.objs {
		if !drop(o) {
			out = append(out, o)
		}
	}
	s.objs = out
}

func sortWarnings(ws []meshdock.Warning) {
	sort.SliceStable(ws, func(i, j int) bool {
		a, b := ws[i], ws[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Message < b.Message
	})
}

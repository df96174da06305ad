package app

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/meshes"
)

// ApplyTimeout bounds the checks, the apply and the prune of a deploy.
const ApplyTimeout = 2 * time.Minute

// DefaultRolloutTimeout bounds the wait for a rollout when a deploy names
// no timeout.
const DefaultRolloutTimeout = 5 * time.Minute

// Event types a deploy reports, in the order its steps run. Each event's
// data is a JSON object: see the types below.
const (
	EventStep     = "step"     // Step: a step begins
	EventBuild    = "build"    // BuildLine: a line of an image's build log
	EventImage    = "image"    // ImageState: an image checked, shared or loaded
	EventObject   = "object"   // meshdock.ObjectState: an object applied
	EventPruned   = "pruned"   // meshdock.ObjectRef: an object that left the app, removed
	EventWorkload = "workload" // meshdock.WorkloadState: a workload's rollout changed
	EventURL      = "url"      // meshdock.URL: where a published port is reached
	EventWarning  = "warning"  // Message: something the user should know
	EventRule     = "rule"     // Rule: an authorization rule the deploy applies
	EventDeleted  = "deleted"  // meshdock.ObjectRef: an object deleted
	EventKept     = "kept"     // meshdock.ObjectRef: a claim a delete kept
)

// Emit reports an event of an operation.
type Emit func(typ string, data any) error

// Step is the data of a step event.
type Step struct {
	Step    string `json:"step"`
	Message string `json:"message"`
}

// BuildLine is the data of a build event.
type BuildLine struct {
	Service string `json:"service"`
	Image   string `json:"image"`
	Line    string `json:"line"`
}

// ImageState is the data of an image event: State is "built", "present"
// (in the engine), "shared" (the cluster uses the engine's images),
// "loaded" (into Node), or "unavailable" (Message says what to run).
type ImageState struct {
	Image   string `json:"image"`
	State   string `json:"state"`
	Node    string `json:"node,omitempty"`
	Message string `json:"message,omitempty"`
}

// Rule is the data of a rule event: "NetworkPolicy api: allow ingress
// from web to port 8000/TCP".
type Rule struct {
	Rule string `json:"rule"`
}

// Message is the data of a warning event.
type Message struct {
	Message string `json:"message"`
}

// Target is where a deploy goes: a cluster, what kind it is, and the
// namespace of the app.
type Target struct {
	Cluster   kube.Cluster
	Kind      kube.Kind
	Context   string
	Namespace string
}

// Plan is what a deploy applies: the converted objects, the images to
// build, and the project's files, where the build contexts are (nil when
// they cannot be read: images are then only checked).
type Plan struct {
	Project string
	Objects []*unstructured.Unstructured
	Builds  []meshdock.Build
	// Graph tells the published ports (its nodes' "8080:80/tcp").
	Graph   meshdock.Graph
	Files   fs.FS
	Options meshdock.DeployOptions
	// Policy is the app's traffic rules, written for the mesh; nil for none.
	Policy *meshes.Policy
	// Expose says how published ports are reached from this machine:
	// ExposeLoadBalancer, ExposePortForward or ExposeNone; empty picks
	// by the kind of cluster.
	Expose string
}

// How published ports are reached.
const (
	ExposeLoadBalancer = "loadbalancer"
	ExposePortForward  = "port-forward"
	ExposeNone         = "none"
)

// Outcome is what a deploy did.
type Outcome struct {
	Objects   []meshdock.ObjectState
	Pruned    []meshdock.ObjectRef
	Workloads []meshdock.WorkloadState
	// Published are the app's published ports, as the deploy exposed them.
	Published []Published
	Expose    string
}

// Published is one published port of a compose service: its Service, the
// host port compose published and the container port behind it.
type Published struct {
	Service     string            `json:"service"`
	KubeService string            `json:"kubeService"`
	HostPort    int32             `json:"hostPort"`
	Port        int32             `json:"port"`
	Selector    map[string]string `json:"selector"`
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// CheckNamespace refuses a namespace name Kubernetes would refuse, and the
// cluster's own namespaces.
func CheckNamespace(ns string) error {
	if len(ns) > 63 || !dnsLabel.MatchString(ns) {
		return meshdock.Errorf(meshdock.EINVALID, "namespace %s must be at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit", meshdock.QuoteName(ns))
	}
	if ns == "default" || strings.HasPrefix(ns, "kube-") {
		return meshdock.Errorf(meshdock.EINVALID, "namespace %s belongs to the cluster: deploy an app into a namespace of its own", ns)
	}
	return nil
}

// NamespaceFor is the default namespace of an app: its project name made
// a DNS label.
func NamespaceFor(project string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(project) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	ns := strings.Trim(b.String(), "-")
	if len(ns) > 63 {
		ns = strings.TrimRight(ns[:63], "-")
	}
	if ns == "" || CheckNamespace(ns) != nil {
		ns = "app-" + ns
	}
	return strings.TrimRight(ns, "-")
}

// Deploy builds the app's images and makes them available to the cluster,
// applies its objects into the target namespace (pruning what left the
// app), waits for every workload to roll out and exposes its published
// ports; each step is reported through emit as it happens. Port-forwards
// are not opened here: the caller that outlives the deploy does that.
func (s *Service) Deploy(ctx context.Context, t Target, p Plan, emit Emit) (*Outcome, error) {
	if err := CheckNamespace(t.Namespace); err != nil {
		return nil, err
	}
	if p.Expose == "" {
		p.Expose = ExposePortForward
		if t.Kind == kube.KindDockerDesktop {
			p.Expose = ExposeLoadBalancer
		}
	}
	out := &Outcome{Expose: p.Expose}
	m, err := Render(p, t.Namespace)
	if m != nil {
		out.Published = m.Published
	}
	if err != nil {
		return out, err
	}
	if err := t.Cluster.HasMesh(ctx, m.Mesh); err != nil {
		return out, err
	}
	for _, w := range m.Warnings {
		_ = emit(EventWarning, Message{Message: w})
	}
	for _, r := range m.Rules {
		_ = emit(EventRule, Rule{Rule: r})
	}
	objs := m.Objects
	if err := s.images(ctx, t, p, objs, emit); err != nil {
		return out, err
	}
	_ = emit(EventStep, Step{Step: "apply", Message: fmt.Sprintf("applying %d objects into namespace %s", len(objs), t.Namespace)})
	// An API server that takes connections and never answers must not hold
	// a deploy for ever: the apply has a deadline of its own.
	actx, cancelApply := context.WithTimeout(ctx, ApplyTimeout)
	defer cancelApply()
	res, err := t.Cluster.Deploy(actx, t.Namespace, objs, kube.DeployOptions{Force: p.Options.ForceConflicts, Owner: p.Project, Mesh: p.Options.Mesh,
		NamespaceLabels: m.NamespaceLabels, NamespaceAnnotations: m.NamespaceAnnotations, Progress: func(a kube.ApplyResult) {
			st := meshdock.ObjectState{ObjectRef: refOf(a.Ref), Action: string(a.Action)}
			out.Objects = append(out.Objects, st)
			_ = emit(EventObject, st)
		}})
	for _, r := range res.Pruned {
		out.Pruned = append(out.Pruned, refOf(r))
		_ = emit(EventPruned, refOf(r))
	}
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		err = meshdock.Wrap(meshdock.EUNAVAILABLE, err, "the API server did not take the app's objects within %s: %s", ApplyTimeout, meshdock.ErrorMessage(err))
	}
	if err != nil {
		return out, err
	}
	if p.Options.NoWait {
		return out, nil
	}
	timeout := time.Duration(p.Options.Timeout)
	if timeout <= 0 {
		timeout = DefaultRolloutTimeout
	}
	refs := kube.Refs(res.Applied)
	_ = emit(EventStep, Step{Step: "rollout", Message: fmt.Sprintf("waiting up to %s for the workloads to be ready", timeout)})
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	index := map[kube.Ref]int{}
	err = t.Cluster.Watch(wctx, refs, kube.WatchOptions{Progress: func(st kube.WorkloadStatus) {
		ws := WorkloadOf(st)
		if i, ok := index[st.Ref]; ok {
			out.Workloads[i] = ws
		} else {
			index[st.Ref] = len(out.Workloads)
			out.Workloads = append(out.Workloads, ws)
		}
		_ = emit(EventWorkload, ws)
	}})
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		err = meshdock.Wrap(meshdock.EUNAVAILABLE, err, "the rollout did not finish within %s: %s", timeout, meshdock.ErrorMessage(err))
	}
	return out, err
}

func refOf(r kube.Ref) meshdock.ObjectRef {
	return meshdock.ObjectRef{APIVersion: r.GroupVersion().String(), Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

// WorkloadOf is a rollout status as a deployment records it.
func WorkloadOf(st kube.WorkloadStatus) meshdock.WorkloadState {
	return meshdock.WorkloadState{ObjectRef: refOf(st.Ref), Ready: st.Ready, Desired: st.Desired, Done: st.Done, Message: st.Message, Problems: st.Problems}
}

// Manifests are what a deploy applies for a plan, in order: the marks of
// the app's namespace, and the objects (the app's, the LoadBalancers of
// its published ports, the mesh's and the authorization rules).
type Manifests struct {
	Mesh                 string
	NamespaceLabels      map[string]string
	NamespaceAnnotations map[string]string
	Objects              []*unstructured.Unstructured
	Published            []Published
	// Warnings are what the user should know (settings a mesh cannot
	// express, how depends_on waits work); Rules, one line per
	// authorization rule.
	Warnings []string
	Rules    []string
}

// Namespace is the app's namespace as the deploy marks it.
func (m *Manifests) Namespace(ns string) *unstructured.Unstructured {
	return kube.NamespaceObject(ns, m.NamespaceLabels, m.NamespaceAnnotations)
}

// Render makes what a deploy of p into namespace ns applies, without a
// cluster: deploy and the exports share it.
func Render(p Plan, ns string) (*Manifests, error) {
	objs, published := prepare(p, ns)
	m := &Manifests{Published: published}
	mesh, err := meshes.Get(p.Options.Mesh)
	if err != nil {
		return m, err
	}
	m.Mesh = mesh.Name()
	enrolled, cannot, err := meshes.EnrollWithPolicy(mesh, ns, objs, p.Policy)
	if err != nil {
		return m, err
	}
	for _, w := range cannot {
		m.Warnings = append(m.Warnings, mesh.Name()+" cannot express this policy setting: "+w)
	}
	m.Warnings = append(m.Warnings, enrolled.Notes...)
	auth, err := meshes.Authorize(mesh.Name(), p.Options.Authz, ns, enrolled.Objects, p.Graph)
	if err != nil {
		return m, err
	}
	auth.Annotate(enrolled.Objects)
	m.Objects = append(enrolled.Objects, auth.Objects...)
	m.NamespaceLabels = enrolled.NamespaceLabels
	m.NamespaceAnnotations = enrolled.NamespaceAnnotations
	if len(auth.NamespaceAnnotations) > 0 {
		m.NamespaceAnnotations = maps.Clone(m.NamespaceAnnotations)
		if m.NamespaceAnnotations == nil {
			m.NamespaceAnnotations = map[string]string{}
		}
		maps.Copy(m.NamespaceAnnotations, auth.NamespaceAnnotations)
	}
	m.Warnings = append(m.Warnings, auth.Notes...)
	m.Rules = auth.Rules
	seen := map[string]bool{}
	for _, o := range m.Objects {
		k := o.GroupVersionKind().GroupKind().String() + " " + o.GetName()
		if seen[k] {
			return m, meshdock.Errorf(meshdock.ECONFLICT, "two objects would be %s %s: rename the compose service of that name", o.GetKind(), o.GetName())
		}
		seen[k] = true
	}
	return m, nil
}

// prepare copies the objects into the namespace (a Namespace object of the
// conversion is left out: the deploy makes its own), and finds the
// published ports, adding the LoadBalancer Services that expose them when
// the deploy exposes them so.
func prepare(p Plan, ns string) ([]*unstructured.Unstructured, []Published) {
	var objs []*unstructured.Unstructured
	services := map[string]*unstructured.Unstructured{} // by compose service
	for _, o := range p.Objects {
		if o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "" {
			continue
		}
		c := o.DeepCopy()
		if !clusterScoped[c.GetKind()] {
			c.SetNamespace(ns)
		}
		objs = append(objs, c)
		if c.GetKind() == "Service" && c.GroupVersionKind().Group == "" && c.GetLabels()[labelService] != "" {
			if _, ok := services[c.GetLabels()[labelService]]; !ok {
				services[c.GetLabels()[labelService]] = c
			}
		}
	}
	published := publishedPorts(p.Graph, services)
	if p.Expose == ExposeLoadBalancer {
		for _, lb := range loadBalancers(p.Project, published) {
			lb.SetNamespace(ns)
			objs = append(objs, lb)
		}
	}
	return objs, published
}

// clusterScoped are the kinds of no namespace a conversion may hold.
var clusterScoped = map[string]bool{"PersistentVolume": true, "StorageClass": true, "ClusterRole": true, "ClusterRoleBinding": true, "PriorityClass": true}

// labelService, on the converter's objects, names their compose service.
const labelService = "meshdock.io/service"

// publishedPorts reads the TCP ports compose publishes on the host from the
// graph ("8080:80/tcp", "8000-8001:8000-8001/tcp"), with the Service of
// each compose service.
func publishedPorts(g meshdock.Graph, services map[string]*unstructured.Unstructured) []Published {
	var out []Published
	for _, n := range g.Nodes {
		svc := services[n.ID]
		if svc == nil {
			continue
		}
		selector, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
		for _, spec := range n.Ports {
			spec, proto, _ := strings.Cut(spec, "/")
			host, target, ok := strings.Cut(spec, ":")
			if !ok || (proto != "" && proto != "tcp") {
				continue
			}
			hosts, targets := portRange(host), portRange(target)
			for i, h := range hosts {
				t := targets[0]
				if len(targets) == len(hosts) {
					t = targets[i]
				}
				out = append(out, Published{Service: n.ID, KubeService: svc.GetName(), HostPort: h, Port: t, Selector: selector})
			}
		}
	}
	return out
}

// portRange reads "8080" or "8000-8003"; nothing for what is neither, and
// at most 100 ports.
func portRange(s string) []int32 {
	from, to, isRange := strings.Cut(s, "-")
	if !isRange {
		to = from
	}
	lo, err1 := strconv.Atoi(from)
	hi, err2 := strconv.Atoi(to)
	if err1 != nil || err2 != nil || lo <= 0 || hi < lo || hi > 65535 || hi-lo >= 100 {
		return nil
	}
	var out []int32
	for p := lo; p <= hi; p++ {
		out = append(out, int32(p))
	}
	return out
}

// loadBalancers are one LoadBalancer Service per compose service with
// published ports, offering exactly those on the host's ports (Docker
// Desktop binds a LoadBalancer's ports on localhost). The app's own
// Services stay as they are, so the names inside the app do not change.
func loadBalancers(project string, published []Published) []*unstructured.Unstructured {
	bySvc := map[string][]Published{}
	var names []string
	for _, p := range published {
		if _, ok := bySvc[p.KubeService]; !ok {
			names = append(names, p.KubeService)
		}
		bySvc[p.KubeService] = append(bySvc[p.KubeService], p)
	}
	var out []*unstructured.Unstructured
	for _, name := range names {
		var ports []any
		for _, p := range bySvc[name] {
			ports = append(ports, map[string]any{"name": fmt.Sprintf("host-%d", p.HostPort), "port": int64(p.HostPort),
				"targetPort": int64(p.Port), "protocol": "TCP"})
		}
		sel := map[string]any{}
		for k, v := range bySvc[name][0].Selector {
			sel[k] = v
		}
		lbName := name + "-published"
		if len(lbName) > 63 {
			lbName = lbName[:63]
		}
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": lbName, "labels": map[string]any{
				"app.kubernetes.io/managed-by": "meshdock", "app.kubernetes.io/part-of": project,
				labelService: bySvc[name][0].Service, "meshdock.io/exposes": name}},
			"spec": map[string]any{"type": "LoadBalancer", "selector": sel, "ports": ports},
		}})
	}
	return out
}

// localImage is an image a pod names that must come from this machine:
// one the app builds, or one its pods may never pull.
type localImage struct {
	image string
	build *meshdock.Build // nil when the app does not build it
}

// images builds what the app builds, checks that every image its pods
// may not pull exists, and makes those images available to the cluster,
// all before anything is applied: an image that exists nowhere is an
// error now, not an ImagePullBackOff later.
func (s *Service) images(ctx context.Context, t Target, p Plan, objs []*unstructured.Unstructured, emit Emit) error {
	locals := localImages(p.Builds, objs)
	if len(locals) == 0 {
		return nil
	}
	_ = emit(EventStep, Step{Step: "images", Message: fmt.Sprintf("%d images come from this machine", len(locals))})
	builds := false
	for _, li := range locals {
		builds = builds || (li.build != nil && li.build.Why == "" && p.Files != nil && !p.Options.NoBuild)
	}
	if builds {
		// A build runs the app's Dockerfiles on this machine's engine:
		// not for a deploy that the cluster would refuse anyway.
		if err := t.Cluster.Preflight(ctx, t.Namespace, objs, p.Options.ForceConflicts); err != nil {
			return err
		}
	}
	for _, li := range locals {
		if li.build != nil && li.build.Why == "" && p.Files != nil && !p.Options.NoBuild {
			if err := s.build(ctx, p.Project, *li.build, p.Files, emit); err != nil {
				return err
			}
			_ = emit(EventImage, ImageState{Image: li.image, State: "built"})
			continue
		}
		ok, err := s.engine.ImageExists(ctx, li.image)
		if err != nil {
			return meshdock.Wrap(meshdock.ErrorCode(err), err, "image %s cannot be checked: %s", li.image, meshdock.ErrorMessage(err))
		}
		if !ok {
			return missingImage(li, p)
		}
		_ = emit(EventImage, ImageState{Image: li.image, State: "present"})
	}
	return s.makeAvailable(ctx, t, p.Project, locals, emit)
}

func missingImage(li localImage, p Plan) error {
	switch {
	case li.build == nil:
		return meshdock.Errorf(meshdock.ENOTFOUND, "image %s exists nowhere: its pods may not pull it (imagePullPolicy Never) and the Docker Engine does not have it", li.image)
	case li.build.Why != "":
		return meshdock.Errorf(meshdock.ENOTFOUND, "image %s of service %s exists nowhere, and meshdock cannot build it (%s): build it with docker compose build %s, then deploy again", li.image, li.build.Service, li.build.Why, li.build.Service)
	case p.Options.NoBuild:
		return meshdock.Errorf(meshdock.ENOTFOUND, "image %s of service %s exists nowhere and building was turned off: build it with docker compose build %s", li.image, li.build.Service, li.build.Service)
	}
	return meshdock.Errorf(meshdock.ENOTFOUND, "image %s of service %s exists nowhere, and its build context is not among the app's files: import the app with its build context, or build it with docker compose build %s", li.image, li.build.Service, li.build.Service)
}

// localImages lists, once each and sorted, the images of the app's builds
// that its pods name, and the images its pods may never pull.
func localImages(builds []meshdock.Build, objs []*unstructured.Unstructured) []localImage {
	byImage := map[string]*meshdock.Build{}
	for i := range builds {
		byImage[builds[i].Image] = &builds[i]
	}
	seen := map[string]bool{}
	var out []localImage
	for _, o := range objs {
		for _, c := range containersOf(o) {
			img, _ := c["image"].(string)
			if img == "" || seen[img] {
				continue
			}
			b := byImage[img]
			if b == nil && c["imagePullPolicy"] != "Never" {
				continue
			}
			seen[img] = true
			out = append(out, localImage{image: img, build: b})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].image < out[j].image })
	return out
}

// containersOf returns the containers and init containers of a
// workload's pod template.
func containersOf(o *unstructured.Unstructured) []map[string]any {
	var spec []string
	switch o.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		spec = []string{"spec", "template", "spec"}
	case "CronJob":
		spec = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	case "Pod":
		spec = []string{"spec"}
	default:
		return nil
	}
	var out []map[string]any
	for _, field := range []string{"initContainers", "containers"} {
		list, _, _ := unstructured.NestedSlice(o.Object, append(slices.Clone(spec), field)...)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// maxBuildLines bounds the build log kept as events, per image.
const maxBuildLines = 2000

// Labels of the images meshdock builds: which service of which project.
const (
	labelBuiltProject = "meshdock.io/project"
	labelBuiltService = "meshdock.io/service"
)

func (s *Service) build(ctx context.Context, project string, b meshdock.Build, files fs.FS, emit Emit) error {
	_ = emit(EventStep, Step{Step: "build", Message: fmt.Sprintf("building %s for service %s", b.Image, b.Service)})
	if err := s.mayTag(ctx, project, b); err != nil {
		return err
	}
	dir := path.Clean(b.Context)
	sub, err := fs.Sub(files, dir)
	if err != nil {
		return meshdock.Errorf(meshdock.EINVALID, "the build context %s of service %s cannot be read", dir, b.Service)
	}
	dockerfile := b.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if _, err := fs.Stat(sub, path.Clean(dockerfile)); err != nil {
		return missingImage(localImage{image: b.Image, build: &b}, Plan{})
	}
	args := map[string]*string{}
	for k, v := range b.Args {
		args[k] = &v
	}
	lines := 0
	err = s.engine.Build(ctx, engine.BuildSpec{Tag: b.Image, Context: sub, Dockerfile: dockerfile, Args: args, Target: b.Target,
		Labels: map[string]string{labelBuiltProject: project, labelBuiltService: b.Service}}, func(line string) {
		if lines++; lines <= maxBuildLines {
			_ = emit(EventBuild, BuildLine{Service: b.Service, Image: b.Image, Line: line})
		}
	})
	if err != nil {
		return err
	}
	return nil
}

// mayTag refuses to build over an image the service does not own. The
// name compose gives a build (<project>-<service>) is the service's, as
// docker compose build replaces it too; any other name (an image: such as
// postgres:16) is replaced only when meshdock built it for this very
// service, so that a deploy cannot swap an image others run.
func (s *Service) mayTag(ctx context.Context, project string, b meshdock.Build) error {
	if b.Image == project+"-"+b.Service {
		return nil
	}
	labels, exists, err := s.engine.ImageLabels(ctx, b.Image)
	if err != nil || !exists {
		return err
	}
	if labels[labelBuiltProject] == project && labels[labelBuiltService] == b.Service {
		return nil
	}
	return meshdock.Errorf(meshdock.ECONFLICT, "image %s of service %s exists and meshdock did not build it for this service: it is not replaced; build it yourself (docker compose build %s), or remove it first", b.Image, b.Service, b.Service)
}

// makeAvailable gets the machine's images to the cluster's nodes: those it
// names <project>-<service>, into
// each node that is a container of this engine (kind, k3d, Docker
// Desktop's kind nodes), or, for Docker Desktop's own node, nothing (it
// uses the engine's images). Otherwise it says what to run.
func (s *Service) makeAvailable(ctx context.Context, t Target, project string, locals []localImage, emit Emit) error {
	nodes, err := t.Cluster.Nodes(ctx)
	if err != nil {
		return err
	}
	host, port := apiServer(t.Cluster)
	containers, err := s.engine.NodeContainers(ctx, host, port, nodes)
	if err != nil {
		return err
	}
	if len(containers) == 0 {
		for _, li := range locals {
			st := ImageState{Image: li.image, State: "shared"}
			if t.Kind != kube.KindDockerDesktop {
				st.State, st.Message = "unavailable", loadHint(t, li.image)
			}
			_ = emit(EventImage, st)
		}
		return nil
	}
	names := make([]string, 0, len(containers))
	for n := range containers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, li := range locals {
		if li.build == nil || li.image != project+"-"+li.build.Service {
			// Loading writes the node's containerd, below everything the
			// cluster admits: only the names compose gives builds, which
			// no system image has, are written there.
			_ = emit(EventImage, ImageState{Image: li.image, State: "unavailable",
				Message: "meshdock loads into nodes only the images it names itself (<project>-<service>); " + loadHint(t, li.image)})
			continue
		}
		for _, node := range names {
			err := s.engine.LoadImage(ctx, li.image, containers[node])
			if meshdock.ErrorCode(err) == meshdock.EUNSUPPORTED {
				// A node whose runtime meshdock cannot load into (minikube
				// with the docker runtime): say how, and go on.
				_ = emit(EventImage, ImageState{Image: li.image, State: "unavailable", Node: node,
					Message: meshdock.ErrorMessage(err) + "; " + loadHint(t, li.image)})
				continue
			}
			if err != nil {
				return meshdock.Wrap(meshdock.ErrorCode(err), err, "image %s cannot be loaded into node %s: %s; %s",
					li.image, node, meshdock.ErrorMessage(err), loadHint(t, li.image))
			}
			_ = emit(EventImage, ImageState{Image: li.image, State: "loaded", Node: node})
		}
	}
	return nil
}

// loadHint says how to make a local image available to a cluster
// meshdock cannot load it into.
func loadHint(t Target, image string) string {
	switch t.Kind {
	case kube.KindKind:
		return fmt.Sprintf("run: kind load docker-image %s --name %s", image, strings.TrimPrefix(t.Context, "kind-"))
	case kube.KindK3d:
		return fmt.Sprintf("run: k3d image import %s -c %s", image, strings.TrimPrefix(t.Context, "k3d-"))
	case kube.KindMinikube:
		return fmt.Sprintf("run: minikube image load %s", image)
	}
	return fmt.Sprintf("the cluster's nodes are not containers of this Docker Engine: push %s to a registry the cluster pulls from, or load it into each node", image)
}

// apiServer is the host and port of the cluster's API server, by which
// the engine tells which of its containers are that cluster's nodes.
func apiServer(c kube.Cluster) (string, int) {
	cfg, err := c.Config()
	if err != nil {
		return "", 0
	}
	u, err := url.Parse(cfg.Server)
	if err != nil {
		return "", 0
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return u.Hostname(), p
	}
	if u.Scheme == "http" {
		return u.Hostname(), 80
	}
	return u.Hostname(), 443
}

package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/meshdock/meshdock"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// WatchOptions tune Watch.
type WatchOptions struct {
	// Progress is called (from one goroutine, in order) whenever a
	// workload's status changes, and once when it is done.
	Progress func(WorkloadStatus)
}

// WorkloadStatus is where one workload's rollout stands, and why its pods
// are not ready yet: "0 of 1 available" alone does not tell a user what to
// fix.
type WorkloadStatus struct {
	Ref Ref
	// Ready counts the pods that are ready (Deployments and DaemonSets:
	// available; Jobs: succeeded), Desired those wanted (Jobs: completions).
	Ready, Desired int32
	Done           bool
	// Message is the rollout's state in WaitRollout's words ("2 of 3
	// updated replicas available").
	Message string
	// Problems are the reasons its pods are not ready, one per reason, each
	// with an example pod.
	Problems []PodProblem
}

// PodProblem is one reason a workload's pods are not ready, as the kubelet,
// the scheduler or a controller tells it.
type PodProblem = meshdock.PodProblem

// Container waiting reasons that say what is wrong, rather than that the
// container is on its way (ContainerCreating, PodInitializing).
var waitingProblems = map[string]bool{
	"ImagePullBackOff": true, "ErrImagePull": true, "ErrImageNeverPull": true, "InvalidImageName": true,
	"CrashLoopBackOff": true, "CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// fatalProblems cannot be cured by waiting: the image reference itself is
// wrong, or the pod may never pull what is not on the node.
var fatalProblems = map[string]bool{"ErrImageNeverPull": true, "InvalidImageName": true}

var (
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	eventsGVR      = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	replicaSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
)

// Indexes of the caches: events by the "Kind/name" of the object they are
// about, ReplicaSets by the UID of the Deployment that controls them.
const (
	byInvolved   = "involved"
	byController = "controller"
)

// revisionAnnotation numbers a Deployment's revisions, and each of its
// ReplicaSets with the revision it holds.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// Watch waits until every Deployment, StatefulSet, DaemonSet and Job among
// refs has rolled out (Jobs: completed), like WaitRollout, but from watches
// of the workloads, their pods and the namespace's warning events instead of
// reads in a loop: a change is seen when the server sends it, and the pods
// and events say why a workload is not ready. A watch that drops is resumed
// by the informers. It fails early, with code conflict and an
// *ObjectError, when waiting cannot help (a Deployment past its progress
// deadline, a failed Job, an invalid image name, an image missing from the
// node under pull policy Never), and
// with code forbidden when the workloads may not be watched. When ctx ends,
// the error names what it was still waiting for and the reasons its pods
// gave.
func (c Cluster) Watch(ctx context.Context, refs []Ref, opts WatchOptions) error {
	if c.conn == nil {
		return ErrNoCluster
	}
	w, err := c.conn.newWatcher(refs)
	if err != nil || len(w.workloads) == 0 {
		return err
	}
	w.life, w.end = context.WithCancel(ctx)
	w.start(c.conn)
	defer w.stop()
	return w.run(ctx, opts)
}

// watcher is one Watch: the informers of each namespace, and the state of
// each workload, which only the goroutine of run touches.
type watcher struct {
	begun     time.Time
	workloads []*workload // in the order of the refs
	spaces    map[string]*space
	// life is the informers' lifetime, ended by stop.
	life context.Context
	end  context.CancelFunc
	wg   sync.WaitGroup

	// Informer handlers queue what changed and wake run; they never block,
	// so a stopped run cannot hold up an informer.
	mu      sync.Mutex
	changes []change
	wake    chan struct{}
}

// space holds the informers of one namespace.
type space struct {
	name   string
	kinds  map[schema.GroupVersionResource]cache.SharedIndexInformer
	names  map[schema.GroupVersionResource]map[string]bool // what we track; read-only once started
	pods   cache.SharedIndexInformer
	events cache.SharedIndexInformer
	// replicaSets tell which pods are a Deployment's current ones; nil
	// without Deployments.
	replicaSets cache.SharedIndexInformer
	workloads   []*workload
	// lastErr is the last error each informer met, for the message when
	// ctx ends; the reflector retries on its own.
	lastErr map[string]error
}

type workload struct {
	ref      Ref // as the caller gave it
	ns       string
	gvr      schema.GroupVersionResource
	space    *space
	selector labels.Selector // of its pods, once read
	status   WorkloadStatus
	read     bool // status holds a computed status
	dirty    bool
}

type changeKind int

const (
	workloadChanged changeKind = iota
	replicaSetChanged
	podChanged
	eventChanged
	synced
	listFailed
)

type change struct {
	kind     changeKind
	space    *space
	gvr      schema.GroupVersionResource
	name     string       // a workload's, or a ReplicaSet's Deployment
	labels   []labels.Set // pods: the labels before and after
	involved corev1.ObjectReference
	err      error
}

func (c *conn) newWatcher(refs []Ref) (*watcher, error) {
	w := &watcher{begun: time.Now(), spaces: map[string]*space{}, wake: make(chan struct{}, 1)}
	seen := map[Ref]bool{}
	for _, r := range refs {
		if !rollsOut(r) || seen[r] {
			continue
		}
		seen[r] = true
		m, err := c.mapping(r.GroupVersionKind)
		if err != nil {
			return nil, err
		}
		ns := r.Namespace
		if ns == "" {
			ns = c.cfg.Namespace
		}
		sp := w.spaces[ns]
		if sp == nil {
			sp = &space{
				name:    ns,
				kinds:   map[schema.GroupVersionResource]cache.SharedIndexInformer{},
				names:   map[schema.GroupVersionResource]map[string]bool{},
				lastErr: map[string]error{},
			}
			w.spaces[ns] = sp
		}
		if sp.names[m.Resource] == nil {
			sp.names[m.Resource] = map[string]bool{}
		}
		sp.names[m.Resource][r.Name] = true
		wl := &workload{ref: r, ns: ns, gvr: m.Resource, space: sp, status: WorkloadStatus{Ref: r, Message: "waiting for the first read"}}
		w.workloads = append(w.workloads, wl)
		sp.workloads = append(sp.workloads, wl)
	}
	return w, nil
}

// warningsOnly keeps the events informer to what can explain a stuck pod;
// a busy namespace has many more normal events.
func warningsOnly(o *metav1.ListOptions) { o.FieldSelector = "type=" + corev1.EventTypeWarning }

// start sets up every informer and runs them. Settings an informer refuses
// once started cannot fail here: none has started.
func (w *watcher) start(c *conn) {
	for _, sp := range w.spaces {
		for gvr := range sp.names {
			inf := c.informer(gvr, sp.name, nil, nil)
			_ = inf.SetTransform(dropManagedFields)
			w.handle(sp, gvr, inf, w.workloadHandler(sp, gvr))
			sp.kinds[gvr] = inf
		}
		sp.pods = c.informer(podsGVR, sp.name, nil, nil)
		_ = sp.pods.SetTransform(typed[corev1.Pod])
		w.handle(sp, podsGVR, sp.pods, w.podHandler(sp))
		sp.events = c.informer(eventsGVR, sp.name, warningsOnly, cache.Indexers{byInvolved: func(obj any) ([]string, error) {
			if e, ok := obj.(*corev1.Event); ok {
				return []string{e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name}, nil
			}
			return nil, nil
		}})
		_ = sp.events.SetTransform(typed[corev1.Event])
		w.handle(sp, eventsGVR, sp.events, w.eventHandler(sp))
		infs := append(slices.Collect(maps.Values(sp.kinds)), sp.pods, sp.events)
		if slices.ContainsFunc(sp.workloads, func(wl *workload) bool { return wl.ref.Kind == "Deployment" }) {
			sp.replicaSets = c.informer(replicaSetsGVR, sp.name, nil, cache.Indexers{byController: func(obj any) ([]string, error) {
				if o := objectOf(obj); o != nil {
					if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
						return []string{string(ref.UID)}, nil
					}
				}
				return nil, nil
			}})
			_ = sp.replicaSets.SetTransform(dropManagedFields)
			w.handle(sp, replicaSetsGVR, sp.replicaSets, w.replicaSetHandler(sp))
			infs = append(infs, sp.replicaSets)
		}
		for _, inf := range infs {
			w.wg.Go(func() { inf.RunWithContext(w.life) })
		}
		w.wg.Go(func() { w.awaitSync(sp) })
	}
}

// informer watches one resource of namespace ns, as client-go's
// dynamicinformer does, without that package's dependency on every typed
// client.
func (c *conn) informer(gvr schema.GroupVersionResource, ns string, tweak func(*metav1.ListOptions), indexers cache.Indexers) cache.SharedIndexInformer {
	ri := c.dynamic.Resource(gvr).Namespace(ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			if tweak != nil {
				tweak(&o)
			}
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			if tweak != nil {
				tweak(&o)
			}
			return ri.Watch(ctx, o)
		},
	}
	return cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, c.dynamic), &unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{ObjectDescription: gvr.String(), Indexers: indexers})
}

// handle registers h and an error handler on inf.
func (w *watcher) handle(sp *space, gvr schema.GroupVersionResource, inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	_, _ = inf.AddEventHandler(h)
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		// A watch that ends or outlives its resource version is the
		// ordinary life of a watch: the reflector lists again.
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return
		}
		w.notify(change{kind: listFailed, space: sp, gvr: gvr, err: err})
	})
}

func (w *watcher) workloadHandler(sp *space, gvr schema.GroupVersionResource) cache.ResourceEventHandler {
	on := func(obj any) {
		if o := objectOf(obj); o != nil && sp.names[gvr][o.GetName()] {
			w.notify(change{kind: workloadChanged, space: sp, gvr: gvr, name: o.GetName()})
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, obj any) { on(obj) }, DeleteFunc: on}
}

func (w *watcher) replicaSetHandler(sp *space) cache.ResourceEventHandler {
	on := func(obj any) {
		if o := objectOf(obj); o != nil {
			if ref := metav1.GetControllerOfNoCopy(o); ref != nil && ref.Kind == "Deployment" {
				w.notify(change{kind: replicaSetChanged, space: sp, name: ref.Name})
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, obj any) { on(obj) }, DeleteFunc: on}
}

func (w *watcher) podHandler(sp *space) cache.ResourceEventHandler {
	on := func(objs ...any) {
		ch := change{kind: podChanged, space: sp}
		for _, obj := range objs {
			if o := objectOf(obj); o != nil {
				ch.labels = append(ch.labels, o.GetLabels())
			}
		}
		w.notify(ch)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { on(obj) },
		UpdateFunc: func(old, obj any) { on(old, obj) },
		DeleteFunc: func(obj any) { on(obj) },
	}
}

func (w *watcher) eventHandler(sp *space) cache.ResourceEventHandler {
	on := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if e, ok := obj.(*corev1.Event); ok {
			w.notify(change{kind: eventChanged, space: sp, involved: e.InvolvedObject})
		}
	}
	// A deleted event explains nothing new.
	return cache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, obj any) { on(obj) }}
}

// awaitSync tells run when the namespace's caches hold everything: once for
// the workloads, which decide when the rollout is done, and once more for
// pods and events, which only explain. Until then run evaluates a workload
// on its own informer's notifications, so a finished rollout is seen as soon
// as it is listed.
func (w *watcher) awaitSync(sp *space) {
	var kinds []cache.InformerSynced
	for _, inf := range sp.kinds {
		kinds = append(kinds, inf.HasSynced)
	}
	if !cache.WaitForCacheSync(w.life.Done(), kinds...) {
		return
	}
	w.notify(change{kind: synced, space: sp})
	explain := []cache.InformerSynced{sp.pods.HasSynced, sp.events.HasSynced}
	if sp.replicaSets != nil {
		explain = append(explain, sp.replicaSets.HasSynced)
	}
	if cache.WaitForCacheSync(w.life.Done(), explain...) {
		w.notify(change{kind: synced, space: sp})
	}
}

func (w *watcher) notify(ch change) {
	w.mu.Lock()
	w.changes = append(w.changes, ch)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop ends the informers and waits until all their goroutines are gone.
func (w *watcher) stop() {
	w.end()
	w.wg.Wait()
}

// run is the one goroutine that reads what changed, evaluates the workloads
// it concerns and reports them, in the order of the refs.
func (w *watcher) run(ctx context.Context, opts WatchOptions) error {
	for {
		select {
		case <-ctx.Done():
			return w.unfinished(ctx)
		case <-w.wake:
		}
		w.mu.Lock()
		changes := w.changes
		w.changes = nil
		w.mu.Unlock()
		for _, ch := range changes {
			if err := w.mark(ch); err != nil {
				return err
			}
		}
		left := 0
		for _, wl := range w.workloads {
			if wl.dirty && !wl.status.Done {
				wl.dirty = false
				st, ok, err := w.evaluate(wl)
				if ok && (err != nil || !wl.read || !equalStatus(st, wl.status)) {
					wl.status, wl.read = st, true
					if opts.Progress != nil {
						opts.Progress(st)
					}
				}
				if err != nil {
					return err
				}
			}
			if !wl.status.Done {
				left++
			}
		}
		if left == 0 {
			return nil
		}
	}
}

// mark flags the workloads a change concerns.
func (w *watcher) mark(ch change) error {
	sp := ch.space
	switch ch.kind {
	case synced:
		for _, wl := range sp.workloads {
			wl.dirty = true
		}
	case workloadChanged:
		for _, wl := range sp.workloads {
			if wl.gvr == ch.gvr && wl.ref.Name == ch.name {
				wl.dirty = true
			}
		}
	case replicaSetChanged:
		for _, wl := range sp.workloads {
			if wl.ref.Kind == "Deployment" && wl.ref.Name == ch.name {
				wl.dirty = true
			}
		}
	case podChanged:
		for _, wl := range sp.workloads {
			for _, l := range ch.labels {
				if wl.selector != nil && wl.selector.Matches(l) {
					wl.dirty = true
				}
			}
		}
	case eventChanged:
		if ch.involved.Kind == "Pod" {
			obj, _, _ := sp.pods.GetIndexer().GetByKey(sp.name + "/" + ch.involved.Name)
			if p, ok := obj.(*corev1.Pod); ok {
				return w.mark(change{kind: podChanged, space: sp, labels: []labels.Set{p.Labels}})
			}
			return nil
		}
		for _, wl := range sp.workloads {
			if wl.ref.Kind == ch.involved.Kind && wl.ref.Name == ch.involved.Name {
				wl.dirty = true
			}
		}
	case listFailed:
		sp.lastErr[ch.gvr.Resource] = ch.err
		if !apierrors.IsForbidden(ch.err) && !apierrors.IsUnauthorized(ch.err) {
			return nil
		}
		if _, ok := sp.kinds[ch.gvr]; ok {
			return meshdock.Wrap(meshdock.EFORBIDDEN, ch.err, "cannot watch %s in namespace %s: %s", ch.gvr.Resource, sp.name, serverMessage(ch.err))
		}
		// Without pods or events a rollout can still be followed, only
		// not explained: the message at the end says why.
	}
	return nil
}

// evaluate computes where a workload stands from the caches, once its
// informer has listed (ok). The error is for a rollout that waiting cannot
// complete.
func (w *watcher) evaluate(wl *workload) (st WorkloadStatus, ok bool, err error) {
	inf := wl.space.kinds[wl.gvr]
	if !inf.HasSynced() {
		return wl.status, false, nil
	}
	st, err = w.fromCache(wl, inf)
	return st, true, err
}

func (w *watcher) fromCache(wl *workload, inf cache.SharedIndexInformer) (WorkloadStatus, error) {
	obj, ok, _ := inf.GetIndexer().GetByKey(wl.ns + "/" + wl.ref.Name)
	if !ok {
		return WorkloadStatus{Ref: wl.ref, Message: "not found yet"}, nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return WorkloadStatus{Ref: wl.ref, Message: fmt.Sprintf("unexpected %T in the cache", obj)}, nil
	}
	rs, err := statusOf(u)
	st := WorkloadStatus{Ref: wl.ref, Done: rs.Done, Message: rs.Message}
	st.Ready, st.Desired = counts(u)
	if err != nil {
		return st, meshdock.Wrap(meshdock.ECONFLICT, &ObjectError{Ref: wl.ref, Err: err}, "rollout of %s failed: %s", wl.ref, rs.Message)
	}
	wl.selector = nil
	if sel, ok, _ := unstructured.NestedMap(u.Object, "spec", "selector"); ok {
		var ls metav1.LabelSelector
		if runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls) == nil {
			if s, err := metav1.LabelSelectorAsSelector(&ls); err == nil && !s.Empty() {
				wl.selector = s
			}
		}
	}
	if st.Done {
		return st, nil
	}
	st.Problems = w.problems(wl, u, st.Desired)
	for _, p := range st.Problems {
		if fatalProblems[p.Reason] {
			return st, meshdock.Wrap(meshdock.ECONFLICT, &ObjectError{Ref: wl.ref, Err: fmt.Errorf("%w: %s", errRolloutFailed, p)},
				"rollout of %s failed: %s", wl.ref, p)
		}
	}
	return st, nil
}

// counts reads how many pods of a workload are ready and how many it wants,
// by the same fields statusOf decides on.
func counts(u *unstructured.Unstructured) (ready, desired int32) {
	o := u.Object
	get := func(path ...string) int32 {
		v, _ := number(o, path...)
		return int32(v)
	}
	replicas := int32(1)
	if v, ok := number(o, "spec", "replicas"); ok {
		replicas = int32(v)
	}
	switch u.GetKind() {
	case "Deployment":
		return get("status", "availableReplicas"), replicas
	case "StatefulSet":
		return get("status", "readyReplicas"), replicas
	case "DaemonSet":
		return get("status", "numberAvailable"), get("status", "desiredNumberScheduled")
	case "Job":
		completions := int32(1)
		if v, ok := number(o, "spec", "completions"); ok {
			completions = int32(v)
		}
		return get("status", "succeeded"), completions
	}
	return 0, 0
}

// problems collects why a workload's pods are not ready: one problem per
// reason, the example pod the first by name, so a status stays the same
// while nothing changes.
func (w *watcher) problems(wl *workload, u *unstructured.Unstructured, desired int32) []PodProblem {
	sp := wl.space
	var out []PodProblem
	seen := map[string]bool{}
	add := func(ps ...PodProblem) {
		for _, p := range ps {
			if !seen[p.Reason] {
				seen[p.Reason] = true
				out = append(out, p)
			}
		}
	}
	// A Deployment's controller copies its ReplicaSet's failure to create
	// pods (a quota, an admission webhook) into a condition.
	if c := condition(u.Object, "ReplicaFailure"); c != nil && c["status"] == "True" {
		add(PodProblem{Reason: fmt.Sprint(c["reason"]), Message: fmt.Sprint(c["message"])})
	}
	// Until the controller has seen the spec, the pods that exist say
	// nothing about it.
	if observed, _ := number(u.Object, "status", "observedGeneration"); wl.ref.Kind != "Job" && observed < u.GetGeneration() {
		return out
	}
	var pods []*corev1.Pod
	key, value, known := w.revision(wl, u)
	if wl.selector != nil && known {
		for _, obj := range sp.pods.GetIndexer().List() {
			p, ok := obj.(*corev1.Pod)
			if !ok || p.DeletionTimestamp != nil || !wl.selector.Matches(labels.Set(p.Labels)) {
				continue
			}
			if v, ok := p.Labels[key]; key != "" && ok && v != value {
				continue // an old revision's pod, on its way out
			}
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, p := range pods {
		// A failed pod of a Deployment, StatefulSet or DaemonSet is
		// replaced; a Job's failed pods are why it has not succeeded.
		if p.Status.Phase == corev1.PodSucceeded || (p.Status.Phase == corev1.PodFailed && wl.ref.Kind != "Job") || podIsReady(p) {
			continue
		}
		add(podProblems(p, typedEvents(sp.events, "Pod/"+p.Name))...)
	}
	// The other controllers report a refused pod only as an event on the
	// workload, which stays after the cause is gone: it counts while pods
	// are missing.
	if wl.ref.Kind != "Deployment" && int32(len(pods)) < desired {
		var latest *corev1.Event
		for _, e := range typedEvents(sp.events, wl.ref.Kind+"/"+wl.ref.Name) {
			if e.Reason == "FailedCreate" && (e.InvolvedObject.UID == "" || e.InvolvedObject.UID == u.GetUID()) &&
				(latest == nil || eventTime(e).After(eventTime(latest))) {
				latest = e
			}
		}
		if latest != nil {
			add(PodProblem{Reason: latest.Reason, Message: latest.Message})
		}
	}
	return out
}

// revision names the label that marks the pods of a workload's current
// template, and its value ("" for every pod): only those say why a rollout
// waits, since an old revision's broken pod goes once the new ones are
// ready. known is false while a Deployment's current ReplicaSet is not
// in the cache.
func (w *watcher) revision(wl *workload, u *unstructured.Unstructured) (key, value string, known bool) {
	switch wl.ref.Kind {
	case "Deployment":
		rev := u.GetAnnotations()[revisionAnnotation]
		if rev == "" || wl.space.replicaSets == nil {
			return "", "", false
		}
		objs, _ := wl.space.replicaSets.GetIndexer().ByIndex(byController, string(u.GetUID()))
		for _, obj := range objs {
			if rs := objectOf(obj); rs != nil && rs.GetAnnotations()[revisionAnnotation] == rev {
				return appsv1.DefaultDeploymentUniqueLabelKey, rs.GetLabels()[appsv1.DefaultDeploymentUniqueLabelKey], true
			}
		}
		return "", "", false
	case "StatefulSet":
		if rev, _, _ := unstructured.NestedString(u.Object, "status", "updateRevision"); rev != "" {
			return appsv1.ControllerRevisionHashLabelKey, rev, true
		}
	case "DaemonSet":
		// The controller labels each pod with the template generation it
		// keeps in this annotation.
		if gen := u.GetAnnotations()[appsv1.DeprecatedTemplateGeneration]; gen != "" {
			return "pod-template-generation", gen, true
		}
	}
	return "", "", true
}

// podProblems reads why one pod that is not ready is not, from its status
// and the warning events about it.
func podProblems(pod *corev1.Pod, events []*corev1.Event) []PodProblem {
	var out []PodProblem
	add := func(container, reason, message string) {
		// The scheduler says the same in a condition and an event.
		if !slices.ContainsFunc(out, func(p PodProblem) bool { return p.Reason == reason }) {
			out = append(out, PodProblem{Pod: pod.Name, Container: container, Reason: reason, Message: message})
		}
	}
	// The newest event of each reason, and the kubelet's reason for a
	// failed pull of each container, which the back-off message lacks.
	latest := map[string]*corev1.Event{}
	pullFailed := map[string]*corev1.Event{}
	for _, e := range events {
		if e.InvolvedObject.UID != "" && e.InvolvedObject.UID != pod.UID {
			continue // about an earlier pod of that name
		}
		if prev := latest[e.Reason]; prev == nil || !eventTime(e).Before(eventTime(prev)) {
			latest[e.Reason] = e
		}
		if c := containerOf(e); e.Reason == "Failed" && strings.HasPrefix(e.Message, "Failed to pull image") {
			if prev := pullFailed[c]; prev == nil || !eventTime(e).Before(eventTime(prev)) {
				pullFailed[c] = e
			}
		}
	}

	if c := podCondition(pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse &&
		(c.Reason == corev1.PodReasonUnschedulable || c.Reason == corev1.PodReasonSchedulingGated) {
		add("", c.Reason, c.Message)
	}
	if e := latest["FailedScheduling"]; e != nil && pod.Spec.NodeName == "" {
		add("", corev1.PodReasonUnschedulable, e.Message)
	}
	running := false
	var started time.Time
	for _, cs := range slices.Concat(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses) {
		switch s := cs.State; {
		case s.Waiting != nil && waitingProblems[s.Waiting.Reason]:
			msg := s.Waiting.Message
			if last := cs.LastTerminationState.Terminated; s.Waiting.Reason == "CrashLoopBackOff" && last != nil {
				msg = join(msg, "last exit: "+exitOf(last))
			}
			if e := pullFailed[cs.Name]; e != nil && s.Waiting.Reason == "ImagePullBackOff" && !strings.Contains(msg, e.Message) {
				msg = join(msg, e.Message)
			}
			add(cs.Name, s.Waiting.Reason, msg)
		case s.Terminated != nil && s.Terminated.ExitCode != 0:
			reason := s.Terminated.Reason
			if reason == "" {
				reason = "Error"
			}
			add(cs.Name, reason, exitOf(s.Terminated))
		case s.Running != nil:
			running = true
			if s.Running.StartedAt.After(started) {
				started = s.Running.StartedAt.Time
			}
		}
	}
	if !running {
		for _, r := range []string{"FailedMount", "FailedAttachVolume"} {
			if e := latest[r]; e != nil {
				add(containerOf(e), r, e.Message)
			}
		}
	}
	// A probe that failed before the newest container started says nothing
	// about it. Events are stamped to the second.
	if e := latest["Unhealthy"]; e != nil && running && pod.Status.Phase == corev1.PodRunning &&
		!eventTime(e).Before(started.Truncate(time.Second)) {
		reason := "Unhealthy"
		for _, probe := range []string{"Readiness", "Liveness", "Startup"} {
			if strings.HasPrefix(e.Message, probe+" probe") {
				reason = probe + "ProbeFailed"
			}
		}
		add(containerOf(e), reason, e.Message)
	}
	return out
}

// unfinished is the error for a ctx that ended first: what is still
// waited for, and why, with the last error an informer met.
func (w *watcher) unfinished(ctx context.Context) error {
	var still []string
	for _, wl := range w.workloads {
		if wl.status.Done {
			continue
		}
		why := wl.status.Message
		for i, p := range wl.status.Problems {
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			why += sep + p.String()
		}
		still = append(still, fmt.Sprintf("%s (%s)", wl.ref, why))
	}
	var errs []string
	for _, sp := range w.spaces {
		for resource, err := range sp.lastErr {
			errs = append(errs, fmt.Sprintf("watching %s in namespace %s: %s", resource, sp.name, serverMessage(err)))
		}
	}
	sort.Strings(errs)
	msg := fmt.Sprintf("still waiting for %s", strings.Join(still, ", "))
	if len(errs) > 0 {
		msg += "; last errors: " + strings.Join(errs, "; ")
	}
	took := time.Since(w.begun).Round(100 * time.Millisecond)
	if errors.Is(ctx.Err(), context.Canceled) {
		return meshdock.Wrap(meshdock.ECANCELED, ctx.Err(), "rollout canceled after %s; %s", took, msg)
	}
	return meshdock.Wrap(meshdock.EUNAVAILABLE, ctx.Err(), "rollout not done after %s; %s", took, msg)
}

func equalStatus(a, b WorkloadStatus) bool {
	return a.Ref == b.Ref && a.Ready == b.Ready && a.Desired == b.Desired && a.Done == b.Done &&
		a.Message == b.Message && slices.Equal(a.Problems, b.Problems)
}

// serverMessage is the API server's own words for a refused request, which
// are about the user's permissions, or the error as the client met it.
func serverMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// typed turns the objects of an informer into T before they are stored, so
// each is converted once, not at every evaluation.
func typed[T any](obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	t := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, t); err != nil {
		return nil, err
	}
	if o, err := meta.Accessor(t); err == nil {
		o.SetManagedFields(nil)
	}
	return t, nil
}

// dropManagedFields keeps the workloads' caches to what statusOf reads
// about.
func dropManagedFields(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.SetManagedFields(nil)
	}
	return obj, nil
}

func objectOf(obj any) metav1.Object {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	return o
}

func typedEvents(inf cache.SharedIndexInformer, involved string) []*corev1.Event {
	objs, _ := inf.GetIndexer().ByIndex(byInvolved, involved)
	events := make([]*corev1.Event, 0, len(objs))
	for _, obj := range objs {
		if e, ok := obj.(*corev1.Event); ok {
			events = append(events, e)
		}
	}
	return events
}

// eventTime is when an event was last seen, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// containerOf reads the container an event is about from its field path,
// "spec.containers{web}".
func containerOf(e *corev1.Event) string {
	p := e.InvolvedObject.FieldPath
	open := strings.IndexByte(p, '{')
	if open < 0 || !strings.HasSuffix(p, "}") {
		return ""
	}
	return p[open+1 : len(p)-1]
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func podIsReady(p *corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

func exitOf(t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("exit code %d", t.ExitCode)
	if t.Reason != "" {
		s = t.Reason + ", " + s
	}
	if t.Message != "" {
		s += ": " + t.Message
	}
	return s
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + " (" + b + ")"
}

package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// deployment is a one-replica Deployment whose pod template gets spec
// (indented for the pod spec, may be empty).
func deployment(name, spec string) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
%[2]s
      containers: [{name: web, image: meshdock/never-pulled:test, imagePullPolicy: IfNotPresent}]
`, name, spec)
}

// statefulSet is a StatefulSet of two pods with its headless Service.
func statefulSet(name string) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec: {clusterIP: None, selector: {app: %[1]s}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: %[1]s}
spec:
  serviceName: %[1]s
  replicas: 2
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: %[1]s, image: meshdock/never-pulled:test}]
`, name)
}

// unschedulable keeps a pod from any node: none has this label.
const unschedulable = `      nodeSelector: {meshdock.dev/none: "true"}`

// progress records what Watch reports, for checks after it returns.
type progress struct {
	mu   sync.Mutex
	seen []WorkloadStatus
}

func (p *progress) add(st WorkloadStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, st)
}

// last is the latest status of the workload called name.
func (p *progress) last(name string) (WorkloadStatus, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.seen) - 1; i >= 0; i-- {
		if p.seen[i].Ref.Name == name {
			return p.seen[i], true
		}
	}
	return WorkloadStatus{}, false
}

// problem finds a problem of that reason in any status reported for name.
func (p *progress) problem(name, reason string) (PodProblem, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.seen {
		if st.Ref.Name != name {
			continue
		}
		for _, pp := range st.Problems {
			if pp.Reason == reason {
				return pp, true
			}
		}
	}
	return PodProblem{}, false
}

// named keeps the refs of objects called name.
func named(refs []Ref, name string) []Ref {
	var out []Ref
	for _, r := range refs {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// stuck applies, in a namespace of its own, a Deployment called "stuck"
// whose pod no node takes.
func stuck(t *testing.T, c Cluster) (ns string, refs []Ref) {
	t.Helper()
	ns = testNamespace(t, c)
	results, err := c.Apply(t.Context(), objects(t, deployment("stuck", unschedulable)), ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return ns, Refs(results)
}

func TestWatchNoCluster(t *testing.T) {
	if err := (Cluster{}).Watch(t.Context(), nil, WatchOptions{}); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Watch: %v", err)
	}
}

func TestWatchPodProblems(t *testing.T) {
	now := time.Now()
	stamp := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339) }
	event := func(reason, message, fieldPath string, at time.Duration) *corev1.Event {
		return &corev1.Event{
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", UID: "u1", FieldPath: fieldPath},
			Reason:         reason, Message: message, Type: corev1.EventTypeWarning,
			LastTimestamp: metav1.NewTime(now.Add(at)),
		}
	}
	tests := []struct {
		name   string
		status string // the pod's status, JSON
		events []*corev1.Event
		want   []PodProblem
	}{
		{"pending, nothing wrong", `{"phase": "Pending"}`, nil, nil},
		{"unschedulable", `{"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/2 nodes are available"}]}`,
			[]*corev1.Event{event("FailedScheduling", "0/2 nodes are available", "", 0)},
			[]PodProblem{{Pod: "p", Reason: "Unschedulable", Message: "0/2 nodes are available"}}},
		{"image pull back-off with the pull's reason", `{"phase": "Pending", "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}]}`,
			[]*corev1.Event{event("Failed", `Failed to pull image "x": not found`, "spec.containers{web}", 0)},
			[]PodProblem{{Pod: "p", Container: "web", Reason: "ImagePullBackOff", Message: `Back-off pulling image "x" (Failed to pull image "x": not found)`}}},
		{"init container", `{"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": {"waiting": {"reason": "CreateContainerConfigError", "message": "secret \"s\" not found"}}}]}`,
			nil, []PodProblem{{Pod: "p", Container: "init", Reason: "CreateContainerConfigError", Message: `secret "s" not found`}}},
		{"crash loop with the last exit", `{"phase": "Running", "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}, "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}`,
			nil, []PodProblem{{Pod: "p", Container: "web", Reason: "CrashLoopBackOff", Message: "back-off 10s (last exit: Error, exit code 1)"}}},
		{"terminated, restarting", `{"phase": "Running", "containerStatuses": [{"name": "web", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}`,
			nil, []PodProblem{{Pod: "p", Container: "web", Reason: "OOMKilled", Message: "OOMKilled, exit code 137"}}},
		{"terminated successfully", `{"phase": "Running", "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}`,
			nil, nil},
		{"readiness probe", `{"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "web", "state": {"running": {"startedAt": "` + stamp(-time.Minute) + `"}}}]}`,
			[]*corev1.Event{event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", "spec.containers{web}", 0)},
			[]PodProblem{{Pod: "p", Container: "web", Reason: "ReadinessProbeFailed", Message: "Readiness probe failed: HTTP probe failed with statuscode: 503"}}},
		{"probe failure before the container started", `{"phase": "Running", "containerStatuses": [{"name": "web", "state": {"running": {"startedAt": "` + stamp(0) + `"}}}]}`,
			[]*corev1.Event{event("Unhealthy", "Readiness probe failed: 503", "spec.containers{web}", -time.Hour)}, nil},
		{"failed mount while starting", `{"phase": "Pending"}`,
			[]*corev1.Event{event("FailedMount", `MountVolume.SetUp failed for volume "config"`, "", 0)},
			[]PodProblem{{Pod: "p", Reason: "FailedMount", Message: `MountVolume.SetUp failed for volume "config"`}}},
		{"failed mount of a running pod is old news", `{"phase": "Running", "containerStatuses": [{"name": "web", "state": {"running": {}}}]}`,
			[]*corev1.Event{event("FailedMount", "old", "", 0)}, nil},
		{"events of an earlier pod of that name", `{"phase": "Pending"}`,
			[]*corev1.Event{func() *corev1.Event { e := event("FailedMount", "old", "", 0); e.InvolvedObject.UID = "u0"; return e }()}, nil},
		{"newest event of a reason", `{"phase": "Pending"}`,
			[]*corev1.Event{event("FailedMount", "older", "", -time.Minute), event("FailedMount", "newer", "", 0)},
			[]PodProblem{{Pod: "p", Reason: "FailedMount", Message: "newer"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u1"}}
			if err := json.Unmarshal([]byte(tt.status), &pod.Status); err != nil {
				t.Fatal(err)
			}
			if got := podProblems(pod, tt.events); !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestWatchRollsOut(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	docs := strings.Replace(deployment("web", ""), "replicas: 1", "replicas: 2", 1) + "---\n" + statefulSet("db") + `---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: meshdock/never-pulled:test}]
`
	results, err := c.Apply(ctx, objects(t, docs), ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	// Workloads of another namespace are watched there.
	other, err := c.Apply(ctx, objects(t, deployment("api", "")), ApplyOptions{Namespace: testNamespace(t, c)})
	if err != nil {
		t.Fatal(err)
	}
	results = append(results, other...)
	var p progress
	start := time.Now()
	if err := c.Watch(ctx, Refs(results), WatchOptions{Progress: func(st WorkloadStatus) {
		t.Logf("%6.3fs %s: %s", time.Since(start).Seconds(), st.Ref, st.Message)
		p.add(st)
	}}); err != nil {
		t.Fatalf("Watch = %v", err)
	}
	took := time.Since(start)
	for name, desired := range map[string]int32{"web": 2, "db": 2, "migrate": 1, "api": 1} {
		st, ok := p.last(name)
		if !ok || !st.Done || st.Ready != st.Desired || st.Desired != desired {
			t.Errorf("last progress of %s: %+v (reported: %v), want done with %d of %d ready", name, st, ok, desired, desired)
		}
	}
	if _, ok := p.last("db-0"); ok {
		t.Error("progress reported a pod")
	}
	for _, st := range p.seen {
		if st.Ref.Kind == "Service" {
			t.Errorf("progress reported %s, which does not roll out", st.Ref)
		}
	}

	// Once done, a second watch answers at once.
	start = time.Now()
	if err := c.Watch(ctx, Refs(results), WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("Watch took %v for the rollout; on rolled-out objects %v", took, time.Since(start))
}

func TestWatchUnschedulable(t *testing.T) {
	c := testCluster(t)
	ns, refs := stuck(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var p progress
	start := time.Now()
	err := c.Watch(ctx, refs, WatchOptions{Progress: p.add})
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Watch returned %v after its deadline", took-3*time.Second)
	}
	if !errors.Is(err, context.DeadlineExceeded) || meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Fatalf("Watch = %v, want a deadline error", err)
	}
	if want := "Deployment " + ns + "/stuck (0 of 1 updated replicas available: pod stuck-"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if !strings.Contains(err.Error(), " Unschedulable: 0/") {
		t.Errorf("error %q does not give the scheduler's reason", err)
	}
	pp, ok := p.problem("stuck", "Unschedulable")
	if !ok || !strings.HasPrefix(pp.Pod, "stuck-") || !strings.Contains(pp.Message, "node") {
		t.Errorf("progress did not report the pod as unschedulable: %+v", p.seen)
	}
}

func TestWatchFailsEarly(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	// The Deployment's controller gives up on it after a second; the Job
	// fails by its deadline, though kwok would complete it.
	docs := strings.Replace(deployment("late", unschedulable), "replicas: 1", "replicas: 1\n  progressDeadlineSeconds: 1", 1) + `
---
apiVersion: batch/v1
kind: Job
metadata: {name: doomed}
spec:
  activeDeadlineSeconds: 1
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {meshdock.dev/none: "true"}
      containers: [{name: x, image: none}]
`
	results, err := c.Apply(t.Context(), objects(t, docs), ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, reason string }{{"late", "progress deadline exceeded"}, {"doomed", "DeadlineExceeded"}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			refs := named(Refs(results), tt.name)
			start := time.Now()
			err := c.Watch(ctx, refs, WatchOptions{})
			var oe *ObjectError
			if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !errors.As(err, &oe) || oe.Ref.Name != tt.name || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Watch = %v, want %s's failure", err, tt.name)
			}
			t.Logf("failed after %v: %v", time.Since(start), err)
		})
	}
}

// testNode creates a Node that kwok does not manage (it lacks kwok's
// annotation), Ready and tainted so that only the pods that tolerate it
// (onNodeTolerating) go there, not those other tests run meanwhile; those
// pods keep whatever status a test writes. It goes when the test ends, with the pods
// of ns, which no kubelet would ever finish deleting.
func testNode(t *testing.T, c Cluster, ns string) string {
	t.Helper()
	dyn, _ := c.Dynamic()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "meshdock-test-" + hex.EncodeToString(b)
	node := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"meshdock.dev/test-node": name}},
		"spec":     map[string]any{"taints": []any{map[string]any{"key": "meshdock.dev/test-node", "value": name, "effect": "NoSchedule"}}},
	}}
	ctx := t.Context()
	created, err := dyn.Resource(nodesGVR).Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		zero := int64(0)
		_ = dyn.Resource(podsGVR).Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		if err := dyn.Resource(nodesGVR).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting node %s: %v", name, err)
		}
	})
	now := time.Now().UTC().Format(time.RFC3339)
	resources := map[string]any{"cpu": "8", "memory": "16Gi", "pods": "110"}
	// The node controller writes to a new node too: retry on a conflict.
	for range 10 {
		created.Object["status"] = map[string]any{
			"capacity": resources, "allocatable": resources,
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test node",
				"lastHeartbeatTime": now, "lastTransitionTime": now}},
		}
		_, err := dyn.Resource(nodesGVR).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			if err != nil {
				t.Fatal(err)
			}
			return name
		}
		if created, err = dyn.Resource(nodesGVR).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("node %s kept changing", name)
	return ""
}

// onNodeTolerating is the pod spec lines that put a pod on a testNode.
func onNodeTolerating(node string) string {
	return "      nodeSelector: {meshdock.dev/test-node: " + node + "}\n" +
		"      tolerations: [{key: meshdock.dev/test-node, operator: Exists, effect: NoSchedule}]"
}

// scheduledPod waits until the pod of Deployment name is on a node.
func scheduledPod(t *testing.T, c Cluster, ns, name string) *unstructured.Unstructured {
	t.Helper()
	dyn, _ := c.Dynamic()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		pods, err := dyn.Resource(podsGVR).Namespace(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if node, _, _ := unstructured.NestedString(p.Object, "spec", "nodeName"); node != "" {
				return &p
			}
		}
	}
	t.Fatalf("no pod of %s was scheduled", name)
	return nil
}

// setPodStatus writes the status a kubelet would.
func setPodStatus(t *testing.T, c Cluster, pod *unstructured.Unstructured, status string) {
	t.Helper()
	dyn, _ := c.Dynamic()
	var st map[string]any
	if err := json.Unmarshal([]byte(status), &st); err != nil {
		t.Fatal(err)
	}
	ri := dyn.Resource(podsGVR).Namespace(pod.GetNamespace())
	for range 5 {
		p, err := ri.Get(t.Context(), pod.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conds, _, _ := unstructured.NestedSlice(p.Object, "status", "conditions")
		if extra, ok := st["conditions"].([]any); ok {
			conds = append(conds, extra...)
		}
		st["conditions"] = conds
		p.Object["status"] = st
		_, err = ri.UpdateStatus(t.Context(), p, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("pod %s kept changing", pod.GetName())
}

// warn records a warning event about a pod, as the kubelet would.
func warn(t *testing.T, c Cluster, pod *unstructured.Unstructured, reason, message, fieldPath string) {
	t.Helper()
	dyn, _ := c.Dynamic()
	now := time.Now().UTC().Format(time.RFC3339)
	e := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Event",
		"metadata": map[string]any{"name": pod.GetName() + "." + strings.ToLower(reason)},
		"involvedObject": map[string]any{"apiVersion": "v1", "kind": "Pod", "namespace": pod.GetNamespace(),
			"name": pod.GetName(), "uid": string(pod.GetUID()), "fieldPath": fieldPath},
		"reason": reason, "message": message, "type": "Warning", "count": int64(1),
		"source":         map[string]any{"component": "kubelet"},
		"firstTimestamp": now, "lastTimestamp": now,
	}}
	if _, err := dyn.Resource(eventsGVR).Namespace(pod.GetNamespace()).Create(t.Context(), e, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestWatchPodReasons(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	node := testNode(t, c, ns)
	onNode := onNodeTolerating(node)
	started := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	tests := []struct {
		name     string
		status   string // written to the pod, if any
		event    []string
		reason   string
		message  string
		fatal    bool
		noTarget bool // a problem of the pod, not of a container
	}{
		{name: "pull", reason: "ImagePullBackOff", message: `Back-off pulling image "meshdock/never-pulled:test"`,
			status: `{"phase": "Pending", "containerStatuses": [{"name": "web", "image": "meshdock/never-pulled:test", "imageID": "", "ready": false, "restartCount": 0,
			  "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"meshdock/never-pulled:test\""}}}]}`},
		{name: "never", reason: "ErrImageNeverPull", message: "is not present with pull policy of Never", fatal: true,
			status: `{"phase": "Pending", "containerStatuses": [{"name": "web", "image": "meshdock/never-pulled:test", "imageID": "", "ready": false, "restartCount": 0,
			  "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "Container image \"meshdock/never-pulled:test\" is not present with pull policy of Never"}}}]}`},
		{name: "crash", reason: "CrashLoopBackOff", message: "last exit: Error, exit code 1",
			status: `{"phase": "Running", "containerStatuses": [{"name": "web", "image": "meshdock/never-pulled:test", "imageID": "", "ready": false, "restartCount": 3,
			  "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=web"}},
			  "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "` + started + `", "finishedAt": "` + started + `"}}}]}`},
		{name: "mount", reason: "FailedMount", message: `configmap "missing" not found`, noTarget: true,
			event: []string{"FailedMount", `MountVolume.SetUp failed for volume "config" : configmap "missing" not found`, ""}},
		{name: "probe", reason: "ReadinessProbeFailed", message: "statuscode: 503",
			status: `{"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "web", "image": "meshdock/never-pulled:test", "imageID": "", "ready": false, "restartCount": 0,
			  "state": {"running": {"startedAt": "` + started + `"}}}]}`,
			event: []string{"Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", "spec.containers{web}"}},
	}
	var docs []string
	for _, tt := range tests {
		docs = append(docs, deployment(tt.name, onNode))
	}
	results, err := c.Apply(t.Context(), objects(t, strings.Join(docs, "---\n")), ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := scheduledPod(t, c, ns, tt.name)
			if tt.status != "" {
				setPodStatus(t, c, pod, tt.status)
			}
			if tt.event != nil {
				warn(t, c, pod, tt.event[0], tt.event[1], tt.event[2])
			}
			t.Parallel()
			refs := named(Refs(results), tt.name)
			timeout := 2 * time.Second
			if tt.fatal {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			var p progress
			start := time.Now()
			err := c.Watch(ctx, refs, WatchOptions{Progress: p.add})
			took := time.Since(start)

			pp, ok := p.problem(tt.name, tt.reason)
			want := PodProblem{Pod: pod.GetName(), Container: "web", Reason: tt.reason}
			if tt.noTarget {
				want.Container = ""
			}
			if !ok || pp.Pod != want.Pod || pp.Container != want.Container || !strings.Contains(pp.Message, tt.message) {
				t.Errorf("progress did not report %+v with %q: %+v", want, tt.message, p.seen)
			}
			inError := "pod " + pod.GetName() + " " + tt.reason + ": "
			switch {
			case tt.fatal:
				var oe *ObjectError
				if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !errors.As(err, &oe) || oe.Ref.Name != tt.name || !strings.Contains(err.Error(), inError) {
					t.Errorf("Watch = %v, want the rollout's failure with %q", err, inError)
				}
				if took > 5*time.Second {
					t.Errorf("Watch took %v to fail", took)
				}
			case meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(err.Error(), inError):
				t.Errorf("Watch = %v, want a deadline error with %q", err, inError)
			}
		})
	}
}

// A redeploy that fixes a broken image starts a new pod beside the broken
// one, which stays until the new one is ready: the broken pod is no
// reason to give up on the new revision.
func TestWatchOldRevision(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	node := testNode(t, c, ns)
	doc := deployment("web", onNodeTolerating(node))
	if _, err := c.Apply(t.Context(), objects(t, doc), ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	old := scheduledPod(t, c, ns, "web")
	setPodStatus(t, c, old, `{"phase": "Pending", "containerStatuses": [{"name": "web", "image": "meshdock/never-pulled:test", "imageID": "", "ready": false, "restartCount": 0,
	  "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "Container image is not present with pull policy of Never"}}}]}`)
	fixed := strings.Replace(doc, "imagePullPolicy: IfNotPresent", "imagePullPolicy: Always", 1)
	results, err := c.Apply(t.Context(), objects(t, fixed), ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	err = c.Watch(ctx, Refs(results), WatchOptions{})
	if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || strings.Contains(err.Error(), "ErrImageNeverPull") {
		t.Errorf("Watch = %v, want a deadline error that does not blame the old pod", err)
	}
}

func TestWatchCancel(t *testing.T) {
	c := testCluster(t)
	_, refs := stuck(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var canceled time.Time
	err := c.Watch(ctx, refs, WatchOptions{Progress: func(WorkloadStatus) {
		if canceled.IsZero() {
			canceled = time.Now()
			cancel()
		}
	}})
	if canceled.IsZero() {
		t.Fatalf("Watch = %v before any progress", err)
	}
	if took := time.Since(canceled); took > time.Second {
		t.Errorf("Watch returned %v after the cancel", took)
	}
	if meshdock.ErrorCode(err) != meshdock.ECANCELED || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stuck") {
		t.Errorf("Watch = %v, want a cancel that names what was waited for", err)
	}
	// Nothing of the watch may outlive it: informers, reflectors, the
	// watches they read.
	var left string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = watchGoroutines(); left == "" {
			return
		}
	}
	t.Errorf("goroutines left after Watch returned:\n%s", left)
}

// watchGoroutines returns the stacks of goroutines that belong to a Watch.
func watchGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "k8s.io/client-go/tools/cache.") || strings.Contains(g, "kube.(*watcher)") ||
			strings.Contains(g, "k8s.io/apimachinery/pkg/watch.(*StreamWatcher)") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}

// limitedCluster is c as a ServiceAccount of ns that may read Deployments
// and nothing else.
func limitedCluster(t *testing.T, c Cluster, ns string) Cluster {
	t.Helper()
	rbac := `
apiVersion: v1
kind: ServiceAccount
metadata: {name: limited}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployments-only}
rules: [{apiGroups: [apps], resources: [deployments], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: limited}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployments-only}
subjects: [{kind: ServiceAccount, name: limited}]
`
	if _, err := c.Apply(t.Context(), objects(t, rbac), ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	dyn, _ := c.Dynamic()
	req := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": map[string]any{"name": "limited"},
		"spec": map[string]any{"expirationSeconds": int64(600)},
	}}
	tok, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).Namespace(ns).Create(t.Context(), req, metav1.CreateOptions{}, "token")
	if err != nil {
		t.Fatal(err)
	}
	token, _, _ := unstructured.NestedString(tok.Object, "status", "token")
	cfg, _ := c.Config()
	rc := cfg.REST()
	rc.BearerToken, rc.BearerTokenFile, rc.Username, rc.Password = token, "", "", ""
	rc.CertData, rc.CertFile, rc.KeyData, rc.KeyFile = nil, "", nil, ""
	rc.ExecProvider, rc.AuthProvider = nil, nil
	cfg.rest = rc
	limited, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The authorizer learns of the binding a moment after it is written.
	ldyn, _ := limited.Dynamic()
	deployments := ldyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace(ns)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := deployments.List(t.Context(), metav1.ListOptions{})
		if err == nil {
			return limited
		}
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			t.Fatalf("the service account cannot list deployments: %v", err)
		}
	}
}

func TestWatchForbidden(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	limited := limitedCluster(t, c, ns)
	docs := deployment("web", "") + "---\n" + deployment("stuck", unschedulable) + "---\n" + statefulSet("db")
	results, err := c.Apply(t.Context(), objects(t, docs), ApplyOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	refs := Refs(results)

	t.Run("pods hidden, rollout done", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := limited.Watch(ctx, named(refs, "web"), WatchOptions{}); err != nil {
			t.Errorf("Watch = %v; a rollout needs no pods to be seen done", err)
		}
	})
	t.Run("pods hidden, rollout stuck", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		err := limited.Watch(ctx, named(refs, "stuck"), WatchOptions{})
		if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(err.Error(), `cannot list resource "pods"`) {
			t.Errorf("Watch = %v, want a deadline error that says pods could not be listed", err)
		}
	})
	t.Run("workload hidden", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		start := time.Now()
		err := limited.Watch(ctx, named(refs, "db"), WatchOptions{})
		if meshdock.ErrorCode(err) != meshdock.EFORBIDDEN || !strings.Contains(err.Error(), "statefulsets") {
			t.Errorf("Watch = %v, want forbidden", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Watch took %v to give up", took)
		}
	})
}

// BenchmarkWatch waits for five Deployments: new ones (create, a first
// deploy, each time in a new namespace) and a new revision of the same ones
// (update, a redeploy: the old pods must go first). Watch sees the end of a
// rollout when the server sends it; on the test cluster it mostly waits for
// the controller manager.
func BenchmarkWatch(b *testing.B) {
	c := testCluster(b)
	waits := []struct {
		name string
		wait func(context.Context, []Ref) error
	}{
		{"Watch", func(ctx context.Context, refs []Ref) error { return c.Watch(ctx, refs, WatchOptions{}) }},
	}
	for _, mode := range []string{"create", "update"} {
		for _, wait := range waits {
			b.Run(mode+"/"+wait.name, func(b *testing.B) {
				ns := testNamespace(b, c)
				rev := 0
				for b.Loop() {
					rev++
					if mode == "create" {
						b.StopTimer()
						ns = testNamespace(b, c)
						b.StartTimer()
					}
					var docs []string
					for i := range 5 {
						d := deployment(fmt.Sprintf("web-%d", i), "")
						docs = append(docs, strings.Replace(d, "    metadata: {labels:", fmt.Sprintf("    metadata: {annotations: {rev: \"%d\"}, labels:", rev), 1))
					}
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					results, err := c.Apply(ctx, objects(b, strings.Join(docs, "---\n")), ApplyOptions{Namespace: ns})
					if err == nil {
						err = wait.wait(ctx, Refs(results))
					}
					cancel()
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

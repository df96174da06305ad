package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"fortio.org/fortio/fhttp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshdock/meshdock"
)

// The in-cluster load generator: a Job of meshdock's own image running
// `meshdock loadgen` with the test's flags.
const (
	// LoadgenName names the Job's ServiceAccount and labels its pods.
	LoadgenName = "meshdock-loadgen"
	// LoadgenContainer is the container that runs the test.
	LoadgenContainer = "loadgen"
	// LabelBenchmark, on the Job and its pods, is the benchmark's id.
	LabelBenchmark = "meshdock.io/benchmark"
	// MaxPods bounds the load generators of one test.
	MaxPods = 16
	// loadgenUID is the load generator's user: not a mesh proxy's (1337,
	// 2102, 5678, 100), not root.
	loadgenUID = 65532
)

// Args are the flags of `meshdock loadgen` that run o.
func Args(o Options) []string {
	args := []string{"--url", o.URL, "--qps", strconv.FormatFloat(o.QPS, 'g', -1, 64), "--connections", strconv.Itoa(o.Connections),
		"--duration", o.Duration.String()}
	if o.Method != "" {
		args = append(args, "--method", o.Method)
	}
	for _, h := range o.Headers {
		args = append(args, "-H", h)
	}
	if len(o.Body) > 0 {
		args = append(args, "--body", string(o.Body))
	}
	if len(o.Percentiles) > 0 {
		ps := make([]string, len(o.Percentiles))
		for i, p := range o.Percentiles {
			ps[i] = strconv.FormatFloat(p, 'g', -1, 64)
		}
		args = append(args, "--percentiles", strings.Join(ps, ","))
	}
	if o.H2 {
		args = append(args, "--h2")
	}
	if o.QuitURL != "" {
		args = append(args, "--quit-url", o.QuitURL)
	}
	return args
}

// JobSpec is one in-cluster test.
type JobSpec struct {
	Name, Namespace, Image string
	// Pods run side by side, each with the whole of Options' load: the
	// caller divides QPS and connections among them.
	Pods    int
	Options Options
	// Benchmark is the test's id, on the Job's labels.
	Benchmark string
	// Token mounts the ServiceAccount's token (a mesh's proxy may need
	// it; the load generator does not).
	Token bool
}

// Job returns the load generator's Job and its ServiceAccount (the
// identity meshes and NetworkPolicies know it by). Each pod runs the test
// once (no retries: a failed test is reported, not repeated), the Job
// ends at the latest a few minutes after the test's duration and is
// deleted ten minutes after it ends.
func Job(s JobSpec) ([]*unstructured.Unstructured, error) {
	pods := int32(max(1, s.Pods))
	deadline := int64(s.Options.Duration.Seconds()) + 180
	ttl := int32(600)
	backoff := int32(0)
	no, yes := false, true
	uid := int64(loadgenUID)
	labels := map[string]string{"app.kubernetes.io/name": LoadgenName, "app.kubernetes.io/managed-by": "meshdock", LabelBenchmark: s.Benchmark}
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			Parallelism: &pods, Completions: &pods, BackoffLimit: &backoff,
			ActiveDeadlineSeconds: &deadline, TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					ServiceAccountName:           LoadgenName,
					AutomountServiceAccountToken: &s.Token,
					SecurityContext:              &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: LoadgenContainer, Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
						Args: append(append([]string{"loadgen"}, Args(s.Options)...), "--progress"),
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
						},
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					}},
				},
			},
		},
	}
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: LoadgenName, Namespace: s.Namespace, Labels: map[string]string{"app.kubernetes.io/name": LoadgenName, "app.kubernetes.io/managed-by": "meshdock"}}}
	var out []*unstructured.Unstructured
	for _, o := range []runtime.Object{sa, job} {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, meshdock.Wrap(meshdock.EINTERNAL, err, "load generator Job: %v", err)
		}
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "status")
		out = append(out, u)
	}
	return out, nil
}

// ParseResult reads fortio's JSON result from a load generator's log,
// where it may follow or precede other lines (warnings on stderr).
func ParseResult(log []byte) (*fhttp.HTTPRunnerResults, error) {
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), len(log)+1)
	off := 0
	for sc.Scan() {
		line := sc.Bytes()
		if string(bytes.TrimSpace(line)) == "{" {
			var res fhttp.HTTPRunnerResults
			if err := json.NewDecoder(bytes.NewReader(log[off:])).Decode(&res); err != nil {
				return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the load generator's result cannot be read: %v", err)
			}
			if res.DurationHistogram == nil {
				return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the load generator's result has no latencies")
			}
			return &res, nil
		}
		off += len(line) + 1
	}
	last := strings.TrimSpace(string(log))
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	if last == "" {
		return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the load generator printed no result")
	}
	return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the load generator printed no result; its last line: %s", meshdock.Quote(last, 200))
}

// PerPod is each pod's share of a test's load: the connections and the
// QPS divided among the pods (CheckPods has made sure each gets one
// connection at least; the remainder of an uneven division is not run).
func PerPod(o Options, pods int) Options {
	if pods > 1 {
		o.Connections /= pods
		o.QPS /= float64(pods)
	}
	return o
}

// CheckPods refuses a number of load generators that cannot run: none,
// more than MaxPods, or more than the test has connections.
func CheckPods(pods, connections int) error {
	if pods < 1 || pods > MaxPods {
		return meshdock.Errorf(meshdock.EINVALID, "pods must be between 1 and %d, not %d", MaxPods, pods)
	}
	if pods > connections {
		return meshdock.Errorf(meshdock.EINVALID, "%d pods need at least as many connections, not %d", pods, connections)
	}
	return nil
}

// ProgressPrefix starts the load generator's progress lines on stderr:
// the prefix, then a Progress as JSON.
const ProgressPrefix = "meshdock-progress "

// FormatProgress is one progress line of the load generator.
func FormatProgress(p Progress) string {
	b, _ := json.Marshal(p)
	return ProgressPrefix + string(b)
}

// ParseProgress reads a progress line; ok is false for any other line.
func ParseProgress(line string) (p Progress, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(line), ProgressPrefix)
	if !found || json.Unmarshal([]byte(rest), &p) != nil {
		return Progress{}, false
	}
	return p, true
}

// SumProgress is the progress of load generators side by side: their
// requests, QPS and errors summed, the slowest one's percentiles.
func SumProgress(ps []Progress) Progress {
	var out Progress
	for _, p := range ps {
		out.Requests += p.Requests
		out.QPS += p.QPS
		out.Errors += p.Errors
		out.Elapsed = max(out.Elapsed, p.Elapsed)
		out.P50ms = max(out.P50ms, p.P50ms)
		out.P99ms = max(out.P99ms, p.P99ms)
	}
	return out
}

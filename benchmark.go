package meshdock

import "time"

// BenchmarkState is where a load test stands.
type BenchmarkState string

// States of a load test.
const (
	BenchRunning  BenchmarkState = "running"
	BenchDone     BenchmarkState = "done"
	BenchFailed   BenchmarkState = "failed"
	BenchCanceled BenchmarkState = "canceled" // stopped early; the result is what it measured
)

// BenchmarkSpec is one load test: its target, its load, and where the
// load generator runs.
type BenchmarkSpec struct {
	// Target: a URL, or one of the app's Services
	// (service[.namespace][:port][/path]) in Namespace of the cluster of
	// Context.
	URL       string `json:"url,omitempty"`
	Service   string `json:"service,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Context   string `json:"context,omitempty"`

	// QPS is the requests per second of all connections together; 0 is
	// as fast as possible.
	QPS         float64   `json:"qps"`
	Connections int       `json:"connections,omitempty"`
	Duration    Duration  `json:"duration,omitempty"`
	Method      string    `json:"method,omitempty"`
	Headers     []string  `json:"headers,omitempty"` // "Name: value"
	Body        string    `json:"body,omitempty"`
	Percentiles []float64 `json:"percentiles,omitempty"`
	// H2 speaks HTTP/2 (h2c on http URLs).
	H2 bool `json:"h2,omitempty"`

	// InCluster runs the load generator as a Job in the target's
	// namespace, enrolled in its mesh, so the load crosses the mesh as
	// the app's own traffic does; Pods is how many run side by side (1).
	InCluster bool `json:"inCluster,omitempty"`
	Pods      int  `json:"pods,omitempty"`

	// Labels are the user's, kept with the result (and in SMP's labels).
	Labels map[string]string `json:"labels,omitempty"`
}

// Benchmark is one load test run and its result.
type Benchmark struct {
	ID          string         `json:"id"`
	Spec        BenchmarkSpec  `json:"spec"`
	State       BenchmarkState `json:"state"`
	OperationID string         `json:"operationId,omitempty"`
	// Target is the URL the load went to.
	Target string `json:"target"`
	// Mesh is the mesh of the target's namespace ("none" for none or a
	// URL outside a cluster), and its version when known.
	Mesh        string `json:"mesh"`
	MeshVersion string `json:"meshVersion,omitempty"`
	// Summary is the result in short (nil until the test has a result).
	Summary   *BenchSummary `json:"summary,omitempty"`
	Message   string        `json:"message,omitempty"`
	CreatedAt time.Time     `json:"createdAt"`
	UpdatedAt time.Time     `json:"updatedAt"`
}

// BenchSummary is a result in short; latencies in milliseconds.
type BenchSummary struct {
	Requests int64   `json:"requests"`
	QPS      float64 `json:"qps"`
	Duration float64 `json:"durationSeconds"`
	MinMs    float64 `json:"minMs"`
	AvgMs    float64 `json:"avgMs"`
	P50Ms    float64 `json:"p50Ms"`
	P90Ms    float64 `json:"p90Ms"`
	P99Ms    float64 `json:"p99Ms"`
	P999Ms   float64 `json:"p999Ms"`
	MaxMs    float64 `json:"maxMs"`
	// Errors counts the answers that were not 2xx by status code ("-1"
	// for a connection or socket error).
	Errors map[string]int64 `json:"errors"`
}

// BenchProfile is a saved load test that can be run again.
type BenchProfile struct {
	Name      string        `json:"name"`
	Spec      BenchmarkSpec `json:"spec"`
	CreatedAt time.Time     `json:"createdAt"`
	UpdatedAt time.Time     `json:"updatedAt"`
}

package bench

import (
	"fmt"
	"strconv"
	"time"

	"fortio.org/fortio/fhttp"
)

// SMPVersion is the Service Mesh Performance specification version of the
// results.
const SMPVersion = "v0.6.0"

// SMPResult is a PerformanceTestResult of Service Mesh Performance v0.6:
// latencies in milliseconds (fortio measures seconds).
type SMPResult struct {
	SMPVersion      string            `json:"smp_version" yaml:"smp_version"`
	ID              string            `json:"id" yaml:"id"`
	Labels          map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	StartTime       time.Time         `json:"start_time" yaml:"start_time"`
	EndTime         time.Time         `json:"end_time" yaml:"end_time"`
	LatenciesMs     SMPLatencies      `json:"latencies_ms" yaml:"latencies_ms"`
	ActualQPS       float64           `json:"actual_qps" yaml:"actual_qps"`
	DetailedResults SMPDetails        `json:"detailed_results" yaml:"detailed_results"`
	// The test's configuration.
	Duration          string  `json:"duration" yaml:"duration"`
	ConcurrentRequest int     `json:"concurrent_request" yaml:"concurrent_request"`
	QPS               float64 `json:"qps" yaml:"qps"`
	EndpointURL       string  `json:"endpoint_url" yaml:"endpoint_url"`
	LoadGenerator     string  `json:"load_generator" yaml:"load_generator"`
	// The mesh under test.
	MeshType    string `json:"mesh_type" yaml:"mesh_type"`
	MeshVersion string `json:"mesh_version,omitempty" yaml:"mesh_version,omitempty"`
}

// SMPLatencies are a test's latencies in milliseconds.
type SMPLatencies struct {
	Min     float64 `json:"min" yaml:"min"`
	Average float64 `json:"average" yaml:"average"`
	P50     float64 `json:"p50" yaml:"p50"`
	P90     float64 `json:"p90" yaml:"p90"`
	P99     float64 `json:"p99" yaml:"p99"`
	Max     float64 `json:"max" yaml:"max"`
}

// SMPDetails are what SMP's summary leaves out: requests, errors by
// status code, every percentile asked for and the histogram, in
// milliseconds.
type SMPDetails struct {
	Requests    int64              `json:"requests" yaml:"requests"`
	Errors      map[string]int64   `json:"errors" yaml:"errors"`
	Percentiles map[string]float64 `json:"percentiles_ms" yaml:"percentiles_ms"`
	Histogram   []SMPBucket        `json:"histogram_ms" yaml:"histogram_ms"`
	// Note says what the tail percentiles mean.
	Note string `json:"note" yaml:"note"`
}

// SMPBucket is one bucket of the latency histogram, in milliseconds.
type SMPBucket struct {
	Start   float64 `json:"start" yaml:"start"`
	End     float64 `json:"end" yaml:"end"`
	Count   int64   `json:"count" yaml:"count"`
	Percent float64 `json:"percent" yaml:"percent"`
}

// CoordinatedOmission is said with every result.
const CoordinatedOmission = "fortio does not correct coordinated omission: while a slow answer holds a connection, the requests due meanwhile are sent late and their wait is not counted, so under a fixed QPS the tail percentiles (p99 and beyond) read lower than users would see"

// Mesh names the mesh a test ran against.
type Mesh struct {
	Type    string
	Version string
}

// ToSMP converts fortio's result.
func ToSMP(id string, res *fhttp.HTTPRunnerResults, mesh Mesh, labels map[string]string) SMPResult {
	h := res.DurationHistogram
	ms := func(s float64) float64 { return s * 1000 }
	pct := map[string]float64{}
	for _, p := range h.Percentiles {
		pct["p"+strconv.FormatFloat(p.Percentile, 'f', -1, 64)] = ms(p.Value)
	}
	at := func(p float64) float64 { return ms(h.CalcPercentile(p)) }
	out := SMPResult{
		SMPVersion: SMPVersion, ID: id, Labels: labels,
		StartTime: res.StartTime, EndTime: res.StartTime.Add(res.ActualDuration),
		LatenciesMs:     SMPLatencies{Min: ms(h.Min), Average: ms(h.Avg), P50: at(50), P90: at(90), P99: at(99), Max: ms(h.Max)},
		ActualQPS:       res.ActualQPS,
		DetailedResults: SMPDetails{Requests: h.Count, Errors: ErrorsByCode(res), Percentiles: pct, Note: CoordinatedOmission},
		Duration:        res.RequestedDuration, ConcurrentRequest: res.NumThreads, QPS: requestedQPS(res),
		EndpointURL: res.URL, LoadGenerator: "fortio " + res.Version, MeshType: mesh.Type, MeshVersion: mesh.Version,
	}
	for _, b := range h.Data {
		out.DetailedResults.Histogram = append(out.DetailedResults.Histogram, SMPBucket{Start: ms(b.Start), End: ms(b.End), Count: b.Count, Percent: b.Percent})
	}
	if out.MeshType == "" {
		out.MeshType = "none"
	}
	return out
}

// requestedQPS is the QPS asked for (0: as fast as possible).
func requestedQPS(res *fhttp.HTTPRunnerResults) float64 {
	var q float64
	if _, err := fmt.Sscan(res.RequestedQPS, &q); err != nil || q < 0 {
		return 0
	}
	return q
}

package bench

import (
	"fmt"
	"math"

	"fortio.org/fortio/fhttp"

	"github.com/meshdock/meshdock"
)

// Summary is a result in short, in milliseconds.
func Summary(res *fhttp.HTTPRunnerResults) *meshdock.BenchSummary {
	h := res.DurationHistogram
	if h == nil || h.Count == 0 {
		return &meshdock.BenchSummary{Errors: ErrorsByCode(res)}
	}
	ms := func(s float64) float64 { return s * 1000 }
	return &meshdock.BenchSummary{Requests: h.Count, QPS: res.ActualQPS, Duration: res.ActualDuration.Seconds(),
		MinMs: ms(h.Min), AvgMs: ms(h.Avg), P50Ms: ms(h.CalcPercentile(50)), P90Ms: ms(h.CalcPercentile(90)),
		P99Ms: ms(h.CalcPercentile(99)), P999Ms: ms(h.CalcPercentile(99.9)), MaxMs: ms(h.Max), Errors: ErrorsByCode(res)}
}

// Row is one measure of two results side by side: B's difference from A,
// absolute and relative (nil when A is 0).
type Row struct {
	Metric   string   `json:"metric"`
	Unit     string   `json:"unit"`
	A        float64  `json:"a"`
	B        float64  `json:"b"`
	Diff     float64  `json:"diff"`
	Relative *float64 `json:"relative,omitempty"` // (B-A)/A
}

// Side is one of the results compared.
type Side struct {
	ID     string `json:"id"`
	Target string `json:"target"`
	Mesh   string `json:"mesh"`
	// MeshVersion is the mesh's version, when known.
	MeshVersion string `json:"meshVersion,omitempty"`
	QPS         string `json:"qpsAsked"`
	Connections int    `json:"connections"`
	InCluster   bool   `json:"inCluster"`
}

// Cost is what the mesh of B costs over A: latency added per request,
// throughput lost (only when both ran as fast as they could: with a QPS
// asked for, the throughput is the one asked), the errors it adds, and the
// resources its proxies reserve and use (filled in by the caller, who can
// read the cluster).
type Cost struct {
	LatencyAddedMs    float64  `json:"latencyAddedMs"` // mean
	P50AddedMs        float64  `json:"p50AddedMs"`
	P99AddedMs        float64  `json:"p99AddedMs"`
	ThroughputLostPct *float64 `json:"throughputLostPercent,omitempty"`
	ErrorsAdded       int64    `json:"errorsAdded"`
	Proxies           any      `json:"proxies,omitempty"`
}

// Comparison is two results side by side and what B's mesh costs.
type Comparison struct {
	A     Side     `json:"a"`
	B     Side     `json:"b"`
	Rows  []Row    `json:"rows"`
	Cost  Cost     `json:"cost"`
	Notes []string `json:"notes"`
}

// Compare puts result b beside result a (a the baseline: usually no mesh,
// b the mesh).
func Compare(a, b *meshdock.Benchmark, ra, rb *fhttp.HTTPRunnerResults) *Comparison {
	sa, sb := Summary(ra), Summary(rb)
	row := func(metric, unit string, x, y float64) Row {
		r := Row{Metric: metric, Unit: unit, A: x, B: y, Diff: y - x}
		if x != 0 {
			rel := (y - x) / x
			r.Relative = &rel
		}
		return r
	}
	errs := func(s *meshdock.BenchSummary) (n int64) {
		for _, v := range s.Errors {
			n += v
		}
		return n
	}
	c := &Comparison{A: side(a, ra), B: side(b, rb), Rows: []Row{
		row("p50", "ms", sa.P50Ms, sb.P50Ms), row("p90", "ms", sa.P90Ms, sb.P90Ms), row("p99", "ms", sa.P99Ms, sb.P99Ms),
		row("p99.9", "ms", sa.P999Ms, sb.P999Ms), row("max", "ms", sa.MaxMs, sb.MaxMs), row("mean", "ms", sa.AvgMs, sb.AvgMs),
		row("qps", "1/s", sa.QPS, sb.QPS), row("requests", "", float64(sa.Requests), float64(sb.Requests)),
		row("errors", "", float64(errs(sa)), float64(errs(sb))),
	}}
	c.Cost = Cost{LatencyAddedMs: sb.AvgMs - sa.AvgMs, P50AddedMs: sb.P50Ms - sa.P50Ms, P99AddedMs: sb.P99Ms - sa.P99Ms, ErrorsAdded: errs(sb) - errs(sa)}
	if requestedQPS(ra) == 0 && requestedQPS(rb) == 0 && sa.QPS > 0 {
		lost := 100 * (sa.QPS - sb.QPS) / sa.QPS
		c.Cost.ThroughputLostPct = &lost
	} else {
		c.Notes = append(c.Notes, "throughput: a QPS was asked for, so both ran at that pace; run both as fast as possible (qps 0) to see the throughput the mesh costs")
	}
	if c.A.Target != c.B.Target && c.A.Mesh == c.B.Mesh {
		c.Notes = append(c.Notes, "the two tests have different targets and the same mesh: the difference is not the mesh's")
	}
	if ra.NumThreads != rb.NumThreads || requestedQPS(ra) != requestedQPS(rb) || ra.RequestedDuration != rb.RequestedDuration {
		c.Notes = append(c.Notes, fmt.Sprintf("the two tests asked for different loads (%d and %d connections, qps %s and %s, %s and %s): compare like with like",
			ra.NumThreads, rb.NumThreads, ra.RequestedQPS, rb.RequestedQPS, ra.RequestedDuration, rb.RequestedDuration))
	}
	if a.Spec.InCluster != b.Spec.InCluster {
		c.Notes = append(c.Notes, "one test ran in the cluster and the other from the server: only in-cluster load crosses the mesh as the app's own traffic does")
	}
	if math.Abs(c.Cost.LatencyAddedMs) < 0.05 && c.A.Mesh != c.B.Mesh {
		c.Notes = append(c.Notes, "the latencies differ by less than 0.05 ms: within the noise of a short test")
	}
	c.Notes = append(c.Notes, CoordinatedOmission)
	return c
}

func side(b *meshdock.Benchmark, r *fhttp.HTTPRunnerResults) Side {
	return Side{ID: b.ID, Target: b.Target, Mesh: b.Mesh, MeshVersion: b.MeshVersion, QPS: r.RequestedQPS, Connections: r.NumThreads, InCluster: b.Spec.InCluster}
}
